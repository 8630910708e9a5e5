"""What the reports' pieces give a reader on paper and on a phone: figures never shrunk below
readable text, tables framed to scroll, maps that would show one area replaced by a sentence,
legends off the axes, amount bands in their order and CPV divisions named.

The layout itself (print to A4, a 390 px screen) is checked in a browser by ``test_browser.py``.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest

from analysis import maps, present, reporting
from analysis.publish import open_report
from analysis.scope import Scope
from analysis.sections import hours, progression, territories

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _threshold(monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_SUPPRESSION_K", "5")


def _html(parts) -> str:
    return "".join(getattr(p, "data", "") or "" for p in parts)


def _text(parts) -> str:
    return "".join(getattr(p, "data", "") or "" for p in parts)


# --- Figures ---------------------------------------------------------------------------------------


def test_a_figure_is_never_shrunk_below_readable_text():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], label="courbe")
    ax.legend(fontsize=8)
    ax.set_title("Titre", fontsize=13)
    page = present.figure_html(fig, alt="a", caption="c").data
    style = re.search(r'<img [^>]*style="([^"]*)"', page).group(1)
    width = int(re.search(r"(?<!-)width:(\d+)px", style).group(1))
    floor = int(re.search(r"min-width:(\d+)px", style).group(1))
    smallest_px = 8 * 110 / 72  # the legend, as drawn in the PNG
    # At its narrowest, the legend is still about 9 CSS pixels high…
    assert floor / width * smallest_px >= present.TEXT_FLOOR_PX - 0.05
    # …and the image is shrunk that far at most (it scrolls in its frame below that width).
    assert floor < width
    # Where it is wider than the screen, it says so (the page's script shows the hint).
    assert re.search(r'<p class="obs-scroll-hint"[^>]* hidden>[^<]+</p><div class="obs-figure-scroll">',
                     page)


# --- Tables -----------------------------------------------------------------------------------------


def test_every_report_table_gets_a_scroll_frame_and_its_hint():
    page = ('<div class="obs-table-wrap"><p class="obs-caption">T</p>'
            '<table class="obs-table" data-k="5"><tr><td>a</td></tr></table></div>'
            '<table class="other"><tr><td>b</td></tr></table>')
    framed = reporting.add_scroll_frames(page)
    assert framed.count('class="obs-table-scroll"') == 1
    assert re.search(r'<p class="obs-scroll-hint"[^>]*>[^<]+</p><div class="obs-table-scroll"'
                     r'[^>]*><table class="obs-table"', framed)
    assert '<table class="other">' in framed


def test_amount_bands_in_their_order_unknown_last(small_warehouse, tmp_path):
    report = open_report("rapport_annuel", "11", "2025", 0.30, 5, tmp_path)
    real = Scope("11", "2025")
    contracts = real.period_contracts.reset_index(drop=True)
    # Some contracts without an amount, so that the « non renseigné » band exists.
    scope = SimpleNamespace(name=real.name, period=real.period, period_contracts=contracts.assign(
        montant=contracts["montant"].where(contracts.index % 7 != 0)))
    progression.by_amount(scope, report)
    table = pd.read_csv(tmp_path / "rapport_annuel_tableaux" / "part_par_montant.csv", sep=";",
                        encoding="utf-8-sig", dtype=str)
    bands = list(table.iloc[:, 0])
    expected = [label for _, _, label in progression.progression.AMOUNT_BANDS]
    assert bands[-1] == "non renseigné"
    assert bands[:-1] == [b for b in expected if b in bands]


def test_cpv_divisions_carry_their_french_names(small_warehouse, tmp_path):
    from analysis import cpv

    assert len(cpv.DIVISIONS) == 45
    assert cpv.division_label("45") == "45 – Travaux de construction"
    report = open_report("progression_clauses", "11", "2025", 0.30, 5, tmp_path)
    page = _html(progression.by_sector(Scope("11", "2025"), report))
    cells = re.findall(r"<tr>\s*<td>([^<]*)</td>", page)
    assert cells and all(re.fullmatch(r"\d\d – \S.+", c) or c == "non renseigné" for c in cells)


# --- Maps ---------------------------------------------------------------------------------------------


def test_a_map_of_one_commune_is_a_sentence(small_warehouse, tmp_path):
    report = open_report("fiche_departementale", "75", "2025", 0.30, 5, tmp_path)
    scope = Scope("75", "2025")
    shown = territories.beneficiary_map(scope, report) + territories.structures_map(scope, report)
    assert "<img" not in _html(shown)
    text = _text(shown)
    assert "ne forme qu'une commune" in text and "pas de carte" in text


def test_a_map_of_several_communes_is_still_drawn(small_warehouse, tmp_path):
    report = open_report("fiche_departementale", "93", "2025", 0.30, 5, tmp_path)
    shown = territories.beneficiary_map(Scope("93", "2025"), report)
    assert "<img" in _html(shown)


def test_an_interactive_map_leaves_a_note_in_print():
    import geopandas as gpd
    from shapely.geometry import box

    frame = gpd.GeoDataFrame({"code": ["1", "2"], "nom": ["A", "B"], "taux": [1.0, 2.0]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:2154")
    page = maps.interactive_map(frame, "taux", tooltip=["nom"], title="t").data
    note = re.search(r'<p class="obs-print-note" hidden>([^<]+)</p>', page)
    assert note and "version HTML" in note.group(1)


# --- Legends ------------------------------------------------------------------------------------------


class _Keep:
    """A report stand-in that keeps the figure instead of rendering it."""

    def figure(self, fig, alt, caption):
        self.fig = fig
        return fig


def test_the_grand_paris_legend_never_covers_the_axes():
    import matplotlib.pyplot as plt

    scope = SimpleNamespace(name="Paris")
    by_line = pd.DataFrame({"ligne": ["L14 Sud", hours.TOTAL], "part_insertion": [0.11, 0.11],
                            "taux_obligation_moyen": [0.09, 0.09]})
    sme = pd.DataFrame({"ligne": ["L14 Sud"], "part_pme": [0.25]})
    keep = _Keep()
    hours.grand_paris_chart(scope, keep, by_line, sme)
    fig = keep.fig
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert legends
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            # The axes with its tick labels and axis titles.
            assert not box.overlaps(ax.get_tightbbox(renderer)), ax.get_xlabel()
    plt.close(fig)


def test_a_commune_map_says_how_many_classes_it_shows(small_warehouse, tmp_path, monkeypatch):
    report = open_report("fiche_departementale", "93", "2025", 0.30, 5, tmp_path)
    drawn = {}

    def keep(fig, alt, caption):
        legend = fig.axes[0].get_legend()
        drawn["classes"] = [t.get_text() for t in legend.get_texts()
                            if t.get_text() not in (maps.NO_DATA_LABEL, maps.secret_label(5))]
        drawn["alt"] = alt
        return present.figure_html(fig, alt, caption)

    monkeypatch.setattr(report, "figure", keep)
    territories.beneficiary_map(Scope("93", "2025"), report)
    assert f"en {len(drawn['classes'])} classe(s)" in drawn["alt"], (drawn["alt"], drawn["classes"])
