"""Small statistical helpers shared by the indicators."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from . import config


def wilson_interval(successes, trials, level: float = config.CONFIDENCE_LEVEL):
    """Wilson score interval of a binomial proportion, vectorised.

    Parameters
    ----------
    successes, trials
        Counts (scalars or array-likes of the same length). Where ``trials`` is 0 the bounds are NaN.
    level
        Confidence level (default 0.95).

    Returns
    -------
    tuple of (lower, upper)
        Arrays (or floats) of the interval bounds, in [0, 1].
    """
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    safe = np.where(trials > 0, trials, 1.0)
    low, high = proportion_confint(successes, safe, alpha=1 - level, method="wilson")
    low = np.where(trials > 0, low, np.nan)
    high = np.where(trials > 0, high, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def share(successes: pd.Series, trials: pd.Series) -> pd.Series:
    """successes / trials, NaN where there is no trial."""
    trials = trials.astype(float)
    return successes.astype(float) / trials.where(trials > 0)
