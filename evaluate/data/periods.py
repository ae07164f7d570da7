"""Periods: parsing the forms they come in, labelling them, and their calendar.

Internally a period is a :class:`pandas.Period`:

=================  =================  ===========================  =====================
frequency          pandas frequency   label                        accepted input forms
=================  =================  ===========================  =====================
``week``           ``W-<day>``        first day, ``2016-01-04``     ``2016-01-04``, ``2016-W01``, datetimes
``month``          ``M``              ``2016-01``                  ``2016-01``, ``2016-01-01``, ``Jan 2016``, ``2016M01``, ``201601``
``quarter``        ``Q-DEC``          ``2016Q1``                   ``2016Q1``, ``2016 Q1``, ``2016-Q1``, ``Q1 2016``, dates
``year``           ``Y-DEC``          ``2016``                     ``2016``
``financial_year`` ``Y-MAR``          ``2016/17``                  ``2016/17``, ``2016-17``, ``2016/2017``, ``FY2016/17``
=================  =================  ===========================  =====================

A financial year runs from April to March and is labelled by its two calendar years; pandas
labels it by the year it ends in (``Period('2017', 'Y-MAR')`` is 2016/17). Weeks are anchored on
the weekday of the source's first week start, so weeks may start on any day.

A column must use one form throughout: a file that mixes ``2016-01`` and ``Jan 2016`` is refused
rather than guessed at, since mixed forms usually mean rows pasted in from another export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluate.errors import ConfigError

__all__ = [
    "PANDAS_FREQ",
    "FREQUENCY_ORDER",
    "ParsedPeriods",
    "parse_periods",
    "parse_period",
    "frequency_of",
    "period_label",
    "period_labels",
    "period_range",
    "week_freq",
]

PANDAS_FREQ = {
    "week": "W-SUN",
    "month": "M",
    "quarter": "Q-DEC",
    "year": "Y-DEC",
    "financial_year": "Y-MAR",
}
FREQUENCY_ORDER = {"week": 0, "month": 1, "quarter": 2, "year": 3, "financial_year": 3}

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


def week_freq(first_weekday: int) -> str:
    """pandas frequency of weeks that start on ``first_weekday`` (0 = Monday)."""
    return f"W-{_WEEKDAYS[(first_weekday - 1) % 7]}"


# Each form: (name, regex, converter from match to (year, sub) or a Timestamp).
def _ym(m: re.Match[str]) -> tuple[int, int]:
    return int(m["y"]), int(m["m"])


def _month_name(m: re.Match[str]) -> tuple[int, int]:
    return int(m["y"]), _MONTHS.get(m["name"].lower(), 0)


_FORMS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "month": [
        ("YYYY-MM", re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})$")),
        ("YYYY-MM-DD", re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ]00:00(?::00)?)?$")),
        ("YYYY/MM", re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})$")),
        ("Mon YYYY", re.compile(r"^(?P<name>[A-Za-z]{3,9})[ \-](?P<y>\d{4})$")),
        ("YYYYMmm", re.compile(r"^(?P<y>\d{4}) ?M(?P<m>\d{1,2})$")),
        ("YYYYMM", re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$")),
    ],
    "quarter": [
        ("YYYYQn", re.compile(r"^(?P<y>\d{4}) ?[-/]? ?Q(?P<q>[1-4])$", re.I)),
        ("Qn YYYY", re.compile(r"^Q(?P<q>[1-4]) ?[-/]? ?(?P<y>\d{4})$", re.I)),
        ("YYYY-MM-DD", re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$")),
    ],
    "year": [
        ("YYYY", re.compile(r"^(?P<y>\d{4})(?:\.0)?$")),
    ],
    "financial_year": [
        ("YYYY/YY", re.compile(r"^(?:FY ?)?(?P<y>\d{4})[/\-](?P<e>\d{2})$", re.I)),
        ("YYYY/YYYY", re.compile(r"^(?:FY ?)?(?P<y>\d{4})[/\-](?P<e>\d{4})$", re.I)),
    ],
    "week": [
        ("YYYY-MM-DD", re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ]00:00(?::00)?)?$")),
        ("YYYY-Www", re.compile(r"^(?P<y>\d{4})-?W(?P<w>\d{2})(?:-?(?P<wd>[1-7]))?$", re.I)),
    ],
}


@dataclass(frozen=True)
class ParsedPeriods:
    """The result of parsing a column of periods.

    Attributes
    ----------
    periods
        Parsed periods (``NaT`` where parsing failed), aligned with the input.
    bad
        True where a non-empty value could not be parsed.
    empty
        True where the value was empty.
    forms
        The input forms found, e.g. ``("YYYY-MM",)``; more than one means mixed forms.
    freq
        The pandas frequency used (weeks carry their anchor).
    """

    periods: pd.Series
    bad: pd.Series
    empty: pd.Series
    forms: tuple[str, ...]
    freq: str


def parse_periods(
    values: pd.Series,
    frequency: str,
    *,
    fmt: str | None = None,
) -> ParsedPeriods:
    """Parse a column of period values at a frequency.

    Parameters
    ----------
    values
        Strings, integers (years) or datetimes.
    frequency
        One of ``week``, ``month``, ``quarter``, ``year``, ``financial_year``.
    fmt
        A strftime format to use instead of the standard forms (e.g. ``"%d/%m/%Y"``).

    Returns
    -------
    ParsedPeriods
        Parsed values and masks of bad and empty ones; never raises on bad values, so that
        validation can report all of them at once.
    """
    index = values.index
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = pd.to_datetime(values)
        return _from_timestamps(stamps, frequency, form="datetime")

    # work on the distinct labels only: a national panel repeats each label thousands of times
    codes, raw_uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    stripped = [str(u).strip() for u in raw_uniques]
    empty_u = np.array([u == "" for u in stripped] + [True], dtype=bool)
    empty = pd.Series(empty_u[codes], index=index)  # code -1 (NA) picks the trailing True

    if fmt is not None:
        parsed_u = pd.to_datetime(pd.Series(stripped, dtype=object), format=fmt, errors="coerce")
        stamps = pd.Series(list(parsed_u) + [pd.NaT])[codes].reset_index(drop=True)
        stamps.index = index
        out = _from_timestamps(pd.to_datetime(stamps), frequency, form=f"format {fmt}")
        return ParsedPeriods(out.periods, (~empty) & out.periods.isna(), empty, out.forms, out.freq)

    converted = [_convert_one(u, frequency) if u else ("empty", None) for u in stripped]
    forms = tuple(sorted({form for form, v in converted if v is not None}))
    freq = PANDAS_FREQ[frequency]
    if frequency == "week":
        starts = [v for _, v in converted if isinstance(v, pd.Timestamp)]
        if starts:
            freq = week_freq(min(starts).weekday())
    nat = np.iinfo(np.int64).min  # pandas' NaT ordinal
    table = np.array(
        [(p.ordinal if (p := _to_period(v, frequency, freq)) is not None else nat) for _, v in converted]
        + [nat],
        dtype=np.int64,
    )
    periods = pd.Series(pd.PeriodIndex.from_ordinals(table[codes], freq=freq), index=index)
    bad = (~empty) & periods.isna()
    return ParsedPeriods(periods, bad, empty, forms, freq)


def _convert_one(text: str, frequency: str) -> tuple[str, pd.Timestamp | tuple[int, int] | None]:
    for form, rx in _FORMS[frequency]:
        m = rx.match(text)
        if not m:
            continue
        g = m.groupdict()
        try:
            if frequency == "month":
                if form == "Mon YYYY":
                    y, mo = _month_name(m)
                else:
                    y, mo = _ym(m)
                    if form == "YYYY-MM-DD":
                        pd.Timestamp(year=y, month=mo, day=int(g["d"]))  # validates the day
                return (form, (y, mo)) if 1 <= mo <= 12 else (form, None)
            if frequency == "quarter":
                if form == "YYYY-MM-DD":
                    ts = pd.Timestamp(year=int(g["y"]), month=int(g["m"]), day=int(g["d"]))
                    return form, (ts.year, (ts.month - 1) // 3 + 1)
                return form, (int(g["y"]), int(g["q"]))
            if frequency == "year":
                return form, (int(g["y"]), 0)
            if frequency == "financial_year":
                y, e = int(g["y"]), int(g["e"])
                ok = e == y + 1 if form == "YYYY/YYYY" else e == (y + 1) % 100
                return form, ((y, 0) if ok else None)
            if frequency == "week":
                if form == "YYYY-Www":
                    wd = int(g["wd"] or 1)
                    ts = pd.Timestamp.fromisocalendar(int(g["y"]), int(g["w"]), wd)
                    return form, ts
                return form, pd.Timestamp(year=int(g["y"]), month=int(g["m"]), day=int(g["d"]))
        except (ValueError, OverflowError):
            return form, None
    return "unrecognised", None


def _to_period(
    v: pd.Timestamp | tuple[int, int] | None, frequency: str, freq: str
) -> pd.Period | None:
    if v is None:
        return None
    if isinstance(v, pd.Timestamp):
        return pd.Period(v, freq=freq)
    y, sub = v
    if frequency == "month":
        return pd.Period(year=y, month=sub, freq="M")
    if frequency == "quarter":
        return pd.Period(year=y, quarter=sub, freq="Q-DEC")
    if frequency == "year":
        return pd.Period(year=y, freq="Y-DEC")
    if frequency == "financial_year":
        return pd.Period(year=y + 1, freq="Y-MAR")  # pandas labels a Y-MAR period by its end year
    raise ValueError(frequency)


def _from_timestamps(stamps: pd.Series, frequency: str, *, form: str) -> ParsedPeriods:
    empty = stamps.isna()
    freq = PANDAS_FREQ[frequency]
    valid = stamps[~empty]
    if frequency == "week" and len(valid):
        freq = week_freq(valid.min().weekday())
    periods = pd.Series(pd.PeriodIndex(stamps.dt.to_period(freq)), index=stamps.index)
    bad = pd.Series(False, index=stamps.index)
    return ParsedPeriods(periods, bad, empty, (form,) if len(valid) else (), freq)


def parse_period(text: str, frequency: str, *, context: str) -> pd.Period:
    """Parse one period from a config value, or raise a :class:`ConfigError` naming ``context``.

    Parameters
    ----------
    text
        The value, e.g. ``"2021-07"``.
    frequency
        The frequency to read it at.
    context
        Where it came from, e.g. ``"demo.yaml: interventions[1].start"``.
    """
    if frequency == "week":
        parsed = parse_periods(pd.Series([text]), "week")
    else:
        parsed = parse_periods(pd.Series([text]), frequency)
        if parsed.bad.iloc[0] and frequency != "month":
            # a monthly or daily date given for a coarser panel: take the period containing it
            month = parse_periods(pd.Series([text]), "month")
            if not month.bad.iloc[0]:
                p = month.periods.iloc[0]
                return p.asfreq(PANDAS_FREQ[frequency])
    if parsed.bad.iloc[0] or parsed.empty.iloc[0]:
        examples = {
            "week": "2021-07-05",
            "month": "2021-07",
            "quarter": "2021Q3",
            "year": "2021",
            "financial_year": "2021/22",
        }[frequency]
        raise ConfigError(
            f"{context}: {text!r} is not a {frequency.replace('_', ' ')} period; write it like "
            f"'{examples}'"
        )
    return parsed.periods.iloc[0]


def frequency_of(periods: pd.Series | pd.PeriodIndex) -> str:
    """The frequency name (``month``, ``quarter``, ...) of a column of pandas Periods."""
    code = pd.PeriodIndex(periods).freqstr
    if code.startswith("M"):
        return "month"
    if code.startswith("Q"):
        return "quarter"
    if code.startswith("W"):
        return "week"
    if code.endswith("MAR"):
        return "financial_year"
    return "year"


def period_label(p: pd.Period, frequency: str) -> str:
    """Stable text label of a period (used in outputs and estimand names)."""
    if frequency == "month":
        return f"{p.year:04d}-{p.month:02d}"
    if frequency == "quarter":
        return f"{p.year:04d}Q{p.quarter}"
    if frequency == "year":
        return f"{p.year:04d}"
    if frequency == "financial_year":
        start = p.year - 1
        return f"{start:04d}/{(start + 1) % 100:02d}"
    if frequency == "week":
        return p.start_time.strftime("%Y-%m-%d")
    raise ValueError(f"unknown frequency {frequency!r}")


def period_labels(periods: pd.Series, frequency: str) -> pd.Series:
    """Vectorised :func:`period_label` (maps the unique periods only)."""
    uniques = pd.unique(periods.dropna())
    mapping = {p: period_label(p, frequency) for p in uniques}
    return periods.map(mapping).astype("string")


def period_range(start: pd.Period, end: pd.Period) -> pd.PeriodIndex:
    """All periods from ``start`` to ``end`` inclusive."""
    return pd.period_range(start=start, end=end, freq=start.freq)


def days_in(periods: pd.PeriodIndex | pd.Series) -> np.ndarray:
    """Number of days in each period."""
    idx = pd.PeriodIndex(periods)
    return ((idx.end_time.normalize() - idx.start_time.normalize()).days + 1).to_numpy()
