"""Fuzzing the loaders: random bytes and random structures get only the project's own errors.

The CSV and Parquet source readers (``evaluate.data.sources``), the YAML reader
(``evaluate.config.yaml_safe``), the config loader (``evaluate.config.loader``) and the
data-dictionary loader (``evaluate.data.dictionary``) either return or raise a subclass of
:class:`~evaluate.errors.EvaluateError` whose message names the file or key; any other exception
is a bug (the command would print a traceback and exit 1).

Hypothesis runs under the ``fuzz_loaders`` profile: derandomized (the same examples on every run,
so CI is deterministic), no example database, and a bounded number of examples per test so the
file takes well under a minute. ``EVALUATE_FUZZ_EXAMPLES=2000`` runs a longer search locally.

The second half holds one regression test per bug the fuzzing found, and the "configs are data"
policy: no formula strings, no ``eval``, YAML only through the guarded safe loader.
"""

from __future__ import annotations

import ast
import copy
import csv
import io
import itertools
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluate.config.loader import load_config, parse_config
from evaluate.config.models import SourceConfig
from evaluate.config.yaml_safe import load_yaml, loads_yaml
from evaluate.data.dictionary import load_dictionary
from evaluate.data.sources import read_source
from evaluate.errors import ConfigError, DataError, EvaluateError
from tests.conftest import BASE_CONFIG, BASE_FILES

settings.register_profile(
    "fuzz_loaders",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("EVALUATE_FUZZ_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("fuzz_loaders")

PACKAGE = Path(__file__).resolve().parents[1] / "evaluate"
_names = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the generated files (module-scoped: Hypothesis runs many examples per test)."""
    return tmp_path_factory.mktemp("fuzz")


def _file(folder: Path, suffix: str, content: bytes) -> Path:
    path = folder / f"f{next(_names)}{suffix}"
    path.write_bytes(content)
    return path


def _only_our_errors(call: Any, *, names: str) -> EvaluateError | None:
    """Run ``call``: it may return or raise an :class:`EvaluateError` naming ``names``."""
    try:
        call()
    except EvaluateError as exc:
        assert exc.message.strip(), "an empty error message"
        assert names in exc.message, f"the message does not name {names!r}: {exc.message}"
        return exc
    return None


def _source(path: Path, **kw: Any) -> SourceConfig | None:
    """A source config, or ``None`` when the config itself would be refused at load time."""
    try:
        return SourceConfig(name="fuzz", path=path.name, entity="harm_outcomes", **kw)
    except ValueError:
        return None


WHERE = "data.sources[0] 'fuzz'"

# -- source readers --------------------------------------------------------------------------------

CELLS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "",
            "NA",
            "[c]",
            "*",
            "..",
            "1",
            "-1",
            "1,000",
            "1e309",
            "nan",
            "inf",
            "2020-01",
            "A1",
            '"',
            '""',
            '"a""b"',
            "\r",
            "\n",
            "\r\n",
            ",",
            ";",
            "\t",
            "\x00",
            "\ufeff",
            "\u00e9",
            "\U0001f600",
        ]
    ),
)
ENCODINGS = st.sampled_from(
    [
        "utf-8",
        "UTF_8",
        "utf-8-sig",
        "latin-1",
        "cp1252",
        "ascii",
        "utf-16",
        "utf-16-le",
        "utf-32",
        "shift_jis",
        "cp037",
        "utf-7",
        "idna",
        "punycode",
        "unicode_escape",
        "rot13",
        "hex",
        "base64",
        "zlib",
        "mbcs",
        "no-such-codec",
    ]
)
DELIMITERS = st.sampled_from(
    [",", ";", "\t", "|", " ", '"', "'", "\n", "\r", "\x00", "\x7f", "\u00e9", "\\"]
)
COLUMN_FILTERS = st.one_of(
    st.none(),
    st.lists(st.sampled_from(["area_code", "period", "nonfatal_overdoses", "x", ""]), max_size=3),
)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=40).map(lambda b: b"PAR1" + b + b"PAR1"),  # Parquet's magic bytes
        st.binary(max_size=40).map(lambda b: b"\xef\xbb\xbf" + b),  # UTF-8 byte-order mark
        st.binary(max_size=40).map(lambda b: b"\xff\xfe" + b),  # UTF-16 byte-order mark
    ),
    suffix=st.sampled_from([".csv", ".txt", ".tsv", ".parquet", ".pq", ".xlsx", ""]),
    encoding=ENCODINGS,
    delimiter=DELIMITERS,
)
def test_source_readers_on_random_bytes(
    scratch: Path, data: bytes, suffix: str, encoding: str, delimiter: str
) -> None:
    path = _file(scratch, suffix, data)
    cfg = _source(path, encoding=encoding, delimiter=delimiter)
    if cfg is not None:
        _only_our_errors(lambda: read_source(cfg, path, index=0), names=WHERE)


@FUZZ
@given(
    rows=st.lists(st.lists(CELLS, max_size=5), max_size=6),
    quoted=st.booleans(),
    delimiter=DELIMITERS,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    bom=st.booleans(),
    encoding=ENCODINGS,
    columns=COLUMN_FILTERS,
    rename=st.dictionaries(
        st.sampled_from(["", "a", "area_code", "x"]), st.text(max_size=4), max_size=2
    ),
    ignore=st.lists(
        st.sampled_from(["", "a", "area_code", "period", "nonfatal_overdoses"]), max_size=3
    ),
)
def test_csv_reader_on_random_tables(
    scratch: Path,
    rows: list[list[str]],
    quoted: bool,
    delimiter: str,
    newline: str,
    bom: bool,
    encoding: str,
    columns: list[str] | None,
    rename: dict[str, str],
    ignore: list[str],
) -> None:
    if quoted and len(delimiter) == 1 and delimiter not in '\r\n"':
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(rows)
        text = buf.getvalue()
    else:  # raw joins: broken quoting, ragged rows, stray separators
        text = newline.join(delimiter.join(r) for r in rows)
    text = ("\ufeff" if bom else "") + text
    try:
        content = text.encode(encoding)
    except (LookupError, UnicodeError, TypeError, ValueError):
        content = text.encode("utf-8", "surrogatepass")
    path = _file(scratch, ".csv", content)
    cfg = _source(
        path, encoding=encoding, delimiter=delimiter, rename=rename, ignore_columns=ignore
    )
    if cfg is not None:
        _only_our_errors(lambda: read_source(cfg, path, index=0, columns=columns), names=WHERE)


ARROW_TYPES = st.sampled_from(
    [
        pa.string(),
        pa.large_string(),
        pa.int64(),
        pa.int8(),
        pa.uint64(),
        pa.float64(),
        pa.float32(),
        pa.bool_(),
        pa.binary(),
        pa.date32(),
        pa.timestamp("ns", tz="UTC"),
        pa.duration("s"),
        pa.decimal128(5, 2),
        pa.null(),
        pa.list_(pa.int32()),
        pa.struct([("a", pa.int8())]),
        pa.map_(pa.string(), pa.int8()),
        pa.dictionary(pa.int8(), pa.string()),
    ]
)
PARQUET_NAMES = st.one_of(
    st.sampled_from(
        ["area_code", "period", "nonfatal_overdoses", "", "__index_level_0__", "a", "a"]
    ),
    st.text(max_size=5),
)


@FUZZ
@given(
    columns=st.lists(st.tuples(PARQUET_NAMES, ARROW_TYPES, st.booleans()), max_size=4),
    n_rows=st.integers(0, 3),
    cut=st.one_of(st.none(), st.integers(0, 3000)),
    keep=COLUMN_FILTERS,
    rename=st.dictionaries(
        st.sampled_from(["a", "", "area_code"]),
        st.sampled_from(["area_code", "period", "a"]),
        max_size=2,
    ),
    ignore=st.lists(st.sampled_from(["a", "", "area_code", "period"]), max_size=2),
)
def test_parquet_reader_on_random_schemas(
    scratch: Path,
    columns: list[tuple[str, pa.DataType, bool]],
    n_rows: int,
    cut: int | None,
    keep: list[str] | None,
    rename: dict[str, str],
    ignore: list[str],
) -> None:
    arrays = []
    for _, dtype, filled in columns:
        try:
            arrays.append(
                pa.array([None] * n_rows, type=dtype) if not filled else _filled(dtype, n_rows)
            )
        except (pa.ArrowException, ValueError, TypeError):
            arrays.append(pa.nulls(n_rows))
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=[c[0] for c in columns]), buf)
    data = buf.getvalue()
    path = _file(scratch, ".parquet", data if cut is None else data[:cut])
    cfg = _source(path, rename=rename, ignore_columns=ignore)
    if cfg is not None:
        _only_our_errors(lambda: read_source(cfg, path, index=0, columns=keep), names=WHERE)


def _filled(dtype: pa.DataType, n: int) -> pa.Array:
    samples = {
        pa.string(): "A1",
        pa.large_string(): "2020-01",
        pa.int64(): -1,
        pa.int8(): 7,
        pa.uint64(): 2**64 - 1,
        pa.float64(): float("nan"),
        pa.float32(): 1e38,
        pa.bool_(): True,
        pa.binary(): b"\xff",
        pa.duration("s"): 5,
        pa.list_(pa.int32()): [1, 2],
        pa.struct([("a", pa.int8())]): {"a": 1},
        pa.map_(pa.string(), pa.int8()): [("k", 1)],
    }
    if pa.types.is_dictionary(dtype):
        return pa.array(["x"] * n).dictionary_encode()
    if pa.types.is_date(dtype) or pa.types.is_timestamp(dtype) or pa.types.is_decimal(dtype):
        return pa.array([None] * n, type=dtype)
    return pa.array([samples.get(dtype)] * n, type=dtype)


# -- YAML, configs and the data dictionary ---------------------------------------------------------

YAML_PIECES = st.sampled_from(
    [
        *"ab:-[]{},&*!|>'\"#%@`? \n\t0123456789.~=<\\",
        "!!python/object/apply:os.system ['echo pwned']",
        "!!python/name:os.system",
        "&a",
        "*a",
        "<<: *a",
        "!!binary",
        "!!timestamp",
        "!!set",
        "!!omap",
        "!!pairs",
        "!!float",
        "!!int",
        "!!bool",
        "!!str",
        "!!null",
        "!!merge",
        "!custom",
        "---",
        "...",
        "%YAML 1.1\n",
        "%TAG ! tag:x,2000:\n",
        "2020-01-01",
        "2020-02-30",
        "2020-13-01",
        "0x1F",
        "0o17",
        "1e400",
        ".inf",
        ".nan",
        "1_000",
        "0b101",
        "12:30:00",
        "yes",
        "no",
        "~",
        "? [a]\n: b",
        "\x00",
        "\x85",
        "\u2028",
        "\ufeff",
    ]
)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.lists(YAML_PIECES, max_size=40).map("".join)))
def test_yaml_reader_on_random_text(text: str) -> None:
    _only_our_errors(lambda: loads_yaml(text, source="fuzz.yaml"), names="fuzz.yaml")


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(YAML_PIECES, max_size=30).map(lambda p: "".join(p).encode("utf-8")),
    )
)
def test_config_loader_on_random_files(scratch: Path, data: bytes) -> None:
    path = _file(scratch, ".yaml", data)
    _only_our_errors(lambda: load_config(path), names=path.name)


LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=6),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=4),
    CELLS,
)
STRUCTURES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none()),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


CONFIG_PATHS = _paths(BASE_CONFIG)
EXTRA_KEYS = st.sampled_from(
    [
        "start",
        "end",
        "dictionary",
        "population",
        "rate_per",
        "rename",
        "ignore_columns",
        "period_format",
        "delimiter",
        "encoding",
        "thousands",
        "missing_markers",
        "suppression",
        "format",
        "frequency",
        "phase_in",
        "label",
        "exclude_areas",
        "exclude_treated_by",
        "ci_level",
        "seed",
        "enforcement_harm",
        "alternatives",
        "join",
        "control",
        "covariates",
        "predictors",
        "window",
        "estimator",
        "unit",
        "area",
        "bogus",
        "methd",
        "compute",
    ]
)


def _mutated(
    changes: list[tuple[tuple[Any, ...], Any]], extra: list[tuple[tuple[Any, ...], str, Any]]
) -> dict[str, Any]:
    """The base config with values replaced at existing paths and keys added at others."""
    cfg = copy.deepcopy(BASE_CONFIG)
    for path, value in changes:
        node: Any = cfg
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    for path, key, value in extra:
        node = cfg
        try:
            for part in path:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(node, dict):
            node[key] = value
    return cfg


@FUZZ
@given(
    raw=st.one_of(
        STRUCTURES,
        st.builds(
            _mutated,
            st.lists(st.tuples(st.sampled_from(CONFIG_PATHS), STRUCTURES), min_size=1, max_size=3),
            st.lists(st.tuples(st.sampled_from(CONFIG_PATHS), EXTRA_KEYS, STRUCTURES), max_size=2),
        ),
    )
)
def test_config_validation_on_random_structures(raw: Any) -> None:
    _only_our_errors(lambda: parse_config(raw, source="fuzz.yaml"), names="fuzz.yaml")


def _dictionary_yaml(content: Any) -> bytes:
    try:
        return yaml.safe_dump(content, allow_unicode=True).encode("utf-8")
    except yaml.YAMLError:
        return repr(content).encode("utf-8")


VARIABLE = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["fuzz_var", "Fuzz", "population", "nonfatal_overdoses", "1x"]),
        "label": st.text(max_size=3),
        "description": st.text(max_size=3),
        "role": st.sampled_from(["harm", "activity", "benefit", "bogus"]),
        "unit": st.text(max_size=3),
        "type": st.sampled_from(["count", "rate", "proportion", "mean"]),
        "aggregation": st.sampled_from(["sum", "mean", "stock", "max"]),
    },
    optional={
        "valid_range": STRUCTURES,
        "suppression": STRUCTURES,
        "frequency": STRUCTURES,
        "extra": STRUCTURES,
    },
)
ENTITY = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["fuzz_entity", "harm_outcomes"]),
        "description": st.text(max_size=3),
        "keys": STRUCTURES,
    },
    optional={
        "optional": STRUCTURES,
        "roles": STRUCTURES,
        "frequency": STRUCTURES,
        "required": STRUCTURES,
    },
)
DICTIONARY_FILES = st.lists(
    st.one_of(
        STRUCTURES.map(_dictionary_yaml),
        st.fixed_dictionaries(
            {}, optional={"variables": STRUCTURES, "keys": STRUCTURES, "entities": STRUCTURES}
        ).map(_dictionary_yaml),
        VARIABLE.map(lambda v: _dictionary_yaml({"variables": [v]})),
        ENTITY.map(lambda e: _dictionary_yaml({"entities": [e]})),
        st.binary(max_size=80),
    ),
    max_size=3,
)


@FUZZ
@given(files=DICTIONARY_FILES)
def test_dictionary_loader_on_random_folders(scratch: Path, files: list[bytes]) -> None:
    folder = scratch / f"dictionary{next(_names)}"  # a new folder each time: folders are cached
    folder.mkdir()
    for i, content in enumerate(files):
        (folder / f"extra{i}.yaml").write_bytes(content)
    _only_our_errors(lambda: load_dictionary(folder), names=str(folder))


# -- beyond the readers: validation and the join on damaged cells ---------------------------------

BAD_CELLS = st.one_of(
    CELLS,
    st.sampled_from(
        ["-1", "1.5", "1e309", "-inf", "1e-320", "99999999999999999999999", "2019-13", "2020-00",
         "0000-01", "2020-W53", "2020Q5", "2019/20", "a1", " A1", "A5", "\u00a0", "\uff11", "TRUE",
         "0x10", "+5", "5.", ".5", "1_000", "2020-02-30", "Jan 2020", "FY2020/21", "2020-01-15"]
    ),
)  # fmt: skip
CSV_FILES = sorted(name for name in BASE_FILES if name.endswith(".csv"))


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 20))
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(CSV_FILES), st.integers(0, 200), st.integers(0, 4), BAD_CELLS),
        min_size=1,
        max_size=4,
    )
)
def test_validation_and_join_on_damaged_cells(
    scratch: Path, edits: list[tuple[str, int, int, str]]
) -> None:
    """A few cells of the small valid project replaced by odd values: the data layer reports
    them (or accepts them) and never fails with anything but the project's errors."""
    from evaluate.pipeline.analyses import check_all
    from evaluate.pipeline.prepare import prepare

    files = dict(BASE_FILES)
    for name, row, column, value in edits:
        lines = files[name].rstrip("\n").split("\n")
        fields = lines[row % len(lines)].split(",")
        fields[column % len(fields)] = re.sub(r'[,\r\n"]', " ", value)
        lines[row % len(lines)] = ",".join(fields)
        files[name] = "\n".join(lines) + "\n"
    project = scratch / f"project{next(_names)}"
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    config = project / "config.yaml"
    config.write_text(yaml.safe_dump(BASE_CONFIG, sort_keys=False), encoding="utf-8")

    def run() -> None:
        prepared = prepare(load_config(config))
        check_all(prepared)

    _only_our_errors(run, names="")


# -- regression tests for the bugs the fuzzing found -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: a\ntitle: b\x14c\n",
            r"fuzz\.yaml: line 2, column 9: the character 0x0014 is not allowed",
        ),
        ("\x7f", r"line 1, column 1: the character 0x007f"),
        ("a: \x91b", r"line 1, column 4: the character 0x0091"),
    ],
)
def test_control_characters_in_yaml_are_config_errors(text: str, message: str) -> None:
    """Regression: PyYAML's ReaderError (raised while the loader was built, outside the ``try``)
    escaped as a traceback."""
    with pytest.raises(ConfigError, match=message):
        loads_yaml(text, source="fuzz.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "start: 2020-02-30",
            r"line 1, column 8: '2020-02-30' is not a valid date \(day is out of range for month\); correct it, or put it in quotes",
        ),
        ("start: 2020-01-01 25:00:00", r"is not a valid date \(hour must be in 0\.\.23\)"),
        ("a: !!float", r"'' is not a valid number"),
        ("a: !!int abc", r"'abc' is not a valid whole number"),
        ("a: !!bool", r"'' is not a valid boolean \(true or false\)"),
        ("a: !!timestamp x", r"'x' is not a valid date"),
        ("a: [1, !!float '']", r"line 1, column 8"),
    ],
)
def test_impossible_values_in_yaml_are_config_errors(text: str, message: str) -> None:
    """Regression: ValueError, IndexError, KeyError and AttributeError from PyYAML's constructors
    (a date that does not exist, a standard tag with an impossible value) escaped."""
    with pytest.raises(ConfigError, match=message):
        loads_yaml(text, source="fuzz.yaml")


def test_impossible_date_in_a_config_file_names_the_file_and_line(make_project: Any) -> None:
    path = make_project()
    path.write_text(
        path.read_text(encoding="utf-8").replace("start: 2020-01", "start: 2020-02-30"),
        encoding="utf-8",
    )
    assert "2020-02-30" in path.read_text(encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"config\.yaml: line \d+, column \d+: '2020-02-30' is not a valid date"
    ):
        load_config(path)


@pytest.mark.parametrize("delimiter", ["\u00e9", "\x00", '"', "\n", "\r"])
def test_unusable_delimiter_is_a_data_error(tmp_path: Path, delimiter: str) -> None:
    """Regression: a non-ASCII delimiter reached pyarrow, whose ValueError escaped."""
    path = _file(tmp_path, ".csv", b"area_code,period,nonfatal_overdoses\nA1,2020-01,3\n")
    cfg = _source(path, delimiter=delimiter)
    assert cfg is not None
    with pytest.raises(
        DataError,
        match=rf"{re.escape(WHERE)} .*: delimiter: .* cannot separate CSV fields; use one ASCII character",
    ):
        read_source(cfg, path, index=0)


def test_every_csv_column_ignored_leaves_rows_and_no_columns(tmp_path: Path) -> None:
    """Regression: with no column wanted, pyarrow read *every* column and renaming them failed
    with a pandas ValueError; now validation sees the rows and reports the missing columns."""
    path = _file(
        tmp_path, ".csv", b"area_code,period,nonfatal_overdoses\nA1,2020-01,3\nA2,2020-01,4\n"
    )
    cfg = _source(path, ignore_columns=["area_code", "period", "nonfatal_overdoses"])
    assert cfg is not None
    raw = read_source(cfg, path, index=0)
    assert raw.frame.shape == (2, 0)
    assert raw.file_columns == ["area_code", "period", "nonfatal_overdoses"]
    assert read_source(_source(path), path, index=0, columns=[]).frame.shape == (2, 0)  # type: ignore[arg-type]


def test_every_parquet_column_ignored_is_not_called_empty(tmp_path: Path) -> None:
    """Regression: reading no columns gave a frame pandas calls empty, reported as 'no rows'."""
    path = tmp_path / "x.parquet"
    pd.DataFrame({"area_code": ["A1", "A2"], "period": ["2020-01", "2020-02"]}).to_parquet(path)
    cfg = _source(path, ignore_columns=["area_code", "period"])
    assert cfg is not None
    assert read_source(cfg, path, index=0).frame.shape == (2, 0)


def test_every_column_ignored_fails_validation_not_with_a_traceback(make_project: Any) -> None:
    from evaluate.pipeline.prepare import prepare

    ignore = ["area_code", "period", "nonfatal_overdoses", "drug_poisoning_deaths"]
    path = make_project(config={"data": {"sources": None}})
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["data"]["sources"] = [dict(s) for s in BASE_CONFIG["data"]["sources"]]
    cfg["data"]["sources"][3]["ignore_columns"] = ignore
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    with pytest.raises(EvaluateError, match=r"required column 'area_code' is missing"):
        prepare(load_config(path))


def test_unreadable_source_file_is_a_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: PermissionError from opening the file escaped (tested by patching, since the
    test may run as root, for whom file permissions do not apply)."""
    path = _file(tmp_path, ".csv", b"area_code,period\nA1,2020-01\n")
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(
        DataError,
        match=rf"{re.escape(WHERE)} .*: cannot read the file \(Permission denied\); check that it exists and that you may read it",
    ):
        read_source(_source(path), path, index=0)  # type: ignore[arg-type]


def test_unreadable_yaml_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(tmp_path, ".yaml", b"name: x\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(
        ConfigError,
        match=r"cannot read the config file \(Permission denied\); check that you may read it",
    ):
        load_yaml(path)


def test_union_errors_name_the_key_the_user_wrote() -> None:
    """Messages for a value of an either-or key (``control``) no longer show pydantic's internal
    member labels (``control.literal['untreated_total']``) or drop the valid-key listing."""

    def message(control: Any) -> str:
        cfg = copy.deepcopy(BASE_CONFIG)
        cfg["analyses"] = [
            {
                "name": "a",
                "method": "its",
                "intervention": "scheme",
                "outcomes": ["x"],
                "control": control,
            }
        ]
        with pytest.raises(ConfigError) as info:
            parse_config(cfg, source="c.yaml")
        return info.value.message

    assert message("bogus").startswith(
        "c.yaml: analyses[0].control: expected one of (untreated_total), got 'bogus'"
    )
    assert "unknown key 'outcom' (did you mean 'outcome'?); valid keys here: outcome" in message(
        {"outcom": "x"}
    )
    assert message({"outcome": "log(y)"}).startswith(
        "c.yaml: analyses[0].control.outcome: 'log(y)' is not a column name"
    )


# -- configs are data ------------------------------------------------------------------------------

FORMULAS = [
    "np.exp(x)",
    "x + y",
    "C(area)",
    "__import__('os')",
    "log(population)",
    "x:y",
    "I(x**2)",
    "x*y",
    " x",
    "x-y",
    "",
]


def _config_with(method: str, key: str, value: Any, **more: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["analyses"] = [
        {
            "name": "a",
            "method": method,
            "intervention": "scheme",
            "outcomes": ["nonfatal_overdoses"],
            key: value,
            **more,
        }
    ]
    return cfg


FORMULA_KEYS = [
    ("its", "covariates", {}),
    ("did", "covariates", {}),
    ("synthetic_control", "predictors", {"estimator": "sc"}),
]


@pytest.mark.parametrize(
    ("method", "key", "more"), FORMULA_KEYS, ids=[f"{m}.{k}" for m, k, _ in FORMULA_KEYS]
)
@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_like_columns_are_refused_when_the_config_is_loaded(
    method: str, key: str, more: dict[str, Any], formula: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_config_with(method, key, ["population", formula], **more), source="c.yaml")
    assert info.value.message.startswith(
        f"c.yaml: analyses[0].{key}[1]: {formula!r} is not a column name; configs are data, not formulas or code"
    )
    assert "put a transformed variable" in info.value.message


def test_formula_like_comparison_outcome_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"analyses\[0\]\.control\.outcome: 'np\.exp\(x\)' is not a column name"
    ):
        parse_config(_config_with("its", "control", {"outcome": "np.exp(x)"}), source="c.yaml")


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 40))
@given(name=st.text(max_size=20))
def test_column_keys_accept_exactly_plain_names(name: str) -> None:
    ok = (
        name[:1].isascii()
        and name[:1].isalpha()
        and all(c.isascii() and (c.isalnum() or c == "_") for c in name)
    )
    cfg = _config_with("its", "covariates", [name])
    if ok and len(name) <= 128:
        parse_config(cfg, source="c.yaml")
    else:
        with pytest.raises(ConfigError, match="is not a column name"):
            parse_config(cfg, source="c.yaml")


@cache
def _package_trees() -> dict[str, ast.Module]:
    """The package's modules, parsed once."""
    return {
        p.relative_to(PACKAGE.parent).as_posix(): ast.parse(
            p.read_text(encoding="utf-8"), filename=str(p)
        )
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def _calls_and_imports() -> list[tuple[str, int, str]]:
    """Every call to eval/exec/compile/__import__, formula entry point, pandas query/eval, and
    every import of a formula library, in the package source."""
    banned_calls = {"eval", "exec", "compile", "__import__"}
    banned_attrs = {"from_formula", "query", "eval"}  # statsmodels' formulas, pandas' query/eval
    banned_modules = ("patsy", "formulaic", "statsmodels.formula")
    found = []
    for rel, tree in _package_trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name) and f.id in banned_calls:
                    found.append((rel, node.lineno, f.id))
                elif isinstance(f, ast.Attribute) and (
                    f.attr in banned_attrs or (ast.unparse(f.value) == "yaml" and "load" in f.attr)
                ):
                    found.append((rel, node.lineno, f"{ast.unparse(f.value)}.{f.attr}"))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                found += [(rel, node.lineno, n) for n in names if n.startswith(banned_modules)]
    return found


def test_no_eval_no_formula_engine_in_the_package() -> None:
    """Nothing in a config reaches eval, exec, a formula parser (patsy, formulaic, statsmodels'
    formula API) or pandas' query/eval: covariates and predictors are plain column names."""
    assert _calls_and_imports() == []


def test_yaml_is_only_read_through_the_guarded_loader() -> None:
    def imports_yaml(tree: ast.Module) -> bool:
        return any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "yaml" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "yaml")
            for n in ast.walk(tree)
        )

    users = sorted(rel for rel, tree in _package_trees().items() if imports_yaml(tree))
    assert users == ["evaluate/config/yaml_safe.py"]
