"""One process of a distributed run: who it is, how it agrees with the others, and the model they train.

torchrun (or `rnngen train --nproc N`, through `rnngen.launch`) starts one process per rank with RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment; `start()` joins them in one
process group: gloo for tensors on the CPU, nccl for tensors on a GPU. The ranks must take the same
branches in the same order, or one leaves the loop while another waits in a collective for ever, so
whatever steers the loop is agreed here: each step's tokens and the stop flag (`share`), the clock
(`clock`), sums such as validation's (`all_sum`), and errors while setting up (`together`, `from_main`).
A single process is `SINGLE`, for which each of these is the plain local thing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import torch
from torch import nn

from rnngen.errors import ConfigError, RnngenError

T = TypeVar("T")
# Set by `rnngen.launch` for the processes it starts: when one dies, the launcher's line says so, not theirs.
LAUNCHED_ENV = "RNNGEN_LAUNCHED"


def launched() -> bool:
    """Whether this process is one rank of a run that torchrun or `rnngen train --nproc` started."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@dataclass(frozen=True)
class Context:
    """This process's place in the run: `rank` of `world`, and `local_rank` of `local_world` on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: holds the model's lock, writes checkpoints and events, shows the progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def device(self, device: torch.device) -> torch.device:
        """The device this rank trains on: on GPUs, the one of its local rank."""
        if not self.distributed or device.type == "cpu":
            return device
        if device.type == "cuda":
            return torch.device("cuda", self.local_rank % torch.cuda.device_count())
        raise ConfigError(f"a distributed run trains on CPUs (gloo) or CUDA GPUs (nccl), not {device.type}: "
                          "use {device} cpu", ("device",))

    @staticmethod
    def backend(device: torch.device) -> str:
        """What carries the gradients of a model on `device`."""
        return "nccl" if device.type == "cuda" else "gloo"

    # -- agreeing ------------------------------------------------------------------------------------
    def all_sum(self, *values: float) -> list[float]:
        """`values` summed over the ranks: in float64, exact for counts and the same bits on every rank."""
        if not self.distributed:
            return list(values)
        import torch.distributed as dist

        total = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(total)
        return total.tolist()

    def share(self, tokens: int, stop: bool) -> tuple[float, int, bool]:
        """A training step's one all-reduce: this rank's weight in the step, the step's tokens over all
        ranks, and whether any rank was asked to stop (so that all stop after the same step).

        Each rank's loss is the mean over its own tokens and DDP averages gradients over ranks, so a loss
        weighed by tokens * world / all tokens gives the gradient of the mean over the global batch: W
        ranks of batch B/W take the step one process of batch B takes.
        """
        total, stops = self.all_sum(tokens, float(stop))
        return tokens * self.world / max(total, 1.0), int(total), stops > 0

    def clock(self, local: Callable[[], float]) -> Callable[[], float]:
        """A clock every rank reads alike, for the deadline and time-based schedules: rank 0's time,
        broadcast at each call (the ranks run the same code, so they call it equally often)."""
        if not self.distributed:
            return local

        def agreed() -> float:
            import torch.distributed as dist

            now = torch.tensor([local() if self.is_main else 0.0], dtype=torch.float64)
            dist.broadcast(now, 0)
            return float(now)
        return agreed

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def seed(self, seed: int) -> int:
        """The dropout seed of this rank: the ranks' rows draw different masks, as the rows of one batch do."""
        return seed + 1_000_003 * self.rank

    def together(self, fn: Callable[..., T], *args: Any, main_only: bool = False) -> T | None:
        """`fn(*args)` on every rank (on rank 0 alone with `main_only`), then agree whether it failed.

        A user error on any rank stops them all: its rank raises it, the others an error naming that rank,
        so no rank goes on to wait for one that has left.
        """
        result, error = None, None
        if self.is_main or not main_only:
            try:
                result = fn(*args)
            except RnngenError as exc:
                error = exc
        if self.distributed:
            import torch.distributed as dist

            said: list = [None] * self.world
            dist.all_gather_object(said, None if error is None else (error.message, error.options))
            failed = [(rank, what) for rank, what in enumerate(said) if what is not None]
            if failed and error is None:
                rank, (message, options) = failed[0]
                error = RnngenError(f"rank {rank} could not start: {message}", options)
        if error is not None:
            raise error
        return result

    def agree(self, value: str, what: str) -> None:
        """Stop every rank when they hold different `value`s (a corpus whose files differ between machines,
        or changed between two ranks' reads): ranks that trained on different text would disagree silently."""
        if not self.distributed:
            return
        import torch.distributed as dist

        said: list = [None] * self.world
        dist.all_gather_object(said, value)
        if len(set(said)) > 1:
            ranks = ", ".join(str(r) for r, v in enumerate(said) if v != said[0])
            raise RnngenError(f"the processes read different {what}: rank(s) {ranks} differ from rank 0 (the "
                              "files differ between the machines, or changed while they were read)")

    def from_main(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` as rank 0 computes it, on every rank: a choice that could come out differently on
        each (a timed probe of the machine) is made once. Rank 0's user error stops every rank."""
        if not self.distributed:
            return fn(*args)
        import torch.distributed as dist

        box: list = [None]
        error = None
        if self.is_main:
            try:
                box = [("value", fn(*args))]
            except RnngenError as exc:
                error, box = exc, [("error", exc.message, exc.options)]
        dist.broadcast_object_list(box, src=0)
        if box[0][0] == "value":
            return box[0][1]
        if error is not None:
            raise error
        raise RnngenError(f"rank 0 could not start: {box[0][1]}", box[0][2])

    # -- the model -----------------------------------------------------------------------------------
    def wrap(self, model: nn.Module, find_unused: bool = False) -> nn.Module | None:
        """`model` under DistributedDataParallel (None in one process): calling the result returns
        `model.loss(ids, targets, hidden, fused=...)`, and its backward averages the gradients over the
        ranks. `find_unused` for an adaptive softmax, whose tail clusters a batch may not reach."""
        if not self.distributed:
            return None
        from torch.nn.parallel import DistributedDataParallel

        device = next(model.parameters()).device
        # (the model has no buffers, so DDP's forward sends nothing before the step's own all-reduce)
        return DistributedDataParallel(TrainingLoss(model), device_ids=[device.index] if device.type == "cuda" else None,
                                       find_unused_parameters=find_unused)

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


SINGLE = Context()


class TrainingLoss(nn.Module):
    """What DDP wraps: the model's training loss as a forward pass, so that the reducer sees every gradient.

    The embedding's gradient is left to autograd (`defer_lookup=False`): `RNNModel.backward` adds a
    deferred one outside autograd, where DDP would not all-reduce it.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, targets: torch.Tensor, hidden: Any, fused: bool = True):
        return self.model.loss(ids, targets, hidden, fused=fused, defer_lookup=False)


def start() -> Context:
    """Join the run that torchrun described in this process's environment (a world of one is no run)."""
    import torch.distributed as dist

    env = os.environ
    context = Context(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)),
                      int(env.get("LOCAL_WORLD_SIZE", 1)))
    if not context.distributed:
        return context
    gpus = torch.cuda.is_available() and dist.is_nccl_available()
    if gpus:
        torch.cuda.set_device(context.local_rank % torch.cuda.device_count())
    # object collectives and barriers take gloo (`together`); tensors take the backend of their device
    dist.init_process_group("cpu:gloo,cuda:nccl" if gpus else "gloo")
    return context


def peer_lost(exc: BaseException) -> bool:
    """Whether `exc` is a collective that failed because another rank is gone (it died, or was stopped)."""
    import torch.distributed as dist

    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("/gloo/" in text or "Connection closed by peer" in text
                                              or "Connection reset by peer" in text)
