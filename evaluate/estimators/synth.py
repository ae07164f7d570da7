"""Synthetic control, synthetic difference-in-differences and their plain DiD comparison.

``synthetic_control(data, outcome=..., treated_areas=..., start=...)`` estimates the effect on a
few treated areas by comparing them with a weighted combination of untreated *donor* areas,
following Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021) and their R package ``synthdid``
(0.0.9) step for step, so that its published California Proposition 99 numbers reproduce
(``evaluate verify``, replication ``prop99``):

=====================  =========================================================================
``estimator="sdid"``   synthetic DiD: donor weights with an intercept and a ridge penalty,
                       time weights on the pre-periods (``synthdid_estimate``)
``estimator="sc"``     synthetic control: donor weights matching the pre-period levels, no
                       intercept, no time weights (``sc_estimate``); optionally also matching
                       ``predictors``
``estimator="did"``    two-way DiD on the same block: equal weights (``did_estimate``), for
                       comparison
=====================  =========================================================================

The weights come from :mod:`evaluate.estimators.synth_weights` (Frank-Wolfe, as ``synthdid``).

Inference
---------
* **Placebo standard error** (``synthdid``'s ``vcov(method = "placebo")``, Algorithm 4 of the
  paper): ``n_placebo`` times, ``N1`` donors drawn at random play the treated areas and the
  estimator is re-run on the other donors, with the regularisation of the original fit and its
  weights as starting values; ``SE = sqrt((r - 1)/r) sd(estimates)``. Intervals and p-values are
  normal. Random numbers come from ``numpy.random.default_rng(seed)``, so the SE differs from R's
  by Monte Carlo error (a standard deviation of about 7-8% with 200 replications on Prop 99),
  not by method: replaying R's own draws (``seed=`` a :class:`PermutationSource` such as
  ``evaluate.verify.prop99.RSample``) reproduces synthdid's placebo SEs to 1e-12. The
  per-period effects ``att_e<k>`` get the same treatment (the spread of the placebo effect
  curves at period k).
* **In-space placebos** (Abadie, Diamond & Hainmueller 2010): every donor is fitted in turn as
  if treated, against the other donors, with a fresh fit. The ratio of post- to pre-period root
  mean squared gap (RMSPE) of the treated areas is ranked among the donors'; the permutation
  p-value is ``(1 + #{donor ratio >= treated ratio}) / (1 + N0)``. With several treated areas
  the treated gap is that of their average and each donor is a single placebo area.
* **Poor pre-period fit**: a warning when the treated pre-period RMSPE is above the 90th
  percentile of the donors' placebo pre-period RMSPEs.
* **Leave one donor out**: the estimate re-fitted without each donor that has positive weight
  (every donor for DiD); the range is in the diagnostics, with a warning if the sign changes.

Several treated areas with one start are one block: their average is the treated series
(``synthdid`` handles ``N1 > 1`` directly). **Staggered adoption** (``start`` a mapping from
treated area to start): each cohort (the areas sharing a start) is fitted against the
never-treated donors, over all periods from the first to the cohort's start (pre) and from its
start to the end (post). How to combine the cohorts is a choice: here the overall ``att`` is
the average of the cohort estimates weighted by the cohort's number of treated areas, so every
treated area counts equally, as in the single-start average (weighting by treated area-post
periods instead would give late adopters, with fewer post periods, less say). ``att_e<k>``
averages, with the same weights renormalised, the cohorts that have a k-th post period. The
placebo SE of an aggregate is the spread of the same weighted average of the cohorts' placebo
estimates, replication by replication (each cohort's pseudo-treated drawn independently).

Notes
-----
With controls :math:`i \\le N_0`, treated :math:`i > N_0` (:math:`N_1` of them), pre-periods
:math:`t \\le T_0` and post-periods (:math:`T_1` of them), the estimate is

.. math::

    \\hat\\tau = \\Big(\\frac{1}{N_1}\\sum_{i>N_0} - \\sum_{i\\le N_0}\\hat\\omega_i\\Big)
                 \\Big(\\frac{1}{T_1}\\sum_{t>T_0} - \\sum_{t\\le T_0}\\hat\\lambda_t\\Big) Y_{it},

with, for SDID, :math:`\\hat\\omega` minimising
:math:`\\sum_{t\\le T_0}(\\omega_0 + \\sum_i \\omega_i Y_{it} - \\bar Y_{tr,t})^2 +
\\zeta_\\omega^2 T_0 \\lVert\\omega\\rVert^2` over the simplex,
:math:`\\zeta_\\omega = (N_1 T_1)^{1/4}\\hat\\sigma` (:math:`\\hat\\sigma` the standard
deviation of the first differences of the control pre-period outcomes), and
:math:`\\hat\\lambda` minimising
:math:`\\sum_{i\\le N_0}(\\lambda_0 + \\sum_t \\lambda_t Y_{it} - \\bar Y_{i,post})^2 +
\\zeta_\\lambda^2 N_0 \\lVert\\lambda\\rVert^2`, :math:`\\zeta_\\lambda = 10^{-6}\\hat\\sigma`.
SC drops :math:`\\omega_0` and :math:`\\lambda` (:math:`\\zeta_\\omega = 10^{-6}\\hat\\sigma`);
DiD sets :math:`\\omega_i = 1/N_0`, :math:`\\lambda_t = 1/T_0`.

``predictors`` (SC only) are columns averaged per area over the pre-period; each becomes one more
row of the donor-weight problem, scaled by :math:`s_y / s_p` (:math:`s_p` its standard deviation
across donors, :math:`s_y` the root mean across pre-periods of the outcome's variance across
donors), so that a predictor counts as much as one pre-period of the outcome. SDID and DiD
refuse them: ``synthdid``'s covariate adjustment is a regression on time-varying covariates, not
a matching on predictors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from evaluate.errors import AnalysisError, plural, short, suggest
from evaluate.estimators.synth_weights import (
    ESTIMATORS,
    BlockFit,
    Estimator,
    Tuning,
    fit_block,
    tuning,
)
from evaluate.results.effect import EffectResult, RowAccounting, finite_or_nan

__all__ = ["ESTIMATORS", "CohortFit", "PermutationSource", "synthetic_control"]

_NAME = "synthetic_control"
_ESTIMATOR_NAMES = {
    "sdid": "synthetic difference-in-differences (Arkhangelsky et al. 2021)",
    "sc": "synthetic control (synthdid's sc_estimate)",
    "did": "two-way difference-in-differences on the same block (equal weights)",
}


class PermutationSource(Protocol):
    """Where placebo draws come from: a ``numpy.random.Generator``, or any object with this method
    (``evaluate.verify.prop99.RSample`` replays R's ``set.seed``/``sample`` to replicate synthdid)."""

    def permutation(self, n: int) -> np.ndarray:
        """A random ordering of ``0, ..., n - 1``."""
        ...


@dataclass(frozen=True, eq=False)
class CohortFit:
    """One cohort's block, fit and inference (the ``model`` of the result holds one per cohort).

    Attributes
    ----------
    label
        The cohort's start as text.
    treated, donors
        Area labels, in block order (donors are the first rows of ``y``).
    periods
        All periods of the block, in order; the first ``t0`` are pre-periods.
    y
        ``(N0 + N1, T)`` outcomes.
    fit
        The :class:`~evaluate.estimators.synth_weights.BlockFit` (a batch of one).
    placebo_tau, placebo_curve
        Placebo-SE replications: estimates ``(r,)`` and effect curves ``(r, T1)``, or ``None``.
    space
        In-space placebos: ``gap`` ``(N0, T)``, ``pre``/``post`` RMSPE and ``ratio`` per donor, or
        ``None``.
    loo
        Leave-one-donor-out estimates ``{donor: estimate}``, or ``None``.
    """

    label: str
    treated: tuple[Any, ...]
    donors: tuple[Any, ...]
    periods: tuple[Any, ...]
    t0: int
    y: np.ndarray
    fit: BlockFit
    placebo_tau: np.ndarray | None
    placebo_curve: np.ndarray | None
    space: dict[str, np.ndarray] | None
    loo: dict[Any, float] | None

    @property
    def tau(self) -> float:
        """The cohort's average effect."""
        return float(self.fit.tau[0])

    @property
    def gap(self) -> np.ndarray:
        """Treated minus synthetic, every period."""
        return self.fit.gap[0]

    def rmspe(self) -> tuple[float, float]:
        """Root mean squared gap before and after the start."""
        g = self.gap
        return float(np.sqrt(np.mean(g[: self.t0] ** 2))), float(np.sqrt(np.mean(g[self.t0 :] ** 2)))


def synthetic_control(
    data: pd.DataFrame,
    *,
    outcome: str,
    treated_areas: Sequence[str],
    start: Any | Mapping[str, Any],
    estimator: Estimator = "sdid",
    area: str = "area_code",
    period: str = "period",
    predictors: Sequence[str] | None = None,
    placebo: bool | Literal["auto"] = "auto",
    n_placebo: int = 200,
    seed: int | PermutationSource = 20240601,
    ci_level: float = 0.95,
    leave_one_out: bool = True,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool | None = None,
    analysis: str = "synthetic_control",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
    unit: str = "",
) -> EffectResult:
    """Estimate the effect on treated areas with synthetic control or synthetic DiD.

    Parameters
    ----------
    data
        Long panel: one row per area and period, with no gaps in the outcome (the area x period
        block must be complete).
    outcome
        Column to analyse.
    treated_areas
        Areas that received the intervention; every other area is a donor.
    start
        First treated period (a ``pandas.Period``, a period label or a value of the ``period``
        column), or a mapping from each treated area to its start (staggered adoption).
    estimator
        ``sdid`` (default), ``sc`` or ``did``.
    area, period
        Key columns; ``period`` may hold ``pandas.Period`` values or any sortable labels.
    predictors
        Columns matched by ``sc`` besides the pre-period outcomes (averaged per area over the
        pre-period); refused by ``sdid`` and ``did``.
    placebo
        Placebo standard error and in-space placebos: ``"auto"`` when there are more donors than
        treated areas, ``True`` (required), ``False`` (skipped: no standard errors).
    n_placebo
        Replications of the placebo standard error.
    seed
        Seed of ``numpy.random.default_rng`` for the placebo draws, or a :class:`PermutationSource`.
    ci_level
        Confidence level of the normal intervals.
    leave_one_out
        Re-fit without each donor with positive weight.
    workers, scheduler, progress
        Where the placebo, in-space and leave-one-out re-fits run: split over ``workers``
        processes (``None``: every core) or a Dask cluster at ``scheduler``, with a progress bar
        (see :func:`evaluate.grid.run_grid`). The results do not depend on it.
    analysis, intervention, outcome_role, outcome_label, unit
        Labels carried into the result.

    Returns
    -------
    EffectResult
        Estimands ``att`` (average over treated areas and post periods), ``att_e<k>`` (the gap
        in the k-th period from the start, k = 0, 1, ...) and, with staggered adoption,
        ``att_g<cohort>``. ``plot_data`` holds ``weights`` (area, weight), ``time_weights``
        (period, weight), ``series`` (period, treated, synthetic) and ``placebo_gaps`` (period,
        area, gap), each with a ``cohort`` column; ``model`` maps each cohort to its
        :class:`CohortFit`.

    Raises
    ------
    AnalysisError
        Fewer than 2 donors or 2 pre-periods, gaps in the block, unknown treated areas, a start
        outside the data, predictors with SDID or DiD, or ``placebo=True`` with too few donors.

    Notes
    -----
    See the module docstring for the estimator's equations, the inference and the aggregation
    over cohorts.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"{_NAME}: estimator must be one of ({', '.join(ESTIMATORS)}), got {estimator!r}")
    if placebo not in (True, False, "auto"):
        raise ValueError(f"{_NAME}: placebo must be one of (True, False, 'auto'), got {placebo!r}")
    if not isinstance(n_placebo, int | np.integer) or n_placebo < 2:
        raise ValueError(f"{_NAME}: n_placebo must be an integer >= 2, got {n_placebo!r}")
    if not 0 < ci_level < 1:
        raise ValueError(f"{_NAME}: ci_level must be between 0 and 1, got {ci_level!r}")
    predictors = list(predictors or [])
    for col in [outcome, area, period, *predictors]:
        if col not in data.columns:
            raise KeyError(f"{_NAME}: column '{col}' not in the data{suggest(col, data.columns)}")
    if predictors and estimator != "sc":
        raise AnalysisError(
            f"{_NAME}: predictors {predictors} are matched by estimator 'sc' only; {estimator} "
            "weights match the pre-period outcomes (synthdid has no predictor matching). Use "
            "estimator: sc, or drop predictors"
        )

    block, rows = _block(data, outcome=outcome, area=area, period=period)
    areas, periods = list(block.index), list(block.columns)
    treated = _treated(treated_areas, areas)
    starts = _starts(start, treated, pd.Index(periods))
    donors = [a for a in areas if a not in set(treated)]
    if len(donors) < 2:
        raise AnalysisError(
            f"{_NAME}: {plural(len(donors), 'donor area')} ({', '.join(map(str, donors)) or 'none'}) "
            f"for {plural(len(treated), 'treated area')}: synthetic control needs at least 2 "
            "untreated areas; add comparison areas to the data"
        )
    cohorts: dict[int, list[Any]] = {}
    for a in treated:
        cohorts.setdefault(starts[a], []).append(a)
    for t0, members in cohorts.items():
        if t0 < 2:
            raise AnalysisError(
                f"{_NAME}: start {periods[t0]} of {', '.join(map(str, members))} leaves "
                f"{plural(t0, 'pre-period')} (data begin {periods[0]}): synthetic control needs at "
                "least 2 periods before the start; give data from earlier periods"
            )

    if placebo is True:
        worst = max(len(m) for m in cohorts.values())
        if len(donors) <= worst:
            raise AnalysisError(
                f"{_NAME}: the placebo standard error needs more donors than treated areas "
                f"({len(donors)} donors, {worst} treated); add donors or set placebo: false"
            )
    y_all = block.to_numpy(dtype=float)
    pos = {a: i for i, a in enumerate(areas)}
    rng: PermutationSource = np.random.default_rng(seed) if isinstance(seed, int | np.integer) else seed
    fits: list[CohortFit] = []
    notes: list[str] = []
    for t0 in sorted(cohorts):
        members = cohorts[t0]
        rows_idx = [pos[a] for a in donors] + [pos[a] for a in members]
        y = y_all[rows_idx]
        preds = None
        if predictors:
            preds, pnote = _predictor_rows(data, predictors, area=area, period=period, rows=[*donors, *members],
                                           pre=periods[:t0], y_pre=y[: len(donors), :t0])
            notes.extend(pnote)
        fits.append(
            _fit_cohort(
                y, donors=donors, treated=members, periods=periods, t0=t0, estimator=estimator,
                predictors=preds, placebo=placebo is not False and len(donors) > len(members),
                n_placebo=int(n_placebo), rng=rng, leave_one_out=leave_one_out,
                grid={"workers": workers, "scheduler": scheduler, "progress": progress},
            )
        )
    return _result(
        fits, estimator=estimator, rows=rows, n_cells=y_all.size, n_areas=len(areas), ci_level=ci_level,
        n_placebo=int(n_placebo), placebo_requested=placebo, notes=notes, predictors=predictors,
        labels={"analysis": analysis, "intervention": intervention, "outcome": outcome,
                "outcome_role": outcome_role, "outcome_label": outcome_label or outcome,
                "unit": unit or (", ".join(map(str, treated)) if len(treated) <= 3 else f"{len(treated)} treated areas"),
                "seed": seed},
    )


# --- the block --------------------------------------------------------------------------------


def _block(data: pd.DataFrame, *, outcome: str, area: str, period: str) -> tuple[pd.DataFrame, RowAccounting]:
    """Areas x periods matrix of the outcome; refuses duplicates and gaps."""
    keys_missing = data[area].isna().to_numpy() | data[period].isna().to_numpy()
    d = data.loc[~keys_missing]
    y = pd.to_numeric(d[outcome], errors="coerce")
    dup = d.duplicated([area, period], keep=False)
    if dup.any():
        ex = d.loc[dup, [area, period]].drop_duplicates().head(3)
        raise AnalysisError(
            f"{_NAME}: {plural(int(dup.sum()), 'row')} share an area and period (e.g. "
            + "; ".join(f"{a} {p}" for a, p in ex.itertuples(index=False))
            + "): give one row per area and period (aggregate or filter first)"
        )
    try:
        periods = pd.Index(pd.unique(d[period])).sort_values()
    except TypeError as exc:
        raise AnalysisError(
            f"{_NAME}: the '{period}' labels cannot be put in order ({exc}); use one type of label"
        ) from exc
    areas = pd.Index(pd.unique(d[area]))
    try:
        areas = areas.sort_values()
    except TypeError:  # mixed label types: order by their text
        areas = areas[np.argsort(areas.astype(str), kind="stable")]
    block = (
        pd.DataFrame({"a": d[area].to_numpy(), "p": d[period].to_numpy(), "y": y.to_numpy(dtype=float)})
        .pivot(index="a", columns="p", values="y")
        .reindex(index=areas, columns=periods)
    )
    block.index.name, block.columns.name = area, period
    holes = block.isna().to_numpy()
    if holes.any():
        n_absent = int(holes.sum()) - int(y.isna().sum())
        sup_col = f"{outcome}__suppressed"
        n_sup = int((y.isna() & d[sup_col].fillna(False).astype(bool)).sum()) if sup_col in d else 0
        r, c = np.nonzero(holes)
        ex = ", ".join(f"{block.index[i]} {block.columns[j]}" for i, j in list(zip(r, c, strict=True))[:3])
        parts = [f"{int(y.isna().sum()):,} missing outcome values"]
        if n_sup:
            parts.append(f"{n_sup:,} of them suppressed")
        if n_absent:
            parts.append(f"{n_absent:,} area-periods with no row")
        raise AnalysisError(
            f"{_NAME}: {plural(int(holes.sum()), 'missing cell')} in the {len(areas)} x {len(periods)} "
            f"area x period block of '{outcome}' ({'; '.join(parts)}; e.g. {ex}): synthetic control "
            "needs a balanced block; drop the areas or periods with gaps, or fill them before the analysis"
        )
    n_keys = int(keys_missing.sum())
    rows = RowAccounting(
        n_input=len(data),
        n_used=len(d),
        dropped={"area or period missing": n_keys} if n_keys else {},
    )
    return block, rows


def _treated(treated_areas: Sequence[str], areas: list[Any]) -> list[Any]:
    if isinstance(treated_areas, str):
        treated_areas = [treated_areas]
    treated = list(dict.fromkeys(treated_areas))
    if not treated:
        raise AnalysisError(f"{_NAME}: treated_areas is empty: name the areas that received the intervention")
    known = set(areas)
    unknown = [a for a in treated if a not in known]
    if unknown:
        a = unknown[0]
        raise AnalysisError(
            f"{_NAME}: treated area {short(a)} is not in the data{suggest(str(a), map(str, areas))}"
            + (f" (nor {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + ": correct treated_areas or add the area's rows"
        )
    chosen = set(treated)
    return [a for a in areas if a in chosen]  # block order, so that the order given does not matter


def _starts(start: Any, treated: list[Any], periods: pd.Index) -> dict[Any, int]:
    """Position (number of pre-periods) of each treated area's start."""
    if isinstance(start, Mapping):
        extra = [a for a in start if a not in set(treated)]
        if extra:
            raise AnalysisError(
                f"{_NAME}: start gives a date for {short(extra[0])}, which is not in treated_areas: "
                "add it to treated_areas or remove it from start"
            )
        missing = [a for a in treated if a not in start]
        if missing:
            raise AnalysisError(
                f"{_NAME}: start has no date for treated area(s) {', '.join(map(str, missing[:5]))}: "
                "give every treated area its first treated period"
            )
        return {a: _position(start[a], periods, who=f" of {a}") for a in treated}
    t0 = _position(start, periods, who="")
    return dict.fromkeys(treated, t0)


def _position(start: Any, periods: pd.Index, *, who: str) -> int:
    first, last = periods[0], periods[-1]
    if isinstance(periods, pd.PeriodIndex):
        try:
            target = start if isinstance(start, pd.Period) else pd.Period(start, freq=periods.freq)
        except (ValueError, TypeError) as exc:
            raise AnalysisError(
                f"{_NAME}: start{who} {short(start)} is not a period like {first} ({exc})"
            ) from exc
        if target.freqstr != periods.freqstr:
            raise AnalysisError(
                f"{_NAME}: start{who} {target} has frequency {target.freqstr} but the data are "
                f"{periods.freqstr}; give the start as a period like {first}"
            )
    else:
        target = start
        if pd.api.types.is_numeric_dtype(periods.dtype) and isinstance(start, str):
            target = pd.to_numeric(start, errors="coerce")
        elif periods.dtype == object and isinstance(first, str) and not isinstance(start, str):
            target = str(start)
    try:
        pos = int(periods.searchsorted(target, side="left"))
    except TypeError as exc:
        raise AnalysisError(
            f"{_NAME}: start{who} {short(start)} cannot be compared with periods like {first}"
        ) from exc
    if pos >= len(periods):
        raise AnalysisError(
            f"{_NAME}: start{who} {start} is after the last period in the data ({last}): there is no "
            "post-period to evaluate; check the start or add later data"
        )
    if pos == 0 and periods[0] != target:
        raise AnalysisError(
            f"{_NAME}: start{who} {start} is before the first period in the data ({first}): there is "
            "no pre-period; check the start or add earlier data"
        )
    return pos


def _predictor_rows(
    data: pd.DataFrame,
    predictors: list[str],
    *,
    area: str,
    period: str,
    rows: list[Any],
    pre: list[Any],
    y_pre: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Pre-period means of the predictors per area, scaled to count like one outcome period."""
    d = data.loc[data[period].isin(pre), [area, *predictors]].copy()
    for p in predictors:
        d[p] = pd.to_numeric(d[p], errors="coerce")
    means = d.groupby(area)[predictors].mean().reindex(rows)
    if means.isna().any().any():
        bad = means.isna().stack()
        (a, p) = bad[bad].index[0]
        raise AnalysisError(
            f"{_NAME}: predictor '{p}' has no value in the pre-period for area {a} "
            f"({plural(int(bad.sum()), 'area-predictor')} without one): fill it or drop the predictor"
        )
    values = means.to_numpy(dtype=float)
    n0 = y_pre.shape[0]
    s_y = float(np.sqrt(np.mean(y_pre.var(axis=0, ddof=1))))
    s_p = values[:n0].std(axis=0, ddof=1)
    notes = []
    scale = np.zeros(len(predictors))
    for j, p in enumerate(predictors):
        if s_p[j] > 0:
            scale[j] = s_y / s_p[j]
        else:
            notes.append(f"predictor '{p}' is the same for every donor and was not used")
    return values * scale, notes


# --- fitting one cohort -----------------------------------------------------------------------


def _fit_cohort(
    y: np.ndarray,
    *,
    donors: list[Any],
    treated: list[Any],
    periods: list[Any],
    t0: int,
    estimator: Estimator,
    predictors: np.ndarray | None,
    placebo: bool,
    n_placebo: int,
    rng: PermutationSource,
    leave_one_out: bool,
    grid: dict[str, Any] | None = None,
) -> CohortFit:
    n0, n1 = len(donors), len(treated)
    fit = fit_block(y[None], n0, t0, estimator=estimator, predictors=None if predictors is None else predictors[None])
    jobs: dict[str, _Job] = {}
    if placebo:
        # synthdid's placebo_se: a permutation of the controls, the last N1 play the treated; the
        # weights start from the fit's (omega restricted and renormalised) and the penalties and
        # stopping rule are the fit's
        perms = np.stack([np.asarray(rng.permutation(n0)) for _ in range(n_placebo)])
        m0 = n0 - n1
        init = fit.omega[0][perms[:, :m0]]
        sums = init.sum(axis=1, keepdims=True)
        init = np.where(sums > 0, init / np.where(sums > 0, sums, 1.0), 1.0 / m0)
        one = np.ones(n_placebo)
        jobs["placebo"] = _Job(
            perms, m0, init, np.repeat(fit.lam, n_placebo, axis=0),
            Tuning(fit.noise * one, fit.zeta_omega * one, fit.zeta_lambda * one, fit.min_decrease * one),
        )
    if placebo and n0 >= 3:
        # in-space placebos: each donor as the treated area against the others, a fresh fit
        order = np.array([[k for k in range(n0) if k != j] + [j] for j in range(n0)])
        jobs["space"] = _Job(order, n0 - 1)
    if leave_one_out and n0 >= 3:
        drop = [j for j in range(n0) if fit.omega[0][j] > 0]
        if drop:
            jobs["loo"] = _Job(np.array([[k for k in range(n0 + n1) if k != j] for j in drop]), n0 - 1)
    done = _run_jobs(jobs, y, predictors, t0=t0, estimator=estimator, grid=grid)

    placebo_tau = placebo_curve = space = loo = None
    if "placebo" in done:
        placebo_tau, placebo_curve = done["placebo"].tau, done["placebo"].gap[:, t0:]
    if "space" in done:
        gap = done["space"].gap
        pre = np.sqrt(np.mean(gap[:, :t0] ** 2, axis=1))
        post = np.sqrt(np.mean(gap[:, t0:] ** 2, axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pre > 0, post / np.where(pre > 0, pre, 1.0), np.inf)
        space = {"gap": gap, "pre": pre, "post": post, "ratio": ratio}
    if "loo" in done:
        drop = [j for j in range(n0) if fit.omega[0][j] > 0]
        loo = {donors[j]: float(v) for j, v in zip(drop, done["loo"].tau, strict=True)}
    return CohortFit(
        label=str(periods[t0]), treated=tuple(treated), donors=tuple(donors), periods=tuple(periods),
        t0=t0, y=y, fit=fit, placebo_tau=placebo_tau, placebo_curve=placebo_curve, space=space, loo=loo,
    )


def _or_uniform(w: np.ndarray | None, rows: int, k: int) -> np.ndarray:
    return np.full((rows, k), 1.0 / k) if w is None else w


@dataclass(frozen=True)
class _Job:
    """Re-fits of one kind: rows of the block to use (controls first) and how to start."""

    rows: np.ndarray  # (B, N') row indices into the cohort's block
    n0: int
    omega_init: np.ndarray | None = None
    lambda_init: np.ndarray | None = None
    tuning: Tuning | None = None


def _run_jobs(
    jobs: dict[str, _Job],
    y: np.ndarray,
    predictors: np.ndarray | None,
    *,
    t0: int,
    estimator: Estimator,
    grid: dict[str, Any] | None = None,
) -> dict[str, BlockFit]:
    """Run the re-fits, one batch per block shape (with one treated area all share a shape)."""
    groups: dict[tuple[int, int], list[str]] = {}
    for name, job in jobs.items():
        groups.setdefault((job.rows.shape[1], job.n0), []).append(name)
    out: dict[str, BlockFit] = {}
    for (_, n0), names in groups.items():
        parts = [jobs[n] for n in names]
        rows = np.concatenate([j.rows for j in parts])
        yb = y[rows]
        tunings = [j.tuning or tuning(y[j.rows], n0, t0, estimator=estimator) for j in parts]
        sizes = [len(j.rows) for j in parts]
        batch = {
            "y": yb,
            "predictors": None if predictors is None else predictors[rows],
            "omega_init": np.concatenate([_or_uniform(j.omega_init, k, n0) for j, k in zip(parts, sizes, strict=True)]),
            "lambda_init": np.concatenate([_or_uniform(j.lambda_init, k, t0) for j, k in zip(parts, sizes, strict=True)]),
            "noise": np.concatenate([tu.noise for tu in tunings]),
            "zeta_omega": np.concatenate([tu.zeta_omega for tu in tunings]),
            "zeta_lambda": np.concatenate([tu.zeta_lambda for tu in tunings]),
            "min_decrease": np.concatenate([tu.min_decrease for tu in tunings]),
        }
        fit = _fit_batch(batch, n0, t0, estimator, grid)
        bounds = np.cumsum([0, *sizes])
        for name, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True):
            out[name] = BlockFit(*(getattr(fit, f)[lo:hi] for f in BlockFit.__dataclass_fields__))
    return out


def _fit_batch(batch: dict[str, Any], n0: int, t0: int, estimator: Estimator, grid: dict[str, Any] | None) -> BlockFit:
    """One batch of re-fits, here or split over a grid of processes (or a Dask cluster).

    Each problem of a batch runs exactly the iterations it would run alone, so splitting the
    batch changes where it runs, not the result.
    """
    n = len(batch["y"])
    workers = (grid or {}).get("workers", 1)
    scheduler = (grid or {}).get("scheduler")
    if (workers == 1 and not scheduler) or n < 2:
        return _fit_slice(batch, (0, n, n0, t0, estimator))
    from evaluate.grid import default_workers, run_grid

    chunks = min(n, 4 * (default_workers() if workers is None else workers))
    edges = np.linspace(0, n, chunks + 1).astype(int)
    tasks = [(int(lo), int(hi), n0, t0, estimator) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]
    parts = run_grid(_fit_slice, tasks, shared=batch, workers=workers, scheduler=scheduler,
                     progress=(grid or {}).get("progress"), desc="synthetic control re-fits")
    return BlockFit(*(np.concatenate([getattr(p, f) for p in parts]) for f in BlockFit.__dataclass_fields__))


def _fit_slice(batch: dict[str, Any], task: tuple[int, int, int, int, str]) -> BlockFit:
    """Problems ``lo:hi`` of a batch (module level: a grid task)."""
    lo, hi, n0, t0, estimator = task
    pick = {k: (None if v is None else v[lo:hi]) for k, v in batch.items()}
    return fit_block(pick.pop("y"), n0, t0, estimator=estimator, **pick)  # type: ignore[arg-type]


# --- the result -------------------------------------------------------------------------------


def _normal_row(estimand: str, est: float, se: float, z: float) -> dict[str, Any]:
    from scipy import stats

    ok = np.isfinite(se) and se > 0
    return {
        "estimand": estimand,
        "estimate": float(est),
        "std_error": finite_or_nan(se) if ok else float("nan"),
        "ci_lower": float(est - z * se) if ok else float("nan"),
        "ci_upper": float(est + z * se) if ok else float("nan"),
        "p_value": float(2 * stats.norm.sf(abs(est / se))) if ok else float("nan"),
    }


def _draws(x: np.ndarray | None) -> np.ndarray:
    if x is None:
        raise RuntimeError("placebo draws asked for but not computed")  # guarded by has_placebo
    return x


def _placebo_se(draws: np.ndarray | None) -> float:
    if draws is None or len(draws) < 2:
        return float("nan")
    r = len(draws)
    return float(np.sqrt((r - 1) / r) * np.std(draws, ddof=1, axis=0))


def _result(
    fits: list[CohortFit],
    *,
    estimator: str,
    rows: RowAccounting,
    n_cells: int,
    n_areas: int,
    ci_level: float,
    n_placebo: int,
    placebo_requested: bool | str,
    notes: list[str],
    predictors: list[str],
    labels: dict[str, Any],
) -> EffectResult:
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + ci_level / 2))
    n_periods = len(fits[0].periods)
    sizes = np.array([len(f.treated) for f in fits], dtype=float)
    share = sizes / sizes.sum()
    staggered = len(fits) > 1
    has_placebo = all(f.placebo_tau is not None for f in fits)
    common = {"n_obs": n_cells, "n_areas": n_areas, "n_periods": n_periods}
    se_note = (
        f"placebo SE ({n_placebo} replications), normal interval"
        if has_placebo
        else "no standard error: the placebo SE needs more donors than treated areas"
        if placebo_requested == "auto"
        else "no standard error: placebo inference switched off"
    )

    # overall average
    att = float(share @ np.array([f.tau for f in fits]))
    att_draws = np.stack([_draws(f.placebo_tau) for f in fits], axis=1) @ share if has_placebo else None
    records = [{**_normal_row("att", att, _placebo_se(att_draws), z), **common,
                "note": ("average effect over treated areas and post periods; " if not staggered else
                         "average of cohort effects weighted by their numbers of treated areas; ") + se_note}]

    # by period since the start
    max_t1 = max(n_periods - f.t0 for f in fits)
    for k in range(max_t1):
        have = [i for i, f in enumerate(fits) if n_periods - f.t0 > k]
        w = share[have] / share[have].sum()
        est = float(sum(w_i * fits[i].gap[fits[i].t0 + k] for w_i, i in zip(w, have, strict=True)))
        draws = np.stack([_draws(fits[i].placebo_curve)[:, k] for i in have], axis=1) @ w if has_placebo else None
        where = (f"period {fits[0].periods[fits[0].t0 + k]}" if not staggered
                 else f"{plural(len(have), 'cohort')} with a period {k} after the start")
        records.append({**_normal_row(f"att_e{k}", est, _placebo_se(draws), z), **common,
                        "note": f"gap between treated and synthetic in {where} (event time {k}); "
                        + ("placebo SE of the gap" if has_placebo else se_note)})

    if staggered:
        for f in fits:
            n_f = len(f.donors) + len(f.treated)
            records.append({**_normal_row(f"att_g{f.label}", f.tau, _placebo_se(f.placebo_tau), z),
                            "n_obs": n_f * n_periods, "n_areas": n_f, "n_periods": n_periods,
                            "note": f"cohort starting {f.label} ({plural(len(f.treated), 'treated area')}) "
                            "against the never-treated donors; "
                            + (f"placebo SE ({n_placebo} replications), normal interval"
                               if f.placebo_tau is not None else se_note)})
    estimates = pd.DataFrame.from_records(records)

    diagnostics, warnings = _diagnostics(fits, estimator=estimator, share=share, att=att, predictors=predictors)
    diagnostics["notes"] = notes
    seed = labels["seed"]
    diagnostics["seed"] = int(seed) if isinstance(seed, int | np.integer) else repr(seed)
    diagnostics["n_placebo"] = n_placebo if has_placebo else 0
    if not has_placebo and placebo_requested == "auto":
        warnings.insert(0, "no standard errors: the placebo standard error needs more donor areas than "
                        "treated areas in every cohort")
    se_type = (
        f"placebo (Arkhangelsky et al. 2021, Algorithm 4): {n_placebo} replications with donors drawn "
        "at random as pseudo-treated; normal intervals"
        if has_placebo else "none (placebo inference not run)"
    )
    return EffectResult(
        analysis=labels["analysis"],
        method="synthetic_control",
        estimator=estimator,
        outcome=labels["outcome"],
        outcome_role=labels["outcome_role"],
        outcome_label=labels["outcome_label"],
        intervention=labels["intervention"],
        estimates=estimates,
        ci_level=ci_level,
        se_type=se_type,
        rows=rows,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
        model={f.label: f for f in fits},
        plot_data=_plot_data(fits),
        unit=labels["unit"],
    )


def _diagnostics(
    fits: list[CohortFit], *, estimator: str, share: np.ndarray, att: float, predictors: list[str]
) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    cohorts = []
    for f, s in zip(fits, share, strict=True):
        n0 = len(f.donors)
        omega, lam = f.fit.omega[0], f.fit.lam[0]
        pre, post = f.rmspe()
        c: dict[str, Any] = {
            "cohort": f.label,
            "treated_areas": [str(a) for a in f.treated],
            "weight_in_att": float(s),
            "estimate": f.tau,
            "std_error": finite_or_nan(_placebo_se(f.placebo_tau)),
            "n_donors": n0,
            "n_pre": f.t0,
            "n_post": len(f.periods) - f.t0,
            "noise_level": finite_or_nan(f.fit.noise[0]),
            "zeta_omega": finite_or_nan(f.fit.zeta_omega[0]),
            "zeta_lambda": finite_or_nan(f.fit.zeta_lambda[0]),
            "unit_weights": {str(a): float(w) for a, w in zip(f.donors, omega, strict=True)},
            "effective_donors": float(1 / np.sum(omega**2)),
            "time_weights": {str(p): float(w) for p, w in zip(f.periods[: f.t0], lam, strict=True)},
            "pre_rmspe": pre,
            "post_rmspe": post,
            "rmspe_ratio": finite_or_nan(post / pre) if pre > 0 else float("nan"),
        }
        who = ", ".join(map(str, f.treated)) if len(f.treated) <= 3 else f"the {len(f.treated)} treated areas"
        if f.space is not None:
            ratio = post / pre if pre > 0 else np.inf
            ratios = f.space["ratio"]
            p = (1 + int(np.sum(ratios >= ratio))) / (1 + n0)
            p90 = float(np.quantile(f.space["pre"], 0.9))
            c["in_space_placebo"] = {
                "p_value": p,
                "n": n0,
                "treated_ratio": finite_or_nan(ratio),
                "donor_ratios": {str(a): finite_or_nan(r) for a, r in zip(f.donors, ratios, strict=True)},
                "donor_pre_rmspe": {str(a): float(r) for a, r in zip(f.donors, f.space["pre"], strict=True)},
                "pre_rmspe_p90": p90,
                "smallest_attainable_p": 1 / (1 + n0),
                "method": "rank of the treated post/pre RMSPE ratio among the donors fitted as if treated "
                          "(Abadie, Diamond & Hainmueller 2010)",
            }
            c["poor_pre_fit"] = bool(pre > p90)
            if pre > p90:
                fix = ("consider estimator: sdid, which allows a constant difference in level"
                       if estimator == "sc" else
                       "the treated trend before the start is unlike any weighted mix of donor trends")
                warnings.append(
                    f"poor pre-period fit{_cohort_text(fits, f)}: the synthetic control does not track "
                    f"{who} before the start (root mean squared gap {pre:.3g}, larger than for 90% of the "
                    f"donors fitted as placebos, whose 90th percentile is {p90:.3g}). The treated series lies "
                    f"outside what the donors can reproduce, so the estimate extrapolates; {fix}"
                )
            if n0 + 1 < 20:
                warnings.append(
                    f"only {plural(n0, 'donor')}{_cohort_text(fits, f)}: the permutation p-value cannot be "
                    f"smaller than {1 / (1 + n0):.2f}, and the placebo standard error rests on few areas"
                )
        if f.loo is not None:
            vals = np.array(list(f.loo.values()))
            lo_a = min(f.loo, key=lambda a: f.loo[a])  # type: ignore[index]
            hi_a = max(f.loo, key=lambda a: f.loo[a])  # type: ignore[index]
            c["leave_one_out"] = {
                "estimates": {str(a): v for a, v in f.loo.items()},
                "min": float(vals.min()),
                "max": float(vals.max()),
                "min_without": str(lo_a),
                "max_without": str(hi_a),
                "n": len(vals),
            }
            flips = [a for a, v in f.loo.items() if np.sign(v) != np.sign(f.tau) and v != 0]
            if flips:
                a = flips[0]
                warnings.append(
                    f"the estimate{_cohort_text(fits, f)} changes sign without one donor: dropping {a} gives "
                    f"{f.loo[a]:.3g} instead of {f.tau:.3g}; the result leans on that area"
                )
        cohorts.append(c)
    diag: dict[str, Any] = {
        "estimator": estimator,
        "estimator_name": _ESTIMATOR_NAMES[estimator],
        "att": att,
        "cohort_weighting": "cohort estimates weighted by their numbers of treated areas",
        "predictors": list(predictors),
    }
    if len(fits) == 1:
        only = cohorts[0]
        diag.update({k: v for k, v in only.items() if k not in ("weight_in_att",)})
    else:
        diag["cohorts"] = cohorts
        loo_all = [c["leave_one_out"] for c in cohorts if "leave_one_out" in c]
        if loo_all:
            diag["leave_one_out_range"] = [min(x["min"] for x in loo_all), max(x["max"] for x in loo_all)]
    return diag, warnings


def _cohort_text(fits: list[CohortFit], f: CohortFit) -> str:
    return f" (cohort starting {f.label})" if len(fits) > 1 else ""


def _plot_data(fits: list[CohortFit]) -> dict[str, pd.DataFrame]:
    weights, times, series, gaps = [], [], [], []
    for f in fits:
        weights.append(pd.DataFrame({"area": list(f.donors), "weight": f.fit.omega[0], "cohort": f.label}))
        times.append(pd.DataFrame({"period": list(f.periods[: f.t0]), "weight": f.fit.lam[0], "cohort": f.label}))
        n_t = len(f.periods)
        series.append(
            pd.DataFrame(
                {
                    "period": list(f.periods),
                    "treated": f.fit.treated[0],
                    "synthetic": f.fit.synthetic[0],
                    "event_time": np.arange(n_t) - f.t0,
                    "cohort": f.label,
                }
            )
        )
        if f.space is not None:
            n0 = len(f.donors)
            gaps.append(
                pd.DataFrame(
                    {
                        "period": list(f.periods) * n0,
                        "area": np.repeat(np.array(f.donors, dtype=object), n_t),
                        "gap": f.space["gap"].ravel(),
                        "event_time": np.tile(np.arange(n_t) - f.t0, n0),
                        "cohort": f.label,
                    }
                )
            )
    out = {
        "weights": pd.concat(weights, ignore_index=True),
        "time_weights": pd.concat(times, ignore_index=True),
        "series": pd.concat(series, ignore_index=True),
        "placebo_gaps": (
            pd.concat(gaps, ignore_index=True)
            if gaps else pd.DataFrame(columns=["period", "area", "gap", "event_time", "cohort"])
        ),
    }
    return out
