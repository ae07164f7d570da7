"""Card & Krueger (1994): the 2x2 DiD of New Jersey's minimum-wage rise (Table 3)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from evaluate.verify.core import Check, reference_dir, replication


@replication("card_krueger", "Card & Krueger (1994) Table 3, 2x2 DiD")
def card_krueger_checks() -> Iterator[Check]:
    """Table 3 rows 3-5 to the printed 2 decimals and the OLS interaction to 1e-6.

    Row 3 prints 2.76; the public data give 2.7536 (as every recomputation does; the reference
    README notes it), so that row is checked to within one unit of the printed precision (0.01).
    """
    from evaluate.estimators.did_twfe import twfe

    data = pd.read_csv(reference_dir() / "card_krueger_1994" / "card_krueger_long.csv")
    # two different stores share the id 407 in Card's file: give each its own unit id
    data["unit"] = data.groupby(["store_id", "wave"]).cumcount().astype(str) + "_" + data["store_id"].astype(str)
    data["treat_post"] = data["nj"] * data["wave"]
    source = "Card & Krueger (1994), Table 3"
    pooled = twfe(data, outcome="fte", treatment="treat_post", unit="unit", time="wave", fixed_effects="group", group="nj")
    yield Check("card_krueger", "row 3: change in mean FTE, NJ - PA", 2.76, pooled.estimate("att"), 0.01, "absolute", source)
    yield Check("card_krueger", "OLS fte ~ nj * wave: interaction", 2.753606, pooled.estimate("att"), 1e-6, "absolute",
                "reference README (OLS on the long file)")
    balanced = twfe(data, outcome="fte", treatment="treat_post", unit="unit", time="wave")
    yield Check("card_krueger", "row 4: balanced sample of stores", 2.75, balanced.estimate("att"), 2, "decimals", source)
    closed = data.copy()
    closed.loc[(closed["wave"] == 1) & closed["status2"].isin([2, 4, 5]), "fte"] = 0.0
    row5 = twfe(closed, outcome="fte", treatment="treat_post", unit="unit", time="wave")
    yield Check("card_krueger", "row 5: temporarily closed stores at FTE 0", 2.51, row5.estimate("att"), 2, "decimals", source)
