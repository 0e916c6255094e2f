"""Where text comes from: local files and folders, built-in and downloaded corpora."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from rnngen.corpus.base import Corpus, Sentences, split_90_5_5
from rnngen.corpus.local import load_local
from rnngen.errors import CorpusError

__all__ = ["Corpus", "Sentences", "load_corpus", "corpora_root", "BUILTIN", "split_90_5_5"]

# name -> loader(lowercase) for corpora that need no file (filled by rnngen.corpus.builtin)
BUILTIN: dict[str, Callable[..., Corpus]] = {}


def corpora_root() -> Path:
    """`corpora/` in the working directory, or $RNNGEN_CORPORA."""
    return Path(os.environ.get("RNNGEN_CORPORA", "corpora"))


def load_corpus(spec: str | Path, tokenized: bool | None = None, lowercase: bool = False) -> Corpus:
    """A corpus from a path, a built-in name, or the name of a downloaded corpus."""
    path = Path(spec)
    if path.exists():
        return load_local(path, tokenized, lowercase)
    name = str(spec)
    if name in BUILTIN:
        return BUILTIN[name](lowercase=lowercase)
    downloaded = corpora_root() / name
    if downloaded.exists():
        corpus = load_local(downloaded, tokenized, lowercase)
        corpus.name = name
        return corpus
    if len(path.parts) > 1 or path.suffix:
        raise CorpusError(f"no such file or folder: {name}")
    raise CorpusError(f"no corpus {name!r}: give a file or folder, or a corpus name from `rnngen corpus list`")
