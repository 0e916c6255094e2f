"""What this machine's processor can do, detected rather than assumed.

bf16 training (`--precision bf16`) multiplies in bfloat16 under autocast. On
the CPU, autocast sends the recurrent layers to oneDNN's RNN primitive in
bf16, which oneDNN builds only where the CPU has native bf16 (AVX512-BF16 or
AMX); elsewhere it fails with "could not create a primitive descriptor for
the LSTM forward propagation primitive". `rnn_autocast` probes oneDNN once and,
where it cannot, runs the recurrent layers with oneDNN switched off: ATen's
own kernels, in float32. So bf16 trains on every CPU; it only pays on one
with native bf16, which is why `rnngen bench` picks it there alone.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Callable, ContextManager

import torch

# Set to "0" or "1" to force the answer of `onednn_bf16_rnn` (tests cover both branches on every CPU).
FORCE_ENV = "RNNGEN_ONEDNN_BF16"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX), where bf16 products pay."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=None)
def _probe_onednn_bf16_rnn() -> bool:
    lstm = torch.nn.LSTM(8, 8, 1, batch_first=True)
    x = torch.zeros(1, 2, 8)
    weights = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0]
    state = (torch.zeros(1, 1, 8), torch.zeros(1, 1, 8))
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            # the positional flags of torch.lstm, the op nn.LSTM calls
            has_biases, num_layers, dropout, train, bidirectional, batch_first = True, 1, 0.0, True, False, True
            torch.lstm(x, state, weights, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    except RuntimeError:
        return False
    return True


def onednn_bf16_rnn() -> bool:
    """Whether oneDNN runs a bf16 LSTM on this CPU (probed once: it depends on the CPU and on ONEDNN_MAX_CPU_ISA)."""
    forced = os.environ.get(FORCE_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    if not torch.backends.mkldnn.is_available():
        return True  # no oneDNN: autocast's RNN path is ATen's, which runs anywhere
    return _probe_onednn_bf16_rnn()


def rnn_autocast(device: torch.device) -> Callable[[], ContextManager]:
    """The context bf16 training steps run in on `device`: oneDNN off for the RNN where it has no bf16 path."""
    if device.type != "cpu" or onednn_bf16_rnn():
        return contextlib.nullcontext
    return lambda: torch.backends.mkldnn.flags(enabled=False)


# -- threads ---------------------------------------------------------------------
THREADS_ENV = "RNNGEN_THREADS"


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads(cores: int | None = None) -> int:
    """One core left free: on a shared 2-core machine torch's default of 2 threads collapses (BENCHMARKS.md)."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores - 1)


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: `threads`, else $RNNGEN_THREADS, else `default_threads()`; returns it."""
    from rnngen.errors import ConfigError

    if threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"${THREADS_ENV} must be a whole number of threads, at least 1, got {raw!r}")
            threads = int(raw)
    if threads is None:
        threads = default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"--threads must be a whole number, at least 1, got {threads!r}")
    torch.set_num_threads(threads)
    return threads
