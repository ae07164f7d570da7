"""Our side of every benchmark case: ``evaluate``'s estimators, run in a child process.

Run by ``run.py`` with the dev virtualenv's Python::

    python benchmarks/ours.py --case cs --data PANEL.parquet --out RESULT.json [--param k=v]

Kinds (``--case``):

``cs``            ``evaluate.did(estimator="callaway_santanna", bootstrap=0)``, all four
                  aggregations, never-treated controls, analytic standard errors
``twfe``          ``evaluate.did(estimator="twfe", se="cluster")`` (CR1 by area)
``twfe_only``     ``evaluate.estimators.did_twfe.twfe`` (the fit without the Bacon decomposition)
``event_study``   ``evaluate.did(estimator="event_study", window=(-12, 24), se="cluster")``
``sun_abraham``   ``evaluate.did(estimator="sun_abraham", window=(-12, 24), se="cluster")``
``wild``          ``evaluate.did(estimator="twfe", se="wild", wild_draws=999)``
``its``           the batched per-area ITS of ``evaluate.estimators.its_batch`` (when present)
``e2e``           ``evaluate run CONFIG`` as a subprocess (wall time and peak RSS of the child)

Every kind returns the numbers the runner compares with the peers (see ``run.py``).
"""

from __future__ import annotations

import importlib
import re
import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, NotAvailable, child_main, event_window

KEYS = ["area_code", "t", "cohort"]


def _outcome(params: Mapping[str, str]) -> str:
    return params.get("outcome", "nonfatal_overdoses_rate")


def _import(*modules: str) -> None:
    for m in modules:
        importlib.import_module(m)


def _row(est: pd.DataFrame, name: str) -> pd.Series:
    hit = est[est["estimand"] == name]
    if hit.empty:
        raise KeyError(f"estimand {name!r} not in the result")
    return hit.iloc[0]


def cs(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """Callaway-Sant'Anna, no covariates, analytic SEs, all four aggregations.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att`` (simple), ``att_se``, ``att_dynamic``, ``att_group``, ``att_calendar``, the
        event-time effects ``att_e0`` and ``att_e5`` (and SEs), ``cells`` (number of ATT(g,t)).
    """
    import evaluate

    assert data is not None
    r = evaluate.did(data, outcome=_outcome(params), estimator="callaway_santanna", unit="area_code", time="t",
                     cohort="cohort", control="never_treated", bootstrap=0,
                     aggregations=("simple", "dynamic", "group", "calendar"))
    e = r.estimates
    names = e["estimand"].tolist()
    where = {name: i for i, name in enumerate(names)}
    estimate, se = e["estimate"].to_numpy(), e["std_error"].to_numpy()
    out: dict[str, Any] = {}
    for name in ("att", "att_dynamic", "att_group", "att_calendar", "att_e0", "att_e5"):
        if name not in where:
            raise KeyError(f"estimand {name!r} not in the result")
        out[name] = float(estimate[where[name]])
        out[f"{name}_se"] = float(se[where[name]])
    cell = re.compile(r"^att_g.+_t.+$")
    out["cells"] = sum(1 for name in names if cell.match(name))
    return out


def twfe(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """TWFE with CR1 clustered (by area) standard errors.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att``, ``se``, ``n_obs``, ``n_clusters``, ``n_periods``.
    """
    import evaluate

    assert data is not None
    r = evaluate.did(data, outcome=_outcome(params), estimator="twfe", unit="area_code", time="t",
                     treatment="treated", se="cluster")
    row = _row(r.estimates, "att")
    return {"att": float(row["estimate"]), "se": float(row["std_error"]), "n_obs": int(row["n_obs"]),
            "n_clusters": int(row["n_areas"]), "n_periods": int(row["n_periods"])}


def twfe_only(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """The TWFE fit alone: ``evaluate.estimators.did_twfe.twfe``, without the Goodman-Bacon
    decomposition that ``did(estimator="twfe")`` adds (the like-for-like comparison with
    pyfixest's ``feols``).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att``, ``se``.
    """
    from evaluate.estimators.did_twfe import twfe as fit

    assert data is not None
    r = fit(data, outcome=_outcome(params), treatment="treated", unit="area_code", time="t")
    row = _row(r.estimates, "att")
    return {"att": float(row["estimate"]), "se": float(row["std_error"])}


def _event(data: pd.DataFrame | None, params: Mapping[str, str], estimator: str) -> dict[str, Any]:
    import evaluate

    assert data is not None
    r = evaluate.did(data, outcome=_outcome(params), estimator=estimator, unit="area_code", time="t",
                     cohort="cohort", window=event_window(params), se="cluster")
    out: dict[str, Any] = {}
    for _, row in r.estimates.iterrows():
        out[str(row["estimand"])] = float(row["estimate"])
        out[f"{row['estimand']}_se"] = float(row["std_error"])
    return out


def event_study(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """TWFE event study with binned endpoints (``window``, default -12,24), CR1 by area.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``window``.

    Returns
    -------
    dict
        ``att_e<k>`` and ``att_e<k>_se`` for every event time but the reference ``-1``.
    """
    return _event(data, params, "event_study")


def sun_abraham(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """Sun-Abraham interaction-weighted event study (``window``, default -12,24), CR1 by area.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``window``.

    Returns
    -------
    dict
        ``att`` and ``att_e<k>`` (with ``_se``).
    """
    return _event(data, params, "sun_abraham")


def wild(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """TWFE with the wild cluster restricted bootstrap (``draws``, default 999).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``draws``.

    Returns
    -------
    dict
        ``att``, ``p_value``, ``ci_lower``, ``ci_upper``.
    """
    import evaluate

    assert data is not None
    draws = int(params.get("draws", "999"))
    r = evaluate.did(data, outcome=_outcome(params), estimator="twfe", unit="area_code", time="t",
                     treatment="treated", se="wild", wild_draws=draws, wild_weights="rademacher")
    row = _row(r.estimates, "att")
    return {"att": float(row["estimate"]), "se": float(row["std_error"]), "p_value": float(row["p_value"]),
            "ci_lower": float(row["ci_lower"]), "ci_upper": float(row["ci_upper"]), "draws": draws}


def its_start(cohort: float, n_periods: int) -> float:
    """Interruption month of an area's series: its cohort, or mid-window if never treated.

    Parameters
    ----------
    cohort
        First treated month (``inf``: never treated).
    n_periods
        Window length.

    Returns
    -------
    float
        First treated month.
    """
    return float(cohort) if np.isfinite(cohort) else float(n_periods // 2 + 1)


def its(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """Per-area ITS with ``evaluate.estimators.its_batch`` (OLS + Newey-West, Poisson GLM).

    The same two models as the statsmodels loop (``peers/peer_statsmodels_its.py``): level and
    slope change at the area's cohort (mid-window for never-treated areas), two Fourier
    harmonics; OLS of the rate with Newey-West standard errors (the loop's HAC) and Poisson of
    the count with a ``log(population)`` offset. ``its_by_area`` is used (the notebook fast path:
    estimates without diagnostics, placebo dates or counterfactual series, none of which the loop
    computes either), or ``its_batch(placebo=False)`` if that is all there is; the derived
    estimands (relative change, harm averted, by seeded simulation) are included. Until the
    module has one of the two the case records ``not available``.

    Parameters
    ----------
    data
        The panel (``area_code, t, cohort, population``, the count and its rate).
    params
        ``areas`` (how many series, default all); ``n_sim`` (simulation draws of the derived
        estimands; 0 leaves them out: the fits alone, what the loop does); ``models``
        (``ols,poisson`` by default; ``poisson`` for the Poisson fits alone).

    Returns
    -------
    dict
        ``level_ols`` and ``level_poisson``: the level change of every series (lists, areas
        sorted by code), and ``level_ols_se`` (Newey-West).
    """
    try:
        mod = importlib.import_module("evaluate.estimators.its_batch")
    except ImportError as exc:
        raise NotAvailable(f"evaluate.estimators.its_batch is not there yet ({exc})") from exc
    if not hasattr(mod, "its_by_area") and not hasattr(mod, "its_batch"):
        raise NotAvailable("evaluate.estimators.its_batch has neither its_by_area() nor its_batch() yet")
    assert data is not None
    return _its_batch_call(mod, data, params)


def _its_batch_call(mod: Any, data: pd.DataFrame, params: Mapping[str, str]) -> dict[str, Any]:
    n_t = int(data["t"].max())
    limit = int(params.get("areas", "0"))
    d = data
    if limit:
        keep = sorted(pd.unique(d["area_code"]))[:limit]
        d = d[d["area_code"].isin(keep)]
    months = pd.period_range("2005-01", periods=n_t, freq="M")
    d = d.assign(period=months[d["t"].to_numpy(dtype=int) - 1])
    cohorts = d.groupby("area_code", sort=True, observed=True)["cohort"].first()
    starts = {a: months[int(its_start(g, n_t)) - 1] for a, g in cohorts.items()}
    out: dict[str, Any] = {}
    wanted = params.get("models", "ols,poisson").split(",")
    for model, outcome, key in (("ols", "nonfatal_overdoses_rate", "level_ols"),
                                ("poisson", "nonfatal_overdoses", "level_poisson")):
        if model not in wanted:
            continue
        kw: dict[str, Any] = {"outcome": outcome, "area": "area_code", "period": "period", "start": starts,
                              "model": model, "population": "population" if model == "poisson" else None,
                              "se": "newey_west" if model == "ols" else "model"}
        if "n_sim" in params:
            kw["n_sim"] = int(params["n_sim"])
        if hasattr(mod, "its_by_area"):
            est = mod.its_by_area(d, **kw)
        else:
            res = mod.its_batch(d, **kw, placebo=False)
            items = res.values() if isinstance(res, Mapping) else res
            est = pd.concat([r.estimates.assign(area=r.unit) for r in items], ignore_index=True)
        area_col = "area" if "area" in est.columns else "area_code"
        lv = est[est["estimand"] == "level_change"].sort_values(area_col)
        out[key] = [float(v) for v in lv["estimate"]]
        if model == "ols":
            out["level_ols_se"] = [float(v) for v in lv["std_error"]]
    return out


def e2e(_data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """``evaluate run CONFIG --out DIR`` in a subprocess: wall time and the child's peak RSS.

    Parameters
    ----------
    _data
        Unused (the project folder holds the data).
    params
        ``config`` (path), ``out`` (output folder), ``timeout`` (seconds).

    Returns
    -------
    dict
        ``wall_seconds``, ``child_peak_rss_mb``, ``returncode``, ``results_rows``; raises
        ``RuntimeError`` naming the failure when the run fails.
    """
    cmd = [sys.executable, "-m", "evaluate", "run", params["config"], "--out", params["out"]]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=float(params.get("timeout", "1800")))
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"evaluate run did not finish in {exc.timeout:.0f} s") from exc
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6
    log = Path(params["out"]).with_suffix(".log")
    log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-6:])
        raise RuntimeError(f"evaluate run exited {proc.returncode} after {wall:.1f} s "
                           f"(peak RSS {peak:.0f} MB): {tail} (full log: {log})")
    rows = 0
    results = Path(params["out"]) / "results.csv"
    if results.exists():
        rows = sum(1 for _ in results.open()) - 1
    return {"wall_seconds": wall, "child_peak_rss_mb": peak, "returncode": proc.returncode, "results_rows": rows}


def _prepare_did() -> None:
    _import("evaluate", "evaluate.estimators.did", "evaluate.estimators.did_cs", "evaluate.estimators.did_twfe",
            "evaluate.estimators.did_sa", "evaluate.estimators.wild", "scipy.stats")


OUTCOMES = ["nonfatal_overdoses_rate"]

CASES: dict[str, Case] = {
    "cs": Case([*KEYS, *OUTCOMES], cs, _prepare_did),
    "twfe": Case([*KEYS, "treated", *OUTCOMES], twfe, _prepare_did),
    "twfe_only": Case([*KEYS, "treated", *OUTCOMES], twfe_only, _prepare_did),
    "event_study": Case([*KEYS, *OUTCOMES], event_study, _prepare_did),
    "sun_abraham": Case([*KEYS, *OUTCOMES], sun_abraham, _prepare_did),
    "wild": Case([*KEYS, "treated", *OUTCOMES], wild, _prepare_did),
    "its": Case([*KEYS, "population", "nonfatal_overdoses", "nonfatal_overdoses_rate"], its,
                lambda: _import("evaluate", "evaluate.estimators.its", "statsmodels.api")),
    "e2e": Case(None, e2e, needs_data=False),
}

if __name__ == "__main__":
    sys.exit(child_main(CASES))
