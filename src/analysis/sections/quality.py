"""Data quality and provenance: what was read, kept, rejected and merged, what is missing, how fresh.

The row accounting, the quarantine (``rejects``) and the warnings cover the whole warehouse: every
report is built from the same warehouse, so they are shown as they are for every territory; a
département's report also names its coordination's tracking files. Completeness is measured on
the territory's own records (its DECP contracts, its participants and work contracts).

Counts of rejected or flagged *records* (a contract, a tracking row) are not counts of people
described by an attribute and are published as they are; reject messages and record ids are never
shown (they may quote pseudonymised participant ids). Counts of *participants* with a missing
attribute go through the report's disclosure control.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from IPython.display import Markdown

from .. import config
from ..indicators import progression
from ..present import datetime_fr, number_fr
from ..plots import PALETTE, apply_style, percent_fr
from ..stats import wilson_interval
from .progression import partial_year_note
from .needs import DECP, TRACKING, absent_sources_text, has_all, needs
from .provenance import _date, anomalies, anomaly_count, load_warnings

#: Short French names of the sources, for tables.
SOURCES_SHORT = {
    "decp": "DECP",
    "acheteurs": "Annuaire des acheteurs",
    "tracking": "Suivi des clauses (facilitateurs)",
    "grand_paris": "Grand Paris Express",
    "structures": "Structures d'insertion et du handicap",
}

#: What a rule means, in French, matched on the rule's text (first match wins).
RULES_FR: tuple[tuple[str, str], ...] = (
    ("validation : référence présente", "contrôle des tables : identifiant renvoyant à un "
                                        "enregistrement absent de la table visée (par exemple un "
                                        "marché absent des DECP) : gardé, signalé"),
    ("validation : SIRET valide", "contrôle des tables : SIRET de titulaire invalide, déjà "
                                  "signalé marché par marché à la lecture"),
    ("validation : égales à la somme des heures", "contrôle des tables : heures d'une opération "
                                                  "différentes de la somme de ses contrats, déjà "
                                                  "signalé opération par opération à la lecture"),
    ("dans le futur", "date postérieure à la date de construction de l'entrepôt : erreur de "
                      "saisie, l'enregistrement est écarté"),
    ("hors période", "date antérieure à la première année admise pour ces données : écarté"),
    ("dateNotification invalide", "date de notification absente ou illisible : le marché ne peut "
                                  "être rattaché à une année, il est écarté"),
    ("fin de contrat avant le début", "contrat de travail dont la date de fin précède la date de "
                                      "début : écarté"),
    ("heures réalisées invalides", "heures réalisées négatives ou illisibles : contrat écarté"),
    ("heures réalisées incohérentes", "total d'heures réalisées déclaré pour une opération "
                                      "différent de la somme de ses contrats de travail : gardé, "
                                      "la somme des contrats fait foi"),
    ("participant inconnu", "contrat de travail dont la personne n'existe pas dans l'onglet des "
                            "participants de l'export : écarté"),
    ("opération inconnue", "contrat de travail rattaché à une opération absente de l'export : "
                           "écarté"),
    ("montant nul ou négatif", "marché gardé, exclu des sommes de montants"),
    (progression.NO_PLACE_RULE, "marché publié sans lieu d'exécution : gardé, compté dans la "
                                "région si son acheteur y est établi (dans aucun département), "
                                "sinon dans aucun territoire"),
    ("SIRET invalide", "numéro SIRET invalide (longueur ou clé de Luhn) : gardé, "
                       "signalé"),
    ("commune de résidence inconnue", "code commune de résidence absent du référentiel des "
                                      "communes : gardé, la commune est traitée comme inconnue"),
    ("commune de l'opération inconnue", "code commune du lieu de l'opération absent du "
                                        "référentiel : gardé, lieu traité comme inconnu"),
    ("commune inconnue", "code commune absent du référentiel : gardé, lieu traité comme inconnu"),
    ("valeur inconnue", "valeur hors de la nomenclature attendue : gardée comme « inconnue »"),
    ("illisible", "valeur illisible"),
    ("invalide", "valeur absente ou au format invalide"),
    ("durée nulle ou négative", "durée nulle ou négative"),
    ("âge", "âge improbable (hors de 14 à 80 ans à l'entrée) : gardé, âge traité comme inconnu"),
    ("obligatoire", "identifiant obligatoire absent : écarté"),
)

#: Tracking fields whose completeness is shown: (table, column, French label, unknown values).
TRACKING_FIELDS = (
    ("participants", "sexe", "Sexe", ()),
    ("participants", "tranche_age", "Âge (tranche à l'entrée)", ()),
    ("participants", "diplome", "Niveau de diplôme", ("inconnu",)),
    ("participants", "qpv", "Résidence en QPV", ()),
    ("participants", "commune_residence", "Commune de résidence", ()),
    ("participants", "prescripteur", "Prescripteur", ()),
    ("participants", "public", "Public éligible", ()),
    ("work_contracts", "type_contrat", "Type de contrat de travail", ()),
    ("work_contracts", "code_rome", "Code ROME du poste", ()),
    ("work_contracts", "heures", "Heures réalisées", ()),
    ("outcomes", "situation_6_mois", "Situation 6 mois après la sortie", ("inconnue",)),
)

TABLES_FR = {"participants": "Participants", "work_contracts": "Contrats de travail",
             "outcomes": "Sorties"}


def explain(rule: str) -> str:
    """The French explanation of a rejection or warning rule ("–" when none is written)."""
    for pattern, text in RULES_FR:
        if pattern.lower() in str(rule).lower():
            return text
    return "–"


def _warnings(scope) -> pd.DataFrame:
    """The warnings table (``rejects/warnings.parquet``): :func:`provenance.load_warnings`."""
    return load_warnings(scope)


# --- Accounting ----------------------------------------------------------------------------------


def accounting_by_source(scope) -> pd.DataFrame:
    """Per source: files, read, kept, rejected, merged, rejection rate (Wilson) and warnings."""
    accounting = scope.table("accounting")
    table = accounting.groupby("source", sort=False).agg(
        fichiers=("file", "size"), lus=("read", "sum"), gardes=("kept", "sum"),
        rejetes=("rejected", "sum"), fusionnes=("merged", "sum")).reset_index()
    warns = anomalies(_warnings(scope)).groupby("source")["compte"].sum()
    table["anomalies"] = table["source"].map(warns).fillna(0).astype("int64")
    table["taux_rejet"] = table["rejetes"] / table["lus"].where(table["lus"] > 0)
    low, high = wilson_interval(table["rejetes"], table["lus"])
    table["ic_bas"], table["ic_haut"] = low, high
    return table


def key_figures(scope, report) -> None:
    """Record the rejection rate, the unknown DECP status of the period and the export date."""
    table = accounting_by_source(scope)
    read, rejected = int(table["lus"].sum()), int(table["rejetes"].sum())
    if read:
        low, high = wilson_interval(rejected, read)
        report.key_figure("des enregistrements lus rejetés (mis en quarantaine avec leur motif)",
                          percent_fr(rejected / read, 2),
                          f"IC 95 % {percent_fr(low, 2)} – {percent_fr(high, 2)} ; "
                          f"{number_fr(rejected)} sur {number_fr(read)}, toutes sources")
    unknown_status_figure(scope, report)
    export_figure(scope, report)


@needs(*DECP, label="complétude des DECP", quiet=True)
def unknown_status_figure(scope, report) -> None:
    """Key figure: the period's DECP contracts of the territory whose social status is unknown."""
    period = scope.period_contracts
    if len(period):
        unknown = int(period["considerationsSociales"].isna().sum())
        report.key_figure(
            f"des marchés DECP du territoire au statut social inconnu ({scope.period.label_fr})",
            percent_fr(unknown / len(period)),
            f"{number_fr(unknown)} sur {number_fr(len(period))} marchés, exclus des parts")


@needs("outcomes", label="fraîcheur du suivi des clauses", quiet=True)
def export_figure(scope, report) -> None:
    """Key figure: the latest export date of the clause tracking."""
    exports = scope.table("outcomes")["date_export"]
    if exports.notna().any():
        report.key_figure("date du dernier export de suivi des clauses", _date(exports.max()),
                          "les mois qui la précèdent sont incomplets")


def summary(scope, report) -> list:
    """A short paragraph and the accounting table by source, for the end of every report."""
    table = accounting_by_source(scope)
    totals = table[["lus", "gardes", "rejetes", "fusionnes", "anomalies"]].sum()
    rate = totals["rejetes"] / totals["lus"] if totals["lus"] else np.nan
    low, high = wilson_interval(totals["rejetes"], totals["lus"])
    worst = table.sort_values("taux_rejet", ascending=False).iloc[0] if len(table) else None
    text = (f"L'entrepôt a lu {number_fr(totals['lus'])} enregistrements : "
            f"{number_fr(totals['gardes'])} sont gardés, {number_fr(totals['rejetes'])} rejetés "
            f"({percent_fr(rate, 2)}, IC 95 % {percent_fr(low, 2)} – {percent_fr(high, 2)}) et mis "
            f"en quarantaine avec leur motif, {number_fr(totals['fusionnes'])} doublons fusionnés "
            "(republications). "
            f"{number_fr(anomaly_count(scope))} anomalies (cas, chacun compté une fois) sont "
            "signalées sur des enregistrements gardés (par exemple un montant nul, exclu des "
            "sommes).")
    text += places_sentence(scope)
    absent = absent_sources_text(scope)
    if absent:
        text += " " + absent
    if worst is not None and worst["rejetes"] > 0:
        text += (f" Le taux de rejet le plus élevé est celui de la source « "
                 f"{SOURCES_SHORT.get(worst['source'], worst['source'])} » "
                 f"({percent_fr(worst['taux_rejet'], 2)}).")
    shown = table.assign(source=table["source"].map(lambda s: SOURCES_SHORT.get(s, s)))
    return [Markdown(text), report.table(
        shown, "qualite_comptage_sources",
        "Enregistrements lus, gardés, rejetés et fusionnés par source",
        percent=("taux_rejet", "ic_bas", "ic_haut"),
        integers=("fichiers", "lus", "gardes", "rejetes", "fusionnes", "anomalies"),
        columns={"source": "Source", "fichiers": "Fichiers", "lus": "Lus", "gardes": "Gardés",
                 "rejetes": "Rejetés", "fusionnes": "Doublons fusionnés",
                 "anomalies": "Anomalies signalées", "taux_rejet": "Taux de rejet",
                 "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut"},
        notes=["Pour chaque fichier : lus = gardés + rejetés + doublons fusionnés. Taux de rejet : "
               "rejetés / lus, intervalle de Wilson à 95 %. Ensemble de l'entrepôt, qui alimente "
               "tous les territoires."])]


def places_sentence(scope) -> str:
    """The period's DECP contracts with no place of execution, and where they were counted."""
    if not has_all(scope, DECP):
        return ""
    contracts = scope.table("contracts")
    period = contracts.loc[scope.period.contains(contracts["dateNotification"])]
    missing = progression.without_place(period)
    if not missing.any():
        return ""
    region = int((missing & progression.buyer_in_region(period)).sum())
    total = int(missing.sum())
    return (f" {number_fr(total)} marchés DECP notifiés sur la période "
            f"({scope.period.label_fr}) n'ont pas de lieu d'exécution (règle « "
            f"{progression.NO_PLACE_RULE} ») : {number_fr(region)}, dont l'acheteur est établi en "
            f"{config.REGION_NAME}, sont comptés dans la région (dans aucun département), "
            f"{number_fr(total - region)} dans aucun territoire.")


def places_by_year(scope) -> pd.DataFrame:
    """DECP contracts with no place of execution by notification year (whole warehouse), and the
    territory they are counted in (:func:`analysis.indicators.progression.places_missing`)."""
    table = progression.places_missing(scope.table("contracts"), scope.period.first_year,
                                       scope.period.year)
    table["part"] = table["sans_lieu"] / table["marches"].where(table["marches"] > 0)
    table["ic_bas"], table["ic_haut"] = wilson_interval(table["sans_lieu"], table["marches"])
    return table


def _by_rule(frame: pd.DataFrame, read: pd.Series) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["source", "regle", "enregistrements", "part_lus",
                                     "explication"])
    table = frame.groupby(["source", "rule"]).size().rename("enregistrements").reset_index()
    table = table.rename(columns={"rule": "regle"})
    table["part_lus"] = table["enregistrements"] / table["source"].map(read)
    table["explication"] = table["regle"].map(explain)
    table = table.sort_values(["source", "enregistrements"], ascending=[True, False])
    table["source"] = table["source"].map(lambda s: SOURCES_SHORT.get(s, s))
    return table.reset_index(drop=True)


RULE_COLUMNS = {"source": "Source", "regle": "Règle", "enregistrements": "Enregistrements",
                "part_lus": "Part des lus"}


def _explanations(table: pd.DataFrame) -> Markdown:
    lines = [f"- **{rule}** : {text}." for rule, text in
             table.drop_duplicates("regle")[["regle", "explication"]].itertuples(index=False)
             if text != "–"]
    return Markdown("Ce que signifient les règles :\n\n" + "\n".join(lines))


def rejects_by_rule(scope, report) -> list:
    """Rejected records by source and rule, with what each rule means (counts only)."""
    read = scope.table("accounting").groupby("source")["read"].sum()
    table = _by_rule(scope.table("rejects"), read)
    if table.empty:
        return [Markdown("Aucun enregistrement n'a été rejeté.")]
    top = table.sort_values("enregistrements", ascending=False).iloc[0]
    lead = Markdown(
        f"Un enregistrement qui enfreint une règle bloquante est mis en quarantaine, avec le "
        f"fichier, sa position et la règle. Le motif le plus fréquent est « {top['regle']} » "
        f"({number_fr(top['enregistrements'])} enregistrements, source {top['source']}).")
    return [lead, report.table(
        table.drop(columns=["explication"]), "qualite_rejets_par_regle",
        "Enregistrements rejetés par source et par règle",
        percent=("part_lus",), integers=("enregistrements",),
        columns=RULE_COLUMNS,
        notes=["Comptes d'enregistrements (marchés, lignes d'export), pas de personnes ; les "
               "identifiants des enregistrements ne sont pas publiés."]), _explanations(table)]


def warnings_by_rule(scope, report) -> list:
    """Anomalies on kept records, in cases, by source and rule (:func:`provenance.anomalies`)."""
    read = scope.table("accounting").groupby("source")["read"].sum()
    counted = anomalies(_warnings(scope))
    if counted.empty:
        return [Markdown("Aucune anomalie n'a été signalée sur les enregistrements gardés.")]
    table = counted.rename(columns={"cas": "enregistrements"})
    table["part_lus"] = table["enregistrements"] / table["source"].map(read)
    table["explication"] = table["regle"].map(explain)
    table["dans_total"] = ["oui" if pd.isna(rule) else f"non, déjà compté (« {rule} »)"
                           for rule in table["deja_signale"]]
    table["source"] = table["source"].map(lambda s: SOURCES_SHORT.get(s, s))
    total = int(counted["compte"].sum())
    return [Markdown("Une anomalie ne bloque pas l'enregistrement : il est gardé, la valeur "
                     "douteuse est neutralisée (exclue des sommes, traitée comme inconnue) et "
                     f"l'anomalie est consignée. {number_fr(total)} anomalies au total, comptées "
                     "en cas : un enregistrement signalé à la lecture est un cas, un contrôle de "
                     "cohérence des tables (règles « validation : … ») compte tous les cas qu'il "
                     "trouve."), report.table(
        table[["source", "regle", "enregistrements", "part_lus", "dans_total"]],
        "qualite_anomalies_par_regle",
        "Anomalies signalées sur des enregistrements gardés, par source et par règle",
        percent=("part_lus",), integers=("enregistrements",),
        columns={**RULE_COLUMNS, "enregistrements": "Cas", "dans_total": "Dans le total"},
        notes=["Comptes de cas (enregistrements), pas de personnes. Un contrôle des tables qui "
               "revérifie une règle déjà signalée ligne à ligne à la lecture est montré sans "
               "être ajouté au total."]), _explanations(table)]


def by_file(scope, report, n: int = 12) -> list:
    """The files with the most rejections (a département's report: DECP and its own exports)."""
    accounting = scope.table("accounting")
    files = accounting
    if not scope.is_region:
        # the coordination's own exports, wherever they sit (older warehouses: by folder)
        own = (files["coordination"] == scope.territory).fillna(False).astype(bool) \
            if "coordination" in files else files["file"].str.startswith(
                f"tracking/{scope.territory}/")
        files = files.loc[own | (files["source"] != "tracking")]
    files = files.loc[files["rejected"] > 0]
    if files.empty:
        return [Markdown("Aucun fichier n'a d'enregistrement rejeté.")]
    table = files.sort_values(["rejected", "read"], ascending=[False, False]).head(n).copy()
    table["taux_rejet"] = table["rejected"] / table["read"].where(table["read"] > 0)
    table["source"] = table["source"].map(lambda s: SOURCES_SHORT.get(s, s))
    scope_note = ("" if scope.is_region else
                  f" Suivi des clauses : fichiers de la coordination {scope.territory} seulement.")
    return [report.table(
        table[["source", "file", "read", "kept", "rejected", "merged", "taux_rejet"]],
        "qualite_fichiers_rejets", f"Les {len(table)} fichiers aux rejets les plus nombreux",
        percent=("taux_rejet",),
        integers=("read", "kept", "rejected", "merged"),
        columns={"source": "Source", "file": "Fichier", "read": "Lus", "kept": "Gardés",
                 "rejected": "Rejetés", "merged": "Doublons fusionnés",
                 "taux_rejet": "Taux de rejet"},
        notes=["Chemin du fichier relatif au dossier des données d'entrée." + scope_note])]


# --- Completeness --------------------------------------------------------------------------------


def decp_unknown_by_year(scope) -> pd.DataFrame:
    """Territory's DECP contracts by notification year: social status unknown, share (Wilson)."""
    contracts = scope.history_contracts
    years = contracts["dateNotification"].dt.year
    keep = years.between(scope.period.first_year, scope.period.year)
    frame = pd.DataFrame({"annee": years[keep].astype(int),
                          "inconnu": contracts.loc[keep, "considerationsSociales"].isna()})
    table = frame.groupby("annee").agg(marches=("inconnu", "size"),
                                       statut_inconnu=("inconnu", "sum")).reset_index()
    table["statut_inconnu"] = table["statut_inconnu"].astype("int64")
    table["part"] = table["statut_inconnu"] / table["marches"].where(table["marches"] > 0)
    table["ic_bas"], table["ic_haut"] = wilson_interval(table["statut_inconnu"], table["marches"])
    return table


def tracking_completeness(scope) -> pd.DataFrame:
    """Missing values of the key tracking fields among the territory's records."""
    tables = {"participants": scope.participants, "work_contracts": scope.work_contracts,
              "outcomes": scope.outcomes}
    rows = []
    for table, column, label, unknown in TRACKING_FIELDS:
        frame = tables[table]
        if column not in frame.columns:
            continue
        values = frame[column]
        missing = values.isna() | values.astype(object).isin(list(unknown))
        if column == "code_rome":
            missing |= ~values.astype("string").str.strip().str.upper().str.match(
                r"^[A-N]\d{4}$").fillna(False).astype(bool)
        rows.append({"table": TABLES_FR[table], "champ": label, "enregistrements": len(frame),
                     "manquants": int(missing.sum())})
    out = pd.DataFrame(rows)
    out["part"] = out["manquants"] / out["enregistrements"].where(out["enregistrements"] > 0)
    return out


def completeness(scope, report) -> list:
    """Unknown DECP social status by year (chart and table), missing tracking fields (protected)."""
    return [*decp_completeness(scope, report), *tracking_fields(scope, report)]


@needs(*DECP, label="complétude des DECP")
def decp_completeness(scope, report) -> list:
    """DECP contracts of unknown social status by year (chart and table), and without a place of
    execution by year."""
    out = []
    decp = decp_unknown_by_year(scope)
    if decp.empty:
        out.append(Markdown("Aucun marché DECP dans le territoire sur l'historique."))
    else:
        import matplotlib.pyplot as plt

        apply_style()
        fig, ax = plt.subplots(figsize=(8, 3.8))
        ax.bar(decp["annee"], decp["part"], color=PALETTE["main"], width=0.6)
        ax.errorbar(decp["annee"], decp["part"],
                    yerr=[decp["part"] - decp["ic_bas"], decp["ic_haut"] - decp["part"]],
                    fmt="none", ecolor="#333333", capsize=4, linewidth=1)
        for year, value, high in zip(decp["annee"], decp["part"], decp["ic_haut"]):
            ax.text(year, high + 0.004, percent_fr(value), ha="center", fontsize=9)
        ax.set_ylim(0, max(0.05, float(decp["ic_haut"].max()) * 1.25))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: percent_fr(v, 0)))
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_xlabel("Année de notification")
        ax.set_ylabel("Part des marchés")
        ax.grid(axis="x", visible=False)
        ax.set_title(f"Marchés DECP au statut social inconnu — {scope.name}")
        fig.tight_layout()
        out.append(report.figure(
            fig,
            alt=(f"Barres de la part des marchés publiés dans les DECP dont la considération "
                 f"sociale n'est pas renseignée, par année de notification, {scope.name}, "
                 f"{decp['annee'].min()}-{decp['annee'].max()}, avec intervalles de confiance."),
            caption=("Part des marchés DECP dont le champ considerationsSociales est absent "
                     "(format 2019 ou publication incomplète), par année de notification. Ces "
                     "marchés sont exclus du dénominateur de la part des marchés avec "
                     "considération sociale. Traits : intervalle de confiance à 95 % (Wilson).")))
        out.append(report.table(
            decp, "qualite_decp_statut_inconnu",
            f"Marchés DECP au statut social inconnu par année de notification, {scope.name}",
            percent=("part", "ic_bas", "ic_haut"), integers=("marches", "statut_inconnu"),
            columns={"annee": "Année", "marches": "Marchés", "statut_inconnu": "Statut inconnu",
                     "part": "Part", "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut"},
            notes=["Marchés exécutés dans le territoire (DECP, données ouvertes).",
                   *partial_year_note(scope)]))
    places = places_by_year(scope)
    if places["marches"].sum():
        out.append(report.table(
            places[["annee", "marches", "sans_lieu", "part", "ic_bas", "ic_haut",
                    "sans_lieu_statut_connu", "comptes_region", "comptes_nulle_part"]],
            "qualite_lieu_execution_absent",
            f"Marchés DECP sans lieu d'exécution (règle « {progression.NO_PLACE_RULE} ») par "
            "année de notification, et territoire où ils sont comptés",
            percent=("part", "ic_bas", "ic_haut"),
            integers=("marches", "sans_lieu", "sans_lieu_statut_connu", "comptes_region",
                      "comptes_nulle_part"),
            columns={"annee": "Année", "marches": "Marchés notifiés", "sans_lieu": "Sans lieu",
                     "part": "Part", "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut",
                     "sans_lieu_statut_connu": "Dont statut social connu",
                     "comptes_region": f"Comptés dans la région ({config.REGION_NAME})",
                     "comptes_nulle_part": "Comptés dans aucun territoire"},
            notes=["Tous les marchés de l'entrepôt, quel que soit le territoire du rapport. Un "
                   "marché sans lieu d'exécution compte dans la région quand le département de "
                   "son acheteur (annuaire des acheteurs) y est ; il ne compte dans aucun "
                   "département. Acheteur absent de l'annuaire ou sans département : compté "
                   "dans aucun territoire."]))
    return out


@needs(*TRACKING, "outcomes", label="complétude du suivi des clauses")
def tracking_fields(scope, report) -> list:
    """Missing values of the key fields of the clause tracking (counts of people, protected)."""
    tracking = tracking_completeness(scope)
    if tracking.empty or tracking["enregistrements"].max() == 0:
        return [Markdown("Aucune donnée de suivi des clauses pour ce territoire.")]
    return [report.table(
        tracking, "qualite_champs_suivi",
        f"Valeurs manquantes des champs clés du suivi des clauses, {scope.name}",
        people=("enregistrements", "manquants"), derived={"part": "manquants"},
        margins=None, percent=("part",), integers=("enregistrements", "manquants"),
        columns={"table": "Onglet de l'export", "champ": "Champ",
                 "enregistrements": "Enregistrements", "manquants": "Manquants ou inconnus",
                 "part": "Part manquante"},
        notes=["Participants ayant travaillé sur une opération du territoire, leurs contrats de "
               "travail et leurs sorties. « Inconnu » compte comme manquant (diplôme « inconnu », "
               "situation « inconnue ») ; un code ROME illisible aussi.",
               "Un champ manquant fait sortir la personne des parts qui l'utilisent (elle forme "
               "le groupe « non renseigné »)."])]


# --- Freshness -----------------------------------------------------------------------------------


def freshness_table(scope) -> pd.DataFrame:
    """Per source: input files, latest extraction or publication date, latest record date."""
    from ..warehouse import load_manifest

    try:
        inputs = pd.DataFrame(load_manifest().get("inputs", []))
    except FileNotFoundError:
        inputs = pd.DataFrame(columns=["source", "file", "bytes"])

    def latest(name: str, column: str, upto=None):
        try:
            values = scope.table(name)[column]
        except (FileNotFoundError, KeyError):
            return None
        values = pd.to_datetime(values, errors="coerce")
        if upto is not None:
            values = values.loc[values <= upto]
        return values.max() if values.notna().any() else None

    rows = [
        ("decp", "Dernière publication",
         latest("contracts", "datePublicationDonnees"),
         "Notification d'un marché", latest("contracts", "dateNotification")),
        ("tracking", "Export des facilitateurs", latest("outcomes", "date_export"),
         "Début d'un contrat de travail", latest("work_contracts", "date_debut")),
        ("grand_paris", "–", None, "Notification d'un marché de travaux",
         latest("grand_paris", "date_notification")),
        ("structures", "–", None, "Création d'une structure",
         latest("structures", "date_creation")),
    ]
    table = pd.DataFrame(rows, columns=["source", "extraction_libelle", "extraction",
                                        "derniere_libelle", "derniere"])
    files = inputs.groupby("source").agg(fichiers=("file", "size"), octets=("bytes", "sum")) \
        if not inputs.empty else pd.DataFrame(columns=["fichiers", "octets"])
    table["fichiers"] = table["source"].map(files["fichiers"]).fillna(0).astype("int64")
    table["mo"] = table["source"].map(files["octets"]).fillna(0).astype(float) / 1e6
    table = table.loc[table["fichiers"] > 0].reset_index(drop=True)
    return table


def freshness(scope, report) -> list:
    """Extraction dates per source, the latest notification and export dates, the build date."""
    from ..warehouse import load_manifest

    manifest = load_manifest()
    table = freshness_table(scope)
    exports = []
    if scope.has("outcomes"):
        per_coordination = scope.table("outcomes").groupby("coordination")["date_export"].max()
        exports = sorted({_date(v) for v in per_coordination})
    lead = (f"Entrepôt construit le {datetime_fr(manifest.get('built_at', '?'))}. "
            + (f"Date des exports de suivi : {', '.join(exports)}." if exports else ""))
    if len(exports) > 1:
        lead += (" Les coordinations n'ont pas exporté le même jour : les derniers mois ne sont "
                 "pas comparables d'un département à l'autre.")
    def dated(label, value):
        return "–" if value is None or pd.isna(value) else f"{_date(value)} ({label.lower()})"

    shown = pd.DataFrame({
        "source": table["source"].map(lambda s: SOURCES_SHORT.get(s, s)),
        "fichiers": table["fichiers"], "mo": table["mo"],
        "extraction": [dated(l, v) for l, v in zip(table["extraction_libelle"],
                                                     table["extraction"])],
        "derniere": [dated(l, v) for l, v in zip(table["derniere_libelle"], table["derniere"])]})
    return [Markdown(lead), report.table(
        shown, "qualite_fraicheur", "Fraîcheur des sources",
        integers=("fichiers",), decimals={"mo": 1},
        columns={"source": "Source", "fichiers": "Fichiers", "mo": "Taille (Mo)",
                 "extraction": "Extraction ou publication",
                 "derniere": "Enregistrement le plus récent"},
        notes=["Les mois qui précèdent la date d'extraction sont incomplets : marchés publiés "
               "avec retard, contrats pas encore saisis."])]


METHOD = """- **Comptage** : chaque fichier d'entrée est lu en entier ; chaque enregistrement est soit
  gardé, soit rejeté (mis en quarantaine avec le fichier, sa position et la règle enfreinte), soit
  fusionné avec un doublon (un marché republié n'est gardé qu'une fois, dans sa dernière version).
  Pour chaque fichier : lus = gardés + rejetés + doublons fusionnés.
- **Rejets et anomalies** : une règle *bloquante* (date illisible, fin avant début, personne
  inconnue…) écarte l'enregistrement ; une règle *non bloquante* (montant nul, SIRET invalide,
  valeur hors nomenclature…) le garde en neutralisant la valeur douteuse et le signale. Le taux de
  rejet porte un intervalle de Wilson à 95 %.
- **Nombre d'anomalies** : compté en cas, chacun une fois, le même dans toutes les parties du
  rapport : un enregistrement signalé à la lecture est un cas ; un contrôle de cohérence des tables
  compte tous les cas qu'il trouve, sauf s'il revérifie une règle déjà signalée ligne à ligne à la
  lecture (il est alors montré sans être ajouté au total).
- **Périmètre** : le comptage, les rejets et les anomalies portent sur tout l'entrepôt, qui
  alimente tous les territoires ; la complétude porte sur les marchés exécutés dans le territoire
  et sur les personnes ayant travaillé sur une de ses opérations.
- **Complétude** : part des valeurs absentes ou « inconnues » de chaque champ ; pour les DECP, part
  des marchés sans champ `considerationsSociales` (notamment le format 2019), exclus du
  dénominateur des parts de marchés avec considération sociale.
- **Lieu d'exécution absent** : un marché publié sans lieu d'exécution est compté dans la région
  quand son acheteur y est établi (département de l'acheteur dans l'annuaire des acheteurs), dans
  aucun département ; sinon dans aucun territoire. Leur nombre est donné par année.
- **Confidentialité** : seuls des comptes sont publiés ; ni les messages détaillés ni les
  identifiants des enregistrements rejetés (qui peuvent citer des pseudonymes de participants) ne
  quittent l'entrepôt. Les comptes de personnes (valeurs manquantes des participants) suivent la
  règle du secret statistique."""


def method(scope=None, report=None) -> list:
    return [Markdown(METHOD)]
