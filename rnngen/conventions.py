"""How a pre-tokenized corpus writes text, learned from its words, and applied to what a user types.

A model of PTB or WikiText knows `the company 's shares rose N N` and `0 @.@ 7 kg`, not "The
company's shares rose 5%" nor "0.7 kg". Splitting typed text on spaces would make `shares.` and
`company's` unknown words. So the corpus's conventions are read off its vocabulary (case, numbers as
`N`, punctuation kept or dropped, WikiText's `@-@ @,@ @.@`, Moses escapes, the kind of quotes) and
typed text is rewritten to them: NLTK's Treebank tokenizer splits it, as PTB and Moses split
English, and a token the model does not know is then cut at punctuation only where every piece is a
word the model knows (so `King’s` becomes `King ’ s` where the corpus writes it so).

Text already written the corpus's way comes out unchanged: a token the model knows is never
touched, so n-best lists and tokenized files score as before.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Callable, Iterable

SPECIALS = ("<unk>", "<s>", "</s>", "<eos>", "<pad>")
QUOTES = ("plain", "treebank", "curly")
QUOTE_STYLE = {'"': "plain", "``": "treebank", "“": "curly"}
_ESCAPES = {"&amp;": "&", "&#124;": "|", "&lt;": "<", "&gt;": ">", "&apos;": "'", "&quot;": '"',
            "&#91;": "[", "&#93;": "]"}
_UNESCAPE = re.compile("|".join(map(re.escape, _ESCAPES)))
_ESCAPE_CHARS = {v: k for k, v in _ESCAPES.items()}
_NUMBER = re.compile(r"^[+-]?\d+([.,:/]\d+)*$")
_PUNCT = re.compile(r"^[^\w\s]+$")
_SPECIAL = re.compile(r"<[a-z]+>")  # <unk>, WikiText's <formula>
# a clitic the corpus may write apart: 's 're 've 'll 'd 'm (any apostrophe), or a possessive ' after s
_CLITIC = re.compile(r"^(.+?)(['’])(s|re|ve|ll|d|m|t)?$", re.I)
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
_MONEY = re.compile(r"^(\w*[^\w\s])(\d+(?:[.,]\d+)*|N)$")
_TREEBANK_SPLITS = {w: ((0, n), (n, len(w))) for w, n in (("cannot", 3), ("gonna", 3), ("gotta", 3),
                                                          ("wanna", 3), ("lemme", 3), ("gimme", 3))}
_NEGATION = re.compile(r"^(.+)(n['’]t)$", re.I)
_WIKI = ((re.compile(r"(?<=[\w>])-(?=[\w<])"), " @-@ "), (re.compile(r"(?<=\d),(?=\d|<unk>)"), " @,@ "),
         (re.compile(r"(?<=\d)\.(?=\d|<unk>)"), " @.@ "))
_SENTENCE_PUNCT = (",", ".", "?", "!", ";", ":")
MIN_WORDS = 50  # below this a vocabulary says too little to infer anything from what it lacks


@dataclass(frozen=True)
class Conventions:
    """What a corpus does to text; each field is a rule for new input (see `apply`)."""

    lowercase: bool = False     # no capitals in the corpus: input is lower-cased
    numbers: str = ""           # numbers written as this one token (PTB: "N"), or "" to keep them
    punctuation: bool = True    # False: the corpus has no punctuation, so input loses it
    wiki_markers: bool = False  # WikiText: hyphens and number separators as @-@ @,@ @.@
    escaped: str = ""           # characters written as Moses' entities (& as &amp;, [ as &#91;, ...)
    quotes: str = "plain"       # plain ", Treebank `` and '', or curly “ ”
    moses_apostrophes: bool = False  # Moses: every apostrophe between letters starts a token (don 't, d 'Italia)

    @classmethod
    def learn(cls, words: Iterable[str]) -> "Conventions":
        """The conventions a vocabulary shows (its words, most frequent first: the commoner quote wins)."""
        ranked = [w for w in words if w not in SPECIALS]
        vocab = set(ranked)
        if len(vocab) < MIN_WORDS:
            return cls()
        capitals = sum(1 for w in vocab if any(c.isupper() for c in w) and w != "N")
        digits = sum(1 for w in vocab if _NUMBER.match(w))
        quotes = next((QUOTE_STYLE[w] for w in ranked if w in QUOTE_STYLE), "plain")
        return cls(
            lowercase=capitals <= len(vocab) // 1000,
            numbers="N" if "N" in vocab and digits <= len(vocab) // 1000 else "",
            punctuation=any(p in vocab for p in _SENTENCE_PUNCT),
            wiki_markers=any(m in vocab for m in ("@-@", "@,@", "@.@")),
            escaped="".join(char for entity, char in _ESCAPES.items() if any(entity in w for w in vocab)),
            quotes=quotes,
            moses_apostrophes="'t" in vocab and "n't" not in vocab,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Conventions":
        """Conventions as saved; unknown keys (a newer rnngen's) are ignored, missing ones take defaults."""
        known = {f.name: type(f.default) for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and isinstance(v, known[k])}
        if values.get("quotes", "plain") not in QUOTES:
            values.pop("quotes")
        return cls(**values)

    def describe(self) -> str:
        """One line a user can read: what is done to typed text."""
        parts = ["lower-cased" if self.lowercase else "case kept",
                 f"numbers as {self.numbers}" if self.numbers else "numbers kept",
                 "punctuation kept" if self.punctuation else "punctuation dropped"]
        if self.wiki_markers:
            parts.append("@-@ @,@ @.@")
        if self.escaped:
            parts.append("Moses escapes for " + " ".join(self.escaped))
        if self.moses_apostrophes:
            parts.append("Moses apostrophes")
        parts.append(f"{self.quotes} quotes")
        return ", ".join(parts)


def apply(text: str, conventions: Conventions, known: Callable[[str], bool]) -> list[str]:
    """The tokens the corpus would have written for `text`; `known` says which words the model has."""
    text = _UNESCAPE.sub(lambda m: _ESCAPES[m.group()], text)
    if conventions.wiki_markers:
        for pattern, marker in _WIKI:
            text = pattern.sub(marker, text)
    text = _SPECIAL.sub(r" \g<0> ", text)  # <unk> stays one token wherever it is
    chunks = text.split()
    out: list[str] = []
    for i, chunk in enumerate(chunks):
        out.extend(_chunk_tokens(chunk, conventions, known, last=i == len(chunks) - 1))
    return out


def _chunk_tokens(chunk: str, conventions: Conventions, known: Callable[[str], bool], last: bool) -> list[str]:
    """One space-separated chunk of input as corpus tokens: edges split off, clitics split, the word kept."""
    if _is_known(chunk, conventions, known) or _SPECIAL.fullmatch(chunk):
        return [_written(chunk, conventions)]
    lead, word, trail = _edges(chunk, last, conventions, known)
    tokens = [*_punctuation(lead, conventions, known, opening=True), *_word(word, conventions, known),
              *_punctuation(trail, conventions, known, opening=False)]
    return [_written(t, conventions) for t in tokens
            if conventions.punctuation or not _PUNCT.match(t) or _is_known(t, conventions, known)]


def _is_known(token: str, conventions: Conventions, known: Callable[[str], bool]) -> bool:
    return token in SPECIALS or known(_written(token, conventions))


def _written(token: str, conventions: Conventions) -> str:
    """A token as the corpus writes it: lower-cased, numbers as `N`, characters escaped as Moses does."""
    if token in SPECIALS or token == conventions.numbers or _SPECIAL.fullmatch(token):
        return token
    if conventions.numbers and _NUMBER.match(token):
        return conventions.numbers
    if conventions.lowercase:
        token = token.lower()
    if conventions.escaped:
        return "".join(_ESCAPE_CHARS[c] if c in conventions.escaped else c for c in token)
    return token


def _edges(chunk: str, last: bool, conventions: Conventions,
           known: Callable[[str], bool]) -> tuple[str, str, str]:
    """(leading punctuation, the word, trailing punctuation) of a chunk.

    What the model knows stays whole (`'s,` is `'s` and `,`). A final period stays on a word the
    model knows with it (`Gen.`, `U.S.`) or on an unknown abbreviation with periods inside (`l.j.`),
    unless the chunk ends the text, where the period also ends the sentence.
    """
    start, end = 0, len(chunk)
    while end > start and _PUNCT.match(chunk[end - 1]):
        end -= 1
    if not _is_known(chunk[:end], conventions, known):
        while start < end and _PUNCT.match(chunk[start]):
            start += 1
    word, trail = chunk[start:end], chunk[end:]
    if trail.startswith(".") and word and not (last and len(trail) == 1):
        unknown = not _is_known(word, conventions, known)
        # without punctuation in the corpus, a period inside a sentence can only be an abbreviation's
        short = not conventions.punctuation and len(word) <= 4 and word.isalpha()
        if _is_known(word + ".", conventions, known) or (unknown and ("." in word or short)):
            word, trail = word + ".", trail[1:]
    return chunk[:start], word, trail


def _punctuation(run: str, conventions: Conventions, known: Callable[[str], bool], opening: bool) -> list[str]:
    """A run of punctuation as tokens: the longest known pieces (`--`, `...`, `''`), else one character each."""
    out, i = [], 0
    while i < len(run):
        for j in range(len(run), i, -1):
            piece = _quote(run[i:j], conventions.quotes, opening)
            if j == i + 1 or _is_known(piece, conventions, known):
                out.append(piece)
                i = j
                break
    return out


def _word(word: str, conventions: Conventions, known: Callable[[str], bool]) -> list[str]:
    """A word, with a clitic split off as the corpus writes it (`do n't`, `company 's`, `King ’ s`)."""
    if not word or _is_known(word, conventions, known):
        return [word] if word else []
    if conventions.quotes == "curly" and "'" in word:  # a book in curly quotes has curly apostrophes too
        return _word(word.replace("'", "’"), conventions, known)
    money = _MONEY.match(word)  # `US$5` as the corpus writes it: `us$ N`
    if money and _is_known(money.group(1), conventions, known) and (
            money.group(2) != "N" or conventions.numbers == "N"):
        return [money.group(1), money.group(2)]
    split = _TREEBANK_SPLITS.get(word.lower())  # `cannot` is `can not` in Treebank-tokenized text
    if split and known("n't") and all(_is_known(word[a:b], conventions, known) for a, b in split):
        return [word[a:b] for a, b in split]
    negation = _NEGATION.match(word)  # Treebank's `do n't`, before Moses' `don 't`
    if negation and _is_known(negation.group(2), conventions, known):
        return [negation.group(1), negation.group(2)]
    if conventions.moses_apostrophes:
        parts = _APOSTROPHE.split(word)
        if len(parts) > 1:
            return [parts[0], *("'" + p for p in parts[1:])]
    match = _CLITIC.match(word)
    if match:
        stem, mark, rest = match.group(1), match.group(2), match.group(3) or ""
        for pieces in ([stem, mark + rest], [stem, mark, rest]):  # 's as one token, or ’ and s
            if all(_is_known(p, conventions, known) for p in pieces[1:] if p):
                return [p for p in pieces if p]
    return [word]


def _quote(token: str, style: str, opening: bool) -> str:
    """A straight double quote as the corpus writes quotes (`` and '' by Treebank, or “ and ”)."""
    if token != '"' or style == "plain":
        return token
    if style == "treebank":
        return "``" if opening else "''"
    return "“" if opening else "”"
