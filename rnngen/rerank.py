"""N-best reranking: candidate translations rescored with the language model.

A translation system proposes several candidates per source sentence; the
language model adds a fluency feature to each and the list is re-sorted.
Three input formats are read, and written back with the feature added:

- moses: `id ||| hypothesis ||| feature scores ||| total score [||| more]`, the
  Moses n-best format. Features may be labelled `LM0= -12.3 TM0= -1 -2` or, in
  older files, `lm: -12.3 tm: -1 -2`; `LM_rnn= X` (or `LM_rnn: X`) is appended
  and the total replaced; any fields after the total (word alignments) are kept.
- tsv: `id<TAB>candidate[<TAB>score[<TAB>more]]`; a first line whose first
  column is `id` is a header. Five columns are appended.
- lines: one candidate per line, groups separated by blank lines; the group
  number (from 0) is the id. Written back as `candidate<TAB>score`.

All candidates of a list are scored together, one `score_tokens` call per
`chunk` candidates, which sorts them by length into padded batches: this is
what makes reranking fast on long lists. Candidates of one source sentence
share prefixes and often repeat whole (a Moses list without `distinct`): each
distinct (prefix, next word) pair is computed once (`score.shared_prefixes`).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from rnngen import textfile
from rnngen.errors import ConfigError, InputError
from rnngen.options import Normalization, RerankSettings  # noqa: F401  (RerankSettings: re-exported)
from rnngen.score import SentenceScore, normalized, normalized_logprob
from rnngen.vocab import UNK

FORMATS = ("moses", "tsv", "lines")
OUTPUTS = ("nbest", "best", "json")
FEATURE = "LM_rnn"
TSV_COLUMNS = ("lm_logprob", "lm_tokens", "lm_oov", "lm_feature", "total")
CHUNK = 20_000

_LABEL = re.compile(r"(?:^|\s)(\S+?)([=:])(?=\s|$)")
_HAS_FEATURE = re.compile(rf"(?:^|\s){FEATURE}[=:](?=\s|$)")
_SEGMENT = re.compile(r"^\|\d+-\d+\|$")
# Moses' tokenizer escapes these; the language model was trained on the plain characters.
_MOSES_ESCAPES = {"&amp;": "&", "&#124;": "|", "&lt;": "<", "&gt;": ">", "&apos;": "'", "&quot;": '"',
                  "&#91;": "[", "&#93;": "]"}
_ESCAPE = re.compile("|".join(map(re.escape, _MOSES_ESCAPES)))


# -- settings -----------------------------------------------------------------
def lm_feature(score: SentenceScore, normalization: Normalization = Normalization(), oov_penalty: float = 0.0,
               unk_types: int = 1) -> float:
    """The LM feature of one scored sentence; the TUI's candidate table uses this same function."""
    if unk_types == 1:
        value = normalized(score, normalization.method, normalization.alpha)
    else:  # <unk>'s probability spread over the unknown types: each unknown word is one of them
        value = normalized_logprob(score.logprob - score.oov_count * math.log(unk_types), score.num_tokens,
                                   normalization.method, normalization.alpha)
    return value + oov_penalty * score.oov_count


# -- reading ------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One candidate of an n-best list, with the raw fields needed to write its line back."""

    id: int
    text: str               # as written in the list, surrounding spaces removed
    line: int               # 1-based line number in the input
    score: float | None     # the score it came with (Moses total, TSV third column)
    fields: tuple[str, ...]  # the line split on its separator, untouched


@dataclass
class NBestList:
    format: str
    candidates: list[Candidate]
    header: tuple[str, ...] | None = None  # TSV header columns

    @property
    def has_scores(self) -> bool:
        return bool(self.candidates) and self.candidates[0].score is not None


def read_lines(path: str | Path) -> list[str]:
    """The text lines of an n-best file, read as every rnngen input is (`rnngen.textfile`)."""
    return textfile.read_lines(path, folder_hint="give an n-best list file")


def detect_format(line: str) -> str:
    """The format a list's first non-blank line is written in."""
    if "|||" in line:
        return "moses"
    return "tsv" if "\t" in line else "lines"


def parse(lines: Iterable[str], format: str | None = None, name: str = "input") -> NBestList:
    """An n-best list from its text lines; `format=None` detects it from the first non-blank line."""
    lines = iter(lines)
    head: list[str] = []
    if format is None:
        for line in lines:
            head.append(line)
            if line.strip():
                break
        format = detect_format(head[-1] if head else "")
    if format not in FORMATS:
        raise ConfigError(f"unknown n-best format {format!r}: choose one of {', '.join(FORMATS)}")
    stream = itertools.chain(head, lines)
    nbest = {"moses": _parse_moses, "tsv": _parse_tsv, "lines": _parse_lines}[format](stream, name)
    if not nbest.candidates:
        raise InputError(f"{name} has no candidates")
    return nbest


def _parse_moses(lines: Iterable[str], name: str) -> NBestList:
    candidates: list[Candidate] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = tuple(line.split("|||"))
        if len(fields) < 4:
            raise InputError(f"{name}, line {number}: expected 'id ||| hypothesis ||| features ||| total score', "
                             f"found {len(fields)} field(s)")
        if _HAS_FEATURE.search(fields[2]):
            raise InputError(f"{name}, line {number}: already has an {FEATURE} feature (reranked before?); "
                             "rerank the original list")
        candidates.append(Candidate(_id(fields[0], name, number), fields[1].strip(), number,
                                    _number(fields[3], name, number, "total score"), fields))
    return NBestList("moses", candidates)


def _parse_tsv(lines: Iterable[str], name: str) -> NBestList:
    candidates: list[Candidate] = []
    header: tuple[str, ...] | None = None
    width, width_line = 0, 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cols = tuple(line.split("\t"))
        if not width and cols[0].strip().lower() == "id":
            header, width, width_line = cols, len(cols), number
            continue
        if len(cols) < 2:
            raise InputError(f"{name}, line {number}: expected id<TAB>candidate[<TAB>score], found no tab")
        if not width:
            width, width_line = len(cols), number
        elif len(cols) != width:
            raise InputError(f"{name}, line {number}: {len(cols)} columns, but line {width_line} has {width}")
        score = _number(cols[2], name, number, "score") if width > 2 else None
        candidates.append(Candidate(_id(cols[0], name, number), cols[1].strip(), number, score, cols))
    if header is not None and width < 2:
        raise InputError(f"{name}, line {width_line}: the header needs at least the columns id and candidate")
    return NBestList("tsv", candidates, header=header)


def _parse_lines(lines: Iterable[str], name: str) -> NBestList:
    candidates: list[Candidate] = []
    group, open_group = 0, False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            group += open_group
            open_group = False
            continue
        candidates.append(Candidate(group, line.strip(), number, None, (line,)))
        open_group = True
    return NBestList("lines", candidates)


def _id(text: str, name: str, number: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InputError(f"{name}, line {number}: the id {text.strip()!r} is not a whole number") from None


def _number(text: str, name: str, number: int, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = float("nan")
    if math.isnan(value):
        raise InputError(f"{name}, line {number}: the {what} {text.strip()!r} is not a number")
    return value


def scoring_text(candidate: Candidate, format: str) -> str:
    """The text the language model reads: Moses escapes undone, segmentation marks and extra factors dropped."""
    if format != "moses":
        return candidate.text
    words = []
    for word in candidate.text.split():
        if _SEGMENT.match(word):
            continue
        words.append(_ESCAPE.sub(lambda m: _MOSES_ESCAPES[m.group(0)], word.split("|", 1)[0]))
    return " ".join(w for w in words if w)


# -- scoring and ranking ------------------------------------------------------
@dataclass(frozen=True)
class LMScore:
    """What the language model says about one candidate."""

    logprob: float   # natural log of P(w1..wn </s> | <s>)
    tokens: int      # predicted tokens: words + </s>
    oov: int         # words outside the vocabulary
    feature: float   # normalised log-probability + OOV penalty * oov
    # the tokens as the model saw them (unknown words as <unk>), hashed: two candidates that differ only in
    # unknown words see the same, and their comparison says nothing about the model
    seen: int = field(default=0, compare=False)

    @property
    def empty(self) -> bool:
        return self.tokens <= 1

    @property
    def unknown_only(self) -> bool:
        return self.tokens > 1 and self.oov == self.tokens - 1


def score_candidates(lm, texts: Sequence[str], settings: RerankSettings = RerankSettings(), chunk: int = CHUNK,
                     progress: Callable[[int, int], None] | None = None, tokenized: bool = False) -> list[LMScore]:
    """LM scores for many candidate texts, one batched `score_tokens` call per `chunk` of them."""
    return lm_scores(score_texts(lm, texts, chunk, progress, tokenized), settings)


def score_texts(lm, texts: Sequence[str], chunk: int = CHUNK,
                progress: Callable[[int, int], None] | None = None, tokenized: bool = False) -> list[SentenceScore]:
    """The sentence scores behind `score_candidates`, batched the same way.

    A front end that keeps these can rank again under other settings (`lm_scores`, then `combine`)
    without scoring again, and gets the very numbers `rerank` gets. `tokenized` splits each text on
    spaces only (`--tokenized`), without the model's tokenizer or its corpus's conventions.
    """
    results: list[SentenceScore] = []
    for start in range(0, len(texts), max(1, chunk)):
        results.extend(lm.score_tokens([lm.tokenize(t, tokenized) for t in texts[start:start + chunk]]))
        if progress is not None:
            progress(len(results), len(texts))
    return results


def lm_scores(scores: Sequence[SentenceScore], settings: RerankSettings = RerankSettings()) -> list[LMScore]:
    """Each scored candidate's LM feature under `settings`."""
    return [LMScore(s.logprob, s.num_tokens, s.oov_count, lm_feature(s, settings.normalization, settings.oov_penalty,
                                                                  settings.unk_types), _seen(s))
            for s in scores]


def _seen(score: SentenceScore) -> int:
    return hash(tuple(UNK if t.oov else t.token for t in score.tokens))


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    lm: LMScore
    total: float  # the score the list is sorted by
    rank: int     # 1 = best within its id
    # further LM features written beside LM_rnn (`with_feature`: an n-gram's LM_ngram for MERT), not in `total`
    extra: tuple[tuple[str, float], ...] = ()


@dataclass
class Reranking:
    """A reranked list: per id (ascending), its candidates best first."""

    nbest: NBestList
    settings: RerankSettings
    groups: list[tuple[int, list[Ranked]]]

    def ranked(self) -> Iterator[Ranked]:
        for _, group in self.groups:
            yield from group

    @property
    def empty_lines(self) -> list[int]:
        return sorted(r.candidate.line for r in self.ranked() if r.lm.empty)

    @property
    def unknown_lines(self) -> list[int]:
        return sorted(r.candidate.line for r in self.ranked() if r.lm.unknown_only)

    @property
    def unknown_choices(self) -> list[int]:
        """Ids whose best candidate beat the runner-up only in words the model does not know: both read the
        same to it, so the order between them is the unknown-word rule's, not the model's."""
        return [i for i, group in self.groups if len(group) > 1 and group[0].lm.seen == group[1].lm.seen
                and group[0].lm.oov and group[0].candidate.text != group[1].candidate.text]

    @property
    def missing_ids(self) -> "IdGaps":
        """Ids between the smallest and largest that have no candidates (they get no `best` line), as ranges."""
        return IdGaps([i for i, _ in self.groups])


class IdGaps(Sequence[int]):
    """The ids missing between sorted ids, held as ranges: ids 0 and 10**8 must not make 10**8 ints.

    It reads like a list of the missing ids (len, indexing, slicing, iteration,
    equality with a list) but only a slice or a full iteration makes them.
    """

    def __init__(self, ids: Sequence[int]) -> None:
        self.ranges = [range(a + 1, b) for a, b in zip(ids, ids[1:]) if b > a + 1]
        self._ends = list(itertools.accumulate(len(r) for r in self.ranges))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("IdGaps index out of range")
        k = bisect.bisect_right(self._ends, index)
        return self.ranges[k][index - (self._ends[k - 1] if k else 0)]

    def __iter__(self) -> Iterator[int]:
        return itertools.chain.from_iterable(self.ranges)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IdGaps):
            return self.ranges == other.ranges
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"IdGaps({self.describe()})"

    def describe(self, limit: int = 10) -> str:
        """The first `limit` gaps, each one id or a first-last range: "1, 4-6, 8-99999999"."""
        parts = [str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in self.ranges[:limit]]
        return ", ".join(parts) + (", ..." if len(self.ranges) > limit else "")


def combine(nbest: NBestList, scores: Sequence[LMScore], settings: RerankSettings) -> Reranking:
    """Interpolate and sort: total = existing + weight * feature (or the feature alone); stable on ties."""
    settings.validate()
    by_id: dict[int, list[tuple[Candidate, LMScore, float]]] = {}
    for c, s in zip(nbest.candidates, scores, strict=True):
        total = s.feature if c.score is None else c.score + settings.weight * s.feature
        by_id.setdefault(c.id, []).append((c, s, total))
    groups = []
    for i in sorted(by_id):
        ordered = sorted(by_id[i], key=lambda item: -item[2])  # sorted() is stable: ties keep input order
        groups.append((i, [Ranked(c, s, t, rank) for rank, (c, s, t) in enumerate(ordered, 1)]))
    return Reranking(nbest, settings, groups)


def rerank(lm, nbest: NBestList, settings: RerankSettings = RerankSettings(), chunk: int = CHUNK,
           progress: Callable[[int, int], None] | None = None, tokenized: bool = False) -> Reranking:
    """Score every candidate of the list in batches, then interpolate and sort."""
    settings.validate()
    texts = [scoring_text(c, nbest.format) for c in nbest.candidates]
    return combine(nbest, score_candidates(lm, texts, settings, chunk, progress, tokenized), settings)


def with_feature(result: Reranking, name: str, lm, chunk: int = CHUNK, tokenized: bool = False) -> Reranking:
    """Every candidate of a reranked list with a further feature `name` from another scorer (an n-gram beside
    the RNN, for MERT to weigh), computed as LM_rnn is (the same normalisation and unknown-word rules); the
    order and the totals stay as they are."""
    ranked = list(result.ranked())
    texts = [scoring_text(r.candidate, result.nbest.format) for r in ranked]
    values = {r.candidate.line: s.feature for r, s in zip(ranked, score_candidates(lm, texts, result.settings, chunk,
                                                                                   tokenized=tokenized))}
    groups = [(i, [replace(r, extra=(*r.extra, (name, values[r.candidate.line]))) for r in group])
              for i, group in result.groups]
    return Reranking(result.nbest, result.settings, groups)


def _extra_column(name: str) -> str:
    return f"{name.lower()}_feature"


# -- writing ------------------------------------------------------------------
def fmt(value: float) -> str:
    """Numbers in written-back lists: six decimals (no negative zero)."""
    text = f"{value:.6f}"
    return "0.000000" if text == "-0.000000" else text


def write(result: Reranking, output: str = "nbest") -> Iterator[str]:
    """Output lines (without line ends) for `nbest`, `best` or `json`."""
    if output == "best":
        return write_best(result)
    if output == "json":
        return write_json(result)
    if output == "nbest":
        return write_nbest(result)
    raise ConfigError(f"unknown output {output!r}: choose one of {', '.join(OUTPUTS)}")


def write_best(result: Reranking) -> Iterator[str]:
    """The best candidate's text per id, in id order: a hypothesis file for BLEU scoring."""
    for _, group in result.groups:
        yield group[0].candidate.text


def write_nbest(result: Reranking) -> Iterator[str]:
    """The list in its own format, each id's candidates best first, with the LM feature added."""
    nbest = result.nbest
    if nbest.format == "tsv" and nbest.header is not None:
        first = next(result.ranked(), None)
        extra = [_extra_column(name) for name, _ in first.extra] if first is not None else []
        yield "\t".join((*nbest.header, *TSV_COLUMNS, *extra))
    for n, (_, group) in enumerate(result.groups):
        if nbest.format == "lines" and n:
            yield ""
        for r in group:
            yield _line(r, nbest)


def _line(r: Ranked, nbest: NBestList) -> str:
    fields = r.candidate.fields
    if nbest.format == "moses":
        return _moses_line(fields, r)
    if nbest.format == "tsv":
        extra = (fmt(r.lm.logprob), str(r.lm.tokens), str(r.lm.oov), fmt(r.lm.feature), fmt(r.total),
                 *(fmt(value) for _, value in r.extra))
        return "\t".join((*fields, *extra))
    return f"{r.candidate.text}\t{fmt(r.total)}"


def _moses_line(fields: tuple[str, ...], r: Ranked) -> str:
    """The original line with `LM_rnn= X` appended to the features and the new total; spacing kept.

    Old-style features labelled `name:` get `LM_rnn: X`, so each line stays in one style.
    """
    labels = {sep for _, sep in _LABEL.findall(fields[2])}
    label = ":" if labels == {":"} else "="
    core = fields[2].rstrip()
    trail = fields[2][len(core):] or " "
    core = core + " " if core.strip() else " "
    total = fields[3]
    lead, after = total[: len(total) - len(total.lstrip())], total[len(total.rstrip()):]
    more = "".join(f" {name}{label} {fmt(value)}" for name, value in r.extra)
    features = f"{core}{FEATURE}{label} {fmt(r.lm.feature)}{more}{trail}"
    return "|||".join((fields[0], fields[1], features, f"{lead}{fmt(r.total)}{after}", *fields[4:]))


def write_json(result: Reranking) -> Iterator[str]:
    """JSON Lines: one object per id, `{"id", "candidates": [...]}` with candidates best first."""
    for i, group in result.groups:
        yield json.dumps({"id": i, "candidates": [_record(r, result.nbest) for r in group]}, ensure_ascii=False)


def _record(r: Ranked, nbest: NBestList) -> dict:
    c = r.candidate
    record = {"rank": r.rank, "text": c.text, "line": c.line, "score": _finite(c.score),
              "lm_logprob": _finite(r.lm.logprob), "lm_tokens": r.lm.tokens, "lm_oov": r.lm.oov,
              "lm_feature": _finite(r.lm.feature), "total": _finite(r.total)}
    for name, value in r.extra:
        record[_extra_column(name)] = _finite(value)
    if nbest.format == "moses":
        record["features"] = c.fields[2].strip()
    return record


def _finite(value: float | None) -> float | None:
    """JSON has no infinities: they are written as null."""
    return value if value is not None and math.isfinite(value) else None
