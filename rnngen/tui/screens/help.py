"""The help screen (? or F1): keys and what each tab is for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# rnngen

A workbench for word-level recurrent language models. Work left to right:
pick a **corpus**, **train** a model while watching it learn, then **score**
sentences and **generate** text with it. **Models** lists what you trained.

| Key | Anywhere |
|---|---|
| `1`–`5` | Corpus, Train, Score, Generate, Models tab |
| `ctrl+p` | command palette (every action by name) |
| `?` / `F1` | this help |
| `ctrl+t` | light / dark theme |
| `escape` | leave a text field (then `1`–`5` switch tabs) |
| `tab` / `shift+tab` | next / previous field |
| `ctrl+q` | quit (training stops and keeps its best model) |

**Corpus**: pick the built-in corpus, a downloaded one, or type a path (or
browse the file tree) and press `enter`. The statistics use the vocabulary
size you give (the OOV rate is measured on the validation split).

**Train**: choose a preset, change any option (invalid values turn red and
disable Start), name the output model, then `ctrl+s` starts, `ctrl+x` stops
(the best model so far is saved), `ctrl+r` resumes the named model. The
perplexity plot shows the corpus's true-entropy floor for generated corpora.

**Score**: a sentence's log-probability, perplexity and per-word heat map;
candidates mode ranks several sentences.

**Generate**: sample text word by word, or pick each next word yourself.

**Models**: `enter` or `l` loads, `r` renames, `d` deletes, `space` marks a model
and `c` compares two marked models side by side.
"""


class HelpScreen(ModalScreen[None]):
    """Markdown help over the app; any of escape, q, ? or F1 closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)
