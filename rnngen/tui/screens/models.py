"""The Models tab: the checkpoints on disk; load, rename, delete, and compare two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.validation import Function
from textual.widgets import DataTable, Static

from rnngen import checkpoint
from rnngen.display import fmt_ppl, visible
from rnngen.errors import RnngenError

# (key, header) per column; below WIDE_AT columns the table drops params (the detail shows them) and
# shortens headers and dates, so that every other column fits 80 columns without scrolling sideways
WIDE = (("mark", ""), ("name", "name"), ("type", "type"), ("size", "layers×hidden"), ("corpus", "corpus"),
        ("ppl", "valid ppl"), ("vocab", "vocab"), ("params", "params"), ("epochs", "epochs"), ("date", "date"))
NARROW = (("mark", ""), ("name", "name"), ("type", "type"), ("size", "L×H"), ("corpus", "corpus"), ("ppl", "ppl"),
          ("vocab", "vocab"), ("epochs", "epochs"), ("date", "date"))
WIDE_AT = 100


def columns_for(width: int) -> tuple[tuple[str, str], ...]:
    return WIDE if width >= WIDE_AT else NARROW


def cells(row: dict[str, Any], keys: list[str], mark: str, wide: bool) -> list[Text]:
    """One table row's cells for these columns (mark: ✓ marked for compare, ▶ loaded).

    Every cell is a Text, never a str, which DataTable would read as markup: a name or corpus from disk
    is shown as it is. An unreadable model says so in its type column.
    """
    if row.get("error"):
        values = {"mark": Text(mark), "name": Text(visible(row["name"])), "type": Text("unreadable", style="red")}
        return [values.get(k, Text("")) for k in keys]
    text, right = (lambda v: Text(visible(str(v)))), (lambda v: Text(v, justify="right"))
    values = {"mark": text(mark), "name": text(row["name"]), "type": text(row["type"]),
              "size": text(row["size"].replace("x", "×")), "corpus": text(row["corpus"]),
              "ppl": right(fmt_ppl(row["best_valid_ppl"])), "vocab": right(f"{row['vocab']:,}"),
              "params": right(f"{row['parameters']:,}"), "epochs": right(str(row["epochs"])),
              "date": text(row["date"] if wide else row["date"][5:])}
    return [values[k] for k in keys]


class ModelsPane(Vertical):
    """A table of checkpoints and the details of the highlighted one."""

    BINDINGS = [
        Binding("l", "load", "Load"),  # enter works too (the table's row selection)
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("m", "mix", "Mix"),
        Binding("f5", "refresh", "Refresh", show=False),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.rows: list[dict[str, Any]] = []
        self.marked: list[str] = []
        self.columns: tuple[tuple[str, str], ...] = ()

    def compose(self) -> ComposeResult:
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="model-detail")

    def on_mount(self) -> None:
        self.refresh_rows()

    def on_resize(self) -> None:
        if columns_for(self.app.size.width) != self.columns:
            self.refresh_rows()
        self.watch(self.app, "lm", lambda _: self.refresh_rows(), init=False)

    def action_refresh(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        app: Any = self.app
        table = self.query_one(DataTable)
        keep = self.current()
        self.rows = app.checkpoint_rows()
        self.marked = [p for p in self.marked if any(r["path"] == p for r in self.rows)]
        self.columns = columns_for(app.size.width)
        wide = self.columns is WIDE
        table.clear(columns=True)
        table.add_columns(*(header for _, header in self.columns))
        keys = [key for key, _ in self.columns]
        loaded = Path(app.lm.path).absolute() if app.lm is not None and app.lm.path else None
        for r in self.rows:
            mark = ("✓" if r["path"] in self.marked else "") + ("▶" if Path(r["path"]).absolute() == loaded else "")
            table.add_row(*cells(r, keys, mark, wide), key=r["path"])
        if keep is not None:
            for i, r in enumerate(self.rows):
                if r["path"] == keep["path"]:
                    table.move_cursor(row=i)
        self._show_detail()
        if not self.rows:
            self.query_one("#model-detail", Static).update(
                f"No models in {app.checkpoints} yet: train one on the Train tab (2).")

    def current(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        row = self.current()
        detail = self.query_one("#model-detail", Static)
        if row is None:
            detail.update("")
            return
        if row.get("error"):
            detail.update(Text.assemble((row["name"], "bold"), " cannot be read: ", (row["error"], "red")))
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("path", row["path"])
        grid.add_row("model", f"{row['type']} Kneser-Ney, {row['parameters']:,} n-grams" if row["size"] == "KN" else
                     f"{row['type']}, {row['layers']} layer(s), emb {row['emb']}, hidden {row['hidden']}"
                              f"{', tied' if row.get('tied') else ''}, {row['parameters']:,} parameters")
        grid.add_row("trained", f"{row['epochs']} epoch(s) on {row['corpus'] or '?'}, best valid ppl "
                                f"{fmt_ppl(row['best_valid_ppl'])}")
        detail.update(grid)

    # -- actions -----------------------------------------------------------------------
    @on(DataTable.RowSelected)
    def action_load(self) -> None:
        row = self.current()
        if row is None:
            return
        if row.get("error"):
            self.app.notify(row["error"], title=f"Cannot load {row['name']}", severity="error", timeout=8)
            return
        self.app.load_model(row["path"])  # type: ignore[attr-defined]

    def action_mix(self) -> None:
        """Interpolate the loaded RNN with the selected n-gram (the CLI's --ngram, λ tuned on valid)."""
        row = self.current()
        if row is None:
            return
        rnn = getattr(self.app.lm, "rnn", self.app.lm)  # type: ignore[attr-defined]
        if row.get("size") != "KN":
            self.app.notify("Select an n-gram model (`rnngen ngram train`) to mix with the loaded RNN.",
                            title="Mix", severity="warning")
        elif rnn is None or getattr(rnn, "module", None) is None:
            self.app.notify("Load an RNN model first (l), then mix an n-gram into it (m).", title="Mix",
                            severity="warning")
        else:
            self.app.notify(f"Tuning λ for {rnn.name} + {row['name']} on the validation split…", title="Mix")
            self.app.mix_model(row["path"])  # type: ignore[attr-defined]

    def action_rename(self) -> None:
        row = self.current()
        if row is None:
            return
        from rnngen.tui.screens.dialogs import PromptScreen

        folder = Path(row["path"])
        taken = {r["name"] for r in self.rows}

        def check(value: str) -> bool:  # the engine's name rule (checkpoint.name_problem), and not taken
            value = value.strip()
            return checkpoint.name_problem(value) is None and (value not in taken or value == row["name"])

        def answered(name: str | None) -> None:
            if not name or name == row["name"]:
                return
            try:
                target = checkpoint.rename(folder, name)
            except (RnngenError, OSError) as exc:
                self.app.notify(str(exc), title="Cannot rename", severity="error", timeout=8)
                return
            app: Any = self.app
            if app.lm is not None and app.lm.path is not None and Path(app.lm.path).absolute() == Path(folder).absolute():
                app.lm.path = target
                app.mutate_reactive(type(app).lm)
            self.marked = [str(target) if p == str(folder) else p for p in self.marked]
            self.refresh_rows()
            self._select(str(target))
            app.notify(f"Renamed {row['name']} to {name}.", title="Models")

        validator = Function(check, "a new name: no '/', not starting with '.', not taken")
        self.app.push_screen(PromptScreen(f"New name for {row['name']}:", row["name"], [validator]), answered)

    def action_delete(self) -> None:
        row = self.current()
        if row is None:
            return
        from rnngen.tui.screens.dialogs import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            app: Any = self.app
            folder = Path(row["path"])
            try:
                checkpoint.delete(folder)  # readable or not; it refuses what is not an rnngen model
            except (RnngenError, OSError) as exc:
                app.notify(str(exc), title="Cannot delete", severity="error", timeout=8)
                return
            if app.lm is not None and app.lm.path is not None and Path(app.lm.path).absolute() == Path(folder).absolute():
                app.lm = None
            self.refresh_rows()
            app.notify(f"Deleted {row['name']}.", title="Models")

        what = "the unreadable folder" if row.get("error") else "the model"
        self.app.push_screen(ConfirmScreen(f"Delete {what} {row['name']}?\n{row['path']}", "Delete"), answered)

    def action_mark(self) -> None:
        row = self.current()
        if row is None or row.get("error"):
            return
        if row["path"] in self.marked:
            self.marked.remove(row["path"])
        else:
            self.marked = (self.marked + [row["path"]])[-2:]
        self.refresh_rows()

    def action_compare(self) -> None:
        chosen = list(self.marked)
        row = self.current()
        if len(chosen) < 2 and row is not None and not row.get("error") and row["path"] not in chosen:
            chosen.append(row["path"])
        if len(chosen) < 2:
            self.app.notify("Mark two models with space, then press c.", title="Compare", severity="warning")
            return
        by_path = {r["path"]: r for r in self.rows}
        from rnngen.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(by_path[chosen[0]], by_path[chosen[1]]))

    def _select(self, path: str) -> None:
        for i, r in enumerate(self.rows):
            if r["path"] == path:
                self.query_one(DataTable).move_cursor(row=i)
