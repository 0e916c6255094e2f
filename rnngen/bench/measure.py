"""Machine-level measurements: the matmul roofline, model FLOPs, start-up time and peak memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from rnngen.config import ModelConfig
from rnngen.model import adaptive_cutoffs


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_roofline(device: torch.device, size: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> dict:
    """Best-of-`repeats` rate of one large square torch.mm: what the cores can do on dense fp32 work."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.mm(a, b)
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return {"gflops": 2 * size**3 / best / 1e9, "size": size, "repeats": repeats, "dtype": str(dtype).split(".")[-1]}


def rnn_flops_per_token(config: ModelConfig) -> float:
    """Forward multiply-adds x 2 of the recurrent layers per token (gates: LSTM 4, GRU 3, RNN 1)."""
    gates = {"lstm": 4, "gru": 3}.get(config.rnn_type, 1)
    total = 0.0
    for layer in range(config.layers):
        inputs = config.emb if layer == 0 else config.hidden
        total += 2 * gates * config.hidden * (inputs + config.hidden)
    if config.tied and config.hidden != config.emb:
        total += 2 * config.hidden * config.emb
    return total


def softmax_flops_per_token(config: ModelConfig, vocab_size: int, cluster_share: list[float] | None = None) -> float:
    """Forward FLOPs of the output layer per token.

    Full softmax: 2 x features x vocabulary. Adaptive (training): the head
    (shortlist + one logit per cluster) for every token, plus each tail
    cluster's projection and logits for the share of tokens whose target lies
    in it (`cluster_share`, from the training data).
    """
    features = config.emb if config.tied else config.hidden
    if config.softmax != "adaptive":
        return 2.0 * features * vocab_size
    cutoffs = [*adaptive_cutoffs(vocab_size), vocab_size]
    flops = 2.0 * features * (cutoffs[0] + len(cutoffs) - 1)
    shares = cluster_share or [1.0] * (len(cutoffs) - 1)
    for i, share in enumerate(shares):
        size = cutoffs[i + 1] - cutoffs[i]
        if config.tied:  # full-width clusters over the embedding (rnngen.adaptive)
            flops += share * 2.0 * features * size
            continue
        reduced = max(1, int(features // (4.0 ** (i + 1))))
        flops += share * (2.0 * features * reduced + 2.0 * reduced * size)
    return flops


def model_flops(config: ModelConfig, vocab_size: int, cluster_share: list[float] | None = None) -> dict:
    """FLOPs per token: forward, and training taken as 3 x forward (backward = two matmuls per forward one)."""
    rnn = rnn_flops_per_token(config)
    out = softmax_flops_per_token(config, vocab_size, cluster_share)
    forward = rnn + out
    return {
        "rnn_forward": rnn,
        "softmax_forward": out,
        "forward": forward,
        "train": 3 * forward,
        "formula": "per layer 2*g*h*(in+h) (g = 4 LSTM gates) + output 2*h*V; training = 3 x forward",
    }


def cluster_shares(train_ids: list[list[int]], vocab_size: int) -> list[float]:
    """Fraction of training targets (words and `</s>`) falling in each adaptive-softmax tail cluster."""
    cutoffs = [*adaptive_cutoffs(vocab_size), vocab_size]
    counts = [0] * (len(cutoffs) - 1)
    total = 0
    for ids in train_ids:
        total += len(ids) + 1
        for i in ids:
            for c in range(len(cutoffs) - 1):
                if cutoffs[c] <= i < cutoffs[c + 1]:
                    counts[c] += 1
                    break
    return [c / max(total, 1) for c in counts]


def command_path() -> list[str]:
    """The installed `rnngen` script beside this Python, else `python -m rnngen`."""
    script = Path(sys.executable).parent / "rnngen"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rnngen"]


def startup_time(runs: int = 5) -> dict:
    """Median wall time of `rnngen --help` in fresh processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*command_path(), "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": runs, "command": "rnngen --help"}


def peak_rss_of_training(corpus_dir: Path, seconds: float, reference: dict, eval_limit: int = 0) -> dict:
    """Peak resident memory of a fresh process that loads the corpus and trains for `seconds`.

    A child process, so the figure is training's own and not the benchmark's
    (which also holds n-gram counts and other models).
    """
    args = [sys.executable, "-m", "rnngen.bench.rss", str(corpus_dir), str(seconds), json.dumps(reference),
            str(eval_limit)]
    env = dict(os.environ)
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
