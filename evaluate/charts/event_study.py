"""Event-study chart: effects by periods since the intervention (``att_e<k>`` estimands).

Any result whose estimands include ``att_e<k>`` (DESIGN.md's names for event time ``k``) can be
drawn, whatever estimator produced it. Pre-period coefficients (``k < 0``) test for differences
before the start: they should sit around zero. They are drawn as hollow circles, post-period
effects as filled squares, each with its interval; a dashed line marks the start and the
reference period (usually ``k = -1``, fixed at zero) is drawn as a hollow diamond.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import PALETTE, new_axes, wrap
from evaluate.results.effect import EffectResult

__all__ = ["event_study_data", "plot_event_study", "event_study_alt", "has_event_study"]

_EVENT = re.compile(r"^att_e(-?\d+)$")


def has_event_study(result: EffectResult) -> bool:
    """Whether the result has ``att_e<k>`` estimands (or ``plot_data["event_study"]``) to draw."""
    return "event_study" in result.plot_data or any(_EVENT.match(str(e)) for e in result.estimates["estimand"])


def event_study_data(result: EffectResult, *, reference: int | None = -1) -> pd.DataFrame:
    """Event-time effects of a result.

    Parameters
    ----------
    result
        A result with ``att_e<k>`` estimands.
    reference
        Event time fixed at zero by the design, added (as ``reference``) when absent; ``None``
        adds nothing.

    Returns
    -------
    pandas.DataFrame
        ``event_time``, ``estimate``, ``ci_lower``, ``ci_upper``, ``p_value``, ``band_lower``,
        ``band_upper`` (a simultaneous band, when the estimator gives one), ``period`` (``pre``,
        ``post`` or ``reference``), sorted by event time. Taken from ``plot_data["event_study"]``
        when the result has it, else from the ``att_e<k>`` estimands.

    Raises
    ------
    ValueError
        If the result has no event-time estimands.
    """
    rows = []
    given = result.plot_data.get("event_study")
    if given is not None and {"event_time", "estimate", "ci_lower", "ci_upper"} <= set(given.columns):
        for _, r in given.iterrows():
            k = int(r["event_time"])
            rows.append({"event_time": k, "estimate": float(r["estimate"]), "ci_lower": float(r["ci_lower"]),
                         "ci_upper": float(r["ci_upper"]), "p_value": float(r.get("p_value", np.nan)),
                         "band_lower": float(r.get("band_lower", np.nan)), "band_upper": float(r.get("band_upper", np.nan)),
                         "period": "pre" if k < 0 else "post"})
    for _, r in (result.estimates.iterrows() if not rows else iter(())):
        m = _EVENT.match(str(r["estimand"]))
        if m:
            k = int(m.group(1))
            rows.append({"event_time": k, "estimate": float(r["estimate"]), "ci_lower": float(r["ci_lower"]),
                         "ci_upper": float(r["ci_upper"]), "p_value": float(r["p_value"]),
                         "band_lower": np.nan, "band_upper": np.nan, "period": "pre" if k < 0 else "post"})
    if not rows:
        raise ValueError(f"event_study_data: {result.analysis}/{result.outcome} has no att_e<k> estimands")
    if reference is not None and reference not in {r["event_time"] for r in rows}:
        rows.append({"event_time": reference, "estimate": 0.0, "ci_lower": np.nan, "ci_upper": np.nan,
                     "p_value": np.nan, "band_lower": np.nan, "band_upper": np.nan, "period": "reference"})
    return pd.DataFrame(rows).sort_values("event_time").reset_index(drop=True)


def plot_event_study(result: EffectResult, *, data: pd.DataFrame | None = None, ax: Any = None,
                     title: str | None = None) -> Any:
    """Draw the event-time effects of a result.

    Parameters
    ----------
    result
        The result (labels, interval level).
    data
        Chart data from :func:`event_study_data`; computed by default.
    ax
        Axes to draw on; a new figure by default.
    title
        Chart title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = event_study_data(result) if data is None else data
    fig, ax = new_axes(ax)
    band = d.dropna(subset=["band_lower", "band_upper"])
    if len(band):
        ax.fill_between(band["event_time"].to_numpy(dtype=float), band["band_lower"].to_numpy(dtype=float),
                        band["band_upper"].to_numpy(dtype=float), step="mid", facecolor=PALETTE["sky_blue"],
                        alpha=0.18, edgecolor=PALETTE["blue"], linewidth=0.5, linestyle=":",
                        label="Simultaneous band (all event times at once)")
    small = len(d) > 40
    styles = {
        "pre": {"marker": "o", "face": "white", "color": PALETTE["grey"], "label": "Before the start (should be near 0)"},
        "post": {"marker": "s", "face": PALETTE["blue"], "color": PALETTE["blue"], "label": "After the start (effect)"},
        "reference": {"marker": "D", "face": "white", "color": PALETTE["black"], "label": "Reference period (fixed at 0)"},
    }
    for kind, st in styles.items():
        g = d[d["period"] == kind]
        if g.empty:
            continue
        k = g["event_time"].to_numpy(dtype=float)
        lo, hi = g["ci_lower"].to_numpy(dtype=float), g["ci_upper"].to_numpy(dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            ax.vlines(k[ok], lo[ok], hi[ok], color=st["color"], linewidth=0.8 if small else 1.4,
                      linestyles="-" if kind == "post" else (0, (2, 1)))
        ax.plot(k, g["estimate"].to_numpy(dtype=float), linestyle="none", marker=st["marker"], markersize=3.5 if small else 6,
                markerfacecolor=st["face"], markeredgecolor=st["color"], markeredgewidth=1.4, label=st["label"])
    ax.axhline(0, color=PALETTE["black"], linewidth=0.9)
    ax.axvline(-0.5, color=PALETTE["black"], linestyle=(0, (4, 2)), linewidth=1.0)
    ax.annotate("start", xy=(-0.5, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),
                textcoords="offset points", fontsize=8, va="top")
    ax.set_xlabel("Periods since the intervention started")
    label = result.outcome_label
    label = label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label
    ax.set_ylabel(wrap(f"Effect on {label}", 45))
    ax.set_title(wrap(title or f"{result.outcome_label}: effects by event time ({result.ci_level:.0%} intervals)", 75),
                 loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, fontsize=8)
    return fig


def event_study_alt(result: EffectResult, data: pd.DataFrame | None = None) -> str:
    """Alt text for :func:`plot_event_study`."""
    d = event_study_data(result) if data is None else data
    pre = d[d["period"] == "pre"]
    post = d[d["period"] == "post"]
    text = (f"Event-study chart of {result.outcome_label}: effects for {len(pre)} periods before and "
            f"{len(post)} after the start, each with its {result.ci_level:.0%} interval.")
    if len(pre):
        outside = int(((pre["ci_lower"] > 0) | (pre["ci_upper"] < 0)).sum())
        text += f" {outside} of the pre-period intervals exclude zero."
    if len(post):
        text += (f" After the start the estimates range from {post['estimate'].min():.3g} to "
                 f"{post['estimate'].max():.3g}.")
    return text
