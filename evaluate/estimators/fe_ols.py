"""Least squares with unit and period fixed effects and CR1 clustered errors, at national scale.

The TWFE estimators (:mod:`~evaluate.estimators.did_twfe`, :mod:`~evaluate.estimators.did_sa`)
fit :math:`y_{it} = \\alpha_i + \\lambda_t + x_{it}'\\beta + \\varepsilon_{it}` and need the
coefficients, their CR1 clustered covariance and (for the wild cluster bootstrap) the
cluster-level sums :math:`\\sum_{i \\in g} \\tilde x_i \\tilde x_i'` and
:math:`\\sum_{i \\in g} \\tilde x_i \\tilde y_i` of the two-way demeaned data. Everything follows
from those sums (:class:`ClusterStats`), so two routes compute them:

``collapsed``
    A balanced panel whose regressors depend only on a unit's *group* (its adoption cohort) and
    the period: the treatment indicator, event-time indicators, Sun-Abraham's cohort x
    relative-time interactions. The demeaned regressors are then a ``groups x periods x k``
    array; the cross-products need only the group x period sums of the outcome, and each unit's
    scores one product of its demeaned outcome row with its group's regressors. Nothing of size
    ``rows x k`` is ever built: at 10,000 areas x 240 months with 36 event-time indicators the
    rows x k matrix alone would be 690 MB.
``demeaned``
    Any other design (covariates, unbalanced panels): two-way demeaning by
    :func:`~evaluate.estimators.demean.demean_two_way` (closed form when balanced, alternating
    projections otherwise), then the same algebra on the rows.

Both equal linearmodels' ``PanelOLS(entity_effects=True, time_effects=True)`` with
``cov_type="clustered", group_debias=True`` (tested): the CR1 factor is
:math:`\\frac{G}{G-1}\\frac{n-1}{n-k-a}` with :math:`a` = units + periods - 1 absorbed effects,
which is also R's ``sandwich::vcovCL(type = "HC1")`` on the dummy-variable regression. Regressors
absorbed by the fixed effects, or collinear with earlier ones, are dropped and named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ClusterStats", "FeFit", "collapsed_fit", "demeaned_fit", "cr1_factor"]


def cr1_factor(n_clusters: int, n_obs: int, n_params: int) -> float:
    """``G/(G-1) (n-1)/(n-K)``, with ``K`` counting every parameter (absorbed effects included)."""
    return n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - n_params)


@dataclass(frozen=True)
class ClusterStats:
    """Cluster-level sums of a two-way demeaned regression (enough for OLS, CR1 and the WCR bootstrap).

    Attributes
    ----------
    xx
        :math:`\\sum_{i \\in g} \\tilde x_i \\tilde x_i'`: ``(G, k, k)``, or, when ``group`` is
        given, ``(C, k, k)`` for each of ``C`` groups whose clusters share it (the collapsed
        route: every unit of a cohort has the same demeaned regressors), so that nothing of size
        ``G x k x k`` is stored.
    xy
        ``(G, k)``: :math:`\\sum_{i \\in g} \\tilde x_i \\tilde y_i`.
    n_obs
        Rows.
    absorbed
        Fixed effects removed by demeaning (units + periods - 1).
    group
        ``(G,)`` index into ``xx`` of each cluster, or ``None``.
    """

    xx: np.ndarray
    xy: np.ndarray
    n_obs: int
    absorbed: int
    group: np.ndarray | None = None

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(self.xy.shape[0])

    def total(self) -> np.ndarray:
        """:math:`X'X` (``k x k``)."""
        if self.group is None:
            return self.xx.sum(axis=0)
        counts = np.bincount(self.group, minlength=self.xx.shape[0]).astype(float)
        return np.tensordot(counts, self.xx, axes=(0, 0))

    def times(self, v: np.ndarray) -> np.ndarray:
        """``(G, k)``: :math:`X_g'X_g v` for every cluster (``v`` of length ``k``)."""
        out = self.xx @ v
        return out if self.group is None else out[self.group]

    def subset(self, columns: Sequence[int]) -> ClusterStats:
        """The sums for some of the regressors."""
        c = np.asarray(columns, dtype=int)
        return ClusterStats(self.xx[:, c][:, :, c], self.xy[:, c], self.n_obs, self.absorbed, self.group)


@dataclass(frozen=True)
class FeFit:
    """A two-way fixed-effects least-squares fit with CR1 clustered covariance.

    ``params``, ``std_errors`` and ``cov`` are labelled like linearmodels' results, so callers
    read them the same way.
    """

    params: pd.Series
    cov: pd.DataFrame
    n_obs: int
    n_clusters: int
    absorbed: int
    route: str
    dropped: tuple[str, ...] = ()
    stats: ClusterStats | None = field(default=None, repr=False)

    @property
    def std_errors(self) -> pd.Series:
        """Square roots of the covariance diagonal."""
        return pd.Series(np.sqrt(np.clip(np.diag(self.cov.to_numpy()), 0, None)), index=self.params.index)

    @property
    def nobs(self) -> int:
        """Rows used (linearmodels' name)."""
        return self.n_obs


def _independent(xtx: np.ndarray, tol: float = 1e-10) -> list[int]:
    """Columns kept: each must add a direction (relative to its own norm) to the earlier ones.

    A greedy Cholesky: column ``j`` is kept when its squared norm net of the kept columns is above
    ``tol`` times its own squared norm.
    """
    k = xtx.shape[0]
    diag = np.diag(xtx).copy()
    if k and np.all(diag > 0):
        scale = 1 / np.sqrt(diag)
        if np.linalg.eigvalsh(xtx * scale[:, None] * scale[None, :])[0] > tol:
            return list(range(k))  # full rank: the common case, one eigen-decomposition
    keep: list[int] = []
    chol = np.zeros((k, k))  # rows of the Cholesky factor of the kept columns
    for j in range(k):
        d = xtx[j, j]
        if not d > 0:
            continue
        m = len(keep)
        v = xtx[keep, j]
        z = np.linalg.solve(chol[:m, :m], v) if m else v  # lower-triangular solve
        resid = d - z @ z
        if resid > tol * d:
            chol[m, :m] = z
            chol[m, m] = np.sqrt(resid)
            keep.append(j)
    return keep


def _finish(stats: ClusterStats, names: list[str], route: str, absorbed_cols: list[str]) -> FeFit:
    xtx = stats.total()
    keep = _independent(xtx)
    dropped = absorbed_cols + [names[j] for j in range(len(names)) if j not in keep]
    stats = stats.subset(keep)
    kept = [names[j] for j in keep]
    xtx = xtx[np.ix_(keep, keep)]
    bread = np.linalg.inv(xtx)
    beta = bread @ stats.xy.sum(axis=0)
    scores = stats.xy - stats.times(beta)  # (G, k): sum over the cluster of x_i e_i
    meat = scores.T @ scores
    factor = cr1_factor(stats.n_clusters, stats.n_obs, len(keep) + stats.absorbed)
    cov = factor * bread @ meat @ bread
    cov = (cov + cov.T) / 2
    return FeFit(
        params=pd.Series(beta, index=kept),
        cov=pd.DataFrame(cov, index=kept, columns=kept),
        n_obs=stats.n_obs,
        n_clusters=stats.n_clusters,
        absorbed=stats.absorbed,
        route=route,
        dropped=tuple(dropped),
        stats=stats,
    )


def collapsed_fit(
    y: np.ndarray,
    group: np.ndarray,
    w: np.ndarray,
    names: Sequence[str],
    *,
    cluster: np.ndarray | None = None,
) -> FeFit:
    """TWFE on a balanced panel whose regressors depend only on (group, period).

    Parameters
    ----------
    y
        ``(units, periods)`` outcomes, complete.
    group
        ``(units,)`` group index ``0..C-1`` of each unit (e.g. its adoption cohort).
    w
        ``(C, periods, k)`` regressors of each group in each period.
    names
        The ``k`` regressor names.
    cluster
        ``(units,)`` cluster codes ``0..G-1`` (default: each unit its own cluster); units must
        nest in clusters.

    Returns
    -------
    FeFit
        Coefficients and CR1 covariance, with the cluster sums for the wild bootstrap.
    """
    y = np.asarray(y, dtype=float)
    n_units, n_periods = y.shape
    group = np.asarray(group, dtype=np.intp)
    w = np.asarray(w, dtype=float)
    n_groups = w.shape[0]
    size = np.bincount(group, minlength=n_groups).astype(float)
    # two-way demeaning of the regressors, on the group x period grid
    unit_mean = w.mean(axis=1, keepdims=True)  # each unit's mean over periods is its group's
    period_mean = np.tensordot(size / n_units, w, axes=(0, 0))  # (periods, k)
    wd = w - unit_mean - period_mean[None] + period_mean.mean(axis=0)[None, None]
    yd = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    norms = np.einsum("c,ctk,ctk->k", size, wd, wd)
    scale = np.einsum("c,ctk,ctk->k", size, w, w)
    absorbed_idx = [j for j in range(len(names)) if not norms[j] > 1e-12 * max(scale[j], 1e-300)]
    live = [j for j in range(len(names)) if j not in absorbed_idx]
    wd = wd[:, :, live]
    k = len(live)
    # each unit's sums: x_i'x_i is its group's; x_i'y_i is its demeaned row times the group's regressors
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    xy = np.empty((n_units, k))
    for c in range(n_groups):
        rows = order[bounds[c] : bounds[c + 1]]
        if len(rows):
            xy[rows] = yd[rows] @ wd[c]
    gram = np.einsum("ctk,ctl->ckl", wd, wd)  # (C, k, k)
    if cluster is None:
        stats = ClusterStats(gram, xy, n_units * n_periods, n_units + n_periods - 1, group=group)
    else:
        codes = np.asarray(cluster, dtype=np.intp)
        n_cl = int(codes.max()) + 1
        xx = np.zeros((n_cl, k, k))
        np.add.at(xx, codes, gram[group])
        xyc = np.zeros((n_cl, k))
        np.add.at(xyc, codes, xy)
        stats = ClusterStats(xx, xyc, n_units * n_periods, n_units + n_periods - 1)
    names = list(names)
    return _finish(stats, [names[j] for j in live], "collapsed", [names[j] for j in absorbed_idx])


def demeaned_fit(
    y: np.ndarray,
    x: np.ndarray,
    unit_codes: np.ndarray,
    time_codes: np.ndarray,
    names: Sequence[str],
    *,
    cluster: np.ndarray | None = None,
) -> FeFit:
    """TWFE on any panel: demean by unit and period, then least squares with CR1 errors.

    Parameters
    ----------
    y
        ``(n,)`` outcomes.
    x
        ``(n, k)`` regressors.
    unit_codes, time_codes
        ``(n,)`` integer codes of the unit and period of each row.
    names
        Regressor names.
    cluster
        ``(n,)`` cluster codes (default: the unit).

    Returns
    -------
    FeFit
    """
    from evaluate.estimators.demean import demean_two_way

    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    unit_codes = np.asarray(unit_codes, dtype=np.intp)
    time_codes = np.asarray(time_codes, dtype=np.intp)
    xd = demean_two_way(x, unit_codes, time_codes)
    yd = demean_two_way(np.asarray(y, dtype=float), unit_codes, time_codes)
    norms = (xd * xd).sum(axis=0)
    scale = (x * x).sum(axis=0)
    absorbed_idx = [j for j in range(x.shape[1]) if not norms[j] > 1e-12 * max(scale[j], 1e-300)]
    live = [j for j in range(x.shape[1]) if j not in absorbed_idx]
    xd = xd[:, live]
    codes = unit_codes if cluster is None else np.asarray(cluster, dtype=np.intp)
    n_cl = int(codes.max()) + 1
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n_cl))
    xs, ys = xd[order], yd[order]
    xy = np.add.reduceat(xs * ys[:, None], starts, axis=0) if len(live) else np.zeros((n_cl, 0))
    xx = np.empty((n_cl, len(live), len(live)))
    bounds = np.append(starts, len(order))
    for g in range(n_cl):
        block = xs[bounds[g] : bounds[g + 1]]
        xx[g] = block.T @ block
    n_units = int(unit_codes.max()) + 1
    n_periods = int(time_codes.max()) + 1
    stats = ClusterStats(xx, xy, len(y), n_units + n_periods - 1)
    names = list(names)
    return _finish(stats, [names[j] for j in live], "demeaned", [names[j] for j in absorbed_idx])
