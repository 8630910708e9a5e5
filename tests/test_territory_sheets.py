"""EPT and EPCI sheets and the commune table of the département sheet (issue 16, point 3).

Indicators on tiny hand-made frames (values computed by hand), the commune -> EPT aggregation
(Paris counted once), sheets rendered by the light renderer on the small test warehouse (a hostile
territory name escaped), the family audit, and the commune table of a département sheet built
from its sections without papermill. No notebook is executed here.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import pytest

from analysis import config, reference
from analysis import territory_sheets as ts
from analysis.indicators import intercommunality as ind
from analysis.periods import Period
from analysis.publish import audit_family, read_published_table
from analysis.scope import period_work_contracts
from analysis.stats import wilson_interval
from sheet_checks import people_cells
from test_browser import _check_page, browser  # noqa: F401  (the browser fixture)

HOSTILE = '<script>alert(1)</script> & <img src=x onerror="alert(2)"> [x](javascript:alert(3))'


def _communes() -> pd.DataFrame:
    """Paris (with two arrondissements), two communes of one EPT, one of an outer-ring EPCI."""
    rows = [("75056", "Paris", "COM", None, "75", "200054781", "MGP", "217500016", "Paris", 1000),
            ("75101", "Paris 1er", "ARM", "75056", "75", "200054781", "MGP", "217500016", "Paris",
             400),
            ("75102", "Paris 2e", "ARM", "75056", "75", "200054781", "MGP", "217500016", "Paris",
             600),
            ("93001", "A", "COM", None, "93", "200054781", "MGP", "T6", "Plaine", 300),
            ("93066", "B", "COM", None, "93", "200054781", "MGP", "T6", "Plaine", 200),
            ("77001", "C", "COM", None, "77", "E1", "CA Est", None, None, 50)]
    return pd.DataFrame(rows, columns=["code_insee", "nom", "type", "commune_parent",
                                       "departement", "epci_code", "epci_nom", "ept_code",
                                       "ept_nom", "population_municipale"])


def test_territories_and_population_count_paris_once():
    communes = _communes()
    table = ind.territories(communes).set_index("territoire")
    assert table.loc["217500016", "population"] == 1000          # not 1000 + 400 + 600
    assert table.loc["T6", "population"] == 500
    assert table.loc["E1", "population"] == 50
    assert table.loc["217500016", "nature"] == ind.PARIS
    assert table.loc["T6", "nature"] == ind.EPT and table.loc["E1", "nature"] == ind.EPCI
    assert table.loc["T6", "communes"] == 2 and table.loc["217500016", "communes"] == 1
    assert ind.territory_of(communes)["75101"] == "217500016"
    by_level = reference.population(communes, "intercommunalite")
    assert by_level.sum() == reference.population(communes, "commune").sum() == 1550


def test_committed_reference_has_the_ept_of_every_commune_of_the_metropole():
    communes = reference.load_communes()
    mgp = communes.loc[communes["epci_code"].eq(reference.METROPOLE)]
    assert mgp["ept_code"].notna().all()
    com = mgp.loc[mgp["type"] == "COM"]
    assert com["ept_code"].nunique() == 12                      # 11 EPT and Paris
    assert set(mgp.loc[mgp["type"] == "ARM", "ept_nom"]) == {"Paris"}
    assert communes.loc[~communes["epci_code"].eq(reference.METROPOLE), "ept_code"].isna().all()
    table = ind.territories(pd.DataFrame(communes.drop(columns="geometry")))
    assert (table["nature"] == ind.EPT).sum() == 11
    assert (table["nature"] == ind.PARIS).sum() == 1
    # the intercommunal populations add up to the région's, Paris once
    assert table["population"].sum() == reference.territory_population(communes,
                                                                       config.REGION_CODE)
    assert config.paths().communes.stat().st_size < 5 * 1024 * 1024


def test_extract_ept_from_the_package_files(tmp_path):
    ept = [{"code": "200057867", "nom": "Plaine Commune", "membres": [{"code": "93001"},
                                                                       {"code": "93066"}]}]
    communes = [{"code": "75056", "type": "commune-actuelle", "siren": "217500016"}]
    (tmp_path / "ept.json").write_text(json.dumps(ept), encoding="utf-8")
    (tmp_path / "communes.json").write_text(json.dumps(communes), encoding="utf-8")
    frame = reference.extract_ept(tmp_path)
    assert frame.to_dict("records") == [
        {"code_insee": "75056", "ept_code": "217500016", "ept_nom": "Paris"},
        {"code_insee": "93001", "ept_code": "200057867", "ept_nom": "Plaine Commune"},
        {"code_insee": "93066", "ept_code": "200057867", "ept_nom": "Plaine Commune"}]
    ept.append({"code": "X", "nom": "Autre", "membres": [{"code": "93001"}]})
    (tmp_path / "ept.json").write_text(json.dumps(ept), encoding="utf-8")
    with pytest.raises(ValueError, match="deux EPT"):
        reference.extract_ept(tmp_path)
    base = _communes().drop(columns=["ept_code", "ept_nom"])
    joined = reference.add_ept(base, frame.iloc[[0, 1, 2]])
    assert joined.loc[joined["code_insee"] == "75102", "ept_code"].item() == "217500016"
    assert pd.isna(joined.loc[joined["code_insee"] == "77001", "ept_code"].item())
    with pytest.raises(ValueError, match="sans EPT"):
        reference.add_ept(base, frame.iloc[[0, 1]])             # 93066 of the Métropole left out


def _contracts() -> pd.DataFrame:
    rows = []
    # T6: buyer a, 4 contracts 2024 (1 with a consideration), by commune code; one in Paris's 1st
    # arrondissement (counts in Paris); one by postal code (no territory); one of unknown status.
    for i, (code, kind, social) in enumerate([
            ("93001", "Code commune", True), ("93001", "Code commune", False),
            ("93066", "Code commune", False), ("93066", "Code commune", False),
            ("75101", "Code commune", True), ("93200", "Code postal", True),
            ("93001", "Code commune", None)]):
        rows.append({"uid": f"u{i}", "acheteur_id": "a", "annee": 2024,
                     "lieuExecution_code": code, "lieuExecution_typeCode": kind,
                     "has_social_consideration": social})
    frame = pd.DataFrame(rows)
    frame["has_social_consideration"] = frame["has_social_consideration"].astype("boolean")
    return frame


def test_shares_by_year_by_commune_of_execution():
    table = ind.shares_by_year(_contracts(), _communes()).set_index("territoire")
    assert set(table.index) == {"T6", "217500016"}                # the postal code: nowhere
    t6 = table.loc["T6"]
    assert (t6["contrats"], t6["avec_consideration"], t6["statut_inconnu"]) == (4, 1, 1)
    assert t6["part"] == pytest.approx(0.25)
    low, high = wilson_interval(1, 4)                             # one buyer: Wilson's interval
    assert t6["ic_bas"] == pytest.approx(low) and t6["ic_haut"] == pytest.approx(high)
    assert table.loc["217500016", "contrats"] == 1 and table.loc["217500016", "part"] == 1.0
    coverage = ind.coverage(_contracts(), None, _communes()).set_index("territoire")
    assert coverage.loc["T6", "contrats"] == 4 and coverage.loc["T6", "operations"] == 0


def _tracking():
    operations = pd.DataFrame({
        "operation_id": ["o1", "o2", "o3"], "commune": ["93001", "75102", "93066"],
        "modalite": ["clause_execution", "clause_execution", "reserve_siae"],
        "date_debut": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01"]),
        "date_fin": pd.to_datetime(["2025-06-30", "2025-12-31", "2026-06-30"]),
        "heures_prevues": [100.0, 50.0, 80.0]})
    work = pd.DataFrame({
        "participant_id": ["p1", "p2", "p1", "p3"], "operation_id": ["o1", "o1", "o3", "o2"],
        "employeur_siret": ["e1", "e2", "e1", "e3"],
        # p1 on o1: 2024-07-02 .. 2025-07-01 (365 days, 182 of them in 2025): 365 hours
        "date_debut": pd.to_datetime(["2024-07-02", "2025-01-01", "2025-01-01", "2025-01-01"]),
        "date_fin": pd.to_datetime(["2025-07-01", "2025-01-10", "2025-01-10", "2025-12-31"]),
        "heures": [365.0, 10.0, 20.0, 40.0]})
    participants = pd.DataFrame({
        "participant_id": ["p1", "p2", "p3"], "commune_residence": ["75101", "93001", "99999"],
        "qpv": [True, False, True]})
    return operations, work, participants


def test_hours_beneficiaries_and_residents_by_territory():
    communes = _communes()
    operations, work, participants = _tracking()
    period = Period.parse("2025")
    placed = ind.placed_operations(operations, communes)
    assert placed.set_index("operation_id")["territoire"].to_dict() == {
        "o1": "T6", "o2": "217500016", "o3": "T6"}
    active = period_work_contracts(work, period)
    table = ind.hours_by_modality(placed, active, work, period)
    t6 = table.loc[table["territoire"] == "T6"].set_index("modalite")
    # o1: 182 of p1's 365 hours fall in 2025, and p2's 10; o3: p1's 20
    assert t6.loc["clause_execution", "heures"] == pytest.approx(182 + 10)
    assert t6.loc["clause_execution", "beneficiaires"] == 2
    assert t6.loc["reserve_siae", "heures"] == pytest.approx(20)
    total = t6.loc[t6.index.isna()].iloc[0]
    assert total["heures"] == pytest.approx(212) and total["beneficiaires"] == 2   # p1 once
    # realisation: o1 ended in 2025 (375 of 100 hours), o3 in 2026 (not finished in the period)
    assert t6.loc["clause_execution", "operations_terminees"] == 1
    assert t6.loc["clause_execution", "heures_realisees"] == pytest.approx(375)
    assert t6.loc["clause_execution", "taux_realisation"] == pytest.approx(3.75)
    assert t6.loc["reserve_siae", "operations_terminees"] == 0
    people = participants.loc[participants["participant_id"].isin(active["participant_id"])]
    residents = ind.residents(people, communes).set_index("territoire")
    # p1 lives in Paris's 1st arrondissement: Paris, population 1 000 (not 2 000)
    assert residents.loc["217500016", ["residents", "residents_qpv"]].tolist() == [1, 1]
    assert residents.loc["217500016", "pour_10000"] == pytest.approx(10.0)
    assert residents.loc["T6", ["residents", "residents_qpv"]].tolist() == [1, 0]
    assert residents.loc["T6", "pour_10000"] == pytest.approx(1 / 500 * 1e4)
    assert residents["residents"].sum() == 2                      # p3 lives outside: nowhere


# --- On the small test warehouse ------------------------------------------------------------------


@pytest.fixture(scope="module")
def territory_data(small_warehouse):
    return ts.compute(period=Period.parse("2025"))


@pytest.fixture(scope="module")
def rendered(territory_data, tmp_path_factory):
    """Three sheets (the first with a hostile name) rendered into a folder."""
    data = territory_data
    folder = tmp_path_factory.mktemp("territoires")
    k = config.suppression_k()
    chosen = data.directory.loc[data.directory["fiche"]].sort_values(
        "operations", ascending=False).head(3)
    pages = {}
    for i, (_, row) in enumerate(chosen.iterrows()):
        row = row.copy()
        if i == 0:
            row["nom"] = HOSTILE
        pages[str(row["territoire"])] = ts.render_sheet(data, row, folder, k,
                                                        {"built_at": "?"})
    return data, folder, pages


def test_which_territories_get_a_sheet(territory_data):
    directory = territory_data.directory.set_index("territoire")
    assert len(directory) == 63                                   # 11 EPT, Paris, 51 EPCI
    paris = directory.loc[directory["nature"] == ind.PARIS].iloc[0]
    assert not paris["fiche"] and "fiche départementale" in paris["raison"]
    without = directory.loc[~directory["fiche"] & (directory["nature"] != ind.PARIS)]
    assert ((without["contrats"] < config.TERRITORY_SHEET_MIN_CONTRACTS)
            & (without["operations"] == 0)).all()
    assert without["raison"].str.contains("marchés exécutés").all()
    assert directory["fiche"].sum() > 10


def test_sheet_content_escaping_and_suppression(rendered):
    data, folder, pages = rendered
    k = config.suppression_k()
    hostile = list(pages)[0]
    page = pages[hostile]
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=" in page
    assert 'href="javascript' not in page
    secret = 0
    for code, page in pages.items():
        text = html.unescape(page)
        for heading in ("Part des marchés avec une considération sociale", "Heures d'insertion",
                        "Bénéficiaires et leur profil", "Bénéficiaires résidant dans le territoire"):
            assert heading in text
        assert (folder / f"{code}.html").read_text(encoding="utf-8") == page
        record = json.loads((folder / f"{code}.json").read_text(encoding="utf-8"))
        assert record["territoire"]["code"] == code
        assert len(page.encode()) < 400_000
        for table in record["tables"]:
            if table["name"] == "heures_par_modalite":
                assert table["magnitudes"]
        secret += people_cells(folder, record, code, k)[1]
        # the yearly table is the territory's rows of the all-territories table
        published = pd.read_csv(folder / f"fiche_territoire_{code}_tableaux"
                                / "part_par_annee.csv", sep=";", encoding="utf-8-sig")
        expected = data.yearly.loc[data.yearly["territoire"] == code]
        assert published["Marchés (statut connu)"].tolist() == expected["contrats"].tolist()
    assert secret > 0, "the small warehouse has small cells: some must be hidden"
    members = [(json.loads(p.read_text(encoding="utf-8")), folder)
               for p in sorted(folder.glob("*.json"))]
    assert audit_family(members, k=k) == []


@pytest.fixture(scope="module")
def family(small_warehouse, tmp_path_factory):
    """Every sheet of the small warehouse rendered once into a reports folder: (folder, summary)."""
    reports = tmp_path_factory.mktemp("reports")
    return reports, ts.render_all(reports_dir=reports, jobs=2, period=Period.parse("2025"))


def test_render_all_listing_index_audit_and_skip(family):
    reports, summary = family
    assert summary.listed == 63 and 10 < summary.sheets < 63 and not summary.skipped
    listing = json.loads((reports / "territoires" / "territoires.json").read_text("utf-8"))
    assert all(t["raison"] for t in listing["territoires"] if not t["fiche"])
    assert ts.audit(reports) == []
    section = ts.index_section(reports)
    assert section.count('href="territoires/') == summary.sheets
    assert "Territoires sans fiche" in section and "fiche départementale" in section
    again = ts.render_all(reports_dir=reports, jobs=2, period=Period.parse("2025"))
    assert again.skipped and again.sheets == summary.sheets


def test_territory_sheets_audited_with_the_departement_sheets(family, rendered_suite):
    """The sheets and the départements' sheets of the suite's year, audited together with the
    equations between a département's profile and its territories' (a territory in the place of
    a buyer in :func:`analysis.buyer_sheets.joint_relations`): no hidden cell is recovered."""
    from conftest import SUITE_PERIOD

    reports, _ = family
    link = reports / SUITE_PERIOD
    if not link.exists():
        link.symlink_to(config.paths().reports / SUITE_PERIOD)
    result = ts.joint_audit(reports, period=SUITE_PERIOD)
    assert result.equations > 0
    assert result.cells > result.hidden > 0
    assert result.violations == [], result.violations[:5]


def test_commune_table_of_a_departement_sheet(small_warehouse, tmp_path):
    """The commune table (sections.communes) in a département sheet, built from its sections:
    residents hidden as the commune map hides them, their total shared with the département's row
    of the residence profile, and no hidden cell recovered from the sheet's tables."""
    from analysis import maps
    from analysis.publish import open_report
    from analysis.scope import Scope
    from analysis.sections import beneficiaries, communes

    k = config.suppression_k()
    report = open_report("fiche_departementale", "93", "2025", 0.3, k, str(tmp_path))
    scope = Scope("93", "2025")
    beneficiaries.profile_table(scope, report)
    communes.commune_table(scope, report)
    record = json.loads((tmp_path / "fiche_departementale.json").read_text(encoding="utf-8"))
    assert audit_family([(record, tmp_path)], k=k) == []
    table = next(t for t in record["tables"] if t["name"] == "communes")
    assert table["magnitudes"] == ["Heures d'insertion"]
    key = communes.residents_key(report)
    assert [e["key"] for e in table["relations"]["shared"]] == [key]
    profile = next(t for t in record["tables"] if t["name"] == "profil_departement_residence")
    assert key in [e["key"] for e in profile["relations"]["shared"]]
    folder = tmp_path / "fiche_departementale_tableaux"
    frame = read_published_table(folder / "communes.csv", table["people"])
    total = frame.iloc[-1]
    assert total["Commune"] == "Ensemble"
    body = frame.iloc[:-1]
    people = scope.beneficiaries
    home = people["commune_residence"].astype("string").map(
        ind.commune_key(scope.table("communes")))
    counts = home.loc[home.str.startswith("93", na=False)].value_counts()
    assert total["Bénéficiaires résidents"] == counts.sum()
    assert int(report.shared_totals[key]) == counts.sum()
    entry = next(e for e in profile["relations"]["shared"] if e["key"] == key)
    residence = read_published_table(folder / "profil_departement_residence.csv",
                                     profile["people"])
    assert residence.iloc[entry["row"]][entry["column"]] == counts.sum()
    layer = maps.commune_layer(territory="93").set_index("code")["population"]
    secret = maps.rate_per_10000(counts, layer.reindex(counts.index), k=k)["secret"]
    codes = scope.communes.set_index("nom")["code_insee"]
    hidden = body.loc[body["Bénéficiaires résidents"].isna(), "Commune"].map(codes)
    assert set(hidden) == set(secret.index[secret])
    shown = body["Bénéficiaires résidents"].dropna()
    assert ((shown == 0) | (shown >= k)).all()


def test_sheets_and_index_in_a_browser(family, browser):  # noqa: F811
    """Headless Chromium (the browser test's checks): the index with its EPT / EPCI section and
    two sheets open with no console error and no broken link."""
    from analysis.reporting import RenderSummary, write_index

    reports, _ = family
    index = write_index(RenderSummary(), reports)
    assert 'id="territoires-ept-epci"' in index.read_text(encoding="utf-8")
    assert _check_page(browser, index) == []
    listing = json.loads((reports / "territoires" / "territoires.json").read_text("utf-8"))
    for entry in [t for t in listing["territoires"] if t["fiche"]][:2]:
        assert _check_page(browser, reports / "territoires" / f"{entry['code']}.html") == []
