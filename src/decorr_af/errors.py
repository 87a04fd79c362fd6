"""Typed exceptions of decorr_af.

Every error raised on bad user input is a subclass of :class:`DecorrAFError`
and names what is wrong (file, tree, branch, parameter) in its message.
:data:`DETERMINISTIC` lists the errors that come out the same on every retry
(bad configuration or input); scans never retry them.
"""

from __future__ import annotations

__all__ = [
    "DETERMINISTIC",
    "ClusterError",
    "ConfigError",
    "DecorrAFError",
    "IncompleteResultError",
    "InputFileError",
    "MissingBranchError",
    "NonFiniteValueError",
    "ScanLockedError",
]


class DecorrAFError(Exception):
    """Base class of all decorr_af errors."""


class ConfigError(DecorrAFError, ValueError):
    """A configuration value or keyword argument is invalid (the message names it)."""


class InputFileError(DecorrAFError, OSError):
    """A file is missing, unreadable, truncated, empty or has the wrong tree."""


class IncompleteResultError(InputFileError):
    """A saved result or model directory lacks a file or holds a truncated one.

    Attributes
    ----------
    member
        The file inside the directory that is missing or damaged (``"arrays.npz"``).
    """

    def __init__(self, message: str, *, member: str = "") -> None:
        super().__init__(message)
        self.member = member

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MissingBranchError(DecorrAFError, KeyError):
    """A branch or field needed for the requested features is absent."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class NonFiniteValueError(DecorrAFError, ValueError):
    """Input columns contain NaN or infinite values (the message gives counts)."""


class ScanLockedError(DecorrAFError, RuntimeError):
    """Another process is writing to the same scan directory (the message names it)."""


class ClusterError(DecorrAFError, RuntimeError):
    """A Dask cluster cannot be reached or no workers arrived in time."""


#: errors that a retry cannot fix (configuration and input problems)
DETERMINISTIC: tuple[type[DecorrAFError], ...] = (
    ConfigError,
    InputFileError,
    MissingBranchError,
    NonFiniteValueError,
)
