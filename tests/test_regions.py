"""France's régions compared (issue 18): the national DECP layer of the generator, the indicators
recovering its planted régional effects, the France maps and the report.

One national file of 40 000 contracts is generated for the module (about 1.5 s) and read once
through the DECP pipeline (about 4 s); the report is rendered once (one papermill run).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis import config
from analysis.indicators import regions
from analysis.synthetic import national
from analysis.synthetic.decp import _TABULAR_SCHEMA

CONTRACTS = 40_000
YEARS = (config.DEFAULT_FIRST_YEAR, config.DEFAULT_LAST_YEAR)


@pytest.fixture(scope="module")
def national_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("national")
    manifest = national.generate_national(out, contracts=CONTRACTS, seed=20261207)
    return out / national.TABLE_NAME, manifest


@pytest.fixture(scope="module")
def read(national_file):
    path, _ = national_file
    return regions.load_national(path)


@pytest.fixture(scope="module")
def shares(read):
    return regions.region_shares(read.contracts, *YEARS)


def test_the_national_table_has_decp_processings_layout(national_file):
    path, manifest = national_file
    table = pq.read_table(path)
    assert table.column_names == [name for name, _ in _TABULAR_SCHEMA]
    frame = table.select(["uid", "dateNotification", "modification_id",
                          "acheteur_region_code", "lieuExecution_code"]).to_pandas()
    # Sorted by uid, then the latest state first (decp-processing's order).
    assert frame["uid"].is_monotonic_increasing
    later = frame["uid"].eq(frame["uid"].shift())
    assert (frame.loc[later, "dateNotification"].to_numpy()
            <= frame["dateNotification"].shift().loc[later].to_numpy()).all()
    assert frame["uid"].nunique() == CONTRACTS == manifest["counts"]["contracts"]
    assert len(frame) == manifest["counts"]["rows"] > CONTRACTS
    # Every région has buyers, calibrated on its population (at least MIN_BUYERS each).
    by_region = manifest["buyers"]["by_region"]
    assert len(by_region) == 18 and min(by_region.values()) >= national.MIN_BUYERS
    assert by_region["11"] == max(by_region.values())
    assert set(manifest["model"]["region_effects_logit"]) == set(by_region)


def test_the_reader_accounts_for_every_row_and_finds_every_place(national_file, read):
    _, manifest = national_file
    acc = read.accounting
    assert acc["lignes_lues"] == manifest["counts"]["rows"]
    assert acc["marches"] == CONTRACTS and acc["rejetes"] == 0
    assert acc["lignes_lues"] == acc["marches"] + acc["rejetes"] + acc["fusionnees"]
    assert acc["statut_inconnu"] == manifest["counts"]["unknown_status"]
    assert acc["region_inconnue"] == 0
    places = set(read.contracts["departement_execution"].dropna().astype(str))
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= places
    # Contracts keep the year of their original notification (modified ones included).
    assert read.contracts["annee"].between(*YEARS).all()


def _coverage(shares: pd.DataFrame, manifest: dict, basis: str, key: str) -> float:
    expected = manifest["expected"][basis]
    rows = shares.loc[(shares["base"] == basis) & ~shares["secret"]]
    truth = [expected[r][str(y)][key] for r, y in zip(rows["region"], rows["annee"])]
    inside = (rows["ic_bas"].to_numpy() <= truth) & (np.asarray(truth) <= rows["ic_haut"])
    return float(np.mean(inside))


@pytest.mark.parametrize("basis", ["tous", "oecp"])
def test_intervals_recover_the_planted_shares(national_file, shares, basis):
    """Every région × year on both bases: the buyer-clustered interval contains the planted
    expected share (given the drawn buyer effects, and integrated over them) about 95 % of the
    time (126 cells: at least 90 %)."""
    _, manifest = national_file
    assert _coverage(shares, manifest, basis, "part_attendue") >= 0.90
    assert _coverage(shares, manifest, basis, "part_attendue_marginale") >= 0.90
    rows = shares.loc[shares["base"] == basis]
    assert len(rows) == 18 * (YEARS[1] - YEARS[0] + 1)
    counts = {(r, str(y)): n for r, y, n in zip(rows["region"], rows["annee"], rows["contrats"])}
    assert counts == {(r, y): v["contrats"] for r, years in manifest["expected"][basis].items()
                      for y, v in years.items()}


def test_the_planted_regional_effects_are_recovered(national_file, read):
    """The régional log-odds, adjusted as the generator planted them (year, buyer type, sector,
    amount) with buyer-clustered intervals, contain the régional effects the generated contracts
    carry (ρ(région) plus the mean effect of the buyers drawn, against the reference), and
    follow the planted ρ(région)."""
    _, manifest = national_file
    model = manifest["model"]
    rho = pd.Series(model["region_effects_logit"])
    realised = pd.Series(model["region_effects_realised_logit"])
    table = regions.adjusted_effects(read.contracts, *YEARS, reference="11").set_index("region")
    assert len(table) == 17
    truth = realised.reindex(table.index) - realised["11"]
    inside = (table["ic_bas"] <= truth) & (truth <= table["ic_haut"])
    assert inside.mean() >= 15 / 17, table.assign(truth=truth)  # 15 to 17 over seeds 1-4
    planted = rho.reindex(table.index) - rho["11"]
    assert np.corrcoef(planted, table["coef"])[0, 1] > 0.75  # 0.88 to 0.95 over seeds 1-4
    assert np.abs(table["coef"] - planted).median() < 0.2


def test_unknown_statuses_are_out_of_the_denominator(national_file, shares):
    _, manifest = national_file
    rows = shares.loc[shares["base"] == "tous"]
    assert rows["statut_inconnu"].sum() == manifest["counts"]["unknown_status"]
    assert rows["contrats"].sum() + rows["statut_inconnu"].sum() == CONTRACTS


def test_small_cells_are_not_published(read):
    table = regions.region_shares(read.contracts, *YEARS, bases=("oecp",), k=40)
    secret = table["secret"]
    assert secret.any() and (~secret).any()
    assert table.loc[secret, ["part", "ic_bas", "ic_haut"]].isna().all().all()
    assert (table.loc[secret, "contrats"] < 40).all()


@pytest.mark.parametrize("basis", ["tous", "oecp"])
def test_rank_intervals_contain_the_true_rank(national_file, read, basis):
    _, manifest = national_file
    year = YEARS[1]
    table = regions.rank_intervals(read.contracts, year, basis, replicates=399)
    truth = table["region"].map({r: v[str(year)]["rang_vrai"]
                                 for r, v in manifest["expected"][basis].items()})
    ranked = table.loc[~table["secret"]]
    inside = (ranked["rang_bas"] <= truth[ranked.index]) & (truth[ranked.index]
                                                            <= ranked["rang_haut"])
    assert inside.mean() >= 15 / 18, table.assign(vrai=truth)  # 15 to 18 over seeds 1-4 and this one
    # Intervals, not points: some are wide, and the big régions are told apart from the others.
    width = ranked["rang_haut"] - ranked["rang_bas"]
    assert width.max() >= 5 and width.min() <= 4
    assert (ranked["rang_bas"] <= ranked["rang"]).all() and \
        (ranked["rang"] <= ranked["rang_haut"]).all()


def test_projection_and_readiness(read):
    table, check = regions.projections(read.contracts, *YEARS)
    assert len(table) == 18 and set(table["cible"]) == {config.DEFAULT_TARGET}
    told = table.dropna(subset=["ic_bas", "ic_haut", "annee_atteinte"])
    assert len(told) > 0
    assert ((told["ic_bas"] <= told["annee_atteinte"])
            & (told["annee_atteinte"] <= told["ic_haut"])).all()
    ready = regions.readiness(read.contracts, f"{YEARS[1]}-01-01", f"{YEARS[1]}-12-31")
    france = ready.iloc[-1]
    assert france["region"] == "France"
    assert ready.iloc[:-1]["marches"].sum() == france["marches"] > 0
    assert 0 < france["part"] < 1 and france["ic_bas"] <= france["part"] <= france["ic_haut"]


def test_the_france_maps_have_101_departements_and_overseas_insets(read):
    from analysis import maps

    layer = maps.france_layer("departement")
    assert len(layer) == 101 and {"2A", "2B"} <= set(layer["code"])
    assert sorted(layer["outre_mer"].dropna()) == sorted(maps.OVERSEAS)
    deps = regions.departement_shares(read.contracts, YEARS[1])
    assert len(deps) == 101
    fig = maps.france_choropleth(deps.rename(columns={"departement": "code"}), "part",
                                 level="departement", secret="secret")
    gids = {ax.get_gid() for ax in fig.axes}
    assert gids == {"metropole", *(f"encart-{d}" for d in maps.OVERSEAS)}
    # Each inset is drawn in its local projection (metres), the metropole in Lambert-93.
    reunion = next(ax for ax in fig.axes if ax.get_gid() == "encart-974")
    assert abs(np.diff(reunion.get_xlim())[0]) < 200_000
    import matplotlib.pyplot as plt

    plt.close(fig)
    with pytest.raises(ValueError, match="codes absents"):
        maps.france_choropleth(pd.DataFrame({"code": ["99"], "v": [1.0]}), "v", level="region")


def test_the_national_file_is_looked_for_where_the_configuration_says(tmp_path, monkeypatch,
                                                                      national_file):
    from analysis import reporting

    path, _ = national_file
    monkeypatch.setattr(config, "NATIONAL_DECP_DEFAULT", tmp_path / "absent")
    monkeypatch.delenv(config.NATIONAL_DECP_ENV, raising=False)
    assert regions.national_path() is None
    assert "regions_comparees" not in {j.spec.slug for j in reporting.plan(period="2025")}
    with pytest.raises(ValueError, match="DECP nationale absente"):
        reporting.plan(period="2025", reports=["regions_comparees"])
    monkeypatch.setenv(config.NATIONAL_DECP_ENV, str(path.parent))
    assert regions.national_path() == path
    assert "regions_comparees" in {j.spec.slug for j in reporting.plan(period="2025")}
    # Annual: not planned for a quarter, refused when asked for one.
    assert "regions_comparees" not in {j.spec.slug for j in reporting.plan(period="2025-T3")}
    with pytest.raises(ValueError, match="pas un trimestre"):
        reporting.plan(period="2025-T3", reports=["regions_comparees"])
    two = tmp_path / "deux"
    two.mkdir()
    (two / "a.parquet").write_bytes(b"")
    (two / "b.csv").write_text("")
    monkeypatch.setenv(config.NATIONAL_DECP_ENV, str(two))
    with pytest.raises(ValueError, match="plusieurs tables"):
        regions.national_path()
    monkeypatch.setenv(config.NATIONAL_DECP_ENV, str(tmp_path / "nulle-part"))
    with pytest.raises(FileNotFoundError, match="introuvable"):
        regions.national_path()


def test_the_cli_writes_a_national_file(tmp_path, capsys):
    from analysis.cli import main

    assert main(["generate-national", "--out", str(tmp_path), "--contracts", "2000"]) == 0
    assert "2000 marchés" in capsys.readouterr().out
    manifest = json.loads((tmp_path / national.MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["counts"]["contracts"] == 2000
    assert pq.read_metadata(tmp_path / national.TABLE_NAME).num_rows == manifest["counts"]["rows"]


def test_the_comparison_report_renders(national_file, tmp_path, monkeypatch):
    """One papermill render of notebooks/12_regions_comparees.ipynb on the 40 000 contracts."""
    from analysis import reporting
    from analysis.periods import Period

    path, _ = national_file
    monkeypatch.setenv(config.NATIONAL_DECP_ENV, str(path))
    job = reporting.Job(reporting.SPECS["regions_comparees"], config.REGION_CODE,
                        Period.parse(str(YEARS[1])))
    result = reporting.run_job(job, reports=tmp_path)
    page = result.html.read_text(encoding="utf-8")
    assert "Régions de France comparées — France" in page
    for heading in ("Chiffres clés", "Cartes", "Rangs des régions", "Sources et traitement"):
        assert heading in page
    assert "Données synthétiques" in page
    record = json.loads(job.record_path(tmp_path).read_text(encoding="utf-8"))
    names = {table["name"] for table in record["tables"]}
    assert {"parts_regions_tous", "parts_regions_oecp", "rangs_regions_tous",
            "objectif_regions_tous", "climat_resilience_regions"} <= names
