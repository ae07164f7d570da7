"""Two-period DiD estimators for panel data with covariates, and their influence functions.

These are the panel estimators of Sant'Anna & Zhao (2020) as implemented in the R package
``DRDID`` (``reg_did_panel``, ``std_ipw_did_panel``, ``drdid_panel``), which the R package
``did`` calls for each ATT(g,t). statsmodels fits the propensity score (logit) and the outcome
regression; the influence functions follow DRDID line by line so that standard errors agree.

For units ``i`` with outcome change :math:`\\Delta Y_i`, treatment indicator :math:`D_i`,
covariates :math:`X_i` (with an intercept) and propensity score :math:`p(X)`:

* ``reg``: :math:`\\widehat{ATT} = \\bar{\\Delta Y}_{D=1} - \\overline{X'\\hat\\beta}_{D=1}` with
  :math:`\\hat\\beta` from OLS of :math:`\\Delta Y` on :math:`X` among comparison units;
* ``ipw``: normalised inverse-probability weighting, comparison weights :math:`p/(1-p)`;
* ``dr``: both at once (doubly robust, locally efficient).

Each returns the ATT and the influence function ``psi`` (length n, mean zero), so that
:math:`SE = \\sqrt{\\sum \\psi_i^2}/n`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["panel_did", "Method"]

Method = Literal["reg", "ipw", "dr"]


def _ols(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)
    return coef


def _logit(x: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    import statsmodels.api as sm

    res = sm.GLM(d, x, family=sm.families.Binomial(), freq_weights=w).fit()
    return np.asarray(res.fittedvalues)


def panel_did(
    delta_y: np.ndarray,
    treated: np.ndarray,
    covariates: np.ndarray,
    *,
    method: Method = "dr",
    weights: np.ndarray | None = None,
    trim_level: float = 0.995,
) -> tuple[float, np.ndarray]:
    """ATT and influence function of a two-period panel DiD with covariates.

    Parameters
    ----------
    delta_y
        Outcome change of each unit (post minus pre).
    treated
        1 for treated units, 0 for comparison units.
    covariates
        Covariate matrix including an intercept column (n x k).
    method
        ``reg``, ``ipw`` or ``dr``.
    weights
        Unit weights (normalised to mean 1); equal weights by default.
    trim_level
        Comparison units with a propensity score at or above this are given zero weight.

    Returns
    -------
    att, psi
        The estimate and its influence function (length n).
    """
    d = np.asarray(treated, dtype=float)
    dy = np.asarray(delta_y, dtype=float)
    x = np.asarray(covariates, dtype=float)
    n = len(d)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.mean()

    if method == "reg":
        beta = _ols(x[d == 0], dy[d == 0], w[d == 0])
        out = x @ beta
        w_t = w * d
        w_c = w * d  # DRDID: the comparison term is the predicted change for the treated
        att_t, att_c = w_t * dy, w_c * out
        eta_t, eta_c = att_t.mean() / w_t.mean(), att_c.mean() / w_c.mean()
        w_ols = w * (1 - d)
        xpx_inv = np.linalg.inv((w_ols[:, None] * x).T @ x / n)
        lin_ols = (w_ols * (dy - out))[:, None] * x @ xpx_inv
        inf_t = (att_t - w_t * eta_t) / w_t.mean()
        inf_c = ((att_c - w_c * eta_c) + lin_ols @ (w_c[:, None] * x).mean(axis=0)) / w_c.mean()
        return float(eta_t - eta_c), inf_t - inf_c

    ps = np.minimum(_logit(x, d, w), 1 - 1e-6)
    keep = np.ones(n)
    keep[d == 0] = (ps[d == 0] < trim_level).astype(float)
    ww = ps * (1 - ps) * w
    hessian = np.linalg.inv(x.T @ (ww[:, None] * x)) * n
    lin_ps = (w * (d - ps))[:, None] * x @ hessian
    w_t = keep * w * d
    w_c = keep * w * ps * (1 - d) / (1 - ps)

    if method == "ipw":
        att_t, att_c = w_t * dy, w_c * dy
        eta_t, eta_c = att_t.mean() / w_t.mean(), att_c.mean() / w_c.mean()
        inf_t = (att_t - w_t * eta_t) / w_t.mean()
        m2 = (w_c * (dy - eta_c))[:, None] * x
        inf_c = ((att_c - w_c * eta_c) + lin_ps @ m2.mean(axis=0)) / w_c.mean()
        return float(eta_t - eta_c), inf_t - inf_c

    beta = _ols(x[d == 0], dy[d == 0], w[d == 0])
    out = x @ beta
    att_t, att_c = w_t * (dy - out), w_c * (dy - out)
    eta_t, eta_c = att_t.mean() / w_t.mean(), att_c.mean() / w_c.mean()
    w_ols = w * (1 - d)
    xpx_inv = np.linalg.inv((w_ols[:, None] * x).T @ x / n)
    lin_ols = (w_ols * (dy - out))[:, None] * x @ xpx_inv
    inf_t = ((att_t - w_t * eta_t) - lin_ols @ (w_t[:, None] * x).mean(axis=0)) / w_t.mean()
    m2 = (w_c * (dy - out - eta_c))[:, None] * x
    m3 = (w_c[:, None] * x).mean(axis=0)
    inf_c = ((att_c - w_c * eta_c) + lin_ps @ m2.mean(axis=0) - lin_ols @ m3) / w_c.mean()
    return float(eta_t - eta_c), inf_t - inf_c
