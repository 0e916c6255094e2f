"""The prepared-corpus cache: token ids per split as `.npy` arrays, written once and memory-mapped after.

Tokenizing WikiText-103 takes minutes and its tokens as Python strings take
gigabytes; its ids take 4 bytes a token and load in a second. A cache entry is
keyed by what the result depends on: the source files (path, size,
modification time), the options (tokenized, lowercase), this format and the
NLTK version. Its manifest, written last, lists every file with its size and
sha256, so an entry cut short by a crash or a full disk, or changed since, is
found and rebuilt, never trusted. Arrays are read with `allow_pickle=False`.

Entries live under `$RNNGEN_CACHE` (`off` turns caching off), by default
`$XDG_CACHE_HOME/rnngen/corpora` (`~/.cache/rnngen/corpora`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from rnngen.corpus.arrays import TokenSplit
from rnngen.corpus.base import Corpus
from rnngen.errors import CorpusError
from rnngen.tokenize import TokenizerSettings

FORMAT = 1
SPLITS = ("train", "valid", "test")
MANIFEST = "manifest.json"
Progress = Callable[[str, int, int], None]  # (phase, done, total)


def cache_root() -> Path | None:
    """Where entries are kept, or None when `RNNGEN_CACHE=off`."""
    value = os.environ.get("RNNGEN_CACHE", "")
    if value.lower() in ("off", "0", "no", "false"):
        return None
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnngen" / "corpora"


@dataclass(frozen=True)
class Source:
    """One file a corpus is read from, as the key sees it: a changed file has another size, modification or
    status-change time, or is another file (inode). The change time cannot be set back (`touch -r`,
    `cp -p` and `rsync -t` set the modification time only), so a rewrite keeping size and mtime is seen."""

    role: str  # "text", or a split name for train/valid/test files
    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, role: str, path: Path) -> "Source":
        st = path.stat()
        return cls(role, str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def changed(self) -> bool:
        try:
            return Source.of(self.role, Path(self.path)) != self
        except OSError:
            return True


def _nltk_version() -> str:
    try:
        return metadata.version("nltk")
    except metadata.PackageNotFoundError:
        return "none"


def entry_key(name: str, sources: list[Source], tokenized: bool | None, lowercase: bool) -> str:
    """The entry's folder name: readable, and a hash of everything the prepared corpus depends on (bump
    FORMAT when the way rnngen prepares text changes: the key holds rnngen's version too)."""
    from rnngen import __version__

    parts = {"format": FORMAT, "rnngen": __version__, "sources": [vars(s) for s in sources],
             "tokenized": tokenized, "lowercase": lowercase, "nltk": _nltk_version()}
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40] or "corpus"
    return f"{safe}-{digest}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def find(name: str, sources: list[Source], tokenized: bool | None, lowercase: bool) -> tuple[str, Corpus | None]:
    """The key to save under and the cached corpus, if there is one.

    `tokenized=None` (detect) and an explicit choice are keyed apart, but a detected entry serves an
    explicit choice it agrees with: `eval` of a model says how its corpus was tokenized, `train` let it
    be detected, and both read one entry.
    """
    key = entry_key(name, sources, tokenized, lowercase)
    corpus = load(key)
    if corpus is None and tokenized is not None:
        detected = load(entry_key(name, sources, None, lowercase))
        if detected is not None and (detected.settings.words == "whitespace") == tokenized:
            corpus = detected
    return key, corpus


def load(key: str) -> Corpus | None:
    """The cached corpus, memory-mapped; None when there is none or it does not check out (a broken entry
    is removed; one that cannot be read just now, as while another process renames it into place, is not)."""
    root = cache_root()
    if root is None or not (root / key / MANIFEST).is_file():
        return None
    folder = root / key
    try:
        return _read(folder)
    except OSError:
        return None
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _read(folder: Path) -> Corpus:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError("another cache format")
    for name, expected in manifest["files"].items():
        path = folder / name
        if path.stat().st_size != expected["bytes"] or sha256_file(path) != expected["sha256"]:
            raise ValueError(f"{name} does not match the manifest")
    words = json.loads((folder / "words.json").read_text(encoding="utf-8"))
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError("words.json is not a list of words")
    splits = {s: _split(folder, s, words) for s in SPLITS}
    counts = np.load(folder / "train.counts.npy", mmap_mode="r", allow_pickle=False)
    if counts.shape != (len(words),):
        raise ValueError("train counts do not fit the word table")
    splits["train"].first_seen = True
    splits["train"].cached_counts = counts
    corpus = Corpus(manifest["name"], splits["train"], splits["valid"], splits["test"],
                    TokenizerSettings.from_dict(manifest["settings"]), manifest["source"], manifest["fingerprint"],
                    list(manifest["warnings"]))
    corpus.cache = folder
    return corpus


def _split(folder: Path, split: str, words: list[str]) -> TokenSplit:
    ids = np.load(folder / f"{split}.ids.npy", mmap_mode="r", allow_pickle=False)
    starts = np.load(folder / f"{split}.starts.npy", allow_pickle=False)
    if ids.dtype != np.int32 or ids.ndim != 1 or starts.dtype != np.int64 or starts.ndim != 1:
        raise ValueError(f"{split} arrays have the wrong type")
    if len(starts) < 1 or starts[0] != 0 or starts[-1] != len(ids) or (len(starts) > 1 and np.any(np.diff(starts) < 0)):
        raise ValueError(f"{split} sentence offsets are inconsistent")
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= len(words)):
        raise ValueError(f"{split} ids are outside the word table")
    return TokenSplit(words, ids, starts)


def save(corpus: Corpus, key: str, sources: list[Source], progress: Progress | None = None,
         tokenized: bool | None = None, lowercase: bool = False) -> str | None:
    """Write `corpus` as the entry `key`; returns a warning line when it could not be cached (the corpus is fine).

    Written into a temporary folder that is renamed into place once complete. When a source changed
    while it was read, nothing is cached and the run stops: what was read may be half old, half new.
    """
    root = cache_root()
    if root is None or not isinstance(corpus.train, TokenSplit):
        return None
    tmp = root / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        tmp.mkdir(parents=True)
        files = _write(tmp, corpus, progress)
        changed = [s.path for s in sources if s.changed()]
        if changed:
            raise CorpusError(f"{changed[0]} changed while it was being prepared; run again once it is complete")
        manifest = {"format": FORMAT, "name": corpus.name, "source": corpus.source, "fingerprint": corpus.fingerprint,
                    "settings": corpus.settings.to_dict(), "warnings": corpus.warnings,
                    "sources": [vars(s) for s in sources], "files": files,
                    "options": {"tokenized": tokenized, "lowercase": lowercase},
                    "splits": {s: {"sentences": len(corpus.split(s)), "tokens": corpus.split(s).num_tokens}
                               for s in SPLITS}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        _publish(tmp, root / key)
        sweep(root, key, manifest)
    except OSError as exc:
        return f"could not cache the prepared corpus in {root} ({exc.strerror or exc}); it will be prepared again next time"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    corpus.cache = root / key
    return None


def _write(folder: Path, corpus: Corpus, progress: Progress | None) -> dict[str, dict]:
    """Every array and the word table; their sizes and hashes for the manifest."""
    train = corpus.train
    arrays: dict[str, np.ndarray] = {"train.counts.npy": np.asarray(train.counts(), dtype=np.int64)}
    for split in SPLITS:
        part = corpus.split(split)
        arrays[f"{split}.ids.npy"] = np.ascontiguousarray(part.token_ids, dtype=np.int32)
        arrays[f"{split}.starts.npy"] = np.asarray(part.starts - part.starts[0], dtype=np.int64)
    total = sum(a.nbytes for a in arrays.values())
    done = 0
    files: dict[str, dict] = {}
    for name, array in arrays.items():
        np.save(folder / name, array, allow_pickle=False)
        done += array.nbytes
        if progress:
            progress("caching", done, total)
    (folder / "words.json").write_text(json.dumps(train.words, ensure_ascii=False), encoding="utf-8")
    for path in sorted(folder.iterdir()):
        files[path.name] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return files


STALE_S = 3600  # a temporary folder this old was left by a process killed while it wrote


def sweep(root: Path, kept: str, manifest: dict) -> None:
    """Remove what the new entry makes useless: older entries of the same files read the same way (their
    source has since changed), and temporary folders of writers that were killed."""
    import time

    same = ([(s["role"], s["path"]) for s in manifest["sources"]], manifest["options"])
    for folder in root.iterdir():
        if folder.name == kept or not folder.is_dir():
            continue
        try:
            if folder.name.startswith("."):
                if time.time() - folder.stat().st_mtime > STALE_S:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            other = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if ([(s["role"], s["path"]) for s in other["sources"]], other.get("options")) == same:
                shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours to judge


def _publish(tmp: Path, final: Path) -> None:
    """Rename the finished folder into place; an older entry of the same key is replaced."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
