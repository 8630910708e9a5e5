"""Magnitude tables (hours, amounts): the dominance rule, its secondary suppression, and ACRO.

ACRO (the SACRO project's checker of research outputs, package ``acro``) is the independent
second checker: each published table of hours or amounts is rebuilt with ACRO's ``crosstab``
from the contributor-level microdata (one record per employer or contract holder and cell), with
the observatory's parameters, and ACRO's per-cell verdict (threshold, nk and p % rules) is
compared with what :mod:`analysis.disclosure` decided. The one documented exception (a zero cell,
published by the observatory, failed by ACRO's threshold rule) is pinned by a test.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from analysis import config, disclosure
from analysis.disclosure import DominanceRule, Margins
from analysis.publish import TABLES_SUFFIX, open_report
from analysis.scope import Scope
from analysis.sections import hours, territories

RULE = DominanceRule(n=1, k=0.85, p=0.10, min_contributors=3)


@pytest.fixture(autouse=True)
def _threshold(monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "5")


# --- the rule ------------------------------------------------------------------------------------


def test_configured_rule_is_the_documented_one():
    rule = disclosure.dominance_rule()
    assert (rule.n, rule.k, rule.p, rule.min_contributors) == (
        config.DOMINANCE_N, config.DOMINANCE_K, config.DOMINANCE_P, config.MIN_CONTRIBUTORS)
    assert (rule.n, rule.k, rule.p, rule.min_contributors) == (1, 0.85, 0.10, 3)
    text = (config.ROOT / "docs" / "disclosure.md").read_text(encoding="utf-8")
    assert "85 %" in text and "10 %" in text and "3 contributeurs" in text


@pytest.mark.parametrize("values,sensitive", [
    ([], False),                      # a zero cell: published
    ([0.0, 0.0], False),
    ([50.0, 50.0], True),             # two contributors only
    ([86.0, 7.0, 7.0], True),         # the first makes 86 % ≥ 85 %
    ([84.0, 8.0, 8.0], True),         # nk passes (84 %) but p %: 8 < 10 % of 84
    ([80.0, 10.0, 10.0], False),      # 80 %, and 10 ≥ 10 % of 80
    ([60.0, 39.0, 1.0], True),        # p %: the third is 1/60 < 10 % of the first
    ([40.0, 30.0, 30.0], False),
    ([10.0] * 10, False),
])
def test_dominance_rule_cells(values, sensitive):
    assert RULE.sensitive(values) is sensitive


def test_contributions_group_records_by_row_and_contributor():
    contrib = disclosure.contributions(["A", "A", "B", "B"], ["x", "x", "y", None],
                                       [1.0, 2.0, 5.0, 0.0], total_row="Ensemble")
    as_dict = {(r, c): v for r, c, v in contrib.itertuples(index=False)}
    assert as_dict == {("A", "x"): 3.0, ("B", "y"): 5.0, ("Ensemble", "x"): 3.0,
                       ("Ensemble", "y"): 5.0}


# --- secondary suppression -----------------------------------------------------------------------


def _hours_table():
    table = pd.DataFrame({"heures": [100.0, 40.0, 10.0, 150.0], "beneficiaires": [9, 8, 7, 24]},
                         index=["A", "B", "C", "Ensemble"])
    contrib = disclosure.contributions(
        ["A"] * 3 + ["B"] * 4 + ["C"] * 3, [f"SIRET-{c}" for c in "abcdefghij"],
        [98, 1, 1, 10, 10, 10, 10, 4, 3, 3], total_row="Ensemble")
    return table, contrib


def test_a_dominated_hours_cell_is_suppressed_with_a_complement():
    table, contrib = _hours_table()
    people = disclosure.protect(table, ["beneficiaires"], margins=Margins(total_row="Ensemble"),
                                derived={"heures": "beneficiaires"})
    assert not people.mask["heures"].any()  # the small-count rule alone publishes everything
    out = disclosure.protect_magnitudes(table, {"heures": contrib}, people,
                                        margins=Margins(total_row="Ensemble"),
                                        derived={"heures": "beneficiaires"}, rule=RULE)
    assert out.dominated["heures"].tolist() == [True, False, False, False]
    hidden = out.mask["heures"]
    assert hidden["A"]
    # not recomputable as Ensemble minus the others
    assert hidden.drop(["A", "Ensemble"]).any()
    # the hidden parts together (Ensemble − published parts) must pass the rule: A and C alone
    # would still be 89 % employer « a »
    union = contrib.loc[contrib["row"].isin(hidden[hidden].index.drop("Ensemble", errors="ignore"))]
    assert not RULE.sensitive(union.groupby("contributor")["value"].sum().to_numpy())
    assert pd.isna(out.table.at["A", "heures"]) and out.table.at["A", "beneficiaires"] == 9
    assert out.notes() == [RULE.footnote()]


def test_derived_columns_follow_their_hours():
    table, contrib = _hours_table()
    table["part"] = table["heures"] / 150.0
    out = disclosure.protect_magnitudes(table, {"heures": contrib}, None,
                                        margins=Margins(total_row="Ensemble"),
                                        derived={"part": "heures"}, rule=RULE)
    assert (out.mask["part"] == out.mask["heures"]).all()
    assert out.table["part"].isna().tolist() == out.mask["heures"].tolist()


def test_a_dominated_total_hides_itself_only_when_it_is_dominated():
    table = pd.DataFrame({"heures": [60.0, 40.0, 100.0]}, index=["A", "B", "Ensemble"])
    contrib = disclosure.contributions(["A", "A", "A", "B", "B", "B"], list("aabcde"),
                                       [50, 5, 5, 20, 10, 10], total_row="Ensemble")
    out = disclosure.protect_magnitudes(table, {"heures": contrib}, None,
                                        margins=Margins(total_row="Ensemble"), rule=RULE)
    # A: 2 contributors (a: 55, b: 5) → sensitive; B passes; so B is the complement
    assert out.mask["heures"].tolist() == [True, True, False]


def test_report_table_publishes_s_and_the_dominance_note(tmp_path):
    table, contrib = _hours_table()
    report = open_report("essai", "11", "2025", 0.30, 5, tmp_path)
    report.table(table, "heures_essai", "Essai", people=("beneficiaires",),
                 derived={"heures": "beneficiaires"}, margins=Margins(total_row="Ensemble"),
                 magnitudes={"heures": contrib})
    csv = pd.read_csv(tmp_path / f"essai{TABLES_SUFFIX}" / "heures_essai.csv", sep=";",
                      encoding="utf-8-sig", dtype=str)
    assert csv["heures"].iloc[0] == "s"
    record = json.loads((tmp_path / "essai.json").read_text(encoding="utf-8"))
    assert record["tables"][0]["magnitudes"] == ["heures"]
    written = "".join(p.read_text(encoding="utf-8", errors="ignore")
                      for p in tmp_path.rglob("*") if p.suffix in {".json", ".csv"})
    assert "SIRET-" not in written  # contributors never leave memory
    assert "heures_essai" in report.magnitude_inputs


# --- ACRO, the independent checker ---------------------------------------------------------------


def acro_session(rule: DominanceRule):
    """An ACRO session with the observatory's parameters (zeros not disclosive by themselves)."""
    import acro

    logging.getLogger("acro").setLevel(logging.WARNING)
    session = acro.ACRO(suppress=False)
    session.config.update(safe_threshold=rule.min_contributors, safe_nk_n=rule.n,
                          safe_nk_k=rule.k, safe_pratio_p=rule.p, zeros_are_disclosive=False,
                          check_missing_values=False)
    session.sdc_checks.risk_appetite = session.config
    return session


CELL_CHECKS = ("MinimumThresholdCheck", "NKCheck", "PPercentCheck")


def acro_verdict(session, contrib: pd.DataFrame, categories=None) -> tuple[pd.Series, pd.Series]:
    """ACRO's crosstab of the contributor records: (cell sums, True where a cell check fails)."""
    rows = contrib["row"].astype(str)
    if categories is not None:
        rows = pd.Series(pd.Categorical(rows, categories=categories), name="row")
    table = session.crosstab(rows.rename("row").reset_index(drop=True),
                             pd.Series("valeur", index=range(len(contrib)), name="col"),
                             values=contrib["value"].reset_index(drop=True).astype(float),
                             aggfunc="sum")
    outcome = list(session.results.results.values())[-1].outcome
    fails = outcome["valeur"].map(lambda text: any(c in str(text) for c in CELL_CHECKS))
    return table["valeur"], fails


def test_acro_reads_the_rule_like_disclosure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = acro_session(RULE)
    rng = np.random.default_rng(3)
    rows, who, values = [], [], []
    for cell in range(60):
        n = int(rng.integers(1, 7))
        v = rng.pareto(1.2, n) * 100 + 1
        rows += [f"c{cell:02d}"] * n
        who += [f"e{i}" for i in range(n)]
        values += list(v)
    contrib = disclosure.contributions(rows, who, values)
    sums, fails = acro_verdict(session, contrib)
    ours = contrib.groupby("row")["value"].apply(lambda v: RULE.sensitive(v.to_numpy()))
    assert fails.any() and not fails.all()
    assert (fails.reindex(ours.index) == ours).all()


def test_documented_exception_zero_cells(tmp_path, monkeypatch):
    """ACRO's threshold rule fails an empty cell (0 records < 3); the observatory publishes a
    zero (docs/disclosure.md): the one disagreement, pinned here."""
    monkeypatch.chdir(tmp_path)
    session = acro_session(RULE)
    contrib = disclosure.contributions(["A"] * 4, list("abcd"), [10, 10, 10, 10])
    _, fails = acro_verdict(session, contrib, categories=["A", "vide"])
    assert fails.to_dict() == {"A": False, "vide": True}
    table = pd.DataFrame({"heures": [40.0, 0.0]}, index=["A", "vide"])
    out = disclosure.protect_magnitudes(table, {"heures": contrib}, None, rule=RULE)
    assert not out.mask["heures"].any()


PARTS = ("yearly_table", "by_modality", "by_sector", "by_owner_type", "realisation",
         "grand_paris")


@pytest.mark.parametrize("territory,period", [("11", "2025"), ("93", "2025"), ("77", "2024-T2")])
def test_acro_agrees_with_every_published_magnitude_table(small_warehouse, tmp_path, monkeypatch,
                                                          territory, period):
    report = open_report("heures_grand_paris", territory, period, 0.30, 5, tmp_path / "out")
    scope = Scope(territory, period)
    for name in PARTS:
        getattr(hours, name)(scope, report)
    territories.departements(scope, report)
    assert "departements_compares" in report.magnitude_inputs
    monkeypatch.chdir(tmp_path)
    session = acro_session(disclosure.dominance_rule())
    checked = 0
    published = {t.name for t in report.tables if t.magnitudes}
    assert published == set(report.magnitude_inputs)
    # every table of this section publishing hours or SME amounts declares them
    for table in report.tables:
        if any(h.lower().startswith(("heures réalisées", "heures d'insertion", "heures de travaux",
                                     "heures des contrats", "dont pme"))
               for h in table.columns):
            assert table.magnitudes, table.name
    for name, inputs in report.magnitude_inputs.items():
        frame, mask = inputs["frame"], inputs["mask"]
        for column, contrib in inputs["magnitudes"].items():
            if contrib.empty:
                continue
            sums, fails = acro_verdict(session, contrib)
            for row, acro_fails in fails.items():
                label = next(r for r in frame.index if str(r) == row)
                assert sums[row] == pytest.approx(float(frame.at[label, column]), abs=0.51,
                                                  rel=1e-9), (name, column, row)
                assert bool(inputs["dominated"].at[label, column]) == bool(acro_fails), \
                    (name, column, row)
                if acro_fails:
                    assert mask.at[label, column], (name, column, row)
                checked += 1
    assert checked > 0


def test_acro_agrees_on_hours_by_modality_rebuilt_from_the_warehouse(small_warehouse, tmp_path,
                                                                      monkeypatch):
    """Independent of the section's own contributions: the test groups the work contracts by
    modality and employer itself, runs ACRO, and reads the published CSV."""
    out = tmp_path / "out"
    report = open_report("heures_grand_paris", "93", "2025", 0.30, 5, out)
    scope = Scope("93", "2025")
    hours.by_modality(scope, report)
    csv = pd.read_csv(out / f"heures_grand_paris{TABLES_SUFFIX}" / "heures_par_modalite.csv",
                      sep=";", encoding="utf-8-sig", dtype=str)
    active = scope.period_work_contracts
    modality = active["operation_id"].map(scope.operations.set_index("operation_id")["modalite"])
    label = modality.astype("string").fillna(hours.UNKNOWN).map(
        lambda v: hours.MODALITIES.get(v, v)).map(
        lambda v: "Non renseigné" if v == hours.UNKNOWN else v)
    who = active["employeur_siret"].astype("string").fillna("?" + active["employeur"])
    micro = pd.DataFrame({"row": list(label) * 2,
                          "contributor": list(who) * 2,
                          "value": list(active["heures_periode"].astype(float)) * 2})
    micro.loc[len(active):, "row"] = hours.TOTAL
    micro = micro.groupby(["row", "contributor"], as_index=False)["value"].sum()
    micro = micro.loc[micro["value"] > 0]
    monkeypatch.chdir(tmp_path)
    _, fails = acro_verdict(acro_session(disclosure.dominance_rule()), micro)
    shown = csv.set_index("Catégorie")["Heures réalisées"]
    for row, acro_fails in fails.items():
        if acro_fails:
            assert shown[row] == "s", row
    assert set(fails.index) <= set(shown.index)


def test_the_hours_chart_hides_dominated_modalities(small_warehouse, monkeypatch):
    """The stacked chart of hours by year and modality publishes hours too: the protection it
    draws from applies the dominance rule, with the year's total as the sum of the modalities."""
    calls = []
    original = disclosure.protect_magnitudes

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    monkeypatch.setattr(disclosure, "protect_magnitudes", spy)
    report = open_report("heures_grand_paris", "93", "2025", 0.30, 5, None)
    scope = Scope("93", "2025")
    hours.yearly_chart(scope, report)
    assert len(calls) == 1
    args, kwargs, result = calls[0]
    frame, magnitudes = args[0], args[1]
    assert kwargs["row_total"] == "heures"
    assert {c for c in frame.columns if c.startswith("heures")} == set(magnitudes)
    rule = disclosure.dominance_rule()
    for column, contrib in magnitudes.items():
        sums = contrib.groupby("row")["value"].sum()
        for row in frame.index:
            assert sums.get(row, 0.0) == pytest.approx(float(frame.at[row, column]))
            cell = contrib.loc[contrib["row"] == row, "value"].to_numpy()
            if rule.sensitive(cell):
                assert result.mask.at[row, column], (row, column)


def test_grand_paris_dominated_line_is_hidden_in_tables_chart_and_lead(tmp_path):
    """One contract holder makes almost all of a line's insertion hours: the line's hours and
    share are « s », and the lead does not quote the overall shares when they are dominated."""
    from types import SimpleNamespace

    from analysis.periods import Period

    def contract(uid, line, holder, works, realised, amount, sme):
        return {"decp_uid": uid, "ligne": line, "lot": "Lot", "titulaire_siret": holder,
                "date_notification": pd.Timestamp("2022-03-01"), "heures_travail": works,
                "heures_insertion_prevues": works * 0.1, "heures_insertion_realisees": realised,
                "montant": amount, "montant_pme": sme, "departement": "93",
                "taux_obligation": 0.10}

    rows = [contract("u1", "L15", "H1", 100_000.0, 12_000.0, 5e7, 1e7),
            contract("u2", "L15", "H2", 2_000.0, 150.0, 1e6, 2e5),
            contract("u3", "L15", "H3", 1_000.0, 100.0, 1e6, 2e5)]
    rows += [contract(f"v{i}", "L16", f"K{i}", 10_000.0, 1_000.0, 5e6, 1e6) for i in range(5)]
    gp = pd.DataFrame(rows)
    for column in ("heures_travail", "heures_insertion_prevues", "heures_insertion_realisees",
                   "montant", "montant_pme"):
        gp[column] = gp[column].astype("Float64")
    scope = SimpleNamespace(grand_paris=gp, period=Period.parse("2025"), name="Essai")
    report = open_report("heures_grand_paris", "93", "2025", 0.30, 5, tmp_path)
    out = hours.grand_paris(scope, report)
    line = report.magnitude_inputs["grand_paris_insertion_par_ligne"]["mask"]
    assert line.at["L15", "heures_insertion_realisees"] and line.at["L15", "part_insertion"]
    # L15 hidden, its complement is the only other line; the total stays published
    assert line.at["L16", "heures_insertion_realisees"]
    assert not line.at[hours.TOTAL, "heures_insertion_realisees"]
    chart_and_tables = "".join(getattr(o, "data", "") for o in out[1:])
    assert "L15" in chart_and_tables
    # H1 makes 12 000 of 17 250 insertion hours overall (70 %): the overall cell passes and the
    # lead quotes the share. Now let H1 dominate everything:
    assert "ne sont pas publiées" not in out[0].data
    gp.loc[gp["titulaire_siret"].str.startswith("K"), "heures_insertion_realisees"] = 10.0
    report2 = open_report("heures_grand_paris_2", "93", "2025", 0.30, 5, tmp_path)
    lead2 = hours.grand_paris(scope, report2)[0].data
    assert "ne sont pas publiées" in lead2
    assert "des heures de travaux" not in lead2


def test_key_figures_hide_hours_of_a_single_employer(small_warehouse, monkeypatch, tmp_path):
    """The key figures quote the territory's total hours, the large-project share and the
    realisation rate: with every contract at one employer, none of them may be published."""
    report = open_report("heures_grand_paris", "93", "2025", 0.30, 5, tmp_path / "a")
    scope = Scope("93", "2025")
    hours.key_figures(scope, report)
    before = {f["label"]: f["value"] for f in report.key_figures}
    assert before["heures d'insertion réalisées (année 2025)"] != "s"
    assert {"des heures sur les grands projets", "taux de réalisation des heures prévues"} <= set(
        before)
    assert "des heures prévues (IC 95 %" in "".join(
        getattr(o, "data", "") for o in hours.realisation(scope, report))

    monkeypatch.setattr(hours, "employer",
                        lambda wc: pd.Series("SIRET-UNIQUE", index=wc.index, dtype="string"))
    report = open_report("heures_grand_paris", "93", "2025", 0.30, 5, tmp_path / "b")
    scope = Scope("93", "2025")
    shown = hours.key_figures(scope, report)
    after = {f["label"]: f["value"] for f in report.key_figures}
    assert after["heures d'insertion réalisées (année 2025)"] == "s"
    assert "des heures sur les grands projets" not in after
    assert "taux de réalisation des heures prévues" not in after
    assert "l'observatoire compte" not in shown[0].data
    text = "".join(getattr(o, "data", "") for o in hours.realisation(scope, report))
    assert "des heures prévues (IC 95 %" not in text
