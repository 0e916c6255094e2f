"""Training progress as small immutable events; any front end can render them.

An event also has a JSON-lines form, so a run can be watched from another process or machine: `to_json` /
`from_json` turn one event into one line and back, `EventWriter` appends a run's events to a file
(`rnngen train --events FILE`), and `EventFollower` reads a file as it grows (the app's Train tab
attaches to one). A line is `{"event": "BatchDone", "epoch": 1, ...}`: a Path is a string, a tuple a
list, and a float that is not finite (JSON has none) the string "inf", "-inf" or "nan"; the reader
knows each field's type, so such a string becomes a float again only where a number belongs.
"""

from __future__ import annotations

import json
import math
import os
import typing
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Iterator

from rnngen.errors import RnngenError


@dataclass(frozen=True)
class Started:
    """Training set up: sizes a progress display needs before the first batch."""

    epochs: int
    batches_per_epoch: int
    train_tokens: int
    vocab_size: int
    parameters: int
    device: str
    start_epoch: int = 1
    # a resumed run's epochs so far (the checkpoint's history records), so a display can redraw them
    earlier: tuple[dict, ...] = ()


@dataclass(frozen=True)
class BatchDone:
    epoch: int
    batch: int
    batches: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float

    @property
    def fraction(self) -> float:
        return self.batch / self.batches if self.batches else 0.0


@dataclass(frozen=True)
class Gradients:
    """The gradient norm of every batch since the last report, before clipping (Pascanu et al. 2013).

    Never dropped by a front end that coalesces progress: each batch's norm is drawn, and `clipped`
    counts the batches whose norm was above `clip` (0: clipping off), so clipping shows as it fires.
    """

    epoch: int
    batch: int
    batches: int
    norms: tuple[float, ...]
    clip: float
    clipped: int

    @property
    def exploding(self) -> bool:
        """True when a norm is not finite: the gradients exploded past float range."""
        return not all(math.isfinite(n) for n in self.norms)


@dataclass(frozen=True)
class EpochDone:
    epoch: int
    train_loss: float
    valid_loss: float
    valid_ppl: float
    lr: float
    improved: bool
    elapsed_s: float
    clipped: int = 0  # batches of this epoch whose gradient norm was above the clipping threshold
    batches: int = 0  # batches of this epoch (the share clipped is clipped / batches)


@dataclass(frozen=True)
class Sample:
    """A sentence generated mid-training so people can watch the model learn."""

    epoch: int
    batch: int
    text: str


@dataclass(frozen=True)
class Checkpointed:
    path: Path
    epoch: int
    valid_ppl: float


@dataclass(frozen=True)
class Finished:
    """Training ended; `reason` is one of epochs, time, early-stop, stopped."""

    reason: str
    epochs_run: int
    best_valid_ppl: float
    path: Path
    elapsed_s: float


Event = Started | BatchDone | Gradients | EpochDone | Sample | Checkpointed | Finished

EVENTS: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(Event)}
_HINTS = {cls: typing.get_type_hints(cls) for cls in EVENTS.values()}  # each field's type, read once
NOT_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


# -- one event as one line of JSON ------------------------------------------------------------
def to_json(event: Event) -> str:
    """One line (no newline in it: JSON escapes those inside strings) that `from_json` reads back."""
    record = {"event": type(event).__name__}
    record.update((f.name, _plain(getattr(event, f.name))) for f in fields(event))
    return json.dumps(record, ensure_ascii=False, allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def from_json(line: str | bytes) -> Event | None:
    """The event a line of `to_json` holds, or None for an event this version does not know (a newer
    writer's). Fields it does not know are ignored; a line that is not an event raises ValueError."""
    record = json.loads(line)
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        raise ValueError("not an event: an object with an \"event\" name was expected")
    cls = EVENTS.get(record["event"])
    if cls is None:
        return None
    hints, values = _HINTS[cls], {}
    for f in fields(cls):
        if f.name in record:
            values[f.name] = _typed(record[f.name], hints[f.name], f.name)
        elif f.default is MISSING:
            raise ValueError(f"{cls.__name__} without {f.name}")
    return cls(**values)


def _typed(value: Any, hint: Any, name: str) -> Any:
    """`value` as the field's type, or ValueError: a line's numbers and names are checked, not trusted."""
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list):
            raise ValueError(f"{name}: a list was expected")
        return tuple(_typed(v, typing.get_args(hint)[0], name) for v in value)
    if hint is float and isinstance(value, str) and value in NOT_FINITE:
        return NOT_FINITE[value]
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is Path and isinstance(value, str):
        return Path(value)
    if hint is dict and isinstance(value, dict):  # a history record: numbers, written as `_plain` writes them
        return {k: NOT_FINITE.get(v, v) if isinstance(v, str) else v for k, v in value.items()}
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise ValueError(f"{name}: {type(value).__name__} where {getattr(hint, '__name__', hint)} belongs")


# -- a run's events in a file ---------------------------------------------------------------
class EventWriter:
    """Appends one JSON line per event to a file, each in one unbuffered write.

    Nothing waits in a buffer, so a reader following the file (here, or on another machine over a
    shared filesystem) sees each event as soon as it happens; a line caught half-written is left for
    the reader's next poll (`EventFollower`). A fresh run empties the file as it writes its first event
    (a run refused while it is set up leaves the last run's events alone); a resumed one appends.
    """

    def __init__(self, path: Path | str, append: bool = False) -> None:
        self.path, self._empty_first = Path(path), not append
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        if not self.path.parent.is_dir():
            raise RnngenError(f"cannot write the events file {self.path}: no folder {self.path.parent}")
        try:
            self._fd: int | None = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise RnngenError(f"cannot write the events file {self.path}: {_why(exc)}") from None

    def write(self, event: Event) -> None:
        data = (to_json(event) + "\n").encode("utf-8")
        try:
            if self._empty_first and self._fd is not None:
                os.ftruncate(self._fd, 0)
                self._empty_first = False
            while data and self._fd is not None:  # a regular file takes it whole; the loop is for the rare short write
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            raise RnngenError(f"cannot write the events file {self.path}: {_why(exc)}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def logged(events: Iterable[Event], writer: EventWriter) -> Iterator[Event]:
    """Pass a run's events on unchanged, each written to `writer` first; the writer is closed at the end."""
    try:
        for event in events:
            writer.write(event)
            yield event
    finally:
        writer.close()
        close = getattr(events, "close", None)
        if close is not None:  # stopped early (an error, Ctrl-C): the run's own clean-up runs now
            close()


@dataclass(frozen=True)
class Read:
    """What one `EventFollower.poll` found."""

    events: tuple[Event, ...]
    restarted: bool = False  # the file was emptied or replaced since the last poll: a new run, read from its start
    more: bool = False  # the file holds more than one poll reads: poll again before waiting


class EventFollower:
    """Reads the events a growing JSON-lines file holds, poll by poll (a front end decides how often).

    Only whole lines are read: the last one, still being written, waits for the next poll. A file
    emptied or replaced (a new run wrote it) is noticed and read from its start again. Lines that are
    not events are skipped and counted in `bad`; events of a newer version in `unknown`.
    """

    CHUNK = 1 << 20  # bytes per poll: a long finished run is replayed in steps, never all in one
    TAIL = 64  # bytes before the read position remembered, to notice a file rewritten in place

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.bad = self.unknown = 0
        self._offset, self._pending, self._tail = 0, b"", b""
        self._identity: tuple[int, int] | None = None

    def poll(self) -> Read:
        """The events completed since the last poll; RnngenError when the file cannot be read."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                restarted = self._identity is not None and self._started_over(f, st)
                if restarted:
                    self._offset, self._pending, self._tail = 0, b"", b""
                self._identity = (st.st_dev, st.st_ino)
                f.seek(self._offset)
                data = f.read(self.CHUNK)
        except OSError as exc:
            raise RnngenError(f"cannot read the events file {self.path}: {_why(exc)}") from None
        self._offset += len(data)
        self._tail = (self._tail + data)[-self.TAIL:]
        *lines, self._pending = (self._pending + data).split(b"\n")
        if len(self._pending) > self.CHUNK:  # no line is that long: not an events file
            self.bad, self._pending = self.bad + 1, b""
        return Read(tuple(self._parse(lines)), restarted, self._offset < st.st_size)

    def _started_over(self, f: Any, st: os.stat_result) -> bool:
        if (st.st_dev, st.st_ino) != self._identity or st.st_size < self._offset:
            return True
        f.seek(self._offset - len(self._tail))
        return f.read(len(self._tail)) != self._tail

    def _parse(self, lines: list[bytes]) -> Iterator[Event]:
        for line in lines:
            if not line.strip():
                continue
            try:
                event = from_json(line.decode("utf-8"))
            except (ValueError, TypeError, RecursionError):
                self.bad += 1
                continue
            if event is None:
                self.unknown += 1
            else:
                yield event


def read_events(path: Path | str) -> list[Event]:
    """Every event a file holds now (whole lines only)."""
    follower, found = EventFollower(path), []
    while True:
        read = follower.poll()
        found.extend(read.events)
        if not read.more:
            return found


def _why(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower() if not isinstance(exc, IsADirectoryError) else "it is a folder"
