"""Clause progression: the share of contracts with at least one social consideration.

Definition (``docs/indicators.md``, « Progression des clauses sociales »):

* population: DECP *marchés* (not concessions) notified in the year, whose place of execution lies
  in the territory;
* numerator: contracts whose ``considerationsSociales`` holds a clause, a criterion or a
  reservation;
* denominator: contracts whose social status is known; contracts that say nothing usable are
  counted apart (``statut_inconnu``) and excluded from the rate;
* 95 % interval with the buyers as clusters (:func:`analysis.stats.clustered_share`): contracts of
  one buyer are not independent draws.
"""

from __future__ import annotations

import pandas as pd

from .. import config
from ..stats import FEW_CLUSTERS, clustered_ratio, clustered_share, share, wilson_interval

#: Column names of the published table, in French as reviewers read them.
COLUMNS_FR = {
    "annee": "Année",
    "contrats": "Marchés (statut connu)",
    "avec_consideration": "Avec considération sociale",
    "part": "Part",
    "ic_bas": "IC 95 % bas",
    "ic_haut": "IC 95 % haut",
    "acheteurs": "Acheteurs",
    "deff": "Effet de grappe",
    "clause_sociale": "Dont clause sociale",
    "critere_social": "Dont critère social",
    "marche_reserve": "Dont marché réservé",
    "statut_inconnu": "Statut inconnu (exclus)",
}


#: The data-quality rule naming contracts published without a place of execution.
NO_PLACE_RULE = "lieu d'exécution absent"

#: The method sentence of the reports on those contracts (French, shown with the method notes).
NO_PLACE_METHOD_FR = (
    "- **Lieu d'exécution absent** : un marché publié sans lieu d'exécution (environ 1 % des "
    "marchés) est compté dans la région quand son acheteur y est établi (département de "
    "l'acheteur dans l'annuaire des acheteurs), dans aucun département ; sinon il n'est compté "
    "dans aucun territoire. Leur nombre est donné chaque année dans la partie « Qualité des "
    "données » (règle « lieu d'exécution absent »).")


def _flag(mask: pd.Series) -> pd.Series:
    return mask.fillna(False).astype(bool)


def without_place(contracts: pd.DataFrame) -> pd.Series:
    """Contracts published with no place of execution (rule « lieu d'exécution absent »).

    No ``lieuExecution`` code (missing or blank) and hence neither a département nor a région of
    execution. A place that is given but lies outside the région, or abroad, is not « absent ».
    """
    mask = (contracts["departement_execution"].isna()
            & contracts["region_execution"].isna())
    if "lieuExecution_code" in contracts.columns:
        code = contracts["lieuExecution_code"].astype("string").str.strip()
        mask &= code.isna() | code.eq("")
    return _flag(mask)


def buyer_in_region(contracts: pd.DataFrame) -> pd.Series:
    """Contracts whose buyer is established in the région (its département in the buyers
    directory, ``acheteur_departement``); False when the buyer or its département is unknown."""
    if "acheteur_departement" not in contracts.columns:
        return pd.Series(False, index=contracts.index)
    return _flag(contracts["acheteur_departement"].astype("string").isin(
        list(config.DEPARTEMENTS)))


def in_territory(contracts: pd.DataFrame, territory: str) -> pd.DataFrame:
    """Contracts whose place of execution lies in ``territory`` (région code or département).

    For the région, two kinds of contracts count too, in no département: a contract placed at the
    level of the région itself (``lieuExecution`` of type « Code région »), and a contract with no
    place of execution (:func:`without_place`) whose buyer is in the région
    (:func:`buyer_in_region`).
    """
    departements = config.territory_departements(territory)
    mask = _flag(contracts["departement_execution"].isin(departements))
    if str(territory) == config.REGION_CODE:
        mask |= _flag(contracts["region_execution"].eq(config.REGION_CODE))
        mask |= without_place(contracts) & buyer_in_region(contracts)
    return contracts.loc[mask]


def places_missing(contracts: pd.DataFrame, first_year: int, last_year: int) -> pd.DataFrame:
    """Contracts with no place of execution by notification year, and where they are counted.

    Returns
    -------
    DataFrame
        One row per year of ``first_year``–``last_year`` (zeros included): ``annee``, ``marches``
        (notified in the year), ``sans_lieu`` (rule « lieu d'exécution absent »),
        ``sans_lieu_statut_connu`` (those with a known social status, the ones a share uses),
        ``comptes_region`` (buyer in the région: counted in the région, in no département) and
        ``comptes_nulle_part`` (buyer outside the région or unknown: counted in no territory).
    """
    frame = contracts.loc[contracts["annee"].between(first_year, last_year)]
    missing = without_place(frame)
    region = missing & buyer_in_region(frame)
    known = frame["has_social_consideration"].notna()
    parts = pd.DataFrame({"annee": frame["annee"].astype("int64"), "marches": 1,
                          "sans_lieu": missing, "sans_lieu_statut_connu": missing & known,
                          "comptes_region": region, "comptes_nulle_part": missing & ~region})
    years = pd.Index(range(first_year, last_year + 1), name="annee")
    table = parts.groupby("annee").sum().reindex(years, fill_value=0).astype("int64")
    return table.reset_index()


def share_by_year(contracts: pd.DataFrame, first_year: int, last_year: int,
                  target: float | None = None) -> pd.DataFrame:
    """Yearly share of contracts with at least one social consideration, with buyer-clustered
    intervals (:func:`analysis.stats.clustered_share`).

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
        acheteurs, deff, clause_sociale, critere_social, marche_reserve, statut_inconnu`` (and
        ``ecart_cible``). ``acheteurs`` counts the buyers of the year's known-status contracts,
        ``deff`` is the design effect of the clustering by buyer.
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
    table = table.join(_clustered(frame.loc[known], ["annee"]))
    table["acheteurs"] = table["acheteurs"].fillna(0).astype("int64")
    if target is not None:
        table["ecart_cible"] = table["part"] - target
    ordered = ["contrats", "avec_consideration", "part", "ic_bas", "ic_haut", "acheteurs", "deff",
               "clause_sociale", "critere_social", "marche_reserve", "statut_inconnu"]
    if target is not None:
        ordered.append("ecart_cible")
    return table[ordered].reset_index()


def _clustered(known: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Buyer-clustered interval of the share with a consideration, by group (known status only)."""
    frame = known.assign(_with=known["has_social_consideration"].astype(float))
    if "acheteur_id" not in frame:
        raise KeyError("acheteur_id : la colonne de l'acheteur est nécessaire à l'intervalle")
    return clustered_share(frame, "_with", by)[["ic_bas", "ic_haut", "acheteurs", "deff"]]


def few_buyers_note(table: pd.DataFrame, label: str = "ligne") -> list[str]:
    """French notes for a table some of whose groups have fewer than ``FEW_CLUSTERS`` buyers.

    ``label`` names a row (« ligne », « année », « catégorie »), in the singular.
    """
    if "acheteurs" not in table:
        return []

    def rows(count: int) -> str:
        return f"{count} {label}{'s' if count > 1 else ''}"

    few = int(table["acheteurs"].between(2, FEW_CLUSTERS - 1).sum())
    one = int(table["acheteurs"].eq(1).sum())
    notes = []
    if few:
        notes.append(f"Moins de {FEW_CLUSTERS} acheteurs ({rows(few)}) : la variance entre "
                     "acheteurs est estimée sur peu d'acheteurs, l'intervalle (quantile de "
                     "Student) est large et approximatif.")
    if one:
        notes.append(f"Un seul acheteur ({rows(one)}) : l'intervalle porte sur les marchés de cet "
                     "acheteur (Wilson ; bootstrap de ses marchés pour la part en montant), non "
                     "sur une population d'acheteurs.")
    return notes


def territory_intervals(contracts: pd.DataFrame, codes: list[str]) -> tuple:
    """Buyer-clustered intervals of the share with a consideration for several territories at once.

    Parameters
    ----------
    contracts
        The région's contracts of the period (:func:`in_territory` with the région code).
    codes
        Territory codes (the région and départements), in the order wanted.

    Returns
    -------
    tuple of (lower, upper)
        Arrays aligned on ``codes`` (NaN for a territory without a known-status contract).
    """
    known = contracts.loc[contracts["has_social_consideration"].notna()]
    region = known.assign(_territoire=config.REGION_CODE)
    departements = known.loc[known["departement_execution"].isin(config.DEPARTEMENTS).fillna(False)
                             .astype(bool)]
    stacked = pd.concat([region, departements.assign(
        _territoire=departements["departement_execution"].astype(str))], ignore_index=True)
    table = _clustered(stacked, ["_territoire"]).reindex([str(c) for c in codes])
    return table["ic_bas"].to_numpy(), table["ic_haut"].to_numpy()


def latest(table: pd.DataFrame) -> pd.Series | None:
    """The last year of a :func:`share_by_year` table that has a rate, or ``None``."""
    rated = table.dropna(subset=["part"])
    return None if rated.empty else rated.iloc[-1]


def target_position(low: float, high: float, target: float) -> str:
    """Where an interval stands against a target: ``"au-dessus"`` when its lower bound is above,
    ``"en dessous"`` when its upper bound is below, ``"compatible"`` when it contains the target
    (the point estimate alone does not decide)."""
    if low > target:
        return "au-dessus"
    if high < target:
        return "en dessous"
    return "compatible"


def comparable_shares(contracts: pd.DataFrame, years) -> pd.DataFrame:
    """The share on the basis of the published national figures (OECP census), for several years.

    The census counts *marchés* of at least a floor amount (:func:`analysis.config.oecp_floor`:
    90 000 € HT until 2023, 40 000 € from 2024), all kinds of buyer. Here: the territory's
    *marchés* notified in each year whose amount at notification (initial amount, else the
    amount after modifications) is at least that year's floor and whose social status is known.

    Parameters
    ----------
    contracts
        The ``contracts`` table of a territory, every year (:func:`in_territory`).
    years
        The years of the national figures compared with.

    Returns
    -------
    DataFrame
        One row per year with at least one such contract: ``annee, plancher, contrats,
        avec_consideration, part, ic_bas, ic_haut, acheteurs, deff, montant_inconnu``
        (``montant_inconnu``: the year's known-status contracts left out because their amount is
        unknown). Intervals clustered by buyer.
    """
    years = sorted({int(y) for y in years})
    frame = contracts.loc[contracts["annee"].isin(years).fillna(False).astype(bool)
                          & contracts["has_social_consideration"].notna()]
    amount = frame["montant_initial"].astype("Float64").fillna(
        frame["montant"].astype("Float64")).astype(float)
    floor = frame["annee"].astype(int).map(config.oecp_floor).astype(float)
    kept = frame.loc[(amount >= floor).to_numpy()]
    columns = ["annee", "plancher", "contrats", "avec_consideration", "part", "ic_bas", "ic_haut",
               "acheteurs", "deff", "montant_inconnu"]
    if kept.empty:
        return pd.DataFrame(columns=columns)
    table = clustered_share(kept.assign(_with=kept["has_social_consideration"].astype(float),
                                        annee=kept["annee"].astype(int)), "_with", ["annee"])
    table = table.rename(columns={"total": "contrats", "effectif": "avec_consideration"})
    table["plancher"] = [config.oecp_floor(y) for y in table.index]
    table["montant_inconnu"] = amount.isna().groupby(frame["annee"].astype(int)).sum() \
        .reindex(table.index).fillna(0).astype("int64")
    return table.reset_index()[columns]


def comparable_share(contracts: pd.DataFrame, year: int) -> dict | None:
    """:func:`comparable_shares` for one year, as a dict (``None`` when no contract qualifies)."""
    table = comparable_shares(contracts, [year])
    return None if table.empty else table.iloc[0].to_dict()


#: The group of contracts whose breakdown value is missing.
UNKNOWN = "non renseigné"

#: Amount bands (€ HT) matching the procedure thresholds users reason with.
AMOUNT_BANDS = [(0, 40_000, "moins de 40 k€"), (40_000, 90_000, "40 à 90 k€"),
                (90_000, 221_000, "90 à 221 k€"), (221_000, 1_000_000, "221 k€ à 1 M€"),
                (1_000_000, 5_538_000, "1 à 5,5 M€"), (5_538_000, float("inf"), "5,5 M€ et plus")]


def amount_band(amounts: pd.Series) -> pd.Series:
    """The amount band of each contract (missing amount: missing band)."""
    labels = [label for _, _, label in AMOUNT_BANDS]
    edges = [low for low, _, _ in AMOUNT_BANDS] + [float("inf")]
    return pd.cut(amounts.astype(float), bins=edges, labels=labels, right=False).astype("string")


#: Breakdowns :func:`share_by` derives from the contracts (not warehouse columns).
DERIVED_BREAKDOWNS = ("tranche_montant",)


def check_breakdown(contracts: pd.DataFrame, by) -> list[str]:
    """The breakdown columns ``by`` as a list, each checked against ``contracts``.

    Parameters
    ----------
    contracts
        The ``contracts`` table (or a part of it).
    by
        A column name, or a sequence of them (empty: no breakdown). A column of the table or one
        of :data:`DERIVED_BREAKDOWNS`.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        In French, naming the unknown column and the columns a breakdown may use.
    """
    columns = [by] if isinstance(by, str) else list(by)
    allowed = [c for c in contracts.columns if not str(c).startswith("_")]
    allowed += [c for c in DERIVED_BREAKDOWNS if c not in allowed]
    for column in columns:
        if not isinstance(column, str) or column not in allowed:
            raise ValueError(
                f"colonne de ventilation inconnue : {column!r} ; colonnes possibles : "
                f"{', '.join(sorted(allowed))}")
    if len(set(columns)) != len(columns):
        raise ValueError(f"colonne de ventilation répétée : {columns!r}")
    return columns


def share_by(contracts: pd.DataFrame, by, amounts: bool = True,
             clustered: bool = True) -> pd.DataFrame:
    """Share of contracts with a social consideration by any breakdown, by number and by amount.

    The function behind every breakdown table of the reports (:mod:`analysis.sections.progression`)
    and behind :meth:`analysis.api.Warehouse.share`.

    Parameters
    ----------
    contracts
        The ``contracts`` table (already restricted to a territory and period). ``by`` may name any
        of its columns (``acheteur_id``, ``acheteur_categorie``, ``acheteur_departement``,
        ``cpv_division``, ``procedure``, ``annee`` …) or ``tranche_montant``, derived here.
    by
        Breakdown columns (a name or a list; empty: one row for all the contracts), checked by
        :func:`check_breakdown`.
    amounts
        Whether to compute the amount share (a bootstrap; skip it when only the number is shown).
    clustered
        Buyer-clustered intervals, as the reports publish them (default). ``False``: contracts
        taken as independent draws — Wilson's interval for the number (``deff`` 1) and a
        one-stage bootstrap of contracts for the amount; narrower, for comparison only.

    Returns
    -------
    DataFrame
        One row per group: ``contrats, avec_consideration, part, ic_bas, ic_haut, acheteurs,
        deff`` (by number, interval clustered by buyer: :func:`analysis.stats.clustered_share`,
        which is Wilson's interval for a group of a single buyer), ``montant, montant_avec,
        part_montant, ic_montant_bas, ic_montant_haut`` (by amount, over contracts with a known
        amount: ratio of sums, two-stage percentile bootstrap by buyer then contract,
        :func:`analysis.stats.clustered_ratio`), ``statut_inconnu``. A missing breakdown value
        forms its own « non renseigné » group. Breakdown values are text.

    Raises
    ------
    ValueError
        A breakdown column the contracts do not have (:func:`check_breakdown`).
    """
    by = check_breakdown(contracts, by)
    whole = not by
    if whole:
        by = ["_ensemble"]
        contracts = contracts.assign(_ensemble="ensemble")
    frame = contracts.copy()
    if "tranche_montant" in by:
        frame["tranche_montant"] = amount_band(frame["montant"])
    for column in by:
        frame[column] = frame[column].astype("string").fillna(UNKNOWN)
    known = frame["has_social_consideration"].notna()
    unknown = frame.loc[~known].groupby(by).size().rename("statut_inconnu")
    frame = frame.loc[known].assign(
        _with=frame.loc[known, "has_social_consideration"].astype(bool),
        _amount=frame.loc[known, "montant"].astype(float))
    frame["_amount_with"] = frame["_amount"].where(frame["_with"], 0.0)
    grouped = frame.groupby(by)
    table = pd.DataFrame({"contrats": grouped.size(), "avec_consideration": grouped["_with"].sum()})
    table["part"] = share(table["avec_consideration"], table["contrats"])
    if clustered:
        table = table.join(_clustered(frame, by))
    else:
        table["ic_bas"], table["ic_haut"] = wilson_interval(table["avec_consideration"],
                                                            table["contrats"])
        table["acheteurs"] = grouped["acheteur_id"].nunique()
        table["deff"] = 1.0
    if amounts:
        cluster = "acheteur_id"
        if not clustered:
            frame["_contrat"] = pd.RangeIndex(len(frame)).astype(str)
            cluster = "_contrat"
        by_amount = clustered_ratio(frame, "_amount_with", "_amount", by, cluster=cluster)
        table["montant"] = by_amount["denominateur"]
        table["montant_avec"] = by_amount["numerateur"]
        table["part_montant"] = by_amount["ratio"]
        table["ic_montant_bas"] = by_amount["ic_bas"]
        table["ic_montant_haut"] = by_amount["ic_haut"]
    table = table.join(unknown, how="outer")
    counts = ["contrats", "avec_consideration", "statut_inconnu", "acheteurs"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table = table.reset_index()
    return table.drop(columns=["_ensemble"]) if whole else table
