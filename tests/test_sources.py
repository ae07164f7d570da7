"""Reading files: unreadable ones fail at once with the fix; readable ones go to validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaluate.config.models import SourceConfig
from evaluate.data.sources import read_source
from evaluate.errors import DataError


def _cfg(path: str = "x.csv", **kw: object) -> SourceConfig:
    return SourceConfig(name="src", path=path, entity="harm_outcomes", **kw)  # type: ignore[arg-type]


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def test_reads_csv_as_text_and_renames(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "Code,Month,Overdoses\nA,2020-01,[c]\n")
    raw = read_source(_cfg(rename={"Code": "area_code", "Month": "period", "Overdoses": "nonfatal_overdoses"}), p, index=0)
    assert list(raw.frame.columns) == ["area_code", "period", "nonfatal_overdoses"]
    assert raw.frame["nonfatal_overdoses"].iloc[0] == "[c]"
    assert raw.renamed["area_code"] == "Code"
    assert len(raw.sha256) == 64


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.sources\[3\] 'src' .*file not found; check data\.sources\[3\]\.path"):
        read_source(_cfg(), tmp_path / "nope.csv", index=3)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"file is empty \(0 bytes\)"):
        read_source(_cfg(), _write(tmp_path, "x.csv", ""), index=0)


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="has a header but no data rows"):
        read_source(_cfg(), _write(tmp_path, "x.csv", "area_code,period,nonfatal_overdoses\n"), index=0)


def test_wrong_delimiter(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "area_code;period;nonfatal_overdoses\nA;2020-01;3\n")
    with pytest.raises(DataError, match=r"looks ';'-delimited, set delimiter: ';'"):
        read_source(_cfg(), p, index=0)


def test_semicolon_delimiter_when_declared(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "area_code;period;nonfatal_overdoses\nA;2020-01;3\n")
    raw = read_source(_cfg(delimiter=";"), p, index=0)
    assert raw.frame["nonfatal_overdoses"].iloc[0] == "3"


def test_not_utf8(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", b"area_code,period,nonfatal_overdoses\nCaf\xe9,2020-01,3\n")
    with pytest.raises(DataError, match=r"not valid utf-8 text \(byte 0xe9 .*set encoding: .*or re-save the file as UTF-8"):
        read_source(_cfg(), p, index=0)


def test_latin1_when_declared(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", b"area_code,period,nonfatal_overdoses\nCaf\xe9,2020-01,3\n")
    assert read_source(_cfg(encoding="latin-1"), p, index=0).frame["area_code"].iloc[0] == "Café"


def test_byte_order_mark_is_stripped(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", b"\xef\xbb\xbfarea_code,period,nonfatal_overdoses\nA,2020-01,3\n")
    assert list(read_source(_cfg(), p, index=0).frame.columns)[0] == "area_code"


def test_duplicate_columns_are_recorded(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "area_code,period,nonfatal_overdoses,nonfatal_overdoses\nA,2020-01,3,4\n")
    raw = read_source(_cfg(), p, index=0)
    assert raw.duplicate_columns == ["nonfatal_overdoses"]


def test_rename_key_not_in_file_is_recorded(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "area_code,period,nonfatal_overdoses\nA,2020-01,3\n")
    raw = read_source(_cfg(rename={"Month": "period"}), p, index=0)
    assert raw.missing_renames == ["Month"]


def test_ragged_rows(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "area_code,period,nonfatal_overdoses\nA,2020-01,3\nA,2020-02,3,9,9\n")
    with pytest.raises(DataError, match=r"a row does not have the header's 3 fields .*check the delimiter"):
        read_source(_cfg(), p, index=0)


def test_one_huge_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "x" * 200_000)
    with pytest.raises(DataError, match="longer than 65,536 characters without a line break"):
        read_source(_cfg(), p, index=0)


def test_parquet_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    pd.DataFrame({"area_code": ["A"], "period": ["2020-01"], "nonfatal_overdoses": [3]}).to_parquet(p)
    raw = read_source(_cfg(path="x.parquet"), p, index=0)
    assert raw.frame["nonfatal_overdoses"].iloc[0] == 3
    assert raw.row_ref(0) == "row 1"


def test_truncated_parquet(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pd.DataFrame({"area_code": ["A"] * 100, "period": ["2020-01"] * 100, "nonfatal_overdoses": range(100)}).to_parquet(good)
    bad = _write(tmp_path, "x.parquet", good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=r"not a readable Parquet file .*truncated"):
        read_source(_cfg(path="x.parquet"), bad, index=0)


def test_csv_named_parquet(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.parquet", "area_code,period\nA,2020-01\n")
    with pytest.raises(DataError, match=r"not a readable Parquet file .*set format: csv if it is CSV"):
        read_source(_cfg(path="x.parquet"), p, index=0)


def test_unknown_extension(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.xlsx", "whatever")
    with pytest.raises(DataError, match="set format: csv or format: parquet"):
        read_source(_cfg(path="x.xlsx"), p, index=0)


def test_ragged_first_row_is_not_shifted_into_an_index(tmp_path: Path) -> None:
    """pandas would silently use the extra leading fields as an index; we refuse the file."""
    p = _write(tmp_path, "x.csv", "area_code,period,nonfatal_overdoses\nA,2020-01,3,9,9\nB,2020-01,4\n")
    with pytest.raises(DataError, match=r"a row does not have the header's 3 fields"):
        read_source(_cfg(), p, index=0)
