"""The report suite executed end to end on small data, exported to HTML without code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pandas as pd
import pytest

from analysis import config, reporting
from analysis.periods import Period
from conftest import SUITE_PERIOD, SUITE_QUARTER

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((config.ROOT / "notebooks").glob("*.ipynb"))
#: The report templates (every notebook but the explorer, checked below).
REPORT_NOTEBOOKS = [p for p in NOTEBOOKS if p.name != reporting.EXPLORER]


class Page(HTMLParser):
    """Collects what a reviewer's browser would load and show."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.scripts, self.ids, self.lang = [], [], [], set(), None
        self.tables, self.captions, self.text = [], [], []
        self.hidden = 0
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("style", "script"):
            self.hidden += 1
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        elif tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "table":
            self.tables.append(attrs)
        elif tag == "figcaption":
            self._in_caption = True
            self.captions.append("")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.hidden -= 1
        if tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data):
        if self._in_caption:
            self.captions[-1] += data
        if not self.hidden:
            self.text.append(data)

    @property
    def plain(self) -> str:
        """The text a reader sees, whitespace folded."""
        return re.sub(r"[ \t\r\n]+", " ", "".join(self.text))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def results(rendered_suite):
    yearly, quarterly = rendered_suite
    return yearly.results + quarterly.results


def test_the_suite_renders_every_report(rendered_suite):
    yearly, quarterly = rendered_suite
    assert yearly.failures == [] and quarterly.failures == []
    done = {(r.job.period.label, r.job.territory, r.job.spec.slug) for r in yearly.results}
    themes = {s.slug for s in reporting.REPORTS if s.theme}
    assert done == ({(SUITE_PERIOD, "11", "rapport_annuel")}
                    | {(SUITE_PERIOD, d, "fiche_departementale") for d in config.DEPARTEMENTS}
                    | {(SUITE_PERIOD, "11", slug) for slug in themes})
    assert [(r.job.period.label, r.job.spec.slug) for r in quarterly.results] == \
        [(SUITE_QUARTER, "fiche_departementale")]
    # Every notebook of notebooks/ is part of the suite, so every one was executed here — but
    # the researcher's explorer, which is no report (executed by tests/test_api.py).
    assert {s.notebook for s in reporting.REPORTS} == {p.name for p in REPORT_NOTEBOOKS}
    assert {p.name for p in NOTEBOOKS} - {p.name for p in REPORT_NOTEBOOKS} == {reporting.EXPLORER}
    reports = config.paths().reports
    for result in yearly.results + quarterly.results:
        assert result.html == reports / result.job.period.label / result.job.territory / \
            f"{result.job.spec.slug}.html"
        assert result.html.is_file() and result.executed.is_file()
    assert not (reports / reporting.STAGING).exists() or not any((reports / reporting.STAGING).iterdir())


def test_html_reads_like_a_report(results):
    for result in results:
        page = parse(result.html)
        html = result.html.read_text(encoding="utf-8")
        text = page.plain
        name = result.html.relative_to(config.paths().reports)
        assert page.lang == "fr", name
        body = html.split("</head>", 1)[1]
        for marker in ("jp-InputArea-editor", "hl-ipython3", "jp-InputPrompt", "jp-OutputPrompt"):
            assert marker not in body, (name, marker)
        for fragment in ("import ", "display(", "load_table", "In&nbsp;[", "Traceback",
                         "Error", "Warning"):
            assert fragment not in text, (name, fragment)
        # A table of contents whose links all lead to a heading of the page.
        assert "Sommaire" in text, name
        anchors = [unquote(h[1:]) for h in page.links if h.startswith("#")]
        assert anchors and all(a in {unquote(i) for i in page.ids} for a in anchors), name
        # Key figures first; methods and provenance at the end.
        assert "Chiffres clés" in text, name
        assert "Méthode" in text and "Sources et traitement" in text, name
        assert text.index("Chiffres clés") < text.index("Méthode") < text.index("Sources et traitement")
        # Every image is embedded, has alt text and a caption.
        assert page.images, name
        for image in page.images:
            assert image.get("alt", "").strip(), name
            assert image.get("src", "").startswith("data:image/"), name
        assert len([c for c in page.captions if c.strip()]) >= len(page.images) - 0, name
        # Nothing fetched from the network: reviewers may read offline.
        assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"https?://", html), name
        # Relative links (CSV, XLSX) lead to files that exist.
        for href in page.links:
            if not href.startswith(("#", "http", "mailto:")):
                assert (result.html.parent / unquote(href)).is_file(), (name, href)


def test_with_every_source_no_part_is_said_missing(results):
    """The wording for absent sources (analysis.sections.needs) never shows when all are there."""
    for result in results:
        text = parse(result.html).plain
        assert "Partie non couverte" not in text and "Sources absentes" not in text, result.html
        record = json.loads(result.html.with_suffix(".json").read_text(encoding="utf-8"))
        assert "absent" not in record, (result.html, record.get("absent"))
    index = parse(config.paths().reports / "index.html").plain
    assert "Sources de l'entrepôt" not in index and "non couvert" not in index


def test_every_published_table_is_also_csv_and_xlsx(results):
    for result in results:
        record = json.loads(result.html.with_suffix(".json").read_text(encoding="utf-8"))
        folder = result.html.parent / f"{result.job.spec.slug}_tableaux"
        assert record["tables"], result.html
        page = parse(result.html)
        assert len([t for t in page.tables if "data-people" in t]) == len(record["tables"])
        for table in record["tables"]:
            csv = pd.read_csv(folder / f"{table['name']}.csv", sep=";", decimal=",",
                              encoding="utf-8-sig", dtype=str)
            xlsx = pd.read_excel(folder / f"{table['name']}.xlsx", sheet_name="Tableau", dtype=str, engine="openpyxl")
            assert len(csv) == len(xlsx) == table["rows"], table["name"]
            assert list(csv.columns) == list(xlsx.columns)
            notes = pd.read_excel(folder / f"{table['name']}.xlsx", sheet_name="Notes", engine="openpyxl")
            assert table["caption"] in notes.iloc[:, 0].tolist()
        written = {p.stem for p in folder.glob("*.csv")}
        assert written == {t["name"] for t in record["tables"]}


def test_record_says_how_the_report_was_made(results):
    for result in results:
        record = json.loads(result.html.with_suffix(".json").read_text(encoding="utf-8"))
        assert record["territory"] == result.job.territory
        assert record["period"] == result.job.period.label
        assert record["render"]["parameters"]["territory"] == result.job.territory
        assert record["warehouse"]["fingerprint"] and record["warehouse"]["built_at"]
        assert record["key_figures"], result.html


def test_key_figures_match_the_indicators(results):
    from analysis.indicators import progression
    from analysis.plots import percent_fr
    from analysis.warehouse import load_table

    contracts = load_table("contracts")
    for result in results:
        if result.job.spec.slug not in ("rapport_annuel", "fiche_departementale",
                                        "progression_clauses"):
            continue
        period = result.job.period
        scoped = progression.in_territory(contracts, result.job.territory)
        scoped = scoped.loc[period.contains(scoped["dateNotification"])]
        known = scoped["has_social_consideration"].dropna().astype(bool)
        expected = percent_fr(known.mean())
        record = json.loads(result.html.with_suffix(".json").read_text(encoding="utf-8"))
        values = [f["value"] for f in record["key_figures"]]
        assert expected in values, (result.html, expected, values)
        assert expected in parse(result.html).plain


def test_index_lists_every_report_with_its_key_figures(rendered_suite, results):
    index = config.paths().reports / "index.html"
    assert rendered_suite[1].index == index
    page = parse(index)
    assert page.lang == "fr"
    targets = {(index.parent / unquote(h)).resolve() for h in page.links if not h.startswith("#")}
    assert targets == {r.html.resolve() for r in results}
    text = page.plain
    assert "Île-de-France (11)" in text and "Seine-Saint-Denis (93)" in text
    assert "Année 2025" in text and "2e trimestre 2025" in text
    for result in results:
        record = json.loads(result.html.with_suffix(".json").read_text(encoding="utf-8"))
        assert record["key_figures"][0]["value"] in text


def test_unchanged_reports_are_skipped_and_changed_ones_rendered(rendered_suite):
    # Other tests may have rebuilt the session's warehouse since the suite was rendered: bring
    # the report up to date first, then nothing has changed.
    reporting.render(territories=["93"], period=SUITE_QUARTER, jobs=1, progress=False)
    again = reporting.render(territories=["93"], period=SUITE_QUARTER, jobs=1, progress=False)
    assert [r.skipped for r in again.results] == [True]
    changed = reporting.render(territories=["93"], period=SUITE_QUARTER, target=0.25, jobs=1,
                               progress=False)
    assert [r.skipped for r in changed.results] == [False] and not changed.failures
    record = json.loads(changed.results[0].html.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["target"] == 0.25


def test_plan_of_the_suite():
    jobs = reporting.plan(period="2024")
    slugs = [(j.territory, j.spec.slug) for j in jobs]
    assert ("11", "rapport_annuel") in slugs
    assert all(("%s" % d, "fiche_departementale") in slugs for d in config.DEPARTEMENTS)
    assert len([s for s in slugs if s[0] == "11"]) == 1 + 6
    assert all(j.period == Period(2024) for j in jobs)
    themes = reporting.plan(["77"], "2024-T1", reports=["themes"])
    assert len(themes) == 6 and all(j.territory == "77" for j in themes)
    with pytest.raises(ValueError, match="ne concerne"):
        reporting.plan(["11"], reports=["fiche_departementale"])
    with pytest.raises(ValueError, match="rapport inconnu"):
        reporting.plan(reports=["inconnu"])


#: The parameters papermill must document, by notebook (every report takes the same ones).
PARAMETERS = {reporting.EXPLORER: ("source", "period", "territory", "breakdown")}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_documents_every_parameter(notebook):
    out = subprocess.run([str(Path(sys.executable).parent / "papermill"), "--help-notebook",
                          str(notebook)], capture_output=True, text=True, check=True).stdout
    # papermill prints « name: type (default …) » then the comment, on the same line or the next.
    documented = dict(re.findall(r"^  (\w+): \w+ \(default [^)]*\)\s+(\S.*)$", out, re.M))
    expected = PARAMETERS.get(notebook.name,
                              ("territory", "period", "target", "suppression_k", "output_dir"))
    for name in expected:
        assert len(documented.get(name, "")) > 10, (notebook.name, name, out)
    nb = nbformat.read(notebook, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_executed_notebook_has_injected_parameters(results):
    nb = nbformat.read(results[-1].executed, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'territory = "93"' in injected[0].source
    assert f'period = "{SUITE_QUARTER}"' in injected[0].source


def test_failure_names_notebook_territory_and_cell(small_warehouse, tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('territory: str = "11"  # territoire')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('donnée manquante')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    broken = tmp_path / "99_casse.ipynb"
    nbformat.write(nb, broken)
    job = reporting.Job(reporting.ReportSpec("casse", str(broken), "Cassé"), "94", Period(2025))
    with pytest.raises(reporting.ReportError) as caught:
        reporting.run_job(job, reports=tmp_path / "reports")
    message = str(caught.value)
    assert "99_casse.ipynb" in message and "Val-de-Marne (94)" in message
    assert "cellule 3 « raise ValueError('donnée manquante') »" in message
    assert "ValueError: donnée manquante" in message
    kept = job.executed_path(tmp_path / "reports")
    assert kept.is_file() and str(kept) in message
    errors = [o for c in json.loads(kept.read_text())["cells"] for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert [e["ename"] for e in errors] == ["ValueError"]
    # Nothing half-made was published.
    assert not job.html_path(tmp_path / "reports").exists()


def test_report_cli_rejects_a_bad_period(small_warehouse, capsys):
    from analysis.cli import main

    assert main(["report", "--period", "2025-T5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "période illisible" in err and "Traceback" not in err


def test_reports_fan_out_on_a_dask_cluster(small_warehouse, tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        summary = reporting.render(territories=["93"], period="2024", reports=["progression_clauses"],
                                   progress=False, reports_dir=tmp_path / "rapports",
                                   scheduler=client)
    assert summary.failures == []
    (result,) = summary.results
    assert result.html.is_file() and result.html.is_relative_to(tmp_path / "rapports")


def _outputs(reports: Path) -> dict[str, object]:
    """Every published file by relative path: bytes, or the record without how it was rendered."""
    out: dict[str, object] = {}
    for path in sorted(reports.rglob("*")):
        relative = path.relative_to(reports)
        if not path.is_file() or relative.parts[0] in ("_executed", "_staging") \
                or relative.name == "index.html":
            continue
        if path.suffix == ".json":
            record = json.loads(path.read_text(encoding="utf-8"))
            record.pop("render", None)
            out[str(relative)] = record
        else:
            out[str(relative)] = path.read_bytes()
    return out


def test_warm_kernels_render_the_same_reports_as_fresh_ones(small_warehouse, tmp_path):
    """One warm kernel rendering five reports in turn (maps, joint protection of the région and
    the départements, shared caches) gives, byte for byte, what five fresh kernels give."""
    chosen = dict(territories=["93", "11", "94"], period="2024",
                  reports=["fiche_departementale", "territoire_cartes"], jobs=1, progress=False)
    warm = reporting.render(reports_dir=tmp_path / "chaud", **chosen)
    fresh = reporting.render(reports_dir=tmp_path / "neuf", fresh_kernels=True, **chosen)
    assert warm.failures == [] and fresh.failures == []
    assert len(warm.results) == 5
    published_warm, published_fresh = _outputs(tmp_path / "chaud"), _outputs(tmp_path / "neuf")
    assert any(name.endswith(".csv") for name in published_warm)
    assert published_warm.keys() == published_fresh.keys()
    different = [name for name in published_warm if published_warm[name] != published_fresh[name]]
    assert different == []
