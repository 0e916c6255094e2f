"""Run the CLI's entry point, `rnngen.cli.main`, inside the test process.

Starting Python and importing torch costs about three seconds a command on a 2-core machine; for tests
of what a command prints and returns, the entry point called here is the same code path (argument
parsing, the one-line errors, exit codes). Tests of signals, hangs and process-level behaviour keep
using a real subprocess.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

from rnngen.cli import main


def main_here(*args: str, stdin: str | bytes = b"") -> subprocess.CompletedProcess:
    """`rnngen ARGS` with this stdin, as a CompletedProcess (returncode, stdout, stderr as text)."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's own usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = saved
    return subprocess.CompletedProcess(["rnngen", *args], code, out.getvalue(), err.getvalue())
