"""Train tab: the form mirrors the configs, validates as typed, and a tiny model trains to the end."""

from __future__ import annotations

from dataclasses import fields

import pytest

from textual.widgets import Button, Input, RichLog, Select

from rnngen import events
from rnngen.config import ModelConfig, TrainConfig
from rnngen.corpus.stats import true_perplexity
from rnngen.tui.screens.train import TrainPane
from rnngen.tui.widgets.config_form import ConfigForm
from rnngen.tui.widgets.training_plots import TrainingPlots
from tests.tui.conftest import notifications, shown, wait_for
from tests.tui.snapshot_app import tiny_corpus

TINY = {"rnn_type": "lstm", "vocab_size": "100", "emb": "16", "hidden": "16", "layers": "1", "dropout": "0.0",
        "epochs": "3", "batch_size": "16", "bptt": "16", "sample_every": "5", "log_every": "2", "patience": "0"}


def log_text(app) -> str:
    return "\n".join(line.text for line in app.query_one("#train-log", RichLog).lines)


async def fill(pilot, app, values: dict[str, str], out: str) -> None:
    form = app.query_one(ConfigForm)
    for name, value in values.items():
        form.set_value(name, value)
    app.query_one("#out-name", Input).value = out
    await pilot.pause()


async def test_form_has_every_engine_option_and_presets_fill_it(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        form = app.query_one(ConfigForm)
        for cls in (ModelConfig, TrainConfig):
            for f in fields(cls):
                if f.metadata.get("form", True):  # `nproc` is the CLI's alone: the app trains in one process
                    assert form.query_one(f"#opt-{f.name}") is not None
                else:
                    assert not form.query(f"#opt-{f.name}")
        app.query_one("#preset", Select).value = "tutorial"
        await pilot.pause()
        model, train = form.values()
        assert (model.rnn_type, model.vocab_size, model.hidden, model.layers) == ("rnn_tanh", 8000, 100, 1)
        assert app.query_one("#out-name", Input).value == "tiny-tutorial"
        app.query_one("#preset", Select).value = "medium"
        await pilot.pause()
        model, train = form.values()
        assert (model.hidden, model.dropout, model.tied, train.epochs) == (650, 0.5, True, 20)


async def test_bad_option_is_marked_and_disables_start(app):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        start = app.query_one("#start", Button)
        assert not start.disabled
        field = app.query_one("#opt-dropout", Input)
        field.value = "1.5"
        await pilot.pause()
        assert "-invalid" in field.classes
        assert start.disabled
        assert "dropout must be in [0, 1), got 1.5" in shown(app.query_one("#train-problem"))
        app.query_one("#opt-epochs", Input).value = "ten"
        await pilot.pause()
        assert "epochs: 'ten' is not a whole number" in shown(app.query_one("#train-problem"))
        # the key binding refuses too, with the reason
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("Cannot train" in n for n in notifications(app)))
        field.value = "0.1"
        app.query_one("#opt-epochs", Input).value = "10"
        await pilot.pause()
        assert not start.disabled and "-invalid" not in field.classes
        app.query_one("#out-name", Input).value = ""
        await pilot.pause()
        assert start.disabled and "output: give the model a name" in shown(app.query_one("#train-problem"))


async def test_train_tiny_model_to_completion(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await fill(pilot, app, TINY, "fresh")
        await pilot.click("#start")
        await wait_for(pilot, lambda: app.query_one(TrainPane).training is False and app.lm is not None, 60)
        assert app.lm.name == "fresh"
        assert app.lm.path == app_env / "checkpoints" / "fresh"
        assert (app_env / "checkpoints" / "fresh" / "model.safetensors").is_file()
        plots = app.query_one(TrainingPlots)
        assert [e for e, _ in plots.ppl] == [1, 2, 3]
        assert plots.ppl == [(e["epoch"], e["valid_ppl"]) for e in app.lm.history["epochs"]]
        assert plots.loss  # one point per logged batch
        assert plots.batches == len(plots.norms) == 3 * app.query_one(TrainPane).batches_per_epoch  # every batch
        assert plots.clip == TrainConfig().clip and plots.clipped == sum(v > plots.clip for _, v in plots.norms)
        assert plots.floor == true_perplexity(tiny_corpus(), "valid")
        assert shown(app.query_one("#ppl-title")).strip() == f"valid ppl per epoch\nfloor {plots.floor:.2f} (valid)"
        assert shown(app.query_one("#loss-title")).strip() == "train loss\n(nats per word)"
        log = log_text(app)
        assert "finished: all epochs done after 3 epoch(s)" in log
        assert "sample (epoch 1, batch 5):" in log
        assert "true perplexity of the source on valid (floor): 6.00" not in log  # floor over 7 tokens per sentence
        assert f"true perplexity of the source on valid (floor): {plots.floor:.2f}" in log
        bar = app.query_one("#train-progress")
        assert bar.progress == bar.total
        assert "Training finished: Model fresh" in " ".join(notifications(app))
        assert not app.query_one("#start", Button).disabled


async def test_stop_keeps_a_loadable_checkpoint_and_resume_continues(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        app.query_one("#preset", Select).value = "small"  # adam: short log lines (the check below reads one)
        await pilot.pause()
        await fill(pilot, app, {**TINY, "epochs": "200", "sample_every": "0"}, "stopme")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.query_one(TrainingPlots).loss, 60)
        assert app.query_one("#stop", Button).disabled is False
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: not app.query_one(TrainPane).training, 60)
        assert "finished: stopped on request" in log_text(app)
        assert app.lm is not None and app.lm.name == "stopme"
        epochs_before = len(app.lm.history["epochs"])
        # resume for one more epoch beyond what was done
        app.query_one("#opt-epochs", Input).value = str(epochs_before + 1)
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "Resuming stopme" in log_text(app))
        await wait_for(pilot, lambda: not app.query_one(TrainPane).training, 60)
        assert len(app.lm.history["epochs"]) == epochs_before + 1
        # the chart and the best so far start from the epochs the checkpoint already held
        assert f"resuming after epoch {epochs_before}" in log_text(app)
        assert [x for x, _ in app.query_one(TrainingPlots).ppl] == list(range(1, epochs_before + 2))


async def test_training_failure_is_reported_and_app_survives(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        # 180 training sentences cannot fill a batch of 500
        await fill(pilot, app, {**TINY, "batch_size": "500"}, "fails")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("Training failed" in n for n in notifications(app)), 60)
        assert "fewer than the batch size 500" in " ".join(notifications(app))
        assert not app.query_one(TrainPane).training and app.lm is None
        assert not (app_env / "checkpoints" / "fails").exists()
        assert not app.query_one("#start", Button).disabled


async def test_existing_name_asks_before_replacing(app, app_env):
    from rnngen.tui.screens.dialogs import ConfirmScreen

    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await fill(pilot, app, TINY, "tiny")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not app.query_one(TrainPane).training
        assert (app_env / "checkpoints" / "tiny" / "history.json").read_text().count('"epoch"') == 6


async def test_confirmed_replace_trains_a_new_model_over_the_old_one(app, app_env):
    """"Replace" is `rnngen train --force`: the old run's history goes, the new run's is there."""
    import json

    from rnngen.tui.screens.dialogs import ConfirmScreen

    old_run = json.loads((app_env / "checkpoints" / "tiny" / "config.json").read_text())["run"]
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await fill(pilot, app, {**TINY, "epochs": "2"}, "tiny")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.lm is not None and not app.query_one(TrainPane).training, 60)
        assert not [n for n in notifications(app) if "failed" in n.lower()]
        config = json.loads((app_env / "checkpoints" / "tiny" / "config.json").read_text())
        assert config["run"] != old_run
        assert len(json.loads((app_env / "checkpoints" / "tiny" / "history.json").read_text())["epochs"]) == 2


async def test_output_names_follow_the_engine_rule(app, app_env):
    from rnngen.checkpoint import name_problem
    from rnngen.tui.screens.train import valid_name

    for bad in (".hidden", "..", "a\x01b", "x" * 201):
        assert valid_name(bad) == name_problem(bad), bad
    assert valid_name("fine-name") is None
    assert valid_name("   ") == "give the model a name"


async def test_train_tab_at_80x24_shows_speed_titles_and_log_lines_within_the_pane(app):
    from tests.tui.test_snapshots import fake_training

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        pane = app.query_one(TrainPane)
        fake_training(pane)
        pane._on_Sample(events.Sample(3, 20, " ".join(["a long sampled sentence that must wrap"] * 4)))
        await pilot.pause(0.2)
        status = app.query_one("#train-status")
        assert status.size.height == 3  # nothing of the three lines is cut
        lines = shown(status, width=status.size.width).splitlines()
        assert lines[1] == "5,000 tokens/s · elapsed 0:06 · ETA 0:02"
        assert lines[2] == "lr 0.002 · best valid ppl 7.20"  # the best before the last epoch ended
        for title, lines in (("#loss-title", ["train loss", "(nats per word)"]),
                             ("#ppl-title", ["valid ppl per epoch", "floor 6.00 (valid)"])):
            label = app.query_one(title)
            assert label.size.height == len(lines) and label.size.width >= max(map(len, lines))  # nothing wraps
            assert shown(label).strip().splitlines() == lines
        log = app.query_one("#train-log", RichLog)
        assert log.max_scroll_x == 0  # wrapped to the pane: nothing runs off its right edge
        assert max(line.cell_length for line in log.lines) <= log.scrollable_content_region.width


async def test_a_failed_resume_leaves_the_progress_bar_still(app, app_env):
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await fill(pilot, app, TINY, "never-trained")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any("Training failed" in n for n in notifications(app)), 60)
        bar = app.query_one("#train-progress")
        assert (bar.total, bar.progress) == (1, 0)  # not pulsing "--%"


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
async def test_gradient_chart_draws_each_batch_with_the_threshold_and_swaps_in_below_110_columns(app, size):
    from tests.tui.test_snapshots import fake_training

    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("2")
        pane = app.query_one(TrainPane)
        fake_training(pane)
        await pilot.pause(0.2)
        plots = app.query_one(TrainingPlots)
        assert len(plots.norms) == plots.batches == 60  # 2 norms per report, 10 reports per epoch, 3 epochs
        assert plots.clipped == sum(v > 0.25 for _, v in plots.norms) == 49
        assert shown(app.query_one("#grad-title")).strip().splitlines() == [
            "|gradient| per batch", "clip 0.25, cut 82%"]
        wide = size[0] >= 110
        grad, loss = app.query_one("#grad-chart"), app.query_one("#loss-chart")
        assert (grad.display, loss.display) == ((True, True) if wide else (False, True))
        assert pane.check_action("gradients", ()) is (not wide)
        if not wide:
            app.query_one("#train-log").focus()
            await pilot.press("ctrl+g")
            await pilot.pause()
            assert (grad.display, loss.display) == (True, False)  # the gradient chart in the loss chart's place
            assert grad.size.width >= 15
            await pilot.press("ctrl+g")
            await pilot.pause()
            assert (grad.display, loss.display) == (False, True)


async def test_preparing_the_corpus_shows_on_the_status_line_and_bar(app):
    """A corpus the Train tab reads itself reports its reading, tokenizing and caching before the first batch."""
    from textual.widgets import ProgressBar, Static

    from rnngen.tui.messages import CorpusProgressed
    from rnngen.tui.screens.train import TrainPane

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        pane = app.query_one(TrainPane)
        pane.post_message(CorpusProgressed("/books/war-and-peace.txt", "tokenizing", 300, 1200))
        await pilot.pause()
        assert "tokenizing (war-and-peace.txt)… 25%" in str(app.query_one("#train-status", Static).render())
        bar = app.query_one("#train-progress", ProgressBar)
        assert (bar.total, bar.progress) == (1200, 300)
