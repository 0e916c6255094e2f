"""Every speed-up keeps the numbers: each optimised path against the plain one it replaces."""

from __future__ import annotations

import math

import pytest
import torch

from rnngen.config import ModelConfig, TrainConfig
from rnngen.data import IGNORE, batches
from rnngen.generate import filtered_distribution
from rnngen.lm import LanguageModel
from rnngen.loss import linear_cross_entropy, picked_logprobs
from rnngen.model import RNNModel, adaptive_cutoffs
from rnngen.score import evaluate_ids
from rnngen.train import Trainer
from rnngen.vocab import Vocabulary

from tests.conftest import tiny_corpus

TIGHT = {"rtol": 1e-5, "atol": 1e-6}


def _ce_case(rows=300, features=24, vocab=97, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(rows, features, generator=g, requires_grad=True)
    w = torch.randn(vocab, features, generator=g, requires_grad=True)
    b = torch.randn(vocab, generator=g, requires_grad=True) if bias else None
    y = torch.randint(0, vocab, (rows,), generator=g)
    y[::7] = IGNORE
    return h, w, b, y


@pytest.mark.parametrize("chunk", [1, 64, 256, 1000])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_cross_entropy_matches_plain_loss_and_gradients(chunk, bias):
    h, w, b, y = _ce_case(bias=bias)
    params = [p for p in (h, w, b) if p is not None]
    plain = linear_cross_entropy(h, w, b, y, fused=False)
    plain_grads = torch.autograd.grad(plain * 3.0, params)
    fused = linear_cross_entropy(h, w, b, y, fused=True, chunk=chunk)
    fused_grads = torch.autograd.grad(fused * 3.0, params)
    torch.testing.assert_close(fused, plain, **TIGHT)
    for got, want in zip(fused_grads, plain_grads):
        torch.testing.assert_close(got, want, **TIGHT)
    # ignored rows get exactly no gradient
    assert torch.equal(fused_grads[0][::7], torch.zeros_like(fused_grads[0][::7]))


def test_fused_cross_entropy_all_rows_ignored_is_zero_not_nan():
    h, w, b, y = _ce_case(rows=5)
    y[:] = IGNORE
    loss = linear_cross_entropy(h, w, b, y)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.count_nonzero(h.grad) == 0


def test_picked_logprobs_fused_equals_log_softmax():
    logits = torch.randn(3, 11, 50) * 5
    targets = torch.randint(0, 50, (3, 11))
    torch.testing.assert_close(picked_logprobs(logits, targets), picked_logprobs(logits, targets, fused=False),
                               **TIGHT)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_target_logprobs_equal_log_softmax_of_the_linear_layer(bias):
    from rnngen.loss import linear_target_logprobs

    h, w, b, y = _ce_case(bias=bias)
    with torch.inference_mode():
        got = linear_target_logprobs(h, w, b, y)
    want = picked_logprobs(torch.nn.functional.linear(h, w, b), y, fused=False)
    torch.testing.assert_close(got, want, **TIGHT)


def test_scratch_buffers_survive_switching_between_scoring_and_training():
    """A buffer made under inference_mode cannot be written in training: each mode keeps its own."""
    from rnngen.loss import linear_target_logprobs

    h, w, b, y = _ce_case()
    with torch.inference_mode():
        first = linear_target_logprobs(h, w, b, y)
    loss = linear_cross_entropy(h, w, b, y)
    loss.backward()
    with torch.inference_mode():
        again = linear_target_logprobs(h, w, b, y)
    assert torch.equal(first, again)
    torch.testing.assert_close(loss.detach(), -(first[y != IGNORE]).mean(), **TIGHT)


def _model(rnn_type="lstm", softmax="full", vocab=40, layers=2, tied=False, seed=3):
    torch.manual_seed(seed)
    config = ModelConfig(rnn_type=rnn_type, vocab_size=vocab, emb=16, hidden=16, layers=layers, dropout=0.3,
                         tied=tied, softmax=softmax)
    return RNNModel(config.validate(), vocab).eval()


@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_cell_steps_match_the_rnn_module(rnn_type):
    model = _model(rnn_type)
    ids = torch.randint(0, 40, (3, 9))
    with torch.inference_mode():
        model.cell_path = False
        whole, whole_state = model(ids)
        model.cell_path = True
        # feed the same ids in pieces short enough for the cell path, carrying the state
        pieces, state = [], None
        for start in range(0, 9, 2):
            x = ids[:, start : start + 2]
            assert model.use_cells(x)
            out, state = model(x, state)
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, **TIGHT)
    flat = lambda s: torch.cat([t.reshape(-1) for t in s]) if isinstance(s, tuple) else s.reshape(-1)  # noqa: E731
    torch.testing.assert_close(flat(state), flat(whole_state), **TIGHT)


def test_cell_path_is_not_used_in_training_or_for_long_inputs():
    model = _model()
    assert not model.use_cells(torch.zeros(1, 9, dtype=torch.long))
    model.train()
    assert not model.use_cells(torch.zeros(1, 1, dtype=torch.long))


@pytest.mark.parametrize("softmax, tied", [("full", False), ("adaptive", False), ("adaptive", True)])
def test_target_logprobs_in_chunks_equal_log_softmax_of_forward(softmax, tied):
    model = _model(softmax=softmax, tied=tied)
    ids = torch.randint(0, 40, (4, 13))
    targets = torch.randint(0, 40, (4, 13))
    with torch.inference_mode():
        logits, _ = model(ids)
        want = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        features, _ = model.features(ids)
        got = model.target_logprobs(features.reshape(-1, 16), targets.reshape(-1), chunk=5).view(4, 13)
    torch.testing.assert_close(got, want, **TIGHT)


@pytest.mark.parametrize("softmax, tied", [("full", False), ("adaptive", False), ("adaptive", True)])
def test_training_loss_equals_cross_entropy_of_forward(softmax, tied):
    model = _model(softmax=softmax, tied=tied)
    ids = torch.randint(0, 40, (4, 13))
    targets = torch.randint(0, 40, (4, 13))
    targets[0, 5:] = IGNORE
    with torch.no_grad():
        logits, _ = model(ids)
        want = torch.nn.functional.cross_entropy(logits.reshape(-1, 40), targets.reshape(-1), ignore_index=IGNORE)
        got, _ = model.loss(ids, targets)
    torch.testing.assert_close(got, want, **TIGHT)


@pytest.mark.parametrize("tied", [False, True])
def test_adaptive_softmax_is_a_normalised_distribution(tied):
    model = _model(softmax="adaptive", vocab=60, tied=tied)
    with torch.inference_mode():
        logits, _ = model(torch.randint(0, 60, (2, 5)))
    assert logits.shape == (2, 5, 60)
    torch.testing.assert_close(logits.exp().sum(-1), torch.ones(2, 5), **TIGHT)


def test_adaptive_cutoffs():
    assert adaptive_cutoffs(13778) == [2000, 10000]
    assert adaptive_cutoffs(100_000) == [2000, 10000, 40000]
    assert adaptive_cutoffs(40) == [20]


def _trained_params(fused: bool, mode: str, tmp_path, softmax="full"):
    mc = ModelConfig(rnn_type="lstm", vocab_size=100, emb=16, hidden=16, layers=2, dropout=0.0, softmax=softmax)
    tc = TrainConfig(epochs=1, batch_size=4, bptt=8, mode=mode, seed=5, sample_every=0, optimizer="sgd", lr=1.0)
    trainer = Trainer(tiny_corpus(2), mc, tc, tmp_path / f"m{fused}", fused=fused)
    vocab = trainer.lm.vocab
    hidden, losses = None, []
    for batch in list(batches(mode, trainer.train_ids, vocab.bos_id, vocab.eos_id, 4, 8, trainer.rng))[:6]:
        loss, hidden = trainer.step(batch, hidden)
        losses.append(float(loss))
    return losses, [p.detach().clone() for p in trainer.lm.module.parameters()]


@pytest.mark.parametrize("mode", ["sentences", "stream"])
def test_fused_training_steps_match_the_plain_path(mode, tmp_path):
    plain_losses, plain_params = _trained_params(False, mode, tmp_path)
    fused_losses, fused_params = _trained_params(True, mode, tmp_path)
    assert fused_losses == pytest.approx(plain_losses, rel=1e-5)
    for got, want in zip(fused_params, plain_params):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_evaluate_ids_equals_summed_cross_entropy():
    model = _model()
    vocab = Vocabulary(["<unk>", "<s>", "</s>", *[f"w{i}" for i in range(37)]])
    g = torch.Generator().manual_seed(1)
    sentences = [torch.randint(3, 40, (n,), generator=g).tolist() for n in (3, 7, 1, 12, 5)]
    for mode, bptt in (("sentences", 10_000), ("stream", 4)):
        nll, count = evaluate_ids(model, batches(mode, sentences, vocab.bos_id, vocab.eos_id, 2, bptt))
        want, want_count, hidden = 0.0, 0, None
        with torch.inference_mode():
            for batch in batches(mode, sentences, vocab.bos_id, vocab.eos_id, 2, bptt):
                if batch.reset or hidden is None or hidden[0].size(1) != batch.inputs.size(0):
                    hidden = None
                logits, hidden = model(batch.inputs, hidden)
                want += float(torch.nn.functional.cross_entropy(logits.reshape(-1, 40), batch.targets.reshape(-1),
                                                                ignore_index=IGNORE, reduction="sum"))
                want_count += int((batch.targets != IGNORE).sum())
        assert count == want_count
        assert nll == pytest.approx(want, rel=1e-6)


def _old_filtered_distribution(probs, temperature, top_k, top_p):
    """The formula the pow form replaced: softmax(log p / T), then the same filters."""
    logits = torch.log(probs.clamp_min(1e-30)) / temperature
    out = torch.softmax(logits, dim=-1)
    if top_k > 0 and top_k < out.numel():
        threshold = torch.topk(out, top_k).values[-1]
        out = torch.where(out >= threshold, out, torch.zeros_like(out))
    if top_p < 1.0:
        sorted_p, idx = torch.sort(out, descending=True)
        cumulative = torch.cumsum(sorted_p, dim=-1)
        sorted_p[cumulative - sorted_p >= top_p] = 0.0
        out = torch.zeros_like(out).scatter(0, idx, sorted_p)
    return out / out.sum()


@pytest.mark.parametrize("temperature,top_k,top_p", [(1.0, 0, 1.0), (0.7, 0, 1.0), (1.5, 10, 1.0), (0.9, 0, 0.8),
                                                     (2.0, 5, 0.5)])
def test_temperature_as_power_equals_softmax_of_scaled_logs(temperature, top_k, top_p):
    probs = torch.softmax(torch.randn(500, generator=torch.Generator().manual_seed(2)) * 3, dim=-1)
    got = filtered_distribution(probs, temperature, top_k, top_p)
    want = _old_filtered_distribution(probs, temperature, top_k, top_p)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    assert float(got.sum()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("tied, hidden", [(False, 16), (True, 16), (True, 24)])
def test_adaptive_model_scores_evaluate_and_round_trip(tmp_path, tied, hidden):
    """An adaptive-softmax model through the whole engine: scores sum to the evaluation, and survive a save."""
    from rnngen.train import train

    corpus = tiny_corpus(10)
    mc = ModelConfig(rnn_type="lstm", vocab_size=100, emb=16, hidden=hidden, layers=1, dropout=0.0,
                     softmax="adaptive", tied=tied)
    tc = TrainConfig(epochs=2, batch_size=8, bptt=16, sample_every=0, seed=3, patience=0)
    for _ in train(corpus, mc, tc, tmp_path / "ada"):
        pass
    lm = LanguageModel.load(tmp_path / "ada")
    assert lm.model_config.softmax == "adaptive"
    scores = lm.score_tokens(corpus.test)
    evaluation = lm.evaluate(corpus.test)
    total = -math.fsum(s.logprob for s in scores)
    assert evaluation.tokens == sum(s.num_tokens for s in scores)
    assert evaluation.nll == pytest.approx(total, rel=1e-5)
    dist = lm.next_word_distribution(["the"])
    assert float(dist.sum()) == pytest.approx(1.0, abs=1e-5)
    lm.save(tmp_path / "copy")
    copy = LanguageModel.load(tmp_path / "copy")
    again = copy.score_tokens(corpus.test)
    assert [s.logprob for s in again] == [s.logprob for s in scores]
    if tied:  # one matrix, in the embedding and the output layer, before and after the save
        assert copy.module.adaptive.weight is copy.module.encoder.weight


def test_tied_adaptive_softmax_shares_the_embedding_and_learns_through_both():
    model = _model(softmax="adaptive", vocab=60, tied=True).train()
    assert model.adaptive.weight is model.encoder.weight
    names = [n for n, _ in model.named_parameters()]
    assert "adaptive.weight" not in names  # counted once
    ids, targets = torch.randint(0, 60, (3, 6)), torch.randint(0, 60, (3, 6))
    targets[0, 0], targets[0, 1] = 1, 59  # one target in the head, one in the last cluster
    loss, _ = model.loss(ids, targets)
    loss.backward()
    assert model.encoder.weight.grad[59].abs().sum() > 0  # the output side reached a tail word's row


def test_unknown_softmax_is_refused():
    from rnngen.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown softmax"):
        ModelConfig(softmax="hierarchical").validate()


def test_fused_cross_entropy_is_exact_when_a_target_probability_underflows():
    """Huge logits: some targets get probability 0 in float32, yet the loss stays finite and exact."""
    h, w, b, y = _ce_case(rows=60, features=8, vocab=30, seed=5)
    with torch.no_grad():
        h.mul_(60.0)
    params = [h, w, b]
    plain = linear_cross_entropy(h, w, b, y, fused=False)
    plain_grads = torch.autograd.grad(plain, params)
    probs = torch.softmax(torch.nn.functional.linear(h, w, b), 1).gather(1, y.clamp(min=0).unsqueeze(1))
    assert bool((probs == 0).any())  # the case under test really happens
    fused = linear_cross_entropy(h, w, b, y)
    fused_grads = torch.autograd.grad(fused, params)
    assert math.isfinite(float(fused.detach()))
    torch.testing.assert_close(fused, plain, **TIGHT)
    for got, want in zip(fused_grads, plain_grads):
        torch.testing.assert_close(got, want, **TIGHT)


@pytest.mark.parametrize("bias", [True, False])
def test_logits_in_vocabulary_blocks_equal_one_product_bit_for_bit(bias):
    from rnngen.loss import BLOCK_MIN_ROWS, VOCAB_BLOCK, _logits

    g = torch.Generator().manual_seed(1)
    h = torch.randn(BLOCK_MIN_ROWS + 3, 20, generator=g)
    w = torch.randn(2 * VOCAB_BLOCK + 77, 20, generator=g)
    b = torch.randn(w.size(0), generator=g) if bias else None
    want = torch.addmm(b, h, w.t()) if bias else h @ w.t()
    assert torch.equal(_logits(h, w, b), want)


def test_stream_validation_in_long_chunks_equals_bptt_chunks():
    """The trainer validates stream mode in EVAL_CHUNK steps: the carried state makes it the same sum."""
    from rnngen.data import EVAL_CHUNK

    model = _model(vocab=40)
    g = torch.Generator().manual_seed(4)
    sentences = [torch.randint(3, 40, (int(n),), generator=g).tolist() for n in torch.randint(3, 30, (60,), generator=g)]
    with torch.inference_mode():
        short = evaluate_ids(model, batches("stream", sentences, 1, 2, 4, 7))
        long = evaluate_ids(model, batches("stream", sentences, 1, 2, 4, EVAL_CHUNK))
    assert short[1] == long[1]
    assert short[0] == pytest.approx(long[0], rel=1e-6)



@pytest.mark.parametrize("tied", [False, True])
def test_word_dropout_on_looked_up_rows_equals_masking_the_matrix(tied):
    """`_embed` masks the batch's rows, not the whole (vocabulary x emb) matrix.

    The values are equal bit for bit; the gradient sums a repeated word's rows
    after scaling instead of before, so it is equal to float32 rounding.
    """
    config = ModelConfig(rnn_type="lstm", emb=12, hidden=12, layers=1, dropout=0.0, embed_drop=0.3, tied=tied)
    model = RNNModel(config.validate(), 50).train()
    ids = torch.randint(0, 50, (4, 9), generator=torch.Generator().manual_seed(3))
    torch.manual_seed(5)
    fast = model._embed(ids)
    (fast * torch.linspace(-1, 1, fast.numel()).view_as(fast)).sum().backward()
    fast_grad, model.encoder.weight.grad = model.encoder.weight.grad.clone(), None
    torch.manual_seed(5)  # the same mask: one bernoulli_ draw per vocabulary row, as before
    weight = model.encoder.weight
    keep = torch.empty(weight.size(0), 1).bernoulli_(0.7)
    plain = torch.nn.functional.embedding(ids, weight * keep / 0.7)
    (plain * torch.linspace(-1, 1, plain.numel()).view_as(plain)).sum().backward()
    assert torch.equal(fast, plain)
    torch.testing.assert_close(fast_grad, model.encoder.weight.grad, **TIGHT)
    assert torch.equal(fast_grad == 0, model.encoder.weight.grad == 0)  # the same words dropped


@pytest.mark.parametrize("softmax,tied,embed_drop", [("full", False, 0.0), ("full", True, 0.2),
                                                     ("adaptive", True, 0.1), ("adaptive", False, 0.0)])
def test_deferred_lookup_gradient_equals_autograds(softmax, tied, embed_drop):
    """`loss(defer_lookup=True)` + `add_deferred_lookup_grads` gives every parameter the same gradient.

    The loss is the same tensor bit for bit; the embedding gradient sums the
    same rows in another order, so it is equal to float32 rounding.
    """
    config = ModelConfig(rnn_type="lstm", emb=16, hidden=16, layers=2, dropout=0.3, embed_drop=embed_drop,
                         tied=tied, softmax=softmax).validate()
    torch.manual_seed(0)
    model = RNNModel(config, 60 if softmax == "full" else 2100).train()
    g = torch.Generator().manual_seed(4)
    ids = torch.randint(0, model.encoder.num_embeddings, (3, 11), generator=g)
    targets = torch.randint(0, model.encoder.num_embeddings, (3, 11), generator=g)
    grads = []
    for defer in (False, True):
        torch.manual_seed(9)  # the same dropout masks
        model.zero_grad(set_to_none=True)
        loss, _ = model.loss(ids, targets, defer_lookup=defer)
        loss.backward()
        if defer:
            assert model.encoder.weight.grad is None or tied  # held back, not yet added
            model.add_deferred_lookup_grads()
        grads.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (plain_loss, plain), (fast_loss, fast) = grads
    assert torch.equal(plain_loss, fast_loss)
    assert plain.keys() == fast.keys()
    for name in plain:
        torch.testing.assert_close(fast[name], plain[name], **TIGHT, msg=name)
    assert model._lookups == []


def test_trainer_step_adds_the_deferred_lookup_gradient(tmp_path):
    """The trainer's optimised step and its plain one (`fused = False`) update the weights alike."""
    corpus = tiny_corpus()
    mc = ModelConfig(rnn_type="lstm", vocab_size=100, emb=16, hidden=16, layers=1, dropout=0.2, tied=True)
    weights = []
    for fused in (False, True):
        trainer = Trainer(corpus, mc, TrainConfig(batch_size=8, sample_every=0, seed=2), tmp_path / f"m{fused}",
                          fused=fused)
        vocab = trainer.lm.vocab
        hidden = None
        for batch in list(batches("sentences", trainer.train_ids, vocab.bos_id, vocab.eos_id, 8, 35))[:3]:
            _, hidden = trainer.step(batch, hidden)
        weights.append(trainer.lm.module.encoder.weight.detach().clone())
    torch.testing.assert_close(weights[1], weights[0], **TIGHT)


def test_a_held_back_embedding_gradient_cannot_be_lost_silently():
    config = ModelConfig(rnn_type="lstm", emb=8, hidden=8, layers=1, tied=True).validate()
    model = RNNModel(config, 40).train()
    ids = torch.randint(0, 40, (2, 5), generator=torch.Generator().manual_seed(1))
    loss, _ = model.loss(ids, ids, defer_lookup=True)
    loss.backward()  # the caller forgot add_deferred_lookup_grads()
    with pytest.raises(RuntimeError, match="never added"):
        model.loss(ids, ids, defer_lookup=True)
    model.add_deferred_lookup_grads()
    model.zero_grad(set_to_none=True)
    loss, _ = model.loss(ids, ids, defer_lookup=True)
    model.backward(loss)  # the one call: nothing pending, the embedding has its gradient
    assert model._lookups == [] and model.encoder.weight.grad is not None
    model.loss(ids, ids, defer_lookup=True)  # and the next loss is fine


def test_softmax_over_its_input_is_exact():
    """rnngen.loss writes (log-)softmax over the logits (`out=` the input): in place and bit-equal to a new tensor."""
    from rnngen.loss import _softmax_in_place

    logits = torch.randn(37, 501, generator=torch.Generator().manual_seed(8)) * 4
    expected, expected_log = torch.softmax(logits, 1), torch.log_softmax(logits, 1)
    buffer = logits.clone()
    out = _softmax_in_place(buffer)
    assert out.data_ptr() == buffer.data_ptr() and torch.equal(out, expected)
    buffer = logits.clone()
    out = torch.log_softmax(buffer, 1, out=buffer)
    assert out.data_ptr() == buffer.data_ptr() and torch.equal(out, expected_log)
