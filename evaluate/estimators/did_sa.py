"""Sun & Abraham (2021) interaction-weighted event study.

A TWFE event study pools cohorts, so its lead and lag coefficients mix effects of other periods
when effects differ across cohorts. Sun and Abraham interact cohort and relative-time
indicators, using never-treated units (or, when there are none, the last cohort to adopt) as the
comparison:

.. math::

    y_{it} = \\alpha_i + \\lambda_t + \\sum_{g} \\sum_{\\ell \\ne -1}
        \\delta_{g\\ell}\\, 1\\{G_i = g\\}\\, 1\\{t - g = \\ell\\} + \\varepsilon_{it},

then average the cohort-specific effects at each relative time with weights equal to the
cohorts' shares among the units observed at that relative time:
:math:`\\hat\\nu_\\ell = \\sum_g \\hat\\delta_{g\\ell}\\, \\widehat{\\Pr}(G = g \\mid \\ell)`.
Standard errors use the CR1 clustered covariance of the :math:`\\hat\\delta` and treat the
weights as fixed (as ``fixest::sunab`` does). Relative times beyond ``window`` are binned into
the endpoints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from evaluate.errors import AnalysisError
from evaluate.estimators.did_twfe import _fit, _fit_collapsed, _prepare, cr1_note
from evaluate.results.effect import EffectResult

__all__ = ["sun_abraham"]


def sun_abraham(
    data: pd.DataFrame,
    *,
    outcome: str,
    cohort: str,
    unit: str = "area_code",
    time: str = "t",
    window: tuple[int, int] | None = None,
    reference: int = -1,
    cluster: str | None = None,
    ci_level: float = 0.95,
    analysis: str = "did",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
    unit_label: str = "all areas",
) -> EffectResult:
    """Interaction-weighted event study.

    Parameters
    ----------
    data
        Long panel.
    outcome, unit, time
        Columns (``time`` numeric).
    cohort
        First treated time on the ``time`` scale (missing, 0 or inf: never treated).
    window
        ``(lowest lead, highest lag)`` with binned endpoints; by default the observed range
        capped at (-12, 12).
    reference
        Omitted relative time.

    Returns
    -------
    EffectResult
        ``att_e<k>`` per relative time, ``att`` (post-period average of the cohort-specific
        effects weighted by cohort size), cohort-specific effects in the diagnostics.
    """
    g = pd.to_numeric(data[cohort], errors="coerce")
    g = g.where(~(g.isna() | (g == 0) | np.isinf(g)), np.nan)
    if not g.notna().any():
        raise AnalysisError("sun_abraham: no treated cohort")
    comparison = "never-treated units"
    if not g.isna().any():
        last = g.max()
        comparison = f"the last cohort to adopt (t = {last:g}), before it adopts"
        data = data[pd.to_numeric(data[time]) < last].copy()
        g = g.loc[data.index]
        g = g.where(g != last, np.nan)
    rel = pd.to_numeric(data[time]) - g
    if window is None:
        window = (max(int(rel.min()), -12), min(int(rel.max()), 12))
    pairs = pd.DataFrame({"g": g.to_numpy(), "t": pd.to_numeric(data[time]).to_numpy()}).dropna().drop_duplicates()
    cohorts = sorted(pairs["g"].unique())
    meta = []
    for c in cohorts:
        times = pairs.loc[pairs["g"] == c, "t"].to_numpy()
        for ell in sorted(set(np.clip(times - c, window[0], window[1]).astype(int))):
            if ell != reference:
                meta.append((f"c{c:g}_e{int(ell)}", c, int(ell)))
    names = [m[0] for m in meta]

    def build(gv: pd.Series, tv: pd.Series) -> pd.DataFrame:
        """The cohort x binned relative-time indicators of rows with cohort ``gv`` at time ``tv``."""
        gv = gv.reset_index(drop=True)
        rb = (pd.to_numeric(tv).reset_index(drop=True) - gv).clip(lower=window[0], upper=window[1]).to_numpy()
        ga = gv.to_numpy()
        return pd.DataFrame({nm: ((ga == c) & (rb == ell)).astype(float) for nm, c, ell in meta})

    base = data.reset_index(drop=True)
    g_base = g.reset_index(drop=True)
    d, rows = _prepare(base, outcome, unit, time, [cluster] if cluster else [])
    res = _fit_collapsed(d, outcome, unit, time, g_base.loc[d.index].to_numpy(dtype=float), build, cluster=cluster)
    if res is None:
        cols = build(g_base.loc[d.index], d[time])
        cols.index = d.index
        frame = pd.concat([d, cols], axis=1)
        res = _fit(frame, outcome, unit, time, names, fixed_effects="unit", group=None, cluster=cluster, weights=None)
    params, cov = res.params, res.cov
    counts = (len(d), int(d[unit].nunique()), int(d[time].nunique()))
    unit_cohort = pd.Series(g.to_numpy(), index=data[unit].to_numpy()).groupby(level=0).first()
    present = unit_cohort.reindex(pd.unique(d[unit]))
    cohort_size = {c: int((present == c).sum()) for c in cohorts}
    q = stats.norm.ppf(1 - (1 - ci_level) / 2)
    recs = []
    by_ell: dict[int, list[tuple[str, float]]] = {}
    for name, c, ell in meta:
        if name in params.index:
            by_ell.setdefault(ell, []).append((name, cohort_size[c]))

    def linear(ws: dict[str, float]) -> tuple[float, float]:
        keys = list(ws)
        w = np.array([ws[k] for k in keys])
        est = float(params[keys].to_numpy() @ w)
        var = float(w @ cov.loc[keys, keys].to_numpy() @ w)
        return est, float(np.sqrt(max(var, 0.0)))

    for ell in sorted(by_ell):
        total = sum(s for _, s in by_ell[ell])
        est, se = linear({nm: s / total for nm, s in by_ell[ell]})
        recs.append(_rec(f"att_e{ell}", est, se, q, counts,
                         f"interaction-weighted effect at relative time {ell} (cohort-share weights)"))
    post = {nm: cohort_size[c] for nm, c, ell in meta if ell >= 0 and nm in params.index}
    if post:
        total = sum(post.values())
        est, se = linear({k: v / total for k, v in post.items()})
        recs.insert(0, _rec("att", est, se, q, counts,
                            "average of post-period cohort x relative-time effects, weighted by cohort size"))
    estimates = pd.DataFrame(recs)
    lead_names = [nm for nm, _, ell in meta if ell < reference and nm in params.index]
    pretrend: dict[str, object] = {"leads": len(lead_names), "note": "cohort x relative-time leads tested jointly"}
    if lead_names:
        b = params[lead_names].to_numpy()
        v = cov.loc[lead_names, lead_names].to_numpy()
        stat = float(b @ np.linalg.lstsq(v, b, rcond=None)[0])
        pretrend.update(statistic=stat, df=len(lead_names), p_value=float(stats.chi2.sf(stat, len(lead_names))))
    n_clusters = d[cluster or unit].nunique()
    plot = estimates[estimates["estimand"].str.startswith("att_e")].copy()
    plot["event_time"] = plot["estimand"].str.removeprefix("att_e").astype(int)
    return EffectResult(
        analysis=analysis, method="did", estimator="sun_abraham", outcome=outcome,
        outcome_role=outcome_role, outcome_label=outcome_label or outcome, intervention=intervention,
        estimates=estimates, ci_level=ci_level, se_type=f"{cr1_note}, {n_clusters} clusters; weights treated as fixed",
        rows=rows,
        diagnostics={"comparison": comparison, "window": list(window), "pretrend": pretrend,
                     "cohort_effects": {k: float(v) for k, v in params.items()}, "cohort_sizes": {f"{k:g}": v for k, v in cohort_size.items()}},
        model=res, plot_data={"event_study": plot.reset_index(drop=True)}, unit=unit_label,
    )


def _rec(name: str, est: float, se: float, q: float, counts: tuple[int, int, int], note: str) -> dict[str, object]:
    return {
        "estimand": name, "estimate": est, "std_error": se, "ci_lower": est - q * se, "ci_upper": est + q * se,
        "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan,
        "n_obs": counts[0], "n_areas": counts[1], "n_periods": counts[2], "note": note,
    }

