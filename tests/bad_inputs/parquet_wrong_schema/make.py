"""A Parquet source whose columns are not the entity's (area, month, overdoses)."""

from __future__ import annotations

import pandas as pd


def make(dir):
    df = pd.read_csv(dir / "data" / "harm.csv", dtype=str)
    df = df.rename(
        columns={"area_code": "area", "period": "month", "nonfatal_overdoses": "overdoses"}
    )
    df.to_parquet(dir / "data" / "harm.parquet", index=False)
