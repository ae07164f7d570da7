"""The policy-facing outputs of a run: charts, ``report.html`` and ``results.xlsx``.

:func:`write_outputs` is what ``evaluate run`` calls inside its atomic output folder: it builds
every chart and count table under one disclosure-control ledger
(:func:`~evaluate.report.publish.build_publication`), then writes the report
(:func:`~evaluate.report.html.write_report`) and the spreadsheet
(:func:`~evaluate.report.spreadsheet.write_spreadsheet`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evaluate.report.content import ReportContent
    from evaluate.report.publish import Publication

__all__ = ["write_outputs", "CHARTS_DIR"]

CHARTS_DIR = "charts"


def write_outputs(folder: str | Path, content: ReportContent) -> Publication:
    """Write ``charts/``, ``report.html`` and ``results.xlsx`` into ``folder``.

    Parameters
    ----------
    folder
        The (temporary) output folder.
    content
        What the run produced.

    Returns
    -------
    evaluate.report.publish.Publication
        The charts and count tables written.
    """
    from evaluate.report.html import write_report
    from evaluate.report.publish import build_publication
    from evaluate.report.spreadsheet import SPREADSHEET_NAME, write_spreadsheet

    folder = Path(folder)
    publication = build_publication(content, folder / CHARTS_DIR)
    write_report(folder, content=content, publication=publication)
    write_spreadsheet(folder / SPREADSHEET_NAME, content=content, publication=publication)
    return publication
