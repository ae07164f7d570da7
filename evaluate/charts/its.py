"""The interrupted-time-series chart: observed, fitted and counterfactual series.

Dots are the observed values, the solid line the model's fit, the dashed line what the model
expects had the pre-intervention level, trend and seasonality continued (the counterfactual),
with its interval shaded (and outlined, so the band does not rely on colour). A vertical line
marks the intervention's start; phase-in periods are hatched. Observed values suppressed by
disclosure control are left out and the chart says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import PALETTE, new_axes, period_ticks, wrap
from evaluate.results.effect import EffectResult

__all__ = ["its_data", "plot_its", "its_alt", "its_phase_in"]

_COLUMNS = ("period", "time", "observed", "fitted", "counterfactual", "counterfactual_lower",
            "counterfactual_upper", "post")


def its_data(result: EffectResult, *, observed_shown: Sequence[bool] | np.ndarray | None = None) -> pd.DataFrame:
    """The ITS chart's data: one row per period used in the fit.

    Parameters
    ----------
    result
        An ITS result (``plot_data["series"]`` holds the series).
    observed_shown
        Per row, whether the observed value may be published (disclosure control); by default
        all.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``time``, ``observed`` (missing where suppressed), ``fitted``,
        ``counterfactual``, ``counterfactual_lower``, ``counterfactual_upper``, ``post``,
        ``suppressed``.

    Raises
    ------
    ValueError
        If the result has no ITS series.
    """
    series = result.plot_data.get("series")
    if series is None or not set(_COLUMNS) <= set(series.columns):
        raise ValueError(
            f"its_data: result {result.analysis}/{result.outcome} has no ITS series in plot_data "
            "(expected plot_data['series'] from evaluate.its)"
        )
    out = series.loc[:, list(_COLUMNS)].copy().reset_index(drop=True)
    out["period"] = out["period"].astype(str)
    shown = np.ones(len(out), bool) if observed_shown is None else np.asarray(observed_shown, dtype=bool)
    if len(shown) != len(out):
        raise ValueError(f"its_data: observed_shown has {len(shown)} values for {len(out)} periods")
    out["observed"] = np.where(shown, out["observed"].to_numpy(dtype=float), np.nan)
    out["suppressed"] = ~shown
    return out


def its_phase_in(result: EffectResult, data: pd.DataFrame, phase_in_periods: int | None = None) -> tuple[float, float, str] | None:
    """The phase-in span to shade: ``(from, to, label)`` in time units, or ``None``.

    Periods left out between the start and the first post-period row are excluded phase-in;
    otherwise ``phase_in_periods`` (kept in the model, flagged) are shaded from the start.
    """
    starts = result.diagnostics.get("interruptions") or []
    if not starts:
        return None
    t0 = _start_line(result, data) + 0.5
    post = data.loc[data["post"].astype(bool), "time"]
    if len(post) and float(post.min()) > t0:
        return t0 - 0.5, float(post.min()) - 0.5, "phase-in (left out of the model)"
    if phase_in_periods:
        return t0 - 0.5, t0 + phase_in_periods - 0.5, "phase-in (kept in the model)"
    return None


def _start_line(result: EffectResult, data: pd.DataFrame) -> float:
    """Where the intervention starts on the time axis (a period boundary).

    Excluded phase-in periods are absent from the series, so the model's interruption sits at
    the first period after them; the intervention itself started right after the last
    pre-period row when there is such a gap.
    """
    t_first = float(result.diagnostics["interruptions"][0]["time"])
    times = data["time"].to_numpy(dtype=float)
    before = times[times < t_first]
    if len(before) and t_first - before.max() > 1:
        return float(before.max()) + 0.5
    return t_first - 0.5


def _ylabel(result: EffectResult) -> str:
    if result.estimator == "controlled_ols":
        return wrap(f"{result.outcome_label}: difference from the comparison series", 45)
    return wrap(result.outcome_label, 45)


def plot_its(
    result: EffectResult,
    *,
    data: pd.DataFrame | None = None,
    ax: Any = None,
    phase_in_periods: int | None = None,
    intervention_label: str | None = None,
    title: str | None = None,
) -> Any:
    """Draw an ITS result.

    Parameters
    ----------
    result
        The ITS result.
    data
        Chart data from :func:`its_data` (e.g. with suppressed points); by default all points.
    ax
        Axes to draw on; a new figure by default.
    phase_in_periods
        Phase-in periods kept in the model (``handling: flag``), shaded from the start.
    intervention_label
        Plain-language name of the intervention for the start marker.
    title
        Chart title; by default the outcome and unit.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = its_data(result) if data is None else data
    fig, ax = new_axes(ax)
    post = d["post"].to_numpy(dtype=bool)
    t = d["time"].to_numpy(dtype=float)
    ci = f"{result.ci_level:.0%}"
    pre_idx, post_idx = np.flatnonzero(~post), np.flatnonzero(post)

    span = its_phase_in(result, d, phase_in_periods)
    if span is not None:
        ax.axvspan(span[0], span[1], facecolor="#EEEEEE", edgecolor=PALETTE["grey"], hatch="//",
                   linewidth=0.0, label=span[2].capitalize())
    if len(post_idx):
        ax.fill_between(t[post_idx], d["counterfactual_lower"].to_numpy(dtype=float)[post_idx],
                        d["counterfactual_upper"].to_numpy(dtype=float)[post_idx],
                        facecolor=PALETTE["sky_blue"], alpha=0.25, edgecolor=PALETTE["blue"],
                        linewidth=0.6, linestyle=":", label=f"{ci} interval of the counterfactual")
    fitted = d["fitted"].to_numpy(dtype=float)
    for k, idx in enumerate((pre_idx, post_idx)):
        if len(idx):
            ax.plot(t[idx], fitted[idx], color=PALETTE["blue"], linestyle="-", linewidth=1.8,
                    label="Model fit" if k == 0 or not len(pre_idx) else None)
    if len(post_idx):
        ax.plot(t[post_idx], d["counterfactual"].to_numpy(dtype=float)[post_idx], color=PALETTE["vermillion"],
                linestyle="--", linewidth=1.8, label="Expected without the intervention (counterfactual)")
    obs = d["observed"].to_numpy(dtype=float)
    shown = np.isfinite(obs)
    if shown.any():
        ax.plot(t[shown], obs[shown], linestyle="none", marker="o", markersize=3.2,
                markerfacecolor=PALETTE["black"], markeredgecolor=PALETTE["black"], label="Observed")
    n_sup = int(d["suppressed"].sum()) if "suppressed" in d else 0
    if n_sup:
        note = ("Observed values not shown: some counts are below the disclosure threshold"
                if n_sup == len(d) else f"{n_sup} observed values suppressed (small counts)")
        ax.text(0.01, 0.02, note, transform=ax.transAxes, fontsize=8, color=PALETTE["black"], va="bottom")

    starts = result.diagnostics.get("interruptions") or []
    for k, s in enumerate(starts):
        x = _start_line(result, d) if k == 0 else float(s["time"]) - 0.5
        ax.axvline(x, color=PALETTE["black"], linestyle=(0, (4, 2)), linewidth=1.0)
        name = intervention_label or result.intervention or "intervention"
        text = f"{name} starts ({s['label']})" if k == 0 else f"{s['label']}"
        ax.annotate(text, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),
                    textcoords="offset points", fontsize=8, va="top", ha="left")
    ticks, labels = period_ticks(t, d["period"].tolist())
    ax.set_xticks(ticks, labels)
    ax.set_ylabel(_ylabel(result))
    ax.set_xlabel("Period")
    unit = f" ({result.unit})" if result.unit else ""
    ax.set_title(wrap(title or f"{result.outcome_label}{unit}", 75), loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, fontsize=8)
    return fig


def its_alt(result: EffectResult, data: pd.DataFrame | None = None, *, intervention_label: str | None = None) -> str:
    """Alt text for :func:`plot_its`: what is drawn and what it shows."""
    d = its_data(result) if data is None else data
    post = d["post"].to_numpy(dtype=bool)
    name = intervention_label or result.intervention or "the intervention"
    starts = result.diagnostics.get("interruptions") or []
    start = f" from {starts[0]['label']}" if starts else ""
    unit = f" for {result.unit}" if result.unit else ""
    periods = d["period"].astype(str)
    text = (
        f"Interrupted time series chart of {result.outcome_label}{unit}, {periods.iloc[0]} to "
        f"{periods.iloc[-1]}. Dots show observed values, a solid line the model fit, and a dashed "
        f"line with a shaded {result.ci_level:.0%} interval what the model expects without {name}"
        f"{start}, marked by a vertical line."
    )
    span = its_phase_in(result, d)
    if span is not None:
        text += f" Hatched periods are the {span[2]}."
    n_sup = int(d["suppressed"].sum()) if "suppressed" in d else 0
    if n_sup:
        text += f" {n_sup} observed values are suppressed because they rest on small counts."
    cf = d.loc[post, "counterfactual"].to_numpy(dtype=float)
    fit = d.loc[post, "fitted"].to_numpy(dtype=float)
    if post.any() and result.estimator != "controlled_ols" and np.nansum(cf) > 0:
        rel = np.nansum(fit) / np.nansum(cf) - 1
        where = "above" if rel > 0 else "below"
        text += (f" Over the {int(post.sum())} post-intervention periods the fitted line is on "
                 f"average {abs(rel):.0%} {where} the counterfactual.")
    return text
