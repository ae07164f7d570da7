"""The simulated demo data: the generator is deterministic and the shipped files match it."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluate.demo.generate import (
    CRACKDOWN_TARGET_POPULATION,
    DATA_DIR,
    DEFAULT_SEED,
    DIVERSION_COHORTS,
    OUTPUT_FILES,
    SERIES,
    generate,
    main,
)

DICTIONARY = Path(__file__).resolve().parents[1] / "data_dictionary"
N_AREAS, N_MONTHS = 45, 108
MONTHLY_FILES = {
    # stem: (area column, period column)
    "policing_activity": ("Force code", "Month"),
    "drug_deaths": ("area_code", "period"),
    "ambulance_overdoses": ("area_code", "period"),
    "treatment_referrals": ("area_code", "period"),
}


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate()


def _csv_strings(frame: pd.DataFrame, stem: str) -> pd.DataFrame:
    """A generated frame as its CSV file reads back with ``dtype=str``."""
    float_format = "%.10g" if stem == "truth" else None
    text = frame.to_csv(index=False, lineterminator="\n", float_format=float_format)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _numeric(values: pd.Series) -> pd.Series:
    """The unsuppressed cells of a published count column, as integers."""
    return pd.to_numeric(values[values.str.fullmatch(r"\d+")]).astype(int)


def _month_index(label: str) -> int:
    return (int(label[:4]) - 2016) * 12 + int(label[5:7]) - 1


def _crackdown_code(frames: dict[str, pd.DataFrame]) -> str:
    truth = frames["truth"]
    return str(truth.loc[truth["intervention"] == "crackdown", "treated_area_codes"].iloc[0])


def _never_treated_controls(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Never-treated areas, without the crackdown area (which has its own effect)."""
    adoption = frames["diversion_adoption"]
    never = adoption.loc[adoption["start"] == "", "area_code"]
    return [code for code in never if code != _crackdown_code(frames)]


def _population_2016(frames: dict[str, pd.DataFrame]) -> pd.Series:
    population = frames["population"]
    return population[population["mid_year"] == 2016].set_index("area_code")["population"]


# Determinism and drift ----------------------------------------------------------------------


def test_same_seed_gives_equal_frames(frames: dict[str, pd.DataFrame]) -> None:
    again = generate()
    assert again.keys() == frames.keys()
    for key, frame in frames.items():
        pd.testing.assert_frame_equal(again[key], frame, obj=key)


def test_different_seed_differs_and_global_state_is_untouched(
    frames: dict[str, pd.DataFrame],
) -> None:
    np.random.seed(12345)
    other = generate(seed=1)
    after = np.random.random()
    np.random.seed(12345)
    assert after == np.random.random(), "generate() used NumPy's global random state"
    for key in ("population", "policing_activity", "naloxone_weekly", "truth"):
        assert not other[key].equals(frames[key]), key


@pytest.mark.parametrize("stem", list(OUTPUT_FILES))
def test_shipped_file_equals_fresh_generation(frames: dict[str, pd.DataFrame], stem: str) -> None:
    path = DATA_DIR / f"{stem}.{OUTPUT_FILES[stem]}"
    assert path.is_file(), f"{path} is missing: run python -m evaluate.demo.generate"
    if path.suffix == ".parquet":
        shipped = pd.read_parquet(path)
        pd.testing.assert_frame_equal(shipped, frames[stem])
    else:
        shipped = pd.read_csv(path, dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(shipped, _csv_strings(frames[stem], stem))


def test_command_line_rewrites_the_shipped_files_exactly(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--seed", str(DEFAULT_SEED)]) == 0
    expected = {f"{stem}.{fmt}" for stem, fmt in OUTPUT_FILES.items()} | {"README.md"}
    assert {p.name for p in tmp_path.iterdir()} == expected
    for name in expected - {p for p in expected if p.endswith(".parquet")}:
        assert (tmp_path / name).read_bytes() == (DATA_DIR / name).read_bytes(), name


def test_readme_says_simulated_and_names_the_crackdown(frames: dict[str, pd.DataFrame]) -> None:
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert "Every number in this folder is simulated" in readme
    assert _crackdown_code(frames) in readme and "2021-07" in readme
    assert str(DEFAULT_SEED) in readme


# Shapes ----------------------------------------------------------------------------------------


def test_areas(frames: dict[str, pd.DataFrame]) -> None:
    areas = frames["areas"]
    assert areas.columns.tolist() == ["area_code", "area_name", "region"]
    assert areas["area_code"].tolist() == [f"SIM{i:02d}" for i in range(1, N_AREAS + 1)]
    assert areas["area_name"].is_unique
    assert set(areas["region"]) == {
        f"Simulated {r}" for r in ("North", "Midlands", "East", "South", "West")
    }


def test_population(frames: dict[str, pd.DataFrame]) -> None:
    population = frames["population"]
    assert population.columns.tolist() == ["area_code", "mid_year", "population"]
    assert len(population) == N_AREAS * 9
    assert population["mid_year"].unique().tolist() == list(range(2016, 2025))
    assert population["population"].dtype == np.int64
    pop2016 = _population_2016(frames)
    assert pop2016.min() == 300_000 and pop2016.max() == 9_000_000
    by_area = population.pivot(index="area_code", columns="mid_year", values="population")
    growth = by_area[2024] / by_area[2016]
    assert (growth >= 1.0).all() and (growth <= 1.01**8 + 1e-6).all()


@pytest.mark.parametrize("stem", list(MONTHLY_FILES))
def test_monthly_files_cover_108_months_sorted(frames: dict[str, pd.DataFrame], stem: str) -> None:
    area, period = MONTHLY_FILES[stem]
    frame = frames[stem]
    assert len(frame) == N_AREAS * N_MONTHS
    first = frame[frame[area] == "SIM01"][period]
    assert first.iloc[0].startswith("2016-01") and first.iloc[-1].startswith("2024-12")
    assert frame[area].nunique() == N_AREAS
    assert frame.equals(frame.sort_values([area, period]).reset_index(drop=True))


def test_policing_export_headers(frames: dict[str, pd.DataFrame]) -> None:
    assert frames["policing_activity"].columns.tolist() == [
        "Force code",
        "Month",
        "Drug searches",
        "Possession arrests",
        "Supply arrests",
        "Drug seizures",
        "Diversion referrals",
    ]


def test_no_floats_outside_truth(frames: dict[str, pd.DataFrame]) -> None:
    for stem in OUTPUT_FILES:
        if stem != "truth":
            assert frames[stem].select_dtypes("floating").empty, stem


def test_parquet_types(frames: dict[str, pd.DataFrame]) -> None:
    overdoses = frames["ambulance_overdoses"]
    assert overdoses["nonfatal_overdoses"].dtype == np.int64
    assert pd.api.types.is_string_dtype(overdoses["period"])
    assert pd.api.types.is_string_dtype(overdoses["area_code"])
    naloxone = frames["naloxone_weekly"]
    assert pd.api.types.is_datetime64_dtype(naloxone["week_start"])
    assert naloxone["naloxone_administrations"].dtype == np.int64


def test_weekly_dates_are_contiguous_mondays(frames: dict[str, pd.DataFrame]) -> None:
    naloxone = frames["naloxone_weekly"]
    for _, weeks in naloxone.groupby("area_code")["week_start"]:
        assert (weeks.dt.day_of_week == 0).all()
        assert (weeks.diff().dropna() == pd.Timedelta(days=7)).all()
        assert weeks.iloc[0] == pd.Timestamp("2015-12-28")
        assert weeks.iloc[-1] == pd.Timestamp("2024-12-30")


def test_quarterly_admissions(frames: dict[str, pd.DataFrame]) -> None:
    admissions = frames["hospital_admissions_quarterly"]
    assert len(admissions) == N_AREAS * 36
    assert admissions["quarter"].iloc[:4].tolist() == ["2016 Q1", "2016 Q2", "2016 Q3", "2016 Q4"]
    numeric = _numeric(admissions["drug_related_admissions"])
    assert not numeric.between(1, 7).any()


def test_suppression(frames: dict[str, pd.DataFrame]) -> None:
    deaths = frames["drug_deaths"]["drug_poisoning_deaths"]
    assert (deaths == "[c]").any()
    assert set(deaths[~deaths.str.fullmatch(r"\d+")]) == {"[c]"}
    assert _numeric(deaths).min() >= 3
    referrals = frames["treatment_referrals"]["treatment_referrals_cj"]
    assert set(referrals[~referrals.str.fullmatch(r"\d+")]) <= {"*"}
    assert not _numeric(referrals).between(1, 4).any()


def test_adoption_cohorts(frames: dict[str, pd.DataFrame]) -> None:
    adoption = frames["diversion_adoption"]
    assert adoption.columns.tolist() == ["area_code", "start"]
    assert adoption["area_code"].tolist() == frames["areas"]["area_code"].tolist()
    sizes = adoption["start"].value_counts().to_dict()
    assert sizes == {**DIVERSION_COHORTS, "": N_AREAS - sum(DIVERSION_COHORTS.values())}
    rank = _population_2016(frames).rank(method="first")
    for start in DIVERSION_COHORTS:
        members = rank[adoption.loc[adoption["start"] == start, "area_code"]]
        assert members.min() <= N_AREAS // 3, f"cohort {start} has no small area"
        assert members.max() > N_AREAS - N_AREAS // 3, f"cohort {start} has no large area"


def test_crackdown_area_is_never_treated_and_closest_to_target(
    frames: dict[str, pd.DataFrame],
) -> None:
    code = _crackdown_code(frames)
    adoption = frames["diversion_adoption"].set_index("area_code")["start"]
    assert adoption[code] == ""
    pop2016 = _population_2016(frames)[adoption.index[adoption == ""]]
    assert (pop2016 - CRACKDOWN_TARGET_POPULATION).abs().idxmin() == code


# Truth -----------------------------------------------------------------------------------------


def test_truth_has_every_variable_and_intervention(frames: dict[str, pd.DataFrame]) -> None:
    truth = frames["truth"]
    variables = [*SERIES, "population"]
    assert len(truth) == 2 * len(variables)
    assert set(zip(truth["intervention"], truth["variable"], strict=True)) == {
        (i, v) for i in ("diversion", "crackdown") for v in variables
    }
    no_effect = truth["rate_ratio"] == 1.0
    assert (truth.loc[no_effect, "expected_att_count"] == 0).all()
    assert (truth.loc[~no_effect, "expected_att_count"] != 0).all()
    sign = np.sign(np.log(truth["rate_ratio"]))
    assert (np.sign(truth["expected_att_count"]) == sign).all()
    assert (np.sign(truth["expected_att_rate_per_100k"]) == sign).all()
    for row in truth.itertuples():
        if row.variable != "population":
            assert row.rate_ratio == getattr(SERIES[row.variable], f"{row.intervention}_rr")
            assert row.frequency == SERIES[row.variable].frequency
    crackdown = truth[truth["intervention"] == "crackdown"]
    assert (crackdown["start"] == "2021-07").all() and (crackdown["treated_areas"] == 1).all()
    assert (crackdown["ramp_periods"] == 3).all()
    diversion = truth[truth["intervention"] == "diversion"]
    assert (diversion["treated_areas"] == 26).all() and (diversion["ramp_periods"] == 6).all()


def test_truth_roles_and_names_follow_the_data_dictionary(frames: dict[str, pd.DataFrame]) -> None:
    roles = {}
    for path in DICTIONARY.glob("*.yaml"):
        for variable in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
            "variables", []
        ):
            roles[variable["name"]] = variable["role"]
    truth = frames["truth"]
    for variable, role in zip(truth["variable"], truth["role"], strict=True):
        assert roles[variable] == role, variable


# Recovery: checks that fail if the effects are not where the truth says ----------------------


def test_expected_counts_follow_the_ramp(frames: dict[str, pd.DataFrame]) -> None:
    expected = frames["expected"]
    adoption = frames["diversion_adoption"]
    code, start = adoption[adoption["start"] != ""].iloc[0]
    rows = expected[
        (expected["variable"] == "nonfatal_overdoses") & (expected["area_code"] == code)
    ]
    ratio = (rows["mu"] / rows["mu_counterfactual"]).to_numpy()
    e = np.arange(N_MONTHS) - _month_index(start)
    ramp = np.clip((e + 1) / 6, 0, 1)
    np.testing.assert_allclose(ratio, np.exp(math.log(0.90) * ramp), rtol=1e-12)


def test_diversion_effect_on_overdoses_is_recovered_from_mu(
    frames: dict[str, pd.DataFrame],
) -> None:
    """Crude DiD of mean log mu (full-ramp post vs pre), treated minus never-treated."""
    expected = frames["expected"]
    expected = expected[expected["variable"] == "nonfatal_overdoses"].assign(
        log_mu=lambda d: np.log(d["mu"]), month=lambda d: d["period"].map(_month_index)
    )
    controls = _never_treated_controls(frames)
    adoption = frames["diversion_adoption"]

    def change(codes: list[str], start: int) -> float:
        rows = expected[expected["area_code"].isin(codes)]
        post = rows[rows["month"] >= start + 5].groupby("area_code")["log_mu"].mean()
        pre = rows[rows["month"] < start].groupby("area_code")["log_mu"].mean()
        return float((post - pre).mean())

    estimates, weights = [], []
    for start, cohort in adoption[adoption["start"] != ""].groupby("start"):
        index = _month_index(str(start))
        codes = cohort["area_code"].tolist()
        estimates.append(change(codes, index) - change(controls, index))
        weights.append(len(codes))
    assert abs(np.average(estimates, weights=weights) - math.log(0.90)) < 0.02


def test_crackdown_effect_on_searches_is_recovered_from_counts(
    frames: dict[str, pd.DataFrame],
) -> None:
    """DiD of log total drug searches, full-ramp post (from 2021-09) vs pre (before 2021-07)."""
    policing = frames["policing_activity"]
    pre, post = policing["Month"] < "2021-07", policing["Month"] >= "2021-09"

    def log_change(areas: pd.Series) -> float:
        searches = policing["Drug searches"][areas]
        return math.log(searches[post].sum() / searches[pre].sum())

    treated = log_change(policing["Force code"] == _crackdown_code(frames))
    control = log_change(policing["Force code"].isin(_never_treated_controls(frames)))
    assert abs(treated - control - math.log(1.6)) < 0.15
