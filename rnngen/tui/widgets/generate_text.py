"""The Generate tab's text view: numbered sentences growing word by word, readable as text.

Words arrive as tokens ("do", "n't", ","); each sentence is detokenized again
as a whole whenever a word arrives, because a later word can change the
spacing before an earlier one (the reason `StreamingDetokenizer` holds back
its last word). The prompt is shown in bold, the sentence being written ends
in a cursor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

Detokenize = Callable[[Sequence[str]], str]


@dataclass
class SentenceView:
    """One sentence: the prompt tokens, the words added after them, and whether it is complete."""

    prompt: list[str]
    words: list[str] = field(default_factory=list)
    done: bool = False
    note: str = ""  # e.g. "stopped", "word limit"
    _cache: tuple[str, int] | None = field(default=None, repr=False)

    def text(self, detokenize: Detokenize) -> tuple[str, int]:
        """The readable sentence and how many leading characters are the prompt (cached once complete)."""
        if self.done and self._cache is not None:
            return self._cache
        words = [w for w in self.words if w != "</s>"]
        prompt_text = detokenize(self.prompt) if self.prompt else ""
        full = detokenize([*self.prompt, *words]) if (self.prompt or words) else ""
        bold = len(prompt_text) if full.startswith(prompt_text) else 0
        if self.done:
            self._cache = (full, bold)
        return full, bold


class GeneratedText(VerticalScroll):
    """A scrolling view of the generated sentences."""

    DEFAULT_CSS = """
    GeneratedText { height: 1fr; }
    GeneratedText > #gen-text-body { width: 1fr; height: auto; padding: 0 1; }
    """

    def __init__(self, detokenize: Detokenize = " ".join, placeholder: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.detokenize = detokenize
        self.placeholder = placeholder
        self.sentences: list[SentenceView] = []

    def compose(self):
        yield Static(Text(self.placeholder, style="dim italic"), id="gen-text-body")

    # -- editing ------------------------------------------------------------------------
    def clear(self) -> None:
        self.sentences = []
        self.refresh_text()

    def start_sentence(self, prompt: Sequence[str]) -> SentenceView:
        view = SentenceView(list(prompt))
        self.sentences.append(view)
        self.refresh_text()
        return view

    def add_word(self, word: str) -> None:
        if not self.sentences or self.sentences[-1].done:
            self.start_sentence([])
        self.sentences[-1].words.append(word)
        if word == "</s>":
            self.sentences[-1].done = True
        self.refresh_text()

    def finish(self, note: str = "") -> None:
        """Mark the sentence being written as complete (with a note such as 'stopped')."""
        if self.sentences and not self.sentences[-1].done:
            self.sentences[-1].done = True
            self.sentences[-1].note = note
            self.refresh_text()

    # -- reading ------------------------------------------------------------------------
    def plain_sentences(self) -> list[str]:
        """The readable text of each sentence, as shown."""
        return [s.text(self.detokenize)[0] for s in self.sentences]

    def refresh_text(self) -> None:
        body = self.query_one("#gen-text-body", Static)
        if not self.sentences:
            body.update(Text(self.placeholder, style="dim italic"))
            return
        out = Text()
        numbered = len(self.sentences) > 1
        for n, sentence in enumerate(self.sentences, 1):
            if n > 1:
                out.append("\n")
            if numbered:
                out.append(f"{n}. ", style="dim")
            full, bold = sentence.text(self.detokenize)
            out.append(full[:bold], style="bold")
            out.append(full[bold:])
            if not sentence.done:
                out.append(" ▌", style="bold")
            elif sentence.note:
                out.append(f"  [{sentence.note}]", style="dim italic")
        body.update(out)
        self.scroll_end(animate=False)
