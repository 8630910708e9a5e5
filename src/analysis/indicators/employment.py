"""Sustainable employment after an insertion pathway (``docs/indicators.md``, « Emploi durable »).

Four pieces, all pure functions from the canonical tracking tables to tidy tables:

* :func:`situation_distribution` — the situation six months after the end of the last insertion
  contract (durable job, transition job, positive exit, no job), with Wilson intervals, overall and
  by group; the denominator is the participants whose situation is known, the unknown share is
  stated beside it;
* :func:`modelling_table` — one row per participant with an outcome row: the covariates of the
  models (hours, training, QPV, sex, age, diploma, last employer, coordination), the six-month
  outcome and the time to the first durable job, censored at the export date;
* :func:`durable_at_six_months` — a binomial GLM of durable employment at six months: logistic
  (odds ratios) or complementary log-log (hazard ratios of a proportional-hazards model observed at
  six months), on known outcomes only;
* :func:`kaplan_meier` and :func:`cox_model` — time to the first durable job from the end of the
  last contract: Kaplan–Meier curves by group and a Cox model (hazard ratios).

The data are observational: every ratio is an *association* between a characteristic and the
outcome, adjusted for the other covariates, never the effect of the characteristic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight

from .. import config
from ..stats import share, wilson_interval

#: Situations six months after the end of the last insertion contract (canonical values), in
#: the order tables show them, with their French labels.
SITUATIONS = {
    "emploi_durable": "Emploi durable",
    "emploi_transition": "Emploi de transition",
    "sortie_positive": "Sortie positive",
    "sans_emploi": "Sans emploi",
}
UNKNOWN_SITUATION = "inconnue"
#: Diplomas counted as low (no diploma; CAP-BEP level, old levels VI, V bis, V).
LOW_DIPLOMA = ("sans_diplome", "niveau_3")
#: Diploma values that say nothing: the covariate is missing.
UNKNOWN_DIPLOMA = ("inconnu",)
#: Employer type of a contract held with the contractor of the clause itself.
CONTRACTOR = "entreprise_attributaire"
#: Days in a month, for durations shown in months (as in ``hours.py``).
DAYS_PER_MONTH = 365.25 / 12
#: ``REFERENCE_COORDINATION`` (resolved at each access): the reference coordination of the
#: models, the région's first département (:func:`analysis.config.reference_departement`).


def __getattr__(name: str):
    if name == "REFERENCE_COORDINATION":
        return config.reference_departement()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: The models' covariates (columns of :func:`modelling_table`) and their French labels.
COVARIATES = {
    "heures_100": "Heures réalisées (par 100 h)",
    "formation_qualifiante": "Formation qualifiante",
    "residence_qpv": "Résidence en QPV",
    "femme": "Femme",
    "moins_26": "Moins de 26 ans à l'entrée",
    "plus_50": "50 ans ou plus à l'entrée",
    "diplome_faible": "Sans diplôme ou niveau CAP-BEP",
    "dernier_employeur_attributaire": "Dernier contrat chez l'entreprise attributaire",
}

#: Group columns of :func:`situation_distribution` and :func:`kaplan_meier`, with their labels.
GROUPS = {
    "ensemble": "Ensemble",
    "sexe": "Sexe",
    "tranche_age": "Tranche d'âge",
    "qpv": "Résidence en QPV",
    "coordination": "Coordination (département)",
    "diplome_faible": "Diplôme faible",
    "formation_qualifiante": "Formation qualifiante",
}
NOT_STATED = "non renseigné"

#: Column names of the published tables, in French as reviewers read them.
COLUMNS_FR = {
    "groupe": "Groupe",
    "modalite": "Modalité",
    "situation": "Situation à 6 mois",
    "libelle": "Libellé",
    "effectif": "Participants",
    "connues": "Situation connue",
    "part": "Part (parmi les situations connues)",
    "ic_bas": "IC bas",
    "ic_haut": "IC haut",
    "sorties": "Sorties suivies",
    "inconnues": "Situation inconnue",
    "part_inconnue": "Part inconnue (parmi les sorties)",
    "variable": "Variable",
    "coef": "Coefficient (échelle du modèle)",
    "se": "Erreur type",
    "rapport": "Rapport",
    "rapport_ic_bas": "Rapport : IC bas",
    "rapport_ic_haut": "Rapport : IC haut",
    "p_valeur": "p-valeur",
    "n": "Participants dans le modèle",
    "evenements": "Événements",
    "mesure": "Mesure",
    "mois": "Mois depuis la fin du dernier contrat",
    "a_risque": "À risque",
    "survie": "Sans emploi durable (Kaplan-Meier)",
    "emploi_durable_cumule": "Emploi durable atteint (cumul)",
}


# --- (a) Distribution of the six-month situation ------------------------------------------------


def _group_values(frame: pd.DataFrame, column: str) -> pd.Series:
    """Each row's group as text (``oui`` / ``non`` for flags); missing: « non renseigné »."""
    if column == "ensemble":
        return pd.Series("ensemble", index=frame.index, dtype=object)
    values = frame[column]
    if pd.api.types.is_bool_dtype(values.dtype) or column in COVARIATES:
        text = values.astype(object).map({True: "oui", False: "non"})
    else:
        text = values.astype(object).where(values.notna()).map(str, na_action="ignore")
    return text.fillna(NOT_STATED).astype(object)


def situation_distribution(outcomes: pd.DataFrame, participants: pd.DataFrame | None = None,
                           by: tuple[str, ...] | list[str] = (),
                           level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Situation six months after the last insertion contract, overall and by group.

    Parameters
    ----------
    outcomes
        The ``outcomes`` table (one row per participant whose last contract ended at least six
        months before the export).
    participants
        The ``participants`` table, needed to group by a participant attribute (``sexe``,
        ``tranche_age``, ``qpv`` …); joined on ``(coordination, participant_id)`` since
        pseudonyms are per coordination. ``coordination`` itself is in ``outcomes``.
    by
        Group columns; the overall distribution (``groupe = "ensemble"``) always comes first.
        A participant whose attribute is missing falls in the group « non renseigné ».
    level
        Confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame
        One row per (group, modality, situation): ``groupe, modalite, situation, libelle,
        effectif, connues, part, ic_bas, ic_haut, sorties, inconnues, part_inconnue``.
        ``part = effectif / connues``: the situations ``inconnue`` are excluded from the
        denominator and counted in ``inconnues`` (``part_inconnue = inconnues / sorties``).
    """
    frame = outcomes
    needs = [c for c in by if c not in ("ensemble",) and c not in outcomes.columns]
    if needs:
        if participants is None:
            raise ValueError(f"regroupement par {needs} : la table des participants est requise")
        keys = ["coordination", "participant_id"]
        frame = outcomes.merge(participants[keys + needs].drop_duplicates(keys), on=keys,
                               how="left", validate="many_to_one")
    # Situation of each row as its rank in SITUATIONS (-1: unknown or unrecognised).
    situation = pd.Index(list(SITUATIONS)).get_indexer(frame["situation_6_mois"].astype(object))
    known = situation >= 0
    n_situations = len(SITUATIONS)
    rows = []
    for group in ["ensemble", *[c for c in by if c != "ensemble"]]:
        values = _group_values(frame, group)
        modalities = sorted(values.unique(), key=lambda v: (v == NOT_STATED, v))
        # int64: the codes are int8 up to 127 groups, and rank × 4 would overflow from 32
        rank = pd.Categorical(values, categories=modalities).codes.astype(np.int64)
        totals = np.bincount(rank, minlength=len(modalities))
        cells = np.bincount(rank[known] * n_situations + situation[known],
                            minlength=len(modalities) * n_situations
                            ).reshape(len(modalities), n_situations)
        for m, modality in enumerate(modalities):
            total, n_known = int(totals[m]), int(cells[m].sum())
            for s, (code, label) in enumerate(SITUATIONS.items()):
                rows.append({"groupe": group, "modalite": modality, "situation": code,
                             "libelle": label, "effectif": int(cells[m, s]),
                             "connues": n_known, "sorties": total,
                             "inconnues": total - n_known})
    table = pd.DataFrame(rows, columns=["groupe", "modalite", "situation", "libelle", "effectif",
                                        "connues", "sorties", "inconnues"])
    table["part"] = share(table["effectif"], table["connues"])
    table["ic_bas"], table["ic_haut"] = wilson_interval(table["effectif"], table["connues"], level)
    table["part_inconnue"] = share(table["inconnues"], table["sorties"])
    return table[["groupe", "modalite", "situation", "libelle", "effectif", "connues", "part",
                  "ic_bas", "ic_haut", "sorties", "inconnues", "part_inconnue"]]


# --- (b) Participant-level modelling table -------------------------------------------------------


def _flag(values: pd.Series, true_values) -> pd.Series:
    """1.0 where the value is in ``true_values``, 0.0 elsewhere, NaN where it is missing."""
    out = values.astype(object).isin(list(true_values)).astype(float)
    return out.where(values.notna(), np.nan)


def modelling_table(participants: pd.DataFrame, work_contracts: pd.DataFrame,
                    outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per participant with an outcome row: covariates, six-month outcome, time to event.

    Participants without an outcome row (last contract ended less than six months before the
    export, or not yet ended) are not in the table. Keys are ``(coordination, participant_id)``.

    Covariates (``NaN`` when the attribute is missing; the models drop those rows):

    * ``heures_100`` — sum of ``heures`` over the participant's work contracts kept in the
      warehouse (quarantined contracts are not counted), divided by 100; ``NaN`` when the
      participant has no kept contract;
    * ``formation_qualifiante`` — 1 if ``formation_qualifiante`` is true;
    * ``residence_qpv`` — 1 if ``qpv`` is true;
    * ``femme`` — 1 if ``sexe == "F"``;
    * ``moins_26`` / ``plus_50`` — 1 if ``tranche_age`` is ``moins_de_26`` / ``50_et_plus``
      (age at entry into the pathway, in completed years from the birth date);
    * ``diplome_faible`` — 1 if ``diplome`` is ``sans_diplome`` or ``niveau_3``; ``NaN`` for
      ``inconnu``;
    * ``dernier_employeur_attributaire`` — 1 if the work contract with the latest ``date_fin``
      (ties: the latest ``date_debut``) has ``type_employeur == "entreprise_attributaire"``;
    * ``coordination`` — the departmental coordination (categorical).

    Outcomes:

    * ``situation_6_mois`` as exported; ``connue`` — the situation is not ``inconnue``;
    * ``emploi_durable_6_mois`` — 1.0 / 0.0, ``NaN`` when the situation is unknown;
    * ``duree_jours`` — days from ``date_fin_dernier_contrat`` to ``date_premier_emploi_durable``
      (event), or to ``date_export`` (censored) when no durable job is recorded by then;
      ``NaN`` when a date is missing or the first durable job precedes the end of the contract;
      ``duree_mois`` the same in months; ``evenement`` — 1 for an event, 0 for a censored row.

    Returns
    -------
    DataFrame
        ``coordination, participant_id, sexe, tranche_age, diplome, qpv`` (the raw attributes,
        for grouping) then the covariates and outcomes above.
    """
    keys = ["coordination", "participant_id"]
    base = outcomes[keys + ["situation_6_mois", "date_fin_dernier_contrat",
                            "date_premier_emploi_durable", "date_export"]]
    people = participants[keys + ["sexe", "tranche_age", "diplome", "qpv",
                                  "formation_qualifiante"]].drop_duplicates(keys)
    table = base.merge(people, on=keys, how="left", validate="one_to_one")

    wc = work_contracts[keys + ["heures", "type_employeur", "date_debut", "date_fin"]]
    hours = wc.assign(heures=wc["heures"].astype(float)).groupby(keys)["heures"].sum(min_count=1)
    last = (wc.sort_values(keys + ["date_fin", "date_debut"], kind="stable")
            .groupby(keys).tail(1).set_index(keys)["type_employeur"])
    table = table.join(hours.rename("_heures"), on=keys).join(last.rename("_dernier"), on=keys)

    out = table[keys + ["sexe", "tranche_age", "diplome", "qpv"]].copy()
    out["heures_100"] = table["_heures"].astype(float) / 100.0
    out["formation_qualifiante"] = _flag(table["formation_qualifiante"], [True])
    out["residence_qpv"] = _flag(table["qpv"], [True])
    out["femme"] = _flag(table["sexe"], ["F"])
    out["moins_26"] = _flag(table["tranche_age"], ["moins_de_26"])
    out["plus_50"] = _flag(table["tranche_age"], ["50_et_plus"])
    diploma = table["diplome"].astype(object).where(~table["diplome"].isin(UNKNOWN_DIPLOMA))
    out["diplome_faible"] = _flag(diploma, LOW_DIPLOMA)
    out["dernier_employeur_attributaire"] = _flag(table["_dernier"], [CONTRACTOR])

    situation = table["situation_6_mois"].astype(object)
    out["situation_6_mois"] = situation
    out["connue"] = situation.isin(list(SITUATIONS))
    out["emploi_durable_6_mois"] = (situation == "emploi_durable").astype(float).where(
        out["connue"], np.nan)

    end = table["date_fin_dernier_contrat"]
    first = table["date_premier_emploi_durable"]
    export = table["date_export"]
    event = first.notna() & (export.isna() | (first <= export))
    stop = first.where(event, export)
    days = (stop - end).dt.days.astype(float)
    days = days.where(days >= 0)
    out["evenement"] = event.astype(int)
    out["duree_jours"] = days
    out["duree_mois"] = days / DAYS_PER_MONTH
    return out.reset_index(drop=True)


# --- (c) Durable employment at six months: binomial GLMs -----------------------------------------


def _design(table: pd.DataFrame, covariates, reference: str | None):
    """Design matrix (covariates then coordination dummies) over complete rows, and row mask."""
    covariates = list(covariates)
    complete = table[covariates].notna().all(axis=1) & table["coordination"].notna()
    frame = table.loc[complete]
    levels = sorted(frame["coordination"].astype(str).unique())
    if reference is None:
        reference = config.reference_departement()
    if reference not in levels:
        reference = levels[0] if levels else None
    columns = {c: frame[c].astype(float) for c in covariates}
    for level in levels:
        if level != reference:
            is_level = frame["coordination"].astype(str) == level
            columns[f"departement_{level}"] = is_level.astype(float)
    design = pd.DataFrame(columns, index=frame.index)
    return design, complete.to_numpy(), reference


def _labels(names, reference: str | None) -> list[str]:
    out = []
    for name in names:
        if name == "const":
            out.append("Constante")
        elif name.startswith("departement_"):
            out.append(f"Coordination {name.removeprefix('departement_')} (réf. {reference})")
        else:
            out.append(COVARIATES.get(name, name))
    return out


def _tidy(params, bse, names, level: float, reference: str | None, measure: str, n: int,
          events: int) -> pd.DataFrame:
    """A tidy coefficient table with Wald intervals and exponentiated ratios."""
    z = sps.norm.ppf(0.5 + level / 2)
    params = np.asarray(params, dtype=float)
    bse = np.asarray(bse, dtype=float)
    table = pd.DataFrame({"variable": list(names), "libelle": _labels(names, reference),
                          "coef": params, "se": bse,
                          "ic_bas": params - z * bse, "ic_haut": params + z * bse})
    table["rapport"] = np.exp(table["coef"])
    table["rapport_ic_bas"] = np.exp(table["ic_bas"])
    table["rapport_ic_haut"] = np.exp(table["ic_haut"])
    is_const = table["variable"].eq("const")
    table.loc[is_const, ["rapport", "rapport_ic_bas", "rapport_ic_haut"]] = np.nan
    table["p_valeur"] = 2 * sps.norm.sf(np.abs(params / bse))
    table["mesure"] = np.where(is_const, "constante", measure)
    table["niveau"] = level
    table["n"] = n
    table["evenements"] = events
    return table


def durable_at_six_months(table: pd.DataFrame, link: str = "logit",
                          covariates=tuple(COVARIATES),
                          reference: str | None = None,
                          level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Binomial GLM of durable employment six months after the last contract (known outcomes).

    Parameters
    ----------
    table
        :func:`modelling_table`.
    link
        ``"logit"``: a logistic regression; ``exp(coef)`` is an odds ratio.
        ``"cloglog"``: complementary log-log link, the exact model when the time to the first
        durable job follows a proportional-hazards model (``P(T <= 6) = 1 - exp(-H0(6) e^{x'b})``);
        ``exp(coef)`` is then a hazard ratio.
    covariates
        Columns of ``table`` entered as they are; the coordination enters as dummies against
        ``reference`` (default: the région's first département, Paris in Île-de-France; the
        first coordination in sort order if absent).
    level
        Confidence level of the Wald intervals.

    Returns
    -------
    DataFrame
        One row per coefficient (``const`` first): ``variable, libelle, coef, se, ic_bas, ic_haut,
        rapport, rapport_ic_bas, rapport_ic_haut, p_valeur, mesure, niveau, n, evenements``.
        ``n`` counts participants with a known outcome and every covariate known; ``evenements``
        those in durable employment. Ratios are associations, not effects.
    """
    links = {"logit": (sm.families.links.Logit(), "rapport de cotes"),
             "cloglog": (sm.families.links.CLogLog(), "rapport de risques instantanés")}
    if link not in links:
        raise ValueError(f"lien inconnu : {link!r} (attendu : logit ou cloglog)")
    known = table.loc[table["connue"].astype(bool) & table["emploi_durable_6_mois"].notna()]
    design, complete, ref = _design(known, covariates, reference)
    y = known.loc[complete, "emploi_durable_6_mois"].to_numpy(float)
    if len(y) == 0:
        raise ValueError("aucun participant à la situation connue et aux covariables complètes")
    exog = sm.add_constant(design, prepend=True, has_constant="add")
    family = sm.families.Binomial(link=links[link][0])
    fit = sm.GLM(y, exog, family=family).fit()
    return _tidy(fit.params, fit.bse, exog.columns, level, ref, links[link][1], len(y),
                 int(y.sum()))


# --- (d) Time to the first durable job -----------------------------------------------------------


def kaplan_meier(table: pd.DataFrame, by: str | None = None,
                 level: float = config.CONFIDENCE_LEVEL) -> pd.DataFrame:
    """Kaplan–Meier share still without a durable job, by months since the last contract ended.

    Time runs from ``date_fin_dernier_contrat``; a participant without a durable job recorded by
    the export date is censored there (:func:`modelling_table`). Rows without a usable duration
    are excluded. Pointwise intervals use the log-log transform of the Greenwood variance, so they
    stay in [0, 1].

    Parameters
    ----------
    table
        :func:`modelling_table`.
    by
        A column of ``table`` to stratify by (``sexe``, ``tranche_age``, ``qpv``,
        ``coordination``, ``diplome_faible`` …); ``None`` for everyone.

    Returns
    -------
    DataFrame
        One row per group and distinct event time, after a first row at time 0:
        ``groupe, modalite, mois, a_risque, evenements, survie, ic_bas, ic_haut,
        emploi_durable_cumule`` (``1 - survie``).
    """
    usable = table.loc[table["duree_jours"].notna()]
    group = by or "ensemble"
    values = _group_values(usable, group)
    z = sps.norm.ppf(0.5 + level / 2)
    frames = []
    for modality in sorted(values.unique(), key=lambda v: (v == NOT_STATED, v)):
        rows = usable.loc[(values == modality).to_numpy()]
        time = rows["duree_mois"].to_numpy(float)
        status = rows["evenement"].to_numpy(int)
        start = pd.DataFrame({"mois": [0.0], "a_risque": [len(rows)], "evenements": [0.0],
                              "survie": [1.0], "ic_bas": [1.0], "ic_haut": [1.0]})
        if status.sum() == 0:
            frame = start
        else:
            fit = SurvfuncRight(time, status)
            surv = np.asarray(fit.surv_prob, dtype=float)
            se = np.asarray(fit.surv_prob_se, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_surv = np.log(surv)
                se_ll = se / (surv * np.abs(log_surv))
                low = surv ** np.exp(z * se_ll)
                high = surv ** np.exp(-z * se_ll)
            degenerate = (surv <= 0) | (surv >= 1) | ~np.isfinite(se_ll)
            low = np.where(degenerate, np.where(surv <= 0, 0.0, np.nan), low)
            high = np.where(degenerate, np.where(surv <= 0, 0.0, np.nan), high)
            frame = pd.concat([start, pd.DataFrame({
                "mois": np.asarray(fit.surv_times, dtype=float),
                "a_risque": np.asarray(fit.n_risk, dtype=int),
                "evenements": np.asarray(fit.n_events, dtype=float),
                "survie": surv, "ic_bas": low, "ic_haut": high})], ignore_index=True)
        frame.insert(0, "modalite", modality)
        frame.insert(0, "groupe", group)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["evenements"] = out["evenements"].astype("int64")
    out["a_risque"] = out["a_risque"].astype("int64")
    out["emploi_durable_cumule"] = 1.0 - out["survie"]
    return out


def survival_at(curves: pd.DataFrame, months: float) -> pd.DataFrame:
    """Read a :func:`kaplan_meier` table at ``months``: the step value in force at that time.

    Returns
    -------
    DataFrame
        ``groupe, modalite, mois, survie, ic_bas, ic_haut, emploi_durable_cumule`` per group.
    """
    rows = curves.loc[curves["mois"] <= months]
    last = rows.groupby(["groupe", "modalite"], sort=False).tail(1).copy()
    last["mois"] = float(months)
    return last[["groupe", "modalite", "mois", "survie", "ic_bas", "ic_haut",
                 "emploi_durable_cumule"]].reset_index(drop=True)


def cox_model(table: pd.DataFrame, covariates=tuple(COVARIATES),
              reference: str | None = None,
              level: float = config.CONFIDENCE_LEVEL, ties: str = "efron") -> pd.DataFrame:
    """Cox proportional-hazards model of the time to the first durable job.

    Time runs from the end of the last insertion contract, in days; participants without a durable
    job recorded by the export date are censored at the export date. Rows with a missing
    covariate or duration are excluded (complete cases). Ties (durations are whole days) are
    handled by Efron's method.

    Returns
    -------
    DataFrame
        One row per coefficient: ``variable, libelle, coef`` (log hazard ratio), ``se, ic_bas,
        ic_haut, rapport`` (hazard ratio), ``rapport_ic_bas, rapport_ic_haut, p_valeur, mesure,
        niveau, n, evenements``. Hazard ratios are associations, not effects.
    """
    usable = table.loc[table["duree_jours"].notna()]
    design, complete, ref = _design(usable, covariates, reference)
    rows = usable.loc[complete]
    if len(rows) == 0 or rows["evenement"].sum() == 0:
        raise ValueError("aucun événement : le modèle de Cox ne peut pas être ajusté")
    fit = PHReg(rows["duree_jours"].to_numpy(float), design.to_numpy(float),
                status=rows["evenement"].to_numpy(int), ties=ties).fit()
    return _tidy(fit.params, fit.bse, design.columns, level, ref,
                 "rapport de risques instantanés", len(rows), int(rows["evenement"].sum()))
