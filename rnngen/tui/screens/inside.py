"""The Inside tab: the lecture's worked examples step by step, and a loaded model's gates, states and gradients.

Every number comes from `rnngen.inside` (the same functions as `rnngen inspect`): this pane parses
nothing but the text of its fields into the engine's calls, and shows the engine's `Trace`. ↑/↓ step
through the table; the side panel shows the selected step's every value.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Select, Static

from rnngen import inside
from rnngen.display import short_number
from rnngen.errors import RnngenError

EXAMPLES: tuple[tuple[str, str], ...] = (
    ("lecture: LSTM memory cell", "lstm"),
    ("lecture: simple RNN", "rnn"),
    ("model: gates and states", "states"),
    ("model: gradients in time", "gradients"),
)
LECTURE_INPUTS = {"lstm": inside.LECTURE_LSTM_INPUTS, "rnn": inside.LECTURE_RNN_INPUTS}
DEFAULT_SENTENCE = "the flights from boston to denver on monday morning are full ."
TOP_UNITS = 8  # units listed per quantity in the side panel for a trained model


def steps_text(steps) -> str:
    return " ".join(",".join(f"{v:g}" for v in step) for step in steps)


class InsidePane(Vertical):
    """What the memory holds, when the gates open, how gradients flow back: one table, one side panel."""

    DEFAULT_CSS = """
    InsidePane #inside-controls { height: 1; }
    InsidePane #inside-what { width: 30; }
    InsidePane #inside-input { width: 1fr; }
    InsidePane #inside-weights { width: 1fr; }
    InsidePane #inside-status { height: auto; color: $text-muted; }
    InsidePane #inside-body { height: 1fr; }
    InsidePane #inside-table { width: 2fr; }
    InsidePane #inside-side { width: 1fr; min-width: 24; border-left: solid $primary-background; padding: 0 1; }
    """
    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+e", "next_example", "Next example"),
        Binding("ctrl+d", "defaults", "Lecture values"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trace: inside.Trace | None = None
        self.norms: list[float] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="inside-controls"):
            yield Select(EXAMPLES, value="lstm", allow_blank=False, id="inside-what", compact=True)
            yield Input(id="inside-input", compact=True,
                        tooltip="lecture: steps separated by spaces, values by commas; model: a sentence")
        yield Input(id="inside-weights", compact=True,
                    tooltip="the lecture's weights: rnn in=1 mem=1 out=1; lstm z=x1,x2,x3 and per gate "
                            "three weights then the bias")
        yield Static("", id="inside-status")
        with Horizontal(id="inside-body"):
            yield DataTable(id="inside-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="inside-side"):
                yield Static("", id="inside-detail")

    def on_mount(self) -> None:
        self.action_defaults()
        self.watch(self.app, "lm", lambda _: self._model_changed(), init=False)

    # -- fields -----------------------------------------------------------------------
    @property
    def what(self) -> str:
        value = self.query_one("#inside-what", Select).value
        return value if isinstance(value, str) else "lstm"

    def action_defaults(self) -> None:
        """The lecture's inputs and weights (or a sample sentence), and run."""
        what = self.what
        weights = self.query_one("#inside-weights", Input)
        if what in LECTURE_INPUTS:
            self.query_one("#inside-input", Input).value = steps_text(LECTURE_INPUTS[what])
            module = inside.lecture_lstm() if what == "lstm" else inside.lecture_rnn()
            weights.value = inside.weights_text(module)
        elif not self.query_one("#inside-input", Input).value.strip() or "," in self.query_one(
                "#inside-input", Input).value:
            self.query_one("#inside-input", Input).value = DEFAULT_SENTENCE
        weights.display = what in LECTURE_INPUTS  # a trained model's weights are not typed in
        self.action_run()

    def action_next_example(self) -> None:
        values = [v for _, v in EXAMPLES]
        self.query_one("#inside-what", Select).value = values[(values.index(self.what) + 1) % len(values)]

    @on(Select.Changed, "#inside-what")
    def _example_changed(self) -> None:
        self.action_defaults()

    @on(Input.Submitted, "#inside-input, #inside-weights")
    def _submitted(self) -> None:
        self.action_run()

    def _model_changed(self) -> None:
        if self.what not in LECTURE_INPUTS:
            self.action_run()

    # -- running ------------------------------------------------------------------------
    def action_run(self) -> None:
        """Recompute from the fields; a problem is one notification and the old table stays."""
        try:
            if self.what in LECTURE_INPUTS:
                self._run_lecture()
            else:
                self._run_model()
        except (ValueError, RnngenError) as exc:
            self.app.notify(str(exc), title="Cannot run", severity="error")

    def _run_lecture(self) -> None:
        what = self.what
        width = len(LECTURE_INPUTS[what][0])
        weights = self.query_one("#inside-weights", Input).value
        module = inside.lecture_lstm(weights) if what == "lstm" else inside.lecture_rnn(weights)
        inputs = inside.parse_inputs(self.query_one("#inside-input", Input).value, width)
        self.trace, self.norms = module.trace(inputs), []
        self._show_trace(full=True)
        self._status("↑/↓ step · edit the inputs or weights and press enter · ctrl+d the lecture's values")

    def _run_model(self) -> None:
        lm = getattr(self.app, "lm", None)
        if lm is None:
            self.trace, self.norms = None, []
            self.query_one("#inside-table", DataTable).clear(columns=True)
            self.query_one("#inside-detail", Static).update("")
            self._status("Load a model on the Models tab (5) or train one (2) first.")
            return
        words = lm.tokenize(self.query_one("#inside-input", Input).value)
        if not words:
            raise ValueError("type a sentence")
        ids = [lm.vocab.bos_id, *lm.vocab.encode(words)]
        if self.what == "states":
            self.trace = inside.trace_model(lm.module, ids)
            self.trace.labels = ["<s>", *words]
            self.norms = []
            self._show_trace(full=False)
            saturation = inside.saturation(self.trace)
            shut_open = " · ".join(f"{g} shut {100 * a:.0f}% open {100 * b:.0f}%" for g, (a, b) in saturation.items())
            self._status(f"{lm.model_config.rnn_type}, last layer, {lm.model_config.hidden} units · "
                         f"{shut_open or 'no gates'}")
        else:
            if len(ids) < 3:
                raise ValueError("type at least two words: the last word's loss is traced back")
            self.trace = None
            self.norms = inside.gradient_norms(lm.module, ids[:-1], ids[-1])
            self._show_gradients(["<s>", *words][:-1], words[-1])

    # -- showing ------------------------------------------------------------------------
    def _show_trace(self, full: bool) -> None:
        table = self.query_one("#inside-table", DataTable)
        table.clear(columns=True)
        assert self.trace is not None
        table.add_columns("step" if full else "word", *self.trace.values)
        for t, label in enumerate(self.trace.labels):
            if full:
                cells = [" ".join(short_number(v) for v in values) for values in self.trace.step(t).values()]
            else:
                cells = [f"{mean:+.2f}" for mean, _, _ in self.trace.summary(t).values()]
            table.add_row(Text(label), *cells, key=str(t))
        self._detail(0)

    def _show_gradients(self, inputs: list[str], last: str) -> None:
        table = self.query_one("#inside-table", DataTable)
        table.clear(columns=True)
        table.add_columns("steps back", "state after", "|gradient|")
        for back, (norm, word) in enumerate(zip(self.norms, reversed(inputs))):
            table.add_row(str(back), Text(word), f"{norm:.3e}", key=str(back))
        rate = inside.decay_rate(self.norms)
        self.query_one("#inside-detail", Static).update(
            f"d loss({last!r}) / d h at each earlier step\n\n"
            + (f"about ×{rate:.3f} per step back" if rate is not None else ""))
        self._status("↑/↓ read the table · the norm of the gradient of the last word's loss, back through time")

    @on(DataTable.RowHighlighted, "#inside-table")
    def _row(self, message: DataTable.RowHighlighted) -> None:
        if self.trace is not None and message.row_key.value is not None:
            self._detail(int(message.row_key.value))

    def _detail(self, t: int) -> None:
        """The selected step's values: every value of a lecture example, the most active units of a model."""
        assert self.trace is not None
        text = Text()
        text.append(f"{'step' if self.what in LECTURE_INPUTS else 'after'} {self.trace.labels[t]}\n", style="bold")
        lecture = self.what in LECTURE_INPUTS
        if lecture:
            for name, values in self.trace.step(t).items():
                text.append(f"{name}: ", style="dim")
                text.append(" ".join(short_number(v) for v in values) + "\n")
        else:
            for name, top in self.trace.top_units(t, TOP_UNITS).items():
                text.append(f"{name}\n", style="dim")
                text.append("  " + "  ".join(f"#{u} {v:+.2f}" for u, v in top) + "\n")
        self.query_one("#inside-detail", Static).update(text)

    def _status(self, message: str) -> None:
        self.query_one("#inside-status", Static).update(message)
