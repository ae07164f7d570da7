"""What every benchmark child process shares: memory cap, data loading, timing, the result file.

A benchmark child is started by ``run.py`` as::

    python <script> --case KIND --data PANEL.parquet --out RESULT.json [--mem-limit-gb 18]
                    [--param key=value ...]

It caps its address space (``RLIMIT_AS``) so that a peer that runs out of memory raises
``MemoryError`` instead of taking the machine down, imports the library it times, calls the
estimator once on a small warm-up panel (``--warmup``: lazy imports and JIT compilation happen
there, untimed), reads the panel, then times the estimator alone (``time.perf_counter`` around the call: reading the data and
importing libraries are not timed), and writes one JSON object: ``status`` (``ok``,
``out of memory``, ``error``, ``not available``), ``seconds``, ``load_seconds``, ``peak_rss_mb``
(``VmHWM`` of ``/proc/self/status``, else ``ru_maxrss``), ``rss_after_load_mb`` and
``estimates`` (name -> number).

This module only needs the standard library, numpy and pandas, so the peers' scripts (run by
the peers' virtualenv, where ``evaluate`` is not installed) import it too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Case",
    "NotAvailable",
    "bin_event_time",
    "child_main",
    "current_rss_mb",
    "event_window",
    "fourier",
    "newey_west_lags",
    "parse_params",
    "peak_rss_mb",
    "set_memory_limit",
]

EXIT_OOM = 3
"""Exit status of a child that caught ``MemoryError``."""


class NotAvailable(Exception):
    """The implementation is not installed or not written yet (recorded, not a failure)."""


@dataclass
class Case:
    """One kind of benchmark a child script can run.

    Attributes
    ----------
    columns
        Columns of the panel to read (``None``: all, or no panel at all when ``needs_data`` is
        false).
    run
        ``run(data, params) -> estimates``; the call that is timed.
    prepare
        Called before the data are read, to import the library (not timed).
    needs_data
        False for cases that make their own input (the end-to-end run).
    """

    columns: Sequence[str] | None
    run: Callable[[pd.DataFrame | None, dict[str, str]], Mapping[str, Any]]
    prepare: Callable[[], None] = field(default=lambda: None)
    needs_data: bool = True


def _status_kb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (``VmHWM``, else ``ru_maxrss``).

    Returns
    -------
    float
        Megabytes (10^6 bytes).
    """
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return kb * 1024 / 1e6


def current_rss_mb() -> float:
    """Current resident set size in MB (``VmRSS``; NaN where ``/proc`` is missing).

    Returns
    -------
    float
        Megabytes (10^6 bytes).
    """
    kb = _status_kb("VmRSS")
    return float("nan") if kb is None else kb * 1024 / 1e6


def set_memory_limit(gb: float) -> None:
    """Cap this process's address space at ``gb`` GB (0: no cap).

    Parameters
    ----------
    gb
        Cap in GB (10^9 bytes). Allocations beyond it raise ``MemoryError``.
    """
    if gb <= 0:
        return
    limit = int(gb * 1e9)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` to a dict.

    Parameters
    ----------
    items
        ``key=value`` strings.

    Returns
    -------
    dict
        Keys to values (text).
    """
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def event_window(params: Mapping[str, str]) -> tuple[int, int]:
    """The ``window`` parameter (``"-12,24"``) as a tuple.

    Parameters
    ----------
    params
        Case parameters.

    Returns
    -------
    tuple of int
        ``(lowest lead, highest lag)``.
    """
    lo, hi = params.get("window", "-12,24").split(",")
    return int(lo), int(hi)


def bin_event_time(t: np.ndarray, cohort: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Event time ``t - cohort`` binned into ``window`` (NaN for never-treated units).

    Parameters
    ----------
    t, cohort
        Period and first treated period (``inf`` never treated).
    window
        ``(lo, hi)``: event times below ``lo`` count as ``lo``, above ``hi`` as ``hi``.

    Returns
    -------
    numpy.ndarray
        Binned event time (float).
    """
    e = np.where(np.isfinite(cohort), t - cohort, np.nan)
    return np.clip(e, window[0], window[1])


def newey_west_lags(n: int) -> int:
    """Newey-West (1994) lag rule ``floor(4 (n / 100)^(2/9))``.

    Parameters
    ----------
    n
        Series length.

    Returns
    -------
    int
        Lags.
    """
    return int(np.floor(4 * (n / 100) ** (2 / 9)))


def fourier(t: np.ndarray, harmonics: int = 2, period: float = 12.0) -> np.ndarray:
    """Fourier seasonal terms ``sin(2 pi k t / period), cos(...)``, ``k = 1..harmonics``.

    Parameters
    ----------
    t
        Time index.
    harmonics, period
        Number of sine/cosine pairs; season length.

    Returns
    -------
    numpy.ndarray
        ``len(t) x 2 harmonics``.
    """
    cols = []
    for k in range(1, harmonics + 1):
        cols += [np.sin(2 * np.pi * k * t / period), np.cos(2 * np.pi * k * t / period)]
    return np.column_stack(cols)


def _write(path: Path, payload: dict[str, Any]) -> None:
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v

    path.write_text(json.dumps(clean(payload), indent=1))


def child_main(cases: Mapping[str, Case], argv: Sequence[str] | None = None) -> int:
    """Run one case in this process and write its result file.

    Parameters
    ----------
    cases
        Kind name -> :class:`Case`.
    argv
        Command-line arguments (see the module docstring).

    Returns
    -------
    int
        Exit status: 0 ok (or not available), :data:`EXIT_OOM` out of memory, 1 error.
    """
    p = argparse.ArgumentParser()
    p.add_argument("--case", required=True, choices=sorted(cases))
    p.add_argument("--data", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--mem-limit-gb", type=float, default=0.0)
    p.add_argument("--param", action="append", default=[])
    p.add_argument("--warmup", type=Path, help="small panel to call the estimator on once, untimed")
    a = p.parse_args(argv)
    set_memory_limit(a.mem_limit_gb)
    params = parse_params(a.param)
    case = cases[a.case]
    payload: dict[str, Any] = {"case": a.case, "params": params, "pid": os.getpid(),
                               "python": sys.version.split()[0]}
    stage = "import"
    try:
        case.prepare()
        if a.warmup is not None and case.needs_data:
            stage = "warm-up"
            t0 = time.perf_counter()
            warm = pd.read_parquet(a.warmup, columns=list(case.columns) if case.columns else None)
            case.run(warm, params)
            del warm
            payload["warmup_seconds"] = time.perf_counter() - t0
        stage = "load"
        t0 = time.perf_counter()
        data = None
        if case.needs_data:
            data = pd.read_parquet(a.data, columns=list(case.columns) if case.columns else None)
        payload["load_seconds"] = time.perf_counter() - t0
        gc.collect()
        payload["rss_after_load_mb"] = current_rss_mb()
        payload["peak_rss_before_mb"] = peak_rss_mb()
        payload["rows"] = 0 if data is None else len(data)
        stage = "run"
        t0 = time.perf_counter()
        estimates = case.run(data, params)
        payload["seconds"] = time.perf_counter() - t0
        payload["peak_rss_mb"] = peak_rss_mb()
        payload["estimates"] = dict(estimates)
        payload["status"] = "ok"
        code = 0
    except NotAvailable as exc:
        payload.update(status="not available", error=str(exc))
        code = 0
    except MemoryError as exc:
        payload.update(status="out of memory", error=f"MemoryError during {stage}: {exc}"[:500],
                       peak_rss_mb=peak_rss_mb())
        code = EXIT_OOM
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, the suite goes on
        tb = traceback.format_exc(limit=6)
        oom = "Unable to allocate" in str(exc) or "out of memory" in str(exc).lower()
        payload.update(status="out of memory" if oom else "error",
                       error=f"{type(exc).__name__} during {stage}: {exc}"[:1000],
                       traceback=tb[-3000:], peak_rss_mb=peak_rss_mb())
        code = EXIT_OOM if oom else 1
    _write(a.out, payload)
    return code
