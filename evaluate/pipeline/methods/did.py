"""``method: did``: difference-in-differences across areas (see configs/README.md)."""

from __future__ import annotations

import numpy as np

from evaluate.config.analyses import DidAnalysis
from evaluate.errors import AnalysisError, ConfigError, suggest
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


def _check_did(analysis: DidAnalysis, prepared: Prepared, where: str) -> None:
    panel = check_common(analysis, prepared, where)
    frame = check_has_treated_data(analysis, prepared, where)
    timing = prepared.timings[analysis.intervention][panel.frequency]
    est = analysis.estimator
    if est == "callaway_santanna" and timing.phase_in_periods and timing.phase_in_handling == "exclude":
        raise ConfigError(
            f"{where}: callaway_santanna needs every period of every area, but intervention "
            f"'{analysis.intervention}' excludes its phase-in periods; set its phase_in.handling: "
            "flag (the event-time effects then show the phase-in) or use anticipation"
        )
    for c in analysis.covariates:
        if c not in panel.data.columns:
            raise ConfigError(f"{where}.covariates: '{c}' is not a column of the panel{suggest(c, panel.variables)}")
    population = prepared.loaded.model.data.population
    for outcome in analysis.outcomes:
        v = panel.variables.get(outcome)
        if est == "poisson":
            if v is None or not v.is_count:
                base = outcome.removesuffix("_rate")
                hint = f"; use the count '{base}' (the population enters as an offset)" if base in panel.variables else ""
                raise ConfigError(f"{where}.outcomes: poisson needs a count outcome and '{outcome}' is not one{hint}")
            if population not in panel.data:
                raise ConfigError(f"{where}: poisson needs a population source for the offset")
        if est == "callaway_santanna" and analysis.unbalanced == "refuse":
            missing = frame.data[outcome].isna()
            if missing.any():
                areas = frame.data.loc[missing, "area_code"].nunique()
                raise AnalysisError(
                    f"{where}.outcomes: '{outcome}' is missing (or suppressed) in {int(missing.sum()):,} "
                    f"area-periods of {areas} area(s); callaway_santanna needs a balanced panel: set "
                    "unbalanced: drop_units to leave those areas out (counted), or analyse a coarser "
                    "frequency, where fewer cells are suppressed"
                )


@register("did", check=_check_did, description="difference-in-differences across areas")
def run_did(analysis: DidAnalysis, prepared: Prepared) -> list[EffectResult]:
    """Run a ``did`` analysis: one result per outcome."""
    from evaluate.estimators.did import did

    panel, frame = frame_for(analysis, prepared)
    cols = frame.columns
    data = frame.data.copy()
    data["__cohort"] = data[cols["cohort"]].astype(float).fillna(np.inf)
    data["__treated"] = data[cols["post"]].astype(float)
    data["__event_time"] = data[cols["event_time"]].astype(float)
    first = ~data["t"].duplicated()  # one label per period (zipping every row is slow at scale)
    labels = dict(zip(data.loc[first, "t"].astype(float), data.loc[first, "period_label"].astype(str), strict=True))
    population = prepared.loaded.model.data.population
    results = []
    for outcome in analysis.outcomes:
        role, label = outcome_info(panel, outcome)
        r = did(
            data,
            outcome=outcome,
            estimator=analysis.estimator,
            unit="area_code",
            time="t",
            cohort="__cohort",
            treatment="__treated",
            event_time="__event_time",
            population=population if analysis.estimator == "poisson" else None,
            covariates=analysis.covariates,
            control=analysis.control,
            anticipation=analysis.anticipation,
            base_period=analysis.base_period,
            adjustment=analysis.adjustment,
            aggregations=analysis.aggregations,
            bootstrap=analysis.bootstrap,
            window=tuple(analysis.window) if analysis.window else None,  # type: ignore[arg-type]
            se=analysis.se,
            wild_draws=analysis.wild_draws,
            wild_weights=analysis.wild_weights,
            randomization=analysis.randomization,
            unbalanced=analysis.unbalanced,
            labels=labels,
            seed=analysis.seed,
            ci_level=analysis.ci_level,
            analysis=analysis.name,
            intervention=analysis.intervention,
            outcome_role=role,
            outcome_label=label,
            unit_label="all areas",
        )
        results.append(with_design_rows(r, frame))
    return results
