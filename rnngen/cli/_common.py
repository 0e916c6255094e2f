"""Helpers shared by the subcommands: consoles, option flags from config dataclasses, input reading."""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from pathlib import Path
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


def flag(name: str) -> str:
    """An engine option as this face spells it: batch_size -> `--batch-size` (errors name options so)."""
    return "--" + name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, cls, title: str, skip: tuple[str, ...] = ()) -> None:
    """One flag per dataclass field, typed and documented from the field; default None means 'keep'."""
    group = parser.add_argument_group(title)
    for f in fields(cls):
        if f.name in skip:
            continue
        names = (*FLAG_ALIASES.get(f.name, ()), flag(f.name))
        default = f.default if f.default is not MISSING else None
        kind = f.metadata.get("type") or type(default)  # an optional field (default None) says its type
        helptext = f.metadata.get("help", "") + (f" (default {default})" if default is not None else "")
        if kind is bool:
            group.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=helptext)
        else:
            metavar = "N" if kind is int else ("X" if kind is float else "S")
            group.add_argument(*names, dest=f.name, type=kind, default=None, metavar=metavar, help=helptext)


def picked(args: argparse.Namespace, cls) -> dict[str, Any]:
    """The dataclass fields the user set on the command line."""
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}


def read_lines(source: str | None) -> list[str]:
    """Lines of a file, or of standard input for '-' or nothing; refuses binary and missing files."""
    from rnngen.errors import InputError

    if source in (None, "-"):
        data = sys.stdin.buffer.read()
        name = "standard input"
    else:
        path = Path(source)
        if path.is_dir():
            raise InputError(f"{source} is a folder; give a file with one sentence per line")
        if not path.exists():
            raise InputError(f"no such file: {source}")
        if not path.is_file():  # a FIFO or a device would be read forever or block
            raise InputError(f"{source} is not a regular file; pipe it in with '-' instead")
        data = path.read_bytes()
        name = source
    if b"\x00" in data[:65536]:
        raise InputError(f"{name} looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name} is not UTF-8 text") from None
    # Lines end at \n or \r\n only: a lone \r inside a line is not a line break (as Python's and NLTK's
    # line-based readers, and `rnngen rerank`, see it), so line N is the Nth line an editor shows.
    text = text.replace("\r\n", "\n")
    return text.split("\n")[: -1 if text.endswith("\n") else None]


def load_model(name: str):
    from rnngen.lm import LanguageModel

    return LanguageModel.load(name)


def emit(line: str) -> None:
    """One line of data on stdout, verbatim (rich would expand tabs and wrap)."""
    sys.stdout.write(line + "\n")
