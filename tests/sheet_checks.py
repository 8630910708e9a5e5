"""Checks shared by the tests of the families of sheets (buyers, owners, EPT and EPCI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.publish import read_published_table


def people_cells(folder: Path, record: dict, key: str, k: int) -> tuple[int, int]:
    """Read back every people table of one sheet (its record, its key) from its CSV: no count of
    1 to ``k`` − 1 is published. Returns ``(people tables, hidden cells)``."""
    tables = hidden = 0
    for table in record["tables"]:
        if not table["people"]:
            continue
        tables += 1
        frame = read_published_table(Path(folder) / f"{record['slug']}_tableaux"
                                     / f"{table['name']}.csv", table["people"])
        values = frame[table["people"]].to_numpy(dtype=float)
        shown = values[~np.isnan(values)]
        assert ((shown == 0) | (shown >= k)).all(), (key, table["name"])
        hidden += int(np.isnan(values).sum())
    return tables, hidden
