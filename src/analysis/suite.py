"""The report suite: which notebooks are reports, for which territories, and which of them are on
disk.

Pure description, read by the renderer (:mod:`analysis.reporting`), the portal
(:mod:`analysis.portal`) and the open data (:mod:`analysis.opendata`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import config
from .periods import Period
from .publish import read_record

#: Which territories a report is for.
REGION, DEPARTEMENT, ANY = "region", "departement", "any"
#: An input a report needs beyond the warehouse: the national consolidated DECP
#: (:func:`analysis.indicators.regions.national_path`).
NATIONAL = "national"


@dataclass(frozen=True)
class ReportSpec:
    """A report notebook, how it is titled and which territories it is rendered for."""

    slug: str
    notebook: str
    full_title: str
    scope: str = ANY
    theme: bool = False
    #: An input beyond the warehouse (:data:`NATIONAL`): without it the report is not planned.
    requires: str | None = None

    def available(self) -> bool:
        """Whether the inputs the report needs beyond the warehouse are present (a national
        DECP for :data:`NATIONAL`: ``OBSERVATOIRE_NATIONAL_DECP`` or ``data/raw/national/``)."""
        if self.requires == NATIONAL:
            from .indicators.regions import national_path

            return national_path() is not None
        return True

    def input_fingerprint(self) -> str:
        """What identifies the extra input (path, size, modification time), for the renderer's
        up-to-date check; empty without one."""
        if self.requires == NATIONAL:
            from .indicators.regions import national_path

            path = national_path()
            if path is not None:
                stat = path.stat()
                return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return ""

    #: The title where the région has no Grand Paris Express (its part says « sans objet »).
    title_without_grand_paris: str | None = None

    @property
    def title(self) -> str:
        """The report's title for the région in force."""
        if self.title_without_grand_paris and not config.region_facts().grand_paris:
            return self.title_without_grand_paris
        return self.full_title

    def applies_to(self, territory: str) -> bool:
        if self.scope == REGION:
            return territory == config.REGION_CODE
        if self.scope == DEPARTEMENT:
            return territory in config.DEPARTEMENTS
        return True


REPORTS: tuple[ReportSpec, ...] = (
    ReportSpec("rapport_annuel", "10_rapport_annuel_regional.ipynb",
               "Rapport annuel régional", scope=REGION),
    ReportSpec("fiche_departementale", "11_fiche_departementale.ipynb",
               "Fiche départementale", scope=DEPARTEMENT),
    ReportSpec("progression_clauses", "01_progression_clauses.ipynb",
               "Progression des clauses sociales", theme=True),
    ReportSpec("heures_grand_paris", "02_heures_grand_paris.ipynb",
               "Heures d'insertion et Grand Paris", theme=True,
               title_without_grand_paris="Heures d'insertion"),
    ReportSpec("beneficiaires", "03_beneficiaires.ipynb", "Bénéficiaires", theme=True),
    ReportSpec("parcours_emploi", "04_parcours_emploi.ipynb",
               "Parcours et emploi durable", theme=True),
    ReportSpec("territoire_cartes", "05_territoire_cartes.ipynb",
               "Territoire et cartes", theme=True),
    ReportSpec("qualite_donnees", "06_qualite_donnees.ipynb",
               "Qualité des données et provenance", theme=True),
    # Rendered with the région's reports when a national DECP is present, skipped otherwise.
    ReportSpec("regions_comparees", "12_regions_comparees.ipynb",
               "Régions de France comparées", scope=REGION, requires=NATIONAL),
)
SPECS = {spec.slug: spec for spec in REPORTS}


def period_order(period: Period) -> tuple[int, int]:
    """Latest first; a year before its quarters."""
    return (-period.year, -(period.quarter or 5))


def published_reports(reports: Path) -> list[tuple[Period, str, ReportSpec, Path, dict]]:
    """Every report on disk: ``(period, territory, spec, html path, record)``, in index order."""
    territory_order = {code: i for i, code in enumerate(config.TERRITORIES)}
    spec_order = {spec.slug: i for i, spec in enumerate(REPORTS)}
    found = []
    for path in reports.glob("*/*/*.html"):
        period_dir, territory, slug = path.parent.parent.name, path.parent.name, path.stem
        if period_dir.startswith("_") or territory not in config.TERRITORIES or slug not in SPECS:
            continue
        try:
            period = Period.parse(period_dir)
        except ValueError:
            continue
        if period.label != period_dir:
            continue
        record = read_record(path.with_suffix(".json")) or {}
        found.append((period, territory, SPECS[slug], path, record))
    found.sort(key=lambda item: (*period_order(item[0]), spec_order[item[2].slug]
                                 if item[2].theme else -1, territory_order[item[1]],
                                 spec_order[item[2].slug]))
    return found


__all__ = ["REGION", "DEPARTEMENT", "ANY", "NATIONAL", "ReportSpec", "REPORTS", "SPECS", "period_order",
           "published_reports"]
