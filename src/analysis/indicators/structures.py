"""Inclusive structures as an offer of service, and the value awarded to them (``docs/indicators.md``,
« Partenaires : offre de service des structures inclusives »).

The seed document asks the observatory to let the insertion and disability partners « recenser
l'offre de service, d'analyser la présence territoriale des structures ». Computed for every
territory at once (one group-by), never territory by territory:

* :func:`offer_by_commune` — structures of the directory by type and family in every commune of
  the reference (Paris counts as the commune 75056), with its population: the base any other
  perimeter (EPT, EPCI) aggregates with :func:`aggregate_offer`;
* :func:`offer_by_territory` — the same for the région and each département, per 10 000
  inhabitants (population: :func:`analysis.reference.territory_population`);
* :func:`sectors_by_territory` — structures by sector of activity (a structure may work in several);
* :func:`holder_families` — whether a contract holder is an inclusive supplier (SIAE, or EA /
  ESAT), matched by SIRET then SIREN against the directory (the one matching of the observatory,
  also used by :func:`analysis.indicators.buyers.inclusive`);
* :func:`contract_awards` — one row per contract: its awarded value and the part going to each
  family, its place of execution (département and commune);
* :func:`award_shares` — by territory and year: contracts and value awarded to each family, with
  buyer-clustered intervals (:func:`analysis.stats.clustered_share` by number,
  :func:`analysis.stats.clustered_ratio` by value).

Pure functions: tables in, tables out, no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config
from ..reference import is_sub_unit, population, territory_population
from ..stats import clustered_ratios, clustered_share
from .coverage import _to_commune
from .progression import in_territory

#: Structure types counted as inclusive suppliers, by family (the directory's kinds and those of
#: the Marché de l'inclusion: EITI, SEP, EATT).
SIAE_TYPES = ("EI", "ETTI", "AI", "ACI", "GEIQ", "EITI", "SEP")
DISABILITY_TYPES = ("EA", "ESAT", "EATT")
#: The families, in the order the reports show them.
FAMILIES = ("siae", "ea_esat")
#: The types every offer table shows (zeros included), in the order the reports show them.
SHOWN_TYPES = ("EI", "ETTI", "AI", "ACI", "GEIQ", "EA", "ESAT")
#: A structure whose directory row names no sector.
UNKNOWN_SECTOR = "non renseigné"
#: Separator of the directory's ``secteurs`` field (« Espaces verts, BTP »).
SECTOR_SEPARATOR = ","


def to_commune(codes: pd.Series) -> pd.Series:
    """INSEE commune codes with the municipal arrondissements (Paris, Marseille, Lyon) as their
    city, as the population counts them (:func:`analysis.reference.to_commune`)."""
    return _to_commune(codes)


def family(types: pd.Series) -> pd.Series:
    """The family of each structure type: ``siae``, ``ea_esat``, or missing for another type."""
    kinds = types.astype("string").str.upper()
    return pd.Series(np.where(kinds.isin(SIAE_TYPES).fillna(False), "siae",
                              np.where(kinds.isin(DISABILITY_TYPES).fillna(False), "ea_esat",
                                       None)),
                     index=types.index, dtype="string")


def holder_families(holders: pd.Series, structures: pd.DataFrame | None) -> pd.Series:
    """The inclusive family of each contract holder, matched against the structures directory.

    A holder is inclusive when its identifier is the SIRET of a structure of the directory, else
    when its first nine digits are the SIREN of one (another establishment of the same company).
    Holders identified otherwise than by a SIRET match nothing.

    Parameters
    ----------
    holders
        Holder identifiers (``suppliers.titulaire_id``).
    structures
        The ``structures`` table (``siret``, ``type``); ``None`` or empty: nothing matches.

    Returns
    -------
    Series
        Aligned on ``holders``: ``siae``, ``ea_esat`` or missing.
    """
    out = pd.Series(pd.NA, index=holders.index, dtype="string")
    if structures is None or structures.empty:
        return out
    fam = family(structures["type"])
    siret = structures["siret"].astype("string")
    by_siret = pd.Series(fam.to_numpy(), index=siret.to_numpy()).loc[lambda s: s.notna()]
    by_siret = by_siret[~by_siret.index.duplicated()]
    by_siren = pd.Series(fam.to_numpy(), index=siret.str[:9].to_numpy()).loc[lambda s: s.notna()]
    by_siren = by_siren[~by_siren.index.duplicated()]
    ident = holders.astype("string")
    return ident.map(by_siret).astype("string").fillna(ident.str[:9].map(by_siren).astype("string"))


def awarded_amount(contracts: pd.DataFrame) -> pd.Series:
    """A contract's awarded value: its initial amount, else its amount after modifications."""
    return contracts["montant_initial"].astype("Float64").fillna(
        contracts["montant"].astype("Float64")).astype(float)


def holder_awards(contracts: pd.DataFrame, suppliers: pd.DataFrame,
                  structures: pd.DataFrame | None) -> pd.DataFrame:
    """One row per contract holder: its family and its part of the contract's value.

    A contract's value (:func:`awarded_amount`) is split evenly among its holders (the DECP give no
    share per co-contractor). Holders of contracts absent from ``contracts`` are left out.

    Returns
    -------
    DataFrame
        ``uid, titulaire_id, n, famille, part_montant`` (``n``: the contract's holders).
    """
    holders = suppliers[["uid", "titulaire_id"]].copy()
    holders["n"] = holders.groupby("uid")["uid"].transform("size")
    holders["famille"] = holder_families(holders["titulaire_id"], structures)
    amount = pd.DataFrame({"uid": contracts["uid"].to_numpy(),
                           "montant": awarded_amount(contracts).to_numpy()})
    holders = holders.merge(amount, on="uid", how="inner")
    holders["part_montant"] = holders["montant"] / holders["n"]
    return holders.drop(columns="montant")


def contract_awards(contracts: pd.DataFrame, suppliers: pd.DataFrame,
                    structures: pd.DataFrame | None) -> pd.DataFrame:
    """One row per contract: its value and the part of it awarded to each inclusive family.

    Parameters
    ----------
    contracts
        The ``contracts`` table (or a part of it).
    suppliers
        The ``suppliers`` table (``uid, titulaire_id``).
    structures
        The ``structures`` table; ``None``: no holder is inclusive.

    Returns
    -------
    DataFrame
        Aligned on ``contracts`` (same index): ``uid, acheteur_id, annee, departement_execution,
        commune_execution`` (INSEE code of a « Code commune » place of execution, Paris
        arrondissements as 75056; missing otherwise), ``montant`` (:func:`awarded_amount`),
        ``montant_siae, montant_ea_esat, montant_inclusif`` (the holders' parts),
        ``marche_siae, marche_ea_esat, marche_inclusif`` (0/1: at least one holder of the family).
        A contract with no known value has missing amounts and keeps its 0/1 flags.
    """
    holders = holder_awards(contracts, suppliers, structures)
    amounts = pd.DataFrame(index=pd.Index(contracts["uid"].unique(), name="uid"))
    for name in FAMILIES:
        rows = holders.loc[holders["famille"].eq(name).fillna(False).astype(bool)]
        grouped = rows.groupby("uid")
        amounts[f"montant_{name}"] = grouped["part_montant"].sum(min_count=1)
        amounts[f"marche_{name}"] = grouped.size()
    amounts = amounts.reindex(contracts["uid"].to_numpy())
    value = awarded_amount(contracts).to_numpy()
    kind = (contracts["lieuExecution_typeCode"].astype("string")
            if "lieuExecution_typeCode" in contracts.columns
            else pd.Series(pd.NA, index=contracts.index, dtype="string"))
    code = (contracts["lieuExecution_code"].astype("string")
            if "lieuExecution_code" in contracts.columns
            else pd.Series(pd.NA, index=contracts.index, dtype="string"))
    commune = _to_commune(code.where(kind.eq("Code commune").fillna(False).astype(bool)))
    out = pd.DataFrame({
        "uid": contracts["uid"].to_numpy(),
        "acheteur_id": contracts["acheteur_id"].to_numpy(),
        "annee": pd.to_datetime(contracts["dateNotification"]).dt.year.astype("Int64").to_numpy(),
        "departement_execution": contracts["departement_execution"].astype("string").to_numpy(),
        "commune_execution": commune.to_numpy(),
        "montant": value,
    }, index=contracts.index)
    known = ~np.isnan(value)
    for name in FAMILIES:
        part = amounts[f"montant_{name}"].to_numpy(dtype=float)
        out[f"montant_{name}"] = np.where(known, np.nan_to_num(part, nan=0.0), np.nan)
        out[f"marche_{name}"] = (amounts[f"marche_{name}"].fillna(0).to_numpy() > 0).astype(
            "int64")
    out["montant_inclusif"] = out["montant_siae"] + out["montant_ea_esat"]
    out["marche_inclusif"] = (out["marche_siae"] | out["marche_ea_esat"]).astype("int64")
    return out


def by_territory(frame: pd.DataFrame, contracts: pd.DataFrame,
                 territories=None) -> pd.DataFrame:
    """``frame`` (aligned on ``contracts``) stacked once per territory it belongs to, with a
    ``territoire`` column: the région (:func:`analysis.indicators.progression.in_territory`:
    its départements, contracts placed at the région's level and those without a place whose
    buyer is in the région) and each département (place of execution)."""
    codes = [str(c) for c in (territories or config.TERRITORIES)]
    parts = []
    if config.REGION_CODE in codes:
        region = in_territory(contracts, config.REGION_CODE).index
        parts.append(frame.loc[region].assign(territoire=config.REGION_CODE))
    wanted = [c for c in codes if c != config.REGION_CODE]
    place = frame["departement_execution"].astype("string")
    inside = place.isin(wanted).fillna(False).astype(bool)
    parts.append(frame.loc[inside].assign(territoire=place[inside].to_numpy()))
    return pd.concat(parts, ignore_index=True)


def award_shares(awards: pd.DataFrame, by: list[str] | tuple = ("territoire", "annee"),
                 cluster: str = "acheteur_id") -> pd.DataFrame:
    """Contracts and value awarded to inclusive suppliers by group, with intervals.

    Parameters
    ----------
    awards
        :func:`contract_awards` rows (stacked by :func:`by_territory` for territories); any of its
        columns can group (``territoire``, ``annee``, ``commune_execution``…).
    by
        Group columns; all groups are computed at once.
    cluster
        The cluster of the intervals: a buyer's contracts are not independent draws.

    Returns
    -------
    DataFrame
        One row per group: ``marches`` (contracts), ``marches_montant`` (with a known value),
        ``montant`` (their value), ``acheteurs``; for each family ``f`` in ``siae, ea_esat,
        inclusif``: ``marches_f``, ``part_marches_f`` with ``ic_marches_f_bas/haut`` (share of
        contracts, buyer-clustered linearised interval, :func:`analysis.stats.clustered_share`),
        ``montant_f``, ``part_montant_f`` with ``ic_montant_f_bas/haut`` (share of value, two-stage
        bootstrap by buyer then contract, :func:`analysis.stats.clustered_ratio`; the three value
        shares from the same draws, :func:`analysis.stats.clustered_ratios`).
    """
    by = list(by)
    rows = awards.dropna(subset=by)
    grouped = rows.groupby(by, sort=True)
    table = pd.DataFrame({"marches": grouped.size(),
                          "marches_montant": grouped["montant"].count(),
                          "montant": grouped["montant"].sum(min_count=1),
                          "acheteurs": grouped[cluster].nunique()})
    names = (*FAMILIES, "inclusif")
    # one bootstrap for the three shares of the same value (the same draws)
    values = clustered_ratios(rows, [f"montant_{name}" for name in names], "montant", by,
                              cluster=cluster)
    for name in names:
        number = clustered_share(rows, f"marche_{name}", by, cluster=cluster)
        value = values[f"montant_{name}"]
        table[f"marches_{name}"] = number["effectif"].reindex(table.index).fillna(0).astype(
            "int64")
        table[f"part_marches_{name}"] = number["part"].reindex(table.index)
        table[f"ic_marches_{name}_bas"] = number["ic_bas"].reindex(table.index)
        table[f"ic_marches_{name}_haut"] = number["ic_haut"].reindex(table.index)
        table[f"montant_{name}"] = value["numerateur"].reindex(table.index)
        table[f"part_montant_{name}"] = value["ratio"].reindex(table.index)
        table[f"ic_montant_{name}_bas"] = value["ic_bas"].reindex(table.index)
        table[f"ic_montant_{name}_haut"] = value["ic_haut"].reindex(table.index)
    return table.reset_index()


def territory_award_shares(contracts: pd.DataFrame, suppliers: pd.DataFrame,
                           structures: pd.DataFrame | None, territories=None) -> pd.DataFrame:
    """:func:`award_shares` by territory (région and each département) and notification year, for
    every territory at once."""
    awards = contract_awards(contracts, suppliers, structures)
    return award_shares(by_territory(awards, contracts, territories), ("territoire", "annee"))


# --- the offer of service --------------------------------------------------------------------------


def _located(structures: pd.DataFrame) -> pd.DataFrame:
    return structures.assign(commune=_to_commune(structures["commune"]),
                             type=structures["type"].astype("string").str.upper(),
                             famille=family(structures["type"]))


def _type_columns(types) -> list[str]:
    extra = sorted(set(types) - set(SHOWN_TYPES))
    return [f"structures_{t}" for t in (*SHOWN_TYPES, *extra)]


def offer_by_commune(structures: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """Structures of the directory in every commune of the reference, by type and family.

    Parameters
    ----------
    structures
        The ``structures`` table (``siret, type, commune``).
    communes
        The reference communes (``code_insee, nom, type, departement, population_municipale``,
        and ``epci_code, epci_nom`` when the reference has them).

    Returns
    -------
    DataFrame
        One row per commune (Paris is the commune 75056; its arrondissements are not rows and the
        structures located in them count in Paris): ``code_insee, nom, departement, epci_code,
        epci_nom, population`` (:func:`analysis.reference.population`), one ``structures_<TYPE>``
        column per type (:data:`SHOWN_TYPES` first, zeros included), ``siae, ea_esat,
        structures, pour_10000``. A perimeter made of communes (an EPT, an EPCI) is the sum of its
        rows: :func:`aggregate_offer`.
    """
    ref = pd.DataFrame(communes.loc[~is_sub_unit(communes)].drop(columns="geometry",
                                                                  errors="ignore"))
    base = pd.DataFrame({"code_insee": ref["code_insee"].astype(str).to_numpy()})
    base["nom"] = ref["nom"].astype("string").to_numpy()
    base["departement"] = ref["departement"].astype(str).to_numpy()
    for column in ("epci_code", "epci_nom"):
        base[column] = (ref[column].astype("string").to_numpy() if column in ref.columns
                        else pd.array([pd.NA] * len(ref), dtype="string"))
    base["population"] = base["code_insee"].map(population(communes, "commune")).astype("int64")
    located = _located(structures)
    counts = pd.crosstab(located["commune"], located["type"])
    counts.columns = [f"structures_{c}" for c in counts.columns]
    families = pd.crosstab(located["commune"], located["famille"])
    table = base.set_index("code_insee")
    for column in _type_columns(located["type"].dropna().unique()):
        table[column] = counts[column].reindex(table.index).fillna(0).astype("int64") \
            if column in counts.columns else 0
    for name in FAMILIES:
        table[name] = families[name].reindex(table.index).fillna(0).astype("int64") \
            if name in families.columns else 0
    type_columns = [c for c in table.columns if c.startswith("structures_")]
    table["structures"] = table[type_columns].sum(axis=1).astype("int64")
    table["pour_10000"] = table["structures"] / table["population"].where(
        table["population"] > 0) * 1e4
    return table.reset_index()


def aggregate_offer(per_commune: pd.DataFrame, key: pd.Series | str) -> pd.DataFrame:
    """:func:`offer_by_commune` rows summed by a perimeter of communes (one group-by).

    Parameters
    ----------
    per_commune
        The rows of :func:`offer_by_commune`.
    key
        A column of ``per_commune`` (``departement``, ``epci_code``) or a Series aligned on it
        giving each commune's perimeter (an EPT code…); communes without one are left out.

    Returns
    -------
    DataFrame
        Indexed by the perimeter: ``population`` (the sum of its communes'), the count columns and
        ``pour_10000``.
    """
    keys = per_commune[key] if isinstance(key, str) else key
    counts = [c for c in per_commune.columns
              if c.startswith("structures_") or c in (*FAMILIES, "structures", "population")]
    table = per_commune[counts].groupby(keys.to_numpy(), sort=True).sum().astype("int64")
    table["pour_10000"] = table["structures"] / table["population"].where(
        table["population"] > 0) * 1e4
    return table


def offer_by_territory(structures: pd.DataFrame, communes: pd.DataFrame,
                       territories=None) -> pd.DataFrame:
    """Structures of the directory by territory (the région and each département), per 10 000
    inhabitants.

    Returns
    -------
    DataFrame
        Indexed by territory code: ``population`` (:func:`analysis.reference.territory_population`:
        Paris counts once), one ``structures_<TYPE>`` column per type, ``siae, ea_esat,
        structures``, and ``pour_10000, siae_pour_10000, ea_esat_pour_10000``.
    """
    codes = [str(c) for c in (territories or config.TERRITORIES)]
    per_commune = offer_by_commune(structures, communes)
    by_departement = aggregate_offer(per_commune, "departement").drop(columns="population")
    rows = []
    for code in codes:  # a handful of territories, each the sum of its départements
        wanted = [d for d in config.territory_departements(code) if d in by_departement.index]
        row = by_departement.loc[wanted].drop(columns="pour_10000").sum()
        row["population"] = territory_population(communes, code)
        rows.append(row.rename(code))
    table = pd.DataFrame(rows)
    counts = [c for c in table.columns if c != "population"]
    table[counts] = table[counts].astype("int64")
    table["population"] = table["population"].astype("int64")
    inhabitants = table["population"].where(table["population"] > 0)
    for column, name in (("structures", "pour_10000"), ("siae", "siae_pour_10000"),
                         ("ea_esat", "ea_esat_pour_10000")):
        table[name] = table[column] / inhabitants * 1e4
    table.index.name = "territoire"
    return table


def sectors(structures: pd.DataFrame) -> pd.DataFrame:
    """One row per structure and sector of activity (``siret, commune, type, famille, secteur``):
    the directory's ``secteurs`` split on commas, trimmed; none is :data:`UNKNOWN_SECTOR`."""
    located = _located(structures)
    split = located["secteurs"].astype("string").str.split(SECTOR_SEPARATOR)
    long = located.assign(secteur=split).explode("secteur")
    long["secteur"] = long["secteur"].astype("string").str.strip()
    long["secteur"] = long["secteur"].where(long["secteur"].str.len() > 0).fillna(UNKNOWN_SECTOR)
    long = long.drop_duplicates(["siret", "secteur"])
    return long[["siret", "commune", "type", "famille", "secteur"]].reset_index(drop=True)


def sectors_by_territory(structures: pd.DataFrame, communes: pd.DataFrame,
                         territories=None) -> pd.DataFrame:
    """Structures by sector of activity and territory (région and départements), by family.

    A structure working in several sectors counts in each: the rows of a territory do not add up
    to its structures.

    Returns
    -------
    DataFrame
        ``territoire, secteur, siae, ea_esat, structures`` (structures of the sector; zeros left
        out).
    """
    codes = [str(c) for c in (territories or config.TERRITORIES)]
    ref = pd.DataFrame(communes.loc[~is_sub_unit(communes)].drop(columns="geometry",
                                                                  errors="ignore"))
    long = sectors(structures)
    long["departement"] = long["commune"].map(
        ref.set_index(ref["code_insee"].astype(str))["departement"].astype(str))
    parts = []
    if config.REGION_CODE in codes:
        parts.append(long.loc[long["departement"].isin(config.DEPARTEMENTS)].assign(
            territoire=config.REGION_CODE))
    inside = long["departement"].isin([c for c in codes if c != config.REGION_CODE])
    parts.append(long.loc[inside].assign(territoire=long.loc[inside, "departement"]))
    stacked = pd.concat(parts, ignore_index=True)
    table = pd.crosstab([stacked["territoire"], stacked["secteur"]],
                        stacked["famille"].fillna("autre"))
    for name in FAMILIES:
        if name not in table.columns:
            table[name] = 0
    table["structures"] = table.sum(axis=1)
    table = table[[*FAMILIES, "structures"]].astype("int64")
    table.columns.name = None
    return table.reset_index()


__all__ = ["SIAE_TYPES", "DISABILITY_TYPES", "FAMILIES", "SHOWN_TYPES", "UNKNOWN_SECTOR",
           "to_commune", "family", "holder_families", "awarded_amount", "holder_awards", "contract_awards",
           "by_territory", "award_shares", "territory_award_shares", "offer_by_commune",
           "aggregate_offer", "offer_by_territory", "sectors", "sectors_by_territory"]
