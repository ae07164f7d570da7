"""Simulated monthly series with planted interruption effects, for ITS tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ar1(n: int, rho: float, rng: np.random.Generator, sd: float = 1.0) -> np.ndarray:
    """Stationary AR(1) noise with innovation SD ``sd``."""
    e = np.empty(n)
    u = rng.normal(scale=sd, size=n)
    e[0] = u[0] / np.sqrt(1 - rho**2)
    for i in range(1, n):
        e[i] = rho * e[i - 1] + u[i]
    return e


def linear_series(
    rng: np.random.Generator, *, n: int = 120, start: int = 61, level: float = 2.0, slope: float = 0.0,
    rho: float = 0.5, sd: float = 1.0,
) -> pd.DataFrame:
    """y = 10 + 0.05 t + level * step + slope * since + season + AR(1) noise; start is a time value."""
    t = np.arange(1, n + 1)
    step = (t >= start).astype(float)
    since = (t - start + 1) * step
    month = (t - 1) % 12 + 1
    season = np.sin(2 * np.pi * month / 12) + 0.5 * np.cos(2 * np.pi * month / 12)
    y = 10 + 0.05 * t + level * step + slope * since + season + ar1(n, rho, rng, sd)
    return pd.DataFrame({"period": pd.period_range("2010-01", periods=n, freq="M"), "y": y})


def poisson_series(
    rng: np.random.Generator, *, n: int = 120, start: int = 61, rate_ratio: float = 0.85,
    population: float = 500_000, base: float = 20.0,
) -> pd.DataFrame:
    """Poisson counts with a log-linear trend, seasonality, population offset and a level change."""
    t = np.arange(1, n + 1)
    month = (t - 1) % 12 + 1
    pop = population * (1 + 0.002 * t)
    eta = np.log(base / 1e5) + np.log(pop) + 0.003 * t + 0.1 * np.sin(2 * np.pi * month / 12)
    eta = eta + np.log(rate_ratio) * (t >= start)
    return pd.DataFrame(
        {"period": pd.period_range("2010-01", periods=n, freq="M"), "y": rng.poisson(np.exp(eta)), "pop": pop}
    )
