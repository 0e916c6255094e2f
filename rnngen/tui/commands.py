"""The command palette's rnngen actions: tabs, models, training, corpora, help, theme."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from rnngen.tui.app import RnngenApp


def app_commands(app: "RnngenApp") -> Iterator[tuple[str, Callable[[], object], str]]:
    """(name, callback, help) for every palette command, built fresh so new models show up."""
    for key, (pane, title) in enumerate(app.TABS.items(), 1):
        yield f"Go to {title}", partial(app.action_show_tab, pane), f"switch to the {title} tab (key {key})"
    yield "Start training", partial(app.run_action, "start_training"), "train with the options on the Train tab"
    yield "Stop training", partial(app.run_action, "stop_training"), "stop after the current batch (the model is kept)"
    yield "Resume training", partial(app.run_action, "resume_training"), "continue training the named model"
    yield ("Attach to a training run (events file)", partial(attach_to_run, app),
           "draw live a run started elsewhere with rnngen train --events FILE (ctrl+o on the Train tab)")
    for name in app.builtin_corpora():
        yield f"Use built-in corpus: {name}", partial(app.choose_corpus, name), "load it on the Corpus tab"
    for name in app.downloaded_corpora():
        yield f"Use downloaded corpus: {name}", partial(app.choose_corpus, name), "load it on the Corpus tab"
    for row in app.checkpoint_rows():
        if not row.get("error"):
            yield f"Load model: {row['name']}", partial(app.load_model, row["path"]), f"{row['type']} on {row['corpus']}"
    yield ("Estimate a Kneser-Ney 5-gram of the corpus", app.ask_ngram,
           "the count-based baseline, saved as a model (rnngen ngram train); m on the Models tab mixes it into an RNN")
    yield "Load a model or an ARPA file from a path", partial(app.ask_path, "load"), "a folder or an ARPA file"
    yield "Write the n-gram as an ARPA file", partial(app.ask_path, "arpa"), "for KenLM, SRILM, Moses or Kaldi"
    yield "Help", app.action_help, "keys and what each tab does"
    yield "Toggle light/dark theme", app.action_toggle_dark, "switch between the light and dark theme"


def attach_to_run(app: "RnngenApp") -> None:
    """Show the Train tab and ask there for the events file to follow."""
    from rnngen.tui.screens.train import TrainPane

    app.action_show_tab("train")
    app.query_one(TrainPane).action_attach()


class RnngenCommands(Provider):
    """Fuzzy search over `app_commands`."""

    async def discover(self) -> Hits:
        for name, callback, help_text in app_commands(self.app):  # type: ignore[arg-type]
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in app_commands(self.app):  # type: ignore[arg-type]
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
