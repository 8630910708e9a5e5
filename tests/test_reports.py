"""Report notebooks executed end to end on small data, exported to HTML without code."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from analysis import config, reporting

pytestmark = pytest.mark.slow


class Page(HTMLParser):
    """Collects what a reviewer's browser would load and show."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.scripts, self.tables, self.lang = [], [], [], 0, None
        self.text = []
        self.hidden = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("style", "script"):
            self.hidden = True
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        elif tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "table":
            self.tables += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.hidden = False

    def handle_data(self, data):
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
def rendered(small_warehouse):
    return reporting.render(territories=["11", "93"], first_year=2019, last_year=2025,
                            target=0.30, jobs=2, progress=False)


def test_every_job_renders(rendered):
    assert rendered.failures == []
    assert [r.job.territory for r in rendered.results] == ["11", "93"]
    for result in rendered.results:
        assert result.html.is_file() and result.executed.is_file()
        assert result.html == config.paths().reports / "2019-2025" / result.job.territory / \
            "progression_clauses.html"


def test_html_has_chart_table_and_no_code(rendered):
    for result in rendered.results:
        page = parse(result.html)
        html = result.html.read_text(encoding="utf-8")
        text = page.plain
        assert page.lang == "fr"
        # No code: no input area, no Python from the notebook, no prompts.
        body = html.split("</head>", 1)[1]
        for marker in ("jp-InputArea-editor", "hl-ipython3", "jp-InputPrompt", "jp-OutputPrompt"):
            assert marker not in body, marker
        for fragment in ("import ", "display(", "load_table", "first_year: int", "In&nbsp;["):
            assert fragment not in text, fragment
        # One chart with alt text, one table, French prose and the key figure.
        charts = [img for img in page.images if img.get("src", "").startswith("data:image/png")]
        assert len(charts) == 1 and "considération sociale" in charts[0]["alt"]
        assert page.tables >= 1
        assert "Marchés (statut connu)" in text and "IC 95 % bas" in text
        assert "Méthode" in text and "Sources et traitement" in text
        # Nothing fetched from the network: reviewers may read offline.
        assert page.scripts == []
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)
        # No error leaked into the report.
        assert "Traceback" not in text and "Error" not in text


def test_key_figure_in_html_matches_the_indicator(rendered):
    figures = reporting.key_figures("93", 2019, 2025)
    text = parse(rendered.results[1].html).plain
    percent = f"{figures['part'] * 100:.1f}\u00a0%".replace(".", ",")
    assert f"{percent} des marchés notifiés en {figures['annee']}" in text


def test_index_links_every_report(rendered):
    index = config.paths().reports / "index.html"
    assert rendered.index == index
    page = parse(index)
    assert page.lang == "fr"
    targets = [index.parent / href for href in page.links]
    assert sorted(targets) == sorted(r.html for r in rendered.results)
    assert all(t.is_file() for t in targets)
    text = page.plain
    assert "Île-de-France (11)" in text and "Seine-Saint-Denis (93)" in text
    assert "IC 95 %" in text


def test_executed_notebook_has_injected_parameters(rendered):
    nb = nbformat.read(rendered.results[1].executed, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'territory = "93"' in injected[0].source


def test_failure_names_notebook_territory_and_cell(small_warehouse, tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('territory: str = "11"  # territoire')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('donnée manquante')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    broken = tmp_path / "99_casse.ipynb"
    nbformat.write(nb, broken)
    job = reporting.Job(reporting.ReportSpec("casse", str(broken), "Cassé"), "94", 2019, 2025, 0.3)
    with pytest.raises(reporting.ReportError) as caught:
        reporting.run_job(job, reports=tmp_path / "reports")
    message = str(caught.value)
    assert "99_casse.ipynb" in message and "Val-de-Marne (94)" in message
    assert "cellule 3 « raise ValueError('donnée manquante') »" in message and "ValueError: donnée manquante" in message
    kept = job.executed_path(tmp_path / "reports")
    assert kept.is_file() and str(kept) in message
    errors = [o for c in json.loads(kept.read_text())["cells"] for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert [e["ename"] for e in errors] == ["ValueError"]
