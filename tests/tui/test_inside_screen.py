"""The Inside tab: the lecture's examples step by step, edited inputs and weights, a model's states and gradients."""

from __future__ import annotations

import pytest
import torch
from textual.widgets import DataTable, Input, Select, Static

from rnngen import inside
from rnngen.tui.screens.inside import InsidePane
from tests.tui._harness import PaneApp

SIZE = (80, 24)


def column(table: DataTable, name: str) -> list[str]:
    index = [str(c.label) for c in table.columns.values()].index(name)
    return [str(table.get_row_at(r)[index]) for r in range(table.row_count)]


async def test_the_lstm_cell_example_steps_through_the_lectures_numbers():
    app = PaneApp(InsidePane, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one("#inside-table", DataTable)
        assert column(table, "memory before") == ["0", "0", "3", "3", "7", "7", "6.999", "0", "6"]  # σ(±10) ≈ 0, 1
        assert column(table, "output") == ["0", "0", "0", "0", "0", "6.999", "0", "0", "6"]
        table.focus()
        for _ in range(5):
            await pilot.press("down")
        await pilot.pause()
        detail = str(app.query_one("#inside-detail", Static).render())
        assert "step 6" in detail and "output gate: 1" in detail and "output: 6.999" in detail


async def test_edited_inputs_and_weights_recompute_and_bad_ones_are_one_notification():
    app = PaneApp(InsidePane, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#inside-what", Select).value = "rnn"
        await pilot.pause()
        table = app.query_one("#inside-table", DataTable)
        assert column(table, "output") == ["4 4", "12 12", "32 32"]
        field = app.query_one("#inside-input", Input)
        field.value = "2,2 1,1 1,1"
        field.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert column(table, "output") == ["8 8", "20 20", "44 44"]  # the order changes the outputs
        weights = app.query_one("#inside-weights", Input)
        weights.value = "in=1 mem=0 out=2"
        weights.focus()
        await pilot.press("enter")
        await pilot.pause()
        expected = inside.lecture_rnn("in=1 mem=0 out=2").trace(torch.tensor([[2.0, 2], [1, 1], [1, 1]]))
        after = [" ".join(f"{v:g}" for v in row) for row in expected.values["output"].tolist()]
        assert column(table, "output") == after == ["16 16", "8 8", "8 8"]
        weights.value = "mem=banana"
        await pilot.press("enter")
        await pilot.pause()
        assert app.notifications_seen[-1][0] == "error" and "mem=banana" in app.notifications_seen[-1][1]
        assert column(table, "output") == after  # the last good table stays


async def test_a_loaded_models_states_and_gradients(tiny_lm):
    app = PaneApp(InsidePane, tiny_lm)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        app.query_one("#inside-what", Select).value = "states"
        await pilot.pause()
        field = app.query_one("#inside-input", Input)
        field.value = "the cat sat ."
        field.focus()
        await pilot.press("enter")
        await pilot.pause()
        table = app.query_one("#inside-table", DataTable)
        pane = app.query_one(InsidePane)
        assert column(table, "word") == ["<s>", "the", "cat", "sat", "."]
        ids = [tiny_lm.vocab.bos_id, *tiny_lm.vocab.encode("the cat sat .".split())]
        expected = inside.trace_model(tiny_lm.module, ids)
        assert torch.equal(pane.trace.values["hidden"], expected.values["hidden"])
        assert not app.query_one("#inside-weights", Input).display
        app.query_one("#inside-what", Select).value = "gradients"
        await pilot.pause()
        assert pane.norms == pytest.approx(inside.gradient_norms(
            tiny_lm.module, [tiny_lm.vocab.bos_id, *tiny_lm.vocab.encode(["the", "cat", "sat"])],
            tiny_lm.vocab.id(".")))
        assert column(table, "state after") == ["sat", "cat", "the", "<s>"]


async def test_without_a_model_the_model_views_say_where_to_get_one():
    app = PaneApp(InsidePane, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#inside-what", Select).value = "states"
        await pilot.pause()
        assert "Load a model" in str(app.query_one("#inside-status", Static).render())
