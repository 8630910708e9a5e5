"""Hours and work contracts by job and sector (``docs/indicators.md``, « Métiers et secteurs »).

Prescribers and coordinations plan training from the jobs clause work offers. From the
``work_contracts`` table (and ``operations`` for the sector):

* :func:`job_family` / :func:`job_domain` — the ROME family (first letter of ``code_rome``) and
  professional domain (first three characters), with French labels;
* :func:`by_year` — hours (prorated over calendar years), work contracts active and started,
  beneficiaries, by family, domain or sector and year, with the yearly change;
* :func:`trend` — per group: first and last year, hours then, the least-squares slope of hours
  per year and the mean yearly growth rate.

Every count of people is an explicit column (``beneficiaires``); contracts and hours of a small
group describe few people too: the disclosure layer suppresses small cells before publication.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .hours import prorate_by_year

#: ROME families (first letter of the code), French labels (ROME v3, France Travail).
ROME_FAMILIES = {
    "A": "Agriculture et pêche, espaces naturels et espaces verts, soins aux animaux",
    "B": "Arts et façonnage d'ouvrages d'art",
    "C": "Banque, assurance, immobilier",
    "D": "Commerce, vente et grande distribution",
    "E": "Communication, média et multimédia",
    "F": "Construction, bâtiment et travaux publics",
    "G": "Hôtellerie-restauration, tourisme, loisirs et animation",
    "H": "Industrie",
    "I": "Installation et maintenance",
    "J": "Santé",
    "K": "Services à la personne et à la collectivité",
    "L": "Spectacle",
    "M": "Support à l'entreprise",
    "N": "Transport et logistique",
}
#: Labels of the professional domains most frequent in clause work; other domains are shown by
#: their code (check new labels against the ROME tree before adding them).
ROME_DOMAINS = {
    "A12": "Espaces naturels et espaces verts",
    "F16": "Second œuvre",
    "F17": "Travaux et gros œuvre",
    "G16": "Production culinaire",
    "K22": "Nettoyage et propreté industriels",
    "K23": "Propreté et environnement urbain",
    "K25": "Sécurité",
    "M16": "Secrétariat et assistance",
    "N11": "Magasinage, manutention des charges et déménagement",
    "N41": "Personnel de conduite du transport routier",
}
#: Sectors of the operations (canonical values), French labels.
SECTORS = {
    "btp": "BTP",
    "proprete": "Propreté",
    "espaces_verts": "Espaces verts",
    "services": "Services",
    "restauration": "Restauration",
    "logistique": "Logistique",
}
#: Label of a missing or unreadable code.
UNKNOWN = "non renseigné"
ROME_PATTERN = r"^[A-N]\d{4}$"
LEVELS = ("famille", "domaine", "secteur")


def _valid_rome(codes: pd.Series) -> pd.Series:
    codes = codes.astype("string").str.strip().str.upper()
    return codes.where(codes.str.match(ROME_PATTERN).fillna(False).astype(bool))


def job_family(codes: pd.Series) -> pd.Series:
    """ROME family (letter A-N) of each code; « non renseigné » when missing or unreadable."""
    return _valid_rome(codes).str[0].fillna(UNKNOWN)


def job_domain(codes: pd.Series) -> pd.Series:
    """ROME professional domain (letter and two digits); « non renseigné » otherwise."""
    return _valid_rome(codes).str[:3].fillna(UNKNOWN)


def _label(level: str, group: str) -> str:
    if group == UNKNOWN:
        return UNKNOWN
    if level == "famille":
        return ROME_FAMILIES.get(group, group)
    if level == "domaine":
        return ROME_DOMAINS.get(group, group)
    return SECTORS.get(group, group)


def by_year(work_contracts: pd.DataFrame, level: str = "famille",
            operations: pd.DataFrame | None = None, first_year: int | None = None,
            last_year: int | None = None) -> pd.DataFrame:
    """Hours, contracts and beneficiaries by job family, domain or sector, and year.

    Parameters
    ----------
    level
        ``"famille"`` (ROME letter), ``"domaine"`` (ROME first three characters) or ``"secteur"``
        (the operation's sector: needs ``operations``).
    first_year, last_year
        Years shown (default: those of the data). Every group gets every year, zeros included, so
        that yearly changes are against the year before even when it had nothing.

    Returns
    -------
    DataFrame
        ``groupe, libelle, annee, heures`` (prorated by days), ``contrats`` (active in the year),
        ``contrats_debutes`` (starting in it), ``beneficiaires`` (distinct participants with a
        contract of the group active in it), ``part_heures`` (of the year's hours),
        ``evolution_heures`` (hours − hours of the year before), ``evolution_heures_pct``
        (relative change; missing when the year before had no hours) and
        ``evolution_contrats``; the first year's changes are missing.
    """
    if level not in LEVELS:
        raise ValueError(f"niveau inconnu : {level!r} (attendu : {', '.join(LEVELS)})")
    wc = work_contracts.reset_index(drop=True)
    if level == "famille":
        wc["groupe"] = job_family(wc["code_rome"]).to_numpy()
    elif level == "domaine":
        wc["groupe"] = job_domain(wc["code_rome"]).to_numpy()
    else:
        if operations is None:
            raise ValueError("le niveau « secteur » demande la table operations")
        sectors = operations.set_index("operation_id")["secteur"]
        wc["groupe"] = wc["operation_id"].map(sectors).astype("string").fillna(UNKNOWN)
    spread = prorate_by_year(wc)
    started = wc.assign(annee=wc["date_debut"].dt.year)
    first = int(spread["annee"].min()) if first_year is None else first_year
    last = int(spread["annee"].max()) if last_year is None else last_year
    spread = spread.loc[spread["annee"].between(first, last)]
    g = spread.groupby(["groupe", "annee"])
    table = pd.DataFrame({"heures": g["heures_annee"].sum().astype(float),
                          "contrats": g.size(),
                          "beneficiaires": g["participant_id"].nunique()})
    table["contrats_debutes"] = started.groupby(["groupe", "annee"]).size()
    groups = sorted(set(spread["groupe"]) - {UNKNOWN}) + \
        ([UNKNOWN] if UNKNOWN in set(spread["groupe"]) else [])
    full = pd.MultiIndex.from_product([groups, range(first, last + 1)],
                                      names=["groupe", "annee"])
    table = table.reindex(full)
    counts = ["contrats", "contrats_debutes", "beneficiaires"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["heures"] = table["heures"].fillna(0.0)
    year_total = table.groupby(level="annee")["heures"].transform("sum")
    table["part_heures"] = table["heures"] / year_total.where(year_total > 0)
    previous = table.groupby(level="groupe")[["heures", "contrats"]].shift(1)
    table["evolution_heures"] = table["heures"] - previous["heures"]
    table["evolution_heures_pct"] = table["evolution_heures"] / \
        previous["heures"].where(previous["heures"] > 0)
    table["evolution_contrats"] = table["contrats"] - previous["contrats"]
    table = table.reset_index()
    table.insert(1, "libelle", [_label(level, g) for g in table["groupe"]])
    return table[["groupe", "libelle", "annee", "heures", "contrats", "contrats_debutes",
                  "beneficiaires", "part_heures", "evolution_heures", "evolution_heures_pct",
                  "evolution_contrats"]]


def trend(table: pd.DataFrame) -> pd.DataFrame:
    """Per group of a :func:`by_year` table: the trend of hours over its years.

    Returns
    -------
    DataFrame
        ``groupe, libelle, premiere_annee, derniere_annee, heures_premiere, heures_derniere,
        pente_heures_par_an`` (least-squares slope of hours on the year),
        ``croissance_annuelle_moyenne`` ((last / first)^(1 / years) − 1; missing when the first
        year had no hours) and ``beneficiaires_max`` (the largest yearly count of people, for the
        disclosure layer).
    """
    rows = []
    ordered = table.sort_values("annee", kind="mergesort")
    for (group, label), part in ordered.groupby(["groupe", "libelle"], sort=False):
        years = part["annee"].to_numpy(float)
        hours = part["heures"].to_numpy(float)
        slope = np.polyfit(years, hours, 1)[0] if len(part) > 1 else np.nan
        span = years[-1] - years[0]
        growth = (hours[-1] / hours[0]) ** (1 / span) - 1 if span > 0 and hours[0] > 0 \
            else np.nan
        rows.append({"groupe": group, "libelle": label, "premiere_annee": int(years[0]),
                     "derniere_annee": int(years[-1]), "heures_premiere": hours[0],
                     "heures_derniere": hours[-1], "pente_heures_par_an": slope,
                     "croissance_annuelle_moyenne": growth,
                     "beneficiaires_max": int(part["beneficiaires"].max())})
    return pd.DataFrame(rows)
