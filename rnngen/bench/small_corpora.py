"""Does the default training beat the n-gram on book-sized corpora? One command, one table.

    python -m rnngen.bench.small_corpora [--shared ../shared/corpora] [--only NAME ...] [--epochs N]

For each shared book-sized corpus: Kneser-Ney 3- and 5-grams (`rnngen ngram train`), the RNN that
`rnngen train CORPUS` trains with no flags (preset `auto`), and the two interpolated with λ tuned on the
validation split (`--ngram`). Same tokenizer, splits and vocabulary (the RNN's 8,000 most frequent words)
for all. Perplexities on the validation split, which is also what training keeps its best epoch by;
the test split beside them. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

CORPORA = {
    "Grimm (raw Gutenberg)": "grimm/raw.txt",
    "Japanese fairy tales (raw)": "japanese-fairy-tales/raw.txt",
    "Tiny Shakespeare (raw)": "tinyshakespeare/input.txt",
    "PTB valid as train, test held out": "ptb",
}


def ptb_folder(shared: Path, work: Path) -> Path:
    """PTB's validation split as the training text, its test split held out (validation and test)."""
    folder = work / "ptb-valid-as-train"
    folder.mkdir()
    shutil.copy(shared / "ptb" / "valid.txt", folder / "train.txt")
    for split in ("valid", "test"):
        shutil.copy(shared / "ptb" / "test.txt", folder / f"{split}.txt")
    return folder


def measure(name: str, source: Path, work: Path, epochs: int | None) -> dict:
    from rnngen.config import ModelConfig, choose_preset, preset, with_overrides
    from rnngen.corpus import load_corpus
    from rnngen.mixture import Mixture
    from rnngen.ngram import NgramModel
    from rnngen.train import train

    corpus = load_corpus(source)
    vocab_size = ModelConfig().vocab_size
    row = {"corpus": name, "tokens": corpus.train_tokens}
    started = time.monotonic()
    grams = {order: NgramModel.estimate(corpus, order, vocab_size) for order in (3, 5)}
    for order, model in grams.items():
        row[f"kn{order}"] = model.evaluate(corpus.valid).perplexity
        row[f"kn{order}_test"] = model.evaluate(corpus.test).perplexity
    chosen, reason = choose_preset("auto", corpus.train_tokens)
    model_config, train_config = preset(chosen)
    if epochs is not None:
        train_config = with_overrides(train_config, {"epochs": epochs})
    out = work / name.split()[0].lower()
    started_rnn = time.monotonic()
    for _ in train(corpus, model_config, train_config, out, preset={"name": chosen, "chosen": reason}):
        pass
    row["rnn_minutes"] = (time.monotonic() - started_rnn) / 60
    from rnngen.lm import LanguageModel

    rnn = LanguageModel.load(out)
    row["preset"] = chosen
    row["rnn"] = rnn.evaluate(corpus.valid).perplexity
    row["rnn_test"] = rnn.evaluate(corpus.test).perplexity
    mixture = Mixture(rnn, grams[5])
    mixture.tune(corpus.valid, "valid")
    row["lambda"] = mixture.lam
    row["mixed"] = mixture.evaluate(corpus.valid).perplexity
    row["bound"] = mixture_bound(mixture, corpus.valid)
    row["mixed_test"] = mixture.evaluate(corpus.test).perplexity
    row["minutes"] = (time.monotonic() - started) / 60
    return row


def mixture_bound(mixture, sentences) -> float:
    """The perplexity no per-word mixture of the two models can go below: every mixture's probability of a
    word is at most the larger of theirs, even with a weight chosen per word knowing the word."""
    import numpy as np

    rnn, ngram = mixture.component_logprobs(mixture._ids(sentences, "bound"))
    best = np.concatenate([np.maximum(r, n) for r, n in zip(rnn, ngram)])
    return float(np.exp(-best.mean()))


def table(rows: list[dict]) -> str:
    lines = ["| corpus | train tokens | KN3 | KN5 | default RNN (preset) | RNN + KN5 (λ) | mixture / better alone "
             "| any per-word mixture ≥ (/ better) | test: KN5, RNN, mixture | minutes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        better = min(r["rnn"], r["kn5"])
        lines.append(f"| {r['corpus']} | {r['tokens']:,} | {r['kn3']:.1f} | {r['kn5']:.1f} | {r['rnn']:.1f} "
                     f"({r['preset']}) | {r['mixed']:.1f} ({r['lambda']:.2f}) | {r['mixed'] / better:.3f} | "
                     f"{r['bound']:.1f} ({r['bound'] / better:.3f}) | "
                     f"{r['kn5_test']:.1f}, {r['rnn_test']:.1f}, {r['mixed_test']:.1f} | {r['minutes']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[3] / "shared" / "corpora"),
                        help="the shared corpora folder (default ../shared/corpora beside the checkout)")
    parser.add_argument("--only", nargs="*", default=None, help="corpus names (the table's first words) to run")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs (a quick check)")
    args = parser.parse_args(argv)
    from rnngen.hardware import set_threads

    set_threads(None)  # the CLI's policy: one fewer than the usable cores, at least one
    shared = Path(args.shared)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnngen-small-") as tmp:
        work = Path(tmp)
        for name, relative in CORPORA.items():
            if args.only and name.split()[0].lower() not in {o.lower() for o in args.only}:
                continue
            source = ptb_folder(shared, work) if relative == "ptb" else shared / relative
            row = measure(name, source, work, args.epochs)
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
