"""Owner sheets (*fiches maître d'ouvrage / grand projet*, issue 16 point 2): one HTML page per
large-project owner — the owner of the Grand Paris Express contracts and every owner of tracking
operations flagged ``grand_projet`` (Société des grands projets, Solideo, Île-de-France Mobilités,
Grand Paris Aménagement in the default data).

A family of light sheets on :mod:`analysis.sheets`, like the buyer sheets: every indicator is
computed once for all owners by group-by (:mod:`analysis.indicators.owners`), each sheet takes its
owner's rows and is rendered by ``templates/observatoire/fiche_maitre_ouvrage.html.j2`` (on
``fiche_base.html.j2``). Every table goes through :class:`analysis.publish.Report`: people counts
at k with secondary suppression, hours and SME amounts under the dominance rule, CSV + XLSX beside
the sheet, and a record ``<key>.json`` read by the family audit.

An owner is keyed by its SIRET; an owner whose data carry no SIRET by a slug of its name
(:func:`analysis.indicators.owners.owner_key`: ``mo-<name>``). Outputs, under
``reports/maitres_ouvrage/`` (:data:`analysis.config.OWNER_SHEET_FOLDER`)::

    <key>.html, <key>.json, fiche_maitre_ouvrage_<key>_tableaux/*.csv|xlsx
    maitres_ouvrage.json   every owner with its counts, and the render fingerprint

Disclosure. Counts of contracts and of operations are not people: published as they are. People
(beneficiaries, women, QPV residents, young people, work contracts, exits) are protected at k;
the « dont » columns of the yearly table are declared nested in the beneficiaries (the remainder,
men for instance, is protected as a cell), and a share whose denominator leaves out 1..k − 1
people of unknown attribute is not published (the share would give the unknown count away).
Hours (realised, works) and SME amounts follow the dominance rule, contributors being the
employers (tracking) or the contract holders (Grand Paris). :func:`joint_audit` audits the owner
sheets with the buyer sheets and the département sheets on disk; the equations it can and cannot
see are listed in ``docs/disclosure.md`` (« Fiches maître d'ouvrage »).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config, disclosure, sheets
from .indicators import owners as ind
from .indicators.employment import SITUATIONS
from .periods import Period
from .plots import percent_fr
from .present import datetime_fr, number_fr
from .sheets import JointAudit
from .publish import read_record
from .sheets import SheetReport, markup, template

FOLDER = config.OWNER_SHEET_FOLDER
LISTING = f"{FOLDER}.json"
SLUG = "fiche_maitre_ouvrage"
TOTAL = "Ensemble"
UNKNOWN_SITUATION = "Situation inconnue"
ALL_YEARS = "toutes_annees"

CONTRACT_TYPES = {"cdi": "CDI", "cdd": "CDD", "interim": "Intérim", "cddi": "CDDI",
                  "professionnalisation": "Contrat de professionnalisation",
                  "apprentissage": "Apprentissage", "contrat_aide": "Contrat aidé",
                  "inconnu": "Non renseigné"}


@dataclass
class OwnerData:
    """Every indicator of the owner sheets, for all owners at once (one group-by each)."""

    directory: pd.DataFrame
    grand_paris: pd.DataFrame
    obligation: dict
    sme: pd.DataFrame
    missed: pd.DataFrame
    operations: pd.DataFrame | None = None
    operation_summary: pd.DataFrame | None = None
    articles: pd.DataFrame | None = None
    work_contracts: pd.DataFrame | None = None
    yearly: pd.DataFrame | None = None
    people_years: pd.DataFrame | None = None
    contract_types: pd.DataFrame | None = None
    contract_types_by_year: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    outcomes_by_year: pd.DataFrame | None = None
    horizon: pd.Timestamp | None = None
    _by: dict = field(default_factory=dict, repr=False)

    def rows(self, name: str, frame: pd.DataFrame | None, key: str) -> pd.DataFrame:
        """The rows of ``frame`` for one owner (groups built once per table)."""
        return sheets.actor_rows(self._by, name, frame, ind.OWNER, key)


_optional = sheets.optional_table


def compute(processed: Path | None = None) -> OwnerData:
    """Read the warehouse once and compute every indicator of every owner (every source is
    optional: a sheet says what its owner's data lack)."""
    tables = {name: _optional(name, processed) for name in
              ("contracts", "grand_paris", "operations", "work_contracts", "participants",
               "outcomes")}
    return compute_from(tables)


def compute_from(tables: dict) -> OwnerData:
    """:func:`compute` from tables in memory (``grand_paris``, ``contracts``, ``operations``,
    ``work_contracts``, ``participants``, ``outcomes``; any may be missing or None)."""
    operations = tables.get("operations")
    gp = tables.get("grand_paris")
    if gp is None:
        gp = pd.DataFrame(columns=["decp_uid", "ligne", "lot", "titulaire_siret",
                                   "date_notification", "heures_travail",
                                   "heures_insertion_prevues", "heures_insertion_realisees",
                                   "montant", "montant_pme", "departement", "taux_obligation"])
        gp["date_notification"] = pd.to_datetime(gp["date_notification"])
    gp = ind.grand_paris_owners(gp, tables.get("contracts"), operations)
    large = (ind.large_operations(operations) if operations is not None
             else pd.DataFrame(columns=["operation_id", ind.OWNER, ind.OWNER_NAME]))
    has_gp = len(gp) > 0
    data = OwnerData(
        directory=ind.directory(large, gp), grand_paris=gp,
        obligation={by: ind.obligation(gp, by) if has_gp else None
                    for by in [(), ("ligne",), ("annee",)]},
        sme=ind.sme(gp, ("ligne",)) if has_gp else None,
        missed=ind.missed_contracts(gp) if has_gp else None)
    if has_gp:
        data.obligation[("sme",)] = ind.sme(gp, ())
        table = ind.gp_ind.contract_table(gp)
        g = table.groupby([ind.OWNER, "ligne", "lot"], sort=True)
        lots = pd.DataFrame({"marches": g.size(),
                             "connus": g["obligation_atteinte"].count(),
                             "conformes": g["obligation_atteinte"].sum()}).reset_index()
        from .stats import wilson_interval

        lots["part"] = lots["conformes"] / lots["connus"].where(lots["connus"] > 0)
        lots["ic_bas"], lots["ic_haut"] = wilson_interval(lots["conformes"], lots["connus"])
        data.obligation[("lot",)] = lots
    wc, people = tables.get("work_contracts"), tables.get("participants")
    if operations is not None and wc is not None and people is not None and len(large):
        owner_wc = ind.owner_work_contracts(large, wc)
        table = ind.operation_table(large, owner_wc)
        data.operations = table
        data.operation_summary = ind.operation_summary(table, ("annee",))
        data.articles = ind.legal_articles(table)
        data.work_contracts = owner_wc
        data.people_years = ind.owner_people_years(owner_wc, people)
        data.yearly = ind.yearly_beneficiaries(owner_wc, people)
        data.contract_types = ind.contract_types(owner_wc)
        data.contract_types_by_year = ind.contract_types_by_year(owner_wc)
        outcomes = tables.get("outcomes")
        if outcomes is not None:
            data.outcomes = ind.outcomes(owner_wc, outcomes)
            data.outcomes_by_year = ind.outcomes_by_year(owner_wc, outcomes)
        ends = wc["date_fin"].dropna()
        data.horizon = ends.max() if len(ends) else None
    return data


# --- One sheet ------------------------------------------------------------------------------------


class OwnerReport(SheetReport):
    """A :class:`~analysis.sheets.SheetReport` for one owner (record field ``owner``, files named
    by its SIRET or slug)."""

    actor_field = "owner"
    key_field = "cle"
    key_label = ""


def _pct(value) -> str:
    return "–" if pd.isna(value) else percent_fr(float(value))


_html = markup


def _indexed(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    return frame.set_index(frame[column].astype(str).to_numpy())


def _gp_block(report: OwnerReport, data: OwnerData, key: str) -> dict | None:
    from .sections.hours import GP_COLUMNS, GP_DERIVED, grand_paris_contributions

    gp = data.rows("gp", data.grand_paris, key)
    if gp.empty:
        return None
    block = {"heading": "Obligation d'heures d'insertion : marchés du Grand Paris Express",
             "anchor": "obligation", "paragraphs": [], "tables": []}
    overall = data.rows("obl", data.obligation[()], key).iloc[0]
    sme = data.rows("sme_all", data.obligation[("sme",)], key).iloc[0]
    rule = disclosure.dominance_rule()
    note = ("Heures de travaux et heures d'insertion : masquées quand moins de "
            f"{rule.min_contributors} titulaires y contribuent ou qu'un titulaire domine la case "
            "(règle de dominance). Marchés, non personnes : pas de seuil sur les effectifs.")
    block["paragraphs"].append(
        f"{number_fr(len(gp))} marchés de travaux. Obligation : 5 % des heures de travaux, 10 % "
        "pour les marchés notifiés à partir du 1er octobre 2020. "
        f"{number_fr(overall['marches_conformes'])} marchés sur {number_fr(overall['marches'])} "
        f"dont les heures réalisées sont connues atteignent leur obligation "
        f"({_pct(overall['part_conformes'])}, IC 95 % de Wilson {_pct(overall['ic_bas'])} – "
        f"{_pct(overall['ic_haut'])}) ; {number_fr(sme['marches_objectif_atteint'])} sur "
        f"{number_fr(sme['marches'])} confient au moins 20 % de leur montant à des PME. Les heures "
        "réalisées sont cumulées à la date de l'export : un marché en cours peut encore atteindre "
        "son obligation.")
    hours = ("heures_travail", "heures_insertion_realisees")
    derived = {"part_insertion": hours, "part_ic_bas": hours, "part_ic_haut": hours,
               "ecart_obligation": hours}
    cols = ["marches", "heures_travail", "heures_insertion_realisees", "taux_obligation_moyen",
            "part_insertion", "part_ic_bas", "part_ic_haut", "marches_conformes",
            "part_conformes", "ic_bas", "ic_haut", "realisation_inconnue"]
    columns = {**GP_COLUMNS, "part_ic_bas": "IC 95 % bas (part)",
               "part_ic_haut": "IC 95 % haut (part)", "ic_bas": "IC 95 % bas (conformes)",
               "ic_haut": "IC 95 % haut (conformes)", "lot": "Lot", "ligne": "Ligne",
               "annee": "Année de notification"}
    fmt = dict(percent=("taux_obligation_moyen", "part_insertion", "part_ic_bas", "part_ic_haut",
                        "part_conformes", "ic_bas", "ic_haut"),
               integers=("marches", "heures_travail", "heures_insertion_realisees",
                         "marches_conformes", "realisation_inconnue"))
    interval_note = ("Part d'insertion : heures réalisées / heures de travaux ; intervalle à 95 % "
                     "par bootstrap à deux degrés, les marchés d'un même titulaire formant une "
                     "grappe. Part des marchés conformes : intervalle de Wilson (les marchés "
                     "d'un seul maître d'ouvrage sont les unités).")
    by_line = data.rows("obl_line", data.obligation[("ligne",)], key)
    line = pd.concat([by_line, overall.to_frame().T.assign(ligne=TOTAL)], ignore_index=True)
    line = _indexed(line, "ligne")
    contrib = grand_paris_contributions(gp, "ligne")
    block["tables"].append(_html(report.table(
        line[["ligne", *cols]], "obligation_par_ligne",
        "Heures d'insertion et obligation, par ligne", columns=columns,
        magnitudes={c: contrib[c] for c in hours}, derived=derived,
        margins=disclosure.Margins(total_row=TOTAL), notes=[interval_note, note], **fmt)))
    by_year = data.rows("obl_year", data.obligation[("annee",)], key)
    by_year = _indexed(by_year.assign(annee=by_year["annee"].astype(str)), "annee")
    contrib = grand_paris_contributions(gp, "annee")
    block["tables"].append(_html(report.table(
        by_year[["annee", *cols]], "obligation_par_annee",
        "Heures d'insertion et obligation, par année de notification", columns=columns,
        magnitudes={c: contrib[c] for c in hours}, derived=derived,
        notes=["Heures réalisées cumulées à la date de l'export : les marchés récents sont en "
               "cours.", interval_note, note], **fmt)))
    lots = data.rows("lots", data.obligation[("lot",)], key)
    block["tables"].append(_html(report.table(
        lots[["ligne", "lot", "marches", "connus", "conformes", "part", "ic_bas", "ic_haut"]]
        .reset_index(drop=True), "conformite_par_lot",
        "Marchés atteignant leur obligation, par ligne et lot",
        integers=("marches", "connus", "conformes"), percent=("part", "ic_bas", "ic_haut"),
        columns={"ligne": "Ligne", "lot": "Lot", "marches": "Marchés",
                 "connus": "Heures réalisées connues", "conformes": "Marchés conformes",
                 "part": "Part des conformes", "ic_bas": "IC 95 % bas",
                 "ic_haut": "IC 95 % haut"},
        notes=["Heures par lot non publiées : un lot compte le plus souvent un seul titulaire "
               "(règle de dominance)."])))
    missed = data.rows("missed", data.missed, key)
    if missed.empty:
        block["paragraphs"].append("Aucun marché dont les heures réalisées sont connues n'est "
                                   "en dessous de son obligation.")
    else:
        listed = missed[["decp_uid", "ligne", "lot", "date_notification", "taux_obligation"]] \
            .copy()
        listed["date_notification"] = listed["date_notification"].dt.strftime("%d/%m/%Y")
        block["tables"].append(_html(report.table(
            listed.reset_index(drop=True), "marches_sous_obligation",
            f"Marchés en dessous de leur obligation ({number_fr(len(listed))})",
            percent=("taux_obligation",),
            columns={"decp_uid": "Identifiant du marché", "ligne": "Ligne", "lot": "Lot",
                     "date_notification": "Notification", "taux_obligation": "Obligation"},
            notes=["Heures de chaque marché non publiées : un seul titulaire par marché (règle "
                   "de dominance) ; l'écart figure, agrégé, dans les tableaux par ligne et par "
                   "année."])))
    sme_line = data.rows("sme", data.sme, key)
    sme_line = _indexed(pd.concat([sme_line, sme.to_frame().T.assign(ligne=TOTAL)],
                                  ignore_index=True), "ligne")
    contrib = grand_paris_contributions(gp, "ligne")
    block["tables"].append(_html(report.table(
        sme_line[["ligne", "marches", "montant", "montant_pme", "part_pme",
                  "marches_objectif_atteint", "part_marches_objectif", "ic_bas", "ic_haut",
                  "montant_inconnu"]].assign(
            montant=lambda f: f["montant"].astype(float) / 1e6,
            montant_pme=lambda f: f["montant_pme"].astype(float) / 1e6),
        "pme_par_ligne", "Part des PME dans le montant des marchés, par ligne (objectif 20 %)",
        percent=("part_pme", "part_marches_objectif", "ic_bas", "ic_haut"),
        integers=("marches", "marches_objectif_atteint", "montant_inconnu"),
        decimals={"montant": 1, "montant_pme": 1}, columns=GP_COLUMNS,
        magnitudes={"montant_pme": contrib["montant_pme"].assign(value=lambda f: f["value"] / 1e6)},
        derived={"part_pme": GP_DERIVED["part_pme"]}, margins=disclosure.Margins(total_row=TOTAL),
        notes=["Part PME : cotraitance et sous-traitance déclarées / montant du marché ; part "
               "des marchés atteignant 20 % avec l'intervalle de Wilson.", note])))
    return block


def _employer(frame: pd.DataFrame) -> pd.Series:
    return frame["employeur_siret"].astype("string").fillna(frame["employeur"].astype("string"))


def _operations_block(report: OwnerReport, data: OwnerData, key: str) -> dict:
    from .sections.hours import MODALITIES

    block = {"heading": "Heures prévues et réalisées des opérations suivies",
             "anchor": "operations", "paragraphs": [], "tables": []}
    ops = data.rows("ops", data.operations, key)
    if data.operations is None:
        block["paragraphs"].append("Les données de suivi des clauses (logiciel des "
                                   "facilitateurs) ne sont pas dans l'entrepôt.")
        return block
    if ops.empty:
        block["paragraphs"].append("Aucune opération « grand projet » de ce maître d'ouvrage "
                                   "n'est suivie par les facilitateurs.")
        return block
    wc = data.rows("wc", data.work_contracts, key)
    year_of_op = ops.set_index("operation_id")["annee"]
    rule = disclosure.dominance_rule()
    note = (f"Heures réalisées : masquées quand moins de {rule.min_contributors} employeurs y "
            "contribuent ou qu'un employeur domine la case (règle de dominance). Heures "
            "prévues : l'engagement du maître d'ouvrage dans ses clauses, publié.")
    summary = data.rows("opsum", data.operation_summary, key).copy()
    summary["annee"] = summary["annee"].astype(str)
    total = ind.operation_summary(ops, ()).iloc[0].to_dict()
    total["annee"] = TOTAL
    frame = _indexed(pd.concat([summary, pd.DataFrame([total])], ignore_index=True), "annee")
    rows = wc["operation_id"].map(year_of_op).astype("string").to_numpy()
    contrib = disclosure.contributions(rows, _employer(wc).to_numpy(), wc["heures"],
                                       total_row=TOTAL)
    block["paragraphs"].append(
        f"{number_fr(len(ops))} opérations « grand projet » suivies par les facilitateurs. "
        "Heures prévues : l'engagement de la clause ; heures réalisées : somme des contrats de "
        "travail des personnes en insertion sur l'opération.")
    block["tables"].append(_html(report.table(
        frame[["annee", "operations", "heures_prevues", "heures_suivies", "taux_realisation",
               "taux_ic_bas", "taux_ic_haut", "avec_prevision", "atteintes", "part_atteintes",
               "ic_bas", "ic_haut"]],
        "heures_operations_par_annee",
        "Heures prévues et réalisées, par année de début de l'opération",
        magnitudes={"heures_suivies": contrib},
        derived={c: "heures_suivies" for c in ("taux_realisation", "taux_ic_bas",
                                               "taux_ic_haut")},
        margins=disclosure.Margins(total_row=TOTAL),
        integers=("operations", "heures_prevues", "heures_suivies", "avec_prevision",
                  "atteintes"),
        percent=("taux_realisation", "taux_ic_bas", "taux_ic_haut", "part_atteintes", "ic_bas",
                 "ic_haut"),
        columns={"annee": "Année de début", "operations": "Opérations",
                 "heures_prevues": "Heures prévues", "heures_suivies": "Heures réalisées",
                 "taux_realisation": "Taux de réalisation", "taux_ic_bas": "IC 95 % bas (taux)",
                 "taux_ic_haut": "IC 95 % haut (taux)",
                 "avec_prevision": "Opérations avec heures prévues",
                 "atteintes": "Opérations atteignant leurs heures prévues",
                 "part_atteintes": "Part", "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut"},
        notes=["Taux de réalisation : intervalle par bootstrap, les opérations formant les "
               "grappes ; part des opérations : intervalle de Wilson. Une opération en cours "
               "n'a pas fini de réaliser ses heures.", note])))
    articles = data.rows("art", data.articles, key).copy()
    articles["modalite"] = articles["modalite"].map(lambda m: MODALITIES.get(m, m))
    articles = pd.concat([articles, pd.DataFrame([{
        "modalite": TOTAL, "operations": int(articles["operations"].sum()),
        "heures_prevues": float(articles["heures_prevues"].sum()),
        "heures_suivies": float(articles["heures_suivies"].sum())}])], ignore_index=True)
    articles = _indexed(articles, "modalite")
    modality = wc["modalite_operation"].map(lambda m: MODALITIES.get(m, m)).astype("string")
    contrib = disclosure.contributions(modality.to_numpy(), _employer(wc).to_numpy(), wc["heures"],
                                       total_row=TOTAL)
    block["tables"].append(_html(report.table(
        articles[["modalite", "operations", "heures_prevues", "heures_suivies"]],
        "articles_juridiques", "Articles du code de la commande publique utilisés",
        magnitudes={"heures_suivies": contrib}, margins=disclosure.Margins(total_row=TOTAL),
        integers=("operations", "heures_prevues", "heures_suivies"),
        columns={"modalite": "Modalité (article)", "operations": "Opérations",
                 "heures_prevues": "Heures prévues", "heures_suivies": "Heures réalisées"},
        notes=[note])))
    horizon = data.horizon
    finished = ops.loc[ops["date_fin"].notna() & (ops["date_fin"] < horizon)] \
        if horizon is not None else ops.iloc[0:0]
    short = finished.loc[finished["atteinte"].eq(False).fillna(False)]
    if len(short):
        listed = short.sort_values(["date_fin", "operation_id"])[
            ["operation_id", "libelle", "commune", "date_debut", "date_fin"]].copy()
        for c in ("date_debut", "date_fin"):
            listed[c] = listed[c].dt.strftime("%d/%m/%Y")
        block["tables"].append(_html(report.table(
            listed.reset_index(drop=True), "operations_sous_prevision",
            f"Opérations terminées en dessous de leurs heures prévues ({number_fr(len(listed))})",
            columns={"operation_id": "Opération", "libelle": "Libellé", "commune": "Commune",
                     "date_debut": "Début", "date_fin": "Fin"},
            notes=["Opérations terminées avant la fin du dernier contrat de travail exporté. "
                   "Heures de chaque opération non publiées (règle de dominance)."])))
    else:
        block["paragraphs"].append("Aucune opération terminée n'est en dessous de ses heures "
                                   "prévues.")
    return block


def _hide_shares(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """A share over the people whose attribute is known would give away 1..k − 1 unknowns."""
    frame = frame.copy()
    for count, columns in (("femmes", ("part_femmes", "femmes_ic_bas", "femmes_ic_haut",
                                       "part_heures_femmes", "heures_femmes_ic_bas",
                                       "heures_femmes_ic_haut")),
                           ("residents_qpv", ("part_qpv", "qpv_ic_bas", "qpv_ic_haut")),
                           ("jeunes_peu_qualifies", ("part_jeunes", "jeunes_ic_bas",
                                                     "jeunes_ic_haut"))):
        unknown = frame[f"{count}_inconnus"]
        frame.loc[(unknown > 0) & (unknown < k), list(columns)] = np.nan
    return frame


YEARLY_COLUMNS = {
    "annee": "Année", "beneficiaires": "Bénéficiaires", "femmes": "Femmes",
    "part_femmes": "Part des femmes", "femmes_ic_bas": "IC bas", "femmes_ic_haut": "IC haut",
    "part_heures_femmes": "Part des heures (femmes)", "heures_femmes_ic_bas": "IC bas (heures)",
    "heures_femmes_ic_haut": "IC haut (heures)", "residents_qpv": "Résidents QPV",
    "part_qpv": "Part QPV", "qpv_ic_bas": "IC bas (QPV)", "qpv_ic_haut": "IC haut (QPV)",
    "jeunes_peu_qualifies": "Moins de 26 ans sans qualification",
    "part_jeunes": "Part des jeunes", "jeunes_ic_bas": "IC bas (jeunes)",
    "jeunes_ic_haut": "IC haut (jeunes)", "heures": "Heures réalisées",
    "contrats_debutes": "Contrats commencés", "duree_moyenne_mois": "Durée moyenne (mois)"}


def _beneficiaries_block(report: OwnerReport, data: OwnerData, key: str) -> dict:
    block = {"heading": "Bénéficiaires par année (indicateurs de l'OGPF)",
             "anchor": "beneficiaires", "paragraphs": [], "tables": []}
    yearly = data.rows("yearly", data.yearly, key)
    if yearly.empty:
        block["paragraphs"].append("Aucun contrat de travail en insertion n'est rattaché aux "
                                   "opérations « grand projet » de ce maître d'ouvrage.")
        return block
    block["paragraphs"].append(
        "Sur le modèle des observatoires régionaux des grands projets : bénéficiaires ayant "
        "travaillé "
        "dans l'année sur les opérations « grand projet » du maître d'ouvrage, part des femmes "
        "(en personnes et en heures), des résidents des quartiers prioritaires (QPV) et des "
        "moins de 26 ans sans qualification (sans diplôme ou niveau 3), heures de l'année "
        "(contrats répartis au prorata des jours), contrats commencés dans l'année et leur durée "
        "moyenne.")
    frame = _indexed(_hide_shares(yearly, report.k).assign(
        annee=yearly["annee"].astype(str)), "annee")
    people_cols = ("beneficiaires", "femmes", "residents_qpv", "jeunes_peu_qualifies",
                   "contrats_debutes")
    from .indicators.hours import prorate_by_year

    wc = data.rows("wc", data.work_contracts, key)
    years = prorate_by_year(wc.assign(_employeur=_employer(wc)))
    contrib = disclosure.contributions(years["annee"].astype(str).to_numpy(),
                                       years["_employeur"].to_numpy(), years["heures_annee"])
    shared = {f"beneficiaires|maitre_ouvrage:{key}|{y}": ("cell", y, "beneficiaires")
              for y in frame.index}
    block["tables"].append(_html(report.table(
        frame[list(YEARLY_COLUMNS)], "beneficiaires_par_annee",
        "Bénéficiaires, femmes, résidents QPV et jeunes sans qualification, par année",
        people=people_cols,
        derived={**{c: "femmes" for c in ("part_femmes", "femmes_ic_bas", "femmes_ic_haut",
                                           "part_heures_femmes", "heures_femmes_ic_bas",
                                           "heures_femmes_ic_haut")},
                 **{c: "residents_qpv" for c in ("part_qpv", "qpv_ic_bas", "qpv_ic_haut")},
                 **{c: "jeunes_peu_qualifies" for c in ("part_jeunes", "jeunes_ic_bas",
                                                        "jeunes_ic_haut")},
                 "duree_moyenne_mois": "contrats_debutes"},
        margins=disclosure.Margins(nested=(("beneficiaires", ("femmes",)),
                                           ("beneficiaires", ("residents_qpv",)),
                                           ("beneficiaires", ("jeunes_peu_qualifies",)))),
        magnitudes={"heures": contrib}, shared=shared,
        integers=("beneficiaires", "femmes", "residents_qpv", "jeunes_peu_qualifies", "heures",
                  "contrats_debutes"),
        percent=tuple(c for c in YEARLY_COLUMNS if c.startswith(("part", "femmes_ic", "qpv_ic",
                                                                   "jeunes_ic", "heures_femmes"))),
        decimals={"duree_moyenne_mois": 1}, columns=YEARLY_COLUMNS,
        notes=["Une personne compte une fois par année où elle a travaillé. Parts sur les "
               "personnes dont l'attribut est renseigné, intervalle de Wilson à 95 % (personnes "
               "indépendantes) ; part des heures des femmes : intervalle par bootstrap sur les "
               "personnes. Une part n'est pas publiée quand moins de "
               f"{report.k} personnes ont l'attribut non renseigné.",
               "Heures : masquées quand moins de "
               f"{disclosure.dominance_rule().min_contributors} employeurs y contribuent ou "
               "qu'un employeur domine la case."])))
    types = data.rows("types", data.contract_types, key).set_index("type_contrat")
    by_year = data.rows("types_year", data.contract_types_by_year, key)
    grid = by_year.pivot_table(index="type_contrat", columns="annee", values="contrats",
                               aggfunc="sum", fill_value=0)
    order = [t for t in CONTRACT_TYPES if t in grid.index] + sorted(
        t for t in grid.index if t not in CONTRACT_TYPES)
    grid = grid.reindex(order)
    grid.columns = [str(int(c)) for c in grid.columns]
    years = list(grid.columns)
    grid[ALL_YEARS] = grid[years].sum(axis=1)
    grid.loc[TOTAL] = grid.sum(axis=0)
    grid = grid.astype("int64")
    for c in ("part", "ic_bas", "ic_haut"):
        grid[c] = types[c].reindex(grid.index).to_numpy(dtype=float) if c in types else np.nan
    grid.insert(0, "type_contrat", [CONTRACT_TYPES.get(t, t) for t in grid.index])
    grid.index = grid["type_contrat"].to_numpy()
    block["tables"].append(_html(report.table(
        grid, "types_de_contrat", "Contrats de travail par type et année de début",
        people=(*years, ALL_YEARS), derived={c: ALL_YEARS for c in ("part", "ic_bas", "ic_haut")},
        margins=disclosure.Margins(total_row=TOTAL, row_total=ALL_YEARS),
        integers=(*years, ALL_YEARS), percent=("part", "ic_bas", "ic_haut"),
        columns={"type_contrat": "Type de contrat", ALL_YEARS: "Toutes années",
                 "part": "Part (toutes années)", "ic_bas": "IC 95 % bas",
                 "ic_haut": "IC 95 % haut"},
        notes=["Contrats commencés dans l'année. Part sur les contrats de type renseigné, toutes "
               "années ; intervalle à 95 % groupé par personne (les contrats d'une même personne "
               "ne sont pas indépendants)."])))
    block["tables"].extend(_outcomes_table(report, data, key))
    return block


def _outcomes_table(report: OwnerReport, data: OwnerData, key: str) -> list:
    rows = data.rows("outcomes", data.outcomes, key)
    if data.outcomes is None or rows.empty:
        return []
    by_year = data.rows("outcomes_year", data.outcomes_by_year, key)
    years = sorted(int(y) for y in by_year["annee"].unique())
    labels = [SITUATIONS[s] for s in SITUATIONS]
    grid = pd.DataFrame(0, index=[*labels, UNKNOWN_SITUATION], columns=[str(y) for y in years],
                        dtype="int64")
    for r in by_year.itertuples(index=False):
        grid.at[SITUATIONS[r.situation], str(r.annee)] = int(r.effectif)
    unknown = by_year.drop_duplicates("annee").set_index("annee")["inconnues"]
    for y in years:
        grid.at[UNKNOWN_SITUATION, str(y)] = int(unknown.get(y, 0))
    grid[ALL_YEARS] = grid.sum(axis=1)
    grid.loc[TOTAL] = grid.sum(axis=0)
    shares = rows.set_index("situation")
    for c in ("part", "ic_bas", "ic_haut"):
        grid[c] = [float(shares.at[s, c]) for s in SITUATIONS] + [np.nan, np.nan]
    grid.insert(0, "situation", grid.index)
    year_cols = [str(y) for y in years]
    options = dict(people=(*year_cols, ALL_YEARS),
                   derived={c: ALL_YEARS for c in ("part", "ic_bas", "ic_haut")},
                   margins=disclosure.Margins(total_row=TOTAL, row_total=ALL_YEARS))
    protected = report.protect(grid, **options)
    notes = ["Personnes ayant travaillé sur un grand projet du maître d'ouvrage, par année de "
             "fin de leur dernier contrat d'insertion (tous maîtres d'ouvrage), fini au moins six "
             "mois avant l'export. Parts sur les situations connues, toutes années, intervalle de "
             "Wilson à 95 %."]
    if protected is not None and protected.mask.at[UNKNOWN_SITUATION, ALL_YEARS]:
        grid[["part", "ic_bas", "ic_haut"]] = np.nan
        notes.append("Parts non publiées : le nombre de situations inconnues est couvert par le "
                     "secret statistique et se déduirait des parts.")
    return [_html(report.table(
        grid, "situation_6_mois", "Situation six mois après le dernier contrat, par année de fin",
        integers=(*year_cols, ALL_YEARS), percent=("part", "ic_bas", "ic_haut"),
        columns={"situation": "Situation", ALL_YEARS: "Toutes années",
                 "part": "Part (toutes années)", "ic_bas": "IC 95 % bas",
                 "ic_haut": "IC 95 % haut"}, notes=notes, **options))]


def render_sheet(data: OwnerData, owner: pd.Series, output_dir: Path | None, k: int,
                 period: Period, manifest: dict, page_template=None) -> str:
    """Render one owner's sheet; write its HTML, record and tables under ``output_dir``.

    Returns
    -------
    str
        The sheet's HTML.
    """
    key = str(owner[ind.OWNER])
    report = OwnerReport(slug=f"{SLUG}_{key}", territory=config.REGION_CODE, period=period,
                         target=config.DEFAULT_TARGET, k=k, output_dir=output_dir)
    report.manifest = manifest
    siret = owner["siret"] if pd.notna(owner["siret"]) else None
    report.actor = {"cle": key, "siret": siret, "nom": str(owner[ind.OWNER_NAME]),
                    "operations": int(owner["operations"]),
                    "marches_grand_paris": int(owner["marches_grand_paris"])}
    blocks = []
    gp = _gp_block(report, data, key)
    if gp is not None:
        blocks.append(gp)
    blocks.append(_operations_block(report, data, key))
    blocks.append(_beneficiaries_block(report, data, key))
    if gp is not None:
        overall = data.rows("obl", data.obligation[()], key).iloc[0]
        report.key_figure("des marchés du Grand Paris atteignent leur obligation d'insertion",
                          _pct(overall["part_conformes"]),
                          f"IC 95 % : {_pct(overall['ic_bas'])} – {_pct(overall['ic_haut'])}",
                          headline=True)
    yearly = data.rows("yearly", data.yearly, key)
    yearly = yearly.loc[yearly["annee"] <= (pd.Timestamp(period.end) - pd.Timedelta(days=1)).year] if not yearly.empty else yearly
    if not yearly.empty:
        # the sheets' period (contracts running past it count hours in later years: not shown)
        last = yearly.sort_values("annee").iloc[-1]
        if last["beneficiaires"] == 0 or last["beneficiaires"] >= k:
            report.key_figure(f"bénéficiaires en {int(last['annee'])}",
                              number_fr(int(last["beneficiaires"])),
                              "grands projets du maître d'ouvrage")
    report.key_figure("opérations « grand projet » suivies", number_fr(int(owner["operations"])))
    page_template = page_template or template("fiche_maitre_ouvrage.html.j2")
    page = page_template.render(
        owner=report.actor, sections=[(b["anchor"], b["heading"]) for b in blocks],
        blocks=blocks, key_figures=report.key_figures, k=k,
        tracking=data.operations is not None, grand_paris=len(data.grand_paris) > 0,
        built=datetime_fr(manifest.get("built_at", "?")))
    return report.publish(page)


# --- All sheets -----------------------------------------------------------------------------------


@dataclass
class OwnerSummary:
    folder: Path
    sheets: int = 0
    skipped: bool = False
    seconds: float = 0.0


def render_all(reports_dir: Path | None = None, processed: Path | None = None,
               k: int | None = None, force: bool = False, jobs: int | None = None
               ) -> OwnerSummary:
    """Render every owner sheet under ``reports/maitres_ouvrage/`` (skipped when the warehouse,
    code and threshold are those on disk); the folder is built aside and swapped in once
    complete. Without any owner (no Grand Paris table, no large-project operation) the folder is
    removed and the index says so."""
    from .periods import default_period
    from .warehouse import load_manifest

    started = time.perf_counter()
    reports_dir = Path(reports_dir or config.paths().reports)
    k = int(k or config.suppression_k())
    if k < config.suppression_k():
        raise ValueError(f"seuil de secret statistique {k} inférieur au seuil de l'observatoire")
    manifest = load_manifest(processed)
    folder = reports_dir / FOLDER
    digest = sheets.fingerprint(manifest, k, "maitres_ouvrage")
    listing = None if force else sheets.current_listing(folder, LISTING, digest,
                                                         "maitres_ouvrage", "cle")
    if listing is not None:
        return OwnerSummary(folder, sheets=len(listing["maitres_ouvrage"]), skipped=True,
                            seconds=time.perf_counter() - started)
    data = compute(processed)
    if data.directory.empty:
        sheets.replace_folder(reports_dir, folder, None)
        return OwnerSummary(folder, seconds=time.perf_counter() - started)
    period = default_period()
    staging = sheets.staging_folder(reports_dir, FOLDER)
    page = template("fiche_maitre_ouvrage.html.j2")
    rows = [row for _, row in data.directory.iterrows()]
    sheets.render_parallel(lambda row: render_sheet(data, row, staging, k, period, manifest,
                                                    page), rows, jobs)
    entries = [{"cle": str(r[ind.OWNER]), "siret": r["siret"], "nom": str(r[ind.OWNER_NAME]),
                "operations": int(r["operations"]),
                "marches_grand_paris": int(r["marches_grand_paris"]), "fiche": True}
               for r in rows]
    sheets.write_listing(staging, LISTING, {
        "k": k, "maitres_ouvrage": entries,
        "render": {"fingerprint": digest, "seconds": round(time.perf_counter() - started, 2)}})
    sheets.replace_folder(reports_dir, folder, staging)
    return OwnerSummary(folder, sheets=len(entries), seconds=time.perf_counter() - started)


def members(reports_dir: Path | None = None) -> list[tuple[dict, Path]]:
    """``(record, folder)`` of every owner sheet on disk."""
    return sheets.members(Path(reports_dir or config.paths().reports) / FOLDER, LISTING)


def audit(reports_dir: Path | None = None, k: int | None = None,
          others: list[tuple[dict, Path]] = ()) -> list:
    """The family audit of the owner sheets (with ``others``):
    :func:`analysis.publish.audit_family` over their people tables read back from the CSV files
    with the margins and shared counts their records declare."""
    from .publish import audit_family

    return audit_family([*members(reports_dir), *others], k=k)


#: The owner sheets' yearly counts and the département sheets' profile cells counting the same
#: people the same way: (owner column, département table, département row).
DEPARTEMENT_CELLS = (
    ("beneficiaires", "profil_sexe", TOTAL),
    ("femmes", "profil_sexe", "Femmes"),
    ("residents_qpv", "profil_qpv", "Réside en QPV"),
    ("jeunes_peu_qualifies", "profil_jeune_peu_qualifie",
     "Moins de 26 ans, sans diplôme ou niveau 3"),
)


def _person_ids(frame: pd.DataFrame) -> set:
    if "coordination" in frame.columns:
        return set(frame["coordination"].astype(str) + ":" + frame["participant_id"].astype(str))
    return set(frame["participant_id"].astype(str))


def joint_relations(owner_members: list[tuple[dict, Path]],
                    departement_members: list[tuple[dict, Path]],
                    people_years: pd.DataFrame,
                    departement_people: dict[str, pd.DataFrame]) -> list[disclosure.Relation]:
    """The equations that hold between the owner sheets' yearly cells and a département sheet's.

    A département sheet of a calendar year counts the beneficiaries of that year in the
    département; an owner sheet's row of the same year counts the people who worked that year on
    the owner's large projects, with the same definitions (women: ``sexe`` F; QPV residents;
    under 26 with no diploma or level 3). For each département sheet, the owners (with a sheet)
    whose people of the year all belong to its population and to no other such owner give
    ``département cell = Σ owners' cell + remainder`` for the total, the women, the QPV residents
    and the young people without qualification (:data:`DEPARTEMENT_CELLS`); the remainder (people
    of no such owner) is unpublished, none when the owners cover the département exactly. Owners
    sharing a person that year give no equation (a union is not a sum), nor does a quarter's
    sheet (the owner sheets count calendar years).

    Parameters
    ----------
    owner_members, departement_members
        ``(record, folder)`` of the owner sheets and of the département sheets of one period.
    people_years
        :attr:`OwnerData.people_years` (one row per owner, year and person).
    departement_people
        For each département code, the people its sheet counts.
    """
    from .publish import TABLES_SUFFIX, read_published_table, table_name

    def table_of(record, folder, name):
        for table in record.get("tables", []):
            if table["name"] == name and table.get("people"):
                frame = read_published_table(
                    Path(folder) / f"{record['slug']}{TABLES_SUFFIX}" / f"{table['name']}.csv",
                    table["people"])
                rows = {str(label): i for i, label in enumerate(frame.iloc[:, 0].astype(str))}
                return table_name(record, table), table["people"], rows
        return None

    relations: list[disclosure.Relation] = []
    for record, folder in departement_members:
        period = Period.parse(record["period"])
        if period.quarter:
            continue
        dep = str(record["territory"])
        if dep not in departement_people:
            raise ValueError(f"audit conjoint : population de la fiche {dep} non fournie")
        crowd = _person_ids(departement_people[dep])
        year = people_years.loc[people_years["annee"] == period.year]
        by_owner = {str(o): _person_ids(g) for o, g in year.groupby(ind.OWNER)}
        sheets_of = {str(r["owner"]["cle"]): (r, f) for r, f in owner_members}
        by_owner = {o: ids for o, ids in by_owner.items() if o in sheets_of}
        counts: dict = {}
        for ids in by_owner.values():
            for person in ids:
                counts[person] = counts.get(person, 0) + 1
        shared = {p for p, n in counts.items() if n > 1}
        inside = sorted(o for o, ids in by_owner.items() if ids and not ids & shared
                        and ids <= crowd)
        if not inside:
            continue
        remainder = set().union(*(by_owner[o] for o in inside)) != crowd
        owner_tables = {o: table_of(*sheets_of[o], "beneficiaires_par_annee") for o in inside}
        for column, dep_name, dep_row in DEPARTEMENT_CELLS:
            found = table_of(record, folder, dep_name)
            if found is None or dep_row not in found[2]:
                continue
            total = ((found[0], found[2][dep_row], found[1][0]),)
            header = YEARLY_COLUMNS[column]
            parts = tuple((t[0], t[2][str(period.year)], header) for t in owner_tables.values()
                          if t is not None and str(period.year) in t[2] and header in t[1])
            if parts:
                relations.append(disclosure.Relation(total, parts, remainder))
    return relations


def joint_audit(reports_dir: Path | None = None, k: int | None = None,
                data: OwnerData | None = None, processed: Path | None = None) -> JointAudit:
    """The owner sheets audited in one system with the buyer sheets and the département sheets
    of the buyer sheets' period on disk: every equation their records declare (margins, nested
    « dont » columns, shared counts) plus those of :func:`joint_relations` between the owner
    sheets and the département sheets. Run by ``observatoire report`` after the owner sheets;
    the command fails when a cell is recovered.

    No equation ties an owner sheet's cells to a buyer sheet's: the owner sheets count people by
    calendar year over the owner's large projects, the buyer sheets every year together over all
    of a buyer's operations (no published cell of one is a sum of cells of the other;
    ``docs/disclosure.md``, « Owner sheets »).
    """
    from .buyer_sheets import departement_people
    from .buyer_sheets import members as buyer_members

    reports_dir = Path(reports_dir or config.paths().reports)
    owners = members(reports_dir)
    if not owners:
        return JointAudit([], 0, 0, 0)
    buyers = buyer_members(reports_dir)
    period = Period.parse(buyers[0][0]["period"] if buyers else owners[0][0]["period"])
    departements = sheets.departement_members(reports_dir, period)
    relations: list = []
    if departements and not period.quarter:
        data = data if data is not None else compute(processed)
        if data.people_years is not None:
            crowds = departement_people(period, [r["territory"] for r, _ in departements])
            relations = joint_relations(owners, departements, data.people_years, crowds)
    return sheets.audit_jointly([*owners, *buyers, *departements], relations, k)


# --- Index ----------------------------------------------------------------------------------------


def index_section(reports_dir: Path) -> str:
    """The owners' section of ``reports/index.html`` ("" when no sheet was rendered)."""
    listing = read_record(Path(reports_dir) / FOLDER / LISTING)
    if not listing or not listing.get("maitres_ouvrage"):
        return ""
    esc = html.escape
    rows = []
    for o in listing["maitres_ouvrage"]:
        rows.append(f'<tr><td><a href="{FOLDER}/{esc(o["cle"])}.html">{esc(o["nom"])}</a></td>'
                    f'<td>{esc(o.get("siret") or "sans SIRET (" + o["cle"] + ")")}</td>'
                    f'<td>{number_fr(o["marches_grand_paris"])}</td>'
                    f'<td>{number_fr(o["operations"])}</td></tr>')
    return ('<h2 id="maitres-ouvrage">Fiches maître d\'ouvrage (grands projets)</h2>\n'
            "<p>Une fiche par maître d'ouvrage de grand projet : obligation d'heures d'insertion "
            "(5 %, 10 % à partir d'octobre 2020) et heures réalisées par ligne, lot et marché, "
            "part des PME, bénéficiaires par année comme les publient les observatoires "
            "régionaux des grands projets.</p>\n"
            "<table>\n<thead><tr><th>Maître d'ouvrage</th><th>SIRET</th>"
            "<th>Marchés du Grand Paris</th><th>Opérations suivies</th></tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table>\n")


__all__ = ["compute", "compute_from", "render_sheet", "render_all", "members", "audit",
           "joint_relations", "joint_audit", "index_section", "OwnerData", "OwnerReport", "OwnerSummary"]
