"""Privacy scan: no raw participant identifier, name or exact birth date anywhere in the processed
folder or in what a build prints, and the pseudonymisation key written nowhere.

``test_synthetic.py::test_no_personal_data_in_the_warehouse`` scans the session warehouse
(demonstration key) for ids and names. This file extends it to what a user with real data runs:
``observatoire build`` in a subprocess with a secret key (from the environment, then from a key
file), on the generated data set and on the small corpus with defects that put participants in the
quarantine (orphan contracts, duplicated ids, unknown values). It scans *every* file under the
processed folder — Parquet and DuckDB decoded, every other file as bytes (manifests, caches,
staging leftovers) — and the build's stdout and stderr, for the raw ids, the full names, the birth
dates and the key (as text, hex and base64).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from corpus import (CSV_FILES, TEST_KEY, csv_bytes, flat_rows, generated_raw, personal_data,
                    write_corpus)

pytestmark = pytest.mark.slow


def build(raw: Path, processed: Path, key_env: dict[str, str]) -> str:
    """``observatoire build`` with progress bars on (they go to the logs too); its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATOIRE_PSEUDO_KEY")}
    env.update({"OBSERVATOIRE_PROCESSED_DIR": str(processed), **key_env})
    done = subprocess.run([sys.executable, "-m", "analysis", "build", "--raw", str(raw)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + "\n" + done.stderr


def texts_of(processed: Path) -> dict[str, str]:
    """Every file under ``processed`` as text: Parquet and DuckDB tables decoded, other files
    as bytes read in UTF-8 (with replacement)."""
    texts: dict[str, str] = {}
    files = [p for p in processed.rglob("*") if p.is_file()]
    assert files
    for path in files:
        name = str(path.relative_to(processed))
        if path.suffix == ".parquet":
            texts[name] = pd.read_parquet(path).astype(str).to_csv()
        elif path.suffix == ".duckdb":
            con = duckdb.connect(str(path), read_only=True)
            try:
                for (table,) in con.execute("show tables").fetchall():
                    texts[f"{name}:{table}"] = (con.execute(f'select * from "{table}"').df()
                                                .astype(str).to_csv())
            finally:
                con.close()
        texts[f"{name}:bytes"] = path.read_bytes().decode("utf-8", errors="replace")
    return texts


def key_forms(key: str) -> list[str]:
    raw = key.encode("utf-8")
    return [key, raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()]


TOKEN = re.compile(r"[\w'’/-]+")


def grams(text: str, longest: int) -> set[str]:
    """Every run of 1..``longest`` consecutive tokens (words with ' - /), joined by a space:
    whole ids, dates and names, not substrings of longer ones ("P93-0001" ≠ "P93-00012")."""
    words = TOKEN.findall(text)
    return {" ".join(words[i:i + n]) for n in range(1, longest + 1)
            for i in range(len(words) - n + 1)}


def find(forbidden: set[str], texts: dict[str, str]) -> dict[str, list[str]]:
    longest = max(len(TOKEN.findall(s)) for s in forbidden)
    hits = {name: sorted(grams(text, longest) & forbidden)[:5] for name, text in texts.items()}
    return {name: found for name, found in hits.items() if found}


def scan(processed: Path, log: str, raw: Path, key: str, with_names: bool = True) -> None:
    ids, names, births = personal_data(raw)
    assert ids and (names and births or not with_names)
    texts = {**texts_of(processed), "stdout+stderr": log}
    assert any("rejects" in n for n in texts) and any("cache" in n for n in texts)
    assert any(n.endswith(".duckdb:participants") for n in texts)
    assert find(ids | names, texts) == {}
    if not births:
        births = {"01/01/1900"}  # nothing to look for (the OGPF variables carry an age)
    about_people = {n: t for n, t in texts.items()
                    if any(k in n for k in ("participants", "work_contracts", "outcomes",
                                            "operations", "tracking", "rejects", "warnings",
                                            "stdout"))}
    assert find(births, about_people) == {}
    leaks = {name: form for name, text in texts.items() for form in key_forms(key) if form in text}
    assert leaks == {}


def test_the_scan_finds_a_planted_leak():
    """The scanner itself: a raw id, a name, a birth date and the key are all found."""
    texts = {"a.parquet": "x,P93-000101,y", "b": "Anatolie Quesnoy-Brindille", "c": "2000-05-12",
             "d": "P93-0001012", "e": TEST_KEY.encode().hex()}
    assert set(find({"P93-000101", "Anatolie Quesnoy-Brindille", "2000-05-12"}, texts)) == \
        {"a.parquet", "b", "c"}
    assert [n for n, t in texts.items() if any(f in t for f in key_forms(TEST_KEY))] == ["e"]


def test_generated_data_set_with_a_secret_key_from_the_environment(session_dir, tmp_path):
    raw = generated_raw(session_dir)
    key = TEST_KEY + "-env"
    log = build(raw, tmp_path / "processed", {"OBSERVATOIRE_PSEUDO_KEY": key})
    assert "suivi" in log or "tracking" in log
    scan(tmp_path / "processed", log, raw, key)


def test_corpus_with_defects_and_a_key_file(tmp_path):
    """Participants reach the quarantine (orphan contracts, duplicated ids with other values,
    unknown values, an improbable entry date): still no raw id, name, birth date or key."""
    raw = write_corpus(tmp_path / "raw")
    participants = [list(r) for r in CSV_FILES["tracking/93/participants.csv"]]
    participants.append(["P93-000101", "Quesnoy-Brindille", "Anatolie", "12/05/2000", "Femme?",
                         "Niveau ?", "93999", "Peut-être", "Inconnu", "Voisin", "?", "01/01/2099"])
    participants.append(["P93-000999", "Zerbinette-Aubrac", "Odalric", "29/02/1984", "H",
                         "Niveau V", "93066", "Non", "Allocataire du RSA", "PLIE", "Non",
                         "01/01/2023"])
    contracts = [list(r) for r in CSV_FILES["tracking/93/contrats.csv"]]
    contracts.append(["P93-000777", "OP-1", "Bâtisseurs SA", "55204599900869",
                      "Entreprise attributaire", "CDD", "01/03/2022", "31/05/2022", "10", "F1703",
                      "Maçon"])
    contracts.append(["P93-000999", "OP-9", "Bâtisseurs SA", "55204599900869",
                      "Entreprise attributaire", "CDD", "01/03/2022", "31/05/2022", "-3", "F1703",
                      "Maçon"])
    outcomes = [list(r) for r in CSV_FILES["tracking/93/sorties.csv"]]
    outcomes.append(["P93-000888", "30/09/2022", "Sortie positive", "", "30/06/2026"])
    folder = raw / "tracking" / "93"
    (folder / "participants.csv").write_bytes(csv_bytes(participants, encoding="cp1252"))
    (folder / "contrats.csv").write_bytes(csv_bytes(contracts, ","))
    (folder / "sorties.csv").write_bytes(csv_bytes(outcomes))
    key = TEST_KEY + "-fichier"
    key_file = tmp_path / "secret" / "pseudonymisation.key"
    key_file.parent.mkdir()
    key_file.write_text(key + "\n", encoding="utf-8")
    processed = tmp_path / "processed"
    log = build(raw, processed, {"OBSERVATOIRE_PSEUDO_KEY_FILE": str(key_file)})
    rejects = pd.read_parquet(processed / "warehouse" / "rejects" / "rejects.parquet")
    assert {"participant inconnu", "identifiant participant en double"} <= set(rejects["rule"])
    scan(processed, log, raw, key)
    # The key file is read, never copied: nothing under processed has its bytes.
    assert not [p for p in processed.rglob("*") if p.is_file()
                and key.encode() in p.read_bytes()]
    shutil.rmtree(processed)


@pytest.mark.parametrize("layout", ["flat", "ogpf"])
def test_every_tracking_shape_with_a_secret_key(tmp_path, layout):
    """The flat extraction (title lines, totals rows, workbooks by year, several coordinations in
    one folder, planted conflicts in the quarantine) and the OGPF variables: no raw id, name,
    birth date or key anywhere under processed or in what the build prints."""
    from datetime import date

    from analysis.reference import commune_table
    from analysis.synthetic import structures, tracking
    from test_synthetic_sources import fake_decp

    raw = tmp_path / "raw"  # the tracking exports alone, straight from their generator
    communes = commune_table()
    found, _ = structures.generate(tmp_path / "structures", 11, 0.02, communes)
    tracking.generate(raw, 11, 2021, 2022, 0.02, communes, found, fake_decp(2021, 2022),
                      date(2023, 6, 30), layout=layout)
    key = TEST_KEY + "-" + layout
    processed = tmp_path / "processed"
    log = build(raw, processed, {"OBSERVATOIRE_PSEUDO_KEY": key})
    rejects = pd.read_parquet(processed / "warehouse" / "rejects" / "rejects.parquet")
    assert "participant en conflit" in set(rejects["rule"])
    scan(processed, log, raw, key, with_names=layout == "flat")


def test_corpus_as_a_flat_extraction_with_a_conflict(tmp_path):
    """The corpus's people as one flat CSV with a participant whose rows disagree: the conflict
    is quarantined under a pseudonym, names and birth dates are nowhere."""
    raw = write_corpus(tmp_path / "raw")
    folder = raw / "tracking" / "93"
    for name in ("operations.csv", "participants.csv", "contrats.csv", "sorties.csv"):
        (folder / name).unlink()
    rows = flat_rows(extra=[{"Sexe": "H", "Date de naissance": "13/05/2000",
                             "Code opération": "OP-2"}])
    (folder / "export_93.csv").write_bytes(csv_bytes(rows, encoding="cp1252"))
    key = TEST_KEY + "-plat"
    processed = tmp_path / "processed"
    log = build(raw, processed, {"OBSERVATOIRE_PSEUDO_KEY": key})
    rejects = pd.read_parquet(processed / "warehouse" / "rejects" / "rejects.parquet")
    assert "participant en conflit" in set(rejects["rule"])
    assert "13/05/2000" not in " ".join(rejects["message"])
    scan(processed, log, raw, key)
