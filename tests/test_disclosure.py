"""Disclosure control: primary and secondary suppression, derived columns, differencing, scanning.

The verifiers here are written independently of the module: they rebuild the margin equations
from the table, and check by rank (linear algebra) and by brute-force enumeration of integer
solutions that no small hidden cell can be recomputed from what is published.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from analysis import disclosure
from analysis.disclosure import Margins, check_differencing, protect, protect_related, \
    scan_for_small_cells

def two_way(inner: list[list[int]], columns: list[str] | None = None) -> pd.DataFrame:
    """A two-way table with its row totals (``total``) and column totals (row ``Total``)."""
    columns = columns or [f"c{j}" for j in range(len(inner[0]))]
    frame = pd.DataFrame(inner, columns=columns, index=[f"r{i}" for i in range(len(inner))])
    frame["total"] = frame.sum(axis=1)
    frame.loc["Total"] = frame.sum(axis=0)
    return frame.astype(int)


MARGINS = Margins(row_total="total", total_row="Total")


def equations(frame: pd.DataFrame) -> list[list[tuple[tuple, int]]]:
    """Margin equations of a :func:`two_way` table as lists of ((row, col), coefficient) = 0."""
    inner_rows = [r for r in frame.index if r != "Total"]
    inner_cols = [c for c in frame.columns if c != "total"]
    eqs = []
    for row in frame.index:
        eqs.append([((row, "total"), 1)] + [((row, c), -1) for c in inner_cols])
    for col in frame.columns:
        eqs.append([(("Total", col), 1)] + [((r, col), -1) for r in inner_rows])
    return eqs


def hidden_cells(protected, columns) -> list[tuple]:
    mask = protected.mask[columns]
    return [(r, c) for r in mask.index for c in columns if mask.at[r, c]]


def linearly_determined(frame: pd.DataFrame, hidden: list[tuple]) -> set[tuple]:
    """Hidden cells fixed by the margin equations (unit vector in the row space)."""
    eqs = equations(frame)
    position = {cell: j for j, cell in enumerate(hidden)}
    matrix = np.zeros((len(eqs), len(hidden)))
    for i, eq in enumerate(eqs):
        for cell, coef in eq:
            if cell in position:
                matrix[i, position[cell]] += coef
    rank = np.linalg.matrix_rank(matrix)
    fixed = set()
    for cell, j in position.items():
        unit = np.zeros((1, len(hidden)))
        unit[0, j] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            fixed.add(cell)
    return fixed


def integer_solutions(frame: pd.DataFrame, hidden: list[tuple]) -> np.ndarray:
    """Every non-negative integer filling of the hidden cells consistent with what is published.

    Brute force over the free cells (as many as the null space has dimensions), each from 0 to
    the smallest published total it belongs to; the other hidden cells are then solved for and
    kept only when the whole filling is made of non-negative integers satisfying every equation.
    """
    position = {cell: j for j, cell in enumerate(hidden)}
    eqs = equations(frame)
    matrix = np.zeros((len(eqs), len(hidden)))
    rhs = np.zeros(len(eqs))
    bounds = np.full(len(hidden), int(frame.at["Total", "total"]))
    for i, eq in enumerate(eqs):
        for cell, coef in eq:
            if cell in position:
                matrix[i, position[cell]] += coef
            else:
                rhs[i] -= coef * frame.at[cell]
        total = eq[0][0]
        if total not in position:
            for cell, _ in eq[1:]:
                if cell in position:
                    bounds[position[cell]] = min(bounds[position[cell]], int(frame.at[total]))
    rank = np.linalg.matrix_rank(matrix)
    _, _, order = scipy.linalg.qr(matrix, pivoting=True)
    pivots, free = list(order[:rank]), list(order[rank:])
    assert np.prod([bounds[j] + 1 for j in free], dtype=float) < 2e6
    solutions = []
    for values in itertools.product(*[range(bounds[j] + 1) for j in free]):
        x = np.zeros(len(hidden))
        x[free] = values
        rest = rhs - matrix[:, free] @ np.asarray(values, dtype=float)
        x[pivots] = np.linalg.lstsq(matrix[:, pivots], rest, rcond=None)[0]
        rounded = np.round(x)
        if (np.abs(x - rounded) < 1e-7).all() and (rounded >= 0).all() \
                and np.allclose(matrix @ rounded, rhs):
            solutions.append(rounded.astype(int))
    return np.array(solutions).reshape(-1, len(hidden))


def assert_line_rule(protected, columns):
    """Every row and column of the full grid holds zero or at least two suppressed cells."""
    mask = protected.mask[columns]
    assert all(n != 1 for n in mask.sum(axis=1)), mask
    assert all(n != 1 for n in mask.sum(axis=0)), mask


# --- Primary suppression -----------------------------------------------------------------------


def test_primary_suppression_hides_one_to_k_minus_one_and_keeps_zeros():
    table = pd.DataFrame({"personnes": [0, 1, 4, 5, 12]}, index=list("abcde"))
    protected = protect(table, ["personnes"], k=5)
    assert protected.mask["personnes"].tolist() == [False, True, True, False, False]
    assert protected.table["personnes"].tolist()[0] == 0
    assert protected.table["personnes"].isna().tolist() == [False, True, True, False, False]
    assert protected.table.loc[["a", "d", "e"], "personnes"].tolist() == [0, 5, 12]
    assert protected.primary["personnes"].tolist() == [False, True, True, False, False]
    assert protected.display()["personnes"].tolist() == [0, "s", "s", 5, 12]
    assert protected.notes() == [
        "s : secret statistique, effectif inférieur à 5 ou permettant de le recalculer."]


def test_table_without_small_cells_is_unchanged():
    table = two_way([[10, 20, 0], [7, 9, 30]])
    table["libelle"] = ["un", "deux", "ensemble"]
    protected = protect(table, ["c0", "c1", "c2", "total"], k=5, margins=MARGINS)
    assert protected.n_suppressed == 0
    assert protected.notes() == []
    pd.testing.assert_frame_equal(protected.table.astype({c: "int64" for c in
                                                          ["c0", "c1", "c2", "total"]}), table)


def test_invalid_counts_are_refused():
    with pytest.raises(ValueError):
        protect(pd.DataFrame({"n": [1, -2]}), ["n"], k=5)
    with pytest.raises(ValueError):
        protect(pd.DataFrame({"n": [1.0, None]}), ["n"], k=5)
    with pytest.raises(ValueError):
        protect(pd.DataFrame({"n": [1, 2]}), ["n"], k=5, margins=Margins(total_row="Total"))


# --- Secondary suppression ---------------------------------------------------------------------


def test_secondary_suppression_in_a_two_way_table():
    table = two_way([[2, 8, 15], [10, 9, 30], [12, 20, 6]])
    columns = ["c0", "c1", "c2", "total"]
    protected = protect(table, columns, k=5, margins=MARGINS)
    hidden = hidden_cells(protected, columns)
    # The small cell, plus the cheapest complements: its row, its column, and the cycle's corner.
    assert set(hidden) == {("r0", "c0"), ("r0", "c1"), ("r1", "c0"), ("r1", "c1")}
    assert protected.secondary.to_numpy().sum() == 3
    assert_line_rule(protected, columns)
    assert not linearly_determined(table, hidden)


def test_one_dimensional_table_with_total():
    lone = pd.DataFrame({"n": [3, 20, 40, 63]}, index=["a", "b", "c", "Total"])
    protected = protect(lone, ["n"], k=5, margins=Margins(total_row="Total"))
    assert protected.mask["n"].tolist() == [True, True, False, False]   # smallest complement
    # Two small cells whose sum is still small: a third cell is hidden.
    pair = pd.DataFrame({"n": [3, 1, 40, 9, 53]}, index=["a", "b", "c", "d", "Total"])
    protected = protect(pair, ["n"], k=5, margins=Margins(total_row="Total"))
    assert protected.mask["n"].tolist() == [True, True, False, True, False]
    revealed = 53 - protected.table["n"].drop("Total").sum()
    assert not 1 <= revealed < 5


@pytest.mark.parametrize("inner, k", [
    ([[2, 8, 15], [10, 9, 30], [12, 20, 6]], 5),
    ([[1, 6], [7, 3]], 5),
    ([[0, 3, 9], [6, 0, 7]], 5),
    ([[7, 12], [15, 30], [4, 25]], 11),
])
def test_hidden_cells_are_not_uniquely_determined_by_integer_solutions(inner, k):
    table = two_way(inner)
    columns = [c for c in table.columns]
    protected = protect(table, columns, k=k, margins=MARGINS)
    hidden = hidden_cells(protected, columns)
    assert 2 <= len(hidden) <= 6
    published = table.copy()
    solutions = integer_solutions(published, hidden)
    assert len(solutions) >= 2
    truth = [table.at[cell] for cell in hidden]
    assert any((row == truth).all() for row in solutions)
    for j, cell in enumerate(hidden):
        if protected.primary.at[cell]:
            assert len(set(solutions[:, j])) >= 2, f"{cell} recomputable"
            # Nor is the small cell pinned to 1..k-1 by the published figures.
            assert solutions[:, j].max() >= k or solutions[:, j].min() == 0
    assert_line_rule(protected, columns)


def test_random_tables_keep_every_small_cell_free():
    rng = np.random.default_rng(20261123)
    for _ in range(60):
        shape = tuple(rng.integers(2, 5, size=2))
        inner = rng.choice([0, 1, 2, 3, 4, 6, 8, 12, 20, 35], size=shape).tolist()
        table = two_way(inner)
        columns = list(table.columns)
        protected = protect(table, columns, k=5, margins=MARGINS)
        assert scan_for_small_cells(protected.table, columns, k=5) == []
        hidden = hidden_cells(protected, columns)
        fixed = linearly_determined(table, hidden)
        assert not {cell for cell in fixed if protected.primary.at[cell]}, (inner, fixed)
        assert_line_rule(protected, columns)


def test_nested_columns_protect_the_remainder():
    # 20 contracts, 18 with a clause: « sans clause » = 2 would be recomputable.
    table = pd.DataFrame({"contrats": [20, 40], "avec_clause": [18, 20]}, index=["a", "b"])
    margins = Margins(nested=(("contrats", ("avec_clause",)),))
    protected = protect(table, ["contrats", "avec_clause"], k=5, margins=margins)
    assert protected.mask.loc["a"].any()
    assert not protected.mask.loc["b"].any()
    published = protected.table.loc["a"]
    assert published.isna().any()


# --- Derived columns ---------------------------------------------------------------------------


def test_derived_columns_follow_their_counts():
    table = pd.DataFrame({"contrats": [40, 30, 50], "avec": [3, 12, 0]}, index=["a", "b", "c"])
    table["part"] = table["avec"] / table["contrats"]
    table["ic_bas"] = table["part"] - 0.05
    protected = protect(table, ["contrats", "avec"], k=5,
                        derived={"part": ("avec", "contrats"), "ic_bas": "avec"})
    assert protected.mask.loc["a"].to_dict() == {"contrats": False, "avec": True, "part": True,
                                                 "ic_bas": True}
    assert protected.table.loc["a", ["avec", "part", "ic_bas"]].isna().all()
    assert protected.table.loc["b", "part"] == pytest.approx(0.4)
    assert protected.table.loc["c", "part"] == 0
    shown = protected.display()
    assert shown.loc["a", "part"] == "s"


# --- Differencing between related tables -------------------------------------------------------


def territories():
    """A région and two départements; 2 people of the région belong to no département."""
    dep = {
        "75": pd.DataFrame({"rsa": [10, 3], "rqth": [8, 12]}, index=[2024, 2025]),
        "93": pd.DataFrame({"rsa": [20, 15], "rqth": [9, 30]}, index=[2024, 2025]),
    }
    region = pd.DataFrame({"rsa": [32, 18], "rqth": [17, 42]}, index=[2024, 2025])
    return region, dep


def test_differencing_attack_found_on_raw_tables():
    region, dep = territories()
    violations = check_differencing(region, dep, ["rsa", "rqth"], k=5)
    assert [(v.row, v.column, v.value) for v in violations] == [(2024, "rsa", 2.0)]


def test_differencing_attack_fails_after_joint_protection():
    region, dep = territories()
    columns = ["rsa", "rqth"]
    # Protected one by one, the département cell 3 is hidden but région − other département
    # gives it back (18 − 15 = 3), and 32 − (10 + 20) = 2 reveals the région-level people.
    alone = {name: protect(frame, columns, k=5).table for name, frame in dep.items()}
    assert check_differencing(protect(region, columns, k=5).table, alone, columns, k=5)

    total, parts = protect_related(region, dep, columns, k=5)
    published = [total.table, *(p.table for p in parts.values())]
    assert check_differencing(total.table, [p.table for p in parts.values()], columns, k=5) == []
    for frame in published:
        assert scan_for_small_cells(frame, columns, k=5) == []
    # The hidden 3 of the 75 cannot be recomputed: région and 93 for 2025 cannot both be public.
    assert parts["75"].mask.at[2025, "rsa"]
    assert total.mask.at[2025, "rsa"] or parts["93"].mask.at[2025, "rsa"]


def test_exhaustive_parts_must_add_up():
    region, dep = territories()
    with pytest.raises(ValueError):
        protect_related(region, dep, ["rsa", "rqth"], k=5, exhaustive=True)
    exact = dep["75"] + dep["93"]
    total, parts = protect_related(exact, dep, ["rsa", "rqth"], k=5, exhaustive=True)
    assert total.mask.at[2025, "rsa"] or parts["93"].mask.at[2025, "rsa"]
    assert check_differencing(total.table, [p.table for p in parts.values()], ["rsa", "rqth"],
                              k=5) == []


# --- Threshold and scanning --------------------------------------------------------------------


def test_k_comes_from_configuration(monkeypatch):
    table = pd.DataFrame({"n": [7, 30]}, index=["a", "b"])
    monkeypatch.delenv("OBSERVATOIRE_SUPPRESSION_K", raising=False)
    assert protect(table, ["n"]).k == 5
    assert protect(table, ["n"]).n_suppressed == 0
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "11")
    protected = protect(table, ["n"])
    assert protected.k == 11
    assert protected.mask["n"].tolist() == [True, False]
    assert "inférieur à 11" in protected.footnote
    assert disclosure.footnote() == protected.footnote
    assert protect(table, ["n"], k=5).n_suppressed == 0


def test_k_eleven_with_margins():
    table = two_way([[7, 12], [15, 30], [4, 25]])
    columns = list(table.columns)
    protected = protect(table, columns, k=11, margins=MARGINS)
    assert scan_for_small_cells(protected.table, columns, k=11) == []
    assert_line_rule(protected, columns)
    hidden = hidden_cells(protected, columns)
    assert not {c for c in linearly_determined(table, hidden) if protected.primary.at[c]}


def test_scan_for_small_cells_reads_published_files():
    table = two_way([[2, 8, 15], [10, 9, 30], [12, 20, 6]])
    columns = list(table.columns)
    raw = scan_for_small_cells(table, columns, k=5)
    assert [(v.row, v.column, v.value) for v in raw] == [("r0", "c0", 2.0)]
    shown = protect(table, columns, k=5, margins=MARGINS).display()
    back = pd.read_csv(io.StringIO(shown.to_csv()), index_col=0)
    assert scan_for_small_cells(back, columns, k=5) == []
    assert (back == "s").to_numpy().sum() == 4


def test_determined_cells_helper():
    # a + b = 10 with b published: a is fixed; with b hidden too, neither is.
    groups = [(2, [0, 1])]
    values = np.array([3, 7, 10])
    assert disclosure.determined_cells(values, [True, False, False], groups).tolist() == \
        [True, False, False]
    assert not disclosure.determined_cells(values, [True, True, False], groups).any()


def test_verifiers_catch_an_unprotected_pattern():
    # Only the small cell hidden: the margins give it back, and both verifiers must say so.
    table = two_way([[2, 8, 15], [10, 9, 30], [12, 20, 6]])
    assert linearly_determined(table, [("r0", "c0")]) == {("r0", "c0")}
    assert integer_solutions(table, [("r0", "c0")]).tolist() == [[2]]
    # A 2 × 2 cycle leaves one degree of freedom.
    cycle = [("r0", "c0"), ("r0", "c1"), ("r1", "c0"), ("r1", "c1")]
    assert not linearly_determined(table, cycle)
    assert len(integer_solutions(table, cycle)) == 1 + min(2, 9) + min(8, 10)


def test_a_total_row_that_is_not_the_sum_must_be_declared_not_additive():
    """People in several rows (modalities, kinds of contract): « Ensemble » counts distinct
    people, below the sum of the rows. Taken for an equation, it would steer secondary
    suppression (and the audit) by a false relation: refused unless declared."""
    table = pd.DataFrame({"beneficiaires": [40, 3, 30, 60], "contrats": [50, 3, 40, 93]},
                         index=["clause", "reserve", "critere", "Ensemble"])
    with pytest.raises(ValueError, match="non additive"):
        disclosure.protect(table, ["beneficiaires", "contrats"], k=5,
                           margins=disclosure.Margins(total_row="Ensemble"))
    protected = disclosure.protect(
        table, ["beneficiaires", "contrats"], k=5,
        margins=disclosure.Margins(total_row="Ensemble", not_additive=("beneficiaires",)))
    # the small cell is hidden in both columns; contracts add up, so a complement is hidden
    # there, while the distinct-people total gives no equation that would need one
    assert protected.mask.at["reserve", "beneficiaires"]
    assert protected.mask.at["reserve", "contrats"]
    assert protected.mask["contrats"].sum() >= 2
    relations = disclosure.table_relations(
        "t", table, ["beneficiaires", "contrats"],
        disclosure.Margins(total_row="Ensemble", not_additive=("beneficiaires",)))
    assert all(r.total[0][2] != "beneficiaires" for r in relations)
