"""Metamorphic tests: every analysis method gives the same answer to the same question, however
the input rows are ordered and whatever the areas are called.

One small project (eight areas, 36 months, a single-start intervention on two areas and a
staggered adoption in two cohorts) runs every method: ``describe``, ``its`` (treated total and
each treated area against the untreated total), ``did`` with each estimator, and
``synthetic_control`` with each estimator, with small bootstrap, wild-bootstrap and placebo
settings. It is then run again

* with the rows of every source file shuffled: the results table must be **byte-identical**
  (the panel is sorted by area and period before anything is fitted, so nothing downstream can
  see the file order);
* with the area codes relabelled by a bijection that keeps their sort order: again identical,
  exactly, resampled quantities included;
* with the area codes relabelled by a bijection that **changes** their sort order: estimates,
  analytic standard errors, intervals and p-values agree to a relative 1e-10 (they differ in
  the last bits, about 1e-14, because sums over areas and the synthetic-control weight solver run
  in a different order). Resampled inference does not: the Callaway-Sant'Anna multiplier
  bootstrap, the wild cluster bootstrap and the synthetic-control placebo draws are assigned to
  areas in sorted-code order, so a relabelling that reorders the areas gives another Monte Carlo
  draw (equal in distribution, not in value). That is a known reproducibility limitation, kept
  here as strict xfails so that fixing it turns them into failures to remove.

It also checks that the same config twice gives the same ``results.csv`` bytes (the fast test
writes the table the way ``pipeline/run.py`` does; the slow one runs ``evaluate run`` twice).
"""

from __future__ import annotations

import copy
import io
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluate.config.loader import load_config
from evaluate.pipeline.analyses import check_all, run_all
from evaluate.pipeline.prepare import prepare
from evaluate.results.table import results_frame
from tests.conftest import BASE_CONFIG

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

AREAS = [f"E{i:02d}" for i in range(1, 9)]
MONTHS = [f"{y}-{m:02d}" for y in (2019, 2020, 2021) for m in range(1, 13)]
SCHEME = ["E01", "E02"]  # single start, 2020-01
ADOPTION = {"E01": "2020-01", "E02": "2020-01", "E03": "2020-07", "E04": "2020-07"}
RTOL = 1e-10

# a relabelling that keeps the codes' order, and one that scrambles it
MONOTONE = {a: f"N{7 * int(a[1:]):03d}" for a in AREAS}
SCRAMBLED = dict(zip(AREAS, ["W1", "Y5", "U6", "Q0", "P9", "T4", "I7", "E2"], strict=True))

RATE = ["nonfatal_overdoses_rate"]
ANALYSES: list[dict[str, Any]] = [
    {"name": "describe", "method": "describe", "intervention": "scheme", "outcomes": [*RATE, "drug_stop_search"]},
    {"name": "its_total", "method": "its", "intervention": "scheme",
     "outcomes": ["nonfatal_overdoses", *RATE], "n_sim": 200},
    {"name": "its_each", "method": "its", "intervention": "scheme", "unit": "each_treated",
     "control": "untreated_total", "outcomes": ["nonfatal_overdoses"], "n_sim": 200},
    {"name": "did_cs", "method": "did", "intervention": "rollout", "estimator": "callaway_santanna",
     "outcomes": RATE, "bootstrap": 99},
    {"name": "did_twfe", "method": "did", "intervention": "rollout", "estimator": "twfe",
     "outcomes": RATE, "wild_draws": 99, "randomization": 30},
    {"name": "did_event_study", "method": "did", "intervention": "rollout", "estimator": "event_study",
     "outcomes": RATE, "wild_draws": 99, "window": [-3, 3]},
    {"name": "did_sun_abraham", "method": "did", "intervention": "rollout", "estimator": "sun_abraham",
     "outcomes": RATE, "window": [-3, 3]},
    {"name": "did_poisson", "method": "did", "intervention": "rollout", "estimator": "poisson",
     "outcomes": ["nonfatal_overdoses"]},
    {"name": "synth_sdid", "method": "synthetic_control", "intervention": "scheme", "estimator": "sdid",
     "outcomes": RATE, "n_placebo": 20},
    {"name": "synth_sc", "method": "synthetic_control", "intervention": "scheme", "estimator": "sc",
     "outcomes": RATE, "n_placebo": 20},
    {"name": "synth_did", "method": "synthetic_control", "intervention": "scheme", "estimator": "did",
     "outcomes": RATE, "n_placebo": 20},
]  # fmt: skip

# results-table columns drawn from resampling whose draws follow the areas' sorted order
RESAMPLED = {
    "did_cs": ["std_error", "ci_lower", "ci_upper", "p_value"],  # multiplier bootstrap
    "did_twfe": ["ci_lower", "ci_upper", "p_value"],  # wild cluster bootstrap (SE is CR1)
    "did_event_study": ["ci_lower", "ci_upper", "p_value"],
    "synth_sdid": ["std_error", "ci_lower", "ci_upper", "p_value"],  # placebo standard error
    "synth_sc": ["std_error", "ci_lower", "ci_upper", "p_value"],
    "synth_did": ["std_error", "ci_lower", "ci_upper", "p_value"],
}
INFERENCE = ["std_error", "ci_lower", "ci_upper", "p_value"]
NUMERIC = ["estimate", *INFERENCE, "n_obs", "n_areas", "n_periods"]
ADJUSTED = ["p_value_holm", "p_value_bh"]  # adjusted within an analysis: resampled if p_value is
KEY = ["analysis", "outcome", "unit", "estimand"]


def _files() -> dict[str, str]:
    """Sources with an effect on the treated areas after their start, seeded (the same every run)."""
    rng = np.random.default_rng(20240601)
    policing = ["area_code,period,drug_stop_search,possession_arrests"]
    harm = ["area_code,period,nonfatal_overdoses,drug_poisoning_deaths"]
    for i, area in enumerate(AREAS):
        for j, month in enumerate(MONTHS):
            treated = area in ADOPTION and month >= ADOPTION[area]
            mean = (20 + 3 * i) * (0.8 if treated else 1.0) + 0.2 * j
            deaths = rng.poisson(3)
            policing.append(f"{area},{month},{rng.poisson(40 + i)},{rng.poisson(8)}")
            harm.append(f"{area},{month},{rng.poisson(mean)},{'[c]' if deaths < 3 else deaths}")
    population = ["area_code,period,population"] + [
        f"{a},{y},{100_000 + 7919 * i + 1000 * (y - 2019)}"
        for i, a in enumerate(AREAS)
        for y in (2019, 2020, 2021)
    ]
    return {
        "data/areas.csv": "area_code,area_name\n"
        + "".join(f"{a},Area {i}\n" for i, a in enumerate(AREAS)),
        "data/population.csv": "\n".join(population) + "\n",
        "data/policing.csv": "\n".join(policing) + "\n",
        "data/harm.csv": "\n".join(harm) + "\n",
        "data/adoption.csv": "area_code,start\n"
        + "".join(f"{a},{ADOPTION.get(a, '')}\n" for a in AREAS),
        "weights.yaml": (
            "name: w\nsource: test fixture\nunit: days\n"
            "weights:\n  drug_poisoning_deaths: 100\n  nonfatal_overdoses: 1\n"
        ),
    }


def _config(treated: list[str]) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["interventions"] = [
        {"name": "scheme", "start": "2020-01", "treated_areas": treated},
        {"name": "rollout", "adoption": "adoption"},
    ]
    cfg["analyses"] = copy.deepcopy(ANALYSES)
    return cfg


def _shuffled(files: dict[str, str], seed: int) -> dict[str, str]:
    """Every CSV with its data rows in a random order (the header stays first)."""
    rng = random.Random(seed)
    out = dict(files)
    for name, text in files.items():
        if name.endswith(".csv"):
            header, *rows = text.splitlines()
            rng.shuffle(rows)
            out[name] = "\n".join([header, *rows]) + "\n"
    return out


def _relabelled(files: dict[str, str], mapping: dict[str, str]) -> dict[str, str]:
    """Every area code (the first field of each CSV row) replaced through ``mapping``."""
    out = dict(files)
    for name, text in files.items():
        if name.endswith(".csv"):
            header, *rows = text.splitlines()
            rows = [mapping[r.split(",", 1)[0]] + "," + r.split(",", 1)[1] for r in rows]
            out[name] = "\n".join([header, *rows]) + "\n"
    return out


@dataclass
class Run:
    """One project's results table, with area codes in ``unit`` mapped back to the originals."""

    table: pd.DataFrame
    csv: bytes


def _csv_bytes(table: pd.DataFrame) -> bytes:
    """``results.csv`` as ``pipeline/run.py`` writes it."""
    buf = io.StringIO()
    table.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _run(
    root: Path, files: dict[str, str], treated: list[str], back: dict[str, str] | None = None
) -> Run:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "config.yaml").write_text(
        yaml.safe_dump(_config(treated), sort_keys=False), encoding="utf-8"
    )
    prepared = prepare(load_config(root / "config.yaml"))
    check_all(prepared)
    table = results_frame(run_all(prepared))
    csv = _csv_bytes(table)
    if back:
        pattern = re.compile(
            "|".join(re.escape(code) for code in sorted(back, key=len, reverse=True))
        )
        table = table.assign(
            unit=table["unit"].map(lambda u: pattern.sub(lambda m: back[m.group(0)], u))
        )
    return Run(table.sort_values(KEY, kind="stable").reset_index(drop=True), csv)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The base project, run twice, and its shuffled and relabelled versions."""
    root = tmp_path_factory.mktemp("metamorphic")
    files = _files()
    out = {
        "base": _run(root / "base", files, SCHEME),
        "again": _run(root / "again", files, SCHEME),
        "shuffled": _run(root / "shuffled", _shuffled(files, seed=7), SCHEME),
    }
    for name, mapping in (("monotone", MONOTONE), ("scrambled", SCRAMBLED)):
        back = {new: old for old, new in mapping.items()}
        out[name] = _run(
            root / name, _relabelled(files, mapping), [mapping[a] for a in SCHEME], back
        )
    return out


def _rows(run: Run, analysis: str) -> pd.DataFrame:
    rows = run.table[run.table["analysis"] == analysis].reset_index(drop=True)
    assert len(rows), f"no results for {analysis}"
    return rows


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, columns: list[str], *, rtol: float) -> None:
    pd.testing.assert_frame_equal(a[KEY], b[KEY])
    for c in columns:
        x, y = a[c].astype(float).to_numpy(), b[c].astype(float).to_numpy()
        same = (
            (np.isnan(x) & np.isnan(y))
            | (x == y)
            | (np.abs(x - y) <= rtol * np.maximum(np.abs(x), 1.0))
        )
        if not same.all():
            bad = a.loc[~same, KEY].assign(base=x[~same], other=y[~same])
            raise AssertionError(f"{c} differs (rtol {rtol:g}):\n{bad.to_string()}")


NAMES = [a["name"] for a in ANALYSES]


def test_every_method_and_estimator_is_covered() -> None:
    covered = {(a["method"], a.get("estimator")) for a in ANALYSES}
    expected = {("describe", None), ("its", None)}
    expected |= {
        ("did", e) for e in ("callaway_santanna", "twfe", "event_study", "sun_abraham", "poisson")
    }
    expected |= {("synthetic_control", e) for e in ("sdid", "sc", "did")}
    assert covered == expected


def test_same_config_twice_gives_byte_identical_results_csv(runs: dict[str, Run]) -> None:
    assert runs["base"].csv == runs["again"].csv


def test_shuffled_rows_give_byte_identical_results_csv(runs: dict[str, Run]) -> None:
    assert runs["shuffled"].csv == runs["base"].csv


@pytest.mark.parametrize("analysis", NAMES)
def test_shuffled_rows_give_identical_estimates(runs: dict[str, Run], analysis: str) -> None:
    _assert_same(
        _rows(runs["base"], analysis), _rows(runs["shuffled"], analysis), NUMERIC + ADJUSTED, rtol=0
    )


@pytest.mark.parametrize("analysis", NAMES)
def test_order_keeping_relabelling_gives_identical_results(
    runs: dict[str, Run], analysis: str
) -> None:
    """Resampling included: draws follow the areas' order, which this relabelling keeps."""
    _assert_same(
        _rows(runs["base"], analysis), _rows(runs["monotone"], analysis), NUMERIC + ADJUSTED, rtol=0
    )


@pytest.mark.parametrize("analysis", NAMES)
def test_relabelling_gives_identical_estimates(runs: dict[str, Run], analysis: str) -> None:
    """Estimates and every inference not drawn at random agree to a relative 1e-10."""
    resampled = RESAMPLED.get(analysis, [])
    columns = [c for c in NUMERIC if c not in resampled] + ([] if resampled else ADJUSTED)
    _assert_same(
        _rows(runs["base"], analysis), _rows(runs["scrambled"], analysis), columns, rtol=RTOL
    )


@pytest.mark.parametrize(
    "analysis",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                strict=True,
                reason=(
                    "known reproducibility limitation: bootstrap, wild-bootstrap and placebo draws "
                    "are assigned to areas in sorted area-code order, so a relabelling that "
                    "reorders the areas gives a different Monte Carlo draw"
                ),
            ),
        )
        for name in RESAMPLED
    ],
)
def test_relabelling_gives_identical_resampled_inference(
    runs: dict[str, Run], analysis: str
) -> None:
    _assert_same(
        _rows(runs["base"], analysis),
        _rows(runs["scrambled"], analysis),
        RESAMPLED[analysis],
        rtol=RTOL,
    )


@pytest.mark.slow
def test_evaluate_run_twice_writes_byte_identical_results_csv(tmp_path: Path) -> None:
    """The whole command (charts and report included) on the every-method project, twice."""
    from evaluate.pipeline.run import run_evaluation

    files = _files()
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(_config(SCHEME), sort_keys=False), encoding="utf-8")
    first = run_evaluation(config, out=tmp_path / "a")
    second = run_evaluation(config, out=tmp_path / "b")
    written = (first.output_dir / "results.csv").read_bytes()
    assert written == (second.output_dir / "results.csv").read_bytes()
    assert written == _csv_bytes(first.table)  # the fast tests' stand-in writes the same bytes
