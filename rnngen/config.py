"""Model and training settings as flat dataclasses, and the named presets.

The CLI flags and the TUI form are generated from these fields, so an option
cannot exist in one front end and not the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from rnngen.errors import ConfigError

RNN_TYPES = ("rnn_tanh", "rnn_relu", "lstm", "gru")
OPTIMIZERS = ("sgd", "adam", "adamw")
TRAIN_MODES = ("sentences", "stream")
SOFTMAXES = ("full", "adaptive")
SCHEDULES = ("plateau", "linear", "cosine", "constant")
PRECISIONS = ("fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")
# Bounds on a model's shape: far above what trains on one machine, low enough that a crafted config.json
# cannot make rnngen allocate gigabytes or build 100,000 layers before anything is checked.
MAX_VOCAB = 10_000_000
MAX_WIDTH = 16_384
MAX_LAYERS = 64


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network."""

    rnn_type: str = field(default="lstm", metadata={"help": "cell: " + ", ".join(RNN_TYPES)})
    vocab_size: int = field(default=8000, metadata={"help": "keep the C most frequent words"})
    emb: int = field(default=200, metadata={"help": "word embedding size"})
    hidden: int = field(default=200, metadata={"help": "hidden units per layer"})
    layers: int = field(default=2, metadata={"help": "stacked recurrent layers"})
    dropout: float = field(default=0.2, metadata={"help": "dropout on the embeddings, between layers and on the output (0-1)"})
    weight_drop: float = field(default=0.0, metadata={"help": "DropConnect on the recurrent weights while training (AWD-LSTM; 0-1)"})
    embed_drop: float = field(default=0.0, metadata={"help": "drop whole words from the embedding while training (0-1)"})
    locked_dropout: bool = field(default=False, metadata={"help": "one dropout mask per sequence for all its time steps (variational dropout)"})
    tied: bool = field(default=False, metadata={"help": "share input and output embeddings"})
    softmax: str = field(default="full", metadata={"help": "output layer: full, or adaptive (faster for large vocabularies; still exact)"})

    def validate(self) -> "ModelConfig":
        if self.rnn_type not in RNN_TYPES:
            raise ConfigError(f"unknown model type {self.rnn_type!r}: choose one of {', '.join(RNN_TYPES)}")
        _positive("vocab-size", self.vocab_size, minimum=4, maximum=MAX_VOCAB)
        _positive("emb", self.emb, maximum=MAX_WIDTH)
        _positive("hidden", self.hidden, maximum=MAX_WIDTH)
        _positive("layers", self.layers, maximum=MAX_LAYERS)
        for name in ("rnn_type", "softmax"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name.replace('_', '-')} must be a name, got {getattr(self, name)!r}")
        for name in ("tied", "locked_dropout"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name.replace('_', '-')} must be true or false, got {getattr(self, name)!r}")
        for name in ("dropout", "weight_drop", "embed_drop"):
            if not _is_number(getattr(self, name)) or not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name.replace('_', '-')} must be in [0, 1), got {getattr(self, name)}")
        if self.softmax not in SOFTMAXES:
            raise ConfigError(f"unknown softmax {self.softmax!r}: choose one of {', '.join(SOFTMAXES)}")
        return self


@dataclass(frozen=True)
class TrainConfig:
    """How to train: loop, optimiser and budget."""

    epochs: int = field(default=10, metadata={"help": "maximum passes over the training split"})
    max_minutes: float = field(default=0.0, metadata={"help": "stop after this many minutes (0 = no limit)"})
    optimizer: str = field(default="adam", metadata={"help": "optimiser: " + ", ".join(OPTIMIZERS)})
    lr: float = field(default=0.0, metadata={"help": "learning rate (0 = the optimiser's default: sgd 20, adam 0.002)"})
    clip: float = field(default=0.25, metadata={"help": "gradient-norm clipping threshold"})
    bptt: int = field(default=35, metadata={"help": "truncated back-propagation length in tokens"})
    batch_size: int = field(default=20, metadata={"help": "sequences per batch"})
    mode: str = field(default="sentences", metadata={"help": "sentences: each sentence from a fresh state (scores match training); stream: contiguous text"})
    shift_cuts: bool = field(default=False, metadata={"help": "stream mode: cut the text at a different random place each epoch"})
    patience: int = field(default=3, metadata={"help": "stop after this many epochs without validation improvement"})
    schedule: str = field(default="plateau", metadata={"help": "learning rate: plateau (divide by --anneal when validation stalls), linear/cosine decay to 0 over the run (--epochs, or --max-minutes when set), or constant (with --average: averaged SGD)"})
    average: float = field(default=0.0, metadata={"help": "average the weights over this last share of the run and keep the average (Polyak averaging; 0 = off)"})
    anneal: float = field(default=4.0, metadata={"help": "divide the learning rate by this when validation stalls (sgd; adam and adamw divide by half of it, at least 1: their steps already adapt)"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 penalty (adamw: decoupled weight decay; 0 means none for every optimiser)"})
    seed: int = field(default=1234, metadata={"help": "random seed: same seed, same model"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or mps"})
    precision: str = field(default="fp32", metadata={"help": "fp32, or bf16: bfloat16 matrix products with float32 weights (fast on GPUs and on CPUs with AVX512-BF16 or AMX; elsewhere it runs, slower than fp32)"})
    sample_every: int = field(default=200, metadata={"help": "emit a sample sentence every N batches (0 = never)"})
    log_every: int = field(default=10, metadata={"help": "emit progress every N batches"})
    # How many processes trained (DistributedDataParallel): stream-mode evaluation lays the text out in
    # batch_size * nproc rows as the run did. Not on the app's form (`form`): the app trains in one process.
    nproc: int = field(default=1, metadata={"help": "train in N processes on this machine, one distributed run "
                                                    "(gloo on CPUs, nccl on GPUs); --batch-size is per process. "
                                                    "Under torchrun, the processes it started",
                                            "form": False})

    def validate(self) -> "TrainConfig":
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.mode not in TRAIN_MODES:
            raise ConfigError(f"unknown training mode {self.mode!r}: choose one of {', '.join(TRAIN_MODES)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}: choose one of {', '.join(DEVICES)}")
        _positive("epochs", self.epochs)
        _positive("bptt", self.bptt, minimum=2)
        _positive("batch-size", self.batch_size)
        _positive("log-every", self.log_every)
        _positive("nproc", self.nproc)
        for name in ("max_minutes", "lr", "clip", "weight_decay", "sample_every", "patience"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if not 0.0 <= self.average <= 1.0:
            raise ConfigError(f"average must be in [0, 1], got {self.average}")
        if self.anneal < 1:
            raise ConfigError(f"anneal must be at least 1, got {self.anneal}")
        return self

    @property
    def learning_rate(self) -> float:
        if self.lr > 0:
            return self.lr
        return 20.0 if self.optimizer == "sgd" else 0.002


PRESETS: dict[str, tuple[ModelConfig, TrainConfig]] = {
    # The classic RNN tutorial: Elman tanh RNN, C = 8000 words, H = 100.
    "tutorial": (
        ModelConfig(rnn_type="rnn_tanh", vocab_size=8000, emb=100, hidden=100, layers=1, dropout=0.0),
        TrainConfig(optimizer="adam", clip=1.0),
    ),
    # The PyTorch word_language_model default: 2-layer LSTM, 200 units.
    "small": (
        ModelConfig(rnn_type="lstm", emb=200, hidden=200, layers=2, dropout=0.2),
        TrainConfig(),
    ),
    # A book-sized corpus (up to a few million words): the `small` shape, tied, dropout 0.5, SGD from 20
    # decaying linearly to 0 (the wt2-mini bench's winning recipe). On Grimm's 103k training tokens it
    # passes the Kneser-Ney 5-gram (BENCHMARKS.md, "Defaults that hold on small corpora").
    "small-corpus": (
        ModelConfig(rnn_type="lstm", emb=200, hidden=200, layers=2, dropout=0.5, tied=True),
        TrainConfig(optimizer="sgd", schedule="linear", epochs=12, patience=0),
    ),
    # Zaremba et al.'s medium LSTM: 650 units, dropout 0.5, tied embeddings.
    "medium": (
        ModelConfig(rnn_type="lstm", emb=650, hidden=650, layers=2, dropout=0.5, tied=True),
        TrainConfig(epochs=20),
    ),
}

AUTO = "auto"
# Below this many training tokens `auto` picks `small-corpus`. Measured below 250k tokens (BENCHMARKS.md);
# wt2-mini's bench (214k) found the same recipe best; above a few million words `small` is kept.
SMALL_CORPUS_TOKENS = 2_000_000

PRESET_HELP = {
    AUTO: f"small-corpus below {SMALL_CORPUS_TOKENS:,} training tokens, else small (the default)",
    "tutorial": "Elman tanh RNN, C=8000, H=100 (the classic tutorial)",
    "small": "2-layer LSTM, 200 units",
    "small-corpus": "2-layer LSTM, 200 units, tied, dropout 0.5, SGD lr 20 decaying linearly, 12 epochs",
    "medium": "2-layer LSTM, 650 units, dropout 0.5, tied",
}


def choose_preset(name: str, train_tokens: int) -> tuple[str, str]:
    """The preset `name` stands for with this many training tokens, and why: `auto` picks by size."""
    if name != AUTO:
        preset(name)  # an unknown name is refused here
        return name, "given"
    if train_tokens < SMALL_CORPUS_TOKENS:
        return "small-corpus", f"auto: {train_tokens:,} training tokens, under {SMALL_CORPUS_TOKENS:,}"
    return "small", f"auto: {train_tokens:,} training tokens, {SMALL_CORPUS_TOKENS:,} or more"


def preset(name: str) -> tuple[ModelConfig, TrainConfig]:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}") from None


def with_overrides(config: Any, overrides: dict[str, Any]):
    """A copy of a config dataclass with the given (non-None) fields replaced."""
    names = {f.name for f in fields(config)}
    unknown = set(overrides) - names
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def to_dict(config: Any) -> dict[str, Any]:
    return asdict(config)


def from_dict(cls, data: dict[str, Any]):
    """Rebuild a config, ignoring keys a newer version dropped."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _positive(name: str, value: int, minimum: int = 1, maximum: int | None = None) -> None:
    """A whole number in range: config.json is a plain file, so a size may arrive as 16.0, "16" or 10**9."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum:,}, got {value:,}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
