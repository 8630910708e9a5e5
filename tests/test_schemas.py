"""The schemas: a real build validates, targeted defects are caught with the right severity, and
the data dictionary is generated from the same schemas (and committed up to date)."""

from __future__ import annotations

import shutil
import warnings
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from analysis import config, schemas
from analysis.identifiers import siret_valid
from analysis.schemas import (REFERENCES, SCHEMAS, ValidationReport, cross_table_checks,
                              data_dictionary_markdown, validate_tables, write_data_dictionary)
from analysis.sources.base import REJECT_COLUMNS
from analysis.sources.decp import NONE
from analysis.warehouse import build, load_table
from conftest import DECP_EXAMPLES, FIXTURES, TODAY

TABLES = ["contracts", "suppliers", "modifications", "concessions", "buyers", "operations",
          "participants", "work_contracts", "outcomes", "grand_paris", "structures", "accounting",
          "rejects"]


@pytest.fixture(scope="module")
def tables(small_warehouse) -> dict[str, pd.DataFrame]:
    """Every table of the small synthetic build (seed 7, scale 0.05, 2019-2025)."""
    processed = small_warehouse.path.parent
    return {name: load_table(name, processed) for name in TABLES}


def validate(**tables: pd.DataFrame) -> ValidationReport:
    return validate_tables(tables, today=TODAY)


def only(failures, table: str, column: str | None = None):
    return [f for f in failures if f.table == table and (column is None or f.column == column)]


# --- A real build ------------------------------------------------------------------------------


def test_every_table_the_build_writes_has_a_schema(small_warehouse):
    assert list(SCHEMAS) == TABLES
    assert set(small_warehouse.tables) <= set(SCHEMAS)


def test_a_real_build_validates_without_errors(tables):
    report = validate_tables(tables, today=TODAY).extend(cross_table_checks(tables))
    assert report.ok, report.text()
    assert not report.errors


def test_pandera_alone_accepts_the_build(tables):
    """The schemas are plain pandera schemas: warning-level checks only warn."""
    from pandera.errors import SchemaWarning

    for name, frame in tables.items():
        if frame.empty:
            continue  # an empty child table has no typed columns (see validate_tables)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SchemaWarning)
            SCHEMAS[name].validate(frame, lazy=True)


def test_validation_leaves_the_tables_untouched(tables):
    before = {name: frame.copy() for name, frame in tables.items()}
    validate_tables(tables, today=TODAY)
    cross_table_checks(tables)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_warnings_agree_with_what_the_readers_reported(tables, small_warehouse):
    """Warning-level checks find the anomalies the readers kept and reported (DECP readers warn
    on every published version of a contract, the tables keep the latest: at most as many)."""
    reader = pd.read_parquet(small_warehouse.path / "rejects" / "warnings.parquet")
    by_rule = reader["rule"].value_counts()
    report = validate_tables(tables, today=TODAY).extend(cross_table_checks(tables))
    found = {(f.table, f.column): f.count for f in report.warnings}
    assert 0 < found.get(("suppliers", "titulaire_id"), 0) <= by_rule.get(
        "titulaire : SIRET invalide", 0)
    assert found.get(("contracts", "lieuExecution_code"), 0) <= by_rule.get(
        "lieuExecution : commune inconnue", 0)
    assert found.get(("operations", "heures_realisees"), 0) == by_rule.get(
        "heures réalisées incohérentes", 0)
    assert by_rule.get("heures réalisées incohérentes", 0) > 0  # the data set plants some
    assert found.get(("operations", "commune"), 0) == by_rule.get(
        "commune de l'opération inconnue", 0)


def test_decp_fixtures_with_concessions_and_2019_records_validate(tmp_path):
    raw = tmp_path / "raw" / "decp"
    raw.mkdir(parents=True)
    for path in [FIXTURES / "decp" / n for n in ("nested_marche.json", "flat_list.json",
                                                 "republication.json", "consolide.csv")] \
            + sorted(DECP_EXAMPLES.glob("*.json")):
        shutil.copy(path, raw / path.name)
    build(raw=tmp_path / "raw", processed=tmp_path / "p", today=TODAY)
    found = {name: load_table(name, tmp_path / "p") for name in
             ("contracts", "suppliers", "modifications", "concessions", "accounting", "rejects")}
    assert len(found["concessions"]) > 0
    assert (found["contracts"]["format"] == "decp-2019-json").any()
    report = validate_tables(found, today=TODAY).extend(cross_table_checks(found))
    assert report.ok, report.text()
    # the official examples use test SIRETs: kept, and reported as warnings only
    assert only(report.warnings, "contracts", "acheteur_id")


# --- Targeted defects ---------------------------------------------------------------------------


def test_negative_hours_are_an_error(tables):
    work = tables["work_contracts"].copy()
    work.loc[work.index[3], "heures"] = -5.0
    report = validate(work_contracts=work)
    [failure] = only(report.errors, "work_contracts", "heures")
    assert (failure.check, failure.count, failure.examples) == ("positif ou nul", 1, ("-5.0",))
    assert "work_contracts.heures — positif ou nul : 1 cas" in report.text()


def test_unknown_modalite_is_an_error(tables):
    operations = tables["operations"].copy()
    operations.loc[operations.index[2], "modalite"] = "clause_imaginaire"
    [failure] = validate(operations=operations).errors
    assert (failure.column, failure.check) == ("modalite", "valeurs autorisées")
    assert failure.examples == ("clause_imaginaire",)


def test_duplicated_uid_is_an_error(tables):
    contracts = pd.concat([tables["contracts"], tables["contracts"].iloc[[0]]], ignore_index=True)
    [failure] = validate(contracts=contracts).errors
    assert (failure.column, failure.check) == ("uid", "valeurs uniques")
    assert failure.examples == (contracts.loc[0, "uid"],)


@pytest.mark.parametrize("column, value", [("participant_id", "0123456789abcdef"),
                                           ("operation_id", "93-OP-INEXISTANTE")])
def test_orphan_work_contract_is_an_error(tables, column, value):
    work = tables["work_contracts"].copy()
    work.loc[work.index[0], column] = value
    report = cross_table_checks({**tables, "work_contracts": work})
    [failure] = only(report.errors, "work_contracts", column)
    assert failure.count == 1 and failure.examples == (value,)
    assert "référence présente dans" in failure.check


def test_orphan_outcome_and_supplier_are_errors(tables):
    outcomes = tables["outcomes"].copy()
    outcomes.loc[outcomes.index[0], "participant_id"] = "f" * 16
    suppliers = tables["suppliers"].copy()
    suppliers.loc[suppliers.index[0], "uid"] = "00000000000000_X"
    report = cross_table_checks({**tables, "outcomes": outcomes, "suppliers": suppliers})
    assert {(f.table, f.column) for f in report.errors} == {("outcomes", "participant_id"),
                                                            ("suppliers", "uid")}


def test_hours_mismatch_is_one_counted_warning_never_an_error(tables):
    report = cross_table_checks(tables)
    [failure] = only(report.warnings, "operations", "heures_realisees")
    assert failure.count > 0 and failure.examples == ()
    assert not only(report.errors, "operations")


def test_invalid_commune_is_an_error_where_the_reader_checks_it_a_warning_elsewhere(tables):
    participants = tables["participants"].copy()
    participants.loc[participants.index[0], "commune_residence"] = "99999"
    operations = tables["operations"].copy()
    operations.loc[operations.index[0], "commune"] = "99999"
    report = validate(participants=participants, operations=operations)
    [error] = report.errors
    assert (error.table, error.column, error.examples) == ("participants", "commune_residence",
                                                          ("99999",))
    assert "géographie de référence" in error.check
    [warning] = report.warnings
    assert (warning.table, warning.column) == ("operations", "commune")


def test_unknown_place_of_execution_is_a_warning(tables):
    contracts = tables["contracts"].copy()
    row = contracts.index[(contracts["lieuExecution_typeCode"] == "Code commune")
                          & (contracts["region_execution"] == "11")][0]
    contracts.loc[row, "lieuExecution_code"] = "93999"
    report = validate(contracts=contracts)
    assert report.ok
    [warning] = report.warnings
    assert warning.column == "lieuExecution_code" and "lieuExecution_code=93999" in warning.examples[0]


def test_social_flag_contradicting_considerations_is_an_error(tables):
    contracts = tables["contracts"].copy()
    row = contracts.index[contracts["considerationsSociales"] == NONE][0]
    contracts.loc[row, "has_social_consideration"] = True
    [failure] = validate(contracts=contracts).errors
    assert failure.column == "has_social_consideration"
    assert "cohérents avec considerationsSociales" in failure.check
    assert NONE in failure.examples[0] and "has_social_consideration=True" in failure.examples[0]


def test_unknown_social_status_is_missing_never_false(tables):
    contracts = tables["contracts"].copy()
    unknown = contracts["considerationsSociales"].isna()
    assert unknown.any()  # the data set has records that say nothing usable
    assert validate(contracts=contracts).ok
    contracts.loc[unknown, "has_social_consideration"] = False
    [failure] = validate(contracts=contracts).errors
    assert failure.column == "has_social_consideration" and failure.count == int(unknown.sum())


def test_a_2019_record_cannot_say_without_social_consideration(tables):
    contracts = tables["contracts"].copy()
    row = contracts.index[contracts["considerationsSociales"] == NONE][0]
    contracts.loc[row, "format"] = "decp-2019-json"
    failures = validate(contracts=contracts).errors
    assert [f.check for f in failures] == ["statut social inconnu (manquant) pour le format 2019"]


def test_unknown_consideration_value_is_an_error(tables):
    contracts = tables["contracts"].copy()
    contracts.loc[contracts.index[0], "considerationsSociales"] = "Clause sociale, Clause verte"
    checks = {f.check for f in validate(contracts=contracts).errors}
    assert any(c.startswith("valeurs autorisées, séparées par") for c in checks)


def test_invalid_buyer_siret_is_only_a_warning(tables):
    contracts = tables["contracts"].copy()
    first = contracts.index[0]
    contracts.loc[first, "acheteur_id"] = "5321149644"
    contracts.loc[first, "uid"] = "5321149644_" + contracts.loc[first, "id"]
    report = validate(contracts=contracts)
    assert report.ok
    [warning] = report.warnings
    assert (warning.column, warning.examples) == ("acheteur_id", ("5321149644",))


def test_invalid_siret_in_a_directory_is_an_error(tables):
    structures = tables["structures"].copy()
    structures.loc[structures.index[0], "siret"] = "12345678901234"
    [failure] = validate(structures=structures).errors
    assert failure.column == "siret" and failure.check.startswith("SIRET valide")


def test_future_notification_is_an_error_against_the_build_day(tables):
    contracts = tables["contracts"].copy()
    contracts.loc[contracts.index[0], "dateNotification"] = pd.Timestamp("2026-12-01")
    contracts.loc[contracts.index[0], "annee"] = 2026
    [failure] = validate_tables({"contracts": contracts}, today=TODAY).errors
    assert failure.column == "dateNotification" and failure.examples == ("2026-12-01",)
    assert validate_tables({"contracts": contracts}, today=date(2027, 1, 1)).ok


def test_personal_columns_and_missing_columns_are_errors(tables):
    participants = tables["participants"].copy()
    participants["nom"] = "Dupont"
    participants = participants.drop(columns="sexe")
    failures = {(f.column, f.check) for f in validate(participants=participants).errors}
    assert failures == {("nom", "colonne absente du dictionnaire des données"),
                        ("sexe", "colonne obligatoire absente")}


def test_missing_value_in_a_required_column_is_an_error(tables):
    work = tables["work_contracts"].copy()
    work.loc[work.index[0], "date_debut"] = pd.NaT
    failures = validate(work_contracts=work).errors
    assert [(f.column, f.check) for f in failures] == [
        ("date_debut", "valeur obligatoire (aucune valeur manquante)")]


def test_wrong_type_is_an_error_unless_the_column_is_empty(tables):
    participants = tables["participants"].copy()
    participants["qpv"] = participants["qpv"].astype(object)
    [failure] = validate(participants=participants).errors
    assert failure.check == "type attendu : boolean"
    modifications = tables["modifications"].copy()
    modifications["dureeMois"] = pd.Series(pd.NA, index=modifications.index, dtype="string")
    report = validate(modifications=modifications, concessions=tables["concessions"].iloc[0:0])
    assert report.ok
    [warning] = report.warnings
    assert warning.check == "type attendu : float64 (colonne entièrement vide)"


def test_a_table_without_schema_is_reported():
    report = validate(nouvelle_table=pd.DataFrame({"a": [1]}))
    assert report.ok and report.warnings[0].check == "table absente du dictionnaire des données"


def test_vectorised_siret_agrees_with_siret_valid(tables):
    values = pd.concat([
        tables["suppliers"]["titulaire_id"], tables["contracts"]["acheteur_id"],
        pd.Series(["35600000000048", "35600000000049", "35600000049837", "35600000000010",
                   "1234567890123", "123456789012345", "8335172619788A", "", " 83351726197889",
                   "00000000000000"]),
    ], ignore_index=True).astype("string")
    expected = [siret_valid(v) for v in values]
    assert schemas._valid_siret(values).tolist() == expected
    assert any(expected) and not all(expected)


def test_report_in_french_and_as_quarantine_rows(tables):
    work = tables["work_contracts"].copy()
    work.loc[work.index[0], "code_rome"] = "XYZ"
    report = validate(work_contracts=work)
    assert report.text().startswith("Validation des tables : aucune erreur, 1 avertissement.")
    frame = report.warnings_frame()
    assert list(frame.columns) == REJECT_COLUMNS
    assert frame.iloc[0].to_dict() == {
        "source": "validation", "file": "work_contracts", "record": "code_rome",
        "rule": "validation : code ROME : une lettre A-N et 4 chiffres",
        "message": "work_contracts.code_rome — code ROME : une lettre A-N et 4 chiffres : 1 cas "
                   "(ex. : XYZ)"}


# --- The data dictionary ------------------------------------------------------------------------


def test_every_column_and_check_is_documented():
    for name, schema in SCHEMAS.items():
        assert schema.title and schema.description, name
        for column, spec in schema.columns.items():
            assert spec.title and spec.description, (name, column)
            assert all(check.title for check in spec.checks), (name, column)
        assert all(check.title for check in schema.checks), name
        assert all((check.statistics or {}).get("column") in schema.columns
                   for check in schema.checks), name


def test_dictionary_mentions_every_column_of_every_schema():
    text = data_dictionary_markdown()
    sections = text.split("\n## ")
    for name, schema in SCHEMAS.items():
        [section] = [s for s in sections if s.startswith(f"{name}\n")]
        for column, spec in schema.columns.items():
            assert f"| `{column}` | {spec.title} |" in section, (name, column)
    for ref in REFERENCES:
        assert f"`{ref.child}.{ref.column}`" in text
    assert "generated by `observatoire dictionary` from `src/analysis/schemas.py`" in text.lower()


def test_committed_dictionary_is_up_to_date():
    committed = config.paths().docs / "data_dictionary.md"
    assert committed.read_text(encoding="utf-8") == data_dictionary_markdown(), (
        "docs/data_dictionary.md est périmé : lancez `observatoire dictionary`")


def test_write_data_dictionary(tmp_path: Path):
    path = write_data_dictionary(tmp_path / "docs" / "dictionnaire.md")
    assert path.read_text(encoding="utf-8") == data_dictionary_markdown()


def test_isin_by_arrow_agrees_with_pandas():
    """``frames.isin`` of two Arrow-backed text Series (the cross-table checks' path) gives
    pandas' answer, missing values included, on chunked and sliced arrays."""
    from analysis.frames import isin

    values = pd.concat([pd.Series(["a", None, "b"], dtype="string"),
                        pd.Series(["c", "a", None, "é"], dtype="string")], ignore_index=True)
    for reference in (pd.Series(["a", "é", "z"], dtype="string"),
                      pd.concat([pd.Series(["b", None], dtype="string"),
                                 pd.Series(["c"], dtype="string")], ignore_index=True),
                      pd.Series([], dtype="string"), values.iloc[2:5]):
        expected = values.astype(object).isin(list(reference.astype(object))).to_numpy(bool)
        assert isin(values, reference).tolist() == expected.tolist()
        assert isin(values.iloc[1:], reference).tolist() == expected[1:].tolist()
        plain = [value for value in reference.astype(object) if isinstance(value, str)]
        for collection in (frozenset(plain), plain):  # texts only: no missing value matches
            assert isin(values, collection).tolist() == \
                values.astype(object).isin(plain).to_numpy(bool).tolist()


def test_vectorised_siret_reads_only_ascii_digits_in_blocks(monkeypatch):
    monkeypatch.setattr(schemas, "_SIRET_BLOCK", 2)
    values = pd.Series(["83351726197889", "٨٣٣٥١٧٢٦١٩٧٨٨٩", None, "35600000000048",
                        "83351726197888", "83351726197889", "8335172619788"], dtype="string")
    expected = [True, False, False, siret_valid("35600000000048"), False, True, False]
    assert schemas._valid_siret(values).tolist() == expected
    assert schemas._valid_siret(values.iloc[3:]).tolist() == expected[3:]


def test_texts_held_as_categories_are_checked_as_text(tables):
    """The build keeps the contracts' repeated texts as categories through the checks: the same
    failures (errors and warnings, counts and examples) as the same table in text."""
    from analysis.sources.decp.tables import COMPACT_COLUMNS

    contracts = tables["contracts"].copy()
    rows = contracts.index
    contracts.loc[rows[0], "procedure"] = "Procédure inventée"              # warning, compact
    contracts.loc[rows[1], "considerationsSociales"] = "Clause sociale, Clause verte"  # error
    contracts.loc[rows[2], "format"] = "decp-2019-json"                    # row check, compact
    contracts.loc[rows[3], "departement_execution"] = "999"               # pattern warning
    contracts.loc[rows[4], "acheteur_id"] = "12345678901234"              # not compact
    compact = contracts.copy()
    for name in COMPACT_COLUMNS:
        if name in compact.columns:
            compact[name] = compact[name].astype("category")
    as_text, as_categories = validate(contracts=contracts), validate(contracts=compact)
    key = lambda f: (f.table, str(f.column), f.check, f.count, f.examples)  # noqa: E731
    assert len(as_text.errors) >= 2 and len(as_text.warnings) >= 3
    assert sorted(map(key, as_categories.errors)) == sorted(map(key, as_text.errors))
    assert list(map(key, as_categories.warnings)) == list(map(key, as_text.warnings))
    assert isinstance(compact["procedure"].dtype, pd.CategoricalDtype)  # left as it was
