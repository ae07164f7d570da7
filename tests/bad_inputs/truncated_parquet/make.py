"""A Parquet source cut off half way (an interrupted copy)."""

from __future__ import annotations

import pandas as pd


def make(dir):
    path = dir / "data" / "harm.parquet"
    pd.read_csv(dir / "data" / "harm.csv", dtype=str).to_parquet(path, index=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
