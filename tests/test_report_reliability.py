"""Report runs: interrupted, concurrent or repeated, they never leave a broken or different report.

Each test renders one small notebook (the clause progression of Seine-Saint-Denis) through the
real command, ``observatoire report``, in a folder of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import config

pytestmark = pytest.mark.slow

COMMAND = [str(Path(sys.executable).parent / "observatoire"), "report", "--territory", "93",
           "--report", "progression_clauses", "--period", "2024", "--quiet", "--jobs", "1"]


def _env(reports: Path) -> dict:
    return {**os.environ, "OBSERVATOIRE_REPORTS_DIR": str(reports)}


def _run(reports: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(COMMAND + list(extra), env=_env(reports), capture_output=True,
                          text=True, timeout=600)


def _published(reports: Path) -> dict[str, str]:
    """SHA-256 of every published file (HTML, tables), by path relative to ``reports``."""
    folder = reports / "2024" / "93"
    files = [folder / "progression_clauses.html",
             *sorted((folder / "progression_clauses_tableaux").glob("*"))]
    return {str(p.relative_to(reports)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _figures(reports: Path) -> list:
    record = json.loads((reports / "2024" / "93" / "progression_clauses.json").read_text("utf-8"))
    return record["key_figures"]


@pytest.fixture(scope="module")
def first_run(small_warehouse, tmp_path_factory):
    reports = tmp_path_factory.mktemp("rapports")
    done = _run(reports)
    assert done.returncode == 0, done.stderr
    return reports, _published(reports), _figures(reports)


def test_same_inputs_give_byte_identical_reports(first_run, tmp_path):
    reports, published, figures = first_run
    again = tmp_path / "rapports"
    done = _run(again)
    assert done.returncode == 0, done.stderr
    assert _published(again) == published  # HTML, CSV and XLSX, byte for byte
    assert _figures(again) == figures
    record = json.loads((again / "2024" / "93" / "progression_clauses.json").read_text("utf-8"))
    # The report says which inputs it was made from: one digest per source of the warehouse.
    assert set(record["warehouse"]["sources"]) >= {"decp", "tracking"}
    assert all(len(v["sha256"]) == 64 for v in record["warehouse"]["sources"].values())


def test_interrupted_runs_leave_the_previous_report_usable(first_run, tmp_path):
    reports, published, figures = first_run
    target = tmp_path / "rapports"
    assert _run(target).returncode == 0
    before = _published(target)
    rng = random.Random(20261123)
    for _ in range(3):
        process = subprocess.Popen(COMMAND + ["--force"], env=_env(target),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        time.sleep(rng.uniform(0.5, 12.0))
        os.killpg(process.pid, signal.SIGKILL)  # the kernel and every child with it
        process.wait()
        # Whatever the moment, the report on disk is complete and the same as before.
        assert _published(target) == before
        html = (target / "2024" / "93" / "progression_clauses.html").read_text("utf-8")
        assert html.rstrip().endswith("</html>")
    done = _run(target, "--force")
    assert done.returncode == 0, done.stderr
    assert _published(target) == before
    staging = target / "_staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_two_runs_at_once_do_not_corrupt_the_reports(first_run, tmp_path):
    reports, published, figures = first_run
    target = tmp_path / "rapports"
    runs = [subprocess.Popen(COMMAND + ["--force"], env=_env(target), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outcomes
    assert _published(target) == published
    assert _figures(target) == figures
    index = (target / "index.html").read_text("utf-8")
    # listed once: in its territory's card and in its period's table, no more
    assert index.count('href="2024/93/progression_clauses.html"') == 2


def test_no_personal_data_nor_key_in_reports(first_run, rendered_suite, small_raw):
    """Raw participant ids and full names of the inputs, and the pseudonymisation key, appear in
    no report output: HTML, tables, records, executed notebooks (the reports' logs)."""
    import zipfile

    from analysis import privacy
    from corpus import personal_data
    from test_privacy_scan import find, key_forms

    ids, names, _ = personal_data(small_raw)
    assert ids and names
    key, _ = privacy.get_key(small_raw)
    texts = {}
    for root in (config.paths().reports, first_run[0]):
        for path in root.rglob("*"):
            if not path.is_file() or path.suffix not in {".html", ".csv", ".xlsx", ".json",
                                                         ".ipynb"}:
                continue
            data = path.read_bytes()
            if path.suffix == ".xlsx":
                with zipfile.ZipFile(path) as archive:
                    data = b"".join(archive.read(n) for n in archive.namelist())
            texts[str(path)] = data.decode("utf-8", errors="ignore")
    assert len(texts) > 50 and any(p.endswith(".ipynb") for p in texts)
    assert find(ids | names, texts) == {}
    forms = key_forms(key.decode("utf-8"))
    assert {p: f for p, t in texts.items() for f in forms if f in t} == {}
