"""report.html: plain-language findings first, self-contained, accessible, honest about activity."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evaluate.pipeline.run import RunSummary, run_evaluation
from evaluate.report.content import ReportContent
from evaluate.report.findings import failed_checks, finding
from evaluate.report.html import write_report
from evaluate.report.publish import build_publication
from evaluate.results import EffectResult, RowAccounting
from evaluate.results.table import results_frame

ANALYSES = {"analyses": [
    {"name": "first_look", "method": "describe", "intervention": "scheme",
     "outcomes": ["nonfatal_overdoses_rate", "drug_stop_search"]},
    {"name": "scheme_its", "method": "its", "intervention": "scheme", "unit": "treated_total",
     "outcomes": ["nonfatal_overdoses", "drug_stop_search"], "placebo": False, "n_sim": 200},
]}


_SHARED: dict[str, RunSummary] = {}


def shared_run(factory: pytest.TempPathFactory) -> RunSummary:
    """One run of the small project for the report, spreadsheet and browser tests (read only)."""
    if "run" not in _SHARED:
        _SHARED["run"] = _run(factory.mktemp("report"))
    return _SHARED["run"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    return shared_run(tmp_path_factory)


def _run(root: Path, out: str = "out") -> RunSummary:
    import yaml

    from tests.conftest import BASE_CONFIG, BASE_FILES, deep_merge

    for rel, text in BASE_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    cfg = deep_merge(BASE_CONFIG, {})
    cfg["analyses"] = ANALYSES["analyses"]
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return run_evaluation(root / "config.yaml", out=root / out)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.images: list[dict[str, str | None]] = []
        self.tables = 0
        self.captions = 0
        self.th_scoped = 0
        self.th = 0
        self.tags: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "img":
            self.images.append(a)
        if tag == "table":
            self.tables += 1
        if tag == "caption":
            self.captions += 1
        if tag == "th":
            self.th += 1
            self.th_scoped += "scope" in a
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(str(a[key]))


def _page(run: RunSummary) -> tuple[str, _Page]:
    html = (run.output_dir / "report.html").read_text(encoding="utf-8")
    p = _Page()
    p.feed(html)
    return html, p


def test_run_writes_report_charts_and_spreadsheet_listed_in_the_manifest(run: RunSummary) -> None:
    out = run.output_dir
    assert (out / "report.html").is_file() and (out / "results.xlsx").is_file()
    pngs = sorted(p.name for p in (out / "charts").glob("*.png"))
    assert {"forest.png", "outputs_outcomes_scheme.png", "scheme_its_nonfatal_overdoses_treated_total.png",
            "first_look_nonfatal_overdoses_rate_trend.png"} <= set(pngs)
    assert all((out / "charts" / p.replace(".png", ".svg")).is_file() for p in pngs)
    manifest = json.loads((out / "manifest.json").read_text())
    for name in ("report.html", "results.xlsx", "charts/forest.png", "charts/forest.svg"):
        assert len(manifest["outputs"][name]) == 64
    assert manifest["started_at"] <= manifest["finished_at"]


def test_report_is_self_contained(run: RunSummary) -> None:
    html, page = _page(run)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert not re.search(r"https?://", html)
    assert "url(" not in html
    assert all(x.startswith(("data:image/png;base64,", "#")) for x in page.links), page.links
    assert "Content-Security-Policy" in html


def test_every_image_has_alt_text_and_tables_are_real_tables(run: RunSummary) -> None:
    html, page = _page(run)
    alts = {c.alt for c in run.publication.charts}
    assert page.images and all(img.get("alt") and len(str(img["alt"])) > 40 for img in page.images)
    assert {str(img["alt"]) for img in page.images} <= {a.replace("\u2212", "\u2212") for a in alts}
    assert page.tables >= 5 and page.captions == page.tables
    assert page.th_scoped == page.th
    assert 'lang="en"' in html


def test_headings_are_in_order(run: RunSummary) -> None:
    _, page = _page(run)
    h = page.headings
    assert h[0] == 1 and h.count(1) == 1
    for a, b in zip(h, h[1:], strict=False):
        assert b <= a + 1, f"heading jumps from h{a} to h{b}"


def test_report_opens_with_the_plain_language_summary(run: RunSummary) -> None:
    html, _ = _page(run)
    main = html[html.index('<main id="main">'):]
    first_h2 = re.search(r"<h2[^>]*>([^<]+)</h2>", main)
    assert first_h2 is not None and first_h2.group(1) == "Summary of findings"
    summary = main[: main.index('id="overview"')]
    assert re.search(r"(fell|rose) \d+% \(95% CI|estimated change after the scheme began is", summary)
    assert "per 100,000 residents" in summary
    assert summary.count("Caveat:") >= 4
    for section in ("Data coverage", "Disclosure control", "Limitations", "Run manifest", "Multiple outcomes"):
        assert f">{section}</h2>" in html
    assert "Holm" in html and "Benjamini-Hochberg" in html


def test_police_activity_is_never_reported_as_harm_reduction(run: RunSummary) -> None:
    html, _ = _page(run)
    items = re.findall(r'<li class="(\w+)"><span class="verdict \w+">[^<]*</span>(.*?)</li>', html, flags=re.S)
    activity = [text for cls, text in items if "Drug stop and searches" in text or "drug stop and searches" in text]
    assert activity
    for text in activity:
        assert "Police activity:" in text and "(a change in police activity, not a measure of harm)" in text
    verdicts = re.findall(r'<li class="activity"><span class="verdict activity">[^A-Za-z]*([^<]+)</span>', html)
    assert verdicts and not any("Harm" in v for v in verdicts)
    assert "drug_stop_search" not in set(run.publication.charts[0].data.get("outcome", []))  # forest: no activity


def test_results_csv_has_adjusted_p_values_and_outputs_are_reproducible(run: RunSummary, tmp_path: Path) -> None:
    csv = pd.read_csv(run.output_dir / "results.csv")
    assert {"p_value_holm", "p_value_bh"} <= set(csv.columns)
    again = _run(tmp_path, "again")
    assert (again.output_dir / "results.csv").read_bytes() == (run.output_dir / "results.csv").read_bytes()
    for png in sorted((run.output_dir / "charts").glob("*")):
        assert (again.output_dir / "charts" / png.name).read_bytes() == png.read_bytes(), png.name


def _est(rows: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([
        {"estimand": k, "estimate": v[0], "std_error": 0.1, "ci_lower": v[1], "ci_upper": v[2], "p_value": 0.03,
         "n_obs": 50, "n_areas": 1, "n_periods": 50, "note": ""}
        for k, v in rows.items()
    ])


def _res(role: str, rows: dict[str, tuple[float, float, float]], method: str = "its", **kw: Any) -> EffectResult:
    base = dict(analysis="a", method=method, estimator="quasipoisson", outcome="nonfatal_overdoses", outcome_role=role,
                outcome_label="Non-fatal overdose call-outs", intervention="crackdown", estimates=_est(rows),
                ci_level=0.95, se_type="t", rows=RowAccounting(50, 50, {}), unit="SIM26", diagnostics={"n_post": 30})
    base.update(kw)
    return EffectResult(**base)  # type: ignore[arg-type]


def test_findings_state_direction_size_interval_and_a_caveat() -> None:
    f = finding(_res("harm", {"relative_change": (-0.12, -0.19, -0.04), "cumulative_averted_per_100k": (31, 10, 52)}),
                intervention_label="the crackdown")
    assert f.verdict == "Harm reduced" and f.style == "better"
    assert "fell 12% (95% CI 4% to 19%) after the crackdown began" in f.sentence
    assert "about 31.0 fewer per 100,000 residents over the 30 periods after the start" in f.sentence
    assert f.caveat == "An observational estimate: other changes at the same time could explain it."
    f = finding(_res("harm", {"relative_change": (0.05, -0.02, 0.12)}), intervention_label="the crackdown")
    assert f.verdict == "No clear evidence either way" and "an interval that includes no change" in f.sentence
    f = finding(_res("harm", {"relative_change": (0.2, 0.05, 0.3)}), intervention_label="the crackdown")
    assert f.verdict == "Harm increased"
    f = finding(_res("benefit", {"relative_change": (0.2, 0.05, 0.3)}))
    assert f.verdict == "Benefit rose"


def test_activity_findings_are_changes_in_police_activity() -> None:
    f = finding(_res("activity", {"relative_change": (-0.3, -0.4, -0.2)}, outcome_label="Drug stop and searches"),
                intervention_label="the crackdown")
    assert f.verdict == "Police activity fell" and "harm" not in f.verdict.lower()
    assert f.sentence.startswith("Police activity: drug stop and searches in SIM26 fell 30%")
    assert f.sentence.endswith("(a change in police activity, not a measure of harm).")


def test_caveats_and_failed_checks_come_from_warnings_and_diagnostics() -> None:
    r = _res("harm", {"relative_change": (-0.2, -0.3, -0.1), "level_change": (-0.2, -0.3, -0.1)},
             warnings=("placebo dates in the pre-period give level changes as large as the real one",))
    assert finding(r).caveat.startswith("Placebo dates before the start show changes as large")
    r = _res("harm", {"relative_change": (-0.2, -0.3, -0.1)},
             diagnostics={"autocorrelation": {"ljung_box": {"p_value": 0.01}, "durbin_watson": 1.2},
                          "pretrend": {"p_value": 0.002}})
    checks = failed_checks(r)
    assert any("Ljung-Box" in c for c in checks) and any("Durbin-Watson" in c for c in checks)
    assert any("pre-trends differ" in c for c in checks)
    assert "interval may be too narrow" in finding(r).caveat


def test_results_of_other_methods_are_summarised_generically() -> None:
    did = _res("harm", {"att": (-2.0, -3.0, -1.0), "att_e0": (-1.0, -2.0, 0.5)}, method="did", unit="all areas")
    f = finding(did, intervention_label="diversion")
    assert f.verdict == "Harm reduced" and "the average effect on the treated areas" in f.sentence
    assert " in all areas" not in f.sentence
    ppml = _res("harm", {"level_change": (-0.1, -0.15, -0.05), "rate_ratio": (0.9, 0.86, 0.95)}, method="did")
    assert "fell 10%" in finding(ppml).sentence


def test_report_renders_failed_diagnostics_and_unknown_methods(run: RunSummary, tmp_path: Path) -> None:
    results = list(run.results)
    i = next(k for k, r in enumerate(results) if r.analysis == "scheme_its")
    diag = {**results[i].diagnostics, "autocorrelation": {"ljung_box": {"p_value": 0.004, "statistic": 30.0}}}
    results[i] = dataclasses.replace(results[i], diagnostics=diag)
    synth = _res("harm", {"att": (-1.5, -2.5, -0.5)}, method="synthetic_control", analysis="first_look",
                 intervention="scheme", outcome="nonfatal_overdoses_rate", unit="A1",
                 outcome_label="Non-fatal overdoses per 100,000 residents")
    results.append(synth)
    prepared = run.prepared
    content = ReportContent(config=prepared.loaded.model, results=results, table=results_frame(results),
                            panels=prepared.panels, timings=prepared.timings, reports=prepared.reports(),
                            manifest={}, generated_at="2026-01-01T00:00:00+00:00")
    pub = build_publication(content, tmp_path / "charts")
    html = write_report(tmp_path, content=content, publication=pub).read_text()
    assert "Failed diagnostics" in html and "Ljung-Box test finds autocorrelation" in html
    assert "Non-fatal overdoses per 100,000 residents (A1)" in html  # rendered with its estimates table
    assert "<code>att</code>" in html and not pub.notes
    from evaluate.report.findings import method_text

    assert method_text("synthetic_control").startswith("Synthetic control: a weighted combination")
    assert "Method 'new_method'" in method_text("new_method")


def test_counts_in_the_report_tables_are_disclosure_controlled(run: RunSummary) -> None:
    table = run.publication.table_for("first_look")
    assert table is not None
    pub = table.published()
    assert set(pub["group"]) == {"Treated areas", "Comparison areas", "All areas"}
    truth = pd.read_csv(run.prepared.loaded.base_dir / "data" / "harm.csv")
    treated_before = truth[truth["area_code"].isin(["A1", "A2"]) & (truth["period"] < "2020-01")]["nonfatal_overdoses"].sum()
    row = pub[(pub["variable"] == "nonfatal_overdoses") & (pub["group"] == "Treated areas")].iloc[0]
    assert float(row["Before the start"]) == treated_before
    assert np.isfinite(run.publication.disclosure["cells"])
