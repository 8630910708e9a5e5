"""Disclosure control: the one gate every published table and map goes through.

Rule (``docs/disclosure.md``, ``/work/shared/domain.md`` § 6): no published cell counts fewer than
*k* people (:func:`analysis.config.suppression_k`, 5 by default), and no hidden cell can be
recomputed from what is published.

* **Primary suppression**: a count of people from 1 to *k* − 1 is hidden. A zero is published: in
  these tables a zero is a structural or true absence (no participant of that kind in that
  territory), it says nothing about an identifiable person, and hiding zeros would only force more
  secondary suppressions. A zero is never a *sensitive* cell, but it may be hidden as a complement.
* **Secondary suppression**: the published totals (margins) are linear equations
  ``total = sum(parts)``. Two rules are applied until nothing changes:

  1. no equation holds a single hidden published cell (it would be the difference of the
     others: every row and column with a suppression has at least two); and in every equation
     whose total is published, the hidden parts add up to a figure anyone can compute
     (total − published parts), which must not lie in 1..*k* − 1 — two tiny hidden cells get a
     third;
  2. no sensitive cell may be *determined* by the whole system of published equations (linear
     algebra: its unit vector lies in the row space of the equations restricted to hidden cells).

  The complement is taken in the equation concerned, smallest positive count first, then the
  total, then a zero.
* **Derived columns** (rates, shares, interval bounds) are hidden with the counts they come from.
* **Differences**: ``total − sum(parts)`` is an unpublished cell of its own, sensitive when it
  lies in 1..*k* − 1, so a complement is hidden until the difference reveals nothing: for nested
  « dont » columns (:attr:`Margins.nested`) and for related tables — a région and its
  départements — protected together by :func:`protect_related`. :func:`check_differencing`
  audits published tables.

Suppressed cells become missing values; :attr:`ProtectedTable.mask` says which, and
:meth:`ProtectedTable.display` writes the symbol ``s`` with :data:`FOOTNOTE` under the table.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.linalg import null_space

from . import config

#: Symbol written in place of a suppressed cell.
SECRET_SYMBOL = "s"

#: Footnote printed under every table holding a suppressed cell (``{k}``: the threshold).
FOOTNOTE = ("s : secret statistique, effectif inférieur à {k} ou permettant de le recalculer.")

def footnote(k: int | None = None) -> str:
    """The French footnote for threshold ``k`` (the configured threshold by default)."""
    return FOOTNOTE.format(k=_resolve_k(k))


@dataclass(frozen=True)
class Margins:
    """The additive relations a table publishes, so that secondary suppression can respect them.

    Parameters
    ----------
    row_total
        Column holding, in each row, the sum of the other count columns (nested parts excepted).
    total_row
        Index label of the row holding, in each count column, the sum of the other rows.
    nested
        ``(total column, (part columns, ...))``: « dont » columns whose sum is at most the total;
        the remainder (total − parts) is not published but anyone can compute it, so it is
        protected like a cell.
    shared_columns
        Count columns whose sum over the rows (total row excepted) is published elsewhere — in
        another table of the same report or of its family (the région's report and the
        départements' sheets): the number of beneficiaries of a territory, for instance.
    shared_rows
        Index labels whose sum over the count columns (row total and nested parts excepted) is
        published elsewhere.
    shared_cells
        ``(row, column)`` cells published elsewhere as they are.
    not_additive
        Count columns whose total row is *not* the sum of the other rows: distinct people of a
        breakdown where one person may fall in several rows (several modalities, several kinds
        of contract). Their total row is published as a figure of its own, with no equation;
        every other column's total row must equal the sum of its rows (checked: a false
        equation would misguide secondary suppression and the audit alike).

    A shared figure of 0 or at least *k* is published in every table that shows it, so it is an
    equation total that is never chosen as a complement; one of 1..*k* − 1 is hidden everywhere
    (primary suppression), so it is an unpublished sensitive cell.
    """

    row_total: str | None = None
    total_row: Hashable | None = None
    nested: tuple[tuple[str, tuple[str, ...]], ...] = ()
    shared_columns: tuple[str, ...] = ()
    shared_rows: tuple[Hashable, ...] = ()
    shared_cells: tuple[tuple[Hashable, str], ...] = ()
    not_additive: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProtectedTable:
    """A table after disclosure control.

    Attributes
    ----------
    table
        The input table with suppressed cells set to missing (counts become ``Int64``).
    mask
        Boolean frame (same index, the count and derived columns): True where suppressed.
    primary
        Boolean frame over the count columns: True where the count itself lies in 1..k − 1.
    k
        The threshold applied.
    """

    table: pd.DataFrame
    mask: pd.DataFrame
    primary: pd.DataFrame
    k: int
    footnote: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "footnote", footnote(self.k))

    @property
    def n_suppressed(self) -> int:
        """Number of suppressed cells, derived columns included."""
        return int(self.mask.to_numpy().sum())

    @property
    def secondary(self) -> pd.DataFrame:
        """Boolean frame over the count columns: hidden only to protect another cell."""
        counts = self.mask[self.primary.columns]
        return counts & ~self.primary

    def display(self) -> pd.DataFrame:
        """The table for publication: suppressed cells hold :data:`SECRET_SYMBOL`."""
        shown = self.table.astype(object)
        for column in self.mask.columns:
            shown.loc[self.mask[column].to_numpy(), column] = SECRET_SYMBOL
        return shown

    def notes(self) -> list[str]:
        """Footnotes to print under the table: the secrecy note when a cell is suppressed."""
        return [self.footnote] if self.n_suppressed else []


class Violation(NamedTuple):
    """A published figure revealing a count of 1..k − 1 people."""

    row: Hashable
    column: str
    value: float
    reason: str


# --- Public API --------------------------------------------------------------------------------


def protect(table: pd.DataFrame, count_columns: Sequence[str], k: int | None = None,
            margins: Margins | None = None,
            derived: Mapping[str, str | Sequence[str]] | None = None) -> ProtectedTable:
    """Apply primary and secondary suppression to one table.

    Parameters
    ----------
    table
        One row per category; ``count_columns`` hold counts of people (non-negative integers,
        no missing value). Other columns are copied as they are, except ``derived`` ones.
    count_columns
        The columns counting people.
    k
        Threshold; default :func:`analysis.config.suppression_k`.
    margins
        The totals published with (or alongside) the table; without them only primary
        suppression applies, which is safe only if no total of these cells is published anywhere.
    derived
        ``{derived column: count column or columns}``: a rate, share or bound computed from a
        count is suppressed whenever one of its counts is.

    Returns
    -------
    ProtectedTable
    """
    total, _ = protect_related(table, {}, count_columns, k=k, margins=margins, derived=derived)
    return total


def protect_related(total: pd.DataFrame, parts: Mapping[str, pd.DataFrame],
                    count_columns: Sequence[str], k: int | None = None,
                    margins: Margins | None = None,
                    derived: Mapping[str, str | Sequence[str]] | None = None,
                    exhaustive: bool = False, overlapping: bool = False,
                    ) -> tuple[ProtectedTable, dict[str, ProtectedTable]]:
    """Protect a total table and the tables of its parts together (e.g. région and départements).

    Each cell of ``total`` is taken to be at least the sum of the same cell (same index label,
    same column) in the ``parts``; the difference is what an intruder gets by subtraction, so it
    is protected like a cell: complements are hidden, in whichever table, until no difference
    reveals 1..k − 1 people and no small cell is determined by the published figures.

    Parameters
    ----------
    total, parts
        Tables with the same count columns and the same margins; a row missing from a part
        counts as zeros.
    exhaustive
        True when the parts cover the total exactly (then ``total == sum(parts)`` is checked and
        no remainder exists); False when some people of the total belong to no part (for
        instance contracts placed at the level of the région itself).
    overlapping
        True when a person may count in several parts (distinct beneficiaries of several
        départements): a cell whose parts add up to more than its total forms no equation.
    count_columns, k, margins, derived
        As in :func:`protect`, applied to every table.

    Returns
    -------
    (ProtectedTable, dict of ProtectedTable)
        The total table and the parts, by the same keys.
    """
    k = _resolve_k(k)
    margins = margins or Margins()
    derived = dict(derived or {})
    count_columns = list(count_columns)
    tables = {None: total, **dict(parts)}
    for name, frame in tables.items():
        _validate(frame, count_columns, margins, derived, name)

    cells = _Cells()
    grids: dict[Hashable, dict[tuple[Hashable, str], int]] = {}
    for name, frame in tables.items():
        grids[name] = _add_table(cells, frame, count_columns, margins, name, k)

    if parts:
        for (row, column), total_id in grids[None].items():
            members = [grid[(row, column)] for name, grid in grids.items()
                       if name is not None and (row, column) in grid]
            expected = cells.values[total_id] - sum(cells.values[m] for m in members)
            if exhaustive:
                if expected != 0:
                    raise ValueError(
                        f"tables non emboîtées : {row!r}/{column} vaut {cells.values[total_id]} "
                        f"au total et {cells.values[total_id] - expected} dans les parties")
                cells.group(total_id, members)
            else:
                if expected < 0:
                    if not overlapping:
                        raise ValueError(f"partie supérieure au total : {row!r}/{column}")
                    # Parts that share people (a person counted in two départements): the
                    # total is no sum of the parts, subtracting them reveals no one.
                    continue
                members.append(cells.add(expected, published=False))
                cells.group(total_id, members)

    hidden = _suppress(cells, k, np.asarray(cells.fixed, dtype=bool))

    results = {}
    for name, frame in tables.items():
        results[name] = _rebuild(frame, grids[name], cells, hidden, count_columns, derived, k)
    return results[None], {name: results[name] for name in parts}


def check_differencing(total_table: pd.DataFrame, part_tables: Sequence[pd.DataFrame]
                       | Mapping[str, pd.DataFrame], count_columns: Sequence[str],
                       k: int | None = None) -> list[Violation]:
    """Cells where ``total − sum(parts)``, computed from published figures, reveals 1..k − 1.

    Missing values are suppressed cells. For each cell published in the total, the difference
    with the published parts is the hidden parts plus whatever belongs to no part: when it lies
    in 1..k − 1, someone can learn that count by subtraction.

    Parameters
    ----------
    total_table
        The published total table (e.g. the région).
    part_tables
        The published tables of its parts (e.g. départements), aligned on the same index.
    count_columns
        The count columns to check.
    k
        Threshold; default :func:`analysis.config.suppression_k`.

    Returns
    -------
    list of Violation
        Empty when no differencing attack succeeds on single cells.
    """
    k = _resolve_k(k)
    if isinstance(part_tables, Mapping):
        part_tables = list(part_tables.values())
    violations = []
    for column in count_columns:
        totals = pd.to_numeric(total_table[column], errors="coerce")
        summed = pd.Series(0.0, index=total_table.index)
        for part in part_tables:
            values = pd.to_numeric(part[column], errors="coerce") if column in part else None
            if values is None:
                continue
            summed = summed.add(values.reindex(total_table.index).fillna(0.0), fill_value=0.0)
        difference = totals - summed
        for row, value in difference.items():
            if pd.notna(value) and 1 <= value < k:
                violations.append(Violation(row, column, float(value),
                                            "total moins la somme des parties publiées"))
    return violations


def scan_for_small_cells(frame: pd.DataFrame, count_columns: Sequence[str],
                         k: int | None = None) -> list[Violation]:
    """Published counts lying in 1..k − 1 (suppressed cells, missing or ``s``, are skipped).

    Parameters
    ----------
    frame
        A table as published (read back from CSV, XLSX or HTML).
    count_columns
        The columns counting people.
    k
        Threshold; default :func:`analysis.config.suppression_k`.

    Returns
    -------
    list of Violation
    """
    k = _resolve_k(k)
    violations = []
    for column in count_columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        for row, value in values.items():
            if pd.notna(value) and 1 <= value < k:
                violations.append(Violation(row, column, float(value),
                                            f"effectif inférieur à {k}"))
    return violations


def determined_cells(values: np.ndarray, hidden: np.ndarray,
                     groups: Sequence[tuple[int, Sequence[int]]]) -> np.ndarray:
    """Hidden cells whose value the published equations ``total = sum(parts)`` fix uniquely.

    A hidden cell is determined when no solution of the homogeneous system on hidden cells moves
    it, i.e. when the null space of the equations restricted to hidden cells is zero on it.
    Non-negativity is not used (see the limits in ``docs/disclosure.md``).
    """
    hidden = np.asarray(hidden, dtype=bool)
    determined = np.zeros(len(hidden), dtype=bool)
    ids = np.flatnonzero(hidden)
    if ids.size == 0:
        return determined
    matrix = np.zeros((max(len(groups), 1), len(hidden)))
    for g, (total_id, members) in enumerate(groups):
        matrix[g, total_id] += 1.0
        for member in members:
            matrix[g, member] -= 1.0
    sub = matrix[:, ids]
    kernel = null_space(sub) if sub.size else np.eye(len(ids))
    free = np.abs(kernel).max(axis=1) > 1e-8 if kernel.size else np.zeros(len(ids), dtype=bool)
    determined[ids] = ~free
    return determined


# --- Audit of published tables: what can be recomputed across the tables of a family ----------


class Relation(NamedTuple):
    """A published equation ``sum(total) = sum(parts)`` between cells of published tables.

    Each cell is ``(table name, row label, column)``. ``remainder``: the parts add up to at most
    the total, the difference being an unpublished count of people (a « dont » relation).
    """

    total: tuple[tuple[str, Hashable, str], ...]
    parts: tuple[tuple[str, Hashable, str], ...]
    remainder: bool = False


def table_relations(name: str, frame: pd.DataFrame, count_columns: Sequence[str],
                    margins: Margins | None) -> list[Relation]:
    """The equations a table's own margins publish (row total, total row, « dont » columns)."""
    margins = margins or Margins()
    count_columns = list(count_columns)
    rows = list(frame.index)
    out: list[Relation] = []
    nested_parts = {c for _, children in margins.nested for c in children}
    if margins.row_total is not None:
        parts = [c for c in count_columns if c != margins.row_total and c not in nested_parts]
        for row in rows:
            out.append(Relation(((name, row, margins.row_total),),
                                tuple((name, row, c) for c in parts)))
    if margins.total_row is not None:
        others = [r for r in rows if r != margins.total_row]
        for column in count_columns:
            if column in margins.not_additive:
                continue
            out.append(Relation(((name, margins.total_row, column),),
                                tuple((name, r, column) for r in others)))
    for parent, children in margins.nested:
        for row in rows:
            out.append(Relation(((name, row, parent),), tuple((name, row, c) for c in children),
                                remainder=True))
    return out


def audit_published(tables: Mapping[str, pd.DataFrame], relations: Sequence[Relation],
                    k: int | None = None) -> list[Violation]:
    """Hidden cells that the published tables and their relations give away.

    The published figures of every table, the equations of each table's margins and the
    equalities between tables (the same population counted in two tables, or in two reports of
    a family) form one linear system whose unknowns are the hidden cells (missing values) and
    the unpublished remainders of « dont » relations. A hidden cell is reported when it is
    determined (:func:`determined_cells`) with a value of 1..k − 1, or when its bounds under
    non-negativity (linear programming) both lie in 1..k − 1: either way a reader learns that it
    counts fewer than *k* people.

    Parameters
    ----------
    tables
        Published tables by name: count columns numeric, hidden cells missing.
    relations
        The published equations (:class:`Relation`, :func:`table_relations`).
    k
        Threshold; default :func:`analysis.config.suppression_k`.

    Returns
    -------
    list of Violation
        ``row`` is ``(table name, row label)``; empty when nothing can be recovered.
    """
    from scipy.optimize import linprog

    k = _resolve_k(k)
    unknown: dict[Hashable, int] = {}
    labels: list[tuple] = []
    equations: list[tuple[dict[int, float], float]] = []

    def published(ref):
        name, row, column = ref
        value = pd.to_numeric(pd.Series([tables[name].at[row, column]]), errors="coerce").iloc[0]
        return None if pd.isna(value) else float(value)

    def variable(key, label) -> int:
        if key not in unknown:
            unknown[key] = len(labels)
            labels.append(label)
        return unknown[key]

    for n, relation in enumerate(relations):
        coefficients: dict[int, float] = {}
        constant = 0.0
        for sign, refs in ((1.0, relation.total), (-1.0, relation.parts)):
            for ref in refs:
                value = published(ref)
                if value is None:
                    v = variable(ref, ref)
                    coefficients[v] = coefficients.get(v, 0.0) + sign
                else:
                    constant -= sign * value
        if relation.remainder:
            name, row, column = relation.total[0]
            v = variable(("__reste", n), (name, row, f"{column} (reste non publié)"))
            coefficients[v] = coefficients.get(v, 0.0) - 1.0
        coefficients = {v: c for v, c in coefficients.items() if c}
        if coefficients:
            equations.append((coefficients, constant))

    # Independent blocks of unknowns (union-find over shared equations).
    parent = list(range(len(labels)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for coefficients, _ in equations:
        first, *others = coefficients
        for other in others:
            parent[find(other)] = find(first)
    blocks: dict[int, list[int]] = {}
    for v in range(len(labels)):
        blocks.setdefault(find(v), []).append(v)

    violations: list[Violation] = []
    for members in blocks.values():
        position = {v: i for i, v in enumerate(members)}
        rows = [(c, b) for c, b in equations if position.keys() & c.keys()]
        if not rows:
            continue
        matrix = np.zeros((len(rows), len(members)))
        rhs = np.zeros(len(rows))
        for r, (coefficients, constant) in enumerate(rows):
            for v, c in coefficients.items():
                matrix[r, position[v]] = c
            rhs[r] = constant
        kernel = null_space(matrix)
        free = (np.abs(kernel).max(axis=1) > 1e-8 if kernel.size
                else np.zeros(len(members), dtype=bool))
        solution = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
        for i, v in enumerate(members):
            name, row, column = labels[v]
            if not free[i]:
                value = float(np.round(solution[i], 6))
                if 1 <= value < k:
                    violations.append(Violation((name, row), column, value,
                                                "cellule masquée recalculable"))
                continue
            objective = np.zeros(len(members))
            objective[i] = 1.0
            low = linprog(objective, A_eq=matrix, b_eq=rhs, bounds=(0, None), method="highs")
            if low.status != 0 or low.fun < 1 - 1e-6:
                continue
            high = linprog(-objective, A_eq=matrix, b_eq=rhs, bounds=(0, None), method="highs")
            if high.status == 0 and -high.fun < k - 1e-6:
                violations.append(Violation((name, row), column, float(low.fun),
                                            f"cellule masquée bornée entre {low.fun:g} et "
                                            f"{-high.fun:g}"))
    return violations


# --- Engine ------------------------------------------------------------------------------------


class _Cells:
    """Flat store of cells (values, published or not) and of equations total = sum(parts)."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.published: list[bool] = []
        self.fixed: list[bool] = []
        self.groups: list[tuple[int, list[int]]] = []

    def add(self, value: int, published: bool = True, fixed: bool = False) -> int:
        self.values.append(int(value))
        self.published.append(published)
        self.fixed.append(fixed)
        return len(self.values) - 1

    def share(self, cell: int, k: int) -> None:
        """Mark ``cell`` as published elsewhere too: never a complement, unless it is small."""
        self.fixed[cell] = not 1 <= self.values[cell] < k

    def add_shared_sum(self, members: list[int], k: int) -> None:
        """An equation whose total, the sum of ``members``, is published in another table."""
        value = sum(self.values[m] for m in members)
        small = 1 <= value < k
        self.group(self.add(value, published=not small, fixed=not small), members)

    def group(self, total_id: int, members: list[int]) -> None:
        if members:
            self.groups.append((total_id, list(members)))


def _add_table(cells: _Cells, frame: pd.DataFrame, count_columns: list[str], margins: Margins,
               name: Hashable, k: int) -> dict[tuple[Hashable, str], int]:
    grid: dict[tuple[Hashable, str], int] = {}
    for row in frame.index:
        for column in count_columns:
            grid[(row, column)] = cells.add(int(frame.at[row, column]))
    rows = list(frame.index)
    # Virtual remainder columns of nested relations: unpublished, one per row.
    virtual: list[str] = []
    local: dict[tuple[Hashable, str], int] = dict(grid)
    for n, (parent, children) in enumerate(margins.nested):
        label = f"__reste_{n}"
        virtual.append(label)
        for row in rows:
            rest = int(frame.at[row, parent]) - sum(int(frame.at[row, c]) for c in children)
            if rest < 0:
                raise ValueError(f"« dont » supérieur au total {parent!r} à la ligne {row!r}")
            local[(row, label)] = cells.add(rest, published=False)
            cells.group(grid[(row, parent)], [grid[(row, c)] for c in children]
                        + [local[(row, label)]])
    if margins.row_total is not None:
        nested_parts = {c for _, children in margins.nested for c in children}
        parts = [c for c in count_columns if c != margins.row_total and c not in nested_parts]
        for row in rows:
            cells.group(grid[(row, margins.row_total)], [grid[(row, c)] for c in parts])
    if margins.total_row is not None:
        others = [r for r in rows if r != margins.total_row]
        for column in [*count_columns, *virtual]:
            if column in margins.not_additive:
                continue
            cells.group(local[(margins.total_row, column)], [local[(r, column)] for r in others])
    _add_shared(cells, grid, rows, count_columns, margins, k)
    return grid


def _add_shared(cells: _Cells, grid: dict[tuple[Hashable, str], int], rows: list,
                count_columns: list[str], margins: Margins, k: int) -> None:
    """The figures of this table that another table of the report (or of its family) publishes:
    a published total cell is fixed, an unpublished sum becomes an equation of its own."""
    # A shared row or cell absent from a table (a part of a family) is not in it: nothing to do.
    for row, column in margins.shared_cells:
        if (row, column) in grid:
            cells.share(grid[(row, column)], k)
    for column in margins.shared_columns:
        if margins.total_row is not None:
            cells.share(grid[(margins.total_row, column)], k)
        else:
            cells.add_shared_sum([grid[(r, column)] for r in rows], k)
    nested_parts = {c for _, children in margins.nested for c in children}
    for row in margins.shared_rows:
        if row not in rows:
            continue
        if margins.row_total is not None:
            cells.share(grid[(row, margins.row_total)], k)
        else:
            cells.add_shared_sum([grid[(row, c)] for c in count_columns
                                  if c not in nested_parts], k)


def _suppress(cells: _Cells, k: int, fixed: np.ndarray | None = None) -> np.ndarray:
    values = np.asarray(cells.values, dtype=float)
    # A cell published in another table too (fixed) can never be a complement: for the choice
    # of complements it counts as not published.
    published = np.asarray(cells.published, dtype=bool)
    choosable = published if fixed is None else published & ~fixed
    sensitive = (values >= 1) & (values < k)
    hidden = sensitive | ~published
    groups = cells.groups
    for _ in range(10 * len(values) + 10):
        changed = False
        # Rule 1: what an equation with a published total gives away (sum of its hidden parts).
        for total_id, members in groups:
            hidden_members = [m for m in [total_id, *members] if hidden[m]]
            if len(hidden_members) == 1 and published[hidden_members[0]]:
                # A lone hidden published cell is the difference of the others.
                changed |= _hide_complement(total_id, members, values, choosable, hidden)
                continue
            if hidden[total_id]:
                continue
            hidden_parts = [m for m in members if hidden[m]]
            if hidden_parts and 1 <= values[hidden_parts].sum() < k:
                changed |= _hide_complement(total_id, members, values, choosable, hidden)
        if changed:
            continue
        # Rule 2: no sensitive cell determined by the whole system.
        exposed = np.flatnonzero(determined_cells(values, hidden, groups) & sensitive)
        if exposed.size == 0:
            return hidden
        _hide_for(int(exposed[0]), values, choosable, hidden, groups)
    raise RuntimeError("la suppression secondaire ne converge pas")


def _candidates(total_id: int, members: list[int], published: np.ndarray,
                hidden: np.ndarray) -> list[int]:
    return [c for c in [*members, total_id] if published[c] and not hidden[c]]


def _hide_complement(total_id: int, members: list[int], values: np.ndarray,
                     published: np.ndarray, hidden: np.ndarray) -> bool:
    """Hide the best complement of one equation; False if none is left."""
    candidates = _candidates(total_id, members, published, hidden)
    if not candidates:
        return False

    def rank(cell: int) -> tuple:
        # Smallest positive part first, then the total, then zeros.
        if cell != total_id and values[cell] > 0:
            return (0, values[cell], cell)
        if cell == total_id:
            return (1, values[cell], cell)
        return (2, values[cell], cell)

    hidden[min(candidates, key=rank)] = True
    return True


def _hide_for(cell: int, values: np.ndarray, published: np.ndarray, hidden: np.ndarray,
              groups: list[tuple[int, list[int]]]) -> None:
    """Hide a complement in the equations around ``cell``, widening the search if needed."""
    frontier = {cell}
    seen: set[int] = set()
    while frontier:
        around = [g for g, (t, m) in enumerate(groups)
                  if g not in seen and (t in frontier or frontier.intersection(m))]
        if not around:
            break
        # Equations with the fewest hidden members first: they constrain the cell most.
        around.sort(key=lambda g: sum(hidden[c] for c in [groups[g][0], *groups[g][1]]))
        for g in around:
            if _hide_complement(groups[g][0], groups[g][1], values, published, hidden):
                return
        seen.update(around)
        frontier = {c for g in around for c in [groups[g][0], *groups[g][1]] if hidden[c]}
    raise RuntimeError("aucune cellule complémentaire disponible pour protéger le secret")


# --- Helpers -----------------------------------------------------------------------------------


def _resolve_k(k: int | None) -> int:
    k = config.suppression_k() if k is None else int(k)
    if k < 1:
        raise ValueError(f"seuil de secret invalide : {k}")
    return k


def _validate(frame: pd.DataFrame, count_columns: list[str], margins: Margins,
              derived: dict, name: Hashable) -> None:
    where = "" if name is None else f" (table {name!r})"
    if not frame.index.is_unique:
        raise ValueError(f"index non unique{where}")
    missing = [c for c in count_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"colonnes d'effectifs absentes{where} : {missing}")
    for column in count_columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any() or (values < 0).any() or (values != values.round()).any():
            raise ValueError(f"effectifs entiers positifs ou nuls attendus{where} : {column!r}")
    if margins.row_total is not None and margins.row_total not in count_columns:
        raise ValueError(f"colonne de total {margins.row_total!r} hors des effectifs")
    if margins.total_row is not None and margins.total_row not in frame.index:
        raise ValueError(f"ligne de total {margins.total_row!r} absente{where}")
    if margins.total_row is not None:
        body = frame.drop(index=[margins.total_row])
        for column in count_columns:
            if column in margins.not_additive:
                continue
            total, parts = int(frame.at[margins.total_row, column]), int(body[column].sum())
            if total != parts:
                raise ValueError(
                    f"ligne de total {margins.total_row!r}{where} : {column!r} vaut {total}, la "
                    f"somme des lignes {parts} ; une colonne dont une personne compte dans "
                    "plusieurs lignes se déclare non additive (Margins.not_additive)")
    for parent, children in margins.nested:
        if parent not in count_columns or any(c not in count_columns for c in children):
            raise ValueError(f"relation « dont » hors des effectifs : {parent!r}")
    shared = [*margins.shared_columns, *(c for _, c in margins.shared_cells)]
    if any(c not in count_columns for c in shared):
        raise ValueError(f"total partagé hors des effectifs : {shared!r}")
    for column, sources in derived.items():
        sources = [sources] if isinstance(sources, str) else list(sources)
        if column not in frame.columns or any(s not in count_columns for s in sources):
            raise ValueError(f"colonne dérivée {column!r} ou ses effectifs absents{where}")


def _rebuild(frame: pd.DataFrame, grid: dict[tuple[Hashable, str], int], cells: _Cells,
             hidden: np.ndarray, count_columns: list[str], derived: dict, k: int
             ) -> ProtectedTable:
    counts_mask = pd.DataFrame(False, index=frame.index, columns=count_columns)
    primary = pd.DataFrame(False, index=frame.index, columns=count_columns)
    for (row, column), cell in grid.items():
        counts_mask.at[row, column] = bool(hidden[cell])
        primary.at[row, column] = bool(1 <= cells.values[cell] < k)
    mask = counts_mask.copy()
    for column, sources in derived.items():
        sources = [sources] if isinstance(sources, str) else list(sources)
        mask[column] = counts_mask[sources].any(axis=1)
    table = frame.copy()
    for column in count_columns:
        table[column] = table[column].astype("Int64").mask(counts_mask[column])
    for column in derived:
        table[column] = table[column].mask(mask[column])
    return ProtectedTable(table=table, mask=mask, primary=primary, k=k)


# --- Magnitude tables: dominance rule ----------------------------------------------------------
#
# Hours and amounts are *magnitude* tables: a cell is a sum over contributors (employers,
# contractors). A cell made mostly of one contributor's figure reveals that figure, however many
# people it counts. Statistical-secrecy practice (INSEE « règle des 3 et 85 % », Eurostat and
# ACRO's nk and p % rules) adds, for such cells, a minimum number of contributors and dominance
# rules; a sensitive magnitude cell is then protected by secondary suppression like a small count.


#: Footnote printed under a table whose hours or amounts hide a cell (``{n}``, ``{k}``, ``{p}``,
#: ``{m}``: the rule in force).
MAGNITUDE_FOOTNOTE = ("s (heures, montants) : secret statistique, moins de {m} contributeurs "
                      "(employeurs ou titulaires), {lead} {k} % ou plus du total, ou les autres "
                      "contributeurs moins de {p} % du premier, ou permettant de le recalculer.")


@dataclass(frozen=True)
class DominanceRule:
    """When a magnitude cell (a sum over contributors) may not be published.

    A cell with a positive total is *sensitive* when

    * it has fewer than ``min_contributors`` contributors with a positive value (threshold rule);
    * its ``n`` largest contributors make ``k`` or more of its total ((n, k) rule);
    * the total minus its two largest contributors is less than ``p`` times the largest (p %
      rule: the second contributor would learn the first one's figure within p %).

    The comparisons are ACRO's (``top_n_sum / sum >= k``, ``(sum - top_2_sum) / max < p``), so
    that ACRO can check the decisions cell by cell. A zero cell (no contributor) is published.
    """

    n: int = 1
    k: float = 0.85
    p: float | None = 0.10
    min_contributors: int = 3

    def __post_init__(self) -> None:
        if self.n < 1 or not 0 < self.k <= 1 or self.min_contributors < 1 or (
                self.p is not None and not 0 <= self.p < 1):
            raise ValueError(f"règle de dominance invalide : {self}")

    def reason(self, contributions) -> str | None:
        """Why a cell with these contributor totals is sensitive (French), or None."""
        values = np.sort(np.asarray(contributions, dtype=float))[::-1]
        values = values[values > 0]
        total = float(values.sum())
        if total <= 0:
            return None
        if len(values) < self.min_contributors:
            return f"moins de {self.min_contributors} contributeurs"
        if float(values[:self.n].sum()) / total >= self.k:
            return f"{self.n} contributeur(s) font au moins {self.k:.0%} du total"
        if self.p is not None and (total - float(values[:2].sum())) / float(values[0]) < self.p:
            return f"les autres contributeurs font moins de {self.p:.0%} du premier"
        return None

    def sensitive(self, contributions) -> bool:
        """True when a cell with these contributor totals may not be published."""
        return self.reason(contributions) is not None

    def footnote(self) -> str:
        lead = ("le premier en représentant" if self.n == 1
                else f"les {self.n} premiers en représentant")
        return MAGNITUDE_FOOTNOTE.format(m=self.min_contributors, lead=lead,
                                         k=_percent(self.k), p=_percent(self.p or 0))


def _percent(value: float) -> str:
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def dominance_rule() -> DominanceRule:
    """The observatory's rule, from :mod:`analysis.config` (``DOMINANCE_*``,
    ``MIN_CONTRIBUTORS``)."""
    return DominanceRule(n=config.DOMINANCE_N, k=config.DOMINANCE_K, p=config.DOMINANCE_P,
                         min_contributors=config.MIN_CONTRIBUTORS)


#: Columns of a contributions frame: the published row label, the contributor, its total.
CONTRIBUTION_COLUMNS = ("row", "contributor", "value")


def contributions(rows, contributors, values, total_row: Hashable | None = None) -> pd.DataFrame:
    """Per-cell contributor totals of one magnitude column, from microdata (one group-by).

    Parameters
    ----------
    rows
        For each microdata record, the label of the published row it adds to.
    contributors
        For each record, its contributor (an employer's SIRET, a contractor…); missing
        contributors are each taken as distinct.
    values
        For each record, the magnitude (hours, amount).
    total_row
        When given, every record also adds to this row (an « Ensemble » row).

    Returns
    -------
    DataFrame
        Columns ``row, contributor, value``: one line per row and contributor with a positive
        total (a contributor with nothing is no contributor).
    """
    frame = pd.DataFrame({"row": pd.Series(rows).to_numpy(dtype=object),
                          "contributor": pd.Series(contributors).to_numpy(dtype=object),
                          "value": pd.to_numeric(pd.Series(values), errors="coerce")
                          .fillna(0.0).to_numpy(dtype=float)})
    missing = pd.isna(frame["contributor"])
    if missing.any():
        frame.loc[missing, "contributor"] = [f"__inconnu_{i}" for i in np.flatnonzero(missing)]
    frame = frame.loc[pd.notna(frame["row"])]
    if total_row is not None:
        frame = pd.concat([frame, frame.assign(row=total_row)], ignore_index=True)
    out = frame.groupby(["row", "contributor"], sort=False, dropna=False)["value"].sum()
    out = out[out > 0].reset_index()
    return out[list(CONTRIBUTION_COLUMNS)]


def dominated_cells(table: pd.DataFrame, magnitudes: Mapping[str, pd.DataFrame],
                    rule: DominanceRule | None = None) -> pd.DataFrame:
    """Boolean frame over the magnitude columns: True where the cell fails the dominance rule."""
    rule = rule or dominance_rule()
    out = pd.DataFrame(False, index=table.index, columns=list(magnitudes))
    for column, contrib in magnitudes.items():
        _check_contributions(contrib, column)
        for row, values in contrib.groupby("row", sort=False)["value"]:
            if row in out.index and rule.sensitive(values.to_numpy()):
                out.at[row, column] = True
    return out


@dataclass(frozen=True)
class ProtectedMagnitudes(ProtectedTable):
    """A :class:`ProtectedTable` whose magnitude columns also went through the dominance rule.

    Attributes
    ----------
    dominated
        Boolean frame over the magnitude columns: True where the cell itself fails the rule
        (primary); the other hidden magnitude cells are complements or follow their counts.
    rule
        The rule applied.
    """

    dominated: pd.DataFrame | None = None
    rule: DominanceRule | None = None
    people_suppressed: bool = False
    #: The mask after the people rule alone (what the dominance rule added is ``mask`` minus it).
    people_mask: pd.DataFrame | None = None

    def notes(self) -> list[str]:
        """The people footnote when a count was suppressed, the dominance one when a magnitude
        was."""
        notes = [self.footnote] if self.people_suppressed else []
        if self.dominated is not None and self.mask[list(self.dominated.columns)].to_numpy().any():
            notes.append(self.rule.footnote())
        return notes


def protect_magnitudes(table: pd.DataFrame, magnitudes: Mapping[str, pd.DataFrame],
                       protected: ProtectedTable | None = None, *,
                       margins: Margins | None = None, row_total: str | None = None,
                       derived: Mapping[str, str | Sequence[str]] | None = None,
                       rule: DominanceRule | None = None, k: int | None = None,
                       ) -> ProtectedMagnitudes:
    """Dominance rule and secondary suppression on the magnitude columns of a table.

    Runs after the protection of the counts of people (``protected``): the magnitude cells
    already hidden with their counts stay hidden, the dominated ones are hidden, and complements
    are added until no sensitive magnitude cell can be recomputed from the published totals:

    * *line rule*: no equation (a total row, a ``row_total`` column) holds a single hidden cell;
    * *union rule*: in an equation whose total is published, the hidden parts add up to a figure
      anyone can compute; their contributors put together must pass the rule too (two cells of
      the same employer hidden together would still give its figure);
    * *system rule*: no sensitive cell is determined by the equations (:func:`determined_cells`).

    Parameters
    ----------
    table
        The table as computed (magnitudes unrounded or rounded, no missing value needed).
    magnitudes
        ``{column: contributions}`` (:func:`contributions`), one frame per magnitude column,
        rows labelled like ``table``'s index.
    protected
        The result of :func:`protect` on the table's counts of people, if any.
    margins
        The table's margins: ``total_row`` makes each magnitude column an equation.
    row_total
        A magnitude column equal, in each row, to the sum of the other magnitude columns.
    derived
        ``{column: source column(s)}``: columns hidden with a magnitude (or count) they come from.
    rule, k
        The dominance rule (default :func:`dominance_rule`) and the people threshold.

    Returns
    -------
    ProtectedMagnitudes
    """
    rule = rule or dominance_rule()
    margins = margins or Margins()
    derived = dict(derived or {})
    columns = list(magnitudes)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"colonnes de grandeurs absentes : {missing}")
    if not table.index.is_unique:
        raise ValueError("index non unique")
    if row_total is not None and row_total not in columns:
        raise ValueError(f"colonne de total {row_total!r} hors des grandeurs")
    dominated = dominated_cells(table, magnitudes, rule)
    base_mask = (protected.mask if protected is not None
                 else pd.DataFrame(False, index=table.index, columns=[]))
    people_primary = (protected.primary if protected is not None
                      else pd.DataFrame(False, index=table.index, columns=[]))

    rows = list(table.index)
    ids = {(r, c): i for i, (c, r) in enumerate((c, r) for c in columns for r in rows)}
    values = np.array([_magnitude(table.at[r, c]) for c in columns for r in rows])
    sensitive = np.zeros(len(values), dtype=bool)
    hidden = np.zeros(len(values), dtype=bool)
    for (r, c), i in ids.items():
        sources = _sources(derived.get(c, ()))
        # Hours of fewer than k people are as sensitive as the count they come from.
        small = any(people_primary.at[r, s] for s in sources if s in people_primary.columns)
        sensitive[i] = bool(dominated.at[r, c]) or small
        hidden[i] = sensitive[i] or (c in base_mask.columns and bool(base_mask.at[r, c]))
    groups: list[tuple[int, list[int]]] = []
    if margins.total_row is not None and margins.total_row in table.index:
        others = [r for r in rows if r != margins.total_row]
        for c in columns:
            groups.append((ids[(margins.total_row, c)], [ids[(r, c)] for r in others]))
    if row_total is not None:
        parts = [c for c in columns if c != row_total]
        for r in rows:
            groups.append((ids[(r, row_total)], [ids[(r, c)] for c in parts]))
    cell_contrib = {ids[(r, c)]: g["value"].groupby(g["contributor"]).sum()
                    for c, contrib in magnitudes.items()
                    for r, g in contrib.groupby("row", sort=False) if (r, c) in ids}

    def union_sensitive(members: list[int]) -> bool:
        pieces = [cell_contrib[m] for m in members if m in cell_contrib]
        if not pieces:
            return False
        return rule.sensitive(pd.concat(pieces).groupby(level=0).sum().to_numpy())

    for _ in range(10 * len(values) + 10):
        changed = False
        for total_id, members in groups:
            hidden_cells = [m for m in [total_id, *members] if hidden[m]]
            if len(hidden_cells) == 1:
                changed |= _hide_magnitude_complement(total_id, members, values, hidden)
                continue
            hidden_parts = [m for m in members if hidden[m]]
            if hidden[total_id] or not hidden_parts:
                continue
            if union_sensitive(hidden_parts):
                changed |= _hide_magnitude_complement(total_id, members, values, hidden)
        if changed:
            continue
        exposed = np.flatnonzero(determined_cells(values, hidden, groups) & sensitive)
        if exposed.size == 0:
            break
        cell = int(exposed[0])
        around = [g for g in groups if cell == g[0] or cell in g[1]]
        if not any(_hide_magnitude_complement(t, m, values, hidden) for t, m in around):
            raise RuntimeError("aucune cellule complémentaire disponible pour protéger le secret")
    else:
        raise RuntimeError("la suppression secondaire des grandeurs ne converge pas")

    magnitude_mask = pd.DataFrame(False, index=table.index, columns=columns)
    for (r, c), i in ids.items():
        magnitude_mask.at[r, c] = bool(hidden[i])
    mask = base_mask.copy()
    for c in columns:
        mask[c] = magnitude_mask[c] | (mask[c] if c in mask.columns else False)
    for column, sources in derived.items():
        sources = _sources(sources)
        if column in columns or not any(s in mask.columns for s in sources):
            continue
        follow = mask[[s for s in sources if s in mask.columns]].any(axis=1)
        mask[column] = follow | (mask[column] if column in mask.columns else False)
    out = (protected.table.copy() if protected is not None else table.copy())
    for column in mask.columns:
        if column in out.columns and mask[column].any():
            if pd.api.types.is_integer_dtype(out[column]) and column not in columns:
                out[column] = out[column].astype("Int64").mask(mask[column])
            else:
                out[column] = pd.to_numeric(out[column], errors="coerce").astype(float).mask(
                    mask[column])
    primary = (protected.primary.copy() if protected is not None
               else pd.DataFrame(index=table.index))
    return ProtectedMagnitudes(table=out, mask=mask, primary=primary,
                               k=protected.k if protected is not None else _resolve_k(k),
                               dominated=dominated, rule=rule,
                               people_suppressed=bool(protected is not None
                                                      and protected.n_suppressed),
                               people_mask=base_mask.reindex(columns=mask.columns,
                                                             fill_value=False))


def _sources(sources) -> list[str]:
    return [sources] if isinstance(sources, str) else list(sources)


def _magnitude(value) -> float:
    value = pd.to_numeric(value, errors="coerce")
    return 0.0 if pd.isna(value) else float(value)


def _check_contributions(contrib: pd.DataFrame, column: str) -> None:
    if not isinstance(contrib, pd.DataFrame) or any(c not in contrib.columns
                                                    for c in CONTRIBUTION_COLUMNS):
        raise ValueError(f"contributions de {column!r} : colonnes {CONTRIBUTION_COLUMNS} attendues")
    if (pd.to_numeric(contrib["value"], errors="coerce") < 0).any():
        raise ValueError(f"contributions négatives pour {column!r} : dominance non définie")


def _hide_magnitude_complement(total_id: int, members: list[int], values: np.ndarray,
                               hidden: np.ndarray) -> bool:
    """Hide the smallest positive visible part of the equation, else its total, else a zero."""
    candidates = [c for c in [*members, total_id] if not hidden[c]]
    if not candidates:
        return False

    def rank(cell: int) -> tuple:
        if cell != total_id and values[cell] > 0:
            return (0, values[cell], cell)
        if cell == total_id:
            return (1, values[cell], cell)
        return (2, values[cell], cell)

    hidden[min(candidates, key=rank)] = True
    return True
