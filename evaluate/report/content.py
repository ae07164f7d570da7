"""What the report, charts and spreadsheet are made from: one object, built by the pipeline.

The report layer sits below the pipeline, so it cannot take the pipeline's ``Prepared`` or
``RunSummary``; the pipeline hands over the pieces instead (results, results table, panels,
intervention timings, the config, the validation/join reports and the run manifest so far).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evaluate.config.analyses import AnalysisBase
from evaluate.config.models import EvaluationConfig, InterventionConfig
from evaluate.data.join import Panel
from evaluate.designs.timing import Timing
from evaluate.results.effect import EffectResult

__all__ = ["ReportContent"]


@dataclass
class ReportContent:
    """Everything published about one run.

    Attributes
    ----------
    config
        The evaluation config (title, interventions, analyses, data settings, disclosure).
    results
        Every result, in config order.
    table
        The results table (with adjusted p-values).
    panels
        Panels by frequency (for raw counts, trends and disclosure control).
    timings
        Per intervention, its timing in each panel.
    reports
        The content of ``validation.json`` (validation, join, timing, harm index reports).
    manifest
        The run manifest as far as it is known before the report is written (config hash,
        inputs, versions, seeds, start time, command).
    generated_at
        When the report was written (ISO 8601, UTC).
    """

    config: EvaluationConfig
    results: list[EffectResult]
    table: pd.DataFrame
    panels: dict[str, Panel]
    timings: dict[str, dict[str, Timing]]
    reports: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    generated_at: str = ""

    @property
    def min_count(self) -> int:
        """``outputs.disclosure.min_count``."""
        return int(self.config.outputs.disclosure.min_count)

    @property
    def main_frequency(self) -> str:
        """``data.frequency``."""
        return str(self.config.data.frequency)

    def intervention(self, name: str) -> InterventionConfig | None:
        """The intervention's config by name."""
        return next((i for i in self.config.interventions if i.name == name), None)

    def intervention_label(self, name: str) -> str:
        """Plain-language name of an intervention (its ``label``, else its name)."""
        iv = self.intervention(name)
        return (iv.label or iv.name) if iv is not None else name

    def analysis(self, name: str) -> AnalysisBase | None:
        """The analysis's config by name."""
        return next((a for a in self.config.analyses if a.name == name), None)

    def panel_of(self, analysis: AnalysisBase) -> Panel | None:
        """The panel an analysis uses."""
        return self.panels.get(analysis.frequency or self.main_frequency)

    def results_of(self, analysis: str) -> list[EffectResult]:
        """Results of one analysis, in order."""
        return [r for r in self.results if r.analysis == analysis]
