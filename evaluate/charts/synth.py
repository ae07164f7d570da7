"""Synthetic-control charts: treated against synthetic, the gap among placebo gaps, donor weights.

Drawn from a ``synthetic_control`` result's ``plot_data`` (``series``, ``placebo_gaps``,
``weights``), whatever the estimator (``sdid``, ``sc``, ``did``):

``synth_series``   the treated series (solid, circles) and its synthetic control (dashed,
                   squares), with a dashed vertical line at the start. With staggered adoption
                   each cohort is drawn against its own synthetic control, on event time.
``synth_gaps``     treated minus synthetic (thick), over the same gap of every donor fitted as
                   if it had been treated (thin grey lines): an effect is credible when the
                   treated gap after the start stands out from the placebo gaps.
``synth_weights``  each donor's weight in the synthetic control (largest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import PALETTE, SERIES_STYLES, new_axes, period_ticks, wrap
from evaluate.results.effect import EffectResult

__all__ = [
    "plot_synth_gaps",
    "plot_synth_series",
    "plot_synth_weights",
    "synth_gaps_alt",
    "synth_gaps_data",
    "synth_series_alt",
    "synth_series_data",
    "synth_weights_alt",
    "synth_weights_data",
]


_SHORT = {"sdid": "synthetic DiD", "sc": "synthetic control", "did": "DiD, equal weights"}


def _frame(result: EffectResult, name: str, columns: Sequence[str]) -> pd.DataFrame:
    d = result.plot_data.get(name)
    if d is None or not set(columns) <= set(d.columns):
        raise ValueError(
            f"synthetic-control chart: result {result.analysis}/{result.outcome} has no "
            f"plot_data['{name}'] with columns {list(columns)} (expected a synthetic_control result)"
        )
    return d


def synth_series_data(result: EffectResult, *, treated_shown: Sequence[bool] | np.ndarray | None = None) -> pd.DataFrame:
    """Treated and synthetic series, one row per cohort and period.

    Parameters
    ----------
    result
        A ``synthetic_control`` result.
    treated_shown
        Per row, whether the treated value may be published (disclosure control); by default all.

    Returns
    -------
    pandas.DataFrame
        ``cohort``, ``period`` (text), ``event_time``, ``treated`` (missing where suppressed),
        ``synthetic``, ``gap``, ``suppressed``.
    """
    d = _frame(result, "series", ["period", "treated", "synthetic", "event_time", "cohort"])
    out = d.loc[:, ["cohort", "period", "event_time", "treated", "synthetic"]].copy().reset_index(drop=True)
    out["period"] = out["period"].astype(str)
    out["cohort"] = out["cohort"].astype(str)
    out["gap"] = out["treated"].to_numpy(dtype=float) - out["synthetic"].to_numpy(dtype=float)
    shown = np.ones(len(out), bool) if treated_shown is None else np.asarray(treated_shown, dtype=bool)
    if len(shown) != len(out):
        raise ValueError(f"synth_series_data: treated_shown has {len(shown)} values for {len(out)} rows")
    out["treated"] = np.where(shown, out["treated"].to_numpy(dtype=float), np.nan)
    out["gap"] = np.where(shown, out["gap"], np.nan)
    out["suppressed"] = ~shown
    return out


def _axis(d: pd.DataFrame) -> tuple[np.ndarray, list[float], list[str], str, bool]:
    """x values, ticks and label: periods for one cohort, event time for several."""
    staggered = d["cohort"].nunique() > 1
    if staggered:
        x = d["event_time"].to_numpy(dtype=float)
        ticks = sorted(set(x.tolist()))
        step = max(1, int(np.ceil(len(ticks) / 10)))
        return x, ticks[::step], [f"{int(t)}" for t in ticks[::step]], "Periods since the cohort's start", True
    order = {p: i for i, p in enumerate(pd.unique(d["period"]))}
    x = d["period"].map(order).to_numpy(dtype=float)
    ticks, labels = period_ticks(list(order.values()), list(order))
    return x, ticks, labels, "", False


def _start_x(d: pd.DataFrame, staggered: bool, x: np.ndarray) -> float:
    if staggered:
        return -0.5
    post = x[d["event_time"].to_numpy(dtype=float) >= 0]
    pre = x[d["event_time"].to_numpy(dtype=float) < 0]
    return (float(pre.max()) + float(post.min())) / 2 if len(pre) and len(post) else float(post.min()) - 0.5


def plot_synth_series(result: EffectResult, *, data: pd.DataFrame | None = None, ax: Any = None,
                      title: str | None = None) -> Any:
    """Draw the treated series against its synthetic control.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = synth_series_data(result) if data is None else data
    fig, ax = new_axes(ax)
    x, ticks, labels, xlabel, staggered = _axis(d)
    for i, (cohort, idx) in enumerate(d.groupby("cohort", sort=False).groups.items()):
        rows = d.loc[idx]
        xs = x[d.index.get_indexer(idx)]
        suffix = f" (cohort {cohort})" if staggered else ""
        st_t, st_s = SERIES_STYLES[(2 * i) % len(SERIES_STYLES)], SERIES_STYLES[(2 * i + 1) % len(SERIES_STYLES)]
        ax.plot(xs, rows["treated"].to_numpy(dtype=float), color=st_t["color"], linestyle="-", marker="o",
                markersize=2.5, linewidth=1.4, label=f"Treated{suffix}")
        ax.plot(xs, rows["synthetic"].to_numpy(dtype=float), color=st_s["color"], linestyle="--", marker="s",
                markersize=2.0, linewidth=1.4, label=f"Synthetic control{suffix}")
    start = _start_x(d, staggered, x)
    ax.axvline(start, color=PALETTE["black"], linestyle=(0, (4, 2)), linewidth=1.0)
    ax.annotate("start", xy=(start, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),
                textcoords="offset points", fontsize=8, va="top")
    ax.set_xticks(ticks, labels)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(wrap(result.outcome_label, 45))
    if d["suppressed"].any():
        ax.annotate(f"{int(d['suppressed'].sum())} treated values suppressed (small counts)", xy=(1.0, 1.0),
                    xycoords="axes fraction", ha="right", va="bottom", fontsize=8)
    name = _SHORT.get(result.estimator, result.estimator)
    ax.set_title(wrap(title or f"{result.outcome_label}: {result.unit} and its synthetic control ({name})", 75), loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, fontsize=8)
    return fig


def synth_series_alt(result: EffectResult, data: pd.DataFrame | None = None) -> str:
    """Alt text for :func:`plot_synth_series`."""
    d = synth_series_data(result) if data is None else data
    pre = d[d["event_time"] < 0]
    post = d[d["event_time"] >= 0]
    text = (f"Line chart of {result.outcome_label} in {result.unit} and in its synthetic control (a weighted "
            f"mix of untreated areas), {len(pre)} periods before and {len(post)} after the start.")
    if len(pre):
        text += f" Before the start the two differ by {np.sqrt(np.nanmean(pre['gap'] ** 2)):.3g} on average (root mean square)."
    if len(post):
        text += f" After the start the treated series is {np.nanmean(post['gap']):+.3g} from the synthetic on average."
    return text


def synth_gaps_data(result: EffectResult, *, treated_shown: Sequence[bool] | np.ndarray | None = None) -> pd.DataFrame:
    """The treated gap and every placebo gap, long: ``cohort``, ``period``, ``event_time``, ``area``,
    ``gap``, ``placebo`` (False for the treated gap).

    Placebo gaps are differences between two synthetic quantities fitted to a donor area; the
    treated gap is missing where the treated value is suppressed.
    """
    s = synth_series_data(result, treated_shown=treated_shown)
    treated = s.loc[:, ["cohort", "period", "event_time", "gap"]].assign(area=result.unit or "treated", placebo=False)
    p = result.plot_data.get("placebo_gaps")
    if p is None or p.empty:
        return treated.loc[:, ["cohort", "period", "event_time", "area", "gap", "placebo"]]
    placebo = p.loc[:, ["cohort", "period", "event_time", "area", "gap"]].assign(placebo=True)
    placebo["period"] = placebo["period"].astype(str)
    placebo["cohort"] = placebo["cohort"].astype(str)
    placebo["area"] = placebo["area"].astype(str)
    return pd.concat([treated, placebo], ignore_index=True).loc[:, ["cohort", "period", "event_time", "area", "gap", "placebo"]]


def plot_synth_gaps(result: EffectResult, *, data: pd.DataFrame | None = None, ax: Any = None,
                    title: str | None = None) -> Any:
    """Draw the treated gap over the placebo gaps (first cohort when adoption is staggered).

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = synth_gaps_data(result) if data is None else data
    first = d["cohort"].iloc[0]
    d = d[d["cohort"] == first].reset_index(drop=True)
    fig, ax = new_axes(ax)
    order = {p: i for i, p in enumerate(pd.unique(d["period"]))}
    x_all = d["period"].map(order).to_numpy(dtype=float)
    placebo = d["placebo"].to_numpy(dtype=bool)
    n_placebo = 0
    for _area, idx in d[placebo].groupby("area", sort=True).groups.items():
        pos = d.index.get_indexer(idx)
        ax.plot(x_all[pos], d.loc[idx, "gap"].to_numpy(dtype=float), color=PALETTE["grey"], linewidth=0.6,
                alpha=0.45, label="Untreated areas fitted as if treated (placebos)" if n_placebo == 0 else None)
        n_placebo += 1
    t = d[~placebo]
    xt = x_all[~placebo]
    ax.plot(xt, t["gap"].to_numpy(dtype=float), color=PALETTE["vermillion"], linewidth=2.2, marker="o", markersize=2.5,
            label=f"{result.unit or 'Treated'} (treated minus synthetic)")
    ax.axhline(0, color=PALETTE["black"], linewidth=0.9)
    ev = t["event_time"].to_numpy(dtype=float)
    if (ev >= 0).any() and (ev < 0).any():
        start = (xt[ev < 0].max() + xt[ev >= 0].min()) / 2
        ax.axvline(start, color=PALETTE["black"], linestyle=(0, (4, 2)), linewidth=1.0)
        ax.annotate("start", xy=(start, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),
                    textcoords="offset points", fontsize=8, va="top")
    ticks, labels = period_ticks(list(order.values()), list(order))
    ax.set_xticks(ticks, labels)
    ax.set_ylabel(wrap(f"Gap in {result.outcome_label}", 45))
    isp = result.diagnostics.get("in_space_placebo") or {}
    p_text = f"\npermutation p = {isp['p_value']:.3f} (rank among {isp['n']} placebo areas)" if "p_value" in isp else ""
    ax.set_title(title or wrap(f"{result.outcome_label}: treated gap among placebo gaps", 75) + p_text, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, fontsize=8)
    return fig


def synth_gaps_alt(result: EffectResult, data: pd.DataFrame | None = None) -> str:
    """Alt text for :func:`plot_synth_gaps`."""
    d = synth_gaps_data(result) if data is None else data
    n = d.loc[d["placebo"], "area"].nunique()
    text = (f"Line chart of the gap between {result.unit or 'the treated area'} and its synthetic control in "
            f"{result.outcome_label}, drawn over the same gap for {n} untreated areas fitted as if treated.")
    isp = result.diagnostics.get("in_space_placebo") or {}
    if "p_value" in isp:
        rank = round(isp["p_value"] * (isp["n"] + 1))
        text += (f" Ranked by how much the gap grows after the start (post/pre root mean squared gap), the "
                 f"treated area is number {rank} of {isp['n'] + 1} (permutation p = {isp['p_value']:.3f}).")
    return text


def synth_weights_data(result: EffectResult, *, top: int = 20) -> pd.DataFrame:
    """Donor weights, largest first: ``cohort``, ``area``, ``weight``; donors beyond ``top`` (or
    with zero weight) are summed into one ``other donors`` row per cohort."""
    w = _frame(result, "weights", ["area", "weight", "cohort"]).copy()
    w["area"] = w["area"].astype(str)
    w["cohort"] = w["cohort"].astype(str)
    rows = []
    for cohort, g in w.groupby("cohort", sort=False):
        g = g.sort_values(["weight", "area"], ascending=[False, True])
        head = g[g["weight"] > 0].head(top)
        rows.append(head.loc[:, ["cohort", "area", "weight"]])
        rest = g.drop(index=head.index)
        if len(rest):
            rows.append(pd.DataFrame({"cohort": [cohort], "area": [f"{len(rest)} other donors"],
                                      "weight": [float(rest["weight"].sum())]}))
    return pd.concat(rows, ignore_index=True)


def plot_synth_weights(result: EffectResult, *, data: pd.DataFrame | None = None, ax: Any = None,
                       title: str | None = None) -> Any:
    """Horizontal bars of the donor weights (first cohort when adoption is staggered).

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = synth_weights_data(result) if data is None else data
    d = d[d["cohort"] == d["cohort"].iloc[0]]
    own = ax is None
    fig, ax = new_axes(ax, height=max(3.0, 0.28 * len(d) + 1.4))
    if own:
        longest = max((len(a) for a in d["area"]), default=8)
        fig.subplots_adjust(left=min(0.45, 0.04 + 0.0125 * longest), bottom=0.12, top=0.92)
    y = np.arange(len(d))[::-1]
    ax.barh(y, d["weight"].to_numpy(dtype=float), color=PALETTE["blue"], edgecolor=PALETTE["black"], linewidth=0.5)
    for yi, wv in zip(y, d["weight"].to_numpy(dtype=float), strict=True):
        ax.annotate(f"{wv:.2f}", xy=(wv, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(y, d["area"].tolist())
    ax.set_xlabel("Weight in the synthetic control (weights sum to 1)")
    ax.grid(True, axis="x", color="#DDDDDD", linewidth=0.6)
    ax.grid(False, axis="y")
    ax.set_title(wrap(title or f"Donor areas making up the synthetic {result.unit or 'control'}", 75), loc="left")
    return fig


def synth_weights_alt(result: EffectResult, data: pd.DataFrame | None = None) -> str:
    """Alt text for :func:`plot_synth_weights`."""
    d = synth_weights_data(result) if data is None else data
    d = d[d["cohort"] == d["cohort"].iloc[0]]
    named = d[~d["area"].str.endswith("other donors")]
    parts = ", ".join(f"{a} {w:.2f}" for a, w in zip(named["area"].head(5), named["weight"].head(5), strict=True))
    eff = result.diagnostics.get("effective_donors")
    extra = f" The weights are spread like {eff:.1f} equally weighted donors." if eff else ""
    return (f"Bar chart of the weights of {len(named)} donor areas in the synthetic control for "
            f"{result.unit or 'the treated area'}; the largest are {parts}.{extra}")
