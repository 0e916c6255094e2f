"""A deterministic rnngen app for TUI tests and snapshots: fixed folders, fixed models, fixed corpus.

`build_env(root)` writes everything under `root`:
  checkpoints/tiny      a small LSTM trained (seeded) on the tiny corpus, history fixed
  checkpoints/tiny-gru  a GRU, so two models can be compared
  checkpoints/broken    a corrupt checkpoint (listed as unreadable)
  browse/               a small folder for the file tree
and registers the `tiny` corpus as a built-in (it has a true log-probability,
like `travel`, so the entropy floor is drawn), then `make_snapshot_app` opens
the app on it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from rnngen.config import ModelConfig, TrainConfig
from tests.conftest import TINY_TEXT

FIXED_TIME = 1_767_225_600  # 2026-01-01 00:00 UTC, so the date column never changes



def tiny_corpus(lowercase: bool = False, repeat: int = 30):
    """Six simple sentences repeated; each has a known 'true' probability so a floor can be drawn."""
    from rnngen.corpus.base import Corpus
    from rnngen.tokenize import TokenizerSettings

    lines = [line.split() for line in TINY_TEXT.strip().splitlines()]
    corpus = Corpus("tiny", lines * repeat, lines, lines, TokenizerSettings.pretokenized(), source="tests",
                    fingerprint="tiny")
    corpus.true_logprob = lambda tokens: -math.log(6) if list(tokens) in lines else -math.inf
    return corpus


def register_tiny() -> None:
    from rnngen.corpus import BUILTIN

    BUILTIN["tiny"] = tiny_corpus


def _train(out: Path, rnn_type: str, epochs: int, history: list[float]) -> None:
    from rnngen.train import train

    mc = ModelConfig(rnn_type=rnn_type, vocab_size=100, emb=16, hidden=32, layers=1, dropout=0.0)
    tc = TrainConfig(epochs=epochs, batch_size=8, bptt=16, sample_every=0, seed=7, patience=0)
    for _ in train(tiny_corpus(), mc, tc, out):
        pass
    # Fixed history (numbers and times), so listings and plots are identical on every machine.
    epochs_list = [{"epoch": i + 1, "train_loss": 2.0 - 0.2 * i, "valid_loss": math.log(p), "valid_ppl": p,
                    "lr": 0.002, "elapsed_s": float(i + 1)} for i, p in enumerate(history)]
    data = json.loads((out / "history.json").read_text())
    data.update(epochs=epochs_list, best_valid_ppl=min(history))
    (out / "history.json").write_text(json.dumps(data))
    for f in out.iterdir():
        os.utime(f, (FIXED_TIME, FIXED_TIME))


def build_env(root: Path) -> dict[str, Path]:
    """Create (once) the folders the snapshot app uses; returns their paths."""
    checkpoints, corpora, browse = root / "checkpoints", root / "corpora", root / "browse"
    if not (checkpoints / "tiny" / "config.json").exists():
        checkpoints.mkdir(parents=True, exist_ok=True)
        corpora.mkdir(parents=True, exist_ok=True)
        _train(checkpoints / "tiny", "lstm", 6, [9.5, 6.1, 4.9, 4.4, 4.2, 4.15])
        _train(checkpoints / "tiny-gru", "gru", 4, [8.7, 5.6, 4.6, 4.3])
        broken = checkpoints / "broken"
        broken.mkdir()
        (broken / "config.json").write_text("{not json")
        (broken / "vocab.json").write_text("{}")
        (broken / "model.safetensors").write_bytes(b"garbage")
        browse.mkdir()
        (browse / "story.txt").write_text("Once upon a time there was a king. He had three daughters.\n" * 20)
        (browse / "notes").mkdir()
        (browse / "notes" / "a.txt").write_text("the cat sat .\n" * 10)
    return {"checkpoints": checkpoints, "corpora": corpora, "browse": browse}


def make_snapshot_app(root: Path, **kw):
    """The app over `build_env(root)`, on the tiny corpus, dark theme (COLORFGBG ignored)."""
    from rnngen.tui.app import make_app

    register_tiny()
    env = build_env(root)
    app = make_app(checkpoints=env["checkpoints"], corpora=env["corpora"], browse_root=env["browse"],
                   theme="textual-dark")
    app.corpus_spec = "tiny"
    return app
