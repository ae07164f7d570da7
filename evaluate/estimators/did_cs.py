"""Callaway & Sant'Anna (2021) difference-in-differences with staggered adoption.

Each ATT(g,t) compares the outcome change of the units first treated at ``g`` with that of a
comparison group (never-treated units, or units not yet treated by ``t``), from a base period
before ``g`` (``varying``: the period just before ``t`` for pre-periods, ``universal``: the last
period before ``g - anticipation`` for all). With covariates the comparison is adjusted by
outcome regression (``reg``), inverse probability weighting (``ipw``) or both (``dr``), the panel
estimators of Sant'Anna & Zhao (2020) in :mod:`evaluate.estimators.drdid`. The ATT(g,t) are then
aggregated: ``simple`` (post-treatment cells weighted by cohort size), ``dynamic`` (by event time
``e = t - g``), ``group`` (by cohort) and ``calendar`` (by period).

Inference uses each estimate's influence function (one value per unit, so standard errors are
clustered by unit), including the term for estimating the aggregation weights, exactly as the R
package ``did`` (version 2.3) does; the analytic standard errors therefore match it. A seeded
multiplier bootstrap (Rademacher weights) gives bootstrap standard errors and the critical value
of uniform (simultaneous) bands. The pre-test is the Wald test that all pre-treatment ATT(g,t)
are zero.

Notes
-----
Without covariates,

.. math::

    ATT(g,t) = E[Y_t - Y_b \\mid G = g] - E[Y_t - Y_b \\mid C], \\qquad
    \\psi_i = \\frac{n}{n_g} 1\\{G_i = g\\}(\\Delta Y_i - \\bar{\\Delta Y}_g)
             - \\frac{n}{n_C} 1\\{i \\in C\\}(\\Delta Y_i - \\bar{\\Delta Y}_C),

and :math:`SE = \\sqrt{\\sum_i \\psi_i^2} / n`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, sparse, stats

from evaluate.designs.did import WidePanel, wide_panel
from evaluate.errors import AnalysisError
from evaluate.estimators.drdid import panel_did
from evaluate.estimators.influence import CohortFeatures, Influence, inverse_cholesky
from evaluate.results.effect import EffectResult, RowAccounting

__all__ = ["callaway_santanna", "AttGt", "att_gt", "aggregate"]

Control = Literal["never_treated", "not_yet_treated"]
Base = Literal["varying", "universal"]
AGGREGATIONS: tuple[str, ...] = ("simple", "dynamic", "group", "calendar")


@dataclass
class AttGt:
    """Group-time average treatment effects and their influence functions.

    Attributes
    ----------
    group, time
        Cohort (first treated period) and period of each cell.
    att
        Estimates (NaN where a cell cannot be estimated).
    influence
        Influence functions of the cells in cohort-block form (zero for the universal base
        period's cells); ``psi`` is the dense n x cells matrix.
    base
        Base period of each cell.
    is_base
        True for the universal base period's cells (ATT fixed at 0).
    n, weights, cohort
        Units, unit weights and each unit's cohort (for aggregation weights).
    notes
        What was dropped or could not be estimated.
    control
        The comparison units (``never_treated`` or ``not_yet_treated``).
    """

    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    influence: Influence
    base: np.ndarray
    is_base: np.ndarray
    n: int
    weights: np.ndarray
    cohort: np.ndarray
    notes: list[str]
    control: str = "never_treated"

    @property
    def psi(self) -> np.ndarray:
        """Influence functions, n x cells (a dense matrix built on each access)."""
        return self.influence.dense()

    @property
    def se(self) -> np.ndarray:
        """Analytic standard errors, sqrt(sum psi^2) / n (NaN for base cells)."""
        se = np.sqrt(self.influence.sumsq()) / self.n
        return np.where(self.is_base | np.isnan(self.att) | (se <= np.sqrt(np.finfo(float).eps) * 10), np.nan, se)


def att_gt(
    panel: WidePanel,
    *,
    control: Control = "never_treated",
    anticipation: int = 0,
    base_period: Base = "varying",
    method: Literal["reg", "ipw", "dr"] = "dr",
) -> AttGt:
    """Estimate every ATT(g,t) of a balanced wide panel.

    Parameters
    ----------
    panel
        The wide panel (cohorts in the same units as ``panel.times``).
    control
        ``never_treated`` or ``not_yet_treated`` comparison units.
    anticipation
        Periods before ``g`` in which units may already react.
    base_period
        ``varying`` or ``universal``.
    method
        Covariate adjustment when ``panel.x`` is given: ``reg``, ``ipw`` or ``dr``.
    """
    times = panel.times
    cohort = panel.cohort
    n, n_t = panel.y.shape
    w = np.ones(n) if panel.weights is None else panel.weights / panel.weights.mean()
    notes: list[str] = []
    finite = np.unique(cohort[np.isfinite(cohort)])
    no_pre = [g for g in finite if not np.any(times + anticipation < g)]
    if no_pre:
        notes.append(
            f"{len(no_pre)} cohort(s) treated in or before the first period have no pre-period "
            "and are left out: " + ", ".join(str(g) for g in no_pre)
        )
    glist = [g for g in finite if g not in no_pre]
    if not glist:
        raise AnalysisError("did: no treated cohort has a pre-period to compare with")
    never = np.isinf(cohort)
    if control == "never_treated" and not never.any():
        raise AnalysisError(
            "did: there are no never-treated units; use control: not_yet_treated"
        )

    first = 0 if base_period == "universal" else 1
    cells: list[tuple[float, np.ndarray, np.ndarray]] = []  # (cohort, period indices, base indices)
    for g in glist:
        g_base = int(np.flatnonzero(times + anticipation < g)[-1])
        js = np.arange(first, n_t)
        post = g <= times[js]
        bs = np.where(post | (base_period == "universal"), g_base, js - 1)
        cells.append((g, js, bs))
    if panel.x is None:
        att, influence = _cells_no_covariates(panel.y, w, cohort, times, cells, control, anticipation)
    else:
        att, influence = _cells_with_covariates(panel, w, cells, control, anticipation, method)
    group = np.concatenate([np.full(len(js), g, dtype=float) for g, js, _ in cells])
    jcat = np.concatenate([js for _, js, _ in cells])
    bcat = np.concatenate([bs for _, _, bs in cells])
    is_base = bcat == jcat
    att[is_base] = 0.0  # the universal base period is normalised to zero
    for i in np.flatnonzero(np.isnan(att)):
        notes.append(f"ATT(g={group[i]}, t={times[jcat[i]]}) cannot be estimated (no comparison units)")
    return AttGt(
        group=group,
        time=np.asarray(times[jcat], dtype=float),
        att=att,
        influence=influence,
        base=np.asarray(times[bcat], dtype=float),
        is_base=is_base,
        n=n,
        weights=w,
        cohort=cohort,
        notes=notes,
        control=control,
    )


def _comparison(kinds: np.ndarray, g: float, latest: np.ndarray, control: str) -> np.ndarray:
    """Which cohorts (``kinds``) are comparison units of each cell (kinds x cells)."""
    never = np.isinf(kinds)[:, None]
    if control == "never_treated":
        return np.repeat(never, len(latest), axis=1)
    return never | ((kinds[:, None] > latest[None, :]) & (kinds[:, None] != g))


def _cells_no_covariates(
    y: np.ndarray,
    w: np.ndarray,
    cohort: np.ndarray,
    times: np.ndarray,
    cells: list[tuple[float, np.ndarray, np.ndarray]],
    control: str,
    anticipation: int,
) -> tuple[np.ndarray, Influence]:
    """Every ATT(g,t) without covariates, from each cohort's weighted mean outcomes.

    With ``ybar_k`` the weighted mean series of cohort ``k`` and ``W_k`` its total weight, the
    treated mean change of cell ``(g, t)`` from base ``b`` is ``ybar_g[t] - ybar_g[b]`` and the
    comparison mean change is the ``W``-weighted mean of the comparison cohorts' changes. The
    influence function of a treated unit is ``n w_i ((y_it - ybar_gt) - (y_ib - ybar_gb)) / W_g``;
    of a comparison unit of cohort ``k``, ``-n w_i (that change + (dbar_k - dbar_C)) / W_C``
    (Sant'Anna & Zhao's panel estimator with the ``n / n_1`` rescaling of
    ``did::compute.att_gt``, whose ``n_1`` cancels). These are coefficients on the features
    ``w_i [y_i - ybar_k, 1]`` of :class:`~evaluate.estimators.influence.Influence`; the
    plain per-cell computation is :func:`_cell`.
    """
    n, n_t = y.shape
    kinds, inverse = np.unique(cohort, return_inverse=True)
    order = np.argsort(inverse, kind="stable")  # units by cohort: each cohort's rows contiguous
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(kinds)))])
    rows = [order[bounds[k]:bounds[k + 1]] for k in range(len(kinds))]
    zy_all = y[order]  # the one copy of the outcomes: centred (and weighted) in place below
    w_sorted = w[order]
    unit_weights = not np.all(w == 1.0)
    wsum = np.array([w_sorted[bounds[k]:bounds[k + 1]].sum() for k in range(len(kinds))])
    means = np.empty((len(kinds), n_t))
    zy, wk_list = [], []
    for k in range(len(kinds)):
        block = zy_all[bounds[k]:bounds[k + 1]]
        wk = w_sorted[bounds[k]:bounds[k + 1]]
        means[k] = (wk @ block) / wsum[k]
        block -= means[k]
        if unit_weights:
            block *= wk[:, None]
        zy.append(block)
        wk_list.append(wk)
    f = n_t + 1
    js = np.concatenate([c[1] for c in cells])
    bs = np.concatenate([c[2] for c in cells])
    kg = np.concatenate([np.full(len(c[1]), np.searchsorted(kinds, c[0])) for c in cells])
    latest = times[np.maximum(js, bs)] + anticipation
    member = np.hstack([_comparison(kinds, g, latest[kg == np.searchsorted(kinds, g)], control) for g, _, _ in cells])
    dmean = means[:, js] - means[:, bs]  # kinds x cells
    sum_c = wsum @ member
    live = (sum_c > 0) & (js != bs)
    with np.errstate(invalid="ignore", divide="ignore"):
        mc = (wsum[:, None] * member * dmean).sum(axis=0) / sum_c
        scale_c = np.where(live, n / sum_c, 0.0)
    cols = np.arange(len(js))
    att = dmean[kg, cols] - mc
    att[sum_c == 0] = np.nan
    scale_t = np.where(live, n / wsum[kg], 0.0)
    k_c, c_c = np.nonzero(member & live[None, :])  # comparison cohort and cell
    sc = scale_c[c_c]
    shift = np.where(member.sum(axis=0)[c_c] == 1, 0.0, dmean[k_c, c_c] - mc[c_c])
    row_parts = [kg * f + js, kg * f + bs, k_c * f + js[c_c], k_c * f + bs[c_c], k_c * f + n_t]
    col_parts = [cols, cols, c_c, c_c, c_c]
    val_parts = [scale_t, -scale_t, -sc, sc, -sc * shift]
    coef = sparse.csc_matrix((np.concatenate(val_parts), (np.concatenate(row_parts), np.concatenate(col_parts))),
                             shape=(len(kinds) * f, len(js)))
    coef.eliminate_zeros()
    return att, Influence(CohortFeatures(n, kinds, rows, zy, wk_list, means=means), coef)


def _cells_with_covariates(
    panel: WidePanel,
    w: np.ndarray,
    cells: list[tuple[float, np.ndarray, np.ndarray]],
    control: str,
    anticipation: int,
    method: str,
) -> tuple[np.ndarray, Influence]:
    """Every ATT(g,t) with covariate adjustment, one 2x2 regression per cell (:func:`_cell`)."""
    cohort, times = panel.cohort, panel.times
    kinds, inverse = np.unique(cohort, return_inverse=True)
    n_cells = sum(len(js) for _, js, _ in cells)
    psi = np.zeros((panel.n, n_cells))
    att = np.zeros(n_cells)
    at = 0
    for g, js, bs in cells:
        treated = cohort == g
        member = _comparison(kinds, g, times[np.maximum(js, bs)] + anticipation, control)
        for c, (j, b) in enumerate(zip(js, bs, strict=True)):
            if b != j:
                att[at], psi[:, at] = _cell(panel, w, int(j), int(b), treated, member[inverse, c], method)
            at += 1
    return att, Influence.from_dense(psi, cohort, w)


def _cell(
    panel: WidePanel, w: np.ndarray, j: int, b: int, treated: np.ndarray, comp: np.ndarray, method: str
) -> tuple[float, np.ndarray]:
    """One ATT(g,t) and its influence function (n), computed directly on the cell's units."""
    n = panel.n
    psi = np.zeros(n)
    if not comp.any():
        return float("nan"), psi
    dy = panel.y[:, j] - panel.y[:, b]
    sub = treated | comp
    n1 = int(sub.sum())
    if panel.x is None:
        wt, wc = w * treated, w * comp
        mt = (wt * dy).sum() / wt.sum()
        mc = (wc * dy).sum() / wc.sum()
        # the subsample influence function (DRDID), rescaled by n / n1 as in did::compute.att_gt
        share_t, share_c = wt.sum() / n1, wc.sum() / n1
        psi_sub = np.where(treated, wt * (dy - mt) / share_t, 0.0) - np.where(comp, wc * (dy - mc) / share_c, 0.0)
        psi = psi_sub * n / n1
        psi[~sub] = 0.0
        return float(mt - mc), psi
    x = panel.x[sub, min(j, b), :]  # covariates at the earlier of the two periods
    design = np.column_stack([np.ones(n1), x])
    est, psi_sub = panel_did(dy[sub], treated[sub].astype(float), design, method=method, weights=w[sub])  # type: ignore[arg-type]
    psi[sub] = psi_sub * n / n1
    return est, psi


# -- aggregation ----------------------------------------------------------------------------------


@dataclass
class Aggregate:
    """One aggregated parameter: estimate and element label; its influence function is column
    ``column`` of ``source`` (shared by the elements of one aggregation)."""

    name: str
    element: str
    estimate: float
    source: Influence
    column: int

    @property
    def psi(self) -> np.ndarray:
        """The influence function (length n)."""
        return self.source.column(self.column)


def _combine(
    att: np.ndarray,
    labels: np.ndarray,
    shares: np.ndarray,
    element: np.ndarray,
    weights: np.ndarray,
    n_elements: int,
    *,
    kinds: np.ndarray,
    with_wif: bool,
) -> tuple[np.ndarray, sparse.csc_matrix, np.ndarray | None]:
    """Weighted sums of disjoint sets of effects at once, as a linear map of their influence.

    Effect ``c`` belongs to element ``element[c]`` (``-1``: to none) with weight ``weights[c]``;
    element ``m`` is the weighted sum of its effects and its influence function the same sum of
    theirs plus, if ``with_wif``, the effect of estimating the cohort-share weights
    (``did::wif``). That term is ``(w_i S[G_i] - b) / P - (w_i N[G_i] - P) b / P^2`` with ``P``
    the sum of the members' shares, ``b`` the share-weighted sum of their effects, ``S[k]`` and
    ``N[k]`` the sum and the number of members from cohort ``k``; it simplifies to
    ``w_i (S[G_i] / P - N[G_i] b / P^2)``, a coefficient per cohort on the unit weight.

    Returns
    -------
    estimates, weight_matrix, per_kind
        The ``n_elements`` sums, the ``len(att) x n_elements`` weights, and the
        ``len(kinds) x n_elements`` coefficients of the weight-estimation term (``None``
        without it).
    """
    used = np.flatnonzero(element >= 0)
    el = element[used]
    weight_matrix = sparse.csc_matrix((weights[used], (used, el)), shape=(len(att), n_elements))
    estimates = np.bincount(el, weights=weights[used] * att[used], minlength=n_elements)
    if not with_wif:
        return estimates, weight_matrix, None
    total = np.bincount(el, weights=shares[used], minlength=n_elements)
    b = np.bincount(el, weights=shares[used] * att[used], minlength=n_elements)
    kind = np.searchsorted(kinds, labels[used])
    found = (kind < len(kinds)) & (kinds[np.minimum(kind, len(kinds) - 1)] == labels[used])
    flat = kind[found] * n_elements + el[found]
    size = len(kinds) * n_elements
    s_att = np.bincount(flat, weights=att[used][found], minlength=size).reshape(len(kinds), n_elements)
    count = np.bincount(flat, minlength=size).reshape(len(kinds), n_elements)
    return estimates, weight_matrix, s_att / total - count * b / total**2


def aggregate(res: AttGt, kind: str, *, min_e: float = -np.inf, max_e: float = np.inf) -> list[Aggregate]:
    """Aggregate ATT(g,t) as ``simple``, ``dynamic``, ``group`` or ``calendar``.

    Returns the elements (per event time, cohort or period) followed by the overall parameter,
    each with its influence function, following ``did::aggte`` (cells that could not be
    estimated are left out, as with ``na.rm = TRUE``).
    """
    ok = np.flatnonzero(~np.isnan(res.att))
    g, t, att = res.group[ok], res.time[ok], res.att[ok]
    w, cohort = res.weights, res.cohort
    base = res.influence
    kinds = base.kinds
    glist = np.unique(g)
    pg_by_group = np.array([float(np.mean(w * (cohort == gg))) for gg in glist])
    pg = pg_by_group[np.searchsorted(glist, g)]
    post = g <= t

    def by(element: np.ndarray, n_el: int, weights: np.ndarray, wif: bool,
           overall: tuple[np.ndarray, np.ndarray | None] | None = None) -> tuple[np.ndarray, Influence]:
        """The elements' estimates and the influence of the elements, followed by
        ``overall = (v, c)``: the combination ``v`` of the elements plus ``w_i c[k]`` (if given)."""
        est, wm, per_kind = _combine(att, g, pg, element, weights, n_el, kinds=kinds, with_wif=wif)
        lifted = sparse.csc_matrix((wm.data, ok[wm.indices], wm.indptr), shape=(len(res.att), n_el))
        if overall is not None:
            v, extra = overall
            lifted = sparse.hstack([lifted, sparse.csc_matrix(lifted @ v[:, None])], format="csc")
            cols = [per_kind if per_kind is not None else np.zeros((len(kinds), n_el)),
                    (per_kind @ v)[:, None] if per_kind is not None else np.zeros((len(kinds), 1))]
            per_kind = np.hstack(cols)
            if extra is not None:
                per_kind[:, -1] += extra
        return est, base.then(lifted, per_kind)

    def share_weights(element: np.ndarray, n_el: int) -> np.ndarray:
        inside = element >= 0
        totals = np.bincount(element[inside], weights=pg[inside], minlength=n_el)
        return np.where(inside, pg / totals[np.where(inside, element, 0)], 0.0)

    def mean_of(use: np.ndarray) -> np.ndarray:
        return use / max(int(np.sum(use)), 1)

    def elements(prefix: str, values: np.ndarray, est: np.ndarray, src: Influence) -> list[Aggregate]:
        text = [_num(v) for v in values]
        return [Aggregate(prefix + x, x, float(e), src, i) for i, (x, e) in enumerate(zip(text, est.tolist(), strict=True))]

    if kind == "simple":
        element = np.where(post, 0, -1)
        est, inf = by(element, 1, share_weights(element, 1), True)
        return [Aggregate("att", "overall", float(est[0]), inf, 0)]
    if kind == "dynamic":
        e = t - g
        eseq, position = np.unique(e, return_inverse=True)
        inside = (eseq >= min_e) & (eseq <= max_e)
        renumber = np.cumsum(inside) - 1
        element = np.where(inside[position], renumber[position], -1)
        eseq = eseq[inside]
        pos = eseq >= 0
        est, src = by(element, len(eseq), share_weights(element, len(eseq)), True, (mean_of(pos), None))
        return [*elements("att_e", eseq, est, src), Aggregate("att_dynamic", "overall", float(est[pos].mean()), src, len(eseq))]
    if kind == "group":
        used = np.unique(g[post])
        element = np.where(post, np.searchsorted(used, g), -1)
        n_cells = np.bincount(element[post], minlength=len(used))
        cell_weights = np.where(post, 1.0 / n_cells[np.where(post, element, 0)], 0.0)
        sizes = pg_by_group[np.searchsorted(glist, used)]
        est, _, _ = _combine(att, g, pg, element, cell_weights, len(used), kinds=kinds, with_wif=False)
        overall_est, _, per_kind = _combine(est, used, sizes, np.zeros(len(used), dtype=int), sizes / sizes.sum(), 1,
                                            kinds=kinds, with_wif=True)
        assert per_kind is not None
        _, src = by(element, len(used), cell_weights, False, (sizes / sizes.sum(), per_kind[:, 0]))
        return [*elements("att_g", used, est, src), Aggregate("att_group", "overall", float(overall_est[0]), src, len(used))]
    if kind == "calendar":
        periods = np.unique(t[post & (t >= g.min())])
        element = np.where(post, np.searchsorted(periods, t), -1)
        everything = np.ones(len(periods), dtype=bool)
        est, src = by(element, len(periods), share_weights(element, len(periods)), True, (mean_of(everything), None))
        return [*elements("att_t", periods, est, src), Aggregate("att_calendar", "overall", float(est.mean()), src, len(periods))]
    raise ValueError(f"did: aggregation must be one of {AGGREGATIONS}, got {kind!r}")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def event_time_pretest(dynamic: list[Aggregate], *, n: int, leads: int = 12) -> dict[str, Any]:
    """Wald test that the dynamic aggregation's event-time effects before adoption are zero.

    Uses ``att_e<k>`` for ``-leads <= k < 0`` (leaving out effects fixed at zero by a universal
    base period). With monthly data and few areas the test of every pre-treatment ATT(g,t)
    (:func:`pretest`) has more cells than units and cannot be computed; this one has at most
    ``leads`` degrees of freedom.
    """
    items = [a for a in dynamic if a.element != "overall" and -leads <= float(a.element) < 0
             and np.isfinite(a.estimate)]
    v = np.zeros((0, 0))
    if items:
        v = items[0].source.select(np.array([a.column for a in items])).gram() / n**2
        nonzero = np.diag(v) > 0  # leave out effects fixed at zero (no influence)
        items = [a for a, keep in zip(items, nonzero, strict=True) if keep]
        v = v[np.ix_(nonzero, nonzero)]
    if not items:
        return {"n_leads": 0, "note": "no event-time effect before adoption to test"}
    b = np.array([a.estimate for a in items])
    k = len(items)
    try:
        stat = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        return {"n_leads": k, "note": "the covariance of the event-time leads is singular; no Wald test"}
    if not np.isfinite(stat) or np.linalg.matrix_rank(v) < k:
        return {"n_leads": k, "note": "the covariance of the event-time leads is singular; no Wald test"}
    f_stat = stat / k
    return {"n_leads": k, "leads": [a.element for a in items], "statistic": stat, "df": k,
            "p_value_chi2": float(stats.chi2.sf(stat, k)),
            "f_statistic": f_stat, "df_denominator": n - 1,
            "p_value": float(stats.f.sf(f_stat, k, n - 1)) if n > 1 else float("nan"),
            "note": (f"event-time effects {items[0].element} to {items[-1].element} of the dynamic aggregation; "
                     f"p-value from F = W/{k} on ({k}, {n - 1}) df, the small-sample convention of Stata's "
                     "cluster-robust Wald tests (the chi-squared p-value over-rejects with few units)")}


def pretest(res: AttGt) -> dict[str, Any]:
    """Wald test that every pre-treatment ATT(g,t) is zero (the universal base cells excluded).

    Invariant to the base period: universal-base pre-period effects are an invertible linear
    transformation of the varying-base ones. The covariance is ``psi' psi / n**2``; with never-
    treated comparison units it is block diagonal by cohort plus a low-rank term, which
    :meth:`~evaluate.estimators.influence.Influence.wald` uses.
    """
    pre = (res.time < res.group) & ~res.is_base & ~np.isnan(res.att)
    k = int(pre.sum())
    if k == 0:
        return {"n_pre": 0, "note": "no pre-treatment ATT(g,t) to test"}
    a = res.att[pre]
    stat = _pretest_levels(res, pre)
    if stat is None:
        quad = res.influence.select(pre).wald(a, res.group[pre])
        if quad is None:
            return {"n_pre": k, "note": "the covariance of the pre-treatment effects is singular; no Wald test"}
        stat = float(res.n**2 * quad)
    return {"n_pre": k, "statistic": stat, "df": k, "p_value": float(stats.chi2.sf(stat, k))}


def _pretest_levels(res: AttGt, pre: np.ndarray) -> float | None:
    """The pre-test's ``n**2 b' (psi' psi)^-1 b`` from the cohorts' mean levels, or ``None``
    where this form does not apply (covariates, not-yet-treated comparisons, a cohort's pre-period
    cells not covering its window, a covariance that is not positive definite or not well
    conditioned): the caller then uses :meth:`~evaluate.estimators.influence.Influence.wald`.

    With never-treated comparisons and no covariates, cohort ``g``'s pre-period cells are the
    contrasts ``X' d_g`` (``t - b``, varying or universal base) of ``d_g = ybar_g - ybar_C`` over
    its window of periods ``0 .. m_g - 1``, and ``psi' psi = n**2 X' V X`` with
    ``V = blockdiag(M_g / W_g**2) + E' (M_C / W_C**2) E`` (``M`` the cohorts' Gram matrices of
    centred outcomes, ``W`` their total weights, ``E`` the window prefixes). The contrasts span
    everything orthogonal to each cohort's constant, so the statistic is the generalised
    least-squares residual ``d' V^-1 d - d' V^-1 K (K' V^-1 K)^-1 K' V^-1 d`` (``K``: one constant
    per cohort). ``V`` is block diagonal plus the never-treated term, whose Cholesky factor
    restricted to a prefix is the prefix of the factor: the Woodbury identity then needs one
    Cholesky factor per cohort and no sums over cells.
    """
    feats = res.influence.features
    if res.control != "never_treated" or not isinstance(feats, CohortFeatures) or feats.means is None:
        return None
    never = np.flatnonzero(np.isinf(feats.kinds))
    if len(never) != 1:
        return None
    kc = int(never[0])
    periods = np.unique(np.concatenate([res.time, res.base]))
    groups = np.unique(res.group[pre])
    windows = []
    for g in groups:
        mine = pre & (res.group == g)
        used = np.searchsorted(periods, np.unique(np.concatenate([res.time[mine], res.base[mine]])))
        m = len(used)
        if not np.array_equal(used, np.arange(m)) or int(mine.sum()) != m - 1:
            return None  # the cells are not the contrasts of one prefix window
        windows.append(m)
    width = max(windows)
    kinds = feats.kinds
    gram = feats.gram
    wsum = np.array([w.sum() for w in feats.w])
    control, info = linalg.lapack.dpotrf(gram[kc, :width, :width] / wsum[kc] ** 2, lower=1, clean=1)
    if info != 0:
        return None
    cap = np.eye(width)  # I + sum H'H
    hd = np.zeros(width)  # sum H' C^-1 d
    hk = np.zeros((width, len(groups)))  # sum H' C^-1 1, per cohort
    dd, dk, kk, upper, lower = 0.0, np.zeros(len(groups)), np.zeros(len(groups)), 0.0, np.inf
    for j, (g, m) in enumerate(zip(groups, windows, strict=True)):
        kg = int(np.searchsorted(kinds, g))
        factored = inverse_cholesky(gram[kg, :m, :m] / wsum[kg] ** 2)
        if factored is None:
            return None
        inv = factored[0]
        upper, lower = max(upper, factored[1]), min(lower, factored[2])
        u = inv @ (feats.means[kg, :m] - feats.means[kc, :m])
        one = inv.sum(axis=1)
        h = inv @ control[:m, :m]
        dd += float(u @ u)
        dk[j] = float(u @ one)
        kk[j] = float(one @ one)
        hd[:m] += h.T @ u
        hk[:m, j] = h.T @ one
        cap[:m, :m] += h.T @ h
    flat = control.reshape(-1)
    if upper + float(flat @ flat) > 1e12 * lower:  # a bound on the condition number of V
        return None
    sol = linalg.solve(cap, np.column_stack([hd, hk]), assume_a="pos", check_finite=False)
    d_vd = dd - float(hd @ sol[:, 0])
    d_vk = dk - hd @ sol[:, 1:]
    k_vk = np.diag(kk) - hk.T @ sol[:, 1:]
    try:
        return d_vd - float(d_vk @ linalg.solve(k_vk, d_vk, assume_a="pos", check_finite=False))
    except linalg.LinAlgError:
        return None


def _bootstrap_draws(psi: np.ndarray | Influence, *, draws: int, seed: int) -> np.ndarray:
    """``draws x m`` multiplier-bootstrap draws of ``xi @ psi / sqrt(n)`` (Rademacher ``xi`` per unit)."""
    n = psi.n if isinstance(psi, Influence) else psi.shape[0]
    m = psi.n_params if isinstance(psi, Influence) else psi.shape[1]
    rng = np.random.default_rng(seed)
    boot = np.empty((draws, m))
    for start in range(0, draws, 256):  # chunks bound the memory of the multiplier matrix
        stop = min(draws, start + 256)
        xi = rng.choice(np.array([-1.0, 1.0]), size=(stop - start, n))
        boot[start:stop] = (psi.project(xi) if isinstance(psi, Influence) else xi @ psi) / np.sqrt(n)
    return boot


def _bootstrap_band(boot: np.ndarray, *, n: int, level: float) -> tuple[np.ndarray, float]:
    """Bootstrap SEs (IQR over the normal's) and the uniform-band critical value from draws."""
    q75, q25 = np.quantile(boot, [0.75, 0.25], axis=0, method="inverted_cdf")
    sigma = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    with np.errstate(divide="ignore", invalid="ignore"):
        tmax = np.nanmax(np.abs(boot / sigma), axis=1)
    crit = float(np.quantile(tmax, level, method="inverted_cdf"))
    return sigma / np.sqrt(n), crit


def multiplier_bootstrap(psi: np.ndarray | Influence, *, draws: int, seed: int, level: float) -> tuple[np.ndarray, float]:
    """Bootstrap SEs and the uniform-band critical value from influence functions (n x m).

    Rademacher multipliers per unit; the SE of each column is the interquartile range of its
    draws over that of the standard normal (robust, as in ``did::mboot``); the critical value is
    the ``level`` quantile of the largest absolute t statistic across columns.
    """
    n = psi.n if isinstance(psi, Influence) else psi.shape[0]
    return _bootstrap_band(_bootstrap_draws(psi, draws=draws, seed=seed), n=n, level=level)


def callaway_santanna(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str = "area_code",
    time: str = "t",
    cohort: str = "cohort",
    control: Control | None = None,
    anticipation: int = 0,
    base_period: Base = "varying",
    covariates: Sequence[str] = (),
    method: Literal["reg", "ipw", "dr"] = "dr",
    weights: str | None = None,
    aggregations: Sequence[str] = AGGREGATIONS,
    bootstrap: int = 0,
    seed: int = 20240601,
    ci_level: float = 0.95,
    unbalanced: Literal["refuse", "drop_units"] = "refuse",
    labels: dict[object, str] | None = None,
    analysis: str = "did",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
    unit_label: str = "all areas",
) -> EffectResult:
    """Callaway & Sant'Anna (2021) estimates for staggered adoption.

    Parameters
    ----------
    data
        Long panel: one row per unit and period.
    outcome, unit, time
        Columns (``time`` numeric, e.g. the panel's ``t``).
    cohort
        Column with each unit's first treated time on the ``time`` scale (missing, 0 or inf:
        never treated).
    control
        ``never_treated`` or ``not_yet_treated``; by default never-treated units if there are
        any (a warning says when there are none and not-yet-treated units are used).
    anticipation
        Periods of anticipation.
    base_period
        ``varying`` or ``universal``.
    covariates, method
        Covariates and the adjustment (``reg``, ``ipw``, ``dr``).
    weights
        Column of unit weights.
    aggregations
        Which of ``simple``, ``dynamic``, ``group``, ``calendar`` to report.
    bootstrap
        Multiplier-bootstrap draws (0: analytic standard errors only). With draws, standard
        errors are the bootstrap ones and each aggregation gets a uniform band.
    seed, ci_level
        Bootstrap seed and interval level.
    unbalanced
        ``refuse`` an unbalanced panel, or ``drop_units`` with gaps (counted).
    labels
        Text of each time value for estimand names (default: the values themselves).

    Returns
    -------
    EffectResult
        Estimands ``att`` (simple), ``att_dynamic``, ``att_e<k>``, ``att_group``, ``att_g<g>``,
        ``att_calendar``, ``att_t<t>`` and every ``att_g<g>_t<t>``.
    """
    panel = wide_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort,
                       covariates=covariates, weights=weights, unbalanced=unbalanced)
    warnings: list[str] = []
    has_never = bool(np.isinf(panel.cohort).any())
    if control is None:
        control = "never_treated" if has_never else "not_yet_treated"
        if not has_never:
            warnings.append(
                "no never-treated units: the comparison group is the not-yet-treated units, so "
                "the last cohort's effects after every unit is treated cannot be estimated"
            )
    res = att_gt(panel, control=control, anticipation=anticipation, base_period=base_period, method=method)
    labels = labels or {}

    def lab(v: float) -> str:
        return labels.get(v, labels.get(int(v), _num(v)) if float(v).is_integer() else _num(v))

    blocks = [(kind, items) for kind in aggregations if (items := aggregate(res, kind))]
    text = {v: lab(v) for v in np.unique(np.concatenate([res.group, res.time]))}
    keep = np.flatnonzero(~res.is_base)
    sources = [items[0].source for _, items in blocks]
    if len(keep):
        sources.append(res.influence.select(keep))
    every = Influence.concat(sources)  # one pass over the units for every block's errors and draws
    se_all = np.sqrt(every.sumsq()) / res.n
    draws = _bootstrap_draws(every, draws=bootstrap, seed=seed) if bootstrap else None

    level_q = stats.norm.ppf(1 - (1 - ci_level) / 2)
    band: dict[str, float] = {}
    tiny = np.sqrt(np.finfo(float).eps) * 10
    names: list[str] = []
    notes: list[str] = []
    est_parts, se_parts = [], []
    at = 0
    for b, src in enumerate(sources):
        m = src.n_params
        se = se_all[at:at + m]
        kind = blocks[b][0] if b < len(blocks) else "cell"
        crit = float("nan")
        if draws is not None:  # every block's draws use the same multipliers (one seed)
            se, crit = _bootstrap_band(draws[:, at:at + m], n=res.n, level=ci_level)
            band[kind] = crit
        at += m
        element_note, overall_note = _note(kind, False, control, crit), _note(kind, True, control, crit)
        if kind == "cell":
            names += [f"att_g{text[g]}_t{text[t]}" for g, t in zip(res.group[keep].tolist(), res.time[keep].tolist(), strict=True)]
            notes += [element_note] * m
            est_parts.append(res.att[keep])
            se_parts.append(se)
            continue
        items = blocks[b][1]
        for a in items:
            if a.element == "overall" or kind == "simple":
                names.append(a.name)
            elif kind == "dynamic":
                names.append(f"att_e{a.element}")
            else:
                names.append(("att_g" if kind == "group" else "att_t") + lab(float(a.element)))
            notes.append(overall_note if a.element == "overall" else element_note)
        est_parts.append(np.array([a.estimate for a in items]))
        se_parts.append(se[[a.column for a in items]])
    est = np.concatenate(est_parts)
    se = np.concatenate(se_parts)
    se = np.where(np.isfinite(est) & np.isfinite(se) & (se > tiny), se, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = 2 * stats.norm.sf(np.abs(est / se))
    estimates = pd.DataFrame({
        "estimand": names,
        "estimate": est,
        "std_error": se,
        "ci_lower": est - level_q * se,
        "ci_upper": est + level_q * se,
        "p_value": p_value,
        "n_obs": res.n * len(panel.times),
        "n_areas": res.n,
        "n_periods": len(panel.times),
        "note": notes,
    })
    pt = pretest(res)
    if pt.get("p_value", 1) < 0.05:
        warnings.append(
            f"pre-trends: the pre-treatment effects are jointly different from zero (Wald p = "
            f"{pt['p_value']:.3f}); parallel trends is doubtful"
        )
    dynamic = dict(blocks).get("dynamic", [])
    pt_event = event_time_pretest(dynamic, n=res.n)
    if "statistic" not in pt and pt.get("n_pre"):
        pt["note"] = (f"{pt.get('note', '')}: {pt['n_pre']} pre-treatment ATT(g,t) from {res.n} units; see "
                      "pretest_event_time for a test of the event-time leads")
    if pt_event.get("p_value", 1) < 0.05 and not pt.get("p_value", 1) < 0.05:
        warnings.append(
            f"pre-trends: the event-time effects before adoption are jointly different from zero "
            f"(Wald p = {pt_event['p_value']:.3f}, {pt_event['df']} leads); parallel trends is doubtful"
        )
    n_rows = len(data)
    used = res.n * len(panel.times)
    dropped = {k: v * len(panel.times) for k, v in panel.dropped.items()}
    other = n_rows - used - sum(dropped.values())
    if other:
        dropped["rows outside the balanced panel"] = other
    diag = {
        "control_group": control,
        "base_period": base_period,
        "anticipation": anticipation,
        "method": method if covariates else "none (no covariates: reg, ipw and dr coincide)",
        "covariates": list(covariates),
        "cohorts": {text[g]: int((panel.cohort == g).sum()) for g in np.unique(res.group)},
        "never_treated": int(np.isinf(panel.cohort).sum()),
        "pretest": pt,
        "pretest_event_time": pt_event,
        "uniform_band_critical_values": band,
        "bootstrap": {"draws": bootstrap, "seed": seed, "weights": "Rademacher"} if bootstrap else None,
        "notes": res.notes,
    }
    event = estimates[estimates["estimand"].str.match(r"^att_e-?\d+$")].copy()
    plot = {}
    if not event.empty:
        event["event_time"] = event["estimand"].str.removeprefix("att_e").astype(int)
        crit = band.get("dynamic")
        if crit:
            event["band_lower"] = event["estimate"] - crit * event["std_error"]
            event["band_upper"] = event["estimate"] + crit * event["std_error"]
        plot["event_study"] = event.reset_index(drop=True)
    return EffectResult(
        analysis=analysis,
        method="did",
        estimator="callaway_santanna",
        outcome=outcome,
        outcome_role=outcome_role,
        outcome_label=outcome_label or outcome,
        intervention=intervention,
        estimates=estimates,
        ci_level=ci_level,
        se_type=(f"multiplier bootstrap ({bootstrap} draws, Rademacher, clustered by unit)" if bootstrap
                 else "analytic influence-function SEs, clustered by unit (as R did, bstrap = FALSE)"),
        rows=RowAccounting(n_input=n_rows, n_used=used, dropped=dropped),
        diagnostics=diag,
        warnings=tuple(warnings),
        plot_data=plot,
        unit=unit_label,
    )


def _note(kind: str, overall: bool, control: str, crit: float) -> str:
    base = {
        "simple": "average of post-treatment ATT(g,t), weighted by cohort size",
        "dynamic": "average effect at this event time across cohorts (weighted by cohort size)",
        "group": "average post-treatment effect of this cohort",
        "calendar": "average effect in this period across treated cohorts",
        "cell": "ATT(g,t): cohort g in period t",
    }[kind]
    if overall:
        base = {"dynamic": "average of the event-time effects from e = 0", "group": "average of cohort effects, weighted by cohort size",
                "calendar": "average of the period effects", "simple": base}.get(kind, base)
    band = f"; uniform band critical value {crit:.3f}" if np.isfinite(crit) else ""
    return f"{base}; comparison: {control.replace('_', '-')} units{band}"
