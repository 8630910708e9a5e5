"""The reports as a reviewer's browser shows them: headless Chromium through WebDriver.

Opens ``reports/index.html`` and every report it links: no broken image, no broken link (anchors
and files beside the report), no console error, not even inside the interactive maps' frames.
Screenshots are saved under ``build/screenshots/`` (git-ignored) for a human to look at.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Where
they are missing the test is skipped, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
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


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
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
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,1024")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
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


def test_a_report_shows_its_key_figures_and_contents(rendered_suite, browser):
    reports = config.paths().reports
    page = reports / "2025" / "11" / "rapport_annuel.html"
    browser.get(page.as_uri())
    keys = browser.find_elements("css selector", ".obs-key-value")
    assert len(keys) >= 3 and all(k.text.strip() for k in keys)
    toc = browser.find_elements("css selector", "nav.obs-toc a")
    assert len(toc) >= 6
    assert all(k.is_displayed() for k in keys[:3])
