"""Reading tabular exports (CSV in any common delimiter and encoding, XLSX sheets) as text tables,
and parsing French dates and numbers, with every failure naming the file and the problem."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from typing import Callable

from .base import Quarantine, SourceFileError

MAPPINGS = Path(__file__).parent / "mappings"
ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = (";", ",", "\t", "|")
#: Dates before this day are reported as improbable (the schemas' rule, with the file's line).
FIRST_PLAUSIBLE_DAY = pd.Timestamp("2000-01-01")


@dataclass
class Sheet:
    """One table read from a file: text cells, and the line or row number of each record."""

    name: str            # file name, with "#sheet" for a workbook sheet
    frame: pd.DataFrame  # canonical column names, cells as read
    line: pd.Series      # 1-based line (CSV) or row (XLSX) of each record, header = 1


def load_mapping(name: str | Path) -> dict:
    """A column-mapping file from ``sources/mappings/`` (or a path to one).

    A mapping may name another in ``"extends"``: it then starts from that one, its own keys
    replacing the other's, and its ``vocabularies`` adding labels to the other's.
    """
    path = Path(name) if Path(name).suffix == ".json" else MAPPINGS / f"{name}.json"
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFileError(path, f"correspondance illisible : {exc}") from exc
    if not isinstance(mapping, dict):
        raise SourceFileError(path, "correspondance illisible : un objet JSON est attendu")
    base_name = mapping.get("extends")
    if base_name:
        base = load_mapping(base_name)
        vocabularies = {k: dict(v) for k, v in base.get("vocabularies", {}).items()}
        for name_, labels in mapping.get("vocabularies", {}).items():
            vocabularies.setdefault(name_, {}).update(labels)
        base = {k: v for k, v in base.items() if k not in ("name", "path")}
        mapping = {**base, **mapping, "vocabularies": vocabularies, "extended": base_name}
        mapping.pop("extends", None)
    mapping.setdefault("name", path.stem)
    mapping["path"] = str(path)
    return mapping


def normalise_header(name: object) -> str:
    """A header folded for comparison: no accents, no case, punctuation as spaces
    (« Date d'entrée » → ``date d entree``)."""
    folded = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", folded.casefold()).split())


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    return max(counts, key=counts.get) if max(counts.values()) else ";"


def _decode(path: Path) -> tuple[str, str]:
    """The text of a CSV file and its encoding, or a refusal naming the file."""
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceFileError(path, "fichier vide")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        # Windows-1252 would "decode" UTF-16 (or a binary file) into garbage headers.
        raise SourceFileError(path, "encodage non reconnu (UTF-16 ou fichier binaire ; "
                              "UTF-8 ou Windows-1252 attendu)")
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # cp1252 leaves a few bytes undefined
        raise SourceFileError(path, "encodage non reconnu (ni UTF-8 ni Windows-1252)")
    if not text.strip():
        raise SourceFileError(path, "fichier vide (pas même une ligne d'en-tête)")
    return text, encoding


def read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """Read a CSV as text: encoding (UTF-8 with or without BOM, else Windows-1252) and delimiter
    detected. Returns the frame and the encoding used."""
    text, encoding = _decode(path)
    delimiter = _sniff_delimiter(text.split("\n", 1)[0])
    try:
        from io import StringIO

        # header=None: pandas would rename a repeated header ("X", "X.1") and hide it.
        frame = pd.read_csv(StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            na_values=[], skipinitialspace=False, header=None)
    except (pd.errors.ParserError, ValueError) as exc:
        raise SourceFileError(path, f"CSV illisible : {exc}") from exc
    return _promote_header(frame), encoding


def _promote_header(frame: pd.DataFrame) -> pd.DataFrame:
    """The first row as the header, cells as read (repeated names kept, for :func:`canonical`)."""
    if frame.empty:
        return frame
    names = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
             for v in frame.iloc[0]]
    names = [name or f"Unnamed: {i}" for i, name in enumerate(names)]
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = names
    return body


def _xlsx_engine() -> str:
    """``calamine`` (Rust, about ten times faster on large exports) when it is installed, else
    ``openpyxl``: pandas gives the same cells with both (whole numbers as ints, dates as
    datetimes)."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return "openpyxl"
    return "calamine"


def read_xlsx(path: Path) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook, cells as read (dates stay dates)."""
    try:
        book = pd.read_excel(path, sheet_name=None, dtype=object, engine=_xlsx_engine(),
                             header=None)
    except Exception as exc:  # openpyxl and calamine raise many types for a broken workbook
        raise SourceFileError(path, f"classeur XLSX illisible : {type(exc).__name__}: {exc}") from exc
    return {name: _promote_header(frame) for name, frame in book.items()}


def canonical(frame: pd.DataFrame, columns: dict[str, str], required: list[str], where: str) -> pd.DataFrame:
    """Rename known headers to canonical names; fail clearly when a required one is missing.

    Headers are compared without surrounding spaces; duplicated headers are refused.
    """
    stripped = [str(c).strip() for c in frame.columns]
    duplicated = sorted({c for c in stripped if stripped.count(c) > 1})
    if duplicated:
        raise SourceFileError(where, f"en-têtes en double : {', '.join(duplicated)}")
    frame = frame.set_axis(stripped, axis=1)
    # A header written without its accents or in other case is the same header.
    folded = {normalise_header(k): v for k, v in columns.items()}
    renames = {c: columns.get(c, folded.get(normalise_header(c))) for c in stripped}
    renames = {c: v for c, v in renames.items() if v is not None}
    taken = [v for v in renames.values()]
    twice = sorted({c for c, v in renames.items() if taken.count(v) > 1})
    if twice:
        raise SourceFileError(where, "en-têtes en double (même colonne) : " + ", ".join(twice))
    renamed = frame.rename(columns=renames)
    missing = [c for c in required if c not in renamed.columns]
    if missing:
        wanted = {v: k for k, v in columns.items()}
        raise SourceFileError(
            where, "colonne(s) obligatoire(s) absente(s) : "
            + ", ".join(f"« {wanted.get(c, c)} »" for c in missing))
    absent = [header for header, column in columns.items() if column not in renamed.columns]
    for column in columns.values():
        if column not in renamed.columns:
            renamed[column] = None
    out = renamed[list(dict.fromkeys(columns.values()))].copy()
    out.attrs["absent_columns"] = absent  # reported by CheckedTable, never silently empty
    return out


def text(series: pd.Series) -> pd.Series:
    """Cells as stripped strings; empty cells become missing."""
    out = series.astype("string").str.strip()
    return out.mask(out == "")


def parse_dates(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """French dates (JJ/MM/AAAA), ISO dates, Excel dates or Excel serial numbers.

    Returns (dates as ``datetime64[ms]``, mask of non-empty cells that could not be read).
    """
    values = series.astype(object)
    result = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ms]")
    is_stamp = values.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "year"))
    if is_stamp.any():
        result[is_stamp] = pd.to_datetime(values[is_stamp], errors="coerce")
    rest = ~is_stamp
    as_text = values[rest].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                               else str(v).strip())
    as_text = as_text.mask(as_text == "")
    serial = pd.to_numeric(as_text, errors="coerce")
    is_serial = serial.between(1, 80_000) & as_text.str.fullmatch(r"\d+(\.0+)?").fillna(False)
    if is_serial.any():
        result[is_serial[is_serial].index] = (
            pd.Timestamp("1899-12-30") + pd.to_timedelta(serial[is_serial], unit="D"))
    others = as_text[~is_serial.reindex(as_text.index, fill_value=False)]
    french = pd.to_datetime(others, format="%d/%m/%Y", errors="coerce")
    iso = pd.to_datetime(others.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    result[others.index] = french.fillna(iso)
    present = series.notna() & (series.astype("string").str.strip() != "")
    return result, present & result.isna()


def parse_decimals(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers written the French way (``1 234,5``) or as numbers.

    Returns (floats, mask of non-empty cells that could not be read).
    """
    cleaned = (series.astype("string").str.replace(r"[\s\u00a0\u202f€]", "", regex=True)
               .str.replace(",", ".", regex=False))
    cleaned = cleaned.mask(cleaned == "")
    numbers = pd.to_numeric(cleaned, errors="coerce").astype("Float64")
    numbers = numbers.mask(numbers.isin([np.inf, -np.inf]))  # "1e400", "inf": not a number of hours
    return numbers, cleaned.notna() & numbers.isna()


def yes_no(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``Oui``/``Non`` (and common variants) as nullable booleans; second value: unreadable cells."""
    folded = text(series).str.lower()
    mapping = {"oui": True, "o": True, "yes": True, "1": True, "vrai": True, "true": True,
               "non": False, "n": False, "no": False, "0": False, "faux": False, "false": False}
    out = folded.map(mapping).astype("boolean")
    return out, folded.notna() & out.isna()


class CheckedTable:
    """A table being checked: rows are rejected or merged with a reason, the rest kept."""

    def __init__(self, sheet: Sheet, quarantine: Quarantine, source: str):
        self.source = source
        self.sheet = sheet
        self.frame = sheet.frame.copy()
        self.frame["_line"] = sheet.line.to_numpy()
        self.read = len(self.frame)
        self.rejected = 0
        self.merged = 0
        self.q = quarantine
        for header in sheet.frame.attrs.get("absent_columns", []):
            quarantine.warn(source, sheet.name, "en-tête", "colonne absente",
                            f"colonne « {header} » absente du fichier : valeur manquante sur "
                            f"toutes ses lignes ({self.read})")

    def plausible_dates(self, dates: pd.Series, column: str, today: date | None,
                        years_after: int = 0) -> None:
        """Report (keep) rows whose date is before 2000 or after ``today`` + ``years_after``
        years: a typo (1900, 2099) or a number read as an Excel serial (« 2022 » → 1905)."""
        from datetime import date as _date

        last = pd.Timestamp(today or _date.today()) + pd.DateOffset(years=years_after)
        dates = dates.reindex(self.frame.index)
        odd = dates.notna() & ((dates < FIRST_PLAUSIBLE_DAY) | (dates > last))
        self.warn(odd, "date improbable",
                  lambda r: f"{column} « {r[column]} » lue comme le "
                            f"{dates[r.name]:%d/%m/%Y} : hors de la période plausible "
                            f"(01/01/2000 – {last:%d/%m/%Y})")

    def reject(self, mask: pd.Series, rule: str, message: Callable[[pd.Series], str]) -> None:
        mask = mask.fillna(False).astype(bool)
        for _, row in self.frame[mask].iterrows():
            self.q.reject(self.source, self.sheet.name, f"ligne {row['_line']}", rule, message(row))
        self.rejected += int(mask.sum())
        self.frame = self.frame[~mask]

    def warn(self, mask: pd.Series, rule: str, message: Callable[[pd.Series], str]) -> None:
        mask = mask.fillna(False).astype(bool)
        for _, row in self.frame[mask].iterrows():
            self.q.warn(self.source, self.sheet.name, f"ligne {row['_line']}", rule, message(row))

    def unique_key(self, column: str, rule: str, message: Callable[[pd.Series], str]) -> None:
        """Make ``column`` a key: exact copies of a row are merged into it, and a repeated key
        with other values is quarantined under ``rule``."""
        copies = self.frame.duplicated(subset=[c for c in self.frame.columns if c != "_line"],
                                       keep="first")
        self.merged += int(copies.sum())
        self.frame = self.frame[~copies]
        self.reject(self.frame[column].duplicated(keep="first"), rule, message)

    def valid_siret(self, column: str, message: Callable[[pd.Series], str],
                    rule: str = "SIRET invalide", warn_only: bool = False) -> None:
        """Quarantine (or, with ``warn_only``, only report) rows whose ``column`` is not a valid
        SIRET; an empty cell is invalid unless ``warn_only``. The column is left as clean text."""
        from ..identifiers import siret_valid

        values = text(self.frame[column])
        self.frame[column] = values
        bad = ~values.fillna("").map(siret_valid).astype(bool)  # bool even with no rows
        if warn_only:
            self.warn(bad & values.notna(), rule, message)
        else:
            self.reject(bad, rule, message)

    def accounting(self) -> dict:
        return {"source": self.source, "file": self.sheet.name, "read": self.read,
                "kept": len(self.frame), "rejected": self.rejected, "merged": self.merged}


def open_csv_table(path: Path, raw_root: Path, quarantine: Quarantine, source: str,
                   columns: dict[str, str], required: list[str]) -> CheckedTable:
    """A flat CSV export, headers mapped to canonical names, ready for row checks."""
    frame, _ = read_csv(path)
    where = str(path.relative_to(raw_root)) if path.is_relative_to(raw_root) else str(path)
    sheet = Sheet(where, canonical(frame, columns, required, where),
                  pd.Series(range(2, len(frame) + 2)))
    return CheckedTable(sheet, quarantine, source)


# --- Exports as people keep them: title lines, totals rows, empty columns, several sheets --------

#: How many rows from the top are searched for the header (title lines may sit above it).
HEADER_SEARCH_ROWS = 30
#: A row whose first filled cell says this is a total, not a record (« Total », « TOTAL GÉNÉRAL »).
TOTAL_ROW = re.compile(r"^\s*(sous[- ]?)?tota(l|ux)\b", re.IGNORECASE)


@dataclass
class RawTable:
    """One table of an export before its header is known: every cell as read, and where."""

    name: str              # file name, with "#sheet" for a workbook sheet
    cells: pd.DataFrame    # positional columns, one row per physical line (CSV) or sheet row
    encoding: str | None = None


@dataclass
class LocatedTable:
    """A table whose header was found: named columns, the line of each record, and what was
    set aside around the records (title lines, totals rows, empty columns)."""

    name: str
    frame: pd.DataFrame
    line: pd.Series
    header_line: int
    notes: list[str] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)


def read_csv_cells(path: Path, max_lines: int | None = None) -> RawTable:
    """Every line of a CSV as cells (no header assumed): encoding and delimiter detected on the
    first lines, short lines (titles above the header) padded. Row ``i`` is physical line
    ``i + 1`` (blank lines kept as empty rows)."""
    import csv
    from io import StringIO

    text, encoding = _decode(path)
    if max_lines is not None:
        text = "\n".join(text.splitlines()[:max_lines])
    head = text.splitlines()[:HEADER_SEARCH_ROWS]
    counts = {d: max((line.count(d) for line in head), default=0) for d in DELIMITERS}
    delimiter = max(counts, key=counts.get) if max(counts.values()) else ";"
    try:  # pandas' parser when every line has at most the first line's fields (the usual case)
        cells = pd.read_csv(StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            na_values=[], header=None, skip_blank_lines=False)
        if '"' not in text:  # no quoted field, so no field over two lines: row i is line i + 1
            return RawTable(str(path), cells.astype(object), encoding)
    except (pd.errors.ParserError, ValueError):
        pass  # lines longer than the first (a title line above the header): the csv module
    try:
        rows = []
        reader = csv.reader(StringIO(text, newline=""), delimiter=delimiter)
        last = 0
        for row in reader:
            # A record spanning several lines (a quoted line break) keeps its first line number.
            rows.append((last + 1, row))
            last = reader.line_num
    except csv.Error as exc:
        raise SourceFileError(path, f"CSV illisible : {exc}") from exc
    width = max((len(r) for _, r in rows), default=0)
    cells = pd.DataFrame([r + [""] * (width - len(r)) for _, r in rows], dtype=object)
    cells.index = [line - 1 for line, _ in rows]
    return RawTable(str(path), cells, encoding)


def read_xlsx_cells(path: Path, sheets: list[str] | None = None,
                    max_rows: int | None = None) -> dict[str, pd.DataFrame]:
    """Every row of a workbook's sheets (or of the named ones) as cells, no header assumed; row
    ``i`` is the sheet's row ``i + 1``; merged title cells hold their value in their first cell."""
    try:
        book = pd.read_excel(path, sheet_name=sheets, dtype=object, engine=_xlsx_engine(),
                             header=None, nrows=max_rows)
    except Exception as exc:  # openpyxl and calamine raise many types for a broken workbook
        raise SourceFileError(path, f"classeur XLSX illisible : {type(exc).__name__}: {exc}") from exc
    return book


def sheet_names(path: Path) -> list[str]:
    """The sheet names of a workbook, without reading its cells."""
    try:
        if _xlsx_engine() == "calamine":
            from python_calamine import CalamineWorkbook

            return list(CalamineWorkbook.from_path(str(path)).sheet_names)
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        try:
            return list(book.sheetnames)
        finally:
            book.close()
    except Exception as exc:  # noqa: BLE001 - any failure is an unreadable workbook
        raise SourceFileError(path, f"classeur XLSX illisible : {type(exc).__name__}: {exc}") from exc


def _cell_text(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells as stripped text, ``""`` when empty (for locating headers and totals)."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if v is pd.NaT:
            return ""
        return str(v).strip()
    return cells.map(one) if hasattr(cells, "map") else cells.applymap(one)


def _filled(cells: pd.DataFrame) -> pd.DataFrame:
    """Which cells hold something (not empty, not only spaces), column by column."""
    out = {}
    for i in range(cells.shape[1]):
        values = cells.iloc[:, i]
        out[i] = ~(values.isna() | values.isin(_BLANKS))
    return pd.DataFrame(out, index=cells.index)


#: Cells that hold nothing but spaces (compared as a set: far faster than stripping each cell).
_BLANKS = ["", " ", "  ", "   ", "\t", "\xa0"]


def locate_header(cells: pd.DataFrame, known: set[str] | None = None,
                  search_rows: int = HEADER_SEARCH_ROWS) -> int:
    """Position (0-based) of the header row among the first ``search_rows`` rows.

    With ``known`` headers (normalised, see :func:`normalise_header`): the row holding the most
    of them (the first such row), when it holds at least one. Otherwise, the first row of at least
    two filled cells, all text, at least half as many as the widest of the rows searched, followed
    by a row that is not empty: a title line (one merged cell) or a blank line is passed over.
    """
    top = _cell_text(cells.iloc[:search_rows])
    if top.empty:
        return 0
    if known:
        hits = top.apply(lambda row: sum(normalise_header(v) in known for v in row if v), axis=1)
        if hits.max() > 0:
            return int(np.flatnonzero(hits.to_numpy() == hits.max())[0])
    filled = (top != "").sum(axis=1).to_numpy()
    widest = filled.max() if len(filled) else 0
    numeric = top.apply(lambda row: any(re.fullmatch(r"-?[\d\s.,/:-]+", v) for v in row if v),
                        axis=1).to_numpy()
    for i in range(len(top)):
        if filled[i] >= 2 and filled[i] * 2 >= widest and not numeric[i]:
            if i + 1 >= len(top) or filled[i + 1] > 0:
                return i
    return int(np.argmax(filled))


def locate_table(raw: RawTable, known: set[str] | None = None,
                 search_rows: int = HEADER_SEARCH_ROWS) -> LocatedTable:
    """The table under its header: lines above the header, blank rows, columns with neither
    header nor value and a totals row at the bottom are set aside (and said in ``notes``)."""
    cells = raw.cells
    if cells.empty:
        return LocatedTable(raw.name, pd.DataFrame(), pd.Series([], dtype="int64"), 1)
    at = locate_header(cells, known, search_rows)
    header = _cell_text(cells.iloc[[at]]).iloc[0].tolist()
    body = cells.iloc[at + 1:]
    filled = _filled(body)
    notes = []
    if at > 0:
        notes.append(f"en-tête trouvé ligne {cells.index[at] + 1} ({at} ligne(s) de titre au-dessus)")
    rows_filled = filled.any(axis=1)
    body, filled = body[rows_filled], filled[rows_filled]
    # Totals rows at the bottom: not records.
    totals = []
    while len(body):
        last = _cell_text(body.iloc[[-1]]).iloc[0]
        first = next((v for v in last if v), "")
        if not TOTAL_ROW.match(first):
            break
        totals.insert(0, int(body.index[-1]) + 1)
        body, filled = body.iloc[:-1], filled.iloc[:-1]
    if totals:
        notes.append("ligne(s) de total en bas du tableau, non comptées comme enregistrements : "
                     + ", ".join(f"ligne {n}" for n in totals))
    empty_columns = [i for i, name in enumerate(header)
                     if not name and not filled.iloc[:, i].any()]
    if empty_columns:
        notes.append(f"{len(empty_columns)} colonne(s) vide(s) sans en-tête ignorée(s)")
    keep = [i for i in range(len(header)) if i not in empty_columns]
    frame = body.iloc[:, keep].copy()
    frame.columns = [header[i] or f"Unnamed: {i}" for i in keep]
    frame = frame.reset_index(drop=True)
    line = pd.Series(body.index.to_numpy() + 1, dtype="int64")
    return LocatedTable(raw.name, frame, line, int(cells.index[at]) + 1, notes, totals)
