"""Territory and maps (indicator 7): départements compared, where beneficiaries live, where the
insertion structures are, and the zones blanches between them.

Maps of people show rates per 10 000 inhabitants, not raw counts, with small cells suppressed
(:func:`analysis.maps.rate_per_10000`); structures are organisations and are counted as they are.
"""

from __future__ import annotations

import html

import pandas as pd
from IPython.display import HTML, Markdown

from .. import config, disclosure, maps, reference
from ..indicators import coverage, progression
from ..present import number_fr
from .progression import INTERVAL_NOTE
from .needs import (DECP, TRACKING, absence_sentence, has_all, method_needs, missing_sources,
                    needs, note_absence)

#: Fewer areas (or circles) than this and a map is replaced by a sentence.
MIN_MAP_UNITS = 2

SOURCE_TRACKING = "Source : exports des logiciels de suivi des clauses ; population INSEE."


def _residence_counts(scope) -> pd.Series:
    """Beneficiaries of the period by commune of residence (a city with arrondissements as one
    commune)."""
    people = scope.beneficiaries
    communes = people["commune_residence"].astype("string")
    communes = reference.to_commune(communes)
    return communes.dropna().value_counts()


@needs(any_of=(DECP, TRACKING), label="départements comparés")
def departements(scope, report) -> list:
    """The région and its départements side by side: clause share, hours and beneficiaries per inhabitant.

    The clause share needs the DECP, hours and beneficiaries the clause tracking: with one of
    them absent the table keeps the other's columns and its notes say which are missing."""
    decp, tracking = has_all(scope, DECP), has_all(scope, TRACKING)
    rows = []
    communes = scope.table("communes")
    for code in [config.REGION_CODE, *config.DEPARTEMENTS]:
        other = scope.sibling(code)
        row = {"territoire": f"{config.territory_name(code)} ({code})"}
        if decp:
            known = other.period_contracts["has_social_consideration"].dropna().astype(bool)
            row.update(marches=int(len(known)), avec_consideration=int(known.sum()))
        if tracking:
            people = len(other.beneficiaries)
            # Paris counts once (75056), not again with its arrondissements.
            pop = reference.territory_population(communes, code)
            row.update(heures=float(other.period_work_contracts["heures_periode"].sum()),
                       beneficiaires=people, population=pop,
                       pour_10000=people / pop * 1e4 if pop else float("nan"))
        rows.append(row)
    table = pd.DataFrame(rows)
    columns = ["territoire"]
    if decp:
        table["part"] = table["avec_consideration"] / table["marches"].where(table["marches"] > 0)
        table["ic_bas"], table["ic_haut"] = progression.territory_intervals(  # clustered by buyer
            scope.sibling(config.REGION_CODE).period_contracts,
            [config.REGION_CODE, *config.DEPARTEMENTS])
        columns += ["marches", "avec_consideration", "part", "ic_bas", "ic_haut"]
    if tracking:
        columns += ["heures", "beneficiaires", "pour_10000"]
    table = table[columns]
    region = table.iloc[[0]]
    table = pd.concat([table.iloc[1:], region], ignore_index=True)
    label = {code: f"{config.territory_name(code)} ({code})" for code in config.TERRITORIES}
    protection: dict = {}
    notes: list[str] = []
    if tracking:
        # Hours by département add up to the région's: the dominance rule (employers) applies
        # to them, from one group-by of the région's work contracts.
        from .hours import dominance_note, employer

        whole = scope.sibling(config.REGION_CODE)
        active = whole.period_work_contracts
        place = active["operation_id"].map(
            whole.operations.set_index("operation_id")["departement"])
        hours_contrib = disclosure.contributions(
            place.map(label).to_numpy(), employer(active).to_numpy(), active["heures_periode"],
            total_row=label[config.REGION_CODE])
        protection = dict(
            people=("beneficiaires",), derived={"pour_10000": "beneficiaires",
                                                "heures": "beneficiaires"},
            magnitudes={"heures": hours_contrib},
            magnitude_margins=disclosure.Margins(total_row=label[config.REGION_CODE]),
            # Each territory's beneficiaries are also a column sum of residence_work and the
            # total of the profile tables: one population, the same published number.
            shared={report.population("beneficiaires", code): ("cell", label[code],
                                                               "beneficiaires")
                    for code in [*config.DEPARTEMENTS, config.REGION_CODE]})
    if decp and tracking:
        notes.append("Marchés : lieu d'exécution (DECP) ; heures et bénéficiaires : lieu de "
                     "l'opération (suivi des clauses). Une personne ayant travaillé dans deux "
                     "départements compte dans chacun : la ligne régionale n'est pas la somme "
                     "des départements.")
    elif decp:
        notes.append("Marchés : lieu d'exécution (DECP).")
    else:
        notes.append("Heures et bénéficiaires : lieu de l'opération (suivi des clauses). Une "
                     "personne ayant travaillé dans deux départements compte dans chacun : la "
                     "ligne régionale n'est pas la somme des départements.")
    if tracking:
        notes.append("Pour 10 000 hab. : population municipale (INSEE) ; une ville à "
                     "arrondissements municipaux (Paris, Lyon, Marseille) compte une fois, pas en "
                     "plus ses arrondissements ; la région est la somme de ses départements.")
    if decp:
        notes.append(f"Part des marchés : {INTERVAL_NOTE}.")
    if tracking:
        notes.append(dominance_note())
    for part, present, what in ((DECP, decp, "part des marchés"),
                                (TRACKING, tracking, "heures et bénéficiaires")):
        if not present:
            missing = missing_sources(scope, part)
            note_absence(report, missing, f"départements comparés ({what})")
            notes.append(f"Sans colonnes {what} : {absence_sentence(missing, part=False)}")
    shown = report.table(
        table.set_index("territoire", drop=False), "departements_compares",
        f"Les départements comparés ({scope.period.label_fr})",
        **protection,
        percent=("part", "ic_bas", "ic_haut") if decp else (),
        integers=tuple(c for c in ("marches", "avec_consideration", "heures", "beneficiaires")
                       if c in columns),
        decimals={"pour_10000": 1} if tracking else None,
        columns={"territoire": "Territoire", "marches": "Marchés (statut connu)",
                 "avec_consideration": "Avec considération sociale", "part": "Part",
                 "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut",
                 "heures": "Heures d'insertion", "beneficiaires": "Bénéficiaires",
                 "pour_10000": "Bénéficiaires pour 10 000 hab."},
        notes=notes)
    out = [shown]
    if not decp:
        return out
    share = table.iloc[:-1].assign(code=list(config.DEPARTEMENTS),
                                   part_pct=lambda f: f["part"] * 100)
    figure = maps.choropleth(
        share.set_index("code"), "part_pct", level="departement",
        title=f"Part des marchés avec considération sociale ({scope.period.label_fr})",
        legend_title="Part des marchés", unit="\u00a0%", decimals=1, annotate=True, n_classes=4,
        source="Source : DECP.") if share["part"].notna().any() else None
    if figure is not None:
        out.append(report.figure(
            figure,
            alt=(f"Carte des départements de la {config.region_label()} colorés selon la part "
                 "des marchés notifiés comportant une considération sociale ; la valeur est "
                 "écrite sur chaque département."),
            caption=(f"Part des marchés notifiés ({scope.period.label_fr}) avec au moins une "
                     "considération sociale, par département d'exécution. Source : DECP.")))
    return out


@needs(*TRACKING, label="carte des bénéficiaires")
def beneficiary_map(scope, report) -> list:
    """Beneficiaries of the period per 10 000 inhabitants, by commune of residence."""
    counts = _residence_counts(scope)
    layer = maps.commune_layer(territory=scope.territory)
    in_scope = counts.reindex(layer["code"]).dropna()
    if in_scope.sum() == 0:
        return [Markdown("Aucun bénéficiaire résidant dans le territoire sur la période.")]
    population = layer.set_index("code")["population"]
    rates = maps.rate_per_10000(in_scope, population.reindex(in_scope.index), k=report.k)
    if len(layer) < MIN_MAP_UNITS:
        # One commune (Paris): a map would be one polygon in one colour; the figure says it all.
        row = rates.iloc[0]
        value = ("sous secret statistique" if bool(row["secret"]) else
                 f"**{number_fr(row['taux_10000'], 1)}** pour 10 000 habitants")
        return [Markdown(f"{scope.name} ne forme qu'une commune : pas de carte par commune. "
                         f"Bénéficiaires de la période ({scope.period.label_fr}) résidant dans "
                         f"la commune : {value}. {SOURCE_TRACKING}")]
    figure = maps.choropleth(
        rates, "taux_10000", level="commune", territory=scope.territory, secret="secret",
        k=report.k, title=f"Bénéficiaires pour 10 000 habitants — {scope.name}",
        legend_title="Bénéficiaires\npour 10 000 hab.", unit="", decimals=1,
        scheme="quantiles", n_classes=5, source=SOURCE_TRACKING)
    hidden = int(rates["secret"].sum())
    classes = maps.classes_shown(rates["taux_10000"], ~rates["secret"].astype(bool), "quantiles", 5)
    out = [report.figure(
        figure,
        alt=(f"Carte des communes de {scope.name} colorées selon le nombre de bénéficiaires des "
             f"clauses sociales pour 10 000 habitants, en {classes} classe(s) ; communes sans "
             "bénéficiaire en gris, communes sous secret statistique hachurées."),
        caption=(f"Bénéficiaires de la période ({scope.period.label_fr}) par commune de "
                 f"résidence, pour 10 000 habitants. {number_fr(hidden)} commune(s) sous secret "
                 f"statistique (moins de {report.k} bénéficiaires, ou permettant de le "
                 "recalculer). " + SOURCE_TRACKING))]
    if scope.is_region:
        data = layer.merge(rates, left_on="code", right_index=True, how="left")
        data["secret"] = data["secret"].fillna(False).astype(bool)
        out.append(maps.interactive_map(
            data, "taux_10000", tooltip=["nom", "taux_10000", "effectif"],
            aliases={"nom": "Commune", "taux_10000": "Pour 10 000 hab.",
                     "effectif": "Bénéficiaires"},
            secret="secret", people_columns=("effectif",), k=report.k,
            title=f"Bénéficiaires pour 10 000 habitants ({scope.period.label_fr})",
            legend_title="Pour 10 000 hab.",
            alt="Carte interactive des communes : survoler une commune affiche son taux.",
            caption=("Carte interactive : survoler une commune affiche le nombre de bénéficiaires "
                     "et le taux pour 10 000 habitants (« s » : secret statistique).")))
    return out


@needs("structures", label="structures d'insertion et du handicap")
def structures_map(scope, report) -> list:
    """Insertion and disability structures by commune (organisations: no secrecy needed)."""
    per_commune = coverage.structures_per_inhabitant(scope.structures, scope.communes,
                                                     level="commune")
    if per_commune["structures"].sum() == 0:
        return [Markdown(f"Aucune structure d'insertion recensée dans {scope.name}.")]
    figure = maps.proportional_symbols(
        per_commune.set_index("code"), "structures", level="commune", territory=scope.territory,
        title=f"Structures d'insertion et du handicap — {scope.name}",
        legend_title="Structures", source="Source : annuaires des SIAE, EA et ESAT.")
    by_type = coverage.structures_per_inhabitant(scope.structures, scope.communes)
    type_columns = [c for c in by_type.columns if c.startswith("structures_")]
    by_type = by_type.loc[by_type["code"].isin(scope.departements)]
    by_type["nom"] = by_type["code"].map(config.territory_name)
    dots = per_commune.loc[per_commune["structures"] > 0]
    if len(dots) < MIN_MAP_UNITS:
        # One circle on an empty map says less than a sentence.
        shown = HTML(
            "<p>Une seule commune a des structures d'insertion et du handicap dans "
            f"{html.escape(scope.name)} : {html.escape(str(dots['nom'].iloc[0]))} "
            f"({number_fr(dots['structures'].iloc[0])} structure(s)) ; pas de carte. Détail par "
            "type dans le tableau ci-dessous.</p>")
    else:
        shown = report.figure(
            figure,
            alt=(f"Carte de {scope.name} : un cercle par commune ayant au moins une structure "
                 "d'insertion, d'aire proportionnelle au nombre de structures."),
            caption=("Structures d'insertion par l'activité économique, entreprises adaptées et "
                     "ESAT, par commune (aire des cercles proportionnelle au nombre). Source : "
                     "annuaires des structures."))
    return [
        shown,
        report.table(
            by_type[["nom", "population", "structures", "pour_10000", *type_columns]],
            "structures_par_departement",
            f"Structures d'insertion et du handicap par département, {scope.name}",
            integers=("population", "structures", *type_columns), decimals={"pour_10000": 2},
            columns={"nom": "Département", "population": "Population",
                     "structures": "Structures", "pour_10000": "Pour 10 000 hab.",
                     **{c: c.removeprefix("structures_") for c in type_columns}}),
    ]


@needs(*TRACKING, "structures", label="zones blanches")
def white_zones(scope, report) -> list:
    """Communes where beneficiaries live with no structure within 10 km."""
    table = coverage.white_zones(scope.beneficiaries, scope.structures, scope.communes)
    blank = table.loc[table["zone_blanche"]]
    if blank.empty:
        return [Markdown(f"Aucune zone blanche : chaque commune de résidence de bénéficiaires a "
                         f"une structure à moins de {coverage.DEFAULT_DISTANCE_KM:g} km.")]
    shown = blank[["nom", "departement", "population", "beneficiaires", "distance_km"]].head(15)
    return [
        Markdown(f"{number_fr(len(blank))} commune(s) de résidence de bénéficiaires n'ont "
                 f"aucune structure d'insertion à moins de {coverage.DEFAULT_DISTANCE_KM:g} km "
                 "(distance entre communes). Les quinze plus peuplées en bénéficiaires :"),
        report.table(
            shown, "zones_blanches",
            f"Zones blanches : communes sans structure à moins de "
            f"{coverage.DEFAULT_DISTANCE_KM:g} km ({scope.period.label_fr})",
            people=("beneficiaires",), integers=("population", "beneficiaires"),
            decimals={"distance_km": 1},
            columns={"nom": "Commune", "departement": "Département", "population": "Population",
                     "beneficiaires": "Bénéficiaires résidents",
                     "distance_km": "Structure la plus proche (km)"}),
    ]


def _residence_matrix(scope) -> pd.DataFrame:
    """Beneficiaries by département of residence (rows) and of work (columns)."""
    table = coverage.residence_versus_work(scope.beneficiaries, scope.period_work_contracts,
                                           scope.table("operations"), scope.communes)
    matrix = table.pivot_table(index="departement_residence", columns="departement_travail",
                               values="beneficiaires", aggfunc="sum", fill_value=0)
    matrix.columns.name = None
    matrix.index.name = "residence"
    return matrix


@needs(*TRACKING, label="résidence et lieu de travail")
def residence_work(scope, report) -> list:
    """Where beneficiaries live and where they work, by département.

    A département's table is the région's column for that département, with the région's
    suppression: each column sums to the département's beneficiaries, published in
    ``departements_compares`` (declared as shared), and the région's report and the sheets hide
    the same cells.
    """
    region = scope if scope.is_region else scope.sibling(config.REGION_CODE)
    matrix = _residence_matrix(region)
    people = list(matrix.columns)
    shared = {report.population("beneficiaires", c): ("column", c)
              for c in people if c in config.DEPARTEMENTS}
    protected = report.protect(matrix, people, shared=shared)
    values, mask = protected.table, protected.mask
    caption = (f"Bénéficiaires par département de résidence (lignes) et de travail (colonnes), "
               f"{scope.period.label_fr}")
    if not scope.is_region:
        code = scope.territory
        if code not in people:
            return [Markdown(f"Aucun bénéficiaire n'a travaillé dans {scope.name} sur la période.")]
        # Published zeros say nothing more when left out; hidden cells stay, as « s ».
        keep = (matrix[code] > 0) | mask[code]
        values, mask, people = values.loc[keep, [code]], mask.loc[keep, [code]], [code]
        shared = {key: spec for key, spec in shared.items() if spec[1] == code}
        caption = (f"Bénéficiaires ayant travaillé dans {scope.name} par département de "
                   f"résidence, {scope.period.label_fr}")
    return [report.publish_protected(
        values.reset_index(), mask.reset_index(drop=True), "residence_travail", caption,
        people=people, integers=tuple(people), columns={"residence": "Résidence \\ travail"},
        shared=shared)]


METHOD = f"""- **Territoire des bénéficiaires** : une personne compte dans le territoire où se trouve
  l'opération sur laquelle elle a travaillé (lieu de l'opération saisi par les facilitateurs) ; les
  cartes de résidence utilisent sa commune de résidence. Paris est compté comme une commune : un
  territoire d'une seule commune (ou dont une seule commune a des structures) n'a pas de carte,
  une phrase en donne la valeur.
- **Taux pour 10 000 habitants** : bénéficiaires de la période résidant dans la commune, rapportés à
  sa population municipale (INSEE). Les cartes montrent des taux, pas des effectifs bruts, pour ne
  pas confondre densité de population et recours aux clauses.
- **Secret statistique** : une commune comptant moins de *k* bénéficiaires est hachurée, ainsi que
  les communes qui permettraient de la retrouver par différence avec le total du département.
- **Résidence et lieu de travail** : chaque colonne du tableau croisé totalise les bénéficiaires du
  département de travail, publiés dans le tableau des départements comparés ; le secret
  statistique tient compte de ce total partagé (une cellule masquée ne peut pas s'en déduire par
  soustraction), et le tableau d'un département reprend la colonne et les cellules masquées du
  tableau régional.
- **Zones blanches** : communes de résidence de bénéficiaires sans structure d'insertion (SIAE, EA,
  ESAT) à moins de {coverage.DEFAULT_DISTANCE_KM:g} km, distance entre points représentatifs des
  communes en Lambert-93.
- Les structures sont des organisations : elles sont comptées sans secret statistique."""


@method_needs(*TRACKING)
def method(scope=None, report=None) -> list:
    return [Markdown(METHOD)]
