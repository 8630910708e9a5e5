"""Interruption: killing ``observatoire build`` at any moment leaves the previous warehouse usable,
and a re-run completes; Ctrl-C gives a short French message, never a traceback.

A warehouse A is built from a small generated data set; the raw folder is then changed (one DECP
file gains a contract, one structure is removed) and ``observatoire build`` is started and killed
(SIGKILL) at seeded random moments, each time on the state the previous kill left. After each
kill the warehouse in force loads, its DuckDB file opens, and its Parquet files are byte for byte
those of A — or those of the complete new warehouse B, when the kill came after the atomic swap.
A final re-run completes and gives exactly B.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.io import sha256
from analysis.warehouse import load_manifest, load_table
from corpus import TEST_KEY, generated_raw

pytestmark = pytest.mark.slow

SEED = 20261123
KILLS = 4


def command(raw: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "analysis", "build", "--raw", str(raw), *extra]


def environment(processed: Path) -> dict[str, str]:
    return {**os.environ, "OBSERVATOIRE_PROCESSED_DIR": str(processed),
            "OBSERVATOIRE_PSEUDO_KEY": TEST_KEY, "PYTHONUNBUFFERED": "1"}


def run(raw: Path, processed: Path, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command(raw, "--quiet", *extra), env=environment(processed),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return done


def _foreground_sigint() -> None:
    """In the child before exec: SIGINT back to its default disposition, as in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def hashes(processed: Path) -> dict[str, str]:
    folder = processed / "warehouse"
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*.parquet"))}


def assert_usable(processed: Path) -> None:
    """The warehouse in force loads through the package and its DuckDB file opens."""
    manifest = load_manifest(processed)
    for name in manifest["tables"]:
        assert len(load_table(name, processed)) == manifest["tables"][name]
    acc = load_table("accounting", processed)
    assert (acc["read"] == acc["kept"] + acc["rejected"] + acc["merged"]).all()
    con = duckdb.connect(str(processed / "warehouse" / "observatoire.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from contracts").fetchone()[0] == \
            manifest["tables"]["contracts"]
    finally:
        con.close()


def change_raw(raw: Path) -> None:
    """Raw B: one more contract in a DECP file, one structure fewer."""
    path = sorted((raw / "decp").rglob("*.json"))[0]
    document = json.loads(path.read_text(encoding="utf-8-sig"))
    body = document["marches"]
    records = body["marche"] if isinstance(body, dict) else body
    extra = json.loads(json.dumps(next(r for r in records if isinstance(r, dict))))
    extra["id"] = f"{extra['id']}-INTERRUPTION"
    records.append(extra)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    structures = next((raw / "structures").glob("*.csv"))
    lines = structures.read_bytes().splitlines(keepends=True)
    structures.write_bytes(b"".join(lines[:-1]))


@pytest.fixture(scope="module")
def states(session_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("interruption")
    raw_a = generated_raw(session_dir)
    raw_b = root / "raw_b"
    shutil.copytree(raw_a, raw_b)
    change_raw(raw_b)
    started = time.perf_counter()
    run(raw_a, root / "a")
    seconds = time.perf_counter() - started
    run(raw_b, root / "b")
    a, b = hashes(root / "a"), hashes(root / "b")
    assert a != b
    return root, raw_a, raw_b, a, b, seconds


def test_killed_builds_leave_a_usable_warehouse_and_a_rerun_completes(states):
    root, _, raw_b, a, b, seconds = states
    processed = root / "killed"
    shutil.copytree(root / "a", processed, symlinks=True)
    rng = random.Random(SEED)
    moments = sorted(rng.uniform(0.3, seconds) for _ in range(KILLS))
    outcomes = []
    for moment in moments:
        extra = ("--no-cache",) if rng.random() < 0.5 else ()
        process = subprocess.Popen(command(raw_b, "--quiet", *extra), env=environment(processed),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert_usable(processed)
        now = hashes(processed)
        assert now in (a, b), f"killed after {moment:.1f} s: the warehouse is neither A nor B"
        outcomes.append("A" if now == a else "B")
    print(f"kills at {', '.join(f'{m:.1f}' for m in moments)} s (build {seconds:.1f} s): "
          f"warehouse in force {outcomes}")
    done = run(raw_b, processed)
    assert "gardés" in done.stdout
    assert hashes(processed) == b
    assert_usable(processed)
    # Staging folders of killed builds are left for the next build to prune; never in force.
    assert not (processed / "warehouse").resolve().name.startswith(".tmp-")


def test_ctrl_c_gives_a_short_french_message(states):
    root, raw_a, raw_b, a, _, _ = states
    processed = root / "interrupted"
    shutil.copytree(root / "a", processed, symlinks=True)
    # As from a terminal: SIGINT handled by default in the build, even when the test suite itself
    # runs where SIGINT is ignored (a background job of a non-interactive shell ignores it, and
    # its children inherit that: the build would never see the Ctrl-C).
    process = subprocess.Popen(command(raw_b, "--no-cache"), env=environment(processed),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_foreground_sigint)
    seen = ""
    deadline = time.monotonic() + 120
    while "DECP" not in seen and time.monotonic() < deadline:  # the build is reading inputs
        char = process.stderr.read(1)
        if not char:
            break
        seen += char
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    err = seen + err
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert "construction interrompue" in err and "entrepôt précédent" in err
    assert hashes(processed) == a
    assert_usable(processed)
    assert not list((processed / "builds").glob(".tmp-*"))  # Ctrl-C cleans its staging
