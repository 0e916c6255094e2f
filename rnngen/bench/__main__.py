"""`python -m rnngen.bench [--quick] [--minutes M] [--json PATH] [--corpus DIR]`: the suite without rich."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from rnngen.bench.report import plain_text, write_json
    from rnngen.bench.suite import DEFAULT_CORPUS, BenchSettings, run_suite
    from rnngen.errors import RnngenError

    parser = argparse.ArgumentParser(prog="python -m rnngen.bench", description="rnngen's benchmark suite")
    parser.add_argument("--quick", action="store_true", help="a short run for development (under a minute)")
    parser.add_argument("--minutes", type=float, default=None, help="training budget per configuration")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="benchmark split folder")
    args = parser.parse_args(argv)
    settings = BenchSettings.quick_settings(args.corpus) if args.quick else BenchSettings(corpus=args.corpus)
    if args.minutes is not None:
        settings = replace(settings, minutes=args.minutes)
    try:
        result = run_suite(settings, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except RnngenError as exc:
        print(f"rnngen bench: error: {exc}", file=sys.stderr)
        return 2
    print(plain_text(result))
    if args.json:
        write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
