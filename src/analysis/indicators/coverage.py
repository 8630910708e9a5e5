"""Territorial coverage (``docs/indicators.md``, « Maillage territorial »): where the inclusion
structures are, where beneficiaries live and work, and the *zones blanches*.

Distances are between commune centroids in the région's map projection (metres; Lambert-93
in metropolitan France, :func:`analysis.config.map_crs`): the structures
directory gives a commune, not an address, so a structure stands at its commune's centroid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import config
from ..reference import is_sub_unit, population, to_commune

#: Default distance beyond which a commune has no structure « nearby » (km).
DEFAULT_DISTANCE_KM = 10.0


def _communes_only(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return communes[~is_sub_unit(communes)]


def _to_commune(codes: pd.Series) -> pd.Series:
    """Municipal arrondissements counted in their city (Paris, Marseille, Lyon), like the
    population (:func:`analysis.reference.to_commune`)."""
    return to_commune(codes)


def structures_per_inhabitant(structures: pd.DataFrame, communes: pd.DataFrame,
                              level: str = "departement") -> pd.DataFrame:
    """Structures per 10 000 inhabitants by département or commune, by type and in all.

    Returns
    -------
    DataFrame
        ``code, nom, population, structures, pour_10000`` and one ``structures_<TYPE>`` column per
        structure type; every département or commune of the reference appears, zeros included.
    """
    ref = pd.DataFrame(_communes_only(communes).drop(columns="geometry", errors="ignore"))
    located = structures.assign(commune=_to_commune(structures["commune"])).merge(
        ref[["code_insee", "departement"]], left_on="commune", right_on="code_insee", how="left")
    key = "departement" if level == "departement" else "commune"
    counts = located.groupby([key, "type"]).size().unstack(fill_value=0)
    counts.columns = [f"structures_{c}" for c in counts.columns]
    if level == "departement":
        base = population(communes, "departement").to_frame()
        base["nom"] = base.index
    else:
        base = population(communes, "commune").to_frame()
        base.insert(0, "nom", base.index.map(ref.set_index("code_insee")["nom"]))
    table = base.join(counts, how="left").fillna(0)
    type_columns = [c for c in table.columns if c.startswith("structures_")]
    table[type_columns] = table[type_columns].astype("int64")
    table["structures"] = table[type_columns].sum(axis=1)
    table["pour_10000"] = table["structures"] / table["population"].where(table["population"] > 0) * 1e4
    table.index.name = "code"
    return table.reset_index()[["code", "nom", "population", "structures", "pour_10000",
                                *type_columns]]


def residence_versus_work(participants: pd.DataFrame, work_contracts: pd.DataFrame,
                          operations: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """Work contracts by département of residence × département of the operation.

    Returns
    -------
    DataFrame
        ``departement_residence, departement_travail, contrats, beneficiaires, heures``; a
        residence outside the reference is « hors référence », an unknown one « non renseigné ».
    """
    ref = pd.DataFrame(_communes_only(communes).drop(columns="geometry", errors="ignore"))
    dep_of = ref.set_index("code_insee")["departement"]
    people = participants[["participant_id", "commune_residence"]].copy()
    residence = _to_commune(people["commune_residence"])
    people["departement_residence"] = residence.map(dep_of).astype("string")
    people.loc[residence.notna() & people["departement_residence"].isna(),
               "departement_residence"] = "hors référence"
    people["departement_residence"] = people["departement_residence"].fillna("non renseigné")
    joined = work_contracts.merge(people[["participant_id", "departement_residence"]],
                                  on="participant_id", how="left").merge(
        operations[["operation_id", "departement"]], on="operation_id", how="left")
    joined["departement_travail"] = joined["departement"].astype("string").fillna("non renseigné")
    joined["departement_residence"] = joined["departement_residence"].fillna("non renseigné")
    grouped = joined.groupby(["departement_residence", "departement_travail"])
    return pd.DataFrame({"contrats": grouped.size(),
                         "beneficiaires": grouped["participant_id"].nunique(),
                         "heures": grouped["heures"].sum().astype(float)}).reset_index()


def white_zones(participants: pd.DataFrame, structures: pd.DataFrame,
                communes: gpd.GeoDataFrame, distance_km: float = DEFAULT_DISTANCE_KM,
                types: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Communes with resident beneficiaries and no structure within ``distance_km``.

    Parameters
    ----------
    participants
        The ``participants`` table (``commune_residence``).
    structures
        The ``structures`` table (``commune``, ``type``).
    communes
        The reference communes with geometry.
    distance_km
        The distance that counts as « nearby ».
    types
        Structure types to consider (default: all).

    Returns
    -------
    DataFrame
        One row per commune with at least one resident beneficiary: ``code_insee, nom,
        departement, population, beneficiaires, distance_km`` (to the nearest structure's
        commune; 0 when the commune has one), ``zone_blanche``, sorted by beneficiaries
        among zones blanches first.
    """
    ref = _communes_only(communes).to_crs(config.map_crs())
    centroids = ref.set_index("code_insee").geometry.centroid
    chosen = structures if types is None else structures[structures["type"].isin(types)]
    hosts = pd.Index(_to_commune(chosen["commune"]).dropna().unique()).intersection(centroids.index)
    residents = _to_commune(participants["commune_residence"]).value_counts()
    residents = residents[residents.index.isin(centroids.index)]
    table = pd.DataFrame({"code_insee": residents.index.astype(str),
                          "beneficiaires": residents.to_numpy()})
    info = pd.DataFrame(ref.drop(columns="geometry")).set_index("code_insee")
    table["nom"] = table["code_insee"].map(info["nom"])
    table["departement"] = table["code_insee"].map(info["departement"])
    table["population"] = table["code_insee"].map(info["population_municipale"])
    if len(hosts) == 0:
        table["distance_km"] = np.inf
    else:
        host_points = gpd.GeoSeries(centroids.loc[hosts].to_numpy(), crs=ref.crs)
        points = gpd.GeoSeries(centroids.loc[table["code_insee"]].to_numpy(), crs=ref.crs)
        tree = host_points.sindex
        _, distances = tree.nearest(points, return_distance=True, return_all=False)
        table["distance_km"] = distances / 1000.0
    table["zone_blanche"] = table["distance_km"] > distance_km
    table = table.sort_values(["zone_blanche", "beneficiaires"], ascending=[False, False])
    return table[["code_insee", "nom", "departement", "population", "beneficiaires",
                  "distance_km", "zone_blanche"]].reset_index(drop=True)
