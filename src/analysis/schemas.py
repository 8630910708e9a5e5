"""The canonical tables' schemas: one column dictionary, used both to validate and to document.

Every table the warehouse writes has a pandera ``DataFrameSchema`` in :data:`SCHEMAS`. Each column
carries a French ``title`` (what a user reads), an English ``description`` and its checks; each
check carries a French ``title``, the words a validation report and the data dictionary show.

Two severities:

* **errors**: a violation means the warehouse is wrong (a reader broke its own contract: a
  duplicated key, a value outside a vocabulary the reader normalises, a negative number of hours):
  the build must stop;
* **warnings** (checks built with ``raise_warning=True``): an anomaly of the inputs that the readers
  keep on purpose (an invalid SIRET, an unknown commune where the reader does not check it, an
  implausible date): reported with the quarantine warnings, the build goes on.

:func:`validate_tables` checks each table against its schema and :func:`cross_table_checks` checks
the references between tables; both return a :class:`ValidationReport`.
:func:`data_dictionary_markdown` writes ``docs/data_dictionary.md`` from the same schemas, so the
documentation cannot drift from what is checked.
"""

from __future__ import annotations

import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from . import config
from .frames import isin
from .identifiers import LA_POSTE_SIREN
from .io import write_text
from .privacy import ID_LENGTH
from .sources import base as sources_base
from .sources import decp, structures, tracking
from .sources.tabular import load_mapping

__all__ = [
    "SCHEMAS", "REFERENCES", "Failure", "ValidationReport", "validate_tables", "validate_table",
    "cross_table_checks", "hours_mismatch", "commune_codes", "data_dictionary_markdown",
    "write_data_dictionary",
]

#: Severity labels, as reports print them.
ERROR, WARNING = "erreur", "avertissement"

# --- Vocabularies (taken from the readers, so the schemas follow them) --------------------------

_VOCAB = load_mapping("clause")["vocabularies"]


def _codes(vocabulary: str, *extra: str) -> list[str]:
    """Canonical codes of a tracking vocabulary, in the mapping's order, plus ``extra``."""
    return list(dict.fromkeys([*_VOCAB[vocabulary].values(), *extra]))


MODALITES = _codes("modalite")
SECTEURS = _codes("secteur")
#: Sector labels as the structures directory writes them (``Secteurs`` joins them with ``", "``).
SECTEUR_LABELS = list(_VOCAB["secteur"])
SEXES = _codes("sexe")
DIPLOMES = _codes("diplome", "inconnu")          # an unrecognised level becomes "inconnu"
PUBLICS = _codes("public")
PRESCRIPTEURS = _codes("prescripteur")
TYPES_EMPLOYEUR = _codes("type_employeur")
TYPES_CONTRAT = _codes("type_contrat")
SITUATIONS_6_MOIS = _codes("situation_6_mois", "inconnue")
TRANCHES_AGE = [label for _, _, label in tracking.AGE_BANDS]
TYPES_STRUCTURE = sorted(structures.TYPES)
SOURCES = ["decp", "acheteurs", "tracking", "grand_paris", "structures"]

SOCIAL_MARCHE = [decp.CLAUSE, decp.CRITERION, decp.RESERVED, decp.RESERVED_CONCESSION, decp.NONE]
SOCIAL_CONCESSION = [decp.CLAUSE, decp.CRITERION, decp.RESERVED_CONCESSION, decp.RESERVED,
                     decp.NONE]
ENVIRONMENTAL = ["Clause environnementale", "Critère environnemental",
                 "Pas de considération environnementale"]
FORMATS = [decp.FORMAT, decp.FORMAT_2019]

#: DECP enumerations (schema 2.0.3, plus the values of the 2019 format still found in the data).
NATURES_MARCHE = ["Marché", "Marché de partenariat", "Marché de défense ou de sécurité",
                  "Accord-cadre", "Marché subséquent"]
NATURES_CONCESSION = ["Concession de travaux", "Concession de service",
                      "Concession de service public", "Délégation de service public"]
PROCEDURES_MARCHE = [
    "Procédure adaptée", "Appel d'offres ouvert", "Appel d'offres restreint",
    "Procédure avec négociation", "Marché passé sans publicité ni mise en concurrence préalable",
    "Dialogue compétitif",
    # 2019 format
    "Procédure concurrentielle avec négociation",
    "Procédure négociée avec mise en concurrence préalable",
    "Marché négocié sans publicité ni mise en concurrence préalable", "Concours",
]
PROCEDURES_CONCESSION = ["Procédure négociée ouverte", "Procédure non négociée ouverte",
                         "Procédure négociée restreinte", "Procédure non négociée restreinte"]
CCAG = ["Travaux", "Maitrise d'œuvre", "Fournitures courantes et services", "Marchés industriels",
        "Prestations intellectuelles", "Techniques de l'information et de la communication",
        "Pas de CCAG"]
TYPES_CODE_LIEU = ["Code postal", "Code commune", "Code arrondissement", "Code canton",
                   "Code département", "Code région", "Code pays"]
TYPES_IDENTIFIANT = ["SIRET", "TVA", "TAHITI", "RIDET", "FRWF", "IREP", "HORS-UE"]
LIGNES_GRAND_PARIS = ["L14 Sud", "L15 Sud", "L15 Ouest", "L15 Est", "L16", "L17", "L18"]

_DEPARTEMENT_PATTERN = r"^(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|97\d|98\d)$"
_FIRST_DAY = pd.Timestamp("2000-01-01")

# --- The build day and the reference geography (read when a check runs, not at import) ----------

_TODAY: ContextVar[date | None] = ContextVar("observatoire_schemas_today", default=None)


def _today() -> pd.Timestamp:
    return pd.Timestamp(_TODAY.get() or date.today())


def commune_codes() -> frozenset[str]:
    """INSEE codes of the région in force's reference geography (communes and municipal
    arrondissements), read once per région."""
    return _commune_codes(str(config.paths().communes))


@lru_cache(maxsize=4)
def _commune_codes(path: str) -> frozenset[str]:
    from .reference import commune_table

    return frozenset(commune_table(Path(path))["code_insee"].astype(str))


# --- Vectorised check functions -----------------------------------------------------------------


def _per_unique(values: pd.Series, test: Callable[[str], bool]) -> pd.Series:
    """Apply a scalar test once per distinct value (identifiers and labels repeat a lot)."""
    codes, uniques = pd.factorize(values.astype(str))
    verdicts = np.fromiter((bool(test(v)) for v in uniques), dtype=bool, count=len(uniques))
    return pd.Series(verdicts[codes], index=values.index, dtype=bool)


def _valid_siret(values: pd.Series) -> pd.Series:
    """:func:`analysis.identifiers.siret_valid`, vectorised (the same rule, tested against it):
    14 ASCII digits with a Luhn key, or for La Poste (SIREN 356 000 000) a digit sum divisible
    by 5. Missing values are invalid.

    The text stays in Arrow: the shape is matched by Arrow's regular expressions and the
    digits are read from the matching strings' bytes (no Python string a row: 1.4 GB at 4 M
    identifiers when they were listed).
    """
    text = pyarrow.array(values.astype("string").array)
    if isinstance(text, pyarrow.ChunkedArray):
        text = text.combine_chunks()
    if not pyarrow.types.is_large_string(text.type):
        text = text.cast(pyarrow.large_string())
    shaped = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{14}$"), False)
    result = np.zeros(len(text), dtype=bool)
    mask = shaped.to_numpy(zero_copy_only=False)
    if mask.any():
        candidates = text.filter(shaped)  # every one 14 ASCII bytes
        offsets = np.frombuffer(candidates.buffers()[1], dtype=np.int64)[
            candidates.offset:candidates.offset + len(candidates) + 1]
        data = np.frombuffer(candidates.buffers()[2], dtype=np.uint8)
        matrix = data[offsets[0]:offsets[-1]].reshape(-1, 14)  # a view of the bytes
        verdicts = np.empty(len(matrix), dtype=bool)
        for start in range(0, len(matrix), _SIRET_BLOCK):  # small blocks of small integers
            digits = matrix[start:start + _SIRET_BLOCK].astype(np.int16) - 48
            doubled = digits[:, 0::2] * 2
            luhn = (digits[:, 1::2].sum(axis=1)
                    + (doubled - 9 * (doubled > 9)).sum(axis=1)) % 10 == 0
            la_poste = (digits[:, :len(LA_POSTE_SIREN)] == _LA_POSTE_DIGITS).all(axis=1)
            verdicts[start:start + len(digits)] = np.where(la_poste, digits.sum(axis=1) % 5 == 0,
                                                           luhn)
        result[mask] = verdicts
    return pd.Series(result, index=values.index, dtype=bool)


#: Identifiers checked at a time by :func:`_valid_siret` (its digit matrices stay a few MB).
_SIRET_BLOCK = 1 << 18


_LA_POSTE_DIGITS = np.frombuffer(LA_POSTE_SIREN.encode("ascii"), dtype=np.uint8).astype(np.int16) - 48


def _known_commune(values: pd.Series) -> pd.Series:
    return pd.Series(isin(values, commune_codes()), index=values.index, dtype=bool)


def _region_departement(values: pd.Series) -> pd.Series:
    """A département of the région in force (read when the check runs, not at import)."""
    return pd.Series(isin(values, list(config.DEPARTEMENTS)), index=values.index, dtype=bool)


def _joined_values(allowed: Iterable[str], exclusive: str) -> Callable[[pd.Series], pd.Series]:
    """Values joined with ``", "``: each part allowed, no repeat, ``exclusive`` only alone."""
    allowed = frozenset(allowed)

    def test(value: str) -> bool:
        parts = value.split(", ")
        return (set(parts) <= allowed and len(set(parts)) == len(parts)
                and (exclusive not in parts or len(parts) == 1))

    return lambda values: _per_unique(values, test)


def _dates_between(years_after_today: int = 0, first: pd.Timestamp = _FIRST_DAY):
    def check(values: pd.Series) -> pd.Series:
        last = _today() + pd.DateOffset(years=years_after_today)
        return (values >= first) & (values <= last)

    return check


def _as_bool(mask: pd.Series | object) -> pd.Series:
    """A boolean Series with missing values read as False."""
    return pd.Series(mask).fillna(False).astype(bool)


# --- Check builders: every check has an ASCII name and a French title ---------------------------


def _check(fn: Callable, name: str, title: str, warn: bool = False, **kwargs) -> pa.Check:
    return pa.Check(fn, name=name, title=title, raise_warning=warn, **kwargs)


def allowed(values: Iterable[str], warn: bool = False) -> pa.Check:
    """Values of a closed vocabulary."""
    return pa.Check.isin(list(values), name="valeurs_autorisees", title="valeurs autorisées",
                         raise_warning=warn)


def pattern(regex: str, title: str, warn: bool = False) -> pa.Check:
    """Text matching ``regex`` (anchored by the caller)."""
    return pa.Check.str_matches(regex, name="format", title=title, raise_warning=warn)


def siret(warn: bool = False) -> pa.Check:
    """A valid SIRET (:func:`analysis.identifiers.siret_valid`)."""
    return _check(_valid_siret, "siret_valide", "SIRET valide (14 chiffres, clé de Luhn)", warn)


def commune(warn: bool = False) -> pa.Check:
    """An INSEE code of the reference geography."""
    return _check(_known_commune, "commune_connue",
                  "code INSEE présent dans la géographie de référence", warn)


def past_date(warn: bool = False) -> pa.Check:
    """A date from 1 January 2000 to the build day."""
    return _check(_dates_between(0), "date_plausible",
                  "date entre le 01/01/2000 et le jour de la construction", warn)


def planned_date(warn: bool = True) -> pa.Check:
    """A date from 1 January 2000 to ten years after the build day (planned ends)."""
    return _check(_dates_between(10), "date_plausible",
                  "date entre le 01/01/2000 et 10 ans après le jour de la construction", warn)


def non_negative(warn: bool = False) -> pa.Check:
    return pa.Check.ge(0, name="positif_ou_nul", title="positif ou nul", raise_warning=warn)


def positive(warn: bool = False) -> pa.Check:
    return pa.Check.gt(0, name="strictement_positif", title="strictement positif",
                       raise_warning=warn)


def share() -> pa.Check:
    return pa.Check.in_range(0, 1, name="part", title="part entre 0 et 1")


def rows(fn: Callable[[pd.DataFrame], pd.Series], column: str, name: str, title: str,
         needs: Iterable[str], show: Iterable[str], warn: bool = False) -> pa.Check:
    """A check across columns of a row, reported (and documented) under ``column``.

    ``fn`` returns one boolean per row (True: the row passes) and handles missing values itself;
    ``needs`` lists the columns it reads (the check is skipped when one is absent) and ``show``
    the columns printed in the examples.
    """
    def mask(frame: pd.DataFrame) -> pd.Series:
        out = fn(frame)
        if isinstance(out, pd.Series):
            out = out.to_numpy(dtype=bool, na_value=False)
        return pd.Series(out, index=frame.index, dtype=bool)

    return pa.Check(mask, name=name, title=title, raise_warning=warn, ignore_na=False,
                    statistics={"column": column, "needs": list(needs), "show": list(show)})


def column(dtype, title: str, description: str, *checks: pa.Check, nullable: bool = False,
           unique: bool = False, required: bool = True) -> pa.Column:
    """A documented column: French title, English description, checks."""
    return pa.Column(dtype, checks=list(checks), nullable=nullable, unique=unique,
                     required=required, title=title, description=description,
                     metadata={"dtype": str(dtype)})


TEXT, BOOL, INT, FLOAT, DATE = "string", "boolean", "Int64", "Float64", "datetime64[ms]"

# --- Row checks ---------------------------------------------------------------------------------


def _flags_follow(source: str, flags: dict[str, Callable[[set[str]], bool]]):
    """Each flag is missing when ``source`` is missing, else what ``source``'s values say."""

    def check(frame: pd.DataFrame) -> pd.Series:
        codes, uniques = pd.factorize(frame[source])  # missing → -1
        known = codes >= 0
        parts = [set(str(value).split(", ")) for value in uniques]
        ok = np.ones(len(frame), dtype=bool)
        for flag, rule in flags.items():
            if flag not in frame.columns:
                continue
            verdicts = np.fromiter((rule(p) for p in parts), dtype=bool, count=len(parts))
            expected = verdicts[np.where(known, codes, 0)] if len(parts) else known
            actual = frame[flag].astype("boolean")
            missing = actual.isna().to_numpy(dtype=bool)
            value = actual.fillna(False).to_numpy(dtype=bool)
            ok &= np.where(known, ~missing & (value == expected), missing)
        return pd.Series(ok, index=frame.index)

    return check


_SOCIAL_FLAGS = {
    "clause_sociale": lambda p: decp.CLAUSE in p,
    "critere_social": lambda p: decp.CRITERION in p,
    "marche_reserve": lambda p: decp.RESERVED in p,
    "has_social_consideration": lambda p: decp.NONE not in p,
}
_ENV_FLAGS = {
    "clause_environnementale": lambda p: "Clause environnementale" in p,
    "critere_environnemental": lambda p: "Critère environnemental" in p,
    "has_environmental_consideration": lambda p: "Pas de considération environnementale" not in p,
}


def _social_checks(table_flags: dict[str, Callable], key: str) -> list[pa.Check]:
    flags = list(table_flags)
    return [
        rows(_flags_follow("considerationsSociales", table_flags), "has_social_consideration",
             "indicateurs_sociaux_coherents",
             "indicateurs sociaux cohérents avec considerationsSociales (manquants si inconnue)",
             needs=["considerationsSociales", *flags],
             show=[key, "considerationsSociales", *flags]),
        rows(lambda f: (f["format"] != decp.FORMAT_2019).fillna(True).to_numpy(dtype=bool)
             | f["has_social_consideration"].isna().to_numpy(dtype=bool),
             "has_social_consideration", "format_2019_inconnu",
             "statut social inconnu (manquant) pour le format 2019",
             needs=["format", "has_social_consideration"],
             show=[key, "format", "has_social_consideration"]),
    ]


def _same_year(date_column: str):
    return lambda f: _as_bool(f["annee"] == f[date_column].dt.year) | (
        f["annee"].isna() & f[date_column].isna())


def _uid_is_key(owner: str):
    return lambda f: _as_bool(
        f["uid"] == f[owner].astype("string") + "_" + f["id"].astype("string"))


def _cpv_division(f: pd.DataFrame) -> pd.Series:
    head = f["codeCPV"].astype("string").str.slice(0, 2)
    expected = head.where(head.str.fullmatch(r"\d\d").fillna(False))
    actual = f["cpv_division"].astype("string")
    return _as_bool(actual == expected) | (actual.isna() & expected.isna())


def _place_commune_known(f: pd.DataFrame) -> pd.Series:
    """A « Code commune » place of execution in the région observed is a known INSEE code (the
    DECP reader's rule: such a contract is kept, with a warning)."""
    kind = f["lieuExecution_typeCode"].astype("string").str.strip().str.lower()
    concerned = _as_bool((kind == "code commune") & (f["region_execution"] == config.REGION_CODE))
    return ~concerned | pd.Series(isin(f["lieuExecution_code"], commune_codes()), index=f.index)


def _not_before(start: str, end: str):
    return lambda f: ~_as_bool(f[end] < f[start])


def _prefixed_by_coordination(f: pd.DataFrame) -> pd.Series:
    ids = f["operation_id"].astype("string").fillna("").tolist()
    prefixes = (f["coordination"].astype("string") + "-").fillna("\0").tolist()
    return pd.Series([i.startswith(p) for i, p in zip(ids, prefixes)], index=f.index, dtype=bool)


def _hours_per_day(f: pd.DataFrame) -> pd.Series:
    days = (f["date_fin"] - f["date_debut"]).dt.days + 1
    return ~_as_bool(f["heures"] > 10 * days)


def _unique_together(*columns: str):
    return lambda f: ~f.duplicated(list(columns), keep=False)


# --- The schemas --------------------------------------------------------------------------------

_SOURCE_FILE = column(TEXT, "Fichier source", "Input file, relative to the raw folder.")
_SOURCE_RECORD = column(TEXT, "Enregistrement source",
                        "Record within the file: `marche[i]` / `concession[i]` for JSON, "
                        "`ligne n` for tabular exports.")
_COORDINATION = column(
    TEXT, "Coordination départementale",
    "Departmental coordination whose export the row comes from (the `tracking/<dep>/` folder).",
    _check(_region_departement, "valeurs_autorisees",
           "un département de la région observée", warn=True))
_PSEUDONYM = (pattern(rf"^[0-9a-f]{{{ID_LENGTH}}}$",
                      f"pseudonyme : {ID_LENGTH} caractères hexadécimaux"),)


def joined_allowed(values: list[str], exclusive: str | None = None, warn: bool = False) -> pa.Check:
    """Values joined with ``", "``, each from ``values``, none twice, ``exclusive`` only alone."""
    title = "valeurs autorisées, séparées par « , »"
    if exclusive:
        title += f" (« {exclusive} » seule)"
    return _check(_joined_values(values, exclusive or "\0"), "valeurs_autorisees", title, warn,
                  statistics={"allowed_values": list(values)})


def _considerations(values: list[str], exclusive: str, french: str, english: str) -> pa.Column:
    return column(
        TEXT, f"Considérations {french}",
        f"Recognised {english} considerations of the record, joined with `, ` (« Sans objet » is "
        f"read as « {exclusive} »); missing when the record says nothing usable (2019 format, "
        "empty list, only unrecognised values): the status is then unknown.",
        joined_allowed(values, exclusive), nullable=True)


def _flag(title: str, description: str) -> pa.Column:
    return column(BOOL, title, description + " Missing = unknown, never False.", nullable=True)


CONTRACTS = pa.DataFrameSchema(
    name="contracts",
    title="Marchés publics (DECP)",
    description=(
        "One row per contract (marché) of the essential public-procurement data (DECP, JSON v2 or "
        "2019 format, or consolidated tabular exports), after republications and modifications are "
        "folded: the latest publication of a `uid` is kept and its modifications applied. Reader: "
        "`analysis.sources.decp` (JSON and tabular parsers, one set of rules). Records without an id, a buyer or a "
        "plausible notification date are quarantined (`rejects`). When the buyers directory is "
        "read, its columns are joined on `acheteur_id`."),
    strict=True,
    columns={
        "uid": column(TEXT, "Identifiant unique du marché",
                      "Contract key: buyer SIRET (`acheteur.id`), `_`, contract `id`. One row per "
                      "key.", unique=True),
        "id": column(TEXT, "Identifiant du marché",
                     "Contract identifier given by the buyer (DECP `id`)."),
        "acheteur_id": column(TEXT, "SIRET de l'acheteur",
                              "Buyer identifier (DECP `acheteur.id`); an invalid SIRET is kept and "
                              "reported.", siret(warn=True)),
        "objet": column(TEXT, "Objet du marché", "Contract object (DECP `objet`).", nullable=True),
        "nature": column(TEXT, "Nature du marché", "DECP `nature`, as published.",
                         allowed(NATURES_MARCHE, warn=True), nullable=True),
        "procedure": column(TEXT, "Procédure de passation", "DECP `procedure`, as published.",
                            allowed(PROCEDURES_MARCHE, warn=True), nullable=True),
        "codeCPV": column(TEXT, "Code CPV",
                          "Common procurement vocabulary code, as published (with or without "
                          "its check digit).",
                          pattern(r"^\d{8}(?:-\d)?$", "code CPV : 8 chiffres, clé facultative",
                                  warn=True), nullable=True),
        "cpv_division": column(TEXT, "Division CPV",
                               "First two digits of the CPV code; missing when the code does not "
                               "start with two digits.",
                               pattern(r"^\d{2}$", "2 chiffres"), nullable=True),
        "ccag": column(TEXT, "CCAG de référence",
                       "General administrative conditions of reference (DECP `ccag`, v2).",
                       allowed(CCAG, warn=True), nullable=True),
        "montant": column(FLOAT, "Montant HT (€, après modifications)",
                          "Amount excluding VAT after the last modification; missing when absent, "
                          "unreadable, or zero or negative (reported, and left out of amount "
                          "sums).",
                          positive(), nullable=True),
        "montant_initial": column(FLOAT, "Montant HT initial (€)",
                                  "Amount at notification, before modifications (same rules).",
                                  positive(), nullable=True),
        "dureeMois": column(FLOAT, "Durée (mois, après modifications)",
                            "Duration in months after the last modification.",
                            positive(warn=True), nullable=True),
        "dureeMois_initial": column(FLOAT, "Durée initiale (mois)", "Duration at notification.",
                                    positive(warn=True), nullable=True),
        "dateNotification": column(DATE, "Date de notification",
                                   "Notification date. Records with no readable date, a date "
                                   "before 2000 or after the build day are quarantined.",
                                   past_date()),
        "annee": column(INT, "Année de notification", "Year of `dateNotification`."),
        "datePublicationDonnees": column(DATE, "Date de publication des données",
                                         "Publication date of the record; decides which "
                                         "republication is kept.", past_date(warn=True),
                                         nullable=True),
        "lieuExecution_code": column(TEXT, "Code du lieu d'exécution",
                                     "Place of execution code, as published.", nullable=True),
        "lieuExecution_typeCode": column(TEXT, "Type de code du lieu d'exécution",
                                         "Kind of `lieuExecution_code`.",
                                         allowed(TYPES_CODE_LIEU, warn=True), nullable=True),
        "departement_execution": column(
            TEXT, "Département d'exécution",
            "Département derived from the place of execution (postal code, commune code or "
            "département code); missing for a région, a country or an unusable code.",
            pattern(_DEPARTEMENT_PATTERN, "code de département (01-95, 2A, 2B, 97x, 98x)",
                    warn=True), nullable=True),
        "region_execution": column(
            TEXT, "Région d'exécution",
            "The région observed's code (`OBSERVATOIRE_REGION`) for its départements; elsewhere "
            "only when the place is a région.",
            pattern(r"^\d{2,3}$", "code de région (chiffres)", warn=True), nullable=True),
        "considerationsSociales": _considerations(SOCIAL_MARCHE, decp.NONE, "sociales", "social"),
        "clause_sociale": _flag("Clause sociale",
                                "« Clause sociale » among the social considerations (execution "
                                "condition, L2112-2)."),
        "critere_social": _flag("Critère social",
                                "« Critère social » among them (award criterion, R2152-7)."),
        "marche_reserve": _flag("Marché réservé",
                                "« Marché réservé » among them (L2113-12, L2113-13)."),
        "has_social_consideration": _flag(
            "Au moins une considération sociale",
            "True when a social consideration is stated; False only when the record says « Pas de "
            "considération sociale »; missing for the 2019 format and records that say nothing "
            "usable."),
        "considerationsEnvironnementales": _considerations(
            ENVIRONMENTAL, "Pas de considération environnementale", "environnementales",
            "environmental"),
        "clause_environnementale": _flag("Clause environnementale",
                                         "« Clause environnementale » among the environmental "
                                         "considerations."),
        "critere_environnemental": _flag("Critère environnemental",
                                         "« Critère environnemental » among them."),
        "has_environmental_consideration": _flag(
            "Au moins une considération environnementale",
            "False only when the record says « Pas de considération environnementale »."),
        "n_titulaires": column(INT, "Nombre de titulaires",
                               "Suppliers after the last modification that changed them.",
                               non_negative()),
        "n_modifications": column(INT, "Nombre de modifications", "Modifications applied.",
                                  non_negative()),
        "source_file": _SOURCE_FILE,
        "source_record": _SOURCE_RECORD,
        "format": column(TEXT, "Format de la source",
                         "`decp-v2-json`: a record with any field of the 2024 format; "
                         "`decp-2019-json`: none of them (its social status is unknown).",
                         allowed(FORMATS)),
        "acheteur_nom": column(TEXT, "Nom de l'acheteur",
                               "From the buyers directory when one is read and knows the buyer; "
                               "else from the consolidated DECP table (`acheteur_nom`).",
                               nullable=True, required=False),
        "acheteur_categorie": column(TEXT, "Catégorie d'acheteur",
                                     "From the buyers directory when one is read and knows the "
                                     "buyer (e.g. Commune, Département, Bailleur social); else "
                                     "from the consolidated DECP table (`acheteur_categorie`: "
                                     "Commune, Comm. de communes, Région, État…).",
                                     nullable=True, required=False),
        "acheteur_departement": column(TEXT, "Département de l'acheteur",
                                       "From the buyers directory when one is read and knows the "
                                       "buyer; else from the consolidated DECP table "
                                       "(`acheteur_departement_code`, zeros restored).",
                                       pattern(_DEPARTEMENT_PATTERN,
                                               "code de département (01-95, 2A, 2B, 97x, 98x)",
                                               warn=True),
                                       nullable=True, required=False),
        "acheteur_commune": column(TEXT, "Commune de l'acheteur (code INSEE)",
                                   "From the consolidated DECP table (`acheteur_commune_code`, "
                                   "5 characters, zeros restored); missing for JSON sources.",
                                   pattern(r"^(?:\d{5}|2[AB]\d{3})$", "code INSEE à 5 caractères",
                                           warn=True), nullable=True, required=False),
        "acheteur_region": column(TEXT, "Région de l'acheteur (code)",
                                  "From the consolidated DECP table (`acheteur_region_code`); "
                                  "missing for JSON sources.",
                                  pattern(r"^\d{2,3}$", "code de région (chiffres)", warn=True),
                                  nullable=True, required=False),
        "titulaire_categorie": column(TEXT, "Catégorie des titulaires",
                                      "Company category of the current suppliers (PME, ETI, GE, "
                                      "INSEE), each once in alphabetical order, joined with `, `, "
                                      "from the consolidated DECP table; missing for JSON sources "
                                      "or when not given.",
                                      nullable=True, required=False),
        "sourceDataset": column(TEXT, "Jeu de données d'origine",
                                "Code of the data set the consolidated DECP table took the "
                                "contract from (`sourceDataset`); missing for JSON sources.",
                                nullable=True, required=False),
    },
    checks=[
        rows(_uid_is_key("acheteur_id"), "uid", "uid_compose",
             "uid = acheteur_id, « _ », id", needs=["uid", "acheteur_id", "id"],
             show=["uid", "acheteur_id", "id"]),
        rows(_same_year("dateNotification"), "annee", "annee_de_notification",
             "année de dateNotification", needs=["annee", "dateNotification"],
             show=["uid", "annee", "dateNotification"]),
        rows(_cpv_division, "cpv_division", "division_cpv",
             "deux premiers chiffres de codeCPV", needs=["cpv_division", "codeCPV"],
             show=["uid", "codeCPV", "cpv_division"]),
        rows(_place_commune_known, "lieuExecution_code", "commune_connue",
             "code INSEE présent dans la géographie de référence (« Code commune » dans "
             "la région observée)", needs=["lieuExecution_code", "lieuExecution_typeCode",
                                     "region_execution"],
             show=["uid", "lieuExecution_code", "lieuExecution_typeCode"], warn=True),
        *_social_checks(_SOCIAL_FLAGS, "uid"),
        rows(_flags_follow("considerationsEnvironnementales", _ENV_FLAGS),
             "has_environmental_consideration", "indicateurs_environnementaux_coherents",
             "indicateurs environnementaux cohérents avec considerationsEnvironnementales "
             "(manquants si inconnue)",
             needs=["considerationsEnvironnementales", *_ENV_FLAGS],
             show=["uid", "considerationsEnvironnementales", *_ENV_FLAGS]),
    ],
)

SUPPLIERS = pa.DataFrameSchema(
    name="suppliers",
    title="Titulaires des marchés",
    description=(
        "One row per supplier (titulaire) of a kept contract version: the suppliers after the "
        "last modification that changed them. Reader: `analysis.sources.decp`."),
    strict=True,
    columns={
        "uid": column(TEXT, "Identifiant unique du marché", "The contract (`contracts.uid`)."),
        "titulaire_id": column(TEXT, "Identifiant du titulaire",
                               "Supplier identifier (a SIRET when `typeIdentifiant` is SIRET).",
                               nullable=True),
        "typeIdentifiant": column(TEXT, "Type d'identifiant", "Kind of `titulaire_id`.",
                                  allowed(TYPES_IDENTIFIANT, warn=True), nullable=True),
        "source_file": _SOURCE_FILE,
        "source_record": _SOURCE_RECORD,
    },
    checks=[
        rows(lambda f: (f["typeIdentifiant"] != "SIRET").fillna(True).to_numpy(dtype=bool)
             | _valid_siret(f["titulaire_id"].fillna("")).to_numpy(dtype=bool),
             "titulaire_id", "siret_valide",
             "SIRET valide (14 chiffres, clé de Luhn) quand typeIdentifiant = SIRET",
             needs=["typeIdentifiant", "titulaire_id"], show=["uid", "titulaire_id"], warn=True),
    ],
)

MODIFICATIONS = pa.DataFrameSchema(
    name="modifications",
    title="Modifications des marchés",
    description=(
        "One row per modification of a kept contract version, as published (the amounts and "
        "durations are the new values, already applied to `contracts`). Reader: "
        "`analysis.sources.decp`."),
    strict=True,
    columns={
        "uid": column(TEXT, "Identifiant unique du marché", "The contract (`contracts.uid`)."),
        "modification_id": column(TEXT, "Identifiant de la modification",
                                  "DECP modification `id`, else its rank."),
        "dateNotificationModification": column(DATE, "Date de notification de la modification",
                                               "As published.", past_date(warn=True),
                                               nullable=True),
        "datePublicationDonneesModification": column(
            DATE, "Date de publication de la modification", "As published.",
            past_date(warn=True), nullable=True),
        "montant": column("float64", "Nouveau montant HT (€)",
                          "Amount after this modification, as published.", positive(warn=True),
                          nullable=True),
        "dureeMois": column("float64", "Nouvelle durée (mois)",
                            "Duration after this modification, as published.",
                            positive(warn=True), nullable=True),
        "n_titulaires": column("int64", "Nombre de titulaires de la modification",
                               "Suppliers named by the modification (0: unchanged).",
                               non_negative()),
        "source_file": _SOURCE_FILE,
        "source_record": _SOURCE_RECORD,
    },
    checks=[
        rows(_unique_together("uid", "modification_id"), "modification_id",
             "modification_unique", "une seule modification par identifiant et par marché",
             needs=["uid", "modification_id"], show=["uid", "modification_id"], warn=True),
    ],
)

CONCESSIONS = pa.DataFrameSchema(
    name="concessions",
    title="Contrats de concession (DECP)",
    description=(
        "One row per concession contract (contrat-concession), kept apart from the marchés, "
        "deduplicated like them, modifications applied. Reader: `analysis.sources.decp`."),
    strict=True,
    columns={
        "uid": column(TEXT, "Identifiant unique de la concession",
                      "Concession key: conceding authority SIRET, `_`, `id`.", unique=True),
        "id": column(TEXT, "Identifiant de la concession", "DECP `id`."),
        "autoriteConcedante_id": column(TEXT, "SIRET de l'autorité concédante",
                                        "DECP `autoriteConcedante.id`.", siret(warn=True)),
        "objet": column(TEXT, "Objet", "DECP `objet`.", nullable=True),
        "nature": column(TEXT, "Nature de la concession", "DECP `nature`, as published.",
                         allowed(NATURES_CONCESSION, warn=True), nullable=True),
        "procedure": column(TEXT, "Procédure", "DECP `procedure`, as published.",
                            allowed(PROCEDURES_CONCESSION, warn=True), nullable=True),
        "valeurGlobale": column("float64", "Valeur globale (€)",
                                "DECP `valeurGlobale` after the last modification.",
                                non_negative(warn=True), nullable=True),
        "dureeMois": column("float64", "Durée (mois)", "After the last modification.",
                            positive(warn=True), nullable=True),
        "dateSignature": column(DATE, "Date de signature",
                                "Records with no readable date, a date before 2000 or after the "
                                "build day are quarantined.", past_date()),
        "annee": column("int64", "Année de signature", "Year of `dateSignature`."),
        "datePublicationDonnees": column(DATE, "Date de publication des données", "As published.",
                                         past_date(warn=True), nullable=True),
        "considerationsSociales": _considerations(SOCIAL_CONCESSION, decp.NONE, "sociales",
                                                  "social"),
        "has_social_consideration": _flag(
            "Au moins une considération sociale",
            "False only when the record says « Pas de considération sociale »."),
        "n_concessionnaires": column("int64", "Nombre de concessionnaires", "As published.",
                                     non_negative()),
        "n_modifications": column("int64", "Nombre de modifications", "Modifications applied.",
                                  non_negative()),
        "source_file": _SOURCE_FILE,
        "source_record": _SOURCE_RECORD,
        "format": column(TEXT, "Format de la source", "Always `decp-v2-json`.",
                         allowed([decp.FORMAT])),
    },
    checks=[
        rows(_uid_is_key("autoriteConcedante_id"), "uid", "uid_compose",
             "uid = autoriteConcedante_id, « _ », id", needs=["uid", "autoriteConcedante_id", "id"],
             show=["uid", "autoriteConcedante_id", "id"]),
        rows(_same_year("dateSignature"), "annee", "annee_de_signature",
             "année de dateSignature", needs=["annee", "dateSignature"],
             show=["uid", "annee", "dateSignature"]),
        rows(_flags_follow("considerationsSociales",
                           {"has_social_consideration": _SOCIAL_FLAGS["has_social_consideration"]}),
             "has_social_consideration", "indicateurs_sociaux_coherents",
             "indicateurs sociaux cohérents avec considerationsSociales (manquants si inconnue)",
             needs=["considerationsSociales", "has_social_consideration"],
             show=["uid", "considerationsSociales", "has_social_consideration"]),
    ],
)

BUYERS = pa.DataFrameSchema(
    name="buyers",
    title="Annuaire des acheteurs",
    description=(
        "Directory of public buyers (a SIRENE extract): tells each contract's buyer category and "
        "département, which DECP records do not carry. Rows with an invalid or duplicated SIRET "
        "are quarantined. Reader: `analysis.sources.buyers`."),
    strict=True,
    columns={
        "acheteur_id": column(TEXT, "SIRET de l'acheteur", "Joins `contracts.acheteur_id`.",
                              siret(), unique=True),
        "acheteur_nom": column(TEXT, "Nom de l'acheteur", "As in the directory.", nullable=True),
        "acheteur_categorie": column(TEXT, "Catégorie d'acheteur",
                                     "As in the directory (e.g. Commune, Département, Région, "
                                     "Bailleur social, Établissement de santé).", nullable=True),
        "acheteur_departement": column(TEXT, "Département de l'acheteur", "As in the directory.",
                                       pattern(_DEPARTEMENT_PATTERN,
                                               "code de département (01-95, 2A, 2B, 97x, 98x)",
                                               warn=True), nullable=True),
    },
)

OPERATIONS = pa.DataFrameSchema(
    name="operations",
    title="Opérations suivies par les facilitateurs",
    description=(
        "One row per clause operation of a departmental coordination's tracking export "
        "(« Opérations » sheet): the contract it follows, the project owner, the legal modality, "
        "the hours planned and realised. Reader: `analysis.sources.tracking` with the mapping "
        "`mappings/clause.json`; unrecognised vocabulary values are reported and left missing."),
    strict=True,
    columns={
        "operation_id": column(TEXT, "Identifiant de l'opération",
                               "Coordination, `-`, the export's operation code.", unique=True),
        "coordination": _COORDINATION,
        "libelle": column(TEXT, "Libellé de l'opération", "Free text.", nullable=True),
        "maitre_ouvrage": column(TEXT, "Maître d'ouvrage", "Project owner name.", nullable=True),
        "maitre_ouvrage_siret": column(TEXT, "SIRET du maître d'ouvrage",
                                       "Kept even when invalid (reported).", siret(warn=True),
                                       nullable=True),
        "decp_uid": column(TEXT, "Identifiant DECP du marché",
                           "`contracts.uid` of the followed contract, when the facilitator "
                           "recorded it.", nullable=True),
        "modalite": column(TEXT, "Modalité juridique",
                           "clause_execution (L2112-2), critere_attribution (R2152-7), "
                           "reserve_siae (L2113-13), reserve_ea_esat (L2113-12), "
                           "marche_insertion (R2123-1).", allowed(MODALITES), nullable=True),
        "secteur": column(TEXT, "Secteur", "Sector of the operation.", allowed(SECTEURS),
                          nullable=True),
        "grand_projet": column(BOOL, "Grand projet",
                               "Large project (Grand Paris Express, Olympic works…).",
                               nullable=True),
        "departement": column(TEXT, "Département",
                              "Département of the operation (the coordination's when empty).",
                              pattern(_DEPARTEMENT_PATTERN,
                                      "code de département (01-95, 2A, 2B, 97x, 98x)", warn=True)),
        "commune": column(TEXT, "Commune du chantier", "INSEE code of the place of work.",
                          commune(warn=True), nullable=True),
        "date_debut": column(DATE, "Date de début", "Start of the operation.",
                             planned_date(), nullable=True),
        "date_fin": column(DATE, "Date de fin", "End (planned or actual).", planned_date(),
                           nullable=True),
        "heures_prevues": column(FLOAT, "Heures d'insertion prévues",
                                 "Insertion hours planned; negative values are reported and left "
                                 "missing.", non_negative(), nullable=True),
        "heures_realisees": column(FLOAT, "Heures d'insertion réalisées",
                                   "Hours the facilitator recorded for the operation; should "
                                   "equal the sum of its work contracts' hours (see cross-table "
                                   "checks).", non_negative(), nullable=True),
    },
    checks=[
        rows(_prefixed_by_coordination, "operation_id", "prefixe_coordination",
             "commence par la coordination suivie de « - »", needs=["operation_id", "coordination"],
             show=["operation_id", "coordination"]),
        rows(_not_before("date_debut", "date_fin"), "date_fin", "fin_apres_debut",
             "date de fin postérieure ou égale à la date de début",
             needs=["date_debut", "date_fin"], show=["operation_id", "date_debut", "date_fin"],
             warn=True),
    ],
)

PARTICIPANTS = pa.DataFrameSchema(
    name="participants",
    title="Participants (personnes en parcours d'insertion)",
    description=(
        "One row per person followed by a coordination. Personal data stop at ingestion: the "
        "software's id becomes a keyed hash (`participant_id`), names and birth dates are dropped "
        "and only an age band at entry is kept; no other column is allowed. Reader: "
        "`analysis.sources.tracking`."),
    strict=True,
    columns={
        "participant_id": column(TEXT, "Identifiant pseudonyme",
                                 "Keyed hash (HMAC-SHA-256) of the coordination and the "
                                 "software's id.", *_PSEUDONYM, unique=True),
        "coordination": _COORDINATION,
        "sexe": column(TEXT, "Sexe", "F or H.", allowed(SEXES), nullable=True),
        "tranche_age": column(TEXT, "Tranche d'âge à l'entrée",
                              "Age at entry in the scheme, in bands; missing when the dates are "
                              "unreadable or the age is implausible (outside 14-80).",
                              allowed(TRANCHES_AGE), nullable=True),
        "diplome": column(TEXT, "Niveau de diplôme",
                          "2019 nomenclature (older levels VI … I mapped onto it); `inconnu` for "
                          "an unrecognised value.", allowed(DIPLOMES), nullable=True),
        "commune_residence": column(TEXT, "Commune de résidence",
                                    "INSEE code; an unknown code is reported and left missing.",
                                    commune(), nullable=True),
        "qpv": column(BOOL, "Résident QPV",
                      "Lives in a priority neighbourhood (quartier prioritaire de la ville).",
                      nullable=True),
        "public": column(TEXT, "Public éligible", "Eligibility category.", allowed(PUBLICS),
                         nullable=True),
        "prescripteur": column(TEXT, "Prescripteur", "Who referred the person.",
                               allowed(PRESCRIPTEURS), nullable=True),
        "formation_qualifiante": column(BOOL, "Formation qualifiante",
                                        "Qualifying training during the pathway.", nullable=True),
        "date_entree": column(DATE, "Date d'entrée", "Entry in the clause scheme.",
                              past_date(warn=True), nullable=True),
    },
)

WORK_CONTRACTS = pa.DataFrameSchema(
    name="work_contracts",
    title="Contrats de travail d'insertion",
    description=(
        "One row per work contract: participant × operation × employer, with the hours realised. "
        "Rows naming an unknown participant or operation, with unreadable or inverted dates, or "
        "with invalid hours are quarantined. Reader: `analysis.sources.tracking`."),
    strict=True,
    columns={
        "participant_id": column(TEXT, "Identifiant pseudonyme du participant",
                                 "`participants.participant_id`.", *_PSEUDONYM),
        "operation_id": column(TEXT, "Identifiant de l'opération", "`operations.operation_id`."),
        "coordination": _COORDINATION,
        "employeur": column(TEXT, "Employeur", "Employer name.", nullable=True),
        "employeur_siret": column(TEXT, "SIRET de l'employeur", "As exported.", siret(warn=True),
                                  nullable=True),
        "type_employeur": column(TEXT, "Type d'employeur",
                                 "The contractor itself, an ETTI, AI, GEIQ, EI or régie de "
                                 "quartier.", allowed(TYPES_EMPLOYEUR), nullable=True),
        "type_contrat": column(TEXT, "Type de contrat", "Employment contract type.",
                               allowed(TYPES_CONTRAT), nullable=True),
        "date_debut": column(DATE, "Date de début", "Start of the contract.", planned_date()),
        "date_fin": column(DATE, "Date de fin", "End of the contract.", planned_date()),
        "heures": column(FLOAT, "Heures réalisées", "Hours worked under the contract.",
                         non_negative()),
        "code_rome": column(TEXT, "Code ROME", "Job (ROME code, e.g. F1703).",
                            pattern(r"^[A-N]\d{4}$", "code ROME : une lettre A-N et 4 chiffres",
                                    warn=True), nullable=True),
        "poste": column(TEXT, "Intitulé du poste", "Free text.", nullable=True),
    },
    checks=[
        rows(_prefixed_by_coordination, "operation_id", "prefixe_coordination",
             "commence par la coordination suivie de « - »", needs=["operation_id", "coordination"],
             show=["operation_id", "coordination"]),
        rows(_not_before("date_debut", "date_fin"), "date_fin", "fin_apres_debut",
             "date de fin postérieure ou égale à la date de début",
             needs=["date_debut", "date_fin"],
             show=["participant_id", "operation_id", "date_debut", "date_fin"]),
        rows(_hours_per_day, "heures", "heures_par_jour",
             "au plus 10 h par jour calendaire du contrat",
             needs=["heures", "date_debut", "date_fin"],
             show=["operation_id", "date_debut", "date_fin", "heures"], warn=True),
    ],
)

OUTCOMES = pa.DataFrameSchema(
    name="outcomes",
    title="Situation à 6 mois (sorties)",
    description=(
        "One row per participant whose last insertion contract ended at least 6 months before "
        "the export: the situation 6 months later (emploi durable, de transition, sortie positive, "
        "sans emploi, inconnue). Reader: `analysis.sources.tracking`."),
    strict=True,
    columns={
        "participant_id": column(TEXT, "Identifiant pseudonyme du participant",
                                 "`participants.participant_id`; one situation per participant.",
                                 *_PSEUDONYM, unique=True),
        "coordination": _COORDINATION,
        "date_fin_dernier_contrat": column(DATE, "Date de fin du dernier contrat",
                                           "End of the last insertion contract.",
                                           past_date(warn=True), nullable=True),
        "situation_6_mois": column(TEXT, "Situation à 6 mois",
                                   "Definitions of the IAE; `inconnue` also for an unrecognised "
                                   "value.", allowed(SITUATIONS_6_MOIS), nullable=True),
        "date_premier_emploi_durable": column(DATE, "Date du premier emploi durable",
                                              "Missing when none was observed before the export.",
                                              past_date(warn=True), nullable=True),
        "date_export": column(DATE, "Date de l'export", "End of follow-up (censoring date).",
                              past_date(warn=True), nullable=True),
    },
    checks=[
        rows(lambda f: ~_as_bool(f["date_export"] < f["date_fin_dernier_contrat"]
                                 + pd.Timedelta(days=182)),
             "date_fin_dernier_contrat", "six_mois_avant_export",
             "fin du dernier contrat au moins 6 mois avant l'export",
             needs=["date_export", "date_fin_dernier_contrat"],
             show=["participant_id", "date_fin_dernier_contrat", "date_export"], warn=True),
        rows(lambda f: ~_as_bool(f["date_premier_emploi_durable"] > f["date_export"]),
             "date_premier_emploi_durable", "avant_export",
             "au plus tard à la date de l'export",
             needs=["date_premier_emploi_durable", "date_export"],
             show=["participant_id", "date_premier_emploi_durable", "date_export"], warn=True),
    ],
)

GRAND_PARIS = pa.DataFrameSchema(
    name="grand_paris",
    title="Marchés du Grand Paris Express",
    description=(
        "One row per Grand Paris Express works contract with its insertion-hours obligation "
        "(5 % of works hours, 10 % for contracts notified from 1 October 2020) and its SME share. "
        "Rows with an unreadable notification date, negative numbers or no works hours are "
        "quarantined. Reader: `analysis.sources.grand_paris`."),
    strict=True,
    columns={
        "decp_uid": column(TEXT, "Identifiant DECP du marché", "`contracts.uid`, when known.",
                           nullable=True),
        "ligne": column(TEXT, "Ligne", "Metro line.", allowed(LIGNES_GRAND_PARIS, warn=True),
                        nullable=True),
        "lot": column(TEXT, "Lot", "Works lot.", nullable=True),
        "titulaire_siret": column(TEXT, "SIRET du titulaire", "Lead contractor.",
                                  siret(warn=True), nullable=True),
        "date_notification": column(DATE, "Date de notification", "As exported.",
                                    past_date(warn=True)),
        "heures_travail": column(FLOAT, "Heures de travail totales", "Works hours of the contract.",
                                 positive()),
        "heures_insertion_prevues": column(FLOAT, "Heures d'insertion prévues",
                                           "The obligation, as exported.", non_negative(),
                                           nullable=True),
        "heures_insertion_realisees": column(FLOAT, "Heures d'insertion réalisées", "As exported.",
                                             non_negative(), nullable=True),
        "montant": column(FLOAT, "Montant HT (€)", "As exported.", non_negative(), nullable=True),
        "montant_pme": column(FLOAT, "Montant confié aux PME (€)", "Target: 20 % of the amount.",
                              non_negative(), nullable=True),
        "departement": column(TEXT, "Département des travaux", "As exported.",
                              pattern(_DEPARTEMENT_PATTERN,
                                      "code de département (01-95, 2A, 2B, 97x, 98x)", warn=True),
                              nullable=True),
        "taux_obligation": column("float64", "Taux d'obligation d'insertion",
                                  "Share of works hours owed to insertion at notification: 0.05, "
                                  "0.10 from 1 October 2020.", share(), allowed([0.05, 0.10])),
    },
    checks=[
        rows(lambda f: _as_bool(f["taux_obligation"] == (
            f["date_notification"] >= pd.Timestamp("2020-10-01")).map({True: 0.10, False: 0.05})),
             "taux_obligation", "taux_selon_date",
             "0,05 avant le 01/10/2020, 0,10 ensuite (date de notification)",
             needs=["taux_obligation", "date_notification"],
             show=["decp_uid", "date_notification", "taux_obligation"]),
        rows(lambda f: ~_as_bool(f["montant_pme"] > f["montant"]), "montant_pme",
             "pme_dans_le_montant", "au plus le montant du marché",
             needs=["montant_pme", "montant"], show=["decp_uid", "montant", "montant_pme"],
             warn=True),
        rows(lambda f: ~_as_bool(f["heures_insertion_realisees"] > f["heures_travail"]),
             "heures_insertion_realisees", "insertion_dans_les_heures",
             "au plus les heures de travail totales",
             needs=["heures_insertion_realisees", "heures_travail"],
             show=["decp_uid", "heures_travail", "heures_insertion_realisees"], warn=True),
    ],
)

STRUCTURES = pa.DataFrameSchema(
    name="structures",
    title="Structures d'insertion et du handicap",
    description=(
        "Directory of inclusion and disability structures (SIAE: EI, ETTI, AI, ACI; EA, ESAT, "
        "GEIQ). Rows with an invalid or duplicated SIRET, an unknown type or an unknown commune "
        "are quarantined. Reader: `analysis.sources.structures`."),
    strict=True,
    columns={
        "siret": column(TEXT, "SIRET", "Establishment.", siret(), unique=True),
        "raison_sociale": column(TEXT, "Raison sociale", "Name.", nullable=True),
        "type": column(TEXT, "Type de structure", "Upper case.", allowed(TYPES_STRUCTURE)),
        "commune": column(TEXT, "Commune", "INSEE code.", commune()),
        "secteurs": column(TEXT, "Secteurs d'activité",
                           "Sectors joined with `, ` (the operations' sector labels).",
                           joined_allowed(SECTEUR_LABELS, warn=True),
                           nullable=True),
        "date_creation": column(DATE, "Date de création", "As exported.",
                                _check(_dates_between(0, pd.Timestamp("1900-01-01")),
                                       "date_plausible",
                                       "date entre le 01/01/1900 et le jour de la construction",
                                       warn=True), nullable=True),
    },
)

ACCOUNTING = pa.DataFrameSchema(
    name="accounting",
    title="Comptage des lignes par fichier",
    description=(
        "One row per input file (or workbook sheet): rows read = kept + rejected + merged "
        "duplicates. Built by `analysis.sources.base.accounting_frame`."),
    strict=True,
    columns={
        "source": column(TEXT, "Source", "Source the file belongs to.", allowed(SOURCES)),
        "file": column(TEXT, "Fichier", "Relative to the raw folder (`#sheet` for a workbook)."),
        "read": column("int64", "Lignes lues", "Records read.", non_negative()),
        "kept": column("int64", "Lignes gardées", "Records in the warehouse.", non_negative()),
        "rejected": column("int64", "Lignes rejetées", "Records quarantined (`rejects`).",
                           non_negative()),
        "merged": column("int64", "Doublons fusionnés",
                         "Duplicates folded into another record (republications, exact "
                         "duplicates).", non_negative()),
        "coordination": column(TEXT, "Coordination",
                               "The clause-tracking coordination whose export the file is "
                               "(tracking files only, wherever they sit in the input folder; "
                               "empty for the other sources).", nullable=True),
    },
    checks=[
        rows(lambda f: _as_bool(f["read"] == f["kept"] + f["rejected"] + f["merged"]), "read",
             "comptage_equilibre", "lues = gardées + rejetées + fusionnées",
             needs=list(sources_base.ACCOUNTING_COLUMNS[1:]),
             show=list(sources_base.ACCOUNTING_COLUMNS[1:])),
        rows(_unique_together("source", "file"), "file", "fichier_unique",
             "un seul comptage par fichier", needs=["source", "file"], show=["source", "file"]),
    ],
)

REJECTS = pa.DataFrameSchema(
    name="rejects",
    title="Lignes rejetées (quarantaine)",
    description=(
        "One row per quarantined record with the rule it broke: nothing is dropped silently. The "
        "build also writes the warnings (kept records with a reported anomaly) in the same shape "
        "to `rejects/warnings.parquet`."),
    strict=True,
    columns={
        "source": column(TEXT, "Source", "Source of the record.", allowed(SOURCES)),
        "file": column(TEXT, "Fichier", "Relative to the raw folder."),
        "record": column(TEXT, "Enregistrement", "Where the record was (`marche[3]`, `ligne 12`)."),
        "rule": column(TEXT, "Règle", "The rule it broke (a short French label)."),
        "message": column(TEXT, "Message", "French explanation with the offending value."),
    },
)

#: The schema of every table the warehouse writes, by table name.
SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "contracts": CONTRACTS,
    "suppliers": SUPPLIERS,
    "modifications": MODIFICATIONS,
    "concessions": CONCESSIONS,
    "buyers": BUYERS,
    "operations": OPERATIONS,
    "participants": PARTICIPANTS,
    "work_contracts": WORK_CONTRACTS,
    "outcomes": OUTCOMES,
    "grand_paris": GRAND_PARIS,
    "structures": STRUCTURES,
    "accounting": ACCOUNTING,
    "rejects": REJECTS,
}


class Reference(NamedTuple):
    """``child.column`` values must be found in ``parent.parent_column``."""

    child: str
    column: str
    parent: str
    parent_column: str
    severity: str
    why: str


#: References between tables, checked by :func:`cross_table_checks`.
REFERENCES: tuple[Reference, ...] = (
    Reference("suppliers", "uid", "contracts", "uid", ERROR,
              "a supplier belongs to a kept contract"),
    Reference("modifications", "uid", "contracts", "uid", ERROR,
              "a modification belongs to a kept contract"),
    Reference("work_contracts", "participant_id", "participants", "participant_id", ERROR,
              "the reader quarantines work contracts of unknown participants"),
    Reference("work_contracts", "operation_id", "operations", "operation_id", ERROR,
              "the reader quarantines work contracts of unknown operations"),
    Reference("outcomes", "participant_id", "participants", "participant_id", ERROR,
              "the reader quarantines outcomes of unknown participants"),
    Reference("operations", "decp_uid", "contracts", "uid", WARNING,
              "an operation may follow a contract missing from the DECP read"),
    Reference("grand_paris", "decp_uid", "contracts", "uid", WARNING,
              "a Grand Paris contract may be missing from the DECP read"),
    Reference("contracts", "acheteur_id", "buyers", "acheteur_id", WARNING,
              "a buyer missing from the directory has no category"),
)

# --- Validation ---------------------------------------------------------------------------------


class Failure(NamedTuple):
    """One failed check: where, which check, how many cases, a few examples."""

    table: str
    column: str | None
    check: str
    count: int
    examples: tuple[str, ...] = ()

    def message(self) -> str:
        """The failure in one French sentence."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where} — {self.check} : {self.count} cas"
        if self.examples:
            text += " (ex. : " + " ; ".join(self.examples) + ")"
        return text


@dataclass
class ValidationReport:
    """Failed checks of a validation, by severity.

    ``errors`` mean the warehouse is wrong and must not be put in force; ``warnings`` are reported
    with the quarantine warnings.
    """

    errors: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings do not stop a build)."""
        return not self.errors

    def add(self, severity: str, failure: Failure) -> None:
        (self.errors if severity == ERROR else self.warnings).append(failure)

    def extend(self, other: "ValidationReport") -> "ValidationReport":
        """Add another report's failures to this one; returns ``self``."""
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        return self

    def text(self) -> str:
        """A French summary: counts, then one line per failed check."""
        def count(n: int, word: str, none: str) -> str:
            return f"{n} {word}{'s' if n > 1 else ''}" if n else f"{none} {word}"

        lines = [f"Validation des tables : {count(len(self.errors), 'erreur', 'aucune')}, "
                 f"{count(len(self.warnings), 'avertissement', 'aucun')}."]
        if self.errors:
            lines.append("Erreurs (l'entrepôt est incohérent, il n'est pas mis en service) :")
            lines += [f"  - {f.message()}" for f in self.errors]
        if self.warnings:
            lines.append("Avertissements (signalés, la construction continue) :")
            lines += [f"  - {f.message()}" for f in self.warnings]
        return "\n".join(lines)

    def warnings_frame(self) -> pd.DataFrame:
        """The warnings shaped like the quarantine (``source``, ``file``, ``record``, ``rule``,
        ``message``), to be appended to ``rejects/warnings.parquet``: ``source`` is
        ``validation``, ``file`` the table, ``record`` the column."""
        rows_ = [{"source": "validation", "file": f.table, "record": f.column or "",
                  "rule": f"validation : {f.check}", "message": f.message()}
                 for f in self.warnings]
        return pd.DataFrame(rows_, columns=sources_base.REJECT_COLUMNS).astype("string")


_PANDERA_CHECKS = {
    "not_nullable": "valeur obligatoire (aucune valeur manquante)",
    "field_uniqueness": "valeurs uniques",
    "column_in_schema": "colonne absente du dictionnaire des données",
    "column_in_dataframe": "colonne obligatoire absente",
}
_MAX_EXAMPLES = 5


def _show(value: object) -> str:
    """A value as an example prints it: dates without a midnight time, ∅ for missing."""
    if value is None or (not isinstance(value, (list, tuple, set)) and pd.isna(value)):
        return "∅"
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    return str(value)


def _examples(values: Iterable) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = _show(value)
        if text not in out:
            out.append(text)
        if len(out) == _MAX_EXAMPLES:
            break
    return tuple(out)


def _core(schema: pa.DataFrameSchema, untyped: Iterable[str] = ()) -> pa.DataFrameSchema:
    """The schema with only what pandera runs for us: dtypes, nullability, uniqueness, strictness
    and the error-level column checks (warning-level and row checks are run one by one).

    The ``untyped`` columns keep only their presence, nullability and uniqueness (their type and
    checks are checked apart, see :func:`validate_tables`)."""
    untyped = set(untyped)
    columns = {}
    for name, col in schema.columns.items():
        if name in untyped:
            columns[name] = pa.Column(None, nullable=col.nullable, unique=col.unique,
                                      required=col.required)
        else:
            columns[name] = col.update_checks([c for c in col.checks if not c.raise_warning])
    return pa.DataFrameSchema(columns, strict=schema.strict, name=schema.name)


def _as_text(frame: pd.DataFrame, check: pa.Check, compact: list[str]) -> pd.DataFrame:
    """``frame`` for a row check: the categorical columns it reads or shows made text again (a
    shallow copy; the others shared)."""
    stats = check.statistics or {}
    wanted = [c for c in compact if c in set(stats.get("needs", ())) | set(stats.get("show", ()))]
    if not wanted:
        return frame
    view = frame.copy(deep=False)
    for name in wanted:
        view[name] = decp.restore_column(frame[name])
    return view


def _pandera_failures(table: str, schema: pa.DataFrameSchema, core: pa.DataFrameSchema,
                      frame: pd.DataFrame, cases: pd.DataFrame, report: ValidationReport) -> None:
    cases = cases.assign(_n=cases["check_number"].map(lambda v: -1 if pd.isna(v) else int(v)))
    for (col, check, number), group in cases.groupby(["column", "check", "_n"], dropna=False,
                                                     sort=False):
        col = None if pd.isna(col) else str(col)
        severity = ERROR
        examples = _examples(group["failure_case"])
        count = len(group)
        if check in ("column_in_schema", "column_in_dataframe"):
            for name in examples:
                report.add(ERROR, Failure(table, name, _PANDERA_CHECKS[check], 1))
            continue
        if check.startswith("dtype("):
            if frame.empty:
                continue  # no rows, nothing typed wrong (empty child tables come out as text)
            expected = schema.columns[col]
            label = f"type attendu : {(expected.metadata or {}).get('dtype', expected.dtype)}"
            if col in frame.columns and frame[col].notna().sum() == 0:
                severity, label = WARNING, label + " (colonne entièrement vide)"
            found = frame[col].dtype if col in frame.columns else examples[0]
            report.add(severity, Failure(table, col, label, 1, (f"type trouvé : {found}",)))
            continue
        if number >= 0 and col in core.columns:
            found = core.columns[col].checks[number]
            label = found.title or found.name
        else:
            label = _PANDERA_CHECKS.get(check, check)
        report.add(severity, Failure(table, col, label, count, examples))


def _run_column_check(table: str, name: str, check: pa.Check, values: pd.Series,
                      report: ValidationReport) -> None:
    severity = WARNING if check.raise_warning else ERROR
    label = check.title or check.name
    try:
        result = check(values)
    except Exception as exc:  # a check that cannot run says so instead of stopping validation
        report.add(severity, Failure(table, name, f"{label} (contrôle impossible)", 1,
                                     (f"{type(exc).__name__}: {exc}",)))
        return
    output = result.check_output
    failed = int((~output).sum()) if isinstance(output, pd.Series) else int(not bool(output))
    if failed:
        report.add(severity, Failure(table, name, label, failed, _examples(result.failure_cases)))


def _run_row_check(table: str, check: pa.Check, frame: pd.DataFrame,
                   report: ValidationReport) -> None:
    stats = check.statistics or {}
    if any(c not in frame.columns for c in stats.get("needs", ())):
        return  # the missing column is already an error
    severity = WARNING if check.raise_warning else ERROR
    label = check.title or check.name
    try:
        passed = pd.Series(check(frame).check_output, index=frame.index).astype(bool)
    except Exception as exc:  # a check that cannot run says so instead of stopping validation
        report.add(severity, Failure(table, stats.get("column"), f"{label} (contrôle impossible)",
                                     1, (f"{type(exc).__name__}: {exc}",)))
        return
    failed = ~passed.to_numpy()
    if failed.any():
        shown = [c for c in stats.get("show", ()) if c in frame.columns]
        sample = frame.loc[failed, shown].head(_MAX_EXAMPLES)
        examples = tuple(", ".join(f"{c}={_show(v)}" for c, v in row.items())
                         for _, row in sample.iterrows())
        report.add(severity, Failure(table, stats.get("column"), label, int(failed.sum()),
                                     examples))


def validate_table(name: str, frame: pd.DataFrame, today: date | None = None) -> ValidationReport:
    """Check one table against its schema (see :func:`validate_tables`)."""
    return validate_tables({name: frame}, today=today)


def validate_tables(tables: dict[str, pd.DataFrame], today: date | None = None) -> ValidationReport:
    """Check every table against its schema in :data:`SCHEMAS`, without modifying it.

    Parameters
    ----------
    tables
        Tables by name (``contracts`` …, ``accounting``, ``rejects``); a name without a schema is
        reported as a warning.
    today
        The build day, upper bound of the "date in the past" checks (default: the real date).

    Returns
    -------
    ValidationReport
        Errors (a violated error-level check: the warehouse is wrong) and warnings.
    """
    report = ValidationReport()
    token = _TODAY.set(today)
    try:
        for name, frame in tables.items():
            schema = SCHEMAS.get(name)
            if schema is None:
                report.add(WARNING, Failure(name, None, "table absente du dictionnaire des données",
                                            1))
                continue
            # Text columns held as categories (the build's DECP contracts) are checked as text,
            # one at a time: pandera checks the rest of the frame without their type and checks,
            # then each column alone, made text again (never the whole table's texts at once).
            compact = [c for c in frame.columns if c in schema.columns
                       and decp.is_compact(frame[c])
                       and (schema.columns[c].metadata or {}).get("dtype") == TEXT]
            core = _core(schema, untyped=compact)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    # A shallow copy: pandera works on it, the caller's frame is never touched.
                    core.validate(frame.copy(deep=False), lazy=True, inplace=True)
                except SchemaErrors as exc:
                    _pandera_failures(name, schema, core, frame, exc.failure_cases, report)
            whole = _core(schema) if compact else None
            for col_name, col in schema.columns.items():
                if col_name not in frame.columns:
                    continue
                values = frame[col_name]
                if col_name in compact:
                    values = decp.restore_column(values)
                    alone = pd.DataFrame({col_name: values})
                    one = pa.DataFrameSchema({col_name: whole.columns[col_name]},
                                             name=schema.name)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            one.validate(alone, lazy=True, inplace=True)
                        except SchemaErrors as exc:
                            _pandera_failures(name, schema, one, alone, exc.failure_cases,
                                              report)
                    del alone
                for check in col.checks:
                    if check.raise_warning:
                        _run_column_check(name, col_name, check, values, report)
                del values
            for check in schema.checks:
                _run_row_check(name, check, _as_text(frame, check, compact), report)
            # The checks' intermediate arrays, freed, given back before the next table's (at
            # national size they would otherwise pile up under the next checks).
            decp.release_memory()
    finally:
        _TODAY.reset(token)
    return report


def _orphans(child: pd.Series, parent: pd.Series | None) -> pd.Series:
    # ``dropna`` copies: millions of identifiers at national size, most often without a gap.
    values = child.dropna() if child.hasnans else child
    if parent is None:
        return values
    return values[~isin(values, parent.dropna() if parent.hasnans else parent)]


def hours_mismatch(operations: pd.DataFrame, work_contracts: pd.DataFrame) -> pd.Series:
    """Operations whose recorded realised hours differ from the sum of their work contracts'
    hours by more than 1 h and 1 % (the tracking reader's rule): a boolean per operation."""
    totals = work_contracts.groupby("operation_id")["heures"].sum()
    recorded = operations.drop_duplicates("operation_id").set_index("operation_id")[
        "heures_realisees"]
    summed = totals.reindex(recorded.index).fillna(0)
    gap = (recorded - summed).abs()
    return _as_bool((gap > 1) & (gap > 0.01 * summed.abs()))


def cross_table_checks(tables: dict[str, pd.DataFrame]) -> ValidationReport:
    """Check the references between tables (:data:`REFERENCES`) and the operations' hours.

    A reference of error severity is checked whenever the child table has rows (an absent parent
    table makes every row an orphan); a warning-level one only when both tables are present.
    Operations whose ``heures_realisees`` differ from their work contracts' hours are counted as
    one warning (the reader already reported each of them).

    Parameters
    ----------
    tables
        The warehouse tables by name; absent tables are skipped.

    Returns
    -------
    ValidationReport
    """
    report = ValidationReport()
    for ref in REFERENCES:
        child = tables.get(ref.child)
        if child is None or child.empty or ref.column not in child.columns:
            continue
        parent = tables.get(ref.parent)
        if parent is None and ref.severity == WARNING:
            continue
        known = parent[ref.parent_column] if parent is not None and \
            ref.parent_column in parent.columns else None
        orphans = _orphans(child[ref.column], known)
        if len(orphans):
            report.add(ref.severity, Failure(
                ref.child, ref.column, f"référence présente dans {ref.parent}.{ref.parent_column}",
                len(orphans), _examples(orphans)))
    operations, work = tables.get("operations"), tables.get("work_contracts")
    if (operations is not None and work is not None and not operations.empty
            and {"operation_id", "heures_realisees"} <= set(operations.columns)
            and {"operation_id", "heures"} <= set(work.columns)):
        mismatched = int(hours_mismatch(operations, work).sum())
        if mismatched:
            report.add(WARNING, Failure(
                "operations", "heures_realisees",
                "égales à la somme des heures de leurs contrats de travail (à 1 h et 1 % près ; "
                "déjà signalé ligne à ligne par le lecteur)", mismatched))
    return report


# --- The data dictionary ------------------------------------------------------------------------

_TYPE_LABELS = {"string": "texte", "boolean": "booléen", "Int64": "entier", "int64": "entier",
                "Float64": "décimal", "float64": "décimal", "datetime64[ms]": "date"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _check_text(check: pa.Check) -> str:
    label = check.title or check.name
    values = (check.statistics or {}).get("allowed_values")
    if values is not None and check.name == "valeurs_autorisees":
        label += " : " + ", ".join(f"`{v}`" for v in values)
    if check.raise_warning:
        label += " *(avertissement)*"
    return label


def _column_entries(schema: pa.DataFrameSchema) -> list[dict]:
    """One entry per column of ``schema``: name, French title, dtype, nullable, checks (French
    labels) and description — what both the Markdown dictionary and :func:`dictionary_frame`
    show."""
    by_column: dict[str, list[pa.Check]] = {}
    for check in schema.checks:
        by_column.setdefault((check.statistics or {}).get("column"), []).append(check)
    out = []
    for name, col in schema.columns.items():
        dtype = (col.metadata or {}).get("dtype", str(col.dtype))
        checks = []
        if not col.required:
            checks.append("colonne facultative")
        if col.unique:
            checks.append("valeurs uniques")
        checks += [_check_text(c) for c in [*col.checks, *by_column.get(name, [])]]
        out.append({"colonne": name, "titre": col.title, "dtype": dtype,
                    "type": _TYPE_LABELS.get(dtype, dtype), "manquant_possible": bool(col.nullable),
                    "controles": checks, "description": col.description})
    return out


def _column_rows(schema: pa.DataFrameSchema) -> list[str]:
    return ["| " + " | ".join(_cell(part) for part in (
        f"`{e['colonne']}`", e["titre"], f"{e['type']} (`{e['dtype']}`)",
        "yes" if e["manquant_possible"] else "no", "<br>".join(e["controles"]) or "—",
        e["description"])) + " |" for e in _column_entries(schema)]


def dictionary_frame(table: str | None = None) -> pd.DataFrame:
    """The data dictionary as a table: every column of every warehouse table (:data:`SCHEMAS`).

    The same entries as ``docs/data_dictionary.md`` (:func:`data_dictionary_markdown`), from the
    same pandera schemas that validate every build.

    Parameters
    ----------
    table
        A table name (``"contracts"``, ``"suppliers"`` …); ``None`` for every table.

    Returns
    -------
    DataFrame
        One row per column: ``table``, ``titre_table``, ``colonne``, ``titre`` (French title),
        ``type`` (French label), ``dtype``, ``manquant_possible`` (whether a value may be
        missing), ``controles`` (the checks, in French, joined by « ; »; *(avertissement)* marks
        a warning) and ``description``.

    Raises
    ------
    ValueError
        An unknown table, with the names of the tables.
    """
    if table is not None and table not in SCHEMAS:
        raise ValueError(f"table inconnue : {table!r} (tables du dictionnaire : "
                         f"{', '.join(SCHEMAS)})")
    rows = []
    for name, schema in SCHEMAS.items():
        if table is not None and name != table:
            continue
        for entry in _column_entries(schema):
            rows.append({"table": name, "titre_table": schema.title, **entry,
                         "controles": " ; ".join(entry["controles"])})
    return pd.DataFrame(rows, columns=["table", "titre_table", "colonne", "titre", "type", "dtype",
                                       "manquant_possible", "controles", "description"])


def data_dictionary_markdown() -> str:
    """``docs/data_dictionary.md``: every table and column of :data:`SCHEMAS`, with its French
    title, type, whether it may be missing, its allowed values and checks, and its description.

    Returns
    -------
    str
        Markdown text (deterministic: no date in it).
    """
    lines = [
        "# Data dictionary — dictionnaire des données",
        "",
        "> Generated by `observatoire dictionary` from `src/analysis/schemas.py`: do not edit by "
        "hand; a test checks that this file equals what the schemas produce.",
        "> *Généré par `observatoire dictionary` à partir de `src/analysis/schemas.py` : ne pas "
        "modifier à la main.*",
        "",
        "The same schemas validate every build of the warehouse (`data/processed/warehouse/`). "
        "Checks marked *(avertissement)* are warnings: a failure is reported with the quarantine "
        "warnings (`rejects/warnings.parquet`) and the build goes on. Every other check — type, "
        "missing values where the column says *no*, uniqueness, allowed values, the checks across "
        "columns — is an error: the build stops and the previous warehouse stays in force. A "
        "column not listed here is an error too (no personal data can slip in). Dates are "
        "checked against the build day; INSEE codes against the reference geography "
        "(`data/raw/reference/communes/<région>.parquet`).",
        "",
        "| table | titre | colonnes |",
        "|---|---|---|",
    ]
    for name, schema in SCHEMAS.items():
        lines.append(f"| [`{name}`](#{name}) | {schema.title} | {len(schema.columns)} |")
    for name, schema in SCHEMAS.items():
        lines += [
            "",
            f"## {name}",
            "",
            f"**{schema.title}.** {schema.description}",
            "",
            "| column | French title | type | nullable | allowed values / checks | description |",
            "|---|---|---|---|---|---|",
            *_column_rows(schema),
        ]
    lines += [
        "",
        "## Cross-table checks",
        "",
        "Checked by `cross_table_checks` once every table is assembled.",
        "",
        "| values of | must be found in | severity | why |",
        "|---|---|---|---|",
    ]
    for ref in REFERENCES:
        lines.append(f"| `{ref.child}.{ref.column}` | `{ref.parent}.{ref.parent_column}` | "
                     f"{ref.severity} | {ref.why} |")
    lines.append("| `operations.heures_realisees` | sum of `work_contracts.heures` of the "
                 "operation (within 1 h or 1 %) | avertissement | counted once; the tracking "
                 "reader reports each operation |")
    return "\n".join(lines) + "\n"


def write_data_dictionary(path: Path | None = None) -> Path:
    """Write :func:`data_dictionary_markdown` to ``path`` atomically.

    Parameters
    ----------
    path
        Target file; default ``docs/data_dictionary.md`` of the repository.

    Returns
    -------
    Path
        The file written.
    """
    target = path or config.paths().docs / "data_dictionary.md"
    return write_text(target, data_dictionary_markdown())
