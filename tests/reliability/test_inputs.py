"""Hostile input through the real entry point: pipes and devices, huge lines, tabs, CRs, markup and escapes."""

from __future__ import annotations

import json
import os

import pytest

from rnngen.cli._display import safe, tsv_field, visible
from rnngen.errors import InputError
from rnngen.tokenize import PIECE, TokenizerSettings, pieces, split_sentences, tokenize_words
from rnngen.vocab import Vocabulary, word_problem
from tests._inprocess import main_here
from tests.test_cli import assert_clean_error, cli


# -- corpora that are not regular files ------------------------------------------------------
def test_a_fifo_or_a_device_as_corpus_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        result = cli("train", str(path), "--out", str(tmp_path / "m"), "--epochs", "1")
        assert_clean_error(result, "not a regular file")
        result = cli("corpus", "stats", str(path))
        assert_clean_error(result, "not a regular file")


def test_a_fifo_as_sentences_or_an_nbest_list_is_refused(tmp_path, tiny_lm_path):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    assert_clean_error(cli("score", str(tiny_lm_path), str(fifo)), "not a regular file")
    # the check comes before any read (a regression would hang the subprocess above, not this process)
    assert_clean_error(main_here("rerank", str(tiny_lm_path), str(fifo)), "not a regular file")
    assert_clean_error(main_here("score", str(tiny_lm_path), str(tmp_path)), "is a folder")


# -- one enormous paragraph ------------------------------------------------------------------
def test_pieces_cut_long_text_at_sentence_ends_and_lose_nothing():
    text = "A cat sat. " * 5000 + "x" * (PIECE + 10)
    parts = pieces(text)
    assert "".join(parts) == text
    assert all(len(p) <= PIECE for p in parts)
    assert all(p.endswith(". ") for p in parts[:-3])  # cut after a sentence end while there is one
    assert pieces("short text") == ["short text"]


def test_a_long_paragraph_tokenizes_as_nltk_does_piece_by_piece():
    from nltk.tokenize import NLTKWordTokenizer

    sentence = 'He said "no" to the 3.5 cats (and dogs), didn\'t he? ' * 2000
    assert len(sentence) > 3 * PIECE
    tokens = tokenize_words(sentence, TokenizerSettings())
    assert tokens == NLTKWordTokenizer().tokenize(" ".join(sentence.split()))
    words = ["cat", "dog", "bird", "horse", "fox", "owl", "mouse"]
    text = " ".join(f"The {words[i % 7]} saw {i} {words[(i * 3) % 7]}s near the river." for i in range(6000))
    assert len(text) > 10 * PIECE
    from rnngen.tokenize import train_punkt

    assert split_sentences(text, TokenizerSettings()) == train_punkt(text).tokenize(text)


def test_nltks_timeout_is_one_line(monkeypatch):
    import rnngen.tokenize as tokenize

    class Slow:
        def tokenize(self, text):
            raise TimeoutError("regex timed out")

    monkeypatch.setattr(tokenize, "_word_tokenizer", lambda: Slow())
    with pytest.raises(InputError, match="timed out on a passage of 9 characters"):
        tokenize_words("some text", TokenizerSettings())


# -- lines, tabs and carriage returns ----------------------------------------------------------
def test_a_lone_cr_does_not_split_a_line_and_crlf_does(tiny_lm_path, tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"the cat\rsat on the mat .\r\na dog sat .\n")
    result = main_here("score", str(tiny_lm_path), str(path), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and rows[0]["text"] == "the cat\rsat on the mat ."


def test_tsv_fields_escape_what_would_break_a_row(tiny_lm_path, tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("the\tcat sat \\ on the mat .\n", encoding="utf-8")
    result = main_here("score", str(tiny_lm_path), str(path), "--format", "tsv")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 2
    assert lines[1].split("\t")[0] == "the\\tcat sat \\\\ on the mat ."
    assert len(lines[1].split("\t")) == len(lines[0].split("\t"))
    assert tsv_field("a\tb\nc\rd\\e\x1b") == "a\\tb\\nc\\rd\\\\e\\x1b"


# -- markup and terminal escapes from files ---------------------------------------------------------
def test_display_text_is_never_markup_or_a_terminal_control():
    assert visible("title\x1b]0;owned\x07 end") == "title\\x1b]0;owned\\x07 end"
    assert safe("[link=file:///etc/passwd]click[/link]") == "\\[link=file:///etc/passwd]click\\[/link]"
    assert visible("caf\u00e9 \u2028") == "caf\u00e9 \\u2028"


def test_score_shows_escapes_and_markup_as_text(tiny_lm_path, tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("the cat [bold]sat[/bold] \x1b]0;TITLE\x07 .\n", encoding="utf-8")
    result = cli("score", str(tiny_lm_path), str(path), env_extra={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "[bold]sat[/bold]" in result.stdout and "\\x1b]0;TITLE\\x07" in result.stdout
    jsonl = main_here("score", str(tiny_lm_path), str(path), "--format", "jsonl")
    assert json.loads(jsonl.stdout)["text"] == "the cat [bold]sat[/bold] \x1b]0;TITLE\x07 ."  # data kept intact


# -- vocabulary words ------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["a b", "a\nb", "tab\t", "esc\x1b", "", 7, None])
def test_a_vocabulary_word_with_a_space_or_a_control_is_refused(word):
    assert word_problem(word) is not None
    with pytest.raises(ValueError, match="word 3"):
        Vocabulary(["<unk>", "<s>", "</s>", word])


def test_building_a_vocabulary_drops_words_it_could_not_keep():
    vocab = Vocabulary.build([["a", "b\x1b", "a"], ["c"]], max_size=10)
    assert vocab.words == ["<unk>", "<s>", "</s>", "a", "c"]
    assert vocab.is_oov("b\x1b")


def test_a_duplicated_vocabulary_word_is_refused():
    with pytest.raises(ValueError, match="twice"):
        Vocabulary(["<unk>", "<s>", "</s>", "a", "a"])


# -- the all-unknown rule is one rule --------------------------------------------------------------
def test_score_strict_refuses_what_the_engine_rule_refuses(tiny_lm_path, tiny_lm):
    from rnngen.score import check_scorable

    text = "zebra quagga okapi"
    with pytest.raises(InputError) as caught:
        check_scorable(tiny_lm.tokenize(text), tiny_lm.vocab, text, "line 1")
    result = main_here("score", str(tiny_lm_path), "-", "--strict", stdin=text + "\n")
    assert_clean_error(result, str(caught.value))


# -- generated text is scored as the tokens that were sampled ----------------------------------------
def test_generated_tokens_score_exactly_as_sampled(tiny_lm_path, tiny_lm):
    import math

    from rnngen.generate import SamplingSettings

    generated = main_here("generate", str(tiny_lm_path), "-n", "5", "--seed", "11", "--tokens")
    assert generated.returncode == 0, generated.stderr
    scored = main_here("score", str(tiny_lm_path), "-", "--pretokenized", "--format", "jsonl", stdin=generated.stdout)
    assert scored.returncode == 0, scored.stderr
    rows = [json.loads(line) for line in scored.stdout.splitlines()]
    sentences: dict[int, list] = {}
    for n, step in tiny_lm.generate("", SamplingSettings(seed=11), 5):
        sentences.setdefault(n, []).append(step)
    assert len(rows) == len(sentences) == 5
    for row, steps in zip(rows, sentences.values()):
        assert row["text"].split() == [s.word for s in steps if not s.is_end]
        assert row["logprob"] == pytest.approx(sum(math.log(s.prob) for s in steps), abs=1e-4)
