"""The warehouse seen from one report: a territory and a period.

:class:`Scope` loads each warehouse table once (lazily) and restricts it:

* **DECP contracts** to those executed in the territory (:func:`progression.in_territory`; the
  région also counts those placed at its own level and those with no place of execution whose
  buyer is in the région, in no département); notified in the period for period figures, in the
  history years for trends;
* **tracking data** (operations, work contracts, beneficiaries) to the operations located in the
  territory — the place of work, as the facilitators record it; a work contract belongs to its
  operation's territory; a beneficiary of the period is a participant with at least one work
  contract active in it in the territory; hours are prorated by days over the period (as
  :mod:`analysis.indicators.hours` does over years);
* **outcomes** to the participants who worked in the territory (the window of exits a report
  counts — last contract ended in the period's history — is applied by
  :func:`analysis.sections.pathways.population`);
* **Grand Paris** contracts to the works located in the territory's départements.

Every indicator of :mod:`analysis.indicators` takes these frames as they are.
"""

from __future__ import annotations

from functools import cached_property

import pandas as pd

from . import config
from .frames import isin
from .indicators import progression
from .periods import Period


#: The tables and scopes of the warehouse in force, shared by every :class:`Scope` made without
#: tables in this process: a kernel that renders several reports in turn loads each table once and
#: computes each (territory, period) once. Keyed by the warehouse's identity (its resolved folder
#: and its manifest's inode, size and time): a new build is a new folder, so nothing stale is read.
_SHARED: dict[tuple, dict] = {}
#: Periods whose scopes (and what they computed) a process keeps; older ones are recomputed if
#: asked again.
PERIODS_KEPT = 2


def _warehouse_identity() -> tuple:
    import os

    from .warehouse import MANIFEST, WAREHOUSE

    paths = config.paths()
    folder = paths.processed / WAREHOUSE
    try:
        stat = os.stat(folder / MANIFEST)
    except OSError:  # no warehouse: the first table load says so, in French
        return (str(folder), None, str(paths.communes))
    return (os.path.realpath(folder), stat.st_ino, stat.st_size, stat.st_mtime_ns,
            str(paths.communes))


def shared_tables() -> dict:
    """The table store shared by the scopes of the warehouse in force (older ones are dropped)."""
    key = _warehouse_identity()
    if key not in _SHARED:
        _SHARED.clear()
        _SHARED[key] = {}
    return _SHARED[key]


def period_work_contracts(work_contracts: pd.DataFrame, period) -> pd.DataFrame:
    """Work contracts active in ``period`` (a :class:`~analysis.periods.Period`), with
    ``heures_periode``: their hours prorated by days over the period (the one definition, used
    by :attr:`Scope.period_work_contracts` and by the EPT / EPCI sheets)."""
    wc = work_contracts
    share = period.overlap_share(wc["date_debut"], wc["date_fin"])
    out = wc.assign(heures_periode=wc["heures"].astype(float).to_numpy() * share)
    return out.loc[share > 0].reset_index(drop=True)


class Scope:
    """A territory and a period, over the warehouse in force (or given tables).

    ``Scope(territory, period)`` returns the same object for the same territory and period while
    the warehouse in force is the same (its frames are computed once per process); scopes made
    from given ``tables`` are new each time. Frames a scope returns must not be modified in place.
    """

    def __new__(cls, territory: str, period: str | Period, tables: dict | None = None):
        config.territory_name(territory)
        period = Period.parse(period)
        if tables is not None:
            return cls._make(str(territory), period, dict(tables))
        store = shared_tables()
        return store.get(("siblings", period), {}).get(str(territory)) or cls._make(
            str(territory), period, store)

    @classmethod
    def _make(cls, territory: str, period: Period, store: dict) -> Scope:
        scope = super().__new__(cls)
        scope.territory, scope.period, scope._tables = territory, period, store
        if ("siblings", period) not in store:  # bound memory: the scopes of the latest periods
            kept = [key for key in store if isinstance(key, tuple) and key[0] == "siblings"]
            for old in kept[:max(0, len(kept) - PERIODS_KEPT + 1)]:
                del store[old]
        store.setdefault(("siblings", period), {}).setdefault(territory, scope)
        return scope

    def sibling(self, territory: str) -> Scope:
        """The same period for another territory, sharing the tables already loaded (memoised)."""
        territory = str(territory)
        if territory == self.territory:
            return self
        config.territory_name(territory)
        siblings = self._tables.setdefault(("siblings", self.period), {})
        return siblings.get(territory) or Scope._make(territory, self.period, self._tables)

    # --- raw tables ------------------------------------------------------------------------------

    def table(self, name: str) -> pd.DataFrame:
        """A warehouse table, loaded once."""
        if name not in self._tables:
            if name == "communes":
                from .reference import load_communes

                self._tables[name] = load_communes()
            else:
                from .warehouse import load_table

                self._tables[name] = load_table(name)
        return self._tables[name]

    def has(self, name: str) -> bool:
        """Whether the warehouse (or the given tables) holds table ``name`` with at least one row:
        every source but the reference geography is optional (:mod:`analysis.sections.needs`)."""
        if name == "communes":
            return True
        if name in self._tables:
            return len(self._tables[name]) > 0
        rows = self._tables.get(("rows",))
        if rows is None:
            from .warehouse import table_rows

            rows = self._tables[("rows",)] = table_rows()
        return rows.get(name, 0) > 0

    def sources_read(self) -> list[str] | None:
        """The sources the warehouse in force was built from (its manifest), None without one."""
        if ("sources",) not in self._tables:
            from .warehouse import load_manifest, present_sources

            try:
                self._tables[("sources",)] = present_sources(load_manifest())
            except FileNotFoundError:
                self._tables[("sources",)] = None
        return self._tables[("sources",)]

    @property
    def name(self) -> str:
        return config.territory_name(self.territory)

    @property
    def departements(self) -> list[str]:
        return config.territory_departements(self.territory)

    @property
    def is_region(self) -> bool:
        return self.territory == config.REGION_CODE

    # --- DECP ------------------------------------------------------------------------------------

    @cached_property
    def contracts(self) -> pd.DataFrame:
        """DECP contracts executed in the territory (every year)."""
        return progression.in_territory(self.table("contracts"), self.territory)

    @cached_property
    def history_contracts(self) -> pd.DataFrame:
        """DECP contracts of the territory notified in the history: from 1 January of the first
        history year to the end of the period (a quarterly sheet's history stops at its quarter)."""
        dates = self.contracts["dateNotification"]
        keep = (dates >= pd.Timestamp(self.period.first_year, 1, 1)) & (
            dates < pd.Timestamp(self.period.end))
        return self.contracts.loc[keep.fillna(False).astype(bool)]

    @cached_property
    def period_contracts(self) -> pd.DataFrame:
        """DECP contracts of the territory notified in the period."""
        return self.contracts.loc[self.period.contains(self.contracts["dateNotification"])]

    # --- tracking --------------------------------------------------------------------------------

    @cached_property
    def operations(self) -> pd.DataFrame:
        """Operations (clauses followed by facilitators) located in the territory."""
        ops = self.table("operations")
        return ops.loc[ops["departement"].isin(self.departements).fillna(False).astype(bool)]

    @cached_property
    def work_contracts(self) -> pd.DataFrame:
        """Work contracts of the territory's operations (every year)."""
        wc = self.table("work_contracts")
        return wc.loc[isin(wc["operation_id"], self.operations["operation_id"])]

    @cached_property
    def participants(self) -> pd.DataFrame:
        """Participants with at least one work contract in the territory (any year)."""
        people = self.table("participants")
        return people.loc[isin(people["participant_id"], self.work_contracts["participant_id"])]

    @cached_property
    def period_work_contracts(self) -> pd.DataFrame:
        """Work contracts active in the period, with ``heures_periode`` prorated by days."""
        return period_work_contracts(self.work_contracts, self.period)

    @cached_property
    def beneficiaries(self) -> pd.DataFrame:
        """One row per beneficiary of the period: the participant plus the period's contracts and hours."""
        active = self.period_work_contracts
        per_person = active.groupby("participant_id").agg(
            contrats_periode=("heures_periode", "size"), heures_periode=("heures_periode", "sum"))
        people = self.participants.merge(per_person, left_on="participant_id", right_index=True)
        return people.reset_index(drop=True)

    @cached_property
    def history_work_contracts(self) -> pd.DataFrame:
        """Work contracts active in the history years (first year to the period's year)."""
        wc = self.work_contracts
        first = pd.Timestamp(self.period.first_year, 1, 1)
        last = pd.Timestamp(self.period.end)
        return wc.loc[(wc["date_fin"] >= first) & (wc["date_debut"] < last)]

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        """Outcomes of the territory's participants (one row each)."""
        out = self.table("outcomes")
        return out.loc[isin(out["participant_id"], self.participants["participant_id"])]

    # --- Grand Paris, structures -----------------------------------------------------------------

    @cached_property
    def grand_paris(self) -> pd.DataFrame:
        """Grand Paris Express works contracts located in the territory."""
        gp = self.table("grand_paris")
        return gp.loc[gp["departement"].isin(self.departements).fillna(False).astype(bool)]

    @cached_property
    def communes(self):
        """Reference communes of the territory (GeoDataFrame, Paris arrondissements included)."""
        communes = self.table("communes")
        return communes.loc[communes["departement"].isin(self.departements)]

    @cached_property
    def structures(self) -> pd.DataFrame:
        """Insertion and disability structures located in the territory."""
        structures = self.table("structures")
        codes = set(self.communes["code_insee"])
        return structures.loc[isin(structures["commune"], codes)]
