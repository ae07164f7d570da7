r"""Seeded generator of staggered-adoption area x month panels for the benchmark suite.

Every number is simulated. A panel has ``n_areas`` areas (``A00001``, ...) observed for
``n_periods`` months (``t = 1 .. n_periods``, January 2005 onwards), one row per area and month,
with the columns

================================  ==============================================================
``area_code``                     area identifier (text)
``area_id``                       the same as an integer 1..n (for peers that want numbers)
``t``                             month index 1..T (int16)
``period``                        month label ``YYYY-MM``
``population``                    residents (int32), growing at the area's own rate
``cohort``                        first treated ``t`` (float64; ``inf`` for never-treated areas)
``treated``                       1 in treated areas from their cohort on (int8)
``<series>``                      counts (int32) of the three :data:`SERIES`
``<series>_rate``                 the same per 100,000 residents (float64)
================================  ==============================================================

Data-generating process, for area ``a``, series ``s`` and month ``t``::

    mu[a,s,t] = pop[a,t] / 1e5 * base_rate[s]
                * exp(u[a] + v[a,s] + trend[s] * t / 12 + season[s](t) + shock[s,t] + ar[a,s,t]
                      + ramp(t - cohort[a], ramp_periods[s]) * log(rate_ratio[s]))
    count[a,s,t] ~ Poisson(mu[a,s,t])

with ``u ~ N(0, 0.2^2)`` an area factor shared by all series, ``v ~ N(0, 0.15^2)``,
``shock ~ N(0, 0.05^2)`` a common monthly shock, ``ar`` an AR(1) area-level error (rho 0.5,
innovation sd 0.08), and ``ramp(e, k) = min(max((e + 1) / k, 0), 1)`` the share of the planted
effect reached ``e`` months after adoption. Populations are log-uniform between 20,000 and
1,000,000 and grow at ``U(0, 1%)`` a year. A share ``never_treated`` of the areas never adopts;
the others are split evenly over ``n_cohorts`` adoption months spread between 25% and 85% of
the window.

Planted effects: :data:`SERIES` gives each series' rate ratio (a multiplicative effect on the
expected count once fully ramped). Because the effect is multiplicative, the ATT on the count
and rate scales depends on the realised expected counts; :func:`generate` computes it exactly
(the mean over treated post-adoption area-months of the expected count with the effect minus
without it, i.e. the estimand of Callaway-Sant'Anna's ``simple`` aggregation) and writes it
beside the panel (``<key>.truth.json``).

Memory: areas are generated in chunks of :data:`CHUNK_AREAS` and written as Parquet row groups,
so a 10,000 x 240 panel (2.4 million rows) is generated in well under 200 MB. Randomness comes
from ``numpy.random.default_rng(seed)`` for the design and ``default_rng([seed, chunk])`` per
chunk, so a panel does not depend on the machine but does depend on :data:`CHUNK_AREAS`.

Command line::

    python benchmarks/generate.py --areas 3000 --periods 240 [--seed 1] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "DEFAULT_CACHE",
    "OUTCOMES",
    "SERIES",
    "Design",
    "cached_panel",
    "chunks",
    "design",
    "generate",
    "load_panel",
    "main",
]

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
"""Default cache folder (gitignored)."""

CHUNK_AREAS = 1000
"""Areas generated (and written as one Parquet row group) at a time."""

FORMAT_VERSION = 1
"""Bumped whenever the data-generating process changes (part of the cache key)."""


@dataclass(frozen=True)
class Series:
    """One simulated count series.

    Attributes
    ----------
    name
        Data-dictionary variable name.
    base_rate
        Expected events per 100,000 residents per month.
    trend
        Log change per year.
    amplitude, peak
        Seasonal harmonic: amplitude (log scale) and peak month (1-12).
    rate_ratio
        Planted effect: multiplier of the expected count once fully ramped up.
    ramp_periods
        Months over which the effect ramps up (linear in logs).
    """

    name: str
    base_rate: float
    trend: float
    amplitude: float
    peak: int
    rate_ratio: float
    ramp_periods: int


SERIES: tuple[Series, ...] = (
    Series("nonfatal_overdoses", 20.0, 0.03, 0.10, 8, 0.85, 6),
    Series("drug_poisoning_deaths", 1.5, 0.04, 0.05, 1, 0.90, 12),
    Series("treatment_referrals_cj", 10.0, 0.00, 0.08, 3, 1.30, 6),
)
"""The simulated count series and their planted effects."""

OUTCOMES: tuple[str, ...] = tuple(s.name for s in SERIES) + tuple(f"{s.name}_rate" for s in SERIES)
"""The six outcome columns: three counts and their rates per 100,000."""


@dataclass(frozen=True)
class Design:
    """Area-level draws that fix a panel's design.

    Attributes
    ----------
    n_areas, n_periods, seed
        Size and seed.
    population0
        Population at ``t = 0``.
    growth
        Annual growth rate of each area's population.
    cohort
        First treated ``t`` of each area (``inf``: never treated).
    area_effect
        Area factor shared by every series.
    """

    n_areas: int
    n_periods: int
    seed: int
    population0: np.ndarray
    growth: np.ndarray
    cohort: np.ndarray
    area_effect: np.ndarray


def cohort_months(n_periods: int, n_cohorts: int) -> np.ndarray:
    """Adoption months of the cohorts: evenly spread between 25% and 85% of the window.

    Parameters
    ----------
    n_periods
        Number of months ``T``.
    n_cohorts
        Number of distinct adoption months.

    Returns
    -------
    numpy.ndarray
        Sorted distinct integers in ``[2, T]``.
    """
    lo, hi = max(2, round(0.25 * n_periods)), max(3, round(0.85 * n_periods))
    return np.unique(np.linspace(lo, hi, n_cohorts).round().astype(int))


def design(
    n_areas: int, n_periods: int, seed: int = 1, *, n_cohorts: int = 8, never_treated: float = 0.4
) -> Design:
    """Draw the area-level design of a panel.

    Parameters
    ----------
    n_areas, n_periods
        Panel size.
    seed
        Seed of every draw.
    n_cohorts
        Number of adoption months.
    never_treated
        Share of areas that never adopt.

    Returns
    -------
    Design
        Populations, growth, cohorts and area effects.
    """
    rng = np.random.default_rng(seed)
    population0 = np.exp(rng.uniform(np.log(20_000), np.log(1_000_000), n_areas))
    growth = rng.uniform(0.0, 0.01, n_areas)
    months = cohort_months(n_periods, n_cohorts)
    n_never = round(never_treated * n_areas)
    cohort = np.full(n_areas, np.inf)
    treated = rng.permutation(n_areas)[n_never:]
    cohort[treated] = months[np.arange(len(treated)) % len(months)]
    area_effect = rng.normal(0.0, 0.2, n_areas)
    return Design(n_areas, n_periods, seed, population0, growth, cohort, area_effect)


def _ramp(event_time: np.ndarray, periods: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.clip((event_time + 1) / periods, 0.0, 1.0)


def chunks(
    d: Design, series: Sequence[Series] = SERIES, *, rates: bool = True
) -> Iterator[tuple[pd.DataFrame, dict[str, list[float]]]]:
    """Generate the panel chunk by chunk (:data:`CHUNK_AREAS` areas at a time).

    Parameters
    ----------
    d
        The design from :func:`design`.
    series
        The count series to simulate (default :data:`SERIES`).
    rates
        Also add each series' rate per 100,000 (``<name>_rate``).

    Yields
    ------
    tuple
        The chunk's long frame (sorted by area, then ``t``) and, per outcome, the sum and count
        over treated post-adoption rows of the expected effect (for the planted ATT).
    """
    n_t = d.n_periods
    t = np.arange(1, n_t + 1)
    month = (t - 1) % 12 + 1
    labels = pd.period_range("2005-01", periods=n_t, freq="M").strftime("%Y-%m").to_numpy()
    common = np.random.default_rng([d.seed, 10**6])
    shocks = {s.name: common.normal(0.0, 0.05, n_t) for s in series}
    for start in range(0, d.n_areas, CHUNK_AREAS):
        stop = min(start + CHUNK_AREAS, d.n_areas)
        n = stop - start
        rng = np.random.default_rng([d.seed, start // CHUNK_AREAS])
        pop = np.rint(d.population0[start:stop, None] * (1 + d.growth[start:stop, None]) ** (t[None, :] / 12))
        cohort = d.cohort[start:stop]
        event = t[None, :] - cohort[:, None]  # -inf for never treated
        post = event >= 0
        cols: dict[str, np.ndarray] = {
            "area_code": np.repeat(np.array([f"A{i + 1:05d}" for i in range(start, stop)]), n_t),
            "area_id": np.repeat(np.arange(start + 1, stop + 1, dtype=np.int32), n_t),
            "t": np.tile(t.astype(np.int16), n),
            "period": np.tile(labels, n),
            "population": pop.astype(np.int32).ravel(),
            "cohort": np.repeat(cohort, n_t),
            "treated": post.astype(np.int8).ravel(),
        }
        truth: dict[str, list[float]] = {}
        rate_cols: dict[str, np.ndarray] = {}
        for s in series:
            v = rng.normal(0.0, 0.15, n)
            ar = np.empty((n, n_t))
            ar[:, 0] = rng.normal(0.0, 0.08 / np.sqrt(1 - 0.25), n)
            innovations = rng.normal(0.0, 0.08, (n, n_t))
            for j in range(1, n_t):
                ar[:, j] = 0.5 * ar[:, j - 1] + innovations[:, j]
            season = s.amplitude * np.cos(2 * np.pi * (month - s.peak) / 12)
            log_mu = (np.log(pop / 1e5 * s.base_rate) + (d.area_effect[start:stop] + v)[:, None]
                      + (s.trend * t / 12 + season + shocks[s.name])[None, :] + ar)
            effect = _ramp(event, s.ramp_periods) * np.log(s.rate_ratio)
            mu0 = np.exp(log_mu)
            mu = mu0 * np.exp(effect)
            counts = rng.poisson(mu)
            cols[s.name] = counts.astype(np.int32).ravel()
            if rates:
                rate_cols[f"{s.name}_rate"] = (counts / pop * 1e5).ravel()
            diff = (mu - mu0)[post]
            truth[s.name] = [float(diff.sum()), float(diff.size)]
            truth[f"{s.name}_rate"] = [float((diff / pop[post] * 1e5).sum()), float(diff.size)]
        cols.update(rate_cols)
        yield pd.DataFrame(cols), truth


def key(n_areas: int, n_periods: int, seed: int) -> str:
    """Cache key of a panel.

    Parameters
    ----------
    n_areas, n_periods, seed
        Panel size and seed.

    Returns
    -------
    str
        ``panel_<N>x<T>_s<seed>_v<format>``.
    """
    return f"panel_{n_areas}x{n_periods}_s{seed}_v{FORMAT_VERSION}"


def generate(n_areas: int, n_periods: int, seed: int, path: Path) -> dict[str, object]:
    """Write a panel to ``path`` (Parquet, one row group per chunk) and its truth beside it.

    Parameters
    ----------
    n_areas, n_periods, seed
        Panel size and seed.
    path
        Destination ``.parquet`` file; the truth goes to ``<stem>.truth.json``.

    Returns
    -------
    dict
        The truth: planted rate ratios, the expected ATT of every outcome, cohorts.
    """
    d = design(n_areas, n_periods, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.partial")
    sums: dict[str, list[float]] = {}
    writer: pq.ParquetWriter | None = None
    try:
        for frame, truth in chunks(d):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table)
            for k, (s, c) in truth.items():
                acc = sums.setdefault(k, [0.0, 0.0])
                acc[0] += s
                acc[1] += c
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    finite = d.cohort[np.isfinite(d.cohort)]
    info: dict[str, object] = {
        "n_areas": n_areas,
        "n_periods": n_periods,
        "seed": seed,
        "format_version": FORMAT_VERSION,
        "cohorts": {str(int(g)): int((finite == g).sum()) for g in np.unique(finite)},
        "never_treated": int(np.isinf(d.cohort).sum()),
        "planted_rate_ratio": {s.name: s.rate_ratio for s in SERIES},
        "ramp_periods": {s.name: s.ramp_periods for s in SERIES},
        "expected_att": {k: (s / c if c else float("nan")) for k, (s, c) in sums.items()},
        "expected_att_note": "mean over treated post-adoption area-months of E[Y | effect] - E[Y | no effect]",
    }
    path.with_name(path.name.removesuffix(".parquet") + ".truth.json").write_text(json.dumps(info, indent=2))
    return info


def cached_panel(n_areas: int, n_periods: int, seed: int = 1, cache: Path | None = None) -> Path:
    """Path of the cached panel, generating it first if it is not there.

    Parameters
    ----------
    n_areas, n_periods, seed
        Panel size and seed.
    cache
        Cache folder (default :data:`DEFAULT_CACHE`).

    Returns
    -------
    pathlib.Path
        The Parquet file.
    """
    path = (cache or DEFAULT_CACHE) / f"{key(n_areas, n_periods, seed)}.parquet"
    if not path.exists():
        generate(n_areas, n_periods, seed, path)
    return path


def load_panel(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a cached panel (only ``columns`` if given).

    Parameters
    ----------
    path
        The Parquet file.
    columns
        Columns to read (default: all).

    Returns
    -------
    pandas.DataFrame
        The panel.
    """
    return pd.read_parquet(path, columns=list(columns) if columns else None)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (or find) a cached panel and print its path.

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
    p.add_argument("--areas", type=int, required=True)
    p.add_argument("--periods", type=int, default=240)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--force", action="store_true", help="regenerate even if cached")
    a = p.parse_args(argv)
    path = a.cache / f"{key(a.areas, a.periods, a.seed)}.parquet"
    if a.force or not path.exists():
        generate(a.areas, a.periods, a.seed, path)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
