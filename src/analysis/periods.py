"""Reporting periods: a calendar year (annual report) or a quarter (periodic sheets).

A period is written ``2025`` or ``2025-T3`` (``T`` for *trimestre*; ``2025T3`` and ``2025-Q3`` are
accepted too). Its end is exclusive: ``2025-T3`` runs from 1 July 2025 to 1 October 2025.
Reports show the period itself and, for context, the yearly history from
:data:`analysis.config.DEFAULT_FIRST_YEAR` (or earlier, if the period is earlier) to its year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from . import config

_PATTERN = re.compile(r"^\s*(\d{4})(?:\s*-?\s*[TtQq]([1-4]))?\s*$")
_ORDINALS = {1: "1er", 2: "2e", 3: "3e", 4: "4e"}


class PeriodError(ValueError):
    """A period written in a form the observatory does not read."""


@dataclass(frozen=True, order=True)
class Period:
    """A calendar year, or one of its quarters."""

    year: int
    quarter: int | None = None

    @classmethod
    def parse(cls, text: str | int | Period) -> Period:
        """``"2025"`` → the year 2025; ``"2025-T3"`` → its third quarter.

        Raises
        ------
        PeriodError
            In French, naming the accepted forms.
        """
        if isinstance(text, Period):
            return text
        match = _PATTERN.match(str(text))
        if not match:
            raise PeriodError(
                f"période illisible : {text!r} ; formes acceptées : une année (2025) "
                "ou un trimestre (2025-T3)")
        year = int(match.group(1))
        if not 2000 <= year <= 2100:
            raise PeriodError(f"période hors des années couvertes : {text!r}")
        quarter = int(match.group(2)) if match.group(2) else None
        return cls(year, quarter)

    @property
    def is_quarter(self) -> bool:
        return self.quarter is not None

    @property
    def label(self) -> str:
        """Machine label, used in paths: ``2025`` or ``2025-T3``."""
        return f"{self.year}-T{self.quarter}" if self.quarter else str(self.year)

    @property
    def label_fr(self) -> str:
        """What a reader sees: ``année 2025`` or ``3e trimestre 2025``."""
        if self.quarter:
            return f"{_ORDINALS[self.quarter]} trimestre {self.year}"
        return f"année {self.year}"

    @property
    def start(self) -> date:
        month = 3 * (self.quarter - 1) + 1 if self.quarter else 1
        return date(self.year, month, 1)

    @property
    def end(self) -> date:
        """First day after the period."""
        if not self.quarter or self.quarter == 4:
            return date(self.year + 1, 1, 1)
        return date(self.year, 3 * self.quarter + 1, 1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def first_year(self) -> int:
        """First year of the history shown with the period."""
        return min(config.DEFAULT_FIRST_YEAR, self.year)

    @property
    def history(self) -> range:
        """The years of the context history: first year to the period's year."""
        return range(self.first_year, self.year + 1)

    @property
    def last_complete_year(self) -> int:
        """The last history year whose twelve months lie within the history (which stops at the
        period's end): the period's year, or the year before for a quarter other than the
        fourth. Yearly rates of change are computed up to it."""
        return self.year if not self.quarter or self.quarter == 4 else self.year - 1

    @property
    def history_year_label_fr(self) -> str:
        """The period's year as the history shows it: « 2025 », or « 2025 (janvier à juin) » when
        the history stops at the end of a quarter."""
        if self.last_complete_year == self.year:
            return str(self.year)
        return f"{self.year} ({_MONTHS_FR[0]} à {_MONTHS_FR[3 * self.quarter - 1]})"

    def contains(self, dates: pd.Series) -> pd.Series:
        """True where a date falls inside the period (missing dates: False)."""
        values = pd.to_datetime(dates, errors="coerce")
        inside = (values >= pd.Timestamp(self.start)) & (values < pd.Timestamp(self.end))
        return inside.fillna(False).astype(bool)

    def overlap_share(self, start: pd.Series, end: pd.Series) -> np.ndarray:
        """Share of each ``[start, end]`` span (inclusive days) that lies inside the period.

        Used to prorate a work contract's hours over a period, as :mod:`analysis.indicators.hours`
        does over years.
        """
        begin = pd.to_datetime(start).to_numpy("datetime64[ns]")
        finish = (pd.to_datetime(end) + pd.Timedelta(days=1)).to_numpy("datetime64[ns]")
        lo = np.maximum(begin, np.datetime64(pd.Timestamp(self.start), "ns"))
        hi = np.minimum(finish, np.datetime64(pd.Timestamp(self.end), "ns"))
        inside = np.maximum((hi - lo) / np.timedelta64(1, "D"), 0)
        total = (finish - begin) / np.timedelta64(1, "D")
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, inside / total, 0.0)
        return np.nan_to_num(share, nan=0.0)


def default_period() -> Period:
    """The period ``observatoire report`` renders when none is given: the last complete year."""
    return Period(config.DEFAULT_LAST_YEAR)


# --- Coverage of the data -------------------------------------------------------------------------

_MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")


def _month_fr(month: pd.Period) -> str:
    return f"{_MONTHS_FR[month.month - 1]} {month.year}"


@dataclass(frozen=True)
class Coverage:
    """The months the warehouse has data for: those in which at least one DECP contract was
    notified (the tracking data's months when the warehouse holds no DECP contract).

    A period none of whose months is covered has no data: it is refused. A period some of whose
    months are not covered is rendered with a warning (:meth:`warning`).
    """

    months: frozenset
    source: str = "marchés notifiés, DECP"

    @classmethod
    def of_tables(cls, contracts: pd.DataFrame | None = None,
                  work_contracts: pd.DataFrame | None = None) -> Coverage:
        """Coverage of the given tables (``dateNotification``; else ``date_debut``)."""
        if contracts is not None and contracts["dateNotification"].notna().any():
            dates = pd.to_datetime(contracts["dateNotification"], errors="coerce").dropna()
            return cls(frozenset(dates.dt.to_period("M").unique()))
        if work_contracts is not None and len(work_contracts):
            spans = work_contracts[["date_debut", "date_fin"]].dropna()
            first = pd.to_datetime(spans["date_debut"]).to_numpy("datetime64[M]").astype(int)
            last = np.maximum(pd.to_datetime(spans["date_fin"]).to_numpy("datetime64[M]")
                              .astype(int), first)
            months: set = set()
            for start, end in _merged(first, last):  # the union of the contracts' spans
                months.update(pd.period_range(pd.Period(np.datetime64(start, "M"), "M"),
                                              pd.Period(np.datetime64(end, "M"), "M"), freq="M"))
            return cls(frozenset(months), "contrats de travail, suivi des clauses")
        return cls(frozenset())

    @classmethod
    def of_warehouse(cls, processed=None) -> Coverage:
        """Coverage of the warehouse in force (reads one or two columns)."""
        from .warehouse import load_table_columns

        contracts = load_table_columns("contracts", ["dateNotification"], processed)
        work = None
        if contracts is None or contracts["dateNotification"].notna().sum() == 0:
            work = load_table_columns("work_contracts", ["date_debut", "date_fin"], processed)
        return cls.of_tables(contracts, work)

    @property
    def years(self) -> list[int]:
        return sorted({month.year for month in self.months})

    @property
    def years_fr(self) -> str:
        """The years covered, as ranges: ``2018-2025`` or ``2018-2020, 2023``."""
        years, runs = self.years, []
        for year in years:
            if runs and year == runs[-1][1] + 1:
                runs[-1][1] = year
            else:
                runs.append([year, year])
        return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)

    def period_months(self, period: Period) -> list:
        return list(pd.period_range(pd.Timestamp(period.start), pd.Timestamp(period.end)
                                    - pd.Timedelta(days=1), freq="M"))

    def check(self, period: str | Period) -> str | None:
        """Refuse a period without data; the French warning for a partly covered one, else None.

        Raises
        ------
        PeriodError
            When no month of the period has data, naming the years the data cover.
        """
        period = Period.parse(period)
        months = self.period_months(period)
        covered = [m for m in months if m in self.months]
        if not covered:
            where = (f"les données couvrent {self.years_fr}" if self.months
                     else "l'entrepôt ne contient aucune donnée datée")
            raise PeriodError(
                f"aucune donnée pour la période {period.label} ({period.label_fr}) : {where} "
                f"({self.source}) ; choisissez une période de ces années")
        if len(covered) == len(months):
            return None
        missing = [m for m in months if m not in self.months]
        return (f"Période partiellement couverte : les données ({self.source}) ne couvrent que "
                f"{len(covered)} mois sur {len(months)} de la période ({period.label_fr}) ; "
                f"aucune donnée pour {_months_fr(missing)}. Les effectifs, heures et parts de la "
                "période ne portent que sur les mois couverts ; ne pas les comparer à une "
                "période complète.")


def _merged(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """Union of the closed intervals ``[starts[i], ends[i]]`` (integers), as disjoint runs."""
    runs: list[list[int]] = []
    for start, end in sorted(zip(starts.tolist(), ends.tolist())):
        if runs and start <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    return [(a, b) for a, b in runs]


def _months_fr(months: list) -> str:
    """``janvier 2025 – juin 2025, décembre 2025``: runs of consecutive months."""
    runs: list[list] = []
    for month in months:
        if runs and month == runs[-1][1] + 1:
            runs[-1][1] = month
        else:
            runs.append([month, month])
    return ", ".join(_month_fr(a) if a == b else f"{_month_fr(a)} – {_month_fr(b)}"
                     for a, b in runs)


def coverage_notice(period: str | Period, coverage: Coverage | None = None) -> list:
    """What a report shows under its title about its period's coverage: nothing when the data
    cover the whole period, a warning when they cover part of it.

    Raises
    ------
    PeriodError
        When the data cover none of the period (see :meth:`Coverage.check`).
    """
    from IPython.display import Markdown

    coverage = coverage or Coverage.of_warehouse()
    warning = coverage.check(period)
    if warning is None:
        return []
    return [Markdown(f"> **Attention.** {warning}")]
