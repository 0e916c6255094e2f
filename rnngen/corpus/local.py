"""Local text: a file, a folder of .txt files, or a train/valid/test layout."""

from __future__ import annotations

import re
from pathlib import Path

from rnngen.corpus.base import Corpus, fingerprint, split_90_5_5
from rnngen.errors import CorpusError
from rnngen.tokenize import TokenizerSettings, tokenize_text

SPLIT_NAMES = {
    "train": ("train.txt", "wiki.train.tokens", "ptb.train.txt", "train"),
    "valid": ("valid.txt", "wiki.valid.tokens", "ptb.valid.txt", "valid", "dev.txt", "validation.txt"),
    "test": ("test.txt", "wiki.test.tokens", "ptb.test.txt", "test"),
}
_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_PUNCT = re.compile(r"[.,;:!?]")


def read_text(path: Path, warnings: list[str] | None = None) -> tuple[str, bytes]:
    """Decoded text and raw bytes; UTF-8 (BOM or not, CRLF or LF), else cp1252/latin-1 with a warning."""
    if not path.exists():
        raise CorpusError(f"no such file or folder: {path}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    if not raw.strip():
        raise CorpusError(f"{path} is empty")
    if b"\x00" in raw[:65536]:
        raise CorpusError(f"{path} looks like a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _fallback_decode(raw)
        if warnings is not None:
            warnings.append(f"{path.name} is not UTF-8; read it as Windows-1252/Latin-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, raw


def _fallback_decode(raw: bytes) -> str:
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def strip_gutenberg(text: str) -> str:
    """The book between Project Gutenberg's START and END markers, when they are there."""
    start = _GUTENBERG_START.search(text)
    end = _GUTENBERG_END.search(text)
    if start:
        text = text[start.end() : end.start() if end and end.start() > start.end() else None]
    elif end:
        text = text[: end.start()]
    return text


def looks_pretokenized(text: str) -> bool:
    """PTB/WikiText-style text: `<unk>` tokens, or punctuation standing alone between spaces."""
    sample = text[:200_000]
    if "<unk>" in sample or "<UNK>" in sample:
        return True
    marks = _PUNCT.findall(sample)
    if len(marks) < 20:
        return False
    alone = len(re.findall(r"(?:^|\s)[.,;:!?](?=\s|$)", sample, re.M))
    return alone / len(marks) > 0.9


def settings_for(text: str, tokenized: bool | None, lowercase: bool) -> TokenizerSettings:
    if tokenized is None:
        tokenized = looks_pretokenized(text)
    if tokenized:
        return TokenizerSettings.pretokenized(lowercase)
    return TokenizerSettings(words="nltk", sentences="punkt", lowercase=lowercase)


def _split_file(folder: Path, split: str) -> Path | None:
    for name in SPLIT_NAMES[split]:
        if (folder / name).is_file():
            return folder / name
    return None


def load_local(path: Path, tokenized: bool | None = None, lowercase: bool = False) -> Corpus:
    """A corpus from a file, a split folder, or a folder of .txt files (recursively)."""
    warnings: list[str] = []
    if path.is_dir():
        splits = {s: _split_file(path, s) for s in SPLIT_NAMES}
        if splits["train"] is not None:
            return _load_splits(path, splits, tokenized, lowercase, warnings)
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise CorpusError(f"{path} holds no .txt files")
    else:
        files = [path]
    texts, raws = [], []
    for f in files:
        text, raw = read_text(f, warnings)
        texts.append(strip_gutenberg(text))
        raws.append(raw)
    text = "\n\n".join(texts)
    settings = settings_for(text, tokenized, lowercase)
    sentences = tokenize_text(text, settings)
    if not sentences:
        raise CorpusError(f"{path} contains no words")
    train, valid, test = split_90_5_5(sentences, str(path))
    return Corpus(path.stem if path.is_file() else path.name, train, valid, test, settings,
                  str(path), fingerprint(raws), warnings)


def _load_splits(folder: Path, splits: dict, tokenized: bool | None, lowercase: bool, warnings: list[str]) -> Corpus:
    texts = {s: read_text(p, warnings) if p is not None else None for s, p in splits.items()}
    train_text = texts["train"][0]
    settings = settings_for(train_text, tokenized, lowercase)
    tokenized_splits = {s: tokenize_text(t[0], settings) if t else [] for s, t in texts.items()}
    train = tokenized_splits["train"]
    if not train:
        raise CorpusError(f"{splits['train']} contains no words")
    if not tokenized_splits["valid"]:
        train, tokenized_splits["valid"] = train[: -max(1, len(train) // 20)], train[-max(1, len(train) // 20):]
        warnings.append("no validation split found: held out the last 5% of train")
    if not tokenized_splits["test"]:
        tokenized_splits["test"] = tokenized_splits["valid"]
        warnings.append("no test split found: using the validation split")
    raws = [t[1] for t in texts.values() if t]
    return Corpus(folder.name, train, tokenized_splits["valid"], tokenized_splits["test"], settings,
                  str(folder), fingerprint(raws), warnings)
