"""Minimal pairs: does the model prefer the good sentence of each pair? (BLiMP, targeted syntactic evaluation)

A pair is correct when log P(good) > log P(bad), the whole sentences scored as `rnngen score` scores
them (the first word given `<s>`, the end `</s>` counted); a tie is not correct. Files are JSON lines
with `sentence_good` and `sentence_bad` as BLiMP writes them (its `UID`, or `phenomenon`/`group`,
names the group; `linguistics_term` and `field` are kept too), or TSV `good<TAB>bad[<TAB>group]`.

Unknown words are scored as `<unk>`, the probability of *some* rare word, which can exceed a rare
known word's. So a pair whose two sentences differ only in words the model does not know says
nothing about the model and is counted apart; `UnknownWords` spreads `<unk>`'s probability over
N unknown types (log P - log N per unknown word) or adds a fixed penalty, for both sentences alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rnngen import textfile
from rnngen.errors import InputError
from rnngen.options import UnknownWords
from rnngen.score import SentenceScore

__all__ = ["UnknownWords", "Pair", "Judged", "PairsReport", "read_pairs", "judge"]

GOOD, BAD = "sentence_good", "sentence_bad"
GROUP_FIELDS = ("UID", "phenomenon", "group")  # the first present names a pair's group


@dataclass(frozen=True)
class Pair:
    good: str
    bad: str
    group: str    # BLiMP's UID, the TSV's third column, or the file's name
    source: str   # the file it came from
    line: int
    extra: dict = field(default_factory=dict, compare=False)  # linguistics_term, field, pair_id ... as given


@dataclass(frozen=True)
class Judged:
    pair: Pair
    good: SentenceScore
    bad: SentenceScore
    difference: float  # log P(good) - log P(bad), natural log, with the unknown-word rule applied
    unknown_only: bool  # the two sentences differ only in words the model does not know

    @property
    def correct(self) -> bool:
        return self.difference > 0


@dataclass
class Tally:
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class PairsReport:
    judged: list[Judged]
    unknown: UnknownWords

    def _tally(self, key) -> dict[str, Tally]:
        out: dict[str, Tally] = {}
        for j in self.judged:
            if j.unknown_only:
                continue
            tally = out.setdefault(key(j), Tally())
            tally.total += 1
            tally.correct += j.correct
        return dict(sorted(out.items()))

    @property
    def overall(self) -> Tally:
        return self._tally(lambda j: "all").get("all", Tally())

    @property
    def groups(self) -> dict[str, Tally]:
        return self._tally(lambda j: j.pair.group)

    @property
    def files(self) -> dict[str, Tally]:
        return self._tally(lambda j: j.pair.source)

    @property
    def ties(self) -> int:
        return sum(1 for j in self.judged if j.difference == 0 and not j.unknown_only)

    @property
    def unknown_only(self) -> list[Judged]:
        return [j for j in self.judged if j.unknown_only]

    @property
    def wrong(self) -> list[Judged]:
        """The pairs the model got wrong, the most confidently wrong first."""
        return sorted((j for j in self.judged if not j.correct and not j.unknown_only), key=lambda j: j.difference)

    def to_dict(self) -> dict:
        def tally(t: Tally) -> dict:
            return {"correct": t.correct, "pairs": t.total, "accuracy": t.accuracy}

        return {"accuracy": self.overall.accuracy, "correct": self.overall.correct, "pairs": self.overall.total,
                "ties": self.ties, "unknown_words": self.unknown.describe(),
                "unknown_only": len(self.unknown_only),
                "groups": {g: tally(t) for g, t in self.groups.items()},
                "files": {f: tally(t) for f, t in self.files.items()},
                "wrong": [judged_dict(j) for j in self.wrong]}


def judged_dict(j: Judged) -> dict:
    """One pair's result as a JSON object (log-probabilities in nats; `scored`: the tokens the model saw)."""
    return {"source": j.pair.source, "line": j.pair.line, "group": j.pair.group, **j.pair.extra,
            GOOD: j.pair.good, BAD: j.pair.bad, "good_scored": j.good.scored, "bad_scored": j.bad.scored,
            "logprob_good": j.good.logprob, "logprob_bad": j.bad.logprob, "difference": j.difference,
            "correct": j.correct, "unknown_only": j.unknown_only, "oov_good": j.good.oov_count,
            "oov_bad": j.bad.oov_count}


# -- reading --------------------------------------------------------------------
def read_pairs(path: str | Path) -> list[Pair]:
    """The pairs of a JSONL (BLiMP) or TSV file; a bad line is one error naming the file and line."""
    name = str(path)
    lines = textfile.read_lines(path, folder_hint="give a JSONL or TSV file of sentence pairs")
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise InputError(f"{name} has no sentence pairs")
    read = _jsonl_pair if first.lstrip().startswith("{") else _tsv_pair
    pairs = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            pair = read(line, name, number)
            if pair is not None:
                pairs.append(pair)
    if not pairs:
        raise InputError(f"{name} has no sentence pairs")
    return pairs


def _jsonl_pair(line: str, name: str, number: int) -> Pair:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}, line {number}: not a JSON object ({exc.msg})") from None
    if not isinstance(row, dict):
        raise InputError(f"{name}, line {number}: not a JSON object")
    for key in (GOOD, BAD):
        if not isinstance(row.get(key), str):
            raise InputError(f"{name}, line {number}: no {key!r} field" if key not in row
                             else f"{name}, line {number}: {key!r} is not a string")
    group = next((str(row[k]) for k in GROUP_FIELDS if row.get(k) not in (None, "")), Path(name).stem)
    extra = {k: row[k] for k in ("linguistics_term", "field", "pair_id") if k in row}
    return Pair(row[GOOD], row[BAD], group, name, number, extra)


def _tsv_pair(line: str, name: str, number: int) -> Pair | None:
    columns = line.split("\t")
    if len(columns) < 2:
        raise InputError(f"{name}, line {number}: expected 'good<TAB>bad[<TAB>group]', found no tab")
    if number == 1 and columns[0].strip() == GOOD:
        return None  # a header
    group = columns[2].strip() if len(columns) > 2 and columns[2].strip() else Path(name).stem
    return Pair(columns[0], columns[1], group, name, number)


# -- judging --------------------------------------------------------------------
def judge(lm, pairs: Sequence[Pair], unknown: UnknownWords = UnknownWords(), pretokenized: bool = False) -> PairsReport:
    """Score both sentences of every pair in one batch and compare them."""
    texts = [t for p in pairs for t in (p.good, p.bad)]
    scores = lm.score(texts, allow_empty=True, pretokenized=pretokenized)
    judged = []
    for pair, good, bad in zip(pairs, scores[0::2], scores[1::2]):
        difference = unknown.logprob(good) - unknown.logprob(bad)
        judged.append(Judged(pair, good, bad, difference, _differ_in_unknown_only(good, bad)))
    return PairsReport(judged, unknown)


def _differ_in_unknown_only(good: SentenceScore, bad: SentenceScore) -> bool:
    """True when the two differ, but only in words unknown to the model: as the model sees them, the same."""
    seen = [[("<unk>" if t.oov else t.token) for t in s.tokens] for s in (good, bad)]
    return seen[0] == seen[1] and good.scored != bad.scored
