"""Train tab attached to an events file: a run started elsewhere drawn through the same handlers, live."""

from __future__ import annotations

import math
from pathlib import Path

from textual.widgets import Button, Input, ProgressBar

from rnngen import events
from rnngen.events import EventWriter
from rnngen.tui.commands import app_commands
from rnngen.tui.screens.dialogs import PromptScreen
from rnngen.tui.screens.train import TrainPane
from rnngen.tui.widgets.training_plots import TrainingPlots
from tests.tui.conftest import notifications, shown, wait_for
from tests.tui.test_train_screen import log_text as wrapped_log


def log_text(app) -> str:
    """The log as one string, its wrapped lines joined again (a wrapped line keeps its space at the end; a path
    too long for the pane is cut mid-word, so line ends are dropped: the checks look for phrases, not lines)."""
    return wrapped_log(app).replace(" \n", " ").replace("\n", "")

BATCHES = 10


def epoch_events(epoch: int, ppl: float) -> list:
    """One epoch of a run as the trainer reports it: gradients and a batch every 2 batches, then the epoch."""
    out: list = []
    for batch in range(2, BATCHES + 1, 2):
        out.append(events.Gradients(epoch, batch, BATCHES, (0.5, 3.0), 1.0, 1))
        out.append(events.BatchDone(epoch, batch, BATCHES, 5.0 - epoch - batch / 100, 20.0, 1234.0,
                                    epoch * 10.0 + batch, 30.0))
    out.append(events.EpochDone(epoch, 4.0, math.log(ppl), ppl, 20.0, True, epoch * 10.0, 3, BATCHES))
    out.append(events.Checkpointed(Path("/remote/checkpoints/far"), epoch, ppl))
    return out


STARTED = events.Started(2, BATCHES, 5000, 99, 4321, "cuda:0")
FINISHED = events.Finished("epochs", 2, 40.0, Path("/remote/checkpoints/far"), 20.0)


def write(path: Path, evs: list, append: bool = True) -> None:
    with EventWriter(path, append=append) as writer:
        for event in evs:
            writer.write(event)


def asked(app) -> bool:
    """The path prompt is up, its field ready."""
    return isinstance(app.screen, PromptScreen) and bool(app.screen.query("#answer"))


async def attach(pilot, app, path: Path) -> TrainPane:
    """Attach with the keys a person uses: ctrl+o on the Train tab, the path, enter."""
    await pilot.press("2")
    await pilot.pause()
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: asked(app))
    app.screen.query_one("#answer", Input).value = str(path)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(app.screen, PromptScreen))
    return app.query_one(TrainPane)


async def test_a_finished_run_is_replayed_whole_and_said_finished(app, tmp_path):
    path = tmp_path / "ev.jsonl"
    write(path, [STARTED, *epoch_events(1, 60.0), *epoch_events(2, 40.0), FINISHED], append=False)
    async with app.run_test(size=(120, 35)) as pilot:
        pane = await attach(pilot, app, path)
        await wait_for(pilot, lambda: pane.attached is None and "finished" in log_text(app))
        plots = app.query_one(TrainingPlots)
        assert plots.ppl == [(1, 60.0), (2, 40.0)]
        assert len(plots.loss) == 2 * BATCHES // 2  # every BatchDone drawn
        assert plots.batches == 2 * BATCHES and plots.clipped == 2 * BATCHES // 2
        bar = app.query_one("#train-progress", ProgressBar)
        assert bar.progress == bar.total
        log = log_text(app)
        assert f"attached to {path}" in log and "4,321 parameters" in log and "on cuda:0" in log
        assert "finished: all epochs done after 2 epoch(s); best valid ppl 40.00" in log
        assert f"The run in {path} finished (best valid ppl 40.00)." in shown(app.query_one("#train-status"))
        assert any("Attached run finished" in n for n in notifications(app))
        assert not app.query_one("#start", Button).disabled and app.query_one("#stop", Button).disabled
        assert app.focused is not None and not app.focused.disabled  # not lost with Stop: the keys stay offered
        assert app.lm is None or app.lm.name != "far"  # the remote model is not loaded: it may not be here


async def test_lines_appended_while_attached_arrive_and_ctrl_x_detaches(app, tmp_path):
    path = tmp_path / "ev.jsonl"
    write(path, [STARTED, *epoch_events(1, 60.0)[:4]], append=False)
    async with app.run_test(size=(120, 35)) as pilot:
        pane = await attach(pilot, app, path)
        plots = app.query_one(TrainingPlots)
        await wait_for(pilot, lambda: len(plots.loss) == 2)
        assert pane.attached == path
        status = shown(app.query_one("#train-status"))
        assert "epoch 1 · batch 4/10" in status and "following ev.jsonl · ctrl+x detaches" in status
        # a local run and an attached one never mix
        assert app.query_one("#start", Button).disabled and app.query_one("#resume", Button).disabled
        assert not app.query_one("#stop", Button).disabled
        assert pane.check_action("start", ()) is False and pane.check_action("stop", ()) is True
        await pilot.press("ctrl+s")  # offered nowhere, does nothing
        await pilot.pause()
        assert not pane.training and pane.attached == path
        app.action_start_training()  # the palette's Start says why not
        await wait_for(pilot, lambda: any("detach first (ctrl+x)" in n for n in notifications(app)))
        assert not pane.training
        with path.open("ab") as f:  # a half-written line waits for its end
            f.write(events.to_json(epoch_events(1, 60.0)[4]).encode()[:20])
        write(path, [])
        await pilot.pause(0.8)
        assert plots.batches == 2 * 2
        with path.open("ab") as f:
            f.write(events.to_json(epoch_events(1, 60.0)[4]).encode()[20:] + b"\n")
        write(path, epoch_events(1, 60.0)[5:])
        await wait_for(pilot, lambda: plots.ppl == [(1, 60.0)])
        assert plots.batches == BATCHES and "epoch 1: train loss 4.000, valid ppl 60.00 (best)" in log_text(app)
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert pane.attached is None
        assert f"detached from {path} (the run itself goes on)" in log_text(app)
        assert "Detached from" in shown(app.query_one("#train-status"))
        assert not app.query_one("#start", Button).disabled and app.focused is app.query_one("#start", Button)
        write(path, [*epoch_events(2, 40.0), FINISHED])  # the run goes on; nothing follows it here now
        await pilot.pause(1.2)
        assert plots.ppl == [(1, 60.0)]  # and no worker is left polling:
        assert not [w for w in app.workers if w.group == "attach" and not w.is_finished]


async def test_a_new_run_over_the_file_starts_the_drawing_over(app, tmp_path):
    path = tmp_path / "ev.jsonl"
    write(path, [STARTED, *epoch_events(1, 60.0)], append=False)
    async with app.run_test(size=(120, 35)) as pilot:
        pane = await attach(pilot, app, path)
        plots = app.query_one(TrainingPlots)
        await wait_for(pilot, lambda: plots.ppl == [(1, 60.0)])
        write(path, [STARTED, *epoch_events(1, 80.0)[:2]], append=False)  # another run empties the file
        await wait_for(pilot, lambda: "ev.jsonl was started over: a new run" in log_text(app))
        await wait_for(pilot, lambda: plots.ppl == [] and len(plots.loss) == 1)
        with path.open("a") as f:
            f.write("garbage\n")
        await wait_for(pilot, lambda: "ev.jsonl: skipped 1 unreadable line(s) so far" in log_text(app))
        assert pane.attached == path


async def test_a_missing_file_is_a_notification_and_the_palette_offers_attaching(app, tmp_path):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        command = {name: callback for name, callback, _ in app_commands(app)}["Attach to a training run (events file)"]
        command()
        await wait_for(pilot, lambda: asked(app))
        assert app.query_one("#tabs").active == "train"
        app.screen.query_one("#answer", Input).value = str(tmp_path / "nope.jsonl")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("Cannot attach" in n for n in notifications(app)))
        note = next(n for n in notifications(app) if "Cannot attach" in n)
        assert note == f"Cannot attach: No events file {tmp_path / 'nope.jsonl'}" and "\n" not in note
        pane = app.query_one(TrainPane)
        assert pane.attached is None and not app.query_one("#start", Button).disabled
        # the tab's keys still answer: ctrl+o asks again, with the last path offered
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: asked(app))
        assert app.screen.query_one("#answer", Input).value == str(tmp_path / "nope.jsonl")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, PromptScreen))
