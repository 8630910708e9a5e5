"""Build the warehouse: raw inputs → validated Parquet tables and one embedded DuckDB file.

A build is made aside, in ``data/processed/builds/<id>/``, and only when it is complete is the
``data/processed/warehouse`` link swapped onto it (an atomic rename). A build that fails or is
interrupted leaves the previous warehouse in force, untouched; re-running is always safe.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from . import __version__, config
from .io import sha256, write_parquet, write_text
from .privacy import MissingKeyError, get_key
from .sources import buyers, decp, decp_tabular, grand_paris, structures, tracking
from .sources.base import Quarantine, SourceFileError, accounting_frame

#: How many previous builds are kept beside the one in force.
KEEP_PREVIOUS_BUILDS = 1


class BuildError(Exception):
    """The build could not complete; the previous warehouse is still in force."""


@dataclass
class BuildSummary:
    """What a build produced, for the closing summary and the tests."""

    path: Path
    accounting: pd.DataFrame
    rejects: pd.DataFrame
    tables: dict[str, int]
    seconds: float

    def text(self) -> str:
        """A short French summary: rows kept and rejected per source, top rejection reasons."""
        lines = [f"Entrepôt construit en {self.seconds:.1f} s : {self.path}"]
        by_source = self.accounting.groupby("source")[["read", "kept", "rejected", "merged"]].sum()
        for source, row in by_source.iterrows():
            lines.append(
                f"  {source} : {row['read']} lus = {row['kept']} gardés + {row['rejected']} rejetés"
                f" + {row['merged']} doublons fusionnés"
            )
        for table, rows in self.tables.items():
            lines.append(f"  table {table} : {rows} lignes")
        if not self.rejects.empty:
            lines.append("  principaux motifs de rejet :")
            for rule, count in self.rejects["rule"].value_counts().head(5).items():
                lines.append(f"    {count} × {rule}")
        return "\n".join(lines)


def find_inputs(raw: Path, source: str, patterns: tuple[str, ...]) -> list[Path]:
    """Input files of a source, sorted for a deterministic build."""
    folder = raw / source
    if not folder.is_dir():
        return []
    found = {p for pattern in patterns for p in folder.rglob(pattern) if p.is_file()}
    return sorted(p for p in found if not p.name.startswith("."))


def _relative(path: Path, raw: Path) -> str:
    try:
        return str(path.relative_to(raw))
    except ValueError:
        return str(path)


def read_decp(files: list[Path], raw: Path, today: date | None = None,
              progress: bool = False) -> tuple[dict[str, pd.DataFrame], Quarantine, list[dict]]:
    """Read, deduplicate and account for every DECP file.

    Returns the tables (``contracts``, ``suppliers``, ``modifications``, ``concessions``), the
    quarantine and the accounting rows.
    """
    from tqdm.auto import tqdm

    contracts, suppliers, modifications, concessions = [], [], [], []
    quarantine = Quarantine()
    per_file: dict[str, dict] = {}
    for path in tqdm(files, desc="DECP", unit="fichier", disable=not progress):
        if path.suffix.lower() == ".json":
            parsed = decp.read_decp_json(path, today=today)
        else:
            parsed = decp_tabular.read_decp_table(path, today=today)
        name = _relative(path, raw)
        for rows in (parsed.contracts, parsed.suppliers, parsed.modifications, parsed.concessions):
            for row in rows:
                row["source_file"] = name
        for item in parsed.quarantine.rejects + parsed.quarantine.warnings:
            item.file = name
        contracts.extend(parsed.contracts)
        suppliers.extend(parsed.suppliers)
        modifications.extend(parsed.modifications)
        concessions.extend(parsed.concessions)
        quarantine.extend(parsed.quarantine)
        per_file[name] = {
            "source": decp.SOURCE, "file": name, "read": parsed.read,
            "produced": len(parsed.contracts) + len(parsed.concessions),
            "rejected": len(parsed.quarantine.rejects), "merged_in_file": parsed.merged,
        }

    contract_frame, merged_contracts = decp.deduplicate(decp.contracts_frame(contracts))
    concession_frame, merged_concessions = decp.deduplicate(
        decp.plain_frame(concessions, decp.CONCESSION_COLUMNS))
    tables = {
        "contracts": contract_frame,
        "suppliers": decp.keep_children(
            decp.plain_frame(suppliers, decp.SUPPLIER_COLUMNS), contract_frame),
        "modifications": decp.keep_children(
            decp.plain_frame(modifications, decp.MODIFICATION_COLUMNS), contract_frame),
        "concessions": concession_frame,
    }
    accounting = []
    for name, row in per_file.items():
        merged = int(merged_contracts.get(name, 0)) + int(merged_concessions.get(name, 0))
        accounting.append({
            "source": row["source"], "file": name, "read": row["read"],
            "kept": row["produced"] - merged, "rejected": row["rejected"],
            "merged": merged + row["merged_in_file"],
        })
    return tables, quarantine, accounting


def _commune_codes() -> set[str]:
    from .reference import commune_table

    return set(commune_table()["code_insee"])


def _write_duckdb(folder: Path, tables: dict[str, Path]) -> None:
    db_path = folder / "observatoire.duckdb"
    con = duckdb.connect(str(db_path))
    try:
        for name, parquet in tables.items():
            con.execute(
                f"CREATE TABLE {name} AS SELECT * FROM read_parquet(?)", [str(parquet)]
            )
    finally:
        con.close()


def _swap_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically (a relative link, so the tree can move)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
    if link.exists() and not link.is_symlink():
        raise BuildError(f"{link} existe et n'est pas un lien : déplacez-le avant de reconstruire")
    os.replace(tmp, link)


def _prune(builds: Path, current: Path) -> None:
    done = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.startswith("."))
    older = [p for p in done if p.resolve() != current.resolve()]
    for old in older[: max(0, len(older) - KEEP_PREVIOUS_BUILDS)]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in builds.glob(".tmp-*"):  # interrupted builds
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)


def build(raw: Path | None = None, processed: Path | None = None, today: date | None = None,
          progress: bool = False) -> BuildSummary:
    """Build the warehouse from ``raw`` into ``processed`` and put it in force.

    Parameters
    ----------
    raw
        A folder laid out like ``data/raw/`` (``decp/`` …); default: the configured input folder.
    processed
        The warehouse folder; default: the configured one.
    today
        Reference day for the "date in the future" rule (default: the real date).
    progress
        Show a progress bar.

    Raises
    ------
    BuildError
        When an input cannot be read at all; the previous warehouse stays in force.
    """
    started = time.perf_counter()
    cfg = config.paths()
    raw = Path(raw or cfg.raw).resolve()
    processed = Path(processed or cfg.processed).resolve()
    if not raw.is_dir():
        raise BuildError(f"{raw}: dossier d'entrée introuvable (make data génère le jeu par défaut)")
    decp_files = find_inputs(raw, "decp", ("*.json", "*.csv", "*.parquet"))
    tracking_folders = sorted(p for p in (raw / "tracking").glob("*") if p.is_dir()) \
        if (raw / "tracking").is_dir() else []
    gp_files = find_inputs(raw, "grand_paris", ("*.csv",))
    structure_files = find_inputs(raw, "structures", ("*.csv",))
    buyer_files = find_inputs(raw, "acheteurs", ("*.csv",))
    if not (decp_files or tracking_folders or gp_files or structure_files):
        raise BuildError(f"{raw}: aucune source reconnue (decp/*.json|csv|parquet, tracking/<dép>/, "
                         "grand_paris/*.csv, structures/*.csv)")

    tables: dict[str, pd.DataFrame] = {}
    quarantine = Quarantine()
    accounting_rows: list[dict] = []
    key_origin = None
    try:
        if decp_files:
            decp_tables, decp_q, decp_acc = read_decp(decp_files, raw, today, progress)
            tables.update(decp_tables)
            quarantine.extend(decp_q)
            accounting_rows += decp_acc
        communes = _commune_codes()
        if buyer_files:
            frames = []
            for path in buyer_files:
                frame, acc = buyers.read(path, raw, quarantine)
                frames.append(frame)
                accounting_rows.append(acc)
            directory = pd.concat(frames, ignore_index=True).drop_duplicates("acheteur_id")
            tables["buyers"] = directory
            if "contracts" in tables:
                tables["contracts"] = tables["contracts"].merge(directory, on="acheteur_id", how="left")
        if tracking_folders:
            key, key_origin = get_key(raw)
            result = tracking.read_all(tracking_folders, raw, key, communes)
            tables.update(result.tables)
            quarantine.extend(result.quarantine)
            accounting_rows += result.accounting
        for files, reader, name in ((gp_files, grand_paris.read, "grand_paris"),
                                    (structure_files, structures.read, "structures")):
            frames = []
            for path in files:
                args = (path, raw, quarantine) + ((communes,) if name == "structures" else ())
                frame, acc = reader(*args)
                frames.append(frame)
                accounting_rows.append(acc)
            if frames:
                tables[name] = pd.concat(frames, ignore_index=True)
    except (SourceFileError, MissingKeyError) as exc:
        raise BuildError(f"entrée illisible, entrepôt précédent conservé — {exc}") from exc
    accounting = accounting_frame(accounting_rows)
    rejects = quarantine.rejects_frame()
    warnings = quarantine.warnings_frame()
    inputs = decp_files + gp_files + structure_files + buyer_files + sorted(
        p for folder in tracking_folders for p in folder.rglob("*") if p.is_file())

    builds = processed / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=builds))
    try:
        written = {}
        for name, frame in tables.items():
            written[name] = write_parquet(frame, staging / f"{name}.parquet")
        write_parquet(accounting, staging / "accounting.parquet")
        write_parquet(rejects, staging / "rejects" / "rejects.parquet")
        write_parquet(warnings, staging / "rejects" / "warnings.parquet")
        _write_duckdb(staging, {**written, "accounting": staging / "accounting.parquet",
                                "rejects": staging / "rejects" / "rejects.parquet"})
        manifest = {
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_version": __version__,
            "raw": str(raw),
            "inputs": [
                {"source": _relative(p, raw).split("/", 1)[0], "file": _relative(p, raw),
                 "sha256": sha256(p), "bytes": p.stat().st_size}
                for p in inputs
            ],
            "pseudonymisation": key_origin,
            "tables": {name: int(len(frame)) for name, frame in tables.items()},
            "rejected": int(len(rejects)),
            "warnings": int(len(warnings)),
        }
        write_text(staging / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        final = builds / f"{stamp}-{staging.name[5:]}"
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_link(processed / "warehouse", final)
    _prune(builds, final)
    return BuildSummary(
        path=processed / "warehouse",
        accounting=accounting,
        rejects=rejects,
        tables={name: int(len(frame)) for name, frame in tables.items()},
        seconds=time.perf_counter() - started,
    )


# --- Reading the warehouse -----------------------------------------------------------------------


def _warehouse(processed: Path | None) -> Path:
    folder = (Path(processed) if processed else config.paths().processed) / "warehouse"
    if not (folder / "manifest.json").is_file():
        raise FileNotFoundError(
            f"{folder}: pas d'entrepôt construit ; lancez `make build` (ou `observatoire build`)"
        )
    return folder


def load_table(name: str, processed: Path | None = None) -> pd.DataFrame:
    """A table of the warehouse in force (``contracts``, ``accounting``, ``rejects`` …)."""
    folder = _warehouse(processed)
    path = folder / "rejects" / "rejects.parquet" if name == "rejects" else folder / f"{name}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: table absente de l'entrepôt")
    return pd.read_parquet(path)


def load_manifest(processed: Path | None = None) -> dict:
    """The manifest of the warehouse in force."""
    return json.loads((_warehouse(processed) / "manifest.json").read_text(encoding="utf-8"))
