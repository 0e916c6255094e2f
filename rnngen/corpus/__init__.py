"""Where text comes from: local files and folders, the built-in grammar, downloaded corpora, statistics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from rnngen.corpus.base import Corpus, Sentences, split_90_5_5
from rnngen.corpus.local import load_local
from rnngen.corpus.store import Progress
from rnngen.errors import CorpusError

__all__ = ["Corpus", "Sentences", "load_corpus", "corpora_root", "BUILTIN", "split_90_5_5"]


def _load_travel(lowercase: bool = False) -> Corpus:
    from rnngen.corpus.travel import load_travel

    return load_travel(lowercase=lowercase)


# name -> loader(lowercase=...) for corpora that need no file
BUILTIN: dict[str, Callable[..., Corpus]] = {"travel": _load_travel}


def corpora_root() -> Path:
    """`corpora/` in the working directory, or $RNNGEN_CORPORA."""
    return Path(os.environ.get("RNNGEN_CORPORA", "corpora"))


def load_corpus(spec: str | Path, tokenized: bool | None = None, lowercase: bool = False,
                root: Path | None = None, progress: Progress | None = None) -> Corpus:
    """A corpus from a path, a built-in name, or the name of a corpus downloaded into `root`
    (default `corpora_root()`). `progress(phase, done, total)` hears of reading, tokenizing and caching
    (a cached corpus reports nothing: it is there at once)."""
    path = Path(spec)
    if path.exists():
        return load_local(path, tokenized, lowercase, progress)
    name = str(spec)
    if name in BUILTIN:
        return BUILTIN[name](lowercase=lowercase)
    from rnngen.corpus.registry import folder_name, load_downloaded, lookup

    downloaded = (root or corpora_root()) / folder_name(name)
    if downloaded.exists():
        return load_downloaded(name, downloaded, tokenized, lowercase, progress)
    if lookup(name) is not None:
        raise CorpusError(f"corpus {name!r} is not downloaded yet: run `rnngen corpus get {name}`")
    if len(path.parts) > 1 or path.suffix:
        raise CorpusError(f"no such file or folder: {name}")
    raise CorpusError(f"no corpus {name!r}: give a file or folder, or a corpus name from `rnngen corpus list`")
