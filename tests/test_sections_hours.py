"""Section « Heures d'insertion et Grand Paris » on the small warehouse: disclosure, consistency."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from IPython.display import Markdown

from analysis.disclosure import scan_for_small_cells
from analysis.indicators.hours import prorate_by_year
from analysis.publish import TABLES_SUFFIX, open_report
from analysis.scope import Scope
from analysis.sections import hours

@pytest.fixture(autouse=True)
def _threshold(monkeypatch):
    """open_report sets the threshold for the process: restore it after each test."""
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "5")


PARTS = ("key_figures", "yearly_chart", "yearly_table", "by_modality", "by_sector",
         "by_owner_type", "realisation", "grand_paris", "method")


def render(tmp_path, territory, period, k=5):
    report = open_report("heures_grand_paris", territory, period, 0.30, k, tmp_path)
    scope = Scope(territory, period)
    shown = {name: getattr(hours, name)(scope, report) for name in PARTS}
    return report, scope, shown


def num(value) -> float:
    """A cell of a published CSV (decimal comma) as a number."""
    return float(str(value).replace(",", "."))


def read_tables(tmp_path, slug):
    record = json.loads((tmp_path / f"{slug}.json").read_text(encoding="utf-8"))
    folder = tmp_path / f"{slug}{TABLES_SUFFIX}"
    out = {}
    for table in record["tables"]:
        frame = pd.read_csv(folder / f"{table['name']}.csv", sep=";", decimal=",",
                            encoding="utf-8-sig", dtype=str)
        out[table["name"]] = (frame, table["people"])
    return record, out


def assert_no_small_cells(tmp_path, slug, k):
    record, tables = read_tables(tmp_path, slug)
    assert tables, "aucun tableau publié"
    for name, (frame, people) in tables.items():
        numeric = frame.apply(lambda c: pd.to_numeric(c.str.replace(",", "."), errors="coerce"))
        assert scan_for_small_cells(numeric, people, k=k) == [], name
    return record, tables


@pytest.mark.parametrize("territory,period", [("11", "2024"), ("93", "2024-T2"), ("77", "2023")])
def test_no_small_people_count_published(small_warehouse, tmp_path, territory, period):
    report, _, shown = render(tmp_path, territory, period)
    assert all(isinstance(parts, list) for parts in shown.values())
    _, tables = assert_no_small_cells(tmp_path, "heures_grand_paris", report.k)
    assert {"heures_par_annee", "heures_par_modalite", "heures_par_secteur",
            "heures_par_type_maitre_ouvrage"} <= set(tables)
    # hours are hidden with their beneficiaries: never a figure of hours beside an « s »
    for name in ("heures_par_modalite", "heures_par_secteur", "heures_par_annee"):
        frame, _ = tables[name]
        secret = frame["Bénéficiaires"].eq("s")
        assert frame.loc[secret, "Heures réalisées"].eq("s").all()


def test_stricter_threshold(small_warehouse, tmp_path):
    report, _, _ = render(tmp_path, "75", "2024-T3", k=11)
    assert report.k == 11
    assert_no_small_cells(tmp_path, "heures_grand_paris", 11)


def test_figures_match_the_indicators(small_warehouse, tmp_path):
    report, scope, _ = render(tmp_path, "11", "2024")
    total = scope.period_work_contracts["heures_periode"].sum()
    figures = {f["label"]: f["value"] for f in report.key_figures}
    assert figures["heures d'insertion réalisées (année 2024)"] == hours.hours_fr(total)
    assert figures["bénéficiaires (année 2024)"].replace("\u202f", "") == str(
        scope.period_work_contracts["participant_id"].nunique())
    _, tables = read_tables(tmp_path, "heures_grand_paris")
    modality, _ = tables["heures_par_modalite"]
    ensemble = modality.loc[modality["Catégorie"].eq("Ensemble")].iloc[0]
    assert num(ensemble["Heures réalisées"]) == pytest.approx(round(total))
    # a whole year of the history table equals the indicators' proration by year
    spread = prorate_by_year(scope.work_contracts)
    yearly, _ = tables["heures_par_annee"]
    row = yearly.loc[yearly["Année"].eq("2023")].iloc[0]
    expected = spread.loc[spread["annee"].eq(2023), "heures_annee"].sum()
    assert num(row["Heures réalisées"]) == pytest.approx(round(expected))
    assert num(row["Bénéficiaires"]) == spread.loc[spread["annee"].eq(2023),
                                                    "participant_id"].nunique()


def test_quarter_history_stops_at_the_quarter(small_warehouse):
    scope = Scope("11", "2024-T2")
    frame = hours.yearly_frame(scope)
    assert frame.index[-1] == "2024 (T1-T2)"
    assert not frame["complete"].iloc[-1]
    # January to June = the first two quarters' hours
    q1 = Scope("11", "2024-T1").period_work_contracts["heures_periode"].sum()
    q2 = scope.period_work_contracts["heures_periode"].sum()
    assert frame["heures"].iloc[-1] == pytest.approx(q1 + q2)
    assert hours.period_fte_divisor(scope.period) == pytest.approx(1600 * 91 / 366)


def test_no_grand_paris_works_is_said_plainly(small_warehouse, tmp_path):
    gp = Scope("11", "2024").table("grand_paris")
    scope = Scope("77", "2024", tables={"grand_paris": gp.loc[gp["departement"] != "77"]})
    report = open_report("heures_grand_paris", "77", "2024", 0.30, 5, tmp_path)
    shown = hours.grand_paris(scope, report)
    assert len(shown) == 1 and isinstance(shown[0], Markdown)
    assert "Aucun marché de travaux du Grand Paris Express" in shown[0].data
    assert "Seine-et-Marne" in shown[0].data


def test_grand_paris_counts_contracts(small_warehouse, tmp_path):
    report, scope, shown = render(tmp_path, "11", "2025")
    _, tables = read_tables(tmp_path, "heures_grand_paris")
    by_line, people = tables["grand_paris_insertion_par_ligne"]
    assert people == []  # contracts, not people
    ensemble = by_line.loc[by_line["Ligne"].eq("Ensemble")].iloc[0]
    assert num(ensemble["Marchés"]) + num(ensemble.get("Réalisation inconnue (exclus)", 0)) == len(
        hours.grand_paris_contracts(scope))


def test_owner_type_prefers_the_directory():
    operations = pd.DataFrame({"maitre_ouvrage": ["Ville de Meaux", "X", "Office public de "
                                                  "l'habitat (Essonne)", None],
                               "maitre_ouvrage_siret": ["1", "2", "3", "4"]})
    buyers = pd.DataFrame({"acheteur_id": ["2"], "acheteur_categorie": ["Région"]})
    assert hours.owner_type(operations, buyers).tolist() == [
        "Commune", "Région", "Bailleur social", "non renseigné"]
