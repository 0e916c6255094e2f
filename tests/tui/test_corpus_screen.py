"""Corpus tab: the built-in corpus, a local file through the path field and the tree, and bad paths."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, OptionList, Static

from rnngen.corpus import load_corpus
from rnngen.tui.screens.corpus import CorpusPane
from tests.tui.conftest import notifications, shown, wait_for


def summary(app) -> str:
    """The statistics, whitespace collapsed within each line."""
    text = shown(app.query_one("#stats-summary", Static))
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


async def test_builtin_corpus_is_listed_loaded_and_described(app):
    async with app.run_test(size=(120, 35)) as pilot:
        options = app.query_one("#corpus-list", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "load:tiny" in ids
        # the current built-in corpus is loaded at start; choosing it again reloads it
        options.highlighted = ids.index("load:tiny")
        options.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.loaded_corpus() is not None)
        corpus = app.loaded_corpus()
        assert app.corpus_spec == "tiny" and corpus.name == "tiny"
        text = summary(app)
        # 180 train sentences of 6-7 tokens; 6 valid and 6 test sentences
        assert "sentences 180 6 6" in text
        train_tokens = sum(len(s) for s in corpus.train)
        assert f"tokens {train_tokens:,} 40 40" in text
        assert "word types 12" in text
        assert "OOV (valid) 0.00%" in text and "top 8,000 cover 100.0%" in text
        preview = shown(app.query_one("#preview", Static))
        assert "the · cat · sat · on · the · mat · ." in preview
        top = shown(app.query_one("#top-words", Static))
        assert "the" in top


async def test_local_file_by_path_and_vocab_size_change(app, app_env):
    story = app_env / "browse" / "story.txt"
    async with app.run_test(size=(120, 35)) as pilot:
        field = app.query_one("#corpus-path", Input)
        field.focus()
        field.value = str(story)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.corpus_spec == str(story))
        expected = load_corpus(story)
        corpus = app.loaded_corpus()
        assert [len(corpus.train), len(corpus.valid), len(corpus.test)] == [
            len(expected.train), len(expected.valid), len(expected.test)]
        assert f"sentences {len(expected.train)} {len(expected.valid)} {len(expected.test)}" in summary(app)
        # a vocabulary of 4 (3 specials + 1 word) leaves most valid tokens out of vocabulary
        vocab = app.query_one("#vocab-size", Input)
        vocab.value = "4"
        vocab.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "top 4 cover" in summary(app))
        assert "OOV (valid)" in summary(app)


async def test_file_tree_selects_and_loads_a_file(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        pane = app.query_one(CorpusPane)
        tree = pane.query_one("#corpus-tree")
        await wait_for(pilot, lambda: tree.root.children)
        names = [str(node.label) for node in tree.root.children]
        assert any("story.txt" in n for n in names)
        node = next(n for n in tree.root.children if "story.txt" in str(n.label))
        tree.select_node(node)
        await wait_for(pilot, lambda: app.corpus_spec.endswith("story.txt"))
        assert app.query_one("#corpus-path", Input).value == str(app_env / "browse" / "story.txt")


async def test_bad_path_is_a_notification_and_keeps_the_corpus(app, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: app.loaded_corpus() is not None)
        field = app.query_one("#corpus-path", Input)
        for bad, message in ((tmp_path / "missing.txt", "no such file or folder"), (empty, "is empty")):
            field.value = str(bad)
            field.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(message in n for n in notifications(app)))
        assert app.corpus_spec == "tiny" and app.is_running


async def test_lowercase_option_reloads_lowercased(app, app_env):
    story = app_env / "browse" / "story.txt"
    async with app.run_test(size=(120, 35)) as pilot:
        app.query_one(CorpusPane).load(str(story))
        await wait_for(pilot, lambda: app.corpus_spec == str(story))
        assert any(w == "Once" for s in app.loaded_corpus().train for w in s)
        app.query_one("#lowercase", Checkbox).value = True
        await wait_for(pilot, lambda: app.corpus_options.get("lowercase"))
        assert not any(w == "Once" for s in app.loaded_corpus().train for w in s)


async def test_registry_corpora_are_offered_for_download(app):
    from rnngen.corpus.registry import CORPORA

    async with app.run_test(size=(120, 35)):
        options = app.query_one("#corpus-list", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert [i for i in ids if i.startswith("get:")] == [f"get:{name}" for name in CORPORA]


async def test_failed_download_shows_progress_then_a_notification(app, monkeypatch):
    from rnngen.corpus import registry
    from rnngen.errors import DownloadError

    seen = []

    def fake_download(name, progress=None, **kw):
        progress(512, 2048, name)
        seen.append(name)
        raise DownloadError(f"cannot reach the server for {name}: you seem to be offline")

    monkeypatch.setattr(registry, "download", fake_download)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        field = app.query_one("#corpus-path", Input)
        field.focus()
        field.value = "gutenberg:1342"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("offline" in n for n in notifications(app)))
        assert seen == ["gutenberg:1342"]
        assert "Cannot download gutenberg:1342: cannot reach the server" in " ".join(notifications(app))
        assert not app.query_one("#download-progress").display
        assert app.corpus_spec == "tiny"


async def test_backspace_in_the_tree_climbs_to_the_parent_folder(app, app_env):
    from pathlib import Path

    from rnngen.tui.screens.corpus import QuietTree

    async with app.run_test(size=(120, 35)) as pilot:
        tree = app.query_one(QuietTree)
        start = Path(tree.path).resolve()
        tree.focus()
        await pilot.press("backspace")
        await pilot.pause()
        assert Path(tree.path).resolve() == start.parent
        assert "backspace" in app.screen.active_bindings


async def test_a_vocabulary_size_below_the_engine_minimum_says_so(app):
    from dataclasses import replace

    from rnngen.config import ModelConfig
    from rnngen.errors import ConfigError

    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: app.loaded_corpus() is not None)
        field = app.query_one("#vocab-size", Input)
        assert field.value == str(ModelConfig().vocab_size)
        for bad in ("2", "lots"):
            field.value = bad
            field.focus()
            await pilot.press("enter")
            await pilot.pause()
            message = notifications(app)[-1]
            if bad == "2":
                try:
                    replace(ModelConfig(), vocab_size=2).validate()
                except ConfigError as exc:
                    assert str(exc) in message  # the engine's own rule and words
            else:
                assert "whole number" in message
            assert app.focused is field


async def test_the_histogram_title_fits_its_width(app):
    from rnngen.tui.widgets.corpus_stats import TitledPlot

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.loaded_corpus() is not None)
        await pilot.pause()
        plot = app.query_one(TitledPlot)
        plot.render()
        assert plot.shown_title and len(plot.shown_title) <= plot.size.width - 2
        assert plot.shown_title == next(t for t in plot.titles if len(t) <= plot.size.width - 2)


async def test_preparing_a_corpus_shows_its_phase_and_a_bar_then_hides_them(app, app_env, monkeypatch):
    """Reading, tokenizing and caching report to the tab while the worker prepares the text; a cached corpus
    (the second load) reports nothing, so the bar never shows."""
    from textual.widgets import Label, ProgressBar

    from rnngen.tui.messages import CorpusLoaded, CorpusProgressed

    story = app_env / "browse" / "story.txt"
    seen: list[tuple[str, int, int]] = []
    loaded: list[str] = []
    post = CorpusPane.post_message

    def record(self, message):
        if isinstance(message, CorpusProgressed):
            seen.append((message.phase, message.done, message.total))
        elif isinstance(message, CorpusLoaded):
            loaded.append(message.spec)
        return post(self, message)

    monkeypatch.setattr(CorpusPane, "post_message", record)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(CorpusPane)
        bar, label = app.query_one("#prepare-progress", ProgressBar), app.query_one("#prepare-phase", Label)
        pane.show_preparing(CorpusProgressed(str(story), "tokenizing", 30, 120))
        await pilot.pause()
        assert bar.display and bar.total == 120 and bar.progress == 30 and "tokenizing… 25%" in shown(label)
        pane.load(str(story))
        await wait_for(pilot, lambda: str(story) in loaded)
        await pilot.pause()
        assert {phase for phase, _, _ in seen} >= {"reading", "tokenizing", "caching"}
        assert all(done <= total for _, done, total in seen if total) and not bar.display
        seen.clear()
        pane.load(str(story))
        await wait_for(pilot, lambda: loaded.count(str(story)) == 2)
        await pilot.pause()
        assert seen == [] and not bar.display
