"""The benchmark result as table rows and as JSON, shared by `rnngen bench` and `python -m rnngen.bench`."""

from __future__ import annotations

import json
import math
from pathlib import Path


def _num(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:,.{digits}f}"


def rows(result: dict) -> list[tuple[str, str, str]]:
    """(section, measure, value) rows in the order of the issue's list."""
    roof, thr, flops = result["roofline"], result["throughput"], result["flops"]
    ref, best = result["training"]["reference"], result["training"]["best"]
    kn, score, gen = result["kneser_ney"], result["scoring"], result["generation"]
    out = [
        ("machine", "matmul roofline (fp32 torch.mm)", f"{_num(roof['gflops'])} GFLOP/s"),
        ("machine", "FLOPs/token reference (fwd / train)",
         f"{flops['reference']['forward'] / 1e6:.2f} M / {flops['reference']['train'] / 1e6:.2f} M"),
        ("machine", "FLOPs/token best (fwd / train)",
         f"{flops['best']['forward'] / 1e6:.2f} M / {flops['best']['train'] / 1e6:.2f} M"),
        ("training", "reference, rnngen loop",
         f"{_num(thr['rnngen_tokens_per_s'], 0)} tok/s = {100 * thr['rnngen_fraction_of_roofline']:.0f}% of roofline"),
        ("training", "reference, plain PyTorch recipe",
         f"{_num(thr['recipe_tokens_per_s'], 0)} tok/s = {100 * thr['recipe_fraction_of_roofline']:.0f}% of roofline"),
        ("training", "reference, rnngen loop without the fused output layer",
         f"{_num(thr['rnngen_unfused_tokens_per_s'], 0)} tok/s"),
        ("training", "rnngen / recipe speed", f"{thr['speedup_vs_recipe']:.2f}x"),
    ]
    for run in (ref, best):
        epochs = len(run["epochs"])
        out.append((f"{run['minutes']:g} min budget", f"{run['name']}: valid / test ppl",
                    f"{_num(run['valid_ppl'])} / {_num(run['test_ppl'])}  ({epochs} epoch{'s' * (epochs != 1)}, "
                    f"{_num(run['median_tokens_per_s'] or None, 0)} tok/s)"))
    if "budget" in best:
        b = best["budget"]
        out.append((f"{best['minutes']:g} min budget", "best: chosen for this machine",
                    f"{b['tokens_per_s']:,.0f} tok/s, about {b['epochs_fit']:.1f} epochs fit: "
                    + (f"lightened ({b['changes']})" if b["changes"] else "as chosen for about 20 epochs")))
    for run in (ref, best):
        if "cache" in run:
            c = run["cache"]
            out.append((f"{run['minutes']:g} min budget", f"{run['name']}: test ppl with a {c['size']:,}-position cache",
                        f"{_num(c['test_ppl'])}  (theta {c['theta']:g}, weight {c['weight']:g}, tuned on valid)"))
    mixed = result.get("interpolated")
    if mixed:
        out.append((f"{best['minutes']:g} min budget", f"{best['name']} + KN{mixed['order']} per word: test ppl",
                    f"{_num(mixed['test_ppl'])}  (λ {mixed['lambda']:.2f} tuned on valid; line by line the RNN alone "
                    f"{_num(mixed['rnn_by_line_test_ppl'])}, KN{mixed['order']} {_num(mixed['ngram_test_ppl'])})"))
        if "cache" in mixed:
            c = mixed["cache"]
            out.append((f"{best['minutes']:g} min budget", f"{best['name']} + KN{mixed['order']} + cache: test ppl",
                        f"{_num(c['test_ppl'])}  ({c['size']:,} positions, theta {c['theta']:g}, weight "
                        f"{c['weight']:g}, tuned on valid)"))
    out += [
        ("n-gram", f"Kneser-Ney {kn['order']}-gram: test ppl", _num(kn["test_ppl"])),
        ("n-gram", "Kneser-Ney scoring", f"{_num(kn['tokens_per_s'], 0)} tok/s"),
        ("scoring", "batched", f"{_num(score['batched']['sentences_per_s'])} sent/s, "
                               f"{_num(score['batched']['tokens_per_s'], 0)} tok/s"),
        ("scoring", "one at a time", f"{_num(score['single']['sentences_per_s'])} sent/s, "
                                     f"{_num(score['single']['tokens_per_s'], 0)} tok/s"),
        ("scoring", "batched speed-up", f"{score['speedup']:.1f}x"),
        ("generation", "small: first word / per word", f"{gen['first_word_ms']:.1f} ms / {gen['ms_per_word']:.2f} ms"),
        ("generation", "per word through nn.LSTM (no cell path)", f"{gen['ms_per_word_without_cell_path']:.2f} ms"),
        ("memory", "training peak RSS", f"{_num(result['memory']['peak_rss_mb'], 0)} MB"),
        ("start-up", "rnngen --help (median)", f"{result['startup']['median_s']:.3f} s"),
    ]
    return out


def target_rows(result: dict) -> list[tuple[str, str, bool]]:
    """(target, 'value op threshold', met) for each target."""
    return [(t["target"], f"{t['value']:,.3g} {t['op']} {t['threshold']:,g}", t["met"]) for t in result["targets"]]


def write_json(result: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def plain_text(result: dict) -> str:
    """The table without colours, for `python -m rnngen.bench`."""
    lines = []
    width = max(len(m) for _, m, _ in rows(result))
    section = None
    for sec, measure, value in rows(result):
        if sec != section:
            lines.append(f"[{sec}]")
            section = sec
        lines.append(f"  {measure:<{width}}  {value}")
    lines.append("[targets]")
    for name, text, met in target_rows(result):
        lines.append(f"  {'ok  ' if met else 'MISS'} {name}: {text}")
    return "\n".join(lines)
