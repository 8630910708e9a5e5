"""Consolidated tabular DECP (CSV or Parquet): one row per contract and supplier.

Such exports (decp-rama, decp-processing and their successors) flatten the JSON: headers like
``acheteur.id`` or ``acheteur_id``, multi-valued fields joined with ``", "``, « Sans objet » for
« Pas de considération sociale ». The rows of one contract (same buyer and ``id``) are folded back
into one record, which then goes through exactly the same checks as a JSON record; the extra
supplier rows count as *merged* in the accounting.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

from .base import SourceFileError
from .decp import DecpFile, read_record
from .tabular import read_csv

#: Canonical (folded) header → where the value goes in a DECP record.
FIELDS = {
    "id": ("id",), "acheteur_id": ("acheteur", "id"), "acheteur_nom": ("acheteur", "nom"),
    "nature": ("nature",), "objet": ("objet",), "codecpv": ("codeCPV",),
    "procedure": ("procedure",), "ccag": ("ccag",),
    "lieuexecution_code": ("lieuExecution", "code"),
    "lieuexecution_typecode": ("lieuExecution", "typeCode"),
    "dureemois": ("dureeMois",), "datenotification": ("dateNotification",),
    "datepublicationdonnees": ("datePublicationDonnees",), "montant": ("montant",),
    "considerationssociales": ("considerationsSociales",),
    "considerationsenvironnementales": ("considerationsEnvironnementales",),
    "_type": ("_type",),
}
SUPPLIER = {"titulaire_id": "id", "titulaire_typeidentifiant": "typeIdentifiant",
            "titulaire_denominationsociale": "denominationSociale"}
REQUIRED = ("id", "acheteur_id")


def _fold(header: str) -> str:
    return re.sub(r"[.\s]+", "_", str(header).strip()).lower()


def read_frame(path: Path) -> pd.DataFrame:
    """The file as text cells with folded headers (``acheteur.id`` → ``acheteur_id``)."""
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise SourceFileError(path, f"Parquet illisible : {exc}") from exc
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.strftime("%Y-%m-%d")
        frame = frame.astype(object).where(frame.notna(), None)
    else:
        frame, _ = read_csv(path)
    frame.columns = [_fold(c) for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SourceFileError(path, "pas un export DECP tabulaire : colonne(s) absente(s) "
                              + ", ".join(missing))
    return frame


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == ""


def read_decp_table(path: Path | str, today: date | None = None,
                    communes: set[str] | None = None, chunk_size: int | None = None) -> DecpFile:
    """Read a consolidated tabular DECP file into the same rows as the JSON reader."""
    path = Path(path)
    today = today or date.today()
    frame = read_frame(path)
    result = DecpFile(path=str(path), communes=communes)
    frame["_line"] = range(2, len(frame) + 2)
    if frame.empty:  # a header and no row: nothing to read (agg would not give a Series)
        return result
    keys = frame[["acheteur_id", "id"]].astype(str).agg("\u241f".join, axis=1)
    present = [c for c in FIELDS if c in frame.columns]
    suppliers = [c for c in SUPPLIER if c in frame.columns]
    for _, group in frame.groupby(keys, sort=False):
        first = group.iloc[0]
        record: dict = {}
        for column in present:
            value = first[column]
            if _blank(value):
                continue
            target = FIELDS[column]
            if len(target) == 1:
                record[target[0]] = value
            else:
                record.setdefault(target[0], {})[target[1]] = value
        titulaires = []
        for _, row in group.iterrows():
            supplier = {SUPPLIER[c]: row[c] for c in suppliers if not _blank(row[c])}
            if supplier and supplier not in titulaires:
                titulaires.append(supplier)
        if titulaires:
            record["titulaires"] = titulaires
        kind = "concession" if str(record.get("_type", "")).lower().startswith("contrat de concession") \
            else "marche"
        lines = group["_line"].tolist()
        where = f"ligne {lines[0]}" + (f" (et {', '.join(map(str, lines[1:]))})" if len(lines) > 1 else "")
        read_record(result, kind, where, record, today)
        result.read += len(group) - 1
        result.merged += len(group) - 1
        if chunk_size and len(result.contracts) >= chunk_size:
            result.flush()
    return result
