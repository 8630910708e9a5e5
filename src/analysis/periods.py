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
