"""Errors that reach the user as one line on stderr and exit status 1."""

from __future__ import annotations


class ArzipError(Exception):
    """Base class: the message is shown as is, the exit status is 1."""

    exit_code = 1


class FormatError(ArzipError):
    """The input is not a valid .arz file (bad magic, truncated, corrupted, unknown version)."""


class ModelError(ArzipError):
    """A model is missing, unknown or its weights do not match the recorded sha256."""


class CodecError(ArzipError):
    """A codec cannot be found or failed on its input."""


class IntegrityError(ArzipError):
    """Decoded data does not match the checksum stored at encode time."""
