"""Pseudonymisation at ingestion: participant ids become a keyed hash (HMAC-SHA-256).

The key comes from the environment variable ``OBSERVATOIRE_PSEUDO_KEY`` or from the key file
(:attr:`analysis.config.Paths.pseudonymisation_key`, kept out of git). It is never written anywhere
by the observatory. Only the synthetic data set, recognised by its generator's manifest, may be
read without a key: it then uses a public demonstration key, and says so in the build manifest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pandas as pd

from . import config

#: Public key for the synthetic data set only (its "participants" are invented).
DEMO_KEY = b"observatoire-des-clauses-sociales/demo-synthetique"
ID_LENGTH = 16
#: Shortest key accepted, from the environment variable as from the key file (characters).
MIN_KEY_LENGTH = 16


class MissingKeyError(Exception):
    """Real personal data cannot be read without a pseudonymisation key."""


def is_synthetic(raw: Path) -> bool:
    """True when ``raw`` is a data set written by the observatory's generator."""
    manifest = raw / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        return "generator_version" in json.loads(manifest.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return False


def get_key(raw: Path) -> tuple[bytes, str]:
    """The pseudonymisation key for ``raw`` and where it came from (never the key itself).

    Raises
    ------
    MissingKeyError
        When no key is configured and ``raw`` is not the synthetic data set.
    """
    from_env = os.environ.get("OBSERVATOIRE_PSEUDO_KEY")
    if from_env:
        length = len(from_env.strip())
        if length < MIN_KEY_LENGTH:
            raise MissingKeyError(
                f"clé de pseudonymisation trop courte dans la variable OBSERVATOIRE_PSEUDO_KEY : "
                f"{length} caractère(s), {MIN_KEY_LENGTH} au moins")
        return from_env.encode("utf-8"), "variable d'environnement OBSERVATOIRE_PSEUDO_KEY"
    key_file = config.paths().pseudonymisation_key
    if key_file.is_file():
        key_bytes = key_file.read_bytes().strip()
        length = len(key_bytes.decode("utf-8", errors="replace"))
        if length < MIN_KEY_LENGTH:
            raise MissingKeyError(
                f"clé de pseudonymisation trop courte dans le fichier {key_file} : "
                f"{length} caractère(s), {MIN_KEY_LENGTH} au moins")
        return key_bytes, f"fichier {key_file.name}"
    if is_synthetic(raw):
        return DEMO_KEY, "clé de démonstration publique (données synthétiques)"
    raise MissingKeyError(
        "clé de pseudonymisation absente : définissez OBSERVATOIRE_PSEUDO_KEY ou créez le fichier "
        f"{key_file} ({MIN_KEY_LENGTH} caractères au moins, hors de git) avant de lire des données réelles")


def pseudonymise(ids: pd.Series, scope: str, key: bytes) -> pd.Series:
    """Keyed hash of each id within ``scope`` (the coordination): same person, same pseudonym;
    without the key, the raw id cannot be recovered or tested."""
    def one(value) -> str | None:
        if value is None or pd.isna(value):
            return None
        message = f"{scope}:{value}".encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:ID_LENGTH]

    return ids.map(one).astype("string")
