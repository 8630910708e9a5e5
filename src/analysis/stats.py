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


def ratio_of_sums(frame: pd.DataFrame, numerator: str, denominator: str, by: list[str],
                  level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Σ numerator / Σ denominator by group, with a linearised (delta-method) interval.

    Treats the rows as independent draws: the standard error of R = Σy/Σx is
    sqrt(Σ (y − R·x)²) / Σx. Rows with a missing numerator or denominator are left out.

    Returns
    -------
    DataFrame
        Indexed by ``by``: ``numerateur, denominateur, ratio, ic_bas, ic_haut, lignes``.
    """
    from scipy.stats import norm

    rows = frame.dropna(subset=[numerator, denominator])
    y, x = rows[numerator].astype(float), rows[denominator].astype(float)
    keys = [rows[c] for c in by]
    sums = pd.DataFrame({"numerateur": y.groupby(keys).sum(), "denominateur": x.groupby(keys).sum(),
                         "lignes": y.groupby(keys).size()})
    sums["ratio"] = sums["numerateur"] / sums["denominateur"].where(sums["denominateur"] > 0)
    r = pd.Series(sums["ratio"].reindex(pd.MultiIndex.from_frame(rows[by]) if len(by) > 1
                                        else rows[by[0]]).to_numpy(), index=rows.index)
    se = ((y - r * x) ** 2).groupby(keys).sum() ** 0.5 / sums["denominateur"]
    z = float(norm.ppf(0.5 + level / 2))
    sums["ic_bas"] = sums["ratio"] - z * se
    sums["ic_haut"] = sums["ratio"] + z * se
    return sums
