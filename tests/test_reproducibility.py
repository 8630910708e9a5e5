"""Reproducibility: the same raw inputs and settings give byte-identical Parquet tables.

Two builds into fresh processed folders (same raw folder, same key, same day), then an
incremental build from the cache and a full re-read: every Parquet file of the warehouse and of
the cache has the same SHA-256, the DuckDB tables hold the same rows, and the manifests differ
only by their timestamp.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.io import sha256
from analysis.warehouse import build
from conftest import TODAY
from corpus import TEST_KEY, generated_raw

pytestmark = pytest.mark.slow


def parquet_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*.parquet"))}


def cache_hashes(processed: Path) -> dict[str, str]:
    """Cached tables by source and file name (the fingerprint folder name is compared apart)."""
    cache = processed / "cache"
    return {f"{p.parent.parent.name}/{p.parent.name}/{p.name}": sha256(p)
            for p in sorted(cache.rglob("*.parquet"))}


def duckdb_rows(processed: Path) -> dict[str, list[int]]:
    con = duckdb.connect(str(processed / "warehouse" / "observatoire.duckdb"), read_only=True)
    try:
        tables = [t for (t,) in con.execute("show tables").fetchall()]
        return {t: sorted(pd.util.hash_pandas_object(
                    con.execute(f'select * from "{t}"').df(), index=False).tolist())
                for t in tables}
    finally:
        con.close()


def manifest(processed: Path) -> dict:
    data = json.loads((processed / "warehouse" / "manifest.json").read_text(encoding="utf-8"))
    data.pop("built_at")
    return data


@pytest.fixture(scope="module")
def builds(session_dir, tmp_path_factory):
    raw = generated_raw(session_dir)
    root = tmp_path_factory.mktemp("repro")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OBSERVATOIRE_PSEUDO_KEY", TEST_KEY)
        first = build(raw=raw, processed=root / "first", today=TODAY)
        second = build(raw=raw, processed=root / "second", today=TODAY)
        again = build(raw=raw, processed=root / "second", today=TODAY)  # from the cache
        fresh = build(raw=raw, processed=root / "fresh", today=TODAY, use_cache=False)
    assert set(again.origins.values()) == {"cache"}
    return root, first


def test_two_builds_give_byte_identical_parquet(builds):
    root, summary = builds
    a = parquet_hashes(root / "first" / "warehouse")
    b = parquet_hashes(root / "second" / "warehouse")
    c = parquet_hashes(root / "fresh" / "warehouse")
    assert len(a) >= 14 and "rejects/rejects.parquet" in a and "participants.parquet" in a
    assert a == b == c
    assert summary.tables["participants"] > 100  # a real data set, not an empty one


def test_caches_are_byte_identical(builds):
    root, _ = builds
    first, second = cache_hashes(root / "first"), cache_hashes(root / "second")
    assert first and first == second
    names = lambda p: sorted(f"{d.parent.name}/{d.name}" for d in (p / "cache").glob("*/*"))  # noqa: E731
    assert names(root / "first") == names(root / "second")


def test_duckdb_tables_hold_the_same_rows(builds):
    root, _ = builds
    a, b = duckdb_rows(root / "first"), duckdb_rows(root / "second")
    assert set(a) >= {"contracts", "participants", "accounting", "rejects"}
    assert a == b


def test_manifests_differ_only_by_their_timestamp(builds):
    root, _ = builds
    first, second, fresh = (manifest(root / n) for n in ("first", "second", "fresh"))
    assert first == fresh
    assert set(second.pop("sources").values()) == {"cache"}  # the incremental build says so
    first.pop("sources")
    assert first == second
