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
from scipy import stats

from evaluate.designs.did import WidePanel, wide_panel
from evaluate.errors import AnalysisError
from evaluate.estimators.drdid import panel_did
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
    psi
        Influence functions, n x cells (zero for the universal base period's cells).
    base
        Base period of each cell.
    is_base
        True for the universal base period's cells (ATT fixed at 0).
    n, weights, cohort
        Units, unit weights and each unit's cohort (for aggregation weights).
    notes
        What was dropped or could not be estimated.
    """

    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    psi: np.ndarray
    base: np.ndarray
    is_base: np.ndarray
    n: int
    weights: np.ndarray
    cohort: np.ndarray
    notes: list[str]

    @property
    def se(self) -> np.ndarray:
        """Analytic standard errors, sqrt(sum psi^2) / n (NaN for base cells)."""
        se = np.sqrt((self.psi**2).sum(axis=0)) / self.n
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
    blocks_psi: list[np.ndarray] = []
    group, tval, att, base, is_base = [], [], [], [], []
    for g in glist:
        treated = cohort == g
        g_base = int(np.flatnonzero(times + anticipation < g)[-1])
        js = np.arange(first, n_t)
        post = g <= times[js]
        bs = np.where(post | (base_period == "universal"), g_base, js - 1)
        if control == "never_treated":
            comp = np.repeat(never[:, None], len(js), axis=1)
        else:
            latest = times[np.maximum(js, bs)] + anticipation
            comp = never[:, None] | ((cohort[:, None] > latest[None, :]) & ~treated[:, None])
        if panel.x is None:
            est, psi = _cells_no_covariates(panel.y, w, js, bs, treated, comp)
        else:
            est, psi = np.empty(len(js)), np.zeros((n, len(js)))
            for c, (j, b) in enumerate(zip(js, bs, strict=True)):
                if b != j:
                    est[c], psi[:, c] = _cell(panel, w, int(j), int(b), treated, comp[:, c], method)
        base_cell = bs == js
        est[base_cell] = 0.0  # the universal base period is normalised to zero
        psi[:, base_cell] = 0.0
        for j, e in zip(js, est, strict=True):
            if np.isnan(e):
                notes.append(f"ATT(g={g}, t={times[j]}) cannot be estimated (no comparison units)")
        blocks_psi.append(psi)
        group += [g] * len(js)
        tval += list(times[js])
        base += list(times[bs])
        att += list(est)
        is_base += list(base_cell)
    return AttGt(
        group=np.asarray(group, dtype=float),
        time=np.asarray(tval, dtype=float),
        att=np.asarray(att, dtype=float),
        # stored column-major (each cell's influence function contiguous): aggregation products,
        # column selections and the bootstrap then read it without copying
        psi=_column_major(blocks_psi, n),
        base=np.asarray(base, dtype=float),
        is_base=np.asarray(is_base, dtype=bool),
        n=n,
        weights=w,
        cohort=cohort,
        notes=notes,
    )


def _cells_no_covariates(
    y: np.ndarray, w: np.ndarray, js: np.ndarray, bs: np.ndarray, treated: np.ndarray, comp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every ATT(g,t) of one cohort at once, without covariates (the fast path of :func:`_cell`).

    ``comp`` is units x cells (the comparison units of each cell). Returns the estimates and the
    n x cells influence functions, computed exactly as :func:`_cell` computes each one.
    """
    n = len(w)
    psi = np.zeros((n, len(js)))
    ti = np.flatnonzero(treated)
    dyt = y[np.ix_(ti, js)] - y[np.ix_(ti, bs)]
    wt = w[ti]
    sum_t = wt.sum()
    mt = (wt @ dyt) / sum_t
    fixed = bool((comp == comp[:, :1]).all())
    with np.errstate(invalid="ignore", divide="ignore"):
        if fixed:  # the same comparison units in every cell (never treated): index them once
            ci = np.flatnonzero(comp[:, 0])
            dyc = y[np.ix_(ci, js)] - y[np.ix_(ci, bs)]
            wc = w[ci]
            sum_c = np.full(len(js), wc.sum())
            mc = (wc @ dyc) / sum_c
            n1 = np.full(len(js), len(ti) + len(ci), dtype=float)
            psi[ci] = -wc[:, None] * (dyc - mc) * (n1 / sum_c) * (n / n1)
        else:
            dy = y[:, js] - y[:, bs]
            wcm = w[:, None] * comp
            sum_c = wcm.sum(axis=0)
            mc = (wcm * dy).sum(axis=0) / sum_c
            n1 = len(ti) + comp.sum(axis=0)
            psi = -wcm * (dy - mc) * (n1 / sum_c) * (n / n1)
        psi[ti] = wt[:, None] * (dyt - mt) * (n1 / sum_t) * (n / n1)
    est = mt - mc
    empty = sum_c == 0
    est[empty] = np.nan
    psi[:, empty] = 0.0
    return est, psi


def _cell(
    panel: WidePanel, w: np.ndarray, j: int, b: int, treated: np.ndarray, comp: np.ndarray, method: str
) -> tuple[float, np.ndarray]:
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


def _share_if(groups: np.ndarray, shares: np.ndarray, w: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Influence of estimating cohort-share weights (``did::wif``), n x len(groups).

    The aggregation weights are ``shares / shares.sum()`` with ``shares`` the sample share of
    each element's cohort; this is the first-order effect of estimating them. (The plain
    version of what :func:`_combine` computes per cohort.)
    """
    indicator = (cohort[:, None] == groups[None, :]) * w[:, None]
    centred = indicator - shares[None, :]
    total = shares.sum()
    return centred / total - centred.sum(axis=1, keepdims=True) * (shares / total**2)[None, :]


@dataclass
class Aggregate:
    """One aggregated parameter: estimate, influence function, and its element labels."""

    name: str
    element: str
    estimate: float
    psi: np.ndarray


def _combine(
    att: np.ndarray,
    psi: np.ndarray,
    labels: np.ndarray,
    shares: np.ndarray,
    members: list[np.ndarray],
    weights: list[np.ndarray],
    *,
    w: np.ndarray,
    cohort: np.ndarray,
    with_wif: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sums of several sets of effects at once, with their influence functions.

    Element ``m`` is ``sum(weights[m] * att[members[m]])``; its influence function is
    ``psi[:, members[m]] @ weights[m]`` plus, if ``with_wif``, the effect of estimating the
    cohort-share weights. That term depends on a unit only through its cohort, so it is built per
    cohort: ``(w_i S[G_i] - b) / P - (w_i N[G_i] - P) b / P^2`` with ``P`` the sum of the
    members' shares, ``b`` the share-weighted sum of their effects, ``S[k]`` and ``N[k]`` the sum
    and the number of members from cohort ``k``.
    """
    from scipy import sparse

    n_cells, m = len(att), len(members)
    rows = np.concatenate(members) if members else np.zeros(0, dtype=int)
    cols = np.concatenate([np.full(len(mm), i) for i, mm in enumerate(members)]) if members else rows
    vals = np.concatenate(weights) if weights else np.zeros(0)
    weight_matrix = sparse.csc_matrix((vals, (rows, cols)), shape=(n_cells, m))
    estimates = weight_matrix.T @ att
    out = np.asarray((weight_matrix.T @ psi.T).T)
    if with_wif:
        kinds, cell_kind = np.unique(labels, return_inverse=True)
        onehot = sparse.csc_matrix((np.ones(n_cells), (cell_kind, np.arange(n_cells))), shape=(len(kinds), n_cells))
        member = sparse.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_cells, m))
        s_att = np.vstack([np.asarray((onehot @ sparse.diags(att) @ member).todense()), np.zeros((1, m))])
        count = np.vstack([np.asarray((onehot @ member).todense()), np.zeros((1, m))])
        total = np.asarray(member.T @ shares).ravel()
        b = np.asarray(member.T @ (shares * att)).ravel()
        unit_kind = np.searchsorted(kinds, cohort)
        unit_kind = np.where((unit_kind < len(kinds)) & (kinds[np.minimum(unit_kind, len(kinds) - 1)] == cohort), unit_kind, len(kinds))
        out = out + (w[:, None] * s_att[unit_kind] - b) / total - (w[:, None] * count[unit_kind] - total) * b / total**2
    return estimates, out


def aggregate(res: AttGt, kind: str, *, min_e: float = -np.inf, max_e: float = np.inf) -> list[Aggregate]:
    """Aggregate ATT(g,t) as ``simple``, ``dynamic``, ``group`` or ``calendar``.

    Returns the elements (per event time, cohort or period) followed by the overall parameter,
    each with its influence function, following ``did::aggte`` (cells that could not be
    estimated are left out, as with ``na.rm = TRUE``).
    """
    ok = ~np.isnan(res.att)
    g, t, att = res.group[ok], res.time[ok], res.att[ok]
    psi = res.psi if ok.all() else res.psi.T[ok].T  # a copy only when some cells are missing
    w, cohort = res.weights, res.cohort
    glist = np.unique(g)
    pg_by_group = {gg: float(np.mean(w * (cohort == gg))) for gg in glist}
    pg = np.array([pg_by_group[gg] for gg in g])
    post = g <= t
    opts = {"w": w, "cohort": cohort}

    def by(members: list[np.ndarray], weights: list[np.ndarray], wif: bool) -> tuple[np.ndarray, np.ndarray]:
        return _combine(att, psi, g, pg, members, weights, with_wif=wif, **opts)

    def share_weights(members: list[np.ndarray]) -> list[np.ndarray]:
        return [pg[mm] / pg[mm].sum() for mm in members]

    if kind == "simple":
        members = [np.flatnonzero(post)]
        est, p = by(members, share_weights(members), True)
        return [Aggregate("att", "overall", float(est[0]), p[:, 0])]
    if kind == "dynamic":
        e = t - g
        eseq = np.unique(e)
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        members = [np.flatnonzero(e == ev) for ev in eseq]
        est, p = by(members, share_weights(members), True)
        elems = [Aggregate(f"att_e{_num(ev)}", _num(ev), float(x), p[:, i]) for i, (ev, x) in enumerate(zip(eseq, est, strict=True))]
        pos = eseq >= 0
        overall = Aggregate("att_dynamic", "overall", float(est[pos].mean()), p[:, pos].mean(axis=1))
        return [*elems, overall]
    if kind == "group":
        used = np.array([gg for gg in glist if ((g == gg) & post).any()])
        members = [np.flatnonzero((g == gg) & post) for gg in used]
        est, p = by(members, [np.full(len(mm), 1 / len(mm)) for mm in members], False)
        elems = [Aggregate(f"att_g{_num(gg)}", _num(gg), float(x), p[:, i]) for i, (gg, x) in enumerate(zip(used, est, strict=True))]
        sizes = np.array([pg_by_group[gg] for gg in used])
        overall_est, overall_p = _combine(est, p, used, sizes, [np.arange(len(used))], [sizes / sizes.sum()],
                                          with_wif=True, **opts)
        return [*elems, Aggregate("att_group", "overall", float(overall_est[0]), overall_p[:, 0])]
    if kind == "calendar":
        periods = [tt for tt in np.unique(t[t >= g.min()]) if ((t == tt) & post).any()]
        members = [np.flatnonzero((t == tt) & post) for tt in periods]
        est, p = by(members, share_weights(members), True)
        elems = [Aggregate(f"att_t{_num(tt)}", _num(tt), float(x), p[:, i]) for i, (tt, x) in enumerate(zip(periods, est, strict=True))]
        overall = Aggregate("att_calendar", "overall", float(est.mean()), p.mean(axis=1))
        return [*elems, overall]
    raise ValueError(f"did: aggregation must be one of {AGGREGATIONS}, got {kind!r}")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _column_major(blocks: list[np.ndarray], n: int) -> np.ndarray:
    """``np.concatenate(blocks, axis=1)`` (n x cells) laid out column by column (a transposed
    C-order array)."""
    out = np.empty((sum(b.shape[1] for b in blocks), n))
    at = 0
    for b in blocks:
        out[at:at + b.shape[1]] = b.T
        at += b.shape[1]
    return out.T


def _gram_by_cohort(psi: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """``psi' psi``, one cohort of rows at a time, over only the columns those rows touch.

    A unit's influence is zero in the cells where it is neither treated nor a comparison, so a
    cohort's rows touch few columns (its own cells, or every cell for never-treated units); the
    products skip the zeros. Equal to the plain product up to rounding.
    """
    k = psi.shape[1]
    out = np.zeros((k, k))
    cells = psi.T  # cells x units: contiguous when psi is column-major (AttGt.psi)
    for g in np.unique(cohort):
        rows = cells[:, cohort == g]
        cols = np.flatnonzero(np.any(rows != 0, axis=1))
        if len(cols) == k:
            out += rows @ rows.T
        elif len(cols):
            sub = rows[cols]
            out[np.ix_(cols, cols)] += sub @ sub.T
    return out


def event_time_pretest(dynamic: list[Aggregate], *, n: int, leads: int = 12) -> dict[str, Any]:
    """Wald test that the dynamic aggregation's event-time effects before adoption are zero.

    Uses ``att_e<k>`` for ``-leads <= k < 0`` (leaving out effects fixed at zero by a universal
    base period). With monthly data and few areas the test of every pre-treatment ATT(g,t)
    (:func:`pretest`) has more cells than units and cannot be computed; this one has at most
    ``leads`` degrees of freedom.
    """
    items = [a for a in dynamic if a.element != "overall" and -leads <= float(a.element) < 0
             and np.isfinite(a.estimate) and np.any(a.psi != 0)]
    if not items:
        return {"n_leads": 0, "note": "no event-time effect before adoption to test"}
    b = np.array([a.estimate for a in items])
    psi = np.column_stack([a.psi for a in items])
    v = psi.T @ psi / n**2
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
    transformation of the varying-base ones.
    """
    pre = (res.time < res.group) & ~res.is_base & ~np.isnan(res.att)
    k = int(pre.sum())
    if k == 0:
        return {"n_pre": 0, "note": "no pre-treatment ATT(g,t) to test"}
    import warnings as _warnings

    from scipy import linalg

    a = res.att[pre]
    v = _gram_by_cohort(res.psi.T[pre].T, res.cohort) / res.n
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("error", linalg.LinAlgWarning)
            stat = float(res.n * a @ linalg.solve(v, a, assume_a="pos"))
    except (linalg.LinAlgError, linalg.LinAlgWarning):
        return {"n_pre": k, "note": "the covariance of the pre-treatment effects is singular; no Wald test"}
    return {"n_pre": k, "statistic": stat, "df": k, "p_value": float(stats.chi2.sf(stat, k))}


def multiplier_bootstrap(psi: np.ndarray, *, draws: int, seed: int, level: float) -> tuple[np.ndarray, float]:
    """Bootstrap SEs and the uniform-band critical value from influence functions (n x m).

    Rademacher multipliers per unit; the SE of each column is the interquartile range of its
    draws over that of the standard normal (robust, as in ``did::mboot``); the critical value is
    the ``level`` quantile of the largest absolute t statistic across columns.
    """
    n = psi.shape[0]
    rng = np.random.default_rng(seed)
    boot = np.empty((draws, psi.shape[1]))
    for start in range(0, draws, 256):  # chunks bound the memory of the multiplier matrix
        stop = min(draws, start + 256)
        xi = rng.choice(np.array([-1.0, 1.0]), size=(stop - start, n))
        boot[start:stop] = xi @ psi / np.sqrt(n)
    q75, q25 = np.quantile(boot, [0.75, 0.25], axis=0, method="inverted_cdf")
    sigma = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    with np.errstate(divide="ignore", invalid="ignore"):
        tmax = np.nanmax(np.abs(boot / sigma), axis=1)
    crit = float(np.quantile(tmax, level, method="inverted_cdf"))
    return sigma / np.sqrt(n), crit


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

    blocks: list[tuple[str, list[Aggregate]]] = []
    for kind in aggregations:
        blocks.append((kind, aggregate(res, kind)))
    cells = [
        Aggregate(f"att_g{lab(g)}_t{lab(t)}", f"{lab(g)}/{lab(t)}", float(a), res.psi[:, i])
        for i, (g, t, a) in enumerate(zip(res.group, res.time, res.att, strict=True))
        if not res.is_base[i]
    ]
    blocks.append(("cell", cells))

    level_q = stats.norm.ppf(1 - (1 - ci_level) / 2)
    frames, band = [], {}
    tiny = np.sqrt(np.finfo(float).eps) * 10
    for kind, items in blocks:
        if not items:
            continue
        if kind == "cell":
            psi = res.psi.T[~res.is_base].T  # column-major, like res.psi: a contiguous copy
        else:
            psi = np.column_stack([a.psi for a in items])
        se = np.sqrt(np.einsum("ij,ij->j", psi, psi)) / res.n
        crit = float("nan")
        if bootstrap:
            se, crit = multiplier_bootstrap(psi, draws=bootstrap, seed=seed, level=ci_level)
            band[kind] = crit
        names = []
        for a in items:
            name = a.name
            if kind in ("dynamic", "group", "calendar") and a.element != "overall":
                name = {"dynamic": f"att_e{a.element}", "group": f"att_g{lab(float(a.element))}",
                        "calendar": f"att_t{lab(float(a.element))}"}[kind]
            names.append(name)
        est = np.array([a.estimate for a in items])
        ok = np.isfinite(est) & np.isfinite(se) & (se > tiny)
        se = np.where(ok, se, np.nan)
        frames.append(pd.DataFrame({
            "estimand": names,
            "estimate": est,
            "std_error": se,
            "ci_lower": est - level_q * se,
            "ci_upper": est + level_q * se,
            "p_value": 2 * stats.norm.sf(np.abs(est / se)),
            "n_obs": res.n * len(panel.times),
            "n_areas": res.n,
            "n_periods": len(panel.times),
            "note": [_note(kind, a, control, crit) for a in items],
        }))
    estimates = pd.concat(frames, ignore_index=True)
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
        "cohorts": {lab(g): int((panel.cohort == g).sum()) for g in np.unique(res.group)},
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


def _note(kind: str, a: Aggregate, control: str, crit: float) -> str:
    base = {
        "simple": "average of post-treatment ATT(g,t), weighted by cohort size",
        "dynamic": "average effect at this event time across cohorts (weighted by cohort size)",
        "group": "average post-treatment effect of this cohort",
        "calendar": "average effect in this period across treated cohorts",
        "cell": "ATT(g,t): cohort g in period t",
    }[kind]
    if a.element == "overall":
        base = {"dynamic": "average of the event-time effects from e = 0", "group": "average of cohort effects, weighted by cohort size",
                "calendar": "average of the period effects", "simple": base}.get(kind, base)
    band = f"; uniform band critical value {crit:.3f}" if np.isfinite(crit) else ""
    return f"{base}; comparison: {control.replace('_', '-')} units{band}"
