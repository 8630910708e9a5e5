"""Fast path of the DECP JSON reader: the same tables and quarantine as :mod:`.decp`, by columns.

:func:`.decp.read_decp_json` checks and normalises one record at a time (``read_record``): the
reference implementation. On a national file most of its time goes to Python work repeated for
every record. This path gives exactly the same result — the same frames (columns, types, row
order, chunks) and the same quarantine entries in the same order — another way:

1. the file is mapped (``mmap``), checked to be UTF-8 (Arrow's validator) and its records are
   located without being decoded (``msgspec.Raw``);
2. records are decoded by batches into typed ``msgspec`` structures that accept the ordinary
   shapes of each field (identifiers as text or numbers, nested or flat considerations and
   suppliers, amounts as numbers or text…);
3. checks and normalisations run on whole columns (Arrow, NumPy); the rules on values (places,
   considerations, buyers, CPV codes) run once per *distinct* value, with the reference
   functions themselves.

A record the structures do not accept (a date that is not ``YYYY-MM-DD``, a list where an
object is expected, a supplier shaped ambiguously…) and every concession are parsed again on
their own, with the parser the reference path would have used (``json`` or ``ijson``), and
handed to ``read_record``; their rows and quarantine entries are merged back in record order.
Modifications are applied by the reference code (``apply_modifications``).

Whenever the file itself is not an ordinary DECP document — not UTF-8, not JSON, not shaped
``{"marches": {...}}``, ``{"marches": [...]}`` or ``[...]`` — :func:`read_fast` returns ``None``
and the caller reads it the reference way, so that every error message stays the same.
"""

from __future__ import annotations

import bisect
import gc
import io
import json
import math
import mmap
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from operator import attrgetter
from typing import Annotated, Any, Callable, Union

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET, Raw, UnsetType

from ..identifiers import siret_valid
from . import decp
from .base import Reject, shorten
from .decp import (CONCESSION_COLUMNS, CONTRACT_COLUMNS, MODIFICATION_COLUMNS, SOURCE,
                   SUPPLIER_COLUMNS, DecpFile)

#: Records decoded at a time: bounds the memory held by decoded structures.
BATCH = 5_000

_INT64 = 1 << 63


class _Fallback(Exception):
    """The file must be read by the reference path."""


# --- Typed structures --------------------------------------------------------------------------

#: Integers ``ijson`` (the reference path's parser on large files) can hold: a larger one is
#: a record for the reference path, which reads it (``json``) or refuses the file (``ijson``).
Int = Annotated[int, msgspec.Meta(ge=-_INT64, le=_INT64 - 1)]
Scalar = Union[str, Int, float, bool, None]
Number = Union[Int, float, str, None]
#: ``YYYY-MM-DD`` (what ``decp._date`` reads the same way); another text is a record for the
#: reference path.
Day = Union[date, Int, float, bool, None]
#: A field that is only looked for (its value does not matter): ``_NO_RAW`` when absent.
_NO_RAW = Raw()


class _Buyer(msgspec.Struct, gc=False):
    id: Scalar = None


class _Holder(msgspec.Struct, gc=False):
    """The object inside ``{"titulaire": {...}}`` (``UNSET``: key absent)."""

    id: Union[Scalar, UnsetType] = UNSET
    typeIdentifiant: Union[Scalar, UnsetType] = UNSET


class _Supplier(msgspec.Struct, gc=False):
    """One item of ``titulaires``: ``{"titulaire": {...}}`` or the supplier itself."""

    titulaire: Union[_Holder, Scalar, UnsetType] = UNSET
    concessionnaire: Union[_Holder, Scalar, UnsetType] = UNSET
    id: Union[Scalar, UnsetType] = UNSET
    typeIdentifiant: Union[Scalar, UnsetType] = UNSET


class _Place(msgspec.Struct, frozen=True, gc=False):
    code: Scalar = None
    typeCode: Scalar = None


class _Social(msgspec.Struct, frozen=True, gc=False):
    items: Union[tuple[str, ...], Scalar, UnsetType] = msgspec.field(
        default=UNSET, name="considerationSociale")


class _Environmental(msgspec.Struct, frozen=True, gc=False):
    items: Union[tuple[str, ...], Scalar, UnsetType] = msgspec.field(
        default=UNSET, name="considerationEnvironnementale")


class _Marche(msgspec.Struct, gc=False):
    """The keys of a marché the reader uses (in their usual order); the others are skipped."""

    id: Scalar = None
    acheteur: Union[_Buyer, Scalar] = None
    nature: Scalar = None
    objet: Scalar = None
    codeCPV: Scalar = None
    ccag: Union[Scalar, UnsetType] = UNSET
    procedure: Scalar = None
    lieuExecution: Union[_Place, Scalar] = None
    dureeMois: Number = None
    dateNotification: Day = None
    datePublicationDonnees: Day = None
    montant: Number = None
    titulaires: Union[list[_Supplier], _Supplier, Scalar] = None
    considerationsSociales: Union[_Social, tuple[str, ...], Scalar, UnsetType] = UNSET
    considerationsEnvironnementales: Union[_Environmental, tuple[str, ...], Scalar,
                                           UnsetType] = UNSET
    modifications: Raw = _NO_RAW  # parsed when there (json), see _Reader._modifications
    # Only whether they are there matters (decp.V2_FIELDS, or the kind in a plain list).
    techniques: Raw = _NO_RAW
    modalitesExecution: Raw = _NO_RAW
    marcheInnovant: Raw = _NO_RAW
    offresRecues: Raw = _NO_RAW
    attributionAvance: Raw = _NO_RAW
    typeGroupementOperateurs: Raw = _NO_RAW
    sousTraitanceDeclaree: Raw = _NO_RAW
    typesPrix: Raw = _NO_RAW
    origineUE: Raw = _NO_RAW
    origineFrance: Raw = _NO_RAW
    autoriteConcedante: Raw = _NO_RAW
    kind: Union[Scalar, UnsetType] = msgspec.field(default=UNSET, name="_type")


#: The V2_FIELDS other than considerations and ccag, which are read.
_PRESENCE = ["techniques", "modalitesExecution", "marcheInnovant", "offresRecues",
             "attributionAvance", "typeGroupementOperateurs", "sousTraitanceDeclaree",
             "typesPrix", "origineUE", "origineFrance"]
assert set(_PRESENCE) | {"considerationsSociales", "considerationsEnvironnementales",
                         "ccag"} == decp.V2_FIELDS


class _Body(msgspec.Struct):
    marche: Union[list[Raw], None, UnsetType] = UNSET
    concession: Union[list[Raw], None, UnsetType] = msgspec.field(default=UNSET,
                                                                   name="contrat-concession")


class _Document(msgspec.Struct):
    marches: Union[_Body, list[Raw]]


_TOP = msgspec.json.Decoder(Union[_Document, list[Raw]])
_RECORD = msgspec.json.Decoder(_Marche)
_ANY = msgspec.json.Decoder().decode


# --- Columns -------------------------------------------------------------------------------------

#: Every character ``str.isspace`` accepts (``tests/test_decp_fast.py`` checks the list).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_ENCODED = [c.encode() for c in WHITESPACE]
_WS = np.zeros(256, dtype=bool)  # a one-byte whitespace
_WS[[b[0] for b in _ENCODED if len(b) == 1]] = True
_LEAD = np.zeros(256, dtype=bool)  # the first byte of a longer one
_LEAD[[b[0] for b in _ENCODED if len(b) > 1]] = True
_TAIL = np.zeros(256, dtype=bool)  # the last byte of a longer one
_TAIL[[b[-1] for b in _ENCODED if len(b) > 1]] = True
_LONG = np.array(sorted(int.from_bytes(b, "big") for b in _ENCODED if len(b) > 1),
                 dtype=np.int64)


def _string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a large_string array, the data padded with 3 zero bytes on each side
    (offsets shifted accordingly)."""
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    raw = (np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None
           else np.zeros(0, dtype=np.uint8))
    data = np.zeros(len(raw) + 6, dtype=np.uint8)
    data[3:3 + len(raw)] = raw
    return offsets + 3, data


def _untrimmed(arr: pa.Array) -> np.ndarray:
    """Positions of the strings ``str.strip`` would change, or that are empty (a superset:
    they are redone in Python)."""
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    offsets, data = _string_parts(arr)
    start, end = offsets[:-1], offsets[1:]
    first, last = data[start], data[end - 1]
    flag = (end == start) | _WS[first] | _WS[last]
    maybe = np.flatnonzero(_LEAD[first] | _TAIL[last])
    if len(maybe):  # a character of 2 or 3 bytes at either end: compare exactly
        s, e = start[maybe], end[maybe]
        heads = [data[s].astype(np.int64) << 8 | data[s + 1],
                 (data[s].astype(np.int64) << 16) | (data[s + 1].astype(np.int64) << 8)
                 | data[s + 2]]
        tails = [data[e - 2].astype(np.int64) << 8 | data[e - 1],
                 (data[e - 3].astype(np.int64) << 16) | (data[e - 2].astype(np.int64) << 8)
                 | data[e - 1]]
        hit = np.zeros(len(maybe), dtype=bool)
        for value in heads + tails:
            hit |= np.isin(value, _LONG)
        flag[maybe[hit]] = True
    if arr.null_count:
        flag &= np.asarray(arr.is_valid())
    return np.flatnonzero(flag)


#: Digits as "0": a run of 19 (an integer ijson may not hold) is found in one search.
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def _ijson_can_hold(value: Any) -> bool:
    """Whether ``ijson`` reads the numbers in a value parsed by ``json`` (no integer beyond 64
    bits, no double overflowing to infinity)."""
    if value.__class__ is int:
        return -_INT64 <= value < _INT64
    if value.__class__ is float:
        return math.isfinite(value)
    if value.__class__ is list:
        return all(map(_ijson_can_hold, value))
    if value.__class__ is dict:
        return all(map(_ijson_can_hold, value.values()))
    return True


def _texts(values) -> tuple[pa.Array, Any]:
    """``decp._text`` of every value (none may be ``UNSET``): (large_string array, the same as
    a sequence)."""
    try:
        arr = pa.array(values, type=pa.large_string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        values = [v if v.__class__ is str else decp._text(v) for v in values]
        arr = pa.array(values, type=pa.large_string())
    redo = _untrimmed(arr)
    if len(redo):
        values = list(values)
        for i in redo.tolist():
            values[i] = decp._text(values[i])
        arr = pa.array(values, type=pa.large_string())
    return arr, values


def _numbers(values) -> tuple[np.ndarray, np.ndarray]:
    """``decp._number`` of every value (``None``, int, float or text): (float64 with NaN for
    none, whether a value was given but unreadable)."""
    unreadable = np.zeros(len(values), dtype=bool)
    try:  # None, int within 2**53, float: exactly float(value)
        return pa.array(values, type=pa.float64()).to_numpy(zero_copy_only=False), unreadable
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    texts = [i for i, v in enumerate(values) if v.__class__ is str]
    values = list(values)
    given = [values[i] for i in texts]
    for i in texts:
        values[i] = None
    try:
        numbers = pa.array(values, type=pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # integers beyond 2**53
        numbers = np.array([np.nan if v is None else decp._number(v) for v in values],
                           dtype=np.float64)
    if not numbers.flags.writeable:
        numbers = numbers.copy()
    for i, text in zip(texts, given):
        number = decp._number(text)
        if number is None:
            unreadable[i] = True
        else:
            numbers[i] = number
    return numbers, unreadable


_EPOCH = date(1970, 1, 1)


def _days(values) -> tuple[np.ndarray, np.ndarray]:
    """``decp._date`` of every value (a ``date``, ``None`` or a number or boolean — that reads
    as no date): (days since 1970, whether there is a date)."""
    kinds = set(map(type, values))
    if not kinds <= {date, type(None)}:
        values = [v if v.__class__ is date or v is None else decp._date(v) for v in values]
    arr = pa.array(values, type=pa.date32())
    days = arr.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = (np.asarray(arr.is_valid()) if arr.null_count
             else np.ones(len(values), dtype=bool))
    return days, valid


def _timestamps(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(days * 86_400_000, type=pa.timestamp("ms"), mask=~valid)


def _plain(value: Any) -> bool:
    """Whether a value may key a cache: texts, ``None``, ``UNSET``, tuples of texts, structures
    of those (a number or a boolean may not: ``1 == 1.0 == True`` read differently)."""
    if value is None or value is UNSET or value.__class__ is str:
        return True
    if value.__class__ is tuple:
        return all(map(_plain, value))
    if isinstance(value, msgspec.Struct):
        return all(_plain(getattr(value, name)) for name in value.__struct_fields__)
    return False


class _Lookup:
    """Distinct values of a column, each read once by ``read``; rows refer to them by code."""

    def __init__(self, read: Callable[[Any], Any]):
        self.read = read
        self.codes: dict = {}
        self.values: list = []
        self.parts: dict = {}  # part → (number of values, the part of each as an array)

    def __call__(self, column) -> np.ndarray:
        get = self.codes.get
        out = np.array([get(v, -1) for v in column], dtype=np.int64)
        missing = np.flatnonzero(out < 0)
        if len(missing):  # new values (most of them at the first batch), then others
            codes = self.codes
            for i in missing.tolist():
                value = column[i]
                code = codes.get(value)
                if code is None:
                    code = self._add(value)
                    if _plain(value):
                        codes[value] = code
                out[i] = code
        return out

    def _add(self, value: Any) -> int:
        self.values.append(self.read(value))
        return len(self.values) - 1

    def _part(self, key: tuple, make: Callable[[list], Any]):
        """An array made of the values read (kept until new values come)."""
        known = self.parts.get(key)
        if known is None or known[0] != len(self.values):
            known = self.parts[key] = (len(self.values), make(self.values))
        return known[1]

    def strings(self, codes: np.ndarray, part: int | None = None) -> pa.Array:
        """The texts (``part`` of the values read, or the values) of the rows."""
        return self._part(("text", part), lambda values: pa.array(
            values if part is None else [v[part] for v in values], type=pa.large_string())
        ).take(pa.array(codes))

    def flags(self, codes: np.ndarray, part: int) -> np.ndarray:
        """Whether ``part`` of the values read is true, for the rows."""
        return self._part(("flag", part), lambda values: np.array(
            [bool(v[part]) for v in values], dtype=bool))[codes]


def _text_of(value: Any) -> str | None:
    return decp._text(None if value is UNSET else value)


def _buyer(value: Any) -> tuple[str | None, bool, bool]:
    """(the buyer's id, whether it is a valid SIRET, whether there is one) of
    ``acheteur.id`` if ``acheteur`` is an object, else of ``acheteur`` (decp._check_identity)."""
    owner = decp._text(value)
    return owner, siret_valid(owner), owner is not None


def _cpv(value: Any) -> tuple[str | None, str | None]:
    cpv = decp._text(value)
    return cpv, cpv[:2] if cpv and cpv[:2].isdigit() else None


def _considerations(value: Any, inner: str, vocabulary: dict[str, str]) -> decp.Considerations:
    """``decp.parse_considerations`` of a decoded value (structures back to what json gives)."""
    if value is UNSET:
        value = None
    elif isinstance(value, (_Social, _Environmental)):
        value = {} if value.items is UNSET else {inner: value.items}
    if value.__class__ is tuple:
        value = list(value)
    elif isinstance(value, dict) and value.get(inner).__class__ is tuple:
        value = {inner: list(value[inner])}
    return decp.parse_considerations(value, inner, vocabulary)


def _social(value: Any) -> tuple:
    read = _considerations(value, "considerationSociale", decp._SOCIAL_VALUES)
    values, known = read.values, read.known
    warning = None
    if read.unknown:
        warning = (f"valeur(s) non reconnue(s) : {', '.join(read.unknown)} ; statut social "
                   "inconnu" if not values else
                   f"valeur(s) non reconnue(s) ignorée(s) : {', '.join(read.unknown)}")
    return (", ".join(values) if known else None, known, decp.CLAUSE in values,
            decp.CRITERION in values, decp.RESERVED in values, decp.NONE not in values, warning)


def _environmental(value: Any) -> tuple:
    read = _considerations(value, "considerationEnvironnementale", decp._ENV_VALUES)
    values, known = read.values, read.known
    return (", ".join(values) if known else None, known, "Clause environnementale" in values,
            "Critère environnemental" in values,
            "Pas de considération environnementale" not in values)


def _column(records: list, name: str) -> list:
    """A field of every record."""
    return list(map(attrgetter(name), records))


#: The fields of a marché with few distinct values, read together (one lookup per record).
_KIND_FIELDS = attrgetter("nature", "procedure", "ccag", "codeCPV", "considerationsSociales",
                          "considerationsEnvironnementales")
# Positions in what _kind gives.
(NATURE, PROCEDURE, CCAG, CPV, CPV_DIVISION, SOCIAL, SOCIAL_KNOWN, CLAUSE, CRITERION, RESERVED,
 HAS_SOCIAL, SOCIAL_WARNING, ENV, ENV_KNOWN, ENV_CLAUSE, ENV_CRITERION, HAS_ENV, V2) = range(18)


def _kind(value: tuple) -> tuple:
    nature, procedure, ccag, cpv, social, env = value
    return (decp._text(nature), decp._text(procedure), _text_of(ccag), *_cpv(cpv),
            *_social(social), *_environmental(env),
            ccag is not UNSET or social is not UNSET or env is not UNSET)


# --- SIRET keys, by columns ---------------------------------------------------------------------

_LA_POSTE = np.frombuffer(b"356000000", dtype=np.uint8) - 48


def _sirets_valid(arr: pa.Array, values) -> np.ndarray:
    """``siret_valid`` of every string (nulls: False)."""
    n = len(arr)
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    offsets, data = _string_parts(arr)
    start = offsets[:-1]
    lengths = offsets[1:] - start
    valid = np.asarray(arr.is_valid()) if arr.null_count else np.ones(n, dtype=bool)
    candidates = np.flatnonzero(valid & (lengths == 14))
    if len(candidates):
        digits = data[start[candidates, None] + np.arange(14)].astype(np.int16) - 48
        ascii_digits = ((digits >= 0) & (digits <= 9)).all(axis=1)
        rows = candidates[ascii_digits]
        d = digits[ascii_digits]
        doubled = d[:, 12::-2] * 2  # from the right, every second digit is doubled
        doubled = np.where(doubled > 9, doubled - 9, doubled)
        luhn = (doubled.sum(axis=1) + d[:, 13::-2].sum(axis=1)) % 10 == 0
        poste = (d[:, :9] == _LA_POSTE).all(axis=1)
        out[rows] = np.where(poste, d.sum(axis=1) % 5 == 0, luhn)
    # 14 characters that are not 14 ASCII digits (other Unicode digits): one by one.
    for i in np.flatnonzero(valid & (lengths > 14) & (lengths <= 14 * 4)).tolist():
        if len(values[i]) == 14:
            out[i] = siret_valid(values[i])
    return out


# --- Rows ----------------------------------------------------------------------------------------

@dataclass
class _Rows:
    """What a batch produced: pieces of the contracts and suppliers tables, and rows of the
    others as the reference gives them."""

    contracts: list = field(default_factory=list)      # _Piece
    suppliers: list = field(default_factory=list)      # _Piece
    modifications: list = field(default_factory=list)  # (ordinal, row dict)
    concessions: list = field(default_factory=list)    # (ordinal, row dict)


def _arrow_type(column: str) -> pa.DataType:
    """The Arrow type of a column typed by ``decp._typed``."""
    if column in decp._BOOL_COLUMNS:
        return pa.bool_()
    if column in decp._FLOAT_COLUMNS:
        return pa.float64()
    if column in decp._INT_COLUMNS:
        return pa.int64()
    if column.startswith("date"):
        return pa.timestamp("ms")
    return pa.large_string()


def _schema(columns: list[str]) -> pa.Schema:
    return pa.schema([(c, _arrow_type(c)) for c in columns])


_CONTRACTS = _schema(CONTRACT_COLUMNS)
_SUPPLIERS = _schema(SUPPLIER_COLUMNS)
_PANDAS = {pa.large_string(): pd.StringDtype(), pa.float64(): pd.Float64Dtype(),
           pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}


class _Coded:
    """A column given by codes into a lookup's values, made into an array when its chunk is
    emitted (one ``take`` per chunk rather than per batch)."""

    __slots__ = ("make", "codes")

    def __init__(self, make: Callable[[np.ndarray], pa.Array], codes: np.ndarray):
        self.make = make
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    def slice(self, start: int, stop: int) -> "_Coded":
        return _Coded(self.make, self.codes[start:stop])


@dataclass
class _Piece:
    """Rows of one table from one batch, in record order: columns (arrays or :class:`_Coded`)
    and the ordinal of each row's record."""

    columns: dict
    ordinals: np.ndarray

    def __len__(self) -> int:
        return len(self.ordinals)

    def slice(self, start: int, stop: int) -> "_Piece":
        return _Piece({name: column.slice(start, stop) if isinstance(column, _Coded)
                       else column.slice(start, stop - start)
                       for name, column in self.columns.items()}, self.ordinals[start:stop])

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, ordinals: list[int], schema: pa.Schema) -> "_Piece":
        """Reference rows (typed by ``decp._typed``) as a piece like the fast ones."""
        table = pa.Table.from_pandas(frame, preserve_index=False).cast(schema)
        return cls({name: table.column(name).combine_chunks() for name in table.column_names},
                   np.asarray(ordinals, dtype=np.int64))


def _table(pieces: list[_Piece], schema: pa.Schema) -> pa.Table:
    """Pieces as one table, in record order (a batch's reference rows sit among its others)."""
    columns = {}
    for field_ in schema:
        arrays: list[pa.Array] = []
        run: list[_Coded] = []
        for piece in pieces:
            column = piece.columns[field_.name]
            if run and not (isinstance(column, _Coded) and column.make is run[0].make):
                arrays.append(run[0].make(np.concatenate([c.codes for c in run])))
                run = []
            if isinstance(column, _Coded):
                run.append(column)
            else:
                arrays.append(column)
        if run:
            arrays.append(run[0].make(np.concatenate([c.codes for c in run])))
        # The batches' arrays as they are (copying them into one would take time and memory).
        columns[field_.name] = pa.chunked_array(arrays, type=field_.type)
    table = pa.table(columns)
    ordinals = np.concatenate([piece.ordinals for piece in pieces])
    if len(ordinals) > 1 and (np.diff(ordinals) < 0).any():
        table = table.take(pa.array(np.argsort(ordinals, kind="stable")))
    return table


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """A table as ``decp._typed`` types it."""
    return table.to_pandas(types_mapper=_PANDAS.get)


_UNDERSCORE = pa.scalar("_", type=pa.large_string())
_OPEN = pa.scalar("marche[", type=pa.large_string())
_CLOSE = pa.scalar("]", type=pa.large_string())
_EMPTY = pa.scalar("", type=pa.large_string())


def _wheres(indexes: np.ndarray) -> pa.Array:
    """``marche[<index>]`` for every index."""
    return pc.binary_join_element_wise(_OPEN, pa.array(indexes).cast(pa.large_string()), _CLOSE,
                                       _EMPTY)


def _constant(text: str, n: int) -> pa.Array:
    """``text`` repeated ``n`` times."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    return pa.Array.from_buffers(pa.large_string(), n,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])


def _flags(values: np.ndarray, known: np.ndarray) -> pa.Array:
    return pa.array(np.ascontiguousarray(values), mask=~known)


_AMBIGUOUS = object()
_OTHER = object()


def _supplier(item: _Supplier):
    """``item.get("titulaire") or item.get("concessionnaire") or item``, then its id and type
    (``decp._titulaires``): ``(id, type)``, ``None`` (no supplier) or ``_AMBIGUOUS`` (an
    object without any of the keys read: empty — false — or not, which the structures do not
    tell)."""
    for inner in (item.titulaire, item.concessionnaire):
        if inner.__class__ is _Holder:
            if inner.id is not UNSET or inner.typeIdentifiant is not UNSET:
                break
            if inner is item.titulaire and item.concessionnaire is UNSET \
                    and item.id is UNSET and item.typeIdentifiant is UNSET:
                return None, None  # {} or not, the row is the same: no id, no type
            return _AMBIGUOUS
        if inner:  # a true value that is not an object: no supplier
            return None
    else:
        inner = item
    return (None if inner.id is UNSET else inner.id,
            None if inner.typeIdentifiant is UNSET else inner.typeIdentifiant)


@dataclass
class _Suppliers:
    """The suppliers of a batch's records, as ``decp._titulaires`` reads them."""

    positions: np.ndarray   # the record of each supplier
    ids: list
    types: list
    unreadable: dict        # record → ``titulaires`` value neither list nor object
    ambiguous: set          # records to read the reference way

    @classmethod
    def of(cls, records: list) -> "_Suppliers":
        column = _column(records, "titulaires")
        unreadable: dict[int, Any] = {}
        if set(map(type, column)) != {list}:
            column = list(column)
            for i, value in enumerate(column):
                if value.__class__ is list:
                    continue
                if value.__class__ is _Supplier:
                    column[i] = [value]
                else:
                    if value is not None:
                        unreadable[i] = value
                    column[i] = []
        counts = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
        positions = np.repeat(np.arange(len(column), dtype=np.int64), counts)
        holders = [item.titulaire for value in column for item in value]
        ids = [h.id if h.__class__ is _Holder else _OTHER for h in holders]
        types = [h.typeIdentifiant if h.__class__ is _Holder else _OTHER for h in holders]
        ambiguous: set[int] = set()
        usual = {str, type(None)}
        if not (set(map(type, ids)) <= usual and set(map(type, types)) <= usual):
            items = [item for value in column for item in value]
            drop = []
            for k, (ident, kind) in enumerate(zip(ids, types)):
                if ident is _OTHER or ident is UNSET or kind is UNSET:
                    found = _supplier(items[k])
                    if found is _AMBIGUOUS:
                        ambiguous.add(int(positions[k]))
                    elif found is None:
                        drop.append(k)
                    else:
                        ids[k], types[k] = found
            if drop:
                keep = np.ones(len(ids), dtype=bool)
                keep[drop] = False
                positions = positions[keep]
                ids = [v for v, k in zip(ids, keep) if k]
                types = [v for v, k in zip(types, keep) if k]
        return cls(positions, ids, types, unreadable, ambiguous)


class _Reader:
    """Reads the records of one file by batches (see the module's docstring)."""

    def __init__(self, result: DecpFile, today: date, stream: bool):
        self.result = result
        self.path = result.path
        self.today = today
        self.today_days = (today - _EPOCH).days
        self.first_day = (date(decp._FIRST_VALID_YEAR, 1, 1) - _EPOCH).days
        self.stream = stream
        communes = result.communes
        self.buyers = _Lookup(_buyer)
        self.kinds = _Lookup(_kind)

        def place(value: Any) -> tuple:
            if value.__class__ is _Place:
                code, kind = decp._text(value.code), decp._text(value.typeCode)
            else:
                code = kind = None
            dep, region = decp.departement_from_place(code, kind)
            unknown = (communes is not None and region == "11"
                       and decp._fold(kind or "") == "code commune" and code not in communes)
            return code, kind, dep, region, unknown

        self.places = _Lookup(place)
        # Columns made from the values read, once per emitted chunk (see _Coded).
        kinds, places = self.kinds, self.places

        def text(lookup: _Lookup, part: int):
            return lambda codes: lookup.strings(codes, part)

        def flag(lookup: _Lookup, part: int, known: int):
            return lambda codes: _flags(lookup.flags(codes, part), lookup.flags(codes, known))

        self.coded = {
            "nature": text(kinds, NATURE), "procedure": text(kinds, PROCEDURE),
            "codeCPV": text(kinds, CPV), "cpv_division": text(kinds, CPV_DIVISION),
            "ccag": text(kinds, CCAG), "considerationsSociales": text(kinds, SOCIAL),
            "clause_sociale": flag(kinds, CLAUSE, SOCIAL_KNOWN),
            "critere_social": flag(kinds, CRITERION, SOCIAL_KNOWN),
            "marche_reserve": flag(kinds, RESERVED, SOCIAL_KNOWN),
            "has_social_consideration": flag(kinds, HAS_SOCIAL, SOCIAL_KNOWN),
            "considerationsEnvironnementales": text(kinds, ENV),
            "clause_environnementale": flag(kinds, ENV_CLAUSE, ENV_KNOWN),
            "critere_environnemental": flag(kinds, ENV_CRITERION, ENV_KNOWN),
            "has_environmental_consideration": flag(kinds, HAS_ENV, ENV_KNOWN),
            "lieuExecution_code": text(places, 0), "lieuExecution_typeCode": text(places, 1),
            "departement_execution": text(places, 2), "region_execution": text(places, 3),
        }
        self.entries: list = []  # (ordinal, rank, sequence, is_reject, Reject)

    def _entry(self, ordinal: int, rank: int, sequence: int, reject: bool, where: str, rule: str,
               message: str) -> None:
        self.entries.append((ordinal, rank, sequence, reject,
                             Reject(SOURCE, self.path, where, rule, shorten(message))))

    # -- records read the reference way --

    def _parse(self, raw: Raw) -> Any:
        """One record as the reference path's parser gives it."""
        data = bytes(raw)
        try:
            if self.stream:
                import ijson

                return next(iter(ijson.items(io.BytesIO(data), "", use_float=True)))
            return json.loads(data.decode("utf-8"))
        except Exception as exc:  # the reference path would fail on the file: let it say how
            raise _Fallback(str(exc)) from exc

    def _reference(self, scratch: DecpFile, rows: _Rows, contracts: list, suppliers: list,
                   ordinal: int, kind: str | None, index: int, record: Any) -> None:
        kind = kind or decp._kind_of(record)
        marks = (len(scratch.contracts), len(scratch.suppliers), len(scratch.modifications),
                 len(scratch.concessions), len(scratch.quarantine.rejects),
                 len(scratch.quarantine.warnings))
        decp.read_record(scratch, kind, f"{kind}[{index}]", record, self.today)
        contracts.extend(ordinal for _ in scratch.contracts[marks[0]:])
        suppliers.extend(ordinal for _ in scratch.suppliers[marks[1]:])
        rows.modifications.extend((ordinal, row) for row in scratch.modifications[marks[2]:])
        rows.concessions.extend((ordinal, row) for row in scratch.concessions[marks[3]:])
        for sequence, item in enumerate(scratch.quarantine.rejects[marks[4]:]):
            self.entries.append((ordinal, 0, sequence, True, item))
        for sequence, item in enumerate(scratch.quarantine.warnings[marks[5]:]):
            self.entries.append((ordinal, 0, sequence, False, item))

    # -- a batch --

    def batch(self, raws: list, kind: str | None, first_index: int, first_ordinal: int) -> _Rows:
        rows = _Rows()
        odd: list[int] = []
        fast: list[int] = []
        records: list = []
        if kind == "concession":
            odd = list(range(len(raws)))
        else:
            decode = _RECORD.decode
            try:  # usually every record fits the structures
                records = list(map(decode, raws))
                fast = list(range(len(raws)))
            except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
                records = []
                for j, raw in enumerate(raws):
                    try:
                        records.append(decode(raw))
                        fast.append(j)
                    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
                        odd.append(j)
            if kind is None and records:  # a plain list: concessions apart
                concessions = self._concessions(records)
                if concessions:
                    odd = sorted(odd + [fast[i] for i in concessions])
                    fast = [j for i, j in enumerate(fast) if i not in concessions]
                    records = [r for i, r in enumerate(records) if i not in concessions]
        suppliers = _Suppliers.of(records)
        if suppliers.ambiguous:
            moved = suppliers.ambiguous
            odd = sorted(odd + [fast[i] for i in moved])
            fast = [j for i, j in enumerate(fast) if i not in moved]
            records = [r for i, r in enumerate(records) if i not in moved]
            suppliers = _Suppliers.of(records)
        scratch = DecpFile(path=self.path, communes=self.result.communes)
        odd_contracts: list[int] = []
        odd_suppliers: list[int] = []
        for j in odd:
            self._reference(scratch, rows, odd_contracts, odd_suppliers, first_ordinal + j,
                            kind, first_index + j, self._parse(raws[j]))
        if records:
            fast_at = np.array(fast, dtype=np.int64)
            # Modifications parsed for every record (in stream mode, a number ijson cannot
            # hold makes the file fail even in a record that is rejected).
            self._marches(rows, records, suppliers, self._modifications(records),
                          fast_at + first_index, fast_at + first_ordinal)
        if scratch.contracts:
            rows.contracts.append(_Piece.of_frame(decp.contracts_frame(scratch.contracts),
                                                  odd_contracts, _CONTRACTS))
        if scratch.suppliers:
            rows.suppliers.append(_Piece.of_frame(
                decp.plain_frame(scratch.suppliers, SUPPLIER_COLUMNS), odd_suppliers, _SUPPLIERS))
        rows.modifications.sort(key=lambda item: item[0])
        rows.concessions.sort(key=lambda item: item[0])
        return rows

    def _modifications(self, records: list) -> list | None:
        """The ``modifications`` of the records as the reference path's parser gives them
        (``None`` where absent); ``None`` when no record has any."""
        raws = _column(records, "modifications")
        if raws.count(_NO_RAW) == len(raws):
            return None
        parsed: list = [None] * len(raws)
        for i in [i for i, raw in enumerate(raws) if raw is not _NO_RAW]:
            raw = raws[i]
            try:  # what json gives, but for numbers beyond doubles (infinity for json)
                value = _ANY(raw)
                suspect = self.stream and _LONG_DIGITS in bytes(raw).translate(_DIGITS)
            except msgspec.DecodeError:
                value = json.loads(bytes(raw).decode("utf-8"))  # the file is UTF-8 (checked)
                suspect = self.stream
            if suspect and not _ijson_can_hold(value):
                raise _Fallback("nombre hors de la portée d'ijson")
            parsed[i] = value
        return parsed

    @staticmethod
    def _concessions(records: list) -> set[int]:
        """Positions of the concessions (``decp._kind_of``) among records of a plain list."""
        found: set[int] = set()
        owners = _column(records, "autoriteConcedante")
        if owners.count(_NO_RAW) != len(owners):
            found.update(i for i, v in enumerate(owners) if v is not _NO_RAW)
        kinds = _column(records, "kind")
        if kinds.count(UNSET) != len(kinds):
            found.update(i for i, v in enumerate(kinds) if v is not UNSET
                         and decp._fold(str(v)).startswith("contrat de concession"))
        return found

    def _marches(self, rows: _Rows, records: list, suppliers: _Suppliers, mods_in: list | None,
                 indexes: np.ndarray, ordinals: np.ndarray) -> None:
        """The fast records of a batch: checks, warnings and rows (decp._read_marche)."""
        path = self.path
        entry = self._entry
        n = len(records)

        # Identity (decp._check_identity): id, buyer, notification date; rejects (rank 0).
        ident_arr, ident_list = _texts(_column(records, "id"))
        buyer_codes = self.buyers([b.id if b.__class__ is _Buyer else b
                                   for b in _column(records, "acheteur")])
        buyer_ok = self.buyers.flags(buyer_codes, 2)
        raw_dates = _column(records, "dateNotification")
        days, dated = _days(raw_dates)
        no_ident = (np.asarray(ident_arr.is_null()) if ident_arr.null_count
                    else np.zeros(n, dtype=bool))
        kept = ~no_ident & buyer_ok & dated & (days >= self.first_day) & (days <= self.today_days)
        if not kept.all():
            for i in np.flatnonzero(~kept).tolist():
                ident = ident_list[i]
                if no_ident[i]:
                    rule, message = "id obligatoire", "identifiant du contrat absent"
                elif not buyer_ok[i]:
                    rule, message = ("acheteur.id obligatoire",
                                     f"identifiant de l'acheteur absent (contrat {ident})")
                elif not dated[i]:
                    rule = "dateNotification invalide"
                    message = (f"date absente ou illisible : {raw_dates[i]!r} "
                               f"(contrat {ident})")
                else:
                    when = date.fromordinal(_EPOCH.toordinal() + int(days[i]))
                    if days[i] < self.first_day:
                        rule = "dateNotification hors période"
                        message = (f"date antérieure à {decp._FIRST_VALID_YEAR} : {when} "
                                   f"(contrat {ident})")
                    else:
                        rule = "dateNotification dans le futur"
                        message = (f"date postérieure au jour de lecture : {when} "
                                   f"(contrat {ident})")
                entry(int(ordinals[i]), 0, 0, True, f"marche[{indexes[i]}]", rule, message)
            if not kept.any():
                return
            take = np.flatnonzero(kept)
            position = np.full(n, -1, dtype=np.int64)
            position[take] = np.arange(len(take))
            picked = take.tolist()
            records = [records[i] for i in picked]
            if mods_in is not None:
                mods_in = [mods_in[i] for i in picked]
            ident_list = [ident_list[i] for i in picked]
            ident_arr = ident_arr.take(pa.array(take))
            buyer_codes = buyer_codes[take]
            days = days[take]
            indexes = indexes[take]
            ordinals = ordinals[take]
            keep = position[suppliers.positions] >= 0
            suppliers = _Suppliers(
                position[suppliers.positions[keep]],
                [v for v, k in zip(suppliers.ids, keep) if k],
                [v for v, k in zip(suppliers.types, keep) if k],
                {int(position[i]): v for i, v in suppliers.unreadable.items()
                 if position[i] >= 0}, set())
            n = len(records)
        ords = ordinals.tolist()
        wheres: dict[int, str] = {}

        def where(i: int) -> str:
            found = wheres.get(i)
            if found is None:
                found = wheres[i] = f"marche[{indexes[i]}]"
            return found

        buyers = self.buyers.values

        # Social considerations (rank 1), environmental ones, nature, procedure, CCAG, CPV.
        kinds = self.kinds
        kind_codes = kinds(list(map(_KIND_FIELDS, records)))
        for i in np.flatnonzero(kinds.flags(kind_codes, SOCIAL_WARNING)).tolist():
            entry(ords[i], 1, 0, False, where(i), "considerationsSociales : valeur inconnue",
                  kinds.values[kind_codes[i]][SOCIAL_WARNING])

        # Place of execution (rank 2).
        place_codes = self.places(_column(records, "lieuExecution"))
        places = self.places.values
        for i in np.flatnonzero(self.places.flags(place_codes, 4)).tolist():
            code, _, dep, _, _ = places[place_codes[i]]
            entry(ords[i], 2, 0, False, where(i), "lieuExecution : commune inconnue",
                  f"code INSEE « {code} » absent de la géographie de référence "
                  f"(contrat {ident_list[i]}) : rattaché au département {dep}")

        # Amount (rank 3), duration.
        raw_amounts = _column(records, "montant")
        amount, unreadable = _numbers(raw_amounts)
        duration, _ = _numbers(_column(records, "dureeMois"))
        for i in np.flatnonzero(unreadable).tolist():
            entry(ords[i], 3, 0, False, where(i), "montant illisible",
                  f"montant non numérique : {raw_amounts[i]!r} (contrat {ident_list[i]})")
        with np.errstate(invalid="ignore"):
            nonpositive = amount <= 0
        if nonpositive.any():
            for i in np.flatnonzero(nonpositive).tolist():
                entry(ords[i], 3, 0, False, where(i), "montant nul ou négatif",
                      f"montant {amount[i]:g} (contrat {ident_list[i]}) : exclu des sommes de "
                      "montants")
            amount = np.where(nonpositive, np.nan, amount)

        # Buyer's SIRET (rank 4).
        for i in np.flatnonzero(~self.buyers.flags(buyer_codes, 1)).tolist():
            entry(ords[i], 4, 0, False, where(i), "acheteur.id : SIRET invalide",
                  f"{buyers[buyer_codes[i]][0]!r} n'est pas un SIRET valide (14 chiffres, clé "
                  "de Luhn)")

        # Lists that are neither lists nor objects (rank 5, 6).
        for i, value in suppliers.unreadable.items():
            entry(ords[i], 5, 0, False, where(i), "titulaires illisible",
                  f"titulaires n'est ni une liste ni un objet : {str(value)[:80]!r} (ignoré)")
        with_mods = [i for i, m in enumerate(mods_in) if m is not None] if mods_in else []
        for i in with_mods:
            value = mods_in[i]
            if not isinstance(value, (list, dict)):
                entry(ords[i], 6, 0, False, where(i), "modifications illisible",
                      f"modifications n'est ni une liste ni un objet : {str(value)[:80]!r} "
                      "(ignoré)")

        # Suppliers' SIRET (rank 7, in the record's order).
        sup_pos = suppliers.positions
        sup_id_arr, sup_id_list = _texts(suppliers.ids)
        sup_type_arr, _ = _texts(suppliers.types)
        is_siret = pc.fill_null(pc.equal(sup_type_arr, "SIRET"), False).to_numpy(
            zero_copy_only=False)
        for k in np.flatnonzero(is_siret & ~_sirets_valid(sup_id_arr, sup_id_list)).tolist():
            i = int(sup_pos[k])
            entry(ords[i], 7, k, False, where(i), "titulaire : SIRET invalide",
                  f"{sup_id_list[k]!r} n'est pas un SIRET valide (contrat {ident_list[i]})")

        buyer_arr = self.buyers.strings(buyer_codes, 0)
        uid_arr = pc.binary_join_element_wise(buyer_arr, ident_arr, _UNDERSCORE)

        # Modifications (rank 8), by the reference code.
        amount_initial, duration_initial = amount, duration
        n_mods = np.zeros(n, dtype=np.int64)
        replaced: dict[int, list] = {}
        if with_mods:
            amount, duration = amount.copy(), duration.copy()
            scratch = DecpFile(path=path, communes=self.result.communes)
            original = object()
            for i in with_mods:
                mods = decp._modifications(mods_in[i])
                n_mods[i] = len(mods)
                if not mods:
                    continue
                uid = f"{buyers[buyer_codes[i]][0]}_{ident_list[i]}"
                start_rows = len(scratch.modifications)
                start_warnings = len(scratch.quarantine.warnings)
                a0 = None if np.isnan(amount[i]) else float(amount[i])
                d0 = None if np.isnan(duration[i]) else float(duration[i])
                a1, d1, found = decp.apply_modifications(scratch, where(i), uid, ident_list[i],
                                                         mods, a0, d0, original)
                amount[i] = np.nan if a1 is None else a1
                duration[i] = np.nan if d1 is None else d1
                if found is not original:
                    replaced[i] = found
                for row in scratch.modifications[start_rows:]:
                    rows.modifications.append((ords[i], row))
                for sequence, item in enumerate(scratch.quarantine.warnings[start_warnings:]):
                    self.entries.append((ords[i], 8, sequence, False, item))

        # Suppliers' rows (the last modification naming suppliers replaces them).
        if replaced:
            keep = np.array([p not in replaced for p in sup_pos.tolist()], dtype=bool)
            extra_pos, extra_ids, extra_types = [], [], []
            for i, found in replaced.items():
                for supplier in found:
                    extra_pos.append(i)
                    extra_ids.append(supplier["titulaire_id"])
                    extra_types.append(supplier["typeIdentifiant"])
            every = np.concatenate([sup_pos[keep], np.array(extra_pos, dtype=np.int64)])
            order = np.argsort(every, kind="stable")
            sup_pos = every[order]
            sup_id_arr = pa.concat_arrays([
                sup_id_arr.filter(pa.array(keep)),
                pa.array(extra_ids, type=pa.large_string())]).take(pa.array(order))
            sup_type_arr = pa.concat_arrays([
                sup_type_arr.filter(pa.array(keep)),
                pa.array(extra_types, type=pa.large_string())]).take(pa.array(order))
        record_arr = _wheres(indexes)
        if len(sup_pos):
            at = pa.array(sup_pos)
            rows.suppliers.append(_Piece({
                "uid": uid_arr.take(at),
                "titulaire_id": sup_id_arr,
                "typeIdentifiant": sup_type_arr,
                "source_file": _constant(path, len(sup_pos)),
                "source_record": record_arr.take(at),
            }, ordinals[sup_pos]))

        # Format: v2 as soon as one of its keys is there.
        v2 = kinds.flags(kind_codes, V2)
        if not v2.all():
            for name in _PRESENCE:
                column = _column(records, name)
                absent = column.count(_NO_RAW)
                if absent == 0:
                    v2[:] = True
                    break
                if absent < n:
                    v2 |= np.array([v is not _NO_RAW for v in column], dtype=bool)
        formats = pa.array([decp.FORMAT_2019, decp.FORMAT], type=pa.large_string()).take(
            pa.array(v2.astype(np.int8)))

        # Other columns.
        pub_days, published = _days(_column(records, "datePublicationDonnees"))
        years = (days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)
        coded = self.coded
        columns = {
            "uid": uid_arr,
            "id": ident_arr,
            "acheteur_id": buyer_arr,
            "objet": _texts(_column(records, "objet"))[0],
            "nature": _Coded(coded["nature"], kind_codes),
            "procedure": _Coded(coded["procedure"], kind_codes),
            "codeCPV": _Coded(coded["codeCPV"], kind_codes),
            "cpv_division": _Coded(coded["cpv_division"], kind_codes),
            "ccag": _Coded(coded["ccag"], kind_codes),
            "montant": pa.array(amount, mask=np.isnan(amount)),
            "montant_initial": pa.array(amount_initial, mask=np.isnan(amount_initial)),
            "dureeMois": pa.array(duration, mask=np.isnan(duration)),
            "dureeMois_initial": pa.array(duration_initial, mask=np.isnan(duration_initial)),
            "dateNotification": _timestamps(days, np.ones(n, dtype=bool)),
            "annee": pa.array(years, type=pa.int64()),
            "datePublicationDonnees": _timestamps(pub_days, published),
            "n_titulaires": pa.array(np.bincount(sup_pos, minlength=n).astype(np.int64)),
            "n_modifications": pa.array(n_mods),
            "source_file": _constant(path, n),
            "source_record": record_arr,
            "format": formats,
        }
        for name in ("considerationsSociales", "clause_sociale", "critere_social",
                     "marche_reserve", "has_social_consideration",
                     "considerationsEnvironnementales", "clause_environnementale",
                     "critere_environnemental", "has_environmental_consideration"):
            columns[name] = _Coded(coded[name], kind_codes)
        for name in ("lieuExecution_code", "lieuExecution_typeCode", "departement_execution",
                     "region_execution"):
            columns[name] = _Coded(coded[name], place_codes)
        rows.contracts.append(_Piece(columns, ordinals))


# --- Chunks, as DecpFile.flush makes them ----------------------------------------------------------

class _Chunks:
    """Cuts the rows into the chunks ``read_decp_json(chunk_size=...)`` gives: a chunk ends with
    the record that brings the contracts since the last one to ``chunk_size``."""

    def __init__(self, result: DecpFile, chunk_size: int):
        self.result = result
        self.size = chunk_size
        self.contracts: list[_Piece] = []
        self.suppliers: list[_Piece] = []
        self.modifications: list = []
        self.concessions: list = []
        self.pending = 0

    def add(self, rows: _Rows) -> None:
        self.contracts.extend(p for p in rows.contracts if len(p))
        self.suppliers.extend(p for p in rows.suppliers if len(p))
        self.modifications.extend(rows.modifications)
        self.concessions.extend(rows.concessions)
        self.pending += sum(len(p) for p in rows.contracts)
        while self.pending >= self.size:
            ordinals = np.sort(np.concatenate([p.ordinals for p in self.contracts]))
            self._emit(int(ordinals[self.size - 1]))

    def _emit(self, last: int | None) -> None:
        """Flush the rows of the records up to ``last`` (every row if ``None``)."""
        result = self.result
        contracts, self.contracts = _split(self.contracts, last)
        suppliers, self.suppliers = _split(self.suppliers, last)
        cut = len(self.modifications) if last is None else bisect.bisect_right(
            self.modifications, last, key=lambda item: item[0])
        modifications, self.modifications = self.modifications[:cut], self.modifications[cut:]
        cut = len(self.concessions) if last is None else bisect.bisect_right(
            self.concessions, last, key=lambda item: item[0])
        concessions, self.concessions = self.concessions[:cut], self.concessions[cut:]
        n_contracts = sum(len(p) for p in contracts)
        self.pending -= n_contracts
        result.produced += n_contracts + len(concessions)
        if n_contracts:
            result.frames["contracts"].append(_to_frame(_table(contracts, _CONTRACTS)))
        if suppliers:
            result.frames["suppliers"].append(_to_frame(_table(suppliers, _SUPPLIERS)))
        if modifications:
            result.frames["modifications"].append(
                decp.plain_frame([row for _, row in modifications], MODIFICATION_COLUMNS))
        if concessions:
            result.frames["concessions"].append(
                decp.plain_frame([row for _, row in concessions], CONCESSION_COLUMNS))

    def close(self) -> None:
        self._emit(None)


def _split(pieces: list[_Piece], last: int | None) -> tuple[list[_Piece], list[_Piece]]:
    """The pieces' rows of the records up to ``last``, and the others."""
    if last is None:
        return pieces, []
    head, tail = [], []
    for piece in pieces:
        cut = int(np.searchsorted(piece.ordinals, last, side="right"))
        if cut == len(piece):
            head.append(piece)
        elif cut == 0:
            tail.append(piece)
        else:
            head.append(piece.slice(0, cut))
            tail.append(piece.slice(cut, len(piece)))
    return head, tail


# --- The file ------------------------------------------------------------------------------------

def _segments(path: Path, mapped: mmap.mmap, view: memoryview,
              stream: bool) -> list[tuple[list, str | None]]:
    """The records' raw texts, by list, as ``iter_records`` (or ``stream_records``) yields them;
    raises :class:`_Fallback` for anything but an ordinary document."""
    try:
        document = _TOP.decode(view)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _Fallback(str(exc)) from exc  # (ijson reads arrays nested deeper than msgspec)
    if isinstance(document, list):
        shape, segments = "array", [(document, None)]
    elif isinstance(document.marches, list):
        shape, segments = "list", [(document.marches, None)]
    else:
        body = document.marches
        if body.marche is UNSET and body.concession is UNSET:
            raise _Fallback("ni marche ni contrat-concession")
        shape = "object"
        segments = [(body.marche or [], "marche"), (body.concession or [], "concession")]
    if stream:
        from .base import SourceFileError

        try:
            peeked = decp._peek_shape(path)
        except SourceFileError as exc:
            raise _Fallback(str(exc)) from exc
        if peeked != shape:
            raise _Fallback("forme lue au début du fichier différente")
        # ijson walks every array found at its prefix: a key given twice is read twice (json
        # keeps the last one). Refuse any second occurrence of the keys it follows, looked for
        # outside the records (the keys of the document itself are there).
        keys = {"array": [], "list": [b'"marches"'],
                "object": [b'"marches"', b'"marche"', b'"contrat-concession"']}[shape]
        spans = _outside(mapped, [raws for raws, _ in segments])
        for key in keys:
            if sum(mapped[a:b].count(key) for a, b in spans) > 1:
                raise _Fallback(f"clé {key!r} répétée")
    return segments


def _outside(mapped: mmap.mmap, lists: list[list]) -> list[tuple[int, int]]:
    """The byte ranges of the file outside the records of each list (the records of a list lie
    between its first one's start and its last one's end)."""
    base = np.frombuffer(mapped, dtype=np.uint8).ctypes.data
    spans, start = [], 0
    for raws in lists:
        if raws:
            first = np.frombuffer(raws[0], dtype=np.uint8).ctypes.data - base
            last = np.frombuffer(raws[-1], dtype=np.uint8).ctypes.data - base + len(raws[-1])
            spans.append((start, first))
            start = last
    spans.append((start, len(mapped)))
    return spans


def _utf8(view: memoryview) -> bool:
    """Whether the bytes are valid UTF-8 (Arrow's validator: Python's rules)."""
    n = len(view)
    offsets = pa.py_buffer(np.array([0, n], dtype=np.int64))
    array = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(view)])
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def read_fast(path: Path, today: date, stream: bool, communes: set[str] | None,
              chunk_size: int) -> DecpFile | None:
    """Read a DECP JSON file like ``read_decp_json(path, today, stream, communes, chunk_size)``
    (already flushed), or ``None`` when the file must be read by the reference path."""
    try:
        handle = open(path, "rb")
    except OSError:
        return None
    with handle:
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # empty file, not a regular file
            return None
    try:
        return _read_mapped(path, mapped, today, stream, communes, chunk_size)
    except _Fallback:
        return None
    finally:
        try:
            mapped.close()
        except BufferError:  # a view still exported: closed when released
            pass


def _read_mapped(path: Path, mapped: mmap.mmap, today: date, stream: bool,
                 communes: set[str] | None, chunk_size: int) -> DecpFile:
    view = memoryview(mapped)[3 if mapped[:3] == b"\xef\xbb\xbf" else 0:]  # a byte-order mark
    if not _utf8(view):
        raise _Fallback("pas de l'UTF-8")
    result = DecpFile(path=str(path), communes=communes)
    reader = _Reader(result, today, stream)
    chunks = _Chunks(result, chunk_size)
    # Like the reference loop: millions of small acyclic objects, nothing for the collector.
    collecting = gc.isenabled()
    gc.disable()
    try:
        segments = _segments(path, mapped, view, stream)
        ordinal = 0
        for raws, kind in segments:
            for first in range(0, len(raws), BATCH):
                batch = raws[first:first + BATCH]
                chunks.add(reader.batch(batch, kind, first, ordinal))
                ordinal += len(batch)
        result.read = ordinal
        del segments
        chunks.close()
    finally:
        if collecting:
            gc.enable()
    # Rejects and warnings in the order the reference path reports them: by record, then in the
    # order of the checks within a record.
    reader.entries.sort(key=lambda entry: entry[:3])
    for *_, is_reject, item in reader.entries:
        (result.quarantine.rejects if is_reject else result.quarantine.warnings).append(item)
    return result
