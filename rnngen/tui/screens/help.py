"""The help screen (? or F1): keys and what each tab is for.

Each tab's key table is built from that pane's own BINDINGS, so a key added to a tab shows up here
and a removed one disappears: the help cannot drift from what the keys do.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

INTRO = """\
# rnngen

A workbench for word-level recurrent language models. Work left to right:
pick a **corpus**, **train** a model while watching it learn, then **score**
sentences and **generate** text with it. **Models** lists what you trained;
**Inside** shows the memory, the gates and the gradients through time.

| Key | Anywhere |
|---|---|
| `1`–`6` | Corpus, Train, Score, Generate, Models, Inside tab |
| `ctrl+p` | command palette (every action by name) |
| `?` / `F1` | this help |
| `ctrl+t` | light / dark theme |
| `escape` | leave a text field (the tab's keys below keep working) |
| `tab` / `shift+tab` | next / previous field |
| `ctrl+q` | quit (training stops and keeps its best model) |
"""

TABS = {
    "Corpus": "Pick the built-in corpus, a downloaded one, or type a path (or browse the file tree; "
              "`backspace` in the tree goes to the folder above) and press `enter`. The statistics use "
              "the vocabulary size you give (the OOV rate is measured on the validation split).",
    "Train": "Choose a preset, change any option (invalid values turn red and disable Start), name the "
             "output model. Stop saves the best model so far. The perplexity chart draws the corpus's "
             "entropy floor, labelled with the split it was measured on. The gradient chart draws every batch's "
             "gradient norm before clipping, the clipping threshold as a red line, and how often it cut "
             "(below 110 columns, `ctrl+g` shows it in the loss chart's place).",
    "Score": "A sentence's log-probability, perplexity and per-word heat map; candidates mode ranks "
             "several sentences, or a Moses n-best list per source sentence, exactly as `rnngen rerank`.",
    "Generate": "Sample text word by word, or pick each next word yourself (type a word, a number, or "
                "`space` for the model's own pick).",
    "Models": "`enter` loads too (an RNN, or a Kneser-Ney n-gram from `rnngen ngram train`). Mark two models, then "
              "compare their settings and histories. With an RNN loaded, `m` on an n-gram mixes the two word by "
              "word (λ tuned on the corpus's validation split): the Score and Generate tabs then use the mixture.",
    "Inside": "The lecture's LSTM memory cell and simple RNN with their weights (edit the inputs or the "
              "weights and press `enter`; `↑`/`↓` step, the side panel shows every value). For the loaded "
              "model: its units by words as a heat map under each word's probability (pick the quantity; "
              "select a span and `ctrl+f` finds where else in its corpus those units are on together), the "
              "gradient of the last word's loss back through time beside an untrained model, the cells that "
              "track a property, and how often each gate is shut or open. Work over the corpus shows a "
              "progress bar; `ctrl+x` stops it.",
}


def key_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    """(keys, description) for each shown binding; a binding's hidden siblings are folded into its key_display."""
    rows = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            binding = Binding(*binding)
        if not binding.show or not binding.description:
            continue
        keys = binding.key_display or " / ".join(binding.key.split(","))
        rows.append((keys, binding.description))
    return rows


def tab_section(title: str, bindings: list[BindingType]) -> str:
    """One tab's paragraph and its key table in Markdown."""
    lines = [f"## {title}", "", TABS[title], ""]
    rows = key_rows(bindings)
    if rows:
        lines += [f"| Key | {title} |", "|---|---|", *[f"| `{k}` | {d} |" for k, d in rows], ""]
    return "\n".join(lines)


def help_text() -> str:
    """The whole help page, keys read from the panes' BINDINGS."""
    from rnngen.tui.screens.corpus import CorpusPane
    from rnngen.tui.screens.generate import GeneratePane
    from rnngen.tui.screens.inside import InsidePane
    from rnngen.tui.screens.models import ModelsPane
    from rnngen.tui.screens.score import ScorePane
    from rnngen.tui.screens.train import TrainPane
    from rnngen.tui.widgets.candidates import CandidatesPanel
    from rnngen.tui.widgets.heatmap import HeatMap
    from rnngen.tui.widgets.unit_grid import UnitGrid

    # each tab's keys: its pane's, and those of the widgets inside it that bring their own
    keys = {"Corpus": CorpusPane.BINDINGS, "Train": TrainPane.BINDINGS,
            "Score": [*ScorePane.BINDINGS, *HeatMap.BINDINGS, *CandidatesPanel.BINDINGS],
            "Generate": GeneratePane.BINDINGS, "Models": ModelsPane.BINDINGS, "Inside": [*InsidePane.BINDINGS, *UnitGrid.BINDINGS]}
    return "\n".join([INTRO, *(tab_section(title, bindings) for title, bindings in keys.items())])


class HelpScreen(ModalScreen[None]):
    """Markdown help over the app; any of escape, q, ? or F1 closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_text())
