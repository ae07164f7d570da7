"""report.html in a real browser: every image loads, nothing is fetched, the console is clean.

Uses Debian's ``chromium`` (``.ci/run`` installs it when absent) through Python playwright, never
a browser downloaded by ``playwright install``. A screenshot is saved under ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from evaluate.pipeline.run import RunSummary

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (Debian package 'chromium'; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    from tests.test_report import shared_run

    return shared_run(tmp_path_factory)


def _open(report: Path, screenshot: bool = False) -> dict[str, list]:
    """Open a page in headless chromium with a fresh profile; record what it did."""
    from playwright.sync_api import sync_playwright

    url = report.as_uri()
    seen: dict[str, list] = {"requests": [], "console": [], "errors": [], "images": [], "headings": []}
    profile = Path(tempfile.mkdtemp(prefix="evaluate-chromium-"))
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
                viewport={"width": 1200, "height": 900},
            )
            try:
                # anything but the page itself or an embedded data: image is a network request
                def route(r: object) -> None:
                    req = r.request  # type: ignore[attr-defined]
                    if req.url == url or req.url.startswith("data:"):
                        r.continue_()  # type: ignore[attr-defined]
                    else:
                        seen["requests"].append(req.url)
                        r.abort()  # type: ignore[attr-defined]

                context.route("**/*", route)
                page = context.new_page()
                page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: seen["errors"].append(str(e)))
                page.goto(url, wait_until="load")
                seen["images"] = page.evaluate(
                    "Array.from(document.images).map(i => ({src: i.src.slice(0, 30), ok: i.complete && i.naturalWidth > 0, alt: i.alt}))"
                )
                seen["headings"] = page.evaluate("Array.from(document.querySelectorAll('h1,h2')).map(h => h.textContent)")
                if screenshot:
                    ARTIFACTS.mkdir(exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
                    page.locator("#analyses").scroll_into_view_if_needed()
                    page.screenshot(path=str(ARTIFACTS / "report-analyses.png"), full_page=False)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return seen


def test_report_loads_offline_in_chromium(run: RunSummary) -> None:
    seen = _open(run.output_dir / "report.html", screenshot=True)
    images = seen["images"]
    assert images, "the report has no images"
    assert all(i["ok"] for i in images), [i for i in images if not i["ok"]]
    assert all(i["src"].startswith("data:image/png") and i["alt"] for i in images)
    assert not seen["requests"], f"the report requested {seen['requests']}"
    assert not [c for c in seen["console"] if c.startswith("error")], seen["console"]
    assert not seen["errors"], seen["errors"]
    assert seen["headings"][0] == run.prepared.loaded.model.title and "Summary of findings" in seen["headings"]
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_the_harness_would_notice_a_network_request(run: RunSummary, tmp_path: Path) -> None:
    """Control: the same report with an external image (and without its security policy) is caught."""
    html = (run.output_dir / "report.html").read_text(encoding="utf-8")
    html = html.replace('<meta http-equiv="Content-Security-Policy"', '<meta name="x-removed"')
    html = html.replace("</main>", '<img src="https://example.invalid/tracker.png" alt="tracker"></main>')
    bad = tmp_path / "bad.html"
    bad.write_text(html, encoding="utf-8")
    seen = _open(bad)
    assert seen["requests"] == ["https://example.invalid/tracker.png"]
    assert not all(i["ok"] for i in seen["images"])
