"""`rnngen inspect`: the lecture's worked examples, a model's gates and states word by word, gradients in time."""

from __future__ import annotations

import argparse
import json

from rnngen.cli._common import add_threads_flag, emit, load_model, out


def register(sub) -> None:
    p = sub.add_parser("inspect", help="inside the network: memory, gates, gradients through time",
                       description="Look inside a recurrent network, step by step: the lecture's two worked "
                                   "examples, a trained model's gates and states per word, and how the gradient "
                                   "of the last word's loss fades (or not) back through time.")
    kinds = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    lecture = kinds.add_parser("lecture", help="the lecture's simple RNN or LSTM cell, with its weights",
                               description="rnn: 2 inputs, 2 hidden units, 2 outputs, all weights 1, linear, memory "
                                           "from 0. lstm: one cell, z = x1, input gate sigmoid(100 x2 - 10), forget "
                                           "gate sigmoid(100 x2 + 10), output gate sigmoid(100 x3 - 10).")
    lecture.add_argument("example", choices=("rnn", "lstm"))
    lecture.add_argument("--inputs", metavar="STEPS",
                         help="steps separated by spaces, values by commas (default: the lecture's, rnn "
                              "'1,1 1,1 2,2', lstm '1,0,0 3,1,0 2,0,0 4,1,0 2,0,0 1,0,1 3,-1,0 6,1,0 1,0,1')")
    _format(lecture)
    lecture.set_defaults(run=run_lecture)
    states = kinds.add_parser("states", help="a model's gates, cell and hidden state for each word of a sentence")
    _model_sentence(states)
    _format(states)
    states.set_defaults(run=run_states)
    grads = kinds.add_parser("gradients", help="|d loss(last word) / d h_t| for every earlier step t")
    _model_sentence(grads)
    _format(grads)
    grads.set_defaults(run=run_gradients)


def _model_sentence(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("sentence", metavar="SENTENCE", help="the sentence, tokenized as the model's corpus was")
    p.add_argument("--layer", type=int, default=-1, help="which layer (0 = first, -1 = last; default -1)")
    add_threads_flag(p)


def _format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "jsonl"), default="table",
                   help="table, or one JSON object per step with every unit's value (default table)")


def run_lecture(args: argparse.Namespace) -> int:
    import torch

    from rnngen import inside
    from rnngen.errors import InputError

    module = inside.lecture_rnn() if args.example == "rnn" else inside.lecture_lstm()
    default = inside.LECTURE_RNN_INPUTS if args.example == "rnn" else inside.LECTURE_LSTM_INPUTS
    width = len(default[0])
    try:
        inputs = inside.parse_inputs(args.inputs, width) if args.inputs else torch.tensor(default, dtype=torch.float)
    except ValueError as exc:
        raise InputError(f"--inputs: {exc}") from None
    _write(module.trace(inputs), args.format, "step", full=True)
    return 0


def run_states(args: argparse.Namespace) -> int:
    from rnngen import inside

    lm, ids, words = _model_ids(args)
    trace = inside.trace_model(lm.module, ids, _layer(lm, args.layer))
    trace.labels = ["<s>", *words]
    _write(trace, args.format, "input word", full=False)
    return 0


def run_gradients(args: argparse.Namespace) -> int:
    from rnngen import inside

    lm, ids, words = _model_ids(args)
    if len(ids) < 2:
        from rnngen.errors import InputError

        raise InputError("give a sentence of at least one word: the gradient of its last word's loss is traced")
    norms = inside.gradient_norms(lm.module, ids[:-1], ids[-1], _layer(lm, args.layer))
    inputs = ["<s>", *words][:-1]
    if args.format == "jsonl":
        for distance, (norm, word) in enumerate(zip(norms, reversed(inputs))):
            emit(json.dumps({"distance": distance, "input": word, "grad_norm": norm}, ensure_ascii=False))
        return 0
    from rich.table import Table

    rate = inside.decay_rate(norms)
    table = Table(title=f"d loss({words[-1]!r}) / d h, back through time ({lm.model_config.rnn_type})",
                  caption=f"about x{rate:.3f} per step back" if rate is not None else None)
    for name in ("steps back", "state after", "|gradient|"):
        table.add_column(name, justify="right" if name != "state after" else "left")
    for distance, (norm, word) in enumerate(zip(norms, reversed(inputs))):
        table.add_row(str(distance), word, f"{norm:.3e}")
    out.print(table)
    return 0


def _model_ids(args):
    from rnngen.errors import InputError

    lm = load_model(args.model)
    words = lm.tokenize(args.sentence)
    if not words:
        raise InputError("the sentence is empty")
    return lm, [lm.vocab.bos_id, *lm.vocab.encode(words)], words


def _layer(lm, layer: int) -> int:
    from rnngen.errors import InputError

    layers = lm.model_config.layers
    if not -layers <= layer < layers:
        raise InputError(f"--layer {layer}: this model has {layers} layer(s) (0 to {layers - 1}, or -1 for the last)")
    return layer


def _write(trace, format: str, what: str, full: bool) -> None:
    if format == "jsonl":
        for t, label in enumerate(trace.labels):
            emit(json.dumps({what.replace(" ", "_"): label, **trace.step(t)}, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(caption=None if full else "each cell: mean over units · the largest unit #n = its value")
    table.add_column(what)
    for name in trace.values:
        table.add_column(name, justify="right")
    for t, label in enumerate(trace.labels):
        if full:
            row = [" ".join(_short(v) for v in values) for values in trace.step(t).values()]
        else:
            row = [f"{mean:+.2f} · #{unit} {value:+.2f}" for mean, unit, value in trace.summary(t).values()]
        table.add_row(label, *row)
    out.print(table)


def _short(value: float) -> str:
    """Three decimals without trailing zeros: a saturated gate reads 0 or 1, as the lecture draws it."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
