"""What a report publishes: key figures, figures and tables, each table also as CSV and XLSX.

A report notebook opens a :class:`Report` in its first cell and shows everything through it::

    report = open_report("fiche_departementale", territory, period, target, suppression_k, output_dir)
    display(report.table(frame, "heures_par_modalite", "Heures par modalité", people=("beneficiaires",)))

Every table goes through :func:`analysis.disclosure.protect` on its counts of people before it is
shown or written: the HTML, the CSV and the XLSX hold the same published cells, ``s`` where a cell
is secret. Beside the HTML report, under ``<output_dir>/``::

    <slug>.json                 what the report published: key figures, tables (columns, counts of
                                people, threshold), parameters and the warehouse it was built from
    <slug>_tableaux/<name>.csv  each table (« ; » separator, decimal comma, UTF-8 with BOM: opens
    <slug>_tableaux/<name>.xlsx as is in a French spreadsheet), with a « Notes » sheet in the XLSX

In JupyterLab, with no ``output_dir``, nothing is written and the tables show without download
links. Counts of contracts, operations or organisations are not about people: they are published
as they are (the DECP are open data); only the columns named in ``people`` are protected.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML

from . import __version__, config, disclosure
from .io import write_bytes, write_text
from .periods import Period
from .plots import percent_fr
from .present import figure_html, key_figures_html, number_fr

#: Suffix of the folder holding a report's tables.
TABLES_SUFFIX = "_tableaux"
CSV_OPTIONS = {"sep": ";", "decimal": ","}
#: First characters that make a spreadsheet read a cell as a formula (OWASP « CSV injection »).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet will show as text: prefixed with ``'`` when it starts with one of
    :data:`FORMULA_PREFIXES`. Other values (numbers, missing) are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`csv_safe` applied to the cells of its text columns."""
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column])
                or pd.api.types.is_datetime64_any_dtype(out[column])):
            out[column] = out[column].map(csv_safe)
    return out


class EmptyFigureError(ValueError):
    """A chart that draws no data (an axes with no line, bar, area, point nor image)."""


@dataclass
class PublishedTable:
    name: str
    caption: str
    columns: list[str]
    people: list[str]
    suppressed: int
    rows: int
    relations: dict = field(default_factory=dict)
    #: Headers of the magnitude columns (hours, amounts) that went through the dominance rule.
    magnitudes: list[str] = field(default_factory=list)


@dataclass
class Report:
    """One report being executed: its parameters and what it has published so far."""

    slug: str
    territory: str
    period: Period
    target: float
    k: int
    output_dir: Path | None = None
    key_figures: list[dict] = field(default_factory=list)
    tables: list[PublishedTable] = field(default_factory=list)
    #: Counts of people published in several tables, by population (:meth:`population`).
    shared_totals: dict[str, int] = field(default_factory=dict)
    #: In memory only (never written: contributors are employers): per table name, the
    #: magnitude columns' contributions and the published values and mask, so that an
    #: independent checker (ACRO, in the tests) can redo the dominance decisions cell by cell.
    magnitude_inputs: dict = field(default_factory=dict, repr=False)
    #: In memory only: the suppression mask of each published table, by name, so that a table
    #: published later that shares a count with it takes its decision as given.
    masks: dict = field(default_factory=dict, repr=False)
    #: Sources absent from the warehouse that parts of this report needed, each with the parts
    #: (French labels) it could not cover (:mod:`analysis.sections.needs`).
    absent: dict[str, list[str]] = field(default_factory=dict)
    #: The absence sentence shown last, with its cell (shown once per cell).
    _last_absence: tuple | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The territory's French name."""
        return config.territory_name(self.territory)

    @property
    def is_region(self) -> bool:
        return self.territory == config.REGION_CODE

    @property
    def tables_dir(self) -> Path | None:
        return self.output_dir / f"{self.slug}{TABLES_SUFFIX}" if self.output_dir else None

    # --- Key figures ----------------------------------------------------------------------------

    def key_figure(self, label: str, value: str, detail: str = "", headline: bool = False) -> None:
        """Record a key figure (shown by :meth:`key_figures_html`).

        ``headline``: one of the few figures ``reports/index.html`` shows for the report.
        """
        self.key_figures = [f for f in self.key_figures if f["label"] != label]
        self.key_figures.append({"label": label, "value": value, "detail": detail,
                                 "headline": bool(headline)})
        self._save()

    def key_figures_html(self):
        """The key figures recorded so far, as cards at the top of the report (styled inline);
        when every one needed an absent source, the sentence that says so."""
        if not self.key_figures and self.absent:
            from IPython.display import Markdown

            from .sections.needs import announce, source_order

            shown = announce(self, [s for s in source_order() if s in self.absent])
            return shown[0] if shown else Markdown("")
        return key_figures_html(self.key_figures)

    def note_absence(self, sources: Sequence[str], label: str) -> None:
        """Record that the part ``label`` (French) was not covered: ``sources`` are absent."""
        for source in sources:
            parts = self.absent.setdefault(source, [])
            if label not in parts:
                parts.append(label)
        self._save()

    # --- Figures --------------------------------------------------------------------------------

    def figure(self, fig, alt: str, caption: str) -> HTML:
        """A chart or a static map with its alternative text and caption.

        With :func:`analysis.config.strict_figures` (the tests), a chart with an axes that draws
        no data is refused (:class:`EmptyFigureError`) instead of being published."""
        if config.strict_figures():
            from .present import empty_axes

            empty = empty_axes(fig)
            if empty:
                import matplotlib.pyplot as plt

                plt.close(fig)
                raise EmptyFigureError(f"graphique sans données dans {self.slug} "
                                       f"({', '.join(empty)}) : « {alt[:120]} »")
        return figure_html(fig, alt=alt, caption=caption)

    # --- Tables ---------------------------------------------------------------------------------

    def population(self, what: str, territory: str | None = None) -> str:
        """The key of a population counted in several tables: ``what`` (e.g. « beneficiaires »)
        of ``territory`` (this report's by default) over this report's period."""
        return f"{what}|{territory or self.territory}|{self.period.label}"

    def protect(self, frame: pd.DataFrame, people: Sequence[str] = (),
                derived: Mapping[str, str | Sequence[str]] | None = None,
                margins: disclosure.Margins | None = None,
                family: Callable[[str], pd.DataFrame] | None = None,
                shared: Mapping[str, tuple] | None = None,
                magnitudes: Mapping[str, pd.DataFrame] | None = None,
                magnitude_total: str | None = None,
                magnitude_margins: disclosure.Margins | None = None,
                ) -> disclosure.ProtectedTable | None:
        """Disclosure control of ``frame`` at this report's threshold (None when no people
        column and no magnitude).

        ``magnitudes`` ``{column: contributions}`` (:func:`disclosure.contributions`): hours or
        amounts summed over contributors (employers, contract holders); the dominance rule and
        its secondary suppression apply to them after the people counts
        (:func:`disclosure.protect_magnitudes`); ``magnitude_total`` is a magnitude column equal
        to the sum of the others in each row; ``magnitude_margins`` the totals the magnitudes
        add up to when they differ from the people's (``margins`` by default).

        ``shared`` declares the counts of this table that other tables of the report, or of its
        family, publish too: ``{population key: ("column", column) | ("row", row label) |
        ("cell", row label, column)}`` — a column's or a row's sum, or one cell. Each is then an
        equation whose total is published (never hidden as a complement, unless small), so
        that no hidden cell is the difference between this table and another one. The same key
        must have the same value in every table of the report (checked).

        ``family(code)`` computes the same table for another territory, rows labelled by the same
        index (the categories): the région's and its départements' tables are then
        protected together (:func:`disclosure.protect_related`), so
        that no one can be found by subtracting the départements' reports from the région's. Every
        report computes the same joint suppression, whichever territory it is for.
        """
        if magnitudes:
            people_derived = _people_derived(derived, people)
            protected = (self.protect(frame, people, derived=people_derived, margins=margins,
                                      family=family, shared=shared) if people else None)
            return disclosure.protect_magnitudes(
                frame, magnitudes, protected, margins=magnitude_margins or margins,
                row_total=magnitude_total,
                derived=derived, k=self.k)
        if not people:
            return None
        people = list(people)
        counts = _counts(frame, people)
        margins = self._register_shared(counts, people, margins, shared)
        if family is None:
            return disclosure.protect(counts, people, k=self.k, margins=margins, derived=derived)
        # Rows are matched across territories by their index labels (the categories).
        if not frame.index.is_unique:
            raise ValueError("tableau de famille : les lignes doivent avoir des étiquettes uniques")
        tables = {code: (counts if code == self.territory else _counts(family(code), people))
                  for code in config.TERRITORIES}
        protected_total, parts = _protect_family(tables, people, self.k, margins, derived)
        own = protected_total if self.is_region else parts[self.territory]
        return disclosure.ProtectedTable(table=own.table.copy(), mask=own.mask.copy(),
                                         primary=own.primary.copy(), k=own.k)

    def _register_shared(self, counts: pd.DataFrame, people: list[str],
                         margins: disclosure.Margins | None,
                         shared: Mapping[str, tuple] | None) -> disclosure.Margins | None:
        """Check the shared counts against the registry and add them to the margins."""
        if not shared:
            return margins
        margins = margins or disclosure.Margins()
        columns, rows, cells = [], [], []
        for key, spec in shared.items():
            kind, *where = spec
            if kind == "column":
                (column,) = where
                if margins.total_row is not None and column in margins.not_additive:
                    value = int(counts.at[margins.total_row, column])  # distinct people
                else:
                    body = counts.drop(index=[margins.total_row]) \
                        if margins.total_row is not None else counts
                    value = int(body[column].sum())
                columns.append(column)
            elif kind == "row":
                (row,) = where
                nested = {c for _, children in margins.nested for c in children}
                parts = [c for c in people if c != margins.row_total and c not in nested]
                value = int(counts.loc[row, parts].sum())
                rows.append(row)
            elif kind == "cell":
                row, column = where
                value = int(counts.at[row, column])
                cells.append((row, column))
            else:
                raise ValueError(f"total partagé de nature inconnue : {kind!r}")
            known = self.shared_totals.setdefault(str(key), value)
            if known != value:
                raise ValueError(f"total partagé incohérent dans {self.slug} : {key} vaut {value} "
                                 f"ici et {known} dans un autre tableau")
        return replace(margins, shared_columns=(*margins.shared_columns, *columns),
                       shared_rows=(*margins.shared_rows, *rows),
                       shared_cells=(*margins.shared_cells, *cells))

    def table(self, frame: pd.DataFrame, name: str, caption: str, *,
              people: Sequence[str] = (),
              derived: Mapping[str, str | Sequence[str]] | None = None,
              margins: disclosure.Margins | None = None,
              percent: Sequence[str] = (), integers: Sequence[str] = (),
              decimals: Mapping[str, int] | None = None,
              columns: Mapping[str, str] | None = None,
              notes: Sequence[str] = (),
              family: Callable[[str], pd.DataFrame] | None = None,
              shared: Mapping[str, tuple] | None = None,
              magnitudes: Mapping[str, pd.DataFrame] | None = None,
              magnitude_total: str | None = None,
              magnitude_margins: disclosure.Margins | None = None,
              recorded_shared: Mapping[str, tuple] | None = None) -> HTML:
        """Publish a table: disclosure control, then HTML here and CSV + XLSX beside the report.

        Parameters
        ----------
        frame
            The table, one row per category, columns in the order shown.
        name
            File name of the CSV and XLSX (ASCII, no extension), unique in the report.
        caption
            French title shown above the table and in the XLSX « Notes » sheet.
        people
            Columns counting people: cells of 1..k − 1 are suppressed (``s``) with secondary
            suppression so that none can be recomputed (see :mod:`analysis.disclosure`).
        derived
            ``{column: count column(s)}``: rates and bounds hidden with their counts.
        margins
            The totals the table publishes (a total row or column), for secondary suppression.
        percent, integers, decimals
            How the HTML shows the columns (French formats); the CSV and XLSX carry the values,
            shares as percentages with two decimals.
        columns
            French headers, ``{column: header}``.
        notes
            Sentences printed under the table (source, population...).
        family
            ``family(territory code)``: the same table for another territory, to protect the
            région and its départements together (see :meth:`protect`).
        shared
            Counts this table has in common with other tables of the report or of its family,
            by population key (see :meth:`protect`).
        magnitudes
            ``{column: contributions}``: hours or amounts summed over contributors, with the
            contributor totals of each cell (:func:`disclosure.contributions`, one group-by over
            the microdata); cells failing the dominance rule are suppressed with complements
            (:func:`disclosure.protect_magnitudes`). ``derived`` may then name a magnitude column
            as a source. ``magnitude_total``: a magnitude column summing the others;
            ``magnitude_margins``: the magnitudes' own margins (default ``margins``).
        recorded_shared
            Counts this table shares with a table published after it, which takes this
            table's decision as given (:attr:`masks`): recorded for the audit
            (:func:`audit_family`) like ``shared``, but not used by this table's protection.
        """
        protected = self.protect(frame, people, derived=derived, margins=margins, family=family,
                                 shared=shared, magnitudes=magnitudes,
                                 magnitude_total=magnitude_total,
                                 magnitude_margins=magnitude_margins)
        values = protected.table if protected is not None else frame.copy()
        mask = (protected.mask.reindex(columns=values.columns, fill_value=False)
                if protected is not None
                else pd.DataFrame(False, index=values.index, columns=values.columns))
        footnotes = None
        if isinstance(protected, disclosure.ProtectedMagnitudes):
            footnotes = protected.notes()
            self.magnitude_inputs[name] = {"frame": frame.copy(), "mask": mask.copy(),
                                           "magnitudes": dict(magnitudes),
                                           "dominated": protected.dominated.copy(),
                                           "people_mask": protected.people_mask.reindex(
                                               columns=mask.columns, fill_value=False),
                                           "rule": protected.rule}
        return self.publish_protected(values, mask, name, caption, people=people,
                                      percent=percent, integers=integers, decimals=decimals,
                                      columns=columns, notes=notes, margins=margins,
                                      shared={**(shared or {}), **(recorded_shared or {})},
                                      footnotes=footnotes,
                                      magnitudes=tuple(magnitudes or ()))

    def publish_protected(self, values: pd.DataFrame, mask: pd.DataFrame, name: str,
                          caption: str, *, people: Sequence[str] = (),
                          percent: Sequence[str] = (), integers: Sequence[str] = (),
                          decimals: Mapping[str, int] | None = None,
                          columns: Mapping[str, str] | None = None,
                          notes: Sequence[str] = (),
                          margins: disclosure.Margins | None = None,
                          shared: Mapping[str, tuple] | None = None,
                          footnotes: Sequence[str] | None = None,
                          magnitudes: Sequence[str] = ()) -> HTML:
        """Publish a table already through disclosure control: ``mask`` says which cells are
        secret (for tables protected piece by piece, e.g. blocks sharing a total row). The
        secrecy footnote is added when a cell is masked (``footnotes``, when given, replace
        it); ``magnitudes`` names the columns that went through the dominance rule; otherwise
        as :meth:`table`.

        ``margins`` and ``shared`` (as given to :meth:`protect`) are recorded in the report's
        record, for the audit of what the published tables give away together
        (:func:`audit_family`)."""
        if any(name == t.name for t in self.tables):
            raise ValueError(f"tableau publié deux fois dans {self.slug} : {name}")
        mask = mask.reindex(index=values.index, columns=values.columns,
                            fill_value=False).fillna(False).astype(bool)
        headers = {c: (columns or {}).get(c, c) for c in values.columns}
        secret_notes = ([disclosure.footnote(self.k)] if footnotes is None else list(footnotes))
        all_notes = list(notes) + (secret_notes if mask.to_numpy().any() else [])
        shown = self._formatted(values, mask, percent, integers, decimals or {})
        self._write_files(values, mask, headers, percent, name, caption, all_notes)
        self.masks[name] = mask.copy()
        self.tables.append(PublishedTable(
            name=name, caption=caption, columns=[headers[c] for c in values.columns],
            people=[headers[c] for c in people], suppressed=int(mask.to_numpy().sum()),
            rows=len(values),
            relations=_rename_relations(_relations(values, people, margins, shared), headers),
            magnitudes=[headers[c] for c in magnitudes]))
        self._save()
        return HTML(self._table_html(shown.rename(columns=headers), name, caption, all_notes,
                                     [headers[c] for c in people],
                                     [headers[c] for c in magnitudes]))

    def _formatted(self, values: pd.DataFrame, mask: pd.DataFrame, percent, integers,
                   decimals) -> pd.DataFrame:
        shown = values.astype(object).copy()
        for column in values.columns:
            if column in percent:
                shown[column] = values[column].map(percent_fr)
            elif column in integers:
                shown[column] = values[column].map(number_fr)
            elif column in decimals:
                shown[column] = values[column].map(lambda v, d=decimals[column]: number_fr(v, d))
            shown.loc[mask[column].to_numpy(), column] = disclosure.SECRET_SYMBOL
        return shown.fillna("–")

    def _file_frame(self, values: pd.DataFrame, mask: pd.DataFrame, headers: dict,
                    percent) -> pd.DataFrame:
        out = values.copy()
        renamed = {}
        for column in values.columns:
            if column in percent:
                out[column] = (pd.to_numeric(values[column], errors="coerce") * 100).round(2)
                renamed[column] = f"{headers[column]} (%)"
            else:
                renamed[column] = headers[column]
                if pd.api.types.is_float_dtype(out[column]):
                    out[column] = out[column].round(4)
            if mask[column].any():
                out[column] = out[column].astype(object)
                out.loc[mask[column].to_numpy(), column] = disclosure.SECRET_SYMBOL
        return out.rename(columns=renamed)

    def _write_files(self, values, mask, headers, percent, name, caption, notes) -> None:
        folder = self.tables_dir
        if folder is None:
            return
        frame = self._file_frame(values, mask, headers, percent)
        # Text from the inputs (contract objects, names) is data: never a spreadsheet formula
        # (guarded before the numbers become text). A column holding a secret cell is text: its
        # numbers get the decimal comma here (pandas applies ``decimal`` to float columns only).
        write_text(folder / f"{name}.csv", "\ufeff" + csv_safe_frame(frame).apply(
            _decimal_comma).to_csv(
            sep=CSV_OPTIONS["sep"], decimal=CSV_OPTIONS["decimal"], index=False))
        buffer = io.BytesIO()
        # In memory: xlsxwriter's default goes through temporary files, most of the time of a
        # small workbook (thousands of them for the buyer sheets).
        # strings_to_formulas / _urls off: a text starting with « = » or « http » stays a string.
        with pd.ExcelWriter(buffer, engine="xlsxwriter",
                            engine_kwargs={"options": {"in_memory": True,
                                                       "strings_to_formulas": False,
                                                       "strings_to_urls": False}}) as writer:
            # A fixed creation date: the same figures give the same bytes.
            writer.book.set_properties({"created": pd.Timestamp("2000-01-01").to_pydatetime(),
                                        "title": caption, "author": "Observatoire des clauses sociales"})
            frame.to_excel(writer, sheet_name="Tableau", index=False)
            sheet = writer.sheets["Tableau"]
            for i, column in enumerate(frame.columns):
                width = max(len(str(column)), *(len(str(v)) for v in frame[column].head(200)), 6)
                sheet.set_column(i, i, min(width + 2, 60))
            about = pd.DataFrame({"Notes": [caption, self._files_subtitle(),
                                            *notes, "Source : Observatoire des clauses sociales."]})
            about.to_excel(writer, sheet_name="Notes", index=False)
        write_bytes(folder / f"{name}.xlsx", buffer.getvalue())

    def _files_subtitle(self) -> str:
        """The line under the caption in a table's XLSX « Notes » sheet."""
        return f"{self.name} — {self.period.label_fr}"

    def _table_html(self, shown: pd.DataFrame, name: str, caption: str, notes: list[str],
                    people: list[str], magnitudes: Sequence[str] = ()) -> str:
        body = shown.to_html(index=False, escape=True, border=0, classes="obs-table", na_rep="–")
        extra = (f' data-magnitudes="{html.escape("|".join(magnitudes))}"' if magnitudes else "")
        body = re.sub(r"<table[^>]*>",
                      f'<table class="obs-table" data-people="{html.escape("|".join(people))}"'
                      f' data-k="{self.k}"{extra}>', body, count=1)
        links = ""
        if self.tables_dir is not None:
            base = f"{self.slug}{TABLES_SUFFIX}/{name}"
            links = (f' <span class="obs-downloads">Télécharger : <a href="{html.escape(base)}.csv">'
                     f'CSV</a> · <a href="{html.escape(base)}.xlsx">XLSX</a></span>')
        foot = "".join(f'<p class="obs-note">{html.escape(n)}</p>' for n in notes)
        return (f'<div class="obs-table-wrap"><p class="obs-caption"><strong>{html.escape(caption)}'
                f"</strong>{links}</p>{body}{foot}</div>")

    # --- Record ---------------------------------------------------------------------------------

    def record(self) -> dict:
        """What the report published, for ``reports/index.html`` and the tests."""
        from .warehouse import load_manifest

        try:
            manifest = load_manifest()
        except Exception:  # no warehouse: the record still says what was shown
            manifest = {}
        return {
            "slug": self.slug, "territory": self.territory, "territory_name": self.name,
            "period": self.period.label, "target": self.target, "k": self.k,
            "key_figures": self.key_figures,
            "tables": [t.__dict__ for t in self.tables],
            # only when a source was missing: {source: [parts not covered]}, in reading order
            **({"absent": _absent_record(self.absent)} if self.absent else {}),
            "warehouse": {"built_at": manifest.get("built_at"),
                          "inputs": len(manifest.get("inputs", [])),
                          "sources": input_versions(manifest),
                          "code_version": manifest.get("code_version"),
                          "fingerprint": warehouse_fingerprint(manifest)},
        }

    def _save(self) -> None:
        if self.output_dir is None:
            return
        write_text(self.output_dir / f"{self.slug}.json",
                   json.dumps(self.record(), ensure_ascii=False, indent=1, sort_keys=True))


def _decimal_comma(column: pd.Series) -> pd.Series:
    """A text column's numbers with the CSV's decimal comma (other columns as they are)."""
    if column.dtype != object:
        return column
    return column.map(lambda v: str(v).replace(".", CSV_OPTIONS["decimal"])
                      if isinstance(v, float) and not np.isnan(v) else v)


def _absent_record(absent: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The parts a report could not cover, by absent source, sources in reading order."""
    from .sections.needs import source_order

    order = source_order()
    ranked = sorted(absent, key=lambda s: order.index(s) if s in order else len(order))
    return {source: list(absent[source]) for source in ranked}


#: Joint protections already computed in this process, by the content of the tables and the
#: rule: the région's report and the départements' sheets protect the same family and get the same answer,
#: so a kernel that renders several of them computes it once.
_FAMILIES: dict[bytes, tuple] = {}
_FAMILIES_KEPT = 512


def _family_key(tables: Mapping[str, pd.DataFrame], people, k, margins, derived) -> bytes:
    import hashlib

    digest = hashlib.sha256(repr((list(people), k, margins, sorted((derived or {}).items())))
                            .encode())
    for code, table in tables.items():
        digest.update(repr((code, list(table.columns), [str(t) for t in table.dtypes],
                            list(table.index))).encode())
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.digest()


def _protect_family(tables: dict[str, pd.DataFrame], people, k, margins, derived) -> tuple:
    """:func:`disclosure.protect_related` of the région's table and its départements' tables,
    memoised on their content (the result is shared: callers copy what they keep)."""
    key = _family_key(tables, people, k, margins, derived)
    if key not in _FAMILIES:
        if len(_FAMILIES) >= _FAMILIES_KEPT:
            _FAMILIES.pop(next(iter(_FAMILIES)))
        parts = dict(tables)
        total = parts.pop(config.REGION_CODE)
        _FAMILIES[key] = disclosure.protect_related(
            total, parts, people, k=k, margins=margins, derived=derived, overlapping=True)
    return _FAMILIES[key]


def _people_derived(derived, people) -> dict | None:
    """``derived`` restricted to the people counts (a column derived from a magnitude only is
    left to :func:`disclosure.protect_magnitudes`)."""
    if not derived:
        return None
    out = {}
    for column, sources in derived.items():
        sources = [sources] if isinstance(sources, str) else list(sources)
        kept = [s for s in sources if s in people]
        if kept:
            out[column] = kept
    return out


def _counts(frame: pd.DataFrame, people: Sequence[str]) -> pd.DataFrame:
    """``frame`` with its people columns as integers (missing: zero)."""
    counts = frame.copy()
    for column in people:
        counts[column] = pd.to_numeric(counts[column]).fillna(0).round().astype("int64")
    return counts


def input_versions(manifest: dict) -> dict:
    """Per source: files, bytes and one SHA-256 over the files' own SHA-256 (sorted by path).

    Two reports with the same digests were made from byte-identical input files."""
    import hashlib

    grouped: dict[str, list[dict]] = {}
    for entry in manifest.get("inputs", []):
        grouped.setdefault(entry.get("source", "?"), []).append(entry)
    versions = {}
    for source, entries in sorted(grouped.items()):
        digest = hashlib.sha256()
        for entry in sorted(entries, key=lambda e: e.get("file", "")):
            digest.update(f"{entry.get('file')}\0{entry.get('sha256')}\n".encode())
        versions[source] = {"files": len(entries),
                            "bytes": int(sum(e.get("bytes", 0) for e in entries)),
                            "sha256": digest.hexdigest()}
    return versions


def code_fingerprint() -> str:
    """Digest of what shapes a report besides its data: the package's modules and templates, and
    the région in force (its names, départements and published figures)."""
    root = Path(__file__).parent
    digest = hashlib.sha256(f"{__version__}|région {config.REGION_CODE}".encode())
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".j2", ".json", ".css", ".js"} \
                and "synthetic" not in path.parts and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def content_manifest(manifest: dict) -> dict:
    """The warehouse manifest without what says how the build went rather than what it holds:
    whether each source was read or taken from the build cache (``sources``: ``lu``, ``cache``).
    Two builds of the same inputs by the same code give the same content manifest."""
    return {key: value for key, value in manifest.items() if key != "sources"}


def warehouse_fingerprint(manifest: dict) -> str:
    """A digest of the warehouse's inputs and tables (its build time left out)."""
    import hashlib

    stable = {k: v for k, v in manifest.items() if k not in {"built_at", "seconds", "timings"}}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:16]


_FLOOR_VARIABLE = "OBSERVATOIRE_SUPPRESSION_K_FLOOR"


def open_report(slug: str, territory: str, period: str | int | Period, target: float,
                suppression_k: int | None = None, output_dir: str | Path | None = None) -> Report:
    """Start a report: check its parameters and set the disclosure threshold for this process.

    ``suppression_k`` below the configured threshold is refused: a report may be stricter than
    the observatory's rule, never laxer.
    """
    config.territory_name(territory)
    # The observatory's threshold, as configured before any report of this process changed it.
    floor = int(os.environ.setdefault(_FLOOR_VARIABLE, str(config.suppression_k())))
    k = int(suppression_k) if suppression_k else floor
    if k < floor:
        raise ValueError(f"seuil de secret statistique {k} inférieur au seuil de l'observatoire "
                         f"({floor}) : refusé")
    os.environ["OBSERVATOIRE_SUPPRESSION_K"] = str(k)
    report = Report(slug=slug, territory=str(territory), period=Period.parse(period),
                    target=float(target), k=k,
                    output_dir=Path(output_dir) if output_dir else None)
    if report.tables_dir is not None and report.tables_dir.exists():
        for old in report.tables_dir.iterdir():  # tables of an earlier run of this report
            if old.suffix in {".csv", ".xlsx"}:
                old.unlink()
    report._save()
    return report


def read_record(path: Path) -> dict | None:
    """A report's record (``<slug>.json``), or None when missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _relations(values: pd.DataFrame, people: Sequence[str], margins: disclosure.Margins | None,
               shared: Mapping[str, tuple] | None) -> dict:
    """A table's margins and shared counts as the record keeps them: rows by position (the CSV
    has no index), columns by name (renamed to their headers by :func:`_rename_relations`)."""
    if not people:
        return {}
    margins = margins or disclosure.Margins()
    index = list(values.index)
    out: dict = {"row_total": margins.row_total,
                 "total_row": (index.index(margins.total_row)
                               if margins.total_row is not None else None),
                 "nested": [[parent, list(children)] for parent, children in margins.nested],
                 "not_additive": list(margins.not_additive),
                 "shared": []}
    for key, (kind, *where) in (shared or {}).items():
        entry = {"key": str(key), "kind": kind, "row": None, "column": None}
        if kind == "column":
            entry["column"] = where[0]
        elif kind == "row":
            entry["row"] = index.index(where[0])
        else:
            entry["row"], entry["column"] = index.index(where[0]), where[1]
        out["shared"].append(entry)
    return out


def _rename_relations(relations: dict, headers: Mapping[str, str]) -> dict:
    if not relations:
        return {}
    name = lambda c: None if c is None else headers.get(c, c)  # noqa: E731
    return {"row_total": name(relations["row_total"]), "total_row": relations["total_row"],
            "nested": [[name(p), [name(c) for c in children]]
                       for p, children in relations["nested"]],
            "not_additive": [name(c) for c in relations.get("not_additive", [])],
            "shared": [{**e, "column": name(e["column"])} for e in relations["shared"]]}


def read_published_table(path: Path, people: Sequence[str]) -> pd.DataFrame:
    """A published CSV read back: people columns as numbers, secret cells (``s``) missing."""
    frame = pd.read_csv(path, sep=CSV_OPTIONS["sep"], encoding="utf-8-sig", dtype=str)
    for column in people:
        frame[column] = pd.to_numeric(frame[column].str.replace("\u00a0", "", regex=False)
                                      .str.replace(" ", "", regex=False)
                                      .str.replace(",", ".", regex=False), errors="coerce")
    return frame


def audit_family(members: Sequence[tuple[dict, Path]], k: int | None = None,
                 relations: Sequence[disclosure.Relation] = ()) -> list[disclosure.Violation]:
    """What the published tables of a family of reports give away together.

    ``members``: ``(record, folder)`` of each report of the family (the région's report and the
    départements' sheets), ``folder`` holding ``<slug>_tableaux/``. Every people table is read
    back from its CSV; its margins and the counts it shares with other tables (recorded by
    :meth:`Report.table`) become the equations of :func:`disclosure.audit_published`: the same
    population key in two tables, of one report or of two reports of the family, is the same
    number. ``relations``: further equations between the cells of these tables (cells named
    ``(table, row position, column header)``, tables named as :func:`family_tables` names them),
    e.g. a département's count equal to the sum of some buyers' counts. Returns the hidden cells
    that can be recovered (or bounded within 1..k − 1).
    """
    tables, own = family_system(members)
    return disclosure.audit_published(tables, [*own, *relations], k=k)


def table_name(record: dict, table: dict) -> str:
    """The name of a published table in :func:`family_system` (``territory/slug/table``)."""
    return f"{record['territory']}/{record['slug']}/{table['name']}"


def family_system(members: Sequence[tuple[dict, Path]]
                  ) -> tuple[dict[str, pd.DataFrame], list[disclosure.Relation]]:
    """The people tables of a family of reports read back from their CSV files, and the equations
    their records declare (margins, and the same population key in two tables); see
    :func:`audit_family`."""
    tables: dict[str, pd.DataFrame] = {}
    relations: list[disclosure.Relation] = []
    occurrences: dict[str, list[tuple]] = {}
    for record, folder in members:
        for table in record.get("tables", []):
            if not table.get("people"):
                continue
            name = table_name(record, table)
            frame = read_published_table(
                Path(folder) / f"{record['slug']}{TABLES_SUFFIX}" / f"{table['name']}.csv",
                table["people"])
            tables[name] = frame
            rel = table.get("relations") or {}
            margins = disclosure.Margins(
                row_total=rel.get("row_total"), total_row=rel.get("total_row"),
                nested=tuple((p, tuple(c)) for p, c in rel.get("nested", [])),
                not_additive=tuple(rel.get("not_additive", [])))
            relations += disclosure.table_relations(name, frame, table["people"], margins)
            nested = {c for _, children in margins.nested for c in children}
            body = [r for r in frame.index if r != margins.total_row]
            parts = [c for c in table["people"] if c != margins.row_total and c not in nested]
            for entry in rel.get("shared", []):
                if entry["kind"] == "column" and margins.total_row is not None \
                        and entry["column"] in margins.not_additive:
                    refs = ((name, margins.total_row, entry["column"]),)
                elif entry["kind"] == "column":
                    refs = tuple((name, r, entry["column"]) for r in body)
                elif entry["kind"] == "row":
                    refs = tuple((name, entry["row"], c) for c in parts)
                else:
                    refs = ((name, entry["row"], entry["column"]),)
                occurrences.setdefault(entry["key"], []).append(refs)
    for refs in occurrences.values():
        first, *others = refs
        relations += [disclosure.Relation(first, other) for other in others]
    return tables, relations


__all__ = ["Report", "open_report", "read_record", "warehouse_fingerprint", "TABLES_SUFFIX",
           "audit_family", "family_system", "table_name", "read_published_table"]
