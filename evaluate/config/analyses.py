"""Config models of the analyses, one per ``method``.

Each analysis names an ``intervention`` and the ``outcomes`` to evaluate. The ``method`` key picks
the model below (a discriminated union), so a misspelt option of one method is reported against
that method's own keys. Estimator issues add their models here and to ``AnalysisConfig`` in
:mod:`evaluate.config.models`; the pipeline's registry maps each ``method`` to the code that runs it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnalysisBase", "DescribeAnalysis", "METHODS"]

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


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


METHODS: tuple[str, ...] = ("describe",)
"""Every ``method`` the config accepts; kept in step with ``AnalysisConfig``."""
