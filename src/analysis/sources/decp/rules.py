"""Every rule of the DECP readers, written once and applied by columns.

The pipeline is parse → rules → tables. A parser (:mod:`.json_source`, :mod:`.tabular_source`)
turns a file into batches of :class:`Records`: one columnar frame of raw records, whatever the
format — each field a column of raw values (a Python list from JSON, an Arrow array from a
table), suppliers and modifications as child columns, and each record's provenance (its ordinal in
the file and its label, ``marche[i]`` or ``ligne n``). :func:`marches` applies the rules below to
the whole frame and gives the rows of the canonical tables (:mod:`.tables`) and the quarantine
entries; :func:`concessions` does the same for the rare concessions, one at a time, with the same
rules. Rules on *values* (a place, a consideration, a buyer) run once per distinct value.

Where each rule used to be stated (``decp.py``: the per-record reference; ``decp_fast.py``: its
column version; ``decp_tabular.py``: the consolidated table) and where it is now:

=================================  ===========================  ==================================
rule (quarantine: rule name)       before                       now
=================================  ===========================  ==================================
not a JSON object (enregistrement) decp.read_record             :func:`not_an_object`
identity: id, buyer, notification  decp._check_identity;        :func:`identity` (marchés and
  date (… obligatoire, … invalide, decp_fast._marches;           concessions)
  hors période, dans le futur)     decp_tabular._Fold.run
considerations, social (valeur     decp.parse_considerations,   :func:`parse_considerations`,
  inconnue) and environmental      _social; decp_fast._social;  :func:`_kind` per distinct value
                                   decp_tabular._considerations
place → département, région;       decp.departement_from_place, :func:`departement_from_place`,
  commune inconnue                 _read_marche; decp_fast;     :func:`_place` per distinct value
                                   decp_tabular._place
amount: illisible, nul ou négatif  all three                    :func:`marches` (rank 3)
buyer's SIRET invalide             all three                    :func:`marches` (rank 4)
titulaires / modifications         decp._check_lists; fast      :func:`unreadable_list`
  illisible
supplier's SIRET invalide (typed   all three (tabular: the      :func:`marches` (rank 7): the
  SIRET)                           original state's suppliers)  record's own suppliers
modifications: in order, a         decp.apply_modifications;    :func:`_modifications`, by
  positive amount or duration      decp_tabular (by columns)    columns (rank 8)
  replaces, a null or negative one
  is reported and ignored; the last
  one naming suppliers replaces them
CPV division, format (v2 / 2019),  all three                    :func:`marches`
  counts of suppliers, modifications
concessions (identity, social,     decp._read_concession        :func:`concessions`
  lists, modifications)
consolidated table: uid naming     decp_tabular._Fold.run       the messages here
  several buyers, modification_id                               (:func:`buyers_differ`…); the
  illisible / en double, ligne en                               tabular parser finds the rows
  double                                                        (they are about rows, not values)
=================================  ===========================  ==================================

Reading values (text, numbers, dates) is also stated once here (:func:`_text`, :func:`_number`,
:func:`_date` and their column forms :func:`texts`, :func:`numbers`, :func:`dates`). Whatever the
format, an entry of the quarantine is ordered by its record, then by the order of the checks
above (``rank``), then as it was found.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ... import config
from ...identifiers import siret_valid
from ..base import Reject, shorten
from .tables import SOURCE, Batch, Piece

FORMAT = "decp-v2-json"
FORMAT_2019 = "decp-2019-json"
#: Fields only the v2 format (2024) has; a record with none of them is read as the 2019 format,
#: whose contracts cannot say whether they carry a social consideration.
V2_FIELDS = frozenset({"considerationsSociales", "considerationsEnvironnementales", "techniques",
                       "modalitesExecution", "marcheInnovant", "ccag", "offresRecues",
                       "attributionAvance", "typeGroupementOperateurs", "sousTraitanceDeclaree",
                       "typesPrix", "origineUE", "origineFrance"})

CLAUSE = "Clause sociale"
CRITERION = "Critère social"
RESERVED = "Marché réservé"
RESERVED_CONCESSION = "Concession réservée"
NONE = "Pas de considération sociale"

_SOCIAL_VALUES = {
    "clause sociale": CLAUSE,
    "critere social": CRITERION,
    "marche reserve": RESERVED,
    "concession reservee": RESERVED_CONCESSION,
    "pas de consideration sociale": NONE,
    "sans objet": NONE,
}
ENV_CLAUSE = "Clause environnementale"
ENV_CRITERION = "Critère environnemental"
ENV_NONE = "Pas de considération environnementale"
_ENV_VALUES = {
    "clause environnementale": ENV_CLAUSE,
    "critere environnemental": ENV_CRITERION,
    "pas de consideration environnementale": ENV_NONE,
    "sans objet": ENV_NONE,
}

_FIRST_VALID_YEAR = 2000
_EPOCH = date(1970, 1, 1)


# --- Values, one at a time -----------------------------------------------------------------------

_FOLD_TABLE = str.maketrans("àâäéèêëîïôöùûüçœ’", "aaaeeeeiioouuuco'")


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """Lower case, accents removed, spaces collapsed: the key used to recognise enumerations."""
    return re.sub(r"\s+", " ", text.strip().lower().translate(_FOLD_TABLE))


def _text(value: Any) -> str | None:
    """A value as text: stripped, ``None`` when blank; a whole float is written as an integer."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    """A number, from a number or a French text (``12 345,60 €``); ``None`` when unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = re.sub(r"[\s\u00a0€]", "", str(value)).replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None  # "Infinity", 1e400, NaN: unreadable


#: ``_date`` of the texts already read (a file has a few thousand distinct dates).
_DATES: dict[str, date | None] = {}


def _date(value: Any) -> date | None:
    """A date from ``YYYY-MM-DD…`` or ``JJ/MM/AAAA`` text (or a ``date``); ``None`` otherwise."""
    if value.__class__ is date:
        return value
    if value.__class__ is str:
        try:
            return _DATES[value]
        except KeyError:
            pass
        when = _read_date(value)
        if len(_DATES) < 100_000:
            _DATES[value] = when
        return when
    return _read_date(value)


def _read_date(value: Any) -> date | None:
    text = _text(value)
    if not text:
        return None
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text)
    if not match:
        match_fr = re.match(r"^(\d{2})/(\d{2})/(\d{4})", text)
        if not match_fr:
            return None
        day, month, year = match_fr.groups()
    else:
        year, month, day = match.groups()
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _as_list(value: Any, inner: str) -> list[Any] | None:
    """Unwrap ``{"inner": [...]}``, ``[...]`` or a scalar into a list; ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get(inner, [])
    if isinstance(value, (str, int, float)):
        value = [value]
    if not isinstance(value, list):
        return None
    out: list[Any] = []
    for item in value:
        if isinstance(item, str) and ", " in item:  # tabular exports join multi-values
            out.extend(part for part in item.split(", ") if part)
        else:
            out.append(item)
    return out


@dataclass
class Considerations:
    """Recognised values of a considerations field, and what could not be recognised."""

    values: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    present: bool = False

    @property
    def known(self) -> bool:
        return self.present and bool(self.values)


def parse_considerations(value: Any, inner: str, vocabulary: dict[str, str]) -> Considerations:
    """Read a considerations field in any of its published shapes."""
    items = _as_list(value, inner)
    if items is None:
        return Considerations()
    result = Considerations(present=True)
    for item in items:
        key = _fold(str(item))
        if key in vocabulary:
            canonical = vocabulary[key]
            if canonical not in result.values:
                result.values.append(canonical)
        else:
            result.unknown.append(str(item))
    none_value = next(v for v in vocabulary.values() if v.startswith("Pas de"))
    if none_value in result.values and len(result.values) > 1:
        # "none" next to a real consideration: the real one wins.
        result.values.remove(none_value)
    return result


def social_warning(read: Considerations) -> str | None:
    """The message of ``considerationsSociales : valeur inconnue`` (``None``: nothing to say)."""
    if not read.unknown:
        return None
    if not read.values:
        return f"valeur(s) non reconnue(s) : {', '.join(read.unknown)} ; statut social inconnu"
    return f"valeur(s) non reconnue(s) ignorée(s) : {', '.join(read.unknown)}"


def region_in_force() -> tuple[str, frozenset[str]]:
    """(code, départements) of the région in force (:mod:`analysis.config`)."""
    return config.REGION_CODE, frozenset(config.DEPARTEMENTS)


def departement_from_place(code: str | None, type_code: str | None,
                           region: tuple[str, frozenset[str]] | None = None
                           ) -> tuple[str | None, str | None]:
    """(département, région) of a ``lieuExecution``; either may be unknown.

    Only the départements of the région observed (``region``: its code and départements; default
    :func:`region_in_force`) are mapped to their région; elsewhere the région is left unknown
    unless the place is itself a région.
    """
    if not code:
        return None, None
    code = code.strip().upper().replace(" ", "")
    kind = _fold(type_code or "")
    dep: str | None = None
    if kind == "code region":
        return None, code.zfill(2)
    if kind == "code pays":
        return None, None
    if kind == "code departement":
        dep = code.zfill(2) if code.isdigit() and len(code) < 2 else code
    elif kind == "code postal" or (not kind and code.isdigit() and len(code) == 5):
        if not (code.isdigit() and len(code) == 5):
            return None, None
        if code.startswith("97") or code.startswith("98"):
            dep = code[:3]
        elif code.startswith("20"):
            dep = "2A" if code[:3] in {"200", "201"} else "2B"
        else:
            dep = code[:2]
    elif kind in {"code commune", "code arrondissement", "code canton"} or not kind:
        if len(code) < 2:
            return None, None
        dep = code[:3] if code.startswith(("97", "98")) else code[:2]
    if dep is None:
        return None, None
    region_code, departements = region or region_in_force()
    return dep, (region_code if dep in departements else None)


# --- Values, by columns --------------------------------------------------------------------------

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


def untrimmed(arr: pa.Array) -> np.ndarray:
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


def _one(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def as_strings(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any Arrow column as one ``large_string`` array, the way :func:`_text` writes a value (a
    whole float as an integer, a date as ``YYYY-MM-DD``), not yet stripped."""
    array = _one(array)
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


def texts(values) -> pa.Array:
    """:func:`_text` of every value of a raw column (a list, or an Arrow array)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = as_strings(values)
        kind = _one(values).type
        typed = not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                     or pa.types.is_dictionary(kind))
        if typed:  # numbers and dates have no spaces
            return arr
        odd = untrimmed(arr)
        if len(odd):
            mask = np.zeros(len(arr), dtype=bool)
            mask[odd] = True
            fixed = [_text(v) for v in arr.take(pa.array(odd)).to_pylist()]
            arr = pc.replace_with_mask(arr, pa.array(mask), pa.array(fixed, type=pa.large_string()))
        return arr
    try:
        arr = pa.array(values, type=pa.large_string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        values = [v if v.__class__ is str else _text(v) for v in values]
        arr = pa.array(values, type=pa.large_string())
    redo = untrimmed(arr)
    if len(redo):
        values = list(values)
        for i in redo.tolist():
            values[i] = _text(values[i])
        arr = pa.array(values, type=pa.large_string())
    return arr


def _distinct(arr: pa.Array) -> tuple[np.ndarray, list]:
    """(code of each value, -1 when missing; the distinct values)."""
    encoded = pc.dictionary_encode(_one(arr))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


_NUMERIC = {type(None), int, float}


def numbers(values) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_number` of every value: (float64, NaN for none; whether a value was given but is
    unreadable)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        kind = _one(values).type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            out = np.array(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False),
                           dtype=float)
            out[~np.isfinite(out)] = np.nan
            return out, np.zeros(len(out), dtype=bool)
        codes, distinct = _distinct(as_strings(values))
        read = np.array([np.nan if v is None else v for v in map(_number, distinct)] + [np.nan],
                        dtype=float)
        out = read[codes]
        return out, np.isnan(out) & (codes >= 0)
    unreadable = np.zeros(len(values), dtype=bool)
    kinds = set(map(type, values))
    if kinds <= _NUMERIC:
        try:  # None, int within 2**53, float: exactly float(value)
            arr = pa.array(values, type=pa.float64())
            out = np.array(arr.to_numpy(zero_copy_only=False), dtype=float)
            odd = ~np.isfinite(out)
            if odd.any():  # NaN, infinity: given, but unreadable
                unreadable = odd & np.asarray(arr.is_valid())
                out[odd] = np.nan
            return out, unreadable
        except (pa.ArrowTypeError, pa.ArrowInvalid, OverflowError):
            pass
    if str in kinds and kinds <= _NUMERIC | {str}:  # numbers by Arrow, texts one by one (once per distinct text)
        at = [i for i, v in enumerate(values) if v.__class__ is str]
        given = [values[i] for i in at]
        rest = list(values)
        for i in at:
            rest[i] = None
        out, unreadable = numbers(rest)
        out = out.copy()
        read: dict[str, float | None] = {}
        for i, text in zip(at, given):
            number = read[text] if text in read else read.setdefault(text, _number(text))
            if number is None:
                unreadable[i] = True
            else:
                out[i] = number
        return out, unreadable
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is None:
            continue
        number = _number(value)
        if number is None:
            unreadable[i] = True
        else:
            out[i] = number
    return out, unreadable


def dates(values) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_date` of every value: (days since 1970, whether there is a date)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        kind = _one(values).type
        if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
            arr = pc.cast(_one(values), pa.date32())
        else:
            codes, distinct = _distinct(as_strings(values))
            read = pa.array([_date(v) for v in distinct] + [None], type=pa.date32())
            arr = read.take(pa.array(np.where(codes < 0, len(distinct), codes)))
    else:
        if not set(map(type, values)) <= {date, type(None)}:
            values = [v if v.__class__ is date or v is None else _date(v) for v in values]
        arr = pa.array(values, type=pa.date32())
    days = arr.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = (np.asarray(arr.is_valid()) if arr.null_count
             else np.ones(len(arr), dtype=bool))
    return days, valid


def shown(values, i: int) -> Any:
    """The raw value ``i`` of a column, as a message quotes it."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values[i].as_py()
    return values[i]


_LA_POSTE = np.frombuffer(b"356000000", dtype=np.uint8) - 48


def sirets_valid(arr: pa.Array) -> np.ndarray:
    """``siret_valid`` of every string of a large_string array (nulls: False)."""
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
        if len(candidates) == n and offsets[-1] - offsets[0] == 14 * n:
            # Every string has 14 bytes, one after the other: the data is an n × 14 matrix.
            digits = data[offsets[0]:offsets[-1]].reshape(n, 14).astype(np.int16) - 48
        else:
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
        value = arr[i].as_py()
        if len(value) == 14:
            out[i] = siret_valid(value)
    return out


# --- Distinct values -----------------------------------------------------------------------------

def _plain(value: Any) -> bool:
    """Whether a value may key a cache: texts, ``None``, tuples of those, or values of a type a
    parser declared (:func:`declare_plain`). A number or a boolean may not: ``1 == 1.0 == True``
    read differently."""
    if value is None or value.__class__ is str:
        return True
    if value.__class__ is tuple:
        return all(map(_plain, value))
    test = _PLAIN_TESTS.get(type(value))
    return test is not None and test(value)


#: Types a parser declared plain, and which of their values are.
_PLAIN_TESTS: dict[type, Callable[[Any], bool]] = {}


def declare_plain(kind: type, test: Callable[[Any], bool]) -> None:
    """Let the values of ``kind`` that pass ``test`` key the caches of :class:`Lookup` (a
    parser's frozen structures of texts, its marker of absent keys)."""
    _PLAIN_TESTS[kind] = test


class Lookup:
    """Distinct raw values (or tuples of them) of a column, each read once by ``read``; rows refer
    to them by code. Kept from batch to batch: a file has few distinct buyers, places, kinds."""

    def __init__(self, read: Callable[[Any], tuple]):
        self.read = read
        self.codes: dict = {}
        self.values: list = []
        self.parts: dict = {}  # part → (number of values, the part of each as an array)

    def __call__(self, column) -> np.ndarray:
        """Codes of a list of raw values (or tuples), or of Arrow arrays (one per field)."""
        if isinstance(column, tuple):  # Arrow arrays, one per field
            return self._arrays(column)
        get = self.codes.get
        try:
            out = np.array([get(v, -1) for v in column], dtype=np.int64)
        except TypeError:  # an unhashable value (a list, an object)
            out = np.array([self._get(v) for v in column], dtype=np.int64)
        missing = np.flatnonzero(out < 0)
        if len(missing):
            codes = self.codes
            for i in missing.tolist():
                value = column[i]
                code = self._get(value)
                if code < 0:
                    code = self._add(value)
                    if _plain(value):
                        codes[value] = code
                out[i] = code
        return out

    def _get(self, value: Any) -> int:
        try:
            return self.codes.get(value, -1)
        except TypeError:
            return -1

    def _arrays(self, arrays: tuple) -> np.ndarray:
        n = len(arrays[0])
        key = np.zeros(n, dtype=np.int64)
        parts = []
        for arr in arrays:
            codes, distinct = _distinct(arr)
            parts.append((codes, distinct))
            key = key * (len(distinct) + 1) + (codes + 1)
            if len(key) and key.max() > 1 << 40:  # keep the combined key small
                key = np.unique(key, return_inverse=True)[1].ravel().astype(np.int64)
        combos, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        out = np.empty(len(combos), dtype=np.int64)
        for j, row in enumerate(first.tolist()):
            fields = [None if codes[row] < 0 else distinct[codes[row]]
                      for codes, distinct in parts]
            value = tuple(fields) if len(arrays) > 1 else fields[0]
            code = self._get(value)
            if code < 0:
                code = self._add(value)
                self.codes[value] = code
            out[j] = code
        return out[inverse.ravel()]

    def _add(self, value: Any) -> int:
        self.values.append(self.read(value))
        return len(self.values) - 1

    def _part(self, key: tuple, make: Callable[[list], Any], join: Callable[[Any, Any], Any]):
        """An array made of the values read: made once, then extended by the values read since
        (``join``), not made again from all of them for every batch."""
        known = self.parts.get(key)
        n = len(self.values)
        if known is None:
            known = self.parts[key] = (n, make(self.values))
        elif known[0] != n:
            known = self.parts[key] = (n, join(known[1], make(self.values[known[0]:])))
        return known[1]

    def strings(self, codes: np.ndarray, part: int) -> pa.Array:
        """Text ``part`` of the values read, for the rows."""
        return self._part(("text", part), lambda values: pa.array(
            [v[part] for v in values], type=pa.large_string()),
            lambda old, new: pa.concat_arrays([old, new])).take(pa.array(codes))

    def flags(self, codes: np.ndarray, part: int) -> np.ndarray:
        """Whether ``part`` of the values read is true, for the rows."""
        return self._part(("flag", part), lambda values: np.array(
            [bool(v[part]) for v in values], dtype=bool),
            lambda old, new: np.concatenate([old, new]))[codes]

    def nullable(self, codes: np.ndarray, part: int, known: int) -> pa.Array:
        """Flag ``part`` as a nullable boolean: missing where ``known`` is false."""
        return pa.array(np.ascontiguousarray(self.flags(codes, part)),
                        mask=~self.flags(codes, known))


# --- The raw records frame -----------------------------------------------------------------------

@dataclass
class Children:
    """Child rows of records (suppliers of a record or of a modification): the position of
    each one's parent, and its raw columns."""

    positions: np.ndarray
    ids: Any
    types: Any

    def take(self, parents: np.ndarray, n_parents: int) -> "Children":
        """The children of the parents ``parents`` (renumbered in that order)."""
        new = np.full(n_parents, -1, dtype=np.int64)
        new[parents] = np.arange(len(parents))
        keep = new[self.positions] >= 0 if len(self.positions) else np.zeros(0, dtype=bool)
        at = np.flatnonzero(keep)
        return Children(new[self.positions[at]], _take(self.ids, at), _take(self.types, at))


@dataclass
class Modifications:
    """The modifications of records, in the order they apply: raw columns."""

    positions: np.ndarray       # the record of each
    ids: Any                    # modification_id (raw; the number when missing)
    amounts: Any
    durations: Any
    notified: Any
    published: Any
    suppliers: Children         # positions: the modification

    def take(self, parents: np.ndarray, n_parents: int) -> "Modifications":
        new = np.full(n_parents, -1, dtype=np.int64)
        new[parents] = np.arange(len(parents))
        at = np.flatnonzero(new[self.positions] >= 0)
        return Modifications(new[self.positions[at]], _take(self.ids, at),
                             _take(self.amounts, at), _take(self.durations, at),
                             _take(self.notified, at), _take(self.published, at),
                             self.suppliers.take(at, len(self.positions)))


def _take(values, at: np.ndarray):
    if isinstance(values, tuple):
        return tuple(_take(v, at) for v in values)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _one(values).take(pa.array(at, type=pa.int64()))
    if isinstance(values, np.ndarray):
        return values[at]
    return [values[i] for i in at.tolist()]


@dataclass
class Records:
    """A batch of raw marchés, as any parser gives them (see the module's docstring).

    ``kinds`` holds, per record, (nature, procedure, ccag, codeCPV, considerationsSociales,
    considerationsEnvironnementales) and ``places`` (code, typeCode): as a list of tuples, or a
    tuple of Arrow arrays. ``plain`` turns a raw value a parser gives (a decoded structure) into
    what JSON gives. ``faults`` are the rejections a parser found on the rows of a record
    (given once the identity holds), ``notes`` its warnings on them.
    """

    ordinals: np.ndarray
    where: pa.Array
    ids: Any
    buyers: Any
    notified: Any
    published: Any
    amounts: Any
    durations: Any
    objets: Any
    kinds: Any
    places: Any
    v2: np.ndarray
    suppliers: Children
    modifications: Modifications | None = None
    n_modifications: np.ndarray | None = None   # when a parser counts them apart
    unreadable: list = field(default_factory=list)  # (position, field name, value)
    faults: dict = field(default_factory=dict)      # position → (rule, message)
    notes: list = field(default_factory=list)       # (position, rule, message)
    extra: dict = field(default_factory=dict)       # column → Arrow array, kept as given

    def take(self, at: np.ndarray) -> "Records":
        n = len(self.ordinals)
        position = np.full(n, -1, dtype=np.int64)
        position[at] = np.arange(len(at))
        return Records(
            self.ordinals[at], _one(self.where).take(pa.array(at, type=pa.int64())),
            *(_take(v, at) for v in (self.ids, self.buyers, self.notified, self.published,
                                     self.amounts, self.durations, self.objets)),
            _take(self.kinds, at), _take(self.places, at),
            self.v2[at], self.suppliers.take(at, n),
            None if self.modifications is None else self.modifications.take(at, n),
            None if self.n_modifications is None else self.n_modifications[at],
            [(int(position[i]), name, value) for i, name, value in self.unreadable
             if position[i] >= 0],
            {int(position[i]): fault for i, fault in self.faults.items() if position[i] >= 0},
            [(int(position[i]), rule, message) for i, rule, message in self.notes
             if position[i] >= 0],
            {name: _take(arr, at) for name, arr in self.extra.items()})


# --- Quarantine entries --------------------------------------------------------------------------

class Context:
    """What the rules need across the batches of a file: the day of reading, the reference
    communes, the lookups of distinct values, and the quarantine entries found."""

    def __init__(self, path: str, today: date, communes: set[str] | None,
                 plain: Callable[[Any], Any] = lambda value: value):
        self.path = path
        self.today = today
        self.today_days = (today - _EPOCH).days
        self.first_day = (date(_FIRST_VALID_YEAR, 1, 1) - _EPOCH).days
        self.communes = communes
        self.plain = plain
        self.region = region_in_force()  # read once: the région cannot change within a file
        self.entries: list = []  # (ordinal, rank, sequence, is_reject, Reject)
        self.buyers = Lookup(self._buyer)
        self.kinds = Lookup(self._kind)
        self.places = Lookup(self._place)

    def entry(self, ordinal: int, rank: int, reject: bool, where: str, rule: str,
              message: str) -> None:
        self.entries.append((ordinal, rank, len(self.entries), reject,
                             Reject(SOURCE, self.path, where, rule, shorten(message))))

    def add_entries(self, entries: list) -> None:
        """Entries found by another context on other records of the same file (a helper
        process's): their order among a record's entries is kept."""
        self.entries.extend(entries)

    def sorted_entries(self) -> tuple[list[Reject], list[Reject]]:
        """(rejects, warnings) by record, then rank, then as found."""
        self.entries.sort(key=lambda entry: entry[:3])
        rejects = [item for *_, is_reject, item in self.entries if is_reject]
        warnings = [item for *_, is_reject, item in self.entries if not is_reject]
        return rejects, warnings

    # -- rules per distinct value --

    def _buyer(self, value: Any) -> tuple:
        """(id, whether it is a valid SIRET, whether there is one)."""
        owner = _text(self.plain(value))
        return owner, siret_valid(owner), owner is not None

    def _kind(self, value: tuple) -> tuple:
        nature, procedure, ccag, cpv, social, env = (self.plain(v) for v in value)
        cpv = _text(cpv)
        read = parse_considerations(social, "considerationSociale", _SOCIAL_VALUES)
        env_read = parse_considerations(env, "considerationEnvironnementale", _ENV_VALUES)
        values, known = read.values, read.known
        env_values, env_known = env_read.values, env_read.known
        return (_text(nature), _text(procedure), _text(ccag), cpv,
                cpv[:2] if cpv and cpv[:2].isdigit() else None,
                ", ".join(values) if known else None, known, CLAUSE in values,
                CRITERION in values, RESERVED in values, NONE not in values,
                social_warning(read),
                ", ".join(env_values) if env_known else None, env_known,
                ENV_CLAUSE in env_values, ENV_CRITERION in env_values,
                ENV_NONE not in env_values)

    def _place(self, value: tuple) -> tuple:
        code, kind = (_text(self.plain(v)) for v in value)
        dep, region = departement_from_place(code, kind, self.region)
        unknown = (self.communes is not None and region == self.region[0]
                   and _fold(kind or "") == "code commune" and code not in self.communes)
        return code, kind, dep, region, unknown


# Positions in what Context._kind gives.
(NATURE, PROCEDURE, CCAG, CPV, CPV_DIVISION, SOCIAL, SOCIAL_KNOWN, CLAUSE_F, CRITERION_F,
 RESERVED_F, HAS_SOCIAL, SOCIAL_WARNING, ENV, ENV_KNOWN, ENV_CLAUSE_F, ENV_CRITERION_F,
 HAS_ENV) = range(17)


# --- Messages of rules found by the parsers ------------------------------------------------------

def not_an_object(ctx: Context, ordinal: int, where: str) -> None:
    ctx.entry(ordinal, 0, True, where, "enregistrement", "l'enregistrement n'est pas un objet JSON")


def buyers_differ(uid: str, names: list[str]) -> tuple[str, str]:
    return ("uid : acheteurs différents",
            f"les lignes du marché {uid} nomment plusieurs acheteurs ({', '.join(names)}) : "
            "marché écarté")


def state_unreadable(line: int, value: Any, ident: str | None) -> tuple[str, str]:
    return ("modification_id illisible",
            f"ligne {line} : modification_id {value!r} n'est pas un entier positif ou nul "
            f"(contrat {ident}) : marché écarté")


def state_twice(state: int, ident: str | None, line: int, other: int) -> tuple[str, str]:
    return ("modification_id en double",
            f"l'état {state} (modification_id) du contrat {ident} figure sur les lignes {line} "
            f"et {other} avec des dates, montants ou durées différents : marché écarté")


def row_twice(line: int, state: int, ident: str | None) -> tuple[str, str]:
    return ("ligne en double",
            f"ligne {line} : même état (modification_id {state}) et même titulaire qu'une autre "
            f"ligne du contrat {ident} : fusionnée")


def unreadable_list(name: str, value: Any) -> tuple[str, str]:
    return (f"{name} illisible",
            f"{name} n'est ni une liste ni un objet : {str(value)[:80]!r} (ignoré)")


# --- The rules -----------------------------------------------------------------------------------

def identity(ctx: Context, ordinals: np.ndarray, where: pa.Array, ident: pa.Array,
             owner_present: np.ndarray, days: np.ndarray, dated: np.ndarray, raw_dates,
             owner_key: str = "acheteur", date_key: str = "dateNotification") -> np.ndarray:
    """Reject the records without an id, an owner (buyer) or a readable date in the period;
    returns which records hold."""
    no_ident = (np.asarray(ident.is_null()) if ident.null_count
                else np.zeros(len(ident), dtype=bool))
    kept = ~no_ident & owner_present & dated & (days >= ctx.first_day) & (days <= ctx.today_days)
    for i in np.flatnonzero(~kept).tolist():
        label = ident[i].as_py()
        if no_ident[i]:
            rule, message = "id obligatoire", "identifiant du contrat absent"
        elif not owner_present[i]:
            rule, message = (f"{owner_key}.id obligatoire",
                             f"identifiant de l'acheteur absent (contrat {label})")
        elif not dated[i]:
            rule = f"{date_key} invalide"
            message = f"date absente ou illisible : {shown(raw_dates, i)!r} (contrat {label})"
        else:
            when = date.fromordinal(_EPOCH.toordinal() + int(days[i]))
            if days[i] < ctx.first_day:
                rule = f"{date_key} hors période"
                message = f"date antérieure à {_FIRST_VALID_YEAR} : {when} (contrat {label})"
            else:
                rule = f"{date_key} dans le futur"
                message = f"date postérieure au jour de lecture : {when} (contrat {label})"
        ctx.entry(int(ordinals[i]), 0, True, where[i].as_py(), rule, message)
    return kept


_UNDERSCORE = pa.scalar("_", type=pa.large_string())


def _constant(text: str, n: int) -> pa.Array:
    """``text`` repeated ``n`` times."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    return pa.Array.from_buffers(pa.large_string(), n,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])


def _floats(values: np.ndarray) -> pa.Array:
    return pa.array(values, mask=np.isnan(values))


def marches(rec: Records, ctx: Context) -> Batch:
    """Apply every rule to a batch of raw marchés: the rows of ``contracts``, ``suppliers`` and
    ``modifications`` of the records kept, and the quarantine entries (in ``ctx``)."""
    out = Batch()
    n = len(rec.ordinals)
    if n == 0:
        return out
    entry = ctx.entry

    # Identity (rank 0), then what the parser found on the rows (rank 1).
    ident = texts(rec.ids)
    buyer_codes = ctx.buyers(rec.buyers)
    days, dated = dates(rec.notified)
    kept = identity(ctx, rec.ordinals, rec.where, ident, ctx.buyers.flags(buyer_codes, 2),
                    days, dated, rec.notified)
    for i, (rule, message) in sorted(rec.faults.items()):
        if kept[i]:
            entry(int(rec.ordinals[i]), 1, True, rec.where[i].as_py(), rule, message)
            kept[i] = False
    if not kept.all():
        if not kept.any():
            return out
        at = np.flatnonzero(kept)
        rec = rec.take(at)
        ident = ident.take(pa.array(at))
        buyer_codes, days = buyer_codes[at], days[at]
        n = len(at)
    ords = rec.ordinals.tolist()
    where_arr = _one(rec.where)

    def where(i: int) -> str:
        return where_arr[i].as_py()

    def label(i: int) -> str | None:
        return ident[i].as_py()

    for i, rule, message in rec.notes:
        entry(ords[i], 0, False, where(i), rule, message)

    # Considerations (rank 1), nature, procedure, CCAG, CPV.
    kinds = ctx.kinds
    kind_codes = kinds(rec.kinds)
    warnings = kinds._part(("warning",), lambda values: [v[SOCIAL_WARNING] for v in values],
                           lambda old, new: old + new)
    for i in np.flatnonzero(kinds._part(("has-warning",), lambda values: np.array(
            [v[SOCIAL_WARNING] is not None for v in values], dtype=bool),
            lambda old, new: np.concatenate([old, new]))[kind_codes]).tolist():
        entry(ords[i], 1, False, where(i), "considerationsSociales : valeur inconnue",
              warnings[kind_codes[i]])

    # Place of execution (rank 2).
    places = ctx.places
    place_codes = places(rec.places)
    for i in np.flatnonzero(places.flags(place_codes, 4)).tolist():
        code, _, dep, _, _ = places.values[place_codes[i]]
        entry(ords[i], 2, False, where(i), "lieuExecution : commune inconnue",
              f"code INSEE « {code} » absent de la géographie de référence "
              f"(contrat {label(i)}) : rattaché au département {dep}")

    # Amount (rank 3), duration.
    amount, unreadable = numbers(rec.amounts)
    duration, _ = numbers(rec.durations)
    for i in np.flatnonzero(unreadable).tolist():
        entry(ords[i], 3, False, where(i), "montant illisible",
              f"montant non numérique : {shown(rec.amounts, i)!r} (contrat {label(i)})")
    with np.errstate(invalid="ignore"):
        nonpositive = amount <= 0
    for i in np.flatnonzero(nonpositive).tolist():
        entry(ords[i], 3, False, where(i), "montant nul ou négatif",
              f"montant {amount[i]:g} (contrat {label(i)}) : exclu des sommes de montants")
    amount = np.where(nonpositive, np.nan, amount)

    # Buyer's SIRET (rank 4).
    for i in np.flatnonzero(~ctx.buyers.flags(buyer_codes, 1)).tolist():
        entry(ords[i], 4, False, where(i), "acheteur.id : SIRET invalide",
              f"{ctx.buyers.values[buyer_codes[i]][0]!r} n'est pas un SIRET valide (14 chiffres, "
              "clé de Luhn)")

    # Lists that are neither lists nor objects (rank 5: titulaires, 6: modifications).
    for i, name, value in rec.unreadable:
        rule, message = unreadable_list(name, value)
        entry(ords[i], 5 if name != "modifications" else 6, False, where(i), rule, message)

    # Suppliers' SIRET (rank 7, in the record's order).
    sup = rec.suppliers
    sup_ids, sup_types = texts(sup.ids), texts(sup.types)
    is_siret = pc.fill_null(pc.equal(sup_types, "SIRET"), False).to_numpy(zero_copy_only=False)
    for k in np.flatnonzero(is_siret & ~sirets_valid(sup_ids)).tolist():
        i = int(sup.positions[k])
        entry(ords[i], 7, False, where(i), "titulaire : SIRET invalide",
              f"{sup_ids[k].as_py()!r} n'est pas un SIRET valide (contrat {label(i)})")

    buyer_arr = ctx.buyers.strings(buyer_codes, 0)
    uid = pc.binary_join_element_wise(buyer_arr, ident, _UNDERSCORE)

    # Modifications (rank 8).
    amount_initial, duration_initial = amount, duration
    n_mods = (rec.n_modifications if rec.n_modifications is not None
              else np.zeros(n, dtype=np.int64))
    sup_pos = sup.positions
    if rec.modifications is not None and len(rec.modifications.positions):
        amount, duration, replacement, mods = _modifications(rec, ctx, uid, label, amount,
                                                              duration)
        if rec.n_modifications is None:
            n_mods = np.bincount(rec.modifications.positions, minlength=n).astype(np.int64)
        out.modifications.append(mods)
        if replacement is not None:  # the suppliers of a modification replace the record's
            replaced, new_pos, new_ids, new_types = replacement
            keep = ~replaced[sup_pos]
            every = np.concatenate([sup_pos[keep], new_pos])
            order = np.argsort(every, kind="stable")
            sup_pos = every[order]
            sup_ids = pa.concat_arrays([sup_ids.filter(pa.array(keep)), new_ids]).take(
                pa.array(order))
            sup_types = pa.concat_arrays([sup_types.filter(pa.array(keep)), new_types]).take(
                pa.array(order))
    if len(sup_pos):
        at = pa.array(sup_pos)
        out.suppliers.append(Piece({
            "uid": uid.take(at),
            "titulaire_id": sup_ids,
            "typeIdentifiant": sup_types,
            "source_file": _constant(ctx.path, len(sup_pos)),
            "source_record": where_arr.take(at),
        }, rec.ordinals[sup_pos]))

    pub_days, published = dates(rec.published)
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    formats = pa.array([FORMAT_2019, FORMAT], type=pa.large_string()).take(
        pa.array(rec.v2.astype(np.int8)))
    columns = {
        "uid": uid,
        "id": ident,
        "acheteur_id": buyer_arr,
        "objet": texts(rec.objets),
        "nature": kinds.strings(kind_codes, NATURE),
        "procedure": kinds.strings(kind_codes, PROCEDURE),
        "codeCPV": kinds.strings(kind_codes, CPV),
        "cpv_division": kinds.strings(kind_codes, CPV_DIVISION),
        "ccag": kinds.strings(kind_codes, CCAG),
        "montant": _floats(amount),
        "montant_initial": _floats(amount_initial),
        "dureeMois": _floats(duration),
        "dureeMois_initial": _floats(duration_initial),
        "dateNotification": pa.array(days * 86_400_000, type=pa.timestamp("ms")),
        "annee": pa.array(years, type=pa.int64()),
        "datePublicationDonnees": pa.array(pub_days * 86_400_000, type=pa.timestamp("ms"),
                                           mask=~published),
        "lieuExecution_code": places.strings(place_codes, 0),
        "lieuExecution_typeCode": places.strings(place_codes, 1),
        "departement_execution": places.strings(place_codes, 2),
        "region_execution": places.strings(place_codes, 3),
        "considerationsSociales": kinds.strings(kind_codes, SOCIAL),
        "clause_sociale": kinds.nullable(kind_codes, CLAUSE_F, SOCIAL_KNOWN),
        "critere_social": kinds.nullable(kind_codes, CRITERION_F, SOCIAL_KNOWN),
        "marche_reserve": kinds.nullable(kind_codes, RESERVED_F, SOCIAL_KNOWN),
        "has_social_consideration": kinds.nullable(kind_codes, HAS_SOCIAL, SOCIAL_KNOWN),
        "considerationsEnvironnementales": kinds.strings(kind_codes, ENV),
        "clause_environnementale": kinds.nullable(kind_codes, ENV_CLAUSE_F, ENV_KNOWN),
        "critere_environnemental": kinds.nullable(kind_codes, ENV_CRITERION_F, ENV_KNOWN),
        "has_environmental_consideration": kinds.nullable(kind_codes, HAS_ENV, ENV_KNOWN),
        "n_titulaires": pa.array(np.bincount(sup_pos, minlength=n).astype(np.int64)),
        "n_modifications": pa.array(n_mods.astype(np.int64)),
        "source_file": _constant(ctx.path, n),
        "source_record": where_arr,
        "format": formats,
        **rec.extra,
    }
    out.contracts.append(Piece(columns, rec.ordinals))
    return out


def _modifications(rec: Records, ctx: Context, uid: pa.Array, label: Callable[[int], Any],
                   amount: np.ndarray, duration: np.ndarray):
    """Apply the modifications of the records, in order: a positive amount or duration replaces
    the current one (a null or negative one is reported and ignored); the suppliers of the last
    modification naming any replace the record's. Returns the final amounts and durations, the
    replacement suppliers (or ``None``) and the rows of the ``modifications`` table."""
    mods = rec.modifications
    n, m = len(rec.ordinals), len(mods.positions)
    pos = mods.positions
    number = np.arange(m) - np.searchsorted(pos, pos, side="left") + 1  # 1, 2… per record
    mod_amount, _ = numbers(mods.amounts)
    mod_duration, _ = numbers(mods.durations)
    with np.errstate(invalid="ignore"):
        bad_amount, bad_duration = mod_amount <= 0, mod_duration <= 0
    for k in np.flatnonzero(bad_amount | bad_duration).tolist():
        i = int(pos[k])
        where = rec.where[i].as_py()
        if bad_amount[k]:
            ctx.entry(int(rec.ordinals[i]), 8, False, where, "montant nul ou négatif",
                      f"modification {number[k]} : montant {mod_amount[k]:g} ignoré "
                      f"(contrat {label(i)})")
        if bad_duration[k]:
            ctx.entry(int(rec.ordinals[i]), 8, False, where, "durée nulle ou négative",
                      f"modification {number[k]} : durée {mod_duration[k]:g} mois ignorée "
                      f"(contrat {label(i)})")
    mod_amount[bad_amount] = np.nan
    mod_duration[bad_duration] = np.nan

    def last(valid: np.ndarray) -> np.ndarray:
        """The last modification of each record where ``valid`` (-1: none)."""
        found = np.full(n, -1, dtype=np.int64)
        at = np.flatnonzero(valid)
        np.maximum.at(found, pos[at], at)
        return found

    amount, duration = amount.copy(), duration.copy()
    for values, final in ((mod_amount, amount), (mod_duration, duration)):
        chosen = last(~np.isnan(values))
        has = chosen >= 0
        final[has] = values[chosen[has]]

    children = mods.suppliers
    per_mod = np.bincount(children.positions, minlength=m).astype(np.int64)
    replacement = None
    chosen = last(per_mod > 0)
    if (chosen >= 0).any():
        replaced = chosen >= 0
        source_mod = np.full(m, -1, dtype=np.int64)
        source_mod[chosen[replaced]] = np.flatnonzero(replaced)
        take = np.flatnonzero(source_mod[children.positions] >= 0)
        replacement = (replaced, source_mod[children.positions[take]],
                       texts(_take(children.ids, take)), texts(_take(children.types, take)))

    ident = texts(mods.ids)
    if ident.null_count:
        ident = pc.coalesce(ident, pa.array(number.astype(str).tolist(), type=pa.large_string()))
    notified, dated = dates(mods.notified)
    published, public = dates(mods.published)
    at = pa.array(pos)
    piece = Piece({
        "uid": uid.take(at),
        "modification_id": ident,
        "dateNotificationModification": pa.array(notified * 86_400_000,
                                                 type=pa.timestamp("ms"), mask=~dated),
        "datePublicationDonneesModification": pa.array(published * 86_400_000,
                                                       type=pa.timestamp("ms"), mask=~public),
        "montant": _floats(mod_amount),
        "dureeMois": _floats(mod_duration),
        "n_titulaires": pa.array(per_mod),
        "source_file": _constant(ctx.path, m),
        "source_record": _one(rec.where).take(at),
    }, rec.ordinals[pos])
    return amount, duration, replacement, piece


def concessions(ctx: Context, items: list[tuple[int, str, dict]],
                titulaires: Callable[[Any], list], modifications: Callable[[Any], list]) -> list:
    """Apply the rules to concessions (rare: one at a time): ``items`` are (ordinal, label,
    record as JSON gives it); returns (ordinal, row) of the ``concessions`` table.
    ``titulaires`` and ``modifications`` read those lists as the parser reads them."""
    if not items:
        return []
    ordinals = np.array([o for o, _, _ in items], dtype=np.int64)
    where = pa.array([w for _, w, _ in items], type=pa.large_string())
    records = [r for _, _, r in items]
    ident = texts([r.get("id") for r in records])
    owners = [r.get("autoriteConcedante") for r in records]
    owner_ids = texts([o.get("id") if isinstance(o, dict) else o for o in owners])
    raw_dates = [r.get("dateSignature") for r in records]
    days, dated = dates(raw_dates)
    kept = identity(ctx, ordinals, where, ident, np.asarray(owner_ids.is_valid()), days, dated,
                    raw_dates, "autoriteConcedante", "dateSignature")
    out = []
    for i in np.flatnonzero(kept).tolist():
        record, ordinal, label = records[i], int(ordinals[i]), where[i].as_py()
        social = parse_considerations(record.get("considerationsSociales"),
                                      "considerationSociale", _SOCIAL_VALUES)
        message = social_warning(social)
        if message:
            ctx.entry(ordinal, 1, False, label, "considerationsSociales : valeur inconnue",
                      message)
        for rank, name in ((5, "concessionnaires"), (6, "modifications")):
            value = record.get(name)
            if value is not None and not isinstance(value, (list, dict)):
                ctx.entry(ordinal, rank, False, label, *unreadable_list(name, value))
        value = _number(record.get("valeurGlobale"))
        duration = _number(record.get("dureeMois"))
        mods = modifications(record.get("modifications"))
        for mod in mods:
            value = _number(mod.get("valeurGlobale")) if mod.get("valeurGlobale") is not None \
                else value
            duration = _number(mod.get("dureeMois")) if mod.get("dureeMois") is not None \
                else duration
        signed = date.fromordinal(_EPOCH.toordinal() + int(days[i]))
        out.append((ordinal, {
            "uid": f"{owner_ids[i].as_py()}_{ident[i].as_py()}",
            "id": ident[i].as_py(),
            "autoriteConcedante_id": owner_ids[i].as_py(),
            "objet": _text(record.get("objet")),
            "nature": _text(record.get("nature")),
            "procedure": _text(record.get("procedure")),
            "valeurGlobale": value,
            "dureeMois": duration,
            "dateSignature": signed,
            "annee": signed.year,
            "datePublicationDonnees": _date(record.get("datePublicationDonnees")),
            "considerationsSociales": ", ".join(social.values) if social.known else None,
            "has_social_consideration": (NONE not in social.values) if social.known else None,
            "n_concessionnaires": len(titulaires(record.get("concessionnaires"))),
            "n_modifications": len(mods),
            "source_file": ctx.path,
            "source_record": label,
            "format": FORMAT,
        }))
    return out
