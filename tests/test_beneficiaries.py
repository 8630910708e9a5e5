"""Beneficiaries of a period, their profile, contracts and rates, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.indicators import beneficiaries as B
from analysis.stats import wilson_interval


def communes() -> pd.DataFrame:
    return pd.DataFrame({
        "code_insee": ["75056", "75101", "93001", "93066", "77001"],
        "nom": ["Paris", "Paris 1er", "Aubervilliers", "Saint-Denis", "Acheres-la-Foret"],
        "type": ["COM", "ARM", "COM", "COM", "COM"],
        "commune_parent": [None, "75056", None, None, None],
        "departement": ["75", "75", "93", "93", "77"],
        "population_municipale": [2_000_000, 16_000, 80_000, 110_000, 10_000],
    })


def participants() -> pd.DataFrame:
    frame = pd.DataFrame({
        "participant_id": ["p1", "p2", "p3", "p4", "p5"],
        "sexe": ["F", "H", None, "H", "F"],
        "tranche_age": ["moins_de_26", "26_49", "50_et_plus", "26_49", "26_49"],
        "diplome": ["niveau_3", "inconnu", "niveau_4", "sans_diplome", "niveau_4"],
        "public": ["rsa", "deld", None, "rsa", "deld"],
        "qpv": [True, False, None, True, False],
        "prescripteur": ["france_travail", "mission_locale", "france_travail", "plie", "plie"],
        "commune_residence": ["75101", "93001", "93066", None, "77001"],
    })
    for col in frame.columns.drop("qpv"):
        frame[col] = frame[col].astype("string")
    frame["qpv"] = frame["qpv"].astype("boolean")
    return frame


def work_contracts() -> pd.DataFrame:
    return pd.DataFrame({
        "participant_id": ["p1", "p1", "p2", "p3", "p4", "p5"],
        # c1: 10 days in 2020, 10 in 2021 (100 h each); c5: 10 days in 2021, 10 in 2022
        "date_debut": pd.to_datetime(["2020-12-22", "2021-03-01", "2021-05-01", "2021-06-01",
                                      "2021-12-22", "2020-05-01"]),
        "date_fin": pd.to_datetime(["2021-01-10", "2021-03-31", "2021-05-31", "2021-06-30",
                                    "2022-01-10", "2020-05-31"]),
        "heures": pd.array([200.0, 100.0, 150.0, 120.0, 200.0, 80.0], dtype="Float64"),
        "type_contrat": pd.array(["cdd", "cdi", "interim", None, "cddi", "cdd"], dtype="string"),
        "type_employeur": pd.array(["ei", "entreprise_attributaire", "etti", "etti", "ei", "ai"],
                                   dtype="string"),
    })


def test_period_contracts_prorates():
    active = B.period_contracts(work_contracts(), 2021)
    assert len(active) == 5                                        # p5's 2020 contract is out
    assert active["heures_periode"].tolist() == pytest.approx([100, 100, 150, 120, 100])
    both = B.period_contracts(work_contracts(), 2020, 2021)
    assert both["heures_periode"].sum() == pytest.approx(750.0)
    with pytest.raises(ValueError):
        B.period_contracts(work_contracts(), 2022, 2021)


def test_profiles_by_hand():
    table = B.profiles(work_contracts(), participants(), communes(), 2021)
    table = table.set_index(["variable", "modalite"])
    assert table.loc[("ensemble", "Ensemble"), "beneficiaires"] == 4
    assert table.loc[("ensemble", "Ensemble"), "heures"] == pytest.approx(570.0)
    # sex: F p1 (200 h), H p2 + p4 (250 h), p3 unknown: excluded from the shares
    assert table.loc[("sexe", "F"), "beneficiaires"] == 1
    assert table.loc[("sexe", "F"), "part"] == pytest.approx(1 / 3)
    assert (table.loc[("sexe", "F"), "ic_bas"], table.loc[("sexe", "F"), "ic_haut"]) == \
        pytest.approx(wilson_interval(1, 3))
    assert table.loc[("sexe", "F"), "part_heures"] == pytest.approx(200 / 450)
    assert table.loc[("sexe", B.UNKNOWN), "beneficiaires"] == 1
    assert pd.isna(table.loc[("sexe", B.UNKNOWN), "part"])
    # « inconnu » diploma counts as unknown
    assert table.loc[("diplome", B.UNKNOWN), "beneficiaires"] == 1
    assert table.loc[("diplome", "niveau_3"), "part"] == pytest.approx(1 / 3)
    assert table.loc[("qpv", "oui"), "beneficiaires"] == 2
    assert table.loc[("qpv", "oui"), "part"] == pytest.approx(2 / 3)
    assert table.loc[("public", "rsa"), "beneficiaires"] == 2
    assert table.loc[("prescripteur", "france_travail"), "beneficiaires"] == 2
    # residence: the arrondissement is in Paris (75); p4 unknown
    assert table.loc[("departement_residence", "75"), "beneficiaires"] == 1
    assert table.loc[("departement_residence", "93"), "part"] == pytest.approx(2 / 3)
    assert table.loc[("departement_residence", B.UNKNOWN), "beneficiaires"] == 1
    assert ("departement_residence", "77") not in table.index      # p5 not a 2021 beneficiary
    sex = table.loc["sexe"].index.tolist()
    assert sex[-1] == B.UNKNOWN


def test_profiles_over_two_years():
    table = B.profiles(work_contracts(), participants(), communes(), 2020, 2021)
    overall = table.set_index("variable").loc["ensemble"]
    assert overall["beneficiaires"] == 5 and overall["heures"] == pytest.approx(750.0)


def test_contract_mix():
    table = B.contract_mix(work_contracts(), 2021).set_index(["variable", "modalite"])
    assert table.loc[("type_contrat", "cdd"), "contrats"] == 1
    assert table.loc[("type_contrat", "cdd"), "part_contrats"] == pytest.approx(1 / 4)
    assert table.loc[("type_contrat", B.UNKNOWN), "contrats"] == 1
    ei = table.loc[("type_employeur", "ei")]
    assert (ei["contrats"], ei["beneficiaires"]) == (2, 2)
    assert ei["heures"] == pytest.approx(200.0) and ei["part_contrats"] == pytest.approx(2 / 5)
    assert (ei["ic_bas"], ei["ic_haut"]) == pytest.approx(wilson_interval(2, 5))
    assert table.loc[("type_employeur", "etti"), "heures"] == pytest.approx(270.0)
    assert ("type_employeur", "ai") not in table.index


def test_rates():
    dep = B.rates(work_contracts(), participants(), communes(), 2021).set_index("code")
    assert dep.loc["75", "population"] == 2_000_000               # arrondissements not added
    assert dep.loc["75", "nom"] == "Paris"
    assert dep.loc["93", "beneficiaires"] == 2
    assert dep.loc["93", "taux_10000"] == pytest.approx(2 / 190_000 * 10_000)
    assert dep.loc["77", "beneficiaires"] == 0 and dep.loc["77", "taux_10000"] == 0
    com = B.rates(work_contracts(), participants(), communes(), 2021, level="commune")
    com = com.set_index("code")
    assert list(com.index) == ["75056", "93001", "93066", "77001"]
    assert com.loc["75056", "beneficiaires"] == 1                  # from 75101
    assert com.loc["93001", "taux_10000"] == pytest.approx(1 / 80_000 * 10_000)
    with pytest.raises(ValueError):
        B.rates(work_contracts(), participants(), communes(), 2021, level="epci")


def test_smoke_on_the_small_warehouse(small_warehouse):
    from analysis.reference import commune_table
    from analysis.warehouse import load_table

    wc, people = load_table("work_contracts"), load_table("participants")
    table = B.profiles(wc, people, commune_table(), 2023)
    overall = table.loc[table["variable"].eq("ensemble"), "beneficiaires"].item()
    assert overall > 0
    for _, group in table.loc[table["variable"].ne("ensemble")].groupby("variable"):
        assert group["beneficiaires"].sum() == overall
        assert group["part"].sum() == pytest.approx(1.0)
