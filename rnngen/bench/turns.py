"""Training runs that take turns on the machine, each timed by its own clock.

A shared VM drifts: the same training step measured 55 ms and, ten minutes
later, 74 ms. Two 6-minute budget runs one after the other then meet
different machines, and their ratio says as much about the hour as about the
configurations. Taken in turns of a few seconds, both see the same
conditions, and each still gets exactly its budget of its own time (and, being a
`Trainer`, its own stream of random numbers: `Trainer.generator`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar


T = TypeVar("T")
_DONE = object()


class OwnClock:
    """Seconds spent inside `running()`: a clock that stops while another run has the machine."""

    def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
        self._now = now
        self._spent = 0.0
        self._since: float | None = None

    def __call__(self) -> float:
        return self._spent + (self._now() - self._since if self._since is not None else 0.0)

    @contextmanager
    def running(self) -> Iterator[None]:
        self._since = self._now()
        try:
            yield
        finally:
            self._spent += self._now() - self._since
            self._since = None


def take_turns(runs: Sequence[Iterator[T]], clocks: Sequence[OwnClock], turn_s: float) -> Iterator[tuple[int, T]]:
    """(index, item) from each run in turn, a run keeping the machine for `turn_s` of its own clock.

    The work between two of a run's items happens inside `next()`, so it is
    counted on that run's clock and nobody else's; what the caller does with
    an item is counted on none. `turn_s <= 0` runs them one after the other.
    """
    live = list(range(len(runs)))
    while live:
        for index in list(live):
            clock = clocks[index]
            began = clock()
            while turn_s <= 0 or clock() - began < turn_s:
                with clock.running():
                    item = next(runs[index], _DONE)
                if item is _DONE:
                    live.remove(index)
                    break
                yield index, item
