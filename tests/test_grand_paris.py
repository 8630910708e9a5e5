"""Grand Paris Express insertion hours and SME share against hand-computed figures."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.indicators import grand_paris as G
from analysis.stats import wilson_interval


def table() -> pd.DataFrame:
    rows = [
        # ligne, notification, works hours, insertion realised, obligation, amount, SME amount
        ("L15 Sud", "2019-05-01", 1000, 60, 0.05, 1e6, 250e3),     # met; SME 25 % met
        ("L15 Sud", "2019-06-01", 2000, 100, 0.05, 2e6, 300e3),    # exactly 5 %: met; SME 15 %
        ("L15 Sud", "2019-07-01", 1000, 40, 0.05, 1e6, None),      # not met; SME unknown
        ("L15 Sud", "2019-08-01", 500, None, 0.05, 0.0, 0.0),      # realised unknown; amount 0
        ("L16", "2020-09-30", 1000, 60, 0.05, 1e6, 200e3),         # met; SME exactly 20 %: met
        ("L16", "2020-10-01", 1000, 60, 0.10, 1e6, 100e3),         # 10 % owed: not met
        (None, "2021-01-01", 4000, 500, 0.10, 1e6, 300e3),         # no line
    ]
    frame = pd.DataFrame(rows, columns=["ligne", "date_notification", "heures_travail",
                                        "heures_insertion_realisees", "taux_obligation",
                                        "montant", "montant_pme"])
    frame["ligne"] = frame["ligne"].astype("string")
    frame["date_notification"] = pd.to_datetime(frame["date_notification"])
    for col in ("heures_travail", "heures_insertion_realisees", "montant", "montant_pme"):
        frame[col] = frame[col].astype("Float64")
    return frame


def test_contract_table():
    out = G.contract_table(table())
    assert out["obligation_atteinte"].tolist()[:3] == [True, True, False]
    assert pd.isna(out.loc[3, "obligation_atteinte"])
    assert out.loc[5, "heures_dues"] == pytest.approx(100.0)
    assert out.loc[5, "ecart_obligation"] == pytest.approx(-0.04)
    assert out.loc[4, "objectif_pme_atteint"] and not out.loc[5, "objectif_pme_atteint"]
    assert pd.isna(out.loc[3, "part_pme"])                     # zero amount: unknown
    assert out.loc[6, "ligne"] == G.UNKNOWN_LINE


def test_insertion_by_line_and_year():
    out = G.insertion_summary(table()).set_index(["ligne", "annee"])
    l15 = out.loc[("L15 Sud", 2019)]
    assert (l15["marches"], l15["marches_conformes"], l15["realisation_inconnue"]) == (3, 2, 1)
    assert (l15["heures_travail"], l15["heures_dues"], l15["heures_insertion_realisees"]) == \
        pytest.approx((4000, 200, 200))
    assert l15["part_insertion"] == pytest.approx(0.05) and l15["ecart_obligation"] == \
        pytest.approx(0.0)
    assert (l15["ic_bas"], l15["ic_haut"]) == pytest.approx(wilson_interval(2, 3))
    l16 = out.loc[("L16", 2020)]
    assert l16["taux_obligation_moyen"] == pytest.approx(0.075)   # (50 + 100) / 2000
    assert l16["part_insertion"] == pytest.approx(0.06)
    assert l16["ecart_obligation"] == pytest.approx(-0.015)
    assert l16["marches_conformes"] == 1
    assert out.loc[(G.UNKNOWN_LINE, 2021), "part_insertion"] == pytest.approx(0.125)


def test_insertion_overall():
    out = G.insertion_summary(table(), by=()).iloc[0]
    assert (out["marches"], out["marches_conformes"], out["realisation_inconnue"]) == (6, 4, 1)
    assert out["part_insertion"] == pytest.approx(820 / 10000)
    assert out["taux_obligation_moyen"] == pytest.approx(750 / 10000)


def test_sme_share():
    out = G.sme_summary(table()).set_index(["ligne", "annee"])
    l15 = out.loc[("L15 Sud", 2019)]
    assert (l15["marches"], l15["marches_objectif_atteint"], l15["montant_inconnu"]) == (2, 1, 2)
    assert l15["part_pme"] == pytest.approx(550e3 / 3e6)
    assert l15["ecart_objectif"] == pytest.approx(550e3 / 3e6 - 0.20)
    assert out.loc[("L16", 2020), "marches_objectif_atteint"] == 1
    overall = G.sme_summary(table(), by=()).iloc[0]
    assert (overall["marches"], overall["marches_objectif_atteint"]) == (5, 3)
    assert overall["part_pme"] == pytest.approx(1150e3 / 6e6)
    assert (overall["ic_bas"], overall["ic_haut"]) == pytest.approx(wilson_interval(3, 5))


def test_smoke_on_the_small_warehouse(small_warehouse):
    from analysis.warehouse import load_table

    gp = load_table("grand_paris")
    out = G.insertion_summary(gp)
    assert out["marches"].sum() + out["realisation_inconnue"].sum() == len(gp)
    assert out["part_conformes"].dropna().between(0, 1).all()
    sme = G.sme_summary(gp)
    assert sme["marches"].sum() + sme["montant_inconnu"].sum() == len(gp)
