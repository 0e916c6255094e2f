"""Generate tab: seeded streaming equals the engine, pick mode continues from the chosen word, stop, validation."""

from __future__ import annotations

import asyncio
import threading

import pytest
from textual.widgets import Button, DataTable, Input, Static

from rnngen.generate import SamplingSettings
from rnngen.tui.screens.generate import GeneratePane
from rnngen.tui.widgets.generate_text import GeneratedText
from rnngen.tui.widgets.heatmap import format_prob
from tests.tui._harness import PaneApp, click_into, wait_for

SIZE = (100, 32)


def cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


def shown(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def fill(app, **values: str) -> None:
    for name, value in values.items():
        app.query_one(f"#gen-{name}", Input).value = value


async def test_without_a_model_generation_is_refused():
    app = PaneApp(GeneratePane)
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one("#gen-hint").display and not app.query_one("#gen-body").display
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert app.notifications_seen[-1][0] == "warning" and "Models tab (5)" in app.notifications_seen[-1][1]


async def test_seeded_stream_equals_the_engine(tiny_lm):
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        fill(app, seed="11", count="3", max_words="12")
        app.query_one("#gen-prompt", Input).focus()
        await pilot.press(*"the", "enter")
        await settle(pilot)
        pane = app.query_one(GeneratePane)
        settings = SamplingSettings(max_words=12, seed=11)
        expected = list(tiny_lm.generate("the", settings, 3, alternatives=9))
        assert [(n, s.word) for n, s in pane.steps] == [(n, s.word) for n, s in expected]
        assert [s.prob for _, s in pane.steps] == [s.prob for _, s in expected]
        # the text view shows each sentence detokenized, prompt first
        view = app.query_one(GeneratedText)
        sentences = [[s.word for n, s in expected if n == k and s.word != "</s>"] for k in range(3)]
        assert view.plain_sentences() == [tiny_lm.detokenize(["the", *words]) for words in sentences]
        body = str(app.query_one("#gen-text-body", Static).render())
        for k, words in enumerate(sentences, 1):
            assert f"{k}. {tiny_lm.detokenize(['the', *words])}" in body
        # the side panel shows the candidates of the last step, the drawn word among them when it is in the top 9
        last = expected[-1][1]
        rows = cells(app.query_one("#gen-candidates", DataTable))
        assert [r[1] for r in rows] == [w for w, _ in last.alternatives]
        assert [r[2] for r in rows] == [format_prob(p) for _, p in last.alternatives]
        # the chosen-words table lists the last sentence's words with their probabilities
        last_sentence = [s for n, s in expected if n == 2]
        steps = cells(app.query_one("#gen-steps", DataTable))
        assert [(r[1], r[2]) for r in steps] == [(s.word, format_prob(s.prob)) for s in last_sentence]
        assert shown(app, "#gen-status").startswith("Done: 3 sentences")
        assert app.query_one("#gen-stop", Button).disabled


async def test_same_seed_same_text_and_word_limit(tiny_lm):
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        fill(app, seed="5", max_words="3", temperature="2", top_k="4", top_p="0.9")
        pane = app.query_one(GeneratePane)
        pane.action_generate()
        await settle(pilot)
        first = [s.word for _, s in pane.steps]
        pane.action_generate()
        await settle(pilot)
        assert [s.word for _, s in pane.steps] == first
        settings = SamplingSettings(temperature=2, top_k=4, top_p=0.9, max_words=3, seed=5)
        assert first == [s.word for _, s in tiny_lm.generate("", settings, 1)]
        if "</s>" not in first:
            assert "[word limit]" in str(app.query_one("#gen-text-body", Static).render())


async def test_pick_mode_continues_from_the_chosen_word(tiny_lm):
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        fill(app, prompt="the", seed="3")
        await pilot.press("ctrl+n")
        await pilot.pause()
        pane = app.query_one(GeneratePane)
        reference = tiny_lm.start("the", SamplingSettings(seed=3))
        table = app.query_one("#gen-candidates", DataTable)
        assert app.focused is table
        assert [r[1] for r in cells(table)] == [w for w, _ in reference.candidates(9)]
        # key 2 picks the second candidate
        second, p2 = reference.candidates(9)[1]
        await pilot.press("2")
        await pilot.pause()
        assert pane.steps[-1][1].word == second
        assert pane.steps[-1][1].prob == pytest.approx(p2, rel=1e-6)
        reference.choose(second)
        assert [r[1] for r in cells(table)] == [w for w, _ in reference.candidates(9)]
        assert cells(app.query_one("#gen-steps", DataTable))[-1][1:] == [second, format_prob(p2)]
        # Enter on a row picks that row
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        third, p3 = reference.candidates(9)[2]
        assert pane.steps[-1][1].word == third and pane.steps[-1][1].prob == pytest.approx(p3, rel=1e-6)
        reference.choose(third)
        # a typed word (even one the model does not know) continues the sentence
        word_input = app.query_one("#gen-word", Input)
        assert word_input.display
        word_input.focus()
        await pilot.press(*"mat", "enter")
        await pilot.pause()
        step = reference.choose("mat")
        assert pane.steps[-1][1].word == "mat" and pane.steps[-1][1].prob == pytest.approx(step.prob, rel=1e-6)
        await pilot.press(*"zebra", "enter")
        await pilot.pause()
        assert app.notifications_seen[-1][0] == "warning" and "zebra" in app.notifications_seen[-1][1]
        reference.choose("zebra")
        # the typed word went in without focusing the field first; space lets the model draw the next word
        assert app.focused is table
        await pilot.press("space")
        await pilot.pause()
        drawn = reference.sample()
        assert pane.steps[-1][1].word == drawn.word
        assert app.query_one(GeneratedText).sentences[-1].words == [second, third, "mat", "zebra", drawn.word]
        # escape ends pick mode; the digit keys no longer pick
        if pane.generation is not None:
            await pilot.press("escape")
            await pilot.pause()
        assert pane.generation is None and not word_input.display
        count = len(pane.steps)
        await pilot.press("1")
        await pilot.pause()
        assert len(pane.steps) == count


async def test_picking_the_end_finishes_the_sentence(tiny_lm):
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        fill(app, prompt="the cat sat on the mat .")
        pane = app.query_one(GeneratePane)
        pane.action_pick_mode()
        await pilot.pause()
        pane.choose("</s>")
        await pilot.pause()
        assert pane.generation is None
        assert app.query_one(GeneratedText).sentences[-1].done
        assert shown(app, "#gen-status").startswith("Sentence complete")


async def test_stop_ends_the_stream_at_once(tiny_lm, monkeypatch):
    reached, release, finished = threading.Event(), threading.Event(), threading.Event()
    real = tiny_lm.generate

    def gated(prompt, settings, count, alternatives=5):
        try:
            for n, (sentence, step) in enumerate(real(prompt, settings, count, alternatives)):
                if n == 3:
                    reached.set()
                    release.wait(10)
                yield sentence, step
        finally:
            finished.set()

    monkeypatch.setattr(tiny_lm, "generate", gated)
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        fill(app, seed="1", count="5", max_words="40")
        pane = app.query_one(GeneratePane)
        pane.action_generate()
        assert await asyncio.to_thread(reached.wait, 10)
        await pilot.pause()
        assert len(pane.steps) == 3 and pane.running
        assert not app.query_one("#gen-stop", Button).disabled
        await pilot.press("escape")
        await pilot.pause()
        assert not pane.running and shown(app, "#gen-status") == "Stopped."
        assert "[stopped]" in str(app.query_one("#gen-text-body", Static).render())
        release.set()
        assert await asyncio.to_thread(finished.wait, 10)
        await settle(pilot)
        assert len(pane.steps) == 3  # nothing after the stop reaches the view
        assert app.query_one("#gen-stop", Button).disabled


@pytest.mark.parametrize("field, value, message", [
    ("top_p", "1.5", "top-p must be in (0, 1], got 1.5"),
    ("temperature", "-1", "temperature must be from 0 to 100, got -1.0"),
    ("temperature", "101", "temperature must be from 0 to 100, got 101.0"),
    ("count", "0", "the number of sentences must be from 1 to 100,000, got 0"),
    ("seed", "1.5", "seed: '1.5' is not a whole number"),
    ("seed", "-3", "seed must not be negative, got -3"),
    ("max_words", "", "max words: '' is not a whole number"),
])
async def test_invalid_settings_are_flagged_and_refused(tiny_lm, field, value, message):
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(f"#gen-{field}", Input)
        box.focus()
        await pilot.press("ctrl+u", *value)
        await pilot.pause()
        assert box.has_class("-invalid")
        await pilot.press("enter")
        await settle(pilot)
        severity, text = app.notifications_seen[-1]
        assert severity == "error" and message in text
        assert app.query_one(GeneratePane).steps == []


async def test_generate_tab_in_the_real_app(tiny_lm):
    app_module = pytest.importorskip("rnngen.tui.app")
    app = app_module.make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: app.focused is not None)  # the app has started and focused its first tab
        app.lm = tiny_lm
        await pilot.press("4")
        pane = app.query_one(GeneratePane)
        # the app focuses the tab's first control once the tab is shown; click into the field after that
        await wait_for(pilot, lambda: app.focused is not None and pane in app.focused.ancestors_with_self)
        await click_into(pilot, "#gen-seed")
        await pilot.press(*"42", "enter")
        await wait_for(pilot, lambda: pane.steps and not pane.running)
        expected = [s.word for _, s in tiny_lm.generate("", SamplingSettings(seed=42), 1)]
        assert [s.word for _, s in pane.steps] == expected


async def test_a_click_on_a_candidate_picks_it(tiny_lm):
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        fill(app, prompt="a")
        await pilot.press("ctrl+n")
        await pilot.pause()
        reference = tiny_lm.start("a", SamplingSettings())
        fourth, p4 = reference.candidates(9)[3]
        assert await pilot.click("#gen-candidates", offset=(8, 4))  # header row, then rows 1..9
        await pilot.pause()
        pane = app.query_one(GeneratePane)
        assert pane.steps[-1][1].word == fourth and pane.steps[-1][1].prob == pytest.approx(p4, rel=1e-6)


def test_the_form_has_every_sampling_option_and_the_cli_the_same_flags():
    import argparse
    from dataclasses import fields as dataclass_fields

    from rnngen.cli import generate as cli_generate
    from rnngen.sampling import SamplingSettings
    from rnngen.tui.screens.generate import FIELDS

    names = [f.name for f in dataclass_fields(SamplingSettings)]
    assert [f.name for f in FIELDS] == ["count", *names]
    parser = argparse.ArgumentParser()
    cli_generate.register(parser.add_subparsers())
    flags = {a.dest for a in parser._subparsers._group_actions[0].choices["generate"]._actions}
    assert set(names) | {"count"} <= flags  # --allow-unk, --seed ... exist in both faces


async def test_allow_unk_in_the_tab_reaches_the_settings(tiny_lm):
    app = PaneApp(GeneratePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.query_one(GeneratePane)
        assert pane.settings()[1].allow_unk is False
        app.query_one("#gen-allow_unk").value = True
        fill(app, seed="7", max_words="12", count="3")
        prompt, settings, count = pane.settings()
        assert (settings.allow_unk, settings.seed, settings.max_words, count) == (True, 7, 12, 3)
