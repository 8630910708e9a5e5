"""Property-based tests (hypothesis) of every reader and of the row accounting.

For generated inputs — valid rows mixed with broken cells, odd characters, duplicates — each reader
either refuses the whole file with a :class:`SourceFileError` naming it, or returns rows that
reconcile: read = kept + rejected + merged, read = the rows written, every rejected record has a
file, a record and a rule. Variants of the same rows (delimiter, encoding, BOM, CSV or XLSX) give
the same kept rows.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analysis.sources import buyers, decp, grand_paris, structures
from analysis.sources.base import Quarantine, SourceFileError, accounting_frame
from analysis.sources.tabular import CheckedTable, Sheet
from analysis.sources.tracking import read_coordination
from conftest import TODAY
from corpus import (BUYER, COMPANY, CONTRACTS, GRAND_PARIS, OPERATIONS, OUTCOMES, PARTICIPANTS,
                    STRUCTURE_SIRETS, STRUCTURES, TEST_KEY, csv_bytes, decp_record,
                    write_xlsx_export)

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
COMMUNES = {"93066", "93001", "75056"}

#: Cells: plausible values, broken ones, and characters that break naive CSV handling.
TRICKY = ["", " ", "-5", "1e400", "inf", "nan", "NaN", "0", "12,5", "1 234,5", "44593", "2022",
          "31/02/2022", "01/03/1900", "01/03/2099", "2022-06-01", "a;b", 'a"b', "a,b", "x\ny",
          "Oui", "Non", "ééé", "Œuvre", "\u00a0", "93999", "12345678901234", "Niveau ?"]
ODD_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=12)
CELL = st.one_of(st.sampled_from(TRICKY), ODD_TEXT)
CP1252_TEXT = st.text(alphabet="abcdeéèàçœŒ €0123456789/,;-'\"", max_size=10)


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="observatoire-prop-"))


def rows_from(base: list[list[str]], data, n_max: int = 8, cell=CELL) -> list[list[str]]:
    """Header of ``base`` and 0..n_max rows: copies of valid rows with some cells replaced."""
    header, valid = base[0], base[1:]
    n = data.draw(st.integers(0, n_max))
    out = [header]
    for _ in range(n):
        row = list(data.draw(st.sampled_from(valid)))
        for i in range(len(row)):
            if data.draw(st.sampled_from([False, False, False, True])):
                row[i] = data.draw(cell)
        out.append(row)
    return out


def check_quarantine(q: Quarantine, file_part: str) -> None:
    for item in q.rejects + q.warnings:
        assert item.rule and item.record and item.message
        assert file_part in item.file
        assert len(item.message) < 1000


def reconciles(acc: dict, written: int | None = None) -> None:
    assert acc["read"] == acc["kept"] + acc["rejected"] + acc["merged"], acc
    if written is not None:
        assert acc["read"] == written, acc


# --- Row accounting ---------------------------------------------------------------------------


@SETTINGS
@given(keys=st.lists(st.sampled_from(["a", "b", "c", None, ""]), max_size=30),
       values=st.data())
def test_checked_table_accounting_always_reconciles(keys, values):
    frame = pd.DataFrame({"key": keys,
                          "v": [values.draw(st.sampled_from(["1", "2"])) for _ in keys]})
    sheet = Sheet("f.csv", frame, pd.Series(range(2, len(frame) + 2)))
    q = Quarantine()
    table = CheckedTable(sheet, q, "test")
    table.reject(table.frame["key"].isna(), "clé absente", lambda r: "sans clé")
    table.unique_key("key", "clé en double", lambda r: f"{r['key']} en double")
    mask = pd.Series([values.draw(st.booleans()) for _ in range(len(table.frame))],
                     index=table.frame.index, dtype=bool)
    table.reject(mask, "au hasard", lambda r: "rejet")
    acc = table.accounting()
    reconciles(acc, len(keys))
    assert acc["rejected"] == len(q.rejects)
    assert table.frame["key"].is_unique
    assert {r.record for r in q.rejects} <= {f"ligne {i}" for i in range(2, len(keys) + 2)}


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50),
                          st.integers(-2, 2)), min_size=1, max_size=10))
def test_accounting_frame_refuses_any_row_that_does_not_add_up(rows):
    records = [{"source": "s", "file": f"f{i}", "read": k + r + m + d, "kept": k, "rejected": r,
                "merged": m} for i, (k, r, m, d) in enumerate(rows)]
    if all(d == 0 for *_, d in rows):
        assert len(accounting_frame(records)) == len(rows)
    else:
        with pytest.raises(AssertionError, match="comptage incohérent"):
            accounting_frame(records)


# --- DECP JSON ----------------------------------------------------------------------------------

JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                          | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
DECP_FIELD_VALUES = {
    "id": st.one_of(st.none(), st.just(""), st.integers(), ODD_TEXT),
    "acheteur": st.one_of(st.none(), st.just({"id": BUYER}), st.just({"id": "123"}), JSON_VALUE),
    "dateNotification": st.one_of(st.sampled_from(["2022-01-01", "1900-01-01", "2099-01-01",
                                                   "31/12/2021", "2022-02-30", "44593", ""]),
                                  JSON_VALUE),
    "montant": st.one_of(st.sampled_from(["12 345,60", "-1", "Infinity", "abc", 0, 1e308]),
                         JSON_VALUE),
    "considerationsSociales": JSON_VALUE,
    "lieuExecution": JSON_VALUE,
    "titulaires": JSON_VALUE,
    "modifications": JSON_VALUE,
    "dureeMois": JSON_VALUE,
}


@st.composite
def decp_records(draw):
    record = decp_record(draw(st.integers(1, 20)))
    for name, values in DECP_FIELD_VALUES.items():
        if draw(st.integers(0, 5)) == 0:
            record[name] = draw(values)
    return draw(st.one_of(st.just(record), st.just(record), st.just(record), JSON_VALUE))


@SETTINGS
@given(records=st.lists(decp_records(), max_size=8),
       shape=st.sampled_from(["object", "list", "array"]))
def test_decp_json_reader_accounts_for_every_record(records, shape):
    document = {"object": {"marches": {"marche": records}}, "list": {"marches": records},
                "array": records}[shape]
    path = tmpdir() / "decp.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    parsed = decp.read_decp_json(path, today=TODAY, communes=COMMUNES)
    assert parsed.read == len(records)
    kept = len(parsed.contracts) + len(parsed.concessions)
    assert kept + len(parsed.quarantine.rejects) == parsed.read
    check_quarantine(parsed.quarantine, "decp.json")
    contracts = decp.contracts_frame(parsed.contracts)  # the rows always make a typed table
    assert len(contracts) == len(parsed.contracts)
    assert not contracts["montant"].isin([float("inf")]).any()


@SETTINGS
@given(st.binary(max_size=200) | JSON_VALUE.map(lambda v: json.dumps(v).encode()))
def test_decp_json_reader_refuses_garbage_cleanly(payload):
    path = tmpdir() / "decp.json"
    path.write_bytes(payload)
    try:
        parsed = decp.read_decp_json(path, today=TODAY)
    except SourceFileError as exc:
        assert "decp.json" in str(exc) and len(str(exc)) < 1000
        return
    assert len(parsed.contracts) + len(parsed.concessions) + len(parsed.quarantine.rejects) \
        == parsed.read


# --- Consolidated DECP tables -------------------------------------------------------------------

TABULAR_HEADER = ["id", "acheteur.id", "dateNotification", "montant", "considerationsSociales",
                  "titulaire.id", "titulaire.typeIdentifiant"]
TABULAR_VALID = [["M1", BUYER, "2022-03-01", "1000", "Clause sociale", COMPANY, "SIRET"],
                 ["M1", BUYER, "2022-03-01", "1000", "Clause sociale", "44306184100047", "SIRET"],
                 ["M2", BUYER, "2022-04-01", "2500,5", "Sans objet", COMPANY, "SIRET"],
                 ["M3", "21750001600019", "2023-01-15", "800", "", COMPANY, "SIRET"]]


@SETTINGS
@given(data=st.data())
def test_decp_tabular_reader_accounts_for_every_row(data):
    rows = rows_from([TABULAR_HEADER, *TABULAR_VALID], data, n_max=10)
    path = tmpdir() / "consolide.csv"
    path.write_bytes(csv_bytes(rows))
    parsed = decp.read_decp_table(path, today=TODAY)
    assert parsed.read == len(rows) - 1
    kept = len(parsed.contracts) + len(parsed.concessions)
    assert kept + len(parsed.quarantine.rejects) + parsed.merged == parsed.read
    check_quarantine(parsed.quarantine, "consolide.csv")


@SETTINGS
@given(data=st.data(), delimiter=st.sampled_from([";", ",", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_decp_tabular_delimiter_and_encoding_do_not_change_the_rows(data, delimiter, encoding):
    rows = rows_from([TABULAR_HEADER, *TABULAR_VALID], data, n_max=6, cell=CP1252_TEXT)
    folder = tmpdir()
    (folder / "a.csv").write_bytes(csv_bytes(rows))
    (folder / "b.csv").write_bytes(csv_bytes(rows, delimiter, encoding))
    a = decp.read_decp_table(folder / "a.csv", today=TODAY)
    b = decp.read_decp_table(folder / "b.csv", today=TODAY)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "source_file"} for r in rows]  # noqa: E731
    assert strip(a.contracts) == strip(b.contracts)
    assert [(r.record, r.rule) for r in a.quarantine.rejects] == \
        [(r.record, r.rule) for r in b.quarantine.rejects]


# --- Tracking export through the mapping ---------------------------------------------------------

TRACKING_BASE = {"operations.csv": OPERATIONS, "participants.csv": PARTICIPANTS,
                 "contrats.csv": CONTRACTS, "sorties.csv": OUTCOMES}


def write_tracking(folder: Path, tables: dict[str, list[list[str]]], delimiter=";",
                   encoding="utf-8-sig") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        (folder / name).write_bytes(csv_bytes(rows, delimiter, encoding))


def check_tracking(result, tables: dict[str, list[list[str]]]) -> None:
    for acc in result.accounting:
        name = acc["file"].split("/")[-1].split("#")[-1]
        written = {"operations.csv": "operations.csv", "Opérations": "operations.csv",
                   "participants.csv": "participants.csv", "Participants": "participants.csv",
                   "contrats.csv": "contrats.csv", "Contrats": "contrats.csv",
                   "sorties.csv": "sorties.csv", "Sorties": "sorties.csv"}[name]
        reconciles(acc, len(tables[written]) - 1)
    kept = {a["file"].split("/")[-1]: a["kept"] for a in result.accounting}
    assert sum(kept.values()) == sum(len(t) for t in result.tables.values())
    check_quarantine(result.quarantine, "93/")
    assert result.tables["participants"]["participant_id"].is_unique
    assert (result.tables["work_contracts"]["heures"] >= 0).all()
    assert result.tables["work_contracts"]["heures"].map(lambda h: h != float("inf")).all()
    for frame in result.tables.values():
        assert not {"nom", "prenom", "date_naissance", "participant_raw"} & set(frame.columns)


@SETTINGS
@given(data=st.data())
def test_tracking_reader_accounts_for_every_row(data):
    tables = {name: rows_from(base, data, n_max=6) for name, base in TRACKING_BASE.items()}
    root = tmpdir()
    write_tracking(root / "tracking" / "93", tables)
    try:
        result = read_coordination(root / "tracking" / "93", root, TEST_KEY.encode(), COMMUNES,
                                   today=TODAY)
    except SourceFileError as exc:  # only a whole-file problem may stop the reader
        assert "tracking/93" in str(exc)
        pytest.fail(f"valid headers, yet the file was refused: {exc}")
    check_tracking(result, tables)


def _same(a, b) -> None:
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_dtype=False)
    assert sorted((r.rule, r.record) for r in a.quarantine.rejects) == \
        sorted((r.rule, r.record) for r in b.quarantine.rejects)


@settings(SETTINGS, max_examples=25)
@given(data=st.data(), delimiter=st.sampled_from([";", ",", "\t"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_tracking_csv_variants_give_the_same_rows(data, delimiter, encoding):
    tables = {name: rows_from(base, data, n_max=5, cell=CP1252_TEXT)
              for name, base in TRACKING_BASE.items()}
    root = tmpdir()
    write_tracking(root / "a" / "93", tables)
    write_tracking(root / "b" / "93", tables, delimiter, encoding)
    key = TEST_KEY.encode()
    a = read_coordination(root / "a" / "93", root / "a", key, COMMUNES, today=TODAY)
    b = read_coordination(root / "b" / "93", root / "b", key, COMMUNES, today=TODAY)
    _same(a, b)


@settings(SETTINGS, max_examples=15)
@given(data=st.data())
def test_tracking_xlsx_gives_the_same_rows_as_csv(data):
    tables = {name: rows_from(base, data, n_max=4, cell=CP1252_TEXT.filter(lambda s: s.strip()))
              for name, base in TRACKING_BASE.items()}
    # Leading "=" would be a formula, and an id must be present for a row to exist in a sheet.
    assume(all(not str(c).startswith("=") for t in tables.values() for r in t for c in r))
    root = tmpdir()
    write_tracking(root / "a" / "93", tables)
    write_xlsx_export(root / "b" / "93", tables)
    key = TEST_KEY.encode()
    a = read_coordination(root / "a" / "93", root / "a", key, COMMUNES, today=TODAY)
    b = read_coordination(root / "b" / "93", root / "b", key, COMMUNES, today=TODAY)
    _same(a, b)
    check_tracking(b, tables)


# --- Grand Paris, structures, buyers ------------------------------------------------------------

BUYERS_BASE = [["SIRET", "Nom", "Catégorie", "Département"],
               [BUYER, "Ville de Saint-Denis", "Commune", "93"],
               ["21750001600019", "Ville de Paris", "Commune", "75"],
               ["34111468402057", "Société des grands projets", "Opérateur", ""]]


@pytest.mark.parametrize("reader, base, name", [
    (grand_paris.read, GRAND_PARIS, "contrats_grand_paris.csv"),
    (structures.read, STRUCTURES, "structures_inclusion.csv"),
    (buyers.read, BUYERS_BASE, "acheteurs.csv"),
], ids=["grand_paris", "structures", "buyers"])
def test_flat_readers_account_for_every_row(reader, base, name):
    @SETTINGS
    @given(data=st.data(), delimiter=st.sampled_from([";", ","]),
           encoding=st.sampled_from(["utf-8-sig", "cp1252"]))
    def check(data, delimiter, encoding):
        rows = rows_from(base, data, n_max=8, cell=st.one_of(CELL, CP1252_TEXT))
        root = tmpdir()
        path = root / name
        try:
            path.write_bytes(csv_bytes(rows, delimiter, encoding))
        except UnicodeEncodeError:
            path.write_bytes(csv_bytes(rows, delimiter, "utf-8-sig"))
        q = Quarantine()
        extra = (COMMUNES,) if reader is structures.read else ()
        frame, acc = reader(path, root, q, *extra)
        reconciles(acc, len(rows) - 1)
        assert acc["kept"] == len(frame) and acc["rejected"] == len(q.rejects)
        check_quarantine(q, name)
        if reader is structures.read:
            assert frame["siret"].is_unique and frame["commune"].isin(COMMUNES).all()
        if reader is grand_paris.read:
            assert (frame["heures_travail"] > 0).all()
            assert not frame[["heures_travail", "montant"]].isin([float("inf")]).any().any()

    check()


def test_structure_sirets_of_the_corpus_are_valid():
    from analysis.identifiers import siret_valid

    assert all(siret_valid(s) for s in STRUCTURE_SIRETS + [BUYER, COMPANY])
