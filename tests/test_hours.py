"""Insertion hours by year: proration across years and beneficiary profiles, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.indicators.hours import FTE_HOURS, prorate_by_year, yearly_summary


def contracts() -> pd.DataFrame:
    return pd.DataFrame({
        "participant_id": ["a", "a", "b", "c"],
        "operation_id": ["o1", "o2", "o1", "o2"],
        # a: 10 days in Dec 2021 + 10 days in Jan 2022 (200 h → 100 h / 100 h); a again in 2022;
        # b: all 2021; c: all 2022
        "date_debut": pd.to_datetime(["2021-12-22", "2022-03-01", "2021-05-01", "2022-06-01"]),
        "date_fin": pd.to_datetime(["2022-01-10", "2022-03-31", "2021-05-31", "2022-06-30"]),
        "heures": [200.0, 100.0, 150.0, 120.0],
    })


def test_prorate_splits_by_days():
    spread = prorate_by_year(contracts())
    first = spread[spread["participant_id"].eq("a") & spread["operation_id"].eq("o1")]
    assert first["annee"].tolist() == [2021, 2022]
    assert first["heures_annee"].tolist() == pytest.approx([100.0, 100.0])
    assert spread["heures_annee"].sum() == pytest.approx(570.0)


def test_yearly_summary_by_hand():
    participants = pd.DataFrame({
        "participant_id": ["a", "b", "c"], "sexe": ["F", "H", None], "qpv": [True, False, True],
        "tranche_age": ["moins_de_26", "26_49", "moins_de_26"],
        "diplome": ["niveau_3", "niveau_4", "inconnu"],
    })
    operations = pd.DataFrame({"operation_id": ["o1", "o2"], "grand_projet": [True, False]})
    table = yearly_summary(contracts(), participants, operations).set_index("annee")
    assert table.loc[2021, "heures"] == pytest.approx(250.0)   # 100 (a) + 150 (b)
    assert table.loc[2022, "heures"] == pytest.approx(320.0)   # 100 + 100 (a) + 120 (c)
    assert table.loc[2021, "etp"] == pytest.approx(250.0 / FTE_HOURS)
    assert table.loc[2021, "beneficiaires"] == 2 and table.loc[2022, "beneficiaires"] == 2
    assert table.loc[2021, "part_femmes"] == pytest.approx(0.5)
    assert table.loc[2022, "part_femmes"] == pytest.approx(1.0)  # c's sex unknown: excluded
    assert table.loc[2022, "part_qpv"] == pytest.approx(1.0)
    # 2022: a is young and low-qualified; c's diploma is unknown: excluded
    assert table.loc[2022, "part_jeunes_peu_qualifies"] == pytest.approx(1.0)
    assert table.loc[2021, "part_heures_grands_projets"] == pytest.approx(1.0)
    assert table.loc[2022, "part_heures_grands_projets"] == pytest.approx(100 / 320)
    assert table.loc[2021, "contrats_debutes"] == 2
    assert table.loc[2022, "duree_moyenne_mois"] == pytest.approx((31 + 30) / 2 / (365.25 / 12))


def operations_fixture() -> pd.DataFrame:
    return pd.DataFrame({
        "operation_id": ["o1", "o2"], "modalite": ["clause_execution", None],
        "secteur": ["btp", "proprete"], "grand_projet": [True, False],
        "date_fin": pd.to_datetime(["2022-06-30", "2022-12-31"]),
        "heures_prevues": [400.0, 200.0],
    })


def test_hours_by_operation_attributes():
    from analysis.indicators.hours import hours_by

    table = hours_by(contracts(), operations_fixture(), ["annee", "modalite"])
    table = table.set_index(["annee", "modalite"])
    # o1 (clause_execution): a 100 h in 2021 + b 150 h in 2021; a 100 h in 2022
    assert table.loc[(2021, "clause_execution"), "heures"] == pytest.approx(250.0)
    assert table.loc[(2022, "clause_execution"), "heures"] == pytest.approx(100.0)
    # o2 has no modality: its own group; a 100 h + c 120 h in 2022
    assert table.loc[(2022, "non renseigné"), "heures"] == pytest.approx(220.0)
    assert table.loc[(2022, "non renseigné"), "beneficiaires"] == 2


def test_realisation_rate_hand_computed():
    from analysis.indicators.hours import realisation_rate

    table = realisation_rate(contracts(), operations_fixture(), ["secteur"]).set_index("secteur")
    assert table.loc["btp", "heures_realisees"] == pytest.approx(350.0)   # 200 + 150
    assert table.loc["btp", "taux_realisation"] == pytest.approx(350 / 400)
    assert table.loc["proprete", "taux_realisation"] == pytest.approx(220 / 200)
    overall = realisation_rate(contracts(), operations_fixture(), ["annee"]).iloc[0]
    assert overall["taux_realisation"] == pytest.approx(570 / 600)
    assert overall["ic_bas"] < overall["taux_realisation"] < overall["ic_haut"]
