"""The national consolidated DECP table (decp-processing 2.x): one row per contract × state ×
supplier, latest state first, integer codes, « Sans objet ». Read right whatever the row order,
into the same tables the JSON reader gives."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.sources.base import SourceFileError
from analysis.sources.decp import read_decp_table

TODAY = date(2026, 6, 30)
BUYER = "21930066400014"          # valid SIRET
ZERO_BUYER = "01234567890128"     # valid SIRET with a leading zero (lost as an integer)
COMPANY = "55204599900869"
PARTNER = "44306184100047"

TYPES = {"uid": pa.string(), "id": pa.string(), "acheteur_id": pa.int64(),
         "acheteur_nom": pa.string(), "acheteur_categorie": pa.string(),
         "acheteur_departement_code": pa.string(), "acheteur_region_code": pa.string(),
         "titulaire_id": pa.int64(), "titulaire_typeIdentifiant": pa.string(),
         "titulaire_categorie": pa.string(), "objet": pa.string(), "montant": pa.float64(),
         "codeCPV": pa.string(), "procedure": pa.string(), "dureeMois": pa.int64(),
         "dateNotification": pa.date32(), "datePublicationDonnees": pa.date32(),
         "considerationsSociales": pa.string(), "considerationsEnvironnementales": pa.string(),
         "ccag": pa.string(), "lieuExecution_code": pa.int64(),
         "lieuExecution_typeCode": pa.string(), "modification_id": pa.int64(),
         "donneesActuelles": pa.bool_(), "sourceDataset": pa.string()}


def row(ident: str, state: int, notified: str, amount: float, supplier: str = COMPANY,
        buyer: str = BUYER, last: bool = True, **extra) -> dict:
    out = {"uid": f"{buyer}{ident}", "id": ident, "acheteur_id": int(buyer),
           "acheteur_nom": "Ville de Saint-Denis", "acheteur_categorie": "Commune",
           "acheteur_departement_code": "93", "acheteur_region_code": "11",
           "titulaire_id": int(supplier), "titulaire_typeIdentifiant": "SIRET",
           "titulaire_categorie": "PME", "objet": f"Travaux {ident}", "montant": amount,
           "codeCPV": "45000000", "procedure": "Procédure adaptée", "dureeMois": 12,
           "dateNotification": date.fromisoformat(notified),
           "datePublicationDonnees": date.fromisoformat(notified),
           "considerationsSociales": "Clause sociale", "considerationsEnvironnementales":
           "Sans objet", "ccag": "Travaux", "lieuExecution_code": 93066,
           "lieuExecution_typeCode": "Code commune", "modification_id": state,
           "donneesActuelles": last, "sourceDataset": "decp_aws"}
    out.update(extra)
    return out


def write(path: Path, rows: list[dict], types: dict | None = None) -> Path:
    types = {**TYPES, **(types or {})}
    columns = list(rows[0])
    table = pa.table({c: pa.array([r.get(c) for r in rows], type=types.get(c, pa.string()))
                      for c in columns})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


#: A contract notified in December 2018 and modified twice in 2019 (amount, then a second
#: supplier), written latest state first as decp-processing sorts it; a plain 2020 contract.
MODIFIED = [
    row("M1", 2, "2019-09-01", 150_000, dureeMois=24),
    row("M1", 2, "2019-09-01", 150_000, supplier=PARTNER, titulaire_categorie="ETI",
        dureeMois=24),
    row("M1", 1, "2019-03-01", 150_000, last=False),
    row("M1", 0, "2018-12-20", 100_000, last=False),
    row("P2", 0, "2020-05-05", 8_000, considerationsSociales="Sans objet"),
]


def by_id(parsed) -> dict:
    return {r["id"]: r for r in parsed.contracts}


def test_year_and_date_come_from_the_notification_not_the_latest_modification(tmp_path):
    parsed = read_decp_table(write(tmp_path / "decp.parquet", MODIFIED), today=TODAY)
    m1 = by_id(parsed)["M1"]
    assert m1["annee"] == 2018 and m1["dateNotification"] == date(2018, 12, 20)
    assert (m1["montant_initial"], m1["montant"]) == (100_000, 150_000)
    assert (m1["dureeMois_initial"], m1["dureeMois"]) == (12, 24)
    assert m1["n_modifications"] == 2 and m1["n_titulaires"] == 2
    mods = [m for m in parsed.modifications if m["uid"] == m1["uid"]]
    assert [m["modification_id"] for m in mods] == ["1", "2"]
    assert [m["dateNotificationModification"] for m in mods] == [date(2019, 3, 1),
                                                                 date(2019, 9, 1)]
    assert [m["montant"] for m in mods] == [150_000, None]  # the second one left it unchanged
    assert {s["titulaire_id"] for s in parsed.suppliers if s["uid"] == m1["uid"]} == \
        {COMPANY, PARTNER}
    assert parsed.read == 5 and parsed.merged == 3 and not parsed.quarantine.rejects
    assert m1["source_record"] == "ligne 2 (et 3, 4, 5)"


def test_the_row_order_does_not_matter(tmp_path):
    reference = read_decp_table(write(tmp_path / "a.parquet", MODIFIED), today=TODAY)
    rows = list(reversed(MODIFIED))  # earliest state first
    shuffled = read_decp_table(write(tmp_path / "b.parquet", rows), today=TODAY)
    random.Random(3).shuffle(rows)
    assert by_id(read_decp_table(write(tmp_path / "c.parquet", rows), today=TODAY))["M1"] \
        ["dateNotification"] == date(2018, 12, 20)
    drop = ("source_record", "source_file")
    clean = lambda rs: sorted(({k: v for k, v in r.items() if k not in drop} for r in rs),  # noqa: E731
                              key=lambda r: (r["uid"], str(r.get("modification_id"))))
    assert clean(shuffled.contracts) == clean(reference.contracts)
    assert clean(shuffled.modifications) == clean(reference.modifications)


def test_without_modification_id_the_earliest_date_is_the_notification(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("modification_id", "donneesActuelles")}
            for r in MODIFIED]
    m1 = by_id(read_decp_table(write(tmp_path / "decp.parquet", rows), today=TODAY))["M1"]
    assert m1["annee"] == 2018 and m1["montant"] == 150_000 and m1["n_modifications"] == 2


def test_integer_codes_get_their_zeros_back(tmp_path):
    rows = [row("Z1", 0, "2023-01-10", 5_000, buyer=ZERO_BUYER, lieuExecution_code=1053),
            row("Z2", 0, "2023-01-11", 5_000, buyer=ZERO_BUYER, lieuExecution_code=1000,
                lieuExecution_typeCode="Code postal"),
            row("Z3", 0, "2023-01-12", 5_000, buyer=ZERO_BUYER, lieuExecution_code=1,
                lieuExecution_typeCode="Code département", acheteur_departement_code="1"),
            row("Z4", 0, "2023-01-13", 5_000, buyer=ZERO_BUYER, lieuExecution_code=97411,
                lieuExecution_typeCode="Code commune")]
    rows = by_id(read_decp_table(write(tmp_path / "decp.parquet", rows), today=TODAY))
    assert {r["acheteur_id"] for r in rows.values()} == {ZERO_BUYER}
    assert rows["Z1"]["uid"] == f"{ZERO_BUYER}_Z1"
    assert (rows["Z1"]["lieuExecution_code"], rows["Z1"]["departement_execution"]) == ("01053", "01")
    assert (rows["Z2"]["lieuExecution_code"], rows["Z2"]["departement_execution"]) == ("01000", "01")
    assert (rows["Z3"]["lieuExecution_code"], rows["Z3"]["departement_execution"]) == ("01", "01")
    assert rows["Z3"]["acheteur_departement"] == "01"
    assert rows["Z4"]["departement_execution"] == "974"


def test_corsica_and_text_codes_in_a_csv(tmp_path):
    path = tmp_path / "decp.csv"
    path.write_text(
        "uid,id,acheteur_id,dateNotification,modification_id,lieuExecution_code,"
        "lieuExecution_typeCode,considerationsSociales,titulaire_id,titulaire_typeIdentifiant\n"
        f"{BUYER}C1,C1,{BUYER},2023-02-01,0,2A004,Code commune,,{COMPANY},SIRET\n"
        f"{BUYER}C2,C2,{BUYER},2023-02-02,0,20000,Code postal,Sans objet,{COMPANY},SIRET\n",
        encoding="utf-8")
    rows = by_id(read_decp_table(path, today=TODAY))
    assert rows["C1"]["departement_execution"] == "2A"
    assert rows["C1"]["has_social_consideration"] is None   # empty: unknown
    assert rows["C2"]["departement_execution"] == "2A"
    assert rows["C2"]["has_social_consideration"] is False  # « Sans objet »: none


def test_the_columns_the_json_has_not_are_kept(tmp_path):
    rows = by_id(read_decp_table(write(tmp_path / "decp.parquet", MODIFIED), today=TODAY))
    m1 = rows["M1"]
    assert (m1["acheteur_categorie"], m1["acheteur_departement"], m1["acheteur_region"]) == \
        ("Commune", "93", "11")
    assert m1["titulaire_categorie"] == "ETI, PME" and m1["sourceDataset"] == "decp_aws"
    assert rows["P2"]["has_social_consideration"] is False


def test_bad_rows_are_quarantined_with_their_rule(tmp_path):
    rows = [*MODIFIED,
            # one uid, two buyers
            row("B1", 0, "2022-01-01", 1_000), row("B1", 0, "2022-01-01", 1_000,
                                                    buyer="21750001600019", uid=f"{BUYER}B1"),
            # state 0 given twice with different amounts
            row("D1", 0, "2022-02-01", 1_000), row("D1", 0, "2022-02-01", 2_000,
                                                    supplier=PARTNER),
            # the same row twice: merged, reported
            row("R1", 0, "2022-03-01", 1_000), row("R1", 0, "2022-03-01", 1_000)]
    parsed = read_decp_table(write(tmp_path / "decp.parquet", rows), today=TODAY)
    rules = {r.rule: r for r in parsed.quarantine.rejects}
    assert set(rules) == {"uid : acheteurs différents", "modification_id en double"}
    assert rules["uid : acheteurs différents"].record == "ligne 7 (et 8)"
    assert "21750001600019" in rules["uid : acheteurs différents"].message
    assert "lignes 9 et 10" in rules["modification_id en double"].message
    duplicate = [w for w in parsed.quarantine.warnings if w.rule == "ligne en double"]
    assert [w.record for w in duplicate] == ["ligne 11 (et 12)"]
    assert "ligne 12" in duplicate[0].message
    kept = len(parsed.contracts)
    assert kept == 3
    assert parsed.read == kept + len(parsed.quarantine.rejects) + parsed.merged


def test_an_unreadable_modification_id_is_quarantined(tmp_path):
    rows = [dict(r, modification_id=str(r["modification_id"])) for r in MODIFIED]
    rows[2]["modification_id"] = "un"
    parsed = read_decp_table(write(tmp_path / "decp.parquet", rows,
                                   {"modification_id": pa.string()}), today=TODAY)
    assert [r.rule for r in parsed.quarantine.rejects] == ["modification_id illisible"]
    assert "ligne 4 : modification_id 'un'" in parsed.quarantine.rejects[0].message
    assert set(by_id(parsed)) == {"P2"}


def test_file_level_faults_name_the_file(tmp_path):
    path = write(tmp_path / "decp.parquet", MODIFIED)
    data = path.read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFileError, match=r"cut\.parquet: Parquet illisible"):
        read_decp_table(tmp_path / "cut.parquet")
    rows = [{k: v for k, v in r.items() if k != "dateNotification"} for r in MODIFIED]
    with pytest.raises(SourceFileError, match=r"sans_date\.parquet: pas un export DECP tabulaire "
                                              r": colonne\(s\) absente\(s\) dateNotification"):
        read_decp_table(write(tmp_path / "sans_date.parquet", rows))


def test_frames_as_the_build_reads_them(tmp_path):
    parsed = read_decp_table(write(tmp_path / "decp.parquet", MODIFIED), today=TODAY,
                             chunk_size=1000)
    contracts = pd.concat(parsed.frames["contracts"])
    assert parsed.produced == len(contracts) == 2
    assert contracts["annee"].dtype == "Int64"
    assert str(contracts["dateNotification"].dtype) == "datetime64[ms]"
    assert contracts.set_index("id").loc["M1", "annee"] == 2018


def _yearly(contracts: pd.DataFrame) -> pd.DataFrame:
    social = contracts["has_social_consideration"]
    by = contracts["annee"]
    return pd.DataFrame({"marches": by.value_counts().sort_index(),
                         "avec": social.eq(True).groupby(by).sum(),
                         "sans": social.eq(False).groupby(by).sum(),
                         "inconnu": social.isna().groupby(by).sum()})


def test_the_generated_tabular_layout_gives_the_json_figures(tmp_path):
    """The generator's consolidated table, read and built, gives the same yearly counts and
    shares as the same contracts written as JSON files."""
    from analysis.synthetic import decp as synthetic
    from analysis.warehouse import build

    yearly = {}
    for layout in ("buyers", "tabular", "tabular-csv"):
        raw = tmp_path / layout
        synthetic.generate(raw, seed=5, first_year=2018, last_year=2025, scale=0.03,
                           layout=layout)
        if layout == "tabular":
            files = list((raw / "decp").iterdir())
            assert [f.name for f in files] == ["decp_consolide.parquet"]
            table = pq.read_table(files[0]).to_pandas()
            assert table["acheteur_id"].dtype == "int64"
            assert table["modification_id"].max() >= 1
            assert table.groupby("uid")["titulaire_id"].nunique().max() >= 2
            assert (table["considerationsSociales"] == "Sans objet").any()
            # decp-processing's order: by uid, then the latest state first
            again = table.sort_values(["uid", "dateNotification"], ascending=[True, False],
                                      kind="stable", na_position="last")
            assert (again.index == table.index).all()
        summary = build(raw=raw, processed=tmp_path / f"p-{layout}", today=TODAY,
                        use_cache=False)
        yearly[layout] = _yearly(pd.read_parquet(summary.path / "contracts.parquet"))
    pd.testing.assert_frame_equal(yearly["tabular"], yearly["buyers"])
    pd.testing.assert_frame_equal(yearly["tabular-csv"], yearly["buyers"])
    shares = yearly["tabular"]["avec"] / (yearly["tabular"]["avec"] + yearly["tabular"]["sans"])
    assert shares.between(0.05, 0.5).all()


def test_without_a_directory_the_buyers_come_from_the_table(tmp_path):
    from analysis.warehouse import build

    raw = tmp_path / "raw"
    write(raw / "decp" / "decp.parquet", MODIFIED)
    summary = build(raw=raw, processed=tmp_path / "p", today=TODAY, use_cache=False)
    buyers = pd.read_parquet(summary.path / "buyers.parquet")
    assert buyers.to_dict("records") == [{"acheteur_id": BUYER,
                                          "acheteur_nom": "Ville de Saint-Denis",
                                          "acheteur_categorie": "Commune",
                                          "acheteur_departement": "93"}]
    contracts = pd.read_parquet(summary.path / "contracts.parquet")
    assert set(contracts["acheteur_categorie"]) == {"Commune"}
    # Rebuilding another source keeps the table's own buyer columns, and the derived table.
    summary = build(raw=raw, processed=tmp_path / "p", today=TODAY, only="acheteurs")
    contracts = pd.read_parquet(summary.path / "contracts.parquet")
    assert set(contracts["acheteur_categorie"]) == {"Commune"}
    assert len(pd.read_parquet(summary.path / "buyers.parquet")) == 1
    # A directory decides for the buyers it lists.
    (raw / "acheteurs").mkdir()
    (raw / "acheteurs" / "acheteurs.csv").write_text(
        f"SIRET;Nom;Catégorie;Département\n{BUYER};Saint-Denis;Commune (annuaire);93\n",
        encoding="utf-8")
    summary = build(raw=raw, processed=tmp_path / "p", today=TODAY, use_cache=False)
    contracts = pd.read_parquet(summary.path / "contracts.parquet")
    assert set(contracts["acheteur_categorie"]) == {"Commune (annuaire)"}
    assert list(pd.read_parquet(summary.path / "buyers.parquet")["acheteur_nom"]) == \
        ["Saint-Denis"]


def _streamable(seed: int) -> list[dict]:
    """Contracts of one to five rows, with every kind of fault, in decp-processing's order."""
    rng = random.Random(seed)
    rows = []
    for k in range(40):
        ident = f"S{k:02d}"
        pick = k % 8
        if pick == 0:
            rows += [row(ident, 0, "2021-01-01", 1_000), row(
                ident, 0, "2021-01-01", 1_000, buyer="21750001600019", uid=f"{BUYER}{ident}")]
        elif pick == 1:
            rows += [row(ident, 0, "2021-02-01", 1_000), row(ident, 0, "2021-02-01", 2_000,
                                                             supplier=PARTNER)]
        elif pick == 2:
            rows += [row(ident, 0, "2021-03-01", 1_000)] * 2
        else:
            states = rng.randint(0, 2)
            rows += [row(ident, s, f"20{19 + s}-0{1 + rng.randint(0, 8)}-10",
                         1_000 * (s + 1), supplier=rng.choice([COMPANY, PARTNER]),
                         last=s == states) for s in range(states, -1, -1)]
    return rows


def _summary(parsed) -> tuple:
    entries = [(e.rule, e.record, e.message) for e in
               parsed.quarantine.rejects + parsed.quarantine.warnings]
    return (sorted(map(repr, parsed.contracts)), sorted(map(repr, parsed.suppliers)),
            sorted(map(repr, parsed.modifications)), entries, parsed.read, parsed.merged)


@pytest.mark.parametrize("shuffled", [False, True])
def test_a_large_parquet_file_is_folded_in_parts(tmp_path, shuffled):
    """Read in parts of a few rows (contracts spanning row groups and parts, in order or not),
    the table gives the same records, rows, quarantine and accounting as read whole."""
    rows = _streamable(3)
    if shuffled:
        random.Random(4).shuffle(rows)
    path = tmp_path / "decp.parquet"
    write(path, rows)
    pq.write_table(pq.read_table(path), path, row_group_size=7)
    whole = read_decp_table(path, today=TODAY)
    parts = read_decp_table(path, today=TODAY, part_rows=10)
    assert parts.read == len(rows) and whole.quarantine.rejects
    a, b = _summary(whole), _summary(parts)
    if shuffled:  # parts by contract number: the same entries, in another order
        a, b = (x[:3] + (sorted(x[3]),) + x[4:] for x in (a, b))
    assert a == b
