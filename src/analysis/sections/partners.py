"""Partners (issue 16, point 4): the inclusive structures as an offer of service, and the value
awarded to them.

For the insertion and disability partners the seed document asks to « recenser l'offre de
service, d'analyser la présence territoriale des structures ». Four tables: the structures by type
and family per 10 000 inhabitants (next to the région's), by sector of activity, by commune, and —
in a département's sheet — the directory itself; then the share of the awarded value (DECP)
going to inclusive suppliers by year, SIAE apart from EA / ESAT, with intervals.

The offer and the per-contract awards are computed for all territories at once
(:mod:`analysis.indicators.structures`, once per process and period) and each report takes its
rows; the bootstrap of the value shares runs for the report's own territory only. Structures are organisations listed in a
public directory: their counts are published as they are. Amounts are sums over contract holders:
the dominance rule applies to them (``magnitudes``), the shares derived from an amount are hidden
with it. Names read from the directory are escaped by :meth:`analysis.publish.Report.table`.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from .. import config, disclosure
from ..indicators import structures as ind
from ..plots import percent_fr
from ..present import number_fr
from ..stats import BOOTSTRAP_REPLICATES
from .hours import history_windows
from .needs import method_needs, needs
from .progression import INTERVAL_NOTE, partial_year_note

#: What these sections show, as the index lists the parts a report could not cover.
OFFER = "offre de service des structures inclusives"
AWARDS = "achats auprès des structures inclusives"

#: Structure types and families in the readers' words.
TYPE_LABELS = {
    "EI": "Entreprise d'insertion (EI)",
    "ETTI": "Entreprise de travail temporaire d'insertion (ETTI)",
    "AI": "Association intermédiaire (AI)",
    "ACI": "Atelier et chantier d'insertion (ACI)",
    "GEIQ": "Groupement d'employeurs pour l'insertion et la qualification (GEIQ)",
    "EITI": "Entreprise d'insertion par le travail indépendant (EITI)",
    "SEP": "Service d'emploi pénitentiaire (SEP)",
    "EA": "Entreprise adaptée (EA)",
    "EATT": "Entreprise adaptée de travail temporaire (EATT)",
    "ESAT": "Établissement et service d'aide par le travail (ESAT)",
}
FAMILY_LABELS = {"siae": "SIAE", "ea_esat": "EA / ESAT"}
FAMILY_CAPTIONS = {"siae": "structures d'insertion par l'activité économique (SIAE : EI, ETTI, "
                           "AI, ACI, GEIQ)",
                   "ea_esat": "entreprises adaptées et ESAT (secteur du handicap)"}
ALL_SIAE = "Ensemble des SIAE"
ALL_EA_ESAT = "Ensemble EA / ESAT"
TOTAL = "Ensemble"

SOURCE_DIRECTORY = "Source : annuaire des structures inclusives (SIAE, EA, ESAT) ; population INSEE."
SOURCE_AWARDS = "Source : DECP (titulaires) et annuaire des structures inclusives."
POPULATION_NOTE = ("Pour 10 000 hab. : population municipale (INSEE) ; une ville à "
                   "arrondissements municipaux (Paris, Lyon, Marseille) compte une fois, pas en "
                   "plus ses arrondissements ; la région est la somme de ses départements.")


def _store(scope) -> dict:
    """The scope's table store (shared by the scopes of one process: computed once)."""
    return scope._tables


def _offer(scope) -> dict:
    """The offer of service of every territory and commune, computed once per process."""
    store, key = _store(scope), ("partenaires", "offre")
    if key not in store:
        structures, communes = scope.table("structures"), scope.table("communes")
        store[key] = {
            "territoires": ind.offer_by_territory(structures, communes),
            "communes": ind.offer_by_commune(structures, communes),
            "secteurs": ind.sectors_by_territory(structures, communes),
        }
    return store[key]


def _awards(scope) -> dict:
    """Awards to inclusive suppliers of the scope's territory by history year.

    The matching and the per-contract values are computed once per process and period for every
    territory (:func:`analysis.indicators.structures.contract_awards` over the région's
    contracts); the bootstrap of the value shares, whose cost grows with the contracts, only for
    the territory a report shows (the région's report would otherwise pay for all its
    départements' too: 14 s instead of 7 s at the default scale)."""
    store = _store(scope)
    key = ("partenaires", "contrats", scope.period)
    if key not in store:
        region = scope.sibling(config.REGION_CODE)
        contracts = region.history_contracts
        suppliers, structures = scope.table("suppliers"), scope.table("structures")
        awards = ind.contract_awards(contracts, suppliers, structures)
        stacked = ind.by_territory(awards, contracts)
        holders = ind.holder_awards(contracts, suppliers, structures).merge(
            stacked[["uid", "territoire", "annee"]], on="uid", how="inner")
        store[key] = {"stacked": stacked, "holders": holders}
    own = ("partenaires", "achats", scope.period, scope.territory)
    if own not in store:
        data = store[key]
        stacked = data["stacked"]
        mine = stacked.loc[stacked["territoire"] == scope.territory]
        holders = data["holders"]
        store[own] = {"shares": ind.award_shares(mine, ("territoire", "annee")),
                      "holders": holders.loc[holders["territoire"] == scope.territory]}
    return store[own]


def _year_labels(scope) -> dict[int, str]:
    return {start.year: label for label, start, _, _ in history_windows(scope.period)}


# --- offer of service ------------------------------------------------------------------------------


def type_table(scope) -> pd.DataFrame:
    """Structures of the territory by type, by family and in all, per 10 000 inhabitants; in a
    département's sheet, the région's figures beside."""
    offer = _offer(scope)["territoires"]
    own = offer.loc[scope.territory]
    region = offer.loc[config.REGION_CODE]
    types = [c.removeprefix("structures_") for c in offer.columns if c.startswith("structures_")]
    shown = [t for t in types if t in ind.SHOWN_TYPES or offer[f"structures_{t}"].sum() > 0]
    rows = []
    for kind in shown:
        fam = ind.family(pd.Series([kind])).iloc[0]
        rows.append((TYPE_LABELS.get(kind, kind), FAMILY_LABELS.get(fam, "autre"),
                     f"structures_{kind}"))
    rows += [(ALL_SIAE, FAMILY_LABELS["siae"], "siae"),
             (ALL_EA_ESAT, FAMILY_LABELS["ea_esat"], "ea_esat"), (TOTAL, "", "structures")]
    table = pd.DataFrame({
        "libelle": [r[0] for r in rows], "famille": [r[1] for r in rows],
        "structures": [int(own[r[2]]) for r in rows],
        "pour_10000": [own[r[2]] / own["population"] * 1e4 if own["population"] > 0
                       else float("nan") for r in rows]})
    if not scope.is_region:
        table["structures_region"] = [int(region[r[2]]) for r in rows]
        table["pour_10000_region"] = [region[r[2]] / region["population"] * 1e4
                                      if region["population"] > 0 else float("nan")
                                      for r in rows]
    return table


def sector_table(scope) -> pd.DataFrame:
    """Structures of the territory by sector of activity (most structures first)."""
    sectors = _offer(scope)["secteurs"]
    table = sectors.loc[sectors["territoire"] == scope.territory].drop(columns="territoire")
    known = table.loc[table["secteur"] != ind.UNKNOWN_SECTOR].sort_values(
        ["structures", "secteur"], ascending=[False, True])
    unknown = table.loc[table["secteur"] == ind.UNKNOWN_SECTOR].assign(secteur="Non renseigné")
    return pd.concat([known, unknown], ignore_index=True)


def commune_table(scope) -> pd.DataFrame:
    """Communes of the territory with at least one structure (most structures first; the région's
    report keeps the first :data:`analysis.config.PARTNERS_TOP_COMMUNES`)."""
    per_commune = _offer(scope)["communes"]
    table = per_commune.loc[per_commune["departement"].isin(scope.departements)
                            & (per_commune["structures"] > 0)]
    table = table.sort_values(["structures", "nom"], ascending=[False, True])
    if scope.is_region:
        table = table.head(config.PARTNERS_TOP_COMMUNES)
    return table[["nom", "code_insee", "population", "siae", "ea_esat", "structures",
                  "pour_10000"]].reset_index(drop=True)


def directory_table(scope) -> pd.DataFrame:
    """The structures of the territory, as the directory lists them (by commune, type, name)."""
    structures = scope.structures
    names = _offer(scope)["communes"].set_index("code_insee")["nom"]
    commune = ind.to_commune(structures["commune"])
    table = pd.DataFrame({
        "raison_sociale": structures["raison_sociale"].astype("string").to_numpy(),
        "type": structures["type"].astype("string").str.upper().to_numpy(),
        "commune": commune.map(names).astype("string").fillna(commune).to_numpy(),
        "secteurs": structures["secteurs"].astype("string").fillna("Non renseigné").to_numpy()})
    return table.sort_values(["commune", "type", "raison_sociale"]).reset_index(drop=True)


@needs("structures", label=OFFER)
def offer(scope, report) -> list:
    """The inclusive structures of the territory: by type, sector and commune, per 10 000
    inhabitants; in a département's sheet, the directory itself."""
    types = type_table(scope)
    total = types.set_index("libelle").loc[TOTAL]
    siae = types.set_index("libelle").loc[ALL_SIAE]
    ea = types.set_index("libelle").loc[ALL_EA_ESAT]
    sentence = (f"L'annuaire recense **{number_fr(total['structures'])}** structure(s) inclusive(s) "
                f"dans {scope.name} : {number_fr(siae['structures'])} SIAE et "
                f"{number_fr(ea['structures'])} entreprise(s) adaptée(s) ou ESAT, soit "
                f"{number_fr(total['pour_10000'], 2)} pour 10 000 habitants")
    if not scope.is_region:
        sentence += f" ({config.REGION_NAME} : {number_fr(total['pour_10000_region'], 2)})"
    out = [Markdown(sentence + ".")]
    columns = {"libelle": "Type de structure", "famille": "Famille", "structures": "Structures",
               "pour_10000": "Pour 10 000 hab.",
               "structures_region": f"Structures ({config.REGION_NAME})",
               "pour_10000_region": f"Pour 10 000 hab. ({config.REGION_NAME})"}
    out.append(report.table(
        types, "partenaires_types", f"Structures inclusives par type, {scope.name}",
        integers=tuple(c for c in ("structures", "structures_region") if c in types.columns),
        decimals={c: 2 for c in ("pour_10000", "pour_10000_region") if c in types.columns},
        columns=columns,
        notes=["Structures de l'annuaire situées dans le territoire à la date de l'export ; les "
               "lignes « Ensemble » totalisent les types de chaque famille.", POPULATION_NOTE,
               SOURCE_DIRECTORY]))
    sectors = sector_table(scope)
    if not sectors.empty:
        out.append(report.table(
            sectors, "partenaires_secteurs",
            f"Structures inclusives par secteur d'activité, {scope.name}",
            integers=("siae", "ea_esat", "structures"),
            columns={"secteur": "Secteur d'activité", "siae": "SIAE", "ea_esat": "EA / ESAT",
                     "structures": "Structures"},
            notes=["Une structure active dans plusieurs secteurs compte dans chacun : les lignes "
                   "ne s'additionnent pas.", SOURCE_DIRECTORY]))
    communes = commune_table(scope)
    if communes.empty:
        out.append(Markdown(f"Aucune structure inclusive recensée dans {scope.name}."))
        return out
    cut = scope.is_region and len(communes) == config.PARTNERS_TOP_COMMUNES
    caption = (f"Les {number_fr(len(communes))} communes comptant le plus de structures "
               f"inclusives, {scope.name}" if cut
               else f"Communes ayant au moins une structure inclusive, {scope.name}")
    cut_note = (["À nombre égal de structures, les communes sont rangées par ordre alphabétique ; "
                 "chaque fiche départementale donne toutes ses communes ayant une structure."]
                if cut else [])
    out.append(report.table(
        communes, "partenaires_communes", caption,
        integers=("population", "siae", "ea_esat", "structures"), decimals={"pour_10000": 2},
        columns={"nom": "Commune", "code_insee": "Code INSEE", "population": "Population",
                 "siae": "SIAE", "ea_esat": "EA / ESAT", "structures": "Structures",
                 "pour_10000": "Pour 10 000 hab."},
        notes=[*cut_note, "Paris est une commune (75056) : les structures de ses arrondissements "
               "y sont comptées.", POPULATION_NOTE, SOURCE_DIRECTORY]))
    if not scope.is_region:
        out.append(report.table(
            directory_table(scope), "partenaires_annuaire",
            f"Annuaire des structures inclusives, {scope.name}",
            columns={"raison_sociale": "Structure", "type": "Type", "commune": "Commune",
                     "secteurs": "Secteurs d'activité"},
            notes=["Tel que l'annuaire le publie (raison sociale, type, commune, secteurs).",
                   SOURCE_DIRECTORY]))
    return out


# --- value awarded ---------------------------------------------------------------------------------


def award_table(scope, name: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The territory's contracts and value awarded to one family (``siae``, ``ea_esat`` or
    ``inclusif``) by history year, and the holders' contributions to its amounts (for the
    dominance rule).

    Returns
    -------
    tuple
        The table (indexed by the year's label: ``annee, marches, marches_f, part_marches,
        ic_marches_bas, ic_marches_haut, montant, montant_f, part_montant, ic_montant_bas,
        ic_montant_haut``) and ``{"montant": …, "montant_f": …}`` contributions
        (:func:`analysis.disclosure.contributions`, the holders as contributors).
    """
    data = _awards(scope)
    shares = data["shares"]
    labels = _year_labels(scope)
    rows = shares.loc[shares["territoire"] == scope.territory].set_index("annee")
    rows = rows.reindex([y for y in labels if y in rows.index])
    table = pd.DataFrame({
        "annee": [labels[y] for y in rows.index],
        "marches": rows["marches"].to_numpy(),
        "marches_f": rows[f"marches_{name}"].to_numpy(),
        "part_marches": rows[f"part_marches_{name}"].to_numpy(),
        "ic_marches_bas": rows[f"ic_marches_{name}_bas"].to_numpy(),
        "ic_marches_haut": rows[f"ic_marches_{name}_haut"].to_numpy(),
        "montant": rows["montant"].round(0).astype("Int64").to_numpy(),
        "montant_f": rows[f"montant_{name}"].round(0).astype("Int64").to_numpy(),
        "part_montant": rows[f"part_montant_{name}"].to_numpy(),
        "ic_montant_bas": rows[f"ic_montant_{name}_bas"].to_numpy(),
        "ic_montant_haut": rows[f"ic_montant_{name}_haut"].to_numpy(),
    }, index=pd.Index([labels[y] for y in rows.index]))
    holders = data["holders"]
    holders = holders.loc[(holders["territoire"] == scope.territory)
                          & holders["annee"].isin(list(rows.index)).fillna(False)]
    year = holders["annee"].map(labels)
    chosen = (holders["famille"].notna() if name == "inclusif"
              else holders["famille"].eq(name).fillna(False)).astype(bool)
    contributions = {
        "montant": disclosure.contributions(year.to_numpy(), holders["titulaire_id"].to_numpy(),
                                            holders["part_montant"]),
        "montant_f": disclosure.contributions(year[chosen].to_numpy(),
                                              holders.loc[chosen, "titulaire_id"].to_numpy(),
                                              holders.loc[chosen, "part_montant"]),
    }
    return table.astype({"marches": "int64", "marches_f": "int64"}), contributions


AWARD_DERIVED = {"part_montant": ("montant_f", "montant"),
                 "ic_montant_bas": ("montant_f", "montant"),
                 "ic_montant_haut": ("montant_f", "montant")}


def _award_columns(name: str) -> dict[str, str]:
    short = FAMILY_LABELS.get(name, "structures inclusives")
    return {"annee": "Année", "marches": "Marchés notifiés",
            "marches_f": f"Marchés attribués à des {short}",
            "part_marches": "Part des marchés", "ic_marches_bas": "IC 95 % bas (nombre)",
            "ic_marches_haut": "IC 95 % haut (nombre)",
            "montant": "Montant attribué (€ HT)", "montant_f": f"Dont {short} (€ HT)",
            "part_montant": "Part du montant", "ic_montant_bas": "IC 95 % bas (montant)",
            "ic_montant_haut": "IC 95 % haut (montant)"}


def amounts_dominance_note() -> str:
    """The French sentence stating the dominance rule on the amounts (holders as contributors)."""
    rule = disclosure.dominance_rule()
    return (f"Montants : masqués quand moins de {rule.min_contributors} titulaires y "
            f"contribuent, quand le premier titulaire en fait {percent_fr(rule.k, 0)} ou plus, "
            f"ou quand les titulaires autres que les deux premiers en font moins de "
            f"{percent_fr(rule.p or 0, 0)} du premier (règle de dominance) ; la part qui en "
            "découle est masquée avec eux.")


def _award_notes(scope) -> list[str]:
    return [
        "Titulaire reconnu comme structure inclusive par son SIRET dans l'annuaire des "
        "structures, sinon par son SIREN (un autre établissement de la même entreprise). "
        "Montant : montant initial, sinon après modifications, partagé à parts égales entre "
        "cotitulaires ; lieu d'exécution du marché, année de notification.",
        f"Part des marchés : {INTERVAL_NOTE}.",
        "Part du montant : somme des montants attribués à la famille sur la somme des montants "
        "(marchés au montant connu) ; intervalle à 95 % par bootstrap en deux étapes (acheteurs, "
        f"puis marchés de chaque acheteur ; {BOOTSTRAP_REPLICATES} tirages, graine fixe) : un "
        "très gros marché peut dominer la part d'une année.",
        amounts_dominance_note(),
        *partial_year_note(scope), SOURCE_AWARDS]


@needs("contracts", "suppliers", "structures", label=AWARDS)
def awards(scope, report) -> list:
    """Contracts and value awarded to inclusive suppliers by year, SIAE apart from EA / ESAT."""
    whole, _ = award_table(scope, "inclusif")
    if whole.empty or whole["marches"].sum() == 0:
        return [Markdown(f"Aucun marché notifié dans {scope.name} sur l'historique.")]
    out = []
    last = whole.iloc[-1]
    out.append(Markdown(
        f"En {last['annee']}, {number_fr(last['marches_f'])} des {number_fr(last['marches'])} "
        f"marchés notifiés dans {scope.name} ont été attribués à une structure inclusive (SIAE, "
        f"EA ou ESAT), soit {percent_fr(last['part_marches'])} des marchés (IC 95 % : "
        f"{percent_fr(last['ic_marches_bas'])} – {percent_fr(last['ic_marches_haut'])}). Les "
        "parts du montant, sous la règle de dominance, sont données par famille ci-dessous."))
    for name in ind.FAMILIES:
        table, contributions = award_table(scope, name)
        out.append(report.table(
            table, f"achats_inclusifs_{name}",
            f"Marchés et montants attribués aux {FAMILY_CAPTIONS[name]}, {scope.name}",
            derived=AWARD_DERIVED, magnitudes=contributions,
            percent=("part_marches", "ic_marches_bas", "ic_marches_haut", "part_montant",
                     "ic_montant_bas", "ic_montant_haut"),
            integers=("marches", "marches_f", "montant", "montant_f"),
            columns=_award_columns(name), notes=_award_notes(scope)))
    return out


METHOD = """- **Offre de service des structures inclusives** : structures de l'annuaire (SIAE : EI,
  ETTI, AI, ACI, GEIQ ; secteur du handicap : EA, ESAT) situées dans le territoire, par type, par
  secteur d'activité (une structure active dans plusieurs secteurs compte dans chacun) et par
  commune. Pour 10 000 habitants : structures / population municipale (INSEE) × 10 000 ; une
  ville à arrondissements municipaux (Paris, Lyon, Marseille) compte une fois, pas en plus ses
  arrondissements, et la région est la somme de ses départements. Les structures sont des organisations d'un annuaire public : elles
  sont comptées sans secret statistique.
- **Achats auprès des structures inclusives** : un titulaire de marché (DECP) est une structure
  inclusive quand son SIRET figure dans l'annuaire, sinon quand son SIREN est celui d'une
  structure ; le montant d'un marché (initial, sinon après modifications) est partagé à parts
  égales entre ses cotitulaires. Par année de notification et lieu d'exécution : nombre de
  marchés attribués à chaque famille et part des marchés (intervalle à 95 % tenant compte du
  regroupement des marchés par acheteur), part du montant attribué (intervalle à 95 % par
  bootstrap en deux étapes, acheteurs puis marchés). Les montants sont des sommes sur des
  titulaires : un montant est masqué (« s ») quand moins de {m} titulaires y contribuent ou que le
  premier en fait {k} ou plus (règle de dominance), avec la part qui en découle. Un titulaire
  absent de l'annuaire, ou identifié autrement que par un SIRET, n'est pas compté : la part est un
  minimum."""


@method_needs("structures")
def method(scope=None, report=None) -> list:
    rule = disclosure.dominance_rule()
    return [Markdown(METHOD.format(m=rule.min_contributors, k=percent_fr(rule.k, 0)))]


__all__ = ["offer", "awards", "method", "type_table", "sector_table", "commune_table",
           "directory_table", "award_table", "OFFER", "AWARDS"]
