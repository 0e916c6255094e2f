"""How corpus preparation grows with size: time and peak memory at 1M, 10M and 100M tokens, first run and cached.

    rnngen bench --scale [--sizes 1,10,100] [--kinds raw,tokenized]
    python -m rnngen.bench.scale [same options]

Inputs are made here, offline and deterministically: raw prose repeats the shared books (Grimm, the
Japanese fairy tales, Tiny Shakespeare) and pre-tokenized text repeats wt2-mini's training split; without
../shared both come from the built-in grammar. Each measurement is a fresh child process that loads the
corpus and computes its statistics (`rnngen corpus stats`), first with an empty cache, then again from the
cache; its wall time and peak RSS are reported, and the peak RSS of its largest tokenizing worker.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
RAW_BOOKS = ("grimm/raw.txt", "japanese-fairy-tales/raw.txt", "tinyshakespeare/input.txt")
TOKENIZED = "bench/wt2-mini/train.txt"
KINDS = ("raw", "tokenized")


def base_text(kind: str, shared: Path) -> str:
    """One copy of the text the input repeats: real books where ../shared is, else the built-in grammar."""
    if shared.is_dir():
        if kind == "raw":
            from rnngen.corpus.local import strip_gutenberg  # a licence in each copy would end the book early

            return "\n\n".join(strip_gutenberg((shared / p).read_text(encoding="utf-8")) for p in RAW_BOOKS)
        return (shared / TOKENIZED).read_text(encoding="utf-8")
    from rnngen.corpus.travel import sample_sentences
    from rnngen.tokenize import detokenize

    sentences = [words for words, _ in sample_sentences(50_000, seed=1)]
    if kind == "raw":
        return "\n\n".join(" ".join(detokenize(s) for s in sentences[i:i + 5]) for i in range(0, len(sentences), 5))
    return "\n".join(" ".join(s) for s in sentences) + "\n"


def tokens_of(text: str, kind: str) -> int:
    """Tokens in one copy, counted the way the corpus will be prepared."""
    from rnngen.corpus.arrays import SplitBuilder, WordTable
    from rnngen.corpus.local import text_to_split

    builder = SplitBuilder(WordTable())
    text_to_split(text, kind == "tokenized", False, builder)
    split = builder.build()
    return split.num_tokens


def make_input(kind: str, millions: float, folder: Path, shared: Path) -> Path:
    """A file of about `millions` million tokens: copies of the base text (the last one cut at a line end)."""
    text = base_text(kind, shared)
    per_copy = tokens_of(text, kind)
    want = int(millions * 1_000_000)
    copies, rest = divmod(want, per_copy)
    cut = text.rfind("\n", 0, int(len(text) * rest / per_copy)) + 1
    path = folder / f"{kind}-{millions:g}M.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(copies):
            f.write(text)
            f.write("\n\n" if kind == "raw" else "")
        f.write(text[:cut])
    return path


def child(path: str, kind: str) -> int:
    """In a fresh process: prepare the corpus and count its statistics; print timings and peak memory."""
    import resource

    from rnngen.corpus import load_corpus
    from rnngen.corpus.stats import corpus_stats

    start = time.perf_counter()
    corpus = load_corpus(path, tokenized=kind == "tokenized")
    loaded = time.perf_counter()
    stats = corpus_stats(corpus)
    done = time.perf_counter()
    print(json.dumps({"tokens": stats.total_tokens, "load_s": loaded - start, "stats_s": done - loaded,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "cached": corpus.cache is not None}))
    return 0


def measure(path: Path, kind: str, cache: Path) -> dict:
    env = dict(os.environ, RNNGEN_CACHE=str(cache))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "rnngen.bench.scale", "--child", str(path), kind],
                            capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"preparing {path.name} failed: {result.stderr.strip().splitlines()[-1:]}")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["wall_s"] = wall
    return row


def run(sizes: list[float], kinds: list[str], shared: Path = SHARED, progress=print) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnngen-scale-") as work:
        work_dir = Path(work)
        for kind in kinds:
            for millions in sizes:
                progress(f"making {kind} input of {millions:g}M tokens…")
                path = make_input(kind, millions, work_dir, shared)
                cache = work_dir / f"cache-{kind}-{millions:g}"
                for run_name in ("first", "cached"):
                    progress(f"{kind} {millions:g}M tokens, {run_name} run…")
                    row = measure(path, kind, cache)
                    row.update(kind=kind, millions=millions, run=run_name, bytes=path.stat().st_size)
                    rows.append(row)
                    progress(format_row(row))
                path.unlink()
    return rows


def format_row(row: dict) -> str:
    rate = row["tokens"] / row["load_s"] if row["load_s"] > 0 else float("inf")
    return (f"| {row['kind']} | {row['tokens']:,} | {row['bytes'] / 2**20:,.0f} MB | {row['run']} | "
            f"{row['wall_s']:.1f} s | {row['load_s']:.1f} s | {rate:,.0f} | {row['peak_rss_mb']:,.0f} MB | "
            f"{row['worker_peak_rss_mb']:,.0f} MB |")


HEADER = ("| input | tokens | file | run | wall (load + stats) | load | tokens/s (load) | peak RSS | "
          "largest worker RSS |\n|---|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnngen.bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,100", help="millions of tokens, comma-separated (default 1,10,100)")
    parser.add_argument("--kinds", default="raw,tokenized", help="raw, tokenized or both (default both)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not sizes or any(s <= 0 for s in sizes) or any(k not in KINDS for k in kinds):
        parser.error("--sizes takes positive numbers and --kinds raw and/or tokenized")
    rows = run(sizes, kinds, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(HEADER)
    for row in rows:
        print(format_row(row))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
