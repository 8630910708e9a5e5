"""France's régions compared (issue 18, point 4): the share of contracts with a social
consideration per région and year, from a national consolidated DECP.

Definitions (``docs/indicators.md``, « Régions comparées »):

* population: DECP *marchés* of the national consolidated table (decp-processing's layout), read
  through the observatory's one DECP pipeline (:func:`analysis.sources.decp.read_decp_table`:
  one contract per ``uid``, the year of the original notification, « Sans objet » as no
  consideration, an empty value as unknown);
* région: **the buyer's** (``acheteur_region_code``, as the national territorial indicators
  count it: the buyer is the authority of that level); when the table does not give it, the
  région of the buyer's département (reference layer); a contract with neither is counted apart
  (``region_inconnue``), never silently dropped; département: the buyer's too;
* two bases: every contract, and the **OECP-comparable basis** (initial amount at or above the
  floor of the OECP census of the year, :func:`analysis.config.oecp_floor`: 90 000 € HT until
  2023, 40 000 € from 2024);
* numerator and denominator as in :mod:`.progression`: contracts whose social status is unknown
  are out of the denominator and counted (``statut_inconnu``);
* intervals clustered by buyer (:func:`analysis.stats.clustered_share`), every région and year
  in ONE group-by;
* ranks are published as intervals only (:func:`rank_intervals`: a bootstrap over the buyers of
  each région of every région's rank);
* the projected year of reaching the target comes from the quasi-binomial trend model of
  :mod:`.trend` with one slope per région, fitted once over all régions;
* readiness for the loi Climat et résilience as in :mod:`.readiness`, by région.

Small cells: counts of contracts identify nobody, but a share computed on fewer than *k*
known-status contracts (:func:`analysis.config.suppression_k`) is not published (``secret``):
the same threshold as the tables of people, so that no figure rests on a handful of contracts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from ..stats import BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED, clustered_share
from . import progression, readiness as readiness_module, trend

#: The two bases of the comparison, with their French labels.
BASES = {"tous": "tous les marchés",
         "oecp": "base comparable OECP (montant initial au moins égal au plancher du recensement)"}
#: Columns of the contracts the comparison keeps (read from the national table).
KEEP = ["uid", "acheteur_id", "annee", "dateNotification", "montant", "montant_initial",
        "has_social_consideration", "clause_sociale", "critere_social", "marche_reserve",
        "cpv_division", "ccag", "acheteur_categorie", "acheteur_departement", "acheteur_region",
        "departement_execution"]
#: Contracts read per chunk of the national table.
CHUNK = 250_000

#: Column names of the published tables, in French as reviewers read them.
COLUMNS_FR = {
    "region": "Code région",
    "nom": "Région",
    "departement": "Département",
    "base": "Base",
    # the share's columns, titled as the progression report titles them
    **{key: progression.COLUMNS_FR[key] for key in (
        "annee", "contrats", "avec_consideration", "part", "ic_bas", "ic_haut", "acheteurs",
        "deff")},
    "statut_inconnu": "Statut inconnu (exclus)",
    "ecart": "Écart à l'objectif (part − objectif)",
    "ecart_bas": "Écart : IC bas",
    "ecart_haut": "Écart : IC haut",
    "position": "Position face à l'objectif",
    "rang_bas": "Rang : borne haute du classement (meilleur rang plausible)",
    "rang_haut": "Rang : borne basse du classement (pire rang plausible)",
    "rang_intervalle": "Rang (intervalle 95 %)",
    "annee_atteinte": "Année projetée d'atteinte",
    "intervalle": "Intervalle (années)",
    "avertissement": "Avertissement",
    "marches": "Marchés au-dessus des seuils (statut connu)",
    "secret": "Secret (moins de k marchés)",
}


# --- Finding and reading the national file -------------------------------------------------------


def national_path(required: bool = False) -> Path | None:
    """The national consolidated DECP the comparison reads, or ``None`` when there is none.

    Looked for in ``OBSERVATOIRE_NATIONAL_DECP`` (a file, or a folder), else in
    :data:`analysis.config.NATIONAL_DECP_DEFAULT` (``data/raw/national/``). A folder must hold
    exactly one ``.parquet`` or ``.csv`` file.

    Raises
    ------
    FileNotFoundError
        ``required`` and no file; or the variable names a path that does not exist.
    ValueError
        A folder holding several tables (which one is meant cannot be told).
    """
    named = os.environ.get(config.NATIONAL_DECP_ENV)
    where = Path(named).expanduser() if named else config.NATIONAL_DECP_DEFAULT
    if named and not where.exists():
        raise FileNotFoundError(f"{config.NATIONAL_DECP_ENV} = {named} : chemin introuvable")
    if where.is_file():
        return where
    tables = sorted(p for p in where.glob("*") if p.is_file()
                    and p.suffix.lower() in (".parquet", ".csv")) if where.is_dir() else []
    if len(tables) > 1:
        raise ValueError(f"plusieurs tables DECP dans {where} ({', '.join(p.name for p in tables)})"
                         f" : en garder une, ou nommer le fichier dans {config.NATIONAL_DECP_ENV}")
    if tables:
        return tables[0]
    if required:
        raise FileNotFoundError(f"aucune DECP nationale : ni {config.NATIONAL_DECP_ENV}, ni table "
                                f"dans {where}")
    return None


@dataclass
class National:
    """The national contracts as the comparison uses them, with their accounting.

    Attributes
    ----------
    contracts
        One row per contract kept: :data:`KEEP` plus ``region`` (the buyer's région) and
        ``departement`` (the buyer's département).
    accounting
        ``lignes_lues`` (rows of the file), ``marches`` (contracts kept by the reader),
        ``rejetes`` (quarantined), ``fusionnees`` (extra rows of modifications and suppliers),
        ``region_inconnue`` (kept contracts whose buyer's région cannot be told, out of the
        comparison), ``region_deduite`` (région taken from the buyer's département), and
        ``statut_inconnu``. ``lignes_lues = marches + rejetes + fusionnees``.
    path
        The file read.
    """

    contracts: pd.DataFrame
    accounting: dict = field(default_factory=dict)
    path: Path | None = None


def _departement_regions() -> pd.Series:
    from ..reference import load_layer

    layer = load_layer("departement")
    return pd.Series(layer["region"].astype(str).to_numpy(), index=layer["code"].astype(str))


def load_national(path: Path | str | None = None, today=None) -> National:
    """Read a national consolidated DECP through the DECP pipeline, keeping what the comparison
    needs.

    Parameters
    ----------
    path
        The table (Parquet or CSV); default :func:`national_path` (required).
    today
        Dates after this day are rejected (default: the real date).
    """
    from ..sources import decp

    path = Path(path) if path is not None else national_path(required=True)
    parsed = decp.read_decp_table(path, today=today, chunk_size=CHUNK, compact=True)
    parsed.flush()
    chunks = []
    for chunk in parsed.frames.get("contracts", []):
        part = chunk[[c for c in KEEP if c in chunk.columns]].copy()
        for column in KEEP:
            if column not in part:
                part[column] = pd.NA
        chunks.append(part[KEEP])
    contracts = (pd.concat(chunks, ignore_index=True) if chunks
                 else pd.DataFrame(columns=KEEP))
    del chunks
    for column in ("acheteur_region", "acheteur_departement", "acheteur_categorie",
                   "acheteur_id", "cpv_division", "ccag", "departement_execution"):
        contracts[column] = contracts[column].astype("string")
    region = contracts["acheteur_region"].str.strip().str.zfill(2)
    region = region.where(region.str.len().gt(0).fillna(False))
    departement = contracts["acheteur_departement"].str.strip().str.upper()
    departement = departement.where(~departement.str.fullmatch(r"\d").fillna(False),
                                    departement.str.zfill(2))
    deduced = region.isna() & departement.notna()
    region = region.fillna(departement.map(_departement_regions()).astype("string"))
    contracts["region"] = region.astype("category")
    contracts["departement"] = departement.astype("category")
    n_read = int(parsed.read)
    kept = len(contracts)
    rejected = len(parsed.quarantine.rejects)
    merged = int(parsed.merged)
    accounting = {
        "lignes_lues": n_read, "marches": kept, "rejetes": rejected, "fusionnees": merged,
        "region_inconnue": int(contracts["region"].isna().sum()),
        "region_deduite": int((deduced & contracts["region"].notna()).sum()),
        "statut_inconnu": int(contracts["has_social_consideration"].isna().sum()),
        "avertissements": len(parsed.quarantine.warnings),
    }
    if n_read != kept + rejected + merged:
        raise ValueError(f"{path} : lignes lues ({n_read}) ≠ marchés gardés ({kept}) + rejetés "
                         f"({rejected}) + lignes fusionnées ({merged})")
    return National(contracts=contracts, accounting=accounting, path=path)


def region_names() -> pd.Series:
    """French name of each région code (reference layer)."""
    from ..reference import load_layer

    layer = load_layer("region")
    return pd.Series(layer["nom"].astype(str).to_numpy(), index=layer["code"].astype(str),
                     name="nom")


# --- Shares ----------------------------------------------------------------------------------


def on_basis(contracts: pd.DataFrame, basis: str) -> pd.DataFrame:
    """The contracts of a basis: every one (``"tous"``), or those whose initial amount (else the
    amount after modifications) is at or above the OECP floor of their year (``"oecp"``); on that
    basis a contract without an amount is left out (it cannot be placed against the floor)."""
    if basis not in BASES:
        raise ValueError(f"base inconnue : {basis!r} (attendu : {', '.join(BASES)})")
    if basis == "tous":
        return contracts
    amount = contracts["montant_initial"].astype("Float64").fillna(
        contracts["montant"].astype("Float64")).astype(float)
    years = contracts["annee"].astype("Int64")
    floors = {int(y): config.oecp_floor(int(y)) for y in years.dropna().unique()}
    floor = years.map(floors).astype(float)
    return contracts.loc[(amount >= floor).to_numpy()]


def _known(contracts: pd.DataFrame) -> pd.DataFrame:
    known = contracts.loc[contracts["has_social_consideration"].notna()
                          & contracts["region"].notna()]
    return known.assign(_with=known["has_social_consideration"].astype(float),
                        region=known["region"].astype(str))


def _suppress(table: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """Shares on fewer than ``k`` known-status contracts are not published (``secret``)."""
    k = config.suppression_k() if k is None else int(k)
    secret = table["contrats"] < k
    table["secret"] = secret.to_numpy()
    for column in ("part", "ic_bas", "ic_haut", "deff"):
        if column in table:
            table[column] = table[column].where(~secret)
    return table


def region_shares(contracts: pd.DataFrame, first_year: int, last_year: int,
                  bases=tuple(BASES), target: float = config.DEFAULT_TARGET,
                  k: int | None = None) -> pd.DataFrame:
    """Share of contracts with a social consideration per région and year, on each basis.

    One clustered group-by per basis over every région and year
    (:func:`analysis.stats.clustered_share`, buyers as clusters).

    Parameters
    ----------
    contracts
        :attr:`National.contracts`.
    first_year, last_year
        The years shown (a région-year without contracts has no row).
    bases
        Among :data:`BASES`.
    target
        The target the gap is measured to (default 30 %).
    k
        Small-cell threshold (default :func:`analysis.config.suppression_k`).

    Returns
    -------
    DataFrame
        ``base, region, nom, annee, contrats, avec_consideration, part, ic_bas, ic_haut,
        acheteurs, deff, statut_inconnu, ecart, ecart_bas, ecart_haut, position, secret``;
        ``ecart`` (and its interval) is the share minus the target, ``position`` where the
        interval stands against it (:func:`analysis.indicators.progression.target_position`).
    """
    names = region_names()
    frames = []
    period = contracts.loc[contracts["annee"].between(first_year, last_year).fillna(False)
                           .astype(bool)]
    for basis in bases:
        rows = on_basis(period, basis)
        known = _known(rows)
        table = clustered_share(known.assign(annee=known["annee"].astype(int)), "_with",
                                ["region", "annee"])
        table = table.rename(columns={"total": "contrats", "effectif": "avec_consideration"})
        unknown = rows.loc[rows["has_social_consideration"].isna() & rows["region"].notna()]
        counts = unknown.groupby([unknown["region"].astype(str),
                                  unknown["annee"].astype(int)]).size()
        counts.index = counts.index.set_names(["region", "annee"])
        table = table.join(counts.rename("statut_inconnu"), how="outer")
        table[["contrats", "avec_consideration", "acheteurs", "statut_inconnu"]] = table[
            ["contrats", "avec_consideration", "acheteurs", "statut_inconnu"]].fillna(0) \
            .astype("int64")
        table = table.reset_index()
        table.insert(0, "base", basis)
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    table.insert(2, "nom", table["region"].map(names).fillna(table["region"]))
    table = _suppress(table, k)
    table["ecart"] = table["part"] - target
    table["ecart_bas"] = table["ic_bas"] - target
    table["ecart_haut"] = table["ic_haut"] - target
    table["position"] = [progression.target_position(lo, hi, target) if pd.notna(lo) else pd.NA
                         for lo, hi in zip(table["ic_bas"], table["ic_haut"])]
    ordered = ["base", "region", "nom", "annee", "contrats", "avec_consideration", "part",
               "ic_bas", "ic_haut", "acheteurs", "deff", "statut_inconnu", "ecart", "ecart_bas",
               "ecart_haut", "position", "secret"]
    return table[ordered].sort_values(["base", "region", "annee"], ignore_index=True)


def departement_shares(contracts: pd.DataFrame, year: int, basis: str = "tous",
                       k: int | None = None) -> pd.DataFrame:
    """Share per département of the buyer in ``year`` on ``basis`` (clustered by buyer, one
    group-by), every département of the reference layer present (no contract: no share).

    Returns
    -------
    DataFrame
        ``departement, contrats, avec_consideration, part, ic_bas, ic_haut, acheteurs, deff,
        secret``.
    """
    from ..reference import load_layer

    rows = on_basis(contracts.loc[contracts["annee"].eq(year).fillna(False).astype(bool)], basis)
    known = rows.loc[rows["has_social_consideration"].notna() & rows["departement"].notna()]
    known = known.assign(_with=known["has_social_consideration"].astype(float),
                         departement=known["departement"].astype(str))
    table = clustered_share(known, "_with", ["departement"]).rename(
        columns={"total": "contrats", "effectif": "avec_consideration"})
    codes = pd.Index(load_layer("departement")["code"].astype(str), name="departement")
    table = table.reindex(codes)
    table[["contrats", "avec_consideration", "acheteurs"]] = table[
        ["contrats", "avec_consideration", "acheteurs"]].fillna(0).astype("int64")
    table = _suppress(table.reset_index(), k)
    return table[["departement", "contrats", "avec_consideration", "part", "ic_bas", "ic_haut",
                  "acheteurs", "deff", "secret"]]


# --- Ranks as intervals ----------------------------------------------------------------------


def rank_intervals(contracts: pd.DataFrame, year: int, basis: str = "tous",
                   level: float = config.CONFIDENCE_LEVEL,
                   replicates: int = BOOTSTRAP_REPLICATES, seed: int = BOOTSTRAP_SEED,
                   k: int | None = None) -> pd.DataFrame:
    """Each région's rank by share in ``year`` (1 = the highest), as an interval.

    Each replicate draws, within each région, as many of its buyers as it has, with replacement
    (their contracts with them), recomputes every région's share and ranks them; the interval is
    the percentile interval of a région's ranks over the replicates. A rank is never published
    from the point estimate alone: the table gives the interval (and the point rank only for
    sorting). A région with a single buyer cannot be resampled: its interval is every rank.
    Régions whose share is secret (fewer than *k* contracts) are left out of the ranking,
    stated in ``secret``.

    Returns
    -------
    DataFrame
        ``region, nom, contrats, acheteurs, part, rang, rang_bas, rang_haut, rang_intervalle,
        secret``, sorted by ``rang``.
    """
    k = config.suppression_k() if k is None else int(k)
    rows = on_basis(contracts.loc[contracts["annee"].eq(year).fillna(False).astype(bool)], basis)
    known = _known(rows)
    per_buyer = known.groupby(["region", known["acheteur_id"].astype(str).fillna("?")],
                              sort=True, observed=True)["_with"].agg(["sum", "size"]).reset_index()
    totals = per_buyer.groupby("region")[["sum", "size"]].sum()
    names = region_names()
    secret = totals["size"] < k
    ranked = totals.index[~secret]
    per_buyer = per_buyer.loc[per_buyer["region"].isin(ranked)].reset_index(drop=True)
    n_regions = len(ranked)
    region_index = pd.Index(ranked)
    group = region_index.get_indexer(per_buyer["region"])
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else np.array([],
                                                                                                int)
    count = np.diff(np.r_[first, len(group)])
    y = per_buyer["sum"].to_numpy(float)
    m = per_buyer["size"].to_numpy(float)
    slot_first = first[group]
    slot_count = count[group]
    rng = np.random.default_rng(seed)
    ranks = np.empty((replicates, n_regions))
    chunk = max(1, 2_000_000 // max(len(group), 1))
    for start in range(0, replicates, chunk):
        r = min(chunk, replicates - start)
        chosen = slot_first + np.floor(rng.random((r, len(group))) * slot_count).astype(int)
        cell = (np.arange(r)[:, None] * n_regions + group[None, :]).ravel()
        num = np.bincount(cell, weights=y[chosen].ravel(), minlength=r * n_regions)
        den = np.bincount(cell, weights=m[chosen].ravel(), minlength=r * n_regions)
        shares = (num / den).reshape(r, n_regions)
        ranks[start:start + r] = pd.DataFrame(shares).rank(axis=1, ascending=False,
                                                            method="average").to_numpy()
    alpha = (1 - level) / 2
    point = totals.loc[ranked, "sum"] / totals.loc[ranked, "size"]
    low = np.floor(np.quantile(ranks, alpha, axis=0, method="lower")) if n_regions else []
    high = np.ceil(np.quantile(ranks, 1 - alpha, axis=0, method="higher")) if n_regions else []
    buyers = per_buyer.groupby("region").size().reindex(ranked)
    table = pd.DataFrame({"region": ranked, "contrats": totals.loc[ranked, "size"].astype(int)
                          .to_numpy(), "acheteurs": buyers.to_numpy(), "part": point.to_numpy(),
                          "rang": point.rank(ascending=False, method="min").astype(int)
                          .to_numpy(), "rang_bas": np.asarray(low, int),
                          "rang_haut": np.asarray(high, int)})
    single = table["acheteurs"] < 2
    table.loc[single, "rang_bas"] = 1
    table.loc[single, "rang_haut"] = n_regions
    table["rang_bas"] = np.minimum(table["rang_bas"], table["rang"])
    table["rang_haut"] = np.maximum(table["rang_haut"], table["rang"])
    table["rang_intervalle"] = [f"{lo}" if lo == hi else f"{lo} – {hi}"
                                for lo, hi in zip(table["rang_bas"], table["rang_haut"])]
    table["secret"] = False
    hidden = pd.DataFrame({"region": totals.index[secret],
                           "contrats": totals.loc[secret, "size"].astype(int).to_numpy(),
                           "secret": True})
    table = pd.concat([table, hidden], ignore_index=True) if len(hidden) else table
    table.insert(1, "nom", table["region"].map(names).fillna(table["region"]))
    return table.sort_values(["secret", "rang", "region"], ignore_index=True)


# --- Target: gap and projected year ------------------------------------------------------------


def projections(contracts: pd.DataFrame, first_year: int, last_year: int, basis: str = "tous",
                target: float = config.DEFAULT_TARGET) -> tuple[pd.DataFrame, trend.FitCheck]:
    """The first calendar year each région's fitted share would reach ``target`` if its trend
    went on, with its interval (:func:`analysis.indicators.trend.target_years`).

    One quasi-binomial model over all régions: a level and a yearly log-odds slope per région
    (:func:`analysis.indicators.trend.fit_clause_model` with the région as territory).

    Returns
    -------
    (DataFrame, FitCheck)
        ``region, nom`` and the columns of :func:`~analysis.indicators.trend.target_years`;
        the model's fit check.
    """
    rows = on_basis(contracts, basis)
    rows = rows.loc[rows["region"].notna()].assign(region=lambda f: f["region"].astype(str))
    model = trend.fit_clause_model(rows, territory="region", first_year=first_year,
                                   last_year=last_year, references={"territoire": None})
    check = trend.fit_check(model)
    table = trend.target_years(model, targets=(target,), check=check)
    table = table.rename(columns={"territoire": "region"})
    table.insert(1, "nom", table["region"].map(region_names()).fillna(table["region"]))
    return table, check


# --- Adjusted régional effects ---------------------------------------------------------------


def adjusted_effects(contracts: pd.DataFrame, first_year: int, last_year: int,
                     reference: str | None = None,
                     level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Each région's log-odds of a social consideration against a reference région, adjusted for
    the year, the buyer type, the sector and the amount, with buyer-clustered intervals.

    A logistic regression over the contracts of known status (one row each)::

        logit P = year + région + buyer type + CPV division + log10(initial amount)

    with a cluster-robust covariance, the buyers as clusters (statsmodels ``cov_type="cluster"``):
    a région's coefficient compares it with the reference for contracts of the same year, buyer
    type, sector and amount. Contracts without a buyer type, a sector or a positive amount are
    left out (counted in ``exclus``). A population-averaged estimate: with buyer effects of
    spread σ, it is the conditional effect shrunk by about 1 / sqrt(1 + 0.35 σ²).

    Returns
    -------
    DataFrame
        One row per région but the reference: ``region, nom, reference, coef, ic_bas, ic_haut,
        marches, acheteurs, exclus`` (``exclus``: over the whole fit, the same on every row).
    """
    import statsmodels.api as sm
    from scipy import stats as sps

    frame = contracts.loc[contracts["annee"].between(first_year, last_year).fillna(False)
                          .astype(bool) & contracts["has_social_consideration"].notna()
                          & contracts["region"].notna()]
    amount = frame["montant_initial"].astype("Float64").fillna(
        frame["montant"].astype("Float64")).astype(float)
    usable = (amount > 0) & frame["acheteur_categorie"].notna() & frame["cpv_division"].notna()
    excluded = int((~usable).sum())
    frame = frame.loc[usable.to_numpy()]
    amount = amount.loc[usable.to_numpy()]
    region = frame["region"].astype(str)
    counts = region.value_counts()
    reference = reference if reference in counts.index else str(counts.idxmax())
    design = pd.concat([
        pd.get_dummies(frame["annee"].astype(int).astype(str), prefix="annee", drop_first=True),
        pd.get_dummies(pd.Categorical(region, categories=[reference] + sorted(
            c for c in counts.index if c != reference)), prefix="region", drop_first=True)
        .set_axis(frame.index),
        pd.get_dummies(frame["acheteur_categorie"].astype(str), prefix="type", drop_first=True),
        pd.get_dummies(frame["cpv_division"].astype(str), prefix="cpv", drop_first=True),
    ], axis=1).astype(float)
    design.insert(0, "log10_montant", np.log10(amount.to_numpy()))
    design.insert(0, "const", 1.0)
    groups = pd.factorize(frame["acheteur_id"].astype(str).fillna("?"))[0]
    result = sm.GLM(frame["has_social_consideration"].astype(float).to_numpy(), design,
                    family=sm.families.Binomial()).fit(cov_type="cluster",
                                                       cov_kwds={"groups": groups})
    z = float(sps.norm.ppf(0.5 + level / 2))
    names = region_names()
    buyers = frame.groupby(region)["acheteur_id"].nunique()
    rows = []
    for column in design.columns:
        if not column.startswith("region_"):
            continue
        code = column[len("region_"):]
        coef, se = float(result.params[column]), float(result.bse[column])
        rows.append({"region": code, "nom": names.get(code, code), "reference": reference,
                     "coef": coef, "ic_bas": coef - z * se, "ic_haut": coef + z * se,
                     "marches": int(counts[code]), "acheteurs": int(buyers[code]),
                     "exclus": excluded})
    return pd.DataFrame(rows)


# --- Climat et résilience readiness ------------------------------------------------------------


def readiness(contracts: pd.DataFrame, start, end=None, k: int | None = None) -> pd.DataFrame:
    """Share of contracts above the EU thresholds with a social consideration, per région
    (:func:`analysis.indicators.readiness.above_thresholds`), then France.

    Returns
    -------
    DataFrame
        ``region, nom, marches, avec_consideration, part, ic_bas, ic_haut, acheteurs,
        statut_inconnu, secret``; the last row is « France » (every région).
    """
    frame = readiness_module.above_thresholds(contracts, start, end)
    frame = frame.loc[frame["region"].notna()].assign(region=lambda f: f["region"].astype(str))
    known = frame.loc[frame["has_social_consideration"].notna()]
    known = known.assign(_with=known["has_social_consideration"].astype(float))
    by_region = clustered_share(known, "_with", ["region"])
    whole = clustered_share(known, "_with", []).set_axis(["France"])
    table = pd.concat([by_region, whole]).rename(columns={"total": "marches",
                                                          "effectif": "avec_consideration"})
    unknown = frame.loc[frame["has_social_consideration"].isna()].groupby("region").size()
    table["statut_inconnu"] = unknown.reindex(table.index).fillna(0).astype("int64")
    table.loc["France", "statut_inconnu"] = int(unknown.sum())
    table = table.rename_axis("region").reset_index()
    table = _suppress(table.rename(columns={"marches": "contrats"}), k).rename(
        columns={"contrats": "marches"})
    names = region_names()
    table.insert(1, "nom", table["region"].map(names).fillna(table["region"]))
    return table[["region", "nom", "marches", "avec_consideration", "part", "ic_bas", "ic_haut",
                  "acheteurs", "statut_inconnu", "secret"]]


__all__ = ["BASES", "COLUMNS_FR", "National", "national_path", "load_national", "region_names",
           "on_basis", "region_shares", "departement_shares", "rank_intervals", "projections",
           "adjusted_effects",
           "readiness"]
