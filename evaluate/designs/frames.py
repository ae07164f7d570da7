"""Analysis frames: the rows of a panel an analysis uses, with every exclusion counted."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from evaluate.designs.timing import timing_columns

__all__ = ["AnalysisFrame", "analysis_frame"]


@dataclass
class AnalysisFrame:
    """Rows for one analysis and the rows left out before any model sees them.

    Attributes
    ----------
    data
        The rows kept.
    n_input
        Rows of the panel before exclusions.
    dropped
        Rows left out, by reason (``"excluded areas"``, ``"phase-in periods"``).
    columns
        The intervention's timing columns by role (see :func:`timing_columns`).
    """

    data: pd.DataFrame
    n_input: int
    dropped: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)


def analysis_frame(
    panel_data: pd.DataFrame,
    *,
    intervention: str,
    exclude_areas: list[str] | tuple[str, ...] = (),
    phase_in_handling: str = "exclude",
) -> AnalysisFrame:
    """Select an analysis's rows: drop excluded areas and (if configured) phase-in periods.

    Also adds ``<intervention>__post_calendar``: for treated areas their own post flag; for
    never-treated areas, periods on or after the earliest start (the calendar cut-off that
    simple before/after comparisons use for them).

    Parameters
    ----------
    panel_data
        The panel's rows, with the intervention's timing columns.
    intervention
        Intervention name.
    exclude_areas
        Area codes to leave out.
    phase_in_handling
        ``"exclude"`` drops phase-in rows; ``"flag"`` keeps them.
    """
    cols = timing_columns(intervention)
    n = len(panel_data)
    dropped: dict[str, int] = {}
    keep = ~panel_data["area_code"].isin(list(exclude_areas))
    dropped["excluded areas"] = int((~keep).sum())
    if phase_in_handling == "exclude":
        phase = panel_data[cols["phase_in"]].to_numpy(dtype=bool) & keep.to_numpy()
        dropped["phase-in periods"] = int(phase.sum())
        keep &= ~phase
    data = panel_data.loc[keep].copy()
    cohort = data[cols["cohort"]]
    first_start = cohort.min() if cohort.notna().any() else pd.NA
    calendar_post = (data["t"] >= first_start) if first_start is not pd.NA else False
    post = data[cols["post"]].to_numpy(dtype=bool)
    treated = data[cols["treated"]].to_numpy(dtype=bool)
    data[f"{intervention}__post_calendar"] = post | (~treated & pd.Series(calendar_post, index=data.index).to_numpy(dtype=bool))
    return AnalysisFrame(data=data.reset_index(drop=True), n_input=n, dropped=dropped, columns=cols)
