"""Indicators of the buyer sheets (*fiches acheteur*), computed for every buyer at once.

Each function takes whole warehouse tables and returns one tidy table keyed by the buyer's SIRET
(``acheteur_id``): one group-by over all buyers, never a query per buyer. A sheet then takes its
rows (:mod:`analysis.buyer_sheets`). Pure functions: tables in, tables out, no I/O.

* :func:`directory` — every buyer, its contracts over the history and whether it gets a sheet;
* :func:`yearly` — its share of contracts with a social consideration by year, with Wilson's
  interval (for one buyer the contracts are the units: see the function);
* :func:`peers` — the same share for its peers (same buyer category in the same département, and
  in the région), buyer-clustered intervals, and the buyer's rank among its département peers;
* :func:`comparable` — the buyer's share on the basis of the national OECP figure (contracts of at
  least the census floor, :data:`analysis.config.OECP_FLOORS`), next to the published figure;
* :func:`breakdown` — the share by CPV division, procedure or amount band;
* :func:`climate` — contracts at or above the EU thresholds, and those notified from the loi
  Climat et résilience's start without a social consideration;
* :func:`operations_of_buyers` — tracking operations linked to a buyer, by contract
  (``decp_uid``) or by the owner's SIRET;
* :func:`inclusive` — awarded value going to inclusive suppliers (SIAE, EA / ESAT) and reserved
  contracts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config
from ..stats import share, wilson_interval
from .progression import UNKNOWN, amount_band
from . import structures as structures_indicators
from .readiness import classify_thresholds
from .structures import awarded_amount, holder_awards

#: Start of the loi Climat et résilience obligation for the sheets: décret n° 2022-767 applies to
#: consultations launched from 21 August 2026; the notification date is the proxy.
CLIMATE_START = config.CLIMATE_OBLIGATION_START

#: Structure types of the directory counted as inclusive suppliers, by family (defined with the
#: matching of holders against the directory, :mod:`analysis.indicators.structures`).
SIAE_TYPES = structures_indicators.SIAE_TYPES
DISABILITY_TYPES = structures_indicators.DISABILITY_TYPES

KINDS = ("clause_sociale", "critere_social", "marche_reserve")


def _known(contracts: pd.DataFrame) -> pd.DataFrame:
    """Contracts whose social status is known, with a 0/1 flag ``_avec``."""
    known = contracts.loc[contracts["has_social_consideration"].notna()]
    return known.assign(_avec=known["has_social_consideration"].astype(bool).astype("int64"))


def _rates(known: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Contracts, with a consideration, share and Wilson interval by ``by`` (one group-by)."""
    grouped = known.groupby(by, observed=True, sort=True)
    table = pd.DataFrame({"contrats": grouped.size(), "avec_consideration": grouped["_avec"].sum()})
    table["part"] = share(table["avec_consideration"], table["contrats"])
    low, high = wilson_interval(table["avec_consideration"].to_numpy(),
                                table["contrats"].to_numpy())
    table["ic_bas"], table["ic_haut"] = low, high
    return table


def directory(contracts: pd.DataFrame, min_contracts: int) -> pd.DataFrame:
    """Every buyer of the warehouse with its contracts over the history.

    Parameters
    ----------
    contracts
        The ``contracts`` table (every year).
    min_contracts
        A buyer gets a sheet with at least this many contracts.

    Returns
    -------
    DataFrame
        ``acheteur_id, acheteur_nom, acheteur_categorie, acheteur_departement, contrats,
        statut_connu, fiche`` sorted by name then SIRET; a missing name is the SIRET.
    """
    frame = contracts.assign(_connu=contracts["has_social_consideration"].notna())
    grouped = frame.groupby("acheteur_id", sort=True)
    table = pd.DataFrame({"contrats": grouped.size(), "statut_connu": grouped["_connu"].sum()})
    first = frame.drop_duplicates("acheteur_id").set_index("acheteur_id")
    for column in ("acheteur_nom", "acheteur_categorie", "acheteur_departement"):
        values = first[column] if column in first else pd.Series(pd.NA, index=first.index)
        table[column] = values.reindex(table.index).astype("string")
    table["acheteur_nom"] = table["acheteur_nom"].fillna(pd.Series(table.index, index=table.index)
                                                         .astype("string"))
    table["fiche"] = table["contrats"] >= int(min_contracts)
    table = table.rename_axis("acheteur_id").reset_index()
    table["statut_connu"] = table["statut_connu"].astype("int64")
    return table.sort_values(["acheteur_nom", "acheteur_id"]).reset_index(drop=True)[
        ["acheteur_id", "acheteur_nom", "acheteur_categorie", "acheteur_departement", "contrats",
         "statut_connu", "fiche"]]


def yearly(contracts: pd.DataFrame) -> pd.DataFrame:
    """Each buyer's share of contracts with a social consideration, by notification year.

    The interval is Wilson's on the buyer's contracts: for one buyer there is a single cluster,
    so the buyer-clustered interval of the reports (:func:`analysis.stats.clustered_share`)
    reduces exactly to it — the contracts are the units, and the interval says how far the
    buyer's own practice could drift from the observed share by the luck of which contracts it
    notified that year.

    Returns
    -------
    DataFrame
        ``acheteur_id, annee, contrats, avec_consideration, part, ic_bas, ic_haut,
        clause_sociale, critere_social, marche_reserve, statut_inconnu`` (counts of contracts).
    """
    frame = contracts.loc[contracts["annee"].notna()].assign(annee=lambda f: f["annee"].astype(int))
    known = _known(frame)
    table = _rates(known, ["acheteur_id", "annee"])
    grouped = known.groupby(["acheteur_id", "annee"], sort=True)
    for kind in KINDS:
        table[kind] = grouped[kind].sum().astype("int64")
    unknown = frame.loc[frame["has_social_consideration"].isna()].groupby(
        ["acheteur_id", "annee"]).size()
    table = table.reindex(table.index.union(unknown.index))
    table["statut_inconnu"] = unknown.reindex(table.index).fillna(0).astype("int64")
    counts = ["contrats", "avec_consideration", *KINDS]
    table[counts] = table[counts].fillna(0).astype("int64")
    return table.reset_index()


def peers(contracts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The share of each buyer's peers: same category in the same département, in the région.

    Intervals are clustered by buyer (:func:`analysis.stats.clustered_share`): a peer group is
    a population of buyers, one purchasing policy each.

    Returns
    -------
    dict
        ``"departement"``: ``acheteur_categorie, acheteur_departement, annee, contrats,
        avec_consideration, part, ic_bas, ic_haut, acheteurs``; ``"region"``: the same without
        the département; ``"rang"``: per buyer, its share over the history, its rank among its
        département peers (1 = highest share) and their number (``acheteur_id, part_historique,
        rang, pairs``).
    """
    from ..stats import clustered_share

    frame = contracts.loc[contracts["annee"].notna()].assign(
        annee=lambda f: f["annee"].astype(int),
        acheteur_categorie=lambda f: f["acheteur_categorie"].astype("string").fillna(UNKNOWN),
        acheteur_departement=lambda f: f["acheteur_departement"].astype("string").fillna(UNKNOWN))
    known = _known(frame)
    out = {}
    for name, by in (("departement", ["acheteur_categorie", "acheteur_departement", "annee"]),
                     ("region", ["acheteur_categorie", "annee"])):
        table = clustered_share(known, "_avec", by).rename(
            columns={"total": "contrats", "effectif": "avec_consideration"})
        out[name] = table[["contrats", "avec_consideration", "part", "ic_bas", "ic_haut",
                           "acheteurs"]].reset_index()
    per_buyer = known.groupby("acheteur_id").agg(
        n=("_avec", "size"), avec=("_avec", "sum"),
        acheteur_categorie=("acheteur_categorie", "first"),
        acheteur_departement=("acheteur_departement", "first"))
    per_buyer["part_historique"] = per_buyer["avec"] / per_buyer["n"]
    group = per_buyer.groupby(["acheteur_categorie", "acheteur_departement"])["part_historique"]
    per_buyer["rang"] = group.rank(method="min", ascending=False).astype("int64")
    per_buyer["pairs"] = group.transform("size").astype("int64")
    out["rang"] = per_buyer[["part_historique", "rang", "pairs"]].reset_index()
    return out


def comparable(contracts: pd.DataFrame) -> pd.DataFrame:
    """Each buyer's share on the basis of the national figure (OECP census), by year.

    Kept: contracts of known status whose amount at notification (initial amount, else the
    amount after modifications) is at least the year's census floor
    (:func:`analysis.config.oecp_floor`), as :func:`.progression.comparable_shares` does for a
    territory. Wilson's interval on the buyer's contracts.

    Returns
    -------
    DataFrame
        ``acheteur_id, annee, plancher, contrats, avec_consideration, part, ic_bas, ic_haut,
        part_nationale, source_nationale`` (the national figure where one is published).
    """
    frame = _known(contracts.loc[contracts["annee"].notna()]).assign(
        annee=lambda f: f["annee"].astype(int))
    amount = frame["montant_initial"].astype("Float64").fillna(
        frame["montant"].astype("Float64")).astype(float)
    floor = frame["annee"].map(config.oecp_floor).astype(float)
    kept = frame.loc[(amount >= floor).to_numpy()]
    columns = ["acheteur_id", "annee", "plancher", "contrats", "avec_consideration", "part",
               "ic_bas", "ic_haut", "part_nationale", "source_nationale"]
    if kept.empty:
        return pd.DataFrame(columns=columns)
    table = _rates(kept, ["acheteur_id", "annee"]).reset_index()
    table["plancher"] = table["annee"].map(config.oecp_floor).astype(float)
    table["part_nationale"] = table["annee"].map(
        lambda y: config.NATIONAL_SHARE.get(int(y), (np.nan, ""))[0]).astype(float)
    table["source_nationale"] = table["annee"].map(
        lambda y: config.NATIONAL_SHARE.get(int(y), (np.nan, ""))[1])
    return table[columns]


def breakdown(contracts: pd.DataFrame, by: str) -> pd.DataFrame:
    """Each buyer's share by ``by``: ``cpv_division``, ``procedure`` or ``tranche_montant``.

    A missing value is its own group (« non renseigné »), so the groups add up to the buyer's
    known-status contracts.

    Returns
    -------
    DataFrame
        ``acheteur_id, valeur, contrats, avec_consideration, part, ic_bas, ic_haut``, the
        groups of a buyer by decreasing number of contracts.
    """
    known = _known(contracts)
    if by == "tranche_montant":
        amount = known["montant_initial"].astype("Float64").fillna(
            known["montant"].astype("Float64")).astype(float)
        values = amount_band(amount).astype("string")
    else:
        values = known[by].astype("string")
    known = known.assign(valeur=values.fillna(UNKNOWN).to_numpy())
    table = _rates(known, ["acheteur_id", "valeur"]).reset_index()
    return table.sort_values(["acheteur_id", "contrats", "valeur"],
                             ascending=[True, False, True]).reset_index(drop=True)


def climate(contracts: pd.DataFrame, start: str = CLIMATE_START) -> dict[str, pd.DataFrame]:
    """Contracts at or above the EU thresholds, and the obligation's list, for every buyer.

    Parameters
    ----------
    contracts
        The ``contracts`` table.
    start
        First notification day counted under the obligation (the consultation's start is not in
        the DECP: the notification date is a proxy, later than the consultation).

    Returns
    -------
    dict
        ``"par_annee"``: ``acheteur_id, annee, au_dessus_seuil, avec_consideration,
        statut_inconnu`` (contracts at or above their threshold); ``"sans_consideration"``:
        ``acheteur_id, id, objet, dateNotification, montant_reference, seuil_ue`` — contracts
        notified from ``start``, at or above their threshold, known to carry no social
        consideration; ``"a_partir"``: per buyer, its contracts above the thresholds notified
        from ``start`` (``acheteur_id, contrats, statut_connu, avec_consideration``).
    """
    classified = classify_thresholds(contracts.loc[contracts["dateNotification"].notna()])
    above = classified.loc[classified["au_dessus_seuil"].fillna(False).astype(bool)].assign(
        annee=lambda f: f["annee"].astype(int),
        _avec=lambda f: f["has_social_consideration"].astype("boolean").fillna(False).astype(int),
        _inconnu=lambda f: f["has_social_consideration"].isna().astype(int))
    grouped = above.groupby(["acheteur_id", "annee"])
    by_year = pd.DataFrame({"au_dessus_seuil": grouped.size(),
                            "avec_consideration": grouped["_avec"].sum(),
                            "statut_inconnu": grouped["_inconnu"].sum()}).reset_index()
    after = above.loc[(above["dateNotification"] >= pd.Timestamp(start)).to_numpy()]
    grouped = after.groupby("acheteur_id")
    since = pd.DataFrame({"contrats": grouped.size(),
                          "statut_connu": grouped["_inconnu"].apply(lambda s: int((s == 0).sum())),
                          "avec_consideration": grouped["_avec"].sum()}).reset_index()
    without = after.loc[after["has_social_consideration"].eq(False).fillna(False).astype(bool)]
    listed = without[["acheteur_id", "id", "objet", "dateNotification", "montant_reference",
                      "seuil_ue"]].sort_values(["acheteur_id", "dateNotification", "id"])
    return {"par_annee": by_year, "a_partir": since,
            "sans_consideration": listed.reset_index(drop=True)}


def operations_of_buyers(operations: pd.DataFrame, contracts: pd.DataFrame) -> pd.DataFrame:
    """Tracking operations with the buyer they belong to.

    An operation belongs to the buyer of the contract its ``decp_uid`` names when that contract
    is in the warehouse, else to the buyer whose SIRET is the owner's (``maitre_ouvrage_siret``);
    an operation matching neither is left out (it is no buyer's).

    Returns
    -------
    DataFrame
        The operations plus ``acheteur_id`` and ``lien`` (« marché » or « maître d'ouvrage »).
    """
    by_contract = operations["decp_uid"].map(
        contracts.drop_duplicates("uid").set_index("uid")["acheteur_id"])
    buyers = set(contracts["acheteur_id"].dropna())
    owner = operations["maitre_ouvrage_siret"].astype("string")
    by_owner = owner.where(owner.isin(buyers))
    out = operations.assign(acheteur_id=by_contract.astype("string").fillna(by_owner),
                            lien=np.where(by_contract.notna(), "marché", "maître d'ouvrage"))
    return out.loc[out["acheteur_id"].notna()].reset_index(drop=True)


def inclusive(contracts: pd.DataFrame, suppliers: pd.DataFrame,
              structures: pd.DataFrame | None) -> pd.DataFrame:
    """The share of each buyer's awarded value going to inclusive suppliers, and its reserved
    contracts.

    A contract's amount (initial, else after modifications) is split evenly among its holders
    (the DECP give no share per co-contractor). A holder is inclusive when its SIRET is in the
    structures directory, else when its SIREN (first nine digits) is that of a structure: an
    establishment of the same company. Holders identified otherwise than by SIRET match nothing.

    Returns
    -------
    DataFrame
        One row per buyer: ``acheteur_id, montant_total, montant_siae, montant_ea_esat,
        part_siae, part_ea_esat, part_inclusive, marches_inclusifs, titulaires_inclusifs,
        marches_reserves``.
    """
    amount = awarded_amount(contracts)
    per_contract = pd.DataFrame({"uid": contracts["uid"], "acheteur_id": contracts["acheteur_id"],
                                 "montant": amount.to_numpy(),
                                 "reserve": contracts["marche_reserve"].astype("boolean")
                                 .fillna(False).astype(int).to_numpy()})
    holders = holder_awards(contracts, suppliers, structures).merge(
        per_contract[["uid", "acheteur_id"]], on="uid", how="inner")
    total = per_contract.groupby("acheteur_id").agg(montant_total=("montant", "sum"),
                                                    marches_reserves=("reserve", "sum"))
    table = total.copy()
    for fam_name in ("siae", "ea_esat"):
        rows = holders.loc[holders["famille"].eq(fam_name).fillna(False).astype(bool)]
        table[f"montant_{fam_name}"] = rows.groupby("acheteur_id")["part_montant"].sum() \
            .reindex(table.index).fillna(0.0)
    inclusive_rows = holders.loc[holders["famille"].notna()]
    table["marches_inclusifs"] = inclusive_rows.groupby("acheteur_id")["uid"].nunique() \
        .reindex(table.index).fillna(0).astype("int64")
    table["titulaires_inclusifs"] = inclusive_rows.groupby("acheteur_id")["titulaire_id"] \
        .nunique().reindex(table.index).fillna(0).astype("int64")
    positive = table["montant_total"].where(table["montant_total"] > 0)
    table["part_siae"] = table["montant_siae"] / positive
    table["part_ea_esat"] = table["montant_ea_esat"] / positive
    table["part_inclusive"] = (table["montant_siae"] + table["montant_ea_esat"]) / positive
    table["marches_reserves"] = table["marches_reserves"].astype("int64")
    return table.reset_index()[["acheteur_id", "montant_total", "montant_siae", "montant_ea_esat",
                                "part_siae", "part_ea_esat", "part_inclusive",
                                "marches_inclusifs", "titulaires_inclusifs",
                                "marches_reserves"]]


__all__ = ["directory", "yearly", "peers", "comparable", "breakdown", "climate",
           "operations_of_buyers", "inclusive", "CLIMATE_START", "SIAE_TYPES",
           "DISABILITY_TYPES"]
