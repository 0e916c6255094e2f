"""While a model trains in its worker thread, keys are still answered (the 100 ms figure: bench/tui_latency.py)."""

from __future__ import annotations

from textual.widgets import TabbedContent
from textual.worker import WorkerState

from rnngen.tui.screens.train import TrainPane
from rnngen.tui.widgets.training_plots import TrainingPlots
from tests.tui.conftest import wait_for
from tests.tui.test_train_screen import TINY, fill


async def test_keys_switch_tabs_while_training_runs(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await fill(pilot, app, {**TINY, "epochs": "500", "sample_every": "0"}, "busy")
        await pilot.press("ctrl+s")
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: len(app.query_one(TrainingPlots).loss) >= 2, 60)
        [worker] = [w for w in app.workers if w.group == "train"]
        tabs = app.query_one("#tabs", TabbedContent)
        for key, tab in zip("15342", ["corpus", "models", "score", "generate", "train"]):
            await pilot.press(key)
            assert tabs.active == tab
            assert worker.state == WorkerState.RUNNING and pane.training  # answered during training
        # the help screen opens and closes while training, too
        await pilot.press("question_mark")
        await pilot.press("escape")
        assert worker.state == WorkerState.RUNNING
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: not pane.training, 60)
        assert app.lm is not None and app.lm.name == "busy"
