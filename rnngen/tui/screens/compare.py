"""Two models side by side: their settings and their validation perplexity per epoch."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label
from textual_plotext import PlotextPlot

from rnngen import catalog
from rnngen.display import fmt_ppl, visible
from rnngen.errors import RnngenError

DIFFERS = "≠"


class CompareScreen(ModalScreen[None]):
    """Settings table beside (below, when narrow) a plot of both histories.

    The first two columns (a ≠ where the models differ, and the setting's name) stay in place when the
    table scrolls sideways, so a value is never shown without the name of what it is.
    """

    BINDINGS = [Binding("escape,q,c", "dismiss", "Close")]

    def __init__(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        super().__init__()
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-body"):
            yield Label(f"Comparing {visible(self.a['name'])} and {visible(self.b['name'])}  "
                        f"({DIFFERS} marks what differs; escape closes)", classes="section", markup=False)
            with Horizontal(id="compare-row"):
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True, fixed_columns=2)
                yield PlotextPlot(id="compare-plot")

    def read(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A model's settings and epochs, read once; empty (and said) if it changed on disk since listed."""
        try:
            return catalog.details(row["path"])
        except RnngenError as exc:
            self.app.notify(str(exc), title="Compare", severity="error")
            return {}, []

    def rows(self, sa: dict[str, Any], sb: dict[str, Any]) -> list[tuple[str, Any, Any, bool]]:
        """Summary rows, then every setting of either model."""
        a, b = self.a, self.b
        summary = [("best valid ppl", fmt_ppl(a.get("best_valid_ppl")), fmt_ppl(b.get("best_valid_ppl"))),
                   ("corpus", a.get("corpus", ""), b.get("corpus", "")),
                   ("epochs", a.get("epochs", ""), b.get("epochs", ""))]
        return [(k, va, vb, str(va) != str(vb)) for k, va, vb in summary] + catalog.differing(sa, sb)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "setting", visible(self.a["name"]), visible(self.b["name"]))
        (sa, epochs_a), (sb, epochs_b) = self.read(self.a), self.read(self.b)
        for key, va, vb, differs in self.rows(sa, sb):
            style = "bold yellow" if differs else ""
            table.add_row(Text(DIFFERS if differs else "", style=style), Text(key, style=style),
                          Text(visible(str(va)), style=style), Text(visible(str(vb)), style=style))
        plt = self.query_one(PlotextPlot).plt
        plt.title("valid perplexity per epoch")
        plt.xlabel("epoch")
        for row, records, color in ((self.a, epochs_a, "cyan"), (self.b, epochs_b, "orange")):
            if records:  # checked records: an int epoch and a number valid_ppl each
                plt.plot([e["epoch"] for e in records], [e["valid_ppl"] for e in records], marker="braille",
                         color=color, label=row["name"])
