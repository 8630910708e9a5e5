"""Every source but the DECP is optional, and the DECP too for the parts that do not need it.

The suite is rendered — the région's annual report and six thematic notebooks, one département's
sheet — on warehouses built from subsets of the small data set: DECP only; DECP and the buyers
directory; DECP and the clause tracking; everything but Grand Paris; everything but the
structures; the clause tracking only. No report may fail, no chart may be empty (the tests run
with ``OBSERVATOIRE_STRICT_FIGURES``: a chart drawing no data fails its report), each part whose
source is absent says so in one sentence, key figures that need an absent source are left out,
and the index says what each report could cover.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis import config, reporting
from analysis.sections import needs as needs_module
from analysis.sections.needs import absence_sentence, needs
from conftest import SUITE_PERIOD, TODAY
from test_reports import parse

#: Each subset: the source folders it keeps (the reference geography is always there).
SUBSETS = {
    "decp": ("decp",),
    "decp_acheteurs": ("decp", "acheteurs"),
    "decp_suivi": ("decp", "tracking"),
    "sans_grand_paris": ("decp", "acheteurs", "tracking", "structures"),
    "sans_structures": ("decp", "acheteurs", "tracking", "grand_paris"),
    "suivi": ("tracking",),
}
#: The reports rendered for a subset that differs from another by one source only: the annual
#: report, the sheet, the quality report and the thematic notebook that reads that source (the
#: région's and the département's); the others render the whole suite for the région and the
#: sheet (None).
REPORTS = {
    "decp_acheteurs": ["rapport_annuel", "fiche_departementale", "qualite_donnees",
                       "progression_clauses"],
    "sans_grand_paris": ["rapport_annuel", "fiche_departementale", "qualite_donnees",
                         "heures_grand_paris"],
    "sans_structures": ["rapport_annuel", "fiche_departementale", "qualite_donnees",
                        "territoire_cartes"],
}
ALL_SOURCES = ("decp", "acheteurs", "tracking", "grand_paris", "structures")
SHEET = "93"


# --- The mechanism, on stand-ins ------------------------------------------------------------------


class _Scope:
    """A scope whose warehouse holds ``tables`` only."""

    def __init__(self, *tables):
        self.tables = set(tables)

    def has(self, name):
        return name in self.tables

    def sources_read(self):
        return None


class _Report:
    k = 5

    def __init__(self):
        self.absent, self.figures = {}, []
        self._last_absence = None

    def note_absence(self, sources, label):
        for source in sources:
            self.absent.setdefault(source, [])
            if label not in self.absent[source]:
                self.absent[source].append(label)


@needs("operations", "work_contracts", label="heures")
def _hours(scope, report):
    return ["heures"]


@needs("operations", label="heures", quiet=True)
def _hours_figures(scope, report):
    report.figures.append("heures")
    return ["repères"]


@needs("grand_paris", label="Grand Paris")
def _grand_paris(scope, report):
    return ["grand paris"]


@needs(any_of=(("contracts",), ("operations",)), label="départements")
def _both(scope, report):
    return ["départements"]


def test_a_section_whose_table_is_absent_says_so_in_one_sentence():
    report = _Report()
    shown = _hours(_Scope("contracts"), report)
    assert len(shown) == 1
    assert shown[0].data == ("> Partie non couverte : l'entrepôt ne contient pas le suivi des "
                             "clauses (exports des facilitateurs).")
    assert report.absent == {"tracking": ["heures"]}
    assert _hours(_Scope("operations", "work_contracts"), report) == ["heures"]
    assert _hours.needs == ("operations", "work_contracts") and _hours.label == "heures"


def test_key_figures_needing_an_absent_table_are_left_out():
    report = _Report()
    assert _hours_figures(_Scope(), report) == [] and report.figures == []
    assert report.absent == {"tracking": ["heures"]}
    assert _hours_figures(_Scope("operations"), report) == ["repères"]
    assert report.figures == ["heures"]


def test_one_of_several_sources_suffices_when_declared_so():
    assert _both(_Scope("operations"), _Report()) == ["départements"]
    assert _both(_Scope("contracts"), _Report()) == ["départements"]
    report = _Report()
    (sentence,) = _both(_Scope(), report)
    assert "ni les données essentielles des marchés publics (DECP) ni le suivi des clauses" \
        in sentence.data
    assert set(report.absent) == {"decp", "tracking"}


def test_the_sentence_is_said_once_per_cell(monkeypatch):
    report, scope = _Report(), _Scope()
    monkeypatch.setattr(needs_module, "_cell", lambda: 7)
    assert len(_hours(scope, report)) == 1
    assert _hours(scope, report) == []           # the same cell, just below: said already
    assert len(_grand_paris(scope, report)) == 1  # another source
    monkeypatch.setattr(needs_module, "_cell", lambda: 8)
    assert len(_hours(scope, report)) == 1        # the next cell says it again
    assert _hours(_Scope("operations", "work_contracts"), report) == ["heures"]
    monkeypatch.setattr(needs_module, "_cell", lambda: 8)
    assert len(_hours(scope, report)) == 1        # a part rendered in between


def test_a_method_part_is_shown_only_with_the_sections_it_describes():
    """« Méthode » describes the sections a report shows: without their source, nothing (the
    sections already said, in their place, why they are not covered)."""
    from analysis.sections import beneficiaries, hours, pathways, progression, territories

    from analysis.periods import Period

    decp_only = _Scope("contracts", "buyers")
    tracking_only = _Scope("operations", "participants", "work_contracts", "outcomes")
    tracking_only.period = Period.parse(SUITE_PERIOD)
    assert progression.method(decp_only, _Report()) and not progression.method(tracking_only,
                                                                                 _Report())
    for part in (hours, beneficiaries, pathways, territories):
        assert part.method(tracking_only, _Report()), part.__name__
        assert part.method(decp_only, _Report()) == [], part.__name__
    assert not pathways.method(_Scope("operations", "participants", "work_contracts"), _Report())
    from analysis.sections import partners

    assert partners.method(_Scope("structures"), _Report())
    assert partners.method(decp_only, _Report()) == []
    assert hours.method() and progression.method(), "without a scope (JupyterLab): every part"


def test_absence_sentences_name_the_sources_in_the_users_words():
    assert absence_sentence(["structures"]) == \
        "Partie non couverte : l'entrepôt ne contient pas l'annuaire des structures."
    assert absence_sentence(["grand_paris", "structures"], part=False) == \
        "l'entrepôt ne contient ni les marchés du Grand Paris ni l'annuaire des structures."


def test_an_empty_chart_is_found():
    import matplotlib.pyplot as plt

    from analysis.present import empty_axes

    fig, (full, empty, note, legend) = plt.subplots(1, 4)
    full.bar([2024, 2025], [0.2, 0.3])
    empty.plot([], [])
    empty.set_title("Heures par année")
    note.text(0.5, 0.5, "parts non publiées (secret statistique)")
    legend.plot([], [], label="a")
    legend.legend()
    legend.set_axis_off()
    assert empty_axes(fig) == ["Heures par année"]
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.scatter([], [])
    ax.plot([2024.0], [float("nan")])
    assert empty_axes(fig) == ["axes 1"]
    plt.close(fig)


def test_contracts_always_carry_the_buyer_columns():
    from analysis.warehouse import BUYER_COLUMNS, join_buyers

    contracts = pd.DataFrame({"acheteur_id": ["21930001000019"],
                              "dateNotification": pd.to_datetime(["2025-01-02"])})
    joined, derived = join_buyers(contracts, None)
    assert derived is None
    assert all(joined[c].isna().all() for c in BUYER_COLUMNS)


# --- The suite on each subset --------------------------------------------------------------------


@pytest.fixture(scope="module")
def subsets(small_raw: Path, session_dir: Path):
    """``{subset: (processed folder, reports folder, render summary)}``, each rendered once:
    the région's annual report and thematic notebooks, and one département's sheet."""
    from analysis.warehouse import build

    saved = {name: os.environ.get(name) for name in
             ("OBSERVATOIRE_PROCESSED_DIR", "OBSERVATOIRE_REPORTS_DIR")}
    out = {}
    try:
        for name, sources in SUBSETS.items():
            root = session_dir / "subsets" / name
            raw = root / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            # the generator's manifest: the synthetic set's public pseudonymisation key applies
            for entry in ("manifest.json", *sources):
                if not (raw / entry).exists():
                    (raw / entry).symlink_to(small_raw / entry)
            build(raw=raw, processed=root / "processed", today=TODAY)
            os.environ["OBSERVATOIRE_PROCESSED_DIR"] = str(root / "processed")
            os.environ["OBSERVATOIRE_REPORTS_DIR"] = str(root / "reports")
            summary = reporting.render(territories=[config.REGION_CODE, SHEET],
                                       period=SUITE_PERIOD, reports=REPORTS.get(name),
                                       jobs=2, progress=False)
            out[name] = (root / "processed", root / "reports", summary)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return out


def _records(summary) -> list[tuple[object, dict, str]]:
    rows = []
    for result in summary.results:
        record = json.loads(result.html.with_suffix(".json").read_text(encoding="utf-8"))
        rows.append((result, record, parse(result.html).plain))
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("subset", list(SUBSETS))
def test_every_report_renders_on_every_subset_of_sources(subsets, subset):
    processed, reports, summary = subsets[subset]
    assert summary.failures == [], [f.error for f in summary.failures]
    assert len(summary.results) == len(reporting.plan([config.REGION_CODE, SHEET], SUITE_PERIOD,
                                                      reports=REPORTS.get(subset)))
    assert {r.job.spec.notebook for r in summary.results} >= (
        {s.notebook for s in reporting.REPORTS if s.available()}
        if REPORTS.get(subset) is None else set())
    absent = [s for s in ALL_SOURCES if s not in SUBSETS[subset]]
    # The build accepts the missing folders and records which sources it read.
    manifest = json.loads((processed / "warehouse" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["sources"]) == set(SUBSETS[subset])
    for result, record, text in _records(summary):
        name = result.html.relative_to(reports)
        for fragment in ("Traceback", "Error", "KeyError", "nan %", "NaN"):
            assert fragment not in text, (name, fragment)
        # What is absent is named where the sources are described (every report ends with them).
        assert re.search(r"Sources? absentes? de l'entrepôt : ", text), name
        for source in absent:
            assert needs_module.SOURCE_SHORT_FR[source] in text.split("Sources et traitement")[-1]
        # The record says which parts could not be covered, and only for absent sources.
        assert set(record.get("absent", {})) <= set(absent), (name, record.get("absent"))
        # Every sentence in a part's place names a source that is absent.
        for sentence in re.findall(r"Partie non couverte : [^.]+\.", text):
            assert any(needs_module.SOURCE_NAMES_FR[s] in sentence for s in absent), sentence
        labels = " ".join(f["label"] for f in record["key_figures"])
        if "tracking" in absent:  # never « 0 heures », « 0 bénéficiaires »
            assert "heures d'insertion" not in labels and "bénéficiaires (" not in labels, name
        if "decp" in absent:
            assert "marchés notifiés" not in labels, name
    index = parse(reports / "index.html").plain
    assert "Sources de l'entrepôt" in index and "non couvert" in index


@pytest.mark.slow
def test_the_parts_say_which_source_they_miss(subsets):
    by_slug = {r.job.spec.slug: (r, rec, text) for r, rec, text in _records(subsets["decp"][2])}
    _, record, text = by_slug["rapport_annuel"]
    assert set(record["absent"]) == {"acheteurs", "tracking", "grand_paris", "structures"}
    assert "heures d'insertion" in record["absent"]["tracking"]
    # the DECP parts are there, the others say in one sentence what is missing
    assert "des marchés notifiés (année 2025) ont une considération sociale" in text
    assert absence_sentence(["tracking"]) in text and absence_sentence(["grand_paris"]) in text
    method = text[text.rindex("Méthode"):text.rindex("Sources et traitement")]
    assert len(method) > 200, "the DECP parts' method is there"
    assert "Heures d'insertion" not in method and "Population des sorties" not in method
    _, record, text = by_slug["heures_grand_paris"]
    assert record["key_figures"] == []
    assert text.count(absence_sentence(["tracking"])) <= 6  # once per section, no more
    by_slug = {r.job.spec.slug: (r, rec, text) for r, rec, text in _records(subsets["suivi"][2])}
    _, record, text = by_slug["fiche_departementale"]
    assert "heures d'insertion réalisées (année 2025)" in [f["label"] for f in record["key_figures"]]
    assert absence_sentence(["decp"]) in text
    _, record, text = by_slug["progression_clauses"]
    assert record["key_figures"] == [] and set(record["absent"]) == {"decp", "acheteurs"}


@pytest.mark.slow
def test_a_buyers_directory_is_optional(subsets):
    """Without a directory nor buyer columns in the DECP, the breakdown by buyer category says
    the directory is absent; with one, it is published."""
    without = {r.job.spec.slug: rec for r, rec, _ in _records(subsets["decp"][2])
               if r.job.territory == config.REGION_CODE}
    with_ = {r.job.spec.slug: rec for r, rec, _ in _records(subsets["decp_acheteurs"][2])
             if r.job.territory == config.REGION_CODE}
    names = lambda record: {t["name"] for t in record["tables"]}  # noqa: E731
    assert "part_par_type_acheteur" not in names(without["progression_clauses"])
    assert "part par catégorie d'acheteur" in without["progression_clauses"]["absent"]["acheteurs"]
    assert "part_par_type_acheteur" in names(with_["progression_clauses"])
    assert "absent" not in with_["progression_clauses"]


@pytest.mark.slow
def test_buyer_sheets_without_decp_say_why(subsets, tmp_path):
    """Tracking only: ``observatoire report`` renders no buyer sheet (they come from the DECP),
    removes any left from an earlier warehouse, and the index says why."""
    from analysis import buyer_sheets

    processed = subsets["suivi"][0]
    reports = tmp_path / "reports"
    (reports / buyer_sheets.FOLDER).mkdir(parents=True)
    (reports / buyer_sheets.FOLDER / "12345678900011.html").write_text("ancienne fiche")
    summary = buyer_sheets.render_all(reports_dir=reports, processed=processed)
    assert summary.absent and summary.sheets == 0
    assert not (reports / buyer_sheets.FOLDER).exists()
    saved = os.environ.get("OBSERVATOIRE_PROCESSED_DIR")
    os.environ["OBSERVATOIRE_PROCESSED_DIR"] = str(processed)
    try:
        section = buyer_sheets.index_section(reports)
    finally:
        if saved is None:
            os.environ.pop("OBSERVATOIRE_PROCESSED_DIR", None)
        else:
            os.environ["OBSERVATOIRE_PROCESSED_DIR"] = saved
    assert "Aucune fiche acheteur" in section and "(DECP)" in section
