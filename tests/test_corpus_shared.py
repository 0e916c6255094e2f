"""Every kind of corpus in ../shared/corpora loads as a new user would get it (raw and tokenized)."""

from __future__ import annotations

import pytest

from rnngen.corpus import load_corpus

pytestmark = pytest.mark.shared


def flat(corpus):
    return [s for split in (corpus.train, corpus.valid, corpus.test) for s in split]


@pytest.mark.parametrize("spec,splits,tokens", [
    ("ptb/valid.txt", (3034, 168, 168), 70_390),
    ("wikitext-2/test.txt", (2601, 145, 145), 241_211),
    ("bench/wt2-mini", (2461, 1479, 1412), 455_097),
    ("grimm", (2955, 400, 400), 108_653),
])
def test_tokenized_corpora_are_read_line_by_line(shared_corpora, spec, splits, tokens):
    corpus = load_corpus(shared_corpora / spec)
    assert corpus.settings.words == "whitespace" and corpus.settings.sentences == "lines"
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == splits
    assert sum(len(s) for s in flat(corpus)) == tokens
    assert corpus.warnings == []


def test_ptb_line_counts_match_the_files(shared_corpora):
    corpus = load_corpus(shared_corpora / "ptb")
    assert len(flat(corpus)) == 3370 + 3761
    assert corpus.warnings == ["ptb has no train split: read its 2 .txt files as one text and split it 90/5/5"]


def test_wikitext_headings_stay_as_lines(shared_corpora):
    corpus = load_corpus(shared_corpora / "bench" / "wt2-mini")
    assert corpus.train[0] == ["=", "Homarus", "gammarus", "="]
    assert all("" not in s for s in flat(corpus))


def test_japanese_fairy_tales_bom_crlf_and_gutenberg(shared_corpora):
    raw = load_corpus(shared_corpora / "japanese-fairy-tales" / "raw.txt")
    assert raw.settings.words == "nltk" and raw.settings.sentences == "punkt"
    words = [w for s in flat(raw) for w in s]
    assert not any("\ufeff" in w or "\r" in w for w in words)
    assert "Gutenberg" not in words and "eBook" not in words
    assert raw.train[0] == ["Japanese", "Fairy", "Tales"]
    tokenized = load_corpus(shared_corpora / "japanese-fairy-tales")
    assert tokenized.settings.words == "whitespace"
    assert tokenized.train[0][:4] == ["Japanese", "Fairy", "Tales", "COMPILED"]  # licence header gone
    assert not any("GUTENBERG" in " ".join(s) for s in flat(tokenized))


def test_tinyshakespeare_speakers_are_their_own_sentences(shared_corpora, tmp_path):
    # the first 2,000 lines keep this test quick; the whole file behaves the same
    head = "\n".join((shared_corpora / "tinyshakespeare" / "input.txt").read_text().split("\n")[:2000])
    (tmp_path / "head.txt").write_text(head)
    corpus = load_corpus(tmp_path / "head.txt")
    sents = flat(corpus)
    assert sents[0] == ["First", "Citizen", ":"]
    assert sents[1] == ["Before", "we", "proceed", "any", "further", ",", "hear", "me", "speak", "."]
    assert sum(1 for s in sents if s == ["First", "Citizen", ":"]) == head.count("\nFirst Citizen:\n") + 1
