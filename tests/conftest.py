"""Shared fixtures: the ../shared corpora, a tiny corpus and a tiny trained model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Never write into the project's own checkpoints/ or corpora/ from a test."""
    base = tmp_path_factory.mktemp("rnngen-home")
    monkeypatch.setenv("RNNGEN_CHECKPOINTS", str(base / "checkpoints"))
    monkeypatch.setenv("RNNGEN_CORPORA", str(base / "corpora"))
    # prepared corpora are cached per test worker, not in ~/.cache (tests of the cache set their own)
    monkeypatch.setenv("RNNGEN_CACHE", str(tmp_path_factory.getbasetemp() / "corpus-cache"))


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """../shared/corpora: skipped when absent, but a failure under CI=true."""
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED} is missing but CI=true: the shared corpora must be beside the clone")
        pytest.skip(f"{SHARED} is absent (the shared corpora are not beside this checkout)")
    return SHARED


TINY_TEXT = """the cat sat on the mat .
the dog sat on the log .
a cat saw a dog .
the dog saw the cat .
a dog sat on a mat .
the cat ran to the dog .
"""


def tiny_corpus(repeat: int = 30):
    """A small deterministic corpus of simple sentences (pre-tokenized)."""
    from rnngen.corpus.base import Corpus
    from rnngen.tokenize import TokenizerSettings

    lines = [line.split() for line in TINY_TEXT.strip().splitlines()]
    train = lines * repeat
    return Corpus("tiny", train, lines, lines, TokenizerSettings.pretokenized(), source="tests", fingerprint="tiny")


@pytest.fixture(scope="session")
def tiny_lm_path(tmp_path_factory) -> Path:
    """A small LSTM trained for a few epochs on the tiny corpus (session-wide, ~2 s)."""
    from rnngen.config import ModelConfig, TrainConfig
    from rnngen.train import train

    out = tmp_path_factory.mktemp("models") / "tiny"
    mc = ModelConfig(rnn_type="lstm", vocab_size=100, emb=16, hidden=32, layers=1, dropout=0.0)
    tc = TrainConfig(epochs=6, batch_size=8, bptt=16, sample_every=0, seed=7, patience=0)
    for _ in train(tiny_corpus(), mc, tc, out):
        pass
    return out


@pytest.fixture()
def tiny_lm(tiny_lm_path):
    from rnngen.lm import LanguageModel

    return LanguageModel.load(tiny_lm_path)
