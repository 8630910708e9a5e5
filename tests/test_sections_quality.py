"""The « Qualité des données » section: counts reconcile with the accounting, no ids published."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis import disclosure
from analysis.publish import open_report
from analysis.scope import Scope
from analysis.sections import provenance, quality

PARTS = ("key_figures", "summary", "rejects_by_rule", "warnings_by_rule", "by_file",
         "completeness", "freshness", "method")


def read(report, name):
    return pd.read_csv(report.tables_dir / f"{name}.csv", sep=";", decimal=",",
                       encoding="utf-8-sig")


@pytest.fixture(scope="module")
def rendered(small_warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("qualite")
    report = open_report("qualite_donnees", "93", "2024-T2", 0.30, 5, out)
    report.shown = {}
    scope = Scope("93", "2024-T2")
    for name in PARTS:
        report.shown[name] = getattr(quality, name)(scope, report)
    report.shown["sources"] = provenance.sources(scope, report)
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
    counted = warnings.loc[warnings["Dans le total"].eq("oui"), "Cas"].sum()
    assert counted == provenance.anomaly_count(scope)
    assert len(quality._warnings(scope)) <= warnings["Cas"].sum()
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
    contracts = scope.history_contracts  # a quarter's history stops at its end
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


def _number(text: str, pattern: str) -> int:
    found = re.search(pattern, text)
    assert found, text
    return int(re.sub(r"\D", "", found.group(1)))


def test_both_sections_print_one_anomaly_count(rendered):
    """« Qualité des données » and « Sources et traitement » print the same count of anomalies,
    in cases, from :func:`provenance.anomaly_count`; so does the accounting table's column."""
    scope, report = rendered
    summary = report.shown["summary"][0].data
    sources = report.shown["sources"][0].data
    in_quality = _number(summary, r"([\d\s\u202f\u00a0]+) anomalies")
    in_sources = _number(sources, r"enregistrements gardés : ([\d\s\u202f\u00a0]*\d)")
    assert in_quality == in_sources
    assert in_quality == provenance.anomaly_count(scope)
    by_source = read(report, "qualite_comptage_sources")
    assert by_source["Anomalies signalées"].sum() == in_quality
    # the warehouse has validation checks: counted by their cases, not once per check
    warnings = quality._warnings(scope)
    checks = warnings.loc[warnings["source"].eq(provenance.VALIDATION)]
    assert len(checks)
    new_cases = sum(provenance._cases(row) for row in checks.itertuples(index=False)
                    if (row.file, row.record) not in provenance.RECHECKS)
    assert in_quality == (warnings["source"] != provenance.VALIDATION).sum() + new_cases
    assert all(provenance._cases(row) >= 1 for row in checks.itertuples(index=False))


def test_anomalies_count_cases_once_by_hand():
    rows = [
        ("decp", "f1.json", "1", "montant nul ou négatif", "montant 0"),
        ("decp", "f1.json", "2", "montant nul ou négatif", "montant 0"),
        ("decp", "f1.json", "2", "titulaire : SIRET invalide", "'123' n'est pas un SIRET valide"),
        ("validation", "suppliers", "titulaire_id",
         "validation : SIRET valide (14 chiffres, clé de Luhn) quand typeIdentifiant = SIRET",
         "suppliers.titulaire_id — SIRET valide (14 chiffres, clé de Luhn) quand "
         "typeIdentifiant = SIRET : 1 cas (ex. : uid=1_2, titulaire_id=123)"),
        ("validation", "operations", "decp_uid",
         "validation : référence présente dans contracts.uid",
         "operations.decp_uid — référence présente dans contracts.uid : 117 cas (ex. : 9 ; 8)"),
        ("validation", "grand_paris", "decp_uid",
         "validation : référence présente dans contracts.uid",
         "grand_paris.decp_uid — référence présente dans contracts.uid : 3 cas"),
    ]
    warnings = pd.DataFrame(rows, columns=["source", "file", "record", "rule", "message"])
    table = provenance.anomalies(warnings).set_index(["source", "regle"])
    assert table.loc[("decp", "montant nul ou négatif"), "cas"] == 2
    recheck = table.loc[("decp", "validation : SIRET valide (14 chiffres, clé de Luhn) quand "
                                 "typeIdentifiant = SIRET")]
    assert (recheck["cas"], recheck["compte"]) == (1, 0)
    assert recheck["deja_signale"] == "titulaire : SIRET invalide"
    references = "validation : référence présente dans contracts.uid"
    assert table.loc[("tracking", references), "compte"] == 117
    assert table.loc[("grand_paris", references), "compte"] == 3
    assert table["compte"].sum() == 2 + 1 + 117 + 3
    assert provenance.anomalies(warnings.iloc[:0])["compte"].sum() == 0


def test_a_departement_names_its_own_tracking_files_wherever_they_sit(rendered, tmp_path):
    """Exports of several coordinations in one shared folder (file names carry the coordination:
    ``export_{coordination}.csv``): a département's sheet lists its own, by the accounting's
    ``coordination``, not by the folder."""
    scope, _ = rendered
    accounting = pd.DataFrame({
        "source": ["tracking", "tracking", "decp"],
        "file": ["tracking/partage/export_93.csv", "tracking/partage/export_75.csv",
                 "decp/2024/x.json"],
        "read": [10, 10, 5], "kept": [8, 7, 4], "rejected": [2, 3, 1], "merged": [0, 0, 0],
        "coordination": pd.array(["93", "75", pd.NA], dtype="string")})

    class _Shared:
        territory, is_region = "93", False

        def table(self, name):
            assert name == "accounting"
            return accounting

    report = open_report("qualite_donnees", "93", "2024-T2", 0.30, 5, tmp_path)
    quality.by_file(_Shared(), report)
    files = set(read(report, "qualite_fichiers_rejets")["Fichier"])
    assert files == {"tracking/partage/export_93.csv", "decp/2024/x.json"}
    built = scope.table("accounting")
    tracking = built.loc[built["source"] == "tracking"]
    assert tracking["coordination"].notna().all()
    assert built.loc[built["source"] != "tracking", "coordination"].isna().all()
