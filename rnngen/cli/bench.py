"""`rnngen bench`: the benchmark suite with a live status line and a results table."""

from __future__ import annotations

import argparse
import json
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
                   help="training budget per configuration (default 6; --quick: 0.1); with --scale, minutes of "
                        "training on the largest corpus (default 1; 0: none)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every figure as JSON here")
    p.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                   help="benchmark split folder with train/valid/test.txt (default ../shared/corpora/bench/wt2-mini)")
    p.add_argument("--scale", action="store_true",
                   help="instead: time and peak memory of preparing corpora of --sizes million tokens, raw and "
                        "pre-tokenized, first run and cached (rnngen.bench.scale)")
    p.add_argument("--sizes", default="1,10,100", metavar="M,M,..",
                   help="with --scale: millions of tokens (default 1,10,100)")
    p.add_argument("--kinds", default="raw,tokenized", metavar="K,K",
                   help="with --scale: raw and/or tokenized (default both)")
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

    if args.scale:
        return _scale(args)
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


def _scale(args: argparse.Namespace) -> int:
    """`--scale`: the preparation benchmark, its rows as they come, then its table (Markdown, for BENCHMARKS.md)."""
    from rnngen.bench import scale
    from rnngen.errors import ConfigError

    try:
        sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--sizes takes millions of tokens separated by commas, got {args.sizes!r}") from None
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not sizes or any(s <= 0 for s in sizes):
        raise ConfigError(f"--sizes takes positive numbers, got {args.sizes!r}")
    if not kinds or any(k not in scale.KINDS for k in kinds):
        raise ConfigError(f"--kinds takes raw and/or tokenized, got {args.kinds!r}")
    minutes = 1.0 if args.minutes is None else args.minutes  # of training on the largest corpus (0: none)
    if minutes < 0:
        raise ConfigError(f"--minutes must not be negative, got {args.minutes}")
    rows = scale.run(sizes, kinds, progress=lambda message: err.print(f"[dim]{message}[/]", highlight=False),
                     train_minutes=minutes)
    scale.print_tables(rows, lambda line: out.print(line, markup=False))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
        err.print(f"results written to {args.json}")
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
