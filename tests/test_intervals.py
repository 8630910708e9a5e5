"""Intervals of shares of contracts that account for the clustering of contracts by buyer, and
amount shares that respect [0, 1] and the skew of the amounts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import config
from analysis.indicators import progression
from analysis import stats
from analysis.stats import wilson_interval


def simulated(n_sims: int, buyers: int, per_buyer: int, spread: float, mean: float = 0.3,
              seed: int = 7) -> pd.DataFrame:
    """``n_sims`` samples of ``buyers`` buyers with ``per_buyer`` contracts each; each buyer's
    probability drawn from a Beta of mean ``mean`` (``spread`` = 0: every buyer at ``mean``)."""
    rng = np.random.default_rng(seed)
    if spread > 0:
        a, b = mean / spread, (1 - mean) / spread
        p = rng.beta(a, b, size=(n_sims, buyers))
    else:
        p = np.full((n_sims, buyers), mean)
    flags = rng.random((n_sims, buyers, per_buyer)) < p[:, :, None]
    sims, buyer, _ = np.indices(flags.shape)
    return pd.DataFrame({"sim": sims.ravel(), "acheteur_id": (buyer.ravel()).astype(str),
                         "f": flags.ravel().astype(float)})


def coverage(table: pd.DataFrame, truth: float) -> float:
    return float(((table["ic_bas"] <= truth) & (truth <= table["ic_haut"])).mean())


def test_one_contract_per_buyer_is_about_wilson():
    frame = simulated(1, 400, 1, spread=0.0)
    frame["acheteur_id"] = [f"b{i}" for i in range(len(frame))]
    row = stats.clustered_share(frame, "f").iloc[0]
    low, high = wilson_interval(row["effectif"], row["total"])
    assert row["acheteurs"] == 400 and row["deff"] == pytest.approx(1.0, abs=0.05)
    assert (row["ic_bas"], row["ic_haut"]) == pytest.approx((low, high), abs=0.002)


def test_a_single_buyer_gives_exactly_wilson():
    frame = pd.DataFrame({"acheteur_id": "A", "f": [1.0, 1.0, 0.0, 0.0, 0.0]})
    row = stats.clustered_share(frame, "f").iloc[0]
    assert (row["ic_bas"], row["ic_haut"]) == pytest.approx(wilson_interval(2, 5), abs=1e-12)


def test_clustered_buyers_widen_the_interval_and_keep_coverage():
    """300 samples of 30 buyers × 40 contracts whose policies differ: Wilson, treating the 1 200
    contracts as independent, misses the truth far more often than 5 %; the clustered interval
    keeps close to its 95 %."""
    frame = simulated(300, 30, 40, spread=0.15)
    table = stats.clustered_share(frame, "f", ["sim"])        # all samples at once
    low, high = wilson_interval(table["effectif"], table["total"])
    wilson = pd.DataFrame({"ic_bas": low, "ic_haut": high}, index=table.index)
    assert (table["deff"] > 2).mean() > 0.9
    assert ((table["ic_haut"] - table["ic_bas"]) > (high - low)).all()
    assert coverage(wilson, 0.3) < 0.75
    assert coverage(table, 0.3) >= 0.90
    assert table[["ic_bas", "ic_haut"]].stack().between(0, 1).all()


def test_independent_contracts_keep_wilson_coverage():
    frame = simulated(300, 30, 40, spread=0.0, seed=11)
    table = stats.clustered_share(frame, "f", ["sim"])
    assert table["deff"].median() < 1.2
    assert coverage(table, 0.3) >= 0.92


def test_missing_buyer_is_a_cluster_of_its_own():
    frame = pd.DataFrame({"acheteur_id": [None, None, "A", "A"], "f": [1.0, 0.0, 1.0, 1.0]})
    assert stats.clustered_share(frame, "f").iloc[0]["acheteurs"] == 3


def clustered_contracts() -> pd.DataFrame:
    """Six buyers of a year: three all with a consideration, three all without."""
    rows = []
    for buyer, flag in zip("ABCDEF", [True, True, True, False, False, False]):
        rows += [(2025, "75", "11", flag, flag, False, False, buyer)] * 20
    frame = pd.DataFrame(rows, columns=["annee", "departement_execution", "region_execution",
                                        "has_social_consideration", "clause_sociale",
                                        "critere_social", "marche_reserve", "acheteur_id"])
    for col in ["has_social_consideration", "clause_sociale", "critere_social", "marche_reserve"]:
        frame[col] = frame[col].astype("boolean")
    frame["annee"] = frame["annee"].astype("Int64")
    frame["montant"] = 100_000.0
    return frame


def test_published_shares_of_contracts_are_clustered():
    frame = clustered_contracts()
    wilson_low, wilson_high = wilson_interval(60, 120)
    yearly = progression.share_by_year(frame, 2025, 2025).iloc[0]
    by = progression.share_by(frame, ["departement_execution"]).iloc[0]
    for row in (yearly, by):
        assert row["acheteurs"] == 6
        assert row["ic_bas"] < wilson_low - 0.1 and row["ic_haut"] > wilson_high + 0.1


def dominated(seed: int = 3) -> pd.DataFrame:
    """A group dominated by one contract: 29 contracts of 1 M€ with a consideration (5 buyers),
    one of 300 M€ without."""
    frame = clustered_contracts().iloc[:30].copy()
    frame["acheteur_id"] = [f"b{i % 5}" for i in range(29)] + ["SGP"]
    frame["has_social_consideration"] = pd.array([True] * 29 + [False], dtype="boolean")
    frame["montant"] = [1e6] * 29 + [300e6]
    return frame


def test_amount_share_of_a_dominated_group_stays_in_bounds():
    table = progression.share_by(dominated(), ["departement_execution"]).iloc[0]
    assert table["part_montant"] == pytest.approx(29 / 329)
    assert 0 < table["ic_montant_bas"] <= table["part_montant"] <= table["ic_montant_haut"] <= 1
    # without the dominating contract the share would be 100 %: the interval reaches far up
    assert table["ic_montant_haut"] > 0.5


def test_amount_share_covers_the_truth_under_skewed_amounts():
    """400 samples of 8 buyers × 5 contracts, log-normal amounts (σ = 2: a few contracts dominate
    each sample); a consideration with probability 0.4 whatever the amount, so the amount share of
    the population is 0.4."""
    rng = np.random.default_rng(5)
    n_sims, buyers, per = 400, 8, 5
    size = n_sims * buyers * per
    frame = pd.DataFrame({"sim": np.repeat(np.arange(n_sims), buyers * per),
                          "acheteur_id": np.tile(np.repeat(np.arange(buyers), per), n_sims)
                          .astype(str),
                          "montant": rng.lognormal(11, 2, size)})
    frame["avec"] = frame["montant"].where(rng.random(size) < 0.4, 0.0)
    table = stats.clustered_ratio(frame, "avec", "montant", ["sim"], replicates=499)
    assert table[["ic_bas", "ic_haut"]].stack().between(0, 1).all()
    assert coverage(table, 0.4) >= 0.88


def test_bootstrap_is_reproducible_whatever_the_row_order():
    frame = dominated()
    first = stats.clustered_ratio(frame.assign(w=frame["montant"].where(
        frame["has_social_consideration"].astype(bool), 0.0)), "w", "montant")
    shuffled = frame.sample(frac=1, random_state=1)
    second = stats.clustered_ratio(shuffled.assign(w=shuffled["montant"].where(
        shuffled["has_social_consideration"].astype(bool), 0.0)), "w", "montant")
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize("low, high, expected", [(0.31, 0.40, "au-dessus"),
                                                 (0.20, 0.29, "en dessous"),
                                                 (0.187, 0.327, "compatible")])
def test_target_position_follows_the_interval(low, high, expected):
    assert progression.target_position(low, high, 0.30) == expected


def test_oecp_floors_live_in_config():
    assert config.oecp_floor(2019) == 90_000 and config.oecp_floor(2023) == 90_000
    assert config.oecp_floor(2024) == 40_000 and config.oecp_floor(2025) == 40_000


def test_comparable_basis_uses_the_floor_and_year():
    frame = clustered_contracts()
    frame = pd.concat([frame.assign(annee=2023), frame.assign(annee=2024)], ignore_index=True)
    frame["annee"] = frame["annee"].astype("Int64")
    # small contracts carry the clauses, large ones do not
    frame["montant"] = np.where(frame["has_social_consideration"].astype(bool), 50_000.0,
                                120_000.0)
    frame["montant_initial"] = frame["montant"]
    table = progression.comparable_shares(frame, [2023, 2024]).set_index("annee")
    assert table.loc[2023, "plancher"] == 90_000 and table.loc[2023, "contrats"] == 60
    assert table.loc[2023, "part"] == 0.0                    # 50 k€ contracts are below 90 k€
    assert table.loc[2024, "plancher"] == 40_000 and table.loc[2024, "contrats"] == 120
    assert table.loc[2024, "part"] == pytest.approx(0.5)
    # the initial amount decides; the current amount only when the initial one is missing
    frame.loc[frame["annee"].eq(2023) & frame["has_social_consideration"].astype(bool),
              "montant_initial"] = np.nan
    frame.loc[frame["annee"].eq(2023), "montant"] = 95_000.0
    assert progression.comparable_share(frame, 2023)["contrats"] == 120


def test_territories_compared_get_their_clustered_interval_at_once():
    paris = clustered_contracts()
    essonne = clustered_contracts().assign(departement_execution="91")
    essonne["acheteur_id"] = essonne["acheteur_id"] + "91"
    region_level = clustered_contracts().iloc[:5].assign(departement_execution=None)
    frame = pd.concat([paris, essonne, region_level], ignore_index=True)
    codes = ["11", "75", "91", "77"]
    low, high = progression.territory_intervals(frame, codes)
    for i, code in enumerate(codes[:3]):
        alone = progression.share_by_year(progression.in_territory(frame, code), 2025, 2025)
        assert (low[i], high[i]) == pytest.approx(
            (alone["ic_bas"].iloc[0], alone["ic_haut"].iloc[0]))
    assert np.isnan(low[3]) and np.isnan(high[3])            # no contract in Seine-et-Marne
    assert low[1] < wilson_interval(60, 120)[0] - 0.1


def test_wilson_bounds_never_cross_their_estimate():
    """0 of 50 gave a lower bound of 6.9e-18 above the share of 0 (and a chart's error bar of
    negative length): bounds sit on their side of the estimate, exactly 0 and 1 at the edges."""
    from analysis.stats import wilson_interval

    successes = np.array([0, 0, 3, 50, 7, 1])
    trials = np.array([50, 1, 50, 50, 7, 3])
    low, high = wilson_interval(successes, trials)
    share = successes / trials
    assert (low <= share).all() and (high >= share).all()
    assert low[0] == 0.0 and low[1] == 0.0 and high[3] == 1.0 and high[4] == 1.0
    assert wilson_interval(0, 50)[0] == 0.0
