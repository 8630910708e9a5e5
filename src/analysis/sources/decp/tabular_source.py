"""Consolidated tabular DECP (CSV or Parquet) → raw records (:class:`.rules.Records`).

Such exports (decp-rama, decp-processing and their successors) flatten the JSON: headers like
``acheteur.id`` or ``acheteur_id``, multi-valued fields joined with ``", "``, « Sans objet » for
« Pas de considération sociale ». The national consolidated table that decp-processing 2.x
publishes goes further (``../shared/decp/README.md``): each *state* of a contract has its rows
(``modification_id`` 0 as notified, 1, 2… after each modification, ``donneesActuelles`` on the
latest), a modification's row carries its own notification date, amount, duration and suppliers,
and the rows of a contract come latest first. Identifiers and place codes are typed as integers
there, which drops their leading zeros.

Parsing folds the rows back into one raw record per ``uid`` (or, without a ``uid`` column, per
buyer and ``id``), whatever the row order, by columns (Arrow and NumPy sorts, no Python loop per
contract):

* the notification date, the initial amount and duration, the publication date and the record's
  own suppliers come from the original state (``modification_id`` 0, or the smallest one);
  without a ``modification_id`` column, states are told apart by their notification date (the
  earliest is the original); the other fields from the current state (the largest one);
* every later state is one of the record's modifications: its amount or duration when it
  changed, its suppliers;
* codes typed as integers get their zeros back from their kind: ``Code commune`` and
  ``Code postal`` on 5 digits, ``Code département`` on 2 (3 overseas), ``Code région`` on 2; a
  buyer's or supplier's SIRET of 12 or 13 digits on 14 when padding makes it a valid SIRET;
* the columns the JSON has not are kept: the buyer's name, category, commune, département and
  région, the suppliers' categories (PME, ETI, GE) and ``sourceDataset``;
* a blank cell is a missing value.

The rows that cannot fold into one record are found here and quarantined by the rules (their
messages are in :mod:`.rules`): a ``uid`` whose rows name several buyers, an unreadable
``modification_id``, one state given twice with different dates or amounts; a repeated row (same
state and supplier) is merged and reported. Every extra row of a contract (states, suppliers)
counts as *merged*, so that ``read = kept + rejected + merged`` holds per file.

A Parquet file of more than :data:`PART_ROWS` rows is read and folded in parts, every row of a
contract in the same part (:func:`_parts`): memory does not grow with the file, and lines,
contract numbers and the quarantine are those of a whole-file read.

Concessions (``_type`` « Contrat de concession… ») are rare in these tables: their rows are
folded into one record each and go through the rules' concession path.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ... import workers
from ...identifiers import siret_valid
from ..base import SourceFileError
from ..tabular import read_csv
from . import rules
from .json_source import as_rows, modifications as json_modifications, titulaires
from .rules import (V2_FIELDS, Children, Context, Modifications, Records, _fold, _text,
                    as_strings, untrimmed)
from .tables import CONTRACT_COLUMNS, CONTRACT_EXTRA, Chunks, DecpFile, arrow_pool

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
#: Fields only the v2 format has, as folded headers (``decp.V2_FIELDS``).
_V2 = sorted(name.lower() for name in V2_FIELDS)

#: A Parquet file of more rows than this is folded in parts of about this many rows (bounded
#: memory: the fold of a part takes about 2 KB a row at its peak; smaller parts also fault in
#: fewer fresh pages: 1.19 M rows took 8.7 s of CPU whole, 7.9 s in parts of 250 000). At
#: 5 M rows the last part's fold comes on top of 3.5 GB of frames: parts of 100 000 rows took
#: the peak from 4.31 to 4.18 million KiB, with no change in speed at 1 M contracts.
PART_ROWS = 100_000

#: Zero-padding of a place code, by its kind (folded ``typeCode``).
_PLACE_WIDTH = {"code commune": 5, "code postal": 5, "code departement": 2, "code region": 2}


def _fold_header(header: str) -> str:
    return re.sub(r"[.\s]+", "_", str(header).strip()).lower()


# --- Reading the file as columns ---------------------------------------------------------------

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
        return as_strings(_combined(column) if at is None else _take(column, at))

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
        values = [_text(v) for v in as_strings(dictionary).to_pylist()]
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
            # Only the cells ``str.strip`` would change, or empty ones, are redone in Python.
            odd = untrimmed(raw)
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
    folded = _fold_header(header)
    return _ALIASES.get(folded, folded)


#: Columns of few distinct values (folded names), read as dictionaries.
_DICTIONARY = {"nature", "procedure", "codecpv", "ccag", "lieuexecution_typecode",
               "considerationssociales", "considerationsenvironnementales", "acheteur_nom",
               "acheteur_categorie", "acheteur_commune_code", "acheteur_departement_code",
               "acheteur_region_code", "titulaire_typeidentifiant", "titulaire_categorie",
               "sourcedataset", "_type"}

_NEEDED = (set(FIELDS) | set(SUPPLIER) | set(EXTRA_COLUMNS) | set(_V2)
           | {"uid", "modification_id", "donneesactuelles"})


def _parquet_file(path: Path):
    """The Parquet file, its wanted columns and those read dictionary-encoded."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        wanted = [name for name in schema.names if _canonical(name) in _NEEDED]
        # Columns of few distinct values stay dictionary-encoded, as Parquet stores them
        # (half the memory, a fraction of the time).
        coded = [name for name in wanted if _canonical(name) in _DICTIONARY
                 and pa.types.is_string(schema.field(name).type)]
        return pq.ParquetFile(path, read_dictionary=coded), wanted
    except Exception as exc:
        raise SourceFileError(path, f"Parquet illisible : {exc}") from exc


def _as_table(path: Path, table: pa.Table, required: bool = True) -> _Table:
    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns):
        columns.setdefault(_canonical(name), column)
    missing = [shown for c, shown in REQUIRED.items() if c not in columns]
    if missing and required:
        raise SourceFileError(path, "pas un export DECP tabulaire : colonne(s) absente(s) "
                              + ", ".join(missing))
    return _Table(columns, table.num_rows)


def _read_groups(path: Path, file, columns: list[str], groups: list[int],
                 rows: np.ndarray | slice | None = None) -> pa.Table:
    """Row groups ``groups`` of a Parquet file (one thread: the build is one process), cut to
    ``rows`` (positions within those groups, or a slice), row group by row group."""
    try:
        if isinstance(rows, np.ndarray):
            pieces, at = [], 0
            for group in groups:
                size = file.metadata.row_group(group).num_rows
                mask = rows[at:at + size]
                at += size
                if mask.any():
                    piece = file.read_row_group(group, columns=columns, use_threads=False)
                    pieces.append(piece.filter(pa.array(mask)))
            return pa.concat_tables(pieces) if pieces else file.schema_arrow.empty_table()
        table = file.read_row_groups(groups, columns=columns, use_threads=False)
    except Exception as exc:
        raise SourceFileError(path, f"Parquet illisible : {exc}") from exc
    return table if rows is None else table.slice(rows.start, rows.stop - rows.start)


def _read_table(path: Path) -> _Table:
    if path.suffix.lower() == ".parquet":
        file, wanted = _parquet_file(path)
        return _as_table(path, _read_groups(path, file, wanted,
                                            list(range(file.metadata.num_row_groups))))
    columns: dict[str, Any] = {}
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


def _contract_key(t: _Table) -> np.ndarray:
    """The contract of each row (codes in order of first appearance): the file's ``uid``, else
    the buyer and ``id`` as the rows give them."""
    key = t.text("uid") if t.has("uid") else None
    if key is None or key.null_count:
        composite = pc.binary_join_element_wise(t.text("acheteur_id"), t.text("id"), _SEP,
                                                null_handling="replace",
                                                null_replacement="")
        key = composite if key is None else pc.coalesce(
            key, pc.binary_join_element_wise(_SEP, composite, _EMPTY))
    return pc.fill_null(pc.dictionary_encode(key).indices, -1).to_numpy(
        zero_copy_only=False).astype(np.int64)


class _Part(NamedTuple):
    """One part of a large Parquet file: where its rows are and how they number."""

    groups: list[int]              # the row groups it is read from
    rows: slice | None             # its rows within those groups (``None``: see ``lines``)
    lines: np.ndarray              # the file line of each of its rows (2 for the first row)
    contract: np.ndarray           # the contract of each row, numbered from 0 within the part
    offset: int                    # contracts of the parts before it


def _parts(path: Path, part_rows: int) -> list[_Part]:
    """A large Parquet file in parts of about ``part_rows`` rows, every row of a contract in
    the same part.

    Only the key columns are read whole. When the rows of each contract follow one another (as
    decp-processing writes them), a part is a run of rows cut at a contract's boundary, read
    from the row groups it spans (the trailing contract of a row group goes with the next
    part). Otherwise, rows go to parts by their contract's number modulo the number of parts,
    and each part is read by filtering every row group in turn.
    """
    file, wanted = _parquet_file(path)
    n = file.metadata.num_rows
    n_groups = file.metadata.num_row_groups
    _as_table(path, file.schema_arrow.empty_table().select(wanted))  # the required columns
    every = list(range(n_groups))
    uid = [name for name in wanted if _canonical(name) == "uid"][:1]
    key = _as_table(path, _read_groups(path, file, uid, every), required=False) if uid else None
    if key is None or key.text("uid").null_count:  # the buyer and ``id`` are needed too
        keys = [name for name in wanted if _canonical(name) in {"uid", "acheteur_id", "id"}]
        key = _as_table(path, _read_groups(path, file, keys, every), required=False)
    group = _contract_key(key)
    del key
    sizes = np.array([file.metadata.row_group(i).num_rows for i in range(n_groups)],
                     dtype=np.int64)
    group_start = np.concatenate([[0], np.cumsum(sizes)])
    changes = np.flatnonzero(group[1:] != group[:-1]) + 1
    contiguous = len(changes) + 1 == int(group.max(initial=-1)) + 1
    parts: list[_Part] = []
    if contiguous:
        boundaries = np.concatenate([[0], changes, [n]])
        cuts = [0]
        while cuts[-1] < n:
            target = cuts[-1] + part_rows
            nxt = boundaries[np.searchsorted(boundaries, target)] if target < n else n
            cuts.append(int(nxt))
        for a, b in zip(cuts[:-1], cuts[1:]):
            first = int(np.searchsorted(group_start, a, side="right")) - 1
            last = int(np.searchsorted(group_start, b, side="left")) - 1
            parts.append(_Part(list(range(first, last + 1)),
                               slice(a - int(group_start[first]), b - int(group_start[first])),
                               np.arange(a + 2, b + 2, dtype=np.int64), group[a:b] - group[a],
                               int(group[a])))
        return parts
    count = -(-n // part_rows)
    part_of = group % count
    offset = 0
    for k in range(count):
        mine = np.flatnonzero(part_of == k)
        distinct, contract = np.unique(group[mine], return_inverse=True)
        parts.append(_Part(list(range(n_groups)), None, mine + 2,
                           contract.ravel().astype(np.int64), offset))
        offset += len(distinct)
    return parts


def _part_table(path: Path, file, wanted: list[str], part: _Part) -> _Table:
    """The rows of one part."""
    if part.rows is not None:
        return _as_table(path, _read_groups(path, file, wanted, part.groups, part.rows))
    mask = np.zeros(file.metadata.num_rows, dtype=bool)
    mask[part.lines - 2] = True
    return _as_table(path, _read_groups(path, file, wanted, part.groups, mask))


# --- Parts folded in helper processes (:mod:`analysis.workers`) ----------------------------------

#: What a helper process inherits of the reading that forked it: the file's path, the rules'
#: context (its lookups of distinct values so far) and the padded place codes.
_HELPER: dict[str, Any] = {}


def _helper_start() -> None:
    """In a helper process: its own handle on the file; no quarantine entry of the reading that
    forked it (its entries go back with each part)."""
    _HELPER["file"], _HELPER["wanted"] = _parquet_file(_HELPER["path"])
    _HELPER["ctx"].entries = []


def _helper_fold(part: _Part) -> tuple:
    """In a helper process: one part folded; what the reading needs of it."""
    ctx, path = _HELPER["ctx"], _HELPER["path"]
    with arrow_pool():
        table = _part_table(path, _HELPER["file"], _HELPER["wanted"], part)
        done, n_groups = _fold_part(path, table, ctx, part, _HELPER["places"],
                                    _HELPER["chunk_size"], _HELPER["compact"])
    entries, ctx.entries = ctx.entries, []
    return done, n_groups, entries


def _fold_part(path: Path, table: "_Table", ctx: Context, part: _Part, places: dict,
               chunk_size: int | None, compact: bool) -> tuple[DecpFile, int]:
    """One part of a file folded on its own: its frames (chunks of at most ``chunk_size``
    contracts, the last one ending with the part) and counts, and its number of contracts."""
    done = DecpFile(path=str(path), compact=compact)
    if not table.n:
        return done, 0
    chunks = Chunks(done, chunk_size, CONTRACT_COLUMNS + CONTRACT_EXTRA)
    fold = _Fold(table, done, ctx, part.lines, part.offset, part.contract, places)
    chunks.add(fold.run())
    chunks.close()
    return done, fold.n_groups


# --- Codes typed as integers ---------------------------------------------------------------------

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


# --- The reader --------------------------------------------------------------------------------

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


_SEP = pa.scalar("\u241f", pa.large_string())
_LINE = pa.scalar("ligne ", pa.large_string())
_EMPTY = pa.scalar("", pa.large_string())




def _cells(table: _Table, name: str, at: np.ndarray) -> pa.Array:
    """Cells of a column at the rows ``at`` as read (typed columns stay typed); a blank text is
    missing."""
    if not table.has(name):
        return pa.nulls(len(at), pa.large_string())
    column = _take(table.columns[name], at)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = column.cast(pa.large_string())
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), False)
        column = pc.if_else(blank, _NULL_TEXT, column)
    return column


def read_decp_table(path: Path | str, today: date | None = None,
                    communes: set[str] | None = None, chunk_size: int | None = None,
                    part_rows: int = PART_ROWS, source_name: str | None = None,
                    compact: bool = False, helpers: int | None = None) -> DecpFile:
    """Read a consolidated tabular DECP file into the same tables as the JSON reader.

    Parameters
    ----------
    path
        A CSV (any common delimiter, UTF-8 or Windows-1252) or Parquet file.
    today
        Dates after this day are rejected (default: the real date).
    communes
        The région observed's INSEE codes (see :func:`.json_source.read_decp_json`).
    chunk_size
        When given, the rows are returned as typed frames (``frames``), cut every
        ``chunk_size`` contracts; otherwise as row dictionaries (``contracts``, ``suppliers``…),
        like the JSON reader's.
    part_rows
        A Parquet file of more rows is read and folded in parts of about this many rows, every
        row of a contract in the same part (see :func:`_parts`), so that memory stays bounded
        whatever the file's size.
    source_name
        The file's name in ``source_file`` and the quarantine (default: ``path``).
    compact
        Hold the contracts' repeated texts as categories in ``frames`` (see
        :func:`.tables.compact_table`; the build's reading, :func:`.tables.restore_frame`
        undoes it).
    helpers
        Helper processes that fold parts of a large Parquet file while this process folds
        others (see :mod:`analysis.workers`; default :func:`.workers.helper_count`, ``0``:
        none). The result is the same whatever their number.

    Raises
    ------
    SourceFileError
        When the file is unreadable (a truncated Parquet file, a CSV in another encoding) or
        lacks one of the :data:`REQUIRED` columns.
    """
    path = Path(path)
    today = today or date.today()
    result = DecpFile(path=str(path), communes=communes, compact=compact)
    ctx = Context(source_name or str(path), today, communes)
    parts = path.suffix.lower() == ".parquet" and \
        _parquet_file(path)[0].metadata.num_rows > part_rows
    helpers = (workers.helper_count() if helpers is None else helpers) if parts else 0
    places: dict = {}
    # What a helper forks with: the file, the rules' context, how to cut the frames.
    _HELPER.update(path=path, ctx=ctx, places=places, compact=compact, chunk_size=chunk_size)
    with arrow_pool(), workers.Helpers(helpers, _helper_start) as pool:
        _HELPER.clear()
        if parts:
            plan = _parts(path, part_rows)
            file, wanted = _parquet_file(path)
        else:
            table = _read_table(path)
            plan = [_Part([], None, np.arange(2, table.n + 2, dtype=np.int64), None, 0)]

        def fold_here(k: int) -> tuple:
            t = _part_table(path, file, wanted, plan[k]) if parts else table
            return (*_fold_part(path, t, ctx, plan[k], places, chunk_size, compact), [])

        # Each part ends a chunk of the frames; they are added in the parts' order.
        for k, (done, n_groups, entries) in pool.in_order(len(plan), fold_here, _helper_fold,
                                                          plan.__getitem__):
            result.add(done)
            ctx.add_entries(entries)
            if parts and len(plan[k].contract) and n_groups != int(plan[k].contract.max()) + 1:
                raise RuntimeError(f"{path} : partie {k} : {n_groups} marchés lus, "
                                   f"{int(plan[k].contract.max()) + 1} prévus")
        plan = table = None
    result.quarantine.rejects, result.quarantine.warnings = ctx.sorted_entries()
    if not chunk_size:
        as_rows(result)
    return result


class _Fold:
    """Rows → raw records (a contract's states and suppliers), by sorts and group boundaries."""

    def __init__(self, table: _Table, result: DecpFile, ctx: Context, lines: np.ndarray,
                 offset: int = 0, contract: np.ndarray | None = None,
                 places: dict | None = None):
        self.t = table
        self.result = result
        self.ctx = ctx
        self.lines = lines      # the file line of each row (2 for the first row)
        self.offset = offset    # contracts folded before this part (ordinals go on from it)
        self.n_groups = 0
        self.contract = contract  # the contract of each row, when the parts were planned
        self.places = {} if places is None else places  # (code, kind) → padded code

    def run(self) -> "rules.Batch":
        t, n, result = self.t, self.t.n, self.result
        line = self.lines
        group_of_row = _contract_key(t) if self.contract is None else self.contract
        days_all, dated_all = rules.dates(t.columns["datenotification"])
        notified = np.where(dated_all, days_all, np.iinfo(np.int64).min)  # undated: first
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
            state = pd.Series(notified).groupby(group_of_row).rank(method="dense").to_numpy(
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
        n_groups = self.n_groups = len(starts)
        group_at = np.cumsum(new_group) - 1           # group of each sorted position
        run_at = np.cumsum(new_run) - 1               # state run of each sorted position
        run_starts = np.flatnonzero(new_run)
        run_group = group_at[run_starts]
        first_run = run_at[starts]
        last_run = run_at[ends - 1]
        first = order[starts]                         # a row of the original state
        current = order[run_starts[last_run]]         # a row of the current state
        result.read += n
        result.merged += n - n_groups

        # Where each contract is: its lines, in file order.
        lines_sorted = line[order]
        where = _wheres(line[np.lexsort((line, group_of_row))], starts, ends)
        ident = t.text("id", current)  # the same on every row of a contract

        def label(gi: int) -> str | None:
            return ident[int(gi)].as_py()

        # Concessions: folded one at a time, through the rules' concession path.
        concession = np.zeros(n_groups, dtype=bool)
        out = rules.Batch()
        if t.has("_type"):
            folded = pc.fill_null(pc.starts_with(pc.utf8_lower(t.text("_type")),
                                                 "contrat de concession"), False)
            concession = folded.to_numpy(zero_copy_only=False)[first]
            items = [(gi + self.offset, where[gi].as_py(),
                      self._record(order[starts[gi]:ends[gi]]))
                     for gi in np.flatnonzero(concession).tolist()]
            out.concessions = rules.concessions(self.ctx, items, titulaires,
                                                json_modifications)
        groups = np.flatnonzero(~concession)
        buyers = _pad_siret(t.text("acheteur_id", current))

        # Rows that do not fold into one record: the first fault of each contract.
        faults: dict[int, tuple[str, str]] = {}
        if t.has("uid"):
            if pa.types.is_integer(t.kind("acheteur_id")):
                raw_buyers = pc.fill_null(t.columns["acheteur_id"], -1).to_numpy(
                    zero_copy_only=False)
                differs = raw_buyers[order] != raw_buyers[first[group_at]]
            else:
                text_buyers = pc.fill_null(t.text("acheteur_id"), "")
                differs = pc.not_equal(_take(text_buyers, order),
                                       _take(text_buyers, first[group_at])
                                       ).to_numpy(zero_copy_only=False)
            several = np.zeros(n_groups, dtype=bool)
            several[group_at[differs]] = True
            uid_text = t.text("uid")
            for gi in np.flatnonzero(several & ~concession).tolist():
                names = list(dict.fromkeys(str(v) for v in _pad_siret(
                    t.text("acheteur_id", order[starts[gi]:ends[gi]])).to_pylist()))
                faults.setdefault(gi, rules.buyers_differ(uid_text[int(first[gi])].as_py(),
                                                          names))
        if state_bad.any():
            bad_sorted = state_bad[order]
            bad = np.zeros(n_groups, dtype=bool)
            bad[group_at[bad_sorted]] = True
            for gi in np.flatnonzero(bad & ~concession).tolist():
                if gi in faults:
                    continue
                at = starts[gi] + int(np.flatnonzero(bad_sorted[starts[gi]:ends[gi]])[0])
                faults[gi] = rules.state_unreadable(
                    int(lines_sorted[at]), self._cell("modification_id", order[at]), label(gi))
        amounts, _ = rules.numbers(t.columns["montant"]) if t.has("montant") else \
            (np.full(n, np.nan), None)
        durations, _ = rules.numbers(t.columns["dureemois"]) if t.has("dureemois") else \
            (np.full(n, np.nan), None)
        # One state given on several rows must say the same on each of them.
        head_of = order[run_starts[run_at]]
        conflict = notified[order] != notified[head_of]
        for values in (amounts, durations):
            mine, head = values[order], values[head_of]
            conflict |= ~((mine == head) | (np.isnan(mine) & np.isnan(head)))
        conflicting = np.zeros(n_groups, dtype=bool)
        conflicting[group_at[conflict]] = True
        for gi in np.flatnonzero(conflicting & ~concession).tolist():
            if gi in faults:
                continue
            at = starts[gi] + int(np.flatnonzero(conflict[starts[gi]:ends[gi]])[0])
            faults[gi] = rules.state_twice(int(s[at]), label(gi),
                                           int(lines_sorted[run_starts[run_at[at]]]),
                                           int(lines_sorted[at]))

        # Suppliers: each (state, supplier) once; a repeated row is reported.
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
        combined = ((rows["run"].to_numpy() * (int(id_code.max(initial=0)) + 2)
                     + rows["id"].to_numpy() + 1) * (int(kind_code.max(initial=0)) + 2)
                    + rows["kind"].to_numpy() + 1)
        repeated = pd.Series(combined).duplicated().to_numpy()
        position = np.full(n_groups, -1, dtype=np.int64)
        position[groups] = np.arange(len(groups))
        notes = []
        for row in rows[repeated].itertuples(index=False):
            gi = int(row.group)
            if position[gi] >= 0:
                notes.append((int(position[gi]), *rules.row_twice(
                    int(line[row.at]), int(state[row.at]), label(gi))))
        rows = rows[~repeated & ((rows["id"] >= 0) | (rows["kind"] >= 0)).to_numpy()]
        rows = rows[position[rows["group"].to_numpy()] >= 0]
        run_of = rows["run"].to_numpy()
        group_of = rows["group"].to_numpy()
        at_of = rows["at"].to_numpy()
        original = run_of == first_run[group_of]
        suppliers = Children(position[group_of[original]], supplier_ids(at_of[original]),
                             t.text("titulaire_typeidentifiant", at_of[original]))

        # Later states: the record's modifications (amount, duration: when they changed).
        later = np.ones(len(run_starts), dtype=bool)
        later[first_run] = False
        later &= position[run_group] >= 0
        later_runs = np.flatnonzero(later)
        head_rows = order[run_starts[later_runs]]
        previous_rows = order[run_starts[later_runs - 1]]

        def changed(values: np.ndarray) -> pa.Array:
            now, before = values[head_rows], values[previous_rows]
            kept = np.where((now == before) | (np.isnan(now) & np.isnan(before)), np.nan, now)
            return pa.array(kept, mask=np.isnan(kept))
        mod_index = np.full(len(run_starts), -1, dtype=np.int64)
        mod_index[later_runs] = np.arange(len(later_runs))
        in_mod = mod_index[run_of] >= 0
        mods = Modifications(
            position[run_group[later_runs]],
            pa.array(s[run_starts[later_runs]]).cast(pa.large_string()),
            changed(amounts), changed(durations),
            _cells(t, "datenotification", head_rows),
            _cells(t, "datepublicationdonnees", head_rows),
            Children(mod_index[run_of[in_mod]], supplier_ids(at_of[in_mod]),
                     t.text("titulaire_typeidentifiant", at_of[in_mod])))

        cur, orig = current[groups], first[groups]
        code, kind = t.text("lieuexecution_code", cur), t.text("lieuexecution_typecode", cur)
        v2 = np.zeros(len(groups), dtype=bool)
        for name in ("considerationssociales", "considerationsenvironnementales", "ccag", *_V2):
            if t.has(name):
                v2 |= t.text(name, cur).is_valid().to_numpy(zero_copy_only=False)
        widths = {"acheteur_departement_code": 2, "acheteur_region_code": 2,
                  "acheteur_commune_code": 5}
        extra = {}
        for header, column in EXTRA_COLUMNS.items():
            values = t.text(header, cur)
            extra[column] = _pad_digits(values, widths[header]) if header in widths else values
        extra["titulaire_categorie"] = self._categories(order, group_at, run_at, last_run,
                                                        position >= 0, groups)
        records = Records(
            groups + self.offset, _take(where, groups), _take(ident, groups), (_take(buyers, groups),),
            _cells(t, "datenotification", orig), _cells(t, "datepublicationdonnees", orig),
            _cells(t, "montant", orig), _cells(t, "dureemois", orig), t.text("objet", cur),
            tuple(t.text(name, cur) for name in ("nature", "procedure", "ccag", "codecpv",
                                                   "considerationssociales",
                                                   "considerationsenvironnementales")),
            (_pad_places(code, kind, self.places), kind), v2, suppliers, mods,
            faults={int(position[gi]): fault for gi, fault in faults.items()}, notes=notes,
            extra=extra)
        done = rules.marches(records, self.ctx)
        done.concessions = out.concessions
        return done

    def _cell(self, name: str, row: int) -> str | None:
        """One cell as read (for a message)."""
        return self.t.raw(name, np.array([row], dtype=np.int64))[0].as_py()

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

    def _record(self, rows: np.ndarray) -> dict:
        """A concession's first row as the record JSON would give (blank cells left out)."""
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
        return record


def _pad_places(code: pa.Array, kind: pa.Array, known: dict) -> pa.Array:
    """Place codes typed as integers given their zeros back, from the kind of code (each pair
    worked out once per file: ``known``)."""
    pairs = pc.binary_join_element_wise(code, kind, _SEP, null_handling="replace",
                                        null_replacement="\x00")
    codes, values = _encode(pairs)
    padded = []
    for pair in values:
        if pair not in known:
            code_, kind_ = (None if part == "\x00" else part for part in pair.split("\u241f"))
            known[pair] = _pad_code(code_, _PLACE_WIDTH.get(_fold(kind_ or ""), 0))
        padded.append(known[pair])
    return pa.array(padded + [None], type=pa.large_string()).take(_slots(codes, padded + [None]))
