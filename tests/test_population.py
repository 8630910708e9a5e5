"""Population of a territory: one function, Paris counted once (not with its arrondissements).

The reference holds Paris twice — the commune 75056 with the city's population and its 20
arrondissements (751xx) with theirs — so any sum over its rows that keeps both counts Paris twice.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import config, maps, reference
from analysis.indicators import beneficiaries as B
from analysis.indicators import coverage
from analysis.scope import Scope
from analysis.sections import territories


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return reference.commune_table()


def test_reference_holds_paris_twice(communes):
    """The premise: 75056 and its arrondissements both carry Paris's population."""
    paris = communes.loc[communes["code_insee"].eq("75056"), "population_municipale"].item()
    arrondissements = communes.loc[communes["code_insee"].str.match(r"^751\d\d$")]
    assert len(arrondissements) == 20 and set(arrondissements["type"]) == {"ARM"}
    assert arrondissements["population_municipale"].sum() == paris


def test_departement_is_the_sum_of_its_distinct_communes(communes):
    by_departement = reference.population(communes, "departement")
    assert list(by_departement.index) == sorted(config.DEPARTEMENTS)
    distinct = communes.loc[communes["type"].eq("COM")]
    assert distinct["code_insee"].is_unique
    for code, value in by_departement.items():
        mine = distinct.loc[distinct["departement"].eq(code)]
        assert value == mine["population_municipale"].sum(), code
    paris = communes.loc[communes["code_insee"].eq("75056"), "population_municipale"].item()
    assert by_departement["75"] == paris
    by_commune = reference.population(communes, "commune")
    assert by_commune.index.is_unique and not by_commune.index.str.match(r"^751\d\d$").any()
    assert by_commune.sum() == by_departement.sum()


def test_region_is_the_sum_of_its_departements(communes):
    by_departement = reference.population(communes, "departement")
    region = reference.territory_population(communes, config.REGION_CODE)
    assert region == by_departement.sum()
    assert reference.population(communes, "region").item() == region
    assert 12_000_000 < region < 12_400_000                 # 12.17 M inhabitants (domain.md §6)
    for code in config.DEPARTEMENTS:
        assert reference.territory_population(communes, code) == by_departement[code]


def test_every_population_sum_agrees(communes):
    """Indicators and map layers give the same populations as the reference function."""
    expected = reference.population(communes, "departement")
    empty_people = pd.DataFrame({"participant_id": pd.Series(dtype="string"),
                                 "commune_residence": pd.Series(dtype="string")})
    empty_work = pd.DataFrame({"participant_id": pd.Series(dtype="string"),
                               "date_debut": pd.Series(dtype="datetime64[ns]"),
                               "date_fin": pd.Series(dtype="datetime64[ns]"),
                               "heures": pd.Series(dtype=float)})
    rates = B.rates(empty_work, empty_people, communes, 2025).set_index("code")["population"]
    assert rates.to_dict() == expected.to_dict()
    structures = pd.DataFrame({"commune": pd.Series(dtype="string"),
                               "type": pd.Series(dtype="string")})
    per_dep = coverage.structures_per_inhabitant(structures, communes).set_index("code")
    assert per_dep["population"].to_dict() == expected.to_dict()
    layer = maps.departement_layer(reference.load_communes()).set_index("code")["population"]
    assert layer.astype("int64").to_dict() == expected.to_dict()


class _Report:
    """Collects the tables a section publishes."""

    k = 5

    def __init__(self):
        self.tables = {}

    def table(self, frame, name, *args, **kwargs):
        self.tables[name] = frame
        return frame

    def figure(self, *args, **kwargs):
        return None

    def population(self, what, territory=None):
        return f"{what}|{territory}|2025"


def test_departements_compared_count_paris_once(communes):
    """Beneficiaries per 10 000 inhabitants of Paris and of the région, by hand."""
    operations = pd.DataFrame({"operation_id": ["o75", "o93"], "departement": ["75", "93"]})
    people = [f"p{i}" for i in range(30)]
    work = pd.DataFrame({
        "operation_id": ["o75"] * 20 + ["o93"] * 10, "participant_id": people,
        "date_debut": pd.Timestamp("2025-03-01"), "date_fin": pd.Timestamp("2025-04-30"),
        "heures": 100.0, "employeur_siret": [f"{i % 4:014d}" for i in range(30)],
        "employeur": "Employeur"})
    contracts = pd.DataFrame({
        "acheteur_id": pd.Series(dtype="string"),
        "dateNotification": pd.Series(dtype="datetime64[ns]"),
        "departement_execution": pd.Series(dtype="string"),
        "region_execution": pd.Series(dtype="string"),
        "lieuExecution_code": pd.Series(dtype="string"),
        "acheteur_departement": pd.Series(dtype="string"),
        "has_social_consideration": pd.Series(dtype="boolean")})
    tables = {"contracts": contracts, "operations": operations, "work_contracts": work,
              "participants": pd.DataFrame({"participant_id": people}), "communes": communes}
    report = _Report()
    territories.departements(Scope(config.REGION_CODE, "2025", tables=tables), report)
    table = report.tables["departements_compares"].set_index("territoire")
    paris = communes.loc[communes["code_insee"].eq("75056"), "population_municipale"].item()
    region = communes.loc[communes["type"].eq("COM"), "population_municipale"].sum()
    assert table.loc["Paris (75)", "pour_10000"] == pytest.approx(20 * 1e4 / paris)
    assert table.loc["Île-de-France (11)", "pour_10000"] == pytest.approx(30 * 1e4 / region)
