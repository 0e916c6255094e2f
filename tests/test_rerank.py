"""N-best reranking engine: formats in and out, LM features, interpolation, order, batching."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

from rnngen.errors import ConfigError, InputError
from rnngen.textfile import decode, split_lines
from rnngen.rerank import (
    Candidate, LMScore, NBestList, Normalization, RerankSettings, combine, detect_format, lm_feature,
    parse, rerank, score_candidates, scoring_text, write,
)

FIXTURES = Path(__file__).parent / "fixtures" / "rerank"


# -- an independent reference: the network's own log-softmax, one sentence at a time ----------
def reference_logprobs(lm, text: str) -> list[float]:
    """ln P of each word and of </s> after `<s> words`, straight from the module (not via rnngen.score)."""
    tokens = text.split()  # the tiny model is whitespace-tokenized
    ids = lm.vocab.encode(tokens)
    with torch.no_grad():
        logits, _ = lm.module(torch.tensor([[lm.vocab.bos_id, *ids]]))
    logp = torch.log_softmax(logits[0].double(), dim=-1)
    return [float(logp[i, t]) for i, t in enumerate([*ids, lm.vocab.eos_id])]


def expected_feature(lm, text: str, method: str = "none", alpha: float = 0.6, oov_penalty: float = 0.0) -> float:
    lps = reference_logprobs(lm, text)
    total, n = sum(lps), len(lps)
    value = {"none": total, "length": total / n, "ppl": -math.exp(-total / n),
             "wp": total / ((5 + n) / 6) ** alpha}[method]
    return value + oov_penalty * sum(lm.vocab.is_oov(w) for w in text.split())


def read_fixture(name: str, format: str | None = None) -> NBestList:
    return parse(split_lines(decode((FIXTURES / name).read_bytes(), name)), format, name)


def num(text: str) -> float:
    return float(text.strip())


# -- reading ------------------------------------------------------------------
def test_moses_fields_ids_scores_and_extra_fields_are_read():
    nbest = read_fixture("labelled.moses")
    assert nbest.format == "moses"
    assert [c.id for c in nbest.candidates] == [0, 0, 0, 3, 3, 7]
    assert [c.score for c in nbest.candidates] == [-4.25, -4.5, -4.0, -6.0, -5.5, -7.0]
    assert nbest.candidates[0].text == "the cat sat on the mat ."
    assert nbest.candidates[3].fields[4] == " 0-0 1-1 2-2 3-3 4-4 5-5"
    assert [c.line for c in nbest.candidates] == [1, 2, 3, 4, 5, 6]


def test_tsv_header_scores_and_plain_tsv_are_read():
    scored = read_fixture("scored.tsv")
    assert scored.format == "tsv" and scored.header == ("id", "candidate", "score")
    assert [(c.id, c.text, c.score, c.line) for c in scored.candidates] == [
        (4, "the cat sat on the mat .", -2.5, 2), (4, "the cat sit on the mat .", -2.0, 3),
        (9, "a dog ran to the cat .", -1.0, 4), (9, "a dog ran to a cat .", -1.0, 5)]
    plain = read_fixture("plain.tsv")
    assert plain.header is None and not plain.has_scores
    assert [(c.id, c.text) for c in plain.candidates] == [
        (0, "the cat saw a dog ."), (0, "the cat saw dog a ."), (1, "the log sat on the mat .")]


def test_lines_groups_are_numbered_from_zero_and_blank_runs_are_one_separator():
    nbest = parse(["", "  ", "a b", "c", "", "", " \t", "d", ""], None)
    assert nbest.format == "lines"
    assert [(c.id, c.text, c.line) for c in nbest.candidates] == [(0, "a b", 3), (0, "c", 4), (1, "d", 8)]


@pytest.mark.parametrize("lines, expected", [
    (["", "0 ||| a b ||| x= 1 ||| -2"], "moses"), (["3\ta b"], "tsv"), (["id\tcandidate", "0\tx"], "tsv"),
    (["  ", "a b c"], "lines")])
def test_format_is_detected_from_the_first_non_blank_line(lines, expected):
    assert detect_format(lines[-1]) == expected
    assert parse(lines).format == expected


def test_utf8_bom_crlf_and_non_ascii_text_are_read():
    data = "\ufeff0 ||| the café sat ||| LM0= -1 ||| -2\r\n0 ||| naïve – ok ||| LM0= -1 ||| -3\r\n".encode()
    nbest = parse(split_lines(decode(data, "x.moses")))
    assert [c.text for c in nbest.candidates] == ["the café sat", "naïve – ok"]
    assert nbest.candidates[1].fields[3] == " -3"
    assert nbest.candidates[0].fields[0] == "0 "


@pytest.mark.parametrize("data, message", [
    (b"0 ||| ok ||| f= 1 ||| -1\n0 ||| ok \xff ||| f= 1 ||| -1\n", "x, line 2: not UTF-8 text"),
    (b"0 ||| ok ||| f= 1 ||| -1\n\x00\x01\x02\n", r"x looks like a binary file, not text \(a NUL byte on line 2\)"),
])
def test_undecodable_lines_are_named(data, message):
    with pytest.raises(InputError, match=message):
        parse(split_lines(decode(data, "x")))


@pytest.mark.parametrize("format, lines, message", [
    ("moses", ["0 ||| a ||| f= 1 ||| -1", "0 ||| b ||| f= 1", "1 ||| c ||| f= 1 ||| -1"],
     "x, line 2: expected 'id ||| hypothesis ||| features ||| total score', found 3 field(s)"),
    ("moses", ["0 ||| a ||| f= 1 ||| -1", "", "zero ||| b ||| f= 1 ||| -1"], "x, line 3: the id 'zero' is not a whole"),
    ("moses", ["0 ||| a ||| f= 1 ||| high"], "x, line 1: the total score 'high' is not a number"),
    ("moses", ["0 ||| a ||| f= 1 ||| nan"], "x, line 1: the total score 'nan' is not a number"),
    ("moses", ["0 ||| a ||| f= 1 LM_rnn= -3 ||| -1"], "x, line 1: already has an LM_rnn feature"),
    ("tsv", ["0\ta\t-1", "1\tb"], "x, line 2: 2 columns, but line 1 has 3"),
    ("tsv", ["id\tcandidate", "0\ta", "0 b"], "x, line 3: expected id<TAB>candidate\\[<TAB>score\\], found no tab"),
    ("tsv", ["0\ta\t-1", "1.5\tb\t-2"], "x, line 2: the id '1.5' is not a whole number"),
    ("tsv", ["0\ta\t-1", "1\tb\t"], "x, line 2: the score '' is not a number"),
    ("lines", ["", "  "], "x has no candidates"),
])
def test_malformed_lines_name_the_line(format, lines, message):
    with pytest.raises(InputError, match=message):
        parse(lines, format, "x")


def test_moses_markup_is_removed_before_scoring():
    c = Candidate(0, "don&apos;t |0-1| say &quot;a&quot; &#124; b|NN|b |2-3| &amp;", 1, 0.0, ())
    assert scoring_text(c, "moses") == "don't say \"a\" | b &"
    assert scoring_text(Candidate(0, "a &amp; b", 1, None, ()), "tsv") == "a &amp; b"


# -- features -------------------------------------------------------------------
@pytest.mark.parametrize("spec, method, alpha", [
    ("none", "none", 0.6), ("length", "length", 0.6), ("ppl", "ppl", 0.6), ("wp", "wp", 0.6),
    ("wp:0.6", "wp", 0.6), ("wp:1", "wp", 1.0), ("WP:0.25", "wp", 0.25)])
def test_normalization_specs(spec, method, alpha):
    assert Normalization.parse(spec) == Normalization(method, alpha)


@pytest.mark.parametrize("spec", ["", "log", "wp:", "wp:x", "wp:-1", "wp:inf", "length:2"])
def test_bad_normalization_specs_are_refused(spec):
    with pytest.raises(ConfigError):
        Normalization.parse(spec)


TEXTS = ["the cat sat on the mat .", "mat the on sat cat the .", "a dog", "the zebra sat on the unicorn .",
         "dog", "the cat ran to the dog . the dog ran to the cat ."]


@pytest.mark.parametrize("spec", ["none", "length", "ppl", "wp:0.6", "wp:1.5", "wp:0"])
def test_each_normalization_matches_an_independent_computation(tiny_lm, spec):
    norm = Normalization.parse(spec)
    scores = score_candidates(tiny_lm, TEXTS, RerankSettings(normalization=norm))
    for text, s in zip(TEXTS, scores):
        lps = reference_logprobs(tiny_lm, text)
        assert s.tokens == len(text.split()) + 1
        assert s.logprob == pytest.approx(sum(lps), abs=1e-5)
        assert s.feature == pytest.approx(expected_feature(tiny_lm, text, norm.method, norm.alpha), rel=1e-5, abs=1e-5)
    if spec == "wp:0":  # alpha 0 is no length penalty at all
        assert [s.feature for s in scores] == [s.logprob for s in scores]


def test_oov_penalty_adds_x_per_unknown_word(tiny_lm):
    plain, penalised = (score_candidates(tiny_lm, TEXTS, RerankSettings(normalization=Normalization("length"),
                                                                          oov_penalty=x)) for x in (0.0, -2.5))
    assert [s.oov for s in plain] == [0, 0, 0, 2, 0, 0]
    for a, b, text in zip(plain, penalised, TEXTS):
        assert b.feature == pytest.approx(a.feature - 2.5 * a.oov, abs=1e-12)
        assert b.feature == pytest.approx(expected_feature(tiny_lm, text, "length", oov_penalty=-2.5), abs=1e-5)


def test_lm_feature_is_the_shared_function(tiny_lm):
    [s] = tiny_lm.score(["the zebra sat ."])
    assert lm_feature(s, Normalization("wp", 1.0), -1.0) == s.logprob / ((5 + 5) / 6) - 1.0


def test_empty_and_unknown_only_candidates_are_scored_and_flagged(tiny_lm):
    nbest = parse(["0\tthe cat sat .", "0\t", "0\tzebra unicorn", "1\t  "], "tsv")
    result = rerank(tiny_lm, nbest)
    assert result.empty_lines == [2, 4]
    assert result.unknown_lines == [3]
    by_line = {r.candidate.line: r.lm for r in result.ranked()}
    assert by_line[2].tokens == 1 and by_line[2].logprob == pytest.approx(expected_feature(tiny_lm, ""), abs=1e-5)
    assert by_line[3].oov == 2 and math.isfinite(by_line[3].logprob)


# -- interpolation and order -------------------------------------------------------
def test_weight_interpolates_with_existing_scores(tiny_lm):
    nbest = read_fixture("scored.tsv")
    feats = {c.text: expected_feature(tiny_lm, c.text) for c in nbest.candidates}
    for w in (0.0, 0.5, 2.0):
        result = rerank(tiny_lm, nbest, RerankSettings(weight=w))
        for r in result.ranked():
            assert r.total == pytest.approx(r.candidate.score + w * feats[r.candidate.text], abs=1e-4)
        by_line = {c.line: c for c in nbest.candidates}
        orders = {i: [r.candidate.line for r in group] for i, group in result.groups}
        expected = {i: sorted((c.line for c in nbest.candidates if c.id == i),
                              key=lambda line: -(by_line[line].score + w * feats[by_line[line].text]))
                    for i in (4, 9)}
        assert orders == expected
    # With W = 0 the translation scores alone decide (ties in input order); the LM flips id 4 at W = 2.
    at_zero = rerank(tiny_lm, nbest, RerankSettings(weight=0))
    assert [r.candidate.line for r in at_zero.ranked()] == [3, 2, 4, 5]
    assert [r.candidate.line for r in rerank(tiny_lm, nbest, RerankSettings(weight=2)).groups[0][1]] == [2, 3]


def test_without_existing_scores_the_lm_feature_alone_ranks(tiny_lm):
    result = rerank(tiny_lm, read_fixture("groups.lines"), RerankSettings(weight=-3.0))
    for r in result.ranked():
        assert r.total == r.lm.feature
    assert [[r.candidate.text for r in g] for _, g in result.groups] == [
        sorted(["the dog saw the cat .", "dog the saw cat the .", "the dog saw the cats ."],
               key=lambda t: -expected_feature(tiny_lm, t)),
        sorted(["a cat sat on a mat .", "a cat sat on mat a ."], key=lambda t: -expected_feature(tiny_lm, t))]


def test_ties_keep_input_order():
    cands = [Candidate(5, t, n, s, ()) for n, (t, s) in enumerate(
        [("a", -1.0), ("b", -2.0), ("c", -1.0), ("d", -1.0), ("e", -0.5)], 1)]
    same = LMScore(-3.0, 2, 0, -3.0)
    result = combine(NBestList("tsv", cands), [same] * 5, RerankSettings(weight=1.0))
    assert [r.candidate.text for r in result.ranked()] == ["e", "a", "c", "d", "b"]
    assert [r.rank for r in result.ranked()] == [1, 2, 3, 4, 5]


def test_non_contiguous_interleaved_ids_are_grouped_in_id_order(tiny_lm):
    nbest = parse(["12\tthe dog .", "3\tthe cat .", "7\ta dog .", "3\tcat the .", "12\tdog the ."], "tsv")
    result = rerank(tiny_lm, nbest)
    assert [i for i, _ in result.groups] == [3, 7, 12]
    assert result.missing_ids == [4, 5, 6, 8, 9, 10, 11]
    best = list(write(result, "best"))
    assert best == [max(texts, key=lambda t: expected_feature(tiny_lm, t))
                    for texts in (["the cat .", "cat the ."], ["a dog ."], ["the dog .", "dog the ."])]


# -- writing ----------------------------------------------------------------------
def test_moses_is_written_back_with_lm_rnn_and_new_total(tiny_lm):
    nbest = read_fixture("labelled.moses")
    original = (FIXTURES / "labelled.moses").read_text().splitlines()
    result = rerank(tiny_lm, nbest, RerankSettings(weight=0.5))
    lines = list(write(result, "nbest"))
    assert len(lines) == 6
    seen = []
    for line, r in zip(lines, result.ranked()):
        fields = line.split("|||")
        old = original[r.candidate.line - 1].split("|||")
        assert fields[:2] == old[:2] and fields[4:] == old[4:]
        head, _, value = fields[2].rpartition(" LM_rnn= ")
        assert head == old[2].rstrip() and value.endswith(" ")
        feature = expected_feature(tiny_lm, r.candidate.text)
        assert num(value) == pytest.approx(feature, abs=2e-6)
        assert fields[3].startswith(" ") and num(fields[3]) == pytest.approx(num(old[3]) + 0.5 * feature, abs=2e-6)
        assert fields[3] == f" {num(fields[3]):.6f}" + (" " if len(fields) > 4 else "")
        seen.append(r.candidate.line)
    assert sorted(seen) == [1, 2, 3, 4, 5, 6]
    for _, group in result.groups:
        totals = [r.total for r in group]
        assert totals == sorted(totals, reverse=True)


def test_old_style_moses_features_get_a_colon_label(tiny_lm):
    result = rerank(tiny_lm, read_fixture("old_style.moses"), RerankSettings(weight=0.1))
    lines = list(write(result))
    assert all(" lm: " in line and " LM_rnn: " in line and "LM_rnn=" not in line for line in lines)
    assert lines[0].startswith("1 ||| the dog sat on the log .  ||| d: 0 -1.5 lm: -13.5 tm: -4 -6 w: -7 LM_rnn: ")


def test_tsv_is_written_back_with_five_columns(tiny_lm):
    result = rerank(tiny_lm, read_fixture("scored.tsv"), RerankSettings(weight=1.0, oov_penalty=-1.0))
    lines = list(write(result))
    assert lines[0] == "id\tcandidate\tscore\tlm_logprob\tlm_tokens\tlm_oov\tlm_feature\ttotal"
    for line, r in zip(lines[1:], result.ranked()):
        cols = line.split("\t")
        assert cols[:3] == list(r.candidate.fields)
        text = cols[1]
        lps = reference_logprobs(tiny_lm, text)
        oov = sum(tiny_lm.vocab.is_oov(w) for w in text.split())
        assert num(cols[3]) == pytest.approx(sum(lps), abs=2e-6)
        assert (int(cols[4]), int(cols[5])) == (len(lps), oov)
        assert num(cols[6]) == pytest.approx(sum(lps) - oov, abs=2e-6)
        assert num(cols[7]) == pytest.approx(num(cols[2]) + sum(lps) - oov, abs=2e-6)


def test_plain_tsv_gets_no_header(tiny_lm):
    lines = list(write(rerank(tiny_lm, read_fixture("plain.tsv"))))
    assert len(lines) == 3 and all(len(line.split("\t")) == 7 for line in lines)
    assert [line.split("\t")[0] for line in lines] == ["0", "0", "1"]


def test_lines_are_written_back_as_groups_with_scores(tiny_lm):
    result = rerank(tiny_lm, read_fixture("groups.lines"), RerankSettings(normalization=Normalization("length")))
    lines = list(write(result))
    assert len(lines) == 6 and lines[3] == ""
    for line in lines[:3] + lines[4:]:
        text, value = line.split("\t")
        assert num(value) == pytest.approx(expected_feature(tiny_lm, text, "length"), abs=2e-6)
    assert [line.split("\t")[0] for line in lines[4:]] == [
        r.candidate.text for r in result.groups[1][1]]


def test_json_has_one_object_per_id_with_everything(tiny_lm):
    result = rerank(tiny_lm, read_fixture("labelled.moses"), RerankSettings(weight=2.0))
    records = [json.loads(line) for line in write(result, "json")]
    assert [r["id"] for r in records] == [0, 3, 7]
    first = records[1]["candidates"]
    assert [c["rank"] for c in first] == [1, 2]
    for c in first:
        assert set(c) == {"rank", "text", "line", "score", "lm_logprob", "lm_tokens", "lm_oov", "lm_feature",
                          "total", "features"}
        assert c["lm_feature"] == pytest.approx(expected_feature(tiny_lm, c["text"]), abs=1e-5)
        assert c["total"] == pytest.approx(c["score"] + 2.0 * c["lm_feature"], abs=1e-9)
    assert first[0]["features"] in ("LM0= -11 TM0= -2 -3 WordPenalty0= -6", "LM0= -15 TM0= -1 -3 WordPenalty0= -6")


def test_infinite_scores_become_null_in_json(tiny_lm):
    result = rerank(tiny_lm, parse(["0\ta cat\t-inf", "0\tthe cat\t-1"], "tsv"))
    [record] = [json.loads(line) for line in write(result, "json")]
    assert [c["score"] for c in record["candidates"]] == [-1.0, None]
    assert [c["total"] is None for c in record["candidates"]] == [False, True]


# -- batching -----------------------------------------------------------------------
def random_list(vocab_words: list[str], ids: int = 1000, per_id: int = 10, seed: int = 3) -> list[str]:
    """A TSV n-best list of `ids * per_id` distinct candidates with translation scores, ids spread out."""
    rng = random.Random(seed)
    lines = []
    for i in range(ids):
        seen: set[str] = set()
        while len(seen) < per_id:
            text = " ".join(rng.choice(vocab_words) for _ in range(rng.randint(0, 14)))
            if text not in seen:
                seen.add(text)
                lines.append(f"{i * 3}\t{text}\t{-rng.randint(0, 40) / 4}")
    rng.shuffle(lines)  # ids interleaved: robustness, not Moses' usual order
    return lines


@pytest.fixture()
def one_thread():
    """Tiny models are fastest on one thread; on a busy machine more threads only wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_four_thousand_candidates_batched_equal_one_at_a_time(tiny_lm, monkeypatch, one_thread):
    words = [w for w in tiny_lm.vocab.words[3:]] + ["zebra", "unicorn"]
    nbest = parse(random_list(words, ids=400), "tsv")
    assert len(nbest.candidates) == 4_000
    settings = RerankSettings(weight=0.7, normalization=Normalization("wp", 0.8), oov_penalty=-1.5)

    calls: list[int] = []
    batches: list[int] = []  # rows of every network call, seen where every path starts: the embedding
    score_tokens = type(tiny_lm).score_tokens
    monkeypatch.setattr(type(tiny_lm), "score_tokens",
                        lambda self, t, *a, **k: calls.append(len(t)) or score_tokens(self, t, *a, **k))
    hook = tiny_lm.module.encoder.register_forward_hook(lambda m, inputs, out: batches.append(inputs[0].size(0)))
    try:
        batched = rerank(tiny_lm, nbest, settings)
        assert calls == [4_000]                     # one call for the whole list ...
        # ... in a few wide batches, each distinct word sequence once (candidates of different ids repeat)
        distinct = {tuple(tiny_lm.vocab.encode(tiny_lm.tokenize(c.text))) for c in nbest.candidates}
        assert len(batches) < 60 and max(batches) > 200 and sum(batches) == len(distinct) < 4_000
        calls.clear(), batches.clear()
        single = rerank(tiny_lm, nbest, settings, chunk=1)
        assert calls == [1] * 4_000 and batches == [1] * 4_000
    finally:
        hook.remove()

    assert list(write(batched, "best")) == list(write(single, "best"))
    assert [r.candidate.line for r in batched.ranked()] == [r.candidate.line for r in single.ranked()]
    assert [i for i, _ in batched.groups] == [i for i, _ in single.groups] == list(range(0, 1200, 3))
    for a, b in zip(batched.ranked(), single.ranked()):
        assert (a.lm.tokens, a.lm.oov) == (b.lm.tokens, b.lm.oov)
        assert a.lm.logprob == pytest.approx(b.lm.logprob, abs=1e-4)
        assert a.total == pytest.approx(b.total, abs=1e-4)
    assert len(batched.empty_lines) == len(single.empty_lines) > 0


def test_a_choice_made_only_on_unknown_words_is_reported(tiny_lm):
    nbest = parse(["0 ||| the zebra sat . ||| f= 1 ||| -1", "0 ||| the giraffe sat . ||| f= 1 ||| -1",
                   "1 ||| the cat sat . ||| f= 1 ||| -1", "1 ||| the dog sat . ||| f= 1 ||| -1"], "moses")
    result = rerank(tiny_lm, nbest, RerankSettings())
    assert result.unknown_choices == [0]  # id 1 differs in known words: the model's own choice
    first, second = result.groups[0][1]
    assert first.lm.seen == second.lm.seen and first.lm.logprob == second.lm.logprob
