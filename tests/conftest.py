"""Test settings: every output goes to temporary folders, never to data/processed or reports/.

The environment is set before any test runs, so the notebooks' kernels (child processes) inherit it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="observatoire-tests-"))
os.environ["OBSERVATOIRE_RAW_DIR"] = str(_SESSION_DIR / "raw")
os.environ["OBSERVATOIRE_PROCESSED_DIR"] = str(_SESSION_DIR / "processed")
os.environ["OBSERVATOIRE_REPORTS_DIR"] = str(_SESSION_DIR / "reports")
os.environ.setdefault("MPLBACKEND", "Agg")

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
#: The official DECP examples, vendored (see fixtures/decp/official/README.md).
DECP_EXAMPLES = FIXTURES / "decp" / "official"
#: A fixed "today" so that date rules do not drift with the calendar.
TODAY = date(2026, 11, 23)


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
