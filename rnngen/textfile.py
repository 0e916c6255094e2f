"""Reading text the user gives: one policy for corpora, sentence files and n-best lists.

Every command and tab that reads a file goes through here, so a missing file, a folder, a pipe given
as a path, a binary file or a wrong encoding get the same one-line answer wherever they are met.
Line N is the Nth line an editor shows: lines end at LF or CRLF (a lone CR inside a line is kept, as
Python's and NLTK's line readers keep it), except in prose read as a corpus, where old Mac files end
lines with CR alone.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path
from typing import BinaryIO

from rnngen.errors import InputError, RnngenError

SNIFF = 65536  # bytes looked at to tell text from binary by its control characters
MAX_CONTROL_SHARE = 0.1  # text has tabs and line ends, binary data has many other control bytes
STDIN = "standard input"


def checked_file(path: Path, error: type[RnngenError] = InputError, folder_hint: str = "",
                 stdin_ok: bool = True) -> Path:
    """`path` when it is a regular file; else `error` saying what it is instead.

    A FIFO or a device would block or never end, so only regular files are read by name.
    """
    if path.is_dir():
        raise error(f"{path} is a folder{'; ' + folder_hint if folder_hint else ', not a file'}")
    if not path.exists():
        raise error(f"no such file: {path}")
    if not path.is_file():
        instead = "pipe it in with '-' instead" if stdin_ok else "save the text to a file first"
        raise error(f"{path} is not a regular file (a pipe or a device); {instead}")
    return path


def read_bytes(path: Path, error: type[RnngenError] = InputError, folder_hint: str = "",
               stdin_ok: bool = True) -> bytes:
    """The bytes of a checked regular file; an OS error becomes one line."""
    checked_file(path, error, folder_hint, stdin_ok)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None


def decode(raw: bytes, name: str, error: type[RnngenError] = InputError,
           warnings: list[str] | None = None) -> str:
    """The text of `raw`: UTF-8 (a BOM is dropped) or UTF-16 with its BOM; binary data is refused.

    With a `warnings` list (corpora: old books are often Windows-1252), bytes that are not UTF-8 are
    read as Windows-1252/Latin-1 and a warning is added; without one they are an error naming the line.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise error(f"{name} starts like UTF-16 but is not valid UTF-16") from None
    nul = raw.find(b"\x00")
    if nul >= 0 or control_share(raw[:SNIFF]) > MAX_CONTROL_SHARE:
        where = f" (a NUL byte on line {line_of(raw, nul)})" if nul >= 0 else ""
        raise error(f"{name} looks like a binary file, not text{where}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if warnings is None:
            raise error(f"{name}, line {line_of(raw, exc.start)}: not UTF-8 text") from None
        warnings.append(f"{Path(name).name} is not valid UTF-8 (byte {exc.start:,}); read it as Windows-1252/Latin-1")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


BLOCK = 1 << 26  # bytes decoded at a time by `read_and_digest`


def read_and_digest(path: Path, error: type[RnngenError] = InputError,
                    warnings: list[str] | None = None) -> tuple[str, bytes]:
    """The text of a file, as `read_bytes` + `decode` give it, and the sha256 digest of its bytes.

    UTF-8 is decoded a block at a time, so a 500 MB corpus is never held as bytes and as text at once
    (over a gigabyte more at the peak). Anything else (UTF-16, bytes that are not UTF-8, a binary file)
    goes through `decode` whole, for its fallback and its error naming the line.
    """
    checked_file(path, error, stdin_ok=False)
    digest, parts = hashlib.sha256(), []
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with open(path, "rb") as f:
            while block := f.read(BLOCK):
                if not parts and (block.startswith((b"\xff\xfe", b"\xfe\xff"))
                                  or control_share(block[:SNIFF]) > MAX_CONTROL_SHARE):
                    return _whole(path, error, warnings)
                if b"\x00" in block:
                    return _whole(path, error, warnings)
                digest.update(block)
                parts.append(decoder.decode(block))
            parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return _whole(path, error, warnings)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    text = "".join(parts)
    parts.clear()
    return text, digest.digest()


def _whole(path: Path, error: type[RnngenError], warnings: list[str] | None) -> tuple[str, bytes]:
    raw = read_bytes(path, error, stdin_ok=False)
    return decode(raw, str(path), error, warnings), hashlib.sha256(raw).digest()


def control_share(sample: bytes) -> float:
    """The share of control bytes other than tab, line feed, form feed and carriage return."""
    if not sample:
        return 0.0
    return sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13)) / len(sample)


def line_of(raw: bytes, offset: int) -> int:
    """The 1-based line number of byte `offset`."""
    return raw.count(b"\n", 0, offset) + 1


def split_lines(text: str) -> list[str]:
    """The lines of `text`, ended by LF or CRLF; a final line end does not start an empty line."""
    if not text:
        return []
    text = text.replace("\r\n", "\n")
    return text.split("\n")[: -1 if text.endswith("\n") else None]


def read_lines(source: str | Path | None, stdin: BinaryIO | None = None, folder_hint: str = "") -> list[str]:
    """The lines of a file, or of `stdin` for '-' or None: the reader of every one-item-per-line input."""
    if source in (None, "-"):
        if stdin is None:
            raise InputError("no input: give a file")
        return split_lines(decode(stdin.read(), STDIN))
    return split_lines(decode(read_bytes(Path(source), folder_hint=folder_hint), str(source)))
