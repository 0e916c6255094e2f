"""`LanguageModel`: a trained network with its vocabulary and tokenizer, the one object every front end uses.

A number shown in the TUI equals the number the CLI prints because both go
through these methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from rnngen import checkpoint
from rnngen import cache as continuous_cache
from rnngen.cache import CacheSettings
from rnngen.config import ModelConfig, TrainConfig, from_dict, to_dict
from rnngen.conventions import Conventions
from rnngen.conventions import apply as apply_conventions
from rnngen.data import evaluation_batches
from rnngen.errors import CheckpointError, ConfigError, InputError
from rnngen.inspect import WordDetail, word_details
from rnngen.generate import Generation, SamplingSettings, Step, generate_many
from rnngen.model import RNNModel
from rnngen.score import MAX_TOKENS, SentenceScore, evaluate_ids, score_tokens
from rnngen.tokenize import TokenizerSettings, detokenize, tokenize_words
from rnngen.vocab import Vocabulary


@dataclass(frozen=True)
class Evaluation:
    """Held-out quality: cross-entropy in nats per token and its perplexity."""

    tokens: int
    oov: int
    sentences: int
    nll: float

    @property
    def cross_entropy(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        return math.exp(self.cross_entropy) if self.tokens else float("nan")

    @property
    def bits_per_token(self) -> float:
        return self.cross_entropy / math.log(2)

    @property
    def oov_rate(self) -> float:
        return self.oov / self.tokens if self.tokens else 0.0


def check_weight_shapes(folder: Path, config: ModelConfig, vocab_size: int) -> None:
    """Compare the sizes config.json declares with the weights file's header before anything is allocated.

    The expected shapes come from a model built on the `meta` device, which
    allocates no memory, so a config.json claiming 12,000 hidden units over
    small weights is refused at once instead of after gigabytes.
    """
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in RNNModel(config, vocab_size).state_dict().items()}
    for name, shape in checkpoint.weight_shapes(folder).items():
        if name not in expected:
            raise CheckpointError(f"{folder}/model.safetensors has a tensor {name!r} its config does not have")
        if shape != expected[name]:
            raise CheckpointError(f"{folder}/model.safetensors does not fit its config.json: {name} is "
                                  f"{list(shape)}, the config makes it {list(expected[name])}")


SPLITS = ("train", "valid", "test")


def _nonempty(held: "HeldOut", text: str) -> "HeldOut":
    if not held.sentences:
        raise InputError(f"{text} has no sentences to evaluate")
    return held


@dataclass(frozen=True)
class HeldOut:
    """Text to evaluate on: its sentences, the source's own perplexity where known, the corpus it came from."""

    sentences: list[list[str]]
    floor: float | None
    corpus: Any


@dataclass
class LanguageModel:
    module: RNNModel
    vocab: Vocabulary
    tokenizer: TokenizerSettings
    model_config: ModelConfig
    train_config: TrainConfig = field(default_factory=TrainConfig)
    history: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    # which training run these weights belong to: a save may replace only its own run's model (`checkpoint.save`)
    run_id: str | None = field(default_factory=checkpoint.new_run_id)
    # how a pre-tokenized corpus writes text, applied to typed input (`rnngen.conventions`); None: learn
    # them from the vocabulary (a model saved before they were stored)
    conventions: Conventions | None = None

    def __post_init__(self) -> None:
        if self.conventions is None and self.tokenizer.words == "whitespace":
            self.conventions = Conventions.learn(self.vocab.words)
        if self.conventions is not None and self.tokenizer.lowercase:
            self.conventions = replace(self.conventions, lowercase=True)

    # -- building and storing -------------------------------------------------
    @classmethod
    def new(cls, model_config: ModelConfig, vocab: Vocabulary, tokenizer: TokenizerSettings,
            train_config: TrainConfig = TrainConfig()) -> "LanguageModel":
        return cls(RNNModel(model_config, len(vocab)), vocab, tokenizer, model_config, train_config)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> "LanguageModel":
        folder = checkpoint.resolve(path)
        data = checkpoint.read(folder)
        try:
            vocab = Vocabulary.from_json(data.vocab_json)
            model_config = from_dict(ModelConfig, data.config["model"]).validate()
            train_config = from_dict(TrainConfig, data.config.get("train", {}))
            tokenizer = TokenizerSettings.from_dict(data.config.get("tokenizer", {}))
            saved = data.config.get("tokenizer", {}).get("conventions")
            conventions = Conventions.from_dict(saved) if isinstance(saved, dict) else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{folder}/config.json or vocab.json is corrupt: {exc}") from None
        except ConfigError as exc:
            raise CheckpointError(f"{folder}/config.json has settings that cannot work: {exc}") from None
        check_weight_shapes(folder, model_config, len(vocab))
        module = RNNModel(model_config, len(vocab))
        checkpoint.load_weights(folder, module)
        if not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
            raise CheckpointError(f"{folder}/model.safetensors holds NaN or infinite weights (training diverged); "
                                  "it cannot score or generate")
        module.to(device).eval()
        return cls(module, vocab, tokenizer, model_config, train_config, data.history, data.corpus, folder,
                   data.config.get("run"), conventions)

    def checkpoint_data(self) -> checkpoint.CheckpointData:
        config = {
            "model": to_dict(self.model_config),
            "train": to_dict(self.train_config),
            "tokenizer": self.tokenizer.to_dict() | (
                {"conventions": self.conventions.to_dict()} if self.conventions is not None else {}),
            "vocab_size": len(self.vocab),
            "parameters": self.module.num_parameters(),
        }
        if self.run_id is not None:
            config["run"] = self.run_id
        return checkpoint.CheckpointData(config, self.vocab.to_json(), self.history, self.corpus)

    def save(self, path: str | Path, trainer_state: dict | None = None, replace: bool = False) -> Path:
        """Save atomically; another model already at `path` is replaced only with `replace=True`."""
        folder = checkpoint.resolve(path)
        self.path = checkpoint.save(folder, self.module, self.checkpoint_data(), trainer_state, replace)
        return self.path

    @property
    def name(self) -> str:
        return self.path.name if self.path else "(unsaved)"

    # -- text -----------------------------------------------------------------
    def tokenize(self, sentence: str, pretokenized: bool = False) -> list[str]:
        """The model's tokens for `sentence`; `pretokenized` takes its space-separated tokens as they are.

        A model of a pre-tokenized corpus (PTB, WikiText) rewrites typed text to its corpus's conventions
        (`rnngen.conventions`: `The company's shares.` -> `the company 's shares` on PTB); text already
        written so is left as it is.

        Detokenized text does not always tokenize back to the same tokens (Treebank rules: `''` can come
        back as two backticks, `a... .` as `a ....`), so text the model generated is scored exactly only
        as the tokens that were sampled (`rnngen generate --tokens`, then `rnngen score --pretokenized`).
        """
        if pretokenized:
            return tokenize_words(sentence, replace(self.tokenizer, words="whitespace"))
        if self.conventions is not None:  # a pre-tokenized corpus: typed text is written its way
            return apply_conventions(sentence, self.conventions, self.vocab.__contains__)
        return tokenize_words(sentence, self.tokenizer)

    def tokenize_document(self, text: str) -> list[list[str]]:
        """Sentences of a held-out text, with the model's word tokenizer.

        The file's own layout decides how sentences are found: one per line
        when it is written so (PTB, a tokenized test split), otherwise Punkt.
        """

        from rnngen.corpus.local import looks_line_per_sentence, text_to_sentences

        settings = self.tokenizer
        if settings.sentences == "punkt" and looks_line_per_sentence(text):
            settings = replace(settings, sentences="lines")
        sentences, _ = text_to_sentences(text, None, settings.lowercase, settings=settings)
        return sentences

    @property
    def corpus_spec(self) -> str:
        """What names this model's training corpus for `held_out`: the folder or file it was read from,
        where that still exists, else its name (a built-in or downloaded corpus); "" when none is recorded."""
        source = str(self.corpus.get("source", ""))
        if source and Path(source).is_absolute() and Path(source).exists():
            return source
        return str(self.corpus.get("name", ""))

    def held_out(self, text: str, split: str = "test") -> HeldOut:
        """The sentences `text` names, tokenized as this model's corpus was: the input policy of `eval`.

        `text` is a file (its sentences found by `tokenize_document`) or a corpus name or folder, of
        which `split` is taken, with the source's own perplexity where the corpus knows it.
        """
        from rnngen.corpus import load_corpus
        from rnngen.corpus.stats import true_perplexity

        if Path(text).is_file():
            return self._file_held_out(text)
        corpus = load_corpus(text, tokenized=self.tokenizer.words == "whitespace", lowercase=self.tokenizer.lowercase)
        return _nonempty(HeldOut(corpus.split(split), true_perplexity(corpus, split), corpus), text)

    def tuning_text(self, text: str, evaluated: HeldOut) -> HeldOut:
        """Held-out text to tune on (`--tune-on`): a split name of the evaluated corpus, or a file."""
        if text in SPLITS and evaluated.corpus is not None:
            return _nonempty(HeldOut(evaluated.corpus.split(text), None, evaluated.corpus), text)
        if not Path(text).is_file():
            raise InputError("{tune_on} " + text + ": no such file (a split name needs a corpus as the text to evaluate)",
                             ("tune_on",))
        return self._file_held_out(text)

    def _file_held_out(self, text: str) -> HeldOut:
        from rnngen.corpus.local import read_text

        return _nonempty(HeldOut(self.tokenize_document(read_text(Path(text))[0]), None, None), text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return detokenize(list(tokens), self.tokenizer)

    # -- scoring --------------------------------------------------------------
    def score(self, sentences: Sequence[str], allow_empty: bool = False, max_tokens: int = MAX_TOKENS,
              pretokenized: bool = False, given: str = "") -> list[SentenceScore]:
        """Score raw sentences (one string each), tokenized as the training corpus was (or split on spaces).

        With `given`, each sentence is scored as a continuation of that text: P(sentence | <s> given),
        the given words not counted (`rnngen score --given`).
        """
        tokenized = [self.tokenize(s, pretokenized) for s in sentences]
        if not allow_empty:
            for n, tokens in enumerate(tokenized, 1):
                if not tokens:
                    raise InputError(f"sentence {n} is empty")
        prefix = self.tokenize(given, pretokenized) if given else []
        return score_tokens(self.module, self.vocab, tokenized, [s.strip() for s in sentences], max_tokens, prefix)

    def unknown_types(self) -> int:
        """How many word types `<unk>` stands for: the training text's word types the vocabulary left out.

        `--unk-types auto` divides `<unk>`'s probability among them. Not known for a corpus that writes
        rare words as `<unk>` itself (PTB, WikiText), nor for a model saved before it was recorded.
        """
        types = self.corpus.get("train_types")
        if self.corpus.get("writes_unk"):
            raise ConfigError("{unk_types} auto: this model's training text writes rare words as <unk> itself, so "
                              "how many types <unk> stands for is not known; give a number", ("unk_types",))
        if not isinstance(types, int) or isinstance(types, bool):
            raise ConfigError("{unk_types} auto: this model does not record its training text's word types "
                              "(trained by an older rnngen); give a number", ("unk_types",))
        known = sum(1 for w in self.vocab.words[3:] if w != "<unk>")
        return max(types - known, 1)

    def details(self, tokens: Sequence[str], alternatives: int = 0) -> list[WordDetail]:
        """Each predicted token's rank among all words and the entropy there (`rnngen.inspect`)."""
        return word_details(self, tokens, alternatives)

    def score_tokens(self, tokenized: Sequence[Sequence[str]], max_tokens: int = MAX_TOKENS) -> list[SentenceScore]:
        return score_tokens(self.module, self.vocab, tokenized, None, max_tokens)

    def evaluate(self, sentences: Sequence[Sequence[str]], cache: CacheSettings | None = None) -> Evaluation:
        """Perplexity over tokenized sentences, in the layout the model was trained with and the trainer
        validated in (`data.evaluation_batches`): the recorded best validation perplexity is reproduced.

        With a `cache` the text is read as one running document and the model
        is mixed with a cache of its recent states (`rnngen.cache`).
        """
        ids = [self.vocab.encode(s) for s in sentences if s]
        if not ids:
            raise InputError("nothing to evaluate: the text has no sentences")
        mode = self.train_config.mode
        if cache is not None:
            cache = cache.validate()
            nll, count = continuous_cache.nll(self._running_text(ids, cache.size, (cache.theta,)), cache)
        else:
            cfg = self.train_config
            nll, count = evaluate_ids(self.module, evaluation_batches(mode, ids, self.vocab.bos_id, self.vocab.eos_id,
                                                                      cfg.batch_size, cfg.bptt))
        oov = sum(i == self.vocab.unk_id for s in ids for i in s)
        return Evaluation(count, oov, len(ids), nll)

    def tune_cache(self, sentences: Sequence[Sequence[str]], size: int) -> tuple[CacheSettings, float]:
        """The cache's theta and weight that fit held-out `sentences` best, and the perplexity they give there."""
        ids = [self.vocab.encode(s) for s in sentences if s]
        if not ids:
            raise InputError("nothing to tune the cache on: the text has no sentences")
        size = CacheSettings(size=size).validate().size
        return continuous_cache.tune(self._running_text(ids, size, continuous_cache.THETAS))

    def _running_text(self, ids: list[list[int]], size: int, thetas: Sequence[float]) -> continuous_cache.RunningText:
        return continuous_cache.running_text(self.module, ids, self.vocab.bos_id, self.vocab.eos_id, size, thetas,
                            fresh_sentences=self.train_config.mode == "sentences")

    # -- generation -----------------------------------------------------------
    def next_word_distribution(self, context: Sequence[str]) -> torch.Tensor:
        """P(w | <s> context) over the whole vocabulary (sums to 1)."""
        return Generation(self.module, self.vocab, list(context)).distribution

    def start(self, prompt: str = "", settings: SamplingSettings = SamplingSettings()) -> Generation:
        """A generation state after the prompt, for interactive stepping."""
        return Generation(self.module, self.vocab, self.tokenize(prompt) if prompt else [], settings.validate())

    def generate(self, prompt: str = "", settings: SamplingSettings = SamplingSettings(), count: int = 1,
                 alternatives: int = 5) -> Iterator[tuple[int, Step]]:
        """Stream (sentence number, step) pairs for `count` sentences."""
        settings.validate()
        tokens = self.tokenize(prompt) if prompt else []
        return generate_many(self.module, self.vocab, tokens, settings, count, alternatives)
