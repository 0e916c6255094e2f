"""The Corpus tab: choose a corpus (built-in, downloaded, downloadable, or a local path) and see its statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.validation import Function
from textual.widgets import Checkbox, DirectoryTree, Input, Label, OptionList, ProgressBar
from textual.widgets.option_list import Option

from rnngen.errors import RnngenError
from rnngen.tui.messages import describe_error
from rnngen.tui.messages import CorpusFailed, CorpusLoaded, CorpusProgressed, DownloadFinished, DownloadProgressed
from rnngen.tui.widgets.corpus_stats import CorpusStats, compute_stats


class QuietTree(DirectoryTree):
    """A file tree without hidden files and folders; backspace climbs to the parent folder."""

    BINDINGS = [Binding("backspace", "parent", "Parent folder", key_display="⌫")]

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")]

    def action_parent(self) -> None:
        """Show the folder above the tree's root (the tree starts at the checkout, corpora may be beside it)."""
        here = Path(self.path).expanduser().resolve()
        if here.parent != here:
            self.path = here.parent


def vocab_problem(text: str) -> str | None:
    """Why a vocabulary size cannot be used, in the engine's words (its own minimum), or None."""
    from dataclasses import replace

    from rnngen.config import ModelConfig
    from rnngen.errors import ConfigError

    try:
        size = int(text.strip())
    except ValueError:
        return f"the vocabulary size must be a whole number, got {text.strip()!r}"
    try:
        replace(ModelConfig(), vocab_size=size).validate()  # the rule training applies, minimum included
    except ConfigError as exc:
        return str(exc)
    return None


def downloadable() -> list[tuple[str, str]]:
    """(name, 'size · description') of the corpora the registry can fetch."""
    from rnngen.corpus.registry import CORPORA

    return [(name, f"{entry.size} · {entry.description}") for name, entry in CORPORA.items()]


def default_vocab() -> int:
    from rnngen.config import ModelConfig

    return ModelConfig().vocab_size


def needs_download(spec: str, root: Path) -> bool:
    """A registry name (e.g. gutenberg:1342) that is not in `root` (the app's corpora folder) yet."""
    from rnngen.corpus.registry import folder_name, lookup

    if Path(spec).exists() or "/" in spec:
        return False
    return lookup(spec) is not None and not (root / folder_name(spec)).exists()


class CorpusPane(Horizontal):
    """Left: where the text comes from; right: what is in it."""

    BINDINGS = [("ctrl+l", "focus_path", "Path")]

    def compose(self) -> ComposeResult:
        with Vertical(id="corpus-sources"):
            yield Label("Corpora", classes="section")
            yield OptionList(id="corpus-list")
            yield Label("File or folder", classes="section")
            yield Input(placeholder="path or gutenberg:N, enter", id="corpus-path", compact=True)
            yield QuietTree(self.app.browse_root, id="corpus-tree")  # type: ignore[attr-defined]
            with Horizontal(id="corpus-options"):
                yield Label("vocab", id="vocab-label")
                yield Input(str(default_vocab()), id="vocab-size", type="integer", compact=True,
                            validators=[Function(lambda v: vocab_problem(v) is None, "not a usable vocabulary size")],
                            tooltip="words kept for the coverage and OOV numbers (as training would keep them)")
                yield Checkbox("lowercase", id="lowercase")
            yield ProgressBar(id="download-progress", show_eta=False)
            yield Label("", id="prepare-phase")
            yield ProgressBar(id="prepare-progress", show_eta=False, show_percentage=False)  # (the label says it)
        yield CorpusStats(id="corpus-stats")

    def on_mount(self) -> None:
        app: Any = self.app
        self.query_one("#download-progress").display = False
        self.show_preparing(None)
        self.refresh_sources()
        if app.corpus_spec in app.builtin_corpora():
            self.load(app.corpus_spec)

    def refresh_sources(self) -> None:
        """Built-in, then downloaded, then downloadable corpora, one option each."""
        app: Any = self.app
        options: list[Option | None] = []
        for name in app.builtin_corpora():
            options.append(Option(Text.assemble(("◆ ", "bold"), name, ("  built-in", "dim")), id=f"load:{name}"))
        downloaded = app.downloaded_corpora()
        for name in downloaded:
            options.append(Option(Text.assemble(("● ", "bold"), name, ("  downloaded", "dim")), id=f"load:{name}"))
        for name, description in downloadable():
            if name not in downloaded:
                options.append(Option(Text.assemble(("↓ ", "bold"), name, (f"  {description}", "dim")),
                                      id=f"get:{name}"))
        if not options:
            options.append(Option(Text("no corpora yet: give a path below", style="dim"), id="none", disabled=True))
        olist = self.query_one("#corpus-list", OptionList)
        olist.clear_options()
        olist.add_options(options)

    # -- choosing --------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#corpus-list")
    def _option(self, event: OptionList.OptionSelected) -> None:
        kind, _, name = (event.option.id or "").partition(":")
        if kind == "get":
            self.download(name)
        else:
            self.load(name)

    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def _tree(self, event: DirectoryTree.FileSelected | DirectoryTree.DirectorySelected) -> None:
        self.query_one("#corpus-path", Input).value = str(event.path)
        if isinstance(event, DirectoryTree.FileSelected):
            self.load(str(event.path))

    def action_focus_path(self) -> None:
        """Like a browser's address bar: type a path, enter loads it."""
        self.query_one("#corpus-path", Input).focus()

    @on(Input.Submitted, "#corpus-path")
    def action_load_path(self) -> None:
        path = self.query_one("#corpus-path", Input).value.strip()
        if not path:
            self.app.notify("Type a file or folder path first.", severity="warning")
            return
        if needs_download(path, self.app.corpora):
            self.download(path)
        else:
            self.load(str(Path(path).expanduser()))
        self.query_one("#corpus-list").focus()  # out of the field, so 1-5 switch tabs again

    @on(Input.Submitted, "#vocab-size")
    @on(Checkbox.Changed, "#lowercase")
    def _options_changed(self, event: Input.Submitted | Checkbox.Changed) -> None:
        app: Any = self.app
        if isinstance(event, Input.Submitted):
            if self.vocab_size() is None:
                return  # said in a notification; the field keeps the focus to be corrected
            self.query_one("#corpus-list").focus()
        if app.corpus is not None:
            self.load(app.corpus_spec)

    def vocab_size(self) -> int | None:
        """The vocabulary size typed, or None after a notification saying why it cannot be used."""
        field = self.query_one("#vocab-size", Input)
        problem = vocab_problem(field.value)
        if problem is not None:
            self.app.notify(f"{problem}; the statistics are not recomputed", title="Vocabulary size",
                            severity="error", timeout=8)
            return None
        return int(field.value.strip())

    def load(self, spec: str) -> None:
        """Read the corpus and its statistics in a thread; the result arrives as a message."""
        lowercase = self.query_one("#lowercase", Checkbox).value
        vocab_size = self.vocab_size()
        if vocab_size is None:
            return
        self.loading_label(f"Loading {spec} …")
        self._load(spec, lowercase, vocab_size)

    def loading_label(self, text: str) -> None:
        self.query_one(CorpusStats).loading = bool(text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="corpus")
    def _load(self, spec: str, lowercase: bool, vocab_size: int) -> None:
        from rnngen.corpus import load_corpus

        def progress(phase: str, done: int, total: int) -> None:
            self.post_message(CorpusProgressed(spec, phase, done, total))

        try:
            corpus = load_corpus(spec, lowercase=lowercase, root=self.app.corpora, progress=progress)
            stats = compute_stats(corpus, vocab_size)
        except Exception as exc:  # shown, never fatal: a bad file must not end the session
            self.post_message(CorpusFailed(spec, describe_error(exc)))
            if not isinstance(exc, RnngenError):
                raise  # a bug: the app logs its traceback (RnngenApp.on_worker_state_changed)
            return
        self.post_message(CorpusLoaded(spec, corpus, stats))

    @on(CorpusProgressed)
    def _preparing(self, message: CorpusProgressed) -> None:
        self.show_preparing(message)

    def show_preparing(self, message: CorpusProgressed | None) -> None:
        """The phase and a bar while a corpus is read, tokenized and cached (a cached one never shows them)."""
        label, bar = self.query_one("#prepare-phase", Label), self.query_one("#prepare-progress", ProgressBar)
        label.display = bar.display = message is not None
        if message is not None:
            label.update(f"{message.phase}…{message.share}")
            bar.update(total=message.total or None, progress=message.done)

    @on(CorpusLoaded)
    def _loaded(self, message: CorpusLoaded) -> None:
        app: Any = self.app
        self.show_preparing(None)
        self.loading_label("")
        app.set_corpus(message.spec, message.corpus, {"lowercase": self.query_one("#lowercase", Checkbox).value})
        self.query_one(CorpusStats).show(message.stats)
        for warning in message.corpus.warnings:
            app.notify(warning, title="Corpus", severity="warning")

    @on(CorpusFailed)
    def _failed(self, message: CorpusFailed) -> None:
        self.show_preparing(None)
        self.loading_label("")
        self.app.notify(message.error, title=f"Cannot load {message.spec}", severity="error", timeout=8)

    # -- downloading -------------------------------------------------------------------
    def download(self, name: str) -> None:
        bar = self.query_one("#download-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.app.notify(f"Downloading {name} …", title="Corpus")
        self._download(name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="download")
    def _download(self, name: str) -> None:
        from rnngen.corpus import registry

        def progress(done: int, total: int | None = None, *_: Any) -> None:
            self.post_message(DownloadProgressed(name, done, total))

        try:
            registry.download(name, progress=progress, root=self.app.corpora)
        except Exception as exc:
            self.post_message(DownloadFinished(name, describe_error(exc)))
            if not isinstance(exc, RnngenError):
                raise  # a bug: the app logs its traceback
            return
        self.post_message(DownloadFinished(name))

    @on(DownloadProgressed)
    def _progressed(self, message: DownloadProgressed) -> None:
        self.query_one("#download-progress", ProgressBar).update(total=message.total, progress=message.done)

    @on(DownloadFinished)
    def _downloaded(self, message: DownloadFinished) -> None:
        self.query_one("#download-progress").display = False
        if message.error:
            self.app.notify(message.error, title=f"Cannot download {message.name}", severity="error", timeout=8)
            return
        self.refresh_sources()
        self.load(message.name)
