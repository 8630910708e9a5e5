"""The reports as a reviewer's browser shows them: headless Chromium through WebDriver.

Opens ``reports/index.html`` and every report it links: no broken image, no broken link (anchors
and files beside the report), no console error, not even inside the interactive maps' frames.
Screenshots are saved under ``build/screenshots/`` (git-ignored) for a human to look at.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Where
they are missing the test is skipped, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from analysis import config

pytestmark = pytest.mark.slow

SCREENSHOTS = config.ROOT / "build" / "screenshots"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--no-first-run",
                  "--allow-file-access-from-files")

BROKEN_IMAGES = """
return Array.from(document.images)
  .filter(img => !(img.complete && img.naturalWidth > 0))
  .map(img => img.alt || img.src.slice(0, 80));
"""
LINKS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));"
MISSING_ANCHORS = """
return Array.from(document.querySelectorAll('a[href^="#"]'))
  .map(a => a.getAttribute('href').slice(1))
  .filter(id => id && !document.getElementById(id) && !document.getElementById(decodeURIComponent(id)));
"""


def chromium_driver(profile: Path, logging: dict | None = None):
    """Headless Chromium through WebDriver with the house flags and a fresh ``profile``; skips
    the test where Chromium or its driver is missing, except in CI (``CI`` set), where it fails."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "Chromium ou chromedriver absent (paquets Debian chromium et chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,1024")
    options.set_capability("goog:loggingPrefs", logging or {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium_driver(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def _console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"]


def _screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height), 800), 12000))
    target = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(target))
    driver.set_window_size(1280, 1024)
    return target


def _check_page(driver, path: Path) -> list[str]:
    """Open ``path``; return what is wrong with it (empty when nothing)."""
    problems = []
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get(path.as_uri())
    for alt in driver.execute_script(BROKEN_IMAGES):
        problems.append(f"{path.name}: image cassée « {alt} »")
    for anchor in driver.execute_script(MISSING_ANCHORS):
        problems.append(f"{path.name}: ancre absente #{anchor}")
    for href in driver.execute_script(LINKS):
        if href.startswith("#"):
            continue
        parsed = urlparse(href)
        if parsed.scheme in ("http", "https"):
            problems.append(f"{path.name}: lien vers le réseau {href}")
        elif parsed.scheme in ("", "file"):
            target = (path.parent / unquote(parsed.path)).resolve()
            if not target.is_file():
                problems.append(f"{path.name}: lien cassé {href}")
    # Frames (the interactive maps) are pages of their own: their images and errors count too.
    frames = driver.find_elements("css selector", "iframe")
    for index, frame in enumerate(frames):
        driver.switch_to.frame(frame)
        for alt in driver.execute_script(BROKEN_IMAGES):
            problems.append(f"{path.name}: image cassée dans le cadre {index} « {alt} »")
        driver.switch_to.default_content()
    problems += [f"{path.name}: console : {message}" for message in _console_errors(driver)]
    return problems


def test_index_and_every_report_open_cleanly(rendered_suite, browser):
    reports = config.paths().reports
    index = reports / "index.html"
    problems = _check_page(browser, index)
    shots = [_screenshot(browser, "index")]
    pages = [(index.parent / unquote(href)).resolve()
             for href in browser.execute_script(LINKS) if not href.startswith("#")]
    assert len(pages) >= 9, pages
    for page in pages:
        problems += _check_page(browser, page)
        relative = page.relative_to(reports.resolve())
        shots.append(_screenshot(browser, "_".join(relative.with_suffix("").parts)))
        assert browser.title.strip(), page
    assert problems == []
    assert all(shot.is_file() and shot.stat().st_size > 10_000 for shot in shots)


def test_every_sheet_of_every_family_opens_cleanly(rendered_suite, browser, tmp_path):
    """The portal with every family of sheets (buyers, owners, EPT and EPCI) over a copy of the
    rendered suite: the portal and every page it links open with no console error, no broken
    link and no broken image (each sheet, not a sample)."""
    from analysis import buyer_sheets, owner_sheets, portal, territory_sheets
    from analysis.reporting import RenderSummary

    reports = tmp_path / "reports"
    shutil.copytree(config.paths().reports, reports,
                    ignore=shutil.ignore_patterns("_executed", "_staging"))
    buyer_sheets.render_all(reports_dir=reports, jobs=2)
    owner_sheets.render_all(reports_dir=reports, jobs=2)
    territory_sheets.render_all(reports_dir=reports, jobs=2)
    index = portal.write_index(RenderSummary(), reports)
    problems = _check_page(browser, index)
    pages = sorted({(index.parent / unquote(href)).resolve()
                    for href in browser.execute_script(LINKS) if not href.startswith("#")})
    families = {folder: [p for p in pages if p.parent.name == folder]
                for folder in (buyer_sheets.FOLDER, owner_sheets.FOLDER, territory_sheets.FOLDER)}
    assert all(families.values()), {k: len(v) for k, v in families.items()}
    listed = {folder: sorted(p.resolve() for p in (reports / folder).glob("*.html"))
              for folder in families}
    assert {k: sorted(v) for k, v in families.items()} == listed, "every sheet is linked"
    for page in pages:
        if page.suffix == ".html":
            problems += _check_page(browser, page)
    assert problems == []


def test_a_report_shows_its_key_figures_and_contents(rendered_suite, browser):
    reports = config.paths().reports
    page = reports / "2025" / "11" / "rapport_annuel.html"
    browser.get(page.as_uri())
    keys = browser.find_elements("css selector", ".obs-key-value")
    assert len(keys) >= 3 and all(k.text.strip() for k in keys)
    toc = browser.find_elements("css selector", "nav.obs-toc a")
    assert len(toc) >= 6
    assert all(k.is_displayed() for k in keys[:3])


# --- Print (A4) and phone (390 px) ---------------------------------------------------------------

#: The printable width of an A4 page with the reports' margins (210 mm − 2 × 12 mm), in CSS px.
A4_CONTENT_PX = round((210 - 2 * 12) / 25.4 * 96)
#: The printable height of the first page (297 mm − 14 mm − 15 mm), in CSS px.
A4_FIRST_PAGE_PX = round((297 - 14 - 15) / 25.4 * 96)
PHONE_PX = 390

TABLES_TOO_WIDE = """
const width = document.documentElement.clientWidth;
return Array.from(document.querySelectorAll('table')).filter(t => t.getClientRects().length)
  .filter(t => t.getBoundingClientRect().right > width + 1
               || t.scrollWidth > t.parentElement.clientWidth + 1)
  .map(t => (t.closest('.obs-table-wrap')?.querySelector('.obs-caption')?.innerText
             || t.innerText).slice(0, 70) + ` (${t.scrollWidth} px > ${t.parentElement.clientWidth} px)`);
"""
KEYS_ON_FIRST_PAGE = """
const keys = document.querySelector('.obs-keys');
if (!keys) return null;
const held = [];
for (let node = keys; node && node !== document.body; node = node.parentElement) {
  const rule = getComputedStyle(node).breakInside;
  if (rule.startsWith('avoid')) held.push(node.className + ': ' + rule);
}
return {top: keys.getBoundingClientRect().top + window.scrollY, held: held};
"""
MAPS_IN_PRINT = """
return Array.from(document.querySelectorAll('figure.obs-map')).map(f => ({
  frame: f.querySelector('iframe')?.getClientRects().length || 0,
  note: (f.querySelector('.obs-print-note')?.getClientRects().length
         && f.querySelector('.obs-print-note').innerText.trim()) || ''}));
"""
PHONE_PROBLEMS = """
const width = window.innerWidth;
const out = [];
const visible = e => e && e.getClientRects().length && !e.hidden && e.innerText.trim();
for (const t of document.querySelectorAll('table')) {
  if (!t.getClientRects().length || t.closest('.jp-OutputArea-output') === null) continue;
  const frame = t.closest('.obs-table-scroll');
  const name = (t.closest('.obs-table-wrap')?.querySelector('.obs-caption')?.innerText
                || t.innerText).slice(0, 60);
  const outer = frame || t.parentElement;
  if (outer.getBoundingClientRect().right > width + 1) {
    out.push(name + ' : dépasse l\\'écran'); continue; }
  if (t.scrollWidth <= outer.clientWidth + 1) continue;  // fits
  if (!frame || !['auto', 'scroll'].includes(getComputedStyle(frame).overflowX)) {
    out.push(name + ' : coupé, sans défilement'); continue; }
  if (!visible(frame.previousElementSibling)
      || !frame.previousElementSibling.classList.contains('obs-scroll-hint'))
    out.push(name + ' : défile sans le dire');
  for (const cell of t.querySelectorAll('tr > :first-child')) {
    const style = getComputedStyle(cell);
    if (style.position !== 'sticky' || style.textAlign !== 'left') {
      out.push(name + ' : colonne des libellés ' + style.position + ' ' + style.textAlign); break; }
  }
}
for (const frame of document.querySelectorAll('.obs-figure-scroll')) {
  const img = frame.querySelector('img');
  const alt = (img.alt || '').slice(0, 60);
  if (frame.getBoundingClientRect().right > width + 1) out.push(alt + ' : dépasse l\\'écran');
  const floor = parseFloat(img.style.minWidth || '0');
  if (img.getBoundingClientRect().width + 0.5 < floor) out.push(alt + ' : rétréci sous le lisible');
  if (frame.scrollWidth > frame.clientWidth + 1 && !visible(frame.previousElementSibling))
    out.push(alt + ' : figure qui défile sans le dire');
}
if (document.documentElement.scrollWidth > width + 1)
  out.push('la page défile de côté : ' + document.documentElement.scrollWidth + ' px');
return out;
"""


def _report_pages() -> list[Path]:
    reports = config.paths().reports
    return sorted(p for p in reports.glob("*/*/*.html"))


def test_print_is_a4_with_every_column_on_the_page(rendered_suite, browser):
    """Printed (print media, an A4 page's printable width): no table wider than the page, the key
    figures start on page 1 and may break across it, a note where an interactive map was, and
    the PDF's pages are A4."""
    import base64

    problems, maps_seen = [], 0
    pages = _report_pages()
    assert len(pages) >= 9
    try:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": A4_CONTENT_PX, "height": A4_FIRST_PAGE_PX, "deviceScaleFactor": 1,
            "mobile": False})
        for page in pages:
            browser.get(page.as_uri())
            where = f"{page.parent.name}/{page.name}"
            problems += [f"{where}: {t}" for t in browser.execute_script(TABLES_TOO_WIDE)]
            keys = browser.execute_script(KEYS_ON_FIRST_PAGE)
            if keys is not None:
                if keys["top"] > A4_FIRST_PAGE_PX / 2:
                    problems.append(f"{where}: chiffres clés à {keys['top']:.0f} px")
                problems += [f"{where}: chiffres clés insécables ({h})" for h in keys["held"]]
            for figure in browser.execute_script(MAPS_IN_PRINT):
                maps_seen += 1
                if figure["frame"] or "version HTML" not in figure["note"]:
                    problems.append(f"{where}: carte interactive imprimée sans note {figure}")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert maps_seen >= 1
    assert problems == []
    # The PDF a reader gets: A4 pages (595 × 842 pt), as the page's @page asks.
    annual = config.paths().reports / "2025" / "11" / "rapport_annuel.html"
    browser.get(annual.as_uri())
    pdf = base64.b64decode(browser.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})["data"])
    sizes = {(round(float(w)), round(float(h))) for w, h in
             re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)}
    assert sizes == {(595, 842)}, sizes
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "rapport_annuel_impression.pdf").write_bytes(pdf)


def test_on_a_phone_tables_scroll_visibly_and_keep_their_labels(rendered_suite, browser):
    """On a 390 px screen: a table wider than the screen scrolls in its own frame, says so above
    it and keeps its label column (left-aligned) in view; figures are never shrunk below their
    readable width; the page itself never scrolls sideways."""
    problems = []
    try:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PHONE_PX, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        for page in _report_pages():
            browser.get(page.as_uri())
            where = f"{page.parent.name}/{page.name}"
            problems += [f"{where}: {p}" for p in browser.execute_script(PHONE_PROBLEMS)]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "telephone.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert problems == []
