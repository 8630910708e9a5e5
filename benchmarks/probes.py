"""The measured programs: each runs in its own process (``python -m benchmarks.probes CASE ...``)
so that its peak memory is its own, and prints one JSON line: ``{"records": n, "seconds": s}``.

``seconds`` is timed inside the process, from just before reading to just after (interpreter start
and imports excluded, the same for every case); the runner also records the process's wall time
and peak resident memory (``wait4``).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path


def _emit(records: int, started: float, **extra) -> None:
    print(json.dumps({"records": int(records), "seconds": time.perf_counter() - started, **extra}))


def ingest_ours(path: str, as_text: bool = False) -> None:
    """The build's DECP path: every reader check, chunked typed frames, deduplication; the
    contracts' repeated texts left as categories, as the build keeps them until it writes the
    warehouse (``ingest-ours-text``: made text again, as ``read_decp`` gives them by default)."""
    from analysis.warehouse import read_decp

    file = Path(path)
    started = time.perf_counter()
    tables, quarantine, accounting = read_decp([file], file.parent, as_text=as_text)
    read = sum(row["read"] for row in accounting)
    _emit(read, started, kept=len(tables["contracts"]), rejected=len(quarantine.rejects),
          helpers=_helpers(), helpers_peak_kib=_children_peak())


def _helpers() -> int:
    from analysis.workers import helper_count

    return helper_count()


def _children_peak() -> int:
    """The largest peak resident size of this process's ended children (the reader's helper
    processes), KiB: the runner's ``wait4`` gives the larger of this process and them, not
    their sum."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def ingest_naive(path: str) -> None:
    """What a notebook would do: ``json.load`` then ``pandas.json_normalize`` (no checks)."""
    import pandas as pd

    started = time.perf_counter()
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    body = document["marches"]
    records = body["marche"] if isinstance(body, dict) else body
    frame = pd.json_normalize(records)
    _emit(len(frame), started, columns=frame.shape[1])


def floor_orjson(path: str) -> None:
    """The parse floor in Python: orjson turns the file into Python objects (collector off, as
    a tuned reader would run)."""
    import orjson

    started = time.perf_counter()
    gc.disable()
    with open(path, "rb") as handle:
        document = orjson.loads(handle.read())
    body = document["marches"]
    records = body["marche"] if isinstance(body, dict) else body
    _emit(len(records), started)


def floor_duckdb(path: str) -> None:
    """The parse floor in DuckDB: ``read_json`` of the file, records unnested and counted."""
    import os

    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads={os.cpu_count() or 1}")
    con.execute("SET enable_progress_bar=false")
    count = con.execute(
        "SELECT count(*) FROM (SELECT unnest(marches.marche) AS m "
        "FROM read_json(?, maximum_object_size=2147483647))", [path]).fetchone()[0]
    _emit(count, started)


def stack_import(_: str = "") -> None:
    """What every report kernel imports before its first cell does any work."""
    started = time.perf_counter()
    import geopandas  # noqa: F401
    import matplotlib  # noqa: F401
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import pandas  # noqa: F401
    import statsmodels.api  # noqa: F401

    import analysis.indicators  # noqa: F401
    import analysis.plots  # noqa: F401
    import analysis.warehouse  # noqa: F401
    _emit(0, started)


def kernel_start(_: str = "") -> None:
    """Start the report kernel (``python3``) and wait until it answers, then shut it down."""
    from jupyter_client.manager import start_new_kernel

    started = time.perf_counter()
    manager, client = start_new_kernel(kernel_name="python3")
    ready = time.perf_counter()
    client.stop_channels()
    manager.shutdown_kernel(now=True)
    print(json.dumps({"records": 0, "seconds": ready - started}))


def regions_compute(path: str) -> None:
    """The comparison of régions without a kernel: the national table read through the DECP
    pipeline, then every indicator of ``12_regions_comparees`` (shares on both bases, ranks,
    projections, départements, readiness)."""
    from analysis.indicators import regions

    started = time.perf_counter()
    national = regions.load_national(path)
    contracts = national.contracts
    read = time.perf_counter() - started
    regions.region_shares(contracts, 2019, 2025)
    for basis in regions.BASES:
        regions.rank_intervals(contracts, 2025, basis)
        regions.projections(contracts, 2019, 2025, basis)
    regions.departement_shares(contracts, 2025)
    regions.readiness(contracts, "2025-01-01", "2025-12-31")
    _emit(national.accounting["lignes_lues"], started, kept=len(contracts), read_seconds=read)


def regions_report(path: str) -> None:
    """``12_regions_comparees`` rendered as ``observatoire report`` renders it (papermill in a
    kernel of its own, HTML export, tables), on the national table ``path``; the reports go to
    ``OBSERVATOIRE_REPORTS_DIR``."""
    import os

    os.environ["OBSERVATOIRE_NATIONAL_DECP"] = path
    from analysis import config, reporting
    from analysis.periods import Period

    started = time.perf_counter()
    job = reporting.Job(reporting.SPECS["regions_comparees"], config.REGION_CODE, Period(2025))
    reporting.run_job(job, fresh=True)
    _emit(0, started)


def ingest_ours_text(path: str) -> None:
    """:func:`ingest_ours` with the texts restored (what ``read_decp`` gives by default)."""
    ingest_ours(path, as_text=True)


CASES = {"regions-compute": regions_compute, "regions-report": regions_report,
         "ingest-ours": ingest_ours, "ingest-ours-text": ingest_ours_text,
         "ingest-naive": ingest_naive, "floor-orjson": floor_orjson,
         "floor-duckdb": floor_duckdb, "stack-import": stack_import, "kernel-start": kernel_start}


if __name__ == "__main__":
    CASES[sys.argv[1]](*sys.argv[2:])
