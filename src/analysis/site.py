"""The interactive data-visualisation site (issue 17, point 1): ``reports/site/``.

One page per theme of the reports — progression against the targets, hours, beneficiaries,
pathways, maps, loi Climat et résilience — whose charts are Vega-Lite specifications written by
Altair (the Sankey of the pathways is a Vega specification: Vega-Lite has no link paths), drawn in
the browser by the vendored Vega runtime (``templates/site/vendor``, see its README).

What a page shows, and from where
---------------------------------
Every chart reads **only the open-data packages** (:mod:`analysis.opendata`,
``reports/donnees/<période>/``): the aggregates the reports published, protected as published
(small-cell suppression, dominance rule, audits). A chart's rows are the rows of one or more
published resources (one report kind per territory: the régional report for 11, the département
sheets for the départements), each row as published; a ``s`` cell (secret statistique) is shown
as « s » in the table and not drawn. The filters (période, territoire, and the chart's own
dimension: buyer category, kind of consideration, legal modality…) **select** published rows:
nothing is summed or recomputed in the browser.

Each chart has, under it, the table of exactly the rows the filters select (a real ``<table>``
with ``<caption>`` and ``<th scope>``) and a CSV download of it, written in the browser; a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets an apostrophe (the rule
of :func:`analysis.publish.csv_safe`). Every mark has a tooltip with its value and its interval
(or why it has none).

Safety and weight
-----------------
The data of a page is embedded as ``<script type="application/json">`` serialised by
:func:`script_json` (``<``, ``>``, ``&``, U+2028 and U+2029 escaped: no input text can close the
script element); the page's script writes text from the data through ``textContent`` only. The
Content-Security-Policy allows scripts, styles and images of the site's own folder and nothing
else: no remote origin, no ``'unsafe-eval'`` (Vega runs its expressions with vega-interpreter).
Each page, with the scripts it loads, is meant to stay under :data:`config.SITE_PAGE_MAX_BYTES`,
the site under :data:`config.SITE_MAX_BYTES`: the commune map is simplified until it fits
(:func:`map_geometry`); a région whose communes still do not fit (Grand Est's 5 115) gets its
pages all the same, flagged ``heavy`` and reported by the command (the browser test holds the
default data set to the targets).

The site is written aside and swapped in whole (``reports/.site-<pid>``).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import config
from .io import write_text
from .periods import Period
from .publish import FORMULA_PREFIXES, read_record

#: Where the site's templates, script, style and vendored libraries are.
TEMPLATES = Path(__file__).parent / "templates" / "site"
VENDOR = TEMPLATES / "vendor"
#: The vendored libraries, in the order a page loads them (vega-interpreter extends ``vega``).
VENDOR_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-interpreter.min.js",
                  "vega-embed.min.js")
#: The site's own script and style (in ``templates/site``).
OWN_ASSETS = ("site.js", "site.css")
ASSETS = "assets"
#: The Content-Security-Policy of every page: the site's own files only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'")
#: Colour-blind-safe colours: the house blue of the reports' charts (``plots.PALETTE``) for
#: single-series marks, Okabe-Ito for categories, viridis for the maps.
MAIN_COLOR = "#1f4e79"
TARGET_COLOR = "#b34700"
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")
#: The targets the progression is read against (share of contracts with a social
#: consideration, %).
TARGETS = (25.0, 30.0)
SECRET = "s"
#: Rows of a published table that are totals of the others: never drawn beside them.
TOTAL_LABELS = ("Ensemble", "Ensemble des situations connues", "Total")

_FORMULA = tuple(FORMULA_PREFIXES)
_DEPT_IN_LABEL = re.compile(r"\((\d[0-9AB])\)\s*$")


# --- Serialisation and guards ----------------------------------------------------------------------


def script_json(obj) -> str:
    """``obj`` as JSON that can sit inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e``, ``\\u0026`` and the line
    separators U+2028 / U+2029 as ``\\u2028`` / ``\\u2029``: no text of the data can close the
    script element (``</script>``), open a comment or be read as markup; ``JSON.parse`` gives the
    text back unchanged.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def unguard(text: str) -> str:
    """A text cell of an open-data CSV as the report showed it: the apostrophe
    :func:`analysis.publish.csv_safe` put before a formula prefix is taken off (the page's CSV
    download puts it back)."""
    if isinstance(text, str) and text.startswith("'") and text[1:].startswith(_FORMULA):
        return text[1:]
    return text


def number_fr(value: float, decimals: int = 1) -> str:
    """``value`` written the French way: thin no-break space between thousands, decimal comma."""
    text = f"{value:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")
    return text


# --- Reading the open data -----------------------------------------------------------------------


def packages(reports: Path) -> list[tuple[Period, Path, dict]]:
    """``(period, folder, descriptor)`` of every open-data package on disk, latest first."""
    from .suite import period_order

    found = []
    for descriptor in (Path(reports) / config.OPENDATA_FOLDER).glob("*/datapackage.json"):
        try:
            period = Period.parse(descriptor.parent.name)
        except ValueError:
            continue
        record = read_record(descriptor)
        if record:
            found.append((period, descriptor.parent, record))
    return sorted(found, key=lambda item: period_order(item[0]))


def read_resource(folder: Path, descriptor: dict, name: str) -> pd.DataFrame | None:
    """A resource of a package as text, exactly as written (None when the package has none)."""
    for resource in descriptor.get("resources", []):
        if resource.get("name") == name:
            return pd.read_csv(folder / resource["path"], dtype=str, keep_default_na=False,
                               encoding="utf-8")
    return None


def _number(text: str) -> float | None:
    if text in ("", SECRET):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# --- Charts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """One chart of a theme page, read from published resources.

    ``resources`` are open-data resource names (``<report>.<table>``), read in order: a
    (période, territoire) is taken from the first resource that has it, so that the régional
    report and the département sheets never both give the rows of one territory.
    """

    id: str
    title: str
    resources: tuple[str, ...]
    kind: str                       # "bar", "line", "map", "sankey"
    category: str                   # the published column of the rows' label (x / y / node)
    value: str                      # the published column drawn
    value_label: str                # its French title (axis, table, tooltip)
    unit: str = ""                  # " %", " h" …
    decimals: int = 1
    low: str | None = None          # the interval's bounds (published columns)
    high: str | None = None
    category_label: str | None = None   # the dimension's French name; a filter when given
    targets: tuple[float, ...] = ()
    description: str = ""
    geo: str | None = None          # "departements" or "communes" (maps)
    no_interval: str = "sans intervalle : effectif ou total observé, non estimé"
    source_label: str = "Contrat précédent"     # a Sankey's left nodes
    target_label: str = "Contrat suivant"       # its right nodes
    link_word: str = "transitions"              # what a link counts


@dataclass(frozen=True)
class Theme:
    slug: str
    title: str
    intro: str
    charts: tuple[Chart, ...]


def _pair(table: str) -> tuple[str, str]:
    return (f"rapport_annuel.{table}", f"fiche_departementale.{table}")


THEMES: tuple[Theme, ...] = (
    Theme("progression", "Progression des considérations sociales",
          "Part des marchés publics notifiés portant au moins une considération sociale, face "
          "aux objectifs de 25 % et 30 %, avec son intervalle de confiance à 95 %.", (
              Chart("progression-annuelle", "Part des marchés avec une considération sociale, "
                    "par année", ("rapport_annuel.progression_annuelle",
                                  "progression_clauses.progression_annuelle",
                                  "fiche_territoire.part_par_annee"),
                    "line", "Année", "Part (%)", "Part des marchés (%)", " %", 1,
                    "IC 95 % bas (%)", "IC 95 % haut (%)", targets=TARGETS,
                    description="Courbe de la part des marchés (statut connu) portant une "
                                "considération sociale, par année de notification, avec son "
                                "intervalle de confiance et les objectifs de 25 % et 30 %."),
              Chart("part-par-acheteur", "Part des marchés avec une considération sociale, par "
                    "catégorie d'acheteur", _pair("part_par_type_acheteur"), "bar",
                    "Catégorie d'acheteur", "Part (nombre) (%)", "Part des marchés (%)", " %", 1,
                    "IC 95 % bas (%)", "IC 95 % haut (%)",
                    category_label="Catégorie d'acheteur", targets=TARGETS,
                    description="Barres horizontales : part des marchés portant une "
                                "considération sociale pour chaque catégorie d'acheteur, avec "
                                "son intervalle de confiance et les objectifs."),
              Chart("types-consideration", "Part des marchés par nature de considération "
                    "sociale", _pair("types_consideration"), "bar", "Type", "Part (%)",
                    "Part des marchés (%)", " %", 2, "IC 95 % bas (%)", "IC 95 % haut (%)",
                    category_label="Nature de la considération",
                    description="Barres horizontales : part des marchés portant une clause "
                                "sociale, un critère social ou réservés, avec leur intervalle "
                                "de confiance."),
          )),
    Theme("heures", "Heures d'insertion",
          "Heures d'insertion réalisées sur les opérations suivies par les facilitateurs, par "
          "modalité juridique et par catégorie de maître d'ouvrage.", (
              Chart("heures-modalite", "Heures réalisées par modalité juridique",
                    _pair("heures_par_modalite"), "bar", "Catégorie", "Heures réalisées",
                    "Heures réalisées", " h", 0, category_label="Modalité juridique",
                    description="Barres horizontales : heures d'insertion réalisées pour chaque "
                                "modalité juridique de la considération sociale."),
              Chart("heures-maitre-ouvrage", "Heures réalisées par catégorie de maître "
                    "d'ouvrage", ("heures_grand_paris.heures_par_type_maitre_ouvrage",),
                    "bar", "Catégorie", "Heures réalisées", "Heures réalisées", " h", 0,
                    category_label="Catégorie de maître d'ouvrage",
                    description="Barres horizontales : heures d'insertion réalisées pour chaque "
                                "catégorie de maître d'ouvrage."),
          )),
    Theme("beneficiaires", "Profil des bénéficiaires",
          "Répartition des bénéficiaires des clauses sociales, avec l'intervalle de confiance à "
          "95 % de chaque part.", tuple(
              Chart(f"profil-{slug}", f"Bénéficiaires par {label.lower()}",
                    _pair(f"profil_{slug}"), "bar", "Catégorie", "Part (%)",
                    "Part des bénéficiaires (%)", " %", 1, "IC 95 % bas (%)",
                    "IC 95 % haut (%)", category_label=label,
                    description=f"Barres horizontales : part des bénéficiaires pour chaque "
                                f"modalité de « {label.lower()} », avec son intervalle de "
                                "confiance.")
              for slug, label in (("sexe", "Sexe"), ("tranche_age", "Tranche d'âge"),
                                  ("diplome", "Diplôme"), ("qpv", "Résidence en QPV")))),
    Theme("parcours", "Parcours des bénéficiaires",
          "Enchaînement des contrats de travail des bénéficiaires, et leur situation six mois "
          "après la fin du dernier contrat.", (
              Chart("transitions", "Du contrat de travail au contrat suivant",
                    ("parcours_emploi.transitions_contrats",), "sankey", "Contrat précédent",
                    "", "Transitions", "", 0,
                    description="Diagramme de Sankey : à gauche le type du contrat de travail, "
                                "à droite celui du contrat suivant ; l'épaisseur de chaque lien "
                                "est le nombre de transitions publié."),
              Chart("dernier-contrat-situation",
                    "Du dernier contrat à la situation six mois après",
                    ("parcours_emploi.contrat_situation_6_mois",), "sankey", "Dernier contrat",
                    "", "Personnes", "", 0, source_label="Dernier contrat",
                    target_label="Situation à 6 mois", link_word="personnes",
                    description="Diagramme de Sankey : à gauche le type du dernier contrat "
                                "d'insertion, à droite la situation connue six mois après sa "
                                "fin ; l'épaisseur de chaque lien est le nombre de personnes "
                                "publié."),
              Chart("situation-6-mois", "Situation six mois après la sortie",
                    ("rapport_annuel.situation_6_mois", "parcours_emploi.situation_6_mois",
                     "fiche_departementale.situation_6_mois"), "bar", "Situation à 6 mois",
                    "Part (situations connues) (%)", "Part des situations connues (%)", " %", 1,
                    "IC 95 % bas (%)", "IC 95 % haut (%)", category_label="Situation",
                    description="Barres horizontales : part des personnes sorties dans chaque "
                                "situation six mois après, parmi les situations connues, avec "
                                "son intervalle de confiance."),
          )),
    Theme("cartes", "Cartes",
          "Les départements et les communes de la région : part des marchés avec une "
          "considération sociale, structures inclusives, bénéficiaires résidents.", (
              Chart("carte-departements", "Part des marchés avec une considération sociale, par "
                    "département", ("rapport_annuel.departements_compares",
                                    "territoire_cartes.departements_compares"), "map",
                    "Territoire", "Part (%)", "Part des marchés (%)", " %", 1,
                    "IC 95 % bas (%)", "IC 95 % haut (%)", geo="departements",
                    description="Carte des départements colorés selon la part des marchés "
                                "portant une considération sociale."),
              Chart("carte-structures", "Structures inclusives pour 10 000 habitants, par "
                    "département", ("rapport_annuel.structures_par_departement",
                                    "territoire_cartes.structures_par_departement"), "map",
                    "Département", "Pour 10 000 hab.", "Structures pour 10 000 hab.", "", 2,
                    geo="departements",
                    description="Carte des départements colorés selon le nombre de structures "
                                "d'insertion et du handicap pour 10 000 habitants."),
              Chart("carte-communes", "Bénéficiaires résidents pour 10 000 habitants, par "
                    "commune", ("fiche_departementale.communes",), "map", "Commune",
                    "Bénéficiaires résidents pour 10 000 hab.",
                    "Bénéficiaires résidents pour 10 000 hab.", "", 1, geo="communes",
                    description="Carte des communes colorées selon le nombre de bénéficiaires "
                                "résidents pour 10 000 habitants ; « s » : secret statistique."),
          )),
    Theme("climat", "Loi Climat et résilience",
          "Les marchés au-dessus des seuils européens, que la loi Climat et résilience obligera "
          "à porter une considération sociale : où en est chaque catégorie d'acheteur.", (
              Chart("climat-resilience", "Part des marchés au-dessus des seuils avec une "
                    "considération sociale", ("rapport_annuel.loi_climat_resilience",
                                              "progression_clauses.loi_climat_resilience"),
                    "bar", "Catégorie d'acheteur", "Part (%)", "Part des marchés (%)", " %", 1,
                    "IC 95 % bas (%)", "IC 95 % haut (%)",
                    category_label="Catégorie d'acheteur",
                    description="Barres horizontales : part des marchés au-dessus des seuils "
                                "européens portant une considération sociale, par catégorie "
                                "d'acheteur, avec son intervalle de confiance."),
          )),
)


def territory_label(code: str) -> str:
    """The French name of a territory of the published tables: the région or a département
    (:func:`config.territory_name`), else an EPT or EPCI of the reference geography (the EPT /
    EPCI sheets' tables are stacked by their SIREN code), with its code when it is unknown."""
    code = str(code)
    if code in config.TERRITORIES:
        return config.territory_name(code)
    return _intercommunal_names().get(code, code)


def _intercommunal_names() -> dict[str, str]:
    from .reference import commune_table

    key = str(config.paths().communes)
    if _NAMES_CACHE.get("key") != key:
        communes = commune_table()
        names = {}
        for code_column, name_column in (("epci_code", "epci_nom"), ("ept_code", "ept_nom")):
            pairs = communes[[code_column, name_column]].dropna().drop_duplicates(code_column)
            names.update(zip(pairs[code_column].astype(str), pairs[name_column].astype(str)))
        _NAMES_CACHE.update(key=key, names=names)
    return _NAMES_CACHE["names"]


_NAMES_CACHE: dict = {}


def _interval_text(chart: Chart, low: float | None, high: float | None) -> str:
    if chart.low is None:
        return chart.no_interval
    if low is None or high is None:
        return "intervalle non publié"
    return (f"IC 95 % : {number_fr(low, chart.decimals)} – "
            f"{number_fr(high, chart.decimals)}{chart.unit}")


def chart_rows(chart: Chart, found: list[tuple[Period, Path, dict]]) -> list[dict]:
    """The published rows of ``chart``, one dict per row, in every period and territory.

    Each row keeps the published text of its label; ``valeur`` is None (not drawn) where the
    cell is secret or empty, and ``secret`` says which.
    """
    rows: list[dict] = []
    for period, folder, descriptor in found:
        taken: set[str] = set()
        for name in chart.resources:
            frame = read_resource(folder, descriptor, name)
            if frame is None:
                continue
            territories = [t for t in dict.fromkeys(frame["territoire"]) if t not in taken]
            taken.update(territories)
            frame = frame.loc[frame["territoire"].isin(territories)]
            if chart.kind == "sankey":
                rows += _sankey_rows(chart, period, frame)
                continue
            for record in frame.to_dict("records"):
                label = unguard(record[chart.category])
                if label in TOTAL_LABELS:
                    continue
                value = _number(record[chart.value])
                low = _number(record[chart.low]) if chart.low else None
                high = _number(record[chart.high]) if chart.high else None
                row = {"periode": period.label, "periode_fr": period.label_fr,
                       "territoire": record["territoire"],
                       "territoire_nom": territory_label(record["territoire"]),
                       "ordre": int(record["ligne"]), "categorie": label,
                       "valeur": value, "secret": record[chart.value] == SECRET,
                       "valeur_txt": (SECRET if record[chart.value] == SECRET else
                                      "" if value is None else
                                      number_fr(value, chart.decimals) + chart.unit),
                       "intervalle_txt": _interval_text(chart, low, high)}
                if chart.low:
                    row["bas"], row["haut"] = low, high
                rows.append(row)
    return rows


def _sankey_rows(chart: Chart, period: Period, frame: pd.DataFrame) -> list[dict]:
    """The links of a published cross-table (rows: the category column; columns: the other
    published columns but the total), one per non-empty cell."""
    targets = [c for c in frame.columns
               if c not in ("territoire", "ligne", chart.category) and c not in TOTAL_LABELS]
    out = []
    sources = [unguard(s) for s in dict.fromkeys(frame[chart.category])
               if unguard(s) not in TOTAL_LABELS]
    for record in frame.to_dict("records"):
        source = unguard(record[chart.category])
        if source in TOTAL_LABELS:
            continue
        for j, target in enumerate(targets):
            text = record[target]
            value = _number(text)
            out.append({"periode": period.label, "periode_fr": period.label_fr,
                        "territoire": record["territoire"],
                        "territoire_nom": territory_label(record["territoire"]),
                        "source": source, "cible": unguard(target),
                        "so": sources.index(source), "to": j,
                        "valeur": value, "secret": text == SECRET,
                        "valeur_txt": (SECRET if text == SECRET else "" if value is None
                                       else number_fr(value, 0)),
                        "intervalle_txt": chart.no_interval})
    return out


def table_columns(chart: Chart) -> list[tuple[str, str]]:
    """``(row key, French header)`` of the table under ``chart`` (and of its CSV)."""
    head = [("periode_fr", "Période"), ("territoire_nom", "Territoire")]
    if chart.kind == "sankey":
        return head + [("source", chart.source_label), ("cible", chart.target_label),
                       ("valeur_txt", chart.value_label)]
    columns = head + [("categorie", chart.category_label or chart.category),
                      ("valeur_txt", chart.value_label)]
    if chart.low:
        columns.append(("intervalle_txt", "Intervalle de confiance à 95 %"))
    return columns


# --- Specifications (Altair → Vega-Lite v5; Vega for the Sankey) --------------------------------


def _tooltip(chart: Chart, category_title: str):
    import altair as alt

    return [alt.Tooltip("territoire_nom:N", title="Territoire"),
            alt.Tooltip("categorie:N", title=category_title),
            alt.Tooltip("valeur_txt:N", title=chart.value_label),
            alt.Tooltip("intervalle_txt:N", title="Intervalle")]


def vega_spec(chart: Chart, geometry: dict | None = None) -> dict:
    """The chart's specification, its rows left out: they are the named data set ``table``,
    inserted by the page's script from the rows its filters select.

    Bars and lines are Vega-Lite v5 (written by Altair); the Sankey is Vega v5; a map looks its
    polygons up in ``geometry`` (a GeoJSON FeatureCollection whose features carry ``code``).
    """
    if chart.kind == "sankey":
        return sankey_spec(chart)
    import altair as alt

    table = alt.NamedData(name="table")
    drawn = alt.datum.valeur != None  # noqa: E711 (a Vega expression, not a Python test)
    category_title = chart.category_label or chart.category
    tooltip = _tooltip(chart, category_title)
    if chart.kind == "map":
        # The polygons are the chart's data; each looks its published row up in « table » (the
        # rows the filters select): a polygon without one (not selected, or « s ») is grey.
        fields = ["valeur", "valeur_txt", "intervalle_txt", "territoire_nom", "categorie"]
        chart_ = alt.Chart(alt.Data(values=geometry["features"])).transform_lookup(
            lookup="code", from_=alt.LookupData(data=table, key="code", fields=fields)
        ).transform_calculate(
            valeur_aff="isValid(datum.valeur_txt) ? datum.valeur_txt : "
                       "'pas de valeur publiée retenue (« s » : secret statistique)'",
            intervalle_aff="isValid(datum.intervalle_txt) ? datum.intervalle_txt : 'sans objet'")
        out = chart_.mark_geoshape(stroke="#ffffff", strokeWidth=0.4).encode(
            color=alt.condition("isValid(datum.valeur)", alt.Color(
                "valeur:Q", title=chart.value_label,
                scale=alt.Scale(scheme="viridis", reverse=True),
                legend=alt.Legend(orient="right", format=",.1~f")), alt.value("#d9d9d9")),
            tooltip=[alt.Tooltip("nom:N", title="Territoire"),
                     alt.Tooltip("valeur_aff:N", title=chart.value_label),
                     alt.Tooltip("intervalle_aff:N", title="Intervalle")],
        ).project(type="mercator").properties(
            width=560, height=460 if chart.geo == "departements" else 520)
    elif chart.kind == "line":
        base = alt.Chart(table).transform_filter(drawn)
        # years (or quarters) in time order, whatever the territory whose rows came first
        x = alt.X("categorie:O", title=chart.category, sort="ascending",
                  axis=alt.Axis(labelAngle=0))
        y_title = chart.value_label
        band = base.mark_rule(color=MAIN_COLOR, strokeWidth=2, opacity=0.6).encode(
            x=x, y=alt.Y("bas:Q", title=y_title, scale=alt.Scale(zero=True)), y2="haut:Q",
            tooltip=tooltip)
        line = base.mark_line(color=MAIN_COLOR, point=alt.OverlayMarkDef(
            color=MAIN_COLOR, size=70, filled=True)).encode(
            x=x, y=alt.Y("valeur:Q", title=y_title), tooltip=tooltip)
        out = alt.layer(band, line, *_target_layers(chart, horizontal=True)).properties(
            width=600, height=320)
    else:
        base = alt.Chart(table).transform_filter(drawn)
        y = alt.Y("categorie:N", title=category_title, sort=alt.EncodingSortField(
            field="ordre", order="ascending"), axis=alt.Axis(labelLimit=260))
        x_title = chart.value_label
        bars = base.mark_bar(color=MAIN_COLOR, opacity=0.9).encode(
            y=y, x=alt.X("valeur:Q", title=x_title, axis=alt.Axis(format=",~f")),
            tooltip=tooltip)
        layers = [bars]
        if chart.low:
            layers.append(base.mark_rule(color="#000000", strokeWidth=1.5).encode(
                y=y, x="bas:Q", x2="haut:Q", tooltip=tooltip))
        layers += _target_layers(chart, horizontal=False)
        out = alt.layer(*layers).properties(width=520)
    spec = out.configure_view(stroke=None).configure_axis(
        labelFontSize=12, titleFontSize=12).to_dict()
    spec["description"] = chart.description
    return spec


def _target_layers(chart: Chart, horizontal: bool) -> list:
    import altair as alt

    if not chart.targets:
        return []
    values = [{"cible": t, "cible_txt": f"{number_fr(t, 0)} %",
               "intervalle_txt": "sans objet : objectif fixé, non estimé"} for t in chart.targets]
    base = alt.Chart(alt.Data(values=values))
    tooltip = [alt.Tooltip("cible_txt:N", title="Objectif"),
               alt.Tooltip("intervalle_txt:N", title="Intervalle")]
    rule = base.mark_rule(color=TARGET_COLOR, strokeDash=[6, 4], strokeWidth=1.5)
    if horizontal:
        return [rule.encode(y="cible:Q", tooltip=tooltip),
                base.mark_text(color=TARGET_COLOR, align="left", dx=4, dy=-6, fontSize=11).encode(
                    y="cible:Q", x=alt.value(0), text="label:N", tooltip=tooltip
                ).transform_calculate(label="'objectif ' + datum.cible_txt")]
    return [rule.encode(x="cible:Q", tooltip=tooltip),
            base.mark_text(color=TARGET_COLOR, align="left", dx=3, fontSize=11,
                           baseline="bottom").encode(
                x="cible:Q", y=alt.value(0), text="cible_txt:N", tooltip=tooltip)]


def sankey_spec(chart: Chart, width: int = 720, height: int = 440, nodes: int = 8) -> dict:
    """A Vega v5 Sankey diagram of the named data set ``table`` (rows ``source``, ``cible``,
    ``valeur``, ``so`` and ``to`` — the rank of the source and target nodes): links stacked by
    source on the left and by target on the right, drawn with the ``linkpath`` transform."""
    label_space = 215
    def key(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    tooltip = (f"{{{key(chart.source_label)}: datum.source, {key(chart.target_label)}: "
               f"datum.cible, {key(chart.value_label)}: datum.valeur_txt, "
               "'Intervalle': datum.intervalle_txt}")
    node_tooltip = (f"{{'Nœud': datum.nom, {key(chart.link_word.capitalize())}: "
                    "format(datum.total, ',d'), "
                    f"'Intervalle': {key(chart.no_interval)}}}")
    ypos = "scale('y', datum.{a}) + datum.{r} * pad"

    def node_data(name: str, key: str, rank: str, low: str, high: str) -> dict:
        return {"name": name, "source": "links", "transform": [
            {"type": "aggregate", "groupby": [key, rank], "fields": [low, high, "valeur"],
             "ops": ["min", "max", "sum"], "as": ["y0", "y1", "total"]},
            {"type": "formula", "as": "nom", "expr": f"datum['{key}']"},
            {"type": "formula", "as": "py0", "expr": ypos.format(a="y0", r=rank)},
            {"type": "formula", "as": "py1", "expr": ypos.format(a="y1", r=rank)}]}

    def node_marks(data: str, x: str, label_x: str, align: str) -> list[dict]:
        return [
            {"type": "rect", "from": {"data": data}, "encode": {"enter": {
                "x": {"signal": x}, "width": {"signal": "nodeWidth"},
                "y": {"field": "py0"}, "y2": {"field": "py1"},
                "fill": {"value": "#4d4d4d"},
                "tooltip": {"signal": node_tooltip},
                "description": {"signal": "datum.nom + ' : ' + format(datum.total, ',d') + "
                                          f"' {chart.link_word}'"}}}},
            {"type": "text", "from": {"data": data}, "encode": {"enter": {
                "x": {"signal": label_x}, "align": {"value": align},
                "y": {"signal": "(datum.py0 + datum.py1) / 2"}, "baseline": {"value": "middle"},
                "text": {"field": "nom"}, "fontSize": {"value": 12},
                "fill": {"value": "#1b1b1b"}, "tooltip": {"signal": node_tooltip}}}}]

    return {
        "$schema": "https://vega.github.io/schema/vega/v5.json",
        "description": chart.description,
        "width": width, "height": height, "padding": 5,
        "signals": [{"name": "pad", "value": 8}, {"name": "nodeWidth", "value": 14},
                    {"name": "x0", "value": label_space},
                    {"name": "x1", "value": width - label_space}],
        "data": [
            {"name": "table"},
            {"name": "drawn", "source": "table", "transform": [
                {"type": "filter", "expr": "isValid(datum.valeur) && datum.valeur > 0"}]},
            {"name": "totals", "source": "drawn", "transform": [
                {"type": "aggregate", "fields": ["valeur"], "ops": ["sum"], "as": ["total"]}]},
            {"name": "links", "source": "drawn", "transform": [
                {"type": "stack", "field": "valeur", "sort": {"field": ["so", "to"]},
                 "as": ["sy0", "sy1"]},
                {"type": "stack", "field": "valeur", "sort": {"field": ["to", "so"]},
                 "as": ["ty0", "ty1"]},
                {"type": "formula", "as": "ys",
                 "expr": "scale('y', (datum.sy0 + datum.sy1) / 2) + datum.so * pad"},
                {"type": "formula", "as": "yt",
                 "expr": "scale('y', (datum.ty0 + datum.ty1) / 2) + datum.to * pad"},
                {"type": "formula", "as": "w",
                 "expr": "max(1, scale('y', datum.sy1) - scale('y', datum.sy0))"},
                {"type": "formula", "as": "xs", "expr": "x0 + nodeWidth"},
                {"type": "formula", "as": "xt", "expr": "x1"},
                {"type": "linkpath", "sourceX": "xs", "sourceY": "ys", "targetX": "xt",
                 "targetY": "yt", "orient": "horizontal", "shape": "diagonal"}]},
            node_data("sources", "source", "so", "sy0", "sy1"),
            node_data("cibles", "cible", "to", "ty0", "ty1"),
        ],
        "scales": [
            {"name": "y", "type": "linear", "zero": True, "nice": False,
             "domain": {"data": "totals", "field": "total"},
             "range": [0, {"signal": f"height - pad * {nodes - 1}"}]},
            {"name": "couleur", "type": "ordinal", "range": list(OKABE_ITO),
             "domain": {"data": "drawn", "field": "source", "sort": True}},
        ],
        "marks": [
            {"type": "path", "from": {"data": "links"}, "encode": {
                "enter": {"path": {"field": "path"}, "stroke": {"scale": "couleur",
                                                                 "field": "source"},
                          "strokeWidth": {"field": "w"}, "strokeOpacity": {"value": 0.45},
                          "tooltip": {"signal": tooltip},
                          "description": {"signal": "datum.source + ' vers ' + datum.cible + "
                                                    "' : ' + datum.valeur_txt"}},
                "hover": {"strokeOpacity": {"value": 0.8}},
                "update": {"strokeOpacity": {"value": 0.45}}}},
            *node_marks("sources", "x0", "x0 - 6", "right"),
            *node_marks("cibles", "x1", "x1 + nodeWidth + 6", "left"),
        ],
    }


# --- Geometry of the maps ------------------------------------------------------------------------


def map_geometry(level: str) -> dict:
    """The polygons of the maps as light GeoJSON (WGS 84): simplified with
    :data:`config.SITE_MAP_TOLERANCE_M` and rounded to :data:`config.SITE_MAP_DECIMALS`;
    features carry ``code`` (INSEE), ``nom`` and ``departement``. The départements are dissolved
    from the communes (:func:`analysis.maps.departement_layer`).

    A région with many communes (Grand Est has 5 115) would not fit a page: while the layer's
    JSON is over :data:`config.SITE_MAP_LAYER_MAX_BYTES`, the tolerance grows by half (the
    tolerance used is in the collection's ``tolerance_m``)."""
    from .maps import commune_layer, departement_layer

    communes = commune_layer()
    frame = departement_layer(communes) if level == "departements" else communes
    tolerance = config.SITE_MAP_TOLERANCE_M
    for _ in range(12):
        collection = _features(frame, tolerance)
        size = len(json.dumps(collection, separators=(",", ":"), ensure_ascii=False))
        if size <= config.SITE_MAP_LAYER_MAX_BYTES:
            break
        tolerance *= 1.5
    return collection


def _features(frame, tolerance: float) -> dict:
    """:func:`map_geometry`'s collection at one simplification tolerance (metres)."""
    import shapely

    geometry = frame.geometry.simplify(tolerance, preserve_topology=True)
    geometry = geometry.to_crs(4326)
    geometry = shapely.set_precision(geometry.to_numpy(), 10 ** -config.SITE_MAP_DECIMALS)
    features = []
    for row, geom in zip(frame.itertuples(index=False), geometry):
        if geom is None or geom.is_empty:
            continue
        features.append({"type": "Feature", "code": str(row.code), "nom": str(row.nom),
                         "departement": str(getattr(row, "departement", row.code)),
                         "properties": {},
                         "geometry": json.loads(shapely.to_geojson(geom))})
    return {"type": "FeatureCollection", "features": features, "tolerance_m": tolerance}


def attach_codes(chart: Chart, rows: list[dict], geometry: dict) -> tuple[list[dict], list[str]]:
    """Give each row of a map the INSEE code of its polygon: a département from the code in its
    label (« Paris (75) ») or its name, a commune from its name within the département of the
    row. Returns the rows and the labels that matched no polygon (they stay in the table, not
    on the map)."""
    by_name: dict[tuple[str, str], str] = {}
    names = {v: k for k, v in config.DEPARTEMENTS.items()}
    codes = {feature["code"] for feature in geometry["features"]}
    for feature in geometry["features"]:
        by_name[(feature["departement"], feature["nom"])] = feature["code"]
    kept, unmatched = [], []
    for row in rows:
        label = row["categorie"]
        if chart.geo == "departements":
            found = _DEPT_IN_LABEL.search(label)
            code = found.group(1) if found else names.get(label)
            if code == config.REGION_CODE or label == config.REGION_NAME:
                continue    # the région's row: the total of the others, not a polygon
        else:
            code = by_name.get((row["territoire"], label))
        if code not in codes:
            unmatched.append(label)
            code = None
        row["code"] = code
        kept.append(row)
    return kept, unmatched


# --- Pages ---------------------------------------------------------------------------------------


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(["html", "j2"]),
                       undefined=StrictUndefined, keep_trailing_newline=True)


def _filters(chart: Chart, rows: list[dict]) -> list[dict]:
    """The ``<select>`` filters of a chart: période, territoire, and its own dimension — each
    with the values its published rows carry."""
    def options(key: str, label_key: str) -> list[dict]:
        seen = dict.fromkeys((r[key], r[label_key]) for r in rows)
        return [{"value": v, "label": lab} for v, lab in seen]

    territories = options("territoire", "territoire_nom")
    order = list(config.TERRITORIES)
    territories.sort(key=lambda o: order.index(o["value"]) if o["value"] in order else 99)
    filters = [{"key": "periode", "label": "Période", "options": options("periode", "periode_fr"),
                "all": None}]
    if chart.geo == "communes":
        filters.append({"key": "territoire", "label": "Département", "options": territories,
                        "all": "Toute la région"})
    elif chart.geo != "departements":
        filters.append({"key": "territoire", "label": "Territoire", "options": territories,
                        "all": None})
    if chart.category_label:
        categories = options("categorie", "categorie")
        filters.append({"key": "categorie", "label": chart.category_label,
                        "options": categories, "all": "Toutes"})
    if chart.kind == "sankey":
        filters.append({"key": "source", "label": chart.source_label,
                        "options": options("source", "source"), "all": "Tous"})
    return filters


@dataclass
class SitePage:
    slug: str
    path: Path
    bytes: int = 0          # the page, with the scripts and style it loads
    charts: int = 0
    rows: int = 0
    unmatched: list[str] = field(default_factory=list)
    heavy: bool = False     # over config.SITE_PAGE_MAX_BYTES


@dataclass
class SiteSummary:
    folder: Path
    pages: list[SitePage] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    heavy: bool = False     # the whole site over config.SITE_MAX_BYTES


def theme_page(theme: Theme, found: list[tuple[Period, Path, dict]],
               geometries: dict[str, dict]) -> tuple[str, SitePage]:
    """The HTML of one theme page and what it holds (its weight is counted when written)."""
    page = SitePage(theme.slug, Path(f"{theme.slug}.html"))
    charts, data = [], []
    for chart in theme.charts:
        rows = chart_rows(chart, found)
        if not rows:
            continue
        geometry = geometries.get(chart.geo) if chart.geo else None
        if chart.geo:
            rows, unmatched = attach_codes(chart, rows, geometry)
            page.unmatched += unmatched
        spec = vega_spec(chart, geometry)
        filters = _filters(chart, rows)
        defaults = {f["key"]: (f["options"][0]["value"] if f["all"] is None and f["options"]
                               else "") for f in filters}
        if "territoire" in defaults and any(o["value"] == config.REGION_CODE
                                            for f in filters if f["key"] == "territoire"
                                            for o in f["options"]) \
                and chart.geo != "communes":
            defaults["territoire"] = config.REGION_CODE
        columns = table_columns(chart)
        charts.append({"id": chart.id, "title": chart.title, "description": chart.description,
                       "filters": filters, "defaults": defaults, "columns": columns,
                       "kind": chart.kind, "interval": bool(chart.low) or chart.kind == "sankey",
                       "map_note": chart.geo is not None})
        data.append({"id": chart.id, "spec": spec, "rows": rows, "defaults": defaults,
                     "columns": columns, "title": chart.title})
        page.charts += 1
        page.rows += len(rows)
    themes = [{"slug": t.slug, "title": t.title, "href": f"{t.slug}.html"} for t in THEMES]
    text = _environment().get_template("page.html.j2").render(
        theme=theme, charts=charts, themes=themes, csp=CSP, assets=ASSETS,
        scripts=[*VENDOR_SCRIPTS, "site.js"], region=config.REGION_NAME,
        k=config.suppression_k(), portal="../index.html",
        data_json=script_json({"charts": data}))
    return text, page


def _copy_assets(target: Path) -> int:
    """The vendored libraries (their source-map comment dropped), their licences and the
    site's script and style, into ``target``; their bytes."""
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in VENDOR_SCRIPTS:
        text = (VENDOR / name).read_text(encoding="utf-8")
        text = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)
        (target / name).write_text(text, encoding="utf-8")
    for path in VENDOR.glob("LICENSE-*"):
        shutil.copyfile(path, target / path.name)
    shutil.copyfile(VENDOR / "README.md", target / "LICENCES.md")
    for name in OWN_ASSETS:
        shutil.copyfile(TEMPLATES / name, target / name)
    for path in target.iterdir():
        total += path.stat().st_size
    return total


def page_weight(page: Path) -> int:
    """What a browser loads for ``page``: its bytes and those of the scripts and styles of the
    site's folder it names."""
    text = page.read_text(encoding="utf-8")
    total = len(text.encode("utf-8"))
    for ref in re.findall(r'(?:src|href)="([^"#]+\.(?:js|css))"', text):
        path = (page.parent / html.unescape(ref)).resolve()
        if path.is_file():
            total += path.stat().st_size
    return total


def build_site(reports_dir: Path | None = None) -> SiteSummary:
    """Write the site (every theme page with at least one chart) from the open-data packages
    on disk.

    Parameters
    ----------
    reports_dir
        Default: the reports folder in force.

    Returns
    -------
    SiteSummary
        The pages, their weights and the site's.

    """
    started = time.perf_counter()
    reports = Path(reports_dir or config.paths().reports)
    folder = reports / config.SITE_FOLDER
    summary = SiteSummary(folder)
    found = packages(reports)
    if not found:
        if folder.exists():
            _swap(reports, folder, None)
        summary.seconds = time.perf_counter() - started
        return summary
    levels = {c.geo for t in THEMES for c in t.charts if c.geo}
    geometries = {level: map_geometry(level) for level in sorted(levels)}
    staging = reports / f".{config.SITE_FOLDER}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        assets = _copy_assets(staging / ASSETS)
        total = assets
        for theme in THEMES:
            text, page = theme_page(theme, found, geometries)
            if not page.charts:
                continue
            write_text(staging / page.path, text)
            page.bytes = page_weight(staging / page.path)
            total += (staging / page.path).stat().st_size
            # over the target (a région of 4 000+ communes): kept, and said (see _print_site)
            page.heavy = page.bytes > config.SITE_PAGE_MAX_BYTES
            page.path = folder / page.path
            summary.pages.append(page)
        summary.heavy = total > config.SITE_MAX_BYTES
        summary.bytes = total
        _swap(reports, folder, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _swap(reports: Path, folder: Path, staging: Path | None) -> None:
    old = reports / f".{config.SITE_FOLDER}-old-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    if staging is not None:
        staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def site_pages(reports_dir: Path) -> list[tuple[Theme, Path]]:
    """The theme pages on disk, in the site's order."""
    folder = Path(reports_dir) / config.SITE_FOLDER
    return [(theme, folder / f"{theme.slug}.html") for theme in THEMES
            if (folder / f"{theme.slug}.html").is_file()]


def home_links(reports_dir: Path) -> list[dict]:
    """The theme pages for the portal's home block: ``title``, ``intro``, ``href``."""
    return [{"title": theme.title, "intro": theme.intro,
             "href": f"{config.SITE_FOLDER}/{path.name}"}
            for theme, path in site_pages(reports_dir)]


__all__ = ["THEMES", "Chart", "Theme", "build_site", "chart_rows", "home_links", "map_geometry",
           "page_weight", "sankey_spec", "script_json", "site_pages", "table_columns",
           "unguard", "vega_spec"]
