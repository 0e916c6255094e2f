"""The Train tab: presets and every engine option, and training watched live.

The engine's `train()` generator runs in a thread worker; each event is posted
to this pane as a `TrainingEvent` message, so all widget work happens on the
UI thread and stays small (plots are redrawn by a timer, not per event).

A run started elsewhere (`rnngen train --events FILE`, another process or a GPU
server over a shared folder) is drawn the same way: attaching (ctrl+o) follows
FILE in a thread worker and posts each event it reads as a `TrainingEvent`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, ProgressBar, RichLog, Select, Static

from rnngen import events
from rnngen.config import PRESET_HELP, PRESETS, preset

# The corpora picked here are mostly book-sized (the built-in one, a book, a downloaded classic): the preset
# `rnngen train`'s `auto` picks for them. For millions of words, `small` is the other choice.
TUI_PRESET = "small-corpus"
from rnngen.display import clock
from rnngen.errors import RnngenError
from rnngen.tui.messages import (describe_error, CorpusProgressed, EntropyFloorComputed, TrainingEnded,
                                 TrainingEvent)
from rnngen.tui.widgets.config_form import ConfigForm
from rnngen.tui.widgets.training_plots import TrainingPlots


PROGRESS_STEPS = 1000
FLOOR_SPLIT = "valid"  # the split the chart's perplexities are measured on
POLL_S = 0.5  # how often an attached events file is read for new lines


def yield_to_the_ui() -> float:
    """Make the training thread give way to the UI thread; returns the old GIL switch interval.

    Three things keep keys answered while torch trains on the CPU: torch uses all
    cores but one (`hardware.set_threads`, called by the worker); this (worker) thread runs at a lower OS priority (Linux nice
    is per thread), so the scheduler prefers the UI thread whenever it wakes; and
    the GIL switch interval is shortened, so the UI thread waits less for it.
    """
    import os
    import sys

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: the other two still help
        pass
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    return old


def valid_name(value: str, root: Path | None = None) -> str | None:
    """Why `value` cannot name an output model, or None: the engine's rule (`checkpoint.resolve`), as the CLI's."""
    from rnngen.checkpoint import resolve

    if not value.strip():
        return "give the model a name"
    try:
        resolve(value.strip(), root)
    except RnngenError as exc:
        return str(exc)
    return None


def status_lines(e: events.BatchDone, best_ppl: float | None) -> str:
    """Three short lines (each fits the live pane at 80 columns), so speed and ETA always show."""
    best = f" · best valid ppl {best_ppl:.2f}" if best_ppl is not None else ""
    return (f"epoch {e.epoch} · batch {e.batch}/{e.batches} · loss {e.loss:.3f}\n"
            f"{e.tokens_per_s:,.0f} tokens/s · elapsed {clock(e.elapsed_s)} · ETA {clock(e.eta_s)}\n"
            f"lr {e.lr:.3g}{best}")


def skipped_note(path: Path, bad: int, unknown: int) -> str:
    """What a followed file held that could not be drawn: never silent, never a crash."""
    parts = [f"{bad} unreadable line(s)"] * bool(bad) + [f"{unknown} event(s) of a newer rnngen"] * bool(unknown)
    return f"{path.name}: skipped {' and '.join(parts)} so far"


@dataclass
class AttachNoted(Message):
    """Something the followed events file did that the log should say (a new run, skipped lines)."""

    attachment: int  # which attachment said it (one detached meanwhile is not listened to)
    text: str


@dataclass
class AttachEnded(Message):
    """Following an events file ended: its run finished, or the file could not be read (`error`)."""

    attachment: int
    path: Path
    error: str = ""


class TrainPane(Horizontal):
    """Form on the left, live progress on the right."""

    BINDINGS = [
        Binding("ctrl+s", "start", "Start"),
        Binding("ctrl+x", "stop", "Stop"),
        Binding("ctrl+r", "resume", "Resume"),
        Binding("ctrl+o", "attach", "Attach"),
        Binding("ctrl+g", "gradients", "Gradients"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.stop_event: threading.Event | None = None
        self.training = False
        self.start_epoch = 1
        self.batches_per_epoch = 0
        self.total_batches = 0
        self.saved: Path | None = None
        self.best_ppl: float | None = None
        self.attached: Path | None = None  # the events file of a run followed from elsewhere
        self._attachment = 0
        self._last_events_file = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="train-setup"):
            with Horizontal(classes="field"):
                yield Label("preset", classes="field-name")
                yield Select([(f"{name}", name) for name in PRESETS], value=TUI_PRESET, allow_blank=False,
                             compact=True, id="preset")
            with Horizontal(classes="field"):
                yield Label("output", classes="field-name")
                yield Input("", compact=True, id="out-name", placeholder="model name")
            with Horizontal(id="train-buttons"):
                yield Button("Start", variant="success", id="start", compact=True)
                yield Button("Stop", variant="error", id="stop", compact=True, disabled=True)
                yield Button("Resume", id="resume", compact=True)
            yield Static("", id="train-problem", classes="problem")
            yield ConfigForm(id="train-form")
        with Vertical(id="train-live"):
            yield Static("Idle. Pick options and press Start (ctrl+s).", id="train-status")
            yield ProgressBar(id="train-progress", show_eta=False)
            yield TrainingPlots(id="train-plots")
            yield RichLog(id="train-log", max_lines=500, wrap=True, markup=False, min_width=20)

    def on_mount(self) -> None:
        self.query_one("#preset", Select).tooltip = "\n".join(f"{k}: {v}" for k, v in PRESET_HELP.items())
        self._apply_preset(TUI_PRESET)
        self.query_one("#train-progress", ProgressBar).update(total=1, progress=0)
        self.watch(self.app, "corpus_spec", self._corpus_changed)

    # -- form -------------------------------------------------------------------------
    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        self._apply_preset(str(event.value))

    def _apply_preset(self, name: str) -> None:
        model, train = preset(name)
        self.query_one(ConfigForm).set_values(model, train)
        self._suggest_name()

    def _corpus_changed(self, spec: str) -> None:
        self._suggest_name()

    def _suggest_name(self) -> None:
        """`<corpus>-<preset>`, unless the person typed a name of their own."""
        field = self.query_one("#out-name", Input)
        if field.value and field.value != getattr(self, "_suggested", None):
            return
        spec = Path(str(getattr(self.app, "corpus_spec", "") or "model")).stem or "model"
        self._suggested = f"{spec}-{self.query_one('#preset', Select).value}"
        field.value = self._suggested

    @on(ConfigForm.ValidityChanged)
    @on(Input.Changed, "#out-name")
    def _validity(self) -> None:
        form = self.query_one(ConfigForm)
        problems = list(form._problems)
        name_problem = valid_name(self.query_one("#out-name", Input).value, self.app.checkpoints)
        if name_problem:
            problems.append(f"output: {name_problem}")
        self.query_one("#train-problem", Static).update(Text("\n".join(problems), style="bold red"))
        self._sync_buttons(bool(problems))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer offers Stop while training or attached, Start, Resume and Attach otherwise."""
        if action in ("start", "resume", "attach"):
            return not self.busy
        if action == "stop":
            return self.busy
        if action == "gradients":  # on a -wide screen all three charts show
            return not self.screen.has_class("-wide")
        return True

    @property
    def busy(self) -> bool:
        """Training here or following a run elsewhere: the two never mix in one display."""
        return self.training or self.attached is not None

    def on_resize(self) -> None:
        self.refresh_bindings()

    def _sync_buttons(self, invalid: bool | None = None) -> None:
        if invalid is None:
            invalid = not self.query_one(ConfigForm).valid or bool(valid_name(self.query_one("#out-name", Input).value,
                                                                                 self.app.checkpoints))
        self.query_one("#start", Button).disabled = self.busy or invalid
        self.query_one("#resume", Button).disabled = self.busy or invalid
        self.query_one("#stop", Button).disabled = not self.busy
        self.refresh_bindings()

    # -- actions ---------------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        self._begin(resume=False)

    @on(Button.Pressed, "#resume")
    def action_resume(self) -> None:
        self._begin(resume=True)

    @on(Button.Pressed, "#stop")
    def action_stop(self) -> None:
        if self.attached is not None:
            self.detach()
        elif self.training and self.stop_event is not None:
            self.stop_event.set()
            self.query_one("#train-status", Static).update("Stopping after this batch; the best model is kept …")
        else:
            self.app.notify("Nothing is training.", severity="warning")

    def _begin(self, resume: bool) -> None:
        app: Any = self.app
        if self.busy:
            app.notify(self._busy_note(), severity="warning")
            return
        name = self.query_one("#out-name", Input).value.strip()
        problem = valid_name(name, app.checkpoints)
        try:
            if problem:
                raise RnngenError(f"output: {problem}")
            model_config, train_config = self.query_one(ConfigForm).values()
        except RnngenError as exc:
            app.notify(str(exc), title="Cannot train", severity="error", timeout=8)
            return
        from rnngen.checkpoint import looks_like_model, resolve

        out = resolve(name, app.checkpoints)
        if not resume and looks_like_model(out):
            from rnngen.tui.screens.dialogs import ConfirmScreen

            def answered(yes: bool | None) -> None:
                if yes:  # confirmed: replace it, as `rnngen train --force` does
                    self._launch(model_config, train_config, out, resume, force=True)

            app.push_screen(ConfirmScreen(f"A model named {name!r} exists. Train a new one over it?", "Replace"),
                            answered)
            return
        self._launch(model_config, train_config, out, resume)

    def _launch(self, model_config: Any, train_config: Any, out: Path, resume: bool, force: bool = False) -> None:
        app: Any = self.app
        self.training, self.saved, self.best_ppl = True, None, None
        self.stop_event = threading.Event()
        self._sync_buttons()
        # leave the text field: keys 1-5 switch tabs again while the model trains
        self.query_one("#stop", Button).focus()
        self.query_one(TrainingPlots).reset()
        self.query_one("#train-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#train-log", RichLog).write(f"{'Resuming' if resume else 'Training'} {out.name} on "
                                                     f"{app.corpus_spec} …")
        self.query_one("#train-status", Static).update(f"Loading {app.corpus_spec} …")
        self._train(app.corpus_spec, dict(app.corpus_options), app.loaded_corpus(), model_config, train_config, out, resume,
                    self.stop_event, force)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train")
    def _train(self, spec: str, options: dict, corpus: Any, model_config: Any, train_config: Any, out: Path,
               resume: bool, stop: threading.Event, force: bool = False) -> None:
        """Runs in a thread: load the corpus if needed, run the engine, post every event."""
        from rnngen.corpus import load_corpus
        from rnngen.corpus.stats import true_perplexity
        from rnngen.hardware import set_threads
        from rnngen.lm import LanguageModel
        from rnngen.train import train

        import torch

        saved: Path | None = None
        switch_interval, threads = yield_to_the_ui(), torch.get_num_threads()
        try:
            set_threads()  # $RNNGEN_THREADS, else all cores but one (so the UI thread keeps one), as the CLI
            if corpus is None:
                def progress(phase: str, done: int, total: int) -> None:
                    self.post_message(CorpusProgressed(spec, phase, done, total))

                corpus = load_corpus(spec, lowercase=options.get("lowercase", False), root=self.app.corpora,
                                     progress=progress)
            floor = true_perplexity(corpus, FLOOR_SPLIT) if corpus.valid else None
            if floor is not None:
                self.post_message(EntropyFloorComputed(floor, FLOOR_SPLIT))
            finished = None
            for event in train(corpus, model_config, train_config, out, stop, resume, force):
                if isinstance(event, events.Checkpointed):
                    saved = event.path
                elif isinstance(event, events.Finished):
                    finished = event
                self.post_message(TrainingEvent(event))
            lm = LanguageModel.load(finished.path if finished else out)
            self.post_message(TrainingEnded(lm, reason=finished.reason if finished else ""))
        except Exception as exc:  # a failed run must never take the app down
            message = describe_error(exc)
            lm = None
            if saved is not None:
                try:
                    lm = LanguageModel.load(saved)
                except RnngenError:
                    lm = None
            self.post_message(TrainingEnded(lm, error=message))
            if not isinstance(exc, RnngenError):
                raise  # a bug: the app logs its traceback (RnngenApp.on_worker_state_changed)
        finally:
            import sys

            sys.setswitchinterval(switch_interval)
            torch.set_num_threads(threads)  # the process's setting, as it was before this run

    # -- a run started elsewhere, followed through its events file ------------------------------
    def _busy_note(self) -> str:
        if self.attached is not None:
            return f"Attached to {self.attached}; detach first (ctrl+x)."
        return "Training is already running; stop it first (ctrl+x)."

    def action_attach(self) -> None:
        """Ask for the events file of a run (`rnngen train --events FILE`) and follow it."""
        from rnngen.tui.screens.dialogs import PromptScreen

        if self.busy:
            self.app.notify(self._busy_note(), severity="warning")
            return
        self.app.push_screen(PromptScreen("Attach to a training run: its events file (rnngen train --events FILE):",
                                          self._last_events_file),
                             lambda path: self.attach(path) if path else None)

    def attach(self, path: str | Path) -> None:
        """Draw the run whose events `path` holds: what is there at once, then each new line as it comes."""
        if self.busy:
            self.app.notify(self._busy_note(), severity="warning")
            return
        self._last_events_file = str(path)
        file = Path(path).expanduser()
        if not file.is_file():  # said at once; a file that vanishes later is waited for
            self.app.notify(f"No events file {file}" + (" (it is a folder)" if file.is_dir() else ""),
                            title="Cannot attach", severity="error")
            return
        self.attached, self.saved, self.best_ppl = file, None, None
        self._sync_buttons()
        self.query_one("#stop", Button).focus()
        self.query_one(TrainingPlots).reset()
        self.query_one("#train-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#train-log", RichLog).write(f"attached to {file}: drawing its run (ctrl+x detaches)")
        self.query_one("#train-status", Static).update(f"Following {file} … (ctrl+x detaches)")
        self._attachment += 1
        self._follow(file, self._attachment)

    def detach(self) -> None:
        """Stop following; the run itself goes on wherever it runs."""
        path, self.attached = self.attached, None
        self.workers.cancel_group(self, "attach")
        self._idle_again()
        self.query_one("#train-log", RichLog).write(f"detached from {path} (the run itself goes on)")
        self.query_one("#train-status", Static).update(f"Detached from {path}. Attach again with ctrl+o.")

    @work(thread=True, exclusive=True, exit_on_error=False, group="attach")
    def _follow(self, path: Path, attachment: int) -> None:
        """Runs in a thread: poll the file, post its events; a `Finished` with nothing after it ends the run."""
        from textual.worker import get_current_worker

        worker, follower = get_current_worker(), events.EventFollower(path)
        bad = unknown = 0
        read_once = False
        while not worker.is_cancelled:
            try:
                read = follower.poll()
            except RnngenError as exc:
                if not read_once:
                    self.post_message(AttachEnded(attachment, path, error=str(exc)))
                    return
                read = events.Read(())  # replaced or briefly gone: wait for it to come back
            read_once = True
            if read.restarted:
                self.post_message(AttachNoted(attachment, f"{path.name} was started over: a new run"))
            for event in read.events:
                if worker.is_cancelled:
                    return
                self.post_message(TrainingEvent(event, attachment))
            if (follower.bad, follower.unknown) != (bad, unknown):
                bad, unknown = follower.bad, follower.unknown
                self.post_message(AttachNoted(attachment, skipped_note(path, bad, unknown)))
            if read.events and isinstance(read.events[-1], events.Finished) and not read.more:
                self.post_message(AttachEnded(attachment, path))
                return
            if not read.more:
                worker.cancelled_event.wait(POLL_S)

    @on(AttachNoted)
    def _attach_noted(self, message: AttachNoted) -> None:
        if message.attachment == self._attachment and self.attached is not None:
            self.query_one("#train-log", RichLog).write(message.text)

    @on(AttachEnded)
    def _attach_ended(self, message: AttachEnded) -> None:
        if message.attachment != self._attachment or self.attached is None:  # detached meanwhile
            return
        self.attached = None
        self._idle_again()
        if message.error:
            self.query_one("#train-status", Static).update(Text(f"Cannot follow: {message.error}", style="red"))
            self.app.notify(message.error, title="Cannot attach", severity="error")
            return
        best = f" (best valid ppl {self.best_ppl:.2f})" if self.best_ppl is not None else ""
        self.query_one("#train-status", Static).update(f"The run in {message.path} finished{best}.")
        self.app.notify(f"The run in {message.path.name} finished{best}.", title="Attached run finished")

    def _idle_again(self) -> None:
        """Start and Resume again; the focus leaves the disabled Stop button, so the tab's keys stay offered."""
        had_focus = self.app.focused is self.query_one("#stop", Button)
        self._sync_buttons()
        if had_focus:
            self.query_one("#start", Button).focus()
        self.query_one(TrainingPlots).redraw()
        bar = self.query_one("#train-progress", ProgressBar)
        if bar.total is None:  # nothing arrived (or a run failed before its first batch): stop pulsing
            bar.update(total=1, progress=0)

    # -- events from the worker -------------------------------------------------------------
    @on(EntropyFloorComputed)
    def _floor(self, message: EntropyFloorComputed) -> None:
        self.query_one(TrainingPlots).set_floor(message.perplexity, message.split)
        self.query_one("#train-log", RichLog).write(
            f"true perplexity of the source on {message.split} (floor): {message.perplexity:.2f}")

    @on(CorpusProgressed)
    def _preparing(self, message: CorpusProgressed) -> None:
        """The corpus is read, tokenized and cached before the first batch (a cached one is there at once)."""
        self.query_one("#train-status", Static).update(f"{message.phase} ({Path(message.spec).name})…{message.share}")
        self.query_one("#train-progress", ProgressBar).update(total=message.total or None, progress=message.done)

    @on(TrainingEvent)
    def _event(self, message: TrainingEvent) -> None:
        message.stop()
        if not self.busy or message.attachment != (self._attachment if self.attached is not None else 0):
            return  # queued by an attachment since detached (or by the one before it)
        event = message.event
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_Started(self, e: events.Started) -> None:
        if self.attached is not None:  # each run in a followed file (a resume appends one) draws afresh
            self.query_one(TrainingPlots).reset()
            self.best_ppl = None
        self.start_epoch, self.batches_per_epoch = e.start_epoch, e.batches_per_epoch
        self.total_batches = max(e.epochs - e.start_epoch + 1, 1) * e.batches_per_epoch
        self.query_one("#train-progress", ProgressBar).update(total=PROGRESS_STEPS, progress=0)
        self.query_one("#train-log", RichLog).write(
            f"{e.parameters:,} parameters, vocabulary {e.vocab_size:,}, {e.train_tokens:,} training tokens, "
            f"{e.batches_per_epoch} batches per epoch, on {e.device}")
        if e.earlier:
            self._redraw_earlier(e.earlier)

    def _redraw_earlier(self, earlier: tuple[dict, ...]) -> None:
        """A resumed run's chart and best start from the epochs its checkpoint already holds."""
        plots = self.query_one(TrainingPlots)
        for record in earlier:
            plots.add_loss(float(record["epoch"]), record["train_loss"])
            plots.add_ppl(record["epoch"], record["valid_ppl"])
        self.best_ppl = min(record["valid_ppl"] for record in earlier)
        self.query_one("#train-log", RichLog).write(
            f"resuming after epoch {earlier[-1]['epoch']}: best valid ppl {self.best_ppl:.2f} so far")

    def _on_BatchDone(self, e: events.BatchDone) -> None:
        # batches done, or time used when a time budget ends training first (as the ETA says)
        done = ((e.epoch - self.start_epoch) * e.batches + e.batch) / max(self.total_batches, 1)
        by_time = e.elapsed_s / (e.elapsed_s + e.eta_s) if e.elapsed_s + e.eta_s > 0 else 0.0
        self.query_one("#train-progress", ProgressBar).update(progress=PROGRESS_STEPS * max(done, by_time))
        self.query_one(TrainingPlots).add_loss(e.epoch - 1 + e.fraction, e.loss)
        following = f"\nfollowing {self.attached.name} · ctrl+x detaches" if self.attached is not None else ""
        self.query_one("#train-status", Static).update(status_lines(e, self.best_ppl) + following)

    def _on_Gradients(self, e: events.Gradients) -> None:
        self.query_one(TrainingPlots).add_gradients(e.epoch, e.batch, e.batches, e.norms, e.clip, e.clipped)

    def action_gradients(self) -> None:
        """Below 110 columns, swap the loss chart for the gradient-norm chart (wider, all three show)."""
        plots = self.query_one(TrainingPlots)
        plots.show_gradients = not plots.show_gradients

    def _on_EpochDone(self, e: events.EpochDone) -> None:
        self.query_one(TrainingPlots).add_ppl(e.epoch, e.valid_ppl)
        if e.improved:
            self.best_ppl = e.valid_ppl
        mark = " (best)" if e.improved else ""
        clipped = f", clipped {e.clipped}/{e.batches} batches" if e.clipped else ""
        self.query_one("#train-log", RichLog).write(
            f"epoch {e.epoch}: train loss {e.train_loss:.3f}, valid ppl {e.valid_ppl:.2f}{mark}, lr {e.lr:.3g}"
            f"{clipped}")

    def _on_Sample(self, e: events.Sample) -> None:
        self.query_one("#train-log", RichLog).write(f"sample (epoch {e.epoch}, batch {e.batch}): {e.text}")

    def _on_Checkpointed(self, e: events.Checkpointed) -> None:
        self.saved = e.path
        self.query_one("#train-log", RichLog).write(f"saved {e.path.name} (valid ppl {e.valid_ppl:.2f})")

    def _on_Finished(self, e: events.Finished) -> None:
        reasons = {"epochs": "all epochs done", "time": "time budget used", "early-stop": "stopped early (no "
                   "improvement)", "stopped": "stopped on request"}
        self.query_one("#train-log", RichLog).write(
            f"finished: {reasons.get(e.reason, e.reason)} after {e.epochs_run} epoch(s); best valid ppl "
            f"{e.best_valid_ppl:.2f}; model in {e.path}")
        bar = self.query_one("#train-progress", ProgressBar)
        if bar.total:
            bar.update(progress=bar.total)

    @on(TrainingEnded)
    def _ended(self, message: TrainingEnded) -> None:
        app: Any = self.app
        self.training = False
        self._idle_again()
        if message.lm is not None:
            app.lm = message.lm
        if message.error:
            kept = f" The best model so far is loaded ({message.lm.name})." if message.lm is not None else ""
            self.query_one("#train-status", Static).update(Text(f"Training failed: {message.error}", style="red"))
            self.query_one("#train-log", RichLog).write(f"failed: {message.error}")
            app.notify(message.error + kept, title="Training failed", severity="error", timeout=10)
        else:
            best = f" (valid ppl {self.best_ppl:.2f})" if self.best_ppl is not None else ""
            self.query_one("#train-status", Static).update(f"Done: {message.lm.name}{best} is loaded.")
            app.notify(f"Model {message.lm.name}{best} is trained and loaded.", title="Training finished")
