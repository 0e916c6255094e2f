"""The benchmark suite (`rnngen bench`, `python -m rnngen.bench`): speed and quality against the reference.

`run_suite(BenchSettings(...))` returns a JSON-ready dict; `report.rows()`
turns it into the table both front ends print.
"""

from rnngen.bench.suite import BEST, REFERENCE, BenchSettings, run_suite

__all__ = ["BEST", "REFERENCE", "BenchSettings", "run_suite"]
