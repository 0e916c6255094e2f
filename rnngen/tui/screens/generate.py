"""The Generate tab: text streamed word by word, the model's candidates beside it, and a pick-it-yourself mode.

Streaming runs `LanguageModel.generate` in a thread worker that posts one
message per word, so the same seed gives the same words as `rnngen generate`;
Stop cancels the worker and the view ignores anything it still sends. Pick
mode drives a `Generation` directly: the person chooses each next word from
the candidates (keys 1-9, Enter or a click on a row), types one (just start
typing: the letters go into the word field), or lets the model sample it
(space).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Static
from textual.worker import get_current_worker

from rnngen.errors import ConfigError, RnngenError, option_words
from rnngen.config import with_overrides
from rnngen.generate import Generation, Step
from rnngen.sampling import MAX_COUNT, SamplingSettings, check_count
from rnngen.tui.widgets.config_form import parse
from rnngen.tui.widgets.generate_candidates import CandidateTable
from rnngen.tui.widgets.generate_text import GeneratedText
from rnngen.tui.screens.score import Hint
from rnngen.tui.widgets.heatmap import format_prob, word_style

NO_MODEL = "No model loaded: load a model on the Models tab (5) or train one (2)."
CANDIDATES = 9


class SettingValidator(Validator):
    """A sampling field checked by the engine's own rule (`SamplingSettings.validate`, `check_count`)."""

    def __init__(self, name: str, kind: type) -> None:
        super().__init__()
        self.name, self.kind = name, kind

    def validate(self, value: str) -> ValidationResult:
        try:
            setting_value(self.name, self.kind, value)
        except ConfigError as exc:
            return self.failure(str(exc))
        return self.success()


def setting_value(name: str, kind: type, text: str) -> Any:
    """A field's value (None for an empty seed), or ConfigError in the engine's words."""
    text = text.strip()
    if name == "seed" and not text:
        return None
    try:
        value = parse(kind, text)  # the Train form's parser: the same words for a value that is no number
    except ConfigError as exc:
        raise ConfigError(f"{option_words(name)}: {exc}") from None
    if name == "count":
        return check_count(value)
    with_overrides(SamplingSettings(), {name: value}).validate()
    return value


@dataclass(frozen=True)
class Field:
    """One field of the sampling row: made from a SamplingSettings field (or the sentence count)."""

    name: str
    label: str
    default: Any
    kind: type
    help: str
    width: int = 6


WIDTHS = {"count": 5, "temperature": 5, "top_k": 5, "top_p": 5, "max_words": 5, "seed": 7}  # layout only: what a value needs on screen


def sampling_fields() -> tuple[Field, ...]:
    """The sentence count, then every SamplingSettings field, in the dataclass's order."""
    count = Field("count", "n", 1, int, f"sentences to generate, 1 to {MAX_COUNT:,}", WIDTHS["count"])
    return (count, *(Field(f.name, f.metadata.get("label", f.name), f.default, f.metadata.get("type") or type(f.default),
                           f.metadata.get("help", ""), WIDTHS.get(f.name, 5)) for f in fields(SamplingSettings)))


FIELDS = sampling_fields()


@dataclass
class WordGenerated(Message):
    """The streaming worker drew one word (`run` tells runs apart; `sentence` counts from 0)."""

    run: int
    sentence: int
    step: Step


@dataclass
class GenerationEnded(Message):
    """The streaming worker returned: all sentences done, stopped, or failed with a user-facing error."""

    run: int
    error: str = ""


class WordInput(Input):
    """Pick mode's word field: while it is empty the digits still pick; escape goes back to the candidates."""

    BINDINGS = [Binding("escape", "leave", "Back to the candidates", show=False)]

    async def _on_key(self, event: events.Key) -> None:
        if not self.value and event.character and event.character in "123456789":
            return  # not stopped: the pane's binding picks that candidate
        await super()._on_key(event)

    def action_leave(self) -> None:
        self.value = ""
        self.screen.set_focus(self.screen.query_one("#gen-candidates"))


class GeneratePane(Vertical):
    """Prompt and sampling form, streamed text, candidates and chosen-word probabilities; follows `app.lm`."""

    BINDINGS = [
        Binding("ctrl+g", "generate", "Generate"),
        Binding("ctrl+n", "pick_mode", "Pick words"),
        Binding("escape", "stop", "Stop"),
        Binding("1", "pick(1)", "Pick", key_display="1-9"),
        *[Binding(str(n), f"pick({n})", f"Pick {n}", show=False) for n in range(2, 10)],
        Binding("space", "sample_one", "Model picks", key_display="space"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps: list[tuple[int, Step]] = []  # what this run produced, in order
        self.generation: Generation | None = None  # the pick-mode state
        self.running = False
        self._run = 0
        self._candidates: list[tuple[str, float]] = []
        self._prompt_tokens: list[str] = []
        self._settings = SamplingSettings()

    def compose(self) -> ComposeResult:
        yield Hint(NO_MODEL, id="gen-hint", classes="hint")
        with Vertical(id="gen-body"):
            with Horizontal(id="gen-prompt-row"):
                yield Label("Prompt", classes="gen-label")
                yield Input(placeholder="how the sentences start (may be empty)", id="gen-prompt", compact=True)
                yield Button("Generate", id="gen-start", variant="primary", compact=True, tooltip="ctrl+g")
                yield Button("Pick words", id="gen-pick", compact=True, tooltip="ctrl+n: choose each next word")
                yield Button("Stop", id="gen-stop", variant="error", compact=True, disabled=True, tooltip="escape")
            with Horizontal(id="gen-settings"):
                for f in FIELDS:
                    if f.kind is bool:  # a switch carries its own label
                        yield Checkbox(f.label, value=f.default, id=f"gen-{f.name}", compact=True, tooltip=f.help,
                                       classes="gen-check")
                        continue
                    yield Label(f.label, classes="gen-label")
                    yield Input("" if f.default is None else str(f.default), id=f"gen-{f.name}", compact=True,
                                restrict=r"[-+0-9.eE]*", validators=[SettingValidator(f.name, f.kind)],
                                valid_empty=f.name == "seed", tooltip=f"{f.label}: {f.help}",
                                classes=f"gen-field -w{f.width}")
            with Horizontal(id="gen-main"):
                yield GeneratedText(id="gen-text", placeholder="Generated text appears here word by word: "
                                                               "ctrl+g to generate, ctrl+n to pick the words.")
                with Vertical(id="gen-side"):
                    yield Label("next-word candidates", id="gen-cand-title")
                    cands = CandidateTable(id="gen-candidates", cursor_type="row", show_cursor=False)
                    cands.add_columns("key", "word", "P")
                    yield cands
                    yield WordInput(placeholder="or type a word + Enter", id="gen-word", compact=True, select_on_focus=False)
                    yield Label("chosen words", id="gen-steps-title")
                    steps = DataTable(id="gen-steps", cursor_type="row", show_cursor=False)
                    steps.add_columns("#", "word", "P")
                    yield steps
            yield Static("", id="gen-status")

    def on_mount(self) -> None:
        self.query_one("#gen-word").display = False
        self.watch(self.app, "lm", self._model_changed, init=True)

    @property
    def lm(self) -> Any:
        return getattr(self.app, "lm", None)

    def _model_changed(self, lm: Any) -> None:
        """Without a model the form is hidden and disabled: no hidden control can hold the focus."""
        self._halt("")
        self.query_one("#gen-hint").display = lm is None
        body = self.query_one("#gen-body")
        body.display = lm is not None
        body.disabled = lm is None
        if lm is not None:
            self.query_one(GeneratedText).detokenize = lm.detokenize
            self._set_status(f"Model {lm.name}: ctrl+g generates, ctrl+n lets you pick each word.")

    # -- the form -------------------------------------------------------------------
    def settings(self) -> tuple[str, SamplingSettings, int]:
        """Prompt, sampling settings and sentence count from the form; ConfigError names the first bad field."""
        values: dict[str, Any] = {}
        for f in FIELDS:
            widget = self.query_one(f"#gen-{f.name}")
            values[f.name] = widget.value if f.kind is bool else setting_value(f.name, f.kind, widget.value)
        count = values.pop("count")
        settings = with_overrides(SamplingSettings(), values).validate()
        return self.query_one("#gen-prompt", Input).value.strip(), settings, count

    def _checked(self) -> tuple[Any, str, SamplingSettings, int] | None:
        """The model and form values, or None after telling the person what is missing or wrong."""
        lm = self.lm
        if lm is None:
            self.app.notify(NO_MODEL, title="No model", severity="warning")
            return None
        try:
            prompt, settings, count = self.settings()
        except RnngenError as exc:
            self.app.notify(str(exc), title="Cannot generate", severity="error", timeout=8)
            return None
        return lm, prompt, settings, count

    @on(Input.Submitted, "#gen-prompt, .gen-field")
    def _form_submitted(self) -> None:
        self.action_generate()

    @on(Button.Pressed, "#gen-start")
    def _start_pressed(self) -> None:
        self.action_generate()

    @on(Button.Pressed, "#gen-pick")
    def _pick_pressed(self) -> None:
        self.action_pick_mode()

    @on(Button.Pressed, "#gen-stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    # -- streaming ------------------------------------------------------------------
    def action_generate(self) -> None:
        checked = self._checked()
        if checked is None:
            return
        lm, prompt, settings, count = checked
        self._halt("")
        self._reset_views()
        self._run += 1
        self.running = True
        self._set_running(True)
        self._prompt_tokens = lm.tokenize(prompt) if prompt else []
        self._set_status(f"Generating {count} sentence{'s' * (count != 1)}…  escape stops")
        self._stream(lm, prompt, settings, count, self._run)

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def _stream(self, lm: Any, prompt: str, settings: SamplingSettings, count: int, run: int) -> None:
        worker = get_current_worker()
        try:
            for sentence, step in lm.generate(prompt, settings, count, alternatives=CANDIDATES):
                if worker.is_cancelled:
                    return
                self.post_message(WordGenerated(run, sentence, step))
        except RnngenError as exc:
            self.post_message(GenerationEnded(run, str(exc)))
            return
        self.post_message(GenerationEnded(run))

    @on(WordGenerated)
    def _word(self, message: WordGenerated) -> None:
        if message.run != self._run or not self.running:
            return  # stopped, or an older run still finishing
        view = self.query_one(GeneratedText)
        if message.sentence + 1 > len(view.sentences):
            view.finish("word limit")
            view.start_sentence(self._prompt_tokens)
            self.query_one("#gen-steps", DataTable).clear()
        step = message.step
        self.steps.append((message.sentence, step))
        view.add_word(step.word)
        self._add_step(step)
        self._show_candidates(list(step.alternatives), chosen=step.word,
                              title=f"step {step.index + 1}: drew “{step.word}”")

    @on(GenerationEnded)
    def _ended(self, message: GenerationEnded) -> None:
        if message.run != self._run or not self.running:
            return
        self.running = False
        self._set_running(False)
        view = self.query_one(GeneratedText)
        view.finish("word limit")
        if message.error:
            self.app.notify(message.error, title="Generation failed", severity="error")
            self._set_status(message.error)
            return
        words = sum(1 for _, s in self.steps if not s.is_end)
        self._set_status(f"Done: {len(view.sentences)} sentence{'s' * (len(view.sentences) != 1)}, {words} words.")

    def action_stop(self) -> None:
        if self.running:
            self._halt("stopped")
            self._set_status("Stopped.")
        elif self.generation is not None:
            self._halt("ended")
            self._set_status("Pick mode ended.")

    def _halt(self, note: str) -> None:
        """End streaming or pick mode now; the worker's later messages are ignored."""
        if self.running:
            self.running = False
            self.workers.cancel_group(self, "generate")
            self.query_one(GeneratedText).finish(note)
        if self.generation is not None:
            self.generation = None
            self.query_one(GeneratedText).finish(note)
            self._hide_word()
            self.query_one("#gen-candidates", DataTable).show_cursor = False
        self._set_running(False)

    def _hide_word(self) -> None:
        """Hide the word field; a hidden field must not keep the focus (it would swallow 1-5)."""
        word = self.query_one("#gen-word", Input)
        word.value = ""
        if word.has_focus or self.app.focused is word:
            self.screen.set_focus(self.query_one("#gen-candidates"))
        word.display = False

    # -- pick mode --------------------------------------------------------------------
    def action_pick_mode(self) -> None:
        checked = self._checked()
        if checked is None:
            return
        lm, prompt, settings, _count = checked
        self._halt("")
        self._reset_views()
        self._settings = settings
        self.generation = lm.start(prompt, settings)
        self.query_one(GeneratedText).start_sentence(self.generation.prompt)
        self.query_one("#gen-word").display = True
        table = self.query_one("#gen-candidates", DataTable)
        table.show_cursor = True
        self._set_running(True)
        self._offer()
        self.screen.set_focus(table)  # at once: the next key may already be a pick or a typed letter

    def _offer(self) -> None:
        """Show the next-word candidates of the pick-mode state."""
        assert self.generation is not None
        self._show_candidates(self.generation.candidates(CANDIDATES), title="pick the next word")
        self.query_one("#gen-candidates", DataTable).move_cursor(row=0)
        n = len(self.generation.words)
        self._set_status(f"Word {n + 1}: 1-9/Enter/click picks, or type a word · space: model picks · esc: end")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pick", "sample_one"):
            return self.generation is not None
        if action == "stop":
            return self.running or self.generation is not None
        return True

    def on_key(self, event: events.Key) -> None:
        """In pick mode a letter typed on the candidates goes into the word field: no click needed first."""
        char = event.character
        if self.generation is None or not (event.is_printable and char and not char.isdigit() and not char.isspace()):
            return
        focused = self.app.focused
        if focused is None or self not in focused.ancestors or isinstance(focused, Input):
            return
        word = self.query_one("#gen-word", Input)
        self.screen.set_focus(word)
        word.insert_text_at_cursor(char)
        event.stop()

    def on_paste(self, event: events.Paste) -> None:
        """A paste on the candidates in pick mode goes into the word field too."""
        focused = self.app.focused
        if self.generation is None or focused is None or isinstance(focused, Input) or self not in focused.ancestors:
            return
        event.stop()
        word = self.query_one("#gen-word", Input)
        self.screen.set_focus(word)
        word.post_message(events.Paste(event.text))

    def action_pick(self, n: int) -> None:
        if self.generation is not None and 1 <= n <= len(self._candidates):
            self.choose(self._candidates[n - 1][0])

    def action_sample_one(self) -> None:
        if self.generation is not None:
            self._advance(self.generation.sample(CANDIDATES))

    @on(DataTable.RowSelected, "#gen-candidates")
    def _row_selected(self, message: DataTable.RowSelected) -> None:
        if self.generation is not None:
            self.action_pick(message.cursor_row + 1)

    @on(Input.Submitted, "#gen-word")
    def _typed_word(self, message: Input.Submitted) -> None:
        message.stop()
        if self.generation is None or self.lm is None:
            return
        tokens = self.lm.tokenize(message.value)
        if not tokens:
            self.app.notify("Type a word to continue with.", title="Nothing typed", severity="warning")
            return
        message.input.value = ""
        for token in tokens:
            if self.generation is None:
                break
            self.choose(token)
        if self.generation is not None:  # back to the candidates, where 1-9 pick again
            self.screen.set_focus(self.query_one("#gen-candidates"))

    def choose(self, word: str) -> None:
        """Continue the pick-mode sentence with this word (unknown words go in as <unk>)."""
        assert self.generation is not None
        if word != "</s>" and self.lm is not None and self.lm.vocab.is_oov(word):
            self.app.notify(f"“{word}” is not in the model's vocabulary: it continues as <unk>.",
                            title="Unknown word", severity="warning")
        self._advance(self.generation.choose(word, CANDIDATES))

    def _advance(self, step: Step) -> None:
        assert self.generation is not None
        self.steps.append((0, step))
        self.query_one(GeneratedText).add_word(step.word)
        self._add_step(step)
        if step.is_end:
            self._finish_pick("sentence complete")
        elif len(self.generation.words) >= self._settings.max_words:
            self._finish_pick("word limit")
        else:
            self._offer()

    def _finish_pick(self, note: str) -> None:
        self.query_one(GeneratedText).finish(note if note != "sentence complete" else "")
        self.generation = None
        self._hide_word()
        self.query_one("#gen-candidates", DataTable).show_cursor = False
        self._set_running(False)
        self._set_status(f"{note.capitalize()}: ctrl+n picks another sentence, ctrl+g generates.")

    # -- side panel --------------------------------------------------------------------
    def _show_candidates(self, candidates: list[tuple[str, float]], title: str, chosen: str | None = None) -> None:
        self._candidates = candidates
        self.query_one("#gen-cand-title", Label).update(title)
        table = self.query_one("#gen-candidates", DataTable)
        table.clear()
        for n, (word, prob) in enumerate(candidates, 1):
            style = "bold reverse" if word == chosen else ""
            table.add_row(Text(str(n), style="dim" if not style else style), Text(word, style=style),
                          Text(format_prob(prob), style=style, justify="right"))

    def _add_step(self, step: Step) -> None:
        table = self.query_one("#gen-steps", DataTable)
        table.add_row(str(step.index + 1), Text(step.word, style=word_style(step.prob)),
                      Text(format_prob(step.prob), justify="right"))
        table.scroll_end(animate=False)

    def _reset_views(self) -> None:
        self.steps = []
        self.query_one(GeneratedText).clear()
        self.query_one("#gen-steps", DataTable).clear()
        self.query_one("#gen-candidates", DataTable).clear()
        self._candidates = []

    def _set_running(self, running: bool) -> None:
        self.query_one("#gen-stop", Button).disabled = not running
        self.refresh_bindings()

    def _set_status(self, text: str) -> None:
        self.query_one("#gen-status", Static).update(Text(text, style="dim"))
