"""`rnngen models`: the trained models under checkpoints/."""

from __future__ import annotations

import argparse
import json

from rnngen.cli._common import emit, fmt_ppl, out
from rnngen.cli._display import safe


def register(sub) -> None:
    p = sub.add_parser("models", help="list trained models",
                       description="List the models in the checkpoints folder ($RNNGEN_CHECKPOINTS or ./checkpoints).")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.catalog import model_rows

    rows = model_rows()
    if args.json:
        for row in rows:
            emit(json.dumps(row))
        return 0
    if not rows:
        out.print("no models yet: train one with `rnngen train travel --out demo`")
        return 0
    readable = [r for r in rows if not r.get("error")]
    if readable:
        out.print(_table(readable, out.width))
    for r in rows:
        if r.get("error"):  # on its own line, whole: the reason is what the user needs to read
            out.print(f"[bold]{safe(r['name'])}[/]  [red]unreadable:[/] {safe(r['error'])}", soft_wrap=False)
    return 0


COLUMNS = ("name", "type", "size", "vocab", "params", "corpus", "best ppl", "date")
OPTIONAL = ("date", "params", "corpus")  # dropped in this order when the terminal is too narrow for them


def _cells(r: dict) -> dict[str, str]:
    return {"name": safe(r["name"]), "type": safe(str(r["type"])), "size": r["size"],
            "vocab": f"{r['vocab']:,}", "params": f"{r['parameters']:,}", "corpus": safe(str(r["corpus"])),
            "best ppl": fmt_ppl(r["best_valid_ppl"]), "date": r["date"]}


def _table(rows: list[dict], width: int):
    """The models as a table that fits `width`: names are never cut, less needed columns go first."""
    from rich.cells import cell_len
    from rich.markup import render
    from rich.table import Table

    cells = [_cells(r) for r in rows]

    def need(column: str) -> int:  # the column's widest cell, with rich's padding and border
        return max(cell_len(render(c[column]).plain) for c in cells + [{column: column}]) + 3

    columns = list(COLUMNS)
    for column in OPTIONAL:
        if sum(need(c) for c in columns) + 1 <= width:
            break
        columns.remove(column)
    table = Table()
    for name in columns:
        table.add_column(name, justify="right" if name in ("vocab", "params", "best ppl") else "left",
                         no_wrap=name != "corpus", min_width=need(name) - 3 if name == "name" else None)
    for c in cells:
        table.add_row(*(c[name] for name in columns))
    return table
