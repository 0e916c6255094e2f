"""`rnngen bench`: the benchmark suite with a live status line and a results table."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnngen.cli._common import add_threads_flag, err, out


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="measure training, scoring and generation speed and quality",
        description="Run the benchmark suite on the fixed wt2-mini split: matmul roofline, training throughput "
                    "against the plain PyTorch recipe, perplexity after a wall-clock budget (reference and best "
                    "configuration), a Kneser-Ney baseline, scoring and generation speed, memory and start-up time.")
    p.add_argument("--quick", action="store_true", help="a short run for development (under a minute)")
    p.add_argument("--minutes", type=float, default=None, metavar="M",
                   help="training budget per configuration (default 6; --quick: 0.1)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every figure as JSON here")
    p.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                   help="benchmark split folder with train/valid/test.txt (default ../shared/corpora/bench/wt2-mini)")
    add_threads_flag(p)
    p.add_argument("--turn-seconds", type=float, default=None, metavar="S",
                   help="the reference and best budget runs take turns this long on the machine, each timed by its "
                        "own clock (default 10; 0: one after the other)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rnngen.bench.report import write_json
    from rnngen.bench.suite import DEFAULT_CORPUS, BenchSettings, run_suite
    from rnngen.errors import ConfigError

    corpus = args.corpus or DEFAULT_CORPUS
    settings = BenchSettings.quick_settings(corpus) if args.quick else BenchSettings(corpus=corpus)
    if args.minutes is not None:
        if args.minutes <= 0:
            raise ConfigError(f"--minutes must be positive, got {args.minutes}")
        settings = replace(settings, minutes=args.minutes)
    if args.turn_seconds is not None:
        if args.turn_seconds < 0:
            raise ConfigError(f"--turn-seconds must not be negative, got {args.turn_seconds}")
        settings = replace(settings, turn_seconds=args.turn_seconds)
    with err.status("starting…") as status:
        def progress(message: str) -> None:
            if message.endswith("…"):
                status.update(message)
            else:
                err.print(f"[dim]{message}[/]")

        result = run_suite(settings, progress)
    render(result)
    if args.json:
        path = write_json(result, args.json)
        err.print(f"results written to {path}")
    return 0


def render(result: dict) -> None:
    from rich.table import Table

    from rnngen.bench.report import rows, target_rows

    machine = result["machine"]
    table = Table(title=f"rnngen bench — {machine['cpu_model']}, {machine['cpus']} cores, {machine['threads']} threads, "
                        f"torch {machine['torch']}, {machine['device']}", title_justify="left")
    table.add_column("section", style="dim")
    table.add_column("measure")
    table.add_column("value", justify="right")
    section = None
    for sec, measure, value in rows(result):
        table.add_row(sec if sec != section else "", measure, value)
        section = sec
    out.print(table)
    goals = Table(title="targets", title_justify="left")
    goals.add_column("")
    goals.add_column("target")
    goals.add_column("measured", justify="right")
    for name, text, met in target_rows(result):
        goals.add_row("[green]ok[/]" if met else "[red]miss[/]", name, text)
    out.print(goals)
