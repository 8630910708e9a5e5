"""The warehouse build: accounting reconciles, duplicates merge, a bad file changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.warehouse import BuildError, build, load_manifest, load_table
from conftest import FIXTURES, TODAY

GOOD = ["nested_marche.json", "flat_list.json", "republication.json"]


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw" / "decp"
    folder.mkdir(parents=True)
    for name in GOOD:
        shutil.copy(FIXTURES / "decp" / name, folder / name)
    return tmp_path / "raw"


def test_build_accounts_for_every_record(raw, tmp_path):
    summary = build(raw=raw, processed=tmp_path / "processed", today=TODAY)
    acc = summary.accounting.set_index("file")
    assert (acc["read"] == acc["kept"] + acc["rejected"] + acc["merged"]).all()
    assert acc.loc["decp/nested_marche.json"].to_dict() == {
        "source": "decp", "read": 6, "kept": 2, "rejected": 3, "merged": 1,
        "coordination": None}     # a coordination names tracking exports only
    assert acc.loc["decp/flat_list.json", "kept"] == 7  # 6 marchés + 1 concession
    assert acc.loc["decp/republication.json", "kept"] == 1
    assert summary.tables == {"contracts": 9, "suppliers": 2, "modifications": 1,
                              "concessions": 1}
    assert len(summary.rejects) == 4
    assert set(summary.rejects.columns) == {"source", "file", "record", "rule", "message"}


def test_build_outputs_are_readable(raw, tmp_path):
    processed = tmp_path / "processed"
    build(raw=raw, processed=processed, today=TODAY)
    contracts = load_table("contracts", processed)
    assert contracts["uid"].is_unique
    n1 = contracts.set_index("id").loc["N1"]
    assert n1["montant"] == 15000  # the republished, modified version
    manifest = load_manifest(processed)
    assert [i["file"] for i in manifest["inputs"]] == [f"decp/{n}" for n in sorted(GOOD)]
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    con = duckdb.connect(str(processed / "warehouse" / "observatoire.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from contracts").fetchone()[0] == len(contracts)
        assert con.execute("select sum(read) from accounting").fetchone()[0] == 15
    finally:
        con.close()
    rejects = pd.read_parquet(processed / "warehouse" / "rejects" / "rejects.parquet")
    assert "id obligatoire" in set(rejects["rule"])


@pytest.mark.parametrize("bad", ["truncated.json", "not_utf8.json", "not_decp.json"])
def test_corrupt_file_leaves_previous_warehouse_in_force(raw, tmp_path, bad):
    processed = tmp_path / "processed"
    build(raw=raw, processed=processed, today=TODAY)
    before = (processed / "warehouse").resolve()
    before_bytes = (before / "contracts.parquet").read_bytes()
    shutil.copy(FIXTURES / "decp" / bad, raw / "decp" / bad)
    with pytest.raises(BuildError) as caught:
        build(raw=raw, processed=processed, today=TODAY)
    assert bad in str(caught.value)
    assert (processed / "warehouse").resolve() == before
    assert (before / "contracts.parquet").read_bytes() == before_bytes
    assert not list((processed / "builds").glob(".tmp-*"))  # staging cleaned up


def test_rebuild_is_idempotent_and_prunes_old_builds(raw, tmp_path):
    processed = tmp_path / "processed"
    tables = [load_table_after_build(raw, processed) for _ in range(3)]
    assert all(t.equals(tables[0]) for t in tables)
    assert len([p for p in (processed / "builds").iterdir() if not p.name.startswith(".")]) == 2


def load_table_after_build(raw, processed):
    build(raw=raw, processed=processed, today=TODAY)
    return load_table("contracts", processed)


def test_missing_inputs_are_clear_errors(tmp_path):
    with pytest.raises(BuildError, match="introuvable"):
        build(raw=tmp_path / "absent", processed=tmp_path / "p")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="aucune source reconnue"):
        build(raw=tmp_path / "empty", processed=tmp_path / "p")
    with pytest.raises(FileNotFoundError, match="make build"):
        load_table("contracts", tmp_path / "p")


def test_manifest_is_json(raw, tmp_path):
    build(raw=raw, processed=tmp_path / "processed", today=TODAY)
    manifest = json.loads((tmp_path / "processed" / "warehouse" / "manifest.json").read_text())
    assert manifest["tables"]["contracts"] == 9 and manifest["rejected"] == 4


def _tables(processed: Path) -> dict[str, pd.DataFrame]:
    folder = processed / "warehouse"
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def test_incremental_build_equals_a_full_build(small_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    first = build(raw=raw, processed=tmp_path / "p", today=TODAY)
    assert set(first.origins.values()) == {"lu"}
    again = build(raw=raw, processed=tmp_path / "p", today=TODAY)
    assert set(again.origins.values()) == {"cache"}
    cached_tables = _tables(tmp_path / "p")
    # Change one source: only that one is read again, and the result equals a full build.
    structures_csv = next((raw / "structures").glob("*.csv"))
    lines = structures_csv.read_text(encoding="utf-8-sig").splitlines()
    structures_csv.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8-sig")
    partial = build(raw=raw, processed=tmp_path / "p", today=TODAY)
    assert partial.origins["structures"] == "lu"
    assert {o for s, o in partial.origins.items() if s != "structures"} == {"cache"}
    full = build(raw=raw, processed=tmp_path / "full", today=TODAY, use_cache=False)
    incremental, fresh = _tables(tmp_path / "p"), _tables(tmp_path / "full")
    assert incremental.keys() == fresh.keys()
    for name in fresh:
        pd.testing.assert_frame_equal(incremental[name], fresh[name], check_like=False)
    assert len(incremental["structures"]) == len(cached_tables["structures"]) - 1


def test_only_rereads_one_source_and_keeps_the_others(small_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    build(raw=raw, processed=tmp_path / "p", today=TODAY)
    before = _tables(tmp_path / "p")
    shutil.rmtree(raw / "tracking")  # would vanish in a full build; --only decp keeps it
    summary = build(raw=raw, processed=tmp_path / "p", today=TODAY, only="decp")
    assert summary.origins["decp"] == "lu" and summary.origins["tracking"] == "entrepôt"
    after = _tables(tmp_path / "p")
    for name in ("participants", "work_contracts", "contracts", "structures"):
        pd.testing.assert_frame_equal(after[name], before[name])
    acc = summary.accounting
    assert (acc["read"] == acc["kept"] + acc["rejected"] + acc["merged"]).all()
    assert set(acc["source"]) == {"decp", "acheteurs", "tracking", "grand_paris", "structures"}
    with pytest.raises(BuildError, match="source inconnue"):
        build(raw=raw, processed=tmp_path / "p", only="inconnue")


def test_schema_errors_stop_the_build_and_keep_the_previous_warehouse(raw, tmp_path, monkeypatch):
    import analysis.warehouse as warehouse

    processed = tmp_path / "processed"
    build(raw=raw, processed=processed, today=TODAY)
    before = (processed / "warehouse").resolve()
    real = warehouse._read_source

    def corrupt(*args, **kwargs):  # a reader bug: a duplicated contract key
        output = real(*args, **kwargs)
        if "contracts" in output.tables:
            frame = output.tables["contracts"]
            output.tables["contracts"] = pd.concat([frame, frame.iloc[:1]], ignore_index=True)
        return output

    monkeypatch.setattr(warehouse, "_read_source", corrupt)
    with pytest.raises(BuildError, match="tables incohérentes"):
        build(raw=raw, processed=processed, today=TODAY, use_cache=False)
    assert (processed / "warehouse").resolve() == before


def test_validation_warnings_join_the_quarantine(small_warehouse):
    """Cross-table warnings (e.g. an operation naming a DECP contract that is not published)
    reach the quarantine's warnings with their rule, and the build summary states them."""
    warnings = pd.read_parquet(small_warehouse.path / "rejects" / "warnings.parquet")
    validation = warnings[warnings["source"] == "validation"]
    assert not validation.empty
    assert validation["rule"].notna().all() and validation["message"].notna().all()
    assert small_warehouse.validation and "avertissement" in small_warehouse.validation.lower()


@pytest.mark.parametrize("rows", [0, 1, 7, 20])
def test_texts_held_as_categories_are_written_as_text(tmp_path, monkeypatch, rows):
    """``write_parquet`` writes a frame whose texts are categories as the same frame in text:
    the same bytes in one row group; cut into row groups, the same rows and types read back."""
    import filecmp

    import pyarrow.parquet as pq

    from analysis import io

    text = pd.DataFrame({
        "uid": pd.array([f"u{i}" for i in range(rows)], dtype="string"),
        "procedure": pd.array([None if i % 5 == 0 else f"procédure {i % 3}" for i in range(rows)],
                              dtype="string"),
        "montant": pd.array([float(i) if i % 4 else None for i in range(rows)], dtype="Float64"),
    })
    compact = text.assign(procedure=text["procedure"].astype("category"))
    io.write_parquet(text, tmp_path / "text.parquet")
    io.write_parquet(compact, tmp_path / "compact.parquet")
    assert filecmp.cmp(tmp_path / "text.parquet", tmp_path / "compact.parquet", shallow=False)
    monkeypatch.setattr(io, "PARQUET_ROW_GROUP", 3)
    io.write_parquet(compact, tmp_path / "groups.parquet")
    assert pq.ParquetFile(tmp_path / "groups.parquet").metadata.num_row_groups == \
        max(1, -(-rows // 3))
    back = pd.read_parquet(tmp_path / "groups.parquet")
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "text.parquet"),
                                  check_exact=True)
    assert pq.read_schema(tmp_path / "groups.parquet").equals(
        pq.read_schema(tmp_path / "text.parquet"), check_metadata=True)
    assert isinstance(compact["procedure"].dtype, pd.CategoricalDtype)
    text.attrs["note"] = compact.attrs["note"] = "kept in the file's metadata"
    io.write_parquet(text, tmp_path / "text_attrs.parquet")
    io.write_parquet(compact, tmp_path / "compact_attrs.parquet")
    assert filecmp.cmp(tmp_path / "text_attrs.parquet", tmp_path / "compact_attrs.parquet",
                       shallow=False)
