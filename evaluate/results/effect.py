"""The project's result type, independent of the engine that fitted it.

Every estimator returns :class:`EffectResult`: one row per estimand in a tidy table with the
columns of the results-table contract (DESIGN.md), the diagnostics, the warnings, the row
accounting (rows in, rows used, rows dropped and why), and the fitted engine object for experts.
Charts and the report read these objects, never statsmodels or linearmodels results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RESULT_COLUMNS", "ESTIMAND_COLUMNS", "RowAccounting", "EffectResult"]

RESULT_COLUMNS: tuple[str, ...] = (
    "analysis",
    "method",
    "estimator",
    "outcome",
    "outcome_role",
    "estimand",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "ci_level",
    "p_value",
    "p_value_holm",
    "p_value_bh",
    "n_obs",
    "n_areas",
    "n_periods",
    "se_type",
    "intervention",
    "unit",
    "note",
)
"""Columns of ``results.csv``, in order. The DESIGN.md contract's ten columns are among them.
``p_value_holm`` and ``p_value_bh`` are adjusted across the outcomes and units of an analysis
(:mod:`evaluate.results.multiple`), so :meth:`EffectResult.tidy` of one result leaves them missing
and :func:`evaluate.results.table.results_frame` fills them in."""

ESTIMAND_COLUMNS: tuple[str, ...] = (
    "estimand",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "p_value",
    "n_obs",
    "n_areas",
    "n_periods",
    "note",
)
"""Columns an estimator fills in per estimand; the rest come from the result's attributes."""


@dataclass(frozen=True)
class RowAccounting:
    """Rows in, rows used, and why the others were left out."""

    n_input: int
    n_used: int
    dropped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_input != self.n_used + sum(self.dropped.values()):
            raise ValueError(
                f"row accounting does not balance: {self.n_input} in, {self.n_used} used, "
                f"{self.dropped} dropped"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"n_input": self.n_input, "n_used": self.n_used, "dropped": dict(self.dropped)}


@dataclass(frozen=True, eq=False)
class EffectResult:
    """The estimates of one analysis for one outcome.

    Attributes
    ----------
    analysis, method, estimator
        The analysis name, its ``method`` and the estimator used within it.
    outcome, outcome_role, outcome_label
        The evaluated column, its dictionary role (``activity`` results describe changes in
        police activity, never harm reduction), and its plain-language label.
    intervention
        The intervention evaluated.
    estimates
        One row per estimand, with :data:`ESTIMAND_COLUMNS`.
    ci_level
        Confidence level of the intervals.
    se_type
        How standard errors were computed, named in full (e.g. ``"area-level t (Welch)"``).
    rows
        Row accounting of the fit.
    diagnostics
        Tests and checks (JSON-ready values).
    warnings
        Plain-language warnings for the report.
    model
        The fitted engine object (statsmodels, linearmodels), if any.
    plot_data
        Frames that charts draw from (observed and counterfactual series, ...).
    unit
        What was analysed: ``"treated total"``, an area code, ``"all areas"``...
    """

    analysis: str
    method: str
    estimator: str
    outcome: str
    outcome_role: str
    outcome_label: str
    intervention: str
    estimates: pd.DataFrame
    ci_level: float
    se_type: str
    rows: RowAccounting
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    model: Any = field(default=None, repr=False)
    plot_data: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    unit: str = ""

    def __post_init__(self) -> None:
        missing = [c for c in ESTIMAND_COLUMNS if c not in self.estimates.columns]
        if missing:
            raise ValueError(f"estimates lack columns {missing}")

    def tidy(self) -> pd.DataFrame:
        """The estimates with the results-table columns (:data:`RESULT_COLUMNS`)."""
        out = self.estimates.loc[:, list(ESTIMAND_COLUMNS)].copy()
        out["analysis"] = self.analysis
        out["method"] = self.method
        out["estimator"] = self.estimator
        out["outcome"] = self.outcome
        out["outcome_role"] = self.outcome_role
        out["ci_level"] = self.ci_level
        out["se_type"] = self.se_type
        out["intervention"] = self.intervention
        out["unit"] = self.unit
        out["p_value_holm"] = np.nan  # a family spans results: see results_frame
        out["p_value_bh"] = np.nan
        for c in ("n_obs", "n_areas", "n_periods"):
            out[c] = out[c].astype("Int64")
        return out.loc[:, list(RESULT_COLUMNS)].reset_index(drop=True)

    def estimate(self, estimand: str) -> float:
        """The point estimate of one estimand."""
        row = self.estimates.loc[self.estimates["estimand"] == estimand, "estimate"]
        if row.empty:
            raise KeyError(f"no estimand '{estimand}'; have {list(self.estimates['estimand'])}")
        return float(row.iloc[0])

    def summary(self) -> str:
        """A plain-text summary: what was estimated, the numbers, and the caveats."""
        role = {
            "activity": "police activity (not a harm outcome)",
            "harm": "harm outcome",
            "benefit": "benefit outcome",
        }.get(self.outcome_role, self.outcome_role)
        lines = [
            f"{self.analysis}: {self.method}/{self.estimator} of {self.outcome_label} "
            f"[{self.outcome}, {role}] for intervention '{self.intervention}'",
            f"standard errors: {self.se_type}; {self.ci_level:.0%} intervals",
            f"rows: {self.rows.n_input:,} in, {self.rows.n_used:,} used"
            + "".join(f", {n:,} dropped ({why})" for why, n in self.rows.dropped.items() if n),
            "",
        ]
        table = self.estimates[["estimand", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_obs"]]
        lines.append(table.to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep="-"))
        for w in self.warnings:
            lines.append(f"warning: {w}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<EffectResult {self.analysis}/{self.outcome}: {len(self.estimates)} estimands>"

    def _repr_html_(self) -> str:  # notebooks
        return "<pre>" + self.summary().replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


def finite_or_nan(x: float | None) -> float:
    """``float(x)`` if finite, else NaN (so tables never hold inf)."""
    if x is None:
        return float("nan")
    x = float(x)
    return x if np.isfinite(x) else float("nan")
