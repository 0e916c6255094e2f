"""Candidates mode of the Score tab: an n-best list reranked by the language model, as `rnngen rerank` does it.

Paste candidates or load a file in any format `rnngen rerank` reads: plain lines
(a blank line between source sentences), TSV, or a Moses n-best list. The panel
calls the engine's own functions (`rnngen.rerank.parse`, `scoring_text`,
`score_texts`, `lm_scores`, `combine`), so each id's candidates are ranked
apart, a list's own scores are combined with the LM feature, and with the same
settings every number equals the command's. The sentence scores are kept, so a
new criterion, α, weight or OOV penalty ranks again at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Select, Static, TextArea
from textual.worker import get_current_worker

from rnngen.errors import ConfigError, InputError, RnngenError
from rnngen.options import DEFAULT_ALPHA, RerankSettings
from rnngen.rerank import (NBestList, Ranked, Reranking, combine, lm_scores, parse, read_lines, score_texts,
                           scoring_text)
from rnngen.score import SentenceScore

CRITERIA: tuple[tuple[str, str], ...] = (
    ("total log-prob", "none"),
    ("per token (length)", "length"),
    ("length penalty wp:α", "wp"),
    ("perplexity", "ppl"),
)
CRITERION_NAMES = {value: label for label, value in CRITERIA}
DEFAULTS = RerankSettings()  # the defaults of `rnngen rerank` (weight 1, no OOV penalty)
HELP = {f.name: f.metadata["help"] for f in fields(RerankSettings)}  # the command's --help, as tooltips
LIST_NAME = "the list"  # how parse errors name the pasted text ("the list, line 3: ...")
SENTENCE_MIN = 16  # narrowest sentence column
CHUNK = 512  # candidates per scoring call: progress and cancellation between chunks
MAX_ROWS = 1000  # rows drawn in the table; the ranking itself covers every candidate
ELLIPSIS = "…"


# -- pure helpers (tested without an app) -----------------------------------------
def read_candidates(path_text: str) -> str:
    """A candidates file as text, decoded and checked as `rnngen rerank` reads it; errors fit to show."""
    if not path_text.strip():
        raise InputError("type the path of an n-best list or a file with one sentence per line")
    path = Path(path_text.strip()).expanduser()
    lines = read_lines(path)
    parse(lines, None, str(path))  # the command's own errors (no candidates, a bad Moses line, ...)
    return "\n".join(lines)


def parse_text(text: str) -> NBestList:
    """The n-best list of the pasted text, read by the engine (format detected as `rnngen rerank` detects it)."""
    return parse(text.split("\n"), None, LIST_NAME)


def distinct_texts(texts: Sequence[str], width: int) -> list[str]:
    """Each text fitted into `width` characters so that texts sharing a long beginning still look different.

    A text that fits is kept. Otherwise, when the first character where it differs from the other texts
    would be cut off, the shared beginning is replaced by "…" from the start of the word that differs;
    what is still too long is cut at the end with "…".
    """
    width = max(width, 4)
    first_difference = _first_differences(texts)
    out = []
    for text, d in zip(texts, first_difference):
        if len(text) <= width:
            out.append(text)
            continue
        shown = text
        if d is not None and d + 4 > width - 1:  # the difference (and a little of it) would not be seen
            start = text.rfind(" ", 0, d) + 1
            before = text.rfind(" ", 0, max(start - 1, 0)) + 1  # one word of context when it fits
            if start - before < width // 3 and d - before + 4 <= width - 2:
                start = before
            shown = ELLIPSIS + text[start:]
        if len(shown) > width:
            shown = shown[: width - 1] + ELLIPSIS
        out.append(shown)
    return out


def _first_differences(texts: Sequence[str]) -> list[int | None]:
    """For each text, where it first differs from the text most like it (None: no other text, or an exact copy).

    The text sharing the longest beginning with a text is a neighbour of it in sorted order.
    """
    order = sorted(range(len(texts)), key=lambda i: texts[i])
    out: list[int | None] = [None] * len(texts)
    for k, i in enumerate(order):
        near = [texts[order[j]] for j in (k - 1, k + 1) if 0 <= j < len(order)]
        if near and texts[i] not in near:
            out[i] = max(_common_prefix(texts[i], other) for other in near)
    return out


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def fmt(value: float | None) -> str:
    """A number in the table: three decimals, as the sentence view shows them."""
    if value is None:
        return ""
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"the {what} must be a number, got {text!r}") from None


def problems(result: Reranking) -> list[str]:
    """What `rnngen rerank` warns about: candidates the model cannot really judge."""
    out = []
    for lines, what in ((result.empty_lines, "empty candidate{s}"),
                        (result.unknown_lines, "candidate{s} made only of unknown words")):
        if lines:
            what = what.format(s="s" if len(lines) > 1 else "")
            head = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
            out.append(f"{len(lines):,} {what} (line{'s' if len(lines) > 1 else ''} {head}); "
                       "scored as the model scores them")
    return out


# -- messages -----------------------------------------------------------------------
@dataclass
class CandidatesScored(Message):
    """The scoring worker finished a list (request numbers tell stale results apart)."""

    request: int
    nbest: NBestList
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


class _Cancelled(Exception):
    """A newer list replaced the one being scored."""


class CandidatesPanel(Vertical):
    """TextArea of candidates, file loader, the `rnngen rerank` settings and the ranked table."""

    DEFAULT_CSS = """
    CandidatesPanel #cand-settings { height: 1; }
    CandidatesPanel #cand-settings Button { margin: 0 0 0 1; min-width: 6; }
    CandidatesPanel #cand-weight, CandidatesPanel #cand-oov { width: 6; }
    """
    BINDINGS = [
        Binding("ctrl+r", "rank", "Rank"),
        Binding("ctrl+o", "open_file", "Open file"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nbest: NBestList | None = None
        self.scores: list[SentenceScore] = []
        self.result: Reranking | None = None
        self._rows: dict[str, Ranked] = {}
        self._request = 0
        self._scored_text: str | None = None
        self._scored_model: Any = None
        self._loud = False  # the request in flight was asked for (ctrl+r): its problems are notified
        self._timer = None
        self._width = 0

    def compose(self) -> ComposeResult:
        yield TextArea(id="cand-text", placeholder="Paste candidates, one per line (a blank line between source "
                                                    "sentences), a TSV or a Moses n-best list; ctrl+r ranks.")
        with Horizontal(id="cand-controls"):
            yield Input(placeholder="n-best list (moses, tsv, lines), or a tuned settings .json", id="cand-path",
                        compact=True)
            yield Button("Load", id="cand-load", compact=True)
        with Horizontal(id="cand-settings"):
            yield Label("rank by", classes="cand-label")
            yield Select(CRITERIA, value="none", allow_blank=False, id="cand-criterion", compact=True)
            yield Label("α", classes="cand-label", id="cand-alpha-label")
            yield Input(f"{DEFAULT_ALPHA:g}", id="cand-alpha", compact=True, restrict=r"[0-9.eE+-]*",
                        tooltip="wp length-penalty exponent α (a number ≥ 0), as --normalize wp:α")
            yield Label("weight", classes="cand-label", id="cand-weight-label")
            yield Input(f"{DEFAULTS.weight:g}", id="cand-weight", compact=True, restrict=r"[-+0-9.eE]*",
                        tooltip=HELP["weight"])
            yield Label("oov", classes="cand-label")
            yield Input(f"{DEFAULTS.oov_penalty:g}", id="cand-oov", compact=True, restrict=r"[-+0-9.eE]*",
                        tooltip=HELP["oov_penalty"])
            yield Button("Rank", id="cand-rank", variant="primary", compact=True)
        yield Static("", id="cand-status")
        yield DataTable(id="cand-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self._sync_fields()
        self._set_status("Paste candidates or load a file; they are scored and ranked as you edit.")

    # -- settings ---------------------------------------------------------------------
    @property
    def method(self) -> str:
        value = self.query_one("#cand-criterion", Select).value
        return value if isinstance(value, str) else "none"

    def settings(self) -> RerankSettings:
        """The form as `rnngen rerank` settings, checked by the engine; ConfigError says what is wrong."""
        method = self.method
        alpha = self.query_one("#cand-alpha", Input).value.strip()
        return RerankSettings.from_options({
            "weight": _number(self.query_one("#cand-weight", Input).value.strip(), "weight"),
            "normalization": f"wp:{alpha}" if method == "wp" else method,
            "oov_penalty": _number(self.query_one("#cand-oov", Input).value.strip(), "OOV penalty")})

    def _sync_fields(self) -> None:
        wp = self.method == "wp"
        self.query_one("#cand-alpha", Input).disabled = not wp
        self.query_one("#cand-alpha-label").set_class(not wp, "-off")
        scored = self.nbest is None or self.nbest.has_scores  # the weight only matters for a list with scores
        self.query_one("#cand-weight", Input).disabled = not scored
        self.query_one("#cand-weight-label").set_class(not scored, "-off")

    @on(Select.Changed, "#cand-criterion")
    def _criterion_changed(self) -> None:
        self._sync_fields()
        self.show_ranking(quiet=True)

    @on(Input.Changed, "#cand-alpha, #cand-weight, #cand-oov")
    def _setting_changed(self) -> None:
        self.show_ranking(quiet=True)

    @on(Input.Submitted, "#cand-alpha, #cand-weight, #cand-oov")
    def _setting_submitted(self) -> None:
        self.show_ranking()

    # -- the list -----------------------------------------------------------------------
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
        """Load an n-best list into the text, or a settings file of `rnngen rerank tune` into the fields."""
        path = self.query_one("#cand-path", Input).value.strip()
        if path.lower().endswith(".json"):
            self.apply_settings_file(path)
            return
        try:
            text = read_candidates(path)
        except RnngenError as exc:
            self.app.notify(str(exc), title="Cannot load candidates", severity="error")
            return
        self.query_one("#cand-text", TextArea).load_text(text)
        self.rank()

    def apply_settings_file(self, path: str) -> None:
        """Fill weight, criterion, α and OOV penalty from a tuned setting (`rnngen rerank --settings`)."""
        from rnngen.tune import read_settings

        try:
            setting = read_settings(Path(path).expanduser())
        except RnngenError as exc:
            self.app.notify(str(exc), title="Cannot load settings", severity="error")
            return
        if setting.lm_alone:
            self.app.notify("this setting ranks by the LM alone, ignoring the list's scores, which the tab cannot "
                            "do; apply it with rnngen rerank --settings", title="Cannot load settings",
                            severity="warning")
            return
        self.query_one("#cand-criterion", Select).value = setting.normalization.method
        self.query_one("#cand-alpha", Input).value = f"{setting.normalization.alpha:g}"
        self.query_one("#cand-weight", Input).value = f"{setting.weight:g}"
        self.query_one("#cand-oov", Input).value = f"{setting.oov_penalty:g}"
        self._sync_fields()
        self.app.notify(f"{setting.label()}, from {path}", title="Settings loaded")

    # -- scoring --------------------------------------------------------------------------
    def rank(self, quiet: bool = False) -> None:
        """Score the list (in a worker) unless it is already scored, then show the ranking."""
        lm = getattr(self.app, "lm", None)
        text = self.query_one("#cand-text", TextArea).text
        if lm is None:
            if not quiet:
                self.app.notify("Load a model on the Models tab (5) or train one (2) first.",
                                title="No model", severity="warning")
            return
        if not text.strip():
            if not quiet:
                self.app.notify("Type or paste some candidates first, one per line.", title="Nothing to rank",
                                severity="warning")
            return
        if text == self._scored_text and lm is self._scored_model and self.scores:
            self.show_ranking(quiet)
            return
        try:
            nbest = parse_text(text)
        except RnngenError as exc:
            self._set_status(str(exc))
            if not quiet:
                self.app.notify(str(exc), title="Cannot read the list", severity="error")
            return
        self._request += 1
        self._loud = not quiet
        self._scored_text, self._scored_model = text, lm
        self._set_status(f"Scoring {len(nbest.candidates):,} candidates…")
        self._score(lm, nbest, self._request)

    def model_changed(self) -> None:
        """A new model: scores are stale; rescore what is there."""
        self._scored_text = None
        self.nbest, self.scores, self.result, self._rows = None, [], None, {}
        self.query_one("#cand-table", DataTable).clear()
        if self.query_one("#cand-text", TextArea).text.strip():
            self.rank(quiet=True)

    @work(thread=True, exclusive=True, group="score-candidates", exit_on_error=False)
    def _score(self, lm: Any, nbest: NBestList, request: int) -> None:
        worker = get_current_worker()
        texts = [scoring_text(c, nbest.format) for c in nbest.candidates]

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise _Cancelled
            if done < total:
                self.post_message(CandidatesProgressed(request, done, total))

        try:
            scores = score_texts(lm, texts, chunk=CHUNK, progress=progress)
        except _Cancelled:
            return
        except RnngenError as exc:
            self.post_message(CandidatesFailed(request, str(exc)))
            return
        if not worker.is_cancelled:
            self.post_message(CandidatesScored(request, nbest, scores))

    @on(CandidatesProgressed)
    def _progressed(self, message: CandidatesProgressed) -> None:
        if message.request == self._request:
            self._set_status(f"Scoring… {message.done:,} of {message.total:,} candidates")

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
        self.nbest, self.scores = message.nbest, message.scores
        self._sync_fields()
        self.show_ranking(quiet=not self._loud)
        if self.result is not None:
            for problem in problems(self.result):
                self.app.notify(problem, title="Candidates", severity="warning")

    # -- showing ------------------------------------------------------------------------------
    def show_ranking(self, quiet: bool = False) -> None:
        """Combine the kept scores under the form's settings (the engine's `combine`) and fill the table."""
        if self.nbest is None or not self.scores:
            return
        try:
            settings = self.settings()
        except RnngenError as exc:
            self._set_status(str(exc))
            if not quiet:
                self.app.notify(str(exc), title="Invalid setting", severity="error")
            return
        self.result = combine(self.nbest, lm_scores(self.scores, settings), settings)
        self._fill(self.result)

    def _fill(self, result: Reranking) -> None:
        nbest = result.nbest
        table = self.query_one("#cand-table", DataTable)
        self._width = table.size.width
        multi = len(result.groups) > 1
        own = nbest.has_scores
        headers = (["id"] if multi else []) + ["#", "candidate", "log P", "tokens", "OOV"] + (
            ["list", "LM", "total"] if own else ["score"])
        rows: list[list[str]] = []
        keys: list[str] = []
        self._rows = {}
        for i, group in result.groups:
            shown = group[: max(0, MAX_ROWS - len(rows))]
            if not shown:
                break
            for r in shown:
                s = r.lm
                oov = f"{s.oov} (all)" if s.unknown_only else str(s.oov)
                numbers = [fmt(s.logprob), str(s.tokens), oov] + (
                    [fmt(r.candidate.score), fmt(s.feature), fmt(r.total)] if own else [fmt(r.total)])
                rows.append(([str(i) if r.rank == 1 else ""] if multi else []) + [str(r.rank), ""] + numbers)
                keys.append(str(r.candidate.line))
                self._rows[keys[-1]] = r
        # The sentence column takes what the other columns leave (each cell has one space either side).
        text_column = headers.index("candidate")
        others = sum(max([len(headers[c])] + [len(row[c]) for row in rows]) + 2
                     for c in range(len(headers)) if c != text_column)
        width = max(SENTENCE_MIN, table.size.width - others - 4)
        texts: list[str] = []
        for _, group in result.groups:
            texts.extend(distinct_texts([_display_text(r, nbest) for r in group], width))
        table.clear(columns=True)
        table.add_columns(*(Text(h, justify="left" if h == "candidate" else "right") for h in headers))
        right = [c for c in range(len(headers)) if c != text_column]
        for row, key, text in zip(rows, keys, texts):
            row[text_column] = text
            table.add_row(*(Text(v, justify="right" if c in right else "left") for c, v in enumerate(row)), key=key)
        self._set_status(self._summary(result))

    def _summary(self, result: Reranking) -> str:
        settings = result.settings
        name = CRITERION_NAMES[settings.normalization.method].replace("α", f"{settings.normalization.alpha:g}")
        unknown_words = sum(r.lm.oov for r in result.ranked())
        if settings.oov_penalty:
            name += f" {settings.oov_penalty:+g} per unknown word"
        if unknown_words:  # say how they were counted: as <unk>, the probability of some rare word
            name += f"; {unknown_words:,} unknown word(s) scored as <unk>"
        count = len(result.nbest.candidates)
        ids = f" of {len(result.groups):,} ids" if len(result.groups) > 1 else ""
        how = (f"total = list score + {settings.weight:g} × LM ({name})" if result.nbest.has_scores
               else f"ranked by {name}")
        shown = f"; the first {MAX_ROWS:,} rows shown" if count > MAX_ROWS else ""
        choices = result.unknown_choices
        unknown = (f"; {len(choices):,} id(s) won only on unknown words ({', '.join(map(str, choices[:3]))}"
                   f"{', …' if len(choices) > 3 else ''})" if choices else "")
        return f"{count:,} candidates{ids} ({result.nbest.format}): {how}{shown}{unknown}"

    @on(DataTable.RowHighlighted, "#cand-table")
    def _row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        """The status line shows the highlighted candidate in full (the table cuts long ones) and its sum."""
        if message.row_key.value is None or not self.query_one("#cand-table").has_focus:
            return
        r = self._rows.get(message.row_key.value)
        if r is None or self.result is None:
            return
        sum_ = (f"list {fmt(r.candidate.score)} + {self.result.settings.weight:g} × LM {fmt(r.lm.feature)} = "
                f"{fmt(r.total)}" if r.candidate.score is not None else f"score {fmt(r.total)}")
        self._set_status(f"id {r.candidate.id} #{r.rank} (line {r.candidate.line}): {r.candidate.text}  ·  {sum_}")

    def on_resize(self) -> None:
        """Sentences are cut to the table's width, so a new width redraws the ranking."""
        self.call_after_refresh(self._rewidth)

    def _rewidth(self) -> None:
        if self.result is not None and self.query_one("#cand-table", DataTable).size.width != self._width:
            self._fill(self.result)

    def ranked(self) -> list[Ranked]:
        """Every candidate in the table's order: ids ascending, each id's best first (as `rnngen rerank`)."""
        return list(self.result.ranked()) if self.result is not None else []

    def ranked_sentences(self) -> list[str]:
        """The candidates' texts as the model read them, in ranked order."""
        if self.result is None:
            return []
        return [scoring_text(r.candidate, self.result.nbest.format) for r in self.result.ranked()]

    def _set_status(self, text: str) -> None:
        self.query_one("#cand-status", Static).update(Text(text))


def _display_text(r: Ranked, nbest: NBestList) -> str:
    """What the table shows of a candidate: the words the model read (Moses escapes and marks undone)."""
    text = scoring_text(r.candidate, nbest.format)
    return text if text else "(empty)"
