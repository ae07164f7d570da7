"""Disclosure control: every small count is suppressed, and no suppressed count can be recovered.

The attacks here are written independently of ``evaluate.results.disclosure`` and use only what
is published: they subtract the published cells of a row or column from its published total
(repeatedly, as suppressed cells are found), solve the linear system that all published totals
give, and search the integer solutions of that system for counts (which are never negative) that
are pinned to one value. A test fails if any attack determines a suppressed cell exactly.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import null_space
from scipy.optimize import Bounds, LinearConstraint, milp

from evaluate.results.disclosure import (
    NOT_AVAILABLE,
    SUPPRESSED,
    DisclosureLedger,
    exposed_cells,
    mask_derived,
    suppress_table,
)

# --- attacks --------------------------------------------------------------------------------


def _table_equations(published: pd.DataFrame, total: str = "Total") -> tuple[list[tuple[Any, Any]], list[tuple[dict[Any, float], float]]]:
    """Unknown cells and the equations ``sum(coef * unknown) = rhs`` that a published table gives."""
    rows = [r for r in published.index if r != total]
    cols = [c for c in published.columns if c != total]
    unknown = [(r, c) for r in published.index for c in published.columns if published.loc[r, c] == SUPPRESSED]
    equations = []
    lines = [([(r, c) for c in cols], (r, total)) for r in published.index]
    lines += [([(r, c) for r in rows], (total, c)) for c in published.columns]
    for parts, whole in lines:
        coef: dict[Any, float] = {}
        rhs = 0.0
        for cell, sign in [*((p, 1.0) for p in parts), (whole, -1.0)]:
            v = published.loc[cell]
            if v == SUPPRESSED:
                coef[cell] = coef.get(cell, 0.0) + sign
            else:
                rhs -= sign * float(v)
        if coef:
            equations.append((coef, rhs))
    return unknown, equations


def subtraction_attack(unknown: list[Any], equations: list[tuple[dict[Any, float], float]]) -> dict[Any, float]:
    """Repeatedly solve any equation with a single unknown left (a total minus its parts)."""
    found: dict[Any, float] = {}
    changed = True
    while changed:
        changed = False
        for coef, rhs in equations:
            left = {k: v for k, v in coef.items() if k not in found}
            if len(left) == 1:
                (k, a), = left.items()
                found[k] = (rhs - sum(v * found[j] for j, v in coef.items() if j in found)) / a
                changed = True
    return found


def linear_attack(unknown: list[Any], equations: list[tuple[dict[Any, float], float]]) -> set[Any]:
    """Unknowns fixed by the linear system (their column is outside every null-space direction)."""
    if not equations:
        return set()
    a = np.array([[coef.get(u, 0.0) for u in unknown] for coef, _ in equations])
    ns = null_space(a)
    if ns.size == 0:
        return set(unknown)
    return {u for i, u in enumerate(unknown) if np.allclose(ns[i], 0.0, atol=1e-9)}


def integer_attack(unknown: list[Any], equations: list[tuple[dict[Any, float], float]]) -> set[Any]:
    """Unknowns with one value over all non-negative integer solutions (min = max)."""
    if not equations:
        return set()
    a = np.array([[coef.get(u, 0.0) for u in unknown] for coef, _ in equations])
    b = np.array([rhs for _, rhs in equations])
    cons = LinearConstraint(a, b, b)
    out = set()
    for i, u in enumerate(unknown):
        c = np.zeros(len(unknown))
        c[i] = 1.0
        lo = milp(c, constraints=cons, integrality=np.ones(len(unknown)), bounds=Bounds(0, np.inf))
        hi = milp(-c, constraints=cons, integrality=np.ones(len(unknown)), bounds=Bounds(0, np.inf))
        assert lo.status == 0, "the published table must be consistent with the data"
        if hi.status == 0 and round(-hi.fun) == round(lo.fun):
            out.add(u)
    return out


def recovered(published: pd.DataFrame) -> set[Any]:
    unknown, eqs = _table_equations(published)
    return set(subtraction_attack(unknown, eqs)) | linear_attack(unknown, eqs) | integer_attack(unknown, eqs)


# --- tables ---------------------------------------------------------------------------------


def _random_tables(n: int, seed: int = 7) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        r, c = rng.integers(2, 5, size=2)
        mean = rng.uniform(1.0, 9.0)
        out.append(pd.DataFrame(rng.poisson(mean, size=(r, c)), index=[f"r{i}" for i in range(r)],
                                columns=[f"c{j}" for j in range(c)]))
    return out


@pytest.mark.parametrize("table", _random_tables(20), ids=lambda t: f"{t.shape[0]}x{t.shape[1]}:{int(t.to_numpy().sum())}")
def test_no_suppressed_cell_of_a_table_can_be_recovered(table: pd.DataFrame) -> None:
    result = suppress_table(table, min_count=3)
    published = result.published()
    values = result.values
    # primary: every count below 3 (zero included) is suppressed, interior or total
    for r, c in zip(*np.nonzero((values < 3).to_numpy()), strict=True):
        assert published.iloc[r, c] == SUPPRESSED
    # nothing shown is altered
    for r, c in zip(*np.nonzero((result.status == "shown").to_numpy()), strict=True):
        assert float(published.iloc[r, c]) == values.iloc[r, c]
    hit = recovered(published)
    assert not hit, f"suppressed cells recovered: {sorted(hit)}\n{published}"


def test_a_single_small_cell_gets_a_partner_in_its_row_and_column() -> None:
    t = pd.DataFrame([[1, 10, 12], [20, 30, 5], [7, 8, 9]], index=list("abc"), columns=list("xyz"))
    pub = suppress_table(t, min_count=3).published()
    assert pub.loc["a", "x"] == SUPPRESSED
    assert (pub.loc["a"] == SUPPRESSED).sum() >= 2 and (pub["x"] == SUPPRESSED).sum() >= 2
    assert not recovered(pub)
    # the subtraction attack really does recover a lone suppressed cell
    lone = t.astype(object).copy()
    lone["Total"] = t.sum(axis=1)
    lone.loc["Total"] = lone.sum(axis=0)
    lone.loc["a", "x"] = SUPPRESSED
    assert recovered(lone) == {("a", "x")}


def test_zeros_whose_sum_is_published_are_protected() -> None:
    """Two suppressed zeros in a column whose other cells and total are published: the column
    gives zero + zero = 0, and counts are not negative, so both would be known."""
    t = pd.DataFrame([[0, 10, 12], [0, 30, 5], [7, 8, 9]], index=list("abc"), columns=list("xyz"))
    pub = suppress_table(t, min_count=3).published()
    assert pub.loc["a", "x"] == SUPPRESSED and pub.loc["b", "x"] == SUPPRESSED
    assert not recovered(pub)
    naive = t.astype(object).copy()
    naive["Total"] = t.sum(axis=1)
    naive.loc["Total"] = naive.sum(axis=0)
    naive.loc["a", "x"] = naive.loc["b", "x"] = naive.loc["a", "y"] = naive.loc["b", "y"] = SUPPRESSED
    assert {("a", "x"), ("b", "x")} <= integer_attack(*_table_equations(naive))


def test_unknown_counts_are_not_available_and_totals_follow() -> None:
    t = pd.DataFrame([[np.nan, 10.0], [20.0, 30.0]], index=["a", "b"], columns=["x", "y"])
    pub = suppress_table(t, min_count=3).published()
    assert pub.loc["a", "x"] == NOT_AVAILABLE
    assert pub.loc["a", "Total"] == NOT_AVAILABLE and pub.loc["Total", "x"] == NOT_AVAILABLE
    assert pub.loc["b", "Total"] == 50


def test_min_count_zero_turns_suppression_off() -> None:
    t = pd.DataFrame([[0, 1], [2, 1]], index=["a", "b"], columns=["x", "y"])
    assert (suppress_table(t, min_count=0).status == "shown").all().all()


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="counts cannot be negative"):
        suppress_table(pd.DataFrame([[-1, 4]]), min_count=3)
    with pytest.raises(ValueError, match="labels must be unique"):
        suppress_table(pd.DataFrame([[1, 4]], columns=["x", "x"]), min_count=3)
    with pytest.raises(ValueError, match="min_count must be 0 or more"):
        DisclosureLedger(-1)


def test_rates_built_on_suppressed_counts_are_suppressed() -> None:
    rates = mask_derived([1.5, 2.5, 3.5], [True, False, True])
    assert np.isnan(rates[1]) and rates[0] == 1.5


def test_ledger_refuses_late_registration_and_early_questions() -> None:
    ledger = DisclosureLedger(3)
    key = ledger.add([("v", "A", "2020-01")], 5)
    with pytest.raises(ValueError, match="call resolve"):
        ledger.status(key)
    ledger.resolve()
    with pytest.raises(ValueError, match="register every cell before resolve"):
        ledger.add([("v", "A", "2020-02")], 5)


def test_two_values_for_one_count_are_never_both_published() -> None:
    ledger = DisclosureLedger(3)
    key = ledger.add([("v", "A", "p")], 10)
    ledger.add([("v", "A", "p")], 11)
    ledger.resolve()
    assert ledger.status(key) == "suppressed"
    strict = DisclosureLedger(3, strict=True)
    strict.add([("v", "A", "p")], 10)
    with pytest.raises(ValueError, match="registered twice with different values"):
        strict.add([("v", "A", "p")], 11)


# --- a chart series and a table of the same counts -----------------------------------------


def test_a_hidden_month_cannot_be_recovered_from_a_published_total() -> None:
    """A monthly series of one area (a chart) and its before/after totals (a table)."""
    rng = np.random.default_rng(11)
    months = [f"2020-{m:02d}" for m in range(1, 13)]
    counts = rng.poisson(6, 12)
    counts[4] = 1  # one small month
    ledger = DisclosureLedger(3)
    points = {m: ledger.add([("v", "A", m)], float(c)) for m, c in zip(months, counts, strict=True)}
    before = ledger.add([("v", "A", m) for m in months[:6]], float(counts[:6].sum()))
    after = ledger.add([("v", "A", m) for m in months[6:]], float(counts[6:].sum()))
    ledger.resolve()
    assert ledger.status(points["2020-05"]) == "suppressed"
    published = ledger.published()
    hidden = [m for m in months if ledger.status(points[m]) == "suppressed"]
    # subtraction: the before total minus the published months of the before period
    if ledger.is_shown(before):
        pre_hidden = [m for m in months[:6] if m in hidden]
        assert len(pre_hidden) != 1, "the before total minus five published months gives the sixth"
    assert ledger.is_shown(after)
    # linear algebra over every published cell
    unknown = hidden
    eqs = []
    for cell, value in published.items():
        coef = {a[2]: 1.0 for a in cell if a[2] in unknown}
        rhs = value - sum(float(counts[months.index(a[2])]) for a in cell if a[2] not in unknown)
        if coef:
            eqs.append((coef, rhs))
    assert not subtraction_attack(unknown, eqs)
    assert not linear_attack(unknown, eqs)
    assert not integer_attack(unknown, eqs)
    assert not exposed_cells(published, [points[m] for m in hidden])


def test_a_group_is_hidden_together() -> None:
    ledger = DisclosureLedger(3)
    keys = [ledger.add([("v", "A", f"p{i}")], c, group="its") for i, c in enumerate([10, 2, 9, 12])]
    other = ledger.add([("v", "B", "p0")], 50)
    ledger.resolve()
    assert [ledger.status(k) for k in keys] == ["suppressed"] * 4
    assert ledger.status(other) == "shown"
    assert ledger.summary()["primary"] == 1 and ledger.summary()["secondary"] == 3


# --- a whole run: charts and tables of small areas ------------------------------------------


AREAS = ["A1", "A2", "A3", "A4"]
MONTHS = [f"{y}-{m:02d}" for y in (2019, 2020) for m in range(1, 13)]


def _small_policing() -> str:
    rng = np.random.default_rng(5)
    rows = ["area_code,period,drug_stop_search,possession_arrests,supply_arrests"]
    for i, a in enumerate(AREAS):
        for m in MONTHS:
            supply = rng.poisson(1.6 if a in ("A1", "A2") else 12 + 2 * i)
            possession = rng.poisson(0.02 if a in ("A1", "A2") else 8)  # treated totals near zero
            rows.append(f"{a},{m},{rng.poisson(40)},{possession},{supply}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import BASE_CONFIG, BASE_FILES, deep_merge

    root = tmp_path_factory.mktemp("small")
    files = {**BASE_FILES, "data/policing.csv": _small_policing()}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    cfg = deep_merge(BASE_CONFIG, {"analyses": [
        {"name": "its_a1", "method": "its", "intervention": "scheme", "unit": "area", "area": "A1",
         "outcomes": ["supply_arrests"], "placebo": False, "n_sim": 200},
        {"name": "look", "method": "describe", "intervention": "scheme",
         "outcomes": ["supply_arrests_rate", "possession_arrests_rate"]},
    ]})
    cfg["analyses"] = cfg["analyses"][1:] if cfg["analyses"][0]["name"] == "first_look" else cfg["analyses"]
    import yaml

    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    from evaluate.pipeline.run import run_evaluation

    return run_evaluation(root / "config.yaml", out=root / "out")


def _series(run: Any, variable: str = "supply_arrests") -> pd.Series:
    data = pd.read_csv(Path(run.prepared.loaded.base_dir) / "data" / "policing.csv")
    return data.set_index(["area_code", "period"])[variable]


def test_its_chart_hides_all_observed_points_when_one_is_small(small_run: Any) -> None:
    chart = next(c for c in small_run.publication.charts if c.kind == "its")
    counts = _series(small_run).loc["A1"]
    assert (counts < 3).any(), "the fixture must have small monthly counts"
    assert chart.data["suppressed"].all() and chart.data["observed"].isna().all()
    alt = chart.alt
    assert "suppressed" in alt


def test_fitted_line_and_totals_do_not_give_hidden_months_away(small_run: Any) -> None:
    """The attacker knows the model's design exactly and uses its score equations: for a
    quasi-Poisson GLM with an intercept, X'y = X'mu, and mu is the published fitted line.
    With every observed month hidden, together with any published before/after total, no month
    is determined."""
    result = next(r for r in small_run.results if r.analysis == "its_a1")
    chart = next(c for c in small_run.publication.charts if c.kind == "its")
    x = np.asarray(result.model.model.exog)
    mu = chart.data["fitted"].to_numpy(dtype=float)
    hidden = list(np.flatnonzero(chart.data["suppressed"].to_numpy()))
    rows = [x[:, j] for j in range(x.shape[1])]
    rhs = [float(x[:, j] @ mu) for j in range(x.shape[1])]
    table = small_run.publication.table_for("its_a1").published()
    post = chart.data["post"].to_numpy(dtype=bool)
    for col, mask in (("Before the start", ~post), ("After the start", post), ("Total", np.ones_like(post))):
        v = table.iloc[0][col]
        if v not in (SUPPRESSED, NOT_AVAILABLE):
            rows.append(mask.astype(float))
            rhs.append(float(v))
    unknown = [int(i) for i in hidden]
    eqs = [({i: float(r[i]) for i in unknown if r[i] != 0}, b) for r, b in zip(rows, rhs, strict=True)]
    assert not subtraction_attack(unknown, eqs)
    assert not linear_attack(unknown, eqs)


def test_published_trend_points_and_tables_reveal_no_suppressed_count(small_run: Any) -> None:
    """Trend chart points (group totals per month, as rates) and the before/after table of the
    same groups: every published count, every suppressed one, attacked together."""
    counts = _series(small_run)
    trend = next(c for c in small_run.publication.charts if c.kind == "trend" and "supply" in c.saved.name)
    table = small_run.publication.table_for("look")
    groups = {"Treated areas": ["A1", "A2"], "Comparison areas": ["A3", "A4"], "All areas": AREAS}
    cells: dict[frozenset[Hashable], tuple[str, float]] = {}
    for _, row in trend.data.iterrows():
        atoms = frozenset((a, row["period"]) for a in groups[row["group"]])
        truth = float(sum(counts.loc[a, row["period"]] for a in groups[row["group"]]))
        cells[atoms] = ("hidden", truth) if row["suppressed"] else ("shown", truth)
        if row["suppressed"]:
            assert np.isnan(row["value"]), "a rate built on a suppressed count is published"
        else:
            pop = 100_000 * (1 if row["group"] == "Treated areas" else 0)  # noqa: F841 - readability
    pub = table.published()
    pub = pub[pub["variable"] == "supply_arrests"]
    periods = {"Before the start": MONTHS[:12], "After the start": MONTHS[12:], "Total": MONTHS}
    for _, row in pub.iterrows():
        for col, months in periods.items():
            atoms = frozenset((a, m) for a in groups[row["group"]] for m in months)
            truth = float(sum(counts.loc[a, m] for a in groups[row["group"]] for m in months))
            cells[atoms] = ("hidden", truth) if row[col] == SUPPRESSED else ("shown", truth)
            if row[col] != SUPPRESSED:
                assert float(row[col]) == truth
    small = [k for k, (s, v) in cells.items() if v < 3]
    assert small and all(cells[k][0] == "hidden" for k in small)
    # atom-level linear system: unknowns are the monthly counts of each area
    atoms = sorted({a for k in cells for a in k})
    index = {a: i for i, a in enumerate(atoms)}
    shown = [(k, v) for k, (s, v) in cells.items() if s == "shown"]
    a = np.zeros((len(shown), len(atoms)))
    for i, (k, _) in enumerate(shown):
        a[i, [index[x] for x in k]] = 1.0
    ns = null_space(a)
    for k, (s, _) in cells.items():
        if s != "hidden":
            continue
        v = np.zeros(len(atoms))
        v[[index[x] for x in k]] = 1.0
        assert not np.allclose(v @ ns, 0.0, atol=1e-9), f"suppressed count {sorted(k)[:3]}... is determined"


def test_a_small_group_total_is_protected_within_its_table(small_run: Any) -> None:
    """Treated areas' possession arrests are near zero: their before/after cells are small, and the
    table's other cells must not give them away (group + comparison = all areas)."""
    pub = small_run.publication.table_for("look").published()
    pub = pub[pub["variable"] == "possession_arrests"].set_index("group")[
        ["Before the start", "After the start", "Total"]]
    assert (pub.loc["Treated areas"] == SUPPRESSED).all()
    table = pub.rename(index={"All areas": "Total"})
    assert not recovered(table), table


def test_the_spreadsheet_and_report_show_the_same_suppressions(small_run: Any) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(small_run.output_dir / "results.xlsx")
    ws = next(wb[n] for n in wb.sheetnames if str(wb[n]["A1"].value).startswith("Table") and "Event counts" in str(wb[n]["A1"].value))
    cells = [c.value for row in ws.iter_rows(min_row=4) for c in row]
    n_suppressed = sum(int((t.status == "suppressed").to_numpy().sum()) for t in small_run.publication.tables)
    assert n_suppressed > 0 and cells.count(SUPPRESSED) == n_suppressed
    html = (small_run.output_dir / "report.html").read_text()
    assert html.count(f">{SUPPRESSED}<") >= n_suppressed
    header = [c.value for c in ws[3]]
    for row in ws.iter_rows(min_row=4):
        for i, h in enumerate(header):
            if "(events)" in str(h):
                v = row[i].value
                assert v in (SUPPRESSED, NOT_AVAILABLE) or (isinstance(v, int | float) and v >= 3)
    cover = " ".join(str(c.value) for c in wb["Cover"]["A"])
    assert "[c]: suppressed" in cover and "below 3" in cover


@pytest.mark.parametrize("seed", range(12))
def test_atom_classes_give_the_same_suppressions_as_the_atoms(seed: int) -> None:
    """The report registers cells by atom *class* (atoms in exactly the same cells, see
    ``publish._compress``); on random overlapping cells the decisions equal those on raw atoms."""
    from evaluate.report.publish import _compress

    rng = np.random.default_rng(seed)
    n_atoms = 40
    atom_values = rng.poisson(2.0, n_atoms).astype(float)
    cells = []
    for _ in range(int(rng.integers(8, 20))):
        size = int(rng.integers(1, 12))
        cells.append(np.unique(rng.choice(n_atoms, size=size, replace=False)))
    cells.append(np.arange(n_atoms))  # a grand total
    values = [float(atom_values[c].sum()) for c in cells]
    raw, classed = DisclosureLedger(3), DisclosureLedger(3)
    keys = _compress(cells, n_atoms)
    assert len({frozenset(c.tolist()) for c in cells}) == len(set(keys))  # distinct stay distinct
    raw_keys = [raw.add(c.tolist(), v) for c, v in zip(cells, values, strict=True)]
    for k, v in zip(keys, values, strict=True):
        classed.add(k, v)
    raw.resolve()
    classed.resolve()
    assert [raw.status(k) for k in raw_keys] == [classed.status(k) for k in keys]
