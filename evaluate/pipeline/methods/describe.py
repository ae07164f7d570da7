"""``method: describe``: pre/post means by treated group (see configs/README.md)."""

from __future__ import annotations

from evaluate.config.analyses import DescribeAnalysis
from evaluate.pipeline.analyses import (
    check_common,
    check_has_treated_data,
    frame_for,
    outcome_info,
    with_design_rows,
)
from evaluate.pipeline.prepare import Prepared
from evaluate.pipeline.registry import register
from evaluate.results import EffectResult


def _check_describe(analysis: DescribeAnalysis, prepared: Prepared, where: str) -> None:
    check_common(analysis, prepared, where)
    check_has_treated_data(analysis, prepared, where)


@register("describe", check=_check_describe, description="pre/post means by treated group")
def run_describe(analysis: DescribeAnalysis, prepared: Prepared) -> list[EffectResult]:
    """Run a ``describe`` analysis: one result per outcome."""
    from evaluate.estimators.describe import describe

    panel, frame = frame_for(analysis, prepared)
    results = []
    for outcome in analysis.outcomes:
        role, label = outcome_info(panel, outcome)
        r = describe(
            frame.data,
            outcome=outcome,
            treated=frame.columns["treated"],
            post=f"{analysis.intervention}__post_calendar",
            ci_level=analysis.ci_level,
            analysis=analysis.name,
            intervention=analysis.intervention,
            outcome_role=role,
            outcome_label=label,
        )
        results.append(with_design_rows(r, frame))
    return results
