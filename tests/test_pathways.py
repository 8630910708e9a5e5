"""Beneficiary pathways: per-person summaries, transitions and common sequences, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.indicators import pathways as P

EA = "entreprise_attributaire"


def work_contracts() -> pd.DataFrame:
    rows = [
        # participant, contract type, start, end, hours, employer type
        ("a", "cdi", "2021-03-01", "2021-12-31", 800, EA),      # listed before a's first contract
        ("a", "cdd", "2021-01-01", "2021-01-31", 100, "ei"),
        ("b", "interim", "2021-02-01", "2021-02-28", 50, "etti"),
        ("b", "cdd", "2021-04-01", "2021-04-30", 60, "etti"),
        ("b", "cdi", "2021-06-01", "2021-06-30", 70, EA),
        ("c", "cdd", "2022-01-01", "2022-01-31", 40, "ai"),
        ("c", "cdi", "2022-02-01", "2022-12-31", 500, EA),
        ("d", "cddi", "2021-05-01", "2021-05-31", 90, "ei"),
        ("e", "interim", "2021-01-01", "2021-01-10", 10, "etti"),
        ("e", "interim", "2021-01-11", "2021-01-20", 10, "etti"),
        ("e", "cdd", "2021-02-01", "2021-02-28", 10, "ei"),
        ("e", "cdi", "2021-03-01", "2021-03-31", 10, EA),
        ("e", "cdi", "2021-04-01", "2021-04-30", 10, None),     # fifth contract: truncated
        ("f", None, "2021-01-01", "2021-01-31", 20, "ai"),      # unknown type
        ("f", "cdd", "2021-02-01", "2021-02-28", 20, "ai"),
        ("g", "interim", "2021-01-01", "2021-01-31", 30, "etti"),  # same start: shorter first
        ("g", "cdd", "2021-01-01", "2021-01-15", 15, "ei"),
    ]
    frame = pd.DataFrame(rows, columns=["participant_id", "type_contrat", "date_debut",
                                        "date_fin", "heures", "type_employeur"])
    for col in ("date_debut", "date_fin"):
        frame[col] = pd.to_datetime(frame[col])
    frame["heures"] = frame["heures"].astype("Float64")
    for col in ("participant_id", "type_contrat", "type_employeur"):
        frame[col] = frame[col].astype("string")
    return frame


def test_participant_pathways():
    table = P.participant_pathways(work_contracts()).set_index("participant_id")
    assert len(table) == 7
    e = table.loc["e"]
    assert (e["contrats"], e["types_employeur"]) == (5, 3)     # unknown employer not counted
    assert e["heures"] == pytest.approx(50.0)
    assert e["jours_sous_contrat"] == 10 + 10 + 28 + 31 + 30
    assert e["duree_parcours_jours"] == 120                     # 1 January to 30 April 2021
    assert e["premiere_date"] == pd.Timestamp("2021-01-01")
    assert e["derniere_date"] == pd.Timestamp("2021-04-30")
    g = table.loc["g"]                                          # overlapping contracts
    assert (g["jours_sous_contrat"], g["duree_parcours_jours"]) == (46, 31)
    assert (g["premier_type"], g["dernier_type"]) == ("cdd", "interim")
    assert (table.loc["a", "premier_type"], table.loc["a", "dernier_type"]) == ("cdd", "cdi")
    assert table.loc["f", "premier_type"] == P.UNKNOWN


def test_transition_matrix():
    table = P.transition_matrix(work_contracts()).set_index(["type_depart", "type_arrivee"])
    assert table["transitions"].to_dict() == {
        ("cdd", "cdi"): 4, ("cdd", "interim"): 1, ("cdi", "cdi"): 1, ("interim", "cdd"): 2,
        ("interim", "interim"): 1, (P.UNKNOWN, "cdd"): 1}
    assert table.loc[("cdd", "cdi"), "part_ligne"] == pytest.approx(4 / 5)
    assert table.loc[("interim", "cdd"), "part_ligne"] == pytest.approx(2 / 3)
    assert table.loc[("cdd", "cdi"), "beneficiaires"] == 4
    # 17 contracts of 7 participants: 17 − 7 = 10 transitions
    assert table["transitions"].sum() == 17 - 7
    matrix = P.as_matrix(P.transition_matrix(work_contracts()))
    assert matrix.loc["cdd", "cdi"] == 4 and matrix.loc["cdi", "cdd"] == 0


def test_common_pathways():
    table = P.common_pathways(work_contracts())
    assert table.iloc[0][["parcours", "etapes", "beneficiaires"]].tolist() == \
        ["cdd → cdi", 2, 2]                                     # a and c
    assert table.iloc[0]["part"] == pytest.approx(2 / 7)
    assert table["beneficiaires"].sum() == 7
    e = table.set_index("parcours").loc["interim → interim → cdd → cdi"]
    assert (e["etapes"], e["beneficiaires"], e["dont_tronques"]) == (4, 1, 1)
    assert "non renseigné → cdd" in set(table["parcours"])
    assert "cddi" in set(table["parcours"])
    short = P.common_pathways(work_contracts(), max_steps=1)
    assert short.set_index("parcours")["beneficiaires"].to_dict() == {
        "cdd": 3, "interim": 2, "cddi": 1, P.UNKNOWN: 1}
    assert len(P.common_pathways(work_contracts(), n=2)) == 2
    with pytest.raises(ValueError):
        P.common_pathways(work_contracts(), max_steps=0)


def test_smoke_on_the_small_warehouse(small_warehouse):
    from analysis.warehouse import load_table

    wc = load_table("work_contracts")
    people = P.participant_pathways(wc)
    assert people["contrats"].sum() == len(wc)
    transitions = P.transition_matrix(wc)
    assert transitions["transitions"].sum() == len(wc) - len(people)
    assert P.common_pathways(wc)["beneficiaires"].sum() == len(people)
