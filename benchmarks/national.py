"""Generator of a national-scale evaluation project for the end-to-end benchmark (``evaluate run``).

Every number is simulated (the data-generating process of :mod:`generate`, with six count
series). The project folder holds what an evaluator would have:

=============================  =================================================================
``areas.csv``                  ``area_lookup``: ``area_code``, ``area_name``, ``region``
``population.csv``             ``population``: mid-year (June) population per area and year
``harm_outcomes.parquet``      ``harm_outcomes``: ``nonfatal_overdoses``,
                               ``drug_poisoning_deaths``, ``drug_related_violence`` by month
``policing_activity.parquet``  ``policing_activity``: ``possession_arrests``, ``drug_stop_search``
``benefit_outcomes.csv``       ``benefit_outcomes``: ``treatment_referrals_cj`` (CSV, so the
                               CSV reader is exercised at scale too)
``rollout_adoption.csv``       ``adoption_table``: the staggered rollout (``start`` empty for the
                               40% of areas that never adopt)
``national.yaml``              the config (below)
=============================  =================================================================

The config evaluates two interventions: ``rollout``, the staggered adoption (eight cohorts),
with Callaway-Sant'Anna (never-treated comparisons, 999 multiplier-bootstrap draws, all four
aggregations) and a TWFE event study (window ``[-12, 24]``, CR1 by area) on the six outcome
rates; and ``pilot``, the rollout's first cohort on its own (one start date), with an ITS of the
pilot areas' total for the six counts (quasi-Poisson with a population offset, the default for
counts). ``evaluate run`` then writes the results, charts and the report.

Command line::

    python benchmarks/national.py --areas 3000 --periods 240 [--seed 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import DEFAULT_CACHE, Series, chunks, design

__all__ = ["NATIONAL_SERIES", "SOURCES", "cached_project", "main", "write_project"]

NATIONAL_SERIES: tuple[Series, ...] = (
    Series("nonfatal_overdoses", 20.0, 0.03, 0.10, 8, 0.85, 6),
    Series("drug_poisoning_deaths", 1.5, 0.04, 0.05, 1, 0.90, 12),
    Series("drug_related_violence", 8.0, 0.01, 0.12, 7, 0.95, 6),
    Series("treatment_referrals_cj", 10.0, 0.00, 0.08, 3, 1.30, 6),
    Series("possession_arrests", 30.0, -0.02, 0.05, 5, 0.70, 3),
    Series("drug_stop_search", 60.0, -0.03, 0.06, 4, 0.90, 3),
)
"""The six simulated series of the national project and their planted rate ratios."""

SOURCES: dict[str, tuple[str, list[str]]] = {
    "harm_outcomes.parquet": ("harm_outcomes", ["nonfatal_overdoses", "drug_poisoning_deaths", "drug_related_violence"]),
    "policing_activity.parquet": ("policing_activity", ["possession_arrests", "drug_stop_search"]),
    "benefit_outcomes.csv": ("benefit_outcomes", ["treatment_referrals_cj"]),
}
"""File -> (data-dictionary entity, variables)."""

FORMAT_VERSION = 1
"""Bumped when the project's files or config change (part of the cache key)."""


def _config(name: str, n_areas: int, pilot_start: str, pilot_areas: list[str], draws: int, n_outcomes: int) -> str:
    counts = [s.name for s in NATIONAL_SERIES][:n_outcomes]
    rates = [f"{c}_rate" for c in counts]

    def flow(items: list[str]) -> str:
        return "[" + ", ".join(items) + "]"

    sources = "\n".join(
        f"    - name: {Path(f).stem}\n      path: {f}\n      entity: {entity}" for f, (entity, _) in SOURCES.items()
    )
    return f"""# National-scale benchmark evaluation (SIMULATED data, benchmarks/national.py): {n_areas} areas.
name: {name}
title: "National rollout benchmark (simulated data)"

data:
  frequency: month
  population: population
  rate_per: 100000
  sources:
    - name: areas
      path: areas.csv
      entity: area_lookup
    - name: population
      path: population.csv
      entity: population
{sources}
    - name: rollout_adoption
      path: rollout_adoption.csv
      entity: adoption_table

interventions:
  - name: rollout
    label: National diversion rollout
    adoption: rollout_adoption
  - name: pilot
    label: Pilot areas (the rollout's first cohort)
    start: "{pilot_start}"
    treated_areas: {flow(pilot_areas)}

analyses:
  - name: rollout_cs
    method: did
    intervention: rollout
    estimator: callaway_santanna
    control: never_treated
    bootstrap: {draws}
    outcomes: {flow(rates)}
  - name: rollout_event_study
    method: did
    intervention: rollout
    estimator: event_study
    window: [-12, 24]
    se: cluster
    outcomes: {flow(rates)}
  - name: pilot_its
    method: its
    intervention: pilot
    unit: treated_total
    outcomes: {flow(counts)}

outputs:
  dir: outputs
  disclosure:
    min_count: 3
"""


def write_project(
    n_areas: int, n_periods: int, seed: int, folder: Path, *, draws: int = 999, n_outcomes: int = 6
) -> Path:
    """Write the project's data files and config into ``folder``.

    Parameters
    ----------
    n_areas, n_periods, seed
        Size and seed (the design of :func:`generate.design`).
    folder
        Destination (created).
    draws
        Callaway-Sant'Anna bootstrap draws in the config.
    n_outcomes
        How many of the six series the analyses evaluate (the first ones; the data hold all six).

    Returns
    -------
    pathlib.Path
        The config file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    d = design(n_areas, n_periods, seed)
    labels = pd.period_range("2005-01", periods=n_periods, freq="M").strftime("%Y-%m").to_numpy()
    codes = np.array([f"A{i + 1:05d}" for i in range(n_areas)])
    regions = np.array([f"Simulated region {i % 9 + 1}" for i in range(n_areas)])
    pd.DataFrame({"area_code": codes, "area_name": [f"Simulated area {i + 1}" for i in range(n_areas)],
                  "region": regions}).to_csv(folder / "areas.csv", index=False)
    start = np.where(np.isfinite(d.cohort), labels[np.nan_to_num(d.cohort, posinf=1).astype(int) - 1], "")
    pd.DataFrame({"area_code": codes, "start": start}).to_csv(folder / "rollout_adoption.csv", index=False)
    first = np.nanmin(np.where(np.isfinite(d.cohort), d.cohort, np.nan))
    pilot = [str(c) for c in codes[d.cohort == first]]
    writers: dict[str, pq.ParquetWriter] = {}
    pop_parts: list[pd.DataFrame] = []
    header = True
    try:
        for frame, _truth in chunks(d, NATIONAL_SERIES, rates=False):
            june = frame["period"].str.endswith("-06")
            pop_parts.append(pd.DataFrame({"area_code": frame.loc[june, "area_code"],
                                           "period": frame.loc[june, "period"].str[:4],
                                           "population": frame.loc[june, "population"]}))
            for file, (_entity, variables) in SOURCES.items():
                part = frame[["area_code", "period", *variables]]
                if file.endswith(".csv"):
                    part.to_csv(folder / file, index=False, header=header, mode="w" if header else "a")
                    continue
                table = pa.Table.from_pandas(part, preserve_index=False)
                if file not in writers:
                    writers[file] = pq.ParquetWriter(folder / file, table.schema, compression="zstd")
                writers[file].write_table(table)
            header = False
    finally:
        for w in writers.values():
            w.close()
    pd.concat(pop_parts).to_csv(folder / "population.csv", index=False)
    config = folder / "national.yaml"
    config.write_text(_config("national", n_areas, str(labels[int(first) - 1]), pilot, draws, n_outcomes))
    return config


def cached_project(n_areas: int, n_periods: int, seed: int = 1, *, draws: int = 999, n_outcomes: int = 6,
                   cache: Path | None = None) -> Path:
    """Config of the cached project, writing the project first if it is not there.

    Parameters
    ----------
    n_areas, n_periods, seed
        Size and seed.
    draws
        Bootstrap draws in the config.
    n_outcomes
        Outcomes the analyses evaluate.
    cache
        Cache folder (default :data:`generate.DEFAULT_CACHE`).

    Returns
    -------
    pathlib.Path
        The config file (``national.yaml``).
    """
    folder = (cache or DEFAULT_CACHE) / f"national_{n_areas}x{n_periods}_s{seed}_b{draws}_o{n_outcomes}_v{FORMAT_VERSION}"
    config = folder / "national.yaml"
    if not config.exists():
        tmp = folder.with_name(folder.name + ".partial")
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        write_project(n_areas, n_periods, seed, tmp, draws=draws, n_outcomes=n_outcomes)
        tmp.rename(folder)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or find) the national project and print its config's path.

    Parameters
    ----------
    argv
        Command-line arguments.

    Returns
    -------
    int
        Exit status.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--areas", type=int, default=3000)
    p.add_argument("--periods", type=int, default=240)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--draws", type=int, default=999)
    p.add_argument("--outcomes", type=int, default=6, help="outcomes the analyses evaluate (1-6)")
    p.add_argument("--out", type=Path, help="project folder (default: in the benchmark cache)")
    a = p.parse_args(argv)
    if a.out:
        print(write_project(a.areas, a.periods, a.seed, a.out, draws=a.draws, n_outcomes=a.outcomes))
    else:
        print(cached_project(a.areas, a.periods, a.seed, draws=a.draws, n_outcomes=a.outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
