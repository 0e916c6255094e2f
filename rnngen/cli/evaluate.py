"""`rnngen eval`: perplexity of a model on held-out text."""

from __future__ import annotations

import argparse
import json

from rnngen.cli._common import (add_config_flags, add_ngram_flags, add_threads_flag, emit, fmt_ppl, load_model, out,
                                picked, with_ngram)
from rnngen.options import CacheSettings


def register(sub) -> None:
    p = sub.add_parser("eval", help="perplexity and cross-entropy on held-out text",
                       description="Evaluate a model on a text file (tokenized as the model's corpus was) or on a "
                                   "split of a corpus; for the built-in corpus, also the true-entropy floor.")
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("text", metavar="FILE", help="a text file, or a corpus name or folder (see --split)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"), help="split of a corpus (default test)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cache = add_config_flags(p, CacheSettings, "continuous cache (Grave et al. 2017): read the text as one document and mix "
                                       "the model with a cache of its recent states")
    cache.add_argument("--tune-on", metavar="TEXT",
                       help="choose --cache-theta and --cache-weight (or λ, with --ngram) on this held-out text "
                            "first: a file, or a split name (train, valid, test) of the corpus being evaluated")
    add_ngram_flags(p, tune_on=False)
    add_threads_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.errors import InputError

    options = picked(args, CacheSettings)
    if args.tune_on and not options.get("size") and not args.ngram:
        raise InputError("--tune-on needs --cache N (the number of positions to cache) or --ngram MODEL")
    cache = CacheSettings(**options).validate() if options.get("size") else None  # --cache 0: no cache
    lm = load_model(args.model)
    held = lm.held_out(args.text, args.split)
    sentences, floor = held.sentences, held.floor
    if args.ngram or args.lam is not None:
        mixture = with_ngram(lm, args, held)
        tuned_ppl = None
        if cache is not None and args.tune_on:  # λ first (above), then the cache on top of the mixture
            cache, tuned_ppl = mixture.tune_cache(lm.tuning_text(args.tune_on, held).sentences, cache.size)
        return _mixed(mixture, args, held, cache, tuned_ppl)
    tuned_ppl = None
    if cache is not None and args.tune_on:
        cache, tuned_ppl = lm.tune_cache(lm.tuning_text(args.tune_on, held).sentences, cache.size)
    result = lm.evaluate(sentences, cache=cache)
    report = {"model": lm.name, "text": args.text, "sentences": result.sentences, "tokens": result.tokens,
              "oov": result.oov, "oov_rate": result.oov_rate, "cross_entropy": result.cross_entropy,
              "bits_per_token": result.bits_per_token, "perplexity": result.perplexity}
    if _emitted(report, args, floor, cache, tuned_ppl):
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


def _emitted(report: dict, args: argparse.Namespace, floor, cache, tuned_ppl) -> bool:
    """Add the floor and the cache's settings to `report`; with --json, print it and say so."""
    if floor is not None:
        report["true_perplexity_floor"] = floor
    if cache is not None:
        report["cache"] = {"size": cache.size, "theta": cache.theta, "weight": cache.weight}
        if tuned_ppl is not None:
            report["cache"].update(tuned_on=args.tune_on, tuned_perplexity=tuned_ppl)
    if args.json:
        emit(json.dumps(report))
    return bool(args.json)


def _mixed(mixture, args: argparse.Namespace, held, cache=None, tuned_ppl=None) -> int:
    """The RNN, the n-gram and their mixture on the same tokens (the RNNLM toolkit's PPL net / other / combined),
    the mixture with the cache when one is given."""
    parts = mixture.evaluate_parts(held.sentences, cache)
    rows = {"rnn": parts.rnn, "ngram": parts.ngram, "combined": parts.combined}
    report = {"model": mixture.rnn.name, "ngram": mixture.ngram.name, "text": args.text, "lambda": parts.lam,
              "tuned_on": mixture.tuned_on or None, "sentences": parts.combined.sentences,
              "tokens": parts.combined.tokens, "oov": parts.combined.oov,
              **{f"{name}_perplexity": e.perplexity for name, e in rows.items()},
              "perplexity": parts.combined.perplexity, "cross_entropy": parts.combined.cross_entropy}
    if _emitted(report, args, held.floor, cache, tuned_ppl):
        return 0
    from rich.table import Table

    table = Table(title=f"{mixture.rnn.name} + {mixture.ngram.name} on {args.text}", show_header=False)
    table.add_row("perplexity", f"{fmt_ppl(parts.combined.perplexity)}  (RNN + n-gram, λ {parts.lam:.4f}"
                                + (f", tuned on {mixture.tuned_on})" if mixture.tuned_on else ")"))
    table.add_row("RNN alone", fmt_ppl(parts.rnn.perplexity))
    table.add_row("n-gram alone", f"{fmt_ppl(parts.ngram.perplexity)}  ({mixture.ngram.kind})")
    table.add_row("mixture / better alone", f"{parts.against_better:.3f}")
    if held.floor is not None:
        table.add_row("true-entropy floor", f"{fmt_ppl(held.floor)}")
    table.add_row("cross-entropy", f"{parts.combined.cross_entropy:.4f} nats/token ({parts.combined.bits_per_token:.3f} "
                                   "bits)")
    table.add_row("sentences", f"{parts.combined.sentences:,}")
    table.add_row("tokens", f"{parts.combined.tokens:,} (words and sentence ends)")
    table.add_row("OOV", f"{parts.combined.oov:,} ({100 * parts.combined.oov_rate:.2f}%)")
    if cache is not None:
        tuned = f"; tuned on {args.tune_on}: perplexity {fmt_ppl(tuned_ppl)} there" if tuned_ppl is not None else ""
        table.add_row("cache", f"{cache.size:,} positions, theta {cache.theta:g}, weight {cache.weight:g}{tuned} "
                               "(in the mixture, not in the parts alone)")
    out.print(table)
    return 0
