"""``method: synthetic_control``: SC, SDID or DiD for one or a few treated areas (configs/README.md).

The analysis frame (the panel minus excluded areas) becomes one area x period block per outcome.
Donors are the areas the intervention never treats. Phase-in periods set to ``exclude`` are left
out of every area's series (the block must be complete), and the event times of the per-period
effects still count from the intervention's start.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pandas as pd

from evaluate.config.analyses import SyntheticControlAnalysis
from evaluate.errors import AnalysisError, ConfigError, plural, suggest
from evaluate.pipeline.analyses import check_common, check_has_treated_data, frame_for, outcome_info
from evaluate.pipeline.prepare import Prepared
from evaluate.pipeline.registry import register
from evaluate.results import EffectResult, RowAccounting

__all__ = ["run_synthetic_control"]


def _check_synth(analysis: SyntheticControlAnalysis, prepared: Prepared, where: str) -> None:
    panel = check_common(analysis, prepared, where)
    frame = check_has_treated_data(analysis, prepared, where)
    timing = prepared.timings[analysis.intervention][panel.frequency]
    if analysis.predictors and analysis.estimator != "sc":
        raise ConfigError(
            f"{where}.predictors: predictors are matched by estimator sc only (SDID and DiD weights "
            f"match the pre-period outcomes); set estimator: sc or remove predictors"
        )
    for c in analysis.predictors:
        if c not in panel.data.columns:
            raise ConfigError(
                f"{where}.predictors: '{c}' is not a column of the panel{suggest(c, panel.variables)}"
            )
        if not pd.api.types.is_numeric_dtype(panel.data[c]):
            raise ConfigError(f"{where}.predictors: '{c}' is not numeric ({panel.data[c].dtype})")
    cols = frame.columns
    data = frame.data
    if len(timing.cohorts) > 1 and timing.phase_in_periods and timing.phase_in_handling == "exclude":
        raise ConfigError(
            f"{where}: staggered synthetic control needs every period of every area, but intervention "
            f"'{analysis.intervention}' excludes its phase-in periods, which differ by cohort; set its "
            "phase_in.handling: flag"
        )
    treated = set(data.loc[data[cols["treated"]].astype(bool), "area_code"])
    donors = sorted(set(data["area_code"]) - treated)
    if len(donors) < 2:
        raise AnalysisError(
            f"{where}: {plural(len(donors), 'untreated area')} left as donors ({', '.join(donors) or 'none'}); "
            "synthetic control needs at least 2; check exclude_areas and exclude_treated_by"
        )
    if analysis.placebo is True and len(donors) <= max(len(a) for a in timing.cohorts.values()):
        raise ConfigError(
            f"{where}.placebo: the placebo standard error needs more donors ({len(donors)}) than "
            "treated areas in a cohort; set placebo: auto or false, or add comparison areas"
        )
    for outcome in analysis.outcomes:
        block = _block_rows(data, cols, timing.phase_in_handling)
        missing = block[outcome].isna()
        if not missing.any():
            continue
        gap_areas = set(block.loc[missing, "area_code"])
        if analysis.unbalanced == "refuse":
            raise AnalysisError(
                f"{where}.outcomes: '{outcome}' is missing (or suppressed) in {int(missing.sum()):,} "
                f"area-periods of {len(gap_areas)} area(s) (e.g. {min(gap_areas)}); synthetic "
                "control needs a complete area x period block: set unbalanced: drop_units to leave "
                "those areas out (counted), or analyse a coarser frequency"
            )
        bad_treated = sorted(gap_areas & treated)
        if bad_treated:
            raise AnalysisError(
                f"{where}.outcomes: '{outcome}' is missing (or suppressed) in treated area(s) "
                f"{', '.join(bad_treated[:5])}, which cannot be dropped; analyse a coarser frequency "
                "or a rate with fewer suppressed cells"
            )
        if len(donors) - len(gap_areas) < 2:
            raise AnalysisError(
                f"{where}.outcomes: '{outcome}' has gaps in {len(gap_areas)} of {len(donors)} donor "
                "areas, leaving fewer than 2 complete donors; analyse a coarser frequency"
            )


def _block_rows(data: pd.DataFrame, cols: dict[str, str], phase_in_handling: str) -> pd.DataFrame:
    """Rows of the block: with phase-in excluded, its periods go from every area, not only the treated."""
    if phase_in_handling != "exclude":
        return data
    treated = data[cols["treated"]].astype(bool)
    present = data.loc[treated].groupby("area_code", observed=True)["t"].agg(set)
    if present.empty:
        return data
    all_t = set(data["t"])
    gone = set().union(*(all_t - s for s in present))
    return data.loc[~data["t"].isin(gone)] if gone else data


@register("synthetic_control", check=_check_synth, description="synthetic control / synthetic DiD")
def run_synthetic_control(analysis: SyntheticControlAnalysis, prepared: Prepared) -> list[EffectResult]:
    """Run a ``synthetic_control`` analysis: one result per outcome."""
    from evaluate.estimators.synth import synthetic_control

    panel, frame = frame_for(analysis, prepared)
    timing = prepared.timings[analysis.intervention][panel.frequency]
    cols = frame.columns
    data = frame.data
    block = _block_rows(data, cols, timing.phase_in_handling)
    n_phase = len(data) - len(block)
    treated_mask = block[cols["treated"]].astype(bool).to_numpy()
    cohort_t = block.loc[treated_mask].groupby("area_code", observed=True)[cols["cohort"]].first().astype(int)
    treated = list(cohort_t.index)
    starts: Any = {a: int(t) for a, t in cohort_t.items()}
    if len(set(starts.values())) == 1:
        starts = next(iter(starts.values()))
    labels = dict(zip(data["t"].astype(int), data["period_label"].astype(str), strict=False))
    results = []
    for outcome in analysis.outcomes:
        role, label = outcome_info(panel, outcome)
        use = block
        dropped: dict[str, int] = {}
        if n_phase:
            dropped["phase-in periods (left out of every area's series)"] = n_phase
        gaps = use[outcome].isna()
        if gaps.any():  # the check refused gaps unless unbalanced: drop_units, and only in donors
            gap_areas = set(use.loc[gaps, "area_code"])
            keep = ~use["area_code"].isin(gap_areas)
            dropped[f"donor areas with a missing {outcome} ({len(gap_areas)} areas)"] = int((~keep).sum())
            use = use.loc[keep]
        r = synthetic_control(
            use,
            outcome=outcome,
            treated_areas=treated,
            start=starts,
            estimator=analysis.estimator,
            area="area_code",
            period="t",
            predictors=analysis.predictors,
            placebo=analysis.placebo,
            n_placebo=analysis.n_placebo,
            seed=analysis.seed,
            ci_level=analysis.ci_level,
            leave_one_out=analysis.leave_one_out,
            analysis=analysis.name,
            intervention=analysis.intervention,
            outcome_role=role,
            outcome_label=label,
            unit=", ".join(treated) if len(treated) <= 3 else f"{len(treated)} treated areas",
        )
        r = _relabel(r, labels, cohort_t, panel.variables.get(outcome), n_phase > 0)
        rows = RowAccounting(
            n_input=frame.n_input,
            n_used=r.rows.n_used,
            dropped={**frame.dropped, **dropped, **r.rows.dropped},
        )
        results.append(dataclasses.replace(r, rows=rows))
    return results


def _relabel(
    r: EffectResult, labels: dict[int, str], cohort_t: pd.Series, variable: Any, phase_dropped: bool
) -> EffectResult:
    """Period labels instead of panel indices; event times counted from the intervention's start."""
    est = r.estimates.copy()
    plot = {k: v.copy() for k, v in r.plot_data.items()}
    # the estimator names a cohort by the first period it saw after the start (later than the
    # start when phase-in periods were left out): map it back to the intervention's start
    starts = sorted(int(t) for t in set(cohort_t))
    fit_start = {k: max(s for s in starts if s <= int(k)) for k in (r.model or {})}
    cohort_labels = {k: labels.get(s, str(s)) for k, s in fit_start.items()}
    warnings = list(r.warnings)
    if phase_dropped:
        # estimator counts event time over the periods it saw; recount from the start
        start = int(next(iter(set(cohort_t))))
        series = plot["series"]
        post_t = sorted(t for t in series["period"].unique() if t >= start)
        rename = {f"att_e{k}": f"att_e{int(t) - start}" for k, t in enumerate(post_t)}
        est["estimand"] = est["estimand"].replace(rename)
    for name, frame in plot.items():
        if "period" in frame and name != "weights":
            t = frame["period"].astype(int)
            if "event_time" in frame:
                frame["event_time"] = t - frame["cohort"].astype(str).map(fit_start).astype(int)
            frame["period"] = t.map(labels)
        if "cohort" in frame:
            frame["cohort"] = frame["cohort"].astype(str).map(cohort_labels)
    est["estimand"] = est["estimand"].str.replace(
        r"^att_g(\d+)$", lambda m: f"att_g{cohort_labels.get(m.group(1), m.group(1))}", regex=True
    )
    est["note"] = est["note"].str.replace(
        r"period (\d+) \(event time \d+\)",
        lambda m: f"period {labels.get(int(m.group(1)), m.group(1))} (event time "
        f"{int(m.group(1)) - int(next(iter(set(cohort_t))))})",
        regex=True,
    )
    warnings = [
        re.sub(r"cohort starting (\d+)", lambda m: f"cohort starting {cohort_labels.get(m.group(1), m.group(1))}", w)
        for w in warnings
    ]
    if variable is not None and variable.is_count:
        warnings.append(
            f"'{r.outcome}' is a count: areas of different size are compared on their totals, so "
            "donors much smaller or larger than the treated area cannot match it; the rate "
            f"('{r.outcome}_rate') is usually the better outcome for synthetic control"
        )
    diag = _relabel_diagnostics(dict(r.diagnostics), labels, cohort_labels)
    model = {cohort_labels.get(k, k): v for k, v in (r.model or {}).items()}
    return dataclasses.replace(r, estimates=est, plot_data=plot, warnings=tuple(warnings),
                               diagnostics=diag, model=model)



def _relabel_diagnostics(diag: dict[str, Any], labels: dict[int, str], cohorts: dict[str, str]) -> dict[str, Any]:
    """Period labels for the time weights and cohorts of the diagnostics."""
    def fix(d: dict[str, Any]) -> dict[str, Any]:
        d = dict(d)
        if "time_weights" in d:
            d["time_weights"] = {labels.get(int(k), k): v for k, v in d["time_weights"].items()}
        if "cohort" in d:
            d["cohort"] = cohorts.get(str(d["cohort"]), d["cohort"])
        return d

    diag = fix(diag)
    if "cohorts" in diag:
        diag["cohorts"] = [fix(c) for c in diag["cohorts"]]
    return diag
