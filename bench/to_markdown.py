"""Print a benchmark JSON (from `rnngen bench --json`) as the Markdown tables of BENCHMARKS.md.

Usage: .venv/bin/python bench/to_markdown.py bench/results/bench-....json
"""

from __future__ import annotations

import json
import sys

from rnngen.bench.report import rows, target_rows


def main(path: str) -> None:
    result = json.loads(open(path, encoding="utf-8").read())
    m = result["machine"]
    print(f"Machine: {m['cpu_model']}, {m['cpus']} cores, torch {m['torch']} ({m['threads']} threads), "
          f"device {m['device']}, Python {m['python']}; run {m['date']}, 1-min load average at start "
          f"{m.get('load_average_1min', float('nan')):.2f}; suite wall time {result['total_seconds'] / 60:.1f} min.\n")
    print("| section | measure | value |\n|---|---|---|")
    for section, measure, value in rows(result):
        print(f"| {section} | {measure} | {value} |")
    print("\n| target | measured | met |\n|---|---|---|")
    for name, text, met in target_rows(result):
        print(f"| {name} | {text} | {'yes' if met else '**no**'} |")
    print("\n| epoch | " + " | ".join(f"{name} valid ppl" for name in result["training"]) + " |")
    print("|---|" + "---|" * len(result["training"]))
    longest = max(len(run["epochs"]) for run in result["training"].values())
    for i in range(longest):
        cells = []
        for run in result["training"].values():
            e = run["epochs"][i] if i < len(run["epochs"]) else None
            cells.append(f"{e['valid_ppl']:.1f} (lr {e['lr']:.3g}, {e['elapsed_s']:.0f} s)" if e else "")
        print(f"| {i + 1} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
