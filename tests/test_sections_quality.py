"""The « Qualité des données » section: counts reconcile with the accounting, no ids published."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import disclosure
from analysis.publish import open_report
from analysis.scope import Scope
from analysis.sections import quality

PARTS = ("key_figures", "summary", "rejects_by_rule", "warnings_by_rule", "by_file",
         "completeness", "freshness", "method")


def read(report, name):
    return pd.read_csv(report.tables_dir / f"{name}.csv", sep=";", decimal=",",
                       encoding="utf-8-sig")


@pytest.fixture(scope="module")
def rendered(small_warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("qualite")
    report = open_report("qualite_donnees", "93", "2024-T2", 0.30, 5, out)
    scope = Scope("93", "2024-T2")
    for name in PARTS:
        getattr(quality, name)(scope, report)
    return scope, report


def test_accounting_reconciles(rendered):
    scope, report = rendered
    accounting = scope.table("accounting")
    assert (accounting["read"] == accounting["kept"] + accounting["rejected"]
            + accounting["merged"]).all()
    table = read(report, "qualite_comptage_sources")
    assert table["Lus"].sum() == accounting["read"].sum()
    assert (table["Lus"] == table["Gardés"] + table["Rejetés"] + table["Doublons fusionnés"]).all()
    assert table["Rejetés"].sum() == len(scope.table("rejects"))


def test_rules_add_up_to_the_quarantine(rendered):
    scope, report = rendered
    rejects = scope.table("rejects")
    by_rule = read(report, "qualite_rejets_par_regle")
    assert by_rule["Enregistrements"].sum() == len(rejects)
    per_source = scope.table("accounting").groupby("source")["rejected"].sum()
    counted = rejects.groupby("source").size()
    assert (per_source.reindex(counted.index) == counted).all()
    warnings = read(report, "qualite_anomalies_par_regle")
    assert warnings["Enregistrements"].sum() == len(quality._warnings(scope))
    assert quality.explain("dateNotification invalide") != "–"
    assert quality.explain("participant inconnu") != "–"


def test_no_record_or_participant_id_is_published(rendered):
    scope, report = rendered
    ids = set(scope.table("rejects")["record"].astype(str)) | set(
        scope.table("participants")["participant_id"].astype(str).head(2000))
    for table in report.tables:
        text = (report.tables_dir / f"{table.name}.csv").read_text(encoding="utf-8-sig")
        assert not any(i in text for i in ids if len(i) > 8), table.name
        frame = pd.read_csv(report.tables_dir / f"{table.name}.csv", sep=";", decimal=",",
                            encoding="utf-8-sig", dtype=str)
        assert not disclosure.scan_for_small_cells(frame, table.people, k=report.k), table.name


def test_completeness_counts(rendered):
    scope, report = rendered
    decp = read(report, "qualite_decp_statut_inconnu")
    contracts = scope.contracts
    years = contracts["dateNotification"].dt.year
    for row in decp.itertuples():
        mine = contracts.loc[years == row.Année]
        assert row.Marchés == len(mine)
        assert row._3 == int(mine["considerationsSociales"].isna().sum())
    tracking = quality.tracking_completeness(scope)
    diploma = tracking.loc[tracking["champ"] == "Niveau de diplôme"].iloc[0]
    expected = scope.participants["diplome"].isna() | (scope.participants["diplome"] == "inconnu")
    assert diploma["manquants"] == int(expected.sum())


def test_key_figures_and_freshness(rendered):
    scope, report = rendered
    labels = " ".join(f["label"] for f in report.key_figures)
    assert "rejetés" in labels and "export" in labels
    fresh = read(report, "qualite_fraicheur")
    assert len(fresh) >= 2
