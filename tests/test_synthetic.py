"""The synthetic DECP publications: deterministic, calibrated, defects at their stated counts,
and read back by the project's reader with accounting that reconciles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.identifiers import luhn_valid, siret_valid
from analysis.synthetic import decp as synthetic_decp
from analysis.synthetic import generate
from analysis.synthetic.ids import invalid_siret, siret
from analysis.warehouse import build, load_table
from conftest import TODAY


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest(raw: Path) -> dict:
    return json.loads((raw / "manifest.json").read_text())["sources"]["decp"]


def test_same_seed_same_bytes(tmp_path):
    generate(tmp_path / "a", seed=11, first_year=2021, last_year=2022, scale=0.05)
    generate(tmp_path / "b", seed=11, first_year=2021, last_year=2022, scale=0.05)
    generate(tmp_path / "c", seed=12, first_year=2021, last_year=2022, scale=0.05)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_generation_replaces_the_folder_whole(tmp_path):
    out = tmp_path / "set"
    generate(out, seed=1, first_year=2024, last_year=2025, scale=0.02)
    (out / "decp" / "stale.json").write_text("{}")
    generate(out, seed=1, first_year=2024, last_year=2025, scale=0.02)
    assert not (out / "decp" / "stale.json").exists()
    assert not list(tmp_path.glob(".set.*"))


def test_sirets_pass_and_fail_the_checks():
    rng = np.random.default_rng(3)
    good = [siret(rng) for _ in range(300)]
    assert all(siret_valid(n) and luhn_valid(n[:9]) for n in good)
    bad = [invalid_siret(rng) for _ in range(300)]
    assert not any(siret_valid(n) for n in bad)
    assert siret_valid("35600000000047")  # La Poste: digit sum multiple of 5, Luhn fails
    assert not luhn_valid("35600000000047") and not siret_valid("35600000000048")


def test_buyers_cover_every_type_and_departement():
    buyers = synthetic_decp.buyers(np.random.default_rng(0))
    assert {b.kind for b in buyers} == set(synthetic_decp.BUYER_TYPES)
    for dep in ("75", "77", "78", "91", "92", "93", "94", "95"):
        assert len([b for b in buyers if b.departement == dep]) >= 5
    assert len({b.siret for b in buyers}) == len(buyers)


def test_reader_reconciles_with_the_manifest(small_raw, small_warehouse):
    m = manifest(small_raw)
    expected = m["reader_expectations"]
    acc = small_warehouse.accounting
    totals = acc.loc[acc["source"] == "decp", ["read", "kept", "rejected", "merged"]].sum()
    assert totals["read"] == m["counts"]["records_published"]
    assert totals["rejected"] == expected["rejected"]
    assert totals["merged"] == expected["merged_duplicates"]
    assert totals["kept"] == expected["kept_contracts"]
    assert small_warehouse.tables["contracts"] == expected["kept_contracts"]
    warnings = pd.read_parquet(small_warehouse.path / "rejects" / "warnings.parquet")
    observed = warnings.loc[warnings["source"] == "decp", "rule"].value_counts().to_dict()
    for rule, count in expected["warnings_by_rule"].items():
        assert observed.get(rule, 0) == count, rule
    contracts = load_table("contracts")
    assert int(contracts["has_social_consideration"].isna().sum()) == expected["unknown_social_status"]
    rejects = small_warehouse.rejects.query("source == 'decp'")["rule"].value_counts().to_dict()
    assert rejects.get("dateNotification invalide", 0) == m["counts"]["missing_date"]
    assert rejects.get("dateNotification dans le futur", 0) == m["counts"]["future_date"]


def test_defects_occur_at_their_stated_rates(small_raw):
    m = manifest(small_raw)
    n = m["counts"]["contracts"]
    last_year = str(m["years"][1])
    for defect, rate in synthetic_decp.DEFECTS.items():
        count = m["counts"][defect]
        # A contract of the last year has no later file to be republished in.
        n = m["counts"]["contracts"] - (m["generated"][last_year]["contracts"]
                                        if defect == "republication" else 0)
        # binomial count: within 4 standard deviations (plus one for tiny expectations)
        sd = (n * rate * (1 - rate)) ** 0.5
        assert abs(count - n * rate) <= 4 * sd + 1, (defect, count, n * rate)


def test_planted_model_is_documented(small_raw):
    model = manifest(small_raw)["model"]
    assert set(model["buyer_type_effects"]) == set(synthetic_decp.BUYER_TYPES)
    assert set(model["departement_effects"]) == {"75", "77", "78", "91", "92", "93", "94", "95"}
    assert set(model["year_level_logit"]) == {str(y) for y in range(2019, 2026)}
    assert model["target_share"]["2022"] == 0.223 and "Le Moniteur" in model["target_source"]["2022"]


@pytest.mark.slow
def test_calibration_on_the_national_shape(tmp_path):
    """At scale 1 the yearly share matches the published national figures (tolerance ±1 pt)."""
    from analysis.indicators.progression import share_by_year

    raw = tmp_path / "raw"
    generate(raw, seed=5, first_year=2019, last_year=2023, scale=1.0)
    build(raw=raw, processed=tmp_path / "p", today=TODAY)
    table = share_by_year(load_table("contracts", tmp_path / "p"), 2019, 2023).set_index("annee")
    for year, published in {2019: 0.125, 2020: 0.121, 2021: 0.125, 2022: 0.223, 2023: 0.187}.items():
        assert abs(table.loc[year, "part"] - published) < 0.01, year
    assert table.loc[2022, "ic_bas"] > table.loc[2021, "ic_haut"]
    assert 12_000 < table.loc[2021, "contrats"] < 20_000  # about Île-de-France volume


def test_every_tracking_defect_reaches_its_rule(small_raw, small_warehouse):
    """Each planted defect is found by the readers at exactly the count the manifest states."""
    m = json.loads((small_raw / "manifest.json").read_text())["sources"]["tracking"]
    defects = {name: d["count"] for name, d in m["defects"].items()}
    rejects = small_warehouse.rejects.query("source == 'tracking'")["rule"].value_counts()
    warnings = pd.read_parquet(small_warehouse.path / "rejects" / "warnings.parquet")
    warned = warnings.query("source == 'tracking'")["rule"].value_counts()
    assert rejects.get("participant inconnu", 0) == defects["orphan_contract"]
    assert rejects.get("heures réalisées invalides", 0) == defects["negative_hours"]
    assert rejects.get("fin de contrat avant le début", 0) == defects["end_before_start"]
    assert warned.get("niveau de diplôme : valeur inconnue", 0) == defects["unknown_diploma"]
    assert warned.get("commune de résidence inconnue", 0) == defects["invalid_commune"]
    assert warned.get("heures réalisées incohérentes", 0) == \
        m["defects"]["operation_hours_mismatch"]["flagged_after_setting_invalid_contracts_aside"]["count"]
    acc = small_warehouse.accounting.query("source == 'tracking'")
    assert (acc["read"] == acc["kept"] + acc["rejected"] + acc["merged"]).all()
    assert int(acc["merged"].sum()) == defects["duplicate_participant"]
    assert small_warehouse.tables["participants"] == m["counts"]["participants"]
    assert small_warehouse.tables["work_contracts"] == m["counts"]["contracts"] - (
        defects["orphan_contract"] + defects["negative_hours"] + defects["end_before_start"])


def test_other_sources_are_read_whole(small_raw, small_warehouse):
    manifest_ = json.loads((small_raw / "manifest.json").read_text())["sources"]
    assert small_warehouse.tables["grand_paris"] == manifest_["grand_paris"]["counts"]["contracts"]
    assert small_warehouse.tables["structures"] == sum(
        manifest_["structures"]["counts_by_type"].values())
    contracts = load_table("contracts")
    assert contracts["acheteur_categorie"].notna().all()  # every buyer is in the directory


def test_no_participant_identifier_or_name_reaches_the_warehouse(small_raw, small_warehouse):
    """Raw ids, full names and birth dates of the tracking exports appear nowhere under
    data/processed: not in the tables, the quarantine, the cache, the manifest or DuckDB.

    (Surnames alone do appear: employers are companies named after their founders; and dates of
    birth are looked for in the tables about people only, other tables hold unrelated dates.)
    """
    import re

    import duckdb

    from analysis.sources.tabular import read_csv, read_xlsx

    ids: set[str] = set()
    names: set[str] = set()
    birth_dates: set[str] = set()
    people, others = [], []
    for folder in sorted((small_raw / "tracking").iterdir()):
        if (folder / "participants.csv").is_file():
            people.append(read_csv(folder / "participants.csv")[0])
            others += [read_csv(folder / name)[0] for name in ("contrats.csv", "sorties.csv")]
        else:
            book = read_xlsx(next(folder.glob("*.xlsx")))
            people.append(book["Participants"].astype(str))
            others += [book["Contrats"].astype(str), book["Sorties"].astype(str)]
    for frame in others:  # ids also stand in the other sheets (orphans: only there)
        ids |= set(frame["Identifiant participant"].astype(str))
    for frame in people:
        ids |= set(frame["Identifiant participant"].astype(str))
        names |= set(frame["Prénom"] + " " + frame["Nom"]) | set(frame["Nom"] + " " + frame["Prénom"])
        born = pd.to_datetime(frame["Date de naissance"].str.slice(0, 10), format="mixed",
                              dayfirst=True, errors="coerce")
        birth_dates |= set(born.dropna().dt.strftime("%Y-%m-%d"))
    assert len(ids) > 1000 and len(names) > 1000
    pattern = re.compile("|".join(re.escape(s) for s in sorted(ids | names, key=len, reverse=True)))

    processed = small_warehouse.path.resolve().parent.parent
    texts = {}
    for path in processed.rglob("*"):
        if path.suffix == ".parquet":
            texts[str(path)] = pd.read_parquet(path).astype(str).to_csv()
        elif path.suffix == ".json":
            texts[str(path)] = path.read_text(encoding="utf-8")
    con = duckdb.connect(str(small_warehouse.path / "observatoire.duckdb"), read_only=True)
    try:
        for (table,) in con.execute("show tables").fetchall():
            texts[f"duckdb:{table}"] = con.execute(f'select * from "{table}"').df().astype(str).to_csv()
    finally:
        con.close()
    assert any("rejects" in name for name in texts) and any("cache" in name for name in texts)
    leaks = {name: pattern.search(text).group(0) for name, text in texts.items() if pattern.search(text)}
    assert leaks == {}
    about_people = [t for n, t in texts.items()
                    if any(k in n for k in ("participants", "work_contracts", "outcomes", "rejects"))]
    assert [d for d in birth_dates if any(d in t for t in about_people)] == []
