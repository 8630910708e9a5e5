"""The researcher's entry to the observatory: a DECP file in, shares with intervals out.

Five calls, each a thin layer over what the reports use (no second implementation)::

    from analysis import api

    entrepot = api.open_warehouse("decp-2025.parquet")   # builds once, then reopens
    api.dictionary("contracts")                          # the data dictionary (pandera schemas)
    table = entrepot.share(by=["departement_execution"], year=2025)
    api.plot_share(table)                                # the house style
    entrepot.query("SELECT annee, count(*) FROM contracts GROUP BY annee")

* :func:`open_warehouse` builds the warehouse with :func:`analysis.warehouse.build` (the
  function of ``observatoire build``), into the user cache folder, once per input: reopening an
  unchanged input reads nothing again.
* :func:`dictionary` is :func:`analysis.schemas.dictionary_frame`, the entries of
  ``docs/data_dictionary.md``.
* :meth:`Warehouse.share` takes its population with :class:`analysis.scope.Scope` and computes
  with :func:`analysis.indicators.progression.share_by`: the two functions behind the reports'
  share tables (:mod:`analysis.sections.progression`). The API wraps them; it does not redo them.
* :func:`plot_share` draws with :mod:`analysis.plots` (the reports' yearly chart for a breakdown
  by year).
* :meth:`Warehouse.query` runs SQL with DuckDB over the warehouse's DuckDB file
  (``observatoire.duckdb``), read only.

**What the API gives access to.** The DECP (contracts, suppliers, modifications, concessions),
the buyers directory, Grand Paris works contracts, the directory of insertion structures, and
the accounting and quarantine of those sources: public data about contracts and organisations,
no person. The four tables of the clause-tracking exports (:data:`WITHHELD_TABLES`:
operations, participants, work contracts, outcomes) describe people and employers: the reports
publish them only through small-cell suppression (no cell of fewer than *k* people, with
secondary suppression) and the dominance rule on hours (:mod:`analysis.disclosure`,
``docs/disclosure.md``). The API gives no access to them, so it returns no count of people and
needs no suppression of its own: :meth:`Warehouse.table` and :meth:`Warehouse.query` refuse them,
and the rows of the tracking source are left out of the accounting and the quarantine they show.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from . import config
from .indicators import progression
from .io import sha256, write_text
from .periods import Period

#: Tables of the clause-tracking exports (people, employers): never returned by the API.
WITHHELD_TABLES = ("operations", "participants", "work_contracts", "outcomes")
#: The source whose rows are left out of the accounting and quarantine the API shows.
WITHHELD_SOURCE = "tracking"
#: The tables the API gives: public data about contracts and organisations.
PUBLIC_TABLES = ("contracts", "suppliers", "modifications", "concessions", "buyers",
                 "grand_paris", "structures", "accounting", "rejects")
#: Input files read as DECP when a file or a folder of DECP files is given.
DECP_SUFFIXES = (".json", ".csv", ".parquet")
#: The folder of the user cache holding one warehouse per input.
CACHE_FOLDER = "entrepots"
#: The record, beside a cached warehouse, of the input it was built from.
MARKER = "explorer.json"


class WithheldTableError(PermissionError):
    """A table of people (clause tracking) was asked of the API."""


def _withheld(name: str) -> WithheldTableError:
    return WithheldTableError(
        f"la table {name} décrit des personnes ou des employeurs (suivi des clauses) : elle "
        "n'est pas accessible par l'API d'exploration ; ses chiffres sont publiés par les "
        "rapports, sous secret statistique (aucune case de moins de k personnes, "
        "docs/disclosure.md)")


# --- Opening a warehouse -------------------------------------------------------------------------


class Warehouse:
    """A built warehouse, read through the API (see :func:`open_warehouse`).

    The object reads the build in force when it was opened (its folder is resolved then): a
    later build does not change what it reads.

    Attributes
    ----------
    processed : Path
        The processed folder (holding the ``warehouse`` link to the build in force).
    folder : Path
        The build read.
    source : Path or None
        The DECP file or folder given to :func:`open_warehouse` (``None``: the default warehouse).
    summary : analysis.warehouse.BuildSummary or None
        What the build did when :func:`open_warehouse` built it; ``None`` when it reopened one.
    """

    def __init__(self, processed: Path, source: Path | None = None, summary=None):
        from .warehouse import MANIFEST, WAREHOUSE

        self.processed = Path(processed)
        folder = self.processed / WAREHOUSE
        if not (folder / MANIFEST).is_file():
            raise FileNotFoundError(f"{folder} : pas d'entrepôt construit")
        self.folder = folder.resolve()
        self.source = source
        self.summary = summary
        self._tables: dict[str, pd.DataFrame] = {}
        self._connection = None

    @property
    def built(self) -> bool:
        """Whether :func:`open_warehouse` built this warehouse (False: it reopened it)."""
        return self.summary is not None

    def __repr__(self) -> str:
        what = "construit" if self.built else "rouvert"
        return f"<Entrepôt {what} : {self.folder}>"

    # --- tables ---------------------------------------------------------------------------------

    def manifest(self) -> dict:
        """The build's manifest: inputs with their checksums, tables, counts, build time."""
        from .warehouse import MANIFEST

        return json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))

    def tables(self) -> pd.DataFrame:
        """The warehouse's tables: ``table``, ``titre`` (French), ``lignes``, ``accessible``.

        The tracking tables the API withholds (:data:`WITHHELD_TABLES`) are listed with
        ``accessible`` False and no row count (their rows are people: no count of people here).
        """
        from .schemas import SCHEMAS

        counts = self.manifest().get("tables", {})
        rows = [{"table": name, "titre": SCHEMAS[name].title if name in SCHEMAS else "",
                 "lignes": pd.NA if name in WITHHELD_TABLES else int(rows),
                 "accessible": name not in WITHHELD_TABLES}
                for name, rows in counts.items()]
        frame = pd.DataFrame(rows, columns=["table", "titre", "lignes", "accessible"])
        return frame.astype({"lignes": "Int64"})

    def table(self, name: str) -> pd.DataFrame:
        """A table of the warehouse, loaded once (do not modify it in place).

        Parameters
        ----------
        name
            One of :data:`PUBLIC_TABLES`. ``accounting`` and ``rejects`` leave out the rows of
            the tracking source.

        Returns
        -------
        DataFrame

        Raises
        ------
        WithheldTableError
            A tracking table (:data:`WITHHELD_TABLES`): people are published only by the reports,
            under small-cell suppression.
        ValueError
            A name that is not a table of the API.
        FileNotFoundError
            A table this warehouse does not have (e.g. ``buyers`` without a directory).

        Examples
        --------
        >>> entrepot = open_warehouse()                          # doctest: +SKIP
        >>> entrepot.table("contracts")["annee"].value_counts()  # doctest: +SKIP
        """
        from .warehouse import REJECTS

        if name in WITHHELD_TABLES:
            raise _withheld(name)
        if name not in PUBLIC_TABLES:
            raise ValueError(f"table inconnue : {name!r} (tables accessibles : "
                             f"{', '.join(PUBLIC_TABLES)})")
        if name not in self._tables:
            path = self.folder / (REJECTS if name == "rejects" else f"{name}.parquet")
            if not path.is_file():
                raise FileNotFoundError(f"{path} : table absente de cet entrepôt")
            frame = pd.read_parquet(path)
            if "source" in frame.columns and name in ("accounting", "rejects"):
                frame = frame.loc[frame["source"] != WITHHELD_SOURCE].reset_index(drop=True)
            self._tables[name] = frame
        return self._tables[name]

    def summary_fr(self) -> str:
        """What was opened, in French: built or reopened, from what, records read = kept +
        rejected + merged (public sources), contracts and years covered."""
        from .present import number_fr

        manifest = self.manifest()
        accounting = self.table("accounting")
        totals = {c: int(accounting[c].sum()) for c in ("read", "kept", "rejected", "merged")}
        years = self.years()
        origin = ("construit à l'instant" if self.built else "déjà construit, rouvert sans relire "
                  "les fichiers")
        where = self.source if self.source is not None else manifest.get("raw", "")
        contracts = int(manifest.get("tables", {}).get("contracts", 0))
        span = (f"notifiés de {years[0]} à {years[-1]}" if len(years) > 1 else
                f"notifiés en {years[0]}" if years else "")
        return (f"Entrepôt {origin} : {self.folder}\n"
                f"Entrées : {where} ({number_fr(len(accounting))} fichiers)\n"
                f"Enregistrements lus : {number_fr(totals['read'])} = {number_fr(totals['kept'])} "
                f"gardés + {number_fr(totals['rejected'])} rejetés (quarantaine) + "
                f"{number_fr(totals['merged'])} doublons fusionnés\n"
                f"Marchés : {number_fr(contracts)} {span}".rstrip())

    def years(self) -> list[int]:
        """The notification years of the warehouse's contracts, in order."""
        years = self.table("contracts")["annee"].dropna().astype(int)
        return sorted(set(years))

    # --- shares ---------------------------------------------------------------------------------

    def population(self, year: int | str | None = None,
                   territory: str | None = None) -> pd.DataFrame:
        """The contracts a share is computed on: those of ``territory`` notified in ``year``.

        The same selection as the reports (:class:`analysis.scope.Scope`): ``Scope.contracts``
        for a territory (:func:`analysis.indicators.progression.in_territory`: place of
        execution; for the région also the contracts placed at its level and those without a
        place whose buyer is in the région), ``Scope.period_contracts`` for a period (by
        notification date).

        Parameters
        ----------
        year
            A year (``2025``), a quarter (``"2025-T3"``) or ``None`` for every year.
        territory
            The région observed's code (:data:`analysis.config.REGION_CODE`) or one of its
            départements; ``None``: every contract of
            the warehouse, wherever it is executed (a national file: the whole of France).

        Returns
        -------
        DataFrame
            Rows of the ``contracts`` table.
        """
        from .scope import Scope

        contracts = self.table("contracts")
        if territory is None:
            if year is None:
                return contracts
            period = Period.parse(year)
            return contracts.loc[period.contains(contracts["dateNotification"])]
        if year is None:
            config.territory_name(territory)
            return progression.in_territory(contracts, str(territory))
        return Scope(str(territory), year, tables={"contracts": contracts}).period_contracts

    def share(self, by=(), year: int | str | None = None, territory: str | None = None, *,
              clustered: bool = True, amounts: bool = False) -> pd.DataFrame:
        """Share of contracts with at least one social consideration, by any breakdown.

        A thin wrapper: the population is :meth:`population` (the reports' :class:`Scope`) and
        the table :func:`analysis.indicators.progression.share_by`, the function behind the
        reports' share tables and key figure (:mod:`analysis.sections.progression`). For the
        same territory, period and breakdown the figures are those the reports publish.

        Contracts whose social status is unknown are left out of the rate and counted in
        ``statut_inconnu``. The 95 % interval treats the buyers as clusters
        (:func:`analysis.stats.clustered_share`: the contracts of one buyer are not independent
        draws); a group of a single buyer gets Wilson's interval on its contracts.

        Parameters
        ----------
        by
            A column of the ``contracts`` table, or a list of them (``departement_execution``,
            ``acheteur_categorie``, ``annee``, ``cpv_division``, ``procedure``, ``nature`` …), or
            ``tranche_montant`` (amount bands); empty: one row for the whole population. A
            missing value forms its own « non renseigné » group.
        year
            A year, a quarter (``"2025-T3"``) or ``None`` (every year).
        territory
            The région observed's code or one of its départements; ``None``: every contract of the
            warehouse (for another département of a national file: ``by="departement_execution"``).
        clustered
            ``True`` (default): the reports' buyer-clustered intervals. ``False``: contracts as
            independent draws (Wilson), narrower; for comparison only.
        amounts
            Also the share by amount with its bootstrap interval (slower).

        Returns
        -------
        DataFrame
            One row per group: the breakdown columns (text), ``contrats`` (known status),
            ``avec_consideration``, ``part``, ``ic_bas``, ``ic_haut``, ``acheteurs``, ``deff``
            (design effect), ``statut_inconnu``; with ``amounts``, ``montant, montant_avec,
            part_montant, ic_montant_bas, ic_montant_haut``. ``attrs`` records the breakdown,
            year, territory and method for :func:`plot_share`.

        Raises
        ------
        ValueError
            An unknown breakdown column (the message names it and lists the possible ones), an
            unknown territory or an unreadable period.

        Examples
        --------
        >>> entrepot = open_warehouse()                                        # doctest: +SKIP
        >>> entrepot.share(by="acheteur_categorie", year=2025, territory="93")  # doctest: +SKIP
        """
        contracts = self.table("contracts")
        by = progression.check_breakdown(contracts, by)  # before anything else: a clear error
        if territory is not None:
            config.territory_name(territory)
        label = Period.parse(year).label if year is not None else None
        table = progression.share_by(self.population(year, territory), by, amounts=amounts,
                                     clustered=clustered)
        table.attrs.update({"by": by, "year": label, "territory": territory,
                            "clustered": clustered})
        return table

    # --- SQL ------------------------------------------------------------------------------------

    def query(self, sql: str, params=None) -> pd.DataFrame:
        """Run SQL (DuckDB's dialect) over the warehouse and return the result.

        The tables of :data:`PUBLIC_TABLES` that this warehouse has are copied once from its
        DuckDB file (``observatoire.duckdb``, opened read only) into an in-memory database,
        then the connection loses access to files (``enable_external_access`` off, settings
        locked): a query reads those tables only and writes nothing anywhere. The tracking
        tables (:data:`WITHHELD_TABLES`) are not copied, nor the tracking rows of
        ``accounting`` and ``rejects``.

        Parameters
        ----------
        sql
            One statement; its result is returned (a statement without result gives what DuckDB
            returns, e.g. a ``Count``).
        params
            Values of the statement's ``?`` placeholders.

        Returns
        -------
        DataFrame

        Raises
        ------
        WithheldTableError
            The statement reads a tracking table.
        duckdb.Error
            Any other error of the statement, as DuckDB words it.

        Examples
        --------
        >>> entrepot = open_warehouse()                                        # doctest: +SKIP
        >>> entrepot.query("SELECT annee, count(*) AS marches FROM contracts "
        ...                "GROUP BY annee ORDER BY annee")                    # doctest: +SKIP
        """
        import duckdb

        con = self._duckdb()
        try:
            return con.execute(sql, params).fetchdf()
        except duckdb.CatalogException as exc:
            missing = re.search(r"Table with name (\S+) does not exist", str(exc))
            if missing and missing.group(1).strip('"').lower() in WITHHELD_TABLES:
                raise _withheld(missing.group(1).strip('"').lower()) from None
            raise

    def _duckdb(self):
        import duckdb

        from .warehouse import DATABASE

        if self._connection is not None:
            return self._connection
        con = duckdb.connect(":memory:")
        database = str(self.folder / DATABASE).replace("'", "''")
        con.execute(f"ATTACH '{database}' AS entrepot (READ_ONLY)")
        present = {row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'entrepot'"
        ).fetchall()}
        for name in PUBLIC_TABLES:
            if name not in present:
                continue
            where = (f" WHERE source <> '{WITHHELD_SOURCE}'"
                     if name in ("accounting", "rejects") else "")
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM entrepot."{name}"{where}')
        con.execute("DETACH entrepot")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        self._connection = con
        return con

    def close(self) -> None:
        """Close the DuckDB connection (the tables loaded stay)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def open_warehouse(source: str | Path | None = None, *, rebuild: bool = False,
                   today: date | None = None, progress: bool = False) -> Warehouse:
    """Open the warehouse of a DECP file or folder, building it first when needed.

    Parameters
    ----------
    source
        * ``None`` or ``""``: the warehouse in force (``data/processed``, or
          ``OBSERVATOIRE_PROCESSED_DIR``), built from the configured inputs (the embedded data
          set, ``make data``) if there is none;
        * a DECP file (``.json``, ``.csv``, ``.parquet``: any format ``observatoire build``
          reads, e.g. the national consolidated table) or a folder of such files;
        * a folder laid out like ``data/raw/`` (``decp/``, ``acheteurs/``, ``tracking/`` …);
        * a processed folder (holding ``warehouse/``): opened as it is.

        A file or folder of inputs is built into its own folder of the user cache
        (``OBSERVATOIRE_CACHE_DIR``, else the platform's user cache folder, see
        :attr:`analysis.config.Paths.cache`), by :func:`analysis.warehouse.build`: made aside
        and put in force by an atomic rename, so that an interrupted build leaves the previous
        one in force. It is reused as long as the input files (their checksums) and the
        reading code are unchanged: reopening reads nothing again (file sizes and times are
        compared first, checksums only when they differ). Every record ends up in the
        warehouse or in its quarantine, as with ``observatoire build``.
    rebuild
        Build even when the cached warehouse is up to date.
    today
        Reference day of the "date in the future" rule (default: the day of the build; a
        reused warehouse keeps the day it was built).
    progress
        Show progress bars while reading.

    Returns
    -------
    Warehouse

    Raises
    ------
    FileNotFoundError
        A source that does not exist, a folder without any input, or no default warehouse and
        no default inputs.
    ValueError
        A file that is not a DECP file.
    analysis.warehouse.BuildError
        An input that cannot be read at all (the message names it).

    Examples
    --------
    >>> entrepot = open_warehouse("decp-consolide.parquet")   # doctest: +SKIP
    >>> entrepot.built, open_warehouse("decp-consolide.parquet").built   # doctest: +SKIP
    (True, False)
    """
    from .warehouse import MANIFEST, WAREHOUSE

    if source is None or str(source) == "":
        cfg = config.paths()
        if not rebuild and (cfg.processed / WAREHOUSE / MANIFEST).is_file():
            return Warehouse(cfg.processed)
        if not cfg.raw.is_dir():
            raise FileNotFoundError(
                f"{cfg.raw} : ni entrepôt construit ni données d'entrée ; lancez `make data` "
                "(le jeu de données embarqué) ou donnez un fichier DECP")
        summary = _build(cfg.raw, cfg.processed, today, progress)
        return Warehouse(cfg.processed, summary=summary)

    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path} : fichier ou dossier introuvable")
    if path.is_dir() and (path / WAREHOUSE / MANIFEST).is_file():
        return Warehouse(path, source=path)
    if path.is_dir() and path.name == WAREHOUSE and (path / MANIFEST).is_file():
        return Warehouse(path.parent, source=path)

    inputs = _Inputs.of(path)
    slot = config.paths().cache / CACHE_FOLDER / _slot_name(path)
    processed = slot / "processed"
    state = inputs.state()
    if _up_to_date(slot, processed, state) and not rebuild:
        return Warehouse(processed, source=path)
    raw = inputs.raw_folder(slot)
    summary = _build(raw, processed, today, progress)
    state["build"] = (processed / WAREHOUSE).resolve().name
    write_text(slot / MARKER, json.dumps(state, ensure_ascii=False, indent=2))
    _prune_raw_folders(slot, keep=raw)
    return Warehouse(processed, source=path, summary=summary)


def _build(raw: Path, processed: Path, today: date | None, progress: bool):
    """:func:`analysis.warehouse.build`, without tqdm's warning about notebook widgets (the
    progress bars are off unless asked for)."""
    import warnings

    from .warehouse import build

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        return build(raw=raw, processed=processed, today=today, progress=progress)


def _slot_name(path: Path) -> str:
    """The cache folder of an input: its name (readable) and a hash of its full path."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name)[:40] or "entree"
    return f"{stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"


@dataclass
class _Inputs:
    """The input files of a source given to :func:`open_warehouse`."""

    path: Path
    #: ``{name under the raw folder: file}``
    files: dict[str, Path]
    #: Whether ``path`` is itself a raw folder (read in place) rather than DECP files to link.
    in_place: bool

    @classmethod
    def of(cls, path: Path) -> _Inputs:
        from .warehouse import SOURCES, find_inputs

        if path.is_file():
            if path.suffix.lower() not in DECP_SUFFIXES:
                raise ValueError(f"{path} : pas un fichier DECP (attendu : "
                                 f"{', '.join(DECP_SUFFIXES)})")
            return cls(path, {f"decp/{path.name}": path}, in_place=False)
        if any((path / folder).is_dir() for folder, _, _ in SOURCES.values()):
            files = {str(p.relative_to(path)): p
                     for folder, patterns, _ in SOURCES.values()
                     for p in find_inputs(path, folder, patterns)}
            in_place = True
        else:
            patterns = SOURCES["decp"][1]
            found = sorted({p for pattern in patterns for p in path.rglob(pattern)
                            if p.is_file() and not p.name.startswith(".")})
            files = {f"decp/{p.relative_to(path)}": p for p in found}
            in_place = False
        if not files:
            raise FileNotFoundError(
                f"{path} : aucun fichier d'entrée (DECP {', '.join(DECP_SUFFIXES)}, ou un dossier "
                "organisé comme data/raw : decp/, acheteurs/, tracking/ …)")
        return cls(path, files, in_place)

    def state(self) -> dict:
        """What decides the warehouse: the reading code and each file's size, time and checksum
        (the checksum is filled in lazily by :func:`_up_to_date`)."""
        from .warehouse import _code_fingerprint

        files = {}
        for name, file in self.files.items():
            stat = file.stat()
            files[name] = {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": None}
        return {"source": str(self.path), "code": _code_fingerprint(), "files": files,
                "_paths": {name: str(file) for name, file in self.files.items()}}

    def raw_folder(self, slot: Path) -> Path:
        """The raw folder the build reads: the source itself, or a folder of links to the DECP
        files under ``decp/`` (named by the list of files, made aside then renamed)."""
        if self.in_place:
            return self.path
        listing = json.dumps(sorted((n, str(f)) for n, f in self.files.items()))
        target = slot / f"raw-{hashlib.sha256(listing.encode()).hexdigest()[:12]}"
        if target.is_dir():
            return target
        slot.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-raw-", dir=slot))
        try:
            for name, file in self.files.items():
                link = staging / name
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(file)
            os.rename(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
            # made meanwhile by another process: the same links
        return target


def _up_to_date(slot: Path, processed: Path, state: dict) -> bool:
    """Whether the cached warehouse of ``slot`` was built from these very inputs and code.

    Fills in ``state``'s checksums (reading a file only when its size or time changed since the
    build, or always when there is no usable record) and rewrites the record when only times
    changed."""
    from .warehouse import MANIFEST, WAREHOUSE

    paths = state.pop("_paths")
    try:
        recorded = json.loads((slot / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    current = processed / WAREHOUSE
    usable = (recorded is not None and recorded.get("source") == state["source"]
              and recorded.get("code") == state["code"]
              and set(recorded.get("files", {})) == set(state["files"])
              and (current / MANIFEST).is_file()
              and current.resolve().name == recorded.get("build"))
    touched = False
    for name, info in state["files"].items():
        before = (recorded or {}).get("files", {}).get(name) or {}
        if usable and before.get("bytes") == info["bytes"] and \
                before.get("mtime_ns") == info["mtime_ns"] and before.get("sha256"):
            info["sha256"] = before["sha256"]
        else:
            info["sha256"] = sha256(paths[name])
            touched = True
            usable = usable and before.get("sha256") == info["sha256"]
    if usable and touched:  # same contents, new times: remember them
        write_text(slot / MARKER, json.dumps({**state, "build": recorded["build"]},
                                             ensure_ascii=False, indent=2))
    return usable


def _prune_raw_folders(slot: Path, keep: Path) -> None:
    """Remove the folders of links of earlier inputs (the source may have gained files)."""
    for old in slot.glob("raw-*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


# --- Dictionary and charts -----------------------------------------------------------------------


def dictionary(table: str | None = None) -> pd.DataFrame:
    """The data dictionary: every column of the warehouse's tables, from the pandera schemas.

    :func:`analysis.schemas.dictionary_frame`: the entries of ``docs/data_dictionary.md``
    (``observatoire dictionary``), from the schemas that validate every build.

    Parameters
    ----------
    table
        A table (``"contracts"`` …) or ``None`` for all of them.

    Returns
    -------
    DataFrame
        One row per column: ``table, titre_table, colonne, titre, type, dtype,
        manquant_possible, controles, description``.

    Examples
    --------
    >>> dictionary("contracts").set_index("colonne").loc["annee", "titre"]
    'Année de notification'
    """
    from .schemas import dictionary_frame

    return dictionary_frame(table)


#: The most groups :func:`plot_share` draws (the largest by number of contracts).
PLOT_LIMIT = 25


def plot_share(table: pd.DataFrame, title: str | None = None,
               target: float | None = config.DEFAULT_TARGET, limit: int = PLOT_LIMIT):
    """Chart a :meth:`Warehouse.share` table in the house style (:mod:`analysis.plots`).

    A breakdown by ``annee`` alone is the reports' yearly chart
    (:func:`analysis.plots.progression_chart`: the share, its interval as a band, the national
    targets and the published national figures). Any other breakdown is drawn as horizontal bars
    with their intervals (:func:`analysis.plots.share_chart`), in the reports' order for a single
    breakdown (amount bands in their order, others from the most contracts to the fewest,
    « non renseigné » last), at most ``limit`` groups.

    Parameters
    ----------
    table
        A table of :meth:`Warehouse.share` (its ``attrs`` give the title's territory and year).
    title
        The title; default: built from the table's breakdown, territory and year.
    target
        The target drawn (``None``: none; the yearly chart draws both national targets and
        stresses this one).
    limit
        The most groups drawn.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A table without ``part``, ``ic_bas``, ``ic_haut`` or ``contrats``.

    Examples
    --------
    >>> entrepot = open_warehouse()                                     # doctest: +SKIP
    >>> plot_share(entrepot.share(by="annee", territory="11"))          # doctest: +SKIP
    """
    from . import cpv, plots
    from .sections.progression import natural_order
    from .schemas import SCHEMAS

    _show_figures_in_notebooks()
    missing = [c for c in ("contrats", "part", "ic_bas", "ic_haut") if c not in table.columns]
    if missing:
        raise ValueError(f"tableau sans les colonnes {', '.join(missing)} : attendu un résultat "
                         "de Warehouse.share")
    by = list(table.attrs.get("by") or table.columns[:list(table.columns).index("contrats")])
    where = _where_fr(table.attrs.get("territory"), table.attrs.get("year"))
    if by == ["annee"]:
        yearly = table.loc[pd.to_numeric(table["annee"], errors="coerce").notna()].copy()
        yearly["annee"] = yearly["annee"].astype(int)
        yearly = yearly.sort_values("annee")
        return plots.progression_chart(yearly, title or where or "ensemble des marchés",
                                       highlight=target if target is not None
                                       else config.DEFAULT_TARGET)
    if len(by) == 1:
        shown = natural_order(table, by[0])
        if len(shown) > limit:
            kept = shown["contrats"].nlargest(limit).index
            shown = shown.loc[shown.index.isin(kept)]
    else:
        shown = table.sort_values("contrats", ascending=False, kind="stable").head(limit)
    labels = [shown[c].astype(str).map(cpv.division_label) if c == "cpv_division"
              else shown[c].astype(str) for c in by]
    names = (pd.Series("ensemble", index=shown.index) if not labels else labels[0]
             if len(labels) == 1 else pd.Series([" · ".join(parts) for parts in zip(*labels)],
                                                index=shown.index))
    titles = SCHEMAS["contracts"].columns
    by_fr = ", ".join(_lower_first(titles[c].title) if c in titles else
                      "tranche de montant" if c == "tranche_montant" else c for c in by)
    if title is None:
        title = "Marchés avec au moins une considération sociale" + (
            f"\npar {by_fr}" if by else "") + (f" — {where}" if where else "")
    return plots.share_chart(shown, names, title, target=target)


def _show_figures_in_notebooks() -> None:
    """In a Jupyter kernel, show a returned Figure as a PNG image.

    :mod:`analysis.plots` draws with the Agg backend (the reports embed their figures as HTML),
    under which IPython shows a Figure as its text; registering matplotlib's PNG formatter makes
    ``plot_share(table)`` at the end of a cell show the chart. Outside IPython: nothing."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("png")


def _lower_first(text: str) -> str:
    """« Division CPV » → « division CPV » (an acronym keeps its capitals)."""
    return text[:1].lower() + text[1:]


def _where_fr(territory: str | None, year: str | None) -> str:
    parts = []
    if territory is not None:
        parts.append(config.territory_name(territory))
    if year is not None:
        parts.append(Period.parse(year).label_fr)
    return ", ".join(parts)
