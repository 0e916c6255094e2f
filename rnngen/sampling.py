"""How to sample: the options of `rnngen generate` and the Generate tab, in one dataclass.

Both faces are generated from these fields (the CLI's flags by `add_config_flags`, the tab's form by
its field list), and `validate` is the one rule for every value, so an option cannot exist in one
face and not the other, nor have other limits there. No torch here: `rnngen generate --help` builds
its flags from this module without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnngen.errors import ConfigError

MAX_TEMPERATURE = 100.0  # far beyond any useful value (10 is already noise), far below overflow
MAX_WORDS = 10_000
MAX_COUNT = 100_000  # sentences in one run


@dataclass(frozen=True)
class SamplingSettings:
    """temperature 0 means greedy; top_k 0 and top_p 1 switch those filters off."""

    temperature: float = field(default=1.0, metadata={
        "help": f"0 = greedy; below 1 safer, above 1 wilder (at most {MAX_TEMPERATURE:g})", "label": "temp"})
    top_k: int = field(default=0, metadata={"help": "sample among the k likeliest words (0 = all)", "label": "top-k"})
    top_p: float = field(default=1.0, metadata={
        "help": "nucleus sampling: the smallest set of words holding this much probability (1 = off)",
        "label": "top-p"})
    max_words: int = field(default=50, metadata={
        "help": f"stop a sentence after this many words (at most {MAX_WORDS:,})", "label": "words"})
    allow_unk: bool = field(default=False, metadata={"help": "let the model emit <unk>", "label": "unk"})
    seed: int | None = field(default=None, metadata={
        "help": "random seed: the same seed gives the same text (unset: random)", "label": "seed", "type": int})

    def validate(self) -> "SamplingSettings":
        """The settings, or ConfigError naming the first value that cannot work."""
        if not 0 <= self.temperature <= MAX_TEMPERATURE:
            raise ConfigError(f"temperature must be from 0 to {MAX_TEMPERATURE:g}, got {self.temperature}")
        if self.top_k < 0:
            raise ConfigError(f"top-k must not be negative, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top-p must be in (0, 1], got {self.top_p}")
        if not 1 <= self.max_words <= MAX_WORDS:
            raise ConfigError(f"max-words must be from 1 to {MAX_WORDS:,}, got {self.max_words}")
        if self.seed is not None and self.seed < 0:
            raise ConfigError(f"seed must not be negative, got {self.seed}")
        return self


def check_count(count: int) -> int:
    """How many sentences to generate: the one rule for `-n` and the tab's field."""
    if not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"the number of sentences must be from 1 to {MAX_COUNT:,}, got {count}")
    return count
