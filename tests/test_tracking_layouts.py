"""The generator's tracking layouts (``--tracking-layout tables | flat | ogpf``), each read back
by the reader: counts reconcile (raw = kept + rejected + merged, the raw count taken from the
files themselves), the planted conflicts are quarantined, and the tables equal those of the
four-table export of the same people (the OGPF convention: on the variables it carries).

Small: two years at scale 0.02 (about 900 work contracts), tracking only; about 10 s in all.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis.privacy import DEMO_KEY
from analysis.reference import commune_table
from analysis.sources.tracking import read_all
from analysis.synthetic import structures, tracking
from analysis.warehouse import _commune_codes
from conftest import TODAY
from test_synthetic_sources import fake_decp

LAYOUTS = ("tables", "flat", "ogpf")
#: A header row holds one of these.
KEYS = {"Code opération", "Identifiant participant", "Identifiant bénéficiaire"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    root = tmp_path_factory.mktemp("layouts")
    communes = commune_table()
    found, _ = structures.generate(root / "structures", 3, 0.02, communes)
    decp = fake_decp(2021, 2022)
    out = {}
    for layout in LAYOUTS:
        manifest = tracking.generate(root / layout, 3, 2021, 2022, 0.02, communes, found, decp,
                                     date(2023, 6, 30), layout=layout)
        out[layout] = (root / layout, manifest)
    return out


@pytest.fixture(scope="module")
def read(generated) -> dict:
    codes = set(_commune_codes())
    results = {}
    for layout, (raw, _) in generated.items():
        files = [p for p in (raw / "tracking").rglob("*") if p.suffix in (".csv", ".xlsx")]
        results[layout] = read_all(sorted({p.parent for p in files}), raw, DEMO_KEY, codes,
                                   today=TODAY)
    return results


def raw_records(path: Path) -> int:
    """Records of a generated file counted without the readers: CSV lines after the header up to
    the totals row; workbook rows below each sheet's header."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        total = 0
        for sheet in book.worksheets:
            rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
            header = next(i for i, r in enumerate(rows) if KEYS & set(r))
            total += len(rows) - header - 1
        book.close()
        return total
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("cp1252")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = next(i for i, r in enumerate(rows) if KEYS & set(r))
    body = [r for r in rows[header + 1:] if any(c.strip() for c in r)]
    return len(body) - (1 if body and body[-1][0] == "Total" else 0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_counts_reconcile_against_the_files(generated, read, layout):
    raw, manifest = generated[layout]
    result = read[layout]
    acc = pd.DataFrame(result.accounting)
    assert (acc["read"] == acc["kept"] + acc["rejected"] + acc["merged"]).all()
    acc["path"] = acc["file"].str.split("#").str[0]
    for path, group in acc.groupby("path"):
        records = raw_records(raw / path)
        if layout == "tables":
            assert group["read"].sum() == records, path
        else:  # each view of a flat file: every row for participants, operations, contracts
            views = group.set_index(group["file"].str.split("#").str[-1])["read"]
            assert views["contrats"] == views["participants"] == views["opérations"] == records
            assert views["sorties"] <= records
    kept = {name: len(frame) for name, frame in result.tables.items()}
    by_table = {"participants": "participants", "opérations": "operations", "contrats":
                "work_contracts", "sorties": "outcomes", "Participants": "participants",
                "Opérations": "operations", "Contrats": "work_contracts", "Sorties": "outcomes",
                "participants.csv": "participants", "operations.csv": "operations",
                "contrats.csv": "work_contracts", "sorties.csv": "outcomes"}
    acc["table"] = acc["file"].str.split(r"[#/]").str[-1].map(by_table)
    assert acc.groupby("table")["kept"].sum().to_dict() == kept


@pytest.mark.parametrize("layout", ["flat", "ogpf"])
def test_planted_conflicts_are_quarantined(generated, read, layout):
    _, manifest = generated[layout]
    planted = sum(f["flat"]["participant_conflict"] for f in manifest["files"].values())
    assert planted > 0
    rejects = read[layout].quarantine.rejects_frame()
    conflicts = rejects[(rejects["rule"] == "participant en conflit")
                        & rejects["file"].str.endswith("#participants")]
    people = set(conflicts["message"].str.extract(r"^participant (\w+) ")[0])
    assert len(people) == planted


def _without(tables: dict[str, pd.DataFrame], people: set[str]) -> dict[str, pd.DataFrame]:
    out = {}
    for name, frame in tables.items():
        if "participant_id" in frame.columns and name != "operations":
            frame = frame[~frame["participant_id"].isin(people)]
        out[name] = frame
    return out


def _sorted(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[columns].sort_values(columns).reset_index(drop=True)


COMPARED = {
    "flat": None,  # every column
    "ogpf": {"participants": ["participant_id", "coordination", "sexe", "tranche_age", "diplome",
                              "qpv", "date_entree"],
             "operations": ["operation_id", "libelle", "maitre_ouvrage", "modalite", "departement",
                            "commune", "heures_prevues"],
             "work_contracts": ["participant_id", "operation_id", "employeur", "type_employeur",
                                "type_contrat", "date_debut", "date_fin", "heures"],
             "outcomes": ["participant_id", "situation_6_mois", "date_fin_dernier_contrat",
                          "date_export"]},
}


@pytest.mark.parametrize("layout", ["flat", "ogpf"])
def test_same_tables_as_the_four_table_export_of_the_same_people(generated, read, layout):
    """What the flat shapes cannot hold is said in the manifest (orphan contracts, operations
    or participants left without a row); the rest, less the quarantined conflicts, is equal."""
    rejects = read[layout].quarantine.rejects_frame()
    conflicted = set(rejects.loc[rejects["rule"] == "participant en conflit", "message"]
                     .str.extract(r"participant (\w+) ")[0])
    four = _without(read["tables"].tables, conflicted)
    other = read[layout].tables
    _, manifest = generated[layout]
    lost_ops = sum(f["flat"]["operations_without_rows"] for f in manifest["files"].values())
    lost_people = sum(f["flat"]["participants_without_rows"] for f in manifest["files"].values())
    assert len(four["operations"]) - len(other["operations"]) == lost_ops
    assert len(four["participants"]) - len(other["participants"]) == lost_people
    for name, frame in other.items():
        columns = (COMPARED[layout] or {}).get(name, list(frame.columns))
        mine = _sorted(four[name], columns)
        if name == "operations":
            mine = mine[mine["operation_id"].isin(set(frame["operation_id"]))]
        if name in ("participants", "outcomes"):  # less those left without a row
            mine = mine[mine["participant_id"].isin(set(other["participants"]["participant_id"]))]
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), _sorted(frame, columns),
                                      check_dtype=False, obj=f"{layout}.{name}")
    hours = lambda t: t["work_contracts"]["heures"].sum()  # noqa: E731
    assert hours(other) == pytest.approx(hours(four))
