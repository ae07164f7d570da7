"""The evaluation config as typed, immutable models.

The top-level keys are fixed by DESIGN.md: ``name``, ``title``, ``data``, ``interventions``,
``harm_index``, ``analyses`` and ``outputs``. Everything under them is defined here and documented
for users in ``configs/README.md``; ``evaluate schema`` prints the JSON Schema generated from these
models. Unknown keys are errors (``extra="forbid"``); the loader suggests the nearest valid key.

Cross-references that need only the config (an analysis names an intervention that exists, an
adoption table names a source that exists, names are unique) are checked here. Checks that need
the data (an outcome exists in the panel, a treated area exists) run after the join and before any
model is fitted.
"""

from __future__ import annotations

import datetime as _dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from evaluate.config.analyses import (
    DescribeAnalysis,
    DidAnalysis,
    ItsAnalysis,
    SyntheticControlAnalysis,
)
from evaluate.errors import suggest

__all__ = [
    "FREQUENCIES",
    "AnalysisConfig",
    "DataConfig",
    "Disclosure",
    "EnforcementHarm",
    "EvaluationConfig",
    "Frequency",
    "HarmIndexConfig",
    "InterventionConfig",
    "JoinConfig",
    "OutputsConfig",
    "PhaseIn",
    "SourceConfig",
    "StrictModel",
    "SuppressionOverride",
]

Frequency = Literal["week", "month", "quarter", "year", "financial_year"]
FREQUENCIES: tuple[str, ...] = ("week", "month", "quarter", "year", "financial_year")


def _as_text(value: Any) -> Any:
    """YAML reads ``2021-07-01`` as a date and ``2016`` as an int; periods are kept as text."""
    if isinstance(value, _dt.date | int) and not isinstance(value, bool):
        return value.isoformat() if isinstance(value, _dt.date) else str(value)
    return value


PeriodText = Annotated[str, BeforeValidator(_as_text), Field(min_length=1, max_length=40)]
Identifier = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        description="Letters, digits and underscores, starting with a letter (used in file names).",
    ),
]
AreaCode = Annotated[str, BeforeValidator(_as_text), Field(min_length=1, max_length=64)]


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors and values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SuppressionOverride(StrictModel):
    """How a source marks suppressed small counts, overriding the data dictionary."""

    markers: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="Cell values that stand for a suppressed count, e.g. '[c]'."
    )
    lower: float = Field(0, ge=0, description="Smallest value a suppressed cell can hide.")
    upper: float = Field(ge=0, description="Largest value a suppressed cell can hide.")

    @model_validator(mode="after")
    def _ordered(self) -> SuppressionOverride:
        if self.upper < self.lower:
            raise ValueError(f"upper ({self.upper:g}) must be at least lower ({self.lower:g})")
        return self


class SourceConfig(StrictModel):
    """One input file and the data-dictionary entity it satisfies."""

    name: Identifier = Field(description="Short name used in reports and messages.")
    path: str = Field(min_length=1, description="File path, relative to the config file.")
    entity: str = Field(description="Data-dictionary entity the file satisfies (see entities.yaml).")
    format: Literal["csv", "parquet"] | None = Field(
        None, description="File format; by default from the extension (.csv, .parquet)."
    )
    frequency: Frequency | None = Field(
        None, description="Frequency of the file's periods; by default the entity's."
    )
    rename: dict[str, str] = Field(
        default_factory=dict, description="Map from the file's column names to dictionary names."
    )
    ignore_columns: list[str] = Field(
        default_factory=list, description="Columns of the file to leave unread."
    )
    period_format: str | None = Field(
        None,
        description="strftime format of the period column when it is not a standard form, e.g. '%d/%m/%Y'.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator.")
    encoding: str = Field("utf-8", description="CSV text encoding (a byte-order mark is accepted).")
    thousands: str | None = Field(
        None, max_length=1, description="Thousands separator in numbers, e.g. ','."
    )
    missing_markers: list[str] = Field(
        default_factory=lambda: ["", "NA"],
        description="Cell values that mean 'not available' (missing, not suppressed).",
    )
    suppression: dict[str, SuppressionOverride] = Field(
        default_factory=dict,
        description="Per-variable suppression markers and range, overriding the dictionary.",
    )


class JoinConfig(StrictModel):
    """How sources are joined into the area x period panel."""

    policy: Literal["strict", "report"] = Field(
        "strict",
        description=(
            "'strict': a row that cannot be placed in the panel (unknown area) is an error. "
            "'report': such rows are left out and listed in the join report."
        ),
    )


class DataConfig(StrictModel):
    """Sources and how they become one panel."""

    frequency: Frequency = Field("month", description="Frequency of the analysis panel.")
    start: PeriodText | None = Field(None, description="First period of the panel (default: data).")
    end: PeriodText | None = Field(None, description="Last period of the panel (default: data).")
    dictionary: str | None = Field(
        None, description="Folder of extra data-dictionary YAML files, relative to the config."
    )
    population: str = Field("population", description="Variable used as the rate denominator.")
    rate_per: float = Field(100_000, gt=0, description="Rates are per this many residents.")
    join: JoinConfig = Field(default_factory=JoinConfig)
    sources: list[SourceConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sources(self) -> DataConfig:
        _unique([s.name for s in self.sources], "data.sources", "name")
        lookups = [s.name for s in self.sources if s.entity == "area_lookup"]
        if len(lookups) > 1:
            raise ValueError(f"only one area_lookup source is allowed, got {lookups}")
        return self


class PhaseIn(StrictModel):
    """Periods right after the start while the intervention is being introduced."""

    periods: int = Field(0, ge=0, description="Number of periods from the start that are phase-in.")
    handling: Literal["exclude", "flag"] = Field(
        "exclude",
        description="'exclude': analyses leave phase-in rows out (and count them); 'flag': keep them.",
    )


class InterventionConfig(StrictModel):
    """An intervention: one start for listed areas, or a staggered adoption table."""

    name: Identifier
    label: str | None = Field(None, description="Plain-language name for the report.")
    description: str = ""
    start: PeriodText | None = Field(None, description="First treated period (single start).")
    treated_areas: list[AreaCode] | None = Field(
        None, description="Area codes treated from `start` (single start)."
    )
    adoption: str | None = Field(
        None, description="Name of a source with entity adoption_table (staggered adoption)."
    )
    phase_in: PhaseIn = Field(default_factory=PhaseIn)

    @model_validator(mode="after")
    def _one_timing(self) -> InterventionConfig:
        single = self.start is not None or self.treated_areas is not None
        if single and self.adoption is not None:
            raise ValueError(
                "give either start + treated_areas (one start date) or adoption (a staggered "
                "adoption table), not both"
            )
        if self.adoption is None:
            if self.start is None or not self.treated_areas:
                raise ValueError(
                    "needs start and a non-empty treated_areas list, or adoption: <source name> "
                    "for a staggered adoption table"
                )
            _unique(self.treated_areas, f"interventions '{self.name}'", "treated_areas")
        return self


class EnforcementHarm(StrictModel):
    """An explicit enforcement-harm term: activity series counted as harms, with their own weights."""

    weights: str = Field(description="YAML weights file for activity variables, relative to the config.")


class HarmIndexConfig(StrictModel):
    """A weighted sum of harm series, with weights loaded from a YAML file that records their source."""

    name: Identifier = "harm_index"
    label: str = "Drug harm index"
    weights: str = Field(description="YAML weights file, relative to the config.")
    enforcement_harm: EnforcementHarm | None = None
    alternatives: dict[Identifier, str] = Field(
        default_factory=dict,
        description="More weights files, each giving another index column for sensitivity analyses.",
    )


class Disclosure(StrictModel):
    """Statistical disclosure control for published outputs."""

    min_count: int = Field(
        3, ge=0, description="Counts below this are suppressed as [c] in published tables and charts."
    )


class Compute(StrictModel):
    """Where the analyses run. Results are the same, in the same order, however they are computed."""

    workers: int | Literal["auto"] = Field(
        1,
        description=(
            "Processes running the analysis x outcome tasks in parallel: 1 (in the main process), a "
            "number, or 'auto' (every core)."
        ),
    )
    scheduler: str | None = Field(
        None,
        pattern=r"^(tcp|tls|inproc|ucx)://\S+$",
        description=(
            "Address of a Dask distributed scheduler (e.g. 'tcp://10.0.0.5:8786') to run the tasks "
            "on a cluster instead (needs pip install 'evaluate[dask]')."
        ),
    )

    @field_validator("workers")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("workers must be at least 1, or 'auto'")
        return v


class OutputsConfig(StrictModel):
    """Where and how results are written."""

    dir: str = Field("outputs", description="Output folder, relative to the config file.")
    disclosure: Disclosure = Field(default_factory=Disclosure)
    compute: Compute = Field(default_factory=Compute)


AnalysisConfig = Annotated[
    DescribeAnalysis | ItsAnalysis | DidAnalysis | SyntheticControlAnalysis, Field(discriminator="method")
]


class EvaluationConfig(StrictModel):
    """A whole evaluation: data, interventions, harm index, analyses and outputs."""

    name: Identifier
    title: str = Field(min_length=1)
    data: DataConfig
    interventions: list[InterventionConfig] = Field(default_factory=list)
    harm_index: HarmIndexConfig | None = None
    analyses: list[AnalysisConfig] = Field(min_length=1)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)

    @model_validator(mode="after")
    def _references(self) -> EvaluationConfig:
        _unique([i.name for i in self.interventions], "interventions", "name")
        _unique([a.name for a in self.analyses], "analyses", "name")
        sources = {s.name: s for s in self.data.sources}
        for i in self.interventions:
            if i.adoption is not None:
                if i.adoption not in sources:
                    raise ValueError(
                        f"interventions '{i.name}': adoption names source '{i.adoption}', which is "
                        f"not under data.sources (sources: {', '.join(sources)})"
                    )
                if sources[i.adoption].entity != "adoption_table":
                    raise ValueError(
                        f"interventions '{i.name}': adoption source '{i.adoption}' has entity "
                        f"'{sources[i.adoption].entity}'; set its entity to adoption_table"
                    )
        names = [i.name for i in self.interventions]
        known = ", ".join(names) or "none defined"
        for a in self.analyses:
            if a.intervention in a.exclude_treated_by:
                raise ValueError(
                    f"analyses '{a.name}': exclude_treated_by lists '{a.intervention}', the "
                    "analysis's own intervention, which would leave out every treated area; "
                    "list only other interventions"
                )
            for ref in (a.intervention, *a.exclude_treated_by):
                if ref not in names:
                    raise ValueError(
                        f"analyses '{a.name}': intervention '{ref}' is not defined under "
                        f"interventions (defined: {known}){suggest(ref, names)}"
                    )
        return self


def _unique(values: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    dupes = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(f"{where}: {key} '{dupes[0]}' appears more than once; names must be unique")
