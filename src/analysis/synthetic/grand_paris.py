"""A seeded synthetic register of the Grand Paris Express works contracts and their social clauses.

About :data:`CONTRACTS_PER_YEAR` works contracts a year at scale 1. The Société des grands projets
(ex Société du Grand Paris) asks every works contract for insertion hours — 5 % of works hours,
10 % for contracts notified from 1 October 2020 (:data:`OBLIGATION`) — and for 20 % of the works
value to go to SMEs (:data:`SME_TARGET`); ``../shared/domain.md`` section 2. Realised insertion
hours scatter around the obligation so that about a quarter of contracts fall short
(:data:`REALISED_FACTOR`), and the SME share so that about 30 % miss the target
(:data:`SME_SHARE`); the manifest states exactly how many meet each.

Contracts are linked to the DECP: every works contract of the Société des grands projets that the
DECP set holds (``sgp_contracts``) appears here with its uid, notification date, amount and
département; the others (the DECP set is smaller than the real programme) get uids built the same
way (the buyer's SIRET, ``_``, a year-prefixed id: ``<SIRET>_<year>-GPE-<n>``) that the DECP does
not hold, as real registers do.

Written file (``docs/input_formats.md``): ``grand_paris/contrats_grand_paris.csv``, ``;``-delimited,
UTF-8 with BOM, dates ``JJ/MM/AAAA``, decimal comma.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from .ids import siret

#: Works contracts per notification year at scale 1 (at least as many as ``sgp_contracts`` holds).
CONTRACTS_PER_YEAR = 40

#: Insertion-hours obligation, as a share of works hours, by notification date.
OBLIGATION = {"rate_before": 0.05, "rate_from": 0.10, "from": date(2020, 10, 1),
              "source": "Société du Grand Paris: 5 % of works hours, 10 % from October 2020 "
                        "(seed documents; grandparisdurable.org 2021)"}
#: Realised / obligation: log-normal with this sigma and a median set so that
#: ``share_below`` of contracts fall short.
REALISED_FACTOR = {"sigma": 0.30, "share_below": 0.25}
#: SME target (share of the amount entrusted to SMEs) and the drawn share: normal(mean, sd)
#: clipped to [0.02, 0.60]: about 30 % below the target.
SME_TARGET = 0.20
SME_SHARE = {"mean": 0.235, "sd": 0.067}

#: Lines and the départements they cross.
LINES = {"L14 Sud": ["75", "94", "91"], "L15 Sud": ["92", "94", "93"], "L15 Ouest": ["92", "93"],
         "L15 Est": ["93", "94"], "L16": ["93", "77"], "L17": ["93", "95"], "L18": ["91", "78"]}
LINE_WEIGHTS = {"L14 Sud": 0.12, "L15 Sud": 0.22, "L15 Ouest": 0.16, "L15 Est": 0.16,
                "L16": 0.14, "L17": 0.08, "L18": 0.12}
#: Amount of contracts absent from the DECP set: log-normal (median euros, sigma).
AMOUNT = (25_000_000, 1.0)
#: Works hours per euro: labour share of the amount / loaded hourly cost.
HOURS_PER_EURO = 0.35 / 55.0

_LOTS = ["Génie civil – tunnel", "Génie civil – gare", "Ouvrages annexes", "Aménagements de gare",
         "Voie ferrée", "Équipements et systèmes", "Second œuvre – gares", "Viaduc",
         "Terrassements et réseaux", "Centre d'exploitation"]
_HOLDERS = ["Groupement Tunnel Horizon", "Société Francilienne de Génie Civil",
            "Groupement Ligne Est Travaux", "Entreprise Générale du Bassin Parisien",
            "Groupement Souterrain Grand Paris", "Compagnie des Travaux d'Île-de-France",
            "Groupement Gares Nouvelles", "Société Nouvelle de Terrassement",
            "Groupement Viaduc et Ouvrages", "Bâtisseurs Associés du Grand Paris",
            "Groupement Systèmes Métro", "Société des Voies Franciliennes"]

HEADERS = ["Identifiant marché DECP", "Ligne", "Lot", "Titulaire", "SIRET titulaire",
           "Date de notification", "Heures de travail totales", "Heures d'insertion prévues",
           "Heures d'insertion réalisées", "Montant HT", "Montant confié aux PME", "Département"]
FILE = Path("grand_paris") / "contrats_grand_paris.csv"
ENCODING = "utf-8-sig"


def _obligation_rate(notified: pd.Series) -> np.ndarray:
    cut = pd.Timestamp(OBLIGATION["from"])
    return np.where(notified >= cut, OBLIGATION["rate_from"], OBLIGATION["rate_before"])


def generate(out: Path, seed: int, first_year: int, last_year: int, scale: float,
             sgp_contracts: pd.DataFrame) -> dict:
    """Write ``out/grand_paris/contrats_grand_paris.csv``; return the manifest.

    Parameters
    ----------
    out
        The folder to write in (laid out like ``data/raw/``).
    seed
        Random seed: the same seed, years, scale and ``sgp_contracts`` give byte-identical files.
    first_year, last_year
        Notification years.
    scale
        Multiplies the number of contracts (1.0: about 40 a year).
    sgp_contracts
        The Société des grands projets' works contracts in the DECP set (``uid``,
        ``dateNotification``, ``montant``, ``departement``); each is written with its uid.

    Returns
    -------
    dict
        Counts (contracts, linked to the DECP, meeting the insertion obligation and the SME
        target) and the planted rules.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6E5]))
    sgp = sgp_contracts.copy() if sgp_contracts is not None else pd.DataFrame(
        columns=["uid", "dateNotification", "montant", "departement"])
    if len(sgp):
        # The buyer's SIRET, from the uids (``<buyer SIRET>_<contract id>``).
        buyer = str(sgp["uid"].astype(str).str.split("_").str[0].mode().iloc[0])
        sgp["dateNotification"] = pd.to_datetime(sgp["dateNotification"])
        sgp = sgp[(sgp["dateNotification"].dt.year >= first_year)
                  & (sgp["dateNotification"].dt.year <= last_year)]
        sgp = sgp.sort_values(["dateNotification", "uid"], ignore_index=True)
    else:
        buyer = siret(rng)

    line_names = list(LINES)
    line_p = np.array([LINE_WEIGHTS[name] for name in line_names])
    frames = []
    for year in range(first_year, last_year + 1):
        known = sgp[sgp["dateNotification"].dt.year == year] if len(sgp) else sgp
        n = max(int(rng.poisson(CONTRACTS_PER_YEAR * scale)), len(known))
        extra = n - len(known)
        days = np.sort(rng.integers(0, 365 + (year % 4 == 0), extra))
        notified = pd.to_datetime(date(year, 1, 1)) + pd.to_timedelta(days, unit="D")
        amount = np.round(AMOUNT[0] * np.exp(AMOUNT[1] * rng.standard_normal(extra)), 2)
        frames.append(pd.DataFrame({
            "uid": list(known["uid"].astype(str)) + [f"{buyer}_{year}-GPE-{k + 1:06d}"
                                                     for k in range(extra)],
            "notified": list(known["dateNotification"]) + list(notified),
            "amount": list(known["montant"].astype(float)) + list(amount),
            "departement": list(known["departement"]) + [None] * extra,
            "linked": [True] * len(known) + [False] * extra,
        }))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["uid", "notified", "amount", "departement", "linked"])
    n = len(data)

    # Line: compatible with the département when the DECP gives one, else by weight.
    line = np.array(line_names, dtype=object)[
        np.searchsorted(np.cumsum(line_p / line_p.sum()), rng.random(n), side="right").clip(
            0, len(line_names) - 1)]
    dep = np.empty(n, dtype=object)
    for i, (given, ln) in enumerate(zip(data["departement"], line)):  # tens of rows a year
        if given in {d for deps in LINES.values() for d in deps}:
            options = [name for name in line_names if given in LINES[name]]
            line[i] = options[int(rng.integers(len(options)))]
            dep[i] = given
        else:
            dep[i] = LINES[ln][int(rng.integers(len(LINES[ln])))]
    lots = np.array(_LOTS, dtype=object)[rng.integers(0, len(_LOTS), n)]
    lot = [f"Lot {k:02d} – {name}" for k, name in zip(rng.integers(1, 40, n), lots)]
    holders = [(name, siret(rng)) for name in _HOLDERS]
    holder = rng.integers(0, len(holders), n)

    amount = data["amount"].to_numpy(dtype=float)
    works_hours = np.maximum(500.0, np.round(amount * HOURS_PER_EURO))
    rate = _obligation_rate(data["notified"])
    planned = np.round(works_hours * rate, 2)
    sigma = REALISED_FACTOR["sigma"]
    mu = -sigma * float(_norm_ppf(REALISED_FACTOR["share_below"]))
    realised = np.round(planned * np.exp(mu + sigma * rng.standard_normal(n)), 2)
    sme_share = np.clip(SME_SHARE["mean"] + SME_SHARE["sd"] * rng.standard_normal(n), 0.02, 0.60)
    sme = np.round(amount * sme_share, 2)

    written = pd.DataFrame({
        "Identifiant marché DECP": data["uid"].to_numpy(dtype=object),
        "Ligne": line,
        "Lot": lot,
        "Titulaire": [holders[h][0] for h in holder],
        "SIRET titulaire": [holders[h][1] for h in holder],
        "Date de notification": pd.to_datetime(data["notified"]).dt.strftime("%d/%m/%Y"),
        "Heures de travail totales": works_hours,
        "Heures d'insertion prévues": planned,
        "Heures d'insertion réalisées": realised,
        "Montant HT": amount,
        "Montant confié aux PME": sme,
        "Département": dep,
    })[HEADERS]
    target = out / FILE
    with atomic_path(target, suffix=".csv") as tmp:
        written.to_csv(tmp, sep=";", decimal=",", index=False, encoding=ENCODING,
                       lineterminator="\n")

    met_hours = realised >= planned
    met_sme = sme >= SME_TARGET * amount
    after = rate == OBLIGATION["rate_from"]
    return {
        "generator": "analysis.synthetic.grand_paris",
        "seed": seed,
        "scale": scale,
        "years": [first_year, last_year],
        "file": {"path": str(FILE), "encoding": ENCODING, "rows": int(n)},
        "rules": {
            "obligation": {"description": "Heures d'insertion prévues = Heures de travail totales "
                                          "x 5 %, x 10 % for contracts notified on or after "
                                          "2020-10-01 (rounded to 0.01 h)",
                           "rate_before": OBLIGATION["rate_before"],
                           "rate_from": OBLIGATION["rate_from"],
                           "from": OBLIGATION["from"].isoformat(),
                           "source": OBLIGATION["source"]},
            "realised": {"description": "Heures d'insertion réalisées = prévues x log-normal "
                                        "factor; met when réalisées >= prévues",
                         "sigma": sigma, "median_factor": round(math.exp(mu), 4),
                         "share_below_expected": REALISED_FACTOR["share_below"]},
            "sme": {"description": "Montant confié aux PME = Montant HT x share, share ~ "
                                   "normal(mean, sd) clipped to [0.02, 0.60]; met when >= 20 % of "
                                   "Montant HT",
                    "target": SME_TARGET, **SME_SHARE},
            "works_hours": "Heures de travail totales = max(500, Montant HT x 0.35 / 55 EUR)",
        },
        "counts": {
            "contracts": int(n),
            "linked_to_decp": int(data["linked"].sum()) if n else 0,
            "not_in_decp": int(n - data["linked"].sum()) if n else 0,
            "obligation_10_percent": int(after.sum()),
            "obligation_5_percent": int((~after).sum()),
            "insertion_obligation_met": int(met_hours.sum()),
            "insertion_obligation_not_met": int((~met_hours).sum()),
            "sme_target_met": int(met_sme.sum()),
            "sme_target_not_met": int((~met_sme).sum()),
            "by_line": {name: int((line == name).sum()) for name in line_names},
        },
    }


def _norm_ppf(p: float) -> float:
    """Standard normal quantile (``scipy.stats.norm.ppf`` without the import)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)
