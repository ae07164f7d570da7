"""Effects of an interruption from a fitted ITS model: counterfactual, relative change, averted.

The counterfactual is the fitted mean with every interruption term set to zero: what the model
expects had the pre-period level, trend and seasonality continued. Quantities that are smooth
functions of the coefficients (relative change, cumulative harm averted, the counterfactual
interval) get intervals from a seeded parametric simulation: ``n_sim`` draws of the coefficients
from their estimated sampling distribution (normal, mean = estimates, covariance = the chosen
robust covariance), the quantity computed per draw, and the percentile interval. These intervals
describe the *expected* series, not a new observation. Relative changes of log-link models at a
horizon are exact functions of one linear combination and use its normal interval directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["FittedIts", "effect_rows", "counterfactual_frame"]


@dataclass
class FittedIts:
    """What the effect calculations need from a fit.

    Attributes
    ----------
    link
        ``"identity"`` or ``"log"``.
    names
        Coefficient names (design columns).
    params, cov
        Estimates and their covariance.
    df
        Degrees of freedom for t intervals, or ``None`` for normal intervals.
    x, x0
        Design with the interruption, and the counterfactual design (interruption terms zero).
    offset
        Offset on the linear-predictor scale (log population), or zeros.
    post
        Rows in the post-period of the first interruption.
    """

    link: str
    names: list[str]
    params: np.ndarray
    cov: np.ndarray
    df: float | None
    x: np.ndarray
    x0: np.ndarray
    offset: np.ndarray
    post: np.ndarray

    def inverse_link(self, eta: np.ndarray) -> np.ndarray:
        """Mean from the linear predictor."""
        return np.exp(eta) if self.link == "log" else eta

    def crit(self, level: float) -> float:
        """Two-sided critical value at ``level``."""
        q = 1 - (1 - level) / 2
        return float(stats.t.ppf(q, self.df) if self.df else stats.norm.ppf(q))

    def draws(self, n_sim: int, seed: int) -> np.ndarray:
        """``n_sim`` coefficient draws from N(params, cov), seeded."""
        rng = np.random.default_rng(seed)
        return rng.multivariate_normal(self.params, self.cov, size=n_sim, method="cholesky" if _pd(self.cov) else "eigh")


def _pd(a: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(a)
        return True
    except np.linalg.LinAlgError:
        return False


def _row(estimand: str, est: float, se: float, lo: float, hi: float, p: float, n: int, note: str) -> dict[str, object]:
    return {
        "estimand": estimand,
        "estimate": float(est),
        "std_error": float(se),
        "ci_lower": float(lo),
        "ci_upper": float(hi),
        "p_value": float(p),
        "n_obs": n,
        "n_areas": 1,
        "n_periods": n,
        "note": note,
    }


def _linear(fit: FittedIts, weights: np.ndarray, level: float) -> tuple[float, float, float, float, float]:
    est = float(weights @ fit.params)
    se = float(np.sqrt(max(weights @ fit.cov @ weights, 0.0)))
    c = fit.crit(level)
    if se > 0:
        z = est / se
        p = float(2 * (stats.t.sf(abs(z), fit.df) if fit.df else stats.norm.sf(abs(z))))
    else:
        p = float("nan")
    return est, se, est - c * se, est + c * se, p


def effect_rows(
    fit: FittedIts,
    *,
    interruptions: list[tuple[str, str, str | None]],
    horizons: list[int],
    level: float,
    n_sim: int,
    seed: int,
    population_post: np.ndarray | None,
    rate_per: float | None = None,
    relative: bool = True,
    per: float = 100_000,
) -> list[dict[str, object]]:
    """The estimand rows of an ITS fit.

    Parameters
    ----------
    fit
        The fitted model.
    interruptions
        Per interruption: its label, the name of its step column and of its slope column (or
        ``None`` when no slope change is modelled).
    horizons
        Periods since the first interruption (1 = its first period) for ``relative_change_h<k>``.
    level
        Confidence level.
    n_sim, seed
        Parametric simulation size and seed.
    population_post
        Population of each post-period row (for the count and per-100,000 versions of the
        cumulative effect), or ``None``.
    rate_per
        If the outcome is a rate per this many residents: the cumulative difference is then
        already per ``rate_per`` residents, and counts need each period's population.
    relative
        Report relative changes (not meaningful for a difference of two series).
    per
        Rate multiplier of ``cumulative_averted_per_100k``.
    """
    rows: list[dict[str, object]] = []
    n = len(fit.x)
    names = fit.names
    log = fit.link == "log"
    for k, (label, step, since) in enumerate(interruptions, start=1):
        suffix = "" if k == 1 else f"_{k}"
        w = np.zeros(len(names))
        w[names.index(step)] = 1.0
        est, se, lo, hi, p = _linear(fit, w, level)
        scale = "log rate ratio" if log else "outcome units"
        rows.append(_row(f"level_change{suffix}", est, se, lo, hi, p, n, f"step at {label} ({scale})"))
        if log:
            rows.append(
                _row(f"rate_ratio{suffix}", np.exp(est), np.exp(est) * se, np.exp(lo), np.exp(hi), p, n,
                     f"exp(level change) at {label}; SE by the delta method")
            )
        if since is not None:
            w = np.zeros(len(names))
            w[names.index(since)] = 1.0
            est, se, lo, hi, p = _linear(fit, w, level)
            rows.append(_row(f"slope_change{suffix}", est, se, lo, hi, p, n,
                             f"change in slope per period from {label} ({'log scale' if log else 'outcome units'})"))
            if log:
                rows.append(
                    _row(f"slope_rate_ratio{suffix}", np.exp(est), np.exp(est) * se, np.exp(lo), np.exp(hi), p, n,
                         f"exp(slope change): multiplicative change in the trend per period from {label}")
                )

    post = fit.post
    if not post.any():
        return rows
    draws = fit.draws(n_sim, seed)
    x1, x0, off = fit.x[post], fit.x0[post], fit.offset[post]
    mu1 = fit.inverse_link(x1 @ draws.T + off[:, None])
    mu0 = fit.inverse_link(x0 @ draws.T + off[:, None])
    mu1_hat = fit.inverse_link(x1 @ fit.params + off)
    mu0_hat = fit.inverse_link(x0 @ fit.params + off)
    n_post = int(post.sum())

    def simulated(name: str, point: float, sims: np.ndarray, note: str) -> dict[str, object]:
        return _simulated_row(name, point, sims, note, level=level, n=n_post)

    if relative:
        rows += _relative_rows(fit, draws, mu0, mu1, mu0_hat, mu1_hat, interruptions, horizons, level)
    diff_hat = mu0_hat - mu1_hat
    diff = mu0 - mu1
    note = ("counterfactual minus expected with the intervention, summed over the post-period "
            "(positive: fewer events than without the intervention)")
    if rate_per is None:
        rows.append(simulated("cumulative_averted", float(diff_hat.sum()), diff.sum(axis=0), note))
        if population_post is not None:
            f = per / float(np.nanmean(population_post))
            rows.append(simulated("cumulative_averted_per_100k", float(diff_hat.sum()) * f, diff.sum(axis=0) * f,
                                  f"cumulative_averted per {per:,.0f} residents (mean post-period population)"))
    else:
        if population_post is not None:
            w = population_post / rate_per
            rows.append(simulated("cumulative_averted", float(diff_hat @ w), w @ diff,
                                  f"{note}; events, from the rate and each period's population"))
        f = per / rate_per
        rows.append(simulated("cumulative_averted_per_100k", float(diff_hat.sum()) * f, diff.sum(axis=0) * f,
                              f"{note}; the outcome is a rate, so this is per {per:,.0f} residents"))
    return rows


def _simulated_row(name: str, point: float, sims: np.ndarray, note: str, *, level: float, n: int) -> dict[str, object]:
    """A row whose interval is the percentile interval of simulated draws (SE: their SD)."""
    sims = sims[np.isfinite(sims)]
    se = float(np.std(sims, ddof=1)) if len(sims) > 1 else float("nan")
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    lo, hi = np.percentile(sims, q) if len(sims) else (np.nan, np.nan)
    p = float(2 * stats.norm.sf(abs(point / se))) if se and np.isfinite(se) and se > 0 else float("nan")
    return _row(name, point, se, lo, hi, p, n, note)


def _relative_rows(
    fit: FittedIts,
    draws: np.ndarray,
    mu0: np.ndarray,
    mu1: np.ndarray,
    mu0_hat: np.ndarray,
    mu1_hat: np.ndarray,
    interruptions: list[tuple[str, str, str | None]],
    horizons: list[int],
    level: float,
) -> list[dict[str, object]]:
    n_post = int(fit.post.sum())
    rows = []
    rel_hat = (mu1_hat.sum() - mu0_hat.sum()) / mu0_hat.sum()
    rel = (mu1.sum(axis=0) - mu0.sum(axis=0)) / mu0.sum(axis=0)
    rows.append(_simulated_row(
        "relative_change", rel_hat, rel,
        "expected post-period total with the intervention over the counterfactual total, minus 1",
        level=level, n=n_post,
    ))
    names = fit.names
    since = interruptions[0][2]
    post_rows = np.flatnonzero(fit.post)
    for h in horizons:
        if since is not None:
            at = post_rows[np.isclose(fit.x[post_rows, names.index(since)], h)]
        else:
            at = post_rows[h - 1 : h]
        if len(at) == 0:
            continue
        i = int(at[0])
        if fit.link == "log":
            est, se, lo, hi, p = _linear(fit, fit.x[i] - fit.x0[i], level)
            rows.append(_row(f"relative_change_h{h}", np.exp(est) - 1, np.exp(est) * se, np.exp(lo) - 1, np.exp(hi) - 1,
                             p, 1, f"relative change {h} period(s) into the intervention (exact on the log scale)"))
        else:
            a1, a0 = fit.x[i] @ draws.T, fit.x0[i] @ draws.T
            point = float((fit.x[i] - fit.x0[i]) @ fit.params / (fit.x0[i] @ fit.params))
            rows.append(_simulated_row(f"relative_change_h{h}", point, (a1 - a0) / a0,
                                       f"relative change {h} period(s) into the intervention", level=level, n=1))
    return rows


def counterfactual_frame(
    fit: FittedIts,
    *,
    labels: np.ndarray,
    observed: np.ndarray,
    level: float,
    n_sim: int,
    seed: int,
) -> pd.DataFrame:
    """Observed, fitted and counterfactual series with the counterfactual's interval."""
    draws = fit.draws(n_sim, seed)
    mu0 = fit.inverse_link(fit.x0 @ draws.T + fit.offset[:, None])
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    lo, hi = np.percentile(mu0, q, axis=1)
    return pd.DataFrame(
        {
            "period": labels,
            "observed": observed,
            "fitted": fit.inverse_link(fit.x @ fit.params + fit.offset),
            "counterfactual": fit.inverse_link(fit.x0 @ fit.params + fit.offset),
            "counterfactual_lower": lo,
            "counterfactual_upper": hi,
            "post": fit.post,
        }
    )
