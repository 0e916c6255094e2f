"""The `rnngen` command: the workbench without arguments, the headless CLI with them.

It sits above both front ends, so that neither imports the other (the import contracts in
pyproject.toml say so, and tests/test_import_contracts.py runs them).
"""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    if not (sys.argv[1:] if argv is None else argv):
        try:
            from rnngen.tui.app import run_app
        except KeyboardInterrupt:  # Ctrl-C while textual loads: the CLI's own rule, exit 130
            from rnngen.cli import _interrupted

            return _interrupted()
        return run_app()
    from rnngen.cli import main as cli_main

    return cli_main(argv)
