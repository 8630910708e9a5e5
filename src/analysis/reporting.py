"""Render the report suite: papermill runs each notebook per territory, nbconvert exports HTML.

The suite (:data:`REPORTS`): the regional annual report, a periodic sheet (*fiche*) for each
département, and six thematic notebooks that any territory can be rendered with.

Outputs (paths from :mod:`analysis.config`)::

    reports/<period>/<territory>/<slug>.html            what reviewers read (table of contents,
                                                        no code, figures with alt text)
    reports/<period>/<territory>/<slug>.json            what it published and how it was made
    reports/<period>/<territory>/<slug>_tableaux/       every table as CSV and XLSX
    reports/_executed/<period>/<territory>/<slug>.ipynb the executed notebook, for debugging
    reports/index.html                                  the portal (analysis.portal): every
                                                        report and sheet, with key figures
    reports/donnees/<period>/datapackage.json           open data (:mod:`analysis.opendata`,
                                                        written by ``observatoire report``)

Jobs run in parallel, one process per core (or on a Dask cluster: ``scheduler``). A job whose
notebook, code, warehouse and parameters are those of the report on disk is skipped. A failing
notebook does not stop the others; its message names the notebook, the territory and the cell,
and its executed notebook is kept. A report is staged aside and moved into place only once
complete: an interrupted run leaves the previous report as it was.
"""

from __future__ import annotations

import hashlib
import html
import json
import multiprocessing
import os
import re
import shutil
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__, config
from .io import write_text
from .periods import Period, default_period
from .publish import (TABLES_SUFFIX, code_fingerprint, content_manifest,  # noqa: F401
                      read_record, warehouse_fingerprint)

from .suite import (ANY, DEPARTEMENT, NATIONAL, REGION, REPORTS, SPECS, ReportSpec,  # noqa: F401
                    period_order as _period_order, published_reports)

#: The researcher's notebook (:mod:`analysis.api`): under ``notebooks/`` with the reports but not
#: one of them — never rendered by :func:`render` nor listed in ``reports/index.html``; the test
#: suite executes it on its own (``tests/test_api.py``).
EXPLORER = "00_explorer.ipynb"

#: nbconvert templates of the observatory (``observatoire``: JupyterLab's, offline, house style).
TEMPLATES = Path(__file__).parent / "templates"
#: Longest a single cell may run before the report is declared failed (seconds).
CELL_TIMEOUT = 900
KERNEL = "python3"
#: Folder names under reports/ that are not periods.
EXECUTED, STAGING = "_executed", "_staging"


@dataclass(frozen=True)
class Job:
    """One notebook rendered for one territory and period."""

    spec: ReportSpec
    territory: str
    period: Period
    target: float = config.DEFAULT_TARGET
    k: int | None = None

    def parameters(self, output_dir: Path | None = None) -> dict:
        """The notebook's parameters (``papermill --help-notebook`` documents them)."""
        params = {"territory": self.territory, "period": self.period.label,
                  "target": self.target, "suppression_k": self.k or config.suppression_k()}
        if output_dir is not None:
            params["output_dir"] = str(output_dir)
        return params

    def folder(self, reports: Path) -> Path:
        return reports / self.period.label / self.territory

    def html_path(self, reports: Path) -> Path:
        return self.folder(reports) / f"{self.spec.slug}.html"

    def record_path(self, reports: Path) -> Path:
        return self.folder(reports) / f"{self.spec.slug}.json"

    def tables_path(self, reports: Path) -> Path:
        return self.folder(reports) / f"{self.spec.slug}{TABLES_SUFFIX}"

    def staging_path(self, reports: Path) -> Path:
        return reports / STAGING / f"{self.period.label}-{self.territory}-{self.spec.slug}-{os.getpid()}"

    def executed_path(self, reports: Path) -> Path:
        return reports / EXECUTED / self.period.label / self.territory / f"{self.spec.slug}.ipynb"

    def describe(self) -> str:
        return (f"{self.spec.notebook} pour {config.territory_name(self.territory)} "
                f"({self.territory}), période {self.period.label}")


@dataclass
class JobResult:
    job: Job
    html: Path | None = None
    executed: Path | None = None
    error: str | None = None
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class RenderSummary:
    results: list[JobResult] = field(default_factory=list)
    index: Path | None = None

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.error]

    @property
    def skipped(self) -> list[JobResult]:
        return [r for r in self.results if r.skipped]


class ReportError(Exception):
    """A notebook failed; the message says which, for which territory, at which cell."""


# --- Export --------------------------------------------------------------------------------------


def export_html(notebook, title: str) -> str:
    """HTML of an executed notebook without code, prompts or error streams, with a contents list."""
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
    return add_contents(add_scroll_frames(body))


_TABLE = re.compile(r'<table class="obs-table"[^>]*>.*?</table>', re.S)
#: Shown above a table wider than the screen (by the page's script); never printed.
SCROLL_HINT = "Tableau plus large que l'écran : faites-le défiler vers la droite →"


def add_scroll_frames(page: str) -> str:
    """Put each report table in a frame of its own that scrolls sideways, after a scroll hint.

    On a narrow screen the table scrolls inside its frame (its label column stays in view, a
    shadow marks the right edge) instead of the page; the hint above it is shown only when the
    table is wider than its frame. In print the frame is open and the table fits the page.
    """
    return _TABLE.sub(
        lambda m: ('<p class="obs-scroll-hint" aria-hidden="true" hidden>'
                   f'{html.escape(SCROLL_HINT)}</p>'
                   '<div class="obs-table-scroll" role="region" tabindex="0" '
                   f'aria-label="Tableau à faire défiler">{m.group(0)}</div>'), page)


_HEADING = re.compile(r'<h([23]) id="([^"]+)">(.*?)(?:<a class="anchor-link"[^>]*>.*?</a>)?</h\1>',
                      re.S)


def add_contents(page: str) -> str:
    """Insert a table of contents (the report's h2 and h3 headings) after the title's cell."""
    entries = []
    for level, anchor, text in _HEADING.findall(page):
        label = re.sub(r"<[^>]+>", "", text).strip()
        entries.append((int(level), anchor, label))
    if len(entries) < 2:
        return page
    items, open_sub = [], False
    for level, anchor, label in entries:
        if level == 3 and not open_sub and items:
            items[-1] = items[-1].removesuffix("</li>") + "<ol>"
            open_sub = True
        elif level == 2 and open_sub:
            items.append("</ol></li>")
            open_sub = False
        items.append(f'<li><a href="#{anchor}">{label}</a></li>')
    if open_sub:
        items.append("</ol></li>")
    nav = (f'<nav class="obs-toc" aria-label="Sommaire"><p class="obs-toc-title">Sommaire</p>'
           f'<ol>{"".join(items)}</ol></nav>')
    first_h1 = re.search(r"</h1>", page)
    if first_h1 is None:
        return page
    # A block of its own, before the cell that follows the title's.
    next_cell = page.find('<div class="jp-Cell ', first_h1.end())
    position = next_cell if next_cell != -1 else first_h1.end()
    return page[:position] + nav + page[position:]


# --- One job ---------------------------------------------------------------------------------------


def notebook_fingerprint(path: Path) -> str:
    """Digest of what a notebook executes and shows: its cells (type, id, source, tags), not its
    metadata nor outputs — JupyterLab rewrites the metadata of a notebook merely opened, and the
    report runs in the kernel :data:`KERNEL` whatever the notebook names."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [{"cell_type": cell.get("cell_type"), "id": cell.get("id"),
              "source": "".join(cell.get("source", [])) if isinstance(cell.get("source"), list)
              else cell.get("source", ""),
              "metadata": cell.get("metadata", {})} for cell in notebook.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def job_fingerprint(job: Job, notebooks: Path, warehouse: str, code: str) -> str:
    """What decides a report's content: notebook, code, warehouse and parameters."""
    digest = hashlib.sha256()
    digest.update(notebook_fingerprint(notebooks / job.spec.notebook).encode())
    digest.update(json.dumps(job.parameters(), sort_keys=True).encode())
    digest.update(warehouse.encode())
    digest.update(code.encode())
    digest.update(job.spec.input_fingerprint().encode())  # the national DECP, when it reads one
    return digest.hexdigest()[:16]


def is_current(job: Job, reports: Path, fingerprint: str, record: dict | None = None) -> bool:
    """True when the report on disk (its ``record``, read if not given) was made from the same
    inputs and code."""
    record = record if record is not None else read_record(job.record_path(reports))
    return (job.html_path(reports).is_file() and record is not None
            and record.get("render", {}).get("fingerprint") == fingerprint)


def run_job(job: Job, reports: Path | None = None, fingerprint: str | None = None,
            fresh: bool = False) -> JobResult:
    """Execute one notebook for one territory, export its HTML and move the report into place.

    The notebook runs in this worker's warm kernel (:mod:`analysis.kernels`), or in a kernel of
    its own with ``fresh``.

    Raises
    ------
    ReportError
        Naming the notebook, the territory and the failing cell; the executed notebook is kept.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from . import kernels

    started = time.perf_counter()
    cfg = config.paths()
    reports = Path(reports or cfg.reports)
    source = Path(job.spec.notebook)
    if not source.is_absolute():
        source = cfg.notebooks / source
    executed = job.executed_path(reports)
    executed.parent.mkdir(parents=True, exist_ok=True)
    staging = job.staging_path(reports)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    name = config.territory_name(job.territory)
    try:
        try:
            notebook = papermill.execute_notebook(
                str(source), str(executed), parameters=job.parameters(staging),
                kernel_name=KERNEL, progress_bar=False, cwd=str(cfg.root),
                execution_timeout=CELL_TIMEOUT, engine_name=None if fresh else kernels.ENGINE,
                # Written once at the end (a failing cell still writes it): saving after every
                # cell rewrote megabytes of figures a dozen times per report.
                request_save_on_cell_execute=False,
                # The kernel's own log (transport notices, shutdown) is noise for a report run;
                # errors in cells still surface as PapermillExecutionError.
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            raise ReportError(
                f"échec du notebook {job.spec.notebook} pour {name} ({job.territory}), "
                f"période {job.period.label}, {_where(exc, executed)} : {exc.ename}: {exc.evalue} "
                f"— notebook exécuté conservé : {executed}") from None
        for cell in notebook.cells:  # papermill gives its cell a random id: same inputs, same page
            if "injected-parameters" in cell.metadata.get("tags", []):
                cell["id"] = "injected-parameters"
        shown = "France" if job.spec.requires == NATIONAL else name  # all régions compared
        title = f"{job.spec.title} — {shown} — {job.period.label_fr}"
        notebook.metadata["title"] = title
        write_text(staging / f"{job.spec.slug}.html", export_html(notebook, title))
        seconds = time.perf_counter() - started
        _finish_record(job, staging, fingerprint, seconds)
        with publication_lock(reports):
            _move_into_place(job, staging, reports)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return JobResult(job, html=job.html_path(reports), executed=executed,
                     seconds=time.perf_counter() - started)


def _finish_record(job: Job, staging: Path, fingerprint: str | None, seconds: float) -> None:
    """Add how the report was made to the record the notebook wrote."""
    import platform

    path = staging / f"{job.spec.slug}.json"
    record = read_record(path) or {"slug": job.spec.slug, "territory": job.territory,
                                   "period": job.period.label, "key_figures": [], "tables": []}
    record["title"] = job.spec.title
    record["render"] = {
        "fingerprint": fingerprint, "notebook": job.spec.notebook,
        "parameters": job.parameters(), "package_version": __version__,
        "python": platform.python_version(), "seconds": round(seconds, 1),
        "rendered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_text(path, json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True))


def _move_into_place(job: Job, staging: Path, reports: Path) -> None:
    """Tables first, then the record, then the HTML: each step is a rename."""
    folder = job.folder(reports)
    folder.mkdir(parents=True, exist_ok=True)
    tables = job.tables_path(reports)
    staged_tables = staging / tables.name
    if staged_tables.is_dir():
        old = folder / f".{tables.name}.old-{os.getpid()}"
        if tables.exists():
            os.replace(tables, old)
        os.replace(staged_tables, tables)
        shutil.rmtree(old, ignore_errors=True)
    elif tables.exists():
        shutil.rmtree(tables)
    os.replace(staging / f"{job.spec.slug}.json", job.record_path(reports))
    os.replace(staging / f"{job.spec.slug}.html", job.html_path(reports))


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


def _run_safely(job: Job, reports: Path, fingerprint: str | None = None,
                fresh: bool = False) -> JobResult:
    try:
        return run_job(job, reports, fingerprint, fresh)
    except ReportError as exc:
        return JobResult(job, error=str(exc), executed=job.executed_path(reports))
    except Exception as exc:  # anything else: still name the notebook and the territory
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return JobResult(job, error=f"échec du rendu de {job.describe()} : {detail}")


def _run_in_region(region: str, job: Job, reports: Path, fingerprint: str | None = None,
                   fresh: bool = False) -> JobResult:
    """:func:`_run_safely` with the région of the command that planned the job (a Dask worker's
    own ``OBSERVATOIRE_REGION`` may differ)."""
    with config.use_region(region):
        return _run_safely(job, reports, fingerprint, fresh)


# --- The suite -----------------------------------------------------------------------------------


def plan(territories: list[str] | None = None,
         period: str | Period | list[str | Period] | None = None,
         target: float = config.DEFAULT_TARGET, reports: list[str] | None = None,
         k: int | None = None) -> list[Job]:
    """Every (report, territory) job to render, for one period or several.

    Without ``reports``: each territory's own report (the annual report for the région, the
    sheet for a département; for the région, the comparison of France's régions when a national
    DECP is present) and, for the région, the thematic notebooks. With ``reports``
    (slugs, or ``themes`` for the six thematic notebooks): those reports for every territory
    they apply to.
    """
    if isinstance(period, (list, tuple)):
        jobs = []
        for one in dict.fromkeys(Period.parse(p) for p in period):
            jobs += [j for j in plan(territories, one, target, reports, k) if j not in jobs]
        return jobs
    period = Period.parse(period) if period is not None else default_period()
    territories = [str(t) for t in (territories or list(config.TERRITORIES))]
    for code in territories:
        config.territory_name(code)
    if reports:
        wanted: list[ReportSpec] = []
        for slug in reports:
            if slug == "themes":
                wanted += [s for s in REPORTS if s.theme]
            elif slug in SPECS:
                wanted.append(SPECS[slug])
            else:
                raise ValueError(f"rapport inconnu : {slug!r} (attendu : themes, "
                                 f"{', '.join(SPECS)})")
        yearly_only = [spec.slug for spec in wanted if spec.requires == NATIONAL]
        if yearly_only and period.is_quarter:
            raise ValueError(f"rapport {', '.join(yearly_only)} : une année entière, pas un "
                             f"trimestre ({period.label})")
        missing = [spec.slug for spec in wanted if not spec.available()]
        if missing:
            raise ValueError(f"rapport {', '.join(missing)} : DECP nationale absente (fichier "
                             f"ou dossier dans {config.NATIONAL_DECP_ENV}, ou table dans "
                             f"{config.NATIONAL_DECP_DEFAULT})")
        jobs = [Job(spec, code, period, target, k) for code in territories for spec in wanted
                if spec.applies_to(code)]
        if not jobs:
            raise ValueError("aucun des rapports demandés ne concerne ces territoires "
                             f"(rapport annuel : région {config.REGION_CODE} ; fiche : un département)")
        return jobs
    jobs = []
    for code in territories:
        # A report needing an input beyond the warehouse (the national DECP) is planned only
        # when that input is present.
        jobs += [Job(spec, code, period, target, k) for spec in REPORTS
                 if not spec.theme and spec.applies_to(code) and spec.available()
                 and not (spec.requires == NATIONAL and period.is_quarter)]  # yearly
        if code == config.REGION_CODE:
            jobs += [Job(spec, code, period, target, k) for spec in REPORTS if spec.theme]
    return jobs


def render(territories: list[str] | None = None,
           period: str | Period | list[str | Period] | None = None,
           target: float = config.DEFAULT_TARGET, jobs: int | None = None,
           progress: bool = True, reports_dir: Path | None = None,
           reports: list[str] | None = None, k: int | None = None, force: bool = False,
           scheduler: str | object | None = None, fresh_kernels: bool = False) -> RenderSummary:
    """Render the reports in parallel (skipping those already current), then the index.

    Parameters
    ----------
    territories, period, target, reports, k
        As in :func:`plan`.
    jobs
        Processes in parallel (default: the cores).
    force
        Render even the reports whose inputs and code did not change.
    scheduler
        A Dask distributed scheduler address (``tcp://host:8786``) or a ``Client``: the jobs
        run on its workers, which must see the same files (project, warehouse, reports).
    fresh_kernels
        Run each notebook in a kernel of its own instead of the worker's warm kernel
        (:mod:`analysis.kernels`); the reports are the same, only slower.
    """
    from tqdm.auto import tqdm

    from .warehouse import load_manifest

    from .periods import Coverage

    reports_dir = Path(reports_dir or config.paths().reports)
    todo = plan(territories, period, target, reports, k)
    manifest = load_manifest()
    coverage = Coverage.of_warehouse()
    for one in dict.fromkeys(job.period for job in todo):  # a period without data: refused
        coverage.check(one)
    clean_staging(reports_dir)
    warehouse = warehouse_fingerprint(content_manifest(manifest))
    code = code_fingerprint()
    notebooks = config.paths().notebooks
    prints = {job: job_fingerprint(job, notebooks, warehouse, code) for job in todo}
    summary = RenderSummary()
    pending, expected = [], {}
    for job in todo:
        record = read_record(job.record_path(reports_dir))
        expected[job] = expected_seconds(job, record)
        if not force and is_current(job, reports_dir, prints[job], record):
            summary.results.append(JobResult(job, html=job.html_path(reports_dir),
                                             executed=job.executed_path(reports_dir),
                                             skipped=True))
        else:
            pending.append(job)
    # Longest first (by the last run's time, else by kind): the workers finish together.
    pending.sort(key=lambda job: -expected[job])
    bar = tqdm(total=len(pending), desc="Rapports", unit="rapport", disable=not progress)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(pending) or 1))
    if scheduler is not None:
        summary.results += _render_on_dask(pending, reports_dir, prints, scheduler, bar,
                                           fresh_kernels)
    elif workers == 1:
        from . import kernels

        try:
            for job in pending:
                summary.results.append(_run_safely(job, reports_dir, prints[job], fresh_kernels))
                bar.update()
        finally:
            kernels.shutdown()
    elif pending:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                 initializer=_worker_start) as pool:
            futures = [pool.submit(_run_safely, job, reports_dir, prints[job], fresh_kernels)
                       for job in pending]
            for future in as_completed(futures):
                summary.results.append(future.result())
                bar.update()
    bar.close()
    order = {job: i for i, job in enumerate(todo)}
    summary.results.sort(key=lambda r: order[r.job])
    with publication_lock(reports_dir):
        summary.index = write_index(summary, reports_dir)
        clean_staging(reports_dir)
    return summary


#: Relative rendering time of a report never rendered before (the annual report computes every
#: theme for the région; a sheet, a few sections for one département).
_DEFAULT_SECONDS = {"rapport_annuel": 20.0, "parcours_emploi": 10.0, "fiche_departementale": 4.0}


def expected_seconds(job: Job, record: dict | None) -> float:
    """How long the job took when its ``record`` was rendered (else a default by kind)."""
    seconds = (record or {}).get("render", {}).get("seconds")
    if isinstance(seconds, (int, float)):
        return float(seconds)
    return _DEFAULT_SECONDS.get(job.spec.slug, 5.0)


def _worker_start() -> None:
    """A pool worker: shut its warm kernel down when it ends."""
    from . import kernels  # noqa: F401  (registers the engine and the shutdown at exit)


def _render_on_dask(pending: list[Job], reports: Path, prints: dict, scheduler, bar,
                    fresh_kernels: bool = False) -> list[JobResult]:
    """Run the jobs on a Dask distributed cluster, one task per report."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        region = config.REGION_CODE  # a worker started elsewhere has its own environment
        futures = [client.submit(_run_in_region, region, job, reports, prints[job], fresh_kernels,
                                 pure=False,
                                 key=f"rapport-{job.period.label}-{job.territory}-{job.spec.slug}")
                   for job in pending]
        results = []
        for future in dask_completed(futures):
            results.append(future.result())
            bar.update()
        return results
    finally:
        if client is not scheduler:
            client.close()


# --- Index ---------------------------------------------------------------------------------------


def write_index(summary: RenderSummary, reports: Path) -> Path:
    """``reports/index.html``, the portal (:func:`analysis.portal.write_index`)."""
    from .portal import write_index as write_portal

    return write_portal(summary, reports)


def clean_staging(reports: Path) -> None:
    """Remove what interrupted runs left in ``reports/_staging`` (their process is gone), and the
    folder itself once empty."""
    folder = reports / STAGING
    if not folder.is_dir():
        return
    for staged in folder.iterdir():
        pid = staged.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(staged, ignore_errors=True)
    try:
        folder.rmdir()
    except OSError:  # a concurrent run is still staging a report
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def publication_lock(reports: Path):
    """Serialise the short steps that publish into ``reports/`` across concurrent runs."""
    import fcntl

    reports.mkdir(parents=True, exist_ok=True)
    with open(reports / ".publication.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
