"""`LanguageModel`: a trained network with its vocabulary and tokenizer, the one object every front end uses.

A number shown in the TUI equals the number the CLI prints because both go
through these methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from rnngen import checkpoint
from rnngen import cache as continuous_cache
from rnngen.cache import CacheSettings
from rnngen.config import ModelConfig, TrainConfig, from_dict, to_dict
from rnngen.conventions import Conventions
from rnngen.data import evaluation_batches
from rnngen.ids import IdSentences
from rnngen.errors import CheckpointError, ConfigError, InputError
from rnngen.generate import Generation, SamplingSettings, Step, generate_many
from rnngen.model import RNNModel
from rnngen.score import MAX_TOKENS, SentenceScore, evaluate_ids, score_tokens, token_logprobs
from rnngen.tokenize import TokenizerSettings
from rnngen.textmodel import Evaluation, TextModel
from rnngen.vocab import Vocabulary


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


@dataclass
class LanguageModel(TextModel):
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
    # the preset the training options started from and how it was chosen ({"name", "chosen"}), when known
    preset: dict | None = None

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
        if checkpoint.model_settings(folder).get("kind") == "ngram":
            raise CheckpointError(f"{folder.name} is an n-gram model, not an RNN: the command line scores with it "
                                  f"(`rnngen score {folder.name}`, or `--ngram {folder.name}` beside an RNN)")
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
        saved_preset = data.config.get("preset")
        return cls(module, vocab, tokenizer, model_config, train_config, data.history, data.corpus, folder,
                   data.config.get("run"), conventions, saved_preset if isinstance(saved_preset, dict) else None)

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
        if self.preset is not None:
            config["preset"] = self.preset
        return checkpoint.CheckpointData(config, self.vocab.to_json(), self.history, self.corpus)

    def save(self, path: str | Path, trainer_state: dict | None = None, replace: bool = False) -> Path:
        """Save atomically; another model already at `path` is replaced only with `replace=True`."""
        folder = checkpoint.resolve(path)
        self.path = checkpoint.save(folder, self.module, self.checkpoint_data(), trainer_state, replace)
        return self.path

    @property
    def name(self) -> str:
        return self.path.name if self.path else "(unsaved)"

    # -- scoring --------------------------------------------------------------
    def score_tokens(self, tokenized: Sequence[Sequence[str]], max_tokens: int = MAX_TOKENS,
                     texts: Sequence[str] | None = None, prefix: Sequence[str] = ()) -> list[SentenceScore]:
        return score_tokens(self.module, self.vocab, tokenized, texts, max_tokens, prefix)

    def logprobs(self, ids: Sequence[Sequence[int]], max_tokens: int = MAX_TOKENS) -> list[list[float]]:
        """Natural-log P of `w1 .. wn </s>` given `<s>` for each id sequence (the scorer protocol)."""
        return token_logprobs(self.module, ids, self.vocab.bos_id, self.vocab.eos_id, max_tokens)

    def evaluate(self, sentences: Sequence[Sequence[str]], cache: CacheSettings | None = None) -> Evaluation:
        """Perplexity over tokenized sentences, in the layout the model was trained with and the trainer
        validated in (`data.evaluation_batches`): the recorded best validation perplexity is reproduced.

        With a `cache` the text is read as one running document and the model
        is mixed with a cache of its recent states (`rnngen.cache`).
        """
        ids = self.vocab.encode_all(sentences)
        if not len(ids):
            raise InputError("nothing to evaluate: the text has no sentences")
        mode = self.train_config.mode
        if cache is not None:
            cache = cache.validate()
            nll, count = continuous_cache.nll(self._running_text(ids, cache.size, (cache.theta,)), cache)
        else:
            cfg = self.train_config  # a distributed run's rows were batch_size per process, nproc processes
            nll, count = evaluate_ids(self.module, evaluation_batches(mode, ids, self.vocab.bos_id, self.vocab.eos_id,
                                                                      cfg.batch_size * cfg.nproc, cfg.bptt))
        oov = int((ids.flat == self.vocab.unk_id).sum()) if isinstance(ids, IdSentences) \
            else sum(i == self.vocab.unk_id for s in ids for i in s)
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
