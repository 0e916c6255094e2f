"""The Score tab: a sentence's probability as a heat map, and candidates ranked by the model.

Sentence mode scores the input as it is typed (and at once on Enter) with
`LanguageModel.score`, so the numbers equal `rnngen score`, and it refuses what
that command refuses (`rnngen.score.check_scorable`); the heat map colours each
word by its probability and selecting a word shows its rank and the model's
alternatives there (`rnngen.inspect.word_details`). Candidates mode reranks an
n-best list as `rnngen rerank` does (see `rnngen.tui.widgets.candidates`).

Typing is never lost: when the tab is shown the field takes the focus at once
(before the app's own choice of a control, which the pane hands on to the
field), a paste or a letter on another control of the pane goes into the
field, and digits that show another tab still do while the field is empty.
Without a model nothing on the pane takes keys, so 1-5 switch tabs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane, TextArea
from textual.worker import get_current_worker

from rnngen.display import fmt_ppl
from rnngen.errors import RnngenError
from rnngen.inspect import WordDetail, word_details
from rnngen.score import SentenceScore, check_scorable
from rnngen.tui.widgets.candidates import CandidatesPanel
from rnngen.tui.widgets.heatmap import HeatMap, HeatWord, format_prob, legend

NO_MODEL = "No model loaded: load a model on the Models tab (5) or train one (2)."
ALTERNATIVES = 10
DEBOUNCE_S = 0.25


@dataclass
class SentenceScored(Message):
    """The scoring worker finished one sentence (or found it empty)."""

    request: int
    text: str
    lm: Any
    score: SentenceScore | None
    details: list[WordDetail] = field(default_factory=list)
    error: str = ""


class Hint(Static):
    """A line of help that holds the focus while it is shown, so the tab keeps it (and takes no typing)."""

    def allow_focus(self) -> bool:
        return self.display


class SentenceInput(Input):
    """The sentence field. While it is empty, a digit that shows another tab is left to the app."""

    def __init__(self, *args: Any, passes: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passes = passes or (lambda key: False)

    async def _on_key(self, event: events.Key) -> None:
        if not self.value and event.character and event.character.isdigit() and self.passes(event.key):
            return  # not stopped: it reaches the app, whose binding switches the tab
        await super()._on_key(event)


def numbers_text(score: SentenceScore, width: int = 0) -> Text:
    """The sentence-level numbers, formatted as `rnngen score` prints them, wrapped between items to `width`."""
    parts = [
        ("log P ", f"{score.logprob:.3f}", ""),
        ("log10 ", f"{score.log10prob:.3f}", ""),
        ("ppl ", fmt_ppl(score.perplexity), ""),
        ("per token ", f"{score.per_token:.3f}", ""),
        ("", str(score.num_tokens), " tokens"),
        ("", str(score.oov_count), " unknown"),
    ]
    text = Text()
    column = 0
    for n, (label, value, unit) in enumerate(parts):
        item = len(label) + len(value) + len(unit)
        if n and width and column + 3 + item > width:
            text.append("\n")
            column = 0
        elif n:
            text.append(" · ", style="dim")
            column += 3
        text.append(label, style="dim")
        text.append(value, style="bold")
        text.append(unit, style="dim")
        column += item
    return text


def detail_text(detail: WordDetail, words: int) -> Text:
    """One line about the selected word: which, how likely, its rank."""
    text = Text()
    if detail.token == "</s>":
        text.append("</s>", style="bold")
        text.append(" end of sentence", style="dim")
    else:
        text.append(f"“{detail.token}”", style="bold")
        text.append(f" word {detail.index + 1} of {words}", style="dim")
        if detail.oov:
            text.append(" unknown, scored as <unk>", style="italic")
    text.append(" · P ", style="dim")
    text.append(format_prob(detail.prob), style="bold")
    text.append(f" (log {detail.logprob:.3f})", style="dim")
    text.append(" · rank ", style="dim")
    text.append(f"{detail.rank:,}", style="bold")
    text.append(f" of {detail.candidates:,}", style="dim")
    text.append(f" · surprisal {detail.surprisal_bits:.2f} bits · entropy {detail.entropy_bits:.2f} bits", style="dim")
    return text


class ScorePane(Vertical):
    """Sentence scoring with a heat map, and a candidates ranking; follows `app.lm`."""

    BINDINGS = [
        Binding("ctrl+l", "toggle_mode", "Sentence/Candidates"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.score: SentenceScore | None = None
        self.details: list[WordDetail] = []
        self._request = 0
        self._shown: tuple[str, Any] | None = None  # (text, model) of what is on screen
        self._timer = None
        self._loud = -1  # the request asked for with Enter: its error is also a notification
        self._claim = False  # the tab was just shown: the pane takes the focus and hands it to the field
        self._tab: TabPane | None = None

    def compose(self) -> ComposeResult:
        yield Hint(NO_MODEL, id="score-hint", classes="hint")
        with TabbedContent(initial="score-sentence", id="score-modes"):
            with TabPane("Sentence", id="score-sentence"):
                yield SentenceInput(placeholder="Type a sentence: it is scored as you type (escape leaves the field)",
                                    id="score-input", select_on_focus=False, passes=self._shows_another_tab)
                yield Static("", id="score-numbers")
                yield HeatMap(id="score-heatmap", empty="Each word appears here coloured by its probability.")
                yield Static(legend(), id="score-legend")
                yield Static("", id="score-detail")
                table = DataTable(id="score-alternatives", cursor_type="row", show_cursor=False)
                table.add_columns("rank", "the model expected", "P", "log P")
                yield table
            with TabPane("Candidates", id="score-candidates"):
                yield CandidatesPanel(id="score-candidates-panel")

    def on_mount(self) -> None:
        self._tab = next((a for a in self.ancestors if isinstance(a, TabPane)), None)
        tabs = next((a for a in self._tab.ancestors if isinstance(a, TabbedContent)), None) if self._tab else None
        if tabs is not None:
            self.watch(tabs, "active", self._tab_changed, init=False)
        self.watch(self.app, "lm", self._model_changed, init=True)

    @property
    def lm(self) -> Any:
        return getattr(self.app, "lm", None)

    # -- focus: typing is never lost ----------------------------------------------------
    def typing_target(self) -> Widget:
        """The field that takes typing in the current mode."""
        if self.query_one("#score-modes", TabbedContent).active == "score-candidates":
            return self.query_one("#cand-text", TextArea)
        return self.query_one("#score-input", Input)

    def is_shown(self) -> bool:
        """The pane's tab is the one shown (a pane outside tabs always is)."""
        if self._tab is None:
            return True
        tabs = next((a for a in self._tab.ancestors if isinstance(a, TabbedContent)), None)
        return tabs is None or tabs.active == self._tab.id

    def _take_focus(self) -> None:
        """Focus the field now, not after the messages already queued: keys typed next must reach it.

        Without a model the hint holds the focus: it takes no typing, so 1-5 switch tabs.
        """
        self.screen.set_focus(self.typing_target() if self.lm is not None else self.query_one("#score-hint"))

    def _tab_changed(self, active: str) -> None:
        """Runs while the app switches tabs (a reactive watcher), so the field has the focus before any next key."""
        self._claim = active == getattr(self._tab, "id", None)
        if self._claim:
            self._take_focus()

    def allow_focus(self) -> bool:
        """Focusable only just after the tab is shown: the app then focuses the pane, which hands on to the field."""
        return self._claim

    def focus(self, scroll_visible: bool = True) -> "ScorePane":
        if self._claim:
            self._claim = False
            self._take_focus()
            return self
        return super().focus(scroll_visible)

    def on_focus(self) -> None:
        self._claim = False
        self._take_focus()

    def _shows_another_tab(self, key: str) -> bool:
        """The app binds this key to showing a tab other than this pane's."""
        active = self.screen.active_bindings.get(key)
        if active is None or active.node is not self.app or not active.enabled:
            return False
        _, name, params = parse_action(active.binding.action)
        return name == "show_tab" and tuple(params) != (getattr(self._tab, "id", None),)

    def _typing_elsewhere(self) -> bool:
        """The focus is on a control of this pane that does not take typing (so typing belongs in the field)."""
        focused = self.app.focused
        return (self.lm is not None and focused is not None and self in focused.ancestors
                and not isinstance(focused, (Input, TextArea)))

    def on_key(self, event: events.Key) -> None:
        """Type to score: a letter pressed on another control of the Sentence view goes into the field.

        Digits are left alone so that keys 1-5 keep switching tabs.
        """
        char = event.character
        if not (event.is_printable and char and not char.isdigit() and not char.isspace()):
            return
        if not self._typing_elsewhere() or self.query_one("#score-modes", TabbedContent).active != "score-sentence":
            return
        field = self.query_one("#score-input", Input)
        self.screen.set_focus(field)
        field.insert_text_at_cursor(char)
        event.stop()

    def on_paste(self, event: events.Paste) -> None:
        """A paste while another control of the pane has the focus goes into the field."""
        if not self._typing_elsewhere():
            return
        event.stop()
        target = self.typing_target()
        self.screen.set_focus(target)
        target.post_message(events.Paste(event.text))

    # -- model ------------------------------------------------------------------------
    def _model_changed(self, lm: Any) -> None:
        """Without a model the modes are hidden and disabled: no hidden field can take the keys."""
        modes = self.query_one("#score-modes")
        self.query_one("#score-hint").display = lm is None
        modes.display = lm is not None
        modes.disabled = lm is None
        self._shown = None
        if lm is None:
            self._clear()
            if self.is_shown():
                self._take_focus()
            return
        self.query_one(CandidatesPanel).model_changed()
        self.score_now()
        focused = self.app.focused
        if self.is_shown() and not isinstance(focused, (Input, TextArea)):
            self._take_focus()

    # -- sentence mode ----------------------------------------------------------------
    @on(Input.Changed, "#score-input")
    def _typed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_S, self._debounced)

    def _debounced(self) -> None:
        self._timer = None
        self.score_now(quiet=True)

    @on(Input.Submitted, "#score-input")
    def _submitted(self) -> None:
        """Score now and move to the heat map, where the arrow keys walk the words (typing again: shift+tab)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.score_now(quiet=False)
        if self.query_one("#score-input", Input).value.strip():
            self.query_one(HeatMap).focus()

    def score_now(self, quiet: bool = True) -> None:
        """Score the input's sentence in a worker, unless that very result is already shown."""
        lm = self.lm
        text = self.query_one("#score-input", Input).value
        if lm is None:
            if not quiet:
                self.app.notify(NO_MODEL, title="No model", severity="warning")
            return
        if not text.strip():
            self._request += 1
            self._shown = None
            self._clear()
            return
        if self._shown is not None and self._shown[0] == text and self._shown[1] is lm:
            return
        self._request += 1
        if not quiet:
            self._loud = self._request
        self._score(lm, text, self._request)

    @work(thread=True, exclusive=True, group="score-sentence", exit_on_error=False)
    def _score(self, lm: Any, text: str, request: int) -> None:
        try:
            tokens = lm.tokenize(text)
            if not tokens:
                self.post_message(SentenceScored(request, text, lm, None))
                return
            check_scorable(tokens, lm.vocab, text)  # what `rnngen score` refuses, this refuses too
            score = lm.score([text])[0]
            details = word_details(lm, tokens, ALTERNATIVES)
        except RnngenError as exc:
            self.post_message(SentenceScored(request, text, lm, None, error=str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(SentenceScored(request, text, lm, score, details))

    @on(SentenceScored)
    def _scored(self, message: SentenceScored) -> None:
        if message.request != self._request:
            return  # a newer sentence was typed meanwhile
        if message.score is None:
            self._shown = None
            self._clear()
            if message.error:  # said on the view as it is typed; a notification too when Enter asked for it
                self.query_one("#score-numbers", Static).update(Text(f"Not scored: {message.error}", style="italic"))
                if message.request == self._loud:
                    self.app.notify(message.error, title="Cannot score", severity="warning")
            return
        self._shown = (message.text, message.lm)
        self.score, self.details = message.score, message.details
        self._show_numbers()
        words = [HeatWord(t.token, t.prob, t.oov) for t in message.score.tokens]
        self.query_one(HeatMap).show(words)

    def _show_numbers(self) -> None:
        if self.score is not None:
            numbers = self.query_one("#score-numbers", Static)
            numbers.update(numbers_text(self.score, numbers.content_size.width))

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_numbers)

    @on(HeatMap.Selected, "#score-heatmap")
    def _word_selected(self, message: HeatMap.Selected) -> None:
        if 0 <= message.index < len(self.details):
            self.show_detail(message.index)

    def show_detail(self, index: int) -> None:
        """The selected word's probability, rank and the model's top alternatives at its position."""
        detail = self.details[index]
        assert self.score is not None
        self.query_one("#score-detail", Static).update(detail_text(detail, self.score.num_words))
        table = self.query_one("#score-alternatives", DataTable)
        table.clear()
        for rank, (word, prob) in enumerate(detail.alternatives, 1):
            mark = word == detail.predicted
            style = "bold reverse" if mark else ""
            table.add_row(Text(str(rank), style=style), Text(word + ("  ◀" if mark else ""), style=style),
                          Text(format_prob(prob), style=style, justify="right"),
                          Text(f"{_log(prob):.3f}", style=style, justify="right"))
        if detail.rank > len(detail.alternatives):
            table.add_row(Text(f"{detail.rank:,}", style="bold"), Text(f"{detail.predicted}  ◀", style="bold"),
                          Text(format_prob(detail.prob), style="bold", justify="right"),
                          Text(f"{detail.logprob:.3f}", style="bold", justify="right"))

    def _clear(self) -> None:
        self.score, self.details = None, []
        self.query_one("#score-numbers", Static).update("")
        self.query_one(HeatMap).show([])
        self.query_one("#score-detail", Static).update("")
        self.query_one("#score-alternatives", DataTable).clear()

    # -- modes ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_mode":
            return self.lm is not None  # without a model there is no mode to show
        return True

    def action_toggle_mode(self) -> None:
        if self.lm is None:
            return
        tabs = self.query_one("#score-modes", TabbedContent)
        tabs.active = "score-candidates" if tabs.active == "score-sentence" else "score-sentence"
        self._take_focus()


def _log(prob: float) -> float:
    import math

    return math.log(prob) if prob > 0 else float("-inf")
