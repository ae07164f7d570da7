"""Benchmark: validate and join a 5-million-row source within 2 GB of peak memory.

Generates, in a temporary folder, a policing-activity source of small areas x months (by default
34,723 areas x 144 months = 5,000,112 rows: code, period, four counts and a free-text
``area_name``), an area lookup and yearly population, as CSV and as Parquet. For each case it runs
``evaluate.pipeline.prepare.prepare`` (read, validate, harmonise, join, rates, intervention
timing) in a fresh Python process and reports the wall time and the peak resident memory of that
process (``ru_maxrss``, which includes the interpreter and the imported libraries; the parent
stays small, since Linux carries ``ru_maxrss`` over to a child, and ``VmHWM`` cross-checks it).
In the cases ``csv`` and ``parquet`` the config lists ``area_name`` under ``ignore_columns`` (the
names come from the area lookup), so it is never read; in ``+names`` it is read and validated.
``--stages`` adds a second run per case that calls the data layer step by step and prints the
peak after each step, to see where the memory goes.

Usage::

    python benchmarks/large_inputs.py                 # all cases, 5,000,112 rows
    python benchmarks/large_inputs.py --rows 500000   # a quick check
    python benchmarks/large_inputs.py --stages --keep /tmp/large   # with the per-step peaks

Results are printed as a Markdown table; ``benchmarks/RESULTS_large_inputs.md`` records a run.
The target is a peak of at most 2 GB (2,048 MiB) per case.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MONTHS = 144  # 2012-01 to 2023-12
YEARS = list(range(2012, 2024))
LIMIT_MIB = 2048
CASES = ["csv", "parquet", "csv+names", "parquet+names"]


def _peak_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _hwm_mib() -> float | None:
    """The kernel's high-water mark of this process's resident memory (Linux ``VmHWM``).

    Unlike ``ru_maxrss``, which Linux carries over from the parent across ``exec``, it counts
    this program alone; the two agree when the parent stayed small (it only starts processes).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _current_mib() -> float:
    """Resident memory now (Linux; falls back to the peak elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return _peak_mib()
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


# -- the data -------------------------------------------------------------------------------------


def generate(folder: Path, rows: int, seed: int = 20240601) -> dict[str, Any]:
    """Write the sources (CSV and Parquet) and one config per format; return what was written."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    n_areas = math.ceil(rows / MONTHS)
    codes = np.array([f"E{1_000_000 + i:08d}" for i in range(n_areas)])
    names = np.array(
        [f"Small area {i} of the benchmark, a longish free-text name" for i in range(n_areas)]
    )
    months = np.array([f"{y}-{m:02d}" for y in YEARS for m in range(1, 13)])
    rng = np.random.default_rng(seed)
    area_idx = np.repeat(np.arange(n_areas), MONTHS)
    month_idx = np.tile(np.arange(MONTHS), n_areas)
    counts = {
        "drug_stop_search": rng.poisson(6.0, n_areas * MONTHS),
        "possession_arrests": rng.poisson(1.5, n_areas * MONTHS),
        "supply_arrests": rng.poisson(0.4, n_areas * MONTHS),
        "drug_seizures": rng.poisson(2.0, n_areas * MONTHS),
    }
    policing = pa.table(
        {
            "area_code": pa.DictionaryArray.from_arrays(
                pa.array(area_idx, pa.int32()), pa.array(codes)
            ).cast(pa.string()),
            "area_name": pa.DictionaryArray.from_arrays(
                pa.array(area_idx, pa.int32()), pa.array(names)
            ).cast(pa.string()),
            "period": pa.DictionaryArray.from_arrays(
                pa.array(month_idx, pa.int32()), pa.array(months)
            ).cast(pa.string()),
            **{k: pa.array(v, pa.int32()) for k, v in counts.items()},
        }
    )
    population = pa.table(
        {
            "area_code": np.repeat(codes, len(YEARS)),
            "period": np.tile(np.array([str(y) for y in YEARS]), n_areas),
            "population": rng.integers(1_200, 3_000, n_areas * len(YEARS)),
        }
    )
    lookup = pa.table({"area_code": codes, "area_name": names})
    for fmt in ("csv", "parquet"):
        data = folder / fmt
        data.mkdir(exist_ok=True)
        for name, table in (("policing", policing), ("population", population), ("areas", lookup)):
            path = data / f"{name}.{fmt}"
            if fmt == "csv":
                pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
            else:
                pq.write_table(table, path)
        treated = [str(c) for c in codes[:20]]
        config = {
            "name": "large",
            "title": "Large-input benchmark",
            "data": {
                "frequency": "month",
                "sources": [
                    {"name": "areas", "path": f"{fmt}/areas.{fmt}", "entity": "area_lookup"},
                    {
                        "name": "population",
                        "path": f"{fmt}/population.{fmt}",
                        "entity": "population",
                    },
                    {
                        "name": "policing",
                        "path": f"{fmt}/policing.{fmt}",
                        "entity": "policing_activity",
                        "ignore_columns": ["area_name"],  # names come from the lookup
                    },
                ],
            },
            "interventions": [{"name": "scheme", "start": "2018-04", "treated_areas": treated}],
            "analyses": [
                {
                    "name": "first_look",
                    "method": "describe",
                    "intervention": "scheme",
                    "outcomes": ["drug_stop_search_rate"],
                }
            ],
            "outputs": {"dir": "out"},
        }
        (folder / f"config_{fmt}.yaml").write_text(
            json.dumps(config, indent=2), encoding="utf-8"
        )  # JSON is YAML
        # the same with the policing file's free-text area_name read and validated too
        config["data"]["sources"][2].pop("ignore_columns")
        (folder / f"config_{fmt}+names.yaml").write_text(
            json.dumps(config, indent=2), encoding="utf-8"
        )
    return {
        "rows": int(policing.num_rows),
        "areas": n_areas,
        "months": MONTHS,
        "bytes": {
            fmt: (folder / fmt / f"policing.{fmt}").stat().st_size for fmt in ("csv", "parquet")
        },
    }


# -- the measured child process --------------------------------------------------------------------


def child(config: Path, stages: bool) -> dict[str, Any]:
    """Runs in a fresh process: prepare (or its steps) on ``config``; returns the figures."""
    import evaluate  # noqa: F401  (counted in the baseline)
    from evaluate.config.loader import load_config

    import_peak = _peak_mib()
    loaded = load_config(config)
    out: dict[str, Any] = {"baseline_mib": round(import_peak, 1)}
    start = time.perf_counter()
    if not stages:
        from evaluate.pipeline.prepare import prepare

        prepared = prepare(loaded)
        panel = prepared.main.data
    else:
        from evaluate.data.dictionary import load_dictionary
        from evaluate.data.join import build_panels
        from evaluate.data.validate import validate_sources
        from evaluate.harm.rates import add_rates
        from evaluate.pipeline.prepare import read_sources

        steps = []

        def step(name: str, t0: float) -> None:
            steps.append(
                {
                    "step": name,
                    "seconds": round(time.perf_counter() - t0, 2),
                    "peak_mib": round(_peak_mib(), 1),
                    "rss_after_mib": round(_current_mib(), 1),
                }
            )

        cfg = loaded.model
        t0 = time.perf_counter()
        dictionary = load_dictionary()
        raws = read_sources(loaded)
        step("read sources", t0)
        t0 = time.perf_counter()
        report, parsed = validate_sources(raws, dictionary, panel_frequency=cfg.data.frequency)
        assert report.ok, report.to_text()
        step("validate", t0)  # prepare() keeps the raw frames until it returns; so does this
        t0 = time.perf_counter()
        panels = build_panels(
            parsed,
            frequency=cfg.data.frequency,
            start=None,
            end=None,
            policy=cfg.data.join.policy,
            context="data",
        )
        step("join", t0)
        t0 = time.perf_counter()
        for p in panels.values():
            add_rates(p, population=cfg.data.population, per=cfg.data.rate_per)
        step("rates", t0)
        t0 = time.perf_counter()
        from evaluate.designs.timing import add_timing

        for intervention in cfg.interventions:
            add_timing(
                panels[cfg.data.frequency],
                intervention,
                adoption=None,
                adoption_frequency=cfg.data.frequency,
                context="benchmark",
            )
        step("intervention timing", t0)
        del raws
        panel = panels[cfg.data.frequency].data
        out["steps"] = steps
    out["seconds"] = round(time.perf_counter() - start, 2)
    out["peak_mib"] = round(_peak_mib(), 1)
    hwm = _hwm_mib()
    out["hwm_mib"] = None if hwm is None else round(hwm, 1)
    out["panel_rows"] = len(panel)
    out["panel_columns"] = len(panel.columns)
    out["panel_mib"] = round(panel.memory_usage(deep=True).sum() / 2**20, 1)
    return out


def measure(config: Path, *, stages: bool) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter (so the peak belongs to this work alone)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(config)]
    if stages:
        cmd.append("--stages")
    wall = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - wall
    if proc.returncode != 0:
        raise SystemExit(f"the measured process failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(wall, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        type=int,
        default=5_000_000,
        help="rows of the big source (rounded up to whole areas)",
    )
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=CASES,
        default=CASES,
        help="csv, parquet: area_name left unread (ignore_columns); +names: read and validated",
    )
    parser.add_argument(
        "--stages", action="store_true", help="also measure the data layer step by step"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="generate into this folder and keep it"
    )
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.stages)))
        return 0
    if args.generate is not None:
        print(json.dumps(generate(args.generate, args.rows)))
        return 0

    with tempfile.TemporaryDirectory(prefix="evaluate-large-") as tmp:
        folder = args.keep or Path(tmp)
        t0 = time.perf_counter()
        # generated in another process: this one stays small, so the measured processes do not
        # inherit a large ru_maxrss from it
        proc = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--generate",
                str(folder),
                "--rows",
                str(args.rows),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"generating the data failed:\n{proc.stderr[-4000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"generated {info['rows']:,} rows ({info['areas']:,} areas x {info['months']} months) in "
            f"{time.perf_counter() - t0:.1f} s: CSV {info['bytes']['csv'] / 2**20:,.0f} MiB, "
            f"Parquet {info['bytes']['parquet'] / 2**20:,.1f} MiB",
            flush=True,
        )
        print(
            f"machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores\n"
        )
        print(
            "| format | prepare (s) | process wall (s) | peak RSS, ru_maxrss (MiB) | VmHWM (MiB) | "
            "before prepare (MiB) | panel rows | panel (MiB) | within 2 GB |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        worst = 0.0
        details = []
        for fmt in args.formats:
            r = measure(folder / f"config_{fmt}.yaml", stages=False)
            worst = max(worst, r["peak_mib"])
            print(
                f"| {fmt} | {r['seconds']:.1f} | {r['process_seconds']:.1f} | {r['peak_mib']:,.0f} | "
                f"{r['hwm_mib'] or float('nan'):,.0f} | {r['baseline_mib']:,.0f} | {r['panel_rows']:,} | {r['panel_mib']:,.0f} | "
                f"{'yes' if r['peak_mib'] <= LIMIT_MIB else 'NO'} |",
                flush=True,
            )
            if args.stages:
                details.append((fmt, measure(folder / f"config_{fmt}.yaml", stages=True)))
        for fmt, r in details:
            print(f"\n{fmt}, step by step (peak so far, resident after the step):\n")
            print("| step | seconds | peak RSS (MiB) | RSS after (MiB) |")
            print("| --- | ---: | ---: | ---: |")
            for s in r["steps"]:
                print(
                    f"| {s['step']} | {s['seconds']:.1f} | {s['peak_mib']:,.0f} | {s['rss_after_mib']:,.0f} |"
                )
    return 0 if worst <= LIMIT_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
