"""Reading tabular exports (CSV in any common delimiter and encoding, XLSX sheets) as text tables,
and parsing French dates and numbers, with every failure naming the file and the problem."""

from __future__ import annotations

import json
from datetime import date
from dataclasses import dataclass
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


def load_mapping(name: str) -> dict:
    """A column-mapping file from ``sources/mappings/`` (or a path to one)."""
    path = Path(name) if Path(name).suffix == ".json" else MAPPINGS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    return max(counts, key=counts.get) if max(counts.values()) else ";"


def read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """Read a CSV as text: encoding (UTF-8 with or without BOM, else Windows-1252) and delimiter
    detected. Returns the frame and the encoding used."""
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
    renamed = frame.rename(columns=columns)
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
