"""`rnngen models`: the trained models under checkpoints/."""

from __future__ import annotations

import argparse
import json

from rnngen.cli._common import emit, fmt_ppl, out


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
    from rich.table import Table

    table = Table()
    for name in ("name", "type", "size", "vocab", "params", "corpus", "best ppl", "date"):
        table.add_column(name, justify="right" if name in ("vocab", "params", "best ppl") else "left",
                         no_wrap=name in ("size", "date", "type"))
    for r in rows:
        if r.get("error"):
            table.add_row(r["name"], "[red]unreadable[/]", r["error"], "", "", "", "", "")
            continue
        table.add_row(r["name"], r["type"], f"{r['layers']}x{r['hidden']}", f"{r['vocab']:,}", f"{r['parameters']:,}",
                      r["corpus"], fmt_ppl(r["best_valid_ppl"]), r["date"])
    out.print(table)
    return 0
