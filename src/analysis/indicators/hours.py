"""Insertion hours and beneficiaries by year (``docs/indicators.md``, « Heures d'insertion »).

A work contract's hours are spread over the calendar years it spans, in proportion to its days in
each year; a beneficiary of a year is a participant with at least one work contract active that
year. Full-time equivalents use Alliance Villes Emploi's convention: 25 124 684 hours were 15 703
FTE in 2021, i.e. 1 600 hours a year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Hours in one full-time equivalent (Alliance Villes Emploi, 2021 figures).
FTE_HOURS = 1600.0
LOW_QUALIFICATION = ("sans_diplome", "niveau_3")
DAYS_PER_MONTH = 365.25 / 12


def prorate_by_year(work_contracts: pd.DataFrame) -> pd.DataFrame:
    """One row per (work contract, calendar year it is active), with the year's share of hours.

    Returns the contract's columns plus ``annee`` and ``heures_annee``.
    """
    wc = work_contracts.reset_index(drop=True)
    start = wc["date_debut"].dt.year.to_numpy()
    end = wc["date_fin"].dt.year.to_numpy()
    spans = (end - start + 1).clip(min=1)
    rows = np.repeat(np.arange(len(wc)), spans)
    offset = np.arange(len(rows)) - np.repeat(np.cumsum(spans) - spans, spans)
    years = start[rows] + offset
    out = wc.iloc[rows].reset_index(drop=True)
    out["annee"] = years.astype("int64")
    year_start = pd.to_datetime(pd.Series(years).astype(str) + "-01-01").to_numpy()
    year_end = pd.to_datetime(pd.Series(years + 1).astype(str) + "-01-01").to_numpy()
    lo = np.maximum(out["date_debut"].to_numpy("datetime64[ns]"), year_start)
    hi = np.minimum((out["date_fin"] + pd.Timedelta(days=1)).to_numpy("datetime64[ns]"), year_end)
    days_in_year = np.maximum((hi - lo) / np.timedelta64(1, "D"), 0)
    total_days = ((out["date_fin"] - out["date_debut"]).dt.days + 1).to_numpy(float)
    share = np.where(total_days > 0, days_in_year / total_days, 1.0)
    out["heures_annee"] = out["heures"].astype(float).to_numpy() * share
    return out


def yearly_summary(work_contracts: pd.DataFrame, participants: pd.DataFrame,
                   operations: pd.DataFrame) -> pd.DataFrame:
    """Hours, FTE, beneficiaries and their profile, by year.

    Returns
    -------
    DataFrame
        ``annee, heures, etp, beneficiaires, contrats_debutes, duree_moyenne_mois, part_femmes,
        part_qpv, part_jeunes_peu_qualifies, part_heures_grands_projets``. Shares of beneficiaries
        are computed over those whose attribute is known.
    """
    spread = prorate_by_year(work_contracts)
    spread = spread.merge(operations[["operation_id", "grand_projet"]], on="operation_id", how="left")
    by_year = spread.groupby("annee")
    table = pd.DataFrame({"heures": by_year["heures_annee"].sum()})
    table["etp"] = table["heures"] / FTE_HOURS
    big = spread[spread["grand_projet"].fillna(False).astype(bool)]
    table["part_heures_grands_projets"] = big.groupby("annee")["heures_annee"].sum() / table["heures"]
    people = spread[["annee", "participant_id"]].drop_duplicates().merge(
        participants, on="participant_id", how="left")
    grouped = people.groupby("annee")
    table["beneficiaires"] = grouped.size()
    table["part_femmes"] = grouped["sexe"].apply(lambda s: (s == "F").sum() / s.notna().sum())
    table["part_qpv"] = grouped["qpv"].apply(lambda s: s.astype("boolean").sum() / s.notna().sum())
    young = (people["tranche_age"] == "moins_de_26") & people["diplome"].isin(LOW_QUALIFICATION)
    known = people["tranche_age"].notna() & people["diplome"].notna() & (people["diplome"] != "inconnu")
    table["part_jeunes_peu_qualifies"] = (
        young[known].groupby(people.loc[known, "annee"]).sum()
        / known.groupby(people["annee"]).sum())
    started = work_contracts.assign(annee=work_contracts["date_debut"].dt.year)
    duration = ((started["date_fin"] - started["date_debut"]).dt.days + 1) / DAYS_PER_MONTH
    table["contrats_debutes"] = started.groupby("annee").size()
    table["duree_moyenne_mois"] = duration.groupby(started["annee"]).mean()
    table = table.fillna({"contrats_debutes": 0, "part_heures_grands_projets": 0.0})
    table["contrats_debutes"] = table["contrats_debutes"].astype("int64")
    table["beneficiaires"] = table["beneficiaires"].astype("int64")
    return table.reset_index()


def hours_by(work_contracts: pd.DataFrame, operations: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Realised hours, FTE, work contracts and beneficiaries by operation attributes and year.

    ``by`` names ``annee`` and/or columns of ``operations`` (``modalite``, ``secteur``,
    ``maitre_ouvrage``, ``departement``, ``grand_projet`` …); hours are spread over years as in
    :func:`prorate_by_year`. A missing attribute forms its own « non renseigné » group.

    Returns
    -------
    DataFrame
        ``by`` columns, ``heures, etp, contrats, beneficiaires``.
    """
    attributes = [c for c in by if c != "annee"]
    spread = prorate_by_year(work_contracts).merge(
        operations[["operation_id", *attributes]], on="operation_id", how="left")
    for column in attributes:
        spread[column] = spread[column].astype("string").fillna("non renseigné")
    grouped = spread.groupby(by)
    table = pd.DataFrame({"heures": grouped["heures_annee"].sum()})
    table["etp"] = table["heures"] / FTE_HOURS
    table["contrats"] = grouped.size()
    table["beneficiaires"] = grouped["participant_id"].nunique()
    return table.reset_index()


def realisation_rate(work_contracts: pd.DataFrame, operations: pd.DataFrame,
                     by: list[str]) -> pd.DataFrame:
    """Realised / planned hours of finished operations, by their attributes and end year.

    Population: operations with planned hours > 0 and an end date; realised hours are the sum of
    their (valid) work contracts' hours, whatever the year. ``annee`` in ``by`` is the operation's
    end year. The interval is the linearised one of a ratio of sums over operations.

    Returns
    -------
    DataFrame
        ``by`` columns, ``operations, heures_prevues, heures_realisees, taux_realisation,
        ic_bas, ic_haut``.
    """
    from ..stats import ratio_of_sums

    realised = work_contracts.groupby("operation_id")["heures"].sum().astype(float)
    ops = operations.assign(
        annee=operations["date_fin"].dt.year,
        heures_contrats=operations["operation_id"].map(realised).fillna(0.0),
        heures_prevues=operations["heures_prevues"].astype(float))
    ops = ops[(ops["heures_prevues"] > 0) & ops["annee"].notna()]
    for column in by:
        if column != "annee":
            ops[column] = ops[column].astype("string").fillna("non renseigné")
    rates = ratio_of_sums(ops, "heures_contrats", "heures_prevues", by)
    return pd.DataFrame({
        "operations": rates["lignes"], "heures_prevues": rates["denominateur"],
        "heures_realisees": rates["numerateur"], "taux_realisation": rates["ratio"],
        "ic_bas": rates["ic_bas"].clip(lower=0), "ic_haut": rates["ic_haut"],
    }).reset_index()
