"""Clause progression model: the trend of the share of contracts with a social consideration.

Definition (``docs/indicators.md``, « Tendance des clauses sociales »): a binomial GLM (logit
link) of ``has_social_consideration`` over contracts whose social status is known, on the notification
year (numeric and centred, or a factor), the territory (département of execution) and optionally
the buyer type (``acheteur_categorie``) and the sector (``cpv_division``). With a numeric year and
one slope per territory, the model gives each territory's yearly log-odds trend, and the year
its fitted share would reach a target (25 %, 30 %) if the trend went on, with an interval by
parametric bootstrap from the fitted covariance, and a French warning when the extrapolation is
weak.

Also the share of each kind of consideration (clause, criterion, reservation) with intervals
clustered by buyer, which ``progression.py`` only counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from scipy.special import expit, logit

from .. import config
from ..stats import clustered_share

#: Kinds of social consideration (boolean columns of ``contracts``) and their French labels.
KINDS = {"clause_sociale": "Clause sociale", "critere_social": "Critère social",
         "marche_reserve": "Marché réservé"}
#: Adjustment terms that can enter the model, with their French labels.
ADJUSTMENTS = {"acheteur_categorie": "Type d'acheteur", "cpv_division": "Secteur (division CPV)"}
#: Default reference territory (Paris).
REFERENCE_TERRITORY = "75"
#: Targets of the national plans: 25 % in 2020 (plan 2015-2020), 30 % in 2025 (plan 2022-2025).
TARGETS = (0.25, 0.30)
#: Projections later than this year are flagged as weak.
HORIZON = 2035
#: A territory with fewer known-status contracts than this is flagged as weak.
MIN_CONTRACTS = 500
#: Projections are searched up to this year; beyond, the target counts as never reached.
SEARCH_LIMIT = 2200

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
    "rapport_cotes_annuel": "Rapport de cotes annuel",
    "cible": "Objectif",
    "part_ajustee": "Part ajustée (dernière année)",
    "annee_cible": "Année d'atteinte projetée",
    "annee_atteinte": "Première année civile à l'objectif",
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
                     first_year: int | None = None, last_year: int | None = None) -> ClauseModel:
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

    Returns
    -------
    ClauseModel
        Excluded from the fit, and counted in ``excluded``: contracts with an unknown social
        status, and those without a year, a territory or an adjustment value.
    """
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
                                         refs.get("territoire", REFERENCE_TERRITORY))}
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
    result = sm.GLM(endog, design, family=sm.families.Binomial()).fit()
    return ClauseModel(result=result, columns=list(design.columns), year=year, centre=centre,
                       territory_slopes=territory_slopes, references=resolved, cells=cells,
                       adjust=adjust, years=(int(data["annee"].min()), int(data["annee"].max())),
                       excluded=excluded)


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
        difference from the reference level, the other terms being equal.
    """
    z = sps.norm.ppf(0.5 + level / 2)
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
    table["p_valeur"] = 2 * sps.norm.sf(np.abs(params / bse))
    return table


def territory_trends(model: ClauseModel, level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Yearly log-odds trend of each territory (a numeric-year model).

    Returns
    -------
    DataFrame
        One row per territory: ``territoire, marches, pente, se, ic_bas, ic_haut,
        rapport_cotes_annuel, rc_ic_bas, rc_ic_haut, p_valeur``. With one common slope, every
        territory carries it.
    """
    if model.year != "lineaire":
        raise ValueError("tendance par territoire : le modèle doit avoir une année numérique")
    z = sps.norm.ppf(0.5 + level / 2)
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
    table["p_valeur"] = 2 * sps.norm.sf(np.abs(table["pente"] / table["se"]))
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
    """Mix-weighted share at centred times ``t`` for each draw: base (draws × cells)."""
    return (expit(base + slopes[:, None] * t[:, None]) * weights).sum(axis=1)


def _crossing(base: np.ndarray, slopes: np.ndarray, weights: np.ndarray, target: float,
              t_last: float, t_max: float) -> np.ndarray:
    """Centred time at which the mix-weighted fitted share reaches ``target``, per draw.

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


def target_years(model: ClauseModel, targets=TARGETS, horizon: int = HORIZON,
                 min_contracts: int = MIN_CONTRACTS, draws: int = 2000, seed: int = 0,
                 level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Year each territory's fitted share would reach each target if its trend went on.

    The fitted share of a territory in year ``t`` is the mean of the model's fitted
    probabilities over the territory's contracts (all years), their year set to ``t``: without
    adjustment, simply ``expit(a + b (t - centre))`` and the year is
    ``centre + (logit(target) - a) / b``. The interval is a parametric bootstrap: ``draws``
    coefficient vectors from the normal distribution of the estimates (fitted covariance), the
    year recomputed for each, and the ``level`` percentile interval taken (a draw whose slope is
    zero or negative never reaches a target it is below: the upper bound is then open).

    Returns
    -------
    DataFrame
        One row per (territory, target): ``territoire, cible, marches, pente, pente_ic_bas,
        pente_ic_haut, part_ajustee`` (fitted share in the last year), ``annee_cible``
        (fractional year, NaN when not projected), ``annee_atteinte`` (first calendar year at or
        above the target), ``ic_bas, ic_haut`` (NaN when open: never, or later than
        :data:`SEARCH_LIMIT`), ``extrapolation_fragile`` and ``avertissement`` (French, empty
        when nothing to say).
    """
    if model.year != "lineaire":
        raise ValueError("projection : le modèle doit avoir une année numérique")
    trends = territory_trends(model, level).set_index("territoire")
    params = np.asarray(model.result.params, dtype=float)
    cov = np.asarray(model.result.cov_params(), dtype=float)
    rng = np.random.default_rng(seed)
    sample = rng.multivariate_normal(params, cov, size=draws, method="cholesky")
    last = model.years[1]
    t_last = last - model.centre
    t_max = SEARCH_LIMIT - model.centre
    alpha = 1 - level
    rows = []
    for territory, trend in trends.iterrows():
        design, slope_index, weights = _territory_cells(model, territory)
        point_base = (design @ params)[None, :]
        point_slope = params[slope_index]
        draw_base = sample @ design.T
        draw_slope = sample[:, slope_index[0]]
        fitted_now = float(_fitted_share(point_base, point_slope, np.array([t_last]), weights)[0])
        for target in targets:
            point = float(_crossing(point_base, point_slope, weights, target, t_last, t_max)[0])
            boot = _crossing(draw_base, draw_slope, weights, target, t_last, t_max)
            low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
            year = model.centre + point if np.isfinite(point) else np.nan
            if trend["pente"] <= 0:
                year = np.nan
            low_year = model.centre + low if np.isfinite(low) else np.nan
            high_year = model.centre + high if np.isfinite(high) else np.nan
            notes = []
            fragile = False
            if trend["pente"] <= 0:
                notes.append("tendance nulle ou à la baisse : pas de projection")
                fragile = True
            elif trend["ic_bas"] <= 0:
                notes.append(f"tendance non significative (l'IC {level:.0%} de la pente "
                             "contient 0)".replace("%", "\u00a0%"))
                fragile = True
            if np.isfinite(year) and year > horizon:
                notes.append(f"objectif projeté après l'horizon {horizon}")
                fragile = True
            elif not np.isfinite(year) and trend["pente"] > 0:
                notes.append(f"objectif non atteint avant {SEARCH_LIMIT}")
                fragile = True
            if not np.isfinite(high) or model.centre + high > horizon:
                notes.append(f"borne haute de l'intervalle au-delà de l'horizon {horizon} "
                             "ou objectif jamais atteint")
                fragile = True
            if trend["marches"] < min_contracts:
                notes.append(f"peu de marchés ({int(trend['marches'])} < {min_contracts})")
                fragile = True
            if np.isfinite(year) and year <= last:
                notes.append("objectif déjà atteint selon la tendance ajustée")
            rows.append({
                "territoire": territory, "cible": target, "marches": int(trend["marches"]),
                "pente": trend["pente"], "pente_ic_bas": trend["ic_bas"],
                "pente_ic_haut": trend["ic_haut"], "part_ajustee": fitted_now,
                "annee_cible": year,
                "annee_atteinte": int(np.ceil(year)) if np.isfinite(year) else pd.NA,
                "ic_bas": low_year, "ic_haut": high_year,
                "extrapolation_fragile": fragile, "avertissement": " ; ".join(notes),
            })
    table = pd.DataFrame(rows)
    table["annee_atteinte"] = table["annee_atteinte"].astype("Int64")
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
