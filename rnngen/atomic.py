"""Writes that never leave a half-written file and never follow a planted link.

Every temporary file is created fresh with `mkstemp` (O_CREAT|O_EXCL) in the
target's own folder, so an existing name there (a symlink to a file outside
the folder, say) is never opened; the finished file is renamed over the
target, which is atomic on POSIX filesystems. Two folders are swapped with
Linux's renameat2(RENAME_EXCHANGE) where it exists, so there is no moment at
which the model's name points at nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

# RENAME_EXCHANGE from <linux/fs.h>: swap two names in one step.
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
# Test hook: with RNNGEN_TEST_KILL_AT=<step>, the process kills itself (SIGKILL) at that step of a save,
# so tests can reproduce a crash at the exact moment (see `kill_point`).
KILL_ENV = "RNNGEN_TEST_KILL_AT"


def kill_point(step: str) -> None:
    """Die here, as `kill -9` would, when a test asks for this step."""
    if os.environ.get(KILL_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a fresh temporary file in the same folder, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _unlink_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _renameat2():
    """glibc's renameat2, or None (not Linux, an old glibc, or a test that forces the fallback)."""
    if os.environ.get("RNNGEN_NO_RENAME_EXCHANGE"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


def exchange(a: Path, b: Path) -> bool:
    """Swap the two existing names `a` and `b` atomically; False where the system cannot (then nothing moved)."""
    fn = _renameat2()
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE)
    return rc == 0
