"""Tasks shared with helper processes (:mod:`analysis.workers`): results in task order, a
helper's failure made good here, and the DECP readers giving the same tables, quarantine and
accounting with helpers as without."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis import workers
from analysis.sources.decp import json_source, read_decp_json, read_decp_table

TODAY = date(2026, 6, 30)

pytestmark = pytest.mark.skipif("fork" not in __import__("multiprocessing")
                                .get_all_start_methods(), reason="no fork on this system")


# --- The sharing itself -------------------------------------------------------------------------

def _square(spec):
    return {"task": spec, "square": spec * spec, "pid": os.getpid()}


def _fails_on_three(spec):
    if spec == 3:
        raise ValueError("a helper's error")
    return _square(spec)


@pytest.mark.parametrize("count", [0, 1, 2])
def test_results_come_in_task_order(count):
    with workers.Helpers(count) as pool:
        got = list(pool.in_order(12, lambda k: _square(k), _square, lambda k: k))
    assert [k for k, _ in got] == list(range(12))
    assert [r["square"] for _, r in got] == [k * k for k in range(12)]
    remote = [k for k, r in got if r["pid"] != os.getpid()]
    if count == 0:
        assert not remote


def test_a_helpers_error_is_made_good_here():
    """A task that fails in a helper runs again here: its result, or here its own error."""
    with workers.Helpers(1) as pool:
        got = list(pool.in_order(8, lambda k: _square(k), _fails_on_three, lambda k: k))
    assert [r["square"] for _, r in got] == [k * k for k in range(8)]
    assert got[3][1]["pid"] == os.getpid()  # task 3 ran here

    def local(k):
        if k == 3:
            raise ValueError("the error of a reading in one process")
        return _square(k)

    with pytest.raises(ValueError, match="one process"), workers.Helpers(1) as pool:
        list(pool.in_order(8, local, _fails_on_three, lambda k: k))


def test_helper_count_setting(monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_WORKERS", "0")
    assert workers.helper_count() == 0
    monkeypatch.setenv("OBSERVATOIRE_WORKERS", "3")
    assert workers.helper_count() == 3
    monkeypatch.setenv("OBSERVATOIRE_WORKERS", "deux")
    with pytest.raises(ValueError, match="OBSERVATOIRE_WORKERS"):
        workers.helper_count()
    monkeypatch.delenv("OBSERVATOIRE_WORKERS")
    assert 0 <= workers.helper_count() <= workers.MAX_HELPERS


def test_no_result_file_is_left_behind(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"

    def make() -> str:
        scratch.mkdir()
        return str(scratch)

    monkeypatch.setattr(workers, "_scratch", make)
    with workers.Helpers(1) as pool:
        for k, _ in pool.in_order(6, _square, _square, lambda k: k):
            if k == 2:
                break  # a reading stopped midway
    assert not (tmp_path / "scratch").exists()


# --- The readers, with and without helpers -------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    from analysis.synthetic.decp import generate

    root = tmp_path_factory.mktemp("shared")
    generate(root / "json", seed=31, first_year=2018, last_year=2025, scale=0.03,
             layout="consolidated")
    generate(root / "table", seed=32, first_year=2018, last_year=2025, scale=0.03,
             layout="tabular")
    table = root / "table" / "decp" / "decp_consolide.parquet"
    small_groups = root / "groups.parquet"  # contracts across row groups and parts
    pq.write_table(pq.read_table(table), small_groups, row_group_size=170)
    return {"json": root / "json" / "decp" / "decp_consolide.json", "table": small_groups}


def _joined(parsed) -> dict[str, pd.DataFrame]:
    return {name: pd.concat(chunks, ignore_index=True) if chunks else None
            for name, chunks in parsed.frames.items()}


def _same_reading(one, other) -> None:
    assert (one.read, one.produced, one.merged) == (other.read, other.produced, other.merged)
    a, b = _joined(one), _joined(other)
    for name in a:
        if a[name] is None:
            assert b[name] is None, name
        else:
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    assert [vars(r) for r in one.quarantine.rejects] == [
        vars(r) for r in other.quarantine.rejects]
    assert [vars(r) for r in one.quarantine.warnings] == [
        vars(r) for r in other.quarantine.warnings]


def test_json_read_with_helpers_is_the_same(generated, monkeypatch):
    monkeypatch.setattr(json_source, "TASK_RECORDS", 400)
    path = generated["json"]
    alone = read_decp_json(path, today=TODAY, chunk_size=300, helpers=0)
    shared = read_decp_json(path, today=TODAY, chunk_size=300, helpers=2)
    assert alone.read > 1500 and alone.quarantine.rejects and alone.quarantine.warnings
    assert sum(len(f) for f in alone.frames["modifications"])
    # Each task ends a chunk: more chunks, the same rows.
    assert len(shared.frames["contracts"]) > len(alone.frames["contracts"])
    _same_reading(alone, shared)


def test_parquet_read_with_helpers_is_the_same(generated):
    path = generated["table"]
    alone = read_decp_table(path, today=TODAY, chunk_size=300, part_rows=400, helpers=0)
    shared = read_decp_table(path, today=TODAY, chunk_size=300, part_rows=400, helpers=2)
    assert alone.read > 1500 and alone.merged and alone.quarantine.rejects
    _same_reading(alone, shared)
    whole = read_decp_table(path, today=TODAY, chunk_size=300)  # one part, no helper
    _same_reading(whole, shared)


def _array(spec):
    import numpy as np

    return np.arange(spec, dtype=np.int64)


def test_a_helpers_arrays_can_be_written_to():
    """A helper's result comes back in mapped pages; its arrays are as writable as any."""
    with workers.Helpers(1) as pool:
        got = [r for _, r in pool.in_order(4, lambda k: _array(1000 + k), _array,
                                                  lambda k: 1000 + k)]
    assert [len(a) for a in got] == [1000, 1001, 1002, 1003]
    for array in got:
        array[:10] = -1
        assert array[10] == 10 and (array[:10] == -1).all()
