"""`rnngen train --nproc N`: the same command in N processes as one distributed run, and one line if it fails.

The processes start as `torchrun --standalone --nproc-per-node N -m rnngen train ...` starts them: through
torch's elastic launcher, in this process, with a c10d rendezvous on a free local port and no restarts.
Each finds RANK in its environment and trains as one rank (`rnngen.distributed`) instead of launching
again. When one dies the launcher stops the others, and what is left to say is which one, how, and what
the run kept: saves are atomic (`rnngen.checkpoint`), so the last checkpoint is whole.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch

from rnngen import checkpoint
from rnngen.display import fmt_ppl
from rnngen.distributed import LAUNCHED_ENV
from rnngen.errors import ConfigError, ExitCode, RnngenError
from rnngen.hardware import usable_cores


@dataclass(frozen=True)
class Failure:
    """How a distributed run ended badly: the exit status, and the line to say (None: a process said it)."""

    code: int
    message: str | None = None


def check(nproc: int, device: torch.device) -> None:
    """Refuse more processes than can run side by side, before any starts: one per CPU core or per GPU."""
    if device.type == "cuda":
        gpus = torch.cuda.device_count()
        if nproc > gpus:
            raise ConfigError(f"{{nproc}} {nproc} is more processes than the {gpus} GPU(s) of this machine (one "
                              f"process per GPU): use {{nproc}} {gpus} or fewer", ("nproc",))
    elif device.type == "cpu":
        cores = usable_cores()
        if nproc > cores:
            raise ConfigError(f"{{nproc}} {nproc} is more processes than the {cores} CPU cores this process may "
                              f"use: use {{nproc}} {cores} or fewer", ("nproc",))
    else:
        raise ConfigError(f"a distributed run trains on CPUs (gloo) or CUDA GPUs (nccl), not {device.type}: "
                          "use {device} cpu", ("device",))


def run(nproc: int, argv: list[str], out: Path, device: torch.device) -> Failure | None:
    """Run `python -m rnngen ARGV` in `nproc` processes; None when all of them finished well."""
    check(nproc, device)
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # the agent's own notes (its config, each worker's failure, tracebacks) would bury the one line
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    added = [name for name in (LAUNCHED_ENV, "TORCHELASTIC_SIGNALS_TO_HANDLE") if name not in os.environ]
    os.environ[LAUNCHED_ENV] = "1"
    previous = signal.signal(signal.SIGINT, _forward)
    try:
        with tempfile.TemporaryDirectory(prefix="rnngen-launch-") as logs:
            # Ctrl-C is not among the agent's signals: it would kill the ranks; `_forward` lets them save
            config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=uuid.uuid4().hex,
                                  rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
                                  monitor_interval=0.1, logs_specs=DefaultLogsSpecs(log_dir=logs),
                                  signals_to_handle="SIGTERM,SIGHUP,SIGQUIT")
            try:
                elastic_launch(config, sys.executable)("-m", "rnngen", *argv)
            except ChildFailedError as exc:
                return failure(exc.failures, nproc, out)
    finally:
        signal.signal(signal.SIGINT, previous)
        for name in added:
            os.environ.pop(name, None)
    return None


def failure(failures: dict, nproc: int, out: Path) -> Failure:
    """The one line for a run whose processes failed (`failures`: rank -> torch's ProcessFailure).

    The cause is the first process that failed by itself: not one the launcher stopped (SIGTERM), nor one
    that stopped because it lost the others (`ExitCode.PROCESS_FAILED`). A user error or Ctrl-C was said
    by rank 0 already.
    """
    def own(item) -> bool:
        return item[1].exitcode not in (ExitCode.PROCESS_FAILED, -signal.SIGTERM)

    causes = [item for item in failures.items() if own(item)] or list(failures.items())
    rank, cause = min(causes, key=lambda item: (item[1].timestamp, item[0]))
    if cause.exitcode in (ExitCode.USER_ERROR, ExitCode.INTERRUPTED):
        return Failure(cause.exitcode)
    if cause.exitcode < 0:
        how = f"was killed by {cause.signal_name()}"
    else:
        how = f"exited with status {cause.exitcode}" + (" (its traceback is above)" if cause.exitcode == 1 else "")
    return Failure(ExitCode.PROCESS_FAILED,
                   f"process {rank} of {nproc} (pid {cause.pid}) {how}, so the others were stopped; {kept(out)}")


def kept(out: Path) -> str:
    """What a stopped run left in `out`, checked rather than assumed: its last checkpoint, or none."""
    try:
        checkpoint.recover(out)  # a save cut short is finished (or undone), as the next start would
        if not checkpoint.is_model_folder(out):
            return f"no checkpoint was saved in {out} yet"
        data = checkpoint.read(out)
    except RnngenError as exc:
        return f"the checkpoint in {out} cannot be read: {exc}"
    records = [h for h in data.history.get("epochs", []) if checkpoint.is_record(h)]
    best = min(records, key=lambda h: h["valid_ppl"], default=None)
    what = f" (epoch {best['epoch']}, validation perplexity {fmt_ppl(best['valid_ppl'])})" if best else ""
    return f"the last checkpoint in {out}{what} is intact: continue with --resume"


def _forward(signum, frame) -> None:
    """Ctrl-C reaches only this process (the agent starts each rank in a session of its own): pass it on,
    so that the ranks stop after the same batch and save, or at a second Ctrl-C stop at once."""
    for pid in _children():
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass


def _children() -> list[int]:
    """This process's child processes (its ranks), from /proc (none where there is no /proc)."""
    me, found = os.getpid(), []
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == me:
            found.append(int(entry.name))
    return found
