"""The CLI through its real entry point: exit codes, one-line errors, real output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnngen.cli import main
from tests._inprocess import main_here

RNNGEN = [sys.executable, "-m", "rnngen"]


def cli(*args: str, stdin: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([*RNNGEN, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)


def assert_clean_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(fragment in line for line in lines), result.stderr
    assert re.match(r"rnngen(?: [a-z]+)*: error: ", lines[-1]), lines[-1]  # ours, or argparse's for a subcommand


@pytest.fixture()
def text_corpus(tmp_path) -> Path:
    lines = ["the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog .",
             "the dog saw the cat .", "a dog sat on a mat ."]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines * 30) + "\n")
    return path


def test_end_to_end_train_score_generate_through_the_entry_point(text_corpus, tmp_path, monkeypatch):
    """Training and scoring through the installed command (`python -m rnngen`), the rest through its main."""
    model = str(tmp_path / "ckpt" / "demo")
    trained = cli("train", str(text_corpus), "--out", model, "--tokenized", "--preset", "small", "--epochs", "4", "--lr", "0.01", "--hidden", "32",
                  "--emb", "16", "--layers", "1", "--batch-size", "8", "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert "best validation perplexity" in trained.stderr
    scored = cli("score", model, "--format", "jsonl", stdin="the cat sat on the mat .\nmat the on sat cat the .\n")
    assert scored.returncode == 0, scored.stderr
    rows = [json.loads(line) for line in scored.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["the cat sat on the mat .", "mat the on sat cat the ."]
    assert rows[0]["logprob"] > rows[1]["logprob"]
    assert rows[0]["tokens"] == 8 and len(rows[0]["token_scores"]) == 8
    assert sum(t["logprob"] for t in rows[0]["token_scores"]) == pytest.approx(rows[0]["logprob"], abs=1e-9)
    tsv = main_here("score", model, "--format", "tsv", stdin="a dog .\n")
    header, row = tsv.stdout.splitlines()
    assert header.split("\t") == ["text", "logprob", "log10prob", "tokens", "perplexity", "oov", "flag"]
    assert row.split("\t")[0] == "a dog ." and row.split("\t")[3] == "4"
    gen1 = main_here("generate", model, "--seed", "4", "-n", "2", "--prompt", "the")
    gen2 = main_here("generate", model, "--seed", "4", "-n", "2", "--prompt", "the")
    assert gen1.returncode == 0 and gen1.stdout == gen2.stdout
    assert [line.split()[0] for line in gen1.stdout.splitlines()] == ["the", "the"]
    evaluated = main_here("eval", model, str(text_corpus), "--json")
    report = json.loads(evaluated.stdout)
    assert report["tokens"] == 150 * 1 + sum(len(l.split()) for l in text_corpus.read_text().splitlines())
    monkeypatch.setenv("RNNGEN_CHECKPOINTS", str(tmp_path / "ckpt"))
    listed = main_here("models", "--json")
    assert json.loads(listed.stdout)["name"] == "demo"


def test_resume_through_the_entry_point_says_where_it_picks_up(text_corpus, tmp_path):
    model = str(tmp_path / "m")
    common = ["--out", model, "--tokenized", "--hidden", "16", "--emb", "8", "--layers", "1", "--batch-size", "8",
              "--patience", "0", "--quiet"]
    assert cli("train", str(text_corpus), "--epochs", "1", *common).returncode == 0
    resumed = cli("train", str(text_corpus), "--epochs", "2", "--resume", *common)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 1 (best validation perplexity" in resumed.stderr
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1, 2]


def test_help_lists_every_command():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("train", "eval", "score", "generate", "models"):
        assert command in result.stdout


def test_bad_corpus_inputs_give_one_clear_line(tmp_path):
    assert_clean_error(main_here("train", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "m")), "no such file")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    assert_clean_error(main_here("train", str(empty), "--out", str(tmp_path / "m")), "is empty")
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)) * 10)
    assert_clean_error(main_here("train", str(binary), "--out", str(tmp_path / "m")), "binary")
    small = tmp_path / "small.txt"
    small.write_text("a b c .\nd e f .\ng h i .\nj k l .\n")
    assert_clean_error(main_here("train", str(small), "--out", str(tmp_path / "m"), "--batch-size", "20"), "batch size")
    assert not (tmp_path / "m").exists()


def test_bad_option_values(text_corpus, tmp_path):
    out = str(tmp_path / "m")
    assert_clean_error(main_here("train", str(text_corpus), "--out", out, "--dropout", "1.5"), "dropout")
    assert_clean_error(main_here("train", str(text_corpus), "--out", out, "--model", "transformer"), "unknown model type")
    assert_clean_error(main_here("train", str(text_corpus), "--out", out, "--hidden", "0"), "hidden")
    assert_clean_error(main_here("train", str(text_corpus), "--out", out, "--epochs", "x"), "invalid int value")
    assert not Path(out).exists()


def test_bad_checkpoints_and_sentences(tiny_lm_path, tmp_path):
    model = str(tiny_lm_path)
    assert_clean_error(main_here("score", str(tmp_path / "none"), stdin="a b\n"), "no model")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "vocab.json", "model.safetensors"):
        (corrupt / name).write_text("{not json")
    assert_clean_error(main_here("score", str(corrupt), stdin="a b\n"), "corrupt")
    assert_clean_error(main_here("score", model, "--strict", stdin="the cat .\n\nthe dog .\n"),
                       "line 2 is an empty sentence")
    assert_clean_error(main_here("score", model, "--strict", stdin="zebra giraffe\n"),
                       "only words the model does not know")
    assert_clean_error(main_here("score", model, stdin=""), "empty")
    assert_clean_error(main_here("generate", model, "--temperature", "-1"), "temperature")
    assert_clean_error(main_here("generate", model, "--top-p", "0"), "top-p")


def test_a_batch_scores_every_line_and_flags_the_ones_that_say_little(tiny_lm_path):
    """2,000 lines with one of unknown words only and one empty: all scored, flagged, named on stderr."""
    import json

    lines = ["the cat sat on the mat ."] * 2000
    lines[8], lines[1500] = "zebra giraffe", ""
    result = main_here("score", str(tiny_lm_path), "--format", "jsonl", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2000
    assert {i + 1: r["flag"] for i, r in enumerate(rows) if r["flag"]} == {9: "unknown-only", 1501: "empty"}
    assert rows[8]["scored"] == "zebra giraffe" and [t["oov"] for t in rows[8]["token_scores"]] == [True, True, False]
    assert rows[1500]["tokens"] == 1 and rows[1500]["token_scores"][0]["token"] == "</s>"
    assert result.stderr.splitlines() == [
        "rnngen: warning: 1 empty line (1501); scored as the model scores them and flagged 'empty' (--strict "
        "refuses them)",
        "rnngen: warning: 1 line made only of unknown words (9); scored as the model scores them and flagged "
        "'unknown-only' (--strict refuses them)"]
    tsv = main_here("score", str(tiny_lm_path), "--format", "tsv", stdin="zebra giraffe\nthe cat .\n")
    assert [row.split("\t")[-1] for row in tsv.stdout.splitlines()] == ["flag", "unknown-only", ""]


def test_main_returns_exit_codes_in_process(tiny_lm_path, capsys):
    assert main(["generate", str(tiny_lm_path), "--seed", "1", "--max-words", "5"]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["score", "/nonexistent/model", "-"]) == 2


def test_auto_preset_is_said_and_recorded_and_resume_keeps_the_saved_settings(text_corpus, tmp_path):
    shape = ("--tokenized", "--hidden", "16", "--emb", "16", "--layers", "1", "--batch-size", "8", "--quiet",
             "--threads", "1")
    auto = tmp_path / "auto"
    made = main_here("train", str(text_corpus), "--out", str(auto), "--epochs", "1", *shape)
    assert made.returncode == 0, made.stderr
    assert made.stderr.startswith("preset small-corpus: 2-layer LSTM") and "(auto: " in made.stderr
    assert "under 2,000,000" in made.stderr
    config = json.loads((auto / "config.json").read_text())
    assert config["preset"]["name"] == "small-corpus" and config["preset"]["chosen"].startswith("auto: ")
    assert config["train"]["optimizer"] == "sgd" and config["model"]["tied"] and config["model"]["hidden"] == 16
    small = tmp_path / "small"
    assert main_here("train", str(text_corpus), "--out", str(small), "--preset", "small", "--epochs", "1",
                     *shape).returncode == 0
    assert json.loads((small / "config.json").read_text())["preset"] == {"name": "small", "chosen": "given"}
    for folder, optimizer in ((auto, "sgd"), (small, "adam")):  # the saved optimiser state fits what resumes
        resumed = main_here("train", str(text_corpus), "--out", str(folder), "--resume", "--epochs", "2", *shape)
        assert resumed.returncode == 0 and "preset small" not in resumed.stderr, resumed.stderr
        config = json.loads((folder / "config.json").read_text())
        assert config["train"]["optimizer"] == optimizer and len(json.loads(
            (folder / "history.json").read_text())["epochs"]) == 2


def test_resuming_with_another_optimiser_is_one_line_not_a_crash(text_corpus, tmp_path):
    shape = ("--tokenized", "--hidden", "16", "--emb", "16", "--layers", "1", "--batch-size", "8", "--quiet")
    out = tmp_path / "m"
    assert main_here("train", str(text_corpus), "--out", str(out), "--preset", "small", "--epochs", "1",
                     *shape).returncode == 0
    before = (out / "history.json").read_bytes()
    wrong = main_here("train", str(text_corpus), "--out", str(out), "--resume", "--preset", "small-corpus",
                      "--epochs", "2", *shape)
    assert_clean_error(wrong, "was trained with adam, not sgd: resume with --optimizer adam")
    assert (out / "history.json").read_bytes() == before
