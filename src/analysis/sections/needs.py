"""What each report section reads from the warehouse, and what a report says when it is absent.

Every source but the reference geography is optional: a warehouse may hold the DECP alone, the
clause tracking alone, or any mix of DECP, buyers directory, clause tracking, Grand Paris and
structures. A section function declares the tables it reads with :func:`needs`::

    @needs(*TRACKING, label="heures d'insertion")
    def yearly_chart(scope, report): ...

When one of them is absent from the warehouse (or holds no row), the function is not run: in its
place the report shows one French sentence naming the missing source in its users' words
(:func:`absence_sentence`), the report records which sources and parts it could not cover
(:meth:`analysis.publish.Report.note_absence`, read by ``reports/index.html``), and the rest of
the report renders. Key-figure functions are declared ``quiet``: their figures are simply left
out, never shown as 0. Within one notebook cell, consecutive sections missing the same sources
show the sentence once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from IPython.display import Markdown

#: The tables of the clause-tracking exports a section of people or hours reads.
TRACKING = ("operations", "participants", "work_contracts")
#: The DECP contracts.
DECP = ("contracts",)

#: Each source in the words of the reports' readers, with its article (« l'entrepôt ne contient
#: pas … »).
SOURCE_NAMES_FR = {
    "decp": "les données essentielles des marchés publics (DECP)",
    "acheteurs": "l'annuaire des acheteurs",
    "tracking": "le suivi des clauses (exports des facilitateurs)",
    "grand_paris": "les marchés du Grand Paris",
    "structures": "l'annuaire des structures",
}
#: The same, short, for lists (the index, the provenance section).
SOURCE_SHORT_FR = {
    "decp": "DECP",
    "acheteurs": "annuaire des acheteurs",
    "tracking": "suivi des clauses (exports des facilitateurs)",
    "grand_paris": "Grand Paris",
    "structures": "annuaire des structures",
}


def table_sources() -> dict[str, str]:
    """The source each warehouse table comes from (``warehouse.SOURCES``)."""
    from ..warehouse import SOURCES

    return {table: source for source, (_, _, tables) in SOURCES.items() for table in tables}


def source_order() -> list[str]:
    """The sources in the order the warehouse reads them."""
    from ..warehouse import SOURCES

    return list(SOURCES)


def expected_sources() -> list[str]:
    """The sources a warehouse of the région in force can hold, in reading order: every one but
    the Grand Paris Express contracts outside the région that has them, whose absence is then no
    gap to report (:attr:`analysis.config.RegionFacts.grand_paris`)."""
    from .. import config

    return [s for s in source_order() if s != "grand_paris" or config.region_facts().grand_paris]


def _source_rank(source: str) -> int:
    order = source_order()
    return order.index(source) if source in order else len(order)


def missing_sources(scope, tables: Iterable[str]) -> list[str]:
    """The sources (in reading order) whose tables among ``tables`` the scope's warehouse lacks."""
    has = getattr(scope, "has", None)
    if has is None:  # a stand-in scope given its frames (tests): everything it has is there
        return []
    owner = table_sources()
    missing = {owner.get(name, name) for name in tables if not has(name)}
    return [s for s in source_order() if s in missing] + sorted(missing - set(source_order()))


def absent_sources(scope) -> list[str]:
    """Every source the warehouse in force was not built from, or holds no row of, in reading
    order (a buyers table derived from the DECP columns is not the buyers directory)."""
    from ..warehouse import SOURCES

    read = scope.sources_read() if hasattr(scope, "sources_read") else None
    expected = expected_sources()
    return [source for source, (_, _, tables) in SOURCES.items()
            if source in expected and ((read is not None and source not in read)
                                       or not any(scope.has(name) for name in tables))]


def _and_list(names: list[str], word: str = "et") -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def absence_sentence(sources: list[str], part: bool = True) -> str:
    """The one French sentence a report shows in place of a part whose ``sources`` are absent
    (``part``: starting « Partie non couverte : »)."""
    names = [SOURCE_NAMES_FR.get(s, s) for s in sources]
    if len(names) == 1:
        text = f"l'entrepôt ne contient pas {names[0]}."
    else:
        text = "l'entrepôt ne contient ni " + " ni ".join(names) + "."
    return f"Partie non couverte : {text}" if part else text


def has_all(scope, tables: Iterable[str]) -> bool:
    """Whether the scope's warehouse holds every one of ``tables`` (with rows)."""
    return not missing_sources(scope, tables)


def absent_sources_text(scope) -> str:
    """A French sentence naming the sources absent from the warehouse ("" when none is)."""
    absent = absent_sources(scope)
    if not absent:
        return ""
    names = [SOURCE_SHORT_FR.get(s, s) for s in absent]
    plural = "s" if len(names) > 1 else ""
    return (f"Source{plural} absente{plural} de l'entrepôt : {_and_list(names)} ; les parties "
            "du rapport qui en dépendent ne sont pas couvertes.")


def _cell() -> int | None:
    """The notebook cell being executed (its execution count), None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    return None if shell is None else getattr(shell, "execution_count", None)


def note_absence(report, sources: list[str], label: str) -> None:
    """Record on ``report`` that the part ``label`` is not covered for want of ``sources`` (a
    stand-in report without :meth:`analysis.publish.Report.note_absence` records nothing)."""
    record = getattr(report, "note_absence", None)
    if record is not None:
        record(sources, label)


def announce(report, missing: list[str]) -> list:
    """The absence sentence for ``missing`` sources, as a display object; nothing when a
    sentence just above, in the same notebook cell with no part rendered in between, already
    named one of them (the reader knows the part is not covered, and why)."""
    cell, last = _cell(), getattr(report, "_last_absence", None)
    same_cell = last is not None and cell is not None and last[0] == cell
    if same_cell and set(missing) & last[1]:
        return []
    report._last_absence = (cell, (last[1] if same_cell else frozenset()) | set(missing))
    return [Markdown(f"> {absence_sentence(missing)}")]


def needs(*tables: str, label: str, quiet: bool = False,
          any_of: Iterable[Iterable[str]] = ()) -> Callable:
    """Declare the warehouse tables a section function ``(scope, report, …)`` reads.

    Parameters
    ----------
    tables
        Warehouse table names (``contracts``, ``buyers``, ``operations``, ``participants``,
        ``work_contracts``, ``outcomes``, ``grand_paris``, ``structures``).
    label
        What the section shows, in French, as ``reports/index.html`` lists the parts a report
        could not cover (« heures d'insertion »).
    quiet
        For key-figure functions: when a table is absent, record nothing and show nothing (the
        figure is left out, never shown as 0); the function returns ``[]``.
    any_of
        Groups of tables, one of which suffices (a section that shows what each source gives,
        e.g. the départements compared on the DECP and on the clause tracking): the section runs
        when one group is complete and itself says what the others would have added.

    The decorated function gains ``needs`` (the tables) and ``label`` attributes.
    """
    groups = [tuple(group) for group in any_of]

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def section(scope, report, *args, **kwargs):
            missing = missing_sources(scope, tables)
            if not missing and groups:
                lacking = [missing_sources(scope, group) for group in groups]
                if all(lacking):
                    missing = sorted({s for group in lacking for s in group},
                                     key=_source_rank)
            if not missing:
                if not quiet:
                    report._last_absence = None
                return function(scope, report, *args, **kwargs)
            note_absence(report, missing, label)
            if quiet:
                return []
            return announce(report, missing)

        section.needs = tuple(tables)
        section.any_of = tuple(groups)
        section.label = label
        return section

    return decorate


__all__ = ["needs", "announce", "note_absence", "absence_sentence", "absent_sources", "absent_sources_text",
           "missing_sources", "has_all", "TRACKING", "DECP", "SOURCE_NAMES_FR", "SOURCE_SHORT_FR"]


def method_needs(*tables: str) -> Callable:
    """Declare the tables the sections a « Méthode » part describes read: when the warehouse
    lacks one, the part shows nothing (those sections already said, in their place, that they are
    not covered and why; their method would describe figures the report does not give).

    The decorated function gains a ``needs`` attribute (the tables).
    """

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def part(scope=None, report=None, *args, **kwargs):
            if scope is not None and missing_sources(scope, tables):
                return []
            return function(scope, report, *args, **kwargs)

        part.needs = tuple(tables)
        return part

    return decorate

