"""The layering of pyproject.toml's import contracts holds, covers every engine module, and bites.

import-linter reads each import statement, those inside functions too (the plain sys.modules check in
test_import_hygiene.py sees only what importing a module runs).
"""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import rnngen

ROOT = Path(__file__).resolve().parent.parent
FRONT = ("cli", "tui", "entry", "__main__")


def lint(cwd: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_every_engine_module_is_under_the_no_ui_contract():
    engine = {f"rnngen.{m.name}" for m in pkgutil.iter_modules(rnngen.__path__) if m.name not in FRONT}
    forbidden = next(c for c in contracts() if c["type"] == "forbidden")
    assert set(forbidden["source_modules"]) == engine


def test_the_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_an_import_inside_a_function_that_breaks_a_layer_is_caught(tmp_path):
    shutil.copytree(ROOT / "rnngen", tmp_path / "rnngen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "rnngen" / "score.py").open("a") as f:
        f.write("\n\ndef _shown():\n    from rich.console import Console\n    from rnngen.train import train\n")
    result = lint(tmp_path)
    assert result.returncode == 1
    assert "rnngen.score is not allowed to import rnngen.train" in result.stdout
    assert "rnngen.score is not allowed to import rich" in result.stdout
