"""Simulated staggered-adoption panels with known effects, for DiD tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def staggered_panel(
    rng: np.random.Generator,
    *,
    n_units: int = 200,
    n_periods: int = 20,
    cohorts: tuple[int, ...] = (6, 10, 14),
    never_share: float = 0.3,
    effect: float = 1.0,
    growth: float = 0.0,
    sd: float = 1.0,
    unit_sd: float = 1.0,
) -> pd.DataFrame:
    """y_it = a_i + b_t + effect * (1 + growth * e) * 1{e >= 0} + noise, e = t - g_i.

    Units are assigned to cohorts (or never treated) at random; ``growth`` makes the effect grow
    with exposure (the case where TWFE is biased).
    """
    never = rng.random(n_units) < never_share
    g = np.where(never, np.inf, rng.choice(np.array(cohorts, dtype=float), size=n_units))
    a = rng.normal(scale=unit_sd, size=n_units)
    b = np.linspace(0, 2, n_periods) + rng.normal(scale=0.2, size=n_periods)
    rows = []
    for i in range(n_units):
        for t in range(n_periods):
            e = t - g[i]
            tau = effect * (1 + growth * e) if e >= 0 else 0.0
            rows.append((f"u{i:04d}", t, g[i], a[i] + b[t] + tau + rng.normal(scale=sd), tau))
    return pd.DataFrame(rows, columns=["unit", "t", "cohort", "y", "tau"])


def true_simple_att(d: pd.DataFrame) -> float:
    """Average effect over treated unit-periods (what Callaway-Sant'Anna's simple ATT targets)."""
    treated = d[np.isfinite(d["cohort"]) & (d["t"] >= d["cohort"])]
    return float(treated["tau"].mean())
