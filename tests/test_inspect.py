"""rnngen.inspect: per-position probabilities, ranks and alternatives agree with scoring and the distribution."""

from __future__ import annotations

import math

import pytest
import torch

from rnngen.inspect import position_logprobs, word_details


def _ranked_words(lm, context):
    """The vocabulary (without <s>) ordered by P(w | <s> context), computed independently of inspect."""
    probs = lm.next_word_distribution(context).tolist()
    order = sorted((i for i in range(len(probs)) if i != lm.vocab.bos_id), key=lambda i: -probs[i])
    return [(lm.vocab.words[i], probs[i]) for i in order]


def test_logprobs_equal_the_scores(tiny_lm):
    tokens = "the cat sat on the mat .".split()
    details = word_details(tiny_lm, tokens, k=5)
    score = tiny_lm.score_tokens([tokens])[0]
    assert [d.token for d in details] == [*tokens, "</s>"]
    assert [d.index for d in details] == list(range(len(tokens) + 1))
    for d, t in zip(details, score.tokens):
        assert d.logprob == pytest.approx(t.logprob, abs=1e-6)
        assert d.prob == pytest.approx(t.prob, rel=1e-5)
        assert not d.oov


def test_rank_and_alternatives_match_the_distribution(tiny_lm):
    tokens = "a dog saw the cat .".split()
    details = word_details(tiny_lm, tokens, k=4)
    for i, d in enumerate(details):
        ranked = _ranked_words(tiny_lm, tokens[:i])
        names = [w for w, _ in ranked]
        assert d.rank == names.index(d.predicted) + 1
        assert d.candidates == len(tiny_lm.vocab) - 1
        assert [w for w, _ in d.alternatives] == names[:4]
        for (_, p), (_, q) in zip(d.alternatives, ranked[:4]):
            assert p == pytest.approx(q, rel=1e-5)


def test_unknown_words_are_ranked_as_unk(tiny_lm):
    tokens = ["the", "zebra", "sat", "."]
    details = word_details(tiny_lm, tokens, k=3)
    zebra = details[1]
    assert zebra.oov and zebra.token == "zebra" and zebra.predicted == "<unk>"
    names = [w for w, _ in _ranked_words(tiny_lm, ["the"])]
    assert zebra.rank == names.index("<unk>") + 1
    assert [d.oov for d in details] == [False, True, False, False, False]
    score = tiny_lm.score_tokens([tokens])[0]
    assert zebra.logprob == pytest.approx(score.tokens[1].logprob, abs=1e-6)


def test_position_logprobs_are_distributions(tiny_lm):
    logp = position_logprobs(tiny_lm, ["the", "cat"])
    assert logp.shape == (3, len(tiny_lm.vocab))
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3), atol=1e-5)
    expected = tiny_lm.next_word_distribution(["the"])
    assert torch.allclose(logp[1].exp(), expected, atol=1e-6)


def test_empty_sentence_has_only_the_end(tiny_lm):
    (end,) = word_details(tiny_lm, [], k=2)
    assert end.token == "</s>" and end.predicted == "</s>"
    assert end.logprob == pytest.approx(tiny_lm.score_tokens([[]])[0].tokens[0].logprob, abs=1e-6)
    assert math.isfinite(end.logprob)
