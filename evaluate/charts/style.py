"""Shared chart style: a colour-blind-safe palette, redundant encodings, saving with alt text.

Colours come from the Okabe-Ito palette (Okabe and Ito 2008, "Color Universal Design"), which
stays distinguishable with the common colour-vision deficiencies. Colour never carries meaning
alone: every series also differs by line style and marker, and is labelled in text (a legend
and, where there is room, a label at the line's end).

Figures are built with matplotlib's object-oriented API on an Agg canvas (no pyplot, no global
backend change), and saved with fixed metadata and a fixed SVG hash salt so that the same data
give the same files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PALETTE",
    "SERIES_STYLES",
    "DIRECTION_STYLES",
    "SavedChart",
    "new_axes",
    "save_figure",
    "chart_slug",
    "period_ticks",
    "rc_params",
    "wrap",
]

PALETTE: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#6E6E6E",
}
"""Okabe-Ito colours (plus a neutral grey for 'no clear evidence')."""

SERIES_STYLES: tuple[dict[str, Any], ...] = (
    {"color": PALETTE["blue"], "linestyle": "-", "marker": "o"},
    {"color": PALETTE["vermillion"], "linestyle": "--", "marker": "s"},
    {"color": PALETTE["bluish_green"], "linestyle": "-.", "marker": "^"},
    {"color": PALETTE["orange"], "linestyle": ":", "marker": "D"},
    {"color": PALETTE["reddish_purple"], "linestyle": (0, (5, 1, 1, 1)), "marker": "v"},
    {"color": PALETTE["sky_blue"], "linestyle": (0, (1, 1)), "marker": "P"},
    {"color": PALETTE["black"], "linestyle": (0, (3, 1, 1, 1, 1, 1)), "marker": "X"},
)
"""Series styles in order: colour, line style and marker all differ."""

DIRECTION_STYLES: dict[str, dict[str, Any]] = {
    "better": {"color": PALETTE["blue"], "marker": "o", "fill": True},
    "worse": {"color": PALETTE["vermillion"], "marker": "s", "fill": True},
    "unclear": {"color": PALETTE["grey"], "marker": "D", "fill": False},
}
"""Forest-plot markers: filled circle (better), filled square (worse), hollow diamond (unclear)."""

_SALT = "evaluate"


def rc_params() -> dict[str, Any]:
    """matplotlib settings for every chart (readable sizes, deterministic SVG)."""
    return {
        "svg.hashsalt": _SALT,
        "svg.fonttype": "none",  # text stays text (searchable, small, fast); no font files are referenced
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "figure.dpi": 100,
    }


def new_axes(ax: Any = None, *, width: float = 8.0, height: float = 4.8) -> tuple[Any, Any]:
    """The axes to draw on and its figure: ``ax`` itself, or a new figure with one axes.

    New figures are matplotlib ``Figure`` objects on an Agg canvas (no pyplot), with fixed
    margins (room for a two-line axis label and a legend below the axes): fixed margins draw
    several times faster than a layout engine, which matters for a report of twenty charts.
    """
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _rc():
        fig = Figure(figsize=(width, height))
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.13, right=0.97, top=0.89, bottom=0.25)
        ax = fig.add_subplot()
        _style_axes(ax)
    return fig, ax


def _style_axes(ax: Any) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, axis="y", color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)


def _rc() -> Any:
    import matplotlib

    return matplotlib.rc_context(rc_params())


@dataclass(frozen=True)
class SavedChart:
    """A chart written to disk."""

    name: str
    png: Path
    svg: Path
    alt: str
    title: str = ""


def chart_slug(*parts: str) -> str:
    """A safe file name from parts (``crackdown_its``, ``nonfatal_overdoses``, ``SIM26``)."""
    text = "_".join(p for p in parts if p)
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.")
    return text[:120] or "chart"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def save_figure(fig: Any, folder: str | Path, name: str, alt: str, *, title: str = "", dpi: int = 100) -> SavedChart:
    """Write ``<name>.png`` and ``<name>.svg`` into ``folder``, with alt text in both.

    Parameters
    ----------
    fig
        A matplotlib figure.
    folder
        Destination folder (created if needed).
    name
        File name without extension (see :func:`chart_slug`).
    alt
        Alt text: stored in the PNG's ``Description`` and as the SVG's ``<title>``/``<desc>``.
    title
        Short title (SVG ``<title>``); by default the first sentence of ``alt``.
    dpi
        PNG resolution.

    Returns
    -------
    SavedChart

    Raises
    ------
    ValueError
        If ``alt`` is empty (every chart needs alt text).

    Notes
    -----
    A figure with a layout engine keeps the layout of its PNG for the SVG (the engine is
    switched off after the first save).
    """
    if not alt.strip():
        raise ValueError(f"save_figure: chart '{name}' needs alt text describing what it shows")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    short = title or alt.split(". ")[0]
    with _rc():
        fig.savefig(png, format="png", dpi=dpi, metadata={"Description": alt, "Software": None})
        if fig.get_layout_engine() is not None:
            fig.set_layout_engine("none")  # keep the layout just computed; the SVG need not redo it
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None, "Description": alt})
    text = svg.read_text(encoding="utf-8")
    match = re.search(r"<svg\b[^>]*>", text)
    if match:
        open_tag = match.group(0)
        new_tag = open_tag[:-1] + ' role="img" aria-labelledby="chart-title chart-desc">'
        inject = f'\n <title id="chart-title">{_escape(short)}</title>\n <desc id="chart-desc">{_escape(alt)}</desc>'
        text = text.replace(open_tag, new_tag + inject, 1)
        svg.write_text(text, encoding="utf-8")
    return SavedChart(name=name, png=png, svg=svg, alt=alt, title=short)


def wrap(text: str, width: int = 42) -> str:
    """Wrap a label onto lines of at most ``width`` characters."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def period_ticks(times: Sequence[float], labels: Sequence[str], *, max_ticks: int = 10) -> tuple[list[float], list[str]]:
    """Tick positions and labels for a time axis of period labels.

    Monthly (``2016-01``) and quarterly (``2016Q1``) labels get one tick per year at its first
    period, labelled with the year (thinned to at most ``max_ticks``); other labels are spaced
    evenly.
    """
    times = list(times)
    labels = [str(x) for x in labels]
    if not times:
        return [], []
    yearly = [
        (t, lab[:4])
        for t, lab in zip(times, labels, strict=True)
        if re.fullmatch(r"\d{4}-01", lab) or re.fullmatch(r"\d{4}Q1", lab)
    ]
    if len(yearly) >= 2:
        step = int(np.ceil(len(yearly) / max_ticks))
        chosen = yearly[::step]
        return [t for t, _ in chosen], [lab for _, lab in chosen]
    step = max(1, int(np.ceil(len(times) / max_ticks)))
    return times[::step], labels[::step]
