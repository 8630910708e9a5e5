"""A tiny, readable valid input folder written from code, the faults the ingestion tests inject
into it, and an independent count of the records each raw file holds.

Used by ``test_bad_inputs.py``, ``test_properties.py``, ``test_privacy_scan.py`` and
``scripts/ingestion_figures.py``. Every value below is made up; the SIRETs carry a valid Luhn key
and the communes are codes of the reference geography.
"""

from __future__ import annotations

import csv
import sys
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

csv.field_size_limit(sys.maxsize)  # the corpus holds a 2 MB cell

#: A pseudonymisation key for the tests (never the demonstration key: the corpus is "real" data).
TEST_KEY = "cle-de-test-corpus-0123456789abcdef"

BUYER = "21930066400014"       # Ville de Saint-Denis (made up), valid SIRET
BUYER_2 = "21750001600019"
SGP = "34111468402057"
COMPANY = "55204599900869"
STRUCTURE_SIRETS = ["31662055806608", "92711603893679", "45446313430748"]

# --- DECP ----------------------------------------------------------------------------------------


def decp_record(n: int, buyer: str = BUYER, **extra) -> dict:
    record = {
        "id": f"2022-{n:04d}", "acheteur": {"id": buyer}, "nature": "Marché",
        "objet": f"Travaux lot {n}", "procedure": "Procédure adaptée", "codeCPV": "45000000",
        "dateNotification": f"2022-{(n % 12) + 1:02d}-15", "datePublicationDonnees": "2022-12-20",
        "montant": 10000 + 1000 * n, "dureeMois": 12,
        "lieuExecution": {"code": "93066", "typeCode": "Code commune"},
        "considerationsSociales": {"considerationSociale": ["Clause sociale"] if n % 2 else
                                   ["Pas de considération sociale"]},
        "titulaires": [{"titulaire": {"id": COMPANY, "typeIdentifiant": "SIRET"}}],
    }
    record.update(extra)
    return record


def decp_document(records: list) -> dict:
    return {"marches": {"marche": records}}


DECP_FILES = {
    "decp/acheteur_93.json": [decp_record(n) for n in range(1, 7)],
    "decp/acheteur_75.json": [decp_record(n, buyer=BUYER_2) for n in range(1, 4)],
}

# --- Tabular sources -----------------------------------------------------------------------------

BUYERS = [["SIRET", "Nom", "Catégorie", "Département"],
          [BUYER, "Ville de Saint-Denis", "Commune", "93"],
          [BUYER_2, "Ville de Paris", "Commune", "75"],
          [SGP, "Société des grands projets", "Société des grands projets", ""]]

GRAND_PARIS = [
    ["Identifiant marché DECP", "Ligne", "Lot", "Titulaire", "SIRET titulaire",
     "Date de notification", "Heures de travail totales", "Heures d'insertion prévues",
     "Heures d'insertion réalisées", "Montant HT", "Montant confié aux PME", "Département"],
    [f"{SGP}_GPE-1", "L16", "Lot 1", "Groupement Est", COMPANY, "28/09/2019", "95226,0",
     "4761,3", "8756,13", "14964111,77", "4444345,01", "93"],
    [f"{SGP}_GPE-2", "L15 Ouest", "Lot 2", "Groupement Ouest", COMPANY, "20/03/2021", "26211,0",
     "2621,1", "911,55", "4118929,32", "1062134,45", "92"],
    [f"{SGP}_GPE-3", "L17", "Lot 3", "Groupement Nord", COMPANY, "02/02/2022", "1000",
     "100", "120", "500000", "150000", "95"],
]

STRUCTURES = [
    ["SIRET", "Raison sociale", "Type", "Commune", "Secteurs", "Date de création"],
    [STRUCTURE_SIRETS[0], "Chantier d'insertion Envol", "ACI", "75056", "Espaces verts, Propreté",
     "21/12/1996"],
    [STRUCTURE_SIRETS[1], "Entreprise adaptée Élan", "EA", "93066", "Logistique, Services",
     "17/12/1986"],
    [STRUCTURE_SIRETS[2], "GEIQ BTP Est", "GEIQ", "93001", "BTP", "01/01/2005"],
]

OPERATIONS = [
    ["Code opération", "Libellé opération", "Maître d'ouvrage", "SIRET maître d'ouvrage",
     "Identifiant marché DECP", "Modalité", "Secteur", "Grand projet", "Département", "Commune",
     "Date de début", "Date de fin", "Heures prévues", "Heures réalisées"],
    ["OP-1", "Réhabilitation école", "Ville de Saint-Denis", BUYER, f"{BUYER}_2022-0001",
     "Clause d'exécution (L2112-2)", "BTP", "Non", "93", "93066", "01/03/2022", "30/11/2022",
     "1000", "750,5"],
    ["OP-2", "Ligne 16", "Société des grands projets", SGP, "", "Clause d'exécution (L2112-2)",
     "BTP", "Oui", "93", "93001", "01/01/2022", "31/12/2023", "5000", "300"],
]

#: Participants: raw ids, names and birth dates that must never reach data/processed.
PARTICIPANTS = [
    ["Identifiant participant", "Nom", "Prénom", "Date de naissance", "Sexe", "Niveau de diplôme",
     "Commune de résidence", "Résident QPV", "Public", "Prescripteur", "Formation qualifiante",
     "Date d'entrée"],
    ["P93-000101", "Quesnoy-Brindille", "Anatolie", "12/05/2000", "F", "Niveau V", "93066", "Oui",
     "Allocataire du RSA", "Mission locale", "Oui", "01/02/2022"],
    ["P93-000102", "Vasseur-Tombelaine", "Kerwan", "03/09/1970", "H", "Niveau 4 (Bac)", "93001",
     "Non", "Senior de plus de 50 ans", "France Travail", "Non", "15/02/2022"],
    ["P93-000103", "Ombredane", "Isaure", "20/01/1990", "F", "Niveau 4 (Bac)", "93001", "Non",
     "Demandeur d'emploi de longue durée", "PLIE", "Non", "01/03/2022"],
    ["P93-000104", "Lerouvillois", "Maëlwenn", "07/07/1985", "F", "Sans diplôme", "93066", "Oui",
     "Travailleur handicapé (RQTH)", "Cap emploi", "Oui", "01/04/2022"],
]

CONTRACTS = [
    ["Identifiant participant", "Code opération", "Employeur", "SIRET employeur",
     "Type d'employeur", "Type de contrat", "Date de début", "Date de fin", "Heures réalisées",
     "Code ROME", "Intitulé du poste"],
    ["P93-000101", "OP-1", "Bâtisseurs SA", COMPANY, "Entreprise attributaire", "CDD",
     "01/03/2022", "31/05/2022", "450", "F1703", "Maçon"],
    ["P93-000102", "OP-2", "ETTI Plaine", COMPANY, "ETTI", "Intérim", "01/04/2022", "30/06/2022",
     "300", "F1602", "Électricien"],
    ["P93-000103", "OP-1", "GEIQ BTP", COMPANY, "GEIQ", "Contrat de professionnalisation",
     "01/06/2022", "30/09/2022", "300,5", "F1703", "Maçon"],
    ["P93-000104", "OP-2", "Régie de quartier", COMPANY, "Régie de quartier", "CDDI",
     "01/05/2022", "30/06/2022", "0", "K2204", "Agent d'entretien"],
]

OUTCOMES = [
    ["Identifiant participant", "Date de fin du dernier contrat", "Situation à 6 mois",
     "Date du premier emploi durable", "Date de l'export"],
    ["P93-000101", "31/05/2022", "Emploi durable", "15/07/2022", "30/06/2026"],
    ["P93-000102", "30/06/2022", "Sans emploi", "", "30/06/2026"],
    ["P93-000103", "30/09/2022", "Sortie positive", "", "30/06/2026"],
]

TRACKING = {"operations.csv": OPERATIONS, "participants.csv": PARTICIPANTS,
            "contrats.csv": CONTRACTS, "sorties.csv": OUTCOMES}
XLSX_SHEETS = {"operations.csv": "Opérations", "participants.csv": "Participants",
               "contrats.csv": "Contrats", "sorties.csv": "Sorties"}

CSV_FILES = {
    "acheteurs/acheteurs.csv": BUYERS,
    "grand_paris/contrats_grand_paris.csv": GRAND_PARIS,
    "structures/structures_inclusion.csv": STRUCTURES,
    **{f"tracking/93/{name}": rows for name, rows in TRACKING.items()},
}


def csv_bytes(rows: list[list[str]], delimiter: str = ";", encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_corpus(raw: Path) -> Path:
    """Write the valid corpus into ``raw`` (created); returns ``raw``."""
    for relative, records in DECP_FILES.items():
        path = raw / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(decp_document(records), ensure_ascii=False, indent=1),
                        encoding="utf-8")
    for relative, rows in CSV_FILES.items():
        path = raw / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(csv_bytes(rows))
    return raw


def write_xlsx_export(folder: Path, tables: dict[str, list[list]] | None = None) -> Path:
    """The coordination's export as one workbook (sheets named as the software names them)."""
    import openpyxl

    tables = tables or TRACKING
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in tables.items():
        sheet = book.create_sheet(XLSX_SHEETS[name])
        for row in rows:
            sheet.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export_clauses_{folder.name}.xlsx"
    book.save(path)
    return path


# --- Counting raw records independently of the readers --------------------------------------------


def count_records(path: Path) -> int:
    """Records in a raw file, counted without the project's readers (JSON: marchés and
    concessions; CSV: non-empty lines after the header, with the csv module; XLSX: non-empty rows
    after the header, per sheet, summed)."""
    if path.suffix == ".json":
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
        body = document["marches"] if isinstance(document, dict) else document
        if isinstance(body, dict):
            return sum(len(body.get(k) or []) for k in ("marche", "contrat-concession"))
        return len(body)
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        total = sum(sum(1 for row in sheet.iter_rows(min_row=2, values_only=True)
                        if any(v not in (None, "") for v in row)) for sheet in book.worksheets)
        book.close()
        return total
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t|", key=first.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return sum(1 for row in rows[1:] if any(cell.strip() for cell in row))


def count_raw(raw: Path) -> dict[str, int]:
    """Records per input file (path relative to ``raw``), for every file a build reads."""
    out = {}
    for path in sorted(raw.rglob("*")):
        if path.is_file() and path.suffix == ".parquet":  # rows, from the file's own metadata
            import pyarrow.parquet as pq

            out[str(path.relative_to(raw))] = pq.ParquetFile(path).metadata.num_rows
        elif path.is_file() and path.suffix in (".json", ".csv", ".xlsx") \
                and path.name not in ("manifest.json", "mapping.json") \
                and not path.name.startswith("."):
            out[str(path.relative_to(raw))] = count_records(path)
    return out


# --- Faults ---------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One defect injected into the valid corpus, and what the build must say about it.

    ``level`` is ``"file"`` (the build stops, exit 2, the message names ``file`` and contains every
    word of ``expect``) or ``"row"`` (the build completes; ``file`` has a quarantined row — or,
    with ``warning=True``, a kept row with a reported anomaly — at ``record`` under ``rule``).
    """

    name: str
    level: str
    file: str
    inject: Callable[[Path], None]
    expect: tuple[str, ...] = ()
    rule: str = ""
    record: str | None = None
    warning: bool = False
    extra_files: list[str] = field(default_factory=list)


def _rewrite_csv(relative: str, change: Callable[[list[list[str]]], list[list[str]]],
                 delimiter: str = ";", encoding: str = "utf-8-sig") -> Callable[[Path], None]:
    def inject(raw: Path) -> None:
        rows = [list(r) for r in CSV_FILES[relative]]
        (raw / relative).write_bytes(csv_bytes(change(rows), delimiter, encoding))
    return inject


def _set(row: int, column: str, value: str, table: list[list[str]] | None = None):
    """Change a cell: data row ``row`` (1-based, i.e. file line row + 1), column by header."""
    def change(rows: list[list[str]]) -> list[list[str]]:
        rows[row][rows[0].index(column)] = value
        return rows
    return change


def _decp(relative: str, change: Callable[[list[dict]], list]) -> Callable[[Path], None]:
    def inject(raw: Path) -> None:
        records = json.loads(json.dumps(DECP_FILES[relative]))
        (raw / relative).write_text(json.dumps(decp_document(change(records)), ensure_ascii=False),
                                    encoding="utf-8")
    return inject


def _write_bytes(relative: str, data: bytes | Callable[[Path], bytes]) -> Callable[[Path], None]:
    def inject(raw: Path) -> None:
        path = raw / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data(raw) if callable(data) else data)
    return inject


def _record(i: int, **changes):
    def change(records):
        records[i].update(changes)
        return records
    return change


def _drop_column(relative: str, column: str):
    def change(rows):
        index = rows[0].index(column)
        return [r[:index] + r[index + 1:] for r in rows]
    return _rewrite_csv(relative, change)


def _xlsx(change: Callable[[dict[str, list[list]]], dict[str, list[list]]] | None = None):
    def inject(raw: Path) -> None:
        folder = raw / "tracking" / "93"
        for name in TRACKING:
            (folder / name).unlink()
        tables = {name: [list(r) for r in rows] for name, rows in TRACKING.items()}
        write_xlsx_export(folder, change(tables) if change else tables)
    return inject


def _xlsx_serial_dates(tables):
    contracts = tables["contrats.csv"]
    for row in contracts[1:]:  # Excel serial numbers (as numbers) instead of dates
        for column in ("Date de début", "Date de fin"):
            day, month, year = map(int, row[contracts[0].index(column)].split("/"))
            from datetime import date
            row[contracts[0].index(column)] = (date(year, month, day) - date(1899, 12, 30)).days
    return tables


def _duplicate_header(rows):
    rows[0][rows[0].index("Heures réalisées")] = "Date de début"
    return rows


# --- The national consolidated DECP table (decp-processing 2.x) ----------------------------------


def consolidated_rows() -> list[dict]:
    """A consolidated table as decp-processing writes it: one row per contract × state ×
    supplier, latest state first. Lines 2-3: CONS-1 (modified), 4: CONS-2, 5-6: CONS-3 (two
    suppliers)."""
    def row(ident, state, notified, amount, supplier=COMPANY, last=True):
        return {"uid": f"{BUYER}{ident}", "id": ident, "acheteur_id": int(BUYER),
                "acheteur_categorie": "Commune", "acheteur_departement_code": "93",
                "titulaire_id": int(supplier), "titulaire_typeIdentifiant": "SIRET",
                "titulaire_categorie": "PME", "objet": f"Travaux {ident}", "montant": amount,
                "codeCPV": "45000000", "dureeMois": 12, "dateNotification": notified,
                "considerationsSociales": "Clause sociale", "lieuExecution_code": 93066,
                "lieuExecution_typeCode": "Code commune", "modification_id": state,
                "donneesActuelles": last, "sourceDataset": "corpus"}
    return [row("CONS-1", 1, "2022-09-01", 60000.0), row("CONS-1", 0, "2022-03-01", 50000.0,
                                                         last=False),
            row("CONS-2", 0, "2022-04-01", 9000.0),
            row("CONS-3", 0, "2022-05-01", 20000.0),
            row("CONS-3", 0, "2022-05-01", 20000.0, supplier="44306184100047")]


def _consolidated(relative: str, change: Callable[[list[dict]], list[dict]] = lambda r: r
                  ) -> Callable[[Path], None]:
    """Write the consolidated table, changed, as Parquet (typed as decp-processing types it) or
    CSV."""
    def inject(raw: Path) -> None:
        import pandas as pd

        frame = pd.DataFrame(change(consolidated_rows()))
        path = raw / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            frame.to_csv(path, sep=";", index=False)
            return
        if "dateNotification" in frame:
            frame["dateNotification"] = pd.to_datetime(frame["dateNotification"]).dt.date
        frame.to_parquet(path, index=False)
    return inject


def _truncated_parquet(raw: Path) -> bytes:
    _consolidated("decp/consolide.parquet")(raw)
    data = (raw / "decp" / "consolide.parquet").read_bytes()
    return data[: len(data) // 2]


def _cell(index: int, **changes):
    def change(rows):
        rows[index].update(changes)
        return rows
    return change


# --- The same export as one flat table (sources/mappings/extraction_plate.json) ------------------

FLAT_OPERATION_HEADERS = {"Commune": "Commune de l'opération", "Date de début": "Début de l'opération",
                          "Date de fin": "Fin de l'opération",
                          "Heures prévues": "Heures prévues (opération)",
                          "Heures réalisées": "Heures réalisées (opération)"}
FLAT_CONTRACT_HEADERS = {"Date de début": "Date de début du contrat",
                         "Date de fin": "Date de fin du contrat"}
#: The views of a flat extraction in the row accounting (``file#view``).
FLAT_VIEWS = ("participants", "opérations", "contrats", "sorties")


def flat_rows(extra: list[dict[str, str]] | None = None,
              rename: dict[str, str] | None = None) -> list[list[str]]:
    """The corpus's four tables as one row per work contract (participant, operation and outcome
    columns repeated), joined here without the readers; ``extra`` rows are appended (a copy of
    the first row with these cells changed), ``rename`` changes headers."""
    def records(rows, names=None):
        header = [(names or {}).get(h, h) for h in rows[0]]
        return [dict(zip(header, r)) for r in rows[1:]]

    people = {r["Identifiant participant"]: r for r in records(PARTICIPANTS)}
    ops = {r["Code opération"]: r for r in records(OPERATIONS, FLAT_OPERATION_HEADERS)}
    outs = {r["Identifiant participant"]: r for r in records(OUTCOMES)}
    blank_out = {h: "" for h in OUTCOMES[0]}
    rows = [{**c, **people[c["Identifiant participant"]], **ops[c["Code opération"]],
             **outs.get(c["Identifiant participant"], blank_out),
             "Identifiant participant": c["Identifiant participant"]}
            for c in records(CONTRACTS, FLAT_CONTRACT_HEADERS)]
    rows += [{**rows[0], **change} for change in (extra or [])]
    header = list(rows[0])
    return [[(rename or {}).get(h, h) for h in header]] + [[r[h] for h in header] for r in rows]


def _flat(extra=None, rename=None, name: str = "export_93.csv", encoding: str = "cp1252"):
    def inject(raw: Path) -> None:
        folder = raw / "tracking" / "93"
        for table in TRACKING:
            (folder / table).unlink()
        (folder / name).write_bytes(csv_bytes(flat_rows(extra, rename), encoding=encoding))
    return inject


def _mapping(mapping: dict, remove_exports: bool = False):
    def inject(raw: Path) -> None:
        folder = raw / "tracking" / "93"
        if remove_exports:
            for table in TRACKING:
                (folder / table).unlink()
        (folder / "mapping.json").write_text(json.dumps(mapping, ensure_ascii=False),
                                             encoding="utf-8")
    return inject


def _personal_mapping() -> dict:
    """The built-in four-table mapping, but a person's name kept as a job title."""
    mapping = json.loads((Path(__file__).parents[1] / "src" / "analysis" / "sources" / "mappings"
                          / "clause.json").read_text(encoding="utf-8"))
    mapping["tables"]["participants"]["Nom"] = "poste"
    mapping["tables"]["participants"].pop("Nom")
    mapping["tables"]["work_contracts"]["Nom"] = "poste"
    return {"extends": "clause", "tables": mapping["tables"]}


HUGE = "x" * 2_000_000  # a 2 MB cell

P = "tracking/93/participants.csv"
C = "tracking/93/contrats.csv"
O = "tracking/93/operations.csv"
S = "structures/structures_inclusion.csv"
G = "grand_paris/contrats_grand_paris.csv"
D = "decp/acheteur_93.json"

FAULTS: list[Fault] = [
    # Whole files that cannot be read: the build stops, naming the file and the problem.
    Fault("json_truncated", "file", D,
          _write_bytes(D, lambda raw: (raw / D).read_bytes()[:700]), ("JSON invalide",)),
    Fault("json_latin1", "file", D,
          _write_bytes(D, json.dumps(decp_document([decp_record(1, objet="Rénovation")]),
                                     ensure_ascii=False).encode("latin-1")), ("encodage",)),
    Fault("json_empty", "file", D, _write_bytes(D, b""), ("vide",)),
    Fault("json_not_decp", "file", D, _write_bytes(D, b'{"data": []}'), ("pas un fichier DECP",)),
    Fault("csv_empty", "file", S, _write_bytes(S, b""), ("vide",)),
    Fault("csv_bom_only", "file", S, _write_bytes(S, b"\xef\xbb\xbf\n"), ("vide",)),
    Fault("csv_utf16", "file", P, _rewrite_csv(P, lambda r: r, encoding="utf-16"), ("encodage",)),
    Fault("csv_duplicated_header", "file", C, _rewrite_csv(C, _duplicate_header),
          ("en-têtes en double", "Date de début")),
    Fault("tracking_required_column_missing", "file", C, _drop_column(C, "Heures réalisées"),
          ("obligatoire", "Heures réalisées")),
    Fault("tracking_file_missing", "file", "tracking/93/contrats.csv",
          lambda raw: (raw / C).unlink(), ("absent",)),
    Fault("xlsx_sheet_missing", "file", "export_clauses_93.xlsx",
          _xlsx(lambda t: {k: v for k, v in t.items() if k != "contrats.csv"}),
          ("feuille", "Contrats")),
    Fault("xlsx_empty_file", "file", "export_clauses_93.xlsx",
          lambda raw: [(raw / "tracking/93" / n).unlink() for n in TRACKING]
          and (raw / "tracking/93/export_clauses_93.xlsx").write_bytes(b""), ("XLSX",)),
    Fault("csv_ragged_row", "file", S,
          _rewrite_csv(S, lambda r: r[:2] + [r[2] + ["en trop", "encore"]] + r[3:]),
          ("CSV illisible",)),
    # Rows: quarantined (or kept with a reported anomaly), named by file, line and rule.
    Fault("decp_date_1900", "row", D, _decp(D, _record(2, dateNotification="1900-01-01")),
          rule="dateNotification hors période", record="marche[2]"),
    Fault("decp_date_2099", "row", D, _decp(D, _record(3, dateNotification="2099-06-01")),
          rule="dateNotification dans le futur", record="marche[3]"),
    Fault("decp_excel_serial_date", "row", D, _decp(D, _record(1, dateNotification="44593")),
          rule="dateNotification invalide", record="marche[1]"),
    Fault("decp_unknown_enumeration", "row", D,
          _decp(D, _record(0, considerationsSociales=["Clause insertion maison"])),
          rule="considerationsSociales : valeur inconnue", record="marche[0]", warning=True),
    Fault("decp_invalid_siret", "row", D, _decp(D, _record(0, acheteur={"id": "21930066400015"})),
          rule="acheteur.id : SIRET invalide", record="marche[0]", warning=True),
    Fault("decp_invalid_insee", "row", D,
          _decp(D, _record(4, lieuExecution={"code": "93999", "typeCode": "Code commune"})),
          rule="lieuExecution : commune inconnue", record="marche[4]", warning=True),
    Fault("decp_huge_field", "row", D, _decp(D, _record(5, objet=HUGE, montant="x" + HUGE)),
          rule="montant illisible", record="marche[5]", warning=True),
    Fault("decp_infinite_amount", "row", D, _decp(D, _record(5, montant="Infinity")),
          rule="montant illisible", record="marche[5]", warning=True),
    Fault("tracking_negative_hours", "row", C, _rewrite_csv(C, _set(2, "Heures réalisées", "-35")),
          rule="heures réalisées invalides", record="ligne 3"),
    Fault("tracking_infinite_hours", "row", C, _rewrite_csv(C, _set(2, "Heures réalisées", "1e400")),
          rule="heures réalisées invalides", record="ligne 3"),
    Fault("tracking_huge_field", "row", C, _rewrite_csv(C, _set(1, "Heures réalisées", HUGE)),
          rule="heures réalisées invalides", record="ligne 2"),
    Fault("tracking_unknown_enumeration", "row", C,
          _rewrite_csv(C, _set(3, "Type de contrat", "Contrat d'avenir")),
          rule="type de contrat : valeur inconnue", record="ligne 4", warning=True),
    Fault("tracking_contract_date_1900", "row", C,
          _rewrite_csv(C, _set(1, "Date de début", "01/03/1900")),
          rule="date improbable", record="ligne 2", warning=True),
    Fault("tracking_contract_date_2099", "row", C,
          _rewrite_csv(C, _set(1, "Date de fin", "31/05/2099")),
          rule="date improbable", record="ligne 2", warning=True),
    Fault("tracking_entry_date_2099", "row", P,
          _rewrite_csv(P, _set(3, "Date d'entrée", "01/03/2099")),
          rule="date improbable", record="ligne 4", warning=True),
    Fault("tracking_invalid_insee", "row", P,
          _rewrite_csv(P, _set(1, "Commune de résidence", "93999")),
          rule="commune de résidence inconnue", record="ligne 2", warning=True),
    Fault("tracking_invalid_siret", "row", O,
          _rewrite_csv(O, _set(1, "SIRET maître d'ouvrage", "12345678901234")),
          rule="maître d'ouvrage : SIRET invalide", record="ligne 2", warning=True),
    Fault("tracking_optional_column_missing", "row", P, _drop_column(P, "Date de naissance"),
          rule="colonne absente", record="en-tête", warning=True),
    Fault("tracking_header_only", "count", C, _rewrite_csv(C, lambda r: r[:1])),
    Fault("decp_consolidated_header_only", "count", "decp/consolide.csv",
          _write_bytes("decp/consolide.csv", b"id;acheteur.id;dateNotification\n")),
    Fault("decp_consolidated_column_missing", "file", "decp/consolide.parquet",
          _consolidated("decp/consolide.parquet",
                        lambda rows: [{k: v for k, v in r.items() if k != "dateNotification"}
                                      for r in rows]),
          ("pas un export DECP tabulaire", "dateNotification")),
    Fault("decp_consolidated_truncated", "file", "decp/consolide.parquet",
          _write_bytes("decp/consolide.parquet", _truncated_parquet), ("Parquet illisible",)),
    Fault("decp_consolidated_mixed_types", "row", "decp/consolide.csv",
          _consolidated("decp/consolide.csv", _cell(0, modification_id="un")),
          rule="modification_id illisible", record="ligne 2 (et 3)"),
    Fault("decp_consolidated_buyer_mismatch", "row", "decp/consolide.parquet",
          _consolidated("decp/consolide.parquet", _cell(4, acheteur_id=int(BUYER_2))),
          rule="uid : acheteurs différents", record="ligne 5 (et 6)"),
    Fault("decp_consolidated_duplicated_state", "row", "decp/consolide.parquet",
          _consolidated("decp/consolide.parquet", _cell(4, montant=25000.0)),
          rule="modification_id en double", record="ligne 5 (et 6)"),
    Fault("decp_consolidated_duplicated_row", "row", "decp/consolide.parquet",
          _consolidated("decp/consolide.parquet", lambda rows: rows + [dict(rows[2])]),
          rule="ligne en double", record="ligne 4 (et 7)", warning=True),
    Fault("tracking_cp1252_comma", "ok", C, _rewrite_csv(C, lambda r: r, ",", "cp1252")),
    # Other shapes of the tracking export (mappings in sources/mappings/, or the folder's own).
    Fault("tracking_flat_extraction", "ok", "tracking/93/export_93.csv", _flat()),
    Fault("tracking_flat_conflict", "row", "export_93.csv#participants",
          _flat(extra=[{"Sexe": "H", "Code opération": "OP-2", "Heures réalisées": "10"}]),
          rule="participant en conflit", record="ligne 2"),
    Fault("tracking_flat_unknown_header", "file", "tracking/93/export_93.csv",
          _flat(rename={"Identifiant participant": "N° bénéficiaire"}),
          ("en-tête non reconnu", "« Identifiant participant »", "« N° bénéficiaire »",
           "mapping suggest")),
    Fault("tracking_mapping_keeps_a_name", "file", "tracking/93/mapping.json",
          _mapping(_personal_mapping()), ("« Nom »", "personnelle", "l'entrepôt (data/processed)")),
    Fault("tracking_mapping_without_export", "file", "tracking/93",
          _mapping({"extends": "clause"}, remove_exports=True),
          ("aucun export reconnu", "operations.csv", "« Participants »")),
    Fault("tracking_mapping_unreadable", "file", "tracking/93/mapping.json",
          _write_bytes("tracking/93/mapping.json", b'{"extends": "clause",'),
          ("correspondance illisible",)),
    Fault("tracking_xlsx_serial_dates", "ok", "export_clauses_93.xlsx", _xlsx(_xlsx_serial_dates)),
    Fault("structures_invalid_siret", "row", S, _rewrite_csv(S, _set(2, "SIRET", "92711603893678")),
          rule="SIRET invalide", record="ligne 3"),
    Fault("structures_invalid_insee", "row", S, _rewrite_csv(S, _set(1, "Commune", "75000")),
          rule="commune inconnue", record="ligne 2"),
    Fault("structures_unknown_type", "row", S, _rewrite_csv(S, _set(3, "Type", "SCOP")),
          rule="type de structure inconnu", record="ligne 4"),
    Fault("grand_paris_negative_hours", "row", G,
          _rewrite_csv(G, _set(2, "Heures d'insertion réalisées", "-10")),
          rule="heures_insertion_realisees invalide", record="ligne 3"),
    Fault("grand_paris_date_1900", "row", G,
          _rewrite_csv(G, _set(1, "Date de notification", "01/01/1900")),
          rule="date improbable", record="ligne 2", warning=True),
    Fault("grand_paris_year_only_date", "row", G,
          _rewrite_csv(G, _set(3, "Date de notification", "2022")),
          rule="date improbable", record="ligne 4", warning=True),
    Fault("buyers_duplicated_siret", "row", "acheteurs/acheteurs.csv",
          _rewrite_csv("acheteurs/acheteurs.csv",
                       lambda r: r + [[BUYER, "Autre nom", "Commune", "93"]]),
          rule="SIRET en double", record="ligne 5"),
]


# --- A small generated data set, shared by the slow ingestion tests -------------------------------


def generated_raw(session_dir: Path, scale: float = 0.01, seed: int = 7) -> Path:
    """The synthetic generator's data set at a small scale, generated once per test session."""
    from analysis.synthetic import generate

    folder = session_dir / f"ingestion-generated-{seed}-{scale}"
    if not (folder / "ready").is_file():
        generate(folder / "raw", seed=seed, first_year=2019, last_year=2025, scale=scale)
        (folder / "ready").write_text("ok", encoding="utf-8")
    return folder / "raw"


def personal_data(raw: Path) -> tuple[set[str], set[str], set[str]]:
    """(raw participant ids, full names, birth dates as dd/mm/yyyy and yyyy-mm-dd) of every
    tracking export under ``raw``, whatever its shape (four tables, flat extraction with title
    lines, workbook sheets, the OGPF variables), read without the project's readers: a table's
    header is its first row naming the participant's id."""
    import openpyxl

    ids: set[str] = set()
    names: set[str] = set()
    births: set[str] = set()
    id_headers = ("Identifiant participant", "Identifiant bénéficiaire")

    def take(rows: list[list]) -> None:
        at_header = next((i for i, r in enumerate(rows)
                          if any(str(c) in id_headers for c in r if c is not None)), None)
        if at_header is None:
            return
        header = [str(c) for c in rows[at_header]]
        at = {h: header.index(h) for h in header}
        key = next(h for h in id_headers if h in at)
        for row in rows[at_header + 1:]:
            if not row or row[at[key]] in (None, "") or str(row[0]).startswith("Total"):
                continue
            ids.add(str(row[at[key]]))
            if "Nom" in at and "Prénom" in at:
                first, last = str(row[at["Prénom"]]), str(row[at["Nom"]])
                names.update({f"{first} {last}", f"{last} {first}"})
            born = row[at["Date de naissance"]] if "Date de naissance" in at else None
            if hasattr(born, "strftime"):
                births.update({born.strftime("%d/%m/%Y"), born.strftime("%Y-%m-%d")})
            elif born:
                day, month, year = str(born).split("/")
                births.update({f"{day}/{month}/{year}", f"{year}-{month}-{day}"})

    for path in sorted((raw / "tracking").rglob("*")):
        if path.suffix == ".csv":
            raw_bytes = path.read_bytes()
            try:
                text = raw_bytes.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw_bytes.decode("cp1252")
            delimiter = max(";,", key=text.split("\n", 1)[0].count)
            take(list(csv.reader(io.StringIO(text), delimiter=delimiter)))
        elif path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            for sheet in book.worksheets:
                take([list(r) for r in sheet.iter_rows(values_only=True)])
            book.close()
    return ids, names, births
