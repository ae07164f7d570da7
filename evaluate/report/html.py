"""``report.html``: one self-contained page for policy teams.

It opens with a plain-language summary per outcome, grouped by intervention (harm and benefit
outcomes first, police activity apart and labelled as such), then the charts at a glance, a
section per analysis (the method in two sentences, charts, failed diagnostics highlighted, the
estimates with adjusted p-values, the before/after counts under disclosure control), data
coverage (validation and join reports), disclosure control, limitations and the run manifest.

Self-contained means: charts are embedded as ``data:`` PNGs, styles are inline, there is no
script, and a Content-Security-Policy forbids the page from loading anything else.
"""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluate.report.content import ReportContent
from evaluate.report.findings import Finding, findings_for, method_text
from evaluate.report.publish import COLUMNS, CountTable, Publication, PublishedChart
from evaluate.results.multiple import ADJUSTMENT_NOTE

__all__ = ["write_report", "report_context", "REPORT_NAME"]

REPORT_NAME = "report.html"

_METHOD_NAMES = {"describe": "descriptive comparison", "its": "interrupted time series",
                 "did": "difference-in-differences", "synthetic_control": "synthetic control"}
_ROLE_TEXT = {"harm": "harm outcome", "benefit": "benefit outcome",
              "activity": "police activity, not a harm outcome"}


def _fmt(x: Any, digits: int = 4) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "" if x is None else str(x)
    if not math.isfinite(v):
        return "\u2013"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}".replace("-", "\u2212")
    return f"{v:,.{digits}g}".replace("-", "\u2212")


def _p(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "\u2013"
    if not math.isfinite(v):
        return "\u2013"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _anchor(*parts: str) -> str:
    return "r-" + re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(p for p in parts if p)).strip("-")


def _chart(c: PublishedChart, heading: str = "") -> dict[str, Any]:
    from PIL import Image

    with Image.open(c.saved.png) as im:
        width, height = im.size
    return {
        "name": c.saved.name,
        "png": base64.b64encode(c.saved.png.read_bytes()).decode("ascii"),
        "alt": c.alt,
        "caption": c.caption,
        "heading": heading or c.saved.title,
        "width": width,
        "height": height,
    }


def _symbol(verdict: str) -> str:
    """A glyph for the direction (the words say it too): down, up, or no clear change."""
    v = verdict.lower()
    if re.search(r"\b(fell|reduced|decreased)\b", v):
        return "\u25bc"
    if re.search(r"\b(rose|increased)\b", v):
        return "\u25b2"
    return "\u25cf"


def _finding_dict(f: Finding, anchor: str) -> dict[str, Any]:
    return {"verdict": f.verdict, "style": f.style, "symbol": _symbol(f.verdict), "sentence": f.sentence,
            "caveat": f.caveat, "anchor": anchor, "checks": f.checks}


def _rows_text(r: Any) -> str:
    rows = r.rows
    dropped = ", ".join(f"{n:,} {why}" for why, n in rows.dropped.items() if n)
    return f"{rows.n_used:,} of {rows.n_input:,}" + (f" ({dropped})" if dropped else "")


_DETAIL = re.compile(r"^att_(e|t)-?\d+$|^att_g.+_t.+$")
MAX_ROWS = 30
"""Results with more estimands than this show their summary estimands only (the event-time,
calendar-time and group-time detail is in the chart, results.csv and results.xlsx)."""


def _estimates(content: ReportContent, index: int) -> tuple[list[dict[str, str]], int]:
    r = content.results[index]
    table = content.table
    mask = (table["analysis"] == r.analysis) & (table["outcome"] == r.outcome) & (table["unit"].fillna("") == r.unit)
    sub = table[mask]
    if len(sub) != len(r.estimates):  # fall back to the result's own rows
        sub = r.tidy()
    hidden = 0
    if len(sub) > MAX_ROWS:
        keep = ~sub["estimand"].astype(str).str.match(_DETAIL)
        hidden = int((~keep).sum())
        sub = sub[keep].head(MAX_ROWS)
        hidden = len(table[mask]) - len(sub) if len(table[mask]) else hidden
    out = []
    for _, e in sub.iterrows():
        lo, hi = e["ci_lower"], e["ci_upper"]
        interval = f"{_fmt(lo)} to {_fmt(hi)}" if np.isfinite(float(lo)) and np.isfinite(float(hi)) else "\u2013"
        out.append({"estimand": e["estimand"], "estimate": _fmt(e["estimate"]), "interval": interval,
                    "p": _p(e["p_value"]), "p_holm": _p(e.get("p_value_holm")), "p_bh": _p(e.get("p_value_bh")),
                    "note": "" if pd.isna(e["note"]) else str(e["note"])})
    return out, hidden


def _count_table(t: CountTable) -> dict[str, Any]:
    pub = t.published()
    rows = []
    for _, row in pub.iterrows():
        cells = [v if isinstance(v, str) else _count(v) for v in (row[c] for c in COLUMNS)]
        rows.append({"outcome_label": row["outcome_label"], "group": row["group"], "cells": cells})
    return {"caption": t.caption, "rows": rows}


def _count(v: Any) -> str:
    v = float(v)
    if not math.isfinite(v):
        return "[x]"
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def _timing_text(content: ReportContent, name: str) -> str:
    t = content.timings.get(name, {}).get(content.main_frequency)
    if t is None:
        return ""
    cohorts = "; ".join(f"from {k}: {len(v)} area{'s' if len(v) != 1 else ''} ({', '.join(v[:6])}{', ...' if len(v) > 6 else ''})"
                        for k, v in t.cohorts.items())
    phase = (f" The first {t.phase_in_periods} {t.frequency.replace('_', ' ')}s are a phase-in "
             f"({'left out of the analyses' if t.phase_in_handling == 'exclude' else 'kept and flagged'})."
             if t.phase_in_periods else "")
    return f"{t.kind.capitalize()}: {cohorts}; {len(t.never_treated)} areas never treated.{phase}"


def _limitations(content: ReportContent, pub: Publication) -> list[str]:
    out = [
        "These are observational estimates. An interrupted time series assumes the pre-intervention trend and "
        "seasonality would have continued; a comparison of areas assumes the groups would otherwise have "
        "changed alike. Anything else that changed at the same time (other schemes, recording changes, the "
        "pandemic) can bias them.",
        "Police activity (searches, arrests, seizures, referrals) measures what police did, not harm. A change in "
        "activity after an intervention says the intervention changed policing; it is not a harm outcome.",
        "Recorded harms depend on recording: more enforcement can itself change what is recorded (more "
        "naloxone carried, more call-outs attended).",
        "Several outcomes are tested in each analysis; see the adjusted p-values (Holm and Benjamini-Hochberg) "
        "before reading much into a single borderline result.",
        "Counts below the disclosure threshold, and counts that would reveal them, are suppressed; harm-index "
        "values and model estimates are not suppressed. A harm index of one small area, published beside its "
        "component counts, could reveal a suppressed component: check before publishing such a chart.",
    ]
    if any(r.method == "describe" for r in content.results):
        out.append("Descriptive comparisons (method describe) are a first look, not causal estimates, and with one "
                   "treated area they have no interval.")
    if any("SIMULATED" in str(i.get("path", "")).upper() for i in content.manifest.get("inputs", [])) or \
            "simulated" in content.config.title.lower():
        out.append("The data of this evaluation are simulated: the numbers describe no real place and must not be "
                   "quoted as evidence.")
    return out


def report_context(content: ReportContent, pub: Publication) -> dict[str, Any]:
    """The values the report template is filled with (exposed for tests and other formats)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg_version = version("evaluate")
    except PackageNotFoundError:
        pkg_version = "unknown"
    panels = content.panels
    findings: dict[int, Finding] = dict(enumerate(findings_for(content)))
    anchors = {i: _anchor(r.analysis, r.outcome, r.unit) for i, r in enumerate(content.results)}

    interventions = []
    names = [iv.name for iv in content.config.interventions]
    for name in names + sorted({r.intervention for r in content.results} - set(names)):
        iv = content.intervention(name)
        idx = [i for i, r in enumerate(content.results) if r.intervention == name]
        interventions.append({
            "name": name,
            "label": content.intervention_label(name),
            "description": iv.description if iv is not None else "",
            "timing_text": _timing_text(content, name),
            "outcome_findings": [_finding_dict(findings[i], anchors[i]) for i in idx
                                 if content.results[i].outcome_role != "activity"],
            "activity_findings": [_finding_dict(findings[i], anchors[i]) for i in idx
                                  if content.results[i].outcome_role == "activity"],
        })

    overview = []
    for c in pub.charts_for("overview"):
        heading = ("Effects on harm and benefit outcomes" if c.kind == "forest"
                   else f"Outputs and outcomes: {c.saved.title.split(':')[0]}")
        overview.append(_chart(c, heading))

    analyses = []
    for a in content.config.analyses:
        results = []
        for i, r in enumerate(content.results):
            if r.analysis != a.name:
                continue
            f = findings[i]
            estimates, hidden = _estimates(content, i)
            unit = f" ({r.unit})" if r.unit else ""
            results.append({
                "anchor": anchors[i],
                "heading": f"{r.outcome_label}{unit}",
                "role": r.outcome_role,
                "role_text": _ROLE_TEXT.get(r.outcome_role, r.outcome_role),
                "verdict": f.verdict, "style": f.style, "symbol": _symbol(f.verdict), "sentence": f.sentence,
                "charts": [_chart(c) for c in pub.charts_for(a.name, i)],
                "checks": f.checks,
                "warnings": list(r.warnings),
                "estimates": estimates,
                "hidden": hidden,
                "ci_text": f"{r.ci_level:.0%}",
                "se_type": r.se_type,
                "rows_text": _rows_text(r),
            })
        table = pub.table_for(a.name)
        analyses.append({
            "name": a.name,
            "method_name": _METHOD_NAMES.get(a.method, a.method),
            "method_text": method_text(a.method, controlled=getattr(a, "control", None) is not None),
            "description": a.description,
            "intervention_label": content.intervention_label(a.intervention),
            "results": results,
            "other_charts": [_chart(c) for c in pub.charts_for(a.name) if c.result is None],
            "count_table": _count_table(table) if table is not None else None,
        })

    validation = content.reports.get("validation", {})
    sources = []
    for s in validation.get("sources", []):
        periods = f"{s.get('first_period')} to {s.get('last_period')} ({s.get('frequency')})" if s.get("first_period") else "\u2013"
        sources.append({"name": s.get("name"), "entity": s.get("entity"), "path": s.get("path"),
                        "rows": f"{s.get('rows', 0):,}", "areas": s.get("areas", ""), "periods": periods,
                        "missing": f"{sum((s.get('missing') or {}).values()):,}",
                        "suppressed": f"{sum((s.get('suppressed') or {}).values()):,}"})
    issues = [{"severity": i.get("severity", ""), "source": i.get("source", ""),
               "text": (f"{i['column']}: " if i.get("column") else "") + str(i.get("message", ""))
               + (f" ({i['count']:,} cells" if isinstance(i.get("count"), int) else "")
               + (f", e.g. {'; '.join(map(str, i.get('examples', [])[:3]))})" if i.get("examples") else
                  (")" if isinstance(i.get("count"), int) else ""))}
              for i in validation.get("issues", [])]
    validation_summary = (f"{len(sources)} sources passed validation with {validation.get('n_warnings', 0)} "
                          f"warning(s).") if validation else "No validation report."
    joins = []
    for freq, j in content.reports.get("join", {}).items():
        joins.append({
            "caption": (f"The {freq} panel: {j.get('areas')} areas x {j.get('periods')} periods "
                        f"({j.get('first_period')} to {j.get('last_period')}), {j.get('rows', 0):,} rows; "
                        f"join policy {j.get('policy')}."),
            "sources": [{k: (f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in s.items()}
                        for s in j.get("sources", [])],
            "notes": j.get("notes", []),
        })
    harm = []
    for freq, hs in content.reports.get("harm_index", {}).items():
        for h in hs:
            weights = ", ".join(f"{k} x {v:g}" for k, v in (h.get("weights") or {}).items())
            harm.append({"label": h.get("label"), "column": h.get("column"), "frequency": freq,
                         "weights_text": f"weights {weights}", "unit": h.get("unit"),
                         "source": h.get("source"), "cells_missing": h.get("cells_missing"),
                         "cells_suppressed": h.get("cells_suppressed")})
    m = content.manifest
    manifest = {
        "config_path": (m.get("config") or {}).get("path", ""),
        "config_sha256": (m.get("config") or {}).get("sha256", ""),
        "started_at": m.get("started_at", ""),
        "command": m.get("command", ""),
        "inputs": m.get("inputs", []),
        "versions": sorted((m.get("versions") or {}).items()),
        "seeds": sorted((m.get("seeds") or {}).items()),
    }
    return {
        "title": content.config.title,
        "name": content.config.name,
        "generated_at": content.generated_at,
        "version": pkg_version,
        "n_results": len(content.results),
        "interventions": interventions,
        "overview_charts": overview,
        "analyses": analyses,
        "count_columns": COLUMNS,
        "adjustment_note": ADJUSTMENT_NOTE,
        "validation_summary": validation_summary,
        "sources": sources,
        "issues": issues,
        "joins": joins,
        "harm_indices": harm,
        "disclosure": pub.disclosure or {"min_count": content.min_count, "cells": 0, "primary": 0,
                                         "secondary": 0, "unavailable": 0, "conflicting": 0},
        "limitations": _limitations(content, pub),
        "manifest": manifest,
        "problems": pub.notes,
        "panels": list(panels),
    }


def write_report(folder: str | Path, *, content: ReportContent, publication: Publication) -> Path:
    """Write ``report.html`` into ``folder``.

    Parameters
    ----------
    folder
        The output folder.
    content
        What the run produced.
    publication
        Its charts and count tables, already under disclosure control
        (:func:`evaluate.report.publish.build_publication`).

    Returns
    -------
    pathlib.Path
        The report's path.
    """
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("evaluate.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("report.html.j2").render(**report_context(content, publication))
    path = Path(folder) / REPORT_NAME
    path.write_text(html, encoding="utf-8")
    return path
