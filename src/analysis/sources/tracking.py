"""Clause-tracking exports (one folder per departmental coordination) → operations, participants,
work contracts and outcomes.

The export's headers are mapped onto canonical columns by a mapping file (``mappings/clause.json``),
so another software's export needs a mapping, not code. Personal data stop here: participant ids
become a keyed hash (see :mod:`analysis.privacy`), names and birth dates are dropped, ages become
bands. Every row is kept, merged (exact duplicate) or quarantined with its rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from ..privacy import pseudonymise
from .base import Quarantine, SourceFileError
from .tabular import (HEADER_SEARCH_ROWS, CheckedTable, LocatedTable, RawTable, Sheet, canonical,
                      load_mapping, locate_table, normalise_header, parse_dates, parse_decimals,
                      read_csv_cells, read_xlsx_cells, sheet_names, text, yes_no)

SOURCE = "tracking"
TABLES = ("operations", "participants", "work_contracts", "outcomes")
OPTIONAL_TABLES = {"outcomes"}
REQUIRED_TABLES = tuple(t for t in TABLES if t not in OPTIONAL_TABLES)
AGE_BANDS = [(0, 26, "moins_de_26"), (26, 50, "26_49"), (50, 200, "50_et_plus")]


@dataclass
class TrackingResult:
    """Canonical tables of one or more coordinations, their quarantine and accounting."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: Quarantine = field(default_factory=Quarantine)
    accounting: list[dict] = field(default_factory=list)


def _vocabulary(table: CheckedTable, column: str, vocabulary: dict[str, str], label: str,
                unknown_value: str | None = None) -> None:
    raw = text(table.frame[column])
    folded = {k.casefold(): v for k, v in vocabulary.items()}
    mapped = raw.str.casefold().map(folded)
    unknown = raw.notna() & mapped.isna()
    table.warn(unknown, f"{label} : valeur inconnue",
               lambda r: f"« {r[column]} » n'est pas une valeur reconnue de {label}")
    mapped = mapped[table.frame.index]
    table.frame[column] = mapped.where(~unknown[table.frame.index], unknown_value).astype("string")


def _pseudo(raw_id, coordination: str, key: bytes) -> str:
    """The pseudonym of one raw id, for messages: a raw id never leaves ingestion, not even in
    the quarantine."""
    return str(pseudonymise(pd.Series([raw_id], dtype="string"), coordination, key).iloc[0])


# --- Mappings: which files, which headers, what is personal -----------------------------------

#: A coordination's own mapping, in its folder (or in a parent folder up to the input folder).
MAPPING_FILE = "mapping.json"
#: Built-in mappings tried in this order on a folder without its own mapping.
BUILTIN_MAPPINGS = ("clause", "extraction_plate", "ogpf")
#: Every canonical column of each table (a mapping may give only some of them).
COLUMNS = {
    "operations": ["operation_code", "libelle", "maitre_ouvrage", "maitre_ouvrage_siret", "decp_uid",
                   "modalite", "secteur", "grand_projet", "departement", "commune", "date_debut",
                   "date_fin", "heures_prevues", "heures_realisees"],
    "participants": ["participant_raw", "nom", "prenom", "date_naissance", "age", "sexe", "diplome",
                     "commune_residence", "qpv", "public", "prescripteur", "formation_qualifiante",
                     "date_entree", "adresse", "nir", "telephone", "email"],
    "work_contracts": ["participant_raw", "operation_code", "employeur", "employeur_siret",
                       "type_employeur", "type_contrat", "date_debut", "date_fin", "heures",
                       "code_rome", "poste"],
    "outcomes": ["participant_raw", "date_fin_dernier_contrat", "situation_6_mois",
                 "date_premier_emploi_durable", "date_export"],
}
#: Personal columns and what ingestion does with each: they never reach ``data/processed``.
PERSONAL = {
    "participant_raw": "pseudonymiser",      # keyed hash, see analysis.privacy
    "date_naissance": "tranche d'âge",       # age band at entry, then dropped
    "age": "tranche d'âge",
    "nom": "supprimer", "prenom": "supprimer", "adresse": "supprimer", "nir": "supprimer",
    "telephone": "supprimer", "email": "supprimer",
}
#: Header words that say a column holds personal data (normalised, see normalise_header).
PERSONAL_HEADER = re.compile(
    r"\b(nom|prenom|prenoms|nom de naissance|nom d usage|naissance|ne le|ne e le|adresse|rue|"
    r"domicile adresse|nir|securite sociale|secu|n ss|numero ss|telephone|tel|portable|mobile|"
    r"courriel|e ?mail|mail|mel)\b")
#: Words that make a header about a company, an operation or a job, not a person
#: (« Nom de l'employeur », « Adresse du chantier »).
NOT_A_PERSON = re.compile(r"\b(employeur|entreprise|structure|societe|raison sociale|maitre|"
                          r"ouvrage|operation|chantier|poste|metier|marche|lot|titulaire|"
                          r"prescripteur|commune|departement|code postal|insee)\b")
#: What personal data look like in a cell (anywhere in it for e-mail and telephone).
PERSONAL_VALUES = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "telephone": re.compile(r"(?<!\d)(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)"),
    "nir": re.compile(r"^[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?(?:\d{2}|2[AB])\s?\d{3}\s?"
                      r"\d{3}(?:\s?\d{2})?$"),
    "adresse": re.compile(r"^\d+\s*(?:bis|ter)?,?\s+(?:rue|avenue|av\.?|bd|boulevard|all[ée]e|"
                          r"impasse|chemin|place|route|quai|cours|square|r[ée]sidence|cit[ée])\b",
                          re.IGNORECASE),
}
#: Share of a column's values (among the first filled ones) that must look personal for the
#: column to be treated as personal.
PERSONAL_VALUE_SHARE = 0.3
#: Values examined per column for personal data.
PERSONAL_SAMPLE = 200
#: Longest refusal that lists what was expected (a cell's content is never echoed in one).
LONG = 1500
FLAT_VIEWS = {"participants": "participants", "operations": "opérations",
              "work_contracts": "contrats", "outcomes": "sorties"}


def looks_personal(header: str) -> bool:
    """True when a header names personal data (name, birth date, address, NIR, telephone,
    e-mail) of a person, not of a company or an operation."""
    folded = normalise_header(header)
    return bool(PERSONAL_HEADER.search(folded)) and not NOT_A_PERSON.search(folded)


def check_mapping(mapping: dict, where: str | None = None) -> dict:
    """Refuse a mapping that could not be read as written or would carry personal data further.

    Returns the mapping with its defaults (``layout``, ``files``). Raises
    :class:`SourceFileError` naming the mapping file and the rule.
    """
    where = where or mapping.get("path", "correspondance")
    layout = mapping.setdefault("layout", "tables")
    if layout not in ("tables", "flat"):
        raise SourceFileError(where, f"disposition « {layout} » inconnue (attendu : tables, flat)")
    tables = mapping.get("tables")
    if not isinstance(tables, dict) or not all(t in tables for t in REQUIRED_TABLES):
        raise SourceFileError(where, "la correspondance doit décrire les tables "
                              + ", ".join(REQUIRED_TABLES) + " (clé « tables »)")
    for table, columns in tables.items():
        if table not in COLUMNS:
            raise SourceFileError(where, f"table « {table} » inconnue (attendu : {', '.join(COLUMNS)})")
        unknown = sorted(set(columns.values()) - set(COLUMNS[table]))
        if unknown:
            raise SourceFileError(where, f"table {table} : colonne(s) canonique(s) inconnue(s) "
                                  + ", ".join(unknown) + f" (attendu : {', '.join(COLUMNS[table])})")
        for header, column in columns.items():
            if column in PERSONAL:
                continue
            if looks_personal(header):
                raise SourceFileError(
                    where, f"table {table} : l'en-tête « {header} » ressemble à une donnée "
                    f"personnelle et serait gardé comme « {column} » dans l'entrepôt "
                    "(data/processed) ; le "
                    "faire correspondre à une colonne personnelle (" + ", ".join(PERSONAL)
                    + ") ou le retirer")
    required = mapping.setdefault("required", {})
    for table, columns in required.items():
        missing = [c for c in columns if c not in tables.get(table, {}).values()]
        if missing:
            raise SourceFileError(where, f"table {table} : colonne(s) obligatoire(s) sans en-tête "
                                  f"dans la correspondance : {', '.join(missing)}")
    personal = mapping.get("personal", {})
    mapped = {c for columns in tables.values() for c in columns.values()}
    untreated = sorted((mapped & set(PERSONAL)) - set(personal))
    if untreated:
        raise SourceFileError(where, "colonne(s) personnelle(s) sans traitement déclaré dans "
                              "« personal » : " + ", ".join(untreated))
    wrong = {c: t for c, t in personal.items() if PERSONAL.get(c) != t}
    if wrong:
        raise SourceFileError(where, "traitement des données personnelles non reconnu : "
                              + ", ".join(f"{c} → « {t} » (attendu « {PERSONAL.get(c, 'aucun')} »)"
                                          for c, t in wrong.items()))
    for name in ("modalite", "secteur", "sexe", "diplome", "public", "prescripteur",
                 "type_employeur", "type_contrat", "situation_6_mois"):
        mapping.setdefault("vocabularies", {}).setdefault(name, {})
    return mapping


def builtin_mapping(name: str) -> dict:
    """A mapping shipped in ``sources/mappings/``, checked."""
    return check_mapping(load_mapping(name))


def _mapping_for(folder: Path, raw_root: Path) -> dict | None:
    """The mapping file of ``folder`` or of a parent folder up to ``raw_root``, if any."""
    for parent in [folder, *folder.parents]:
        candidate = parent / MAPPING_FILE
        if candidate.is_file():
            mapping = load_mapping(candidate)
            mapping["name"] = _relative(candidate, raw_root)
            return check_mapping(mapping, mapping["name"])
        if parent == raw_root or not parent.is_relative_to(raw_root):
            break
    return None


def _relative(path: Path, raw_root: Path) -> str:
    return str(path.relative_to(raw_root)) if path.is_relative_to(raw_root) else str(path)


def _patterns(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def pattern_regex(pattern: str) -> re.Pattern:
    """A file-name pattern as a regular expression: ``*`` any characters, ``?`` one,
    ``{coordination}`` a département code (captured), compared without case."""
    parts = []
    for token in re.split(r"(\{coordination\}|\*|\?)", pattern):
        parts.append({"{coordination}": r"(?P<coordination>2[AB]|\d{2,3})", "*": ".*",
                      "?": "."}.get(token, re.escape(token)))
    return re.compile("".join(parts) + r"\Z", re.IGNORECASE)


def _match(name: str, patterns: list[str]) -> tuple[bool, str | None]:
    for pattern in patterns:
        found = pattern_regex(pattern).match(name)
        if found:
            return True, found.groupdict().get("coordination")
    return False, None


def _same_sheet(a: str, b: str) -> bool:
    return normalise_header(a) == normalise_header(b)


def expectations(mapping: dict) -> str:
    """What a mapping looks for, in one French sentence part."""
    files = mapping.get("files", {})
    name = mapping.get("name", "?")
    if mapping["layout"] == "flat":
        sheets = files.get("sheets", "*")
        return (f"correspondance « {name} » (une table plate, une ligne par contrat de travail) : "
                f"un fichier {' ou '.join(_patterns(files.get('flat')))}"
                + (f" (feuilles {sheets})" if sheets != "*" else " (toutes ses feuilles)")
                + " dont l'en-tête porte " + ", ".join(dict.fromkeys(
                    f"« {_header_of(mapping, t, c)} »" for t, cs in mapping["required"].items()
                    for c in cs)))
    csv = files.get("csv", {})
    sheets = files.get("xlsx_sheets", {})
    listed = ", ".join(" | ".join(_patterns(csv[t])) + (" (facultatif)" if t in OPTIONAL_TABLES else "")
                       for t in csv)
    book = " | ".join(_patterns(files.get("workbook", "*.xlsx")))
    return (f"correspondance « {name} » (quatre tables) : les fichiers {listed}, ou un classeur "
            f"{book} aux feuilles " + ", ".join(
                f"« {sheets[t]} »" + (" (facultative)" if t in OPTIONAL_TABLES else "")
                for t in sheets))


def _header_of(mapping: dict, table: str, column: str) -> str:
    for header, canonical_name in mapping["tables"].get(table, {}).items():
        if canonical_name == column:
            return header
    return column


@dataclass
class Export:
    """One coordination's export found in a folder: its files, and the tables read from them."""

    coordination: str
    mapping: dict
    files: list[Path]
    sheets: dict[str, Sheet] = field(default_factory=dict)
    flat: bool = False
    notes: list[str] = field(default_factory=list)


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))
                  and p.suffix.lower() in (".csv", ".xlsx"))


def _coordination(found: str | None, folder: Path, path: Path, raw_root: Path, mapping: dict) -> str:
    if found:
        return found.upper()
    if re.fullmatch(r"2[AB]|\d{2,3}", folder.name):
        return folder.name
    raise SourceFileError(_relative(path, raw_root),
                          "coordination introuvable : le nom du dossier « " + folder.name
                          + " » n'est pas un code de département et les motifs de fichier de la "
                          f"correspondance « {mapping.get('name')} » ne portent pas "
                          "{coordination} (ex. export_{coordination}.csv)")


def _match_tables(folder: Path, mapping: dict, raw_root: Path) -> list[Export]:
    """The four-table exports of ``folder`` under ``mapping``: CSV files named by its patterns,
    or workbooks holding its sheets."""
    files = mapping.get("files", {})
    data = _data_files(folder)
    groups: dict[str, dict[str, Path]] = {}
    for path in (p for p in data if p.suffix.lower() == ".csv"):
        for table, patterns in files.get("csv", {}).items():
            ok, code = _match(path.name, _patterns(patterns))
            if ok:
                coordination = _coordination(code, folder, path, raw_root, mapping)
                slot = groups.setdefault(coordination, {})
                if table in slot:
                    raise SourceFileError(_relative(path, raw_root),
                                          f"deux fichiers pour la table {table} de la coordination "
                                          f"{coordination} : {slot[table].name} et {path.name}")
                slot[table] = path
                break
    exports = []
    for coordination, tables in sorted(groups.items()):
        wanted = files.get("csv", {})
        for table in REQUIRED_TABLES:
            if table not in tables:
                where = _relative(folder, raw_root) + "/" + _patterns(wanted.get(table, table))[0]
                raise SourceFileError(where, f"fichier absent de l'export ({table}) ; "
                                      + expectations(mapping))
        exports.append(Export(coordination, mapping, [tables[t] for t in tables]))
    if exports:
        return exports
    wanted_sheets = files.get("xlsx_sheets", {})
    for path in (p for p in data if p.suffix.lower() == ".xlsx"):
        ok, code = _match(path.name, _patterns(files.get("workbook", "*.xlsx")))
        if not ok or not wanted_sheets:
            continue
        if path.stat().st_size == 0:
            raise SourceFileError(_relative(path, raw_root), "classeur XLSX illisible : fichier vide")
        names = sheet_names(path)
        present = [t for t, sheet in wanted_sheets.items() if any(_same_sheet(sheet, n) for n in names)]
        if not present:
            continue  # not this mapping's workbook
        for table in REQUIRED_TABLES:
            if table not in present:
                raise SourceFileError(f"{_relative(path, raw_root)}#{wanted_sheets[table]}",
                                      f"feuille « {wanted_sheets[table]} » absente du classeur "
                                      f"(feuilles présentes : {', '.join(names)}) ; "
                                      + expectations(mapping))
        exports.append(Export(_coordination(code, folder, path, raw_root, mapping), mapping, [path]))
    seen = {}
    for export in exports:
        if export.coordination in seen:
            raise SourceFileError(_relative(export.files[0], raw_root),
                                  f"deux classeurs pour la coordination {export.coordination} : "
                                  f"{seen[export.coordination].name} et {export.files[0].name} ; "
                                  "un seul export attendu")
        seen[export.coordination] = export.files[0]
    return exports


def _match_flat(folder: Path, mapping: dict, raw_root: Path) -> list[Export]:
    """The flat extractions of ``folder`` under ``mapping`` (one file per coordination)."""
    patterns = _patterns(mapping.get("files", {}).get("flat", ["*.csv", "*.xlsx"]))
    found: dict[str, Path] = {}
    for path in _data_files(folder):
        ok, code = _match(path.name, patterns)
        if not ok:
            continue
        coordination = _coordination(code, folder, path, raw_root, mapping)
        if coordination in found:
            raise SourceFileError(_relative(path, raw_root),
                                  f"deux extractions pour la coordination {coordination} : "
                                  f"{found[coordination].name} et {path.name} ; une seule attendue "
                                  "(un classeur peut avoir une feuille par année)")
        found[coordination] = path
    return [Export(c, mapping, [p], flat=True) for c, p in sorted(found.items())]


def find_exports(folder: Path, raw_root: Path, mapping: dict | None = None) -> list[Export]:
    """The exports of a folder: with ``mapping`` (or the folder's ``mapping.json``), as it
    describes them; otherwise under the first built-in mapping whose files are there.

    Raises
    ------
    SourceFileError
        Naming the folder, the files present and what each mapping looks for, when nothing is
        recognised; or naming the file and the rule when a recognised export is incomplete.
    """
    own = mapping is not None or _mapping_for(folder, raw_root) is not None
    candidates = ([check_mapping(dict(mapping))] if mapping is not None
                  else [m] if (m := _mapping_for(folder, raw_root)) is not None
                  else [builtin_mapping(name) for name in BUILTIN_MAPPINGS])
    data = _data_files(folder)
    unheaded: list[tuple[dict, Export, list[str]]] = []
    for candidate in candidates:
        match = _match_flat if candidate["layout"] == "flat" else _match_tables
        exports = match(folder, candidate, raw_root)
        if exports and candidate["layout"] == "flat" and not own:
            # A built-in flat mapping takes a file only when its header is the mapping's.
            missing = [_missing_headers(e, raw_root) for e in exports]
            if any(missing):
                unheaded += [(candidate, e, m) for e, m in zip(exports, missing) if m]
                continue
        if exports:
            return exports
    if unheaded:
        export = unheaded[0][1]
        path = export.files[0]
        header, line = _peek_header(path, unheaded[0][0])
        known = set().union(*(_known_headers(c) for c, e, m in unheaded if e.files[0] == path))
        strange = [h for h in header if normalise_header(h) not in known]
        raise SourceFileError(
            _relative(path, raw_root),
            f"en-tête non reconnu (ligne {line}) ; "
            + " ; ".join(f"correspondance « {c['name']} » : colonne(s) obligatoire(s) absente(s) "
                         + ", ".join(f"« {h} »" for h in m)
                         for c, e, m in unheaded if e.files[0] == path)
            + " ; en-têtes inconnus : " + (", ".join(f"« {h} »" for h in strange[:12]) or "aucun")
            + (f" (et {len(strange) - 12} autres)" if len(strange) > 12 else "")
            + f" ; {len(header) - len(strange)} en-tête(s) reconnu(s) ; pour cet export : "
            f"observatoire mapping suggest {_relative(path, raw_root)}, puis déposer la "
            f"correspondance dans {_relative(folder, raw_root)}/{MAPPING_FILE}", limit=LONG)
    present = ", ".join(p.name for p in data) or "aucun fichier CSV ou XLSX"
    hint = ("" if own else f" ; pour un autre logiciel : observatoire mapping suggest FICHIER, puis "
            f"déposer la correspondance dans {_relative(folder, raw_root)}/{MAPPING_FILE}")
    raise SourceFileError(_relative(folder, raw_root),
                          f"aucun export reconnu (fichiers présents : {present}) ; attendu — "
                          + " ; ou ".join(expectations(c) for c in candidates) + hint, limit=LONG)


def _peek_header(path: Path, mapping: dict) -> tuple[list[str], int]:
    """The header of a flat extraction (its first matching sheet), from its first lines only."""
    rows = int(mapping.get("header_search_rows", HEADER_SEARCH_ROWS))
    if path.suffix.lower() == ".csv":
        cells = read_csv_cells(path, max_lines=rows + 2).cells
    else:
        wanted = _patterns(mapping.get("files", {}).get("sheets", "*"))
        names = [n for n in sheet_names(path) if _match(str(n), wanted)[0]]
        if not names:
            return [], 1
        cells = read_xlsx_cells(path, [names[0]], max_rows=rows + 2)[names[0]]
    located = locate_table(RawTable(str(path), cells), _known_headers(mapping), rows)
    return [str(c) for c in located.frame.columns], located.header_line


def _missing_headers(export: Export, raw_root: Path) -> list[str]:
    """Required headers of the export's mapping absent from its file's header."""
    header, _ = _peek_header(export.files[0], export.mapping)
    present = {normalise_header(h) for h in header}
    missing = []
    for table, columns in export.mapping.get("required", {}).items():
        headers = export.mapping["tables"].get(table, {})
        for column in columns:
            names = [h for h, c in headers.items() if c == column]
            if not any(normalise_header(h) in present for h in names) and names[0] not in missing:
                missing.append(names[0])
    return missing


def _known_headers(mapping: dict, tables=None) -> set[str]:
    return {normalise_header(h) for t, cs in mapping["tables"].items()
            if tables is None or t in tables for h in cs}


def _locate(raw: RawTable, mapping: dict, tables, quarantine: Quarantine | None) -> LocatedTable:
    located = locate_table(raw, _known_headers(mapping, tables),
                           int(mapping.get("header_search_rows", HEADER_SEARCH_ROWS)))
    if quarantine is not None:
        for line in located.totals:
            quarantine.warn(SOURCE, raw.name, f"ligne {line}", "ligne de total",
                            "ligne de total en bas du tableau : ce n'est pas un enregistrement, "
                            "elle n'est pas comptée")
    return located


def _canonical(located: LocatedTable, mapping: dict, table: str, where: str) -> pd.DataFrame:
    """The table's canonical columns from a located table: the mapping's headers renamed (a
    missing required one refused, naming what was expected and what was read), the columns the
    mapping does not give added empty."""
    try:
        frame = canonical(located.frame, mapping["tables"][table],
                          mapping.get("required", {}).get(table, []), where)
    except SourceFileError as exc:
        known = _known_headers(mapping)
        strange = [c for c in located.frame.columns if normalise_header(c) not in known]
        raise SourceFileError(where, f"{exc.problem} (correspondance « {mapping.get('name')} », "
                              f"en-tête lu ligne {located.header_line} ; en-têtes inconnus : "
                              + (", ".join(f"« {c} »" for c in strange[:12]) or "aucun")
                              + f" ; {len(located.frame.columns) - len(strange)} reconnu(s))",
                              limit=LONG) from exc
    for header, column in mapping["tables"][table].items():
        if column in PERSONAL or column not in frame.columns:
            continue
        kind = personal_values(frame[column])
        if kind:
            raise SourceFileError(where, f"la colonne « {header} » ({table}.{column}) contient des "
                                  f"valeurs d'allure personnelle ({kind}) : elle serait gardée dans "
                                  "l'entrepôt (data/processed) ; la faire correspondre à une "
                                  "colonne personnelle "
                                  f"({', '.join(PERSONAL)}) ou la retirer de la correspondance "
                                  f"« {mapping.get('name')} »", limit=LONG)
    for column in COLUMNS[table]:
        if column not in frame.columns:
            frame[column] = None
    return frame


def personal_values(series: pd.Series) -> str | None:
    """The kind of personal data (``email``, ``telephone``, ``nir``, ``adresse``) that a column's
    first filled values (among its first thousand cells) look like, if a share of them
    (:data:`PERSONAL_VALUE_SHARE`) does."""
    values = text(series.head(PERSONAL_SAMPLE * 5).astype("string")).dropna().head(PERSONAL_SAMPLE)
    if values.empty:
        return None
    for kind, pattern in PERSONAL_VALUES.items():
        if values.str.contains(pattern).mean() >= PERSONAL_VALUE_SHARE:
            return kind
    return None


def read_export(export: Export, raw_root: Path, quarantine: Quarantine | None = None) -> Export:
    """Read an export's tables (``export.sheets``): located under their header, mapped to the
    canonical columns. A flat extraction gives one sheet per view, each on all its rows."""
    mapping = export.mapping
    files = mapping.get("files", {})
    if export.flat:
        path = export.files[0]
        where = _relative(path, raw_root)
        if path.suffix.lower() == ".csv":
            raws = [RawTable(where, read_csv_cells(path).cells)]
        else:
            if path.stat().st_size == 0:
                raise SourceFileError(where, "classeur XLSX illisible : fichier vide")
            wanted = _patterns(files.get("sheets", "*"))
            book = read_xlsx_cells(path)
            raws = [RawTable(f"{where}#{name}", cells) for name, cells in book.items()
                    if _match(str(name), wanted)[0] and not cells.dropna(how="all").empty]
            if not raws:
                raise SourceFileError(where, f"aucune feuille {' | '.join(wanted)} non vide "
                                      f"(feuilles présentes : {', '.join(map(str, book))})")
        parts, lines = [], []
        for raw in raws:
            located = _locate(raw, mapping, None, quarantine)
            export.notes += [f"{raw.name} : {n}" for n in located.notes]
            parts.append(located)
            label = located.line.astype(str)
            if len(raws) > 1:
                label = label + f" (feuille « {raw.name.split('#', 1)[1]} »)"
            lines.append(label)
        for table in TABLES:
            if table not in mapping["tables"]:
                continue
            frames = [_canonical(p, mapping, table, p.name) for p in parts]
            frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            frame.attrs["absent_columns"] = frames[0].attrs.get("absent_columns", [])
            export.sheets[table] = Sheet(f"{where}#{FLAT_VIEWS[table]}", frame,
                                         pd.concat(lines, ignore_index=True))
        return export
    for path in export.files:
        where = _relative(path, raw_root)
        if path.suffix.lower() == ".csv":
            table = next(t for t, p in files.get("csv", {}).items() if _match(path.name, _patterns(p))[0])
            raws = {table: RawTable(where, read_csv_cells(path).cells)}
        else:
            names = sheet_names(path)
            wanted = {t: next(n for n in names if _same_sheet(s, n))
                      for t, s in files.get("xlsx_sheets", {}).items()
                      if any(_same_sheet(s, n) for n in names)}
            book = read_xlsx_cells(path, list(wanted.values()))
            raws = {t: RawTable(f"{where}#{name}", book[name]) for t, name in wanted.items()}
        for table, raw in raws.items():
            located = _locate(raw, mapping, [table], quarantine)
            export.notes += [f"{raw.name} : {n}" for n in located.notes]
            export.sheets[table] = Sheet(raw.name, _canonical(located, mapping, table, raw.name),
                                         located.line)
    return export


def read_sheets(folder: Path, raw_root: Path, mapping: dict) -> dict[str, Sheet]:
    """The tables of a folder holding one coordination's four-table export (kept for callers
    that read one folder as one export)."""
    exports = find_exports(folder, raw_root, mapping)
    return read_export(exports[0], raw_root).sheets


def _participants(table: CheckedTable, coordination: str, key: bytes, communes: set[str],
                  vocab: dict, today: date | None = None) -> pd.DataFrame:
    f = table.frame
    f["participant_raw"] = text(f["participant_raw"])
    table.reject(f["participant_raw"].isna(), "identifiant participant obligatoire",
                 lambda r: "ligne sans identifiant de participant")
    table.unique_key("participant_raw", "identifiant participant en double",
                     lambda r: "le même identifiant figure sur une autre ligne, avec d'autres valeurs")
    for column, label in (("sexe", "sexe"), ("diplome", "niveau de diplôme"), ("public", "public"),
                          ("prescripteur", "prescripteur")):
        _vocabulary(table, column, vocab[column], label,
                    unknown_value="inconnu" if column == "diplome" else None)
    f = table.frame
    commune = text(f["commune_residence"])
    bad_commune = commune.notna() & ~commune.isin(communes)
    table.warn(bad_commune, "commune de résidence inconnue",
               lambda r: f"code INSEE « {r['commune_residence']} » absent de la géographie de référence")
    f["commune_residence"] = commune.mask(bad_commune).astype("string")
    for column in ("qpv", "formation_qualifiante"):
        values, bad = yes_no(f[column])
        table.warn(bad, f"{column} illisible", lambda r, c=column: f"« {r[c]} » n'est ni Oui ni Non")
        f[column] = values
    born, bad_born = parse_dates(f["date_naissance"])
    entered, bad_entered = parse_dates(f["date_entree"])
    table.warn(bad_born, "date de naissance illisible", lambda r: "date de naissance illisible")
    table.warn(bad_entered, "date d'entrée illisible", lambda r: f"« {r['date_entree']} » illisible")
    table.plausible_dates(entered, "date_entree", today)
    age = (entered - born).dt.days / 365.25
    given, bad_given = parse_decimals(f["age"])  # an age at entry, when the export gives no birth date
    table.warn(bad_given | (given < 0), "âge illisible", lambda r: f"âge « {r['age']} » illisible")
    age = age.astype("Float64").fillna(given.where(given >= 0))
    band = pd.Series(pd.NA, index=f.index, dtype="string")
    for low, high, label in AGE_BANDS:
        band[(age >= low) & (age < high)] = label
    implausible = age.notna() & ((age < 14) | (age > 80))
    table.warn(implausible, "âge improbable", lambda r: "âge à l'entrée hors de 14-80 ans")
    band[implausible] = pd.NA
    out = pd.DataFrame({
        "participant_id": pseudonymise(f["participant_raw"], coordination, key),
        "coordination": coordination,
        "sexe": f["sexe"].astype("string"),
        "tranche_age": band,
        "diplome": f["diplome"].astype("string"),
        "commune_residence": f["commune_residence"].astype("string"),
        "qpv": f["qpv"],
        "public": f["public"].astype("string"),
        "prescripteur": f["prescripteur"].astype("string"),
        "formation_qualifiante": f["formation_qualifiante"],
        "date_entree": entered.astype("datetime64[ms]"),
    })
    return out


def _operations(table: CheckedTable, coordination: str, communes: set[str], vocab: dict,
                today: date | None = None) -> pd.DataFrame:
    f = table.frame
    f["operation_code"] = text(f["operation_code"])
    table.reject(f["operation_code"].isna(), "code opération obligatoire",
                 lambda r: "ligne sans code d'opération")
    table.unique_key("operation_code", "code opération en double",
                     lambda r: f"l'opération {r['operation_code']} figure sur une autre ligne")
    _vocabulary(table, "modalite", vocab["modalite"], "modalité")
    _vocabulary(table, "secteur", vocab["secteur"], "secteur")
    f = table.frame
    start, bad_start = parse_dates(f["date_debut"])
    end, bad_end = parse_dates(f["date_fin"])
    table.warn(bad_start | bad_end, "date d'opération illisible", lambda r: "date illisible")
    table.plausible_dates(start, "date_debut", today, years_after=10)
    table.plausible_dates(end, "date_fin", today, years_after=10)
    planned, bad_planned = parse_decimals(f["heures_prevues"])
    done, bad_done = parse_decimals(f["heures_realisees"])
    table.warn(bad_planned | bad_done | (planned < 0) | (done < 0), "heures d'opération invalides",
               lambda r: f"heures prévues « {r['heures_prevues']} », réalisées « {r['heures_realisees']} »")
    place = text(f["commune"])
    table.warn(place.notna() & ~place.isin(communes), "commune de l'opération inconnue",
               lambda r: f"code INSEE « {r['commune']} » absent de la géographie de référence")
    grand, _ = yes_no(f["grand_projet"])
    table.valid_siret("maitre_ouvrage_siret",
                      lambda r: f"« {r['maitre_ouvrage_siret']} » n'est pas un SIRET valide",
                      rule="maître d'ouvrage : SIRET invalide", warn_only=True)
    siret = f["maitre_ouvrage_siret"]
    return pd.DataFrame({
        "operation_id": coordination + "-" + f["operation_code"].astype("string"),
        "coordination": coordination,
        "libelle": text(f["libelle"]),
        "maitre_ouvrage": text(f["maitre_ouvrage"]),
        "maitre_ouvrage_siret": siret,
        "decp_uid": text(f["decp_uid"]),
        "modalite": f["modalite"],
        "secteur": f["secteur"],
        "grand_projet": grand,
        "departement": text(f["departement"]).fillna(coordination),
        "commune": text(f["commune"]),
        "date_debut": start.astype("datetime64[ms]"),
        "date_fin": end.astype("datetime64[ms]"),
        "heures_prevues": planned.where(planned >= 0),
        "heures_realisees": done.where(done >= 0),
    })


def _work_contracts(table: CheckedTable, coordination: str, key: bytes, known_participants: set,
                    known_operations: set, vocab: dict, today: date | None = None) -> pd.DataFrame:
    f = table.frame
    f["participant_raw"] = text(f["participant_raw"])
    f["operation_code"] = text(f["operation_code"])
    table.reject(~f["participant_raw"].isin(known_participants), "participant inconnu",
                 lambda r: f"le participant {_pseudo(r['participant_raw'], coordination, key)} "
                           "(pseudonyme) n'est pas dans la table des participants")
    f = table.frame
    table.reject(~f["operation_code"].isin(known_operations), "opération inconnue",
                 lambda r: f"l'opération {r['operation_code']} n'est pas dans la table des opérations")
    f = table.frame
    start, bad_start = parse_dates(f["date_debut"])
    end, bad_end = parse_dates(f["date_fin"])
    table.reject(start.isna() | end.isna(), "dates de contrat illisibles",
                 lambda r: f"début « {r['date_debut']} », fin « {r['date_fin']} »")
    f = table.frame
    start, end = start[f.index], end[f.index]
    table.reject(end < start, "fin de contrat avant le début",
                 lambda r: f"du {r['date_debut']} au {r['date_fin']}")
    f = table.frame
    hours, bad_hours = parse_decimals(f["heures"])
    table.reject(bad_hours | hours.isna() | (hours < 0), "heures réalisées invalides",
                 lambda r: f"heures « {r['heures']} » : un nombre positif ou nul est attendu")
    for column, label in (("type_employeur", "type d'employeur"), ("type_contrat", "type de contrat")):
        _vocabulary(table, column, vocab[column], label)
    f = table.frame
    start, end = start[f.index], end[f.index]
    table.plausible_dates(start, "date_debut", today, years_after=10)
    table.plausible_dates(end, "date_fin", today, years_after=10)
    hours = parse_decimals(f["heures"])[0]
    return pd.DataFrame({
        "participant_id": pseudonymise(f["participant_raw"], coordination, key),
        "operation_id": coordination + "-" + f["operation_code"].astype("string"),
        "coordination": coordination,
        "employeur": text(f["employeur"]),
        "employeur_siret": text(f["employeur_siret"]),
        "type_employeur": f["type_employeur"],
        "type_contrat": f["type_contrat"],
        "date_debut": start.astype("datetime64[ms]"),
        "date_fin": end.astype("datetime64[ms]"),
        "heures": hours.astype("Float64"),
        "code_rome": text(f["code_rome"]),
        "poste": text(f["poste"]),
    })


def _outcomes(table: CheckedTable, coordination: str, key: bytes, known_participants: set,
              vocab: dict) -> pd.DataFrame:
    f = table.frame
    f["participant_raw"] = text(f["participant_raw"])
    table.reject(~f["participant_raw"].isin(known_participants), "participant inconnu",
                 lambda r: f"le participant {_pseudo(r['participant_raw'], coordination, key)} "
                           "(pseudonyme) n'est pas dans la table des participants")
    table.unique_key("participant_raw", "sortie en double",
                     lambda r: "deux situations à 6 mois pour le participant "
                               f"{_pseudo(r['participant_raw'], coordination, key)} (pseudonyme)")
    _vocabulary(table, "situation_6_mois", vocab["situation_6_mois"], "situation à 6 mois",
                unknown_value="inconnue")
    f = table.frame
    ended, _ = parse_dates(f["date_fin_dernier_contrat"])
    first_durable, _ = parse_dates(f["date_premier_emploi_durable"])
    exported, _ = parse_dates(f["date_export"])
    return pd.DataFrame({
        "participant_id": pseudonymise(f["participant_raw"], coordination, key),
        "coordination": coordination,
        "date_fin_dernier_contrat": ended.astype("datetime64[ms]"),
        "situation_6_mois": f["situation_6_mois"],
        "date_premier_emploi_durable": first_durable.astype("datetime64[ms]"),
        "date_export": exported.astype("datetime64[ms]"),
    })


def _fold(table: CheckedTable, key: str, conflicts: list[str], rule: str, what: str,
          coordination: str, secret_key: bytes) -> set:
    """One row per ``key`` from a flat extraction's repeated rows.

    Rows of one key that agree (or leave a cell empty) are merged into the first; a key whose
    rows disagree on a column of ``conflicts`` is quarantined whole under ``rule`` (never a silent
    pick); a disagreement on another column is reported and the first filled value kept. Messages
    name columns and lines, never the values (they may be personal). Returns the quarantined keys.
    """
    f = table.frame
    dropped = {c for c, treatment in PERSONAL.items() if treatment == "supprimer"}
    columns = [c for c in f.columns if c not in (key, "_line") and not c.startswith("_")
               and c not in dropped]  # a column dropped at ingestion decides nothing
    if f.empty:
        return set()
    values = pd.DataFrame({c: text(f[c]) for c in columns}, index=f.index)
    groups = values.groupby(f[key], sort=False, dropna=True)
    distinct = groups.nunique(dropna=True)
    differs = distinct.gt(1)
    conflicted = differs[[c for c in conflicts if c in differs.columns]].any(axis=1)
    bad_keys = set(conflicted[conflicted].index)
    lines = f.groupby(key, sort=False)["_line"].agg(lambda x: ", ".join(map(str, x)))
    label = lambda r, cols: (  # noqa: E731
        ", ".join(c for c in cols if differs.at[r[key], c]))
    if bad_keys:
        table.reject(f[key].isin(bad_keys), rule,
                     lambda r: f"{what} {_pseudo(r[key], coordination, secret_key) if key == 'participant_raw' else r[key]}"
                               f" : valeurs contradictoires entre ses lignes ({lines[r[key]]}) "
                               f"pour {label(r, conflicts)}")
        f = table.frame
        values = values.loc[f.index]
    soft = differs.drop(index=list(bad_keys), errors="ignore")
    soft = soft[soft.any(axis=1)]
    first = ~f.duplicated(subset=[key], keep="first")
    if not soft.empty:
        table.warn(first & f[key].isin(set(soft.index)), "valeurs différentes entre lignes",
                   lambda r: f"{what} {_pseudo(r[key], coordination, secret_key) if key == 'participant_raw' else r[key]}"
                             f" : {label(r, columns)} diffère(nt) entre ses lignes "
                             f"({lines[r[key]]}) ; la première valeur renseignée est gardée")
    if f.empty:
        return bad_keys
    kept = values.loc[f.index].groupby(f[key], sort=False, dropna=True).first()
    folded = f[first].set_index(key, drop=False)
    for c in columns:
        folded[c] = kept[c].reindex(folded.index).to_numpy()
    folded.index = f.index[first.to_numpy()]
    table.merged += int(len(f) - len(folded))
    table.frame = folded
    return bad_keys


def _flat_view(sheet: Sheet, key: str, quarantine: Quarantine, required: bool = True) -> CheckedTable:
    """A view of a flat extraction: the rows carrying data for it (a row without any outcome
    cell is not an outcome record)."""
    if not required:
        cells = sheet.frame[[c for c in sheet.frame.columns if c != key]]
        carrying = _filled_rows(cells)
        sheet = Sheet(sheet.name, sheet.frame[carrying].reset_index(drop=True),
                      sheet.line[carrying.to_numpy()].reset_index(drop=True))
    return CheckedTable(sheet, quarantine, SOURCE)


def _filled_rows(frame: pd.DataFrame) -> pd.Series:
    filled = pd.Series(False, index=frame.index)
    for c in frame.columns:
        filled |= text(frame[c].astype("string")).notna()
    return filled


def _read_one(export: Export, raw_root: Path, key: bytes, communes: set[str],
              today: date | None) -> TrackingResult:
    mapping = export.mapping
    vocab = mapping["vocabularies"]
    coordination = export.coordination
    result = TrackingResult()
    q = result.quarantine
    sheets = read_export(export, raw_root, q).sheets
    consistency = mapping.get("consistency", {})
    conflicted: set = set()
    if export.flat:
        parts = CheckedTable(sheets["participants"], q, SOURCE)
        parts.frame["participant_raw"] = text(parts.frame["participant_raw"])
        parts.reject(parts.frame["participant_raw"].isna(), "identifiant participant obligatoire",
                     lambda r: "ligne sans identifiant de participant")
        conflicted = _fold(parts, "participant_raw", consistency.get("participants", ["sexe", "date_naissance"]),
                           "participant en conflit", "participant", coordination, key)
        ops = CheckedTable(sheets["operations"], q, SOURCE)
        ops.frame["operation_code"] = text(ops.frame["operation_code"])
        ops.reject(ops.frame["operation_code"].isna(), "code opération obligatoire",
                   lambda r: "ligne sans code d'opération")
        _fold(ops, "operation_code", consistency.get("operations", []), "opération en conflit",
              "opération", coordination, key)
    else:
        parts = CheckedTable(sheets["participants"], q, SOURCE)
        ops = CheckedTable(sheets["operations"], q, SOURCE)
    participants = _participants(parts, coordination, key, communes, vocab, today)
    operations = _operations(ops, coordination, communes, vocab, today)
    contracts_t = CheckedTable(sheets["work_contracts"], q, SOURCE)
    if conflicted:
        contracts_t.reject(text(contracts_t.frame["participant_raw"]).isin(conflicted),
                           "participant en conflit",
                           lambda r: f"le participant {_pseudo(r['participant_raw'], coordination, key)} "
                                     "(pseudonyme) a des lignes contradictoires : voir la vue "
                                     "des participants")
    contracts = _work_contracts(contracts_t, coordination, key, set(parts.frame["participant_raw"]),
                                set(ops.frame["operation_code"]), vocab, today)
    # An operation's realised hours should equal the sum of its work contracts' hours.
    totals = contracts.groupby("operation_id")["heures"].sum()
    recorded = operations.set_index("operation_id")["heures_realisees"]
    summed = totals.reindex(recorded.index).fillna(0)
    gap = (recorded - summed).abs()
    inconsistent = (gap > 1) & (gap > 0.01 * summed.abs())
    inconsistent = inconsistent.fillna(False).to_numpy()
    ops_view = ops.frame.assign(_sum=summed.to_numpy())
    for _, row in ops_view[inconsistent].iterrows():
        q.warn(SOURCE, ops.sheet.name, f"ligne {row['_line']}", "heures réalisées incohérentes",
               f"opération {row['operation_code']} : {row['heures_realisees']} h déclarées, "
               f"{row['_sum']:.1f} h dans ses contrats de travail")
    tables = {"participants": participants, "operations": operations, "work_contracts": contracts}
    checked = [parts, ops, contracts_t]
    if "outcomes" in sheets:
        if export.flat:
            outs = _flat_view(sheets["outcomes"], "participant_raw", q, required=False)
            outs.frame["participant_raw"] = text(outs.frame["participant_raw"])
            outs.reject(outs.frame["participant_raw"].isin(conflicted), "participant en conflit",
                        lambda r: f"le participant {_pseudo(r['participant_raw'], coordination, key)} "
                                  "(pseudonyme) a des lignes contradictoires")
            _fold(outs, "participant_raw", consistency.get("outcomes", ["situation_6_mois"]),
                  "sortie en double", "participant", coordination, key)
        else:
            outs = CheckedTable(sheets["outcomes"], q, SOURCE)
        tables["outcomes"] = _outcomes(outs, coordination, key, set(parts.frame["participant_raw"]), vocab)
        checked.append(outs)
    result.tables = tables
    result.accounting = [{**t.accounting(), "coordination": coordination} for t in checked]
    return result


def read_coordination(folder: Path, raw_root: Path, key: bytes, communes: set[str],
                      mapping: dict | None = None, today: date | None = None) -> TrackingResult:
    """Read the export(s) of one folder (``tracking/<dep>/``, or a folder holding the files of
    several coordinations named by the mapping's patterns).

    Parameters
    ----------
    folder
        The folder; its ``mapping.json`` (or a parent's) describes the export, else the built-in
        mappings are tried (:data:`BUILTIN_MAPPINGS`).
    raw_root
        The input folder (file names in messages are relative to it).
    key
        The pseudonymisation key.
    communes
        INSEE codes of the reference geography.
    mapping
        A mapping (dict) to use instead.
    today
        Reference day for the improbable-date rule.

    Raises
    ------
    SourceFileError
        When nothing is recognised, or a file or sheet is missing or unreadable, or a required
        column is absent: the message names the file, the rule and what was expected.
    """
    combined = TrackingResult()
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    exports = find_exports(folder, raw_root, mapping)
    used = {path for export in exports for path in export.files}
    for path in _data_files(folder):
        if path not in used:  # never dropped silently: said, with what was read instead
            combined.quarantine.warn(
                SOURCE, _relative(path, raw_root), "fichier", "fichier non lu",
                f"aucun motif de la correspondance « {exports[0].mapping.get('name')} » ne "
                f"désigne ce fichier ; lus dans ce dossier : "
                + ", ".join(sorted(p.name for p in used)))
    for export in exports:
        one = _read_one(export, raw_root, key, communes, today)
        for name, frame in one.tables.items():
            parts[name].append(frame)
        combined.quarantine.extend(one.quarantine)
        combined.accounting.extend(one.accounting)
    combined.tables = {name: pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
                       for name, frames in parts.items() if frames}
    return combined


def read_all(folders: list[Path], raw_root: Path, key: bytes, communes: set[str],
             mapping: dict | None = None, today: date | None = None) -> TrackingResult:
    """Read every coordination and concatenate their tables (a folder holding only a mapping
    file is passed over: its mapping applies to the folders below it)."""
    combined = TrackingResult()
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for folder in folders:
        below = any(other != folder and other.is_relative_to(folder) for other in folders)
        if below and not _data_files(folder) and (folder / MAPPING_FILE).is_file():
            continue  # a mapping for the folders below
        one = read_coordination(folder, raw_root, key, communes, mapping, today)
        for name, frame in one.tables.items():
            parts[name].append(frame)
        combined.quarantine.extend(one.quarantine)
        combined.accounting.extend(one.accounting)
    combined.tables = {name: pd.concat(frames, ignore_index=True)
                       for name, frames in parts.items() if frames}
    return combined
