"""`rnngen eval`: perplexity of a model on held-out text."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnngen.cli._common import emit, fmt_ppl, load_model, out


def register(sub) -> None:
    p = sub.add_parser("eval", help="perplexity and cross-entropy on held-out text",
                       description="Evaluate a model on a text file (tokenized as the model's corpus was) or on a "
                                   "split of a corpus; for the built-in corpus, also the true-entropy floor.")
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("text", metavar="FILE", help="a text file, or a corpus name or folder (see --split)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"), help="split of a corpus (default test)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.corpus import load_corpus
    from rnngen.corpus.local import read_text
    from rnngen.corpus.stats import true_perplexity
    from rnngen.errors import InputError

    lm = load_model(args.model)
    path = Path(args.text)
    floor = None
    if path.is_file():
        text, _ = read_text(path)
        sentences = lm.tokenize_document(text)
    else:
        corpus = load_corpus(args.text, tokenized=lm.tokenizer.words == "whitespace", lowercase=lm.tokenizer.lowercase)
        sentences = corpus.split(args.split)
        floor = true_perplexity(corpus, args.split)
    if not sentences:
        raise InputError(f"{args.text} has no sentences to evaluate")
    result = lm.evaluate(sentences)
    report = {"model": lm.name, "text": args.text, "sentences": result.sentences, "tokens": result.tokens,
              "oov": result.oov, "oov_rate": result.oov_rate, "cross_entropy": result.cross_entropy,
              "bits_per_token": result.bits_per_token, "perplexity": result.perplexity}
    if floor is not None:
        report["true_perplexity_floor"] = floor
    if args.json:
        emit(json.dumps(report))
        return 0
    from rich.table import Table

    table = Table(title=f"{lm.name} on {args.text}", show_header=False)
    table.add_row("perplexity", fmt_ppl(result.perplexity))
    if floor is not None:
        table.add_row("true-entropy floor", f"{fmt_ppl(floor)}  (the source's own perplexity; no model can beat it)")
        table.add_row("model / floor", f"{result.perplexity / floor:.3f}")
    table.add_row("cross-entropy", f"{result.cross_entropy:.4f} nats/token ({result.bits_per_token:.3f} bits)")
    table.add_row("sentences", f"{result.sentences:,}")
    table.add_row("tokens", f"{result.tokens:,} (words and sentence ends)")
    table.add_row("OOV", f"{result.oov:,} ({100 * result.oov_rate:.2f}%)")
    out.print(table)
    return 0
