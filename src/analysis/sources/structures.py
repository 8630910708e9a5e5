"""Directory of inclusion and disability structures (SIAE, EA, ESAT, GEIQ)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import Quarantine
from .tabular import open_csv_table, parse_dates, text

SOURCE = "structures"
TYPES = {"EI", "ETTI", "AI", "ACI", "EA", "ESAT", "GEIQ"}
COLUMNS = {"SIRET": "siret", "Raison sociale": "raison_sociale", "Type": "type",
           "Commune": "commune", "Secteurs": "secteurs", "Date de création": "date_creation"}
REQUIRED = ["siret", "type", "commune"]


def read(path: Path, raw_root: Path, quarantine: Quarantine,
         communes: set[str]) -> tuple[pd.DataFrame, dict]:
    """Read ``structures_inclusion.csv``; returns the table and its accounting row."""
    table = open_csv_table(path, raw_root, quarantine, SOURCE, COLUMNS, REQUIRED)
    table.valid_siret("siret", lambda r: f"« {r['siret']} » n'est pas un SIRET valide "
                                         "(14 chiffres, clé de Luhn)")
    table.unique_key("siret", "SIRET en double",
                     lambda r: f"l'établissement {r['siret']} figure sur une autre ligne")
    f = table.frame
    kind = text(f["type"]).str.upper()
    table.reject(~kind.isin(TYPES), "type de structure inconnu",
                 lambda r: f"« {r['type']} » (attendu : {', '.join(sorted(TYPES))})")
    f = table.frame
    commune = text(f["commune"])
    table.reject(~commune.isin(communes), "commune inconnue",
                 lambda r: f"code INSEE « {r['commune']} » absent de la géographie de référence")
    f = table.frame
    out = pd.DataFrame({
        "siret": f["siret"].astype("string"),
        "raison_sociale": text(f["raison_sociale"]),
        "type": text(f["type"]).str.upper(),
        "commune": text(f["commune"]),
        "secteurs": text(f["secteurs"]),
        "date_creation": parse_dates(f["date_creation"])[0].astype("datetime64[ms]"),
    })
    return out, table.accounting()
