"""Minimal pairs, surprisal and continuations: what LM-evaluation users read, equal to the plain scores."""

from __future__ import annotations

import json
import math

import pytest

from rnngen.options import UnknownWords
from rnngen.pairs import judge, read_pairs
from tests._inprocess import main_here

PAIRS = [
    {"sentence_good": "the cat sat on the mat .", "sentence_bad": "the cat sat on mat the .", "UID": "order",
     "linguistics_term": "word order"},
    {"sentence_good": "the dog saw the cat .", "sentence_bad": "the dog saw saw the cat .", "UID": "repeat"},
    {"sentence_good": "a dog sat on a mat .", "sentence_bad": "a dog sat on a a mat .", "UID": "repeat"},
    {"sentence_good": "the zebra sat .", "sentence_bad": "the giraffe sat .", "UID": "unknown"},
]


@pytest.fixture()
def pair_files(tmp_path):
    jsonl = tmp_path / "blimp.jsonl"
    jsonl.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    tsv = tmp_path / "more.tsv"
    tsv.write_text("sentence_good\tsentence_bad\n" "the cat ran to the dog .\tthe cat ran the to dog .\n"
                   "a cat saw a dog .\tcat a saw a dog .\torder\n")
    return jsonl, tsv


def test_pairs_are_judged_by_the_plain_sentence_scores(tiny_lm, pair_files):
    jsonl, tsv = pair_files
    pairs = read_pairs(jsonl) + read_pairs(tsv)
    assert [(p.group, p.line) for p in pairs] == [("order", 1), ("repeat", 2), ("repeat", 3), ("unknown", 4),
                                                   ("more", 2), ("order", 3)]
    report = judge(tiny_lm, pairs)
    expected = {}
    for p in pairs:
        good, bad = tiny_lm.score([p.good, p.bad])
        if p.group != "unknown":
            tally = expected.setdefault(p.group, [0, 0])
            tally[0] += good.logprob > bad.logprob
            tally[1] += 1
    assert {g: [t.correct, t.total] for g, t in report.groups.items()} == dict(sorted(expected.items()))
    assert [j.pair.good for j in report.unknown_only] == ["the zebra sat ."]
    assert report.overall.total == 5 and report.overall.correct == sum(c for c, _ in expected.values())
    j = report.judged[1]
    assert j.difference == pytest.approx(j.good.logprob - j.bad.logprob, abs=1e-12)
    assert report.wrong == sorted(report.wrong, key=lambda w: w.difference)


def test_unknown_words_can_be_spread_over_types_or_penalised(tiny_lm):
    from rnngen.pairs import Pair

    pair = Pair("the cat sat .", "the zebra sat .", "g", "x", 1)
    plain = judge(tiny_lm, [pair]).judged[0]
    spread = judge(tiny_lm, [pair], UnknownWords(types=1000)).judged[0]
    fined = judge(tiny_lm, [pair], UnknownWords(penalty=-2.5)).judged[0]
    assert spread.difference == pytest.approx(plain.difference + math.log(1000), abs=1e-9)
    assert fined.difference == pytest.approx(plain.difference + 2.5, abs=1e-9)


def test_the_cli_reports_groups_files_and_wrong_pairs(tiny_lm_path, pair_files):
    jsonl, tsv = pair_files
    result = main_here("pairs", str(tiny_lm_path), str(jsonl), str(tsv), "--format", "json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["pairs"] == 5 and report["unknown_only"] == 1
    assert set(report["groups"]) == {"order", "repeat", "more"}
    assert {f: t["pairs"] for f, t in report["files"].items()} == {str(jsonl): 3, str(tsv): 2}
    assert report["accuracy"] == report["correct"] / 5
    assert result.stderr.startswith("rnngen: warning: 1 pair(s) differ only in words the model does not know")
    rows = [json.loads(line) for line in main_here("pairs", str(tiny_lm_path), str(jsonl), "--format",
                                                  "jsonl").stdout.splitlines()]
    assert rows[0]["linguistics_term"] == "word order"
    assert rows[0]["difference"] == pytest.approx(rows[0]["logprob_good"] - rows[0]["logprob_bad"], abs=1e-12)
    alone = json.loads(main_here("pairs", str(tiny_lm_path), str(jsonl), "--format", "json").stdout)
    table = main_here("pairs", str(tiny_lm_path), str(jsonl))
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].strip() == (f"{alone['correct']} of {alone['pairs']} pairs correct: "
                                                    f"{100 * alone['accuracy']:.1f}%")
    assert "unknown words scored as <unk>; 0 tie(s), counted wrong" in table.stdout


@pytest.mark.parametrize("content, message", [
    ('{"sentence_good": "a b"}\n', "x.jsonl, line 1: no 'sentence_bad' field"),
    ('{"sentence_good": "a", "sentence_bad": "b"}\n[1, 2]\n', "x.jsonl, line 2: not a JSON object"),
    ('{"sentence_good": "a", "sentence_bad": 3}\n', "x.jsonl, line 1: 'sentence_bad' is not a string"),
    ("a b\n", "x.jsonl, line 1: expected 'good<TAB>bad[<TAB>group]', found no tab"),
    ("\n\n", "x.jsonl has no sentence pairs"),
])
def test_bad_pair_files_are_one_line(tiny_lm_path, tmp_path, content, message):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    result = main_here("pairs", str(tiny_lm_path), str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"rnngen: error: {tmp_path}/{message}"
    bad = main_here("pairs", str(tiny_lm_path), str(path), "--unk-types", "0")
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("--unk-types must be a whole number of at least 1, or auto, got 0")


def test_surprisal_rank_and_entropy_per_token(tiny_lm, tiny_lm_path):
    import torch

    from rnngen.inspect import position_logprobs

    result = main_here("score", str(tiny_lm_path), "--format", "jsonl", "--details", stdin="the cat sat .\n")
    row = json.loads(result.stdout)
    logp = position_logprobs(tiny_lm, "the cat sat .".split())
    for i, token in enumerate(row["token_scores"]):
        assert token["surprisal_bits"] == pytest.approx(-token["logprob"] / math.log(2), abs=1e-12)
        entropy = float(-(logp[i].exp() * logp[i]).sum()) / math.log(2)
        assert token["entropy_bits"] == pytest.approx(entropy, abs=1e-5)
        target = tiny_lm.vocab.id(token["token"]) if token["token"] != "</s>" else tiny_lm.vocab.eos_id
        ranked = logp[i].clone()
        ranked[tiny_lm.vocab.bos_id] = -torch.inf
        assert token["rank"] == int((ranked > ranked[target]).sum()) + 1


def test_a_continuation_is_scored_given_its_prefix(tiny_lm, tiny_lm_path):
    whole = tiny_lm.score(["the cat sat on the mat ."])[0]
    prefix = tiny_lm.score_tokens([["the", "cat"]])[0]
    given = tiny_lm.score(["sat on the mat ."], given="the cat")[0]
    assert [t.token for t in given.tokens] == ["sat", "on", "the", "mat", ".", "</s>"]
    assert [t.logprob for t in given.tokens] == pytest.approx([t.logprob for t in whole.tokens[2:]], abs=1e-5)
    # log P(prefix words) + log P(continuation | prefix) = log P(whole), the prefix's own </s> aside
    assert sum(t.logprob for t in prefix.tokens[:-1]) + given.logprob == pytest.approx(whole.logprob, abs=1e-4)
    result = main_here("score", str(tiny_lm_path), "--given", "the cat", "--format", "jsonl",
                       stdin="sat on the mat .\n")
    assert json.loads(result.stdout)["logprob"] == pytest.approx(given.logprob, abs=1e-9)


def test_unknown_types_come_from_the_training_text(tiny_lm, tiny_lm_path, tmp_path):
    from rnngen.errors import ConfigError

    words = {w for s in tiny_lm.vocab.words[3:] for w in [s]}
    assert tiny_lm.corpus["train_types"] == len(words)  # the tiny corpus: every word made the vocabulary
    assert tiny_lm.unknown_types() == 1
    tiny_lm.corpus = {**tiny_lm.corpus, "train_types": len(words) + 40}
    assert tiny_lm.unknown_types() == 40
    tiny_lm.corpus = {**tiny_lm.corpus, "writes_unk": True}
    with pytest.raises(ConfigError, match="writes rare words as <unk> itself"):
        tiny_lm.unknown_types()
    tiny_lm.corpus = {}
    with pytest.raises(ConfigError, match="older rnngen"):
        tiny_lm.unknown_types()
    path = tmp_path / "p.tsv"
    path.write_text("the cat sat .\tthe zebra sat .\n")
    auto = json.loads(main_here("pairs", str(tiny_lm_path), str(path), "--unk-types", "auto", "--format",
                                "jsonl").stdout)
    plain = json.loads(main_here("pairs", str(tiny_lm_path), str(path), "--format", "jsonl").stdout)
    assert auto["difference"] == pytest.approx(plain["difference"], abs=1e-12)  # 1 type: as scored
    bad = main_here("pairs", str(tiny_lm_path), str(path), "--unk-types", "many")
    assert (bad.returncode, bad.stderr.strip()) == (
        2, "rnngen: error: --unk-types must be a whole number of at least 1, or auto, got 'many'")


def test_rerank_spreads_unknown_words_before_normalising(tiny_lm, tiny_lm_path, tmp_path):
    from rnngen.options import Normalization
    from rnngen.rerank import lm_feature

    score = tiny_lm.score(["the zebra sat on the giraffe ."])[0]
    assert score.oov_count == 2
    feature = lm_feature(score, Normalization("length"), -1.0, unk_types=50)
    assert feature == pytest.approx((score.logprob - 2 * math.log(50)) / score.num_tokens - 2.0, abs=1e-12)
    assert lm_feature(score, Normalization("wp", 0.6), 0.0, 1) == pytest.approx(
        score.logprob / ((5 + score.num_tokens) / 6) ** 0.6, abs=1e-12)
    nbest = tmp_path / "n.txt"
    nbest.write_text("the zebra sat .\nthe cat sat .\n")
    result = main_here("rerank", str(tiny_lm_path), str(nbest), "--unk-types", "50", "--output", "json")
    assert result.returncode == 0
    assert "spread over 50 types (-3.912 per unknown word)" in result.stderr
