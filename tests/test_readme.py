"""Every console block of the README runs as written, in order, on a fresh checkpoints folder.

Training budgets are cut short (`--epochs 1`, a few seconds of `--max-minutes`), so numbers differ from
the README's; what is checked is that each command runs, that a command shown failing fails with the
very error line shown, and that a file the README shows with `cat` is the one the next commands read.

An `rnngen ...` command runs through the CLI's entry point, `rnngen.cli.main`, in this process (its
stdin from the `printf` piped into it, its stdout to the file it is redirected to), because starting
Python and torch again for each of some thirty commands would cost more than all the work they do;
everything else (`printf`, `cat`) runs in bash as written.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from tests._inprocess import main_here

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


def bash(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, timeout=60)


def run(command: str, cwd: Path) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one README command, run in `cwd`."""
    feed, _, rest = command.rpartition(" | ") if " | rnngen " in command else ("", "", command)
    if not rest.startswith("rnngen "):
        done = bash(command, cwd)
        return done.returncode, done.stdout.decode(), done.stderr.decode()
    words = shlex.split(rest, comments=True)
    target = None
    if ">" in words:
        at = words.index(">")
        words, target = words[:at], cwd / words[at + 1]
    done = main_here(*words[1:], stdin=bash(feed, cwd).stdout if feed else b"")
    if target is not None:
        target.write_text(done.stdout, encoding="utf-8")
    return done.returncode, done.stdout, done.stderr


def test_every_console_command_runs_as_written(shared_corpora, tmp_path, monkeypatch):
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_corpora.parent)  # ../shared, as beside a clone
    for name in ("RNNGEN_CHECKPOINTS", "RNNGEN_CORPORA"):  # the defaults, ./checkpoints and ./corpora, are here
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RNNGEN_THREADS", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(work)
    for block in console_blocks(README.read_text(encoding="utf-8")):
        for command, shown in block:
            cat = re.fullmatch(r"cat (\S+)", command)
            if cat and not (work / cat[1]).exists():  # the README shows a file's content: write it
                (work / cat[1]).write_text("\n".join(shown) + "\n", encoding="utf-8")
            code, stdout, stderr = run(shortened(command), work)
            errors = [line for line in shown if line.startswith("rnngen: error:")]
            if errors:
                assert code == 2, (command, stderr)
                assert errors == [line for line in stderr.splitlines() if line.startswith("rnngen: error:")]
            else:
                assert code == 0, (command, stderr[-2000:])
                assert "Traceback" not in stderr
            if cat:
                assert stdout.splitlines() == shown
