"""How corpus preparation grows with size: time and peak memory at 1M, 10M and 100M tokens, first run and cached.

    rnngen bench --scale [--sizes 1,10,100] [--kinds raw,tokenized]
    python -m rnngen.bench.scale [same options] [--train-minutes 1]

Inputs are made here, offline and deterministically: raw prose repeats the shared books (Grimm, the
Japanese fairy tales, Tiny Shakespeare), each copy's letters rotated so that no sentence repeats one the
tokenizer has just seen (rotated English fires fewer contraction and abbreviation rules than English: the
real books alone are timed in BENCHMARKS.md); pre-tokenized text repeats wt2-mini's training split. Without
../shared both come from the built-in grammar. Each measurement is a fresh child process that loads the
corpus and computes its statistics (`rnngen corpus stats`), first with an empty cache, then again from the
cache; its wall time and peak RSS are reported. On the last kind's largest corpus, `rnngen train` (a
minute), `rnngen eval` and `rnngen corpus stats` then run from the cache, with their peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import string
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
            from rnngen.corpus.local import strip_gutenberg

            # Gutenberg's frame, and the old-style "End of the Project Gutenberg EBook" line some books keep
            # inside it, would end the repeated text at its first copy
            return "\n\n".join(strip_gutenberg(strip_gutenberg((shared / p).read_text(encoding="utf-8")))
                                 for p in RAW_BOOKS)
        return (shared / TOKENIZED).read_text(encoding="utf-8")
    from rnngen.corpus.travel import sample_sentences
    from rnngen.tokenize import detokenize

    sentences = [words for words, _ in sample_sentences(5_000, seed=1)]
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
    """About `millions` million tokens: copies of the base text (the last one cut at a line end) in a file (raw)
    or as the training split of a folder (pre-tokenized).

    Copy k has its letters rotated by k places: the tokenizer sees text of the same shape but no sentence
    it saw in an earlier copy, so its memo of repeated sentences cannot flatter the speed.
    """
    text = base_text(kind, shared)
    per_copy = tokens_of(text, kind)
    want = int(millions * 1_000_000)
    copies, rest = divmod(want, per_copy)
    cut = text.rfind("\n", 0, int(len(text) * rest / per_copy)) + 1
    path = folder / f"{kind}-{millions:g}M.txt"
    if kind == "tokenized":  # a train/valid/test folder, as WikiText-103 comes: validation stays small
        path = folder / f"{kind}-{millions:g}M"
        path.mkdir()
        held = text[:text.rfind("\n", 0, 300_000) + 1]
        for split, shift in (("valid", 13), ("test", 7)):
            (path / f"{split}.txt").write_text(rotated(held, shift), encoding="utf-8")
    with open(path / "train.txt" if path.is_dir() else path, "w", encoding="utf-8") as f:
        for k in range(copies + 1):
            copy = rotated(text if k < copies else text[:cut], k)
            f.write(copy)
            f.write("\n\n" if kind == "raw" and k < copies else "")
    return path


def rotated(text: str, k: int) -> str:
    """`text` with every ASCII letter moved `k` places along the alphabet (a Caesar shift; 0 leaves it)."""
    shift = k % 26
    if shift == 0:
        return text
    lower, upper = string.ascii_lowercase, string.ascii_uppercase
    table = str.maketrans(lower + upper, lower[shift:] + lower[:shift] + upper[shift:] + upper[:shift])
    return text.translate(table)


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


def run(sizes: list[float], kinds: list[str], shared: Path = SHARED, progress=print,
        train_minutes: float = 1.0) -> list[dict]:
    """Preparation rows for every kind and size; then, on the last kind's largest corpus, training (for
    `train_minutes`; 0: not) and evaluation rows."""
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
                    row.update(kind=kind, millions=millions, run=run_name, bytes=size_of(path))
                    rows.append(row)
                    progress(format_row(row))
                if kind == kinds[-1] and millions == max(sizes) and train_minutes > 0:
                    rows.extend(use(path, cache, work_dir, train_minutes, progress))
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    return rows


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size


def use(path: Path, cache: Path, work: Path, minutes: float, progress) -> list[dict]:
    """Train on the largest cached corpus for `minutes` and evaluate the model: the commands' peak memory."""
    model = work / "model"
    commands = {
        "rnngen train (preset small, stream, 64 units)": ["train", str(path), "--out", str(model), "--preset", "small",
                                                         "--mode", "stream", "--emb", "64", "--hidden", "64",
                                                         "--max-minutes", f"{minutes:g}", "--epochs", "1",
                                                         "--sample-every", "0", "--quiet"],
        "rnngen eval (its test split)": ["eval", str(model), str(path), "--split", "test"],
        "rnngen corpus stats": ["corpus", "stats", str(path), "--json"],
    }
    rows = []
    for name, args in commands.items():
        progress(f"{name}…")
        wall, peak = timed([sys.executable, "-m", "rnngen", *args], dict(os.environ, RNNGEN_CACHE=str(cache)))
        rows.append({"use": name, "wall_s": wall, "peak_rss_mb": peak})
        progress(format_use(rows[-1]))
    return rows


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process (`os.wait4` reports that child's own)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:4])} failed: {proc.stderr.read().decode()[-300:]}")
    return wall, usage.ru_maxrss / 1024


def format_use(row: dict) -> str:
    return f"| {row['use']} | {row['wall_s']:.1f} s | {row['peak_rss_mb']:,.0f} MB |"


def format_row(row: dict) -> str:
    rate = row["tokens"] / row["load_s"] if row["load_s"] > 0 else float("inf")
    return (f"| {row['kind']} | {row['tokens']:,} | {row['bytes'] / 2**20:,.0f} MB | {row['run']} | "
            f"{row['wall_s']:.1f} s | {row['load_s']:.1f} s | {rate:,.0f} | {row['peak_rss_mb']:,.0f} MB |")


# The main process's peak. The tokenizing workers (spawned for texts of 4 MB and more) each hold one chunk
# of a few MB and its tokens; a fork-and-exec child's own ru_maxrss counts the parent's pages it shared
# until exec, so it is not reported as theirs.
HEADER = ("| input | tokens | file | run | wall (load + stats) | load | tokens/s (load) | peak RSS |\n"
          "|---|---|---|---|---|---|---|---|")
USE_HEADER = "| command on the cached corpus | wall | peak RSS |\n|---|---|---|"


def print_tables(rows: list[dict], write) -> None:
    write(HEADER)
    for row in rows:
        if "use" not in row:
            write(format_row(row))
    used = [row for row in rows if "use" in row]
    if used:
        write("")
        write(USE_HEADER)
        for row in used:
            write(format_use(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnngen.bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,100", help="millions of tokens, comma-separated (default 1,10,100)")
    parser.add_argument("--kinds", default="raw,tokenized", help="raw, tokenized or both (default both)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--train-minutes", type=float, default=1.0,
                        help="minutes of training on the largest corpus (0: none; default 1)")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not sizes or any(s <= 0 for s in sizes) or any(k not in KINDS for k in kinds):
        parser.error("--sizes takes positive numbers and --kinds raw and/or tokenized")
    rows = run(sizes, kinds, progress=lambda m: print(m, file=sys.stderr, flush=True),
               train_minutes=args.train_minutes)
    print_tables(rows, print)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
