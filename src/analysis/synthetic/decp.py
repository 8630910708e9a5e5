"""A seeded synthetic DECP v2 publication for Île-de-France: buyers' JSON files as they publish them.

The share of contracts with a social consideration follows a logistic model whose terms are
written to the manifest (the *planted truth*): a yearly level that follows the national shape
(about 12 % in 2019, 22 % in 2022, 19 % in 2023, ``../shared/domain.md``), plus buyer-type, sector
and département effects. The files mix the shapes real publishers use: ``marches.marche`` or a
plain ``marches`` list, nested or flat ``considerationsSociales``; some contracts are republished
(the same contract in two files), modified, or malformed, at the rates stated in the manifest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from .. import config
from ..io import write_text
from .ids import siret

#: Yearly share of contracts with at least one social consideration (national shape, OECP / DECP).
YEAR_SHARE = {2018: 0.11, 2019: 0.125, 2020: 0.121, 2021: 0.13, 2022: 0.223, 2023: 0.187,
              2024: 0.21, 2025: 0.235}

#: Buyer types: (label, log-odds effect, contracts per buyer per year, DECP nature of purchases).
BUYER_TYPES = {
    "region": ("Conseil régional", 0.45, 35),
    "departement": ("Conseil départemental", 0.30, 22),
    "commune": ("Commune", -0.35, 7),
    "ept": ("Établissement public territorial", 0.10, 10),
    "bailleur": ("Bailleur social", 0.60, 12),
    "sgp": ("Société des grands projets", 1.10, 30),
    "hopital": ("Centre hospitalier", -0.55, 15),
    "etat": ("Service de l'État", -0.25, 12),
}

#: Sectors: (CPV code, CCAG, log-odds effect, weight, log-normal median amount in euros).
SECTORS = {
    "travaux": ("45000000-7", "Travaux", 0.55, 0.32, 180_000),
    "nettoyage": ("90910000-9", "Fournitures courantes et services", 0.50, 0.12, 60_000),
    "espaces_verts": ("77310000-6", "Fournitures courantes et services", 0.45, 0.08, 40_000),
    "informatique": ("72000000-5", "Techniques de l'information et de la communication", -0.70,
                     0.14, 80_000),
    "fournitures": ("30190000-7", "Fournitures courantes et services", -0.60, 0.18, 35_000),
    "etudes": ("71000000-8", "Prestations intellectuelles", -0.40, 0.16, 50_000),
}

#: Département effects on the log-odds (planted; the région has no effect of its own).
DEPARTEMENT_EFFECTS = {"75": 0.20, "77": -0.20, "78": -0.10, "91": 0.00, "92": 0.10, "93": 0.30,
                       "94": 0.15, "95": -0.15}

#: Among contracts with a social consideration: the kinds it takes (they can combine).
KIND_SHARES = {"Clause sociale": 0.80, "Critère social": 0.30, "Marché réservé": 0.07}

#: Defect rates, per contract published.
DEFECTS = {
    "republication": 0.02,   # the same contract published again in another file
    "modification": 0.05,    # at least one modification (amount, duration, suppliers)
    "missing_date": 0.004,   # no dateNotification: the reader must quarantine it
    "missing_procedure": 0.01,
    "amount_as_text": 0.01,  # "montant": "12 345,60"
    "no_considerations_key": 0.01,  # status unknown
}

PROCEDURES = [
    (40_000, "Marché passé sans publicité ni mise en concurrence préalable"),
    (221_000, "Procédure adaptée"),
    (float("inf"), "Appel d'offres ouvert"),
]


@dataclass(frozen=True)
class Buyer:
    siret: str
    name: str
    kind: str
    departement: str | None  # None for the région: it buys everywhere
    shape: str  # "nested-marche" | "flat-list"


def _buyers(rng: np.random.Generator) -> list[Buyer]:
    buyers: list[Buyer] = []
    shapes = ["nested-marche", "flat-list"]

    def add(kind: str, name: str, dep: str | None) -> None:
        shape = shapes[int(rng.random() < 0.3)]
        buyers.append(Buyer(siret(rng), name, kind, dep, shape))

    add("region", "Région Île-de-France", None)
    add("sgp", "Société des grands projets", None)
    add("etat", "Préfecture de la région d'Île-de-France", None)
    for dep, dep_name in config.DEPARTEMENTS.items():
        add("departement", f"Département {dep_name}" if dep != "75" else "Ville de Paris", dep)
        for n in range(4):
            add("commune", f"Commune {dep}-{n + 1}", dep)
        add("ept" if dep in {"92", "93", "94"} else "commune",
            f"EPT {dep}" if dep in {"92", "93", "94"} else f"Commune {dep}-5", dep)
        add("bailleur", f"Office public de l'habitat {dep}", dep)
        add("hopital", f"Centre hospitalier {dep}", dep)
    return buyers


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _place(rng: np.random.Generator, buyer: Buyer, communes: dict[str, list[str]]) -> tuple[str, dict]:
    dep = buyer.departement or rng.choice(list(config.DEPARTEMENTS))
    code = rng.choice(communes[dep]) if communes.get(dep) else f"{dep}000"
    if rng.random() < 0.3:
        postal = f"{dep}{rng.integers(0, 999):03d}" if dep != "75" else f"750{rng.integers(1, 21):02d}"
        return dep, {"code": postal, "typeCode": "Code postal"}
    return dep, {"code": str(code), "typeCode": "Code commune"}


def generate(out: Path, seed: int = config.DEFAULT_SEED, first_year: int = 2019,
             last_year: int = 2025, scale: float = 1.0,
             communes: dict[str, list[str]] | None = None) -> dict:
    """Write ``out/decp/<buyer>.json`` files and ``out/decp_manifest.json``; return the manifest.

    Parameters
    ----------
    out
        The folder to write in (laid out like ``data/raw/``).
    seed
        Random seed: the same seed, years and scale give byte-identical files.
    first_year, last_year
        Notification years.
    scale
        Multiplies the number of contracts (1.0: a few thousand over 2019-2025).
    communes
        INSEE commune codes per département for places of execution (default: from the reference).
    """
    rng = np.random.default_rng(seed)
    if communes is None:
        from ..reference import commune_table

        table = commune_table()
        table = table[table["type"] == "COM"]
        communes = {dep: sorted(group["code_insee"]) for dep, group in table.groupby("departement")}
    buyers = _buyers(rng)
    sector_names = list(SECTORS)
    sector_weights = np.array([SECTORS[s][3] for s in sector_names])
    sector_weights /= sector_weights.sum()

    # Centre the effects on their volume-weighted mean, so that the yearly level is close to the
    # log-odds of the yearly share.
    volumes = np.array([BUYER_TYPES[b.kind][2] for b in buyers], dtype=float)
    mean_effect = float(np.dot(volumes, [BUYER_TYPES[b.kind][1] for b in buyers]) / volumes.sum())
    mean_effect += float(np.dot(sector_weights, [SECTORS[s][2] for s in sector_names]))

    published: dict[str, list[dict]] = {b.siret: [] for b in buyers}
    counts = {k: 0 for k in DEFECTS} | {"contracts": 0}
    for year in range(first_year, last_year + 1):
        base = _logit(YEAR_SHARE.get(year, YEAR_SHARE[max(YEAR_SHARE)])) - mean_effect
        for buyer in buyers:
            label, type_effect, per_year = BUYER_TYPES[buyer.kind]
            n = int(rng.poisson(per_year * scale * (1 + 0.04 * (year - first_year))))
            for seq in range(n):
                sector = sector_names[int(rng.choice(len(sector_names), p=sector_weights))]
                cpv, ccag, sector_effect, _, median = SECTORS[sector]
                dep, place = _place(rng, buyer, communes)
                eta = base + type_effect + sector_effect + DEPARTEMENT_EFFECTS[dep]
                social = rng.random() < 1 / (1 + math.exp(-eta))
                amount = round(float(median * math.exp(rng.normal(0, 1.1))), 2)
                procedure = next(p for limit, p in PROCEDURES if amount < limit)
                notified = date(year, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
                kinds = [k for k, share in KIND_SHARES.items() if rng.random() < share] or [
                    "Clause sociale"] if social else ["Pas de considération sociale"]
                record: dict = {
                    "id": f"{year}{buyer.siret[-4:]}{seq:05d}",
                    "acheteur": {"id": buyer.siret},
                    "nature": "Marché",
                    "objet": f"{sector.replace('_', ' ').capitalize()} — lot {seq + 1}",
                    "codeCPV": cpv,
                    "ccag": ccag,
                    "procedure": procedure,
                    "lieuExecution": place,
                    "dureeMois": int(rng.choice([6, 12, 24, 36, 48])),
                    "dateNotification": notified.isoformat(),
                    "datePublicationDonnees": (notified + timedelta(days=int(rng.integers(1, 60)))).isoformat(),
                    "montant": amount,
                    "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": siret(rng)}}],
                    "considerationsSociales": (
                        {"considerationSociale": kinds} if buyer.shape == "nested-marche" else kinds),
                    "considerationsEnvironnementales": {"considerationEnvironnementale": [
                        "Clause environnementale" if rng.random() < 0.3
                        else "Pas de considération environnementale"]},
                }
                counts["contracts"] += 1
                if rng.random() < DEFECTS["modification"]:
                    counts["modification"] += 1
                    record["modifications"] = [{"modification": {
                        "id": 1, "montant": round(amount * 1.15, 2),
                        "dureeMois": record["dureeMois"] + 6,
                        "dateNotificationModification": (notified + timedelta(days=120)).isoformat(),
                        "datePublicationDonneesModification": (notified + timedelta(days=130)).isoformat(),
                    }}]
                if rng.random() < DEFECTS["missing_procedure"]:
                    counts["missing_procedure"] += 1
                    record.pop("procedure")
                if rng.random() < DEFECTS["amount_as_text"]:
                    counts["amount_as_text"] += 1
                    record["montant"] = f"{amount:,.2f}".replace(",", " ").replace(".", ",")
                if rng.random() < DEFECTS["no_considerations_key"]:
                    counts["no_considerations_key"] += 1
                    record.pop("considerationsSociales")
                if rng.random() < DEFECTS["missing_date"]:
                    counts["missing_date"] += 1
                    record.pop("dateNotification")
                published[buyer.siret].append(record)
                if rng.random() < DEFECTS["republication"] and "dateNotification" in record:
                    counts["republication"] += 1
                    other = buyers[int(rng.integers(0, len(buyers)))]
                    again = dict(record)
                    again["datePublicationDonnees"] = (notified + timedelta(days=90)).isoformat()
                    published[other.siret].append(again)

    folder = out / "decp"
    folder.mkdir(parents=True, exist_ok=True)
    for buyer in buyers:
        records = published[buyer.siret]
        document = ({"marches": {"marche": records}} if buyer.shape == "nested-marche"
                    else {"marches": records})
        write_text(folder / f"{buyer.siret}.json",
                   json.dumps(document, ensure_ascii=False, indent=1))

    manifest = {
        "generator": "analysis.synthetic.decp",
        "seed": seed,
        "scale": scale,
        "years": [first_year, last_year],
        "model": {
            "formula": "logit P(considération sociale) = niveau(année) + effet(type d'acheteur) "
                       "+ effet(secteur) + effet(département d'exécution)",
            "year_share": {str(y): YEAR_SHARE.get(y) for y in range(first_year, last_year + 1)},
            "year_level_logit": {
                str(y): _logit(YEAR_SHARE.get(y, YEAR_SHARE[max(YEAR_SHARE)])) - mean_effect
                for y in range(first_year, last_year + 1)},
            "buyer_type_effects": {k: v[1] for k, v in BUYER_TYPES.items()},
            "sector_effects": {k: v[2] for k, v in SECTORS.items()},
            "departement_effects": DEPARTEMENT_EFFECTS,
            "kind_shares_given_social": KIND_SHARES,
        },
        "defect_rates": DEFECTS,
        "counts": counts,
        "buyers": [{"siret": b.siret, "name": b.name, "type": b.kind,
                    "departement": b.departement, "shape": b.shape} for b in buyers],
    }
    write_text(out / "decp_manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest
