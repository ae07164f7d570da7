"""Sicily smoking ban: ITS models 1-4 of Lopez Bernal, Cummins & Gasparrini (2017)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from evaluate.verify.core import Check, reference_dir, replication


@replication("sicily", "Sicily smoking ban, interrupted time series (models 1-4)")
def sicily_checks() -> Iterator[Check]:
    """Coefficients (1e-6 relative), standard errors (1e-5), rate ratios and intervals (3 decimals)
    and dispersions of models 1-4 against the authors' R code (``reference_models_R.csv``)."""
    from evaluate.estimators.its import its

    folder = reference_dir() / "sicily_smoking_ban"
    data = pd.read_csv(folder / "sicily.csv")
    ref = pd.read_csv(folder / "reference_models_R.csv")
    source = "Lopez Bernal, Cummins & Gasparrini (2017), authors' corrected R code"
    harmonic = {"season": "month", "season_length": 12, "harmonics": 2, "seasonality": "fourier"}
    specs = {
        "model1": {"model": "poisson", "seasonality": "none", "slope_change": False},
        "model2": {"model": "quasipoisson", "seasonality": "none", "slope_change": False},
        "model3": {"model": "quasipoisson", "slope_change": False, **harmonic},
        "model4": {"model": "quasipoisson", "slope_change": True, **harmonic},
    }
    terms = {
        "(Intercept)": "const",
        "time": "time",
        "smokban": "step",
        "smokban:I(time - 36)": "since",
        "harmonic(month, 2, 12)1": "sin1",
        "harmonic(month, 2, 12)2": "sin2",
        "harmonic(month, 2, 12)3": "cos1",
        "harmonic(month, 2, 12)4": "cos2",
    }
    for model, kw in specs.items():
        result = its(data, outcome="aces", start=37, time="time", population="stdpop", placebo=False, **kw)  # type: ignore[arg-type]
        coefs = result.diagnostics["coefficients"]
        rows = ref[ref["model"] == model]
        for _, row in rows.iterrows():
            ours = coefs[terms[row["term"]]]
            name = f"{model} {row['term']}"
            yield Check("sicily", f"{name} coefficient", row["estimate"], ours["estimate"], 1e-6, "relative", source)
            yield Check("sicily", f"{name} std. error", row["std_error"], ours["std_error"], 1e-5, "relative", source)
        est = result.estimates.set_index("estimand")
        smok = rows.set_index("term").loc["smokban"]
        for ours_col, ref_col in (("estimate", "exp_est"), ("ci_lower", "exp_lo"), ("ci_upper", "exp_hi")):
            yield Check("sicily", f"{model} rate ratio {ours_col}", smok[ref_col], est.loc["rate_ratio", ours_col], 3, "decimals", source)
        if model != "model1":
            yield Check("sicily", f"{model} dispersion", smok["dispersion"], result.diagnostics["dispersion"], 1e-5, "relative", source)
