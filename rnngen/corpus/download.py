"""Fetch a file over HTTP(S) safely: resumable, verified, with progress through a callback.

No UI here: `progress(label, done, total)` is called as bytes arrive, and the
CLI or TUI draws it. A transfer goes into `NAME.part`; when the server honours
HTTP Range requests an interrupted download continues where it stopped,
otherwise it starts over. The finished file is checked against its published
size and checksum before it is renamed into place. Archives are unpacked only
if none of their members could land outside the target folder.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import socket
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import urlsplit

from rnngen import __version__
from rnngen.errors import DownloadError

Progress = Callable[[str, int, "int | None"], None]
CHUNK = 1 << 16
DEFAULT_TIMEOUT = 30.0


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
        _receive(response, part, have, total, url, timeout, progress, label, append=bool(resumed))
    _finish(part, dest, url, checksum, size)
    return dest


def _receive(response, part: Path, have: int, total: int | None, url: str, timeout: float, progress: Progress,
             label: str, append: bool) -> None:
    done = have
    progress(label, done, total)
    with open(part, "ab" if append else "wb") as fh:
        try:
            while True:
                chunk = response.read1(CHUNK)  # what has arrived, so a stall keeps it
                if not chunk:
                    break
                fh.write(chunk)
                done += len(chunk)
                progress(label, done, total)
        except http.client.IncompleteRead as exc:
            fh.write(exc.partial)
            done += len(exc.partial)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(_cut_message(url, done, total, exc, timeout)) from None
    if total is not None and done < total:
        raise DownloadError(_cut_message(url, done, total, None, timeout))


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
    """Unpack a zip or tar archive into `target`, refusing any member that would escape it."""
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        return _extract_zip(archive, target)
    try:
        is_tar = tarfile.is_tarfile(archive)
    except OSError:
        is_tar = False
    if is_tar:
        return _extract_tar(archive, target)
    raise DownloadError(f"{archive.name} is neither a zip nor a tar archive")


def _extract_zip(archive: Path, target: Path) -> list[Path]:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            mode = info.external_attr >> 16
            if _unsafe(info.filename) or not _inside(target, info.filename):
                raise DownloadError(f"{archive.name} holds an unsafe path {info.filename!r}; nothing was extracted")
            if stat.S_ISLNK(mode):
                raise DownloadError(f"{archive.name} holds a symbolic link {info.filename!r}; nothing was extracted")
        out = []
        for info in members:
            dest = target / info.filename
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)
            out.append(dest)
    return out


def _extract_tar(archive: Path, target: Path) -> list[Path]:
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
        out = []
        for m in members:
            dest = target / m.name
            if m.isdir():
                dest.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                with src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                out.append(dest)
            # links inside the target are skipped: corpora need only regular files
    return out
