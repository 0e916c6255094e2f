"""Corpus statistics: exact counts on a hand-made corpus, the CLI tables and JSON."""

from __future__ import annotations

import json

from rnngen.corpus.base import Corpus
from rnngen.corpus.stats import LengthBin, corpus_stats, length_histogram, spread, true_perplexity
from rnngen.tokenize import TokenizerSettings


def small_corpus() -> Corpus:
    train = [s.split() for s in ["a b c", "a b", "a", "a b c d e", "f g h i j k l m n o p q"]]
    valid = [s.split() for s in ["a b z", "c y"]]
    test = [s.split() for s in ["a"]]
    return Corpus("small", train, valid, test, TokenizerSettings.pretokenized(), source="test", warnings=["w"])


def test_counts_coverage_and_oov():
    stats = corpus_stats(small_corpus(), vocab_size=5, top=3, samples=2)
    assert stats.sentences == {"train": 5, "valid": 2, "test": 1}
    assert stats.tokens == {"train": 23, "valid": 5, "test": 1}
    assert stats.types == 17  # a..q
    assert stats.singletons == 14  # d, e and f..q
    # C=5 includes <unk> <s> </s>: the two most frequent words, a (4) and b (3), are kept
    assert stats.vocab_used == 2
    assert stats.train_coverage == 7 / 23
    assert stats.valid_oov_rate == 3 / 5  # z, c, y
    assert stats.valid_unseen_rate == 2 / 5  # z, y
    assert stats.top_words == [("a", 4), ("b", 3), ("c", 2)]
    assert stats.samples == [["a", "b", "c"], ["a"]]
    assert (stats.length_mean, stats.length_median, stats.length_max) == (29 / 8, 3, 12)
    assert stats.length_bins == [LengthBin(1, 4, 6), LengthBin(5, 9, 1), LengthBin(10, 14, 1)]
    assert stats.warnings == ["w"] and stats.true_perplexity is None
    assert stats.total_sentences == 8 and stats.total_tokens == 29
    data = stats.to_dict()
    assert data["length_bins"][0] == {"low": 1, "high": 4, "count": 6}
    assert data["top_words"][0] == ["a", 4]
    json.dumps(data)


def test_large_vocabulary_covers_everything():
    stats = corpus_stats(small_corpus(), vocab_size=8000)
    assert stats.vocab_used == 17 and stats.train_coverage == 1.0
    assert stats.valid_oov_rate == 2 / 5


def test_histogram_edges():
    assert length_histogram([]) == []
    assert length_histogram([250, 3]) == [LengthBin(1, 4, 1), *[LengthBin(lo, hi, 0) for lo, hi in
                                          ((5, 9), (10, 14), (15, 19), (20, 29), (30, 39), (40, 59), (60, 79),
                                           (80, 99), (100, 149), (150, 199))], LengthBin(200, 250, 1)]


def test_spread_samples():
    sents = [[str(i)] for i in range(10)]
    assert spread(sents, 3) == [["0"], ["3"], ["6"]]
    assert spread(sents, 0) == [] and spread(sents[:2], 5) == [["0"], ["1"]]


def test_true_perplexity_counts_sentence_ends():
    corpus = small_corpus()
    assert true_perplexity(corpus) is None
    corpus.true_logprob = lambda s: -2.0 * (len(s) + 1)
    assert abs(true_perplexity(corpus, "valid") - 7.38905609893065) < 1e-9  # e^2 per token
    assert corpus_stats(corpus).true_perplexity is not None


def test_cli_stats_table(capsys):
    from rnngen.cli import main

    assert main(["corpus", "stats", "travel", "--vocab-size", "100", "--top", "3", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "24,000  (train 21,600 / valid 1,200 / test 1,200)" in out
    assert "true-entropy floor" in out and "most frequent words" in out
    assert "│ to " in out or " to " in out


def test_cli_stats_bad_vocab_size(capsys):
    from rnngen.cli import main

    assert main(["corpus", "stats", "travel", "--vocab-size", "2"]) == 2
    assert capsys.readouterr().err == "rnngen: error: vocab-size must be at least 4, got 2\n"
