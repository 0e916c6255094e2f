"""Text to sentences to tokens, and generated tokens back to readable text.

Everything here works with no downloaded NLTK data: words are split with the
regex-based `NLTKWordTokenizer` (Treebank conventions) and sentences either come
one per line or are split by a Punkt model trained on the corpus itself.

`tokenize_words`, `split_sentences` and `train_punkt` call NLTK as it is; corpora go through the fast
path (`rnngen.fast_tokenize`), which gives the very same tokens and sentences without NLTK's per-call
regex timeout, in several processes for large texts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Literal

WordMode = Literal["nltk", "whitespace"]
SentenceMode = Literal["lines", "punkt"]

_BLANK_LINES = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"\s+")
# NLTK runs each regular expression under a timeout (nltk/redos.py): one 50 MB paragraph exceeds it.
# Longer text is cut at a space into pieces of at most this many characters before NLTK sees it; no
# token spans a space, so the words are the same, and Punkt only loses a sentence break at a cut.
PIECE = 20_000


_ENDS = re.compile(r"[.!?][\"')\]’”]*\s")


def pieces(text: str, limit: int = PIECE) -> list[str]:
    """`text` cut into pieces of at most `limit` characters: after a sentence end where one is in the
    last quarter of the piece, else at a space (a longer run without a space is cut anyway)."""
    if len(text) <= limit:
        return [text]
    out, start = [], 0
    while len(text) - start > limit:
        window = text[start + limit * 3 // 4:start + limit]
        ends = [m.end() for m in _ENDS.finditer(window)]
        cut = start + limit * 3 // 4 + ends[-1] if ends else text.rfind(" ", start + 1, start + limit + 1)
        if cut <= start:
            cut = start + limit
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return [p for p in out if p.strip()]


def _nltk(call, text: str):
    """Run an NLTK tokenizer; its regex timeout becomes one line saying what to do."""
    try:
        return call(text)
    except TimeoutError:
        from rnngen.errors import InputError

        raise InputError(f"NLTK's tokenizer timed out on a passage of {len(text):,} characters starting "
                         f"{text[:40]!r}; split it into sentences, or give the corpus pre-tokenized "
                         "({tokenized})", options=("tokenized",)) from None


@dataclass(frozen=True)
class TokenizerSettings:
    """How a corpus was tokenized; stored with a model so input is treated alike."""

    words: WordMode = "nltk"
    sentences: SentenceMode = "punkt"
    lowercase: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TokenizerSettings":
        return cls(**{k: data[k] for k in ("words", "sentences", "lowercase") if k in data})

    @classmethod
    def pretokenized(cls, lowercase: bool = False) -> "TokenizerSettings":
        """PTB/WikiText style: one sentence per line, tokens split on spaces."""
        return cls(words="whitespace", sentences="lines", lowercase=lowercase)


@lru_cache(maxsize=1)
def _word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


@lru_cache(maxsize=1)
def _detokenizer():
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    return TreebankWordDetokenizer()


def tokenize_words(sentence: str, settings: TokenizerSettings, tokenizer=None) -> list[str]:
    """Split one sentence into tokens the way the model's corpus was split (`tokenizer`: what makes the
    Treebank tokenizer, by default NLTK's; the fast path's gives the same tokens, `rnngen.fast_tokenize`)."""
    if settings.lowercase:
        sentence = sentence.lower()
    if settings.words == "whitespace":
        return sentence.split()
    split = (tokenizer or _word_tokenizer)().tokenize
    text = _SPACES.sub(" ", sentence).strip()
    if len(text) <= PIECE:  # one piece: no list to build
        return _nltk(split, text)
    return [t for piece in pieces(text) for t in _nltk(split, piece)]


def paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines, with their inner line breaks flattened."""
    blocks = (_SPACES.sub(" ", b).strip() for b in _BLANK_LINES.split(text))
    return [b for b in blocks if b]


def train_punkt(text: str):
    """A Punkt sentence splitter learned from this very text (no download)."""
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

    trainer = PunktTrainer()
    trainer.INCLUDE_ALL_COLLOCS = False
    for piece in pieces(text, 50 * PIECE):  # the trainer's statistics add up; only its regexes need short text
        _nltk(lambda t: trainer.train(t, finalize=False), piece)
    trainer.finalize_training()
    return PunktSentenceTokenizer(trainer.get_params())


def split_sentences(text: str, settings: TokenizerSettings, splitter=None) -> list[str]:
    """Sentences of a whole text: its non-blank lines, or Punkt's sentences per paragraph."""
    if settings.sentences == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    splitter = splitter or train_punkt(text)
    out: list[str] = []
    for block in paragraphs(text):
        for piece in pieces(block):
            out.extend(s for s in _nltk(splitter.tokenize, piece) if s.strip())
    return out


def tokenize_text(text: str, settings: TokenizerSettings) -> list[list[str]]:
    """A whole text as a list of tokenized sentences (empty ones dropped)."""
    sentences = (tokenize_words(s, settings) for s in split_sentences(text, settings))
    return [s for s in sentences if s]


def detokenize(tokens: list[str], settings: TokenizerSettings | None = None) -> str:
    """Readable text from tokens: Treebank rules undo the NLTK split."""
    if settings is not None and settings.words == "whitespace":
        return " ".join(tokens)
    text = _detokenizer().detokenize(tokens)
    return text.replace(" ’ ", "’").replace("“ ", "“").replace(" ”", "”")


class StreamingDetokenizer:
    """Readable text from words arriving one at a time, emitted as soon as it is stable.

    Treebank detokenizing can change the spacing before a word once the next
    word is known ("do" + "n't"), so text is released up to the previous word.
    """

    def __init__(self, settings: TokenizerSettings | None = None) -> None:
        self.settings = settings
        self.words: list[str] = []
        self.printed = ""

    def feed(self, word: str) -> str:
        self.words.append(word)
        return self._release(detokenize(self.words[:-1], self.settings))

    def finish(self) -> str:
        return self._release(detokenize(self.words, self.settings))

    def _release(self, text: str) -> str:
        if len(text) <= len(self.printed) or not text.startswith(self.printed):
            return ""
        new, self.printed = text[len(self.printed):], text
        return new
