"""The engine never imports the UI libraries, and `rnngen --help` does not import torch."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import rnngen

ENGINE = sorted(
    m.name for m in pkgutil.walk_packages(rnngen.__path__, "rnngen.")
    if not m.name.startswith(("rnngen.cli", "rnngen.tui", "rnngen.__main__"))
)


def test_engine_modules_import_no_ui_library():
    code = (
        "import importlib, sys\n"
        f"for name in {ENGINE!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
    assert "rnngen.lm" in ENGINE and "rnngen.train" in ENGINE


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from rnngen.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'textual' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False False"
