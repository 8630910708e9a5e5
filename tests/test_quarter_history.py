"""A quarterly sheet's history stops at the end of its quarter: no figure of the sheet mixes the
months after it with the period (issue: « 26,7 % (164 sur 614, 2025-T2) » then « 26,4 % des
marchés notifiés en 2025 … 625 sur 2 366 », the whole year)."""

from __future__ import annotations

import pandas as pd

from analysis.periods import Period
from analysis.scope import Scope
from analysis.sections import progression as section


class _Report:
    target = 0.30


def _known_between(scope, start: str, end: str) -> int:
    contracts = scope.contracts
    dates = contracts["dateNotification"]
    keep = (dates >= pd.Timestamp(start)) & (dates < pd.Timestamp(end))
    return int(contracts.loc[keep, "has_social_consideration"].notna().sum())


def test_the_history_of_a_quarter_stops_at_its_end(small_warehouse):
    scope = Scope("93", "2025-T2")
    assert scope.history_contracts["dateNotification"].max() < pd.Timestamp("2025-07-01")
    last = section.yearly(scope, _Report()).set_index("annee").loc[2025]
    # January to June 2025, not the whole year
    assert last["contrats"] == _known_between(scope, "2025-01-01", "2025-07-01")
    assert last["contrats"] < _known_between(scope, "2025-01-01", "2026-01-01")
    # a year's history is the whole year
    year = Scope("93", "2025")
    assert section.yearly(year, _Report()).set_index("annee").loc[2025, "contrats"] == \
        _known_between(year, "2025-01-01", "2026-01-01")


def test_the_summary_names_the_months_its_last_year_covers(small_warehouse):
    text = section.summary(Scope("93", "2025-T2"), _Report())[0].data
    assert "notifiés en 2025 (janvier à juin)" in text
    assert "En 2025 (janvier à juin), cette part" in text
    assert "(janvier à" not in section.summary(Scope("93", "2025"), _Report())[0].data


def test_last_complete_year_and_label():
    assert Period.parse("2025-T2").last_complete_year == 2024
    assert Period.parse("2025-T4").last_complete_year == 2025
    assert Period.parse("2025").last_complete_year == 2025
    assert Period.parse("2025-T1").history_year_label_fr == "2025 (janvier à mars)"
    assert Period.parse("2025-T3").history_year_label_fr == "2025 (janvier à septembre)"
    assert Period.parse("2025").history_year_label_fr == "2025"
