"""`rnngen eval`: perplexity of a model on held-out text."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnngen.cli._common import add_threads_flag, emit, fmt_ppl, load_model, out


def register(sub) -> None:
    p = sub.add_parser("eval", help="perplexity and cross-entropy on held-out text",
                       description="Evaluate a model on a text file (tokenized as the model's corpus was) or on a "
                                   "split of a corpus; for the built-in corpus, also the true-entropy floor.")
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("text", metavar="FILE", help="a text file, or a corpus name or folder (see --split)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"), help="split of a corpus (default test)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cache = p.add_argument_group("continuous cache (Grave et al. 2017): read the text as one document and mix the "
                                 "model with a cache of its recent states")
    cache.add_argument("--cache", type=int, default=0, metavar="N", help="cache the last N positions (0 = off)")
    cache.add_argument("--cache-theta", type=float, default=0.3, metavar="X",
                       help="how sharply states must match (default 0.3)")
    cache.add_argument("--cache-weight", type=float, default=0.1, metavar="X",
                       help="the cache's share of the mixture, 0-1 (default 0.1)")
    cache.add_argument("--tune-on", metavar="TEXT",
                       help="choose --cache-theta and --cache-weight on this held-out text first: a file, or a "
                            "split name (train, valid, test) of the corpus being evaluated")
    add_threads_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.corpus import load_corpus
    from rnngen.corpus.local import read_text
    from rnngen.corpus.stats import true_perplexity
    from rnngen.cache import CacheSettings
    from rnngen.errors import InputError

    if args.tune_on and not args.cache:
        raise InputError("--tune-on needs --cache N, the number of positions to cache")
    cache = CacheSettings(args.cache, args.cache_theta, args.cache_weight).validate() if args.cache else None
    lm = load_model(args.model)
    path = Path(args.text)
    floor, corpus = None, None
    if path.is_file():
        text, _ = read_text(path)
        sentences = lm.tokenize_document(text)
    else:
        corpus = load_corpus(args.text, tokenized=lm.tokenizer.words == "whitespace", lowercase=lm.tokenizer.lowercase)
        sentences = corpus.split(args.split)
        floor = true_perplexity(corpus, args.split)
    if not sentences:
        raise InputError(f"{args.text} has no sentences to evaluate")
    tuned_ppl = None
    if cache is not None and args.tune_on:
        cache, tuned_ppl = lm.tune_cache(_held_out(lm, args.tune_on, corpus), cache.size)
    result = lm.evaluate(sentences, cache=cache)
    report = {"model": lm.name, "text": args.text, "sentences": result.sentences, "tokens": result.tokens,
              "oov": result.oov, "oov_rate": result.oov_rate, "cross_entropy": result.cross_entropy,
              "bits_per_token": result.bits_per_token, "perplexity": result.perplexity}
    if floor is not None:
        report["true_perplexity_floor"] = floor
    if cache is not None:
        report["cache"] = {"size": cache.size, "theta": cache.theta, "weight": cache.weight}
        if tuned_ppl is not None:
            report["cache"].update(tuned_on=args.tune_on, tuned_perplexity=tuned_ppl)
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
    if cache is not None:
        tuned = f"; tuned on {args.tune_on}: perplexity {fmt_ppl(tuned_ppl)} there" if tuned_ppl is not None else ""
        table.add_row("cache", f"{cache.size:,} positions, theta {cache.theta:g}, weight {cache.weight:g}{tuned}")
    out.print(table)
    return 0


def _held_out(lm, name: str, corpus) -> list[list[str]]:
    """The text to tune the cache on: a split of the evaluated corpus, or a file."""
    from rnngen.corpus.local import read_text
    from rnngen.errors import InputError

    if name in ("train", "valid", "test") and corpus is not None:
        return corpus.split(name)
    path = Path(name)
    if not path.is_file():
        raise InputError(f"--tune-on {name}: no such file (a split name needs a corpus as the text to evaluate)")
    text, _ = read_text(path)
    return lm.tokenize_document(text)
