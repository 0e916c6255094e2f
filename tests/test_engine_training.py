"""Training: it learns, it is reproducible, it stops and resumes, checkpoints round-trip."""

from __future__ import annotations

import math
import threading
from collections import Counter

import pytest
import torch
from dataclasses import replace

from rnngen.config import ModelConfig, TrainConfig
from rnngen.corpus.base import Corpus
from rnngen.events import BatchDone, Checkpointed, EpochDone, Finished, Sample, Started
from rnngen.generate import SamplingSettings
from rnngen.lm import LanguageModel
from rnngen.tokenize import TokenizerSettings
from rnngen.train import scheduled_lr, train
from tests.conftest import tiny_corpus

SMALL = ModelConfig(rnn_type="lstm", vocab_size=100, emb=16, hidden=32, layers=1, dropout=0.0)
FAST = TrainConfig(epochs=3, batch_size=8, bptt=16, sample_every=0, seed=3, patience=0)


def run(corpus, out, mc=SMALL, tc=FAST, **kw):
    return list(train(corpus, mc, tc, out, **kw))


def unigram_perplexity(corpus: Corpus, vocab) -> float:
    """Add-one unigram over the same vocabulary and tokens (words + </s>)."""
    counts = Counter(vocab.id(w) for s in corpus.train for w in [*s, "</s>"])
    total = sum(counts.values()) + len(vocab)
    nll = tokens = 0
    for s in corpus.valid:
        for w in [*s, "</s>"]:
            nll -= math.log((counts[vocab.id(w)] + 1) / total)
            tokens += 1
    return math.exp(nll / tokens)


def test_training_beats_a_unigram_model_and_emits_events(tmp_path):
    corpus = tiny_corpus()
    events = run(corpus, tmp_path / "m")
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    assert kinds.count(EpochDone) == 3
    assert BatchDone in kinds and Checkpointed in kinds
    epochs = [e for e in events if isinstance(e, EpochDone)]
    assert epochs[-1].valid_ppl < epochs[0].valid_ppl
    lm = LanguageModel.load(tmp_path / "m")
    assert lm.evaluate(corpus.valid).perplexity < unigram_perplexity(corpus, lm.vocab)
    assert events[-1].best_valid_ppl == pytest.approx(min(e.valid_ppl for e in epochs))


@pytest.mark.parametrize("rnn_type", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_deterministic_text_reaches_perplexity_near_one(tmp_path, rnn_type):
    sentence = "one two three four five six seven eight".split()
    corpus = Corpus("count", [sentence] * 64, [sentence], [sentence], TokenizerSettings.pretokenized())
    mc = ModelConfig(rnn_type=rnn_type, vocab_size=50, emb=16, hidden=32, layers=1, dropout=0.0)
    tc = TrainConfig(epochs=12, batch_size=8, bptt=16, sample_every=0, seed=1, lr=0.01, patience=0)
    run(corpus, tmp_path / rnn_type, mc, tc)
    lm = LanguageModel.load(tmp_path / rnn_type)
    assert lm.evaluate(corpus.test).perplexity < 1.05


def test_fixed_seed_reproduces_training_and_generation(tmp_path):
    corpus = tiny_corpus()
    run(corpus, tmp_path / "a")
    run(corpus, tmp_path / "b")
    a, b = LanguageModel.load(tmp_path / "a"), LanguageModel.load(tmp_path / "b")
    sa, sb = a.score(["the cat sat on the mat ."])[0], b.score(["the cat sat on the mat ."])[0]
    assert sa.logprob == sb.logprob
    settings = SamplingSettings(seed=11, max_words=20)
    words_a = [s.word for _, s in a.generate("", settings, count=3)]
    words_b = [s.word for _, s in b.generate("", settings, count=3)]
    assert words_a == words_b
    other = [s.word for _, s in a.generate("", SamplingSettings(seed=12, max_words=20), count=3)]
    assert other != words_a


@pytest.mark.parametrize("mode", ["stream", "sentences"])
def test_evaluate_reproduces_the_recorded_best_validation_perplexity(tmp_path, mode):
    corpus = tiny_corpus()
    tc = TrainConfig(epochs=3, batch_size=4, bptt=10, sample_every=0, seed=3, mode=mode, patience=0)
    events = run(corpus, tmp_path / "s", tc=tc)
    lm = LanguageModel.load(tmp_path / "s")
    assert lm.train_config.mode == mode
    # one layout decides both (data.evaluation_batches): the trainer's figure is what `rnngen eval` prints
    assert lm.evaluate(corpus.valid).perplexity == pytest.approx(lm.history["best_valid_ppl"], rel=1e-6)
    assert lm.evaluate(corpus.valid).perplexity < unigram_perplexity(corpus, lm.vocab)
    assert isinstance(events[-1], Finished)


def test_shifted_cuts_and_bf16_train_and_save_float32_weights(tmp_path):
    corpus = tiny_corpus()
    mc = replace(SMALL, softmax="adaptive", tied=True, emb=32, layers=2, dropout=0.2, locked_dropout=True)
    tc = TrainConfig(epochs=3, batch_size=4, bptt=10, sample_every=0, seed=3, mode="stream", patience=0,
                     shift_cuts=True, precision="bf16", optimizer="sgd")
    events = run(corpus, tmp_path / "s", mc=mc, tc=tc)
    for epoch in (1, 2, 3):  # each epoch is cut elsewhere, and its progress counts that epoch's batches
        last = [e for e in events if isinstance(e, BatchDone) and e.epoch == epoch][-1]
        assert last.batch == last.batches
    lm = LanguageModel.load(tmp_path / "s")
    assert lm.train_config.precision == "bf16" and lm.model_config.locked_dropout
    assert all(p.dtype == torch.float32 for p in lm.module.parameters())
    assert lm.evaluate(corpus.valid).perplexity < unigram_perplexity(corpus, lm.vocab)


def test_unknown_precision_is_a_config_error():
    from rnngen.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        TrainConfig(precision="fp8").validate()


def test_stop_request_leaves_a_loadable_checkpoint(tmp_path):
    stop = threading.Event()
    events = []
    for ev in train(tiny_corpus(), SMALL, TrainConfig(epochs=50, batch_size=8, log_every=1, sample_every=0),
                    tmp_path / "m", stop=stop):
        events.append(ev)
        if isinstance(ev, BatchDone) and ev.batch == 2:
            stop.set()
    assert events[-1].reason == "stopped"
    batches_after_stop = [e for e in events if isinstance(e, BatchDone) and e.batch > 2]
    assert batches_after_stop == []
    lm = LanguageModel.load(tmp_path / "m")
    assert math.isfinite(lm.score(["the cat ."])[0].logprob)


def ticking(step: float):
    """A trainer clock that moves `step` seconds at each reading: time budgets tested without waiting,
    the same on a fast machine and a busy one."""
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]
    return clock


def test_time_budget_stops_training(tmp_path):
    from rnngen.train import Trainer

    tc = TrainConfig(epochs=1000, batch_size=8, max_minutes=0.02, sample_every=0, log_every=1)
    events = list(Trainer(tiny_corpus(), SMALL, tc, tmp_path / "m", clock=ticking(0.05)).run())
    assert events[-1].reason == "time"
    assert events[-1].epochs_run < 1000
    batches = [e for e in events if isinstance(e, BatchDone)]
    assert batches[-1].elapsed_s <= 0.02 * 60 + 0.05 * 4  # stopped at the first batch past the deadline
    assert events[-1].elapsed_s >= 0.02 * 60


def test_resume_continues_from_the_checkpoint(tmp_path):
    corpus = tiny_corpus()
    run(corpus, tmp_path / "m", tc=TrainConfig(epochs=2, batch_size=8, sample_every=0, patience=0))
    events = run(corpus, tmp_path / "m", tc=TrainConfig(epochs=4, batch_size=8, sample_every=0, patience=0),
                 resume=True)
    assert events[0].start_epoch == 3
    assert [e.epoch for e in events if isinstance(e, EpochDone)] == [3, 4]
    history = LanguageModel.load(tmp_path / "m").history["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_resume_reports_the_earlier_epochs_and_reruns_those_after_the_saved_state(tmp_path):
    import json

    corpus = tiny_corpus()
    first = run(corpus, tmp_path / "m", tc=TrainConfig(epochs=2, batch_size=8, sample_every=0, patience=0))
    done = [e for e in first if isinstance(e, EpochDone)]
    saved_epoch = max(e.epoch for e in done if e.improved)
    # an epoch that did not improve is in history.json but not in the saved state; a stray record is ignored
    path = tmp_path / "m" / "history.json"
    history = json.loads(path.read_text())
    history["epochs"] = [h for h in history["epochs"] if h["epoch"] <= saved_epoch]
    history["epochs"] += [{"epoch": saved_epoch + 1, "train_loss": 9.0, "valid_loss": 9.0, "valid_ppl": 8103.0},
                          "not a record"]
    path.write_text(json.dumps(history))
    events = run(corpus, tmp_path / "m", tc=TrainConfig(epochs=saved_epoch + 2, batch_size=8, sample_every=0,
                                                        patience=0), resume=True)
    started = events[0]
    assert started.start_epoch == saved_epoch + 1
    assert [h["epoch"] for h in started.earlier] == list(range(1, saved_epoch + 1))
    assert [h["valid_ppl"] for h in started.earlier] == [e.valid_ppl for e in done if e.epoch <= saved_epoch]
    history = LanguageModel.load(tmp_path / "m").history["epochs"]
    assert [h["epoch"] for h in history] == list(range(1, saved_epoch + 3))
    assert 9.0 not in [h["train_loss"] for h in history]


def test_a_fresh_run_has_no_earlier_epochs(tmp_path):
    assert run(tiny_corpus(), tmp_path / "m", tc=replace(FAST, epochs=1))[0].earlier == ()


def test_samples_are_emitted_during_training(tmp_path):
    tc = TrainConfig(epochs=1, batch_size=8, sample_every=5)
    events = run(tiny_corpus(), tmp_path / "m", tc=tc)
    samples = [e for e in events if isinstance(e, Sample)]
    assert samples and all(isinstance(s.text, str) for s in samples)


def test_checkpoint_round_trip_gives_identical_scores(tiny_lm, tmp_path):
    sentences = ["the cat sat on the mat .", "a dog ran ."]
    before = [s.logprob for s in tiny_lm.score(sentences)]
    tiny_lm.save(tmp_path / "copy")
    after = [s.logprob for s in LanguageModel.load(tmp_path / "copy").score(sentences)]
    assert before == after


@pytest.mark.parametrize("tied,emb,hidden", [(True, 16, 16), (True, 8, 16)])
def test_tied_embeddings_share_weights_and_round_trip(tmp_path, tied, emb, hidden):
    mc = ModelConfig(rnn_type="gru", vocab_size=100, emb=emb, hidden=hidden, layers=2, dropout=0.1, tied=tied)
    run(tiny_corpus(), tmp_path / "t", mc=mc, tc=TrainConfig(epochs=1, batch_size=8, sample_every=0))
    lm = LanguageModel.load(tmp_path / "t")
    assert lm.module.decoder.weight.data_ptr() == lm.module.encoder.weight.data_ptr()
    assert math.isfinite(lm.score(["the cat ."])[0].logprob)


@pytest.mark.parametrize("schedule, middle", [("linear", 10.0), ("cosine", 10.0), ("plateau", 20.0),
                                              ("constant", 20.0)])
def test_scheduled_lr_decays_from_the_base_to_zero(schedule, middle):
    assert scheduled_lr(20.0, schedule, 0.0) == 20.0
    assert scheduled_lr(20.0, schedule, 0.5) == pytest.approx(middle)
    assert scheduled_lr(20.0, schedule, 1.0) == pytest.approx(0.0 if schedule in ("linear", "cosine") else 20.0,
                                                              abs=1e-12)
    assert scheduled_lr(20.0, schedule, 2.0) == scheduled_lr(20.0, schedule, 1.0)  # clamped past the end
    if schedule == "cosine":
        assert scheduled_lr(20.0, schedule, 0.25) > scheduled_lr(20.0, "linear", 0.25)


def test_linear_schedule_follows_the_batches_and_ignores_stalls(tmp_path):
    tc = TrainConfig(epochs=3, batch_size=8, bptt=16, sample_every=0, seed=3, patience=0, optimizer="sgd", lr=4.0,
                     schedule="linear", log_every=1)
    events = run(tiny_corpus(), tmp_path / "m", tc=tc)
    batches = [e for e in events if isinstance(e, BatchDone)]
    per_epoch = batches[0].batches
    total = 3 * per_epoch
    for e in batches:  # the rate reported after batch n is the one for batch n + 1
        done = (e.epoch - 1) * per_epoch + e.batch
        assert e.lr == pytest.approx(4.0 * (1 - done / total))
    assert batches[-1].lr == pytest.approx(0.0, abs=1e-12)
    rates = [e.lr for e in batches]
    assert rates == sorted(rates, reverse=True)
    lm = LanguageModel.load(tmp_path / "m")
    assert lm.evaluate(tiny_corpus().valid).perplexity < unigram_perplexity(tiny_corpus(), lm.vocab)


def test_time_budget_schedule_decays_by_the_clock(tmp_path):
    from rnngen.train import Trainer

    tc = TrainConfig(epochs=10_000, batch_size=8, max_minutes=0.03, sample_every=0, schedule="cosine",
                     optimizer="sgd", lr=2.0, log_every=1, patience=0)
    events = list(Trainer(tiny_corpus(), SMALL, tc, tmp_path / "m", clock=ticking(0.05)).run())
    assert events[-1].reason == "time"
    batches = [e for e in events if isinstance(e, BatchDone)]
    # by batches the run is nowhere near its end, so only the clock can have brought the rate this low
    assert batches[-1].lr < 0.1 * 2.0
    assert all(a.lr >= b.lr for a, b in zip(batches, batches[1:]))


def test_unknown_schedule_is_a_config_error():
    from rnngen.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown schedule 'step'"):
        TrainConfig(schedule="step").validate()


def _pair(**extra):
    """Two models with the same weights, one with the given regularisers."""
    from rnngen.model import RNNModel

    base = ModelConfig(rnn_type="lstm", vocab_size=30, emb=8, hidden=8, layers=2, dropout=0.0)
    torch.manual_seed(0)
    plain = RNNModel(base.validate(), 30)
    regular = RNNModel(replace(base, **extra).validate(), 30)
    regular.load_state_dict(plain.state_dict())
    return plain, regular


@pytest.mark.parametrize("extra", [{"weight_drop": 0.5}, {"embed_drop": 0.5}])
def test_weight_and_embedding_dropout_act_only_in_training(extra):
    plain, regular = _pair(**extra)
    ids = torch.randint(0, 30, (3, 7))
    plain.eval(), regular.eval()
    assert torch.equal(plain(ids)[0], regular(ids)[0])  # evaluation uses the weights as they are
    plain.train(), regular.train()
    torch.manual_seed(1)
    out = regular(ids)[0]
    assert not torch.allclose(out, plain(ids)[0])
    out.sum().backward()
    assert regular.rnn.weight_hh_l0.grad is not None and regular.encoder.weight.grad is not None
    assert bool(regular.rnn.weight_hh_l1.grad.abs().sum() > 0)


def test_embedding_dropout_drops_whole_words():
    _, regular = _pair(embed_drop=0.5)
    regular.train()
    torch.manual_seed(2)
    emb = regular._embed(torch.arange(30).repeat(2, 1))
    zero = (emb == 0).all(dim=-1)
    assert 0 < int(zero[0].sum()) < 30
    assert torch.equal(zero[0], zero[1])  # the same word is dropped everywhere in the batch
    kept = ~zero[0]
    torch.testing.assert_close(emb[0][kept], regular.encoder.weight[kept] * 2)


def test_weight_drop_trains_and_saves(tmp_path):
    mc = replace(SMALL, weight_drop=0.3, embed_drop=0.1)
    run(tiny_corpus(), tmp_path / "m", mc=mc)
    lm = LanguageModel.load(tmp_path / "m")
    assert lm.model_config.weight_drop == 0.3 and lm.model_config.embed_drop == 0.1
    assert lm.module.config.weight_drop == 0.3
    assert lm.evaluate(tiny_corpus().valid).perplexity < unigram_perplexity(tiny_corpus(), lm.vocab)


def test_dropout_zeroes_the_given_share_and_keeps_the_mean():
    from rnngen.model import RNNModel

    model = RNNModel(ModelConfig(dropout=0.3, vocab_size=50).validate(), 50).train()
    torch.manual_seed(0)
    x = torch.ones(300, 400)
    y = model._dropout(x)
    assert float((y == 0).float().mean()) == pytest.approx(0.3, abs=0.01)
    assert float(y.mean()) == pytest.approx(1.0, abs=0.02)
    assert torch.unique(y).tolist() == [0.0, pytest.approx(1 / 0.7)]
    assert model.eval()._dropout(x) is x


@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_training_path_layer_by_layer_equals_the_module(rnn_type):
    """Without dropout, the per-layer training kernels give nn.LSTM/GRU/RNN's outputs and state bit for bit."""
    from rnngen.model import RNNModel

    model = RNNModel(ModelConfig(rnn_type=rnn_type, vocab_size=40, emb=8, hidden=8, layers=3,
                                 dropout=0.0).validate(), 40)
    ids = torch.randint(0, 40, (3, 9))
    hidden = model.init_hidden(3)
    emb = model.encoder(ids)
    expected_out, expected_state = model.rnn(emb, hidden)
    out, state = model.train()._layer_steps(emb, hidden)
    assert torch.equal(out, expected_out)
    for got, want in zip(state if isinstance(state, tuple) else (state,),
                         expected_state if isinstance(expected_state, tuple) else (expected_state,)):
        assert torch.equal(got, want)


def test_locked_dropout_shares_one_mask_across_time():
    from rnngen.model import RNNModel

    model = RNNModel(ModelConfig(dropout=0.4, locked_dropout=True, vocab_size=50).validate(), 50).train()
    torch.manual_seed(0)
    y = model._dropout(torch.ones(64, 35, 200))
    zero = y == 0
    assert torch.equal(zero, zero[:, :1].expand_as(zero))  # a unit is dropped for the whole sequence
    assert float(zero[:, 0].float().mean()) == pytest.approx(0.4, abs=0.02)
    assert torch.unique(y).tolist() == [0.0, pytest.approx(1 / 0.6)]
    assert model.eval()._dropout(y) is y


def test_dropout_between_layers_acts_in_training_only():
    plain, regular = _pair(dropout=0.5, locked_dropout=True)
    ids = torch.randint(0, 30, (3, 7))
    plain.eval(), regular.eval()
    assert torch.equal(plain(ids)[0], regular(ids)[0])
    regular.train()
    hidden = regular.init_hidden(3)
    emb = regular.encoder(ids)
    torch.manual_seed(3)
    out, _ = regular._layer_steps(emb, hidden)
    assert not torch.allclose(out, regular.rnn(emb, hidden)[0])


def test_weight_average_is_the_mean_of_the_iterates_and_is_what_gets_saved(tmp_path):
    from rnngen.train import Trainer

    tc = TrainConfig(epochs=1, batch_size=4, bptt=10, sample_every=0, seed=3, mode="stream", patience=0,
                     optimizer="sgd", average=1.0)
    trainer = Trainer(tiny_corpus(), SMALL, tc, tmp_path / "m")
    iterates, update = [], trainer._update_average

    def spy() -> None:
        iterates.append([p.detach().clone() for p in trainer.lm.module.parameters()])
        update()

    trainer._update_average = spy
    events = list(trainer.run())
    assert len(iterates) == [e for e in events if isinstance(e, BatchDone)][-1].batches > 1
    saved = LanguageModel.load(tmp_path / "m").module
    for got, steps in zip(saved.parameters(), zip(*iterates)):
        torch.testing.assert_close(got, torch.stack(steps).mean(0))
    live = dict(trainer.lm.module.named_parameters())
    assert not torch.allclose(live["rnn.weight_hh_l0"], dict(saved.named_parameters())["rnn.weight_hh_l0"])


def test_average_starts_in_the_last_share_of_the_run(tmp_path):
    from rnngen.train import Trainer

    tc = TrainConfig(epochs=4, batch_size=4, bptt=10, sample_every=0, seed=3, mode="stream", patience=0,
                     optimizer="sgd", schedule="linear", average=0.5)
    trainer = Trainer(tiny_corpus(), SMALL, tc, tmp_path / "m")
    seen = []
    update = trainer._update_average
    trainer._update_average = lambda: (seen.append(trainer.epoch), update())
    list(trainer.run())
    # the second half: from the weights after the last batch of epoch 2 (exactly half way) through epoch 4
    assert seen.count(2) == 1 and set(seen) == {2, 3, 4}


def _norm_of_first_batch(tmp_path, clip: float) -> tuple[float, float]:
    """(the norm the trainer recorded, autograd's norm of the same batch's gradient, computed apart)."""
    from rnngen.data import batches
    from rnngen.train import Trainer

    tc = replace(FAST, epochs=1, clip=clip, optimizer="sgd", lr=1.0)
    trainer = Trainer(tiny_corpus(), SMALL, tc, tmp_path / f"n{clip}")
    vocab, module = trainer.lm.vocab, trainer.lm.module
    batch = next(iter(batches(tc.mode, trainer.train_ids, vocab.bos_id, vocab.eos_id, tc.batch_size, tc.bptt,
                              trainer.rng)))
    before = [p.detach().clone() for p in module.parameters()]
    trainer.step(batch, None)
    recorded = float(trainer.grad_norms[0])
    with torch.no_grad():
        for p, value in zip(module.parameters(), before):
            p.copy_(value)
    module.zero_grad()
    loss, _ = module.loss(batch.inputs, batch.targets, None)
    loss.backward()
    by_hand = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in module.parameters() if p.grad is not None))
    trainer.lock.release()
    return recorded, by_hand


@pytest.mark.parametrize("clip", [0.0, 0.25])
def test_the_recorded_gradient_norm_is_autograds_norm_before_clipping(tmp_path, clip):
    recorded, by_hand = _norm_of_first_batch(tmp_path, clip)
    assert recorded == pytest.approx(by_hand, rel=1e-5)


@pytest.mark.parametrize("clip", [0.0, 0.05, 1e9])
def test_every_batch_reports_its_gradient_norm_and_clipping_is_counted(tmp_path, clip):
    from rnngen.events import Gradients

    tc = replace(FAST, epochs=2, clip=clip, log_every=3)
    events = run(tiny_corpus(), tmp_path / "m", tc=tc)
    for epoch in (1, 2):
        grads = [e for e in events if isinstance(e, Gradients) and e.epoch == epoch]
        done = next(e for e in events if isinstance(e, EpochDone) and e.epoch == epoch)
        norms = [n for g in grads for n in g.norms]
        assert len(norms) == done.batches == grads[-1].batches  # each batch once
        assert [g.batch for g in grads] == sorted({min(k * 3, done.batches) for k in range(1, done.batches // 3 + 2)})
        assert all(n > 0 and math.isfinite(n) for n in norms)
        assert done.clipped == sum(g.clipped for g in grads) == (sum(n > clip for n in norms) if clip else 0)
    if clip == 0.05:
        assert done.clipped == done.batches  # a tiny threshold cuts every batch
    if clip == 1e9:
        assert done.clipped == 0
