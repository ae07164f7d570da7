"""The harm index: a weighted sum of harm series, with weights from a file that cites its source.

Weights files are YAML::

    name: illustrative_days_of_custody
    source: "Where the weights come from (a crime harm index, unit costs, ...), with a citation"
    unit: "days of custody equivalent per event"
    weights:
      drug_poisoning_deaths: 5475
      nonfatal_overdoses: 30

Only ``harm`` variables may be components. Police activity is not a harm outcome, so an activity
variable in the weights is an error unless the config adds an explicit ``enforcement_harm`` term,
whose own weights file may list activity variables (for example the harm of a stop and search to
the person searched). The index is missing in any cell where a component is missing or
suppressed; its suppression range is carried in ``<index>__lower`` and ``<index>__upper``. Each
weighted component is kept as ``<index>__<variable>`` so that results can show what drives the
index, and alternative weights files give further index columns for sensitivity analyses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluate.config.yaml_safe import load_yaml
from evaluate.data.dictionary import Dictionary, Variable
from evaluate.data.join import Panel
from evaluate.errors import ConfigError, suggest

__all__ = ["HarmWeights", "HarmIndex", "load_weights", "add_harm_index"]


class HarmWeights(BaseModel):
    """A weights file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    source: str = Field(min_length=1, description="Where the weights come from, with a citation.")
    unit: str = Field(min_length=1)
    description: str = ""
    weights: dict[str, float] = Field(min_length=1)


@dataclass
class HarmIndex:
    """How an index column was built."""

    column: str
    label: str
    weights_file: str
    weights_name: str
    source: str
    unit: str
    weights: dict[str, float]
    enforcement_weights: dict[str, float] = field(default_factory=dict)
    enforcement_source: str | None = None
    components: list[str] = field(default_factory=list)
    cells_missing: int = 0
    cells_suppressed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def load_weights(path: Path, *, context: str) -> HarmWeights:
    """Read and check a weights file (positive, finite weights; a source is required)."""
    raw = load_yaml(path, what="harm-index weights")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{context} ({path}): the weights file is {'empty' if raw is None else 'not a mapping'}; "
            "it needs name, source, unit and weights (see configs/README.md)"
        )
    try:
        w = HarmWeights.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        hint = " Weights files need name, source, unit and weights." if err["type"] == "missing" else ""
        raise ConfigError(f"{context} ({path}): {loc}: {err['msg']}.{hint}") from None
    bad = {k: v for k, v in w.weights.items() if not np.isfinite(v) or v <= 0}
    if bad:
        k, v = next(iter(bad.items()))
        raise ConfigError(
            f"{context} ({path}): weight of '{k}' is {v}; weights must be positive numbers"
        )
    return w


def add_harm_index(
    panel: Panel,
    *,
    column: str,
    label: str,
    weights: HarmWeights,
    weights_file: str,
    dictionary: Dictionary,
    enforcement: HarmWeights | None = None,
    context: str = "harm_index",
    per: float = 100_000,
    population: str = "population",
) -> HarmIndex | None:
    """Add a harm index column (and its components) to a panel.

    Parameters
    ----------
    panel
        The panel, modified in place.
    column, label
        Column name and plain-language label of the index.
    weights
        Harm weights (``harm`` variables only).
    weights_file
        Path shown in reports.
    dictionary
        The data dictionary (to tell an unknown name from a variable at another frequency).
    enforcement
        Optional enforcement-harm weights (``activity`` variables only).
    context
        Config location for messages.
    per
        Multiplier for the index rate column ``<column>_rate``.
    population
        Denominator variable.

    Returns
    -------
    HarmIndex or None
        ``None`` if a component is not in this panel (it lives at another frequency); the panel
        gets a note saying so.

    Raises
    ------
    ConfigError
        If a component is not a dictionary variable, or has the wrong role.
    """
    terms: dict[str, float] = {}
    for name, w in weights.weights.items():
        v = _variable(panel, dictionary, name, context)
        if v is not None and v.role != "harm":
            extra = (
                " Police activity is not a harm outcome; to count the harm of enforcement itself, "
                "put it in a separate enforcement_harm weights file"
                if v.role == "activity"
                else ""
            )
            raise ConfigError(
                f"{context}.weights: '{name}' has role {v.role}; only harm variables can be "
                f"components of the harm index.{extra}"
            )
        terms[name] = w
    enf: dict[str, float] = {}
    if enforcement is not None:
        for name, w in enforcement.weights.items():
            v = _variable(panel, dictionary, name, f"{context}.enforcement_harm")
            if v is not None and v.role != "activity":
                raise ConfigError(
                    f"{context}.enforcement_harm.weights: '{name}' has role {v.role}; the "
                    "enforcement-harm term takes activity variables only (put harms in the main weights)"
                )
            enf[name] = w
    all_terms = {**terms, **enf}
    absent = [n for n in all_terms if n not in panel.data.columns]
    if absent:
        panel.report.notes.append(
            f"harm index '{column}' is not built in the {panel.frequency} panel: component(s) "
            f"{', '.join(absent)} are not at this frequency"
        )
        return None

    data = panel.data
    total = np.zeros(len(data))
    lower = np.zeros(len(data))
    upper = np.zeros(len(data))
    suppressed = np.zeros(len(data), dtype=bool)
    components = []
    for name, w in all_terms.items():
        x = data[name].to_numpy(dtype=float)
        comp = f"{column}__{name}"
        data[comp] = w * x
        components.append(comp)
        total = total + w * x
        if f"{name}__suppressed" in data.columns:
            s = data[f"{name}__suppressed"].to_numpy(dtype=bool)
            suppressed |= s
            lower = lower + w * data[f"{name}__lower"].to_numpy(dtype=float)
            upper = upper + w * data[f"{name}__upper"].to_numpy(dtype=float)
        else:
            lower, upper = lower + w * x, upper + w * x
    data[column] = total
    data[f"{column}__suppressed"] = suppressed
    data[f"{column}__lower"] = lower
    data[f"{column}__upper"] = upper
    panel.outcomes[column] = ("harm", label)
    if population in data.columns:
        pop = data[population].to_numpy(dtype=float)
        data[f"{column}_rate"] = total / np.where(pop > 0, pop, np.nan) * per
        panel.derived[f"{column}_rate"] = f"{label} per {per:,.0f} residents"
        panel.outcomes[f"{column}_rate"] = ("harm", f"{label} per {per:,.0f} residents")
    panel.derived[column] = (
        f"{label}: weighted sum of {', '.join(all_terms)} ({weights.unit}; weights: "
        f"{weights.name}, source: {weights.source})"
    )
    for name in all_terms:
        panel.derived[f"{column}__{name}"] = f"{label}: weighted component {name}"
    return HarmIndex(
        column=column,
        label=label,
        weights_file=weights_file,
        weights_name=weights.name,
        source=weights.source,
        unit=weights.unit,
        weights=terms,
        enforcement_weights=enf,
        enforcement_source=enforcement.source if enforcement else None,
        components=components,
        cells_missing=int(np.isnan(total).sum()),
        cells_suppressed=int(suppressed.sum()),
    )


def _variable(panel: Panel, dictionary: Dictionary, name: str, context: str) -> Variable:
    """The variable a weight names (it may live in another panel), or an error if unknown."""
    v = panel.variables.get(name) or dictionary.variables.get(name)
    if v is None:
        raise ConfigError(
            f"{context}.weights: '{name}' is not a data-dictionary variable"
            f"{suggest(name, dictionary.variables)}; weights must name variables of the sources"
        )
    return v
