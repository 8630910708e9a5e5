"""Hours and work contracts by job family, domain and sector, with yearly changes, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.indicators import training as T


def work_contracts() -> pd.DataFrame:
    rows = [
        # participant, operation, ROME code, start, end, hours
        ("p1", "o1", "F1703", "2021-12-22", "2022-01-10", 200),   # 100 h in 2021, 100 in 2022
        ("p2", "o1", "F1602", "2021-03-01", "2021-03-31", 100),
        ("p2", "o2", "K2204", "2022-05-01", "2022-05-31", 50),
        ("p3", "o2", None, "2022-06-01", "2022-06-30", 30),      # no code
        ("p3", "o3", "Z9999", "2023-01-01", "2023-01-31", 40),   # unreadable code
        ("p1", "o1", "f1703 ", "2023-02-01", "2023-02-28", 60),  # lower case, trailing space
    ]
    frame = pd.DataFrame(rows, columns=["participant_id", "operation_id", "code_rome",
                                        "date_debut", "date_fin", "heures"])
    for col in ("date_debut", "date_fin"):
        frame[col] = pd.to_datetime(frame[col])
    frame["heures"] = frame["heures"].astype("Float64")
    frame["code_rome"] = frame["code_rome"].astype("string")
    return frame


def operations() -> pd.DataFrame:
    return pd.DataFrame({"operation_id": ["o1", "o2", "o3"],
                         "secteur": pd.array(["btp", "proprete", None], dtype="string")})


def test_family_and_domain():
    codes = pd.Series(["F1703", "k2204", None, "Z9999", "F17"], dtype="string")
    assert T.job_family(codes).tolist() == ["F", "K", T.UNKNOWN, T.UNKNOWN, T.UNKNOWN]
    assert T.job_domain(codes).tolist() == ["F17", "K22", T.UNKNOWN, T.UNKNOWN, T.UNKNOWN]


def test_by_family_and_year():
    table = T.by_year(work_contracts()).set_index(["groupe", "annee"])
    assert table.index.get_level_values(0).unique().tolist() == ["F", "K", T.UNKNOWN]
    f21, f22, f23 = (table.loc[("F", y)] for y in (2021, 2022, 2023))
    assert (f21["heures"], f21["contrats"], f21["contrats_debutes"], f21["beneficiaires"]) == \
        (pytest.approx(200.0), 2, 2, 2)
    assert (f22["heures"], f22["contrats"], f22["contrats_debutes"]) == (pytest.approx(100.0), 1, 0)
    assert f22["libelle"] == "Construction, bâtiment et travaux publics"
    assert f22["part_heures"] == pytest.approx(100 / 180)
    assert math.isnan(f21["evolution_heures"])
    assert f22["evolution_heures"] == pytest.approx(-100.0)
    assert f22["evolution_heures_pct"] == pytest.approx(-0.5)
    assert f23["evolution_heures_pct"] == pytest.approx(-0.4)
    assert f23["evolution_contrats"] == 0
    k21, k22 = table.loc[("K", 2021)], table.loc[("K", 2022)]
    assert (k21["heures"], k21["contrats"], k21["beneficiaires"]) == (0.0, 0, 0)  # filled year
    assert k22["evolution_heures"] == pytest.approx(50.0)
    assert math.isnan(k22["evolution_heures_pct"])                 # nothing the year before
    assert table.loc[(T.UNKNOWN, 2023), "heures"] == pytest.approx(40.0)
    assert table.loc[(T.UNKNOWN, 2023), "libelle"] == T.UNKNOWN
    assert table["heures"].sum() == pytest.approx(480.0)


def test_by_domain_and_sector():
    domain = T.by_year(work_contracts(), "domaine").set_index(["groupe", "annee"])
    assert domain.loc[("F17", 2023), "heures"] == pytest.approx(60.0)
    assert domain.loc[("F16", 2021), "heures"] == pytest.approx(100.0)
    assert domain.loc[("F17", 2021), "libelle"] == "Travaux et gros œuvre"
    sector = T.by_year(work_contracts(), "secteur", operations()).set_index(["groupe", "annee"])
    assert sector.loc[("btp", 2021), "heures"] == pytest.approx(200.0)
    assert sector.loc[("btp", 2021), "libelle"] == "BTP"
    assert sector.loc[("proprete", 2022), "heures"] == pytest.approx(80.0)
    assert sector.loc[("proprete", 2022), "beneficiaires"] == 2
    assert sector.loc[(T.UNKNOWN, 2023), "heures"] == pytest.approx(40.0)
    with pytest.raises(ValueError):
        T.by_year(work_contracts(), "secteur")
    with pytest.raises(ValueError):
        T.by_year(work_contracts(), "metier")


def test_years_restricted():
    table = T.by_year(work_contracts(), first_year=2022, last_year=2022)
    assert table["annee"].unique().tolist() == [2022]
    assert table["evolution_heures"].isna().all()
    assert table["heures"].sum() == pytest.approx(180.0)


def test_trend():
    out = T.trend(T.by_year(work_contracts())).set_index("groupe")
    f = out.loc["F"]
    assert (f["premiere_annee"], f["derniere_annee"]) == (2021, 2023)
    assert f["pente_heures_par_an"] == pytest.approx(-70.0)       # (−80 · −1 + −60 · 1) / 2
    assert f["croissance_annuelle_moyenne"] == pytest.approx(math.sqrt(0.3) - 1)
    assert f["beneficiaires_max"] == 2
    assert math.isnan(out.loc["K", "croissance_annuelle_moyenne"])  # nothing in 2021


def test_smoke_on_the_small_warehouse(small_warehouse):
    from analysis.warehouse import load_table

    wc = load_table("work_contracts")
    table = T.by_year(wc)
    assert table["heures"].sum() == pytest.approx(float(wc["heures"].sum()), rel=1e-9)
    assert table.groupby("annee")["part_heures"].sum().dropna().round(9).eq(1).all()
    sector = T.by_year(wc, "secteur", load_table("operations"))
    assert sector["heures"].sum() == pytest.approx(table["heures"].sum())
