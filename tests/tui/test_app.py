"""The app shell: tabs and their keys, status bar, help, command palette, theme, errors."""

from __future__ import annotations

from textual.widgets import Input, TabbedContent

from rnngen.lm import LanguageModel
from rnngen.tui.app import RnngenApp, error_log
from rnngen.tui.commands import RnngenCommands, app_commands
from rnngen.tui.screens.help import HelpScreen, help_text, key_rows
from rnngen.tui.widgets.status_bar import StatusBar
from tests.tui.conftest import notifications, shown, wait_for


def status_text(app) -> str:
    return shown(app.query_one(StatusBar))


async def test_keys_1_to_6_switch_tabs_in_order(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        tabs = app.query_one("#tabs", TabbedContent)
        assert [p.id for p in tabs.query("#tabs > ContentSwitcher > TabPane")] == [
            "corpus", "train", "score", "generate", "models", "inside"]
        for key, tab in zip("562341", ["models", "inside", "train", "score", "generate", "corpus"]):
            await pilot.press(key)
            assert tabs.active == tab


async def test_digits_typed_in_a_field_stay_there_and_escape_gives_keys_back(app):
    async with app.run_test(size=(120, 35)) as pilot:
        field = app.query_one("#corpus-path", Input)
        field.focus()
        await pilot.press("2", "5")
        assert field.value == "25"
        assert app.query_one("#tabs", TabbedContent).active == "corpus"
        await pilot.press("escape", "2")
        assert app.query_one("#tabs", TabbedContent).active == "train"


async def test_status_bar_shows_model_and_corpus(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        assert "model: none loaded" in status_text(app)
        assert "corpus: tiny" in status_text(app)
        app.lm = LanguageModel.load(app_env / "checkpoints" / "tiny")
        await pilot.pause()
        assert "model: tiny (lstm 1x32, ppl 4.2)" in status_text(app)


async def test_help_opens_with_question_mark_and_f1(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)


def test_help_lists_every_shown_key_of_every_tab():
    from rnngen.tui.screens.corpus import CorpusPane
    from rnngen.tui.screens.generate import GeneratePane
    from rnngen.tui.screens.inside import InsidePane
    from rnngen.tui.screens.models import ModelsPane
    from rnngen.tui.screens.score import ScorePane
    from rnngen.tui.screens.train import TrainPane

    from rnngen.tui.widgets.candidates import CandidatesPanel
    from rnngen.tui.widgets.heatmap import HeatMap
    from rnngen.tui.widgets.unit_grid import UnitGrid

    text = help_text()
    for owner, title in ((CorpusPane, "Corpus"), (TrainPane, "Train"), (ScorePane, "Score"), (HeatMap, "Score"),
                         (CandidatesPanel, "Score"), (GeneratePane, "Generate"), (ModelsPane, "Models"),
                         (InsidePane, "Inside"), (UnitGrid, "Inside")):
        assert f"## {title}" in text
        section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
        for keys, description in key_rows(owner.BINDINGS):
            assert f"| `{keys}` | {description} |" in section
    for row in ("| `ctrl+s` | Start |", "| `ctrl+x` | Stop |", "| `ctrl+l` | Sentence/Candidates |",
                "| `ctrl+g` | Generate |", "| `1-9` | Pick |", "| `space` | Model picks |", "| `c` | Compare |",
                "| `d / delete` | Delete |", "| `ctrl+r` | Rank |", "| `ctrl+o` | Open file |", "| `←→` | Word |",
                "| `ctrl+f` | Match span |", "| `shift+←→` | Span |"):
        assert row in text
    assert "Pick 2" not in text and "Refresh" not in text  # hidden bindings stay out


async def test_palette_lists_app_actions_and_runs_them(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        names = {name: callback for name, callback, _ in app_commands(app)}
        for expected in ("Go to Corpus", "Go to Models", "Start training", "Stop training", "Help",
                         "Use built-in corpus: tiny", "Load model: tiny", "Load model: tiny-gru",
                         "Toggle light/dark theme"):
            assert expected in names
        assert "Load model: broken" not in names  # unreadable models cannot be loaded
        names["Go to Models"]()
        await pilot.pause()
        assert app.query_one("#tabs", TabbedContent).active == "models"
        names["Load model: tiny-gru"]()
        await wait_for(pilot, lambda: app.lm is not None)
        assert app.lm.name == "tiny-gru"
        assert RnngenCommands in RnngenApp.COMMANDS


async def test_palette_search_finds_commands(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to train")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one("#tabs", TabbedContent).active == "train")


async def test_theme_toggles_between_light_and_dark(app):
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"


async def test_light_terminal_starts_in_light_theme(app_env, monkeypatch):
    from rnngen.tui.app import make_app

    monkeypatch.setenv("COLORFGBG", "0;15")
    app = make_app(checkpoints=app_env / "checkpoints", corpora=app_env / "corpora")
    async with app.run_test(size=(80, 24)):
        assert app.theme == "textual-light"


async def test_unexpected_worker_error_is_a_notification_not_a_crash(app):
    async with app.run_test(size=(80, 24)) as pilot:
        def boom() -> None:
            raise ValueError("kaput")

        app.run_worker(boom, thread=True, exit_on_error=False)
        await wait_for(pilot, lambda: any("kaput" in n for n in notifications(app)))
        assert app.is_running
        assert notifications(app) == [f"Unexpected error: ValueError: kaput (traceback in {error_log()})"]


# Each tab's own keys, and a text field in it to leave with escape.
TAB_KEYS = {"corpus": ("#corpus-path", None), "train": ("#out-name", "ctrl+s"), "score": ("#score-input", "ctrl+l"),
            "generate": ("#gen-prompt", "ctrl+g"), "models": (None, None)}


async def test_escape_leaves_a_field_but_keeps_every_tabs_own_keys(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        app.lm = LanguageModel.load(app_env / "checkpoints" / "tiny")
        await pilot.pause()
        tabs = app.query_one("#tabs", TabbedContent)
        for number, (tab, (field, key)) in enumerate(TAB_KEYS.items(), 1):
            await pilot.press(str(number))
            await pilot.pause()
            assert tabs.active == tab
            if field is None:
                continue
            app.query_one(field, Input).focus()
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            focused = app.focused
            assert focused is not None and tabs.active_pane in focused.ancestors, tab
            assert not isinstance(focused, Input), tab
            if key is not None:
                assert key in app.screen.active_bindings, (tab, key)
        # and the digits switch tabs again
        await pilot.press("1")
        assert tabs.active == "corpus"


async def test_ctrl_x_stops_training_after_escape(app, app_env):
    from tests.tui.test_train_screen import TINY, fill

    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await fill(pilot, app, {**TINY, "epochs": "500", "sample_every": "0"}, "esc-stop")
        await pilot.press("ctrl+s")
        pane = app.query_one("TrainPane")
        await wait_for(pilot, lambda: pane.training)
        app.query_one("#out-name", Input).focus()
        await pilot.press("escape", "ctrl+x")
        await wait_for(pilot, lambda: not pane.training, 60)
        assert app.lm is not None and len(app.lm.history["epochs"]) < 500


async def test_without_a_model_the_score_tab_keeps_the_keys_it_names(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        tabs = app.query_one("#tabs", TabbedContent)
        await pilot.press("3")
        await pilot.pause()
        assert "Models tab (5)" in shown(app.query_one("#score-hint"))
        await pilot.press(*"abc", "ctrl+l", "4")
        await pilot.pause()
        assert tabs.active == "generate"
        await pilot.press("3", "5")
        await pilot.pause()
        assert tabs.active == "models"


async def test_a_burst_of_keys_right_after_the_switch_reaches_the_score_field(app, app_env):
    from textual import events

    async with app.run_test(size=(120, 35)) as pilot:
        app.lm = LanguageModel.load(app_env / "checkpoints" / "tiny")
        await pilot.pause()
        await pilot.press("3", *"show me flights from boston .")  # no pause: as a paste without bracketed paste
        await pilot.pause()
        field = app.query_one("#score-input", Input)
        assert field.value == "show me flights from boston ."
        field.value = ""
        await pilot.press("escape", "1", "3")
        app.post_message(events.Paste("the cat sat ."))  # a paste right after the switch, before any click
        await pilot.pause()
        await pilot.pause()
        assert field.value == "the cat sat ."


async def test_a_long_question_wraps_inside_its_dialog(app):
    from rnngen.tui.screens.dialogs import ConfirmScreen

    question = "A model named 'travel-tutorial-with-a-long-name' exists. Train a new one over it?"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ConfirmScreen(question, "Replace"))
        await pilot.pause()
        label = app.screen.query_one("#question")
        assert label.size.height >= 2
        assert " ".join(shown(label, width=label.size.width).split()) == question


async def test_a_bug_in_a_worker_is_notified_and_its_traceback_logged(app, monkeypatch, tmp_path):
    log = tmp_path / "errors.log"
    monkeypatch.setenv("RNNGEN_ERROR_LOG", str(log))

    def broken(path):
        raise TypeError("a bug in loading")

    monkeypatch.setattr(LanguageModel, "load", staticmethod(broken))
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        app.load_model("checkpoints/tiny")
        await wait_for(pilot, lambda: any("Unexpected error" in n for n in notifications(app)))
        assert any(n.startswith("Cannot load tiny: TypeError: a bug in loading") for n in notifications(app))
        assert f"(traceback in {log})" in " ".join(notifications(app))
        text = log.read_text()
        assert "Traceback (most recent call last)" in text and "TypeError: a bug in loading" in text
        assert app.is_running  # the app lives on


async def test_a_user_error_in_a_worker_is_one_notification_and_no_log(app, monkeypatch, tmp_path):
    log = tmp_path / "errors.log"
    monkeypatch.setenv("RNNGEN_ERROR_LOG", str(log))
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        app.load_model("checkpoints/broken")
        await wait_for(pilot, lambda: any("Cannot load broken" in n for n in notifications(app)))
        await pilot.pause(0.2)
        assert not any("Unexpected error" in n for n in notifications(app)) and not log.exists()


async def test_the_app_passes_its_folders_to_the_engine_and_leaves_the_environment_alone(app_env, monkeypatch):
    import os

    from rnngen.tui.app import make_app

    monkeypatch.delenv("RNNGEN_CHECKPOINTS", raising=False)
    monkeypatch.delenv("RNNGEN_CORPORA", raising=False)
    before = dict(os.environ)
    app = make_app(checkpoints=app_env / "checkpoints", corpora=app_env / "corpora")
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        assert [r["name"] for r in app.checkpoint_rows()] == ["broken", "tiny", "tiny-gru"]
        assert app.checkpoints == app_env / "checkpoints" and app.corpora == app_env / "corpora"
    assert dict(os.environ) == before
