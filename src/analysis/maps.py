"""The report maps: choropleths and proportional symbols (static), and offline interactive maps.

Static maps are matplotlib figures in the région's projection (metres: Lambert-93, EPSG:2154, in
metropolitan France, the local UTM projection overseas; :func:`projection`), in the house style of
:mod:`analysis.plots`, to be embedded with :func:`analysis.present.figure_html`:

* :func:`choropleth` — communes or départements coloured by class (quantiles or Fisher-Jenks,
  :mod:`mapclassify`), département borders over commune maps, a scale bar, a north arrow, a
  legend in French; units without data in light grey (« sans donnée »), units under statistical
  secrecy hatched (« secret statistique (moins de k) »);
* :func:`proportional_symbols` — circles at commune centroids, their area proportional to a
  count, with a three-circle size legend.

:func:`interactive_map` builds a Leaflet page with :meth:`geopandas.GeoDataFrame.explore`
(folium) that requests nothing from any host: no basemap tiles, no CDN — the vendored Leaflet
(``templates/vendor/leaflet/``) is inlined and the legend is plain HTML.

Disclosure. Maps of people go through the same gate as tables (:mod:`analysis.disclosure`):
:func:`rate_per_10000` suppresses small counts (primary and secondary suppression against the
totals of the enclosing territory) and hides the rates derived from them; every map function
takes the resulting ``secret`` flag, never shows a hidden value (not in a class, a label, a
tooltip or a legend bound: classes are computed on published values only) and, for columns
declared as counts of people, hides any value from 1 to *k* − 1 it is given. Counts of
organisations (inclusion structures, buyers) identify nobody and are shown as they are.

Geography comes from :mod:`analysis.reference`: :func:`commune_layer` (Paris as one commune,
75056, like the indicators, or as its 20 arrondissements) and :func:`departement_layer` (the
communes dissolved by département).
"""

from __future__ import annotations

import base64
import functools
import html
import math
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import geopandas as gpd
import mapclassify
import matplotlib

matplotlib.use("Agg")  # rendering to files and notebooks; never needs a screen

import matplotlib.patheffects as path_effects  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # noqa: E402

from . import config, disclosure  # noqa: E402
from .plots import PALETTE, apply_style  # noqa: E402
from .present import number_fr  # noqa: E402

#: Projection of metropolitan France's maps (metres); the maps of a région are drawn in
#: :func:`projection` (:func:`analysis.config.map_crs`: a local UTM projection overseas).
LAMBERT_93 = config.LAMBERT_93


def projection() -> str:
    """The projected CRS of the région in force's maps (metres): Lambert-93 in metropolitan
    France, the local UTM projection overseas (:data:`analysis.config.MAP_CRS`)."""
    return config.map_crs()
#: Inhabitants per rate unit.
PER = 10_000
#: Unit appended to rate classes: « 12,5 – 20,0 pour 10 000 hab. ».
RATE_UNIT = "pour 10\u202f000 hab."
#: Legend label of units without data.
NO_DATA_LABEL = "sans donnée"
#: Symbol written in place of a hidden value (labels, tooltips).
SECRET_SYMBOL = disclosure.SECRET_SYMBOL
#: Classification schemes offered (French names in parentheses in the docstrings).
SCHEMES = ("quantiles", "fisher_jenks")
#: Default sequential colour map (light to the house's dark blue).
DEFAULT_CMAP = "Blues"

NO_DATA_COLOR = "#d9d9d9"
SECRET_FACE = "#ffffff"
SECRET_HATCH_COLOR = "#8a8a8a"
SECRET_HATCH = "/////"
BASE_FACE = "#f1f1f1"
UNIT_EDGE = "#ffffff"
BORDER_COLOR = "#3a3a3a"

#: Where the vendored Leaflet lives (``README.md`` there gives source, version and checksums).
LEAFLET_VERSION = "1.9.4"
_VENDOR = ("templates", "vendor", "leaflet")


def class_legend(ax, colors, labels, missing: bool, hidden: bool, k: int | None,
                 title: str) -> None:
    """The legend of a choropleth beside ``ax``: one patch per class, then « no data » and the
    secret hatch when the map has them."""
    handles = [Patch(facecolor=c, edgecolor="#bbbbbb", linewidth=0.5, label=label)
               for c, label in zip(colors, labels, strict=True)]
    if missing:
        handles.append(Patch(facecolor=NO_DATA_COLOR, edgecolor="#bbbbbb", linewidth=0.5,
                             label=NO_DATA_LABEL))
    if hidden:
        handles.append(Patch(facecolor=SECRET_FACE, edgecolor=SECRET_HATCH_COLOR,
                             hatch=SECRET_HATCH, linewidth=0.5, label=secret_label(k)))
    if handles:
        ax.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                  fontsize=9, title_fontsize=10, alignment="left", handlelength=1.6,
                  handleheight=1.2)


def secret_label(k: int | None = None) -> str:
    """Legend label of hidden units: « secret statistique (moins de 5) »."""
    return f"secret statistique (moins de {_k(k)})"


# --- Geography ---------------------------------------------------------------------------------


def _reference(path: str | None) -> gpd.GeoDataFrame:
    """The reference communes in the région's projection (cached by file and projection, so a
    change of région never reuses another's communes)."""
    return _reference_cached(str(Path(path) if path else config.paths().communes), projection())


@functools.lru_cache(maxsize=4)
def _reference_cached(path: str, crs: str) -> gpd.GeoDataFrame:
    from .reference import load_communes

    return load_communes(Path(path)).to_crs(crs)


def commune_layer(communes: gpd.GeoDataFrame | None = None, paris: str = "commune",
                  territory: str | None = None) -> gpd.GeoDataFrame:
    """Commune polygons in the région's projection, one row per map unit.

    Parameters
    ----------
    communes
        The reference communes (:func:`analysis.reference.load_communes`); loaded when omitted.
    paris
        ``"commune"``: a city with arrondissements (Paris, Lyon, Marseille) as one unit, as the
        indicators count it; ``"arrondissements"``: its arrondissements instead.
    territory
        The région's code (default: the whole reference) or one of its départements.

    Returns
    -------
    GeoDataFrame
        ``code, nom, departement, population, geometry`` (in :func:`projection`), sorted by code.
    """
    if paris not in ("commune", "arrondissements"):
        raise ValueError(f"paris : « commune » ou « arrondissements » attendu, pas {paris!r}")
    frame = _reference(None) if communes is None else communes.to_crs(projection())
    if paris == "commune":
        keep = frame["type"].eq("COM")
    else:
        # Cities with arrondissements (Paris, Lyon, Marseille) drawn as their arrondissements.
        parents = set(frame.loc[frame["type"].eq("ARM"), "commune_parent"].dropna().astype(str))
        keep = frame["type"].eq("ARM") | (frame["type"].eq("COM")
                                          & ~frame["code_insee"].astype(str).isin(parents))
    frame = frame.loc[keep]
    if territory is not None:
        frame = frame.loc[frame["departement"].isin(config.territory_departements(territory))]
    out = gpd.GeoDataFrame({
        "code": frame["code_insee"].astype(str).to_numpy(),
        "nom": frame["nom"].astype(str).to_numpy(),
        "departement": frame["departement"].astype(str).to_numpy(),
        "population": frame["population_municipale"].astype("int64").to_numpy(),
    }, geometry=frame.geometry.to_numpy(), crs=projection())
    return out.sort_values("code", ignore_index=True)


def departement_layer(communes: gpd.GeoDataFrame | None = None,
                      territory: str | None = None) -> gpd.GeoDataFrame:
    """Département polygons in the région's projection, obtained by dissolving the communes.

    Parameters
    ----------
    communes
        Either the reference communes or the output of :func:`commune_layer` (any frame with a
        ``departement`` column); loaded when omitted.
    territory
        The région's code (default) or one of its départements.

    Returns
    -------
    GeoDataFrame
        ``code, nom, population, geometry`` (in :func:`projection`), one row per département.
    """
    if communes is None or "code_insee" in communes.columns:
        communes = commune_layer(communes, territory=territory)
    elif territory is not None:
        communes = communes.loc[communes["departement"].isin(
            config.territory_departements(territory))]
    communes = communes.to_crs(projection()) if communes.crs is not None else communes
    rows = []
    for code, group in communes.groupby("departement", sort=True):
        geometry = shapely.union_all(shapely.make_valid(group.geometry.to_numpy()))
        population = group["population"].sum() if "population" in group else pd.NA
        rows.append({"code": str(code), "nom": config.DEPARTEMENTS.get(str(code), str(code)),
                     "population": population, "geometry": geometry})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=communes.crs)


# --- Disclosure --------------------------------------------------------------------------------


def rate_per_10000(counts: pd.Series, population: pd.Series, k: int | None = None,
                   groups: pd.Series | str | None = "auto", per: int = PER) -> pd.DataFrame:
    """People per 10 000 inhabitants by territory, small cells suppressed.

    Parameters
    ----------
    counts
        Number of people by territory code (index); missing means « sans donnée ».
    population
        Population by the same codes.
    k
        Threshold; default :func:`analysis.config.suppression_k`.
    groups
        Which published total each territory adds up to, so that no hidden count can be
        recomputed as « total − published parts » (secondary suppression,
        :func:`analysis.disclosure.protect` with a total row per group). ``"auto"``: communes
        (5-character codes) by their département (the first two characters), départements
        all together (their total is the région's); a Series maps codes to groups; ``None``
        applies primary suppression only — right only if no total of these counts is
        published anywhere.
    per
        Inhabitants per rate unit.

    Returns
    -------
    DataFrame
        Indexed by code: ``effectif`` (``Int64``, missing when hidden), ``population``,
        ``taux_10000`` (NaN when hidden or without population) and ``secret`` (True when hidden:
        a count from 1 to k − 1, or a complement hiding one).
    """
    k = _k(k)
    counts = pd.Series(counts)
    population = pd.Series(population).reindex(counts.index)
    frame = pd.DataFrame({"effectif": pd.to_numeric(counts, errors="coerce"),
                          "population": pd.to_numeric(population, errors="coerce")},
                         index=counts.index)
    pop = frame["population"].where(frame["population"] > 0)
    frame["taux_10000"] = frame["effectif"] / pop * per
    known = frame["effectif"].notna()
    secret = pd.Series(False, index=frame.index)
    if isinstance(groups, str) and groups == "auto":
        codes = frame.index.astype(str)
        if len(codes) and all(len(c) == 5 for c in codes):
            groups = pd.Series([c[:2] for c in codes], index=frame.index)
        elif len(codes) and all(len(c) <= 3 for c in codes):
            groups = pd.Series("ensemble", index=frame.index)
        else:
            groups = None
    if groups is not None and not isinstance(groups, str):
        groups = pd.Series(groups).reindex(frame.index)
    blocks = ([frame.index[known]] if groups is None else
              [idx for _, idx in frame.loc[known].groupby(groups[known], dropna=False).groups
               .items()])
    for index in blocks:
        block = frame.loc[index, ["effectif", "taux_10000"]].copy()
        block["effectif"] = block["effectif"].astype("int64")
        margins = None
        if groups is not None:
            total = pd.DataFrame({"effectif": [int(block["effectif"].sum())],
                                  "taux_10000": [np.nan]}, index=["__total__"])
            block = pd.concat([block, total])
            margins = disclosure.Margins(total_row="__total__")
        protected = disclosure.protect(block, ["effectif"], k=k, margins=margins,
                                       derived={"taux_10000": "effectif"})
        hidden = protected.mask["effectif"].drop("__total__", errors="ignore")
        secret.loc[hidden.index] = hidden.to_numpy()
    out = frame.copy()
    out["effectif"] = out["effectif"].round().astype("Int64").mask(secret)
    out["taux_10000"] = out["taux_10000"].mask(secret)
    out["secret"] = secret.astype(bool)
    return out


def _k(k: int | None) -> int:
    k = config.suppression_k() if k is None else int(k)
    if k < 1:
        raise ValueError(f"seuil de secret invalide : {k}")
    return k


def _secret_mask(frame: pd.DataFrame, secret, column: str, people_columns: Sequence[str],
                 k: int) -> pd.Series:
    """Rows whose value must not be shown: the given flag, NaN + flag, small people counts."""
    if secret is None:
        mask = pd.Series(False, index=frame.index)
    elif isinstance(secret, str):
        mask = frame[secret].fillna(False).astype(bool)
    else:
        values = secret.reindex(frame.index) if isinstance(secret, pd.Series) else secret
        mask = pd.Series(np.asarray(values, dtype=bool), index=frame.index)
    if column in people_columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        mask = mask | ((values >= 1) & (values < k)).fillna(False)
    return mask.astype(bool)


# --- Classes and labels ------------------------------------------------------------------------


def class_breaks(values, scheme: str = "quantiles", n_classes: int = 5,
                 bins: Sequence[float] | None = None) -> np.ndarray:
    """Upper bounds of the classes of ``values`` (published values only, missing ignored).

    Parameters
    ----------
    values
        The values to class.
    scheme
        ``"quantiles"`` (same number of units per class) or ``"fisher_jenks"`` (natural breaks).
    n_classes
        Number of classes wanted; fewer when there are fewer distinct values.
    bins
        Fixed upper bounds instead (to compare maps); the maximum is added when above them.

    Returns
    -------
    numpy.ndarray
        Increasing upper bounds, the last one the maximum.
    """
    y = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    if y.size == 0:
        return np.array([])
    if bins is not None:
        edges = np.unique(np.asarray(bins, dtype=float))
        if y.max() > edges[-1]:
            edges = np.append(edges, y.max())
        return edges
    distinct = np.unique(y)
    n = max(1, min(int(n_classes), distinct.size))
    if distinct.size <= n:
        return distinct
    if scheme == "quantiles":
        edges = mapclassify.Quantiles(y, k=n).bins
    elif scheme == "fisher_jenks":
        edges = _fisher_jenks(y, n) if y.size <= 4000 else mapclassify.FisherJenksSampled(
            y, k=n).bins
    else:
        raise ValueError(f"méthode de classes inconnue : {scheme!r} (attendu : {SCHEMES})")
    return np.unique(np.asarray(edges, dtype=float))


def _fisher_jenks(y: np.ndarray, n: int) -> np.ndarray:
    """Fisher's optimal partition of ``y`` in ``n`` classes (the Jenks natural breaks): the
    dynamic programme on sorted values, vectorised with numpy (mapclassify's own version is
    slow without numba). Returns the class maxima."""
    y = np.sort(y)
    size = y.size
    s1 = np.concatenate([[0.0], np.cumsum(y)])
    s2 = np.concatenate([[0.0], np.cumsum(y * y)])
    a = np.arange(size)[:, None]
    b = np.arange(size)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        count = (b - a + 1).astype(float)
        cost = (s2[b + 1] - s2[a]) - (s1[b + 1] - s1[a]) ** 2 / count
    cost = np.where(b >= a, np.maximum(cost, 0.0), np.inf)
    best = cost[0].copy()
    starts = []
    for _ in range(1, n):
        previous = np.concatenate([[np.inf], best[:-1]])  # best of a split ending at a - 1
        total = previous[:, None] + cost
        start = np.argmin(total, axis=0)
        best = total[start, np.arange(size)]
        starts.append(start)
    edges = [y[-1]]
    end = size - 1
    for start in reversed(starts):
        first = start[end]
        edges.append(y[first - 1])
        end = first - 1
    return np.unique(np.asarray(edges[::-1], dtype=float))


def class_labels(lower: Sequence[float], upper: Sequence[float], decimals: int = 1,
                 unit: str = "") -> list[str]:
    """French labels of classes: ``["5,0 – 12,5 pour 10 000 hab.", ...]`` (one value alone when
    a class holds a single one)."""
    suffix = f" {unit}" if unit else ""
    labels = []

    def fmt(value):
        return "0" if value == 0 else number_fr(value, decimals)

    for low, high in zip(lower, upper, strict=True):
        if fmt(low) == fmt(high):
            labels.append(f"{fmt(high)}{suffix}")
        else:
            labels.append(f"{fmt(low)} – {fmt(high)}{suffix}")
    return labels


def class_colors(n: int, cmap: str = DEFAULT_CMAP) -> list[str]:
    """``n`` colours of a sequential map, the lightest still distinct from the no-data grey."""
    colormap = plt.get_cmap(cmap)
    if n <= 0:
        return []
    if n == 1:
        return [to_hex(colormap(0.6))]
    return [to_hex(colormap(x)) for x in np.linspace(0.18, 0.92, n)]


def _classify(values: pd.Series, published: pd.Series, scheme: str, n_classes: int,
              bins, decimals: int, unit: str, cmap: str):
    """Class index (−1: not classed), colours and labels of the published values."""
    shown = pd.to_numeric(values, errors="coerce").where(published)
    edges = class_breaks(shown, scheme, n_classes, bins)
    index = pd.Series(-1, index=values.index)
    if edges.size == 0:
        return index, [], []
    valid = shown.notna()
    index[valid] = np.searchsorted(edges, shown[valid].to_numpy(), side="left")
    index = index.clip(upper=len(edges) - 1)
    if bins is None:
        # Each class from its smallest to its largest published value: no overlap, no gap
        # that would need an open bound; empty classes (ties in quantiles) are dropped.
        present = sorted(index[valid].unique())
        groups = shown[valid].groupby(index[valid])
        lower, upper = groups.min().reindex(present), groups.max().reindex(present)
        index = index.map({c: i for i, c in enumerate(present)}).fillna(-1).astype(int)
        n = len(present)
    else:
        upper = pd.Series(edges)
        lower = pd.Series([float(shown.min()), *edges[:-1]])
        n = len(edges)
    labels = class_labels(lower.to_numpy(), upper.to_numpy(), decimals, unit)
    return index, class_colors(n, cmap), labels


def classes_shown(values: pd.Series, published: pd.Series, scheme: str = "quantiles",
                  n_classes: int = 5, bins: Sequence[float] | None = None) -> int:
    """How many classes a map of ``values`` shows (fewer than asked when values tie or are few),
    for its alternative text."""
    _, colors, _ = _classify(values, published.fillna(False).astype(bool), scheme, n_classes,
                             bins, 1, "", DEFAULT_CMAP)
    return len(colors)


# --- Static maps -------------------------------------------------------------------------------


def _nice(value: float) -> float:
    """The largest 1-2-5 number not above ``value``."""
    if value <= 0:
        return 0.0
    exponent = math.floor(math.log10(value))
    for step in (5, 2, 1):
        if step * 10 ** exponent <= value:
            return step * 10 ** exponent
    return 10 ** exponent


def add_scale_bar(ax, length_km: float | None = None) -> AnchoredSizeBar:
    """A scale bar in kilometres under the map's lower left corner (the axes must be in
    metres, as Lambert-93 is).

    The length defaults to a round 1-2-5 number near a fifth of the map's width.
    """
    if length_km is None:
        x0, x1 = ax.get_xlim()
        length_km = max(_nice(abs(x1 - x0) / 1000 / 5), 0.1)
    label = f"{number_fr(length_km, 0 if length_km >= 1 else 1)} km"
    y0, y1 = ax.get_ylim()
    bar = AnchoredSizeBar(ax.transData, length_km * 1000, label, loc="upper left",
                          bbox_to_anchor=(0.0, 0.0), bbox_transform=ax.transAxes, pad=0.2,
                          borderpad=0.2, sep=3, frameon=False, color=BORDER_COLOR,
                          size_vertical=abs(y1 - y0) / 180,
                          fontproperties=FontProperties(size=9))
    bar.set_gid("barre-echelle")
    ax.add_artist(bar)
    return bar


def add_north_arrow(ax, x: float = 1.04, y: float = 0.0) -> None:
    """A small north arrow, its foot at ``(x, y)`` in axes fraction (default: just right of
    the map's lower right corner). In the projection of the région (Lambert-93,
    or a UTM zone overseas) north is close to grid north over one région (a few degrees at most
    at the edges of metropolitan France)."""
    ax.annotate("", xy=(x, y + 0.10), xytext=(x, y + 0.02), xycoords="axes fraction",
                arrowprops={"facecolor": BORDER_COLOR, "edgecolor": BORDER_COLOR,
                            "width": 2.5, "headwidth": 9, "headlength": 9}, gid="fleche-nord")
    ax.text(x, y, "N", transform=ax.transAxes, ha="center", va="top", fontsize=10,
            fontweight="bold", color=BORDER_COLOR)


def _prepare(data, column: str, geography, level: str, key: str,
             territory: str | None) -> gpd.GeoDataFrame:
    """The units to draw, in the région's projection, with ``column`` (missing where there is no data)."""
    if isinstance(data, gpd.GeoDataFrame):
        frame = data.copy()
        if frame.crs is None:
            raise ValueError("système de coordonnées absent : attendu un CRS (projeté ou géographique)")
        return frame.to_crs(projection())
    table = pd.DataFrame(data)
    if key in table.columns:
        table = table.set_index(key)
    table.index = table.index.astype(str)
    if geography is None:
        if level == "commune":
            geography = commune_layer(territory=territory)
        elif level == "departement":
            geography = departement_layer(territory=territory)
        else:
            raise ValueError(f"niveau inconnu : {level!r} (attendu : commune, departement)")
        if territory is None and level == "commune":
            # The départements the data cover; their other communes show « sans donnée ».
            deps = geography.loc[geography["code"].isin(table.index), "departement"].unique()
            geography = geography.loc[geography["departement"].isin(deps)]
        elif territory is None:
            geography = geography.loc[geography["code"].isin(table.index)]
    geography = geography.to_crs(projection())
    code = "code" if "code" in geography.columns else "code_insee"
    extra = [c for c in table.columns if c not in geography.columns or c == column]
    merged = geography.drop(columns=[c for c in extra if c in geography.columns]).merge(
        table[extra], left_on=code, right_index=True, how="left")
    return gpd.GeoDataFrame(merged, geometry=geography.geometry.name, crs=projection())


def _borders(frame: gpd.GeoDataFrame, borders, level: str):
    if borders is False:
        return None
    if isinstance(borders, gpd.GeoDataFrame | gpd.GeoSeries):
        return borders.to_crs(projection())
    if borders is None and level == "commune" and "departement" in frame.columns:
        return departement_layer(frame)
    return None


def _finish(fig, ax, title, source, notes, scale_bar, north_arrow) -> None:
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left", fontsize=13, pad=10)
    if scale_bar:
        add_scale_bar(ax)
    if north_arrow:
        add_north_arrow(ax)
    lines = list(notes) + ([source] if source else [])
    fig.tight_layout()
    if lines:
        # Under the map and its scale bar (the axes box shrinks to the map: equal aspect).
        ax.annotate("\n".join(lines), xy=(0.0, 0.0), xycoords="axes fraction",
                    xytext=(0, -34 if scale_bar else -6), textcoords="offset points",
                    ha="left", va="top", fontsize=8, color="#444444", gid="notes")


def choropleth(data, column: str, *, geography: gpd.GeoDataFrame | None = None,
               level: str = "commune", key: str = "code", territory: str | None = None,
               secret=None, people_columns: Sequence[str] = (), k: int | None = None,
               title: str | None = None, legend_title: str | None = None, unit: str = "",
               scheme: str = "quantiles", n_classes: int = 5,
               bins: Sequence[float] | None = None, decimals: int = 1,
               cmap: str = DEFAULT_CMAP, borders=None, annotate: bool = False,
               scale_bar: bool = True, north_arrow: bool = True, source: str | None = None,
               figsize: tuple[float, float] = (9, 7)):
    """A choropleth map of communes or départements, in Lambert-93.

    Parameters
    ----------
    data
        A GeoDataFrame (drawn as it is, any CRS), or a table keyed by ``key`` (column or index:
        INSEE codes of communes or département codes) joined to ``geography``.
    column
        The value to map — preferably a rate (:func:`rate_per_10000`), not a raw count.
    geography
        Polygons with a ``code`` column; default :func:`commune_layer` or
        :func:`departement_layer` (per ``level``) for the départements the data cover.
    level
        ``"commune"`` or ``"departement"``.
    territory
        Restrict the default geography to a territory (the région's code or a département's).
    secret
        Hidden units: a boolean column name, a boolean Series or array (e.g. the ``secret``
        column of :func:`rate_per_10000`). Hidden units are hatched, their value is used
        nowhere (not even to compute the classes).
    people_columns
        Columns counting people; if ``column`` is one, any value from 1 to k − 1 is hidden too.
    k
        Threshold; default :func:`analysis.config.suppression_k`.
    title, legend_title, unit
        French title, legend title and unit appended to class labels (e.g. :data:`RATE_UNIT`).
    scheme, n_classes, bins
        Classification (:func:`class_breaks`): ``"quantiles"`` or ``"fisher_jenks"``, few
        classes (5 by default, fewer when there are fewer distinct values), or fixed bounds.
    decimals
        Decimals in the legend (0 for counts).
    cmap
        Sequential matplotlib colour map.
    borders
        Boundaries drawn over the units: default, the départements (dissolved) on commune
        maps; ``False`` for none; or a GeoDataFrame.
    annotate
        Write each unit's value (« s » when hidden) on it — for département maps.
    scale_bar, north_arrow
        Draw them.
    source
        A source line printed under the map (« Source : … »).
    figsize
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_style()
    k = _k(k)
    frame = _prepare(data, column, geography, level, key, territory)
    hidden = _secret_mask(frame, secret, column, people_columns, k)
    values = pd.to_numeric(frame[column], errors="coerce")
    published = values.notna() & ~hidden
    classes, colors, labels = _classify(values, published, scheme, n_classes, bins, decimals,
                                        unit, cmap)
    missing = ~published & ~hidden

    fig, ax = plt.subplots(figsize=figsize)
    edge = 0.15 if len(frame) > 200 else 0.4
    for index, color in enumerate(colors):
        part = frame.loc[classes.eq(index) & published]
        if len(part):
            part.plot(ax=ax, facecolor=color, edgecolor=UNIT_EDGE, linewidth=edge)
    if missing.any():
        frame.loc[missing].plot(ax=ax, facecolor=NO_DATA_COLOR, edgecolor=UNIT_EDGE,
                                linewidth=edge)
    if hidden.any():
        with plt.rc_context({"hatch.linewidth": 0.6}):
            frame.loc[hidden].plot(ax=ax, facecolor=SECRET_FACE, edgecolor=SECRET_HATCH_COLOR,
                                   hatch=SECRET_HATCH, linewidth=0)
        frame.loc[hidden].boundary.plot(ax=ax, color=UNIT_EDGE, linewidth=edge)
    outline = _borders(frame, borders, level)
    if outline is not None:
        outline.boundary.plot(ax=ax, color=BORDER_COLOR, linewidth=0.9)
    elif level == "departement":
        frame.boundary.plot(ax=ax, color=BORDER_COLOR, linewidth=0.9)

    if annotate:
        for (_, row), is_hidden, ok in zip(frame.iterrows(), hidden, published, strict=True):
            if is_hidden:
                text = SECRET_SYMBOL
            elif ok:
                text = number_fr(values[row.name], decimals)
            else:
                continue
            point = row.geometry.representative_point()
            ax.text(point.x, point.y, text, ha="center", va="center", fontsize=9,
                    color="#111111",
                    path_effects=[path_effects.withStroke(linewidth=2.5, foreground="white")])

    class_legend(ax, colors, labels, missing.any(), hidden.any(), k, legend_title)
    notes = [disclosure.footnote(k)] if hidden.any() else []
    _finish(fig, ax, title, source, notes, scale_bar, north_arrow)
    return fig


def _round_down(value: float) -> float:
    """``value`` floored to one significant digit: 37 → 30, 4 083 → 4 000."""
    if value <= 0:
        return 0.0
    unit = 10 ** math.floor(math.log10(value))
    return math.floor(value / unit) * unit


def _reference_values(maximum: float, minimum_shown: float) -> list[float]:
    """Three round values for a size legend, the largest near the maximum, none under
    ``minimum_shown``."""
    top = _round_down(maximum)
    candidates = [top, _round_down(top / 3), _round_down(top / 10)]
    return sorted({v for v in candidates if v >= minimum_shown and v > 0}, reverse=True)


def proportional_symbols(data, column: str, *, geography: gpd.GeoDataFrame | None = None,
                         level: str = "commune", key: str = "code",
                         territory: str | None = None, base: gpd.GeoDataFrame | None = None,
                         borders=None, secret=None, people: bool = False,
                         k: int | None = None, title: str | None = None,
                         legend_title: str | None = None, color: str = PALETTE["main"],
                         max_size: float = 900.0, scale_bar: bool = True,
                         north_arrow: bool = True, source: str | None = None,
                         figsize: tuple[float, float] = (9, 7)):
    """Circles at commune (or point) locations, their area proportional to a count.

    Counts of organisations — inclusion structures, buyers — identify nobody and are drawn as
    they are (``people=False``, the default). For counts of people (``people=True``) every value
    from 1 to k − 1 and every ``secret`` unit gets no circle (a small grey cross, « secret
    statistique »), and the size legend shows no reference value under k.

    Parameters
    ----------
    data
        A GeoDataFrame of points or polygons (circles at the centroids), or a table keyed by
        ``key`` joined to ``geography`` (as in :func:`choropleth`).
    column
        The count giving the circles' area; zero or missing: no circle.
    geography, level, territory
        As in :func:`choropleth`.
    base
        Polygons drawn in light grey underneath; default the ``geography`` units (or, for
        points, the communes of the départements they fall in).
    borders
        As in :func:`choropleth`; default the départements.
    secret, people, k
        Disclosure control, see above.
    title, legend_title
        French title and size-legend title.
    color
        Fill colour of the circles.
    max_size
        Area (points²) of the largest circle.
    scale_bar, north_arrow, source, figsize
        As in :func:`choropleth`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_style()
    k = _k(k)
    frame = _prepare(data, column, geography, level, key, territory)
    hidden = _secret_mask(frame, secret, column, [column] if people else [], k)
    values = pd.to_numeric(frame[column], errors="coerce")
    shown = values.where(~hidden)
    drawn = shown.fillna(0) > 0

    if base is None:
        polygons = frame.geom_type.isin(["Polygon", "MultiPolygon"])
        if polygons.all():
            base = frame
        else:
            layer = commune_layer(territory=territory)
            inside = gpd.sjoin(frame[~polygons], layer[["departement", "geometry"]],
                               predicate="within", how="inner")
            base = layer.loc[layer["departement"].isin(inside["departement"].unique())] \
                if len(inside) else layer
    else:
        base = base.to_crs(projection())

    fig, ax = plt.subplots(figsize=figsize)
    base.plot(ax=ax, facecolor=BASE_FACE, edgecolor=UNIT_EDGE,
              linewidth=0.15 if len(base) > 200 else 0.4)
    outline = _borders(base, borders, "commune" if "departement" in base.columns else level)
    if outline is not None:
        outline.boundary.plot(ax=ax, color=BORDER_COLOR, linewidth=0.9)
    elif level == "departement":
        base.boundary.plot(ax=ax, color=BORDER_COLOR, linewidth=0.9)

    points = frame.geometry.centroid
    maximum = float(shown[drawn].max()) if drawn.any() else 0.0

    def area(v):
        return np.asarray(v, dtype=float) / maximum * max_size if maximum else 0.0

    order = shown[drawn].sort_values(ascending=False).index
    if len(order):
        ax.scatter(points[order].x, points[order].y, s=area(shown[order]), color=color,
                   alpha=0.75, edgecolor="white", linewidth=0.6, zorder=3)
    if hidden.any():
        ax.scatter(points[hidden].x, points[hidden].y, s=14, marker="x",
                   color=SECRET_HATCH_COLOR, linewidth=0.9, zorder=3)

    handles = []
    if maximum:
        references = _reference_values(maximum, k if people else 1)
        for value in references:
            handles.append(Line2D([], [], linestyle="", marker="o",
                                  markersize=math.sqrt(float(area(value))),
                                  markerfacecolor=color, markeredgecolor="white", alpha=0.75,
                                  label=number_fr(value)))
    if hidden.any():
        handles.append(Line2D([], [], linestyle="", marker="x", markersize=5,
                              color=SECRET_HATCH_COLOR, label=secret_label(k)))
    if handles:
        biggest = max(h.get_markersize() for h in handles)
        ax.legend(handles=handles, title=legend_title, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), fontsize=9, title_fontsize=10,
                  alignment="left", labelspacing=max(1.0, biggest / 14),
                  borderpad=1.0, handletextpad=max(0.8, biggest / 20),
                  handlelength=max(1.5, biggest / 12))
    notes = [disclosure.footnote(k)] if hidden.any() else []
    _finish(fig, ax, title, source, notes, scale_bar, north_arrow)
    return fig


# --- Interactive map ---------------------------------------------------------------------------


def _vendor_file(name: str) -> bytes:
    return resources.files("analysis").joinpath(*_VENDOR, name).read_bytes()


@functools.lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """The vendored Leaflet (JavaScript, CSS) ready to inline: images as data URIs, no source
    map comment, and the default marker icons pointed at data URIs too."""
    def data_uri(name: str) -> str:
        return "data:image/png;base64," + base64.b64encode(_vendor_file(name)).decode("ascii")

    css = _vendor_file("leaflet.css").decode("utf-8")
    css = re.sub(r"url\(images/([\w.-]+\.png)\)", lambda m: f"url({data_uri(m.group(1))})", css)
    js = _vendor_file("leaflet.js").decode("utf-8")
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)
    js += ("\nL.Icon.Default.imagePath = '';\nL.Icon.Default.mergeOptions({"
           f"iconUrl: '{data_uri('marker-icon.png')}', "
           f"iconRetinaUrl: '{data_uri('marker-icon-2x.png')}', "
           f"shadowUrl: '{data_uri('marker-shadow.png')}'}});\n")
    return js, css


def _display_value(value, decimals: int) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        return "oui" if value else "non"
    if isinstance(value, int | np.integer):
        return number_fr(value, 0)
    if isinstance(value, float | np.floating):
        return number_fr(value, 0 if float(value).is_integer() and decimals == 0 else decimals)
    return str(value)


def _light_geometry(frame: gpd.GeoDataFrame, tolerance: float, precision: int) -> gpd.GeoSeries:
    """Simplified (coverage-preserving) geometry in WGS84 with rounded coordinates."""
    geoms = frame.geometry.to_crs(projection())
    polygons = geoms.geom_type.isin(["Polygon", "MultiPolygon"])
    if tolerance and polygons.any():
        simplified = geoms.copy()
        if hasattr(geoms, "simplify_coverage") and polygons.all():
            simplified = geoms.simplify_coverage(tolerance)
        else:
            simplified[polygons] = geoms[polygons].simplify(tolerance, preserve_topology=True)
        geoms = simplified
    geoms = geoms.to_crs("EPSG:4326")
    rounded = shapely.transform(geoms.to_numpy(), lambda xy: np.round(xy, precision))
    return gpd.GeoSeries(rounded, index=frame.index, crs="EPSG:4326")


def _legend_html(title: str | None, colors: list[str], labels: list[str], missing: bool,
                 hidden: bool, k: int) -> str:
    rows = [f'<div class="obs-legend-row"><span class="obs-swatch" style="background:{c}">'
            f"</span>{html.escape(label)}</div>" for c, label in zip(colors, labels, strict=True)]
    if missing:
        rows.append(f'<div class="obs-legend-row"><span class="obs-swatch" '
                    f'style="background:{NO_DATA_COLOR}"></span>{NO_DATA_LABEL}</div>')
    if hidden:
        rows.append('<div class="obs-legend-row"><span class="obs-swatch obs-secret-swatch">'
                    f"</span>{html.escape(secret_label(k))}</div>")
        rows.append(f'<div class="obs-legend-note">{html.escape(disclosure.footnote(k))}</div>')
    head = f'<div class="obs-legend-title">{html.escape(title)}</div>' if title else ""
    return f'<div class="obs-legend" role="note">{head}{"".join(rows)}</div>'


_PAGE_CSS = """
.leaflet-container { background: #ffffff; font-family: "DejaVu Sans", Arial, sans-serif; }
.obs-map-title { position: absolute; top: 8px; left: 54px; right: 8px; z-index: 1000;
  font: 600 15px/1.3 "DejaVu Sans", Arial, sans-serif; color: #1a1a1a; pointer-events: none;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff; }
.obs-legend { position: absolute; bottom: 24px; right: 10px; z-index: 1000; max-width: 260px;
  background: rgba(255,255,255,.92); padding: 8px 10px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 12px/1.35 "DejaVu Sans", Arial, sans-serif; }
.obs-legend-title { font-weight: 600; margin-bottom: 4px; }
.obs-legend-row { display: flex; align-items: center; margin: 2px 0; }
.obs-swatch { display: inline-block; width: 18px; height: 12px; margin-right: 6px;
  border: 1px solid #999; flex: none; }
.obs-secret-swatch, path.obs-secret { background: repeating-linear-gradient(45deg, #fff 0 3px,
  %(hatch)s 3px 4px); }
path.obs-secret { fill: url(#obs-hatch) !important; }
.obs-legend-note { margin-top: 4px; color: #444; font-size: 11px; }
.leaflet-tooltip.foliumtooltip { font: 12px/1.35 "DejaVu Sans", Arial, sans-serif; }
.foliumtooltip th { font-weight: 600; padding-right: 10px; }
"""

_HATCH_SVG = ('<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
              '<pattern id="obs-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
              'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
              '<line x1="0" y1="0" x2="0" y2="6" stroke="%s" stroke-width="2"/></pattern>'
              "</defs></svg>")


#: Printed in place of an interactive map (hidden on screen by the report's style).
PRINT_NOTE = ("Carte interactive non imprimable : elle se consulte dans la version HTML du "
              "rapport, où le survol d'un territoire affiche ses valeurs.")


def interactive_map(gdf: gpd.GeoDataFrame, column: str, tooltip: Sequence[str] | None = None,
                    *, aliases: Mapping[str, str] | None = None, secret=None,
                    people_columns: Sequence[str] = (), public_columns: Sequence[str] = (
                        "code", "nom", "departement", "population"),
                    k: int | None = None, title: str | None = None,
                    legend_title: str | None = None, unit: str = "",
                    scheme: str = "quantiles", n_classes: int = 5,
                    bins: Sequence[float] | None = None, decimals: int = 1,
                    cmap: str = DEFAULT_CMAP, tolerance: float = 80.0, precision: int = 4,
                    height: int = 560, alt: str | None = None,
                    caption: str | None = None, print_note: str = PRINT_NOTE):
    """An interactive map that works offline, as an HTML object for a report notebook.

    Built with :meth:`geopandas.GeoDataFrame.explore` (folium) without basemap tiles; folium's
    CDN scripts and styles are replaced by the vendored Leaflet inlined in the page, the legend
    is plain HTML, so the page requests nothing from any host. The page is embedded in an
    ``<iframe srcdoc>`` so that several maps can share a report.

    Parameters
    ----------
    gdf
        Units to draw (polygons or points, any CRS).
    column
        The value giving the colour (classes as in :func:`choropleth`).
    tooltip
        Columns shown on hover; default ``nom`` (when present) and ``column``.
    aliases
        French labels of the tooltip columns (default: ``legend_title`` for ``column``, the
        column name otherwise).
    secret
        Hidden units (column name, boolean Series or array): hatched, and every tooltip value
        except ``public_columns`` reads « s ».
    people_columns
        Columns counting people: any value from 1 to k − 1 reads « s » (and hides the unit when
        it is ``column``).
    public_columns
        Tooltip columns shown even for hidden units (names, codes, population).
    k
        Threshold; default :func:`analysis.config.suppression_k`.
    title, legend_title, unit, scheme, n_classes, bins, decimals, cmap
        As in :func:`choropleth`.
    tolerance
        Simplification tolerance in metres (shared borders stay shared); 0 keeps the geometry.
    precision
        Decimals kept in longitudes and latitudes (4: about ten metres, below the
        simplification tolerance).
    height
        Height of the map in pixels.
    alt, caption
        Accessible title of the frame and the French caption printed under it.
    print_note
        What a printed copy shows where the map is (a frame of scripts does not print).

    Returns
    -------
    IPython.display.HTML
    """
    import folium
    from IPython.display import HTML

    k = _k(k)
    frame = gdf.reset_index(drop=True)
    if frame.crs is None:
        raise ValueError("système de coordonnées absent : attendu un CRS")
    hidden = _secret_mask(frame, secret, column, people_columns, k)
    values = pd.to_numeric(frame[column], errors="coerce")
    published = values.notna() & ~hidden
    classes, colors, labels = _classify(values, published, scheme, n_classes, bins, decimals,
                                        unit, cmap)
    missing = ~published & ~hidden
    fill = [colors[c] if ok else (SECRET_FACE if h else NO_DATA_COLOR)
            for c, ok, h in zip(classes, published, hidden, strict=True)]

    if tooltip is None:
        tooltip = [c for c in ("nom", column) if c in frame.columns]
    aliases = dict(aliases or {})
    aliases.setdefault(column, legend_title or column)
    # Only display strings reach the page: no raw value is embedded for any unit.
    shown = pd.DataFrame(index=frame.index)
    for name in tooltip:
        digits = decimals if name == column else 0 if name in people_columns else decimals
        texts = [_display_value(v, digits) for v in frame[name]]
        cell_hidden = hidden.copy() if name not in public_columns else pd.Series(
            False, index=frame.index)
        if name in people_columns:
            counts = pd.to_numeric(frame[name], errors="coerce")
            cell_hidden |= ((counts >= 1) & (counts < k)).fillna(False)
        shown[name] = [SECRET_SYMBOL if h else t
                       for t, h in zip(texts, cell_hidden, strict=True)]
    light = gpd.GeoDataFrame(shown, geometry=_light_geometry(frame, tolerance, precision),
                             crs="EPSG:4326")
    fills = dict(zip(light.index.astype(str), fill, strict=True))
    secret_ids = set(light.index[hidden.to_numpy()].astype(str))
    points = not light.geom_type.isin(["Polygon", "MultiPolygon"]).any()

    def style(feature):
        fid = str(feature["id"])
        out = {"fillColor": fills[fid], "fillOpacity": 0.85, "color": "#ffffff",
               "weight": 0.6 if not points else 1.0}
        if fid in secret_ids:
            out["className"] = "obs-secret"
            out["color"] = SECRET_HATCH_COLOR if points else "#ffffff"
        return out

    m = light.explore(
        tiles=None, legend=False, tooltip=list(tooltip) or False,
        tooltip_kwds={"aliases": [aliases.get(c, c) for c in tooltip], "sticky": True},
        style_kwds={"style_function": style},
        highlight_kwds={"weight": 2.5, "color": BORDER_COLOR},
        marker_kwds={"radius": 6}, control_scale=False, height=height,
        map_kwds={"zoom_snap": 0.25},
        prefer_canvas=False,
    )
    _make_offline(m)
    root = m.get_root()
    js, css = leaflet_assets()
    root.header.add_child(folium.Element(f"<style>{css}</style>"), name="obs_leaflet_css")
    root.header.add_child(folium.Element(f"<script>{js}</script>"), name="obs_leaflet_js")
    root.header.add_child(folium.Element(
        f"<style>{_PAGE_CSS % {'hatch': SECRET_HATCH_COLOR}}</style>"), name="obs_css")
    root.html.add_child(folium.Element(_HATCH_SVG % SECRET_HATCH_COLOR), name="obs_hatch")
    if title:
        root.html.add_child(folium.Element(
            f'<div class="obs-map-title">{html.escape(title)}</div>'), name="obs_title")
    root.html.add_child(folium.Element(_legend_html(
        legend_title, colors, labels, bool(missing.any()), bool(hidden.any()), k)),
        name="obs_legend")
    m.add_child(_MapScript(
        "L.control.scale({imperial: false, position: 'bottomleft'}).addTo({{map}});\n"
        "{{map}}.attributionControl.setPrefix('Leaflet');"))
    page = _stable_ids(root.render(), root)
    assert_offline(page)

    label = alt or title or "Carte interactive"
    # Single-quoted attribute: only « & » and « ' » need escaping (the GeoJSON is full of « " »).
    srcdoc = page.replace("&", "&amp;").replace("'", "&#39;")
    figure = (f'<figure class="obs-figure obs-map"><iframe srcdoc=\'{srcdoc}\' '
              f'title="{html.escape(label)}" style="width:100%;height:{int(height)}px;'
              'border:1px solid #ddd" loading="lazy"></iframe>'
              f'<p class="obs-print-note" hidden>{html.escape(print_note)}</p>')
    if caption:
        figure += f"<figcaption>{html.escape(caption)}</figcaption>"
    return HTML(figure + "</figure>")


def _stable_ids(page: str, root) -> str:
    """Replace folium's random element ids (``map_<32 hex>``, drawn from ``os.urandom``) by their
    rank of first appearance: the same map gives the same page, byte for byte."""
    ids, stack = set(), [root]
    while stack:
        element = stack.pop()
        if isinstance(getattr(element, "_id", None), str):
            ids.add(element._id)
        stack.extend(getattr(element, "_children", {}).values())
        for attr in ("header", "html", "script"):
            child = getattr(element, attr, None)
            if child is not None and child is not element and hasattr(child, "_children"):
                stack.append(child)
    if not ids:
        return page
    ranks: dict[str, str] = {}

    def rank(match: re.Match) -> str:
        return ranks.setdefault(match.group(0), f"{len(ranks) + 1:032x}")

    return re.sub("|".join(sorted(map(re.escape, ids))), rank, page)


def _make_offline(m) -> None:
    """Drop every script and style folium would fetch from a CDN (the map and its children)."""
    stack = [m]
    while stack:
        element = stack.pop()
        if hasattr(element, "default_js"):
            element.default_js = []
        if hasattr(element, "default_css"):
            element.default_css = []
        stack.extend(getattr(element, "_children", {}).values())


def _map_script_class():
    from branca.element import MacroElement
    from jinja2 import Template

    class MapScript(MacroElement):
        """A snippet run once the map and its layers exist (``{{map}}``: the map variable)."""

        _template = Template(
            "{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

        def __init__(self, code: str):
            super().__init__()
            self._name = "ObsMapScript"
            self._raw = code

        def render(self, **kwargs):
            self.code = self._raw.replace("{{map}}", self._parent.get_name())
            super().render(**kwargs)

    return MapScript


def _MapScript(code: str):  # noqa: N802 - reads like the class it builds
    return _map_script_class()(code)


_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?"""
                       r"""\b(?:src|href|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def assert_offline(page: str) -> None:
    """Raise if an HTML page would load a script, style, image or frame from another host."""
    found = _EXTERNAL.search(page)
    if found:
        raise RuntimeError(f"ressource externe dans la carte : {found.group(0)[:120]}")


# --- France with its overseas départements as insets (issue 18) ------------------------------------

#: The overseas départements drawn as insets, in this order: (name, local projection). Each in
#: the projection its cadastre and IGN use: RGAF09 UTM 20N (Guadeloupe, Martinique), RGFG95
#: UTM 22N (Guyane), RGR92 UTM 40S (La Réunion), RGM04 UTM 38S (Mayotte).
OVERSEAS: dict[str, tuple[str, str]] = {
    "971": ("Guadeloupe", "EPSG:5490"),
    "972": ("Martinique", "EPSG:5490"),
    "973": ("Guyane", "EPSG:2972"),
    "974": ("La Réunion", "EPSG:2975"),
    "976": ("Mayotte", "EPSG:4471"),
}
#: The overseas régions' codes and their one département each.
OVERSEAS_REGIONS: dict[str, str] = {"01": "971", "02": "972", "03": "973", "04": "974",
                                    "06": "976"}


def france_layer(level: str) -> gpd.GeoDataFrame:
    """France's régions or départements (reference layers), with ``outre_mer``: the overseas
    département each unit is (missing for the metropolitan ones)."""
    from .reference import load_layer

    if level not in ("region", "departement"):
        raise ValueError(f"niveau inconnu : {level!r} (attendu : region, departement)")
    layer = load_layer(level).copy()
    code = layer["code"].astype(str)
    layer["outre_mer"] = (code.map(OVERSEAS_REGIONS) if level == "region"
                          else code.where(code.isin(list(OVERSEAS))))
    return layer


def france_choropleth(data, column: str, *, level: str = "region", key: str = "code",
                      secret=None, k: int | None = None, title: str | None = None,
                      legend_title: str | None = None, unit: str = "",
                      scheme: str = "quantiles", n_classes: int = 5,
                      bins: Sequence[float] | None = None, decimals: int = 1,
                      cmap: str = DEFAULT_CMAP, source: str | None = None,
                      notes: Sequence[str] = (), figsize: tuple[float, float] = (10, 7.5)):
    """A choropleth of France by région or by département: the metropolitan part in Lambert-93,
    each overseas département in an inset of its own, in its local projection
    (:data:`OVERSEAS`), at its own scale (each inset says so).

    Parameters
    ----------
    data
        A table keyed by ``key`` (column or index: région or département codes, ``2A``/``2B``,
        ``971``…): every unit of the reference layer is drawn, those absent from ``data`` or
        with a missing value in light grey (« sans donnée »).
    column
        The value to map (a share: ``unit="%"`` and values in percent, or a rate).
    level
        ``"region"`` or ``"departement"``.
    secret
        Hidden units (a boolean column of ``data``, or a boolean Series keyed like it): hatched,
        their value used nowhere, not even for the classes.
    k, title, legend_title, unit, scheme, n_classes, bins, decimals, cmap, source
        As in :func:`choropleth`.
    notes
        Lines printed under the map, before the source.

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_style()
    k = _k(k)
    layer = france_layer(level)
    table = pd.DataFrame(data).copy()
    if key in table.columns:
        table = table.set_index(key)
    table.index = table.index.astype(str)
    unknown = sorted(set(table.index) - set(layer["code"].astype(str)))
    if unknown:
        raise ValueError(f"codes absents de la couche {level} : {', '.join(unknown[:10])}")
    frame = layer.merge(table[[column]], left_on="code", right_index=True, how="left")
    if secret is None:
        hidden = pd.Series(False, index=frame.index)
    else:
        flags = table[secret] if isinstance(secret, str) else pd.Series(secret)
        flags.index = flags.index.astype(str)
        hidden = frame["code"].map(flags).fillna(False).astype(bool)
    values = pd.to_numeric(frame[column], errors="coerce")
    published = values.notna() & ~hidden
    classes, colors, labels = _classify(values, published, scheme, n_classes, bins, decimals,
                                        unit, cmap)
    missing = ~published & ~hidden

    def draw(ax, part: gpd.GeoDataFrame, idx) -> None:
        edge = 0.3 if level == "departement" else 0.6
        for index, color in enumerate(colors):
            sel = part.loc[(classes.loc[idx] == index) & published.loc[idx]]
            if len(sel):
                sel.plot(ax=ax, facecolor=color, edgecolor=UNIT_EDGE, linewidth=edge)
        sel = part.loc[missing.loc[idx]]
        if len(sel):
            sel.plot(ax=ax, facecolor=NO_DATA_COLOR, edgecolor=UNIT_EDGE, linewidth=edge)
        sel = part.loc[hidden.loc[idx]]
        if len(sel):
            with plt.rc_context({"hatch.linewidth": 0.6}):
                sel.plot(ax=ax, facecolor=SECRET_FACE, edgecolor=SECRET_HATCH_COLOR,
                         hatch=SECRET_HATCH, linewidth=0)
        part.boundary.plot(ax=ax, color=BORDER_COLOR, linewidth=0.35 if level == "departement"
                           else 0.8)
        ax.set_aspect("equal")
        ax.set_axis_off()

    fig = plt.figure(figsize=figsize)
    # geopandas redraws the whole figure after every layer it plots (``canvas.draw_idle``,
    # immediate on Agg): 17 layers on 6 axes took 10 s. The figure is drawn once, when shown.
    fig.canvas.draw_idle = lambda *args, **kwargs: None
    try:
        _draw_france(fig, frame, draw)
    finally:
        del fig.canvas.draw_idle
    main = fig.axes[0]
    class_legend(main, colors, labels, missing.any(), hidden.any(), k, legend_title)
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=13)
    lines = list(notes) + ([disclosure.footnote(k)] if hidden.any() else []) + (
        ["Outre-mer en encarts, chacun à sa propre échelle et dans sa projection locale ; "
         "métropole en Lambert-93."]) + ([source] if source else [])
    fig.text(0.02, 0.01, "\n".join(lines), ha="left", va="bottom", fontsize=8, color="#444444",
             gid="notes")
    return fig


def _draw_france(fig, frame: gpd.GeoDataFrame, draw) -> None:
    """The metropolitan axes (first, Lambert-93) and one inset per overseas département."""
    main = fig.add_axes([0.21, 0.1, 0.5, 0.8])
    metro = frame["outre_mer"].isna()
    metro_idx = frame.index[metro]
    draw(main, frame.loc[metro].to_crs(LAMBERT_93), metro_idx)
    main.set_gid("metropole")
    add_scale_bar(main)
    add_north_arrow(main, x=1.02)
    overseas = frame.loc[~metro]
    height = 0.84 / len(OVERSEAS)
    for i, (dep, (name, crs)) in enumerate(OVERSEAS.items()):
        ax = fig.add_axes([0.02, 0.92 - (i + 1) * height + 0.01, 0.16, height - 0.05])
        part = overseas.loc[overseas["outre_mer"] == dep]
        if part.empty:
            ax.set_axis_off()
            continue
        draw(ax, part.to_crs(crs), part.index)
        x0, x1 = ax.get_xlim()
        width_km = abs(x1 - x0) / 1000
        ax.set_title(f"{name} (≈ {number_fr(_nice(width_km), 0)} km de large)", fontsize=8,
                     loc="left", pad=2)
        ax.set_gid(f"encart-{dep}")
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_color("#bbbbbb")
