"""ARPA files in and out: the back-off n-gram format of KenLM, SRILM, Moses and Kaldi.

    \\data\\
    ngram 1=COUNT
    ...
    \\1-grams:
    log10P <tab> w <tab> log10backoff
    ...
    \\end\\

Reading keeps no Python object per n-gram: each order's section is parsed in chunks straight into
arrays of word ids, log10 P and back-off (`rnngen.backoff`), float32 as KenLM keeps them. A file
compressed with gzip is read as it is (recognised by its first bytes, whatever its name).

Where KenLM substitutes, so does this reader: a file without `<unk>` gets `<unk>` at log10 P -100.
An n-gram whose context is not listed is kept (SRILM's pruning writes such files): its context simply
backs off with weight 1. Everything else that is not the format is refused with the line it is on.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tempfile
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from rnngen.backoff import BackoffTables, Order
from rnngen.errors import InputError
from rnngen.kneser_ney import BOS_LOGPROB
from rnngen.vocab import BOS, EOS, SPECIALS, Vocabulary, word_problem

UNK_LOGPROB = -100.0  # KenLM's stand-in for a file without <unk>
CHUNK = 200_000  # lines parsed at a time: bounds the Python objects alive while a section is read
_COUNT = re.compile(rb"^ngram\s+(\d+)\s*=\s*(\d+)\s*$")
_SECTION = re.compile(rb"^\\(\d+)-grams:\s*$")


def looks_like_arpa(path: str | Path) -> bool:
    """Whether `path` is a file whose first non-blank line is `\\data\\` (plain or gzip)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with _open(path) as f:
            for _ in range(1000):  # a header comment of a few lines is allowed
                line = f.readline()
                if not line:
                    return False
                if line.strip():
                    if line.strip() == b"\\data\\":
                        return True
                    if not line.startswith((b"#", b"%")):
                        return False
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    return False


def _open(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


class _Lines:
    """The file's lines with their numbers, for messages that say where."""

    def __init__(self, f, path: Path) -> None:
        self.f, self.path, self.number = f, path, 0

    def next(self) -> bytes | None:
        line = self.f.readline()
        if not line:
            return None
        self.number += 1
        return line.rstrip(b"\r\n")

    def fail(self, why: str) -> InputError:
        return InputError(f"{self.path}, line {self.number}: {why}")


def read(path: str | Path, progress: Callable[[int, int], None] | None = None) -> tuple[Vocabulary, BackoffTables]:
    """The vocabulary (specials first, then the unigrams in file order) and the tables of an ARPA file."""
    path = Path(path)
    try:
        with _open(path) as f:
            return _read(_Lines(f, path), progress)
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise InputError(f"{path} cannot be read as an ARPA file: {exc}") from None


def _read(lines: _Lines, progress) -> tuple[Vocabulary, BackoffTables]:
    counts = _header(lines)
    total = sum(counts)
    done = 0
    vocab: Vocabulary | None = None
    orders: list[Order] = []
    for k, count in enumerate(counts, 1):
        line = lines.next()
        while line is not None and not line.strip():
            line = lines.next()
        if line is None or not _SECTION.match(line) or int(_SECTION.match(line).group(1)) != k:
            raise lines.fail(f"expected the \\{k}-grams: section, found {_show(line)}")
        parts = _section(lines, k, count, vocab)
        if k == 1:
            vocab, parts = _vocabulary(lines, parts)
        orders.append(Order(*parts))
        done += count
        if progress:
            progress(done, total)
    line = lines.next()
    while line is not None and not line.strip():
        line = lines.next()
    if line is None or line.strip() != b"\\end\\":
        raise lines.fail(f"expected \\end\\ after the {len(counts)}-grams, found {_show(line)}")
    assert vocab is not None
    return vocab, BackoffTables(orders, len(vocab))


def _show(line: bytes | None) -> str:
    return "the end of the file" if line is None else repr(line[:60].decode("utf-8", "replace"))


def _header(lines: _Lines) -> list[int]:
    line = lines.next()
    while line is not None and line.strip() != b"\\data\\":
        if line.strip() and not line.startswith((b"#", b"%")):
            raise lines.fail("not an ARPA file: it does not begin with \\data\\")
        line = lines.next()
    if line is None:
        raise lines.fail("not an ARPA file: no \\data\\ line")
    counts: list[int] = []
    while True:
        line = lines.next()
        if line is None:
            raise lines.fail("the file ends inside its \\data\\ header")
        if not line.strip():
            if counts:
                return counts
            continue
        m = _COUNT.match(line.strip())
        if not m:
            raise lines.fail(f"expected 'ngram N=COUNT' in the header, found {_show(line)}")
        order, count = int(m.group(1)), int(m.group(2))
        if order != len(counts) + 1:
            raise lines.fail(f"the header lists order {order} after order {len(counts)}")
        counts.append(count)


def _section(lines: _Lines, k: int, count: int, vocab: Vocabulary | None):
    """Parse `count` lines of k-grams into (ids, logprob, backoff); words are ids of `vocab`, or (for the
    unigrams, before there is a vocabulary) the words themselves."""
    ids = np.empty((count, k), dtype=np.int32)
    logprob = np.empty(count, dtype=np.float32)
    backoff = np.zeros(count, dtype=np.float32)
    words: list[str] = []
    index = {w.encode("utf-8"): i for i, w in enumerate(vocab.words)} if vocab is not None else None
    row = 0
    for chunk in _chunks(lines, count, k):
        fast = _columns(chunk, k, index)
        if fast is not None:  # the common layout, parsed a chunk at a time in C
            ids_or_words, logprob[row:row + len(chunk)], backoff[row:row + len(chunk)] = fast
            if index is None:
                words += ids_or_words
            else:
                ids[row:row + len(chunk)] = ids_or_words
            row += len(chunk)
            continue
        fields = [line.split() for line in chunk]  # anything else, line by line, to say where it breaks
        first = lines.number - len(chunk) + 1
        for n, f in enumerate(fields):
            if len(f) not in (k + 1, k + 2):
                lines.number = first + n
                raise lines.fail(f"a {k}-gram line has a probability, {k} word(s) and perhaps a back-off; "
                                 f"found {len(f)} field(s)")
        try:
            logprob[row:row + len(chunk)] = np.array([f[0] for f in fields]).astype(np.float32)
            backoff[row:row + len(chunk)] = np.array([f[k + 1] if len(f) == k + 2 else b"0"
                                                      for f in fields]).astype(np.float32)
        except ValueError:
            bad = next(n for n, f in enumerate(fields) if not _numbers(f, k))
            lines.number = first + bad
            raise lines.fail(f"not a number: {_show(chunk[bad])}") from None
        if index is None:
            words += [f[1].decode("utf-8") for f in fields]
        else:
            try:
                ids[row:row + len(chunk)] = np.array([[index[w] for w in f[1:k + 1]] for f in fields])
            except KeyError as exc:
                bad = next(n for n, f in enumerate(fields) if any(w not in index for w in f[1:k + 1]))
                lines.number = first + bad
                raise lines.fail(f"the word {exc.args[0].decode('utf-8', 'replace')!r} is not among the "
                                 "unigrams") from None
        row += len(chunk)
    return (words if index is None else ids), logprob, backoff


def _columns(chunk: list[bytes], k: int, index: dict[bytes, int] | None):
    """(ids or words, log10 P, back-off) of a chunk written `prob<TAB>w1 .. wk[<TAB>backoff]` with single spaces,
    as KenLM and SRILM write it; None where a line is otherwise (`_section` then reads it line by line)."""
    flat = b" ".join(chunk).split()
    tabs = np.fromiter((line.count(b"\t") for line in chunk), dtype=np.int64, count=len(chunk))
    if tabs.min(initial=1) < 1 or tabs.max(initial=1) > 2:
        return None
    lengths = k + tabs
    if int(lengths.sum()) != len(flat) or any(len(line.split(b"\t")[1].split(b" ")) != k for line in chunk[:1]):
        return None
    cells = np.array(flat, dtype=object)
    starts = np.cumsum(lengths) - lengths
    try:
        logprob = cells[starts].astype(bytes).astype(np.float32)
        backoff = np.zeros(len(chunk), dtype=np.float32)
        has = tabs == 2
        backoff[has] = cells[starts[has] + k + 1].astype(bytes).astype(np.float32)
    except ValueError:
        return None
    grams = cells[starts[:, None] + 1 + np.arange(k)].ravel().tolist()
    if index is None:
        return [w.decode("utf-8") for w in grams], logprob, backoff
    try:
        return np.array([index[w] for w in grams], dtype=np.int32).reshape(len(chunk), k), logprob, backoff
    except KeyError:
        return None


def _numbers(fields: list[bytes], k: int) -> bool:
    try:
        float(fields[0])
        if len(fields) == k + 2:
            float(fields[k + 1])
        return True
    except ValueError:
        return False


def _chunks(lines: _Lines, count: int, k: int) -> Iterator[list[bytes]]:
    """The section's lines, CHUNK at a time (read in bulk); fewer or more lines than the header says is an error."""
    left = count
    while left:
        raw = list(islice(lines.f, min(left, CHUNK)))
        chunk = [line.rstrip(b"\r\n") for line in raw]
        if b"\n\\" in b"\n" + b"\n".join(chunk) or len(raw) < min(left, CHUNK) or not all(chunk):
            chunk = _careful(lines, chunk, count, left, k)  # a short, blank-lined or cut section: line by line
        else:
            lines.number += len(raw)
        left -= len(chunk)
        yield chunk
    line = lines.next()
    if line is not None and line.strip():
        raise lines.fail(f"the header says {count:,} {k}-grams, the section has more")


def _careful(lines: _Lines, raw: list[bytes], count: int, left: int, k: int) -> list[bytes]:
    """The lines of `raw`, then more from the file, one at a time: blank lines skipped, the section's end found."""
    chunk: list[bytes] = []
    pending = iter(raw)
    while len(chunk) < min(left, CHUNK):
        line = next(pending, None)
        if line is not None:
            lines.number += 1
        else:
            line = lines.next()
        if line is None or line.startswith(b"\\"):
            raise lines.fail(f"the header says {count:,} {k}-grams, the section has {count - left + len(chunk):,}")
        if line.strip():
            chunk.append(line)
    return chunk


def _vocabulary(lines: _Lines, parts) -> tuple[Vocabulary, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Ids for the unigrams: `<unk> <s> </s>` first (as every rnngen vocabulary), then the file's order."""
    words, logprob, backoff = parts
    seen: dict[str, int] = {}
    for n, w in enumerate(words):
        if w in seen:
            raise InputError(f"{lines.path}: the unigram {w!r} is listed twice")
        if problem := word_problem(w):
            raise InputError(f"{lines.path}: unigram {n + 1} {problem}")
        seen[w] = n
    for special in (BOS, EOS):
        if special not in seen:
            raise InputError(f"{lines.path}: the file has no {special} unigram; an ARPA model of sentences "
                             "lists <s> and </s>")
    order = [w for w in words if w not in SPECIALS]
    vocab = Vocabulary([*SPECIALS, *order])
    rows = [seen.get(w, -1) for w in vocab.words]
    lp = np.array([logprob[r] if r >= 0 else UNK_LOGPROB for r in rows], dtype=np.float32)
    bo = np.array([backoff[r] if r >= 0 else 0.0 for r in rows], dtype=np.float32)
    return vocab, (np.arange(len(vocab), dtype=np.int32)[:, None], lp, bo)


# -- writing ------------------------------------------------------------------------------------
def write(path: str | Path, vocab: Vocabulary, tables: BackoffTables) -> Path:
    """Write the model as an ARPA file (gzip when the name ends in .gz), atomically: a temporary file
    beside it, renamed into place when complete."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: give the ARPA file's name")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent} does not exist: cannot write {path.name} there")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.name.endswith(".gz") else raw
            _write(out, vocab, tables)
            if out is not raw:
                out.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)  # nothing half-written is left, and an older file stays as it was
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return path


def _write(out, vocab: Vocabulary, tables: BackoffTables) -> None:
    words = np.array(vocab.words, dtype=object)
    out.write(b"\\data\\\n")
    for k, order in enumerate(tables.orders, 1):
        out.write(f"ngram {k}={len(order)}\n".encode())
    for k, order in enumerate(tables.orders, 1):
        out.write(f"\n\\{k}-grams:\n".encode())
        last = k == tables.order
        rows = np.lexsort(order.ids.T[::-1]) if len(order) else np.arange(0)
        for start in range(0, len(rows), CHUNK):
            part = rows[start:start + CHUNK]
            grams = [" ".join(ws) for ws in words[order.ids[part]].tolist()]
            probs = np.maximum(order.logprob[part].astype(np.float64), BOS_LOGPROB)
            if last:
                lines = [f"{p:.7f}\t{g}\n" for p, g in zip(probs.tolist(), grams)]
            else:
                lines = [f"{p:.7f}\t{g}\t{b:.7f}\n" if b else f"{p:.7f}\t{g}\n"
                         for p, g, b in zip(probs.tolist(), grams, order.backoff[part].astype(np.float64).tolist())]
            out.write("".join(lines).encode("utf-8"))
    out.write(b"\n\\end\\\n")


