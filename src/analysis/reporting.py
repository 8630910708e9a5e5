"""Render the report notebooks: papermill runs them per territory, nbconvert exports HTML without code.

Outputs (paths from :mod:`analysis.config`)::

    reports/<first>-<last>/<territory>/<report>.html   what reviewers read
    reports/_executed/<first>-<last>/<territory>/<report>.ipynb   the executed notebook, for debugging
    reports/index.html                                   every report, with its key figures

Jobs run in parallel, one process per core. A failing notebook does not stop the others; its
message names the notebook, the territory and the cell, and its executed notebook is kept.
"""

from __future__ import annotations

import html
import multiprocessing
import os
import re
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import config
from .io import write_text


@dataclass(frozen=True)
class ReportSpec:
    """A report notebook and how it is titled."""

    slug: str
    notebook: str
    title: str


REPORTS: tuple[ReportSpec, ...] = (
    ReportSpec("progression_clauses", "01_progression_clauses.ipynb",
               "Progression des clauses sociales"),
)

#: nbconvert templates of the observatory (``observatoire``: JupyterLab's, offline, house style).
TEMPLATES = Path(__file__).parent / "templates"
#: Longest a single cell may run before the report is declared failed (seconds).
CELL_TIMEOUT = 900
KERNEL = "python3"


@dataclass(frozen=True)
class Job:
    """One notebook rendered for one territory and period."""

    spec: ReportSpec
    territory: str
    first_year: int
    last_year: int
    target: float

    @property
    def period(self) -> str:
        return f"{self.first_year}-{self.last_year}"

    def parameters(self) -> dict:
        return {"territory": self.territory, "first_year": self.first_year,
                "last_year": self.last_year, "target": self.target}

    def html_path(self, reports: Path) -> Path:
        return reports / self.period / self.territory / f"{self.spec.slug}.html"

    def executed_path(self, reports: Path) -> Path:
        return reports / "_executed" / self.period / self.territory / f"{self.spec.slug}.ipynb"


@dataclass
class JobResult:
    job: Job
    html: Path | None = None
    executed: Path | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class RenderSummary:
    results: list[JobResult] = field(default_factory=list)
    index: Path | None = None

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.error]


class ReportError(Exception):
    """A notebook failed; the message says which, for which territory, at which cell."""


def export_html(notebook, title: str) -> str:
    """HTML of an executed notebook without code, prompts or error streams."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)], template_name="observatoire", language_code="fr")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    for cell in notebook.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return body


def run_job(job: Job, reports: Path | None = None) -> JobResult:
    """Execute one notebook for one territory and export its HTML.

    Raises
    ------
    ReportError
        Naming the notebook, the territory and the failing cell; the executed notebook is kept.
    """
    import time

    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    cfg = config.paths()
    reports = Path(reports or cfg.reports)
    source = cfg.notebooks / job.spec.notebook
    executed = job.executed_path(reports)
    executed.parent.mkdir(parents=True, exist_ok=True)
    name = config.territory_name(job.territory)
    try:
        papermill.execute_notebook(
            str(source), str(executed), parameters=job.parameters(), kernel_name=KERNEL,
            progress_bar=False, cwd=str(cfg.root), execution_timeout=CELL_TIMEOUT,
            # The kernel's own log (transport notices, shutdown) is noise for a report run;
            # errors in cells still surface as PapermillExecutionError.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except PapermillExecutionError as exc:
        raise ReportError(
            f"échec du notebook {job.spec.notebook} pour {name} ({job.territory}), "
            f"période {job.period}, {_where(exc, executed)} : {exc.ename}: {exc.evalue} "
            f"— notebook exécuté conservé : {executed}") from None
    notebook = nbformat.read(executed, as_version=4)
    title = f"{job.spec.title} — {name} — {job.period}"
    notebook.metadata["title"] = title
    target = job.html_path(reports)
    write_text(target, export_html(notebook, title))
    return JobResult(job, html=target, executed=executed, seconds=time.perf_counter() - started)


def _where(exc, executed: Path) -> str:
    """Which cell failed, numbered as in the source notebook (papermill's injected cell aside)."""
    import nbformat

    position = exc.cell_index + 1
    try:
        cells = nbformat.read(executed, as_version=4).cells
        injected = [i for i, c in enumerate(cells)
                    if "injected-parameters" in c.metadata.get("tags", [])]
        if injected and injected[0] < exc.cell_index:
            position -= 1
        first_line = (exc.source or "").strip().splitlines()[:1]
    except Exception:  # the executed notebook is unreadable: keep papermill's numbering
        first_line = []
    where = f"cellule {position}"
    return f"{where} « {first_line[0][:80]} »" if first_line else where


def _run_safely(job: Job, reports: Path) -> JobResult:
    try:
        return run_job(job, reports)
    except ReportError as exc:
        return JobResult(job, error=str(exc), executed=job.executed_path(reports))
    except Exception as exc:  # anything else: still name the notebook and the territory
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return JobResult(job, error=f"échec du rendu de {job.spec.notebook} pour "
                                    f"{job.territory} ({job.period}) : {detail}")


def plan(territories: list[str] | None = None, first_year: int = config.DEFAULT_FIRST_YEAR,
         last_year: int = config.DEFAULT_LAST_YEAR, target: float = config.DEFAULT_TARGET,
         reports: tuple[ReportSpec, ...] = REPORTS) -> list[Job]:
    """Every (report, territory) job to render."""
    territories = territories or list(config.TERRITORIES)
    for code in territories:
        config.territory_name(code)
    return [Job(spec, code, first_year, last_year, target) for code in territories for spec in reports]


def render(territories: list[str] | None = None, first_year: int = config.DEFAULT_FIRST_YEAR,
           last_year: int = config.DEFAULT_LAST_YEAR, target: float = config.DEFAULT_TARGET,
           jobs: int | None = None, progress: bool = True,
           reports: Path | None = None) -> RenderSummary:
    """Render every report for every territory in parallel, then write ``reports/index.html``."""
    from tqdm.auto import tqdm

    reports = Path(reports or config.paths().reports)
    todo = plan(territories, first_year, last_year, target)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    summary = RenderSummary()
    bar = tqdm(total=len(todo), desc="Rapports", unit="rapport", disable=not progress)
    if workers == 1:
        for job in todo:
            summary.results.append(_run_safely(job, reports))
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_run_safely, job, reports) for job in todo]
            for future in as_completed(futures):
                summary.results.append(future.result())
                bar.update()
    bar.close()
    order = {job: i for i, job in enumerate(todo)}
    summary.results.sort(key=lambda r: order[r.job])
    summary.index = write_index(summary, reports)
    return summary


# --- Index ---------------------------------------------------------------------------------------


def key_figures(territory: str, first_year: int, last_year: int,
                contracts=None) -> dict | None:
    """Last-year share and interval for a territory (``contracts``: default, the warehouse's)."""
    from .indicators.progression import in_territory, latest, share_by_year
    from .warehouse import load_table

    if contracts is None:
        contracts = load_table("contracts")
    row = latest(share_by_year(in_territory(contracts, territory), first_year, last_year))
    if row is None:
        return None
    return {"annee": int(row["annee"]), "part": float(row["part"]), "ic_bas": float(row["ic_bas"]),
            "ic_haut": float(row["ic_haut"]), "contrats": int(row["contrats"])}


def published_reports(reports: Path) -> list[tuple[str, str, ReportSpec, Path]]:
    """Every rendered report on disk: ``(period, territory, spec, html path)``, in index order."""
    specs = {spec.slug: spec for spec in REPORTS}
    territory_order = {code: i for i, code in enumerate(config.TERRITORIES)}
    found = []
    for path in reports.glob("*/*/*.html"):
        period, territory, slug = path.parent.parent.name, path.parent.name, path.stem
        if re.fullmatch(r"\d{4}-\d{4}", period) and territory in config.TERRITORIES and slug in specs:
            found.append((period, territory, specs[slug], path))
    found.sort(key=lambda item: (item[0], territory_order[item[1]], item[2].slug))
    return found


def write_index(summary: RenderSummary, reports: Path) -> Path:
    """``reports/index.html``: every report on disk, by period and territory, with key figures.

    Reports that failed in this run are listed too, marked as failed.
    """
    from .plots import percent_fr
    from .present import datetime_fr, number_fr
    from .warehouse import load_manifest, load_table

    contracts = load_table("contracts")  # once, for every row's key figure
    failed = {(r.job.period, r.job.territory, r.job.spec.slug) for r in summary.failures}
    entries = [(period, territory, spec, path) for period, territory, spec, path
               in published_reports(reports) if (period, territory, spec.slug) not in failed]
    entries += [(r.job.period, r.job.territory, r.job.spec, None) for r in summary.failures]
    rows = []
    for period, territory, spec, path in entries:
        name = config.territory_name(territory)
        if path is not None:
            link = (f'<a href="{html.escape(os.path.relpath(path, reports))}">'
                    f"{html.escape(spec.title)}</a>")
        else:
            link = f'{html.escape(spec.title)} <span class="fail">(échec du rendu)</span>'
        first, last = (int(y) for y in period.split("-"))
        figures = key_figures(territory, first, last, contracts)
        if figures:
            key = (f"{percent_fr(figures['part'])} en {figures['annee']} "
                   f"(IC 95 % {percent_fr(figures['ic_bas'])} – {percent_fr(figures['ic_haut'])}, "
                   f"{number_fr(figures['contrats'])} marchés)")
        else:
            key = "–"
        rows.append(f"<tr><td>{html.escape(name)} ({territory})</td><td>{period}</td>"
                    f"<td>{link}</td><td>{key}</td></tr>")
    manifest = load_manifest()
    built = datetime_fr(manifest.get("built_at", "?"))
    generated = datetime_fr(datetime.now(timezone.utc).isoformat())
    page = _INDEX.format(
        rows="\n".join(rows), generated=generated, built=html.escape(built),
        n_inputs=len(manifest.get("inputs", [])),
        n_contracts=number_fr(manifest.get("tables", {}).get("contracts", 0)),
    )
    return write_text(reports / "index.html", page)


_INDEX = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Observatoire des clauses sociales — rapports</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.5; }}
h1 {{ color: #1f4e79; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .5rem; text-align: left; vertical-align: top; }}
th {{ background: #f0f4f8; }}
.fail {{ color: #c0392b; }}
footer {{ margin-top: 2rem; font-size: .9rem; color: #555; }}
</style>
</head>
<body>
<h1>Observatoire des clauses sociales — Île-de-France</h1>
<p>Rapports par territoire. Chiffre clé : part des marchés notifiés comportant au moins une
considération sociale (clause, critère ou marché réservé), avec son intervalle de confiance à 95 %.</p>
<table>
<thead><tr><th>Territoire</th><th>Période</th><th>Rapport</th><th>Chiffre clé</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<footer>
<p>Généré le {generated} à partir de l'entrepôt construit le {built} ({n_inputs} fichiers
sources, {n_contracts} marchés).</p>
</footer>
</body>
</html>
"""
