"""The one exception type zhnlp raises for problems a user can fix (bad input, bad options).

The CLI prints ``error: <message>`` and the hint on stderr and exits with ``exit_code``; library
callers can catch it and read ``message`` and ``hint``.
"""
from __future__ import annotations

import contextlib


class ZhnlpError(Exception):
    """A problem with the user's input or options, with the fix in ``hint``."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1):
        super().__init__(message if hint is None else f"{message} ({hint})")
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __reduce__(self):  # pickled whole, so that an error raised in a Dask worker reaches the user intact
        return self.__class__, (self.message, self.hint, self.exit_code)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped a job that saved its state first; ``hint`` says how to go on."""

    def __init__(self, hint: str):
        super().__init__(hint)
        self.hint = hint


class InputError(ZhnlpError):
    """An input file or stream cannot be read as text."""


class OutputError(ZhnlpError):
    """An output cannot be written (exists, or its folder is missing)."""


@contextlib.contextmanager
def terminate_as_interrupt():
    """While a long job runs, SIGTERM (kill, a job scheduler) ends it like Ctrl-C, so that it cleans
    up (a trainer saves its checkpoint; a Dask job stops the local cluster it started)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
