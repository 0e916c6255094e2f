"""The rnngen Textual app: five tabs over the engine, a status bar, the palette and help.

`make_app()` builds it for the CLI and for tests (fixed folders, fixed size);
`run_app()` is what `rnngen` with no arguments runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from rnngen.errors import RnngenError
from rnngen.lm import LanguageModel
from rnngen.tui.commands import RnngenCommands
from rnngen.tui.messages import ModelLoaded, ModelLoadFailed, describe_error
from rnngen.tui.widgets.status_bar import StatusBar

STYLES = Path(__file__).parent / "styles"
LIGHT, DARK = "textual-light", "textual-dark"


def _css_paths() -> list[Path]:
    """app.tcss first, then the panes' own sheets that exist."""
    return [STYLES / "app.tcss"] + sorted(p for p in STYLES.glob("*.tcss") if p.name != "app.tcss")


def error_log() -> Path:
    """Where the app writes the tracebacks of bugs: $RNNGEN_ERROR_LOG, else the XDG state folder."""
    if os.environ.get("RNNGEN_ERROR_LOG"):
        return Path(os.environ["RNNGEN_ERROR_LOG"])
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "rnngen" / "errors.log"


def log_bug(error: BaseException | None) -> Path | None:
    """Append `error`'s traceback to the error log (a bug must be reportable); its path, or None if unwritable."""
    import datetime
    import traceback

    path = error_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')}\n")
            f.write("".join(traceback.format_exception(error)) if error is not None else "no exception\n")
    except OSError:
        return None
    return path


def terminal_is_light() -> bool:
    """COLORFGBG (set by many terminals) says 'fg;bg'; a bg of 7 or 15 is a light background."""
    bg = os.environ.get("COLORFGBG", "").split(";")[-1]
    return bg in ("7", "15")


class RnngenApp(App):
    """Corpus, Train, Score, Generate, Models and Inside tabs sharing one loaded model and corpus."""

    TITLE = "rnngen"
    CSS_PATH = _css_paths()
    COMMANDS = App.COMMANDS | {RnngenCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    TABS = {"corpus": "Corpus", "train": "Train", "score": "Score", "generate": "Generate", "models": "Models",
            "inside": "Inside"}
    BINDINGS = [
        Binding("1", "show_tab('corpus')", "Corpus", show=False),
        Binding("2", "show_tab('train')", "Train", show=False),
        Binding("3", "show_tab('score')", "Score", show=False),
        Binding("4", "show_tab('generate')", "Generate", show=False),
        Binding("5", "show_tab('models')", "Models", show=False),
        Binding("6", "show_tab('inside')", "Inside", show=False),
        Binding("f1,question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_dark", "Theme", show=False),
        Binding("escape", "leave_field", "Leave field", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    lm: reactive[LanguageModel | None] = reactive(None)
    corpus_spec: reactive[str] = reactive("travel")

    def __init__(self, checkpoints: Path | None = None, corpora: Path | None = None,
                 browse_root: Path | None = None, theme: str | None = None) -> None:
        super().__init__()
        from rnngen.checkpoint import default_root
        from rnngen.corpus import corpora_root

        # the folders this app reads and writes, passed to the engine explicitly (the process's
        # environment is not the app's to change)
        self.checkpoints: Path = checkpoints if checkpoints is not None else default_root()
        self.corpora: Path = corpora if corpora is not None else corpora_root()
        self.browse_root = browse_root or Path.cwd()
        self.corpus: Any = None  # the last loaded rnngen.corpus.Corpus
        self.corpus_options: dict[str, Any] = {}
        self._corpus_for = ""
        self._initial_theme = theme or (LIGHT if terminal_is_light() else DARK)
        builtin = self.builtin_corpora()
        if builtin and self.corpus_spec not in builtin:
            self.corpus_spec = builtin[0]

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        from rnngen.tui.screens.corpus import CorpusPane
        from rnngen.tui.screens.generate import GeneratePane
        from rnngen.tui.screens.inside import InsidePane
        from rnngen.tui.screens.models import ModelsPane
        from rnngen.tui.screens.score import ScorePane
        from rnngen.tui.screens.train import TrainPane

        yield StatusBar()
        with TabbedContent(initial="corpus", id="tabs"):
            with TabPane("1 Corpus", id="corpus"):
                yield CorpusPane()
            with TabPane("2 Train", id="train"):
                yield TrainPane()
            with TabPane("3 Score", id="score"):
                yield ScorePane()
            with TabPane("4 Generate", id="generate"):
                yield GeneratePane()
            with TabPane("5 Models", id="models"):
                yield ModelsPane()
            with TabPane("6 Inside", id="inside"):
                yield InsidePane()
        yield Footer()

    def on_mount(self) -> None:
        self.theme = self._initial_theme
        self._update_status()

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        """Focus the tab's first control that does not take typing, so its keys show in the footer."""
        from textual.widgets import Input, TextArea

        pane = event.pane
        if pane.id == "models":
            from rnngen.tui.screens.models import ModelsPane

            for models in pane.query(ModelsPane):
                models.refresh_rows()
        for widget in pane.query("*"):
            if widget.focusable and not isinstance(widget, (Input, TextArea)):
                widget.focus()
                return

    def watch_lm(self) -> None:
        self._update_status()

    def watch_corpus_spec(self) -> None:
        self._update_status()

    def _update_status(self) -> None:
        if not self._screen_stack:
            return
        for bar in self.query(StatusBar):
            bar.show(self.lm, self.corpus_spec)

    # -- shared facts ------------------------------------------------------------
    def set_corpus(self, spec: str, corpus: Any, options: dict[str, Any]) -> None:
        """Make a loaded corpus the current one (Train uses it without reading it again)."""
        self.corpus, self.corpus_options, self._corpus_for = corpus, options, spec
        self.corpus_spec = spec

    def loaded_corpus(self) -> Any:
        """The loaded Corpus for `corpus_spec`, or None when it still has to be read."""
        return self.corpus if self.corpus is not None and self._corpus_for == self.corpus_spec else None

    @staticmethod
    def builtin_corpora() -> list[str]:
        from rnngen.corpus import BUILTIN

        return sorted(BUILTIN)

    def downloaded_corpora(self) -> list[str]:
        from rnngen.corpus.registry import downloaded

        return [name for name, _, _ in downloaded(self.corpora)]

    def checkpoint_rows(self) -> list[dict[str, Any]]:
        from rnngen.catalog import model_rows

        return model_rows(self.checkpoints)

    # -- n-grams and ARPA files (palette) ---------------------------------------------
    def ask_ngram(self) -> None:
        """Ask for a name, then estimate a Kneser-Ney 5-gram of the current corpus (`rnngen ngram train`)."""
        from rnngen.tui.screens.dialogs import PromptScreen

        default = f"{Path(self.corpus_spec).stem or 'corpus'}-kn5"
        self.push_screen(PromptScreen("Name of the Kneser-Ney 5-gram of the corpus:", default),
                         lambda name: self.estimate_ngram(name) if name else None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ngram")
    def estimate_ngram(self, name: str, order: int = 5) -> None:
        """Estimate, save under checkpoints/ and load the n-gram (the Models tab lists it)."""
        from rnngen import checkpoint
        from rnngen.config import ModelConfig
        from rnngen.corpus import load_corpus
        from rnngen.ngram import NgramModel

        self.call_from_thread(self.notify, f"Estimating a {order}-gram of {self.corpus_spec} …", title="N-gram")
        try:
            folder = checkpoint.resolve(name, self.checkpoints)
            checkpoint.check_replaceable(folder, None)
            corpus = self.loaded_corpus() or load_corpus(
                self.corpus_spec, lowercase=self.corpus_options.get("lowercase", False), root=self.corpora)
            model = NgramModel.estimate(corpus, order, ModelConfig().vocab_size)
            model.save(folder)
        except RnngenError as exc:
            self.call_from_thread(self.notify, str(exc), title="Cannot estimate the n-gram", severity="error",
                                  timeout=8)
            return
        ppl = model.history.get("best_valid_ppl")
        self.call_from_thread(self.notify, f"{model.name}: {order}-gram of {corpus.name}, validation perplexity "
                                           f"{ppl:.2f}" if ppl else model.name, title="N-gram saved")
        self.post_message(ModelLoaded(model))

    def ask_path(self, what: str) -> None:
        """Ask for a path: a model folder or an ARPA file to load ("load"), or where to write the loaded
        n-gram as an ARPA file ("arpa")."""
        from rnngen.tui.screens.dialogs import PromptScreen

        if what == "arpa":
            ngram = getattr(self.lm, "ngram", self.lm)
            if ngram is None or not hasattr(ngram, "write_arpa"):
                self.notify("Load or mix an n-gram model first.", title="ARPA", severity="warning")
                return
            self.push_screen(PromptScreen("Write the n-gram as an ARPA file (.gz: compressed):", f"{ngram.name}.arpa"),
                             lambda path: self._write_arpa(ngram, path) if path else None)
        else:
            self.push_screen(PromptScreen("Load a model folder or an ARPA file (plain or .gz):", ""),
                             lambda path: self.load_model(path) if path else None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ngram")
    def _write_arpa(self, ngram: Any, path: str) -> None:
        try:
            written = ngram.write_arpa(Path(path).expanduser())
        except (RnngenError, OSError) as exc:
            self.call_from_thread(self.notify, str(exc), title="Cannot write the ARPA file", severity="error")
            return
        self.call_from_thread(self.notify, f"{written}", title="ARPA file written")

    # -- actions -------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    def action_help(self) -> None:
        from rnngen.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_dark(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK

    def action_leave_field(self) -> None:
        """Escape from a text field gives the keys 1-5 back to tab switching, and keeps the tab's own keys.

        The focus moves to the tab's first control that takes no typing (a button, a table, a list),
        not to nothing: with nothing focused the tab's bindings (ctrl+x stops training) would be gone.
        """
        from textual.widgets import Input, TextArea

        pane = self.query_one("#tabs", TabbedContent).active_pane
        chain = [w for w in self.screen.focus_chain if pane is not None and pane in w.ancestors]
        target = next((w for w in chain if not isinstance(w, (Input, TextArea))), None)
        self.set_focus(target)

    def action_start_training(self) -> None:
        self.action_show_tab("train")
        self._train_pane().action_start()

    def action_stop_training(self) -> None:
        self._train_pane().action_stop()

    def action_resume_training(self) -> None:
        self.action_show_tab("train")
        self._train_pane().action_resume()

    def _train_pane(self):
        from rnngen.tui.screens.train import TrainPane

        return self.query_one(TrainPane)

    def choose_corpus(self, spec: str) -> None:
        from rnngen.tui.screens.corpus import CorpusPane

        self.action_show_tab("corpus")
        self.query_one(CorpusPane).load(spec)

    # -- loading a model (shared by Models tab and palette) ---------------------------
    def load_model(self, path: str | Path) -> None:
        self._load_model(str(path))

    def mix_model(self, path: str | Path) -> None:
        """Mix the loaded RNN with the n-gram at `path`, λ tuned on its corpus's validation split."""
        self._load_model(str(path), mix=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="load-model")
    def _load_model(self, path: str, mix: bool = False) -> None:
        from rnngen.mixture import build
        from rnngen.ngram import load

        try:
            rnn = getattr(self.lm, "rnn", self.lm)  # mixing again replaces the n-gram, keeps the RNN
            lm = build(rnn, path) if mix else load(path)
        except Exception as exc:  # a corrupt checkpoint is a notification, not a crash
            self.post_message(ModelLoadFailed(Path(path).name, describe_error(exc)))
            if not isinstance(exc, RnngenError):
                raise  # a bug: logged with its traceback by on_worker_state_changed
            return
        self.post_message(ModelLoaded(lm))

    @on(ModelLoaded)
    def _model_loaded(self, message: ModelLoaded) -> None:
        self.lm = message.lm
        lm = message.lm
        if hasattr(lm, "ngram"):
            notes = "".join(f"\n{note}" for note in lm.notes)
            self.notify(f"{lm.rnn.name} mixed with {lm.ngram.name}: λ {lm.lam:.4f}, tuned on {lm.tuned_on}{notes}",
                        title="Model", timeout=8)
        else:
            self.notify(f"Loaded model {lm.name}", title="Model")

    @on(ModelLoadFailed)
    def _model_failed(self, message: ModelLoadFailed) -> None:
        self.notify(message.error, title=f"Cannot load {message.name}", severity="error", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker died of a bug, not a user error: tell the user, keep the app alive."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            where = log_bug(error)
            self.notify(f"{type(error).__name__}: {error}" + (f" (traceback in {where})" if where else ""),
                        title="Unexpected error", severity="error", timeout=10)


def make_app(checkpoints: Path | None = None, corpora: Path | None = None, **kw: Any) -> RnngenApp:
    """The app; `checkpoints`/`corpora` are its folders (default: $RNNGEN_CHECKPOINTS/$RNNGEN_CORPORA or ./checkpoints, ./corpora)."""
    return RnngenApp(checkpoints=checkpoints, corpora=corpora, **kw)


def run_app() -> int:
    make_app().run()
    return 0
