"""Kneser-Ney n-grams as models: the array estimator against the plain one, ARPA in and out (and against
KenLM), the model folder, interpolation with an RNN, and the CLI through its entry point."""

from __future__ import annotations

import gzip
import json
import math
import os

import numpy as np
import pytest
import torch

from rnngen import arpa, kneser_ney
from rnngen.bench.kneser_ney import KneserNey
from rnngen.errors import CheckpointError, ConfigError, InputError
from rnngen.mixture import Mixture, tune_lambda
from rnngen.ngram import NgramModel, load
from rnngen.vocab import Vocabulary
from tests._inprocess import main_here
from tests.conftest import tiny_corpus

SENTENCES = [s.split() for s in (
    "the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog .", "the dog saw the cat .",
    "a dog sat on a mat .", "the cat ran to the dog .", "the cat sat .", "a bird sang on the log today .",
    "the dog ran .", "a cat and a dog sat on the mat .")]
HELD = [s.split() for s in ("the bird sat on the cat .", "a dog ran to the mat today .", "zebras sang .")]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.build(SENTENCES * 3, 18)  # leaves a few words out: <unk> is seen


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_the_array_estimator_equals_the_plain_one(vocab, order):
    tables = kneser_ney.estimate(SENTENCES * 3, vocab, order)
    plain = KneserNey(SENTENCES * 3, vocab, order)
    ours = tables.log10_sentences([vocab.encode(s) for s in HELD + SENTENCES], vocab.bos_id, vocab.eos_id)
    for sentence, values in zip(HELD + SENTENCES, ours):
        assert values * math.log(10) == pytest.approx(plain.sentence_logprob(sentence), abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_every_context_sums_to_one(vocab, order):
    tables = kneser_ney.estimate(SENTENCES, vocab, order)
    everything = np.arange(len(vocab))
    for context in ([], ["the"], ["a", "cat"], ["zebras", "sang"], ["the", "dog", "sat", "on"]):
        probs = 10.0 ** tables.log10_next([vocab.bos_id, *vocab.encode(context)], everything)
        probs[vocab.bos_id] = 0.0
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)


def test_next_word_probabilities_equal_the_sentence_scores(vocab):
    tables = kneser_ney.estimate(SENTENCES, vocab, 3)
    sentence = vocab.encode("a dog ran to the mat today .".split())
    scored = tables.log10_sentences([sentence], vocab.bos_id, vocab.eos_id)[0]
    history = [vocab.bos_id]
    for target, value in zip([*sentence, vocab.eos_id], scored):
        assert tables.log10_next(history, np.array([target]))[0] == pytest.approx(value, abs=1e-12)
        history.append(target)


def test_batched_equals_one_at_a_time(vocab):
    tables = kneser_ney.estimate(SENTENCES, vocab, 4)
    ids = [vocab.encode(s) for s in HELD + SENTENCES]
    together = tables.log10_sentences(ids, vocab.bos_id, vocab.eos_id)
    for s, values in zip(ids, together):
        assert np.array_equal(tables.log10_sentences([s], vocab.bos_id, vocab.eos_id)[0], values)


@pytest.mark.parametrize("name", ["model.arpa", "model.arpa.gz"])
def test_arpa_round_trip(vocab, tmp_path, name):
    tables = kneser_ney.estimate(SENTENCES, vocab, 3)
    path = arpa.write(tmp_path / name, vocab, tables)
    if name.endswith(".gz"):
        assert gzip.open(path).readline() == b"\\data\\\n"
    assert arpa.looks_like_arpa(path)
    again_vocab, again = arpa.read(path)
    assert again.counts() == tables.counts() and set(again_vocab.words) == set(vocab.words)
    for s in HELD + SENTENCES:
        a = tables.log10_sentences([vocab.encode(s)], vocab.bos_id, vocab.eos_id)[0]
        b = again.log10_sentences([again_vocab.encode(s)], again_vocab.bos_id, again_vocab.eos_id)[0]
        assert b == pytest.approx(a, abs=1e-6)
    assert not list(tmp_path.glob(".*tmp"))  # written through a temporary file, renamed into place


def test_kenlm_reads_our_arpa_file_to_the_same_probabilities(shared_corpora, tmp_path):
    try:
        import kenlm
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the kenlm module is missing but CI=true: `make setup` installs it")
        pytest.skip("the kenlm module is not installed (pip install kenlm builds it with a C++ compiler)")
    train = [line.split() for line in (shared_corpora / "grimm" / "train.txt").read_text(encoding="utf-8").splitlines()]
    valid = [line.split() for line in (shared_corpora / "grimm" / "valid.txt").read_text(encoding="utf-8").splitlines()]
    vocab = Vocabulary.build(train, 4000)
    tables = kneser_ney.estimate(train, vocab, 5)
    path = arpa.write(tmp_path / "grimm.arpa", vocab, tables)
    model = kenlm.Model(str(path))
    ours = tables.log10_sentences([vocab.encode(s) for s in valid if s], vocab.bos_id, vocab.eos_id)
    for sentence, values in zip([s for s in valid if s], ours):
        theirs = [score for score, _, _ in model.full_scores(" ".join(sentence), bos=True, eos=True)]
        assert values == pytest.approx(theirs, abs=1e-5)  # KenLM keeps float32
        assert model.score(" ".join(sentence), bos=True, eos=True) == pytest.approx(values.sum(), abs=1e-4)


ARPA = "\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1.0\t<s>\t-0.3\n-0.5\t</s>\n-0.7\ta\t-0.2\n-0.9\tb\n\n" \
       "\\2-grams:\n-0.2\t<s> a\n-0.4\ta b\n\n\\end\\\n"


@pytest.mark.parametrize("broken, message", [
    (ARPA.replace("ngram 1=4", "ngram 1=5"), "line 11: the header says 5 1-grams, the section has 4"),
    (ARPA.replace("ngram 2=2", "ngram 2=1"), "the header says 1 2-grams, the section has more"),
    (ARPA.replace("\\data\\", "\\date\\"), "not an ARPA file"),
    (ARPA.replace("ngram 2=2", "ngram 3=2"), "the header lists order 3 after order 1"),
    (ARPA.replace("-0.4\ta b", "-0.4\ta c"), "line 13: the word 'c' is not among the unigrams"),
    (ARPA.replace("-0.9\tb", "high\tb"), "line 9: not a number"),
    (ARPA.replace("-0.5\t</s>\n", "-0.5\tc\n"), "no </s> unigram"),
    (ARPA.replace("\\end\\\n", ""), "expected \\end\\"),
    (ARPA.replace("-0.4\ta b", "-0.4\ta"), "line 13: a 2-gram line has a probability, 2 word(s)"),
])
def test_a_broken_arpa_file_is_one_line_that_says_where(tmp_path, broken, message):
    path = tmp_path / "broken.arpa"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        arpa.read(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_arpa_file_without_unk_gets_kenlms_stand_in_and_backs_off(tmp_path):
    path = tmp_path / "small.arpa"
    path.write_text(ARPA, encoding="utf-8")
    vocab, tables = arpa.read(path)
    assert vocab.words[:3] == ["<unk>", "<s>", "</s>"]
    a, b, eos, bos = vocab.id("a"), vocab.id("b"), vocab.eos_id, vocab.bos_id
    got = tables.log10_sentences([[a, b], [b, 0], [a]], bos, eos)
    assert got[0] == pytest.approx([-0.2, -0.4, -0.5])  # <s> a and a b listed; b has no back-off: b </s> is P(</s>)
    assert got[1] == pytest.approx([-0.3 + -0.9, arpa.UNK_LOGPROB, -0.5])  # back-off of <s>, then <unk>'s -100
    assert got[2] == pytest.approx([-0.2, -0.2 + -0.5])  # a </s> is not listed: back-off of a, then P(</s>)


def test_the_model_folder_lists_loads_and_is_refused_as_an_rnn(tmp_path):
    from rnngen.catalog import model_rows
    from rnngen.lm import LanguageModel

    model = NgramModel.estimate(tiny_corpus(), 3, 100)
    assert model.history["best_valid_ppl"] == pytest.approx(model.evaluate(tiny_corpus().valid).perplexity)
    path = model.save("tri")
    again = load("tri")
    assert isinstance(again, NgramModel) and again.tables.counts() == model.tables.counts()
    texts = ["the cat sat on the log .", "a zebra ran ."]
    assert [s.logprob for s in again.score(texts)] == pytest.approx([s.logprob for s in model.score(texts)], abs=1e-5)
    row = next(r for r in model_rows() if r["name"] == "tri")
    assert (row["type"], row["size"], row["parameters"]) == ("3-gram", "KN", sum(model.tables.counts()))
    with pytest.raises(CheckpointError, match="is an n-gram model, not an RNN"):
        LanguageModel.load(path)
    with pytest.raises(CheckpointError, match="already exists"):
        NgramModel.estimate(tiny_corpus(), 2, 100).save("tri")  # another run's model is not replaced
    assert load("tri").order == 3


def test_a_corrupt_ngram_folder_is_unreadable_not_a_crash(tmp_path):
    from safetensors.numpy import save_file

    model = NgramModel.estimate(tiny_corpus(), 2, 100)
    path = model.save("bi")
    save_file({"ids.1": np.arange(3, dtype=np.int32)[:, None], "logprob.1": np.zeros(3, dtype=np.float32),
               "backoff.1": np.zeros(3, dtype=np.float32)}, str(path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="no ids.2 array"):
        load("bi")


# -- interpolation ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_ngram():
    return NgramModel.estimate(tiny_corpus(), 3, 100)


def test_the_mixture_is_a_distribution_and_its_scores_are_its_parts(tiny_lm, tiny_ngram):
    mixture = Mixture(tiny_lm, tiny_ngram, 0.3)
    assert mixture.same_vocabulary
    for context in ([], ["the"], ["a", "dog", "sat"]):
        probs = mixture.next_word_distribution(context)
        assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)
        rnn, ngram = tiny_lm.next_word_distribution(context).double(), tiny_ngram.next_word_distribution(context)
        assert torch.allclose(probs, 0.3 * rnn + 0.7 * ngram, atol=1e-9)
    sentence = "the dog sat on the mat .".split()
    score = mixture.score_tokens([sentence])[0]
    rnn, ngram = tiny_lm.score_tokens([sentence])[0], tiny_ngram.score_tokens([sentence])[0]
    for mixed, r, g in zip(score.tokens, rnn.tokens, ngram.tokens):
        assert mixed.prob == pytest.approx(0.3 * r.prob + 0.7 * g.prob, rel=1e-6)


def test_lambda_one_is_the_rnn_and_zero_the_ngram(tiny_lm, tiny_ngram):
    sentences = [s for s in tiny_corpus().valid]
    for lam, alone in ((1.0, tiny_lm), (0.0, tiny_ngram)):
        parts = Mixture(tiny_lm, tiny_ngram, lam).evaluate_parts(sentences)
        assert parts.combined.perplexity == pytest.approx(alone.evaluate(sentences).perplexity, rel=1e-6)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        Mixture(tiny_lm, tiny_ngram, 1.5)


def test_tuned_lambda_is_the_least_perplexity_on_a_grid():
    rng = np.random.default_rng(0)
    p_rnn, p_ngram = rng.uniform(0.01, 1, 500), rng.uniform(0.01, 1, 500)
    lam = tune_lambda(p_rnn, p_ngram)
    grid = np.linspace(0, 1, 2001)
    best = grid[np.argmax([np.log(g * p_rnn + (1 - g) * p_ngram).sum() for g in grid])]
    assert lam == pytest.approx(best, abs=1e-3)


def test_a_differing_vocabulary_is_carried_over_and_still_sums_to_one(tiny_lm, tmp_path):
    small = NgramModel.estimate(tiny_corpus(), 2, 8)  # knows only a few of the RNN's words
    path = small.write_arpa(tmp_path / "small.arpa")
    extra = path.read_text(encoding="utf-8").replace("ngram 1=8", "ngram 1=9").replace(
        "\n\n\\2-grams:", "\n-3.0\tzebra\n\n\\2-grams:")  # a word the RNN does not know
    path.write_text(extra, encoding="utf-8")
    mixture = Mixture(tiny_lm, load(path), 0.5)
    assert not mixture.same_vocabulary and "the vocabularies differ" in mixture.notes[0]
    assert len(mixture.ngram_only) == 1
    for context in ([], ["the", "cat"], ["a", "dog", "saw"]):
        assert float(mixture.next_word_distribution(context).sum()) == pytest.approx(1.0, abs=1e-5)
    sentence = "the dog ran to a mat .".split()
    scored = mixture.score_tokens([sentence])[0]
    distributions = [mixture.next_word_distribution(sentence[:t]) for t in range(len(sentence) + 1)]
    for t, token in enumerate(scored.tokens):
        assert token.prob == pytest.approx(float(distributions[t][tiny_lm.vocab.id(token.token)]), rel=1e-5)


# -- the command line --------------------------------------------------------------------------------
def test_ngram_train_eval_score_and_interpolate_through_the_entry_point(tiny_lm_path, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(" ".join(s) for s in tiny_corpus(20).train) + "\n", encoding="utf-8")
    made = main_here("ngram", "train", str(corpus), "--out", "kn", "--order", "3", "--tokenized",
                     "--arpa", str(tmp_path / "kn.arpa.gz"))
    assert made.returncode == 0, made.stderr
    assert "3-gram Kneser-Ney model" in made.stderr and "validation perplexity" in made.stderr
    rows = [json.loads(line) for line in main_here("models", "--json").stdout.splitlines()]
    assert [r["type"] for r in rows if r["name"] == "kn"] == ["3-gram"]
    for model in ("kn", str(tmp_path / "kn.arpa.gz")):
        scored = main_here("score", model, "--format", "jsonl", stdin="the cat sat on the mat .\n")
        assert scored.returncode == 0, scored.stderr
        assert json.loads(scored.stdout)["tokens"] == 8  # seven words and </s>
    mixed = main_here("eval", str(tiny_lm_path), str(corpus), "--ngram", "kn", "--lambda", "0.6", "--json")
    assert mixed.returncode == 0, mixed.stderr
    report = json.loads(mixed.stdout)
    assert report["lambda"] == 0.6 and report["combined_perplexity"] <= max(report["rnn_perplexity"],
                                                                           report["ngram_perplexity"])
    tuned = main_here("eval", str(tiny_lm_path), str(corpus), "--ngram", "kn", "--tune-on", str(corpus), "--json")
    assert tuned.returncode == 0 and "tuned on" in tuned.stderr
    assert json.loads(tuned.stdout)["combined_perplexity"] <= report["combined_perplexity"] + 1e-9
    score = main_here("score", str(tiny_lm_path), "--ngram", "kn", "--lambda", "0.5", "--format", "tsv",
                      stdin="the cat sat .\n")
    assert score.returncode == 0 and "λ 0.5000 (given)" in score.stderr


@pytest.mark.parametrize("args, message", [
    (["eval", "MODEL", "CORPUS", "--ngram", "kn", "--lambda", "1.5"], "--lambda must be between 0 and 1"),
    (["eval", "MODEL", "CORPUS", "--lambda", "0.5"], "give --ngram too"),
    (["eval", "MODEL", "CORPUS", "--ngram", "MODEL"], "is an RNN model"),
    (["score", "BADARPA"], "the header says 9 1-grams"),
    (["ngram", "train", "CORPUS", "--out", "x", "--order", "12"], "--order must be 1 to 9"),
    (["ngram", "train", "nowhere.txt", "--out", "x"], "nowhere.txt"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny_lm_path, tmp_path, args, message):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(" ".join(s) for s in tiny_corpus(5).train) + "\n", encoding="utf-8")
    (tmp_path / "bad.arpa").write_text(ARPA.replace("ngram 1=4", "ngram 1=9"), encoding="utf-8")
    assert main_here("ngram", "train", str(corpus), "--out", "kn", "--order", "2", "--tokenized").returncode == 0
    swap = {"MODEL": str(tiny_lm_path), "CORPUS": str(corpus), "BADARPA": str(tmp_path / "bad.arpa")}
    before = sorted(p.name for p in (tmp_path.parent).rglob("*"))
    result = main_here(*[swap.get(a, a) for a in args], stdin="the cat .\n")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 or "interpolating" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path.parent).rglob("*")) == before


def test_generation_and_details_work_over_any_scorer(tiny_lm, tiny_ngram):
    from rnngen.generate import SamplingSettings

    vocab = tiny_lm.vocab
    for model in (tiny_ngram, Mixture(tiny_lm, tiny_ngram, 0.5)):
        steps = [s for _, s in model.generate("the", SamplingSettings(temperature=0, seed=3), 1)]
        words = [s.word for s in steps]
        assert words[-1] == "</s>"
        for t, step in enumerate(steps):  # greedy: the most probable word after each prefix
            probs = model.next_word_distribution(["the", *words[:t]]).clone()
            probs[vocab.bos_id] = probs[vocab.unk_id] = 0
            assert step.word == vocab.words[int(probs.argmax())]
            assert step.prob == pytest.approx(float(model.next_word_distribution(["the", *words[:t]])[
                vocab.id(step.word)]), rel=1e-6)
        sentence = "a dog sat on the mat .".split()
        details = model.details(sentence, 3)
        scored = model.score_tokens([sentence])[0].tokens
        assert [d.logprob for d in details] == pytest.approx([t.logprob for t in scored], abs=1e-5)
        assert all(1 <= d.rank <= len(vocab) - 1 and len(d.alternatives) == 3 for d in details)
    made = main_here("generate", str(tiny_lm.path), "--ngram", str(tiny_lm.path), "-n", "1")
    assert made.returncode == 2 and "is an RNN model" in made.stderr


def test_the_cache_joins_the_mixture_as_one_distribution(tiny_lm, tiny_ngram):
    from rnngen.options import CacheSettings

    sentences = tiny_corpus(2).train
    cache = CacheSettings(size=40, theta=0.3, weight=0.2)
    only_rnn = Mixture(tiny_lm, tiny_ngram, 1.0).evaluate_parts(sentences, cache).combined
    assert only_rnn.nll == pytest.approx(tiny_lm.evaluate(sentences, cache).nll, rel=1e-7)  # float32 there
    mixture = Mixture(tiny_lm, tiny_ngram, 0.6)
    off = mixture.evaluate_parts(sentences, CacheSettings(size=40, theta=0.3, weight=0.0)).combined
    assert off.nll == pytest.approx(mixture.evaluate_parts(sentences).combined.nll, rel=1e-9)
    tuned, ppl = mixture.tune_cache(sentences, 40)
    assert ppl == pytest.approx(mixture.evaluate(sentences, tuned).perplexity, rel=1e-9)
    assert ppl <= off.perplexity + 1e-9  # repeated text: the cache can only help, or is switched off


def test_rerank_writes_the_ngram_as_a_second_feature_for_mert(tiny_lm_path, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(" ".join(s) for s in tiny_corpus(5).train) + "\n", encoding="utf-8")
    assert main_here("ngram", "train", str(corpus), "--out", "kn2", "--order", "2", "--tokenized").returncode == 0
    nbest = tmp_path / "nbest.txt"
    nbest.write_text("0 ||| the cat sat . ||| d= -1 ||| -1\n0 ||| cat the sat . ||| d= -2 ||| -2\n", encoding="utf-8")
    plain = main_here("rerank", str(tiny_lm_path), str(nbest))
    both = main_here("rerank", str(tiny_lm_path), str(nbest), "--ngram", "kn2", "--ngram-feature")
    assert both.returncode == 0, both.stderr
    ngram = load("kn2")
    for line, before in zip(both.stdout.splitlines(), plain.stdout.splitlines()):
        fields = line.split(" ||| ")
        text, features = fields[1], fields[2].split()
        assert features[features.index("LM_ngram=") + 1] == f"{ngram.score([text])[0].logprob:.6f}"
        assert fields[3] == before.split(" ||| ")[3]  # the total is the RNN's, as without the feature
    tsv = tmp_path / "nbest.tsv"
    tsv.write_text("id\tcandidate\tscore\n0\tthe cat sat .\t-1\n0\ta dog .\t-2\n", encoding="utf-8")
    table = main_here("rerank", str(tiny_lm_path), str(tsv), "--ngram", "kn2", "--ngram-feature")
    assert table.stdout.splitlines()[0].endswith("\ttotal\tlm_ngram_feature")
    assert main_here("rerank", str(tiny_lm_path), str(nbest), "--ngram-feature").returncode == 2


PRUNED = ("\\data\\\nngram 1=6\nngram 2=4\nngram 3=2\n\n\\1-grams:\n-0.8\t</s>\n-99\t<s>\t-0.5\n-1.2\ta\t-0.3\n"
          "-1.0\tb\t-0.2\n-1.5\tc\t-0.4\n-0.9\td\n\n\\2-grams:\n-0.4\t<s> a\t-0.1\n-0.6\ta b\t-0.25\n-0.7\tb c\n"
          "-0.3\tc </s>\n\n\\3-grams:\n-0.2\t<s> a b\n-0.15\tb c d\n\n\\end\\\n")


def test_every_short_sentence_scores_as_kenlm_scores_it(tmp_path):
    """A pruned file of KenLM's kind (back-offs on some contexts only, no <unk>): every sentence of up to four
    words over its words and an unknown one, token by token."""
    import itertools

    try:
        import kenlm
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the kenlm module is missing but CI=true: `make setup` installs it")
        pytest.skip("the kenlm module is not installed (pip install kenlm builds it with a C++ compiler)")
    path = tmp_path / "pruned.arpa"
    path.write_text(PRUNED, encoding="utf-8")
    vocab, tables = arpa.read(path)
    model = kenlm.Model(str(path))
    for n in range(1, 5):
        for sentence in itertools.product(["a", "b", "c", "d", "x"], repeat=n):
            ours = tables.log10_sentences([vocab.encode(sentence)], vocab.bos_id, vocab.eos_id)[0]
            theirs = [score for score, _, _ in model.full_scores(" ".join(sentence))]
            assert ours == pytest.approx(theirs, abs=1e-5), sentence


def test_an_ngram_whose_context_is_not_listed_is_kept_and_its_context_backs_off_with_weight_one(tmp_path):
    """SRILM's pruning can drop a context and keep its n-gram; KenLM's probing model refuses such a file,
    its trie model fills the context in with back-off 1, as rnngen does."""
    path = tmp_path / "missing-context.arpa"
    path.write_text(PRUNED.replace("ngram 3=2", "ngram 3=3").replace("-0.15\tb c d\n", "-0.15\tb c d\n-0.05\ta c d\n"),
                    encoding="utf-8")
    vocab, tables = arpa.read(path)
    got = tables.log10_sentences([vocab.encode("a c d".split())], vocab.bos_id, vocab.eos_id)[0]
    # <s> a listed; c after <s> a: back-off of <s> a, then of a, then P(c); a c d listed; </s> after c d: P(</s>)
    assert got == pytest.approx([-0.4, -0.1 - 0.3 - 1.5, -0.05, -0.8])


def test_a_failed_arpa_write_leaves_the_old_file_and_no_temporary_one(vocab, tmp_path, monkeypatch):
    tables = kneser_ney.estimate(SENTENCES, vocab, 2)
    path = arpa.write(tmp_path / "model.arpa", vocab, tables)
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(arpa, "_write", full)
    with pytest.raises(InputError, match="cannot write .*model.arpa: No space left on device"):
        arpa.write(path, vocab, tables)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["model.arpa"]
