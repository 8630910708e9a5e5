"""The EPT and EPCI level (issue 16, point 3): the département sheet's themes for every
intercommunal territory at once, by group-by on the commune.

A territory (:func:`analysis.reference.intercommunality`) is an établissement public territorial
(EPT) of the Métropole du Grand Paris, Paris (its own territory), or an EPCI of the outer ring.
Each indicator is one group-by over the warehouse, keyed by the territory's code:

- contracts by their **commune of execution** (DECP ``lieuExecution`` of type « Code commune »;
  a postal code may cover several communes of several territories and is not attributed);
- operations, work contracts and their people by the **commune of the operation** (tracking);
- beneficiaries living in the territory by their **commune of residence**, per 10 000
  inhabitants of the municipal population (:func:`analysis.reference.population` at the level
  ``"intercommunalite"``: Paris counts once, never again with its arrondissements).

The definitions are those of the reports: the share with a consideration and its buyer-clustered
interval (:func:`analysis.stats.clustered_share`, as the territorial reports'), hours of a period
prorated by days (:func:`analysis.scope.period_work_contracts`), the realisation rate of finished
operations (:func:`analysis.indicators.hours.realisation_rate`).
"""

from __future__ import annotations

import pandas as pd

from .. import reference
from ..stats import clustered_share
from .hours import realisation_rate

#: The code column of a territory in every table of this module.
KEY = "territoire"
#: Natures of territories.
EPT, PARIS, EPCI = "EPT", "Paris", "EPCI"


def commune_key(communes: pd.DataFrame) -> pd.Series:
    """INSEE code (communes and Paris arrondissements) -> the commune it counts in (an
    arrondissement counts in Paris, 75056)."""
    frame = communes.set_index(communes["code_insee"].astype(str))
    parent = frame["commune_parent"].astype("string")
    return frame.index.to_series().astype("string").where(frame["type"].ne("ARM"), parent)


def territory_of(communes: pd.DataFrame) -> pd.Series:
    """INSEE code (communes and arrondissements) -> intercommunal territory code."""
    codes = reference.intercommunality(communes)
    return pd.Series(codes.to_numpy(), index=communes["code_insee"].astype(str).to_numpy(),
                     name=KEY)


def territories(communes: pd.DataFrame) -> pd.DataFrame:
    """Every intercommunal territory of the reference: ``territoire, nom, nature (EPT, Paris,
    EPCI), departements (codes, comma separated), communes, population``, sorted by nature
    (EPT and Paris first) and name."""
    units = communes.loc[~reference.is_sub_unit(communes)].copy()
    units[KEY] = reference.intercommunality(units).to_numpy()
    has_ept = units["ept_code"].notna() if "ept_code" in units.columns else False
    units["nom_t"] = (units["ept_nom"].where(has_ept, units["epci_nom"])
                      if "ept_nom" in units.columns else units["epci_nom"])
    units["nature"] = EPCI
    units.loc[has_ept, "nature"] = EPT
    units.loc[units["code_insee"].astype(str).eq(reference.PARIS), "nature"] = PARIS
    grouped = units.groupby(KEY, sort=False)
    table = pd.DataFrame({
        "nom": grouped["nom_t"].first(), "nature": grouped["nature"].first(),
        "departements": grouped["departement"].agg(lambda s: ", ".join(sorted(set(map(str, s))))),
        "communes": grouped.size()})
    table["population"] = reference.population(communes, "intercommunalite").reindex(
        table.index).astype("int64")
    order = table["nature"].map({PARIS: 0, EPT: 1, EPCI: 2})
    table = table.assign(_o=order).sort_values(["_o", "nom"]).drop(columns="_o")
    table.index.name = KEY
    return table.reset_index()


def contract_commune(contracts: pd.DataFrame, communes: pd.DataFrame) -> pd.Series:
    """The commune of execution of each contract when the DECP give one (``lieuExecution`` of
    type « Code commune », known to the reference; an arrondissement counts in Paris), else
    missing."""
    kind = contracts["lieuExecution_typeCode"].astype("string").str.strip().str.lower()
    code = contracts["lieuExecution_code"].astype("string").str.strip()
    key = commune_key(communes)
    return code.where(kind.eq("code commune")).map(key).astype("string")


def shares_by_year(contracts: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """Share of contracts with at least one social consideration, by territory and year, with
    the buyer-clustered interval of the territorial reports.

    Returns
    -------
    DataFrame
        ``territoire, annee, contrats`` (known status), ``avec_consideration, part, ic_bas,
        ic_haut, acheteurs, statut_inconnu`` — one row per territory and year with at least one
        contract placed in it.
    """
    place = contract_commune(contracts, communes).map(territory_of(communes))
    frame = contracts.assign(**{KEY: place.to_numpy()}).dropna(subset=[KEY, "annee"])
    frame = frame.assign(annee=frame["annee"].astype("int64"),
                         _avec=frame["has_social_consideration"].astype("Float64"))
    known = clustered_share(frame.loc[frame["_avec"].notna()], "_avec", [KEY, "annee"])
    unknown = frame.loc[frame["_avec"].isna()].groupby([KEY, "annee"]).size()
    index = known.index.union(unknown.index)
    table = pd.DataFrame(index=index)
    table["contrats"] = known["total"].reindex(index).fillna(0).astype("int64")
    table["avec_consideration"] = known["effectif"].reindex(index).fillna(0).astype("int64")
    for column in ("part", "ic_bas", "ic_haut"):
        table[column] = known[column].reindex(index).astype(float)
    table["acheteurs"] = known["acheteurs"].reindex(index).fillna(0).astype("int64")
    table["statut_inconnu"] = unknown.reindex(index).fillna(0).astype("int64")
    table.index.names = [KEY, "annee"]
    return table.reset_index()


def placed_operations(operations: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """The operations with the territory of their commune (``territoire``; missing when the
    commune is unknown to the reference)."""
    key = operations["commune"].astype("string").map(commune_key(communes))
    return operations.assign(**{KEY: key.map(territory_of(communes)).astype("string")})


def hours_by_modality(operations: pd.DataFrame, period_contracts: pd.DataFrame,
                      work_contracts: pd.DataFrame, period) -> pd.DataFrame:
    """Hours of the period and their beneficiaries, and the realisation of the operations
    finished in the period (end date inside it), by territory and legal modality (and « all modalities »: ``None``).

    Parameters
    ----------
    operations
        :func:`placed_operations`.
    period_contracts
        The work contracts active in the period (:func:`analysis.scope.period_work_contracts`).
    work_contracts
        All work contracts (realised hours of finished operations, whatever the year).
    period
        The :class:`~analysis.periods.Period`.

    Returns
    -------
    DataFrame
        ``territoire, modalite`` (``None`` for the total), ``heures`` (period), ``beneficiaires``
        (distinct people of the period), ``operations_terminees, heures_prevues,
        heures_realisees, taux_realisation``.
    """
    ops = operations.dropna(subset=[KEY])
    lookup = ops.set_index("operation_id")[[KEY, "modalite"]]
    active = period_contracts.join(lookup, on="operation_id", how="inner")
    active["modalite"] = active["modalite"].astype("string").fillna("non renseigné")
    by = [KEY, "modalite"]
    detail = active.groupby(by).agg(heures=("heures_periode", "sum"),
                                    beneficiaires=("participant_id", "nunique"))
    total = active.groupby(KEY).agg(heures=("heures_periode", "sum"),
                                    beneficiaires=("participant_id", "nunique"))
    end = pd.to_datetime(ops["date_fin"])
    finished = ops.loc[(end >= pd.Timestamp(period.start)) & (end < pd.Timestamp(period.end))]
    rates = realisation_rate(work_contracts, finished, by).set_index(by)
    rates_total = realisation_rate(work_contracts, finished, [KEY]).set_index(KEY)
    detail = detail.join(rates[["operations", "heures_prevues", "heures_realisees"]], how="outer")
    total = total.join(rates_total[["operations", "heures_prevues", "heures_realisees"]],
                       how="outer")
    total["modalite"] = None
    table = pd.concat([detail.reset_index(), total.reset_index()], ignore_index=True)
    table = table.rename(columns={"operations": "operations_terminees"})
    for column in ("beneficiaires", "operations_terminees"):
        table[column] = table[column].fillna(0).astype("int64")
    for column in ("heures", "heures_prevues", "heures_realisees"):
        table[column] = table[column].fillna(0.0).astype(float)
    table["taux_realisation"] = table["heures_realisees"] / table["heures_prevues"].where(
        table["heures_prevues"] > 0)
    return table


def residents(people: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """Beneficiaries of the period living in each territory, those living in a QPV, and the
    rate per 10 000 inhabitants.

    Parameters
    ----------
    people
        One row per beneficiary of the period (``participant_id, commune_residence, qpv``).

    Returns
    -------
    DataFrame
        Every territory of the reference: ``territoire, population, residents, residents_qpv,
        pour_10000``.
    """
    people = people.drop_duplicates("participant_id")
    home = people["commune_residence"].astype("string").map(commune_key(communes)) \
        .map(territory_of(communes))
    qpv = people["qpv"].astype("boolean").fillna(False).astype(bool)
    grouped = pd.DataFrame({KEY: home.to_numpy(), "residents": 1,
                            "residents_qpv": qpv.astype("int64").to_numpy()}).dropna(subset=[KEY])
    counts = grouped.groupby(KEY)[["residents", "residents_qpv"]].sum()
    population = reference.population(communes, "intercommunalite")
    table = pd.DataFrame({"population": population})
    table[["residents", "residents_qpv"]] = counts.reindex(table.index).fillna(0).astype("int64")
    table["pour_10000"] = table["residents"] / table["population"].where(
        table["population"] > 0) * 1e4
    table.index.name = KEY
    return table.reset_index()


def coverage(contracts: pd.DataFrame, operations: pd.DataFrame | None,
             communes: pd.DataFrame) -> pd.DataFrame:
    """What each territory holds, to decide which gets a sheet: ``territoire, contrats`` (known
    status, every year), ``operations`` (followed by the facilitators, every year)."""
    place = contract_commune(contracts, communes).map(territory_of(communes))
    known = contracts["has_social_consideration"].notna().to_numpy()
    counts = pd.Series(place.to_numpy()[known]).value_counts()
    table = pd.DataFrame({"contrats": counts})
    if operations is not None and len(operations):
        table = table.join(operations[KEY].value_counts().rename("operations"), how="outer")
    else:
        table["operations"] = 0
    table = table.fillna(0).astype("int64")
    table.index.name = KEY
    return table.reset_index()


__all__ = ["KEY", "EPT", "PARIS", "EPCI", "territories", "territory_of", "commune_key",
           "contract_commune", "shares_by_year", "placed_operations", "hours_by_modality",
           "residents", "coverage"]
