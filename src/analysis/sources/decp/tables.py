"""The canonical DECP tables: their columns and types, the pieces the rules produce, cut into
chunks, and the deduplication across files.

The last step of the pipeline (parse → rules → tables): :mod:`.rules` gives, for each batch of
records, columns of the ``contracts``, ``suppliers`` and ``modifications`` tables (Arrow arrays,
each row tagged with the ordinal of its record in the file) and rows of ``concessions``; this
module puts them in record order, cuts them into the chunks the build reads
(``chunk_size`` contracts each) and types them as pandas frames.
"""

from __future__ import annotations

import bisect
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..base import Quarantine

SOURCE = "decp"

#: Columns of the contracts table, in order (DECP names where the schema has one).
CONTRACT_COLUMNS = [
    "uid", "id", "acheteur_id", "objet", "nature", "procedure", "codeCPV", "cpv_division", "ccag",
    "montant", "montant_initial", "dureeMois", "dureeMois_initial", "dateNotification", "annee",
    "datePublicationDonnees", "lieuExecution_code", "lieuExecution_typeCode",
    "departement_execution", "region_execution", "considerationsSociales", "clause_sociale",
    "critere_social", "marche_reserve", "has_social_consideration",
    "considerationsEnvironnementales", "clause_environnementale", "critere_environnemental",
    "has_environmental_consideration", "n_titulaires", "n_modifications", "source_file",
    "source_record", "format",
]
#: Columns of the consolidated table kept on ``contracts`` (the JSON has not them).
CONTRACT_EXTRA = ["acheteur_nom", "acheteur_categorie", "acheteur_commune", "acheteur_departement",
                  "acheteur_region", "titulaire_categorie", "sourceDataset"]
SUPPLIER_COLUMNS = ["uid", "titulaire_id", "typeIdentifiant", "source_file", "source_record"]
MODIFICATION_COLUMNS = ["uid", "modification_id", "dateNotificationModification",
                        "datePublicationDonneesModification", "montant", "dureeMois", "n_titulaires",
                        "source_file", "source_record"]
CONCESSION_COLUMNS = [
    "uid", "id", "autoriteConcedante_id", "objet", "nature", "procedure", "valeurGlobale",
    "dureeMois", "dateSignature", "annee", "datePublicationDonnees", "considerationsSociales",
    "has_social_consideration",
    "n_concessionnaires", "n_modifications", "source_file", "source_record", "format",
]

_BOOL_COLUMNS = ["clause_sociale", "critere_social", "marche_reserve", "has_social_consideration",
                 "clause_environnementale", "critere_environnemental",
                 "has_environmental_consideration"]
_FLOAT_COLUMNS = {"montant", "montant_initial", "dureeMois", "dureeMois_initial", "valeurGlobale"}
_INT_COLUMNS = {"annee", "n_titulaires", "n_modifications", "n_concessionnaires"}


@dataclass
class DecpFile:
    """What one DECP file gave: rows of each table, plus its quarantine."""

    path: str
    read: int = 0
    merged: int = 0  # rows folded into another in the same file (tabular: extra rows)
    communes: set[str] | None = None  # reference codes for the « Code commune » check
    frames: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: {
        "contracts": [], "suppliers": [], "modifications": [], "concessions": []})
    produced: int = 0  # contracts and concessions already turned into frames
    contracts: list[dict[str, Any]] = field(default_factory=list)
    suppliers: list[dict[str, Any]] = field(default_factory=list)
    modifications: list[dict[str, Any]] = field(default_factory=list)
    concessions: list[dict[str, Any]] = field(default_factory=list)
    quarantine: Quarantine = field(default_factory=Quarantine)
    compact: bool = False  # contracts' repeated texts as categories (:func:`compact_table`)

    def add(self, part: "DecpFile") -> None:
        """Take the frames and counts of ``part`` (a part of the same file read on its own),
        after those already held."""
        for name, chunks in part.frames.items():
            self.frames[name].extend(chunks)
        self.produced += part.produced
        self.read += part.read
        self.merged += part.merged

    def flush(self) -> None:
        """Turn the row dictionaries held (:attr:`contracts`…) into typed frames and free them."""
        self.produced += len(self.contracts) + len(self.concessions)
        for name, rows, make in (
            ("contracts", self.contracts, contracts_frame),
            ("suppliers", self.suppliers, lambda r: plain_frame(r, SUPPLIER_COLUMNS)),
            ("modifications", self.modifications, lambda r: plain_frame(r, MODIFICATION_COLUMNS)),
            ("concessions", self.concessions, lambda r: plain_frame(r, CONCESSION_COLUMNS)),
        ):
            if rows:
                self.frames[name].append(make(rows))
                rows.clear()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Give every column its declared type, whatever the rows hold (an all-empty chunk must have
    the same types as a full one)."""
    for col in frame.columns:
        if col in _BOOL_COLUMNS:
            frame[col] = frame[col].astype("boolean")
        elif col in _FLOAT_COLUMNS:
            frame[col] = frame[col].astype("Float64")
        elif col in _INT_COLUMNS:
            frame[col] = frame[col].astype("Int64")
        elif col.startswith("date"):
            frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ms]")
        else:
            frame[col] = frame[col].astype("string")
    return frame


def contracts_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The contracts rows as a typed table (nullable booleans keep *unknown* apart from *false*)."""
    return _typed(pd.DataFrame(list(rows), columns=CONTRACT_COLUMNS))


def plain_frame(rows: Iterable[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A child table (suppliers, modifications, concessions), typed like :func:`contracts_frame`."""
    return _typed(pd.DataFrame(list(rows), columns=columns))


def arrow_type(column: str) -> pa.DataType:
    """The Arrow type of a column typed by :func:`_typed`."""
    if column in _BOOL_COLUMNS:
        return pa.bool_()
    if column in _FLOAT_COLUMNS:
        return pa.float64()
    if column in _INT_COLUMNS:
        return pa.int64()
    if column.startswith("date"):
        return pa.timestamp("ms")
    return pa.large_string()


def schema(columns: list[str]) -> pa.Schema:
    return pa.schema([(c, arrow_type(c)) for c in columns])


_PANDAS = {pa.large_string(): pd.StringDtype(), pa.float64(): pd.Float64Dtype(),
           pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A table as :func:`_typed` types it."""
    return table.to_pandas(types_mapper=_PANDAS.get)


#: Contract columns of few distinct values: 30 to 50 bytes a row each as text, one code as
#: categories. A build holds them as categories while it reads and deduplicates (5 M rows:
#: 2.8 GB of contract frames), then gives them back their text dtype (:func:`restore_frame`).
COMPACT_COLUMNS = [
    "nature", "procedure", "ccag", "lieuExecution_typeCode", "departement_execution",
    "region_execution", "considerationsSociales", "considerationsEnvironnementales",
    "source_file", "format", "acheteur_nom", "acheteur_categorie", "acheteur_commune",
    "acheteur_departement", "acheteur_region", "titulaire_categorie", "sourceDataset",
]


def compact_table(table: pa.Table) -> pa.Table:
    """The text columns of :data:`COMPACT_COLUMNS` dictionary-encoded (pandas categories once
    converted; Arrow encodes 4 times faster than pandas' ``astype("category")``)."""
    for name in COMPACT_COLUMNS:
        at = table.schema.get_field_index(name)
        if at >= 0 and pa.types.is_large_string(table.schema.field(at).type):
            table = table.set_column(at, name, pc.dictionary_encode(table.column(at)))
    return table


def concat_compact(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """Chunks joined, a column held as categories in any chunk as categories in the result
    (every chunk's column recoded to the union of their categories, else the join gives
    objects)."""
    for name in COMPACT_COLUMNS:
        if not any(name in chunk.columns and isinstance(chunk[name].dtype, pd.CategoricalDtype)
                   for chunk in chunks):
            continue
        values: dict = {}
        for chunk in chunks:
            if name not in chunk.columns:
                continue
            column = chunk[name]
            values.update(dict.fromkeys(column.cat.categories if isinstance(
                column.dtype, pd.CategoricalDtype) else column.dropna().unique()))
        dtype = pd.CategoricalDtype(pd.Index(list(values), dtype=pd.StringDtype()))
        position = {value: at for at, value in enumerate(values)}
        for chunk in chunks:
            if name not in chunk.columns:
                continue
            column = chunk[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                # Each chunk's codes mapped to the union's by one gather (pandas' ``astype``
                # rebuilt and checked the categories of every chunk: a third of the join).
                recode = np.array([position[value] for value in column.cat.categories] + [-1],
                                  dtype=np.int64)
                codes = recode[np.asarray(column.cat.codes)]  # -1 (missing) → the last: -1
                chunk[name] = pd.Series(
                    pd.Categorical.from_codes(codes, dtype=dtype, validate=False),
                    index=chunk.index, name=name)
            else:
                chunk[name] = column.astype(dtype)
    return pd.concat(chunks, ignore_index=True)


def is_compact(column: pd.Series) -> bool:
    """Whether ``column`` holds texts as categories (see :data:`COMPACT_COLUMNS`)."""
    return isinstance(column.dtype, pd.CategoricalDtype)


def restore_column(column: pd.Series) -> pd.Series:
    """A column of texts held as categories (:func:`compact_table`) as text again.

    Arrow takes each row's text from the categories: pandas' ``astype`` would go through one
    Python string a row (1.5 GB more at 5 M rows).

    Parameters
    ----------
    column
        A categorical Series whose categories are texts.

    Returns
    -------
    pandas.Series
        The same values as the ``string`` dtype, same index and name.
    """
    text = restore_array(column)
    return pd.Series(pd.array(text, dtype=pd.StringDtype()), index=column.index,
                     name=column.name)


def restore_array(column: pd.Series, start: int = 0, stop: int | None = None) -> pa.Array:
    """Rows ``start:stop`` of a categorical text column as an Arrow ``large_string`` array."""
    categorical = column.array
    codes = np.asarray(categorical.codes)[start:stop]
    values = pa.array(np.asarray(categorical.categories, dtype=object), type=pa.large_string())
    return values.take(pa.array(codes, mask=codes < 0))


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns :func:`compact_table` made categories back as text (in place, one at a
    time)."""
    for name in COMPACT_COLUMNS:
        if name in frame.columns and is_compact(frame[name]):
            frame[name] = restore_column(frame[name])
    return frame


# --- Pieces and chunks ---------------------------------------------------------------------------

@dataclass
class Piece:
    """Rows of one table from one batch: columns (Arrow arrays) and the ordinal of each row's
    record in the file."""

    columns: dict
    ordinals: np.ndarray

    def __len__(self) -> int:
        return len(self.ordinals)

    def slice(self, start: int, stop: int) -> "Piece":
        return Piece({name: column.slice(start, stop - start)
                      for name, column in self.columns.items()}, self.ordinals[start:stop])


def _table(pieces: list[Piece], columns: list[str]) -> pa.Table:
    """Pieces as one table, in record order (stable within a record)."""
    names = [c for c in columns if c in pieces[0].columns]
    table = pa.table({name: pa.chunked_array([p.columns[name] for p in pieces],
                                             type=arrow_type(name)) for name in names})
    ordinals = np.concatenate([piece.ordinals for piece in pieces])
    if len(ordinals) > 1 and (np.diff(ordinals) < 0).any():
        table = table.take(pa.array(np.argsort(ordinals, kind="stable")))
    return table


@dataclass
class Batch:
    """What the rules made of a batch of records."""

    contracts: list = field(default_factory=list)      # Piece
    suppliers: list = field(default_factory=list)      # Piece
    modifications: list = field(default_factory=list)  # Piece
    concessions: list = field(default_factory=list)    # (ordinal, row dict)


class Chunks:
    """Cuts the rows into chunks: a chunk ends with the record that brings the contracts since
    the last one to ``chunk_size`` (its suppliers, modifications and the concessions read
    before it go with it)."""

    def __init__(self, result: DecpFile, chunk_size: int | None, contract_columns: list[str]):
        self.result = result
        self.size = chunk_size or np.iinfo(np.int64).max
        self.contract_columns = contract_columns
        self.contracts: list[Piece] = []
        self.suppliers: list[Piece] = []
        self.modifications: list[Piece] = []
        self.concessions: list = []
        self.pending = 0

    def add(self, batch: Batch) -> None:
        self.contracts.extend(p for p in batch.contracts if len(p))
        self.suppliers.extend(p for p in batch.suppliers if len(p))
        self.modifications.extend(p for p in batch.modifications if len(p))
        self.concessions.extend(sorted(batch.concessions, key=lambda item: item[0]))
        self.pending += sum(len(p) for p in batch.contracts)
        while self.pending >= self.size:
            ordinals = np.sort(np.concatenate([p.ordinals for p in self.contracts]))
            self._emit(int(ordinals[self.size - 1]))

    def _emit(self, last: int | None) -> None:
        """Flush the rows of the records up to ``last`` (every row if ``None``)."""
        result = self.result
        contracts, self.contracts = _split(self.contracts, last)
        suppliers, self.suppliers = _split(self.suppliers, last)
        modifications, self.modifications = _split(self.modifications, last)
        cut = len(self.concessions) if last is None else bisect.bisect_right(
            self.concessions, last, key=lambda item: item[0])
        concessions, self.concessions = self.concessions[:cut], self.concessions[cut:]
        n_contracts = sum(len(p) for p in contracts)
        self.pending -= n_contracts
        result.produced += n_contracts + len(concessions)
        if n_contracts:
            table = _table(contracts, self.contract_columns)
            result.frames["contracts"].append(
                to_frame(compact_table(table) if result.compact else table))
        if suppliers:
            result.frames["suppliers"].append(to_frame(_table(suppliers, SUPPLIER_COLUMNS)))
        if modifications:
            result.frames["modifications"].append(
                to_frame(_table(modifications, MODIFICATION_COLUMNS)))
        if concessions:
            result.frames["concessions"].append(
                plain_frame([row for _, row in concessions], CONCESSION_COLUMNS))

    def close(self) -> None:
        self._emit(None)


def _split(pieces: list[Piece], last: int | None) -> tuple[list[Piece], list[Piece]]:
    """The pieces' rows of the records up to ``last``, and the others."""
    if last is None:
        return pieces, []
    head, tail = [], []
    for piece in pieces:
        order = piece.ordinals
        if len(order) > 1 and (np.diff(order) < 0).any():
            sort = np.argsort(order, kind="stable")
            piece = Piece({k: v.take(pa.array(sort)) for k, v in piece.columns.items()},
                          order[sort])
        cut = int(np.searchsorted(piece.ordinals, last, side="right"))
        if cut == len(piece):
            head.append(piece)
        elif cut == 0:
            tail.append(piece)
        else:
            head.append(piece.slice(0, cut))
            tail.append(piece.slice(cut, len(piece)))
    return head, tail


def rows(frame: pd.DataFrame) -> list[dict]:
    """Typed rows as row dictionaries (``None``, ``date``, ``bool``, ``int``, ``float``)."""
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


# --- Across files ----------------------------------------------------------------------------------

def release_memory() -> None:
    """Give the memory freed by the readers back to the system.

    Arrow's pools (jemalloc while a tabular file is read, mimalloc otherwise) and the C
    allocator keep freed pages for later; the frames of a national file are then held next
    to pages nothing uses (0.4 to 0.8 GB at 5 M rows), and the peak is their sum.
    """
    pools = [pa.default_memory_pool()]
    try:
        pools.append(pa.jemalloc_memory_pool())
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pass
    for pool in pools:
        pool.release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


@contextmanager
def arrow_pool():
    """Arrow's buffers from its jemalloc pool inside the block, where the wheel has it.

    The default pool (mimalloc) returns freed pages to the system at once, and reading a
    national file touches fresh pages again and again: a million-row fold spent half its time
    in page faults, and the whole reading (the join, the deduplication, the texts restored)
    a third of its time in system calls. jemalloc keeps freed pages for a while (and
    :func:`release_memory` gives them back when asked). Each buffer remembers its pool, so the
    arrays made inside stay valid once the previous pool is back.
    """
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


def _libc():
    """glibc, for ``malloc_trim`` (``None`` elsewhere: musl, macOS, Windows)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _libc()


def deduplicate(contracts: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Keep one row per ``uid``: the latest publication (then the most modified, then the last read).

    Returns the kept rows and, per source file, how many of its rows were merged into another.
    """
    if contracts.empty:
        return contracts, pd.Series(dtype="int64")
    if "n_modifications" not in contracts:
        contracts = contracts.assign(n_modifications=0)
    if isinstance(contracts["uid"].dtype, pd.StringDtype) and \
            contracts["uid"].dtype.storage == "pyarrow":
        return _deduplicate_arrow(contracts)
    return _deduplicate_pandas(contracts)


def _deduplicate_pandas(contracts: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`deduplicate` by pandas alone (any dtypes; the reference of the Arrow sort)."""
    order = contracts.assign(
        _published=contracts["datePublicationDonnees"].fillna(pd.Timestamp("1900-01-01")),
        _seq=range(len(contracts)),
    ).sort_values(["uid", "_published", "n_modifications", "_seq"])
    dup = order.duplicated("uid", keep="last")
    merged = order.loc[dup, "source_file"].value_counts()
    kept = order.loc[~dup].sort_values("_seq").drop(columns=["_published", "_seq"])
    return kept.reset_index(drop=True), merged


def _deduplicate_arrow(contracts: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`deduplicate`, the same rows and counts, sorting with Arrow (pandas' sort on a
    million identifiers takes several seconds)."""
    n = len(contracts)
    published = contracts["datePublicationDonnees"].fillna(pd.Timestamp("1900-01-01"))
    keys = pa.table({
        # The column's own chunks, not one array made of them (a copy: 0.2 GB at 4 M rows).
        "uid": pa.chunked_array(contracts["uid"].array._pa_array),
        "published": pa.array(published.to_numpy()),
        "n_modifications": pa.array(contracts["n_modifications"].array),
        "seq": pa.array(np.arange(n, dtype=np.int64)),
    })
    # The order of sort_values(["uid", "_published", "n_modifications", "_seq"]), missing
    # values last; the sequence makes every key different.
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names]
                            ).to_numpy()
    uid = keys.column("uid").take(pa.array(order))
    before, after = uid.slice(0, n - 1), uid.slice(1)
    same = pc.fill_null(pc.equal(before, after), False).to_numpy(zero_copy_only=False)
    same |= (pc.is_null(before).to_numpy(zero_copy_only=False)
             & pc.is_null(after).to_numpy(zero_copy_only=False))
    dup = np.zeros(n, dtype=bool)
    dup[:-1] = same  # duplicated("uid", keep="last")
    merged = contracts["source_file"].iloc[order[dup]].value_counts()
    if not dup.any() and contracts.index.equals(pd.RangeIndex(n)):
        return contracts, merged  # nothing merged: the rows as they are, not a copy of them
    kept = contracts.iloc[np.sort(order[~dup])]
    return kept.reset_index(drop=True), merged


def keep_children(children: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """Rows of a child table that belong to a kept version of their contract."""
    key = ["uid", "source_file", "source_record"]
    if children.empty:
        return children
    # The build keeps the contracts' ``source_file`` as categories: the key compared as text.
    kept = kept[key].assign(**{k: restore_column(kept[k]) for k in key if is_compact(kept[k])})
    if all(isinstance(frame[k].dtype, pd.StringDtype) and frame[k].dtype.storage == "pyarrow"
           for frame in (children, kept) for k in key):
        found = _matching_rows(children, kept, key)
        if found is not None:
            return children.reset_index(drop=True) if found.all() else \
                children[found].reset_index(drop=True)
    return children.merge(kept[key], on=key, how="inner")


def _matching_rows(children: pd.DataFrame, kept: pd.DataFrame, key: list[str]) -> np.ndarray | None:
    """Which children rows the inner merge on ``key`` keeps (in their order), when each ``uid``
    is kept once (``None`` otherwise): hashing the identifiers once with Arrow rather than every
    key column on both sides with pandas."""
    left = {k: pa.chunked_array(pa.array(children[k].array)) for k in key}
    right = {k: pa.chunked_array(pa.array(kept[k].array)) for k in key}
    if len(pc.unique(right["uid"])) != len(kept):
        return None  # a kept key given twice: the merge repeats rows
    at = pc.index_in(left["uid"], value_set=right["uid"], skip_nulls=False)  # missing == missing
    found = np.asarray(pc.is_valid(at))
    if not found.any():
        return found
    at = pc.fill_null(at, 0)
    for k in key[1:]:
        other = right[k].take(at)
        same = pc.or_(pc.fill_null(pc.equal(left[k], other), False),
                      pc.and_(pc.is_null(left[k]), pc.is_null(other)))
        found &= np.asarray(same)
    return found
