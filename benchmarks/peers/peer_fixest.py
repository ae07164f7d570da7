"""Regression peers: pyfixest (TWFE, event study, Sun-Abraham, did2s, wild bootstrap) and
wildboottest, on the benchmark panel.

Run by ``run.py`` with the peers' virtualenv::

    python benchmarks/peers/peer_fixest.py --case twfe --data PANEL.parquet --out RESULT.json

Kinds:

``twfe``            ``feols("y ~ treated | area_code + t", vcov={"CRV1": "area_code"})``
                    (pyfixest's default small-sample factor: fixed effects nested in the
                    clusters are not counted in K; the runner converts, see ``run.py``)
``event_study``     ``feols("y ~ i(rel, ref=-1) | area_code + t")`` with ``rel`` the event time
                    binned into ``window`` and never-treated areas put at the reference ``-1``
                    (exactly our design: every indicator 0 for them)
``sun_abraham``     fixest's ``sunab`` regression written out: ``i(cohort_rel, ref="ref")`` with
                    one level per cohort x binned relative time (never-treated and ``rel = -1``
                    cells are the reference), then the cohort-share weighted averages per
                    relative time (as ``fixest::aggregate(sunab)``; weights treated as fixed)
``did2s``           Gardner's two-stage DiD event study (``pf.did2s``); a different estimator, so
                    timed only
``wild_pyfixest``   TWFE then ``Feols.wildboottest(param="treated", reps=999)`` (WCR, Rademacher)
``wild_wildboottest``  the ``wildboottest`` package on a statsmodels OLS with area and month
                    dummies (it does not absorb fixed effects)
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

from harness import Case, bin_event_time, child_main, event_window

warnings.filterwarnings("ignore")
KEYS = ["area_code", "t", "cohort"]
Y = "nonfatal_overdoses_rate"


def _y(params: Mapping[str, str]) -> str:
    return params.get("outcome", Y)


def twfe(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """TWFE with CRV1 by area (pyfixest defaults).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``.

    Returns
    -------
    dict
        ``att``, ``se`` (pyfixest's CR1 convention), ``n_obs``, ``n_clusters``, ``n_periods``.
    """
    import pyfixest as pf

    assert data is not None
    fit = pf.feols(f"{_y(params)} ~ treated | area_code + t", data=data, vcov={"CRV1": "area_code"})
    return {"att": float(fit.coef()["treated"]), "se": float(fit.se()["treated"]), "n_obs": int(fit._N),
            "n_clusters": int(data["area_code"].nunique()), "n_periods": int(data["t"].nunique())}


def event_study(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """TWFE event study, binned endpoints, CRV1 by area.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``window``.

    Returns
    -------
    dict
        ``att_e<k>`` and ``att_e<k>_se`` (pyfixest's CR1 convention).
    """
    import pyfixest as pf

    assert data is not None
    rel = bin_event_time(data["t"].to_numpy(float), data["cohort"].to_numpy(float), event_window(params))
    d = data.assign(rel=np.nan_to_num(rel, nan=-1.0).astype(int))
    fit = pf.feols(f"{_y(params)} ~ i(rel, ref=-1) | area_code + t", data=d, vcov={"CRV1": "area_code"})
    out: dict[str, Any] = {}
    for name, b, s in zip(fit.coef().index, fit.coef().to_numpy(), fit.se().to_numpy(), strict=True):
        k = int(float(str(name).split("::")[-1].rstrip("]")))
        out[f"att_e{k}"] = float(b)
        out[f"att_e{k}_se"] = float(s)
    out["n_coef"] = len(fit.coef())
    return out


def sun_abraham(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """Sun-Abraham: saturated cohort x relative-time regression, cohort-share aggregation.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``window``.

    Returns
    -------
    dict
        ``att`` (post-period cells weighted by cohort size) and ``att_e<k>`` (with ``_se``).
    """
    import pyfixest as pf

    assert data is not None
    window = event_window(params)
    g = data["cohort"].to_numpy(float)
    rel = bin_event_time(data["t"].to_numpy(float), g, window)
    ref = ~np.isfinite(g) | (rel == -1)
    label = np.where(ref, "ref", pd.Series(g).map("{:g}".format).to_numpy() + "_" +
                     pd.Series(np.nan_to_num(rel)).map("{:g}".format).to_numpy())
    d = data.assign(cr=label)
    fit = pf.feols(f"{_y(params)} ~ i(cr, ref='ref') | area_code + t", data=d, vcov={"CRV1": "area_code"})
    names = [str(n) for n in fit.coef().index]
    b = fit.coef().to_numpy()
    v = fit._vcov
    cells = [n.split("::")[-1].rstrip("]") for n in names]
    cohort_of = np.array([float(c.split("_")[0]) for c in cells])
    rel_of = np.array([int(float(c.split("_")[1])) for c in cells])
    sizes = data.groupby("area_code", observed=True)["cohort"].first().value_counts()
    size = np.array([sizes.get(c, 0) for c in cohort_of], dtype=float)
    out: dict[str, Any] = {}

    def lin(mask: np.ndarray) -> tuple[float, float]:
        w = np.where(mask, size, 0.0)
        w = w / w.sum()
        return float(w @ b), float(np.sqrt(w @ v @ w))

    out["n_coef"] = len(b)
    out["att"], out["att_se"] = lin(rel_of >= 0)
    for k in sorted(set(rel_of)):
        out[f"att_e{k}"], out[f"att_e{k}_se"] = lin(rel_of == k)
    return out


def did2s(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """Gardner's two-stage DiD event study (pyfixest ``did2s``), clustered by area.

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``window``.

    Returns
    -------
    dict
        ``att_e<k>`` for k in 0 and 5 (a different estimator from the TWFE event study).
    """
    import pyfixest as pf

    assert data is not None
    rel = bin_event_time(data["t"].to_numpy(float), data["cohort"].to_numpy(float), event_window(params))
    d = data.assign(rel=np.nan_to_num(rel, nan=-1.0).astype(int), treated=data["treated"].astype(bool))
    fit = pf.did2s(d, yname=_y(params), first_stage="~ 0 | area_code + t", second_stage="~ i(rel, ref=-1)",
                   treatment="treated", cluster="area_code")
    coef = {int(float(str(n).split("::")[-1].rstrip("]"))): float(c) for n, c in fit.coef().items()}
    return {f"att_e{k}": coef.get(k, float("nan")) for k in (0, 5)}


def wild_pyfixest(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """TWFE and pyfixest's wild cluster restricted bootstrap (Rademacher, ``draws`` reps).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``draws``.

    Returns
    -------
    dict
        ``att``, ``p_value``.
    """
    import pyfixest as pf

    assert data is not None
    # integer cluster ids: wildboottest's numba kernels refuse text (object) cluster labels
    fit = pf.feols(f"{_y(params)} ~ treated | area_id + t", data=data, vcov={"CRV1": "area_id"})
    res = fit.wildboottest(reps=int(params.get("draws", "999")), param="treated", seed=20240601)
    return {"att": float(fit.coef()["treated"]), "p_value": float(res["Pr(>|t|)"])}


def wild_wildboottest(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """The ``wildboottest`` package on OLS with area and month dummies (WCR, Rademacher).

    Parameters
    ----------
    data
        The panel.
    params
        ``outcome``, ``draws``.

    Returns
    -------
    dict
        ``att``, ``p_value``.
    """
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    assert data is not None
    x = pd.concat([data[["treated"]].astype(float),
                   pd.get_dummies(data["area_id"], prefix="a", dtype=float),
                   pd.get_dummies(data["t"], prefix="t", drop_first=True, dtype=float)], axis=1)
    model = sm.OLS(data[_y(params)].to_numpy(float), x)
    att = float(model.fit().params["treated"])
    res = wildboottest(model, B=int(params.get("draws", "999")), cluster=data["area_id"].to_numpy(),
                       param="treated", seed=20240601, show=False)
    return {"att": att, "p_value": float(np.asarray(res["p-value"]).ravel()[0])}


def _imp(*modules: str) -> Any:
    def go() -> None:
        for m in modules:
            __import__(m)
    return go


CASES: dict[str, Case] = {
    "twfe": Case([*KEYS, "treated", Y], twfe, _imp("pyfixest")),
    "event_study": Case([*KEYS, Y], event_study, _imp("pyfixest")),
    "sun_abraham": Case([*KEYS, Y], sun_abraham, _imp("pyfixest")),
    "did2s": Case([*KEYS, "treated", Y], did2s, _imp("pyfixest")),
    "wild_pyfixest": Case([*KEYS, "area_id", "treated", Y], wild_pyfixest, _imp("pyfixest", "wildboottest")),
    "wild_wildboottest": Case([*KEYS, "area_id", "treated", Y], wild_wildboottest, _imp("statsmodels.api", "wildboottest")),
}

if __name__ == "__main__":
    sys.exit(child_main(CASES))
