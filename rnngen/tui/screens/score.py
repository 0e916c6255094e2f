"""The Score tab: a sentence's probability as a heat map, and candidates ranked by the model.

Sentence mode scores the input as it is typed (and at once on Enter) with
`LanguageModel.score`, so the numbers equal `rnngen score`; the heat map
colours each word by its probability and selecting a word shows its rank and
the model's alternatives there (`rnngen.inspect.word_details`). Candidates
mode ranks many sentences (see `rnngen.tui.widgets.candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane, TextArea
from textual.worker import get_current_worker

from rnngen.errors import RnngenError
from rnngen.inspect import WordDetail, word_details
from rnngen.score import SentenceScore
from rnngen.tui.widgets.candidates import CandidatesPanel, fmt_ppl
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

    def on_key(self, event: events.Key) -> None:
        """Type to score: a letter pressed anywhere on the Sentence view goes into the field.

        Digits are left alone so that keys 1-5 keep switching tabs.
        """
        char = event.character
        if not (event.is_printable and char and not char.isdigit() and not char.isspace()):
            return
        if isinstance(self.app.focused, (Input, TextArea)):
            return
        if self.query_one("#score-modes", TabbedContent).active != "score-sentence":
            return
        field = self.query_one("#score-input", Input)
        field.focus()
        field.insert_text_at_cursor(char)
        event.stop()

    def compose(self) -> ComposeResult:
        yield Static(NO_MODEL, id="score-hint", classes="hint")
        with TabbedContent(initial="score-sentence", id="score-modes"):
            with TabPane("Sentence", id="score-sentence"):
                yield Input(placeholder="Type a sentence: it is scored as you type", id="score-input", select_on_focus=False)
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
        self.watch(self.app, "lm", self._model_changed, init=True)

    @property
    def lm(self) -> Any:
        return getattr(self.app, "lm", None)

    # -- model ------------------------------------------------------------------------
    def _model_changed(self, lm: Any) -> None:
        self.query_one("#score-hint").display = lm is None
        self.query_one("#score-modes").display = lm is not None
        self._shown = None
        if lm is None:
            self._clear()
            return
        self.query_one(CandidatesPanel).model_changed()
        self.score_now()

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
        self.score_now()
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
        self._score(lm, text, self._request)

    @work(thread=True, exclusive=True, group="score-sentence", exit_on_error=False)
    def _score(self, lm: Any, text: str, request: int) -> None:
        try:
            tokens = lm.tokenize(text)
            if not tokens:
                self.post_message(SentenceScored(request, text, lm, None))
                return
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
        if message.error:
            self.app.notify(message.error, title="Cannot score", severity="error")
        if message.score is None:
            self._clear()
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
    def action_toggle_mode(self) -> None:
        tabs = self.query_one("#score-modes", TabbedContent)
        tabs.active = "score-candidates" if tabs.active == "score-sentence" else "score-sentence"
        if tabs.active == "score-candidates":
            self.query_one("#cand-text").focus()
        else:
            self.query_one("#score-input").focus()


def _log(prob: float) -> float:
    import math

    return math.log(prob) if prob > 0 else float("-inf")
