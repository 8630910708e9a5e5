"""Small statistical helpers shared by the indicators."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

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
    # The closed form leaves rounding dust at the edges (6.9e-18 for 0 successes): a bound must
    # never lie on the wrong side of its estimate.
    share = successes / safe
    low = np.where(trials > 0, np.minimum(np.where(successes <= 0, 0.0, low), share), np.nan)
    high = np.where(trials > 0, np.maximum(np.where(successes >= trials, 1.0, high), share),
                    np.nan)
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

    rows = frame.dropna(subset=[numerator, denominator, *by])
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


#: Fewer buyers than this in a group: the clustered interval rests on a noisy estimate of the
#: between-buyer variance (reports say so).
FEW_CLUSTERS = 20
#: Seed of every bootstrap, so that a report is byte-reproducible for the same inputs.
BOOTSTRAP_SEED = 20261207
#: Bootstrap replicates of an amount share.
BOOTSTRAP_REPLICATES = 999


def _cluster_codes(frame: pd.DataFrame, cluster: str) -> pd.Series:
    """The cluster of each row; a row with a missing cluster id is a cluster of its own."""
    ids = frame[cluster].astype("string")
    alone = "\x00ligne-" + pd.Series(np.arange(len(frame)), index=frame.index).astype("string")
    return ids.fillna(alone)


def _group_keys(frame: pd.DataFrame, by: list[str]) -> list:
    if by:
        return [frame[c] for c in by]
    return [pd.Series("ensemble", index=frame.index, name="_ensemble")]


def _quantile(level: float, clusters) -> np.ndarray:
    """Student quantile with G − 1 degrees of freedom (normal when there is a single cluster)."""
    from scipy.stats import norm, t

    clusters = np.asarray(clusters, dtype=float)
    z = float(norm.ppf(0.5 + level / 2))
    df = np.where(clusters >= 2, clusters - 1, 1.0)
    return np.where(clusters >= 2, t.ppf(0.5 + level / 2, df), z)


def _wilson(p, n, q):
    """Wilson bounds for a proportion ``p`` on ``n`` (possibly non-integer) trials, quantile ``q``."""
    n_safe = np.where(n > 0, n, 1.0)
    q2 = q * q
    centre = (p + q2 / (2 * n_safe)) / (1 + q2 / n_safe)
    half = q / (1 + q2 / n_safe) * np.sqrt(np.clip(p * (1 - p), 0, None) / n_safe
                                          + q2 / (4 * n_safe * n_safe))
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def clustered_share(frame: pd.DataFrame, flag: str, by: list[str] | tuple = (),
                    cluster: str = "acheteur_id",
                    level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Share of rows with ``flag`` by group, with an interval that treats ``cluster`` as the unit.

    Contracts of one buyer are not independent draws (one purchasing policy per buyer): the
    variance of the share is estimated with the buyers as primary sampling units (linearised
    ratio estimator, the « sandwich » of a cluster-robust variance, with the small-sample factor
    G / (G − 1)):

        p = Σ y_i / Σ m_i,   V = G / (G − 1) · Σ (y_i − p m_i)² / (Σ m_i)²

    over the G buyers i of the group (``m_i`` contracts, ``y_i`` with the flag). The design effect
    is ``deff = V / (p (1 − p) / n)``, floored at 1 (an estimate below 1 with few buyers is noise;
    the interval is never narrower than the one of independent draws). The interval is Wilson's
    on the effective sample size ``n / deff`` with the Student quantile at G − 1 degrees of
    freedom (Korn & Graubard 1998), so the bounds stay within [0, 1]. When each buyer has one
    contract it is Wilson's interval (deff ≈ 1, t ≈ z); with a single buyer the contracts are the
    units and it is exactly Wilson's.

    Parameters
    ----------
    frame
        One row per contract; rows whose ``flag`` is missing are left out.
    flag
        A boolean (or 0/1) column: the numerator.
    by
        Group columns (empty: one group). All groups are computed at once.
    cluster
        The cluster id column (the buyer); a missing id makes its row a cluster of its own.
    level
        Confidence level.

    Returns
    -------
    DataFrame
        Indexed by ``by`` (or a single row « ensemble »): ``effectif`` (rows with the flag),
        ``total`` (rows), ``part``, ``ic_bas``, ``ic_haut``, ``acheteurs`` (clusters), ``deff``
        (design effect used; 1 with a single cluster or a share of 0 or 1).
    """
    by = list(by)
    rows = frame.loc[frame[flag].notna()]
    rows = rows.dropna(subset=by) if by else rows
    y = rows[flag].astype(float)
    keys = _group_keys(rows, by)
    per_cluster = pd.DataFrame({"y": y, "m": 1.0}).groupby(
        [*keys, _cluster_codes(rows, cluster).rename("_grappe")], sort=True).sum()
    group_levels = list(range(per_cluster.index.nlevels - 1))
    sums = per_cluster.groupby(level=group_levels).agg(
        effectif=("y", "sum"), total=("m", "sum"), acheteurs=("m", "size"))
    p = sums["effectif"] / sums["total"]
    p_row = p.reindex(per_cluster.index.droplevel(-1)).to_numpy()
    resid = (per_cluster["y"].to_numpy() - p_row * per_cluster["m"].to_numpy()) ** 2
    ss = pd.Series(resid, index=per_cluster.index).groupby(level=group_levels).sum()
    g = sums["acheteurs"].astype(float)
    n = sums["total"]
    variance = np.where(g >= 2, g / (g - 1).where(g >= 2, 1.0) * ss / n ** 2, np.nan)
    binomial = p * (1 - p) / n
    deff = np.where((g >= 2) & (binomial > 0), variance / binomial.where(binomial > 0, 1.0), 1.0)
    deff = np.maximum(np.nan_to_num(deff, nan=1.0), 1.0)
    q = _quantile(level, g)
    low, high = _wilson(p.to_numpy(), (n / deff).to_numpy(), q)
    out = pd.DataFrame({"effectif": sums["effectif"].round().astype("int64"),
                        "total": n.round().astype("int64"), "part": p,
                        "ic_bas": low, "ic_haut": high,
                        "acheteurs": sums["acheteurs"].astype("int64"), "deff": deff},
                       index=sums.index)
    if not by:
        out.index = pd.Index(["ensemble"] * len(out))
    return out


def clustered_ratio(frame: pd.DataFrame, numerator: str, denominator: str,
                    by: list[str] | tuple = (), cluster: str = "acheteur_id",
                    level: float = config.CONFIDENCE_LEVEL,
                    replicates: int = BOOTSTRAP_REPLICATES,
                    seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """Σ numerator / Σ denominator by group, with a two-stage percentile bootstrap interval.

    Each replicate draws, within each group, as many buyers as the group has, with replacement,
    then for each buyer drawn as many of its contracts as it has, with replacement (two-stage
    bootstrap, Davison & Hinkley 1997, § 3.8): the interval reflects both the clustering of
    contracts by buyer and a group dominated by a few large contracts, stays within the range of
    the possible ratios (within [0, 1] for a share) and follows the skew of the amounts. With a
    single buyer it is the bootstrap of its contracts. The draws use a fixed seed and the rows are
    sorted first, so the same data give the same interval whatever their order.

    Parameters
    ----------
    frame
        One row per contract; rows with a missing numerator or denominator are left out.
    numerator, denominator
        Columns summed (the numerator is part of the denominator for a share).
    by
        Group columns (empty: one group).
    cluster
        The buyer id column; a missing id makes its row a cluster of its own.
    level, replicates, seed
        Confidence level, number of bootstrap replicates, seed of the generator.

    Returns
    -------
    DataFrame
        Indexed by ``by`` (or « ensemble »): ``numerateur, denominateur, ratio, ic_bas, ic_haut,
        lignes, acheteurs``. Bounds are missing for a group of fewer than 2 rows or a zero
        denominator.
    """
    return clustered_ratios(frame, [numerator], denominator, by, cluster=cluster, level=level,
                            replicates=replicates, seed=seed)[numerator]


def clustered_ratios(frame: pd.DataFrame, numerators: Sequence[str], denominator: str,
                     by: list[str] | tuple = (), cluster: str = "acheteur_id",
                     level: float = config.CONFIDENCE_LEVEL,
                     replicates: int = BOOTSTRAP_REPLICATES,
                     seed: int = BOOTSTRAP_SEED) -> dict[str, pd.DataFrame]:
    """:func:`clustered_ratio` for several numerators over the same denominator, from the same
    bootstrap draws (one resampling, one weighted count per numerator): the cost of one ratio for
    the shares of several parts of a whole (the value awarded to SIAE, to EA / ESAT, to both).

    Rows with any numerator, the denominator or a group missing are left out. With a single
    numerator the result is exactly :func:`clustered_ratio`'s.

    Returns
    -------
    dict
        ``{numerator: DataFrame}``, each as :func:`clustered_ratio` returns it.
    """
    by = list(by)
    numerators = list(numerators)
    rows = frame.dropna(subset=[*numerators, denominator, *by])
    ys = [f"_y{i}" for i in range(len(numerators))]
    work = pd.DataFrame({"_x": rows[denominator].astype(float).to_numpy(),
                         "_c": _cluster_codes(rows, cluster).to_numpy()})
    for name, column in zip(ys, numerators):
        work[name] = rows[column].astype(float).to_numpy()
    keys = _group_keys(rows, by)
    for i, key in enumerate(keys):
        work[f"_k{i}"] = key.to_numpy()
    key_cols = [f"_k{i}" for i in range(len(keys))]
    work = work.sort_values([*key_cols, "_c", "_x", *ys], kind="mergesort").reset_index(drop=True)
    grouped = work.groupby(key_cols, sort=True)
    base = pd.DataFrame({"denominateur": grouped["_x"].sum(), "lignes": grouped.size(),
                         "acheteurs": grouped["_c"].nunique()})
    n_groups = len(base)
    tables = {}
    for name in ys:
        sums = base.copy()
        sums.insert(0, "numerateur", grouped[name].sum())
        sums["ratio"] = sums["numerateur"] / sums["denominateur"].where(sums["denominateur"] > 0)
        tables[name] = sums
    bounds = {name: (np.full(n_groups, np.nan), np.full(n_groups, np.nan)) for name in ys}
    if n_groups and len(work):
        group_of_row = grouped.ngroup().to_numpy()
        cluster_id = work.groupby([*key_cols, "_c"], sort=True).ngroup().to_numpy()
        # clusters are contiguous (rows sorted by group, then cluster)
        starts = np.flatnonzero(np.r_[True, cluster_id[1:] != cluster_id[:-1]])
        sizes = np.diff(np.r_[starts, len(work)])
        cluster_group = group_of_row[starts]
        first_cluster = np.flatnonzero(np.r_[True, cluster_group[1:] != cluster_group[:-1]])
        clusters_in_group = np.diff(np.r_[first_cluster, len(starts)])
        slot_first = first_cluster[cluster_group]
        slot_count = clusters_in_group[cluster_group]
        x = work["_x"].to_numpy()
        y = {name: work[name].to_numpy() for name in ys}
        rng = np.random.default_rng(seed)
        ratios = {name: np.empty((replicates, n_groups)) for name in ys}
        chunk = max(1, min(replicates, 2_000_000 // max(len(work), 1)))
        for first in range(0, replicates, chunk):
            r = min(chunk, replicates - first)
            # stage 1: for each group, its number of buyers drawn among its buyers
            chosen = slot_first + np.floor(rng.random((r, len(starts))) * slot_count).astype(int)
            # stage 2: for each buyer drawn, its number of contracts drawn among its contracts
            counts = sizes[chosen].ravel()
            replicate = np.repeat(np.repeat(np.arange(r), len(starts)), counts)
            draw_start = np.repeat(starts[chosen].ravel(), counts)
            draw_size = np.repeat(counts, counts)
            picked = draw_start + np.floor(rng.random(len(draw_start)) * draw_size).astype(int)
            cell = replicate * n_groups + group_of_row[picked]
            den = np.bincount(cell, weights=x[picked], minlength=r * n_groups)
            den = np.where(den > 0, den, np.nan)
            for name in ys:
                num = np.bincount(cell, weights=y[name][picked], minlength=r * n_groups)
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratios[name][first:first + r] = (num / den).reshape(r, n_groups)
        alpha = (1 - level) / 2
        for name in ys:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                low = np.nanquantile(ratios[name], alpha, axis=0)
                high = np.nanquantile(ratios[name], 1 - alpha, axis=0)
            enough = (tables[name]["lignes"].to_numpy() >= 2) & tables[name]["ratio"].notna() \
                .to_numpy()
            bounds[name] = (np.where(enough, low, np.nan), np.where(enough, high, np.nan))
    out = {}
    for name, column in zip(ys, numerators):
        sums = tables[name]
        sums["ic_bas"], sums["ic_haut"] = bounds[name]
        if by:
            sums.index = sums.index.set_names(by)
        else:
            sums.index = pd.Index(["ensemble"] * n_groups)
        out[column] = sums[["numerateur", "denominateur", "ratio", "ic_bas", "ic_haut", "lignes",
                            "acheteurs"]]
    return out
