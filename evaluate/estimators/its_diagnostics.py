"""Diagnostics of an ITS fit: residual autocorrelation, overdispersion, placebo dates, warnings.

Autocorrelation tests come from statsmodels (Ljung-Box, Breusch-Godfrey, Durbin-Watson). For
count models they are applied to Pearson residuals; Breusch-Godfrey then uses an auxiliary OLS of
the Pearson residuals on the design (labelled so in the output).

Placebo interruption dates: the same model is fitted to the pre-period only, with a fake
interruption at each admissible date (at least ``min_segment`` periods on each side), giving the
distribution of "effects" where none happened. The real effect's t statistic is ranked among the
placebo t statistics; ``placebo_p = (1 + #{|t_placebo| >= |t_real|}) / (1 + n_placebo)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["autocorrelation_tests", "placebo_distribution", "min_segment_for"]


def min_segment_for(frequency: str | None) -> int:
    """Shortest segment either side of a placebo date: a year of months, 6 quarters, 26 weeks."""
    return {"month": 12, "quarter": 6, "week": 26}.get(frequency or "", 4)


def autocorrelation_tests(
    resid: np.ndarray,
    design: np.ndarray,
    *,
    ols_result: Any | None,
    lags: int,
) -> dict[str, Any]:
    """Ljung-Box, Breusch-Godfrey and Durbin-Watson on residuals.

    Parameters
    ----------
    resid
        Residuals in time order (Pearson residuals for count models).
    design
        The design matrix (for the auxiliary Breusch-Godfrey regression).
    ols_result
        The statsmodels OLS results for OLS fits (Breusch-Godfrey on it directly), else ``None``.
    lags
        Number of lags tested.
    """
    import statsmodels.api as sm
    from statsmodels.stats.diagnostic import acorr_breusch_godfrey, acorr_ljungbox
    from statsmodels.stats.stattools import durbin_watson

    lags = max(1, min(lags, len(resid) // 3))
    lb = acorr_ljungbox(resid, lags=[lags], return_df=True)
    aux = ols_result if ols_result is not None else sm.OLS(resid, design).fit()
    with warnings.catch_warnings():
        # statsmodels 0.15 announces a change of return type; the first two values stay (LM, p)
        warnings.simplefilter("ignore", FutureWarning)
        bg = acorr_breusch_godfrey(aux, nlags=lags)
    bg_lm, bg_p = bg[0], bg[1]
    return {
        "lags": int(lags),
        "ljung_box": {"statistic": float(lb["lb_stat"].iloc[0]), "p_value": float(lb["lb_pvalue"].iloc[0])},
        "breusch_godfrey": {
            "statistic": float(bg_lm),
            "p_value": float(bg_p),
            "on": "OLS residuals" if ols_result is not None else "auxiliary OLS of Pearson residuals",
        },
        "durbin_watson": float(durbin_watson(resid)),
        "lag1_autocorrelation": float(np.corrcoef(resid[1:], resid[:-1])[0, 1]) if len(resid) > 2 else float("nan"),
    }


def placebo_distribution(
    times: np.ndarray,
    first_real: float,
    real_t: float,
    fit_placebo: Callable[[float], tuple[float, float] | None],
    *,
    min_segment: int,
    max_placebos: int = 60,
) -> dict[str, Any]:
    """Placebo interruptions in the pre-period.

    Parameters
    ----------
    times
        Time values of the observed rows.
    first_real
        Time of the first real interruption.
    real_t
        t statistic of the real level change.
    fit_placebo
        Fits the model to the pre-period with an interruption at the given time; returns the
        (estimate, t statistic) of its level change, or ``None`` if it cannot be fitted.
    min_segment
        Periods required on each side of a placebo date.
    max_placebos
        At most this many dates, evenly spread.
    """
    pre = np.sort(times[times < first_real])
    if len(pre) < 2 * min_segment:
        return {
            "n": 0,
            "note": f"pre-period of {len(pre)} periods is too short for placebo dates "
            f"(needs {2 * min_segment})",
        }
    candidates = pre[min_segment : len(pre) - min_segment + 1]
    if len(candidates) > max_placebos:
        candidates = candidates[np.linspace(0, len(candidates) - 1, max_placebos).round().astype(int)]
    estimates, tstats, used = [], [], []
    for c in candidates:
        out = fit_placebo(float(c))
        if out is None or not np.all(np.isfinite(out)):
            continue
        estimates.append(out[0])
        tstats.append(out[1])
        used.append(float(c))
    if not tstats:
        return {"n": 0, "note": "no placebo date could be fitted"}
    t = np.abs(np.asarray(tstats))
    exceed = int((t >= abs(real_t)).sum())
    return {
        "n": len(tstats),
        "times": used,
        "estimates": [float(e) for e in estimates],
        "t_statistics": [float(x) for x in tstats],
        "real_t_statistic": float(real_t),
        "rank_of_real": int((t < abs(real_t)).sum()) + 1,
        "placebo_p_value": (1 + exceed) / (1 + len(tstats)),
        "estimate_quantiles": {
            "min": float(np.min(estimates)),
            "median": float(np.median(estimates)),
            "max": float(np.max(estimates)),
        },
    }
