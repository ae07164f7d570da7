"""Grids in this process, in worker processes and on a local Dask cluster give the same results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluate import grid
from evaluate.config.loader import LoadedConfig, parse_config
from evaluate.demo import demo_config_path
from evaluate.grid import GridError, run_grid
from evaluate.pipeline.analyses import check_all, run_all
from evaluate.pipeline.prepare import prepare
from evaluate.results.table import results_frame


def square_plus(shared: Any, task: int) -> float:
    """A task that reads a shared array (module level, so workers can import it)."""
    return float(task**2 + shared.sum())


def seeded_mean(task: int) -> float:
    return float(np.random.default_rng(task).normal(size=100).mean())


def fails_on_three(task: int) -> int:
    if task == 3:
        raise ValueError("task 3 failed")
    return task


def test_processes_give_the_serial_results_in_order() -> None:
    tasks = list(range(12))[::-1]
    serial = run_grid(seeded_mean, tasks, workers=1)
    parallel = run_grid(seeded_mean, tasks, workers=2)
    assert parallel == serial
    shared = np.arange(5.0)
    assert run_grid(square_plus, tasks, shared=shared, workers=2) == [t**2 + 10.0 for t in tasks]


def test_task_errors_propagate_and_bad_worker_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="task 3 failed"):
        run_grid(fails_on_three, list(range(6)), workers=2)
    with pytest.raises(GridError, match="workers must be a whole number"):
        run_grid(seeded_mean, [1, 2], workers=0)


def test_unreachable_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grid, "_CONNECT_TIMEOUT", "1s")
    with pytest.raises(GridError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 .* check the address"):
        run_grid(seeded_mean, [1], scheduler="tcp://127.0.0.1:9")


@pytest.fixture(scope="module")
def local_cluster() -> Any:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster
    cluster.close()


def test_dask_cluster_gives_the_serial_results(local_cluster: Any) -> None:
    tasks = list(range(10))
    assert run_grid(seeded_mean, tasks, scheduler=local_cluster.scheduler_address) == run_grid(seeded_mean, tasks)
    shared = np.arange(3.0)
    out = run_grid(square_plus, tasks, shared=shared, scheduler=local_cluster.scheduler_address)
    assert out == [t**2 + 3.0 for t in tasks]


def _prepared() -> Any:
    raw = yaml.safe_load(demo_config_path().read_text())
    keep = {"diversion_first_look", "diversion_twfe", "crackdown_its"}
    raw["analyses"] = [a for a in raw["analyses"] if a["name"] in keep]
    raw["analyses"].append({"name": "sc", "method": "synthetic_control", "intervention": "crackdown",
                            "estimator": "did", "n_placebo": 20, "exclude_treated_by": ["diversion"],
                            "outcomes": ["supply_arrests_rate", "nonfatal_overdoses_rate"]})
    loaded = LoadedConfig(parse_config(raw), demo_config_path(), demo_config_path().parent, "test")
    prepared = prepare(loaded)
    check_all(prepared)
    return prepared


def test_pipeline_specification_grid_equals_a_serial_run(local_cluster: Any) -> None:
    """Every analysis x outcome as a task: same results table from 1 process, 2 processes, Dask."""
    prepared = _prepared()
    serial = results_frame(run_all(prepared))
    assert serial["method"].nunique() == 4 and len(serial) > 20
    for kwargs in ({"workers": 2}, {"scheduler": local_cluster.scheduler_address}):
        other = results_frame(run_all(prepared, **kwargs))
        pd.testing.assert_frame_equal(other, serial)


def test_synthetic_control_refits_split_over_processes_and_dask(local_cluster: Any) -> None:
    """The placebo, in-space and leave-one-out grid gives the same numbers wherever it runs
    (to rounding: 1e-10 relative)."""
    from evaluate.estimators.synth import synthetic_control
    from evaluate.verify import reference_dir

    data = pd.read_csv(reference_dir() / "california_prop99" / "california_prop99.csv")
    data = data[data["Year"] >= 1980]
    kw: dict[str, Any] = {"outcome": "PacksPerCapita", "treated_areas": ["California"], "start": 1989,
                          "area": "State", "period": "Year", "estimator": "sc", "n_placebo": 30}
    serial = synthetic_control(data, **kw)
    for where in ({"workers": 2}, {"scheduler": local_cluster.scheduler_address}):
        other = synthetic_control(data, **kw, **where)
        # batched matrix products may round differently for other batch sizes: 1e-10 relative
        pd.testing.assert_frame_equal(other.estimates, serial.estimates, rtol=1e-10)
        for key in ("leave_one_out", "in_space_placebo"):
            a, b = other.diagnostics[key], serial.diagnostics[key]
            for field in ("estimates", "donor_ratios"):
                if field in a:
                    assert a[field] == pytest.approx(b[field], rel=1e-10)
