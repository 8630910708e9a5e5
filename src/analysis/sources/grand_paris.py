"""Grand Paris Express works contracts with their insertion-hours and SME obligations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from .base import Quarantine
from .tabular import open_csv_table, parse_dates, parse_decimals, text

SOURCE = "grand_paris"
COLUMNS = {
    "Identifiant marché DECP": "decp_uid",
    "Ligne": "ligne",
    "Lot": "lot",
    "Titulaire": "titulaire",
    "SIRET titulaire": "titulaire_siret",
    "Date de notification": "date_notification",
    "Heures de travail totales": "heures_travail",
    "Heures d'insertion prévues": "heures_insertion_prevues",
    "Heures d'insertion réalisées": "heures_insertion_realisees",
    "Montant HT": "montant",
    "Montant confié aux PME": "montant_pme",
    "Département": "departement",
}
REQUIRED = ["lot", "date_notification", "heures_travail", "heures_insertion_realisees"]


def read(path: Path, raw_root: Path, quarantine: Quarantine,
         today: date | None = None) -> tuple[pd.DataFrame, dict]:
    """Read ``contrats_grand_paris.csv``; returns the table and its accounting row (``today``:
    dates after it are reported as improbable; default the real date)."""
    table = open_csv_table(path, raw_root, quarantine, SOURCE, COLUMNS, REQUIRED)
    f = table.frame
    notified, bad_date = parse_dates(f["date_notification"])
    table.reject(notified.isna(), "date de notification invalide",
                 lambda r: f"« {r['date_notification']} » illisible")
    table.plausible_dates(notified, "date_notification", today)
    numbers = {}
    for column in ("heures_travail", "heures_insertion_prevues", "heures_insertion_realisees",
                   "montant", "montant_pme"):
        values, bad = parse_decimals(table.frame[column])
        table.reject(bad | (values < 0), f"{column} invalide",
                     lambda r, c=column: f"« {r[c]} » : nombre positif ou nul attendu")
        numbers[column] = values
    f = table.frame
    table.reject(parse_decimals(f["heures_travail"])[0].fillna(0) <= 0, "heures de travail nulles",
                 lambda r: "heures de travail totales nulles ou absentes : taux incalculable")
    f = table.frame
    table.valid_siret("titulaire_siret",
                      lambda r: f"« {r['titulaire_siret']} » n'est pas un SIRET valide",
                      rule="titulaire : SIRET invalide", warn_only=True)
    siret = f["titulaire_siret"]
    out = pd.DataFrame({
        "decp_uid": text(f["decp_uid"]),
        "ligne": text(f["ligne"]),
        "lot": text(f["lot"]),
        "titulaire_siret": siret,
        "date_notification": parse_dates(f["date_notification"])[0].astype("datetime64[ms]"),
        **{c: parse_decimals(f[c])[0] for c in numbers},
        "departement": text(f["departement"]),
    })
    # Obligation in force at notification: 5 % of works hours, 10 % from 1 October 2020.
    out["taux_obligation"] = (out["date_notification"] >= pd.Timestamp("2020-10-01")).map(
        {True: 0.10, False: 0.05}).astype(float)
    accounting = table.accounting()
    return out, accounting
