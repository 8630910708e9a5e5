"""Synthetic data that looks and behaves like the observatory's real inputs, with known truths."""

from __future__ import annotations

from pathlib import Path

from .. import config
from . import decp


def generate(out: Path | None = None, seed: int = config.DEFAULT_SEED,
             first_year: int = config.DEFAULT_FIRST_YEAR,
             last_year: int = config.DEFAULT_LAST_YEAR, scale: float = 1.0) -> dict:
    """Generate the default data set into ``out`` (default: ``data/raw/synthetic``).

    Returns the manifest of what was generated.
    """
    out = Path(out or config.paths().synthetic)
    out.mkdir(parents=True, exist_ok=True)
    return {"decp": decp.generate(out, seed=seed, first_year=first_year, last_year=last_year,
                                  scale=scale)}
