"""Multiple outcomes: Holm and Benjamini-Hochberg adjusted p-values.

An analysis that evaluates several outcomes (or several areas) tests several hypotheses, and the
chance that at least one of them looks "significant" by accident grows with their number. The
results table therefore carries two adjusted p-values next to the unadjusted one:

``p_value_holm``
    Holm's step-down adjustment, controlling the family-wise error rate (the chance of *any*
    false positive in the family). Valid under any dependence between the tests.
``p_value_bh``
    Benjamini-Hochberg, controlling the false discovery rate (the expected share of false
    positives among the findings). Valid for independent or positively dependent tests.

The *family* is one analysis and one estimand: the p-values of, say, ``relative_change`` across
every outcome and unit of the analysis ``crackdown_its``. Activity outcomes are in the family
too (they are hypotheses tested in the same analysis), which makes the adjustment conservative
for the harm outcomes. Rows without a p-value (descriptive means, estimands with no test) are left
out of the family and keep a missing adjusted p-value. Benjamini-Hochberg comes from
``statsmodels.stats.multitest.multipletests`` (``fdr_bh``); Holm is computed by :func:`holm`,
which equals ``multipletests(..., method="holm")`` (see its note on why).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ADJUSTED_COLUMNS", "ADJUSTMENT_NOTE", "FAMILY", "adjust_p_values", "holm"]

ADJUSTED_COLUMNS: dict[str, str] = {"p_value_holm": "holm", "p_value_bh": "fdr_bh"}
"""Results-table column -> ``multipletests`` method."""

FAMILY: tuple[str, ...] = ("analysis", "estimand")
"""Columns that define a family of tests (adjusted together across outcomes and units)."""

ADJUSTMENT_NOTE = (
    "Adjusted p-values: p_value_holm is Holm's step-down adjustment (family-wise error rate) and "
    "p_value_bh is Benjamini-Hochberg (false discovery rate), as in statsmodels' "
    "multipletests, applied within each analysis and estimand across its outcomes and units; "
    "rows without a p-value are not part of a family."
)
"""One sentence naming the adjustment, for reports and spreadsheets."""


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family (equal to ``multipletests(p, method="holm")``).

    Computed here rather than by statsmodels because statsmodels (0.14-0.15) runs a full garbage
    collection on every Holm call: ~70 ms in a process that holds large panels, over a minute
    for the ~700 families of a run with event-study estimands. ``tests/test_multiple.py`` checks
    the two agree.
    """
    p = np.asarray(p, dtype=float)
    n = len(p)
    order = np.argsort(p, kind="mergesort")
    adjusted = np.minimum(np.maximum.accumulate((n - np.arange(n)) * p[order]), 1.0)
    out = np.empty(n)
    out[order] = adjusted
    return out


def adjust_p_values(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``p_value_holm`` and ``p_value_bh`` to a results table.

    Parameters
    ----------
    table
        Rows of the results table with at least ``analysis``, ``estimand`` and ``p_value``.

    Returns
    -------
    pandas.DataFrame
        A copy with the two adjusted columns (replacing any already there). Row order is kept.

    Raises
    ------
    KeyError
        If a family column or ``p_value`` is missing.
    """
    from statsmodels.stats.multitest import multipletests

    missing = [c for c in (*FAMILY, "p_value") if c not in table.columns]
    if missing:
        raise KeyError(f"adjust_p_values: the table lacks columns {missing}")
    out = table.copy()
    p = pd.to_numeric(out["p_value"], errors="coerce").to_numpy(dtype=float)
    adjusted = {col: np.full(len(out), np.nan) for col in ADJUSTED_COLUMNS}
    if len(out):
        keys = out.groupby(list(FAMILY), sort=False, dropna=False).ngroup().to_numpy()
        for key in pd.unique(keys):
            rows = np.flatnonzero((keys == key) & np.isfinite(p))
            if len(rows) == 0:
                continue
            if len(rows) == 1:  # a family of one needs no adjustment
                adjusted["p_value_holm"][rows] = adjusted["p_value_bh"][rows] = p[rows]
                continue
            adjusted["p_value_holm"][rows] = holm(p[rows])
            adjusted["p_value_bh"][rows] = multipletests(p[rows], method="fdr_bh")[1]
    for col, values in adjusted.items():
        out[col] = values
    return out
