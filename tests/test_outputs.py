"""The output folder is written atomically and never replaces a folder evaluate did not create."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluate.errors import OutputError
from evaluate.pipeline import run as run_module
from evaluate.pipeline.outputs import MANIFEST, OutputFolder, check_destination
from evaluate.pipeline.run import run_evaluation


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_run_writes_the_contract(make_project: Any) -> None:
    summary = run_evaluation(make_project())
    out = summary.output_dir
    names = {p.name for p in out.iterdir()}
    assert {"results.csv", "results.parquet", "results.json", "panel.parquet", "validation.json", MANIFEST} <= names
    assert not list(out.parent.glob(".out.partial-*"))


def test_failure_mid_run_leaves_previous_output_intact(make_project: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_project()
    first = run_evaluation(path).output_dir
    before = _snapshot(first)

    def boom(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_module, "results_json", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        run_evaluation(path)
    assert _snapshot(first) == before
    assert not [p for p in first.parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_second_run_replaces_its_own_output(make_project: Any) -> None:
    path = make_project()
    out = run_evaluation(path).output_dir
    (out / "stale.txt").write_text("from an older run")
    run_evaluation(path)
    assert not (out / "stale.txt").exists()


def test_refuses_a_non_empty_folder_it_did_not_create(make_project: Any, tmp_path: Path) -> None:
    mine = tmp_path / "my_documents"
    mine.mkdir()
    (mine / "thesis.docx").write_text("precious")
    with pytest.raises(OutputError, match="is not empty and has no evaluate manifest.json; evaluate only replaces folders it created"):
        run_evaluation(make_project(), out=mine)
    assert (mine / "thesis.docx").read_text() == "precious"


def test_refuses_a_folder_with_a_foreign_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"generator": "something-else"}))
    with pytest.raises(OutputError, match="is not empty"):
        check_destination(out, [], context="--out")


def test_refuses_an_output_folder_that_holds_inputs(make_project: Any) -> None:
    path = make_project(config={"outputs": {"dir": "data"}})
    with pytest.raises(OutputError, match=r"outputs\.dir: the output folder '.*data' contains the input file"):
        run_evaluation(path)


def test_refuses_a_file_as_output(make_project: Any, tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        run_evaluation(make_project(), out=f)


def test_an_empty_existing_folder_is_used(make_project: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_evaluation(make_project(), out=empty).output_dir == empty.resolve()


def test_stale_partial_folders_are_cleaned(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    stale = tmp_path / ".out.partial-abc"
    stale.mkdir()
    with OutputFolder(dest) as folder:
        (folder.path / MANIFEST).write_text(json.dumps({"generator": "evaluate"}))
        folder.commit()
    assert not stale.exists() and (dest / MANIFEST).exists()


def test_uncommitted_folder_is_removed(tmp_path: Path) -> None:
    with OutputFolder(tmp_path / "out") as folder:
        (folder.path / "half.csv").write_text("x")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_manifest_records_hashes_versions_seeds_and_times(make_project: Any) -> None:
    out = run_evaluation(make_project()).output_dir
    m = json.loads((out / MANIFEST).read_text())
    assert m["generator"] == "evaluate"
    assert len(m["config"]["sha256"]) == 64
    assert {i["name"] for i in m["inputs"]} >= {"areas", "population", "policing", "harm", "adoption"}
    assert all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert {"python", "pandas", "statsmodels", "linearmodels", "evaluate"} <= set(m["versions"])
    assert m["seeds"] == {"first_look": 20240601}
    assert m["started_at"] <= m["finished_at"]
    assert "results.csv" in m["outputs"]


def test_results_csv_is_byte_identical_across_runs(make_project: Any, tmp_path: Path) -> None:
    path = make_project()
    a = run_evaluation(path, out=tmp_path / "a").output_dir
    b = run_evaluation(path, out=tmp_path / "b").output_dir
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
