"""Goodman-Bacon decomposition chart: every 2x2 comparison behind a TWFE estimate.

Each point is one comparison of a timing group with another: its weight in the TWFE estimate
(x) against its own DiD estimate (y). Marker and colour give the comparison type; comparisons of
later-treated areas with already-treated ones (hollow triangles) are the ones that bias TWFE
when effects change over time. A horizontal line marks the TWFE estimate (the weighted mean of
the points).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import PALETTE, new_axes, wrap
from evaluate.results.effect import EffectResult

__all__ = ["bacon_alt", "bacon_data", "plot_bacon"]

_STYLES = {
    "Treated vs Untreated": {"marker": "o", "color": PALETTE["blue"], "face": PALETTE["blue"]},
    "Earlier vs Later Treated": {"marker": "s", "color": PALETTE["bluish_green"], "face": PALETTE["bluish_green"]},
    "Later vs Earlier Treated": {"marker": "^", "color": PALETTE["vermillion"], "face": "white"},
}


def bacon_data(result: EffectResult) -> pd.DataFrame:
    """The decomposition: ``type``, ``treated``, ``control``, ``estimate``, ``weight``.

    Raises
    ------
    ValueError
        If the result has no decomposition (only TWFE results with staggered timing have one).
    """
    d = result.plot_data.get("bacon")
    if d is None or d.empty:
        raise ValueError(f"bacon_data: result {result.analysis}/{result.outcome} has no Goodman-Bacon decomposition")
    return d.loc[:, ["type", "treated", "control", "estimate", "weight"]].reset_index(drop=True)


def plot_bacon(result: EffectResult, *, data: pd.DataFrame | None = None, ax: Any = None, title: str | None = None) -> Any:
    """Scatter of the 2x2 comparisons: weight against estimate.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = bacon_data(result) if data is None else data
    fig, ax = new_axes(ax)
    for kind, st in _STYLES.items():
        g = d[d["type"] == kind]
        if g.empty:
            continue
        share = g["weight"].sum()
        ax.plot(g["weight"].to_numpy(dtype=float), g["estimate"].to_numpy(dtype=float), linestyle="none",
                marker=st["marker"], markersize=7, markerfacecolor=st["face"], markeredgecolor=st["color"],
                markeredgewidth=1.4, label=f"{kind} ({share:.0%} of the weight)")
    twfe = float((d["weight"] * d["estimate"]).sum())
    ax.axhline(twfe, color=PALETTE["black"], linestyle=(0, (4, 2)), linewidth=1.0, label=f"TWFE estimate {twfe:.3g}")
    ax.axhline(0, color=PALETTE["grey"], linewidth=0.6)
    ax.set_xlabel("Weight in the TWFE estimate")
    ax.set_ylabel(wrap(f"2x2 DiD estimate, {result.outcome_label}", 45))
    ax.set_title(wrap(title or f"{result.outcome_label}: what the TWFE estimate is made of (Goodman-Bacon)", 75), loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, fontsize=8)
    return fig


def bacon_alt(result: EffectResult, data: pd.DataFrame | None = None) -> str:
    """Alt text for :func:`plot_bacon`."""
    d = bacon_data(result) if data is None else data
    twfe = float((d["weight"] * d["estimate"]).sum())
    parts = []
    for kind in _STYLES:
        g = d[d["type"] == kind]
        if len(g):
            avg = float(np.average(g["estimate"], weights=g["weight"])) if g["weight"].sum() > 0 else float("nan")
            parts.append(f"{kind}: {len(g)} comparisons, {g['weight'].sum():.0%} of the weight, average {avg:.3g}")
    return (f"Scatter chart of the {len(d)} two-group comparisons behind the TWFE estimate of "
            f"{result.outcome_label} ({twfe:.3g}). " + "; ".join(parts) + ".")
