"""Autocorrelation-robust covariance for time-series regressions (the ITS default).

Plain Newey-West standard errors are too small for interrupted time series: the step and slope
regressors are persistent, so residual-based long-run variances are biased down. On simulated
monthly series (T = 120, AR(1) errors with rho = 0.5, a planted level change; `benchmarks/` and
`tests/test_its_coverage.py`), 95% intervals from statsmodels' Newey-West covered the true level
change in 75-82% of replications whatever the lag rule, and fixed-b critical values did not help
(the regressors are trending).

:func:`prewhitened_hac` is the Andrews & Monahan (1992) prewhitened estimator, with two
small-sample corrections chosen by the same coverage experiments:

1. **AR(1) prewhitening of the scores** ``s_t = x_t u_t`` with a coefficient ``rho`` estimated
   from the residuals by the method of moments *given the design*: ``rho`` solves
   ``E[e'De] / E[e'e] = r`` where ``r`` is the residuals' lag-one ratio and the expectations are
   taken under AR(1) errors through the residual-maker ``M`` (``E[e'Ae] = tr(M A M Sigma(rho))``).
   This removes the downward bias that trend, step and seasonal regressors add to the usual
   estimate, which a Kendall-type ``(1 + 3 rho) / T`` correction does not.
2. **HC3 leverage scaling** of the residuals, ``u_t / (1 - h_t)``.

The whitened scores get a Bartlett kernel with ``lags`` lags (default 0: after AR(1)
prewhitening the coverage experiments were best without further lags), and are recoloured by
``(1 - rho)^-2``. Intervals use t critical values with the residual degrees of freedom.

Measured coverage of 95% intervals for the level change (600 replications each): 0.94, 0.95,
0.95 at T = 48 and 0.95, 0.95, 0.96 at T = 120 for rho = 0, 0.5, 0.8; plain Newey-West (lag 4)
0.82 at T = 120, rho = 0.5.

Notes
-----
With bread :math:`B = (X'WX)^{-1}`, scores :math:`s_t = x_t \\tilde u_t` (leverage-scaled
residuals, working weights :math:`W` for GLMs), whitened scores
:math:`v_t = s_t - \\hat\\rho s_{t-1}` and the Bartlett long-run variance :math:`\\hat S_v`,

.. math::

    \\widehat{\\mathrm{Var}}(\\hat\\beta) = B \\, \\frac{\\hat S_v}{(1-\\hat\\rho)^2} \\, B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

__all__ = ["HacResult", "prewhitened_hac", "ar1_rho_given_design", "newey_west_lags"]

_RHO_BOUNDS = (-0.95, 0.98)


@dataclass(frozen=True)
class HacResult:
    """A covariance matrix and how it was computed."""

    cov: np.ndarray
    rho: float
    lags: int
    description: str


def newey_west_lags(n: int) -> int:
    """Newey & West (1994) lag rule ``floor(4 (n/100)^(2/9))``."""
    return int(np.floor(4 * (n / 100) ** (2 / 9)))


def _diagonal_sums(a: np.ndarray) -> np.ndarray:
    """``out[k] = sum_i a[i, i+k] + a[i+k, i]`` for k >= 1 and the trace for k = 0."""
    n = a.shape[0]
    out = np.empty(n)
    out[0] = np.trace(a)
    for k in range(1, n):
        out[k] = np.trace(a, offset=k) + np.trace(a, offset=-k)
    return out


def ar1_rho_given_design(x: np.ndarray, resid: np.ndarray) -> float:
    """Method-of-moments AR(1) coefficient of regression errors, accounting for the design.

    Parameters
    ----------
    x
        The (working-weighted) design matrix, n x k.
    resid
        Residuals of the fit (working-weighted for GLMs).

    Returns
    -------
    float
        ``rho`` in [-0.95, 0.98] such that the lag-one ratio the residuals would have in
        expectation under AR(1) errors equals the observed one.
    """
    n = len(resid)
    if n < 4:
        return 0.0
    q, _ = np.linalg.qr(x)
    m = np.eye(n) - q @ q.T
    d = np.zeros((n, n))
    idx = np.arange(n - 1)
    d[idx + 1, idx] = 0.5
    d[idx, idx + 1] = 0.5
    mdm = m @ d @ m
    sa = _diagonal_sums(mdm)
    sm = _diagonal_sums(m)
    observed = float(resid[1:] @ resid[:-1]) / float(resid @ resid)
    powers = np.arange(n)

    def gap(r: float) -> float:
        w = r**powers  # Sigma(rho)[i, j] = rho^|i-j| / (1 - rho^2); the factor cancels
        return float(sa @ w) / float(sm @ w) - observed

    lo, hi = _RHO_BOUNDS
    glo, ghi = gap(lo), gap(hi)
    if glo > 0:
        return lo
    if ghi < 0:
        return hi
    return float(optimize.brentq(gap, lo, hi, xtol=1e-10))


def _bartlett(v: np.ndarray, lags: int) -> np.ndarray:
    s = v.T @ v
    for j in range(1, lags + 1):
        g = v[j:].T @ v[:-j]
        s += (1 - j / (lags + 1)) * (g + g.T)
    return s


def prewhitened_hac(
    x: np.ndarray,
    resid: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    lags: int = 0,
) -> HacResult:
    """Prewhitened, leverage-corrected HAC covariance of regression coefficients.

    Parameters
    ----------
    x
        Design matrix (n x k), rows in time order.
    resid
        Response residuals ``y - fitted`` (time order).
    weights
        GLM working weights (``mu`` for Poisson with a log link); ``None`` for OLS.
    lags
        Bartlett lags applied to the whitened scores.

    Returns
    -------
    HacResult
    """
    n, k = x.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    sw = np.sqrt(w)
    xw = x * sw[:, None]
    bread = np.linalg.inv(xw.T @ xw)
    h = np.einsum("ij,jk,ik->i", xw, bread, xw)
    pearson = resid / sw  # working-scale residuals; equal to resid for OLS
    rho = ar1_rho_given_design(xw, pearson)
    scaled = resid / np.clip(1 - h, 1e-8, None)
    scores = x * scaled[:, None]
    white = scores[1:] - rho * scores[:-1]
    s = _bartlett(white, lags) * n / (n - 1) / (1 - rho) ** 2
    cov = bread @ s @ bread
    cov = (cov + cov.T) / 2
    return HacResult(
        cov=cov,
        rho=rho,
        lags=lags,
        description=(
            f"prewhitened HAC (AR(1) prewhitening, rho={rho:.3f} by design-adjusted moments; "
            f"Bartlett kernel, {lags} lag(s) on whitened scores; HC3 leverage scaling)"
        ),
    )
