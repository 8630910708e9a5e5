"""Synthetic DECP v2 publications for a région, as buyers publish them, with planted truths.

Île-de-France (the default) has its historical buyers (the région, the Société des grands
projets, its eight départements, communes, EPT...); another région has the région, its
départements, communes and EPCI, social landlords, hospitals and State services, no EPT and no
Grand Paris owner, with volumes in proportion to its population (:mod:`.region`).

Each buyer publishes one JSON file a year (``decp/<year>/<siret>.json``), in the shape its
software produces: ``{"marches": {"marche": [...]}}`` with nested ``considerationsSociales``, or a
plain ``{"marches": [...]}`` list with flat values. Years are generated one after the other, so
memory stays bounded at national scale.

**Planted truth.** Whether a contract carries a social consideration follows a logistic model::

    logit P = α(year) + β(buyer type) + β_a(buyer) + γ(sector) + δ(département of execution)

β_a is zero but for a few buyers with contrasting profiles (:data:`BUYER_PROFILES`: very
engaged, or never any social consideration), planted so that the buyer sheets have something to
tell apart; the manifest's ``buyer_profiles`` gives each one's expected share. α(year) is solved, year by year, so that the expected share over the generated mix of buyers,
sectors and départements equals the published national share (OECP census: 12.5 % in 2019, 22.3 %
in 2022, 18.7 % in 2023, ``shared/domain.md``). Every term is written to the manifest.

**Defects**, at the rates of :data:`DEFECTS` (exact counts in the manifest): republications in a
later file, exact duplicates in the same file, modifications, missing or future notification dates
(quarantined by the reader), missing fields, numbers as text, invalid supplier SIRETs, zero amounts,
and contracts whose social status is unknown (no ``considerationsSociales`` key, or an empty list).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from ..identifiers import siret_valid
from ..io import write_text
from .ids import invalid_siret, siret
from .region import CALIBRATION_REGION, Region, postcode, profile

#: National share of contracts with a social consideration, by notification year: the published
#: OECP figures (:data:`analysis.config.NATIONAL_SHARE`), and for the years without one an
#: interpolation or an assumption, stated.
YEAR_SHARE = {
    2018: (0.115, "interpolé entre 2013 (6,1 %) et 2019 (12,5 %)"),
    **config.NATIONAL_SHARE,
    2024: (0.205, "hypothèse : reprise de la hausse vers l'objectif 2025"),
    2025: (0.225, "hypothèse : reprise de la hausse vers l'objectif 2025"),
}

#: Buyer types: (French label, planted log-odds effect, contracts per buyer per year at scale 1).
BUYER_TYPES = {
    "region": ("Région", 0.45, 600),
    "departement": ("Département", 0.30, 270),
    "commune": ("Commune", -0.35, 85),
    "ept": ("Établissement public territorial", 0.10, 105),
    "bailleur": ("Bailleur social", 0.60, 140),
    "sgp": ("Société des grands projets", 1.10, 230),
    "hopital": ("Établissement de santé", -0.55, 290),
    "etat": ("Service de l'État", -0.25, 195),
}

#: Outside Île-de-France: the communes' EPCI take the place of the EPT (same effect and volume),
#: and there is no Société des grands projets.
EPCI_TYPE = ("Établissement public de coopération intercommunale", 0.10, 105)


def buyer_types(region: Region | None = None) -> dict[str, tuple[str, float, int]]:
    """The buyer types of a région: :data:`BUYER_TYPES` for Île-de-France; elsewhere without
    ``ept`` and ``sgp``, with ``epci`` (:data:`EPCI_TYPE`)."""
    if region is None or region.is_calibration:
        return BUYER_TYPES
    out: dict[str, tuple[str, float, int]] = {}
    for kind, value in BUYER_TYPES.items():
        if kind in ("ept", "sgp"):
            continue
        out[kind] = value
        if kind == "commune":
            out["epci"] = EPCI_TYPE
    return out

#: Planted awards to inclusive suppliers: the probability that a contract of a buyer type goes to
#: a structure of the inclusive directory (its SIRET as holder), and the share of those going to
#: the disability sector (EA, ESAT) rather than to an SIAE (EI, ETTI, AI, ACI, GEIQ). Drawn from a
#: stream of their own, so that every other figure of the data set is unchanged.
INCLUSIVE_RATES = {"region": 0.06, "departement": 0.05, "commune": 0.03, "ept": 0.04,
                   "bailleur": 0.08, "sgp": 0.02, "hopital": 0.015, "etat": 0.025,
                   "epci": 0.04}
INCLUSIVE_DISABILITY_SHARE = 0.30
_SIAE_TYPES = ("EI", "ETTI", "AI", "ACI", "GEIQ")
_DISABILITY_TYPES = ("EA", "ESAT")

#: Sectors: (CPV code, CCAG, planted log-odds effect, share of contracts, median amount in euros).
SECTORS = {
    "travaux": ("45000000-7", "Travaux", 0.55, 0.30, 160_000),
    "nettoyage": ("90910000-9", "Fournitures courantes et services", 0.50, 0.10, 60_000),
    "espaces_verts": ("77310000-6", "Fournitures courantes et services", 0.45, 0.07, 45_000),
    "informatique": ("72000000-5", "Techniques de l'information et de la communication", -0.70,
                     0.14, 80_000),
    "fournitures": ("30190000-7", "Fournitures courantes et services", -0.60, 0.23, 35_000),
    "etudes": ("71000000-8", "Prestations intellectuelles", -0.40, 0.16, 50_000),
}

#: Planted département effects on the log-odds (place of execution), Île-de-France; another
#: région's départements get these values in code order (:meth:`.region.Region.cycle`).
DEPARTEMENT_EFFECTS = {"75": 0.20, "77": -0.25, "78": -0.10, "91": 0.00, "92": 0.10, "93": 0.35,
                       "94": 0.15, "95": -0.15}


def departement_effects(region: Region | None = None) -> dict[str, float]:
    """The planted département effects of a région (:data:`DEPARTEMENT_EFFECTS` for
    Île-de-France)."""
    if region is None or region.is_calibration:
        return DEPARTEMENT_EFFECTS
    return region.cycle(list(DEPARTEMENT_EFFECTS.values()))

#: Kinds of consideration among contracts that have one (independent draws; at least a clause).
KIND_SHARES = {"Clause sociale": 0.80, "Critère social": 0.30, "Marché réservé": 0.07}

#: Defect rates per contract generated (exact counts in the manifest).
DEFECTS = {
    "republication": 0.020,        # published again in the buyer's next file, later publication date
    "exact_duplicate": 0.005,      # the same record twice in the same file
    "modification": 0.050,         # one or two modifications (amount, duration, supplier)
    "missing_date": 0.003,         # no dateNotification: quarantined
    "future_date": 0.001,          # dateNotification in 2099: quarantined
    "missing_procedure": 0.010,
    "missing_cpv": 0.005,
    "missing_place": 0.010,        # no lieuExecution: in no territory
    "amount_as_text": 0.010,       # "montant": "12 345,60"
    "duration_as_text": 0.010,     # "dureeMois": "12"
    "zero_amount": 0.005,          # "montant": 0
    "invalid_supplier_siret": 0.003,
    "no_considerations_key": 0.010,  # social status unknown
    "empty_considerations": 0.005,   # "considerationsSociales": [] : unknown as well
}

DEFECT_NAMES = list(DEFECTS)
DEFECT_RATES = np.array(list(DEFECTS.values()))

#: Median amount of the Société des grands projets' works contracts (Grand Paris Express lots).
SGP_WORKS_MEDIAN = 15_000_000

#: Procedure thresholds (HT) by kind of purchase: works / supplies and services.
MAPA_LIMIT = {"travaux": 5_538_000, "other": 221_000}
NO_PUBLICITY_LIMIT = 40_000


@dataclass(frozen=True)
class Buyer:
    siret: str
    name: str
    kind: str
    departement: str | None  # None: buys across the région
    shape: str                # "nested" | "flat"
    profile: str | None = None  # a planted contrasting profile (:data:`BUYER_PROFILES`)

    @property
    def effect(self) -> float:
        """The buyer's own log-odds effect (0 unless it has a planted profile)."""
        return BUYER_PROFILES[self.profile][1] if self.profile else 0.0


#: Buyers with contrasting profiles (issue 16, point 6): a log-odds effect of their own, added to
#: their type's, so that buyer sheets have something to tell apart. (French label, effect.)
BUYER_PROFILES = {
    "engage": ("acheteur très engagé", 2.0),
    "sans_clause": ("acheteur sans considération sociale", -6.0),
}
#: Which buyers carry a profile: (département, commune number) of a commune buyer.
PROFILED_COMMUNES = {("93", 2): "engage", ("78", 1): "engage",
                     ("77", 3): "sans_clause", ("91", 2): "sans_clause"}


#: Outside Île-de-France, one commune buyer per this many inhabitants of a département (Île-de-France
#: has 45 for 12.2 M), between :data:`COMMUNE_BUYERS_RANGE`; one EPCI buyer per
#: :data:`EPCI_BUYER_POPULATION` inhabitants (Île-de-France: 10 EPT for 4.7 M), at least one.
COMMUNE_BUYER_POPULATION = 270_000
COMMUNE_BUYERS_RANGE = (2, 6)
EPCI_BUYER_POPULATION = 460_000


def buyers(rng: np.random.Generator, region: Region | None = None,
           communes: pd.DataFrame | None = None) -> list[Buyer]:
    """The buyers of the synthetic région: several per département, of every type.

    Parameters
    ----------
    rng
        The buyers' random stream (shapes and SIRETs).
    region
        The région (default: the one in force); Île-de-France's buyers are its historical list.
    communes
        The région's reference communes (``code_insee, departement, epci_code, epci_nom,
        population_municipale, type``), for its EPCI; default: the reference file.
    """
    region = region or profile()
    if not region.is_calibration:
        return _other_buyers(rng, region, communes)
    out: list[Buyer] = []

    def add(kind: str, name: str, dep: str | None, profile: str | None = None) -> None:
        shape = "flat" if rng.random() < 0.3 else "nested"
        out.append(Buyer(siret(rng), name, kind, dep, shape, profile))

    add("region", "Région Île-de-France", None)
    add("sgp", "Société des grands projets", None)
    add("hopital", "Assistance publique – Hôpitaux de Paris", None)
    add("etat", "Préfecture de la région d'Île-de-France", None)
    ept = {"92": ["Paris Ouest La Défense", "Grand Paris Seine Ouest", "Vallée Sud Grand Paris",
                  "Boucle Nord de Seine"],
           "93": ["Plaine Commune", "Est Ensemble", "Paris Terres d'Envol"],
           "94": ["Grand-Orly Seine Bièvre", "Paris Est Marne et Bois", "Grand Paris Sud Est Avenir"]}
    for dep, dep_name in region.departements.items():
        add("departement", "Ville de Paris" if dep == "75" else f"Département {dep_name}", dep)
        for n in range(6 if dep != "75" else 3):
            add("commune", f"Commune de {dep_name} n° {n + 1}", dep,
                PROFILED_COMMUNES.get((dep, n + 1)))
        for name in ept.get(dep, []):
            add("ept", f"EPT {name}", dep)
        add("bailleur", f"Office public de l'habitat ({dep_name})", dep)
        add("bailleur", f"Société anonyme d'HLM ({dep_name})", dep)
        add("hopital", f"Centre hospitalier ({dep_name})", dep)
        add("etat", f"Préfecture ({dep_name})", dep)
    return out


def _epci_by_departement(communes: pd.DataFrame, region: Region) -> dict[str, list[str]]:
    """Names of the EPCI buyers of each département: its most populous EPCI (an EPCI belongs
    to the département holding most of its population), one per
    :data:`EPCI_BUYER_POPULATION` inhabitants, at least one when it has any."""
    com = communes[(communes["type"] == "COM") & communes["epci_code"].notna()]
    by = (com.groupby(["epci_code", "epci_nom", "departement"], as_index=False)
          ["population_municipale"].sum()
          .sort_values(["epci_code", "population_municipale", "departement"],
                       ascending=[True, False, True]))
    home = by.drop_duplicates("epci_code")
    totals = com.groupby("epci_code")["population_municipale"].sum()
    home = home.assign(total=home["epci_code"].map(totals).to_numpy()).sort_values(
        ["total", "epci_code"], ascending=[False, True])
    out = {}
    for (dep, _), pop in zip(region.departements_items, region.populations):
        wanted = max(1, int(round(pop / EPCI_BUYER_POPULATION)))
        out[dep] = home.loc[home["departement"] == dep, "epci_nom"].astype(str).tolist()[:wanted]
    return out


def _other_buyers(rng: np.random.Generator, region: Region,
                  communes: pd.DataFrame | None) -> list[Buyer]:
    """The buyers of a région other than Île-de-France (see :func:`buyers`)."""
    if communes is None:
        from ..reference import commune_table
        from .region import communes_path

        communes = commune_table(communes_path(region.code))
    epci = _epci_by_departement(communes, region)
    out: list[Buyer] = []

    def add(kind: str, name: str, dep: str | None) -> None:
        shape = "flat" if rng.random() < 0.3 else "nested"
        out.append(Buyer(siret(rng), name, kind, dep, shape))

    add("region", "Collectivité de Corse" if region.code == "94" else f"Région {region.name}",
        None)
    add("hopital", f"Centre hospitalier universitaire – {region.name}", None)
    add("etat", f"Préfecture de la région {region.name}", None)
    low, high = COMMUNE_BUYERS_RANGE
    for (dep, dep_name), pop in zip(region.departements_items, region.populations):
        add("departement", f"Département {dep_name}", dep)
        for n in range(min(high, max(low, int(round(pop / COMMUNE_BUYER_POPULATION))))):
            add("commune", f"Commune de {dep_name} n° {n + 1}", dep)
        for name in epci[dep]:
            add("epci", name, dep)
        add("bailleur", f"Office public de l'habitat ({dep_name})", dep)
        add("bailleur", f"Société anonyme d'HLM ({dep_name})", dep)
        add("hopital", f"Centre hospitalier ({dep_name})", dep)
        add("etat", f"Préfecture ({dep_name})", dep)
    # Planted contrasting profiles: the second commune buyer is very engaged, the last one
    # never has a social consideration (when there are at least three).
    communes_idx = [i for i, b in enumerate(out) if b.kind == "commune"]
    profiles = {communes_idx[1]: "engage"} if len(communes_idx) >= 2 else {}
    if len(communes_idx) >= 3:
        profiles[communes_idx[-1]] = "sans_clause"
    return [replace(b, profile=profiles[i]) if i in profiles else b for i, b in enumerate(out)]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _composition(buyer_list: list[Buyer], region: Region | None = None) -> pd.DataFrame:
    """Expected mix of (buyer type, sector, département) cells with their weights."""
    region = region or profile()
    types = buyer_types(region)
    sector_names = list(SECTORS)
    sector_w = np.array([SECTORS[s][3] for s in sector_names])
    sector_w = sector_w / sector_w.sum()
    rows = []
    deps = list(region.departements)
    for buyer in buyer_list:
        volume = types[buyer.kind][2]
        places = [buyer.departement] if buyer.departement else deps
        for dep in places:
            for sector, w in zip(sector_names, sector_w):
                rows.append((buyer.kind, buyer.effect, sector, dep, volume * w / len(places)))
    frame = pd.DataFrame(rows, columns=["kind", "own", "sector", "dep", "weight"])
    return frame.groupby(["kind", "own", "sector", "dep"], as_index=False)["weight"].sum()


def solve_year_levels(buyer_list: list[Buyer], years: range,
                      region: Region | None = None) -> dict[int, float]:
    """α(year) such that the expected share over the generated mix equals :data:`YEAR_SHARE`."""
    region = region or profile()
    types = buyer_types(region)
    mix = _composition(buyer_list, region)
    effects = (mix["kind"].map(lambda k: types[k][1]).to_numpy() + mix["own"].to_numpy()
               + mix["sector"].map(lambda s: SECTORS[s][2]).to_numpy()
               + mix["dep"].map(departement_effects(region)).to_numpy())
    weights = mix["weight"].to_numpy() / mix["weight"].sum()
    levels = {}
    for year in years:
        target = YEAR_SHARE.get(year, YEAR_SHARE[max(YEAR_SHARE)])[0]
        low, high = -10.0, 10.0
        for _ in range(80):  # bisection: the expected share is increasing in α
            mid = (low + high) / 2
            if float(np.dot(weights, _sigmoid(mid + effects))) < target:
                low = mid
            else:
                high = mid
        levels[year] = (low + high) / 2
    return levels


def _procedure(rng: np.random.Generator, amount: float, sector: str) -> str:
    if amount < NO_PUBLICITY_LIMIT:
        return ("Marché passé sans publicité ni mise en concurrence préalable"
                if rng.random() < 0.7 else "Procédure adaptée")
    limit = MAPA_LIMIT["travaux" if sector == "travaux" else "other"]
    if amount < limit:
        return "Procédure adaptée"
    draw = rng.random()
    if draw < 0.75:
        return "Appel d'offres ouvert"
    if draw < 0.88:
        return "Appel d'offres restreint"
    if draw < 0.97:
        return "Procédure avec négociation"
    return "Dialogue compétitif"


def _cdf(p: np.ndarray) -> np.ndarray:
    """Cumulative probabilities, computed from ``p`` exactly as ``Generator.choice`` does."""
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return cdf


def _share(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def _weighted(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """``int(rng.choice(len(cdf), p=p))`` for ``cdf = _cdf(p)``: the same draw, a fraction of
    the cost (``choice`` re-validates ``p`` at every call)."""
    return int(cdf.searchsorted(rng.random(), side="right"))


def kinds_of(record: dict) -> list:
    """The considerationsSociales values of a generated record, in either shape."""
    value = record.get("considerationsSociales")
    return value.get("considerationSociale", []) if isinstance(value, dict) else value or []


def _count_warnings(records: list[dict], expected: dict[str, int]) -> None:
    """Count the warnings the reader must raise on records it keeps or merges (not rejected ones)."""
    for record in records:
        notified = record.get("dateNotification")
        if notified is None or notified.startswith("2099"):
            continue
        if record.get("montant") == 0:
            expected["montant nul ou négatif"] += 1
        supplier = record["titulaires"][0]["titulaire"]["id"]
        if not siret_valid(supplier):
            expected["titulaire : SIRET invalide"] += 1


def _french_amount(amount: float) -> str:
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",")


class _Writer:
    """Collects one year's records per buyer and writes them as that buyer publishes."""

    def __init__(self, folder: Path):
        self.folder = folder

    def close(self) -> None:
        """Nothing to finish: every file is complete when written."""

    def write(self, year: int, buyer: Buyer, records: list[dict]) -> None:
        if not records:
            return
        if buyer.shape == "nested":
            document = {"marches": {"marche": records}}
        else:
            document = {"marches": records}
        write_text(self.folder / str(year) / f"{buyer.siret}.json",
                   json.dumps(document, ensure_ascii=False, separators=(",", ":")))


class _ConsolidatedWriter:
    """Streams every record into one national-style file, ``decp/decp_consolide.json``
    (``{"marches": {"marche": [...]}}``, nested values), written aside and renamed when complete.

    Memory does not grow with the file: records are written as each buyer-year is generated.
    """

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.target = folder / "decp_consolide.json"
        self.tmp = folder / ".decp_consolide.json.tmp"
        self.handle = open(self.tmp, "w", encoding="utf-8")
        self.handle.write('{"marches":{"marche":[')
        self.first = True

    def write(self, year: int, buyer: Buyer, records: list[dict]) -> None:
        for record in records:
            if isinstance(record.get("considerationsSociales"), list):
                record = dict(record, considerationsSociales={
                    "considerationSociale": record["considerationsSociales"]})
            self.handle.write(("" if self.first else ",")
                              + json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            self.first = False

    def close(self) -> None:
        self.handle.write("]}}")
        self.handle.close()
        self.tmp.replace(self.target)


#: Company categories of the suppliers in the tabular layout (INSEE), with their shares.
SUPPLIER_CATEGORIES = {"PME": 0.72, "ETI": 0.18, "GE": 0.10}
#: Share of contracts given a co-contractor (a second supplier) in the tabular layout.
CO_CONTRACTOR_SHARE = 0.12
#: Rows per Parquet row group in the tabular layout (a reader can stream them).
ROW_GROUP = 100_000

_TABULAR_SCHEMA = [
    ("uid", "string"), ("id", "string"), ("nature", "string"), ("acheteur_id", "int64"),
    ("acheteur_nom", "string"), ("titulaire_id", "int64"), ("titulaire_typeIdentifiant", "string"),
    ("objet", "string"), ("montant", "float64"), ("type", "string"), ("codeCPV", "string"),
    ("procedure", "string"), ("dureeMois", "int64"), ("dateNotification", "date32"),
    ("datePublicationDonnees", "date32"), ("considerationsSociales", "string"),
    ("considerationsEnvironnementales", "string"), ("ccag", "string"),
    ("lieuExecution_code", "int64"), ("lieuExecution_typeCode", "string"),
    ("acheteur_categorie", "string"), ("acheteur_departement_code", "string"),
    ("acheteur_region_code", "string"), ("titulaire_categorie", "string"),
    ("modification_id", "int64"), ("donneesActuelles", "bool_"), ("sourceDataset", "string"),
]


def _integer(value) -> int | None:
    """A code or identifier as decp-processing types it: an integer (leading zeros lost), or
    missing when it is not made of digits."""
    text = "" if value is None else str(value).strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _tabular_number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value).replace("\u00a0", "").replace(" ", "").replace(",", "."))


def _day(text: str | None) -> date | None:
    """A date column's value: missing when the text is not a date (« 2099-02-29 »)."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _purchase_type(cpv: str | None) -> str | None:
    """Supplies, services or works, from the CPV division (45 works; up to 44 and 48
    supplies)."""
    if not cpv or not cpv[:2].isdigit():
        return None
    division = int(cpv[:2])
    return "Travaux" if division == 45 else (
        "Fournitures" if division < 45 or division == 48 else "Services")


def _sans_objet(values: list, none: str) -> str | None:
    """Multi-values joined with ``", "``, « Sans objet » for « Pas de considération … »; missing
    when the record says nothing."""
    if not values:
        return None
    return ", ".join("Sans objet" if value == none else value for value in values)


class _TabularWriter:
    """One national consolidated table as decp-processing 2.x publishes it,
    ``decp/decp_consolide.parquet`` (or ``.csv``): one row per contract × state × supplier.

    A contract's states are ``modification_id`` 0 (as notified) then one per modification, each
    row carrying that state's notification and publication dates, amount, duration and
    suppliers (the earlier values carried forward); ``donneesActuelles`` marks the latest.
    Rows are sorted by ``uid``, then ``dateNotification`` descending (the latest state first).
    Identifiers and place codes are integers, « Pas de considération sociale » is written
    « Sans objet », and the table carries the buyer's category and place, the suppliers'
    categories (PME, ETI, GE) and ``sourceDataset``. A contract published again (republication,
    exact duplicate) is written once, as the consolidated table deduplicates them; a
    co-contractor is added to some contracts (:data:`CO_CONTRACTOR_SHARE`, drawn from a stream
    of its own: the other sources do not change).
    """

    suffix = ".parquet"

    def __init__(self, folder: Path, seed: int = 0):
        folder.mkdir(parents=True, exist_ok=True)
        self.target = folder / f"decp_consolide{self.suffix}"
        self.rng = np.random.default_rng([seed, 15])
        self.seen: set[str] = set()
        self.tables: list = []
        self.categories = list(SUPPLIER_CATEGORIES)
        self.category_cdf = _cdf(np.array(list(SUPPLIER_CATEGORIES.values())))
        self.region_code = "11"
        self.types = BUYER_TYPES

    def _supplier(self, supplier_id: str | None, kind: str | None) -> tuple:
        category = self.categories[_weighted(self.rng, self.category_cdf)]
        return (_integer(supplier_id), kind, category)

    def write(self, year: int, buyer: Buyer, records: list[dict]) -> None:
        import pyarrow as pa

        columns: dict[str, list] = {name: [] for name, _ in _TABULAR_SCHEMA}
        label = self.types[buyer.kind][0]
        for record in records:
            uid = f"{buyer.siret}{record['id']}"
            if uid in self.seen:  # republished or repeated: one contract in the table
                continue
            self.seen.add(uid)
            suppliers = [self._supplier(item["titulaire"].get("id"),
                                        item["titulaire"].get("typeIdentifiant"))
                         for item in record.get("titulaires", [])]
            if self.rng.random() < CO_CONTRACTOR_SHARE:
                suppliers.append(self._supplier(siret(self.rng), "SIRET"))
            states = [(record.get("dateNotification"), record.get("datePublicationDonnees"),
                       _tabular_number(record.get("montant")),
                       _integer(record.get("dureeMois")))]
            for item in record.get("modifications", []):
                mod = item["modification"]
                before = states[-1]
                states.append((mod.get("dateNotificationModification"),
                               mod.get("datePublicationDonneesModification"),
                               _tabular_number(mod.get("montant")) or before[2],
                               _integer(mod.get("dureeMois")) or before[3]))
            place = record.get("lieuExecution") or {}
            cpv = record.get("codeCPV")
            social = None if "considerationsSociales" not in record else _sans_objet(
                kinds_of(record), "Pas de considération sociale")
            environment = _sans_objet(
                (record.get("considerationsEnvironnementales") or {}).get(
                    "considerationEnvironnementale", []), "Pas de considération environnementale")
            fixed = {
                "uid": uid, "id": record["id"], "nature": record.get("nature"),
                "acheteur_id": _integer(buyer.siret), "acheteur_nom": buyer.name,
                "objet": record.get("objet"),
                "type": _purchase_type(cpv),
                "codeCPV": cpv, "procedure": record.get("procedure"),
                "considerationsSociales": social, "considerationsEnvironnementales": environment,
                "ccag": record.get("ccag"), "lieuExecution_code": _integer(place.get("code")),
                "lieuExecution_typeCode": place.get("typeCode"), "acheteur_categorie": label,
                "acheteur_departement_code": buyer.departement, "acheteur_region_code": self.region_code,
                "sourceDataset": "decp_synthetique",
            }
            for number, (notified, published, amount, duration) in enumerate(states):
                for supplier_id, kind, category in suppliers:
                    for name, value in fixed.items():
                        columns[name].append(value)
                    columns["titulaire_id"].append(supplier_id)
                    columns["titulaire_typeIdentifiant"].append(kind)
                    columns["titulaire_categorie"].append(category)
                    columns["montant"].append(amount)
                    columns["dureeMois"].append(duration)
                    columns["dateNotification"].append(_day(notified))
                    columns["datePublicationDonnees"].append(_day(published))
                    columns["modification_id"].append(number)
                    columns["donneesActuelles"].append(number == len(states) - 1)
        if columns["uid"]:
            self.tables.append(pa.table({name: pa.array(columns[name], type=getattr(pa, kind)())
                                         for name, kind in _TABULAR_SCHEMA}))

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in _TABULAR_SCHEMA])
        table = pa.concat_tables(self.tables) if self.tables else schema.empty_table()
        self.tables = []
        order = pc.sort_indices(table, sort_keys=[("uid", "ascending"),
                                                  ("dateNotification", "descending")])
        table = table.take(order)
        tmp = self.target.with_name(f".{self.target.name}.tmp")
        self._write(table, tmp)
        tmp.replace(self.target)

    def _write(self, table, path: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(table, path, row_group_size=ROW_GROUP)


class _TabularCsvWriter(_TabularWriter):
    """The same table as CSV (comma-separated, UTF-8, dates ``AAAA-MM-JJ``)."""

    suffix = ".csv"

    def _write(self, table, path: Path) -> None:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)


#: How the DECP publications are laid out: one file per buyer and year, one consolidated JSON
#: file, or one consolidated table as decp-processing publishes it (Parquet or CSV).
LAYOUTS = {"buyers": _Writer, "consolidated": _ConsolidatedWriter, "tabular": _TabularWriter,
           "tabular-csv": _TabularCsvWriter}


def generate(out: Path, seed: int = config.DEFAULT_SEED, first_year: int = 2018,
             last_year: int = 2025, scale: float = 1.0,
             communes: pd.DataFrame | None = None,
             layout: str = "buyers",
             inclusive: pd.DataFrame | None = None,
             region: Region | None = None) -> tuple[dict, pd.DataFrame]:
    """Write ``out/decp/<year>/<siret>.json`` and ``out/acheteurs/acheteurs.csv``.

    Parameters
    ----------
    out
        The folder to write in (laid out like ``data/raw/``).
    seed
        Random seed: the same seed, years and scale give byte-identical files.
    first_year, last_year
        Notification years.
    scale
        Multiplies the number of contracts: 1 is Île-de-France (about 16 000 contracts a year),
        10 about national volume. For another région the caller has already multiplied it by
        the région's population factor; each buyer's volume is further multiplied by
        Île-de-France's total volume over the région's buyers' (``volume_factor`` in the
        manifest), so that contracts follow population whatever the number of buyers.
    communes
        Reference communes (``code_insee``, ``departement``, ``population_municipale``, ``type``,
        ``epci_code``, ``epci_nom``) of the région; default: the committed reference geography.
    layout
        ``"buyers"``: one file per buyer and year, in the buyer's own shape (default);
        ``"consolidated"``: one national-style file ``decp/decp_consolide.json``;
        ``"tabular"`` (``"tabular-csv"``): one consolidated table as decp-processing publishes
        it, ``decp/decp_consolide.parquet`` (``.csv``), see :class:`_TabularWriter`.
    inclusive
        The structures directory (``siret``, ``type``): when given, contracts are awarded to its
        structures at :data:`INCLUSIVE_RATES` by buyer type (a stream of draws of its own: the
        other figures do not change); the truth goes into the manifest (``inclusive_awards``).
    region
        The région (:func:`analysis.synthetic.region.profile`; default: the one in force).

    Returns
    -------
    (manifest, contracts)
        The manifest section (model, defect counts, buyers) and a light table of the contracts
        generated (``uid, acheteur_id, acheteur_nom, acheteur_type, departement, annee, secteur,
        social, dateNotification, montant``) that the other sources link to.
    """
    region = region or profile()
    types = buyer_types(region)
    dep_effects = departement_effects(region)
    if communes is None:
        from ..reference import commune_table
        from .region import communes_path

        communes = commune_table(communes_path(region.code))
    all_communes = communes
    communes = communes[communes["type"] == "COM"]
    # Weighted draws are made as ``Generator.choice(n, p=...)`` makes them (one ``random()`` then
    # a search in the normalised cumulative weights), with the cumulative weights computed once:
    # the same draws, without re-checking the weights on every contract.
    by_dep = {dep: (g["code_insee"].to_numpy(),
                    _cdf(_share(g["population_municipale"].to_numpy(float))))
              for dep, g in communes.groupby("departement")}
    root = np.random.SeedSequence(seed)
    buyer_list = buyers(np.random.default_rng(root.spawn(1)[0]), region, all_communes)
    years = range(first_year, last_year + 1)
    levels = solve_year_levels(buyer_list, years, region)
    if region.is_calibration:
        volume = scale
        volume_factor = 1.0
    else:
        # Île-de-France's buyers at scale 1 (their number does not depend on the draws).
        reference = buyers(np.random.default_rng(0), profile(CALIBRATION_REGION))
        volume_factor = (sum(BUYER_TYPES[b.kind][2] for b in reference)
                         / sum(types[b.kind][2] for b in buyer_list))
        volume = scale * volume_factor
    sector_names = list(SECTORS)
    sector_w = np.array([SECTORS[s][3] for s in sector_names])
    sector_w = sector_w / sector_w.sum()
    sector_cdf = _cdf(sector_w)
    deps = list(region.departements)

    counts = {k: 0 for k in DEFECTS} | {"contracts": 0, "records_published": 0}
    expected_warnings = {"montant nul ou négatif": 0, "titulaire : SIRET invalide": 0,
                         "montant illisible": 0, "acheteur.id : SIRET invalide": 0}
    unknown_kept: set[str] = set()
    yearly = {}
    light: list[tuple] = []
    if layout not in LAYOUTS:
        raise ValueError(f"disposition inconnue : {layout!r} ({', '.join(LAYOUTS)})")
    writer = (LAYOUTS[layout](out / "decp", seed) if layout.startswith("tabular")
              else LAYOUTS[layout](out / "decp"))
    if layout.startswith("tabular"):
        writer.region_code, writer.types = region.code, types
    pending: dict[str, list[dict]] = {}  # republications due in the buyer's next file
    year_streams = root.spawn(len(years) + 1)[1:]
    # Spawned after the others: their streams, hence every other draw, stay as they were.
    inclusive_rng = np.random.default_rng(root.spawn(1)[0])
    siae = disability = None
    if inclusive is not None and not inclusive.empty:
        kinds = inclusive["type"].astype(str)
        siae = inclusive.loc[kinds.isin(_SIAE_TYPES), "siret"].astype(str).to_numpy()
        disability = inclusive.loc[kinds.isin(_DISABILITY_TYPES), "siret"].astype(str).to_numpy()
    planted = {kind: {"contracts": 0, "inclusive": 0, "siae": 0, "ea_esat": 0}
               for kind in types}
    profiled = {b.siret: {"contracts": 0, "expected": 0.0, "social": 0}
                for b in buyer_list if b.profile}
    for year, stream in zip(years, year_streams):
        rng = np.random.default_rng(stream)
        social_count = total = 0
        for buyer in buyer_list:
            label, type_effect, per_year = types[buyer.kind]
            growth = 1 + 0.03 * (year - first_year)
            n = int(rng.poisson(per_year * volume * growth))
            records = pending.pop(buyer.siret, [])
            for seq in range(n):
                sector = sector_names[_weighted(rng, sector_cdf)]
                cpv, ccag, sector_effect, _, median = SECTORS[sector]
                if buyer.kind == "sgp" and sector == "travaux":
                    median = SGP_WORKS_MEDIAN  # Grand Paris Express lots
                dep = buyer.departement or deps[int(rng.integers(0, len(deps)))]
                codes, commune_cdf = by_dep[dep]
                commune = str(codes[_weighted(rng, commune_cdf)])
                eta = (levels[year] + type_effect + buyer.effect + sector_effect
                       + dep_effects[dep])
                social = bool(rng.random() < _sigmoid(eta))
                if buyer.profile:
                    tally_profile = profiled[buyer.siret]
                    tally_profile["contracts"] += 1
                    tally_profile["expected"] += float(_sigmoid(eta))
                    tally_profile["social"] += social
                amount = round(float(median * math.exp(rng.normal(0, 1.15))), 2)
                notified = date(year, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
                ident = f"{year}-{buyer.siret[9:]}-{seq:06d}"
                if social:
                    kinds = [k for k, share in KIND_SHARES.items() if rng.random() < share]
                    kinds = kinds or ["Clause sociale"]
                else:
                    kinds = ["Pas de considération sociale"]
                if rng.random() < 0.3:
                    place = {"code": postcode(commune, int(rng.integers(0, 1000)))
                             if dep != "75" else f"750{int(rng.integers(1, 21)):02d}",
                             "typeCode": "Code postal"}
                else:
                    place = {"code": commune, "typeCode": "Code commune"}
                duration = int(rng.choice([3, 6, 12, 24, 36, 48]))
                record: dict = {
                    "id": ident,
                    "acheteur": {"id": buyer.siret},
                    "nature": "Marché",
                    "objet": f"{sector.replace('_', ' ').capitalize()} – {label.lower()} – lot {seq + 1}",
                    "codeCPV": cpv,
                    "ccag": ccag,
                    "procedure": _procedure(rng, amount, sector),
                    "lieuExecution": place,
                    "dureeMois": duration,
                    "dateNotification": notified.isoformat(),
                    "datePublicationDonnees": (notified + timedelta(
                        days=int(rng.integers(1, 60)))).isoformat(),
                    "montant": amount,
                    "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": siret(rng)}}],
                    "considerationsSociales": (
                        {"considerationSociale": kinds} if buyer.shape == "nested" else kinds),
                    "considerationsEnvironnementales": {"considerationEnvironnementale": [
                        "Clause environnementale" if rng.random() < 0.35
                        else "Pas de considération environnementale"]},
                }
                counts["contracts"] += 1
                total += 1
                social_count += social
                light.append((f"{buyer.siret}_{ident}", buyer.siret, buyer.name, buyer.kind, dep,
                              year, sector, social, notified, amount))
                # One draw per defect, in DEFECTS order (the same numbers as one random() each).
                draws = dict(zip(DEFECT_NAMES, (rng.random(len(DEFECT_NAMES)) < DEFECT_RATES).tolist()))
                if draws["modification"]:
                    counts["modification"] += 1
                    mods = []
                    for k in range(1 + int(rng.random() < 0.2)):
                        mods.append({"modification": {
                            "id": k + 1, "montant": round(amount * (1.1 + 0.1 * k), 2),
                            "dureeMois": duration + 6 * (k + 1),
                            "dateNotificationModification": (notified + timedelta(days=120 * (k + 1))).isoformat(),
                            "datePublicationDonneesModification": (notified + timedelta(days=125 * (k + 1))).isoformat(),
                        }})
                    record["modifications"] = mods
                for field_name, key in (("missing_procedure", "procedure"), ("missing_cpv", "codeCPV"),
                                        ("missing_place", "lieuExecution")):
                    if draws[field_name]:
                        counts[field_name] += 1
                        record.pop(key)
                if draws["zero_amount"]:
                    counts["zero_amount"] += 1
                    record["montant"] = 0
                elif draws["amount_as_text"]:
                    counts["amount_as_text"] += 1
                    record["montant"] = _french_amount(amount)
                if draws["duration_as_text"]:
                    counts["duration_as_text"] += 1
                    record["dureeMois"] = str(duration)
                if draws["invalid_supplier_siret"]:
                    counts["invalid_supplier_siret"] += 1
                    record["titulaires"][0]["titulaire"]["id"] = invalid_siret(rng)
                if siae is not None and len(siae) and len(disability):
                    u, family, pick = inclusive_rng.random(3)
                    tally = planted[buyer.kind]
                    tally["contracts"] += 1
                    if u < INCLUSIVE_RATES[buyer.kind] and not draws["invalid_supplier_siret"]:
                        pool, name = ((disability, "ea_esat")
                                      if family < INCLUSIVE_DISABILITY_SHARE else (siae, "siae"))
                        record["titulaires"][0]["titulaire"]["id"] = str(
                            pool[int(pick * len(pool))])
                        tally["inclusive"] += 1
                        tally[name] += 1
                if draws["no_considerations_key"]:
                    counts["no_considerations_key"] += 1
                    record.pop("considerationsSociales")
                elif draws["empty_considerations"]:
                    counts["empty_considerations"] += 1
                    record["considerationsSociales"] = (
                        {"considerationSociale": []} if buyer.shape == "nested" else [])
                quarantined = False
                if draws["missing_date"]:
                    counts["missing_date"] += 1
                    record.pop("dateNotification")
                    quarantined = True
                elif draws["future_date"]:
                    counts["future_date"] += 1
                    record["dateNotification"] = f"2099{record['dateNotification'][4:]}"
                    quarantined = True
                records.append(record)
                if quarantined:
                    continue
                if "considerationsSociales" not in record or not kinds_of(record):
                    unknown_kept.add(ident)
                if draws["exact_duplicate"]:
                    counts["exact_duplicate"] += 1
                    records.append(record)
                if draws["republication"] and year < last_year:
                    counts["republication"] += 1
                    again = dict(record)
                    again["datePublicationDonnees"] = date(year + 1, 1, 15).isoformat()
                    pending.setdefault(buyer.siret, []).append(again)
            counts["records_published"] += len(records)
            _count_warnings(records, expected_warnings)
            writer.write(year, buyer, records)
        yearly[str(year)] = {"contracts": total, "social": social_count,
                             "share": social_count / total if total else None}

    writer.close()
    directory = pd.DataFrame([{"SIRET": b.siret, "Nom": b.name, "Catégorie": types[b.kind][0],
                               "Département": b.departement or ""} for b in buyer_list])
    write_text(out / "acheteurs" / "acheteurs.csv",
               directory.to_csv(sep=";", index=False, lineterminator="\n"))
    contracts = pd.DataFrame(light, columns=["uid", "acheteur_id", "acheteur_nom", "acheteur_type",
                                             "departement", "annee", "secteur", "social",
                                             "dateNotification", "montant"])
    manifest = {
        "generator": "analysis.synthetic.decp",
        "seed": seed,
        "scale": scale,
        "years": [first_year, last_year],
        "layout": {"buyers": "decp/<année>/<SIRET acheteur>.json",
                   "consolidated": "decp/decp_consolide.json",
                   "tabular": "decp/decp_consolide.parquet (table consolidée, lignes marché × "
                              "état × titulaire)",
                   "tabular-csv": "decp/decp_consolide.csv (table consolidée, lignes marché × "
                                  "état × titulaire)"}[layout] + " ; acheteurs/acheteurs.csv",
        "model": {
            "description": (
                "logit P(au moins une considération sociale) = alpha(année) + beta(type d'acheteur)"
                " + beta_a (profil propre de quelques acheteurs, voir buyer_profiles)"
                " + gamma(secteur) + delta(département d'exécution) ; alpha(année) est résolu pour"
                " que la part attendue sur le mélange généré égale la part nationale publiée."),
            "target_share": {str(y): YEAR_SHARE.get(y, YEAR_SHARE[max(YEAR_SHARE)])[0] for y in years},
            "target_source": {str(y): YEAR_SHARE.get(y, YEAR_SHARE[max(YEAR_SHARE)])[1] for y in years},
            "year_level_logit": {str(y): levels[y] for y in years},
            "yearly_log_odds_trend": {
                "endpoint_difference_per_year": (levels[last_year] - levels[first_year])
                / max(1, last_year - first_year),
                "least_squares_slope": float(np.polyfit(list(years), [levels[y] for y in years], 1)[0])
                if len(years) > 1 else 0.0,
                "note": ("alpha(année) n'est pas linéaire (hausse en 2022, baisse en 2023) : un "
                         "modèle à tendance linéaire estime la pente des moindres carrés de "
                         "alpha ; un modèle avec l'année en facteur retrouve chaque alpha(année)."),
            },
            "buyer_type_effects": {k: v[1] for k, v in types.items()},
            "sector_effects": {k: v[2] for k, v in SECTORS.items()},
            "departement_effects": dep_effects,
            "reference_levels": "effets non centrés : chaque terme s'ajoute à alpha(année)",
            "kind_draw_probabilities_given_social": KIND_SHARES,
            "kind_expected_shares_given_social": {
                kind: share + (math.prod(1 - v for v in KIND_SHARES.values())
                               if kind == "Clause sociale" else 0.0)
                for kind, share in KIND_SHARES.items()},
            "kind_note": ("chaque type est tiré indépendamment ; un marché qui n'en tire aucun "
                          "reçoit une clause sociale : la part attendue des clauses est donc "
                          "0,80 + 0,2 × 0,7 × 0,93 ≈ 0,930"),
        },
        "generated": yearly,
        "defect_rates": DEFECTS,
        "counts": counts,
        "reader_expectations": {
            "rejected": counts["missing_date"] + counts["future_date"],
            "merged_duplicates": counts["republication"] + counts["exact_duplicate"],
            "kept_contracts": counts["contracts"] - counts["missing_date"] - counts["future_date"],
            "unknown_social_status": len(unknown_kept),
            "warnings_by_rule": expected_warnings,
        },
        "buyers": [{"siret": b.siret, "name": b.name, "type": b.kind,
                    "departement": b.departement, "shape": b.shape} for b in buyer_list],
        "buyer_profiles": {
            "description": ("acheteurs aux profils contrastés : un effet propre (log-odds) "
                            "s'ajoute à celui de leur type ; « part_attendue » est la moyenne des "
                            "probabilités du modèle sur leurs marchés générés (avant défauts), "
                            "« avec_consideration » le nombre tiré"),
            "buyers": [{"siret": b.siret, "name": b.name, "profile": b.profile,
                        "label": BUYER_PROFILES[b.profile][0],
                        "effect_logit": BUYER_PROFILES[b.profile][1],
                        "contracts": profiled[b.siret]["contracts"],
                        "avec_consideration": profiled[b.siret]["social"],
                        "part_attendue": (profiled[b.siret]["expected"]
                                          / profiled[b.siret]["contracts"]
                                          if profiled[b.siret]["contracts"] else None)}
                       for b in buyer_list if b.profile],
        },
    }
    if not region.is_calibration:
        manifest["volumes"] = {
            "description": ("contrats par acheteur et par an = volume du type x échelle effective "
                            "x volume_factor (volume total de l'Île-de-France à l'échelle 1 / "
                            "volume total des acheteurs de la région) x croissance de 3 % l'an : "
                            "le nombre de marchés suit la population de la région"),
            "effective_scale": scale,
            "volume_factor": volume_factor,
        }
    if siae is not None:
        manifest["inclusive_awards"] = {
            "description": ("part des marchés attribués à une structure de l'annuaire inclusif "
                            "(titulaire = son SIRET), par type d'acheteur ; parmi eux, part du "
                            "secteur du handicap (EA, ESAT)"),
            "rate_by_buyer_type": {types[k][0]: INCLUSIVE_RATES[k] for k in types},
            "disability_share": INCLUSIVE_DISABILITY_SHARE,
            "drawn_by_buyer_type": {types[k][0]: v for k, v in planted.items()},
        }
    return manifest, contracts
