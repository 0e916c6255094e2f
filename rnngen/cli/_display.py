"""Text from files and models made safe to print: no markup is interpreted, no control character reaches the terminal.

A sentence, a model name or a sampled word can hold anything a file held: "[red]" would be read as
rich markup, an escape character would drive the terminal. `visible` shows such characters as
escapes instead; `tsv_field` escapes what would break a TSV row (the backslash convention of
PostgreSQL's and MySQL's text formats: \\t, \\n, \\r and \\\\).
"""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_TSV = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_TSV_CHARS = re.compile(r"[\\\t\n\r]")


def visible(text: str) -> str:
    """`text` with each control character written as an escape (\\x1b, \\u2028): nothing hidden, nothing run."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def safe(text: str) -> str:
    """`text` fit for rich markup: control characters visible and brackets not read as styles."""
    return escape(visible(text.replace("\t", " ").replace("\n", " ")))


def tsv_field(text: str) -> str:
    """One TSV field: backslash, tab, newline and carriage return escaped, other controls visible."""
    return visible(_TSV_CHARS.sub(lambda m: _TSV[m.group()], text))
