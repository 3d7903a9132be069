"""Errors the user can fix.  The CLI turns them into one line on stderr and exit code 2."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class InputError(ValueError):
    """Bad user input (arguments, data files, model files): the message says what and how to fix.

    ``parameter`` is the Python name of the argument at fault (``"volume_fraction_table"``), or None where no
    single argument is (a damaged file, a curve's values); every raise gives it explicitly, it is never read from
    the message.  The message names parameters in backticks or as ``name=value``, which the CLI turns into flags."""

    def __init__(self, message: str = "", parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


class ModelFileError(InputError):
    """A trained-model file is missing, corrupt, or made for other grids."""


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException like KeyboardInterrupt: no ``except Exception`` swallows it; files being
    written are removed, finished units kept).  The CLI says so in one line, exit code 143."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: nothing changes)."""
    def handler(signum, frame):
        raise Terminated()

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:   # not the main thread
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
