"""Beneficiary pathways (``docs/indicators.md``, « Parcours des bénéficiaires »).

A pathway is the sequence of a participant's work contracts, ordered by start date (then end
date). From the ``work_contracts`` table:

* :func:`participant_pathways` — per participant: work contracts, hours, distinct employer types,
  days under contract, span, first and last dates;
* :func:`transition_matrix` — transitions between the contract types of consecutive contracts,
  with counts and row shares (tidy; :func:`as_matrix` pivots it for display);
* :func:`common_pathways` — the most common sequences of contract types, truncated to the first
  four contracts.

Every count of people is an explicit column (``beneficiaires``): the disclosure layer suppresses
small cells before anything is published.
"""

from __future__ import annotations

import pandas as pd

from ..stats import share

#: Label of a missing contract type.
UNKNOWN = "non renseigné"
#: Separator of the steps of a pathway.
ARROW = " → "
#: Contracts of a pathway shown by :func:`common_pathways`.
MAX_STEPS = 4


def ordered_contracts(work_contracts: pd.DataFrame) -> pd.DataFrame:
    """Work contracts sorted by participant, start date, end date; ``etape`` numbers them from 1.

    A missing contract type becomes « non renseigné » (column ``type``).
    """
    out = work_contracts.sort_values(["participant_id", "date_debut", "date_fin"],
                                     kind="mergesort").reset_index(drop=True)
    out["type"] = out["type_contrat"].astype("string").fillna(UNKNOWN)
    out["etape"] = out.groupby("participant_id").cumcount() + 1
    return out


def participant_pathways(work_contracts: pd.DataFrame) -> pd.DataFrame:
    """One row per participant with a work contract.

    Returns
    -------
    DataFrame
        ``participant_id, contrats, heures, types_employeur`` (distinct known employer types),
        ``jours_sous_contrat`` (sum of each contract's days, end − start + 1: overlapping
        contracts count twice), ``duree_parcours_jours`` (first start to last end, inclusive),
        ``premiere_date`` (first start), ``derniere_date`` (last end), ``premier_type`` and
        ``dernier_type`` (contract types of the first and last contracts of the ordering).
    """
    wc = ordered_contracts(work_contracts)
    wc["_jours"] = (wc["date_fin"] - wc["date_debut"]).dt.days + 1
    g = wc.groupby("participant_id")
    out = pd.DataFrame({
        "contrats": g.size(),
        "heures": g["heures"].sum().astype(float),
        "types_employeur": g["type_employeur"].nunique(dropna=True),
        "jours_sous_contrat": g["_jours"].sum(),
        "premiere_date": g["date_debut"].min(),
        "derniere_date": g["date_fin"].max(),
        "premier_type": g["type"].first(),
        "dernier_type": g["type"].last(),
    })
    out["duree_parcours_jours"] = (out["derniere_date"] - out["premiere_date"]).dt.days + 1
    out = out.astype({"contrats": "int64", "types_employeur": "int64",
                      "jours_sous_contrat": "int64", "duree_parcours_jours": "int64"})
    return out.reset_index()[["participant_id", "contrats", "heures", "types_employeur",
                              "jours_sous_contrat", "duree_parcours_jours", "premiere_date",
                              "derniere_date", "premier_type", "dernier_type"]]


def transition_matrix(work_contracts: pd.DataFrame) -> pd.DataFrame:
    """Transitions between the contract types of a participant's consecutive contracts.

    Returns
    -------
    DataFrame
        One row per observed (from, to) pair: ``type_depart, type_arrivee, transitions``
        (consecutive pairs), ``beneficiaires`` (distinct participants making it), ``part_ligne``
        (transitions / all transitions from ``type_depart``). Sorted by origin then destination.
    """
    wc = ordered_contracts(work_contracts)
    nxt = wc.groupby("participant_id")["type"].shift(-1)
    pairs = pd.DataFrame({"participant_id": wc["participant_id"], "type_depart": wc["type"],
                          "type_arrivee": nxt}).dropna(subset=["type_arrivee"])
    g = pairs.groupby(["type_depart", "type_arrivee"])
    out = pd.DataFrame({"transitions": g.size(),
                        "beneficiaires": g["participant_id"].nunique()}).reset_index()
    row_total = out.groupby("type_depart")["transitions"].transform("sum")
    out["part_ligne"] = share(out["transitions"], row_total)
    out[["transitions", "beneficiaires"]] = out[["transitions", "beneficiaires"]].astype("int64")
    return out.sort_values(["type_depart", "type_arrivee"]).reset_index(drop=True)


def as_matrix(transitions: pd.DataFrame, values: str = "transitions") -> pd.DataFrame:
    """Pivot :func:`transition_matrix` to origin × destination (0 where no transition).

    Display only: suppress small cells on the tidy table first.
    """
    fill = 0 if values in ("transitions", "beneficiaires") else 0.0
    return transitions.pivot(index="type_depart", columns="type_arrivee",
                             values=values).fillna(fill)


def common_pathways(work_contracts: pd.DataFrame, max_steps: int = MAX_STEPS,
                    n: int | None = None) -> pd.DataFrame:
    """The most common sequences of contract types.

    Parameters
    ----------
    max_steps
        A pathway is truncated to its first ``max_steps`` contracts (default 4).
    n
        How many pathways to return (``None``: all).

    Returns
    -------
    DataFrame
        ``parcours`` (types joined with « → »), ``etapes`` (contracts shown), ``beneficiaires``
        (participants whose truncated pathway it is), ``dont_tronques`` (of them, with more than
        ``max_steps`` contracts), ``part`` (of all participants with a work contract). Sorted by
        count (most first), then pathway.
    """
    if max_steps < 1:
        raise ValueError("max_steps doit valoir au moins 1")
    wc = ordered_contracts(work_contracts)
    shown = wc.loc[wc["etape"] <= max_steps]
    per_person = pd.DataFrame({
        "parcours": shown.groupby("participant_id")["type"].agg(ARROW.join),
        "etapes": shown.groupby("participant_id").size(),
        "tronque": wc.groupby("participant_id").size() > max_steps,
    })
    g = per_person.groupby(["parcours", "etapes"])
    out = pd.DataFrame({"beneficiaires": g.size(),
                        "dont_tronques": g["tronque"].sum()}).reset_index()
    out[["beneficiaires", "dont_tronques"]] = out[["beneficiaires", "dont_tronques"]].astype(
        "int64")
    out["part"] = out["beneficiaires"] / len(per_person)
    out = out.sort_values(["beneficiaires", "parcours"], ascending=[False, True])
    out = out.reset_index(drop=True)
    return out if n is None else out.head(n)
