"""Scores are consistent: tokens sum to sentences, distributions normalise, batching changes nothing."""

from __future__ import annotations

import math

import pytest
import torch

from rnngen.score import normalized
from tests.conftest import tiny_corpus


def test_token_logprobs_sum_to_sentence_logprob(tiny_lm):
    scores = tiny_lm.score(["the cat sat on the mat .", "a dog saw the zebra ."])
    for s in scores:
        assert s.logprob == pytest.approx(sum(t.logprob for t in s.tokens), abs=1e-12)
        assert s.log10prob == pytest.approx(s.logprob / math.log(10), abs=1e-12)
        assert s.perplexity == pytest.approx(math.exp(-s.logprob / s.num_tokens), rel=1e-12)
    assert [t.token for t in scores[1].tokens] == ["a", "dog", "saw", "the", "zebra", ".", "</s>"]
    assert [t.oov for t in scores[1].tokens] == [False, False, False, False, True, False, False]
    assert scores[1].oov_count == 1


def test_each_token_logprob_is_the_model_next_word_probability(tiny_lm):
    [s] = tiny_lm.score(["the dog sat on a mat ."])
    words = ["the", "dog", "sat", "on", "a", "mat", "."]
    for i, tok in enumerate(s.tokens):
        dist = tiny_lm.next_word_distribution(words[:i])
        assert tok.logprob == pytest.approx(math.log(float(dist[tiny_lm.vocab.id(tok.token)])), abs=1e-5)


def test_next_word_distribution_sums_to_one(tiny_lm):
    for context in ([], ["the"], ["the", "cat", "sat"], ["unknownword"]):
        dist = tiny_lm.next_word_distribution(context)
        assert dist.shape == (len(tiny_lm.vocab),)
        assert float(dist.sum()) == pytest.approx(1.0, abs=1e-5)
        assert bool((dist >= 0).all())


def test_batched_scores_equal_one_at_a_time(tiny_lm):
    sentences = [line for line in ["the cat sat on the mat .", "a dog .", "the dog saw the cat ran to a log .",
                                   "cat", "the the the the the the the the the the the the ."]] * 3
    batched = tiny_lm.score(sentences)
    single = [tiny_lm.score([s])[0] for s in sentences]
    tiny_batches = tiny_lm.score(sentences, max_tokens=8)
    for b, o, t in zip(batched, single, tiny_batches):
        assert [x.token for x in b.tokens] == [x.token for x in o.tokens]
        for x, y, z in zip(b.tokens, o.tokens, t.tokens):
            assert x.logprob == pytest.approx(y.logprob, abs=1e-4)
            assert z.logprob == pytest.approx(y.logprob, abs=1e-4)


def test_scores_agree_with_evaluation(tiny_lm):
    """Summing sentence scores over a split reproduces the evaluation perplexity."""
    valid = tiny_corpus().valid
    evaluation = tiny_lm.evaluate(valid)
    scores = tiny_lm.score_tokens(valid)
    total = sum(s.logprob for s in scores)
    tokens = sum(s.num_tokens for s in scores)
    assert evaluation.tokens == tokens
    assert evaluation.perplexity == pytest.approx(math.exp(-total / tokens), rel=1e-5)


def test_normalisations(tiny_lm):
    [s] = tiny_lm.score(["the cat sat on the mat ."])
    assert normalized(s, "none") == s.logprob
    assert normalized(s, "length") == pytest.approx(s.logprob / 8)
    assert normalized(s, "ppl") == pytest.approx(-math.exp(-s.logprob / 8))
    assert normalized(s, "wp", 0.6) == pytest.approx(s.logprob / ((5 + 8) / 6) ** 0.6)


def test_score_handles_only_unknown_words_and_flags_them(tiny_lm):
    [s] = tiny_lm.score(["zebra giraffe"])
    assert s.oov_count == 2
    assert math.isfinite(s.logprob)
