"""Errors the user can fix.  The CLI turns them into one line on stderr and exit code 2."""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Iterator

_NAMED = re.compile(r"`([a-z][a-z0-9_]*)`|\b([a-z][a-z0-9]*_[a-z0-9_]+)=")


class InputError(ValueError):
    """Bad user input (arguments, data files, model files): the message says what and how to fix.

    ``parameter`` is the Python name of the argument at fault (``"volume_fraction_table"``), given or
    read from the message, which names parameters in backticks or as ``name=value``; only the CLI maps
    it to a flag."""

    def __init__(self, message: str = "", parameter: str | None = None):
        super().__init__(message)
        if parameter is None and (m := _NAMED.search(str(message))):
            parameter = m.group(1) or m.group(2)
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
