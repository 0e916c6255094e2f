"""Child process for the memory probe: train a configuration for N seconds, print peak RSS as JSON.

Usage: python -m rnngen.bench.rss CORPUS_DIR SECONDS '{"model": {...}, "train": {...}}' [EVAL_SENTENCES]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    from rnngen.bench.suite import bench_corpus, configs_from_dict, held_out
    from rnngen.train import train

    corpus_dir, seconds, spec = Path(argv[0]), float(argv[1]), json.loads(argv[2])
    corpus = held_out(bench_corpus(corpus_dir), int(argv[3]) if len(argv) > 3 else 0)
    model_config, train_config = configs_from_dict(spec, corpus, minutes=seconds / 60)
    with tempfile.TemporaryDirectory(prefix="rnngen-rss-") as out:
        for _ in train(corpus, model_config, train_config, Path(out) / "model"):
            pass
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mb": peak_kb / 1024, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
