"""Families of light sheets: one small HTML page per actor (buyer, large-project owner, EPT or
EPCI…), rendered without papermill from tables computed once for all actors.

A family is a folder under ``reports/`` holding, per actor, ``<key>.html``, the record
``<key>.json`` of what was published (read by the family audit, :func:`analysis.publish.audit_family`,
exactly as the reports' records are) and the tables ``<slug>_tableaux/*.csv|xlsx``; plus a listing
(``<folder>.json``) of every actor, with or without a sheet, and the render fingerprint.

What every family shares lives here:

- :class:`SheetReport`, a :class:`~analysis.publish.Report` whose record names its actor and is
  written once, at the end (:meth:`SheetReport.finish`);
- :func:`template`: the Jinja2 templates of ``templates/observatoire`` with autoescape (text from
  the inputs is data: only the tables built by :meth:`analysis.publish.Report.table`, escaped
  there, come in as markup), all extending ``fiche_base.html.j2`` (the house style);
- :func:`fingerprint`, :func:`current_listing`: a run whose warehouse, code and parameters are
  those on disk is skipped;
- :func:`staging_folder`, :func:`replace_folder`: the folder is built aside and swapped in once
  complete, so an interrupted run leaves the previous sheets;
- :func:`render_parallel`: the sheets rendered by processes forked after the indicators are
  computed (a sheet depends on its actor's rows only: the same bytes whatever the number of
  processes);
- :func:`members`: the ``(record, folder)`` of every sheet on disk, for the audits.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from .io import write_text
from .publish import Report, read_record


def optional_table(name: str, processed: Path | None = None):
    """A warehouse table, or None when the warehouse has none (every source is optional)."""
    from .warehouse import load_table

    try:
        return load_table(name, processed)
    except (FileNotFoundError, OSError, KeyError):
        return None


def actor_rows(cache: dict, name: str, frame, column: str, key: str):
    """The rows of ``frame`` whose ``column`` is ``key`` (one actor's), from groups made once per
    table and kept in ``cache`` under ``name``; an empty frame when the actor has none (or when
    ``frame`` is None)."""
    import pandas as pd

    if frame is None:
        return pd.DataFrame()
    if name not in cache:
        cache[name] = {k: part for k, part in frame.groupby(column, sort=False)}
    part = cache[name].get(key)
    return part if part is not None else frame.iloc[0:0]


class SheetReport(Report):
    """A :class:`~analysis.publish.Report` for one actor's sheet: the same tables and disclosure
    control as the reports; the record, written once by :meth:`finish` with the warehouse's
    manifest read once for all sheets, carries the actor under :attr:`actor_field`."""

    #: The warehouse's manifest (set once per sheet from the one read for the family).
    manifest: dict = {}
    #: What the sheet is about (``nom`` and the key field at least): published in the record.
    actor: dict = {}
    #: The record's field holding :attr:`actor`, and the actor's field that names its files.
    actor_field: str = "actor"
    key_field: str = "id"
    #: How the key is introduced in the tables' notes (« SIRET 123… »).
    key_label: str = ""

    @property
    def name(self) -> str:
        return str(self.actor.get("nom", ""))

    @property
    def key(self) -> str:
        return str(self.actor[self.key_field])

    def _save(self) -> None:  # written once by finish()
        return None

    def record(self) -> dict:
        from .publish import input_versions, warehouse_fingerprint

        manifest = self.manifest
        return {"slug": self.slug, "territory": self.territory, "territory_name": self.name,
                self.actor_field: self.actor, "period": self.period.label,
                "target": self.target, "k": self.k, "key_figures": self.key_figures,
                "tables": [t.__dict__ for t in self.tables],
                "warehouse": {"built_at": manifest.get("built_at"),
                              "inputs": len(manifest.get("inputs", [])),
                              "sources": input_versions(manifest),
                              "code_version": manifest.get("code_version"),
                              "fingerprint": warehouse_fingerprint(manifest)}}

    def _files_subtitle(self) -> str:
        label = f"{self.key_label} " if self.key_label else ""
        return f"{self.name} ({label}{self.key})"

    def publish(self, page: str) -> str:
        """Write the sheet's HTML ``<key>.html`` and its record (nothing without ``output_dir``);
        returns ``page``."""
        if self.output_dir is not None:
            write_text(self.output_dir / f"{self.key}.html", page)
            self.finish()
        return page

    def finish(self) -> None:
        """Write the record ``<key>.json`` beside the sheet (nothing without ``output_dir``)."""
        if self.output_dir is not None:
            write_text(self.output_dir / f"{self.key}.json",
                       json.dumps(self.record(), ensure_ascii=False, indent=1, sort_keys=True,
                                  default=str))


@lru_cache(maxsize=None)
def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates" / "observatoire"),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def template(name: str):
    """The Jinja2 template ``templates/observatoire/<name>``, with autoescape."""
    return _environment().get_template(name)


def markup(obj):
    """A table (``Report.table``'s HTML, already escaped) as markup for the templates."""
    from markupsafe import Markup

    return Markup(obj.data if hasattr(obj, "data") else str(obj))


def fingerprint(manifest: dict, *parameters) -> str:
    """The render fingerprint of a family: the warehouse's content, the code and ``parameters``."""
    from .publish import warehouse_fingerprint
    from .publish import code_fingerprint, content_manifest

    digest = hashlib.sha256()
    digest.update(warehouse_fingerprint(content_manifest(manifest)).encode())
    digest.update(code_fingerprint().encode())
    digest.update("|".join(str(p) for p in parameters).encode())
    return digest.hexdigest()[:16]


def current_listing(folder: Path, listing: str, digest: str, entries: str,
                    key: str) -> dict | None:
    """The listing on disk when it was rendered with ``digest`` and every sheet it announces
    (entries of ``listing[entries]`` with a true ``fiche``) is there; None otherwise."""
    found = read_record(folder / listing) or {}
    if found.get("render", {}).get("fingerprint") != digest:
        return None
    if not all((folder / f"{entry[key]}.html").is_file()
               for entry in found.get(entries, []) if entry.get("fiche")):
        return None
    return found


def write_listing(staging: Path, listing: str, content: dict) -> Path:
    """Write a family's listing (every actor, with or without a sheet) into its staging folder."""
    return write_text(staging / listing, json.dumps(content, ensure_ascii=False, indent=1))


def staging_folder(reports_dir: Path, name: str) -> Path:
    """An empty folder ``reports/.<name>-<pid>`` where a family is built before the swap."""
    staging = Path(reports_dir) / f".{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def replace_folder(reports_dir: Path, folder: Path, staging: Path | None) -> None:
    """Swap ``staging`` in place of ``folder`` (or remove ``folder`` when ``staging`` is None),
    the old folder renamed aside first so that no reader sees half of either."""
    old = Path(reports_dir) / f".{folder.name}-old-{os.getpid()}"
    if folder.exists():
        folder.rename(old)
    if staging is not None:
        staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


#: What the forked workers inherit (set just before forking; read-only there).
_SHARED: dict = {}


def _render_slice(start: int, step: int) -> int:
    render, items = _SHARED["render"], _SHARED["items"]
    for item in items[start::step]:
        render(item)
    return len(items[start::step])


def _render_items(render: Callable[[object], object], items: Sequence) -> int:
    for item in items:
        render(item)
    return len(items)


def render_parallel(render: Callable[[object], object], items: Sequence, jobs: int | None = None,
                    per_worker: int = 20, scheduler=None) -> None:
    """Call ``render(item)`` for every item, in ``jobs`` processes (default: the cores) forked
    from this one, each taking every ``jobs``-th item; in this process when there are fewer than
    ``2 * per_worker`` items or when fork is not available.

    ``render`` may be a closure over the family's indicators: the workers inherit it by fork.
    With ``scheduler`` (a Dask distributed ``Client``, or a scheduler's address), the items are
    fanned out on its workers instead: ``render`` is sent once to every worker (scattered) and
    each task renders every ``n``-th item, ``n`` the number of workers; the workers write where
    ``render`` writes (a folder they share with this process). A sheet depends on its item only:
    the same bytes whichever way.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    items = list(items)
    if scheduler is not None:
        _render_on_dask(render, items, scheduler)
        return
    _SHARED.update(render=render, items=items)
    try:
        workers = max(1, min(int(jobs or os.cpu_count() or 1), len(items) // per_worker or 1))
        if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
            _render_slice(0, 1)
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            done = [pool.submit(_render_slice, i, workers) for i in range(workers)]
            if sum(f.result() for f in done) != len(items):
                raise RuntimeError("fiches : rendu incomplet")
    finally:
        _SHARED.clear()


def _render_on_dask(render: Callable[[object], object], items: list, scheduler) -> None:
    from distributed import Client

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        shared = client.scatter(render, broadcast=True)
        futures = [client.submit(_render_items, shared, items[start::workers], pure=False,
                                 key=f"fiches-{os.getpid()}-{start}")
                   for start in range(min(workers, len(items)))]
        if sum(client.gather(futures)) != len(items):
            raise RuntimeError("fiches : rendu incomplet")
    finally:
        if client is not scheduler:
            client.close()


def members(folder: Path, listing: str) -> list[tuple[dict, Path]]:
    """``(record, folder)`` of every sheet of a family on disk (its listing excluded), for
    :func:`analysis.publish.audit_family`."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        if path.name == listing:
            continue
        record = read_record(path)
        if record is not None:
            out.append((record, Path(folder)))
    return out


#: The slug of the département sheets, which every family is audited with.
DEPARTEMENT_SLUG = "fiche_departementale"


class JointAudit(NamedTuple):
    """What a joint audit of sheets found: the hidden cells recovered, the cross-sheet equations
    declared, and the people cells (published and hidden) of the tables audited."""

    violations: list
    equations: int
    cells: int
    hidden: int


def departement_members(reports_dir: Path, period) -> list[tuple[dict, Path]]:
    """``(record, folder)`` of the département sheets of ``period`` on disk."""
    found = []
    for path in sorted((Path(reports_dir) / period.label).glob(f"*/{DEPARTEMENT_SLUG}.json")):
        record = read_record(path)
        if record is not None and record.get("slug") == DEPARTEMENT_SLUG:
            found.append((record, path.parent))
    return found


def audit_jointly(family: list[tuple[dict, Path]], relations: list, k: int | None) -> JointAudit:
    """The disclosure audit of sheets and reports together (:func:`analysis.publish.family_system`
    gives each one's own equations: margins, shared totals), with the cross-sheet ``relations``
    besides: the hidden cells recovered, and the people cells examined."""
    import numpy as np

    from . import disclosure
    from .publish import family_system, table_name

    tables, own = family_system(family)
    values = [tables[table_name(r, t)][t["people"]].to_numpy(dtype=float)
              for r, _ in family for t in r.get("tables", []) if t.get("people")]
    violations = disclosure.audit_published(tables, [*own, *relations], k=k)
    return JointAudit(violations, len(relations), int(sum(v.size for v in values)),
                      int(sum(np.isnan(v).sum() for v in values)))


__all__ = ["DEPARTEMENT_SLUG", "JointAudit", "departement_members", "audit_jointly",
           "optional_table", "actor_rows", "SheetReport", "template", "markup", "fingerprint", "current_listing",
           "write_listing", "staging_folder", "replace_folder", "render_parallel", "members"]
