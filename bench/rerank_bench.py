"""Candidates per second reranked on CPU: batched scoring against one sentence at a time.

Builds a Moses n-best list of about 10,000 candidates from real sentences
(by default the fixed split ../shared/corpora/bench/wt2-mini/test.txt, cut into
sentences at "."): for each source sentence the original and nine corrupted
variants (swapped, dropped, repeated, replaced, shuffled words). Then it
reranks the list with the `small` preset (2-layer LSTM, 200 units, the 8,000
most frequent words of wt2-mini/train.txt) twice: batched, as `rnngen rerank`
does, and with one `score_tokens` call per candidate. Speed does not depend on
the weights, so an untrained model is used unless `--model` names a
checkpoint. Both runs must pick the same 1-best for every id.

    .venv/bin/python bench/rerank_bench.py [--candidates 10000] [--threads N] [--model NAME]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnngen.config import preset  # noqa: E402
from rnngen.lm import LanguageModel  # noqa: E402
from rnngen.rerank import RerankSettings, Normalization, decode_lines, parse, rerank, scoring_text, write  # noqa: E402
from rnngen.score import shared_prefixes  # noqa: E402
from rnngen.tokenize import TokenizerSettings  # noqa: E402
from rnngen.vocab import Vocabulary  # noqa: E402

WT2 = ROOT.parent / "shared" / "corpora" / "bench" / "wt2-mini"


def variants(words: list[str], rng: random.Random, vocab: list[str], count: int) -> list[list[str]]:
    """`count` candidates for one sentence: itself, then distinct corruptions of it."""
    out, seen = [words], {" ".join(words)}
    for _ in range(count * 20):
        if len(out) == count:
            break
        w = list(words)
        kind = rng.randrange(5)
        i = rng.randrange(len(w))
        if kind == 0 and len(w) > 1:
            j = min(i + 1, len(w) - 1) if i < len(w) - 1 else i - 1
            w[i], w[j] = w[j], w[i]
        elif kind == 1 and len(w) > 1:
            del w[i]
        elif kind == 2:
            w.insert(i, w[i])
        elif kind == 3:
            w[i] = rng.choice(vocab)
        else:
            span = w[i:i + 4]
            rng.shuffle(span)
            w[i:i + 4] = span
        if " ".join(w) not in seen:
            seen.add(" ".join(w))
            out.append(w)
    while len(out) < count:  # very short sentences: pad with random words
        out.append([*words, rng.choice(vocab)])
    return out


def build_list(sentences: list[list[str]], vocab: list[str], total: int, per_id: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    usable = [s for s in sentences if 5 <= len(s) <= 40]
    lines = []
    for i, sentence in enumerate(usable[: total // per_id]):
        for w in variants(sentence, rng, vocab, per_id):
            tm = -rng.uniform(0, 20)
            lines.append(f"{i} ||| {' '.join(w)} ||| TM0= {tm:.4f} WordPenalty0= -{len(w)} ||| {tm - 0.1 * len(w):.4f}")
    return lines


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab-text", type=Path, default=WT2 / "train.txt", help="tokenized text for the vocabulary")
    ap.add_argument("--sentences", type=Path, default=WT2 / "test.txt", help="tokenized text for the candidates")
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--per-id", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--model", default=None, help="a checkpoint instead of an untrained `small` model")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def read(path: Path) -> list[list[str]]:
        """Tokenized sentences: each line cut after every '.', headings (' = Title = ') skipped."""
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if not words or words[0] == "=":
                continue
            start = 0
            for i, w in enumerate(words):
                if w == "." or i == len(words) - 1:
                    out.append(words[start:i + 1])
                    start = i + 1
        return out

    if args.model:
        lm = LanguageModel.load(args.model)
    else:
        config, _ = preset("small")
        vocab = Vocabulary.build(read(args.vocab_text), max_size=config.vocab_size)
        lm = LanguageModel.new(config, vocab, TokenizerSettings.pretokenized())
        lm.module.eval()
    lines = build_list(read(args.sentences), lm.vocab.words[3:], args.candidates, args.per_id, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.moses"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with open(path, "rb") as handle:
            nbest, read_s = timed(lambda: parse(decode_lines(handle, path.name), None, path.name))
    n = len(nbest.candidates)
    words = sum(len(c.text.split()) for c in nbest.candidates)
    settings = RerankSettings(weight=0.5, normalization=Normalization("length"))
    rerank(lm, parse(lines[:200]), settings)  # warm-up
    batched, batched_s = timed(lambda: rerank(lm, nbest, settings))
    single, single_s = timed(lambda: rerank(lm, nbest, settings, chunk=1))
    same = list(write(batched, "best")) == list(write(single, "best"))
    worst = max(abs(a.lm.logprob - b.lm.logprob) for a, b in zip(batched.ranked(), single.ranked()))

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    print(f"rerank benchmark: `small` preset ({lm.model_config.rnn_type}, {lm.model_config.layers}x"
          f"{lm.model_config.hidden}, vocab {len(lm.vocab):,}), {n:,} candidates for {len(batched.groups):,} ids, "
          f"{words:,} words (mean {words / n:.1f}/candidate)")
    print(f"CPU: {cpu}; torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"reading the list: {read_s:.2f} s")
    print()
    print("| scoring | time (s) | candidates/s | words/s | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name, secs in (("batched (rnngen rerank)", batched_s), ("one at a time", single_s)):
        print(f"| {name} | {secs:.2f} | {n / secs:,.0f} | {words / secs:,.0f} | {single_s / secs:.1f}x |")
    print()
    print(f"same 1-best for every id: {same}; largest log-prob difference: {worst:.2e}")
    ids = [lm.vocab.encode(lm.tokenize(scoring_text(c, nbest.format))) for c in nbest.candidates]
    _, shared = shared_prefixes(ids)
    positions = sum(len(s) + 1 for s in ids)
    computed = sum(max(0, len(s) + 1 - k) for s, k in zip(ids, shared))
    print(f"softmax rows in the batched run: {computed:,} distinct (prefix, next word) pairs of {positions:,} "
          f"positions ({computed / positions:.0%})")


if __name__ == "__main__":
    main()
