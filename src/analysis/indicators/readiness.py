"""Climat et résilience readiness (``docs/indicators.md``, « Préparation à la loi Climat et
résilience »).

From 22 August 2026, contracts above the EU thresholds must take social or employment
considerations into account in their execution conditions (loi n° 2021-1104, art. 35). This module
measures, for any notification period, the share of contracts above the thresholds that already
carry a social consideration, by buyer type, and names the buyers furthest behind:

* :func:`classify_thresholds` — each contract's kind (works, supplies and services), the threshold
  in force at its notification and whether it lies above it (unknown when it cannot be told);
* :func:`readiness` — the share by buyer type (and overall), with intervals clustered by buyer
  (:func:`analysis.stats.clustered_share`);
* :func:`exclusions` — what was left out of the population, and why;
* :func:`buyers_behind` — the buyers with the lowest share among those with enough contracts.

Counts are contracts, not people: no small-cell rule applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stats import clustered_share, share

#: Start of the obligation (consultations launched from this day; proxied by notification).
OBLIGATION_START = "2026-08-22"
#: Buyer category of the State (« pouvoirs adjudicateurs centraux »), as in the buyers directory.
STATE_CATEGORY = "Service de l'État"
#: CPV division of works.
WORKS_CPV_DIVISION = "45"
#: CCAG of works.
WORKS_CCAG = "Travaux"
#: Label of the overall row and of a missing buyer category.
OVERALL = "Ensemble"
UNKNOWN_CATEGORY = "non renseignée"


@dataclass(frozen=True)
class Thresholds:
    """EU thresholds (€ HT) in force for contracts notified between ``start`` and ``end``."""

    start: str
    end: str
    works: float
    services_state: float
    services_other: float


#: EU thresholds by notification period (domain.md §2; check against the Commission's delegated
#: regulations before relying on them). A contract notified outside every period has no threshold.
EU_THRESHOLDS: tuple[Thresholds, ...] = (
    Thresholds("2024-01-01", "2025-12-31", 5_538_000, 143_000, 221_000),
    Thresholds("2026-01-01", "2027-12-31", 5_404_000, 140_000, 216_000),
)

#: Column names of the published table, in French as reviewers read them.
COLUMNS_FR = {
    "acheteur_categorie": "Catégorie d'acheteur",
    "marches": "Marchés au-dessus des seuils (statut connu)",
    "avec_consideration": "Avec considération sociale",
    "part": "Part",
    "ic_bas": "IC 95 % bas",
    "ic_haut": "IC 95 % haut",
    "acheteurs": "Acheteurs",
    "clause_sociale": "Dont clause sociale (condition d'exécution)",
    "part_clause_sociale": "Part avec clause sociale",
    "statut_inconnu": "Statut inconnu (exclus)",
}


def classify_thresholds(contracts: pd.DataFrame,
                        thresholds: tuple[Thresholds, ...] = EU_THRESHOLDS) -> pd.DataFrame:
    """Add each contract's kind, threshold and position against it.

    Parameters
    ----------
    contracts
        The ``contracts`` table (``dateNotification``, ``montant_initial``, ``montant``,
        ``cpv_division``, ``ccag``, ``acheteur_categorie``).
    thresholds
        The thresholds by notification period.

    Returns
    -------
    DataFrame
        The contracts plus ``travaux`` (bool: CPV division 45 or CCAG « Travaux »),
        ``montant_reference`` (initial amount, else the amount after modifications), ``seuil_ue``
        (the contract's threshold: NaN when the period has no threshold, when the amount is
        unknown, or when a supplies/services contract's buyer category is unknown and its amount
        lies between the State's and the other buyers' thresholds) and ``au_dessus_seuil``
        (nullable boolean: amount ≥ threshold; missing when it cannot be told).
    """
    out = contracts.copy()
    if "acheteur_categorie" not in out:       # no buyers directory read: every category unknown
        out["acheteur_categorie"] = pd.Series(pd.NA, index=out.index, dtype="string")
    works = out["cpv_division"].eq(WORKS_CPV_DIVISION).fillna(False) | \
        out["ccag"].eq(WORKS_CCAG).fillna(False)
    out["travaux"] = works.astype(bool).to_numpy()
    amount = out["montant_initial"].astype("Float64").fillna(out["montant"].astype("Float64"))
    out["montant_reference"] = amount.astype(float)
    category = out["acheteur_categorie"].astype("string")
    state = category.eq(STATE_CATEGORY)
    works_t = pd.Series(np.nan, index=out.index)
    state_t = pd.Series(np.nan, index=out.index)
    other_t = pd.Series(np.nan, index=out.index)
    date = out["dateNotification"]
    for t in thresholds:
        inside = date.between(pd.Timestamp(t.start), pd.Timestamp(t.end)).fillna(False)
        works_t[inside] = t.works
        state_t[inside] = t.services_state
        other_t[inside] = t.services_other
    services_t = pd.Series(np.where(state.fillna(False), state_t, other_t), index=out.index)
    services_t[category.isna()] = np.nan
    threshold = pd.Series(np.where(out["travaux"], works_t, services_t), index=out.index)
    above = pd.Series(pd.NA, index=out.index, dtype="boolean")
    known = threshold.notna() & out["montant_reference"].notna()
    above[known] = (out.loc[known, "montant_reference"] >= threshold[known]).to_numpy()
    # unknown buyer category: decided when the amount is above both or below both thresholds
    undecided = (~out["travaux"]) & category.isna() & out["montant_reference"].notna() & \
        state_t.notna()
    amt = out["montant_reference"]
    above[undecided & (amt >= other_t).fillna(False)] = True
    above[undecided & (amt < state_t).fillna(False)] = False
    out["seuil_ue"] = threshold.astype(float)
    out["au_dessus_seuil"] = above
    return out


def _in_period(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    date = frame["dateNotification"]
    mask = date >= pd.Timestamp(start)
    if end is not None:
        mask &= date <= pd.Timestamp(end)
    return frame.loc[mask.fillna(False).astype(bool)]


def above_thresholds(contracts: pd.DataFrame, start=OBLIGATION_START, end=None,
                     thresholds: tuple[Thresholds, ...] = EU_THRESHOLDS) -> pd.DataFrame:
    """Contracts notified between ``start`` and ``end`` (inclusive; open-ended when ``None``)
    known to lie at or above their EU threshold."""
    frame = classify_thresholds(_in_period(contracts, start, end), thresholds)
    return frame.loc[frame["au_dessus_seuil"].fillna(False).astype(bool)]


def _rates(grouped, unknown) -> pd.DataFrame:
    table = pd.DataFrame({"marches": grouped.size(),
                          "avec_consideration": grouped["has_social_consideration"].sum(),
                          "clause_sociale": grouped["clause_sociale"].sum()})
    table["statut_inconnu"] = unknown
    return table


def _intervals(known: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Intervals of the share with a consideration, the buyers as clusters (one buyer per group:
    its contracts are the units, Wilson's interval)."""
    frame = known.assign(_with=known["has_social_consideration"].astype(float))
    return clustered_share(frame, "_with", by)[["ic_bas", "ic_haut", "acheteurs"]]


def _finish(table: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    counts = ["marches", "avec_consideration", "clause_sociale", "statut_inconnu"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["part"] = share(table["avec_consideration"], table["marches"])
    intervals = intervals.reindex(table.index)
    table["ic_bas"], table["ic_haut"] = intervals["ic_bas"], intervals["ic_haut"]
    table["acheteurs"] = intervals["acheteurs"].fillna(0).astype("int64")
    table["part_clause_sociale"] = share(table["clause_sociale"], table["marches"])
    return table


def readiness(contracts: pd.DataFrame, start=OBLIGATION_START, end=None,
              thresholds: tuple[Thresholds, ...] = EU_THRESHOLDS) -> pd.DataFrame:
    """Share of contracts above the EU thresholds with a social consideration, by buyer type.

    Parameters
    ----------
    contracts
        The ``contracts`` table (already restricted to a territory if wanted).
    start, end
        Notification period, inclusive (``end=None``: no end). The obligation's start is
        22 August 2026; a past period (e.g. 2025) gives the baseline.
    thresholds
        The EU thresholds by notification period.

    Returns
    -------
    DataFrame
        One row per buyer category (missing: « non renseignée »), then « Ensemble »:
        ``acheteur_categorie, marches, avec_consideration, part, ic_bas, ic_haut, acheteurs,
        clause_sociale, part_clause_sociale, statut_inconnu``. ``marches`` counts contracts above
        the thresholds whose social status is known; those with an unknown status are in
        ``statut_inconnu``. The interval treats the buyers as clusters; ``acheteurs`` counts them.
    """
    frame = above_thresholds(contracts, start, end, thresholds)
    frame = frame.assign(acheteur_categorie=frame["acheteur_categorie"].astype("string")
                         .fillna(UNKNOWN_CATEGORY))
    known = frame["has_social_consideration"].notna()
    by_type = _rates(frame.loc[known].groupby("acheteur_categorie"),
                     frame.loc[~known].groupby("acheteur_categorie").size())
    index = pd.Index(sorted(frame["acheteur_categorie"].unique()), name="acheteur_categorie")
    by_type = by_type.reindex(index)
    by_type.loc[OVERALL] = [int(known.sum()),
                            int(frame.loc[known, "has_social_consideration"].sum()),
                            int(frame.loc[known, "clause_sociale"].sum()),
                            int((~known).sum())]
    intervals = pd.concat([_intervals(frame.loc[known], ["acheteur_categorie"]),
                           _intervals(frame.loc[known], []).set_axis([OVERALL])])
    table = _finish(by_type, intervals)
    ordered = ["marches", "avec_consideration", "part", "ic_bas", "ic_haut", "acheteurs",
               "clause_sociale", "part_clause_sociale", "statut_inconnu"]
    return table[ordered].rename_axis("acheteur_categorie").reset_index()


def exclusions(contracts: pd.DataFrame, start=OBLIGATION_START, end=None,
               thresholds: tuple[Thresholds, ...] = EU_THRESHOLDS) -> pd.DataFrame:
    """Where the period's contracts went: one row per reason, with a count.

    Returns
    -------
    DataFrame
        ``motif, marches`` with the reasons ``notifies_periode`` (all contracts of the period),
        ``montant_inconnu``, ``periode_sans_seuil``, ``categorie_acheteur_indeterminee`` (supplies
        or services with no buyer category and an amount between the two thresholds),
        ``sous_seuil``, ``au_dessus_seuil``, and among the latter ``statut_inconnu``.
    """
    frame = classify_thresholds(_in_period(contracts, start, end), thresholds)
    no_amount = frame["montant_reference"].isna()
    above = frame["au_dessus_seuil"]
    undetermined = above.isna() & ~no_amount
    no_period = undetermined & frame["seuil_ue"].isna() & _no_period(frame, thresholds)
    category = undetermined & ~no_period
    kept = above.fillna(False).astype(bool)
    rows = {
        "notifies_periode": len(frame),
        "montant_inconnu": int(no_amount.sum()),
        "periode_sans_seuil": int(no_period.sum()),
        "categorie_acheteur_indeterminee": int(category.sum()),
        "sous_seuil": int((~above.fillna(True).astype(bool)).sum()),
        "au_dessus_seuil": int(kept.sum()),
        "statut_inconnu": int((kept & frame["has_social_consideration"].isna()).sum()),
    }
    return pd.DataFrame({"motif": list(rows), "marches": list(rows.values())})


def _no_period(frame: pd.DataFrame, thresholds) -> pd.Series:
    covered = pd.Series(False, index=frame.index)
    for t in thresholds:
        covered |= frame["dateNotification"].between(pd.Timestamp(t.start),
                                                     pd.Timestamp(t.end)).fillna(False)
    return ~covered


def buyers_behind(contracts: pd.DataFrame, start=OBLIGATION_START, end=None,
                  min_contracts: int = 10, n: int | None = 10,
                  thresholds: tuple[Thresholds, ...] = EU_THRESHOLDS) -> pd.DataFrame:
    """The buyers furthest behind: lowest share among buyers with enough contracts.

    Parameters
    ----------
    min_contracts
        A buyer is ranked only with at least this many contracts above the thresholds whose status
        is known.
    n
        How many buyers to return (``None``: all ranked buyers).

    Returns
    -------
    DataFrame
        ``rang, acheteur_id, acheteur_nom, acheteur_categorie, marches, avec_consideration, part,
        ic_bas, ic_haut`` (one buyer: its contracts are the units, Wilson), ``clause_sociale, part_clause_sociale, statut_inconnu``, ordered by share
        (lowest first), then by number of contracts (most first), then by buyer id. Ties share a
        rank (``min`` method).
    """
    frame = above_thresholds(contracts, start, end, thresholds)
    if "acheteur_nom" not in frame:
        frame = frame.assign(acheteur_nom=pd.Series(pd.NA, index=frame.index, dtype="string"))
    known = frame["has_social_consideration"].notna()
    table = _rates(frame.loc[known].groupby("acheteur_id"),
                   frame.loc[~known].groupby("acheteur_id").size())
    table = _finish(table.reindex(pd.Index(frame["acheteur_id"].unique(), name="acheteur_id")),
                    _intervals(frame.loc[known], ["acheteur_id"]))
    table = table.loc[table["marches"] >= min_contracts]
    names = frame.drop_duplicates("acheteur_id").set_index("acheteur_id")
    for col in ("acheteur_nom", "acheteur_categorie"):
        table[col] = names[col].reindex(table.index)
    table = table.rename_axis("acheteur_id").reset_index()
    table = table.sort_values(["part", "marches", "acheteur_id"],
                              ascending=[True, False, True]).reset_index(drop=True)
    table.insert(0, "rang", table["part"].rank(method="min").astype("int64"))
    if n is not None:
        table = table.head(n)
    return table[["rang", "acheteur_id", "acheteur_nom", "acheteur_categorie", "marches",
                  "avec_consideration", "part", "ic_bas", "ic_haut", "clause_sociale",
                  "part_clause_sociale", "statut_inconnu"]]
