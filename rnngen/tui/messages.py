"""Messages the app's workers post to its widgets, named as facts that happened.

Workers run in threads; `post_message` is thread-safe, so every engine event
reaches the UI as one of these and the UI thread does all widget work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from rnngen import events
from rnngen.errors import RnngenError


def describe_error(exc: BaseException) -> str:
    """A user error's own message; anything else (a bug) with its type, so it can be reported."""
    return str(exc) if isinstance(exc, RnngenError) else f"{type(exc).__name__}: {exc}"


@dataclass
class CorpusLoaded(Message):
    """A corpus was read and its statistics computed."""

    spec: str
    corpus: Any  # rnngen.corpus.Corpus
    stats: Any  # rnngen.tui.corpus_stats view


@dataclass
class CorpusFailed(Message):
    """A corpus could not be read; `error` is fit to show."""

    spec: str
    error: str


@dataclass
class DownloadProgressed(Message):
    """Bytes of a corpus download arrived."""

    name: str
    done: int
    total: int | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DownloadProgressed) and message.name == self.name


@dataclass
class CorpusProgressed(Message):
    """Preparing a corpus moved on: `phase` is reading, tokenizing or caching (`corpus.store.Progress`)."""

    spec: str
    phase: str
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CorpusProgressed) and message.spec == self.spec

    @property
    def share(self) -> str:
        """" 45%" of the phase done, "" for a phase of unknown length."""
        return f" {100 * self.done / self.total:.0f}%" if self.total else ""


@dataclass
class DownloadFinished(Message):
    """A download ended; `error` is empty on success."""

    name: str
    error: str = ""


@dataclass
class TrainingEvent(Message):
    """One engine training event (rnngen.events) from the worker."""

    event: events.Event
    attachment: int = 0  # the events-file attachment that read it; 0: a run in this app

    def can_replace(self, message: Message) -> bool:
        # Progress may be dropped when a newer one is queued; epochs and samples may not.
        return isinstance(self.event, events.BatchDone) and isinstance(message, TrainingEvent) and isinstance(
            message.event, events.BatchDone)


@dataclass
class EntropyFloorComputed(Message):
    """The true perplexity of the corpus source on a split (generated corpora only)."""

    perplexity: float
    split: str


@dataclass
class TrainingEnded(Message):
    """The training worker returned: with the trained model, or with an error message."""

    lm: Any  # LanguageModel | None
    error: str = ""
    reason: str = ""


@dataclass
class ModelLoaded(Message):
    """A checkpoint was loaded into a LanguageModel."""

    lm: Any


@dataclass
class ModelLoadFailed(Message):
    """A checkpoint could not be loaded."""

    name: str
    error: str
