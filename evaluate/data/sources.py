"""Reading source files (CSV, Parquet) into raw frames, with errors that say what to fix.

A file that cannot be read at all (missing, empty, not UTF-8, wrong delimiter, truncated Parquet)
raises :class:`DataError` at once. Everything about a file that *can* be read (unexpected columns,
bad values, duplicate keys) is left to :mod:`evaluate.data.validate`, which reports all of it at
once. CSV cells are read as text so that suppression markers survive until they are parsed.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evaluate.config.models import SourceConfig
from evaluate.errors import DataError, short

__all__ = ["RawSource", "detect_format", "file_sha256", "read_source"]

_OTHER_DELIMITERS = (";", "\t", "|")
_MAX_FIELD = 1_000_000


@dataclass
class RawSource:
    """A source file as read, before parsing and validation.

    Attributes
    ----------
    config
        The source's config entry.
    index
        Position under ``data.sources`` (for messages such as ``data.sources[2]``).
    path
        Absolute file path.
    frame
        The file's columns, renamed to dictionary names (text for CSV, typed for Parquet;
        ``area_name`` and ``region`` as categoricals of text).
    file_columns
        Column names as they appear in the file, in order.
    renamed
        Map from dictionary name back to the file's column name.
    duplicate_columns
        Column names that appear more than once (after renaming).
    missing_renames
        ``rename`` keys that are not columns of the file.
    sha256
        Hash of the file's bytes (for the manifest).
    line_offset
        Add to a 0-based row index to get the file line (CSV: 2, for the header) or row (Parquet: 1).
    """

    config: SourceConfig
    index: int
    path: Path
    frame: pd.DataFrame
    file_columns: list[str]
    renamed: dict[str, str] = field(default_factory=dict)
    duplicate_columns: list[str] = field(default_factory=list)
    missing_renames: list[str] = field(default_factory=list)
    sha256: str = ""
    line_offset: int = 2

    @property
    def label(self) -> str:
        """``"deaths (data/drug_deaths.csv)"``."""
        return f"{self.config.name} ({self.config.path})"

    def row_ref(self, i: int) -> str:
        """Human reference to the 0-based row ``i``: ``line 14`` (CSV) or ``row 13`` (Parquet)."""
        return f"line {i + self.line_offset}" if self.line_offset == 2 else f"row {i + 1}"


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def detect_format(cfg: SourceConfig, path: Path, where: str) -> str:
    """The file format: the config's ``format``, else from the file extension."""
    if cfg.format is not None:
        return cfg.format
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(
        f"{where}: cannot tell the format of '{path.name}' from its extension; set format: csv or "
        "format: parquet"
    )


def read_source(
    cfg: SourceConfig,
    path: Path,
    *,
    index: int,
    columns: list[str] | None = None,
) -> RawSource:
    """Read one source file.

    Parameters
    ----------
    cfg
        The source's config.
    path
        The resolved file path.
    index
        Position under ``data.sources``, for messages.
    columns
        If given, the dictionary names to keep (others are not loaded, to save memory); the
        file's header is still read in full so that unexpected columns are reported.

    Raises
    ------
    DataError
        If the file cannot be read; the message names the file and the fix.
    """
    where = f"data.sources[{index}] '{cfg.name}' ({path})"
    try:
        if not path.exists():
            raise DataError(
                f"{where}: file not found; check data.sources[{index}].path (paths are relative "
                "to the config file's folder)"
            )
        if path.is_dir():
            raise DataError(f"{where}: is a folder, not a file; point path at the file")
        if path.stat().st_size == 0:
            raise DataError(f"{where}: file is empty (0 bytes); export the data again")
        fmt = detect_format(cfg, path, where)
        if fmt == "csv":
            raw = _read_csv(cfg, path, where, columns)
        else:
            raw = _read_parquet(cfg, path, where, columns)
        raw.index = index
        raw.sha256 = file_sha256(path)
    except OSError as exc:  # permission denied, an I/O error, a file that vanished
        raise DataError(
            f"{where}: cannot read the file ({exc.strerror or exc}); check that it exists and "
            "that you may read it"
        ) from None
    return raw


_LABELS = ("area_name", "region")
"""Text columns that repeat one value per area in every period: read as categoricals."""


def _encode_labels(table: Any, names: list[str]) -> Any:
    """Dictionary-encode the label columns of an Arrow table (they become pandas categoricals).

    An area's name repeats in every period; as one string per row, the names of a 5-million-row
    small-area source took ~300 MB, and were kept until the run ended.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, name in enumerate(names[: table.num_columns]):
        column = table.column(i)
        if name in _LABELS and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            table = table.set_column(i, table.field(i).name, pc.dictionary_encode(column))
    return table


def _rename(cfg: SourceConfig, file_columns: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    mapping = dict(cfg.rename)
    missing = [k for k in mapping if k not in file_columns]
    names = [mapping.get(c, c) for c in file_columns]
    renamed = {mapping[c]: c for c in file_columns if c in mapping}
    return names, renamed, missing


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def _read_header(path: Path, cfg: SourceConfig, where: str) -> list[str]:
    encoding = "utf-8-sig" if cfg.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else cfg.encoding
    with path.open("rb") as fh:
        start = fh.read(4)
    if start[:2] in (b"\xff\xfe", b"\xfe\xff") and not cfg.encoding.lower().startswith("utf-16"):
        raise DataError(
            f"{where}: the file starts with a UTF-16 byte-order mark; set encoding: utf-16 on "
            "this source, or re-save the file as UTF-8"
        )
    csv.field_size_limit(_MAX_FIELD)
    try:
        # newline=None reads \n, \r\n and old-style \r line endings alike (pyarrow does too)
        with path.open("r", encoding=encoding, newline=None) as fh:
            head = fh.read(1 << 16)
            if len(head) == 1 << 16 and "\n" not in head:
                raise DataError(
                    f"{where}: the first line is longer than 65,536 characters without a line "
                    "break; this does not look like a CSV file with a header row"
                )
            first = next(csv.reader(io.StringIO(head), delimiter=cfg.delimiter), None)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{where}: not valid {cfg.encoding} text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); set encoding: (e.g. cp1252 or latin-1) on this source, or re-save the "
            "file as UTF-8"
        ) from None
    except UnicodeError as exc:
        raise DataError(
            f"{where}: cannot decode the file as {cfg.encoding} ({exc}); check the encoding: "
            "setting of this source, or re-save the file as UTF-8"
        ) from None
    except LookupError:
        raise DataError(
            f"{where}: unknown encoding '{cfg.encoding}'; use e.g. utf-8, cp1252 or latin-1"
        ) from None
    except csv.Error as exc:
        raise DataError(f"{where}: cannot read the header row ({exc}); check the file is CSV") from None
    if not first or all(not c.strip() for c in first):
        raise DataError(f"{where}: the first line is blank; the file must start with a header row")
    header = [c.strip() for c in first]
    if len(header) == 1:
        for d in _OTHER_DELIMITERS:
            if d in header[0]:
                name = {"\t": "'\\t' (tab)"}.get(d, f"'{d}'")
                raise DataError(
                    f"{where}: the header {short(header[0])} has one column but contains {name}; "
                    f"the file looks {name}-delimited, set delimiter: {name.split()[0]} on this source"
                )
    return header


def _read_csv(cfg: SourceConfig, path: Path, where: str, columns: list[str] | None) -> RawSource:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    d = cfg.delimiter
    if len(d) != 1 or not "\x01" <= d <= "\x7f" or d in '\r\n"':
        # pyarrow's CSV reader takes one ASCII character, and quotes and line breaks have their
        # own meaning in CSV
        raise DataError(
            f"{where}: delimiter: {short(d)} cannot separate CSV fields; use one ASCII character "
            "other than a quote or a line break, such as ',', ';', '|' or '\\t' (a tab)"
        )
    header = _read_header(path, cfg, where)
    names, renamed, missing = _rename(cfg, header)
    dupes = _duplicates(names)
    keep = [
        i
        for i, (c, n) in enumerate(zip(header, names, strict=True))
        if c not in cfg.ignore_columns and (columns is None or n in columns or n in dupes)
    ]
    positional = [f"__c{i}" for i in range(len(header))]
    wanted = [positional[i] for i in keep]
    # pyarrow reads every column when asked for none: read one to count the rows, then drop it
    read = wanted or positional[:1]
    encoding = cfg.encoding.lower().replace("_", "-")
    try:
        # pyarrow checks every row's field count (pandas silently drops or shifts extra fields
        # when reading a subset of columns), reads only the wanted columns, and keeps every cell
        # as text so suppression markers survive until they are parsed
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=positional,
                skip_rows=1,
                encoding="utf8" if encoding in ("utf-8", "utf8", "utf-8-sig") else cfg.encoding,
                block_size=1 << 24,
            ),
            parse_options=pacsv.ParseOptions(delimiter=cfg.delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=read,
                column_types={c: pa.string() for c in read},
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        detail = str(exc)
        if "Expected" in detail and "columns" in detail:
            raise DataError(
                f"{where}: a row does not have the header's {len(header)} fields "
                f"({short(detail.removeprefix('CSV parse error: '), 80)}); check the delimiter "
                f"(delimiter: '{cfg.delimiter}' is in use), quoting, and trailing separators"
            ) from None
        if "UTF8" in detail or "utf8" in detail.lower():
            raise DataError(
                f"{where}: not valid {cfg.encoding} text; set encoding: on this source (e.g. "
                "cp1252 or latin-1), or re-save the file as UTF-8"
            ) from None
        raise DataError(f"{where}: cannot parse the CSV ({short(detail, 160)})") from None
    except (pa.ArrowException, OSError, LookupError) as exc:
        raise DataError(f"{where}: cannot read the CSV ({short(str(exc), 160)})") from None
    if table.num_rows == 0:
        raise DataError(f"{where}: the file has a header but no data rows; export the data again")
    frame = _encode_labels(table, [names[i] for i in keep]).to_pandas()
    if not wanted:
        frame = frame.iloc[:, :0]
    frame.columns = [names[i] for i in keep]
    if dupes:
        # keep the first of each duplicated name so later checks see one column; report all
        frame = frame.loc[:, ~frame.columns.duplicated()]
    return RawSource(
        config=cfg,
        index=0,
        path=path,
        frame=frame,
        file_columns=header,
        renamed=renamed,
        duplicate_columns=dupes,
        missing_renames=missing,
        line_offset=2,
    )


def _read_parquet(cfg: SourceConfig, path: Path, where: str, columns: list[str] | None) -> RawSource:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        header = list(pf.schema_arrow.names)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(
            f"{where}: not a readable Parquet file ({short(str(exc), 120)}); the file may be "
            "truncated or not Parquet, export it again (or set format: csv if it is CSV)"
        ) from None
    names, renamed, missing = _rename(cfg, header)
    dupes = _duplicates(names)
    keep = [
        c
        for c, n in zip(header, names, strict=True)
        if c not in cfg.ignore_columns and (columns is None or n in columns or n in dupes)
    ]
    keep = list(dict.fromkeys(keep))
    try:
        rows = pf.metadata.num_rows
        # no wanted columns (all ignored): keep the row count, so validation reports what is missing
        to_name = dict(zip(header, names, strict=True))
        frame = (
            _encode_labels(pf.read(columns=keep), [to_name[c] for c in keep]).to_pandas()
            if keep
            else pd.DataFrame(index=pd.RangeIndex(rows))
        )
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(
            f"{where}: cannot read the Parquet data ({short(str(exc), 120)}); the file may be "
            "truncated or corrupt, export it again"
        ) from None
    if rows == 0 or len(frame) == 0:
        raise DataError(f"{where}: the Parquet file has no rows; export the data again")
    frame.columns = [dict(zip(header, names, strict=True))[c] for c in frame.columns]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    return RawSource(
        config=cfg,
        index=0,
        path=path,
        frame=frame,
        file_columns=header,
        renamed=renamed,
        duplicate_columns=dupes,
        missing_renames=missing,
        line_offset=1,
    )
