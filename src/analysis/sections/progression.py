"""Clause progression (indicators 1 and 2): share of contracts with a social consideration.

Counts are contracts (DECP open data about public buyers), not people: no small-cell rule applies.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from .. import config, cpv
from ..indicators import progression, readiness, trend
from ..narrative import points_fr, progression_summary, trend_fit_summary
from ..plots import percent_fr, progression_chart
from ..present import number_fr
from ..stats import BOOTSTRAP_REPLICATES
from .needs import DECP, method_needs, needs

#: What these sections show, as the index lists the parts a report could not cover.
MARKETS = "marchés publics et considérations sociales"

SHARE_COLUMNS = {**progression.COLUMNS_FR}
BREAKDOWN_FR = {
    "acheteur_categorie": "Catégorie d'acheteur",
    "procedure": "Procédure",
    "tranche_montant": "Montant du marché (HT)",
    "cpv_division": "Division CPV",
    "contrats": "Marchés (statut connu)",
    "avec_consideration": "Avec considération sociale",
    "part": "Part (nombre)",
    "ic_bas": "IC 95 % bas",
    "ic_haut": "IC 95 % haut",
    "acheteurs": "Acheteurs",
    "part_montant": "Part (montant)",
    "ic_montant_bas": "IC 95 % bas (montant)",
    "ic_montant_haut": "IC 95 % haut (montant)",
    "statut_inconnu": "Statut inconnu (exclus)",
}


def yearly(scope, report):
    """The yearly table of the history (first year to the period's end: a quarterly sheet's last
    year stops at its quarter)."""
    return progression.share_by_year(scope.history_contracts, scope.period.first_year,
                                     scope.period.year,
                                     target=report.target)


def period_share(scope) -> dict | None:
    """Share of the period's contracts with a social consideration (interval clustered by buyer):
    :func:`analysis.indicators.progression.share_by` without a breakdown, the same call as
    :meth:`analysis.api.Warehouse.share` with ``by=()``."""
    table = progression.share_by(scope.period_contracts, [], amounts=False)
    if table.empty or table["contrats"].iloc[0] == 0:
        return None
    return table.iloc[0].to_dict()


def _interval_fr(row) -> str:
    return f"IC 95 % {percent_fr(row['ic_bas'])} – {percent_fr(row['ic_haut'])}"


@needs(*DECP, label=MARKETS, quiet=True)
def key_figures(scope, report) -> None:
    """Record the clause share of the period, its position against the target (decided by the
    interval) and the national figure beside ours computed on the same basis."""
    row = period_share(scope)
    if row is None:
        report.key_figure("des marchés avec une considération sociale", "–",
                          f"aucun marché au statut connu, {scope.period.label_fr}")
        return
    report.key_figure(
        f"des marchés notifiés ({scope.period.label_fr}) ont une considération sociale",
        percent_fr(row["part"]),
        f"{_interval_fr(row)} (acheteurs en grappes) ; {number_fr(row['avec_consideration'])} "
        f"sur {number_fr(row['contrats'])} marchés de {number_fr(row['acheteurs'])} acheteurs",
        headline=True)
    gap = row["part"] - report.target
    target = percent_fr(report.target, 0)
    position = progression.target_position(row["ic_bas"], row["ic_haut"], report.target)
    pts = points_fr(gap).replace(" points", " pts")
    if position == "compatible":
        side = ("au niveau de l'objectif" if round(abs(gap) * 100, 1) == 0 else
                f"{pts} {'au-dessus' if gap > 0 else 'en dessous'} de l'objectif")
        report.key_figure(f"compatible avec l'objectif de {target}", pts,
                          f"part estimée {side}, mais l'intervalle de confiance "
                          f"({_interval_fr(row)}) contient l'objectif : l'écart n'est pas établi")
    else:
        report.key_figure(f"{position} de l'objectif de {target}", pts,
                          f"écart en points de pourcentage ; tout l'intervalle de confiance "
                          f"({_interval_fr(row)}) est {position} de l'objectif")
    national = [y for y in config.NATIONAL_SHARE if y <= scope.period.year]
    if national:
        year = max(national)
        value, source = config.NATIONAL_SHARE[year]
        floor = config.oecp_floor(year)
        basis = f"marchés ≥ {number_fr(floor)} € HT notifiés en {year}"
        report.key_figure(f"France entière en {year} (recensement OECP, {basis})",
                          percent_fr(value), f"source : {source}")
        same = progression.comparable_share(scope.history_contracts, year)
        if same is None:
            report.key_figure(f"{scope.name} en {year}, même base que l'OECP", "–",
                              f"aucun marché de {number_fr(floor)} € HT ou plus au statut connu "
                              f"notifié en {year}")
        else:
            report.key_figure(
                f"{scope.name} en {year}, même base que l'OECP ({basis})",
                percent_fr(same["part"]),
                f"{_interval_fr(same)} ; {number_fr(same['avec_consideration'])} sur "
                f"{number_fr(same['contrats'])} marchés dont le montant initial atteint le seuil "
                f"du recensement ; la part de tous les marchés, quel que soit leur montant, reste "
                f"la série de l'observatoire")


@needs(*DECP, label=MARKETS)
def summary(scope, report) -> list:
    """Key sentences of the history, in French."""
    return [Markdown(progression_summary(
        yearly(scope, report), scope.name, report.target, comparable=comparable(scope),
        last_year_label=scope.period.history_year_label_fr))]


def comparable(scope):
    """The territory's share on the national figures' basis, for the years of those figures."""
    years = [y for y in config.NATIONAL_SHARE
             if scope.period.first_year <= y <= scope.period.year]
    return progression.comparable_shares(scope.history_contracts, years)


INTERVAL_NOTE = ("intervalle de confiance à 95 % tenant compte du regroupement des marchés par "
                 "acheteur (variance robuste par grappes d'acheteurs, Wilson sur l'effectif "
                 "efficace, quantile de Student)")


@needs(*DECP, label=MARKETS)
def chart(scope, report) -> list:
    table = yearly(scope, report)
    figure = progression_chart(table, scope.name, highlight=report.target,
                               comparable=comparable(scope))
    first, last = scope.period.first_year, scope.period.year
    return [report.figure(
        figure,
        alt=(f"Courbe de la part annuelle des marchés avec au moins une considération sociale, "
             f"{scope.name}, {first}-{last}, avec son intervalle de confiance à 95 % et les "
             "objectifs nationaux de 25 % et 30 % en lignes horizontales ; pour les années d'un "
             "chiffre national publié, la part nationale (croix) et celle du territoire sur la "
             "même base (ronds vides)."),
        caption=(f"Part des marchés notifiés avec au moins une considération sociale, {scope.name}. "
                 f"Bande : {INTERVAL_NOTE}. Tirets : objectifs nationaux. "
                 "Croix : part nationale publiée (recensement OECP, marchés de 90 000 € HT et plus, "
                 "40 000 € à partir de 2024). Ronds vides : part du territoire sur la même base "
                 "(marchés de l'année au montant initial au moins égal au seuil), avec son "
                 "intervalle. " + "".join(n + " " for n in partial_year_note(scope))
                 + "Source : DECP."))]


@needs(*DECP, label=MARKETS)
def yearly_table(scope, report) -> list:
    table = yearly(scope, report).drop(columns=["ecart_cible", "deff"])
    return [report.table(
        table, "progression_annuelle",
        f"Marchés avec au moins une considération sociale par année de notification, {scope.name}",
        percent=("part", "ic_bas", "ic_haut"),
        integers=("contrats", "avec_consideration", "acheteurs", "clause_sociale",
                  "critere_social", "marche_reserve", "statut_inconnu"),
        columns=progression.COLUMNS_FR,
        notes=[f"Source : DECP ; {INTERVAL_NOTE}.", *partial_year_note(scope),
               *progression.few_buyers_note(table, "année")])]


def partial_year_note(scope) -> list[str]:
    """The note saying that the history's last year stops at the quarter (none for a year)."""
    period = scope.period
    if period.last_complete_year == period.year:
        return []
    return [f"{period.history_year_label_fr} : marchés notifiés jusqu'à la fin du "
            f"{period.label_fr}, pas l'année entière."]


@needs(*DECP, label=MARKETS)
def kinds(scope, report) -> list:
    """Which kinds of consideration the period's contracts carry."""
    table = trend.kind_shares(scope.period_contracts, by=())
    if table.empty or table["marches"].max() == 0:
        return [Markdown("Aucun marché au statut connu sur la période.")]
    return [report.table(
        table[["libelle", "effectif", "marches", "part", "ic_bas", "ic_haut"]],
        "types_consideration",
        f"Types de considération sociale, marchés notifiés ({scope.period.label_fr}), {scope.name}",
        percent=("part", "ic_bas", "ic_haut"), integers=("effectif", "marches"),
        columns={"libelle": "Type", "effectif": "Marchés concernés", "marches": "Marchés (statut connu)",
                 "part": "Part", "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut"},
        notes=["Un marché peut cumuler plusieurs types : les parts ne s'additionnent pas.",
               f"IC : {INTERVAL_NOTE} ({number_fr(table['acheteurs'].iloc[0])} acheteurs).",
               *progression.few_buyers_note(table.head(1), "ligne")])]


#: Breakdowns whose values have an order of their own (shown in it, not by size).
ORDERED = {"tranche_montant": [label for _, _, label in progression.AMOUNT_BANDS]}


def natural_order(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows of a breakdown in the order a reader expects: an ordered breakdown (amount bands) in
    its own order, any other from the most contracts to the fewest; « non renseigné » last."""
    values = table[by].astype("string")
    unknown = values.eq(progression.UNKNOWN).fillna(True)
    if by in ORDERED:
        rank = values.map({v: i for i, v in enumerate(ORDERED[by])}).astype(float)
    else:
        rank = -table["contrats"].astype(float)
    order = pd.DataFrame({"unknown": unknown, "rank": rank, "value": values.fillna("")})
    return table.loc[order.sort_values(["unknown", "rank", "value"], kind="stable").index]


def breakdown(scope, report, by: str, name: str, caption: str, limit: int | None = None) -> list:
    """Share by one breakdown over the period's contracts, by number and by amount
    (:func:`analysis.indicators.progression.share_by`, as :meth:`analysis.api.Warehouse.share`
    computes it for the same territory and period)."""
    table = progression.share_by(scope.period_contracts, [by])
    if table.empty:
        return [Markdown("Aucun marché sur la période.")]
    table = natural_order(table, by)
    if limit:
        table = table.head(limit)
    if by == "cpv_division":
        table[by] = table[by].map(cpv.division_label)
    columns = [by, "contrats", "avec_consideration", "acheteurs", "part", "ic_bas", "ic_haut",
               "part_montant", "ic_montant_bas", "ic_montant_haut", "statut_inconnu"]
    return [report.table(
        table[columns], name, f"{caption} ({scope.period.label_fr}), {scope.name}",
        percent=("part", "ic_bas", "ic_haut", "part_montant", "ic_montant_bas", "ic_montant_haut"),
        integers=("contrats", "avec_consideration", "acheteurs", "statut_inconnu"),
        columns=BREAKDOWN_FR,
        notes=[f"Part en nombre : {INTERVAL_NOTE}.",
               "Part en montant : somme des montants des marchés avec considération sociale sur la "
               "somme des montants (marchés au montant connu) ; intervalle à 95 % par bootstrap "
               f"en deux étapes (acheteurs, puis marchés de chaque acheteur ; "
               f"{BOOTSTRAP_REPLICATES} tirages, graine fixe), qui reste entre 0 et 100 % et "
               "suit l'asymétrie des montants : un très gros marché peut dominer la part d'un "
               "groupe.",
               *progression.few_buyers_note(table, "ligne")])]


@needs(*DECP, "buyers", label="part par catégorie d'acheteur")
def by_buyer_type(scope, report) -> list:
    return breakdown(scope, report, "acheteur_categorie", "part_par_type_acheteur",
                     "Part des marchés avec considération sociale par catégorie d'acheteur")


@needs(*DECP, label=MARKETS)
def by_amount(scope, report) -> list:
    return breakdown(scope, report, "tranche_montant", "part_par_montant",
                     "Part des marchés avec considération sociale par tranche de montant")


@needs(*DECP, label=MARKETS)
def by_sector(scope, report) -> list:
    return breakdown(scope, report, "cpv_division", "part_par_cpv",
                     "Part des marchés avec considération sociale par division CPV (10 plus "
                     "fréquentes)", limit=10)


@needs(*DECP, label="loi Climat et résilience")
def climate_law(scope, report) -> list:
    """Contracts above the EU thresholds: readiness for the obligation of 22 August 2026."""
    start, end = scope.period.start.isoformat(), scope.period.end.isoformat()
    table = readiness.readiness(scope.contracts, start=start, end=end)
    overall = table.loc[table["acheteur_categorie"] == readiness.OVERALL]
    if overall.empty or int(overall["marches"].iloc[0]) == 0:
        return [Markdown(f"Aucun marché au-dessus des seuils européens au statut connu "
                         f"({scope.period.label_fr}).")]
    row = overall.iloc[0]
    lead = (f"Sur la période, **{percent_fr(row['part'])}** des {number_fr(row['marches'])} marchés "
            f"au-dessus des seuils européens comportent une considération sociale (IC 95 % "
            f"{percent_fr(row['ic_bas'])} – {percent_fr(row['ic_haut'])}). Depuis le 22 août 2026, "
            "ces marchés doivent en comporter une (loi Climat et résilience, art. 35)"
            + (" : la période précède l'obligation, c'est le point de départ." if
               scope.period.end.isoformat() <= readiness.OBLIGATION_START else "."))
    return [Markdown(lead), report.table(
        table, "loi_climat_resilience",
        f"Marchés au-dessus des seuils européens avec considération sociale, par catégorie "
        f"d'acheteur ({scope.period.label_fr}), {scope.name}",
        percent=("part", "ic_bas", "ic_haut", "part_clause_sociale"),
        integers=("marches", "avec_consideration", "acheteurs", "clause_sociale",
                  "statut_inconnu"),
        columns=readiness.COLUMNS_FR,
        notes=[f"IC : {INTERVAL_NOTE}.",
               *progression.few_buyers_note(table, "catégorie")])]


@needs(*DECP, label="tendance et objectifs")
def projection(scope, report) -> list:
    """When would each département reach the target if its trend went on (quasi-binomial GLM),
    with the check of the straight line next to the table and the method under it."""
    history = scope.history_contracts
    history = history.loc[history["departement_execution"].isin(config.DEPARTEMENTS)]
    if history["annee"].nunique() < 3 or history["has_social_consideration"].notna().sum() < 100:
        return [Markdown("Trop peu d'années ou de marchés pour estimer une tendance.")]
    model = trend.fit_clause_model(history, year="lineaire", territory_slopes=True,
                                   first_year=scope.period.first_year, last_year=scope.period.year)
    check = trend.fit_check(model)
    table = trend.target_years(model, check=check)
    table = table.loc[table["cible"].round(2) == round(report.target, 2)].copy()
    names = {c: f"{config.territory_name(c)} ({c})" for c in table["territoire"]}
    first, last = model.years
    table["annee_atteinte"] = trend.reached_year_text(table["annee_atteinte"])
    # Each département's own warnings; the verdict on the straight line is said above the table.
    warnings = trend.unit_warnings(table["avertissement"], table["territoire"].map(names))
    table["territoire"] = table["territoire"].map(names)
    shown = table[["territoire", "marches", "pente", "pente_ic_bas", "pente_ic_haut",
                   "part_observee", "part_observee_ic_bas", "part_observee_ic_haut",
                   "part_ajustee_marches", "annee_atteinte", "intervalle"]]
    return [
        Markdown(f"Un modèle logistique de la part des marchés avec considération sociale, une "
                 f"pente par département sur {first}-{last}, prolonge chaque tendance jusqu'à "
                 f"l'objectif de {percent_fr(report.target, 0)}. C'est une extrapolation : elle "
                 "suppose que la tendance passée se poursuit en ligne droite (sur l'échelle des "
                 "log-odds), ce que rien ne garantit."),
        Markdown(trend_fit_summary(check, table, last)),
        report.table(
            shown, "projection_objectif",
            f"Année où la tendance atteindrait {percent_fr(report.target, 0)}, par département",
            integers=("marches",), decimals={"pente": 3, "pente_ic_bas": 3, "pente_ic_haut": 3},
            percent=("part_observee", "part_observee_ic_bas", "part_observee_ic_haut",
                     "part_ajustee_marches"),
            columns={"territoire": "Département", "marches": "Marchés (statut connu)",
                     "pente": "Pente annuelle (log-odds)", "pente_ic_bas": "Pente : IC 95 % bas",
                     "pente_ic_haut": "Pente : IC 95 % haut",
                     "part_observee": f"Part observée {last}",
                     "part_observee_ic_bas": f"Part observée {last} : IC binomial bas",
                     "part_observee_ic_haut": f"Part observée {last} : IC binomial haut",
                     "part_ajustee_marches": f"Part ajustée {last}",
                     "annee_atteinte": "Année d'atteinte",
                     "intervalle": "IC 95 % de l'année d'atteinte"},
            notes=["Année d'atteinte : première année civile où la part ajustée atteint "
                   "l'objectif ; son intervalle est exprimé dans la même unité (années civiles) ; "
                   "« non déterminable » quand la tendance ne permet pas de le borner.",
                   "IC binomial : intervalle de Wilson à 95 % de la part observée, qui traite les "
                   "marchés comme indépendants, comme le fait le contrôle de l'ajustement de la "
                   "droite ; l'intervalle publié ailleurs pour la même part tient compte du "
                   "regroupement des marchés par acheteur et il est plus large.",
                   *warnings]),
        Markdown(projection_method(check)),
    ]


def projection_method(check) -> str:
    """The projection's method note, in French (dispersion and fit check included)."""
    level = f"{check.level:.0%}".replace("%", "\u00a0%")
    test = ("test F de quasi-vraisemblance" if check.lack_test == "F" else
            "test du χ² sur la déviance, le modèle à un niveau par année étant saturé")
    return (
        "**Méthode de la projection.** Population : les marchés au statut social connu dont le "
        "département d'exécution est renseigné. Modèle : régression logistique de la présence "
        "d'une considération sociale sur l'année (une pente par département), estimée sur les "
        "effectifs par département et par année. Surdispersion : les parts annuelles varient "
        "plus que ne le voudrait le seul hasard de l'échantillonnage (une année, une politique "
        "d'achat touche tous les marchés) ; le modèle est donc quasi-binomial : la variance des "
        "estimations est multipliée par la dispersion de Pearson (χ² de Pearson divisé par les "
        "degrés de liberté résiduels, au moins 1) et les intervalles utilisent la loi de Student "
        "à ces degrés de liberté. Vérification de l'ajustement : dispersion, test d'écart à la "
        f"droite (comparaison avec un modèle à un niveau par année, {test}) et part ajustée de "
        "la dernière année comparée à l'intervalle de Wilson de la part observée. Année "
        "d'atteinte : première année civile dont la part ajustée atteint l'objectif. Intervalle "
        f"à {level} : de la première année où la borne haute de l'intervalle de confiance de la "
        "part ajustée atteint l'objectif à la première année où sa borne basse l'atteint, au "
        "même arrondi à l'année que le point, qui s'y trouve donc toujours ; « non "
        "déterminable » quand la borne basse n'atteint jamais l'objectif (pente qui n'est pas "
        "nettement positive). Ces intervalles couvrent l'incertitude d'estimation et la "
        "dispersion autour de la droite, pas l'erreur de forme de la tendance ni un changement "
        "de politique.")


METHOD = """- **Population** : les marchés publics (hors contrats de concession) publiés dans les données
  essentielles de la commande publique (DECP), dont le lieu d'exécution principal se trouve dans le
  territoire ; pour la région, les marchés dont le lieu d'exécution est la région elle-même sont aussi
  comptés. La période retient la date de notification.
- **Indicateur** : part des marchés dont le champ `considerationsSociales` mentionne une clause
  sociale, un critère social ou un marché réservé.
- **Statut inconnu** : un marché dont la publication ne renseigne pas ce champ n'est compté ni comme
  « avec » ni comme « sans » considération sociale ; il est exclu du dénominateur et son nombre est
  indiqué.
- **Doublons** : un marché est identifié par le SIRET de l'acheteur et son identifiant ; republié, il
  n'est compté qu'une fois, dans sa dernière version, modifications appliquées.
- **Intervalles** : les marchés d'un même acheteur ne sont pas des tirages indépendants (une même
  politique d'achat) ; les intervalles à 95 % d'une part en nombre traitent donc les acheteurs
  comme des grappes : variance robuste par grappes (estimateur linéarisé d'un ratio, correction
  G / (G − 1) pour G acheteurs), effet de grappe (rapport à la variance de tirages indépendants,
  jamais inférieur à 1), intervalle de Wilson sur l'effectif efficace (marchés / effet de grappe)
  avec le quantile de Student à G − 1 degrés de liberté, ce qui le garde entre 0 et 100 %. Avec
  moins de 20 acheteurs l'intervalle est approximatif (les tableaux le signalent) ; avec un seul
  acheteur, il porte sur les marchés de cet acheteur (Wilson). Une part en montant a un intervalle
  par bootstrap percentile en deux étapes (acheteurs, puis marchés de chaque acheteur ; 999
  tirages, graine fixe : les rapports sont reproductibles), qui reste entre 0 et 100 % et suit
  l'asymétrie des montants. Ces intervalles ne couvrent pas les défauts de publication.
- **Objectif** : la part est dite « au-dessus » ou « en dessous » de l'objectif seulement quand
  tout l'intervalle est d'un côté ; sinon elle est « compatible avec l'objectif ».
- **Comparaison nationale** : le recensement de l'OECP porte sur les marchés de 90 000 € HT et plus
  (40 000 € à partir de 2024), de tous les acheteurs ; les DECP couvrent aussi des marchés plus
  petits, qui portent moins souvent une clause. À côté du chiffre national, la part du territoire
  est recalculée sur la même base : marchés notifiés la même année, montant initial (à défaut, le
  montant après modifications) au moins égal au seuil ; les marchés au montant inconnu en sont
  exclus. La part de tous les marchés reste la série de l'observatoire.
- Ces chiffres décrivent les marchés publiés ; ils ne mesurent pas l'effet des clauses sur l'emploi."""


@method_needs(*DECP)
def method(scope=None, report=None) -> list:
    return [Markdown(METHOD + "\n" + progression.NO_PLACE_METHOD_FR)]
