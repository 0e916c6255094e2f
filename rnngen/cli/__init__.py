"""The `rnngen` command: the TUI with no arguments, subcommands for scripts.

Each module in this package that defines `register(subparsers)` is a
subcommand; `rnngen rerank tune ...` goes to `rerank_tune`, which has its own
parser (argparse cannot give `rerank MODEL NBEST` a `tune` subcommand too).
Modules import torch and the engine inside their `run` functions so that
`rnngen --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from rnngen import __version__

# Order of the commands in `rnngen --help`; modules not listed follow alphabetically.
ORDER = ("train", "ngram", "evaluate", "score", "pairs", "generate", "rerank", "inspect", "models", "corpus", "bench")


def _command_modules() -> list:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    names.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    modules = [importlib.import_module(f"{__name__}.{n}") for n in names]
    return [m for m in modules if hasattr(m, "register")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnngen",
        description="A workbench for word-level RNN language models. With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"rnngen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a user error is one line and exit 2, Ctrl-C anywhere (even while importing) is 130."""
    import signal

    interrupted: list[int] = []

    def on_sigint(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    if argv is None:  # noted here too: a Ctrl-C inside a C extension's import can surface as an ImportError
        signal.signal(signal.SIGINT, on_sigint)
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        return _interrupted()
    except ImportError:
        if interrupted:  # numpy, imported under torch, half-loaded when Ctrl-C arrived, then refused to load again
            return _interrupted()
        raise
    if argv is None:  # the real command: its work is done, a late Ctrl-C must not turn success into a traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def _main(argv: list[str]) -> int:
    if argv[:2] == ["rerank", "tune"]:  # a command under a command that also takes positionals: its own parser
        from rnngen.cli import rerank_tune

        parser = rerank_tune.build_parser()
        args = parser.parse_args(argv[2:])
    else:
        parser = build_parser()
        args = parser.parse_args(argv)
    args.argv = argv  # the command line as given: `train --nproc` starts copies of it
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    from rnngen.cli._common import flag
    from rnngen.errors import ExitCode, RnngenError

    try:
        if hasattr(args, "threads"):
            from rnngen.hardware import set_threads

            set_threads(args.threads)
        return int(args.run(args) or 0)
    except RnngenError as exc:
        print(f"rnngen: error: {exc.worded(flag)}", file=sys.stderr)
        return ExitCode.USER_ERROR
    except BrokenPipeError:
        return ExitCode.OK


def _interrupted() -> int:
    """A second Ctrl-C while we say goodbye must not turn into a traceback or exit 0."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        print("rnngen: interrupted", file=sys.stderr)
    except Exception:  # stderr closed or broken: the exit code still says it
        pass
    from rnngen.errors import ExitCode

    return ExitCode.INTERRUPTED
