"""Climat et résilience readiness against hand-computed figures."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.indicators import readiness as R
from analysis.stats import wilson_interval

COLUMNS = ["uid", "acheteur_id", "acheteur_nom", "acheteur_categorie", "dateNotification",
           "montant_initial", "montant", "cpv_division", "ccag", "has_social_consideration",
           "clause_sociale"]
FCS = "Fournitures courantes et services"


def contracts() -> pd.DataFrame:
    rows = [
        # 2025 thresholds: works 5 538 000; supplies/services 143 000 (State) / 221 000 (others)
        (1, "A", "Ville A", "Commune", "2025-03-01", 300e3, 300e3, "90", FCS, True, True),
        (2, "A", "Ville A", "Commune", "2025-04-01", 200e3, 200e3, "90", FCS, True, True),  # below
        (3, "A", "Ville A", "Commune", "2025-05-01", 250e3, 250e3, "90", FCS, False, False),
        (4, "A", "Ville A", "Commune", "2025-06-01", 230e3, 230e3, "90", FCS, None, None),  # ?
        (5, "B", "Préfecture", "Service de l'État", "2025-02-01", 150e3, 150e3, "72", None,
         True, False),                                                   # a criterion only
        (6, "B", "Préfecture", "Service de l'État", "2025-02-02", 143e3, 143e3, "72", None,
         False, False),                                                  # exactly at threshold
        (7, "C", "Office HLM", "Bailleur social", "2025-07-01", 6e6, 6e6, "45", None, True, True),
        (8, "C", "Office HLM", "Bailleur social", "2025-07-02", 5e6, 5e6, "71", "Travaux",
         True, True),                               # works by its CCAG: below 5 538 000
        (9, "D", "Inconnu", None, "2025-08-01", 180e3, 180e3, "90", FCS, True, True),  # undecided
        (10, "D", "Inconnu", None, "2025-08-02", 300e3, 300e3, "90", FCS, False, False),
        (11, "A", "Ville A", "Commune", "2025-09-01", None, 500e3, "90", FCS, True, False),
        (12, "E", "Ville E", "Commune", "2025-10-01", None, None, "90", FCS, True, True),
        (13, "A", "Ville A", "Commune", "2024-12-31", 300e3, 300e3, "90", FCS, True, True),
        (14, "A", "Ville A", "Commune", "2023-06-01", 300e3, 300e3, "90", FCS, True, True),
        (16, "B", "Préfecture", "Service de l'État", "2025-02-03", 142_999.99, 142_999.99, "72",
         None, True, True),                                              # just below
        (17, "A", "Ville A", "Commune", "2026-09-01", 216e3, 216e3, "90", FCS, True, True),
        (18, "A", "Ville A", "Commune", "2026-08-21", 300e3, 300e3, "90", FCS, False, False),
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["uid"] = frame["uid"].astype(str)
    frame["dateNotification"] = pd.to_datetime(frame["dateNotification"])
    for col in ("montant_initial", "montant"):
        frame[col] = frame[col].astype("Float64")
    for col in ("has_social_consideration", "clause_sociale"):
        frame[col] = frame[col].astype("boolean")
    for col in ("acheteur_categorie", "cpv_division", "ccag"):
        frame[col] = frame[col].astype("string")
    return frame


def test_classify_thresholds():
    frame = R.classify_thresholds(contracts()).set_index("uid")
    assert frame.loc["8", "travaux"] and frame.loc["7", "travaux"] and not frame.loc["1", "travaux"]
    assert frame.loc["8", "seuil_ue"] == 5_538_000 and not frame.loc["8", "au_dessus_seuil"]
    assert frame.loc["6", "seuil_ue"] == 143_000 and bool(frame.loc["6", "au_dessus_seuil"])
    assert not frame.loc["16", "au_dessus_seuil"]
    assert frame.loc["1", "seuil_ue"] == 221_000
    assert frame.loc["17", "seuil_ue"] == 216_000 and bool(frame.loc["17", "au_dessus_seuil"])
    assert frame.loc["11", "montant_reference"] == 500e3           # initial amount missing
    assert pd.isna(frame.loc["12", "au_dessus_seuil"])             # no amount
    assert pd.isna(frame.loc["9", "au_dessus_seuil"])              # category unknown, in between
    assert bool(frame.loc["10", "au_dessus_seuil"])                # above both thresholds
    assert pd.isna(frame.loc["14", "au_dessus_seuil"])             # 2023: no threshold given


def test_readiness_baseline_2025_by_hand():
    table = R.readiness(contracts(), "2025-01-01", "2025-12-31").set_index("acheteur_categorie")
    assert list(table.index) == ["Bailleur social", "Commune", "Service de l'État",
                                 "non renseignée", "Ensemble"]
    commune = table.loc["Commune"]   # 1, 3, 11 known (2 with a consideration); 4 unknown
    assert (commune["marches"], commune["avec_consideration"], commune["clause_sociale"],
            commune["statut_inconnu"]) == (3, 2, 1, 1)
    assert commune["part"] == pytest.approx(2 / 3)
    assert (commune["ic_bas"], commune["ic_haut"]) == pytest.approx(wilson_interval(2, 3))
    state = table.loc["Service de l'État"]   # 5 and 6 (at the threshold); 16 below
    assert (state["marches"], state["avec_consideration"], state["clause_sociale"]) == (2, 1, 0)
    assert table.loc["Bailleur social", "marches"] == 1        # 8 is below the works threshold
    assert table.loc["non renseignée", "marches"] == 1         # 10; 9 undecided
    overall = table.loc["Ensemble"]
    assert (overall["marches"], overall["avec_consideration"], overall["clause_sociale"],
            overall["statut_inconnu"]) == (7, 4, 2, 1)
    assert overall["part_clause_sociale"] == pytest.approx(2 / 7)


def test_readiness_from_the_obligation_start():
    table = R.readiness(contracts()).set_index("acheteur_categorie")
    assert list(table.index) == ["Commune", "Ensemble"]        # 18 is the day before
    assert table.loc["Ensemble", "marches"] == 1 and table.loc["Ensemble", "part"] == 1.0


def test_exclusions_add_up():
    table = R.exclusions(contracts(), "2025-01-01", "2025-12-31").set_index("motif")["marches"]
    assert table.to_dict() == {"notifies_periode": 13, "montant_inconnu": 1,
                               "periode_sans_seuil": 0, "categorie_acheteur_indeterminee": 1,
                               "sous_seuil": 3, "au_dessus_seuil": 8, "statut_inconnu": 1}
    wide = R.exclusions(contracts(), "2023-01-01", "2025-12-31").set_index("motif")["marches"]
    assert wide["periode_sans_seuil"] == 1 and wide["au_dessus_seuil"] == 9   # 14 out, 13 in


def test_without_a_buyers_directory():
    frame = contracts().drop(columns=["acheteur_categorie", "acheteur_nom"])
    table = R.readiness(frame, "2025-01-01", "2025-12-31").set_index("acheteur_categorie")
    # supplies and services between 143 000 and 221 000 € are undetermined (2, 5, 6, 9);
    # above both: 1, 3, 4 (status unknown), 10, 11; works: 7
    assert list(table.index) == ["non renseignée", "Ensemble"]
    assert table.loc["Ensemble", "marches"] == 5 and table.loc["Ensemble", "statut_inconnu"] == 1
    assert R.exclusions(frame, "2025-01-01", "2025-12-31").set_index("motif").loc[
        "categorie_acheteur_indeterminee", "marches"] == 4
    assert R.buyers_behind(frame, "2025-01-01", "2025-12-31", min_contracts=1)[
        "acheteur_nom"].isna().all()


def test_buyers_behind():
    table = R.buyers_behind(contracts(), "2025-01-01", "2025-12-31", min_contracts=2)
    assert table["acheteur_id"].tolist() == ["B", "A"]         # 1/2, then 2/3; C and D too few
    assert table["rang"].tolist() == [1, 2]
    assert table.loc[0, "acheteur_categorie"] == "Service de l'État"
    assert table.loc[1, "statut_inconnu"] == 1
    every = R.buyers_behind(contracts(), "2025-01-01", "2025-12-31", min_contracts=1, n=2)
    assert every["acheteur_id"].tolist() == ["D", "B"]         # 0/1 first


def test_smoke_on_the_small_warehouse(small_warehouse):
    from analysis.warehouse import load_table

    table = R.readiness(load_table("contracts"), "2025-01-01", "2025-12-31")
    overall = table.set_index("acheteur_categorie").loc["Ensemble"]
    assert overall["marches"] == table.loc[table["acheteur_categorie"] != "Ensemble",
                                           "marches"].sum()
    assert overall["marches"] > 0 and 0 <= overall["part"] <= 1
