"""Validation: generated from the dictionary, every failure collected, counts and examples."""

from __future__ import annotations

from typing import Any

import pytest

from evaluate.config.loader import load_config
from evaluate.data.dictionary import load_dictionary
from evaluate.data.validate import ValidationReport, value_checks
from evaluate.errors import ValidationFailed
from evaluate.pipeline.prepare import prepare
from tests.conftest import BASE_FILES


def _report(make_project: Any, **kw: Any) -> ValidationReport:
    path = make_project(**kw)
    with pytest.raises(ValidationFailed) as info:
        prepare(load_config(path))
    return info.value.report


def _kinds(report: ValidationReport) -> dict[str, Any]:
    return {(i.kind, i.column): i for i in report.errors}


def _harm(extra_rows: str = "", replace: dict[str, str] | None = None) -> str:
    text = BASE_FILES["data/harm.csv"]
    for old, new in (replace or {}).items():
        text = text.replace(old, new, 1)
    return text + extra_rows


def test_valid_project_reports_suppression_and_no_errors(make_project: Any) -> None:
    prepared = prepare(load_config(make_project()))
    rep = prepared.validation
    assert rep.ok
    harm = next(s for s in rep.sources if s.name == "harm")
    assert harm.suppressed["drug_poisoning_deaths"] > 0
    assert "[c]" in harm.suppression_rules["drug_poisoning_deaths"]
    text = rep.to_text()
    assert "cells suppressed, kept as missing with a known range" in text


def test_every_failure_is_collected_in_one_report(make_project: Any) -> None:
    """Five different problems in two files: one report lists all of them."""
    harm = _harm(
        extra_rows="A1,2019-01,5,3\nZZ9,2019-01,4,3\n",
        replace={"A1,2019-02,": "A1,2019-02,-4,0\nA1,2019-99,", "A2,2019-03,": "A2,2019-03,2.5,0\nA2,2019-33,"},
    )
    policing = BASE_FILES["data/policing.csv"].replace("A3,2019-05,", "A3,2019-05,[x],0\nA3,2019-55,", 1)
    rep = _report(make_project, files={"data/harm.csv": harm, "data/policing.csv": policing})
    kinds = {i.kind for i in rep.errors}
    assert {"duplicate_key", "unknown_area", "negative_count", "non_integer_count", "unparseable_period", "undeclared_marker"} <= kinds
    assert {i.source for i in rep.errors} == {"harm", "policing"}
    d = rep.to_dict()
    assert d["ok"] is False and d["n_errors"] == len(rep.errors)
    for issue in rep.errors:
        assert issue.examples, issue.kind  # each kind shows where it happened


def test_examples_point_at_lines(make_project: Any) -> None:
    harm = _harm(replace={"A1,2019-02,": "A1,2019-02,-4,0\nA1,2019-99,"})
    rep = _report(make_project, files={"data/harm.csv": harm})
    neg = _kinds(rep)[("negative_count", "nonfatal_overdoses")]
    assert neg.count == 1
    assert neg.examples[0] == "line 3: '-4'"


@pytest.mark.parametrize(
    ("files", "kind", "column", "phrase"),
    [
        ({"data/harm.csv": "area_code,month,nonfatal_overdoses\nA1,2019-01,3\n"}, "missing_column", "period", r"required column 'period' is missing"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses,cuckoo\nA1,2019-01,3,1\n"}, "unexpected_column", "cuckoo", r"not in the data dictionary for entity 'harm_outcomes'; map it with data\.sources\[3\]\.rename"),
        ({"data/harm.csv": "area_code,period,drug_stop_search\nA1,2019-01,3\n"}, "unexpected_column", "drug_stop_search", r"is an activity variable, but entity 'harm_outcomes' holds harm"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses,nonfatal_overdoses\nA1,2019-01,3,4\n"}, "duplicate_column", "nonfatal_overdoses", r"appears more than once"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,3\nA1,2019-01,4\n"}, "duplicate_key", "area_code, period", r"1 area-period pair appears more than once \(2 rows; first: A1 2019-01\)"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,3\nA1,2019-04,4\n"}, "period_gap", "period", r"1 area skips 2 periods inside their range"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,3\nA1,Feb 2019,4\n"}, "mixed_period_formats", "period", r"2 different forms \(Mon YYYY, YYYY-MM\)"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,3\nA1,2019-02,x7\n"}, "wrong_type", "nonfatal_overdoses", r"1 cell is not a usable number \(expected a count; found 'x7'\); fix them in the file"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,3\nA1,2019-02,[x]\n"}, "undeclared_marker", "nonfatal_overdoses", r"'\[x\]' not declared for 'nonfatal_overdoses' \(declared: \*, \[c\]\); declare them under data\.sources\[3\]\.suppression\.nonfatal_overdoses"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,*\nA1,2019-02,*\n"}, "all_suppressed", "nonfatal_overdoses", r"every value of 'nonfatal_overdoses' is suppressed"),
        ({"data/harm.csv": "area_code,period,nonfatal_overdoses\n,2019-01,3\n"}, "missing_area_code", "area_code", r"1 row without an area code"),
        ({"data/population.csv": "area_code,period,population\nA1,2019,0\nA2,2019,5\nA3,2019,5\nA4,2019,5\n"}, "out_of_range", "population", r"below the valid minimum 1"),
        ({"data/adoption.csv": "area_code,start\nA1,2020-01\nA1,2020-04\n"}, "duplicate_key", "area_code", r"2 rows share 1 area code \(first: A1\); an area may have only one adoption date"),
        ({"data/adoption.csv": "area_code,start\nA1,2020-99\n"}, "unparseable_period", "start", r"1 value cannot be read as month periods"),
    ],
)
def test_each_failure_kind(make_project: Any, files: dict[str, str], kind: str, column: str, phrase: str) -> None:
    rep = _report(make_project, files=files)
    found = _kinds(rep)
    assert (kind, column) in found, rep.to_text()
    assert __import__("re").search(phrase, found[(kind, column)].message), found[(kind, column)].message


def test_rename_key_not_found_suggests(make_project: Any) -> None:
    cfg = {"data": {"sources": [
        {"name": "areas", "path": "data/areas.csv", "entity": "area_lookup"},
        {"name": "population", "path": "data/population.csv", "entity": "population"},
        {"name": "policing", "path": "data/policing.csv", "entity": "policing_activity"},
        {"name": "harm", "path": "data/harm.csv", "entity": "harm_outcomes", "rename": {"Period ": "period", "overdoses": "nonfatal_overdoses"}},
        {"name": "adoption", "path": "data/adoption.csv", "entity": "adoption_table"},
    ]}}
    rep = _report(make_project, config=cfg)
    assert any(i.kind == "rename_not_found" and "did you mean 'period'" in i.message for i in rep.errors)


def test_unknown_area_is_a_warning_under_report_policy(make_project: Any) -> None:
    harm = _harm(extra_rows="ZZ9,2019-01,4,3\n")
    path = make_project(files={"data/harm.csv": harm}, config={"data": {"join": {"policy": "report"}}})
    prepared = prepare(load_config(path))
    assert [i.kind for i in prepared.validation.warnings if i.kind == "unknown_area"] == ["unknown_area"]
    join = next(s for s in prepared.main.report.sources if s.source == "harm")
    assert join.rows_unknown_area == 1 and join.unmatched_keys == ["ZZ9 2019-01"]


def test_missing_values_are_warnings_and_counted(make_project: Any) -> None:
    harm = _harm(replace={"A1,2019-02,": "A1,2019-02,,0\nA1,2019-99,"})
    # the replacement also adds an unparseable row; drop it again
    harm = "\n".join(line for line in harm.splitlines() if "2019-99" not in line) + "\n"
    prepared = prepare(load_config(make_project(files={"data/harm.csv": harm})))
    src = next(s for s in prepared.validation.sources if s.name == "harm")
    assert src.missing["nonfatal_overdoses"] == 1
    assert [i.kind for i in prepared.validation.warnings] == ["missing_value"]


def test_suppression_override_in_config(make_project: Any) -> None:
    harm = BASE_FILES["data/harm.csv"].replace("[c]", "~")
    cfg = {"data": {"sources": [
        {"name": "areas", "path": "data/areas.csv", "entity": "area_lookup"},
        {"name": "population", "path": "data/population.csv", "entity": "population"},
        {"name": "policing", "path": "data/policing.csv", "entity": "policing_activity"},
        {"name": "harm", "path": "data/harm.csv", "entity": "harm_outcomes",
         "suppression": {"drug_poisoning_deaths": {"markers": ["~"], "lower": 1, "upper": 2}}},
        {"name": "adoption", "path": "data/adoption.csv", "entity": "adoption_table"},
    ]}}
    prepared = prepare(load_config(make_project(files={"data/harm.csv": harm}, config=cfg)))
    data = prepared.main.data
    sup = data["drug_poisoning_deaths__suppressed"]
    assert sup.any()
    assert data.loc[sup, "drug_poisoning_deaths"].isna().all()
    assert (data.loc[sup, "drug_poisoning_deaths__lower"] == 1).all()
    assert (data.loc[sup, "drug_poisoning_deaths__upper"] == 2).all()


def test_value_checks_come_from_the_dictionary() -> None:
    d = load_dictionary()
    kinds = [c.kind for c in value_checks(d.variables["population"])]
    assert kinds == ["negative_count", "non_integer_count", "out_of_range"]
    kinds = [c.kind for c in value_checks(d.variables["unemployment_rate"])]
    assert kinds == ["out_of_range", "out_of_range"]


def test_summary_line_names_the_first_problem(make_project: Any) -> None:
    rep = _report(make_project, files={"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,-3\n"})
    line = rep.summary_line()
    assert line.startswith("validation failed: ")
    assert "negative_count" in line and "harm.nonfatal_overdoses" in line
