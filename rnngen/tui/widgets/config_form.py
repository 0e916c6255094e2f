"""A form with one field per ModelConfig/TrainConfig option, validated by the engine as typed.

The fields are generated from the dataclasses, so an engine option cannot be
missing from the TUI; each value is checked by the config's own `validate()`,
so the form says exactly what the CLI would say.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Checkbox, Input, Label, Select

from rnngen.config import DEVICES, OPTIMIZERS, RNN_TYPES, TRAIN_MODES, ModelConfig, TrainConfig, with_overrides
from rnngen.errors import ConfigError, option_words

CHOICES = {"rnn_type": RNN_TYPES, "optimizer": OPTIMIZERS, "mode": TRAIN_MODES, "device": DEVICES}
CONFIGS = (ModelConfig, TrainConfig)


def form_fields(cls) -> list:
    """The fields the form shows: all but those marked `form: False` (`nproc`: the app trains in one process)."""
    return [f for f in fields(cls) if f.metadata.get("form", True)]


def choices_for(name: str, default: Any) -> tuple[str, ...] | None:
    """The allowed values of a text option: known ones, else the rnngen.config tuple that holds its default."""
    if name in CHOICES:
        return CHOICES[name]
    if not isinstance(default, str):
        return None
    import rnngen.config as config

    for value in vars(config).values():
        if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value) and default in value:
            return value
    return None


def parse(kind: type, text: str) -> Any:
    """'12' -> 12, '0.5' -> 0.5; raises ConfigError with a user-facing message."""
    text = text.strip()
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None


class FieldValidator(Validator):
    """Parse a value and run the config's own validation with it."""

    def __init__(self, cls: type, name: str, kind: type) -> None:
        super().__init__()
        self.cls, self.name, self.kind = cls, name, kind

    def validate(self, value: str) -> ValidationResult:
        try:
            with_overrides(self.cls(), {self.name: parse(self.kind, value)}).validate()
        except ConfigError as exc:
            return self.failure(str(exc))
        return self.success()


class ConfigForm(VerticalScroll):
    """Labelled fields for both configs; `values()` builds them, `set_values()` fills the form."""

    class ValidityChanged(Message):
        """The set of invalid fields changed; `problems` is empty when the form is valid."""

        def __init__(self, problems: list[str]) -> None:
            super().__init__()
            self.problems = problems

        @property
        def valid(self) -> bool:
            return not self.problems

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._problems: list[str] = []

    def compose(self) -> ComposeResult:
        for cls in CONFIGS:
            yield Label("model" if cls is ModelConfig else "training", classes="section")
            for f in form_fields(cls):
                help_text = f.metadata.get("help", "")
                with Horizontal(classes="field"):
                    yield Label(option_words(f.name), classes="field-name")
                    yield self._widget(cls, f.name, f.default, help_text)

    def _widget(self, cls: type, name: str, default: Any, help_text: str):
        wid = f"opt-{name}"
        choices = choices_for(name, default)
        if choices is not None:
            w = Select([(c, c) for c in choices], value=default, allow_blank=False, compact=True, id=wid)
        elif isinstance(default, bool):
            w = Checkbox("", value=default, compact=True, id=wid)
        else:
            w = Input(str(default), compact=True, id=wid, validators=[FieldValidator(cls, name, type(default))],
                      valid_empty=False)
        w.tooltip = help_text
        return w

    # -- values -----------------------------------------------------------------------
    def values(self) -> tuple[ModelConfig, TrainConfig]:
        """Both configs from the form; raises ConfigError naming the first bad field."""
        built = []
        for cls in CONFIGS:
            overrides = {}
            for f in form_fields(cls):
                w = self.query_one(f"#opt-{f.name}")
                if isinstance(w, Input):
                    try:
                        overrides[f.name] = parse(type(f.default), w.value)
                    except ConfigError as exc:
                        raise ConfigError(f"{option_words(f.name)}: {exc}") from None
                else:
                    overrides[f.name] = w.value
            built.append(with_overrides(cls(), overrides).validate())
        return built[0], built[1]

    def set_values(self, model: ModelConfig, train: TrainConfig) -> None:
        for config in (model, train):
            for f in form_fields(config):
                w = self.query_one(f"#opt-{f.name}")
                value = getattr(config, f.name)
                w.value = value if not isinstance(w, Input) else str(value)

    def set_value(self, name: str, value: Any) -> None:
        w = self.query_one(f"#opt-{name}")
        w.value = str(value) if isinstance(w, Input) else value

    @property
    def valid(self) -> bool:
        return not self._problems

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        event.stop()
        self._check()

    def _check(self) -> None:
        problems = []
        for w in self.query(Input):
            result = w.validate(w.value)
            if result is not None and not result.is_valid:
                problems.append(f"{w.id.removeprefix('opt-').replace('_', ' ')}: {result.failure_descriptions[0]}")
        if not problems:
            try:
                self.values()
            except ConfigError as exc:  # options that only fail together
                problems.append(str(exc))
        if problems != self._problems:
            self._problems = problems
            self.post_message(self.ValidityChanged(problems))
