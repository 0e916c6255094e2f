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


# -- shared prefixes (n-best lists) ---------------------------------------------------
def test_shared_prefixes_count_what_each_sentence_shares_with_its_sorted_predecessor():
    from rnngen.score import shared_prefixes

    sentences = [[1, 2, 3], [1, 2], [1, 2, 3], [4], [1, 2, 4], [], [1, 2, 3, 5], []]
    lex, shared = shared_prefixes(sentences)
    assert [sentences[i] for i in lex] == sorted(sentences)
    # [] first; [] again repeats it (1 position: </s>); [1,2] shares nothing with []; [1,2,3] shares 2 with
    # [1,2]; its repeat shares all 4 positions; [1,2,3,5] shares 3; [1,2,4] shares 2; [4] nothing
    assert shared == [2, 0, 4, 0, 2, 0, 3, 1]


@pytest.mark.parametrize("softmax, tied", [("full", False), ("adaptive", True)])
def test_candidates_sharing_prefixes_score_as_if_alone_and_each_prefix_once(softmax, tied, monkeypatch):
    from rnngen.config import ModelConfig
    from rnngen.model import RNNModel
    from rnngen.score import token_logprobs

    torch.manual_seed(0)
    model = RNNModel(ModelConfig(rnn_type="lstm", emb=16, hidden=16, layers=2, dropout=0.0, tied=tied,
                                 softmax=softmax), 60)
    rng = torch.Generator().manual_seed(1)
    base = torch.randint(3, 60, (12,), generator=rng).tolist()
    # an n-best list: the sentence, edits at every place, repeats, prefixes of it, and an empty candidate
    sentences = [base, base, base[:5], base[:5], [], []]
    for i in range(len(base)):
        sentences.append(base[:i] + [(base[i] + 1 - 3) % 57 + 3] + base[i + 1:])
        sentences.append(base[:i] + base[i + 1:])
    rows: list[int] = []
    target_logprobs = model.target_logprobs
    monkeypatch.setattr(model, "target_logprobs", lambda f, t, *a, **k: rows.append(f.size(0)) or
                        target_logprobs(f, t, *a, **k))
    together = token_logprobs(model, sentences, 1, 2, max_tokens=64)
    computed = sum(rows)
    rows.clear()
    alone = [token_logprobs(model, [s], 1, 2)[0] for s in sentences]
    assert [len(x) for x in together] == [len(s) + 1 for s in sentences]
    for a, b in zip(together, alone):
        assert a == pytest.approx(b, abs=1e-5)
    # one softmax row per distinct (prefix, next token): the edges of the prefix tree of the list
    edges = {(tuple(s[:t]), (s + [2])[t]) for s in sentences for t in range(len(s) + 1)}
    assert computed == len(edges) < 0.6 * sum(len(s) + 1 for s in sentences)

