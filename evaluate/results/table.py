"""The results table: all results of a run as one tidy frame, and its JSON form."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from evaluate.results.effect import RESULT_COLUMNS, EffectResult
from evaluate.results.multiple import ADJUSTMENT_NOTE, adjust_p_values

__all__ = ["results_frame", "results_json"]


def results_frame(results: list[EffectResult]) -> pd.DataFrame:
    """Concatenate results into the results table, in the order given.

    The row order is the analyses' order in the config, then outcomes in their listed order, then
    estimands in the estimator's order: stable, so the same config gives the same file.
    ``p_value_holm`` and ``p_value_bh`` are adjusted within each analysis and estimand across
    its outcomes and units (:func:`evaluate.results.multiple.adjust_p_values`).
    """
    if not results:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RESULT_COLUMNS})
    table = pd.concat([r.tidy() for r in results], ignore_index=True)
    return adjust_p_values(table).loc[:, list(RESULT_COLUMNS)]


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):  # numpy scalars
        try:
            return _clean(x.item())
        except (ValueError, AttributeError):
            return str(x)
    if x is pd.NA:
        return None
    return x


def results_json(results: list[EffectResult], *, evaluation: str, title: str) -> dict[str, Any]:
    """The content of ``results.json``: every result with its estimates and diagnostics."""
    out = []
    frame = results_frame(results)
    start = 0
    for r in results:
        tidy = frame.iloc[start : start + len(r.estimates)].reset_index(drop=True)
        start += len(r.estimates)
        out.append(
            {
                "analysis": r.analysis,
                "method": r.method,
                "estimator": r.estimator,
                "outcome": r.outcome,
                "outcome_role": r.outcome_role,
                "outcome_label": r.outcome_label,
                "intervention": r.intervention,
                "se_type": r.se_type,
                "ci_level": r.ci_level,
                "rows": r.rows.to_dict(),
                "estimates": tidy.astype(object).where(tidy.notna(), None).to_dict(orient="records"),
                "diagnostics": r.diagnostics,
                "warnings": list(r.warnings),
            }
        )
    return _clean(
        {"evaluation": evaluation, "title": title, "p_value_adjustment": ADJUSTMENT_NOTE, "results": out}
    )
