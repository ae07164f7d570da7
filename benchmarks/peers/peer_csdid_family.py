"""Callaway-Sant'Anna peers: diff-diff, csdid, moderndid and differences, on the benchmark panel.

Run by ``run.py`` with the peers' virtualenv::

    python benchmarks/peers/peer_csdid_family.py --case diff_diff --data PANEL.parquet --out RESULT.json

Every peer fits ATT(g,t) without covariates (``reg``: with no covariates reg, ipw and dr
coincide), never-treated controls, varying base period, no bootstrap (analytic standard errors),
then the aggregations it offers: simple (the overall ATT), dynamic / event, group / cohort and
calendar / time. Cohorts use each peer's convention for never-treated units (0 or NaN; ours
``inf``).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import Case, child_main

warnings.filterwarnings("ignore")
COLUMNS = ["area_id", "t", "cohort", "nonfatal_overdoses_rate"]


def _y(params: Mapping[str, str]) -> str:
    return params.get("outcome", "nonfatal_overdoses_rate")


def _g0(data: pd.DataFrame) -> pd.DataFrame:
    """Never-treated cohort as 0 (R did's convention), time and id as plain ints."""
    return data.assign(cohort=data["cohort"].replace(np.inf, 0).astype(int), t=data["t"].astype(int),
                       area_id=data["area_id"].astype(int))


def diff_diff(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """diff-diff ``CallawaySantAnna``: simple, event-study and group aggregations.

    diff-diff has no calendar aggregation and reports no overall average of the event-study or
    group effects, so the event-time effects ``att_e0`` and ``att_e5`` are compared instead.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att`` (overall: simple), ``att_se``, ``att_e0``, ``att_e5`` (with ``_se``).
    """
    from diff_diff import CallawaySantAnna

    assert data is not None
    d = _g0(data)
    est = CallawaySantAnna(control_group="never_treated", estimation_method="reg", n_bootstrap=0,
                           base_period="varying")
    res = est.fit(d, outcome=_y(params), unit="area_id", time="t", first_treat="cohort")
    out: dict[str, Any] = {"att": float(res.overall_att), "att_se": float(res.overall_se)}
    es = res.aggregate("event_study").to_dataframe().set_index("event_time")
    for e in (0, 5):
        out[f"att_e{e}"] = float(es.loc[e, "att"])
        out[f"att_e{e}_se"] = float(es.loc[e, "se"])
    res.aggregate("group")
    return out


def csdid(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """csdid ``ATTgt`` and ``aggte`` (simple, dynamic, group, calendar).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att``, ``att_se`` and the overall effect of each aggregation.
    """
    from csdid.att_gt import ATTgt

    assert data is not None
    d = _g0(data)
    m = ATTgt(yname=_y(params), tname="t", idname="area_id", gname="cohort", data=d,
              control_group=["nevertreated"])
    m.fit(est_method="reg", base_period="varying", bstrap=False)
    out: dict[str, Any] = {}
    for kind, name in (("simple", "att"), ("dynamic", "att_dynamic"), ("group", "att_group"),
                       ("calendar", "att_calendar")):
        m.aggte(typec=kind, bstrap=False)
        a = m.atte
        out[name] = float(np.asarray(a["overall_att"]).ravel()[0])
        out[f"{name}_se"] = float(np.asarray(a["overall_se"]).ravel()[0])
    return out


def moderndid(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """moderndid ``att_gt`` and ``aggte`` (simple, dynamic, group, calendar).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att``, ``att_se`` and the overall effect of each aggregation.
    """
    from moderndid import aggte, att_gt

    assert data is not None
    d = _g0(data)
    mp = att_gt(d, yname=_y(params), tname="t", idname="area_id", gname="cohort", control_group="nevertreated",
                est_method="reg", boot=False, base_period="varying")
    out: dict[str, Any] = {}
    for kind, name in (("simple", "att"), ("dynamic", "att_dynamic"), ("group", "att_group"),
                       ("calendar", "att_calendar")):
        a = aggte(mp, type=kind, boot=False)
        out[name] = float(a.overall_att)
        out[f"{name}_se"] = float(a.overall_se)
    return out


def differences(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """differences ``ATTgt`` and ``aggregate`` (simple, event, cohort, time).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att``, ``att_se`` and the overall effect of each aggregation.
    """
    from differences import ATTgt

    assert data is not None
    d = data.assign(cohort=data["cohort"].replace(np.inf, np.nan), t=data["t"].astype(int))
    d = d.set_index(["area_id", "t"])
    m = ATTgt(data=d, cohort_column="cohort", base_period="varying")
    m.fit(formula=_y(params), est_method="reg", control_group="never_treated", progress_bar=False)
    out: dict[str, Any] = {}
    for kind, name, overall in (("simple", "att", False), ("event", "att_dynamic", True),
                                ("cohort", "att_group", True), ("time", "att_calendar", True)):
        a = m.aggregate(kind, overall=overall)
        out[name] = float(a.iloc[0, 0])
        out[f"{name}_se"] = float(a.iloc[0, 1])
    return out


def _prepare(module: str) -> Any:
    return lambda: __import__(module)


CASES: dict[str, Case] = {
    "diff_diff": Case(COLUMNS, diff_diff, _prepare("diff_diff")),
    "csdid": Case(COLUMNS, csdid, _prepare("csdid.att_gt")),
    "moderndid": Case(COLUMNS, moderndid, _prepare("moderndid")),
    "differences": Case(COLUMNS, differences, _prepare("differences")),
}

if __name__ == "__main__":
    sys.exit(child_main(CASES))
