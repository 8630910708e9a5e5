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
``OBSERVATOIRE_SUPPRESSION_K``
    the small-cell threshold; default 5.
``OBSERVATOIRE_STRICT_FIGURES``
    ``1``: a report refuses a chart that draws no data (:func:`strict_figures`; set by the tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
        return self.reference / "communes" / f"{REGION_CODE}.parquet"

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
    """Return the paths in force, reading the environment overrides at call time."""
    raw_default = ROOT / "data" / "raw"
    return Paths(
        root=ROOT,
        raw=_env_path("OBSERVATOIRE_RAW_DIR", raw_default / "synthetic"),
        reference=raw_default / "reference",
        synthetic=raw_default / "synthetic",
        processed=_env_path("OBSERVATOIRE_PROCESSED_DIR", ROOT / "data" / "processed"),
        reports=_env_path("OBSERVATOIRE_REPORTS_DIR", ROOT / "reports"),
        notebooks=ROOT / "notebooks",
        docs=ROOT / "docs",
    )


# --- Territories -------------------------------------------------------------------------------

REGION_CODE = "11"
REGION_NAME = "Île-de-France"

DEPARTEMENTS: dict[str, str] = {
    "75": "Paris",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
}

#: Every territory a report is rendered for: the région first, then the départements.
TERRITORIES: dict[str, str] = {REGION_CODE: REGION_NAME, **DEPARTEMENTS}


def territory_name(code: str) -> str:
    """French name of a territory code (``"11"`` or a département code)."""
    try:
        return TERRITORIES[str(code)]
    except KeyError:
        raise ValueError(
            f"territoire inconnu : {code!r} (attendu : {', '.join(TERRITORIES)})"
        ) from None


def territory_departements(code: str) -> list[str]:
    """The départements a territory covers: all eight for the région, itself otherwise."""
    territory_name(code)
    return list(DEPARTEMENTS) if str(code) == REGION_CODE else [str(code)]


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
OPENDATA_PUBLISHER = "Observatoire des clauses sociales — Île-de-France"

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

#: Published insertion hours of clauses, France (Alliance Villes Emploi): hours, FTE,
#: participants, work contracts, by year. Source: css.achatpublic.info, 21/09/2023.
NATIONAL_HOURS: dict[int, dict[str, float]] = {
    2021: {"heures": 25_124_684, "etp": 15_703, "participants": 57_231, "contrats": 75_194},
}
NATIONAL_HOURS_SOURCE = "Alliance Villes Emploi (css.achatpublic.info, 21/09/2023)"

#: Published Île-de-France figures (DRIEETS, Banque des territoires, via ess2024.org, Le Moniteur,
#: republik-achats.fr): insertion hours of the year and, where published, beneficiaries, share of
#: women among beneficiaries, hours on large projects (« grands projets ») and their share.
REGION_PUBLISHED: dict[int, dict[str, float]] = {
    2020: {"heures": 4_830_000, "heures_grands_projets": 1_300_000},
    2021: {"heures": 6_300_000, "beneficiaires": 12_364, "part_femmes": 0.151,
           "duree_moyenne_mois": 2.5, "heures_grands_projets": 1_500_000,
           "part_heures_grands_projets": 0.25},
    2022: {"evolution_heures": 0.097, "heures_grands_projets": 2_100_000,
           "part_heures_grands_projets": 0.30},
}
#: Profile of the people on Île-de-France large projects in 2021, shares of hours.
REGION_LARGE_PROJECTS_PROFILE_2021: dict[str, float] = {
    "part_heures_femmes": 0.166, "part_heures_qpv": 0.153,
    "part_heures_jeunes_peu_qualifies": 0.303, "beneficiaires": 2_953,
}
REGION_PUBLISHED_SOURCE = ("DRIEETS et Banque des territoires (via ess2024.org), Le Moniteur, "
                           "republik-achats.fr")

#: Published Grand Paris Express insertion figures (Société du Grand Paris; GPSEA for line 15 Sud).
GRAND_PARIS_PUBLISHED = {
    "beneficiaires_2021": 2_300,  # about, cumulative since the start of the works
    "heures_mars_2021": 2_000_000,  # more than, cumulative
    "ligne_15_sud_gpsea_2022": {"personnes": 461, "part_femmes": 0.206, "heures": 358_352},
}

#: Published outcomes of a clause programme: Grand Paris Express line 15 Sud, part followed by
#: GPSEA, Val-de-Marne, 2022 (share of the people followed who went into a CDI or a CDD, and into
#: training). A broader definition than « emploi durable » (a CDD of any length, no six-month delay).
GRAND_PARIS_OUTCOMES_PUBLISHED = {
    "ligne_15_sud_gpsea_2022": {"departement": "94", "annee": 2022, "personnes": 461,
                                "part_cdi_cdd": 0.32, "part_formation": 0.09,
                                "source": "GPSEA, ligne 15 Sud (Grand Paris Express)"},
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
