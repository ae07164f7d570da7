"""Callaway-Sant'Anna's influence functions in cohort-block form equal the plain computation.

The fast path (:mod:`evaluate.estimators.influence`: each cohort's outcomes times sparse
coefficients, Gram matrices, a Woodbury pre-test) is checked against the straightforward one:
the n x cells influence matrix built cell by cell with ``_cell`` (the 2x2 comparison on the
cell's units), and sums of squares, Gram matrices, Wald statistics, bootstrap products and the
aggregations' influence functions (``did::wif`` written out densely) computed from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import linalg

from evaluate.designs.did import WidePanel, sorted_codes, wide_panel
from evaluate.estimators.did_cs import AttGt, _cell, _pretest_levels, aggregate, att_gt, pretest
from evaluate.estimators.influence import CohortFeatures, Influence
from tests.did_sim import staggered_panel

SPECS = [
    ("never_treated", "varying", False),
    ("never_treated", "universal", True),
    ("not_yet_treated", "varying", True),
    ("not_yet_treated", "universal", False),
]


def _panel(seed: int, weights: bool, **kw: object) -> WidePanel:
    rng = np.random.default_rng(seed)
    d = staggered_panel(rng, **kw)  # type: ignore[arg-type]
    if weights:
        codes = pd.factorize(d["unit"])[0]
        d["w"] = 1.0 + (codes % 5) * 0.4
    return wide_panel(d, outcome="y", unit="unit", time="t", cohort="cohort", weights="w" if weights else None)


def _plain_psi(panel: WidePanel, res: AttGt, control: str) -> np.ndarray:
    """Every cell's influence function from ``_cell`` (the plain 2x2 computation)."""
    w = res.weights
    times = panel.times
    out = np.zeros((panel.n, len(res.att)))
    for c, (g, t, b) in enumerate(zip(res.group, res.time, res.base, strict=True)):
        j, bj = int(np.searchsorted(times, t)), int(np.searchsorted(times, b))
        if j == bj:
            continue
        treated = panel.cohort == g
        comp = np.isinf(panel.cohort)
        if control == "not_yet_treated":
            comp = comp | ((panel.cohort > times[max(j, bj)]) & ~treated)
        est, psi = _cell(panel, w, j, bj, treated, comp, "dr")
        if np.isfinite(est):
            out[:, c] = psi
    return out


@pytest.mark.parametrize(("control", "base", "weights"), SPECS)
def test_block_influence_equals_the_cell_by_cell_influence(control: str, base: str, weights: bool) -> None:
    panel = _panel(11, weights, n_units=150, n_periods=12, cohorts=(4, 7, 9), never_share=0.3)
    res = att_gt(panel, control=control, base_period=base)  # type: ignore[arg-type]
    assert isinstance(res.influence.features, CohortFeatures)
    plain = _plain_psi(panel, res, control)
    dense = res.influence.dense()
    np.testing.assert_allclose(dense, plain, rtol=0, atol=1e-10 * np.abs(plain).max())
    np.testing.assert_allclose(res.influence.sumsq(), (plain**2).sum(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.influence.gram(), plain.T @ plain, rtol=1e-9, atol=1e-9 * np.abs(plain.T @ plain).max())
    xi = np.random.default_rng(3).choice([-1.0, 1.0], size=(7, panel.n))
    np.testing.assert_allclose(res.influence.project(xi), xi @ plain, rtol=1e-10, atol=1e-9)
    for j in (0, 5, len(res.att) - 1):
        np.testing.assert_allclose(res.influence.column(j), plain[:, j], atol=1e-12)


def _plain_aggregate_psi(res: AttGt, plain: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """The aggregations' influence functions as did::aggte writes them (dense ``wif``)."""
    ok = ~np.isnan(res.att)
    g, t, att, psi = res.group[ok], res.time[ok], res.att[ok], plain[:, ok]
    w, cohort = res.weights, res.cohort
    pg = np.array([np.mean(w * (cohort == gg)) for gg in g])

    def wif(keep: np.ndarray) -> np.ndarray:
        groups, shares = g[keep], pg[keep]
        ind = (cohort[:, None] == groups[None, :]) * w[:, None]
        centred = ind - shares[None, :]
        total = shares.sum()
        return centred / total - centred.sum(axis=1, keepdims=True) * (shares / total**2)[None, :]

    def share(keep: np.ndarray) -> np.ndarray:
        weights = pg[keep] / pg[keep].sum()
        return psi[:, keep] @ weights + wif(keep) @ att[keep]

    post = g <= t
    out: dict[str, np.ndarray] = {}
    if kind == "simple":
        out["overall"] = share(post)
    elif kind == "dynamic":
        e = t - g
        for ev in np.unique(e):
            out[f"{ev:g}"] = share(e == ev)
        out["overall"] = np.mean([out[f"{ev:g}"] for ev in np.unique(e) if ev >= 0], axis=0)
    elif kind == "calendar":
        periods = [tt for tt in np.unique(t) if ((t == tt) & post).any()]
        for tt in periods:
            out[f"{tt:g}"] = share((t == tt) & post)
        out["overall"] = np.mean([out[f"{tt:g}"] for tt in periods], axis=0)
    else:
        used = [gg for gg in np.unique(g) if ((g == gg) & post).any()]
        elems = [psi[:, (g == gg) & post].mean(axis=1) for gg in used]
        est = np.array([att[(g == gg) & post].mean() for gg in used])
        sizes = np.array([np.mean(w * (cohort == gg)) for gg in used])
        ind = (cohort[:, None] == np.array(used)[None, :]) * w[:, None]
        centred = ind - sizes[None, :]
        total = sizes.sum()
        wf = centred / total - centred.sum(axis=1, keepdims=True) * (sizes / total**2)[None, :]
        for gg, el in zip(used, elems, strict=True):
            out[f"{gg:g}"] = el
        out["overall"] = np.column_stack(elems) @ (sizes / total) + wf @ est
    return out


@pytest.mark.parametrize(("control", "base", "weights"), SPECS)
@pytest.mark.parametrize("kind", ["simple", "dynamic", "group", "calendar"])
def test_aggregated_influence_equals_the_dense_wif_formula(control: str, base: str, weights: bool, kind: str) -> None:
    panel = _panel(12, weights, n_units=120, n_periods=10, cohorts=(4, 6, 8), never_share=0.3)
    res = att_gt(panel, control=control, base_period=base)  # type: ignore[arg-type]
    plain = _plain_psi(panel, res, control)
    expected = _plain_aggregate_psi(res, plain, kind)
    got = {a.element: a.psi for a in aggregate(res, kind)}
    assert set(expected) <= set(got)
    for element, psi in expected.items():
        np.testing.assert_allclose(got[element], psi, rtol=0, atol=1e-10 * max(1.0, np.abs(psi).max()), err_msg=element)


def test_woodbury_pretest_is_taken_and_equals_the_assembled_solve() -> None:
    """Many pre-periods, never-treated comparisons: the block-diagonal-plus-low-rank solve is
    used (rank 31 against 88 pre-period cells) and equals ``b' (psi' psi)^-1 b``."""
    panel = _panel(13, False, n_units=400, n_periods=30, cohorts=(10, 15, 20, 25, 28), never_share=0.25)
    res = att_gt(panel)
    pre = (res.time < res.group) & ~res.is_base
    sub = res.influence.select(pre)
    b = res.att[pre]
    fast = sub.features.wald(sub.coef, b, res.group[pre])
    assert fast is not None  # the structured path applies here
    dense = sub.dense()
    exact = float(b @ linalg.solve(dense.T @ dense, b, assume_a="pos"))
    assert fast == pytest.approx(exact, rel=1e-9)
    assert pretest(res)["statistic"] == pytest.approx(res.n**2 * exact, rel=1e-9)


@pytest.mark.parametrize(("base", "weights", "anticipation"), [("varying", False, 0), ("universal", True, 0),
                                                                ("varying", True, 2), ("universal", False, 1)])
def test_pretest_from_mean_levels_equals_the_assembled_solve(base: str, weights: bool, anticipation: int) -> None:
    """With never-treated comparisons the pre-test is computed from the cohorts' mean levels (a
    generalised least-squares residual); it equals ``n**2 b' (psi' psi)^-1 b`` on the cells."""
    panel = _panel(15, weights, n_units=300, n_periods=16, cohorts=(6, 9, 13), never_share=0.3)
    res = att_gt(panel, base_period=base, anticipation=anticipation)  # type: ignore[arg-type]
    pre = (res.time < res.group) & ~res.is_base
    dense = res.influence.select(pre).dense()
    b = res.att[pre]
    exact = res.n**2 * float(b @ linalg.solve(dense.T @ dense, b, assume_a="pos"))
    levels = _pretest_levels(res, pre)
    assert levels is not None
    assert levels == pytest.approx(exact, rel=1e-9)
    assert pretest(res)["statistic"] == pytest.approx(exact, rel=1e-9)
    assert _pretest_levels(att_gt(panel, control="not_yet_treated"), pre) is None  # not this form


def test_pretest_is_singular_when_cohorts_are_smaller_than_their_pre_periods() -> None:
    """Three units per cohort and 20 pre-periods: the pre-period covariance is singular, and
    both paths say so instead of returning a number."""
    panel = _panel(14, False, n_units=40, n_periods=24, cohorts=(20, 22), never_share=0.85)
    res = att_gt(panel)
    pre = (res.time < res.group) & ~res.is_base
    assert res.influence.select(pre).wald(res.att[pre], res.group[pre]) is None
    assert _pretest_levels(res, pre) is None
    assert "singular" in pretest(res)["note"]


def test_dense_features_round_trip() -> None:
    """The covariate path's form (``Influence.from_dense``) gives back its matrix and the same numbers."""
    rng = np.random.default_rng(5)
    psi = rng.normal(size=(30, 6)) * (rng.random((30, 6)) < 0.6)
    kind = rng.choice([3.0, 5.0, np.inf], size=30)
    w = rng.uniform(0.5, 2.0, size=30)
    inf = Influence.from_dense(psi, kind, w)
    np.testing.assert_allclose(inf.dense(), psi)
    np.testing.assert_allclose(inf.sumsq(), (psi**2).sum(axis=0))
    np.testing.assert_allclose(inf.gram(), psi.T @ psi, atol=1e-12)
    per_kind = rng.normal(size=(3, 2))
    weights = rng.normal(size=(6, 2))
    expected = psi @ weights + (w[:, None] * per_kind[np.searchsorted([3.0, 5.0, np.inf], kind)])
    np.testing.assert_allclose(inf.then(weights, per_kind).dense(), expected, atol=1e-12)


def test_influences_on_different_units_do_not_concatenate() -> None:
    psi = np.ones((4, 2))
    a = Influence.from_dense(psi, np.array([1.0, 1.0, np.inf, np.inf]), np.ones(4))
    b = Influence.from_dense(psi, np.array([1.0, 1.0, np.inf, np.inf]), np.ones(4))
    assert Influence.concat([a, a.select([1])]).n_params == 3
    with pytest.raises(ValueError, match="different unit features"):
        Influence.concat([a, b])


@pytest.mark.parametrize("layout", ["sorted", "shuffled", "object", "float_time", "gap", "categorical"])
def test_wide_panel_is_the_same_whatever_the_row_layout(layout: str) -> None:
    d = staggered_panel(np.random.default_rng(6), n_units=30, n_periods=8)
    reference = wide_panel(d.sample(frac=1, random_state=0), outcome="y", unit="unit", time="t", cohort="cohort")
    v = {"sorted": d, "shuffled": d.sample(frac=1, random_state=1),
         "object": d.assign(unit=d["unit"].astype(object)), "float_time": d.assign(t=d["t"].astype(float)),
         "gap": d.drop(index=[3]), "categorical": d.assign(unit=d["unit"].astype("category"))}[layout]
    got = wide_panel(v, outcome="y", unit="unit", time="t", cohort="cohort", unbalanced="drop_units")
    keep = np.isin(reference.units, got.units)
    np.testing.assert_array_equal(np.asarray(got.units, dtype=object), np.asarray(reference.units[keep], dtype=object))
    np.testing.assert_array_equal(got.times.astype(float), reference.times.astype(float))
    np.testing.assert_array_equal(got.y, reference.y[keep])
    np.testing.assert_array_equal(got.cohort, reference.cohort[keep])


@pytest.mark.parametrize("values", [
    pd.Series(["b", "b", "a", "a", "c"]), pd.Series(["a", "a", "b", "b"], dtype="string[pyarrow]"),
    pd.Series([3, 3, 1, 2], dtype=np.int16), pd.Series([-30000, 30000, 0], dtype=np.int16),
    pd.Series([2.0, 2.0, np.nan]), pd.Series(["x", None, "x"]), pd.Series([1, 1, 5, 5, 3], dtype=np.int8),
    pd.Series([10**12, 5, 10**12]), pd.Series(["u1", "u1", "u2", "u2", "u1"]), pd.Series([], dtype=np.int64),
])
def test_sorted_codes_equal_pandas_factorize(values: pd.Series) -> None:
    codes, uniques = pd.factorize(values, sort=True)
    got_codes, got_uniques = sorted_codes(values)
    np.testing.assert_array_equal(got_codes, codes)
    assert list(got_uniques) == list(np.asarray(uniques))
    assert got_uniques.dtype == np.asarray(uniques).dtype
