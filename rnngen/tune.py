"""Tuning the reranker against references: which LM weight, normalisation and OOV penalty give the best BLEU.

Every candidate of the n-best list is scored by the language model once (`rerank.score_texts`); each
setting of a grid is then a re-ranking in memory, and its 1-best hypotheses are scored with corpus BLEU
(sacreBLEU). The grid:

- weight W: 0 (the decoder alone), a log-spaced 0.01 ... 10 (1-2-5 steps), and "LM alone" (the list's
  own scores ignored). A list without scores of its own (TSV without a score column, plain lines) is
  ranked by the LM feature alone, so there only the normalisations and OOV penalties are searched;
- normalisation: none, length, wp:0.6, wp:1.0, ppl;
- OOV penalty: 0, -1, -5, -10.

W = 0 is one setting (normalisation and penalty change nothing there) and is the decoder's own 1-best
exactly: the first-ranked candidate by the list's own score. Ranking follows `rerank.combine`: the total
is `score + W * feature` (the feature alone for LM alone or a list without scores), the best total wins
and ties go to the candidate listed first; a NaN total counts as the worst. Between settings with equal
BLEU the one earlier in the grid wins (smaller W, then none, length, wp:0.6, wp:1.0, ppl, then the
penalty nearer 0), so tuning is deterministic.

BLEU is sacreBLEU's corpus BLEU, `sacrebleu.corpus_bleu(hyps, refs, tokenize=..., lowercase=...)`, of the
candidates' text as written in the list (what `rnngen rerank --output best` prints). To make a grid of
hundreds of settings cheap, each candidate's n-gram statistics are extracted once with sacreBLEU's own
code and a setting's BLEU is computed from the sum of its picks' statistics, which is what `corpus_bleu`
does: the figures are equal, not approximately equal. sacreBLEU's warning about tokenized input ending
in " ." is not given (n-best lists and their references usually are tokenized).

Baselines: the decoder's 1-best (W = 0; for a list without scores, the first candidate of each id as
listed), a seeded random pick, and the oracle: per id the candidate with the best sentence BLEU
(`sacrebleu.sentence_bleu`: exponential smoothing, effective order). The oracle is an approximation of
the best corpus BLEU the list allows: corpus BLEU does not decompose over sentences, so the corpus BLEU
of the sentence-level best picks is usually, but not always, the maximum.

Cross-validation by id: ids, in ascending order, are dealt round-robin into K folds (the id at position p
goes to fold p mod K). For each fold the setting with the best BLEU on the other K-1 folds is chosen and
its picks on the held-out fold are kept; the cross-validated BLEU is the corpus BLEU of these held-out
picks over all ids, each id held out exactly once, so it is measured on ids its setting was not chosen on.
The setting chosen on all ids is what a settings file records.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rnngen import atomic, textfile
from rnngen.errors import ConfigError, InputError
from rnngen.options import Normalization, RerankSettings
from rnngen.rerank import (
    CHUNK, IdGaps, NBestList, Reranking, lm_feature, rerank,
)

SETTINGS_FORMAT = "rnngen-rerank-settings"
SETTINGS_VERSION = 1
WEIGHTS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # besides 0 and LM alone
NORMALIZATIONS = (Normalization("none"), Normalization("length"), Normalization("wp", 0.6),
                  Normalization("wp", 1.0), Normalization("ppl"))
OOV_PENALTIES = (0.0, -1.0, -5.0, -10.0)
DEFAULT_FOLDS = 5
DEFAULT_TOKENIZE = "13a"


# -- settings -----------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """One point of the grid: new score = score + weight * feature, or the feature alone (weight None)."""

    weight: float | None  # None: the LM feature alone, the list's own scores ignored
    normalization: Normalization = Normalization()
    oov_penalty: float = 0.0
    unk_types: int = 1  # not searched: the user's rule for unknown words (`--unk-types`), kept as given

    @property
    def lm_alone(self) -> bool:
        return self.weight is None

    @property
    def decoder_alone(self) -> bool:
        return self.weight == 0

    def rerank_settings(self) -> RerankSettings:
        """The settings `rerank` takes (LM alone: `rerank_with` drops the list's scores; the weight is unused)."""
        return RerankSettings(1.0 if self.weight is None else self.weight, self.normalization,
                              self.oov_penalty, self.unk_types).validate()

    def label(self) -> str:
        if self.decoder_alone:
            return "W 0 (the decoder alone)"
        weight = "LM alone" if self.lm_alone else f"W {self.weight:g}"
        return f"{weight}, {self.normalization}, OOV penalty {self.oov_penalty:g}"

    def to_json(self) -> dict:
        return {"weight": self.weight, "lm_alone": self.lm_alone, "normalize": str(self.normalization),
                "oov_penalty": self.oov_penalty}


def grid(has_scores: bool, weights: Sequence[float] = WEIGHTS,
         normalizations: Sequence[Normalization] = NORMALIZATIONS,
         oov_penalties: Sequence[float] = OOV_PENALTIES) -> list[Setting]:
    """The settings searched, in their tie-breaking order (earlier wins)."""
    others = [Setting(w, n, o) for w in (*weights, None) for n in normalizations for o in oov_penalties]
    if not has_scores:
        return [s for s in others if s.lm_alone]
    return [Setting(0.0), *others]


def rerank_with(lm, nbest: NBestList, setting: Setting, chunk: int = CHUNK,
                progress: Callable[[int, int], None] | None = None, tokenized: bool = False) -> Reranking:
    """`rerank.rerank` under a tuned setting; LM alone ranks a scored list by the LM feature only.

    For LM alone the list's scores are set aside while ranking (the total is the feature) and the
    candidates, with their scores, are put back in the result, so output lines and JSON keep them.
    """
    settings = setting.rerank_settings()
    if not setting.lm_alone or not nbest.has_scores:
        return rerank(lm, nbest, settings, chunk, progress, tokenized)
    bare = NBestList(nbest.format, [replace(c, score=None) for c in nbest.candidates], nbest.header)
    result = rerank(lm, bare, settings, chunk, progress, tokenized)
    by_line = {c.line: c for c in nbest.candidates}
    groups = [(i, [replace(r, candidate=by_line[r.candidate.line]) for r in group]) for i, group in result.groups]
    return Reranking(nbest, settings, groups)


# -- references -----------------------------------------------------------------
def read_references(paths: Sequence[str | Path]) -> list[tuple[str, list[str]]]:
    """(name, lines) of each reference file, read as every rnngen input is."""
    return [(str(p), textfile.read_lines(p, folder_hint="give a reference file, one sentence per line"))
            for p in paths]


def check_references(nbest: NBestList, references: Sequence[tuple[str, Sequence[str]]],
                     name: str = "the n-best list") -> list[int]:
    """The list's ids, ascending, once the references fit them; else one line saying what does not fit.

    Line i of each reference file is the reference for id i. Every file must have as many lines as the
    others and at least the largest id + 1; an id between the smallest and the largest without
    candidates has a reference but nothing to pick, which is refused too.
    """
    if not references:
        raise ConfigError("give at least one reference file")
    lengths = {len(lines) for _, lines in references}
    if len(lengths) > 1:
        shown = ", ".join(f"{ref} has {len(lines):,}" for ref, lines in references)
        raise InputError(f"the references have different numbers of lines: {shown}")
    ids = sorted({c.id for c in nbest.candidates})
    if ids[0] < 0:
        raise InputError(f"{name} has the id {ids[0]}: ids count reference lines from 0, so they cannot be negative")
    ref, lines = references[0]
    if len(lines) <= ids[-1]:
        raise InputError(f"{ref} has {len(lines):,} line{'s' if len(lines) != 1 else ''}, but the largest id of "
                         f"{name} is {ids[-1]}: line i is the reference for id i, so it needs at least "
                         f"{ids[-1] + 1:,} lines")
    gaps = IdGaps(ids)
    if gaps:
        many = len(gaps) > 1
        raise InputError(f"{name} has no candidates for {len(gaps):,} id{'s' if many else ''} between {ids[0]} and "
                         f"{ids[-1]} that ha{'ve' if many else 's'} a reference: {gaps.describe()}")
    return ids


# -- BLEU -------------------------------------------------------------------------
def bleu_metric(tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False, sentence: bool = False):
    """sacreBLEU's BLEU as `corpus_bleu` (or, `sentence`, `sentence_bleu`) configures it, without its warning."""
    from sacrebleu.metrics import BLEU

    if tokenize not in BLEU.TOKENIZERS:
        raise ConfigError("{tokenize} must be one of " + ", ".join(BLEU.TOKENIZERS) + f", got {tokenize!r}",
                          ("tokenize",))
    try:
        return BLEU(lowercase=lowercase, tokenize=tokenize, force=True, effective_order=sentence)
    except (ImportError, RuntimeError) as exc:  # mecab, sentencepiece: packages sacreBLEU does not bring
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"the {tokenize} tokenizer cannot be used here: {first}") from None


def _score(metric, stats: np.ndarray):
    """BLEU from summed statistics, as sacreBLEU computes it from its own sums."""
    return metric._compute_score_from_stats([int(v) for v in stats])


@dataclass(frozen=True)
class Scored:
    """A way of picking one candidate per id, its picks and their corpus BLEU."""

    name: str
    setting: Setting | None          # None for the random pick, the oracle and the cross-validated picks
    bleu: object                     # sacrebleu's BLEUScore
    picks: tuple[int, ...]           # index into nbest.candidates of the pick of each id, ids ascending

    @property
    def score(self) -> float:
        return float(self.bleu.score)

    def to_json(self) -> dict:
        b = self.bleu
        record = {"name": self.name, "bleu": self.score, "precisions": [float(p) for p in b.precisions],
                  "bp": float(b.bp), "sys_len": int(b.sys_len), "ref_len": int(b.ref_len)}
        if self.setting is not None:
            record.update(self.setting.to_json())
        return record


@dataclass(frozen=True)
class Fold:
    index: int
    held_out: tuple[int, ...]   # the ids of this fold
    chosen: Setting             # the best setting on the other folds
    train_bleu: float           # its BLEU on the other folds
    held_out_bleu: float        # its BLEU on this fold alone


@dataclass
class TuneResult:
    nbest: NBestList
    ids: list[int]
    settings: list[Scored]      # in grid order
    best: Scored                # the setting chosen on all ids
    decoder: Scored
    random: Scored
    oracle: Scored
    cross_validated: Scored     # held-out picks of each fold's choice, over all ids
    folds: list[Fold]
    signature: str
    tokenize: str
    lowercase: bool
    seed: int
    extra: dict = field(default_factory=dict)

    def ranked(self) -> list[Scored]:
        """The settings best first; equal BLEU keeps grid order."""
        return sorted(self.settings, key=lambda s: -s.score)

    def hypotheses(self, scored: Scored) -> list[str]:
        """The picked candidates' text, in id order: what BLEU was computed on."""
        return [self.nbest.candidates[k].text for k in scored.picks]

    def to_json(self, top: int | None = None) -> dict:
        ranked = self.ranked()
        return {
            "ids": len(self.ids), "candidates": len(self.nbest.candidates), "format": self.nbest.format,
            "tokenize": self.tokenize, "lowercase": self.lowercase, "signature": self.signature, "seed": self.seed,
            "best": self.best.to_json(),
            "cross_validated": {**self.cross_validated.to_json(), "folds": [
                {"fold": f.index, "held_out": list(f.held_out), "chosen": f.chosen.to_json(),
                 "train_bleu": f.train_bleu, "held_out_bleu": f.held_out_bleu} for f in self.folds]},
            "baselines": {"decoder": self.decoder.to_json(), "random": self.random.to_json(),
                          "oracle": self.oracle.to_json()},
            "settings": [s.to_json() for s in (ranked if top is None else ranked[:top])],
            **self.extra,
        }


class _Groups:
    """The candidates' indices grouped by id (ascending), input order within: the picking machinery."""

    def __init__(self, nbest: NBestList, ids: list[int]) -> None:
        by_id: dict[int, list[int]] = {}
        for k, c in enumerate(nbest.candidates):
            by_id.setdefault(c.id, []).append(k)
        self.groups = [by_id[i] for i in ids]
        self.order = np.fromiter((k for g in self.groups for k in g), dtype=np.int64, count=len(nbest.candidates))
        sizes = np.array([len(g) for g in self.groups], dtype=np.int64)
        self.starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.sizes = sizes

    def best(self, totals: np.ndarray) -> np.ndarray:
        """Per id, the candidate with the highest total; ties go to the one listed first, NaN is worst."""
        t = totals[self.order]
        t = np.where(np.isnan(t), -np.inf, t)
        top = np.maximum.reduceat(t, self.starts)
        hits = np.flatnonzero(t == np.repeat(top, self.sizes))
        return self.order[hits[np.searchsorted(hits, self.starts)]]

    def first(self) -> np.ndarray:
        return self.order[self.starts]


def tune(nbest: NBestList, scores: Sequence, references: Sequence[tuple[str, Sequence[str]]],
         folds: int | None = None, tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False, seed: int = 0,
         settings: Sequence[Setting] | None = None, name: str = "the n-best list") -> TuneResult:
    """Search the grid (or `settings`) for the best BLEU of the reranked 1-best against `references`.

    `scores`: the `SentenceScore` of each candidate, in list order (`rerank.score_texts` of the
    candidates' `scoring_text`). `references`: (name, lines) per reference file. `folds`: K for the
    cross-validation (default min(5, number of ids)).
    """
    if len(scores) != len(nbest.candidates):
        raise ValueError(f"{len(scores)} scores for {len(nbest.candidates)} candidates")
    ids = check_references(nbest, references, name)
    folds = _check_folds(folds, len(ids), name)
    settings = list(grid(nbest.has_scores) if settings is None else settings)
    if not settings:
        raise ValueError("no settings to search")
    metric = bleu_metric(tokenize, lowercase)
    sentence_metric = bleu_metric(tokenize, lowercase, sentence=True)
    stats = _statistics(metric, nbest, references)
    signature = metric.get_signature().format()
    groups = _Groups(nbest, ids)

    def scored(label: str, setting: Setting | None, picks: np.ndarray) -> Scored:
        return Scored(label, setting, _score(metric, stats[picks].sum(axis=0)), tuple(int(k) for k in picks))

    picks = _picks_of(nbest, scores, settings, groups)
    evaluated = [scored(s.label(), s, p) for s, p in zip(settings, picks)]
    best = evaluated[_argmax([e.score for e in evaluated])]

    decoder_picks = groups.best(_own_scores(nbest)) if nbest.has_scores else groups.first()
    decoder = scored("decoder 1-best" if nbest.has_scores else "first listed", None, decoder_picks)
    if nbest.has_scores:
        decoder = replace(decoder, setting=Setting(0.0))
    rng = random.Random(seed)
    random_pick = scored(f"random pick (seed {seed})", None,
                         np.array([g[rng.randrange(len(g))] for g in groups.groups], dtype=np.int64))
    sentence_bleu = np.array([_score(sentence_metric, row).score for row in stats])
    oracle = scored("oracle (best sentence BLEU per id)", None, groups.best(sentence_bleu))

    cross, fold_list = _cross_validate(metric, stats, settings, picks, ids, folds)
    cross = replace(cross, name=f"cross-validated ({folds} folds)")
    return TuneResult(nbest, ids, evaluated, best, decoder, random_pick, oracle, cross, fold_list, signature,
                      tokenize, lowercase, seed)


def _statistics(metric, nbest: NBestList, references: Sequence[tuple[str, Sequence[str]]]) -> np.ndarray:
    """sacreBLEU's n-gram statistics of each candidate against its id's references, one row per candidate.

    A candidate repeated within its id (Moses lists without `distinct`) is looked at once.
    """
    row: dict[tuple[int, str], int] = {}
    for c in nbest.candidates:
        row.setdefault((c.id, c.text), len(row))
    hyps = [text for _, text in row]
    refs = [[lines[i] for i, _ in row] for _, lines in references]
    distinct = np.asarray(metric._extract_corpus_statistics(hyps, refs), dtype=np.int64)
    return distinct[[row[(c.id, c.text)] for c in nbest.candidates]]


@dataclass(frozen=True)
class _Measured:
    """What `rerank.lm_feature` reads of a `SentenceScore`, computed once (its properties sum the tokens each time)."""

    logprob: float
    num_tokens: int
    oov_count: int
    per_token: float
    perplexity: float

    @classmethod
    def of(cls, score) -> "_Measured":
        return cls(score.logprob, score.num_tokens, score.oov_count, score.per_token, score.perplexity)


def _check_folds(folds: int | None, count: int, name: str) -> int:
    if count < 2:
        raise InputError(f"{name} has candidates for one id only: cross-validation needs at least 2")
    if folds is None:
        return min(DEFAULT_FOLDS, count)
    if folds < 2:
        raise ConfigError("{folds} must be at least 2, got " + str(folds), ("folds",))
    if folds > count:
        raise ConfigError("{folds} is " + f"{folds}, but {name} has only {count} ids: at most one fold per id",
                          ("folds",))
    return folds


def _own_scores(nbest: NBestList) -> np.ndarray:
    return np.array([c.score for c in nbest.candidates], dtype=np.float64)


def _picks_of(nbest: NBestList, scores: Sequence, settings: Sequence[Setting], groups: _Groups) -> list[np.ndarray]:
    """Each setting's pick per id. Features come from `rerank.lm_feature`, totals as `rerank.combine` forms them."""
    features: dict[tuple[Normalization, float], np.ndarray] = {}
    own = _own_scores(nbest) if nbest.has_scores else None
    measured = [_Measured.of(x) for x in scores]
    result = []
    for s in settings:
        if s.decoder_alone and own is not None:
            result.append(groups.best(own))
            continue
        key = (s.normalization, s.oov_penalty)
        if key not in features:
            features[key] = np.array([lm_feature(x, s.normalization, s.oov_penalty) for x in measured],
                                     dtype=np.float64)
        feature = features[key]
        totals = feature if own is None or s.lm_alone else own + s.weight * feature
        result.append(groups.best(totals))
    return result


def _argmax(values: Sequence[float]) -> int:
    """The index of the largest value; the first on ties."""
    return max(range(len(values)), key=lambda k: (values[k], -k))


def fold_of(ids: Sequence[int], folds: int) -> dict[int, int]:
    """The fold of each id: ids in ascending order, dealt round-robin."""
    return {i: p % folds for p, i in enumerate(sorted(ids))}


def _cross_validate(metric, stats: np.ndarray, settings: Sequence[Setting], picks: Sequence[np.ndarray],
                    ids: list[int], folds: int) -> tuple[Scored, list[Fold]]:
    fold = np.array([p % folds for p in range(len(ids))], dtype=np.int64)  # ids are ascending
    # per setting and fold: the summed statistics of its picks on that fold
    sums = np.zeros((len(settings), folds, stats.shape[1]), dtype=np.int64)
    for s, p in enumerate(picks):
        np.add.at(sums[s], fold, stats[p])
    totals = sums.sum(axis=1)
    chosen_picks = np.empty(len(ids), dtype=np.int64)
    held_sum = np.zeros(stats.shape[1], dtype=np.int64)
    fold_list = []
    for k in range(folds):
        train = [_score(metric, totals[s] - sums[s, k]).score for s in range(len(settings))]
        c = _argmax(train)
        mask = fold == k
        chosen_picks[mask] = picks[c][mask]
        held_sum += sums[c, k]
        fold_list.append(Fold(k, tuple(i for i, m in zip(ids, mask) if m), settings[c], train[c],
                              _score(metric, sums[c, k]).score))
    cross = Scored("cross-validated", None, _score(metric, held_sum), tuple(int(k) for k in chosen_picks))
    return cross, fold_list


# -- the settings file --------------------------------------------------------------
def settings_record(result: TuneResult, **tuned_on) -> dict:
    """The settings file's content: the setting chosen on all ids, where and how it was tuned."""
    return {"format": SETTINGS_FORMAT, "version": SETTINGS_VERSION, **result.best.setting.to_json(),
            "bleu": result.best.score, "cross_validated_bleu": result.cross_validated.score,
            "decoder_bleu": result.decoder.score, "signature": result.signature,
            "tuned_on": {**tuned_on, "ids": len(result.ids), "candidates": len(result.nbest.candidates),
                         "tokenize": result.tokenize, "lowercase": result.lowercase,
                         "folds": len(result.folds)}}


def write_settings(path: str | Path, result: TuneResult, **tuned_on) -> dict:
    """Write the settings file atomically (a crash leaves the old file or the new one, never half of one)."""
    record = settings_record(result, **tuned_on)
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name for the settings")
    try:
        atomic.write_json(path, record)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    return record


def read_settings(path: str | Path) -> Setting:
    """The setting of a settings file; anything else (another format or version, bad values) is one line."""
    name = str(path)
    text = "\n".join(textfile.read_lines(path, folder_hint="give a settings file written by rnngen rerank tune"))
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name} is not a settings file: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(record, dict) or record.get("format") != SETTINGS_FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        what = f"its format is {found!r}" if found is not None else "it has no format name"
        raise InputError(f"{name} is not an rnngen rerank settings file: {what}, not {SETTINGS_FORMAT!r}")
    if record.get("version") != SETTINGS_VERSION:
        raise InputError(f"{name} is a settings file of version {record.get('version')!r}; "
                         f"this rnngen reads version {SETTINGS_VERSION}")
    weight, lm_alone = record.get("weight"), record.get("lm_alone", record.get("weight") is None)
    if lm_alone is not (weight is None) or not (weight is None or _number(weight)):
        raise InputError(f"{name}: weight must be a finite number, or null with lm_alone true, "
                         f"got weight {weight!r} and lm_alone {lm_alone!r}")
    penalty = record.get("oov_penalty", 0.0)
    if not _number(penalty):
        raise InputError(f"{name}: oov_penalty must be a finite number, got {penalty!r}")
    spec = record.get("normalize", "none")
    try:
        normalization = Normalization.parse(spec) if isinstance(spec, str) else None
    except ConfigError:
        normalization = None
    if normalization is None:
        raise InputError(f"{name}: normalize must be none, length, ppl or wp:ALPHA, got {spec!r}")
    return Setting(None if weight is None else float(weight), normalization, float(penalty))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
