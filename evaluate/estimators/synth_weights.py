"""Unit and time weights of synthetic control and synthetic DiD, as in the R package ``synthdid``.

A port of ``synthdid`` 0.0.9 (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021;
github.com/synth-inference/synthdid, ``R/solver.R`` and ``R/synthdid.R``) that runs the same
iterations, so that published numbers reproduce: the Frank-Wolfe solver ``sc.weight.fw`` with
exact line search and its stopping rule, the ``sparsify`` restart, the collapsed form of the
outcome block, the noise level and the regularisation of :func:`fit_block`. Only the
arithmetic of an iteration is reorganised (the gradient is updated rather than recomputed),
which changes rounding: weights and estimates agree with synthdid's to about 1e-11 on Prop 99.

Everything here works on a *batch* of problems of one shape at once (a leading axis ``B``): the
placebo standard error, the in-space placebos and the leave-one-out fits are hundreds of small
problems that differ only in their data. Each problem in a batch runs exactly the iterations it
would run alone (a problem that has met its stopping rule is frozen while the others go on), so
batching changes speed, not results.

Notes
-----
``fw_simplex`` minimises, over the unit simplex,

.. math::

    \\zeta^2 \\lVert w \\rVert_2^2 + \\frac{1}{n} \\lVert A w - b \\rVert_2^2

(columns of ``[A | b]`` de-meaned over the ``n`` rows first when ``intercept``) by Frank-Wolfe
steps with exact line search, stopping when an iteration lowers the objective by less than
``min_decrease**2`` (after at least two iterations) or after ``max_iter`` iterations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "ESTIMATORS",
    "BlockFit",
    "Estimator",
    "Tuning",
    "fit_block",
    "fw_simplex",
    "noise_level",
    "simplex_weights",
    "sparsify",
    "tuning",
]

Estimator = Literal["sc", "sdid", "did"]
ESTIMATORS: tuple[str, ...] = ("sc", "sdid", "did")

MAX_ITER = 10_000
"""``max.iter`` of ``synthdid_estimate``."""
MAX_ITER_PRE_SPARSIFY = 100
"""``max.iter.pre.sparsify`` of ``synthdid_estimate``."""


def fw_simplex(
    a: np.ndarray,
    b: np.ndarray,
    *,
    zeta: np.ndarray,
    intercept: bool,
    init: np.ndarray,
    min_decrease: np.ndarray,
    max_iter: int,
) -> np.ndarray:
    """Frank-Wolfe weights on the simplex for a batch of problems (``synthdid:::sc.weight.fw``).

    Parameters
    ----------
    a
        ``(B, n, k)``: for each problem, ``n`` rows to fit and ``k`` candidate columns.
    b
        ``(B, n)``: the target of each problem.
    zeta
        ``(B,)``: ridge penalty (the objective's :math:`\\zeta`).
    intercept
        De-mean every column of ``[a | b]`` over the rows first (a free intercept).
    init
        ``(B, k)``: starting weights (on the simplex).
    min_decrease
        ``(B,)``: stop once an iteration lowers the objective by ``min_decrease**2`` or less.
    max_iter
        Iteration cap.

    Returns
    -------
    numpy.ndarray
        ``(B, k)`` weights.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    x = np.array(init, dtype=float, copy=True)
    zeta = np.broadcast_to(np.asarray(zeta, dtype=float), (len(a),))
    min_decrease = np.broadcast_to(np.asarray(min_decrease, dtype=float), (len(a),))
    k = a.shape[2]
    chunk = max(1, int(_CHUNK_BYTES // max(1, 8 * k * k)))
    for lo in range(0, len(a), chunk):
        sl = slice(lo, lo + chunk)
        x[sl] = _fw_chunk(a[sl], b[sl], zeta[sl], intercept, x[sl], min_decrease[sl], max_iter)
    return x


_CHUNK_BYTES = 64e6
"""Memory cap of the Gram matrices of one chunk of a batch."""


def _fw_chunk(
    a: np.ndarray,
    b: np.ndarray,
    zeta: np.ndarray,
    intercept: bool,
    x0: np.ndarray,
    min_decrease: np.ndarray,
    max_iter: int,
) -> np.ndarray:
    # synthdid's fw.step: half gradient g = A'(Ax - b) + eta x, the vertex i with the smallest
    # entry, and the exact line search towards it, x <- (1 - s) x + s e_i. Since x moves towards
    # a vertex, g follows as g <- (1 - s) g + s m_i with m_i = A'A e_i + eta e_i - A'b (one
    # precomputed column per vertex) and Ax as (1 - s) Ax + s A e_i, so an iteration costs
    # O(n + k) instead of two passes over A. This changes rounding only: the weights agree with
    # synthdid's to 1e-14 on Prop 99. Problems are along the last axis (fast reductions).
    if intercept:
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
    n_batch, n_rows, k = a.shape
    zeta2 = zeta**2
    eta = n_rows * zeta2
    threshold = min_decrease**2
    at = np.swapaxes(a, 1, 2)
    c = np.matmul(at, b[..., None])[..., 0]  # (B, k)
    m = np.matmul(at, a)  # (B, k, k): column i is A'A e_i
    m[:, np.arange(k), np.arange(k)] += eta[:, None]
    m -= c[:, :, None]
    x = np.ascontiguousarray(x0.T)  # (k, B)
    g = np.ascontiguousarray(np.matmul(m, x0[..., None])[..., 0].T)  # sum_i x_i m_i = A'Ax + eta x - A'b
    ax = np.ascontiguousarray(np.matmul(a, x0[..., None])[..., 0].T)  # (n, B)
    a = np.ascontiguousarray(np.transpose(a, (1, 2, 0)))  # (n, k, B)
    m = np.ascontiguousarray(np.transpose(m, (1, 2, 0)))  # (k, k, B): m[:, i, b] is m_i
    b = np.ascontiguousarray(b.T)  # (n, B)
    out = np.array(x0, dtype=float, copy=True)
    idx = np.arange(n_batch)  # positions in `out` of the problems still running
    r = np.arange(n_batch)
    prev = np.full(n_batch, np.nan)
    xx = (x * x).sum(axis=0)
    t = 0
    err_state = np.seterr(divide="ignore", invalid="ignore")  # once, not per iteration (hot loop)
    try:
        while t < max_iter and len(idx):
            t += 1
            x, g, ax, b, a, m, idx, r, eta, zeta2, threshold, xx, prev = _fw_iteration(
                t, x, g, ax, b, a, m, idx, r, eta, zeta2, threshold, xx, prev, out, n_rows
            )
    finally:
        np.seterr(**err_state)
    out[idx] = x.T
    return out


def _fw_iteration(
    t: int, x: np.ndarray, g: np.ndarray, ax: np.ndarray, b: np.ndarray, a: np.ndarray, m: np.ndarray,
    idx: np.ndarray, r: np.ndarray, eta: np.ndarray, zeta2: np.ndarray, threshold: np.ndarray,
    xx: np.ndarray, prev: np.ndarray, out: np.ndarray, n_rows: int,
) -> tuple[np.ndarray, ...]:
    """One Frank-Wolfe step of every running problem; finished problems are written to ``out``."""
    i = np.argmin(g, axis=0)  # the first minimum, as R's which.min
    x_i = x[i, r]
    d_err = a[:, i, r]
    d_err -= ax
    # d_x = e_i - x: |d_x|^2 = |x|^2 - 2 x_i + 1 and -g.d_x = g.x - g_i
    denom = np.einsum("ij,ij->j", d_err, d_err) + eta * (xx - 2 * x_i + 1)
    num = np.einsum("ij,ij->j", g, x) - g[i, r]
    step = num / denom
    step[~(denom > 0)] = 0.0  # at vertex i already (R returns x unchanged), or no curvature
    np.clip(step, 0.0, 1.0, out=step)
    x *= 1 - step
    x[i, r] += step
    ax += step * d_err
    m_i = m[:, i, r]
    m_i -= g
    g += step * m_i
    err = ax - b
    xx = np.einsum("ij,ij->j", x, x)
    val = zeta2 * xx + np.einsum("ij,ij->j", err, err) / n_rows
    if t >= 2:
        done = ~(prev - val > threshold)
        if done.any():
            out[idx[done]] = x[:, done].T
            keep = ~done
            idx, eta, zeta2, threshold, val, xx = (v[keep] for v in (idx, eta, zeta2, threshold, val, xx))
            x, g, ax, b = (v[:, keep] for v in (x, g, ax, b))
            a, m = a[:, :, keep], m[:, :, keep]
            r = np.arange(len(idx))
    return x, g, ax, b, a, m, idx, r, eta, zeta2, threshold, xx, val


def sparsify(w: np.ndarray) -> np.ndarray:
    """``synthdid::sparsify_function`` by row: weights at or below max/4 set to 0, renormalised."""
    w = np.array(w, dtype=float, copy=True)
    w[w <= w.max(axis=-1, keepdims=True) / 4] = 0.0
    return w / w.sum(axis=-1, keepdims=True)


def simplex_weights(
    a: np.ndarray,
    b: np.ndarray,
    *,
    zeta: np.ndarray,
    intercept: bool,
    init: np.ndarray,
    min_decrease: np.ndarray,
    max_iter: int = MAX_ITER,
    max_iter_pre_sparsify: int = MAX_ITER_PRE_SPARSIFY,
) -> np.ndarray:
    """Two rounds of :func:`fw_simplex` as ``synthdid_estimate`` runs them.

    A first round of at most ``max_iter_pre_sparsify`` iterations from ``init``; its weights are
    :func:`sparsify`-ed and a second round of at most ``max_iter`` iterations starts from them.
    Parameters as :func:`fw_simplex`.
    """
    first = fw_simplex(a, b, zeta=zeta, intercept=intercept, init=init, min_decrease=min_decrease,
                       max_iter=max_iter_pre_sparsify)
    return fw_simplex(a, b, zeta=zeta, intercept=intercept, init=sparsify(first), min_decrease=min_decrease,
                      max_iter=max_iter)


def noise_level(y_control_pre: np.ndarray) -> np.ndarray:
    """Standard deviation (ddof 1) of all first differences of the control pre-period outcomes.

    ``synthdid``'s ``sd(apply(Y[1:N0, 1:T0], 1, diff))``. ``y_control_pre`` is ``(B, N0, T0)``;
    returns ``(B,)``.
    """
    d = np.diff(np.asarray(y_control_pre, dtype=float), axis=2).reshape(len(y_control_pre), -1)
    if d.shape[1] < 2:
        return np.full(len(d), np.nan)
    return d.std(axis=1, ddof=1)


@dataclass(frozen=True)
class Tuning:
    """``(B,)`` arrays: noise level, ridge penalties and stopping threshold of each problem."""

    noise: np.ndarray
    zeta_omega: np.ndarray
    zeta_lambda: np.ndarray
    min_decrease: np.ndarray


def tuning(y: np.ndarray, n0: int, t0: int, *, estimator: Estimator) -> Tuning:
    """``synthdid_estimate``'s defaults for a batch of blocks ``(B, N, T)``.

    ``noise.level`` is :func:`noise_level`; ``zeta.omega = eta.omega * noise.level`` with
    ``eta.omega = (N1 T1)^(1/4)`` for SDID and ``1e-6`` for SC; ``zeta.lambda = 1e-6 *
    noise.level``; ``min.decrease = 1e-5 * noise.level``.
    """
    y = np.asarray(y, dtype=float)
    n1, t1 = y.shape[1] - n0, y.shape[2] - t0
    noise = noise_level(y[:, :n0, :t0])
    eta_omega = (n1 * t1) ** 0.25 if estimator == "sdid" else 1e-6
    return Tuning(noise=noise, zeta_omega=eta_omega * noise, zeta_lambda=1e-6 * noise, min_decrease=1e-5 * noise)


@dataclass(frozen=True)
class BlockFit:
    """Weights and estimates for a batch of outcome blocks (controls first, treated last).

    Attributes
    ----------
    omega
        ``(B, N0)`` unit weights of the controls.
    lam
        ``(B, T0)`` time weights of the pre-periods (zeros for SC, uniform for DiD).
    tau
        ``(B,)`` average effect on the treated block.
    gap
        ``(B, T)``: treated mean minus synthetic control in every period; the synthetic control
        includes the lambda-weighted pre-period offset (SDID, DiD), so ``gap[:, T0:]`` is the
        effect curve (``synthdid_effect_curve``) and its mean is ``tau``.
    treated
        ``(B, T)`` mean outcome of the treated rows.
    zeta_omega, zeta_lambda, min_decrease, noise
        ``(B,)`` regularisation, stopping threshold and noise level used.
    """

    omega: np.ndarray
    lam: np.ndarray
    tau: np.ndarray
    gap: np.ndarray
    treated: np.ndarray
    zeta_omega: np.ndarray
    zeta_lambda: np.ndarray
    min_decrease: np.ndarray
    noise: np.ndarray

    @property
    def synthetic(self) -> np.ndarray:
        """``(B, T)`` synthetic control series (treated minus gap)."""
        return self.treated - self.gap


def fit_block(
    y: np.ndarray,
    n0: int,
    t0: int,
    *,
    estimator: Estimator,
    predictors: np.ndarray | None = None,
    omega_init: np.ndarray | None = None,
    lambda_init: np.ndarray | None = None,
    noise: np.ndarray | None = None,
    zeta_omega: np.ndarray | None = None,
    zeta_lambda: np.ndarray | None = None,
    min_decrease: np.ndarray | None = None,
) -> BlockFit:
    """``synthdid_estimate``, ``sc_estimate`` or ``did_estimate`` on a batch of blocks.

    Parameters
    ----------
    y
        ``(B, N, T)`` outcomes; rows ``:n0`` are controls, the rest treated; columns ``:t0`` are
        pre-periods.
    n0, t0
        Number of controls and of pre-periods.
    estimator
        ``sdid`` (unit weights with intercept and ridge :math:`\\zeta_\\omega`, time weights with
        intercept), ``sc`` (unit weights without intercept, ridge :math:`10^{-6}\\sigma`, no time
        weights) or ``did`` (equal weights).
    predictors
        ``(B, N, P)`` extra rows for the SC unit-weight problem (already scaled), or ``None``.
    omega_init, lambda_init
        Starting weights (``synthdid``'s ``weights`` argument); uniform by default.
    noise, zeta_omega, zeta_lambda, min_decrease
        ``(B,)`` values to use instead of the defaults computed from ``y`` (the placebo standard
        error keeps those of the original fit, as ``synthdid``'s ``opts``).

    Returns
    -------
    BlockFit
    """
    y = np.asarray(y, dtype=float)
    n_batch = y.shape[0]
    default = tuning(y, n0, t0, estimator=estimator)
    noise = default.noise if noise is None else noise
    zeta_omega = default.zeta_omega if zeta_omega is None else zeta_omega
    zeta_lambda = default.zeta_lambda if zeta_lambda is None else zeta_lambda
    min_decrease = default.min_decrease if min_decrease is None else min_decrease
    # collapsed form: controls x pre, with treated means and post means as the targets
    y_co_pre = y[:, :n0, :t0]
    y_co_post = y[:, :n0, t0:].mean(axis=2)  # (B, N0)
    y_tr_pre = y[:, n0:, :t0].mean(axis=1)  # (B, T0)
    if estimator == "did":
        omega = np.full((n_batch, n0), 1.0 / n0)
        lam = np.full((n_batch, t0), 1.0 / t0)
    else:
        if estimator == "sdid":
            init = np.full((n_batch, t0), 1.0 / t0) if lambda_init is None else lambda_init
            lam = simplex_weights(
                y_co_pre, y_co_post, zeta=zeta_lambda, intercept=True, init=init, min_decrease=min_decrease
            )
        else:
            lam = np.zeros((n_batch, t0))
        a = np.swapaxes(y_co_pre, 1, 2)  # (B, T0, N0): pre-periods are the rows
        b = y_tr_pre
        if predictors is not None and predictors.shape[2]:
            a = np.concatenate([a, np.swapaxes(predictors[:, :n0, :], 1, 2)], axis=1)
            b = np.concatenate([b, predictors[:, n0:, :].mean(axis=1)], axis=1)
        init = np.full((n_batch, n0), 1.0 / n0) if omega_init is None else omega_init
        omega = simplex_weights(
            a, b, zeta=zeta_omega, intercept=estimator == "sdid", init=init, min_decrease=min_decrease
        )
    treated = y[:, n0:, :].mean(axis=1)  # (B, T)
    tau_sc = treated - np.einsum("bn,bnt->bt", omega, y[:, :n0, :])
    offset = np.einsum("bt,bt->b", tau_sc[:, :t0], lam)
    gap = tau_sc - offset[:, None]
    tau = gap[:, t0:].mean(axis=1)
    return BlockFit(
        omega=omega,
        lam=lam,
        tau=tau,
        gap=gap,
        treated=treated,
        zeta_omega=np.broadcast_to(zeta_omega, (n_batch,)).astype(float),
        zeta_lambda=np.broadcast_to(zeta_lambda, (n_batch,)).astype(float),
        min_decrease=np.broadcast_to(min_decrease, (n_batch,)).astype(float),
        noise=np.broadcast_to(noise, (n_batch,)).astype(float),
    )
