"""The one-line bar at the top: which model and which corpus everything works on."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


def model_summary(lm: Any) -> str:
    """'name (lstm 2x200, ppl 84.1)' for the loaded model; 'name (5-gram, ppl 89.9)' for an n-gram;
    'rnn + ngram (λ 0.43)' for a mixture."""
    if hasattr(lm, "ngram") and hasattr(lm, "rnn"):
        return f"{lm.rnn.name} + {lm.ngram.name} (λ {lm.lam:.2f})"
    ppl = lm.history.get("best_valid_ppl") if lm.history else None
    ppl_text = f", ppl {ppl:.1f}" if isinstance(ppl, (int, float)) else ""
    if not hasattr(lm, "model_config"):
        return f"{lm.name} ({lm.kind}{ppl_text})"
    c = lm.model_config
    return f"{lm.name} ({c.rnn_type} {c.layers}x{c.hidden}{ppl_text})"


class StatusBar(Static):
    """rnngen │ model: … │ corpus: …"""

    def show(self, lm: Any, corpus: str) -> None:
        text = Text.assemble(("rnngen", "bold"), "  │  model: ")
        if lm is None:
            text.append("none loaded", style="italic")
        else:
            text.append(model_summary(lm), style="bold")
        text.append("  │  corpus: ")
        # a path is shown by its last parts, so the bar fits 80 columns
        shown = corpus if len(corpus) <= 30 or "/" not in corpus else "…/" + "/".join(corpus.split("/")[-2:])
        text.append(shown or "none", style="bold")
        self.update(text)
