"""`rnngen inspect`: the lecture's worked examples, a model's gates and states word by word, gradients in time."""

from __future__ import annotations

import argparse
import json

from rnngen.cli._common import add_threads_flag, emit, load_model, out
from rnngen.display import bars, short_number


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
    grads.add_argument("--fresh", action="store_true",
                       help="also an untrained model of the same shape, as training would begin: "
                            "what learning changed")
    _format(grads)
    grads.set_defaults(run=run_gradients)
    match = kinds.add_parser("match", help="select units on across a span, find where else they are on together",
                             description="LSTMVis' select and match: the units above THRESHOLD at every word of "
                                         "the span of SENTENCE are selected; spans of the same length in the corpus "
                                         "sample are ranked by the overlap of their on-units with the selection.")
    _model_sentence(match)
    _corpus(match)
    match.add_argument("--span", default="", metavar="A:B",
                       help="words A to B-1 of the sentence, counted from 0 (default: the whole sentence)")
    match.add_argument("--threshold", type=float, default=0.3, metavar="X", help="'on' means above X (default 0.3)")
    match.add_argument("--quantity", default="hidden", help="hidden, cell or a gate (default hidden)")
    match.add_argument("--top", type=int, default=10, metavar="N", help="matches shown (default 10)")
    match.set_defaults(run=run_match)
    cells = kinds.add_parser("cells", help="units that track a property of the position (quotes, brackets, ...)")
    cells.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    _corpus(cells)
    cells.add_argument("--property", default="position", metavar="P",
                       help="quotes, brackets, position, or after:WORD (default position)")
    cells.add_argument("--quantity", default="cell", help="hidden, cell or a gate (default cell; hidden for a GRU "
                                                          "or an Elman RNN)")
    cells.add_argument("--layer", type=int, default=-1, help="which layer (default -1, the last)")
    cells.add_argument("--top", type=int, default=10, metavar="N", help="units shown (default 10)")
    add_threads_flag(cells)
    _format(cells)
    cells.set_defaults(run=run_cells)
    gates = kinds.add_parser("gates", help="how often each gate is shut (< 0.1) or open (> 0.9) over a corpus")
    gates.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    _corpus(gates)
    gates.add_argument("--layer", type=int, default=-1, help="which layer (default -1, the last)")
    add_threads_flag(gates)
    _format(gates)
    gates.set_defaults(run=run_gates)


def _corpus(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", metavar="TEXT", help="a text file, or a corpus name or folder (see --split)")
    p.add_argument("--split", default="valid", choices=("train", "valid", "test"),
                   help="split of a corpus (default valid)")
    p.add_argument("--sample", type=int, default=500, metavar="N",
                   help="read at most N sentences of it (default 500)")


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
    layer = _layer(lm, args.layer)
    columns = {"grad_norm": inside.gradient_norms(lm.module, ids[:-1], ids[-1], layer)}
    if args.fresh:
        columns["fresh_grad_norm"] = inside.gradient_norms(inside.untrained_like(lm.module), ids[:-1], ids[-1], layer)
    inputs = ["<s>", *words][:-1]
    if args.format == "jsonl":
        for distance, word in enumerate(reversed(inputs)):
            values = {name: norms[distance] for name, norms in columns.items()}
            emit(json.dumps({"distance": distance, "input": word, **values}, ensure_ascii=False))
        return 0
    from rich.table import Table

    rates = {name: inside.decay_rate(norms) for name, norms in columns.items()}
    caption = " · ".join(f"{'untrained' if name.startswith('fresh') else 'this model'}: about x{rate:.3f} per step "
                         "back" for name, rate in rates.items() if rate is not None)
    table = Table(title=f"d loss({words[-1]!r}) / d h, back through time ({lm.model_config.rnn_type})",
                  caption=caption or None)
    headers = {"grad_norm": "|gradient|", "fresh_grad_norm": "untrained |gradient|"}
    for name in ("steps back", "state after", *(headers[c] for c in columns)):
        table.add_column(name, justify="right" if name != "state after" else "left")
    for distance, word in enumerate(reversed(inputs)):
        table.add_row(str(distance), word, *(f"{norms[distance]:.3e}" for norms in columns.values()))
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
            row = [" ".join(short_number(v) for v in values) for values in trace.step(t).values()]
        else:
            row = [f"{mean:+.2f} · #{unit} {value:+.2f}" for mean, unit, value in trace.summary(t).values()]
        table.add_row(label, *row)
    out.print(table)



def _sample(lm, args):
    """The corpus sample's sentences (bounded by --sample), and a progress callback on stderr."""
    from rnngen.errors import InputError

    if args.sample < 1:
        raise InputError(f"--sample must be at least 1, got {args.sample}")
    return lm.held_out(args.corpus, args.split).sentences[: args.sample]


def _states(lm, sentences, quantity: str, layer: int):
    from rich.progress import Progress

    from rnngen import inside
    from rnngen.cli._common import err
    from rnngen.errors import InputError

    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("reading the sample", total=len(sentences))
        try:
            return inside.states_of(lm.module, lm.vocab, sentences, quantity, layer, len(sentences),
                                    progress=lambda done, _total: bar.update(task, completed=done))
        except ValueError as exc:
            raise InputError(f"--quantity: {exc}") from None


def run_match(args: argparse.Namespace) -> int:
    from rnngen import inside
    from rnngen.errors import InputError

    lm, ids, words = _model_ids(args)
    layer = _layer(lm, args.layer)
    start, end = _span(args.span, len(words))
    sentences = _sample(lm, args)
    selected_states = _states(lm, [words], args.quantity, layer)[0]
    units = inside.select_units(selected_states, start, end, args.threshold)
    if not bool(units.any()):
        raise InputError(f"no unit is above {args.threshold:g} at every word of {' '.join(words[start:end])!r}; "
                         "try a lower --threshold or a shorter --span")
    states = _states(lm, sentences, args.quantity, layer)
    found = inside.match(units, states, sentences, args.threshold, end - start, args.top)
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"{int(units.sum())} unit(s) on across {' '.join(words[start:end])!r}, matched in "
                             f"{len(sentences):,} sentences"))
    for name in ("overlap", "sentence", "words"):
        table.add_column(name, justify="right" if name != "words" else "left")
    for m in found:
        context = sentences[m.sentence]
        shown = " ".join(context[max(0, m.start - 3):m.start]) + " [" + " ".join(m.words) + "] " + \
            " ".join(context[m.start + m.length:m.start + m.length + 3])
        table.add_row(f"{m.overlap:.2f}", str(m.sentence + 1), Text(shown.strip()))  # words are never markup
    out.print(table)
    return 0


def _span(text: str, words: int) -> tuple[int, int]:
    from rnngen.errors import InputError

    if not text:
        return 0, words
    try:
        a, b = (int(part) for part in text.split(":"))
    except ValueError:
        raise InputError(f"--span must be A:B (word numbers from 0), got {text!r}") from None
    if not 0 <= a < b <= words:
        raise InputError(f"--span {text}: the sentence has {words} word(s), 0 to {words}")
    return a, b


def run_cells(args: argparse.Namespace) -> int:
    from rnngen import inside
    from rnngen.errors import InputError

    lm = load_model(args.model)
    layer = _layer(lm, args.layer)
    try:
        name, word = inside.parse_property(args.property)
    except ValueError as exc:
        raise InputError(f"--property: {exc}") from None
    quantity = args.quantity if lm.model_config.rnn_type == "lstm" or args.quantity != "cell" else "hidden"
    sentences = _sample(lm, args)
    states = _states(lm, sentences, quantity, layer)
    units = inside.correlated_units(states, sentences, name, word, args.top)
    if args.format == "jsonl":
        for unit, r in units:
            emit(json.dumps({"unit": unit, "r": r, "property": args.property, "quantity": quantity}))
        return 0
    from rich.table import Table

    table = Table(title=f"{quantity} units most correlated with {args.property} ({len(sentences):,} sentences)")
    table.add_column("unit", justify="right")
    table.add_column("Pearson r", justify="right")
    for unit, r in units:
        table.add_row(str(unit), f"{r:+.3f}")
    out.print(table)
    return 0


def run_gates(args: argparse.Namespace) -> int:
    from rnngen import inside
    from rnngen.errors import InputError

    lm = load_model(args.model)
    layer = _layer(lm, args.layer)
    if lm.model_config.rnn_type not in inside.GATE_NAMES:
        raise InputError(f"a {lm.model_config.rnn_type} layer has no gates; inspect its hidden units with "
                         "`rnngen inspect states`")
    report = inside.gate_saturation(lm.module, lm.vocab, _sample(lm, args), layer)
    if args.format == "jsonl":
        for gate, figures in report.items():
            emit(json.dumps({"gate": gate, **figures}))
        return 0
    from rich.table import Table

    table = Table(title="gate values over the sample: shut < 0.1, open > 0.9; histogram of 0-1 in tenths "
                        "(bars scaled to the fullest tenth)")
    for name in ("gate", "shut", "open", "histogram"):
        table.add_column(name, justify="left" if name in ("gate", "histogram") else "right")
    for gate, figures in report.items():
        table.add_row(gate, f"{100 * figures['shut']:.1f}%", f"{100 * figures['open']:.1f}%",
                      bars(figures["histogram"]))
    out.print(table)
    return 0
