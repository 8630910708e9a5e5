"""The small seeded DECP set: deterministic, its defects at their stated counts, readable whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from analysis.synthetic import generate
from analysis.synthetic.ids import luhn_valid, siret
from analysis.warehouse import build
from conftest import TODAY

import numpy as np


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path):
    generate(tmp_path / "a", seed=11, first_year=2021, last_year=2022, scale=0.1)
    generate(tmp_path / "b", seed=11, first_year=2021, last_year=2022, scale=0.1)
    generate(tmp_path / "c", seed=12, first_year=2021, last_year=2022, scale=0.1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_sirets_pass_luhn():
    rng = np.random.default_rng(3)
    numbers = [siret(rng) for _ in range(200)]
    assert all(len(n) == 14 and luhn_valid(n) and luhn_valid(n[:9]) for n in numbers)
    assert luhn_valid("55204599900869") and not luhn_valid("55204599900868")


def test_generated_set_reconciles_with_the_reader(small_raw, small_warehouse):
    manifest = json.loads((small_raw / "decp_manifest.json").read_text())
    counts = manifest["counts"]
    acc = small_warehouse.accounting
    totals = acc[["read", "kept", "rejected", "merged"]].sum()
    # Every record generated (plus its republications) is read; each is kept, rejected or merged.
    assert totals["read"] == counts["contracts"] + counts["republication"]
    assert totals["rejected"] == counts["missing_date"]
    assert totals["merged"] == counts["republication"]
    assert totals["kept"] == counts["contracts"] - counts["missing_date"]
    assert small_warehouse.tables["modifications"] == counts["modification"]


def test_unknown_status_matches_the_planted_defect(small_raw, small_warehouse):
    from analysis.warehouse import load_table

    manifest = json.loads((small_raw / "decp_manifest.json").read_text())
    contracts = load_table("contracts")
    # Records without considerationsSociales are unknown (a few may also lack a date: rejected).
    unknown = int(contracts["has_social_consideration"].isna().sum())
    planted = manifest["counts"]["no_considerations_key"]
    assert planted - manifest["counts"]["missing_date"] <= unknown <= planted


def test_shares_rise_like_the_national_shape(tmp_path):
    raw = tmp_path / "raw"
    generate(raw, seed=5, first_year=2019, last_year=2023, scale=1.0)
    from analysis.indicators.progression import share_by_year
    from analysis.warehouse import load_table

    build(raw=raw, processed=tmp_path / "p", today=TODAY)
    table = share_by_year(load_table("contracts", tmp_path / "p"), 2019, 2023).set_index("annee")
    # The planted yearly levels: 2022 clearly above 2019, 2023 below 2022 (national shape).
    assert table.loc[2022, "ic_bas"] > table.loc[2019, "ic_haut"]
    assert table.loc[2023, "part"] < table.loc[2022, "part"]
