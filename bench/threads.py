"""Training speed by torch thread count, alone and beside a busy process: where the default comes from.

On a 2-core machine torch uses 2 threads; when another process keeps one of
the cores busy, its threads wait on each other at every operation and the
throughput collapses. This trains the `small` preset (the CLI's default) on
the built-in travel corpus for a fixed number of batches in a fresh process
per setting, with 1 and 2 threads (or `--threads`), first alone and then beside one
single-threaded busy loop, and prints tokens per second for each.

    .venv/bin/python bench/threads.py [--batches 60] [--threads 1 2] [--preset small]

Run it with nothing else busy on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY = "while True:\n    pass\n"


def child(threads: int, batches: int, preset_name: str) -> dict:
    """Train `batches` batches and return tokens per second after a warm-up of a tenth of them."""
    sys.path.insert(0, str(ROOT))
    import threading

    from rnngen.config import preset, with_overrides
    from rnngen.corpus import load_corpus
    from rnngen.events import BatchDone
    from rnngen.hardware import set_threads
    from rnngen.train import train

    set_threads(threads)
    model_config, train_config = preset(preset_name)
    train_config = with_overrides(train_config, {"epochs": 1, "sample_every": 0})
    corpus = load_corpus("travel")
    stop = threading.Event()
    warm = max(2, batches // 10)
    marks: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for event in train(corpus, model_config, train_config, Path(tmp) / "m", stop=stop):
            if isinstance(event, BatchDone):
                marks[event.batch] = time.perf_counter()
                if event.batch >= batches:
                    stop.set()
    first, last = min(b for b in marks if b >= warm), max(marks)  # progress events are not sent every batch
    tokens = (last - first) * train_config.batch_size * train_config.bptt
    return {"threads": threads, "tokens_per_s": tokens / (marks[last] - marks[first]), "batches": last - first}


def measure(threads: int, batches: int, preset_name: str, busy: bool, repeats: int) -> float:
    """Median tokens/s over `repeats` fresh processes, with a busy loop running beside them if `busy`."""
    hog = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
    try:
        runs = []
        for _ in range(repeats):
            out = subprocess.run([sys.executable, __file__, "--child", str(threads), "--batches", str(batches),
                                  "--preset", preset_name], capture_output=True, text=True, check=True,
                                 env={**os.environ, "OMP_NUM_THREADS": str(threads)})
            runs.append(json.loads(out.stdout.splitlines()[-1])["tokens_per_s"])
        return statistics.median(runs)
    finally:
        if hog:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.batches, args.preset)))
        return
    import platform

    cores = len(os.sched_getaffinity(0))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"{cpu}; {cores} usable cores; preset {args.preset}, {args.batches} batches, median of {args.repeats}")
    print(f"{'threads':>7}  {'alone tok/s':>12}  {'beside a busy process':>22}")
    for threads in args.threads:
        alone = measure(threads, args.batches, args.preset, False, args.repeats)
        busy = measure(threads, args.batches, args.preset, True, args.repeats)
        print(f"{threads:>7}  {alone:>12,.0f}  {busy:>22,.0f}", flush=True)


if __name__ == "__main__":
    main()
