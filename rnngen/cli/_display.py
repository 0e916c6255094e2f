"""Text from files and models made safe to print in the CLI: "[red]" in a file is not read as rich
markup, and no control character reaches the terminal (`rnngen.display` does the part both faces share).
"""

from __future__ import annotations

from rich.markup import escape

from rnngen.display import tsv_field, visible

__all__ = ["safe", "tsv_field", "visible"]


def safe(text: str) -> str:
    """`text` fit for rich markup: control characters visible and brackets not read as styles."""
    return escape(visible(text.replace("\t", " ").replace("\n", " ")))
