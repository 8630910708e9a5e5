"""Test settings: every output goes to temporary folders, never to data/processed or reports/.

The environment is set before any test runs, so the notebooks' kernels (child processes) inherit it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
import tempfile
from datetime import date
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="observatoire-tests-"))
os.environ["OBSERVATOIRE_RAW_DIR"] = str(_SESSION_DIR / "raw")
os.environ["OBSERVATOIRE_PROCESSED_DIR"] = str(_SESSION_DIR / "processed")
os.environ["OBSERVATOIRE_REPORTS_DIR"] = str(_SESSION_DIR / "reports")
os.environ["OBSERVATOIRE_CACHE_DIR"] = str(_SESSION_DIR / "cache")  # analysis.api's builds
# No national DECP unless a test gives one (a data/raw/national/ of the developer's would add the
# comparison of régions to every rendered suite): an empty folder.
(_SESSION_DIR / "national").mkdir()
os.environ["OBSERVATOIRE_NATIONAL_DECP"] = str(_SESSION_DIR / "national")
os.environ.setdefault("MPLBACKEND", "Agg")
# A chart that draws no data fails its report (analysis.config.strict_figures).
os.environ.setdefault("OBSERVATOIRE_STRICT_FIGURES", "1")

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
#: The official DECP examples, vendored (see fixtures/decp/official/README.md).
DECP_EXAMPLES = FIXTURES / "decp" / "official"
#: A fixed "today" so that date rules do not drift with the calendar.
TODAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _restore_suppression_threshold():
    """``open_report`` sets the threshold for its process (a kernel's): undo it after a test."""
    saved = {name: os.environ.get(name) for name in
             ("OBSERVATOIRE_SUPPRESSION_K", "OBSERVATOIRE_SUPPRESSION_K_FLOOR")}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def small_raw(session_dir: Path) -> Path:
    """A small synthetic data set (about 5 600 DECP contracts, 2019-2025), generated once."""
    from analysis.synthetic import generate

    raw = session_dir / "raw"
    generate(raw, seed=7, first_year=2019, last_year=2025, scale=0.05)
    return raw


@pytest.fixture(scope="session")
def small_warehouse(small_raw: Path, session_dir: Path):
    """The warehouse built from :func:`small_raw` in the session's processed folder."""
    from analysis.warehouse import build

    return build(raw=small_raw, processed=session_dir / "processed", today=TODAY)


#: Data sets on which the estimators must recover the generator's planted truths.
RECOVERY_SCALE = 0.3
RECOVERY_SEEDS = (20261123, 12345)  # the default seed and another


def recovery_sets(session_dir: Path) -> dict[int, tuple[Path, dict]]:
    """Generate and build each recovery seed's data set once per session; (processed, manifest).

    Shared by test_trend.py and test_employment.py: whichever runs first makes them. Seeds are
    generated, then built, side by side in worker processes.
    """
    from analysis.synthetic import generate
    from analysis.warehouse import build

    root = session_dir / "recovery"
    folders = {seed: root / f"seed-{seed}-scale-{RECOVERY_SCALE}" for seed in RECOVERY_SEEDS}
    missing = [seed for seed, folder in folders.items() if not (folder / "ready").is_file()]
    if missing:
        workers = max(1, min(len(missing), os.cpu_count() or 1))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [pool.submit(generate, folders[s] / "raw", seed=s, first_year=2019,
                                last_year=2025, scale=RECOVERY_SCALE) for s in missing]
            [job.result() for job in jobs]
            jobs = [pool.submit(build, raw=folders[s] / "raw", processed=folders[s] / "processed",
                                today=TODAY) for s in missing]
            [job.result() for job in jobs]
        for seed in missing:
            (folders[seed] / "ready").write_text("ok", encoding="utf-8")
    return {seed: (folder / "processed",
                   json.loads((folder / "raw" / "manifest.json").read_text(encoding="utf-8")))
            for seed, folder in folders.items()}


#: The report suite rendered once per session: the région's annual report, the six thematic
#: notebooks and the eight départements' sheets for a year; one sheet for a quarter.
SUITE_PERIOD = "2025"
SUITE_QUARTER = "2025-T2"


@pytest.fixture(scope="session")
def rendered_suite(small_warehouse):
    """``(summary of the yearly run, summary of the quarterly run)`` on the small warehouse."""
    from analysis import reporting

    yearly = reporting.render(period=SUITE_PERIOD, jobs=2, progress=False)
    quarterly = reporting.render(territories=["93"], period=SUITE_QUARTER, jobs=1,
                                 progress=False)
    return yearly, quarterly
