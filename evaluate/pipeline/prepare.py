"""From a config to validated, joined and derived panels (everything before the analyses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evaluate.config.loader import LoadedConfig
from evaluate.data.dictionary import Dictionary, load_dictionary
from evaluate.data.join import Panel, build_panels
from evaluate.data.sources import RawSource, read_source
from evaluate.data.validate import ParsedSource, ValidationReport, validate_sources
from evaluate.designs.timing import Timing, add_timing
from evaluate.errors import AnalysisError, ConfigError, ValidationFailed, suggest
from evaluate.harm.index import HarmIndex, add_harm_index, load_weights
from evaluate.harm.rates import add_rates

__all__ = ["Prepared", "prepare", "InputFile"]


@dataclass(frozen=True)
class InputFile:
    """An input file of the run, for the manifest."""

    role: str
    name: str
    path: str
    sha256: str
    bytes: int


@dataclass
class Prepared:
    """Everything an analysis needs, built and checked before any model is fitted.

    Attributes
    ----------
    loaded
        The config.
    dictionary
        The data dictionary used.
    validation
        The validation report (no errors, or :func:`prepare` would have raised).
    panels
        Panels by frequency; ``panels[config.data.frequency]`` is the main one.
    timings
        Per intervention, its :class:`Timing` in each panel.
    harm_indices
        How each harm-index column was built, per panel frequency.
    inputs
        Every input file read, with its hash.
    """

    loaded: LoadedConfig
    dictionary: Dictionary
    validation: ValidationReport
    panels: dict[str, Panel]
    timings: dict[str, dict[str, Timing]]
    harm_indices: dict[str, list[HarmIndex]] = field(default_factory=dict)
    inputs: list[InputFile] = field(default_factory=list)
    parsed: dict[str, ParsedSource] = field(default_factory=dict, repr=False)

    @property
    def main(self) -> Panel:
        """The panel at ``data.frequency``."""
        return self.panels[self.loaded.model.data.frequency]

    def panel(self, frequency: str | None) -> Panel | None:
        """The panel at a frequency (``None``: the main panel), or ``None`` if there is none."""
        return self.panels.get(frequency or self.loaded.model.data.frequency)

    def reports(self) -> dict[str, Any]:
        """Content of ``validation.json``: validation, join, timing and harm-index reports."""
        return {
            "validation": self.validation.to_dict(),
            "join": {f: p.report.to_dict() for f, p in self.panels.items()},
            "timing": {
                name: {f: t.to_dict() for f, t in by_freq.items()}
                for name, by_freq in self.timings.items()
            },
            "harm_index": {
                f: [h.to_dict() for h in hs] for f, hs in self.harm_indices.items()
            },
            "derived_columns": {f: dict(p.derived) for f, p in self.panels.items()},
        }


def _check_harm_index(
    name: str,
    alternatives: list[str],
    main: Any,
    enforcement: Any,
    alts: dict[str, Any],
    panels: dict[str, Panel],
    ctx: str,
) -> None:
    """Index names must be new columns; every weighted variable must come from some source."""
    columns = set().union(*(set(p.data.columns) for p in panels.values()))
    for key, column in (("name", name), *((f"alternatives.{a}", a) for a in alternatives)):
        if column in columns or f"{column}_rate" in columns:
            raise ConfigError(
                f"{ctx}.{key}: '{column}' is already a column of the panel (a variable or derived "
                "column); choose another name, e.g. harm_index"
            )
    present = set().union(*(set(p.variables) for p in panels.values()))
    weight_sets = [("weights", main), *([("enforcement_harm", enforcement)] if enforcement else [])]
    weight_sets += [(f"alternatives.{k}", w) for k, (_, w) in alts.items()]
    for where, w in weight_sets:
        for variable in w.weights:
            if variable not in present:
                raise ConfigError(
                    f"{ctx}.{where}: '{variable}' is weighted but no source provides it"
                    f"{suggest(variable, present)}; add a source with this variable or remove it "
                    "from the weights file"
                )


def read_sources(loaded: LoadedConfig) -> list[RawSource]:
    """Read every source named in the config (stops at the first unreadable file)."""
    raws = []
    for i, src in enumerate(loaded.model.data.sources):
        raws.append(read_source(src, loaded.resolve(src.path), index=i))
    return raws


def prepare(loaded: LoadedConfig) -> Prepared:
    """Load, validate, join and derive: the whole data side of a run.

    Parameters
    ----------
    loaded
        A validated config.

    Returns
    -------
    Prepared

    Raises
    ------
    ValidationFailed
        With the full report, if any source fails validation.
    EvaluateError
        For unreadable files, join failures (strict policy), bad intervention timing or harm
        index weights.
    """
    cfg = loaded.model
    where = loaded.label
    extra = loaded.resolve(cfg.data.dictionary) if cfg.data.dictionary else None
    dictionary = load_dictionary(extra)
    for i, src in enumerate(cfg.data.sources):
        dictionary.entity(src.entity, context=f"{where}: data.sources[{i}].entity")
    raws = read_sources(loaded)
    report, parsed = validate_sources(
        raws,
        dictionary,
        panel_frequency=cfg.data.frequency,
        unknown_area_severity="error" if cfg.data.join.policy == "strict" else "warning",
    )
    if not report.ok:
        raise ValidationFailed(f"{where}: {report.summary_line()}", report)
    inputs = [
        InputFile("source", r.config.name, str(r.path), r.sha256, r.path.stat().st_size)
        for r in raws
    ]
    del raws  # the raw text frames are not needed after validation: free them before the join

    series = {k: v for k, v in parsed.items() if v.entity.is_series}
    lookups = {k: v for k, v in parsed.items() if v.entity.name == "area_lookup"}
    panels = build_panels(
        {**series, **lookups},
        frequency=cfg.data.frequency,
        start=cfg.data.start,
        end=cfg.data.end,
        policy=cfg.data.join.policy,
        context=f"{where}: data",
    )
    for panel in panels.values():
        add_rates(panel, population=cfg.data.population, per=cfg.data.rate_per)

    timings: dict[str, dict[str, Timing]] = {}
    for i, intervention in enumerate(cfg.interventions):
        ctx = f"{where}: interventions[{i}] '{intervention.name}'"
        adoption = parsed[intervention.adoption].frame if intervention.adoption else None
        by_freq: dict[str, Timing] = {}
        for freq, panel in panels.items():
            try:
                by_freq[freq] = add_timing(
                    panel,
                    intervention,
                    adoption=adoption,
                    adoption_frequency=cfg.data.frequency,
                    base_frequency=cfg.data.frequency,
                    context=ctx,
                )
            except AnalysisError:
                if freq == cfg.data.frequency:
                    raise
                panel.report.notes.append(
                    f"intervention '{intervention.name}' cannot be placed on the {freq} panel"
                )
        timings[intervention.name] = by_freq

    harm: dict[str, list[HarmIndex]] = {}
    if cfg.harm_index is not None:
        hi = cfg.harm_index
        ctx = f"{where}: harm_index"
        main_w = load_weights(loaded.resolve(hi.weights), context=f"{ctx}.weights")
        enf = (
            load_weights(loaded.resolve(hi.enforcement_harm.weights), context=f"{ctx}.enforcement_harm")
            if hi.enforcement_harm
            else None
        )
        alts = {
            name: (path, load_weights(loaded.resolve(path), context=f"{ctx}.alternatives.{name}"))
            for name, path in hi.alternatives.items()
        }
        _check_harm_index(hi.name, list(hi.alternatives), main_w, enf, alts, panels, ctx)
        for freq, panel in panels.items():
            built = []
            specs = [(hi.name, hi.label, hi.weights, main_w)]
            specs += [(name, f"{hi.label} ({w.name})", path, w) for name, (path, w) in alts.items()]
            for column, label, path, w in specs:
                h = add_harm_index(
                    panel,
                    column=column,
                    label=label,
                    weights=w,
                    weights_file=path,
                    dictionary=dictionary,
                    enforcement=enf,
                    context=ctx,
                    per=cfg.data.rate_per,
                    population=cfg.data.population,
                )
                if h is not None:
                    built.append(h)
            harm[freq] = built
        if not any(harm.values()):
            raise AnalysisError(
                f"{ctx}: the index cannot be built in any panel: its components are at "
                "frequencies that never meet; use components available at one frequency"
            )

    if cfg.harm_index is not None:
        from evaluate.data.sources import file_sha256

        paths = [("harm_index", cfg.harm_index.name, cfg.harm_index.weights)]
        if cfg.harm_index.enforcement_harm:
            paths.append(("harm_index", "enforcement_harm", cfg.harm_index.enforcement_harm.weights))
        paths += [("harm_index", n, p) for n, p in cfg.harm_index.alternatives.items()]
        for role, name, rel in paths:
            p = loaded.resolve(rel)
            inputs.append(InputFile(role, name, str(p), file_sha256(p), p.stat().st_size))
    return Prepared(
        loaded=loaded,
        dictionary=dictionary,
        validation=report,
        panels=panels,
        timings=timings,
        harm_indices=harm,
        inputs=inputs,
        parsed=parsed,
    )
