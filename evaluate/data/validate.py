"""Validation generated from the data dictionary, reporting every failure at once.

For each source, :func:`validate_sources` checks, in order, and *without stopping at the first
problem*:

1. columns: the entity's keys and required columns are present; every other column is a
   dictionary variable of a role the entity accepts; no duplicated columns; every ``rename`` key
   exists in the file;
2. keys: area codes present and (if an area lookup or population source is given) known; periods
   parse, in one form, at the source's frequency; no duplicate area-period rows; no gaps in an
   area's period sequence;
3. values: suppression markers declared for the variable become missing-with-a-flag; undeclared
   markers and other text are reported; then the checks generated from the variable's dictionary
   entry (:func:`value_checks`: negative counts, non-integer counts, values outside
   ``valid_range``) run as vectorised masks; missing and suppressed cells are counted; a series
   that is entirely suppressed is an error.

Each failure kind is reported once per source and column, with its count and a few examples (row
or line numbers and values), to the terminal and to ``validation.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaluate.data.dictionary import Dictionary, Entity, Variable
from evaluate.data.periods import parse_periods, period_label
from evaluate.data.sources import RawSource
from evaluate.data.suppression import SuppressionRule, parse_values
from evaluate.errors import ConfigError, plural, short, suggest

__all__ = [
    "MAX_EXAMPLES",
    "Issue",
    "ParsedSource",
    "SourceSummary",
    "ValidationReport",
    "ValueCheck",
    "validate_sources",
    "value_checks",
]

MAX_EXAMPLES = 5
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One kind of failure in one source column, with its count and examples."""

    kind: str
    severity: Severity
    source: str
    file: str
    column: str | None
    count: int
    message: str
    examples: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the terminal."""
        col = f".{self.column}" if self.column else ""
        ex = f" e.g. {'; '.join(self.examples[:3])}" if self.examples else ""
        return f"{self.severity.upper()} [{self.kind}] {self.source}{col}: {self.message}{ex}"


@dataclass
class SourceSummary:
    """What was read from one source."""

    name: str
    path: str
    entity: str
    frequency: str | None
    rows: int
    columns: list[str]
    variables: list[str]
    areas: int = 0
    first_period: str | None = None
    last_period: str | None = None
    suppressed: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    suppression_rules: dict[str, str] = field(default_factory=dict)
    sha256: str = ""


@dataclass
class ParsedSource:
    """A validated source, ready for harmonisation.

    ``frame`` has ``area_code``, ``period`` (for series entities), one float column per variable
    and, for variables with a suppression rule, ``<var>__suppressed``, ``<var>__lower`` and
    ``<var>__upper`` (the range of each cell: equal to the value where it was published).
    """

    name: str
    entity: Entity
    frequency: str | None
    freq: str | None
    variables: list[Variable]
    rules: dict[str, SuppressionRule]
    frame: pd.DataFrame
    rows: int
    path: str
    sha256: str


@dataclass
class ValidationReport:
    """Every failure found, and a summary of every source."""

    issues: list[Issue] = field(default_factory=list)
    sources: list[SourceSummary] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        """Issues that stop a run."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues reported but not fatal."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors

    def summary_line(self) -> str:
        """``validation failed: 3 errors in 2 sources (kinds: ...)``."""
        errs = self.errors
        srcs = sorted({i.source for i in errs})
        kinds = sorted({i.kind for i in errs})
        first = errs[0]
        example = f" (e.g. {first.examples[0]})" if first.examples else ""
        return (
            f"validation failed: {plural(len(errs), 'problem')} in {plural(len(srcs), 'source')} "
            f"({', '.join(kinds)}); first: {first.source}"
            f"{'.' + first.column if first.column else ''}: {first.message}{example}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (written to ``validation.json``)."""
        return {
            "ok": self.ok,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "sources": [asdict(s) for s in self.sources],
            "issues": [asdict(i) | {"examples": list(i.examples)} for i in self.issues],
        }

    def to_text(self) -> str:
        """Terminal form: one line per source, then one per issue."""
        lines = [
            (f"Validation: {len(self.sources)} sources, {len(self.errors)} errors, "
            f"{len(self.warnings)} warnings")
        ]
        for s in self.sources:
            span = f", {s.first_period} to {s.last_period}" if s.first_period else ""
            freq = f" ({s.frequency})" if s.frequency else ""
            lines.append(
                f"  {s.name} ({s.path}): {s.rows:,} rows, {s.areas} areas{span}{freq}"
            )
            for var, n in s.suppressed.items():
                if n:
                    lines.append(
                        f"    {var}: {n:,} cells suppressed, kept as missing with a known range "
                        f"({s.suppression_rules.get(var, '')})"
                    )
            for var, n in s.missing.items():
                if n:
                    lines.append(f"    {var}: {n:,} cells empty (missing)")
        for i in self.issues:
            lines.append("  " + i.line())
        return "\n".join(lines)


# -- the checks ----------------------------------------------------------------------------------


class _Collector:
    def __init__(self, raw: RawSource) -> None:
        self.raw = raw
        self.issues: list[Issue] = []

    def add(
        self,
        kind: str,
        message: str,
        *,
        column: str | None = None,
        count: int = 1,
        examples: list[str] | None = None,
        severity: Severity = "error",
    ) -> None:
        self.issues.append(
            Issue(
                kind=kind,
                severity=severity,
                source=self.raw.config.name,
                file=self.raw.config.path,
                column=column,
                count=int(count),
                message=message,
                examples=tuple((examples or [])[:MAX_EXAMPLES]),
            )
        )

    def examples(self, mask: pd.Series, values: pd.Series | None = None) -> list[str]:
        idx = np.flatnonzero(mask.to_numpy())[:MAX_EXAMPLES]
        out = []
        for i in idx:
            ref = self.raw.row_ref(int(i))
            out.append(f"{ref}: {short(values.iloc[i], 40)}" if values is not None else ref)
        return out


def _rules_for(raw: RawSource, variables: list[Variable]) -> dict[str, SuppressionRule]:
    rules: dict[str, SuppressionRule] = {}
    for v in variables:
        override = raw.config.suppression.get(v.name)
        if override is not None:
            rules[v.name] = SuppressionRule(tuple(override.markers), override.lower, override.upper)
        elif v.suppression is not None:
            s = v.suppression
            rules[v.name] = SuppressionRule(tuple(s.markers), s.lower, s.upper)
    return rules


def _check_columns(
    raw: RawSource, entity: Entity, dictionary: Dictionary, col: _Collector
) -> list[Variable]:
    """Structure checks; returns the dictionary variables present in the file."""
    cfg = raw.config
    allowed_vars = {v.name: v for v in dictionary.variables_for(entity)}
    allowed = set(entity.keys) | set(entity.optional) | set(entity.required) | set(allowed_vars)
    present = list(raw.frame.columns)
    for k in raw.missing_renames:
        col.add(
            "rename_not_found",
            f"rename key '{k}' is not a column of the file{suggest(k, raw.file_columns)}; file "
            f"columns: {', '.join(short(c, 30) for c in raw.file_columns[:12])}",
            column=k,
        )
    blanks = [i + 1 for i, c in enumerate(raw.file_columns) if not c.strip()]
    if blanks:
        col.add(
            "unnamed_column",
            f"the header has {plural(len(blanks), 'empty column name')} (position "
            f"{', '.join(map(str, blanks[:5]))}); remove trailing delimiters at the ends of lines "
            "or give the column a name",
        )
    variable_names = {v.name for v in dictionary.variables_for(entity)} & set(raw.frame.columns)
    for name in raw.config.suppression:
        if name not in variable_names:
            col.add(
                "suppression_not_found",
                f"data.sources[{raw.index}].suppression names '{name}', which is not a variable "
                f"column of this file{suggest(name, variable_names)}; fix the name or remove the "
                "entry",
                column=name,
            )
    for d in raw.duplicate_columns:
        col.add(
            "duplicate_column",
            f"column '{d}' appears more than once (after renaming); remove or rename the copies",
            column=d,
        )
    for k in (*entity.keys, *entity.required):
        if k not in present:
            hint = suggest(k, [c for c in present if c not in allowed])
            col.add(
                "missing_column",
                f"required column '{k}' is missing{hint}; add it, or map the file's column to it "
                f"with data.sources[{raw.index}].rename (file columns: "
                f"{', '.join(short(c, 30) for c in raw.file_columns[:12])})",
                column=k,
            )
    for c in present:
        if c in allowed or c in cfg.ignore_columns or not c.strip():
            continue
        known = dictionary.variables.get(c)
        if known is not None:
            article = "an" if known.role[0] in "aeiou" else "a"
            msg = (
                f"'{c}' is {article} {known.role} variable, but entity '{entity.name}' holds "
                f"{'/'.join(entity.roles) or 'no variables'}; use another entity for this file"
                f" or list the column under data.sources[{raw.index}].ignore_columns"
            )
        else:
            names = list(allowed)
            msg = (
                f"column {short(c, 50)} is not in the data dictionary for entity '{entity.name}'"
                f"{suggest(c, names)}; map it with data.sources[{raw.index}].rename, drop it with "
                f"ignore_columns, or define it under data.dictionary"
            )
        col.add("unexpected_column", msg, column=short(c, 50).strip("'"))
    variables = [allowed_vars[c] for c in present if c in allowed_vars]
    if entity.roles and not variables:
        col.add(
            "no_variables",
            f"no {'/'.join(entity.roles)} variable columns found; rename the file's value columns "
            "to dictionary names (run `evaluate dictionary`)",
        )
    return variables


def _check_areas(
    raw: RawSource, frame: pd.DataFrame, universe: set[str] | None, unknown_severity: Severity,
    col: _Collector,
) -> pd.Series:
    codes = frame["area_code"].astype("string").str.strip()
    empty = codes.isna() | (codes == "")
    if empty.any():
        col.add(
            "missing_area_code",
            f"{plural(int(empty.sum()), 'row')} without an area code; fill them in or remove the rows",
            column="area_code",
            count=int(empty.sum()),
            examples=col.examples(empty),
        )
    if universe is not None:
        unknown = ~empty & ~codes.isin(list(universe))
        if unknown.any():
            bad = sorted(codes[unknown].unique().tolist())
            known = sorted(universe)
            col.add(
                "unknown_area",
                f"{plural(int(unknown.sum()), 'row')} with {plural(len(bad), 'area code')} not in "
                f"the area list: {', '.join(short(b, 20) for b in bad[:5])}"
                f"{suggest(bad[0], universe)} (known areas: {', '.join(known[:6])}"
                f"{', ...' if len(known) > 6 else ''}); fix the codes, add them to the area "
                "lookup, or set data.join.policy: report to leave them out with a report",
                column="area_code",
                count=int(unknown.sum()),
                examples=col.examples(unknown, codes),
                severity=unknown_severity,
            )
    return codes


def _check_periods(
    raw: RawSource, frame: pd.DataFrame, frequency: str, col: _Collector, column: str = "period",
    allow_empty: bool = False,
) -> tuple[pd.Series, str | None]:
    values = frame[column]
    try:
        parsed = parse_periods(values, frequency, fmt=raw.config.period_format)
    except ValueError as exc:
        raise ConfigError(
            f"data.sources[{raw.index}].period_format: {raw.config.period_format!r} is not a "
            f"usable strftime format ({short(str(exc), 80)}); use codes such as %Y, %m, %d, %b"
        ) from None
    fmt_hint = (
        "set period_format (e.g. '%d/%m/%Y') on the source"
        if raw.config.period_format is None
        else f"check period_format '{raw.config.period_format}'"
    )
    if parsed.empty.any() and not allow_empty:
        n = int(parsed.empty.sum())
        col.add(
            "missing_period",
            f"{plural(n, 'row')} without a {column}; fill them in or remove the rows",
            column=column,
            count=n,
            examples=col.examples(parsed.empty),
        )
    if parsed.bad.any():
        n = int(parsed.bad.sum())
        col.add(
            "unparseable_period",
            f"{plural(n, 'value')} cannot be read as {frequency.replace('_', ' ')} periods; use a standard form "
            f"(see `evaluate dictionary`, key '{column}') or {fmt_hint}",
            column=column,
            count=n,
            examples=col.examples(parsed.bad, values),
        )
    if len(parsed.forms) > 1:
        text = values.astype("string")
        col.add(
            "mixed_period_formats",
            f"periods are written in {len(parsed.forms)} different forms "
            f"({', '.join(parsed.forms)}); "
            "write every period the same way (mixed forms usually mean rows pasted from another "
            "export)",
            column=column,
            count=len(parsed.forms),
            examples=[f"{short(v, 20)}" for v in pd.unique(text.dropna())[:3]],
        )
    if frequency == "week":
        ok = ~(parsed.bad | parsed.empty)
        if ok.any():
            stamps = _week_stamps(values[ok])
            if stamps is not None:
                starts = pd.PeriodIndex(parsed.periods[ok]).start_time
                off = pd.Series(stamps.to_numpy() != starts.to_numpy(), index=stamps.index)
                if off.any():
                    mask = pd.Series(False, index=values.index)
                    mask.loc[off.index] = off.to_numpy()
                    col.add(
                        "misaligned_week",
                        f"{int(off.sum()):,} week starts fall on a different weekday from the "
                        f"first week ({pd.PeriodIndex(parsed.periods[ok]).start_time.min():%A}); "
                        "weeks must all start on the same weekday",
                        column=column,
                        count=int(off.sum()),
                        examples=col.examples(mask, values),
                    )
    return parsed.periods, parsed.freq


def _week_stamps(values: pd.Series) -> pd.Series | None:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.to_datetime(values).dt.normalize()
    stamps = pd.to_datetime(values.astype("string"), format="%Y-%m-%d", errors="coerce")
    return None if stamps.isna().any() else stamps


def _check_keys(
    raw: RawSource, codes: pd.Series, periods: pd.Series, frequency: str, col: _Collector
) -> None:
    """Duplicate area-period rows, and gaps inside each area's run of periods."""
    ok = (codes.notna() & (codes != "") & periods.notna()).to_numpy()
    if not ok.any():
        return
    area_id, area_names = pd.factorize(codes[ok])
    ords = pd.PeriodIndex(periods[ok]).asi8
    base = ords.min()
    span = int(ords.max() - base) + 1
    key = area_id.astype(np.int64) * span + (ords - base)
    dup_ok = pd.Series(key).duplicated(keep=False).to_numpy()
    if dup_ok.any():
        mask = pd.Series(False, index=codes.index)
        mask.iloc[np.flatnonzero(ok)[dup_ok]] = True
        first = int(np.flatnonzero(dup_ok)[0])
        n_keys = int(np.unique(key[dup_ok]).size)
        col.add(
            "duplicate_key",
            f"{plural(n_keys, 'area-period pair')} appear{'s' if n_keys == 1 else ''} more than once ({plural(int(dup_ok.sum()), 'row')}; first: "
            f"{area_names[area_id[first]]} {period_label(pd.Period(ordinal=int(ords[first]), freq=periods[ok].iloc[0].freq), frequency)}); "
            "keep one row per area and period (sum or de-duplicate them before loading)",
            column="area_code, period",
            count=int(dup_ok.sum()),
            examples=col.examples(mask, codes.astype(str) + " " + periods.astype(str)),
        )
    unique_keys = np.unique(key)
    areas_u = unique_keys // span
    ords_u = unique_keys % span
    n_areas = len(area_names)
    lo = np.full(n_areas, np.iinfo(np.int64).max)
    hi = np.full(n_areas, np.iinfo(np.int64).min)
    np.minimum.at(lo, areas_u, ords_u)
    np.maximum.at(hi, areas_u, ords_u)
    count = np.bincount(areas_u, minlength=n_areas)
    gaps = hi - lo + 1 - count
    gappy = np.flatnonzero(gaps > 0)
    if gappy.size:
        freq = periods[ok].iloc[0].freq
        examples = []
        for a in gappy[:MAX_EXAMPLES]:
            have = set(ords_u[areas_u == a].tolist())
            missing = [o for o in range(int(lo[a]), int(hi[a]) + 1) if o not in have]
            labels = [
                period_label(pd.Period(ordinal=int(o + base), freq=freq), frequency) for o in missing[:3]
            ]
            more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
            examples.append(f"{area_names[a]}: {', '.join(labels)}{more}")
        total = int(gaps[gappy].sum())
        col.add(
            "period_gap",
            f"{plural(int(gappy.size), 'area')} skip{'s' if gappy.size == 1 else ''} {plural(total, 'period')} inside their range; add the missing "
            "rows (with empty values if the data are truly missing) so that gaps are explicit",
            column="period",
            count=total,
            examples=examples,
        )


def _check_values(
    raw: RawSource,
    frame: pd.DataFrame,
    variables: list[Variable],
    rules: dict[str, SuppressionRule],
    col: _Collector,
    summary: SourceSummary,
) -> pd.DataFrame:
    """Parse markers and check values; returns the parsed value columns (with flags)."""
    cfg = raw.config
    out: dict[str, pd.Series] = {}
    for v in variables:
        rule = rules.get(v.name)
        parsed = parse_values(
            frame[v.name],
            rule=rule,
            missing_markers=tuple(cfg.missing_markers),
            thousands=cfg.thousands,
        )
        summary.suppressed[v.name] = int(parsed.suppressed.sum())
        summary.missing[v.name] = int(parsed.missing.sum())
        if rule is not None:
            summary.suppression_rules[v.name] = rule.describe()
        if parsed.undeclared.any():
            found = pd.unique(frame[v.name][parsed.undeclared].astype("string").str.strip())
            col.add(
                "undeclared_marker",
                f"{plural(int(parsed.undeclared.sum()), 'cell holds', 'cells hold')} marker(s) "
                f"{', '.join(repr(str(x)) for x in found[:4])} not declared for '{v.name}' "
                f"(declared: {', '.join(rule.markers) if rule else 'none'}); declare them under "
                f"data.sources[{raw.index}].suppression.{v.name} (markers, lower, upper) if they "
                f"mean a suppressed small count, or under missing_markers if they mean 'not "
                "available'",
                column=v.name,
                count=int(parsed.undeclared.sum()),
                examples=col.examples(parsed.undeclared, frame[v.name]),
            )
        if parsed.unreadable.any():
            bad = frame[v.name][parsed.unreadable]
            col.add(
                "wrong_type",
                f"{plural(int(parsed.unreadable.sum()), 'cell is', 'cells are')} not a usable "
                f"number (expected a {v.type}; found {', '.join(repr(str(x)) for x in pd.unique(bad.astype('string'))[:3])}); "
                + _unreadable_hint(bad, raw.index),
                column=v.name,
                count=int(parsed.unreadable.sum()),
                examples=col.examples(parsed.unreadable, frame[v.name]),
            )
        n = len(parsed.values)
        if n and int(parsed.suppressed.sum()) == n:
            col.add(
                "all_suppressed",
                f"every value of '{v.name}' is suppressed ({rule.describe() if rule else ''}); "
                "nothing can be estimated from it: obtain the unsuppressed series under a data "
                f"sharing agreement, aggregate to larger areas or periods, or drop the column "
                f"with data.sources[{raw.index}].ignore_columns",
                column=v.name,
                count=n,
            )
        if n and summary.missing[v.name] == n:
            col.add(
                "all_missing",
                f"every value of '{v.name}' is empty; nothing can be computed from it: fill the "
                f"column, or drop it with data.sources[{raw.index}].ignore_columns",
                column=v.name,
                count=n,
            )
        elif summary.missing[v.name]:
            col.add(
                "missing_value",
                f"{plural(summary.missing[v.name], 'cell is', 'cells are')} empty; they stay missing (never zero) and "
                "analyses report the rows they leave out",
                column=v.name,
                count=summary.missing[v.name],
                examples=col.examples(parsed.missing),
                severity="warning",
            )
        for check in value_checks(v):
            failed = check.fails(parsed.values)
            if failed.any():
                k = int(failed.sum())
                col.add(
                    check.kind,
                    f"{k:,} {check.message_one if k == 1 and check.message_one else check.message}",
                    column=v.name,
                    count=k,
                    examples=col.examples(failed, frame[v.name]),
                )
        out[v.name] = parsed.values
        if rule is not None:
            out[f"{v.name}__suppressed"] = parsed.suppressed
            out[f"{v.name}__lower"] = parsed.values.where(~parsed.suppressed, rule.lower)
            out[f"{v.name}__upper"] = parsed.values.where(~parsed.suppressed, rule.upper)
    return pd.DataFrame(out, index=frame.index)


def _repeated_text(values: pd.Series) -> pd.Categorical:
    """Stripped text that repeats row after row (an area's name in every period), as a
    categorical: each distinct value is stripped and stored once, not once per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # as read (sources.py encodes labels)
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories.astype("string")
    else:
        codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    stripped = pd.Index(uniques, dtype="string").str.strip()
    which, categories = pd.factorize(stripped, use_na_sentinel=True)
    which = np.append(np.asarray(which), -1)  # position -1 (a missing value) stays missing
    codes = which[codes]
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="string"))


def _unreadable_hint(bad: pd.Series, index: int) -> str:
    """The fix that fits the text found in a numeric column."""
    text = bad.astype("string").str.strip().str.lower()
    if text.isin(["nan", "null", "none", "n/a", "na", "-", "missing"]).any():
        return (
            f"if these mean 'not available', list them under data.sources[{index}].missing_markers"
        )
    if text.str.contains(r"inf", regex=True).any():
        return "infinite values are not counts: fix the export (a division by zero upstream?)"
    if text.str.contains(r"^\d{1,3}(?:,\d{3})+$", regex=True).any():
        return f"set data.sources[{index}].thousands: ',' for thousands separators"
    return "fix them in the file"


@dataclass(frozen=True)
class ValueCheck:
    """One value check generated from a dictionary variable.

    ``fails(values)`` is True where a (non-missing) value breaks the rule; ``message`` completes
    "<n> ..." in the report.
    """

    kind: str
    message: str
    lower: float | None = None
    upper: float | None = None
    integer: bool = False
    message_one: str = ""

    def fails(self, values: pd.Series) -> pd.Series:
        """Mask of failing values (missing values never fail)."""
        x = values.to_numpy(dtype=float)
        bad = np.zeros(len(x), dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.lower is not None:
                bad |= x < self.lower
            if self.upper is not None:
                bad |= x > self.upper
            if self.integer:
                bad |= np.isfinite(x) & (x % 1 != 0)
        return pd.Series(bad, index=values.index)


def value_checks(v: Variable) -> list[ValueCheck]:
    """The value checks a dictionary variable implies.

    Counts may not be negative or fractional; every variable must lie in its ``valid_range``.
    """
    lo, hi = v.valid_range
    checks = []
    if v.is_count and (lo is None or lo >= 0):
        checks.append(
            ValueCheck(
                "negative_count", "negative counts; a count cannot be below 0, fix the export",
                lower=0, message_one="negative count; a count cannot be below 0, fix the export",
            )
        )
        checks.append(
            ValueCheck(
                "non_integer_count",
                "counts are not whole numbers; counts must be integers (if this is a rate it "
                "needs its own dictionary variable of type rate)",
                integer=True,
                message_one="count is not a whole number; counts must be integers (if this is a "
                "rate it needs its own dictionary variable of type rate)",
            )
        )
    if lo is not None and not (v.is_count and lo == 0):
        checks.append(
            ValueCheck(
                "out_of_range", f"values below the valid minimum {lo:g} ({v.unit})", lower=lo,
                message_one=f"value below the valid minimum {lo:g} ({v.unit})",
            )
        )
    if hi is not None:
        checks.append(
            ValueCheck(
                "out_of_range", f"values above the valid maximum {hi:g} ({v.unit})", upper=hi,
                message_one=f"value above the valid maximum {hi:g} ({v.unit})",
            )
        )
    return checks


def _frequency_of(raw: RawSource, entity: Entity) -> str | None:
    return raw.config.frequency or entity.frequency


def area_universe(raws: list[RawSource], dictionary: Dictionary) -> tuple[set[str] | None, str]:
    """The valid area codes: the area lookup if given, else the denominator source, else none.

    Returns the set (or ``None`` when no source defines it) and a description of where it came from.
    """
    for want in ("area_lookup", "population"):
        for raw in raws:
            if raw.config.entity == want and "area_code" in raw.frame.columns:
                codes = raw.frame["area_code"].astype("string").str.strip().dropna()
                return set(codes[codes != ""].unique().tolist()), f"source '{raw.config.name}'"
    return None, "no area lookup or population source (area codes are not checked)"


def validate_sources(
    raws: list[RawSource],
    dictionary: Dictionary,
    *,
    panel_frequency: str,
    unknown_area_severity: Severity = "error",
) -> tuple[ValidationReport, dict[str, ParsedSource]]:
    """Validate every source against the dictionary; collect every failure.

    Parameters
    ----------
    raws
        Sources as read by :func:`evaluate.data.sources.read_source`.
    dictionary
        The data dictionary.
    panel_frequency
        Frequency of the analysis panel (adoption dates are read at it).
    unknown_area_severity
        ``"error"`` under the strict join policy; ``"warning"`` under ``report``, where the join
        leaves such rows out and lists them.

    Returns
    -------
    report, parsed
        The report, and the parsed sources by name (usable only if ``report.ok``).
    """
    report = ValidationReport()
    parsed: dict[str, ParsedSource] = {}
    universe, _ = area_universe(raws, dictionary)
    for raw in raws:
        entity = dictionary.entity(raw.config.entity, context=f"data.sources[{raw.index}].entity")
        col = _Collector(raw)
        frequency = _frequency_of(raw, entity)
        if entity.name == "adoption_table":
            frequency = panel_frequency
        summary = SourceSummary(
            name=raw.config.name,
            path=raw.config.path,
            entity=entity.name,
            frequency=frequency if entity.is_series or entity.name == "adoption_table" else None,
            rows=len(raw.frame),
            columns=list(raw.file_columns),
            variables=[],
            sha256=raw.sha256,
        )
        variables = _check_columns(raw, entity, dictionary, col)
        summary.variables = [v.name for v in variables]
        frame = raw.frame
        has_keys = all(k in frame.columns for k in entity.keys)
        out = pd.DataFrame(index=frame.index)
        freq: str | None = None
        if has_keys:
            is_lookup = entity.name == "area_lookup"
            out["area_code"] = _check_areas(
                raw, frame, None if is_lookup else universe, unknown_area_severity, col
            )
            summary.areas = int(out["area_code"].nunique())
            if entity.is_series:
                periods, freq = _check_periods(raw, frame, frequency or "month", col)
                out["period"] = periods
                _check_keys(raw, out["area_code"], periods, frequency or "month", col)
                ok = periods.dropna()
                if len(ok):
                    summary.first_period = period_label(ok.min(), frequency or "month")
                    summary.last_period = period_label(ok.max(), frequency or "month")
            else:
                dup = out["area_code"].duplicated(keep=False) & out["area_code"].notna()
                if dup.any():
                    what = "adoption date" if entity.name == "adoption_table" else "row"
                    first = out["area_code"][dup].iloc[0]
                    col.add(
                        "duplicate_key",
                        f"{plural(int(dup.sum()), 'row')} share {plural(int(out['area_code'][dup].nunique()), 'area code')} "
                        f"(first: {first}); an area may have only one {what}, keep one",
                        column="area_code",
                        count=int(dup.sum()),
                        examples=col.examples(dup, out["area_code"]),
                    )
                if entity.name == "adoption_table" and "start" in frame.columns:
                    starts, freq = _check_periods(
                        raw, frame, panel_frequency, col, column="start", allow_empty=True
                    )
                    out["start"] = starts
                for extra in ("area_name", "region"):
                    if extra in frame.columns:
                        out[extra] = frame[extra].astype("string").str.strip()
        rules = _rules_for(raw, variables)
        values = _check_values(raw, frame, variables, rules, col, summary)
        out = pd.concat([out, values], axis=1)
        if entity.is_series and "area_name" in frame.columns:
            out["area_name"] = _repeated_text(frame["area_name"])
        report.issues += col.issues
        report.sources.append(summary)
        parsed[raw.config.name] = ParsedSource(
            name=raw.config.name,
            entity=entity,
            frequency=frequency if entity.is_series else None,
            freq=freq,
            variables=variables,
            rules=rules,
            frame=out,
            rows=len(frame),
            path=str(raw.path),
            sha256=raw.sha256,
        )
    return report, parsed
