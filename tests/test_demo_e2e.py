"""End to end: `evaluate demo` on the embedded data writes the whole output-folder contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evaluate import cli
from evaluate.results import RESULT_COLUMNS


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    assert cli.main(["demo", "--out", str(out), "--quiet"]) == 0
    return out


def test_output_folder_contract(demo_out: Path) -> None:
    names = {p.name for p in demo_out.iterdir()}
    assert {"results.csv", "results.parquet", "results.json", "panel.parquet", "panel_quarter.parquet",
            "validation.json", "manifest.json"} <= names


def test_results_table(demo_out: Path) -> None:
    csv = pd.read_csv(demo_out / "results.csv")
    parquet = pd.read_parquet(demo_out / "results.parquet")
    assert list(csv.columns) == list(RESULT_COLUMNS) == list(parquet.columns)
    assert len(csv) > 0 and len(csv) == len(parquet)
    from evaluate.config.loader import load_config
    from evaluate.demo import demo_config_path

    configured = {a.name for a in load_config(demo_config_path()).model.analyses}
    assert set(csv["analysis"]) == configured
    assert {"describe", "its", "did", "synthetic_control"} == set(csv["method"])
    roles = dict(zip(csv["outcome"], csv["outcome_role"], strict=False))
    assert roles["possession_arrests_rate"] == "activity"
    assert roles["nonfatal_overdoses_rate"] == "harm"
    assert roles["treatment_referrals_cj_rate"] == "benefit"


def test_results_json_has_diagnostics(demo_out: Path) -> None:
    content = json.loads((demo_out / "results.json").read_text())
    assert content["evaluation"] == "demo"
    first = content["results"][0]
    assert {"estimates", "diagnostics", "warnings", "rows"} <= set(first)
    r = first["rows"]
    assert r["n_input"] == r["n_used"] + sum(r["dropped"].values())


def test_panel(demo_out: Path) -> None:
    panel = pd.read_parquet(demo_out / "panel.parquet")
    assert len(panel) == 45 * 108
    assert panel["period"].iloc[0] == "2016-01"
    assert {"nonfatal_overdoses_rate", "diversion__post", "crackdown__event_time", "drug_poisoning_deaths__suppressed"} <= set(panel.columns)
    quarter = pd.read_parquet(demo_out / "panel_quarter.parquet")
    assert len(quarter) == 45 * 36 and "harm_index" in quarter.columns


def test_validation_json(demo_out: Path) -> None:
    v = json.loads((demo_out / "validation.json").read_text())
    assert v["validation"]["ok"] is True
    deaths = next(s for s in v["validation"]["sources"] if s["name"] == "deaths")
    assert deaths["suppressed"]["drug_poisoning_deaths"] > 0
    for panel in v["join"].values():
        assert all(s["balanced"] for s in panel["sources"])
    assert v["timing"]["diversion"]["month"]["cohorts"]["2018-04"]
    assert v["harm_index"]["quarter"][0]["source"].startswith("ILLUSTRATIVE ONLY")


def test_manifest(demo_out: Path) -> None:
    m = json.loads((demo_out / "manifest.json").read_text())
    assert m["name"] == "demo" and m["generator"] == "evaluate"
    assert len(m["inputs"]) == 9 + 2  # sources + two harm-weights files
    assert set(m["seeds"]) == set(pd.read_csv(demo_out / "results.csv")["analysis"])


def test_first_look_points_the_right_way(demo_out: Path) -> None:
    """The planted effects (data/truth.csv) show up in the descriptive difference in changes."""
    csv = pd.read_csv(demo_out / "results.csv").set_index(["analysis", "outcome", "estimand"])["estimate"]
    dic = "difference_in_changes"
    assert csv[("diversion_first_look", "nonfatal_overdoses_rate", dic)] < 0  # truth: rate ratio 0.90
    assert csv[("diversion_first_look", "treatment_referrals_cj_rate", dic)] > 0  # truth: 1.40
    assert csv[("diversion_first_look", "diversion_referrals_rate", dic)] > 0  # truth: 12
    assert csv[("crackdown_first_look", "drug_stop_search_rate", dic)] > 0  # truth: 1.60
