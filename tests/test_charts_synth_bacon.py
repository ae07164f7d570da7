"""Synthetic-control and Goodman-Bacon charts: their data, drawing and alt text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluate.charts.bacon import bacon_alt, bacon_data, plot_bacon
from evaluate.charts.style import save_figure
from evaluate.charts.synth import (
    plot_synth_gaps,
    plot_synth_series,
    plot_synth_weights,
    synth_gaps_alt,
    synth_gaps_data,
    synth_series_alt,
    synth_series_data,
    synth_weights_alt,
    synth_weights_data,
)
from evaluate.estimators.did import did
from evaluate.estimators.synth import synthetic_control
from evaluate.verify import reference_dir


@pytest.fixture(scope="module")
def prop99() -> object:
    data = pd.read_csv(reference_dir() / "california_prop99" / "california_prop99.csv")
    return synthetic_control(data, outcome="PacksPerCapita", treated_areas=["California"], start=1989, area="State",
                             period="Year", estimator="sc", n_placebo=20, leave_one_out=False)


def test_series_and_gap_data(prop99: object) -> None:
    s = synth_series_data(prop99)  # type: ignore[arg-type]
    assert len(s) == 31 and set(s["cohort"]) == {"1989"}
    assert s.loc[s["event_time"] >= 0, "gap"].mean() == pytest.approx(-19.619663, abs=1e-3)  # SC estimate, synthdid
    g = synth_gaps_data(prop99)  # type: ignore[arg-type]
    assert g["placebo"].sum() == 38 * 31 and (~g["placebo"]).sum() == 31
    hidden = synth_series_data(prop99, treated_shown=np.arange(31) != 0)  # type: ignore[arg-type]
    assert np.isnan(hidden.loc[0, "treated"]) and hidden["suppressed"].sum() == 1
    with pytest.raises(ValueError, match="treated_shown has 3 values for 31 rows"):
        synth_series_data(prop99, treated_shown=[True] * 3)  # type: ignore[arg-type]


def test_weights_data_sums_to_one_with_other_donors(prop99: object) -> None:
    w = synth_weights_data(prop99, top=3)  # type: ignore[arg-type]
    assert w["weight"].sum() == pytest.approx(1.0)
    assert len(w) == 4 and w["area"].iloc[-1].endswith("other donors")
    assert list(w["weight"].iloc[:3]) == sorted(w["weight"].iloc[:3], reverse=True)


def test_charts_draw_and_say_what_they_show(prop99: object, tmp_path: Path) -> None:
    for plot, alt, name in ((plot_synth_series, synth_series_alt, "series"), (plot_synth_gaps, synth_gaps_alt, "gaps"),
                            (plot_synth_weights, synth_weights_alt, "weights")):
        fig = plot(prop99)  # type: ignore[operator]
        text = alt(prop99)  # type: ignore[operator]
        saved = save_figure(fig, tmp_path, name, text)
        assert saved.png.stat().st_size > 1000 and saved.svg.exists()
    assert "permutation p" in synth_gaps_alt(prop99)  # type: ignore[arg-type]
    assert "-19.6" in synth_series_alt(prop99)  # type: ignore[arg-type]


def test_bacon_chart(rng: np.random.Generator, tmp_path: Path) -> None:
    n, t = 40, 12
    g = rng.choice([4.0, 7.0, np.inf], size=n)
    unit, time = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    y = rng.normal(size=n * t) + (time >= g[unit]) * 1.0
    d = pd.DataFrame({"unit": unit, "t": time, "cohort": g[unit], "y": y})
    r = did(d, outcome="y", estimator="twfe", unit="unit", time="t", cohort="cohort", se="cluster")
    b = bacon_data(r)
    assert (b["weight"] * b["estimate"]).sum() == pytest.approx(r.estimates.iloc[0]["estimate"], rel=1e-8)
    saved = save_figure(plot_bacon(r), tmp_path, "bacon", bacon_alt(r))
    assert saved.png.exists()
    assert "Later vs Earlier Treated" in bacon_alt(r)


def test_missing_plot_data_is_a_clear_error(rng: np.random.Generator) -> None:
    n, t = 20, 8
    d = pd.DataFrame({"unit": np.repeat(np.arange(n), t), "t": np.tile(np.arange(t), n),
                      "y": rng.normal(size=n * t), "cohort": np.repeat(np.where(np.arange(n) < 10, 4.0, np.inf), t)})
    r = did(d, outcome="y", estimator="callaway_santanna", unit="unit", time="t", cohort="cohort", bootstrap=0)
    with pytest.raises(ValueError, match="has no plot_data\\['series'\\]"):
        synth_series_data(r)
    with pytest.raises(ValueError, match="has no Goodman-Bacon decomposition"):
        bacon_data(r)
