"""The researcher's API (:mod:`analysis.api`) and the explorer notebook that uses it.

The API must give the reports' figures (same population, same function), build a DECP file once
and reuse it, fail clearly on a bad breakdown, and never hand out the tables of people.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import struct

import duckdb
import nbformat
import numpy as np
import pandas as pd
import pytest

from analysis import api, config
from analysis.indicators import progression
from analysis.periods import PeriodError
from analysis.plots import percent_fr
from analysis.scope import Scope
from analysis.stats import wilson_interval
from conftest import FIXTURES, TODAY

YEAR = 2025


@pytest.fixture(scope="module")
def warehouse(small_warehouse):
    """The session's small warehouse (with the buyers directory and tracking), reopened."""
    return api.open_warehouse()


# --- Opening -------------------------------------------------------------------------------------


def test_default_warehouse_is_reopened_not_rebuilt(small_warehouse):
    opened = api.open_warehouse()
    assert not opened.built
    assert opened.folder == (config.paths().processed / "warehouse").resolve()
    assert opened.manifest()["tables"]["contracts"] == small_warehouse.tables["contracts"]


def test_a_decp_file_is_built_once_into_the_cache_and_rebuilt_when_it_changes(tmp_path,
                                                                              monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("OBSERVATOIRE_CACHE_DIR", str(cache))
    source = tmp_path / "donnees" / "consolide.csv"
    source.parent.mkdir()
    shutil.copy(FIXTURES / "decp" / "consolide.csv", source)

    first = api.open_warehouse(source, today=TODAY)
    assert first.built and first.folder.is_relative_to(cache)
    assert sorted(p.name for p in source.parent.iterdir()) == ["consolide.csv"]  # nothing beside
    accounting = first.table("accounting")
    assert int(accounting["read"].sum()) == int(
        (accounting["kept"] + accounting["rejected"] + accounting["merged"]).sum()) > 0
    contracts = len(first.table("contracts"))
    assert contracts == first.manifest()["tables"]["contracts"] > 0

    again = api.open_warehouse(str(source))
    assert not again.built and again.folder == first.folder

    os.utime(source, ns=(1_000_000_000, 1_000_000_000))  # new time, same bytes: no rebuild
    assert not api.open_warehouse(source).built

    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    source.write_text("".join(lines[:-1]), encoding="utf-8")  # one row fewer
    changed = api.open_warehouse(source, today=TODAY)
    assert changed.built and changed.folder != first.folder
    assert first.folder.is_dir()  # the object opened before still reads its own build
    assert api.open_warehouse(source, rebuild=True, today=TODAY).built


def test_open_warehouse_refuses_what_it_cannot_read(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="introuvable"):
        api.open_warehouse(tmp_path / "absent.parquet")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="pas un fichier DECP"):
        api.open_warehouse(tmp_path / "notes.txt")
    (tmp_path / "vide").mkdir()
    with pytest.raises(FileNotFoundError, match="aucun fichier d'entrée"):
        api.open_warehouse(tmp_path / "vide")


# --- Shares: the reports' figures ----------------------------------------------------------------


def test_share_by_departement_is_the_reports_figure(warehouse):
    """Each département's row is the share its sheet publishes as a key figure, and the interval
    of the « départements comparés » table (territory_intervals) — same population, same
    function."""
    from analysis.publish import open_report
    from analysis.sections import progression as section

    table = warehouse.share(by="departement_execution", year=YEAR, territory="11")
    rows = table.set_index("departement_execution")
    assert set(config.DEPARTEMENTS) <= set(rows.index)
    low, high = progression.territory_intervals(Scope("11", YEAR).period_contracts,
                                                list(config.DEPARTEMENTS))
    for i, code in enumerate(config.DEPARTEMENTS):
        row = rows.loc[code]
        published = section.period_share(Scope(code, YEAR))
        for column in ("contrats", "avec_consideration", "acheteurs"):
            assert row[column] == published[column], (code, column)
        assert row["part"] == pytest.approx(published["part"], abs=1e-12)
        assert (row["ic_bas"], row["ic_haut"]) == pytest.approx(
            (published["ic_bas"], published["ic_haut"]), abs=1e-12)
        assert (row["ic_bas"], row["ic_haut"]) == pytest.approx((low[i], high[i]), abs=1e-12)
        report = open_report("fiche_departementale", code, YEAR, 0.30)
        section.key_figures(Scope(code, YEAR), report)
        figure = report.key_figures[0]
        assert figure["value"] == percent_fr(row["part"])
        assert f"{percent_fr(row['ic_bas'])} – {percent_fr(row['ic_haut'])}" in figure["detail"]
    # The whole région (no breakdown) is the région's key figure.
    whole = warehouse.share(year=YEAR, territory="11").iloc[0]
    assert whole["contrats"] == section.period_share(Scope("11", YEAR))["contrats"]


def test_share_by_buyer_type_is_the_published_table(warehouse, tmp_path):
    """The CSV the thematic report writes for the breakdown by buyer type holds the API's
    figures (percentages with two decimals)."""
    from analysis.publish import open_report
    from analysis.sections import progression as section

    report = open_report("progression_clauses", "93", YEAR, 0.30, output_dir=tmp_path)
    section.by_buyer_type(Scope("93", YEAR), report)
    csv = pd.read_csv(tmp_path / "progression_clauses_tableaux" / "part_par_type_acheteur.csv",
                      sep=";", decimal=",", encoding="utf-8-sig")
    published = csv.set_index("Catégorie d'acheteur")
    mine = warehouse.share(by="acheteur_categorie", year=YEAR, territory="93", amounts=True) \
        .set_index("acheteur_categorie")
    assert set(published.index) == set(mine.index) and len(mine) >= 3
    for category, row in mine.iterrows():
        shown = published.loc[category]
        assert shown["Marchés (statut connu)"] == row["contrats"]
        for column, header in (("part", "Part (nombre) (%)"), ("ic_bas", "IC 95 % bas (%)"),
                               ("ic_haut", "IC 95 % haut (%)"),
                               ("part_montant", "Part (montant) (%)")):
            assert shown[header] == pytest.approx(round(row[column] * 100, 2), abs=0.006), \
                (category, column)


def test_intervals_surround_the_estimate_and_clustering_only_widens_them(warehouse):
    clustered = warehouse.share(by="cpv_division", year=YEAR)
    independent = warehouse.share(by="cpv_division", year=YEAR, clustered=False)
    rated = clustered.loc[clustered["contrats"] > 0]
    assert len(rated) >= 5
    assert (rated["ic_bas"] <= rated["part"]).all() and (rated["part"] <= rated["ic_haut"]).all()
    assert rated[["ic_bas", "ic_haut"]].stack().between(0, 1).all()
    assert (rated["ic_bas"] < rated["ic_haut"]).all()
    assert (rated["deff"] >= 1).all()
    width = (rated["ic_haut"] - rated["ic_bas"]).to_numpy()
    narrow = independent.set_index("cpv_division").loc[rated["cpv_division"]]
    assert (width >= (narrow["ic_haut"] - narrow["ic_bas"]).to_numpy() - 1e-12).all()
    assert (width > (narrow["ic_haut"] - narrow["ic_bas"]).to_numpy() + 1e-6).any()
    # Unclustered: Wilson's interval of the counts.
    low, high = wilson_interval(narrow["avec_consideration"], narrow["contrats"])
    assert np.allclose(narrow["ic_bas"], low) and np.allclose(narrow["ic_haut"], high)


def test_a_group_of_one_buyer_gets_wilsons_interval(warehouse):
    """By buyer, contracts do not cluster within a group: the clustered interval is Wilson's."""
    clustered = warehouse.share(by="acheteur_id", year=YEAR, territory="11")
    independent = warehouse.share(by="acheteur_id", year=YEAR, territory="11", clustered=False)
    assert (clustered["acheteurs"] <= 1).all() and len(clustered) > 20
    assert np.allclose(clustered["ic_bas"], independent["ic_bas"], equal_nan=True)
    assert np.allclose(clustered["ic_haut"], independent["ic_haut"], equal_nan=True)


def test_unknown_status_is_counted_apart_and_every_contract_is_counted(warehouse):
    table = warehouse.share(by="tranche_montant", year=YEAR, territory="11")
    population = warehouse.population(YEAR, "11")
    assert int(table["contrats"].sum() + table["statut_inconnu"].sum()) == len(population)
    assert int(table["contrats"].sum()) == int(population["has_social_consideration"].notna().sum())


def test_a_bad_breakdown_names_the_column(warehouse):
    with pytest.raises(ValueError) as caught:
        warehouse.share(by=["annee", "departement"], year=YEAR)
    message = str(caught.value)
    assert "colonne de ventilation inconnue : 'departement'" in message
    assert "departement_execution" in message and "tranche_montant" in message
    with pytest.raises(ValueError, match="territoire inconnu"):
        warehouse.share(by="annee", territory="13")
    with pytest.raises(PeriodError, match="période illisible"):
        warehouse.share(year="2025-T5")


# --- Dictionary, tables, SQL ---------------------------------------------------------------------


def test_dictionary_is_the_schemas_and_the_published_dictionary():
    from analysis.schemas import SCHEMAS

    contracts = api.dictionary("contracts")
    assert list(contracts["colonne"]) == list(SCHEMAS["contracts"].columns)
    everything = api.dictionary()
    assert set(everything["table"]) == set(SCHEMAS)
    doc = (config.paths().docs / "data_dictionary.md").read_text(encoding="utf-8")
    for row in everything.itertuples():
        assert f"| `{row.colonne}` | {row.titre} |" in doc, row.colonne
    with pytest.raises(ValueError, match="table inconnue"):
        api.dictionary("marches")


def test_query_reads_the_public_tables_only(warehouse):
    years = warehouse.query(
        "SELECT annee, count(has_social_consideration) AS connus, "
        "avg(CAST(has_social_consideration AS INTEGER)) AS part FROM contracts "
        "GROUP BY annee ORDER BY annee")
    assert len(years) == len(warehouse.years()) >= 5
    shares = warehouse.share(by="annee").set_index("annee")
    for row in years.itertuples():
        assert shares.loc[str(row.annee), "contrats"] == row.connus
        assert shares.loc[str(row.annee), "part"] == pytest.approx(row.part, abs=1e-12)
    assert warehouse.query("SELECT count(*) AS n FROM contracts WHERE annee = ?",
                           [YEAR])["n"].iloc[0] == (warehouse.table("contracts")["annee"]
                                                    == YEAR).sum()
    for name in api.WITHHELD_TABLES:
        with pytest.raises(api.WithheldTableError, match=f"la table {name} décrit des personnes"):
            warehouse.query(f"SELECT count(*) FROM {name}")
        with pytest.raises(api.WithheldTableError):
            warehouse.table(name)
    assert "tracking" not in set(warehouse.query("SELECT DISTINCT source FROM accounting")["source"])
    assert "tracking" not in set(warehouse.table("rejects")["source"])
    assert (warehouse.table("accounting")["source"] == "tracking").sum() == 0
    listed = warehouse.tables().set_index("table")
    assert set(api.WITHHELD_TABLES) <= set(listed.index)  # listed, not counted
    assert listed.loc[list(api.WITHHELD_TABLES), "lignes"].isna().all()
    assert not listed.loc[list(api.WITHHELD_TABLES), "accessible"].any()
    assert listed.loc["contracts", "lignes"] == len(warehouse.table("contracts"))
    # No file can be read or written from a query.
    participants = warehouse.folder / "participants.parquet"
    assert participants.is_file()
    with pytest.raises(duckdb.PermissionException):
        warehouse.query(f"SELECT * FROM read_parquet('{participants}')")
    with pytest.raises(duckdb.Error):
        warehouse.query(f"ATTACH '{warehouse.folder / 'observatoire.duckdb'}' AS w")
    with pytest.raises(duckdb.Error):
        warehouse.query("SET enable_external_access = true")


# --- Charts --------------------------------------------------------------------------------------


def test_plot_share_draws_every_group_with_its_interval(warehouse):
    import matplotlib.pyplot as plt

    table = warehouse.share(by="departement_execution", year=YEAR, territory="11")
    figure = api.plot_share(table)
    ax = figure.axes[0]
    bars = [p for p in ax.patches if p.get_width() > 0]
    assert len(bars) == int(table["part"].gt(0).sum())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert set(labels) == set(table["departement_execution"])
    assert "département d'exécution" in ax.get_title() and "Île-de-France" in ax.get_title()
    plt.close(figure)
    yearly = api.plot_share(warehouse.share(by="annee", territory="93"))
    line = [ln for ln in yearly.axes[0].get_lines() if ln.get_marker() == "o"][0]
    assert list(line.get_xdata()) == warehouse.years()
    plt.close(yearly)
    with pytest.raises(ValueError, match="ic_bas"):
        api.plot_share(table.drop(columns=["ic_bas"]))


# --- The explorer notebook -----------------------------------------------------------------------


def _outputs(notebook, tag: str) -> list:
    cells = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, tag
    return cells[0].outputs


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_the_explorer_notebook_runs_on_a_decp_folder(small_raw, tmp_path, monkeypatch):
    """The explorer on a folder of DECP files (the small data set's, no buyers directory, no
    tracking): it builds the warehouse into the cache, shows the dictionary, a share table with
    its intervals, a chart and a query's rows."""
    import papermill

    from analysis import reporting

    monkeypatch.setenv("OBSERVATOIRE_CACHE_DIR", str(tmp_path / "cache"))
    executed = tmp_path / "explorer.ipynb"
    papermill.execute_notebook(
        str(config.paths().notebooks / reporting.EXPLORER), str(executed),
        parameters={"source": str(small_raw / "decp"), "territory": "11"},
        kernel_name=reporting.KERNEL, progress_bar=False, cwd=str(tmp_path))
    notebook = nbformat.read(executed, as_version=4)
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors

    dictionary = pd.read_html(io.StringIO(_outputs(notebook, "dictionnaire")[0].data["text/html"]))[0]
    assert len(dictionary) == len(api.dictionary("contracts"))

    shown = pd.read_html(io.StringIO(_outputs(notebook, "part")[0].data["text/html"]),
                         index_col=0)[0]
    rated = shown.loc[shown["contrats"] > 0]
    assert set(config.DEPARTEMENTS) <= set(rated["departement_execution"].astype(str).str.zfill(2))
    assert rated[["part", "ic_bas", "ic_haut"]].notna().all().all()
    assert ((rated["ic_bas"] <= rated["part"]) & (rated["part"] <= rated["ic_haut"])).all()
    assert (rated["ic_bas"] < rated["ic_haut"]).all()

    png = base64.b64decode(_outputs(notebook, "graphique")[0].data["image/png"])
    width, height = _png_size(png)
    assert width > 400 and height > 300 and len(png) > 20_000

    rows = pd.read_html(io.StringIO(_outputs(notebook, "requete")[0].data["text/html"]),
                        index_col=0)[0]
    assert len(rows) >= 5 and (rows["marches"] > 0).all()

    # The notebook's warehouse is in the cache, reused as it is, and gives the figures shown.
    again = api.open_warehouse(small_raw / "decp")
    assert not again.built and again.folder.is_relative_to(tmp_path / "cache")
    assert int(again.query("SELECT count(*) AS n FROM contracts")["n"].iloc[0]) == \
        int(rows["marches"].sum())
    latest = str(again.years()[-1])
    mine = again.share(by="departement_execution", year=latest, territory="11")
    assert list(mine["contrats"]) == list(shown["contrats"])
    assert np.allclose(mine["ic_bas"], shown["ic_bas"], atol=1e-6)
