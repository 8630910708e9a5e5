"""Tracking exports: CSV and XLSX, French headers, defects quarantined with reasons, no personal
data past ingestion, counts that reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.privacy import DEMO_KEY, MissingKeyError, get_key, pseudonymise
from analysis.sources.base import SourceFileError
from analysis.sources.tabular import load_mapping, parse_dates
from analysis.sources.tracking import read_coordination
from analysis.warehouse import BuildError, build, load_table
from conftest import TODAY

COMMUNES = {"93066", "93001", "75056"}
MAPPING = load_mapping("clause")
OPERATIONS = [
    ["OP-1", "Réhabilitation école", "Ville de Saint-Denis", "21930066400019", "", "Clause d'exécution (L2112-2)",
     "BTP", "Non", "93", "93066", "01/03/2022", "30/11/2022", "1000", "450"],
    ["OP-2", "Ligne 16", "Société des grands projets", "21930066400019", "", "Clause d'exécution (L2112-2)",
     "BTP", "Oui", "93", "93001", "01/01/2022", "31/12/2023", "5000", "999"],
]
PARTICIPANTS = [
    ["P93-1", "Martin", "Léa", "12/05/2000", "F", "Niveau V", "93066", "Oui",
     "Allocataire du RSA", "Mission locale", "Oui", "01/02/2022"],
    ["P93-2", "Durand", "Karim", "03/09/1970", "H", "Niveau ?", "99999", "Non",
     "Senior de plus de 50 ans", "France Travail", "Non", "15/02/2022"],
    ["P93-2", "Durand", "Karim", "03/09/1970", "H", "Niveau ?", "99999", "Non",
     "Senior de plus de 50 ans", "France Travail", "Non", "15/02/2022"],
    ["P93-3", "Petit", "Inès", "20/01/1990", "F", "Niveau 4 (Bac)", "93001", "Non",
     "Demandeur d'emploi de longue durée", "PLIE", "Non", "01/03/2022"],
]
CONTRACTS = [
    ["P93-1", "OP-1", "Bâtisseurs SA", "55204599900869", "Entreprise attributaire", "CDD",
     "01/03/2022", "31/05/2022", "450", "F1703", "Maçon"],
    ["P93-2", "OP-2", "ETTI Plaine", "55204599900869", "ETTI", "Intérim",
     "01/04/2022", "30/06/2022", "400,5", "F1602", "Électricien"],
    ["P93-9", "OP-2", "ETTI Plaine", "55204599900869", "ETTI", "Intérim",
     "01/04/2022", "30/06/2022", "100", "F1602", "Électricien"],
    ["P93-3", "OP-2", "GEIQ BTP", "55204599900869", "GEIQ", "Contrat de professionnalisation",
     "01/09/2022", "01/08/2022", "300", "F1703", "Maçon"],
    ["P93-3", "OP-2", "GEIQ BTP", "55204599900869", "GEIQ", "Contrat de professionnalisation",
     "01/09/2022", "30/11/2022", "-5", "F1703", "Maçon"],
    ["P93-3", "OP-9", "GEIQ BTP", "55204599900869", "GEIQ", "CDD",
     "01/09/2022", "30/11/2022", "10", "F1703", "Maçon"],
]
OUTCOMES = [
    ["P93-1", "31/05/2022", "Emploi durable", "15/07/2022", "30/06/2026"],
    ["P93-2", "30/06/2022", "Sans emploi", "", "30/06/2026"],
    ["P93-7", "30/06/2022", "Sans emploi", "", "30/06/2026"],
]


def headers(table: str) -> list[str]:
    return list(MAPPING["tables"][table])


def frames() -> dict[str, pd.DataFrame]:
    return {
        "operations": pd.DataFrame(OPERATIONS, columns=headers("operations")),
        "participants": pd.DataFrame(PARTICIPANTS, columns=headers("participants")),
        "work_contracts": pd.DataFrame(CONTRACTS, columns=headers("work_contracts")),
        "outcomes": pd.DataFrame(OUTCOMES, columns=headers("outcomes")),
    }


def write_csv_export(folder: Path, encoding: str = "cp1252", drop: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in frames().items():
        if drop:
            frame = frame.drop(columns=[drop], errors="ignore")
        name = MAPPING["files"]["csv"][table][0]
        (folder / name).write_bytes(frame.to_csv(sep=";", index=False).encode(encoding))
    return folder


def write_xlsx_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(folder / f"export_clauses_{folder.name}.xlsx", engine="xlsxwriter") as xl:
        for table, frame in frames().items():
            frame = frame.copy()
            for col in frame.columns:
                if col.startswith("Date"):  # real Excel dates, and one serial number left as text
                    frame[col] = pd.to_datetime(frame[col], format="%d/%m/%Y", errors="coerce")
            if table == "participants":
                frame["Date d'entrée"] = frame["Date d'entrée"].astype(object)
                frame.loc[0, "Date d'entrée"] = "44593"  # 01/02/2022 as an Excel serial number
            frame.to_excel(xl, sheet_name=MAPPING["files"]["xlsx_sheets"][table], index=False)
    return folder


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_export_is_read_with_reasons_and_reconciles(tmp_path, kind):
    folder = tmp_path / "tracking" / "93"
    (write_csv_export if kind == "csv" else write_xlsx_export)(folder)
    result = read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES)
    acc = {row["file"].split("/")[-1].split("#")[-1]: row for row in result.accounting}
    for row in result.accounting:
        assert row["read"] == row["kept"] + row["rejected"] + row["merged"]
    names = (("participants.csv", "operations.csv", "contrats.csv", "sorties.csv") if kind == "csv"
             else ("Participants", "Opérations", "Contrats", "Sorties"))
    parts, ops, contracts, outs = (acc[n] for n in names)
    assert (parts["read"], parts["kept"], parts["merged"], parts["rejected"]) == (4, 3, 1, 0)
    assert (ops["read"], ops["kept"]) == (2, 2)
    assert (contracts["read"], contracts["kept"], contracts["rejected"]) == (6, 2, 4)
    assert (outs["read"], outs["kept"], outs["rejected"]) == (3, 2, 1)
    rules = sorted(r.rule for r in result.quarantine.rejects)
    assert rules == ["fin de contrat avant le début", "heures réalisées invalides",
                     "opération inconnue", "participant inconnu", "participant inconnu"]
    warnings = sorted(w.rule for w in result.quarantine.warnings)
    assert "niveau de diplôme : valeur inconnue" in warnings
    assert "commune de résidence inconnue" in warnings
    assert "heures réalisées incohérentes" in warnings  # OP-2: 999 h declared, 400.5 in contracts
    assert all(r.file.endswith(names[2]) for r in result.quarantine.rejects
               if r.rule in ("opération inconnue", "fin de contrat avant le début"))

    participants = result.tables["participants"].set_index("participant_id")
    assert len(participants) == 3
    first = participants.loc[pseudonymise(pd.Series(["P93-1"]), "93", DEMO_KEY)[0]]
    assert first["diplome"] == "niveau_3" and first["tranche_age"] == "moins_de_26"
    assert bool(first["qpv"]) and first["public"] == "rsa" and first["prescripteur"] == "mission_locale"
    assert first["date_entree"] == pd.Timestamp("2022-02-01")
    second = participants.loc[pseudonymise(pd.Series(["P93-2"]), "93", DEMO_KEY)[0]]
    assert second["diplome"] == "inconnu" and pd.isna(second["commune_residence"])
    assert second["tranche_age"] == "50_et_plus"
    contracts_t = result.tables["work_contracts"]
    assert contracts_t["heures"].sum() == pytest.approx(850.5)
    assert set(contracts_t["type_contrat"]) == {"cdd", "interim"}
    assert result.tables["outcomes"]["situation_6_mois"].tolist() == ["emploi_durable", "sans_emploi"]


def test_no_personal_data_leaves_ingestion(tmp_path):
    folder = write_csv_export(tmp_path / "tracking" / "93", encoding="utf-8-sig")
    result = read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES)
    dumped = " ".join(frame.astype(str).to_csv() for frame in result.tables.values())
    for secret in ("Martin", "Léa", "Durand", "Karim", "P93-1", "P93-2", "12/05/2000",
                   "2000-05-12", "1970-09-03"):
        assert secret not in dumped, secret
    for frame in result.tables.values():
        assert not {"nom", "prenom", "date_naissance", "participant_raw"} & set(frame.columns)


def test_pseudonyms_depend_on_key_and_coordination():
    ids = pd.Series(["P-1", "P-2", None])
    a = pseudonymise(ids, "93", b"k" * 16)
    assert a.iloc[0] != a.iloc[1] and pd.isna(a.iloc[2]) and len(a.iloc[0]) == 16
    assert (pseudonymise(ids, "93", b"k" * 16).fillna("") == a.fillna("")).all()
    assert pseudonymise(ids, "93", b"x" * 16).iloc[0] != a.iloc[0]
    assert pseudonymise(ids, "75", b"k" * 16).iloc[0] != a.iloc[0]


def test_missing_column_names_the_file_and_column(tmp_path):
    folder = write_csv_export(tmp_path / "tracking" / "93", drop="Heures réalisées")
    with pytest.raises(SourceFileError) as caught:
        read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES)
    assert "contrats.csv" in str(caught.value) and "« Heures réalisées »" in str(caught.value)


def test_real_data_is_refused_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OBSERVATOIRE_PSEUDO_KEY", raising=False)
    monkeypatch.setenv("OBSERVATOIRE_PSEUDO_KEY_FILE", str(tmp_path / "absent.key"))
    raw = tmp_path / "raw"
    write_csv_export(raw / "tracking" / "93")
    with pytest.raises(MissingKeyError):
        get_key(raw)
    with pytest.raises(BuildError, match="clé de pseudonymisation absente"):
        build(raw=raw, processed=tmp_path / "p", today=TODAY)
    (raw / "manifest.json").write_text(json.dumps({"generator_version": "test"}))
    assert get_key(raw)[0] == DEMO_KEY
    monkeypatch.setenv("OBSERVATOIRE_PSEUDO_KEY", "une-cle-secrete-assez-longue")
    summary = build(raw=raw, processed=tmp_path / "p", today=TODAY)
    assert summary.tables["participants"] == 3
    manifest = json.loads((tmp_path / "p" / "warehouse" / "manifest.json").read_text())
    assert manifest["pseudonymisation"] == "variable d'environnement OBSERVATOIRE_PSEUDO_KEY"
    assert "une-cle-secrete" not in (tmp_path / "p" / "warehouse" / "manifest.json").read_text()
    assert len(load_table("work_contracts", tmp_path / "p")) == 2


def test_parse_dates_variants():
    values = pd.Series(["01/02/2022", "2022-02-01", "44593", "", None, "31/02/2022", "n/a"])
    dates, bad = parse_dates(values)
    assert dates.iloc[:3].tolist() == [pd.Timestamp("2022-02-01")] * 3
    assert bad.tolist() == [False, False, False, False, False, True, True]


@pytest.mark.parametrize("where", ["variable", "file"])
def test_short_key_is_refused_from_the_variable_as_from_the_file(tmp_path, monkeypatch, where):
    """The 16-character minimum holds wherever the key comes from, and the message says which."""
    raw = tmp_path / "raw"
    write_csv_export(raw / "tracking" / "93")
    key_file = tmp_path / "pseudo.key"
    monkeypatch.setenv("OBSERVATOIRE_PSEUDO_KEY_FILE", str(key_file))
    if where == "variable":
        monkeypatch.setenv("OBSERVATOIRE_PSEUDO_KEY", "court")
    else:
        monkeypatch.delenv("OBSERVATOIRE_PSEUDO_KEY", raising=False)
        key_file.write_text("court\n", encoding="utf-8")
    with pytest.raises(MissingKeyError, match="trop courte") as caught:
        get_key(raw)
    assert ("OBSERVATOIRE_PSEUDO_KEY" if where == "variable" else str(key_file)) in str(caught.value)
    assert "5 caractère(s), 16 au moins" in str(caught.value)


def test_missing_key_message_says_what_is_wrong(tmp_path, monkeypatch):
    """No key and no warehouse: the message names the key, claims no unreadable input and no
    previous warehouse."""
    monkeypatch.delenv("OBSERVATOIRE_PSEUDO_KEY", raising=False)
    monkeypatch.setenv("OBSERVATOIRE_PSEUDO_KEY_FILE", str(tmp_path / "absent.key"))
    raw = tmp_path / "raw"
    write_csv_export(raw / "tracking" / "93")
    with pytest.raises(BuildError) as caught:
        build(raw=raw, processed=tmp_path / "p", today=TODAY)
    message = str(caught.value)
    assert message.startswith("clé de pseudonymisation absente")
    assert "illisible" not in message and "entrepôt précédent" not in message
    assert "aucun entrepôt construit" in message
