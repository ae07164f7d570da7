"""Outputs vs outcomes: police activity beside harm outcomes in the treated areas over time.

Harm-focused policing asks whether the *outcomes* (overdoses, deaths, admissions) moved, not
whether the *outputs* (searches, arrests, seizures) did. This chart puts the two side by side for
an intervention's treated areas: every series is the treated areas' total, indexed so that its
pre-intervention average is 100, on one time axis. Police activity is drawn in the upper panel
with broken lines and square or triangle markers, harm outcomes in the lower panel with solid
lines and round markers, each labelled at its end, so the two never rely on colour to be told
apart.

With a single start date the axis is calendar time; with staggered adoption it is event time
(periods since each area's own start), and each point sums the areas at that event time (only
event times that every treated area reaches are drawn).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import PALETTE, period_ticks, wrap

__all__ = ["outputs_outcomes_data", "plot_outputs_outcomes", "outputs_outcomes_alt"]

_ACTIVITY = (
    {"color": PALETTE["vermillion"], "linestyle": "--", "marker": "s"},
    {"color": PALETTE["orange"], "linestyle": "-.", "marker": "^"},
    {"color": PALETTE["reddish_purple"], "linestyle": (0, (5, 1, 1, 1)), "marker": "v"},
    {"color": PALETTE["black"], "linestyle": ":", "marker": "D"},
    {"color": PALETTE["grey"], "linestyle": (0, (3, 1, 1, 1, 1, 1)), "marker": "X"},
)
_HARM = (
    {"color": PALETTE["blue"], "linestyle": "-", "marker": "o"},
    {"color": PALETTE["bluish_green"], "linestyle": "-", "marker": "D"},
    {"color": PALETTE["sky_blue"], "linestyle": "-", "marker": "P"},
    {"color": PALETTE["black"], "linestyle": "-", "marker": "h"},
    {"color": PALETTE["grey"], "linestyle": "-", "marker": "*"},
)
ROLE_TITLES = {"activity": "Police activity (outputs)", "harm": "Harm outcomes"}


def outputs_outcomes_data(
    panel_data: pd.DataFrame,
    *,
    areas: Sequence[str],
    activity: Sequence[str],
    harm: Sequence[str],
    start: pd.Period | None = None,
    event_time: str | None = None,
    block: int = 1,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Treated areas' totals of activity and harm series, indexed to the pre-period (= 100).

    Parameters
    ----------
    panel_data
        Panel rows (``area_code``, ``period`` as pandas Periods, the series).
    areas
        The treated areas.
    activity, harm
        Count columns of each role.
    start
        First treated period (single start; calendar axis).
    event_time
        Column of periods since each area's start (staggered adoption; event-time axis).
    block
        Periods per point, counted from the start (3 turns months into quarters that never
        straddle the start); incomplete blocks at either end are left out.
    labels
        Plain-language names of the series.

    Returns
    -------
    pandas.DataFrame
        ``variable``, ``label``, ``role``, ``period`` (label of the block's first period, or
        its event time), ``time`` (period ordinal or event time of the block's first period),
        ``span`` (periods in the block), ``value`` (the total), ``pre_mean``, ``index`` (value /
        pre_mean x 100), ``post``, ``suppressed`` (False; disclosure control sets it).

    Raises
    ------
    ValueError
        Without ``start`` or ``event_time``, or with ``block < 1``.
    """
    if (start is None) == (event_time is None):
        raise ValueError("outputs_outcomes_data: give start (single start) or event_time (staggered)")
    if block < 1:
        raise ValueError(f"outputs_outcomes_data: block must be 1 or more, got {block}")
    labels = dict(labels or {})
    rows = panel_data[panel_data["area_code"].isin(list(areas))]
    n = rows["area_code"].nunique()
    if event_time is None:
        origin = float(start.ordinal)  # type: ignore[union-attr]
        offset = pd.PeriodIndex(rows["period"]).asi8.astype(float) - origin
    else:
        origin = 0.0
        offset = rows[event_time].astype(float).to_numpy()
    key = pd.Series(np.floor(offset / block), index=rows.index)
    freq = rows["period"].dtype.freq if event_time is None else None
    # blocks every treated area fills completely (each area present in each of its periods)
    per_block = rows.groupby(key).size()
    full = per_block[per_block == n * block].index.to_numpy(dtype=float)
    cols = ["variable", "label", "role", "period", "time", "span", "value", "pre_mean", "index", "post", "suppressed"]
    frames = []
    for role, columns in (("activity", activity), ("harm", harm)):
        for col in columns:
            v = rows[col].astype(float)
            sums = v.groupby(key, sort=True).sum(min_count=1)
            ok = (v.notna().groupby(key, sort=True).sum() == n * block).to_numpy()
            blocks = sums.index.to_numpy(dtype=float)
            value = np.where(ok, sums.to_numpy(dtype=float), np.nan)
            inside = np.isin(blocks, full)
            blocks, value = blocks[inside], value[inside]
            time = origin + blocks * block
            post = blocks >= 0
            if freq is not None:
                period = [str(pd.Period(ordinal=int(x), freq=freq)) for x in time]
            else:
                period = [f"{int(x):+d}" for x in time]
            pre_vals = value[~post & np.isfinite(value)]
            pre_mean = float(pre_vals.mean()) if len(pre_vals) else np.nan
            frames.append(pd.DataFrame({
                "variable": col,
                "label": labels.get(col, col),
                "role": role,
                "period": period,
                "time": time,
                "span": block,
                "value": value,
                "pre_mean": pre_mean,
                "index": value / pre_mean * 100 if pre_mean and np.isfinite(pre_mean) else np.nan,
                "post": post,
                "suppressed": False,
            }))
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def plot_outputs_outcomes(
    data: pd.DataFrame,
    *,
    ax: Any = None,
    start_label: str = "",
    title: str = "",
) -> Any:
    """Draw :func:`outputs_outcomes_data`: activity above, harm below, one time axis.

    Parameters
    ----------
    data
        Chart data (suppressed points are not drawn).
    ax
        One axes to draw both roles on; by default a new figure with two stacked panels.
    start_label
        Text of the start marker.
    title
        Chart title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    own = ax is None
    if own:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from evaluate.charts.style import _rc, _style_axes

        with _rc():
            fig = Figure(figsize=(9, 7), layout="constrained")
            FigureCanvasAgg(fig)
            axes = fig.subplots(2, 1, sharex=True)
            for a in axes:
                _style_axes(a)
        panels = {"activity": axes[0], "harm": axes[1]}
    else:
        fig = ax.figure
        panels = {"activity": ax, "harm": ax}
    event = not data.empty and data["period"].astype(str).str.match(r"^[+-]\d+$").all()
    n_sup = 0
    for role, styles in (("activity", _ACTIVITY), ("harm", _HARM)):
        a = panels[role]
        ends: list[tuple[float, float, str, str]] = []
        for k, (var, g) in enumerate(data[data["role"] == role].groupby("variable", sort=False)):
            st = styles[k % len(styles)]
            t = g["time"].to_numpy(dtype=float)
            y = g["index"].to_numpy(dtype=float).copy()
            sup = g["suppressed"].to_numpy(dtype=bool)
            n_sup += int(sup.sum())
            y[sup] = np.nan
            prefix = "Police activity: " if role == "activity" else "Harm: "
            label = f"{prefix}{g['label'].iloc[0]}"
            a.plot(t, y, color=st["color"], linestyle=st["linestyle"], marker=st["marker"], markersize=4.5,
                   markevery=max(1, len(t) // 16), linewidth=1.5, label=label)
            finite = np.flatnonzero(np.isfinite(y))
            if len(finite) and own:
                i = finite[-1]
                ends.append((t[i], y[i], wrap(str(g["label"].iloc[0]), 28), st["color"]))
        _end_labels(a, ends)
        a.axhline(100, color=PALETTE["grey"], linewidth=0.8, linestyle=":")
        a.set_ylabel("Index (pre-period average = 100)")
        if own:
            a.set_title(ROLE_TITLES[role], loc="left", fontsize=10)
            a.legend(loc="upper left", fontsize=7.5, ncol=1)
    starts = data.loc[data["post"].astype(bool), "time"]
    x0 = -0.5 if event else (float(starts.min()) - 0.5 if len(starts) else None)
    for a in set(panels.values()):
        if x0 is not None:
            a.axvline(x0, color=PALETTE["black"], linestyle=(0, (4, 2)), linewidth=1.0)
            a.annotate(start_label or "start", xy=(x0, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),
                       textcoords="offset points", fontsize=8, va="top")
    bottom = panels["harm"]
    first = data.drop_duplicates("time").sort_values("time")
    if event:
        bottom.set_xlabel("Periods since the intervention started in each area")
    else:
        ticks, labels = period_ticks(first["time"].tolist(), first["period"].tolist())
        bottom.set_xticks(ticks, labels)
        span = int(data["span"].iloc[0]) if "span" in data and len(data) else 1
        bottom.set_xlabel("Period" if span == 1 else f"Period (each point totals {span} periods, counted from the start)")
    if not own:
        bottom.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, fontsize=8)
    if n_sup:
        bottom.text(0.01, 0.02, f"{n_sup} points suppressed (small counts)", transform=bottom.transAxes, fontsize=8)
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11)
    return fig


def _end_labels(ax: Any, ends: list[tuple[float, float, str, str]]) -> None:
    """Label lines at their last point, nudged apart so that labels do not overlap."""
    if not ends:
        return
    ys = [e[1] for e in ends]
    lo, hi = ax.get_ylim()
    gap = 0.07 * (hi - lo)
    order = np.argsort(ys)
    placed: list[float] = []
    for i in order:
        y = ys[i]
        if placed and y - placed[-1] < gap:
            y = placed[-1] + gap
        placed.append(y)
        x, y0, text, colour = ends[i]
        ax.annotate(text, xy=(x, y0), xytext=(x, y), textcoords="data", fontsize=7.5, color=colour,
                    va="center", ha="left", annotation_clip=False,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def outputs_outcomes_alt(data: pd.DataFrame, *, areas_text: str, start_label: str = "") -> str:
    """Alt text for :func:`plot_outputs_outcomes`: each series' average index after the start."""
    parts = []
    for (role, _var), g in data.groupby(["role", "variable"], sort=False):
        post = g[g["post"].astype(bool) & ~g["suppressed"].astype(bool)]["index"].astype(float)
        post = post[np.isfinite(post)]
        what = "police activity" if role == "activity" else "harm"
        if len(post):
            parts.append(f"{g['label'].iloc[0]} ({what}) averages {post.mean():.0f} after the start")
        else:
            parts.append(f"{g['label'].iloc[0]} ({what}): no values shown after the start")
    text = (f"Two-panel line chart for {areas_text}: police activity series (upper panel, broken lines) and "
            f"harm outcome series (lower panel, solid lines), each indexed so that its pre-intervention "
            f"average is 100{', with the start ' + start_label + ' marked' if start_label else ''}. ")
    n_sup = int(data["suppressed"].sum())
    if n_sup:
        text += f"{n_sup} points are suppressed because they rest on small counts. "
    return text + "; ".join(parts) + "."
