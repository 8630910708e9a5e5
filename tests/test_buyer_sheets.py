"""Buyer sheets (issue 16, point 1): indicators computed for all buyers at once, sheets rendered
without papermill, escaping of what publishers wrote, disclosure control and the family audit.

No notebook is executed here: the sheets of a few buyers of the small test warehouse are rendered
by the light renderer (a few seconds in all).
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from analysis import buyer_sheets as bs
from analysis import config
from analysis.indicators import buyers as ind
from analysis.periods import Period
from analysis.publish import read_published_table
from analysis.stats import wilson_interval
from sheet_checks import people_cells
from test_browser import _check_page, browser  # noqa: F401  (the browser fixture)

HOSTILE = ["<script>alert(1)</script>", "</script><b>x</b>", '<img src=x onerror="alert(2)">',
           "[x](javascript:alert(3))", '=HYPERLINK("http://x.example","clic")',
           "@SUM(1+1)"]


def _contract(uid, buyer, year, social, amount=50_000.0, date=None, objet="Objet",
              cpv="45", category="Commune", dep="93", name="Ville"):
    date = pd.Timestamp(date or f"{year}-06-01")
    kinds = {"clause_sociale": bool(social) if social is not None else pd.NA,
             "critere_social": False if social is not None else pd.NA,
             "marche_reserve": False if social is not None else pd.NA}
    return {"uid": uid, "id": uid.split("_")[-1], "acheteur_id": buyer, "objet": objet,
            "procedure": "Procédure adaptée", "cpv_division": cpv, "ccag": None,
            "montant": amount, "montant_initial": amount, "dateNotification": date,
            "annee": date.year, "has_social_consideration": social, **kinds,
            "acheteur_nom": name, "acheteur_categorie": category, "acheteur_departement": dep}


def _frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["has_social_consideration"] = frame["has_social_consideration"].astype("boolean")
    for kind in ("clause_sociale", "critere_social", "marche_reserve"):
        frame[kind] = frame[kind].astype("boolean")
    frame["annee"] = frame["annee"].astype("Int64")
    return frame


def test_indicators_by_group_by_match_their_definitions():
    rows = [_contract(f"A_{i}", "A", 2024, i < 3) for i in range(10)]          # 3 / 10
    rows += [_contract(f"A_x{i}", "A", 2024, None) for i in range(2)]            # unknown status
    rows += [_contract(f"B_{i}", "B", 2024, i < 1, dep="93") for i in range(4)]  # 1 / 4
    # loi Climat et résilience: works above 5 404 000 € from 21 August 2026, and the day before
    rows += [_contract("A_c1", "A", 2026, False, 6e6, "2026-08-21", objet="Voirie"),
             _contract("A_c2", "A", 2026, False, 6e6, "2026-08-20", objet="Avant"),
             _contract("A_c3", "A", 2026, True, 6e6, "2026-09-01"),
             _contract("A_c4", "A", 2026, False, 1e6, "2026-09-01", objet="Sous le seuil")]
    contracts = _frame(rows)

    directory = ind.directory(contracts, 10).set_index("acheteur_id")
    assert directory.loc["A", "contrats"] == 16 and bool(directory.loc["A", "fiche"])
    assert directory.loc["B", "contrats"] == 4 and not directory.loc["B", "fiche"]

    yearly = ind.yearly(contracts).set_index(["acheteur_id", "annee"])
    a = yearly.loc[("A", 2024)]
    low, high = wilson_interval(np.array([3]), np.array([10]))
    assert (a["contrats"], a["avec_consideration"], a["statut_inconnu"]) == (10, 3, 2)
    assert a["part"] == pytest.approx(0.3)
    assert (a["ic_bas"], a["ic_haut"]) == pytest.approx((low[0], high[0]))

    peers = ind.peers(contracts)
    dep = peers["departement"].set_index(["acheteur_categorie", "acheteur_departement", "annee"])
    assert dep.loc[("Commune", "93", 2024), "contrats"] == 14
    assert dep.loc[("Commune", "93", 2024), "acheteurs"] == 2
    rank = peers["rang"].set_index("acheteur_id")
    assert rank.loc["B", "pairs"] == 2

    climate = ind.climate(contracts)
    listed = climate["sans_consideration"]
    assert list(listed["id"]) == ["c1"], "only the contract from 21/08/2026, above, without"
    since = climate["a_partir"].set_index("acheteur_id")
    assert since.loc["A", "contrats"] == 2 and since.loc["A", "avec_consideration"] == 1

    breakdown = ind.breakdown(contracts, "tranche_montant")
    assert breakdown.loc[breakdown["acheteur_id"] == "A", "contrats"].sum() == 14


def test_inclusive_share_and_operation_links():
    contracts = _frame([_contract("A_1", "A", 2024, True, 100.0),
                        _contract("A_2", "A", 2024, False, 300.0),
                        _contract("A_3", "A", 2024, False, 600.0),
                        _contract("B_1", "B", 2024, False, 50.0)])
    suppliers = pd.DataFrame({"uid": ["A_1", "A_2", "A_2", "A_3", "B_1"],
                              "titulaire_id": ["11111111100011", "22222222200022",
                                               "99999999900099", "33333333300099",
                                               "44444444400044"]})
    structures = pd.DataFrame({"siret": ["11111111100011", "22222222200022", "33333333300033"],
                               "type": ["EI", "ESAT", "ACI"]})
    table = ind.inclusive(contracts, suppliers, structures).set_index("acheteur_id")
    # A_1 by SIRET (EI, 100), A_2 half to an ESAT (150), A_3 by SIREN (ACI, 600)
    assert table.loc["A", "montant_siae"] == pytest.approx(700.0)
    assert table.loc["A", "montant_ea_esat"] == pytest.approx(150.0)
    assert table.loc["A", "part_inclusive"] == pytest.approx(850 / 1000)
    assert table.loc["B", "part_inclusive"] == 0

    operations = pd.DataFrame({"operation_id": ["o1", "o2", "o3"],
                               "decp_uid": ["A_1", None, "inconnu"],
                               "maitre_ouvrage_siret": ["B", "B", "Z"]})
    linked = ind.operations_of_buyers(operations, contracts).set_index("operation_id")
    assert linked.loc["o1", "acheteur_id"] == "A" and linked.loc["o1", "lien"] == "marché"
    assert linked.loc["o2", "acheteur_id"] == "B"
    assert "o3" not in linked.index


@pytest.fixture(scope="module")
def buyer_tables(small_warehouse):
    from analysis.warehouse import load_table

    tables = {name: load_table(name) for name in
              ("contracts", "suppliers", "structures", "operations", "work_contracts",
               "participants")}
    return tables


def _hostile(tables: dict) -> tuple[dict, str]:
    """The small warehouse with one buyer renamed and two of its contracts made hostile, notified
    after 21 August 2026 above the thresholds without a social consideration."""
    contracts = tables["contracts"].copy()
    counts = contracts["acheteur_id"].value_counts()
    siret = str(counts.index[0])
    rows = contracts.index[contracts["acheteur_id"] == siret][:len(HOSTILE)]
    contracts["objet"] = contracts["objet"].astype(object)
    contracts["acheteur_nom"] = contracts["acheteur_nom"].astype(object)
    contracts.loc[contracts["acheteur_id"] == siret, "acheteur_nom"] = HOSTILE[0] + " & Cie"
    contracts.loc[rows, "objet"] = HOSTILE
    contracts.loc[rows, "dateNotification"] = pd.Timestamp("2026-09-15")
    contracts.loc[rows, "annee"] = 2026
    contracts.loc[rows, ["montant", "montant_initial"]] = 9e6
    contracts.loc[rows, "cpv_division"] = "45"
    for column in ("has_social_consideration", "clause_sociale", "critere_social",
                   "marche_reserve"):
        contracts.loc[rows, column] = False
    return {**tables, "contracts": contracts}, siret


@pytest.fixture(scope="module")
def rendered(buyer_tables, tmp_path_factory):
    """Sheets of four buyers (the hostile one first) rendered into a folder, with the data."""
    tables, siret = _hostile(buyer_tables)
    data = bs.compute_from(tables, min_contracts=10)
    folder = tmp_path_factory.mktemp("acheteurs")
    k = config.suppression_k()
    chosen = [siret] + [s for s in data.directory.loc[data.directory["fiche"], "acheteur_id"]
                        if s != siret][:3]
    pages = {}
    for s in chosen:
        row = data.directory.set_index("acheteur_id").loc[s].copy()
        row["acheteur_id"] = s
        pages[s] = bs.render_sheet(data, row, folder, k, Period.parse("2025"), {"built_at": "?"})
    return data, folder, pages, siret


def test_sheet_content_in_french(rendered):
    data, folder, pages, _ = rendered
    for siret, page in pages.items():
        assert (folder / f"{siret}.html").read_text(encoding="utf-8") == page
        for heading in ("Part des marchés avec une considération sociale",
                        "Position parmi les pairs et repère national",
                        "Loi Climat et résilience", "Exécution : heures d'insertion",
                        "Achats inclusifs"):
            assert heading in html.unescape(page)
        assert f"SIRET {siret}" in page
        record = json.loads((folder / f"{siret}.json").read_text(encoding="utf-8"))
        assert record["buyer"]["siret"] == siret
        names = {t["name"] for t in record["tables"]}
        assert {"part_par_annee", "pairs_et_national", "par_cpv_division", "par_procedure",
                "par_tranche_montant"} <= names
        # every table linked from the sheet exists (CSV and XLSX)
        for href in re.findall(r'href="([^"#]+\.(?:csv|xlsx))"', page):
            assert (folder / href).is_file(), href
        assert len(page.encode()) < 400_000
    # the yearly table of a sheet is the buyer's rows of the all-buyers table
    siret = list(pages)[1]
    published = pd.read_csv(folder / f"fiche_acheteur_{siret}_tableaux" / "part_par_annee.csv",
                            sep=";", encoding="utf-8-sig")
    expected = data.yearly.loc[data.yearly["acheteur_id"] == siret]
    assert published["Marchés (statut connu)"].tolist() == expected["contrats"].tolist()


def test_text_from_inputs_is_never_a_spreadsheet_formula(rendered):
    """A contract object starting with « = » or « @ » is text in the downloads: prefixed with an
    apostrophe in the CSV, a string cell (not a formula) in the XLSX."""
    import openpyxl

    _, folder, _, siret = rendered
    tables = folder / f"fiche_acheteur_{siret}_tableaux"
    csv = next(p for p in tables.glob("*.csv") if "HYPERLINK" in p.read_text(encoding="utf-8-sig"))
    text = csv.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(" in text and "'@SUM(1+1)" in text
    assert not re.search(r'(^|;)"?[=@]', text, re.M)
    sheet = openpyxl.load_workbook(csv.with_suffix(".xlsx"))["Tableau"]
    cells = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str)
             and ("HYPERLINK" in c.value or "@SUM" in c.value)]
    assert len(cells) == 2 and all(c.data_type == "s" for c in cells)


def test_text_from_inputs_is_escaped(rendered):
    _, folder, pages, siret = rendered
    page = pages[siret]
    assert "Marchés soumis à l'obligation sans considération sociale" in html.unescape(page)
    assert "<script" not in page.lower().replace("<script>\n(function", "")
    assert "<img" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page
    assert "[x](javascript:alert(3))" in page          # shown as text, never a link
    assert 'href="javascript' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Cie" in page   # the buyer's name
    listed = pd.read_csv(folder / f"fiche_acheteur_{siret}_tableaux"
                         / "climat_sans_consideration.csv", sep=";", encoding="utf-8-sig")
    from analysis.publish import csv_safe

    assert sorted(listed["Objet"]) == sorted(csv_safe(h) for h in HOSTILE)


def test_people_counts_suppressed_and_family_audit_clean(rendered, buyer_tables):
    data, folder, pages, _ = rendered
    k = config.suppression_k()
    secret = 0
    people_tables = 0
    for siret in pages:
        record = json.loads((folder / f"{siret}.json").read_text(encoding="utf-8"))
        tables, hidden = people_cells(folder, record, siret, k)
        people_tables += tables
        secret += hidden
    assert people_tables >= 5, "beneficiaries published for the sheets with tracking"
    assert secret > 0, "the small warehouse has small cells: some must be hidden"
    members = [(json.loads(p.read_text(encoding="utf-8")), folder)
               for p in sorted(folder.glob("*.json"))]
    from analysis.publish import audit_family

    assert audit_family(members, k=k) == []


def test_without_tracking_the_sheet_says_so(buyer_tables, tmp_path):
    tables = {"contracts": buyer_tables["contracts"], "suppliers": buyer_tables["suppliers"]}
    data = bs.compute_from(tables, min_contracts=10)
    row = data.directory.loc[data.directory["fiche"]].iloc[0]
    page = bs.render_sheet(data, row, None, config.suppression_k(), Period.parse("2025"), {})
    text = html.unescape(page)
    assert "données de suivi des clauses" in text and "ne sont pas dans" in text
    assert "annuaire des structures inclusives" in text


def test_render_all_index_and_skip(small_warehouse, tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    first = bs.render_all(reports_dir=reports, min_contracts=200, jobs=1)
    assert not first.skipped and first.sheets >= 1
    listing = json.loads((reports / "acheteurs" / "acheteurs.json").read_text(encoding="utf-8"))
    under = [b for b in listing["acheteurs"] if not b["fiche"]]
    assert under and all(b["contrats"] < 200 for b in under)
    assert len(list((reports / "acheteurs").glob("*.html"))) == first.sheets
    again = bs.render_all(reports_dir=reports, min_contracts=200, jobs=1)
    assert again.skipped and again.sheets == first.sheets
    section = bs.index_section(reports)
    assert 'id="filtre-acheteurs"' in section and 'data-filtre-liste="liste-acheteurs"' in section
    assert "http" not in section, "the filter fetches nothing"
    from analysis.portal import FILTER_SCRIPT

    assert "<script>" in FILTER_SCRIPT and "http" not in FILTER_SCRIPT
    for b in listing["acheteurs"]:
        assert b["siret"] in section
    assert f"Acheteurs sous le seuil de 200 marchés ({len(under)})" in section
    assert bs.audit(reports) == []



@pytest.mark.slow
def test_sheets_and_filter_in_a_browser(small_warehouse, tmp_path, browser):
    """Headless Chromium (the browser test's fixture and checks): the index with its buyers
    section and two sheets open with no console error and no broken link; the offline filter
    keeps only the buyer typed."""
    from analysis.reporting import RenderSummary, write_index

    reports = tmp_path / "reports"
    bs.render_all(reports_dir=reports, min_contracts=200, jobs=1)
    index = write_index(RenderSummary(), reports)
    assert _check_page(browser, index) == []
    listing = json.loads((reports / "acheteurs" / "acheteurs.json").read_text("utf-8"))
    sheets = [b for b in listing["acheteurs"] if b["fiche"]]
    for b in sheets[:2]:
        assert _check_page(browser, reports / "acheteurs" / f"{b['siret']}.html") == []
    browser.get(index.as_uri())
    browser.find_element("id", "filtre-acheteurs").send_keys(sheets[0]["siret"])
    visible = browser.execute_script(
        "return Array.from(document.querySelectorAll('#liste-acheteurs tbody tr'))"
        ".filter(tr => !tr.hidden).map(tr => tr.getAttribute('data-filtre'));")
    assert len(visible) == 1 and sheets[0]["siret"] in visible[0]


def _published(folder) -> dict:
    """Every file of a family's folder: bytes, the listing without its render time."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            if path.name == bs.LISTING:
                listing = json.loads(path.read_text(encoding="utf-8"))
                listing["render"].pop("seconds")
                out[path.name] = listing
            else:
                out[str(path.relative_to(folder))] = path.read_bytes()
    return out


def test_sheets_fanned_out_on_a_dask_cluster_are_the_same_bytes(small_warehouse, tmp_path):
    from distributed import Client, LocalCluster

    alone = bs.render_all(reports_dir=tmp_path / "seul", min_contracts=50, jobs=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        fanned = bs.render_all(reports_dir=tmp_path / "dask", min_contracts=50,
                               scheduler=client)
    assert fanned.sheets == alone.sheets >= 3
    first, second = _published(alone.folder), _published(fanned.folder)
    assert len(first) > 3 * alone.sheets and first == second


def test_sheets_recover_the_planted_inclusive_awards(small_raw, buyer_tables):
    """The generator awards contracts to structures of the directory at a known rate by buyer
    type (manifest ``inclusive_awards``): the sheets' indicator, summed over the buyers of each
    category, finds it back (binomial interval at 99.9 %)."""
    manifest = json.loads((small_raw / "manifest.json").read_text(encoding="utf-8"))
    truth = manifest["sources"]["decp"]["inclusive_awards"]
    data = bs.compute_from(buyer_tables, min_contracts=10)
    table = data.inclusive.merge(data.directory, on="acheteur_id")
    by_type = table.groupby("acheteur_categorie")[["marches_inclusifs", "contrats"]].sum()
    checked = 0
    for category, rate in truth["rate_by_buyer_type"].items():
        if category not in by_type.index:
            continue
        # What the generator drew (a binomial draw at the planted rate: at this small scale it
        # may sit 3 standard errors away from the rate) is what the sheets must find.
        drawn = truth["drawn_by_buyer_type"][category]
        drawn_rate = drawn["inclusive"] / drawn["contracts"]
        low, high = wilson_interval(np.array([drawn["inclusive"]]), np.array([drawn["contracts"]]),
                                    level=0.9999)
        assert low[0] <= rate <= high[0], (category, drawn_rate, rate)
        found, n = by_type.loc[category, "marches_inclusifs"], by_type.loc[category, "contrats"]
        low, high = wilson_interval(np.array([round(drawn_rate * n)]), np.array([n]), level=0.999)
        assert low[0] <= found / n <= high[0], (category, found / n, drawn_rate)
        checked += 1
    assert checked >= 6
    siae, disability = table["montant_siae"].sum(), table["montant_ea_esat"].sum()
    assert siae > 0 and disability > 0
    # rated by value: the buyer types planted highest are ahead of those planted lowest
    value = table.groupby("acheteur_categorie")[["montant_siae", "montant_ea_esat",
                                                "montant_total"]].sum()
    value = (value["montant_siae"] + value["montant_ea_esat"]) / value["montant_total"]
    assert value["Bailleur social"] > value["Établissement de santé"]


def test_report_command_renders_the_sheets_then_skips_them(small_warehouse, tmp_path,
                                                           monkeypatch, capsys):
    from analysis.cli import main

    monkeypatch.setenv("OBSERVATOIRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setattr(config, "BUYER_SHEET_MIN_CONTRACTS", 250)
    assert main(["report", "--report", "fiches_acheteurs", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "fiche(s) rendue(s)" in out
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert 'id="filtre-acheteurs"' in index and "Acheteurs sous le seuil de 250" in index
    assert main(["report", "--report", "fiches_acheteurs", "--quiet"]) == 0
    assert "inchangée(s)" in capsys.readouterr().out


# --- Joint audit with the département sheets ------------------------------------------------------


def _joint_case(tmp_path, monkeypatch, shared_person: bool):
    """Département 77 (period 2025) whose beneficiaries are exactly the people of buyers A and B:
    A has 2 women and 8 men (both hidden on A's sheet), B 20 women and 10 men (published), so the
    département's sheet publishes 22 women and 18 men. With ``shared_person``, one of B's men also
    worked for A (A: 2 women, 9 men)."""
    from analysis.disclosure import Margins
    from analysis.publish import open_report
    from analysis.sections.beneficiaries import PROFILE_DERIVED, TOTAL, profile_block

    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "5")
    rows = []

    def add(buyer, sexe, n):
        for _ in range(n):
            rows.append({"acheteur_id": buyer, "participant_id": f"p{len(rows)}", "sexe": sexe,
                         "tranche_age": "26_49", "diplome": "niveau_4", "qpv": False})

    add("A", "F", 2), add("A", "H", 8), add("B", "F", 20), add("B", "H", 10)
    pairs = pd.DataFrame(rows)
    if shared_person:
        pairs.loc[len(pairs)] = {**pairs.iloc[-1].to_dict(), "acheteur_id": "A"}
    period = Period.parse("2025")
    folder = tmp_path / bs.FOLDER
    buyers = []
    for siret in ("A", "B"):
        report = bs.BuyerReport(slug=f"{bs.SLUG}_{siret}", territory="77", period=period,
                                target=0.3, k=5, output_dir=folder)
        report.buyer = {"siret": siret, "nom": f"Acheteur {siret}"}
        bs._profile_tables(report, pairs.loc[pairs["acheteur_id"] == siret],
                           f"beneficiaires|acheteur:{siret}")
        report.finish()
        buyers.append((json.loads((folder / f"{siret}.json").read_text(encoding="utf-8")), folder))
    crowd = pairs.drop_duplicates("participant_id").drop(columns="acheteur_id")
    crowd["heures_periode"] = 100.0
    dep_folder = tmp_path / "2025" / "77"
    report = open_report(bs.DEPARTEMENT_SLUG, "77", period, 0.3, output_dir=dep_folder)
    for variable in ("sexe", "tranche_age"):
        report.table(profile_block(crowd, variable), f"profil_{variable}", variable,
                     people=("beneficiaires",), derived=PROFILE_DERIVED,
                     margins=Margins(total_row=TOTAL),
                     shared={report.population("beneficiaires"): ("cell", TOTAL, "beneficiaires")})
    dep = [(json.loads((dep_folder / f"{bs.DEPARTEMENT_SLUG}.json").read_text(encoding="utf-8")),
            dep_folder)]
    return buyers, dep, pairs, {"77": crowd}


def test_joint_audit_finds_a_buyer_cell_recovered_from_the_departement(tmp_path, monkeypatch):
    """The attack: the département's women minus buyer B's gives buyer A's hidden 2."""
    from analysis.publish import audit_family

    buyers, dep, pairs, crowds = _joint_case(tmp_path, monkeypatch, shared_person=False)
    a = read_published_table(tmp_path / bs.FOLDER / f"{bs.SLUG}_A_tableaux"
                             / "beneficiaires_sexe.csv", ["Bénéficiaires"])
    assert a["Bénéficiaires"].iloc[:2].isna().all()          # A hides its 2 women and 8 men
    assert audit_family([*buyers, *dep], k=5) == []          # each family alone is safe
    relations = bs.joint_relations(buyers, dep, pairs, crowds)
    # sexe: Femmes, Hommes, Ensemble; age: one category and Ensemble (A and B cover 77 exactly)
    assert len(relations) == 5 and not any(r.remainder for r in relations)
    found = audit_family([*buyers, *dep], k=5, relations=relations)
    assert ((f"77/{bs.SLUG}_A/beneficiaires_sexe", 0), "Bénéficiaires", 2.0) in {
        (v.row, v.column, v.value) for v in found}, found


def test_joint_audit_declares_nothing_for_buyers_sharing_people(tmp_path, monkeypatch):
    """A person who worked for A and B counts in both: département ≠ A + B, no equation."""
    buyers, dep, pairs, crowds = _joint_case(tmp_path, monkeypatch, shared_person=True)
    assert bs.joint_relations(buyers, dep, pairs, crowds) == []
    # Without the shared person but with a third buyer's people outside A and B: a remainder.
    buyers, dep, pairs, crowds = _joint_case(tmp_path / "b", monkeypatch, shared_person=False)
    extra = crowds["77"].iloc[[0]].assign(participant_id="outsider")
    crowds["77"] = pd.concat([crowds["77"], extra], ignore_index=True)
    relations = bs.joint_relations(buyers, dep, pairs, crowds)
    assert relations and all(r.remainder for r in relations)


def test_sheets_tell_apart_the_planted_contrasting_buyers(small_raw, buyer_tables):
    """The generator gives a few buyers a profile of their own (manifest ``buyer_profiles``: very
    engaged, or never a social consideration): each one's share over its history, as its sheet
    computes it, holds the planted expected share in its interval (Wilson, 99.9 %), and every
    engaged buyer's 95 % interval (the one its sheet publishes) stands clear above those of the
    buyers without any."""
    manifest = json.loads((small_raw / "manifest.json").read_text(encoding="utf-8"))
    planted = manifest["sources"]["decp"]["buyer_profiles"]["buyers"]
    assert {b["profile"] for b in planted} == {"engage", "sans_clause"}
    data = bs.compute_from(buyer_tables, min_contracts=1)
    history = data.yearly.groupby("acheteur_id")[["avec_consideration", "contrats"]].sum()
    bounds = {}
    for buyer in planted:
        found = history.loc[buyer["siret"]]
        n = int(found["contrats"])
        assert n >= 5, buyer
        low, high = wilson_interval(np.array([int(found["avec_consideration"])]), np.array([n]),
                                    level=0.999)
        assert low[0] <= buyer["part_attendue"] <= high[0], (buyer, found.to_dict())
        low, high = wilson_interval(np.array([int(found["avec_consideration"])]), np.array([n]))
        bounds.setdefault(buyer["profile"], []).append((low[0], high[0]))
    # the 95 % intervals the sheets publish do not overlap
    assert min(low for low, _ in bounds["engage"]) > max(high for _, high in bounds["sans_clause"])
