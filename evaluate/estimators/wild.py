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

__all__ = ["WildResult", "wild_cluster_bootstrap", "wild_p_value", "randomization_inference", "auto_weights"]

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
    """Cluster-level sums of a demeaned regression, for fast WCR draws."""

    def __init__(self, x: np.ndarray, y: np.ndarray, clusters: np.ndarray, j: int, absorbed: int = 0) -> None:
        self.x, self.y, self.j = x, y, j
        codes, self.n_clusters = np.unique(clusters, return_inverse=True)[1], len(np.unique(clusters))
        self.codes = codes
        self.a = np.linalg.inv(x.T @ x)
        self.aj = self.a[:, j]
        self.xa = x @ self.aj  # row contributions to a_j' x_i
        g, n, k = self.n_clusters, len(y), x.shape[1]
        # CR1 as linearmodels (group_debias) and R vcovCL(HC1): G/(G-1) (N-1)/(N-K), with K
        # counting the absorbed fixed effects; it cancels in bootstrap p-values
        self.factor = g / (g - 1) * (n - 1) / (n - k - absorbed)
        k = x.shape[1]
        # H_g a_j for every cluster: sum over rows of x_i (x_i' a_j)
        self.r = np.zeros((g, k))
        np.add.at(self.r, codes, x * self.xa[:, None])

    def cluster_sum(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=v, minlength=self.n_clusters)

    def t_stat(self, beta0: float) -> tuple[float, float, float]:
        beta = self.a @ (self.x.T @ self.y)
        e = self.y - self.x @ beta
        u = self.cluster_sum(self.xa * e)
        se = float(np.sqrt(self.factor * (u @ u)))
        return float(beta[self.j]), se, (float(beta[self.j]) - beta0) / se

    def _null_pieces(self) -> None:
        """Everything the restricted bootstrap needs, as affine functions of ``beta0``.

        Restricted fit: ``fitted(b0) = f0 + b0 f1`` with ``f0`` the fit of ``y`` on the other
        regressors and ``f1 = x_j - fit(x_j on the others)``; residuals ``r0 - b0 f1``.
        """
        x, j = self.x, self.j
        others = [c for c in range(x.shape[1]) if c != j]
        xj = x[:, j]
        if others:
            xo = x[:, others]
            f0 = xo @ np.linalg.lstsq(xo, self.y, rcond=None)[0]
            f1 = xj - xo @ np.linalg.lstsq(xo, xj, rcond=None)[0]
        else:
            f0, f1 = np.zeros_like(self.y), xj.copy()
        r0 = self.y - f0

        def sums(v: np.ndarray) -> np.ndarray:
            out = np.zeros((self.n_clusters, x.shape[1]))
            np.add.at(out, self.codes, x * v[:, None])
            return out

        self.pieces = {
            "b_f0": self.a @ (x.T @ f0), "b_f1": self.a @ (x.T @ f1),
            "s_r0": sums(r0), "s_f1": sums(f1),
            "p_f0": self.cluster_sum(self.xa * f0), "p_f1": self.cluster_sum(self.xa * f1),
            "q_r0": self.cluster_sum(self.xa * r0), "q_f1": self.cluster_sum(self.xa * f1),
        }

    def boot_t(self, beta0: float, v: np.ndarray) -> np.ndarray:
        """t statistics of the bootstrap draws ``v`` (B x G) under ``beta_j = beta0``."""
        if not hasattr(self, "pieces"):
            self._null_pieces()
        pc = self.pieces
        beta_r = pc["b_f0"] + beta0 * pc["b_f1"]
        s = pc["s_r0"] - beta0 * pc["s_f1"]  # X_g' u_g
        p = pc["p_f0"] + beta0 * pc["p_f1"]  # a_j' X_g' yhat_r
        q = pc["q_r0"] - beta0 * pc["q_f1"]  # a_j' X_g' u_g
        beta_star = beta_r[None, :] + v @ s @ self.a  # B x k  (A symmetric)
        w = p[None, :] + v * q[None, :] - beta_star @ self.r.T  # a_j' scores, B x G
        se = np.sqrt(self.factor * (w**2).sum(axis=1))
        return (beta_star[:, self.j] - beta0) / se


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
    y = np.asarray(y, dtype=float)
    design = _Design(x, y, clusters, j, absorbed)
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
    design = _Design(x, np.asarray(y, dtype=float), clusters, j)
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
    from evaluate.estimators.demean import demean_two_way

    rng = np.random.default_rng(seed)

    def beta(paths: np.ndarray) -> float:
        d = paths[unit_codes, time_codes]
        dd = demean_two_way(d, unit_codes, time_codes)
        return float(dd @ y_demeaned / (dd @ dd))

    observed = beta(treatment_paths)
    sims = np.array([beta(treatment_paths[rng.permutation(len(treatment_paths))]) for _ in range(draws)])
    p = (1 + np.sum(np.abs(sims) >= abs(observed))) / (1 + draws)
    return float(p), sims
