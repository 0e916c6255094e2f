"""The one family of errors a user can cause, and the exit codes that report them.

Front ends catch exactly `RnngenError` and show its message (CLI: one line on
stderr and exit code 2; TUI: a notification). Anything else is a bug and keeps
its traceback.

A message that advises changing an option names it as `{batch_size}` and lists it in `options`: each
face words it its own way (`str()` says "batch size", as the Train form labels it; the CLI says
`--batch-size`), so the engine never speaks one face's language.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Callable, Sequence


class ExitCode(IntEnum):
    """What the `rnngen` command's exit status means."""

    OK = 0
    BUG = 1  # an unexpected error: Python's own status for an uncaught exception, with its traceback
    USER_ERROR = 2  # an RnngenError or a usage error: one line on stderr, nothing half-written
    PROCESS_FAILED = 3  # a process of a distributed run died, or lost the others: one line says which
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


def option_words(name: str) -> str:
    """An option as the Train form and the docs say it: batch_size -> batch size."""
    return name.replace("_", " ")


class RnngenError(Exception):
    """An error caused by input, with a message fit to show a user."""

    def __init__(self, message: str = "", options: Sequence[str] = ()) -> None:
        self.message, self.options = message, tuple(options)
        super().__init__(self.worded(option_words))

    def worded(self, name: Callable[[str], str]) -> str:
        """The message with each `{option}` written as `name(option)` (only the listed ones: a file name
        with braces in it stays as it is)."""
        text = self.message
        for option in self.options:
            text = text.replace("{" + option + "}", name(option))
        return text


class CorpusError(RnngenError):
    """A corpus is missing, empty, binary, unreadable or too small."""


class CheckpointError(RnngenError):
    """A checkpoint is missing, corrupt or of another format version."""


class ConfigError(RnngenError):
    """An option has a value that cannot work."""


class InputError(RnngenError):
    """A sentence or list to score is empty or unusable."""


class DownloadError(RnngenError):
    """A corpus could not be fetched or failed verification."""
