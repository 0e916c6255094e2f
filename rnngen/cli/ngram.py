"""`rnngen ngram train`: estimate a Kneser-Ney n-gram model, a model folder like the RNNs' (and an ARPA file)."""

from __future__ import annotations

import argparse

from rnngen.cli._common import err, fmt_ppl, read_corpus
from rnngen.cli._display import safe
from rnngen.display import clock


def register(sub) -> None:
    p = sub.add_parser("ngram", help="Kneser-Ney n-gram models: the count-based baseline, and a partner to mix "
                                     "with an RNN (--ngram)")
    kinds = p.add_subparsers(dest="ngram_command", metavar="COMMAND", required=True)
    train = kinds.add_parser(
        "train", help="estimate an interpolated modified Kneser-Ney model on a corpus",
        description="Estimate an interpolated modified Kneser-Ney n-gram model (KenLM's lmplz estimator, unpruned) "
                    "on a corpus's training split, over the vocabulary an RNN trained with the same --vocab-size "
                    "gets, and report its validation perplexity. The model is a folder under checkpoints/ that "
                    "every command takes by name; --arpa also writes it as an ARPA file for KenLM, SRILM or Moses.")
    train.add_argument("corpus", metavar="CORPUS", help="a text file, a folder, or a corpus name")
    train.add_argument("--out", required=True, metavar="NAME", help="model folder under checkpoints/ (or a path)")
    train.add_argument("--order", type=int, default=5, metavar="N", help="the n of the n-grams (default 5)")
    train.add_argument("--vocab-size", type=int, default=8000, metavar="N",
                       help="keep the N most frequent words, as `rnngen train` does (default 8000); 0: every word")
    train.add_argument("--arpa", metavar="FILE", help="also write the model as an ARPA file (gzip if FILE ends in .gz)")
    train.add_argument("--tokenized", action=argparse.BooleanOptionalAction, default=None,
                       help="the corpus is already tokenized, one sentence per line (default: detect)")
    train.add_argument("--lowercase", action="store_true", help="lower-case the corpus (and later input)")
    train.add_argument("--force", action="store_true", help="replace the model already in --out")
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rnngen import checkpoint
    from rnngen.errors import InputError
    from rnngen.kneser_ney import MAX_ORDER
    from rnngen.ngram import NgramModel

    if not 1 <= args.order <= MAX_ORDER:
        raise InputError(f"--order must be 1 to {MAX_ORDER}, got {args.order}")
    if args.vocab_size < 0 or 0 < args.vocab_size < 4:
        raise InputError(f"--vocab-size must be 0 (every word) or at least 4, got {args.vocab_size}")
    if args.arpa and (Path(args.arpa).is_dir() or not Path(args.arpa).parent.is_dir()):
        raise InputError(f"--arpa {args.arpa}: " + ("a folder; give the ARPA file's name" if Path(args.arpa).is_dir()
                                                     else "its folder does not exist"))
    folder = checkpoint.resolve(args.out)
    checkpoint.check_replaceable(folder, None, args.force)  # before any work: refuse at once
    started = time.monotonic()
    corpus = read_corpus(args.corpus, tokenized=args.tokenized, lowercase=args.lowercase)
    for warning in corpus.warnings:
        err.print(f"[yellow]warning:[/] {safe(warning)}")
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=err, transient=True)
    with progress:
        task = progress.add_task(f"estimating a {args.order}-gram model", total=2 * args.order)
        model = NgramModel.estimate(corpus, args.order, args.vocab_size or None,
                                    lambda done, total: progress.update(task, completed=done, total=total))
    path = model.save(folder, replace=args.force)
    counts = ", ".join(f"{n:,} {k}-grams" for k, n in enumerate(model.tables.counts(), 1))
    err.print(f"{args.order}-gram Kneser-Ney model of {safe(corpus.name)}: vocabulary {len(model.vocab):,}, {counts}")
    if args.arpa:
        err.print(f"ARPA file written: {safe(str(model.write_arpa(args.arpa)))}")
    ppl = model.history.get("best_valid_ppl")
    valid = f"validation perplexity {fmt_ppl(ppl)}, " if ppl else ""
    err.print(f"done in {clock(time.monotonic() - started)}: {valid}saved in {safe(str(path))}")
    return 0
