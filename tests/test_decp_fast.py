"""The DECP pipeline (``analysis.sources.decp``: parse → rules → tables) against the reference
reader, one record at a time (``tests/decp_reference.py``, the reader the pipeline replaced).

For every input — the fixtures, generated files, the corpus' faults, hand-written odd shapes and
hypothesis-generated records — both must give the same frames (chunk by chunk: columns, types,
values, row order), the same counts and the same quarantine (rule, message, record, in the same
order), or fail with the same error. The pipeline is checked both ways it parses JSON: through
the typed structures (``fast=True``, odd records parsed again with ``json``) and with ``json`` /
``ijson`` alone (``fast=False``), the same rules applied to either.
"""

from __future__ import annotations

import functools
import json
import random
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import decp_reference
from analysis.sources import decp
from analysis.sources.decp import json_source, rules
from analysis.sources.base import SourceFileError
from conftest import DECP_EXAMPLES, FIXTURES, TODAY
from corpus import BUYER, BUYER_2, COMPANY, FAULTS, decp_record, write_corpus

COMMUNES = {"93066", "93001", "75056", "77235"}
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def read_both(path: Path, chunk_size: int = 100_000, fast: bool = True, **options):
    """(pipeline, reference) results, flushed; or the exceptions each raised."""
    results = []
    for reader in (functools.partial(decp.read_decp_json, fast=fast),
                   decp_reference.read_decp_json):
        try:
            parsed = reader(path, today=TODAY, chunk_size=chunk_size, **options)
            parsed.flush()
            results.append(parsed)
        except Exception as exc:  # compared below
            results.append(exc)
    return results


def assert_same(path: Path, chunk_size: int = 100_000, **options) -> decp.DecpFile | None:
    fast, reference = read_both(path, chunk_size, **options)
    _compare(fast, reference)
    return fast if not isinstance(fast, Exception) else None


def _compare(fast, reference) -> None:
    if isinstance(reference, RecursionError):  # json's own limit: the message may differ
        assert isinstance(fast, RecursionError), fast
        return
    if isinstance(reference, Exception):
        assert type(fast) is type(reference) and str(fast) == str(reference), (fast, reference)
        return
    assert not isinstance(fast, Exception), fast
    assert fast.read == reference.read
    assert fast.produced == reference.produced
    assert fast.merged == reference.merged
    assert fast.contracts == fast.suppliers == fast.modifications == fast.concessions == []
    for name, chunks in reference.frames.items():
        assert len(fast.frames[name]) == len(chunks), name
        for got, expected in zip(fast.frames[name], chunks):
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert [vars(r) for r in fast.quarantine.rejects] == [
        vars(r) for r in reference.quarantine.rejects]
    assert [vars(r) for r in fast.quarantine.warnings] == [
        vars(r) for r in reference.quarantine.warnings]


# One folder for the module's files, removed when the test process ends (a folder per call
# left thousands behind in the system's temporary directory).
_SCRATCH = tempfile.TemporaryDirectory(prefix="observatoire-fast-")


def write(document, name: str = "decp.json", raw: bytes | None = None) -> Path:
    path = Path(tempfile.mkdtemp(dir=_SCRATCH.name)) / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_whitespace_is_what_str_strip_removes():
    assert rules.WHITESPACE == "".join(
        chr(c) for c in range(0x110000) if chr(c).isspace())


# --- Fixtures, generated files, the corpus ---------------------------------------------------------

JSON_FIXTURES = sorted((FIXTURES / "decp").glob("*.json")) + sorted(DECP_EXAMPLES.glob("*.json"))


@pytest.mark.parametrize("path", JSON_FIXTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("chunk_size", [1, 2, 100_000])
@pytest.mark.parametrize("stream", [False, True])
def test_fixtures(path, chunk_size, stream):
    assert_same(path, chunk_size, stream=stream, communes=COMMUNES)


@pytest.mark.parametrize("path", JSON_FIXTURES, ids=lambda p: p.name)
def test_fixtures_parsed_by_json_alone(path):
    """Every record through ``json`` / ``ijson`` (no typed structures): the same result."""
    for stream in (False, True):
        _compare(*read_both(path, 2, fast=False, stream=stream, communes=COMMUNES))


def _through_structures(path: Path) -> bool:
    """Whether the file is read through the typed structures (not parsed whole by ``json``)."""
    result = decp.DecpFile(path=str(path))
    context = rules.Context(str(path), TODAY, None)
    try:
        json_source._read_mapped(path, context, json_source.Chunks(result, 10, []), False)
    except json_source._Fallback:
        return False
    return True


def test_fixtures_are_read_by_the_fast_path():
    """The ordinary fixtures do not fall back to parsing the whole file with ``json``."""
    for name in ("nested_marche.json", "flat_list.json", "republication.json"):
        assert _through_structures(FIXTURES / "decp" / name)
    for name in ("truncated.json", "not_utf8.json", "not_decp.json"):
        assert not _through_structures(FIXTURES / "decp" / name)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    from analysis.synthetic.decp import generate

    root = tmp_path_factory.mktemp("generated")
    generate(root / "buyers", seed=11, first_year=2019, last_year=2025, scale=0.03)
    generate(root / "consolidated", seed=12, first_year=2018, last_year=2025, scale=0.05,
             layout="consolidated")
    return {"buyers": root / "buyers" / "decp",
            "consolidated": root / "consolidated" / "decp" / "decp_consolide.json"}


def test_generated_consolidated_file(generated):
    path = generated["consolidated"]
    parsed = assert_same(path, 1000, communes=COMMUNES)
    assert parsed.read > 3000 and len(parsed.frames["contracts"]) > 3
    assert len(parsed.quarantine.rejects) and len(parsed.quarantine.warnings)
    assert sum(len(f) for f in parsed.frames["modifications"])
    assert_same(path, 100_000, communes=COMMUNES, stream=True)


def test_generated_buyer_files(generated):
    files = sorted(generated["buyers"].rglob("*.json"))
    assert len(files) > 20
    for path in files[::3]:
        assert_same(path, 50, communes=COMMUNES)


@pytest.mark.parametrize("fault", [f for f in FAULTS if f.file.startswith("decp/")
                                   and f.file.endswith(".json")], ids=lambda f: f.name)
def test_corpus_faults(tmp_path, fault):
    write_corpus(tmp_path)
    fault.inject(tmp_path)
    assert_same(tmp_path / fault.file, 3, communes=COMMUNES)


# --- Odd shapes ---------------------------------------------------------------------------------

def odd_records() -> list:
    """Records of every shape the reader accepts, and some it rejects."""
    base = decp_record(1)
    return [
        base,
        decp_record(2, id=20220002, acheteur={"id": int(BUYER)}),               # numbers as ids
        decp_record(3, id=" 2022-0003 ", objet="  ", nature="\u00a0Marché\u2029"),
        decp_record(4, id=3.0, acheteur=BUYER),                                  # buyer as text
        decp_record(5, id=True, acheteur={"id": 21930066400014.0}),
        decp_record(6, montant="12 345,60", dureeMois="12"),                     # text numbers
        decp_record(7, montant=0, dureeMois=-3),
        decp_record(8, montant=-0.0),
        decp_record(9, montant="Infinity"),
        decp_record(10, montant=1e308, dureeMois=2 ** 60),
        decp_record(11, montant=2 ** 53 + 1, dureeMois=10 ** 17),
        decp_record(12, montant="abc"),
        decp_record(13, montant=True),
        decp_record(14, dateNotification="1900-01-01"),
        decp_record(15, dateNotification="2099-01-01"),
        decp_record(16, dateNotification="1999-12-31"),
        decp_record(17, dateNotification="2026-11-24"),
        decp_record(18, dateNotification="2026-11-23", datePublicationDonnees="0001-01-01"),
        decp_record(19, dateNotification="31/12/2021"),
        decp_record(20, dateNotification="2022-02-30"),
        decp_record(21, dateNotification=44593),
        decp_record(22, dateNotification=" 2022-03-04 "),
        decp_record(23, dateNotification="2022-03-04T10:00:00+01:00"),
        decp_record(24, dateNotification=None),
        decp_record(25, datePublicationDonnees="9999-12-31"),
        decp_record(26, datePublicationDonnees=20221220),
        {k: v for k, v in decp_record(27).items() if k != "dateNotification"},
        {k: v for k, v in decp_record(28).items() if k != "id"},
        decp_record(29, id=""),
        decp_record(30, acheteur={}),
        decp_record(31, acheteur={"id": "  "}),
        decp_record(32, acheteur=[BUYER]),
        decp_record(33, acheteur={"id": "123"}),
        decp_record(34, acheteur={"id": "35600000000048"}),                      # La Poste
        decp_record(35, acheteur={"id": "１２３４５６７８９０１２３４"}),       # other digits
        # Considerations in every shape.
        decp_record(36, considerationsSociales=["Clause sociale", "Critère social"]),
        decp_record(37, considerationsSociales="Marché réservé"),
        decp_record(38, considerationsSociales=[]),
        decp_record(39, considerationsSociales={}),
        decp_record(40, considerationsSociales={"considerationSociale": None}),
        decp_record(41, considerationsSociales={"considerationSociale": "Sans objet"}),
        decp_record(42, considerationsSociales={"considerationSociale": 3}),
        decp_record(43, considerationsSociales=["Clause sociale, Critère social"]),
        decp_record(44, considerationsSociales=["clause  SOCIALE", "Clause insertion maison"]),
        decp_record(45, considerationsSociales=["Clause insertion maison"]),
        decp_record(46, considerationsSociales=["Pas de considération sociale", "Critère social"]),
        decp_record(47, considerationsSociales=None),
        decp_record(48, considerationsSociales=[1, None]),
        decp_record(49, considerationsSociales=True),
        decp_record(50, considerationsEnvironnementales=["Clause environnementale"]),
        decp_record(51, considerationsEnvironnementales={"considerationEnvironnementale": []}),
        decp_record(52, considerationsEnvironnementales="sans objet"),
        {k: v for k, v in decp_record(53).items() if k != "considerationsSociales"},
        # Places.
        decp_record(54, lieuExecution={"code": "93999", "typeCode": "Code commune"}),
        decp_record(55, lieuExecution={"code": "75", "typeCode": "Code département"}),
        decp_record(56, lieuExecution={"code": "11", "typeCode": "Code région"}),
        decp_record(57, lieuExecution={"code": "FR", "typeCode": "Code pays"}),
        decp_record(58, lieuExecution={"code": 93066, "typeCode": "Code commune"}),
        decp_record(59, lieuExecution={"code": "97411"}),
        decp_record(60, lieuExecution={"code": " 2a004 ", "typeCode": " code  COMMUNE "}),
        decp_record(61, lieuExecution="93066"),
        decp_record(62, lieuExecution={}),
        decp_record(63, lieuExecution=[1]),
        decp_record(64, lieuExecution={"code": "20100", "typeCode": "Code postal"}),
        # Suppliers.
        decp_record(65, titulaires=[{"id": COMPANY, "typeIdentifiant": "SIRET"}]),
        decp_record(66, titulaires={"titulaire": {"id": COMPANY, "typeIdentifiant": "SIRET"}}),
        decp_record(67, titulaires=[{"titulaire": {"id": "55204599900868",
                                                   "typeIdentifiant": "SIRET"}},
                                    {"titulaire": {"id": "FR123", "typeIdentifiant": "TVA"}},
                                    {"titulaire": {"id": "bad", "typeIdentifiant": " SIRET "}}]),
        decp_record(68, titulaires=[]),
        decp_record(69, titulaires="x" * 200),
        decp_record(70, titulaires=[{"titulaire": {}}]),
        decp_record(71, titulaires=[{"titulaire": {"denominationSociale": "A"}}]),
        decp_record(72, titulaires=[{"titulaire": {}, "id": COMPANY}]),
        decp_record(73, titulaires=[{"titulaire": "x", "id": COMPANY}]),
        decp_record(74, titulaires=[{"titulaire": "", "id": COMPANY}]),
        decp_record(75, titulaires=[{"concessionnaire": {"id": COMPANY}}]),
        decp_record(76, titulaires=[{"titulaire": None, "concessionnaire": None}]),
        decp_record(77, titulaires=[{"titulaire": {"id": 55204599900869,
                                                   "typeIdentifiant": "SIRET"}}]),
        decp_record(78, titulaires=["x"]),
        decp_record(79, titulaires=[{"titulaire": {"typeIdentifiant": "SIRET"}}]),
        decp_record(80, titulaires=[{"concessionnaire": {}, "id": "x"}]),
        decp_record(81, titulaires=7),
        decp_record(81, titulaires=[{"titulaire": {}, "concessionnaire": "x"},
                                    {"titulaire": {}, "concessionnaire": {"id": COMPANY}},
                                    {"titulaire": 0, "concessionnaire": {"id": COMPANY}},
                                    {"titulaire": {"id": None}, "concessionnaire": "x"}]),
        # Every warning on one record, in the reference's order.
        decp_record(81, acheteur={"id": "21930066400015"}, montant=0,
                    lieuExecution={"code": "93999", "typeCode": "Code commune"},
                    considerationsSociales=["inconnu"], titulaires="x",
                    modifications=[{"modification": {"montant": -1, "dureeMois": 0}}]),
        decp_record(81, acheteur={"id": "21930066400015"}, montant="abc",
                    lieuExecution={"code": "93999", "typeCode": "Code commune"},
                    considerationsSociales=["inconnu", "Clause sociale"], modifications=1,
                    titulaires=[{"id": "1", "typeIdentifiant": "SIRET"},
                                {"id": "2", "typeIdentifiant": "SIRET"}]),
        # Modifications.
        decp_record(82, modifications=[{"modification": {
            "id": 1, "montant": 20000, "dureeMois": 24,
            "dateNotificationModification": "2022-09-01",
            "datePublicationDonneesModification": "2022-09-05"}}]),
        decp_record(83, modifications=[
            {"modification": {"id": 2, "montant": 0, "dureeMois": -1,
                              "titulaires": [{"titulaire": {"id": "44306184100047",
                                                            "typeIdentifiant": "SIRET"}}]}},
            {"modification": {"id": 1, "montant": "30 000", "dureeMois": "36"}}]),
        decp_record(84, modifications={"modification": {"montant": 5}}),
        decp_record(85, modifications=[{"montant": 7, "titulaires": [{"id": "x"}]}]),
        decp_record(86, modifications="aucune"),
        decp_record(87, modifications=[]),
        decp_record(88, montant=0, modifications=[{"modification": {"id": "a", "montant": -5}}]),
        # Formats: v2 keys, 2019 records.
        {k: v for k, v in decp_record(89).items()
         if k not in ("considerationsSociales", "considerationsEnvironnementales")},
        dict({k: v for k, v in decp_record(90).items()
              if k not in ("considerationsSociales", "considerationsEnvironnementales")},
             techniques={"technique": []}),
        dict({k: v for k, v in decp_record(91).items()
              if k not in ("considerationsSociales", "considerationsEnvironnementales")},
             ccag=None),
        dict(decp_record(92), _type="Marché", nom="x", extra={"a": [1, {"b": None}]}),
        # Other oddities.
        decp_record(93, objet="x" * 3_000_000, montant="x" + "9" * 2000),
        decp_record(94, codeCPV="４５000000"),
        decp_record(95, codeCPV=45000000, procedure=12, nature=False, ccag=1.5),
        decp_record(96, id="ab\u2028"),
        decp_record(97, id="\u3000"),
        decp_record(98, objet="é", nature="Marché\u00a0"),
        "pas un objet",
        None,
        [decp_record(99)],
        decp_record(100),
    ]


CONCESSIONS = [
    {"id": "C1", "autoriteConcedante": {"id": BUYER_2}, "nature": "Concession de services",
     "dateSignature": "2022-04-01", "valeurGlobale": 1000000,
     "considerationsSociales": ["Concession réservée"],
     "concessionnaires": [{"concessionnaire": {"id": COMPANY}}]},
    {"id": "C2", "autoriteConcedante": "x", "dateSignature": "2099-04-01"},
    {"id": "C3", "_type": "Contrat de concession", "autoriteConcedante": {"id": BUYER},
     "dateSignature": "2021-04-01", "modifications": [{"modification": {"valeurGlobale": 5}}]},
]


@pytest.mark.parametrize("shape", ["object", "list", "array"])
@pytest.mark.parametrize("chunk_size", [1, 7, 100_000])
def test_odd_shapes(shape, chunk_size):
    records = odd_records()
    if shape == "object":
        document = {"marches": {"marche": records, "contrat-concession": CONCESSIONS}}
    else:
        mixed = list(records)
        for k, concession in enumerate(CONCESSIONS):
            mixed.insert(10 + 20 * k, concession)
        mixed.insert(5, {"id": "C4", "_type": "Contrat de concession", "dateSignature": "x"})
        document = {"marches": mixed} if shape == "list" else mixed
    path = write(document)
    for stream in (False, True):
        parsed = assert_same(path, chunk_size, communes=COMMUNES, stream=stream)
        assert parsed is not None and parsed.quarantine.rejects and parsed.quarantine.warnings


def test_only_concessions_and_empty_lists():
    assert_same(write({"marches": {"contrat-concession": CONCESSIONS}}), 1)
    assert_same(write({"marches": {"marche": [], "contrat-concession": None}}), 1)
    assert_same(write({"marches": {"marche": None}}), 1)
    assert_same(write({"marches": []}), 1)
    assert_same(write([]), 1)


@pytest.mark.parametrize("raw", [
    b"",                                                     # empty
    b"   \n",
    b"\xef\xbb\xbf" + json.dumps({"marches": [decp_record(1)]}).encode(),   # byte-order mark
    b"\xef\xbb\xbf\xef\xbb\xbf[]",
    json.dumps({"marches": [dict(decp_record(1), nom="\u00e9")]}).encode().replace(
        b"\\u00e9", b"\xe9"),                                # not UTF-8, in a key not read
    json.dumps({"marches": [decp_record(1)]}).encode().replace(b"15000", b"NaN"),
    json.dumps({"marches": [dict(decp_record(1), nom="\ud800")]}).encode(),  # lone surrogate
    json.dumps({"marches": [dict(decp_record(1), objet="\ud800")]}).encode(),
    json.dumps({"marches": [decp_record(1, id=1)]}).encode().replace(
        b'"id": 1', b'"id": 123456789012345678901234567890'),
    json.dumps({"marches": [decp_record(1)]}).encode().replace(b'"montant": 11000',
                                                               b'"montant": 1e400'),
    json.dumps({"marches": {"marche": [decp_record(1)]}, "x": 1}).encode(),
    json.dumps({"marches": {"autre": []}}).encode(),
    json.dumps({"marches": {"marche": {"a": 1}}}).encode(),
    json.dumps({"marches": {"marche": "ab"}}).encode(),
    json.dumps({"marches": "x"}).encode(),
    json.dumps({"data": []}).encode(),
    b'{"marches": {"marche": [' + json.dumps(decp_record(1)).encode() + b"]},"
    b' "marches": {"marche": []}}',                         # a key given twice
    b'{"marches": {"marche": [' + json.dumps(decp_record(1)).encode() + b'],'
    b' "marche": [' + json.dumps(decp_record(2)).encode() + b"]}}",
    b'{"x": {"marches": []}, "marches": {"marche": [' + json.dumps(decp_record(1)).encode()
    + b"]}}",
    b'[{"id": "a"}] x',
    b"42",
    json.dumps({"marches": [dict(decp_record(1), nom=0)]}).encode().replace(
        b'"nom": 0', b'"nom": ' + b"[" * 3000 + b"]" * 3000),   # nested deeper than json reads
])
@pytest.mark.parametrize("stream", [False, True])
def test_files_the_fast_path_leaves_to_the_reference(raw, stream):
    assert_same(write(None, raw=raw), 2, stream=stream)


@pytest.mark.parametrize("number", [b"1e400", b"123456789012345678901234567890"])
def test_a_number_ijson_cannot_hold_in_a_key_not_read(number):
    """The one known difference. ``ijson`` (the reference path on files over 64 MB) refuses a
    number beyond 64-bit integers or doubles anywhere in the file; ``json`` (smaller files)
    accepts it. In a key the reader uses, the fast path refuses it as well; in a key it skips
    (and does not parse), it reads the file as ``json`` would."""
    raw = json.dumps({"marches": [dict(decp_record(1), nom=1)]}).encode().replace(
        b'"nom": 1', b'"nom": ' + number)
    path = write(None, raw=raw)
    assert_same(path, 2, stream=False)
    fast, reference = read_both(path, 2, stream=True)
    assert isinstance(reference, SourceFileError) and "JSON invalide" in str(reference)
    loaded = assert_same(path, 2, stream=False)
    pd.testing.assert_frame_equal(fast.frames["contracts"][0], loaded.frames["contracts"][0])
    for record in (decp_record(1, nature=1), decp_record(1, modifications=[{"montant": 1}]),
                   decp_record(1, id=None, modifications=[{"modification": {"id": 1}}])):
        used = json.dumps({"marches": [record]}).encode()
        used = used.replace(b'"nature": 1', b'"nature": ' + number).replace(
            b'"montant": 1}', b'"montant": ' + number + b"}").replace(
            b'"id": 1}', b'"id": ' + number + b"}")
        assert number in used
        fast, reference = read_both(write(None, raw=used), 2, stream=True)
        assert isinstance(reference, SourceFileError)
        assert type(fast) is SourceFileError and str(fast) == str(reference)


def test_a_json_error_is_reported_the_same_way():
    good = json.dumps({"marches": [decp_record(1), decp_record(2)]})
    for raw in (good[:-3], good.replace('"id"', "'id'", 1), good + ",", "[1,]"):
        path = write(None, raw=raw.encode())
        for stream in (False, True):
            fast, reference = read_both(path, 10, stream=stream)
            assert isinstance(reference, SourceFileError)
            assert type(fast) is SourceFileError and str(fast) == str(reference)


# --- Hypothesis-generated records ---------------------------------------------------------------

SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                   st.floats(allow_nan=False, allow_infinity=False),
                   st.text(st.characters(blacklist_categories=["Cs"]), max_size=6),
                   st.sampled_from(["", " ", " x ", "\u00a0y", "\u2029", "é", "Marché "]))
JSON_VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
SIRET = st.sampled_from([BUYER, BUYER_2, COMPANY, "55204599900868", "35600000000048",
                         "35600000000049", "123", "", " " + COMPANY, "１２３４５６７８９０１２３４"])
DAY = st.one_of(st.sampled_from(["2022-01-01", "1999-12-31", "2000-01-01", "2026-11-23",
                                 "2026-11-24", "2099-01-01", "1900-01-01", "31/12/2021",
                                 "2022-02-30", "44593", "", " 2022-03-04", "2022-03-04T10:00",
                                 "0001-01-01", "9999-12-31", "01/02/2003"]),
                st.dates().map(date.isoformat), SCALAR)
NUMBER = st.one_of(st.sampled_from(["12 345,60", "-1", "Infinity", "abc", 0, -0.0, 1e308, "0",
                                    " 7 ", 2 ** 53 + 1, 10 ** 20, "1,5", "1e5", "NaN"]),
                   st.integers(-10, 10 ** 9), st.floats(-1e6, 1e12), SCALAR)
VALUES = ["Clause sociale", "clause  SOCIALE", "Critère social", "Marché réservé",
          "Pas de considération sociale", "Sans objet", "Clause sociale, Critère social",
          "inconnu", "Concession réservée", "Clause environnementale",
          "Pas de considération environnementale", "Critère environnemental"]
CONSIDERATION_LIST = st.lists(st.sampled_from(VALUES), max_size=3)


def considerations(inner: str):
    return st.one_of(CONSIDERATION_LIST, st.sampled_from(VALUES),
                     st.builds(lambda v: {inner: v}, st.one_of(CONSIDERATION_LIST,
                                                               st.sampled_from(VALUES), SCALAR)),
                     st.just({}), SCALAR, JSON_VALUE)


HOLDER = st.fixed_dictionaries({}, optional={"id": st.one_of(SIRET, SCALAR),
                                             "typeIdentifiant": st.sampled_from(
                                                 ["SIRET", " SIRET ", "TVA", "", None, 3]),
                                             "denominationSociale": st.just("A")})
SUPPLIER = st.one_of(st.builds(lambda h: {"titulaire": h}, HOLDER), HOLDER,
                     st.fixed_dictionaries({}, optional={
                         "titulaire": st.one_of(HOLDER, SCALAR),
                         "concessionnaire": st.one_of(HOLDER, SCALAR),
                         "id": SIRET, "typeIdentifiant": st.just("SIRET")}))
MODIFICATION = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.integers(0, 3), SCALAR), "montant": NUMBER, "dureeMois": NUMBER,
    "dateNotificationModification": DAY, "datePublicationDonneesModification": DAY,
    "titulaires": st.one_of(st.lists(SUPPLIER, max_size=2), SCALAR)})
FIELDS = {
    "id": st.one_of(st.sampled_from(["M1", " M1 ", "", "  ", "M2"]), SCALAR),
    "acheteur": st.one_of(st.builds(lambda s: {"id": s}, st.one_of(SIRET, SCALAR)),
                          st.just({}), SIRET, SCALAR, JSON_VALUE),
    "nature": st.one_of(st.sampled_from(["Marché", "Accord-cadre", " Marché"]), SCALAR),
    "objet": SCALAR,
    "codeCPV": st.one_of(st.sampled_from(["45000000-7", "4500", "x1", "", "²1"]), SCALAR),
    "ccag": SCALAR,
    "procedure": SCALAR,
    "lieuExecution": st.one_of(
        st.fixed_dictionaries({}, optional={
            "code": st.one_of(st.sampled_from(["93066", "93999", "75", "9", "2A004", "20100",
                                               "97411", "11", " 93066 "]), SCALAR),
            "typeCode": st.one_of(st.sampled_from(["Code commune", "Code postal", "Code région",
                                                   "Code département", "Code pays",
                                                   "Code canton", " code  COMMUNE "]), SCALAR)}),
        SCALAR, JSON_VALUE),
    "dureeMois": NUMBER,
    "montant": NUMBER,
    "dateNotification": DAY,
    "datePublicationDonnees": DAY,
    "titulaires": st.one_of(st.lists(SUPPLIER, max_size=3), SUPPLIER, SCALAR),
    "modifications": st.one_of(
        st.lists(st.one_of(st.builds(lambda m: {"modification": m}, MODIFICATION),
                           MODIFICATION), max_size=2), MODIFICATION, SCALAR),
    "considerationsSociales": considerations("considerationSociale"),
    "considerationsEnvironnementales": considerations("considerationEnvironnementale"),
    "techniques": SCALAR,
    "_type": st.sampled_from(["Marché", "Contrat de concession", None, 1]),
    "autoriteConcedante": st.one_of(st.builds(lambda s: {"id": s}, SIRET), SCALAR),
    "dateSignature": DAY,
    "valeurGlobale": NUMBER,
}


@st.composite
def records(draw):
    record = decp_record(draw(st.integers(1, 20)))
    for name, values in FIELDS.items():
        choice = draw(st.integers(0, 6))
        if choice == 0:
            record[name] = draw(values)
        elif choice == 1 and name in record:
            del record[name]
        elif name in ("_type", "autoriteConcedante", "techniques", "dateSignature",
                      "valeurGlobale") and name in record:
            pass
    return draw(st.one_of(st.just(record), st.just(record), st.just(record), st.just(record),
                          JSON_VALUE))


@SETTINGS
@given(marches=st.lists(records(), max_size=12), concessions=st.lists(records(), max_size=3),
       shape=st.sampled_from(["object", "list", "array"]), chunk_size=st.integers(1, 5),
       stream=st.booleans())
def test_generated_records(marches, concessions, shape, chunk_size, stream):
    if shape == "object":
        document = {"marches": {"marche": marches, "contrat-concession": concessions}}
    else:
        mixed = marches + concessions
        random.Random(len(mixed)).shuffle(mixed)
        document = {"marches": mixed} if shape == "list" else mixed
    assert_same(write(document), chunk_size, stream=stream, communes=COMMUNES)


@SETTINGS
@given(marches=st.lists(st.builds(lambda n, fields: decp_record(n, **fields), st.integers(1, 20),
                                  st.fixed_dictionaries({}, optional={
                                      name: FIELDS[name] for name in (
                                          "id", "montant", "dureeMois", "dateNotification",
                                          "datePublicationDonnees", "titulaires", "codeCPV",
                                          "considerationsSociales")})),
                        min_size=1, max_size=30),
       chunk_size=st.integers(1, 40))
def test_generated_ordinary_records(marches, chunk_size):
    """Mostly records the structures accept: the columns, not the reference, read them."""
    assert_same(write({"marches": {"marche": marches}}), chunk_size, communes=COMMUNES)


def test_batches_are_cut_like_the_reference_chunks(monkeypatch):
    monkeypatch.setattr(json_source, "BATCH", 7)
    records = odd_records()
    for chunk_size in (1, 3, 10, 1000):
        assert_same(write({"marches": records + CONCESSIONS}), chunk_size, communes=COMMUNES)


# --- Deduplication --------------------------------------------------------------------------------

def reference_deduplicate(contracts: pd.DataFrame):
    """``decp.deduplicate`` as pandas alone computes it (before its Arrow sort)."""
    if contracts.empty:
        return contracts, pd.Series(dtype="int64")
    if "n_modifications" not in contracts:
        contracts = contracts.assign(n_modifications=0)
    return decp._deduplicate_pandas(contracts)


@SETTINGS
@given(rows=st.lists(st.tuples(st.sampled_from(["a_1", "a_2", "b_1", "é_1", "a_10", None]),
                               st.sampled_from([None, "2022-01-01", "2022-06-01", "2021-01-01"]),
                               st.sampled_from([None, 0, 1, 2]),
                               st.sampled_from(["f1.json", "f2.json", "f3.json"])),
                     max_size=25),
       drop_modifications=st.booleans())
def test_deduplicate_matches_pandas(rows, drop_modifications):
    frame = decp.contracts_frame([
        {"uid": uid, "id": "x", "datePublicationDonnees":
         None if published is None else date.fromisoformat(published),
         "n_modifications": mods, "source_file": file, "source_record": f"marche[{i}]"}
        for i, (uid, published, mods, file) in enumerate(rows)])
    if drop_modifications:
        frame = frame.drop(columns=["n_modifications"])
    kept, merged = decp.deduplicate(frame)
    expected_kept, expected_merged = reference_deduplicate(frame)
    pd.testing.assert_frame_equal(kept, expected_kept, check_exact=True)
    pd.testing.assert_series_equal(merged, expected_merged)


def test_deduplicate_generated_file(generated):
    parsed = decp.read_decp_json(generated["consolidated"], today=TODAY, chunk_size=500)
    parsed.flush()
    frame = pd.concat(parsed.frames["contracts"], ignore_index=True)
    frame = pd.concat([frame, frame.sample(frac=0.2, random_state=1).assign(
        source_file="again.json")], ignore_index=True)
    kept, merged = decp.deduplicate(frame)
    expected_kept, expected_merged = reference_deduplicate(frame)
    pd.testing.assert_frame_equal(kept, expected_kept, check_exact=True)
    pd.testing.assert_series_equal(merged, expected_merged)
    assert np.all(kept["uid"].value_counts() == 1)


def test_compact_reading_gives_the_same_tables(generated):
    """The build's reading (repeated texts as categories, joined, deduplicated, given back
    their text) makes the frames of a plain reading, a chunk of row dictionaries included."""
    plain = decp.read_decp_json(generated["consolidated"], today=TODAY, chunk_size=500)
    plain.flush()
    compact = decp.read_decp_json(generated["consolidated"], today=TODAY, chunk_size=500,
                                  compact=True)
    compact.flush()
    chunks = compact.frames["contracts"]
    assert any(isinstance(chunk[name].dtype, pd.CategoricalDtype)
               for chunk in chunks for name in ("procedure", "source_file"))
    chunks = chunks + [decp.contracts_frame([{"uid": "z_1", "id": "1", "procedure": "Autre",
                                              "source_file": "other.json"}])]
    expected = pd.concat(plain.frames["contracts"] + chunks[-1:], ignore_index=True)
    joined = decp.concat_compact(chunks)
    assert isinstance(joined["procedure"].dtype, pd.CategoricalDtype)
    kept, merged = decp.deduplicate(joined)
    expected_kept, expected_merged = decp.deduplicate(expected)
    pd.testing.assert_frame_equal(decp.restore_frame(kept), expected_kept, check_exact=True)
    assert merged[merged > 0].to_dict() == expected_merged[expected_merged > 0].to_dict()


@SETTINGS
@given(children=st.lists(st.tuples(st.sampled_from(["a_1", "a_2", "b_1", None]),
                                   st.sampled_from(["f1.json", "f2.json", None]),
                                   st.sampled_from(["marche[0]", "marche[1]", None])),
                         max_size=15),
       parents=st.lists(st.tuples(st.sampled_from(["a_1", "a_2", "b_1", "c_1", None]),
                                  st.sampled_from(["f1.json", "f2.json", None]),
                                  st.sampled_from(["marche[0]", "marche[1]", None])),
                        max_size=6),
       index_offset=st.integers(0, 3))
def test_keep_children_matches_the_merge(children, parents, index_offset):
    key = ["uid", "source_file", "source_record"]
    frame = decp.plain_frame([dict(zip(key, row)) | {"titulaire_id": str(i)}
                              for i, row in enumerate(children)], decp.SUPPLIER_COLUMNS)
    frame.index = frame.index + index_offset
    kept = decp.contracts_frame([dict(zip(key, row)) for row in parents])
    got = decp.keep_children(frame, kept)
    expected = frame if frame.empty else frame.merge(kept[key], on=key, how="inner")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
