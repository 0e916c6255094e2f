"""Properties that hold for any input (hypothesis): round trips, probabilities, batching, reranking."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnngen.lm import LanguageModel
from rnngen.rerank import RerankSettings, parse, rerank
from rnngen.tokenize import TokenizerSettings, tokenize_words
from rnngen.vocab import Vocabulary, word_problem

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TOKEN = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S")), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def lm(tiny_lm_path) -> LanguageModel:
    return LanguageModel.load(tiny_lm_path)


def words_of(lm: LanguageModel) -> list[str]:
    return [w for w in lm.vocab.words if w not in ("<s>", "</s>", "<unk>")] + ["zebra"]  # one unknown word too


def sentences(lm: LanguageModel, max_size: int = 12):
    return st.lists(st.sampled_from(words_of(lm)), min_size=1, max_size=max_size)


# -- text ------------------------------------------------------------------------------------
@SETTINGS
@given(st.lists(TOKEN, max_size=20))
def test_whitespace_tokens_round_trip(tokens):
    assert tokenize_words(" ".join(tokens), TokenizerSettings.pretokenized()) == tokens


@SETTINGS
@given(st.lists(TOKEN.filter(lambda w: w not in ("<UNK>", "<eos>", "<EOS>", "<unk>", "<s>", "</s>")),
                min_size=1, max_size=30, unique=True))
def test_vocabulary_encodes_and_decodes_its_words(words):
    """(The spellings <UNK>, <eos> and <EOS> are read as the specials on purpose: PTB and WikiText use them.)"""
    vocab = Vocabulary.build([words], max_size=None)
    kept = [w for w in words if w in vocab]
    assert [vocab.words[i] for i in vocab.encode(kept)] == kept
    assert all(word_problem(w) is None for w in vocab.words)
    assert all(vocab.is_oov(w) for w in words if w not in vocab)


# -- probabilities ----------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_log_probabilities_are_finite_negative_and_follow_the_chain_rule(lm, data):
    tokens = data.draw(sentences(lm))
    (score,) = lm.score_tokens([tokens])
    assert score.num_tokens == len(tokens) + 1
    assert all(math.isfinite(t.logprob) and t.logprob <= 0 for t in score.tokens)
    assert score.logprob == pytest.approx(math.fsum(t.logprob for t in score.tokens), abs=1e-12)
    # the batched scorer equals the model's next-word distribution, step by step
    context: list[str] = []
    for word, token in zip([*tokens, "</s>"], score.tokens):
        probs = lm.next_word_distribution(context)
        assert float(probs.sum()) == pytest.approx(1.0, abs=1e-5)
        wid = lm.vocab.id(word)
        assert token.logprob == pytest.approx(math.log(float(probs[wid])), abs=1e-4)
        context.append(word)


@SETTINGS
@given(data=st.data())
def test_batched_equals_one_at_a_time_in_any_order(lm, data):
    batch = data.draw(st.lists(sentences(lm), min_size=1, max_size=9))
    together = [s.logprob for s in lm.score_tokens(batch)]
    alone = [lm.score_tokens([s])[0].logprob for s in batch]
    assert together == pytest.approx(alone, abs=1e-4)
    order = data.draw(st.permutations(range(len(batch))))
    shuffled = [s.logprob for s in lm.score_tokens([batch[i] for i in order])]
    assert shuffled == pytest.approx([together[i] for i in order], abs=1e-4)


# -- reranking ------------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_rerank_keeps_every_candidate_once_and_ranks_each_id_best_first(lm, data):
    groups = data.draw(st.lists(st.lists(sentences(lm, 6), min_size=1, max_size=4), min_size=1, max_size=4))
    ids = data.draw(st.lists(st.integers(0, 10**9), min_size=len(groups), max_size=len(groups), unique=True))
    lines = [f"{i} ||| {' '.join(words)} ||| F= {-n} ||| {-n / 2}"
             for i, group in zip(ids, groups) for n, words in enumerate(group)]
    weight = data.draw(st.floats(-5, 5, allow_nan=False))
    result = rerank(lm, parse(lines), RerankSettings(weight=weight))
    ranked = list(result.ranked())
    assert sorted(r.candidate.line for r in ranked) == list(range(1, len(lines) + 1))
    assert [i for i, _ in result.groups] == sorted(ids)
    for _, group in result.groups:
        totals = [r.total for r in group]
        assert totals == sorted(totals, reverse=True)
        assert [r.rank for r in group] == list(range(1, len(group) + 1))
        for r in group:
            assert r.total == pytest.approx(r.candidate.score + weight * r.lm.feature, abs=1e-9)
