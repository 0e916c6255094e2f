"""The benchmark suite on a tiny corpus: every section runs and returns sane, structured figures.

No timed assertions: rates are only checked to be positive and consistent
with each other; the figures themselves are in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from rnngen.bench import BEST, REFERENCE, BenchSettings, run_suite
from rnngen.bench import measure
from rnngen.bench.kneser_ney import KneserNey
from rnngen.bench.recipe import Recipe
from rnngen.bench.report import plain_text, rows, target_rows, write_json
from rnngen.bench.suite import bench_corpus, configs_from_dict, train_vocabulary
from rnngen.cli import main
from rnngen.config import ModelConfig
from rnngen.vocab import Vocabulary

from tests.conftest import TINY_TEXT

SECTIONS = ("machine", "roofline", "flops", "throughput", "training", "kneser_ney", "interpolated", "scoring",
            "generation", "memory", "startup", "targets")


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench-corpus")
    lines = TINY_TEXT.strip().splitlines()
    (folder / "train.txt").write_text("\n".join(lines * 30) + "\n")
    (folder / "valid.txt").write_text("\n".join(lines[:4] * 2) + "\n")
    (folder / "test.txt").write_text("\n".join([*lines[2:], "a bird sat on the log ."]) + "\n")
    return folder


def tiny_settings(corpus: Path) -> BenchSettings:
    return BenchSettings(corpus=corpus, minutes=0.01, quick=True, roofline_size=64, throughput_seconds=0.4,
                         throughput_rounds=2, kn_order=3, single_seconds=0.2, gen_sentences=2, gen_words=4,
                         rss_seconds=0.2, startup_runs=1, turn_seconds=0.1, probe_seconds=0.3)


@pytest.fixture(scope="module")
def result(bench_dir) -> dict:
    messages: list[str] = []
    out = run_suite(tiny_settings(bench_dir), progress=messages.append)
    out["_messages"] = messages
    return out


def test_suite_returns_every_section(result):
    for name in SECTIONS:
        assert name in result, name
    assert "throughput…" in result["_messages"]
    assert result["machine"]["cpus"] >= 1 and result["machine"]["torch"] == torch.__version__
    assert set(result["training"]) == {"reference", "best"}


def test_rates_are_positive(result):
    assert result["roofline"]["gflops"] > 0
    thr = result["throughput"]
    assert thr["rnngen_tokens_per_s"] > 0 and thr["recipe_tokens_per_s"] > 0
    assert thr["speedup_vs_recipe"] == pytest.approx(thr["rnngen_tokens_per_s"] / thr["recipe_tokens_per_s"])
    assert thr["fused_speedup"] == pytest.approx(thr["rnngen_tokens_per_s"] / thr["rnngen_unfused_tokens_per_s"])
    score = result["scoring"]
    assert score["batched"]["tokens_per_s"] > 0 and score["single"]["tokens_per_s"] > 0
    assert score["batched"]["sentences"] == 5  # the test split's five lines
    assert result["kneser_ney"]["tokens_per_s"] > 0
    chosen = result["training"]["best"]["budget"]
    assert chosen["tokens_per_s"] > 0 and chosen["epochs_fit"] < 8  # 0.01 minutes: lightened
    assert "schedule constant -> linear" in chosen["changes"]
    assert result["training"]["best"]["train"]["schedule"] == "linear"
    mixed = result["interpolated"]
    assert mixed["same_vocabulary"] and 0 <= mixed["lambda"] <= 1
    assert mixed["test_ppl"] <= max(mixed["rnn_by_line_test_ppl"], mixed["ngram_test_ppl"])
    gen = result["generation"]
    assert gen["words"] == 2 * 4 and gen["ms_per_word"] > 0 and gen["first_word_ms"] > 0
    assert gen["ms_per_word_without_cell_path"] > 0
    assert result["memory"]["peak_rss_mb"] > 50  # torch alone is more than that
    assert result["startup"]["median_s"] > 0 and result["startup"]["runs"] == 1


def test_batched_and_single_scores_agree(result):
    assert result["scoring"]["max_abs_logprob_difference"] < 1e-4
    assert result["scoring"]["single"]["sentences"] >= 1


def test_budget_runs_report_perplexities(result):
    light = {**BEST, "model": {**BEST["model"], "emb": 200, "hidden": 200, "dropout": 0.3, "embed_drop": 0.0},
             "train": {**BEST["train"], "schedule": "linear", "average": 0.0}}  # 0.01 minutes: few epochs fit
    for name, spec in (("reference", REFERENCE), ("best", light)):
        run = result["training"][name]
        assert run["model"] == spec["model"] and run["train"] == spec["train"]
        assert run["epochs"] and run["epochs"][0]["epoch"] == 1
        assert run["stopped_by"] in ("time", "epochs")
        assert run["turn_seconds"] == 0.1
        if run["stopped_by"] == "time":   # its own time, counted while the other run waited
            assert run["train_seconds"] >= 0.01 * 60
        assert 1.0 < run["valid_ppl"] < math.inf and 1.0 < run["test_ppl"] < math.inf
        assert "lm" not in run
        cache = run["cache"]  # its theta and weight tuned on valid
        assert cache["size"] == 2000 and 0.0 <= cache["weight"] < 1.0
        assert 1.0 < cache["valid_ppl"] < math.inf and 1.0 < cache["test_ppl"] < math.inf


def test_targets_are_computed_from_the_same_run(result):
    targets = {t["target"]: t for t in result["targets"]}
    assert len(targets) == 10
    both = targets["best + cache / reference + cache test ppl"]["value"]
    assert both == pytest.approx(result["training"]["best"]["cache"]["test_ppl"]
                                 / result["training"]["reference"]["cache"]["test_ppl"])
    assert all(isinstance(t["met"], bool) for t in targets.values())
    fraction = targets["reference training, fraction of matmul roofline"]["value"]
    expected = result["throughput"]["rnngen_tokens_per_s"] * result["flops"]["reference"]["train"] / 1e9
    assert fraction == pytest.approx(expected / result["roofline"]["gflops"])
    ratio = targets["best test ppl / reference test ppl"]["value"]
    assert ratio == pytest.approx(result["training"]["best"]["test_ppl"] / result["training"]["reference"]["test_ppl"])
    rss = targets["training peak RSS MB"]
    assert rss["met"] == (rss["value"] < 1536)


def test_result_round_trips_through_json(result, tmp_path):
    path = write_json({k: v for k, v in result.items() if k != "_messages"}, tmp_path / "out" / "bench.json")
    data = json.loads(path.read_text())
    assert data["flops"]["reference"]["train"] == result["flops"]["reference"]["train"]
    assert data["settings"]["corpus"] == str(result["settings"]["corpus"])


def test_report_rows_and_plain_text(result):
    table = rows(result)
    assert ("machine", "matmul roofline (fp32 torch.mm)", f"{result['roofline']['gflops']:,.1f} GFLOP/s") in table
    assert len(target_rows(result)) == 10
    text = plain_text(result)
    assert "[targets]" in text and "Kneser-Ney 3-gram: test ppl" in text


def test_flops_formula_for_the_reference():
    config = ModelConfig(vocab_size=13778, **REFERENCE["model"])
    flops = measure.model_flops(config, 13778)
    assert flops["rnn_forward"] == 2 * (2 * 4 * 200 * (200 + 200))
    assert flops["softmax_forward"] == 2 * 200 * 13778
    assert flops["train"] == 3 * flops["forward"] == 3 * (1_280_000 + 5_511_200)


def test_flops_formula_for_adaptive_softmax():
    config = ModelConfig(vocab_size=13778, **{**BEST["model"], "tied": False})
    shares = [0.1, 0.05]
    flops = measure.softmax_flops_per_token(config, 13778, shares)
    h = config.hidden
    head = 2 * h * (2000 + 2)
    tail1 = 0.1 * (2 * h * (h // 4) + 2 * (h // 4) * 8000)
    tail2 = 0.05 * (2 * h * (h // 16) + 2 * (h // 16) * 3778)
    assert flops == pytest.approx(head + tail1 + tail2)


def test_flops_formula_for_the_tied_adaptive_softmax():
    config = ModelConfig(vocab_size=13778, **{**BEST["model"], "tied": True})
    flops = measure.softmax_flops_per_token(config, 13778, [0.1, 0.05])
    h = config.emb  # full-width clusters over the embedding rows, no projections
    assert flops == pytest.approx(2 * h * (2000 + 2) + 0.1 * 2 * h * 8000 + 0.05 * 2 * h * 3778)


def test_cluster_shares_count_targets():
    # vocabulary of 10 -> cutoffs [5]; ids 5..9 are the tail; each sentence also predicts </s> (id 2, head)
    assert measure.cluster_shares([[5, 6, 3], [9]], 10) == [pytest.approx(3 / 6)]


def test_configs_keep_the_whole_training_vocabulary(bench_dir):
    corpus = bench_corpus(bench_dir)
    model, train = configs_from_dict(REFERENCE, corpus, 2.0)
    assert model.vocab_size == len(train_vocabulary(corpus)) == len(Vocabulary.build(corpus.train, None))
    assert (train.optimizer, train.lr, train.clip, train.bptt, train.batch_size, train.mode) == \
        ("sgd", 20.0, 0.25, 35, 20, "stream")
    assert train.max_minutes == 2.0 and model.dropout == 0.2 and not model.tied


def test_recipe_step_predicts_a_batch(bench_dir):
    stream = torch.arange(3, 23).repeat(50)
    recipe = Recipe(stream, 30, 8, 8, 2, 0.2, batch_size=4, bptt=5, lr=1.0, clip=0.25, device=torch.device("cpu"))
    assert recipe.step() == 4 * 5
    assert math.isfinite(recipe.total_loss)
    tokens, seconds = recipe.run(0.05)
    assert tokens > 0 and seconds >= 0.05


# -- the Kneser-Ney baseline ----------------------------------------------------
def _kn(sentences, order):
    return KneserNey(sentences, Vocabulary.build(sentences, None), order)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_kneser_ney_is_normalised_in_every_context(order):
    sentences = [line.split() for line in TINY_TEXT.strip().splitlines()] * 3 + [["a", "bird", "flew", "."]]
    model = _kn(sentences, order)
    for context in ([], ["<s>"], ["<s>", "the"], ["the", "cat", "sat"], ["never", "seen", "words"], ["a", "bird"]):
        total = math.fsum(model.probability(w, context) for w in model.predictable())
        assert total == pytest.approx(1.0, abs=1e-12), context


def test_kneser_ney_adjusted_counts_are_continuation_counts():
    model = _kn([["a", "b"], ["c", "b"], ["a", "b"]], 2)
    unigrams = model.orders[1].counts
    assert unigrams[("b",)] == 2          # left neighbours a and c
    assert unigrams[("a",)] == 1          # only ever after <s>
    assert unigrams[("</s>",)] == 1       # only ever after b
    assert model.orders[2].counts[("a", "b")] == 2  # highest order keeps raw counts
    assert model.orders[2].counts[("<s>", "a")] == 2


def test_kneser_ney_discounts_follow_the_count_of_counts():
    # bigram counts: 1 x4, 2 x2, 3 x1, 4 x1 -> Y = 4 / (4 + 2*2) = 0.5
    sentences = [["x", "a"], ["x", "b"], ["x", "c"], ["x", "d"]] + [["y", "e"]] * 2 + [["y", "f"]] * 2 \
        + [["z", "g"]] * 3 + [["w", "h"]] * 4
    model = _kn(sentences, 2)
    counts = [c for g, c in model.orders[2].counts.items() if g[0] != "<s>" and g[-1] != "</s>"]
    assert sorted(counts) == [1, 1, 1, 1, 2, 2, 3, 4]
    d1, d2, d3 = model.orders[2].discounts
    of = {j: sum(1 for c in model.orders[2].counts.values() if c == j) for j in (1, 2, 3, 4)}
    y = of[1] / (of[1] + 2 * of[2])
    raw = (1 - 2 * y * of[2] / of[1], 2 - 3 * y * of[3] / of[2], 3 - 4 * y * of[4] / of[3])
    assert raw[2] < 0  # this count-of-counts gives an unusable third discount ...
    # ... which is clamped into (0, 3] so that every probability stays positive
    assert (d1, d2, d3) == pytest.approx((raw[0], raw[1], 0.05))


def test_kneser_ney_scores_unknown_words_as_unk():
    sentences = [["the", "<unk>", "sat"], ["the", "cat", "sat"]] * 2
    model = _kn(sentences, 3)
    assert model.sentence_logprob(["the", "zebra", "sat"]) == model.sentence_logprob(["the", "<unk>", "sat"])
    assert len(model.sentence_logprob(["the", "cat"])) == 3  # two words and </s>


# -- the command ----------------------------------------------------------------
def test_cli_bench_renders_and_writes_json(result, monkeypatch, tmp_path, capsys, bench_dir):
    import rnngen.bench.suite as suite

    seen = {}

    def fake_run_suite(settings, progress=None):
        seen["settings"] = settings
        progress("roofline…")
        progress("roofline: 0.1 s")
        return {k: v for k, v in result.items() if k != "_messages"}

    monkeypatch.setattr(suite, "run_suite", fake_run_suite)
    code = main(["bench", "--quick", "--minutes", "0.5", "--corpus", str(bench_dir), "--turn-seconds", "0",
                 "--json", str(tmp_path / "b.json")])
    assert code == 0
    assert seen["settings"].quick and seen["settings"].minutes == 0.5 and seen["settings"].corpus == bench_dir
    assert seen["settings"].turn_seconds == 0
    printed = capsys.readouterr().out
    assert "matmul roofline" in printed and "targets" in printed
    assert json.loads((tmp_path / "b.json").read_text())["targets"]


def test_cli_bench_bad_options_are_one_line_errors(tmp_path, capsys):
    assert main(["bench", "--quick", "--minutes", "0"]) == 2
    assert "rnngen: error: --minutes must be positive" in capsys.readouterr().err
    assert main(["bench", "--quick", "--turn-seconds", "-1"]) == 2
    assert "rnngen: error: --turn-seconds must not be negative" in capsys.readouterr().err
    assert main(["bench", "--quick", "--corpus", str(tmp_path / "nowhere")]) == 2
    assert "no benchmark corpus" in capsys.readouterr().err
