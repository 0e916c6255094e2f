"""Every console block of the README runs as written, in order, on a fresh checkpoints folder.

Training budgets are cut short (`--epochs 1`, a few seconds of `--max-minutes`), so numbers differ from
the README's; what is checked is that each command runs, that a command shown failing fails with the
very error line shown, and that a file the README shows with `cat` is the one the next commands read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BUDGET = "0.03"  # minutes of training per command: enough for a model that loads and scores


def console_blocks(text: str) -> list[list[tuple[str, list[str]]]]:
    """Each ```console block as (command, output lines) pairs."""
    blocks = []
    for body in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M):
        steps: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def shortened(command: str) -> str:
    """The command with its training budget cut."""
    if not re.match(r"rnngen train\b", command):
        return command
    command = re.sub(r"--epochs \d+", "--epochs 1", command)
    command = re.sub(r"--max-minutes [\d.]+", "", command)
    return f"{command} --max-minutes {BUDGET} --threads 1"


def test_the_readme_has_console_blocks():
    steps = [s for block in console_blocks(README.read_text(encoding="utf-8")) for s in block]
    assert len(steps) > 15
    assert shortened("rnngen train travel --out a --epochs 5") == f"rnngen train travel --out a --epochs 1 --max-minutes {BUDGET} --threads 1"


def test_every_console_command_runs_as_written(shared_corpora, tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_corpora.parent)  # ../shared, as beside a clone
    env = {k: v for k, v in os.environ.items() if k not in ("RNNGEN_CHECKPOINTS", "RNNGEN_CORPORA")}
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120",
           "RNNGEN_THREADS": "1"}
    # the defaults, ./checkpoints and ./corpora, are inside this fresh folder
    for block in console_blocks(README.read_text(encoding="utf-8")):
        for command, shown in block:
            cat = re.fullmatch(r"cat (\S+)", command)
            if cat and not (work / cat[1]).exists():  # the README shows a file's content: write it
                (work / cat[1]).write_text("\n".join(shown) + "\n", encoding="utf-8")
            result = subprocess.run(["bash", "-c", shortened(command)], cwd=work, env=env, capture_output=True,
                                    text=True, timeout=600)
            errors = [line for line in shown if line.startswith("rnngen: error:")]
            if errors:
                assert result.returncode == 2, (command, result.stderr)
                assert errors == [line for line in result.stderr.splitlines() if line.startswith("rnngen: error:")]
            else:
                assert result.returncode == 0, (command, result.stderr[-2000:])
                assert "Traceback" not in result.stderr
            if cat:
                assert result.stdout.splitlines() == shown
