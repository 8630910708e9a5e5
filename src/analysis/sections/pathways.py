"""Pathways and sustainable employment (indicators 4, 8 and 9 of ``docs/indicators.md``).

Population of the outcome parts: the territory's participants (:attr:`Scope.outcomes`, a work
contract in the territory) whose last insertion contract ended in the period's history window,
from 1 January of the first history year to the end of the period (:func:`population`). Their
situation six months later comes from the tracking exports (*Sorties*); the covariates of the
models are computed over the participant's whole export (:func:`employment.modelling_table`).

Pathway parts (common pathways, transitions, jobs) describe the period's beneficiaries: their work
contracts in the territory that started before the end of the period.

Every count of people goes through the report's disclosure control; charts never show a group or
a cell of fewer than *k* people; model tables are published only when every level of every
covariate has at least *k* people, *k* events and *k* non-events.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown

from .. import config
from ..frames import isin
from ..disclosure import Margins
from ..indicators import employment, training
from ..indicators import pathways as pw
from ..plots import PALETTE, apply_style, percent_fr
from ..present import number_fr
from ..stats import wilson_interval
from .needs import TRACKING, method_needs, needs

#: What these sections show, as the index lists the parts a report could not cover.
PATHWAYS = "parcours et emploi durable"

#: French labels of the contract types (canonical values of ``type_contrat``).
CONTRACT_TYPES_FR = {
    "cdi": "CDI",
    "cdd": "CDD",
    "interim": "Intérim",
    "cddi": "CDDI",
    "professionnalisation": "Contrat de professionnalisation",
    "apprentissage": "Apprentissage",
    "contrat_aide": "Contrat aidé",
    pw.UNKNOWN: "Non renseigné",
}
#: Short labels, for pathways (« Intérim → CDD → CDI »).
CONTRACT_TYPES_SHORT = {**CONTRACT_TYPES_FR, "professionnalisation": "Contrat pro."}

#: Groups of the outcome table, in reading order, with their French labels.
GROUPS_FR = {
    "ensemble": "Ensemble",
    "annee_sortie": "Année de fin du dernier contrat",
    "sexe": "Sexe",
    "tranche_age": "Âge à l'entrée",
    "qpv": "Résidence en QPV",
    "formation_qualifiante": "Formation qualifiante",
    "diplome_faible": "Sans diplôme ou niveau CAP-BEP",
}
MODALITIES_FR = {
    "ensemble": "Ensemble",
    "F": "Femmes",
    "H": "Hommes",
    "moins_de_26": "Moins de 26 ans",
    "26_49": "26 à 49 ans",
    "50_et_plus": "50 ans ou plus",
    "oui": "Oui",
    "non": "Non",
    "True": "Oui",
    "False": "Non",
    employment.NOT_STATED: "Non renseigné",
}
#: Positive situations of the IAE (« sorties dynamiques »): every known situation but no job.
DYNAMIC = ("emploi_durable", "emploi_transition", "sortie_positive")
#: Months at which the survival table reads the Kaplan–Meier curves.
SURVIVAL_MONTHS = (6, 12, 24)
#: Longest time drawn on the survival chart (months).
SURVIVAL_HORIZON = 36
#: Group of the survival chart: qualifying training, the pathway choice prescribers ask about.
SURVIVAL_GROUP = "formation_qualifiante"
#: Events (and non-events) per parameter a model needs before it is published.
EVENTS_PER_PARAMETER = 10
#: Common pathways shown at most.
TOP_PATHWAYS = 15

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(scope, key: str, compute: Callable):
    """Compute once per scope (a report calls several parts on the same tables)."""
    store = _CACHE.setdefault(scope, {})
    if key not in store:
        store[key] = compute()
    return store[key]


def _small(value, k: int) -> bool:
    return 1 <= int(value) < k


def _modality(value) -> str:
    return MODALITIES_FR.get(str(value), str(value))


# --- Populations ---------------------------------------------------------------------------------


def window(scope) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The history window of the period: 1 January of the first year, end of the period (excl.)."""
    return pd.Timestamp(scope.period.first_year, 1, 1), pd.Timestamp(scope.period.end)


def window_fr(scope) -> str:
    start, end = window(scope)
    last = (end - pd.Timedelta(days=1)).strftime("%d/%m/%Y")
    return f"du 01/01/{start.year} au {last}"


def population(scope) -> pd.DataFrame:
    """Outcome rows of the territory's participants whose last contract ended in the window.

    Adds ``annee_sortie``, the year the last contract ended.
    """
    def compute():
        out = scope.outcomes
        start, end = window(scope)
        ended = out["date_fin_dernier_contrat"]
        kept = out.loc[((ended >= start) & (ended < end)).fillna(False).astype(bool)].copy()
        kept["annee_sortie"] = kept["date_fin_dernier_contrat"].dt.year.astype("Int64")
        return kept.reset_index(drop=True)

    return _cached(scope, "population", compute)


def modelling(scope) -> pd.DataFrame:
    """:func:`employment.modelling_table` of :func:`population` (covariates over the whole export)."""
    def compute():
        table = employment.modelling_table(scope.table("participants"),
                                           scope.table("work_contracts"), population(scope))
        return table

    return _cached(scope, "modelling", compute)


def distribution(scope, by: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`employment.situation_distribution` of :func:`population`."""
    key = "distribution:" + ",".join(by)
    return _cached(scope, key, lambda: employment.situation_distribution(
        population(scope), _participants(scope), by=tuple(by)))


def _participants(scope) -> pd.DataFrame:
    """The participants table with ``diplome_faible`` (missing when the diploma is unknown)."""
    def compute():
        people = scope.table("participants")
        diploma = people["diplome"].astype(object)
        low = diploma.isin(employment.LOW_DIPLOMA).astype(object)
        low = low.where(diploma.notna() & ~diploma.isin(employment.UNKNOWN_DIPLOMA))
        return people.assign(diplome_faible=low)

    return _cached(scope, "participants", compute)


def pathway_contracts(scope) -> pd.DataFrame:
    """Work contracts in the territory of the period's beneficiaries, started before its end."""
    def compute():
        wc = scope.work_contracts
        people = set(scope.beneficiaries["participant_id"])
        started = wc["date_debut"] < pd.Timestamp(scope.period.end)
        return wc.loc[isin(wc["participant_id"], people) & started.fillna(False).astype(bool).to_numpy()]

    return _cached(scope, "pathway_contracts", compute)


def overall(scope) -> dict | None:
    """The overall six-month figures: counts, shares and Wilson intervals (None without outcomes)."""
    dist = distribution(scope)
    rows = dist.loc[dist["groupe"] == "ensemble"].set_index("situation")
    if rows.empty or int(rows["sorties"].iloc[0]) == 0:
        return None
    known = int(rows["connues"].iloc[0])
    counts = rows["effectif"].astype(int).to_dict()
    dynamic = sum(counts[s] for s in DYNAMIC)
    low, high = wilson_interval(dynamic, known)
    return {
        "sorties": int(rows["sorties"].iloc[0]), "connues": known,
        "inconnues": int(rows["inconnues"].iloc[0]),
        "part_inconnue": float(rows["part_inconnue"].iloc[0]),
        "effectifs": counts,
        "parts": rows["part"].to_dict(),
        "ic": {s: (rows.loc[s, "ic_bas"], rows.loc[s, "ic_haut"]) for s in rows.index},
        "dynamique": dynamic,
        "part_dynamique": dynamic / known if known else np.nan,
        "ic_dynamique": (low, high),
    }


def _share_publishable(count: int, total: int, k: int) -> bool:
    """A share reveals its count and its complement: both must be 0 or at least k."""
    return total >= k and not _small(count, k) and not _small(total - count, k)


# --- Publishing a table protected block by block ------------------------------------------------


def _publish(report, values: pd.DataFrame, mask: pd.DataFrame, name: str, caption: str, *,
             people: Sequence[str], percent: Sequence[str] = (), integers: Sequence[str] = (),
             columns: dict | None = None, notes: Sequence[str] = ()) -> HTML:
    """Publish an already protected table (values masked by ``mask``) as :meth:`Report.table` does.

    ``Report.table`` protects one table under one set of margins; a table made of blocks sharing a
    total row (the « Ensemble » of each breakdown) is protected block by block here, then published
    through the report's own formatting and files.
    """
    return report.publish_protected(values, mask, name, caption, people=people,
                                    percent=percent, integers=integers, columns=columns,
                                    notes=notes)


def _protect_blocks(report, frame: pd.DataFrame, block: str, total_key: str,
                    people: Sequence[str], margins: Margins,
                    derived: dict | None, family=None, label: str = "modalite",
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Protect each block of ``frame`` (rows sharing ``frame[block]``) with the total row.

    The total row (``frame[block] == total_key``, exactly one) is the sum of every block's rows:
    each block is protected with it as its ``total_row``; a total cell hidden in one block is hidden
    in all (hiding more never reveals more). Returns the masked values and the mask.

    ``family(code)``: the same frame for another territory; each block is then protected with
    the same block of the région and of every département (rows matched on ``block`` and
    ``label``), so that subtracting the départements' sheets from the région's report reveals
    no one.
    """
    frame = frame.reset_index(drop=True)
    is_total = frame[block] == total_key
    total_index = frame.index[is_total][0]
    masks = []
    total_masks = []
    others = {}
    if family is not None:
        for code in config.TERRITORIES:
            if code != report.territory:
                other = family(code).reset_index(drop=True)
                others[code] = other.set_index([block, label])
    for key in frame.loc[~is_total, block].unique():
        rows = frame.loc[is_total | (frame[block] == key)]
        if family is None:
            protected = report.protect(rows, people, derived=derived,
                                       margins=Margins(total_row=total_index,
                                                       row_total=margins.row_total,
                                                       nested=margins.nested))
        else:
            keyed = rows.set_index([block, label])
            total_label = keyed.index[list(rows.index).index(total_index)]
            part = {code: other.loc[(other.index.get_level_values(0) == key)
                                    | (other.index.get_level_values(0) == total_key)]
                    for code, other in others.items()}
            protected = report.protect(
                keyed, people, derived=derived,
                margins=Margins(total_row=total_label, row_total=margins.row_total,
                                nested=margins.nested),
                family=lambda code, part=part: part[code])
            protected = type(protected)(
                table=protected.table.set_axis(rows.index), mask=protected.mask.set_axis(rows.index),
                primary=protected.primary.set_axis(rows.index), k=protected.k)
        masks.append(protected.mask.drop(index=total_index))
        total_masks.append(protected.mask.loc[[total_index]])
    if not masks:
        protected = report.protect(frame, people, derived=derived,
                                   margins=Margins(row_total=margins.row_total,
                                                   nested=margins.nested))
        mask = protected.mask
    else:
        total_mask = pd.concat(total_masks).any().to_frame().T
        total_mask.index = [total_index]
        mask = pd.concat([total_mask, *masks]).reindex(frame.index)
    mask = mask.reindex(columns=frame.columns, fill_value=False).fillna(False).astype(bool)
    values = frame.copy()
    for column in mask.columns:
        if mask[column].any():
            values[column] = values[column].astype("float").where(~mask[column])
    return values, mask


# --- Key figures ---------------------------------------------------------------------------------


@needs(*TRACKING, "outcomes", label=PATHWAYS, quiet=True)
def key_figures(scope, report) -> None:
    """Record the durable-employment share, the dynamic and positive exits (Wilson intervals)."""
    k = report.k
    row = overall(scope)
    label = "en emploi durable 6 mois après la fin du dernier contrat d'insertion"
    if row is None or row["connues"] < k:
        report.key_figure(label, "–", f"moins de {k} sorties à la situation connue "
                          f"(fins de contrat {window_fr(scope)})")
        return
    known = row["connues"]
    durable = row["effectifs"]["emploi_durable"]
    unknown = (f"situation inconnue pour {percent_fr(row['part_inconnue'])} des sorties "
               "(exclues)" if not _small(row["inconnues"], k)
               else f"moins de {k} situations inconnues")
    if _share_publishable(durable, known, k):
        low, high = row["ic"]["emploi_durable"]
        report.key_figure(
            label, percent_fr(row["parts"]["emploi_durable"]),
            f"IC 95 % {percent_fr(low)} – {percent_fr(high)} ; {number_fr(durable)} personnes sur "
            f"{number_fr(known)} situations connues, fins de contrat {window_fr(scope)} ; {unknown}")
    else:
        report.key_figure(label, "s", f"effectif inférieur à {k} : non publié")
    dynamic = row["dynamique"]
    if _share_publishable(dynamic, known, k):
        low, high = row["ic_dynamique"]
        report.key_figure(
            "en emploi ou en formation 6 mois après (emploi durable, de transition "
            "ou sortie positive)", percent_fr(row["part_dynamique"]),
            f"IC 95 % {percent_fr(low)} – {percent_fr(high)} ; « sorties dynamiques » au sens de "
            "l'IAE, parmi les situations connues")
    positive = row["effectifs"]["sortie_positive"]
    if _share_publishable(positive, known, k):
        low, high = row["ic"]["sortie_positive"]
        report.key_figure(
            "en sortie positive (formation qualifiante, embauche par une autre SIAE)",
            percent_fr(row["parts"]["sortie_positive"]),
            f"IC 95 % {percent_fr(low)} – {percent_fr(high)} ; parmi les situations connues")
    published = _published_reference(scope)
    if published is not None:
        report.key_figure(
            f"Repère publié : {published['source']}, {published['annee']}",
            percent_fr(published["part_cdi_cdd"], 0),
            f"des {number_fr(published['personnes'])} personnes suivies en CDI ou CDD et "
            f"{percent_fr(published['part_formation'], 0)} en formation ; définition plus large "
            "que l'emploi durable (CDD de toute durée), un seul chantier : ordre de grandeur, "
            "pas une comparaison terme à terme")


def _published_reference(scope) -> dict | None:
    """The published outcome figure that applies to the territory (Val-de-Marne only)."""
    for figure in getattr(config, "GRAND_PARIS_OUTCOMES_PUBLISHED", {}).values():
        if figure["departement"] == scope.territory:
            return figure
    return None


@needs(*TRACKING, "outcomes", label=PATHWAYS)
def summary(scope, report) -> list:
    """Key sentences: the population, the durable share, the comparison where one applies."""
    k = report.k
    row = overall(scope)
    if row is None or row["connues"] < k:
        return [Markdown(f"Moins de {k} personnes dont le dernier contrat d'insertion s'est "
                         f"terminé {window_fr(scope)} ont une situation connue six mois plus tard "
                         f"dans le territoire {scope.name} : aucun résultat n'est publié.")]
    known = row["connues"]
    text = [f"Parmi les personnes ayant travaillé sous clause sociale dans le territoire "
            f"{scope.name} et dont le dernier contrat d'insertion s'est terminé "
            f"{window_fr(scope)}, {number_fr(known)} ont une situation connue six mois plus tard."]
    parts = row["parts"]
    if all(_share_publishable(row["effectifs"][s], known, k) for s in employment.SITUATIONS):
        text.append(
            f"**{percent_fr(parts['emploi_durable'])}** sont en emploi durable (CDI, CDD ou mission "
            f"de 6 mois ou plus, création d'entreprise), {percent_fr(parts['emploi_transition'])} "
            f"en emploi de transition, {percent_fr(parts['sortie_positive'])} en sortie positive "
            f"(formation qualifiante, autre SIAE) et {percent_fr(parts['sans_emploi'])} sans "
            "emploi.")
    published = _published_reference(scope)
    if published is not None and _share_publishable(
            row["effectifs"]["emploi_durable"] + row["effectifs"]["emploi_transition"], known, k):
        both = parts["emploi_durable"] + parts["emploi_transition"]
        text.append(
            f"Pour repère, {published['source']} publiait pour {published['annee']} "
            f"{percent_fr(published['part_cdi_cdd'], 0)} de personnes en CDI ou CDD et "
            f"{percent_fr(published['part_formation'], 0)} en formation ; ici, emploi durable et "
            f"emploi de transition réunis représentent {percent_fr(both)} des situations connues "
            "(définitions et populations différentes : ordre de grandeur seulement).")
    return [Markdown(" ".join(text))]


# --- Situations six months after ---------------------------------------------------------------


OUTCOME_COLUMNS_FR = {
    "groupe": "Caractéristique",
    "modalite": "Modalité",
    "sorties": "Sorties suivies",
    "inconnues": "Situation inconnue",
    "connues": "Situation connue",
    "emploi_durable": "En emploi durable",
    "part": "Part en emploi durable",
    "ic_bas": "IC 95 % bas",
    "ic_haut": "IC 95 % haut",
    "libelle": "Situation à 6 mois",
    "effectif": "Personnes",
}


def _too_few(scope, report) -> list | None:
    row = overall(scope)
    if row is None or row["connues"] < report.k:
        return [Markdown(f"Moins de {report.k} sorties à la situation connue (fins de contrat "
                         f"{window_fr(scope)}) dans le territoire {scope.name} : rien n'est "
                         "publié, pour respecter le secret statistique.")]
    return None


@needs(*TRACKING, "outcomes", label=PATHWAYS)
def situations_table(scope, report) -> list:
    """The overall distribution of the six-month situation, with Wilson intervals."""
    empty = _too_few(scope, report)
    if empty:
        return empty
    row = overall(scope)
    dist = distribution(scope)
    rows = dist.loc[dist["groupe"] == "ensemble", ["situation", "libelle", "effectif", "part",
                                                    "ic_bas", "ic_haut"]].set_index("situation")
    total = pd.DataFrame({"libelle": ["Ensemble des situations connues"],
                          "effectif": [row["connues"]], "part": [1.0], "ic_bas": [np.nan],
                          "ic_haut": [np.nan]}, index=["connues"])
    table = pd.concat([rows, total])
    return [report.table(
        table, "situation_6_mois",
        f"Situation six mois après la fin du dernier contrat d'insertion, {scope.name} "
        f"(fins de contrat {window_fr(scope)})",
        people=("effectif",), derived={"part": "effectif", "ic_bas": "effectif",
                                       "ic_haut": "effectif"},
        margins=Margins(total_row="connues"),
        percent=("part", "ic_bas", "ic_haut"), integers=("effectif",),
        columns={**OUTCOME_COLUMNS_FR, "part": "Part (situations connues)"},
        notes=["Parts calculées sur les situations connues ; intervalle de Wilson à 95 %.",
               _unknown_note(row, report.k)])]


def _unknown_note(row: dict, k: int) -> str:
    if _small(row["inconnues"], k):
        return f"Situations inconnues : moins de {k}, exclues des parts."
    return (f"Situations inconnues : {percent_fr(row['part_inconnue'])} des sorties suivies, "
            "exclues des parts.")


def _durable_by_group(scope) -> pd.DataFrame:
    """Exits, known situations and durable jobs by group (exit year, sex, age…), total first."""
    by = [g for g in GROUPS_FR if g != "ensemble"]
    dist = distribution(scope, by)
    durable = dist.loc[dist["situation"] == "emploi_durable",
                       ["groupe", "modalite", "sorties", "inconnues", "connues", "effectif"]]
    return durable.rename(columns={"effectif": "emploi_durable"}).reset_index(drop=True)


@needs(*TRACKING, "outcomes", label=PATHWAYS)
def outcomes_table(scope, report) -> list:
    """The overall distribution, then durable employment by group (exit year, sex, age…)."""
    out = situations_table(scope, report)
    if _too_few(scope, report):
        return out
    durable = _durable_by_group(scope)
    values, mask = _protect_blocks(
        report, durable, "groupe", "ensemble",
        people=("sorties", "inconnues", "connues", "emploi_durable"),
        margins=Margins(row_total="sorties", nested=(("connues", ("emploi_durable",)),)),
        derived=None, family=lambda code: _durable_by_group(scope.sibling(code)))
    connues = durable["connues"].astype(float)
    part = durable["emploi_durable"].astype(float) / connues.where(connues > 0)
    low, high = wilson_interval(durable["emploi_durable"], durable["connues"])
    hidden = mask["emploi_durable"] | mask["connues"]
    values["part"] = part.where(~hidden)
    values["ic_bas"] = pd.Series(low, index=values.index).where(~hidden)
    values["ic_haut"] = pd.Series(high, index=values.index).where(~hidden)
    for column in ("part", "ic_bas", "ic_haut"):
        mask[column] = hidden
    values["groupe"] = values["groupe"].map(GROUPS_FR)
    values["modalite"] = values["modalite"].map(_modality)
    return out + [_publish(
        report, values, mask, "emploi_durable_par_groupe",
        f"Emploi durable six mois après la fin du dernier contrat, par caractéristique, "
        f"{scope.name} (fins de contrat {window_fr(scope)})",
        people=("sorties", "inconnues", "connues", "emploi_durable"),
        percent=("part", "ic_bas", "ic_haut"),
        integers=("sorties", "inconnues", "connues", "emploi_durable"),
        columns=OUTCOME_COLUMNS_FR,
        notes=["Part parmi les situations connues, intervalle de Wilson à 95 %. Sexe, âge, QPV, "
               "formation et diplôme : caractéristiques enregistrées par les facilitateurs ; une "
               "valeur manquante forme le groupe « Non renseigné ». Ces écarts sont bruts : "
               "le modèle plus bas les ajuste les uns sur les autres."])]


def _protected_shares(report, table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a distribution (one block) whose count may be drawn (mask of the table's control)."""
    frame = table[["effectif"]].copy()
    total = pd.DataFrame({"effectif": [int(table["connues"].iloc[0])]}, index=["__total__"])
    protected = report.protect(pd.concat([frame, total]), ("effectif",),
                               margins=Margins(total_row="__total__"))
    return ~protected.mask["effectif"].drop(index="__total__")


@needs(*TRACKING, "outcomes", label=PATHWAYS)
def outcomes_chart(scope, report) -> list:
    """Situations six months after (bars with 95 % intervals), then durable share by exit year."""
    empty = _too_few(scope, report)
    if empty:
        return empty
    import matplotlib.pyplot as plt

    apply_style()
    dist = distribution(scope)
    rows = dist.loc[dist["groupe"] == "ensemble"].set_index("situation")
    shown = _protected_shares(report, rows)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    labels = [employment.SITUATIONS[s] for s in rows.index]
    ypos = np.arange(len(rows))[::-1]
    for y, (code, row) in zip(ypos, rows.iterrows()):
        if not shown[code]:
            ax.text(0.005, y, "s (secret statistique)", va="center", color="#555555")
            continue
        color = PALETTE["main"] if code == "emploi_durable" else PALETTE["band"]
        ax.barh(y, row["part"], color=color, height=0.6)
        ax.errorbar(row["part"], y, xerr=[[row["part"] - row["ic_bas"]],
                                          [row["ic_haut"] - row["part"]]],
                    color="#333333", capsize=4, linewidth=1)
        ax.text(row["ic_haut"] + 0.01, y, percent_fr(row["part"]), va="center")
    ax.set_yticks(ypos, labels)
    top = float(np.nanmax(rows["ic_haut"].where(shown))) if shown.any() else 0.5
    ax.set_xlim(0, min(1.0, top + 0.12))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: percent_fr(v, 0)))
    ax.set_xlabel("Part des situations connues")
    ax.grid(axis="y", visible=False)
    ax.set_title(f"Situation 6 mois après la fin du dernier contrat — {scope.name}")
    fig.tight_layout()
    out = [report.figure(
        fig,
        alt=(f"Barres horizontales : part des sorties en emploi durable, en emploi de transition, "
             f"en sortie positive et sans emploi six mois après la fin du dernier contrat "
             f"d'insertion, {scope.name}, avec leurs intervalles de confiance à 95 %."),
        caption=(f"Situation six mois après la fin du dernier contrat d'insertion, {scope.name}, "
                 f"fins de contrat {window_fr(scope)}. Parts des situations connues ; traits : "
                 "intervalle de confiance à 95 % (Wilson). Source : exports des facilitateurs."))]
    by_year = distribution(scope, ["annee_sortie"])
    years = by_year.loc[(by_year["groupe"] == "annee_sortie")
                        & (by_year["situation"] == "emploi_durable")].copy()
    years = years.loc[years["modalite"] != employment.NOT_STATED]
    if years.empty:
        return out
    years["annee"] = years["modalite"].astype(int)
    ok = [(_share_publishable(int(r.effectif), int(r.connues), report.k)
           and r.connues >= report.k) for r in years.itertuples()]
    years = years.loc[ok]
    if len(years) < 2:
        return out
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.fill_between(years["annee"], years["ic_bas"], years["ic_haut"], color=PALETTE["band"],
                    alpha=0.5, linewidth=0, label="Intervalle de confiance à 95 %")
    ax.plot(years["annee"], years["part"], marker="o", color=PALETTE["main"], linewidth=2,
            label="Part en emploi durable à 6 mois")
    ax.set_ylim(0, min(1.0, float(years["ic_haut"].max()) + 0.1))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: percent_fr(v, 0)))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("Année de fin du dernier contrat d'insertion")
    ax.set_ylabel("Part des situations connues")
    ax.set_title(f"Emploi durable 6 mois après, par année de sortie — {scope.name}")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.38), ncol=2, fontsize=9)
    fig.tight_layout()
    out.append(report.figure(
        fig,
        alt=(f"Courbe de la part des sorties en emploi durable six mois après, par année de fin "
             f"du dernier contrat, {scope.name}, {years['annee'].min()}-{years['annee'].max()}, "
             "avec son intervalle de confiance à 95 %."),
        caption=(f"Part en emploi durable six mois après la fin du dernier contrat, par année de "
                 f"sortie, {scope.name}. Bande : intervalle de confiance à 95 % (Wilson). Seules "
                 f"les années d'au moins {report.k} situations connues sont tracées.")))
    return out


# --- Time to the first durable job ---------------------------------------------------------------


def _grid(curves: pd.DataFrame, table: pd.DataFrame, by: str, k: int) -> pd.DataFrame:
    """Monthly readings of each group's curve, cut where fewer than k people remain followed."""
    values = employment._group_values(table.loc[table["duree_jours"].notna()], by)
    usable = table.loc[table["duree_jours"].notna()]
    frames = []
    for modality, part in curves.groupby("modalite", sort=False):
        months = usable.loc[(values == modality).to_numpy(), "duree_mois"].to_numpy(float)
        reading = pd.concat([employment.survival_at(part, m) for m in range(SURVIVAL_HORIZON + 1)],
                            ignore_index=True)
        reading["suivis"] = [int((months >= m).sum()) for m in reading["mois"]]
        frames.append(reading.loc[reading["suivis"] >= k])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@needs(*TRACKING, "outcomes", label=PATHWAYS)
def survival_chart(scope, report, by: str = SURVIVAL_GROUP) -> list:
    """Kaplan–Meier share in durable employment by months since the last contract, by group."""
    empty = _too_few(scope, report)
    if empty:
        return empty
    import matplotlib.pyplot as plt

    k = report.k
    table = modelling(scope)
    usable = table.loc[table["duree_jours"].notna()]
    values = employment._group_values(usable, by)
    counts = pd.DataFrame({"modalite": values.to_numpy(),
                           "evenement": usable["evenement"].to_numpy()})
    stats = counts.groupby("modalite")["evenement"].agg(["size", "sum"])
    drawable = [m for m, r in stats.iterrows()
                if r["size"] >= k and r["sum"] >= k and r["size"] - r["sum"] >= k]
    if not drawable:
        return [Markdown(f"Trop peu de personnes (moins de {k} par groupe, ou moins de {k} "
                         "emplois durables) pour tracer les courbes de délai d'accès à l'emploi "
                         "durable.")]
    curves = employment.kaplan_meier(usable, by=by)
    grid = _grid(curves.loc[curves["modalite"].isin(drawable)], usable, by, k)
    apply_style()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    colors = [PALETTE["main"], "#e67e22", "#27ae60", "#8e44ad"]
    for color, (modality, part) in zip(colors, grid.groupby("modalite", sort=False)):
        label = f"{GROUPS_FR.get(by, by)} : {_modality(modality).lower()}"
        ax.step(part["mois"], part["emploi_durable_cumule"], where="post", color=color,
                linewidth=2, label=label)
        ax.fill_between(part["mois"], 1 - part["ic_haut"].fillna(part["survie"]),
                        1 - part["ic_bas"].fillna(part["survie"]), step="post", color=color,
                        alpha=0.18, linewidth=0)
    ax.axvline(6, color=PALETTE["target_alt"], linestyle="--", linewidth=1)
    ax.text(6.3, 0.02, "6 mois", color=PALETTE["target_alt"])
    ax.set_xlim(0, SURVIVAL_HORIZON)
    ax.set_ylim(0, min(1.0, float(grid["emploi_durable_cumule"].max()) + 0.1))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: percent_fr(v, 0)))
    ax.set_xlabel("Mois depuis la fin du dernier contrat d'insertion")
    ax.set_ylabel("Part ayant accédé à un emploi durable")
    ax.set_title(f"Délai d'accès à un premier emploi durable — {scope.name}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    out = [report.figure(
        fig,
        alt=(f"Courbes en escalier de la part des personnes ayant accédé à un emploi durable "
             f"selon le nombre de mois écoulés depuis la fin du dernier contrat d'insertion, "
             f"{scope.name}, selon qu'elles ont suivi ou non une formation qualifiante, avec "
             "leurs intervalles de confiance à 95 %."),
        caption=(f"Accès à un premier emploi durable depuis la fin du dernier contrat (estimateur "
                 f"de Kaplan-Meier, 1 − survie), par {GROUPS_FR.get(by, by).lower()}, "
                 f"{scope.name}. Bandes : intervalles de confiance à 95 %. Lecture mois par mois ; "
                 f"une courbe s'arrête quand moins de {k} personnes restent suivies. Une personne "
                 "sans emploi durable connu est suivie jusqu'à la date de l'export."))]
    readings = []
    for modality in ["ensemble", *drawable]:
        if modality == "ensemble":
            part = employment.kaplan_meier(usable)
            n = len(usable)
        else:
            part = curves.loc[curves["modalite"] == modality]
            n = int(stats.loc[modality, "size"])
        row = {"modalite": "Ensemble" if modality == "ensemble" else _modality(modality),
               "personnes": n}
        for m in SURVIVAL_MONTHS:
            months = usable["duree_mois"].to_numpy(float)
            if modality != "ensemble":
                months = months[(values == modality).to_numpy()]
            if (months >= m).sum() >= k:
                row[f"a_{m}_mois"] = float(
                    employment.survival_at(part, m)["emploi_durable_cumule"].iloc[0])
            else:
                row[f"a_{m}_mois"] = np.nan
        readings.append(row)
    frame = pd.DataFrame(readings)
    months_cols = [f"a_{m}_mois" for m in SURVIVAL_MONTHS]
    out.append(report.table(
        frame, "emploi_durable_delai",
        f"Part ayant accédé à un emploi durable 6, 12 et 24 mois après la fin du dernier contrat "
        f"(Kaplan-Meier), {scope.name}",
        people=("personnes",), derived={c: "personnes" for c in months_cols},
        percent=months_cols, integers=("personnes",),
        columns={"modalite": GROUPS_FR.get(by, by), "personnes": "Personnes suivies",
                 **{f"a_{m}_mois": f"À {m} mois" for m in SURVIVAL_MONTHS}},
        notes=["« – » : moins de " f"{k} personnes encore suivies à cette durée. Les groupes de "
               f"moins de {k} personnes ou de moins de {k} emplois durables ne sont pas "
               "montrés."]))
    return out


# --- Models --------------------------------------------------------------------------------------


MODEL_CAVEAT = (
    "**À lire avec prudence.** Ces rapports décrivent des *associations* entre une "
    "caractéristique et l'accès à l'emploi durable, ajustées sur les autres variables du modèle ; "
    "ce ne sont pas des effets. Les données sont observationnelles : les personnes orientées vers "
    "une formation qualifiante, un parcours plus long ou un contrat chez l'entreprise attributaire "
    "le sont pour des raisons (motivation, projet, besoins de l'employeur) qui pèsent aussi sur "
    "leurs chances d'emploi. On écrit donc « est associé à », jamais « augmente » ni « fait "
    "passer ».")


def _model_problems(table: pd.DataFrame, covariates: list[str], outcome: str, k: int,
                    with_coordination: bool) -> list[str]:
    """Why a model cannot be published: levels under k people, k events or k non-events."""
    rows = table.dropna(subset=[*covariates, outcome])
    problems = []
    events = rows[outcome].astype(float)
    n_params = len(covariates) + (rows["coordination"].nunique() - 1 if with_coordination else 0)
    if min(events.sum(), len(rows) - events.sum()) < EVENTS_PER_PARAMETER * max(n_params, 1):
        problems.append(f"moins de {EVENTS_PER_PARAMETER} emplois durables (et autant de "
                        "situations sans emploi durable) par variable du modèle")
    checks = {c: rows[c] for c in covariates if c != "heures_100"}
    if with_coordination:
        for level in sorted(rows["coordination"].unique()):
            checks[f"coordination {level}"] = (rows["coordination"] == level).astype(float)
    for name, column in checks.items():
        for level in (0.0, 1.0):
            here = column.astype(float) == level
            n, e = int(here.sum()), float(events[here].sum())
            if n < k or e < k or n - e < k:
                label = employment.COVARIATES.get(name, name)
                problems.append(f"« {label} » : une modalité compte moins de {k} personnes, "
                                f"{k} emplois durables ou {k} situations sans")
                break
    return problems


def model_tables(scope, report) -> pd.DataFrame | list[str]:
    """Odds ratios (logistic) and hazard ratios (Cox) side by side, or why they are not published."""
    def compute():
        table = modelling(scope).copy()
        with_coordination = scope.is_region
        if not with_coordination:
            table["coordination"] = scope.territory  # one level: no coordination term
        covariates = list(employment.COVARIATES)
        known = table.loc[table["connue"].astype(bool)]
        problems = _model_problems(known, covariates, "emploi_durable_6_mois", report.k,
                                   with_coordination)
        if len(known) < report.k:
            problems = [f"moins de {report.k} situations connues"]
        if problems:
            return problems
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logit = employment.durable_at_six_months(table, link="logit")
            cox = employment.cox_model(table)
        logit = logit.loc[logit["variable"] != "const"].set_index("variable")
        cox = cox.set_index("variable")
        out = pd.DataFrame({
            "libelle": logit["libelle"],
            "or": logit["rapport"], "or_bas": logit["rapport_ic_bas"],
            "or_haut": logit["rapport_ic_haut"],
            "hr": cox["rapport"], "hr_bas": cox["rapport_ic_bas"], "hr_haut": cox["rapport_ic_haut"],
        })
        out.attrs["n_logit"], out.attrs["events_logit"] = int(logit["n"].iloc[0]), \
            int(logit["evenements"].iloc[0])
        out.attrs["n_cox"], out.attrs["events_cox"] = int(cox["n"].iloc[0]), \
            int(cox["evenements"].iloc[0])
        return out.reset_index()

    return _cached(scope, f"models:{report.k}", compute)


def _forest(table: pd.DataFrame, title: str):
    import matplotlib.pyplot as plt

    apply_style()
    rows = table.iloc[::-1].reset_index(drop=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.42 * len(rows) + 1.6), sharey=True)
    for ax, (col, low, high, name) in zip(axes, [("or", "or_bas", "or_haut", "Rapport de cotes"),
                                                ("hr", "hr_bas", "hr_haut",
                                                 "Rapport de risques instantanés")]):
        y = np.arange(len(rows))
        ax.errorbar(rows[col], y, xerr=[rows[col] - rows[low], rows[high] - rows[col]],
                    fmt="o", color=PALETTE["main"], ecolor="#555555", capsize=3)
        ax.axvline(1, color=PALETTE["target"], linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ticks = [t for t in (0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4)
                 if rows[low].min() * 0.9 <= t <= rows[high].max() * 1.1 or t == 1]
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: number_fr(v, 2)))
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_title(name, fontsize=11)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(np.arange(len(rows)), rows["libelle"])
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


@needs(*TRACKING, "outcomes", label=PATHWAYS)
def models(scope, report) -> list:
    """Logistic odds ratios and Cox hazard ratios with 95 % intervals: table, forest plot, caveat."""
    empty = _too_few(scope, report)
    if empty:
        return empty
    result = model_tables(scope, report)
    if isinstance(result, list):
        reasons = "".join(f"\n- {r}" for r in result)
        return [Markdown(f"Les modèles ne sont pas publiés pour le territoire {scope.name} : "
                         "trop peu de personnes pour des estimations stables et sans risque "
                         f"d'identification.{reasons}\n\nLes parts brutes ci-dessus restent "
                         "lisibles ; le modèle régional donne les associations ajustées.")]
    lead = Markdown(
        f"Deux modèles décrivent, à caractéristiques égales par ailleurs, ce qui va avec l'accès à "
        f"l'emploi durable : une régression logistique de la situation à 6 mois "
        f"({number_fr(result.attrs['n_logit'])} personnes à la situation connue, dont "
        f"{number_fr(result.attrs['events_logit'])} en emploi durable) et un modèle de Cox du délai "
        f"jusqu'au premier emploi durable ({number_fr(result.attrs['n_cox'])} personnes, "
        f"{number_fr(result.attrs['events_cox'])} emplois durables observés). Un rapport "
        "supérieur à 1 signifie que la caractéristique est associée à un accès plus fréquent "
        "(logistique) ou plus rapide (Cox) à l'emploi durable ; inférieur à 1, moins fréquent ou "
        "plus lent. Les heures sont comptées par tranche de 100 heures."
        + (" Les coordinations sont comparées à Paris (75)." if scope.is_region else ""))
    figure = report.figure(
        _forest(result, f"Associations avec l'accès à l'emploi durable — {scope.name}"),
        alt=(f"Graphique en forêt : rapports de cotes (régression logistique) et rapports de "
             f"risques instantanés (modèle de Cox) de l'accès à l'emploi durable pour chaque "
             f"caractéristique, {scope.name}, avec leurs intervalles de confiance à 95 %, sur une "
             "échelle logarithmique centrée sur 1."),
        caption=("Rapports de cotes (emploi durable à 6 mois) et rapports de risques instantanés "
                 "(délai jusqu'au premier emploi durable), avec intervalles de confiance à 95 % ; "
                 "ligne rouge : 1 (aucune association). Associations ajustées, pas des effets."))
    table = report.table(
        result.drop(columns=["variable"]), "modeles_emploi_durable",
        f"Associations avec l'accès à l'emploi durable, modèles ajustés, {scope.name}",
        decimals={c: 2 for c in ("or", "or_bas", "or_haut", "hr", "hr_bas", "hr_haut")},
        columns={"libelle": "Caractéristique",
                 "or": "Rapport de cotes (6 mois)", "or_bas": "IC 95 % bas", "or_haut":
                 "IC 95 % haut", "hr": "Rapport de risques (Cox)", "hr_bas": "IC 95 % bas (Cox)",
                 "hr_haut": "IC 95 % haut (Cox)"},
        notes=["Régression logistique (emploi durable à 6 mois, situations connues) et modèle de "
               "Cox (délai, censuré à la date de l'export), mêmes variables, cas complets ; "
               "intervalles de Wald à 95 %.",
               "Associations ajustées sur les autres variables, données observationnelles : ce "
               "ne sont pas des effets."])
    return [lead, figure, table, Markdown(MODEL_CAVEAT)]


# --- Pathways ------------------------------------------------------------------------------------


def _pathway_fr(text: str) -> str:
    return pw.ARROW.join(CONTRACT_TYPES_SHORT.get(step, step) for step in text.split(pw.ARROW))


@needs(*TRACKING, label=PATHWAYS)
def pathways_table(scope, report) -> list:
    """The commonest sequences of contract types (first four contracts), each followed by ≥ k."""
    k = report.k
    wc = pathway_contracts(scope)
    people = wc["participant_id"].nunique()
    if people < k:
        return [Markdown(f"Moins de {k} bénéficiaires sur la période dans le territoire "
                         f"{scope.name} : les parcours ne sont pas publiés.")]
    per_person = pw.participant_pathways(wc)
    lead = Markdown(
        f"Les {number_fr(people)} bénéficiaires de la période ({scope.period.label_fr}) ont eu, "
        f"depuis le début des exports et jusqu'à la fin de la période, en médiane "
        f"{number_fr(per_person['contrats'].median(), 0)} contrat(s) de travail dans le "
        f"territoire, {number_fr(per_person['heures'].median(), 0)} heures réalisées et un "
        f"parcours de {number_fr(per_person['duree_parcours_jours'].median() / 30.44, 1)} mois "
        "du premier début à la dernière fin de contrat.")
    common = pw.common_pathways(wc)
    shown = common.loc[common["beneficiaires"] >= k].head(TOP_PATHWAYS)
    if shown.empty:
        return [lead, Markdown(f"Aucun parcours n'est suivi par au moins {k} personnes.")]
    others = people - int(shown["beneficiaires"].sum())
    table = shown[["parcours", "etapes", "beneficiaires", "dont_tronques"]].copy()
    table["parcours"] = table["parcours"].map(_pathway_fr)
    table.index = [f"p{i}" for i in range(len(table))]
    rest = pd.DataFrame({"parcours": [f"Autres parcours (chacun suivi par moins de {k} "
                                      "personnes, ou au-delà du rang "
                                      f"{TOP_PATHWAYS})"],
                         "etapes": [np.nan], "beneficiaires": [others], "dont_tronques": [
                             int(common["dont_tronques"].sum() - shown["dont_tronques"].sum())]},
                        index=["autres"])
    total = pd.DataFrame({"parcours": ["Ensemble des bénéficiaires"], "etapes": [np.nan],
                          "beneficiaires": [people],
                          "dont_tronques": [int(common["dont_tronques"].sum())]},
                         index=["ensemble"])
    table = pd.concat([table, rest, total])
    table["part"] = table["beneficiaires"] / people
    return [lead, report.table(
        table, "parcours_frequents",
        f"Parcours les plus fréquents : types des quatre premiers contrats, bénéficiaires "
        f"({scope.period.label_fr}), {scope.name}",
        people=("beneficiaires", "dont_tronques"), derived={"part": "beneficiaires"},
        margins=Margins(total_row="ensemble", nested=(("beneficiaires", ("dont_tronques",)),)),
        percent=("part",), integers=("etapes", "beneficiaires", "dont_tronques"),
        columns={"parcours": "Parcours (types de contrat successifs)", "etapes": "Contrats",
                 "beneficiaires": "Bénéficiaires", "dont_tronques": "dont plus de 4 contrats",
                 "part": "Part des bénéficiaires"},
        notes=[f"Seuls les parcours suivis par au moins {k} personnes sont nommés. Un parcours "
               "est coupé à ses quatre premiers contrats ; il commence au premier contrat "
               "présent dans les exports."])]


@needs(*TRACKING, label=PATHWAYS)
def transitions(scope, report) -> list:
    """Transitions between consecutive contract types: protected counts and a row-share heat map."""
    k = report.k
    wc = pathway_contracts(scope)
    tidy = pw.transition_matrix(wc)
    if tidy.empty or tidy["transitions"].sum() < k:
        return [Markdown(f"Moins de {k} passages d'un contrat au suivant sur la période : la "
                         "matrice des transitions n'est pas publiée.")]
    matrix = pw.as_matrix(tidy).astype("int64")
    order = [t for t in CONTRACT_TYPES_FR if t in set(matrix.index) | set(matrix.columns)]
    matrix = matrix.reindex(index=[t for t in order if t in matrix.index],
                            columns=order, fill_value=0)
    matrix.columns.name = None
    matrix.index.name = "type_depart"
    counts = list(matrix.columns)
    matrix["ensemble"] = matrix[counts].sum(axis=1)
    table = matrix.reset_index().rename(columns={"type_depart": "depart"})
    table["depart"] = table["depart"].map(CONTRACT_TYPES_FR)
    table.index = list(matrix.index)
    protected = report.protect(table, (*counts, "ensemble"), margins=Margins(row_total="ensemble"))
    shares = matrix[counts].div(matrix["ensemble"].where(matrix["ensemble"] > 0), axis=0)
    hidden = protected.mask[counts].to_numpy()

    import matplotlib.pyplot as plt

    apply_style()
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(matrix) + 2))
    data = np.ma.masked_array(shares.to_numpy(float), mask=hidden)
    image = ax.imshow(data, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            text = "s" if hidden[i, j] else percent_fr(shares.iat[i, j], 0)
            value = 0 if hidden[i, j] else shares.iat[i, j]
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if value > 0.55 else "#222222")
    ax.set_xticks(range(len(counts)), [CONTRACT_TYPES_SHORT[c] for c in counts], rotation=30,
                  ha="right")
    ax.set_yticks(range(len(matrix)), [CONTRACT_TYPES_SHORT[c] for c in matrix.index])
    ax.set_xlabel("Contrat suivant")
    ax.set_ylabel("Contrat précédent")
    ax.grid(False)
    fig.colorbar(image, ax=ax, format=plt.FuncFormatter(lambda v, _: percent_fr(v, 0)),
                 label="Part des passages depuis le contrat précédent")
    ax.set_title(f"D'un contrat d'insertion au suivant — {scope.name}")
    fig.tight_layout()
    figure = report.figure(
        fig,
        alt=(f"Carte de chaleur : pour chaque type de contrat, part des passages vers chaque type "
             f"de contrat suivant, {scope.name} ; les cases sous le seuil de secret sont marquées "
             "s."),
        caption=("Transitions entre types de contrat consécutifs d'une même personne (parts en "
                 f"ligne). s : secret statistique (moins de {k} passages ou permettant de le "
                 "recalculer). Une transition dit ce qui a suivi, pas pourquoi."))
    return [figure, report.table(
        table, "transitions_contrats",
        f"Passages d'un type de contrat au suivant, bénéficiaires ({scope.period.label_fr}), "
        f"{scope.name}",
        people=(*counts, "ensemble"), margins=Margins(row_total="ensemble"),
        integers=(*counts, "ensemble"),
        columns={"depart": "Contrat précédent", "ensemble": "Ensemble",
                 **{c: CONTRACT_TYPES_SHORT[c] for c in counts}},
        notes=["Nombre de passages d'un contrat au suivant (une personne avec n contrats en fait "
               "n − 1) ; contrats ordonnés par date de début."])]


def last_contract_situations(scope) -> pd.DataFrame:
    """People whose last insertion contract ended in the window, by type of that last contract
    (rows, :data:`CONTRACT_TYPES_FR` order) and known situation six months later (columns, the
    codes of :data:`employment.SITUATIONS`), with ``ensemble`` the known situations of the row.

    The last contract is the one with the latest ``date_fin`` (ties: the latest ``date_debut``)
    among the person's work contracts kept in the warehouse, as
    :func:`employment.modelling_table` takes it; a person without a kept contract falls under
    « Non renseigné ». Unknown situations are left out, as in :func:`situations_table`, so each
    column adds up to that table's count.
    """
    def compute():
        keys = ["coordination", "participant_id"]
        people = population(scope)[keys + ["situation_6_mois"]]
        wc = scope.table("work_contracts")[keys + ["type_contrat", "date_debut", "date_fin"]]
        last = (wc.sort_values(keys + ["date_fin", "date_debut"], kind="stable")
                .groupby(keys).tail(1).set_index(keys)["type_contrat"])
        frame = people.join(last.rename("dernier_contrat"), on=keys)
        kind = frame["dernier_contrat"].astype(object)
        kind = kind.where(kind.isin(list(CONTRACT_TYPES_FR)), pw.UNKNOWN)
        situation = frame["situation_6_mois"].astype(object)
        known = situation.isin(list(employment.SITUATIONS)).to_numpy()
        counts = pd.crosstab(kind[known], situation[known])
        order = [t for t in CONTRACT_TYPES_FR if t in counts.index]
        counts = counts.reindex(index=order, columns=list(employment.SITUATIONS), fill_value=0)
        counts = counts.astype("int64")
        counts["ensemble"] = counts.sum(axis=1)
        counts.index.name = None
        counts.columns.name = None
        return counts

    return _cached(scope, "last_contract_situations", compute)


@needs(*TRACKING, "outcomes", label=PATHWAYS)
def last_contract_outcomes(scope, report) -> list:
    """From the type of the last insertion contract to the situation six months later: protected
    counts and a stacked bar chart of the row shares (the site draws it as a Sankey)."""
    empty = _too_few(scope, report)
    if empty:
        return empty
    counts = last_contract_situations(scope)
    situations = list(employment.SITUATIONS)
    table = counts.copy()
    table.insert(0, "dernier", [CONTRACT_TYPES_FR[t] for t in counts.index])
    margins = Margins(row_total="ensemble", shared_columns=(*situations, "ensemble"))
    protected = report.protect(table, (*situations, "ensemble"), margins=margins)
    hidden = protected.mask[situations].to_numpy()
    shares = counts[situations].div(counts["ensemble"].where(counts["ensemble"] > 0), axis=0)

    import matplotlib.pyplot as plt

    apply_style()
    fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(counts) + 2))
    left = np.zeros(len(counts))
    labels = [CONTRACT_TYPES_SHORT[t] for t in counts.index]
    colours = plt.get_cmap("cividis")(np.linspace(0.05, 0.9, len(situations)))  # colour-blind safe
    for j, code in enumerate(situations):
        width = np.where(hidden[:, j], 0.0, shares[code].fillna(0).to_numpy(float))
        ax.barh(labels, width, left=left, color=colours[j], edgecolor="white",
                label=employment.SITUATIONS[code])
        left = left + width
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: percent_fr(v, 0)))
    ax.set_xlabel("Part des situations connues six mois après (secret : part non dessinée)")
    ax.set_ylabel("Dernier contrat d'insertion")
    ax.legend(ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    ax.set_title(f"Du dernier contrat à la situation six mois après — {scope.name}")
    fig.tight_layout()
    figure = report.figure(
        fig,
        alt=(f"Barres empilées : pour chaque type de dernier contrat d'insertion, répartition des "
             f"situations connues six mois après (emploi durable, emploi de transition, sortie "
             f"positive, sans emploi), {scope.name} ; les parts sous secret ne sont pas "
             "dessinées."),
        caption=("Personnes dont le dernier contrat s'est terminé " + window_fr(scope)
                 + ", situations connues. s : secret statistique. Le type du dernier contrat "
                 "décrit le parcours ; il ne dit pas ce qui a causé la situation."))
    return [figure, report.table(
        table, "contrat_situation_6_mois",
        f"Du dernier contrat d'insertion à la situation six mois après, {scope.name} "
        f"(fins de contrat {window_fr(scope)})",
        people=(*situations, "ensemble"), margins=margins,
        integers=(*situations, "ensemble"),
        columns={"dernier": "Dernier contrat", "ensemble": "Ensemble",
                 **employment.SITUATIONS},
        notes=["Nombre de personnes par type de dernier contrat et situation connue six mois "
               "après ; chaque colonne s'additionne en l'effectif de la situation publié "
               "ci-dessus (situations inconnues exclues)."])]


# --- Jobs and training needs ---------------------------------------------------------------------


@needs(*TRACKING, label="métiers et besoins de formation")
def training_needs(scope, report) -> list:
    """Hours and beneficiaries of the period by ROME job family, with the trend of hours."""
    k = report.k
    active = scope.period_work_contracts
    if active["participant_id"].nunique() < k:
        return [Markdown(f"Moins de {k} bénéficiaires sur la période : les métiers ne sont pas "
                         "publiés.")]
    frame = active.assign(famille=training.job_family(active["code_rome"]).to_numpy())
    g = frame.groupby("famille")
    table = pd.DataFrame({"heures": g["heures_periode"].sum(), "contrats": g.size(),
                          "beneficiaires": g["participant_id"].nunique()})
    table["part_heures"] = table["heures"] / table["heures"].sum()
    # Whole years only: a quarterly sheet's growth stops at the last complete year.
    history = training.by_year(scope.work_contracts, "famille",
                               first_year=scope.period.first_year,
                               last_year=scope.period.last_complete_year)
    trend = training.trend(history).set_index("groupe")
    table["croissance"] = trend["croissance_annuelle_moyenne"].reindex(table.index)
    table = table.sort_values("heures", ascending=False).rename_axis(None)
    table.insert(0, "libelle", [training._label("famille", f) for f in table.index])
    table.insert(0, "famille", table.index)
    table.index = list(table.index)
    derived = {c: "beneficiaires" for c in ("heures", "contrats", "part_heures", "croissance")}
    protected = report.protect(table, ("beneficiaires",), derived=derived)
    out = []
    visible = table.loc[~protected.mask["beneficiaires"]].head(10)
    if not visible.empty:
        import matplotlib.pyplot as plt

        apply_style()
        fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(visible) + 1.5))
        y = np.arange(len(visible))[::-1]
        ax.barh(y, visible["heures"], color=PALETTE["main"], height=0.6)
        for yy, hours in zip(y, visible["heures"]):
            ax.text(hours, yy, " " + number_fr(hours), va="center", fontsize=9)
        short = [f"{f} – {lab[:45] + ('…' if len(lab) > 45 else '')}"
                 for f, lab in zip(visible["famille"], visible["libelle"])]
        ax.set_yticks(y, short)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: number_fr(v)))
        ax.set_xlim(0, float(visible["heures"].max()) * 1.18)
        ax.set_xlabel(f"Heures d'insertion réalisées ({scope.period.label_fr})")
        ax.grid(axis="y", visible=False)
        ax.set_title(f"Heures par famille de métiers (ROME) — {scope.name}")
        fig.tight_layout()
        out.append(report.figure(
            fig,
            alt=(f"Barres horizontales des heures d'insertion de la période par famille de "
                 f"métiers du ROME, {scope.name}, les dix familles les plus importantes."),
            caption=(f"Heures d'insertion réalisées par famille de métiers (ROME), "
                     f"{scope.period.label_fr}, {scope.name}, heures réparties au prorata des "
                     f"jours. Familles de moins de {k} bénéficiaires non montrées.")))
    out.append(report.table(
        table, "heures_par_famille_metiers",
        f"Heures, contrats et bénéficiaires par famille de métiers ({scope.period.label_fr}), "
        f"{scope.name}",
        people=("beneficiaires",), derived=derived,
        percent=("part_heures", "croissance"), integers=("heures", "contrats", "beneficiaires"),
        columns={"famille": "Code", "libelle": "Famille de métiers (ROME)",
                 "heures": "Heures", "contrats": "Contrats actifs",
                 "beneficiaires": "Bénéficiaires", "part_heures": "Part des heures",
                 "croissance": f"Évolution annuelle des heures "
                               f"({scope.period.first_year}-{scope.period.last_complete_year})"},
        notes=["Le code ROME est le poste occupé, enregistré par le facilitateur : il décrit une "
               "demande de métier, pas la qualification de la personne.",
               "Évolution annuelle moyenne : (heures de la dernière année / heures de la première)^(1/années) − 1 ; "
               "la dernière année est incomplète pour les contrats en cours."]))
    return out


# --- Method --------------------------------------------------------------------------------------


#: The published benchmark of the method, where the région has one (Île-de-France: GPSEA).
PUBLISHED_METHOD = """- **Repères publiés** : seul le chiffre de la ligne 15 Sud du Grand Paris Express suivie par
  GPSEA (Val-de-Marne, 2022 : 32 % en CDI ou CDD, 9 % en formation) est publié ; sa définition
  (CDD de toute durée) et sa population (un chantier) diffèrent : il est rappelé pour le
  Val-de-Marne comme ordre de grandeur, pas comme comparaison.
"""


@method_needs(*TRACKING, "outcomes")
def method(scope=None, report=None) -> list:
    k = report.k if report is not None else config.suppression_k()
    published = PUBLISHED_METHOD if config.region_facts().grand_paris_outcomes else ""
    when = window_fr(scope) if scope is not None else "de la première année de l'historique " \
        "à la fin de la période"
    return [Markdown(f"""- **Population des sorties** : les personnes ayant eu au moins un contrat
  de travail sous clause sur une opération située dans le territoire, dont le dernier contrat
  d'insertion s'est terminé {when} et dont l'export du facilitateur indique la situation six mois
  plus tard (table *Sorties*). Une personne suivie par deux coordinations compte deux fois (les
  pseudonymes sont propres à chaque coordination).
- **Situations** (définitions de l'IAE) : *emploi durable* (CDI ; CDD ou mission d'intérim de 6
  mois ou plus ; emploi public ; création d'entreprise) ; *emploi de transition* (CDD ou mission de
  moins de 6 mois, contrat aidé chez un employeur ordinaire) ; *sortie positive* (formation
  qualifiante ou pré-qualifiante, embauche par une autre SIAE) ; *sans emploi*. Les « sorties
  dynamiques » réunissent les trois premières.
- **Parts** : calculées sur les situations connues, avec un intervalle de Wilson à 95 % ; les
  situations inconnues sont exclues du dénominateur et leur part est indiquée. Si les
  facilitateurs perdent plus souvent la trace des personnes sans emploi, les parts sont
  surestimées.
- **Délai d'accès** : du dernier jour du dernier contrat au premier emploi durable ; une personne
  sans emploi durable connu est suivie jusqu'à la date de l'export (censure). Courbes de
  Kaplan-Meier, intervalles de Greenwood (échelle log-log).
- **Modèles** : régression logistique de l'emploi durable à 6 mois (rapports de cotes) et modèle
  de Cox du délai (rapports de risques instantanés), sur les heures réalisées (par 100 h), la
  formation qualifiante, la résidence en QPV, le sexe, l'âge à l'entrée, le diplôme, l'employeur
  du dernier contrat et, pour la région, la coordination. Les heures couvrent tout l'export de la
  personne. Un modèle n'est publié que si chaque modalité compte au moins {k} personnes, {k}
  emplois durables et {k} situations sans, et s'il y a au moins {EVENTS_PER_PARAMETER} événements
  par variable. Ce sont des **associations ajustées, pas des effets**.
- **Parcours** : suite des types de contrat d'une personne, par date de début, coupée aux quatre
  premiers contrats ; population : les bénéficiaires de la période (un contrat actif dans la
  période), leurs contrats dans le territoire commencés avant la fin de la période. Un parcours
  commencé avant le premier contrat présent dans les exports est tronqué au début.
- **Métiers** : famille du code ROME du poste (première lettre) ; heures de la période réparties
  au prorata des jours de chaque contrat.
{published}- **Secret statistique** : aucun effectif de moins de {k} personnes n'est publié (symbole « s »,
  avec les cellules qui permettraient de le recalculer) ; les graphiques n'en montrent pas.""")]
