r"""Seeded generator of the simulated demo data shipped in ``evaluate/demo/data``.

Every number this module produces is simulated. The 45 areas (``SIM01`` to ``SIM45``), their
names and their regions ("Simulated North", ...) are invented; the data describe no real place,
police force or person. The files are shipped inside the package so that the tool's demo runs
offline, and :func:`generate` is the single source of truth for them: the test suite checks that
the shipped files equal a fresh ``generate()`` with the default seed.

Data-generating process
-----------------------
For area :math:`a`, series :math:`s` and month :math:`t` (January 2016 is :math:`t = 0`) the
expected count is

.. math::

    \mu_{a,s,t} = \frac{P_{a,t}}{10^5}\, r_s \exp\Big(
        u_a + v_{a,s}
        + \beta_{a,s}\,\frac{t}{12}
        + A_s \cos\big(2\pi\,(m_t - p_s)/12\big)
        + \log(c_s)\,\mathbb{1}[t \in \text{Apr--Jun 2020}]
        + D_{a,t}\log RR^{\text{div}}_s
        + K_{a,t}\log RR^{\text{crack}}_s \Big)

or, in plain text::

    mu[a,s,t] = pop[a,t] / 1e5 * base_rate[s]
                * exp(area_effect[a,s] + trend[a,s] * years_since_2016(t) + season[s](month(t))
                      + covid[s](t) + log(effect multiplier[a,s,t]))

where

* ``P[a,t]`` is the population at the middle of month ``t``, interpolated linearly between the
  mid-year (30 June) estimates and held flat before mid-2016 and after mid-2024 (the data
  dictionary's rule for denominators). Mid-year populations: the 2016 values are log-uniform
  between 0.3 and 9 million, rescaled so that the smallest is exactly 300,000 and the largest
  exactly 9,000,000; each area then grows at its own rate ``g_a ~ U(0, 1%)`` a year, rounded to
  whole people.
* ``r_s`` is the base rate per 100,000 people per month (per week for the weekly series).
* ``u_a ~ N(0, 0.2^2)`` is a "drug market" factor shared by all series of an area and
  ``v_{a,s} ~ N(0, 0.15^2)`` is series-specific noise.
* ``beta_{a,s} = log(1 + g_s) + N(0, 0.01^2)``: a common annual change ``g_s`` per series plus
  area noise.
* ``A_s`` and ``p_s`` are the amplitude and peak month of one annual harmonic; ``m_t`` is the
  calendar month of ``t``.
* ``c_s`` is the COVID-19 multiplier, applied in April, May and June 2020 only.
* ``D_{a,t} = min(max((e + 1) / 6, 0), 1)`` with ``e = t - start_a`` the months since the area
  adopted police drug diversion (``D = 0`` for areas that never adopt): the effect ramps up
  linearly in logs over six months. ``K_{a,t}`` is the same over three months from July 2021 in
  the one area that had an enforcement crackdown (never-treated for diversion).

Counts are negative binomial with mean ``mu`` and variance ``mu + alpha_s mu^2``, drawn as a
gamma-Poisson mixture: ``Y ~ Poisson(G)``, ``G ~ Gamma(shape = 1/alpha_s, scale = alpha_s mu)``.

* Weekly series (naloxone): the population is taken at the middle of the week and every other
  term (trend, season, COVID-19, intervention effects) at the month that contains the week's
  Thursday, so each week belongs to exactly one month.
* Quarterly series (hospital admissions): the quarter's expected count is the sum of its three
  monthly ``mu`` (each with its own month's multipliers) and the count is one draw from it.

Randomness comes from one ``numpy.random.default_rng(seed)``, used in a fixed order: regions,
2016 populations, growth rates, diversion cohorts (redrawn until every cohort has an area in both
the smallest and the largest third), market factor, then for each series in :data:`SERIES` order
its area noise and trend noise, and finally the counts of each series in :data:`SERIES` order.
Changing that order, or a parameter below, changes the shipped data; regenerate them with::

    python -m evaluate.demo.generate [--out DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
    "DATA_DIR",
    "DEFAULT_SEED",
    "OUTPUT_FILES",
    "SERIES",
    "SeriesParameters",
    "generate",
    "main",
    "write",
]

DEFAULT_SEED = 20240601
"""Seed of the shipped data."""

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Where the shipped demo data live (``evaluate/demo/data``)."""


@dataclass(frozen=True)
class SeriesParameters:
    """Parameters of one simulated series.

    Attributes
    ----------
    role : str
        Role in the data dictionary (``activity``, ``harm`` or ``benefit``).
    frequency : str
        Frequency of the shipped file: ``month``, ``week`` or ``quarter``.
    base_rate : float
        Expected count per 100,000 people per month (per week for weekly series) before area
        effects, trend, season and interventions. Quarterly series use a monthly rate.
    alpha : float
        Negative-binomial overdispersion: variance is ``mu + alpha * mu**2``.
    annual_change : float
        Common trend, as a proportional change per year (``0.04`` is +4% a year).
    amplitude : float
        Amplitude of the annual harmonic on the log scale.
    peak_month : int
        Calendar month (1-12) at which the seasonal term peaks.
    covid : float
        Multiplier in April-June 2020.
    diversion_rr : float
        Rate ratio of the diversion scheme at full ramp.
    crackdown_rr : float
        Rate ratio of the enforcement crackdown at full ramp.
    """

    role: str
    frequency: str
    base_rate: float
    alpha: float
    annual_change: float
    amplitude: float
    peak_month: int
    covid: float
    diversion_rr: float
    crackdown_rr: float


# fmt: off
SERIES: dict[str, SeriesParameters] = {
    # Fields in order: role, frequency, base_rate, alpha, annual_change, amplitude, peak_month,
    # covid, diversion_rr, crackdown_rr (see SeriesParameters).
    "drug_stop_search":         SeriesParameters("activity", "month",   40.0, 0.03, -0.03, 0.12, 7, 1.25, 1.00, 1.60),
    "possession_arrests":       SeriesParameters("activity", "month",    8.0, 0.03, -0.02, 0.10, 7, 1.10, 0.80, 1.30),
    "supply_arrests":           SeriesParameters("activity", "month",    2.0, 0.03,  0.01, 0.06, 11, 0.80, 1.00, 1.50),
    "drug_seizures":            SeriesParameters("activity", "month",   12.0, 0.03, -0.01, 0.08, 6, 0.90, 1.00, 1.40),
    "diversion_referrals":      SeriesParameters("activity", "month",    0.3, 0.03,  0.02, 0.05, 3, 0.70, 12.0, 1.00),
    "drug_poisoning_deaths":    SeriesParameters("harm",     "month",   0.75, 0.10,  0.04, 0.10, 1, 1.10, 0.90, 1.20),
    "nonfatal_overdoses":       SeriesParameters("harm",     "month",   18.0, 0.03,  0.03, 0.08, 8, 0.85, 0.90, 1.15),
    "naloxone_administrations": SeriesParameters("harm",     "week",     0.9, 0.03,  0.02, 0.07, 8, 1.10, 1.00, 1.15),
    "drug_related_admissions":  SeriesParameters("harm",     "quarter", 14.0, 0.03,  0.01, 0.06, 12, 0.70, 0.92, 1.10),
    "treatment_referrals_cj":   SeriesParameters("benefit",  "month",    3.0, 0.03, -0.01, 0.09, 10, 0.60, 1.40, 1.00),
}
"""Per-series parameters of the data-generating process, in the order random draws are made."""
# fmt: on

N_AREAS = 45
FIRST_YEAR, LAST_YEAR = 2016, 2024
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
MONTHS = pd.period_range(f"{FIRST_YEAR}-01", f"{LAST_YEAR}-12", freq="M")
QUARTERS = pd.period_range(f"{FIRST_YEAR}Q1", f"{LAST_YEAR}Q4", freq="Q")
WEEKS = pd.date_range("2015-12-28", "2024-12-30", freq="W-MON")  # Mondays; edge weeks straddle
EPOCH = pd.Timestamp(f"{FIRST_YEAR}-01-01")

POPULATION_RANGE = (300_000, 9_000_000)
MAX_GROWTH = 0.01
MARKET_SD = 0.2
AREA_NOISE_SD = 0.15
TREND_NOISE_SD = 0.01
COVID_MONTHS = ("2020-04", "2020-05", "2020-06")

REGIONS = (
    "Simulated North",
    "Simulated Midlands",
    "Simulated East",
    "Simulated South",
    "Simulated West",
)

# Invented names. Real UK place names were avoided on purpose; any match with a hamlet is chance.
AREA_NAMES = (
    "Ashmoor", "Brackenholt", "Corrowmere", "Dunmarrow", "Elderfold",
    "Farrowdene", "Glenwarden", "Hollinmere", "Ivystead", "Kestrelbury",
    "Larkhollow", "Marrowfield", "Nethermarsh", "Orrin Vale", "Pellingmoor",
    "Quarrywick", "Redbeckton", "Saltmire", "Thornwycke", "Ulverdene",
    "Vennerby", "Wrenmouth", "Yarrowby", "Amberwold", "Briarcombe",
    "Cinderholm", "Draymoor", "Eskerfield", "Fenwatch", "Greyhallow",
    "Sloecombe", "Linnet Vale", "Mossingham", "Oakentarn", "Pennowick",
    "Ravensholt", "Stormbridge", "Tarnholme", "Quillbury", "Willowbeck",
    "Copperdale", "Foxlington", "Heronby", "Mistlebury", "Sable Cross",
)  # fmt: skip

DIVERSION_COHORTS = {"2018-04": 5, "2019-10": 7, "2021-04": 8, "2022-10": 6}
"""Diversion adoption month -> number of areas; the other areas never adopt."""
DIVERSION_RAMP = 6
CRACKDOWN_START = "2021-07"
CRACKDOWN_RAMP = 3
CRACKDOWN_TARGET_POPULATION = 1_500_000
"""The crackdown area is the never-treated area whose 2016 population is closest to this."""
RAMP_SHAPE = "linear in logs"

OUTPUT_FILES: dict[str, str] = {
    "areas": "csv",
    "population": "csv",
    "policing_activity": "csv",
    "drug_deaths": "csv",
    "ambulance_overdoses": "parquet",
    "naloxone_weekly": "parquet",
    "hospital_admissions_quarterly": "csv",
    "treatment_referrals": "csv",
    "diversion_adoption": "csv",
    "truth": "csv",
}
"""File stem -> format of every data file :func:`write` produces (plus ``README.md``)."""

POLICING_COLUMNS = {
    "drug_stop_search": "Drug searches",
    "possession_arrests": "Possession arrests",
    "supply_arrests": "Supply arrests",
    "drug_seizures": "Drug seizures",
    "diversion_referrals": "Diversion referrals",
}
"""Series -> column header in the raw police export ``policing_activity.csv``."""

# Series -> (lower, upper, marker): published counts in [lower, upper] are replaced by the marker.
SUPPRESSION = {
    "drug_poisoning_deaths": (0, 2, "[c]"),
    "drug_related_admissions": (1, 7, "*"),
    "treatment_referrals_cj": (1, 4, "*"),
}

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# Areas, populations and who is treated when
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Design:
    """Everything drawn before the counts: areas, populations, treatment and area effects."""

    codes: NDArray[np.str_]
    regions: NDArray[np.str_]
    population: IntArray  # (areas, years) mid-year estimates
    diversion_start: FloatArray  # month index of adoption, NaN if never
    crackdown_start: FloatArray  # month index of the crackdown, NaN elsewhere
    area_effect: dict[str, FloatArray]
    trend: dict[str, FloatArray]


@dataclass(frozen=True)
class _Expected:
    """Expected counts of one series at its own frequency; arrays are (areas, periods)."""

    labels: list[str]
    period_start: pd.DatetimeIndex
    population: FloatArray
    mu: FloatArray
    mu_counterfactual: FloatArray
    post_diversion: NDArray[np.bool_]
    post_crackdown: NDArray[np.bool_]
    in_window: NDArray[np.bool_]


def _month_index(month: str) -> int:
    """Months since January 2016 of a ``YYYY-MM`` label."""
    year, mon = (int(part) for part in month.split("-"))
    return (year - FIRST_YEAR) * 12 + mon - 1


def _draw_population(rng: np.random.Generator) -> IntArray:
    """Mid-year populations (areas x years): log-uniform in 2016, then area-specific growth."""
    low, high = POPULATION_RANGE
    u = rng.uniform(size=N_AREAS)
    u = (u - u.min()) / (u.max() - u.min())  # the extremes hit the bounds exactly
    pop2016 = np.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    pop2016[u.argmin()], pop2016[u.argmax()] = low, high
    growth = rng.uniform(0.0, MAX_GROWTH, size=N_AREAS)
    years = np.arange(len(YEARS))
    population: IntArray = np.rint(
        pop2016[:, None] * (1.0 + growth[:, None]) ** years[None, :]
    ).astype(np.int64)
    return population


def _spans_sizes(members: NDArray[np.bool_], size_rank: IntArray) -> bool:
    """Whether a group has an area in the smallest third and one in the largest third."""
    third = N_AREAS // 3
    ranks = size_rank[members]
    return bool((ranks < third).any() and (ranks >= N_AREAS - third).any())


def _draw_cohorts(rng: np.random.Generator, pop2016: IntArray) -> NDArray[np.str_]:
    """Adoption month per area (``""`` = never), each cohort spanning small and large areas."""
    n_never = N_AREAS - sum(DIVERSION_COHORTS.values())
    labels = np.array([m for m, n in DIVERSION_COHORTS.items() for _ in range(n)] + [""] * n_never)
    size_rank = pop2016.argsort().argsort()
    for _ in range(10_000):
        drawn = rng.permutation(labels)
        if all(_spans_sizes(drawn == start, size_rank) for start in DIVERSION_COHORTS):
            return drawn
    raise RuntimeError("could not draw diversion cohorts that span small and large areas")


def _crackdown_area(pop2016: IntArray, adoption: NDArray[np.str_]) -> int:
    """Index of the never-treated area whose 2016 population is closest to the target."""
    distance = np.abs(pop2016.astype(np.float64) - CRACKDOWN_TARGET_POPULATION)
    distance[adoption != ""] = np.inf
    return int(distance.argmin())


def _draw_design(rng: np.random.Generator) -> tuple[_Design, NDArray[np.str_]]:
    """Draw areas, populations, treatment assignment and area effects (fixed draw order)."""
    codes = np.array([f"SIM{i:02d}" for i in range(1, N_AREAS + 1)])
    regions = rng.permutation(np.repeat(np.array(REGIONS), N_AREAS // len(REGIONS)))
    population = _draw_population(rng)
    adoption = _draw_cohorts(rng, population[:, 0])
    diversion_start = np.array([_month_index(m) if m else np.nan for m in adoption])
    crackdown_start = np.full(N_AREAS, np.nan)
    crackdown_start[_crackdown_area(population[:, 0], adoption)] = _month_index(CRACKDOWN_START)
    market = rng.normal(0.0, MARKET_SD, size=N_AREAS)
    area_effect: dict[str, FloatArray] = {}
    trend: dict[str, FloatArray] = {}
    for name, p in SERIES.items():
        area_effect[name] = market + rng.normal(0.0, AREA_NOISE_SD, size=N_AREAS)
        trend[name] = math.log1p(p.annual_change) + rng.normal(0.0, TREND_NOISE_SD, size=N_AREAS)
    design = _Design(
        codes, regions, population, diversion_start, crackdown_start, area_effect, trend
    )
    return design, adoption


# --------------------------------------------------------------------------------------------
# Expected counts
# --------------------------------------------------------------------------------------------


def _days(when: pd.DatetimeIndex) -> FloatArray:
    """Days since 1 January 2016, as floats."""
    return np.asarray((when - EPOCH) / pd.Timedelta(days=1), dtype=np.float64)


def _population_at(population: IntArray, when: pd.DatetimeIndex) -> FloatArray:
    """Population (areas x dates): linear between 30 June estimates, flat beyond the ends."""
    anchors = _days(pd.DatetimeIndex([pd.Timestamp(f"{y}-06-30") for y in YEARS]))
    x = _days(when)
    return np.vstack([np.interp(x, anchors, row.astype(np.float64)) for row in population])


def _midpoints(start: pd.DatetimeIndex, end: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Midpoint of each period ``[start, end)``."""
    return start + (end - start) / 2


def _ramp(month: IntArray, start: FloatArray, periods: int) -> FloatArray:
    """Share of the full log effect (areas x months): ``min(max((e + 1) / periods, 0), 1)``."""
    elapsed = month[None, :] - start[:, None] + 1.0
    return np.nan_to_num(np.clip(elapsed / periods, 0.0, 1.0), nan=0.0)


def _log_rates(design: _Design, name: str, month: IntArray) -> tuple[FloatArray, FloatArray]:
    """Log multipliers (areas x months) without interventions, and the interventions' log effect.

    ``month`` holds month indices (January 2016 = 0) and may run outside 2016-2024.
    """
    p = SERIES[name]
    calendar_month = month % 12 + 1
    season = p.amplitude * np.cos(2.0 * np.pi * (calendar_month - p.peak_month) / 12.0)
    covid_months = [_month_index(m) for m in COVID_MONTHS]
    covid = math.log(p.covid) * np.isin(month, covid_months)
    years = month / 12.0
    base = (
        design.area_effect[name][:, None]
        + design.trend[name][:, None] * years[None, :]
        + (season + covid)[None, :]
    )
    effect = math.log(p.diversion_rr) * _ramp(
        month, design.diversion_start, DIVERSION_RAMP
    ) + math.log(p.crackdown_rr) * _ramp(month, design.crackdown_start, CRACKDOWN_RAMP)
    return base, effect


def _post(month: IntArray, start: FloatArray) -> NDArray[np.bool_]:
    """Whether each area x period starts on or after the area's start (False if none)."""
    return month[None, :] >= start[:, None]


def _expected_monthly(design: _Design, name: str) -> _Expected:
    """Expected counts of a monthly series."""
    month = np.arange(len(MONTHS))
    start = MONTHS.to_timestamp(how="start")
    population = _population_at(design.population, _midpoints(start, (MONTHS + 1).to_timestamp()))
    base, effect = _log_rates(design, name, month)
    scale = population / 1e5 * SERIES[name].base_rate
    return _Expected(
        labels=list(MONTHS.strftime("%Y-%m")),
        period_start=start,
        population=population,
        mu=scale * np.exp(base + effect),
        mu_counterfactual=scale * np.exp(base),
        post_diversion=_post(month, design.diversion_start),
        post_crackdown=_post(month, design.crackdown_start),
        in_window=np.ones(len(MONTHS), dtype=bool),
    )


def _expected_weekly(design: _Design, name: str) -> _Expected:
    """Expected counts of a weekly series (multipliers from the month of the week's Thursday)."""
    thursday = WEEKS + pd.Timedelta(days=3)
    month = np.asarray((thursday.year - FIRST_YEAR) * 12 + thursday.month - 1, dtype=np.int64)
    population = _population_at(design.population, WEEKS + pd.Timedelta(days=3.5))
    base, effect = _log_rates(design, name, month)
    scale = population / 1e5 * SERIES[name].base_rate
    return _Expected(
        labels=list(WEEKS.strftime("%Y-%m-%d")),
        period_start=WEEKS,
        population=population,
        mu=scale * np.exp(base + effect),
        mu_counterfactual=scale * np.exp(base),
        post_diversion=_post(month, design.diversion_start),
        post_crackdown=_post(month, design.crackdown_start),
        in_window=(month >= 0) & (month < len(MONTHS)),
    )


def _expected_quarterly(design: _Design, name: str) -> _Expected:
    """Expected counts of a quarterly series: sums of three monthly expected counts."""
    monthly = _expected_monthly(design, name)
    n_quarters = len(QUARTERS)
    first_month = np.arange(n_quarters) * 3
    start = QUARTERS.to_timestamp(how="start")
    return _Expected(
        labels=[f"{q.year} Q{q.quarter}" for q in QUARTERS],
        period_start=start,
        population=_population_at(
            design.population, _midpoints(start, (QUARTERS + 1).to_timestamp())
        ),
        mu=monthly.mu.reshape(N_AREAS, n_quarters, 3).sum(axis=2),
        mu_counterfactual=monthly.mu_counterfactual.reshape(N_AREAS, n_quarters, 3).sum(axis=2),
        post_diversion=_post(first_month, design.diversion_start),
        post_crackdown=_post(first_month, design.crackdown_start),
        in_window=np.ones(n_quarters, dtype=bool),
    )


def _expected(design: _Design, name: str) -> _Expected:
    """Expected counts of a series at its own frequency."""
    builders = {
        "month": _expected_monthly,
        "week": _expected_weekly,
        "quarter": _expected_quarterly,
    }
    return builders[SERIES[name].frequency](design, name)


def _draw_counts(rng: np.random.Generator, mu: FloatArray, alpha: float) -> IntArray:
    """Negative-binomial counts with mean ``mu`` and variance ``mu + alpha mu^2``."""
    counts: IntArray = rng.poisson(rng.gamma(1.0 / alpha, alpha * mu)).astype(np.int64)
    return counts


# --------------------------------------------------------------------------------------------
# Output frames
# --------------------------------------------------------------------------------------------


def _long(
    codes: NDArray[np.str_],
    periods: Sequence[object],
    values: dict[str, NDArray[np.generic]],
    keys: tuple[str, str] = ("area_code", "period"),
) -> pd.DataFrame:
    """One row per area x period (sorted by area, then period) from (areas x periods) arrays."""
    n_periods = len(periods)
    data: dict[str, object] = {
        keys[0]: np.repeat(codes, n_periods),
        keys[1]: np.tile(np.asarray(periods), len(codes)),
    }
    data.update({column: array.ravel() for column, array in values.items()})
    return pd.DataFrame(data)


def _suppress(counts: IntArray, name: str) -> NDArray[np.object_]:
    """Counts as text, with those in the series' suppression range replaced by its marker."""
    lower, upper, marker = SUPPRESSION[name]
    text = counts.astype(str).astype(object)
    text[(counts >= lower) & (counts <= upper)] = marker
    return text


def _expected_frame(design: _Design, expected: dict[str, _Expected]) -> pd.DataFrame:
    """All expected counts in long form, one row per series x area x period."""
    frames = []
    for name, e in expected.items():
        frame = _long(
            design.codes,
            e.labels,
            {
                "period_start": np.broadcast_to(
                    e.period_start.to_numpy(dtype="datetime64[ns]"), e.mu.shape
                ),
                "population": e.population,
                "mu": e.mu,
                "mu_counterfactual": e.mu_counterfactual,
                "post_diversion": e.post_diversion,
                "post_crackdown": e.post_crackdown,
                "in_window": np.broadcast_to(e.in_window, e.mu.shape),
            },
        )
        frame.insert(0, "frequency", SERIES[name].frequency)
        frame.insert(0, "variable", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _truth(expected: pd.DataFrame, design: _Design) -> pd.DataFrame:
    """True effects: one row per intervention x variable, including series with no effect."""
    crackdown_code = str(design.codes[~np.isnan(design.crackdown_start)][0])
    interventions = {
        # name: (rate-ratio attribute, ramp, start, treated areas, treated area codes)
        "diversion": (
            "diversion_rr",
            DIVERSION_RAMP,
            "adoption table",
            int((~np.isnan(design.diversion_start)).sum()),
            "adoption table",
        ),
        "crackdown": ("crackdown_rr", CRACKDOWN_RAMP, CRACKDOWN_START, 1, crackdown_code),
    }
    rows = []
    for intervention, (attribute, ramp, start, n_treated, treated_codes) in interventions.items():
        for variable in [*SERIES, "population"]:
            if variable == "population":
                role, frequency, rate_ratio, att, att_rate = "denominator", "year", 1.0, 0.0, 0.0
            else:
                p = SERIES[variable]
                role, frequency, rate_ratio = p.role, p.frequency, float(getattr(p, attribute))
                att, att_rate = _att(expected, variable, intervention, rate_ratio)
            rows.append(
                {
                    "intervention": intervention,
                    "variable": variable,
                    "role": role,
                    "rate_ratio": rate_ratio,
                    "ramp_periods": ramp,
                    "ramp_shape": RAMP_SHAPE,
                    "start": start,
                    "treated_areas": n_treated,
                    "treated_area_codes": treated_codes,
                    "expected_att_count": att,
                    "expected_att_rate_per_100k": att_rate,
                    "frequency": frequency,
                }
            )
    return pd.DataFrame(rows)


def _att(
    expected: pd.DataFrame, variable: str, intervention: str, rate_ratio: float
) -> tuple[float, float]:
    """Mean effect on the count and on the rate per 100,000 over treated post-start rows."""
    if rate_ratio == 1.0:
        return 0.0, 0.0
    rows = expected[
        (expected["variable"] == variable)
        & expected[f"post_{intervention}"]
        & expected["in_window"]
    ]
    difference = rows["mu"] - rows["mu_counterfactual"]
    return float(difference.mean()), float((difference / rows["population"] * 1e5).mean())


def _data_frames(
    design: _Design, adoption: NDArray[np.str_], counts: dict[str, IntArray]
) -> dict[str, pd.DataFrame]:
    """The shipped files' contents (all but ``truth``)."""
    codes = design.codes
    months = list(MONTHS.strftime("%Y-%m"))
    policing = _long(
        codes,
        months,
        {header: counts[name] for name, header in POLICING_COLUMNS.items()},
        keys=("Force code", "Month"),
    )
    return {
        "areas": pd.DataFrame(
            {"area_code": codes, "area_name": list(AREA_NAMES), "region": design.regions}
        ),
        "population": _long(
            codes, list(YEARS), {"population": design.population}, keys=("area_code", "mid_year")
        ),
        "policing_activity": policing,
        "drug_deaths": _long(
            codes,
            list(MONTHS.to_timestamp().strftime("%Y-%m-%d")),
            {
                "drug_poisoning_deaths": _suppress(
                    counts["drug_poisoning_deaths"], "drug_poisoning_deaths"
                )
            },
        ),
        "ambulance_overdoses": _long(
            codes, months, {"nonfatal_overdoses": counts["nonfatal_overdoses"]}
        ),
        "naloxone_weekly": _long(
            codes,
            WEEKS.astype("datetime64[ns]"),
            {"naloxone_administrations": counts["naloxone_administrations"]},
            keys=("area_code", "week_start"),
        ),
        "hospital_admissions_quarterly": _long(
            codes,
            [f"{q.year} Q{q.quarter}" for q in QUARTERS],
            {
                "drug_related_admissions": _suppress(
                    counts["drug_related_admissions"], "drug_related_admissions"
                )
            },
            keys=("area_code", "quarter"),
        ),
        "treatment_referrals": _long(
            codes,
            months,
            {
                "treatment_referrals_cj": _suppress(
                    counts["treatment_referrals_cj"], "treatment_referrals_cj"
                )
            },
        ),
        "diversion_adoption": pd.DataFrame({"area_code": codes, "start": adoption}),
    }


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def generate(seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """Simulate the demo data.

    Pure and deterministic: the same seed always gives the same frames, and no global random
    state is read or changed.

    Parameters
    ----------
    seed : int, default 20240601
        Seed of ``numpy.random.default_rng``; the shipped data use the default.

    Returns
    -------
    dict[str, pandas.DataFrame]
        One frame per file stem in :data:`OUTPUT_FILES` (``areas``, ``population``,
        ``policing_activity``, ``drug_deaths``, ``ambulance_overdoses``, ``naloxone_weekly``,
        ``hospital_admissions_quarterly``, ``treatment_referrals``, ``diversion_adoption``,
        ``truth``), exactly as written to disk, plus ``expected``: the expected counts, one row
        per variable x area x period at the series' own frequency, with columns ``variable``,
        ``frequency``, ``area_code``, ``period`` (as labelled in the file), ``period_start``,
        ``population`` (interpolated at the period's midpoint), ``mu``, ``mu_counterfactual``
        (``mu`` without either intervention), ``post_diversion``, ``post_crackdown`` and
        ``in_window`` (False for the two weekly edge weeks whose Thursday falls outside
        2016-2024). ``expected`` is not written to disk.
    """
    rng = np.random.default_rng(seed)
    design, adoption = _draw_design(rng)
    expected = {name: _expected(design, name) for name in SERIES}
    counts = {name: _draw_counts(rng, e.mu, SERIES[name].alpha) for name, e in expected.items()}
    frames = _data_frames(design, adoption, counts)
    expected_frame = _expected_frame(design, expected)
    frames["truth"] = _truth(expected_frame, design)
    frames["expected"] = expected_frame
    return frames


def write(out_dir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate the demo data and write them, with a README, to a folder.

    Parameters
    ----------
    out_dir : pathlib.Path
        Destination folder; created if missing. Existing files of the same names are replaced.
    seed : int, default 20240601
        Seed passed to :func:`generate`.

    Returns
    -------
    list[pathlib.Path]
        The files written, in the order of :data:`OUTPUT_FILES`, then ``README.md``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = generate(seed)
    written = []
    for stem, fmt in OUTPUT_FILES.items():
        path = out_dir / f"{stem}.{fmt}"
        if fmt == "parquet":
            frames[stem].to_parquet(path, index=False)
        else:
            float_format = "%.10g" if stem == "truth" else None
            frames[stem].to_csv(
                path, index=False, lineterminator="\n", float_format=float_format, encoding="utf-8"
            )
        written.append(path)
    readme = out_dir / "README.md"
    readme.write_text(_readme(frames, seed), encoding="utf-8")
    written.append(readme)
    return written


# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------


def _readme(frames: dict[str, pd.DataFrame], seed: int) -> str:
    """The data folder's README, filled in from the generated frames so it cannot drift."""
    areas = frames["areas"].set_index("area_code")
    population = frames["population"]
    pop2016 = population[population["mid_year"] == FIRST_YEAR].set_index("area_code")["population"]
    truth = frames["truth"]
    crackdown_code = truth.loc[truth["intervention"] == "crackdown", "treated_area_codes"].iloc[0]
    adoption = frames["diversion_adoption"]
    cohort_lines = []
    for start in [*DIVERSION_COHORTS, ""]:
        members = adoption.loc[adoption["start"] == start, "area_code"]
        label = start or "never (includes the crackdown area)"
        cohort_lines.append(f"   | {label} | {len(members)} | {', '.join(members)} |")
    series_lines = [
        f"| `{name}` | {p.role} | {p.frequency} | {p.base_rate:g} | {p.alpha:g} "
        f"| {p.annual_change:+.0%} | {p.amplitude:g} | {p.peak_month} | {p.covid:g} "
        f"| {p.diversion_rr:g} | {p.crackdown_rr:g} |"
        for name, p in SERIES.items()
    ]
    file_lines = [
        f"| `{stem}.{fmt}` | {len(frames[stem]):,} | {_FILE_NOTES[stem]} |"
        for stem, fmt in OUTPUT_FILES.items()
    ]
    return _README_TEMPLATE.format(
        seed=seed,
        seed_note=" (the default)" if seed == DEFAULT_SEED else f" (the default is {DEFAULT_SEED})",
        suppressed=_suppressed_counts(frames),
        files="\n".join(file_lines),
        cohorts="\n".join(cohort_lines),
        series="\n".join(series_lines),
        crackdown_code=crackdown_code,
        crackdown_name=areas.loc[crackdown_code, "area_name"],
        crackdown_pop=f"{int(pop2016[crackdown_code]):,}",
        crackdown_start=CRACKDOWN_START,
        target=f"{CRACKDOWN_TARGET_POPULATION:,}",
    )


def _suppressed_counts(frames: dict[str, pd.DataFrame]) -> str:
    """How many cells of each suppressed series carry a marker, as text for the README."""
    parts = []
    for frame in frames.values():
        for name, (_, _, marker) in SUPPRESSION.items():
            if name in frame.columns:
                n = int((frame[name] == marker).sum())
                parts.append(f"  - `{name}`: {n:,} of {len(frame):,} cells are `{marker}`")
    return "\n".join(parts)


_FILE_NOTES = {
    "areas": "`area_code` (`SIM01`..`SIM45`), `area_name` (invented), `region` (five "
    '"Simulated ..." regions, nine areas each)',
    "population": "`area_code`, `mid_year` (2016..2024), `population` (mid-year, 30 June, "
    "whole people)",
    "policing_activity": "a raw police export with its own headers: `Force code` (= area code), "
    "`Month` (`2016-01`), `Drug searches`, `Possession arrests`, `Supply arrests`, "
    "`Drug seizures`, `Diversion referrals`; a config's `rename` maps them to `area_code`, "
    "`period`, `drug_stop_search`, `possession_arrests`, `supply_arrests`, `drug_seizures`, "
    "`diversion_referrals`",
    "drug_deaths": "`area_code`, `period` (first day of the month, `2016-01-01`), "
    "`drug_poisoning_deaths`; counts 0, 1 and 2 are suppressed as `[c]`",
    "ambulance_overdoses": "`area_code` (string), `period` (string, `2016-01`), "
    "`nonfatal_overdoses` (int64)",
    "naloxone_weekly": "`area_code`, `week_start` (datetime, Mondays 2015-12-28 to 2024-12-30; "
    "the two edge weeks straddle the study window), `naloxone_administrations` (int64)",
    "hospital_admissions_quarterly": "`area_code`, `quarter` (`2016 Q1`), "
    "`drug_related_admissions`; counts 1 to 7 are suppressed as `*`",
    "treatment_referrals": "`area_code`, `period` (`2016-01`), `treatment_referrals_cj`; "
    "counts 1 to 4 are suppressed as `*`",
    "diversion_adoption": "`area_code`, `start` (first treated month, `2018-04`; empty for areas "
    "that never adopt); one row per area",
    "truth": "the true effects (see below)",
}

_README_TEMPLATE = """\
# Simulated demo data

**Every number in this folder is simulated.** The 45 areas (`SIM01` to `SIM45`), their names and
their regions are invented; the data describe no real place, police force, service or person, and
must not be quoted as evidence about drugs policing. They exist so that `evaluate`'s demo runs
offline and so that its estimates can be checked against a known truth.

The files were produced by `evaluate/demo/generate.py` with seed `{seed}`{seed_note}.
Regenerate them with

```
python -m evaluate.demo.generate                 # writes here, default seed
python -m evaluate.demo.generate --out DIR --seed N
```

The test suite (`tests/test_demo_generator.py`) checks that these files equal a fresh
`generate()` with the default seed, so edit the generator, never the files.

## Files

All tables are sorted by area, then period. CSV files hold no decimals (except `truth.csv`).

| file | rows | columns |
| --- | ---: | --- |
{files}

## Data-generating process

Monthly from January 2016 to December 2024 (108 months). For area *a*, series *s* and month *t*:

```
mu[a,s,t] = pop[a,t] / 1e5 * base_rate[s]
            * exp( market[a] + noise[a,s]
                   + trend[a,s] * years_since_2016(t)
                   + amplitude[s] * cos(2 pi (month(t) - peak[s]) / 12)
                   + log(covid[s]) * [t in April-June 2020]
                   + ramp_div[a,t] * log(rr_div[s]) + ramp_crack[a,t] * log(rr_crack[s]) )

count ~ Poisson(Gamma(shape = 1 / alpha[s], scale = alpha[s] * mu))   # mean mu, var mu + alpha mu^2
```

* `pop[a,t]`: the mid-year (30 June) populations interpolated linearly to the middle of the month
  and held flat before mid-2016 and after mid-2024. 2016 populations are log-uniform between
  300,000 and 9,000,000 (the smallest and largest are exactly these); each area grows at its own
  rate, uniform between 0% and 1% a year.
* `market[a] ~ N(0, 0.2^2)`: a "drug market" factor shared by every series of an area;
  `noise[a,s] ~ N(0, 0.15^2)`.
* `trend[a,s] = log(1 + annual change[s]) + N(0, 0.01^2)`.
* `ramp_div[a,t] = min(max((e + 1) / 6, 0), 1)`, `e` = months since the area adopted diversion
  (0 if it never did): the effect grows linearly in logs and is complete from the sixth month.
  `ramp_crack` is the same over 3 months from {crackdown_start} in the crackdown area.
* Weekly naloxone: population at the middle of the week; every other term from the month that
  contains the week's Thursday. The base rate is per week.
* Quarterly admissions: the expected count of a quarter is the sum of its three monthly `mu`
  (each month with its own multipliers), and one count is drawn for the quarter.

| series | role | file frequency | base rate per 100k per month (week) | alpha | common trend | season amplitude | peak month | Apr-Jun 2020 | diversion RR | crackdown RR |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{series}

## Interventions

1. **Police drug diversion**, staggered adoption (`diversion_adoption.csv`), ramping up over six
   months. Cohorts were drawn at random but each includes areas from both the smallest and the
   largest third by population.

   | start | areas | area codes |
   | --- | ---: | --- |
{cohorts}

2. **Enforcement crackdown** in one never-treated area: **{crackdown_code} ({crackdown_name},
   2016 population {crackdown_pop})**, the never-treated area whose 2016 population is closest to
   {target}, from **{crackdown_start}**, ramping up over three months. It appears in
   `diversion_adoption.csv` with an empty start, so a naive analysis that uses every
   never-treated area as a control for diversion picks up a contaminated control.

## truth.csv

One row per intervention (`diversion`, `crackdown`) and variable (every series, plus
`population`), including variables the intervention does not affect (`rate_ratio` 1).

| column | meaning |
| --- | --- |
| `intervention` | `diversion` or `crackdown` |
| `variable` | data-dictionary name |
| `role` | `activity`, `harm`, `benefit` or `denominator` |
| `rate_ratio` | multiplicative effect on the expected count at full ramp |
| `ramp_periods` | months to full effect (6 or 3) |
| `ramp_shape` | `linear in logs`: month `e` after the start (e = 0, 1, ...) has multiplier `exp(log(rate_ratio) * min((e + 1) / ramp_periods, 1))` |
| `start` | `adoption table` (diversion) or the first treated month (crackdown) |
| `treated_areas` | number of treated areas |
| `treated_area_codes` | `adoption table` (diversion) or the crackdown area's code |
| `expected_att_count` | mean over treated areas' post-start periods (at the series' own frequency, within 2016-2024) of expected count with the effect minus without; 0 when there is no effect |
| `expected_att_rate_per_100k` | the same on the rate scale (per 100,000 people per period, population at the period's midpoint) |
| `frequency` | `month`, `week`, `quarter` or `year` (population) |

The ATT averages include the ramp-up periods, so they are smaller in size than the full-ramp
rate ratio implies. A week is post-start when its Thursday falls in or after the start month;
every start month here is the first month of a quarter, so no quarter is partly treated.

## Caveats

* The random streams come from `numpy.random.default_rng`; NumPy does not promise identical
  streams across versions, so a future NumPy could change the regenerated numbers (the test
  would then fail and the files should be regenerated and reviewed).
* Suppression follows the data dictionary's markers: `[c]` for deaths below 3, `*` for treatment
  referrals 1 to 4 and admissions 1 to 7. Suppressed cells:
{suppressed}
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m evaluate.demo.generate [--out DIR] [--seed N]``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0).
    """
    parser = argparse.ArgumentParser(
        prog="python -m evaluate.demo.generate",
        description="Regenerate evaluate's simulated demo data (every number is simulated).",
    )
    parser.add_argument(
        "--out", type=Path, default=DATA_DIR, help=f"output folder (default: {DATA_DIR})"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})"
    )
    args = parser.parse_args(argv)
    for path in write(args.out, args.seed):
        print(f"{path}  ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
