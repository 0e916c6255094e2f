"""`rnngen pairs`: accuracy on minimal pairs (BLiMP JSONL or good<TAB>bad TSV), overall and per group."""

from __future__ import annotations

import argparse
import dataclasses
import json

from rnngen.cli._common import (add_config_flags, add_ngram_flags, add_threads_flag, emit, err, load_model, out,
                                picked, with_ngram)
from rnngen.options import AUTO, UnknownWords


def register(sub) -> None:
    p = sub.add_parser(
        "pairs", help="accuracy on minimal pairs (good vs bad sentence)",
        description="For each pair, is log P(good) > log P(bad)? Whole sentences are scored as `rnngen score` "
                    "scores them: the first word given <s>, the end </s> counted, natural logs. A tie is wrong. "
                    "Pairs that differ only in words the model does not know are counted apart.",
        epilog="files: JSON lines with sentence_good and sentence_bad (BLiMP; its UID, or a phenomenon or group "
               "field, names the group), or TSV good<TAB>bad[<TAB>group] (an optional header line "
               "'sentence_good<TAB>sentence_bad'). Without a group, the file's name is the group.")
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("files", metavar="FILE", nargs="+", help="pair files (.jsonl or .tsv)")
    p.add_argument("--format", choices=("table", "json", "jsonl"), default="table",
                   help="table; json: the grouped report as one object; jsonl: one object per pair (default table)")
    p.add_argument("--show-wrong", type=int, default=10, metavar="N",
                   help="table: list the N most confidently wrong pairs (default 10)")
    p.add_argument("--tokenized", action="store_true", help="the sentences are space-separated tokens already")
    add_config_flags(p, UnknownWords, "unknown words in a comparison")
    add_ngram_flags(p)
    add_threads_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.pairs import judge, judged_dict, read_pairs

    options = picked(args, UnknownWords)
    auto = options.get("types") == AUTO  # resolved once the model is loaded
    unknown = UnknownWords(**{k: v for k, v in options.items() if not (auto and k == "types")}).validate()
    pairs = [pair for path in args.files for pair in read_pairs(path)]
    lm = with_ngram(load_model(args.model), args)
    if auto:
        unknown = dataclasses.replace(unknown, types=lm.unknown_types())
    report = judge(lm, pairs, unknown, pretokenized=args.tokenized)
    if args.format == "jsonl":
        for judged in report.judged:
            emit(json.dumps(judged_dict(judged), ensure_ascii=False))
    elif args.format == "json":
        emit(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _tables(report, args.show_wrong)
    if report.unknown_only:
        err.print(f"rnngen: warning: {len(report.unknown_only):,} pair(s) differ only in words the model does not "
                  "know; they are left out of the accuracy (--format jsonl marks them unknown_only)",
                  markup=False, highlight=False, soft_wrap=True)
    return 0


def _tables(report, show_wrong: int) -> None:
    from rich.table import Table

    overall = report.overall
    title = f"{overall.correct:,} of {overall.total:,} pairs correct: {100 * overall.accuracy:.1f}%"
    out.print(_tally_table("group", report.groups, title=title,
                           caption=f"{report.unknown.describe()}; {report.ties} tie(s), counted wrong"))
    if len(report.files) > 1:
        out.print(_tally_table("file", report.files, title="per file"))
    wrong = report.wrong[:show_wrong]
    if wrong:
        listing = Table(title=f"most confidently wrong ({len(wrong)} of {len(report.wrong):,})")
        listing.add_column("good", overflow="fold", ratio=1)
        listing.add_column("bad", overflow="fold", ratio=1)
        listing.add_column("log P good − bad", justify="right", no_wrap=True)
        for j in wrong:
            listing.add_row(j.pair.good, j.pair.bad, f"{j.difference:.3f}")
        out.print(listing)


def _tally_table(what: str, tallies: dict, **titles):
    from rich.table import Table

    table = Table(**titles)
    table.add_column(what, overflow="fold")
    for name in ("correct", "pairs", "accuracy"):
        table.add_column(name, justify="right", no_wrap=True)
    for name, tally in tallies.items():
        table.add_row(name, f"{tally.correct:,}", f"{tally.total:,}", f"{100 * tally.accuracy:.1f}%")
    return table
