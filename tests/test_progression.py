"""The clause-progression indicator against hand-computed figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.indicators import progression
from analysis.narrative import progression_summary
from analysis.stats import wilson_interval


def contracts(rows: list[tuple]) -> pd.DataFrame:
    """(annee, departement, region, has_social, clause, criterion, reserved) → a contracts frame."""
    frame = pd.DataFrame(rows, columns=["annee", "departement_execution", "region_execution",
                                        "has_social_consideration", "clause_sociale",
                                        "critere_social", "marche_reserve"])
    for col in ["has_social_consideration", "clause_sociale", "critere_social", "marche_reserve"]:
        frame[col] = frame[col].astype("boolean")
    frame["annee"] = frame["annee"].astype("Int64")
    frame["acheteur_id"] = "21930001"  # one buyer: its contracts are the units (Wilson)
    return frame


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(2, 10), (0, 7), (7, 7), (130, 1000)])
def test_wilson_matches_the_formula(k, n):
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx(wilson_by_hand(k, n), abs=1e-12)


def test_wilson_known_value_and_empty_denominator():
    low, high = wilson_interval([2, 0], [10, 0])
    assert low[0] == pytest.approx(0.0567, abs=1e-4) and high[0] == pytest.approx(0.5098, abs=1e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])


DATA = contracts([
    # 2022, Seine-Saint-Denis: 4 known (3 with a consideration), 1 unknown
    (2022, "93", "11", True, True, False, False),
    (2022, "93", "11", True, True, True, False),
    (2022, "93", "11", True, False, False, True),
    (2022, "93", "11", False, False, False, False),
    (2022, "93", "11", None, None, None, None),
    # 2023, Paris: 2 known, 0 with
    (2023, "75", "11", False, False, False, False),
    (2023, "75", "11", False, False, False, False),
    # region-level place: counted for the région only
    (2023, None, "11", True, True, False, False),
    # outside Île-de-France: never counted
    (2023, "69", None, True, True, False, False),
    # outside the period
    (2018, "93", "11", True, True, False, False),
])


def test_in_territory():
    assert len(progression.in_territory(DATA, "93")) == 6
    assert len(progression.in_territory(DATA, "75")) == 2
    assert len(progression.in_territory(DATA, "11")) == 9
    with pytest.raises(ValueError):
        progression.in_territory(DATA, "69")


def test_share_by_year_hand_computed():
    table = progression.share_by_year(progression.in_territory(DATA, "11"), 2021, 2023,
                                      target=0.25).set_index("annee")
    assert table.loc[2021, "contrats"] == 0 and np.isnan(table.loc[2021, "part"])
    row = table.loc[2022]
    assert (row["contrats"], row["avec_consideration"], row["statut_inconnu"]) == (4, 3, 1)
    assert (row["clause_sociale"], row["critere_social"], row["marche_reserve"]) == (2, 1, 1)
    assert row["part"] == pytest.approx(0.75)
    assert (row["ic_bas"], row["ic_haut"]) == pytest.approx(wilson_by_hand(3, 4))
    assert row["ecart_cible"] == pytest.approx(0.50)
    row = table.loc[2023]
    assert (row["contrats"], row["avec_consideration"]) == (3, 1)
    assert row["part"] == pytest.approx(1 / 3)


def test_share_by_year_excludes_other_years_and_unknown():
    table = progression.share_by_year(progression.in_territory(DATA, "93"), 2022, 2022)
    assert table["contrats"].tolist() == [4] and table["statut_inconnu"].tolist() == [1]
    assert "ecart_cible" not in table


def test_share_by_year_rejects_inverted_period():
    with pytest.raises(ValueError):
        progression.share_by_year(DATA, 2025, 2019)


def test_summary_wording_follows_the_interval():
    table = progression.share_by_year(progression.in_territory(DATA, "11"), 2022, 2023)
    text = progression_summary(table, "Île-de-France", 0.30)
    assert "33,3\u00a0%" in text and "en 2023" in text
    assert "compatible avec l'objectif" in text  # n = 3: the interval contains 30 %
    # the unknown is in 2022: none in 2023, the year the share is of; 1 over the history
    assert ("En 2023, aucun marché au statut social inconnu n'est exclu du calcul ; sur "
            "2022-2023, 1 marché au statut social inconnu est exclu." in text)
    big = pd.DataFrame({"annee": [2024], "contrats": [1000], "avec_consideration": [100],
                        "part": [0.1], "ic_bas": [0.083], "ic_haut": [0.12],
                        "statut_inconnu": [0]})
    assert "en dessous de l'objectif de 30\u00a0%" in progression_summary(big, "X", 0.30)
    empty = progression.share_by_year(DATA.iloc[0:0], 2022, 2023)
    assert "aucune part" in progression_summary(empty, "X", 0.30)


def test_share_by_number_and_amount_hand_computed():
    frame = DATA.copy()
    frame["acheteur_categorie"] = ["Commune", "Commune", "Région", "Région", "Région",
                                   "Commune", None, "Région", "Région", "Région"]
    frame["montant"] = [100.0, 300.0, 50.0, 50.0, 10.0, 200.0, None, 1000.0, 5.0, 7.0]
    region = progression.in_territory(frame, "11")
    table = progression.share_by(region[region["annee"] >= 2022],
                                 ["acheteur_categorie"]).set_index("acheteur_categorie")
    commune = table.loc["Commune"]  # 2 with (100, 300) + 1 without (200)
    assert (commune["contrats"], commune["avec_consideration"]) == (3, 2)
    assert commune["part_montant"] == pytest.approx(400 / 600)
    assert commune["ic_montant_bas"] < commune["part_montant"] < commune["ic_montant_haut"]
    region = table.loc["Région"]  # known: 50 with, 50 without, 1000 with (region-level); 1 unknown
    assert (region["contrats"], region["avec_consideration"], region["statut_inconnu"]) == (3, 2, 1)
    assert region["part_montant"] == pytest.approx(1050 / 1100)
    unknown_buyer = table.loc["non renseigné"]  # contract without buyer category nor amount
    assert unknown_buyer["contrats"] == 1 and pd.isna(unknown_buyer["part_montant"])


def test_amount_bands():
    bands = progression.amount_band(pd.Series([10_000, 40_000, 150_000, 6_000_000, None]))
    assert bands.tolist()[:4] == ["moins de 40 k€", "40 à 90 k€", "90 à 221 k€", "5,5 M€ et plus"]
    assert pd.isna(bands.iloc[4])


class _Report:
    """Collects key figures as a report does."""

    def __init__(self, target: float):
        self.target = target
        self.figures: list[tuple[str, str, str]] = []

    def key_figure(self, label, value, detail="", headline=False):
        self.figures.append((label, value, detail))


def _scope(frame: pd.DataFrame, year: int = 2025):
    from types import SimpleNamespace
    period = SimpleNamespace(label_fr=f"année {year}", year=year, first_year=2019)
    return SimpleNamespace(contracts=frame, history_contracts=frame.loc[frame["annee"] <= year],
                           period_contracts=frame.loc[frame["annee"] == year],
                           period=period, name="Territoire")


def _buyers(shares: list[float], per_buyer: int = 40, year: int = 2025,
            amount: float = 100_000.0) -> pd.DataFrame:
    """One buyer per share: ``per_buyer`` contracts of which that share has a consideration."""
    rows = []
    for i, p in enumerate(shares):
        with_ = round(p * per_buyer)
        rows += [(year, "75", "11", j < with_, j < with_, False, False) for j in range(per_buyer)]
    frame = contracts(rows)
    frame["acheteur_id"] = np.repeat([f"b{i}" for i in range(len(shares))], per_buyer)
    frame["montant"] = frame["montant_initial"] = amount
    return frame


def test_key_figure_says_compatible_when_the_interval_contains_the_target():
    from analysis.sections import progression as section
    # 12 buyers whose policies differ: point estimate 26.7 %, below 30 %, but the clustered
    # interval (Wilson's would exclude 30 % on 1 200 contracts) contains it
    frame = _buyers([0.0, 0.05, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.45, 0.55, 0.55],
                    per_buyer=100)
    report = _Report(0.30)
    section.key_figures(_scope(frame), report)
    labels = [label for label, _, _ in report.figures]
    assert "compatible avec l'objectif de 30\u00a0%" in labels
    assert not any(label.startswith(("en dessous", "au-dessus")) for label in labels)
    with_ = int(frame["has_social_consideration"].sum())
    assert wilson_interval(with_, len(frame))[1] < 0.30  # the old interval excluded it


def test_key_figure_says_below_only_when_the_interval_excludes_the_target():
    from analysis.sections import progression as section
    frame = _buyers([0.1] * 30)
    report = _Report(0.30)
    section.key_figures(_scope(frame), report)
    assert any(label == "en dessous de l'objectif de 30\u00a0%" for label, _, _ in report.figures)


def test_national_key_figure_is_compared_on_the_same_basis():
    from analysis.sections import progression as section
    # 2023: clauses on the small contracts only; the national figure counts ≥ 90 000 € HT
    small = _buyers([0.6] * 25, year=2023, amount=50_000.0)
    large = _buyers([0.2] * 25, year=2023, amount=150_000.0)
    large["acheteur_id"] = small["acheteur_id"].to_numpy()
    frame = pd.concat([small, large, _buyers([0.3] * 25)], ignore_index=True)
    report = _Report(0.30)
    section.key_figures(_scope(frame), report)
    same = [f for f in report.figures if "même base" in f[0]]
    assert len(same) == 1
    label, value, detail = same[0]
    assert "2023" in label and "90\u202f000 € HT" in label
    assert value == "20,0\u00a0%"                         # the 150 k€ contracts only, not 40 %
