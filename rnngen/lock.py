"""An advisory lock on one model folder, so two trainings never write the same model.

The lock is `.NAME.lock` beside the folder (inside it, it would be swapped
away with the folder on every save). It is held with `flock`, which the
kernel releases when the holder dies, so a lock left by a killed process is
stale by construction; the file records the holder's pid and command so the
refusal can say who holds it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rnngen.errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the lock is a no-op there
    fcntl = None  # type: ignore[assignment]


def lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


# The locks this process holds, by folder: a save inside a training that holds the lock reuses it.
_HELD: dict[str, "ModelLock"] = {}


class ModelLock:
    """Held from `acquire()` until `release()` (or the process ends); re-entrant within a process."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = lock_path(self.folder)
        self.fd: int | None = None
        self.nested = False

    def acquire(self) -> "ModelLock":
        if fcntl is None or self.fd is not None or self.nested:
            return self
        key = os.path.abspath(self.path)
        if key in _HELD:
            self.nested = True
            return self
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            if not _try_flock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise CheckpointError(f"model {self.folder.name!r} is in use by {holder}; wait for it to finish "
                                      "or stop it") from None
            if _same_file(fd, self.path):  # not a lock file another holder unlinked while we waited
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:3])}) since {time.strftime('%H:%M:%S')}\n"
                         .encode())
                self.fd = fd
                _HELD[key] = self
                return self
            os.close(fd)
        raise CheckpointError(f"could not lock model {self.folder.name!r}: its lock file keeps changing")

    def release(self) -> None:
        if self.nested:
            self.nested = False
            return
        if self.fd is None:
            return
        _HELD.pop(os.path.abspath(self.path), None)
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    @property
    def held(self) -> bool:
        return self.fd is not None or self.nested

    def __enter__(self) -> "ModelLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def is_locked(folder: Path) -> bool:
    """Whether a live process holds the lock on `folder` (this one included)."""
    if fcntl is None:
        return False
    path = lock_path(Path(folder))
    if os.path.abspath(path) in _HELD:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _try_flock(fd: int, tries: int = 5) -> bool:
    """An exclusive lock, retried briefly: `is_locked` takes a shared one for an instant to look."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt < tries - 1:
                time.sleep(0.02)
    return False


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
    except OSError:
        return False


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "another process"
