"""Shortcuts of the batched ITS give what the general paths give.

``its_by_area`` takes shortcuts when the long panel lists each area's rows together, in period
order, one row per cell (string area codes hashed once per run of rows, values reshaped into the
area x period grid rather than scattered), and solves the IRLS steps by Cholesky factorisations
vectorised over the areas. Shuffled rows, area codes that are not strings and a missing row must
give the same table; the Cholesky helpers must agree with numpy's LAPACK solvers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from evaluate.estimators import its_batch as batch_module
from evaluate.estimators.its_batch import its_by_area

MONTHS = 60


def _panel(seed: int, n_areas: int = 8) -> tuple[pd.DataFrame, dict[str, str]]:
    """Monthly counts with a population offset and three start dates, sorted by area and period."""
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2017-01", periods=MONTHS, freq="M")
    t = np.arange(1, MONTHS + 1)
    frames, starts = [], {}
    for a in range(n_areas):
        code = f"W{a:02d}"
        s = (24, 30, 36)[a % 3]
        starts[code] = str(periods[s])
        pop = 20_000.0 * (a + 1) * (1 + 0.001 * t)
        eta = np.log(60 / 1e5) + np.log(pop) + 0.002 * t - 0.25 * (t > s)
        frames.append(pd.DataFrame({"area_code": code, "period": periods, "y": rng.poisson(np.exp(eta)), "pop": pop}))
    return pd.concat(frames, ignore_index=True), starts


def _table(data: pd.DataFrame, starts: dict[str, str], **kwargs: Any) -> pd.DataFrame:
    kwargs.setdefault("areas", list(starts))  # the same order whatever the order of the rows
    return its_by_area(data, outcome="y", start=starts, population="pop", n_sim=0, **kwargs)


@pytest.mark.parametrize("model", ["quasipoisson", "poisson", "ols"])
def test_row_order_and_code_dtype_do_not_change_the_table(model: str) -> None:
    data, starts = _panel(4)
    ref = _table(data, starts, model=model, areas=None)  # sorted rows: areas in order of appearance
    shuffled = data.sample(frac=1.0, random_state=2)  # rows scattered into the grid, codes hashed per row
    pd.testing.assert_frame_equal(_table(shuffled, starts, model=model), ref, check_exact=False, rtol=1e-12)
    for dtype in (object, "category"):
        pd.testing.assert_frame_equal(_table(data.astype({"area_code": dtype}), starts, model=model), ref,
                                      check_exact=False, rtol=1e-12)
    chosen = ["W05", "W01", "W06"]
    subset = _table(shuffled, starts, model=model, areas=chosen)
    assert subset["area"].unique().tolist() == chosen
    expected = ref.set_index("area").loc[chosen].reset_index()
    pd.testing.assert_frame_equal(subset, expected, check_exact=False, rtol=1e-12)


def test_a_missing_row_is_the_same_in_any_order() -> None:
    data, starts = _panel(6)
    gap = data.drop(index=[70, 71, 300])  # two months of W01, one of W05: their own stacked designs
    ref = _table(gap, starts)
    assert ref.set_index(["area", "estimand"]).loc[("W01", "level_change"), "n_obs"] == MONTHS - 2
    pd.testing.assert_frame_equal(_table(gap.sample(frac=1.0, random_state=5), starts), ref, check_exact=False,
                                  rtol=1e-12)


def test_duplicate_rows_are_refused_in_any_order() -> None:
    data, starts = _panel(6, n_areas=3)
    dup = pd.concat([data, data.iloc[[65]]])
    for frame in (dup, dup.sample(frac=1.0, random_state=1)):
        with pytest.raises(Exception, match="more than one row for period"):
            _table(frame, starts)


def test_cholesky_helpers_agree_with_numpy() -> None:
    rng = np.random.default_rng(0)
    a, k = 50, 8
    b = rng.standard_normal((a, 3 * k, k)) * rng.uniform(0.1, 10.0, (a, 1, k))
    gram = b.transpose(0, 2, 1) @ b  # (A, k, k) symmetric positive definite
    rhs = rng.standard_normal((a, k))
    low = batch_module._cholesky(np.ascontiguousarray(gram.transpose(1, 2, 0)))
    np.testing.assert_allclose(low.transpose(2, 0, 1), np.linalg.cholesky(gram), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(batch_module._cho_solve(low, rhs), np.linalg.solve(gram, rhs[:, :, None])[:, :, 0],
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(batch_module._cho_inverse(low), np.linalg.inv(gram), rtol=1e-9, atol=1e-12)


def test_groups_are_equal_rows_in_order_of_first_appearance() -> None:
    codes = np.array([[2, 1], [0, 5], [2, 1], [1, 1], [0, 5], [2, 1]])
    groups = batch_module._groups(codes)
    assert [g.tolist() for g in groups] == [[0, 2, 5], [1, 4], [3]]
