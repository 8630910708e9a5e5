"""``observatoire mapping``: draft a mapping for an unknown tracking export (``suggest``) and try
a mapping on files without building anything (``check``).

``suggest`` reads the files as the reader would (header found below title lines, totals rows set
aside), then matches each header to the data dictionary by its normalised name (the headers of
every built-in mapping and the synonyms of ``mappings/_dictionary.json``) and by its values (dates,
INSEE codes, SIRET, ROME codes, yes/no, the vocabularies: diploma levels, contract types…). Each
match carries a confidence; headers left unmatched and values outside a vocabulary are listed.
A header that looks like personal data — by its name or by its values (e-mail addresses,
telephone numbers, social-security numbers, street addresses) — is never mapped to a column kept
in ``data/processed``: it is mapped to its personal column (dropped or transformed at ingestion)
or left out, and said so.

``check`` reads the files with a mapping and prints, per table, the rows that would be kept,
quarantined (and why, with file, sheet, line and column) and merged, and the personal columns that
would be dropped. It writes nothing.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .base import Quarantine, SourceFileError
from .tabular import (MAPPINGS, RawTable, load_mapping, locate_table, normalise_header,
                      parse_dates, parse_decimals, read_csv_cells, read_xlsx_cells, text, yes_no)
from . import tracking

#: Confidence from which a match is proposed (below it, the header is listed as unmatched).
MIN_CONFIDENCE = 0.6
PERSONAL_VALUE_SHARE = tracking.PERSONAL_VALUE_SHARE
#: Values examined per column (the first non-empty ones).
SAMPLE = 500

ROME = re.compile(r"^[A-N]\d{4}$")
#: What a column's values can say: personal kinds (dropped) and value kinds (matched).
PERSONAL_KINDS = {kind: (kind, pattern) for kind, pattern in tracking.PERSONAL_VALUES.items()}
#: Canonical columns each value kind can stand for.
KIND_COLUMNS = {
    "date": {"date_naissance", "date_entree", "date_debut", "date_fin", "date_fin_dernier_contrat",
             "date_premier_emploi_durable", "date_export"},
    "insee": {"commune_residence", "commune"},
    "yes_no": {"qpv", "formation_qualifiante", "grand_projet"},
    "siret": {"maitre_ouvrage_siret", "employeur_siret"},
    "rome": {"code_rome"},
    "number": {"heures", "heures_prevues", "heures_realisees", "age"},
}
#: Columns matched by their values alone when their name says nothing the dictionary knows.
BY_VALUES = {"diplome", "type_contrat", "type_employeur", "modalite", "secteur", "situation_6_mois",
             "prescripteur", "public", "sexe"}


@dataclass
class Match:
    """The proposal for one header."""

    header: str
    table: str | None = None
    column: str | None = None
    confidence: float = 0.0
    how: str = ""
    personal: str | None = None          # why it looks personal, when it does
    outside: list[tuple[str, int]] = field(default_factory=list)  # values outside the vocabulary
    candidates: list[tuple[float, str, str]] = field(default_factory=list)


def dictionary() -> dict[tuple[str, str], set[str]]:
    """Known names of each (table, canonical column), normalised: every built-in mapping's
    headers and the synonyms of ``_dictionary.json``."""
    names: dict[tuple[str, str], set[str]] = {}
    for path in sorted(MAPPINGS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        mapping = load_mapping(path)
        for table, columns in mapping["tables"].items():
            for header, column in columns.items():
                names.setdefault((table, column), set()).add(normalise_header(header))
    synonyms = json.loads((MAPPINGS / "_dictionary.json").read_text(encoding="utf-8"))
    for key, words in synonyms["synonyms"].items():
        table, column = key.split(".")
        names.setdefault((table, column), set()).update(normalise_header(w) for w in words)
    return names


def _vocabularies() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(MAPPINGS.glob("*.json")):
        if not path.name.startswith("_"):
            for name, labels in load_mapping(path).get("vocabularies", {}).items():
                merged.setdefault(name, {}).update({k.casefold(): v for k, v in labels.items()})
    return merged


def _name_score(header: str, names: set[str]) -> float:
    folded = normalise_header(header)
    if not folded:
        return 0.0
    if folded in names:
        return 1.0
    best = 0.0
    words = set(folded.split())
    for name in names:  # a known name whose every word is in the header: « Sexe du participant »
        known = set(name.split())
        if known <= words and any(len(w) >= 3 for w in known):
            best = max(best, 0.85 + 0.15 * len(known) / len(words))
    for name in names:
        matcher = difflib.SequenceMatcher(None, folded, name)
        if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
            best = max(best, matcher.ratio())
    return round(best, 2)


def _kinds(values: pd.Series, communes: set[str]) -> dict[str, float]:
    """Share of the values of each kind (dates, INSEE codes, yes/no, SIRET, ROME, numbers,
    and the personal kinds)."""
    from ..identifiers import siret_valid

    if values.empty:
        return {}
    shares = {}
    dates, bad = parse_dates(values)
    looks_numeric = values.str.fullmatch(r"-?\d+([.,]\d+)?").fillna(False)
    shares["date"] = float((dates.notna() & ~looks_numeric).mean())
    shares["insee"] = float(values.isin(communes).mean())
    shares["yes_no"] = float(yes_no(values)[0].notna().mean())
    shares["siret"] = float(values.map(siret_valid).mean())
    shares["rome"] = float(values.str.match(ROME).mean())
    numbers, _ = parse_decimals(values)
    shares["number"] = float(numbers.notna().mean()) * (1 - shares["siret"]) * (1 - shares["insee"])
    for kind, (_, pattern) in PERSONAL_KINDS.items():  # anywhere in the cell: « joindre au 06… »
        shares[kind] = float(values.str.contains(pattern).mean())
    return shares


def _sample(series: pd.Series) -> pd.Series:
    values = text(series.astype("string"))
    return values.dropna().head(SAMPLE).reset_index(drop=True)


def propose(frame: pd.DataFrame, communes: set[str]) -> list[Match]:
    """One :class:`Match` per header of ``frame`` (a table under its header)."""
    names = dictionary()
    vocab = _vocabularies()
    matches = []
    for header in frame.columns:
        values = _sample(frame[header])
        kinds = _kinds(values, communes)
        match = Match(str(header))
        by_name = tracking.looks_personal(str(header))
        by_value = [k for k in PERSONAL_KINDS if kinds.get(k, 0) >= PERSONAL_VALUE_SHARE]
        candidates = []
        folded = values.str.casefold().tolist()
        inside_of = {name: (sum(v in labels for v in folded) / len(folded) if folded else 0.0)
                     for name, labels in vocab.items()}
        for (table, column), known in names.items():
            score = _name_score(str(header), known)
            if score == 1.0:  # a name the dictionary holds as such: nothing to weigh
                candidates.append((1.0, table, column))
                continue
            if column in vocab and len(values):
                inside = inside_of[column]
                if column in BY_VALUES and inside >= 0.8:
                    score = max(score, 0.7 + 0.3 * inside * (score >= 0.5))
                elif inside >= 0.5:
                    score = min(1.0, score + 0.1)
            for kind, columns in KIND_COLUMNS.items():
                if column in columns and len(values) and score < 1.0:
                    score = score + 0.1 if kinds.get(kind, 0) >= 0.8 else score * (
                        0.8 if kinds.get(kind, 0) < 0.2 and kind != "number" else 1.0)
            candidates.append((round(min(score, 0.99), 2), table, column))
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        match.candidates = [c for c in candidates if c[0] >= MIN_CONFIDENCE][:5]
        if match.candidates:
            match.confidence, match.table, match.column = match.candidates[0]
            match.how = _how(str(header), names, match.table, match.column)
        if by_value and match.column not in tracking.PERSONAL:
            match.personal = "valeurs d'allure " + ", ".join(
                f"{kind} ({kinds[kind]:.0%} des valeurs lues)" for kind in by_value)
            match.table = match.column = None
            match.candidates, match.how, match.confidence = [], "", 0.0
        elif by_name and match.column not in tracking.PERSONAL:
            match.personal = "en-tête d'allure personnelle"
            match.table = match.column = None
            match.candidates, match.how, match.confidence = [], "", 0.0
        elif match.column in tracking.PERSONAL:
            match.personal = f"colonne personnelle : {tracking.PERSONAL[match.column]}"
        if match.column in vocab and len(values):
            outside = values[~values.str.casefold().isin(set(vocab[match.column]))]
            match.outside = list(outside.value_counts().head(8).items())
        matches.append(match)
    return _one_header_per_column(matches)


def _how(header: str, names: dict, table: str, column: str) -> str:
    return ("par le nom" if _name_score(header, names[(table, column)]) >= MIN_CONFIDENCE
            else "par les valeurs")


def _one_header_per_column(matches: list[Match]) -> list[Match]:
    """Each canonical column takes its most confident header; a header whose best column is
    taken falls back on its next candidate, else is left unmatched."""
    names = dictionary()
    taken: dict[tuple[str, str], Match] = {}
    pending = sorted((m for m in matches if m.candidates), key=lambda m: -m.confidence)
    for match in pending:
        for confidence, table, column in match.candidates:
            if (table, column) not in taken:
                taken[(table, column)] = match
                match.confidence, match.table, match.column = confidence, table, column
                match.how = _how(match.header, names, table, column)
                break
        else:
            first = match.candidates[0]
            match.how = (f"non retenu : « {taken[first[1:]].header} » correspond mieux à "
                         f"{first[1]}.{first[2]}")
            match.table = match.column = None
            match.confidence = 0.0
    return matches


#: Tables sharing a key column with the one the key was matched in (a flat extraction repeats it).
SHARED = {"participant_raw": ("participants", "work_contracts", "outcomes"),
          "operation_code": ("operations", "work_contracts")}


def draft(matches: list[Match], files: list[str], flat: bool) -> dict:
    """A draft mapping from the matches (a flat extraction unless several tables were given)."""
    tables: dict[str, dict[str, str]] = {t: {} for t in tracking.TABLES}
    for m in matches:
        if m.column is None:
            continue
        for table in SHARED.get(m.column, (m.table,)) if flat else (m.table,):
            tables[table][m.header] = m.column
    personal = {c: tracking.PERSONAL[c] for t in tables.values() for c in t.values()
                if c in tracking.PERSONAL}
    mapping = {"extends": "extraction_plate" if flat else "clause",
               "software": "à compléter (brouillon écrit par observatoire mapping suggest)",
               "layout": "flat" if flat else "tables",
               "files": {"flat": sorted({_generalise(Path(f).name) for f in files}),
                         "sheets": "*"} if flat
               else load_mapping("clause")["files"],
               "tables": {t: c for t, c in tables.items() if c},
               "personal": personal}
    outside = {m.column: [v for v, _ in m.outside] for m in matches if m.column and m.outside}
    if outside:
        mapping["a_completer"] = {"valeurs_hors_vocabulaire": outside}
    return mapping


def _generalise(name: str) -> str:
    """A file name as a pattern: a département code before the extension (``export_93.csv``)
    becomes ``{coordination}``, so that the mapping serves every coordination."""
    return re.sub(r"([_-])(2[AB]|\d{2,3})(\.\w+)$", r"\1{coordination}\3", name)


@dataclass
class Suggestion:
    """What ``suggest`` found: the draft mapping, the matches and the report lines."""

    mapping: dict
    matches: list[Match]
    lines: list[str]
    refused: list[str]


def _located_tables(paths: list[Path]) -> list[tuple[str, pd.DataFrame, list[str]]]:
    out = []
    for path in paths:
        if path.suffix.lower() == ".csv":
            raws = [RawTable(str(path), read_csv_cells(path).cells)]
        elif path.suffix.lower() == ".xlsx":
            raws = [RawTable(f"{path}#{name}", cells) for name, cells in read_xlsx_cells(path).items()
                    if not cells.dropna(how="all").empty]
        else:
            raise SourceFileError(path, "format non reconnu (CSV ou XLSX attendu)")
        for raw in raws:
            located = locate_table(raw)
            out.append((raw.name, located.frame, located.notes))
    return out


def suggest(paths: list[Path], communes: set[str]) -> Suggestion:
    """Draft a mapping for the export in ``paths`` (one flat file, or a workbook whose sheets
    share a header).

    Returns
    -------
    Suggestion
        The draft mapping (never carrying a personal-looking column into a kept one), the match
        of each header and a French report.
    """
    tables = _located_tables(paths)
    frame = pd.concat([f for _, f, _ in tables], ignore_index=True)
    matches = propose(frame, communes)
    lines = []
    for name, part, notes in tables:
        lines.append(f"{name} : {len(part)} ligne(s) de données, {len(part.columns)} colonne(s)")
        lines += [f"  {n}" for n in notes]
    lines.append("Correspondances proposées :")
    for m in matches:
        if m.column:
            lines.append(f"  « {m.header} » → {m.table}.{m.column} (confiance {m.confidence:.2f}, "
                         f"{m.how})" + (f" — {m.personal}" if m.personal else ""))
    unmatched = [m for m in matches if not m.column]
    lines.append("En-têtes non reconnus (ignorés à la lecture) : "
                 + (", ".join(f"« {m.header} »" + (f" ({m.how})" if m.how else "")
                              + (f" — {m.personal}, jamais gardé" if m.personal else "")
                              for m in unmatched) or "aucun"))
    for m in matches:
        if m.outside:
            lines.append(f"Valeurs hors vocabulaire pour « {m.header} » ({m.column}) : "
                         + ", ".join(f"« {v} » ({n})" for v, n in m.outside)
                         + " — à ajouter au vocabulaire de la correspondance")
    refused = [m.header for m in matches if m.personal and m.column not in tracking.PERSONAL]
    personal = [m for m in matches if m.personal]
    if personal:
        lines.append("Données personnelles repérées (supprimées ou transformées à la lecture, "
                     "jamais écrites dans data/processed) : "
                     + ", ".join(f"« {m.header} » ({m.personal})" for m in personal))
    mapping = draft(matches, [str(p) for p in paths], flat=True)
    # The draft never keeps a personal look-alike (checked as the reader will; the required
    # columns left without a header are listed below, for the user to complete).
    tracking.check_mapping(json.loads(json.dumps({**load_mapping("extraction_plate"),
                                                  **{k: v for k, v in mapping.items()
                                                     if k != "extends"}, "required": {}})),
                           "brouillon")
    required = load_mapping("extraction_plate")["required"]
    missing = [f"{t}.{c}" for t, cs in required.items() for c in cs
               if c not in mapping["tables"].get(t, {}).values()]
    if missing:
        lines.append("Colonnes obligatoires sans correspondance (à compléter à la main) : "
                     + ", ".join(missing))
    return Suggestion(mapping, matches, lines, refused)


@dataclass
class CheckReport:
    lines: list[str]
    accounting: list[dict]
    quarantine: Quarantine


def check(paths: list[Path], mapping_path: Path, communes: set[str],
          coordination: str | None = None) -> CheckReport:
    """Read ``paths`` with the mapping as a build would, and report; nothing is written.

    Raises
    ------
    SourceFileError
        When the mapping or a file is refused (the message names it and the rule).
    """
    mapping = load_mapping(mapping_path)
    mapping["name"] = str(mapping_path)
    mapping = tracking.check_mapping(mapping, str(mapping_path))
    paths = [p.resolve() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in paths]))
    # Names as a build gives them (tracking/93/…) when the files sit in an input folder.
    above = [parent for parent in [root, *root.parents] if parent.name == "tracking"]
    root = above[0].parent if above else (root.parent if root.parent != root else root)
    exports = []
    for folder in sorted({p.parent for p in paths}):
        found = tracking.find_exports(folder, root, mapping)
        exports += [e for e in found if set(e.files) <= set(paths)]
    if coordination:
        for export in exports:
            export.coordination = coordination
    if not exports:
        raise SourceFileError(", ".join(map(str, paths)),
                              "aucun export reconnu par la correspondance ; attendu — "
                              + tracking.expectations(mapping), limit=tracking.LONG)
    key = os.urandom(32)  # pseudonyms are not shown: a throwaway key
    lines, accounting, quarantine = [], [], Quarantine()
    for export in exports:
        result = tracking._read_one(export, root, key, communes, None)
        lines.append(f"Coordination {export.coordination} — "
                     + ", ".join(str(f.relative_to(root)) for f in export.files))
        lines += [f"  {n}" for n in export.notes]
        for row in result.accounting:
            lines.append(f"  {row['file']} : {row['read']} lue(s) = {row['kept']} gardée(s) + "
                         f"{row['rejected']} en quarantaine + {row['merged']} fusionnée(s)")
        rejects = result.quarantine.rejects_frame()
        warnings = result.quarantine.warnings_frame()
        for label, items in (("quarantaine", rejects), ("signalements (lignes gardées)", warnings)):
            if items.empty:
                continue
            lines.append(f"  {label} :")
            for (file, rule), group in items.groupby(["file", "rule"], sort=True):
                first = group.iloc[0]
                lines.append(f"    {len(group)} × {rule} — {file}, {first['record']} : "
                             f"{first['message']}")
        mapped = {tracking.normalise_header(h) for t in export.mapping["tables"].values() for h in t}
        ignored = sorted({str(c) for _, frame, _ in _located_tables(export.files)
                          for c in frame.columns if tracking.normalise_header(c) not in mapped})
        if ignored:
            lines.append("  colonnes ignorées (sans correspondance, jamais lues) : "
                         + ", ".join(f"« {c} »" for c in ignored))
        personal = sorted({(h, c) for t in export.mapping["tables"].values() for h, c in t.items()
                           if c in tracking.PERSONAL})
        lines.append("  colonnes personnelles : " + ", ".join(
            f"« {h} » ({tracking.PERSONAL[c]})" for h, c in personal) + " — rien de ces colonnes "
            "n'atteint data/processed")
        accounting += result.accounting
        quarantine.extend(result.quarantine)
    lines.append("Aucun entrepôt écrit (essai à blanc).")
    return CheckReport(lines, accounting, quarantine)
