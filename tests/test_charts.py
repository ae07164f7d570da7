"""Charts: plot data as DataFrames, figures on the Agg canvas, alt text, deterministic files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evaluate as ev
from evaluate.charts.event_study import event_study_alt, event_study_data, plot_event_study
from evaluate.charts.forest import forest_alt, forest_data, plot_forest, reading
from evaluate.charts.its import its_alt, its_data, plot_its
from evaluate.charts.outputs_outcomes import (
    outputs_outcomes_alt,
    outputs_outcomes_data,
    plot_outputs_outcomes,
)
from evaluate.charts.style import DIRECTION_STYLES, PALETTE, SERIES_STYLES, save_figure
from evaluate.charts.trend import plot_trend, trend_alt, trend_data
from evaluate.results import EffectResult, RowAccounting

MONTHS = pd.period_range("2018-01", periods=48, freq="M")


@pytest.fixture(scope="module")
def its_result() -> EffectResult:
    rng = np.random.default_rng(20240601)
    t = np.arange(48)
    mu = 40 * np.exp(0.004 * t) * np.where(t >= 30, 0.8, 1.0)
    keep = ~((t >= 24) & (t < 26))  # two excluded phase-in months
    df = pd.DataFrame({"period": MONTHS, "y": rng.poisson(mu), "pop": 250_000.0})[keep].reset_index(drop=True)
    return ev.its(df, outcome="y", start="2020-01", model="quasipoisson", population="pop", n_sim=200,
                  placebo=False, outcome_role="harm", outcome_label="Overdoses", unit="AREA1",
                  intervention="scheme", analysis="its_test")


def _result(role: str, estimates: dict[str, tuple[float, float, float]], method: str = "its",
            outcome: str = "y") -> EffectResult:
    est = pd.DataFrame([
        {"estimand": k, "estimate": v[0], "std_error": 0.1, "ci_lower": v[1], "ci_upper": v[2], "p_value": 0.04,
         "n_obs": 40, "n_areas": 1, "n_periods": 40, "note": ""}
        for k, v in estimates.items()
    ])
    return EffectResult(analysis=f"{method}_a", method=method, estimator="x", outcome=outcome, outcome_role=role,
                        outcome_label=f"{outcome} label", intervention="scheme", estimates=est, ci_level=0.95,
                        se_type="t", rows=RowAccounting(40, 40, {}), unit="")


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for i, a in enumerate(["T1", "T2", "C1", "C2"]):
        for j, p in enumerate(MONTHS):
            rows.append({"area_code": a, "period": p, "arrests": rng.poisson(20 + i), "deaths": rng.poisson(6),
                         "population": 100_000.0 * (i + 1), "event_time": j - 24 - (i % 2) * 3})
    df = pd.DataFrame(rows)
    df["deaths_rate"] = df["deaths"] / df["population"] * 100_000
    return df


# --- ITS ----------------------------------------------------------------------------------


def test_its_data_marks_suppressed_points(its_result: EffectResult) -> None:
    n = len(its_result.plot_data["series"])
    shown = np.arange(n) % 5 != 0
    d = its_data(its_result, observed_shown=shown)
    assert list(d.columns[:8]) == ["period", "time", "observed", "fitted", "counterfactual", "counterfactual_lower",
                                   "counterfactual_upper", "post"]
    assert d["observed"].isna().sum() == (~shown).sum() and d["suppressed"].sum() == (~shown).sum()
    assert (d.loc[shown, "observed"] == its_result.plot_data["series"].loc[shown, "observed"]).all()
    with pytest.raises(ValueError, match="observed_shown has 3 values for"):
        its_data(its_result, observed_shown=[True, False, True])


def test_plot_its_draws_start_phase_in_and_counterfactual(its_result: EffectResult) -> None:
    from matplotlib.figure import Figure

    fig = plot_its(its_result, intervention_label="The scheme")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Observed" in labels and "Model fit" in labels
    assert any("counterfactual" in x for x in labels) and any("Phase-in" in x for x in labels)
    assert any("The scheme starts (2020-01)" in t.get_text() for t in ax.texts)
    # the start line sits at the boundary before the excluded phase-in, not after it
    starts = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--" and len(set(ln.get_xdata())) == 1]
    assert 24.5 in starts
    alt = its_alt(its_result)
    assert "Overdoses" in alt and "phase-in" in alt and "below the counterfactual" in alt


def test_plot_its_draws_into_a_given_axes(its_result: EffectResult) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    assert plot_its(its_result, ax=ax2) is fig
    assert len(ax2.lines) > 0 and len(ax1.lines) == 0


def test_its_chart_needs_an_its_result() -> None:
    with pytest.raises(ValueError, match="has no ITS series in plot_data"):
        its_data(_result("harm", {"att": (1.0, 0.5, 1.5)}, method="did"))


# --- forest -------------------------------------------------------------------------------


def test_forest_reads_direction_by_role_and_never_shows_activity() -> None:
    results = [
        _result("harm", {"relative_change": (-0.12, -0.19, -0.04)}, outcome="overdoses"),
        _result("harm", {"relative_change": (0.05, -0.02, 0.12)}, outcome="deaths"),
        _result("benefit", {"rate_ratio": (1.3, 1.1, 1.5)}, outcome="referrals"),
        _result("activity", {"relative_change": (0.6, 0.4, 0.8)}, outcome="searches"),
        _result("harm", {"level_change": (3.0, 1.0, 5.0)}, outcome="rate_difference"),
    ]
    d = forest_data(results)
    assert "searches" not in set(d["outcome"])
    by = d.set_index("outcome")
    assert by.loc["overdoses", "reading"] == "harm reduced" and by.loc["overdoses", "estimate"] == pytest.approx(-12)
    assert by.loc["deaths", "reading"] == "no clear evidence either way"
    assert by.loc["referrals", "reading"] == "benefit increased" and by.loc["referrals", "estimate"] == pytest.approx(30)
    assert np.isnan(by.loc["rate_difference", "estimate"]) and "no relative scale" in by.loc["rate_difference", "note"]
    assert list(d["outcome_role"]) == ["harm", "harm", "harm", "benefit"]
    fig = plot_forest(d)
    texts = " ".join(t.get_text() for a in fig.axes for t in a.texts)
    assert "harm reduced" in texts and "benefit increased" in texts  # the sides are labelled in words
    alt = forest_alt(d)
    assert "1 result(s) have no relative scale" in alt and "harm reduced, \u221212%" in alt


def test_reading_needs_the_whole_interval_on_one_side() -> None:
    assert reading("harm", -0.3, -0.01)[0] == "harm reduced"
    assert reading("harm", -0.3, 0.0)[0] == "no clear evidence either way"
    assert reading("harm", 0.01, 0.3)[0] == "harm increased"
    assert reading("activity", 0.1, 0.3)[0] == "police activity rose"
    assert reading("harm", np.nan, 0.3)[0] == "no interval could be estimated"


def test_forest_with_nothing_to_draw_says_so() -> None:
    d = forest_data([_result("activity", {"relative_change": (0.6, 0.4, 0.8)})])
    with pytest.raises(ValueError, match="no harm or benefit result has a relative effect"):
        plot_forest(d)


# --- trend and outputs vs outcomes ------------------------------------------------------------


def test_trend_is_the_rate_of_the_group_total() -> None:
    panel = _panel()
    groups = {"Treated": ["T1", "T2"], "Comparison": ["C1", "C2"]}
    d = trend_data(panel, outcome="deaths_rate", groups=groups, count="deaths", population="population")
    first = panel[(panel["period"] == MONTHS[0]) & panel["area_code"].isin(["T1", "T2"])]
    row = d[(d["group"] == "Treated") & (d["period"] == str(MONTHS[0]))].iloc[0]
    assert row["count"] == first["deaths"].sum()
    assert row["value"] == pytest.approx(first["deaths"].sum() / first["population"].sum() * 100_000)
    # a period with one area missing is not drawn (a partial total would look like a fall)
    gap = panel.drop(panel[(panel["area_code"] == "T2") & (panel["period"] == MONTHS[5])].index)
    d2 = trend_data(gap, outcome="deaths_rate", groups=groups, count="deaths", population="population")
    assert np.isnan(d2[(d2["group"] == "Treated") & (d2["period"] == str(MONTHS[5]))]["value"]).all()
    fig = plot_trend(d, starts=[(float(MONTHS[24].ordinal), "scheme starts")], ylabel="Deaths", title="t")
    styles = {ln.get_linestyle() for ln in fig.axes[0].lines if len(ln.get_xdata()) > 2}
    assert len(styles) == 2  # the groups differ by line style, not only colour
    assert "Treated from" in trend_alt(d, outcome_label="Deaths")
    with pytest.raises(KeyError, match="column 'nope' not in the panel"):
        trend_data(panel, outcome="nope", groups=groups)


def test_outputs_outcomes_indexes_each_series_to_its_pre_period() -> None:
    panel = _panel()
    d = outputs_outcomes_data(panel, areas=["T1", "T2"], activity=["arrests"], harm=["deaths"],
                              start=MONTHS[24], block=3, labels={"arrests": "Arrests", "deaths": "Deaths"})
    for _var, g in d.groupby("variable"):
        assert g.loc[~g["post"], "index"].mean() == pytest.approx(100)
        assert (g["span"] == 3).all()
    first = d[(d["variable"] == "arrests")].iloc[0]
    block = panel[panel["area_code"].isin(["T1", "T2"]) & panel["period"].isin(MONTHS[:3])]
    assert first["value"] == block["arrests"].sum() and first["period"] == str(MONTHS[0])
    assert set(d["role"]) == {"activity", "harm"}
    fig = plot_outputs_outcomes(d, start_label="start", title="x")
    assert len(fig.axes) == 2
    act = [ln for ln in fig.axes[0].lines if ln.get_label().startswith("Police activity")]
    harm = [ln for ln in fig.axes[1].lines if ln.get_label().startswith("Harm")]
    assert act and harm and act[0].get_linestyle() != harm[0].get_linestyle()
    assert "police activity" in outputs_outcomes_alt(d, areas_text="two areas")
    ev_time = outputs_outcomes_data(panel, areas=["T1", "T2"], activity=["arrests"], harm=["deaths"],
                                    event_time="event_time")
    assert ev_time["period"].str.match(r"^[+-]\d+$").all() and ev_time["time"].min() < 0
    with pytest.raises(ValueError, match="give start .* or event_time"):
        outputs_outcomes_data(panel, areas=["T1"], activity=["arrests"], harm=["deaths"])
    with pytest.raises(ValueError, match="block must be 1 or more"):
        outputs_outcomes_data(panel, areas=["T1"], activity=["arrests"], harm=["deaths"], start=MONTHS[24], block=0)


# --- event study --------------------------------------------------------------------------


def test_event_study_from_estimands_adds_the_reference_period() -> None:
    r = _result("harm", {f"att_e{k}": (0.1 * k, 0.1 * k - 0.5, 0.1 * k + 0.5) for k in (-3, -2, 0, 1, 2)} | {"att": (1, 0, 2)},
                method="did")
    d = event_study_data(r)
    assert list(d["event_time"]) == [-3, -2, -1, 0, 1, 2]
    assert d.set_index("event_time").loc[-1, "period"] == "reference"
    fig = plot_event_study(r)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("Before the start" in x for x in labels) and any("After the start" in x for x in labels)
    assert "2 periods before and 3 after" in event_study_alt(r)
    with pytest.raises(ValueError, match="has no att_e<k> estimands"):
        event_study_data(_result("harm", {"att": (1.0, 0.5, 1.5)}, method="did"))


# --- files, palette, imports ----------------------------------------------------------------


def test_save_figure_writes_png_and_svg_with_alt_text_and_is_deterministic(its_result: EffectResult, tmp_path: Path) -> None:
    from PIL import Image

    alt = its_alt(its_result)
    a = save_figure(plot_its(its_result), tmp_path / "a", "its", alt)
    b = save_figure(plot_its(its_result), tmp_path / "b", "its", alt)
    assert a.png.read_bytes() == b.png.read_bytes() and a.svg.read_bytes() == b.svg.read_bytes()
    svg = a.svg.read_text()
    assert "<title" in svg and "<desc" in svg and 'role="img"' in svg and "Overdoses" in svg
    assert "http://" not in svg.replace("http://www.w3.org", "").replace("http://purl.org", "").replace(
        "http://creativecommons.org", "").replace("http://matplotlib.org", "")
    with Image.open(a.png) as im:
        assert im.text.get("Description") == alt
    with pytest.raises(ValueError, match="needs alt text"):
        save_figure(plot_its(its_result), tmp_path, "x", "  ")


def test_palette_is_okabe_ito_and_never_relies_on_colour_alone() -> None:
    okabe_ito = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert {s["color"] for s in SERIES_STYLES} <= okabe_ito
    assert len({str(s["linestyle"]) for s in SERIES_STYLES}) == len(SERIES_STYLES)
    assert len({s["marker"] for s in SERIES_STYLES}) == len(SERIES_STYLES)
    assert len({(d["marker"], d["fill"]) for d in DIRECTION_STYLES.values()}) == 3
    assert PALETTE["blue"] == "#0072B2"


def test_importing_charts_does_not_import_matplotlib() -> None:
    code = "import sys, evaluate.charts, evaluate.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
