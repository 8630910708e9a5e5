"""Territorial coverage: structures per inhabitant, residence vs work, zones blanches, by hand."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from analysis.indicators.coverage import residence_versus_work, structures_per_inhabitant, white_zones


def communes() -> gpd.GeoDataFrame:
    """Four 1-km squares in Lambert-93: A at x=0, B 5 km east, C 30 km east (dép. 77), and a
    Paris arrondissement inside Paris (75056 at x=60 km)."""
    rows = [("93001", "A", "COM", "93", 10_000, 0), ("93002", "B", "COM", "93", 20_000, 5_000),
            ("77001", "C", "COM", "77", 5_000, 30_000), ("75056", "Paris", "COM", "75", 2_000_000, 60_000),
            ("75101", "Paris 1er", "ARM", "75", 16_000, 60_000)]
    frame = gpd.GeoDataFrame(
        [{"code_insee": c, "nom": n, "type": t, "departement": d, "population_municipale": p,
          "geometry": box(650_000 + x, 6_860_000, 651_000 + x, 6_861_000)}
         for c, n, t, d, p, x in rows], crs="EPSG:2154")
    return frame.to_crs("EPSG:4326")


STRUCTURES = pd.DataFrame({"siret": ["1", "2", "3"], "type": ["ACI", "EA", "ETTI"],
                           "commune": ["93001", "93001", "75101"]})
PARTICIPANTS = pd.DataFrame({"participant_id": ["p1", "p2", "p3", "p4", "p5"],
                             "commune_residence": ["93001", "93002", "77001", "77001", None]})


def test_structures_per_inhabitant():
    by_dep = structures_per_inhabitant(STRUCTURES, communes()).set_index("code")
    assert by_dep.loc["93", "structures"] == 2 and by_dep.loc["93", "population"] == 30_000
    assert by_dep.loc["93", "pour_10000"] == pytest.approx(2 / 30_000 * 1e4)
    assert by_dep.loc["77", "structures"] == 0 and by_dep.loc["77", "pour_10000"] == 0
    assert by_dep.loc["75", "structures_ETTI"] == 1  # an arrondissement counts in Paris
    assert by_dep.loc["75", "population"] == 2_000_000  # arrondissements not counted twice
    by_commune = structures_per_inhabitant(STRUCTURES, communes(), level="commune").set_index("code")
    assert by_commune.loc["93001", "structures"] == 2 and "75101" not in by_commune.index


def test_white_zones_by_distance():
    zones = white_zones(PARTICIPANTS, STRUCTURES, communes(), distance_km=10).set_index("code_insee")
    assert zones.loc["93001", "distance_km"] == pytest.approx(0, abs=0.01)
    assert zones.loc["93002", "distance_km"] == pytest.approx(5, abs=0.05)
    assert zones.loc["77001", "distance_km"] == pytest.approx(30, abs=0.05)
    assert zones["zone_blanche"].to_dict() == {"77001": True, "93001": False, "93002": False}
    assert zones.loc["77001", "beneficiaires"] == 2
    assert list(zones.index)[0] == "77001"  # zones blanches first
    only_ea = white_zones(PARTICIPANTS, STRUCTURES, communes(), distance_km=4, types=("EA",))
    assert set(only_ea.loc[only_ea["zone_blanche"], "code_insee"]) == {"93002", "77001"}


def test_residence_versus_work():
    work = pd.DataFrame({"participant_id": ["p1", "p3", "p5"], "operation_id": ["o1", "o1", "o2"],
                         "heures": [100.0, 50.0, 10.0]})
    ops = pd.DataFrame({"operation_id": ["o1", "o2"], "departement": ["93", None]})
    table = residence_versus_work(PARTICIPANTS, work, ops, communes())
    table = table.set_index(["departement_residence", "departement_travail"])
    assert table.loc[("93", "93"), "heures"] == 100.0
    assert table.loc[("77", "93"), "beneficiaires"] == 1
    assert table.loc[("non renseigné", "non renseigné"), "contrats"] == 1


def test_white_zones_on_the_synthetic_warehouse(small_warehouse):
    from analysis.reference import load_communes
    from analysis.warehouse import load_table

    zones = white_zones(load_table("participants"), load_table("structures"), load_communes())
    assert zones["beneficiaires"].sum() > 0 and zones["distance_km"].ge(0).all()
    # The generator places structures unevenly: some outer communes are zones blanches.
    assert zones.loc[zones["zone_blanche"], "departement"].isin(["77", "78", "91", "95"]).any()
