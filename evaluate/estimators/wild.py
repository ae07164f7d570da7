"""Inference with few clusters: wild cluster bootstrap and randomization inference.

**Wild cluster restricted bootstrap** (WCR; Cameron, Gelbach & Miller 2008; MacKinnon & Webb
2017) for one coefficient of a TWFE regression. The null ``beta_j = beta0`` is imposed: the
bootstrap outcomes are the restricted fit plus the restricted residuals multiplied, cluster by
cluster, by random weights (Rademacher, or Webb's six-point weights, better with fewer than about
12 clusters because Rademacher then has few distinct draws). Each draw's cluster-robust (CR1)
t statistic is compared with the sample's; the p-value is the share at least as large in
absolute value, and the interval is the set of ``beta0`` not rejected (found by bisection). By the
Frisch-Waugh-Lovell theorem everything runs on two-way demeaned data, and each draw costs only
cluster-level sums (O(G k) per draw, not O(n)).

**Randomization inference** over adoption: the treatment paths (the set of adoption dates) are
reassigned to units at random, and the TWFE estimate recomputed; the p-value is the share of
reassignments with an estimate at least as large in absolute value (Fisher's sharp null of no
effect anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from evaluate.estimators.fe_ols import ClusterStats, cr1_factor

__all__ = ["WildResult", "wild_cluster_bootstrap", "wild_from_stats", "wild_p_value", "randomization_inference", "auto_weights"]

Weights = Literal["rademacher", "webb"]
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def auto_weights(n_clusters: int) -> Weights:
    """Webb weights below 12 clusters, Rademacher otherwise (MacKinnon & Webb 2017)."""
    return "webb" if n_clusters < 12 else "rademacher"


@dataclass(frozen=True)
class WildResult:
    """Wild bootstrap inference for one coefficient."""

    estimate: float
    t_statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    draws: int
    weights: str
    clusters: int


def _draws(rng: np.random.Generator, b: int, g: int, weights: Weights) -> np.ndarray:
    if weights == "webb":
        return rng.choice(_WEBB, size=(b, g))
    return rng.choice(np.array([-1.0, 1.0]), size=(b, g))


class _Design:
    """Cluster-level sums of a demeaned regression, for fast WCR draws.

    Everything is computed from :class:`~evaluate.estimators.fe_ols.ClusterStats` (the sums
    :math:`X_g'X_g` and :math:`X_g'y` of each cluster), so no row-level array is needed: the
    collapsed TWFE route hands them over directly at national scale.
    """

    def __init__(self, stats: ClusterStats, j: int) -> None:
        self.stats, self.j = stats, j
        self.xy = stats.xy
        self.n_clusters = stats.n_clusters
        k = self.xy.shape[1]
        self.xtx = stats.total()
        self.xty = self.xy.sum(axis=0)
        self.a = np.linalg.inv(self.xtx)
        self.aj = self.a[:, j]
        # CR1 as linearmodels (group_debias) and R vcovCL(HC1): G/(G-1) (N-1)/(N-K), with K
        # counting the absorbed fixed effects; it cancels in bootstrap p-values
        self.factor = cr1_factor(self.n_clusters, stats.n_obs, k + stats.absorbed)
        self.r = stats.times(self.aj)  # (G, k): H_g a_j for every cluster

    @classmethod
    def from_rows(cls, x: np.ndarray, y: np.ndarray, clusters: np.ndarray, j: int, absorbed: int = 0) -> _Design:
        """The design of row-level demeaned data ``x`` (n x k), ``y`` and cluster labels."""
        codes = np.unique(clusters, return_inverse=True)[1]
        g, k = int(codes.max()) + 1, x.shape[1]
        xx = np.zeros((g, k, k))
        np.add.at(xx, codes, x[:, :, None] * x[:, None, :])
        xy = np.zeros((g, k))
        np.add.at(xy, codes, x * y[:, None])
        return cls(ClusterStats(xx, xy, len(y), absorbed), j)

    def t_stat(self, beta0: float) -> tuple[float, float, float]:
        beta = self.a @ self.xty
        u = self.xy @ self.aj - self.r @ beta  # a_j' X_g' e_g
        se = float(np.sqrt(self.factor * (u @ u)))
        return float(beta[self.j]), se, (float(beta[self.j]) - beta0) / se

    def _null_pieces(self) -> None:
        """Everything the restricted bootstrap needs, as affine functions of ``beta0``.

        Restricted fit: ``fitted(b0) = f0 + b0 f1`` with ``f0 = X_o gamma`` the fit of ``y`` on
        the other regressors and ``f1 = x_j - X_o delta`` (``x_j`` net of the others);
        residuals ``r0 - b0 f1`` with ``r0 = y - f0``. Only their cluster sums are needed.
        """
        j, k = self.j, self.xy.shape[1]
        o = [c for c in range(k) if c != j]
        e_j = np.zeros(k)
        e_j[j] = 1.0
        if o:
            gamma = np.zeros(k)
            delta = np.zeros(k)
            gamma[o] = np.linalg.solve(self.xtx[np.ix_(o, o)], self.xty[o])
            delta[o] = np.linalg.solve(self.xtx[np.ix_(o, o)], self.xtx[o, j])
            s_f0 = self.stats.times(gamma)  # X_g' f0, f0 = X_o gamma
            s_f1 = self.stats.times(e_j - delta)  # X_g' f1, f1 = x_j - X_o delta
        else:
            s_f0 = np.zeros_like(self.xy)
            s_f1 = self.stats.times(e_j)
        s_r0 = self.xy - s_f0
        self.pieces = {
            "b_f0": self.a @ s_f0.sum(axis=0), "b_f1": self.a @ s_f1.sum(axis=0),
            "s_r0": s_r0, "s_f1": s_f1,
            "p_f0": s_f0 @ self.aj, "p_f1": s_f1 @ self.aj,
            "q_r0": s_r0 @ self.aj, "q_f1": s_f1 @ self.aj,
        }

    def boot_t(self, beta0: float, v: np.ndarray) -> np.ndarray:
        """t statistics of the bootstrap draws ``v`` (B x G) under ``beta_j = beta0``.

        Everything that depends on the draws is affine in ``beta0``, so the matrix products are
        done once per set of draws (:meth:`_draw_pieces`) and each ``beta0`` of the interval
        search costs only element-wise work on B x G arrays.
        """
        if not hasattr(self, "pieces"):
            self._null_pieces()
        pc = self.pieces
        d = self._draw_pieces(v)
        j = self.j
        beta_r = pc["b_f0"] + beta0 * pc["b_f1"]
        beta_star_j = beta_r[j] + d["v1"][:, j] - beta0 * d["v2"][:, j]
        p = pc["p_f0"] + beta0 * pc["p_f1"]  # a_j' X_g' yhat_r
        q = pc["q_r0"] - beta0 * pc["q_f1"]  # a_j' X_g' u_g
        # a_j' scores of each draw: a_j' X_g' (y*_g - X_g beta*), B x G
        w = (p - beta_r @ self.r.T)[None, :] + v * q[None, :] - d["r1"] + beta0 * d["r2"]
        se = np.sqrt(self.factor * (w**2).sum(axis=1))
        return (beta_star_j - beta0) / se

    def _draw_pieces(self, v: np.ndarray) -> dict[str, np.ndarray]:
        """Products of the draws with the cluster sums: beta* - beta_r = v (s_r0 - b0 s_f1) A."""
        cached = getattr(self, "_draws_cache", None)
        if cached is not None and cached[0] is v:
            return cached[1]
        pc = self.pieces
        v1 = v @ (pc["s_r0"] @ self.a)  # B x k
        v2 = v @ (pc["s_f1"] @ self.a)
        out = {"v1": v1, "v2": v2, "r1": v1 @ self.r.T, "r2": v2 @ self.r.T}
        self._draws_cache = (v, out)
        return out


def wild_cluster_bootstrap(
    x: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    *,
    j: int = 0,
    draws: int = 999,
    weights: Weights | None = None,
    seed: int = 20240601,
    level: float = 0.95,
    absorbed: int = 0,
) -> WildResult:
    """WCR bootstrap p-value and interval for coefficient ``j`` of ``y ~ x`` (already demeaned).

    Parameters
    ----------
    x, y
        Two-way demeaned regressors (n x k) and outcome.
    clusters
        Cluster label of each row.
    j
        Index of the tested coefficient.
    draws, weights, seed
        Bootstrap draws, weight distribution (default :func:`auto_weights`), seed.
    level
        Level of the interval.
    absorbed
        Number of fixed effects removed by demeaning (units + periods - 1), for the CR1
        small-sample factor of the reported t statistic.
    """
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    design = _Design.from_rows(x, np.asarray(y, dtype=float), clusters, j, absorbed)
    return _wild(design, draws=draws, weights=weights, seed=seed, level=level)


def wild_from_stats(
    stats: ClusterStats,
    *,
    j: int = 0,
    draws: int = 999,
    weights: Weights | None = None,
    seed: int = 20240601,
    level: float = 0.95,
) -> WildResult:
    """:func:`wild_cluster_bootstrap` from cluster-level sums (no row-level data needed).

    Parameters
    ----------
    stats
        Cluster sums of the demeaned regression (e.g. ``FeFit.stats`` of a TWFE fit).
    j, draws, weights, seed, level
        As :func:`wild_cluster_bootstrap`.
    """
    return _wild(_Design(stats, j), draws=draws, weights=weights, seed=seed, level=level)


def _wild(design: _Design, *, draws: int, weights: Weights | None, seed: int, level: float) -> WildResult:
    weights = weights or auto_weights(design.n_clusters)
    v = _draws(np.random.default_rng(seed), draws, design.n_clusters, weights)
    est, se, t = design.t_stat(0.0)

    def pval(beta0: float) -> float:
        t0 = (est - beta0) / se
        return float(np.mean(np.abs(design.boot_t(beta0, v)) >= abs(t0)))

    alpha = 1 - level

    def bound(direction: float) -> float:
        inner, outer = est, est + direction * 2 * se
        for _ in range(60):  # widen until rejected
            if pval(outer) < alpha:
                break
            outer = est + (outer - est) * 2
        else:
            return float(direction * np.inf)
        for _ in range(50):
            mid = (inner + outer) / 2
            if pval(mid) < alpha:
                outer = mid
            else:
                inner = mid
            if abs(outer - inner) < 1e-4 * max(se, 1e-12):
                break
        return float((inner + outer) / 2)

    return WildResult(
        estimate=est,
        t_statistic=t,
        p_value=pval(0.0),
        ci_lower=bound(-1.0),
        ci_upper=bound(1.0),
        draws=draws,
        weights=weights,
        clusters=design.n_clusters,
    )


def wild_p_value(
    x: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    *,
    beta0: float,
    j: int = 0,
    draws: int = 999,
    weights: Weights | None = None,
    seed: int = 20240601,
) -> float:
    """WCR bootstrap p-value of ``beta_j = beta0`` (no interval search)."""
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    design = _Design.from_rows(x, np.asarray(y, dtype=float), clusters, j)
    v = _draws(np.random.default_rng(seed), draws, design.n_clusters, weights or auto_weights(design.n_clusters))
    est, se, _ = design.t_stat(0.0)
    return float(np.mean(np.abs(design.boot_t(beta0, v)) >= abs((est - beta0) / se)))


def randomization_inference(
    y_demeaned: np.ndarray,
    treatment_paths: np.ndarray,
    unit_codes: np.ndarray,
    time_codes: np.ndarray,
    *,
    draws: int = 999,
    seed: int = 20240601,
) -> tuple[float, np.ndarray]:
    """p-value of the TWFE estimate when units' treatment paths are reassigned at random.

    Parameters
    ----------
    y_demeaned
        Two-way demeaned outcome (rows in the order of the codes).
    treatment_paths
        Units x periods 0/1 matrix of each unit's treatment path (a balanced panel).
    unit_codes, time_codes
        Row codes.
    draws, seed
        Reassignments and seed.

    Returns
    -------
    p_value, estimates
        The share of reassignments with ``|beta| >= |beta_hat|`` (counting the observed one) and
        the reassigned estimates.
    """
    from evaluate.designs.did import row_groups

    rng = np.random.default_rng(seed)
    n_units, n_periods = treatment_paths.shape
    # On a balanced panel the demeaned outcome has zero row and column sums, so for any
    # reassignment P of the paths, sum(demean(P) * y) = sum(P * y), and sum(demean(P)^2) does
    # not change (period means are the same whatever unit holds which path). With C distinct
    # paths, every reassignment's estimate is a sum of N entries of the C x N matrix of
    # path-by-unit cross products: no refit per draw.
    ymat = np.zeros((n_units, n_periods))
    ymat[unit_codes, time_codes] = y_demeaned
    paths, group = row_groups(treatment_paths)
    dd = treatment_paths - treatment_paths.mean(axis=1, keepdims=True) - treatment_paths.mean(axis=0) + treatment_paths.mean()
    denom = float((dd**2).sum())
    cross = paths @ ymat.T  # (C, N)
    cols = np.arange(n_units)
    observed = float(cross[group, cols].sum() / denom)
    sims = np.empty(draws)
    chunk = max(1, int(2e7 // max(n_units, 1)))
    for lo in range(0, draws, chunk):
        hi = min(draws, lo + chunk)
        perms = np.stack([rng.permutation(n_units) for _ in range(hi - lo)])
        sims[lo:hi] = cross[group[perms], cols[None, :]].sum(axis=1) / denom
    p = (1 + np.sum(np.abs(sims) >= abs(observed))) / (1 + draws)
    return float(p), sims
