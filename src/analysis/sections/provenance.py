"""Sources and processing: what every report ends with (sources, extraction dates, row counts,
rejections, the suppression rule)."""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from ..disclosure import footnote
from ..present import datetime_fr, number_fr

SOURCES_FR = {
    "decp": "Données essentielles de la commande publique (DECP)",
    "acheteurs": "Annuaire des acheteurs",
    "tracking": "Exports du logiciel de suivi des clauses (facilitateurs)",
    "grand_paris": "Marchés de travaux du Grand Paris Express",
    "structures": "Annuaire des SIAE et structures du handicap",
}


def _date(value) -> str:
    if value is None or pd.isna(value):
        return "–"
    return pd.Timestamp(value).strftime("%d/%m/%Y")


def source_table(scope) -> pd.DataFrame:
    """Per source: files, rows read, kept, rejected, merged, and the latest extraction date."""
    accounting = scope.table("accounting")
    table = accounting.groupby("source").agg(
        fichiers=("file", "size"), lus=("read", "sum"), gardes=("kept", "sum"),
        rejetes=("rejected", "sum"), fusionnes=("merged", "sum")).reset_index()
    extraction = {
        "decp": scope.table("contracts")["datePublicationDonnees"].max(),
        "tracking": scope.table("outcomes")["date_export"].max(),
    }
    table["extraction"] = table["source"].map(lambda s: _date(extraction.get(s)))
    table["source"] = table["source"].map(lambda s: SOURCES_FR.get(s, s))
    return table


def sources(scope, report) -> list:
    """Where the figures come from, with the row accounting and the suppression rule."""
    from ..warehouse import load_manifest

    manifest = load_manifest()
    table = source_table(scope)
    totals = table[["lus", "gardes", "rejetes", "fusionnes"]].sum()
    lines = [
        f"- Entrepôt construit le {datetime_fr(manifest.get('built_at', '?'))} à partir de "
        f"{number_fr(len(manifest.get('inputs', [])))} fichiers sources, chacun identifié par son "
        "empreinte SHA-256 (manifeste de l'entrepôt).",
        f"- Enregistrements lus : {number_fr(totals['lus'])} = {number_fr(totals['gardes'])} gardés "
        f"+ {number_fr(totals['rejetes'])} rejetés (mis en quarantaine avec leur motif) "
        f"+ {number_fr(totals['fusionnes'])} doublons fusionnés (republications).",
        f"- Anomalies signalées sur des enregistrements gardés : "
        f"{number_fr(manifest.get('warnings', 0))}.",
        f"- Pseudonymisation : {manifest.get('pseudonymisation', '–')} ; aucun nom, aucune date de "
        "naissance ne quitte l'ingestion.",
        f"- Secret statistique : aucun effectif de personnes inférieur à {report.k} n'est publié ; "
        "les cellules masquées (et celles qui permettraient de les recalculer) portent le symbole "
        f"« s ». {footnote(report.k)}",
    ]
    return [Markdown("\n".join(lines)), report.table(
        table, "sources", "Sources, extraction et comptage des enregistrements",
        integers=("fichiers", "lus", "gardes", "rejetes", "fusionnes"),
        columns={"source": "Source", "fichiers": "Fichiers", "lus": "Lus", "gardes": "Gardés",
                 "rejetes": "Rejetés", "fusionnes": "Doublons fusionnés",
                 "extraction": "Dernière extraction"},
        notes=["Lus = gardés + rejetés + doublons fusionnés, pour chaque fichier."])]
