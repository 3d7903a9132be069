"""Errors the user can fix.  The CLI turns them into one line on stderr and exit code 2."""

from __future__ import annotations

import re

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
