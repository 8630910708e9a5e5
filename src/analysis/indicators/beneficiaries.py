"""Beneficiaries of a period: counts and profiles (``docs/indicators.md``, « Bénéficiaires »).

A beneficiary of a period is a participant with at least one work contract active in it (the
years given; contracts are spread over years with :func:`indicators.hours.prorate_by_year`).

* :func:`period_beneficiaries` — one row per beneficiary with the period's hours and contracts and
  the département of residence;
* :func:`profiles` — counts and shares by sex, age band, diploma, eligibility category, QPV,
  prescriber and département of residence, with Wilson intervals and the hours they worked;
* :func:`contract_mix` — the period's work contracts by contract type and employer type;
* :func:`rates` — beneficiaries per 10 000 inhabitants by département or commune of residence.

Every count of people is an explicit column (``beneficiaires``): the disclosure layer suppresses
small cells before anything is published. The reference communes are an argument (from
:func:`analysis.reference.commune_table`), so the functions stay pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import config, reference
from ..frames import isin
from ..stats import share, wilson_interval
from .hours import prorate_by_year

#: Participant attributes profiled, in the order tables show them.
PROFILE_VARIABLES = ("sexe", "tranche_age", "diplome", "public", "qpv", "prescripteur",
                     "departement_residence")
#: Values that say nothing: counted with the missing ones.
UNKNOWN_VALUES = {"diplome": ("inconnu",)}
#: Label of missing or unknown values.
UNKNOWN = "non renseigné"
#: Inhabitants per rate unit.
PER = 10_000



def _long(table: pd.DataFrame, variable: str) -> pd.DataFrame:
    """One variable's counts in long form: known values sorted, « non renseigné » last."""
    order = sorted(v for v in table.index if v != UNKNOWN) + \
        ([UNKNOWN] if UNKNOWN in table.index else [])
    table = table.reindex(order).rename_axis("modalite").reset_index()
    table.insert(0, "variable", variable)
    return table

def _years(first_year: int, last_year: int | None) -> tuple[int, int]:
    last_year = first_year if last_year is None else last_year
    if first_year > last_year:
        raise ValueError(f"première année {first_year} après la dernière {last_year}")
    return first_year, last_year


def period_contracts(work_contracts: pd.DataFrame, first_year: int,
                     last_year: int | None = None) -> pd.DataFrame:
    """Work contracts active in the period, one row each, with ``heures_periode``.

    ``heures_periode`` is the part of the contract's hours that falls in the period's years
    (prorated by days, as in indicator 2).
    """
    first_year, last_year = _years(first_year, last_year)
    wc = work_contracts.reset_index(drop=True).assign(_contrat=lambda f: np.arange(len(f)))
    spread = prorate_by_year(wc)
    spread = spread.loc[spread["annee"].between(first_year, last_year)]
    hours = spread.groupby("_contrat")["heures_annee"].sum()
    out = wc.loc[wc["_contrat"].isin(hours.index)].copy()
    out["heures_periode"] = hours.reindex(out["_contrat"]).to_numpy()
    return out.drop(columns="_contrat").reset_index(drop=True)


def residence_departement(participants: pd.DataFrame, communes: pd.DataFrame) -> pd.Series:
    """Département of each participant's commune of residence (missing when unknown)."""
    lookup = communes.set_index("code_insee")["departement"]
    return participants["commune_residence"].map(lookup).astype("string")


def period_beneficiaries(work_contracts: pd.DataFrame, participants: pd.DataFrame,
                         communes: pd.DataFrame, first_year: int,
                         last_year: int | None = None) -> pd.DataFrame:
    """One row per beneficiary of the period.

    Returns
    -------
    DataFrame
        The participant's columns plus ``contrats_periode`` (work contracts active in the period),
        ``heures_periode`` and ``departement_residence``.
    """
    active = period_contracts(work_contracts, first_year, last_year)
    per_person = active.groupby("participant_id").agg(
        contrats_periode=("heures_periode", "size"), heures_periode=("heures_periode", "sum"))
    people = participants.loc[isin(participants["participant_id"], per_person.index)].copy()
    people["contrats_periode"] = per_person["contrats_periode"].reindex(
        people["participant_id"]).to_numpy().astype("int64")
    people["heures_periode"] = per_person["heures_periode"].reindex(
        people["participant_id"]).to_numpy()
    people["departement_residence"] = residence_departement(people, communes)
    return people.reset_index(drop=True)


def _labels(values: pd.Series, variable: str) -> pd.Series:
    labels = values.astype("string")
    if variable == "qpv":
        labels = values.astype("boolean").map({True: "oui", False: "non"}).astype("string")
    labels = labels.mask(labels.isin(UNKNOWN_VALUES.get(variable, ())))
    return labels.fillna(UNKNOWN)


def profiles(work_contracts: pd.DataFrame, participants: pd.DataFrame, communes: pd.DataFrame,
             first_year: int, last_year: int | None = None,
             variables: Sequence[str] = PROFILE_VARIABLES) -> pd.DataFrame:
    """Beneficiaries of the period by attribute, with shares, intervals and hours.

    Returns
    -------
    DataFrame
        One row per (variable, value), a first row ``ensemble / Ensemble``: ``variable, modalite,
        beneficiaires, part, ic_bas, ic_haut, heures, part_heures``. ``part`` is over the
        beneficiaries whose attribute is known (the « non renseigné » row has no share);
        ``part_heures`` is the value's share of the hours worked in the period by those whose
        attribute is known. Values appear sorted, « non renseigné » last.
    """
    people = period_beneficiaries(work_contracts, participants, communes, first_year, last_year)
    rows = [pd.DataFrame({"variable": ["ensemble"], "modalite": ["Ensemble"],
                          "beneficiaires": [len(people)],
                          "heures": [float(people["heures_periode"].sum())]})]
    for variable in variables:
        labels = _labels(people[variable], variable)
        g = people["heures_periode"].groupby(labels)
        table = pd.DataFrame({"beneficiaires": g.size(), "heures": g.sum().astype(float)})
        rows.append(_long(table, variable))
    out = pd.concat(rows, ignore_index=True)
    known = out["modalite"].ne(UNKNOWN)
    sums = out.loc[known].groupby("variable")[["beneficiaires", "heures"]].sum()
    totals = pd.DataFrame({col: out["variable"].map(sums[col]) for col in sums.columns})
    out["part"] = share(out["beneficiaires"].where(known), totals["beneficiaires"])
    out["ic_bas"], out["ic_haut"] = wilson_interval(out["beneficiaires"].where(known, 0),
                                                    totals["beneficiaires"].fillna(0))
    out["part_heures"] = share(out["heures"].where(known), totals["heures"])
    out["beneficiaires"] = out["beneficiaires"].astype("int64")
    return out[["variable", "modalite", "beneficiaires", "part", "ic_bas", "ic_haut", "heures",
                "part_heures"]]


def contract_mix(work_contracts: pd.DataFrame, first_year: int,
                 last_year: int | None = None,
                 variables: Sequence[str] = ("type_contrat", "type_employeur")) -> pd.DataFrame:
    """The period's work contracts by contract type and employer type.

    Returns
    -------
    DataFrame
        ``variable, modalite, contrats, beneficiaires, heures, part_contrats, ic_bas, ic_haut``:
        work contracts active in the period, the distinct participants holding them, the
        period's hours, and the share of contracts over those whose value is known (Wilson).
    """
    active = period_contracts(work_contracts, first_year, last_year)
    rows = []
    for variable in variables:
        labels = _labels(active[variable], variable)
        g = active.groupby(labels)
        table = pd.DataFrame({"contrats": g.size(),
                              "beneficiaires": g["participant_id"].nunique(),
                              "heures": g["heures_periode"].sum().astype(float)})
        rows.append(_long(table, variable))
    out = pd.concat(rows, ignore_index=True)
    known = out["modalite"].ne(UNKNOWN)
    total = out["variable"].map(out.loc[known].groupby("variable")["contrats"].sum())
    out["part_contrats"] = share(out["contrats"].where(known), total)
    out["ic_bas"], out["ic_haut"] = wilson_interval(out["contrats"].where(known, 0),
                                                    total.fillna(0))
    out[["contrats", "beneficiaires"]] = out[["contrats", "beneficiaires"]].astype("int64")
    return out


def rates(work_contracts: pd.DataFrame, participants: pd.DataFrame, communes: pd.DataFrame,
          first_year: int, last_year: int | None = None,
          level: str = "departement") -> pd.DataFrame:
    """Beneficiaries of the period per 10 000 inhabitants, by place of residence.

    Parameters
    ----------
    communes
        The reference communes (``code_insee, nom, type, commune_parent, departement,
        population_municipale``).
    level
        ``"departement"`` or ``"commune"`` (Paris arrondissements are counted in Paris, 75056,
        whose population is the whole city's).

    Returns
    -------
    DataFrame
        Every département (or commune) of the reference, with zero when nobody lives there:
        ``code, nom, population, beneficiaires, taux_10000``. Beneficiaries whose commune is
        unknown are in no row (they are the « non renseigné » row of :func:`profiles`).
    """
    people = period_beneficiaries(work_contracts, participants, communes, first_year, last_year)
    ref = communes.copy()
    if level == "departement":
        counts = people["departement_residence"].value_counts()
        table = reference.population(ref, "departement").rename_axis("code").to_frame()
        table.insert(0, "nom", [config.DEPARTEMENTS.get(code, pd.NA) for code in table.index])
    elif level == "commune":
        parent = ref.set_index("code_insee")["commune_parent"]
        is_arm = ref.set_index("code_insee")["type"].eq("ARM")
        home = people["commune_residence"].astype("string")
        home = home.where(~home.map(is_arm).fillna(False).astype(bool), home.map(parent))
        counts = home.value_counts()
        table = reference.population(ref, "commune").rename_axis("code").to_frame()
        table.insert(0, "nom", table.index.map(ref.set_index("code_insee")["nom"]))
    else:
        raise ValueError(f"niveau inconnu : {level!r} (attendu : departement, commune)")
    table["beneficiaires"] = counts.reindex(table.index).fillna(0).astype("int64").to_numpy()
    table["population"] = table["population"].astype("int64")
    table["taux_10000"] = share(table["beneficiaires"], table["population"]) * PER
    return table.reset_index()[["code", "nom", "population", "beneficiaires", "taux_10000"]]
