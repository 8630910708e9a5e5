"""Directory of public buyers (SIRET, name, category, département), as a SIRENE extract gives it.

It tells each contract's buyer type and buyer département, which DECP records do not carry.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..identifiers import siret_valid
from .base import Quarantine
from .tabular import open_csv_table, text

SOURCE = "acheteurs"
COLUMNS = {"SIRET": "acheteur_id", "Nom": "acheteur_nom", "Catégorie": "acheteur_categorie",
           "Département": "acheteur_departement"}
REQUIRED = ["acheteur_id", "acheteur_categorie"]


def read(path: Path, raw_root: Path, quarantine: Quarantine) -> tuple[pd.DataFrame, dict]:
    """Read a buyers directory CSV; returns the table and its accounting row."""
    table = open_csv_table(path, raw_root, quarantine, SOURCE, COLUMNS, REQUIRED)
    f = table.frame
    f["acheteur_id"] = text(f["acheteur_id"])
    table.reject(~f["acheteur_id"].fillna("").map(siret_valid), "SIRET invalide",
                 lambda r: f"« {r['acheteur_id']} » n'est pas un SIRET valide")
    table.merge_exact_duplicates([c for c in table.frame.columns if c != "_line"])
    table.reject(table.frame["acheteur_id"].duplicated(keep="first"), "SIRET en double",
                 lambda r: f"l'acheteur {r['acheteur_id']} figure sur une autre ligne")
    f = table.frame
    out = pd.DataFrame({c: text(f[c]) for c in COLUMNS.values()})
    return out, table.accounting()
