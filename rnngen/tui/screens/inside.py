"""The Inside tab: the lecture's worked examples step by step; a loaded model's units by words, gradients
through time, and its neurons over a corpus sample (select and match, cells that track a property, gates).

Every number comes from `rnngen.inside` (the same functions as `rnngen inspect`) and the model's own
scores: this pane turns the text of its fields into the engine's calls and shows what they return.
Work over a corpus sample runs in a thread, with a progress bar, and ctrl+x stops it.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, ProgressBar, Select, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from rnngen import inside
from rnngen.display import bars, short_number
from rnngen.errors import RnngenError
from rnngen.tui.widgets.unit_grid import UnitGrid

EXAMPLES: tuple[tuple[str, str], ...] = (
    ("lecture: LSTM memory cell", "lstm"),
    ("lecture: simple RNN", "rnn"),
    ("model: units by words", "states"),
    ("model: gradients in time", "gradients"),
    ("model: cells for a property", "cells"),
    ("model: gate saturation", "gates"),
)
LECTURE_INPUTS = {"lstm": inside.LECTURE_LSTM_INPUTS, "rnn": inside.LECTURE_RNN_INPUTS}
DEFAULT_SENTENCE = "the flights from boston to denver on monday morning are full ."
DEFAULT_PROPERTY = "position"
SAMPLE = 500  # corpus sentences read for match, cells and gates (as `rnngen inspect --sample`)
TOP_UNITS = 8  # units listed per quantity in the side panel for a trained model
PLACEHOLDERS = {"lstm": "steps: x1,x2,x3 …", "rnn": "steps: x1,x2 …", "states": "a sentence",
                "gradients": "a sentence: its last word's loss is traced back", "gates": "",
                "cells": "quotes, brackets, position or after:WORD"}


def steps_text(steps) -> str:
    return " ".join(",".join(f"{v:g}" for v in step) for step in steps)


class InsidePane(Vertical):
    """What the memory holds, when the gates open, how gradients flow back: a table or a heat map, a side panel."""

    DEFAULT_CSS = """
    InsidePane #inside-controls { height: 1; }
    InsidePane #inside-what { width: 31; }
    InsidePane #inside-input { width: 1fr; }
    InsidePane #inside-options { height: 1; }
    InsidePane #inside-weights { width: 1fr; }
    InsidePane #inside-quantity { width: 20; }
    InsidePane #inside-threshold { width: 16; }
    InsidePane #inside-status { height: auto; color: $text-muted; }
    InsidePane #inside-progress { height: 1; }
    InsidePane #inside-body { height: 1fr; }
    InsidePane #inside-main { width: 2fr; }
    InsidePane #inside-grid { height: 1fr; }
    InsidePane #inside-table { height: 1fr; }
    InsidePane #inside-side { width: 1fr; min-width: 24; border-left: solid $primary-background; padding: 0 1; }
    InsidePane #inside-plot { height: 12; }
    """
    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+e", "next_example", "Next example"),
        Binding("ctrl+d", "defaults", "Defaults"),
        Binding("ctrl+f", "match", "Match span"),
        Binding("ctrl+x", "stop", "Stop", priority=True),  # over a field's cut, only while a sample is read
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trace: inside.Trace | None = None
        self.norms: list[float] = []
        self.fresh_norms: list[float] = []
        self.words: list[str] = []  # the model views' sentence, tokenized
        self.probs: list[float | None] = []  # per heat-map column, P(word | the words before); None under <s>
        self.end_prob = 0.0  # P(</s> | the sentence)
        self.matches: list[inside.Match] = []
        self.sample: list[list[str]] = []  # the corpus sample the last match read
        self.result: Any = None  # the last cells or gates report
        self.running = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="inside-controls"):
            yield Select(EXAMPLES, value="lstm", allow_blank=False, id="inside-what", compact=True)
            yield Input(id="inside-input", compact=True,
                        tooltip="lecture: steps separated by spaces, values by commas; model: a sentence")
        with Horizontal(id="inside-options"):
            yield Input(id="inside-weights", compact=True,
                        tooltip="the lecture's weights: rnn in=1 mem=1 out=1; lstm z=x1,x2,x3 and per gate "
                                "three weights then the bias")
            yield Select([("hidden", "hidden")], value="hidden", allow_blank=False, id="inside-quantity",
                         compact=True, tooltip="the quantity the heat map shows and the match compares")
            yield Input("0.3", id="inside-threshold", compact=True, placeholder="on above",
                        tooltip="a unit is 'on' above this value (select and match)")
        yield Static("", id="inside-status")
        yield ProgressBar(id="inside-progress", show_eta=False)
        with Horizontal(id="inside-body"):
            with Vertical(id="inside-main"):
                yield UnitGrid(id="inside-grid")
                yield DataTable(id="inside-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="inside-side"):
                yield Static("", id="inside-detail")
                yield PlotextPlot(id="inside-plot")

    def on_mount(self) -> None:
        self.query_one("#inside-progress").display = False
        self.action_defaults()
        self.watch(self.app, "lm", lambda _: self._model_changed(), init=False)

    # -- fields -----------------------------------------------------------------------
    @property
    def what(self) -> str:
        value = self.query_one("#inside-what", Select).value
        return value if isinstance(value, str) else "lstm"

    @property
    def quantity(self) -> str:
        value = self.query_one("#inside-quantity", Select).value
        return value if isinstance(value, str) else "hidden"

    def action_defaults(self) -> None:
        """The lecture's inputs and weights, a sample sentence or property, and run."""
        what = self.what
        field = self.query_one("#inside-input", Input)
        if what in LECTURE_INPUTS:
            field.value = steps_text(LECTURE_INPUTS[what])
            module = inside.lecture_lstm() if what == "lstm" else inside.lecture_rnn()
            self.query_one("#inside-weights", Input).value = inside.weights_text(module)
        elif what == "cells":
            field.value = DEFAULT_PROPERTY
        elif not field.value.strip() or "," in field.value or field.value.split(":")[0] in inside.PROPERTIES:
            field.value = DEFAULT_SENTENCE
        field.placeholder = PLACEHOLDERS[what]
        field.display = what != "gates"
        self._show_controls()
        self.action_run()

    def _show_controls(self) -> None:
        """Each view shows the fields it reads: the weights for the lecture, quantity and threshold for units."""
        what = self.what
        self.query_one("#inside-weights").display = what in LECTURE_INPUTS
        for name in ("#inside-quantity", "#inside-threshold"):
            self.query_one(name).display = what == "states"
        self.query_one("#inside-options").display = what in LECTURE_INPUTS or what == "states"
        self.query_one("#inside-grid").display = what == "states"
        self.query_one("#inside-table").display = what != "states" or bool(self.matches)
        self.query_one("#inside-plot").display = what == "gradients"

    def action_next_example(self) -> None:
        values = [v for _, v in EXAMPLES]
        self.query_one("#inside-what", Select).value = values[(values.index(self.what) + 1) % len(values)]

    @on(Select.Changed, "#inside-what")
    def _example_changed(self) -> None:
        self.action_stop()
        self.matches = []
        self.action_defaults()

    @on(Select.Changed, "#inside-quantity")
    def _quantity_changed(self) -> None:
        if self.what == "states" and self.trace is not None:
            self._show_grid()

    @on(Input.Submitted, "#inside-input, #inside-weights, #inside-threshold")
    def _submitted(self) -> None:
        self.action_run()

    def _model_changed(self) -> None:
        if self.what not in LECTURE_INPUTS:
            self.action_stop()
            self.matches = []
            self.action_run()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.running
        if action == "match":
            return self.what == "states" and self.trace is not None and not self.running
        return True

    # -- running ------------------------------------------------------------------------
    def action_run(self) -> None:
        """Recompute from the fields; a problem is one notification and the old view stays."""
        try:
            if self.what in LECTURE_INPUTS:
                self._run_lecture()
            elif self._model() is not None:
                {"states": self._run_states, "gradients": self._run_gradients, "cells": self._run_cells,
                 "gates": self._run_gates}[self.what]()
        except (ValueError, RnngenError) as exc:
            self.app.notify(str(exc), title="Cannot run", severity="error")
        self._show_controls()
        self.refresh_bindings()

    def _run_lecture(self) -> None:
        what = self.what
        width = len(LECTURE_INPUTS[what][0])
        weights = self.query_one("#inside-weights", Input).value
        module = inside.lecture_lstm(weights) if what == "lstm" else inside.lecture_rnn(weights)
        inputs = inside.parse_inputs(self.query_one("#inside-input", Input).value, width)
        self.trace, self.norms = module.trace(inputs), []
        self._show_trace()
        self._status("↑/↓ step · edit the inputs or weights and press enter · ctrl+d the lecture's values")

    def _model(self):
        """The loaded model, or None after saying where to get one (and clearing the views)."""
        lm = getattr(self.app, "lm", None)
        network = getattr(lm, "module", None) is not None  # an n-gram (or a mixture) has no units to show
        if not network:
            self.trace, self.norms, self.matches = None, [], []
            self.query_one("#inside-table", DataTable).clear(columns=True)
            self.query_one("#inside-grid", UnitGrid).show([], [], [], [], True)
            self.query_one("#inside-detail", Static).update("")
            self._status("Load a model on the Models tab (5) or train one (2) first." if lm is None else
                         f"{lm.name} has no network to look inside: load an RNN model on the Models tab (5).")
        return lm if network else None

    def _sentence(self, lm) -> list[int]:
        self.words = lm.tokenize(self.query_one("#inside-input", Input).value)
        if not self.words:
            raise ValueError("type a sentence")
        return [lm.vocab.bos_id, *lm.vocab.encode(self.words)]

    def _run_states(self) -> None:
        lm = self.app.lm
        ids = self._sentence(lm)
        self.trace = inside.trace_model(lm.module, ids)
        self.trace.labels = ["<s>", *self.words]
        scored = lm.score_tokens([self.words])[0].tokens  # P(word | the words before), and P(</s>)
        self.probs = [None, *(t.prob for t in scored[:-1])]
        self.end_prob = scored[-1].prob
        quantities = list(self.trace.values)
        select = self.query_one("#inside-quantity", Select)
        keep = self.quantity if self.quantity in quantities else "hidden"
        with self.prevent(Select.Changed):
            select.set_options([(q, q) for q in quantities])
            select.value = keep
        self._show_grid()
        saturation = inside.saturation(self.trace)
        shut_open = " · ".join(f"{g.split()[0]} shut {100 * a:.0f}% open {100 * b:.0f}%"
                               for g, (a, b) in saturation.items())
        self._status(f"{lm.model_config.rnn_type}, last layer, {lm.model_config.hidden} units, most changing first"
                     f" · {shut_open or 'no gates'} · shift+←/→ a span, ctrl+f match it in the corpus")

    def _run_gradients(self) -> None:
        lm = self.app.lm
        ids = self._sentence(lm)
        if len(ids) < 3:
            raise ValueError("type at least two words: the last word's loss is traced back")
        self.trace = None
        self.norms = inside.gradient_norms(lm.module, ids[:-1], ids[-1])
        self.fresh_norms = inside.gradient_norms(inside.untrained_like(lm.module), ids[:-1], ids[-1])
        self._show_gradients(["<s>", *self.words][:-1], self.words[-1])

    # -- a corpus sample, in a thread -----------------------------------------------------
    def _sample_name(self, lm) -> str:
        """The model's own corpus (its validation split), or the Corpus tab's when the model names none."""
        return lm.corpus_spec or getattr(self.app, "corpus_spec", "")

    def _run_cells(self) -> None:
        lm = self.app.lm
        prop = inside.parse_property(self.query_one("#inside-input", Input).value.strip())
        self._start_sample(lm, "cells", prop)

    def _run_gates(self) -> None:
        lm = self.app.lm
        if lm.model_config.rnn_type not in inside.GATE_NAMES:
            raise ValueError(f"a {lm.model_config.rnn_type} layer has no gates: see its hidden units under "
                             "'model: units by words'")
        self._start_sample(lm, "gates", None)

    def action_match(self) -> None:
        """LSTMVis' select and match: the units on across the selected span, found together in the corpus."""
        if self.trace is None or self.what != "states":
            return
        try:
            threshold = float(self.query_one("#inside-threshold", Input).value)
        except ValueError:
            self.app.notify("the threshold must be a number, e.g. 0.3", title="Cannot match", severity="error")
            return
        grid = self.query_one("#inside-grid", UnitGrid)
        start, end = grid.span
        start, end = max(start, 1) - 1, max(end - 1, 1)  # the grid's column 0 is <s>; words count from 0
        values = self.trace.values[self.quantity][1:]
        units = inside.select_units(values, start, end, threshold)
        if not bool(units.any()):
            self.app.notify(f"no unit is above {threshold:g} at every word of {' '.join(self.words[start:end])!r}; "
                            "try a lower threshold or a shorter span", title="Nothing selected", severity="warning")
            return
        self._start_sample(self.app.lm, "match", (units, threshold, end - start, self.quantity))

    def _start_sample(self, lm, job: str, argument: Any) -> None:
        self.running = True
        if job != "match":  # the table will hold this job's report; what it showed belongs to another view
            self._table()
            self.query_one("#inside-detail", Static).update("")
        bar = self.query_one("#inside-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self._status(f"reading up to {SAMPLE} sentences of {self._sample_name(lm)} (valid) · ctrl+x stops")
        self.refresh_bindings()
        self._sample_worker(lm, job, argument)

    @work(thread=True, exclusive=True, group="inside-sample")
    def _sample_worker(self, lm, job: str, argument: Any) -> None:
        worker = get_current_worker()
        cancelled = lambda: worker.is_cancelled  # noqa: E731
        progress = lambda done, total: self.app.call_from_thread(self._progress, done, total)  # noqa: E731
        try:
            sentences = lm.held_out(self._sample_name(lm), "valid").sentences[:SAMPLE]
            if job == "match":
                units, threshold, length, quantity = argument
                states = inside.states_of(lm.module, lm.vocab, sentences, quantity, -1, SAMPLE, progress, cancelled)
                result = (sentences, inside.match(units, states, sentences, threshold, length, top=50), units)
            elif job == "cells":
                name, word = argument
                quantity = "cell" if lm.model_config.rnn_type == "lstm" else "hidden"
                states = inside.states_of(lm.module, lm.vocab, sentences, quantity, -1, SAMPLE, progress, cancelled)
                result = (quantity, len(states), inside.correlated_units(states, sentences, name, word, top=20))
            else:
                result = (len(sentences), inside.gate_saturation(lm.module, lm.vocab, sentences, -1, SAMPLE,
                                                                  progress=progress, cancelled=cancelled))
        except (ValueError, RnngenError, OSError) as exc:
            self.app.call_from_thread(self._sample_failed, str(exc))
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._sample_done, job, result)

    def _progress(self, done: int, total: int) -> None:
        self.query_one("#inside-progress", ProgressBar).update(total=total, progress=done)

    def _end_sample(self) -> None:
        self.running = False
        self.query_one("#inside-progress").display = False
        self.refresh_bindings()

    def _sample_failed(self, message: str) -> None:
        self._end_sample()
        self.app.notify(message, title="Cannot read the sample", severity="error")

    def action_stop(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "inside-sample")
            self._end_sample()
            self._status("stopped: nothing read is shown")

    def _sample_done(self, job: str, result: Any) -> None:
        self._end_sample()
        if job == "match":
            self.sample, self.matches, units = result
            self._show_matches(int(units.sum()))
        elif job == "cells":
            self.result = result
            self._show_cells(*result)
        else:
            self.result = result
            self._show_gates(*result)
        self._show_controls()

    # -- showing ------------------------------------------------------------------------
    def _table(self, *columns: str) -> DataTable:
        table = self.query_one("#inside-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        return table

    def _show_trace(self) -> None:
        assert self.trace is not None
        table = self._table("step", *self.trace.values)
        for t, label in enumerate(self.trace.labels):
            cells = [" ".join(short_number(v) for v in values) for values in self.trace.step(t).values()]
            table.add_row(Text(label), *cells, key=str(t))
        self._detail(0)

    def _show_grid(self) -> None:
        assert self.trace is not None
        values = self.trace.values[self.quantity]
        grid = self.query_one("#inside-grid", UnitGrid)
        grid.show(self.trace.labels, self.probs, values.tolist(), inside.units_by_variation(values),
                  signed=not inside.is_gate(self.quantity))

    def _show_gradients(self, inputs: list[str], last: str) -> None:
        table = self._table("steps back", "state after", "|gradient|", "untrained")
        for back, word in enumerate(reversed(inputs)):
            table.add_row(str(back), Text(word), f"{self.norms[back]:.3e}", f"{self.fresh_norms[back]:.3e}",
                          key=str(back))
        rate, fresh = inside.decay_rate(self.norms), inside.decay_rate(self.fresh_norms)
        lines = [f"d loss({last!r}) / d h at each earlier step", ""]
        if rate is not None and fresh is not None:
            lines += [f"this model: ×{rate:.3f} per step back", f"untrained: ×{fresh:.3f} per step back"]
        self.query_one("#inside-detail", Static).update(Text("\n".join(lines)))
        plot = self.query_one("#inside-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("|gradient| by steps back (log)")
        distance = list(range(len(self.norms)))
        # log10 drawn on a linear axis: plotext's own log scale takes the log again on a second render
        exponents: list[float] = []
        for norms, colour, label in ((self.norms, "cyan", "model"), (self.fresh_norms, "orange", "untrained")):
            points = [(d, math.log10(n)) for d, n in zip(distance, norms) if n > 0]
            if points:
                plt.plot([d for d, _ in points], [y for _, y in points], marker="braille", color=colour, label=label)
                exponents += [y for _, y in points]
        if exponents:
            ticks = list(range(math.floor(min(exponents)), math.ceil(max(exponents)) + 1))
            plt.yticks(ticks, [f"1e{t}" for t in ticks])
        plot.refresh()
        self._status(f"{self.app.lm.model_config.rnn_type}: the norm of the gradient of the last word's loss, back "
                     "through time, beside an untrained model of the same shape")

    def _show_matches(self, selected: int) -> None:
        table = self._table("overlap", "sentence", "words")
        for n, m in enumerate(self.matches):
            context = self.sample[m.sentence]
            before = " ".join(context[max(0, m.start - 3):m.start])
            after = " ".join(context[m.start + m.length:m.start + m.length + 3])
            table.add_row(f"{m.overlap:.2f}", str(m.sentence + 1),
                          Text(f"{before} [{' '.join(m.words)}] {after}".strip()), key=str(n))
        self._status(f"{selected} unit(s) on across the span: {len(self.matches)} place(s) in {len(self.sample)} "
                     "sentences, by overlap · enter opens one")

    def _show_cells(self, quantity: str, read: int, units: list[tuple[int, float]]) -> None:
        table = self._table("unit", "Pearson r")
        for unit, r in units:
            table.add_row(f"#{unit}", f"{r:+.3f}")
        prop = self.query_one("#inside-input", Input).value.strip()
        self.query_one("#inside-detail", Static).update(Text(
            f"the {quantity} units whose value follows '{prop}' most closely, over every word of {read} sentences"))
        self._status(f"{quantity} units by correlation with {prop} · {read} sentences read")

    def _show_gates(self, read: int, report: dict) -> None:
        table = self._table("gate", "shut", "open", "histogram 0 → 1")
        for gate, figures in report.items():
            table.add_row(gate, f"{100 * figures['shut']:.1f}%", f"{100 * figures['open']:.1f}%",
                          bars(figures["histogram"]))
        self.query_one("#inside-detail", Static).update(Text(
            "shut: below 0.1, open: above 0.9; the histogram counts the values in tenths of 0 to 1, scaled to its "
            "fullest tenth"))
        self._status(f"gate values over {read} sentences of {self._sample_name(self.app.lm)} (valid)")

    @on(DataTable.RowHighlighted, "#inside-table")
    def _row(self, message: DataTable.RowHighlighted) -> None:
        if self.what in LECTURE_INPUTS and self.trace is not None and message.row_key.value is not None:
            self._detail(int(message.row_key.value))

    @on(DataTable.RowSelected, "#inside-table")
    def _open_match(self, message: DataTable.RowSelected) -> None:
        """Enter on a match shows its sentence in the heat map, the matched words as the span."""
        if self.what != "states" or not self.matches or message.row_key.value is None:
            return
        m = self.matches[int(message.row_key.value)]
        self.query_one("#inside-input", Input).value = " ".join(self.sample[m.sentence])
        self.action_run()
        grid = self.query_one("#inside-grid", UnitGrid)
        grid.anchor, grid.column = m.start + 1, m.start + m.length
        grid.focus()

    @on(UnitGrid.Selected, "#inside-grid")
    def _grid_moved(self, message: UnitGrid.Selected) -> None:
        if self.trace is not None and self.what == "states" and message.grid.labels:
            self._detail(message.grid.column, message.grid.unit)

    def _detail(self, t: int, unit: int | None = None) -> None:
        """The selected step's values: every value of a lecture example; for a model, the word's probability,
        the selected unit and the most active units of each quantity."""
        assert self.trace is not None
        text = Text()
        if self.what in LECTURE_INPUTS:
            text.append(f"step {self.trace.labels[t]}\n", style="bold")
            for name, values in self.trace.step(t).items():
                text.append(f"{name}: ", style="dim")
                text.append(" ".join(short_number(v) for v in values) + "\n")
        else:
            text.append(f"after {self.trace.labels[t]!r}\n", style="bold")
            if self.probs[t] is not None:
                text.append(f"P(word) {self.probs[t]:.4g}\n")
            upcoming = self.probs[t + 1] if t + 1 < len(self.probs) else self.end_prob
            following = self.trace.labels[t + 1] if t + 1 < len(self.trace.labels) else "</s>"
            text.append(f"P(next {following!r}) {upcoming:.4g}\n")
            if unit is not None:
                text.append(f"{self.quantity} #{unit}: {float(self.trace.values[self.quantity][t, unit]):+.3f}\n")
            for name, top in self.trace.top_units(t, TOP_UNITS).items():
                text.append(f"{name}\n", style="dim")
                text.append("  " + "  ".join(f"#{u} {v:+.2f}" for u, v in top) + "\n")
        self.query_one("#inside-detail", Static).update(text)

    def _status(self, message: str) -> None:
        self.query_one("#inside-status", Static).update(message)
