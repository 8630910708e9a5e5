"""The reference DECP JSON reader, one record at a time: the specification of the pipeline.

Frozen copy of ``analysis.sources.decp`` as it was before the pipeline (``analysis.sources.decp``:
parse → rules → tables) replaced it: ``tests/test_decp_fast.py`` checks that the pipeline gives
exactly its frames, counts and quarantine on every input. Not used by the application.

Original description:

Survives the shapes real publications take (``docs/input_formats.md``, § decp):

* ``{"marches": {"marche": [...], "contrat-concession": [...]}}`` (the schema's form) and
  ``{"marches": [...]}`` (a plain list, marchés and concessions mixed), or a bare top-level list;
* ``considerationsSociales`` nested (``{"considerationSociale": [...]}``), flat (``[...]``), a single
  string, or an empty list;
* ``titulaires`` as ``[{"titulaire": {...}}]`` or ``[{...}]``;
* ``dureeMois`` and ``montant`` given as text; identifiers given as numbers.

A contract's social status is *unknown* (``has_social_consideration`` is missing) when the record
says nothing usable: no ``considerationsSociales`` key, an empty list, or only unrecognised values.
It is never read as *without* a social consideration unless the record says so.

Concessions (``contrat-concession``) are recognised and kept apart in their own table.

The per-record reader below (:func:`read_record`) is the reference. With ``chunk_size`` (as the
build reads), :func:`read_decp_json` reads by columns instead (:mod:`.decp_fast`): the same frames
and quarantine, several times faster.
"""

from __future__ import annotations

import functools
import gc
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from analysis.identifiers import siret_valid
from analysis.sources.base import Quarantine, SourceFileError

SOURCE = "decp"
FORMAT = "decp-v2-json"
FORMAT_2019 = "decp-2019-json"
#: Fields only the v2 format (2024) has; a record with none of them is read as the 2019 format,
#: whose contracts cannot say whether they carry a social consideration.
V2_FIELDS = frozenset({"considerationsSociales", "considerationsEnvironnementales", "techniques",
                       "modalitesExecution", "marcheInnovant", "ccag", "offresRecues",
                       "attributionAvance", "typeGroupementOperateurs", "sousTraitanceDeclaree",
                       "typesPrix", "origineUE", "origineFrance"})
#: Files larger than this are parsed incrementally (ijson) instead of loaded whole.
STREAM_THRESHOLD = 64 * 1024 * 1024

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
_ENV_VALUES = {
    "clause environnementale": "Clause environnementale",
    "critere environnemental": "Critère environnemental",
    "pas de consideration environnementale": "Pas de considération environnementale",
    "sans objet": "Pas de considération environnementale",
}

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

_IDF_DEPARTEMENTS = {"75", "77", "78", "91", "92", "93", "94", "95"}
_FIRST_VALID_YEAR = 2000


_FOLD_TABLE = str.maketrans("àâäéèêëîïôöùûüçœ’", "aaaeeeeiioouuuco'")


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """Lower case, accents removed, spaces collapsed: the key used to recognise enumerations.

    Cached: it is called several times per record on a handful of distinct values."""
    return re.sub(r"\s+", " ", text.strip().lower().translate(_FOLD_TABLE))


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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
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


def departement_from_place(code: str | None, type_code: str | None) -> tuple[str | None, str | None]:
    """(département, région) of a ``lieuExecution``; either may be unknown.

    Only Île-de-France départements are mapped to their région (11); elsewhere the région is left
    unknown unless the place is itself a région.
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
    return dep, ("11" if dep in _IDF_DEPARTEMENTS else None)


def _items(value: Any) -> list[Any]:
    """A list field as a list: one object stands for a list of one; anything else (a number, a
    string) holds no item — :func:`_check_lists` reports it."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def _check_lists(record: dict, names: tuple[str, ...], where: str, result: "DecpFile") -> None:
    for name in names:
        value = record.get(name)
        if value is not None and not isinstance(value, (list, dict)):
            result.quarantine.warn(SOURCE, result.path, where, f"{name} illisible",
                                   f"{name} n'est ni une liste ni un objet : {str(value)[:80]!r} "
                                   "(ignoré)")


def _titulaires(value: Any) -> list[dict[str, str | None]]:
    out = []
    for item in _items(value):
        if isinstance(item, dict):
            inner = item.get("titulaire") or item.get("concessionnaire") or item
            if isinstance(inner, dict):
                out.append({"titulaire_id": _text(inner.get("id")),
                            "typeIdentifiant": _text(inner.get("typeIdentifiant"))})
    return out


def _modifications(value: Any) -> list[dict[str, Any]]:
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


@dataclass
class DecpFile:
    """What one DECP file gave: rows of each table, plus its quarantine."""

    path: str
    read: int = 0
    merged: int = 0  # rows folded into another in the same file (tabular: extra supplier rows)
    communes: set[str] | None = None  # reference codes for the « Code commune » check
    frames: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: {
        "contracts": [], "suppliers": [], "modifications": [], "concessions": []})
    produced: int = 0  # contracts and concessions already turned into frames

    def flush(self) -> None:
        """Turn the rows read so far into typed frames (:attr:`frames`) and free the rows.

        Called every so many records on large files: a million row dictionaries take several
        times the memory of the same rows in columns.
        """
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
    contracts: list[dict[str, Any]] = field(default_factory=list)
    suppliers: list[dict[str, Any]] = field(default_factory=list)
    modifications: list[dict[str, Any]] = field(default_factory=list)
    concessions: list[dict[str, Any]] = field(default_factory=list)
    quarantine: Quarantine = field(default_factory=Quarantine)


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


def read_decp_json(path: Path | str, today: date | None = None,
                   stream: bool | None = None, communes: set[str] | None = None,
                   chunk_size: int | None = None, fast: bool | None = None) -> DecpFile:
    """Read one DECP v2 JSON file.

    Parameters
    ----------
    path
        The file.
    today
        Dates after this day are rejected (default: the real date).
    stream
        Parse incrementally; default: for files over :data:`STREAM_THRESHOLD`.
    communes
        Île-de-France INSEE codes: a « Code commune » place of execution in an Île-de-France
        département but absent from them is reported (the contract is kept).
    chunk_size
        If given, rows are turned into frames (:meth:`DecpFile.flush`) every ``chunk_size``
        contracts, which bounds memory on national files; read them from ``frames``.
    fast
        Read the file by columns (:mod:`.decp_fast`): the same frames, chunks and quarantine, several
        times faster. Only with ``chunk_size`` (the rows are then all in ``frames`` already);
        default: whenever ``chunk_size`` is given. A file that is not an ordinary DECP document
        (not UTF-8, not JSON, shaped otherwise) is read record by record as before, so that its
        errors are reported the same way.

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
    result = DecpFile(path=str(path), communes=communes)
    if stream:
        with open(path, "rb") as handle:
            if not handle.read(4096).strip():
                raise SourceFileError(path, "fichier vide")
        records = stream_records(path)
    else:
        records = iter_records(load_json(path), path)
    # The loop makes millions of small acyclic objects (records, rows): the cyclic garbage
    # collector would walk the growing heap again and again for nothing (a third of the time
    # on a national file). Reference counting still frees everything.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for kind, index, record in records:
            read_record(result, kind, f"{kind}[{index}]", record, today)
            if chunk_size and len(result.contracts) >= chunk_size:
                result.flush()
    finally:
        if collecting:
            gc.enable()
    return result


def read_record(result: DecpFile, kind: str, where: str, record: Any, today: date) -> None:
    """Check and normalise one record into ``result`` (kept or quarantined)."""
    result.read += 1
    if not isinstance(record, dict):
        result.quarantine.reject(SOURCE, result.path, where, "enregistrement",
                                 "l'enregistrement n'est pas un objet JSON")
    elif kind == "marche":
        _read_marche(record, where, result, today)
    else:
        _read_concession(record, where, result, today)


def _check_identity(record: dict, owner_key: str, date_key: str, where: str, result: DecpFile,
                    today: date) -> tuple[str, str, date] | None:
    ident = _text(record.get("id"))
    owner = record.get(owner_key)
    owner_id = _text(owner.get("id")) if isinstance(owner, dict) else _text(owner)
    when = _date(record.get(date_key))
    file = result.path
    q = result.quarantine
    if not ident:
        q.reject(SOURCE, file, where, "id obligatoire", "identifiant du contrat absent")
    elif not owner_id:
        q.reject(SOURCE, file, where, f"{owner_key}.id obligatoire",
                 f"identifiant de l'acheteur absent (contrat {ident})")
    elif when is None:
        q.reject(SOURCE, file, where, f"{date_key} invalide",
                 f"date absente ou illisible : {record.get(date_key)!r} (contrat {ident})")
    elif when.year < _FIRST_VALID_YEAR:
        q.reject(SOURCE, file, where, f"{date_key} hors période",
                 f"date antérieure à {_FIRST_VALID_YEAR} : {when} (contrat {ident})")
    elif when > today:
        q.reject(SOURCE, file, where, f"{date_key} dans le futur",
                 f"date postérieure au jour de lecture : {when} (contrat {ident})")
    else:
        return ident, owner_id, when
    return None


def _social(record: dict, where: str, result: DecpFile, vocabulary: dict[str, str]) -> Considerations:
    social = parse_considerations(record.get("considerationsSociales"), "considerationSociale",
                                  vocabulary)
    if social.unknown:
        result.quarantine.warn(
            SOURCE, result.path, where, "considerationsSociales : valeur inconnue",
            f"valeur(s) non reconnue(s) : {', '.join(social.unknown)} ; statut social inconnu"
            if not social.values else
            f"valeur(s) non reconnue(s) ignorée(s) : {', '.join(social.unknown)}")
    return social


def _read_marche(record: dict, where: str, result: DecpFile, today: date) -> None:
    identity = _check_identity(record, "acheteur", "dateNotification", where, result, today)
    if identity is None:
        return
    ident, buyer, notified = identity
    uid = f"{buyer}_{ident}"
    social = _social(record, where, result, _SOCIAL_VALUES)
    env = parse_considerations(record.get("considerationsEnvironnementales"),
                               "considerationEnvironnementale", _ENV_VALUES)
    place = record.get("lieuExecution") if isinstance(record.get("lieuExecution"), dict) else {}
    place_code, place_type = _text(place.get("code")), _text(place.get("typeCode"))
    dep, region = departement_from_place(place_code, place_type)
    if (result.communes is not None and region == "11" and _fold(place_type or "") == "code commune"
            and place_code not in result.communes):
        result.quarantine.warn(SOURCE, result.path, where, "lieuExecution : commune inconnue",
                               f"code INSEE « {place_code} » absent de la géographie de référence "
                               f"(contrat {ident}) : rattaché au département {dep}")

    amount = _number(record.get("montant"))
    duration = _number(record.get("dureeMois"))
    q = result.quarantine
    if record.get("montant") is not None and amount is None:
        q.warn(SOURCE, result.path, where, "montant illisible",
               f"montant non numérique : {record.get('montant')!r} (contrat {ident})")
    elif amount is not None and amount <= 0:
        q.warn(SOURCE, result.path, where, "montant nul ou négatif",
               f"montant {amount:g} (contrat {ident}) : exclu des sommes de montants")
        amount = None
    if not siret_valid(buyer):
        q.warn(SOURCE, result.path, where, "acheteur.id : SIRET invalide",
               f"{buyer!r} n'est pas un SIRET valide (14 chiffres, clé de Luhn)")
    _check_lists(record, ("titulaires", "modifications"), where, result)
    suppliers = _titulaires(record.get("titulaires"))
    for supplier in suppliers:
        if supplier["typeIdentifiant"] == "SIRET" and not siret_valid(supplier["titulaire_id"]):
            q.warn(SOURCE, result.path, where, "titulaire : SIRET invalide",
                   f"{supplier['titulaire_id']!r} n'est pas un SIRET valide (contrat {ident})")
    modifications = _modifications(record.get("modifications"))
    amount_initial, duration_initial = amount, duration
    amount, duration, suppliers = apply_modifications(result, where, uid, ident, modifications,
                                                      amount, duration, suppliers)
    cpv = _text(record.get("codeCPV"))
    values = social.values
    known = social.known
    result.contracts.append({
        "uid": uid,
        "id": ident,
        "acheteur_id": buyer,
        "objet": _text(record.get("objet")),
        "nature": _text(record.get("nature")),
        "procedure": _text(record.get("procedure")),
        "codeCPV": cpv,
        "cpv_division": cpv[:2] if cpv and cpv[:2].isdigit() else None,
        "ccag": _text(record.get("ccag")),
        "montant": amount,
        "montant_initial": amount_initial,
        "dureeMois": duration,
        "dureeMois_initial": duration_initial,
        "dateNotification": notified,
        "annee": notified.year,
        "datePublicationDonnees": _date(record.get("datePublicationDonnees")),
        "lieuExecution_code": place_code,
        "lieuExecution_typeCode": place_type,
        "departement_execution": dep,
        "region_execution": region,
        "considerationsSociales": ", ".join(values) if known else None,
        "clause_sociale": (CLAUSE in values) if known else None,
        "critere_social": (CRITERION in values) if known else None,
        "marche_reserve": (RESERVED in values) if known else None,
        "has_social_consideration": (NONE not in values) if known else None,
        "considerationsEnvironnementales": ", ".join(env.values) if env.known else None,
        "clause_environnementale": ("Clause environnementale" in env.values) if env.known else None,
        "critere_environnemental": ("Critère environnemental" in env.values) if env.known else None,
        "has_environmental_consideration": (
            "Pas de considération environnementale" not in env.values) if env.known else None,
        "n_titulaires": len(suppliers),
        "n_modifications": len(modifications),
        "source_file": result.path,
        "source_record": where,
        "format": FORMAT if V2_FIELDS & record.keys() else FORMAT_2019,
    })
    for supplier in suppliers:
        result.suppliers.append(
            {"uid": uid, **supplier, "source_file": result.path, "source_record": where})


def apply_modifications(result: DecpFile, where: str, uid: str, ident: str,
                        modifications: list[dict[str, Any]], amount: float | None,
                        duration: float | None, suppliers: Any) -> tuple[float | None, float | None, Any]:
    """Apply a marché's modifications (sorted by :func:`_modifications`) in order.

    Each one gives a row of ``result.modifications``; a positive amount or duration replaces the
    current one (a null or negative one is reported and ignored), and its suppliers, if it names
    any, replace the current ones. Returns the final ``(amount, duration, suppliers)``:
    ``suppliers`` is returned as given unless a modification replaced it.
    """
    q = result.quarantine
    for number, mod in enumerate(modifications, start=1):
        mod_amount, mod_duration = _number(mod.get("montant")), _number(mod.get("dureeMois"))
        if mod_amount is not None and mod_amount <= 0:
            q.warn(SOURCE, result.path, where, "montant nul ou négatif",
                   f"modification {number} : montant {mod_amount:g} ignoré (contrat {ident})")
            mod_amount = None
        if mod_duration is not None and mod_duration <= 0:
            q.warn(SOURCE, result.path, where, "durée nulle ou négative",
                   f"modification {number} : durée {mod_duration:g} mois ignorée (contrat {ident})")
            mod_duration = None
        mod_suppliers = _titulaires(mod.get("titulaires"))
        amount = mod_amount if mod_amount is not None else amount
        duration = mod_duration if mod_duration is not None else duration
        suppliers = mod_suppliers or suppliers
        result.modifications.append({
            "uid": uid,
            "modification_id": _text(mod.get("id")) or str(number),
            "dateNotificationModification": _date(mod.get("dateNotificationModification")),
            "datePublicationDonneesModification": _date(mod.get("datePublicationDonneesModification")),
            "montant": mod_amount,
            "dureeMois": mod_duration,
            "n_titulaires": len(mod_suppliers),
            "source_file": result.path,
            "source_record": where,
        })
    return amount, duration, suppliers


def _read_concession(record: dict, where: str, result: DecpFile, today: date) -> None:
    identity = _check_identity(record, "autoriteConcedante", "dateSignature", where, result, today)
    if identity is None:
        return
    ident, owner, signed = identity
    social = _social(record, where, result, _SOCIAL_VALUES)
    _check_lists(record, ("concessionnaires", "modifications"), where, result)
    value = _number(record.get("valeurGlobale"))
    duration = _number(record.get("dureeMois"))
    modifications = _modifications(record.get("modifications"))
    for mod in modifications:
        value = _number(mod.get("valeurGlobale")) if mod.get("valeurGlobale") is not None else value
        duration = _number(mod.get("dureeMois")) if mod.get("dureeMois") is not None else duration
    result.concessions.append({
        "uid": f"{owner}_{ident}",
        "id": ident,
        "autoriteConcedante_id": owner,
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
        "n_concessionnaires": len(_titulaires(record.get("concessionnaires"))),
        "n_modifications": len(modifications),
        "source_file": result.path,
        "source_record": where,
        "format": FORMAT,
    })


# --- Tables --------------------------------------------------------------------------------------

_BOOL_COLUMNS = ["clause_sociale", "critere_social", "marche_reserve", "has_social_consideration",
                 "clause_environnementale", "critere_environnemental",
                 "has_environmental_consideration"]


_FLOAT_COLUMNS = {"montant", "montant_initial", "dureeMois", "dureeMois_initial", "valeurGlobale"}
_INT_COLUMNS = {"annee", "n_titulaires", "n_modifications", "n_concessionnaires"}


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
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(contracts)
    published = contracts["datePublicationDonnees"].fillna(pd.Timestamp("1900-01-01"))
    keys = pa.table({
        "uid": pa.array(contracts["uid"].array),
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
    kept = contracts.iloc[np.sort(order[~dup])]
    return kept.reset_index(drop=True), merged


def keep_children(children: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """Rows of a child table that belong to a kept version of their contract."""
    key = ["uid", "source_file", "source_record"]
    if children.empty:
        return children
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
    import pyarrow as pa
    import pyarrow.compute as pc

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
