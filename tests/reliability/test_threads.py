"""Thread counts: one fewer than the usable cores by default, $RNNGEN_THREADS or --threads to choose, bad values refused."""

from __future__ import annotations

import pytest
import torch

from rnngen import hardware
from rnngen.cli import _common, main
from rnngen.errors import ConfigError
from tests._inprocess import main_here
from tests.test_cli import assert_clean_error, cli


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    monkeypatch.delenv(hardware.THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_default_leaves_one_core_free():
    assert [hardware.default_threads(c) for c in (1, 2, 3, 16)] == [1, 1, 2, 15]
    assert hardware.default_threads() == max(1, hardware.usable_cores() - 1)
    assert hardware.set_threads() == hardware.default_threads() == torch.get_num_threads()


def test_an_argument_beats_the_environment_which_beats_the_default(monkeypatch):
    monkeypatch.setenv(hardware.THREADS_ENV, "3")
    assert hardware.set_threads() == 3 == torch.get_num_threads()
    assert hardware.set_threads(2) == 2 == torch.get_num_threads()


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", " "])
def test_a_bad_environment_value_is_refused_or_ignored_when_blank(monkeypatch, raw):
    monkeypatch.setenv(hardware.THREADS_ENV, raw)
    if not raw.strip():
        assert hardware.set_threads() == hardware.default_threads()
        return
    with pytest.raises(ConfigError, match=hardware.THREADS_ENV):
        hardware.set_threads()


@pytest.mark.parametrize("bad", [0, -2, True, 2.0])
def test_a_bad_argument_is_refused(bad):
    with pytest.raises(ConfigError, match="--threads"):
        hardware.set_threads(bad)


def test_the_cli_names_the_same_variable():
    assert _common.THREADS_ENV == hardware.THREADS_ENV


def test_every_computing_command_applies_threads(tiny_lm_path, tmp_path, capsys):
    sentences = tmp_path / "s.txt"
    sentences.write_text("the cat sat on the mat .\n", encoding="utf-8")
    for args in (["score", str(tiny_lm_path), str(sentences)], ["eval", str(tiny_lm_path), str(sentences)],
                 ["generate", str(tiny_lm_path), "--seed", "1"], ["rerank", str(tiny_lm_path), str(sentences)]):
        torch.set_num_threads(4)
        assert main([*args, "--threads", "1"]) == 0, args
        assert torch.get_num_threads() == 1, args
    capsys.readouterr()


def test_bad_thread_counts_are_one_line_errors(tiny_lm_path):
    assert_clean_error(main_here("generate", str(tiny_lm_path), "--threads", "0"), "--threads must be a whole number")
    assert_clean_error(cli("generate", str(tiny_lm_path), env_extra={hardware.THREADS_ENV: "lots"}),
                       hardware.THREADS_ENV)
    result = main_here("generate", str(tiny_lm_path), "--threads", "x")
    assert result.returncode == 2 and "invalid int value" in result.stderr and "Traceback" not in result.stderr
    for command in ("train", "eval", "score", "generate", "rerank", "bench"):
        assert "--threads" in main_here(command, "--help").stdout, command
