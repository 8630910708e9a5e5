"""Section « Bénéficiaires » on the small warehouse: disclosure, consistency, quarters."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.indicators import beneficiaries as indicator
from analysis.publish import open_report
from analysis.scope import Scope
from analysis.sections import beneficiaries
from test_sections_hours import assert_no_small_cells, num, read_tables

@pytest.fixture(autouse=True)
def _threshold(monkeypatch):
    """open_report sets the threshold for the process: restore it after each test."""
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "5")


PARTS = ("key_figures", "profile_table", "profile_chart", "contract_mix", "rates_by_departement",
         "method")


def render(tmp_path, territory, period, k=5):
    report = open_report("beneficiaires", territory, period, 0.30, k, tmp_path)
    scope = Scope(territory, period)
    shown = {name: getattr(beneficiaries, name)(scope, report) for name in PARTS}
    return report, scope, shown


@pytest.mark.parametrize("territory,period,k", [("11", "2024", 5), ("93", "2024-T2", 5),
                                                ("95", "2023", 11)])
def test_no_small_people_count_published(small_warehouse, tmp_path, territory, period, k):
    report, _, shown = render(tmp_path, territory, period, k)
    assert all(isinstance(parts, list) for parts in shown.values())
    _, tables = assert_no_small_cells(tmp_path, "beneficiaires", k)
    for variable in beneficiaries.PROFILE_VARIABLES:
        frame, people = tables[f"profil_{variable}"]
        assert people == ["Bénéficiaires"]
        # shares are hidden whenever the unknown row is (they would give it away)
        unknown = frame.iloc[-2]
        if unknown["Bénéficiaires"] == "s":
            assert frame["Part (%)"].fillna("s").eq("s").all()


def test_counts_match_the_indicator(small_warehouse, tmp_path):
    report, scope, _ = render(tmp_path, "11", "2024")
    communes = scope.table("communes")
    expected = indicator.profiles(scope.work_contracts, scope.participants, communes, 2024)
    _, tables = read_tables(tmp_path, "beneficiaires")
    sex, _ = tables["profil_sexe"]
    published = dict(zip(sex["Catégorie"], sex["Bénéficiaires"]))
    rows = expected.loc[expected["variable"].eq("sexe")].set_index("modalite")["beneficiaires"]
    assert num(published["Femmes"]) == rows["F"]
    assert num(published["Hommes"]) == rows["H"]
    assert num(published["Ensemble"]) == len(scope.beneficiaries) == expected.loc[
        expected["variable"].eq("ensemble"), "beneficiaires"].iloc[0]
    figures = {f["label"]: f["value"] for f in report.key_figures}
    assert figures["bénéficiaires (année 2024)"].replace("\u202f", "") == str(
        len(scope.beneficiaries))
    share = rows["F"] / (rows["F"] + rows["H"])
    assert figures["des bénéficiaires sont des femmes"] == beneficiaries.percent_fr(share)
    # residence counts of the profile and of the rates are the same table, suppressed alike
    residence, _ = tables["profil_departement_residence"]
    rates, _ = tables["taux_par_departement_residence"]
    assert residence["Bénéficiaires"].tolist() == rates["Bénéficiaires"].tolist()
    rate_rows = indicator.rates(scope.work_contracts, scope.participants, communes, 2024)
    paris = rates.loc[rates["Département de résidence"].eq("Paris (75)")].iloc[0]
    if paris["Bénéficiaires"] != "s":
        assert num(paris["Pour 10 000 habitants"]) == pytest.approx(
            rate_rows.set_index("code").at["75", "taux_10000"], abs=1e-4)


def test_contract_cross_table_adds_up(small_warehouse, tmp_path):
    _, scope, _ = render(tmp_path, "11", "2024-T2")
    _, tables = read_tables(tmp_path, "beneficiaires")
    cross, people = tables["contrats_type_employeur"]
    assert "Total" in people
    total = cross.loc[cross["Type d'employeur"].eq("Ensemble"), "Total"].iloc[0]
    assert num(total) == len(scope.period_work_contracts)


def test_poisson_interval():
    low, high = beneficiaries.poisson_interval([0, 10])
    assert low[0] == 0 and high[0] == pytest.approx(3.689, abs=1e-3)
    assert low[1] == pytest.approx(4.795, abs=1e-3) and high[1] == pytest.approx(18.39, abs=1e-2)


def test_young_low_qualified_flag():
    class FakeScope:
        beneficiaries = pd.DataFrame({
            "participant_id": list("abcd"), "tranche_age": ["moins_de_26", "moins_de_26", "26_49",
                                                            None],
            "diplome": ["niveau_3", "inconnu", "sans_diplome", "niveau_3"],
            "commune_residence": [None] * 4, "heures_periode": [1.0] * 4})

        @staticmethod
        def table(name):
            return pd.DataFrame({"code_insee": ["75056"], "departement": ["75"]})

    flags = beneficiaries.people(FakeScope())["jeune_peu_qualifie"]
    assert flags.tolist()[0] == "oui" and flags.tolist()[2] == "non"
    assert flags.isna().tolist() == [False, True, False, True]
