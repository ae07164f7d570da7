"""Castle doctrine (Cheng & Hoekstra 2013): TWFE and its Goodman-Bacon decomposition."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from evaluate.verify.core import Check, reference_dir, replication


@replication("castle", "Castle doctrine, TWFE and Goodman-Bacon decomposition (bacondecomp vignette)")
def castle_checks() -> Iterator[Check]:
    """Weights and average estimates by comparison type to the printed 5 decimals, and the TWFE
    coefficient to 1e-6 (the vignette's full-precision 0.0818116169306)."""
    from evaluate.estimators.bacon import bacon_decomposition
    from evaluate.estimators.did_twfe import twfe

    data = pd.read_csv(reference_dir() / "castle_doctrine" / "castle_bacondecomp.csv")
    source = "R bacondecomp vignette (matches Stata bacondecomp)"
    table = bacon_decomposition(data, outcome="l_homicide", treatment="post", unit="state", time="year")
    published = {
        "Earlier vs Later Treated": (0.05976, -0.00554),
        "Later vs Earlier Treated": (0.03190, 0.07032),
        "Treated vs Untreated": (0.90834, 0.08796),
    }
    for kind, (weight, avg) in published.items():
        g = table[table["type"] == kind]
        w = float(g["weight"].sum())
        yield Check("castle", f"{kind}: weight", weight, w, 5, "decimals", source)
        yield Check("castle", f"{kind}: average estimate", avg, float((g["weight"] * g["estimate"]).sum() / w), 5, "decimals", source)
    yield Check("castle", "weighted sum of 2x2 estimates = TWFE", 0.0818116169306,
                float((table["weight"] * table["estimate"]).sum()), 1e-6, "relative", source)
    result = twfe(data, outcome="l_homicide", treatment="post", unit="state", time="year")
    yield Check("castle", "TWFE coefficient", 0.0818116169306, result.estimate("att"), 1e-6, "relative", source)
    yield Check("castle", "TWFE CR1 standard error (R lm + vcovCL HC1)", 0.061754,
                float(result.estimates["std_error"].iloc[0]), 6, "decimals", "reference README (computed with base R)")
