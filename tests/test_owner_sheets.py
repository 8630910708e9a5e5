"""Owner sheets (issue 16, point 2): indicators for all large-project owners at once on hand-made
frames, the generator's planted truths recovered, sheets of the small warehouse rendered without
papermill (escaping of hostile names and objects, suppression, family audit), the CLI and one
page in headless Chromium.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from analysis import config
from analysis import owner_sheets as osh
from analysis.indicators import owners as ind
from analysis.periods import Period
from analysis.publish import audit_family, read_published_table
from analysis.stats import wilson_interval
from sheet_checks import people_cells
from test_browser import _check_page, browser  # noqa: F401  (the browser fixture)

HOSTILE = ["<script>alert(1)</script>", "</script><b>x</b>", "<img src=x onerror=alert(2)>",
           "[x](javascript:alert(3))"]
A, B = "11111111100011", "22222222200022"


# --- Indicators on hand-made frames -------------------------------------------------------------


def test_owner_keys_and_grand_paris_owner():
    assert ind.owner_key("12345678901234", "X") == "12345678901234"
    assert ind.owner_key(None, "Société des Grands Projets !") == "mo-societe-des-grands-projets"
    assert ind.owner_key("123", "Île-de-France Mobilités") == "mo-ile-de-france-mobilites"
    gp = pd.DataFrame({"decp_uid": [f"{A}_2019-1", f"{B}_2020-2", "sans-siret"]})
    contracts = pd.DataFrame({"uid": [f"{A}_2019-1"], "acheteur_id": [A],
                              "acheteur_nom": ["Acheteur A"]})
    operations = pd.DataFrame({"maitre_ouvrage_siret": [B], "maitre_ouvrage": ["Maître B"]})
    out = ind.grand_paris_owners(gp, contracts, operations)
    assert list(out[ind.OWNER]) == [A, B, ind.slug(config.GRAND_PARIS_OWNER)]
    assert list(out[ind.OWNER_NAME]) == ["Acheteur A", "Maître B", config.GRAND_PARIS_OWNER]


def _gp_rows():
    """Owner A: two contracts (5 % before October 2020, met; 10 % after, missed), owner B one
    contract (met exactly)."""
    return pd.DataFrame({
        "decp_uid": [f"{A}_1", f"{A}_2", f"{B}_1"], "ligne": ["L1", "L1", "L2"],
        "lot": ["Lot 1", "Lot 2", "Lot 1"], "titulaire_siret": ["T1", "T2", "T1"],
        "date_notification": pd.to_datetime(["2019-05-01", "2021-02-01", "2021-03-01"]),
        "heures_travail": pd.array([1000.0, 2000.0, 1000.0], dtype="Float64"),
        "heures_insertion_prevues": pd.array([50.0, 200.0, 100.0], dtype="Float64"),
        "heures_insertion_realisees": pd.array([60.0, 150.0, 100.0], dtype="Float64"),
        "montant": pd.array([100.0, 200.0, 100.0], dtype="Float64"),
        "montant_pme": pd.array([30.0, 20.0, 20.0], dtype="Float64"),
        "departement": ["93", "93", "94"], "taux_obligation": [0.05, 0.10, 0.10]})


def test_obligation_sme_and_missed_contracts_by_owner():
    gp = ind.grand_paris_owners(_gp_rows())
    overall = ind.obligation(gp).set_index(ind.OWNER)
    assert overall.loc[A, "marches"] == 2 and overall.loc[A, "marches_conformes"] == 1
    assert overall.loc[A, "part_insertion"] == pytest.approx(210 / 3000)
    assert overall.loc[A, "taux_obligation_moyen"] == pytest.approx(250 / 3000)
    low, high = wilson_interval(np.array([1]), np.array([2]))
    assert (overall.loc[A, "ic_bas"], overall.loc[A, "ic_haut"]) == pytest.approx((low[0], high[0]))
    assert overall.loc[B, "marches_conformes"] == 1, "exactly at the obligation counts as met"
    assert overall.loc[A, "part_ic_bas"] <= overall.loc[A, "part_insertion"] \
        <= overall.loc[A, "part_ic_haut"]
    by_year = ind.obligation(gp, ("annee",)).set_index([ind.OWNER, "annee"])
    assert by_year.loc[(A, 2021), "taux_obligation_moyen"] == pytest.approx(0.10)
    missed = ind.missed_contracts(gp)
    assert list(missed["decp_uid"]) == [f"{A}_2"]
    sme = ind.sme(gp).set_index(ind.OWNER)
    assert sme.loc[A, "part_pme"] == pytest.approx(50 / 300)
    assert sme.loc[A, "marches_objectif_atteint"] == 1 and sme.loc[B, "marches_objectif_atteint"] == 1


def _tracking():
    """Owner A: operation o1 (2024, 100 h planned) with two contracts of p1 (woman, QPV) and p2
    (man, under 26 without diploma); owner B: operation o2 (2024, 50 h planned), one contract of p1.
    A flagged operation of no large project is left out."""
    operations = pd.DataFrame({
        "operation_id": ["o1", "o2", "o3"], "maitre_ouvrage": ["Maître A", "Maître B", "Ville"],
        "maitre_ouvrage_siret": [A, B, "33333333300033"],
        "grand_projet": pd.array([True, True, False], dtype="boolean"),
        "modalite": ["clause_execution", "clause_execution", "reserve_siae"],
        "libelle": ["Gare", "Tram", "Autre"], "commune": ["93066", "94081", "75056"],
        "date_debut": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-01-01"]),
        "date_fin": pd.to_datetime(["2024-12-31", "2024-12-31", "2024-12-31"]),
        "heures_prevues": pd.array([100.0, 50.0, 10.0], dtype="Float64")})
    wc = pd.DataFrame({
        "coordination": ["93", "93", "93", "93"], "participant_id": ["p1", "p2", "p1", "p2"],
        "operation_id": ["o1", "o1", "o2", "o3"],
        "employeur": ["E1", "E2", "E1", "E3"], "employeur_siret": ["E1", "E2", "E1", "E3"],
        "type_contrat": ["cdi", "interim", "cdd", "cdd"],
        # p1 on o1: 61 days in 2024 (2 months by 30.44 days); p2: the year 2024 then 2025
        "date_debut": pd.to_datetime(["2024-01-01", "2024-07-01", "2024-04-01", "2024-01-01"]),
        "date_fin": pd.to_datetime(["2024-03-01", "2025-06-30", "2024-04-30", "2024-01-31"]),
        "heures": pd.array([60.0, 80.0, 70.0, 5.0], dtype="Float64")})
    people = pd.DataFrame({"coordination": ["93", "93"], "participant_id": ["p1", "p2"],
                           "sexe": ["F", "H"], "qpv": pd.array([True, False], dtype="boolean"),
                           "tranche_age": ["26_49", "moins_de_26"],
                           "diplome": ["niveau_4", "sans_diplome"]})
    outcomes = pd.DataFrame({"coordination": ["93", "93"], "participant_id": ["p1", "p2"],
                             "situation_6_mois": ["emploi_durable", "inconnue"],
                             "date_fin_dernier_contrat": pd.to_datetime(["2024-04-30",
                                                                         "2025-06-30"])})
    return operations, wc, people, outcomes


def test_operations_and_yearly_beneficiaries_by_owner():
    operations, wc, people, outcomes = _tracking()
    large = ind.large_operations(operations)
    assert sorted(large[ind.OWNER]) == [A, B]
    owner_wc = ind.owner_work_contracts(large, wc)
    assert len(owner_wc) == 3
    table = ind.operation_table(large, owner_wc).set_index("operation_id")
    assert table.loc["o1", "heures_suivies"] == 140 and bool(table.loc["o1", "atteinte"])
    assert table.loc["o2", "heures_suivies"] == 70 and bool(table.loc["o2", "atteinte"])
    summary = ind.operation_summary(ind.operation_table(large, owner_wc)).set_index(ind.OWNER)
    assert summary.loc[A, "taux_realisation"] == pytest.approx(1.4)
    assert summary.loc[A, "atteintes"] == 1 and summary.loc[A, "part_atteintes"] == 1.0

    yearly = ind.yearly_beneficiaries(owner_wc, people).set_index([ind.OWNER, "annee"])
    a24 = yearly.loc[(A, 2024)]
    assert (a24["beneficiaires"], a24["femmes"], a24["residents_qpv"],
            a24["jeunes_peu_qualifies"]) == (2, 1, 1, 1)
    assert a24["part_femmes"] == 0.5
    low, high = wilson_interval(np.array([1]), np.array([2]))
    assert (a24["femmes_ic_bas"], a24["femmes_ic_haut"]) == pytest.approx((low[0], high[0]))
    # p2's 80 h over 365 days, 184 of them in 2024
    p2_2024 = 80 * 184 / 365
    assert a24["heures"] == pytest.approx(60 + p2_2024)
    assert a24["part_heures_femmes"] == pytest.approx(60 / (60 + p2_2024))
    assert a24["contrats_debutes"] == 2
    assert a24["duree_moyenne_mois"] == pytest.approx((61 + 365) / 2 / (365.25 / 12))
    assert yearly.loc[(A, 2025), "beneficiaires"] == 1 and yearly.loc[(A, 2025), "femmes"] == 0
    assert yearly.loc[(B, 2024), "beneficiaires"] == 1

    types = ind.contract_types(owner_wc).set_index([ind.OWNER, "type_contrat"])
    assert types.loc[(A, "cdi"), "contrats"] == 1 and types.loc[(A, "cdi"), "part"] == 0.5
    articles = ind.legal_articles(ind.operation_table(large, owner_wc)).set_index(ind.OWNER)
    assert articles.loc[A, "heures_prevues"] == 100

    found = ind.outcomes(owner_wc, outcomes).set_index([ind.OWNER, "situation"])
    assert found.loc[(A, "emploi_durable"), "effectif"] == 1
    assert found.loc[(A, "emploi_durable"), "connues"] == 1
    assert found.loc[(A, "emploi_durable"), "inconnues"] == 1
    assert found.loc[(B, "emploi_durable"), "sorties"] == 1
    yearly_exits = ind.outcomes_by_year(owner_wc, outcomes).set_index(
        [ind.OWNER, "annee", "situation"])
    assert yearly_exits.loc[(A, 2024, "emploi_durable"), "effectif"] == 1
    assert yearly_exits.loc[(A, 2025, "emploi_durable"), "effectif"] == 0
    assert yearly_exits.loc[(A, 2025, "emploi_durable"), "inconnues"] == 1
    by_year = ind.contract_types_by_year(owner_wc).set_index([ind.OWNER, "type_contrat", "annee"])
    assert by_year.loc[(A, "interim", 2024), "contrats"] == 1
    assert by_year.loc[(B, "cdd", 2024), "contrats"] == 1


# --- Planted truths -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def owner_tables(small_warehouse):
    from analysis.warehouse import load_table

    return {name: load_table(name) for name in
            ("contracts", "grand_paris", "operations", "work_contracts", "participants",
             "outcomes")}


def test_sheets_recover_the_planted_owners_and_obligation(small_raw, owner_tables):
    """The Grand Paris generator plants every contract's obligation (5 %, 10 % from October 2020)
    and how many meet it and the SME target; the tracking generator plants the large-project
    operations of each owner. The owner indicators find them back."""
    manifest = json.loads((small_raw / "manifest.json").read_text(encoding="utf-8"))
    gp_truth = manifest["sources"]["grand_paris"]["counts"]
    owners_truth = manifest["sources"]["tracking"]["operations"]["grand_owners"]
    data = osh.compute_from(owner_tables)
    directory = data.directory.set_index(ind.OWNER)
    # the four large owners, and the DECP buyers of the large operations linked to their contracts
    assert {"Société des grands projets", "Solideo", "Île-de-France Mobilités",
            "Grand Paris Aménagement"} <= {v["nom"] for v in owners_truth.values()}
    assert set(directory.index) == set(owners_truth)
    for siret, truth in owners_truth.items():
        assert directory.loc[siret, ind.OWNER_NAME] == truth["nom"]
        assert directory.loc[siret, "operations"] == truth["operations"], siret
    planned = data.operations.groupby(ind.OWNER)["heures_prevues"].sum()
    for siret, truth in owners_truth.items():
        assert planned[siret] == pytest.approx(truth["planned_hours"], rel=1e-9)
    # every Grand Paris contract belongs to the Société des grands projets
    sgp = [s for s, v in owners_truth.items() if v["nom"] == "Société des grands projets"][0]
    assert directory.loc[sgp, "marches_grand_paris"] == gp_truth["contracts"]
    overall = data.obligation[()].set_index(ind.OWNER).loc[sgp]
    assert overall["marches_conformes"] == gp_truth["insertion_obligation_met"]
    assert overall["marches"] - overall["marches_conformes"] == \
        gp_truth["insertion_obligation_not_met"]
    assert len(data.rows("missed", data.missed, sgp)) == gp_truth["insertion_obligation_not_met"]
    table = ind.gp_ind.contract_table(data.grand_paris)
    assert int((table["taux_obligation"] == 0.10).sum()) == gp_truth["obligation_10_percent"]
    sme = data.obligation[("sme",)].set_index(ind.OWNER).loc[sgp]
    assert sme["marches_objectif_atteint"] == gp_truth["sme_target_met"]
    by_line = data.obligation[("ligne",)]
    assert by_line.groupby("ligne")["marches"].sum().to_dict() == {
        line: n for line, n in gp_truth["by_line"].items() if n}


# --- Rendered sheets ----------------------------------------------------------------------------


def _hostile(tables: dict) -> tuple[dict, str]:
    """The small warehouse with the Solideo's name, the labels of some of its operations and the
    lots and lines of some Grand Paris contracts made hostile."""
    operations = tables["operations"].copy()
    large = operations["grand_projet"].fillna(False).astype(bool)
    siret = str(operations.loc[large & operations["maitre_ouvrage"].eq("Solideo"),
                               "maitre_ouvrage_siret"].iloc[0])
    mine = operations["maitre_ouvrage_siret"].eq(siret)
    for column in ("maitre_ouvrage", "libelle"):
        operations[column] = operations[column].astype(object)
    operations.loc[mine, "maitre_ouvrage"] = HOSTILE[0] + " & Cie"
    rows = operations.index[mine][:len(HOSTILE)]
    operations.loc[rows, "libelle"] = HOSTILE
    # finished and far below their planned hours: listed on the sheet with their labels
    operations.loc[rows, "heures_prevues"] = 1e7
    operations.loc[rows, "date_fin"] = pd.Timestamp("2022-06-30")
    gp = tables["grand_paris"].copy()
    gp["lot"] = gp["lot"].astype(object)
    gp.loc[gp.index[:len(HOSTILE)], "lot"] = HOSTILE
    return {**tables, "operations": operations, "grand_paris": gp}, siret


@pytest.fixture(scope="module")
def rendered(owner_tables, tmp_path_factory):
    tables, siret = _hostile(owner_tables)
    data = osh.compute_from(tables)
    folder = tmp_path_factory.mktemp("reports") / osh.FOLDER
    pages = {}
    for _, row in data.directory.iterrows():
        pages[row[ind.OWNER]] = osh.render_sheet(data, row, folder, config.suppression_k(),
                                                 Period.parse("2025"), {"built_at": "?"})
    return data, folder, pages, siret


def test_sheet_content(rendered):
    data, folder, pages, siret = rendered
    assert len(pages) == len(data.directory) >= 4
    sgp = data.directory.loc[data.directory["marches_grand_paris"] > 0, ind.OWNER].iloc[0]
    text = html.unescape(pages[sgp])
    for heading in ("Obligation d'heures d'insertion : marchés du Grand Paris Express",
                    "Heures prévues et réalisées des opérations suivies",
                    "Bénéficiaires par année (indicateurs de l'OGPF)",
                    "Marchés en dessous de leur obligation", "Part des PME"):
        assert heading in text, heading
    for key, page in pages.items():
        record = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
        assert record["owner"]["cle"] == key
        names = {t["name"] for t in record["tables"]}
        assert {"beneficiaires_par_annee", "types_de_contrat", "articles_juridiques",
                "heures_operations_par_annee", "situation_6_mois"} <= names
        for href in re.findall(r'href="([^"#]+\.(?:csv|xlsx))"', page):
            assert (folder / href).is_file(), href
        assert len(page.encode()) < 400_000
    # the line table of the sheet is the owner's rows of the all-owners table, plus Ensemble
    published = pd.read_csv(folder / f"{osh.SLUG}_{sgp}_tableaux" / "obligation_par_ligne.csv",
                            sep=";", encoding="utf-8-sig")
    expected = data.obligation[("ligne",)]
    assert published["Marchés"].tolist()[:-1] == expected["marches"].tolist()
    assert published["Marchés"].iloc[-1] == len(data.rows("gp", data.grand_paris, sgp))


def test_text_from_inputs_is_escaped(rendered):
    data, folder, pages, siret = rendered
    page = pages[siret]
    assert "<script" not in page.lower()
    assert "<img" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Cie" in page       # the owner's name
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in page                    # an operation label
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "[x](javascript:alert(3))" in page and 'href="javascript' not in page
    sgp = data.directory.loc[data.directory["marches_grand_paris"] > 0, ind.OWNER].iloc[0]
    assert "<img" not in pages[sgp] and "&lt;img src=x onerror=alert(2)&gt;" in pages[sgp]


def test_people_suppressed_and_family_audit_clean(rendered):
    data, folder, pages, _ = rendered
    k = config.suppression_k()
    hidden = tables = 0
    for key in pages:
        record = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
        counted = people_cells(folder, record, key, k)
        tables += counted[0]
        hidden += counted[1]
    assert tables >= 3 * len(pages) and hidden > 0
    members = [(json.loads(p.read_text(encoding="utf-8")), folder)
               for p in sorted(folder.glob("*.json"))]
    assert audit_family(members, k=k) == []


def test_report_command_renders_the_owner_sheets_and_the_index(small_warehouse, tmp_path,
                                                               monkeypatch, capsys):
    from analysis.cli import main

    monkeypatch.setenv("OBSERVATOIRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setattr(config, "BUYER_SHEET_MIN_CONTRACTS", 250)
    assert main(["report", "--report", "fiches_maitres_ouvrage", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Fiches maître d'ouvrage : \d+ fiche\(s\) rendue\(s\)", out)
    assert "0 cellule(s) masquée(s) recalculable(s)" in out
    reports = tmp_path / "reports"
    listing = json.loads((reports / osh.FOLDER / osh.LISTING).read_text(encoding="utf-8"))
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert 'id="maitres-ouvrage"' in index
    for owner in listing["maitres_ouvrage"]:
        assert f'{osh.FOLDER}/{owner["cle"]}.html' in index
    assert osh.audit(reports) == []
    assert main(["report", "--report", "fiches_maitres_ouvrage", "--quiet"]) == 0
    assert f"Fiches maître d'ouvrage : {len(listing['maitres_ouvrage'])} fiche(s) inchangée(s)" \
        in capsys.readouterr().out


@pytest.mark.slow
def test_hostile_sheet_in_a_browser(rendered, browser):
    """Headless Chromium: the hostile owner's sheet opens with no console error (no script ran),
    no broken link, and its name shows as text."""
    from analysis.reporting import RenderSummary, write_index

    _, folder, _, siret = rendered
    write_index(RenderSummary(), folder.parent)       # the sheet's link back to the index
    assert _check_page(browser, folder / f"{siret}.html") == []
    heading = browser.find_element("tag name", "h1").text
    assert HOSTILE[0] in heading


# --- Joint audit with the département sheets ------------------------------------------------------


def _joint_case(tmp_path, monkeypatch, shared_person: bool):
    """Département 77 (2025) whose beneficiaries are exactly the people of owners A and B in 2025:
    A has 2 women and 8 men (its women hidden), B 20 women and 10 men, so the département's sheet
    publishes 22 women of 40. With ``shared_person``, one of B's men also worked for A."""
    from analysis.disclosure import Margins
    from analysis.publish import open_report
    from analysis.sections.beneficiaries import PROFILE_DERIVED, TOTAL, profile_block

    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "5")
    people, contracts = [], []

    def add(owner, sexe, n):
        for _ in range(n):
            pid = f"p{len(people)}"
            people.append({"coordination": "77", "participant_id": pid, "sexe": sexe,
                           "qpv": False, "tranche_age": "26_49", "diplome": "niveau_4"})
            contracts.append({"operation_id": f"op-{owner}", "participant_id": pid})

    add("A", "F", 2), add("A", "H", 8), add("B", "F", 20), add("B", "H", 10)
    if shared_person:
        contracts.append({"operation_id": "op-A", "participant_id": people[-1]["participant_id"]})
    wc = pd.DataFrame(contracts).assign(
        coordination="77", employeur=lambda f: "E" + f.index.astype(str),
        employeur_siret=lambda f: "E" + f.index.astype(str), type_contrat="cdd",
        date_debut=pd.Timestamp("2025-02-01"), date_fin=pd.Timestamp("2025-06-30"),
        heures=pd.array([100.0] * len(contracts), dtype="Float64"))
    operations = pd.DataFrame({
        "operation_id": ["op-A", "op-B"], "maitre_ouvrage": ["Maître A", "Maître B"],
        "maitre_ouvrage_siret": [A, B], "grand_projet": pd.array([True, True], dtype="boolean"),
        "modalite": "clause_execution", "libelle": ["Gare A", "Gare B"], "commune": "77288",
        "date_debut": pd.Timestamp("2025-01-01"), "date_fin": pd.Timestamp("2025-12-31"),
        "heures_prevues": pd.array([1000.0, 3000.0], dtype="Float64")})
    participants = pd.DataFrame(people)
    participants["qpv"] = participants["qpv"].astype("boolean")
    data = osh.compute_from({"operations": operations, "work_contracts": wc,
                             "participants": participants})
    folder = tmp_path / osh.FOLDER
    period = Period.parse("2025")
    for _, row in data.directory.iterrows():
        osh.render_sheet(data, row, folder, 5, period, {})
    owners = [(json.loads(p.read_text(encoding="utf-8")), folder)
              for p in sorted(folder.glob("*.json"))]
    crowd = participants.assign(heures_periode=100.0)
    dep_folder = tmp_path / "2025" / "77"
    report = open_report("fiche_departementale", "77", period, 0.3, output_dir=dep_folder)
    report.table(profile_block(crowd, "sexe"), "profil_sexe", "sexe", people=("beneficiaires",),
                 derived=PROFILE_DERIVED, margins=Margins(total_row=TOTAL),
                 shared={report.population("beneficiaires"): ("cell", TOTAL, "beneficiaires")})
    dep = [(json.loads((dep_folder / "fiche_departementale.json").read_text(encoding="utf-8")),
            dep_folder)]
    return owners, dep, data.people_years, {"77": crowd}


def test_joint_audit_finds_an_owner_cell_recovered_from_the_departement(tmp_path, monkeypatch):
    """The attack: the département's women minus owner B's gives owner A's hidden 2."""
    owners, dep, years, crowds = _joint_case(tmp_path, monkeypatch, shared_person=False)
    a = read_published_table(tmp_path / osh.FOLDER / f"{osh.SLUG}_{A}_tableaux"
                             / "beneficiaires_par_annee.csv", ["Femmes"])
    assert a["Femmes"].isna().all()                         # A hides its 2 women
    assert audit_family([*owners, *dep], k=5) == []          # each family alone is safe
    relations = osh.joint_relations(owners, dep, years, crowds)
    assert len(relations) == 2 and not any(r.remainder for r in relations)   # total, women
    found = audit_family([*owners, *dep], k=5, relations=relations)
    assert any(v.value == 2.0 and f"{osh.SLUG}_{A}/beneficiaires_par_annee" in str(v.row)
               for v in found), found
    # one person working for both owners: the département is no sum of their counts
    owners, dep, years, crowds = _joint_case(tmp_path / "b", monkeypatch, shared_person=True)
    assert osh.joint_relations(owners, dep, years, crowds) == []
