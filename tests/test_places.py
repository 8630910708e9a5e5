"""Contracts without a place of execution: counted in the région when the buyer is there, and
reported (rule « lieu d'exécution absent ») with where they were counted."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import config
from analysis.indicators import progression
from analysis.scope import Scope
from analysis.sections import quality

COLUMNS = ["uid", "annee", "lieuExecution_code", "departement_execution", "region_execution",
           "acheteur_departement", "has_social_consideration"]
ROWS = [
    # no place, buyer in Seine-Saint-Denis: the région, no département
    ("A", 2025, None, None, None, "93", True),
    # no place, buyer in Paris, unknown status: the région (counted apart as unknown)
    ("B", 2025, None, None, None, "75", None),
    # a blank code is no place either; buyer in the Hauts-de-Seine
    ("C", 2025, "  ", None, None, "92", False),
    # no place, buyer without a département in the directory (a regional body): nowhere
    ("D", 2025, None, None, None, None, True),
    # no place, buyer outside the région: nowhere
    ("E", 2025, None, None, None, "13", False),
    # a place outside the région is not an absent place, whatever the buyer
    ("F", 2025, "13055", "13", None, "93", True),
    # an ordinary contract in the Seine-Saint-Denis, buyer in Paris
    ("G", 2025, "93066", "93", "11", "75", False),
    # a région-level place
    ("H", 2025, "11", None, "11", "91", True),
    # no place, buyer in the région, another year
    ("I", 2024, None, None, None, "77", True),
]


def contracts() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=COLUMNS)
    for column in COLUMNS[2:6]:
        frame[column] = frame[column].astype("string")
    frame["annee"] = frame["annee"].astype("int64")
    frame["acheteur_id"] = ("buyer-" + frame["uid"]).astype("string")
    frame["has_social_consideration"] = frame["has_social_consideration"].astype("boolean")
    frame["dateNotification"] = pd.to_datetime(frame["annee"].astype(str) + "-06-15")
    for kind in ("clause_sociale", "critere_social", "marche_reserve"):
        frame[kind] = frame["has_social_consideration"]
    frame["considerationsSociales"] = frame["has_social_consideration"].map(
        lambda v: None if pd.isna(v) else ("Clause sociale" if v else "Pas de considération"))
    return frame


def uids(frame: pd.DataFrame) -> set[str]:
    return set(frame["uid"])


def test_without_place_and_buyer_in_region():
    frame = contracts()
    assert uids(frame.loc[progression.without_place(frame)]) == {"A", "B", "C", "D", "E", "I"}
    assert uids(frame.loc[progression.buyer_in_region(frame)]) == {"A", "B", "C", "F", "G",
                                                                   "H", "I"}


def test_region_counts_them_no_departement_does():
    frame = contracts()
    assert uids(progression.in_territory(frame, config.REGION_CODE)) == {"A", "B", "C", "G",
                                                                         "H", "I"}
    for code in config.DEPARTEMENTS:
        assert uids(progression.in_territory(frame, code)) == ({"G"} if code == "93" else set())


def test_region_share_includes_them():
    table = progression.share_by_year(progression.in_territory(contracts(), config.REGION_CODE),
                                      2025, 2025).iloc[0]
    # known status: A (with), C (without), G (without), H (with); B unknown
    assert (table["contrats"], table["avec_consideration"], table["statut_inconnu"]) == (4, 2, 1)
    assert table["part"] == pytest.approx(0.5)


def test_places_missing_by_year():
    table = progression.places_missing(contracts(), 2023, 2025).set_index("annee")
    assert table.loc[2023].tolist() == [0, 0, 0, 0, 0]
    assert table.loc[2024].tolist() == [1, 1, 1, 1, 0]
    # 2025: 8 notified; 5 without a place (A-E), 4 of known status (A, C, D, E);
    # in the région A, B, C; nowhere D, E
    assert table.loc[2025, ["marches", "sans_lieu", "sans_lieu_statut_connu", "comptes_region",
                            "comptes_nulle_part"]].tolist() == [8, 5, 4, 3, 2]


def test_quality_section_reports_them():
    scope = Scope("93", "2025", tables={"contracts": contracts()})
    sentence = quality.places_sentence(scope)
    assert "« lieu d'exécution absent »" in sentence
    assert "5 marchés DECP" in sentence and ": 3, dont l'acheteur" in sentence
    assert "2 dans aucun territoire" in sentence
    table = quality.places_by_year(scope).set_index("annee")
    assert table.loc[2025, "part"] == pytest.approx(5 / 8)
    assert quality.explain(progression.NO_PLACE_RULE) != "–"
    assert progression.NO_PLACE_RULE in progression.NO_PLACE_METHOD_FR
