"""Score tab: sentence numbers, heat map, word details and candidate ranking, driven through Pilot."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from textual.widgets import DataTable, Input, Select, Static, TextArea

from rnngen.errors import RnngenError
from rnngen.score import normalized
from rnngen.tui.screens.score import ScorePane
from rnngen.tui.widgets.candidates import CandidatesPanel
from rnngen.tui.widgets.heatmap import HeatMap, format_prob, layout
from tests.tui._harness import PaneApp, click_into, wait_for

SIZE = (100, 32)


def shown(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def ranked(lm, context):
    """Vocabulary (without <s>) by P(w | context), best first, from the engine's own distribution."""
    probs = lm.next_word_distribution(context).tolist()
    order = sorted((i for i in range(len(probs)) if i != lm.vocab.bos_id), key=lambda i: -probs[i])
    return [(lm.vocab.words[i], probs[i]) for i in order]


async def test_without_a_model_the_pane_says_where_to_get_one():
    app = PaneApp(ScorePane)
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one("#score-hint").display
        assert "Models tab (5)" in shown(app, "#score-hint") and "train one (2)" in shown(app, "#score-hint")
        assert not app.query_one("#score-modes").display
        app.query_one(ScorePane).score_now(quiet=False)
        await pilot.pause()
        assert app.notifications_seen and app.notifications_seen[-1][0] == "warning"


async def test_typed_sentence_shows_the_cli_numbers_and_a_heat_map(tiny_lm):
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        assert not app.query_one("#score-hint").display
        app.query_one("#score-input", Input).focus()
        await pilot.press(*"the cat sat on the mat .")
        await pilot.press("enter")
        await settle(pilot)
        expected = tiny_lm.score(["the cat sat on the mat ."])[0]
        numbers = shown(app, "#score-numbers")
        assert f"log P {expected.logprob:.3f}" in numbers
        assert f"log10 {expected.log10prob:.3f}" in numbers
        assert f"ppl {expected.perplexity:,.2f}" in numbers
        assert f"per token {expected.per_token:.3f}" in numbers
        assert f"{expected.num_tokens} tokens" in numbers and "0 unknown" in numbers
        heat = app.query_one(HeatMap)
        assert [w.text for w in heat.words] == "the cat sat on the mat . </s>".split()
        assert [w.prob for w in heat.words] == [t.prob for t in expected.tokens]
        assert str(heat.render()).split() == ["[", "the", "]", "cat", "sat", "on", "the", "mat", ".", "</s>"]
        # Enter moved to the heat map: the arrow keys walk the words at once
        assert app.focused is heat
        await pilot.press("right")
        await pilot.pause()
        assert heat.cursor == 1 and shown(app, "#score-detail").startswith("“cat” word 2 of 7")


async def test_live_scoring_follows_typing(tiny_lm):
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#score-input", Input).focus()
        await pilot.press(*"a dog")
        await pilot.pause(0.4)  # past the debounce, no Enter
        await settle(pilot)
        expected = tiny_lm.score(["a dog"])[0]
        assert f"log P {expected.logprob:.3f}" in shown(app, "#score-numbers")
        assert [w.text for w in app.query_one(HeatMap).words] == ["a", "dog", "</s>"]
        await pilot.press("ctrl+u")  # clear the field: the result goes away
        await pilot.pause(0.4)
        await settle(pilot)
        assert app.query_one(HeatMap).words == []
        assert shown(app, "#score-numbers") == ""


async def test_selecting_a_word_shows_probability_rank_and_alternatives(tiny_lm):
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#score-input", Input).value = "the dog sat on a mat ."
        await pilot.press("tab")
        app.query_one(ScorePane).score_now()
        await settle(pilot)
        heat = app.query_one(HeatMap)
        heat.focus()
        await pilot.press("right", "right")
        await pilot.pause()
        assert heat.cursor == 2
        score = tiny_lm.score(["the dog sat on a mat ."])[0]
        order = ranked(tiny_lm, ["the", "dog"])
        names = [w for w, _ in order]
        detail = shown(app, "#score-detail")
        assert detail.startswith("“sat” word 3 of 7")
        assert f"P {format_prob(score.tokens[2].prob)}" in detail
        assert f"rank {names.index('sat') + 1} of {len(tiny_lm.vocab) - 1:,}" in detail
        rows = cells(app.query_one("#score-alternatives", DataTable))
        assert [r[1].replace("  ◀", "") for r in rows[:10]] == names[:10]
        assert [r[2] for r in rows[:10]] == [format_prob(p) for _, p in order[:10]]
        marked = [r for r in rows if r[1].endswith("◀")]
        assert len(marked) == 1 and marked[0][1] == "sat  ◀" and marked[0][0] == str(names.index("sat") + 1)

        # a click on a word selects it too
        places = layout([w.label for w in heat.words], heat.content_size.width)
        mat = places[5]
        assert await pilot.click(HeatMap, offset=(mat.x + 2, mat.line))
        await pilot.pause()
        assert heat.cursor == 5
        assert shown(app, "#score-detail").startswith("“mat” word 6 of 7")
        await pilot.press("end")
        await pilot.pause()
        assert shown(app, "#score-detail").startswith("</s> end of sentence")
        assert f"P {format_prob(score.tokens[-1].prob)}" in shown(app, "#score-detail")


async def test_unknown_words_are_marked(tiny_lm):
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#score-input", Input).value = "the zebra sat ."
        app.query_one(ScorePane).score_now()
        await settle(pilot)
        heat = app.query_one(HeatMap)
        assert [w.oov for w in heat.words] == [False, True, False, False, False]
        assert "zebra?" in str(heat.render())
        assert "1 unknown" in shown(app, "#score-numbers")
        heat.select(1)
        await pilot.pause()
        detail = shown(app, "#score-detail")
        assert "unknown, scored as <unk>" in detail
        names = [w for w, _ in ranked(tiny_lm, ["the"])]
        assert f"rank {names.index('<unk>') + 1} " in detail


CANDIDATES = """the cat sat on the mat .
mat the on sat cat the .
a dog saw a cat .
the dog sat on the log .
dog log the .
the cat sat on the mat .
a cat ran to the zebra ."""


def expected_order(lm, lines, method, alpha=0.6):
    scores = lm.score(lines)
    values = [normalized(s, method, alpha) for s in scores]
    return [lines[i] for i in sorted(range(len(lines)), key=lambda i: -values[i])], scores, values


def number(value: float) -> str:
    return f"{value:.3f}"


async def test_candidates_are_ranked_as_the_engine_ranks_them(tiny_lm):
    app = PaneApp(ScorePane, tiny_lm)
    lines = CANDIDATES.split("\n")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert app.focused is app.query_one("#cand-text", TextArea)
        app.query_one("#cand-text", TextArea).load_text(CANDIDATES + "\n\n")
        await pilot.press("ctrl+r")
        await settle(pilot)
        panel = app.query_one(CandidatesPanel)
        table = app.query_one("#cand-table", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["#", "candidate", "log P", "tokens", "OOV", "score"]
        for method, alpha in (("none", 0.6), ("length", 0.6), ("ppl", 0.6), ("wp", 0.6), ("wp", 2.0)):
            app.query_one("#cand-criterion", Select).value = method
            if method == "wp":
                app.query_one("#cand-alpha", Input).value = str(alpha)
            await pilot.pause()
            order, scores, values = expected_order(tiny_lm, lines, method, alpha)
            assert panel.ranked_sentences() == order, (method, alpha)
            rows = cells(table)
            assert [r[0] for r in rows] == [str(n) for n in range(1, len(lines) + 1)]
            assert [r[1] for r in rows] == order
            for row in rows:
                i = lines.index(row[1])
                s = scores[i]
                assert row[2:] == [number(s.logprob), str(s.num_tokens), str(s.oov_count), number(values[i])]
        # the unknown word is counted
        assert rows[[r[1] for r in rows].index("a cat ran to the zebra .")][4] == "1"


MOSES = (
    "2 ||| the cat sat on the mat &#124; . ||| LM0= -3 ||| -3\n"
    "2 ||| the |0-1| cat sat |2-3| on the log . ||| LM0= -2 ||| -2\n"
    "0 ||| a dog saw a cat &amp; the cat . ||| LM0= -1 ||| -1\n"
    "0 ||| dog a cat saw a . ||| LM0= -5 ||| -5\n"
    "0 ||| a dog saw the cat . ||| LM0= -4 ||| -4\n"
)


async def test_a_moses_list_ranks_in_the_tab_as_rnngen_rerank_ranks_it(tiny_lm, tiny_lm_path, tmp_path):
    """Escapes undone, alignment marks dropped, ids ranked apart, the list's scores combined with the LM feature."""
    path = tmp_path / "nbest.moses"
    path.write_text(MOSES, encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "rnngen", "rerank", str(tiny_lm_path), str(path), "--output", "json",
                          "--weight", "0.5", "--normalize", "wp:0.8", "--oov-penalty", "-2"],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    records = [json.loads(line) for line in cli.stdout.splitlines()]
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=(120, 35)) as pilot:
        app.query_one(ScorePane).action_toggle_mode()
        await pilot.pause()
        app.query_one("#cand-criterion", Select).value = "wp"
        app.query_one("#cand-alpha", Input).value = "0.8"
        app.query_one("#cand-weight", Input).value = "0.5"
        app.query_one("#cand-oov", Input).value = "-2"
        field = app.query_one("#cand-path", Input)
        field.value = str(path)
        field.focus()
        await pilot.press("enter")
        await settle(pilot)
        panel = app.query_one(CandidatesPanel)
        ranked = panel.ranked()
        assert [(r.candidate.id, r.rank, r.candidate.line) for r in ranked] == [
            (rec["id"], c["rank"], c["line"]) for rec in records for c in rec["candidates"]]
        flat = [c for rec in records for c in rec["candidates"]]
        for r, c in zip(ranked, flat):
            assert r.lm.feature == pytest.approx(c["lm_feature"], abs=1e-9)
            assert r.total == pytest.approx(c["total"], abs=1e-9)
        assert "a dog saw a cat & the cat ." in panel.ranked_sentences()
        assert "the cat sat on the log ." in panel.ranked_sentences()  # the |0-1| marks are not words
        rows = cells(app.query_one("#cand-table", DataTable))
        assert [r[0] for r in rows] == ["0", "", "", "2", ""]  # the id on each group's first row
        assert [r[-1] for r in rows] == [number(c["total"]) for c in flat]


async def test_candidates_from_a_file_and_bad_paths(tiny_lm, tmp_path):
    nbest = tmp_path / "nbest.txt"
    nbest.write_text("0 ||| the dog sat on the log . ||| tm=-1 ||| -1\n0 ||| log the on dog . ||| tm=-2 ||| -2\n"
                     "3 ||| a cat saw a dog . ||| tm=-1 ||| -1\n", encoding="utf-8")
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ScorePane).action_toggle_mode()
        await pilot.pause()
        path = app.query_one("#cand-path", Input)
        path.value = str(tmp_path / "missing.txt")
        path.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.notifications_seen[-1][0] == "error" and "missing.txt" in app.notifications_seen[-1][1]
        path.value = str(tmp_path)
        await pilot.press("enter")
        await pilot.pause()
        assert "folder" in app.notifications_seen[-1][1]
        path.value = str(nbest)
        await pilot.press("enter")
        await settle(pilot)
        assert app.query_one("#cand-text", TextArea).text == nbest.read_text(encoding="utf-8").rstrip("\n")
        panel = app.query_one(CandidatesPanel)
        by_id = {0: ["the dog sat on the log .", "log the on dog ."], 3: ["a cat saw a dog ."]}
        assert [r.candidate.id for r in panel.ranked()] == [0, 0, 3]
        for i, texts in by_id.items():
            group = [r for r in panel.ranked() if r.candidate.id == i]
            assert [r.total for r in group] == sorted((r.total for r in group), reverse=True)
            assert sorted(r.candidate.text for r in group) == sorted(texts)


async def test_ranking_needs_candidates_and_valid_settings(tiny_lm):
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ScorePane).action_toggle_mode()
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.notifications_seen[-1][0] == "warning"
        assert app.query_one("#cand-alpha", Input).disabled  # only wp has an α
        app.query_one("#cand-text", TextArea).load_text("a dog saw a cat .\nthe cat sat .")
        app.query_one("#cand-criterion", Select).value = "wp"
        await pilot.pause()
        assert not app.query_one("#cand-alpha", Input).disabled
        await pilot.press("ctrl+r")
        await settle(pilot)
        panel = app.query_one(CandidatesPanel)
        for field, value in (("#cand-alpha", "-1"), ("#cand-weight", "x"), ("#cand-oov", "nan")):
            app.query_one(field, Input).value = value
            panel.show_ranking()
            await pilot.pause()
            expected = panel.query_one(field, Input)
            try:
                panel.settings()
            except RnngenError as exc:
                message = str(exc)
            else:
                raise AssertionError(f"{field}={value} was accepted")
            assert app.notifications_seen[-1] == ("error", message)
            expected.value = {"#cand-alpha": "0.6", "#cand-weight": "1", "#cand-oov": "0"}[field]
        # a malformed Moses line is refused with the engine's own message, naming the line
        app.query_one("#cand-text", TextArea).load_text("0 ||| a dog . ||| x ||| -1\nnot an id ||| the cat . ||| x ||| -2")
        panel.rank()
        await pilot.pause()
        assert app.notifications_seen[-1][0] == "error" and "line 2" in app.notifications_seen[-1][1]


async def test_score_tab_in_the_real_app(tiny_lm):
    app_module = pytest.importorskip("rnngen.tui.app")
    app = app_module.make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: app.focused is not None)  # the app has started and focused its first tab
        app.lm = tiny_lm
        await pilot.press("3")
        pane = app.query_one(ScorePane)
        # the app focuses the tab's first control once the tab is shown; click into the field after that
        await wait_for(pilot, lambda: app.focused is not None and pane in app.focused.ancestors_with_self)
        await click_into(pilot, "#score-input")
        await pilot.press(*"a cat saw a dog .", "enter")
        await wait_for(pilot, lambda: app.query_one(HeatMap).words)
        expected = tiny_lm.score(["a cat saw a dog ."])[0]
        assert f"log P {expected.logprob:.3f}" in shown(app, "#score-numbers")
        assert [w.text for w in app.query_one(HeatMap).words] == "a cat saw a dog . </s>".split()


async def test_a_long_list_is_scored_in_chunks_and_the_table_shows_the_best(tiny_lm):
    from rnngen.tui.widgets.candidates import CHUNK, MAX_ROWS

    base = CANDIDATES.split("\n")
    lines = [f"{base[n % len(base)]}" if n % 3 else f"{base[n % len(base)]} the cat ." for n in range(MAX_ROWS + 200)]
    assert len(lines) > CHUNK
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ScorePane).action_toggle_mode()
        app.query_one("#cand-text", TextArea).load_text("\n".join(lines))
        app.query_one(CandidatesPanel).rank()
        # chunks are scored one after another: wait for the last one (a busy machine takes longer)
        await wait_for(pilot, lambda: "rows shown" in str(app.query_one("#cand-status", Static).render()))
        await settle(pilot)
        panel = app.query_one(CandidatesPanel)
        order, _, _ = expected_order(tiny_lm, lines, "none")
        assert panel.ranked_sentences() == order
        table = app.query_one("#cand-table", DataTable)
        assert table.row_count == MAX_ROWS
        assert [r[1] for r in cells(table)[:5]] == order[:5]
        unknown = sum(r.lm.oov for r in panel.ranked())
        assert unknown > 0  # the CANDIDATES have words the tiny model does not know: the status says so
        assert (f"{len(lines):,} candidates (lines): ranked by total log-prob; {unknown:,} unknown word(s) scored as "
                f"<unk>; the first {MAX_ROWS:,} rows shown") in str(app.query_one("#cand-status", Static).render())


async def test_typing_on_the_score_tab_goes_into_the_sentence_field(tiny_lm):
    """Pressing 3 then typing scores the sentence without first clicking into the field."""
    from rnngen.tui.app import make_app

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.lm = tiny_lm
        await pilot.pause()
        await pilot.press("3")
        await wait_for(pilot, lambda: app.focused is not None and app.query_one("ScorePane") in app.focused.ancestors)
        await pilot.pause(0.3)  # a person's pace: the tab switch settles its focus first
        await pilot.press(*"the cat")
        await pilot.pause()
        field = app.query_one("#score-input")
        assert field.value == "the cat"
        assert app.focused is field


def test_rerank_and_cache_options_come_from_the_engine_settings_in_both_faces():
    import argparse
    from dataclasses import fields

    from rnngen.cli import evaluate as cli_evaluate
    from rnngen.cli import rerank as cli_rerank
    from rnngen.cli._common import picked
    from rnngen.options import CacheSettings, Normalization, RerankSettings
    from rnngen.tui.widgets import candidates

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_rerank.register(sub)
    cli_evaluate.register(sub)
    commands = parser._subparsers._group_actions[0].choices
    for command, cls in (("rerank", RerankSettings), ("eval", CacheSettings)):
        actions = {a.dest: a for a in commands[command]._actions}
        for f in fields(cls):
            assert actions[f.name].help.startswith(f.metadata["help"])
            assert actions[f.name].default is None  # unset: the settings' own default
    assert candidates.HELP == {f.name: f.metadata["help"] for f in fields(RerankSettings)}
    args = parser.parse_args(["rerank", "m", "x", "--normalize", "wp:0.5", "--oov-penalty", "-2"])
    assert RerankSettings.from_options(picked(args, RerankSettings)) == RerankSettings(1.0, Normalization("wp", 0.5),
                                                                                       -2.0)
    assert picked(parser.parse_args(["eval", "m", "x", "--cache", "100"]), CacheSettings) == {"size": 100}


async def test_the_tabs_weight_and_oov_tooltips_are_the_commands_help(tiny_lm):
    from dataclasses import fields

    from rnngen.options import RerankSettings

    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        help_of = {f.name: f.metadata["help"] for f in fields(RerankSettings)}
        assert app.query_one("#cand-weight", Input).tooltip == help_of["weight"]
        assert app.query_one("#cand-oov", Input).tooltip == help_of["oov_penalty"]


async def test_a_tuned_settings_file_fills_the_candidate_fields(tiny_lm, tmp_path):
    from rnngen.options import Normalization, RerankSettings
    from rnngen.tune import SETTINGS_FORMAT, SETTINGS_VERSION

    tuned = tmp_path / "tuned.json"
    tuned.write_text(json.dumps({"format": SETTINGS_FORMAT, "version": SETTINGS_VERSION, "weight": 0.5,
                                 "lm_alone": False, "normalize": "wp:1", "oov_penalty": -5}))
    alone = tmp_path / "alone.json"
    alone.write_text(json.dumps({"format": SETTINGS_FORMAT, "version": SETTINGS_VERSION, "weight": None,
                                 "lm_alone": True, "normalize": "none", "oov_penalty": 0}))
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": SETTINGS_FORMAT, "version": 99}))
    app = PaneApp(ScorePane, tiny_lm)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ScorePane).action_toggle_mode()
        await pilot.pause()
        panel = app.query_one(CandidatesPanel)
        path = app.query_one("#cand-path", Input)
        path.focus()
        path.value = str(tuned)
        await pilot.press("enter")
        await pilot.pause()
        assert panel.settings() == RerankSettings(0.5, Normalization("wp", 1.0), -5.0)
        assert app.notifications_seen[-1][0] == "information"
        for bad, words in ((alone, "LM alone"), (old, "version 99")):
            path.value = str(bad)
            await pilot.press("enter")
            await pilot.pause()
            assert words in app.notifications_seen[-1][1]
        assert panel.settings() == RerankSettings(0.5, Normalization("wp", 1.0), -5.0)  # left as it was
