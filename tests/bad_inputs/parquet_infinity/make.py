"""A float Parquet value column holds +inf."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make(dir):
    df = pd.read_csv(dir / "data" / "harm.csv", dtype=str)
    df["nonfatal_overdoses"] = df["nonfatal_overdoses"].astype(float)
    df.loc[3, "nonfatal_overdoses"] = np.inf
    df.to_parquet(dir / "data" / "harm.parquet", index=False)
