"""Models tab: list, load, rename, delete, compare; a corrupt checkpoint is listed and refused."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from rnngen.tui.screens.compare import CompareScreen
from rnngen.tui.screens.dialogs import ConfirmScreen, PromptScreen
from rnngen.tui.screens.models import ModelsPane
from rnngen.tui.widgets.status_bar import StatusBar
from tests.tui.conftest import notifications, shown, wait_for


def table_rows(app) -> list[list[str]]:
    table = app.query_one("#models-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def goto(pilot, app, name: str) -> None:
    await pilot.pause()
    await pilot.press("5")
    pane = app.query_one(ModelsPane)
    index = [r["name"] for r in pane.rows].index(name)
    app.query_one("#models-table", DataTable).move_cursor(row=index)
    await pilot.pause()


async def test_table_lists_models_and_the_unreadable_one(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("5")
        rows = table_rows(app)
        assert [r[1] for r in rows] == ["broken", "tiny", "tiny-gru"]
        assert rows[0][2] == "unreadable"
        assert rows[1][1:] == ["tiny", "lstm", "1×32", "tiny", "4.15", "15", rows[1][7], "6", "2026-01-01 00:00"]
        assert [str(c.label) for c in app.query_one("#models-table", DataTable).columns.values()][7] == "params"
        assert rows[2][2:6] == ["gru", "1×32", "tiny", "4.30"]
        await goto(pilot, app, "broken")
        assert "cannot be read" in shown(app.query_one("#model-detail"))


async def test_load_and_corrupt_load(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        await goto(pilot, app, "broken")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("Cannot load broken" in n for n in notifications(app)))
        assert app.lm is None
        await goto(pilot, app, "tiny-gru")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.lm is not None)
        assert app.lm.name == "tiny-gru" and app.lm.model_config.rnn_type == "gru"
        await pilot.pause()
        assert table_rows(app)[2][0] == "▶"  # the loaded model is marked


async def test_rename_moves_the_folder_and_refuses_taken_names(app, app_env):
    ck = app_env / "checkpoints"
    async with app.run_test(size=(120, 35)) as pilot:
        await goto(pilot, app, "tiny-gru")
        await pilot.press("r")
        assert isinstance(app.screen, PromptScreen)
        answer = app.screen.query_one("#answer", Input)
        answer.value = "tiny"  # taken
        await pilot.pause()
        assert app.screen.query_one("#ok").disabled
        answer.value = "gru-model"
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: (ck / "gru-model").is_dir())
        assert not (ck / "tiny-gru").exists()
        assert [r[1] for r in table_rows(app)] == ["broken", "gru-model", "tiny"]


async def test_delete_asks_first_and_removes_the_folder(app, app_env):
    ck = app_env / "checkpoints"
    async with app.run_test(size=(120, 35)) as pilot:
        await goto(pilot, app, "tiny")
        app.load_model(ck / "tiny")
        await wait_for(pilot, lambda: app.lm is not None)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert (ck / "tiny").is_dir()
        await pilot.press("d")
        await pilot.press("y")
        await wait_for(pilot, lambda: not (ck / "tiny").exists())
        assert [r[1] for r in table_rows(app)] == ["broken", "tiny-gru"]
        assert app.lm is None  # the deleted model is no longer the loaded one
        # the unreadable folder can be deleted too
        await goto(pilot, app, "broken")
        await pilot.press("delete", "y")
        await wait_for(pilot, lambda: not (ck / "broken").exists())


async def test_compare_two_marked_models(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await goto(pilot, app, "tiny")
        await pilot.press("space")
        await goto(pilot, app, "tiny-gru")
        await pilot.press("space")
        assert [r[0] for r in table_rows(app)] == ["", "✓", "✓"]
        await pilot.press("c")
        assert isinstance(app.screen, CompareScreen)
        table = app.screen.query_one(DataTable)
        rows = {str(table.get_row_at(i)[1]): [str(c) for c in table.get_row_at(i)[2:]] for i in range(table.row_count)}
        assert rows["best valid ppl"] == ["4.15", "4.30"]
        assert rows["model.rnn_type"] == ["lstm", "gru"]
        assert rows["epochs"] == ["6", "4"]
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_compare_needs_two(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await goto(pilot, app, "broken")
        await pilot.press("c")
        assert any("Mark two models" in n for n in notifications(app))


async def test_the_list_shows_every_column_but_params_at_80_columns(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        table = app.query_one("#models-table", DataTable)
        headers = [str(c.label) for c in table.columns.values()]
        assert headers == ["", "name", "type", "L×H", "corpus", "ppl", "vocab", "epochs", "date"]
        assert table.max_scroll_x == 0  # nothing hidden to the right
        assert table_rows(app)[1][1:] == ["tiny", "lstm", "1×32", "tiny", "4.15", "15", "6", "01-01 00:00"]
        await goto(pilot, app, "tiny")
        assert "parameters" in shown(app.query_one("#model-detail"))  # the dropped column is in the detail


async def test_compare_at_80x24_keeps_names_and_both_models_and_marks_differences(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, app, "tiny")
        await pilot.press("space")
        await goto(pilot, app, "tiny-gru")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))  # a busy machine opens it later
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.fixed_columns == 2
        assert [str(c.label) for c in table.columns.values()] == ["", "setting", "tiny", "tiny-gru"]
        assert table.max_scroll_x == 0  # both models' columns are on screen
        assert app.screen.query_one("#compare-plot").region.y > table.region.y  # the plot goes below
        rows = {str(table.get_row_at(i)[1]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert rows["model.rnn_type"] == ["≠", "model.rnn_type", "lstm", "gru"]
        assert rows["model.hidden"] == ["", "model.hidden", "32", "32"]
        assert rows["best valid ppl"][0] == "≠"


async def test_an_ngram_loads_scores_and_mixes_into_the_loaded_rnn(app, app_env):
    """An n-gram folder is listed and loaded like a model; `m` mixes it into the loaded RNN, and the Score
    tab's numbers are then the mixture's (the CLI's `--ngram`)."""
    from rnngen.mixture import Mixture
    from rnngen.ngram import NgramModel
    from rnngen.tui.screens.score import ScorePane
    from tests.conftest import tiny_corpus

    NgramModel.estimate(tiny_corpus(), 3, 100).save(app_env / "checkpoints" / "kn")
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, app, "kn")
        assert [r[2:4] for r in table_rows(app) if r[1] == "kn"] == [["3-gram", "KN"]]
        await pilot.press("m")
        await wait_for(pilot, lambda: any("Load an RNN model first" in n for n in notifications(app)))
        await pilot.press("l")
        await wait_for(pilot, lambda: app.lm is not None)
        assert isinstance(app.lm, NgramModel) and "kn (3-gram" in shown(app.query_one(StatusBar))
        await goto(pilot, app, "tiny")
        await pilot.press("l")
        await wait_for(pilot, lambda: getattr(app.lm, "name", "") == "tiny")
        await goto(pilot, app, "kn")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.lm, Mixture))
        assert app.lm.rnn.name == "tiny" and 0 <= app.lm.lam <= 1 and app.lm.tuned_on
        assert any("tiny mixed with kn: λ" in n for n in notifications(app))
        await pilot.press("3")
        field = app.query_one("#score-input", Input)
        field.value = "the cat sat on the mat ."
        await pilot.press("enter")
        pane = app.query_one(ScorePane)
        await wait_for(pilot, lambda: pane.score is not None)
        assert pane.score.logprob == pytest.approx(app.lm.score(["the cat sat on the mat ."])[0].logprob)
        assert [d.logprob for d in pane.details] == pytest.approx([t.logprob for t in pane.score.tokens], abs=1e-5)


async def test_estimate_an_ngram_write_it_as_arpa_and_load_that_file_from_the_palette(app, app_env, tmp_path):
    from rnngen.ngram import NgramModel
    from rnngen.tui.commands import app_commands
    from rnngen.tui.screens.dialogs import PromptScreen

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        commands = {name: callback for name, callback, _ in app_commands(app)}
        commands["Estimate a Kneser-Ney 5-gram of the corpus"]()
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one("#answer", Input).value = "tiny-kn5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.lm, NgramModel))
        assert app.lm.name == "tiny-kn5" and (app_env / "checkpoints" / "tiny-kn5" / "config.json").is_file()
        assert any("N-gram saved: tiny-kn5: 5-gram" in n for n in notifications(app))
        await pilot.press("5")
        assert "tiny-kn5" in [r[1] for r in table_rows(app)]
        arpa_path = tmp_path / "tiny.arpa.gz"
        commands["Write the n-gram as an ARPA file"]()
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = str(arpa_path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: arpa_path.is_file())
        commands["Load a model or an ARPA file from a path"]()
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = str(arpa_path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: getattr(app.lm, "name", "") == "tiny.arpa.gz")
        estimated = NgramModel.load(app_env / "checkpoints" / "tiny-kn5")
        text = ["the cat sat on the mat ."]
        assert app.lm.score(text)[0].logprob == pytest.approx(estimated.score(text)[0].logprob, abs=1e-4)
