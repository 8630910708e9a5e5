"""Clause progression: the share of contracts with at least one social consideration.

Definition (``docs/indicators.md``, « Progression des clauses sociales »):

* population: DECP *marchés* (not concessions) notified in the year, whose place of execution lies
  in the territory;
* numerator: contracts whose ``considerationsSociales`` holds a clause, a criterion or a
  reservation;
* denominator: contracts whose social status is known; contracts that say nothing usable are
  counted apart (``statut_inconnu``) and excluded from the rate;
* 95 % Wilson interval.
"""

from __future__ import annotations

import pandas as pd

from .. import config
from ..stats import share, wilson_interval

#: Column names of the published table, in French as reviewers read them.
COLUMNS_FR = {
    "annee": "Année",
    "contrats": "Marchés (statut connu)",
    "avec_consideration": "Avec considération sociale",
    "part": "Part",
    "ic_bas": "IC 95 % bas",
    "ic_haut": "IC 95 % haut",
    "clause_sociale": "Dont clause sociale",
    "critere_social": "Dont critère social",
    "marche_reserve": "Dont marché réservé",
    "statut_inconnu": "Statut inconnu (exclus)",
}


def in_territory(contracts: pd.DataFrame, territory: str) -> pd.DataFrame:
    """Contracts whose place of execution lies in ``territory`` (région code or département).

    For the région, a contract placed at the level of the région itself (``lieuExecution`` of type
    « Code région ») counts too; it is counted in no département.
    """
    departements = config.territory_departements(territory)
    mask = contracts["departement_execution"].isin(departements)
    if str(territory) == config.REGION_CODE:
        mask |= contracts["region_execution"].eq(config.REGION_CODE).fillna(False)
    return contracts.loc[mask.fillna(False).astype(bool)]


def share_by_year(contracts: pd.DataFrame, first_year: int, last_year: int,
                  target: float | None = None) -> pd.DataFrame:
    """Yearly share of contracts with at least one social consideration, with Wilson intervals.

    Parameters
    ----------
    contracts
        The ``contracts`` table, already restricted to a territory (see :func:`in_territory`).
    first_year, last_year
        The years shown; a year without contracts appears with zero counts and no rate.
    target
        If given, adds ``ecart_cible``: the rate minus the target (negative: behind the target).

    Returns
    -------
    DataFrame
        One row per year: ``annee, contrats, avec_consideration, part, ic_bas, ic_haut,
        clause_sociale, critere_social, marche_reserve, statut_inconnu`` (and ``ecart_cible``).
    """
    if first_year > last_year:
        raise ValueError(f"première année {first_year} après la dernière {last_year}")
    years = pd.Index(range(first_year, last_year + 1), name="annee")
    frame = contracts.loc[contracts["annee"].between(first_year, last_year)]
    known = frame["has_social_consideration"].notna()
    grouped = frame.loc[known].groupby("annee")
    table = pd.DataFrame(index=years)
    table["contrats"] = grouped.size()
    table["avec_consideration"] = grouped["has_social_consideration"].sum()
    for kind in ("clause_sociale", "critere_social", "marche_reserve"):
        table[kind] = grouped[kind].sum()
    table["statut_inconnu"] = frame.loc[~known].groupby("annee").size()
    counts = ["contrats", "avec_consideration", "clause_sociale", "critere_social",
              "marche_reserve", "statut_inconnu"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["part"] = share(table["avec_consideration"], table["contrats"])
    table["ic_bas"], table["ic_haut"] = wilson_interval(table["avec_consideration"],
                                                        table["contrats"])
    if target is not None:
        table["ecart_cible"] = table["part"] - target
    ordered = ["contrats", "avec_consideration", "part", "ic_bas", "ic_haut", "clause_sociale",
               "critere_social", "marche_reserve", "statut_inconnu"]
    if target is not None:
        ordered.append("ecart_cible")
    return table[ordered].reset_index()


def latest(table: pd.DataFrame) -> pd.Series | None:
    """The last year of a :func:`share_by_year` table that has a rate, or ``None``."""
    rated = table.dropna(subset=["part"])
    return None if rated.empty else rated.iloc[-1]
