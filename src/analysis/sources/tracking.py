"""Clause-tracking exports (one folder per departmental coordination) → operations, participants,
work contracts and outcomes.

The export's headers are mapped onto canonical columns by a mapping file (``mappings/clause.json``),
so another software's export needs a mapping, not code. Personal data stop here: participant ids
become a keyed hash (see :mod:`analysis.privacy`), names and birth dates are dropped, ages become
bands. Every row is kept, merged (exact duplicate) or quarantined with its rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from ..privacy import pseudonymise
from .base import Quarantine, SourceFileError
from .tabular import (CheckedTable, Sheet, canonical, load_mapping, parse_dates, parse_decimals,
                      read_csv, read_xlsx, text, yes_no)

SOURCE = "tracking"
TABLES = ("operations", "participants", "work_contracts", "outcomes")
OPTIONAL_TABLES = {"outcomes"}
AGE_BANDS = [(0, 26, "moins_de_26"), (26, 50, "26_49"), (50, 200, "50_et_plus")]


@dataclass
class TrackingResult:
    """Canonical tables of one or more coordinations, their quarantine and accounting."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: Quarantine = field(default_factory=Quarantine)
    accounting: list[dict] = field(default_factory=list)


def _vocabulary(table: CheckedTable, column: str, vocabulary: dict[str, str], label: str,
                unknown_value: str | None = None) -> None:
    raw = text(table.frame[column])
    folded = {k.casefold(): v for k, v in vocabulary.items()}
    mapped = raw.str.casefold().map(folded)
    unknown = raw.notna() & mapped.isna()
    table.warn(unknown, f"{label} : valeur inconnue",
               lambda r: f"« {r[column]} » n'est pas une valeur reconnue de {label}")
    mapped = mapped[table.frame.index]
    table.frame[column] = mapped.where(~unknown[table.frame.index], unknown_value).astype("string")


def _pseudo(raw_id, coordination: str, key: bytes) -> str:
    """The pseudonym of one raw id, for messages: a raw id never leaves ingestion, not even in
    the quarantine."""
    return str(pseudonymise(pd.Series([raw_id], dtype="string"), coordination, key).iloc[0])


def read_sheets(folder: Path, raw_root: Path, mapping: dict) -> dict[str, Sheet]:
    """The export's tables from a coordination folder: CSV files, or one workbook's sheets."""
    relative = lambda p: str(p.relative_to(raw_root)) if p.is_relative_to(raw_root) else str(p)  # noqa: E731
    csv_names = mapping["files"]["csv"]
    sheets: dict[str, Sheet] = {}
    workbooks = sorted(folder.glob("*.xlsx"))
    if any((folder / name).is_file() for name in csv_names.values()):
        for table, name in csv_names.items():
            path = folder / name
            if not path.is_file():
                if table in OPTIONAL_TABLES:
                    continue
                raise SourceFileError(path, f"fichier absent de l'export ({table})")
            frame, _ = read_csv(path)
            where = relative(path)
            sheets[table] = Sheet(where, canonical(frame, mapping["tables"][table],
                                                   mapping["required"][table], where),
                                  pd.Series(range(2, len(frame) + 2)))
    elif workbooks:
        if len(workbooks) > 1:
            raise SourceFileError(folder, "plusieurs classeurs XLSX : un seul export attendu")
        book = read_xlsx(workbooks[0])
        for table, sheet_name in mapping["files"]["xlsx_sheets"].items():
            where = f"{relative(workbooks[0])}#{sheet_name}"
            if sheet_name not in book:
                if table in OPTIONAL_TABLES:
                    continue
                raise SourceFileError(where, f"feuille « {sheet_name} » absente du classeur")
            frame = book[sheet_name]
            sheets[table] = Sheet(where, canonical(frame, mapping["tables"][table],
                                                   mapping["required"][table], where),
                                  pd.Series(range(2, len(frame) + 2)))
    else:
        raise SourceFileError(folder, "aucun export reconnu (CSV ou XLSX)")
    return sheets


def _participants(table: CheckedTable, coordination: str, key: bytes, communes: set[str],
                  vocab: dict, today: date | None = None) -> pd.DataFrame:
    f = table.frame
    f["participant_raw"] = text(f["participant_raw"])
    table.reject(f["participant_raw"].isna(), "identifiant participant obligatoire",
                 lambda r: "ligne sans identifiant de participant")
    table.unique_key("participant_raw", "identifiant participant en double",
                     lambda r: "le même identifiant figure sur une autre ligne, avec d'autres valeurs")
    for column, label in (("sexe", "sexe"), ("diplome", "niveau de diplôme"), ("public", "public"),
                          ("prescripteur", "prescripteur")):
        _vocabulary(table, column, vocab[column], label,
                    unknown_value="inconnu" if column == "diplome" else None)
    f = table.frame
    commune = text(f["commune_residence"])
    bad_commune = commune.notna() & ~commune.isin(communes)
    table.warn(bad_commune, "commune de résidence inconnue",
               lambda r: f"code INSEE « {r['commune_residence']} » absent de la géographie de référence")
    f["commune_residence"] = commune.mask(bad_commune).astype("string")
    for column in ("qpv", "formation_qualifiante"):
        values, bad = yes_no(f[column])
        table.warn(bad, f"{column} illisible", lambda r, c=column: f"« {r[c]} » n'est ni Oui ni Non")
        f[column] = values
    born, bad_born = parse_dates(f["date_naissance"])
    entered, bad_entered = parse_dates(f["date_entree"])
    table.warn(bad_born, "date de naissance illisible", lambda r: "date de naissance illisible")
    table.warn(bad_entered, "date d'entrée illisible", lambda r: f"« {r['date_entree']} » illisible")
    table.plausible_dates(entered, "date_entree", today)
    age = (entered - born).dt.days / 365.25
    band = pd.Series(pd.NA, index=f.index, dtype="string")
    for low, high, label in AGE_BANDS:
        band[(age >= low) & (age < high)] = label
    implausible = age.notna() & ((age < 14) | (age > 80))
    table.warn(implausible, "âge improbable", lambda r: "âge à l'entrée hors de 14-80 ans")
    band[implausible] = pd.NA
    out = pd.DataFrame({
        "participant_id": pseudonymise(f["participant_raw"], coordination, key),
        "coordination": coordination,
        "sexe": f["sexe"].astype("string"),
        "tranche_age": band,
        "diplome": f["diplome"].astype("string"),
        "commune_residence": f["commune_residence"].astype("string"),
        "qpv": f["qpv"],
        "public": f["public"].astype("string"),
        "prescripteur": f["prescripteur"].astype("string"),
        "formation_qualifiante": f["formation_qualifiante"],
        "date_entree": entered.astype("datetime64[ms]"),
    })
    return out


def _operations(table: CheckedTable, coordination: str, communes: set[str], vocab: dict,
                today: date | None = None) -> pd.DataFrame:
    f = table.frame
    f["operation_code"] = text(f["operation_code"])
    table.reject(f["operation_code"].isna(), "code opération obligatoire",
                 lambda r: "ligne sans code d'opération")
    table.unique_key("operation_code", "code opération en double",
                     lambda r: f"l'opération {r['operation_code']} figure sur une autre ligne")
    _vocabulary(table, "modalite", vocab["modalite"], "modalité")
    _vocabulary(table, "secteur", vocab["secteur"], "secteur")
    f = table.frame
    start, bad_start = parse_dates(f["date_debut"])
    end, bad_end = parse_dates(f["date_fin"])
    table.warn(bad_start | bad_end, "date d'opération illisible", lambda r: "date illisible")
    table.plausible_dates(start, "date_debut", today, years_after=10)
    table.plausible_dates(end, "date_fin", today, years_after=10)
    planned, bad_planned = parse_decimals(f["heures_prevues"])
    done, bad_done = parse_decimals(f["heures_realisees"])
    table.warn(bad_planned | bad_done | (planned < 0) | (done < 0), "heures d'opération invalides",
               lambda r: f"heures prévues « {r['heures_prevues']} », réalisées « {r['heures_realisees']} »")
    place = text(f["commune"])
    table.warn(place.notna() & ~place.isin(communes), "commune de l'opération inconnue",
               lambda r: f"code INSEE « {r['commune']} » absent de la géographie de référence")
    grand, _ = yes_no(f["grand_projet"])
    table.valid_siret("maitre_ouvrage_siret",
                      lambda r: f"« {r['maitre_ouvrage_siret']} » n'est pas un SIRET valide",
                      rule="maître d'ouvrage : SIRET invalide", warn_only=True)
    siret = f["maitre_ouvrage_siret"]
    return pd.DataFrame({
        "operation_id": coordination + "-" + f["operation_code"].astype("string"),
        "coordination": coordination,
        "libelle": text(f["libelle"]),
        "maitre_ouvrage": text(f["maitre_ouvrage"]),
        "maitre_ouvrage_siret": siret,
        "decp_uid": text(f["decp_uid"]),
        "modalite": f["modalite"],
        "secteur": f["secteur"],
        "grand_projet": grand,
        "departement": text(f["departement"]).fillna(coordination),
        "commune": text(f["commune"]),
        "date_debut": start.astype("datetime64[ms]"),
        "date_fin": end.astype("datetime64[ms]"),
        "heures_prevues": planned.where(planned >= 0),
        "heures_realisees": done.where(done >= 0),
    })


def _work_contracts(table: CheckedTable, coordination: str, key: bytes, known_participants: set,
                    known_operations: set, vocab: dict, today: date | None = None) -> pd.DataFrame:
    f = table.frame
    f["participant_raw"] = text(f["participant_raw"])
    f["operation_code"] = text(f["operation_code"])
    table.reject(~f["participant_raw"].isin(known_participants), "participant inconnu",
                 lambda r: f"le participant {_pseudo(r['participant_raw'], coordination, key)} "
                           "(pseudonyme) n'est pas dans la table des participants")
    f = table.frame
    table.reject(~f["operation_code"].isin(known_operations), "opération inconnue",
                 lambda r: f"l'opération {r['operation_code']} n'est pas dans la table des opérations")
    f = table.frame
    start, bad_start = parse_dates(f["date_debut"])
    end, bad_end = parse_dates(f["date_fin"])
    table.reject(start.isna() | end.isna(), "dates de contrat illisibles",
                 lambda r: f"début « {r['date_debut']} », fin « {r['date_fin']} »")
    f = table.frame
    start, end = start[f.index], end[f.index]
    table.reject(end < start, "fin de contrat avant le début",
                 lambda r: f"du {r['date_debut']} au {r['date_fin']}")
    f = table.frame
    hours, bad_hours = parse_decimals(f["heures"])
    table.reject(bad_hours | hours.isna() | (hours < 0), "heures réalisées invalides",
                 lambda r: f"heures « {r['heures']} » : un nombre positif ou nul est attendu")
    for column, label in (("type_employeur", "type d'employeur"), ("type_contrat", "type de contrat")):
        _vocabulary(table, column, vocab[column], label)
    f = table.frame
    start, end = start[f.index], end[f.index]
    table.plausible_dates(start, "date_debut", today, years_after=10)
    table.plausible_dates(end, "date_fin", today, years_after=10)
    hours = parse_decimals(f["heures"])[0]
    return pd.DataFrame({
        "participant_id": pseudonymise(f["participant_raw"], coordination, key),
        "operation_id": coordination + "-" + f["operation_code"].astype("string"),
        "coordination": coordination,
        "employeur": text(f["employeur"]),
        "employeur_siret": text(f["employeur_siret"]),
        "type_employeur": f["type_employeur"],
        "type_contrat": f["type_contrat"],
        "date_debut": start.astype("datetime64[ms]"),
        "date_fin": end.astype("datetime64[ms]"),
        "heures": hours.astype("Float64"),
        "code_rome": text(f["code_rome"]),
        "poste": text(f["poste"]),
    })


def _outcomes(table: CheckedTable, coordination: str, key: bytes, known_participants: set,
              vocab: dict) -> pd.DataFrame:
    f = table.frame
    f["participant_raw"] = text(f["participant_raw"])
    table.reject(~f["participant_raw"].isin(known_participants), "participant inconnu",
                 lambda r: f"le participant {_pseudo(r['participant_raw'], coordination, key)} "
                           "(pseudonyme) n'est pas dans la table des participants")
    table.unique_key("participant_raw", "sortie en double",
                     lambda r: "deux situations à 6 mois pour le participant "
                               f"{_pseudo(r['participant_raw'], coordination, key)} (pseudonyme)")
    _vocabulary(table, "situation_6_mois", vocab["situation_6_mois"], "situation à 6 mois",
                unknown_value="inconnue")
    f = table.frame
    ended, _ = parse_dates(f["date_fin_dernier_contrat"])
    first_durable, _ = parse_dates(f["date_premier_emploi_durable"])
    exported, _ = parse_dates(f["date_export"])
    return pd.DataFrame({
        "participant_id": pseudonymise(f["participant_raw"], coordination, key),
        "coordination": coordination,
        "date_fin_dernier_contrat": ended.astype("datetime64[ms]"),
        "situation_6_mois": f["situation_6_mois"],
        "date_premier_emploi_durable": first_durable.astype("datetime64[ms]"),
        "date_export": exported.astype("datetime64[ms]"),
    })


def read_coordination(folder: Path, raw_root: Path, key: bytes, communes: set[str],
                      mapping: dict | None = None, today: date | None = None) -> TrackingResult:
    """Read one coordination's export folder (``tracking/<dep>/``).

    Raises
    ------
    SourceFileError
        When a file or sheet is missing or unreadable, or a required column is absent.
    """
    mapping = mapping or load_mapping("clause")
    vocab = mapping["vocabularies"]
    coordination = folder.name
    sheets = read_sheets(folder, raw_root, mapping)
    result = TrackingResult()
    q = result.quarantine
    parts = CheckedTable(sheets["participants"], q, SOURCE)
    participants = _participants(parts, coordination, key, communes, vocab, today)
    ops = CheckedTable(sheets["operations"], q, SOURCE)
    operations = _operations(ops, coordination, communes, vocab, today)
    contracts_t = CheckedTable(sheets["work_contracts"], q, SOURCE)
    contracts = _work_contracts(contracts_t, coordination, key, set(parts.frame["participant_raw"]),
                                set(ops.frame["operation_code"]), vocab, today)
    # An operation's realised hours should equal the sum of its work contracts' hours.
    totals = contracts.groupby("operation_id")["heures"].sum()
    recorded = operations.set_index("operation_id")["heures_realisees"]
    summed = totals.reindex(recorded.index).fillna(0)
    gap = (recorded - summed).abs()
    inconsistent = (gap > 1) & (gap > 0.01 * summed.abs())
    inconsistent = inconsistent.fillna(False).to_numpy()
    ops_view = ops.frame.assign(_sum=summed.to_numpy())
    for _, row in ops_view[inconsistent].iterrows():
        q.warn(SOURCE, ops.sheet.name, f"ligne {row['_line']}", "heures réalisées incohérentes",
               f"opération {row['operation_code']} : {row['heures_realisees']} h déclarées, "
               f"{row['_sum']:.1f} h dans ses contrats de travail")
    tables = {"participants": participants, "operations": operations, "work_contracts": contracts}
    checked = [parts, ops, contracts_t]
    if "outcomes" in sheets:
        outs = CheckedTable(sheets["outcomes"], q, SOURCE)
        tables["outcomes"] = _outcomes(outs, coordination, key, set(parts.frame["participant_raw"]), vocab)
        checked.append(outs)
    result.tables = tables
    result.accounting = [t.accounting() for t in checked]
    return result


def read_all(folders: list[Path], raw_root: Path, key: bytes, communes: set[str],
             mapping: dict | None = None, today: date | None = None) -> TrackingResult:
    """Read every coordination and concatenate their tables."""
    combined = TrackingResult()
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for folder in folders:
        one = read_coordination(folder, raw_root, key, communes, mapping, today)
        for name, frame in one.tables.items():
            parts[name].append(frame)
        combined.quarantine.extend(one.quarantine)
        combined.accounting.extend(one.accounting)
    combined.tables = {name: pd.concat(frames, ignore_index=True)
                       for name, frames in parts.items() if frames}
    return combined
