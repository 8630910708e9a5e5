"""Buyer sheets (*fiches acheteur*, issue 16 point 1): one HTML page per buyer with at least
:data:`analysis.config.BUYER_SHEET_MIN_CONTRACTS` contracts over the history.

How they are rendered, and why not with papermill
-------------------------------------------------
A real région counts thousands of buyers; a papermill render costs 5-20 s, so 3 000 notebooks
would take hours on two cores. Here every indicator is computed **once for all buyers** by
group-by over the warehouse (:mod:`analysis.indicators.buyers`), giving tidy tables keyed by the
buyer's SIRET; each sheet then takes its rows and is rendered by a light renderer: a Jinja2
template with autoescape (``templates/observatoire/fiche_acheteur.html.j2``, on the base of every
light sheet family: :mod:`analysis.sheets`) in the house style,
shares drawn as CSS bars (no image, no script: a sheet weighs tens of kilobytes). Every table goes
through :class:`analysis.publish.Report` exactly as in the reports: disclosure control of the
people counts (:func:`analysis.disclosure.protect`, dominance rule on the hours), CSV + XLSX
beside the sheet, and a record ``<siret>.json`` of what was published, so the family audit
(:func:`audit`, :func:`analysis.publish.audit_family`) reads the buyer sheets as it reads the
reports.

Outputs, under ``reports/acheteurs/``::

    <siret>.html, <siret>.json, fiche_acheteur_<siret>_tableaux/*.csv|xlsx
    acheteurs.json     every buyer (sheet or not) with its counts, and the render fingerprint

The folder is staged aside and swapped in once complete (an interrupted run leaves the previous
sheets); a run whose warehouse, code and parameters are those on disk is skipped.

Disclosure: counts of contracts and amounts are public data (DECP), published as they are. People
counts (beneficiaries) are protected at k with secondary suppression; the beneficiaries' total of a
buyer is declared shared between its tables (population key ``beneficiaires|acheteur:<siret>``),
so the audit sees the equations that tie them. :func:`joint_audit` audits the sheets together with
the département sheets of their period, with the equations that hold between them
(:func:`joint_relations`: a département's category counts against the sum of those of the buyers
whose people are disjoint and all in the département); ``observatoire report`` fails when a cell
is recovered. A person working for several buyers counts for each: such buyers give no equation.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import config, disclosure, sheets
from .indicators import buyers as ind
from .periods import Period
from .plots import percent_fr
from .present import datetime_fr, number_fr
from .publish import read_record
from .sheets import SheetReport, markup, template
from .sections.hours import MODALITIES

#: Folder of the buyer sheets under ``reports/``.
FOLDER = "acheteurs"
#: The list of every buyer, with the render fingerprint.
LISTING = "acheteurs.json"
TOTAL = "Ensemble"
SLUG = "fiche_acheteur"

PROFILE = {
    "sexe": ("Sexe", {"F": "Femmes", "H": "Hommes"}),
    "tranche_age": ("Âge", {"moins_de_26": "Moins de 26 ans", "26_49": "26 à 49 ans",
                            "50_et_plus": "50 ans et plus"}),
    "diplome": ("Niveau de diplôme", {
        "sans_diplome": "Sans diplôme", "niveau_3": "Niveau 3 (CAP, BEP)",
        "niveau_4": "Niveau 4 (baccalauréat)", "niveau_5": "Niveau 5 (bac + 2)",
        "niveau_6": "Niveau 6 et plus (bac + 3 et plus)", "niveau_7": "Niveau 6 et plus (bac + 3 et plus)",
        "niveau_8": "Niveau 6 et plus (bac + 3 et plus)"}),
    "qpv": ("Résidence en quartier prioritaire", {True: "Réside en QPV",
                                                   False: "Ne réside pas en QPV"}),
}
BREAKDOWNS = {"cpv_division": "Secteur (division CPV)", "procedure": "Procédure",
              "tranche_montant": "Tranche de montant"}


@dataclass
class BuyerData:
    """Every indicator of the buyer sheets, for all buyers at once (one group-by each)."""

    directory: pd.DataFrame
    yearly: pd.DataFrame
    peers: dict
    comparable: pd.DataFrame
    breakdowns: dict
    climate: dict
    inclusive: pd.DataFrame
    operations: pd.DataFrame | None = None
    work_contracts: pd.DataFrame | None = None
    participants: pd.DataFrame | None = None
    has_structures: bool = False
    first_year: int = 0
    last_year: int = 0
    # slices by buyer, made once
    _by: dict = field(default_factory=dict, repr=False)

    def rows(self, name: str, frame: pd.DataFrame, siret: str) -> pd.DataFrame:
        """The rows of ``frame`` for one buyer (a dict of groups built once per table)."""
        return sheets.actor_rows(self._by, name, frame, "acheteur_id", siret)


_optional = sheets.optional_table


def compute(processed: Path | None = None, min_contracts: int | None = None) -> BuyerData:
    """Read the warehouse once and compute every indicator of every buyer.

    Tracking (operations, work contracts, participants) and the structures directory are
    optional: without them the sheets say what is missing.
    """
    from .warehouse import load_table

    tables = {"contracts": load_table("contracts", processed)}
    for name in ("suppliers", "structures", "operations", "work_contracts", "participants"):
        tables[name] = _optional(name, processed)
    return compute_from(tables, min_contracts)


def compute_from(tables: dict, min_contracts: int | None = None) -> BuyerData:
    """:func:`compute` from tables already in memory (``contracts``, and optionally
    ``suppliers``, ``structures``, ``operations``, ``work_contracts``, ``participants``)."""
    contracts = tables["contracts"]
    min_contracts = config.BUYER_SHEET_MIN_CONTRACTS if min_contracts is None else min_contracts
    suppliers = tables.get("suppliers")
    structures = tables.get("structures")
    operations = tables.get("operations")
    work_contracts = tables.get("work_contracts")
    participants = tables.get("participants")
    tracking = operations is not None and work_contracts is not None and participants is not None \
        and not operations.empty
    years = contracts["annee"].dropna().astype(int)
    linked = buyer_work_contracts = buyer_participants = None
    if tracking:
        # Each operation belongs to one buyer: its work contracts and their people are given
        # the buyer's SIRET once, by joins, and sliced per buyer later.
        linked = ind.operations_of_buyers(operations, contracts)
        owner = linked.set_index("operation_id")["acheteur_id"]
        buyer_work_contracts = work_contracts.assign(
            acheteur_id=work_contracts["operation_id"].map(owner)).dropna(subset=["acheteur_id"])
        pairs = buyer_work_contracts[["acheteur_id", "participant_id"]].drop_duplicates()
        buyer_participants = pairs.merge(participants.drop_duplicates("participant_id"),
                                         on="participant_id", how="inner")
    return BuyerData(
        directory=ind.directory(contracts, min_contracts),
        yearly=ind.yearly(contracts), peers=ind.peers(contracts),
        comparable=ind.comparable(contracts),
        breakdowns={by: ind.breakdown(contracts, by) for by in BREAKDOWNS},
        climate=ind.climate(contracts),
        inclusive=ind.inclusive(contracts, suppliers if suppliers is not None
                                else pd.DataFrame(columns=["uid", "titulaire_id"]), structures),
        operations=linked,
        work_contracts=buyer_work_contracts,
        participants=buyer_participants,
        has_structures=structures is not None and not structures.empty,
        first_year=int(years.min()) if len(years) else 0,
        last_year=int(years.max()) if len(years) else 0)


# --- One sheet ------------------------------------------------------------------------------------


class BuyerReport(SheetReport):
    """A :class:`~analysis.sheets.SheetReport` for one buyer (record field ``buyer``, files named
    by its SIRET)."""

    actor_field = "buyer"
    key_field = "siret"
    key_label = "SIRET"

    @property
    def buyer(self) -> dict:
        return self.actor

    @buyer.setter
    def buyer(self, value: dict) -> None:
        self.actor = value

    @property
    def siret(self) -> str:
        return self.key


def _pct(value) -> str:
    return "–" if pd.isna(value) else percent_fr(float(value))


def _share_bars(table: pd.DataFrame, target: float) -> dict:
    rows = []
    for row in table.itertuples():
        if pd.isna(row.part):
            continue
        rows.append({"label": str(row.annee), "width": round(100 * float(row.part), 1),
                     "ci": (round(100 * float(row.ic_bas), 1),
                            round(100 * float(row.ic_haut - row.ic_bas), 1)),
                     "target": round(100 * target, 1),
                     "text": f"{_pct(row.part)} [{_pct(row.ic_bas)} ; {_pct(row.ic_haut)}]"})
    return {"rows": rows, "alt": "Part des marchés avec une considération sociale par année, "
                                 "avec l'intervalle de confiance à 95 %",
            "caption": "Barre bleue : part des marchés avec au moins une considération sociale ; "
                       "trait orange : intervalle de confiance à 95 % (Wilson) ; trait rouge : "
                       f"objectif national de {percent_fr(target, 0)}."}


_html = markup


def _profile_tables(report: BuyerReport, people: pd.DataFrame, key: str) -> list:
    out = []
    total = int(len(people))
    for column, (title, labels) in PROFILE.items():
        values = people[column].map(lambda v, lab=labels: lab.get(v, "Non renseigné"))
        order = list(dict.fromkeys(labels.values())) + ["Non renseigné"]
        counts = values.value_counts().reindex(order).fillna(0).astype("int64")
        counts = counts.loc[(counts > 0) | counts.index.isin(list(labels.values()))]
        frame = pd.DataFrame({"categorie": counts.index, "beneficiaires": counts.to_numpy()})
        frame.loc[len(frame)] = [TOTAL, total]
        frame.index = frame["categorie"]
        frame["part"] = frame["beneficiaires"] / total if total else float("nan")
        out.append(_html(report.table(
            frame.reset_index(drop=True).set_index(frame.index), f"beneficiaires_{column}",
            f"Bénéficiaires par {title.lower()}", people=("beneficiaires",),
            derived={"part": "beneficiaires"}, margins=disclosure.Margins(total_row=TOTAL),
            shared={key: ("cell", TOTAL, "beneficiaires")}, percent=("part",),
            integers=("beneficiaires",),
            columns={"categorie": title, "beneficiaires": "Bénéficiaires", "part": "Part"},
            notes=["Personnes distinctes ayant travaillé sur une opération de l'acheteur "
                   "(toutes années)."])))
    return out


def _execution(report: BuyerReport, data: BuyerData, siret: str) -> dict:
    block = {"heading": "Exécution : heures d'insertion et bénéficiaires", "anchor": "execution",
             "paragraphs": [], "tables": []}
    if data.operations is None:
        block["paragraphs"].append(
            "Les données de suivi des clauses (logiciel des facilitateurs) ne sont pas dans "
            "l'entrepôt : l'exécution des clauses de cet acheteur ne peut pas être décrite.")
        return block
    ops = data.rows("operations", data.operations, siret)
    if ops.empty:
        block["paragraphs"].append(
            "Aucune opération suivie par les facilitateurs n'est rattachée à cet acheteur (ni par "
            "l'identifiant de ses marchés, ni par son SIRET de maître d'ouvrage).")
        return block
    wc = data.rows("work_contracts", data.work_contracts, siret)
    modality = wc["operation_id"].map(ops.set_index("operation_id")["modalite"]).astype("string")
    labels = [m for m in MODALITIES if (ops["modalite"] == m).any()]
    planned = ops.groupby("modalite")["heures_prevues"].sum()
    realised = wc.groupby(modality.to_numpy())["heures"].sum()
    beneficiaries = wc.groupby(modality.to_numpy())["participant_id"].nunique()
    frame = pd.DataFrame({
        "modalite": [MODALITIES[m] for m in labels] + [TOTAL],
        "operations": [int((ops["modalite"] == m).sum()) for m in labels] + [len(ops)],
        "heures_prevues": [float(planned.get(m, 0.0)) for m in labels]
        + [float(ops["heures_prevues"].sum())],
        "heures_realisees": [float(realised.get(m, 0.0)) for m in labels]
        + [float(wc["heures"].sum())],
        "beneficiaires": [int(beneficiaries.get(m, 0)) for m in labels]
        + [int(wc["participant_id"].nunique())]},
        index=[MODALITIES[m] for m in labels] + [TOTAL])
    frame["taux_realisation"] = frame["heures_realisees"] / frame["heures_prevues"].where(
        frame["heures_prevues"] > 0)
    from .sections.hours import employer

    rows = modality.map(MODALITIES).to_numpy()
    contributions = disclosure.contributions(rows, employer(wc).to_numpy(), wc["heures"],
                                             total_row=TOTAL)
    key = f"beneficiaires|acheteur:{siret}"
    linked = ops["lien"].value_counts()
    by_owner = int(linked.get("maître d'ouvrage", 0))
    block["paragraphs"].append(
        f"{number_fr(len(ops))} opérations suivies par les facilitateurs sont rattachées à cet "
        f"acheteur : {number_fr(linked.get('marché', 0))} par l'identifiant d'un de ses marchés "
        f"(decp_uid), {number_fr(by_owner)} "
        "par son SIRET de maître d'ouvrage.")
    block["tables"].append(_html(report.table(
        frame, "heures_par_modalite", "Heures d'insertion prévues et réalisées par modalité",
        people=("beneficiaires",), derived={"taux_realisation": "heures_realisees"},
        margins=disclosure.Margins(total_row=TOTAL, not_additive=("beneficiaires",)),
        shared={key: ("cell", TOTAL, "beneficiaires")},
        magnitudes={"heures_realisees": contributions},
        integers=("operations", "heures_prevues", "heures_realisees", "beneficiaires"),
        percent=("taux_realisation",),
        columns={"modalite": "Modalité", "operations": "Opérations",
                 "heures_prevues": "Heures prévues", "heures_realisees": "Heures réalisées",
                 "beneficiaires": "Bénéficiaires", "taux_realisation": "Taux de réalisation"},
        notes=["Heures réalisées : somme des contrats de travail des opérations (toutes années). "
               "Une personne ayant travaillé sous plusieurs modalités compte dans chacune : la "
               "ligne « Ensemble » compte les personnes distinctes."])))
    people = data.rows("participants", data.participants, siret)
    block["tables"] += _profile_tables(report, people, key)
    return block


def _inclusive(report: BuyerReport, data: BuyerData, siret: str) -> dict:
    block = {"heading": "Achats inclusifs", "anchor": "achats-inclusifs", "paragraphs": [],
             "tables": []}
    row = data.rows("inclusive", data.inclusive, siret)
    if row.empty:
        block["paragraphs"].append("Aucun montant attribué connu pour cet acheteur.")
        return block
    row = row.iloc[0]
    if not data.has_structures:
        block["paragraphs"].append(
            "L'annuaire des structures inclusives (SIAE, EA, ESAT) n'est pas dans l'entrepôt : la "
            "part attribuée aux fournisseurs inclusifs ne peut pas être mesurée.")
    frame = pd.DataFrame({
        "famille": ["SIAE (EI, ETTI, AI, ACI, GEIQ)", "Entreprises adaptées et ESAT", TOTAL],
        "montant": [row["montant_siae"], row["montant_ea_esat"],
                    row["montant_siae"] + row["montant_ea_esat"]],
        "part": [row["part_siae"], row["part_ea_esat"], row["part_inclusive"]]})
    if data.has_structures:
        block["tables"].append(_html(report.table(
            frame, "achats_inclusifs", "Montant attribué à des fournisseurs inclusifs",
            integers=("montant",), percent=("part",),
            columns={"famille": "Famille de structure", "montant": "Montant attribué (€ HT)",
                     "part": "Part du montant total attribué"},
            notes=[f"Montant total attribué par l'acheteur : {number_fr(row['montant_total'])} € HT "
                   "(montant initial, sinon après modifications ; partagé à parts égales entre "
                   "cotitulaires). Titulaire reconnu par son SIRET dans l'annuaire des structures, "
                   f"sinon par son SIREN ; {number_fr(row['marches_inclusifs'])} marchés, "
                   f"{number_fr(row['titulaires_inclusifs'])} titulaires inclusifs."])))
    reserved = [f"{number_fr(row['marches_reserves'])} marchés réservés déclarés dans les DECP "
                "(considération « Marché réservé » ; les DECP ne distinguent pas L2113-12 et "
                "L2113-13)."]
    if data.operations is not None:
        ops = data.rows("operations", data.operations, siret)
        reserved.append(
            f"Dans le suivi des facilitateurs : {number_fr((ops['modalite'] == 'reserve_siae').sum())} "
            "opérations en marché réservé aux SIAE (L2113-13), "
            f"{number_fr((ops['modalite'] == 'reserve_ea_esat').sum())} en marché réservé aux "
            "EA / ESAT (L2113-12).")
    block["paragraphs"] += reserved
    return block


def _climate(report: BuyerReport, data: BuyerData, siret: str) -> dict:
    block = {"heading": "Loi Climat et résilience", "anchor": "climat-resilience",
             "paragraphs": [], "tables": []}
    start = pd.Timestamp(ind.CLIMATE_START)
    block["paragraphs"].append(
        "Depuis le décret n° 2022-767, les marchés d'un montant égal ou supérieur aux seuils "
        "européens dont la consultation est lancée à partir du "
        f"{start.day} août {start.year} doivent prévoir des considérations sociales dans leurs "
        "conditions d'exécution (loi n° 2021-1104, art. 35). Les DECP ne donnent pas la date de "
        "lancement de la consultation : la date de notification, plus tardive, en tient lieu.")
    by_year = data.rows("climate", data.climate["par_annee"], siret)
    if by_year.empty:
        block["paragraphs"].append("Aucun marché de cet acheteur n'atteint les seuils européens "
                                   "sur les périodes où ils sont connus.")
    else:
        frame = by_year[["annee", "au_dessus_seuil", "avec_consideration", "statut_inconnu"]].copy()
        frame["part"] = frame["avec_consideration"] / (frame["au_dessus_seuil"]
                                                       - frame["statut_inconnu"]).where(
            lambda s: s > 0)
        block["tables"].append(_html(report.table(
            frame.reset_index(drop=True), "climat_seuils",
            "Marchés au-dessus des seuils européens", integers=("au_dessus_seuil",
                                                               "avec_consideration",
                                                               "statut_inconnu"),
            percent=("part",),
            columns={"annee": "Année", "au_dessus_seuil": "Marchés au-dessus des seuils",
                     "avec_consideration": "Avec considération sociale",
                     "statut_inconnu": "Statut inconnu", "part": "Part (statut connu)"})))
    listed = data.rows("climate_list", data.climate["sans_consideration"], siret)
    since = data.rows("climate_since", data.climate["a_partir"], siret)
    if since.empty:
        block["paragraphs"].append(
            f"Aucun marché au-dessus des seuils notifié à partir du {start.strftime('%d/%m/%Y')} "
            "n'est encore publié pour cet acheteur.")
    elif listed.empty:
        block["paragraphs"].append(
            f"Les {number_fr(since.iloc[0]['contrats'])} marchés au-dessus des seuils notifiés à "
            f"partir du {start.strftime('%d/%m/%Y')} portent tous une considération sociale "
            "(ou ont un statut inconnu).")
    else:
        frame = listed[["id", "objet", "dateNotification", "montant_reference"]].copy()
        frame["dateNotification"] = frame["dateNotification"].dt.strftime("%d/%m/%Y")
        block["tables"].append(_html(report.table(
            frame.reset_index(drop=True), "climat_sans_consideration",
            "Marchés soumis à l'obligation sans considération sociale",
            integers=("montant_reference",),
            columns={"id": "Identifiant du marché", "objet": "Objet",
                     "dateNotification": "Notification", "montant_reference": "Montant (€ HT)"},
            notes=["Données publiques (DECP). Une exception à l'obligation (lien insuffisant avec "
                   "l'objet, concurrence restreinte, difficulté technique ou économique) doit être "
                   "justifiée par l'acheteur ; elle n'apparaît pas dans les DECP."])))
    return block


def render_sheet(data: BuyerData, buyer: pd.Series, output_dir: Path | None, k: int,
                 period: Period, manifest: dict, target: float = config.DEFAULT_TARGET,
                 template=None) -> str:
    """Render one buyer's sheet; write its HTML, record and tables under ``output_dir``.

    Returns
    -------
    str
        The sheet's HTML.
    """
    siret = str(buyer["acheteur_id"])
    dep = buyer["acheteur_departement"]
    territory = str(dep) if pd.notna(dep) and str(dep) in config.TERRITORIES \
        else config.REGION_CODE
    report = BuyerReport(slug=f"{SLUG}_{siret}", territory=territory, period=period,
                         target=target, k=k, output_dir=output_dir)
    category = buyer["acheteur_categorie"] if pd.notna(buyer["acheteur_categorie"]) \
        else "catégorie non renseignée"
    dep_label = (f"{config.territory_name(str(dep))} ({dep})"
                 if pd.notna(dep) and str(dep) in config.TERRITORIES
                 else ("département non renseigné" if pd.isna(dep) else str(dep)))
    report.manifest = manifest
    report.buyer = {"siret": siret, "nom": str(buyer["acheteur_nom"]), "categorie": str(category),
                    "departement": dep_label, "contrats": int(buyer["contrats"])}
    blocks = []

    # 1. Share by year, with peers and the national figure
    yearly = data.rows("yearly", data.yearly, siret).sort_values("annee")
    block = {"heading": "Part des marchés avec une considération sociale", "anchor": "part",
             "paragraphs": [], "tables": []}
    block["paragraphs"].append(
        "Intervalle de confiance à 95 % de Wilson sur les marchés de l'acheteur : pour un seul "
        "acheteur, les marchés sont les unités (l'intervalle groupé par acheteur des rapports "
        "territoriaux se réduit alors exactement à celui de Wilson). Il dit de combien la "
        "pratique de l'acheteur peut s'écarter de la part observée du seul fait des marchés "
        "notifiés dans l'année. Les marchés de statut inconnu sont exclus du dénominateur.")
    block["bars"] = _share_bars(yearly, target)
    shown = yearly[["annee", "contrats", "avec_consideration", "part", "ic_bas", "ic_haut",
                    "clause_sociale", "critere_social", "marche_reserve", "statut_inconnu"]]
    block["tables"].append(_html(report.table(
        shown.reset_index(drop=True), "part_par_annee",
        "Part des marchés avec au moins une considération sociale, par année",
        percent=("part", "ic_bas", "ic_haut"),
        integers=("contrats", "avec_consideration", "clause_sociale", "critere_social",
                  "marche_reserve", "statut_inconnu"),
        columns={"annee": "Année", "contrats": "Marchés (statut connu)",
                 "avec_consideration": "Avec considération sociale", "part": "Part",
                 "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut",
                 "clause_sociale": "Dont clause sociale", "critere_social": "Dont critère social",
                 "marche_reserve": "Dont marché réservé", "statut_inconnu": "Statut inconnu"},
        notes=["Un marché peut porter plusieurs considérations : les colonnes « dont » ne "
               "s'additionnent pas."])))
    blocks.append(block)

    # Peers and national basis
    peers = {"heading": "Position parmi les pairs et repère national", "anchor": "pairs",
             "paragraphs": [], "tables": []}
    cat = buyer["acheteur_categorie"] if pd.notna(buyer["acheteur_categorie"]) else ind.UNKNOWN
    dep_key = str(dep) if pd.notna(dep) else ind.UNKNOWN
    dep_peers = data.peers["departement"]
    dep_peers = dep_peers.loc[(dep_peers["acheteur_categorie"] == cat)
                              & (dep_peers["acheteur_departement"] == dep_key)]
    reg_peers = data.peers["region"].loc[data.peers["region"]["acheteur_categorie"] == cat]
    rank = data.rows("rang", data.peers["rang"], siret)
    if not rank.empty:
        r = rank.iloc[0]
        peers["paragraphs"].append(
            f"Sur l'ensemble de la période, {_pct(r['part_historique'])} de ses marchés de statut "
            f"connu portent une considération sociale : rang {int(r['rang'])} sur "
            f"{int(r['pairs'])} acheteurs de la catégorie « {category} » dans le même "
            "département (1 = la part la plus élevée).")
    comp = data.rows("comparable", data.comparable, siret).set_index("annee")
    frame = pd.DataFrame({"annee": yearly["annee"].to_numpy()})
    frame["part"] = yearly["part"].to_numpy()
    frame = frame.merge(dep_peers[["annee", "part", "ic_bas", "ic_haut", "acheteurs"]]
                        .rename(columns=lambda c: c if c == "annee" else f"dep_{c}"),
                        on="annee", how="left")
    frame = frame.merge(reg_peers[["annee", "part", "ic_bas", "ic_haut", "acheteurs"]]
                        .rename(columns=lambda c: c if c == "annee" else f"reg_{c}"),
                        on="annee", how="left")
    frame["comp_part"] = frame["annee"].map(comp["part"]) if not comp.empty else float("nan")
    frame["comp_contrats"] = (frame["annee"].map(comp["contrats"]).fillna(0).astype("int64")
                              if not comp.empty else 0)
    frame["nationale"] = frame["annee"].map(
        lambda y: config.NATIONAL_SHARE.get(int(y), (float("nan"), ""))[0])
    peers["tables"].append(_html(report.table(
        frame, "pairs_et_national", "Part de l'acheteur, de ses pairs et repère national",
        percent=("part", "dep_part", "dep_ic_bas", "dep_ic_haut", "reg_part", "reg_ic_bas",
                 "reg_ic_haut", "comp_part", "nationale"),
        integers=("dep_acheteurs", "reg_acheteurs", "comp_contrats"),
        columns={"annee": "Année", "part": "Acheteur",
                 "dep_part": "Pairs du département", "dep_ic_bas": "IC bas (dép.)",
                 "dep_ic_haut": "IC haut (dép.)", "dep_acheteurs": "Acheteurs (dép.)",
                 "reg_part": "Pairs de la région", "reg_ic_bas": "IC bas (région)",
                 "reg_ic_haut": "IC haut (région)", "reg_acheteurs": "Acheteurs (région)",
                 "comp_part": "Acheteur, base nationale", "comp_contrats": "Marchés (base nat.)",
                 "nationale": "France (publié)"},
        notes=["Pairs : acheteurs de la même catégorie (l'acheteur compris) ; intervalles groupés "
               "par acheteur (un acheteur, une politique d'achat).",
               "Base nationale : comme le recensement de l'OECP, marchés d'au moins 90 000 € HT "
               "jusqu'en 2023, 40 000 € HT à partir de 2024 ; « France (publié) » : chiffre "
               "national publié, toutes catégories d'acheteurs confondues."])))
    blocks.append(peers)

    # Kinds and breakdowns
    kinds = {"heading": "Nature des considérations et répartitions", "anchor": "repartitions",
             "paragraphs": [], "tables": []}
    totals = yearly[["clause_sociale", "critere_social", "marche_reserve"]].sum()
    with_any = int(yearly["avec_consideration"].sum())
    kind_frame = pd.DataFrame({
        "nature": ["Clause sociale (condition d'exécution)", "Critère social d'attribution",
                   "Marché réservé"],
        "contrats": [int(totals["clause_sociale"]), int(totals["critere_social"]),
                     int(totals["marche_reserve"])]})
    kind_frame["part"] = kind_frame["contrats"] / with_any if with_any else float("nan")
    kinds["tables"].append(_html(report.table(
        kind_frame, "natures", "Nature des considérations sociales (toutes années)",
        integers=("contrats",), percent=("part",),
        columns={"nature": "Nature", "contrats": "Marchés",
                 "part": "Part des marchés avec considération"},
        notes=["Un marché peut en porter plusieurs."])))
    for by, title in BREAKDOWNS.items():
        part = data.rows(f"breakdown_{by}", data.breakdowns[by], siret)
        frame = part[["valeur", "contrats", "avec_consideration", "part", "ic_bas", "ic_haut"]] \
            .copy()
        if by == "cpv_division":
            from .cpv import division_label

            frame["valeur"] = [v if v == ind.UNKNOWN else division_label(v)
                               for v in frame["valeur"]]
        kinds["tables"].append(_html(report.table(
            frame.reset_index(drop=True), f"par_{by}", f"Part par {title[0].lower()}{title[1:]}",
            integers=("contrats", "avec_consideration"), percent=("part", "ic_bas", "ic_haut"),
            columns={"valeur": title, "contrats": "Marchés (statut connu)",
                     "avec_consideration": "Avec considération sociale", "part": "Part",
                     "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut"})))
    blocks.append(kinds)

    blocks.append(_climate(report, data, siret))
    blocks.append(_execution(report, data, siret))
    blocks.append(_inclusive(report, data, siret))

    last = yearly.dropna(subset=["part"]).tail(1)
    if not last.empty:
        r = last.iloc[0]
        report.key_figure(f"des marchés {int(r['annee'])} avec une considération sociale",
                          _pct(r["part"]), f"IC 95 % : {_pct(r['ic_bas'])} – {_pct(r['ic_haut'])}",
                          headline=True)
    report.key_figure("marchés publiés", number_fr(int(buyer["contrats"])),
                      f"{data.first_year}-{data.last_year}")
    inc = data.rows("inclusive", data.inclusive, siret)
    if data.has_structures and not inc.empty:
        report.key_figure("du montant attribué à des fournisseurs inclusifs",
                          _pct(inc.iloc[0]["part_inclusive"]), "SIAE, EA et ESAT")

    template = template or _template()
    page = template.render(
        buyer=report.buyer, sections=[(b["anchor"], b["heading"]) for b in blocks],
        blocks=blocks, key_figures=report.key_figures, k=k, first_year=data.first_year,
        last_year=data.last_year, tracking=data.operations is not None,
        structures=data.has_structures,
        built=datetime_fr(manifest.get("built_at", "?")))
    return report.publish(page)


def _template():
    return template("fiche_acheteur.html.j2")


# --- All sheets -----------------------------------------------------------------------------------


@dataclass
class BuyerSummary:
    folder: Path
    sheets: int = 0
    listed: int = 0
    skipped: bool = False
    seconds: float = 0.0
    absent: bool = False    # no DECP contracts in the warehouse: no sheet rendered


class _SheetRenderer:
    """``render(row)`` for one buyer: what the processes (forked, or Dask workers) need, in one
    picklable object (the template is loaded where it renders)."""

    def __init__(self, data, folder, k, period, manifest, target):
        self.args = (data, folder, k, period, manifest, target)
        self._template = None

    def __getstate__(self):
        return {"args": self.args, "_template": None}

    def __call__(self, row) -> str:
        if self._template is None:
            self._template = _template()
        data, folder, k, period, manifest, target = self.args
        return render_sheet(data, row, folder, k, period, manifest, target, self._template)


def fingerprint(manifest: dict, k: int, min_contracts: int) -> str:
    return sheets.fingerprint(manifest, k, min_contracts)


def render_all(reports_dir: Path | None = None, processed: Path | None = None,
               k: int | None = None, min_contracts: int | None = None, force: bool = False,
               target: float = config.DEFAULT_TARGET, jobs: int | None = None,
               scheduler=None) -> BuyerSummary:
    """Render every buyer sheet under ``reports/acheteurs/`` (skipped when unchanged).

    The indicators are computed once in this process; the sheets are then rendered by ``jobs``
    processes (default: the cores) forked from it, each taking every ``jobs``-th buyer (a sheet
    depends on its buyer's rows only: the same bytes whatever ``jobs``). The folder is built
    aside (``reports/.acheteurs-<pid>``) and swapped in once complete. With ``scheduler`` (a
    Dask ``Client`` or a scheduler's address), the sheets are rendered on its workers
    (:func:`analysis.sheets.render_parallel`): the same bytes.
    """
    from .periods import default_period
    from .warehouse import load_manifest

    started = time.perf_counter()
    reports_dir = Path(reports_dir or config.paths().reports)
    k = int(k or config.suppression_k())
    if k < config.suppression_k():
        raise ValueError(f"seuil de secret statistique {k} inférieur au seuil de l'observatoire")
    min_contracts = config.BUYER_SHEET_MIN_CONTRACTS if min_contracts is None else min_contracts
    manifest = load_manifest(processed)
    folder = reports_dir / FOLDER
    if not int(manifest.get("tables", {}).get("contracts", 0)):
        # No DECP in the warehouse (every source is optional): no sheet, and none left over from
        # an earlier warehouse; the index says why (:func:`index_section`).
        sheets.replace_folder(reports_dir, folder, None)
        return BuyerSummary(folder, seconds=time.perf_counter() - started, absent=True)
    digest = fingerprint(manifest, k, min_contracts)
    listing = None if force else sheets.current_listing(folder, LISTING, digest, "acheteurs",
                                                         "siret")
    if listing is not None:
        return BuyerSummary(folder, sheets=sum(bool(b.get("fiche")) for b in listing["acheteurs"]),
                            listed=len(listing["acheteurs"]), skipped=True,
                            seconds=time.perf_counter() - started)
    data = compute(processed, min_contracts)
    period = default_period()
    staging = sheets.staging_folder(reports_dir, FOLDER)
    rows = [pd.Series(b._asdict()) for b in data.directory.itertuples(index=False) if b.fiche]
    sheets.render_parallel(
        _SheetRenderer(data, staging, k, period, manifest, target), rows, jobs,
        scheduler=scheduler)
    entries = []
    for buyer in data.directory.itertuples(index=False):
        entries.append({"siret": str(buyer.acheteur_id), "nom": str(buyer.acheteur_nom),
                        "categorie": None if pd.isna(buyer.acheteur_categorie)
                        else str(buyer.acheteur_categorie),
                        "departement": None if pd.isna(buyer.acheteur_departement)
                        else str(buyer.acheteur_departement),
                        "contrats": int(buyer.contrats), "fiche": bool(buyer.fiche)})
    seconds = time.perf_counter() - started
    sheets.write_listing(staging, LISTING, {
        "seuil_fiche": min_contracts, "k": k, "acheteurs": entries,
        "render": {"fingerprint": digest, "seconds": round(seconds, 2)}})
    sheets.replace_folder(reports_dir, folder, staging)
    return BuyerSummary(folder, sheets=sum(e["fiche"] for e in entries), listed=len(entries),
                        seconds=time.perf_counter() - started)


def members(reports_dir: Path | None = None) -> list[tuple[dict, Path]]:
    """``(record, folder)`` of every buyer sheet on disk, for :func:`analysis.publish.audit_family`."""
    return sheets.members(Path(reports_dir or config.paths().reports) / FOLDER, LISTING)


def audit(reports_dir: Path | None = None, k: int | None = None,
          others: list[tuple[dict, Path]] = ()) -> list:
    """The family audit of the buyer sheets (with ``others``: e.g. the département sheets).

    Every people table of every sheet is read back from its CSV with its margins and shared
    counts; returns the hidden cells that can be recovered (:func:`analysis.publish.audit_family`).
    """
    from .publish import audit_family

    return audit_family([*members(reports_dir), *others], k=k)


#: The département sheet's profile table of each variable of the buyer sheets' profile tables.
DEPARTEMENT_SLUG = sheets.DEPARTEMENT_SLUG
DEPARTEMENT_PROFILE = {column: f"profil_{column}" for column in PROFILE}


def _buyer_label(column: str, values: pd.Series) -> pd.Series:
    labels = PROFILE[column][1]
    return values.map(lambda v: labels.get(v, "Non renseigné") if pd.notna(v)
                      else "Non renseigné").astype(object)


def _departement_label(column: str, people: pd.DataFrame) -> pd.Series:
    from .sections.beneficiaries import LABELS, UNKNOWN, _values

    values = _values(people, column)
    return values.map(lambda v: LABELS[column].get(v, v) if v != UNKNOWN else "Non renseigné") \
        .astype(object)


def _positions(frame: pd.DataFrame) -> dict:
    """Row label (first column of a published CSV) -> row position."""
    return {str(label): i for i, label in enumerate(frame.iloc[:, 0].astype(str))}


def joint_relations(buyer_members: list[tuple[dict, Path]],
                    departement_members: list[tuple[dict, Path]],
                    buyer_people: pd.DataFrame,
                    departement_people: dict[str, pd.DataFrame]) -> list[disclosure.Relation]:
    """The equations that hold between the buyer sheets' people cells and a département sheet's.

    A buyer sheet counts the distinct people of the buyer's operations (every year); a
    département sheet the beneficiaries of its period in the département. A département's count
    of a category equals the sum of some buyers' counts plus people of no such buyer exactly
    when those buyers' people are **disjoint** and all among the département's people: so, for
    each département sheet, the buyers (with a sheet) whose people all belong to it and to no other
    buyer with a sheet give one equation per category of each profile variable,
    ``département rows = Σ buyers' row + remainder`` (the remainder — people of other buyers or
    of no buyer — is unpublished; none when the buyers cover the département's people exactly).
    A category of the buyer sheet may gather several of the département's (diploma levels 6 to
    8): the equation takes all of them, provided every person of the département in one of its
    categories falls in the same category of the buyer sheet (checked on the people; a variable
    where it does not gives no equation). Buyers sharing people with another buyer give no
    equation (their counts overlap: the sum is no published figure); that is the limit.

    Parameters
    ----------
    buyer_members, departement_members
        ``(record, folder)`` of the buyer sheets and of the département sheets of one period.
    buyer_people
        One row per buyer and person: ``acheteur_id``, ``participant_id`` and the profile
        columns (:attr:`BuyerData.participants`).
    departement_people
        For each département code, the people its sheet counts (``participant_id`` and the
        profile columns, as in :func:`analysis.sections.beneficiaries.people`).

    Returns
    -------
    list of analysis.disclosure.Relation
    """
    from .publish import TABLES_SUFFIX, read_published_table, table_name

    def tables_of(members):
        out = {}
        for record, folder in members:
            for table in record.get("tables", []):
                if table.get("people"):
                    frame = read_published_table(
                        Path(folder) / f"{record['slug']}{TABLES_SUFFIX}" / f"{table['name']}.csv",
                        table["people"])
                    out[table["name"]] = (table_name(record, table), table["people"][0],
                                          _positions(frame))
        return out

    sheets = {str(record["buyer"]["siret"]): tables_of([(record, folder)])
              for record, folder in buyer_members}
    people = buyer_people.loc[buyer_people["acheteur_id"].astype(str).isin(sheets)]
    owners = people.groupby("participant_id")["acheteur_id"].nunique()
    shared_people = set(owners.index[owners > 1])
    by_buyer = {str(b): set(g["participant_id"]) for b, g in people.groupby("acheteur_id")}
    exclusive = {b: ids for b, ids in by_buyer.items() if ids and not ids & shared_people}
    relations: list[disclosure.Relation] = []
    for record, folder in departement_members:
        dep = str(record["territory"])
        if dep not in departement_people:
            raise ValueError(f"audit conjoint : population de la fiche {dep} non fournie")
        crowd = departement_people[dep].drop_duplicates("participant_id")
        ids = set(crowd["participant_id"])
        inside = sorted(b for b, who in exclusive.items() if who <= ids)
        if not inside:
            continue
        covered = set().union(*(exclusive[b] for b in inside))
        remainder = covered != ids
        dep_tables = tables_of([(record, folder)])
        for column, dep_name in DEPARTEMENT_PROFILE.items():
            if dep_name not in dep_tables:
                continue
            dep_table, dep_col, dep_rows = dep_tables[dep_name]
            pairs = pd.DataFrame({"dep": _departement_label(column, crowd).to_numpy(),
                                  "buyer": _buyer_label(column, crowd[column]).to_numpy()})
            if (pairs.groupby("dep")["buyer"].nunique() > 1).any():
                continue            # a département category split between buyer categories
            groups = pairs.drop_duplicates().groupby("buyer")["dep"].apply(list)
            groups[TOTAL] = [TOTAL]
            for label, dep_labels in groups.items():
                total = tuple((dep_table, dep_rows[d], dep_col) for d in dep_labels
                              if d in dep_rows)
                parts = []
                for siret in inside:
                    found = sheets[siret].get(f"beneficiaires_{column}")
                    if found is not None and label in found[2]:
                        parts.append((found[0], found[2][label], found[1]))
                if total and parts:
                    relations.append(disclosure.Relation(total, tuple(parts), remainder))
    return relations


def departement_people(period: str | Period, departements) -> dict[str, pd.DataFrame]:
    """The people each département sheet of ``period`` counts (warehouse in force)."""
    from .scope import Scope
    from .sections.beneficiaries import people

    return {str(d): people(Scope(str(d), period)) for d in departements}


JointAudit = sheets.JointAudit


def joint_audit(reports_dir: Path | None = None, period: str | Period | None = None,
                k: int | None = None, data: BuyerData | None = None,
                processed: Path | None = None) -> JointAudit:
    """Audit the buyer sheets together with the département sheets of ``period`` (default: the
    buyer sheets' period) on disk, with the equations of :func:`joint_relations` besides every
    sheet's own (margins, shared totals): :func:`analysis.publish.audit_family` over all of them.

    Run by ``observatoire report`` after the buyer sheets render; the command fails when a cell
    is recovered. ``data``: the buyers' indicators (computed from the warehouse otherwise).
    """
    reports_dir = Path(reports_dir or config.paths().reports)
    buyers = members(reports_dir)
    if not buyers:
        return JointAudit([], 0, 0, 0)
    period = Period.parse(period or buyers[0][0]["period"])
    departements = sheets.departement_members(reports_dir, period)
    relations: list = []
    if departements:
        if data is None:
            data = compute(processed)
        if data.participants is not None:
            crowds = departement_people(period, [r["territory"] for r, _ in departements])
            relations = joint_relations(buyers, departements, data.participants, crowds)
    return sheets.audit_jointly([*buyers, *departements], relations, k)


# --- Index ----------------------------------------------------------------------------------------

def index_section(reports_dir: Path) -> str:
    """The buyers' section of ``reports/index.html`` (empty when no sheet was rendered): every
    buyer with a sheet, with an offline filter by name or SIRET (inline script reading the rows'
    text: :data:`analysis.portal.FILTER_SCRIPT`, nothing fetched), then the buyers under the
    threshold with their counts."""
    from .portal import filter_box

    listing = read_record(Path(reports_dir) / FOLDER / LISTING)
    if not listing:
        from .warehouse import table_rows

        rows = table_rows()
        if rows and not rows.get("contracts"):
            return ('<h2 id="acheteurs">Fiches acheteur</h2>\n<p>Aucune fiche acheteur : '
                    "l'entrepôt ne contient pas les données essentielles des marchés publics "
                    "(DECP), dont elles sont tirées.</p>\n")
        return ""
    esc = html.escape
    with_sheet = [b for b in listing.get("acheteurs", []) if b.get("fiche")]
    without = [b for b in listing.get("acheteurs", []) if not b.get("fiche")]
    rows = []
    for b in with_sheet:
        dep = b.get("departement") or "–"
        rows.append(
            f'<tr data-filtre="{esc(b["nom"] + " " + b["siret"])}"><td><a href="{FOLDER}/'
            f'{esc(b["siret"])}.html">{esc(b["nom"])}</a></td><td>{esc(b["siret"])}</td>'
            f'<td>{esc(b.get("categorie") or "–")}</td><td>{esc(dep)}</td>'
            f'<td>{number_fr(b["contrats"])}</td></tr>')
    small = "".join(f"<li>{esc(b['nom'])} ({esc(b['siret'])}) : {number_fr(b['contrats'])} "
                    "marché(s)</li>" for b in without)
    seuil = int(listing.get("seuil_fiche", config.BUYER_SHEET_MIN_CONTRACTS))
    return (
        '<h2 id="acheteurs">Fiches acheteur</h2>\n'
        f"<p>Une fiche par acheteur ayant publié au moins {seuil} marchés : part des marchés avec "
        "une considération sociale et position parmi ses pairs, loi Climat et résilience, "
        "exécution des clauses, achats inclusifs.</p>\n"
        + filter_box("liste-acheteurs", "Filtrer par nom ou SIRET :", "compte-acheteurs",
                     len(with_sheet), "acheteur(s)")
        + '<table id="liste-acheteurs">\n<thead><tr><th>Acheteur</th><th>SIRET</th>'
        "<th>Catégorie</th><th>Département</th><th>Marchés</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows) + "\n</tbody>\n</table>\n"
        + (f"<h3>Acheteurs sous le seuil de {seuil} marchés ({len(without)})</h3>\n"
           f"<ul>{small}</ul>\n" if without else
           f"<p>Aucun acheteur sous le seuil de {seuil} marchés.</p>\n"))


__all__ = ["compute", "render_sheet", "render_all", "index_section", "audit", "members",
           "joint_relations", "joint_audit", "JointAudit", "departement_people",
           "BuyerData", "BuyerReport"]
