"""Local text: a file, a folder of .txt files (recursively), or a train/valid/test layout.

Text is read as UTF-8 (with or without a byte-order mark, any line ends);
UTF-16 with a byte-order mark is read too, and anything else falls back to
Windows-1252/Latin-1 with a warning. Project Gutenberg's licence header and
footer are dropped. Text that is already tokenized (PTB, WikiText: one
sentence or paragraph a line, punctuation split off) is detected and split on
spaces only; raw text is split into sentences by Punkt trained on the text
itself, and into words by NLTK's Treebank-style tokenizer.
"""

from __future__ import annotations

import re
from pathlib import Path

from rnngen.corpus import store
from rnngen.corpus.arrays import SplitBuilder, TokenSplit, WordTable
from rnngen.corpus.base import Corpus, Sentences, combine, split_90_5_5
from rnngen.corpus.store import Progress
from rnngen import textfile
from rnngen.errors import CorpusError
from rnngen.fast_tokenize import iter_tokenized, train_punkt_fast
from rnngen.tokenize import TokenizerSettings

SPLIT_NAMES = {
    "train": ("train.txt", "wiki.train.tokens", "wiki.train.raw", "ptb.train.txt", "train"),
    "valid": ("valid.txt", "wiki.valid.tokens", "wiki.valid.raw", "ptb.valid.txt", "valid", "dev.txt",
              "validation.txt"),
    "test": ("test.txt", "wiki.test.tokens", "wiki.test.raw", "ptb.test.txt", "test"),
}
# "*** START OF THE PROJECT GUTENBERG EBOOK ... ***", also tokenized ("* * * START OF ...") and mid-line
_GUTENBERG_START = re.compile(r"\*[ \t]?\*[ \t]?\*[ \t]*START OF (THE|THIS) PROJECT GUTENBERG[^*\n]*(\*[ \t]?\*[ \t]?\*)?",
                              re.I)
_GUTENBERG_END = re.compile(r"\*[ \t]?\*[ \t]?\*[ \t]*END OF (THE|THIS) PROJECT GUTENBERG", re.I)
_GUTENBERG_OLD_END = re.compile(r"^End of (the )?Project Gutenberg'?s? .*$", re.M | re.I)
_PUNCT = re.compile(r"[.,;:!?]")
# " = Title = ", " = = Section = = " in WikiText
_WIKI_HEADING = re.compile(r"^ ?(= )+[^=\n]*?( =)+ ?$", re.M)
# "FIRST CITIZEN:", "All:" alone on a line in plays and dialogues
_SPEAKER = re.compile(r"^[ \t]*[A-Z][\w' .,-]{0,40}:[ \t]*$", re.M)
# Punkt learns abbreviations and sentence starters well from a sample; training on
# many megabytes only costs time
PUNKT_SAMPLE = 600_000
# a short line in capitals is a heading or a table-of-contents entry, never part of a sentence
_CAPS_LINE = re.compile(r"^[ \t]*(?=[^a-z\n]*[A-Z]{2})[^a-z\n]{2,80}$", re.M)
# Project Gutenberg's "[Illustration: ...]" placeholders (possibly over several lines)
_ILLUSTRATION = re.compile(r"\[Illustration[^\]]{0,500}\]", re.I)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


MAX_BYTES = 4 * 2**30  # WikiText-103's training text is 0.5 GB; 4 GiB of text needs well over 10 GB of memory

def read_text(path: Path, warnings: list[str] | None = None) -> tuple[str, bytes]:
    """Decoded text (LF line ends) and the raw bytes; refuses missing, empty, huge and binary files."""
    _readable(path)
    raw = textfile.read_bytes(path, CorpusError, stdin_ok=False)
    text = textfile.decode(raw, str(path), CorpusError, [] if warnings is None else warnings)
    if not text.strip():
        raise CorpusError(f"{path} is empty")
    return text.replace("\r\n", "\n").replace("\r", "\n"), raw


def read_corpus_text(path: Path, warnings: list[str]) -> tuple[str, bytes]:
    """`read_text` for a corpus file: its text and the digest of its bytes (`base.digest`), read a block at a
    time so that the bytes are never all held beside the text."""
    _readable(path)
    text, file_digest = textfile.read_and_digest(path, CorpusError, warnings)
    if not text.strip():
        raise CorpusError(f"{path} is empty")
    return text.replace("\r\n", "\n").replace("\r", "\n"), file_digest


def _readable(path: Path) -> None:
    """A regular file of a size that can be prepared, or the one-line error saying why not."""
    if not path.exists() and not path.is_symlink():
        raise CorpusError(f"no such file or folder: {path}")
    textfile.checked_file(path, CorpusError, stdin_ok=False)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise CorpusError(f"{path} is {size / 2**30:.1f} GiB; a corpus file may be at most "
                          f"{MAX_BYTES / 2**30:.0f} GiB (it is held in memory while it is prepared)")


def strip_gutenberg(text: str) -> str:
    """The book between Project Gutenberg's START and END markers, when they are there."""
    start = _GUTENBERG_START.search(text)
    end = _GUTENBERG_END.search(text) or _GUTENBERG_OLD_END.search(text)
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


def looks_line_per_sentence(text: str) -> bool:
    """Raw text with one sentence a line: almost no blank lines, and most lines end a sentence."""
    lines = text[:500_000].strip().split("\n")
    filled = [line for line in lines if line.strip()]
    if len(filled) < 20:
        return False
    blank = len(lines) - len(filled)
    ended = sum(1 for line in filled if _SENTENCE_END.search(line))
    return blank <= 0.02 * len(lines) and ended >= 0.6 * len(filled)


def settings_for(text: str, tokenized: bool | None, lowercase: bool) -> TokenizerSettings:
    if tokenized is None:
        tokenized = looks_pretokenized(text)
    if tokenized:
        return TokenizerSettings.pretokenized(lowercase)
    sentences = "lines" if looks_line_per_sentence(text) else "punkt"
    return TokenizerSettings(words="nltk", sentences=sentences, lowercase=lowercase)


def prepare_raw(text: str) -> str:
    """Raw prose made ready for Punkt: WikiText headings and Gutenberg illustration notes dropped;
    speaker lines ("First Citizen:") and lines in capitals (headings, contents) made paragraphs of their own."""
    if "= " in text:  # in every heading: skips a scan of the whole text
        text = _WIKI_HEADING.sub("", text)
    text = _ILLUSTRATION.sub("", text)
    text = _CAPS_LINE.sub(lambda m: f"\n\n{m.group(0).strip()}\n\n", text)
    if len(_SPEAKER.findall(text[:500_000])) >= 20:
        text = _SPEAKER.sub(lambda m: f"\n\n{m.group(0).strip()}\n\n", text)
    return text


def corpus_punkt(text: str):
    """Punkt trained on (a sample of) the text, keeping only abbreviations that look like abbreviations.

    On small or repetitive texts Punkt takes any word that always precedes a
    period for an abbreviation ("times." -> never a sentence end); real ones
    are dotted ("u.s"), seen before a lower-case word ("approx. five"), or
    short, (almost) always written with their period and rarely ending a line
    ("mr", "dr"; not "sat" in "The cat sat.\nA dog sat.").
    """
    sample = text[:PUNKT_SAMPLE]
    splitter = train_punkt_fast(sample)
    params = splitter._params
    params.abbrev_types = _plausible_abbreviations(params.abbrev_types, sample)
    return splitter


def _plausible_abbreviation(abbrev: str, text: str) -> bool:
    if "." in abbrev:
        return True
    word = re.escape(abbrev)
    if re.search(rf"(?i:\b{word})\. +[a-z]", text):
        return True
    total = len(re.findall(rf"(?i:\b{word}\b)", text))
    dotted = len(re.findall(rf"(?i:\b{word})\.", text))
    # "Mr." is followed by a name on the same line; a word that ends lines ("sat.") ends sentences
    line_ends = len(re.findall(rf"(?i:\b{word})\.[ \t]*(?:\n|$)", text))
    return len(abbrev) <= 3 and dotted >= 3 and dotted >= 0.9 * total and line_ends <= 0.5 * dotted


_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+")
_BOUNDARY = re.compile(r"\b")
_DOT_LOWER = re.compile(r"\. +[a-z]")
_DOT_LINE_END = re.compile(r"\.[ \t]*(?:\n|$)")


def _plausible_abbreviations(abbrevs: set[str], text: str) -> set[str]:
    """`{a for a in abbrevs if _plausible_abbreviation(a, text)}`, with one scan of the text for all
    ASCII words instead of four for each.

    The scan finds every place where one of them matches `(?i:\bword)`; what follows there decides
    the four counts. A word's matches cannot overlap (each is a run of word characters at a word
    boundary; the letters that match ASCII ones case-insensitively, İ ı ſ K, are word characters
    too), so `_plausible_abbreviation`'s patterns match exactly at these places.
    """
    words = sorted(a for a in abbrevs if "." not in a and _ASCII_WORD.fullmatch(a))
    kept = {a for a in abbrevs if a not in words and _plausible_abbreviation(a, text)}
    if not words:
        return kept
    counts = {w: [0, 0, 0] for w in words}  # total, dotted, line ends
    before_lower: set[str] = set()
    firsts = [(w, re.compile(f"(?i:{w[0]})"), re.compile(f"(?i:{w})")) for w in words]
    by_first: dict[str, list] = {}
    for start in re.finditer(rf"(?i:\b(?={'|'.join(words)}))", text):
        at = start.start()
        char = text[at]
        candidates = by_first.get(char)
        if candidates is None:
            candidates = by_first[char] = [(w, rx) for w, first, rx in firsts if first.fullmatch(char)]
        for word, rx in candidates:
            match = rx.match(text, at)
            if match is None:
                continue
            end, count = match.end(), counts[word]
            if text.startswith(".", end):
                if _DOT_LOWER.match(text, end):
                    before_lower.add(word)
                count[1] += 1
                if _DOT_LINE_END.match(text, end):
                    count[2] += 1
            if _BOUNDARY.match(text, end):
                count[0] += 1
    for word, (total, dotted, line_ends) in counts.items():
        if word in before_lower or (len(word) <= 3 and dotted >= 3 and dotted >= 0.9 * total
                                    and line_ends <= 0.5 * dotted):
            kept.add(word)
    return kept


def text_to_sentences(text: str, tokenized: bool | None, lowercase: bool, warnings: list[str] | None = None,
                      settings: TokenizerSettings | None = None, splitter=None) -> tuple[Sentences, TokenizerSettings]:
    """Tokenized sentences of a whole text and the settings used (detected unless given)."""
    builder = SplitBuilder(WordTable())
    settings, _ = text_to_split(text, tokenized, lowercase, builder, settings, splitter)
    return [list(sentence) for sentence in builder.build()], settings


def load_local(path: Path, tokenized: bool | None = None, lowercase: bool = False,
               progress: Progress | None = None) -> Corpus:
    """A corpus from a file, a split folder, or a folder of .txt files (recursively), prepared once and then
    read from the cache (`corpus.store`) while the files and options stay the same."""
    path = Path(path)
    warnings: list[str] = []
    if path.is_dir():
        splits = {s: _split_file(path, s) for s in SPLIT_NAMES}
        if splits["train"] is not None:
            return load_split_files(splits, path.name, tokenized, lowercase, str(path), progress)
        files = sorted(p for p in path.rglob("*.txt") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise CorpusError(f"{path} holds no .txt files")
        if any(splits.values()):
            warnings.append(f"{path.name} has no train split: read its {len(files)} .txt files as one text "
                            "and split it 90/5/5")
    else:
        files = [path]
    name = corpus_name(path)
    sources = [_source("text", f) for f in files]
    key, cached = store.find(name, sources, tokenized, lowercase)
    if cached is not None:
        return cached
    texts, digests = _read_all(files, warnings, progress)
    builder = SplitBuilder(WordTable())
    # handed over, not kept here: once the text is prepared for Punkt the original can be freed
    settings, _ = text_to_split(_joined(texts), tokenized, lowercase, builder, progress=progress)
    sentences = builder.build(first=True)
    if not sentences:
        raise CorpusError(f"{path} contains no words")
    train, valid, test = split_90_5_5(sentences, str(path))
    corpus = Corpus(name, train, valid, test, settings, str(path), combine(digests), warnings)
    return _cached(corpus, key, sources, progress, tokenized, lowercase)


def _source(role: str, path: Path) -> store.Source:
    """The file's key for the cache, once it is known to be a readable text file of a sane size."""
    _readable(path)
    return store.Source.of(role, path)


def _joined(texts: list[str]) -> str:
    """The texts as one, the list emptied: the caller holds no copy while the text is tokenized."""
    joined = "\n\n".join(texts)
    texts.clear()
    return joined


def _read_all(files: list[Path], warnings: list[str], progress: Progress | None) -> tuple[list[str], list[bytes]]:
    """The files' texts (Gutenberg frames dropped) and the digests of their bytes, reported as read."""
    total = sum(f.stat().st_size for f in files)
    texts, digests, done = [], [], 0
    for f in files:
        text, file_digest = read_corpus_text(f, warnings)
        digests.append(file_digest)
        done += f.stat().st_size
        texts.append(strip_gutenberg(text))
        del text  # (the frame stripped is a copy)
        if progress:
            progress("reading", done, total)
    return texts, digests


def _cached(corpus: Corpus, key: str, sources: list[store.Source], progress: Progress | None,
            tokenized: bool | None, lowercase: bool) -> Corpus:
    """Save a freshly prepared corpus in the cache; a failure to write is a warning, not an error."""
    warning = store.save(corpus, key, sources, progress, tokenized, lowercase)
    if warning:
        corpus.warnings.append(warning)
    return corpus


def text_to_split(text: str, tokenized: bool | None, lowercase: bool, builder: SplitBuilder,
                  settings: TokenizerSettings | None = None, splitter=None,
                  progress: Progress | None = None) -> tuple[TokenizerSettings, object]:
    """Tokenize a whole text into `builder` (as `text_to_sentences` would split it): the settings used and
    the Punkt splitter (learned from this text unless given; None for line-per-sentence text)."""
    settings = settings or settings_for(text, tokenized, lowercase)
    if settings.words == "whitespace" and settings.sentences == "lines":
        for batch in whitespace_batches(text, settings.lowercase, progress):
            builder.add(batch)
        return settings, splitter
    if settings.words == "nltk":
        text = prepare_raw(text)
    learned: list = []
    if settings.sentences == "punkt" and splitter is None:
        if progress:
            progress("learning sentence ends", 0, 0)

        def splitter():  # learned while the tokenizing workers start (`iter_tokenized` calls it)
            learned.append(corpus_punkt(text))
            return learned[0]
    report = (lambda done, total: progress("tokenizing", done, total)) if progress else None
    for batch in iter_tokenized(text, settings, splitter, progress=report):
        builder.add(batch)
    return settings, (learned[0] if learned else splitter)


BLOCK = 1 << 23  # characters of pre-tokenized text split at a time: memory stays a few times this


def whitespace_batches(text: str, lowercase: bool, progress: Progress | None = None):
    """Pre-tokenized text as batches of sentences: its non-blank lines split on spaces.

    The same as `split_sentences` + `tokenize_words` for whitespace settings, a block of lines at a time:
    cut just after a line feed, `splitlines` and `lower` give what they give on the whole text.
    """
    start, total = 0, len(text)
    while start < total:
        end = text.find("\n", min(start + BLOCK, total))
        end = total if end < 0 else end + 1
        block = text[start:end]
        if lowercase:
            block = block.lower()
        yield [words for words in (line.split() for line in block.splitlines()) if words]
        start = end
        if progress:
            progress("tokenizing", start, total)


GENERIC_STEMS = {"raw", "input", "text", "train", "valid", "test", "dev", "data", "corpus", "book", "all", "full"}


def corpus_name(path: Path) -> str:
    """A readable name: the folder's, or the file's ("grimm-raw" for grimm/raw.txt, where "raw" alone says little)."""
    path = Path(path)
    if path.is_dir():
        return path.resolve().name
    if path.stem.lower() in GENERIC_STEMS and path.resolve().parent.name:
        return f"{path.resolve().parent.name}-{path.stem}"
    return path.stem


def _split_file(folder: Path, split: str) -> Path | None:
    for name in SPLIT_NAMES[split]:
        if (folder / name).is_file():
            return folder / name
    return None


def load_split_files(files: dict[str, Path | None], name: str, tokenized: bool | None = None,
                     lowercase: bool = False, source: str = "", progress: Progress | None = None) -> Corpus:
    """A corpus from separate train/valid/test files, all tokenized alike (Punkt learned from train)."""
    warnings: list[str] = []
    if files.get("train") is None:
        raise CorpusError(f"{name} has no train split")
    present = {s: p for s, p in files.items() if s in SPLIT_NAMES and p is not None}
    sources = [_source(s, p) for s, p in present.items()]
    key, cached = store.find(name, sources, tokenized, lowercase)
    if cached is not None:
        return cached
    total = sum(p.stat().st_size for p in present.values())
    table, settings, splitter = WordTable(), None, None
    out: dict[str, TokenSplit | None] = {}
    digests, done = [], 0
    for split in SPLIT_NAMES:  # train first: its words are numbered in the order they first occur
        if split not in present:
            out[split] = None
            continue
        text, file_digest = read_corpus_text(present[split], warnings)
        digests.append(file_digest)
        done += present[split].stat().st_size
        if progress:
            progress("reading", done, total)
        text = strip_gutenberg(text)
        builder = SplitBuilder(table)  # train's settings and Punkt model serve valid and test
        settings, splitter = text_to_split(text, tokenized, lowercase, builder, settings, splitter, progress)
        out[split] = builder
    words = table.words
    built = {s: (b.build(words, first=s == "train") if b is not None else None) for s, b in out.items()}
    train = built["train"]
    if not train:
        raise CorpusError(f"{files['train']} contains no words")
    valid, test = built["valid"], built["test"]
    if not valid:
        held = max(1, len(train) // 20)
        train, valid = train[:-held], train[-held:]
        warnings.append("no validation split found: held out the last 5% of train")
    if not test:
        test = valid
        warnings.append("no test split found: using the validation split")
    corpus = Corpus(name, train, valid, test, settings, source or name, combine(digests), warnings)
    return _cached(corpus, key, sources, progress, tokenized, lowercase)
