"""Budget runs that take turns on the machine: each is timed by its own clock, and only by it."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from rnngen.bench.turns import OwnClock, take_turns
from rnngen.config import ModelConfig, TrainConfig
from rnngen.events import EpochDone, Finished
from rnngen.train import Trainer

from tests.conftest import tiny_corpus


class FakeTime:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_own_clock_counts_only_time_spent_running():
    wall = FakeTime()
    clock = OwnClock(wall)
    wall.t += 5                       # not running: not counted
    assert clock() == 0.0
    with clock.running():
        wall.t += 2
        assert clock() == 2.0         # read while running
    wall.t += 7
    with clock.running():
        wall.t += 0.5
    assert clock() == 2.5


def worker(wall: FakeTime, name: str, items: int, cost: float):
    """A run whose every item takes `cost` seconds of the wall clock."""
    for i in range(items):
        wall.t += cost
        yield f"{name}{i}"


def test_runs_take_turns_of_their_own_time():
    wall = FakeTime()
    clocks = [OwnClock(wall), OwnClock(wall)]
    runs = [worker(wall, "a", 5, 1.0), worker(wall, "b", 3, 2.0)]
    order = [item for _, item in take_turns(runs, clocks, turn_s=2.0)]
    # a turn lasts until its run's own clock has moved 2 s: two of a's items, one of b's
    assert order == ["a0", "a1", "b0", "a2", "a3", "b1", "a4", "b2"]
    assert clocks[0]() == 5.0 and clocks[1]() == 6.0   # each clock saw only its own work
    assert wall.t - 100.0 == 11.0


def test_turns_of_zero_run_one_after_the_other():
    wall = FakeTime()
    runs = [worker(wall, "a", 3, 1.0), worker(wall, "b", 2, 1.0)]
    pairs = list(take_turns(runs, [OwnClock(wall), OwnClock(wall)], turn_s=0))
    assert pairs == [(0, "a0"), (0, "a1"), (0, "a2"), (1, "b0"), (1, "b1")]


def test_caller_time_is_on_no_clock():
    wall = FakeTime()
    clocks = [OwnClock(wall)]
    for _ in take_turns([worker(wall, "a", 3, 1.0)], clocks, turn_s=1.0):
        wall.t += 10                  # the caller's own work between items
    assert clocks[0]() == 3.0


def test_trainer_keeps_its_budget_by_the_clock_it_is_given(tmp_path: Path):
    ticks = itertools.count()
    clock = lambda: float(next(ticks))   # one second per reading, whatever the wall clock says
    tc = TrainConfig(epochs=1000, batch_size=8, max_minutes=1.0, sample_every=0, patience=0)
    mc = ModelConfig(vocab_size=100, emb=8, hidden=8, layers=1, dropout=0.0)
    events = list(Trainer(tiny_corpus(), mc, tc, tmp_path / "m", clock=clock).run())
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "time"
    # the clock is read about once per batch (23 a tiny epoch), so 60 readings end the run in epoch 3
    assert finished.epochs_run <= 3
    elapsed = [e.elapsed_s for e in events if isinstance(e, EpochDone)]
    assert 23 <= elapsed[0] < elapsed[-1] <= 61   # readings of the given clock, not the machine's seconds


def dropout_trainer(tmp_path: Path, name: str, hidden: int) -> Trainer:
    """A small run whose result depends on every random number it draws (dropout, word dropout)."""
    mc = ModelConfig(vocab_size=100, emb=8, hidden=hidden, layers=2, dropout=0.3, embed_drop=0.1)
    tc = TrainConfig(epochs=2, batch_size=8, sample_every=0, patience=0, seed=3)
    return Trainer(tiny_corpus(), mc, tc, tmp_path / name)


def final_weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.lm.module.state_dict().items()}


def interleaved(tmp_path: Path) -> list[dict[str, torch.Tensor]]:
    """Two runs switching after every event (each item costs its run a second of a fake clock)."""
    wall = FakeTime()

    def ticking(run):
        for item in run:
            wall.t += 1.0
            yield item

    trainers, runs = [], []
    for name, hidden in (("a", 8), ("b", 12)):
        trainer = dropout_trainer(tmp_path, name, hidden)
        runs.append(ticking(trainer.run()))  # as the bench does: no random state swapped around the steps
        trainers.append(trainer)
    switches = [index for index, _ in take_turns(runs, [OwnClock(wall), OwnClock(wall)], turn_s=1.0)]
    assert switches[:4] == [0, 1, 0, 1]   # they really alternate
    return [final_weights(t) for t in trainers]


def test_runs_taking_turns_draw_what_they_would_draw_alone(tmp_path: Path):
    alone = []
    for name, hidden in (("a", 8), ("b", 12)):
        trainer = dropout_trainer(tmp_path / "alone", name, hidden)
        for _ in trainer.run():
            pass
        alone.append(final_weights(trainer))
    together = interleaved(tmp_path / "turns")
    for mine, theirs in zip(alone, together):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert torch.equal(mine[key], theirs[key]), key


def test_a_run_leaves_torchs_global_random_state_as_it_found_it(tmp_path: Path):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    trainer = dropout_trainer(tmp_path, "a", 8)
    for _ in trainer.run():
        pass
    assert torch.equal(torch.get_rng_state(), before)
    # and the masks came from the run's own generator: the same seed, the same weights
    again = dropout_trainer(tmp_path / "again", "a", 8)
    for _ in again.run():
        pass
    first = final_weights(trainer)
    assert all(torch.equal(first[k], v) for k, v in final_weights(again).items())
