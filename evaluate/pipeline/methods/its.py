"""``method: its``: interrupted time series of one series per unit (see configs/README.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from evaluate.config.analyses import ComparisonOutcome, ItsAnalysis
from evaluate.data.join import Panel
from evaluate.data.periods import parse_period
from evaluate.designs.series import unit_series
from evaluate.designs.timing import Timing
from evaluate.errors import AnalysisError, ConfigError, suggest
from evaluate.pipeline.analyses import (
    check_common,
    check_has_treated_data,
    frame_for,
    outcome_info,
)
from evaluate.pipeline.prepare import Prepared
from evaluate.pipeline.registry import register
from evaluate.results import EffectResult, RowAccounting

COUNT_MODELS = ("poisson", "quasipoisson", "negbin")

BATCH_EACH_TREATED = True
"""Fit ``unit: each_treated`` with the batched ITS (:mod:`evaluate.estimators.its_batch`) for the
outcomes whose options it supports; ``False`` fits every area with ``its`` (same results, slower)."""


def resolve_model(analysis: ItsAnalysis, panel: Panel, outcome: str) -> str:
    """The model for one outcome: ``auto`` is quasi-Poisson for counts and OLS otherwise."""
    v = panel.variables.get(outcome)
    is_count = v is not None and v.is_count
    if analysis.model == "auto":
        return "quasipoisson" if is_count else "ols"
    return analysis.model


def _units(analysis: ItsAnalysis, timing: Timing, frame_areas: set[str]) -> list[tuple[str, list[str], str]]:
    """(label, areas, start label) for each series to fit."""
    treated = [a for a in timing.treated_areas if a in frame_areas]
    start_of = {a: label for label, areas in timing.cohorts.items() for a in areas}
    if analysis.unit == "area":
        area = analysis.area or ""
        return [(area, [area], start_of.get(area, ""))]
    if analysis.unit == "each_treated":
        return [(a, [a], start_of[a]) for a in treated]
    starts = sorted({start_of[a] for a in treated})
    return [("treated total", treated, starts[0] if starts else "")]


def _check_its(analysis: ItsAnalysis, prepared: Prepared, where: str) -> None:
    panel = check_common(analysis, prepared, where)
    frame = check_has_treated_data(analysis, prepared, where)
    freq = panel.frequency
    timing = prepared.timings[analysis.intervention][freq]
    if analysis.unit == "area":
        if not analysis.area:
            raise ConfigError(f"{where}.area: unit: area needs area: <area code>")
        if analysis.area not in set(panel.areas):
            raise ConfigError(
                f"{where}.area: '{analysis.area}' is not in the panel{suggest(analysis.area, panel.areas)}"
            )
        if analysis.area not in timing.treated_areas:
            raise ConfigError(
                f"{where}.area: '{analysis.area}' is not treated by '{analysis.intervention}'; an ITS "
                f"evaluates a treated area (treated: {', '.join(timing.treated_areas[:8])})"
            )
    elif analysis.area is not None:
        raise ConfigError(f"{where}.area: only used with unit: area (unit is {analysis.unit})")
    if analysis.unit == "treated_total" and len(timing.cohorts) > 1:
        raise ConfigError(
            f"{where}.unit: the treated areas of '{analysis.intervention}' start at different "
            f"dates ({', '.join(timing.cohorts)}), so their total has no single interruption; "
            "use unit: each_treated, or a DiD method for staggered adoption"
        )
    for outcome in analysis.outcomes:
        model = resolve_model(analysis, panel, outcome)
        v = panel.variables.get(outcome)
        if model in COUNT_MODELS and not (v is not None and v.is_count):
            base = outcome.removesuffix("_rate")
            hint = f"; model the count '{base}' (the population enters as an offset)" if base in panel.variables else ""
            raise ConfigError(
                f"{where}.model: {model} needs a count outcome and '{outcome}' is not one"
                f"{hint}, or use model: ols"
            )
        if model in COUNT_MODELS and prepared.loaded.model.data.population not in panel.data:
            raise ConfigError(
                f"{where}: {model} models counts with a population offset, and no population "
                "source is given; add one (entity population) or use model: ols on rates"
            )
    if analysis.errors == "arima" and any(resolve_model(analysis, panel, o) != "ols" for o in analysis.outcomes):
        raise ConfigError(f"{where}.errors: arima errors need model: ols (a linear model)")
    for c in analysis.covariates:
        if c not in panel.data.columns:
            raise ConfigError(f"{where}.covariates: '{c}' is not a column of the {freq} panel{suggest(c, panel.variables)}")
    if isinstance(analysis.control, ComparisonOutcome) and analysis.control.outcome not in panel.outcomes:
        raise ConfigError(
            f"{where}.control.outcome: '{analysis.control.outcome}' is not an outcome of the {freq} "
            f"panel{suggest(analysis.control.outcome, panel.outcomes)}"
        )
    if analysis.control == "untreated_total":
        untreated = set(frame.data.loc[~frame.data[frame.columns["treated"]], "area_code"])
        if not untreated:
            raise AnalysisError(
                f"{where}.control: no untreated areas are left to form the comparison series; "
                "drop control: untreated_total or keep some untreated areas"
            )
    for i, extra in enumerate(analysis.additional_interruptions):
        parse_period(extra.start, freq, context=f"{where}.additional_interruptions[{i}].start")


@register("its", check=_check_its, description="interrupted time series (segmented regression)")
def run_its(analysis: ItsAnalysis, prepared: Prepared) -> list[EffectResult]:
    """Run an ``its`` analysis: one result per unit and outcome."""
    from evaluate.estimators.its import its

    panel, frame = frame_for(analysis, prepared)
    freq = panel.frequency
    timing = prepared.timings[analysis.intervention][freq]
    cfg = prepared.loaded.model.data
    population = cfg.population if cfg.population in panel.data else None
    data = frame.data
    treated_mask = data[frame.columns["treated"]].to_numpy(dtype=bool)
    untreated = sorted(pd.unique(data.loc[~treated_mask, "area_code"]))
    units = _units(analysis, timing, set(pd.unique(data["area_code"])))
    batched = (
        _each_treated_batch(analysis, panel, frame, units, population, cfg.rate_per)
        if analysis.unit == "each_treated" else {}
    )
    results: list[EffectResult] = []
    for unit_label, areas, start in units:
        if all((unit_label, o) in batched for o in analysis.outcomes):
            results += [batched[(unit_label, o)] for o in analysis.outcomes]
            continue
        outcomes = list(analysis.outcomes)
        control_col = None
        if isinstance(analysis.control, ComparisonOutcome):
            control_col = analysis.control.outcome
            outcomes_needed = [*outcomes, control_col]
        else:
            outcomes_needed = outcomes
        series = unit_series(
            data, areas=areas, columns=[*outcomes_needed, *analysis.covariates], population=population,
            per=cfg.rate_per,
        )
        comparison = None
        if analysis.control == "untreated_total":
            comparison = unit_series(data, areas=untreated, columns=outcomes, population=population, per=cfg.rate_per)
        starts: list[Any] = [parse_period(start, freq, context="start")]
        starts += [parse_period(e.start, freq, context="additional_interruptions") for e in analysis.additional_interruptions]
        for outcome in outcomes:
            if (unit_label, outcome) in batched:
                results.append(batched[(unit_label, outcome)])
                continue
            role, label = outcome_info(panel, outcome)
            model = resolve_model(analysis, panel, outcome)
            frame_series = series.copy()
            kwargs: dict[str, Any] = {}
            if comparison is not None:
                frame_series = frame_series.merge(
                    comparison[["period", outcome, *([population] if population else [])]].rename(
                        columns={outcome: "__comparison", **({population: "__comparison_population"} if population else {})}
                    ),
                    on="period",
                    how="left",
                )
                kwargs = {"control": "__comparison", "control_population": "__comparison_population" if population else None}
            elif control_col is not None:
                frame_series["__comparison"] = frame_series[control_col]
                kwargs = {"control": "__comparison", "control_population": population}
            result = its(
                frame_series,
                outcome=outcome,
                start=starts,
                slope_change=analysis.slope_change,
                frequency=freq,
                model=model,  # type: ignore[arg-type]
                population=population,
                rate_per=cfg.rate_per if outcome.endswith("_rate") else None,
                seasonality=analysis.seasonality,
                harmonics=analysis.harmonics,
                covariates=analysis.covariates,
                se=analysis.se,
                lags=analysis.lags,
                errors=analysis.errors,
                arima_order=tuple(analysis.arima_order),  # type: ignore[arg-type]
                horizons=analysis.horizons,
                placebo=analysis.placebo,
                ci_level=analysis.ci_level,
                n_sim=analysis.n_sim,
                seed=analysis.seed,
                analysis=analysis.name,
                intervention=analysis.intervention,
                outcome_role=role,
                outcome_label=label,
                unit=unit_label,
                **kwargs,
            )
            _label_extra_interruptions(result, analysis)
            results.append(_with_unit_rows(result, frame, areas, len(series)))
    return results


def _each_treated_batch(
    analysis: ItsAnalysis,
    panel: Panel,
    frame: Any,
    units: list[tuple[str, list[str], str]],
    population: str | None,
    per: float,
) -> dict[tuple[str, str], EffectResult]:
    """``unit: each_treated`` fitted by :func:`~evaluate.estimators.its_batch.its_batch`.

    Covers the outcomes whose options the batch supports (independent errors, OLS, Poisson or
    quasi-Poisson, no comparison series or covariates); the others are left to the per-area loop.
    The series are those :func:`~evaluate.designs.series.unit_series` builds for one area (rates
    recomputed from their count and the population), so the results equal the per-area path's.
    """
    from evaluate.estimators.its_batch import batch_supported, its_batch

    if not BATCH_EACH_TREATED or not units or analysis.control is not None or analysis.covariates:
        return {}
    outcomes = [
        o for o in analysis.outcomes
        if batch_supported(resolve_model(analysis, panel, o), analysis.se, errors=analysis.errors)
    ]
    if not outcomes:
        return {}
    freq = panel.frequency
    areas = [unit_areas[0] for _, unit_areas, _ in units]
    extra = [parse_period(e.start, freq, context="additional_interruptions") for e in analysis.additional_interruptions]
    starts = {a: [parse_period(start, freq, context="start"), *extra] for (_, [a], start) in units}
    data = frame.data
    rows = data[data["area_code"].isin(areas)]
    n_unit_rows = rows["area_code"].value_counts()
    long = rows[["area_code", "period"]].reset_index(drop=True)
    if population:
        long[population] = rows[population].astype(float).to_numpy()
    out: dict[tuple[str, str], EffectResult] = {}
    for outcome in outcomes:
        base = outcome.removesuffix("_rate")
        if outcome.endswith("_rate") and base in rows.columns and population:
            values = rows[base].astype(float).to_numpy() / long[population].to_numpy() * per
            sup = f"{base}__suppressed"
        else:
            values = rows[outcome].astype(float).to_numpy()
            sup = f"{outcome}__suppressed"
        frame_o = long.assign(**{outcome: values})
        if sup in rows.columns:
            frame_o[f"{outcome}__suppressed"] = rows[sup].fillna(False).astype(bool).to_numpy()
        role, label = outcome_info(panel, outcome)
        fitted = its_batch(
            frame_o,
            outcome=outcome,
            start=starts,
            areas=areas,
            frequency=freq,
            model=resolve_model(analysis, panel, outcome),  # type: ignore[arg-type]
            population=population,
            rate_per=per if outcome.endswith("_rate") else None,
            seasonality=analysis.seasonality,
            harmonics=analysis.harmonics,
            slope_change=analysis.slope_change,
            se=analysis.se,
            lags=analysis.lags,
            horizons=analysis.horizons,
            placebo=analysis.placebo,
            ci_level=analysis.ci_level,
            n_sim=analysis.n_sim,
            seed=analysis.seed,
            analysis=analysis.name,
            intervention=analysis.intervention,
            outcome_role=role,
            outcome_label=label,
        )
        for a, result in zip(areas, fitted, strict=True):
            _label_extra_interruptions(result, analysis)
            out[(a, outcome)] = _with_unit_rows(result, frame, [a], result.rows.n_input, int(n_unit_rows.get(a, 0)))
    return out


def _label_extra_interruptions(result: EffectResult, analysis: ItsAnalysis) -> None:
    """Name later interruptions by their configured labels in the estimand notes."""
    for k, extra in enumerate(analysis.additional_interruptions, start=2):
        if extra.label:
            mask = result.estimates["estimand"].str.endswith(f"_{k}")
            result.estimates.loc[mask, "note"] = result.estimates.loc[mask, "note"] + f" ({extra.label})"


def _with_unit_rows(
    result: EffectResult, frame: Any, areas: list[str], n_periods: int, n_unit_rows: int | None = None
) -> EffectResult:
    """Row accounting in panel rows: the analysis frame's exclusions, then the series' drops."""
    if n_unit_rows is None:
        n_unit_rows = int(frame.data["area_code"].isin(areas).sum())
    excluded = {k: v for k, v in frame.dropped.items() if v}
    other_areas = frame.n_input - sum(excluded.values()) - n_unit_rows
    dropped = dict(excluded)
    if other_areas:
        dropped["other areas (not in this series)"] = other_areas
    aggregated = n_unit_rows - n_periods
    if aggregated:
        dropped["summed into the series (areas x periods -> periods)"] = aggregated
    for why, n in result.rows.dropped.items():
        dropped[f"series periods: {why}"] = n
    rows = RowAccounting(n_input=frame.n_input, n_used=result.rows.n_used, dropped=dropped)
    return dataclasses.replace(result, rows=rows)
