"""Config models of the analyses, one per ``method``.

Each analysis names an ``intervention`` and the ``outcomes`` to evaluate. The ``method`` key picks
the model below (a discriminated union), so a misspelt option of one method is reported against
that method's own keys. Estimator issues add their models here and to ``AnalysisConfig`` in
:mod:`evaluate.config.models`; the pipeline's registry maps each ``method`` to the code that runs it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "METHODS",
    "AnalysisBase",
    "ComparisonOutcome",
    "DescribeAnalysis",
    "DidAnalysis",
    "ExtraInterruption",
    "ItsAnalysis",
    "SyntheticControlAnalysis",
]

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]

_COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


def _column_name(value: str) -> str:
    """Configs are data: a covariate or predictor is a panel column's name, never a formula."""
    if not _COLUMN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a column name; configs are data, not formulas or code: name a "
            "panel column (letters, digits and underscores, starting with a letter), and put a "
            "transformed variable (a log, a lag, an interaction) in a source file as its own column"
        )
    return value


ColumnName = Annotated[str, AfterValidator(_column_name)]
"""The name of a panel column (checked against the panel before any model is fitted)."""


class AnalysisBase(BaseModel):
    """Keys shared by every analysis."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Identifier = Field(description="Unique name; used for chart and result file names.")
    intervention: str = Field(description="Name of an intervention under `interventions`.")
    outcomes: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        description=(
            "Panel columns to evaluate: dictionary variables (counts), their rates "
            "('<variable>_rate'), or the harm index name."
        ),
    )
    frequency: Literal["week", "month", "quarter", "year", "financial_year"] | None = Field(
        None,
        description="Panel to use; by default data.frequency. Use e.g. 'quarter' for quarterly outcomes.",
    )
    exclude_areas: list[str] = Field(
        default_factory=list,
        description="Areas left out of this analysis (e.g. an area with another intervention).",
    )
    exclude_treated_by: list[str] = Field(
        default_factory=list,
        description=(
            "Other interventions whose treated areas are left out of this analysis, so they "
            "cannot act as comparison areas."
        ),
    )
    ci_level: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of intervals.")
    seed: int = Field(20240601, ge=0, description="Random seed for any resampling in this analysis.")
    description: str = ""


class DescribeAnalysis(AnalysisBase):
    """Pre and post means by treated group, and their difference, for each outcome.

    Not a causal estimator: a transparent first look. Standard errors treat areas as independent
    (each area's own pre and post mean is one observation), never area-periods.
    """

    method: Literal["describe"]


class ExtraInterruption(BaseModel):
    """A further interruption of the same series (a scale-up, a second phase)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    start: str = Field(min_length=1, description="First period of the new segment, e.g. '2022-04'.")
    label: str | None = Field(None, description="Name used in the results (default: the start).")
    slope_change: bool = Field(True, description="Model a change of slope here as well as of level.")

    @field_validator("start", mode="before")
    @classmethod
    def _text(cls, v: object) -> object:
        import datetime as dt

        return v.isoformat() if isinstance(v, dt.date) else v


class ComparisonOutcome(BaseModel):
    """A comparison series that is another outcome of the same unit (a non-drug control series)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    outcome: ColumnName = Field(description="Panel column of the comparison series.")


class ItsAnalysis(AnalysisBase):
    """Interrupted time series: segmented regression of one series (see configs/README.md)."""

    method: Literal["its"]
    unit: Literal["treated_total", "area", "each_treated"] = Field(
        "treated_total",
        description=(
            "'treated_total': the sum over treated areas (one start date); 'area': one area "
            "(set area:); 'each_treated': every treated area separately, each from its own start."
        ),
    )
    area: str | None = Field(None, description="Area code when unit is 'area'.")
    model: Literal["auto", "ols", "poisson", "quasipoisson", "negbin"] = Field(
        "auto",
        description="'auto': quasi-Poisson with a population offset for counts, OLS for rates and indices.",
    )
    se: Literal["auto", "hac", "newey_west", "nonrobust", "model", "pearson"] = Field(
        "auto",
        description=(
            "'auto': prewhitened HAC for OLS, model-based for Poisson and negative binomial, "
            "Pearson-scaled for quasi-Poisson."
        ),
    )
    lags: int | None = Field(
        None,
        ge=0,
        description=(
            "HAC lags: for newey_west the default is floor(4 (T/100)^(2/9)); for hac, lags on the "
            "prewhitened scores (default 0)."
        ),
    )
    errors: Literal["independent", "arima"] = Field(
        "independent", description="'arima': a linear model with ARIMA errors (statsmodels SARIMAX)."
    )
    arima_order: list[int] = Field(
        default_factory=lambda: [1, 0, 0], min_length=3, max_length=3, description="ARIMA (p, d, q)."
    )
    seasonality: Literal["fourier", "month", "none"] = Field(
        "fourier", description="Fourier pairs, one indicator per season ('month'), or none."
    )
    harmonics: int = Field(2, ge=1, le=6, description="Fourier pairs.")
    covariates: list[ColumnName] = Field(
        default_factory=list, description="Covariate columns of the panel (names, not formulas)."
    )
    slope_change: bool = Field(True, description="Model a change of slope as well as of level.")
    additional_interruptions: list[ExtraInterruption] = Field(
        default_factory=list, description="Further interruptions after the intervention's start."
    )
    control: Literal["untreated_total"] | ComparisonOutcome | None = Field(
        None,
        description=(
            "Controlled ITS: 'untreated_total' (the same outcome summed over untreated areas) or "
            "{outcome: <column>} (another outcome of the same unit)."
        ),
    )
    horizons: list[int] = Field(
        default_factory=lambda: [12],
        description="Periods into the intervention at which to report the relative change.",
    )
    placebo: bool = Field(True, description="Fit placebo interruption dates in the pre-period.")
    n_sim: int = Field(2000, ge=100, le=100_000, description="Draws for simulated intervals.")

    @field_validator("horizons")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(h < 1 for h in v):
            raise ValueError("horizons are periods into the intervention and start at 1")
        return v


class DidAnalysis(AnalysisBase):
    """Difference-in-differences across areas (see configs/README.md)."""

    method: Literal["did"]
    estimator: Literal["callaway_santanna", "twfe", "event_study", "sun_abraham", "poisson"] = Field(
        "callaway_santanna",
        description=(
            "callaway_santanna (staggered adoption, heterogeneous effects), twfe, event_study "
            "(TWFE leads and lags), sun_abraham (interaction-weighted event study), poisson (PML "
            "for counts with a population offset)."
        ),
    )
    control: Literal["never_treated", "not_yet_treated"] | None = Field(
        None, description="Callaway-Sant'Anna comparison units; by default never-treated when there are any."
    )
    anticipation: int = Field(0, ge=0, description="Periods before adoption in which areas may already react.")
    base_period: Literal["varying", "universal"] = Field("varying", description="Callaway-Sant'Anna base period.")
    covariates: list[ColumnName] = Field(
        default_factory=list, description="Covariate columns of the panel (names, not formulas)."
    )
    adjustment: Literal["dr", "ipw", "reg"] = Field(
        "dr", description="Callaway-Sant'Anna covariate adjustment: doubly robust, IPW or outcome regression."
    )
    aggregations: list[Literal["simple", "dynamic", "group", "calendar"]] = Field(
        default_factory=lambda: ["simple", "dynamic", "group", "calendar"],
        description="Callaway-Sant'Anna aggregations to report.",
    )
    bootstrap: int = Field(
        999, ge=0, le=100_000,
        description="Callaway-Sant'Anna multiplier-bootstrap draws (uniform bands); 0 for analytic SEs only.",
    )
    window: list[int] | None = Field(
        None, min_length=2, max_length=2,
        description="Event study / Sun-Abraham [lowest lead, highest lag]; endpoints are binned.",
    )
    se: Literal["auto", "cluster", "wild"] = Field(
        "auto",
        description=(
            "TWFE and event study: 'cluster' (CR1 by area), 'wild' (wild cluster bootstrap), or "
            "'auto' (wild below 50 clusters)."
        ),
    )
    wild_draws: int = Field(999, ge=99, le=100_000, description="Wild bootstrap draws.")
    wild_weights: Literal["auto", "rademacher", "webb"] = Field(
        "auto", description="Wild bootstrap weights ('auto': Webb below 12 clusters)."
    )
    randomization: int = Field(
        0, ge=0, le=100_000, description="TWFE: randomization-inference draws over adoption dates (0: none)."
    )
    unbalanced: Literal["refuse", "drop_units"] = Field(
        "refuse", description="Callaway-Sant'Anna: refuse gaps, or drop areas with any missing period."
    )

    @field_validator("window")
    @classmethod
    def _window(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and not (v[0] < -1 < v[1] + 1 and v[0] < v[1]):
            raise ValueError("window must be [lowest lead, highest lag] around -1, e.g. [-6, 12]")
        return v


class SyntheticControlAnalysis(AnalysisBase):
    """Synthetic control, synthetic DiD or DiD for one or a few treated areas (see configs/README.md)."""

    method: Literal["synthetic_control"]
    estimator: Literal["sdid", "sc", "did"] = Field(
        "sdid",
        description=(
            "sdid (synthetic DiD: donor and time weights, allows a constant level difference), sc "
            "(synthetic control: donor weights matching pre-period levels), did (equal weights on the "
            "same block, for comparison)."
        ),
    )
    predictors: list[ColumnName] = Field(
        default_factory=list,
        description="estimator sc only: panel columns whose pre-period means the donor weights also match.",
    )
    placebo: Literal["auto"] | bool = Field(
        "auto",
        description=(
            "Placebo standard error, in-space placebo p-value and pre-fit check: 'auto' (when there are "
            "more donors than treated areas), true (required) or false."
        ),
    )
    n_placebo: int = Field(200, ge=20, le=10_000, description="Placebo-SE replications.")
    leave_one_out: bool = Field(True, description="Re-fit without each donor with positive weight.")
    unbalanced: Literal["refuse", "drop_units"] = Field(
        "refuse",
        description=(
            "An outcome missing (or suppressed) in some area-periods: refuse, or drop the areas with "
            "any gap (counted; a treated area with a gap cannot be dropped)."
        ),
    )


METHODS: tuple[str, ...] = ("describe", "its", "did", "synthetic_control")
"""Every ``method`` the config accepts; kept in step with ``AnalysisConfig``."""
