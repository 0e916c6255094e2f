"""The training loop as a generator of progress events.

`train()` yields `rnngen.events` objects; the CLI draws them with a progress
bar and the TUI posts them to widgets from a worker thread. Setting the `stop`
event makes it finish the current batch, keep the better of the saved and the
current model, and return.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import torch

from rnngen.config import ModelConfig, TrainConfig, to_dict
from rnngen.corpus.base import Corpus
from rnngen.data import Batch, batches, count_batches, evaluation_batches
from rnngen.ids import IdSentences
from rnngen import hardware
from rnngen.checkpoint import is_record
from rnngen.distributed import SINGLE, Context
from rnngen.errors import CheckpointError, ConfigError, CorpusError
from rnngen.events import BatchDone, Checkpointed, EpochDone, Event, Finished, Gradients, Sample, Started
from rnngen.generate import SamplingSettings, generate
from rnngen.lm import LanguageModel
from rnngen.model import Hidden, RNNModel, detach, select_device
from rnngen.score import evaluate_ids
from rnngen import checkpoint
from rnngen.lock import ModelLock
from rnngen.vocab import Vocabulary


MAX_LOG_PPL = 700.0  # exp(700) is near float64's largest: a diverged model's perplexity stays a number


def make_optimizer(params, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)  # 0 means none, as it says
    return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay)


def scheduled_lr(base: float, schedule: str, fraction: float) -> float:
    """The learning rate `fraction` of the way through a decaying schedule.

    Decaying to zero by the end of a known budget beats waiting for
    validation to stall when the budget is short (Li et al., "Budgeted
    training", 2020): the plateau rule may never fire in a few epochs.
    `constant` keeps the rate, for averaged SGD (`--average`), where the mean
    of the iterates does the settling a decay would.
    """
    fraction = min(max(fraction, 0.0), 1.0)
    if schedule == "linear":
        return base * (1.0 - fraction)
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * fraction))
    return base


def check_sizes(train_ids: list[list[int]], valid_ids: list[list[int]], config: TrainConfig) -> None:
    """Refuse corpora that cannot fill one batch (of every process), with a hint what to change."""
    rows = config.batch_size * config.nproc
    batch = f"{config.batch_size} x {config.nproc} processes" if config.nproc > 1 else str(config.batch_size)
    if not valid_ids:
        raise CorpusError("the validation split is empty")
    if config.mode == "stream":
        tokens = stream_length(train_ids)
        if tokens < rows * (config.bptt + 1):
            raise CorpusError(
                f"the training split has {tokens} tokens, too few for batch size {batch} x bptt "
                f"{config.bptt}; use a smaller {{batch_size}} or {{bptt}}", options=("batch_size", "bptt"))
        held = stream_length(valid_ids)
        if held < rows + 1:  # validation lays its text out in as many rows: with fewer tokens it scores nothing
            raise CorpusError(f"the validation split has {held} tokens, too few for batch size {batch}; use a "
                              "smaller {batch_size}", options=("batch_size",))
    elif len(train_ids) < rows:
        raise CorpusError(
            f"the training split has {len(train_ids)} sentences, fewer than the batch size {batch}; "
            "use a smaller {batch_size}", options=("batch_size",))


def stream_length(sentences) -> int:
    """Tokens of sentences laid end to end as `<s> w.. </s>` (the stream layout)."""
    ids = IdSentences.of(sentences)
    return ids.num_tokens + 2 * len(ids)


class Trainer:
    """Holds the model, data and loop state; `run()` yields events."""

    def __init__(self, corpus: Corpus, model_config: ModelConfig, train_config: TrainConfig, out: Path,
                 stop: threading.Event | None = None, resume: bool = False,
                 clock: Callable[[], float] = time.perf_counter, force: bool = False, fused: bool = True,
                 context: Context = SINGLE) -> None:
        """`force` consents to replacing a model already at `out` (without it a fresh run refuses to start);
        `fused=False` trains on the plain PyTorch path (the equivalence tests' and the benchmark's reference);
        `context` is this process's rank in a distributed run (`rnngen.distributed`), which it records as `nproc`."""
        self.context = context
        train_config = replace(train_config, nproc=context.world)
        self.config = train_config.validate()
        # What --max-minutes, the schedule and tokens/s are timed by: the bench passes a clock that runs only
        # while this trainer does, so two runs can take turns on the machine (`rnngen.bench.turns`). The ranks
        # of a distributed run read rank 0's, so that they pass a deadline at the same step.
        self.clock = context.clock(clock)
        self.out = checkpoint.resolve(out)
        # `requested` is the caller's stop; `stop` is the one the loop obeys: in a distributed run, set on every
        # rank after the same step, once any rank was asked (`Context.share`)
        self.requested = stop or threading.Event()
        self.stop = threading.Event() if context.distributed else self.requested
        self.corpus = corpus
        # The fused output layer + cross-entropy (rnngen.loss) and the embedding gradient added in place
        # (`RNNModel.backward`); `fused=False` is the plain PyTorch path.
        self.fused = fused
        self.device = context.device(select_device(train_config.device))
        # held (by rank 0) for the whole run: a second training of the same model is refused with who holds it
        self.lock = ModelLock(self.out)
        try:
            context.together(self._claim, resume, force, main_only=True)  # before any rank reads the folder
            context.together(self._setup, corpus, model_config, train_config, resume, force)
            # gradients averaged over the ranks (None in one process); every parameter of a full softmax is used
            self.ddp = context.wrap(self.lm.module, find_unused=self.lm.model_config.softmax == "adaptive")
        except BaseException:
            self.lock.release()
            raise

    def _claim(self, resume: bool, force: bool) -> None:
        """Take the model's lock, finish a save cut short, and refuse to replace a model without consent."""
        self.lock.acquire()
        checkpoint.recover(self.out)
        if not resume:
            checkpoint.check_replaceable(self.out, None, force)

    def _setup(self, corpus: Corpus, model_config: ModelConfig, train_config: TrainConfig, resume: bool,
               force: bool) -> None:
        # the first save of a fresh run replaces what is there only with consent (checked above)
        self.replace = force and not resume
        # The run's own random numbers: batch order from `rng`, dropout masks from `generator`, weights
        # drawn under the seed in a fork of torch's global state, which the run leaves as it found it.
        self.rng = random.Random(train_config.seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(self.context.seed(train_config.seed))
        self.grad_norms: list[torch.Tensor] = []  # this report window's gradient norms, read when reported
        self.epoch_clipped = self.epoch_batches = 0
        state = self._resume_state() if resume else None
        if state is not None:
            self.lm = LanguageModel.load(self.out, self.device)
            saved = self.lm.train_config.optimizer
            if saved != train_config.optimizer:  # its saved state would not fit (Adam's moments are not SGD's)
                raise ConfigError(f"cannot resume: {self.out.name} was trained with {saved}, not "
                                  f"{train_config.optimizer}: resume with {{optimizer}} {saved} (the CLI's --resume "
                                  "alone keeps the model's own settings)", ("optimizer",))
            self.lm.train_config = train_config
        else:
            model_config.validate()
            vocab = Vocabulary.build(corpus.train, model_config.vocab_size)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(train_config.seed)
                self.lm = LanguageModel.new(model_config, vocab, corpus.settings, train_config)
            self.lm.corpus = corpus.describe()
            self.lm.module.to(self.device)
        self.lm.module.generator = self.generator
        vocab = self.lm.vocab
        self.train_ids = vocab.encode_all(corpus.train)
        self.valid_ids = vocab.encode_all(corpus.valid)
        check_sizes(self.train_ids, self.valid_ids, train_config)
        # bf16 autocast (`--precision bf16`): products in bfloat16, weights, optimiser and loss in float32.
        self.amp = train_config.precision == "bf16"
        # oneDNN's bf16 RNN primitive exists only on CPUs with native bf16; elsewhere the recurrent layers take
        # ATen's own kernels in float32 (`hardware.rnn_autocast`), so bf16 trains on every CPU.
        self.amp_context = hardware.rnn_autocast(self.device) if self.amp else contextlib.nullcontext
        self.optimizer = make_optimizer(self.lm.module.parameters(), train_config, train_config.learning_rate)
        self.epoch, self.best, self.stale = 1, math.inf, 0
        # the running mean of the weights over the run's last `average` share (None until it starts)
        self.averaged: torch.optim.swa_utils.AveragedModel | None = None
        self.history: list[dict] = []
        if state is not None:
            self._restore(state)

    @property
    def lr(self) -> float:
        """The learning rate now: the optimiser's own, the one place it is kept (the config holds the first)."""
        return self.optimizer.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = value

    def _resume_state(self) -> dict | None:
        if not (self.out / "config.json").exists():
            raise ConfigError(f"cannot resume: no model at {self.out}")
        state = checkpoint.load_trainer_state(self.out)
        if state is None:
            raise ConfigError(f"cannot resume: {self.out} has no trainer state")
        return state

    def _restore(self, state: dict) -> None:
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise CheckpointError(f"cannot resume: {self.out}/trainer.pt holds another model's or another "
                                  f"optimizer's state ({str(exc).splitlines()[0][:120]})") from None
        self.lr = float(state["lr"])  # as saved (the optimiser's state holds it too)
        self.epoch = int(state["epoch"]) + 1
        self.best = float(state["best"])
        self.stale = int(state.get("stale", 0))
        # epochs run after the saved state (no improvement, so not saved) are run again from it
        self.history = [h for h in self.lm.history.get("epochs", []) if is_record(h) and h["epoch"] < self.epoch]
        self.rng.seed(self.config.seed + self.epoch)
        self.generator.manual_seed(self.context.seed(self.config.seed + self.epoch))

    # -- the loop ---------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        try:
            yield from self._run()
        finally:
            self.lock.release()

    def _run(self) -> Iterator[Event]:
        cfg, module = self.config, self.lm.module
        per_epoch = count_batches(cfg.mode, self.train_ids, cfg.batch_size, cfg.bptt, world=self.context.world)
        start = self.clock()
        deadline = start + cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf
        train = IdSentences.of(self.train_ids)
        yield Started(cfg.epochs, per_epoch, train.num_tokens + len(train), len(self.lm.vocab),
                      module.num_parameters(), str(self.device), self.epoch, tuple(self.history))
        reason, epochs_run = "epochs", 0
        first_epoch = self.epoch
        while self.epoch <= cfg.epochs:
            outcome = yield from self._epoch(start, deadline, first_epoch)
            epochs_run += 1
            train_loss = outcome
            yield from self._end_epoch(train_loss, start)
            if self.stop.is_set():
                reason = "stopped"
                break
            if self.clock() >= deadline:
                reason = "time"
                break
            if cfg.patience and self.stale >= cfg.patience:
                reason = "early-stop"
                break
            self.epoch += 1
        yield Finished(reason, epochs_run, self.best, self.out, self.clock() - start)

    def _epoch(self, start: float, deadline: float, first_epoch: int):
        cfg, module, vocab = self.config, self.lm.module, self.lm.vocab
        module.train()
        # float64 like the Python float it replaces (MPS has no float64)
        acc = torch.float32 if self.device.type == "mps" else torch.float64
        hidden, loss_sum, total_tokens = None, torch.zeros((), dtype=acc, device=self.device), 0
        window_tokens, window_start = 0, self.clock()
        tps = 0.0
        # Shifted cuts: a word is not the first of its window every epoch, where it has the shortest context.
        offset = self.rng.randrange(cfg.bptt) if cfg.shift_cuts and cfg.mode == "stream" else 0
        rank, world = self.context.rank, self.context.world  # this rank's share of the epoch
        per_epoch = count_batches(cfg.mode, self.train_ids, cfg.batch_size, cfg.bptt, offset, world)
        data = batches(cfg.mode, self.train_ids, vocab.bos_id, vocab.eos_id, cfg.batch_size, cfg.bptt, self.rng,
                       offset, rank, world)
        self.grad_norms, self.epoch_clipped, self.epoch_batches = [], 0, 0
        for n, batch in enumerate(data, 1):
            loss, hidden = self.step(batch, hidden)
            self.epoch_batches = n
            self._follow_run(n, per_epoch, start, deadline)
            tokens = batch.num_tokens
            # Summed as a tensor and read only when reported, so a GPU is not synced every batch.
            loss_sum = loss_sum + loss.to(acc) * tokens
            total_tokens += tokens
            window_tokens += self.step_tokens  # of all ranks: the run's speed
            now = self.clock()
            if n % cfg.log_every == 0 or n == per_epoch:
                mean_loss = self._mean_loss(loss_sum, total_tokens)
                tps = window_tokens / max(now - window_start, 1e-9)
                window_tokens, window_start = 0, now
                yield self._gradients(n, per_epoch)
                yield BatchDone(self.epoch, n, per_epoch, mean_loss, self.lr, tps,
                                now - start, self._eta(n, per_epoch, now, start, deadline, first_epoch))
            if cfg.sample_every and n % cfg.sample_every == 0:
                yield Sample(self.epoch, n, self.sample_text())  # sampling leaves the module training
            if self.stop.is_set() or now >= deadline:
                break
        if self.grad_norms:  # stopped between reports: the last batches' norms are still shown
            yield self._gradients(self.epoch_batches, per_epoch)
        return self._mean_loss(loss_sum, total_tokens)

    def _mean_loss(self, loss_sum: torch.Tensor, tokens: int) -> float:
        """The mean training loss over these tokens of every rank (all ranks get the same, and stop alike
        if it diverged)."""
        total, count = self.context.all_sum(float(loss_sum), tokens)
        return self._checked(total) / max(count, 1)

    def step(self, batch: Batch, hidden: Hidden | None) -> tuple[torch.Tensor, Hidden]:
        """One truncated-BPTT update: the batch's mean loss (detached, not read back) and the state to carry."""
        cfg, module = self.config, self.lm.module
        inputs = batch.inputs.to(self.device, non_blocking=True)
        targets = batch.targets.to(self.device, non_blocking=True)
        hidden = None if batch.reset or hidden is None else detach(hidden)
        weight, self.step_tokens = 1.0, batch.num_tokens
        if self.ddp is not None:  # this rank's part of the global batch, and whether any rank was asked to stop
            weight, self.step_tokens, stopping = self.context.share(batch.num_tokens, self.requested.is_set())
            if stopping:
                self.stop.set()
        with self.amp_context(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            if self.ddp is None:
                loss, hidden = module.loss(inputs, targets, hidden, fused=self.fused and not self.amp,
                                           defer_lookup=self.fused)
            else:  # through DDP, whose backward averages the gradients over the ranks
                loss, hidden = self.ddp(inputs, targets, hidden, fused=self.fused and not self.amp)
        self.optimizer.zero_grad(set_to_none=True)
        module.backward(loss * weight if self.ddp is not None else loss)  # adds a deferred embedding gradient
        # The norm before clipping, kept as a tensor and read when reported (as the loss is); clipping off, it
        # is measured all the same, so the Train tab shows what clipping would do.
        if cfg.clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in module.parameters() if p.grad is not None])
        self.grad_norms.append(norm.detach())
        self.optimizer.step()
        return loss.detach().float(), hidden

    def _gradients(self, n: int, per_epoch: int) -> Gradients:
        """The norms of the batches since the last report, and how many of them clipping cut."""
        norms = tuple(torch.stack(self.grad_norms).float().tolist()) if self.grad_norms else ()
        self.grad_norms = []
        clip = self.config.clip
        clipped = sum(1 for v in norms if v > clip) if clip > 0 else 0
        self.epoch_clipped += clipped
        return Gradients(self.epoch, n, per_epoch, norms, clip, clipped)

    def _follow_run(self, n: int, per_epoch: int, start: float, deadline: float) -> None:
        """What depends on how far the run is: a decaying learning rate, and the weight average's window."""
        cfg = self.config
        if cfg.schedule == "plateau" and not cfg.average:
            return
        progress = self._progress(n, per_epoch, start, deadline)
        if cfg.schedule != "plateau":
            self.lr = scheduled_lr(cfg.learning_rate, cfg.schedule, progress)
        if cfg.average and progress >= 1.0 - cfg.average:
            self._update_average()

    def _progress(self, n: int, per_epoch: int, start: float, deadline: float) -> float:
        """How far through the run this batch is (0-1): by batches, or by the clock when that is further."""
        by_batches = ((self.epoch - 1) * per_epoch + n) / (self.config.epochs * per_epoch)
        by_time = (self.clock() - start) / (deadline - start) if math.isfinite(deadline) else 0.0
        return max(by_batches, by_time)

    def _update_average(self) -> None:
        """Fold the current weights into the running mean (Polyak & Juditsky 1992; the "A" of AWD-LSTM's NT-ASGD).

        SGD's iterates bounce around a minimum; their mean sits nearer its
        centre than any one of them. Validation and the saved model use the mean.
        """
        from torch.optim.swa_utils import AveragedModel

        if self.averaged is None:
            self.averaged = AveragedModel(self.lm.module, use_buffers=False)
        self.averaged.update_parameters(self.lm.module)

    @property
    def evaluated(self) -> RNNModel:
        """The weights validation judges and a checkpoint keeps: the running average once it has begun."""
        return self.averaged.module if self.averaged is not None else self.lm.module

    @staticmethod
    def _checked(loss_sum: torch.Tensor | float) -> float:
        value = float(loss_sum)
        if not math.isfinite(value):
            raise ConfigError("training diverged (the loss is not finite); try a lower {lr} or a smaller {clip}",
                              options=("lr", "clip"))
        return value

    def _eta(self, n: int, per_epoch: int, now: float, start: float, deadline: float, first_epoch: int) -> float:
        done = (self.epoch - first_epoch) * per_epoch + n
        remaining = (self.config.epochs - self.epoch) * per_epoch + (per_epoch - n)
        eta = (now - start) / max(done, 1) * remaining
        return min(eta, max(deadline - now, 0.0))

    def _end_epoch(self, train_loss: float, start: float) -> Iterator[Event]:
        cfg, vocab, ctx = self.config, self.lm.vocab, self.context
        # each rank scores its share; the sums over ranks are what one process scoring it all finds
        nll, count = ctx.all_sum(*evaluate_ids(self.evaluated, evaluation_batches(
            cfg.mode, self.valid_ids, vocab.bos_id, vocab.eos_id, cfg.batch_size, cfg.bptt, ctx.rank, ctx.world)))
        valid_loss = nll / max(count, 1)
        ppl = math.exp(min(valid_loss, MAX_LOG_PPL))
        improved = valid_loss < math.log(self.best) if math.isfinite(self.best) else True
        elapsed = self.clock() - start
        self.history.append({"epoch": self.epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                             "valid_ppl": ppl, "lr": self.lr, "elapsed_s": elapsed})
        yield EpochDone(self.epoch, train_loss, valid_loss, ppl, self.lr, improved, elapsed, self.epoch_clipped,
                        self.epoch_batches)
        if improved:
            self.best, self.stale = ppl, 0
            yield self._save(ppl)
        else:
            self.stale += 1
            if cfg.schedule == "plateau":  # a decaying schedule alone sets the rate
                self.lr /= cfg.anneal if cfg.optimizer == "sgd" else max(cfg.anneal / 2, 1.0)
            self._save_history()

    def _save(self, ppl: float) -> Checkpointed:
        self.lm.history = self._history_dict()
        state = {"optimizer": self.optimizer.state_dict(), "lr": self.lr, "epoch": self.epoch, "best": self.best,
                 "stale": self.stale}
        if self.context.is_main:  # rank 0 alone writes; the others wait until it has
            live, self.lm.module = self.lm.module, self.evaluated
            try:
                self.lm.save(self.out, trainer_state=state, replace=self.replace)
            finally:
                self.lm.module = live
        self.context.barrier()
        self.replace = False  # from now on the folder holds this run's model
        return Checkpointed(self.out, self.epoch, ppl)

    def _save_history(self) -> None:
        """Record an epoch that did not improve without touching the best weights."""
        if self.context.is_main and (self.out / "history.json").exists() and checkpoint.is_model_folder(self.out):
            checkpoint.write_json(self.out / "history.json", self._history_dict())

    def _history_dict(self) -> dict:
        return {"epochs": self.history, "best_valid_ppl": self.best, "train_config": to_dict(self.config)}

    def sample_text(self, max_words: int = 25) -> str:
        """One sentence from the model as it is now, for watching it learn."""
        seed = self.rng.randrange(2**31)
        words = [s.word for s in generate(self.lm.module, self.lm.vocab, (),
                                          SamplingSettings(max_words=max_words, seed=seed), alternatives=0)]
        return self.lm.detokenize([w for w in words if w != "</s>"])


def saved_configs(out: Path | str) -> tuple[ModelConfig, TrainConfig]:
    """The model and training settings a saved model was trained with: where `--resume` starts from, so that
    the optimiser state it saved fits the optimiser it resumes with."""
    from rnngen.config import from_dict

    data = checkpoint.read(checkpoint.resolve(out))
    try:
        return (from_dict(ModelConfig, data.config["model"]).validate(),
                from_dict(TrainConfig, data.config.get("train", {})).validate())
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{out}: config.json cannot be resumed from: {exc}") from None


def train(corpus: Corpus, model_config: ModelConfig, train_config: TrainConfig, out: Path | str,
          stop: threading.Event | None = None, resume: bool = False, force: bool = False,
          preset: dict | None = None, context: Context = SINGLE) -> Iterator[Event]:
    """Train and yield progress events; the best model is saved in `out` as it improves.

    A model already at `out` is continued with `resume`, replaced with
    `force`, and otherwise refused before anything runs. With a `context` this process is one rank of a
    distributed run (`rnngen.distributed`): every rank trains, rank 0 alone saves.
    """
    trainer = Trainer(corpus, model_config, train_config, out, stop, resume, force=force, context=context)
    if preset is not None and not resume:  # which preset the options started from, and why (config.json)
        trainer.lm.preset = preset
    return trainer.run()  # a str keeps its ./
