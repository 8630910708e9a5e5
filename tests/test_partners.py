"""Partners (issue 16, point 4): the inclusive structures as an offer of service and the value
awarded to them — indicator on hand-made frames, section on a stand-in scope (escaping, absent
sources), and recovery of the generator's planted awards on the small warehouse."""

from __future__ import annotations

import json
import math

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analysis import config
from analysis.indicators import buyers
from analysis.indicators import structures as ind
from analysis.publish import TABLES_SUFFIX, open_report
from analysis.scope import Scope
from analysis.sections import partners


@pytest.fixture(autouse=True)
def _threshold(monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "5")


# --- hand-made frames ----------------------------------------------------------------------------

SIAE_SIRET = "11111111100011"
SIAE_OTHER_ESTABLISHMENT = "11111111100029"  # same SIREN as SIAE_SIRET
EA_SIRET = "22222222200012"
OTHER_SIRET = "33333333300013"


def communes() -> pd.DataFrame:
    """Paris (2 000 000 inhabitants) with one arrondissement listed apart (16 000, type ARM), two
    communes of the 93 (50 000 each, one EPCI), one of the 77 (100 000, no EPCI)."""
    return pd.DataFrame({
        "code_insee": ["75056", "75101", "93001", "93002", "77001"],
        "nom": ["Paris", "Paris 1er", "Aubervilliers", "Bobigny", "Meaux"],
        "type": ["COM", "ARM", "COM", "COM", "COM"],
        "departement": ["75", "75", "93", "93", "77"],
        "epci_code": ["E1", "E1", "E1", "E1", pd.NA],
        "epci_nom": ["Métropole", "Métropole", "Métropole", "Métropole", pd.NA],
        "population_municipale": [2_000_000, 16_000, 50_000, 50_000, 100_000],
    })


def structures() -> pd.DataFrame:
    return pd.DataFrame({
        "siret": [SIAE_SIRET, "44444444400014", "55555555500015", EA_SIRET, "66666666600016"],
        "raison_sociale": ["EI Un", "ESAT Deux", "ACI Trois", "EA Quatre", "GEIQ Cinq"],
        "type": ["EI", "ESAT", "ACI", "EA", "geiq"],
        "commune": ["75101", "75056", "93001", "93001", "93002"],
        "secteurs": ["BTP, Propreté", "Propreté", None, "BTP", " Espaces verts ,BTP"],
    })


def test_holders_matched_by_siret_then_siren():
    holders = pd.Series([SIAE_SIRET, SIAE_OTHER_ESTABLISHMENT, EA_SIRET, OTHER_SIRET,
                         "FR123456789", pd.NA], dtype="string")
    found = ind.holder_families(holders, structures())
    assert found.tolist()[:3] == ["siae", "siae", "ea_esat"]
    assert found.iloc[3:].isna().all()
    assert ind.holder_families(holders, None).isna().all()


def test_offer_by_commune_counts_paris_once():
    table = ind.offer_by_commune(structures(), communes()).set_index("code_insee")
    assert "75101" not in table.index  # an arrondissement is not a commune
    paris = table.loc["75056"]
    assert paris["population"] == 2_000_000  # never 2 016 000
    assert (paris["structures_EI"], paris["structures_ESAT"]) == (1, 1)
    assert (paris["siae"], paris["ea_esat"], paris["structures"]) == (1, 1, 2)
    assert math.isclose(paris["pour_10000"], 2 / 2_000_000 * 1e4)
    assert table.loc["93001", "structures"] == 2 and table.loc["93002", "structures_GEIQ"] == 1
    assert table.loc["77001", "structures"] == 0 and table.loc["77001", "pour_10000"] == 0
    by_epci = ind.aggregate_offer(table.reset_index(), "epci_code")
    assert by_epci.loc["E1", "structures"] == 5 and by_epci.loc["E1", "population"] == 2_100_000
    assert math.isclose(by_epci.loc["E1", "pour_10000"], 5 / 2_100_000 * 1e4)


def test_offer_by_territory_uses_the_territory_population():
    table = ind.offer_by_territory(structures(), communes())
    region = table.loc[config.REGION_CODE]
    assert region["population"] == 2_200_000 and region["structures"] == 5
    assert (region["siae"], region["ea_esat"]) == (3, 2)
    assert math.isclose(region["pour_10000"], 5 / 2_200_000 * 1e4)
    assert math.isclose(table.loc["93", "siae_pour_10000"], 2 / 100_000 * 1e4)
    assert math.isclose(table.loc["93", "ea_esat_pour_10000"], 1 / 100_000 * 1e4)
    assert table.loc["77", "structures"] == 0
    assert table.loc["78", "population"] == 0 and np.isnan(table.loc["78", "pour_10000"])


def test_sectors_count_a_structure_in_each_of_its_sectors():
    table = ind.sectors_by_territory(structures(), communes())
    region = table.loc[table["territoire"] == config.REGION_CODE].set_index("secteur")
    assert region.loc["BTP", "structures"] == 3  # EI Un, EA Quatre, GEIQ Cinq
    assert (region.loc["BTP", "siae"], region.loc["BTP", "ea_esat"]) == (2, 1)
    assert region.loc["Propreté", "structures"] == 2
    assert region.loc["Espaces verts", "structures"] == 1  # spaces trimmed
    assert region.loc[ind.UNKNOWN_SECTOR, "structures"] == 1
    assert list(table.columns) == ["territoire", "secteur", "siae", "ea_esat", "structures"]
    assert table.columns.name is None  # no stray header over the published table
    seine = table.loc[table["territoire"] == "93"].set_index("secteur")
    assert seine.loc["BTP", "structures"] == 2 and "Propreté" not in seine.index


def contracts() -> pd.DataFrame:
    """Buyer A: c1 (1 000 €, an SIAE and another holder), c2 (3 000 €, no inclusive holder);
    buyer B: c3 (1 000 € after modification, an EA) placed in an arrondissement of Paris; c4 with
    no amount (an SIAE establishment, matched by SIREN); c5 placed at the région's level."""
    return pd.DataFrame({
        "uid": ["c1", "c2", "c3", "c4", "c5"],
        "acheteur_id": ["A", "A", "B", "B", "B"],
        "montant": [1000.0, 3000.0, 1000.0, None, 500.0],
        "montant_initial": [1000.0, 3000.0, None, None, 500.0],
        "dateNotification": pd.to_datetime(["2024-03-01", "2024-05-01", "2024-06-01",
                                            "2025-01-10", "2024-02-01"]),
        "lieuExecution_code": ["93001", "93300", "75101", "93001", "11"],
        "lieuExecution_typeCode": ["Code commune", "Code postal", "Code commune",
                                   "Code commune", "Code région"],
        "departement_execution": ["93", "93", "75", "93", None],
        "region_execution": ["11", "11", "11", "11", "11"],
    })


def suppliers() -> pd.DataFrame:
    return pd.DataFrame({"uid": ["c1", "c1", "c2", "c3", "c4", "c5"],
                         "titulaire_id": [SIAE_SIRET, OTHER_SIRET, OTHER_SIRET, EA_SIRET,
                                          SIAE_OTHER_ESTABLISHMENT, OTHER_SIRET]})


def test_contract_awards_split_the_value_among_holders():
    awards = ind.contract_awards(contracts(), suppliers(), structures()).set_index("uid")
    assert awards.loc["c1", "montant_siae"] == 500.0 and awards.loc["c1", "marche_siae"] == 1
    assert awards.loc["c2", "montant_inclusif"] == 0.0 and awards.loc["c2", "marche_inclusif"] == 0
    assert awards.loc["c3", "montant"] == 1000.0 and awards.loc["c3", "montant_ea_esat"] == 1000.0
    assert np.isnan(awards.loc["c4", "montant_siae"]) and awards.loc["c4", "marche_siae"] == 1
    assert awards.loc["c1", "commune_execution"] == "93001"
    assert pd.isna(awards.loc["c2", "commune_execution"])  # a postcode is not a commune
    assert awards.loc["c3", "commune_execution"] == "75056"  # an arrondissement is Paris
    assert awards.loc["c1", "annee"] == 2024 and awards.loc["c4", "annee"] == 2025


def test_award_shares_by_territory_and_year():
    frame = contracts()
    awards = ind.contract_awards(frame, suppliers(), structures())
    stacked = ind.by_territory(awards, frame)
    assert sorted(stacked.loc[stacked["territoire"] == config.REGION_CODE, "uid"]) == \
        ["c1", "c2", "c3", "c4", "c5"]
    assert sorted(stacked.loc[stacked["territoire"] == "93", "uid"]) == ["c1", "c2", "c4"]
    table = ind.award_shares(stacked).set_index(["territoire", "annee"])
    region = table.loc[(config.REGION_CODE, 2024)]
    # 2024 in the région: c1, c2, c3, c5 = 5 500 €, 500 € to an SIAE, 1 000 € to an EA
    assert (region["marches"], region["marches_montant"]) == (4, 4)
    assert region["montant"] == 5500.0
    assert region["marches_siae"] == 1 and region["marches_ea_esat"] == 1
    assert region["marches_inclusif"] == 2
    assert math.isclose(region["part_montant_siae"], 500 / 5500)
    assert math.isclose(region["part_montant_ea_esat"], 1000 / 5500)
    assert math.isclose(region["part_montant_inclusif"], 1500 / 5500)
    assert math.isclose(region["part_marches_inclusif"], 2 / 4)
    for name in ("siae", "ea_esat", "inclusif"):
        assert region[f"ic_marches_{name}_bas"] <= region[f"part_marches_{name}"] \
            <= region[f"ic_marches_{name}_haut"]
        assert region[f"ic_montant_{name}_bas"] <= region[f"part_montant_{name}"] \
            <= region[f"ic_montant_{name}_haut"]
    seine = table.loc[("93", 2025)]  # c4 alone: contract counted, no known value
    assert seine["marches"] == 1 and seine["marches_montant"] == 0 and seine["marches_siae"] == 1
    assert np.isnan(seine["part_montant_siae"])
    paris = table.loc[("75", 2024)]
    assert paris["montant_ea_esat"] == 1000.0 and paris["part_montant_ea_esat"] == 1.0
    by_commune = ind.award_shares(awards, ("commune_execution",)).set_index("commune_execution")
    assert by_commune.loc["93001", "marches"] == 2 and by_commune.loc["75056", "marches"] == 1


def test_the_buyer_sheets_use_the_same_matching():
    table = buyers.inclusive(contracts().assign(marche_reserve=False), suppliers(),
                             structures()).set_index("acheteur_id")
    assert table.loc["A", "montant_siae"] == 500.0 and table.loc["B", "montant_ea_esat"] == 1000.0
    assert table.loc["B", "marches_inclusifs"] == 2  # c3 (EA) and c4 (SIAE by its SIREN)
    assert buyers.SIAE_TYPES == ind.SIAE_TYPES


# --- the section on a stand-in scope -------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://example.invalid","x")'


def _scope(territory: str, structures_frame: pd.DataFrame) -> Scope:
    return Scope(territory, "2025", tables={"structures": structures_frame,
                                            "communes": communes()})


def _html(parts) -> str:
    return "".join(getattr(p, "data", str(p)) for p in parts)


def test_offer_section_escapes_names_and_keeps_them_text(tmp_path):
    frame = structures()
    frame.loc[2, "raison_sociale"] = HOSTILE
    frame.loc[3, "raison_sociale"] = FORMULA
    report = open_report("fiche_departementale", "93", "2025", 0.30, 5, tmp_path)
    page = _html(partners.offer(_scope("93", frame), report))
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "L'annuaire recense **3** structure(s)" in page
    folder = tmp_path / f"fiche_departementale{TABLES_SUFFIX}"
    names = {t.name for t in report.tables}
    assert names == {"partenaires_types", "partenaires_secteurs", "partenaires_communes",
                     "partenaires_annuaire"}
    sheet = openpyxl.load_workbook(folder / "partenaires_annuaire.xlsx")["Tableau"]
    cells = [c for row in sheet.iter_rows() for c in row if c.value == FORMULA]
    assert len(cells) == 1 and cells[0].data_type == "s"  # text, never a formula
    types = pd.read_csv(folder / "partenaires_types.csv", sep=";", decimal=",",
                        encoding="utf-8-sig").set_index("Type de structure")
    assert types.loc["Ensemble", "Structures"] == 3
    assert types.loc["Ensemble", f"Structures ({config.REGION_NAME})"] == 5
    assert math.isclose(types.loc["Ensemble", "Pour 10 000 hab."], 0.3, rel_tol=1e-3)


def test_region_report_lists_the_communes_not_the_directory(tmp_path):
    report = open_report("rapport_annuel", config.REGION_CODE, "2025", 0.30, 5, tmp_path)
    partners.offer(_scope(config.REGION_CODE, structures()), report)
    assert "partenaires_annuaire" not in {t.name for t in report.tables}
    communes_shown = partners.commune_table(_scope(config.REGION_CODE, structures()))
    assert communes_shown["nom"].tolist() == ["Aubervilliers", "Paris", "Bobigny"]


def test_without_the_directory_the_section_says_so(tmp_path):
    report = open_report("fiche_departementale", "93", "2025", 0.30, 5, tmp_path)
    empty = structures().iloc[0:0]
    shown = _html(partners.offer(_scope("93", empty), report))
    assert "Partie non couverte" in shown and "l'annuaire des structures" in shown
    assert report.tables == []


# --- planted truths on the small warehouse -------------------------------------------------------


def _expected(small_raw, frame: pd.DataFrame) -> tuple[pd.Series, dict]:
    truth = json.loads((small_raw / "manifest.json").read_text(encoding="utf-8"))
    truth = truth["sources"]["decp"]["inclusive_awards"]
    rate = frame["acheteur_categorie"].map(truth["rate_by_buyer_type"]).astype(float)
    return rate, truth


def test_section_recovers_the_planted_rates(small_warehouse, small_raw, tmp_path):
    """The generator awards each contract to a structure of the directory with a probability set
    by its buyer's type, 30 % of them to EA / ESAT (manifest ``inclusive_awards``). Expected share
    of a territory-year: the mean planted rate of its contracts (by number), the amount-weighted
    mean (by value, given the amounts). The région's published shares by number contain it every
    year; over all territories and years, at least 90 % of the 95 % intervals do; by value, the
    région's share over the history does, and at least 85 % of the territories' shares."""
    from analysis.warehouse import load_table

    contracts, suppliers_, directory = (load_table(n) for n in
                                        ("contracts", "suppliers", "structures"))
    rate, truth = _expected(small_raw, contracts)
    assert rate.notna().all()
    weights = {"siae": 1 - truth["disability_share"], "ea_esat": truth["disability_share"],
               "inclusif": 1.0}
    # the section's own tables for the région
    report = open_report("rapport_annuel", config.REGION_CODE, "2025", 0.30, 5, tmp_path)
    scope = Scope(config.REGION_CODE, "2025")
    history = scope.history_contracts
    year = history["dateNotification"].dt.year
    expected_by_year = rate.loc[history.index].groupby(year.to_numpy()).mean()
    shown = _html(partners.awards(scope, report))
    assert "attribués à une structure inclusive" in shown
    for name, weight in weights.items():
        table, _ = partners.award_table(scope, name)
        for label, row in table.iterrows():
            planted = expected_by_year.loc[int(str(label)[:4])] * weight
            assert row["ic_marches_bas"] <= planted <= row["ic_marches_haut"], (name, label)
    # every territory and year at once (the indicator the section slices)
    awards = ind.contract_awards(contracts, suppliers_, directory)
    awards["_rate"] = rate.to_numpy()
    awards["_rate_value"] = awards["_rate"] * awards["montant"]
    stacked = ind.by_territory(awards, contracts)
    grouped = stacked.groupby(["territoire", "annee"])
    by_year = ind.award_shares(stacked).set_index(["territoire", "annee"])
    by_year["_expected"] = grouped["_rate"].mean()
    assert len(by_year) == 9 * 7
    for name, weight in weights.items():
        planted = by_year["_expected"] * weight
        inside = planted.between(by_year[f"ic_marches_{name}_bas"],
                                 by_year[f"ic_marches_{name}_haut"])
        assert inside.mean() >= 0.90, (name, inside.mean())
    whole = ind.award_shares(stacked, ("territoire",)).set_index("territoire")
    value = stacked.groupby("territoire")
    expected_value = value["_rate_value"].sum() / value["montant"].sum()
    # 27 intervals at 95 % (9 territories × 3 families), a bootstrap that under-covers with few
    # inclusive contracts (docs/indicators.md): all of them covering would be luck; at least 85 %
    # (23 of 27), and the région's three.
    inside = []
    for name, weight in weights.items():
        planted = expected_value * weight
        covered = planted.between(whole[f"ic_montant_{name}_bas"],
                                  whole[f"ic_montant_{name}_haut"])
        assert covered.loc[config.REGION_CODE], name
        inside += covered.tolist()
    assert np.mean(inside) >= 0.85, inside
    # SIAE and EA / ESAT found in the planted proportion (binomial interval at 99.9 %)
    from analysis.stats import wilson_interval

    region = whole.loc[config.REGION_CODE]
    low, high = wilson_interval(np.array([region["marches_ea_esat"]]),
                                np.array([region["marches_inclusif"]]), level=0.999)
    assert low[0] <= truth["disability_share"] <= high[0]


def test_several_value_shares_from_one_bootstrap_equal_each_one_alone():
    """``stats.clustered_ratios`` draws once for the three shares of the same value: each is
    exactly the share ``stats.clustered_ratio`` gives alone (same seed, same draws)."""
    from analysis import stats

    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"acheteur_id": rng.integers(0, 25, n).astype(str),
                          "g": rng.integers(0, 3, n).astype(str),
                          "montant": rng.lognormal(10, 1.5, n)})
    frame["a"] = frame["montant"] * (rng.random(n) < 0.05)
    frame["b"] = frame["montant"] * (rng.random(n) < 0.02)
    frame["ab"] = frame["a"] + frame["b"]
    together = stats.clustered_ratios(frame, ["a", "b", "ab"], "montant", ["g"], replicates=199)
    for name in ("a", "b", "ab"):
        alone = stats.clustered_ratio(frame, name, "montant", ["g"], replicates=199)
        pd.testing.assert_frame_equal(together[name], alone)
        assert (alone["ic_bas"] <= alone["ratio"]).all() and (alone["ratio"] <= alone["ic_haut"]).all()
