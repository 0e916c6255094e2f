"""Training progress as small immutable events; any front end can render them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Started:
    """Training set up: sizes a progress display needs before the first batch."""

    epochs: int
    batches_per_epoch: int
    train_tokens: int
    vocab_size: int
    parameters: int
    device: str
    start_epoch: int = 1
    # a resumed run's epochs so far (the checkpoint's history records), so a display can redraw them
    earlier: tuple[dict, ...] = ()


@dataclass(frozen=True)
class BatchDone:
    epoch: int
    batch: int
    batches: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float

    @property
    def fraction(self) -> float:
        return self.batch / self.batches if self.batches else 0.0


@dataclass(frozen=True)
class Gradients:
    """The gradient norm of every batch since the last report, before clipping (Pascanu et al. 2013).

    Never dropped by a front end that coalesces progress: each batch's norm is drawn, and `clipped`
    counts the batches whose norm was above `clip` (0: clipping off), so clipping shows as it fires.
    """

    epoch: int
    batch: int
    batches: int
    norms: tuple[float, ...]
    clip: float
    clipped: int

    @property
    def exploding(self) -> bool:
        """True when a norm is not finite: the gradients exploded past float range."""
        return not all(math.isfinite(n) for n in self.norms)


@dataclass(frozen=True)
class EpochDone:
    epoch: int
    train_loss: float
    valid_loss: float
    valid_ppl: float
    lr: float
    improved: bool
    elapsed_s: float
    clipped: int = 0  # batches of this epoch whose gradient norm was above the clipping threshold
    batches: int = 0  # batches of this epoch (the share clipped is clipped / batches)


@dataclass(frozen=True)
class Sample:
    """A sentence generated mid-training so people can watch the model learn."""

    epoch: int
    batch: int
    text: str


@dataclass(frozen=True)
class Checkpointed:
    path: Path
    epoch: int
    valid_ppl: float


@dataclass(frozen=True)
class Finished:
    """Training ended; `reason` is one of epochs, time, early-stop, stopped."""

    reason: str
    epochs_run: int
    best_valid_ppl: float
    path: Path
    elapsed_s: float


Event = Started | BatchDone | Gradients | EpochDone | Sample | Checkpointed | Finished
