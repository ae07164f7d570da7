"""``results.xlsx``: the results as a spreadsheet that follows government statistical conventions.

Following the Analysis Function's guidance on releasing statistics in spreadsheets: a cover
sheet (what the data are, where they come from, the shorthand used), a contents sheet, a notes
sheet, and then one table per sheet. Each table sheet starts with its title in cell A1 and a line
saying what the sheet contains, then a single table (an Excel table object with a name and a
header row) with no merged cells and no blank rows or columns inside it. Numbers are stored as
numbers; a suppressed count is the text ``[c]``, a count that is not available ``[x]`` and a
value that does not apply ``[z]``. Notes are numbered and referred to as ``[note 1]``.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from evaluate.report.content import ReportContent
from evaluate.report.findings import findings_for
from evaluate.report.publish import COLUMNS, Publication
from evaluate.results.disclosure import NOT_AVAILABLE, SUPPRESSED
from evaluate.results.multiple import ADJUSTMENT_NOTE

__all__ = ["write_spreadsheet", "SPREADSHEET_NAME", "NOT_APPLICABLE"]

SPREADSHEET_NAME = "results.xlsx"
NOT_APPLICABLE = "[z]"


def _notes(content: ReportContent) -> list[str]:
    notes = [
        f"Counts below {content.min_count} are suppressed and shown as {SUPPRESSED}, as are counts that would "
        f"let a suppressed count be worked out from a total or from other published counts (secondary "
        f"suppression). {NOT_AVAILABLE}: not available because the data include missing cells or cells "
        f"suppressed in the source data. {NOT_APPLICABLE}: not applicable (no interval or no test for this "
        "estimand).",
        ADJUSTMENT_NOTE,
        "Police activity (searches, arrests, seizures, diversion referrals) is an output of policing, never a "
        "harm outcome: results on activity describe changes in police activity, not harm reduction.",
        "Descriptive comparisons (method describe) compare changes in treated and comparison areas; they are "
        "a first look, not causal estimates.",
        "Intervals are confidence intervals at the level given in the ci_level column (0.95: 95%). A verdict "
        "of harm reduced or increased is given only when the whole interval lies on one side of no change.",
    ]
    if "simulated" in content.config.title.lower():
        notes.append("The data of this evaluation are simulated; they describe no real place.")
    return notes


def _value(v: Any) -> Any:
    if v is None or (isinstance(v, str) and not v.strip()):
        return NOT_APPLICABLE
    if isinstance(v, float) and not math.isfinite(v):
        return NOT_APPLICABLE
    if v is pd.NA or (not isinstance(v, str) and pd.isna(v)):
        return NOT_APPLICABLE
    if hasattr(v, "item"):
        return v.item()
    return v


def _tables(content: ReportContent, pub: Publication) -> list[tuple[str, str, pd.DataFrame, list[int]]]:
    """(title, description, table, note numbers) per table sheet."""
    findings = findings_for(content)
    summary = pd.DataFrame([
        {
            "Intervention": content.intervention_label(f.result.intervention),
            "Analysis": f.result.analysis,
            "Outcome": f.result.outcome_label,
            "Outcome type": {"activity": "police activity (not harm)"}.get(f.result.outcome_role, f.result.outcome_role),
            "Area or unit": f.result.unit or NOT_APPLICABLE,
            "Verdict": f.verdict,
            "Finding": f.sentence,
            "Caveat": f.caveat,
        }
        for f in findings
    ])
    est = content.table.copy()
    keep = ["analysis", "method", "intervention", "outcome", "outcome_role", "unit", "estimand", "estimate",
            "std_error", "ci_lower", "ci_upper", "ci_level", "p_value", "p_value_holm", "p_value_bh", "n_obs",
            "se_type", "note"]
    est = est[[c for c in keep if c in est.columns]]
    est = est.rename(columns={"p_value_holm": "p_value_holm [note 2]", "p_value_bh": "p_value_bh [note 2]",
                              "outcome_role": "outcome_role [note 3]"})
    counts = []
    for t in pub.tables:
        published = t.published()
        for _, row in published.iterrows():
            counts.append({"Analysis": t.section, "Outcome": row["outcome_label"], "Variable": row["variable"],
                           "Group": row["group"], **{f"{c} (events) [note 1]": row[c] for c in COLUMNS}})
    count_table = pd.DataFrame(counts)
    sources = pd.DataFrame([
        {"Source": s.get("name"), "Entity": s.get("entity"), "File": s.get("path"), "Rows": s.get("rows"),
         "Areas": s.get("areas"), "First period": s.get("first_period") or NOT_APPLICABLE,
         "Last period": s.get("last_period") or NOT_APPLICABLE, "Frequency": s.get("frequency") or NOT_APPLICABLE,
         "Missing cells": sum((s.get("missing") or {}).values()),
         "Cells suppressed in the source": sum((s.get("suppressed") or {}).values())}
        for s in content.reports.get("validation", {}).get("sources", [])
    ])
    out = [
        ("Summary of findings", "One row per result: the verdict, the finding in words and its main caveat.",
         summary, [3, 4, 5]),
        ("Estimates", "Every estimate of every analysis, with intervals, unadjusted and adjusted p-values.",
         est, [2, 3, 5]),
    ]
    if not count_table.empty:
        out.append(("Event counts before and after the start, by group",
                    "Numbers of events behind each analysis, under disclosure control.", count_table, [1]))
    if not sources.empty:
        out.append(("Data sources", "Every source read and validated, with missing and suppressed cells.", sources, []))
    return out


def write_spreadsheet(path: str | Path, *, content: ReportContent, publication: Publication) -> Path:
    """Write the results workbook.

    Parameters
    ----------
    path
        Destination (``<output>/results.xlsx``).
    content
        What the run produced.
    publication
        Count tables under disclosure control.

    Returns
    -------
    pathlib.Path
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    path = Path(path)
    tables = _tables(content, publication)
    notes = _notes(content)
    # write-only: rows stream to the file (a national run's estimates are ~300,000 cells)
    wb = Workbook(write_only=True)
    when = content.manifest.get("started_at") or content.generated_at
    try:
        stamp = datetime.fromisoformat(when).replace(tzinfo=None) if when else datetime(2000, 1, 1)
    except ValueError:
        stamp = datetime(2000, 1, 1)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "evaluate"
    wb.properties.title = content.config.title
    bold = Font(bold=True)
    heading = Font(bold=True, size=14)

    cover = wb.create_sheet("Cover")
    cover.column_dimensions["A"].width = 110
    lines = [
        (content.config.title, heading),
        (f"Evaluation '{content.config.name}': results of every analysis, written by evaluate.", None),
        ("About these data", bold),
        ("Each table sheet holds one table. Harm outcomes (overdoses, deaths, admissions) are evaluated; police "
         "activity is reported only as a change in police activity, never as harm reduction.", None),
        ("Shorthand", bold),
        (f"{SUPPRESSED}: suppressed to protect confidentiality (a count below {content.min_count}, or one that "
         "would reveal it) [note 1].", None),
        (f"{NOT_AVAILABLE}: not available.", None),
        (f"{NOT_APPLICABLE}: not applicable.", None),
        ("Run", bold),
        (f"Started {content.manifest.get('started_at', '')}; config sha256 "
         f"{(content.manifest.get('config') or {}).get('sha256', '')}. The run manifest (manifest.json) lists every "
         "input and output file with its sha256.", None),
        ("Contents and notes", bold),
        ("See the Contents sheet for the tables and the Notes sheet for the numbered notes.", None),
    ]
    for text, font in lines:
        cover.append([_styled(cover, text, font=font)])

    rows = [("Cover", "About these data and the shorthand used"), ("Notes", "Numbered notes")]
    rows += [(f"Table_{k}", title) for k, (title, *_rest) in enumerate(tables, start=1)]
    _write_sheet(wb.create_sheet("Contents"), "Contents", "This worksheet contains one table.",
                 pd.DataFrame(rows, columns=["Sheet name", "Sheet title"]), "contents_table", bold, heading)

    _write_sheet(wb.create_sheet("Notes"), "Notes",
                 "This worksheet contains one table. Notes are referred to in the tables as [note 1] and so on.",
                 pd.DataFrame({"Note number": [f"note {i}" for i in range(1, len(notes) + 1)], "Note text": notes}),
                 "notes_table", bold, heading, widths={2: 110},
                 wrap={2: Alignment(wrap_text=True, vertical="top")})

    for k, (title, description, frame, note_refs) in enumerate(tables, start=1):
        refs = " ".join(f"[note {n}]" for n in note_refs)
        _write_sheet(wb.create_sheet(f"Table_{k}"), f"Table {k}: {title}",
                     f"This worksheet contains one table. {description}" + (f" Notes: {refs}." if refs else ""),
                     frame, f"table_{k}", bold, heading, freeze="A4")
    wb.save(path)
    return path


def _styled(ws: Any, value: Any, *, font: Any = None, alignment: Any = None) -> Any:
    """A cell of a write-only sheet with a font or an alignment."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


def _write_sheet(ws: Any, title: str, description: str, frame: pd.DataFrame, name: str, bold: Any, heading: Any,
                 *, widths: dict[int, float] | None = None, wrap: dict[int, Any] | None = None,
                 freeze: str | None = None) -> None:
    """A sheet: its title (row 1), a description (row 2), and ``frame`` as one named Excel table from row 3.

    Write-only sheets take widths and panes before any row, and rows in order.
    """
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    for j, col in enumerate(frame.columns, start=1):
        width = max([len(str(col))] + [len(str(v)) for v in frame.iloc[:200, j - 1]]) + 2
        ws.column_dimensions[get_column_letter(j)].width = (widths or {}).get(j, min(max(width, 10), 70))
    if freeze:
        ws.freeze_panes = freeze
    ws.append([_styled(ws, title, font=heading)])
    ws.append([description])
    ws.append([_styled(ws, str(c), font=bold) for c in frame.columns])
    wrap = wrap or {}
    for row in frame.itertuples(index=False):
        values = [_value(v) for v in row]
        for j, alignment in wrap.items():
            values[j - 1] = _styled(ws, values[j - 1], alignment=alignment)
        ws.append(values)
    if len(frame) == 0:
        ws.append([NOT_APPLICABLE] * len(frame.columns))
    last = f"{get_column_letter(len(frame.columns))}{3 + max(len(frame), 1)}"
    table = Table(displayName=name, ref=f"A3:{last}")
    table._initialise_columns()  # write-only: the header names are given, not read back
    for column, header in zip(table.tableColumns, frame.columns, strict=True):
        column.name = str(header)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=False)
    with warnings.catch_warnings():
        # openpyxl warns in write-only mode whether or not the columns were added; they were
        warnings.filterwarnings("ignore", message="In write-only mode you must add table columns")
        ws.add_table(table)
