"""Charts: one module per chart family, each with its plot data and its drawing.

Every chart has ``<name>_data(...) -> DataFrame`` (the numbers drawn, after disclosure control
when the caller marks suppressed points), ``plot_<name>(..., *, ax=None) -> Figure`` and
``<name>_alt(...) -> str`` (alt text that says what the chart shows, not only what it is).
:func:`evaluate.charts.style.save_figure` writes a figure as PNG and SVG with its alt text.

Charts take results and DataFrames, never estimators or files; matplotlib is imported inside the
functions (object-oriented API, Agg canvas, no global backend change), so importing this package
is cheap and charts work the same in scripts, tests and notebooks.

=====================  ===================================================================
``forest``             effects on harm and benefit outcomes on one relative scale
``its``                observed, fitted and counterfactual series of an ITS result
``trend``              treated and comparison groups over time (describe, DiD)
``outputs_outcomes``   police activity beside harm outcomes, indexed to the pre-period
``event_study``        effects by event time (``att_e<k>`` estimands)
``synth``              synthetic control: treated vs synthetic, gap among placebo gaps,
                       donor weights
``bacon``              Goodman-Bacon decomposition of a TWFE estimate
=====================  ===================================================================
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "forest_data": "forest",
    "plot_forest": "forest",
    "forest_alt": "forest",
    "its_data": "its",
    "plot_its": "its",
    "its_alt": "its",
    "trend_data": "trend",
    "plot_trend": "trend",
    "trend_alt": "trend",
    "outputs_outcomes_data": "outputs_outcomes",
    "plot_outputs_outcomes": "outputs_outcomes",
    "outputs_outcomes_alt": "outputs_outcomes",
    "event_study_data": "event_study",
    "plot_event_study": "event_study",
    "event_study_alt": "event_study",
    "synth_series_data": "synth",
    "plot_synth_series": "synth",
    "synth_series_alt": "synth",
    "synth_gaps_data": "synth",
    "plot_synth_gaps": "synth",
    "synth_gaps_alt": "synth",
    "synth_weights_data": "synth",
    "plot_synth_weights": "synth",
    "synth_weights_alt": "synth",
    "bacon_data": "bacon",
    "plot_bacon": "bacon",
    "bacon_alt": "bacon",
    "save_figure": "style",
    "SavedChart": "style",
    "PALETTE": "style",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"evaluate.charts.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evaluate.charts' has no attribute '{name}'")
