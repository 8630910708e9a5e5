"""Grand Paris Express commitments (``docs/indicators.md``, « Grand Paris Express »).

The Société des grands projets asks its works contractors to give at least 5 % of works hours to
people in insertion (10 % for contracts notified from 1 October 2020) and at least 20 % of the
works value to SMEs. From the ``grand_paris`` table:

* :func:`contract_table` — per contract: insertion share of works hours, hours owed, whether the
  obligation is met, SME share and whether the 20 % target is met;
* :func:`insertion_summary` — by line and year (or any grouping): hours, insertion share of hours
  against the obligation, share of contracts meeting it (Wilson);
* :func:`sme_summary` — the same for the SME share.

Counts are contracts, not people: no small-cell rule applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..stats import share, wilson_interval

#: Target share of the works value entrusted to SMEs.
SME_TARGET = 0.20
#: Label of a missing line.
UNKNOWN_LINE = "non renseignée"
DEFAULT_BY = ("ligne", "annee")


def contract_table(grand_paris: pd.DataFrame) -> pd.DataFrame:
    """One row per Grand Paris contract with its insertion and SME measures.

    Returns
    -------
    DataFrame
        The table plus ``annee`` (year of notification), ``ligne`` (missing: « non renseignée »),
        ``heures_dues`` (``taux_obligation × heures_travail``), ``part_insertion``
        (``heures_insertion_realisees / heures_travail``), ``ecart_obligation``
        (``part_insertion − taux_obligation``), ``obligation_atteinte`` (nullable boolean:
        realised ≥ owed; missing when realised hours are unknown), ``part_pme``
        (``montant_pme / montant``, missing when either is missing or the amount is 0) and
        ``objectif_pme_atteint`` (``part_pme ≥ 20 %``, missing with it).
    """
    out = grand_paris.copy()
    out["annee"] = out["date_notification"].dt.year.astype("int64")
    out["ligne"] = out["ligne"].astype("string").fillna(UNKNOWN_LINE)
    works = out["heures_travail"].astype(float)
    realised = out["heures_insertion_realisees"].astype("Float64")
    out["heures_dues"] = out["taux_obligation"].astype(float) * works
    out["part_insertion"] = (realised / works).astype("Float64")
    out["ecart_obligation"] = out["part_insertion"] - out["taux_obligation"]
    # compare hours, not ratios, so that a contract exactly at its obligation counts as met
    out["obligation_atteinte"] = (realised >= out["heures_dues"] - 1e-9).astype("boolean")
    amount = out["montant"].astype("Float64")
    amount = amount.where(amount > 0)
    out["part_pme"] = (out["montant_pme"].astype("Float64") / amount).astype("Float64")
    out["objectif_pme_atteint"] = (out["part_pme"] >= SME_TARGET - 1e-12).astype("boolean")
    return out


def _grouped(frame: pd.DataFrame, by: Sequence[str]):
    if by:
        return frame.groupby(list(by), dropna=False)
    return frame.groupby(pd.Series("Ensemble", index=frame.index, name="ensemble"))


def _summarise(table: pd.DataFrame, known: pd.Series, by: Sequence[str], sums: list[str],
               met: tuple[str, str, str], unknown: str) -> pd.DataFrame:
    """Contracts and sums over the rows where ``known``, by group; the rest counted as ``unknown``.

    ``met`` = (flag column, name of its count, name of its share): the share of contracts meeting
    their target, with a Wilson interval (``ic_bas, ic_haut``).
    """
    flag, met_count, met_share = met
    g = _grouped(table.loc[known], by)
    out = pd.DataFrame({"marches": g.size(),
                        **{column: g[column].sum().astype(float) for column in sums},
                        met_count: g[flag].sum()})
    missing = _grouped(table.loc[~known], by).size()
    out = out.reindex(out.index.union(missing.index))
    out[unknown] = missing
    counts = ["marches", met_count, unknown]
    out[counts] = out[counts].fillna(0).astype("int64")
    out[met_share] = share(out[met_count], out["marches"])
    out["ic_bas"], out["ic_haut"] = wilson_interval(out[met_count], out["marches"])
    return out


def insertion_summary(grand_paris: pd.DataFrame, by: Sequence[str] = DEFAULT_BY) -> pd.DataFrame:
    """Insertion hours against the obligation, by line and year (or ``by``; ``()``: overall).

    Returns
    -------
    DataFrame
        The grouping columns, then ``marches`` (contracts), ``heures_travail``, ``heures_dues``,
        ``heures_insertion_realisees`` and ``taux_obligation_moyen`` (``heures_dues /
        heures_travail``), all over contracts whose realised hours are known; ``part_insertion``
        (realised / works hours), ``ecart_obligation`` (``part_insertion −
        taux_obligation_moyen``), ``marches_conformes`` (contracts meeting their obligation),
        ``part_conformes`` with ``ic_bas, ic_haut`` (Wilson), and ``realisation_inconnue``
        (contracts whose realised hours are unknown, excluded from everything else).
    """
    table = contract_table(grand_paris)
    out = _summarise(table, table["heures_insertion_realisees"].notna(), by,
                     ["heures_travail", "heures_dues", "heures_insertion_realisees"],
                     met=("obligation_atteinte", "marches_conformes", "part_conformes"),
                     unknown="realisation_inconnue")
    out["taux_obligation_moyen"] = share(out["heures_dues"], out["heures_travail"])
    out["part_insertion"] = share(out["heures_insertion_realisees"], out["heures_travail"])
    out["ecart_obligation"] = out["part_insertion"] - out["taux_obligation_moyen"]
    ordered = ["marches", "heures_travail", "heures_dues", "heures_insertion_realisees",
               "taux_obligation_moyen", "part_insertion", "ecart_obligation", "marches_conformes",
               "part_conformes", "ic_bas", "ic_haut", "realisation_inconnue"]
    return out[ordered].reset_index()


def sme_summary(grand_paris: pd.DataFrame, by: Sequence[str] = DEFAULT_BY) -> pd.DataFrame:
    """SME share of the works value against 20 %, by line and year (or ``by``).

    Returns
    -------
    DataFrame
        The grouping columns, then ``marches``, ``montant``, ``montant_pme`` (contracts whose
        amount is positive and SME amount known), ``part_pme`` (``montant_pme / montant`` of the
        group), ``ecart_objectif`` (``part_pme − 20 %``), ``marches_objectif_atteint``,
        ``part_marches_objectif`` with ``ic_bas, ic_haut`` (Wilson), and ``montant_inconnu``
        (contracts with no amount, a zero amount or no SME amount, excluded).
    """
    table = contract_table(grand_paris)
    out = _summarise(table, table["part_pme"].notna(), by, ["montant", "montant_pme"],
                     met=("objectif_pme_atteint", "marches_objectif_atteint",
                          "part_marches_objectif"),
                     unknown="montant_inconnu")
    out["part_pme"] = share(out["montant_pme"], out["montant"])
    out["ecart_objectif"] = out["part_pme"] - SME_TARGET
    ordered = ["marches", "montant", "montant_pme", "part_pme", "ecart_objectif",
               "marches_objectif_atteint", "part_marches_objectif", "ic_bas", "ic_haut",
               "montant_inconnu"]
    return out[ordered].reset_index()
