"""Training to a time budget: how fast this machine trains a configuration, and what to train in the time.

A configuration chosen where twenty epochs fit in the budget is not the best one where four do: heavy
regularisation and weight averaging pay off late. `rnngen train --max-minutes` (with the `auto` preset)
and the benchmark measure the machine's speed on the corpus itself for a few seconds, count the epochs
that fit, and lighten the recipe when few do (`for_budget`; the evidence is in BENCHMARKS.md, "Budgets on
slower machines").
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rnngen.config import ModelConfig, TrainConfig
from rnngen.data import IGNORE, batches

# Below this many epochs in the budget the recipe is lightened (measured on wt2-mini: BENCHMARKS.md).
FEW_EPOCHS = 8
PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class Fit:
    """What a budget holds on this machine: training tokens per second and the epochs that fit."""

    tokens_per_s: float
    epochs: float

    def describe(self) -> str:
        return f"{self.tokens_per_s:,.0f} training tokens/s here: about {self.epochs:.1f} epochs fit"


def measure(corpus, model_config: ModelConfig, train_config: TrainConfig, minutes: float,
            seconds: float = PROBE_SECONDS) -> Fit:
    """Train a throw-away copy of the configuration on the corpus for `seconds` and count what the budget holds
    (validation each epoch costs about a third of a pass over the validation split)."""
    from rnngen.train import Trainer

    with tempfile.TemporaryDirectory(prefix="rnngen-probe-") as tmp:
        trainer = Trainer(corpus, model_config, train_config, Path(tmp) / "probe")
        try:
            cfg, vocab = trainer.config, trainer.lm.vocab
            trainer.lm.module.train()
            layout = batches(cfg.mode, trainer.train_ids, vocab.bos_id, vocab.eos_id, cfg.batch_size, cfg.bptt,
                             trainer.rng)
            hidden, tokens, start, first = None, 0, 0.0, True
            for batch in layout:
                loss, hidden = trainer.step(batch, hidden)
                float(loss)
                if first:  # the first step pays for allocation and thread start-up
                    first, start = False, time.perf_counter()
                    continue
                tokens += int((batch.targets != IGNORE).sum())
                if time.perf_counter() - start >= seconds:
                    break
            elapsed = max(time.perf_counter() - start, 1e-9)
            train_tokens = sum(len(s) + 1 for s in trainer.train_ids)
            valid_tokens = sum(len(s) + 1 for s in trainer.valid_ids)
        finally:
            trainer.lock.release()
    rate = tokens / elapsed
    per_epoch = (train_tokens + valid_tokens / 3) / max(rate, 1e-9)
    return Fit(rate, minutes * 60 / per_epoch)


def for_budget(model_config: ModelConfig, train_config: TrainConfig, fit: Fit
               ) -> tuple[ModelConfig, TrainConfig, str]:
    """The configuration to train when `fit` says how many epochs the budget holds, and what was changed.

    Where fewer than FEW_EPOCHS fit, the recipe is lightened: at most 200 units, dropout at most 0.3, no word
    dropout, and a learning rate decaying linearly to the deadline instead of averaging (measured on wt2-mini
    with about 2-3 epochs in the budget: test perplexity 253.5 against 341.7 for the 20-epoch recipe and 407.3
    for the PyTorch reference; BENCHMARKS.md). Otherwise the configuration is kept as it is.
    """
    if fit.epochs >= FEW_EPOCHS:
        return model_config, train_config, ""
    light_model = replace(model_config, emb=min(model_config.emb, 200), hidden=min(model_config.hidden, 200),
                          dropout=min(model_config.dropout, 0.3), embed_drop=0.0)
    light_train = train_config
    if train_config.average or train_config.schedule in ("constant", "plateau"):
        light_train = replace(train_config, schedule="linear", average=0.0)
    changes = [f"{name} {getattr(model_config, name)} -> {getattr(light_model, name)}"
               for name in ("emb", "hidden", "dropout", "embed_drop")
               if getattr(model_config, name) != getattr(light_model, name)]
    changes += [f"{name} {getattr(train_config, name)} -> {getattr(light_train, name)}"
                for name in ("schedule", "average") if getattr(train_config, name) != getattr(light_train, name)]
    return light_model, light_train, ", ".join(changes)
