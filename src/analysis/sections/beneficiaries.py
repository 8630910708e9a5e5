"""Beneficiaries of the period: numbers, profiles, contracts and reach (indicator 7).

Every figure here counts people. Each profile variable is published as its own table with an
« Ensemble » row declared as margin (the values, « non renseigné » included, add up to it), so that
secondary suppression stops a hidden value from being recomputed. Shares are computed over the
beneficiaries whose attribute is known: when the « non renseigné » count is hidden, every share of
the variable would give it away (share = count / known), so the shares are not published. The
residence table of the profile and the rates table are the same counts with the same margin: they
are suppressed identically.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from IPython.display import Markdown
from scipy.stats import chi2

from .. import config, reference
from ..disclosure import Margins, SECRET_SYMBOL
from ..indicators.beneficiaries import PER, residence_departement
from ..indicators.hours import LOW_QUALIFICATION
from ..plots import PALETTE, apply_style, percent_fr
from ..present import number_fr
from ..stats import wilson_interval
from .hours import TOTAL, UNKNOWN
from .needs import TRACKING, method_needs, needs

#: What these sections show, as the index lists the parts a report could not cover.
PEOPLE = "bénéficiaires"

#: French labels of the values, in the order tables show them.
_STATIC_LABELS: dict[str, dict[str, str]] = {
    "sexe": {"F": "Femmes", "H": "Hommes"},
    "tranche_age": {"moins_de_26": "Moins de 26 ans", "26_49": "26 à 49 ans",
                    "50_et_plus": "50 ans et plus"},
    "diplome": {"sans_diplome": "Sans diplôme", "niveau_3": "Niveau 3 (CAP, BEP)",
                "niveau_4": "Niveau 4 (baccalauréat)", "niveau_5": "Niveau 5 (bac + 2)",
                "niveau_6": "Niveau 6 (licence, bac + 3)", "niveau_7": "Niveau 7 (master, bac + 5)",
                "niveau_8": "Niveau 8 (doctorat)"},
    "public": {"deld": "Demandeurs d'emploi de longue durée",
               "rsa": "Allocataires du RSA",
               "jeune_peu_qualifie": "Jeunes de moins de 26 ans peu qualifiés",
               "rqth": "Travailleurs handicapés (RQTH) et assimilés",
               "senior": "Personnes de 50 ans et plus",
               "suivi_siae": "Personnes suivies par une SIAE, l'EPIDE ou une E2C",
               "autre": "Autres publics (avis motivé d'un prescripteur)"},
    "qpv": {"oui": "Réside en QPV", "non": "Ne réside pas en QPV"},
    "prescripteur": {"france_travail": "France Travail", "mission_locale": "Mission locale",
                     "plie": "PLIE", "cap_emploi": "Cap emploi",
                     "conseil_departemental": "Conseil départemental",
                     "maison_emploi": "Maison de l'emploi", "siae": "SIAE"},
    "jeune_peu_qualifie": {"oui": "Moins de 26 ans, sans diplôme ou niveau 3",
                           "non": "Autres bénéficiaires"},
    "type_contrat": {"cdi": "CDI", "cdd": "CDD", "interim": "Intérim", "cddi": "CDDI",
                     "professionnalisation": "Contrat de professionnalisation",
                     "apprentissage": "Apprentissage", "contrat_aide": "Contrat aidé"},
    "type_employeur": {"entreprise_attributaire": "Entreprise attributaire",
                       "etti": "ETTI", "ai": "Association intermédiaire",
                       "ei": "Entreprise d'insertion", "geiq": "GEIQ",
                       "regie_quartier": "Régie de quartier"},
}


class _Labels(Mapping):
    """:data:`_STATIC_LABELS` and ``departement_residence``: the départements of the région in
    force, read at each access (the région is a setting, not an import-time constant)."""

    def _all(self) -> dict[str, dict[str, str]]:
        deps = {code: f"{name} ({code})" for code, name in config.DEPARTEMENTS.items()}
        return {**_STATIC_LABELS, "departement_residence": deps}

    def __getitem__(self, key: str) -> dict[str, str]:
        return self._all()[key]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


#: French labels of each profile variable's values.
LABELS: Mapping[str, dict[str, str]] = _Labels()
VARIABLES_FR = {
    "sexe": "Sexe", "tranche_age": "Âge à l'entrée dans le parcours", "diplome": "Diplôme",
    "public": "Public éligible", "qpv": "Résidence en quartier prioritaire (QPV)",
    "prescripteur": "Prescripteur", "departement_residence": "Département de résidence",
    "jeune_peu_qualifie": "Jeunes de moins de 26 ans peu qualifiés",
}
PROFILE_VARIABLES = ("sexe", "tranche_age", "diplome", "public", "qpv", "prescripteur",
                     "departement_residence", "jeune_peu_qualifie")


def outside_label() -> str:
    """The row of the residence profile for people living outside the région or unknown."""
    return f"Hors {config.region_label()} ou non renseigné"


COLUMNS_FR = {
    "modalite": "Catégorie", "beneficiaires": "Bénéficiaires", "part": "Part",
    "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut", "heures": "Heures réalisées",
    "part_heures": "Part des heures",
}
SHARES = ("part", "ic_bas", "ic_haut", "part_heures")
NOTE_SHARES = ("Parts calculées sur les bénéficiaires dont l'attribut est renseigné ; intervalle de "
               "Wilson à 95 %. Part des heures : heures de la période travaillées par ces "
               "bénéficiaires / heures des bénéficiaires renseignés.")
NOTE_HIDDEN_SHARES = ("Parts non publiées : le nombre de non-renseignés est couvert par le secret "
                      "statistique et se déduirait des parts.")


# --- data ----------------------------------------------------------------------------------------


def people(scope) -> pd.DataFrame:
    """The period's beneficiaries with their residence département and young-low-qualified flag."""
    cached = scope.__dict__.get("_beneficiary_people")
    if cached is not None:
        return cached
    frame = scope.beneficiaries.copy()
    frame["departement_residence"] = residence_departement(frame, scope.table("communes"))
    young = frame["tranche_age"].eq("moins_de_26") & frame["diplome"].isin(LOW_QUALIFICATION)
    known = (frame["tranche_age"].notna() & frame["diplome"].notna()
             & frame["diplome"].ne("inconnu"))
    frame["jeune_peu_qualifie"] = pd.Series(np.where(young, "oui", "non"), index=frame.index,
                                            dtype="string").where(known)
    scope.__dict__["_beneficiary_people"] = frame
    return frame


def family(scope, variable: str):
    """The same profile block for any territory: the région and its départements are protected
    together, so that no one is found by subtracting the départements' sheets from the région's
    report (:meth:`analysis.publish.Report.protect`)."""
    return lambda code: _sibling_block(scope.sibling(code), variable)


def _sibling_block(scope, variable: str) -> pd.DataFrame:
    """:func:`profile_block` of a territory's people, once per scope (a family is computed by
    every report of the family)."""
    blocks = scope.__dict__.setdefault("_profile_blocks", {})
    if variable not in blocks:
        blocks[variable] = profile_block(people(scope), variable)
    return blocks[variable].copy()


def _values(frame: pd.DataFrame, variable: str) -> pd.Series:
    values = frame[variable]
    if variable == "qpv":
        values = values.astype("boolean").map({True: "oui", False: "non"})
    values = values.astype("string")
    if variable == "diplome":
        values = values.mask(values.eq("inconnu"))
    if variable == "departement_residence":
        return values.fillna(outside_label())
    return values.fillna(UNKNOWN)


def profile_block(frame: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Counts, shares (Wilson) and hours of one variable; « Ensemble » last (the margin).

    Every value of :data:`LABELS` appears (zeros included), in its order, then the unknown row.
    """
    values = _values(frame, variable)
    hours = frame["heures_periode"].astype(float)
    unknown = outside_label() if variable == "departement_residence" else UNKNOWN
    order = [*LABELS.get(variable, {})]
    order += sorted(v for v in values.unique() if v not in order and v != unknown)
    order.append(unknown)
    counts = values.value_counts().reindex(order, fill_value=0)
    sums = hours.groupby(values).sum().reindex(order, fill_value=0.0)
    table = pd.DataFrame({"beneficiaires": counts.astype("int64"), "heures": sums.astype(float)})
    known = table.index != unknown
    n_known = int(table.loc[known, "beneficiaires"].sum())
    h_known = float(table.loc[known, "heures"].sum())
    table["part"] = np.where(known & (n_known > 0), table["beneficiaires"] / max(n_known, 1),
                             np.nan)
    low, high = wilson_interval(np.where(known, table["beneficiaires"], 0),
                                np.where(known, n_known, 0))
    table["ic_bas"], table["ic_haut"] = low, high
    table["part_heures"] = np.where(known & (h_known > 0), table["heures"] / (h_known or 1),
                                    np.nan)
    total = pd.DataFrame({"beneficiaires": [len(frame)], "heures": [float(hours.sum())]},
                         index=[TOTAL])
    table = pd.concat([table, total])
    table["heures"] = table["heures"].round(0)
    table.insert(0, "modalite", [LABELS.get(variable, {}).get(v, v) for v in table.index])
    table["modalite"] = table["modalite"].replace({UNKNOWN: "Non renseigné"})
    return table[["modalite", "beneficiaires", "part", "ic_bas", "ic_haut", "heures",
                  "part_heures"]]


PROFILE_DERIVED = {c: "beneficiaires" for c in ("part", "ic_bas", "ic_haut", "heures",
                                                 "part_heures")}


def shared_total(report) -> dict:
    """The « Ensemble » row counts the territory's beneficiaries, also published elsewhere
    (``departements_compares``, the other profiles): a total never hidden as a complement."""
    return {report.population("beneficiaires"): ("column", "beneficiaires")}


def protected_block(report, frame: pd.DataFrame, variable: str, scope=None):
    """(block, protected): shares set to missing when the unknown row is hidden.

    With ``scope``, the block is protected with the same block of every other territory."""
    block = profile_block(frame, variable)
    protected = report.protect(block, ("beneficiaires",), derived=PROFILE_DERIVED,
                               margins=Margins(total_row=TOTAL),
                               family=family(scope, variable) if scope is not None else None,
                               shared=shared_total(report))
    unknown = outside_label() if variable == "departement_residence" else UNKNOWN
    if protected.mask.at[unknown, "beneficiaires"]:
        block.loc[:, list(SHARES)] = np.nan
        block.attrs["shares_hidden"] = True
    return block, protected


def share_text(block: pd.DataFrame, protected, value: str) -> tuple[str, str] | None:
    """(share, interval) of one value when published, else None."""
    if block.attrs.get("shares_hidden") or protected.mask.at[value, "part"] \
            or pd.isna(block.at[value, "part"]):
        return None
    return (percent_fr(block.at[value, "part"]),
            f"IC 95 % {percent_fr(block.at[value, 'ic_bas'])} – "
            f"{percent_fr(block.at[value, 'ic_haut'])}")


# --- key figures ---------------------------------------------------------------------------------


@needs(*TRACKING, label=PEOPLE, quiet=True)
def key_figures(scope, report) -> list:
    """Record the number of beneficiaries and the shares of women, QPV residents and young
    low-qualified people (Wilson intervals); returns the published figures to compare with."""
    frame = people(scope)
    label = scope.period.label_fr
    n = len(frame)
    if 0 < n < report.k:
        report.key_figure(f"bénéficiaires ({label})", SECRET_SYMBOL,
                          f"effectif inférieur à {report.k}")
        return []
    report.key_figure(f"bénéficiaires ({label})", number_fr(n),
                      "personnes avec au moins un contrat de travail actif sur la période"
                      + (f" ; {number_fr(frame['heures_periode'].sum() / n, 0)} heures en "
                         "moyenne" if n else ""), headline=True)
    figures = (("sexe", "F", "des bénéficiaires sont des femmes"),
               ("qpv", "oui", "des bénéficiaires résident en quartier prioritaire (QPV)"),
               ("jeune_peu_qualifie", "oui",
                "des bénéficiaires ont moins de 26 ans et sont peu qualifiés"))
    for variable, value, text in figures:
        block, protected = protected_block(report, frame, variable, scope)
        shown = share_text(block, protected, value)
        if shown:
            report.key_figure(text, shown[0], shown[1] + " ; parmi les bénéficiaires renseignés")
    text = benchmarks_text()
    return [Markdown(text)] if text else []


def benchmarks_text() -> str:
    """The figures published for the région in force (:func:`analysis.config.region_facts`), or
    an empty string when none are kept for it: never another région's figures."""
    idf = config.REGION_PUBLISHED.get(2021, {})
    big = config.REGION_LARGE_PROJECTS_PROFILE_2021
    l15 = config.GRAND_PARIS_PUBLISHED.get("ligne_15_sud_gpsea_2022")
    if not {"beneficiaires", "part_femmes", "duree_moyenne_mois"} <= set(idf):
        return ""
    text = (
        f"**Repères publiés.** {config.REGION_NAME}, 2021 : "
        f"{number_fr(idf['beneficiaires'])} bénéficiaires, dont "
        f"{percent_fr(idf['part_femmes'])} de femmes ; contrat d'insertion de "
        f"{number_fr(idf['duree_moyenne_mois'], 1)} mois en moyenne.")
    if big:
        text += (
            f" Grands projets de la {config.region_label()}, "
            f"2021 ({number_fr(big['beneficiaires'])} bénéficiaires), en part des heures : "
            f"{percent_fr(big['part_heures_femmes'])} de femmes, "
            f"{percent_fr(big['part_heures_qpv'])} de résidents de QPV, "
            f"{percent_fr(big['part_heures_jeunes_peu_qualifies'])} de jeunes "
            "de moins de 26 ans sans qualification")
    text += f" ({config.REGION_PUBLISHED_SOURCE})."
    if l15:
        text += (" Ligne 15 Sud du Grand Paris Express, partie suivie par GPSEA, 2022 : "
                 f"{percent_fr(l15['part_femmes'])} de femmes.")
    return text + (" Ces chiffres situent l'ordre de grandeur ; les parts « en heures » se "
                   "lisent dans la colonne « Part des heures » des tableaux ci-dessous.")


# --- profiles ------------------------------------------------------------------------------------


def _residents_shared(scope, report, variable: str) -> dict:
    """In a département's sheet, the département's own row of the residence profile: its
    beneficiaries living in it, the total of the commune table published after it
    (:func:`analysis.sections.communes.commune_table`, which takes this table's suppression as
    given). Recorded for the audit only: the profile's protection, computed jointly with the
    région's and the other départements', stays the same in every report of the family."""
    if variable == "departement_residence" and not scope.is_region:
        from .communes import residents_key

        return {residents_key(report): ("cell", scope.territory, "beneficiaires")}
    return {}


@needs(*TRACKING, label=PEOPLE)
def profile_table(scope, report) -> list:
    """One protected table per profile variable: counts, shares with Wilson intervals, hours."""
    frame = people(scope)
    if frame.empty:
        return [Markdown(f"Aucun bénéficiaire sur la période ({scope.period.label_fr}).")]
    out = []
    for variable in PROFILE_VARIABLES:
        block, _ = protected_block(report, frame, variable, scope)
        notes = [NOTE_HIDDEN_SHARES] if block.attrs.get("shares_hidden") else [NOTE_SHARES]
        if variable == "tranche_age":
            notes.append("Âge à l'entrée dans le parcours, pas pendant la période.")
        if variable == "departement_residence":
            notes.append("Commune de résidence rapportée à son département (arrondissements "
                         "municipaux dans leur ville) ; « hors " + config.region_label()
                         + " ou non renseigné » : commune absente du référentiel de la région "
                         "ou inconnue.")
        if variable == "jeune_peu_qualifie":
            notes.append("Moins de 26 ans à l'entrée, sans diplôme ou de niveau 3 (CAP, BEP ; "
                         "anciens niveaux VI, V bis, V), parmi les bénéficiaires dont l'âge et le "
                         "diplôme sont connus.")
        out.append(report.table(
            block, f"profil_{variable}",
            f"{VARIABLES_FR[variable]} des bénéficiaires ({scope.period.label_fr}), {scope.name}",
            people=("beneficiaires",), derived=PROFILE_DERIVED, margins=Margins(total_row=TOTAL),
            percent=SHARES, integers=("beneficiaires", "heures"), columns=COLUMNS_FR,
            notes=notes, family=family(scope, variable), shared=shared_total(report),
            recorded_shared=_residents_shared(scope, report, variable)))
    return out


@needs(*TRACKING, label=PEOPLE)
def profile_chart(scope, report) -> list:
    """Shares of the main profile variables with their Wilson intervals (small values left out)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    frame = people(scope)
    if len(frame) < report.k:
        return [Markdown("Trop peu de bénéficiaires pour un graphique (secret statistique).")]
    variables = ("sexe", "tranche_age", "diplome", "qpv", "public", "prescripteur")
    apply_style()
    fig, axes = plt.subplots(3, 2, figsize=(10, 10.5))
    omitted = 0
    for ax, variable in zip(axes.ravel(), variables):
        block, protected = protected_block(report, frame, variable, scope)
        rows = block.drop(index=[TOTAL, UNKNOWN], errors="ignore")
        keep = ~protected.mask.loc[rows.index, "part"] & rows["part"].notna()
        omitted += int((~keep & rows["beneficiaires"].gt(0)).sum())
        rows = rows.loc[keep]
        y = np.arange(len(rows))
        part = rows["part"].astype(float).to_numpy()
        err = np.vstack([part - rows["ic_bas"].astype(float), rows["ic_haut"].astype(float) - part])
        ax.barh(y, part, color=PALETTE["main"], height=0.6,
                xerr=err, error_kw={"ecolor": "#555", "capsize": 3, "linewidth": 1})
        ax.set_yticks(y, [_wrap(t) for t in rows["modalite"]], fontsize=8.5)
        ax.invert_yaxis()
        ax.set_title(VARIABLES_FR[variable], fontsize=10.5)
        ax.set_xlim(0, min(1.0, max(0.1, float(rows["ic_haut"].max() if len(rows) else 0.1)) * 1.15))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: percent_fr(v, 0)))
        ax.grid(axis="y", visible=False)
        if block.attrs.get("shares_hidden"):
            ax.text(0.5, 0.5, "parts non publiées\n(secret statistique)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=9)
    fig.suptitle(f"Profil des bénéficiaires ({scope.period.label_fr}) — {scope.name}",
                 fontsize=12)
    fig.supxlabel("Part des bénéficiaires renseignés (trait : intervalle de confiance à 95 %)",
                  fontsize=9.5)
    fig.tight_layout()
    caption = (f"Profil des bénéficiaires de la période ({scope.period.label_fr}), {scope.name} : "
               "part de chaque catégorie parmi les bénéficiaires dont l'attribut est renseigné, "
               "avec l'intervalle de confiance à 95 % (Wilson). "
               + (f"{omitted} catégorie(s) couverte(s) par le secret statistique ne sont pas "
                  "représentées. " if omitted else "")
               + "Source : exports du logiciel de suivi des clauses.")
    alt = (f"Six graphiques en barres horizontales : répartition des bénéficiaires de "
           f"{scope.name} par sexe, âge, diplôme, résidence en QPV, public éligible et "
           "prescripteur, en pourcentage, avec leurs intervalles de confiance.")
    return [report.figure(fig, alt=alt, caption=caption)]


def _wrap(text: str, width: int = 28) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


# --- contracts -----------------------------------------------------------------------------------


@needs(*TRACKING, label=PEOPLE)
def contract_mix(scope, report) -> list:
    """Work contracts active in the period by employer type × contract type; people by type."""
    active = scope.period_work_contracts
    if active.empty:
        return [Markdown(f"Aucun contrat de travail actif sur la période "
                         f"({scope.period.label_fr}).")]
    kind = _values(active, "type_contrat")
    employer = _values(active, "type_employeur")
    cross = pd.crosstab(employer, kind)
    cols = [c for c in [*LABELS["type_contrat"], UNKNOWN] if c in cross.columns]
    rows = [r for r in [*LABELS["type_employeur"], UNKNOWN] if r in cross.index]
    cross = cross.reindex(index=rows, columns=cols, fill_value=0)
    cross.columns.name = None
    cross.index.name = None
    cross["total"] = cross.sum(axis=1)
    cross.loc[TOTAL] = cross.sum(axis=0)
    cross = cross.astype("int64")
    names = {c: LABELS["type_contrat"].get(c, "Non renseigné") for c in cols}
    names["total"] = "Total"
    cross.insert(0, "employeur", [LABELS["type_employeur"].get(r, r) for r in cross.index])
    counts = [*cols, "total"]
    first = report.table(
        cross, "contrats_type_employeur",
        f"Contrats de travail actifs par type d'employeur et type de contrat "
        f"({scope.period.label_fr}), {scope.name}",
        people=counts, margins=Margins(row_total="total", total_row=TOTAL), integers=counts,
        columns={"employeur": "Type d'employeur", **names},
        notes=["Contrats de travail actifs au moins un jour sur la période ; chaque contrat est "
               "celui d'une personne."])
    # people and hours by contract type: distinct people, no contract counts (already published)
    g = active.groupby(kind)
    by_kind = pd.DataFrame({"beneficiaires": g["participant_id"].nunique(),
                            "heures": g["heures_periode"].sum().astype(float)}).reindex(
        cols, fill_value=0)
    by_kind.loc[TOTAL] = [active["participant_id"].nunique(),
                          float(active["heures_periode"].sum())]
    by_kind["beneficiaires"] = by_kind["beneficiaires"].astype("int64")
    by_kind["part_heures"] = by_kind["heures"] / by_kind.at[TOTAL, "heures"] \
        if by_kind.at[TOTAL, "heures"] > 0 else np.nan
    by_kind["heures_par_beneficiaire"] = by_kind["heures"] / by_kind["beneficiaires"].where(
        by_kind["beneficiaires"] > 0)
    by_kind["heures"] = by_kind["heures"].round(0)
    by_kind.insert(0, "type_contrat", [names.get(c, c) if c != TOTAL else TOTAL
                                       for c in by_kind.index])
    second = report.table(
        by_kind, "beneficiaires_type_contrat",
        f"Bénéficiaires et heures par type de contrat ({scope.period.label_fr}), {scope.name}",
        people=("beneficiaires",),
        derived={"heures": "beneficiaires", "part_heures": "beneficiaires",
                 "heures_par_beneficiaire": "beneficiaires"},
        # one person may have had several kinds of contract: distinct people in « Ensemble »
        margins=Margins(total_row=TOTAL, not_additive=("beneficiaires",)), percent=("part_heures",),
        integers=("beneficiaires", "heures", "heures_par_beneficiaire"),
        columns={"type_contrat": "Type de contrat", "beneficiaires": "Bénéficiaires",
                 "heures": "Heures réalisées", "part_heures": "Part des heures",
                 "heures_par_beneficiaire": "Heures par bénéficiaire"},
        notes=["Une personne peut avoir eu plusieurs types de contrat : les bénéficiaires des "
               "lignes ne s'additionnent pas ; « Ensemble » compte chaque personne une fois."])
    return [first, second]


# --- rates ---------------------------------------------------------------------------------------


def poisson_interval(count, level: float = config.CONFIDENCE_LEVEL):
    """Exact (Garwood) interval of a Poisson count."""
    count = np.asarray(count, dtype=float)
    alpha = 1 - level
    low = np.where(count > 0, chi2.ppf(alpha / 2, 2 * count) / 2, 0.0)
    high = chi2.ppf(1 - alpha / 2, 2 * (count + 1)) / 2
    return low, high


def rates_table(scope) -> pd.DataFrame:
    """Beneficiaries by département of residence per 10 000 inhabitants, Poisson intervals.

    Same rows and counts as the residence profile (so suppressed identically), plus the
    population and the rates.
    """
    frame = people(scope)
    block = profile_block(frame, "departement_residence")
    communes = scope.table("communes")
    population = reference.population(communes, "departement")
    codes = {v: k for k, v in LABELS["departement_residence"].items()}
    table = block[["modalite", "beneficiaires"]].copy()
    table["population"] = pd.array([population.get(codes.get(label)) for label in table["modalite"]],
                                   dtype="Int64")
    low, high = poisson_interval(table["beneficiaires"])
    inhabitants = table["population"].astype(float)
    table["taux_10000"] = table["beneficiaires"] / inhabitants * PER
    table["ic_bas"] = low / inhabitants * PER
    table["ic_haut"] = high / inhabitants * PER
    return table


@needs(*TRACKING, label=PEOPLE)
def rates_by_departement(scope, report) -> list:
    """Beneficiaries per 10 000 inhabitants by département of residence, chart and table."""
    import matplotlib.pyplot as plt

    table = rates_table(scope)
    if table.at[TOTAL, "beneficiaires"] == 0:
        return [Markdown(f"Aucun bénéficiaire sur la période ({scope.period.label_fr}).")]
    derived = {"taux_10000": "beneficiaires", "ic_bas": "beneficiaires",
               "ic_haut": "beneficiaires"}
    protected = report.protect(table, ("beneficiaires",), derived=derived,
                               margins=Margins(total_row=TOTAL))
    where = (f"en {config.region_label()}" if scope.is_region
             else f"sur des opérations situées en {scope.name}")
    rows = table.loc[table["population"].notna()]
    shown = rows.loc[~protected.mask.loc[rows.index, "taux_10000"]]
    apply_style()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    y = np.arange(len(rows))
    values = np.where(protected.mask.loc[rows.index, "taux_10000"], 0.0, rows["taux_10000"])
    err = np.vstack([values - np.where(values > 0, rows["ic_bas"], 0),
                     np.where(values > 0, rows["ic_haut"], 0) - values]).clip(min=0)
    ax.barh(y, values, color=PALETTE["main"], height=0.6, xerr=err,
            error_kw={"ecolor": "#555", "capsize": 3, "linewidth": 1})
    for i, index in enumerate(rows.index):
        if protected.mask.at[index, "taux_10000"]:
            ax.text(0, y[i], f" {SECRET_SYMBOL}", va="center", fontsize=10)
    ax.set_yticks(y, rows["modalite"])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Bénéficiaires pour 10 000 habitants du département de résidence")
    ax.set_title(f"Bénéficiaires ayant travaillé {where}, par département de résidence",
                 fontsize=11)
    ax.set_xlim(0, None)
    fig.tight_layout()
    best = shown.sort_values("taux_10000", ascending=False)
    alt = (f"Barres horizontales : bénéficiaires ({scope.period.label_fr}) ayant travaillé {where} "
           f"pour 10 000 habitants de chacun des départements de la {config.region_label()}"
           + (f" ; le plus élevé : {best['modalite'].iloc[0]}, "
              f"{number_fr(best['taux_10000'].iloc[0], 1)}." if len(best) else "."))
    caption = ("Bénéficiaires de la période pour 10 000 habitants (population municipale) du "
               "département où ils résident, avec l'intervalle de confiance à 95 % (loi de "
               f"Poisson, exact). « {SECRET_SYMBOL} » : effectif couvert par le secret "
               "statistique. Source : exports du logiciel de suivi des clauses, population "
               "municipale du référentiel des communes.")
    return [report.figure(fig, alt=alt, caption=caption), report.table(
        table, "taux_par_departement_residence",
        f"Bénéficiaires ({scope.period.label_fr}) ayant travaillé {where}, pour 10 000 habitants "
        "de leur département de résidence",
        people=("beneficiaires",), derived=derived, margins=Margins(total_row=TOTAL),
        integers=("beneficiaires", "population"),
        decimals={"taux_10000": 2, "ic_bas": 2, "ic_haut": 2},
        columns={"modalite": "Département de résidence", "beneficiaires": "Bénéficiaires",
                 "population": "Population municipale", "taux_10000": "Pour 10 000 habitants",
                 "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut"},
        notes=["Taux : bénéficiaires résidant dans le département × 10 000 / population "
               "municipale ; il compare la portée des clauses entre territoires, pas le nombre "
               "de personnes éligibles. Intervalle exact de Poisson à 95 %."])]


# --- method --------------------------------------------------------------------------------------


METHOD = """- **Bénéficiaire de la période** : personne (pseudonymisée) ayant au moins un contrat de
  travail actif un jour de la période, sur une opération située dans le territoire ; une personne
  suivie par deux coordinations compte deux fois (les pseudonymes sont propres à chaque
  coordination).
- **Profil** : sexe, tranche d'âge à l'entrée dans le parcours, diplôme (nomenclature 2019 ; « inconnu »
  compté comme non renseigné), public éligible, résidence en QPV, prescripteur, département de la
  commune de résidence. Les parts sont calculées sur les bénéficiaires dont l'attribut est
  renseigné, avec un intervalle de Wilson à 95 % ; les non-renseignés sont comptés à part.
- **Part des heures** : heures de la période travaillées par les bénéficiaires d'une catégorie /
  heures des bénéficiaires renseignés (les chiffres publiés « en heures » se lisent ainsi). Les
  heures d'un contrat sont réparties au prorata de ses jours.
- **Contrats** : contrats de travail actifs sur la période, par type de contrat et type d'employeur.
- **Taux pour 10 000 habitants** : bénéficiaires résidant dans un département × 10 000 / population
  municipale du département (référentiel des communes) ; intervalle exact de Poisson à 95 %. Il
  mesure la portée des clauses, pas l'éligibilité.
- **Jeunes peu qualifiés** : moins de 26 ans à l'entrée, sans diplôme ou de niveau 3 (CAP, BEP).
- **Secret statistique** : aucun effectif de moins de *k* personnes n'est publié ; chaque tableau
  déclare sa ligne « Ensemble », de sorte qu'une case masquée ne puisse pas être recalculée ; les
  parts d'une variable dont les non-renseignés sont masqués ne sont pas publiées ; les graphiques
  omettent les catégories masquées.
- Ces chiffres décrivent les personnes embauchées au titre des clauses ; ils ne mesurent pas l'effet
  des clauses sur leur emploi."""


@method_needs(*TRACKING)
def method(scope=None, report=None) -> list:
    return [Markdown(METHOD)]
