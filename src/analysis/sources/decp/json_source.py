"""DECP JSON files → batches of raw records (:class:`.rules.Records`).

Survives the shapes real publications take (``docs/input_formats.md``, § decp):

* ``{"marches": {"marche": [...], "contrat-concession": [...]}}`` (the schema's form) and
  ``{"marches": [...]}`` (a plain list, marchés and concessions mixed), or a bare top-level list;
* ``considerationsSociales`` nested (``{"considerationSociale": [...]}``), flat (``[...]``), a single
  string, or an empty list;
* ``titulaires`` as ``[{"titulaire": {...}}]`` or ``[{...}]``;
* ``dureeMois`` and ``montant`` given as text; identifiers given as numbers.

How a file is parsed:

1. the file is mapped (``mmap``), checked to be UTF-8 (Arrow's validator) and its records are
   located without being decoded (``msgspec.Raw``);
2. records are decoded by batches into typed ``msgspec`` structures that accept the ordinary
   shapes of each field, and their fields become the columns of the raw frame;
3. a record the structures do not accept (a date that is not ``YYYY-MM-DD``, a list where an
   object is expected…) and every concession are parsed again on their own with ``json`` (or
   ``ijson`` on files over :data:`STREAM_THRESHOLD`) and their fields taken from the parsed
   values: the slower path, into the same columns, through the same rules.

Whenever the file itself is not an ordinary DECP document — not UTF-8, not JSON, not shaped
``{"marches": {...}}``, ``{"marches": [...]}`` or ``[...]`` — the whole file is parsed with
``json`` (or incrementally with ``ijson``), which names the problem (:class:`SourceFileError`).
"""

from __future__ import annotations

import gc
import io
import json
import math
import mmap
import re
from datetime import date
from operator import attrgetter
from pathlib import Path
from typing import Annotated, Any, Iterator, Union

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET, Raw, UnsetType

from ... import workers
from ..base import SourceFileError
from . import rules
from .rules import Children, Context, Modifications, Records, _date, _fold, _number
from .tables import (CONCESSION_COLUMNS, CONTRACT_COLUMNS, MODIFICATION_COLUMNS,
                     SUPPLIER_COLUMNS, Batch, Chunks, DecpFile, arrow_pool, rows)

#: Files larger than this are parsed incrementally (ijson) instead of loaded whole.
STREAM_THRESHOLD = 64 * 1024 * 1024
#: Records decoded at a time: bounds the memory held by decoded structures.
BATCH = 5_000
#: Files larger than this are read with helper processes, by tasks of this many records.
SHARE_THRESHOLD = 64 * 1024 * 1024
TASK_RECORDS = 50_000

_INT64 = 1 << 63


class _Fallback(Exception):
    """The file must be parsed whole with ``json`` / ``ijson``."""


# --- Parsing with json / ijson -------------------------------------------------------------------

def load_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into a :class:`SourceFileError` naming the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise SourceFileError(path, f"illisible ({exc.strerror})") from exc
    if not raw.strip():
        raise SourceFileError(path, "fichier vide")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFileError(
            path, f"encodage invalide : pas de l'UTF-8 (octet {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceFileError(
            path, f"JSON invalide ligne {exc.lineno}, colonne {exc.colno} : {exc.msg}") from exc


def _kind_of(record: Any) -> str:
    """In a plain list, a concession is told apart by its ``autoriteConcedante`` (or ``_type``)."""
    if isinstance(record, dict) and (
        "autoriteConcedante" in record
        or _fold(str(record.get("_type", ""))).startswith("contrat de concession")
    ):
        return "concession"
    return "marche"


def iter_records(document: Any, path: Path | str) -> Iterator[tuple[str, int, Any]]:
    """Yield ``(kind, index, record)`` for every record of a DECP JSON document.

    ``kind`` is ``"marche"`` or ``"concession"``; in a plain list a concession is told apart by
    its ``autoriteConcedante`` (or ``_type``).
    """
    if isinstance(document, dict) and "marches" in document:
        body = document["marches"]
    elif isinstance(document, list):
        body = document
    else:
        raise SourceFileError(path, "pas un fichier DECP : clé « marches » absente")
    if isinstance(body, dict):
        unknown = set(body) - {"marche", "contrat-concession"}
        if not {"marche", "contrat-concession"} & set(body):
            raise SourceFileError(
                path, f"pas un fichier DECP : « marches » ne contient ni « marche » ni "
                f"« contrat-concession » (clés : {', '.join(sorted(unknown)) or 'aucune'})")
        for index, record in enumerate(body.get("marche") or []):
            yield "marche", index, record
        for index, record in enumerate(body.get("contrat-concession") or []):
            yield "concession", index, record
    elif isinstance(body, list):
        for index, record in enumerate(body):
            yield _kind_of(record), index, record
    else:
        raise SourceFileError(path, "pas un fichier DECP : « marches » n'est ni un objet ni une liste")


def _peek_shape(path: Path) -> str:
    """``"object"`` for ``{"marches": {...}}``, ``"list"`` for ``{"marches": [...]}``, ``"array"``
    for a top-level list, read from the first bytes of the file."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16).decode("utf-8-sig", errors="replace").lstrip()
    if head.startswith("["):
        return "array"
    match = re.search(r'"marches"\s*:\s*([\[{])', head)
    if not match:
        raise SourceFileError(path, "pas un fichier DECP : clé « marches » absente du début du fichier")
    return "object" if match.group(1) == "{" else "list"


def stream_records(path: Path) -> Iterator[tuple[str, int, Any]]:
    """Like :func:`iter_records`, but parsing the file incrementally: memory does not grow with
    the file's size. Numbers come as floats, as with :func:`json.load`."""
    import ijson

    shape = _peek_shape(path)
    prefixes = {"object": [("marche", "marches.marche.item"),
                           ("concession", "marches.contrat-concession.item")],
                "list": [(None, "marches.item")], "array": [(None, "item")]}[shape]
    try:
        for kind, prefix in prefixes:
            with open(path, "rb") as handle:
                if handle.read(3) != b"\xef\xbb\xbf":  # skip a UTF-8 byte-order mark
                    handle.seek(0)
                for index, record in enumerate(ijson.items(handle, prefix, use_float=True)):
                    yield kind or _kind_of(record), index, record
    except ijson.JSONError as exc:
        raise SourceFileError(path, f"JSON invalide : {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourceFileError(path, f"encodage invalide : pas de l'UTF-8 (octet {exc.start})") from exc


# --- Fields of parsed records --------------------------------------------------------------------

def _items(value: Any) -> list[Any]:
    """A list field as a list: one object stands for a list of one; anything else (a number, a
    string) holds no item (reported as unreadable)."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def titulaires(value: Any) -> list[tuple[Any, Any]]:
    """(id, typeIdentifiant) of each supplier of a ``titulaires`` (or ``concessionnaires``)
    value: ``{"titulaire": {...}}``, ``{"concessionnaire": {...}}`` or the supplier itself."""
    out = []
    for item in _items(value):
        if isinstance(item, dict):
            inner = item.get("titulaire") or item.get("concessionnaire") or item
            if isinstance(inner, dict):
                out.append((inner.get("id"), inner.get("typeIdentifiant")))
    return out


def modifications(value: Any) -> list[dict[str, Any]]:
    """The modifications of a record, in the order they apply: by ``id``, then publication."""
    mods = []
    for item in _items(value):
        if isinstance(item, dict):
            mod = item.get("modification", item)
            if isinstance(mod, dict):
                mods.append(mod)

    def order(mod: dict[str, Any]) -> tuple:
        ident = _number(mod.get("id"))
        published = _date(mod.get("datePublicationDonneesModification")) or date.min
        return (ident if ident is not None else float("inf"), published)

    return sorted(mods, key=order)


class _Mods:
    """Modifications of a batch's records, gathered as columns."""

    def __init__(self):
        self.positions: list[int] = []
        self.ids: list = []
        self.amounts: list = []
        self.durations: list = []
        self.notified: list = []
        self.published: list = []
        self.sup_positions: list[int] = []
        self.sup_ids: list = []
        self.sup_types: list = []

    def add(self, position: int, mods: list[dict]) -> None:
        for mod in mods:
            k = len(self.positions)
            self.positions.append(position)
            self.ids.append(mod.get("id"))
            self.amounts.append(mod.get("montant"))
            self.durations.append(mod.get("dureeMois"))
            self.notified.append(mod.get("dateNotificationModification"))
            self.published.append(mod.get("datePublicationDonneesModification"))
            for ident, kind in titulaires(mod.get("titulaires")):
                self.sup_positions.append(k)
                self.sup_ids.append(ident)
                self.sup_types.append(kind)

    def frame(self) -> Modifications | None:
        if not self.positions:
            return None
        return Modifications(np.array(self.positions, dtype=np.int64), self.ids, self.amounts,
                             self.durations, self.notified, self.published,
                             Children(np.array(self.sup_positions, dtype=np.int64),
                                      self.sup_ids, self.sup_types))


def _wheres(kind: str, indexes) -> pa.Array:
    return pa.array([f"{kind}[{i}]" for i in indexes], type=pa.large_string())


def _parsed_records(items: list[tuple[int, str, int, dict]]) -> Records:
    """Marchés parsed by ``json`` / ``ijson`` (dictionaries) as raw columns."""
    ordinals = np.array([o for o, _, _, _ in items], dtype=np.int64)
    where = pa.array([f"{k}[{i}]" for _, k, i, _ in items], type=pa.large_string())
    records = [r for *_, r in items]
    get = lambda name: [r.get(name) for r in records]  # noqa: E731
    owners = get("acheteur")
    places = [r.get("lieuExecution") if isinstance(r.get("lieuExecution"), dict) else {}
              for r in records]
    sup_pos, sup_ids, sup_types, unreadable = [], [], [], []
    mods = _Mods()
    for i, record in enumerate(records):
        for name in ("titulaires", "modifications"):
            value = record.get(name)
            if value is not None and not isinstance(value, (list, dict)):
                unreadable.append((i, name, value))
        for ident, kind in titulaires(record.get("titulaires")):
            sup_pos.append(i)
            sup_ids.append(ident)
            sup_types.append(kind)
        mods.add(i, modifications(record.get("modifications")))
    return Records(
        ordinals, where, get("id"), [o.get("id") if isinstance(o, dict) else o for o in owners],
        get("dateNotification"), get("datePublicationDonnees"), get("montant"),
        get("dureeMois"), get("objet"),
        [(r.get("nature"), r.get("procedure"), r.get("ccag"), r.get("codeCPV"),
          r.get("considerationsSociales"), r.get("considerationsEnvironnementales"))
         for r in records],
        [(p.get("code"), p.get("typeCode")) for p in places],
        np.array([bool(rules.V2_FIELDS & r.keys()) for r in records], dtype=bool),
        Children(np.array(sup_pos, dtype=np.int64), sup_ids, sup_types),
        mods.frame(), None, unreadable)


def parsed_batch(ctx: Context, items: list[tuple[int, str, int, Any]]) -> Batch:
    """Apply the rules to records parsed by ``json`` / ``ijson``: (ordinal, kind, index, value)."""
    batch = Batch()
    marches, concessions = [], []
    for ordinal, kind, index, record in items:
        if not isinstance(record, dict):
            rules.not_an_object(ctx, ordinal, f"{kind}[{index}]")
        elif kind == "marche":
            marches.append((ordinal, kind, index, record))
        else:
            concessions.append((ordinal, f"{kind}[{index}]", record))
    batch.concessions = rules.concessions(ctx, concessions, titulaires, modifications)
    if marches:
        done = rules.marches(_parsed_records(marches), ctx)
        batch.contracts, batch.suppliers = done.contracts, done.suppliers
        batch.modifications = done.modifications
    return batch


# --- Typed structures (the usual path) -----------------------------------------------------------

#: Integers ``ijson`` (the parser of large files) can hold: a larger one is a record for the
#: slower path, which reads it (``json``) or refuses the file (``ijson``).
Int = Annotated[int, msgspec.Meta(ge=-_INT64, le=_INT64 - 1)]
Scalar = Union[str, Int, float, bool, None]
Number = Union[Int, float, str, None]
#: ``YYYY-MM-DD`` (what ``_date`` reads the same way); another text is a record for the slower
#: path.
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
    # Only whether they are there matters (V2_FIELDS, or the kind in a plain list).
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
                         "ccag"} == rules.V2_FIELDS


class _Body(msgspec.Struct):
    marche: Union[list[Raw], None, UnsetType] = UNSET
    concession: Union[list[Raw], None, UnsetType] = msgspec.field(default=UNSET,
                                                                   name="contrat-concession")


class _Document(msgspec.Struct):
    marches: Union[_Body, list[Raw]]


_TOP = msgspec.json.Decoder(Union[_Document, list[Raw]])
_RECORD = msgspec.json.Decoder(_Marche)
_ANY = msgspec.json.Decoder().decode


def _to_json(value: Any) -> Any:
    """A decoded value as ``json`` gives it (absent: ``None``)."""
    if value is UNSET:
        return None
    cls = value.__class__
    if cls is _Social or cls is _Environmental:
        inner = "considerationSociale" if cls is _Social else "considerationEnvironnementale"
        return {} if value.items is UNSET else {inner: _to_json(value.items)}
    if cls is tuple:
        return list(value)
    return value


rules.declare_plain(UnsetType, lambda value: True)
rules.declare_plain(_Social, lambda value: value.items is UNSET or rules._plain(value.items))
rules.declare_plain(_Environmental,
                    lambda value: value.items is UNSET or rules._plain(value.items))

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


def _column(records: list, name: str) -> list:
    """A field of every record."""
    return list(map(attrgetter(name), records))


#: The fields of a marché with few distinct values, read together (one lookup per record).
_KIND_FIELDS = attrgetter("nature", "procedure", "ccag", "codeCPV", "considerationsSociales",
                          "considerationsEnvironnementales")

_OPEN = pa.scalar("marche[", type=pa.large_string())
_CLOSE = pa.scalar("]", type=pa.large_string())
_EMPTY = pa.scalar("", type=pa.large_string())
_AMBIGUOUS = object()
_OTHER = object()


def _supplier(item: _Supplier):
    """``item.get("titulaire") or item.get("concessionnaire") or item``, then its id and type
    (:func:`titulaires`): ``(id, type)``, ``None`` (no supplier) or ``_AMBIGUOUS`` (an object
    without any of the keys read: empty — false — or not, which the structures do not tell)."""
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


def _suppliers(records: list) -> tuple[Children, dict, set]:
    """The suppliers of decoded records as :func:`titulaires` reads them; the records whose
    ``titulaires`` is neither a list nor an object; those to parse the slower way."""
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
    return Children(positions, ids, types), unreadable, ambiguous


class _Reader:
    """Reads the records of one mapped file by batches (see the module's docstring)."""

    def __init__(self, ctx: Context, stream: bool):
        self.ctx = ctx
        self.stream = stream

    def _parse(self, raw: Raw) -> Any:
        """One record as ``json`` (or ``ijson``) gives it."""
        data = bytes(raw)
        try:
            if self.stream:
                import ijson

                return next(iter(ijson.items(io.BytesIO(data), "", use_float=True)))
            return json.loads(data.decode("utf-8"))
        except Exception as exc:  # the file would fail as a whole: let the parser say how
            raise _Fallback(str(exc)) from exc

    def batch(self, raws: list, kind: str | None, first_index: int, first_ordinal: int) -> Batch:
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
        suppliers, unreadable, ambiguous = _suppliers(records)
        if ambiguous:
            odd = sorted(odd + [fast[i] for i in ambiguous])
            fast = [j for i, j in enumerate(fast) if i not in ambiguous]
            records = [r for i, r in enumerate(records) if i not in ambiguous]
            suppliers, unreadable, _ = _suppliers(records)
        items = []
        for j in odd:
            value = self._parse(raws[j])
            items.append((first_ordinal + j, kind or _kind_of(value), first_index + j, value))
        batch = parsed_batch(self.ctx, items)
        if records:
            fast_at = np.array(fast, dtype=np.int64)
            # Modifications parsed for every record (in stream mode, a number ijson cannot
            # hold makes the file fail even in a record that is rejected).
            done = rules.marches(self._records(records, suppliers, unreadable,
                                               fast_at + first_index, fast_at + first_ordinal),
                                 self.ctx)
            batch.contracts += done.contracts
            batch.suppliers += done.suppliers
            batch.modifications += done.modifications
        return batch

    def _records(self, records: list, suppliers: Children, unreadable: dict,
                 indexes: np.ndarray, ordinals: np.ndarray) -> Records:
        n = len(records)
        kinds = list(map(_KIND_FIELDS, records))
        v2 = np.array([k[2] is not UNSET or k[4] is not UNSET or k[5] is not UNSET
                       for k in kinds], dtype=bool)
        if not v2.all():
            for name in _PRESENCE:
                column = _column(records, name)
                absent = column.count(_NO_RAW)
                if absent == 0:
                    v2[:] = True
                    break
                if absent < n:
                    v2 |= np.array([v is not _NO_RAW for v in column], dtype=bool)
        lists = [(i, "titulaires", value) for i, value in unreadable.items()]
        mods = _Mods()
        for i, value in self._modifications(records):
            if not isinstance(value, (list, dict)):
                lists.append((i, "modifications", value))
            mods.add(i, modifications(value))
        lists.sort(key=lambda item: item[0])
        where = pc.binary_join_element_wise(
            _OPEN, pa.array(indexes).cast(pa.large_string()), _CLOSE, _EMPTY)
        return Records(
            ordinals, where, _column(records, "id"),
            [b.id if b.__class__ is _Buyer else b for b in _column(records, "acheteur")],
            _column(records, "dateNotification"), _column(records, "datePublicationDonnees"),
            _column(records, "montant"), _column(records, "dureeMois"),
            _column(records, "objet"), kinds,
            [(p.code, p.typeCode) if p.__class__ is _Place else (None, None)
             for p in _column(records, "lieuExecution")],
            v2, suppliers, mods.frame(), None, lists)

    def _modifications(self, records: list) -> list[tuple[int, Any]]:
        """(position, ``modifications`` as ``json`` gives it) of the records that have one."""
        raws = _column(records, "modifications")
        if raws.count(_NO_RAW) == len(raws):
            return []
        out = []
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
            if value is not None:
                out.append((i, value))
        return out

    @staticmethod
    def _concessions(records: list) -> set[int]:
        """Positions of the concessions (:func:`_kind_of`) among records of a plain list."""
        found: set[int] = set()
        owners = _column(records, "autoriteConcedante")
        if owners.count(_NO_RAW) != len(owners):
            found.update(i for i, v in enumerate(owners) if v is not _NO_RAW)
        kinds = _column(records, "kind")
        if kinds.count(UNSET) != len(kinds):
            found.update(i for i, v in enumerate(kinds) if v is not UNSET
                         and _fold(str(v)).startswith("contrat de concession"))
        return found


def _segments(path: Path, mapped: mmap.mmap, view: memoryview,
              stream: bool) -> list[tuple[list, str | None]]:
    """The records' raw texts, by list, as :func:`iter_records` (or :func:`stream_records`)
    yields them; raises :class:`_Fallback` for anything but an ordinary document."""
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
        try:
            peeked = _peek_shape(path)
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


def _map(path: Path) -> mmap.mmap:
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise _Fallback(str(exc)) from exc
    with handle:
        try:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError) as exc:  # empty file, not a regular file
            raise _Fallback(str(exc)) from exc


def _read_mapped(path: Path, ctx: Context, chunks: Chunks, stream: bool,
                 pool: workers.Helpers | None = None) -> int:
    """Read the file through the structures; the number of records read.

    With helper processes (``pool``), the records are read in tasks of :data:`TASK_RECORDS`,
    each ending a chunk of the frames, shared with the helpers (:func:`_helper_task`)."""
    mapped = _map(path)
    try:
        view = memoryview(mapped)[3 if mapped[:3] == b"\xef\xbb\xbf" else 0:]  # byte-order mark
        if not _utf8(view):
            raise _Fallback("pas de l'UTF-8")
        reader = _Reader(ctx, stream)
        segments = _segments(path, mapped, view, stream)
        ordinal = 0
        if pool is None or not pool.count or sum(len(raws) for raws, _ in segments) \
                <= TASK_RECORDS:
            for raws, kind in segments:
                for first in range(0, len(raws), BATCH):
                    batch = raws[first:first + BATCH]
                    chunks.add(reader.batch(batch, kind, first, ordinal))
                    ordinal += len(batch)
        else:
            ordinal = _share(mapped, segments, reader, chunks, pool)
        del segments, view
        return ordinal
    finally:
        try:
            mapped.close()
        except BufferError:  # a view still exported: closed when released
            pass


def _share(mapped: mmap.mmap, segments: list, reader: "_Reader", chunks: Chunks,
           pool: workers.Helpers) -> int:
    """The records in tasks shared with helper processes; the number of records read."""
    result, ctx = chunks.result, reader.ctx
    base = np.frombuffer(mapped, dtype=np.uint8).ctypes.data
    tasks = []  # (segment, first, stop, first ordinal)
    ordinal = 0
    for number, (raws, kind) in enumerate(segments):
        tasks += [(number, first, min(first + TASK_RECORDS, len(raws)), ordinal + first)
                  for first in range(0, len(raws), TASK_RECORDS)]
        ordinal += len(raws)

    def spec(k: int) -> tuple:
        number, first, stop, at = tasks[k]
        raws = segments[number][0]
        start = np.frombuffer(raws[first], dtype=np.uint8).ctypes.data - base
        end = np.frombuffer(raws[stop - 1], dtype=np.uint8).ctypes.data - base \
            + len(raws[stop - 1])
        return start, end, stop - first, segments[number][1], first, at

    def here(k: int) -> tuple:
        number, first, stop, at = tasks[k]
        raws, kind = segments[number]
        return _task(reader, raws[first:stop], kind, first, at, result.compact, chunks.size), []

    # Each task ends a chunk of the frames; they are added in the tasks' order.
    for _, (done, entries) in pool.in_order(len(tasks), here, _helper_task, spec):
        result.add(done)
        ctx.add_entries(entries)
    return ordinal


def _task(reader: "_Reader", raws: list, kind: str | None, first: int, ordinal: int,
          compact: bool, chunk_size: int) -> DecpFile:
    """Records ``raws`` (the ``first``-th of their list onwards) read on their own, by batches:
    their frames, in chunks of at most ``chunk_size`` contracts, the last one ending with the
    task."""
    done = DecpFile(path=reader.ctx.path, compact=compact)
    chunks = Chunks(done, chunk_size, CONTRACT_COLUMNS)
    for at in range(0, len(raws), BATCH):
        chunks.add(reader.batch(raws[at:at + BATCH], kind, first + at, ordinal + at))
    chunks.close()
    return done


#: What a helper process inherits of the reading that forked it (see :mod:`analysis.workers`).
_HELPER: dict[str, Any] = {}
_RAWS = msgspec.json.Decoder(list[Raw])


def _helper_start() -> None:
    """In a helper process: its own mapping of the file; no quarantine entry of the reading
    that forked it (its entries go back with each task)."""
    _HELPER["mapped"] = _map(_HELPER["path"])
    _HELPER["reader"].ctx.entries = []


def _helper_task(spec: tuple) -> tuple:
    """In a helper process: one task's records (located by their bytes in the file) into
    frames; what the reading needs of them."""
    start, end, count, kind, first, ordinal = spec
    reader = _HELPER["reader"]
    mapped = _HELPER["mapped"]
    raws = _RAWS.decode(b"[" + mapped[start:end] + b"]")
    if len(raws) != count:
        raise _Fallback("enregistrements relus en nombre différent")
    with arrow_pool():
        done = _task(reader, raws, kind, first, ordinal, _HELPER["compact"],
                     _HELPER["chunk_size"])
    entries, reader.ctx.entries = reader.ctx.entries, []
    return done, entries


def _read_parsed(path: Path, ctx: Context, chunks: Chunks, stream: bool) -> int:
    """Read the file parsed whole by ``json`` (or incrementally by ``ijson``)."""
    if stream:
        with open(path, "rb") as handle:
            if not handle.read(4096).strip():
                raise SourceFileError(path, "fichier vide")
        records = stream_records(path)
    else:
        records = iter_records(load_json(path), path)
    ordinal, items = 0, []
    for kind, index, record in records:
        items.append((ordinal, kind, index, record))
        ordinal += 1
        if len(items) >= BATCH:
            chunks.add(parsed_batch(ctx, items))
            items = []
    chunks.add(parsed_batch(ctx, items))
    return ordinal


def read_decp_json(path: Path | str, today: date | None = None,
                   stream: bool | None = None, communes: set[str] | None = None,
                   chunk_size: int | None = None, fast: bool = True,
                   source_name: str | None = None, compact: bool = False,
                   helpers: int | None = None) -> DecpFile:
    """Read one DECP JSON file.

    Parameters
    ----------
    path
        The file.
    today
        Dates after this day are rejected (default: the real date).
    stream
        Parse incrementally (``ijson``) where the structures cannot; default: for files over
        :data:`STREAM_THRESHOLD`.
    communes
        The région observed's INSEE codes: a « Code commune » place of execution in one of its
        départements but absent from them is reported (the contract is kept).
    chunk_size
        If given, the rows are returned as typed frames (``frames``), cut every ``chunk_size``
        contracts (as the build reads them); otherwise as row dictionaries (``contracts``…).
    fast
        Decode records through the typed structures (the default); ``False`` parses every
        record with ``json`` / ``ijson`` (the same rules, the same result, slower).
    source_name
        The file's name in ``source_file`` and the quarantine (default: ``path``).
    compact
        Hold the contracts' repeated texts as categories in ``frames`` (see
        :func:`.tables.compact_table`; the build's reading, :func:`.tables.restore_frame`
        undoes it).
    helpers
        Helper processes that read tasks of :data:`TASK_RECORDS` records while this process
        reads others (see :mod:`analysis.workers`; default: :func:`.workers.helper_count` for
        files over :data:`SHARE_THRESHOLD`, none otherwise). The tables and the quarantine are
        the same whatever their number; only where the frames are cut into chunks differs
        (each task ends one).

    Returns
    -------
    DecpFile
        Normalised rows (not yet deduplicated across files) and the file's quarantine.

    Raises
    ------
    SourceFileError
        When the file is not JSON, not UTF-8, or not shaped like DECP.
    """
    path = Path(path)
    today = today or date.today()
    if stream is None:
        stream = path.is_file() and path.stat().st_size > STREAM_THRESHOLD
    # Millions of small acyclic objects, nothing for the cyclic collector to find.
    collecting = gc.isenabled()
    gc.disable()
    try:
        result = ctx = None
        if fast:
            result = DecpFile(path=str(path), communes=communes, compact=compact)
            ctx = Context(source_name or str(path), today, communes, _to_json)
            chunks = Chunks(result, chunk_size, CONTRACT_COLUMNS)
            if helpers is None:
                helpers = workers.helper_count() if path.is_file() \
                    and path.stat().st_size > SHARE_THRESHOLD else 0
            # What a helper forks with: the file, the rules' context, how to cut the frames.
            _HELPER.update(path=path, reader=_Reader(ctx, stream), compact=compact,
                           chunk_size=chunks.size)
            try:
                with workers.Helpers(helpers, _helper_start) as pool:
                    _HELPER.clear()
                    result.read = _read_mapped(path, ctx, chunks, stream, pool)
            except _Fallback:
                result = None
            finally:
                _HELPER.clear()
        if result is None:
            result = DecpFile(path=str(path), communes=communes, compact=compact)
            ctx = Context(source_name or str(path), today, communes, _to_json)
            chunks = Chunks(result, chunk_size, CONTRACT_COLUMNS)
            result.read = _read_parsed(path, ctx, chunks, stream)
        chunks.close()
    finally:
        if collecting:
            gc.enable()
    result.quarantine.rejects, result.quarantine.warnings = ctx.sorted_entries()
    if not chunk_size:
        as_rows(result)
    return result


def as_rows(result: DecpFile) -> None:
    """Move the frames of ``result`` into row dictionaries (``contracts``, ``suppliers``…)."""
    for name, columns in (("contracts", None), ("suppliers", SUPPLIER_COLUMNS),
                          ("modifications", MODIFICATION_COLUMNS),
                          ("concessions", CONCESSION_COLUMNS)):
        frames = result.frames[name]
        if frames:
            getattr(result, name).extend(rows(pd.concat(frames, ignore_index=True)))
        result.frames[name] = []
    result.produced = 0
