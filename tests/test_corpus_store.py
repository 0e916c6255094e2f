"""Corpora held as arrays and the prepared-corpus cache: the same sentences, counts, batches and models as
lists of strings; reused while nothing changed, rebuilt when anything did, never trusted when broken."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnngen.corpus import load_corpus, store
from rnngen.corpus.arrays import SplitBuilder, TokenSplit, WordTable
from rnngen.corpus.local import text_to_sentences
from rnngen.errors import CorpusError
from rnngen.vocab import Vocabulary

TEXT = "The cat sat on the mat. The dog sat too!\n\nA grey cat saw a dog. It ran away, didn't it?\n" * 40


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("RNNGEN_CACHE", str(root))
    return root


def book(tmp_path: Path, text: str = TEXT, name: str = "book.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def from_sentences(sentences) -> TokenSplit:
    builder = SplitBuilder(WordTable())
    builder.add(list(sentences))
    return builder.build()


def as_lists(split) -> list[list[str]]:
    return [list(s) for s in split]


def test_arrays_read_as_the_sentences_they_hold():
    sentences = [["a", "b", "a"], ["c"], ["b", "a", "d", "e"]]
    split = from_sentences(sentences)
    assert len(split) == 3 and split[0] == ["a", "b", "a"] and split[-1] == ["b", "a", "d", "e"]
    assert as_lists(split[1:]) == sentences[1:] and split[1:].num_tokens == 5
    assert split == sentences and split[:0] == [] and not split[:0]
    assert split.counts().tolist() == [3, 2, 1, 1, 1]
    with pytest.raises(IndexError):
        split[3]


@pytest.mark.parametrize("sentences", [
    [["b", "a"], ["a", "b", "c"], ["c", "<UNK>", "<unk>", "<eos>", "</s>", "d"]],  # ties and aliases
    [["z"] * 3 + ["y"] * 3, ["x", "y", "z"]],
])
def test_vocabulary_from_arrays_equals_vocabulary_from_lists(sentences):
    """Ties in frequency are broken by first appearance, also in a split that is not the first one read."""
    for size in (None, 5, 6):
        expected = Vocabulary.build(sentences, size).words
        whole = from_sentences(sentences)
        assert Vocabulary.build(whole, size).words == expected
        later = from_sentences([["q", "d", "c", "b", "a"]] + sentences)[1:]  # numbered by another split first
        assert Vocabulary.build(later, size).words == expected


def test_vocabulary_and_stats_match_on_real_corpora(shared_corpora, cache):
    from rnngen.corpus.base import Corpus
    from rnngen.corpus.stats import corpus_stats

    for spec in ("grimm/raw.txt", "bench/wt2-mini"):
        corpus = load_corpus(shared_corpora / spec)
        assert isinstance(corpus.train, TokenSplit)
        lists = Corpus(corpus.name, as_lists(corpus.train), as_lists(corpus.valid), as_lists(corpus.test),
                       corpus.settings, corpus.source, corpus.fingerprint, corpus.warnings)
        assert Vocabulary.build(corpus.train, 8000).words == Vocabulary.build(lists.train, 8000).words
        assert corpus_stats(corpus).to_dict() == corpus_stats(lists).to_dict()
        assert corpus.describe() == lists.describe()


def test_file_corpus_equals_the_list_tokenization(tmp_path, cache):
    path = book(tmp_path)
    sentences, settings = text_to_sentences(TEXT, None, False)
    corpus = load_corpus(path)
    assert as_lists(corpus.train) + as_lists(corpus.valid) + as_lists(corpus.test) == sentences
    assert corpus.settings == settings


def test_second_load_reads_the_cache(tmp_path, cache):
    path = book(tmp_path)
    first = load_corpus(path)
    assert first.cache is not None and first.cache.parent == cache
    second = load_corpus(path)
    assert second.cache == first.cache
    assert isinstance(second.train.ids, np.memmap)  # memory-mapped, not read in
    for split in ("train", "valid", "test"):
        assert as_lists(second.split(split)) == as_lists(first.split(split))
    assert (second.fingerprint, second.settings, second.name, second.warnings) == \
           (first.fingerprint, first.settings, first.name, first.warnings)


def test_a_changed_source_or_setting_is_prepared_again(tmp_path, cache):
    path = book(tmp_path)
    first = load_corpus(path)
    path.write_text(TEXT + "A new bird sang.\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # even with an old time: the size differs
    changed = load_corpus(path)
    assert changed.cache != first.cache and ["A", "new", "bird", "sang", "."] in as_lists(changed.test)
    lower = load_corpus(path, lowercase=True)
    assert lower.cache not in (first.cache, changed.cache) and lower.train[0][0] == "the"


def test_split_folder_is_cached_with_one_word_table(tmp_path, cache):
    folder = tmp_path / "ptbish"
    folder.mkdir()
    (folder / "train.txt").write_text("a b c\nb c d\n" * 20)
    (folder / "valid.txt").write_text("e a\n")
    (folder / "test.txt").write_text("f b\n")
    corpus = load_corpus(folder)
    again = load_corpus(folder)
    assert again.cache == corpus.cache
    assert as_lists(again.valid) == [["e", "a"]] and as_lists(again.test) == [["f", "b"]]
    assert again.train.words is again.valid.words


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-manifest", "bad-manifest", "pickle"])
def test_a_broken_cache_is_rebuilt_never_trusted(tmp_path, cache, damage):
    path = book(tmp_path)
    entry = load_corpus(path).cache
    ids = entry / "train.ids.npy"
    if damage == "flip":
        data = bytearray(ids.read_bytes())
        data[-3] ^= 0x40
        ids.write_bytes(bytes(data))
    elif damage == "truncate":
        ids.write_bytes(ids.read_bytes()[:-8])
    elif damage == "no-manifest":  # as a crash before the manifest was written would leave it
        (entry / store.MANIFEST).unlink()
    elif damage == "bad-manifest":
        (entry / store.MANIFEST).write_text("{not json")
    else:  # an object array, whose hash is made to match: only allow_pickle=False stops it
        np.save(ids, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
        manifest = json.loads((entry / store.MANIFEST).read_text())
        manifest["files"]["train.ids.npy"] = {"bytes": ids.stat().st_size, "sha256": store.sha256_file(ids)}
        (entry / store.MANIFEST).write_text(json.dumps(manifest))
    assert store.load(entry.name) is None
    rebuilt = load_corpus(path)
    assert rebuilt.cache == entry and store.load(entry.name) is not None
    assert as_lists(rebuilt.train) == as_lists(load_corpus(path).train)


def test_a_source_changing_while_it_is_cached_stops_with_one_line(tmp_path, cache, monkeypatch):
    path = book(tmp_path)
    write = store._write

    def write_then_change(folder, corpus, progress):
        files = write(folder, corpus, progress)
        path.write_text(TEXT + "More.\n", encoding="utf-8")
        return files

    monkeypatch.setattr(store, "_write", write_then_change)
    with pytest.raises(CorpusError, match="changed while it was being prepared"):
        load_corpus(path)
    assert not cache.exists() or not any(cache.iterdir())  # nothing published, no temporary folder left


def test_a_failed_write_is_a_warning_and_leaves_nothing(tmp_path, cache, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    corpus = load_corpus(book(tmp_path))
    assert corpus.cache is None and len(corpus.train) > 0
    assert any("could not cache" in w and "No space left" in w for w in corpus.warnings)
    assert not any(cache.iterdir())


def test_a_file_size_limit_while_caching_through_the_cli(tmp_path, cache):
    """A real failed write: the process may not write files over 64 KiB (as a full small disk would stop it)."""
    import resource

    path = book(tmp_path, TEXT * 60)

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run([sys.executable, "-m", "rnngen", "corpus", "stats", str(path), "--json"],
                            capture_output=True, text=True, preexec_fn=limit, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tokens"]["train"] > 0
    assert "could not cache" in result.stdout
    assert not [p for p in cache.rglob("*") if p.is_dir()]  # no entry and no temporary folder


def test_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNGEN_CACHE", "off")
    assert load_corpus(book(tmp_path)).cache is None


def test_training_on_arrays_equals_training_on_lists(tmp_path, cache):
    """The same corpus as arrays and as lists of strings: the same vocabulary, batches and trained weights."""
    import torch

    from rnngen.config import ModelConfig, TrainConfig
    from rnngen.corpus.base import Corpus
    from rnngen.lm import LanguageModel
    from rnngen.train import train

    arrays = load_corpus(book(tmp_path))
    lists = Corpus(arrays.name, as_lists(arrays.train), as_lists(arrays.valid), as_lists(arrays.test),
                   arrays.settings, arrays.source, arrays.fingerprint)
    mc = ModelConfig(rnn_type="lstm", vocab_size=50, emb=8, hidden=8, layers=1, dropout=0.0)
    models = {}
    for mode in ("sentences", "stream"):
        tc = TrainConfig(epochs=2, batch_size=4, bptt=6, sample_every=0, mode=mode, patience=0)
        for name, corpus in (("arrays", arrays), ("lists", lists)):
            out = tmp_path / f"{name}-{mode}"
            for _ in train(corpus, mc, tc, out):
                pass
            models[name] = LanguageModel.load(out)
        a, b = models["arrays"], models["lists"]
        assert a.vocab.words == b.vocab.words
        assert [e["valid_ppl"] for e in a.history["epochs"]] == [e["valid_ppl"] for e in b.history["epochs"]]
        for (name, p), q in zip(a.module.state_dict().items(), b.module.state_dict().values()):
            assert torch.equal(p, q), name
        assert a.evaluate(arrays.test).nll == b.evaluate(lists.test).nll


def test_a_detected_entry_serves_an_explicit_choice_it_agrees_with(tmp_path, cache):
    """`train` detects how a corpus is tokenized, `eval` of its model says so: both read one entry."""
    path = book(tmp_path)
    detected = load_corpus(path)
    assert load_corpus(path, tokenized=False).cache == detected.cache
    forced = load_corpus(path, tokenized=True)  # the other choice: prepared anew, split on spaces
    assert forced.cache != detected.cache and forced.settings.words == "whitespace"


def test_a_rewrite_keeping_size_and_modification_time_is_seen(tmp_path, cache):
    path = book(tmp_path)
    first = load_corpus(path)
    stamp = path.stat().st_mtime_ns
    path.write_text(TEXT.replace("cat", "cow"), encoding="utf-8")  # same size
    os.utime(path, ns=(stamp, stamp))  # as `cp -p` or `rsync -t` would leave it
    again = load_corpus(path)
    assert again.cache != first.cache and "cow" in again.train[0] + again.train[1]


def test_a_new_entry_sweeps_the_old_one_and_killed_writers_leftovers(tmp_path, cache):
    path = book(tmp_path)
    old = load_corpus(path).cache
    leftover = cache / ".book-0123.deadbeef.tmp"
    leftover.mkdir()
    os.utime(leftover, (1, 1))  # long ago
    fresh = cache / ".book-4567.cafe.tmp"  # another process writing right now
    fresh.mkdir()
    path.write_text(TEXT + "A new line.\n", encoding="utf-8")
    new = load_corpus(path).cache
    other = load_corpus(path, lowercase=True).cache  # read another way: kept beside it
    assert not old.exists() and not leftover.exists() and fresh.exists()
    assert new.exists() and other.exists()


def test_validation_too_short_for_the_stream_layout_is_refused(tmp_path):
    from rnngen.config import ModelConfig, TrainConfig
    from rnngen.corpus.base import Corpus
    from rnngen.tokenize import TokenizerSettings
    from rnngen.train import train

    lines = [["a", "b", "c", "d"]] * 50
    corpus = Corpus("short", lines, [["a", "b"]], [["a", "b"]], TokenizerSettings.pretokenized())
    tc = TrainConfig(epochs=1, batch_size=8, bptt=4, mode="stream", sample_every=0)
    with pytest.raises(CorpusError, match="validation split has 4 tokens, too few for batch size 8"):
        train(corpus, ModelConfig(hidden=8, emb=8, layers=1, vocab_size=20), tc, tmp_path / "m")
