"""Any région end to end (issue 18, point 5): for Bretagne (53), Corse (94: 2A / 2B) and La
Réunion (04: 974), generate a tiny data set, build it, render a département sheet (and, for
Corse, the régional report, the open data and the site) through the ``observatoire --region``
command, then open what was rendered in headless Chromium.

Each région's pages must name that région and its départements, never Île-de-France's, and open
with no broken image or link and no console error. Cost: three tiny generations and builds, four
papermill renders, one site.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import config
from analysis.synthetic import generate
from test_browser import _check_page, _screenshot, browser  # noqa: F401  (browser: a fixture)

pytestmark = pytest.mark.slow

#: région → the département sheet rendered (Corse: the first of its two « A / B » départements).
SHEETS = {"53": "29", "94": "2A", "04": "974"}
YEARS = (2023, 2024)
PERIOD = "2024"
SCALE = 0.2
SEED = 11
IDF = re.compile(r"Île-de-France|Ile-de-France|Seine-Saint-Denis|Grand Paris|GPSEA")
#: The one sentence that may name the Grand Paris Express elsewhere: to say it does not apply.
NOT_APPLICABLE = re.compile(r"Sans objet pour cette région : [^.<]*")


def _run(code: str, env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "analysis.cli", "--region", code, *args],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
    return result.stdout


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Each région generated, built and rendered in its own folders; returns the reports folders."""
    out = {}
    for code, departement in SHEETS.items():
        root = tmp_path_factory.mktemp(f"e2e{code}")
        raw = root / "raw"
        generate(raw, seed=SEED, first_year=YEARS[0], last_year=YEARS[1], scale=SCALE,
                 region=code)
        env = {**os.environ, "OBSERVATOIRE_RAW_DIR": str(raw),
               "OBSERVATOIRE_PROCESSED_DIR": str(root / "processed"),
               "OBSERVATOIRE_REPORTS_DIR": str(root / "reports"),
               "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("OBSERVATOIRE_REGION", None)   # the --region option alone chooses
        _run(code, env, "build", "--quiet")
        reports = ["--report", "fiche_departementale", "--territory", departement]
        if code == "94":
            reports += ["--report", "rapport_annuel", "--territory", code]
        _run(code, env, "report", "--period", PERIOD, "--quiet", *reports)
        if code == "94":
            _run(code, env, "opendata")
        out[code] = root / "reports"
    return out


def _pages(reports: Path) -> list[Path]:
    return sorted(p for p in reports.rglob("*.html") if "_executed" not in p.parts)


@pytest.mark.parametrize("code", list(SHEETS))
def test_the_regions_pages_name_the_region_and_never_ile_de_france(rendered, code):
    reports = rendered[code]
    with config.use_region(code):
        region_name = config.REGION_NAME
        departement_name = config.territory_name(SHEETS[code])
    sheet = [p for p in _pages(reports) if "fiche_departementale" in p.name]
    assert len(sheet) == 1, _pages(reports)
    text = sheet[0].read_text(encoding="utf-8")
    assert departement_name in text
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert region_name in index
    for page in _pages(reports):
        found = IDF.findall(NOT_APPLICABLE.sub("", page.read_text(encoding="utf-8")))
        assert not found, (page.name, found[:3])


def test_corsica_regional_report_covers_both_departements_and_the_site(rendered):
    reports = rendered["94"]
    annual = [p for p in _pages(reports) if "rapport_annuel" in p.name]
    assert len(annual) == 1
    text = annual[0].read_text(encoding="utf-8")
    assert "Corse-du-Sud" in text and "Haute-Corse" in text
    assert "Sans objet pour cette région" in text   # no Grand Paris Express in Corsica
    site = sorted((reports / config.SITE_FOLDER).glob("*.html"))
    assert {p.stem for p in site} >= {"progression", "cartes"}


def test_every_regions_page_opens_cleanly_in_the_browser(rendered, browser):
    problems = []
    for code, reports in rendered.items():
        for page in _pages(reports):
            problems += [f"{code}: {p}" for p in _check_page(browser, page)]
    browser.get((rendered["94"] / "index.html").as_uri())
    _screenshot(browser, "region-94-index")
    assert problems == []
