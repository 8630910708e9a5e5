"""Clause progression model: the trend of the share of contracts with a social consideration.

Definition (``docs/indicators.md``, « Tendance des clauses sociales »): a binomial GLM (logit
link) of ``has_social_consideration`` over contracts whose social status is known, on the notification
year (numeric and centred, or a factor), the territory (département of execution) and optionally
the buyer type (``acheteur_categorie``) and the sector (``cpv_division``). With a numeric year and
one slope per territory, the model gives each territory's yearly log-odds trend, and the first
calendar year its fitted share would reach a target (25 %, 30 %) if the trend went on.

Yearly shares scatter around a straight line far more than binomial sampling allows (a year's
policy moves every contract of that year): the model is quasi-binomial by default, its covariance
scaled by the Pearson dispersion (χ² / residual degrees of freedom, at least 1) and its intervals
taken from Student's t on the residual degrees of freedom. :func:`fit_check` says how well the
straight line describes the series (dispersion, goodness of fit, test against one level per year,
fitted against observed share of the last year); :func:`target_years` gives the target year and
its interval in whole calendar years, the interval from the scaled model's confidence band of the
fitted share, « non déterminable » when unbounded.

Also the share of each kind of consideration (clause, criterion, reservation) with intervals
clustered by buyer, which ``progression.py`` only counts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning
from scipy import stats as sps
from scipy.special import expit, logit

from .. import config
from ..stats import clustered_share, wilson_interval

#: Kinds of social consideration (boolean columns of ``contracts``) and their French labels.
KINDS = {"clause_sociale": "Clause sociale", "critere_social": "Critère social",
         "marche_reserve": "Marché réservé"}
#: Adjustment terms that can enter the model, with their French labels.
ADJUSTMENTS = {"acheteur_categorie": "Type d'acheteur", "cpv_division": "Secteur (division CPV)"}
#: The default reference territory is the région's first département
#: (:func:`analysis.config.reference_departement`; Paris in Île-de-France).
#: Targets of the national plans: 25 % in 2020 (plan 2015-2020), 30 % in 2025 (plan 2022-2025).
TARGETS = (0.25, 0.30)
#: Projections later than this year are flagged as weak.
HORIZON = 2035
#: A territory with fewer known-status contracts than this is flagged as weak.
MIN_CONTRACTS = 500
#: Projections are searched up to this year; beyond, the target counts as never reached.
SEARCH_LIMIT = 2200
#: How the binomial variance is scaled: ``quasi`` (Pearson dispersion, at least 1) or ``binomial``.
DISPERSIONS = ("quasi", "binomial")
#: What a bound that cannot be given is published as.
UNDETERMINED = "non déterminable"
#: The model's verdict on the straight line, said once above a table rather than on each row.
LINE_VERDICT = "la droite ne décrit pas"


def reached_year_text(years: pd.Series) -> pd.Series:
    """The projected year of reaching the target as published: the year, or « non déterminable »."""
    return years.map(lambda y: UNDETERMINED if pd.isna(y) else str(int(y)))


def unit_warnings(warnings: pd.Series, labels) -> list[str]:
    """Each unit's own warnings (``avertissement``, « ; »-separated) as sentences « label : … . »,
    the verdict on the straight line left out (it is said once, above the table)."""
    out = []
    for text, label in zip(warnings, labels):
        own = [w for w in str(text).split(" ; ") if w and LINE_VERDICT not in w]
        if own:
            out.append(f"{label} : {' ; '.join(own)}.")
    return out

#: Column names of the published tables, in French as reviewers read them.
COLUMNS_FR = {
    "terme": "Terme",
    "variable": "Variable",
    "niveau": "Modalité",
    "reference": "Référence",
    "coef": "Coefficient (log-odds)",
    "se": "Erreur type",
    "ic_bas": "IC bas",
    "ic_haut": "IC haut",
    "rapport_cotes": "Rapport de cotes",
    "rc_ic_bas": "Rapport de cotes : IC bas",
    "rc_ic_haut": "Rapport de cotes : IC haut",
    "p_valeur": "p-valeur",
    "territoire": "Territoire",
    "marches": "Marchés (statut connu)",
    "pente": "Tendance annuelle (log-odds par an)",
    "dispersion": "Dispersion appliquée",
    "rapport_cotes_annuel": "Rapport de cotes annuel",
    "cible": "Objectif",
    "part_ajustee": "Part ajustée (dernière année)",
    "annee_cible": "Croisement de l'objectif (année fractionnaire, non publiée)",
    "annee_atteinte": "Première année civile à l'objectif",
    "intervalle": "Intervalle (années)",
    "part_observee": "Part observée (dernière année)",
    "part_observee_ic_bas": "Part observée : IC bas",
    "part_observee_ic_haut": "Part observée : IC haut",
    "part_ajustee_marches": "Part ajustée des marchés de la dernière année",
    "hors_intervalle": "Part ajustée hors de l'IC observé",
    "extrapolation_fragile": "Extrapolation fragile",
    "avertissement": "Avertissement",
    "type": "Type de considération",
    "libelle": "Libellé",
    "effectif": "Marchés de ce type",
    "part": "Part",
}


@dataclass
class ClauseModel:
    """A fitted clause-progression model and what is needed to read it.

    Attributes
    ----------
    result
        The statsmodels GLM results (binomial, logit link) on cells of identical covariates.
    columns
        Names of the design columns (see :func:`coefficients` for how to read them).
    year
        ``"lineaire"`` (numeric year, centred on ``centre``) or ``"facteur"``.
    centre
        The centring year of the numeric year (mean notification year of the contracts).
    territory_slopes
        With a numeric year: one slope per territory (``True``) or one common slope.
    references
        Reference level of each categorical term (``annee`` for a factor year, ``territoire``,
        and the adjustment columns).
    cells
        The fitted cells: ``annee, territoire`` and the adjustment columns, ``marches`` (known
        status) and ``avec_consideration``.
    adjust
        The adjustment columns.
    years
        First and last notification years in the fit.
    excluded
        Contracts left out, by reason (French).
    dispersion_method
        ``"quasi"`` (covariance scaled by the Pearson dispersion) or ``"binomial"`` (scale 1).
    pearson_dispersion
        Pearson χ² over the residual degrees of freedom of the binomial fit (NaN when there is
        none: a saturated model).
    dispersion
        The scale applied to the binomial covariance: ``max(1, pearson_dispersion)`` for
        ``quasi`` (1 when it cannot be estimated), 1 for ``binomial``.
    """

    result: object
    columns: list[str]
    year: str
    centre: float
    territory_slopes: bool
    references: dict[str, str]
    cells: pd.DataFrame
    adjust: tuple[str, ...]
    years: tuple[int, int]
    excluded: dict[str, int] = field(default_factory=dict)
    dispersion_method: str = "binomial"
    pearson_dispersion: float = float("nan")
    dispersion: float = 1.0

    @property
    def estimated_scale(self) -> bool:
        """Whether the scale is estimated from the data (quasi-binomial with residual df)."""
        return self.dispersion_method == "quasi" and self.result.df_resid > 0


def critical_value(model: ClauseModel, level: float = config.CONFIDENCE_LEVEL) -> float:
    """Two-sided critical value of the model's Wald intervals.

    Student's t on the residual degrees of freedom when the scale is estimated (quasi-binomial,
    the usual quasi-likelihood reference), the normal quantile otherwise.
    """
    if model.estimated_scale:
        return float(sps.t.ppf(0.5 + level / 2, model.result.df_resid))
    return float(sps.norm.ppf(0.5 + level / 2))


def _p_values(z: np.ndarray, model: ClauseModel) -> np.ndarray:
    if model.estimated_scale:
        return 2 * sps.t.sf(np.abs(z), model.result.df_resid)
    return 2 * sps.norm.sf(np.abs(z))


def _reference(counts: pd.Series, wanted: str | None) -> str:
    """``wanted`` if it is a level, else the level with most contracts (ties: first in order)."""
    if wanted is not None and wanted in counts.index:
        return wanted
    top = counts[counts == counts.max()].index
    return sorted(top)[0]


def _design(cells: pd.DataFrame, year: str, centre: float, territory_slopes: bool,
            adjust: tuple[str, ...], references: dict[str, str],
            levels: dict[str, list[str]]) -> pd.DataFrame:
    """Design matrix of the cells: constant, year term(s), territory and adjustment dummies."""
    columns: dict[str, np.ndarray] = {"const": np.ones(len(cells))}
    t = cells["annee"].to_numpy(float) - centre
    territory = cells["territoire"].astype(str).to_numpy()
    if year == "lineaire":
        if territory_slopes:
            for level in levels["territoire"]:
                columns[f"annee:territoire[{level}]"] = t * (territory == level)
        else:
            columns["annee"] = t
    else:
        years = cells["annee"].astype(int).astype(str).to_numpy()
        for level in levels["annee"]:
            if level != references["annee"]:
                columns[f"annee[{level}]"] = (years == level).astype(float)
    for level in levels["territoire"]:
        if level != references["territoire"]:
            columns[f"territoire[{level}]"] = (territory == level).astype(float)
    for term in adjust:
        values = cells[term].astype(str).to_numpy()
        for level in levels[term]:
            if level != references[term]:
                columns[f"{term}[{level}]"] = (values == level).astype(float)
    return pd.DataFrame(columns, index=cells.index)


def fit_clause_model(contracts: pd.DataFrame, year: str = "lineaire",
                     territory_slopes: bool = True, adjust: tuple[str, ...] | list[str] = (),
                     territory: str = "departement_execution",
                     references: dict[str, str] | None = None,
                     first_year: int | None = None, last_year: int | None = None,
                     dispersion: str = "quasi") -> ClauseModel:
    """Fit the binomial GLM of ``has_social_consideration`` on year, territory and adjustments.

    Parameters
    ----------
    contracts
        The ``contracts`` table.
    year
        ``"lineaire"``: the notification year as a number, centred on the contracts' mean year
        (its coefficient is a yearly log-odds trend); ``"facteur"``: one level per year (no trend
        assumed; what the recovery tests use).
    territory_slopes
        With a numeric year, one slope per territory (year × territory interaction, no common
        slope) instead of one common slope.
    adjust
        Adjustment columns among :data:`ADJUSTMENTS` (``acheteur_categorie``, ``cpv_division``).
    territory
        The territory column (département of execution).
    references
        Reference levels, by term (``annee``, ``territoire``, adjustment columns); default: the
        first year, Paris (``75``) for the territory, the most frequent level otherwise.
    first_year, last_year
        Restrict to these notification years.
    dispersion
        ``"quasi"`` (default): quasi-binomial, the covariance of the estimates multiplied by the
        Pearson dispersion ``X² / df`` of the binomial fit when it exceeds 1 (the estimates are
        the binomial ones); ``"binomial"``: the binomial covariance, which assumes the cells
        vary no more than binomial sampling allows.

    Returns
    -------
    ClauseModel
        Excluded from the fit, and counted in ``excluded``: contracts with an unknown social
        status, and those without a year, a territory or an adjustment value.
    """
    if dispersion not in DISPERSIONS:
        raise ValueError(f"dispersion inconnue : {dispersion!r} (attendu : quasi ou binomial)")
    if year not in ("lineaire", "facteur"):
        raise ValueError(f"terme d'année inconnu : {year!r} (attendu : lineaire ou facteur)")
    adjust = tuple(adjust)
    unknown = [a for a in adjust if a not in ADJUSTMENTS]
    if unknown:
        raise ValueError(f"ajustement inconnu : {unknown} (attendu : {list(ADJUSTMENTS)})")
    frame = contracts
    if first_year is not None:
        frame = frame.loc[frame["annee"] >= first_year]
    if last_year is not None:
        frame = frame.loc[frame["annee"] <= last_year]
    excluded: dict[str, int] = {}
    known = frame["has_social_consideration"].notna().to_numpy()
    excluded["statut social inconnu"] = int((~known).sum())
    frame = frame.loc[known]
    for column, reason in [("annee", "année inconnue"), (territory, "territoire inconnu")] + [
            (a, f"{ADJUSTMENTS[a].lower()} inconnu") for a in adjust]:
        missing = frame[column].isna().to_numpy()
        excluded[reason] = int(missing.sum())
        frame = frame.loc[~missing]
    if frame.empty:
        raise ValueError("aucun marché au statut social connu à modéliser")
    data = pd.DataFrame({"annee": frame["annee"].astype(int).to_numpy(),
                         "territoire": frame[territory].astype(str).to_numpy(),
                         **{a: frame[a].astype(str).to_numpy() for a in adjust},
                         "y": frame["has_social_consideration"].astype(bool).to_numpy()})
    keys = ["annee", "territoire", *adjust]
    cells = data.groupby(keys, as_index=False).agg(marches=("y", "size"),
                                                   avec_consideration=("y", "sum"))
    refs = dict(references or {})
    levels = {"territoire": sorted(cells["territoire"].unique()),
              "annee": [str(y) for y in sorted(cells["annee"].unique())],
              **{a: sorted(cells[a].unique()) for a in adjust}}
    def counts(term: str) -> pd.Series:
        return cells.groupby(term)["marches"].sum()

    resolved = {"territoire": _reference(counts("territoire"),
                                         refs.get("territoire", config.reference_departement()))}
    if year == "facteur":
        resolved["annee"] = refs.get("annee", levels["annee"][0])
        if resolved["annee"] not in levels["annee"]:
            resolved["annee"] = levels["annee"][0]
    for a in adjust:
        resolved[a] = _reference(counts(a), refs.get(a))
    centre = float(data["annee"].mean())
    design = _design(cells, year, centre, territory_slopes, adjust, resolved, levels)
    endog = np.column_stack([cells["avec_consideration"].to_numpy(float),
                             (cells["marches"] - cells["avec_consideration"]).to_numpy(float)])
    glm = sm.GLM(endog, design, family=sm.families.Binomial())
    result = glm.fit()
    pearson = (float(result.pearson_chi2 / result.df_resid) if result.df_resid > 0
               else float("nan"))
    scale = 1.0
    if dispersion == "quasi" and np.isfinite(pearson) and pearson > 1:
        scale = pearson
        # Same estimates; the covariance (and every interval drawn from it) scaled.
        result = glm.fit(scale=scale)
    return ClauseModel(result=result, columns=list(design.columns), year=year, centre=centre,
                       territory_slopes=territory_slopes, references=resolved, cells=cells,
                       adjust=adjust, years=(int(data["annee"].min()), int(data["annee"].max())),
                       excluded=excluded, dispersion_method=dispersion,
                       pearson_dispersion=pearson, dispersion=scale)


def _split(column: str) -> tuple[str, str | None]:
    """``"term[level]"`` → (term, level), e.g. ``"territoire[93]"`` → ("territoire", "93")."""
    if column.endswith("]") and "[" in column:
        term, level = column[:-1].split("[", 1)
        return term, level
    return column, None


def coefficients(model: ClauseModel, level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Tidy table of the model's coefficients with Wald intervals and odds ratios.

    Returns
    -------
    DataFrame
        One row per coefficient: ``terme`` (design column), ``variable`` (``const``, ``annee``,
        ``annee:territoire``, ``territoire`` or an adjustment column), ``niveau`` (the level, or
        empty), ``reference`` (the term's reference level), ``coef, se, ic_bas, ic_haut,
        rapport_cotes, rc_ic_bas, rc_ic_haut, p_valeur``. A level's coefficient is its log-odds
        difference from the reference level, the other terms being equal. Standard errors carry
        the model's dispersion; intervals and p-values use :func:`critical_value`'s reference.
    """
    z = critical_value(model, level)
    params = np.asarray(model.result.params, dtype=float)
    bse = np.asarray(model.result.bse, dtype=float)
    parts = [_split(c) for c in model.columns]
    table = pd.DataFrame({
        "terme": model.columns,
        "variable": [p[0] for p in parts],
        "niveau": [p[1] for p in parts],
        "reference": [model.references.get(p[0]) if p[1] is not None
                      and p[0] != "annee:territoire" else None for p in parts],
        "coef": params, "se": bse, "ic_bas": params - z * bse, "ic_haut": params + z * bse,
    })
    table["rapport_cotes"] = np.exp(table["coef"])
    table["rc_ic_bas"] = np.exp(table["ic_bas"])
    table["rc_ic_haut"] = np.exp(table["ic_haut"])
    table["p_valeur"] = _p_values(params / bse, model)
    return table


def territory_trends(model: ClauseModel, level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Yearly log-odds trend of each territory (a numeric-year model).

    Returns
    -------
    DataFrame
        One row per territory: ``territoire, marches, pente, se, ic_bas, ic_haut,
        rapport_cotes_annuel, rc_ic_bas, rc_ic_haut, p_valeur``. With one common slope, every
        territory carries it. Standard errors carry the model's dispersion.
    """
    if model.year != "lineaire":
        raise ValueError("tendance par territoire : le modèle doit avoir une année numérique")
    z = critical_value(model, level)
    params = pd.Series(np.asarray(model.result.params, dtype=float), index=model.columns)
    bse = pd.Series(np.asarray(model.result.bse, dtype=float), index=model.columns)
    counts = model.cells.groupby("territoire")["marches"].sum()
    rows = []
    for territory, n in counts.items():
        name = f"annee:territoire[{territory}]" if model.territory_slopes else "annee"
        rows.append({"territoire": territory, "marches": int(n), "pente": params[name],
                     "se": bse[name]})
    table = pd.DataFrame(rows)
    table["ic_bas"] = table["pente"] - z * table["se"]
    table["ic_haut"] = table["pente"] + z * table["se"]
    table["rapport_cotes_annuel"] = np.exp(table["pente"])
    table["rc_ic_bas"] = np.exp(table["ic_bas"])
    table["rc_ic_haut"] = np.exp(table["ic_haut"])
    table["p_valeur"] = _p_values((table["pente"] / table["se"]).to_numpy(float), model)
    return table


def _territory_cells(model: ClauseModel,
                     territory: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design rows at year ``centre`` (t = 0), slope column index and mix weights of a territory.

    The mix is the territory's contracts over the whole period, by adjustment cell; the fitted
    share of a year is the mix-weighted mean of the cells' fitted probabilities that year.
    """
    cells = model.cells.loc[model.cells["territoire"] == territory]
    keys = ["territoire", *model.adjust]
    mix = cells.groupby(keys, as_index=False)["marches"].sum()
    mix["annee"] = model.centre
    levels = {"territoire": sorted(model.cells["territoire"].unique()),
              **{a: sorted(model.cells[a].unique()) for a in model.adjust}}
    design = _design(mix, model.year, model.centre, model.territory_slopes, model.adjust,
                     model.references, levels).reindex(columns=model.columns, fill_value=0.0)
    slope = f"annee:territoire[{territory}]" if model.territory_slopes else "annee"
    weights = mix["marches"].to_numpy(float)
    return design.to_numpy(float), np.array([model.columns.index(slope)]), weights / weights.sum()


def _fitted_share(base: np.ndarray, slopes: np.ndarray, t: np.ndarray,
                  weights: np.ndarray) -> np.ndarray:
    """Mix-weighted share at centred times ``t`` for each row of ``base`` (rows × cells)."""
    return (expit(base + slopes[:, None] * t[:, None]) * weights).sum(axis=1)


def _crossing(base: np.ndarray, slopes: np.ndarray, weights: np.ndarray, target: float,
              t_last: float, t_max: float) -> np.ndarray:
    """Centred time at which the mix-weighted fitted share reaches ``target``, per row.

    With a positive slope the share increases: the crossing, searched by bisection, may lie in
    the past (target already reached); ``+inf`` when it lies beyond ``t_max``. With a zero or
    negative slope: ``+inf`` if the share at ``t_last`` is below the target (never reached going
    on), ``-inf`` otherwise (already at the target, but falling).
    """
    n = len(slopes)
    out = np.full(n, np.inf)
    rising = slopes > 0
    now = _fitted_share(base, slopes, np.full(n, t_last), weights)
    out[~rising & (now >= target)] = -np.inf
    if rising.any():
        b = base[rising]
        s = slopes[rising]
        # Bracket: at lo every cell's log-odds is below logit(target) - 1, so is the mixed share;
        # at hi every cell's is above logit(target) + 1.
        spread = np.abs(b - logit(target)).max(axis=1)
        lo = np.minimum(-1.0, -(spread + 1) / s)
        hi = np.maximum(1.0, (spread + 1) / s)
        for _ in range(80):
            mid = (lo + hi) / 2
            below = _fitted_share(b, s, mid, weights) < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        root = (lo + hi) / 2
        out[rising] = np.where(root > t_max, np.inf, root)
    return out


def share_band(model: ClauseModel, territory: str, years,
               level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """A territory's fitted share in each of ``years``, with its pointwise confidence band.

    The fitted share is the mix-weighted mean of the cells' fitted probabilities (see
    :func:`target_years`). Its band is a Wald interval on the logit of the share (delta method,
    the model's covariance, scaled by its dispersion), with :func:`critical_value`: without
    adjustment, exactly ``expit(a + b t ± q se(a + b t))``. The band always contains the share.

    Returns
    -------
    DataFrame
        ``annee, part, bas, haut``.
    """
    design, slope_index, weights = _territory_cells(model, territory)
    params = np.asarray(model.result.params, dtype=float)
    cov = np.asarray(model.result.cov_params(), dtype=float)
    years = np.asarray(years, dtype=float)
    t = years - model.centre
    k = int(slope_index[0])
    probs = expit((design @ params)[None, :] + params[k] * t[:, None])  # years × cells
    shares = probs @ weights
    density = probs * (1 - probs) * weights
    gradient = density @ design  # d share / d params, the slope column at t = 0 ...
    gradient[:, k] += t * density.sum(axis=1)  # ... plus its value t
    variance = np.einsum("ij,jk,ik->i", gradient, cov, gradient)
    clipped = np.clip(shares, 1e-300, 1 - 1e-16)
    se = np.sqrt(np.maximum(variance, 0)) / (clipped * (1 - clipped))
    q = critical_value(model, level)
    centre = logit(clipped)
    return pd.DataFrame({"annee": years.astype(int), "part": shares,
                         "bas": np.minimum(expit(centre - q * se), shares),
                         "haut": np.maximum(expit(centre + q * se), shares)})


@dataclass
class FitCheck:
    """How well a fitted clause model describes the yearly shares (see :func:`fit_check`).

    Attributes
    ----------
    cells, parameters, df_resid
        Cells fitted, parameters, residual degrees of freedom.
    deviance, pearson_chi2
        Residual deviance and Pearson χ² of the binomial fit.
    pearson_dispersion
        ``pearson_chi2 / df_resid`` (NaN without residual degree of freedom): about 1 when the
        cells vary as binomial sampling allows.
    scale, method
        The scale applied to the covariance and how (``quasi`` or ``binomial``).
    gof_p
        p-value of the goodness-of-fit test: Pearson χ² against χ²(df_resid) (NaN without df).
    lack_df, lack_deviance, lack_statistic, lack_test, lack_p
        Test of the straight line against one level per year (a numeric-year model only): the
        model plus a level for each year but the first and the last (the yearly departures from
        the line, common to the territories) reduces the deviance by ``lack_deviance`` for
        ``lack_df`` degrees of freedom; ``lack_test`` is ``"F"`` (quasi-likelihood F test, the
        larger model's dispersion, at least 1, as denominator) or ``"khi2"`` (χ² test on the
        deviance when the larger model is saturated); ``lack_df`` 0 and NaNs when not testable.
    line_rejected
        The test rejects the straight line at the level used.
    last_year
        One row per territory: ``territoire, marches`` (known status, last year),
        ``avec_consideration``, ``part_observee`` with its Wilson interval ``part_observee_ic_bas,
        part_observee_ic_haut``, ``part_ajustee_marches`` (the model's fitted share over the same
        contracts) and ``hors_intervalle`` (fitted share outside the observed interval).
    level
        Confidence level of the tests and intervals.
    """

    cells: int
    parameters: int
    df_resid: int
    deviance: float
    pearson_chi2: float
    pearson_dispersion: float
    scale: float
    method: str
    gof_p: float
    lack_df: int
    lack_deviance: float
    lack_statistic: float
    lack_test: str | None
    lack_p: float
    line_rejected: bool
    last_year: pd.DataFrame
    level: float

    @property
    def outside(self) -> list[str]:
        """Territories whose fitted share of the last year lies outside its observed interval."""
        return self.last_year.loc[self.last_year["hors_intervalle"], "territoire"].tolist()

    @property
    def line_fits(self) -> bool:
        """The straight line is not contradicted: test not rejected, no fitted share outside."""
        return not self.line_rejected and not self.outside


def _endog(cells: pd.DataFrame) -> np.ndarray:
    return np.column_stack([cells["avec_consideration"].to_numpy(float),
                            (cells["marches"] - cells["avec_consideration"]).to_numpy(float)])


def _lack_of_fit(model: ClauseModel, level: float) -> dict:
    """The straight line against one level per year (see :class:`FitCheck`)."""
    years = sorted(int(y) for y in model.cells["annee"].unique())
    none = {"lack_df": 0, "lack_deviance": float("nan"), "lack_statistic": float("nan"),
            "lack_test": None, "lack_p": float("nan"), "line_rejected": False}
    if model.year != "lineaire" or len(years) < 3:
        return none
    cells = model.cells
    levels = {"territoire": sorted(cells["territoire"].unique()),
              **{a: sorted(cells[a].unique()) for a in model.adjust}}
    design = _design(cells, model.year, model.centre, model.territory_slopes, model.adjust,
                     model.references, levels).reindex(columns=model.columns, fill_value=0.0)
    # Constant and line fix two years: a level for each of the others spans every yearly path.
    for y in years[1:-1]:
        design[f"niveau_annee[{y}]"] = (cells["annee"].to_numpy() == y).astype(float)
    with warnings.catch_warnings():  # a saturated larger model (one territory) is expected
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        larger = sm.GLM(_endog(cells), design, family=sm.families.Binomial()).fit()
    k = len(years) - 2
    drop = max(float(model.result.deviance - larger.deviance), 0.0)
    if larger.df_resid > 0:
        phi = max(1.0, float(larger.pearson_chi2 / larger.df_resid))
        statistic = drop / k / phi
        p = float(sps.f.sf(statistic, k, larger.df_resid))
        test = "F"
    else:
        statistic, test = drop, "khi2"
        p = float(sps.chi2.sf(drop, k))
    return {"lack_df": k, "lack_deviance": drop, "lack_statistic": statistic, "lack_test": test,
            "lack_p": p, "line_rejected": bool(p < 1 - level)}


def _last_year(model: ClauseModel, level: float) -> pd.DataFrame:
    """Observed (Wilson interval) against fitted share of each territory's last-year contracts."""
    cells = model.cells.assign(ajuste=np.asarray(model.result.predict(), dtype=float)
                               * model.cells["marches"].to_numpy(float))
    last = cells.loc[cells["annee"] == model.years[1]]
    table = (last.groupby("territoire", as_index=False)
             .agg(marches=("marches", "sum"), avec_consideration=("avec_consideration", "sum"),
                  ajuste=("ajuste", "sum")))
    table["part_observee"] = table["avec_consideration"] / table["marches"]
    low, high = wilson_interval(table["avec_consideration"], table["marches"], level)
    table["part_observee_ic_bas"] = low
    table["part_observee_ic_haut"] = high
    table["part_ajustee_marches"] = table["ajuste"] / table["marches"]
    table["hors_intervalle"] = ((table["part_ajustee_marches"] < table["part_observee_ic_bas"])
                                | (table["part_ajustee_marches"] > table["part_observee_ic_haut"]))
    return table.drop(columns="ajuste")


def fit_check(model: ClauseModel, level: float = config.CONFIDENCE_LEVEL) -> FitCheck:
    """Check how well the model describes the yearly shares (see :class:`FitCheck`).

    Three readings: the Pearson dispersion (about 1 if the cells vary as binomial sampling
    allows; the model scales its covariance by it), the goodness-of-fit test of the binomial
    model, and for a numeric year the test of the straight line against one level per year, with
    each territory's fitted share of the last year against its observed interval (Wilson).
    """
    binomial = model.result
    df = int(round(binomial.df_resid))
    pearson = float(binomial.pearson_chi2)
    return FitCheck(
        cells=len(model.cells), parameters=len(model.columns), df_resid=df,
        deviance=float(binomial.deviance), pearson_chi2=pearson,
        pearson_dispersion=model.pearson_dispersion, scale=model.dispersion,
        method=model.dispersion_method,
        gof_p=float(sps.chi2.sf(pearson, df)) if df > 0 else float("nan"),
        **_lack_of_fit(model, level), last_year=_last_year(model, level), level=level)


def _first_year(years: np.ndarray, reached: np.ndarray) -> int | None:
    """First year of the grid where ``reached`` holds (None if never)."""
    hits = np.flatnonzero(reached)
    return int(years[hits[0]]) if len(hits) else None


def year_interval_fr(low, high) -> str:
    """A target-year interval as published: ``2026 – 2029``, or « non déterminable »."""
    if pd.isna(low) or pd.isna(high):
        return UNDETERMINED
    return f"{int(low)} – {int(high)}"


def target_years(model: ClauseModel, targets=TARGETS, horizon: int = HORIZON,
                 min_contracts: int = MIN_CONTRACTS, level: float = config.CONFIDENCE_LEVEL,
                 check: FitCheck | None = None) -> pd.DataFrame:
    """First calendar year each territory's fitted share would reach each target if its trend
    went on, with an interval in the same unit.

    The fitted share of a territory in year ``Y`` is the mean of the model's fitted
    probabilities over the territory's contracts (all years), their year set to ``Y``: without
    adjustment, simply ``expit(a + b (Y - centre))``. Every quantity is a whole calendar year,
    searched from the first year observed to :data:`SEARCH_LIMIT`:

    * the point: the first year whose fitted share reaches the target;
    * the interval: the first year whose upper confidence bound of the share reaches it, and the
      first year whose lower bound does (:func:`share_band`: the model's covariance, scaled by its
      dispersion). This inverts the band (a Fieller-type interval): a year is left out when the
      band excludes that the share crossed the target then. The band contains the share, so the
      point always lies within its interval. The upper bound is open when the lower band never
      reaches the target (a slope not clearly positive): the interval is then « non
      déterminable » (both bounds missing).

    Parameters
    ----------
    check
        The model's :func:`fit_check` (computed when not given): its warnings are added.

    Returns
    -------
    DataFrame
        One row per (territory, target): ``territoire, cible, marches, pente, pente_ic_bas,
        pente_ic_haut, part_ajustee`` (fitted share in the last year), ``part_observee,
        part_observee_ic_bas, part_observee_ic_haut, part_ajustee_marches, hors_intervalle``
        (see :class:`FitCheck`), ``annee_cible`` (the fractional crossing of the fitted share,
        for reading only, NaN when not projected), ``annee_atteinte, ic_bas, ic_haut`` (whole
        years, missing when not determinable; with a slope zero or negative, no projection),
        ``intervalle`` (French text), ``dispersion``, ``extrapolation_fragile`` and
        ``avertissement`` (French, empty when nothing to say).
    """
    if model.year != "lineaire":
        raise ValueError("projection : le modèle doit avoir une année numérique")
    check = check if check is not None else fit_check(model, level)
    trends = territory_trends(model, level).set_index("territoire")
    observed = check.last_year.set_index("territoire")
    params = np.asarray(model.result.params, dtype=float)
    first, last = model.years
    t_last = last - model.centre
    t_max = SEARCH_LIMIT - model.centre
    grid = np.arange(first, SEARCH_LIMIT + 1)
    rows = []
    for territory, trend in trends.iterrows():
        design, slope_index, weights = _territory_cells(model, territory)
        point_base = (design @ params)[None, :]
        point_slope = params[slope_index]
        band = share_band(model, territory, grid, level)
        fitted_now = float(_fitted_share(point_base, point_slope, np.array([t_last]), weights)[0])
        seen = observed.loc[territory] if territory in observed.index else None
        rising = trend["pente"] > 0
        for target in targets:
            crossing = float(_crossing(point_base, point_slope, weights, target, t_last,
                                       t_max)[0])
            fraction = model.centre + crossing if rising and np.isfinite(crossing) else np.nan
            point = _first_year(grid, band["part"].to_numpy() >= target) if rising else None
            low = _first_year(grid, band["haut"].to_numpy() >= target) if rising else None
            high = _first_year(grid, band["bas"].to_numpy() >= target) if rising else None
            if high is None:
                low = None  # an open interval is not published by halves
            notes = []
            fragile = False
            if not rising:
                notes.append("tendance nulle ou à la baisse : pas de projection")
                fragile = True
            elif trend["ic_bas"] <= 0:
                notes.append(f"tendance non significative (l'IC {level:.0%} de la pente "
                             "contient 0)".replace("%", "\u00a0%"))
                fragile = True
            if point is not None and point > horizon:
                notes.append(f"objectif projeté après l'horizon {horizon}")
                fragile = True
            elif point is None and rising:
                notes.append(f"objectif non atteint avant {SEARCH_LIMIT}")
                fragile = True
            if high is None:
                notes.append(f"intervalle non déterminable (la borne basse de la part ajustée "
                             f"n'atteint pas l'objectif avant {SEARCH_LIMIT})")
                fragile = True
            elif high > horizon:
                notes.append(f"borne haute de l'intervalle au-delà de l'horizon {horizon}")
                fragile = True
            if trend["marches"] < min_contracts:
                notes.append(f"peu de marchés ({int(trend['marches'])} < {min_contracts})")
                fragile = True
            if check.line_rejected:
                notes.append(f"{LINE_VERDICT} la série annuelle (test d'écart à la "
                             "droite rejeté)")
                fragile = True
            if seen is not None and bool(seen["hors_intervalle"]):
                notes.append(f"part ajustée {last} hors de l'intervalle de la part observée")
                fragile = True
            if point is not None and point <= last:
                notes.append("objectif déjà atteint selon la tendance ajustée")
            rows.append({
                "territoire": territory, "cible": target, "marches": int(trend["marches"]),
                "pente": trend["pente"], "pente_ic_bas": trend["ic_bas"],
                "pente_ic_haut": trend["ic_haut"], "part_ajustee": fitted_now,
                **{c: (seen[c] if seen is not None else np.nan)
                   for c in ("part_observee", "part_observee_ic_bas", "part_observee_ic_haut",
                             "part_ajustee_marches")},
                "hors_intervalle": bool(seen["hors_intervalle"]) if seen is not None else False,
                "annee_cible": fraction,
                "annee_atteinte": point if point is not None else pd.NA,
                "ic_bas": low if low is not None else pd.NA,
                "ic_haut": high if high is not None else pd.NA,
                "intervalle": year_interval_fr(low, high),
                "dispersion": model.dispersion,
                "extrapolation_fragile": fragile, "avertissement": " ; ".join(notes),
            })
    table = pd.DataFrame(rows)
    for column in ("annee_atteinte", "ic_bas", "ic_haut"):
        table[column] = table[column].astype("Int64")
    return table


def kind_shares(contracts: pd.DataFrame, by: tuple[str, ...] | list[str] = ("annee",),
                among: str = "connus", level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Share of contracts carrying each kind of social consideration, with intervals clustered by
    buyer (:func:`analysis.stats.clustered_share`).

    Parameters
    ----------
    contracts
        The ``contracts`` table (restricted to a territory beforehand if needed), with
        ``acheteur_id``.
    by
        Group columns (default: the notification year); rows with a missing group are left out.
    among
        ``"connus"``: the denominator is the contracts whose social status is known (the share of
        all contracts with a clause, a criterion, a reservation); ``"avec_consideration"``: the
        contracts with at least one consideration (the mix of kinds). Kinds can combine: shares do
        not add up to one.

    Returns
    -------
    DataFrame
        One row per group and kind: the ``by`` columns, ``type, libelle, marches, effectif, part,
        ic_bas, ic_haut, acheteurs``.
    """
    if among not in ("connus", "avec_consideration"):
        raise ValueError(f"dénominateur inconnu : {among!r} "
                         "(attendu : connus ou avec_consideration)")
    by = list(by)
    frame = contracts.loc[contracts["has_social_consideration"].notna()]
    if among == "avec_consideration":
        frame = frame.loc[frame["has_social_consideration"].astype(bool)]
    frame = frame.dropna(subset=by) if by else frame
    if frame.empty:
        return pd.DataFrame(columns=[*by, "type", "libelle", "marches", "effectif", "part",
                                     "ic_bas", "ic_haut", "acheteurs"])
    tables = []
    for kind, label in KINDS.items():
        flagged = frame.assign(_kind=frame[kind].fillna(False).astype(bool).astype(float))
        shares = clustered_share(flagged, "_kind", by, level=level)
        shares = shares.reset_index(drop=not by).assign(type=kind, libelle=label)
        tables.append(shares.rename(columns={"total": "marches"}))
    table = pd.concat(tables, ignore_index=True)
    order = {kind: i for i, kind in enumerate(KINDS)}
    table = table.sort_values([*by, "type"], key=lambda c: c.map(order) if c.name == "type" else c,
                              kind="mergesort").reset_index(drop=True)
    return table[[*by, "type", "libelle", "marches", "effectif", "part", "ic_bas", "ic_haut",
                  "acheteurs"]]
