"""Descriptive pre/post comparison by treated group (the ``describe`` method).

Not a causal estimator: a transparent first look at the data that every later estimate can be
read against. For each group (treated and comparison areas) and each area, the mean of the
outcome before and after the start is taken; the group's mean is the average over its areas (each
area counts once, however many periods it has), and its change is the average of the areas'
post-minus-pre differences.

Standard errors treat *areas* as the independent units, never area-periods, since periods within
an area are correlated: the t interval of a mean of area-level values (``DescrStatsW``), and
Welch's unequal-variance t interval for the difference in changes (``CompareMeans``), both from
statsmodels. With fewer than two areas in a group its standard errors are not estimable.

Notes
-----
With :math:`\\bar y_{a}^{pre}` and :math:`\\bar y_{a}^{post}` the area means,

.. math::

    \\Delta_g = \\frac{1}{n_g}\\sum_{a \\in g} (\\bar y_{a}^{post} - \\bar y_{a}^{pre}), \\qquad
    \\widehat{DiC} = \\Delta_{treated} - \\Delta_{comparison},

    SE(\\widehat{DiC}) = \\sqrt{s_t^2/n_t + s_c^2/n_c}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluate.errors import AnalysisError
from evaluate.results.effect import EffectResult, RowAccounting, finite_or_nan

__all__ = ["describe", "ESTIMANDS"]

ESTIMANDS = (
    "mean_pre_treated",
    "mean_post_treated",
    "change_treated",
    "mean_pre_control",
    "mean_post_control",
    "change_control",
    "difference_in_changes",
)


def describe(
    data: pd.DataFrame,
    *,
    outcome: str,
    treated: str,
    post: str,
    area: str = "area_code",
    period: str = "period",
    ci_level: float = 0.95,
    analysis: str = "describe",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
) -> EffectResult:
    """Pre and post means by treated group, their changes, and the difference in changes.

    Parameters
    ----------
    data
        One row per area and period.
    outcome
        Column to summarise. A boolean ``<outcome>__suppressed`` column, if present, marks
        suppressed cells (counted separately from other missing values).
    treated
        Boolean column: the area belongs to the treated group.
    post
        Boolean column: the row is in the post-period (for comparison areas too).
    area, period
        Key columns.
    ci_level
        Confidence level.
    analysis, intervention, outcome_role, outcome_label
        Labels carried into the result.

    Returns
    -------
    EffectResult
        Estimands :data:`ESTIMANDS` (comparison rows only when comparison areas exist).
    """
    for col in (outcome, treated, post, area):
        if col not in data.columns:
            raise KeyError(f"describe: column '{col}' not in the data")
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    y = pd.to_numeric(data[outcome], errors="coerce")
    sup_col = f"{outcome}__suppressed"
    suppressed = data[sup_col].fillna(False).to_numpy(dtype=bool) if sup_col in data else np.zeros(len(data), bool)
    missing = y.isna().to_numpy()
    keep = ~missing
    rows = RowAccounting(
        n_input=len(data),
        n_used=int(keep.sum()),
        dropped={
            "outcome suppressed": int((missing & suppressed).sum()),
            "outcome missing": int((missing & ~suppressed).sum()),
        },
    )
    d = pd.DataFrame(
        {
            "area": data[area].to_numpy()[keep],
            "treated": data[treated].to_numpy(dtype=bool)[keep],
            "post": data[post].to_numpy(dtype=bool)[keep],
            "y": y.to_numpy(dtype=float)[keep],
            "period": data[period].to_numpy()[keep] if period in data else np.zeros(keep.sum()),
        }
    )
    alpha = 1 - ci_level
    records: list[dict[str, object]] = []
    changes: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    for group, is_treated in (("treated", True), ("control", False)):
        g = d[d["treated"] == is_treated]
        if g.empty:
            continue
        means = g.groupby(["area", "post"], sort=True)["y"].mean().unstack("post")
        means = means.reindex(columns=[False, True])
        pre = means[False].dropna()
        post_m = means[True].dropna()
        both = means.dropna()
        diff = (both[True] - both[False]).to_numpy()
        changes[group] = diff
        for name, values, mask in (
            (f"mean_pre_{group}", pre.to_numpy(), ~g["post"]),
            (f"mean_post_{group}", post_m.to_numpy(), g["post"]),
        ):
            records.append(
                _mean_row(name, values, n_obs=int(mask.sum()), n_periods=g.loc[mask, "period"].nunique(),
                          alpha=alpha, test=False, DescrStatsW=DescrStatsW)
            )
        records.append(
            _mean_row(f"change_{group}", diff, n_obs=len(g), n_periods=g["period"].nunique(),
                      alpha=alpha, test=True, DescrStatsW=DescrStatsW)
        )
        if len(diff) < 2:
            warnings.append(
                f"only {len(diff)} {group} area(s) with both pre and post data: standard errors "
                "for this group are not estimable"
            )
    if "treated" in changes and "control" in changes:
        t, c = changes["treated"], changes["control"]
        est = float(t.mean() - c.mean()) if len(t) and len(c) else float("nan")
        se = lo = hi = p = float("nan")
        if len(t) >= 2 and len(c) >= 2:
            cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
            se = float(cm.std_meandiff_separatevar)
            lo, hi = (float(v) for v in cm.tconfint_diff(alpha=alpha, usevar="unequal"))
            p = float(cm.ttest_ind(usevar="unequal")[1])
        records.append(
            {
                "estimand": "difference_in_changes",
                "estimate": est,
                "std_error": finite_or_nan(se),
                "ci_lower": finite_or_nan(lo),
                "ci_upper": finite_or_nan(hi),
                "p_value": finite_or_nan(p),
                "n_obs": len(d),
                "n_areas": len(t) + len(c),
                "n_periods": d["period"].nunique(),
                "note": "treated change minus comparison change; Welch t interval over areas",
            }
        )
    else:
        warnings.append(
            "no comparison areas: only the treated group's change is shown, which mixes the "
            "intervention with everything else that changed over time"
        )
    if not records:
        raise AnalysisError(f"describe: '{outcome}' has no observed values to summarise")
    order = {e: i for i, e in enumerate(ESTIMANDS)}
    estimates = pd.DataFrame.from_records(records).sort_values(
        "estimand", key=lambda s: s.map(order), kind="stable"
    ).reset_index(drop=True)
    diagnostics = {
        "areas": {g: int(len(v)) for g, v in changes.items()},
        "post_definition": "rows flagged post; comparison areas use the same calendar cut-off",
    }
    return EffectResult(
        analysis=analysis,
        method="describe",
        estimator="difference_in_means",
        outcome=outcome,
        outcome_role=outcome_role,
        outcome_label=outcome_label or outcome,
        intervention=intervention,
        estimates=estimates,
        ci_level=ci_level,
        se_type="t interval over area means (areas independent); Welch for the difference",
        rows=rows,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )


def _mean_row(
    name: str,
    values: np.ndarray,
    *,
    n_obs: int,
    n_periods: int,
    alpha: float,
    test: bool,
    DescrStatsW: type,  # noqa: N803 - the statsmodels class, imported lazily by the caller
) -> dict[str, object]:
    n = len(values)
    est = float(values.mean()) if n else float("nan")
    se = lo = hi = p = float("nan")
    if n >= 2:
        ds = DescrStatsW(values)
        se = float(ds.std_mean)
        lo, hi = (float(v) for v in ds.tconfint_mean(alpha=alpha))
        if test:
            p = float(ds.ttest_mean(0)[1])
    return {
        "estimand": name,
        "estimate": est,
        "std_error": finite_or_nan(se),
        "ci_lower": finite_or_nan(lo),
        "ci_upper": finite_or_nan(hi),
        "p_value": finite_or_nan(p),
        "n_obs": n_obs,
        "n_areas": n,
        "n_periods": n_periods,
        "note": "mean of area means" if not test else "mean over areas of post minus pre; H0: no change",
    }
