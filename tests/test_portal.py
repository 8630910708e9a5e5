"""The portal (``reports/index.html``, issue 16 point 5): every page on disk reachable in at most
two clicks, by territory and by period, the families' sections, texts escaped, nothing fetched.

No notebook is executed: the reports are records and pages written by hand in a temporary folder
(the rendered suite's index is checked in test_reports.py and test_browser.py)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from analysis import config
from analysis.reporting import RenderSummary, write_index

HOSTILE = '</script><img src=x onerror="alert(1)">'


class _Page(HTMLParser):
    """The links of a page, and which of them sit inside a folded ``<details>``."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, bool]] = []
        self.depth = 0
        self.meta: list[dict] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.depth += 1
        elif tag == "a" and attrs.get("href"):
            self.links.append((attrs["href"], self.depth > 0))
        elif tag == "meta":
            self.meta.append(attrs)
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self.depth -= 1


def _report(reports: Path, period: str, territory: str, slug: str, figure: str,
            label: str = "des marchés avec une considération sociale") -> Path:
    folder = reports / period / territory
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{slug}.html"
    page.write_text(f"<html lang='fr'><title>{slug}</title></html>", encoding="utf-8")
    record = {"slug": slug, "territory": territory, "period": period,
              "key_figures": [{"label": label, "value": figure, "detail": "", "headline": True}]}
    page.with_suffix(".json").write_text(json.dumps(record), encoding="utf-8")
    return page


@pytest.fixture
def reports(tmp_path, small_warehouse) -> Path:
    reports = tmp_path / "reports"
    pages = [_report(reports, "2025", "11", "rapport_annuel", "27,0 %"),
             _report(reports, "2025", "93", "fiche_departementale", "24,0 %", label=HOSTILE),
             _report(reports, "2025", "75", "fiche_departementale", "25,0 %"),
             _report(reports, "2025", "11", "progression_clauses", "27,0 %"),
             _report(reports, "2024", "11", "rapport_annuel", "26,0 %"),
             _report(reports, "2025-T2", "93", "fiche_departementale", "23,0 %")]
    reports.joinpath("pages.json").write_text(json.dumps([str(p) for p in pages]))
    return reports


def test_every_report_is_within_two_clicks_and_the_latest_within_one(reports):
    index = write_index(RenderSummary(), reports)
    page = _Page()
    page.feed(index.read_text(encoding="utf-8"))
    targets = {}
    for href, folded in page.links:
        if href.startswith("#"):
            continue
        target = (index.parent / unquote(href)).resolve()
        assert target.is_file(), href
        targets[target] = min(targets.get(target, 2), 2 if folded else 1)
    expected = {Path(p).resolve() for p in json.loads((reports / "pages.json").read_text())}
    assert set(targets) == expected
    latest = {p for p in expected if p.parent.parent.name == "2025"}
    assert all(targets[p] == 1 for p in latest), "the latest period is one click away"


def test_cards_by_territory_and_periods_folded(reports):
    text = write_index(RenderSummary(), reports).read_text(encoding="utf-8")
    cards = re.findall(r'<h3 id="carte-(\w+)">', text)
    assert cards == ["11", "75", "93"], "the région first, then the départements in order"
    assert "Par territoire — Année 2025" in text
    folded = re.findall(r'<details id="periode-([^"]+)">', text)
    assert folded == ["2025-T2", "2024"]
    assert '<h3 id="periode-2025">' in text


def test_texts_are_escaped_and_nothing_is_fetched(reports):
    text = write_index(RenderSummary(), reports).read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert HOSTILE not in text and "&lt;/script&gt;&lt;img" in text
    assert page.scripts == 1, "one inline script: the offline filter"
    csp = [m["content"] for m in page.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "http" not in csp[0]
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert 'lang="fr"' in text


def test_failed_reports_are_listed_as_failed(reports):
    from analysis.reporting import SPECS, Job, JobResult
    from analysis.periods import Period

    job = Job(SPECS["fiche_departementale"], "77", Period.parse("2025"))
    summary = RenderSummary(results=[JobResult(job, error="boom", seconds=1.0)])
    text = write_index(summary, reports).read_text(encoding="utf-8")
    assert "Seine-et-Marne (77)" in text and "échec du rendu" in text


def test_families_have_a_section_and_a_link_in_the_navigation(reports, monkeypatch):
    import importlib

    from analysis import buyer_sheets, owner_sheets, portal

    monkeypatch.setattr(config, "BUYER_SHEET_MIN_CONTRACTS", 250)
    buyer_sheets.render_all(reports_dir=reports, jobs=1)
    owner_sheets.render_all(reports_dir=reports, jobs=1)
    text = write_index(RenderSummary(), reports).read_text(encoding="utf-8")
    shown = 0
    for family in portal.FAMILIES:
        section = importlib.import_module(family.module).index_section(reports)
        linked = f'<a href="#{family.anchor}">' in text
        assert linked == bool(section), family
        if section:
            assert f'id="{family.anchor}"' in section, family
            shown += 1
    assert shown >= 2
    assert 'data-filtre-liste="liste-acheteurs"' in text
