"""What every reader returns: kept rows, quarantined rows with their reason, and the row accounting.

The rule the whole warehouse keeps: for every source file, ``read = kept + rejected + merged``
(``merged``: duplicates folded into another row, such as a republished contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Columns of the quarantine table (``data/processed/rejects/``).
REJECT_COLUMNS = ["source", "file", "record", "rule", "message"]
#: Columns of the row-accounting table.
ACCOUNTING_COLUMNS = ["source", "file", "read", "kept", "rejected", "merged"]
#: Besides the counts: the clause-tracking coordination whose export a file is (tracking only), so
#: that a département's report names its own files wherever they sit in the input folder.
ACCOUNTING_EXTRA = ["coordination"]


#: Longest message kept in the quarantine: a cell of megabytes is not echoed whole.
MAX_MESSAGE = 500


def shorten(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message``, cut to ``limit`` characters with the length it had."""
    message = str(message)
    if len(message) <= limit:
        return message
    return f"{message[:limit]}… (message tronqué, {len(message)} caractères)"


class SourceFileError(Exception):
    """A whole file cannot be read (not the expected format, wrong encoding, missing columns).

    The message names the file and the problem; the build stops and the previous warehouse stays.
    """

    def __init__(self, path: Path | str, problem: str, limit: int = MAX_MESSAGE):
        self.path = str(path)
        self.problem = problem = shorten(problem, limit)
        super().__init__(f"{self.path}: {problem}")


@dataclass
class Reject:
    """One quarantined record: where it was and which rule it broke."""

    source: str
    file: str
    record: str
    rule: str
    message: str


@dataclass
class Quarantine:
    """Collects rejected records and warnings (kept records with a reported anomaly)."""

    rejects: list[Reject] = field(default_factory=list)
    warnings: list[Reject] = field(default_factory=list)

    def reject(self, source: str, file: str, record: object, rule: str, message: str) -> None:
        """Quarantine a record: it will not reach the warehouse."""
        self.rejects.append(Reject(source, file, str(record), rule, shorten(message)))

    def warn(self, source: str, file: str, record: object, rule: str, message: str) -> None:
        """Keep a record but report an anomaly in it."""
        self.warnings.append(Reject(source, file, str(record), rule, shorten(message)))

    def extend(self, other: "Quarantine") -> None:
        self.rejects.extend(other.rejects)
        self.warnings.extend(other.warnings)

    @staticmethod
    def _frame(items: list[Reject]) -> pd.DataFrame:
        if not items:
            return pd.DataFrame({c: pd.Series(dtype="string") for c in REJECT_COLUMNS})
        return pd.DataFrame([vars(r) for r in items], columns=REJECT_COLUMNS).astype("string")

    def rejects_frame(self) -> pd.DataFrame:
        return self._frame(self.rejects)

    def warnings_frame(self) -> pd.DataFrame:
        return self._frame(self.warnings)


def accounting_frame(rows: list[dict]) -> pd.DataFrame:
    """Row accounting as a table, checking that every file reconciles."""
    frame = pd.DataFrame(rows, columns=ACCOUNTING_COLUMNS + ACCOUNTING_EXTRA)
    for col in ("read", "kept", "rejected", "merged"):
        frame[col] = frame[col].astype("int64")
    frame["coordination"] = frame["coordination"].astype("string")
    broken = frame[frame["read"] != frame["kept"] + frame["rejected"] + frame["merged"]]
    if not broken.empty:
        raise AssertionError(
            "comptage incohérent (lus ≠ gardés + rejetés + fusionnés) : "
            + ", ".join(broken["file"].astype(str))
        )
    return frame
