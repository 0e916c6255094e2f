"""Tokenizer, vocabulary, batching, sampling filters and checkpoint files, with exact values."""

from __future__ import annotations

import json
import random

import pytest
import torch

from rnngen import checkpoint
from rnngen.config import TrainConfig
from rnngen.data import IGNORE, length_buckets, pad_sentences, sentence_batches, stream_batches
from rnngen.errors import CheckpointError
from rnngen.generate import SamplingSettings, filtered_distribution
from rnngen.lm import LanguageModel
from rnngen.tokenize import StreamingDetokenizer, TokenizerSettings, detokenize, tokenize_text, tokenize_words
from rnngen.vocab import Vocabulary


def test_nltk_tokenizing_needs_no_downloads():
    s = TokenizerSettings()
    assert tokenize_words("I'd like to fly to Boston, please.", s) == \
        ["I", "'d", "like", "to", "fly", "to", "Boston", ",", "please", "."]
    assert tokenize_words("Hello  World", TokenizerSettings(lowercase=True)) == ["hello", "world"]


def test_punkt_sentences_from_paragraphs_and_lines_mode():
    text = "Mr. Smith went to Washington. He arrived\nlate at night.\n\nThe end came soon."
    assert tokenize_text(text, TokenizerSettings())[:2] == [
        ["Mr.", "Smith", "went", "to", "Washington", "."], ["He", "arrived", "late", "at", "night", "."]]
    assert tokenize_text("a b .\n\n c d\n", TokenizerSettings.pretokenized()) == [["a", "b", "."], ["c", "d"]]


def test_detokenize_and_streaming_detokenizer_agree():
    words = ["I", "do", "n't", "know", ",", "she", "said", "."]
    assert detokenize(words) == "I don't know, she said."
    stream = StreamingDetokenizer()
    assert "".join(stream.feed(w) for w in words) + stream.finish() == "I don't know, she said."


def test_vocabulary_keeps_most_frequent_words_with_specials():
    sentences = [["b", "a", "a", "c"], ["a", "b", "<unk>", "d"]]
    v = Vocabulary.build(sentences, max_size=5)
    assert v.words == ["<unk>", "<s>", "</s>", "a", "b"]
    assert v.encode(["a", "c", "<unk>", "zzz"]) == [3, 0, 0, 0]
    assert v.is_oov("c") and not v.is_oov("a")
    assert Vocabulary.from_json(v.to_json()).words == v.words


def test_padded_sentence_batch_layout():
    inputs, targets = pad_sentences([[5, 6], [7]], bos=1, eos=2)
    assert inputs.tolist() == [[1, 5, 6], [1, 7, 2]]
    assert targets.tolist() == [[5, 6, 2], [7, 2, IGNORE]]


def test_sentence_batches_cut_long_sentences_and_cover_every_token():
    sents = [[3] * n for n in (1, 2, 9, 4, 4)]
    chunks = list(sentence_batches(sents, 1, 2, batch_size=2, bptt=4))
    assert sum(c.num_tokens for c in chunks) == sum(len(s) + 1 for s in sents)
    assert max(c.inputs.size(1) for c in chunks) <= 4
    assert [c.reset for c in chunks].count(True) == 3


def test_length_buckets_group_similar_lengths_deterministically():
    lengths = [5, 1, 9, 2, 8, 3]
    assert length_buckets(lengths, 2) == [[1, 3], [5, 0], [4, 2]]
    shuffled = length_buckets(lengths, 2, random.Random(0))
    assert sorted(i for b in shuffled for i in b) == list(range(6))


def test_stream_batches_mask_sentence_starts():
    chunks = list(stream_batches([[5, 6], [7]], 1, 2, batch_size=1, bptt=3))
    inputs = torch.cat([c.inputs for c in chunks], 1).tolist()[0]
    targets = torch.cat([c.targets for c in chunks], 1).tolist()[0]
    assert inputs == [1, 5, 6, 2, 1, 7]
    assert targets == [5, 6, 2, IGNORE, 7, 2]


@pytest.mark.parametrize("offset", range(8))
def test_shifted_stream_cuts_cover_the_same_text(offset):
    from rnngen.data import count_stream_batches

    sentences = [[5, 6, 7], [8], [9, 10, 11, 12], [13, 14]] * 3
    plain = list(stream_batches(sentences, 1, 2, batch_size=2, bptt=3))
    shifted = list(stream_batches(sentences, 1, 2, batch_size=2, bptt=3, offset=offset))
    for field in ("inputs", "targets"):
        assert torch.equal(torch.cat([getattr(c, field) for c in plain], 1),
                           torch.cat([getattr(c, field) for c in shifted], 1))
    assert len(shifted) == count_stream_batches(sentences, 2, 3, offset)
    assert [c.reset for c in shifted] == [True] + [False] * (len(shifted) - 1)
    assert all(c.inputs.size(1) <= 3 for c in shifted)
    if 0 < offset < 3:
        assert shifted[0].inputs.size(1) == offset


def test_sampling_filters():
    p = torch.tensor([0.5, 0.3, 0.15, 0.05])
    assert filtered_distribution(p, 0, 0, 1.0).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert filtered_distribution(p, 1.0, 2, 1.0).tolist() == pytest.approx([0.625, 0.375, 0, 0])
    assert filtered_distribution(p, 1.0, 0, 0.8).tolist() == pytest.approx([0.625, 0.375, 0, 0])
    assert filtered_distribution(p, 1.0, 0, 0.81).tolist() == pytest.approx([0.5 / .95, 0.3 / .95, 0.15 / .95, 0])
    hot = filtered_distribution(p, 2.0, 0, 1.0)
    assert float(hot.sum()) == pytest.approx(1.0) and hot[3] > 0.05


def test_generation_streams_words_and_alternatives(tiny_lm):
    steps = [s for _, s in tiny_lm.generate("the", SamplingSettings(seed=5, max_words=30), alternatives=3)]
    assert all(s.word != "</s>" for s in steps[:-1])  # a sentence ends once, at its end
    assert steps[-1].word == "</s>" and len(steps) <= 31  # this seed's sentence ends by itself, within the limit
    assert all(len(s.alternatives) == 3 for s in steps)
    assert all(s.word not in ("<s>", "<unk>") for s in steps)
    greedy = [s.word for _, s in tiny_lm.generate("the", SamplingSettings(temperature=0, max_words=30))]
    for step in tiny_lm.generate("the", SamplingSettings(temperature=0, max_words=30)):
        # greedy takes the likeliest word it may emit: <unk> is not one (allow_unk is off)
        assert step[1].word == next(w for w, _ in step[1].alternatives if w != "<unk>")
    assert greedy == [s.word for _, s in tiny_lm.generate("the", SamplingSettings(temperature=0, max_words=30))]


def test_interactive_generation_follows_chosen_words(tiny_lm):
    state = tiny_lm.start("the")
    step = state.choose("dog")
    assert step.word == "dog"
    assert step.prob == pytest.approx(float(tiny_lm.next_word_distribution(["the"])[tiny_lm.vocab.id("dog")]))
    expected = tiny_lm.next_word_distribution(["the", "dog"])
    assert torch.allclose(state.distribution, expected, atol=1e-6)


def test_checkpoint_errors_are_clear(tiny_lm, tmp_path):
    with pytest.raises(CheckpointError, match="no model"):
        LanguageModel.load(tmp_path / "missing")
    folder = tiny_lm.save(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        LanguageModel.load(folder)
    folder = tiny_lm.save(tmp_path / "v")
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 99
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format 99"):
        LanguageModel.load(folder)


def test_checkpoint_save_is_atomic(tiny_lm, tmp_path, monkeypatch):
    folder = tiny_lm.save(tmp_path / "m")
    before = (folder / "model.safetensors").read_bytes()

    def explode(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("safetensors.torch.save_model", explode)
    with pytest.raises(RuntimeError):
        tiny_lm.save(folder)
    assert (folder / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    assert checkpoint.read(folder).config["format_version"] == checkpoint.FORMAT_VERSION


def test_weight_decay_is_what_the_config_says_for_every_optimiser():
    from rnngen.train import make_optimizer

    params = [torch.nn.Parameter(torch.zeros(2))]
    for name in ("sgd", "adam", "adamw"):
        for decay in (0.0, 0.05):
            optimizer = make_optimizer(params, TrainConfig(optimizer=name, weight_decay=decay), 0.1)
            assert optimizer.param_groups[0]["weight_decay"] == decay, (name, decay)


@pytest.mark.parametrize("training", [True, False])
def test_scoring_generating_and_inspecting_leave_the_callers_mode(tiny_lm, training):
    from rnngen import cache
    from rnngen.data import batches
    from rnngen.generate import generate
    from rnngen.inspect import position_logprobs
    from rnngen.score import evaluate_ids, token_logprobs

    module, vocab = tiny_lm.module, tiny_lm.vocab
    ids = [vocab.encode(["the", "cat"]), vocab.encode(["a", "dog", "sat"])]
    uses = {
        "token_logprobs": lambda: token_logprobs(module, ids, vocab.bos_id, vocab.eos_id),
        "evaluate_ids": lambda: evaluate_ids(module, batches("sentences", ids, vocab.bos_id, vocab.eos_id, 2, 10)),
        "running_text": lambda: cache.running_text(module, ids, vocab.bos_id, vocab.eos_id, 4),
        "position_logprobs": lambda: position_logprobs(tiny_lm, ["the", "cat"]),
        "generate": lambda: list(generate(module, vocab, (), SamplingSettings(seed=1, max_words=5))),
    }
    try:
        for name, use in uses.items():
            module.train(training)
            use()
            assert module.training is training, name
            assert all(m.training is training for m in module.modules()), name
    finally:
        module.eval()


def test_an_engine_error_names_options_and_each_face_words_them():
    from rnngen.cli._common import flag
    from rnngen.errors import CorpusError, ExitCode

    exc = CorpusError("use a smaller {batch_size} or {bptt} for {file}", options=("batch_size", "bptt"))
    assert str(exc) == "use a smaller batch size or bptt for {file}"  # the Train form's words; {file} is not an option
    assert exc.worded(flag) == "use a smaller --batch-size or --bptt for {file}"
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 130]
