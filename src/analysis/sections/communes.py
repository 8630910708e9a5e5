"""The communes of a département (issue 16, point 3): per commune, the contracts executed, the
insertion hours, the beneficiaries living there per 10 000 inhabitants and those living in a
QPV, under disclosure control.

The three groups are those of the département sheet: contracts of the period by commune of
execution (DECP ``lieuExecution`` of type « Code commune »), hours of the period by commune of the
operation, the period's beneficiaries (those the sheet counts) by commune of residence (Paris's
arrondissements in Paris). Definitions come from :mod:`analysis.indicators.intercommunality`
(commune of a contract or an operation) and the scope (hours prorated over the period).

Disclosure: the beneficiaries' column is the one the commune map draws
(:func:`analysis.sections.territories.beneficiary_map`), hidden exactly where the map hides it
(:func:`analysis.maps.rate_per_10000`, same counts, same total): two publications of the same
counts never hide different cells. Its total, the beneficiaries of the sheet living in the
département, is the département's own row of the sheet's profile « département de résidence »:
both tables declare it under one population key (:func:`residents_key`), so the family audit sees
the equation; the profile's suppression is taken as given (hidden there, the total is hidden
here), the profile's own protection, joint with the région's, is left as it was. The QPV residents are protected on their own column with its total; the hours go
through the dominance rule on employers (``magnitudes``).
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from .. import disclosure, maps, reference
from ..indicators import intercommunality
from ..present import number_fr
from .hours import dominance_note, employer
from .needs import DECP, TRACKING, has_all, needs

TOTAL = "Ensemble"


def residents_key(report, territory: str | None = None) -> str:
    """Population key of the sheet's beneficiaries living in its département (a cell of the
    profile « département de résidence », the total of the commune table)."""
    return report.population("residents", territory)


def _residents(scope, communes: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Beneficiaries of the period (of the sheet) by commune of residence, and those in a QPV."""
    people = scope.beneficiaries
    key = intercommunality.commune_key(communes)
    home = people["commune_residence"].astype("string").map(key)
    qpv = people["qpv"].astype("boolean").fillna(False).astype(bool).to_numpy()
    frame = pd.DataFrame({"commune": home.to_numpy(), "qpv": qpv}).dropna(subset=["commune"])
    return frame["commune"].value_counts(), frame.loc[frame["qpv"], "commune"].value_counts()


@needs(any_of=(DECP, TRACKING), label="communes du département")
def commune_table(scope, report) -> list:
    """Per commune of the département: contracts executed, hours, beneficiaries living there per
    10 000 inhabitants, QPV residents (département sheets only)."""
    if scope.is_region:
        return [Markdown("Le tableau par commune est publié dans chaque fiche départementale.")]
    decp, tracking = has_all(scope, DECP), has_all(scope, TRACKING)
    reference_communes = scope.table("communes")
    own = scope.communes.loc[~reference.is_sub_unit(scope.communes)]
    names = own.set_index(own["code_insee"].astype(str))["nom"].astype(str)
    population = reference.population(reference_communes, "commune").reindex(names.index)
    table = pd.DataFrame({"commune": names, "population": population.astype("int64")})
    columns = ["commune", "population"]
    magnitudes = {}
    if decp:
        place = intercommunality.contract_commune(scope.period_contracts, reference_communes)
        table["marches"] = place.value_counts().reindex(table.index).fillna(0).astype("int64")
        columns.append("marches")
    secret = pd.Series(False, index=table.index)
    if tracking:
        active = scope.period_work_contracts
        ops = scope.operations
        where = ops.set_index("operation_id")["commune"].astype("string").map(
            intercommunality.commune_key(reference_communes))
        place = active["operation_id"].map(where)
        inside = place.isin(table.index).fillna(False).astype(bool).to_numpy()
        hours = active.loc[inside]
        table["heures"] = hours.groupby(place[inside].to_numpy())["heures_periode"].sum() \
            .reindex(table.index).fillna(0.0).astype(float)
        residents, qpv = _residents(scope, reference_communes)
        table["beneficiaires"] = residents.reindex(table.index).fillna(0).astype("int64")
        table["residents_qpv"] = qpv.reindex(table.index).fillna(0).astype("int64")
        table["pour_10000"] = table["beneficiaires"] / table["population"].where(
            table["population"] > 0) * 1e4
        columns += ["heures", "beneficiaires", "pour_10000", "residents_qpv"]
        # The map's suppression of the same counts (communes with at least one resident).
        counted = table.loc[table["beneficiaires"] > 0, "beneficiaires"]
        rates = maps.rate_per_10000(counted, table["population"].reindex(counted.index),
                                    k=report.k)
        secret = rates["secret"].reindex(table.index).fillna(False).astype(bool)
        magnitudes["heures"] = disclosure.contributions(
            place[inside].to_numpy(), employer(hours).to_numpy(), hours["heures_periode"],
            total_row=TOTAL)
    active_rows = table[[c for c in ("marches", "heures", "beneficiaires") if c in table]] \
        .sum(axis=1) > 0
    table = table.loc[active_rows, columns]
    if table.empty:
        return [Markdown(f"Aucun marché, aucune heure d'insertion ni aucun bénéficiaire résident "
                         f"par commune dans {scope.name} sur la période "
                         f"({scope.period.label_fr}).")]
    total = pd.concat([pd.Series({"commune": TOTAL}, dtype=object),
                       table.drop(columns=["commune"]).sum(numeric_only=True).astype(object)])
    if tracking:
        total["pour_10000"] = total["beneficiaires"] / total["population"] * 1e4 \
            if total["population"] else float("nan")
    table = pd.concat([table, total.to_frame(TOTAL).T[columns]])
    for column in ("population", "marches", "beneficiaires", "residents_qpv"):
        if column in table:
            table[column] = table[column].astype("int64")
    for column in ("heures", "pour_10000"):
        if column in table:
            table[column] = table[column].astype(float)
    labels = {"commune": "Commune", "population": "Population municipale",
              "marches": "Marchés exécutés", "heures": "Heures d'insertion",
              "beneficiaires": "Bénéficiaires résidents",
              "pour_10000": "Bénéficiaires résidents pour 10 000 hab.",
              "residents_qpv": "Dont résidents en QPV"}
    notes = ["Une ligne par commune ayant un marché, une heure d'insertion ou un bénéficiaire "
             "résident sur la période ; « Ensemble » : somme des lignes."]
    if decp:
        notes.append("Marchés : notifiés sur la période, lieu d'exécution donné par le code de la "
                     "commune dans les DECP (un code postal, qui peut couvrir plusieurs communes, "
                     "n'est attribué à aucune).")
    if not tracking:
        shown = report.table(table, "communes", f"Marchés exécutés par commune, {scope.name} "
                             f"({scope.period.label_fr})", integers=("population", "marches"),
                             columns=labels, notes=notes)
        return [shown]
    notes += ["Heures : heures d'insertion de la période des opérations situées dans la commune "
              "(réparties au prorata des jours). Bénéficiaires résidents : bénéficiaires de la "
              "fiche (ayant travaillé dans le département sur la période) dont la commune de "
              "résidence est celle de la ligne (Paris : ses arrondissements compris) ; taux "
              "rapporté à la population municipale (INSEE). QPV : résidence en quartier "
              "prioritaire saisie par les facilitateurs.",
              "Les bénéficiaires résidents sont masqués exactement comme sur la carte des "
              "communes ; leur total est celui de la ligne du département dans le tableau du "
              "département de résidence.", dominance_note()]
    margins = disclosure.Margins(total_row=TOTAL)
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    mask.loc[secret.index[secret].intersection(table.index), ["beneficiaires", "pour_10000"]] = True
    # The total is the département's row of the residence profile, published before: hidden
    # there, it is hidden here too.
    profile = report.masks.get("profil_departement_residence")
    if profile is not None and scope.territory in profile.index \
            and bool(profile.at[scope.territory, "beneficiaires"]):
        mask.loc[TOTAL, ["beneficiaires", "pour_10000"]] = True
    qpv = disclosure.protect(table[["residents_qpv"]], ["residents_qpv"], k=report.k,
                             margins=margins)
    mask["residents_qpv"] = qpv.mask["residents_qpv"].reindex(table.index).fillna(False)
    hours_protected = report.protect(table[["heures"]], magnitudes=magnitudes,
                                     magnitude_margins=margins)
    mask["heures"] = hours_protected.mask["heures"].reindex(table.index).fillna(False)
    key = residents_key(report)
    known = report.shared_totals.setdefault(key, int(table.at[TOTAL, "beneficiaires"]))
    if known != int(table.at[TOTAL, "beneficiaires"]):
        raise ValueError(f"communes de {scope.name} : {known} bénéficiaires résidant dans le "
                         f"département au profil, {int(table.at[TOTAL, 'beneficiaires'])} ici")
    shared = {key: ("cell", TOTAL, "beneficiaires")}
    people_note = disclosure.footnote(report.k)
    footnotes = ([people_note] if mask[["beneficiaires", "residents_qpv"]].to_numpy().any()
                 else []) + [n for n in hours_protected.notes() if n != people_note]
    shown = report.publish_protected(
        table, mask, "communes",
        f"Marchés, heures et bénéficiaires par commune, {scope.name} ({scope.period.label_fr})",
        people=("beneficiaires", "residents_qpv"), integers=(
            "population", *(("marches",) if decp else ()), "heures", "beneficiaires",
            "residents_qpv"), decimals={"pour_10000": 1}, columns=labels, notes=notes,
        margins=margins, shared=shared, footnotes=footnotes,
        magnitudes=("heures",))
    hidden = int(mask["beneficiaires"].sum())
    n = len(table) - 1
    intro = Markdown(f"{number_fr(n)} commune{'s' if n > 1 else ''} de {scope.name} "
                     f"{'ont' if n > 1 else 'a'} un marché, une heure d'insertion ou un "
                     "bénéficiaire résident sur la période"
                     + (f" ; {number_fr(hidden)} sous secret statistique pour les bénéficiaires."
                        if hidden else "."))
    return [intro, shown]


__all__ = ["commune_table", "residents_key"]
