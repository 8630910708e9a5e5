"""Maps: French legends, small-cell safety, scale bar, and interactive pages that work offline."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.text import Text
from shapely.geometry import box

from analysis import maps

K = 5
VENDOR = Path(maps.__file__).parent / "templates" / "vendor" / "leaflet"


# --- Fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def squares() -> gpd.GeoDataFrame:
    """A 3 × 3 grid of 10 km squares near Paris (Lambert-93), two « départements »."""
    rows = []
    for i in range(3):
        for j in range(3):
            n = 3 * i + j
            x, y = 640_000 + 10_000 * j, 6_850_000 + 10_000 * i
            rows.append({"code": f"9{n}001", "nom": f"Commune {n}",
                         "departement": "91" if j < 2 else "92",
                         "population": 20_000 + 1_000 * n,
                         "geometry": box(x, y, x + 10_000, y + 10_000)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=maps.LAMBERT_93)


@pytest.fixture
def rated(squares) -> gpd.GeoDataFrame:
    """Counts of people per square, through the disclosure gate: one no-data square, small
    counts (3 and 2) hidden, and their complements."""
    counts = pd.Series(RAW_COUNTS, index=squares["code"])
    table = maps.rate_per_10000(counts, squares.set_index("code")["population"], k=K)
    return squares.merge(table.drop(columns="population"), left_on="code", right_index=True)


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


RAW_COUNTS = [40, 3, 55, 61, 2, 70, 90, 84, np.nan]


def _numbers(texts: list[str]) -> set[str]:
    """Every number written in the texts, as written."""
    return set(re.findall(r"\d[\d\u202f]*(?:[.,]\d+)?", " ".join(texts)))


def _hidden_rates(rated) -> list[float]:
    raw = pd.Series(RAW_COUNTS, index=rated["code"].to_numpy())
    hidden = rated.set_index("code")["secret"]
    population = rated.set_index("code")["population"]
    return list((raw / population * 1e4)[hidden])


def _page(fragment) -> str:
    """The page inside the ``<iframe srcdoc>`` of an :func:`maps.interactive_map` output."""
    found = re.search(r"srcdoc='([^']*)'", fragment.data)
    assert found, "iframe srcdoc absent"
    return html.unescape(found.group(1))


class _Links(HTMLParser):
    """Every src/href/data attribute of an HTML document (script contents are not markup)."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "data", "srcset", "poster") and value:
                self.links.append((tag, name, value))


def _links(document: str) -> list[tuple[str, str, str]]:
    parser = _Links()
    parser.feed(document)
    return parser.links


def _features(page: str) -> list[dict]:
    found = re.search(r"_add\((\{.*?\"type\": \"FeatureCollection\"\})\);", page, re.S)
    assert found, "GeoJSON absent"
    return json.loads(found.group(1))["features"]


# --- Disclosure --------------------------------------------------------------------------------


def test_rate_per_10000_hides_small_counts_and_their_complements(squares):
    counts = pd.Series([40, 3, 55, 61, 2, 70, 90, 84, 0], index=squares["code"])
    population = squares.set_index("code")["population"]
    primary = maps.rate_per_10000(counts, population, k=K, groups=None)
    assert primary["secret"].tolist() == [False, True, False, False, True, False, False, False,
                                          False]
    assert primary["effectif"].isna().tolist() == primary["secret"].tolist()
    assert primary["taux_10000"].isna().tolist() == primary["secret"].tolist()
    assert primary.loc["90001", "taux_10000"] == pytest.approx(40 / 20_000 * 1e4)
    assert primary.loc["98001", "taux_10000"] == 0  # a zero is published

    # Auto groups: communes by département (the first two characters of the code, 90.. 98 here
    # are nine groups of one) — use explicit groups to model two départements.
    groups = squares.set_index("code")["departement"]
    protected = maps.rate_per_10000(counts, population, k=K, groups=groups)
    hidden = protected.index[protected["secret"]]
    for dep in ("91", "92"):
        members = groups.index[groups.eq(dep)]
        n_hidden = protected.loc[members, "secret"].sum()
        # No département holds a single hidden commune (else total − published parts shows it),
        # and the hidden ones never add up to 1..k−1.
        assert n_hidden != 1
        if n_hidden:
            assert counts[members][protected.loc[members, "secret"]].sum() >= K
    assert {"91001", "94001"} <= set(hidden)


def test_rate_per_10000_without_data_or_population_is_not_secret():
    counts = pd.Series([12.0, np.nan, 7.0], index=["75056", "93001", "93002"])
    population = pd.Series([2_100_000, 5_000, 0], index=counts.index)
    table = maps.rate_per_10000(counts, population, k=K, groups=None)
    assert not table["secret"].any()
    assert table["taux_10000"].isna().tolist() == [False, True, True]


# --- Classes and labels ------------------------------------------------------------------------


def test_class_labels_are_french():
    labels = maps.class_labels([12.5, 20.0], [20.0, 1234.5], 1, maps.RATE_UNIT)
    assert labels == ["12,5 – 20,0 pour 10\u202f000 hab.",
                      "20,0 – 1\u202f234,5 pour 10\u202f000 hab."]
    assert maps.class_labels([0], [0], 1) == ["0"]


def test_fisher_jenks_matches_mapclassify():
    import mapclassify

    rng = np.random.default_rng(4)
    y = np.round(rng.lognormal(2, 1, 120), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mapclassify.FisherJenks(y, k=4).bins
    np.testing.assert_allclose(maps.class_breaks(y, "fisher_jenks", 4), expected)
    assert len(maps.class_breaks([1, 1, 2], "quantiles", 5)) == 2  # fewer distinct values


# --- Static maps -------------------------------------------------------------------------------


def test_choropleth_legend_scale_bar_and_secret(rated):
    hidden_rates = _hidden_rates(rated)
    assert len(hidden_rates) >= 2
    fig = maps.choropleth(rated, "taux_10000", secret="secret", k=K,
                          title="Bénéficiaires pour 10 000 habitants",
                          legend_title="Bénéficiaires", unit=maps.RATE_UNIT,
                          source="Source : données de test.")
    texts = _texts(fig)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "sans donnée" in legend
    assert "secret statistique (moins de 5)" in legend
    classes = [t for t in legend if t.endswith(maps.RATE_UNIT)]
    assert classes and all(re.fullmatch(r"[\d\u202f]+(,\d)?( – [\d\u202f]+,\d)? pour 10\u202f000 "
                                        r"hab\.", t) for t in classes)
    assert fig.axes[0].get_legend().get_title().get_text() == "Bénéficiaires"
    assert "Bénéficiaires pour 10 000 habitants" in texts
    assert any(t.endswith(" km") for t in texts)
    assert [a for a in fig.axes[0].artists if a.get_gid() == "barre-echelle"]
    assert any(t.startswith("s : secret statistique") for t in texts)
    # The hidden units are hatched, one polygon each.
    hatched = [c for c in fig.axes[0].collections if c.get_hatch() == maps.SECRET_HATCH]
    assert sum(len(c.get_paths()) for c in hatched) == int(rated["secret"].sum())
    # No hidden value anywhere in the figure's text.
    numbers = _numbers(texts)
    for value in hidden_rates:
        assert f"{value:.1f}".replace(".", ",") not in numbers
        assert f"{value:.2f}".replace(".", ",") not in numbers
    plt.close(fig)


def test_choropleth_classes_ignore_hidden_values(squares):
    frame = squares.assign(valeur=[1.0, 2, 3, 4, 5, 6, 7, 8, 987.6],
                           cache=[False] * 8 + [True])
    fig = maps.choropleth(frame, "valeur", secret="cache", k=K, n_classes=3, decimals=1)
    joined = " ".join(_texts(fig))
    assert "987" not in joined
    assert "8,0" in joined  # the largest published value bounds the last class
    plt.close(fig)


def test_choropleth_people_columns_hide_small_counts(squares):
    frame = squares.assign(beneficiaires=[0, 1, 2, 3, 4, 25, 30, 35, 40])
    fig = maps.choropleth(frame, "beneficiaires", people_columns=["beneficiaires"], k=K,
                          decimals=0, annotate=True, n_classes=3)
    texts = _texts(fig)
    for small in ("1", "2", "3", "4"):
        assert small not in texts
    assert texts.count("s") == 4
    assert "secret statistique (moins de 5)" in texts
    plt.close(fig)


def test_departement_choropleth_from_a_table(squares):
    deps = maps.departement_layer(squares)
    assert sorted(deps["code"]) == ["91", "92"]
    assert deps.area.sum() == pytest.approx(squares.area.sum())
    table = pd.DataFrame({"code": ["91", "92"], "taux": [12.5, 20.0]})
    fig = maps.choropleth(table, "taux", geography=deps, level="departement", unit="%",
                          annotate=True, north_arrow=False)
    texts = _texts(fig)
    assert "12,5" in texts and "20,0" in texts
    assert "N" not in texts
    plt.close(fig)


def test_proportional_symbols_structures_and_people(squares):
    structures = squares.assign(structures=[0, 1, 2, 3, 10, 30, 60, 90, 120])
    fig = maps.proportional_symbols(structures, "structures", legend_title="Structures")
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["100", "30", "10"]  # three round reference values
    sizes = [c for c in ax.collections if isinstance(c, PathCollection)][0].get_sizes()
    assert len(sizes) == 8 and sizes.max() == pytest.approx(900.0)  # zero: no circle
    assert any(t.endswith(" km") for t in _texts(fig))
    plt.close(fig)

    people = squares.assign(beneficiaires=[0, 1, 2, 3, 4, 6, 7, 8, 9])
    fig = maps.proportional_symbols(people, "beneficiaires", people=True, k=K,
                                    legend_title="Bénéficiaires")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "secret statistique (moins de 5)" in legend
    assert all(int(t) >= K for t in legend if t.isdigit())
    circles = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)
               and c.get_sizes().max() > 100]
    assert len(circles[0].get_sizes()) == 4  # 6, 7, 8, 9 (1..4 hidden, 0 not drawn)
    plt.close(fig)


def test_real_communes_choropleth_and_symbols():
    communes = maps.commune_layer()
    assert len(communes) == 1266 and communes.crs.to_epsg() == 2154
    assert len(maps.commune_layer(paris="arrondissements")) == 1266 - 1 + 20
    rng = np.random.default_rng(11)
    counts = pd.Series(rng.poisson(6, len(communes)), index=communes["code"])
    table = maps.rate_per_10000(counts, communes.set_index("code")["population"])
    assert table["secret"].any()
    for dep, group in table.groupby(table.index.str[:2]):
        if len(group) > 1:  # Paris is alone: its count is the département's
            assert group["secret"].sum() != 1, dep
            assert not 1 <= counts[group.index[group["secret"]]].sum() < 5, dep
    fig = maps.choropleth(table, "taux_10000", secret="secret", unit=maps.RATE_UNIT,
                          title="Test", legend_title="Taux")
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    assert 560_000 < x0 < 600_000 and 740_000 < x1 < 780_000  # Lambert-93 metres
    texts = _texts(fig)
    assert "secret statistique (moins de 5)" in texts
    assert "20 km" in texts
    plt.close(fig)


# --- Interactive map ---------------------------------------------------------------------------


def test_interactive_map_is_offline_and_hides_secrets(rated):
    fragment = maps.interactive_map(
        rated, "taux_10000", tooltip=["nom", "population", "effectif", "taux_10000"],
        aliases={"nom": "Commune", "population": "Population", "effectif": "Bénéficiaires"},
        secret="secret", people_columns=["effectif"], k=K, title="Carte de test",
        legend_title="Bénéficiaires pour 10 000 hab.", caption="Légende de la figure.")
    outer = fragment.data
    page = _page(fragment)
    for document in (outer, page):
        external = [link for link in _links(document)
                    if re.match(r"\s*(https?:)?//", link[2], re.I)]
        assert not external, external
    assert not re.search(r"<(script|link)\b[^>]*\b(src|href)=", page)
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page and "code.jquery" not in page
    assert f"Leaflet {maps.LEAFLET_VERSION}" in page  # inlined, not linked
    assert "url(images/" not in page and "sourceMappingURL" not in page
    assert "Légende de la figure." in outer and 'title="Carte de test"' in outer

    features = _features(page)
    by_code_name = {f["properties"]["nom"]: f["properties"] for f in features}
    hidden_names = rated.loc[rated["secret"], "nom"]
    assert len(hidden_names) >= 2
    for name in hidden_names:
        props = by_code_name[name]
        assert props["effectif"] == "s" and props["taux_10000"] == "s"
        assert props["population"] != "s"
    # Only display strings reach the page: no numeric property at all.
    assert all(isinstance(v, str) for f in features for v in f["properties"].values())
    assert by_code_name["Commune 8"]["taux_10000"] == "–"  # no data
    assert "secret statistique (moins de 5)" in page and "sans donnée" in page
    assert 'class="obs-legend"' in page
    assert "obs-secret" in page


def test_interactive_map_real_communes_size_and_points():
    communes = maps.commune_layer()
    rng = np.random.default_rng(5)
    counts = pd.Series(rng.poisson(8, len(communes)), index=communes["code"])
    table = maps.rate_per_10000(counts, communes.set_index("code")["population"])
    layer = communes.merge(table.drop(columns="population"), left_on="code", right_index=True)
    fragment = maps.interactive_map(layer, "taux_10000", tooltip=["nom", "effectif"],
                                    secret="secret", people_columns=["effectif"])
    assert len(fragment.data) < 2_000_000
    page = _page(fragment)
    maps.assert_offline(page)
    ring = _features(page)[0]["geometry"]["coordinates"][0]
    ring = ring[0] if isinstance(ring[0][0], list) else ring
    assert all(len(repr(v).split(".")[-1]) <= 4 for xy in ring for v in xy)

    points = communes.head(30).copy()
    points["geometry"] = points.geometry.centroid
    points["structures"] = np.arange(30)
    fragment = maps.interactive_map(points, "structures", decimals=0)
    maps.assert_offline(_page(fragment))


def test_assert_offline_catches_cdn_links():
    with pytest.raises(RuntimeError):
        maps.assert_offline('<script src="https://cdn.jsdelivr.net/npm/leaflet.js"></script>')
    with pytest.raises(RuntimeError):
        maps.assert_offline('<link rel="stylesheet" href="//example.org/a.css"/>')
    maps.assert_offline('<svg xmlns="http://www.w3.org/2000/svg"></svg><a href="#x">x</a>')


def test_vendored_leaflet_matches_its_readme():
    readme = (VENDOR / "README.md").read_text()
    assert maps.LEAFLET_VERSION in readme
    for name, digest in re.findall(r"\| `([\w.-]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|", readme):
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert (VENDOR / "LICENSE").read_text().startswith("BSD 2-Clause License")


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("chromium ou chromedriver absent")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--window-size=1000,700"):
        options.add_argument(argument)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_interactive_map_in_headless_chromium(rated, tmp_path):
    fragment = maps.interactive_map(rated, "taux_10000", tooltip=["nom", "effectif"],
                                    secret="secret", people_columns=["effectif"], k=K,
                                    title="Carte de test")
    path = tmp_path / "carte.html"
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head>"
                    f"<body>{fragment.data}</body></html>", encoding="utf-8")
    browser = _browser()
    try:
        browser.set_page_load_timeout(20)
        browser.get(path.as_uri())
        browser.switch_to.frame(0)
        n_paths = browser.execute_script(
            "return document.querySelectorAll('path.leaflet-interactive').length")
        n_secret = browser.execute_script(
            "return document.querySelectorAll('path.obs-secret').length")
        fill = browser.execute_script(
            "const p = document.querySelector('path.obs-secret');"
            "return p ? getComputedStyle(p).fill : null")
        errors = [entry for entry in browser.get_log("browser")
                  if entry["level"] in ("SEVERE", "WARNING")]
        requests = [json.loads(entry["message"])["message"]
                    for entry in browser.get_log("performance")]
    finally:
        browser.quit()
    assert n_paths == len(rated)
    assert n_secret == int(rated["secret"].sum())
    assert fill and "obs-hatch" in fill
    assert not errors, errors
    urls = {m["params"]["request"]["url"] for m in requests
            if m["method"] == "Network.requestWillBeSent"}
    assert all(u.startswith(("file:", "data:", "about:")) for u in urls), urls
    assert not [m for m in requests if m["method"] == "Network.loadingFailed"]


def test_matplotlib_backend_is_headless():
    assert matplotlib.get_backend().lower() == "agg"
