"""Every tab (and the help and compare screens) at 80x24 and 120x35, from fixed data.

Run `pytest tests/tui/test_snapshots.py --snapshot-update` after an intended
visual change and look at the SVGs in the report before committing them.
"""

from __future__ import annotations

import time

import pytest

from rnngen import events
from tests.tui.conftest import wait_for
from tests.tui.snapshot_app import make_snapshot_app

SIZES = [(80, 24), (120, 35)]


@pytest.fixture()
def snap_app(snapshot_root, tiny_builtin, monkeypatch):
    """The snapshot app with relative folders (paths on screen are the same on every machine)."""
    monkeypatch.chdir(snapshot_root)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("COLORFGBG", raising=False)
    time.tzset()
    from pathlib import Path

    return make_snapshot_app(Path("."))


async def settle(pilot) -> None:
    """Wait for the start-up corpus load and drop toasts."""
    app = pilot.app
    await wait_for(pilot, lambda: app.loaded_corpus() is not None)
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


async def with_model(pilot) -> None:
    await settle(pilot)
    pilot.app.load_model("checkpoints/tiny")
    await wait_for(pilot, lambda: pilot.app.lm is not None)
    await pilot.pause()
    pilot.app.clear_notifications()
    await pilot.pause()


def fake_training(pane) -> None:
    """Feed the Train tab fixed events, as the worker would (no timing values from a real run)."""
    from rnngen.tui.messages import EntropyFloorComputed

    pane.training = True
    pane._sync_buttons()
    pane._floor(EntropyFloorComputed(6.0, "valid"))
    for e in (events.Started(epochs=4, batches_per_epoch=20, train_tokens=1240, vocab_size=15, parameters=4_719,
                             device="cpu"),):
        pane._on_Started(e)
    ppl = [9.5, 7.2, 6.6]
    for epoch in range(1, 4):
        for batch in range(2, 21, 2):
            x = (epoch - 1) * 20 + batch
            norms = (0.6 - 0.006 * x, 0.5 - 0.006 * x)  # above the threshold early on, below it later
            pane._on_Gradients(events.Gradients(epoch, batch, 20, norms, 0.25, sum(n > 0.25 for n in norms)))
            pane._on_BatchDone(events.BatchDone(epoch, batch, 20, 2.6 - 0.012 * x, 0.002, 5000.0, x * 0.1,
                                                (80 - x) * 0.1))
        pane._on_EpochDone(events.EpochDone(epoch, 2.5 - 0.2 * epoch, 2.0, ppl[epoch - 1], 0.002, True, epoch))
        pane._on_Sample(events.Sample(epoch, 20, "the cat sat on the mat ."))
    from rnngen.tui.widgets.training_plots import TrainingPlots

    pane.query_one(TrainingPlots).redraw()


@pytest.mark.parametrize("size", SIZES)
def test_corpus(snap_compare, snap_app, size):
    async def run_before(pilot):
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_train_live(snap_compare, snap_app, size):
    async def run_before(pilot):
        from rnngen.tui.screens.train import TrainPane

        await settle(pilot)
        await pilot.press("2")
        fake_training(pilot.app.query_one(TrainPane))
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=size, run_before=run_before)


def test_train_invalid_option(snap_compare, snap_app):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("2")
        pilot.app.query_one("#opt-dropout").value = "1.5"
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_score(snap_compare, snap_app, size):
    async def run_before(pilot):
        await with_model(pilot)
        await pilot.press("3")
        # the tab hands the focus to its field once shown: wait for it, a busy machine is slower
        await wait_for(pilot, lambda: pilot.app.focused is pilot.app.query_one("#score-input"))
        pilot.app.query_one("#score-input").cursor_blink = False  # a steady cursor: the picture cannot depend on the blink
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_generate(snap_compare, snap_app, size):
    async def run_before(pilot):
        await with_model(pilot)
        await pilot.press("4")
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_models(snap_compare, snap_app, size):
    async def run_before(pilot):
        await with_model(pilot)
        await pilot.press("5")
        await pilot.press("down")
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_inside(snap_compare, snap_app, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("6")
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=size, run_before=run_before)


def test_compare(snap_compare, snap_app):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("5", "down", "space", "down", "space", "c")
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=(120, 35), run_before=run_before)


def test_help(snap_compare, snap_app):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=(80, 24), run_before=run_before)
