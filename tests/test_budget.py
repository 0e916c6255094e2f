"""Training to a time budget: the machine's speed measured on the corpus, and a lighter recipe where few epochs fit."""

from __future__ import annotations

import json

import pytest

from rnngen import budget
from rnngen.config import ModelConfig, TrainConfig, preset
from tests._inprocess import main_here
from tests.conftest import tiny_corpus


def test_a_budget_of_many_epochs_keeps_the_recipe():
    model, train = preset("small-corpus")
    assert budget.for_budget(model, train, budget.Fit(5000.0, budget.FEW_EPOCHS)) == (model, train, "")


def test_few_epochs_lighten_the_twenty_epoch_recipe_as_measured():
    model = ModelConfig(emb=300, hidden=300, dropout=0.5, embed_drop=0.1, tied=True, softmax="adaptive")
    train = TrainConfig(optimizer="sgd", schedule="constant", average=0.5)
    light_model, light_train, changes = budget.for_budget(model, train, budget.Fit(4000.0, 4.5))
    assert (light_model.emb, light_model.hidden, light_model.dropout, light_model.embed_drop) == (200, 200, 0.3, 0.0)
    assert light_model.tied and light_model.softmax == "adaptive"  # what is not about the budget stays
    assert (light_train.schedule, light_train.average, light_train.optimizer) == ("linear", 0.0, "sgd")
    assert changes == ("emb 300 -> 200, hidden 300 -> 200, dropout 0.5 -> 0.3, embed_drop 0.1 -> 0.0, "
                       "schedule constant -> linear, average 0.5 -> 0.0")
    small_model, small_train = preset("small-corpus")  # already 200 units and a linear decay: only dropout
    assert budget.for_budget(small_model, small_train, budget.Fit(4000.0, 2.0))[2] == "dropout 0.5 -> 0.3"


def test_measuring_counts_the_epochs_the_budget_holds_and_leaves_nothing_behind(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    corpus = tiny_corpus()
    model = ModelConfig(emb=8, hidden=8, layers=1, vocab_size=100)
    fit = budget.measure(corpus, model, TrainConfig(batch_size=8), minutes=1.0, seconds=0.2)
    assert fit.tokens_per_s > 0 and fit.epochs > 0
    per_epoch = (sum(len(s) + 1 for s in corpus.train) + sum(len(s) + 1 for s in corpus.valid) / 3)
    assert fit.epochs == pytest.approx(60 * fit.tokens_per_s / per_epoch)
    assert "training tokens/s here: about" in fit.describe()
    assert not list(tmp_path.glob("rnngen-probe-*"))  # the probe's model and lock are gone


def test_auto_with_a_budget_says_what_it_measured_and_keeps_what_the_user_gave(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in tiny_corpus(30).train) + "\n", encoding="utf-8")
    shape = ("--tokenized", "--emb", "16", "--hidden", "16", "--layers", "1", "--quiet", "--threads", "1")
    made = main_here("train", str(corpus), "--out", str(tmp_path / "a"), "--max-minutes", "0.002", *shape)
    assert made.returncode == 0, made.stderr
    said = " ".join(made.stderr.split())  # as one line, whatever the width it was wrapped to
    assert "training tokens/s here: about" in said and "lightened for few epochs: dropout 0.5 -> 0.3" in said
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["model"]["dropout"] == 0.3 and "lightened" in config["preset"]["chosen"]
    given = main_here("train", str(corpus), "--out", str(tmp_path / "b"), "--max-minutes", "0.002", "--dropout", "0.5",
                      *shape)
    assert given.returncode == 0, given.stderr
    assert json.loads((tmp_path / "b" / "config.json").read_text())["model"]["dropout"] == 0.5
