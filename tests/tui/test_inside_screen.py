"""The Inside tab: the lecture's examples step by step, edited inputs and weights, a model's states and gradients."""

from __future__ import annotations

import pytest
import torch
from textual.widgets import DataTable, Input, Select, Static

from rnngen import inside
from rnngen.tui.screens.inside import InsidePane
from rnngen.tui.widgets.unit_grid import UnitGrid
from tests.tui._harness import PaneApp
from tests.tui.conftest import wait_for

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


async def choose(pilot, app, what: str, text: str | None = None) -> None:
    app.query_one("#inside-what", Select).value = what
    await pilot.pause()
    if text is not None:
        field = app.query_one("#inside-input", Input)
        field.value = text
        field.focus()
        await pilot.press("enter")
        await pilot.pause()


async def test_a_loaded_models_units_by_words_are_its_states_and_scores(tiny_lm):
    app = PaneApp(InsidePane, tiny_lm)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await choose(pilot, app, "states", "the cat sat .")
        pane, grid = app.query_one(InsidePane), app.query_one("#inside-grid", UnitGrid)
        ids = [tiny_lm.vocab.bos_id, *tiny_lm.vocab.encode("the cat sat .".split())]
        expected = inside.trace_model(tiny_lm.module, ids)
        assert torch.equal(pane.trace.values["hidden"], expected.values["hidden"])
        assert grid.labels == ["<s>", "the", "cat", "sat", "."]
        scored = tiny_lm.score_tokens([["the", "cat", "sat", "."]])[0].tokens
        assert grid.probs == [None, *(t.prob for t in scored[:-1])]  # the Score tab's numbers
        assert grid.values == expected.values["hidden"].tolist() and grid.signed
        assert grid.units == inside.units_by_variation(expected.values["hidden"])
        assert sorted(grid.units) == list(range(tiny_lm.model_config.hidden))
        assert not app.query_one("#inside-weights", Input).display and not app.query_one("#inside-table").display
        grid.focus()
        await pilot.press("right", "right", "down")
        await pilot.pause()
        detail = str(app.query_one("#inside-detail", Static).render())
        unit = grid.units[1]
        assert (grid.column, grid.unit) == (2, unit) and "after 'cat'" in detail
        assert f"hidden #{unit}: {float(expected.values['hidden'][2, unit]):+.3f}" in detail
        assert f"P(next 'sat') {scored[2].prob:.4g}" in detail
        await pilot.press("shift+right")
        assert grid.span == (2, 4)
        app.query_one("#inside-quantity", Select).value = "forget gate"
        await pilot.pause()
        assert grid.values == expected.values["forget gate"].tolist() and not grid.signed


async def test_gradients_beside_an_untrained_model(tiny_lm):
    app = PaneApp(InsidePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose(pilot, app, "gradients", "the cat sat .")
        pane = app.query_one(InsidePane)
        ids, target = [tiny_lm.vocab.bos_id, *tiny_lm.vocab.encode(["the", "cat", "sat"])], tiny_lm.vocab.id(".")
        assert pane.norms == pytest.approx(inside.gradient_norms(tiny_lm.module, ids, target))
        fresh = inside.gradient_norms(inside.untrained_like(tiny_lm.module), ids, target)
        assert pane.fresh_norms == pytest.approx(fresh) and pane.fresh_norms != pane.norms
        table = app.query_one("#inside-table", DataTable)
        assert column(table, "state after") == ["sat", "cat", "the", "<s>"]
        assert column(table, "untrained") == [f"{n:.3e}" for n in fresh]
        assert app.query_one("#inside-plot").display
        assert "untrained: ×" in str(app.query_one("#inside-detail", Static).render())
        await pilot.resize_terminal(120, 35)  # a second render of the plot (plotext's log scale failed there)
        await pilot.pause()
        assert "1e-1" in str(app.query_one("#inside-plot").render())


@pytest.fixture
def sampled_lm(tiny_lm_path, tmp_path):
    """The tiny model, its corpus recorded as a text file of its sentences (the sample the tab reads)."""
    from rnngen.lm import LanguageModel
    from tests.conftest import TINY_TEXT

    text = tmp_path / "sample.txt"
    text.write_text(TINY_TEXT.strip() + "\n", encoding="utf-8")
    lm = LanguageModel.load(tiny_lm_path)
    lm.corpus = {**lm.corpus, "source": str(text)}
    return lm


async def wait_sample(pilot, pane) -> None:
    await pilot.pause()
    await wait_for(pilot, lambda: not pane.running, 30)
    await pilot.pause()


async def test_select_a_span_and_match_it_over_the_models_corpus(sampled_lm):
    app = PaneApp(InsidePane, sampled_lm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose(pilot, app, "states", "the cat sat on the mat .")
        pane, grid = app.query_one(InsidePane), app.query_one("#inside-grid", UnitGrid)
        app.query_one("#inside-threshold", Input).value = "0"
        grid.focus()
        await pilot.press("right", "shift+right")  # the span "the cat"
        await pilot.press("ctrl+f")
        await wait_sample(pilot, pane)
        sentences = sampled_lm.held_out(sampled_lm.corpus_spec, "valid").sentences
        words = "the cat sat on the mat .".split()
        states = inside.states_of(sampled_lm.module, sampled_lm.vocab, [words])[0]
        units = inside.select_units(states, 0, 2, 0.0)
        sample_states = inside.states_of(sampled_lm.module, sampled_lm.vocab, sentences)
        expected = inside.match(units, sample_states, sentences, 0.0, 2, top=50)
        assert expected and pane.matches == expected
        table = app.query_one("#inside-table", DataTable)
        assert table.display and column(table, "overlap") == [f"{m.overlap:.2f}" for m in expected]
        table.focus()
        await pilot.press("down", "enter")  # open the second match
        await pilot.pause()
        second = expected[1]
        assert app.query_one("#inside-input", Input).value == " ".join(sentences[second.sentence])
        assert grid.span == (second.start + 1, second.start + 3) and pane.matches == expected


async def test_cells_and_gates_over_the_sample_equal_the_engines(sampled_lm):
    app = PaneApp(InsidePane, sampled_lm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.query_one(InsidePane)
        sentences = sampled_lm.held_out(sampled_lm.corpus_spec, "valid").sentences
        await choose(pilot, app, "cells", "after:the")
        await wait_sample(pilot, pane)
        cells = inside.states_of(sampled_lm.module, sampled_lm.vocab, sentences, "cell")
        expected = inside.correlated_units(cells, sentences, "after", "the", top=20)
        table = app.query_one("#inside-table", DataTable)
        assert column(table, "unit") == [f"#{u}" for u, _ in expected]
        assert column(table, "Pearson r") == [f"{r:+.3f}" for _, r in expected]
        await choose(pilot, app, "gates")
        await wait_sample(pilot, pane)
        report = inside.gate_saturation(sampled_lm.module, sampled_lm.vocab, sentences)
        assert column(table, "gate") == ["input gate", "forget gate", "output gate"] == list(report)
        assert column(table, "open") == [f"{100 * f['open']:.1f}%" for f in report.values()]
        await choose(pilot, app, "cells", "inside:quotes")
        assert app.notifications_seen[-1][0] == "error" and "after:WORD" in app.notifications_seen[-1][1]


async def test_reading_the_sample_shows_progress_and_ctrl_x_stops_it(sampled_lm, monkeypatch):
    import time

    real = inside.trace_model
    monkeypatch.setattr(inside, "trace_model", lambda *a, **k: (time.sleep(0.2), real(*a, **k))[1])
    app = PaneApp(InsidePane, sampled_lm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.query_one(InsidePane)
        await choose(pilot, app, "gates")
        bar = app.query_one("#inside-progress")
        await wait_for(pilot, lambda: bar.progress >= 1, 10)
        assert pane.running and bar.display and bar.total == len(sampled_lm.held_out(sampled_lm.corpus_spec,
                                                                                     "valid").sentences)
        await pilot.press("ctrl+x")
        await pilot.pause(0.5)
        assert not pane.running and not bar.display
        assert "stopped" in str(app.query_one("#inside-status", Static).render())
        assert app.query_one("#inside-table", DataTable).row_count == 0  # nothing half-read is shown


async def test_without_a_model_the_model_views_say_where_to_get_one():
    app = PaneApp(InsidePane, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#inside-what", Select).value = "states"
        await pilot.pause()
        assert "Load a model" in str(app.query_one("#inside-status", Static).render())


async def test_the_heat_map_scrolls_under_fixed_words_and_unit_labels_at_80x24(tiny_lm):
    sentence = " ".join(["the cat sat on the mat ."] * 6)
    app = PaneApp(InsidePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose(pilot, app, "states", sentence)
        grid = app.query_one("#inside-grid", UnitGrid)
        grid.focus()
        assert grid.virtual_size.width > grid.size.width  # 43 words do not fit: the grid scrolls sideways
        for _ in range(40):
            await pilot.press("right")
        for _ in range(tiny_lm.model_config.hidden - 1):
            await pilot.press("down")
        await pilot.pause()
        assert grid.scroll_x > 0 and grid.scroll_y > 0
        words = grid.render_line(0).text
        assert words.startswith("word") and grid.labels[grid.column] in words  # the cursor's word is in view
        assert grid.render_line(1).text.startswith("P %")
        last_row = grid.size.height - 1
        assert grid.render_line(last_row).text.startswith(f"#{grid.units[-1]}")  # the last unit, labelled
        assert "◆" in grid.render_line(last_row).text  # the selected cell
