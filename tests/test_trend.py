"""The clause-progression model: hand-computed fixtures, then recovery of the planted DECP model.

Recovery: with the year as a factor plus buyer type, sector and département, the binomial GLM is
the generator's own model (``sources.decp.model``: logit P = alpha(year) + beta(buyer type) +
gamma(sector) + delta(département)). Effects are planted uncentred, so only differences are
identified: each estimated level is compared with its planted difference from the reference
level the table reports.

Level of the recovery intervals: the module checks ``N_CHECKS`` values (2 seeds × (6 years + 7
buyer types + 5 sectors + 7 départements + 3 shares of kinds)); at 95 % each, a correct pipeline
would see about 5 % of them miss. Each is checked at the Bonferroni level ``1 - 0.05 / N_CHECKS``
(family-wise error 5 % for the module); most 95 % intervals must still contain their truth, and
the standard errors must be small enough for the checks to have power.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from analysis import config
from analysis.indicators import trend as T
from analysis.stats import wilson_interval
from analysis.synthetic.decp import BUYER_TYPES, SECTORS
from analysis.warehouse import load_table
from conftest import RECOVERY_SEEDS as SEEDS, recovery_sets

# --- Hand-computed fixtures ----------------------------------------------------------------------

Z95 = 1.959963984540054


def cells_to_contracts(cells: list[tuple]) -> pd.DataFrame:
    """(annee, departement, acheteur, cpv, with, without) → one row per contract."""
    rows = []
    for year, dep, buyer, cpv, yes, no in cells:
        base = {"annee": year, "departement_execution": dep, "acheteur_categorie": buyer,
                "cpv_division": cpv}
        rows += [{**base, "has_social_consideration": True}] * yes
        rows += [{**base, "has_social_consideration": False}] * no
    frame = pd.DataFrame(rows)
    frame["has_social_consideration"] = frame["has_social_consideration"].astype("boolean")
    frame["annee"] = frame["annee"].astype("Int64")
    return frame


#: Two territories, two years: 75 goes from 10 % to 20 %, 93 from 30 % to 40 %.
TWO_BY_TWO = [(2020, "75", "Commune", "45", 100, 900), (2021, "75", "Commune", "45", 200, 800),
              (2020, "93", "Commune", "45", 300, 700), (2021, "93", "Commune", "45", 400, 600)]


def with_exclusions(frame: pd.DataFrame, sector: bool = False) -> pd.DataFrame:
    """The frame plus contracts the model must leave out (each with a value that would bias it);
    with ``sector``, one more without a CPV division (left out when the model adjusts for it)."""
    extra = pd.DataFrame({
        "annee": pd.array([2020, 2020, None, 2021], dtype="Int64"),
        "departement_execution": ["75", None, "75", "75"],
        "acheteur_categorie": ["Commune"] * 4,
        "cpv_division": ["45", "45", "45", None],
        "has_social_consideration": pd.array([None, True, True, True], dtype="boolean"),
    })
    return pd.concat([frame, extra if sector else extra.iloc[:3]], ignore_index=True)


#: The hand-computed fixtures are saturated (as many parameters as cells): statsmodels then warns
#: of « perfect prediction » and of a zero residual degree of freedom, which is expected here.
SATURATED = [
    pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.PerfectSeparationWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning"),
]


def saturated(test):
    for mark in SATURATED:
        test = mark(test)
    return test


@saturated
def test_saturated_linear_model_by_hand():
    contracts = with_exclusions(cells_to_contracts(TWO_BY_TWO))
    model = T.fit_clause_model(contracts)
    assert model.excluded == {"statut social inconnu": 1, "année inconnue": 1,
                              "territoire inconnu": 1}
    assert model.centre == pytest.approx(2020.5)
    trends = T.territory_trends(model).set_index("territoire")
    slope_75 = logit(0.2) - logit(0.1)
    slope_93 = logit(0.4) - logit(0.3)
    assert trends.loc["75", "pente"] == pytest.approx(slope_75, abs=1e-7)
    assert trends.loc["93", "pente"] == pytest.approx(slope_93, abs=1e-7)
    se = math.sqrt(1 / 100 + 1 / 900 + 1 / 200 + 1 / 800)  # Woolf, two independent years
    assert trends.loc["75", "se"] == pytest.approx(se, rel=1e-5)
    assert trends.loc["75", "ic_bas"] == pytest.approx(slope_75 - Z95 * se, rel=1e-5)
    assert trends.loc["75", "rapport_cotes_annuel"] == pytest.approx(
        (0.2 / 0.8) / (0.1 / 0.9), rel=1e-6)
    assert trends.loc["75", "marches"] == 2000
    coefs = T.coefficients(model).set_index("terme")
    centre_75 = (logit(0.1) + logit(0.2)) / 2
    assert coefs.loc["const", "coef"] == pytest.approx(centre_75, abs=1e-7)
    assert coefs.loc["territoire[93]", "coef"] == pytest.approx(
        (logit(0.3) + logit(0.4)) / 2 - centre_75, abs=1e-7)
    assert coefs.loc["territoire[93]", "reference"] == "75"
    assert coefs.loc["territoire[93]", "rapport_cotes"] == pytest.approx(
        math.exp(coefs.loc["territoire[93]", "coef"]))


def test_common_slope_and_factor_year():
    contracts = cells_to_contracts(TWO_BY_TWO)
    factor = T.fit_clause_model(contracts, year="facteur")
    coefs = T.coefficients(factor).set_index("terme")
    assert list(coefs.index) == ["const", "annee[2021]", "territoire[93]"]
    assert coefs.loc["annee[2021]", "reference"] == "2020"
    common = T.fit_clause_model(contracts, territory_slopes=False)
    trends = T.territory_trends(common)
    # one common slope: both territories carry it, equal to the factor model's year effect
    assert trends["pente"].nunique() == 1
    assert trends["pente"].iloc[0] == pytest.approx(coefs.loc["annee[2021]", "coef"], abs=1e-7)
    with pytest.raises(ValueError):
        T.territory_trends(factor)
    with pytest.raises(ValueError):
        T.fit_clause_model(contracts, year="quadratique")
    with pytest.raises(ValueError):
        T.fit_clause_model(contracts, adjust=("montant",))


def test_adjustment_terms_and_references():
    cells = [(2020, "75", "Commune", "45", 20, 80), (2020, "75", "Région", "45", 40, 60),
             (2021, "75", "Commune", "72", 5, 95), (2021, "75", "Région", "72", 30, 70),
             (2020, "93", "Commune", "72", 10, 90), (2021, "93", "Région", "45", 60, 40)]
    contracts = with_exclusions(cells_to_contracts(cells), sector=True)
    model = T.fit_clause_model(contracts, year="facteur",
                               adjust=("acheteur_categorie", "cpv_division"),
                               references={"cpv_division": "72"})
    assert model.excluded["secteur (division cpv) inconnu"] == 1
    assert model.references == {"territoire": "75", "annee": "2020",
                                "acheteur_categorie": "Commune", "cpv_division": "72"}
    coefs = T.coefficients(model)
    assert set(coefs["terme"]) == {"const", "annee[2021]", "territoire[93]",
                                   "acheteur_categorie[Région]", "cpv_division[45]"}
    assert coefs.set_index("terme").loc["cpv_division[45]", "reference"] == "72"


@saturated
def test_target_year_closed_form_and_interval():
    model = T.fit_clause_model(cells_to_contracts(TWO_BY_TWO))
    table = T.target_years(model, targets=(0.25, 0.30), horizon=2035, min_contracts=100,
                           draws=4000, seed=1).set_index(["territoire", "cible"])
    slope = logit(0.2) - logit(0.1)
    expected = 2021 + (logit(0.25) - logit(0.2)) / slope  # the fit is saturated: p(2021) = 0.2
    row = table.loc[("75", 0.25)]
    assert row["annee_cible"] == pytest.approx(expected, abs=1e-6)
    assert row["annee_atteinte"] == math.ceil(expected) == 2022
    assert row["part_ajustee"] == pytest.approx(0.2, abs=1e-7)
    assert row["ic_bas"] < expected < row["ic_haut"]
    # the bootstrap interval of a strong trend is close to the delta method's
    a = (logit(0.1) + logit(0.2)) / 2  # log-odds at the centre, 2020.5
    var_a = (1 / 100 + 1 / 900 + 1 / 200 + 1 / 800) / 4
    var_b = 1 / 100 + 1 / 900 + 1 / 200 + 1 / 800
    cov_ab = (-(1 / 100 + 1 / 900) + (1 / 200 + 1 / 800)) / 2
    gap = logit(0.25) - a
    grad = np.array([-1 / slope, -gap / slope ** 2])
    se = math.sqrt(grad @ np.array([[var_a, cov_ab], [cov_ab, var_b]]) @ grad)
    assert row["ic_haut"] - row["ic_bas"] == pytest.approx(2 * Z95 * se, rel=0.25)
    assert not row["extrapolation_fragile"] and row["avertissement"] == ""
    # 93 is already above 30 % in 2021 (40 %): reached in the past, said so, not flagged
    row = table.loc[("93", 0.30)]
    assert row["annee_cible"] == pytest.approx(2021 + (logit(0.3) - logit(0.4)) / (
        logit(0.4) - logit(0.3)), abs=1e-6)
    assert "déjà atteint" in row["avertissement"] and not row["extrapolation_fragile"]


@saturated
def test_target_year_warnings():
    cells = [  # 75 falls; 77 rises a little on few contracts; 78 rises slowly but surely
        (2020, "75", "Commune", "45", 150, 850), (2021, "75", "Commune", "45", 100, 900),
        (2020, "77", "Commune", "45", 10, 90), (2021, "77", "Commune", "45", 11, 89),
        (2020, "78", "Commune", "45", 4000, 36000), (2021, "78", "Commune", "45", 4220, 35780)]
    model = T.fit_clause_model(cells_to_contracts(cells))
    table = T.target_years(model, targets=(0.25,), horizon=2035, min_contracts=500,
                           draws=2000).set_index("territoire")
    falling = table.loc["75"]
    assert np.isnan(falling["annee_cible"]) and pd.isna(falling["annee_atteinte"])
    assert falling["extrapolation_fragile"]
    assert "tendance nulle ou à la baisse" in falling["avertissement"]
    assert np.isnan(falling["ic_haut"])  # never reached in most draws: open upper bound
    weak = table.loc["77"]
    assert weak["extrapolation_fragile"]
    assert "tendance non significative" in weak["avertissement"]
    assert "peu de marchés (200 < 500)" in weak["avertissement"]
    slow = table.loc["78"]
    assert slow["pente_ic_bas"] > 0 and slow["annee_cible"] > 2035
    assert "après l'horizon 2035" in slow["avertissement"] and slow["extrapolation_fragile"]
    assert "non significative" not in slow["avertissement"]


def test_kind_shares_by_hand():
    frame = pd.DataFrame({
        "annee": pd.array([2022, 2022, 2022, 2022, 2022, 2023], dtype="Int64"),
        "has_social_consideration": pd.array([True, True, True, False, None, True],
                                             dtype="boolean"),
        "clause_sociale": pd.array([True, True, False, False, None, True], dtype="boolean"),
        "critere_social": pd.array([True, False, False, False, None, False], dtype="boolean"),
        "marche_reserve": pd.array([False, False, True, False, None, False], dtype="boolean"),
        "acheteur_id": "A",  # one buyer: its contracts are the units (Wilson)
    })
    table = T.kind_shares(frame).set_index(["annee", "type"])
    row = table.loc[(2022, "clause_sociale")]
    assert (row["marches"], row["effectif"]) == (4, 2)  # the unknown status is excluded
    assert row["part"] == pytest.approx(0.5)
    assert (row["ic_bas"], row["ic_haut"]) == pytest.approx(wilson_interval(2, 4))
    assert table.loc[(2022, "critere_social"), "effectif"] == 1
    assert table.loc[(2023, "marche_reserve"), "part"] == 0
    among = T.kind_shares(frame, by=(), among="avec_consideration").set_index("type")
    assert among["marches"].unique().tolist() == [4]
    assert among["effectif"].tolist() == [3, 1, 1]  # kinds combine: 5 for 4 contracts
    with pytest.raises(ValueError):
        T.kind_shares(frame, among="tous")


# --- Recovery of the planted truths --------------------------------------------------------------

#: Values checked per seed: 6 year levels, 7 buyer types, 5 sectors, 7 départements, 3 kinds.
N_PER_SEED = 6 + 7 + 5 + 7 + 3
N_CHECKS = len(SEEDS) * N_PER_SEED
#: Per-check level (Bonferroni): family-wise error 5 % over the module.
LEVEL = 1 - 0.05 / N_CHECKS
MIN_COVERAGE_95 = 0.80
MAX_SE = 0.12
BUYER_OF_LABEL = {label: key for key, (label, _, _) in BUYER_TYPES.items()}
SECTOR_OF_DIVISION = {cpv[:2]: key for key, (cpv, *_rest) in SECTORS.items()}


def planted_difference(model: dict, variable: str, level: str, reference: str) -> float:
    """The planted log-odds difference of ``level`` from ``reference`` for a model term."""
    if variable == "annee":
        years = model["year_level_logit"]
        return years[level] - years[reference]
    if variable == "acheteur_categorie":
        effects = model["buyer_type_effects"]
        return effects[BUYER_OF_LABEL[level]] - effects[BUYER_OF_LABEL[reference]]
    if variable == "cpv_division":
        effects = model["sector_effects"]
        return effects[SECTOR_OF_DIVISION[level]] - effects[SECTOR_OF_DIVISION[reference]]
    if variable == "territoire":
        effects = model["departement_effects"]
        return effects[level] - effects[reference]
    raise KeyError(variable)


def kind_truth(planted: dict) -> dict[str, float]:
    """Planted share of each kind among contracts with a consideration, as the manifest states it
    (kinds are drawn independently and a contract that draws none gets a clause)."""
    expected = planted["kind_expected_shares_given_social"]
    return {"clause_sociale": expected["Clause sociale"], "critere_social": expected["Critère social"],
            "marche_reserve": expected["Marché réservé"]}


@pytest.fixture(scope="module")
def recovered(session_dir):
    """Per seed: (estimate, low, high, se, truth) of every checked value, and the contracts."""
    out = {}
    for seed, (processed, manifest) in recovery_sets(session_dir).items():
        contracts = load_table("contracts", processed)
        planted = manifest["sources"]["decp"]["model"]
        model = T.fit_clause_model(contracts, year="facteur", territory_slopes=False,
                                   adjust=("acheteur_categorie", "cpv_division"))
        rows = []
        for _, row in T.coefficients(model, level=LEVEL).iterrows():
            if row["variable"] == "const":
                continue
            truth = planted_difference(planted, row["variable"], row["niveau"], row["reference"])
            rows.append({"valeur": row["terme"], "estime": row["coef"], "bas": row["ic_bas"],
                         "haut": row["ic_haut"], "se": row["se"], "vrai": truth})
        kinds = T.kind_shares(contracts, by=(), among="avec_consideration", level=LEVEL)
        truths = kind_truth(planted)
        for _, row in kinds.iterrows():
            p, n = row["part"], row["marches"]
            rows.append({"valeur": row["type"], "estime": p, "bas": row["ic_bas"],
                         "haut": row["ic_haut"], "se": math.sqrt(p * (1 - p) / n),
                         "vrai": truths[row["type"]]})
        out[seed] = {"checks": pd.DataFrame(rows), "contracts": contracts, "model": model}
    return out


def test_every_planted_term_is_checked(recovered):
    for seed, result in recovered.items():
        checks = result["checks"]
        assert len(checks) == N_PER_SEED, seed
        assert result["model"].references["territoire"] == "75"


def test_planted_effects_lie_in_the_intervals(recovered):
    misses = []
    for seed, result in recovered.items():
        for _, row in result["checks"].iterrows():
            if not row["bas"] <= row["vrai"] <= row["haut"]:
                misses.append(f"{seed} {row['valeur']}: {row['vrai']:+.3f} hors de "
                              f"[{row['bas']:+.3f}, {row['haut']:+.3f}] "
                              f"(estimé {row['estime']:+.3f})")
    assert not misses, "\n".join(misses)


def test_most_95_percent_intervals_cover_and_the_checks_have_power(recovered):
    checks = pd.concat([r["checks"] for r in recovered.values()])
    covered = (checks["estime"] - checks["vrai"]).abs() <= Z95 * checks["se"]
    assert covered.mean() >= MIN_COVERAGE_95
    assert (checks["se"] < MAX_SE).all()


def test_linear_trend_and_projection_on_the_synthetic_data(recovered):
    result = recovered[config.DEFAULT_SEED]
    model = T.fit_clause_model(result["contracts"],
                               adjust=("acheteur_categorie", "cpv_division"))
    trends = T.territory_trends(model)
    assert len(trends) == 8 and (trends["ic_bas"] > 0).all()  # every département rises
    table = T.target_years(model, draws=500)
    assert len(table) == 16 and set(table["cible"]) == set(T.TARGETS)
    projected = table.dropna(subset=["annee_cible"])
    assert ((projected["ic_bas"] <= projected["annee_cible"])
            & (projected["annee_cible"] <= projected["ic_haut"])).all()
    # a share fitted on the whole period reaches 30 % later than 25 %
    wide = table.pivot(index="territoire", columns="cible", values="annee_cible")
    assert (wide[0.30] > wide[0.25]).all()
    # the fitted share of the last year is close to the observed one, territory by territory
    contracts = result["contracts"]
    last = contracts[(contracts["annee"] == 2025)
                     & contracts["has_social_consideration"].notna()]
    observed = last.groupby("departement_execution")["has_social_consideration"].mean()
    fitted = table.drop_duplicates("territoire").set_index("territoire")["part_ajustee"]
    assert (fitted - observed.reindex(fitted.index)).abs().max() < 0.05
