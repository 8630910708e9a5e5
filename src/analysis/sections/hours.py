"""Insertion hours and Grand Paris Express (indicators 2, 2 b and 6).

Hours and full-time equivalents are sums over people: every table publishing them carries the
number of beneficiaries behind each figure (``beneficiaires``, a count of people) and the hours
are declared as *derived* from it, so that they are hidden with it (``s``). Tables breaking a
total down (by modality, sector, project owner) publish their « Ensemble » row as a margin, so
that a hidden part cannot be recomputed as the total minus the others. Grand Paris counts are
contracts, not people: no small-cell rule applies to them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd
from IPython.display import Markdown

from .. import config
from ..frames import isin
from .. import disclosure
from ..disclosure import Margins, SECRET_SYMBOL
from ..indicators import grand_paris as gp_indicators
from ..indicators.hours import FTE_HOURS
from ..indicators.training import SECTORS
from ..plots import PALETTE, apply_style, percent_fr
from ..present import number_fr
from ..stats import ratio_of_sums
from .needs import TRACKING, method_needs, needs

#: What these sections show, as the index lists the parts a report could not cover.
HOURS = "heures d'insertion"

#: Legal modalities of the operations, French labels (legal basis in the code de la commande
#: publique).
MODALITIES = {
    "clause_execution": "Clause d'exécution (L2112-2)",
    "critere_attribution": "Critère d'attribution social (R2152-7)",
    "reserve_siae": "Marché réservé SIAE (L2113-13)",
    "reserve_ea_esat": "Marché réservé EA / ESAT (L2113-12)",
    "marche_insertion": "Marché d'insertion ou de qualification (R2123-1)",
}
SHORT_MODALITIES = {
    "clause_execution": "Clause d'exécution",
    "critere_attribution": "Critère d'attribution",
    "reserve_siae": "Réservé SIAE",
    "reserve_ea_esat": "Réservé EA / ESAT",
    "marche_insertion": "Marché d'insertion",
}
MODALITY_COLOURS = {
    "clause_execution": "#1f4e79", "critere_attribution": "#2e86c1", "reserve_siae": "#48c9b0",
    "reserve_ea_esat": "#f5b041", "marche_insertion": "#af7ac5", "non renseigné": "#bdc3c7",
}
#: Project-owner types: the buyers directory's category (by SIRET), else read from the name.
OWNER_KEYWORDS = (
    ("Société des grands projets", "Société des grands projets"),
    ("Solideo", "Autre établissement public"),
    ("Mobilités", "Autre établissement public"),
    ("HLM", "Bailleur social"),
    ("habitat", "Bailleur social"),
    ("Centre hospitalier", "Établissement de santé"),
    ("Hôpitaux", "Établissement de santé"),
    ("Préfecture", "Service de l'État"),
    ("Établissement public territorial", "Établissement public territorial"),
    ("EPT ", "Établissement public territorial"),
    ("Département", "Département"),
    ("Région", "Région"),
    ("Ville de", "Commune"),
    ("Commune de", "Commune"),
)
OTHER_OWNER = "Autre maître d'ouvrage"
UNKNOWN = "non renseigné"
TOTAL = "Ensemble"

COLUMNS_FR = {
    "libelle": "Catégorie",
    "periode": "Année",
    "heures": "Heures réalisées",
    "etp": "ETP",
    "part_heures": "Part des heures",
    "contrats": "Contrats de travail actifs",
    "beneficiaires": "Bénéficiaires",
    "contrats_debutes": "Contrats débutés",
    "duree_moyenne_mois": "Durée moyenne des contrats débutés (mois)",
    "beneficiaires_grands_projets": "Bénéficiaires sur grands projets",
    "part_heures_grands_projets": "Part des heures sur grands projets",
    "heures_publiees": "Heures publiées (région)",
}
PEOPLE_NOTE = ("Bénéficiaires : personnes ayant au moins un contrat de travail actif sur la période "
               "(une personne suivie par deux coordinations compte deux fois). Les heures et ETP "
               "d'une ligne sont masqués avec son nombre de bénéficiaires.")


# --- helpers -------------------------------------------------------------------------------------


def fte_divisor(days: int, year_days: int = 365) -> float:
    """Hours in one FTE over ``days`` days: 1 600 for a whole year, prorated by days otherwise."""
    return FTE_HOURS if days >= year_days else FTE_HOURS * days / year_days


def period_fte_divisor(period) -> float:
    year_days = (pd.Timestamp(period.year + 1, 1, 1) - pd.Timestamp(period.year, 1, 1)).days
    return fte_divisor(period.days, year_days)


def hours_fr(hours: float) -> str:
    """Hours as a reader reads them: ``6,31 millions`` above a million, ``12 345`` below."""
    if pd.isna(hours):
        return "–"
    if abs(hours) >= 1_000_000:
        return f"{number_fr(hours / 1e6, 2)} millions"
    return number_fr(hours)


def hours_words(hours: float) -> str:
    """``2,07 millions d'heures`` or ``158 988 heures``."""
    text = hours_fr(hours)
    return f"{text} d'heures" if "millions" in text else f"{text} heures"


def window_share(work_contracts: pd.DataFrame, start, end) -> np.ndarray:
    """Share of each contract's days (inclusive) in ``[start, end)``, as :meth:`Period.overlap_share`."""
    begin = pd.to_datetime(work_contracts["date_debut"]).to_numpy("datetime64[ns]")
    finish = (pd.to_datetime(work_contracts["date_fin"]) + pd.Timedelta(days=1)
              ).to_numpy("datetime64[ns]")
    lo = np.maximum(begin, np.datetime64(pd.Timestamp(start), "ns"))
    hi = np.minimum(finish, np.datetime64(pd.Timestamp(end), "ns"))
    inside = np.maximum((hi - lo) / np.timedelta64(1, "D"), 0)
    total = (finish - begin) / np.timedelta64(1, "D")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, inside / total, 0.0)
    return np.nan_to_num(share, nan=0.0)


def history_windows(period) -> list[tuple[str, pd.Timestamp, pd.Timestamp, bool]]:
    """(label, start, end, complete) for each history year; a quarter's year stops at its end."""
    out = []
    for year in period.history:
        start = pd.Timestamp(year, 1, 1)
        end = pd.Timestamp(year + 1, 1, 1)
        complete = True
        if year == period.year and period.is_quarter:
            end = pd.Timestamp(period.end)
            complete = period.quarter == 4
        label = str(year) if complete else f"{year} (T1-T{period.quarter})"
        out.append((label, start, end, complete))
    return out


def hidden(protected, row, column: str = "beneficiaires") -> bool:
    return protected is not None and bool(protected.mask.at[row, column])


def _k_ok(count: int, k: int) -> bool:
    return count == 0 or count >= k


def _label(values: pd.Series, labels: dict) -> pd.Series:
    return values.astype("string").fillna(UNKNOWN).map(lambda v: labels.get(v, v))


def owner_type(operations: pd.DataFrame, buyers: pd.DataFrame | None) -> pd.Series:
    """Type of each operation's project owner: the buyers directory's category, else its name."""
    category = pd.Series(pd.NA, index=operations.index, dtype="string")
    if buyers is not None and len(buyers):
        lookup = buyers.drop_duplicates("acheteur_id").set_index("acheteur_id")["acheteur_categorie"]
        category = operations["maitre_ouvrage_siret"].map(lookup).astype("string")

    def from_name(name) -> str:
        if name is None or pd.isna(name):
            return UNKNOWN
        for key, label in OWNER_KEYWORDS:
            if key.lower() in str(name).lower():
                return label
        return OTHER_OWNER

    by_name = operations["maitre_ouvrage"].map(from_name).astype("string")
    return category.fillna(by_name)


def employer(work_contracts: pd.DataFrame) -> pd.Series:
    """The contributor of a work contract's hours for the dominance rule: its employer (SIRET,
    else its name; a contract with neither is a contributor of its own)."""
    siret = (work_contracts["employeur_siret"].astype("string")
             if "employeur_siret" in work_contracts.columns
             else pd.Series(pd.NA, index=work_contracts.index, dtype="string"))
    if "employeur" in work_contracts.columns:
        siret = siret.fillna("nom:" + work_contracts["employeur"].astype("string"))
    return siret


def period_table(scope, column: str, labels: dict | None = None) -> pd.DataFrame:
    """The period's hours, FTE, work contracts and beneficiaries by one operation attribute.

    Index: the French label; last row « Ensemble » (the margin). Columns ``libelle, heures, etp,
    part_heures, contrats, beneficiaires``.
    """
    return period_breakdown(scope, column, labels)[0]


def period_breakdown(scope, column: str, labels: dict | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`period_table` and the employers' contributions to its hours (same group-by)."""
    active = scope.period_work_contracts
    ops = scope.operations.set_index("operation_id")
    if column == "type_maitre_ouvrage":
        buyers = _buyers(scope)
        attribute = owner_type(scope.operations, buyers).set_axis(scope.operations["operation_id"])
    else:
        attribute = ops[column]
    values = active["operation_id"].map(attribute)
    values = _label(values, labels or {})
    g = active.groupby(values.to_numpy())
    table = pd.DataFrame({"heures": g["heures_periode"].sum().astype(float),
                          "contrats": g.size(),
                          "beneficiaires": g["participant_id"].nunique()})
    table = table.sort_values("heures", ascending=False)
    known = [i for i in table.index if i != UNKNOWN] + [i for i in table.index if i == UNKNOWN]
    table = table.reindex(known)
    total = pd.DataFrame({"heures": [float(active["heures_periode"].sum())],
                          "contrats": [len(active)],
                          "beneficiaires": [active["participant_id"].nunique()]}, index=[TOTAL])
    table = pd.concat([table, total])
    table["etp"] = (table["heures"] / period_fte_divisor(scope.period)).round(1)
    table["part_heures"] = table["heures"] / table.at[TOTAL, "heures"] if table.at[
        TOTAL, "heures"] > 0 else np.nan
    table["heures"] = table["heures"].round(0)
    table.insert(0, "libelle", [("Non renseigné" if i == UNKNOWN else i) for i in table.index])
    table[["contrats", "beneficiaires"]] = table[["contrats", "beneficiaires"]].astype("int64")
    contrib = disclosure.contributions(values.to_numpy(), employer(active).to_numpy(),
                                       active["heures_periode"], total_row=TOTAL)
    return (table[["libelle", "heures", "etp", "part_heures", "contrats", "beneficiaires"]],
            contrib)


def _buyers(scope) -> pd.DataFrame | None:
    try:
        return scope.table("buyers")
    except Exception:  # no buyers directory: owner types are read from the names
        return None


#: Derived columns of a breakdown of hours: hidden with the beneficiaries or with the hours.
HOURS_DERIVED = {"heures": "beneficiaires", "etp": ("beneficiaires", "heures"),
                 "part_heures": ("beneficiaires", "heures")}


def dominance_note(report=None) -> str:
    """The French sentence stating the dominance rule in force (under tables of hours)."""
    rule = disclosure.dominance_rule()
    return (f"Heures : masquées aussi quand moins de {rule.min_contributors} employeurs y "
            f"contribuent, quand le premier employeur en fait {percent_fr(rule.k, 0)} ou plus, "
            f"ou quand les employeurs autres que les deux premiers en font moins de "
            f"{percent_fr(rule.p or 0, 0)} du premier (règle de dominance).")


def publish_parts(report, table: pd.DataFrame, name: str, caption: str, notes=(),
                  contributions: pd.DataFrame | None = None) -> object:
    """A breakdown of the period's hours with its « Ensemble » row, under disclosure control:
    the small-count rule on people and, with the employers' ``contributions``, the dominance
    rule on hours."""
    return report.table(
        table, name, caption, people=("contrats", "beneficiaires"),
        derived=HOURS_DERIVED, percent=("part_heures",),
        # One person may work under several modalities (sectors, owners): the « Ensemble » row
        # counts distinct people, not the sum of the rows.
        margins=Margins(total_row=TOTAL, not_additive=("beneficiaires",)),
        integers=("heures", "etp", "contrats", "beneficiaires"), columns=COLUMNS_FR,
        notes=[PEOPLE_NOTE, *( [dominance_note()] if contributions is not None else []), *notes],
        magnitudes={"heures": contributions} if contributions is not None else None)


# --- key figures ---------------------------------------------------------------------------------


def period_totals(scope) -> dict:
    """Hours, FTE, work contracts and beneficiaries of the period (unprotected: internal)."""
    active = scope.period_work_contracts
    hours = float(active["heures_periode"].sum())
    ops = scope.operations.set_index("operation_id")["grand_projet"]
    big = active["operation_id"].map(ops).fillna(False).astype(bool)
    return {
        "heures": hours, "etp": hours / period_fte_divisor(scope.period),
        "contrats": len(active), "beneficiaires": int(active["participant_id"].nunique()),
        "heures_grands_projets": float(active.loc[big, "heures_periode"].sum()),
        "beneficiaires_grands_projets": int(active.loc[big, "participant_id"].nunique()),
        "beneficiaires_hors_grands_projets": int(active.loc[~big, "participant_id"].nunique()),
    }


def period_realisation(scope) -> dict | None:
    """Realised / planned hours of the operations ending in the period (linearised interval)."""
    ops = scope.operations
    ending = ops.loc[scope.period.contains(ops["date_fin"])]
    ending = ending.loc[ending["heures_prevues"].astype(float) > 0]
    if ending.empty:
        return None
    wc = scope.work_contracts.loc[isin(scope.work_contracts["operation_id"], ending["operation_id"])]
    realised = wc.groupby("operation_id")["heures"].sum().astype(float)
    frame = pd.DataFrame({
        "_all": TOTAL,
        "realisees": ending["operation_id"].map(realised).fillna(0.0).to_numpy(),
        "prevues": ending["heures_prevues"].astype(float).to_numpy()})
    row = ratio_of_sums(frame, "realisees", "prevues", ["_all"]).iloc[0]
    realised_by = wc["heures"].astype(float).groupby(employer(wc).to_numpy()).sum()
    return {"operations": int(row["lignes"]), "heures_prevues": float(row["denominateur"]),
            "heures_realisees": float(row["numerateur"]), "taux": float(row["ratio"]),
            # the rate gives the realised hours (planned hours are the buyers' own figures)
            "domine": disclosure.dominance_rule().sensitive(realised_by.to_numpy()),
            "ic_bas": max(float(row["ic_bas"]), 0.0), "ic_haut": float(row["ic_haut"]),
            "beneficiaires": int(wc["participant_id"].nunique()),
            "en_cours": int((ending["date_fin"] > export_date(scope)).sum())}


def export_date(scope) -> pd.Timestamp:
    """Latest export date of the tracking data (the day hours are known up to)."""
    try:
        value = scope.table("outcomes")["date_export"].max()
    except Exception:
        value = pd.NaT
    return pd.Timestamp(value) if pd.notna(value) else pd.Timestamp.max


#: Fewest operations for a realisation rate to be shown as a key figure.
MIN_OPERATIONS = 10


@needs(*TRACKING, label=HOURS, quiet=True)
def key_figures(scope, report) -> list:
    """Record hours and FTE, beneficiaries, the large-project share and the realisation rate.

    Returns the published comparison figures (« repères ») as a short French paragraph.
    """
    totals = period_totals(scope)
    k = report.k
    label = scope.period.label_fr
    if not _k_ok(totals["beneficiaires"], k):
        report.key_figure(f"heures d'insertion réalisées ({label})", SECRET_SYMBOL,
                          f"moins de {k} bénéficiaires : secret statistique")
        report.key_figure(f"bénéficiaires ({label})", SECRET_SYMBOL,
                          f"effectif inférieur à {k}")
        return []
    divisor = period_fte_divisor(scope.period)
    dominated = dominated_totals(scope)
    if dominated["heures"]:
        report.key_figure(f"heures d'insertion réalisées ({label})", SECRET_SYMBOL,
                          "trop peu d'employeurs, ou un employeur dominant : secret statistique "
                          "(règle de dominance)")
        totals = {**totals, "heures": float("nan")}
    else:
        report.key_figure(
            f"heures d'insertion réalisées ({label})", hours_fr(totals["heures"]),
            f"soit {number_fr(totals['etp'])} équivalents temps plein "
            f"({number_fr(divisor)} heures par ETP sur la période)", headline=True)
    report.key_figure(
        f"bénéficiaires ({label})", number_fr(totals["beneficiaires"]),
        f"personnes avec au moins un contrat actif ; {number_fr(totals['contrats'])} contrats "
        "de travail")
    if (totals["heures"] > 0 and _k_ok(totals["beneficiaires_grands_projets"], k)
            and _k_ok(totals["beneficiaires_hors_grands_projets"], k)
            and not dominated["grands_projets"]):
        report.key_figure(
            "des heures sur les grands projets", percent_fr(
                totals["heures_grands_projets"] / totals["heures"]),
            f"{hours_words(totals['heures_grands_projets'])} sur les opérations signalées "
            "« grand projet »")
    rate = period_realisation(scope)
    if (rate and rate["operations"] >= MIN_OPERATIONS and rate["beneficiaires"] >= k
            and not rate["domine"]):
        provisional = (f" ; {number_fr(rate['en_cours'])} encore en cours à l'export : provisoire"
                       if rate["en_cours"] else "")
        report.key_figure(
            "taux de réalisation des heures prévues", percent_fr(rate["taux"]),
            f"IC 95 % {percent_fr(rate['ic_bas'])} – {percent_fr(rate['ic_haut'])} ; "
            f"{number_fr(rate['operations'])} opérations dont la fin est prévue sur la "
            f"période{provisional}")
    return [Markdown(benchmarks_text(scope, None if dominated["heures"] else totals))]


def dominated_totals(scope) -> dict[str, bool]:
    """Whether the period's total hours, or its split between large projects and the rest (a
    share of a published total gives both), fail the dominance rule (employers)."""
    active = scope.period_work_contracts
    rule = disclosure.dominance_rule()
    who = employer(active).to_numpy()
    hours = active["heures_periode"].astype(float)
    ops = scope.operations.set_index("operation_id")["grand_projet"]
    big = active["operation_id"].map(ops).fillna(False).astype(bool).to_numpy()

    def sensitive(inside) -> bool:
        return rule.sensitive(hours[inside].groupby(who[inside]).sum().to_numpy())

    everything = np.ones(len(active), dtype=bool)
    return {"heures": sensitive(everything),
            "grands_projets": bool(big.any() and (~big).any()
                                   and (sensitive(big) or sensitive(~big)))}


def benchmarks_text(scope, totals: dict | None = None) -> str:
    """Published figures to read the territory's hours against, in French."""
    year = scope.period.year
    national = config.NATIONAL_HOURS[2021]
    lines = [
        f"- France entière, 2021 : {hours_words(national['heures'])} d'insertion "
        f"({number_fr(national['etp'])} ETP), {number_fr(national['participants'])} participants, "
        f"{number_fr(national['contrats'])} contrats de travail "
        f"({config.NATIONAL_HOURS_SOURCE})."]
    published = config.REGION_PUBLISHED
    if {2020, 2021, 2022} <= set(published):  # the figures kept for the région, if any
        idf21 = published[2021]
        lines.append(
            f"- {config.REGION_NAME} : {hours_words(published[2020]['heures'])} en 2020, "
            f"{hours_words(idf21['heures'])} en 2021 ({number_fr(idf21['beneficiaires'])} "
            f"bénéficiaires, dont {percent_fr(idf21['part_heures_grands_projets'], 0)} des heures "
            f"sur les grands projets), + {percent_fr(published[2022]['evolution_heures'])} en "
            f"2022 ({config.REGION_PUBLISHED_SOURCE}).")
    if scope.is_region and not scope.period.is_quarter and year in config.REGION_PUBLISHED \
            and "heures" in config.REGION_PUBLISHED[year] and totals:
        published = config.REGION_PUBLISHED[year]["heures"]
        lines.append(f"- Pour {year}, l'observatoire compte {hours_words(totals['heures'])}, "
                     f"contre {hours_words(published)} publiées "
                     f"({percent_fr(totals['heures'] / published - 1)} d'écart).")
    intro = ("**Repères publiés.** Ces chiffres situent l'ordre de grandeur ; ils ne sont pas "
             "calculés sur les mêmes données et ne se comparent pas terme à terme"
             + ("." if scope.is_region else f" avec ceux de {scope.name}."))
    return intro + "\n\n" + "\n".join(lines)


# --- yearly history ------------------------------------------------------------------------------


def yearly_frame(scope) -> pd.DataFrame:
    """One row per history year (a quarter's year up to its end): hours, FTE, beneficiaries…"""
    wc = scope.history_work_contracts.reset_index(drop=True)
    big_ops = scope.operations.set_index("operation_id")["grand_projet"]
    big = wc["operation_id"].map(big_ops).fillna(False).astype(bool).to_numpy()
    rows = []
    for label, start, end, complete in history_windows(scope.period):
        share = window_share(wc, start, end)
        active = share > 0
        hours = wc["heures"].astype(float).to_numpy() * share
        started = wc.loc[(wc["date_debut"] >= start) & (wc["date_debut"] < end)]
        duration = ((started["date_fin"] - started["date_debut"]).dt.days + 1) / (365.25 / 12)
        year_days = (pd.Timestamp(start.year + 1, 1, 1) - start).days
        rows.append({
            "periode": label, "annee": start.year, "complete": complete,
            "heures": float(hours.sum()),
            "etp": float(hours.sum()) / fte_divisor((end - start).days, year_days),
            "beneficiaires": int(wc.loc[active, "participant_id"].nunique()),
            "contrats": int(active.sum()),
            "contrats_debutes": len(started),
            "duree_moyenne_mois": float(duration.mean()) if len(started) else np.nan,
            "beneficiaires_grands_projets": int(wc.loc[active & big, "participant_id"].nunique()),
            "beneficiaires_hors_grands_projets": int(
                wc.loc[active & ~big, "participant_id"].nunique()),
            "part_heures_grands_projets": (float(hours[big].sum()) / float(hours.sum())
                                           if hours.sum() > 0 else np.nan),
        })
    return pd.DataFrame(rows).set_index("periode", drop=False)


def yearly_contributions(scope) -> pd.DataFrame:
    """Employers' contributions to each history year's hours (rows labelled like
    :func:`yearly_frame`)."""
    wc = scope.history_work_contracts.reset_index(drop=True)
    who = employer(wc).to_numpy()
    hours = wc["heures"].astype(float).to_numpy()
    pieces = []
    for label, start, end, _ in history_windows(scope.period):
        share = window_share(wc, start, end)
        inside = share > 0
        pieces.append(pd.DataFrame({"row": label, "contributor": who[inside],
                                    "value": hours[inside] * share[inside]}))
    frame = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(
        columns=["row", "contributor", "value"])
    return disclosure.contributions(frame["row"], frame["contributor"], frame["value"])


def yearly_modality_frame(scope) -> pd.DataFrame:
    """Wide: one row per history year; ``beneficiaires_<m>`` and ``heures_<m>`` per modality."""
    wc = scope.history_work_contracts.reset_index(drop=True)
    modality = wc["operation_id"].map(scope.operations.set_index("operation_id")["modalite"])
    modality = modality.astype("string").fillna(UNKNOWN)
    present = [m for m in [*MODALITIES, UNKNOWN] if (modality == m).any()]
    rows = []
    for label, start, end, _ in history_windows(scope.period):
        share = window_share(wc, start, end)
        hours = wc["heures"].astype(float).to_numpy() * share
        active = share > 0
        row = {"periode": label, "beneficiaires": int(wc.loc[active, "participant_id"].nunique()),
               "heures": float(hours.sum())}
        for m in present:
            inside = active & (modality == m).to_numpy()
            row[f"beneficiaires_{m}"] = int(wc.loc[inside, "participant_id"].nunique())
            row[f"heures_{m}"] = float(hours[inside].sum())
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("periode", drop=False)
    frame.attrs["modalities"] = present
    return frame


def yearly_modality_contributions(scope, modalities: list[str]) -> dict[str, pd.DataFrame]:
    """Employers' contributions to :func:`yearly_modality_frame`'s ``heures_<m>`` and ``heures``
    (one pass over the history windows)."""
    wc = scope.history_work_contracts.reset_index(drop=True)
    modality = wc["operation_id"].map(scope.operations.set_index("operation_id")["modalite"])
    modality = modality.astype("string").fillna(UNKNOWN).to_numpy()
    who = employer(wc).to_numpy()
    base = wc["heures"].astype(float).to_numpy()
    pieces = []
    for label, start, end, _ in history_windows(scope.period):
        share = window_share(wc, start, end)
        inside = share > 0
        pieces.append(pd.DataFrame({"row": label, "modalite": modality[inside],
                                    "contributor": who[inside],
                                    "value": base[inside] * share[inside]}))
    frame = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(
        columns=["row", "modalite", "contributor", "value"])
    out = {"heures": disclosure.contributions(frame["row"], frame["contributor"], frame["value"])}
    for m in modalities:
        part = frame.loc[frame["modalite"] == m]
        out[f"heures_{m}"] = disclosure.contributions(part["row"], part["contributor"],
                                                      part["value"])
    return out


@needs(*TRACKING, label=HOURS)
def yearly_chart(scope, report) -> list:
    """Stacked bars: hours by year and legal modality, small groups merged under « s »."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    frame = yearly_modality_frame(scope)
    modalities = frame.attrs["modalities"]
    if frame["heures"].sum() <= 0:
        return [Markdown(f"Aucune heure d'insertion enregistrée pour {scope.name} sur "
                         "l'historique.")]
    people = ["beneficiaires", *[f"beneficiaires_{m}" for m in modalities]]
    protected = report.protect(
        frame[people + [f"heures_{m}" for m in modalities] + ["heures"]], people,
        derived={"heures": "beneficiaires",
                 **{f"heures_{m}": f"beneficiaires_{m}" for m in modalities}},
        margins=Margins(row_total="beneficiaires"),
        magnitudes=yearly_modality_contributions(scope, modalities), magnitude_total="heures",
        magnitude_margins=Margins())
    mask = protected.mask
    scale, unit = (1e6, "millions d'heures") if frame["heures"].max() >= 2e6 else (
        (1e3, "milliers d'heures") if frame["heures"].max() >= 2e3 else (1, "heures"))
    apply_style()
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    x = np.arange(len(frame))
    bottom = np.zeros(len(frame))
    for m in modalities:
        values = np.where(mask[f"heures_{m}"], 0.0, frame[f"heures_{m}"]) / scale
        values = np.where(mask["heures"], 0.0, values)
        ax.bar(x, values, bottom=bottom, color=MODALITY_COLOURS.get(m, "#7f8c8d"),
               label=SHORT_MODALITIES.get(m, "Modalité non renseignée"), width=0.7)
        bottom += values
    secret = np.array([
        0.0 if mask.at[p, "heures"] else sum(frame.at[p, f"heures_{m}"] for m in modalities
                                              if mask.at[p, f"heures_{m}"])
        for p in frame.index]) / scale
    if secret.sum() > 0:
        ax.bar(x, secret, bottom=bottom, color="white", edgecolor="#7f8c8d", hatch="///",
               width=0.7, label="Modalités regroupées (secret statistique)")
        bottom += secret
    for i, p in enumerate(frame.index):
        if mask.at[p, "heures"]:
            ax.text(x[i], 0, SECRET_SYMBOL, ha="center", va="bottom", fontsize=11)
    published = []
    if scope.is_region:
        published = [(i, config.REGION_PUBLISHED[int(p)]["heures"] / scale)
                     for i, p in enumerate(frame.index)
                     if p.isdigit() and "heures" in config.REGION_PUBLISHED.get(int(p), {})]
        if published:
            ax.plot([i for i, _ in published], [v for _, v in published], linestyle="none",
                    marker="D", markersize=7, color=PALETTE["target"],
                    label=f"Chiffre publié {config.REGION_NAME}")
    ax.set_xticks(x, [p.replace(" (", "\n(") for p in frame.index])
    ax.set_ylabel(f"Heures réalisées ({unit})")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fr(v, 1 if scale > 1 and v % 1
                                                                          else 0)))
    ax.set_xlabel("Année (heures réparties au prorata des jours de chaque contrat)")
    ax.set_title(f"Heures d'insertion réalisées par modalité — {scope.name}")
    ax.legend(loc="upper left", fontsize=8.5, ncol=2)
    ax.set_ylim(0, max(bottom.max(), 1e-9) * 1.3)
    fig.tight_layout()
    partial = [p for p in frame.index if "(" in p]
    last_shown = frame.loc[~mask["heures"], "heures"]
    alt = (f"Histogramme empilé des heures d'insertion réalisées par année et par modalité, "
           f"{scope.name}, {frame.index[0]} à {frame.index[-1]}. "
           + (f"Dernière valeur : {hours_words(last_shown.iloc[-1])} ({last_shown.index[-1]})."
              if len(last_shown) else ""))
    caption = (f"Heures d'insertion réalisées par année et modalité juridique, {scope.name}. "
               "Les heures d'un contrat sont réparties entre les années au prorata de ses jours. "
               + (f"{partial[0]} : du 1er janvier à la fin du trimestre, année incomplète. "
                  if partial else "")
               + (f"Losanges : chiffres publiés pour la {config.region_label()} "
                  f"({config.REGION_PUBLISHED_SOURCE}). "
                  if scope.is_region and published else "")
               + "Source : exports du logiciel de suivi des clauses.")
    return [report.figure(fig, alt=alt, caption=caption)]


@needs(*TRACKING, label=HOURS)
def yearly_table(scope, report) -> list:
    """Hours, FTE, beneficiaries, contracts and the large-project share, by year of the history."""
    frame = yearly_frame(scope)
    # the share of large-project hours also tells the others' hours: hide it with either count
    frame["beneficiaires_hors_gp"] = frame["beneficiaires_hors_grands_projets"]
    table = frame[["periode", "heures", "etp", "beneficiaires", "contrats", "contrats_debutes",
                   "duree_moyenne_mois", "beneficiaires_grands_projets",
                   "part_heures_grands_projets"]].copy()
    table["heures"] = table["heures"].round(0)
    table["etp"] = table["etp"].round(1)
    small_rest = ~frame["beneficiaires_hors_gp"].map(lambda n: _k_ok(n, report.k))
    table.loc[small_rest, "part_heures_grands_projets"] = np.nan
    notes = [PEOPLE_NOTE,
             "ETP : heures / 1 600 (convention d'Alliance Villes Emploi) ; pour une année "
             "incomplète, 1 600 heures au prorata de ses jours.",
             "Durée moyenne : des contrats débutés dans l'année, en mois de 30,4 jours."]
    if scope.period.is_quarter:
        notes.append("La dernière ligne couvre l'année jusqu'à la fin du trimestre.")
    published = {year: figures["heures"] for year, figures in config.REGION_PUBLISHED.items()
                 if "heures" in figures}
    if scope.is_region and published:
        notes.append(f"Chiffres publiés pour la {config.region_label()} : "
                     + ", ".join(f"{hours_words(hours)} en {year}"
                                 for year, hours in sorted(published.items()))
                     + " (" + config.REGION_PUBLISHED_SOURCE + ").")
    return [report.table(
        table, "heures_par_annee",
        f"Heures d'insertion, bénéficiaires et contrats par année, {scope.name}",
        people=("beneficiaires", "contrats", "contrats_debutes", "beneficiaires_grands_projets"),
        derived={"heures": "beneficiaires", "etp": ("beneficiaires", "heures"),
                 "duree_moyenne_mois": "contrats_debutes",
                 "part_heures_grands_projets": ("beneficiaires", "beneficiaires_grands_projets")},
        percent=("part_heures_grands_projets",),
        integers=("heures", "etp", "beneficiaires", "contrats", "contrats_debutes",
                  "beneficiaires_grands_projets"),
        decimals={"duree_moyenne_mois": 1}, columns=COLUMNS_FR, notes=[*notes, dominance_note()],
        magnitudes={"heures": yearly_contributions(scope)})]


# --- breakdowns of the period --------------------------------------------------------------------


@needs(*TRACKING, label=HOURS)
def by_modality(scope, report) -> list:
    table, contrib = period_breakdown(scope, "modalite", MODALITIES)
    return [publish_parts(
        report, table, "heures_par_modalite",
        f"Heures d'insertion par modalité juridique ({scope.period.label_fr}), {scope.name}",
        notes=["Modalité de l'opération suivie par le facilitateur ; article du code de la "
               "commande publique entre parenthèses."], contributions=contrib)]


@needs(*TRACKING, label=HOURS)
def by_sector(scope, report) -> list:
    table, contrib = period_breakdown(scope, "secteur", SECTORS)
    return [publish_parts(
        report, table, "heures_par_secteur",
        f"Heures d'insertion par secteur de l'opération ({scope.period.label_fr}), {scope.name}",
        contributions=contrib)]


@needs(*TRACKING, label=HOURS)
def by_owner_type(scope, report) -> list:
    if "maitre_ouvrage" not in scope.operations.columns:
        return [Markdown("Le maître d'ouvrage des opérations n'est pas renseigné.")]
    table, contrib = period_breakdown(scope, "type_maitre_ouvrage")
    return [publish_parts(
        report, table, "heures_par_type_maitre_ouvrage",
        f"Heures d'insertion par type de maître d'ouvrage ({scope.period.label_fr}), {scope.name}",
        notes=["Type : catégorie de l'annuaire des acheteurs (par SIRET) ; à défaut, déduite du "
               "nom du maître d'ouvrage (« Ville de… », « Office public de l'habitat… »)."],
        contributions=contrib)]


# --- realisation ---------------------------------------------------------------------------------


def realisation_table(scope) -> pd.DataFrame:
    """Realised / planned hours by the operations' planned end year, over the history."""
    ops = scope.operations
    ops = ops.loc[ops["heures_prevues"].astype(float).gt(0) & ops["date_fin"].notna()]
    ops = ops.assign(annee=ops["date_fin"].dt.year)
    ops = ops.loc[ops["annee"].between(scope.period.first_year, scope.period.year)]
    wc = scope.work_contracts
    realised = wc.groupby("operation_id")["heures"].sum().astype(float)
    frame = ops.assign(heures_contrats=ops["operation_id"].map(realised).fillna(0.0),
                       heures_prevues=ops["heures_prevues"].astype(float))
    if frame.empty:
        return pd.DataFrame()
    rates = ratio_of_sums(frame, "heures_contrats", "heures_prevues", ["annee"])
    year_of = frame.set_index("operation_id")["annee"]
    people = wc.loc[isin(wc["operation_id"], frame["operation_id"])]
    beneficiaries = people.groupby(people["operation_id"].map(year_of))["participant_id"].nunique()
    running = frame.loc[frame["date_fin"] > export_date(scope)].groupby("annee").size()
    out = pd.DataFrame({
        "annee": rates.index.astype(int).astype(str),
        "operations": rates["lignes"].astype("int64").to_numpy(),
        "en_cours": running.reindex(rates.index).fillna(0).astype("int64").to_numpy(),
        "heures_prevues": rates["denominateur"].round(0).to_numpy(),
        "heures_realisees": rates["numerateur"].round(0).to_numpy(),
        "beneficiaires": beneficiaries.reindex(rates.index).fillna(0).astype("int64").to_numpy(),
        "taux_realisation": rates["ratio"].to_numpy(),
        "ic_bas": rates["ic_bas"].clip(lower=0).to_numpy(),
        "ic_haut": rates["ic_haut"].to_numpy(),
    })
    return out


def realisation_contributions(scope) -> pd.DataFrame:
    """Employers' contributions to the realised hours of :func:`realisation_table`, by the
    operations' planned end year (rows labelled like its ``annee``)."""
    ops = scope.operations
    ops = ops.loc[ops["heures_prevues"].astype(float).gt(0) & ops["date_fin"].notna()]
    years = ops["date_fin"].dt.year
    ops = ops.loc[years.between(scope.period.first_year, scope.period.year)]
    year_of = ops.set_index("operation_id")["date_fin"].dt.year.astype(int).astype(str)
    wc = scope.work_contracts
    wc = wc.loc[isin(wc["operation_id"], ops["operation_id"])]
    return disclosure.contributions(wc["operation_id"].map(year_of).to_numpy(),
                                    employer(wc).to_numpy(), wc["heures"].astype(float))


@needs(*TRACKING, label=HOURS)
def realisation(scope, report) -> list:
    """Realisation rate of planned hours by end year, with its interval, and the period's rate."""
    table = realisation_table(scope)
    if table.empty:
        return [Markdown("Aucune opération avec des heures prévues et une date de fin sur "
                         "l'historique : pas de taux de réalisation.")]
    out = []
    rate = period_realisation(scope)
    if rate and rate["beneficiaires"] >= report.k and not rate["domine"]:
        out.append(Markdown(
            f"Pour les {number_fr(rate['operations'])} opérations dont la fin est prévue sur la "
            f"période ({scope.period.label_fr}), les contrats de travail totalisent "
            f"**{percent_fr(rate['taux'])}** des heures prévues (IC 95 % "
            f"{percent_fr(rate['ic_bas'])} – {percent_fr(rate['ic_haut'])})."
            + (f" {number_fr(rate['en_cours'])} d'entre elles étaient encore en cours à la date "
               "de l'export : le taux est provisoire." if rate["en_cours"] else "")
            + " Un taux supérieur à 100 % signifie plus d'heures réalisées que prévu."))
    elif rate and rate["domine"]:
        out.append(Markdown("Les heures des opérations finissant sur la période viennent de trop "
                            "peu d'employeurs, ou d'un employeur dominant : taux non publié "
                            "(secret statistique, règle de dominance)."))
    elif rate:
        out.append(Markdown(f"Moins de {report.k} bénéficiaires sur les opérations finissant sur "
                            "la période : taux non publié (secret statistique)."))
    out.append(report.table(
        table.set_index("annee", drop=False), "taux_realisation",
        f"Taux de réalisation des heures prévues, par année de fin des opérations, {scope.name}",
        people=("beneficiaires",),
        derived={"heures_realisees": "beneficiaires",
                 "taux_realisation": ("beneficiaires", "heures_realisees"),
                 "ic_bas": ("beneficiaires", "heures_realisees"),
                 "ic_haut": ("beneficiaires", "heures_realisees")},
        magnitudes={"heures_realisees": realisation_contributions(scope)},
        percent=("taux_realisation", "ic_bas", "ic_haut"),
        integers=("operations", "en_cours", "heures_prevues", "heures_realisees",
                  "beneficiaires"),
        columns={"annee": "Année de fin prévue", "operations": "Opérations",
                 "en_cours": "dont en cours à l'export", "heures_prevues": "Heures prévues",
                 "heures_realisees": "Heures des contrats de travail",
                 "beneficiaires": "Bénéficiaires", "taux_realisation": "Taux de réalisation",
                 "ic_bas": "IC 95 % bas", "ic_haut": "IC 95 % haut"},
        notes=["Taux : somme des heures des contrats de travail des opérations / somme de leurs "
               "heures prévues ; intervalle linéarisé à 95 % (opérations tirées "
               "indépendamment).",
               "Une opération encore en cours à la date de l'export n'a pas toutes ses heures : "
               "les dernières années sont provisoires.",
               "Heures prévues : engagement fixé par l'acheteur dans les documents du marché, "
               "publié sans règle de dominance ; " + dominance_note()[0].lower()
               + dominance_note()[1:]]))
    return out


# --- Grand Paris Express -------------------------------------------------------------------------


GP_COLUMNS = {
    "ligne": "Ligne", "annee": "Année de notification", "marches": "Marchés",
    "heures_travail": "Heures de travaux", "heures_dues": "Heures d'insertion dues",
    "ecart_obligation_pts": "Écart (points)",
    "heures_insertion_realisees": "Heures d'insertion réalisées",
    "taux_obligation_moyen": "Obligation (moyenne pondérée)",
    "part_insertion": "Part d'insertion réalisée", "ecart_obligation": "Écart (points)",
    "marches_conformes": "Marchés conformes",
    "part_conformes": "Part des marchés conformes", "ic_bas": "IC 95 % bas",
    "ic_haut": "IC 95 % haut", "realisation_inconnue": "Réalisation inconnue (exclus)",
    "montant": "Montant (M€ HT)", "montant_pme": "dont PME (M€ HT)", "part_pme": "Part PME",
    "ecart_objectif": "Écart à 20 % (points)",
    "marches_objectif_atteint": "Marchés ≥ 20 % PME",
    "part_marches_objectif": "Part des marchés ≥ 20 % PME",
    "montant_inconnu": "Montant inconnu (exclus)",
}


def grand_paris_contracts(scope) -> pd.DataFrame:
    """Grand Paris works contracts of the territory notified before the end of the period."""
    gp = scope.grand_paris
    return gp.loc[gp["date_notification"] < pd.Timestamp(scope.period.end)]


def grand_paris_contributions(gp: pd.DataFrame, by: str | None) -> dict[str, pd.DataFrame]:
    """Contract holders' contributions to the Grand Paris sums by ``by`` (a « Ensemble » row
    with ``by`` None or ``"ligne"``): works hours, insertion hours (contracts whose realised hours
    are known) and SME amounts (contracts with a positive amount and a known SME amount).

    DECP amounts (``montant``) are open data, published contract by contract: no dominance rule.
    """
    table = gp_indicators.contract_table(gp)
    holder = table["titulaire_siret"].astype("string").fillna(
        "marché:" + table["decp_uid"].astype("string"))
    rows = (table[by].astype(str) if by else pd.Series(TOTAL, index=table.index))
    # by line, the table ends with an « Ensemble » row; overall, every contract is in it already
    total = TOTAL if by == "ligne" else None
    known = table["heures_insertion_realisees"].notna()
    sme = table["part_pme"].notna()
    return {
        "heures_travail": disclosure.contributions(rows[known], holder[known],
                                                   table.loc[known, "heures_travail"],
                                                   total_row=total),
        "heures_insertion_realisees": disclosure.contributions(
            rows[known], holder[known], table.loc[known, "heures_insertion_realisees"],
            total_row=total),
        "montant_pme": disclosure.contributions(rows[sme], holder[sme],
                                                table.loc[sme, "montant_pme"], total_row=total),
    }


#: Grand Paris columns computed from the magnitudes under the dominance rule.
GP_DERIVED = {"part_insertion": ("heures_insertion_realisees", "heures_travail"),
              "ecart_obligation": ("heures_insertion_realisees", "heures_travail"),
              "part_pme": "montant_pme", "ecart_objectif": "montant_pme"}
GP_DERIVED_HOURS = {c: GP_DERIVED[c] for c in ("part_insertion", "ecart_obligation")}
GP_DOMINANCE_NOTE = ("Heures de travaux, heures d'insertion et montants PME : masqués quand moins "
                     "de {m} titulaires y contribuent ou qu'un titulaire domine la case (règle de "
                     "dominance) ; les montants des marchés (DECP, données ouvertes) sont publiés.")


def _points(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{number_fr(value * 100, 1)} pts".replace("-", "−")


#: What the Grand Paris Express sections say in a région the line does not run through.
GRAND_PARIS_NOT_APPLICABLE = ("Sans objet pour cette région : le Grand Paris Express et son "
                              "obligation d'insertion ne la concernent pas.")


#: What the Grand Paris Express's owner asks of its contractors (the part's introduction).
GRAND_PARIS_RULES = ("La Société des grands projets demande aux titulaires de ses marchés de "
                     "travaux de réserver au moins 5 % des heures à des personnes en insertion "
                     "(10 % pour les marchés notifiés à partir du 1er octobre 2020) et de confier "
                     "au moins 20 % du montant des travaux à des PME.")


def grand_paris_intro() -> list:
    """The Grand Paris Express part's introduction, where the région has the line (nothing
    elsewhere: the part then says only that it is « sans objet »)."""
    return [Markdown(GRAND_PARIS_RULES)] if config.region_facts().grand_paris else []


def only_with_grand_paris(section: Callable) -> Callable:
    """A section that says « sans objet pour cette région » (and notes no missing source) where
    the Grand Paris Express is not (:attr:`analysis.config.RegionFacts.grand_paris`)."""
    @functools.wraps(section)
    def wrapper(scope, report, *args, **kwargs):
        if not config.region_facts().grand_paris:
            return [Markdown(GRAND_PARIS_NOT_APPLICABLE)]
        return section(scope, report, *args, **kwargs)

    return wrapper


@only_with_grand_paris
@needs("grand_paris", label="Grand Paris Express")
def grand_paris(scope, report) -> list:
    """Insertion share against the 5 % / 10 % obligation, SME share against 20 %, by line."""
    gp = grand_paris_contracts(scope)
    if gp.empty:
        return [Markdown(
            f"Aucun marché de travaux du Grand Paris Express n'est localisé en {scope.name} "
            f"(marchés notifiés jusqu'à la fin de la période, {scope.period.label_fr}) : cette "
            "partie ne s'applique pas au territoire.")]
    overall = gp_indicators.insertion_summary(gp, by=()).iloc[0]
    sme = gp_indicators.sme_summary(gp, by=()).iloc[0]
    rule = disclosure.dominance_rule()
    whole = grand_paris_contributions(gp, None)
    # the narrative quotes the « Ensemble » figures: not when the dominance rule hides them
    hours_secret = any(rule.sensitive(whole[c]["value"].to_numpy())
                       for c in ("heures_travail", "heures_insertion_realisees"))
    sme_secret = rule.sensitive(whole["montant_pme"]["value"].to_numpy())
    status = ("au-dessus" if overall["part_insertion"] >= overall["taux_obligation_moyen"]
              else "en dessous")
    lead = (
        f"**{number_fr(len(gp))} marchés de travaux** du Grand Paris Express sont localisés en "
        f"{scope.name} (notifiés jusqu'à la fin de la période). Sur les "
        f"{number_fr(overall['marches'])} dont les heures réalisées sont connues, les personnes "
        f"en insertion ont effectué **{percent_fr(overall['part_insertion'])}** des heures de "
        f"travaux, {status} de l'obligation moyenne de "
        f"{percent_fr(overall['taux_obligation_moyen'])} (5 %, puis 10 % pour les marchés "
        f"notifiés à partir du 1er octobre 2020) ; **{number_fr(overall['marches_conformes'])} "
        f"marchés** atteignent leur obligation, {number_fr(overall['marches'] - overall['marches_conformes'])} "
        f"ne l'atteignent pas encore ({percent_fr(overall['part_conformes'])} de conformes, "
        f"IC 95 % {percent_fr(overall['ic_bas'])} – {percent_fr(overall['ic_haut'])}). "
        f"Les PME reçoivent **{percent_fr(sme['part_pme'])}** du montant des marchés "
        f"(objectif : 20 %) ; {number_fr(sme['marches_objectif_atteint'])} marchés sur "
        f"{number_fr(sme['marches'])} atteignent 20 %.")
    if hours_secret or sme_secret:
        lead = (f"**{number_fr(len(gp))} marchés de travaux** du Grand Paris Express sont "
                f"localisés en {scope.name} (notifiés jusqu'à la fin de la période) ; "
                f"**{number_fr(overall['marches_conformes'])} marchés** sur "
                f"{number_fr(overall['marches'])} dont les heures réalisées sont connues "
                "atteignent leur obligation d'insertion. Les parts d'insertion"
                + (" et des PME" if sme_secret else "")
                + " de l'ensemble ne sont pas publiées : trop peu de titulaires, ou un titulaire "
                "dominant (secret statistique).")
    if overall["realisation_inconnue"]:
        lead += (f" {number_fr(overall['realisation_inconnue'])} marchés sans heures réalisées "
                 "connues sont exclus.")
    lead += ("\n\nLes heures réalisées sont cumulées à la date de l'export du maître d'ouvrage : un "
             "marché récent encore en cours peut atteindre son obligation plus tard.")
    published = config.GRAND_PARIS_PUBLISHED
    l15 = published.get("ligne_15_sud_gpsea_2022")
    context = "" if not l15 else (
        f"**Repères publiés** (Société du Grand Paris, GPSEA) : environ "
        f"{number_fr(published['beneficiaires_2021'])} bénéficiaires et plus de "
        f"{hours_words(published['heures_mars_2021'])} d'insertion sur l'ensemble du "
        f"chantier en mars 2021 ; ligne 15 Sud, partie suivie par GPSEA, 2022 : "
        f"{number_fr(l15['personnes'])} personnes ({percent_fr(l15['part_femmes'])} de "
        f"femmes), {number_fr(l15['heures'])} heures.")
    by_line = gp_indicators.insertion_summary(gp, by=("ligne",))
    by_line = pd.concat([by_line, overall.to_frame().T.assign(ligne=TOTAL)], ignore_index=True)
    sme_line = gp_indicators.sme_summary(gp, by=("ligne",))
    sme_line = pd.concat([sme_line, sme.to_frame().T.assign(ligne=TOTAL)], ignore_index=True)
    by_year = gp_indicators.insertion_summary(gp, by=("annee",))
    by_year["annee"] = by_year["annee"].astype(str)
    by_line = by_line.set_index(by_line["ligne"].astype(str).to_numpy())
    sme_line = sme_line.set_index(sme_line["ligne"].astype(str).to_numpy())
    by_year = by_year.set_index(by_year["annee"].to_numpy())
    line_contrib = grand_paris_contributions(gp, "ligne")
    year_contrib = grand_paris_contributions(gp, "annee")
    gp_note = GP_DOMINANCE_NOTE.format(m=rule.min_contributors)
    hours_magnitudes = ("heures_travail", "heures_insertion_realisees")
    insertion_cols = ["marches", "heures_travail", "heures_insertion_realisees",
                      "taux_obligation_moyen", "part_insertion", "ecart_obligation",
                      "marches_conformes", "part_conformes", "ic_bas", "ic_haut"]
    if overall["realisation_inconnue"]:
        insertion_cols.append("realisation_inconnue")
    sme_cols = ["ligne", "marches", "montant", "montant_pme", "part_pme", "ecart_objectif",
                "marches_objectif_atteint", "part_marches_objectif", "ic_bas", "ic_haut"]
    if sme["montant_inconnu"]:
        sme_cols.append("montant_inconnu")
    fmt = dict(percent=("taux_obligation_moyen", "part_insertion", "part_conformes", "ic_bas",
                        "ic_haut"),
               integers=("marches", "heures_travail", "heures_insertion_realisees",
                         "marches_conformes", "realisation_inconnue"))
    # the chart shows the lines' shares: the same cells as the tables are hidden there
    shown_line = report.protect(by_line, magnitudes={c: line_contrib[c] for c in hours_magnitudes},
                                derived=GP_DERIVED_HOURS, margins=Margins(total_row=TOTAL)).table
    shown_sme = report.protect(
        sme_line, magnitudes={"montant_pme": line_contrib["montant_pme"]},
        derived={c: GP_DERIVED[c] for c in ("part_pme", "ecart_objectif")},
        margins=Margins(total_row=TOTAL)).table
    return [
        Markdown(lead),
        grand_paris_chart(scope, report, shown_line, shown_sme),
        report.table(by_line[["ligne", *insertion_cols]].assign(
                         ecart_obligation=lambda f: f["ecart_obligation"].astype(float) * 100),
                     "grand_paris_insertion_par_ligne",
                     f"Grand Paris Express : heures d'insertion et obligation par ligne, "
                     f"{scope.name}", decimals={"ecart_obligation": 1}, columns=GP_COLUMNS,
                     notes=["Obligation : 5 % des heures de travaux, 10 % pour les marchés "
                            "notifiés à partir du 1er octobre 2020 ; moyenne pondérée par les "
                            "heures de travaux.",
                            "Marchés, non personnes : pas de seuil sur les effectifs.", gp_note],
                     magnitudes={c: line_contrib[c] for c in hours_magnitudes},
                     derived=GP_DERIVED_HOURS, margins=Margins(total_row=TOTAL), **fmt),
        report.table(by_year[["annee", *insertion_cols]].assign(
                         ecart_obligation=lambda f: f["ecart_obligation"].astype(float) * 100),
                     "grand_paris_insertion_par_annee",
                     f"Grand Paris Express : heures d'insertion par année de notification, "
                     f"{scope.name}", decimals={"ecart_obligation": 1}, columns=GP_COLUMNS,
                     notes=["Heures réalisées cumulées à la date de l'export : les marchés "
                            "récents sont en cours.", gp_note],
                     magnitudes={c: year_contrib[c] for c in hours_magnitudes},
                     derived=GP_DERIVED_HOURS, **fmt),
        report.table(sme_line[sme_cols].assign(
                         ecart_objectif=lambda f: f["ecart_objectif"].astype(float) * 100,
                         montant=lambda f: f["montant"].astype(float) / 1e6,
                         montant_pme=lambda f: f["montant_pme"].astype(float) / 1e6),
                     "grand_paris_pme_par_ligne",
                     f"Grand Paris Express : part des PME dans le montant des marchés, par ligne, "
                     f"{scope.name}",
                     percent=("part_pme", "part_marches_objectif", "ic_bas", "ic_haut"),
                     integers=("marches", "marches_objectif_atteint", "montant_inconnu"),
                     decimals={"ecart_objectif": 1, "montant": 1, "montant_pme": 1}, columns=GP_COLUMNS,
                     notes=["Part PME : cotraitance et sous-traitance déclarées / montant du "
                            "marché ; objectif de 20 %.", gp_note],
                     magnitudes={"montant_pme": line_contrib["montant_pme"].assign(
                         value=lambda f: f["value"] / 1e6)},
                     derived={c: GP_DERIVED[c] for c in ("part_pme", "ecart_objectif")},
                     margins=Margins(total_row=TOTAL)),
        *([Markdown(context)] if context else []),
    ]


def grand_paris_chart(scope, report, by_line: pd.DataFrame, sme_line: pd.DataFrame):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    apply_style()
    lines = by_line.loc[by_line["ligne"] != TOTAL].sort_values("ligne")
    smes = sme_line.set_index("ligne").reindex(lines["ligne"])
    # Constrained layout keeps the legend (under both panels) clear of the axes and their titles,
    # however few the lines.
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 0.45 * len(lines) + 2.6), sharey=True,
                                      layout="constrained")
    y = np.arange(len(lines))
    share = lines["part_insertion"].astype(float).to_numpy()
    left.barh(y, share, color=PALETTE["main"], height=0.6, label="Part d'insertion réalisée")
    left.scatter(lines["taux_obligation_moyen"].astype(float), y, marker="|", s=400,
                 color=PALETTE["target"], label="Obligation (5 % ou 10 %)", zorder=3)
    left.set_yticks(y, lines["ligne"])
    left.invert_yaxis()
    left.set_xlabel("Part des heures de travaux")
    left.set_title("Heures d'insertion", fontsize=11)
    right.barh(y, smes["part_pme"].astype(float).to_numpy(), color="#48c9b0", height=0.6,
               label="Part du montant confiée aux PME")
    right.axvline(gp_indicators.SME_TARGET, color=PALETTE["target"], linestyle="--",
                  label="Objectif 20 %")
    right.set_xlabel("Part du montant des marchés")
    right.set_title("PME", fontsize=11)
    for ax in (left, right):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: percent_fr(v, 0)))
        ax.set_xlim(0, None)
    handles = [h for ax in (left, right) for h in ax.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=9)
    fig.suptitle(f"Grand Paris Express — {scope.name}", fontsize=12)
    return report.figure(
        fig,
        alt=(f"Deux graphiques en barres horizontales par ligne du Grand Paris Express en "
             f"{scope.name} : à gauche, la part des heures de travaux effectuées par des personnes "
             "en insertion avec l'obligation de chaque ligne ; à droite, la part du montant "
             "confiée aux PME avec l'objectif de 20 %."),
        caption=("Grand Paris Express : part d'insertion réalisée par ligne (trait rouge : "
                 "obligation moyenne pondérée) et part des PME (tirets : objectif de 20 %) ; "
                 "une ligne sans barre est sous secret statistique (règle de dominance). "
                 "Marchés de travaux notifiés jusqu'à la fin de la période, heures cumulées à "
                 "la date de l'export. Source : marchés du Grand Paris Express."))


# --- method --------------------------------------------------------------------------------------


#: The Grand Paris Express item of the method, where the région has it.
GRAND_PARIS_METHOD = """- **Grand Paris Express** : marchés de travaux situés dans le territoire, notifiés jusqu'à la fin de
  la période ; part d'insertion = heures d'insertion réalisées / heures de travaux, comparée à
  l'obligation de chaque marché (5 %, 10 % à partir du 1er octobre 2020) pondérée par les heures ;
  un marché atteint son obligation quand ses heures réalisées couvrent les heures dues ; part des
  PME = montant confié aux PME / montant du marché, objectif 20 %. Ce sont des marchés, pas des
  personnes ; les heures viennent du maître d'ouvrage et ne sont pas rapprochées de celles des
  facilitateurs.
"""

METHOD = """- **Heures d'insertion** : heures réalisées des contrats de travail enregistrés par les
  facilitateurs (logiciel de suivi des clauses), après mise en quarantaine des contrats invalides
  (heures négatives, fin avant début, participant ou opération inconnus). Un contrat appartient au
  territoire de son opération (lieu de travail).
- **Répartition dans le temps** : les heures d'un contrat sont réparties entre les années (ou sur la
  période) au prorata de ses jours ; un contrat à cheval sur deux années compte dans les deux.
- **Équivalent temps plein (ETP)** : heures / 1 600, convention d'Alliance Villes Emploi
  (25 124 684 heures = 15 703 ETP en 2021) ; pour un trimestre, 1 600 heures au prorata de ses jours.
- **Bénéficiaires** : personnes (pseudonymisées) ayant au moins un contrat de travail actif sur la
  période ; une personne suivie par deux coordinations compte deux fois. Une personne peut
  travailler sous plusieurs modalités ou secteurs : les bénéficiaires des lignes ne s'additionnent
  pas, la ligne « Ensemble » compte chaque personne une fois.
- **Grands projets** : opérations signalées « grand projet » par le facilitateur.
- **Taux de réalisation** : pour les opérations ayant des heures prévues et une date de fin, somme
  des heures de leurs contrats de travail / somme des heures prévues, par année de fin prévue ;
  intervalle linéarisé à 95 %. Les opérations encore en cours à la date de l'export sont comptées
  dans l'année où leur fin est prévue : les dernières années sont provisoires.
- **Type de maître d'ouvrage** : catégorie de l'annuaire des acheteurs quand le SIRET du maître
  d'ouvrage y figure ; sinon, déduite de son nom.
{grand_paris}- **Secret statistique** : les heures et ETP sont des sommes sur des personnes ; ils ne sont publiés
  que lorsqu'au moins *k* bénéficiaires sont derrière (masqués sinon, avec leur effectif), et les
  graphiques regroupent les modalités masquées.
- **Règle de dominance** : une case d'heures est aussi une somme sur des employeurs (heures du
  suivi des clauses){holders} ; elle est masquée (« s ») quand moins
  de {m} contributeurs y participent, quand le premier en fait {k} ou plus (règle « {m} et
  {k_short} » du secret statistique des entreprises), ou quand les contributeurs autres que les deux
  premiers en font moins de {p} du premier (règle du p %). D'autres cases sont masquées en
  complément pour qu'elle ne se déduise pas du total. Les montants des marchés (DECP, données
  ouvertes) et les heures prévues (fixées par l'acheteur) ne sont pas soumis à cette règle."""


@method_needs(*TRACKING)
def method(scope=None, report=None) -> list:
    rule = disclosure.dominance_rule()
    here = config.region_facts().grand_paris
    return [Markdown(METHOD.format(m=rule.min_contributors, k=percent_fr(rule.k, 0),
                                   k_short=percent_fr(rule.k, 0), p=percent_fr(rule.p or 0, 0),
                                   grand_paris=GRAND_PARIS_METHOD if here else "",
                                   holders=" ou des titulaires (Grand Paris Express)" if here
                                   else ""))]
