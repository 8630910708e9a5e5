"""The « Parcours et emploi durable » section on the small warehouse: disclosure, figures, periods."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.display import HTML, Markdown

from analysis import disclosure
from analysis.indicators import employment
from analysis.plots import percent_fr
from analysis.publish import open_report
from analysis.scope import Scope
from analysis.sections import pathways as section

PARTS = ("key_figures", "summary", "outcomes_table", "outcomes_chart", "survival_chart", "models",
         "last_contract_outcomes", "pathways_table", "transitions", "training_needs", "method")


def run_all(scope, report) -> list:
    shown = []
    for name in PARTS:
        result = getattr(section, name)(scope, report)
        shown.extend(result or [])
    return shown


def published_csvs(report):
    for table in report.tables:
        path = report.tables_dir / f"{table.name}.csv"
        frame = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", dtype=str)
        yield table, frame


def assert_no_small_cells(report):
    checked = 0
    for table, frame in published_csvs(report):
        assert set(table.people) <= set(frame.columns), table.name
        violations = disclosure.scan_for_small_cells(frame, table.people, k=report.k)
        assert not violations, (table.name, violations)
        checked += len(table.people)
    return checked


@pytest.fixture(scope="module")
def region(small_warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("parcours")
    report = open_report("parcours_emploi", "11", "2025", 0.30, 5, out)
    scope = Scope("11", "2025")
    shown = run_all(scope, report)
    return scope, report, shown


def test_no_published_people_count_below_k(region):
    scope, report, shown = region
    assert len(report.tables) >= 6
    assert assert_no_small_cells(report) > 0
    assert all(isinstance(item, (HTML, Markdown)) for item in shown)


def test_last_contract_to_situation_adds_up_to_the_published_situations(region):
    """Each situation column of the cross-table adds up to the situation's published count, and
    no hidden cell can be recomputed from that column total and the row totals."""
    scope, report, shown = region
    counts = section.last_contract_situations(scope)
    situations = list(employment.SITUATIONS)
    dist = section.distribution(scope)
    overall = dist.loc[dist["groupe"] == "ensemble"].set_index("situation")["effectif"]
    assert counts[situations].sum().to_dict() == overall.reindex(situations).astype(int).to_dict()
    assert (counts["ensemble"] == counts[situations].sum(axis=1)).all()
    assert counts.index.isin(list(section.CONTRACT_TYPES_FR)).all() and len(counts) >= 3
    names = [table.name for table in report.tables]
    assert "contrat_situation_6_mois" in names
    mask = report.masks["contrat_situation_6_mois"]
    for column in situations:   # one hidden cell alone in a column would be its total's remainder
        assert mask[column].sum() != 1, column
    for row in mask.index:      # nor alone in a row, whose total is published
        assert mask.loc[row, situations].sum() != 1 or mask.loc[row, "ensemble"], row


def test_key_figure_equals_the_indicator(region):
    scope, report, _ = region
    outcomes = scope.table("outcomes")
    start, end = pd.Timestamp(scope.period.first_year, 1, 1), pd.Timestamp(scope.period.end)
    mine = outcomes.loc[outcomes["participant_id"].isin(scope.participants["participant_id"])
                        & (outcomes["date_fin_dernier_contrat"] >= start)
                        & (outcomes["date_fin_dernier_contrat"] < end)]
    dist = employment.situation_distribution(mine)
    durable = dist.loc[dist["situation"] == "emploi_durable"].iloc[0]
    figure = next(f for f in report.key_figures if "emploi durable 6 mois" in f["label"])
    assert figure["value"] == percent_fr(durable["part"])
    assert percent_fr(durable["ic_bas"]) in figure["detail"]
    assert len(section.population(scope)) == len(mine)
    # The published situation table says the same.
    table = pd.read_csv(report.tables_dir / "situation_6_mois.csv", sep=";", decimal=",",
                        encoding="utf-8-sig")
    assert int(table.iloc[0]["Personnes"]) == int(durable["effectif"])


def test_models_carry_the_caveat_and_ratios(region):
    scope, report, shown = region
    text = " ".join(item.data for item in shown if isinstance(item, Markdown))
    assert "associations" in text and "pas des effets" in text
    result = section.model_tables(scope, report)
    assert not isinstance(result, list)
    assert (result[["or_bas", "or_haut", "hr_bas", "hr_haut"]] > 0).all().all()
    assert (result["or_bas"] <= result["or"]).all() and (result["or"] <= result["or_haut"]).all()


def test_common_pathways_are_followed_by_k_people(region):
    scope, report, _ = region
    frame = pd.read_csv(report.tables_dir / "parcours_frequents.csv", sep=";", decimal=",",
                        encoding="utf-8-sig")
    named = frame.iloc[:-2]
    assert (pd.to_numeric(named["Bénéficiaires"]) >= report.k).all()
    total = frame.iloc[-1]
    assert int(total["Bénéficiaires"]) == scope.beneficiaries["participant_id"].nunique()


def test_quarter_period(small_warehouse, tmp_path):
    report = open_report("parcours_emploi", "93", "2024-T2", 0.30, 5, tmp_path)
    scope = Scope("93", "2024-T2")
    run_all(scope, report)
    ended = section.population(scope)["date_fin_dernier_contrat"]
    assert ended.max() < pd.Timestamp("2024-07-01")
    assert "30/06/2024" in section.window_fr(scope)
    assert_no_small_cells(report)


def test_stricter_threshold(small_warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "11")  # open_report sets it: restored after
    report = open_report("parcours_emploi", "77", "2025", 0.30, 11, tmp_path)
    run_all(Scope("77", "2025"), report)
    assert_no_small_cells(report)


def test_tiny_territory_degrades_to_a_sentence(small_warehouse, tmp_path):
    from analysis.warehouse import load_table

    wc = load_table("work_contracts")
    ops = load_table("operations")
    in95 = ops.loc[ops["departement"] == "95", "operation_id"]
    people = wc.loc[wc["operation_id"].isin(in95), "participant_id"].drop_duplicates().head(3)
    tables = {
        "operations": ops, "work_contracts": wc.loc[wc["participant_id"].isin(people)],
        "participants": load_table("participants"), "outcomes": load_table("outcomes"),
    }
    report = open_report("parcours_emploi", "95", "2025", 0.30, 5, tmp_path)
    scope = Scope("95", "2025", tables=tables)
    shown = run_all(scope, report)
    sentences = [item.data for item in shown if isinstance(item, Markdown)]
    assert any("Moins de 5" in s or "moins de 5" in s for s in sentences)
    assert not any(t.name == "modeles_emploi_durable" for t in report.tables)
    assert_no_small_cells(report)
