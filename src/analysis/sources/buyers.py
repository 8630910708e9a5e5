"""Directory of public buyers (SIRET, name, category, département), as a SIRENE extract gives it.

It tells each contract's buyer type and buyer département, which DECP records do not carry.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import Quarantine
from .tabular import open_csv_table, text

SOURCE = "acheteurs"
COLUMNS = {"SIRET": "acheteur_id", "Nom": "acheteur_nom", "Catégorie": "acheteur_categorie",
           "Département": "acheteur_departement"}
REQUIRED = ["acheteur_id", "acheteur_categorie"]


def read(path: Path, raw_root: Path, quarantine: Quarantine) -> tuple[pd.DataFrame, dict]:
    """Read a buyers directory CSV; returns the table and its accounting row."""
    table = open_csv_table(path, raw_root, quarantine, SOURCE, COLUMNS, REQUIRED)
    table.valid_siret("acheteur_id", lambda r: f"« {r['acheteur_id']} » n'est pas un SIRET valide")
    table.unique_key("acheteur_id", "SIRET en double",
                     lambda r: f"l'acheteur {r['acheteur_id']} figure sur une autre ligne")
    f = table.frame
    out = pd.DataFrame({c: text(f[c]) for c in COLUMNS.values()})
    return out, table.accounting()
