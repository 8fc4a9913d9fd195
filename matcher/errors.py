"""One exception root for everything matcher raises on purpose.

The CLI catches :class:`MatcherError`, prints its message as one line on stderr and
exits with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MatcherError(Exception):
    """Root of all errors matcher raises deliberately."""


class ParameterError(MatcherError, ValueError):
    """An option or argument has a value matcher cannot use."""


class InputFileError(MatcherError):
    """An input file is missing, empty, corrupt, silent or of an unknown format."""


class ModelError(MatcherError):
    """A pitch model cannot be loaded, or it fails its calibration check."""


class StoreError(MatcherError):
    """The reference store cannot be read or written, or a reference is unusable."""


class DeviceError(MatcherError):
    """An audio device cannot be opened or used."""
