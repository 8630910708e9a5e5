"""Consolidated tabular DECP (CSV or Parquet): one row per contract × state × supplier.

Such exports (decp-rama, decp-processing and their successors) flatten the JSON: headers like
``acheteur.id`` or ``acheteur_id``, multi-valued fields joined with ``", "``, « Sans objet » for
« Pas de considération sociale ». The national consolidated table that decp-processing 2.x
publishes goes further (``../shared/decp/README.md``): each *state* of a contract has its rows
(``modification_id`` 0 as notified, 1, 2… after each modification, ``donneesActuelles`` on the
latest), a modification's row carries its own notification date, amount, duration and suppliers,
and the rows of a contract come latest first. Identifiers and place codes are typed as integers
there, which drops their leading zeros.

Whatever the row order, the rows are folded back into one contract per ``uid`` (or, without a
``uid`` column, per buyer and ``id``), by columns (Arrow and NumPy sorts, no Python loop per
contract):

* the **notification date** and year, the initial amount and duration, the publication date and
  the suppliers checked for valid SIRETs come from the original state (``modification_id`` 0, or
  the smallest one); without a ``modification_id`` column, states are told apart by their
  notification date (the earliest is the original);
* the **amount, duration and suppliers** come from the current state (the largest
  ``modification_id``): a later state's amount or duration replaces the earlier one only when it
  changed and is positive (as the JSON reader applies modifications); every supplier is counted
  once;
* every later state is a row of the ``modifications`` table;
* codes typed as integers get their zeros back from their kind: ``Code commune`` and
  ``Code postal`` on 5 digits, ``Code département`` on 2 (3 overseas), ``Code région`` on 2; a
  buyer's or supplier's SIRET of 12 or 13 digits on 14 when padding makes it a valid SIRET;
* the columns the JSON has not are kept: the buyer's name, category, commune, département and
  région, the suppliers' categories (PME, ETI, GE) and ``sourceDataset``.

The rules on values are those of the JSON reader (:mod:`.decp`), applied once per *distinct*
value with its own functions; the quarantine messages are the same. Rules proper to these tables:
a ``uid`` whose rows name several buyers, an unreadable ``modification_id``, or one state given
twice with different dates or amounts is quarantined whole; a repeated row (same state and
supplier) is merged and reported. Every extra row of a contract (states, suppliers) counts as
*merged*, so that ``read = kept + rejected + merged`` holds per file.

Concessions (``_type`` « Contrat de concession… ») are rare in these tables: their rows are
folded one contract at a time and read by the reference reader.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..identifiers import siret_valid
from . import decp
from .base import SourceFileError
from .decp import SOURCE, DecpFile, read_record
from .tabular import read_csv

#: Canonical (folded) header → where the value goes in a DECP record (concessions' fallback).
FIELDS = {
    "id": ("id",), "acheteur_id": ("acheteur", "id"), "acheteur_nom": ("acheteur", "nom"),
    "nature": ("nature",), "objet": ("objet",), "codecpv": ("codeCPV",),
    "procedure": ("procedure",), "ccag": ("ccag",),
    "lieuexecution_code": ("lieuExecution", "code"),
    "lieuexecution_typecode": ("lieuExecution", "typeCode"),
    "dureemois": ("dureeMois",), "datenotification": ("dateNotification",),
    "datepublicationdonnees": ("datePublicationDonnees",), "montant": ("montant",),
    "considerationssociales": ("considerationsSociales",),
    "considerationsenvironnementales": ("considerationsEnvironnementales",),
    "_type": ("_type",),
}
SUPPLIER = {"titulaire_id": "id", "titulaire_typeidentifiant": "typeIdentifiant",
            "titulaire_denominationsociale": "denominationSociale"}
#: Columns without which a file is not a consolidated DECP table (folded → as usually written).
REQUIRED = {"id": "id", "acheteur_id": "acheteur_id", "datenotification": "dateNotification"}

#: Columns of the consolidated table kept on ``contracts`` (folded header → column).
EXTRA_COLUMNS = {
    "acheteur_nom": "acheteur_nom",
    "acheteur_categorie": "acheteur_categorie",
    "acheteur_commune_code": "acheteur_commune",
    "acheteur_departement_code": "acheteur_departement",
    "acheteur_region_code": "acheteur_region",
    "titulaire_categorie": "titulaire_categorie",
    "sourcedataset": "sourceDataset",
}
#: Headers some exports use for the same columns.
_ALIASES = {"acheteur_departement": "acheteur_departement_code",
            "acheteur_commune": "acheteur_commune_code",
            "acheteur_region": "acheteur_region_code",
            "titulaire_typeidentifiant": "titulaire_typeidentifiant"}
#: The contracts columns this reader adds to :data:`.decp.CONTRACT_COLUMNS`.
CONTRACT_EXTRA = list(EXTRA_COLUMNS.values())
#: Fields only the v2 format has, as folded headers (``decp.V2_FIELDS``).
_V2 = sorted(name.lower() for name in decp.V2_FIELDS)

#: Zero-padding of a place code, by its kind (folded ``typeCode``).
_PLACE_WIDTH = {"code commune": 5, "code postal": 5, "code departement": 2, "code region": 2}


def _fold(header: str) -> str:
    return re.sub(r"[.\s]+", "_", str(header).strip()).lower()


# --- Reading the file as columns ---------------------------------------------------------------

def _strings(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any Arrow column as one ``large_string`` array, the way the JSON reader's ``_text`` writes
    a value (a whole float as an integer, a date as ``YYYY-MM-DD``)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array.cast(pa.large_string())
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return pc.strftime(array, format="%Y-%m-%d").cast(pa.large_string())
    if pa.types.is_floating(kind):
        values = array.to_numpy(zero_copy_only=False).astype(float)
        whole = np.isfinite(values) & (values == np.floor(values)) & (np.abs(values) < 2 ** 62)
        as_int = pa.array(np.where(whole, values, 0).astype(np.int64)).cast(pa.large_string())
        as_float = array.cast(pa.float64()).cast(pa.large_string())
        return pc.if_else(pa.array(whole), as_int, as_float)
    if pa.types.is_boolean(kind):
        return pc.if_else(array, pa.scalar("true", pa.large_string()),
                          pa.scalar("false", pa.large_string()))
    return array.cast(pa.large_string())


_NULL_TEXT = pa.scalar(None, pa.large_string())


class _Table:
    """The needed columns of a consolidated file (folded names).

    Text is made only where it is used: a column needed per contract is taken at the contract's
    row first (:meth:`text` with ``at``), then trimmed; typed columns (integers, dates) are never
    trimmed (their text has no spaces).
    """

    def __init__(self, columns: dict[str, pa.ChunkedArray | pa.Array], n: int):
        self.columns = columns
        self.n = n
        self._text: dict[str, pa.Array] = {}

    def has(self, name: str) -> bool:
        return name in self.columns

    def kind(self, name: str) -> pa.DataType | None:
        """The column's type (of its values, for a dictionary-encoded column)."""
        if name not in self.columns:
            return None
        kind = self.columns[name].type
        return kind.value_type if pa.types.is_dictionary(kind) else kind

    def raw(self, name: str, at: np.ndarray | None = None) -> pa.Array:
        """Cells as text, as read (at the rows ``at``, or all)."""
        if name not in self.columns:
            return pa.nulls(self.n if at is None else len(at), pa.large_string())
        column = self.columns[name]
        return _strings(_combined(column) if at is None else _take(column, at))

    def codes(self, name: str) -> tuple[np.ndarray, list]:
        """(code of each row, -1 when missing or blank; the distinct stripped values): for
        columns of few distinct values, or typed as integers (stripped once per value)."""
        if name not in self.columns:
            return np.full(self.n, -1, dtype=np.int64), []
        column = self.columns[name]
        if pa.types.is_integer(column.type):  # nothing to strip: NumPy's hash, faster
            values = pc.fill_null(column, np.iinfo(np.int64).min).to_numpy(
                zero_copy_only=False).astype(np.int64)
            codes, distinct = pd.factorize(values)
            if column.null_count:
                codes[values == np.iinfo(np.int64).min] = -1
            return codes.astype(np.int64), [str(v) for v in distinct[:0]]
        encoded = pc.dictionary_encode(column)
        integers = False
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.unify_dictionaries()
            indices = [pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False)
                       for chunk in encoded.chunks]
            raw = indices and np.concatenate(indices).astype(np.int64)
            dictionary = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([])
        else:
            raw = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(
                np.int64)
            dictionary = encoded.dictionary
        if not len(raw):
            return np.zeros(0, dtype=np.int64), []
        if integers:  # nothing to strip: the codes as they are (values as text, if wanted)
            return raw, _strings(dictionary).to_pylist()
        values = [decp._text(v) for v in _strings(dictionary).to_pylist()]
        distinct: dict[str, int] = {}
        remap = np.array([distinct.setdefault(v, len(distinct)) if v is not None else -1
                          for v in values] + [-1], dtype=np.int64)
        return remap[raw], list(distinct)

    def text(self, name: str, at: np.ndarray | None = None) -> pa.Array:
        """Cells as stripped text, blank cells missing (at the rows ``at``, or all)."""
        if at is None and name in self._text:
            return self._text[name]
        column = self.columns.get(name)
        if column is not None and pa.types.is_dictionary(column.type):
            # Strip the distinct values, then give each row its own.
            taken = _combined(column) if at is None else _take(column, at)
            values = pa.array([None if v is None else (v.strip() or None)
                               for v in taken.dictionary.to_pylist()], type=pa.large_string())
            out = values.take(taken.indices)
            if at is None:
                self._text[name] = out
            return out
        raw = self.raw(name, at)
        kind = self.kind(name)
        if kind is not None and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            from .decp_fast import _untrimmed

            # Only the cells ``str.strip`` would change, or empty ones, are redone in Python.
            odd = _untrimmed(raw)
            if len(odd):
                mask = np.zeros(len(raw), dtype=bool)
                mask[odd] = True
                fixed = [v.strip() or None for v in _take(raw, odd).to_pylist()]
                raw = pc.replace_with_mask(raw, pa.array(mask),
                                           pa.array(fixed, type=pa.large_string()))
        if at is None:
            self._text[name] = raw
        return raw


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array (dictionaries unified, still encoded)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _canonical(header: str) -> str:
    folded = _fold(header)
    return _ALIASES.get(folded, folded)


#: Columns of few distinct values (folded names), read as dictionaries.
_DICTIONARY = {"nature", "procedure", "codecpv", "ccag", "lieuexecution_typecode",
               "considerationssociales", "considerationsenvironnementales", "acheteur_nom",
               "acheteur_categorie", "acheteur_commune_code", "acheteur_departement_code",
               "acheteur_region_code", "titulaire_typeidentifiant", "titulaire_categorie",
               "sourcedataset", "_type"}

_NEEDED = (set(FIELDS) | set(SUPPLIER) | set(EXTRA_COLUMNS) | set(_V2)
           | {"uid", "modification_id", "donneesactuelles"})


def _read_table(path: Path) -> _Table:
    columns: dict[str, Any] = {}
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
            wanted = [name for name in schema.names if _canonical(name) in _NEEDED]
            # Columns of few distinct values stay dictionary-encoded, as Parquet stores them
            # (half the memory, a fraction of the time); one thread: the build is one process.
            coded = [name for name in wanted if _canonical(name) in _DICTIONARY
                     and pa.types.is_string(schema.field(name).type)]
            table = pq.read_table(path, columns=wanted, read_dictionary=coded,
                                  use_threads=False)
        except Exception as exc:
            raise SourceFileError(path, f"Parquet illisible : {exc}") from exc
        for name, column in zip(table.column_names, table.columns):
            columns.setdefault(_canonical(name), column)
        n = table.num_rows
    else:
        frame, _ = read_csv(path)
        for name in frame.columns:
            key = _canonical(name)
            if key in _NEEDED and key not in columns:
                columns[key] = pa.array(frame[name].to_numpy(dtype=object),
                                        type=pa.large_string(), from_pandas=True)
        n = len(frame)
    missing = [shown for c, shown in REQUIRED.items() if c not in columns]
    if missing:
        raise SourceFileError(path, "pas un export DECP tabulaire : colonne(s) absente(s) "
                              + ", ".join(missing))
    return _Table(columns, n)


def read_frame(path: Path) -> pd.DataFrame:
    """The needed columns of the file as text cells, with folded headers (``acheteur.id`` →
    ``acheteur_id``)."""
    table = _read_table(Path(path))
    return pd.DataFrame({name: table.raw(name).to_numpy(zero_copy_only=False)
                         for name in table.columns})


# --- Rules per distinct value ------------------------------------------------------------------

def _encode(arr: pa.Array) -> tuple[np.ndarray, list]:
    """(code of each value, -1 when missing; the distinct values)."""
    encoded = pc.dictionary_encode(arr)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _slots(codes: np.ndarray, values) -> pa.Array:
    """Codes as Arrow ``take`` indices into ``values``, whose last item stands for -1 (missing)."""
    return pa.array(np.where(codes < 0, len(values) - 1, codes))


def _map_text(arr: pa.Array, rule: Callable[[str], str | None], where: np.ndarray) -> pa.Array:
    """``arr`` with ``rule`` applied to the values at the positions ``where`` (a mask)."""
    if not where.any():
        return arr
    changed = pa.array([rule(v) for v in arr.filter(pa.array(where)).to_pylist()],
                       type=pa.large_string())
    return pc.replace_with_mask(arr, pa.array(where), changed)


def _restore_siret(value: str) -> str:
    padded = value.zfill(14)
    return padded if value.isdigit() and siret_valid(padded) else value


def _pad_siret(arr: pa.Array) -> pa.Array:
    """Give back the leading zeros a SIRET typed as an integer lost: 12 or 13 digits that make
    a valid SIRET once padded to 14 (a SIREN may start with ``00``; a shorter number is another
    identifier, or a wrong one, and stays as it is)."""
    length = pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
    return _map_text(arr, _restore_siret, (length == 12) | (length == 13))


def _pad_code(value: str | None, width: int) -> str | None:
    if value is None or not value.isdigit() or len(value) >= width:
        return value
    return value.zfill(width)


def _pad_digits(arr: pa.Array, width: int) -> pa.Array:
    """Digit-only codes shorter than ``width`` padded with zeros (an integer lost them)."""
    short = pc.and_(pc.utf8_is_digit(arr), pc.less(pc.utf8_length(arr), width))
    return _map_text(arr, lambda v: v.zfill(width),
                     pc.fill_null(short, False).to_numpy(zero_copy_only=False))


class _Lazy:
    """Python values of an array, made one at a time (for the rare lookups of
    :func:`.decp_fast._sirets_valid`)."""

    def __init__(self, arr: pa.Array):
        self.arr = arr

    def __getitem__(self, i: int):
        return self.arr[i].as_py()


def _sirets_valid(arr: pa.Array) -> np.ndarray:
    from .decp_fast import _sirets_valid as valid

    return valid(arr, _Lazy(arr))


def _integer_sirets_valid(values: np.ndarray) -> np.ndarray:
    """``siret_valid`` of SIRETs typed as integers, as :func:`_pad_siret` gives them back: 12 to
    14 digits (zeros restored), Luhn key (La Poste's rule for SIREN 356 000 000)."""
    ok = (values >= 10 ** 11) & (values < 10 ** 14)
    rest = np.where(ok, values, 0)
    luhn = np.zeros(len(values), dtype=np.int64)
    digits = np.zeros(len(values), dtype=np.int64)
    for position in range(14):  # from the right: every second digit is doubled
        rest, digit = np.divmod(rest, 10)
        digits += digit
        if position % 2:
            digit = digit * 2
            digit -= 9 * (digit > 9)
        luhn += digit
    poste = (values // 10 ** 5) == 356_000_000
    return ok & np.where(poste, digits % 5 == 0, luhn % 10 == 0)


def _dates(table: _Table, name: str) -> np.ndarray:
    """Dates (``datetime64[D]``, NaT when missing or unreadable), read as the JSON reader reads
    them (``YYYY-MM-DD…`` or ``JJ/MM/AAAA``)."""
    kind = table.kind(name)
    if kind is not None and (pa.types.is_date(kind) or pa.types.is_timestamp(kind)):
        return pc.cast(table.columns[name], pa.date32()).to_numpy(
            zero_copy_only=False).astype("datetime64[D]")
    codes, values = _encode(table.text(name))
    days = np.array([np.datetime64(v, "D") if v is not None else np.datetime64("NaT")
                     for v in map(decp._date, values)] + [np.datetime64("NaT")],
                    dtype="datetime64[D]")
    return days[codes]


def _numbers(table: _Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(values as floats, NaN when missing or unreadable; mask of unreadable cells)."""
    kind = table.kind(name)
    if kind is not None and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        values = pc.cast(table.columns[name], pa.float64()).to_numpy(zero_copy_only=False)
        values = np.array(values, dtype=float)
        values[~np.isfinite(values)] = np.nan
        return values, np.zeros(table.n, dtype=bool)
    codes, values = _encode(table.text(name))
    numbers = np.array([np.nan if v is None else v for v in map(decp._number, values)]
                       + [np.nan], dtype=float)
    out = numbers[codes]
    return out, np.isnan(out) & (codes >= 0)


# --- The reader --------------------------------------------------------------------------------

def read_decp_table(path: Path | str, today: date | None = None,
                    communes: set[str] | None = None, chunk_size: int | None = None) -> DecpFile:
    """Read a consolidated tabular DECP file into the same tables as the JSON reader.

    Parameters
    ----------
    path
        A CSV (any common delimiter, UTF-8 or Windows-1252) or Parquet file.
    today
        Dates after this day are rejected (default: the real date).
    communes
        Île-de-France INSEE codes (see :func:`.decp.read_decp_json`).
    chunk_size
        When given, the rows are returned as typed frames (``frames``), as the build reads them
        (in one piece: the columns of a million contracts take little memory); otherwise as row
        dictionaries (``contracts``, ``suppliers``…), like the JSON reader's.

    Raises
    ------
    SourceFileError
        When the file is unreadable (a truncated Parquet file, a CSV in another encoding) or
        lacks one of the :data:`REQUIRED` columns.
    """
    path = Path(path)
    today = today or date.today()
    with _jemalloc():
        table = _read_table(path)
        result = DecpFile(path=str(path), communes=communes)
        if table.n == 0:
            return result
        frames = _Fold(table, result, today).run()
        del table
    if chunk_size:
        for name, frame in frames.items():
            if len(frame):
                result.frames[name].append(frame)
        result.produced += len(frames["contracts"])
        if result.concessions:
            result.flush()
    else:
        result.contracts.extend(_rows(frames["contracts"]))
        result.suppliers.extend(_rows(frames["suppliers"]))
        result.modifications.extend(_rows(frames["modifications"]))
    return result


@contextmanager
def _jemalloc():
    """Arrow's buffers from its jemalloc pool while the file is read, where the wheel has it:
    the default pool (mimalloc) returns freed pages to the system at once, and a million-row
    fold spent half its time in page faults (each buffer keeps its pool: switching is safe)."""
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _rows(frame: pd.DataFrame) -> list[dict]:
    """Typed rows as the JSON reader's row dictionaries (``None``, ``date``, ``bool``, ``int``)."""
    out: dict[str, list] = {}
    for name in frame.columns:
        column = frame[name]
        if name.startswith("date"):
            values = [None if pd.isna(v) else v.date() for v in column]
        elif isinstance(column.dtype, pd.BooleanDtype):
            values = [None if pd.isna(v) else bool(v) for v in column]
        elif isinstance(column.dtype, pd.Int64Dtype):
            values = [None if pd.isna(v) else int(v) for v in column]
        elif isinstance(column.dtype, pd.Float64Dtype):
            values = [None if pd.isna(v) else float(v) for v in column]
        else:
            values = [None if pd.isna(v) else str(v) for v in column]
        out[name] = values
    return [dict(zip(out, row)) for row in zip(*out.values())]


def _take(arr: pa.Array | pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """``arr`` at ``positions``, as one array (a filter when the positions increase: much
    faster than a take on a column in several chunks)."""
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) > 1000 and (np.diff(positions) > 0).all():
        mask = np.zeros(len(arr), dtype=bool)
        mask[positions] = True
        return _combined(arr.filter(pa.array(mask)))
    return _combined(arr.take(pa.array(positions, type=pa.int64())))


def _wheres(lines: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """« ligne a » or « ligne a (et b, c) » for each contract, from its rows' lines (sorted, in
    groups ``starts:ends``), by Arrow string kernels."""
    text = pa.array(lines).cast(pa.large_string())
    first = _take(text, starts)
    out = pc.binary_join_element_wise(_LINE, first, _EMPTY)
    sizes = ends - starts
    if (sizes > 1).any():
        rest = np.ones(len(lines), dtype=bool)
        rest[starts] = False
        offsets = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(sizes - 1, out=offsets[1:])
        others = pa.LargeListArray.from_arrays(pa.array(offsets), text.filter(pa.array(rest)))
        joined = pc.binary_join(others, pa.scalar(", ", pa.large_string()))
        several = pc.binary_join_element_wise(out, pa.scalar(" (et ", pa.large_string()), joined,
                                              pa.scalar(")", pa.large_string()), _EMPTY)
        out = pc.if_else(pa.array(sizes > 1), several, out)
    return out


def _constant(text: str, n: int) -> pa.Array:
    from .decp_fast import _constant as constant

    return constant(text, n)


def _flags(values: np.ndarray) -> pa.Array:
    """-1/0/1 as a nullable boolean array."""
    return pa.array(values == 1, mask=values < 0)


_SEP = pa.scalar("\u241f", pa.large_string())
_UNDERSCORE = pa.scalar("_", pa.large_string())
_LINE = pa.scalar("ligne ", pa.large_string())
_EMPTY = pa.scalar("", pa.large_string())


class _Fold:
    """Rows → contracts, states and suppliers, by sorts and group boundaries."""

    def __init__(self, table: _Table, result: DecpFile, today: date):
        self.t = table
        self.result = result
        self.today = today
        self.pending: list[tuple] = []  # (group, rank, kind, where, rule, message)

    # Quarantine entries are collected, then given in contract order (within a contract, in the
    # order the JSON reader checks its rules).
    def reject(self, group: int, rank: int, rule: str, message: str,
               where: str | None = None) -> None:
        self.pending.append((group, rank, "reject", where, rule, message))

    def warn(self, group: int, rank: int, rule: str, message: str) -> None:
        self.pending.append((group, rank, "warn", None, rule, message))

    def run(self) -> dict[str, pd.DataFrame]:
        t, n, result = self.t, self.t.n, self.result
        line = np.arange(2, n + 2, dtype=np.int64)
        # The contract key: the file's uid, else the buyer and id (as the rows give them).
        key = t.text("uid") if t.has("uid") else None
        if key is None or key.null_count:
            composite = pc.binary_join_element_wise(t.text("acheteur_id"), t.text("id"), _SEP,
                                                    null_handling="replace",
                                                    null_replacement="")
            key = composite if key is None else pc.coalesce(
                key, pc.binary_join_element_wise(_SEP, composite, _EMPTY))
        group_of_row, _ = _encode(key)
        notified = _dates(t, "datenotification")
        # The state of each row.
        state_bad = np.zeros(n, dtype=bool)
        if t.has("modification_id") and pa.types.is_integer(t.kind("modification_id")):
            state_num = pc.fill_null(t.columns["modification_id"], 0).to_numpy(
                zero_copy_only=False).astype(np.int64)
            state_bad = state_num < 0
            state = np.where(state_bad, 0, state_num)
        elif t.has("modification_id"):
            state_text = t.text("modification_id")
            state_num = pd.to_numeric(pd.Series(state_text.to_numpy(zero_copy_only=False)),
                                      errors="coerce").to_numpy(dtype=float)
            present = state_text.is_valid().to_numpy(zero_copy_only=False)
            good = np.isfinite(state_num) & (state_num >= 0) & (state_num == np.floor(state_num))
            state_bad = present & ~good
            state = np.where(good, state_num, 0).astype(np.int64)
        else:  # states told apart by their notification dates (undated first)
            days = np.where(np.isnat(notified), np.iinfo(np.int64).min,
                            notified.astype(np.int64))
            state = pd.Series(days).groupby(group_of_row).rank(method="dense").to_numpy(
                dtype=np.int64) - 1

        # Contracts are numbered in the order of their current state's first row in the file, so
        # that the columns read per contract are a filter of the file's columns, not a take.
        order = np.lexsort((line, state, group_of_row))
        g, s = group_of_row[order], state[order]
        last_of_group = np.ones(n, dtype=bool)
        last_of_group[:-1] = g[1:] != g[:-1]
        top = s[last_of_group][g]                   # the largest state of each row's contract
        first_current = np.full(g[-1] + 1 if n else 0, n, dtype=np.int64)
        np.minimum.at(first_current, g[s == top], order[s == top])
        rank = np.empty_like(first_current)
        rank[np.argsort(first_current, kind="stable")] = np.arange(len(first_current))
        group_of_row = rank[group_of_row]
        order = np.lexsort((line, state, group_of_row))
        g, s = group_of_row[order], state[order]
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = g[1:] != g[:-1]
        new_run = new_group.copy()
        new_run[1:] |= s[1:] != s[:-1]
        starts = np.flatnonzero(new_group)
        ends = np.append(starts[1:], n)
        n_groups = len(starts)
        group_at = np.cumsum(new_group) - 1           # group of each sorted position
        run_at = np.cumsum(new_run) - 1               # state run of each sorted position
        run_starts = np.flatnonzero(new_run)
        run_group = group_at[run_starts]
        first_run = run_at[starts]
        last_run = run_at[ends - 1]
        first = order[starts]                         # a row of the original state
        current = order[run_starts[last_run]]         # a row of the current state
        n_states = last_run - first_run + 1
        result.read += n
        result.merged += n - n_groups

        # Where each contract is: its lines, in file order.
        lines_sorted = line[order]
        self.where = where = _wheres(line[np.lexsort((line, group_of_row))], starts, ends)
        ident_first = t.text("id", current)  # the same on every row of a contract
        self.ident = ident_first

        # Concessions: folded one at a time and read by the reference reader.
        concession = np.zeros(n_groups, dtype=bool)
        if t.has("_type"):
            folded = pc.fill_null(pc.starts_with(pc.utf8_lower(t.text("_type")),
                                                 "contrat de concession"), False)
            concession = folded.to_numpy(zero_copy_only=False)[first]
            for gi in np.flatnonzero(concession).tolist():
                self._concession(gi, order[starts[gi]:ends[gi]])

        # --- identity: the JSON reader's rules and messages ---
        kept = ~concession
        no_id = kept & ~ident_first.is_valid().to_numpy(zero_copy_only=False)
        buyer_first = _pad_siret(t.text("acheteur_id", current))
        no_buyer = kept & ~no_id & ~buyer_first.is_valid().to_numpy(zero_copy_only=False)
        when = notified[first]
        checked = kept & ~no_id & ~no_buyer
        no_date = checked & np.isnat(when)
        early = checked & ~no_date & (when < np.datetime64(f"{decp._FIRST_VALID_YEAR}-01-01"))
        future = checked & ~no_date & ~early & (when > np.datetime64(self.today, "D"))
        label = self._ident
        for gi in np.flatnonzero(no_id).tolist():
            self.reject(gi, 0, "id obligatoire", "identifiant du contrat absent")
        for gi in np.flatnonzero(no_buyer).tolist():
            self.reject(gi, 0, "acheteur.id obligatoire",
                        f"identifiant de l'acheteur absent (contrat {label(gi)})")
        undated = np.flatnonzero(no_date)
        raw_dates = self.t.raw("datenotification", first[undated]).to_pylist()
        for gi, raw in zip(undated.tolist(), raw_dates):
            raw = raw if raw is not None and raw.strip() else None
            self.reject(gi, 0, "dateNotification invalide",
                        f"date absente ou illisible : {raw!r} (contrat {label(gi)})")
        for gi in np.flatnonzero(early).tolist():
            self.reject(gi, 0, "dateNotification hors période",
                        f"date antérieure à {decp._FIRST_VALID_YEAR} : {when[gi]} "
                        f"(contrat {label(gi)})")
        for gi in np.flatnonzero(future).tolist():
            self.reject(gi, 0, "dateNotification dans le futur",
                        f"date postérieure au jour de lecture : {when[gi]} (contrat {label(gi)})")
        kept &= ~(no_id | no_buyer | no_date | early | future)

        # --- rules of consolidated tables ---
        if t.has("uid"):
            if pa.types.is_integer(t.kind("acheteur_id")):
                buyers = pc.fill_null(t.columns["acheteur_id"], -1).to_numpy(zero_copy_only=False)
                differs = buyers[order] != buyers[first[group_at]]
            else:
                buyers = pc.fill_null(t.text("acheteur_id"), "")
                differs = pc.not_equal(_take(buyers, order), _take(buyers, first[group_at])
                                       ).to_numpy(zero_copy_only=False)
            several = np.zeros(n_groups, dtype=bool)
            several[group_at[differs]] = True
            uid_text = t.text("uid")
            for gi in np.flatnonzero(several & kept).tolist():
                names = list(dict.fromkeys(str(v) for v in _pad_siret(
                    t.text("acheteur_id", order[starts[gi]:ends[gi]])).to_pylist()))
                self.reject(gi, 1, "uid : acheteurs différents",
                            f"les lignes du marché {uid_text[int(first[gi])].as_py()} nomment "
                            f"plusieurs acheteurs ({', '.join(names)}) : marché écarté")
            kept &= ~several
        if state_bad.any():
            bad_sorted = state_bad[order]
            bad = np.zeros(n_groups, dtype=bool)
            bad[group_at[bad_sorted]] = True
            for gi in np.flatnonzero(bad & kept).tolist():
                at = starts[gi] + int(np.flatnonzero(bad_sorted[starts[gi]:ends[gi]])[0])
                self.reject(gi, 1, "modification_id illisible",
                            f"ligne {lines_sorted[at]} : modification_id "
                            f"{self._cell('modification_id', order[at])!r} n'est pas un entier "
                            f"positif ou nul (contrat {label(gi)}) : marché écarté")
            kept &= ~bad
        amounts, amount_bad = _numbers(t, "montant")
        durations, _ = _numbers(t, "dureemois")
        published = _dates(t, "datepublicationdonnees")
        # One state given on several rows must say the same on each of them.
        head_of = order[run_starts[run_at]]
        conflict = notified[order].astype(np.int64) != notified[head_of].astype(np.int64)
        for values in (amounts, durations):
            mine, head = values[order], values[head_of]
            conflict |= ~((mine == head) | (np.isnan(mine) & np.isnan(head)))
        conflicting = np.zeros(n_groups, dtype=bool)
        conflicting[group_at[conflict]] = True
        for gi in np.flatnonzero(conflicting & kept).tolist():
            at = starts[gi] + int(np.flatnonzero(conflict[starts[gi]:ends[gi]])[0])
            self.reject(gi, 1, "modification_id en double",
                        f"l'état {s[at]} (modification_id) du contrat {label(gi)} figure sur "
                        f"les lignes {lines_sorted[run_starts[run_at[at]]]} et "
                        f"{lines_sorted[at]} avec des dates, montants ou durées différents : "
                        "marché écarté")
        kept &= ~conflicting

        # --- the kept contracts ---
        groups = np.flatnonzero(kept)
        keep_group = kept
        cur, orig = current[groups], first[groups]
        cols: dict[str, pa.Array] = {}
        ident_k, buyer_k = _take(ident_first, groups), _take(buyer_first, groups)
        cols["uid"] = pc.binary_join_element_wise(buyer_k, ident_k, _UNDERSCORE)
        cols["id"], cols["acheteur_id"] = ident_k, buyer_k
        for column, name in (("objet", "objet"), ("nature", "nature"),
                             ("procedure", "procedure"), ("codeCPV", "codecpv"), ("ccag", "ccag")):
            cols[column] = t.text(name, cur)
        cpv = cols["codeCPV"]
        division = pc.utf8_slice_codeunits(cpv, 0, 2)
        cols["cpv_division"] = pc.if_else(pc.fill_null(pc.match_substring_regex(cpv, r"^\d\d"),
                                                       False), division, _NULL_TEXT)

        # Amounts, durations: initial from the original state; current from the last state that
        # changed them with a positive value (the JSON reader's modifications).
        initial_amount = amounts[orig].copy()
        for k in np.flatnonzero(amount_bad[orig]).tolist():
            self.warn(groups[k], 3, "montant illisible",
                      f"montant non numérique : {self._cell('montant', orig[k])!r} "
                      f"(contrat {label(groups[k])})")
        nonpositive = initial_amount <= 0
        for k in np.flatnonzero(nonpositive).tolist():
            self.warn(groups[k], 3, "montant nul ou négatif",
                      f"montant {initial_amount[k]:g} (contrat {label(groups[k])}) : exclu des "
                      "sommes de montants")
        initial_amount[nonpositive] = np.nan
        initial_duration = durations[orig]
        later = np.ones(len(run_starts), dtype=bool)
        later[first_run] = False
        later &= keep_group[run_group]
        later_runs = np.flatnonzero(later)
        head_rows = order[run_starts[later_runs]]
        previous_rows = order[run_starts[later_runs - 1]]
        mod_group = run_group[later_runs]
        mod_number = later_runs - first_run[mod_group]

        def changed(values: np.ndarray) -> np.ndarray:
            now, before = values[head_rows], values[previous_rows]
            return np.where((now == before) | (np.isnan(now) & np.isnan(before)), np.nan, now)

        mod_amount, mod_duration = changed(amounts), changed(durations)
        for values, rule, text in ((mod_amount, "montant nul ou négatif", "montant {:g} ignoré"),
                                   (mod_duration, "durée nulle ou négative",
                                    "durée {:g} mois ignorée")):
            for m in np.flatnonzero(values <= 0).tolist():
                gi = int(mod_group[m])
                self.warn(gi, 5, rule, f"modification {mod_number[m]} : "
                          f"{text.format(values[m])} (contrat {label(gi)})")
            values[values <= 0] = np.nan
        position = np.full(n_groups, -1, dtype=np.int64)
        position[groups] = np.arange(len(groups))
        final_amount, final_duration = initial_amount.copy(), initial_duration.copy()
        for values, final in ((mod_amount, final_amount), (mod_duration, final_duration)):
            valid = ~np.isnan(values)
            final[position[mod_group[valid]]] = values[valid]  # in state order: the last wins
        cols["montant"] = pa.array(final_amount, from_pandas=True)
        cols["montant_initial"] = pa.array(initial_amount, from_pandas=True)
        cols["dureeMois"] = pa.array(final_duration, from_pandas=True)
        cols["dureeMois_initial"] = pa.array(initial_duration, from_pandas=True)
        notified_k = notified[orig]
        cols["dateNotification"] = pa.array(notified_k).cast(pa.timestamp("ms"))
        cols["annee"] = pa.array(notified_k.astype("datetime64[Y]").astype(np.int64) + 1970)
        cols["datePublicationDonnees"] = pa.array(published[orig]).cast(pa.timestamp("ms"))

        self._place(cols, groups, cur)
        self._considerations(cols, groups, cur)
        buyer_codes, distinct_buyers = _encode(buyer_k)
        buyer_ok = np.append(_sirets_valid(pa.array(distinct_buyers, type=pa.large_string())),
                             False)
        for k in np.flatnonzero(~buyer_ok[buyer_codes]).tolist():
            self.warn(groups[k], 4, "acheteur.id : SIRET invalide",
                      f"{buyer_k[k].as_py()!r} n'est pas un SIRET valide (14 chiffres, clé de "
                      "Luhn)")

        # Suppliers: those of the original state are checked, those of the current one kept.
        kind_code, kind_values = t.codes("titulaire_typeidentifiant")
        is_siret = kind_code == (kind_values.index("SIRET") if "SIRET" in kind_values else -2)
        if t.has("titulaire_id") and pa.types.is_integer(t.kind("titulaire_id")):
            id_code, _ = t.codes("titulaire_id")
        else:
            id_code, _ = _encode(t.text("titulaire_id"))

        def supplier_ids(at: np.ndarray) -> pa.Array:
            ids = t.text("titulaire_id", at)
            return pc.if_else(pa.array(is_siret[at]), _pad_siret(ids), ids)
        rows = pd.DataFrame({"group": group_at, "run": run_at, "id": id_code[order],
                             "kind": kind_code[order], "at": order})
        rows = rows[keep_group[group_at]]
        combined = ((rows["run"].to_numpy() * (int(id_code.max(initial=0)) + 2)
                     + rows["id"].to_numpy() + 1) * (int(kind_code.max(initial=0)) + 2)
                    + rows["kind"].to_numpy() + 1)
        repeated = pd.Series(combined).duplicated().to_numpy()
        for row in rows[repeated].itertuples(index=False):
            self.warn(int(row.group), 0, "ligne en double",
                      f"ligne {line[row.at]} : même état (modification_id {state[row.at]}) et "
                      f"même titulaire qu'une autre ligne du contrat {label(int(row.group))} : "
                      "fusionnée")
        rows = rows[~repeated & ((rows["id"] >= 0) | (rows["kind"] >= 0)).to_numpy()]
        run_of = rows["run"].to_numpy()
        group_of = rows["group"].to_numpy()
        original = rows[(run_of == first_run[group_of]) & is_siret[rows["at"].to_numpy()]]
        checked_at = original["at"].to_numpy()
        if pa.types.is_integer(t.kind("titulaire_id")):  # by arithmetic on the integers
            numbers = _take(t.columns["titulaire_id"], checked_at)
            invalid = np.flatnonzero(~_integer_sirets_valid(
                pc.fill_null(numbers, -1).to_numpy(zero_copy_only=False).astype(np.int64)))
            shown = supplier_ids(checked_at[invalid])
        else:
            checked_ids = supplier_ids(checked_at)
            invalid = np.flatnonzero(~_sirets_valid(checked_ids))
            shown = _take(checked_ids, invalid)
        groups_of = original["group"].to_numpy()
        for k, value in zip(invalid.tolist(), shown.to_pylist()):
            gi = int(groups_of[k])
            self.warn(gi, 4, "titulaire : SIRET invalide",
                      f"{value!r} n'est pas un SIRET valide (contrat {label(gi)})")
        now = rows[run_of == last_run[group_of]]
        cols["n_titulaires"] = pa.array(np.bincount(now["group"].to_numpy(),
                                                    minlength=n_groups)[groups])
        cols["n_modifications"] = pa.array(n_states[groups] - 1)
        cols["source_file"] = _constant(result.path, len(groups))
        cols["source_record"] = _take(where, groups)
        v2 = np.zeros(len(groups), dtype=bool)
        for name in ("considerationssociales", "considerationsenvironnementales", "ccag", *_V2):
            if t.has(name):
                v2 |= t.text(name, cur).is_valid().to_numpy(zero_copy_only=False)
        cols["format"] = pa.array(np.where(v2, decp.FORMAT, decp.FORMAT_2019).astype(object),
                                  type=pa.large_string())
        widths = {"acheteur_departement_code": 2, "acheteur_region_code": 2,
                  "acheteur_commune_code": 5}
        for header, column in EXTRA_COLUMNS.items():
            values = t.text(header, cur)
            cols[column] = _pad_digits(values, widths[header]) if header in widths else values
        cols["titulaire_categorie"] = self._categories(order, group_at, run_at, last_run,
                                                       keep_group, groups)

        contracts = self._frame(cols, decp.CONTRACT_COLUMNS + CONTRACT_EXTRA)
        uid_of_group = pa.nulls(n_groups, pa.large_string())
        uid_of_group = pc.replace_with_mask(uid_of_group, pa.array(keep_group), cols["uid"]) \
            if len(groups) else uid_of_group
        now_groups = now["group"].to_numpy()
        suppliers = self._frame({
            "uid": _take(uid_of_group, now_groups),
            "titulaire_id": supplier_ids(now["at"].to_numpy()),
            "typeIdentifiant": t.text("titulaire_typeidentifiant", now["at"].to_numpy()),
            "source_file": _constant(result.path, len(now)),
            "source_record": _take(where, now_groups),
        }, decp.SUPPLIER_COLUMNS)
        per_run = np.bincount(run_of, minlength=len(run_starts))
        modifications = self._frame({
            "uid": _take(uid_of_group, mod_group),
            "modification_id": pa.array(s[run_starts[later_runs]]).cast(pa.large_string()),
            "dateNotificationModification": pa.array(notified[head_rows]).cast(
                pa.timestamp("ms")),
            "datePublicationDonneesModification": pa.array(published[head_rows]).cast(
                pa.timestamp("ms")),
            "montant": pa.array(mod_amount, from_pandas=True),
            "dureeMois": pa.array(mod_duration, from_pandas=True),
            "n_titulaires": pa.array(per_run[later_runs]),
            "source_file": _constant(result.path, len(later_runs)),
            "source_record": _take(where, mod_group),
        }, decp.MODIFICATION_COLUMNS)
        self._emit()
        return {"contracts": contracts, "suppliers": suppliers, "modifications": modifications}

    def _cell(self, name: str, row: int) -> str | None:
        """One cell as read (for a message)."""
        return self.t.raw(name, np.array([row], dtype=np.int64))[0].as_py()

    def _ident(self, gi: int) -> str | None:
        return self.ident[int(gi)].as_py()

    @staticmethod
    def _frame(cols: dict[str, pa.Array], columns: list[str]) -> pd.DataFrame:
        from .decp_fast import _arrow_type, _to_frame

        table = pa.table({name: cols[name].cast(_arrow_type(name)) for name in columns})
        return _to_frame(table)

    def _place(self, cols: dict, groups: np.ndarray, cur: np.ndarray) -> None:
        """Place of execution: codes padded from their kind, département and région, per
        distinct (code, kind)."""
        t = self.t
        code, kind = t.text("lieuexecution_code", cur), t.text("lieuexecution_typecode", cur)
        pairs = pc.binary_join_element_wise(code, kind, _SEP, null_handling="replace",
                                            null_replacement="\x00")
        codes, values = _encode(pairs)

        def place(pair: str) -> tuple:
            code_, kind_ = (None if part == "\x00" else part for part in pair.split("\u241f"))
            code_ = _pad_code(code_, _PLACE_WIDTH.get(decp._fold(kind_ or ""), 0))
            dep, region = decp.departement_from_place(code_, kind_)
            unknown = (self.result.communes is not None and region == "11"
                       and decp._fold(kind_ or "") == "code commune"
                       and code_ not in self.result.communes)
            return code_, kind_, dep, region, unknown
        found = [place(v) for v in values] + [(None, None, None, None, False)]
        for i, name in enumerate(["lieuExecution_code", "lieuExecution_typeCode",
                                  "departement_execution", "region_execution"]):
            cols[name] = pa.array([item[i] for item in found],
                                  type=pa.large_string()).take(_slots(codes, found))
        for k in np.flatnonzero(np.array([item[4] for item in found])[codes]).tolist():
            code_, _, dep, _, _ = found[codes[k]]
            self.warn(groups[k], 2, "lieuExecution : commune inconnue",
                      f"code INSEE « {code_} » absent de la géographie de référence "
                      f"(contrat {self._ident(groups[k])}) : rattaché au département {dep}")

    def _considerations(self, cols: dict, groups: np.ndarray, cur: np.ndarray) -> None:
        """Social and environmental considerations, read per distinct text."""
        social_codes, values = _encode(self.t.text("considerationssociales", cur))
        social = [decp.parse_considerations(v, "considerationSociale", decp._SOCIAL_VALUES)
                  for v in values] + [decp.Considerations()]
        for k in np.flatnonzero(np.array([bool(c.unknown) for c in social])[social_codes]
                                ).tolist():
            item = social[social_codes[k]]
            self.warn(groups[k], 1, "considerationsSociales : valeur inconnue",
                      f"valeur(s) non reconnue(s) : {', '.join(item.unknown)} ; statut social "
                      "inconnu" if not item.values else
                      f"valeur(s) non reconnue(s) ignorée(s) : {', '.join(item.unknown)}")
        env_codes, values = _encode(self.t.text("considerationsenvironnementales", cur))
        env = [decp.parse_considerations(v, "considerationEnvironnementale", decp._ENV_VALUES)
               for v in values] + [decp.Considerations()]
        env_none = "Pas de considération environnementale"
        for name, items, codes, flags in (
                ("considerationsSociales", social, social_codes,
                 {"clause_sociale": lambda v: decp.CLAUSE in v,
                  "critere_social": lambda v: decp.CRITERION in v,
                  "marche_reserve": lambda v: decp.RESERVED in v,
                  "has_social_consideration": lambda v: decp.NONE not in v}),
                ("considerationsEnvironnementales", env, env_codes,
                 {"clause_environnementale": lambda v: "Clause environnementale" in v,
                  "critere_environnemental": lambda v: "Critère environnemental" in v,
                  "has_environmental_consideration": lambda v: env_none not in v})):
            cols[name] = pa.array([", ".join(c.values) if c.known else None for c in items],
                                  type=pa.large_string()).take(_slots(codes, items))
            for flag, test in flags.items():
                states = np.array([(1 if test(c.values) else 0) if c.known else -1
                                   for c in items], dtype=np.int8)
                cols[flag] = _flags(states[codes])

    def _categories(self, order, group_at, run_at, last_run, keep_group, groups) -> pa.Array:
        """The current suppliers' categories (PME, ETI, GE), each once, in alphabetical order,
        joined with ``", "`` (whatever the row order)."""
        n_groups = len(keep_group)
        codes, values = self.t.codes("titulaire_categorie")
        codes = codes[order]
        keep = (codes >= 0) & keep_group[group_at] & (run_at == last_run[group_at])
        if len(values) <= 62:  # each contract's set of categories as the bits of an integer
            sets = np.zeros(n_groups, dtype=np.int64)
            np.bitwise_or.at(sets, group_at[keep], np.left_shift(1, codes[keep]))
            distinct, slot = np.unique(sets[groups], return_inverse=True)
            texts = [", ".join(sorted(values[k] for k in range(len(values)) if bits >> k & 1))
                     or None for bits in distinct.tolist()]
            return pa.array(texts, type=pa.large_string()).take(pa.array(slot.ravel()))
        joined: dict[int, set[str]] = {}
        for gi, code in zip(group_at[keep].tolist(), codes[keep].tolist()):
            joined.setdefault(gi, set()).add(values[code])
        return pa.array([", ".join(sorted(joined[gi])) if gi in joined else None
                         for gi in groups.tolist()], type=pa.large_string())

    def _emit(self) -> None:
        q, path = self.result.quarantine, self.result.path
        for group, _rank, kind, where, rule, message in sorted(
                self.pending, key=lambda item: (item[0], item[1])):
            where = where or self.where[int(group)].as_py()
            (q.reject if kind == "reject" else q.warn)(SOURCE, path, where, rule, message)
        self.pending.clear()

    def _concession(self, gi: int, rows: np.ndarray) -> None:
        """One concession's rows folded into a record, read by the reference reader."""
        t = self.t
        first_row = int(np.sort(rows)[0])
        record: dict = {}
        for column, target in FIELDS.items():
            if not t.has(column):
                continue
            value = self._cell(column, first_row)
            if value is None or value.strip() == "":
                continue
            if len(target) == 1:
                record[target[0]] = value
            else:
                record.setdefault(target[0], {})[target[1]] = value
        inner = DecpFile(path=self.result.path, communes=self.result.communes)
        read_record(inner, "concession", self.where[int(gi)].as_py(), record, self.today)
        self.result.concessions.extend(inner.concessions)
        for item in inner.quarantine.rejects:
            self.reject(gi, 0, item.rule, item.message, item.record)
        for item in inner.quarantine.warnings:
            self.pending.append((gi, 0, "warn", item.record, item.rule, item.message))
