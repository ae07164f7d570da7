"""``evaluate run``: the whole pipeline, writing the output-folder contract atomically."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evaluate.config.loader import LoadedConfig, load_config
from evaluate.data.join import Panel
from evaluate.pipeline.analyses import check_all, run_all
from evaluate.pipeline.outputs import (
    GENERATOR,
    MANIFEST,
    OutputFolder,
    check_destination,
    command_line,
    now_utc,
    package_versions,
    write_json,
)
from evaluate.pipeline.prepare import Prepared, prepare
from evaluate.report import write_outputs
from evaluate.report.content import ReportContent
from evaluate.report.publish import Publication
from evaluate.results import EffectResult
from evaluate.results.table import results_frame, results_json

__all__ = ["RunSummary", "run_evaluation", "output_destination", "panel_for_output"]


@dataclass
class RunSummary:
    """What a run produced."""

    output_dir: Path
    results: list[EffectResult]
    table: pd.DataFrame
    prepared: Prepared
    started_at: str
    finished_at: str
    publication: Publication | None = None
    """The charts and count tables written (after disclosure control)."""


def output_destination(loaded: LoadedConfig, out: str | Path | None) -> tuple[Path, str]:
    """The output folder and what chose it (``--out`` is relative to the working directory,
    ``outputs.dir`` to the config file)."""
    if out is not None:
        return Path(out).expanduser().resolve(), "--out"
    return loaded.resolve(loaded.model.outputs.dir), f"{loaded.label}: outputs.dir"


def _input_paths(loaded: LoadedConfig) -> list[Path]:
    cfg = loaded.model
    paths = [loaded.path] if loaded.path is not None else []
    paths += [loaded.resolve(s.path) for s in cfg.data.sources]
    if cfg.harm_index is not None:
        paths.append(loaded.resolve(cfg.harm_index.weights))
        if cfg.harm_index.enforcement_harm:
            paths.append(loaded.resolve(cfg.harm_index.enforcement_harm.weights))
        paths += [loaded.resolve(p) for p in cfg.harm_index.alternatives.values()]
    return paths


def panel_for_output(panel: Panel) -> pd.DataFrame:
    """The panel as written to Parquet: periods as labels plus their first day."""
    data = panel.data.copy()
    periods = pd.PeriodIndex(data["period"])
    data["period"] = data["period_label"]
    data.insert(data.columns.get_loc("period") + 1, "period_start", periods.start_time)
    return data.drop(columns=["period_label"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_evaluation(
    config: str | Path | LoadedConfig,
    *,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | str | None = None,
    scheduler: str | None = None,
) -> RunSummary:
    """Run an evaluation end to end and write its output folder.

    Parameters
    ----------
    config
        Path of the YAML config, or a loaded config.
    out
        Output folder overriding ``outputs.dir``.
    progress
        Called with short progress messages.
    workers, scheduler
        Override ``outputs.compute``: processes for the analysis x outcome tasks (a number or
        ``"auto"``), or the address of a Dask scheduler. Results do not depend on them.

    Returns
    -------
    RunSummary

    Raises
    ------
    EvaluateError
        For bad config, data or output folder; nothing is written then.
    """
    say = progress or (lambda _msg: None)
    started = now_utc()
    loaded = config if isinstance(config, LoadedConfig) else load_config(config)
    dest, context = output_destination(loaded, out)
    check_destination(dest, _input_paths(loaded), context=context)

    say("loading and validating sources")
    prepared = prepare(loaded)
    check_all(prepared)
    compute = loaded.model.outputs.compute
    chosen = workers if workers is not None else compute.workers
    results = run_all(prepared, progress=say, workers=None if chosen == "auto" else int(chosen),
                      scheduler=scheduler or compute.scheduler)
    table = results_frame(results)

    say(f"writing {dest}")
    cfg = loaded.model
    with OutputFolder(dest) as folder:
        root = folder.path
        for freq, panel in prepared.panels.items():
            name = "panel.parquet" if freq == cfg.data.frequency else f"panel_{freq}.parquet"
            panel_for_output(panel).to_parquet(root / name, index=False)
        write_json(root / "validation.json", prepared.reports())
        table.to_csv(root / "results.csv", index=False, lineterminator="\n")
        table.to_parquet(root / "results.parquet", index=False)
        write_json(root / "results.json", results_json(results, evaluation=cfg.name, title=cfg.title))
        manifest = {
            "generator": GENERATOR,
            "name": cfg.name,
            "title": cfg.title,
            "config": {"path": str(loaded.path), "sha256": loaded.sha256},
            "inputs": [vars(i) for i in prepared.inputs],
            "data_dictionary": [
                {"path": str(f), "sha256": _sha256(f)} for f in prepared.dictionary.files
            ],
            "versions": package_versions(),
            "seeds": {a.name: a.seed for a in cfg.analyses},
            "started_at": started,
            "command": command_line(),
        }
        say("drawing charts, writing report.html and results.xlsx")
        publication = write_outputs(
            root,
            ReportContent(
                config=cfg,
                results=results,
                table=table,
                panels=prepared.panels,
                timings=prepared.timings,
                reports=prepared.reports(),
                manifest=manifest,
                generated_at=now_utc(),
            ),
        )
        finished = now_utc()
        manifest["finished_at"] = finished
        manifest["outputs"] = {
            str(p.relative_to(root)): _sha256(p) for p in sorted(root.rglob("*")) if p.is_file()
        }
        write_json(root / MANIFEST, manifest)
        folder.commit()
    return RunSummary(dest, results, table, prepared, started, finished, publication)
