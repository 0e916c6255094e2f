"""How both faces write numbers and text from files: one module, no UI library, so the CLI and the TUI
print the same perplexity the same way and neither imports the other.

A sentence, a model name or a sampled word can hold anything a file held; an escape character would
drive the terminal. `visible` shows control characters as escapes instead; `tsv_field` escapes what
would break a TSV row (the backslash convention of PostgreSQL's and MySQL's text formats: \\t, \\n,
\\r and \\\\). Markup escaping is each face's own (rich markup in the CLI, Text objects in the TUI).
"""

from __future__ import annotations

import math
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_TSV = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_TSV_CHARS = re.compile(r"[\\\t\n\r]")


def visible(text: str) -> str:
    """`text` with each control character written as an escape (\\x1b, \\u2028): nothing hidden, nothing run."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def tsv_field(text: str) -> str:
    """One TSV field: backslash, tab, newline and carriage return escaped, other controls visible."""
    return visible(_TSV_CHARS.sub(lambda m: _TSV[m.group()], text))


def fmt_ppl(value: float | None) -> str:
    """A perplexity: 2 decimals with thousands separators, 3 significant digits when huge, '-' when unknown."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return "-"
    return f"{value:,.2f}" if value < 1e6 else f"{value:.3g}"


def clock(seconds: float) -> str:
    """A duration as m:ss, or h:mm:ss from an hour."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def short_number(value: float) -> str:
    """Three decimals without trailing zeros: a saturated gate reads 0 or 1, as the lecture draws it."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def bars(counts) -> str:
    """A histogram in one line of block characters, scaled to its fullest bin."""
    fullest = max(max(counts, default=0), 1)
    return "".join(" ▁▂▃▄▅▆▇█"[round(8 * n / fullest)] for n in counts)
