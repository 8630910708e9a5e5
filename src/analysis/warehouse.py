"""Build the warehouse: raw inputs → validated Parquet tables and one embedded DuckDB file.

A build is made aside, in ``data/processed/builds/<id>/``, and only when it is complete is the
``data/processed/warehouse`` link swapped onto it (an atomic rename). A build that fails or is
interrupted leaves the previous warehouse in force, untouched; re-running is always safe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from . import __version__, config
from .io import sha256, write_parquet, write_text
from .privacy import MissingKeyError, get_key
from .schemas import cross_table_checks, validate_tables
from .sources import buyers, decp, grand_paris, structures, tracking
from .sources.base import Quarantine, SourceFileError, accounting_frame

# The layout of the processed folder and of each build (the warehouse's own file format).
WAREHOUSE = "warehouse"         # link to the build in force
BUILDS = "builds"               # complete builds, and staging folders (.tmp-*)
CACHE = "cache"                 # one cached result per source
MANIFEST = "manifest.json"
ACCOUNTING = "accounting.parquet"
REJECTS = Path("rejects") / "rejects.parquet"
WARNINGS = Path("rejects") / "warnings.parquet"
DATABASE = "observatoire.duckdb"

#: DECP rows are turned into frames every so many contracts (bounds memory on national files).
DECP_CHUNK = 100_000
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
    origins: dict[str, str] = field(default_factory=dict)
    validation: str = ""

    def text(self) -> str:
        """A short French summary: rows kept and rejected per source, top rejection reasons."""
        lines = [f"Entrepôt construit en {self.seconds:.1f} s : {self.path}"]
        reused = [s for s, origin in self.origins.items() if origin != "lu"]
        if reused:
            lines.append("  sources inchangées reprises sans relecture : "
                         + ", ".join(f"{s} ({self.origins[s]})" for s in reused))
        by_source = self.accounting.groupby("source")[["read", "kept", "rejected", "merged"]].sum()
        for source, row in by_source.iterrows():
            lines.append(
                f"  {source} : {row['read']} lus = {row['kept']} gardés + {row['rejected']} rejetés"
                f" + {row['merged']} doublons fusionnés"
            )
        for table, rows in self.tables.items():
            lines.append(f"  table {table} : {rows} lignes")
        if self.validation:
            lines.append("  " + self.validation.replace("\n", "\n  "))
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
              progress: bool = False, as_text: bool = True
              ) -> tuple[dict[str, pd.DataFrame], Quarantine, list[dict]]:
    """Read, deduplicate and account for every DECP file.

    Returns the tables (``contracts``, ``suppliers``, ``modifications``, ``concessions``), the
    quarantine and the accounting rows. The contracts' repeated texts
    (``decp.COMPACT_COLUMNS``) are held as categories while read; with ``as_text`` (default)
    they come back as the ``string`` dtype, otherwise they stay categories, as the build keeps
    them through its checks to the writing of the warehouse (``io.write_parquet`` writes them
    as text): 1.3 GB less at 5 M rows.
    """
    # Every Arrow buffer of the reading (the files, the join, the deduplication, the texts
    # restored) from the pool that keeps its freed pages: half the system time at 1 M rows.
    with decp.arrow_pool():
        return _read_decp(files, raw, today, progress, as_text)


def _read_decp(files: list[Path], raw: Path, today: date | None, progress: bool, as_text: bool
               ) -> tuple[dict[str, pd.DataFrame], Quarantine, list[dict]]:
    from tqdm.auto import tqdm

    frames: dict[str, list[pd.DataFrame]] = {
        "contracts": [], "suppliers": [], "modifications": [], "concessions": []}
    quarantine = Quarantine()
    communes = _commune_codes()
    per_file: dict[str, dict] = {}
    for path in tqdm(files, desc="DECP", unit="fichier", disable=not progress):
        name = _relative(path, raw)
        # The readers write ``name`` in source_file: one column, not the path then the name.
        if path.suffix.lower() == ".json":
            parsed = decp.read_decp_json(path, today=today, communes=communes,
                                         chunk_size=DECP_CHUNK, source_name=name,
                                         compact=True)
        else:
            parsed = decp.read_decp_table(path, today=today, communes=communes,
                                          chunk_size=DECP_CHUNK, source_name=name,
                                          compact=True)
        parsed.flush()
        for table, chunks in parsed.frames.items():
            for chunk in chunks:
                if not chunk["source_file"].eq(name).fillna(False).all():
                    chunk["source_file"] = pd.array([name] * len(chunk), dtype="string")
            frames[table].extend(chunks)
        for item in parsed.quarantine.rejects + parsed.quarantine.warnings:
            item.file = name
        quarantine.extend(parsed.quarantine)
        per_file[name] = {
            "source": decp.SOURCE, "file": name, "read": parsed.read, "produced": parsed.produced,
            "rejected": len(parsed.quarantine.rejects), "merged_in_file": parsed.merged,
        }
        del parsed  # its chunks now live in ``frames`` only (freed as each table is joined)
        decp.release_memory()  # the pages the file's reading freed, before the next one

    def combined(table: str, empty: pd.DataFrame) -> pd.DataFrame:
        # The chunks are let go once joined (``parsed`` no longer holds them).
        chunks = frames.pop(table)
        return decp.concat_compact(chunks) if chunks else empty

    contracts = combined("contracts", decp.contracts_frame([]))
    for column in decp.CONTRACT_EXTRA:  # absent from JSON files' chunks
        if column in contracts.columns and contracts[column].dtype != pd.StringDtype() \
                and not isinstance(contracts[column].dtype, pd.CategoricalDtype):
            contracts[column] = contracts[column].astype("string")
    decp.release_memory()  # the chunks' numbers, copied by the join
    contract_frame, merged_contracts = decp.deduplicate(contracts)
    # The frame before deduplication, and the pages its sort keys took, let go before the texts
    # come back: they would otherwise lie under the restored texts (0.4 GB at 5 M rows).
    del contracts
    decp.release_memory()
    # The repeated texts, categories while read and deduplicated, back as text: the tables are
    # those of a reading without categories (the build leaves them as categories: its checks and
    # ``write_parquet`` make them text a column or a row group at a time, same files).
    if as_text:
        contract_frame = decp.restore_frame(contract_frame)
    concession_frame, merged_concessions = decp.deduplicate(
        combined("concessions", decp.plain_frame([], decp.CONCESSION_COLUMNS)))
    # When no contract was merged into another, every child row belongs to a kept contract.
    children = (lambda frame: frame) if int(merged_contracts.sum()) == 0 else \
        (lambda frame: decp.keep_children(frame, contract_frame))
    tables = {
        "contracts": contract_frame,
        "suppliers": children(combined("suppliers", decp.plain_frame([], decp.SUPPLIER_COLUMNS))),
        "modifications": children(
            combined("modifications", decp.plain_frame([], decp.MODIFICATION_COLUMNS))),
        "concessions": concession_frame,
    }
    decp.release_memory()  # the chunks joined, the keys sorted: what they held
    accounting = []
    for name, row in per_file.items():
        merged = int(merged_contracts.get(name, 0)) + int(merged_concessions.get(name, 0))
        accounting.append({
            "source": row["source"], "file": name, "read": row["read"],
            "kept": row["produced"] - merged, "rejected": row["rejected"],
            "merged": merged + row["merged_in_file"],
        })
    return tables, quarantine, accounting


def _commune_codes() -> frozenset[str]:
    from .schemas import commune_codes

    return frozenset(commune_codes())


def _write_duckdb(folder: Path, tables: dict[str, Path]) -> None:
    db_path = folder / DATABASE
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


#: The sources of the warehouse, the folder each is read from, and the tables each gives.
SOURCES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # name: (folder under raw/, file patterns, tables)
    "decp": ("decp", ("*.json", "*.csv", "*.parquet"),
             ("contracts", "suppliers", "modifications", "concessions")),
    "acheteurs": ("acheteurs", ("*.csv",), ("buyers",)),
    "tracking": ("tracking", ("*.csv", "*.xlsx", "mapping.json"), ("operations", "participants",
                                                     "work_contracts", "outcomes")),
    "grand_paris": ("grand_paris", ("*.csv",), ("grand_paris",)),
    "structures": ("structures", ("*.csv",), ("structures",)),
}
#: Columns the buyers directory adds to ``contracts`` (re-joined at every build).
BUYER_COLUMNS = ("acheteur_nom", "acheteur_categorie", "acheteur_departement")


def join_buyers(contracts: pd.DataFrame, directory: pd.DataFrame | None
                ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Give the contracts their buyer's columns (:data:`BUYER_COLUMNS`).

    A buyers directory, when one is read, decides for the buyers it lists; the consolidated DECP
    table's own columns (``acheteur_nom``, ``acheteur_categorie``, ``acheteur_departement``)
    stand for the others. Without a directory, a ``buyers`` table is derived from those columns
    (one row per buyer with a valid SIRET, its most recent non-missing values) and returned
    second; ``None`` when the directory is read or the DECP carries none of them. The contracts
    always come back with every column of :data:`BUYER_COLUMNS` (missing when nothing says it),
    so that the breakdowns by buyer read « non renseigné » rather than fail.
    """
    from .identifiers import siret_valid

    own = [c for c in BUYER_COLUMNS if c in contracts.columns]
    absent = [c for c in BUYER_COLUMNS if c not in contracts.columns]
    if absent and directory is None:
        contracts = contracts.assign(**{c: pd.Series(pd.NA, index=contracts.index,
                                                     dtype="string") for c in absent})
    if directory is not None:
        joined = contracts.drop(columns=own).merge(directory, on="acheteur_id", how="left",
                                                   indicator="_listed")
        listed = (joined.pop("_listed") == "both").to_numpy()
        for column in own:
            mine = contracts[column].astype("string").to_numpy(dtype=object, na_value=None)
            theirs = joined[column].astype("string").to_numpy(dtype=object, na_value=None)
            joined[column] = pd.array(np.where(listed, theirs, mine), dtype="string")
        return joined, None
    if not own or not contracts[own].notna().any().any():
        return contracts, None
    # Only the columns the derivation reads are sorted (sorting the whole table copied every
    # column: 2.8 GB at 4 M contracts), their texts as categories (a few hundred buyers), and
    # each distinct identifier is checked once.
    texts = ["acheteur_id", *own]
    latest = contracts[["dateNotification", *texts]].astype(dict.fromkeys(texts, "category"))
    valid = np.array([bool(siret_valid(value)) for value in latest["acheteur_id"].cat.categories]
                     + [False], dtype=bool)  # the last one for missing identifiers (code -1)
    latest = latest[valid[latest["acheteur_id"].cat.codes.to_numpy()]]
    latest = latest.sort_values("dateNotification", ascending=False, kind="stable")
    derived = latest.groupby("acheteur_id", sort=True, observed=True)[own].first().reset_index()
    for column in BUYER_COLUMNS:
        if column not in derived.columns:
            derived[column] = pd.Series(pd.NA, index=derived.index, dtype="string")
    derived = derived[["acheteur_id", *BUYER_COLUMNS]].astype("string")
    return contracts, derived


@dataclass
class SourceOutput:
    """What reading one source gave: its tables, quarantine and accounting."""

    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    warnings: pd.DataFrame
    accounting: pd.DataFrame
    origin: str = "lu"            # "lu" (read now), "cache", "entrepôt" (previous warehouse)
    key_origin: str | None = None


def _code_fingerprint() -> str:
    """Hash of everything that decides what a reader produces: reader code, mappings, reference."""
    from . import privacy, reference
    from .sources import base, tabular

    # The région decides the places mapped to it and the communes checked: a change of région
    # never reuses a source read for another.
    digest = hashlib.sha256(f"{__version__}|région {config.REGION_CODE}".encode())
    modules = [tracking, grand_paris, structures, buyers, base, tabular, privacy, reference]
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    for part in sorted(Path(decp.__file__).parent.glob("*.py")):  # the DECP pipeline, whole
        digest.update(part.read_bytes())
    for mapping in sorted((Path(tracking.__file__).parent / "mappings").glob("*.json")):
        digest.update(mapping.read_bytes())
    communes = config.paths().communes
    if communes.is_file():
        digest.update(communes.read_bytes())
    return digest.hexdigest()


def _fingerprint(source: str, files: list[Path], raw: Path, hashes: dict[Path, str],
                 today: date, key: bytes | None, code: str) -> str:
    digest = hashlib.sha256(f"{source}|{code}|{today.isoformat()}".encode())
    for path in files:
        digest.update(f"{_relative(path, raw)}|{hashes[path]}".encode())
    if key is not None:  # a keyed value, so the key itself cannot be read back from the name
        digest.update(hmac.new(key, b"observatoire-cache", hashlib.sha256).digest())
    return digest.hexdigest()[:32]


def _read_source(source: str, files: list[Path], raw: Path, today: date, progress: bool,
                 key: bytes | None) -> SourceOutput:
    quarantine = Quarantine()
    accounting_rows: list[dict] = []
    tables: dict[str, pd.DataFrame] = {}
    if source == "decp":
        # The repeated texts stay categories until written (``validate_tables`` and
        # ``write_parquet`` take them as text).
        tables, quarantine, accounting_rows = read_decp(files, raw, today, progress,
                                                        as_text=False)
    elif source == "tracking":
        folders = sorted({p.parent for p in files})
        result = tracking.read_all(folders, raw, key, _commune_codes(), today=today)
        tables, quarantine, accounting_rows = result.tables, result.quarantine, result.accounting
    else:
        reader = {"acheteurs": buyers.read, "grand_paris": grand_paris.read,
                  "structures": structures.read}[source]
        frames = []
        for path in files:
            extra = ((_commune_codes(),) if source == "structures"
                     else (today,) if source == "grand_paris" else ())
            frame, acc = reader(path, raw, quarantine, *extra)
            frames.append(frame)
            accounting_rows.append(acc)
        name = SOURCES[source][2][0]
        tables = {name: pd.concat(frames, ignore_index=True)}
        if source == "acheteurs":
            tables[name] = tables[name].drop_duplicates("acheteur_id")
    return SourceOutput(tables, quarantine.rejects_frame(), quarantine.warnings_frame(),
                        accounting_frame(accounting_rows))


def _save_cache(folder: Path, output: SourceOutput) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        for name, frame in output.tables.items():
            write_parquet(frame, staging / f"{name}.parquet")
        write_parquet(output.rejects, staging / "_rejects.parquet")
        write_parquet(output.warnings, staging / "_warnings.parquet")
        write_parquet(output.accounting, staging / "_accounting.parquet")
        write_text(staging / "_meta.json", json.dumps({"key_origin": output.key_origin,
                                                       "tables": list(output.tables)}))
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _load_cache(folder: Path) -> SourceOutput | None:
    meta = folder / "_meta.json"
    if not meta.is_file():
        return None
    info = json.loads(meta.read_text(encoding="utf-8"))
    return SourceOutput(
        tables={name: pd.read_parquet(folder / f"{name}.parquet") for name in info["tables"]},
        rejects=pd.read_parquet(folder / "_rejects.parquet"),
        warnings=pd.read_parquet(folder / "_warnings.parquet"),
        accounting=pd.read_parquet(folder / "_accounting.parquet"),
        origin="cache", key_origin=info.get("key_origin"))


def _from_warehouse(source: str, processed: Path) -> SourceOutput | None:
    """A source's part of the warehouse in force (for ``--only``)."""
    folder = processed / WAREHOUSE
    if not (folder / MANIFEST).is_file():
        return None
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    built_for = manifest_region(manifest)
    if built_for != config.REGION_CODE:
        raise BuildError(f"{folder}: entrepôt construit pour la région {built_for}, pas "
                         f"{config.REGION_CODE} : reconstruire toutes les sources (sans --only)")
    read_sources = manifest.get("sources", {source: "lu" for source in SOURCES})
    if source not in read_sources:  # e.g. a buyers table derived from the DECP, not read
        return None
    tables = {}
    for name in SOURCES[source][2]:
        path = folder / f"{name}.parquet"
        if path.is_file():
            frame = pd.read_parquet(path)
            if name == "contracts" and "acheteurs" in read_sources:
                # The directory's columns are joined again; without a directory they are the
                # consolidated DECP's own and stay.
                frame = frame.drop(columns=[c for c in BUYER_COLUMNS if c in frame.columns])
            tables[name] = frame
    if not tables:
        return None
    pick = lambda frame: frame[frame["source"] == source].reset_index(drop=True)  # noqa: E731
    return SourceOutput(tables, pick(pd.read_parquet(folder / REJECTS)),
                        pick(pd.read_parquet(folder / WARNINGS)),
                        pick(pd.read_parquet(folder / ACCOUNTING)),
                        origin="entrepôt",
                        key_origin=manifest.get("pseudonymisation") if source == "tracking" else None)


def build(raw: Path | None = None, processed: Path | None = None, today: date | None = None,
          progress: bool = False, only: str | None = None, use_cache: bool = True) -> BuildSummary:
    """Build the warehouse from ``raw`` into ``processed`` and put it in force.

    Each source's result is cached under a fingerprint of its input files' contents, the reader
    code and the settings: a source whose inputs did not change is not read again (incremental
    build), and the result is the same as a full build.

    Parameters
    ----------
    raw
        A folder laid out like ``data/raw/`` (``decp/``, ``tracking/``, ``grand_paris/``,
        ``structures/``, ``acheteurs/``); a source missing from it is simply absent.
    processed
        The warehouse folder; default: the configured one.
    today
        Reference day for the "date in the future" rule (default: the real date).
    progress
        Show progress bars.
    only
        Read only this source; the other sources are taken as they are in the warehouse in force.
    use_cache
        Reuse cached sources whose fingerprint matches (default).

    Raises
    ------
    BuildError
        When an input cannot be read at all; the previous warehouse stays in force.
    """
    # Arrow's buffers from the pool that keeps freed pages (see ``decp.arrow_pool``) for the
    # whole build, the checks and the writing too: less system time, and at 5 M rows a lower
    # peak than mimalloc's (4.16 against 4.38 GB, one run each).
    with decp.arrow_pool():
        return _build(raw, processed, today, progress, only, use_cache)


def _build(raw: Path | None, processed: Path | None, today: date | None, progress: bool,
           only: str | None, use_cache: bool) -> BuildSummary:
    started = time.perf_counter()
    cfg = config.paths()
    raw = Path(raw or cfg.raw).resolve()
    processed = Path(processed or cfg.processed).resolve()
    today = today or date.today()
    if only is not None and only not in SOURCES:
        raise BuildError(f"source inconnue : {only} (attendu : {', '.join(SOURCES)})")
    if not raw.is_dir():
        raise BuildError(f"{raw}: dossier d'entrée introuvable (make data génère le jeu par défaut)")
    files = {name: find_inputs(raw, folder, patterns)
             for name, (folder, patterns, _) in SOURCES.items()}
    if not any(files.values()):
        raise BuildError(f"{raw}: aucune source reconnue (decp/*.json|csv|parquet, tracking/<dép>/, "
                         "grand_paris/*.csv, structures/*.csv, acheteurs/*.csv)")
    hashes = {path: sha256(path) for paths_ in files.values() for path in paths_}
    region = config.REGION_CODE
    code = _code_fingerprint()
    cache_root = processed / CACHE
    outputs: dict[str, SourceOutput] = {}
    try:
        for source, inputs in files.items():
            if only is not None and source != only:
                previous = _from_warehouse(source, processed)
                if previous is not None:
                    outputs[source] = previous
                continue
            if not inputs:
                continue
            key, key_origin = get_key(raw) if source == "tracking" else (None, None)
            fingerprint = _fingerprint(source, inputs, raw, hashes, today, key, code)
            cached = cache_root / source / fingerprint
            output = _load_cache(cached) if use_cache and only is None else None
            if output is None:
                output = _read_source(source, inputs, raw, today, progress, key)
                output.key_origin = key_origin
                cached.parent.mkdir(parents=True, exist_ok=True)
                for stale in cached.parent.iterdir():  # one cached version per source
                    if stale.name != fingerprint:
                        shutil.rmtree(stale, ignore_errors=True)
                _save_cache(cached, output)
            outputs[source] = output
    except SourceFileError as exc:
        raise BuildError(f"entrée illisible, {_previous(processed)} — {exc}") from exc
    except MissingKeyError as exc:
        raise BuildError(f"{exc} ; {_previous(processed)}") from exc

    tables: dict[str, pd.DataFrame] = {}
    for output in outputs.values():
        tables.update(output.tables)
        output.tables = {}  # ``tables`` holds them now: one reference, freed once written
    if "contracts" in tables:
        tables["contracts"], derived = join_buyers(tables["contracts"], tables.get("buyers"))
        if derived is not None:
            tables["buyers"] = derived
        decp.release_memory()  # the derivation's sorted columns
    concat = lambda frames: pd.concat(frames, ignore_index=True)  # noqa: E731
    accounting = accounting_frame(concat([o.accounting for o in outputs.values()])
                                  .to_dict("records"))
    rejects = concat([o.rejects for o in outputs.values()]) if outputs else Quarantine().rejects_frame()
    warnings = concat([o.warnings for o in outputs.values()]) if outputs else Quarantine().warnings_frame()
    key_origin = outputs["tracking"].key_origin if "tracking" in outputs else None

    # The schemas are the data dictionary: an error means the warehouse would be wrong.
    checked = {**tables, "accounting": accounting, "rejects": rejects}
    validation = validate_tables(checked, today=today)
    decp.release_memory()  # what the checks of one table freed, before the next checks
    validation.extend(cross_table_checks(checked))
    decp.release_memory()
    if not validation.ok:
        raise BuildError("tables incohérentes, entrepôt précédent conservé —\n" + validation.text())
    if validation.warnings:
        warnings = pd.concat([warnings, validation.warnings_frame()], ignore_index=True)

    builds = processed / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=builds))
    try:
        written = {}
        for name, frame in tables.items():
            written[name] = write_parquet(frame, staging / f"{name}.parquet")
        write_parquet(accounting, staging / ACCOUNTING)
        write_parquet(rejects, staging / REJECTS)
        write_parquet(warnings, staging / WARNINGS)
        rows = {name: int(len(frame)) for name, frame in tables.items()}
        # Every table is in its Parquet file: the frames are let go before DuckDB reads the files
        # (at 5 M rows DuckDB's 1 GB came on top of the 3.7 GB of frames).
        tables.clear()
        checked = frame = None
        decp.release_memory()
        _write_duckdb(staging, {**written, "accounting": staging / ACCOUNTING,
                                "rejects": staging / REJECTS})
        manifest = {
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_version": __version__,
            "region": region,
            "raw": str(raw),
            "inputs": [
                {"source": source, "file": _relative(p, raw), "sha256": hashes[p],
                 "bytes": p.stat().st_size}
                for source, paths_ in files.items() for p in paths_
            ],
            "sources": {source: o.origin for source, o in outputs.items()},
            "pseudonymisation": key_origin,
            "tables": rows,
            "rejected": int(len(rejects)),
            "warnings": int(len(warnings)),
        }
        write_text(staging / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        final = builds / f"{stamp}-{staging.name[5:]}"
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_link(processed / WAREHOUSE, final)
    _prune(builds, final)
    return BuildSummary(
        path=processed / WAREHOUSE,
        accounting=accounting,
        rejects=rejects,
        tables=rows,
        seconds=time.perf_counter() - started,
        origins={source: o.origin for source, o in outputs.items()},
        validation=validation.text(),
    )


def _previous(processed: Path) -> str:
    """What a failed build leaves in force, in the words of its error message."""
    if (processed / WAREHOUSE / MANIFEST).is_file():
        return "entrepôt précédent conservé"
    return "aucun entrepôt construit"


# --- Reading the warehouse -----------------------------------------------------------------------


def _warehouse(processed: Path | None) -> Path:
    folder = (Path(processed) if processed else config.paths().processed) / WAREHOUSE
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(
            f"{folder}: pas d'entrepôt construit ; lancez `make build` (ou `observatoire build`)"
        )
    return folder


def load_table(name: str, processed: Path | None = None) -> pd.DataFrame:
    """A table of the warehouse in force (``contracts``, ``accounting``, ``rejects`` …)."""
    folder = _warehouse(processed)
    path = folder / REJECTS if name == "rejects" else folder / f"{name}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: table absente de l'entrepôt")
    return pd.read_parquet(path)


def manifest_region(manifest: dict) -> str:
    """The région a warehouse was built for (its manifest's ``region``; a warehouse built before
    the région was a setting is Île-de-France's, the only one then)."""
    return str(manifest.get("region", config.DEFAULT_REGION))


def check_region(manifest: dict) -> None:
    """Refuse to publish from a warehouse built for another région than the one in force.

    Raises
    ------
    BuildError
        When the manifest names another région.
    """
    built_for = manifest_region(manifest)
    if built_for != config.REGION_CODE:
        raise BuildError(
            f"l'entrepôt a été construit pour la région {built_for} "
            f"({config.region_name(built_for)}), pas pour {config.REGION_CODE} "
            f"({config.REGION_NAME}) : `observatoire --region {config.REGION_CODE} build` "
            "le reconstruit")


def load_manifest(processed: Path | None = None) -> dict:
    """The manifest of the warehouse in force, refused (:class:`BuildError`) when the warehouse
    was built for another région than the one in force (:func:`check_region`): no report,
    sheet or package is ever drawn from another région's data under this région's name."""
    manifest = json.loads((_warehouse(processed) / MANIFEST).read_text(encoding="utf-8"))
    check_region(manifest)
    return manifest


def table_rows(processed: Path | None = None) -> dict[str, int]:
    """Rows of each table of the warehouse in force, by name (from its manifest); a source that
    was absent from the inputs has no table. Empty when no warehouse is built."""
    try:
        manifest = load_manifest(processed)
    except FileNotFoundError:
        return {}
    return {name: int(rows) for name, rows in manifest.get("tables", {}).items()}


def present_sources(manifest: dict) -> list[str]:
    """The sources a warehouse was built from (its manifest's ``sources``), in reading order."""
    return [source for source in SOURCES if source in manifest.get("sources", {})]


def load_table_columns(name: str, columns: list[str],
                       processed: Path | None = None) -> pd.DataFrame | None:
    """Some columns of a table of the warehouse in force (None when the table is absent)."""
    path = _warehouse(processed) / f"{name}.parquet"
    if not path.is_file():
        return None
    return pd.read_parquet(path, columns=columns)
