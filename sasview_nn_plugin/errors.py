"""Errors the user can fix.  The CLI turns them into one line on stderr and exit code 2."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input (arguments, data files, model files): the message says what and how to fix."""


class ModelFileError(InputError):
    """A trained-model file is missing, corrupt, or made for other grids."""
