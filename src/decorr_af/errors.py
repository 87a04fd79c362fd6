"""Typed exceptions of decorr_af.

Every error raised on bad user input is a subclass of :class:`DecorrAFError`
and names what is wrong (file, tree, branch, parameter) in its message.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecorrAFError",
    "InputFileError",
    "MissingBranchError",
    "NonFiniteValueError",
]


class DecorrAFError(Exception):
    """Base class of all decorr_af errors."""


class ConfigError(DecorrAFError, ValueError):
    """A configuration value or keyword argument is invalid (the message names it)."""


class InputFileError(DecorrAFError, OSError):
    """A file is missing, unreadable, truncated, empty or has the wrong tree."""


class MissingBranchError(DecorrAFError, KeyError):
    """A branch or field needed for the requested features is absent."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class NonFiniteValueError(DecorrAFError, ValueError):
    """Input columns contain NaN or infinite values (the message gives counts)."""
