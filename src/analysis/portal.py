"""The portal: ``reports/index.html``, the home of every published page (issue 16, point 5).

One page, reachable from the file system or any static web server, with no request to the network:

- **par territoire**: the région and each département as a card with its headline figure and a
  link to each of its reports of the latest period (one click to any current report);
- **par période**: every report on disk by period with its key figures, the latest period open and
  the earlier ones folded (two clicks: unfold, then open);
- one section per **family of sheets** (buyers, large-project owners, EPT and EPCI…), each given
  by its module's ``index_section(reports_dir)`` (:data:`FAMILIES`), with an offline filter by
  name or identifier where the list is long;
- the sources the warehouse was built from, and those it lacks.

Every text from the inputs (buyer names, SIRET, key figures' labels) is escaped: the page is a
Jinja2 template with autoescape, and the families' sections escape their own. A
Content-Security-Policy allows no remote origin (only the page's own inline style and filter
script).
"""

from __future__ import annotations

import html
import importlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import config
from .io import write_text


@dataclass(frozen=True)
class Family:
    """A family of sheets shown on the portal: its module (with ``index_section(reports_dir)``),
    the anchor of its section and its label in the navigation."""

    module: str
    anchor: str
    label: str


#: The families of sheets, in the portal's order.
FAMILIES: tuple[Family, ...] = (
    Family("analysis.buyer_sheets", "acheteurs", "Acheteurs"),
    Family("analysis.owner_sheets", "maitres-ouvrage", "Maîtres d'ouvrage"),
    Family("analysis.territory_sheets", "territoires-ept-epci", "EPT et EPCI"),
    Family("analysis.opendata", "donnees-ouvertes", "Données ouvertes"),
)

#: The offline filter of every list that carries ``data-filtre-liste``: the rows whose
#: ``data-filtre`` text (name, identifier) holds what is typed, accents and case ignored.
FILTER_SCRIPT = """<script>
(function () {
  function norm(s) { return s.normalize('NFD').replace(/[\\u0300-\\u036f]/g, '').toLowerCase(); }
  document.querySelectorAll('input[data-filtre-liste]').forEach(function (box) {
    var list = document.getElementById(box.getAttribute('data-filtre-liste'));
    var count = document.getElementById(box.getAttribute('data-filtre-compte'));
    var unit = box.getAttribute('data-filtre-unite') || 'ligne(s)';
    if (!list) { return; }
    var rows = list.querySelectorAll('tbody tr');
    box.addEventListener('input', function () {
      var q = norm(box.value.trim()), shown = 0;
      rows.forEach(function (tr) {
        var hit = !q || norm(tr.getAttribute('data-filtre') || '').indexOf(q) !== -1;
        tr.hidden = !hit; if (hit) { shown += 1; }
      });
      if (count) { count.textContent = shown + ' ' + unit + ' affiché(s)'; }
    });
  });
})();
</script>"""


def filter_box(list_id: str, label: str, count_id: str, shown: int, unit: str) -> str:
    """The search box of an offline filter over the table ``list_id`` (see :data:`FILTER_SCRIPT`)."""
    esc = html.escape
    box_id = list_id.replace("liste-", "filtre-", 1)
    return (f'<p><label for="{esc(box_id)}">{esc(label)} </label>'
            f'<input id="{esc(box_id)}" type="search" autocomplete="off" '
            f'data-filtre-liste="{esc(list_id)}" data-filtre-compte="{esc(count_id)}" '
            f'data-filtre-unite="{esc(unit)}"> '
            f'<span id="{esc(count_id)}" aria-live="polite">{shown} {esc(unit)}</span></p>\n')


def _key_figures(record: dict, limit: int) -> list[dict]:
    figures = record.get("key_figures", [])
    headlines = [f for f in figures if f.get("headline")]
    return (headlines[:limit] if headlines else figures[:limit])


def _absent(record: dict) -> list[str]:
    """What a report could not cover, by absent source (from its record)."""
    from .sections.needs import SOURCE_SHORT_FR

    return [f"Sans {SOURCE_SHORT_FR.get(source, source)}, non couvert : {', '.join(parts)}."
            for source, parts in (record.get("absent") or {}).items()]


def _coverage(manifest: dict) -> str:
    """The sentence naming the sources the warehouse was built from and those it lacks ("" when
    none is absent)."""
    from .sections.needs import SOURCE_SHORT_FR, expected_sources
    from .warehouse import present_sources

    present = present_sources(manifest)
    absent = [source for source in expected_sources() if source not in present]
    if not absent:
        return ""
    names = lambda sources: ", ".join(SOURCE_SHORT_FR[s] for s in sources) or "aucune"  # noqa: E731
    return (f"Sources de l'entrepôt : {names(present)}. Absentes : {names(absent)} : les parties "
            "qui en dépendent ne sont pas couvertes ; chaque rapport dit ci-dessous lesquelles.")


def _family_sections(reports: Path) -> list[dict]:
    from markupsafe import Markup

    out = []
    for family in FAMILIES:
        section = importlib.import_module(family.module).index_section(reports)
        if section:
            out.append({"anchor": family.anchor, "label": family.label,
                        "html": Markup(section)})
    return out


def write_index(summary, reports: Path) -> Path:
    """Write ``reports/index.html``, the portal: every report and sheet on disk.

    Reports that failed in ``summary`` (a :class:`analysis.reporting.RenderSummary`) are listed
    too, marked as failed.
    """
    from markupsafe import Markup

    from .present import datetime_fr, number_fr
    from .suite import SPECS, period_order as _period_order, published_reports
    from .sheets import template
    from .warehouse import load_manifest

    reports = Path(reports)
    failed = {(r.job.period.label, r.job.territory, r.job.spec.slug): r
              for r in summary.failures}
    periods: dict[str, dict] = {}
    for period, territory, spec, path, record in published_reports(reports):
        if (period.label, territory, spec.slug) in failed:
            continue
        entry = periods.setdefault(period.label, {"period": period, "rows": []})
        entry["rows"].append({
            "territory": territory, "name": config.territory_name(territory),
            "title": spec.title, "href": os.path.relpath(path, reports), "failed": False,
            "figures": _key_figures(record, 4 if any(
                f.get("headline") for f in record.get("key_figures", [])) else 3),
            "absent": _absent(record), "spec": spec})
    for (label, territory, slug), result in failed.items():
        entry = periods.setdefault(label, {"period": result.job.period, "rows": []})
        entry["rows"].append({
            "territory": territory, "name": config.territory_name(territory),
            "title": SPECS[slug].title if slug in SPECS else slug, "href": None,
            "failed": True, "figures": [], "absent": [], "spec": None})
    ordered = [periods[label] for label in sorted(
        periods, key=lambda p: _period_order(periods[p]["period"]))]
    for entry in ordered:
        entry["label"] = entry["period"].label
        entry["label_fr"] = entry["period"].label_fr.capitalize()

    # Par territoire: the cards of the latest period with a report
    cards = []
    if ordered:
        latest = ordered[0]
        by_territory: dict[str, dict] = {}
        for row in latest["rows"]:
            card = by_territory.setdefault(row["territory"], {
                "code": row["territory"], "name": row["name"], "links": [], "figure": None})
            if row["href"] is not None:
                card["links"].append({"href": row["href"], "title": row["title"]})
                spec = row["spec"]
                if card["figure"] is None and spec is not None and not spec.theme \
                        and row["figures"]:
                    card["figure"] = row["figures"][0]
        order = list(config.TERRITORIES)
        cards = sorted(by_territory.values(),
                       key=lambda c: order.index(c["code"]) if c["code"] in order else len(order))
        cards = {"period": latest["label_fr"], "cards": cards}

    from .site import home_links

    manifest = load_manifest()
    families = _family_sections(reports)
    site = home_links(reports)
    page = template("portail.html.j2").render(
        region=config.territory_name(config.REGION_CODE), k=config.suppression_k(),
        coverage=_coverage(manifest), periods=ordered, territories=cards, families=families,
        site=site,
        generated=datetime_fr(datetime.now(timezone.utc).isoformat()),
        built=datetime_fr(manifest.get("built_at", "?")),
        n_inputs=len(manifest.get("inputs", [])),
        n_contracts=number_fr(manifest.get("tables", {}).get("contracts", 0)),
        filter_script=Markup(FILTER_SCRIPT))
    return write_text(reports / "index.html", page)


__all__ = ["FAMILIES", "Family", "FILTER_SCRIPT", "filter_box", "write_index"]
