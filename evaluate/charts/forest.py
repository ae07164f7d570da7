"""Forest plot: effects on every harm and benefit outcome on one relative scale.

Each row is one outcome (and unit) of one analysis: its relative change in percent with the
interval. Harm outcomes come first, with the side where harm fell shaded and labelled "harm
reduced"; benefit outcomes (treatment referrals, diversions) follow, labelled the other way round.
Police activity is never drawn here: it is not a harm or benefit outcome.

The relative scale per result: the ``relative_change`` estimand (ITS: the post-period total with
the intervention over the counterfactual, minus 1); else ``rate_ratio - 1``; for ``describe``
results the difference in changes as a share of the treated areas' pre-period mean (marked
descriptive: a first look, not a causal estimate; its interval treats that mean as fixed).
Results with none of these (a controlled ITS of a rate difference, a DiD ``att`` in outcome units)
are listed in the data with a note and left off the drawing.

Each row's marker says its reading without colour: filled circle (better), filled square
(worse), hollow diamond (no clear evidence), and the reading is written beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import DIRECTION_STYLES, PALETTE, new_axes, wrap
from evaluate.results.effect import EffectResult

__all__ = ["forest_data", "plot_forest", "forest_alt", "reading", "relative_effect"]

FOREST_ROLES = ("harm", "benefit")


def reading(role: str, lower: float, upper: float) -> tuple[str, str]:
    """Plain-language reading of an interval on a change, and its style key.

    Parameters
    ----------
    role
        ``harm``, ``benefit`` or ``activity``.
    lower, upper
        Interval of the change (negative: fewer).

    Returns
    -------
    tuple of str
        The reading ("harm reduced", "no clear evidence either way", ...) and ``better``,
        ``worse`` or ``unclear``.
    """
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "no interval could be estimated", "unclear"
    if lower <= 0 <= upper:
        return "no clear evidence either way", "unclear"
    fell = upper < 0
    if role == "harm":
        return ("harm reduced", "better") if fell else ("harm increased", "worse")
    if role == "benefit":
        return ("benefit decreased", "worse") if fell else ("benefit increased", "better")
    if role == "activity":
        return ("police activity fell", "unclear") if fell else ("police activity rose", "unclear")
    return ("fell", "unclear") if fell else ("rose", "unclear")


def relative_effect(result: EffectResult) -> dict[str, Any] | None:
    """The result's effect as a relative change in percent, or ``None`` if it has none.

    Returns a dict with ``estimand``, ``estimate``, ``ci_lower``, ``ci_upper`` (percent),
    ``descriptive`` and ``scale`` (how the percentage was formed).
    """
    est = result.estimates.set_index("estimand")

    def row(name: str) -> pd.Series | None:
        return est.loc[name] if name in est.index else None

    r = row("relative_change")
    if r is not None and np.isfinite(r["estimate"]):
        return {"estimand": "relative_change", "estimate": 100 * r["estimate"], "ci_lower": 100 * r["ci_lower"],
                "ci_upper": 100 * r["ci_upper"], "descriptive": False,
                "scale": "post-period total with the intervention over the counterfactual, minus 1"}
    r = row("rate_ratio")
    if r is not None and np.isfinite(r["estimate"]):
        return {"estimand": "rate_ratio", "estimate": 100 * (r["estimate"] - 1), "ci_lower": 100 * (r["ci_lower"] - 1),
                "ci_upper": 100 * (r["ci_upper"] - 1), "descriptive": False,
                "scale": "rate ratio at the start, minus 1"}
    dic, base = row("difference_in_changes"), row("mean_pre_treated")
    if result.method == "describe" and dic is not None and base is not None and base["estimate"] > 0:
        f = 100 / base["estimate"]
        return {"estimand": "difference_in_changes", "estimate": f * dic["estimate"], "ci_lower": f * dic["ci_lower"],
                "ci_upper": f * dic["ci_upper"], "descriptive": True,
                "scale": "difference in changes as % of the treated areas' pre-period mean (descriptive)"}
    return None


_DESCRIPTIVE = {
    "harm reduced": "harm fell relative to comparison areas",
    "harm increased": "harm rose relative to comparison areas",
    "benefit increased": "benefit rose relative to comparison areas",
    "benefit decreased": "benefit fell relative to comparison areas",
}


def _method_name(method: str, descriptive: bool) -> str:
    if descriptive:
        return "descriptive"
    return {"its": "ITS", "did": "DiD", "synthetic_control": "synthetic control"}.get(method, method)


def forest_data(results: Sequence[EffectResult]) -> pd.DataFrame:
    """One row per harm or benefit result: its relative change (percent) and reading.

    Returns
    -------
    pandas.DataFrame
        ``analysis``, ``method``, ``outcome``, ``outcome_label``, ``outcome_role``, ``unit``,
        ``estimand``, ``estimate``, ``ci_lower``, ``ci_upper`` (percent), ``ci_level``,
        ``descriptive``, ``reading``, ``style``, ``label``, ``note``. Rows without a relative
        scale have missing estimates and a note.
    """
    rows = []
    for r in results:
        if r.outcome_role not in FOREST_ROLES:
            continue
        rel = relative_effect(r)
        unit = f" ({r.unit})" if r.unit and r.unit not in ("treated total", "all areas") else ""
        base = {"analysis": r.analysis, "method": r.method, "outcome": r.outcome, "outcome_label": r.outcome_label,
                "outcome_role": r.outcome_role, "unit": r.unit, "ci_level": r.ci_level}
        if rel is None:
            rows.append({**base, "estimand": "", "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
                         "descriptive": False, "reading": "", "style": "unclear",
                         "label": f"{r.outcome_label}{unit}",
                         "note": "no relative scale (estimates in outcome units only); see its table"})
            continue
        text, style = reading(r.outcome_role, rel["ci_lower"], rel["ci_upper"])
        if rel["descriptive"]:
            text = _DESCRIPTIVE.get(text, text) + " (descriptive)"
        method = _method_name(r.method, rel["descriptive"])
        rows.append({**base, "estimand": rel["estimand"], "estimate": rel["estimate"], "ci_lower": rel["ci_lower"],
                     "ci_upper": rel["ci_upper"], "descriptive": rel["descriptive"],
                     "reading": text, "style": style,
                     "label": f"{r.outcome_label}{unit} [{method}: {r.analysis}]", "note": rel["scale"]})
    columns = ["analysis", "method", "outcome", "outcome_label", "outcome_role", "unit", "estimand", "estimate",
               "ci_lower", "ci_upper", "ci_level", "descriptive", "reading", "style", "label", "note"]
    out = pd.DataFrame(rows, columns=columns)
    order = {role: i for i, role in enumerate(FOREST_ROLES)}
    return out.sort_values("outcome_role", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def _pct(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:+.0f}%".replace("-", "\u2212")


def _estimate_text(r: pd.Series) -> str:
    if np.isfinite(r["ci_lower"]) and np.isfinite(r["ci_upper"]):
        return f"{_pct(r['estimate'])} ({_pct(r['ci_lower'])} to {_pct(r['ci_upper'])})"
    return f"{_pct(r['estimate'])} (no interval)"


def plot_forest(data: pd.DataFrame, *, ax: Any = None, title: str | None = None) -> Any:
    """Draw a forest plot from :func:`forest_data`.

    Parameters
    ----------
    data
        Rows from :func:`forest_data` (rows without an estimate are skipped).
    ax
        Axes to draw on; by default a new figure with a text column for the readings.
    title
        Chart title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If no row has an estimate.
    """
    d = data[np.isfinite(data["estimate"].to_numpy(dtype=float))].reset_index(drop=True)
    if d.empty:
        raise ValueError("plot_forest: no harm or benefit result has a relative effect to draw")
    groups = [(role, d[d["outcome_role"] == role]) for role in FOREST_ROLES if (d["outcome_role"] == role).any()]
    n_lines = len(d) + len(groups)
    own = ax is None
    if own:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from evaluate.charts.style import _rc, _style_axes

        with _rc():
            fig = Figure(figsize=(10, 1.2 + 0.42 * n_lines), layout="constrained")
            FigureCanvasAgg(fig)
            ax, tx = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]})
            _style_axes(ax)
            tx.axis("off")
    else:
        fig, ax = new_axes(ax)
        tx = None
    lo = np.nanmin(np.r_[d["ci_lower"].to_numpy(dtype=float), d["estimate"].to_numpy(dtype=float), 0])
    hi = np.nanmax(np.r_[d["ci_upper"].to_numpy(dtype=float), d["estimate"].to_numpy(dtype=float), 0])
    pad = max(5.0, 0.08 * (hi - lo))
    xmin, xmax = lo - pad, hi + pad
    y = 0.0
    ticks, labels = [], []
    for role, g in groups:
        top = y
        header = "Harm outcomes" if role == "harm" else "Benefit outcomes"
        ax.text(xmin, y, header, fontweight="bold", va="center", ha="left")
        y -= 1
        for _, r in g.iterrows():
            st = DIRECTION_STYLES[r["style"]]
            if np.isfinite(r["ci_lower"]) and np.isfinite(r["ci_upper"]):
                ax.plot([r["ci_lower"], r["ci_upper"]], [y, y], color=st["color"], linewidth=1.6,
                        linestyle="-" if not r["descriptive"] else (0, (3, 1.5)))
            ax.plot([r["estimate"]], [y], marker=st["marker"], markersize=7, color=st["color"],
                    markerfacecolor=st["color"] if st["fill"] else "white", markeredgewidth=1.5, linestyle="none")
            ticks.append(y)
            labels.append(wrap(str(r["label"]), 48))
            text = f"{r['reading']}: {_estimate_text(r)}"
            if tx is not None:
                tx.text(0.0, y, wrap(text, 44), va="center", ha="left", fontsize=8.5)
            y -= 1
        bottom = y + 0.5
        left_text, right_text = (("\u2190 harm reduced", "harm increased \u2192") if role == "harm"
                                 else ("\u2190 benefit decreased", "benefit increased \u2192"))
        if role == "harm":
            ax.fill_betweenx([bottom, top - 0.5], xmin, 0, facecolor=PALETTE["sky_blue"], alpha=0.12, linewidth=0)
        ax.text(0, top - 0.35, f"{left_text}   ", ha="right", va="center", fontsize=8.5, style="italic")
        ax.text(0, top - 0.35, f"   {right_text}", ha="left", va="center", fontsize=8.5, style="italic")
        y -= 0.5
    ax.axvline(0, color=PALETTE["black"], linewidth=1.0)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(y + 0.2, 0.8)
    ax.set_yticks(ticks, labels, fontsize=8.5)
    ax.grid(False, axis="y")
    ax.grid(True, axis="x", color="#DDDDDD", linewidth=0.6)
    ax.set_xlabel("Relative change (%), with interval")
    if tx is not None:
        tx.set_xlim(0, 1)
        tx.set_title("Reading: estimate (interval)", loc="left", fontsize=9)
    ax.set_title(title or "Effects on harm and benefit outcomes", loc="left")
    return fig


def forest_alt(data: pd.DataFrame) -> str:
    """Alt text for :func:`plot_forest`, listing each row's reading."""
    d = data[np.isfinite(data["estimate"].to_numpy(dtype=float))]
    parts = [
        f"{r['outcome_label']}{' (' + r['unit'] + ')' if r['unit'] and r['unit'] not in ('treated total', 'all areas') else ''}, "
        f"{r['analysis']}: {r['reading']}, {_estimate_text(r)}"
        for _, r in d.iterrows()
    ]
    text = (f"Forest plot of relative changes in {len(d)} harm and benefit outcome results, each with "
            "its interval; left of zero means fewer events (for harm outcomes, harm reduced). ")
    skipped = len(data) - len(d)
    if skipped:
        text += f"{skipped} result(s) have no relative scale and are not drawn. "
    return text + "; ".join(parts) + "."
