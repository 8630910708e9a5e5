"""A seeded synthetic directory of inclusion and disability structures (SIAE, EA, ESAT, GEIQ).

About 600 establishments at scale 1 in Île-de-France, roughly its count of the types that clause
facilitators work with; in another région, that count times its population over Île-de-France's
(:mod:`analysis.synthetic.region`), placed in its communes. They are placed unevenly on purpose: a commune's weight grows faster than
its population (``population ** PLACEMENT_EXPONENT``), so that structures gather in the dense
inner ring and Paris while the rural parts of Seine-et-Marne, Yvelines, Essonne and Val-d'Oise are
left with few or none: the *zones blanches* the observatory must show. Paris (one commune, code
``75056``) is weighted as the sum of its arrondissements' weights when the reference table holds
them, so that its size alone does not swallow a third of the structures (likewise Lyon and
Marseille, whose arrondissements the reference holds too).

Written file (``docs/input_formats.md``): ``structures/structures_inclusion.csv``, ``;``-delimited,
UTF-8 with BOM, dates ``JJ/MM/AAAA``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from .ids import siret
from .region import Region, profile

#: Establishments per type at scale 1 (Île-de-France order of magnitude, 585 in all).
TYPE_COUNTS = {"EI": 120, "ETTI": 60, "AI": 50, "ACI": 170, "EA": 90, "ESAT": 70, "GEIQ": 25}

#: A commune's placement weight is ``population_municipale ** PLACEMENT_EXPONENT`` (> 1: structures
#: concentrate in large communes faster than people do, leaving rural communes uncovered).
PLACEMENT_EXPONENT = 1.3

#: Sectors (the operations' ``Secteur`` list) each type works in, with drawing weights; each
#: establishment gets one to three of them.
TYPE_SECTORS = {
    "EI": {"BTP": 0.35, "Propreté": 0.25, "Espaces verts": 0.2, "Restauration": 0.1, "Logistique": 0.1},
    "ETTI": {"BTP": 0.5, "Logistique": 0.2, "Propreté": 0.15, "Services": 0.15},
    "AI": {"Services": 0.35, "Propreté": 0.35, "Espaces verts": 0.15, "BTP": 0.15},
    "ACI": {"Espaces verts": 0.3, "Restauration": 0.2, "Services": 0.2, "BTP": 0.15, "Propreté": 0.15},
    "EA": {"Propreté": 0.3, "Logistique": 0.3, "Services": 0.25, "Espaces verts": 0.15},
    "ESAT": {"Espaces verts": 0.3, "Restauration": 0.25, "Logistique": 0.25, "Services": 0.2},
    "GEIQ": {"BTP": 0.6, "Propreté": 0.2, "Logistique": 0.2},
}

#: Creation dates: first and last year, per type (EA and ESAT are older institutions).
CREATION_YEARS = {"EI": (1990, 2024), "ETTI": (1992, 2024), "AI": (1987, 2023), "ACI": (1985, 2024),
                  "EA": (1978, 2022), "ESAT": (1975, 2020), "GEIQ": (1995, 2024)}

#: Words names are built from: ``<type label> <word> – <commune>``.
_LABELS = {"EI": "Entreprise d'insertion", "ETTI": "Intérim d'insertion", "AI": "Association intermédiaire",
           "ACI": "Chantier d'insertion", "EA": "Entreprise adaptée", "ESAT": "ESAT", "GEIQ": "GEIQ"}
_WORDS = ["Tremplin", "Passerelle", "Rebond", "Horizon", "Envol", "Bâtir Ensemble", "Solidarité",
          "Les Jardins", "Élan", "Trait d'Union", "Avenir", "Cap Emploi Solidaire", "Initiatives",
          "Les Ateliers", "Relais", "Réussir", "Parcours", "Entraide", "Terre et Pierre", "Coup de Main"]

HEADERS = ["SIRET", "Raison sociale", "Type", "Commune", "Secteurs", "Date de création"]
FILE = Path("structures") / "structures_inclusion.csv"
ENCODING = "utf-8-sig"


def placement_weights(communes: pd.DataFrame) -> pd.DataFrame:
    """Communes (``type == 'COM'``) with their placement weight ``w`` (summing to 1).

    A commune with arrondissements (Paris, Lyon, Marseille: ``ARM`` rows whose
    ``commune_parent`` it is) is weighted by the sum of its arrondissements' weights.
    """
    com = communes[communes["type"] == "COM"].sort_values("code_insee", ignore_index=True)
    pop = com["population_municipale"].to_numpy(dtype=float)
    weight = pop ** PLACEMENT_EXPONENT
    arm = communes[communes["type"] == "ARM"]
    parents = arm["commune_parent"].astype(str) if "commune_parent" in arm.columns else \
        pd.Series("75056", index=arm.index)
    for parent in dict.fromkeys(parents):
        is_parent = (com["code_insee"] == parent).to_numpy()
        if is_parent.any():
            weight[is_parent] = float((arm.loc[(parents == parent).to_numpy(),
                                               "population_municipale"].to_numpy(dtype=float)
                                       ** PLACEMENT_EXPONENT).sum())
    out = com[["code_insee", "nom", "departement", "population_municipale"]].copy()
    out["w"] = weight / weight.sum()
    return out


def _unique_sirets(rng: np.random.Generator, n: int, taken: set[str] | None = None) -> list[str]:
    taken = set(taken or ())
    numbers: list[str] = []
    while len(numbers) < n:
        number = siret(rng)
        if number not in taken:
            taken.add(number)
            numbers.append(number)
    return numbers


def generate(out: Path, seed: int, scale: float, communes: pd.DataFrame,
             region: Region | None = None) -> tuple[pd.DataFrame, dict]:
    """Write ``out/structures/structures_inclusion.csv``; return the structures and the manifest.

    Parameters
    ----------
    out
        The folder to write in (laid out like ``data/raw/``).
    seed
        Random seed: the same seed and scale give byte-identical files.
    scale
        Multiplies the number of establishments per type (at least one of each type); the
        caller has already multiplied it by the région's population factor.
    communes
        The reference commune table without geometry (``analysis.reference.commune_table``),
        the région's.
    region
        The région (:func:`analysis.synthetic.region.profile`; default: the one in force).

    Returns
    -------
    structures : DataFrame
        One row per establishment: ``siret``, ``raison_sociale``, ``type``, ``commune``,
        ``departement``, ``secteurs`` (``', '``-joined), ``date_creation`` (``datetime64``).
    manifest : dict
        Counts per type and département, the placement rule and the uncovered communes.
    """
    region = region or profile()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x57C]))
    places = placement_weights(communes)
    types = np.repeat(list(TYPE_COUNTS),
                      [max(1, int(round(n * scale))) for n in TYPE_COUNTS.values()])
    n = len(types)
    where = rng.choice(len(places), size=n, p=places["w"].to_numpy())
    sirets = _unique_sirets(rng, n)

    sector_lists: list[str] = []
    for kind in types:  # a few thousand rows at most
        names = list(TYPE_SECTORS[kind])
        p = np.array(list(TYPE_SECTORS[kind].values()))
        k = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
        picked = rng.choice(len(names), size=min(k, len(names)), replace=False, p=p)
        sector_lists.append(", ".join(names[i] for i in sorted(picked)))

    first = np.array([CREATION_YEARS[t][0] for t in types])
    last = np.array([CREATION_YEARS[t][1] for t in types])
    start = pd.to_datetime(first.astype(str), format="%Y").to_numpy()
    span = (pd.to_datetime((last + 1).astype(str), format="%Y").to_numpy() - start).astype(
        "timedelta64[D]").astype(int)
    created = start + (rng.random(n) * span).astype("timedelta64[D]")
    words = np.array(_WORDS)[rng.integers(0, len(_WORDS), n)]
    labels = np.array([_LABELS[t] for t in types])

    frame = pd.DataFrame({
        "siret": sirets,
        "raison_sociale": [f"{lab} {w} – {nom}" for lab, w, nom in
                           zip(labels, words, places["nom"].to_numpy()[where])],
        "type": types,
        "commune": places["code_insee"].to_numpy()[where],
        "departement": places["departement"].to_numpy()[where],
        "secteurs": sector_lists,
        "date_creation": pd.to_datetime(created).astype("datetime64[ns]"),
    })
    frame = frame.sort_values(["departement", "commune", "type", "siret"], ignore_index=True)

    written = pd.DataFrame({
        "SIRET": frame["siret"],
        "Raison sociale": frame["raison_sociale"],
        "Type": frame["type"],
        "Commune": frame["commune"],
        "Secteurs": frame["secteurs"],
        "Date de création": frame["date_creation"].dt.strftime("%d/%m/%Y"),
    })[HEADERS]
    target = out / FILE
    with atomic_path(target, suffix=".csv") as tmp:
        written.to_csv(tmp, sep=";", index=False, encoding=ENCODING, lineterminator="\n")

    covered = set(frame["commune"])
    if region.is_calibration:
        outer_deps = ["77", "78", "91", "95"]
        description = ("each establishment's commune is drawn with probability proportional to "
                       f"population_municipale ** {PLACEMENT_EXPONENT} (Paris: sum over its "
                       "arrondissements), so structures concentrate in dense communes and rural "
                       "communes of 77, 78, 91 and 95 are left uncovered")
    else:
        outer_deps = None
        description = ("each establishment's commune is drawn with probability proportional to "
                       f"population_municipale ** {PLACEMENT_EXPONENT} (a commune with "
                       "arrondissements: sum over them), so structures concentrate in dense "
                       "communes and rural communes are left uncovered")
    manifest = {
        "generator": "analysis.synthetic.structures",
        "seed": seed,
        "scale": scale,
        "file": {"path": str(FILE), "encoding": ENCODING, "rows": int(len(frame))},
        "placement": {
            "description": description,
            "exponent": PLACEMENT_EXPONENT,
        },
        "type_counts_scale_1": TYPE_COUNTS,
        "counts_by_type": {str(k): int(v) for k, v in frame["type"].value_counts().sort_index().items()},
        "counts_by_departement": {
            dep: int((frame["departement"] == dep).sum()) for dep in region.departements},
        "communes_without_structure": int((~places["code_insee"].isin(covered)).sum()),
    }
    if outer_deps is not None:
        outer = places[places["departement"].isin(outer_deps)]
        manifest["outer_communes_without_structure"] = int(
            (~outer["code_insee"].isin(covered)).sum())
        manifest["outer_population_without_structure"] = int(
            outer.loc[~outer["code_insee"].isin(covered), "population_municipale"].sum())
    else:
        # Rural communes: under 2 000 inhabitants (INSEE's historical threshold).
        rural = places[places["population_municipale"] < 2000]
        manifest["rural_communes_without_structure"] = int(
            (~rural["code_insee"].isin(covered)).sum())
        manifest["rural_population_without_structure"] = int(
            rural.loc[~rural["code_insee"].isin(covered), "population_municipale"].sum())
    return frame, manifest
