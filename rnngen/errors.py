"""The one family of errors a user can cause.

Front ends catch exactly `RnngenError` and show its message (CLI: one line on
stderr and exit code 2; TUI: a notification). Anything else is a bug and keeps
its traceback.
"""


class RnngenError(Exception):
    """An error caused by input, with a message fit to show a user."""


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
