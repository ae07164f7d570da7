"""results.xlsx follows government statistical conventions for spreadsheets."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from evaluate.pipeline.run import RunSummary


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    from tests.test_report import shared_run

    return shared_run(tmp_path_factory)


def test_cover_contents_notes_then_one_table_per_sheet(run: RunSummary) -> None:
    wb = load_workbook(run.output_dir / "results.xlsx")
    names = wb.sheetnames
    assert names[:3] == ["Cover", "Contents", "Notes"]
    tables = names[3:]
    assert tables == [f"Table_{k}" for k in range(1, len(tables) + 1)] and len(tables) >= 3
    assert wb["Cover"]["A1"].value == run.prepared.loaded.model.title
    contents = [c.value for c in wb["Contents"]["A"]]
    assert all(t in contents for t in tables)
    for name in tables:
        ws = wb[name]
        assert str(ws["A1"].value).startswith(f"Table {name.split('_')[1]}:")
        assert str(ws["A2"].value).startswith("This worksheet contains one table.")
        assert len(ws.tables) == 1
        (table,) = ws.tables.values()
        assert table.ref.startswith("A3:")
        assert all(c.value not in (None, "") for c in ws[3][: ws.max_column])  # a header for every column
    for ws in wb.worksheets:
        assert not ws.merged_cells.ranges
    notes = [c.value for c in wb["Notes"]["A"]][3:]
    assert notes[:3] == ["note 1", "note 2", "note 3"]


def test_numbers_are_numbers_and_gaps_are_marked(run: RunSummary) -> None:
    wb = load_workbook(run.output_dir / "results.xlsx")
    ws = next(wb[n] for n in wb.sheetnames if str(wb[n]["A1"].value).endswith("Estimates"))
    header = [c.value for c in ws[3]]
    est = header.index("estimate")
    holm = header.index("p_value_holm [note 2]")
    values = [row[est].value for row in ws.iter_rows(min_row=4)]
    assert all(isinstance(v, float | int) for v in values)
    p_holm = [row[holm].value for row in ws.iter_rows(min_row=4)]
    assert "[z]" in p_holm and any(isinstance(v, float) for v in p_holm)
    assert not [c.value for row in ws.iter_rows(min_row=4) for c in row if c.value is None]
