"""The scale benchmark end to end, small: inputs made offline (here from the built-in grammar), each prepared
in a fresh process first and from the cache, then trained on, evaluated and counted from the cache."""

from __future__ import annotations

import subprocess
import sys

from rnngen.bench import scale


def test_scale_rows_from_generated_inputs(tmp_path):
    messages: list[str] = []
    rows = scale.run([0.02], ["raw"], shared=tmp_path / "no-shared", progress=messages.append, train_minutes=0.01)
    first, cached, *used = rows
    assert (first["run"], cached["run"]) == ("first", "cached") and first["cached"] and cached["cached"]
    assert first["tokens"] == cached["tokens"] and 15_000 <= first["tokens"] <= 25_000
    assert cached["load_s"] < first["load_s"]
    assert [u["use"].split(" (")[0] for u in used] == ["rnngen train", "rnngen eval", "rnngen corpus stats"]
    assert all(u["peak_rss_mb"] > 0 and u["wall_s"] > 0 for u in used)
    lines: list[str] = []
    scale.print_tables(rows, lines.append)
    assert lines[0].startswith("| input |") and lines[2].startswith("| raw | ") and "| rnngen eval" in lines[-2]


def test_rotation_keeps_the_shape_and_changes_every_letter():
    text = "Mr. Smith didn't go.\nZebra, 42!"
    assert scale.rotated(text, 0) == text and scale.rotated(text, 26) == text
    assert scale.rotated(text, 1) == "Ns. Tnjui ejeo'u hp.\nAfcsb, 42!"


def test_bad_sizes_are_one_line_exit_2():
    result = subprocess.run([sys.executable, "-m", "rnngen", "bench", "--scale", "--sizes", "0,x"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "--sizes" in result.stderr
