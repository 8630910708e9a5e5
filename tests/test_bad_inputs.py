"""Bad inputs through the real command line: every fault of the corpus (``corpus.FAULTS``) gives a
clear message or quarantined rows with their reason, never a traceback, never a changed count.

Each case writes the small valid corpus, injects one fault, runs ``observatoire build`` and checks:

* no Python traceback in what the user sees (stdout, stderr), and no exception out of ``main``;
* a file-level fault stops the build (exit 2) with a message naming the file and the problem, and
  the warehouse in force is the previous one, byte for byte;
* a row-level fault completes the build; the file's record sits in the quarantine (or, for a kept
  row with an anomaly, in the warnings) with its line and rule;
* for every file, read = kept + rejected + merged, read equals the records counted in the raw file
  by the test itself (csv / json / openpyxl, not the readers), and the rows kept per source equal
  the rows of the warehouse's tables.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.cli import main
from analysis.io import sha256
from corpus import FAULTS, FLAT_VIEWS, TEST_KEY, Fault, count_raw, write_corpus

TABLES_OF = {"decp": ("contracts", "concessions"), "acheteurs": ("buyers",),
             "tracking": ("operations", "participants", "work_contracts", "outcomes"),
             "grand_paris": ("grand_paris",), "structures": ("structures",)}


def run_build(raw: Path, capsys) -> tuple[int, str, str]:
    """``observatoire build --raw raw --quiet`` in this process; an exception escaping ``main``
    is what the user would see as a traceback, so it fails the test."""
    try:
        code = main(["build", "--raw", str(raw), "--quiet"])
    except BaseException as exc:  # noqa: BLE001 - that is the point
        pytest.fail(f"traceback for the user: {type(exc).__name__}: {exc}")
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and 'File "' not in out + err
    return code, out, err


def warehouse_hashes(processed: Path) -> dict[str, str]:
    folder = processed / "warehouse"
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*.parquet"))}


def check_accounting(raw: Path, processed: Path) -> pd.DataFrame:
    """Every file reconciles, its read count is the test's own count, kept rows are table rows."""
    folder = processed / "warehouse"
    acc = pd.read_parquet(folder / "accounting.parquet")
    assert (acc["read"] == acc["kept"] + acc["rejected"] + acc["merged"]).all()
    # A flat extraction is read as views (file#participants, #contrats…), each on all its rows:
    # its records are those of its work-contract view.
    view = acc["file"].str.split("#").str[1]
    counted = acc[~view.isin(FLAT_VIEWS) | (view == "contrats")]
    by_file = counted.assign(file=counted["file"].str.split("#").str[0]).groupby("file")["read"].sum()
    assert by_file.to_dict() == count_raw(raw)
    rejects = pd.read_parquet(folder / "rejects" / "rejects.parquet")
    assert rejects["rule"].notna().all() and (rejects["rule"].str.len() > 0).all()
    assert (rejects["message"].str.len() > 0).all()
    per_file_rejects = rejects.groupby(rejects["file"].str.split("#").str[0]).size()
    rejected = acc.assign(file=acc["file"].str.split("#").str[0]).groupby("file")["rejected"].sum()
    assert rejected[rejected > 0].to_dict() == per_file_rejects.to_dict()
    for source, names in TABLES_OF.items():
        kept = int(acc.loc[acc["source"] == source, "kept"].sum())
        rows = sum(len(pd.read_parquet(folder / f"{n}.parquet")) for n in names
                   if (folder / f"{n}.parquet").is_file())
        assert kept == rows, source
    return acc


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, Path]:
    """The valid corpus and the warehouse built from it (copied by each case)."""
    root = tmp_path_factory.mktemp("baseline")
    raw = write_corpus(root / "raw")
    processed = root / "processed"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OBSERVATOIRE_PSEUDO_KEY", TEST_KEY)
        mp.setenv("OBSERVATOIRE_PROCESSED_DIR", str(processed))
        assert main(["build", "--raw", str(raw), "--quiet"]) == 0
    return raw, processed


@pytest.fixture
def env(tmp_path, monkeypatch, baseline) -> tuple[Path, Path]:
    """A copy of the valid corpus and of its warehouse, with the settings pointing at them."""
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    shutil.copytree(baseline[0], raw)
    shutil.copytree(baseline[1], processed, symlinks=True)
    monkeypatch.setenv("OBSERVATOIRE_PSEUDO_KEY", TEST_KEY)
    monkeypatch.setenv("OBSERVATOIRE_PROCESSED_DIR", str(processed))
    return raw, processed


def test_the_valid_corpus_builds_clean(env, capsys):
    raw, processed = env
    code, out, _ = run_build(raw, capsys)
    assert code == 0 and "gardés" in out
    acc = check_accounting(raw, processed)
    assert acc["rejected"].sum() == 0 and acc["merged"].sum() == 0
    assert len(pd.read_parquet(processed / "warehouse" / "rejects" / "rejects.parquet")) == 0


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(fault: Fault, env, capsys):
    raw, processed = env
    before_link = (processed / "warehouse").resolve()
    before = warehouse_hashes(processed)
    fault.inject(raw)
    code, out, err = run_build(raw, capsys)
    if fault.level == "file":
        assert code == 2, out
        assert fault.file in err, err
        for word in fault.expect:
            assert word in err, err
        assert "entrepôt précédent conservé" in err
        assert len(err) < 2000  # short, whatever the file holds
        assert (processed / "warehouse").resolve() == before_link
        assert warehouse_hashes(processed) == before
        return
    assert code == 0, err
    check_accounting(raw, processed)
    folder = processed / "warehouse"
    if fault.level == "count":  # read, nothing lost, nothing else to say
        return
    if fault.level == "ok":  # a variant of the same data: the same tables
        assert_same_tracking_tables(processed, before_link)
        return
    table = "warnings" if fault.warning else "rejects"
    quarantine = pd.read_parquet(folder / "rejects" / f"{table}.parquet")
    hits = quarantine[quarantine["file"].str.endswith(fault.file)
                      & (quarantine["rule"] == fault.rule)]
    assert not hits.empty, quarantine[["file", "record", "rule"]].to_string()
    if fault.record is not None:
        assert fault.record in set(hits["record"]), hits[["record", "rule"]].to_string()
    assert (quarantine["message"].str.len() < 1000).all()  # a huge cell is not echoed whole
    assert "rejetés" in out


def assert_same_tracking_tables(processed: Path, previous: Path) -> None:
    folder = processed / "warehouse"
    for name in TABLES_OF["tracking"]:
        pd.testing.assert_frame_equal(pd.read_parquet(folder / f"{name}.parquet"),
                                      pd.read_parquet(previous / f"{name}.parquet"))


def test_every_fault_of_the_brief_is_covered():
    """The issue's list of faults, each with at least one case."""
    names = " ".join(f.name for f in FAULTS)
    for needed in ("json_truncated", "latin1", "utf16", "bom", "cp1252_comma", "serial_date",
                   "duplicated_header", "empty", "huge_field", "unknown_enumeration",
                   "negative_hours", "date_1900", "date_2099", "invalid_siret", "invalid_insee",
                   "column_missing"):
        assert needed in names, needed


def test_duckdb_matches_parquet_after_quarantine(env, capsys):
    raw, processed = env
    FAULTS[[f.name for f in FAULTS].index("tracking_negative_hours")].inject(raw)
    assert run_build(raw, capsys)[0] == 0
    folder = processed / "warehouse"
    con = duckdb.connect(str(folder / "observatoire.duckdb"), read_only=True)
    try:
        for name in ("work_contracts", "accounting", "rejects"):
            parquet = folder / ("rejects/rejects.parquet" if name == "rejects" else f"{name}.parquet")
            assert con.execute(f"select count(*) from {name}").fetchone()[0] == \
                len(pd.read_parquet(parquet))
    finally:
        con.close()
