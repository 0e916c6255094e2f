"""The continuous cache: a normalised distribution, exact hand-checked values, and the model alone at weight 0."""

from __future__ import annotations

import math

import pytest
import torch

from rnngen.cache import CacheSettings, cache_logprobs, mixed_logprobs, nll, running_text
from rnngen.data import IGNORE, stream_batches
from rnngen.errors import ConfigError
from rnngen.score import evaluate_ids

from tests.conftest import tiny_corpus


def _cache(features, targets, size, theta, first_scored=0):
    (lp,), has = cache_logprobs(torch.tensor(features, dtype=torch.float32), torch.tensor(targets), size, [theta],
                                first_scored)
    return lp, has


def test_cache_probability_by_hand():
    # positions 0..3; position 3 sees 0..2 whose targets are 7, 8, 7
    lp, has = _cache([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]], [7, 8, 7, 7], size=10, theta=2.0)
    scores = torch.tensor([2.0 * 1.0, 2.0 * 0.0, 2.0 * 1.0])  # theta * h3 . h_i
    weights = torch.softmax(scores, 0)
    assert float(lp[3].exp()) == pytest.approx(float(weights[0] + weights[2]))
    assert not bool(has[0]) and bool(has[1]) and float(lp[0]) == -math.inf
    assert float(lp[1].exp()) == 0.0  # target 8 has not occurred before position 1


def test_cache_window_and_masked_starts_are_left_out():
    features, targets = [[1.0], [1.0], [1.0], [1.0]], [5, IGNORE, 6, 5]
    lp, _ = _cache(features, targets, size=2, theta=1.0)
    # position 3 sees positions 1 and 2 only; 1 is a sentence start, so all the weight is on 2 (target 6)
    assert float(lp[3]) == -math.inf
    wide, _ = _cache(features, targets, size=3, theta=1.0)
    assert float(wide[3].exp()) == pytest.approx(0.5)
    tail, _ = _cache(features, targets, size=3, theta=1.0, first_scored=2)  # 0 and 1 only as history
    assert torch.equal(tail, wide[2:])


@pytest.mark.parametrize("size", [1, 3, 700])
def test_cache_distribution_sums_to_one_over_the_vocabulary(size):
    torch.manual_seed(0)
    n, vocab = 1100, 6  # longer than one block, so blocks and windows cross
    features = torch.randn(n, 4)
    targets = torch.randint(0, vocab, (n,))
    targets[3::9] = IGNORE
    for t in (1, 5, 600, n - 1):
        total = 0.0
        for word in range(vocab):
            probe = targets.clone()
            probe[t] = word
            (lp,), has = cache_logprobs(features, probe, size, [0.7])
            total += float(lp[t].exp())
        assert bool(has[t]) and total == pytest.approx(1.0, abs=1e-5)


def test_mixture_is_the_weighted_sum_and_weight_zero_is_the_model():
    model = torch.tensor([-1.0, -2.0, -3.0, -4.0])
    cache, has = _cache([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]], [7, 8, 7, 7], size=10, theta=2.0)
    mixed = mixed_logprobs(model, cache, has, 0.25)
    expected = math.log(0.75 * math.exp(-4.0) + 0.25 * float(cache[3].exp()))
    assert float(mixed[3]) == pytest.approx(expected)
    assert float(mixed[0]) == -1.0  # no history yet: the model alone
    assert torch.equal(mixed_logprobs(model, cache, has, 0.0), model)


@pytest.mark.parametrize("fresh", [False, True])
def test_reading_in_chunks_equals_reading_whole(tiny_lm, fresh, monkeypatch):
    """The window carried from chunk to chunk gives the cache what one pass over the whole stream would."""
    import rnngen.cache as cache_module

    ids = [tiny_lm.vocab.encode(s) for s in tiny_corpus(1).valid[:12]]
    bos, eos = tiny_lm.vocab.bos_id, tiny_lm.vocab.eos_id
    whole = running_text(tiny_lm.module, ids, bos, eos, 40, (0.3, 1.0), fresh)
    monkeypatch.setattr(cache_module, "CHUNK", 7)
    monkeypatch.setattr(cache_module, "BLOCK", 5)
    chunked = running_text(tiny_lm.module, ids, bos, eos, 40, (0.3, 1.0), fresh)
    torch.testing.assert_close(chunked.model_logprobs, whole.model_logprobs, rtol=1e-5, atol=1e-5)
    assert torch.equal(chunked.has_history, whole.has_history)
    for theta in (0.3, 1.0):
        torch.testing.assert_close(chunked.cache[theta], whole.cache[theta], rtol=1e-5, atol=1e-5)


def test_running_text_without_cache_equals_stream_evaluation(tiny_lm):
    ids = [tiny_lm.vocab.encode(s) for s in tiny_corpus(2).valid]
    bos, eos = tiny_lm.vocab.bos_id, tiny_lm.vocab.eos_id
    text = running_text(tiny_lm.module, ids, bos, eos, 100)
    expected = evaluate_ids(tiny_lm.module, stream_batches(ids, bos, eos, batch_size=1, bptt=10_000))
    total, count = nll(text, None)
    assert count == expected[1]
    assert total == pytest.approx(expected[0], rel=1e-5)


def test_tuning_never_does_worse_than_no_cache_and_helps_repetitive_text(tiny_lm):
    # a document that keeps coming back to words the model finds unlikely: what a cache is for
    rare = [w for w in tiny_lm.vocab.words[-12:] if not w.startswith("<")][:6]
    sentences = [rare[:3], rare[3:], rare[::2]] * 8
    alone = tiny_lm.evaluate(sentences, cache=CacheSettings(weight=0.0)).perplexity
    settings, ppl = tiny_lm.tune_cache(sentences, size=200)
    assert settings.size == 200 and settings.weight > 0 and ppl < alone
    assert tiny_lm.evaluate(sentences, cache=settings).perplexity == pytest.approx(ppl, rel=1e-6)


def test_bad_cache_settings_are_config_errors():
    with pytest.raises(ConfigError, match="cache size"):
        CacheSettings(size=0).validate()
    with pytest.raises(ConfigError, match="cache weight"):
        CacheSettings(weight=1.0).validate()


def test_cli_eval_with_a_tuned_cache(tiny_lm_path, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text("\n".join(" ".join(s) for s in tiny_corpus(1).valid[:4] * 5) + "\n")
    tune_file = tmp_path / "tune.txt"
    tune_file.write_text("\n".join(" ".join(s) for s in tiny_corpus(1).valid[4:8] * 5) + "\n")
    from tests._inprocess import main_here

    run = main_here("eval", str(tiny_lm_path), str(doc), "--cache", "100", "--tune-on", str(tune_file), "--json")
    assert run.returncode == 0, run.stderr
    import json

    report = json.loads(run.stdout)
    assert report["cache"]["size"] == 100 and report["cache"]["tuned_on"] == str(tune_file)
    bad = main_here("eval", str(tiny_lm_path), str(doc), "--cache", "100", "--cache-weight", "1.5")
    assert bad.returncode == 2 and "cache weight" in bad.stderr and "Traceback" not in bad.stderr
    alone = main_here("eval", str(tiny_lm_path), str(doc), "--tune-on", "valid")
    assert alone.returncode == 2 and "--tune-on needs --cache" in alone.stderr
