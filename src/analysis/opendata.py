"""Open data (issue 17, point 2): one Frictionless data package per period, ready for data.gouv.fr.

For every period with published reports, ``reports/donnees/<period>/`` holds::

    datapackage.json                          the descriptor: Table Schema of every resource
                                              (French titles and descriptions), licence
                                              (Licence Ouverte 2.0), sources and provenance
    marches_considerations_sociales.csv       the *données étendues*: one row per DECP contract
                                              of the period with a social consideration
    chiffres_cles.csv                         the key figures of every report and buyer sheet
    agregats/<rapport>.<tableau>.csv          every table the reports published, one resource per
                                              table name with its territories (or buyers) stacked

What is published, and from where
---------------------------------
* **Aggregates** are the CSV files the reports and the buyer sheets published
  (``<slug>_tableaux/<name>.csv``), already through disclosure control: they are copied, never
  recomputed. Only their encoding changes (UTF-8 without BOM, comma separator, decimal point, ISO
  dates); ``s`` (secret statistique) stays ``s`` and is declared a missing value. A stacked
  resource adds the territory code (or the buyer's SIRET) and the row's position in the published
  table (``ligne``), which together are its primary key.
* **Données étendues** are public DECP data (the contracts of the région's reports: place of
  execution in the région, notified in the period, with at least one social consideration),
  enriched with what the observatory adds, each by the house function: the kinds of consideration
  (DECP flags), hours planned and realised and people on the tracking operations linked to the
  contract (``decp_uid``, as :func:`analysis.indicators.buyers.operations_of_buyers` links them),
  whether a holder is an inclusive supplier (:func:`analysis.indicators.structures.holder_families`)
  and the loi Climat et résilience status
  (:func:`analysis.indicators.readiness.classify_thresholds`). People counts and hours go through
  the reports' disclosure control (:func:`analysis.disclosure.protect`, then the dominance rule of
  :func:`analysis.disclosure.protect_magnitudes`), the contracts of one buyer protected together
  with their sum as a margin: no count of 1 to *k* − 1 people is published, nor the hours of so
  few people, and no hidden cell is the difference between the buyer's total and the others.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are prefixed with an apostrophe (:func:`csv_safe`).

A package is written aside and swapped in whole (``reports/.donnees-<period>-<pid>``); it is
skipped when its inputs (the period's records and tables, the warehouse, the code, *k*) are those
of the package on disk.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import config, disclosure
from .publish import FORMULA_PREFIXES, csv_safe  # noqa: F401  (re-exported)
from .io import write_text
from .periods import Period
from .publish import CSV_OPTIONS, TABLES_SUFFIX, read_record

#: The descriptor's file name.
DESCRIPTOR = "datapackage.json"
#: The données étendues resource (name and file).
EXTENDED = "marches_considerations_sociales"
#: The key figures resource.
KEY_FIGURES = "chiffres_cles"
#: Sub-folder of the aggregates.
AGGREGATES = "agregats"
#: Missing values of the aggregates: empty (not applicable, no value) and the secrecy symbol.
MISSING = ["", disclosure.SECRET_SYMBOL]
TOTAL = "Ensemble"
BUYER_SLUG = "fiche_acheteur"
#: The slug of the EPT / EPCI sheets' tables in the package (``fiche_territoire.<table>``).
TERRITORY_SLUG = "fiche_territoire"

_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FR_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
#: Published headers whose values are codes or identifiers, never numbers.
_CODE_HEADER = re.compile(r"siret|siren|identifiant|code|\bid\b", re.I)


# --- The aggregates ------------------------------------------------------------------------------


@dataclass
class Published:
    """One published table of one report or buyer sheet."""

    slug: str            # the report's kind (``fiche_departementale``, ``fiche_acheteur`` …)
    key: str             # territory code or buyer SIRET
    title: str           # the report's French title
    table: dict          # the table's entry in the record
    csv: Path
    xlsx: Path


def _period_reports(reports: Path, period: Period) -> list[tuple[str, str, str, Path, dict]]:
    """``(slug, territory, title, folder, record)`` of the period's reports on disk."""
    from .suite import published_reports

    return [(spec.slug, territory, spec.title, path.parent, record)
            for found, territory, spec, path, record in published_reports(reports)
            if found.label == period.label and record]


def _period_buyers(reports: Path, period: Period) -> list[tuple[dict, Path]]:
    """``(record, folder)`` of the buyer sheets recorded with ``period``."""
    from .buyer_sheets import members

    return [(record, folder) for record, folder in members(reports)
            if record.get("period") == period.label]


def _period_territories(reports: Path, period: Period) -> list[tuple[dict, Path]]:
    """``(record, folder)`` of the EPT / EPCI sheets recorded with ``period``."""
    from .territory_sheets import members

    return [(record, folder) for record, folder in members(reports)
            if record.get("period") == period.label]


def published_tables(reports: Path, period: Period) -> list[Published]:
    """Every table the period's reports, buyer sheets and EPT / EPCI sheets published, in index
    order (the sheets' tables stacked by buyer SIRET or territory code)."""
    out = []
    for slug, territory, title, folder, record in _period_reports(reports, period):
        for table in record.get("tables", []):
            base = folder / f"{record['slug']}{TABLES_SUFFIX}" / table["name"]
            out.append(Published(slug, territory, title, table, base.with_suffix(".csv"),
                                 base.with_suffix(".xlsx")))
    for record, folder in _period_buyers(reports, period):
        for table in record.get("tables", []):
            base = folder / f"{record['slug']}{TABLES_SUFFIX}" / table["name"]
            out.append(Published(BUYER_SLUG, str(record["buyer"]["siret"]), "Fiche acheteur",
                                 table, base.with_suffix(".csv"), base.with_suffix(".xlsx")))
    for record, folder in _period_territories(reports, period):
        for table in record.get("tables", []):
            base = folder / f"{record['slug']}{TABLES_SUFFIX}" / table["name"]
            out.append(Published(TERRITORY_SLUG, str(record["territoire"]["code"]),
                                 "Fiche territoire (EPT / EPCI)", table,
                                 base.with_suffix(".csv"), base.with_suffix(".xlsx")))
    return out


def read_published_csv(path: Path) -> pd.DataFrame:
    """A published CSV as text, exactly as written (no value parsed, empty cells empty)."""
    return pd.read_csv(path, sep=CSV_OPTIONS["sep"], encoding="utf-8-sig", dtype=str,
                       keep_default_na=False)


def _notes(xlsx: Path) -> list[str]:
    """The notes under a published table (its XLSX « Notes » sheet, caption and subtitle
    left out); none when the workbook cannot be read."""
    try:
        notes = pd.read_excel(xlsx, sheet_name="Notes", dtype=str, engine="calamine")["Notes"]
        notes = notes.dropna().tolist()
    except (OSError, ValueError, KeyError):
        return []
    return [n for n in notes[2:] if not n.startswith("Source : Observatoire")]


def infer_field(name: str, values: pd.Series) -> tuple[dict, pd.Series]:
    """The Table Schema field of a published column, and its values written for that type.

    Values are text as published: ``s`` and empty cells are missing values; the others decide the
    type — ``boolean`` (True/False), ``integer``, ``number`` (decimal comma or point, written with
    a point), ``date`` (ISO, or dd/mm/yyyy written as ISO), else ``string`` (guarded by
    :func:`csv_safe`). A column named like a code or an identifier, or whose digits keep a
    leading zero, stays a string.
    """
    present = values[~values.isin(MISSING)]
    kind = "string"
    if len(present):
        if present.isin(["True", "False"]).all():
            kind = "boolean"
        elif _CODE_HEADER.search(name) or present.str.match(r"^0\d").any():
            kind = "string"
        elif present.str.match(_INTEGER).all():
            kind = "integer"
        elif present.str.match(_NUMBER).all():
            kind = "number"
        elif present.str.match(_ISO_DATE).all():
            kind = "date"
        elif present.str.match(_FR_DATE).all():
            kind = "date"
            values = values.str.replace(_FR_DATE, r"\3-\2-\1", regex=True)
    if kind == "number":
        values = values.str.replace(",", ".", regex=False)
    elif kind == "boolean":
        values = values.replace({"True": "true", "False": "false"})
    elif kind == "string":
        values = values.map(csv_safe)
    return {"name": name, "type": kind}, values


def _describe_column(header: str, people: set[str], magnitudes: set[str], k: int) -> str:
    text = f"Colonne « {header} » du tableau publié."
    if header.endswith("(%)"):
        text += " Pourcentage (0 à 100)."
    if header in people:
        text += (f" Effectif de personnes : « s » (secret statistique) quand il est inférieur à {k}"
                 " ou permettrait de recalculer une cellule masquée.")
    elif header in magnitudes:
        text += (" Grandeur (heures ou montants) soumise à la règle de dominance : « s » quand "
                 "elle a moins de 3 contributeurs ou qu'un seul en fait l'essentiel.")
    return text


def stack_aggregates(tables: list[Published], k: int) -> list[tuple[dict, pd.DataFrame]]:
    """One resource per (report kind, table name): the published tables stacked, each row with
    its territory (or buyer) and its position in the published table.

    Returns
    -------
    list of (resource descriptor without path, frame of text values as they will be written)
    """
    groups: dict[tuple[str, str], list[Published]] = {}
    for item in tables:
        groups.setdefault((item.slug, item.table["name"]), []).append(item)
    out = []
    for (slug, name), items in groups.items():
        key_column = "acheteur_siret" if slug == BUYER_SLUG else "territoire"
        parts, columns = [], []
        for item in items:
            frame = read_published_csv(item.csv)
            for reserved in (key_column, "ligne"):
                if reserved in frame.columns:
                    raise ValueError(f"{item.csv} : colonne réservée « {reserved} » déjà publiée")
            frame.insert(0, "ligne", [str(i) for i in range(1, len(frame) + 1)])
            frame.insert(0, key_column, item.key)
            columns += [c for c in frame.columns if c not in columns]
            parts.append(frame)
        stacked = pd.concat(parts, ignore_index=True)[columns].fillna("")
        people = {h for item in items for h in item.table.get("people", [])}
        magnitudes = {h for item in items for h in item.table.get("magnitudes", [])}
        fields = []
        for column in columns:
            if column == key_column:
                spec = {"name": column, "type": "string",
                        "title": "SIRET de l'acheteur" if slug == BUYER_SLUG else "Territoire",
                        "description": ("SIRET de l'acheteur de la fiche." if slug == BUYER_SLUG
                                        else "Code SIREN de l'EPT ou de l'EPCI de la fiche."
                                        if slug == TERRITORY_SLUG
                                        else "Code du territoire du rapport : "
                                             f"{config.REGION_CODE} pour la "
                                             f"{config.region_label()}, sinon le code du "
                                             "département.")}
                values = stacked[column]
            elif column == "ligne":
                spec = {"name": column, "type": "integer", "title": "Ligne",
                        "description": "Position de la ligne dans le tableau publié (à partir "
                                       "de 1)."}
                values = stacked[column]
            else:
                spec, values = infer_field(column, stacked[column])
                spec["title"] = column
                spec["description"] = _describe_column(column, people, magnitudes, k)
            stacked[column] = values
            fields.append(spec)
        first = items[0]
        notes = _notes(first.xlsx)
        where = (f"{len(items)} fiche(s) acheteur" if slug == BUYER_SLUG
                 else f"{len(items)} fiche(s) EPT / EPCI" if slug == TERRITORY_SLUG
                 else f"{len(items)} territoire(s) : {', '.join(i.key for i in items)}")
        description = (f"Tableau « {first.table['caption']} » publié par « {first.title} » "
                       f"({where}), "
                       "copié tel que publié, après le contrôle du secret statistique : « s » "
                       "marque une cellule masquée."
                       + (" Notes : " + " ".join(notes) if notes else ""))
        resource = {
            "name": f"{slug}.{name}".lower(),
            "title": f"{first.title} — {first.table['caption']}",
            "description": description,
            "schema": {"fields": fields, "missingValues": MISSING,
                       "primaryKey": [key_column, "ligne"]},
            "sources": [{"title": f"{first.title}, tableau « {name} » (CSV publié)"}],
        }
        out.append((resource, stacked))
    return out


def key_figures(reports: Path, period: Period) -> pd.DataFrame:
    """The key figures of the period's reports and buyer sheets, as published (text)."""
    rows = []
    for slug, territory, _title, _folder, record in _period_reports(reports, period):
        for i, figure in enumerate(record.get("key_figures", []), start=1):
            rows.append([slug, territory, str(i), figure.get("label", ""),
                         figure.get("value", ""), figure.get("detail", ""),
                         "true" if figure.get("headline") else "false"])
    for record, _folder in _period_buyers(reports, period):
        for i, figure in enumerate(record.get("key_figures", []), start=1):
            rows.append([BUYER_SLUG, str(record["buyer"]["siret"]), str(i),
                         figure.get("label", ""), figure.get("value", ""),
                         figure.get("detail", ""), "true" if figure.get("headline") else "false"])
    frame = pd.DataFrame(rows, columns=["rapport", "perimetre", "rang", "libelle", "valeur",
                                        "detail", "principal"])
    for column in ("libelle", "valeur", "detail"):
        frame[column] = frame[column].map(csv_safe)
    return frame


KEY_FIGURES_FIELDS = [
    {"name": "rapport", "type": "string", "title": "Rapport",
     "description": "Nature du rapport (rapport_annuel, fiche_departementale, fiche_acheteur, "
                    "notebooks thématiques…)."},
    {"name": "perimetre", "type": "string", "title": "Périmètre",
     "description": "Code du territoire (11 : région ; sinon département) ou SIRET de l'acheteur "
                    "d'une fiche acheteur."},
    {"name": "rang", "type": "integer", "title": "Rang",
     "description": "Ordre du chiffre clé dans le rapport (à partir de 1)."},
    {"name": "libelle", "type": "string", "title": "Libellé",
     "description": "Ce que mesure le chiffre clé, tel que le rapport l'écrit."},
    {"name": "valeur", "type": "string", "title": "Valeur",
     "description": "Le chiffre clé tel que publié (format français : espace insécable, virgule "
                    "décimale, %)."},
    {"name": "detail", "type": "string", "title": "Détail",
     "description": "Intervalle de confiance, effectifs et précisions publiés avec le chiffre."},
    {"name": "principal", "type": "boolean", "title": "Chiffre principal",
     "description": "Vrai pour les chiffres que l'index des rapports affiche."},
]


# --- The données étendues ------------------------------------------------------------------------

#: The données étendues, column by column: (name, Table Schema type, French title (None: the data
#: dictionary's), French description).
EXTENDED_FIELDS: list[tuple[str, str, str | None, str]] = [
    ("uid", "string", None, "Identifiant unique du marché : SIRET de l'acheteur, « _ », "
     "identifiant du marché (clé de la table)."),
    ("id", "string", None, "Identifiant du marché donné par l'acheteur (DECP « id »)."),
    ("acheteur_id", "string", None, "SIRET de l'acheteur (DECP « acheteur.id »)."),
    ("acheteur_nom", "string", None, "Nom de l'acheteur (annuaire des acheteurs ou table "
     "consolidée des DECP)."),
    ("acheteur_categorie", "string", None, "Catégorie de l'acheteur (commune, département, "
     "bailleur social…)."),
    ("acheteur_departement", "string", None, "Département de l'acheteur."),
    ("objet", "string", None, "Objet du marché, tel que publié (DECP « objet »)."),
    ("nature", "string", None, "Nature du marché (DECP « nature »)."),
    ("procedure", "string", None, "Procédure de passation (DECP « procedure »)."),
    ("codeCPV", "string", None, "Code du vocabulaire commun des marchés publics (CPV)."),
    ("cpv_division", "string", None, "Deux premiers chiffres du code CPV (division)."),
    ("montant_initial", "number", None, "Montant hors taxes à la notification, en euros."),
    ("montant", "number", None, "Montant hors taxes après la dernière modification, en euros."),
    ("dureeMois", "number", None, "Durée en mois après la dernière modification."),
    ("dateNotification", "date", None, "Date de notification du marché."),
    ("annee", "integer", None, "Année de notification."),
    ("lieuExecution_code", "string", None, "Code du lieu d'exécution, tel que publié."),
    ("lieuExecution_typeCode", "string", None, "Nature du code du lieu d'exécution."),
    ("departement_execution", "string", None, "Département d'exécution, déduit du lieu "
     "d'exécution (vide pour un lieu régional)."),
    ("considerationsSociales", "string", None, "Considérations sociales déclarées, séparées par "
     "« , » (Clause sociale, Critère social, Marché réservé)."),
    ("clause_sociale", "boolean", None, "Vrai quand le marché porte une clause sociale "
     "(condition d'exécution, article L2112-2 du code de la commande publique)."),
    ("critere_social", "boolean", None, "Vrai quand le marché porte un critère social "
     "d'attribution (article R2152-7)."),
    ("marche_reserve", "boolean", None, "Vrai quand le marché est réservé (articles L2113-12 et "
     "L2113-13 ; les DECP ne les distinguent pas)."),
    ("considerationsEnvironnementales", "string", None, "Considérations environnementales "
     "déclarées, séparées par « , » ; vide quand le statut est inconnu."),
    ("n_titulaires", "integer", None, "Nombre de titulaires après la dernière modification qui "
     "les a changés."),
    ("titulaire_inclusif", "boolean", "Titulaire inclusif",
     "Vrai quand au moins un titulaire est une structure inclusive de l'annuaire des structures "
     "(SIAE : EI, ETTI, AI, ACI, GEIQ, EITI, SEP ; handicap : EA, EATT, ESAT), reconnue par son "
     "SIRET ou, à défaut, par son SIREN ; vide sans annuaire des structures."),
    ("famille_inclusive", "string", "Famille du titulaire inclusif",
     "« SIAE », « EA / ESAT » ou les deux, séparées par « , » ; vide quand aucun titulaire n'est "
     "inclusif ou sans annuaire."),
    ("seuil_ue", "number", "Seuil européen applicable (€ HT)",
     "Seuil européen de procédure formalisée du marché à sa notification (travaux ; fournitures et "
     "services de l'État ou des autres acheteurs) ; vide quand il ne peut pas être déterminé."),
    ("statut_climat_resilience", "string", "Statut loi Climat et résilience",
     "« soumis à l'obligation » : montant au moins égal au seuil européen et notification à "
     f"partir du {pd.Timestamp(config.CLIMATE_OBLIGATION_START).strftime('%d/%m/%Y')} (loi "
     "n° 2021-1104, art. 35 ; décret n° 2022-767 ; la date de notification tient lieu de date de "
     "lancement de la consultation, absente des DECP) ; « au-dessus des seuils, avant "
     "l'obligation » ; « sous les seuils » ; « indéterminé » (montant, seuil ou catégorie "
     "d'acheteur inconnus)."),
    ("operations_suivies", "integer", "Opérations suivies rattachées",
     "Opérations de clause suivies par les facilitateurs et rattachées au marché par son "
     "identifiant (decp_uid) ; vide sans données de suivi."),
    ("modalites", "string", "Modalités juridiques des opérations",
     "Modalités juridiques des opérations rattachées, séparées par « , »."),
    ("heures_prevues", "number", "Heures d'insertion prévues",
     "Somme des heures d'insertion prévues des opérations rattachées ; vide sans opération."),
    ("heures_realisees", "number", "Heures d'insertion réalisées",
     "Somme des heures des contrats de travail des opérations rattachées (toutes années) ; « s » "
     "(secret) quand elles sont celles de moins de k personnes, quand un employeur en fait "
     "l'essentiel ou qu'elles ont moins de 3 employeurs (règle de dominance), ou quand elles "
     "permettraient de recalculer une cellule masquée d'un autre marché du même acheteur ; vide "
     "sans opération."),
    ("beneficiaires", "integer", "Bénéficiaires",
     "Personnes distinctes ayant travaillé sur les opérations rattachées ; « s » (secret "
     "statistique) de 1 à k − 1 personnes, ou quand la cellule permettrait d'en recalculer une "
     "autre du même acheteur ; vide sans opération."),
]


def _dictionary_titles() -> dict[str, str]:
    from .schemas import dictionary_frame

    frame = dictionary_frame("contracts")
    return dict(zip(frame["colonne"], frame["titre"]))


def _optional_table(scope, name: str) -> pd.DataFrame | None:
    return scope.table(name) if scope.has(name) else None


def _climate_status(classified: pd.DataFrame) -> pd.Series:
    above = classified["au_dessus_seuil"]
    after = classified["dateNotification"] >= pd.Timestamp(config.CLIMATE_OBLIGATION_START)
    status = pd.Series("indéterminé", index=classified.index, dtype=object)
    status[above.eq(False).fillna(False).astype(bool)] = "sous les seuils"
    is_above = above.eq(True).fillna(False).astype(bool)
    status[is_above & ~after.fillna(False)] = "au-dessus des seuils, avant l'obligation"
    status[is_above & after.fillna(False)] = "soumis à l'obligation"
    return status


def _protect_execution(table: pd.DataFrame, work: pd.DataFrame, k: int) -> pd.DataFrame:
    """Secret mask (``beneficiaires``, ``heures_realisees``) of the contracts' execution cells.

    The contracts of one buyer are protected together, their sum a margin (an « Ensemble » row,
    not published here): the buyer sheet publishes the buyer's total of people and hours, equal
    to this sum when the buyer's people worked on one contract each and all its operations are
    linked to a contract. People counts go through :func:`analysis.disclosure.protect` (the sum
    taken as the margin even when a person counts in two contracts: a conservative equation),
    then hours through :func:`analysis.disclosure.protect_magnitudes` (the employers as
    contributors; hours of fewer than k people are as secret as the count). So a buyer never has
    a single hidden cell.

    Parameters
    ----------
    table
        One row per contract (index: ``uid``): ``acheteur_id``, ``beneficiaires``,
        ``heures_realisees``.
    work
        The work contracts of these contracts: ``uid``, ``acheteur_id``, ``participant_id``,
        ``heures`` and the employer's columns (:func:`analysis.sections.hours.employer`).
    k
        The small-cell threshold.

    Returns
    -------
    DataFrame
        Boolean, ``table``'s index, columns ``beneficiaires`` and ``heures_realisees``.
    """
    from .sections.hours import employer

    mask = pd.DataFrame(False, index=table.index, columns=["beneficiaires", "heures_realisees"])
    contributor = employer(work)
    groups = dict(tuple(work.groupby("acheteur_id", sort=False)))
    for buyer, rows in table.groupby("acheteur_id", sort=False):
        frame = rows[["beneficiaires", "heures_realisees"]].copy()
        frame.loc[TOTAL] = [int(rows["beneficiaires"].sum()), float(rows["heures_realisees"].sum())]
        frame["beneficiaires"] = frame["beneficiaires"].astype("int64")
        margins = disclosure.Margins(total_row=TOTAL)
        protected = disclosure.protect(frame, ["beneficiaires"], k=k, margins=margins)
        part = groups.get(buyer, work.iloc[0:0])
        contributions = disclosure.contributions(part["uid"], contributor.loc[part.index],
                                                 part["heures"], total_row=TOTAL)
        hours = disclosure.protect_magnitudes(
            frame, {"heures_realisees": contributions}, protected,
            margins=disclosure.Margins(total_row=TOTAL),
            derived={"heures_realisees": "beneficiaires"}, k=k)
        hidden = hours.mask.reindex(columns=mask.columns, fill_value=False).drop(index=TOTAL)
        mask.loc[hidden.index] = hidden.to_numpy(dtype=bool)
    return mask


def extended_contracts(period: Period, k: int, tables: dict | None = None
                       ) -> tuple[pd.DataFrame, dict]:
    """The données étendues of ``period``: one row per contract with a social consideration.

    Parameters
    ----------
    period
        The period (contracts notified in it).
    k
        The small-cell threshold.
    tables
        Warehouse tables already in memory (``contracts`` and optionally ``suppliers``,
        ``structures``, ``operations``, ``work_contracts``); default: the warehouse in force.

    Returns
    -------
    (DataFrame, dict)
        The rows, columns as :data:`EXTENDED_FIELDS`, values as text ready to write (``s`` for a
        secret cell, empty for a missing one); and counts: ``contrats_periode`` (contracts of the
        région's population notified in the period), ``statut_inconnu``,
        ``sans_consideration``, ``publies`` (= the first minus the two others), ``masquees``
        (secret cells).
    """
    from .indicators.structures import holder_families
    from .indicators.readiness import classify_thresholds
    from .scope import Scope
    from .sections.hours import MODALITIES

    scope = Scope(config.REGION_CODE, period, tables)
    names = [name for name, *_ in EXTENDED_FIELDS]
    if not scope.has("contracts"):     # no DECP in the warehouse (every source is optional)
        empty = pd.DataFrame({name: pd.Series(dtype=object) for name in names})
        return empty, {"contrats_periode": 0, "statut_inconnu": 0, "sans_consideration": 0,
                       "publies": 0, "masquees": 0}
    period_contracts = scope.period_contracts
    social = period_contracts["has_social_consideration"]
    chosen = period_contracts.loc[social.eq(True).fillna(False).astype(bool)]
    counts = {"contrats_periode": int(len(period_contracts)),
              "statut_inconnu": int(social.isna().sum()),
              "sans_consideration": int(social.eq(False).fillna(False).sum()),
              "publies": int(len(chosen))}
    out = pd.DataFrame(index=chosen.index)
    for name in names[:names.index("n_titulaires") + 1]:
        out[name] = chosen[name] if name in chosen.columns else pd.NA

    structures = _optional_table(scope, "structures")
    suppliers = _optional_table(scope, "suppliers")
    if structures is not None and suppliers is not None:
        holders = suppliers.loc[suppliers["uid"].isin(chosen["uid"]), ["uid", "titulaire_id"]]
        family = holder_families(holders["titulaire_id"], structures).map(
            {"siae": "SIAE", "ea_esat": "EA / ESAT"})
        joined = (holders.assign(f=family).dropna(subset=["f"]).drop_duplicates(["uid", "f"])
                  .sort_values(["uid", "f"], ascending=[True, False])
                  .groupby("uid")["f"].agg(", ".join))
        out["famille_inclusive"] = chosen["uid"].map(joined)
        out["titulaire_inclusif"] = out["famille_inclusive"].notna()
    else:
        out["titulaire_inclusif"] = pd.NA
        out["famille_inclusive"] = pd.NA

    classified = classify_thresholds(chosen)
    out["seuil_ue"] = classified["seuil_ue"]
    out["statut_climat_resilience"] = _climate_status(classified)

    operations = _optional_table(scope, "operations")
    work_contracts = _optional_table(scope, "work_contracts")
    secret = pd.DataFrame(False, index=out.index, columns=["beneficiaires", "heures_realisees"])
    if operations is not None and work_contracts is not None:
        linked = operations.loc[operations["decp_uid"].isin(chosen["uid"])]
        by_uid = linked.groupby("decp_uid")
        uid = chosen["uid"]
        out["operations_suivies"] = uid.map(by_uid.size()).fillna(0).astype("int64")
        out["modalites"] = uid.map(by_uid["modalite"].agg(
            lambda s: ", ".join(MODALITIES.get(m, m) for m in sorted(s.dropna().unique()))))
        out["heures_prevues"] = uid.map(by_uid["heures_prevues"].sum(min_count=1))
        work = work_contracts.merge(linked[["operation_id", "decp_uid"]], on="operation_id") \
            .rename(columns={"decp_uid": "uid"})
        work = work.assign(acheteur_id=work["uid"].map(chosen.set_index("uid")["acheteur_id"]))
        out["heures_realisees"] = uid.map(work.groupby("uid")["heures"].sum()).fillna(0.0)
        out["beneficiaires"] = uid.map(work.groupby("uid")["participant_id"].nunique()) \
            .fillna(0).astype("int64")
        has_ops = out["operations_suivies"] > 0
        if has_ops.any():
            table = pd.DataFrame({"acheteur_id": chosen.loc[has_ops, "acheteur_id"].to_numpy(),
                                  "beneficiaires": out.loc[has_ops, "beneficiaires"].to_numpy(),
                                  "heures_realisees": out.loc[has_ops, "heures_realisees"]
                                  .to_numpy()},
                                 index=chosen.loc[has_ops, "uid"].to_numpy())
            mask = _protect_execution(table, work.reset_index(drop=True), k)
            secret.loc[has_ops] = mask.loc[chosen.loc[has_ops, "uid"]].to_numpy()
        for column in ("modalites", "heures_prevues", "heures_realisees", "beneficiaires"):
            out[column] = out[column].astype(object).where(has_ops.to_numpy(), None)
    else:
        for column in ("operations_suivies", "modalites", "heures_prevues", "heures_realisees",
                       "beneficiaires"):
            out[column] = pd.NA
    text = pd.DataFrame({name: _as_text(out[name], kind)
                         for name, kind, *_ in EXTENDED_FIELDS})
    for column in secret.columns:
        text.loc[secret[column].to_numpy(), column] = disclosure.SECRET_SYMBOL
    counts["masquees"] = int(secret.to_numpy().sum())
    order = np.lexsort((text["uid"].to_numpy(), text["dateNotification"].to_numpy()))
    return text.iloc[order].reset_index(drop=True), counts


def _as_text(values: pd.Series, kind: str) -> pd.Series:
    """Values written for a Table Schema type (missing: empty)."""
    def one(value):
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return ""
        if kind == "boolean":
            return "true" if bool(value) else "false"
        if kind == "integer":
            return str(int(value))
        if kind == "number":
            number = float(value)
            return str(int(number)) if number.is_integer() else repr(round(number, 4))
        if kind == "date":
            return pd.Timestamp(value).strftime("%Y-%m-%d")
        return csv_safe(str(value))

    return pd.Series([one(v) for v in values.astype(object)], index=values.index, dtype=object)


def extended_resource(k: int) -> dict:
    """The descriptor of the données étendues (without path)."""
    titles = _dictionary_titles()
    fields = [{"name": name, "type": kind, "title": title or titles.get(name, name),
               "description": description}
              for name, kind, title, description in EXTENDED_FIELDS]
    return {
        "name": EXTENDED,
        "title": "Marchés publics avec une considération sociale — données étendues",
        "description": (
            "Une ligne par marché des données essentielles de la commande publique (DECP, données "
            f"publiques) exécuté en {config.region_label()} (lieu d'exécution ; à défaut "
            "l'acheteur), notifié "
            "dans la période et portant au moins une considération sociale, enrichi de ce que "
            "l'observatoire ajoute : nature des considérations, heures d'insertion prévues et "
            "réalisées et bénéficiaires des opérations suivies qui lui sont rattachées, titulaire "
            "inclusif ou non, statut au regard de la loi Climat et résilience. Aucun effectif de "
            f"moins de {k} personnes n'est publié (« s » : secret statistique)."),
        "schema": {"fields": fields, "missingValues": MISSING, "primaryKey": ["uid"]},
        "sources": [{"title": "Données essentielles de la commande publique (DECP)",
                     "path": "https://www.data.gouv.fr/fr/datasets/"
                             "donnees-essentielles-de-la-commande-publique-fichiers-consolides/"},
                    {"title": "Suivi des clauses sociales par les facilitateurs (données "
                              "confidentielles, publiées agrégées)"},
                    {"title": "Annuaire des structures d'insertion et du handicap"}],
    }


# --- Writing the packages ------------------------------------------------------------------------


@dataclass
class PackageResult:
    period: str
    folder: Path
    resources: int = 0
    contracts: int = 0
    skipped: bool = False


@dataclass
class OpenDataSummary:
    packages: list[PackageResult] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _root(reports: Path) -> Path:
    return reports / config.OPENDATA_FOLDER


def report_periods(reports: Path) -> list[Period]:
    """The periods with at least one published report, latest first."""
    from .suite import period_order as _period_order, published_reports

    found = {period.label: period for period, *_ in published_reports(reports)}
    return sorted(found.values(), key=_period_order)


def fingerprint(reports: Path, period: Period, k: int) -> str:
    """What decides a package: the period's records and published tables (bytes), the warehouse's
    content, the code and *k*."""
    from .publish import warehouse_fingerprint
    from .publish import code_fingerprint, content_manifest
    from .warehouse import load_manifest

    digest = hashlib.sha256(f"{period.label}|{k}|{code_fingerprint()}|".encode())
    digest.update(warehouse_fingerprint(content_manifest(load_manifest())).encode())
    files = []
    for slug, territory, _t, folder, record in _period_reports(reports, period):
        files.append(folder / f"{record['slug']}.json")
    for record, folder in _period_buyers(reports, period):
        files.append(folder / f"{record['buyer']['siret']}.json")
    for record, folder in _period_territories(reports, period):
        files.append(folder / f"{record['territoire']['code']}.json")
    files += [t.csv for t in published_tables(reports, period)]
    for path in files:
        digest.update(str(path.relative_to(reports)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def build_package(period: str | Period, reports_dir: Path | None = None, k: int | None = None,
                  force: bool = False, tables: dict | None = None) -> PackageResult:
    """Write (or keep, when current) the data package of one period.

    Parameters
    ----------
    period
        A period with published reports.
    reports_dir
        Default: the reports folder in force.
    k
        The small-cell threshold (never below the observatory's).
    force
        Write even when the package on disk was made from the same inputs.
    tables
        Warehouse tables in memory for the données étendues (default: the warehouse in force).

    Returns
    -------
    PackageResult
    """
    from .publish import input_versions, warehouse_fingerprint
    from .warehouse import load_manifest

    period = Period.parse(period)
    reports = Path(reports_dir or config.paths().reports)
    k = int(k or config.suppression_k())
    if k < config.suppression_k():
        raise ValueError(f"seuil de secret statistique {k} inférieur au seuil de l'observatoire")
    folder = _root(reports) / period.label
    digest = fingerprint(reports, period, k)
    current = read_record(folder / DESCRIPTOR) or {}
    if not force and current.get("observatoire", {}).get("empreinte") == digest:
        return PackageResult(period.label, folder, len(current.get("resources", [])),
                             int(current.get("observatoire", {}).get("marches", 0)), skipped=True)
    manifest = load_manifest()
    staging = reports / f".{config.OPENDATA_FOLDER}-{period.label}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        resources = []
        extended, counts = extended_contracts(period, k, tables)
        resource = extended_resource(k)
        resource.update(path=f"{EXTENDED}.csv")
        _write_csv(extended, staging / resource["path"])
        resources.append(resource)
        figures = key_figures(reports, period)
        _write_csv(figures, staging / f"{KEY_FIGURES}.csv")
        resources.append({
            "name": KEY_FIGURES, "path": f"{KEY_FIGURES}.csv",
            "title": "Chiffres clés des rapports et des fiches acheteur",
            "description": "Les chiffres clés affichés en tête de chaque rapport de la période et "
                           "de chaque fiche acheteur, tels que publiés (texte).",
            "schema": {"fields": KEY_FIGURES_FIELDS, "missingValues": [""],
                       "primaryKey": ["rapport", "perimetre", "rang"]}})
        for resource, frame in stack_aggregates(published_tables(reports, period), k):
            resource["path"] = f"{AGGREGATES}/{resource['name']}.csv"
            _write_csv(frame, staging / resource["path"])
            resources.append(resource)
        for resource in resources:
            resource.update(profile="tabular-data-resource", format="csv",
                            mediatype="text/csv", encoding="utf-8")
            resource["bytes"] = (staging / resource["path"]).stat().st_size
            resource["hash"] = "sha256:" + hashlib.sha256(
                (staging / resource["path"]).read_bytes()).hexdigest()
        descriptor = {
            "profile": "tabular-data-package",
            "name": f"observatoire-clauses-sociales-{period.label.lower()}",
            "title": f"Observatoire des clauses sociales — {config.REGION_NAME} — "
                     f"{period.label_fr}",
            "description": (
                f"Données ouvertes de l'observatoire des clauses sociales ({config.REGION_NAME}), "
                f"{period.label_fr} : tous les tableaux agrégés publiés par les rapports et les "
                "fiches acheteur, tels que publiés après le contrôle du secret statistique, leurs "
                "chiffres clés, et les données étendues des marchés publics avec une considération "
                "sociale. Les cellules « s » sont masquées (secret statistique : aucun effectif de "
                f"moins de {k} personnes, règle de dominance sur les heures et les montants). "
                "Méthodes : docs/indicators.md et docs/disclosure.md du dépôt de l'observatoire."),
            "keywords": ["clauses sociales", "commande publique", "DECP", "insertion",
                         "achats responsables", config.REGION_NAME],
            "licenses": [dict(config.OPENDATA_LICENCE)],
            "contributors": [{"title": config.OPENDATA_PUBLISHER, "role": "publisher"}],
            "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "sources": [
                {"title": "Données essentielles de la commande publique (DECP)",
                 "path": "https://www.data.gouv.fr/fr/datasets/"
                         "donnees-essentielles-de-la-commande-publique-fichiers-consolides/"},
                {"title": "Exports des logiciels de suivi des clauses sociales des coordinations "
                          "départementales (données personnelles pseudonymisées, publiées "
                          "agrégées)"},
                *([{"title": "Marchés du Grand Paris Express"}]
                  if config.region_facts().grand_paris else []),
                {"title": "Annuaire des structures d'insertion et du handicap"},
            ],
            "resources": resources,
            # Provenance: the warehouse and the files it was built from, and what decides the
            # package (skipped when unchanged).
            "observatoire": {
                "empreinte": digest, "periode": period.label, "seuil_secret": k,
                "marches": counts["publies"], "comptage_marches": counts,
                "entrepot": {"construit_le": manifest.get("built_at"),
                             "empreinte": warehouse_fingerprint(manifest),
                             "version_code": manifest.get("code_version"),
                             "sources": input_versions(manifest)},
            },
        }
        write_text(staging / DESCRIPTOR,
                   json.dumps(descriptor, ensure_ascii=False, indent=1) + "\n")
        _swap(reports, folder, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PackageResult(period.label, folder, len(resources), counts["publies"])


def _swap(reports: Path, folder: Path, staging: Path | None) -> None:
    """Put ``staging`` in place of ``folder`` (or remove ``folder``), the old one renamed aside
    first: no reader sees half of either."""
    old = reports / f".{config.OPENDATA_FOLDER}-old-{folder.name}-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    if staging is not None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def build_all(reports_dir: Path | None = None, k: int | None = None,
              force: bool = False) -> OpenDataSummary:
    """The data package of every period with published reports (each skipped when current);
    packages of periods without reports any more are removed."""
    started = time.perf_counter()
    reports = Path(reports_dir or config.paths().reports)
    if k is not None and int(k) < config.suppression_k():
        raise ValueError(f"seuil de secret statistique {k} inférieur au seuil de l'observatoire")
    summary = OpenDataSummary()
    periods = report_periods(reports)
    for period in periods:
        summary.packages.append(build_package(period, reports, k, force))
    root = _root(reports)
    if root.is_dir():
        wanted = {p.label for p in periods}
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and folder.name not in wanted:
                _swap(reports, folder, None)
                summary.removed.append(folder.name)
    summary.seconds = time.perf_counter() - started
    return summary


def index_section(reports_dir: Path) -> str:
    """The open-data block of ``reports/index.html`` ("" when no package is on disk)."""
    root = _root(Path(reports_dir))
    items = []
    for descriptor in sorted(root.glob(f"*/{DESCRIPTOR}"), reverse=True):
        found = read_record(descriptor)
        if not found:
            continue
        try:
            label = Period.parse(descriptor.parent.name).label_fr
        except ValueError:
            continue
        href = html.escape(f"{config.OPENDATA_FOLDER}/{descriptor.parent.name}/{DESCRIPTOR}")
        extended = html.escape(f"{config.OPENDATA_FOLDER}/{descriptor.parent.name}/{EXTENDED}.csv")
        items.append(
            f'<li>{html.escape(label.capitalize())} : <a href="{href}">{DESCRIPTOR}</a> '
            f"({len(found.get('resources', []))} ressources) · "
            f'<a href="{extended}">données étendues (CSV)</a></li>')
    if not items:
        return ""
    return ('<h2 id="donnees-ouvertes">Données ouvertes</h2>\n'
            "<p>Pour chaque période, un paquet de données Frictionless (Licence Ouverte 2.0) : "
            "tous les tableaux publiés, tels que publiés, et les marchés avec une considération "
            "sociale enrichis par l'observatoire.</p>\n<ul>\n" + "\n".join(items) + "\n</ul>\n")


__all__ = ["build_all", "build_package", "extended_contracts", "stack_aggregates",
           "published_tables", "index_section", "csv_safe", "infer_field", "report_periods"]
