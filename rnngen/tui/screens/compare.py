"""Two models side by side: their settings and their validation perplexity per epoch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label
from textual_plotext import PlotextPlot

from rnngen.tui.screens.models import fmt_ppl, history_of


def settings_of(path: str) -> dict[str, Any]:
    """Flat 'model.x' / 'train.y' settings from config.json."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    flat: dict[str, Any] = {}
    for section in ("model", "train"):
        for key, value in (config.get(section) or {}).items():
            flat[f"{section}.{key}"] = value
    flat["parameters"] = config.get("parameters", "")
    return flat


class CompareScreen(ModalScreen[None]):
    """Settings table (differences highlighted) beside a plot of both histories."""

    BINDINGS = [Binding("escape,q,c", "dismiss", "Close")]

    def __init__(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        super().__init__()
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-body"):
            yield Label(f"Comparing {self.a['name']} and {self.b['name']}  (escape closes)", classes="section")
            with Horizontal():
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
                yield PlotextPlot(id="compare-plot")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("setting", self.a["name"], self.b["name"])
        table.add_row("best valid ppl", fmt_ppl(self.a.get("best_valid_ppl")), fmt_ppl(self.b.get("best_valid_ppl")))
        table.add_row("corpus", self.a.get("corpus", ""), self.b.get("corpus", ""))
        table.add_row("epochs", str(self.a.get("epochs", "")), str(self.b.get("epochs", "")))
        sa, sb = settings_of(self.a["path"]), settings_of(self.b["path"])
        for key in sorted(set(sa) | set(sb), key=lambda k: (not k.startswith("model"), k)):
            va, vb = str(sa.get(key, "")), str(sb.get(key, ""))
            style = "bold yellow" if va != vb else ""
            table.add_row(Text(key, style=style), Text(va, style=style), Text(vb, style=style))
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.title("valid perplexity per epoch")
        plt.xlabel("epoch")
        for row, color in ((self.a, "cyan"), (self.b, "orange")):
            epochs = history_of(row["path"])
            xs = [e.get("epoch", i + 1) for i, e in enumerate(epochs)]
            ys = [e.get("valid_ppl") for e in epochs]
            pairs = [(x, y) for x, y in zip(xs, ys) if isinstance(y, (int, float))]
            if pairs:
                plt.plot([x for x, _ in pairs], [y for _, y in pairs], marker="braille", color=color,
                         label=row["name"])
