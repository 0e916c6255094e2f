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

    def rows(self) -> list[tuple[str, Any, Any, bool]]:
        """Summary rows, then every setting of either model."""
        a, b = self.a, self.b
        summary = [("best valid ppl", fmt_ppl(a.get("best_valid_ppl")), fmt_ppl(b.get("best_valid_ppl"))),
                   ("corpus", a.get("corpus", ""), b.get("corpus", "")),
                   ("epochs", a.get("epochs", ""), b.get("epochs", ""))]
        rows = [(k, va, vb, str(va) != str(vb)) for k, va, vb in summary]
        try:
            return rows + catalog.differing(catalog.settings(a["path"]), catalog.settings(b["path"]))
        except RnngenError as exc:  # changed on disk since it was listed
            self.app.notify(str(exc), title="Compare", severity="error")
            return rows

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "setting", visible(self.a["name"]), visible(self.b["name"]))
        for key, va, vb, differs in self.rows():
            style = "bold yellow" if differs else ""
            table.add_row(Text(DIFFERS if differs else "", style=style), Text(key, style=style),
                          Text(visible(str(va)), style=style), Text(visible(str(vb)), style=style))
        plt = self.query_one(PlotextPlot).plt
        plt.title("valid perplexity per epoch")
        plt.xlabel("epoch")
        for row, color in ((self.a, "cyan"), (self.b, "orange")):
            try:
                records = catalog.epochs(row["path"])
            except RnngenError:
                records = []
            pairs = [(e.get("epoch", i + 1), e.get("valid_ppl")) for i, e in enumerate(records)]
            pairs = [(x, y) for x, y in pairs if isinstance(y, (int, float))]
            if pairs:
                plt.plot([x for x, _ in pairs], [y for _, y in pairs], marker="braille", color=color,
                         label=row["name"])
