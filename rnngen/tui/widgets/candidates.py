"""Candidates mode of the Score tab: several sentences ranked by the language model.

As when choosing among candidate translations: paste them one per line or load
a file (plain lines, or a Moses n-best list whose candidate field is used), pick
a criterion, and read the ranking. The criteria are `rnngen.score.normalized`,
the very function `rnngen rerank` uses, so both rank alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import Number
from textual.widgets import Button, DataTable, Input, Label, Select, Static, TextArea
from textual.worker import get_current_worker

from rnngen.errors import RnngenError
from rnngen.score import SentenceScore, normalized

CRITERIA: tuple[tuple[str, str], ...] = (
    ("total log-prob", "none"),
    ("per token (length)", "length"),
    ("length penalty wp:α", "wp"),
    ("perplexity", "ppl"),
)
CRITERION_NAMES = {value: label for label, value in CRITERIA}
CHUNK = 512  # sentences per scoring call: progress and cancellation between chunks
SENTENCE_MIN, SENTENCE_MAX = 16, 120  # width of the sentence column
NUMBER_COLUMNS = ("log P", "tokens", "per tok", "ppl", "OOV", "score")
NUMBERS_WIDTH = 58  # what the other columns take, cell padding included
MAX_ROWS = 1000  # rows drawn in the table; the ranking itself covers every sentence


def rank_order(scores: Sequence[SentenceScore], method: str, alpha: float = 0.6) -> list[int]:
    """Indices of `scores`, best first by `normalized`; ties keep input order."""
    values = [normalized(s, method, alpha) for s in scores]
    return sorted(range(len(scores)), key=lambda i: -values[i])


def candidate_lines(text: str) -> list[str]:
    """The sentences of a pasted or loaded text: non-blank lines, or the candidate field of a Moses n-best list."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if lines and all(line.count("|||") >= 2 for line in lines):
        return [line.split("|||")[1].strip() for line in lines]
    return lines


def read_candidates(path_text: str) -> str:
    """A candidates file as text; errors are RnngenErrors fit to show."""
    from rnngen.corpus.local import read_text

    if not path_text.strip():
        raise RnngenError("type the path of a file with one sentence per line")
    path = Path(path_text.strip()).expanduser()
    if path.is_dir():
        raise RnngenError(f"{path} is a folder; give a file with one sentence per line")
    text, _ = read_text(path)
    if not candidate_lines(text):
        raise RnngenError(f"{path} has no sentences")
    return "\n".join(candidate_lines(text))


def fmt_ppl(value: float) -> str:
    from rnngen.cli._common import fmt_ppl as cli_fmt_ppl  # the CLI's own format: numbers read the same

    return cli_fmt_ppl(value)


@dataclass
class CandidatesScored(Message):
    """The scoring worker finished a list (request numbers tell stale results apart)."""

    request: int
    lines: list[str]
    scores: list[SentenceScore]


@dataclass
class CandidatesProgressed(Message):
    """Part of a long list is scored."""

    request: int
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CandidatesProgressed)


@dataclass
class CandidatesFailed(Message):
    """Scoring a list failed with a user-facing error."""

    request: int
    error: str


class CandidatesPanel(Vertical):
    """TextArea of sentences, file loader, criterion picker and the ranked table."""

    BINDINGS = [
        Binding("ctrl+r", "rank", "Rank"),
        Binding("ctrl+o", "open_file", "Open file"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: list[str] = []
        self.scores: list[SentenceScore] = []
        self.order: list[int] = []
        self._request = 0
        self._scored_request = -1
        self._scored_text: str | None = None
        self._scored_model: Any = None
        self._timer = None
        self._width = 0

    def compose(self) -> ComposeResult:
        yield TextArea(id="cand-text", placeholder="Paste candidate sentences here, one per line "
                                                    "(or load a file below), then ctrl+r to rank.")
        with Horizontal(id="cand-controls"):
            yield Input(placeholder="file with one sentence per line (or a Moses n-best)", id="cand-path", compact=True)
            yield Button("Load", id="cand-load", compact=True)
            yield Label("rank by", classes="cand-label")
            yield Select(CRITERIA, value="none", allow_blank=False, id="cand-criterion", compact=True)
            yield Label("α", classes="cand-label", id="cand-alpha-label")
            yield Input("0.6", id="cand-alpha", compact=True, restrict=r"[0-9.]*",
                        validators=[Number(minimum=0, maximum=10)], tooltip="wp length-penalty exponent α (0..10)")
            yield Button("Rank", id="cand-rank", variant="primary", compact=True)
        yield Static("", id="cand-status")
        table = DataTable(id="cand-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "sentence", *(Text(h, justify="right") for h in NUMBER_COLUMNS))
        yield table

    def on_mount(self) -> None:
        self._sync_alpha()
        self._set_status("Paste sentences or load a file; they are scored and ranked as you edit.")

    # -- inputs ---------------------------------------------------------------------
    @property
    def method(self) -> str:
        value = self.query_one("#cand-criterion", Select).value
        return value if isinstance(value, str) else "none"

    def alpha(self) -> float | None:
        """α for wp, or None (with the field flagged) when it is not a number in range."""
        field = self.query_one("#cand-alpha", Input)
        result = field.validate(field.value)
        if result is not None and not result.is_valid:
            return None
        try:
            return float(field.value)
        except ValueError:
            return None

    def _sync_alpha(self) -> None:
        wp = self.method == "wp"
        self.query_one("#cand-alpha", Input).disabled = not wp
        self.query_one("#cand-alpha-label").set_class(not wp, "-off")

    @on(Select.Changed, "#cand-criterion")
    def _criterion_changed(self) -> None:
        self._sync_alpha()
        self.show_ranking()

    @on(Input.Changed, "#cand-alpha")
    def _alpha_changed(self) -> None:
        if self.method == "wp" and self.alpha() is not None:
            self.show_ranking()

    @on(TextArea.Changed, "#cand-text")
    def _text_changed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(0.6, self._auto_rank)

    def _auto_rank(self) -> None:
        self._timer = None
        if self.query_one("#cand-text", TextArea).text.strip():
            self.rank(quiet=True)

    def action_rank(self) -> None:
        self.rank()

    @on(Button.Pressed, "#cand-rank")
    def _rank_pressed(self) -> None:
        self.rank()

    def action_open_file(self) -> None:
        self.query_one("#cand-path", Input).focus()

    @on(Button.Pressed, "#cand-load")
    @on(Input.Submitted, "#cand-path")
    def load_file(self) -> None:
        try:
            text = read_candidates(self.query_one("#cand-path", Input).value)
        except RnngenError as exc:
            self.app.notify(str(exc), title="Cannot load candidates", severity="error")
            return
        self.query_one("#cand-text", TextArea).load_text(text)
        self.rank()

    # -- scoring --------------------------------------------------------------------
    def rank(self, quiet: bool = False) -> None:
        """Score the sentences (in a worker) unless they are already scored, then show the ranking."""
        lm = getattr(self.app, "lm", None)
        text = self.query_one("#cand-text", TextArea).text
        if lm is None:
            if not quiet:
                self.app.notify("Load a model on the Models tab (5) or train one (2) first.",
                                title="No model", severity="warning")
            return
        lines = candidate_lines(text)
        if not lines:
            if not quiet:
                self.app.notify("Type or paste some sentences first, one per line.", title="Nothing to rank",
                                severity="warning")
            return
        if text == self._scored_text and lm is self._scored_model and self.scores:
            self.show_ranking()
            return
        self._request += 1
        self._scored_text, self._scored_model = text, lm
        self._set_status(f"Scoring {len(lines):,} sentences…")
        self._score(lm, lines, self._request)

    def model_changed(self) -> None:
        """A new model: scores are stale; rescore what is there."""
        self._scored_text = None
        self.scores, self.order, self.lines = [], [], []
        self.query_one("#cand-table", DataTable).clear()
        if self.query_one("#cand-text", TextArea).text.strip():
            self.rank(quiet=True)

    @work(thread=True, exclusive=True, group="score-candidates", exit_on_error=False)
    def _score(self, lm: Any, lines: list[str], request: int) -> None:
        worker = get_current_worker()
        scores: list[SentenceScore] = []
        try:
            for start in range(0, len(lines), CHUNK):
                if worker.is_cancelled:
                    return
                scores.extend(lm.score(lines[start:start + CHUNK], allow_empty=True))
                if len(lines) > CHUNK:
                    self.post_message(CandidatesProgressed(request, len(scores), len(lines)))
        except RnngenError as exc:
            self.post_message(CandidatesFailed(request, str(exc)))
            return
        if not worker.is_cancelled:
            self.post_message(CandidatesScored(request, lines, scores))

    @on(CandidatesProgressed)
    def _progressed(self, message: CandidatesProgressed) -> None:
        if message.request == self._request:
            self._set_status(f"Scoring… {message.done:,} of {message.total:,} sentences")

    @on(CandidatesFailed)
    def _failed(self, message: CandidatesFailed) -> None:
        if message.request == self._request:
            self._scored_text = None
            self._set_status(message.error)
            self.app.notify(message.error, title="Cannot score", severity="error")

    @on(CandidatesScored)
    def _scored(self, message: CandidatesScored) -> None:
        if message.request != self._request:
            return
        self._scored_request = message.request
        self.lines, self.scores = message.lines, message.scores
        self.show_ranking()

    # -- showing --------------------------------------------------------------------
    def show_ranking(self) -> None:
        if not self.scores:
            return
        method = self.method
        alpha = self.alpha() if method == "wp" else 0.6
        if alpha is None:
            self.app.notify("α must be a number from 0 to 10", title="Invalid α", severity="error")
            return
        self.order = rank_order(self.scores, method, alpha)
        table = self.query_one("#cand-table", DataTable)
        table.clear()
        width = max(SENTENCE_MIN, min(SENTENCE_MAX, table.size.width - NUMBERS_WIDTH))
        self._width = table.size.width
        for place, i in enumerate(self.order[:MAX_ROWS], 1):
            s = self.scores[i]
            oov = f"{s.oov_count} (all)" if s.oov_count and s.oov_count == s.num_words else str(s.oov_count)
            text = s.text if len(s.text) <= width else s.text[: width - 1] + "…"
            numbers = (f"{s.logprob:.3f}", str(s.num_tokens), f"{s.per_token:.3f}", fmt_ppl(s.perplexity), oov,
                       f"{normalized(s, method, alpha):.4f}")
            table.add_row(str(place), text, *(Text(v, justify="right") for v in numbers), key=str(i))
        name = CRITERION_NAMES[method].replace("α", f"{alpha:g}")
        best = self.scores[self.order[0]]
        shown = f" (the best {MAX_ROWS:,} shown)" if len(self.order) > MAX_ROWS else ""
        self._set_status(f"{len(self.scores):,} sentences ranked by {name}{shown}; best: {best.text[:60]!r}")

    @on(DataTable.RowHighlighted, "#cand-table")
    def _row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        """The status line shows the highlighted candidate in full (the table cuts long ones)."""
        if message.row_key.value is None or not self.scores or not self.query_one("#cand-table").has_focus:
            return
        i = int(message.row_key.value)
        if 0 <= i < len(self.scores):
            self._set_status(f"#{message.cursor_row + 1}: {self.scores[i].text}")

    def on_resize(self) -> None:
        """Sentences are cut to the table's width, so a new width redraws the ranking."""
        self.call_after_refresh(self._rewidth)

    def _rewidth(self) -> None:
        if self.scores and self.query_one("#cand-table", DataTable).size.width != self._width:
            self.show_ranking()

    def ranked_sentences(self) -> list[str]:
        """The table's sentences in ranked order (full text)."""
        return [self.scores[i].text for i in self.order]

    def _set_status(self, text: str) -> None:
        self.query_one("#cand-status", Static).update(Text(text))
