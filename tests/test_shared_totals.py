"""Counts shared between tables: no hidden cell is the difference between two published tables.

The defect: the residence × work table hid its « non renseigné » cells, but each of its columns
adds up to a département's beneficiaries, which ``departements_compares`` publishes in the same
report; subtracting gave the hidden count. The tests below render the two sections on a small
hand-made data set (the same pattern as the default data set: 2 and 4 people of unknown
residence in 77 and 91), check the subtraction by hand, and check the audit of a family of
reports (:func:`analysis.publish.audit_family`, :func:`analysis.disclosure.audit_published`).
"""

from __future__ import annotations

import json
from functools import cached_property

import numpy as np
import pandas as pd
import pytest

from analysis import config, disclosure
from analysis.disclosure import Margins, Relation, audit_published, protect
from analysis.periods import Period
from analysis.publish import TABLES_SUFFIX, audit_family, open_report, read_published_table
from analysis.sections import territories

K = 5


@pytest.fixture(autouse=True)
def _threshold(monkeypatch):
    """open_report sets the threshold for the process: restore it after each test."""
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", str(K))


def _people() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(participants, work contracts): 20 residents of each département working there; 7 people
    of 91 working in 77, 6 of 77 working in 91; 2 people of unknown residence working in 77 and
    4 in 91 (the default data set's pattern)."""
    people, contracts = [], []

    def add(residence: str | None, work: str, n: int) -> None:
        for _ in range(n):
            pid = f"p{len(people)}"
            people.append({"participant_id": pid, "commune_residence": residence})
            contracts.append({"participant_id": pid, "operation_id": f"op{work}",
                              "heures": 100.0, "date_debut": pd.Timestamp("2025-02-01"),
                              "date_fin": pd.Timestamp("2025-06-30")})

    for code in config.DEPARTEMENTS:
        add(f"{code}001", code, 20)
    add("91001", "77", 7)
    add("77001", "91", 6)
    add(None, "77", 2)
    add(None, "91", 4)
    return pd.DataFrame(people), pd.DataFrame(contracts)


class StubScope:
    """The few attributes of :class:`analysis.scope.Scope` the two sections read."""

    def __init__(self, territory: str):
        self.territory = territory
        self.period = Period.parse("2025")
        self._participants, self._contracts = _people()

    @property
    def is_region(self) -> bool:
        return self.territory == config.REGION_CODE

    @property
    def name(self) -> str:
        return config.territory_name(self.territory)

    @property
    def departements(self) -> list[str]:
        return config.territory_departements(self.territory)

    def sibling(self, code: str) -> StubScope:
        return StubScope(code)

    def table(self, name: str) -> pd.DataFrame:
        if name == "operations":
            return pd.DataFrame({"operation_id": [f"op{c}" for c in config.DEPARTEMENTS],
                                 "departement": list(config.DEPARTEMENTS)})
        if name == "communes":
            return pd.DataFrame({"code_insee": [f"{c}001" for c in config.DEPARTEMENTS],
                                 "departement": list(config.DEPARTEMENTS), "type": "COM",
                                 "population_municipale": 100_000})
        raise KeyError(name)

    @property
    def operations(self) -> pd.DataFrame:
        ops = self.table("operations")
        return ops.loc[ops["departement"].isin(self.departements)]

    @property
    def communes(self) -> pd.DataFrame:
        communes = self.table("communes")
        return communes.loc[communes["departement"].isin(self.departements)]

    @cached_property
    def period_work_contracts(self) -> pd.DataFrame:
        ops = self.table("operations")
        mine = ops.loc[ops["departement"].isin(self.departements), "operation_id"]
        wc = self._contracts.loc[self._contracts["operation_id"].isin(mine)]
        return wc.assign(heures_periode=wc["heures"]).reset_index(drop=True)

    @property
    def beneficiaries(self) -> pd.DataFrame:
        ids = self.period_work_contracts["participant_id"]
        return self._participants.loc[self._participants["participant_id"].isin(ids)]

    @property
    def period_contracts(self) -> pd.DataFrame:
        rows = [(code, f"{code}-{i}", i < 10) for code in self.departements for i in range(20)]
        return pd.DataFrame(rows, columns=["departement_execution", "acheteur_id",
                                           "has_social_consideration"])


def _render(tmp_path, territory: str):
    out = tmp_path / territory
    report = open_report("territoire_cartes", territory, "2025", 0.30, K, out)
    scope = StubScope(territory)
    territories.departements(scope, report)
    territories.residence_work(scope, report)
    record = json.loads((out / "territoire_cartes.json").read_text(encoding="utf-8"))
    return report, record, out


def _csv(folder, name):
    return pd.read_csv(folder / f"territoire_cartes{TABLES_SUFFIX}" / f"{name}.csv", sep=";",
                       encoding="utf-8-sig", dtype=str)


def _number(value) -> float:
    return float(value) if str(value) not in {"s", "nan"} else np.nan


@pytest.mark.parametrize("territory", ["11", "77", "91"])
def test_no_residence_cell_is_a_difference_with_departements_compares(tmp_path, territory):
    """The attack, by hand: a département's beneficiaries minus the published cells of its
    column in the residence × work table must not give 1..k − 1 people."""
    _, _, folder = _render(tmp_path, territory)
    compared = _csv(folder, "departements_compares")
    totals = {row["Territoire"].rsplit("(", 1)[1].rstrip(")"): _number(row["Bénéficiaires"])
              for _, row in compared.iterrows()}
    matrix = _csv(folder, "residence_travail")
    columns = [c for c in matrix.columns if c in config.DEPARTEMENTS]
    assert columns
    for column in columns:
        values = matrix[column].map(_number)
        difference = totals[column] - values.sum()
        hidden = int(values.isna().sum())
        assert not 1 <= difference < K, (column, difference)
        assert hidden != 1, (column, "a lone hidden cell is the difference of the total")


def test_the_audit_of_the_family_finds_nothing(tmp_path):
    members = [_render(tmp_path, t)[1:] for t in ("11", "77", "91")]
    assert audit_family(members, k=K) == []
    # The région's report and the sheets hide the same cells of a département's column.
    region = _csv(members[0][1], "residence_travail").set_index("Résidence \\ travail")
    for record, folder in members[1:]:
        code = record["territory"]
        sheet = _csv(folder, "residence_travail").set_index("Résidence \\ travail")[code]
        assert sheet.eq("s").sum() >= 2
        pd.testing.assert_series_equal(sheet, region.loc[sheet.index, code])


def test_the_audit_finds_the_leak_of_separate_protection():
    """Today's publication, rebuilt by hand: the matrix protected alone (no margin), the
    département totals published beside it; the audit recovers the 2 and the 4."""
    scope = StubScope("11")
    matrix = territories._residence_matrix(scope)
    columns = list(matrix.columns)
    alone = protect(matrix, columns, k=K).table
    totals = pd.DataFrame({"beneficiaires": [len(scope.sibling(c).beneficiaries)
                                             for c in columns]}, index=columns)
    relations = [Relation((("totaux", c, "beneficiaires"),),
                          tuple(("matrice", r, c) for r in matrix.index)) for c in columns]
    found = audit_published({"matrice": alone, "totaux": totals}, relations, k=K)
    assert {(v.row[1], v.column, v.value) for v in found} == {
        ("non renseigné", "77", 2.0), ("non renseigné", "91", 4.0)}
    # Declaring the shared totals hides complements: nothing left to find.
    shared = protect(matrix, columns, k=K, margins=Margins(shared_columns=tuple(columns))).table
    assert audit_published({"matrice": shared, "totaux": totals}, relations, k=K) == []


def test_a_shared_total_is_never_the_complement():
    """Without the declaration the engine hides the total row (the cheapest complement); a total
    published elsewhere must stay published, so the complement is taken among the parts."""
    frame = pd.DataFrame({"n": [3, 40, 60, 103]}, index=["a", "b", "c", "Total"])
    plain = protect(frame, ["n"], k=K, margins=Margins(total_row="Total"))
    assert plain.mask["n"].sum() >= 2
    kept = protect(frame, ["n"], k=K, margins=Margins(total_row="Total", shared_columns=("n",)))
    assert not kept.mask.at["Total", "n"]
    assert kept.mask.at["a", "n"] and kept.mask["n"].sum() == 2
    cell = protect(frame, ["n"], k=K,
                   margins=Margins(total_row="Total", shared_cells=(("Total", "n"),)))
    assert cell.mask.equals(kept.mask)


def test_a_small_shared_sum_is_an_unpublished_cell():
    """A column adding up to 1..k − 1 people is not published anywhere (primary suppression in
    the table that shows it): its parts are not all published either."""
    frame = pd.DataFrame({"n": [3, 0, 0], "m": [20, 30, 40]}, index=["a", "b", "c"])
    protected = protect(frame, ["n", "m"], k=K, margins=Margins(shared_columns=("n",)))
    assert protected.mask.at["a", "n"]
    relations = [Relation((("t", "total_n", "n"),), tuple(("t", r, "n") for r in "abc"))]
    published = pd.concat([protected.table, pd.DataFrame({"n": [pd.NA]}, index=["total_n"])])
    assert audit_published({"t": published}, relations, k=K) == []


def test_inconsistent_shared_counts_are_refused(tmp_path):
    report = open_report("territoire_cartes", "11", "2025", 0.30, K, tmp_path)
    key = report.population("beneficiaires", "77")
    frame = pd.DataFrame({"n": [10, 20]})
    report.table(frame, "un", "Un", people=("n",), shared={key: ("column", "n")})
    with pytest.raises(ValueError, match="incohérent"):
        report.table(frame.assign(n=[10, 21]), "deux", "Deux", people=("n",),
                     shared={key: ("column", "n")})


def test_audit_bounds_and_remainders():
    """Bounds under non-negativity: two hidden cells of a total of 3 each lie in 0..3 (not
    reported: 0 is possible); a « dont » remainder of 2 next to a published part is found."""
    t = pd.DataFrame({"x": [np.nan, np.nan, 3.0]}, index=["a", "b", "tot"])
    relations = [Relation((("t", "tot", "x"),), (("t", "a", "x"), ("t", "b", "x")))]
    assert audit_published({"t": t}, relations, k=K) == []
    nested = pd.DataFrame({"contrats": [20.0], "avec": [18.0]}, index=["r"])
    rel = disclosure.table_relations("n", nested, ["contrats", "avec"],
                                     Margins(nested=(("contrats", ("avec",)),)))
    found = audit_published({"n": nested}, rel, k=K)
    assert [(v.row, v.value) for v in found] == [(("n", "r"), 2.0)]
    # Determined: a.y = 14 − 10.
    s = pd.DataFrame({"x": [np.nan, np.nan, 4.0], "y": [np.nan, 10.0, 14.0]},
                     index=["a", "b", "tot"])
    rel = [Relation((("s", "tot", "x"),), (("s", "a", "x"), ("s", "b", "x"))),
           Relation((("s", "tot", "y"),), (("s", "a", "y"), ("s", "b", "y")))]
    found = audit_published({"s": s}, rel, k=K)
    assert [(v.row[1], v.column, v.value) for v in found] == [("a", "y", 4.0)]
    # Bounded, not determined: a + b = 4 and a = c + 2 (c hidden) put a in 2..4.
    b = pd.DataFrame({"x": [np.nan, np.nan, np.nan, 2.0, 4.0]},
                     index=["a", "b", "c", "two", "tot"])
    rel = [Relation((("b", "tot", "x"),), (("b", "a", "x"), ("b", "b", "x"))),
           Relation((("b", "a", "x"),), (("b", "c", "x"), ("b", "two", "x")))]
    found = audit_published({"b": b}, rel, k=K)
    assert [(v.row[1], v.value) for v in found] == [("a", 2.0)]
    assert "bornée" in found[0].reason


def test_read_published_table_reads_secret_cells_as_missing(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\ufeffA;B\nx;s\ny;12\n", encoding="utf-8")
    frame = read_published_table(path, ["B"])
    assert frame["B"].isna().tolist() == [True, False] and frame.at[1, "B"] == 12
