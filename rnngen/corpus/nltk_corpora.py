"""NLTK corpora fetched by NLTK's downloader into a corpus folder (an NLTK data directory).

The files are read directly rather than through `nltk.corpus`'s lazy loaders,
which bind once to a global data path: tagged corpora (Brown) give their
sentences as tagged, with the tags dropped; plain-text corpora are tokenized
like any other local text.
"""

from __future__ import annotations

import re
from pathlib import Path

from rnngen.corpus.base import Corpus, fingerprint, split_90_5_5
from rnngen.corpus.download import extract
from rnngen.corpus.local import read_text, text_to_sentences
from rnngen.errors import CorpusError
from rnngen.tokenize import TokenizerSettings

# corpora whose files are one sentence a line of word/TAG tokens
TAGGED = {"brown": re.compile(r"^c[a-z]\d\d$")}
SKIP = {"readme", "cats.txt", "stopwords", "contents", "license.txt"}


def corpus_dir(ident: str, folder: Path) -> Path:
    """The unpacked corpus inside an NLTK data directory (unzipping it if NLTK left only the zip)."""
    unpacked = folder / "corpora" / ident
    if unpacked.is_dir():
        return unpacked
    archive = folder / "corpora" / f"{ident}.zip"
    if archive.is_file():
        extract(archive, folder / "corpora")
        if unpacked.is_dir():
            return unpacked
    raise CorpusError(f"{folder} holds no NLTK corpus {ident!r}; run `rnngen corpus get nltk:{ident}` again")


def load_nltk(ident: str, folder: Path, lowercase: bool = False) -> Corpus:
    root = corpus_dir(ident, folder)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower() not in SKIP
                   and not p.name.startswith("."))
    warnings: list[str] = []
    raws: list[bytes] = []
    if ident in TAGGED:
        files = [p for p in files if TAGGED[ident].match(p.name)]
        sentences = []
        for path in files:
            text, raw = read_text(path, warnings)
            raws.append(raw)
            for line in text.splitlines():
                words = [tok.rsplit("/", 1)[0] for tok in line.split()]
                if words:
                    sentences.append([w.lower() for w in words] if lowercase else words)
        settings = TokenizerSettings(words="nltk", sentences="punkt", lowercase=lowercase)
    else:
        texts = []
        for path in files:
            text, raw = read_text(path, warnings)
            texts.append(text)
            raws.append(raw)
        sentences, settings = text_to_sentences("\n\n".join(texts), None, lowercase, warnings)
    if not files:
        raise CorpusError(f"{root} holds no text files")
    if not sentences:
        raise CorpusError(f"NLTK corpus {ident!r} contains no words")
    train, valid, test = split_90_5_5(sentences, f"nltk:{ident}")
    return Corpus(f"nltk:{ident}", train, valid, test, settings, str(root), fingerprint(raws), warnings)
