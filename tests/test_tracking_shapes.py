"""Tracking exports in the shapes coordinations actually have, each described by a mapping file:
four tables with patterned names, one flat table of work contracts (split, with conflicts
quarantined), a workbook with one sheet per year, title lines above the header, a totals row,
empty columns, merged title cells, several coordinations in one folder; and the refusals, each
naming the file, the rule and what was expected.

Reader-level and small: the whole file runs in a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis.privacy import DEMO_KEY, pseudonymise
from analysis.sources.base import SourceFileError
from analysis.sources.tabular import load_mapping
from analysis.sources.tracking import check_mapping, read_all, read_coordination
from test_tracking_reader import COMMUNES, frames
from conftest import TODAY

FLAT = load_mapping("extraction_plate")
CLAUSE = load_mapping("clause")


def flat_frame(conflict: bool = False) -> pd.DataFrame:
    """The four tables of ``test_tracking_reader`` as one row per work contract, participant,
    operation and outcome columns repeated (headers of the flat mapping), written independently
    of the readers and of the generator."""
    t = frames()
    people = t["participants"].drop_duplicates()
    ops = t["operations"].rename(columns={
        "Commune": "Commune de l'opération", "Date de début": "Début de l'opération",
        "Date de fin": "Fin de l'opération", "Heures prévues": "Heures prévues (opération)",
        "Heures réalisées": "Heures réalisées (opération)"})
    contracts = t["work_contracts"].rename(columns={"Date de début": "Date de début du contrat",
                                                    "Date de fin": "Date de fin du contrat"})
    flat = contracts.merge(people, on="Identifiant participant", how="inner")
    flat = flat.merge(ops, on="Code opération", how="inner")
    flat = flat.merge(t["outcomes"], on="Identifiant participant", how="left").fillna("")
    if conflict:  # P93-3 has two contracts: the second says another sex
        rows = flat.index[flat["Identifiant participant"] == "P93-3"]
        flat.loc[rows[-1], "Sexe"] = "H"
    return flat


def write_flat_csv(folder: Path, frame: pd.DataFrame, name: str = "export_93.csv",
                   encoding: str = "cp1252") -> Path:
    """A hand-kept export: two title lines, an empty column, a totals row."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    frame.insert(3, "", "")
    body = frame.to_csv(sep=";", index=False, lineterminator="\r\n")
    width = len(frame.columns)
    total = ["Total"] + [""] * (width - 1)
    if "Heures réalisées" in frame.columns:
        total[list(frame.columns).index("Heures réalisées")] = "1260,5"
    text = ("Extraction des contrats de travail — Seine-Saint-Denis" + ";" * (width - 1) + "\r\n"
            + "Éditée le 30/06/2026\r\n" + body + ";".join(total) + "\r\n")
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def write_flat_xlsx_by_year(folder: Path, frame: pd.DataFrame, name: str = "suivi_93.xlsx") -> Path:
    """One sheet per year of contract start, a merged title over two rows above the header."""
    folder.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    book.remove(book.active)
    year = frame["Date de début du contrat"].str[-4:]
    for label, part in frame.groupby(year):
        sheet = book.create_sheet(label)
        sheet["A1"] = f"Contrats de travail {label}"
        sheet.merge_cells(start_row=1, start_column=1, end_row=2, end_column=6)
        sheet.append([])
        sheet.append(list(part.columns))
        for row in part.itertuples(index=False):
            sheet.append(list(row))
    path = folder / name
    book.save(path)
    return path


def canonical_tables(result) -> dict[str, pd.DataFrame]:
    out = {}
    for name, frame in result.tables.items():
        key = {"participants": ["participant_id"], "operations": ["operation_id"],
               "outcomes": ["participant_id"]}.get(name, list(frame.columns))
        out[name] = frame.sort_values(key).reset_index(drop=True)
    return out


def test_flat_extraction_gives_the_tables_of_the_four_table_export(tmp_path):
    """Same people, same tables: the flat CSV (cp1252, title lines, empty column, totals row)
    and the four-table export of the same records; every view reconciles."""
    from test_tracking_reader import write_csv_export

    four = read_coordination(write_csv_export(tmp_path / "a" / "tracking" / "93"), tmp_path / "a",
                             DEMO_KEY, COMMUNES, today=TODAY)
    folder = tmp_path / "b" / "tracking" / "93"
    write_flat_csv(folder, flat_frame())
    flat = read_coordination(folder, tmp_path / "b", DEMO_KEY, COMMUNES, today=TODAY)
    a, b = canonical_tables(four), canonical_tables(flat)
    # The four-table export's orphans (a contract of an unknown participant or operation, an
    # outcome of an unknown participant) are quarantined there; a flat row cannot hold them.
    for name in ("participants", "operations", "work_contracts", "outcomes"):
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=False, obj=name)
    lines = (folder / "export_93.csv").read_bytes().decode("cp1252").splitlines()
    records = len(lines) - 4  # two title lines, the header, the totals row
    for row in flat.accounting:
        assert row["read"] == row["kept"] + row["rejected"] + row["merged"], row
        assert row["file"].startswith("tracking/93/export_93.csv#")
    views = {row["file"].split("#")[1]: row for row in flat.accounting}
    assert views["contrats"]["read"] == views["participants"]["read"] == records
    assert views["participants"]["kept"] == 3 and views["participants"]["merged"] == records - 3
    totals = [w for w in flat.quarantine.warnings if w.rule == "ligne de total"]
    assert [w.record for w in totals] == [f"ligne {len(lines)}"]


def test_a_participant_whose_rows_disagree_is_quarantined_not_picked(tmp_path):
    folder = tmp_path / "tracking" / "93"
    write_flat_csv(folder, flat_frame(conflict=True))
    result = read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES, today=TODAY)
    conflicts = [r for r in result.quarantine.rejects if r.rule == "participant en conflit"]
    pseudonym = pseudonymise(pd.Series(["P93-3"]), "93", DEMO_KEY)[0]
    assert conflicts and all(pseudonym in r.message for r in conflicts)
    assert any("sexe" in r.message and r.file.endswith("#participants") for r in conflicts)
    assert "P93-3" not in " ".join(r.message for r in result.quarantine.rejects)
    assert pseudonym not in set(result.tables["participants"]["participant_id"])
    assert pseudonym not in set(result.tables["work_contracts"]["participant_id"])
    for row in result.accounting:
        assert row["read"] == row["kept"] + row["rejected"] + row["merged"], row


def test_workbook_with_one_sheet_per_year_and_merged_titles(tmp_path):
    frame = flat_frame()
    first = frame.index[frame["Identifiant participant"] == "P93-1"][0]  # a contract of 2023
    frame.loc[first, ["Date de début du contrat", "Date de fin du contrat"]] = ["01/03/2023",
                                                                              "31/05/2023"]
    csv_result = read_coordination(write_flat_csv(tmp_path / "a" / "tracking" / "93", frame).parent,
                                   tmp_path / "a", DEMO_KEY, COMMUNES, today=TODAY)
    folder = tmp_path / "b" / "tracking" / "93"
    write_flat_xlsx_by_year(folder, frame)
    result = read_coordination(folder, tmp_path / "b", DEMO_KEY, COMMUNES, today=TODAY)
    a, b = canonical_tables(csv_result), canonical_tables(result)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=False, obj=name)
    # Lines name the sheet: « ligne 4 (feuille « 2022 ») ».
    assert any("feuille" in w.record for w in result.quarantine.warnings), \
        [w.record for w in result.quarantine.warnings]


def test_several_coordinations_in_one_folder(tmp_path):
    """File names carry the coordination ({coordination} in the mapping's patterns)."""
    from test_tracking_reader import write_csv_export

    folder = tmp_path / "tracking"
    frame = flat_frame()
    write_flat_csv(folder, frame, name="extraction_93.csv", encoding="utf-8-sig")
    write_flat_csv(folder, frame, name="extraction_75.csv")
    result = read_all([folder], tmp_path, DEMO_KEY, COMMUNES, today=TODAY)
    assert set(result.tables["participants"]["coordination"]) == {"75", "93"}
    assert set(result.tables["operations"]["operation_id"].str[:2]) == {"75", "93"}
    files = {row["file"].split("#")[0] for row in result.accounting}
    assert files == {"tracking/extraction_93.csv", "tracking/extraction_75.csv"}
    # Four-table files named by coordination, side by side in one folder.
    other = tmp_path / "c" / "tracking"
    write_csv_export(other / "x")
    for path in (other / "x").iterdir():
        stem = path.stem
        path.rename(other / f"{stem}_94.csv")
        (other / f"{stem}_95.csv").write_bytes((other / f"{stem}_94.csv").read_bytes())
    (other / "x").rmdir()
    result = read_all([other], tmp_path / "c", DEMO_KEY, COMMUNES, today=TODAY)
    assert set(result.tables["participants"]["coordination"]) == {"94", "95"}


def test_unknown_header_names_the_file_what_was_read_and_what_was_expected(tmp_path):
    """The case of the issue: « aucun export reconnu » without names is gone."""
    folder = tmp_path / "tracking" / "93"
    frame = flat_frame().rename(columns={"Identifiant participant": "N° bénéficiaire",
                                         "Heures réalisées": "Nb heures"})
    write_flat_csv(folder, frame)
    with pytest.raises(SourceFileError) as caught:
        read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES, today=TODAY)
    message = str(caught.value)
    assert message.startswith("tracking/93/export_93.csv: en-tête non reconnu")
    assert "« N° bénéficiaire »" in message and "« Identifiant participant »" in message
    assert "« Heures réalisées »" in message and "extraction_plate" in message
    assert "mapping suggest" in message and "tracking/93/mapping.json" in message


def test_nothing_recognised_lists_the_files_and_every_mapping(tmp_path):
    folder = tmp_path / "tracking" / "93"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("rien")
    with pytest.raises(SourceFileError) as caught:
        read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES)
    message = str(caught.value)
    assert message.startswith("tracking/93: aucun export reconnu (fichiers présents : aucun")
    for expected in ("operations.csv", "« Participants »", "extraction_plate", "*.xlsx"):
        assert expected in message, expected


def test_a_folder_mapping_is_used_and_checked(tmp_path):
    """``mapping.json`` in the folder: an extension of a built-in (new headers), or refused
    when it would carry a personal column into the warehouse."""
    folder = tmp_path / "tracking" / "93"
    frame = flat_frame().rename(columns={"Identifiant participant": "N° bénéficiaire"})
    write_flat_csv(folder, frame)
    tables = json.loads(json.dumps(FLAT["tables"]))
    for table in ("participants", "work_contracts", "outcomes"):
        tables[table] = {("N° bénéficiaire" if h == "Identifiant participant" else h): c
                         for h, c in tables[table].items()}
    (folder / "mapping.json").write_text(json.dumps({"extends": "extraction_plate",
                                                     "tables": tables}), encoding="utf-8")
    result = read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES, today=TODAY)
    assert len(result.tables["participants"]) == 3
    tables["work_contracts"]["Nom"] = "poste"  # a name kept as a job title: refused
    (folder / "mapping.json").write_text(json.dumps({"extends": "extraction_plate",
                                                     "tables": tables}), encoding="utf-8")
    with pytest.raises(SourceFileError) as caught:
        read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES, today=TODAY)
    assert str(caught.value).startswith("tracking/93/mapping.json: ")
    assert "« Nom »" in str(caught.value) and "données personnelle" not in str(caught.value)
    assert "personnelle" in str(caught.value)


@pytest.mark.parametrize("name", ["clause", "extraction_plate", "ogpf"])
def test_builtin_mappings_are_valid(name):
    mapping = check_mapping(load_mapping(name))
    assert mapping["personal"]
    for table, columns in mapping["tables"].items():
        personal = set(columns.values()) & {"nom", "prenom", "date_naissance", "participant_raw"}
        assert personal <= set(mapping["personal"])


def test_a_file_no_pattern_names_is_reported_not_silently_skipped(tmp_path):
    from test_tracking_reader import write_csv_export

    folder = write_csv_export(tmp_path / "tracking" / "93")
    (folder / "notes_facilitateur.csv").write_text("Remarque;Date\nà relancer;01/02/2022\n")
    result = read_coordination(folder, tmp_path, DEMO_KEY, COMMUNES, today=TODAY)
    skipped = [w for w in result.quarantine.warnings if w.rule == "fichier non lu"]
    assert [w.file for w in skipped] == ["tracking/93/notes_facilitateur.csv"]
    assert "operations.csv" in skipped[0].message and "« clause »" in skipped[0].message
