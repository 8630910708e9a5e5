"""Large-project owners (*maîtres d'ouvrage de grands projets*, issue 16 point 2): every indicator
of the owner sheets, computed for all owners at once by group-by (``docs/indicators.md`` § 13).

An owner is found in two sources:

* the ``grand_paris`` table (the Grand Paris Express works contracts): the owner is the buyer of
  the DECP contract its ``decp_uid`` names when the warehouse holds it, else the SIRET that opens
  the uid (a DECP uid is the buyer's SIRET followed by the contract id), else
  :data:`analysis.config.GRAND_PARIS_OWNER`;
* the tracking operations flagged ``grand_projet``: the owner is ``maitre_ouvrage_siret``
  (``maitre_ouvrage`` its name).

An owner is keyed by its SIRET (:func:`owner_key`); one whose data carry no valid SIRET is keyed by
a stable slug of its name, ``mo-<name in ASCII lower case, words joined by dashes>``.

Indicators (each one group-by over the owners):

* :func:`obligation` / :func:`sme` — the Grand Paris measures of :mod:`.grand_paris` by owner (and
  line, lot, year …), with a bootstrap interval on the insertion share of hours clustered by
  contract holder (:func:`insertion_share_interval`);
* :func:`missed_contracts` — the contracts below their obligation;
* :func:`operation_table`, :func:`operation_summary` — the tracking operations: hours planned
  (the clause's commitment) against hours realised (their work contracts), with the share of
  operations meeting it (Wilson) and a bootstrap interval on the realisation rate, operations as
  clusters;
* :func:`yearly_beneficiaries` — the OGPF's yearly figures: beneficiaries, women (by people and by
  hours), QPV residents, under-26 without qualification, hours, contracts started and their mean
  length; Wilson intervals on the shares of people (independent units), a bootstrap over people
  on the women's share of hours;
* :func:`contract_types`, :func:`outcomes` — work contracts by type, situation six months after
  the last contract (:func:`analysis.indicators.employment.situation_distribution`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import config
from ..stats import clustered_ratio, clustered_share, share, wilson_interval
from . import grand_paris as gp_ind
from .employment import DAYS_PER_MONTH, situation_distribution
from .hours import LOW_QUALIFICATION, prorate_by_year

#: The owner's key column in every table of this module.
OWNER = "maitre_ouvrage_id"
OWNER_NAME = "maitre_ouvrage_nom"
#: A participant's pseudonym is unique within its coordination only.
PERSON = ["coordination", "participant_id"]
_SIRET = re.compile(r"^\d{14}$")


def slug(name: str) -> str:
    """``mo-`` and the name in ASCII lower case, runs of other characters as one dash."""
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return f"mo-{words or 'inconnu'}"


def owner_key(siret, name) -> str:
    """The owner's SIRET when it is one (14 digits), else :func:`slug` of its name."""
    text = "" if pd.isna(siret) else str(siret).strip()
    return text if _SIRET.match(text) else slug("" if pd.isna(name) else name)


def _keys(sirets: pd.Series, names: pd.Series) -> pd.Series:
    """:func:`owner_key` of every row, computed once per distinct (SIRET, name)."""
    pairs = pd.DataFrame({"s": sirets.astype("string").to_numpy(),
                          "n": names.astype("string").to_numpy()})
    distinct = pairs.drop_duplicates()
    keys = {(s, n): owner_key(s, n) for s, n in distinct.itertuples(index=False)}
    return pd.Series([keys[(s, n)] for s, n in pairs.itertuples(index=False)],
                     index=sirets.index, dtype="string")


def large_operations(operations: pd.DataFrame) -> pd.DataFrame:
    """The operations flagged ``grand_projet``, with :data:`OWNER` and :data:`OWNER_NAME`."""
    ops = operations.loc[operations["grand_projet"].fillna(False).astype(bool)].copy()
    ops[OWNER] = _keys(ops["maitre_ouvrage_siret"], ops["maitre_ouvrage"])
    ops[OWNER_NAME] = ops["maitre_ouvrage"].astype("string")
    return ops.reset_index(drop=True)


def grand_paris_owners(grand_paris: pd.DataFrame, contracts: pd.DataFrame | None = None,
                       operations: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``grand_paris`` table with its owner (:data:`OWNER`, :data:`OWNER_NAME`).

    The owner is the buyer of the DECP contract named by ``decp_uid`` when ``contracts`` holds it,
    else the 14 digits that open the uid, else :data:`analysis.config.GRAND_PARIS_OWNER`. The
    name is the DECP buyer's, else the one the operations give that SIRET, else
    :data:`~analysis.config.GRAND_PARIS_OWNER`.
    """
    out = grand_paris.copy()
    uid = out["decp_uid"].astype("string")
    siret = pd.Series(pd.NA, index=out.index, dtype="string")
    name = pd.Series(pd.NA, index=out.index, dtype="string")
    if contracts is not None and len(contracts):
        buyers = contracts.drop_duplicates("uid").set_index("uid")
        siret = uid.map(buyers["acheteur_id"].astype("string")).astype("string")
        name = uid.map(buyers["acheteur_nom"].astype("string")).astype("string")
    prefix = uid.str.extract(r"^(\d{14})_", expand=False).astype("string")
    siret = siret.fillna(prefix)
    if operations is not None and len(operations):
        named = operations.dropna(subset=["maitre_ouvrage_siret"]).drop_duplicates(
            "maitre_ouvrage_siret").set_index("maitre_ouvrage_siret")["maitre_ouvrage"]
        name = name.fillna(siret.map(named.astype("string")).astype("string"))
    name = name.fillna(config.GRAND_PARIS_OWNER)
    out[OWNER] = _keys(siret, name)
    out[OWNER_NAME] = name
    return out


def directory(large_ops: pd.DataFrame, grand_paris: pd.DataFrame) -> pd.DataFrame:
    """One row per owner: ``maitre_ouvrage_id, maitre_ouvrage_nom, siret`` (None for a slug),
    ``operations`` (large-project operations), ``marches_grand_paris``; sorted by name."""
    ops = large_ops.groupby(OWNER).agg(nom_op=(OWNER_NAME, "first"),
                                       operations=("operation_id", "size"))
    gp = grand_paris.groupby(OWNER).agg(nom_gp=(OWNER_NAME, "first"),
                                        marches_grand_paris=("decp_uid", "size"))
    out = ops.join(gp, how="outer")
    out[OWNER_NAME] = out["nom_op"].fillna(out["nom_gp"]).astype("string")
    out[["operations", "marches_grand_paris"]] = out[["operations", "marches_grand_paris"]] \
        .fillna(0).astype("int64")
    out = out.rename_axis(OWNER).reset_index()
    out["siret"] = [k if _SIRET.match(str(k)) else None for k in out[OWNER]]
    return out.sort_values([OWNER_NAME, OWNER], ignore_index=True)[
        [OWNER, OWNER_NAME, "siret", "operations", "marches_grand_paris"]]


# --- Grand Paris contracts: obligation and SMEs --------------------------------------------------


def obligation(grand_paris: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`analysis.indicators.grand_paris.insertion_summary` by owner and ``by``, with
    ``part_ic_bas, part_ic_haut``: the interval of the insertion share of hours
    (:func:`insertion_share_interval`)."""
    keys = [OWNER, *by]
    out = gp_ind.insertion_summary(grand_paris, by=keys)
    interval = insertion_share_interval(grand_paris, by)
    return out.merge(interval, on=keys, how="left")


def insertion_share_interval(grand_paris: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Σ realised / Σ works hours by owner and ``by``, with the two-stage bootstrap interval of
    :func:`analysis.stats.clustered_ratio`, contract holders as clusters (the contracts of one
    holder share its hiring practice); contracts of unknown realised hours are left out, as in
    :func:`~analysis.indicators.grand_paris.insertion_summary`."""
    keys = [OWNER, *by]
    table = gp_ind.contract_table(grand_paris)
    table["titulaire"] = table["titulaire_siret"].astype("string").fillna(
        "marché:" + table["decp_uid"].astype("string"))
    ratio = clustered_ratio(table, "heures_insertion_realisees", "heures_travail", by=keys,
                            cluster="titulaire")
    ratio = ratio.rename(columns={"ic_bas": "part_ic_bas", "ic_haut": "part_ic_haut"})
    return ratio[["part_ic_bas", "part_ic_haut"]].reset_index().set_axis(
        [*keys, "part_ic_bas", "part_ic_haut"], axis=1)


def sme(grand_paris: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`analysis.indicators.grand_paris.sme_summary` by owner and ``by``."""
    return gp_ind.sme_summary(grand_paris, by=[OWNER, *by])


def missed_contracts(grand_paris: pd.DataFrame) -> pd.DataFrame:
    """The contracts whose realised hours are known and below their obligation (every owner),
    sorted by owner, line, notification date and uid: :func:`.grand_paris.contract_table`'s
    columns."""
    table = gp_ind.contract_table(grand_paris)
    missed = table.loc[table["obligation_atteinte"].eq(False).fillna(False)]
    return missed.sort_values([OWNER, "ligne", "date_notification", "decp_uid"],
                              ignore_index=True)


# --- Tracking operations: planned against realised hours -----------------------------------------


def owner_work_contracts(large_ops: pd.DataFrame, work_contracts: pd.DataFrame) -> pd.DataFrame:
    """The work contracts of the large-project operations, with their operation's owner and
    legal modality."""
    info = large_ops.set_index("operation_id")[[OWNER, "modalite"]]
    wc = work_contracts.loc[work_contracts["operation_id"].isin(info.index)].copy()
    wc[OWNER] = wc["operation_id"].map(info[OWNER]).astype("string")
    wc["modalite_operation"] = wc["operation_id"].map(info["modalite"]).astype("string")
    return wc.reset_index(drop=True)


def operation_table(large_ops: pd.DataFrame, owner_wc: pd.DataFrame) -> pd.DataFrame:
    """One row per large-project operation: ``annee`` (year of ``date_debut``), ``heures_prevues``
    (the clause's commitment), ``heures_suivies`` (Σ hours of its work contracts; 0 without any),
    ``atteinte`` (followed ≥ planned; missing when nothing is planned)."""
    ops = large_ops.copy()
    realised = owner_wc.groupby("operation_id")["heures"].sum().astype(float)
    ops["heures_suivies"] = ops["operation_id"].map(realised).fillna(0.0).astype(float)
    ops["annee"] = ops["date_debut"].dt.year.astype("Int64")
    planned = ops["heures_prevues"].astype("Float64")
    ops["atteinte"] = (ops["heures_suivies"] >= planned - 1e-9).astype("boolean").where(
        planned > 0)
    return ops


def operation_summary(table: pd.DataFrame, by: Sequence[str] = ("annee",)) -> pd.DataFrame:
    """Operations by owner and ``by``: ``operations, heures_prevues, heures_suivies,
    taux_realisation`` (Σ followed / Σ planned, operations with planned hours) with
    ``taux_ic_bas, taux_ic_haut`` (bootstrap, operations as clusters), ``atteintes`` (operations
    meeting their planned hours), ``part_atteintes`` with Wilson ``ic_bas, ic_haut``."""
    keys = [OWNER, *by]
    rows = table.dropna(subset=list(by)) if by else table
    g = rows.groupby(keys, sort=True)
    out = pd.DataFrame({"operations": g.size(),
                        "heures_prevues": g["heures_prevues"].sum().astype(float),
                        "heures_suivies": g["heures_suivies"].sum().astype(float)})
    planned = rows.loc[rows["heures_prevues"].astype(float) > 0]
    flags = planned.groupby(keys, sort=True)["atteinte"]
    out["avec_prevision"] = flags.size().reindex(out.index).fillna(0).astype("int64")
    out["atteintes"] = flags.sum().reindex(out.index).fillna(0).astype("int64")
    out["part_atteintes"] = share(out["atteintes"], out["avec_prevision"])
    out["ic_bas"], out["ic_haut"] = wilson_interval(out["atteintes"], out["avec_prevision"])
    ratio = clustered_ratio(planned, "heures_suivies", "heures_prevues", by=keys,
                            cluster="operation_id")
    out["taux_realisation"] = ratio["ratio"].reindex(out.index)
    out["taux_ic_bas"] = ratio["ic_bas"].reindex(out.index)
    out["taux_ic_haut"] = ratio["ic_haut"].reindex(out.index)
    return out.reset_index()


# --- Beneficiaries: the OGPF's yearly figures ----------------------------------------------------


def _young_low(people: pd.DataFrame) -> pd.Series:
    """Under 26 at entry with no diploma or a level-3 one (as ``sections.beneficiaries.people``);
    missing when the age or the diploma is unknown."""
    young = people["tranche_age"].eq("moins_de_26") & people["diplome"].isin(LOW_QUALIFICATION)
    known = (people["tranche_age"].notna() & people["diplome"].notna()
             & people["diplome"].ne("inconnu"))
    return young.astype("boolean").where(known)


def owner_people_years(owner_wc: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """One row per (owner, calendar year, person) with a work contract active in the year on the
    owner's large projects: the year's hours (contracts prorated by days, as in indicator 2) and
    the person's ``sexe``, ``qpv`` and ``jeune_peu_qualifie``."""
    spread = prorate_by_year(owner_wc)
    hours = spread.groupby([OWNER, "annee", *PERSON], sort=True)["heures_annee"].sum()
    out = hours.rename("heures").reset_index()
    people = participants.drop_duplicates(PERSON)[[*PERSON, "sexe", "qpv", "tranche_age",
                                                   "diplome"]].copy()
    people["jeune_peu_qualifie"] = _young_low(people)
    out = out.merge(people, on=PERSON, how="left", validate="many_to_one")
    out["personne"] = out["coordination"].astype(str) + ":" + out["participant_id"].astype(str)
    return out


def yearly_beneficiaries(owner_wc: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """The OGPF's yearly figures, by owner and calendar year.

    Returns
    -------
    DataFrame
        ``maitre_ouvrage_id, annee, beneficiaires, femmes, part_femmes`` (over the people whose sex
        is known) with Wilson ``femmes_ic_bas, femmes_ic_haut``; ``heures`` (the year's hours),
        ``part_heures_femmes`` (women's hours / hours of people whose sex is known) with a
        bootstrap interval over people ``heures_femmes_ic_bas, heures_femmes_ic_haut``;
        ``residents_qpv, part_qpv, qpv_ic_bas, qpv_ic_haut``; ``jeunes_peu_qualifies,
        part_jeunes, jeunes_ic_bas, jeunes_ic_haut``; ``contrats_debutes`` (work contracts
        starting in the year) and ``duree_moyenne_mois`` (their mean length, (end − start +
        1 day) / 30.44 days); ``<count>_inconnus``: the people whose attribute is unknown,
        outside the share's denominator.
    """
    rows = owner_people_years(owner_wc, participants)
    keys = [OWNER, "annee"]
    woman = rows["sexe"].eq("F").astype("boolean").where(rows["sexe"].isin(["F", "H"]))
    rows["_f"] = woman.astype("Float64")
    rows["_q"] = rows["qpv"].astype("Float64")
    rows["_j"] = rows["jeune_peu_qualifie"].astype("Float64")
    g = rows.groupby(keys, sort=True)
    out = pd.DataFrame({"beneficiaires": g.size(), "heures": g["heures"].sum().astype(float)})
    for flag, count, part, low, high in (("_f", "femmes", "part_femmes", "femmes_ic_bas",
                                          "femmes_ic_haut"),
                                         ("_q", "residents_qpv", "part_qpv", "qpv_ic_bas",
                                          "qpv_ic_haut"),
                                         ("_j", "jeunes_peu_qualifies", "part_jeunes",
                                          "jeunes_ic_bas", "jeunes_ic_haut")):
        known = g[flag].count().astype("int64")
        out[count] = g[flag].sum().round().astype("int64")
        out[f"{count}_inconnus"] = out["beneficiaires"] - known
        out[part] = share(out[count], known)
        out[low], out[high] = wilson_interval(out[count], known)
    sexed = rows.loc[woman.notna()].assign(
        heures_femmes=lambda f: f["heures"].where(f["_f"] == 1, 0.0).astype(float))
    ratio = clustered_ratio(sexed, "heures_femmes", "heures", by=keys, cluster="personne")
    out["part_heures_femmes"] = ratio["ratio"].reindex(out.index)
    out["heures_femmes_ic_bas"] = ratio["ic_bas"].reindex(out.index)
    out["heures_femmes_ic_haut"] = ratio["ic_haut"].reindex(out.index)
    started = owner_wc.assign(annee=owner_wc["date_debut"].dt.year,
                              _mois=((owner_wc["date_fin"] - owner_wc["date_debut"]).dt.days + 1)
                              / DAYS_PER_MONTH)
    s = started.groupby(keys, sort=True)
    out["contrats_debutes"] = s.size().reindex(out.index).fillna(0).astype("int64")
    out["duree_moyenne_mois"] = s["_mois"].mean().reindex(out.index)
    return out.reset_index()


def contract_types(owner_wc: pd.DataFrame) -> pd.DataFrame:
    """Work contracts of the owner's large projects by contract type (all years):
    ``maitre_ouvrage_id, type_contrat, contrats, part, ic_bas, ic_haut``; a missing type is
    « inconnu », counted but outside the shares' denominator. The share's interval treats each
    person as a cluster (:func:`analysis.stats.clustered_share`): one person's contracts follow
    one pathway, they are not independent draws."""
    types = owner_wc["type_contrat"].astype("string").fillna("inconnu")
    out = owner_wc.groupby([owner_wc[OWNER], types.rename("type_contrat")]).size() \
        .rename("contrats").reset_index()
    known = owner_wc.loc[types.ne("inconnu")].assign(
        _personne=lambda f: f["coordination"].astype(str) + ":" + f["participant_id"].astype(str),
        _type=types[types.ne("inconnu")])
    parts = []
    for value in sorted(known["_type"].unique()):
        shares = clustered_share(known.assign(_flag=known["_type"].eq(value)), "_flag",
                                 by=[OWNER], cluster="_personne")
        parts.append(pd.DataFrame({OWNER: shares.index.get_level_values(0).astype(str),
                                   "type_contrat": value, "part": shares["part"].to_numpy(),
                                   "ic_bas": shares["ic_bas"].to_numpy(),
                                   "ic_haut": shares["ic_haut"].to_numpy()}))
    if parts:
        out = out.merge(pd.concat(parts, ignore_index=True), on=[OWNER, "type_contrat"],
                        how="left")
    else:
        out[["part", "ic_bas", "ic_haut"]] = np.nan
    return out


def contract_types_by_year(owner_wc: pd.DataFrame) -> pd.DataFrame:
    """Work contracts of the owner's large projects by type and year of start:
    ``maitre_ouvrage_id, type_contrat, annee, contrats`` (a missing type is « inconnu »)."""
    types = owner_wc["type_contrat"].astype("string").fillna("inconnu").rename("type_contrat")
    year = owner_wc["date_debut"].dt.year.astype("Int64").rename("annee")
    out = owner_wc.groupby([owner_wc[OWNER], types, year]).size()
    return out.rename("contrats").reset_index()


def legal_articles(table: pd.DataFrame) -> pd.DataFrame:
    """Operations by owner and legal modality (the article of the code de la commande publique
    used): ``operations, heures_prevues, heures_suivies``."""
    modality = table["modalite"].astype("string").fillna("inconnue")
    g = table.groupby([table[OWNER], modality.rename("modalite")], sort=True)
    return pd.DataFrame({"operations": g.size(),
                         "heures_prevues": g["heures_prevues"].sum().astype(float),
                         "heures_suivies": g["heures_suivies"].sum().astype(float)}).reset_index()


def outcomes(owner_wc: pd.DataFrame, outcome_table: pd.DataFrame) -> pd.DataFrame:
    """Situation six months after the last insertion contract of the people who worked on each
    owner's large projects (:func:`~analysis.indicators.employment.situation_distribution`
    grouped by owner; a person who worked for two owners counts for both): ``maitre_ouvrage_id,
    situation, libelle, effectif, connues, part, ic_bas, ic_haut, sorties, inconnues``."""
    pairs = owner_wc[[OWNER, *PERSON]].drop_duplicates()
    frame = outcome_table.merge(pairs, on=PERSON, how="inner")
    if frame.empty:
        return pd.DataFrame(columns=[OWNER, "situation", "libelle", "effectif", "connues", "part",
                                     "ic_bas", "ic_haut", "sorties", "inconnues"])
    table = situation_distribution(frame, by=(OWNER,))
    table = table.loc[table["groupe"] == OWNER].rename(columns={"modalite": OWNER})
    return table[[OWNER, "situation", "libelle", "effectif", "connues", "part", "ic_bas",
                  "ic_haut", "sorties", "inconnues"]].reset_index(drop=True)


def outcomes_by_year(owner_wc: pd.DataFrame, outcome_table: pd.DataFrame) -> pd.DataFrame:
    """:func:`outcomes` by year of the end of the last contract (one
    :func:`~analysis.indicators.employment.situation_distribution` grouped by owner and year):
    ``maitre_ouvrage_id, annee, situation, effectif, connues, sorties, inconnues``."""
    pairs = owner_wc[[OWNER, *PERSON]].drop_duplicates()
    frame = outcome_table.merge(pairs, on=PERSON, how="inner")
    columns = [OWNER, "annee", "situation", "effectif", "connues", "sorties", "inconnues"]
    frame = frame.loc[frame["date_fin_dernier_contrat"].notna()] \
        if "date_fin_dernier_contrat" in frame.columns else frame.iloc[0:0]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    year = frame["date_fin_dernier_contrat"].dt.year.astype(int).astype(str)
    frame = frame.assign(_cle=frame[OWNER].astype(str) + "|" + year)
    table = situation_distribution(frame, by=("_cle",))
    table = table.loc[table["groupe"] == "_cle"].copy()
    parts = table["modalite"].str.rsplit("|", n=1, expand=True)
    table[OWNER], table["annee"] = parts[0], parts[1].astype(int)
    return table[columns].reset_index(drop=True)


__all__ = ["OWNER", "OWNER_NAME", "slug", "owner_key", "large_operations", "grand_paris_owners",
           "directory", "obligation", "insertion_share_interval", "sme", "missed_contracts",
           "owner_work_contracts", "operation_table", "operation_summary", "owner_people_years",
           "yearly_beneficiaries", "contract_types", "contract_types_by_year", "legal_articles",
           "outcomes", "outcomes_by_year"]
