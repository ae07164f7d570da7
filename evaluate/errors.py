"""The project's exception types.

Every failure a user can cause (a bad config, a bad data file, an impossible analysis) is raised as
a subclass of :class:`EvaluateError`. The command line turns these into one line on stderr,
``error: <message>``, and exit status 2; anything else is a bug and exits with status 1.

Messages follow one pattern: *where* (file, key or column), *what* (the bad value), and *how to fix
it*. Build them with :func:`where` and :func:`suggest` so they read the same everywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "EvaluateError",
    "ConfigError",
    "DataError",
    "ValidationFailed",
    "JoinError",
    "AnalysisError",
    "OutputError",
    "suggest",
    "plural",
    "where",
    "short",
]


class EvaluateError(Exception):
    """Base class for every error caused by the user's config, data or environment.

    Parameters
    ----------
    message
        One line: where the problem is, the bad value and the fix.
    """

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(EvaluateError):
    """The YAML config is malformed, has unknown keys, wrong types or inconsistent settings."""


class DataError(EvaluateError):
    """A data file cannot be read or does not have the shape its entity requires."""


class ValidationFailed(DataError):
    """Validation found problems; ``report`` holds every one of them.

    Parameters
    ----------
    message
        The one-line summary.
    report
        The :class:`evaluate.data.validate.ValidationReport` with every failure.
    """

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class JoinError(DataError):
    """Rows could not be placed in the area x period panel under the ``strict`` join policy."""

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class AnalysisError(EvaluateError):
    """An analysis cannot run on this panel (no pre-period, no untreated areas, ...)."""


class OutputError(EvaluateError):
    """The output folder cannot be written safely."""


def suggest(value: str, options: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the nearest option, or an empty string.

    The text is a parenthetical, so it fits anywhere in a sentence. A match that differs only in
    case (``a1`` for ``A1``) is preferred; otherwise the closest spelling by difflib.

    Parameters
    ----------
    value
        What the user wrote.
    options
        The valid spellings.
    """
    opts = [str(o) for o in options]
    text = str(value)
    folded = {o.casefold(): o for o in opts}
    if text.casefold() in folded and folded[text.casefold()] != text:
        return f" (did you mean '{folded[text.casefold()]}'?)"
    matches = difflib.get_close_matches(text.casefold(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean '{folded[matches[0]]}'?)" if matches else ""


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 cell"``, ``"3 cells"`` (with thousands separators)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def where(*parts: object) -> str:
    """Join location parts into a readable location, skipping empty ones.

    ``where("demo.yaml", "analyses[0].method")`` gives ``"demo.yaml: analyses[0].method"``.
    """
    return ": ".join(str(p) for p in parts if p not in (None, ""))


def short(value: object, limit: int = 60) -> str:
    """Show a bad value in a message: quoted with ``repr`` and cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
