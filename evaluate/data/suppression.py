"""Suppressed small counts: markers become missing values with a flag and a known range.

Official statistics hide small counts behind markers (``*``, ``[c]``, ``[x]``, ``..``,
``suppressed``). A suppressed cell is neither zero nor absent: it is a value we know lies in a
range (for example 1 to 4). :func:`parse_values` turns a column of text into numbers, a
``suppressed`` mask and the range, and reports text it cannot read, separating markers that look
like suppression but were not declared (so the user can declare them) from other text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SuppressionRule", "ParsedValues", "parse_values", "looks_like_marker", "COMMON_MARKERS"]

COMMON_MARKERS: frozenset[str] = frozenset(
    {"*", "**", "[c]", "[x]", "[z]", "[u]", "[low]", "..", ":", "-", "x", "c", "z", "~",
     "suppressed", "supp", "s", "n/a", "na", "#", "[d]"}
)
"""Markers seen in UK and international official statistics. Only those *declared* for a variable
(in the dictionary or the source config) are read as suppression; the others are reported."""

_MARKER_LIKE = re.compile(r"^(\[[a-z]{1,4}\]|<\s*\d+|\*+|\.\.)$", re.I)


def looks_like_marker(text: str) -> bool:
    """True for text that is probably a suppression or not-available marker."""
    t = text.strip()
    return t.lower() in COMMON_MARKERS or bool(_MARKER_LIKE.match(t))


@dataclass(frozen=True)
class SuppressionRule:
    """Declared markers for one variable, and the range a suppressed cell lies in."""

    markers: tuple[str, ...]
    lower: float
    upper: float

    def describe(self) -> str:
        """``"[c] (a value from 0 to 2)"``, for reports."""
        return f"{', '.join(self.markers)} (a value from {self.lower:g} to {self.upper:g})"


@dataclass(frozen=True)
class ParsedValues:
    """A parsed value column.

    Attributes
    ----------
    values
        float64 values; NaN where missing, suppressed or unreadable.
    suppressed
        True where the cell held a declared suppression marker.
    missing
        True where the cell was empty or a declared 'not available' marker.
    undeclared
        True where the cell held a marker-like text that is not declared for this variable.
    unreadable
        True where the cell held other text that is not a number.
    """

    values: pd.Series
    suppressed: pd.Series
    missing: pd.Series
    undeclared: pd.Series
    unreadable: pd.Series


def parse_values(
    column: pd.Series,
    *,
    rule: SuppressionRule | None,
    missing_markers: tuple[str, ...] = ("", "NA"),
    thousands: str | None = None,
) -> ParsedValues:
    """Parse one column of a source into numbers, suppression flags and missingness.

    Parameters
    ----------
    column
        The column as read: text (CSV) or numbers (Parquet).
    rule
        The variable's suppression rule, or ``None`` if it has none.
    missing_markers
        Values meaning 'not available' (missing, not suppressed).
    thousands
        Thousands separator to strip before reading numbers.

    Returns
    -------
    ParsedValues
    """
    index = column.index
    false = pd.Series(np.zeros(len(column), dtype=bool), index=index)
    if pd.api.types.is_bool_dtype(column.dtype):
        # true/false is not a count or a rate: report every cell rather than read it as 0/1
        values = pd.Series(np.nan, index=index, dtype="float64")
        return ParsedValues(values, false, false.copy(), false.copy(), ~false)
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = pd.to_numeric(column, errors="coerce").astype("float64")
        values = values.where(np.isfinite(values))
        missing = column.isna()
        # inf/-inf are unreadable, not missing: a NaN from the file is a missing value
        unreadable = values.isna() & ~missing
        return ParsedValues(values, false, missing, false.copy(), unreadable)

    if not thousands:
        try:  # fast path: a clean numeric column (no blanks, markers or text)
            values = pd.to_numeric(column, errors="raise").astype("float64")
        except (ValueError, TypeError):
            pass
        else:
            if np.isfinite(values.to_numpy()).all():
                return ParsedValues(values, false, false.copy(), false.copy(), false.copy())
    text = column.astype("string").str.strip()
    na = text.isna()
    text = text.fillna("")
    missing = na | text.isin(list(missing_markers))
    suppressed = (
        text.isin(list(rule.markers)) & ~missing if rule is not None else false.copy()
    )
    to_read = text.where(~(missing | suppressed), None)
    if thousands:
        to_read = to_read.str.replace(thousands, "", regex=False)
    values = pd.to_numeric(to_read, errors="coerce").astype("float64")
    finite = np.isfinite(values.to_numpy())
    values = values.where(finite)
    other = ~(missing | suppressed) & values.isna()
    if other.any():
        marker_like = text[other].map(looks_like_marker).astype(bool)
        undeclared = false.copy()
        undeclared.loc[marker_like.index] = marker_like
        unreadable = other & ~undeclared
    else:
        undeclared, unreadable = false.copy(), false.copy()
    return ParsedValues(values, suppressed, missing.astype(bool), undeclared, unreadable)
