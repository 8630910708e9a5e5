"""The DECP v2 JSON reader on the official examples and on hand-written cases of every shape."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.sources import decp
from analysis.sources.base import SourceFileError
from conftest import DECP_EXAMPLES, FIXTURES, SHARED, TODAY


def read(name: str) -> decp.DecpFile:
    return decp.read_decp_json(FIXTURES / "decp" / name, today=TODAY)


def by_id(parsed: decp.DecpFile) -> dict[str, dict]:
    return {row["id"]: row for row in parsed.contracts}


# --- Official examples -----------------------------------------------------------------------------

def test_vendored_examples_match_shared():
    shared = SHARED / "decp" / "examples"
    if not shared.is_dir():
        pytest.skip("../shared absent: nothing to compare the vendored copy with")
    names = sorted(p.name for p in shared.glob("*.json"))
    assert names == sorted(p.name for p in DECP_EXAMPLES.glob("*.json"))
    for name in names:
        assert (shared / name).read_bytes() == (DECP_EXAMPLES / name).read_bytes(), name


@pytest.mark.parametrize("name, marches, concessions", [
    ("marches_concessions.json", 2, 2),
    ("marches_avec_modifications.json", 2, 0),
    ("concessions.json", 0, 2),
    ("concessions_avec_modifications.json", 0, 2),
])
def test_official_examples_are_read_whole(name, marches, concessions):
    parsed = decp.read_decp_json(DECP_EXAMPLES / name, today=TODAY)
    assert len(parsed.contracts) == marches
    assert len(parsed.concessions) == concessions
    assert parsed.read == marches + concessions
    assert parsed.quarantine.rejects == []


def test_official_example_flags_and_modifications():
    parsed = decp.read_decp_json(DECP_EXAMPLES / "marches_avec_modifications.json", today=TODAY)
    row = by_id(parsed)["TEST2022"]
    assert row["uid"] == "21750001630066_TEST2022"
    assert row["clause_sociale"] is True and row["critere_social"] is True
    assert row["marche_reserve"] is False and row["has_social_consideration"] is True
    assert row["clause_environnementale"] is True
    # The modification is applied: amount, duration and suppliers; the initial values are kept.
    assert row["montant"] == pytest.approx(123457.87)
    assert row["montant_initial"] == pytest.approx(575000)
    assert row["dureeMois"] == 12 and row["dureeMois_initial"] == 48
    assert row["n_modifications"] == 1
    suppliers = [s["titulaire_id"] for s in parsed.suppliers if s["uid"] == row["uid"]]
    assert suppliers == ["868768687576575"]
    assert row["departement_execution"] == "75" and row["region_execution"] == "11"


def test_official_concession_kept_apart_with_reserved_value():
    parsed = decp.read_decp_json(DECP_EXAMPLES / "concessions_avec_modifications.json", today=TODAY)
    first = parsed.concessions[0]
    assert first["valeurGlobale"] == pytest.approx(25.0)  # modification applied
    assert first["dureeMois"] == 14
    assert first["has_social_consideration"] is True
    assert first["n_concessionnaires"] == 2


# --- Hand-written shapes ---------------------------------------------------------------------------

def test_nested_shape_values_and_text_numbers():
    rows = by_id(read("nested_marche.json"))
    n1, n2, n3 = rows["N1"], rows["N2"], rows["N3"]
    assert n1["montant"] == pytest.approx(12345.60)  # "12 345,60"
    assert n1["dureeMois"] == 12  # "12"
    assert n1["considerationsSociales"] == "Clause sociale, Critère social"
    assert n1["departement_execution"] == "93" and n1["cpv_division"] == "45"
    assert n2["has_social_consideration"] is False and n2["clause_sociale"] is False
    assert n2["departement_execution"] == "93"  # postal code 93200
    assert n3["marche_reserve"] is True and n3["has_social_consideration"] is True
    assert n3["departement_execution"] is None and n3["region_execution"] == "11"


def test_nested_shape_rejects_with_reasons():
    parsed = read("nested_marche.json")
    assert parsed.read == 6
    assert len(parsed.contracts) == 3
    rules = sorted(r.rule for r in parsed.quarantine.rejects)
    assert rules == ["dateNotification dans le futur", "dateNotification invalide",
                     "id obligatoire"]
    for reject in parsed.quarantine.rejects:
        assert reject.file.endswith("nested_marche.json")
        assert reject.record.startswith("marche[")
        assert reject.message


def test_flat_shape_plain_list_mixed_with_concession():
    parsed = read("flat_list.json")
    rows = by_id(parsed)
    assert parsed.read == 8
    assert set(rows) == {"F1", "F2", "F3", "F4", "F5", "F6"}
    assert [c["id"] for c in parsed.concessions] == ["C1"]
    assert parsed.concessions[0]["considerationsSociales"] == "Concession réservée"
    assert [r.rule for r in parsed.quarantine.rejects] == ["enregistrement"]
    assert parsed.read == len(parsed.contracts) + len(parsed.concessions) + len(
        parsed.quarantine.rejects)

    assert rows["F1"]["clause_sociale"] is True and rows["F1"]["departement_execution"] == "75"
    # An empty list and a missing key say nothing: unknown, never "without".
    assert rows["F2"]["has_social_consideration"] is None
    assert rows["F3"]["has_social_consideration"] is None
    # "Sans objet" (tabular exports) means none.
    assert rows["F4"]["has_social_consideration"] is False
    assert rows["F4"]["departement_execution"] == "69" and rows["F4"]["region_execution"] is None
    # Multi-values joined with ", " are split.
    assert rows["F5"]["clause_sociale"] is True and rows["F5"]["critere_social"] is True
    # An unrecognised value: kept, status unknown, and reported.
    assert rows["F6"]["has_social_consideration"] is None
    assert [w.rule for w in parsed.quarantine.warnings] == [
        "considerationsSociales : valeur inconnue"]


@pytest.mark.parametrize("value, expected", [
    ({"considerationSociale": ["Clause sociale"]}, ["Clause sociale"]),
    (["Critère social"], ["Critère social"]),
    ("Marché réservé", ["Marché réservé"]),
    (["CLAUSE  SOCIALE", "critere social"], ["Clause sociale", "Critère social"]),
    (["Pas de considération sociale", "Clause sociale"], ["Clause sociale"]),
])
def test_parse_considerations_shapes(value, expected):
    parsed = decp.parse_considerations(value, "considerationSociale", decp._SOCIAL_VALUES)
    assert parsed.values == expected and parsed.known


@pytest.mark.parametrize("code, kind, expected", [
    ("93066", "Code commune", ("93", "11")),
    ("75012", "Code postal", ("75", "11")),
    ("20000", "Code postal", ("2A", None)),
    ("97411", "Code commune", ("974", None)),
    ("2B033", "Code commune", ("2B", None)),
    ("1", "Code département", ("01", None)),
    ("11", "Code région", (None, "11")),
    ("FR", "Code pays", (None, None)),
    (None, None, (None, None)),
    ("7501", "Code postal", (None, None)),
])
def test_departement_from_place(code, kind, expected):
    assert decp.departement_from_place(code, kind) == expected


@pytest.mark.parametrize("name, fragment", [
    ("truncated.json", "JSON invalide"),
    ("not_utf8.json", "encodage invalide"),
    ("not_decp.json", "pas un fichier DECP"),
])
def test_unreadable_files_name_the_file_and_the_problem(name, fragment):
    with pytest.raises(SourceFileError) as caught:
        read(name)
    assert name in str(caught.value) and fragment in str(caught.value)


def test_empty_file(tmp_path):
    empty = tmp_path / "vide.json"
    empty.write_text("  \n")
    with pytest.raises(SourceFileError, match="vide.json: fichier vide"):
        decp.read_decp_json(empty)


def test_deduplicate_keeps_latest_publication():
    first = read("nested_marche.json")
    again = read("republication.json")
    frame = decp.contracts_frame(first.contracts + again.contracts)
    kept, merged = decp.deduplicate(frame)
    assert len(kept) == len(frame) - 1
    n1 = kept.loc[kept["id"] == "N1"].iloc[0]
    assert n1["montant"] == 15000 and n1["dureeMois"] == 18 and n1["n_modifications"] == 1
    assert merged.to_dict() == {first.path: 1}
    suppliers = decp.keep_children(
        decp.plain_frame(first.suppliers + again.suppliers, decp.SUPPLIER_COLUMNS), kept)
    assert suppliers.loc[suppliers["uid"] == n1["uid"], "titulaire_id"].tolist() == [
        "73282932000074"]


def test_contracts_frame_types():
    frame = decp.contracts_frame(read("flat_list.json").contracts)
    assert str(frame["has_social_consideration"].dtype) == "boolean"
    assert frame["has_social_consideration"].isna().sum() == 3
    assert pd.api.types.is_datetime64_any_dtype(frame["dateNotification"])
    assert list(frame.columns) == decp.CONTRACT_COLUMNS


# --- Streaming and the 2019 format -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nested_marche.json", "flat_list.json", "republication.json"])
def test_streaming_gives_the_same_rows_as_loading(name):
    loaded = read(name)
    streamed = decp.read_decp_json(FIXTURES / "decp" / name, today=TODAY, stream=True)
    assert streamed.read == loaded.read
    assert streamed.contracts == loaded.contracts
    assert streamed.concessions == loaded.concessions
    assert [vars(r) for r in streamed.quarantine.rejects] == [
        vars(r) for r in loaded.quarantine.rejects]


def test_streaming_official_examples_and_bom(tmp_path):
    for path in sorted(DECP_EXAMPLES.glob("*.json")):
        assert decp.read_decp_json(path, today=TODAY, stream=True).contracts == \
            decp.read_decp_json(path, today=TODAY).contracts
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "decp" / "flat_list.json").read_bytes())
    assert len(decp.read_decp_json(with_bom, today=TODAY, stream=True).contracts) == 6


@pytest.mark.parametrize("name, fragment", [
    ("truncated.json", "JSON invalide"),
    ("not_decp.json", "pas un fichier DECP"),
])
def test_streaming_bad_files_name_the_file(name, fragment):
    with pytest.raises(SourceFileError) as caught:
        decp.read_decp_json(FIXTURES / "decp" / name, today=TODAY, stream=True)
    assert name in str(caught.value) and fragment in str(caught.value)


def test_2019_format_is_unknown_never_none(tmp_path):
    record = {"_type": "Marché", "uid": "2135023880001920100345", "id": "20100345",
              "acheteur": {"id": "21350238800019", "nom": "Ville de Rennes"},
              "nature": "Accord-cadre", "objet": "Entretien des jardins", "codeCPV": "77313000",
              "procedure": "Procédure adaptée",
              "lieuExecution": {"code": "35238", "typeCode": "Code commune", "nom": "Rennes"},
              "dureeMois": 24, "dateNotification": "2019-08-13",
              "datePublicationDonnees": "2019-08-19", "montant": 127000, "formePrix": "Ferme",
              "titulaires": [{"typeIdentifiant": "SIRET", "id": "81223113200026",
                              "denominationSociale": "Garami SARL"}]}
    path = tmp_path / "decp_2019.json"
    path.write_text(json.dumps({"marches": [record]}), encoding="utf-8")
    row = decp.read_decp_json(path, today=TODAY).contracts[0]
    assert row["format"] == decp.FORMAT_2019
    assert row["has_social_consideration"] is None and row["clause_sociale"] is None
    assert row["departement_execution"] == "35"
    v2 = decp.read_decp_json(DECP_EXAMPLES / "marches_avec_modifications.json", today=TODAY)
    assert {r["format"] for r in v2.contracts} == {decp.FORMAT}


# --- Consolidated tabular DECP -------------------------------------------------------------------------

def test_tabular_rows_fold_into_contracts():
    from analysis.sources.decp import read_decp_table

    parsed = read_decp_table(FIXTURES / "decp" / "consolide.csv", today=TODAY)
    rows = by_id(parsed)
    assert parsed.read == 6 and parsed.merged == 2 and len(parsed.quarantine.rejects) == 1
    assert parsed.read == len(parsed.contracts) + len(parsed.quarantine.rejects) + parsed.merged
    assert set(rows) == {"T1", "T2", "T3"}
    assert rows["T1"]["n_titulaires"] == 2
    assert rows["T1"]["clause_sociale"] is True and rows["T1"]["critere_social"] is True
    assert rows["T2"]["has_social_consideration"] is False  # "Sans objet"
    assert rows["T3"]["has_social_consideration"] is None   # empty cell: unknown
    assert rows["T2"]["departement_execution"] == "93"
    assert parsed.quarantine.rejects[0].record == "ligne 6 (et 7)"


def test_tabular_parquet_and_the_warehouse_accounting(tmp_path):
    from analysis.sources.decp import read_decp_table
    from analysis.warehouse import build

    frame = pd.read_csv(FIXTURES / "decp" / "consolide.csv", dtype=str)
    frame.columns = [c.replace(".", "_") for c in frame.columns]
    frame["dateNotification"] = pd.to_datetime(frame["dateNotification"])
    raw = tmp_path / "raw" / "decp"
    raw.mkdir(parents=True)
    frame.to_parquet(raw / "consolide.parquet")
    parsed = read_decp_table(raw / "consolide.parquet", today=TODAY)
    assert {r["id"] for r in parsed.contracts} == {"T1", "T2", "T3"}
    summary = build(raw=tmp_path / "raw", processed=tmp_path / "p", today=TODAY)
    acc = summary.accounting.iloc[0]
    assert (acc["read"], acc["kept"], acc["rejected"], acc["merged"]) == (6, 3, 1, 2)


def test_tabular_without_identifiers_is_refused(tmp_path):
    from analysis.sources.decp import read_decp_table

    path = tmp_path / "autre.csv"
    path.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="autre.csv: pas un export DECP tabulaire"):
        read_decp_table(path)


def test_unknown_idf_commune_is_reported_not_dropped(tmp_path):
    path = tmp_path / "communes.json"
    records = [{"id": f"K{i}", "acheteur": {"id": "21930001200017"}, "dateNotification": "2023-01-01",
                "lieuExecution": {"code": code, "typeCode": "Code commune"},
                "considerationsSociales": ["Clause sociale"]}
               for i, code in enumerate(["93066", "93999", "69123"])]
    path.write_text(json.dumps({"marches": records}), encoding="utf-8")
    parsed = decp.read_decp_json(path, today=TODAY, communes={"93066"})
    assert len(parsed.contracts) == 3
    warned = [w for w in parsed.quarantine.warnings if w.rule == "lieuExecution : commune inconnue"]
    assert [w.record for w in warned] == ["marche[1]"]  # 69123 is outside the reference: not checked


def test_chunked_reading_gives_the_same_tables():
    whole = read("nested_marche.json")
    chunked = decp.read_decp_json(FIXTURES / "decp" / "nested_marche.json", today=TODAY, chunk_size=1)
    chunked.flush()
    assert len(chunked.frames["contracts"]) == 3 and chunked.contracts == []
    assert chunked.produced == len(whole.contracts) + len(whole.concessions)
    pd.testing.assert_frame_equal(pd.concat(chunked.frames["contracts"], ignore_index=True),
                                  decp.contracts_frame(whole.contracts))


def test_modification_with_zero_amount_is_ignored_and_reported(tmp_path):
    record = {"id": "M1", "acheteur": {"id": "21930001200017"}, "dateNotification": "2023-01-01",
              "montant": 1000, "dureeMois": 12, "considerationsSociales": ["Clause sociale"],
              "modifications": [{"modification": {"id": 1, "montant": 0, "dureeMois": -3}}]}
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"marches": [record]}), encoding="utf-8")
    parsed = decp.read_decp_json(path, today=TODAY)
    row = parsed.contracts[0]
    assert row["montant"] == 1000 and row["dureeMois"] == 12 and row["n_modifications"] == 1
    assert sorted(w.rule for w in parsed.quarantine.warnings if "SIRET" not in w.rule) == [
        "durée nulle ou négative", "montant nul ou négatif"]
