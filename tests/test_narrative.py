"""French sentences of the clause progression and of its trend model, from indicator tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from analysis.indicators import trend as T
from analysis.narrative import p_value_fr, progression_summary, trend_fit_summary
from analysis.sections.progression import projection_method


def yearly(unknown: dict[int, int], share: float = 0.2, contracts: int = 1000) -> pd.DataFrame:
    """A share_by_year-like table: one row per year with its own unknown-status count."""
    years = sorted(unknown)
    return pd.DataFrame({
        "annee": years, "contrats": contracts, "avec_consideration": int(share * contracts),
        "part": share, "ic_bas": share - 0.02, "ic_haut": share + 0.02,
        "statut_inconnu": [unknown[y] for y in years]})


def unknown_line(text: str) -> str:
    lines = [line for line in text.splitlines() if "statut social inconnu" in line]
    assert len(lines) == 1, text
    return lines[0]


def test_unknown_status_sentence_names_its_year_and_counts_that_year_only():
    # the default data set's pattern: about 230 unknowns a year, 224 in 2025, 1 660 in all
    unknown = {2019: 223, 2020: 264, 2021: 224, 2022: 245, 2023: 247, 2024: 233, 2025: 224}
    line = unknown_line(progression_summary(yearly(unknown), "Île-de-France", 0.30))
    assert line.startswith("- En 2025, 224 marchés")  # the year's own count, the year named
    assert "sont exclus du calcul" in line
    assert "(1\u202f660 sur 2019-2025)" in line  # the history's, with its period


def test_unknown_status_sentence_singular_single_year_and_none_in_the_last_year():
    line = unknown_line(progression_summary(yearly({2024: 0, 2025: 1}), "X", 0.30))
    assert line.startswith("- En 2025, 1 marché au statut social inconnu est exclu du calcul")
    assert "aucun autre sur 2024-2025" in line
    line = unknown_line(progression_summary(yearly({2025: 7}), "X", 0.30))
    assert line == "- En 2025, 7 marchés au statut social inconnu sont exclus du calcul."
    line = unknown_line(progression_summary(yearly({2022: 3, 2023: 0}), "X", 0.30))
    assert line.startswith("- En 2023, aucun marché au statut social inconnu n'est exclu")
    assert "sur 2022-2023, 3 marchés au statut social inconnu sont exclus" in line
    assert "inconnu" not in progression_summary(yearly({2022: 0, 2023: 0}), "X", 0.30)


def contracts_on_a_line(jump: float, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Two territories, 2019-2025, 2 000 contracts a cell, with a break of ``jump`` in 2022."""
    rng = np.random.default_rng(seed)
    rows = []
    for j, territory in enumerate(["75", "93"]):
        for year in range(2019, 2026):
            eta = -1.7 + 0.2 * j + 0.1 * (year - 2022) + (jump if year >= 2022 else 0.0)
            yes = int(round(2000 * expit(eta + rng.normal(0, noise) if noise else eta)))
            rows.append(pd.DataFrame({"annee": year, "departement_execution": territory,
                                      "has_social_consideration": [True] * yes
                                      + [False] * (2000 - yes)}))
    frame = pd.concat(rows, ignore_index=True)
    frame["annee"] = frame["annee"].astype("Int64")
    frame["has_social_consideration"] = frame["has_social_consideration"].astype("boolean")
    return frame


def test_trend_fit_summary_says_when_the_line_does_not_describe_the_series():
    model = T.fit_clause_model(contracts_on_a_line(jump=0.6))
    check = T.fit_check(model)
    table = T.target_years(model, targets=(0.30,), check=check)
    text = trend_fit_summary(check, table, 2025, names={"75": "Paris (75)"})
    assert f"Dispersion de Pearson : {check.pearson_dispersion:.1f}".replace(".", ",") in text
    assert "**La droite ne décrit pas la série**" in text
    assert check.line_rejected and "test F de quasi-vraisemblance" in text
    assert p_value_fr(check.lack_p) in text
    assert "Paris (75) : " in text  # territories named
    for _, row in table.loc[table["hors_intervalle"]].iterrows():
        assert f"{row['part_observee'] * 100:.1f}".replace(".", ",") in text
    assert "modèle quasi-binomial" in text and "√" in text
    method = projection_method(check)
    assert "quasi-binomial" in method and "dispersion de Pearson" in method
    assert "non déterminable" in method


def test_trend_fit_summary_when_the_line_holds():
    model = T.fit_clause_model(contracts_on_a_line(jump=0.0))
    check = T.fit_check(model)
    text = trend_fit_summary(check, T.target_years(model, targets=(0.30,), check=check), 2025)
    assert "La droite n'est pas contredite par les données" in text
    assert "ne décrit pas" not in text and "quasi-binomial" not in text  # scale 1: nothing to say
    assert check.pearson_dispersion < 1 and "n'est pas appliquée" in text


@pytest.mark.parametrize("p, text", [(0.0001, "p < 0,001"), (0.0342, "p = 0,034"),
                                     (float("nan"), "p non calculable")])
def test_p_value_fr(p, text):
    assert p_value_fr(p) == text


def national_line(text: str) -> str:
    lines = [line for line in text.splitlines() if "OECP" in line]
    assert len(lines) == 1, text
    return lines[0]


def test_national_figure_is_set_beside_the_share_on_its_own_basis():
    # 2025 share of all contracts 20 %; on the census basis (≥ 90 000 € in 2023) 31 %
    table = yearly({2023: 0, 2024: 0, 2025: 0})
    comparable = pd.DataFrame({"annee": [2023], "plancher": [90_000], "contrats": [400],
                               "avec_consideration": [124], "part": [0.31], "ic_bas": [0.27],
                               "ic_haut": [0.35]})
    line = national_line(progression_summary(table, "Essonne", 0.30, comparable=comparable))
    assert "2023 : 18,7\u00a0% des marchés de 90\u202f000 € HT et plus" in line
    assert "sur la même base" in line and "Essonne : 31,0\u00a0%" in line
    assert "IC 95 % : 27,0\u00a0% – 35,0\u00a0%" in line
    # without the comparable share the census basis is said, and no comparison is implied
    alone = national_line(progression_summary(table, "Essonne", 0.30))
    assert "90\u202f000 € HT et plus" in alone and "ne se compare pas directement" in alone
