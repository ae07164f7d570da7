"""Batched interrupted time series: one segmented regression per area, all areas at once.

A national evaluation fits the same ITS to thousands of areas (``unit: each_treated``).
:func:`its_batch` returns what :func:`evaluate.estimators.its.its` returns for each area (the same
estimands, standard errors, intervals, diagnostics, placebo dates and counterfactual series) but
fits the areas together: areas that share a design (the same first period, interruption times
and rows used) share one QR decomposition, and the remaining areas (a missing cell, a gap) form
one stack of per-area designs, padded to a common length. :func:`its_by_area` is the notebook
form: one tidy frame of estimates with an ``area`` column, without diagnostics.

How each part equals the per-area fit
-------------------------------------
* **Poisson / quasi-Poisson**: IRLS exactly as statsmodels' ``GLM.fit`` runs it: the same start
  (``mu = (y + mean(y)) / 2``), working response and weights, the same stopping rule (change in
  deviance, divided by the current Pearson scale for quasi-Poisson, of at most 1e-8; at most 100
  iterations) checked per area, and ``(X'WX)^-1`` at the weights of each area's last iteration,
  times the final Pearson chi2 / (n - k) for quasi-Poisson. Each iteration solves the stacked
  k x k weighted normal equations of all areas by Cholesky factorisations vectorised over the
  areas, written in the orthonormal (QR) basis of the design, where their condition number is at
  most max(w) / min(w); the raw ``time`` and ``since`` columns would square the design's
  condition number. While an area's weights are its means (none clipped at eps), the step is
  taken in its Newton form ``beta + (X'WX)^-1 X'(y - mu)``, the same iterate without forming the
  working response. Areas whose weights span more than 1e4 (a segment of zero counts, whose
  estimates run off to infinity) are solved by a QR factorisation of ``sqrt(W) X`` instead, as
  statsmodels does. Coefficients and standard errors agree with statsmodels to ~1e-10 (~1e-8 for
  those degenerate areas, where statsmodels' own ``lstsq``, ``pinv`` and ``qr`` solvers differ by
  as much).
* **OLS**: one least-squares solve per design; ``nonrobust`` and ``newey_west`` as statsmodels
  computes them, and the default prewhitened HAC of :mod:`evaluate.estimators.hac` term by term:
  leverages and bread from the QR factor; the design-adjusted AR(1) coefficient from the same
  moment equation, whose coefficients (diagonal sums of ``M`` and ``M D M``) come from FFT
  cross-correlations of the QR columns instead of n x n products, solved for every area by a
  vectorised, bracketed Newton iteration (``brentq`` with ``xtol=1e-10`` per area in ``its``:
  the two agree to its tolerance). ``se: hac`` of the count models is batched the same way.
* **Derived estimands** (``relative_change``, ``cumulative_averted``,
  ``cumulative_averted_per_100k``, OLS ``relative_change_h<k>``) and the counterfactual interval
  use the same seeded draws: ``its`` seeds every area's generator with the same seed, so every
  area's draws are ``params + z @ L.T`` with one standard-normal matrix ``z`` and the area's
  Cholesky factor (the eigen-factor when the covariance is not positive definite, as numpy's
  ``multivariate_normal``), and the percentile intervals reproduce ``np.percentile``'s linear
  interpolation bit for bit. They equal the per-area numbers up to floating-point rounding.
* **Diagnostics**: Ljung-Box, Breusch-Godfrey (the auxiliary regression on the design and the
  lagged residuals, reduced to k x k and lags x lags blocks), Durbin-Watson, lag-one
  autocorrelation and Pearson overdispersion for all areas at once; warnings by ``its``'s own rules.
  Placebo interruption dates are more shared designs: for each placebo date, one batched fit of
  every area whose pre-period admits it, ranked by ``its_diagnostics.placebo_distribution``.

What stays per area
-------------------
``model="negbin"``, ``errors="arima"``, covariates (a design per area) and Newey-West standard
errors of count models are fitted with :func:`~evaluate.estimators.its.its` area by area, as is
any area whose IRLS fails numerically (an all-zero series: statsmodels then raises as before).
Comparison series (controlled ITS) are not batched; use ``its``. Batched results carry
``model=None`` (there is no statsmodels results object); errors name the area.

Where the time goes
-------------------
For 3,000 areas x 240 months (quasi-Poisson, Fourier terms) the fit and the four coefficient
estimands take well under a second. The simulated estimands cost ``n_sim`` x post-period
exponentials per area, the counterfactual interval a 1,000-draw percentile for every period, and
placebo dates up to 60 more fits per area: the same work as ``its``, without its per-call overhead.
"""


from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from evaluate.data.periods import frequency_of
from evaluate.designs.did import run_starts
from evaluate.designs.its import Interruption, its_design, term_names
from evaluate.errors import AnalysisError, suggest
from evaluate.estimators.hac import newey_west_lags
from evaluate.estimators.its import (
    MODELS,
    SE_TYPES,
    _check_choice,
    _resolve_se,
    _season,
    _warnings,
    its,
)
from evaluate.estimators.its_diagnostics import min_segment_for, placebo_distribution
from evaluate.estimators.its_effects import _simulated_row
from evaluate.results.effect import EffectResult, RowAccounting

__all__ = ["BATCH_SE", "batch_supported", "its_batch", "its_by_area"]

BATCH_SE: dict[str, tuple[str, ...]] = {
    "ols": ("hac", "nonrobust", "newey_west"),
    "poisson": ("model", "pearson", "hac"),
    "quasipoisson": ("model", "pearson", "hac"),
}
"""Standard errors (after resolving ``auto``) that the batch computes, by model."""

_EPS = np.finfo(float).eps
_MAXITER = 100  # statsmodels GLM.fit defaults
_TOL = 1e-8
_RHO_BOUNDS = (-0.95, 0.98)  # evaluate.estimators.hac
_CHUNK = 1 << 22  # elements per simulation chunk (32 MB of float64)


_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _one_blas_thread() -> Any:
    """One BLAS thread for the batch, unless the environment sets a thread count.

    The policy of ``evaluate run`` (``cli._blas_threads``), applied to notebook calls too: the
    batch's products are small, and spinning OpenBLAS threads that compete for the cores slowed
    it 2.5-fold on a loaded 2-core machine (3,000 areas: 1.08 s with two threads, 0.41 s with one).
    """
    if any(os.environ.get(v) for v in _BLAS_ENV):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def batch_supported(
    model: str,
    se: str = "auto",
    *,
    errors: str = "independent",
    covariates: Sequence[str] = (),
    control: str | None = None,
) -> bool:
    """Whether :func:`its_batch` fits these options itself (rather than area by area).

    Parameters
    ----------
    model, se, errors
        As for :func:`~evaluate.estimators.its.its`.
    covariates
        Covariate columns (a design per area: not batched).
    control
        Comparison series (controlled ITS: not batched).

    Returns
    -------
    bool
    """
    if model not in BATCH_SE or errors != "independent" or covariates or control is not None:
        return False
    try:
        kind = _resolve_se(model, se, errors)
    except ValueError:
        return False
    return kind in BATCH_SE[model]


# --------------------------------------------------------------------------------------------
# percentiles exactly as numpy's default (linear) method


def _quantile_positions(n: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order-statistic indices and weights of ``np.percentile(a, [lo, hi])`` for ``n`` values."""
    q = np.true_divide(np.asarray([(1 - level) / 2 * 100, (1 + level) / 2 * 100], dtype=float), 100)
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    nxt = prev + 1
    top = virtual >= n - 1
    prev[top] = -1
    nxt[top] = -1
    gamma = virtual - prev
    return prev.astype(np.intp), nxt.astype(np.intp), gamma


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _row_percentiles(
    a: np.ndarray, level: float, *, transform: Any = None, overwrite: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``np.percentile(a, [lo, hi], axis=-1)`` of finite rows, bit for bit.

    With ``transform`` (a monotone increasing function such as ``np.exp``) the percentiles are
    those of ``transform(a)``, computed from the order statistics of ``a``. ``overwrite``
    partitions ``a`` in place.
    """
    n = a.shape[-1]
    prev, nxt, gamma = _quantile_positions(n, level)
    idx = np.unique(np.concatenate([prev % n, nxt % n]))
    if overwrite:
        a.partition(idx, axis=-1)
        part = a
    else:
        part = np.partition(a, idx, axis=-1)

    def take(i: int) -> np.ndarray:
        v = part[..., i % n]
        return transform(v) if transform is not None else v

    return _lerp(take(prev[0]), take(nxt[0]), gamma[0]), _lerp(take(prev[1]), take(nxt[1]), gamma[1])


def _simulated_columns(
    point: np.ndarray, sims: np.ndarray, *, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SE, interval and p-value of :func:`~evaluate.estimators.its_effects._simulated_row` per row."""
    m = len(point)
    se = np.full(m, np.nan)
    lo = np.full(m, np.nan)
    hi = np.full(m, np.nan)
    pv = np.full(m, np.nan)
    finite = np.isfinite(sims).all(axis=1)
    if finite.any():
        s = sims[finite]
        if s.shape[1] > 1:
            se[finite] = np.std(s, axis=1, ddof=1)
        if s.shape[1]:
            lo[finite], hi[finite] = _row_percentiles(s, level)
    for i in np.flatnonzero(~finite):
        row = _simulated_row("x", float(point[i]), sims[i], "", level=level, n=0)
        se[i], lo[i], hi[i] = row["std_error"], row["ci_lower"], row["ci_upper"]  # type: ignore[assignment]
    ok = np.isfinite(se) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pv[ok] = 2 * stats.norm.sf(np.abs(point[ok] / se[ok]))
    return se, lo, hi, pv


# --------------------------------------------------------------------------------------------
# linear algebra on stacks: q is (1, T, k) (one design shared by every area) or (A, T, k)


def _qt(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``Q' v`` per area: (A, T) -> (A, k)."""
    if q.shape[0] == 1:
        return v @ q[0]
    return np.matmul(v[:, None, :], q)[:, 0, :]


def _qg(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``Q g`` per area: (A, k) -> (A, T)."""
    if q.shape[0] == 1:
        return g @ q[0].T
    return np.matmul(q, g[:, :, None])[:, :, 0]


def _pair_products(q: np.ndarray) -> np.ndarray:
    """Products of the column pairs ``i <= j`` of a shared basis ``q`` (1, T, k): (T, k (k + 1) / 2)."""
    iu, ju = np.triu_indices(q.shape[2])
    return q[0][:, iu] * q[0][:, ju]


def _gram(q: np.ndarray, w: np.ndarray, qq: np.ndarray | None = None) -> np.ndarray:
    """``Q' diag(w) Q`` per area, stacked last: (A, T) -> (k, k, A).

    For a shared basis, one product of the weights with the column-pair products ``qq``
    (:func:`_pair_products`): the upper triangle, mirrored.
    """
    k = q.shape[2]
    if q.shape[0] > 1:
        return np.matmul(q.transpose(0, 2, 1) * w[:, None, :], q).transpose(1, 2, 0)
    iu, ju = np.triu_indices(k)
    upper = (_pair_products(q) if qq is None else qq).T @ w.T
    g = np.empty((k, k, len(w)))
    g[iu, ju] = upper
    g[ju, iu] = upper
    return g


def _cholesky(g: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of symmetric positive definite matrices stacked last: (k, k, A).

    Vectorised over the stack, one operation per column on all areas: numpy's ``cholesky``,
    ``solve`` and ``inv`` make a LAPACK call per k x k matrix, several times slower for thousands
    of areas. A matrix that is not positive definite gets NaN entries instead of an error.
    """
    k = g.shape[0]
    low = np.zeros_like(g)
    for j in range(k):
        row = low[j, :j]
        low[j, j] = np.sqrt(g[j, j] - np.einsum("pa,pa->a", row, row))
        if j + 1 < k:
            low[j + 1 :, j] = (g[j + 1 :, j] - np.einsum("ipa,pa->ia", low[j + 1 :, :j], row)) / low[j, j]
    return low


def _cho_solve(low: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``L L' x = b`` per area: ``low`` (k, k, A) from :func:`_cholesky`, ``b`` (A, k) -> (A, k)."""
    k = low.shape[0]
    rhs = b.T
    fwd = np.empty((k, len(b)))
    for j in range(k):
        fwd[j] = (rhs[j] - np.einsum("pa,pa->a", low[j, :j], fwd[:j])) / low[j, j]
    x = np.empty_like(fwd)
    for j in range(k - 1, -1, -1):
        x[j] = (fwd[j] - np.einsum("pa,pa->a", low[j + 1 :, j], x[j + 1 :])) / low[j, j]
    return x.T


def _cho_inverse(low: np.ndarray) -> np.ndarray:
    """``(L L')^-1`` per area from :func:`_cholesky`: (k, k, A) -> (A, k, k)."""
    k = low.shape[0]
    linv = np.zeros_like(low)  # L^-1, row by row: (e_j - L[j, :j] L^-1[:j]) / L[j, j]
    for j in range(k):
        r = -np.einsum("pa,pia->ia", low[j, :j], linv[:j])
        r[j] += 1.0
        linv[j] = r / low[j, j]
    return np.einsum("pia,pja->aij", linv, linv, optimize=True)


def _rg(rinv: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``R^-1 g`` per area: coefficients of the design from those of its QR basis."""
    if rinv.shape[0] == 1:
        return g @ rinv[0].T
    return np.matmul(rinv, g[:, :, None])[:, :, 0]


def _sub(a: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
    """Rows ``idx`` of a per-area stack, or the shared (1, ...) array itself."""
    return a if a.shape[0] == 1 else a[idx]


def _qr(x: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal basis and inverse R factor of each design (padding rows stay zero)."""
    q, r = np.linalg.qr(x)
    if valid is not None and x.shape[0] > 1:
        q = q * valid[:, :, None]
    return q, np.linalg.inv(r)


# --------------------------------------------------------------------------------------------
# fits


@dataclass
class _Fit:
    params: np.ndarray  # (A, k)
    cov: np.ndarray  # (A, k, k)
    df: np.ndarray | None  # (A,) residual df for t intervals (OLS), None for normal
    pearson: np.ndarray | None  # (A, T) OLS residuals or Pearson residuals, zero on padding (None: not asked for)
    failed: np.ndarray  # (A,) bool: statsmodels would raise (or not converge to finite values)
    se_type: list[str]
    extra: list[dict[str, Any]]
    q: np.ndarray  # QR basis of the design (for the diagnostics)
    dispersion: np.ndarray | None = None


def _poisson_deviance(y: np.ndarray, mu: np.ndarray, resid: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """statsmodels' Poisson deviance per area (``resid``: the response residuals ``y - mu``)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dev = y / mu
        np.maximum(dev, _EPS, out=dev)  # statsmodels' _clean: clip to (eps, inf)
        np.log(dev, out=dev)
        dev *= y
        dev -= resid
    return 2 * (dev if valid.all() else np.where(valid, dev, 0.0)).sum(axis=1)


def _pearson_chi2(resid: np.ndarray, mu: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Pearson chi2 per area from the response residuals ``y - mu``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = resid**2 / mu  # variance |mu|: the means are never negative
    return (r if valid.all() else np.where(valid, r, 0.0)).sum(axis=1)


def _spread(w: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest weight of each area over its rows ``v`` (NaN if any is NaN)."""
    if v.all():
        return w.min(axis=1), w.max(axis=1)
    return np.where(v, w, np.inf).min(axis=1), np.where(v, w, 0.0).max(axis=1)


_ROWS = 256  # areas per chunk of the IRLS's elementwise work: their (256, T) arrays stay in cache


def _poisson_state(
    y: np.ndarray, off: np.ndarray, valid: np.ndarray, *, x2: bool, mu: np.ndarray | None = None,
    x: np.ndarray | None = None, beta: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The Poisson fit of every area at ``beta`` (or at the means ``mu``), in chunks of areas.

    ``eta = X beta + offset`` (``log(max(mu, eps))`` given ``mu``), ``mu = exp(eta)``, ``resid = y -
    mu``, the deviance ``dev``, the Pearson ``chi2`` if ``x2``, and the smallest and largest mean
    ``lo`` and ``hi`` of each area.
    """
    a, t = y.shape
    out = {name: np.empty((a, t)) for name in ("eta", "resid")}
    out["mu"] = np.empty((a, t)) if mu is None else mu
    out |= {name: np.empty(a) for name in ("dev", "lo", "hi", *(("chi2",) if x2 else ()))}
    for start in range(0, a, _ROWS):
        sl = slice(start, start + _ROWS)
        e, m, r, yc, v = out["eta"][sl], out["mu"][sl], out["resid"][sl], y[sl], valid[sl]
        if mu is not None:
            np.log(np.clip(m, _EPS, np.inf), out=e)
        else:
            assert x is not None and beta is not None
            e[...] = _qg(_sub(x, sl), beta[sl])
            e += off[sl]
            np.exp(e, out=m)
        np.subtract(yc, m, out=r)
        out["dev"][sl] = _poisson_deviance(yc, m, r, v)
        if x2:
            out["chi2"][sl] = _pearson_chi2(r, m, v)
        out["lo"][sl], out["hi"][sl] = _spread(m, v)
    return out


def _sandwich(rinv: np.ndarray, low: np.ndarray) -> np.ndarray:
    """``(X'WX)^-1 = R^-1 (Q'WQ)^-1 R^-T`` per area, from the Cholesky factor of ``Q'WQ``."""
    return np.matmul(np.matmul(rinv, _cho_inverse(low)), rinv.transpose(0, 2, 1))


def _wls_step(
    qi: np.ndarray, xi: np.ndarray, rinv: np.ndarray, w: np.ndarray, z: np.ndarray | None, v: np.ndarray,
    qq: np.ndarray | None,
) -> np.ndarray:
    """One weighted least-squares step: the coefficients per area, or ``(X'WX)^-1`` if ``z`` is None.

    The normal equations are formed in the orthonormal basis ``qi`` of the design, where their
    condition number is at most max(w) / min(w), and solved by Cholesky. Areas whose weights
    span more than 1e4 (a count series that is zero for a whole segment, whose estimates run off
    to infinity) are solved by a QR factorisation of ``sqrt(W) X`` in the design's own basis
    instead, as statsmodels does: there the interruption columns keep their exact zeros, which
    the tiny weights make matter.
    """
    k = qi.shape[2]
    out = np.empty((len(w), k) if z is not None else (len(w), k, k))
    lo, hi = _spread(w, v)
    ill = ~(hi <= 1e4 * lo)
    good = np.flatnonzero(~ill)
    if good.size:
        every = good.size == len(w)
        qg, rg = (qi, rinv) if every else (_sub(qi, good), _sub(rinv, good))
        low = _cholesky(_gram(qg, w if every else w[good], qq))
        if z is None:
            out[good] = _sandwich(rg, low)
        else:
            out[good] = _rg(rg, _cho_solve(low, _qt(qg, w * z if every else w[good] * z[good])))
    bad = np.flatnonzero(ill)
    if bad.size:
        sw = np.sqrt(w[bad])
        q2, r2 = np.linalg.qr(np.broadcast_to(_sub(xi, bad), (bad.size, *xi.shape[1:])) * sw[:, :, None])
        r2inv = np.linalg.inv(r2)
        if z is None:
            out[bad] = np.matmul(r2inv, r2inv.transpose(0, 2, 1))
        else:
            out[bad] = np.matmul(r2inv, np.matmul(q2.transpose(0, 2, 1), (sw * z[bad])[:, :, None]))[:, :, 0]
    return out


def _working_step(
    *, qs: np.ndarray, xs: np.ndarray, rinv: np.ndarray, y: np.ndarray, mu: np.ndarray, eta: np.ndarray,
    off: np.ndarray, v: np.ndarray, qq: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """statsmodels' IRLS step on its working response: coefficients, weights and failed areas."""
    dm = 1.0 / np.maximum(mu, _EPS)  # link derivative 1/mu on statsmodels' clipped mu
    w = 1.0 / (dm * dm * mu)  # 1 / (g'(mu)^2 V(mu)), V(mu) = |mu| = mu
    z = eta + dm * (y - mu) - off
    if not v.all():
        w = np.where(v, w, 0.0)
        z = np.where(v, z, 0.0)
    bad = ~np.isfinite((w + z).sum(axis=1))  # statsmodels refuses non-finite WLS data
    if bad.any():
        w = np.where(bad[:, None], 1.0, w)
        z = np.where(bad[:, None], 0.0, z)
    return _wls_step(qs, xs, rinv, w, z, v, qq), w, bad


def _irls(
    x: np.ndarray, q: np.ndarray, rinv: np.ndarray, y: np.ndarray, off: np.ndarray, valid: np.ndarray,
    n: np.ndarray, *, x2: bool,
) -> dict[str, np.ndarray]:
    """statsmodels' GLM IRLS (Poisson, log link) for every area at once.

    Returns the coefficients, ``(X'WX)^-1`` at the weights of each area's last iteration
    (statsmodels' ``normalized_cov_params``), the scale of the final fit, and which areas failed.

    statsmodels' step is weighted least squares of the working response ``z = eta - offset +
    g'(mu) (y - mu)`` with weights ``w = 1 / (g'(mu)^2 V(mu))``, ``g'(mu) = 1 / max(mu, eps)``. While
    every mean of an area is at least eps, ``w = mu`` and ``X'Wz = X'(mu (eta - offset) + y - mu)``;
    from the second iteration on ``eta - offset = X beta``, so the step is the Newton step ``beta +
    (X'WX)^-1 X'(y - mu)``: the same iterates, to rounding, without forming ``w`` and ``z``. Areas
    with clipped, non-finite or widely spread weights take statsmodels' working-response step.
    The arrays of the areas still iterating are compacted when some converge or fail.
    """
    a, t = y.shape
    k = q.shape[2]
    qq = _pair_products(q) if q.shape[0] == 1 else None
    ybar = np.where(valid, y, 0.0).sum(axis=1) / n
    mu = (y + ybar[:, None]) / 2.0 if valid.all() else np.where(valid, (y + ybar[:, None]) / 2.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        st = _poisson_state(y, off, valid, x2=x2, mu=mu)
    scale = st["chi2"] / (n - k) if x2 else np.ones(a)
    st["dev"] = st["dev"] / scale
    failed = np.isnan(st["dev"])
    beta = np.zeros((a, k))
    w_last = np.ones((a, t))
    low_last = np.empty((k, k, a))  # Cholesky factor of Q'WQ at w_last, for areas whose last step had one
    has_low = np.zeros(a, dtype=bool)
    converged = np.zeros(a, dtype=bool)
    iterations = np.zeros(a, dtype=int)
    # the areas still iterating, and their rows of everything
    act = np.flatnonzero(~failed)
    st |= {"scale": scale, "df": n - k, "y": y, "off": off, "valid": valid, "q": q, "x": x, "rinv": rinv, "beta": beta}
    if act.size < a:
        st = {name: _sub(v, act) for name, v in st.items()}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for it in range(_MAXITER):
            if act.size == 0:
                break
            m, lo, hi, qa, ra = st["mu"], st["lo"], st["hi"], st["q"], st["rinv"]
            newton = (lo >= _EPS) & (hi <= 1e4 * lo)  # w = mu, and no area for the QR step
            ba = np.empty((act.size, k))
            bad = np.zeros(act.size, dtype=bool)
            w = m
            low = np.empty((k, k, act.size))
            sel = np.flatnonzero(newton)
            if sel.size:
                s = slice(None) if sel.size == act.size else sel
                qs = _sub(qa, s)
                low[:, :, s] = _cholesky(_gram(qs, m[s], qq))
                if it == 0:  # the start mu is not exp(X beta + offset): X'Wz itself
                    u = m[s] * (st["eta"][s] - st["off"][s]) + st["resid"][s]
                    ba[s] = _rg(_sub(ra, s), _cho_solve(low[:, :, s], _qt(qs, u)))
                else:
                    ba[s] = st["beta"][s] + _rg(_sub(ra, s), _cho_solve(low[:, :, s], _qt(qs, st["resid"][s])))
            other = np.flatnonzero(~newton)
            if other.size:
                s = slice(None) if other.size == act.size else other
                ba[s], wo, bad[s] = _working_step(qs=_sub(qa, s), xs=_sub(st["x"], s), rinv=_sub(ra, s),
                                                  y=st["y"][s], mu=m[s], eta=st["eta"][s], off=st["off"][s],
                                                  v=st["valid"][s], qq=qq)
                w = wo if other.size == act.size else np.where(newton[:, None], m, 0.0)
                if other.size < act.size:
                    w[s] = wo
            new = _poisson_state(st["y"], st["off"], st["valid"], x2=x2, x=st["x"], beta=ba)
            dev = new["dev"] / st["scale"]
            bad |= ~np.isfinite(ba).all(axis=1)
            conv = np.abs(dev - st["dev"]) <= _TOL
            st |= new
            st["dev"], st["beta"] = dev, ba
            if x2:
                st["scale"] = new["chi2"] / st["df"]
            iterations[act] = it + 1
            converged[act[conv]] = True
            failed[act[bad]] = True
            done = conv | bad
            if it == _MAXITER - 1:
                done[:] = True
            if done.any():  # keep the finished areas' coefficients, scale and last weights
                fin = act[done]
                beta[fin], scale[fin], has_low[fin] = ba[done], st["scale"][done], newton[done]
                if fin.size == a:
                    w_last, low_last = w, low
                else:
                    w_last[fin] = w[done]
                    low_last[:, :, fin] = low[:, :, done]
                keep = np.flatnonzero(~done)
                act = act[keep]
                st = {name: _sub(v, keep) for name, v in st.items()}
    # statsmodels' normalized_cov_params: (X'WX)^-1 at the weights of each area's last iteration
    if has_low.all():
        cov = _sandwich(rinv, low_last)
    else:
        cov = np.empty((a, k, k))
        cached, rest = np.flatnonzero(has_low), np.flatnonzero(~has_low)
        if cached.size:
            cov[cached] = _sandwich(_sub(rinv, cached), low_last[:, :, cached])
        cov[rest] = _wls_step(_sub(q, rest), _sub(x, rest), _sub(rinv, rest), w_last[rest], None, valid[rest], qq)
    return {"beta": beta, "cov": cov, "scale": scale, "failed": failed | ~np.isfinite(scale),
            "converged": converged, "iterations": iterations}


def _moment_coefficients(q: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial coefficients of ``hac.ar1_rho_given_design``'s moment equation.

    ``sa[k]`` and ``sm[k]`` are the sums of the k-th diagonals (both sides) of ``M D M`` and of
    ``M`` (``M = I - Q Q'``, ``D`` the symmetric lag-one matrix), from FFT cross-correlations of
    the columns of ``Q`` instead of n x n products. ``q``: (B, T, k), zero beyond row ``n``.
    """
    b, t, _ = q.shape
    nn = np.broadcast_to(np.asarray(n, dtype=float), (b,))
    rows = np.arange(t)
    inside = rows[None, :] < nn[:, None]
    qp = np.pad(q, ((0, 0), (1, 1), (0, 0)))
    r = 0.5 * (qp[:, :-2] + qp[:, 2:]) * inside[:, :, None]  # D Q within the first n rows
    c = np.matmul(q.transpose(0, 2, 1), r)
    u = np.matmul(q, c) - 2 * r
    size = 1 << int(np.ceil(np.log2(2 * t)))
    fq = np.fft.rfft(q, size, axis=1)
    fu = np.fft.rfft(u, size, axis=1)
    cross = np.fft.irfft((np.conj(fq) * fu).sum(axis=2), size, axis=1)
    auto = np.fft.irfft((np.abs(fq) ** 2).sum(axis=2), size, axis=1)
    lags = np.arange(1, t)
    sa = np.empty((b, t))
    sm = np.empty((b, t))
    sa[:, 0] = cross[:, 0]
    sa[:, 1:] = cross[:, lags] + cross[:, size - lags]
    sa[:, 1] += nn - 1
    sm[:, 0] = nn - auto[:, 0]
    sm[:, 1:] = -(auto[:, lags] + auto[:, size - lags])
    beyond = rows[None, :] >= nn[:, None]
    sa[beyond] = 0.0
    sm[beyond] = 0.0
    return sa, sm


def _solve_rho(sa: np.ndarray, sm: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Roots of ``sa(r) / sm(r) = observed`` in the bounds (vectorised bracketed Newton)."""
    a = len(observed)
    t = sa.shape[1]
    k = np.arange(t, dtype=float)
    coef = np.zeros((sa.shape[0], 4, t))
    coef[:, 0], coef[:, 1] = sa, sm
    coef[:, 2, :-1] = sa[:, 1:] * k[1:]
    coef[:, 3, :-1] = sm[:, 1:] * k[1:]

    def evaluate(r: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        powers = np.ones((len(r), t))
        if t > 1:
            powers[:, 1:] = np.cumprod(np.broadcast_to(r[:, None], (len(r), t - 1)), axis=1)
        if coef.shape[0] == 1:
            v = powers @ coef[0].T
        else:
            v = np.einsum("at,act->ac", powers, coef[idx])
        f = v[:, 0] / v[:, 1] - observed[idx]
        d = (v[:, 2] * v[:, 1] - v[:, 0] * v[:, 3]) / v[:, 1] ** 2
        return f, d

    lo_b, hi_b = _RHO_BOUNDS
    everyone = np.arange(a)
    flo, _ = evaluate(np.full(a, lo_b), everyone)
    fhi, _ = evaluate(np.full(a, hi_b), everyone)
    rho = np.where(flo > 0, lo_b, np.where(fhi < 0, hi_b, np.nan))
    idx = np.flatnonzero(np.isnan(rho))
    lo = np.full(len(idx), lo_b)
    hi = np.full(len(idx), hi_b)
    # start from the secant of the bracket, then Newton steps kept inside the bracket
    r = lo - flo[idx] * (hi - lo) / (fhi[idx] - flo[idx])
    for _ in range(200):
        if idx.size == 0:
            break
        f, d = evaluate(r, idx)
        neg = f < 0
        lo = np.where(neg, r, lo)
        hi = np.where(neg, hi, r)
        step = f / d
        new = r - step
        outside = ~np.isfinite(new) | (new <= lo) | (new >= hi)
        new = np.where(outside, 0.5 * (lo + hi), new)
        done = (f == 0) | (np.abs(new - r) <= 4 * _EPS * np.maximum(1.0, np.abs(r))) | (hi - lo <= 4 * _EPS)
        rho[idx[done]] = np.where(f[done] == 0, r[done], new[done])
        keep = ~done
        idx, r, lo, hi = idx[keep], new[keep], lo[keep], hi[keep]
    if idx.size:
        rho[idx] = r
    return rho


def _hac(
    x: np.ndarray,
    qw: np.ndarray,
    rinv_w: np.ndarray,
    resid: np.ndarray,
    pearson: np.ndarray,
    valid: np.ndarray,
    n: np.ndarray,
    lags: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`evaluate.estimators.hac.prewhitened_hac` for every area.

    ``qw``/``rinv_w``: QR of the (working-weighted) design; ``resid``: response residuals;
    ``pearson``: working-scale residuals (``resid`` for OLS). Returns (cov, rho).
    """
    bread = np.matmul(rinv_w, rinv_w.transpose(0, 2, 1))
    h = (qw**2).sum(axis=2)
    sa, sm = _moment_coefficients(qw, n if qw.shape[0] > 1 else n[:1])
    num = (pearson[:, 1:] * pearson[:, :-1]).sum(axis=1)
    den = (pearson**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = _solve_rho(sa, sm, num / den)
    rho = np.where(n < 4, 0.0, rho)
    scaled = np.where(valid, resid / np.clip(1 - h, 1e-8, None), 0.0)
    scores = x * scaled[:, :, None]
    white = (scores[:, 1:] - rho[:, None, None] * scores[:, :-1]) * valid[:, 1:, None]
    s = np.matmul(white.transpose(0, 2, 1), white)
    for j in range(1, lags + 1):
        gj = np.matmul(white[:, j:].transpose(0, 2, 1), white[:, :-j])
        s += (1 - j / (lags + 1)) * (gj + gj.transpose(0, 2, 1))
    s = s * (n / (n - 1))[:, None, None] / ((1 - rho) ** 2)[:, None, None]
    cov = np.matmul(np.matmul(bread, s), bread)
    return (cov + cov.transpose(0, 2, 1)) / 2, rho


def _hac_description(rho: float, lags: int) -> str:
    return (
        f"prewhitened HAC (AR(1) prewhitening, rho={rho:.3f} by design-adjusted moments; "
        f"Bartlett kernel, {lags} lag(s) on whitened scores; HC3 leverage scaling)"
    )


def _fit(
    x: np.ndarray,
    y: np.ndarray,
    off: np.ndarray,
    valid: np.ndarray,
    n: np.ndarray,
    *,
    model: str,
    se: str,
    lags: int | None,
    detail: bool = True,
) -> _Fit:
    """Fit every area of a block: ``x`` (B, T, k) compressed designs, zero rows as padding.

    Without ``detail`` a count model leaves out the Pearson residuals and the dispersion (only
    the diagnostics read them): ``pearson`` is None and ``extra`` empty.
    """
    a = y.shape[0]
    k = x.shape[2]
    q, rinv = _qr(x, valid)
    df = (n - k).astype(float)
    if model == "ols":
        beta = _rg(rinv, _qt(q, y))
        resid = np.where(valid, y - _qg(x, beta), 0.0)
        bread = np.matmul(rinv, rinv.transpose(0, 2, 1))
        if se == "nonrobust":
            ssr = (resid**2).sum(axis=1)
            cov = bread * (ssr / df)[:, None, None]
            types = ["OLS (assumes independent, homoscedastic errors)"] * a
            extra: list[dict[str, Any]] = [{} for _ in range(a)]
        elif se == "newey_west":
            maxlags = np.array([newey_west_lags(int(m)) if lags is None else lags for m in n])
            xu = x * resid[:, :, None]
            s = np.matmul(xu.transpose(0, 2, 1), xu)
            for j in range(1, int(maxlags.max(initial=0)) + 1):
                gj = np.matmul(xu[:, j:].transpose(0, 2, 1), xu[:, :-j])
                wj = np.where(j <= maxlags, 1 - j / (maxlags + 1), 0.0)
                s += wj[:, None, None] * (gj + gj.transpose(0, 2, 1))
            cov = np.matmul(np.matmul(bread, s), bread)
            types = [f"Newey-West HAC (statsmodels, {m} lags, small-sample correction)" for m in maxlags]
            extra = [{"lags": int(m)} for m in maxlags]
        else:
            cov, rho = _hac(x, q, rinv, resid, resid, valid, n, lags or 0)
            types = [_hac_description(float(r), lags or 0) for r in rho]
            extra = [{"rho": float(r), "lags": lags or 0} for r in rho]
        return _Fit(beta, cov, df, resid, np.zeros(a, dtype=bool), types, extra, q)

    fit = _irls(x, q, rinv, y, off, valid, n, x2=(se == "pearson"))
    beta = fit["beta"]
    failed = fit["failed"] | ~np.isfinite(beta).all(axis=1)
    if not detail and se != "hac":  # the estimates need neither the residuals nor the dispersion
        cov = fit["cov"] * fit["scale"][:, None, None]
        return _Fit(beta, cov, None, None, failed, _glm_se_types(se, a), [{} for _ in range(a)], q)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mu = np.where(valid, np.exp(_qg(x, beta) + off), 1.0)
        pearson = np.where(valid, (y - mu) / np.sqrt(np.abs(mu)), 0.0)
    dispersion = (pearson**2).sum(axis=1) / df
    extra = [{"dispersion": float(d)} for d in dispersion]
    if se == "hac":
        sw = np.sqrt(mu) * valid
        qw, rinv_w = _qr(x * sw[:, :, None], valid)
        with np.errstate(divide="ignore", invalid="ignore"):
            working = np.where(valid, (y - mu) / np.where(valid, sw, 1.0), 0.0)
        cov, rho = _hac(x, qw, rinv_w, np.where(valid, y - mu, 0.0), working, valid, n, lags or 0)
        types = ["Poisson GLM with " + _hac_description(float(r), lags or 0) for r in rho]
        for e, r in zip(extra, rho, strict=True):
            e["rho"] = float(r)
    else:
        cov = fit["cov"] * fit["scale"][:, None, None]
        types = _glm_se_types(se, a)
    return _Fit(beta, cov, None, pearson, failed, types, extra, q, dispersion)


def _glm_se_types(se: str, a: int) -> list[str]:
    """The ``se_type`` of ``a`` areas' model-based (``se="model"``) or Pearson-scaled Poisson fits."""
    if se == "pearson":
        return ["quasi-Poisson: model-based SEs scaled by the Pearson dispersion (chi2/df)"] * a
    return ["Poisson model-based (assumes variance = mean)"] * a


# --------------------------------------------------------------------------------------------
# diagnostics


def _autocorrelation(
    resid: np.ndarray, q: np.ndarray, valid: np.ndarray, n: np.ndarray, lags: int, *, ols: bool
) -> list[dict[str, Any]]:
    """:func:`~evaluate.estimators.its_diagnostics.autocorrelation_tests` for every area."""
    a, t = resid.shape
    nf = n.astype(float)
    use = np.maximum(1, np.minimum(lags, n // 3))
    top = int(use.max())
    mean = resid.sum(axis=1) / nf
    d = np.where(valid, resid - mean[:, None], 0.0)
    acov0 = (d * d).sum(axis=1)
    acf = np.stack([(d[:, j:] * d[:, :-j]).sum(axis=1) / acov0 for j in range(1, top + 1)], axis=1)
    terms = acf**2 / (nf[:, None] - np.arange(1, top + 1))
    cum = np.cumsum(terms, axis=1)
    lb = nf * (nf + 2) * cum[np.arange(a), use - 1]
    lb_p = stats.chi2.sf(lb, use)
    # Breusch-Godfrey: residuals of the auxiliary OLS of the residuals on the design
    e = resid if ols else np.where(valid, resid - _qg(q, _qt(q, resid)), 0.0)
    lagged = np.zeros((a, t, top))
    for j in range(1, top + 1):
        lagged[:, j:, j - 1] = e[:, :-j]
    lagged *= valid[:, :, None]
    if q.shape[0] == 1:
        qe = np.einsum("tk,atl->akl", q[0], lagged)
    else:
        qe = np.matmul(q.transpose(0, 2, 1), lagged)
    qr_ = _qt(q, e)
    ee = np.matmul(lagged.transpose(0, 2, 1), lagged) - np.matmul(qe.transpose(0, 2, 1), qe)
    er = np.matmul(lagged.transpose(0, 2, 1), e[:, :, None])[:, :, 0] - np.matmul(qe.transpose(0, 2, 1), qr_[:, :, None])[:, :, 0]
    rr = (e * e).sum(axis=1) - (qr_ * qr_).sum(axis=1)
    emean = e.sum(axis=1) / nf
    tss = (np.where(valid, e - emean[:, None], 0.0) ** 2).sum(axis=1)
    bg = np.empty(a)
    for lag in np.unique(use):
        sel = np.flatnonzero(use == lag)
        m = ee[np.ix_(sel, np.arange(lag), np.arange(lag))]
        v = er[sel, :lag]
        explained = (v * np.linalg.solve(m, v[:, :, None])[:, :, 0]).sum(axis=1)
        bg[sel] = nf[sel] * (1 - (rr[sel] - explained) / tss[sel])
    bg_p = stats.chi2.sf(bg, use)
    diff = np.where(valid[:, 1:], resid[:, 1:] - resid[:, :-1], 0.0)
    dw = (diff**2).sum(axis=1) / (resid**2).sum(axis=1)
    # lag-one correlation of (r[1:], r[:-1])
    later, earlier = resid[:, 1:], resid[:, :-1]
    inside = valid[:, 1:]
    m1 = (later * inside).sum(axis=1) / (nf - 1)
    m0 = (earlier * inside).sum(axis=1) / (nf - 1)
    dl = np.where(inside, later - m1[:, None], 0.0)
    de = np.where(inside, earlier - m0[:, None], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lag1 = np.clip((dl * de).sum(axis=1) / np.sqrt((dl * dl).sum(axis=1) * (de * de).sum(axis=1)), -1, 1)
    on = "OLS residuals" if ols else "auxiliary OLS of Pearson residuals"
    return [
        {
            "lags": int(use[i]),
            "ljung_box": {"statistic": float(lb[i]), "p_value": float(lb_p[i])},
            "breusch_godfrey": {"statistic": float(bg[i]), "p_value": float(bg_p[i]), "on": on},
            "durbin_watson": float(dw[i]),
            "lag1_autocorrelation": float(lag1[i]) if n[i] > 2 else float("nan"),
        }
        for i in range(a)
    ]


# --------------------------------------------------------------------------------------------
# the stack of series and the per-area structure


@dataclass
class _Stack:
    areas: list[str]
    grid: pd.PeriodIndex
    present: np.ndarray  # (A, T) row exists in the area's series
    y: np.ndarray  # (A, T)
    suppressed: np.ndarray  # (A, T)
    population: np.ndarray | None  # (A, T)
    starts: list[list[Any]]


@dataclass
class _Area:
    origin: int  # grid ordinal of the first row
    intr: list[Interruption]
    keep: np.ndarray  # (T,) grid rows used
    dropped: dict[str, int]
    n_input: int


@dataclass
class _Areas:
    """The areas of a run as columns: row ``r`` is the area at stack position ``pos[r]``."""

    pos: np.ndarray  # (A,) stack positions
    origin: np.ndarray  # (A,) grid ordinal of the first row
    times: np.ndarray  # (A, n_k) interruption times, in time order
    labels: np.ndarray  # (A, n_k) their labels (str objects)
    keep: np.ndarray  # (A, T) grid rows used
    dropped: list[tuple[str, np.ndarray]]  # (reason, rows dropped per area)
    n_input: np.ndarray  # (A,)
    slope_change: bool

    def records(self) -> dict[int, _Area]:
        """One :class:`_Area` per area, by stack position (areas with the same interruptions share them)."""
        intr: dict[tuple[Any, ...], list[Interruption]] = {}
        out = {}
        for r, i in enumerate(self.pos.tolist()):
            key = (*self.times[r].tolist(), *self.labels[r].tolist())
            if key not in intr:
                intr[key] = [Interruption(float(t), str(lb), slope_change=self.slope_change)
                             for t, lb in zip(self.times[r], self.labels[r], strict=True)]
            dropped = {why: int(c[r]) for why, c in self.dropped if c[r]}
            out[i] = _Area(int(self.origin[r]), intr[key], self.keep[r], dropped, int(self.n_input[r]))
        return out


@dataclass
class _Block:
    idx: np.ndarray  # areas (positions in the stack)
    rows: np.ndarray  # the same areas as rows of the run's _Areas
    x: np.ndarray  # (B, T, k)
    cols: np.ndarray  # (A_b, T) grid column of each compressed row (0 on padding)
    valid: np.ndarray  # (A_b, T)
    n: np.ndarray  # (A_b,)
    times: np.ndarray  # (A_b, T)


@dataclass
class _Spec:
    outcome: str
    model: str
    se: str
    lags: int | None
    slope_change: bool
    seasonality: str
    season: pd.DataFrame | None  # on the grid
    length: float | None
    frequency: str | None
    rate_per: float | None
    horizons: list[int]
    placebo: bool
    ci_level: float
    n_sim: int
    seed: int
    series: bool

    @property
    def counts(self) -> bool:
        return self.model != "ols"


def _factorize_areas(values: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(values)``: the area code of each row and the codes in order of appearance.

    A long panel lists each area's rows together, so string codes are hashed once per run of
    equal values instead of once per row; the codes and uniques are the same.
    """
    heads = run_starts(values) if isinstance(values.dtype, pd.StringDtype) else None
    if heads is not None:
        codes, uniques = pd.factorize(values.array.take(heads))
        runs = np.diff(np.append(heads, len(values)))
        return np.repeat(codes.astype(np.int32), runs), np.asarray(uniques, dtype=object)
    return pd.factorize(values)


def _stack_from_long(
    data: pd.DataFrame, *, outcome: str, area: str, period: str, population: str | None,
    areas: Sequence[Any] | None, start: Any,
) -> _Stack:
    need = [area, period, outcome] + ([population] if population else [])
    for col in need:
        if col not in data.columns:
            raise AnalysisError(
                f"its_batch: column '{col}' is not in the data{suggest(col, data.columns)}; "
                f"the data need one row per area and period with columns {need}"
            )
    if not isinstance(data[period].dtype, pd.PeriodDtype):
        raise AnalysisError(
            f"its_batch: column '{period}' holds {data[period].dtype} values, not periods; convert it "
            f"with pd.PeriodIndex(data['{period}'], freq='M') (or the data's frequency)"
        )
    row_codes, uniques = _factorize_areas(data[area])
    coded = bool((row_codes >= 0).all())
    if areas is not None:
        order = list(areas)
    elif coded and isinstance(data[area].dtype, pd.StringDtype):
        order = list(uniques)  # the codes in order of first appearance
    else:  # (with a missing code in its place, refused below)
        order = list(pd.unique(data[area]))
    index = pd.Index(order)
    if not index.is_unique:
        raise AnalysisError("its_batch: areas lists an area more than once; give each area once")
    rows = data
    if areas is None and coded:  # every row's area, listed in order: the codes are the positions
        codes = row_codes
        missing: list[Any] = []
    else:
        codes = np.where(row_codes >= 0, index.get_indexer(uniques)[row_codes], -1)
        chosen = codes >= 0
        if not chosen.all():
            rows = data.loc[chosen]
            codes = codes[chosen]
        seen = np.zeros(len(order), dtype=bool)
        seen[codes] = True
        missing = [a for a, ok in zip(order, seen, strict=True) if not ok]
    if missing:
        raise AnalysisError(
            f"its_batch: {len(missing)} area(s) have no rows in the data ({', '.join(map(str, missing[:5]))}); "
            "drop them from areas"
        )
    pidx = pd.PeriodIndex(rows[period])
    if pidx.isna().any():
        raise AnalysisError(f"its_batch: column '{period}' has missing periods; every row needs its period")
    ords = pidx.asi8
    low = int(ords.min())
    rel = ords - low
    seen_period = np.bincount(rel) > 0
    grid_ords = np.flatnonzero(seen_period) + low
    cols = (np.cumsum(seen_period) - 1).astype(np.int32)[rel]
    del rel
    grid = pd.PeriodIndex.from_ordinals(grid_ords, freq=pidx.freq)
    a_n, t_n = len(order), len(grid)
    flat = np.multiply(codes, t_n, dtype=np.int64)  # each row's cell of the area x period grid
    flat += cols
    del cols
    # rows already in area and period order, one per cell: the values fill the grid as they are
    in_order = len(flat) == a_n * t_n and bool((flat[1:] > flat[:-1]).all())
    if in_order:
        present = np.ones((a_n, t_n), dtype=bool)
    else:
        counts = np.bincount(flat, minlength=a_n * t_n)
        if (counts > 1).any():
            dup = int(np.flatnonzero(counts > 1)[0])
            raise AnalysisError(
                f"its_batch: area '{order[dup // t_n]}' has more than one row for period {grid[dup % t_n]}; "
                "give one row per area and period (sum or deduplicate first)"
            )
        present = (counts > 0).reshape(a_n, t_n)

    def fill(values: np.ndarray, empty: float | bool) -> np.ndarray:
        if in_order:  # (a copy of the data's values: see copy=True below)
            return values.reshape(a_n, t_n)
        out = np.full(a_n * t_n, empty, dtype=float if isinstance(empty, float) else bool)
        out[flat] = values
        return out.reshape(a_n, t_n)

    y = fill(pd.to_numeric(rows[outcome], errors="coerce").to_numpy(dtype=float, copy=True), np.nan)
    sup_col = f"{outcome}__suppressed"
    sup = (
        fill(rows[sup_col].fillna(False).to_numpy(dtype=bool, copy=True), False) if sup_col in rows
        else np.zeros((a_n, t_n), bool)
    )
    pop = (
        fill(pd.to_numeric(rows[population], errors="coerce").to_numpy(dtype=float, copy=True), np.nan)
        if population else None
    )
    if isinstance(start, Mapping | pd.Series):
        lookup = dict(start.items())
        lacking = [a for a in order if a not in lookup]
        if lacking:
            raise AnalysisError(
                f"its_batch: start has no date for {len(lacking)} area(s) ({', '.join(map(str, lacking[:5]))}); "
                "give every area a start, or leave those areas out of areas"
            )
        per_area = [lookup[a] for a in order]
    else:
        per_area = [start] * a_n
    starts = [list(s) if isinstance(s, list | tuple) else [s] for s in per_area]
    if len({len(s) for s in starts}) > 1:
        raise AnalysisError(
            "its_batch: areas have different numbers of interruptions; give every area the same "
            "number of start dates (or run the areas with different designs separately)"
        )
    return _Stack([str(a) for a in order], grid, present, y, sup, pop, starts)


def _start_target(stack: _Stack, value: Any, area: str) -> tuple[str, float, str]:
    """``("time", t, label)`` for a time value, ``("period", ordinal, label)`` for a period."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return "time", float(value), f"time {value:g}"
    try:
        target = value if isinstance(value, pd.Period) else pd.Period(str(value), freq=stack.grid.freq)
    except (ValueError, TypeError) as exc:
        raise AnalysisError(
            f"its_batch: area '{area}': start {value!r} is not a period of the data "
            f"({stack.grid.freqstr}); give it as e.g. '{stack.grid[0]}'"
        ) from exc
    if target.freq != stack.grid.freq:
        raise AnalysisError(
            f"its_batch: area '{area}': start {value} is at frequency {target.freqstr}, the data at "
            f"{stack.grid.freqstr}; give the start at the data's frequency"
        )
    return "period", float(target.ordinal), str(value)


def _prepare_areas(stack: _Stack, spec: _Spec, positions: Sequence[int]) -> _Areas | None:
    """Each area's first period, interruptions (placed as ``its`` places them) and rows used."""
    pos = np.asarray(positions, dtype=np.intp)
    if not pos.size:
        return None
    ords = stack.grid.asi8
    every = len(pos) == len(stack.areas) and bool((pos == np.arange(len(pos))).all())

    def of_areas(values: np.ndarray) -> np.ndarray:  # the areas' rows of a stack array (read only)
        return values if every else values[pos]

    present = of_areas(stack.present)
    origin = ords[np.argmax(present, axis=1)]
    n_k = len(stack.starts[int(pos[0])])
    times = np.empty((len(pos), n_k))
    labels = np.empty((len(pos), n_k), dtype=object)
    pos_list = pos.tolist()
    for kk in range(n_k):
        by_value: dict[Any, list[int]] = defaultdict(list)
        for r, i in enumerate(pos_list):
            v = stack.starts[i][kk]
            by_value[(type(v).__name__, str(v))].append(r)
        for members in by_value.values():
            rows = np.asarray(members)
            kind, value, label = _start_target(stack, stack.starts[int(pos[rows[0]])][kk], stack.areas[int(pos[rows[0]])])
            labels[rows, kk] = label
            if kind == "time":
                times[rows, kk] = value
                continue
            later = present[rows] & (ords >= value)[None, :]
            found = later.any(axis=1)
            if not found.all():
                bad = stack.areas[int(pos[rows[np.argmin(found)]])]
                raise AnalysisError(
                    f"its_batch: area '{bad}': start {label} is after the last period of the series; "
                    "drop the area or correct its start"
                )
            times[rows, kk] = ords[np.argmax(later, axis=1)] - origin[rows] + 1
    order = np.argsort(times, axis=1, kind="stable")
    times = np.take_along_axis(times, order, axis=1)
    labels = np.take_along_axis(labels, order, axis=1)

    y = of_areas(stack.y)
    nan = np.isnan(y)
    sup = of_areas(stack.suppressed)
    keep = present.copy()
    reasons: list[tuple[str, np.ndarray]] = []
    masks = [(nan & sup, "outcome suppressed"), (nan & ~sup, "outcome missing")]
    if spec.counts and stack.population is not None:
        masks.append((~(of_areas(stack.population) > 0), "population missing"))
    for mask, why in masks:
        reasons.append((why, (mask & keep).sum(axis=1)))
        keep &= ~mask
    if spec.counts:
        negative = (keep & (y < 0)).any(axis=1)
        if negative.any():
            bad = stack.areas[int(pos[np.argmax(negative)])]
            raise AnalysisError(
                f"its_batch: area '{bad}': '{spec.outcome}' has negative values; count models need counts "
                "(correct the data, or use model='ols' for a rate)"
            )
    return _Areas(pos, origin, times, labels, keep, reasons, present.sum(axis=1), spec.slope_change)


def _design(stack: _Stack, spec: _Spec, origin: int, intr: list[Interruption]) -> tuple[list[str], np.ndarray]:
    """``its_design`` on the grid: the column names and the matrix.

    The seasonal columns, the same for every area, are appended as ``its_design`` appends them.
    """
    times = (stack.grid.asi8 - origin + 1).astype(float)
    base = its_design(times, intr)
    if spec.season is None or spec.season.empty:
        return list(base.columns), base.to_numpy(dtype=float)
    return ([*base.columns, *spec.season.columns],
            np.column_stack([base.to_numpy(dtype=float), spec.season.to_numpy(dtype=float)]))


def _effect_columns(names: list[str], n_intr: int, slope: bool) -> list[str]:
    terms = [term_names(k, n_intr) for k in range(1, n_intr + 1)]
    return [s for s, _ in terms] + ([d for _, d in terms] if slope else [])


def _groups(codes: np.ndarray) -> list[np.ndarray]:
    """The rows of ``codes`` (2-D, integers) that are equal, as row numbers: groups in order of first
    appearance, rows in order."""
    order = np.lexsort(codes.T[::-1])  # rows in lexicographic order, equal rows in row order
    ranked = codes[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    group = np.empty(len(order), dtype=np.intp)
    group[order] = np.cumsum(starts) - 1
    first = order[starts]  # each group's first row
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first)] = np.arange(len(first))
    group = rank[group]
    by_group = np.argsort(group, kind="stable")
    return np.split(by_group, np.flatnonzero(np.diff(group[by_group])) + 1)


def _blocks(stack: _Stack, areas: _Areas, designs: list[np.ndarray], key: np.ndarray) -> list[_Block]:
    """Areas with the same design (``designs[key[r]]``) and rows share a block; the others form one stacked block."""
    ords = stack.grid.asi8
    bits = np.packbits(areas.keep, axis=1)
    bits = np.pad(bits, ((0, 0), (0, -bits.shape[1] % 8))).view(np.uint64)  # the rows used, 64 per word
    groups = _groups(np.column_stack([key.astype(np.uint64), bits]))
    shared = [g for g in groups if len(g) > 1]
    single = np.array([g[0] for g in groups if len(g) == 1], dtype=np.intp)
    blocks = []
    for rows in shared:
        r0 = rows[0]
        cols = np.flatnonzero(areas.keep[r0])
        x = designs[key[r0]][cols][None]
        a = len(rows)
        times = np.broadcast_to((ords[cols] - areas.origin[r0] + 1).astype(float), (a, len(cols)))
        blocks.append(_Block(areas.pos[rows], rows, x, np.broadcast_to(cols, (a, len(cols))),
                             np.ones((a, len(cols)), bool), np.full(a, len(cols)), times))
    if single.size:
        n = areas.keep[single].sum(axis=1)
        t = int(n.max())
        k = designs[0].shape[1]
        x = np.zeros((len(single), t, k))
        cols = np.zeros((len(single), t), dtype=np.intp)
        times = np.zeros((len(single), t))
        for j, r in enumerate(single.tolist()):
            c = np.flatnonzero(areas.keep[r])
            x[j, : len(c)] = designs[key[r]][c]
            cols[j, : len(c)] = c
            times[j, : len(c)] = ords[c] - areas.origin[r] + 1
        valid = np.arange(t)[None, :] < n[:, None]
        blocks.append(_Block(areas.pos[single], single, x, cols, valid, n, times))
    return blocks


def _gather(values: np.ndarray, block: _Block) -> np.ndarray:
    """``values`` (stack positions x grid) at the block's areas and rows, zero on padding."""
    if block.x.shape[0] == 1:  # one design: the same grid columns for every area, no padding
        rows = values[block.idx]
        return rows if block.cols.shape[1] == values.shape[1] else rows[:, block.cols[0]]
    out = np.take_along_axis(values[block.idx], block.cols, axis=1)
    return np.where(block.valid, out, 0.0)


# --------------------------------------------------------------------------------------------
# estimands of one block, as columns (one value per area)

_PER = 100_000.0  # its_effects.effect_rows(per=...)


@dataclass
class _Col:
    """One estimand for every area of a block (``valid``: the area reports it)."""

    estimand: str
    est: np.ndarray
    se: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p: np.ndarray
    n: np.ndarray
    note: np.ndarray
    valid: np.ndarray


def _notes(template: str, labels: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``template`` filled with each area's label, given as ``pd.factorize`` codes and uniques."""
    codes, uniques = labels
    return np.array([template.format(label=lb) for lb in uniques], dtype=object)[codes]


@functools.lru_cache(maxsize=8)
def _z_crit(level: float) -> float:
    """The normal critical value of a two-sided interval at ``level``."""
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def _crit(level: float, df: np.ndarray | None, a: int) -> np.ndarray:
    if df is None:
        return np.full(a, _z_crit(level))
    return np.asarray(stats.t.ppf(1 - (1 - level) / 2, df), dtype=float)


def _linear(w: np.ndarray, fit: _Fit, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``its_effects._linear`` per area: the linear combination ``w`` (A, k) of the coefficients."""
    est = (w * fit.params).sum(axis=1)
    var = np.einsum("aj,aj->a", np.einsum("ai,aij->aj", w, fit.cov), w)
    se = np.sqrt(np.maximum(var, 0.0))
    c = _crit(level, fit.df, len(est))
    p = np.full(len(est), np.nan)
    ok = se > 0
    z = np.abs(est[ok] / se[ok])
    p[ok] = 2 * (stats.t.sf(z, fit.df[ok]) if fit.df is not None else special.ndtr(-z))  # ndtr(-z): norm.sf(z)
    return est, se, est - c * se, est + c * se, p


def _factors(cov: np.ndarray) -> np.ndarray:
    """numpy ``multivariate_normal``'s factor per area: Cholesky, else eigen (with its warning)."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        pass
    out = np.empty_like(cov)
    for i, c in enumerate(cov):
        try:
            out[i] = np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            s, u = np.linalg.eigh(c)
            if np.any(s < -1e-8):
                warnings.warn("covariance is not symmetric positive-semidefinite.", RuntimeWarning, stacklevel=3)
            out[i] = u * np.sqrt(np.abs(s))
    return out


def _rows_at(x: np.ndarray, areas: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Row ``pos[j]`` of area ``areas[j]``'s design (``x`` shared or per area)."""
    return x[0][pos] if x.shape[0] == 1 else x[areas, pos]


def _block_effects(
    block: _Block,
    fit: _Fit,
    names: list[str],
    effect_cols: list[str],
    labels: np.ndarray,
    first: np.ndarray,
    off: np.ndarray,
    pop: np.ndarray | None,
    spec: _Spec,
) -> tuple[list[_Col], dict[str, np.ndarray]]:
    """The estimands of :func:`~evaluate.estimators.its_effects.effect_rows` for a block.

    Returns the estimand columns in the per-area order and the arrays of the counterfactual
    series (``fitted``, ``counterfactual``, its interval and ``post``; empty unless asked for).
    """
    a = len(block.idx)
    k = len(names)
    level = spec.ci_level
    log = spec.counts
    inv = np.exp if log else (lambda v: v)
    n_intr = labels.shape[1]
    all_areas = np.ones(a, dtype=bool)
    cols: list[_Col] = []
    for kk in range(1, n_intr + 1):
        suffix = "" if kk == 1 else f"_{kk}"
        step, since = term_names(kk, n_intr)
        lab = pd.factorize(labels[:, kk - 1])
        w = np.zeros((a, k))
        w[:, names.index(step)] = 1.0
        est, se, lo, hi, p = _linear(w, fit, level)
        scale = "log rate ratio" if log else "outcome units"
        cols.append(_Col(f"level_change{suffix}", est, se, lo, hi, p, block.n,
                         _notes(f"step at {{label}} ({scale})", lab), all_areas))
        if log:
            cols.append(_Col(f"rate_ratio{suffix}", np.exp(est), np.exp(est) * se, np.exp(lo), np.exp(hi), p, block.n,
                             _notes("exp(level change) at {label}; SE by the delta method", lab), all_areas))
        if spec.slope_change:
            w = np.zeros((a, k))
            w[:, names.index(since)] = 1.0
            est, se, lo, hi, p = _linear(w, fit, level)
            cols.append(_Col(f"slope_change{suffix}", est, se, lo, hi, p, block.n,
                             _notes(f"change in slope per period from {{label}} ({'log scale' if log else 'outcome units'})", lab),
                             all_areas))
            if log:
                cols.append(_Col(
                    f"slope_rate_ratio{suffix}", np.exp(est), np.exp(est) * se, np.exp(lo), np.exp(hi), p, block.n,
                    _notes("exp(slope change): multiplicative change in the trend per period from {label}", lab),
                    all_areas,
                ))

    x = block.x
    x0 = x.copy()
    for c in effect_cols:
        x0[:, :, names.index(c)] = 0.0
    post = block.valid & (block.times >= first[:, None])
    n_post = post.sum(axis=1)
    has_post = n_post > 0
    # expected outcomes with and without the intervention (only the simulated estimands and the
    # series use them: none with n_sim = 0 and no series)
    expected = bool(spec.n_sim) or spec.series
    shape = (a, x.shape[1]) if expected else (0, 0)
    mu1_hat, mu0_hat = np.empty(shape), np.empty(shape)
    if expected:
        eta0_hat = _qg(x0, fit.params) + off
        eta1_hat = _qg(x, fit.params) + off
        with np.errstate(over="ignore"):
            mu1_hat, mu0_hat = inv(eta1_hat), inv(eta0_hat)
    diff_hat = np.where(post, mu0_hat - mu1_hat, 0.0) if expected else mu1_hat

    # horizons: the row h periods into the intervention (slope model) or the h-th post row
    since0 = term_names(1, n_intr)[1] if spec.slope_change else None
    h_pos: list[tuple[int, np.ndarray]] = []
    for h in spec.horizons:
        if since0 is not None:
            hit = post & np.isclose(x[:, :, names.index(since0)], h)
        else:
            hit = post & (np.cumsum(post, axis=1) == h)
        pos = np.where(hit.any(axis=1) & (h >= 1) & (h <= n_post), np.argmax(hit, axis=1), -1)
        h_pos.append((h, pos))

    # the seeded simulation: every area's draws are params + z @ L.T with the same z
    n_sim = spec.n_sim
    series = spec.series
    n_cf = min(n_sim, 1000)
    t_all = x.shape[1]
    sims = {name: np.zeros((a, n_sim)) for name in ("s1", "s0", "diff", "wdiff", "ws1", "ws0")}
    h_sims = {j: np.full((a, n_sim), np.nan) for j in range(len(h_pos))}
    cf_lo = np.full((a, t_all) if series else (0, 0), np.nan)  # the counterfactual interval (series only)
    cf_hi = np.full((a, t_all) if series else (0, 0), np.nan)
    simulate = n_sim > 0 and has_post.any()
    if simulate or (series and n_cf > 0):
        z = np.random.default_rng(spec.seed).standard_normal((n_sim, k))
        factor = _factors(fit.cov)
        first_post = int(np.argmax(post.any(axis=0))) if post.any() else t_all
        sl = slice(first_post, t_all)
        x1p, x0p = x[:, sl], x0[:, sl]
        postp, offp = post[:, sl], off[:, sl]
        wts = np.where(postp, pop[:, sl] / spec.rate_per, 0.0) if spec.rate_per is not None and pop is not None else None
        per_area = n_sim * (x1p.shape[1] * (2 if log else 0)) + (n_cf * t_all if series else 0)
        chunk = max(1, _CHUNK // max(1, per_area))
        if simulate and log:
            # the offset rides along as a last design column (-inf outside the post-period: exp -> 0)
            off_post = np.where(postp, offp, -np.inf)
            buf = np.empty((min(chunk, a), n_sim, x1p.shape[1]))
        if series and n_cf > 0:
            buf_cf = np.empty((min(chunk, a), t_all, n_cf))
        for start in range(0, a, chunk):
            idx = np.arange(start, min(a, start + chunk))
            draws = fit.params[idx][:, None, :] + np.matmul(z[None], factor[idx].transpose(0, 2, 1))
            if simulate and log:
                aug = np.concatenate([draws, np.ones((len(idx), n_sim, 1))], axis=2)
                out = buf[: len(idx)]
                with np.errstate(over="ignore", invalid="ignore"):
                    for name, xp in (("s1", x1p), ("s0", x0p)):
                        xa = np.concatenate([np.broadcast_to(_sub(xp, idx), (len(idx), *xp.shape[1:])),
                                             off_post[idx][:, :, None]], axis=2)
                        np.matmul(aug, xa.transpose(0, 2, 1), out=out)
                        np.exp(out, out=out)
                        sims[name][idx] = out.sum(axis=2)
                        if wts is not None:
                            sims["w" + name][idx] = np.matmul(out, wts[idx][:, :, None])[:, :, 0]
                    sims["diff"][idx] = sims["s0"][idx] - sims["s1"][idx]
                    if wts is not None:
                        sims["wdiff"][idx] = sims["ws0"][idx] - sims["ws1"][idx]
            elif simulate:
                pw = postp[idx].astype(float)
                sx1 = pw @ x1p[0] if x1p.shape[0] == 1 else np.matmul(pw[:, None, :], x1p[idx])[:, 0]
                sx0 = pw @ x0p[0] if x0p.shape[0] == 1 else np.matmul(pw[:, None, :], x0p[idx])[:, 0]
                sims["s1"][idx] = np.matmul(draws, sx1[:, :, None])[:, :, 0]
                sims["s0"][idx] = np.matmul(draws, sx0[:, :, None])[:, :, 0]
                sims["diff"][idx] = sims["s0"][idx] - sims["s1"][idx]
                if wts is not None:
                    dx = x0p - x1p
                    wx = wts[idx] @ dx[0] if dx.shape[0] == 1 else np.matmul(wts[idx][:, None, :], dx[idx])[:, 0]
                    sims["wdiff"][idx] = np.matmul(draws, wx[:, :, None])[:, :, 0]
                for j, (_, pos) in enumerate(h_pos):
                    got = pos[idx] >= 0
                    if got.any():
                        rows = idx[got]
                        xi = _rows_at(x, rows, pos[rows])
                        x0i = _rows_at(x0, rows, pos[rows])
                        a1 = np.matmul(draws[got], xi[:, :, None])[:, :, 0]
                        a0 = np.matmul(draws[got], x0i[:, :, None])[:, :, 0]
                        with np.errstate(divide="ignore", invalid="ignore"):
                            h_sims[j][rows] = (a1 - a0) / a0
            if series and n_cf > 0:
                xa = np.concatenate([np.broadcast_to(_sub(x0, idx), (len(idx), *x0.shape[1:])),
                                     off[idx][:, :, None]], axis=2)
                aug = np.concatenate([draws[:, :n_cf], np.ones((len(idx), n_cf, 1))], axis=2)
                eta0 = buf_cf[: len(idx)]
                np.matmul(xa, aug.transpose(0, 2, 1), out=eta0)
                with np.errstate(over="ignore"):
                    cf_lo[idx], cf_hi[idx] = _row_percentiles(eta0, level, transform=np.exp if log else None,
                                                              overwrite=True)

    def simulated(name: str, point: np.ndarray, draws_: np.ndarray, note: Any, n: np.ndarray, valid: np.ndarray) -> None:
        se, lo, hi, p = _simulated_columns(point, draws_, level=level)
        cols.append(_Col(name, point, se, lo, hi, p, n, np.broadcast_to(np.asarray(note, dtype=object), (a,)), valid))

    if n_sim:  # n_sim = 0 (its_by_area): leave out the estimands that need the simulation
        s1h = np.where(post, mu1_hat, 0.0).sum(axis=1)
        s0h = np.where(post, mu0_hat, 0.0).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            simulated("relative_change", (s1h - s0h) / s0h, (sims["s1"] - sims["s0"]) / sims["s0"],
                      "expected post-period total with the intervention over the counterfactual total, minus 1",
                      n_post, has_post)
    ones = np.ones(a, dtype=int)
    for j, (h, pos) in enumerate(h_pos):
        got = has_post & (pos >= 0)
        rows = np.flatnonzero(got)
        if log:
            w = np.zeros((a, k))
            if rows.size:
                w[rows] = _rows_at(x, rows, pos[rows]) - _rows_at(x0, rows, pos[rows])
            est, se, lo, hi, p = _linear(w, fit, level)
            cols.append(_Col(
                f"relative_change_h{h}", np.exp(est) - 1, np.exp(est) * se, np.exp(lo) - 1, np.exp(hi) - 1, p, ones,
                np.broadcast_to(np.asarray(f"relative change {h} period(s) into the intervention (exact on the log scale)",
                                           dtype=object), (a,)),
                got,
            ))
        elif n_sim:
            point = np.zeros(a)
            if rows.size:
                xi, x0i = _rows_at(x, rows, pos[rows]), _rows_at(x0, rows, pos[rows])
                with np.errstate(divide="ignore", invalid="ignore"):
                    point[rows] = ((xi - x0i) * fit.params[rows]).sum(axis=1) / (x0i * fit.params[rows]).sum(axis=1)
            simulated(f"relative_change_h{h}", point, np.where(got[:, None], h_sims[j], 0.0),
                      f"relative change {h} period(s) into the intervention", ones, got)
    note = ("counterfactual minus expected with the intervention, summed over the post-period "
            "(positive: fewer events than without the intervention)")
    if not n_sim:
        pass
    elif spec.rate_per is None:
        total = diff_hat.sum(axis=1)
        simulated("cumulative_averted", total, sims["diff"], note, n_post, has_post)
        if pop is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-missing population: NaN as per area
                f = _PER / np.nanmean(np.where(post, pop, np.nan), axis=1)
            simulated("cumulative_averted_per_100k", total * f, sims["diff"] * f[:, None],
                      f"cumulative_averted per {_PER:,.0f} residents (mean post-period population)", n_post, has_post)
    else:
        if pop is not None:
            w = np.where(post, pop / spec.rate_per, 0.0)
            simulated("cumulative_averted", (diff_hat * w).sum(axis=1), sims["wdiff"],
                      f"{note}; events, from the rate and each period's population", n_post, has_post)
        f = _PER / spec.rate_per
        simulated("cumulative_averted_per_100k", diff_hat.sum(axis=1) * f, sims["diff"] * f,
                  f"{note}; the outcome is a rate, so this is per {_PER:,.0f} residents", n_post, has_post)
    return cols, _series_arrays(series, mu1_hat, mu0_hat, cf_lo, cf_hi, post)


def _series_arrays(
    series: bool, fitted: np.ndarray, cf: np.ndarray, lo: np.ndarray, hi: np.ndarray, post: np.ndarray
) -> dict[str, np.ndarray]:
    if not series:
        return {}
    return {"fitted": fitted, "counterfactual": cf, "counterfactual_lower": lo, "counterfactual_upper": hi, "post": post}


# --------------------------------------------------------------------------------------------
# placebo interruption dates


def _placebo_candidates(pre: np.ndarray, min_segment: int, max_placebos: int = 60) -> np.ndarray:
    """The dates ``placebo_distribution`` tries (same rule, same order)."""
    if len(pre) < 2 * min_segment:
        return np.empty(0)
    cand = pre[min_segment : len(pre) - min_segment + 1]
    if len(cand) > max_placebos:
        cand = cand[np.linspace(0, len(cand) - 1, max_placebos).round().astype(int)]
    return cand


def _placebo_design(times: np.ndarray, c: float, slope: bool, season: np.ndarray | None) -> np.ndarray:
    """``its_design(times, [Interruption(c)], season=...)`` for stacked rows (A, T)."""
    step = (times >= c).astype(float)
    parts = [np.ones_like(times), times, step]
    if slope:
        parts.append((times - c + 1) * step)
    x = np.stack(parts, axis=-1)
    return np.concatenate([x, season], axis=-1) if season is not None and season.shape[-1] else x


def _placebo_fits(
    stack: _Stack, spec: _Spec, areas: dict[int, _Area], first: dict[int, float], slope: bool,
) -> dict[int, dict[float, tuple[float, float] | None]]:
    """Level change and t statistic at every placebo date of every area, fitted in batches."""
    ords = stack.grid.asi8
    min_seg = min_segment_for(spec.frequency)
    season = spec.season.to_numpy(dtype=float) if spec.season is not None else None
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    pre_cols: dict[int, np.ndarray] = {}
    for i, ar in areas.items():
        t = (ords - ar.origin + 1).astype(float)
        pc = np.flatnonzero(ar.keep & (t < first[i]))
        pre_cols[i] = pc
        groups[(ar.origin, pc.tobytes())].append(i)
    out: dict[int, dict[float, tuple[float, float] | None]] = {i: {} for i in areas}
    shared = [v for v in groups.values() if len(v) > 1]
    single = [v[0] for v in groups.values() if len(v) == 1]
    counts = spec.counts

    def values(i: int, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = stack.y[i, cols]
        off = np.log(stack.population[i, cols]) if counts and stack.population is not None else np.zeros(len(cols))
        return y, off

    def record(members: Sequence[int], fit: _Fit | None, j: int, c: float) -> None:
        for r, i in enumerate(members):
            if fit is None or fit.failed[r]:
                out[i][c] = None
                continue
            b, v = float(fit.params[r, j]), float(fit.cov[r, j, j])
            out[i][c] = (b, b / np.sqrt(v)) if v > 0 else None

    for members in shared:
        i0 = members[0]
        pc = pre_cols[i0]
        t = (ords[pc] - areas[i0].origin + 1).astype(float)
        cands = _placebo_candidates(t, min_seg)
        if not len(cands):
            continue
        yv = np.stack([values(i, pc)[0] for i in members])
        ov = np.stack([values(i, pc)[1] for i in members])
        valid = np.ones_like(yv, dtype=bool)
        n = np.full(len(members), len(pc))
        s = season[pc][None] if season is not None else None
        for c in cands:
            x = _placebo_design(t[None], float(c), slope, s)
            kx = x.shape[2]
            if np.linalg.matrix_rank(x[0]) < kx or len(pc) <= kx + 1:
                record(members, None, 2, float(c))
                continue
            with np.errstate(all="ignore"):
                fit = _fit(x, yv, ov, valid, n, model=spec.model, se=spec.se, lags=spec.lags, detail=False)
            record(members, fit, 2, float(c))
    if single:
        cand_of = {}
        for i in single:
            t = (ords[pre_cols[i]] - areas[i].origin + 1).astype(float)
            cand_of[i] = {float(c) for c in _placebo_candidates(t, min_seg)}
        for c in sorted(set().union(*cand_of.values())):
            members = [i for i in single if c in cand_of[i]]
            n = np.array([len(pre_cols[i]) for i in members])
            tm = int(n.max())
            times = np.zeros((len(members), tm))
            yv = np.zeros((len(members), tm))
            ov = np.zeros((len(members), tm))
            srows = np.zeros((len(members), tm, season.shape[1])) if season is not None else None
            for r, i in enumerate(members):
                pc = pre_cols[i]
                times[r, : len(pc)] = ords[pc] - areas[i].origin + 1
                yv[r, : len(pc)], ov[r, : len(pc)] = values(i, pc)
                if srows is not None and season is not None:
                    srows[r, : len(pc)] = season[pc]
            valid = np.arange(tm)[None, :] < n[:, None]
            x = _placebo_design(times, c, slope, srows) * valid[:, :, None]
            kx = x.shape[2]
            sv = np.linalg.svd(x, compute_uv=False)
            rank = (sv > sv.max(axis=1, keepdims=True) * np.maximum(n, kx)[:, None] * _EPS).sum(axis=1)
            ok = (rank >= kx) & (n > kx + 1)
            if not ok.all():
                record([m for m, g in zip(members, ok, strict=True) if not g], None, 2, c)
            if ok.any():
                sel = np.flatnonzero(ok)
                with np.errstate(all="ignore"):
                    fit = _fit(x[sel], yv[sel], ov[sel], valid[sel], n[sel], model=spec.model, se=spec.se,
                               lags=spec.lags, detail=False)
                record([members[r] for r in sel], fit, 2, c)
    return out


# --------------------------------------------------------------------------------------------
# the driver


@dataclass
class _Batch:
    """Everything the batch computed, by stack position."""

    cols: list[tuple[np.ndarray, list[_Col]]] = field(default_factory=list)  # (areas, columns) per block
    areas: dict[int, _Area] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    effect_cols: list[str] = field(default_factory=list)
    fallback: list[int] = field(default_factory=list)
    se_type: dict[int, str] = field(default_factory=dict)
    diag: dict[int, dict[str, Any]] = field(default_factory=dict)
    series: dict[int, pd.DataFrame] = field(default_factory=dict)
    real: dict[int, tuple[float, float]] = field(default_factory=dict)  # level change p-value, t


def _rank_error(stack: _Stack, spec: _Spec, i: int, x: np.ndarray, names: list[str]) -> AnalysisError:
    flat = [nm for j, nm in enumerate(names) if nm != "const" and np.ptp(x[:, j]) == 0]
    return AnalysisError(
        f"its: area '{stack.areas[i]}': the model for '{spec.outcome}' cannot separate its terms (the design is "
        f"rank-deficient{'; constant columns: ' + ', '.join(flat) if flat else ''}); drop a "
        "covariate or seasonal term, or use a longer series"
    )


def _run(stack: _Stack, spec: _Spec, positions: Sequence[int], *, diagnostics: bool) -> _Batch:
    out = _Batch()
    areas = _prepare_areas(stack, spec, positions)
    if areas is None:
        return out
    if diagnostics:
        out.areas = areas.records()
    ords = stack.grid.asi8
    # one design per first period and interruption times (compared bit for bit)
    patterns = _groups(np.column_stack([areas.origin, np.ascontiguousarray(areas.times).view(np.int64)]))
    key = np.empty(len(areas.pos), dtype=np.intp)
    designs: list[np.ndarray] = []
    names: list[str] = []
    for j, members in enumerate(patterns):
        key[members] = j
        r = int(members[0])
        intr = [Interruption(float(t), str(lb), slope_change=spec.slope_change)
                for t, lb in zip(areas.times[r], areas.labels[r], strict=True)]
        names, d = _design(stack, spec, int(areas.origin[r]), intr)
        designs.append(d)
    effect_cols = _effect_columns(names, areas.times.shape[1], spec.slope_change)
    out.names, out.effect_cols = names, effect_cols
    k = len(names)
    first = areas.times[:, 0]
    keep = areas.keep
    before = ords[None, :] - areas.origin[:, None] + 1 < first[:, None]
    n_pre = (keep & before).sum(axis=1)
    n_post = (keep & ~before).sum(axis=1)
    short = (n_pre < 3) | (n_post < 1) | (keep.sum(axis=1) <= k + 1)
    if short.any():
        j = int(np.argmax(short))
        raise AnalysisError(
            f"its: area '{stack.areas[int(areas.pos[j])]}': too few periods to fit '{spec.outcome}': {n_pre[j]} before "
            f"and {n_post[j]} after the start with {k} parameters; the series needs at least 3 pre-period and "
            "1 post-period observations and more rows than parameters"
        )
    blocks = _blocks(stack, areas, designs, key)
    grid_text = np.asarray(stack.grid.astype(str), dtype=object)
    # the dtype pandas gives a column of labels (its() builds the series from an array of str)
    period_labels = pd.array(grid_text, dtype=pd.Series(grid_text[:1]).dtype)
    pop_all = stack.population
    counts = spec.counts
    for block in blocks:
        # the design must separate its terms (its() refuses otherwise)
        if block.x.shape[0] == 1:
            if np.linalg.matrix_rank(block.x[0]) < k:
                raise _rank_error(stack, spec, int(block.idx[0]), block.x[0], names)
        else:
            sv = np.linalg.svd(block.x, compute_uv=False)
            rank = (sv > sv.max(axis=1, keepdims=True) * np.maximum(block.n, k)[:, None] * _EPS).sum(axis=1)
            if (rank < k).any():
                j = int(np.flatnonzero(rank < k)[0])
                raise _rank_error(stack, spec, int(block.idx[j]), block.x[j, : block.n[j]], names)
        y = _gather(stack.y, block)
        padded = not block.valid.all()
        pop = _gather(pop_all, block) if pop_all is not None else None
        if counts and pop is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                off = np.where(block.valid, np.log(np.where(block.valid, pop, 1.0)), 0.0) if padded else np.log(pop)
        else:
            off = np.zeros_like(y)
        if pop is not None and padded:
            pop = np.where(block.valid, pop, np.nan)
        with np.errstate(all="ignore"):
            fit = _fit(block.x, y, off, block.valid, block.n, model=spec.model, se=spec.se, lags=spec.lags,
                       detail=diagnostics)
        ok = ~fit.failed
        out.fallback += block.idx[fit.failed].tolist()
        if not ok.any():
            continue
        if not ok.all():  # areas whose IRLS fails go to its(), which raises or warns as statsmodels does
            kept = np.flatnonzero(ok)
            block = _Block(block.idx[kept], block.rows[kept], block.x if block.x.shape[0] == 1 else block.x[kept],
                           block.cols[kept], block.valid[kept], block.n[kept], block.times[kept])
            y, off = y[kept], off[kept]
            pop = pop[kept] if pop is not None else None
            with np.errstate(all="ignore"):
                fit = _fit(block.x, y, off, block.valid, block.n, model=spec.model, se=spec.se, lags=spec.lags,
                           detail=diagnostics)
        fst = first[block.rows]
        cols, series = _block_effects(block, fit, names, effect_cols, areas.labels[block.rows], fst, off, pop, spec)
        out.cols.append((block.idx, cols))
        out.se_type.update(zip(block.idx.tolist(), fit.se_type, strict=True))
        if not diagnostics:
            continue
        level = cols[0]
        for j, i in enumerate(block.idx.tolist()):
            se = level.se[j]
            out.real[i] = (float(level.p[j]), float(level.est[j] / se) if se > 0 else float("nan"))
        assert fit.pearson is not None
        lags = round(spec.length) if spec.length else 4
        auto = _autocorrelation(fit.pearson, fit.q, block.valid, block.n, lags, ols=not counts)
        sd = np.sqrt(np.maximum(np.diagonal(fit.cov, axis1=1, axis2=2), 0))
        for j, i in enumerate(block.idx.tolist()):
            ar = out.areas[i]
            m = block.valid[j]
            t_used = block.times[j][m]
            diag: dict[str, Any] = {
                "model": spec.model,
                "errors": "independent",
                "standard_errors": fit.se_type[j],
                "interruptions": [{"time": it.time, "label": it.label, "slope_change": it.slope_change} for it in ar.intr],
                "n_pre": int((t_used < fst[j]).sum()),
                "n_post": int((t_used >= fst[j]).sum()),
                "parameters": k,
                "seasonality": spec.seasonality if spec.season is not None else "none",
                "season_length": spec.length,
                "coefficients": {nm: {"estimate": float(b), "std_error": float(s)}
                                 for nm, b, s in zip(names, fit.params[j], sd[j], strict=True)},
                **fit.extra[j],
                "autocorrelation": auto[j],
            }
            if counts:
                disp = float((fit.pearson[j] ** 2).sum() / max(int(block.n[j]) - k, 1))
                diag["overdispersion"] = {"pearson_dispersion": disp}
            out.diag[i] = diag
            if series:
                post = series["post"][j][m]
                out.series[i] = pd.DataFrame({
                    "period": period_labels.take(block.cols[j][m]),
                    "time": t_used,
                    "observed": y[j][m],
                    "fitted": series["fitted"][j][m],
                    "counterfactual": series["counterfactual"][j][m],
                    "counterfactual_lower": series["counterfactual_lower"][j][m],
                    "counterfactual_upper": series["counterfactual_upper"][j][m],
                    "post": post,
                })
    if diagnostics and spec.placebo:
        done = {i: out.areas[i] for i in out.diag}
        first_of = {i: ar.intr[0].time for i, ar in done.items()}
        tables = _placebo_fits(stack, spec, done, first_of, spec.slope_change)
        min_seg = min_segment_for(spec.frequency)
        for i, table in tables.items():
            t_used = (ords[done[i].keep] - done[i].origin + 1).astype(float)
            out.diag[i]["placebo"] = placebo_distribution(
                t_used, first_of[i], out.real[i][1], table.get, min_segment=min_seg
            )
    return out


def _area_records(batch: _Batch) -> dict[int, list[dict[str, Any]]]:
    """Per area, its estimand rows in the per-area order."""
    records: dict[int, list[dict[str, Any]]] = {}
    for idx, cols in batch.cols:
        for j, i in enumerate(idx):
            rows = []
            for c in cols:
                if not c.valid[j]:
                    continue
                nn = int(c.n[j])
                rows.append({
                    "estimand": c.estimand, "estimate": float(c.est[j]), "std_error": float(c.se[j]),
                    "ci_lower": float(c.lo[j]), "ci_upper": float(c.hi[j]), "p_value": float(c.p[j]),
                    "n_obs": nn, "n_areas": 1, "n_periods": nn, "note": c.note[j],
                })
            records[int(i)] = rows
    return records


def _spec(
    *, data_grid: pd.PeriodIndex, outcome: str, model: str, se: str, lags: int | None, slope_change: bool,
    seasonality: str, harmonics: int, frequency: str | None, rate_per: float | None, horizons: Sequence[int],
    placebo: bool, ci_level: float, n_sim: int, seed: int, series: bool,
) -> _Spec:
    freq = frequency or frequency_of(data_grid)
    season, length = _season(pd.DataFrame({"period": data_grid}), "period", seasonality, harmonics, None, None, freq)
    return _Spec(
        outcome=outcome, model=model, se=_resolve_se(model, se, "independent"), lags=lags, slope_change=slope_change,
        seasonality=seasonality, season=season, length=length, frequency=freq, rate_per=rate_per,
        horizons=list(horizons), placebo=placebo, ci_level=ci_level, n_sim=n_sim, seed=seed, series=series,
    )


def _check_options(model: str, se: str, seasonality: str, errors: str, n_sim: int, ci_level: float) -> None:
    try:
        _check_choice("model", model, MODELS)
        _check_choice("se", se, SE_TYPES)
        _check_choice("seasonality", seasonality, ("fourier", "month", "none"))
        _check_choice("errors", errors, ("independent", "arima"))
        if errors == "arima" and model != "ols":
            raise ValueError("its: errors='arima' applies to model='ols' (a linear model with ARIMA errors)")
        _resolve_se(model, se, errors)
    except ValueError as exc:
        raise AnalysisError(str(exc).replace("its:", "its_batch:", 1)) from exc
    if n_sim < 0:
        raise AnalysisError(f"its_batch: n_sim must be 0 or more draws, got {n_sim}")
    if not 0 < ci_level < 1:
        raise AnalysisError(f"its_batch: ci_level must be between 0 and 1 (e.g. 0.95), got {ci_level}")


def _text_take(values: Sequence[str], idx: np.ndarray) -> Any:
    """``values[idx]`` as the column pandas makes of text, converting each value once, not each row."""
    arr = np.asarray(values, dtype=object)
    dtype = pd.Series(arr[:1]).dtype  # pandas' text dtype (object if it infers none)
    if isinstance(dtype, pd.StringDtype) and all(isinstance(v, str) for v in values):
        return pd.array(arr, dtype=dtype).take(idx)
    return arr[idx]


def _area_frames(data: pd.DataFrame, area: str, codes: Sequence[str], columns: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Each listed area's rows (the columns ``its`` reads), for the per-area path."""
    if not codes:
        return {}
    cols = [c for c in dict.fromkeys(columns) if c in data.columns]
    rows = data.groupby(data[area].astype(str), sort=False).indices
    return {c: data.iloc[rows[c]][cols].reset_index(drop=True) for c in codes}


def its_batch(
    data: pd.DataFrame,
    *,
    outcome: str,
    start: Any,
    area: str = "area_code",
    period: str = "period",
    areas: Sequence[Any] | None = None,
    frequency: str | None = None,
    model: Literal["ols", "poisson", "quasipoisson", "negbin"] = "ols",
    population: str | None = None,
    seasonality: Literal["fourier", "month", "none"] = "fourier",
    harmonics: int = 2,
    slope_change: bool = True,
    covariates: Sequence[str] = (),
    se: Literal["auto", "hac", "newey_west", "nonrobust", "model", "pearson"] = "auto",
    lags: int | None = None,
    errors: Literal["independent", "arima"] = "independent",
    arima_order: tuple[int, int, int] = (1, 0, 0),
    rate_per: float | None = None,
    horizons: Sequence[int] = (12,),
    placebo: bool = True,
    ci_level: float = 0.95,
    n_sim: int = 2000,
    seed: int = 20240601,
    analysis: str = "its",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
) -> list[EffectResult]:
    """Fit :func:`~evaluate.estimators.its.its` to every area of a long panel, in batches.

    Parameters
    ----------
    data
        One row per area and period: ``area``, ``period`` (pandas Periods), the outcome, and
        optionally ``<outcome>__suppressed`` and the population.
    outcome
        The series to model (counts for the count models).
    start
        The interruption: one period (label or ``pandas.Period``) or a list of them for every
        area, or a mapping (dict or Series) from area to its start (or list of starts).
    area, period
        Column names of the area code and the period.
    areas
        The areas to fit, in the order of the results; by default every area, in order of
        first appearance.
    frequency, model, population, seasonality, harmonics, slope_change, covariates, se, lags,
    errors, arima_order, rate_per, horizons, placebo, ci_level, n_sim, seed
        As for :func:`~evaluate.estimators.its.its` (the same seed is used for every area, as the
        pipeline does). ``negbin``, ``errors="arima"``, covariates and Newey-West standard errors
        of count models are fitted area by area with ``its``.
    analysis, intervention, outcome_role, outcome_label
        Labels carried into every result.

    Returns
    -------
    list of EffectResult
        One per area (``unit`` is the area code), equal to what ``its`` returns for the area's
        series, except that ``model`` (the statsmodels object) is ``None`` for batched areas.

    Raises
    ------
    AnalysisError
        A missing column, a period column that does not hold periods, more than one row for an
        area and period, an area without a start, or an area that ``its`` would refuse (too few
        periods, negative counts, a rank-deficient design), named in the message.
    """
    _check_options(model, se, seasonality, errors, n_sim, ci_level)
    stack = _stack_from_long(data, outcome=outcome, area=area, period=period, population=population,
                             areas=areas, start=start)
    for col in covariates:
        if col not in data.columns:
            raise AnalysisError(f"its_batch: covariate '{col}' is not in the data{suggest(col, data.columns)}")
    label = outcome_label or outcome
    positions = list(range(len(stack.areas)))
    batched = batch_supported(model, se, errors=errors, covariates=covariates)
    results: dict[int, EffectResult] = {}
    if batched:
        spec = _spec(data_grid=stack.grid, outcome=outcome, model=model, se=se, lags=lags, slope_change=slope_change,
                     seasonality=seasonality, harmonics=harmonics, frequency=frequency, rate_per=rate_per,
                     horizons=horizons, placebo=placebo, ci_level=ci_level, n_sim=n_sim, seed=seed, series=True)
        with _one_blas_thread():
            batch = _run(stack, spec, positions, diagnostics=True)
        records = _area_records(batch)
        for i, rows in records.items():
            ar = batch.areas[i]
            diag = batch.diag[i]
            real = pd.Series({"p_value": batch.real[i][0]})
            warns = _warnings(diag, spec.se, model, seasonality, spec.length, diag["n_pre"],
                              len(batch.names) - len(batch.effect_cols), real)
            results[i] = EffectResult(
                analysis=analysis, method="its", estimator=model, outcome=outcome, outcome_role=outcome_role,
                outcome_label=label, intervention=intervention, estimates=pd.DataFrame.from_records(rows),
                ci_level=ci_level, se_type=batch.se_type[i],
                rows=RowAccounting(n_input=ar.n_input, n_used=int(ar.keep.sum()), dropped=dict(ar.dropped)),
                diagnostics=diag, warnings=tuple(warns), model=None, plot_data={"series": batch.series[i]},
                unit=stack.areas[i],
            )
        rest = sorted(batch.fallback)
    else:
        rest = positions
    columns = [period, outcome, f"{outcome}__suppressed", *([population] if population else []), *covariates]
    frames = _area_frames(data, area, [stack.areas[i] for i in rest], columns)
    for i in rest:
        code = stack.areas[i]
        try:
            results[i] = its(
                frames[code], outcome=outcome, start=stack.starts[i],
                slope_change=slope_change, period=period, frequency=frequency, model=model, population=population,
                seasonality=seasonality, harmonics=harmonics, covariates=covariates, se=se, lags=lags, errors=errors,
                arima_order=arima_order, rate_per=rate_per, horizons=horizons, placebo=placebo, ci_level=ci_level,
                n_sim=n_sim, seed=seed, analysis=analysis, intervention=intervention, outcome_role=outcome_role,
                outcome_label=label, unit=code,
            )
        except AnalysisError as exc:
            raise AnalysisError(f"its: area '{code}': {str(exc).removeprefix('its: ')}") from exc
    return [results[i] for i in positions]


def its_by_area(
    data: pd.DataFrame,
    *,
    outcome: str,
    start: Any,
    area: str = "area_code",
    period: str = "period",
    areas: Sequence[Any] | None = None,
    frequency: str | None = None,
    model: Literal["ols", "poisson", "quasipoisson", "negbin"] = "quasipoisson",
    population: str | None = None,
    seasonality: Literal["fourier", "month", "none"] = "fourier",
    harmonics: int = 2,
    slope_change: bool = True,
    se: Literal["auto", "hac", "newey_west", "nonrobust", "model", "pearson"] = "auto",
    lags: int | None = None,
    rate_per: float | None = None,
    horizons: Sequence[int] = (12,),
    ci_level: float = 0.95,
    n_sim: int = 2000,
    seed: int = 20240601,
) -> pd.DataFrame:
    """Interrupted time series of every area at once, as one tidy table of estimates.

    The fast path for notebooks: the same estimates as :func:`~evaluate.estimators.its.its` per
    area (see :func:`its_batch`), without diagnostics, placebo dates or counterfactual series.

    Parameters
    ----------
    data
        One row per area and period: ``area``, ``period`` (pandas Periods), the outcome, and
        optionally ``<outcome>__suppressed`` and the population (the ``log(population)`` offset
        of the count models).
    outcome
        The series to model.
    start
        One period (label or ``pandas.Period``) for every area, a list of them (several
        interruptions), or a mapping (dict or Series) from area code to its start(s).
    area, period
        Column names of the area code and the period.
    areas
        The areas to fit and their order (default: every area, in order of first appearance).
    frequency
        ``month``, ``quarter``, ``week``...; by default from the periods.
    model
        ``quasipoisson`` (default), ``poisson``, ``ols`` (batched) or ``negbin`` (per area).
    population
        Population column.
    seasonality, harmonics
        ``fourier`` with ``harmonics`` pairs, ``month`` indicators, or ``none``.
    slope_change
        Model a change of slope at each start.
    se, lags
        Standard errors as for ``its`` (``auto``: prewhitened HAC for OLS, model-based for
        Poisson, Pearson-scaled for quasi-Poisson).
    rate_per
        If the outcome is a rate per this many residents (changes the cumulative estimands).
    horizons
        Periods into the intervention for ``relative_change_h<k>``.
    ci_level
        Interval level.
    n_sim, seed
        Draws and seed of the simulation behind ``relative_change``, ``cumulative_averted``
        and ``cumulative_averted_per_100k``; ``n_sim=0`` leaves those estimands out (the rest
        need no simulation and are then much faster).

    Returns
    -------
    pandas.DataFrame
        One row per area and estimand, areas in order: ``area``, ``start``, ``estimand``,
        ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``, ``ci_level``, ``p_value``,
        ``n_obs``, ``n_periods``, ``se_type``, ``note``.

    Raises
    ------
    AnalysisError
        Bad input (a missing column, non-period periods, duplicate rows, an area without a
        start) or an area that ``its`` would refuse, naming the column, value or area.

    Examples
    --------
    >>> table = its_by_area(panel, outcome="drug_deaths", start=starts, population="population")
    >>> table.query("estimand == 'rate_ratio'")[["area", "estimate", "ci_lower", "ci_upper"]]
    """
    _check_options(model, se, seasonality, "independent", n_sim, ci_level)
    stack = _stack_from_long(data, outcome=outcome, area=area, period=period, population=population,
                             areas=areas, start=start)
    positions = list(range(len(stack.areas)))
    pieces: list[dict[str, np.ndarray]] = []  # columns of rows, each with its area's position and rank
    se_of: dict[int, str] = {}
    rest = positions
    if batch_supported(model, se):
        spec = _spec(data_grid=stack.grid, outcome=outcome, model=model, se=se, lags=lags, slope_change=slope_change,
                     seasonality=seasonality, harmonics=harmonics, frequency=frequency, rate_per=rate_per,
                     horizons=horizons, placebo=False, ci_level=ci_level, n_sim=n_sim, seed=seed, series=False)
        with _one_blas_thread():
            batch = _run(stack, spec, positions, diagnostics=False)
        se_of = batch.se_type
        for idx, cols in batch.cols:
            for r, c in enumerate(cols):
                sel = np.flatnonzero(c.valid)
                if not sel.size:
                    continue
                pieces.append({
                    "position": idx[sel], "rank": np.full(sel.size, r),
                    "estimand": np.full(sel.size, c.estimand, dtype=object), "estimate": c.est[sel],
                    "std_error": c.se[sel], "ci_lower": c.lo[sel], "ci_upper": c.hi[sel], "p_value": c.p[sel],
                    "n_obs": c.n[sel].astype(int), "note": c.note[sel],
                })
        rest = sorted(batch.fallback)
    columns = [period, outcome, f"{outcome}__suppressed", *([population] if population else [])]
    frames = _area_frames(data, area, [stack.areas[i] for i in rest], columns)
    for i in rest:
        code = stack.areas[i]
        try:
            single = its(frames[code], outcome=outcome, start=stack.starts[i],
                         slope_change=slope_change, period=period, frequency=frequency, model=model,
                         population=population, seasonality=seasonality, harmonics=harmonics, se=se, lags=lags,
                         rate_per=rate_per, horizons=horizons, placebo=False, ci_level=ci_level,
                         n_sim=max(n_sim, 1), seed=seed, unit=code)
        except AnalysisError as exc:
            raise AnalysisError(f"its: area '{code}': {str(exc).removeprefix('its: ')}") from exc
        est = single.estimates
        if n_sim == 0:
            est = est[~est["estimand"].isin(["relative_change", "cumulative_averted", "cumulative_averted_per_100k"])
                      & ~(est["estimand"].str.startswith("relative_change_h") & (model == "ols"))]
        se_of[i] = single.se_type
        pieces.append({
            "position": np.full(len(est), i), "rank": np.arange(len(est)),
            "estimand": est["estimand"].to_numpy(dtype=object), "estimate": est["estimate"].to_numpy(dtype=float),
            "std_error": est["std_error"].to_numpy(dtype=float), "ci_lower": est["ci_lower"].to_numpy(dtype=float),
            "ci_upper": est["ci_upper"].to_numpy(dtype=float), "p_value": est["p_value"].to_numpy(dtype=float),
            "n_obs": est["n_obs"].to_numpy(dtype=int), "note": est["note"].to_numpy(dtype=object),
        })
    if not pieces:
        return pd.DataFrame(columns=["area", "start", "estimand", "estimate", "std_error", "ci_lower", "ci_upper",
                                     "ci_level", "p_value", "n_obs", "n_periods", "se_type", "note"])
    table = {c: np.concatenate([p[c] for p in pieces]) for c in pieces[0]}
    order = np.lexsort((table["rank"], table["position"]))  # by area, then the area's own order
    pos = table["position"][order]
    starts = [", ".join(map(str, s)) for s in stack.starts]
    types = [se_of.get(i, "") for i in positions]
    n_obs = table["n_obs"][order]
    return pd.DataFrame({
        "area": _text_take(stack.areas, pos), "start": _text_take(starts, pos), "estimand": table["estimand"][order],
        "estimate": table["estimate"][order], "std_error": table["std_error"][order],
        "ci_lower": table["ci_lower"][order], "ci_upper": table["ci_upper"][order],
        "ci_level": ci_level, "p_value": table["p_value"][order], "n_obs": n_obs, "n_periods": n_obs.copy(),
        "se_type": _text_take(types, pos), "note": table["note"][order],
    })
