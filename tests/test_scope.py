"""Scopes are shared within a process while the warehouse in force is the same."""

from __future__ import annotations

import pandas as pd

from analysis import scope as scope_module
from analysis.scope import Scope, shared_tables


def test_the_same_territory_and_period_give_the_same_scope(small_warehouse):
    first = Scope("93", "2025")
    assert Scope("93", "2025") is first
    assert first.sibling("94") is Scope("94", "2025")
    assert Scope("93", "2024") is not first
    assert len(first.contracts) == len(Scope("93", "2025").contracts)


def test_scopes_of_given_tables_are_never_shared(small_warehouse):
    tables = {"contracts": pd.DataFrame({"departement_execution": ["93"]})}
    one, two = Scope("93", "2025", tables=tables), Scope("93", "2025", tables=tables)
    assert one is not two and one is not Scope("93", "2025")
    assert one.sibling("94") is one.sibling("94")
    assert "siblings" not in [k[0] for k in tables if isinstance(k, tuple)]  # caller's dict untouched


def test_a_new_warehouse_gives_new_scopes(small_warehouse, monkeypatch):
    before = Scope("93", "2025")
    monkeypatch.setattr(scope_module, "_warehouse_identity", lambda: ("un autre entrepôt",))
    after = Scope("93", "2025")
    assert after is not before and after._tables is not before._tables


def test_only_the_latest_periods_are_kept(small_warehouse):
    for period in ("2023", "2024", "2025-T1", "2025-T2"):
        Scope("93", period)
    kept = [k[1].label for k in shared_tables() if isinstance(k, tuple) and k[0] == "siblings"]
    assert kept == ["2025-T1", "2025-T2"][-scope_module.PERIODS_KEPT:]
