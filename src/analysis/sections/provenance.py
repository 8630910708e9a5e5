"""Sources and processing: what every report ends with (sources, extraction dates, row counts,
rejections, the suppression rule)."""

from __future__ import annotations

import re

import pandas as pd
from IPython.display import Markdown

from ..disclosure import footnote
from ..present import datetime_fr, number_fr
from .needs import absent_sources_text

SOURCES_FR = {
    "decp": "Données essentielles de la commande publique (DECP)",
    "acheteurs": "Annuaire des acheteurs",
    "tracking": "Exports du logiciel de suivi des clauses (facilitateurs)",
    "grand_paris": "Marchés de travaux du Grand Paris Express",
    "structures": "Annuaire des SIAE et structures du handicap",
}


#: The ``source`` of the warnings found by validating the tables (:mod:`analysis.schemas`).
VALIDATION = "validation"

#: Validation checks, by (table, column), that re-check over a whole table what a reader already
#: flagged record by record, and the reader's rule: their cases are shown but not added again.
RECHECKS: dict[tuple[str, str], str] = {
    ("suppliers", "titulaire_id"): "titulaire : SIRET invalide",
    ("operations", "heures_realisees"): "heures réalisées incohérentes",
}

_CASES = re.compile(r" : (\d+) cas(?: \(ex\. : |$)")


def load_warnings(scope) -> pd.DataFrame:
    """The warnings table (``rejects/warnings.parquet``), loaded once per scope's tables."""
    if "warnings" not in scope._tables:
        from ..warehouse import WARNINGS, _warehouse

        path = _warehouse(None) / WARNINGS
        scope._tables["warnings"] = (pd.read_parquet(path) if path.is_file() else
                                     pd.DataFrame(columns=["source", "file", "record", "rule",
                                                           "message"]))
    return scope._tables["warnings"]


def _cases(row) -> int:
    """Cases behind one warning row: 1 for a record a reader flagged; for a validation check, the
    number of cases its message gives (« … : 396 cas (ex. : …) », ``schemas.Failure.message``)."""
    if row.source != VALIDATION:
        return 1
    found = _CASES.search(str(row.message))
    return int(found.group(1)) if found else 1


def anomalies(warnings: pd.DataFrame) -> pd.DataFrame:
    """Anomalies on kept records, counted in cases, by source and rule: the one count every
    section prints.

    A reader's warning is one case (one record). A validation check of the tables is one row for
    all its cases: it counts its cases, under the source that gives the table
    (:data:`analysis.warehouse.SOURCES`). A check that re-checks what a reader already flagged
    record by record (:data:`RECHECKS`) is shown with its cases but not counted again.

    Returns
    -------
    DataFrame
        One row per (source, rule): ``source, regle, cas, compte`` (cases added to the total:
        ``cas``, or 0 for a re-check) and ``deja_signale`` (the reader's rule a re-check repeats,
        else missing), sorted by source then cases, largest first.
    """
    from ..warehouse import SOURCES

    columns = ["source", "regle", "cas", "compte", "deja_signale"]
    if warnings.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("cas", "compte") else object)
                             for c in columns})
    table_source = {table: source for source, (_, _, tables) in SOURCES.items()
                    for table in tables}
    frame = pd.DataFrame({
        "source": warnings["source"].astype(str), "file": warnings["file"].astype(str),
        "record": warnings["record"].astype(str), "regle": warnings["rule"].astype(str),
        "cas": [_cases(row) for row in warnings.itertuples(index=False)]})
    checked = frame["source"].eq(VALIDATION)
    frame["deja_signale"] = [RECHECKS.get((f, r)) if v else None
                             for f, r, v in zip(frame["file"], frame["record"], checked)]
    frame.loc[checked, "source"] = frame.loc[checked, "file"].map(table_source).fillna(VALIDATION)
    frame["compte"] = frame["cas"].where(frame["deja_signale"].isna(), 0)
    table = frame.groupby(["source", "regle"], sort=False, dropna=False).agg(
        cas=("cas", "sum"), compte=("compte", "sum"), deja_signale=("deja_signale", "first"))
    table[["cas", "compte"]] = table[["cas", "compte"]].astype("int64")
    table = table.reset_index().sort_values(["source", "cas"], ascending=[True, False])
    return table[columns].reset_index(drop=True)


def anomaly_count(scope) -> int:
    """The number of anomalies on kept records (cases, each counted once) of the warehouse."""
    return int(anomalies(load_warnings(scope))["compte"].sum())


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
    extraction = {source: scope.table(name)[column].max()
                  for source, name, column in (("decp", "contracts", "datePublicationDonnees"),
                                               ("tracking", "outcomes", "date_export"))
                  if scope.has(name)}
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
        f"- Anomalies signalées sur des enregistrements gardés : {number_fr(anomaly_count(scope))} "
        "cas, chacun compté une fois.",
        f"- Pseudonymisation : {manifest.get('pseudonymisation', '–')} ; aucun nom, aucune date de "
        "naissance ne quitte l'ingestion.",
        f"- Secret statistique : aucun effectif de personnes inférieur à {report.k} n'est publié ; "
        "les cellules masquées (et celles qui permettraient de les recalculer) portent le symbole "
        f"« s ». {footnote(report.k)}",
    ]
    absent = absent_sources_text(scope)
    if absent:
        lines.insert(1, f"- {absent}")
    return [Markdown("\n".join(lines)), report.table(
        table, "sources", "Sources, extraction et comptage des enregistrements",
        integers=("fichiers", "lus", "gardes", "rejetes", "fusionnes"),
        columns={"source": "Source", "fichiers": "Fichiers", "lus": "Lus", "gardes": "Gardés",
                 "rejetes": "Rejetés", "fusionnes": "Doublons fusionnés",
                 "extraction": "Dernière extraction"},
        notes=["Lus = gardés + rejetés + doublons fusionnés, pour chaque fichier."])]
