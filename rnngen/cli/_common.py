"""Helpers shared by the subcommands: consoles, option flags from config dataclasses, input reading."""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from typing import Any

from rich.console import Console

from rnngen.display import fmt_ppl  # noqa: F401  (re-exported for the commands)

# stdout carries data (pipe it); stderr carries progress and messages.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

FLAG_ALIASES = {"rnn_type": ("--model",)}
THREADS_ENV = "RNNGEN_THREADS"  # rnngen.hardware.THREADS_ENV, named here so that --help need not import torch


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    """--threads on a command that computes; `rnngen.cli.main` applies it (`hardware.set_threads`) before the run."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help=f"torch threads (default ${THREADS_ENV}, else one fewer than the usable cores, "
                             "at least 1: on a shared machine all cores collapse throughput)")


def read_corpus(spec: str, tokenized: bool | None = None, lowercase: bool = False):
    """`load_corpus` with a progress bar through reading, tokenizing and caching (a cached corpus is there at
    once and shows nothing)."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from rnngen.cli._display import safe
    from rnngen.corpus import load_corpus

    name = safe(str(spec))
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                   console=err, transient=True, disable=not err.is_terminal)
    task = bar.add_task(f"reading: {name}", total=None)

    def report(phase: str, done: int, total: int) -> None:
        if not bar.live.is_started:  # shown once there is work to show: a cached corpus or an error shows nothing
            bar.start()
        bar.update(task, description=f"{phase}: {name}", completed=done, total=total or None)

    try:
        return load_corpus(spec, tokenized=tokenized, lowercase=lowercase, progress=report)
    finally:
        bar.stop()


def flag(name: str) -> str:
    """An engine option as this face spells it: batch_size -> `--batch-size` (errors name options so)."""
    return "--" + name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, cls, title: str,
                     skip: tuple[str, ...] = ()) -> argparse._ArgumentGroup:
    """One flag per dataclass field, typed and documented from the field; default None means 'keep'.

    Field metadata: `help`; `flag` (the option's name when the field's would be ambiguous, as `cache`
    for CacheSettings.size); `type` (what the command line gives, when the field holds something
    else or may be None); `metavar`; `default_help` (what an unset flag means, when not the default).
    """
    group = parser.add_argument_group(title)
    for f in fields(cls):
        if f.name in skip:
            continue
        names = (*FLAG_ALIASES.get(f.name, ()), flag(f.metadata.get("flag", f.name)))
        default = f.default if f.default is not MISSING else None
        kind = f.metadata.get("type") or type(default)  # an optional field (default None) says its type
        shown = f.metadata.get("default_help", default)
        helptext = f.metadata.get("help", "") + (f" (default {shown})" if shown is not None else "")
        if kind is bool:
            group.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=helptext)
        else:
            metavar = f.metadata.get("metavar") or ("N" if kind is int else ("X" if kind is float else "S"))
            group.add_argument(*names, dest=f.name, type=kind, default=None, metavar=metavar, help=helptext)
    return group


def picked(args: argparse.Namespace, cls) -> dict[str, Any]:
    """The dataclass fields the user set on the command line."""
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}


def read_lines(source: str | None) -> list[str]:
    """Lines of a file, or of standard input for '-' or nothing, read as every rnngen input is."""
    from rnngen import textfile

    return textfile.read_lines(source, sys.stdin.buffer, folder_hint="give a file with one sentence per line")


def load_model(name: str):
    """An RNN model, an n-gram model or an ARPA file, by name or path (`rnngen.ngram.load`)."""
    from rnngen.ngram import load

    return load(name)


def add_ngram_flags(parser: argparse.ArgumentParser, tune_on: bool = True) -> None:
    """--ngram and --lambda (from `options.NgramMix`), and --tune-on unless the command has its own."""
    from rnngen.options import NgramMix

    group = add_config_flags(parser, NgramMix, "interpolation with an n-gram (the RNNLM toolkit's -lm-prob/-lambda): "
                                               "p = λ·p_rnn + (1-λ)·p_ngram per word")
    if tune_on:
        group.add_argument("--tune-on", metavar="TEXT",
                           help="tune λ on this held-out text: a file, or a split name (train, valid, test) of the "
                                "model's corpus (default valid)")


def with_ngram(lm, args: argparse.Namespace, evaluated=None):
    """The model the command scores with: `lm`, or `lm` mixed with --ngram (λ given or tuned)."""
    from rnngen.options import NgramMix

    mix = NgramMix(**picked(args, NgramMix)).validate()
    if mix.ngram is None:
        return lm
    from rnngen.mixture import build

    with err.status(f"reading {mix.ngram} and weighing it against {lm.name}…"):
        mixture = build(lm, mix.ngram, mix.lam, getattr(args, "tune_on", None), evaluated)
    for note in mixture.notes:
        err.print(f"[yellow]note:[/] {note}")
    how = f"tuned on {mixture.tuned_on}" if mixture.tuned_on else "given"
    err.print(f"interpolating {lm.name} with {mixture.ngram.name} ({mixture.ngram.kind}): λ {mixture.lam:.4f} ({how})")
    return mixture


def emit(line: str) -> None:
    """One line of data on stdout, verbatim (rich would expand tabs and wrap)."""
    sys.stdout.write(line + "\n")
