"""mpdta: Callaway & Sant'Anna (2021) on the R ``did`` package's example data."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from evaluate.verify.core import Check, reference_dir, replication

SPECS = {
    ("nevertreated", "~1"): ("never_treated", []),
    ("nevertreated", "~lpop"): ("never_treated", ["lpop"]),
    ("notyettreated", "~1"): ("not_yet_treated", []),
    ("notyettreated", "~lpop"): ("not_yet_treated", ["lpop"]),
}


@replication("mpdta", "mpdta, Callaway-Sant'Anna: ATT(g,t), aggregations, pre-tests, analytic SEs")
def mpdta_checks() -> Iterator[Check]:
    """Published point estimates (4 decimals), pre-test p-values (5 decimals), and the analytic
    SEs and estimates of the full specification grid (1e-4 and 1e-6 relative)."""
    from evaluate.designs.did import wide_panel
    from evaluate.estimators.did_cs import aggregate, att_gt, pretest

    folder = reference_dir() / "mpdta"
    data = pd.read_csv(folder / "mpdta.csv")
    cells = pd.read_csv(folder / "reference_attgt_analytic_se.csv")
    aggs = pd.read_csv(folder / "reference_aggte_analytic_se.csv")
    docs = pd.read_csv(folder / "published_reference_did_docs.csv")
    grid = "did 2.3.1.907 runs (bstrap = FALSE)"
    published = "R did documentation"
    for (ctl, xf, meth, base), ref in cells.groupby(["control_group", "xformla", "est_method", "base_period"]):
        control, covs = SPECS[(ctl, xf)]
        panel = wide_panel(data, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=covs)
        res = att_gt(panel, control=control, base_period=base, method=meth)
        spec = f"{ctl} {xf} {meth} {base}"
        ours = pd.DataFrame({"group": res.group, "time": res.time, "att": res.att, "se": res.se})
        merged = ref.merge(ours, on=["group", "time"], suffixes=("_ref", "_ours"))
        for row in merged.itertuples():
            cell = f"{spec} ATT({row.group},{row.time})"
            yield Check("mpdta", f"{cell}", row.att_ref, row.att_ours, 1e-6, "absolute", grid)
            if np.isfinite(row.se_ref):
                yield Check("mpdta", f"{cell} SE", row.se_ref, row.se_ours, 1e-4, "relative", grid)
        pt = pretest(res)
        yield Check("mpdta", f"{spec} pre-test p", float(ref["pretest_p"].iloc[0]), pt["p_value"], 5, "decimals", grid)
        a = aggs[(aggs.control_group == ctl) & (aggs.xformla == xf) & (aggs.est_method == meth) & (aggs.base_period == base)]
        for kind in ("simple", "dynamic", "group", "calendar"):
            for el in aggregate(res, kind):
                r = a[(a.type == kind) & (a.element.astype(str) == el.element)]
                if r.empty:
                    continue
                se = float(np.sqrt((el.psi**2).sum()) / res.n)
                yield Check("mpdta", f"{spec} {kind} {el.element}", float(r.att.iloc[0]), el.estimate, 1e-6, "absolute", grid)
                if np.isfinite(r.se.iloc[0]):  # NA in R where the effect is zero by construction
                    yield Check("mpdta", f"{spec} {kind} {el.element} SE", float(r.se.iloc[0]), se, 1e-4, "relative", grid)
    # the documentation's printed numbers (4 decimals), no covariates, never treated, varying base
    panel = wide_panel(data, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    res = att_gt(panel, control="never_treated", base_period="varying", method="dr")
    att = {(int(g), int(t)): a for g, t, a in zip(res.group, res.time, res.att, strict=True)}
    for row in docs[(docs.spec == "never_treated|xformla=NULL|dr|varying") & (docs.type == "attgt")].itertuples():
        g, t = row.element.removeprefix("g").split("_t")
        yield Check("mpdta", f"published ATT({g},{t})", row.att, att[(int(g), int(t))], 4, "decimals", published)
    yield Check("mpdta", "published pre-test p (no covariates)", 0.16812, pretest(res)["p_value"], 5, "decimals", published)
