"""Options of the scoring-time features: the continuous cache, interpolation with an n-gram, n-best reranking,
unknown words in comparisons.

Like `config` (model and training) and `sampling` (generation), these dataclasses carry each option's
help in field metadata, from which the CLI's flags are generated and the TUI's fields take their
tooltips, and `validate` is the one rule for every value. No torch here, so `--help` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnngen.errors import ConfigError

NORMALIZATIONS = ("none", "length", "ppl", "wp")
DEFAULT_ALPHA = 0.6  # GNMT's length-penalty exponent (Wu et al., 2016)


AUTO = "auto"  # --unk-types auto: the model says how many word types its vocabulary left out


def unk_types_arg(text: str) -> "int | str":
    """`--unk-types` as typed: a whole number, `auto` (resolved by `LanguageModel.unknown_types`), or the
    text itself, which `check_unk_types` then refuses with one line (argparse would print its own)."""
    text = text.strip()
    if text.lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        return text


def check_unk_types(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError("{unk_types} must be a whole number of at least 1, or auto, got " + repr(value),
                          ("unk_types",))


@dataclass(frozen=True)
class NgramMix:
    """An n-gram mixed into the RNN word by word: p = λ·p_rnn + (1-λ)·p_ngram (`rnngen.mixture`)."""

    ngram: str | None = field(default=None, metadata={
        "help": "an n-gram model (`rnngen ngram train`) or an ARPA file (plain or .gz) to mix with the RNN",
        "type": str, "metavar": "MODEL"})
    lam: float | None = field(default=None, metadata={
        "help": "the RNN's weight λ in [0, 1]", "flag": "lambda", "type": float, "metavar": "X",
        "default_help": "tuned on --tune-on"})

    def validate(self) -> "NgramMix":
        if self.lam is not None and not (isinstance(self.lam, (int, float)) and 0.0 <= self.lam <= 1.0):
            raise ConfigError(f"{{lambda}} must be between 0 and 1 (the RNN's weight), got {self.lam!r}", ("lambda",))
        if self.lam is not None and self.ngram is None:
            raise ConfigError("{lambda} is the RNN's weight against an n-gram: give {ngram} too", ("lambda", "ngram"))
        return self


@dataclass(frozen=True)
class CacheSettings:
    """How many past positions the cache holds, how sharply it matches states, and its share of the mixture."""

    size: int = field(default=500, metadata={
        "help": "cache the last N positions", "flag": "cache", "default_help": "off: no cache"})
    theta: float = field(default=0.3, metadata={"help": "how sharply states must match (at least 0)",
                                                 "flag": "cache_theta"})
    weight: float = field(default=0.1, metadata={"help": "the cache's share of the mixture, in [0, 1)",
                                                  "flag": "cache_weight"})

    def validate(self) -> "CacheSettings":
        if self.size < 1:
            raise ConfigError(f"cache size must be at least 1, got {self.size}")
        if self.theta < 0:
            raise ConfigError(f"cache theta must not be negative, got {self.theta}")
        if not 0.0 <= self.weight < 1.0:
            raise ConfigError(f"cache weight must be in [0, 1), got {self.weight}")
        return self


@dataclass(frozen=True)
class Normalization:
    """How a sentence log-probability becomes the LM feature (see `rnngen.score.normalized`)."""

    method: str = "none"
    alpha: float = DEFAULT_ALPHA

    @classmethod
    def parse(cls, spec: "str | Normalization") -> "Normalization":
        """`none`, `length`, `ppl`, `wp` or `wp:ALPHA` (GNMT length penalty; ALPHA defaults to 0.6)."""
        if isinstance(spec, Normalization):
            return spec
        method, colon, alpha = spec.strip().lower().partition(":")
        if method not in NORMALIZATIONS or (colon and method != "wp"):
            raise ConfigError("{normalize} must be none, length, ppl or wp:ALPHA (e.g. wp:0.6), got "
                              + repr(spec), ("normalize",))
        if not colon:
            return cls(method)
        try:
            value = float(alpha)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"the wp ALPHA must be a number >= 0, got {alpha!r}")
        return cls(method, value)

    def __str__(self) -> str:
        return f"wp:{self.alpha:g}" if self.method == "wp" else self.method


@dataclass(frozen=True)
class RerankSettings:
    """new score = existing score + weight * (normalised LM score + oov_penalty * OOV count)."""

    weight: float = field(default=1.0, metadata={
        "help": "weight W of the LM feature added to the list's own scores (lists without scores: unused)"})
    normalization: Normalization = field(default=Normalization(), metadata={
        "help": "LM feature: none = log-prob; length = per token; ppl = minus the perplexity; "
                "wp:ALPHA = log-prob / ((5 + tokens) / 6) ** ALPHA (GNMT; wp alone = wp:0.6)",
        "flag": "normalize", "type": str, "metavar": "none|length|ppl|wp:ALPHA"})
    oov_penalty: float = field(default=0.0, metadata={
        "help": "add X per unknown word to the LM feature (a negative X penalises)"})
    unk_types: int = field(default=1, metadata={
        "help": "spread <unk>'s probability over N unknown word types before normalising (log P - log N per "
                "unknown word; auto: the training text's word types the vocabulary left out; 1 = as scored)",
        "type": unk_types_arg, "metavar": "N|auto"})

    @classmethod
    def from_options(cls, options: dict) -> "RerankSettings":
        """Settings from option values as the faces hold them (the normalisation may be its text), checked."""
        if "normalization" in options:
            options = {**options, "normalization": Normalization.parse(options["normalization"])}
        return cls(**options).validate()

    def validate(self) -> "RerankSettings":
        check_unk_types(self.unk_types)
        for name, value in (("weight", self.weight), ("oov_penalty", self.oov_penalty)):
            if not math.isfinite(value):
                raise ConfigError("{" + name + "} must be a finite number, got " + str(value), (name,))
        return self


@dataclass(frozen=True)
class UnknownWords:
    """How an unknown word counts in a comparison: log P(<unk>) - log(types) + penalty, per unknown word."""

    types: int = field(default=1, metadata={
        "help": "spread <unk>'s probability over N unknown word types (subtract log N per unknown word; auto: "
                "the training text's word types the vocabulary left out; 1 = as scored)",
        "flag": "unk_types", "type": unk_types_arg, "metavar": "N|auto"})
    penalty: float = field(default=0.0, metadata={"help": "add X nats per unknown word (negative penalises)",
                                                  "flag": "unk_penalty"})

    def validate(self) -> "UnknownWords":
        check_unk_types(self.types)
        if not math.isfinite(self.penalty):
            raise ConfigError("{unk_penalty} must be a finite number, got " + str(self.penalty), ("unk_penalty",))
        return self

    def logprob(self, score) -> float:
        """A sentence score's log-probability under this rule (a `rnngen.score.SentenceScore`)."""
        return score.logprob + score.oov_count * (self.penalty - math.log(self.types))

    def describe(self) -> str:
        parts = ["unknown words scored as <unk>"]
        if self.types > 1:
            parts.append(f"its probability spread over {self.types:,} types (-{math.log(self.types):.3f} each)")
        if self.penalty:
            parts.append(f"{self.penalty:+g} per unknown word")
        return ", ".join(parts)
