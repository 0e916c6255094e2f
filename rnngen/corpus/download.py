"""Fetch a file over HTTP(S) safely: resumable, verified, with progress through a callback.

No UI here: `progress(label, done, total)` is called as bytes arrive, and the
CLI or TUI draws it. A transfer goes into `NAME.part`; when the server honours
HTTP Range requests an interrupted download continues where it stopped,
otherwise it starts over. The finished file is checked against its published
size and checksum before it is renamed into place. Archives are unpacked only
if none of their members could land outside the target folder.

`timeout` bounds each socket read only, so a transfer also has an overall
deadline and a minimum rate, and never grows past its known size (or
MAX_DOWNLOAD_BYTES); unpacking is bounded in total, per member and by
compression ratio. The limits are module constants so tests can shrink them.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import socket
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import urlsplit

from rnngen import __version__
from rnngen.errors import DownloadError

Progress = Callable[[str, int, "int | None"], None]
CHUNK = 1 << 16
DEFAULT_TIMEOUT = 30.0
# a body of unknown length stops here (the largest catalogue corpus is ~200 MB zipped)
MAX_DOWNLOAD_BYTES = 2 << 30
# a transfer must finish within MAX_SECONDS, and move MIN_RATE bytes/s averaged over RATE_WINDOW seconds
MAX_SECONDS = 6 * 3600.0
MIN_RATE = 1024.0
RATE_WINDOW = 60.0
# unpacking: all members together, one member, and uncompressed/compressed size (above RATIO_FLOOR bytes)
MAX_EXTRACT_BYTES = 8 << 30
MAX_MEMBER_BYTES = 4 << 30
MAX_RATIO = 200.0
RATIO_FLOOR = 1 << 20


def _no_progress(label: str, done: int, total: int | None) -> None:
    pass


def fetch(url: str, dest: Path, *, checksum: str | None = None, size: int | None = None,
          timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None, label: str | None = None) -> Path:
    """Download `url` to `dest` (via `dest.part`, resuming it when possible) and verify it."""
    progress = progress or _no_progress
    label = label or dest.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    if size is not None and have == size:
        _finish(part, dest, url, checksum, size)
        return dest
    request = urllib.request.Request(url, headers={"User-Agent": f"rnngen/{__version__}"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # our partial file is already complete (or the server forgot it): verify or start over
            part.unlink()
            return fetch(url, dest, checksum=checksum, size=size, timeout=timeout, progress=progress, label=label)
        raise DownloadError(f"{_host(url)} answered {exc.code} {exc.reason} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(_network_message(url, exc, timeout)) from None
    with response:
        resumed = have and response.status == 206 and _range_start(response) == have
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        cap = size if size is not None else MAX_DOWNLOAD_BYTES
        _receive(response, part, have, total, cap, url, timeout, progress, label, append=bool(resumed))
    _finish(part, dest, url, checksum, size)
    return dest


def _receive(response, part: Path, have: int, total: int | None, cap: int, url: str, timeout: float,
             progress: Progress, label: str, append: bool) -> None:
    """Append the body to `part`; `cap` is the known size, or MAX_DOWNLOAD_BYTES when none is known."""
    done = have
    name = part.name.removesuffix(".part")
    if total is not None and total > cap:
        raise DownloadError(f"{name} from {url} has {total:,} bytes, expected {cap:,}"
                            f"{'' if cap != MAX_DOWNLOAD_BYTES else ' at most'}; not downloading it")
    pace = _Pace(url)
    progress(label, done, total)
    with open(part, "ab" if append else "wb") as fh:
        try:
            while True:
                chunk = response.read1(CHUNK)  # what has arrived, so a stall keeps it
                if not chunk:
                    break
                if done + len(chunk) > cap:
                    fh.close()
                    part.unlink()
                    raise DownloadError(f"{name} from {url} has more than the {cap:,} bytes expected; removed the download")
                fh.write(chunk)
                done += len(chunk)
                progress(label, done, total)
                pace.check(done - have)
        except http.client.IncompleteRead as exc:
            fh.write(exc.partial)
            done += len(exc.partial)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(_cut_message(url, done, total, exc, timeout)) from None
    if total is not None and done < total:
        raise DownloadError(_cut_message(url, done, total, None, timeout))


class _Pace:
    """The overall deadline and minimum rate: a server dripping bytes never trips the per-read timeout."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.start = self.window_start = time.monotonic()
        self.window_bytes = 0

    def check(self, received: int) -> None:
        now = time.monotonic()
        if now - self.start > MAX_SECONDS:
            raise DownloadError(f"the download of {self.url} took longer than {MAX_SECONDS:g} s "
                                f"({received:,} bytes so far); run the command again to resume")
        elapsed = now - self.window_start
        if elapsed >= RATE_WINDOW:
            rate = (received - self.window_bytes) / elapsed
            if rate < MIN_RATE:
                raise DownloadError(f"the download of {self.url} is too slow ({rate:,.0f} bytes/s over "
                                    f"{elapsed:.1f} s, under {MIN_RATE:,.0f}); run the command again to resume")
            self.window_start, self.window_bytes = now, received


def _finish(part: Path, dest: Path, url: str, checksum: str | None, size: int | None) -> None:
    actual = part.stat().st_size
    if size is not None and actual != size:
        part.unlink()
        raise DownloadError(f"{dest.name} from {url} has {actual:,} bytes, expected {size:,}; removed it, try again")
    if checksum:
        algorithm, _, expected = checksum.partition(":")
        digest = file_digest(part, algorithm)
        if digest != expected.lower():
            part.unlink()
            raise DownloadError(f"{dest.name} from {url} failed its {algorithm} check (got {digest[:12]}…, "
                                f"expected {expected[:12]}…); removed the download")
    os.replace(part, dest)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    if algorithm not in ("sha256", "md5", "sha1"):
        raise DownloadError(f"unknown checksum algorithm {algorithm!r}")
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _range_start(response) -> int | None:
    value = response.headers.get("Content-Range", "")  # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _network_message(url: str, exc: BaseException, timeout: float) -> str:
    reason = getattr(exc, "reason", exc)
    host = _host(url)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer from {host} within {timeout:g} s; check the connection and try again"
    if isinstance(reason, socket.gaierror):
        return f"cannot look up {host}: are you offline? (check the network, or set RNNGEN_MIRROR)"
    if isinstance(reason, ConnectionRefusedError) or getattr(reason, "errno", None) == errno.ECONNREFUSED:
        return f"cannot connect to {host}: connection refused (offline, or the server is down)"
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"cannot reach {host}: the network is unreachable (offline?)"
    return f"cannot download {url}: {getattr(reason, 'strerror', None) or reason}"


def _cut_message(url: str, done: int, total: int | None, exc: BaseException | None, timeout: float) -> str:
    of = f" of {total:,}" if total else ""
    why = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else "was cut short"
    return f"the download of {url} {why} after {done:,}{of} bytes; run the command again to resume"


# -- archives ----------------------------------------------------------------------


def _unsafe(name: str) -> bool:
    """An absolute path, a Windows drive, or a `..` step: it could land outside the target."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def _inside(target: Path, name: str) -> bool:
    root = target.resolve()
    return (root / name).resolve().is_relative_to(root)


def extract(archive: Path, target: Path) -> list[Path]:
    """Unpack a zip or tar archive into `target`, refusing any member that would escape it.

    Any failure (a corrupt or truncated archive, a bomb, a name clash) is one
    DownloadError, and what was unpacked so far is removed again.
    """
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        unpack = _extract_zip
    else:
        try:
            is_tar = tarfile.is_tarfile(archive)
        except (OSError, EOFError, zlib.error, tarfile.TarError):
            is_tar = False
        if not is_tar:
            raise DownloadError(f"{archive.name} is neither a zip nor a tar archive")
        unpack = _extract_tar
    written = _Written(archive, target)
    try:
        return unpack(archive, target, written)
    except BaseException as exc:
        written.undo(remove_target=created)
        if isinstance(exc, DownloadError):
            raise
        if isinstance(exc, (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError,
                            NotImplementedError, RuntimeError, ValueError)):
            raise DownloadError(f"cannot unpack {archive.name}: {_reason(exc)}; removed what was unpacked") from None
        raise


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError) or "unexpected end" in str(exc):
        return "it is truncated"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({Path(exc.filename).name if exc.filename else ''})".replace(" ()", "")
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _Written:
    """What unpacking has made, so a failure removes it, and the running totals the limits bound."""

    def __init__(self, archive: Path, target: Path) -> None:
        self.archive, self.target = archive, target
        self.files: list[Path] = []
        self.dirs: list[Path] = []
        self.total = 0
        self.archive_bytes = max(archive.stat().st_size, 1)

    def mkdir(self, path: Path) -> None:
        missing = [p for p in (path, *path.parents) if not p.exists() and p.is_relative_to(self.target)]
        path.mkdir(parents=True, exist_ok=True)
        self.dirs.extend(reversed(missing))

    def copy(self, src, dest: Path, name: str, packed: int | None) -> None:
        """Copy one member, stopping at the per-member, total and ratio limits."""
        self.mkdir(dest.parent)
        self.files.append(dest)
        size = 0
        with open(dest, "wb") as dst:
            for block in iter(lambda: src.read(CHUNK), b""):
                size += len(block)
                self.total += len(block)
                self._check(name, size, packed)
                dst.write(block)

    def _check(self, name: str, size: int, packed: int | None) -> None:
        where = f"{self.archive.name} member {name!r}"
        if size > MAX_MEMBER_BYTES:
            raise DownloadError(f"{where} unpacks to more than {MAX_MEMBER_BYTES:,} bytes; removed what was unpacked")
        if self.total > MAX_EXTRACT_BYTES:
            raise DownloadError(f"{self.archive.name} unpacks to more than {MAX_EXTRACT_BYTES:,} bytes; "
                                "removed what was unpacked")
        ratio = size / max(packed, 1) if packed is not None else self.total / self.archive_bytes
        if max(size, self.total if packed is None else 0) > RATIO_FLOOR and ratio > MAX_RATIO:
            raise DownloadError(f"{where} expands more than {MAX_RATIO:g} times (a zip bomb?); "
                                "removed what was unpacked")

    def undo(self, remove_target: bool) -> None:
        for path in self.files:
            path.unlink(missing_ok=True)
        for path in reversed(self.dirs):
            try:
                path.rmdir()
            except OSError:
                pass
        if remove_target:
            try:
                self.target.rmdir()
            except OSError:
                pass


def _check_names(archive: Path, files: list[str], dirs: list[str]) -> None:
    """A file and a folder of the same name cannot both be unpacked: refuse before writing anything."""
    folders = {PurePosixPath(d.replace("\\", "/")).as_posix().rstrip("/") for d in dirs}
    for name in files:
        folders.update(p.as_posix() for p in PurePosixPath(name.replace("\\", "/")).parents if p.parts)
    for name in files:
        clean = PurePosixPath(name.replace("\\", "/")).as_posix()
        if clean in folders:
            raise DownloadError(f"{archive.name} holds both a file and a folder named {clean!r}; nothing was extracted")


def _check_declared(archive: Path, sizes: list[tuple[str, int, int | None]]) -> None:
    """Sizes the archive itself declares, checked before writing anything (the copy checks the real ones)."""
    total = 0
    for name, size, packed in sizes:
        total += size
        if size > MAX_MEMBER_BYTES or total > MAX_EXTRACT_BYTES or (
                packed is not None and size > RATIO_FLOOR and size / max(packed, 1) > MAX_RATIO):
            raise DownloadError(f"{archive.name} member {name!r} would unpack to {size:,} bytes "
                                f"({total:,} in all), past the unpacking limits (a zip bomb?); nothing was extracted")


def _extract_zip(archive: Path, target: Path, written: _Written) -> list[Path]:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            mode = info.external_attr >> 16
            if _unsafe(info.filename) or not _inside(target, info.filename):
                raise DownloadError(f"{archive.name} holds an unsafe path {info.filename!r}; nothing was extracted")
            if stat.S_ISLNK(mode):
                raise DownloadError(f"{archive.name} holds a symbolic link {info.filename!r}; nothing was extracted")
        _check_names(archive, [i.filename for i in members if not i.is_dir()],
                     [i.filename for i in members if i.is_dir()])
        _check_declared(archive, [(i.filename, i.file_size, i.compress_size) for i in members if not i.is_dir()])
        out = []
        for info in members:
            dest = target / info.filename
            if info.is_dir():
                written.mkdir(dest)
                continue
            with zf.open(info) as src:
                written.copy(src, dest, info.filename, info.compress_size)
            out.append(dest)
    return out


def _extract_tar(archive: Path, target: Path, written: _Written) -> list[Path]:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            if _unsafe(m.name) or not _inside(target, m.name):
                raise DownloadError(f"{archive.name} holds an unsafe path {m.name!r}; nothing was extracted")
            if m.issym() or m.islnk():
                base = PurePosixPath(m.name).parent if m.issym() else PurePosixPath()
                if _unsafe(m.linkname) or not _inside(target, str(base / m.linkname)):
                    raise DownloadError(f"{archive.name} holds a link {m.name!r} -> {m.linkname!r} leading "
                                        "outside; nothing was extracted")
            elif not (m.isfile() or m.isdir()):
                raise DownloadError(f"{archive.name} holds a special file {m.name!r}; nothing was extracted")
        _check_names(archive, [m.name for m in members if m.isfile()], [m.name for m in members if m.isdir()])
        _check_declared(archive, [(m.name, m.size, None) for m in members if m.isfile()])
        out = []
        for m in members:
            dest = target / m.name
            if m.isdir():
                written.mkdir(dest)
            elif m.isfile():
                src = tf.extractfile(m)
                with src:
                    written.copy(src, dest, m.name, None)
                out.append(dest)
            # links inside the target are skipped: corpora need only regular files
    return out
