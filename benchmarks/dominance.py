"""What the dominance rule hides in the annual report and the départements' sheets, and whether
ACRO agrees (``python -m benchmarks.dominance [period]``, on the warehouse in force).

Runs, in this process, the parts of the two reports that publish hours or amounts — the région's
annual report (``10_rapport_annuel_regional``: hours chart and table by modality, realisation,
Grand Paris, départements compared) and each département's sheet (``11_fiche_departementale``:
hours by modality, Grand Paris) — and prints, per table, the magnitude cells the rule finds
dominated and the cells it hides beyond what the people rule hid, then ACRO's per-cell verdict
against ``disclosure``'s. Contributions stay in memory; nothing is written but ACRO's log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import warnings

import pandas as pd

#: The hours parts of each report (as the notebooks call them).
ANNUAL = ("yearly_chart", "by_modality", "realisation", "grand_paris")
SHEET = ("yearly_chart", "by_modality", "grand_paris")
CELL_CHECKS = ("MinimumThresholdCheck", "NKCheck", "PPercentCheck")


def main(period: str = "2025") -> dict:
    warnings.filterwarnings("ignore")
    import acro

    from analysis import config, disclosure
    from analysis.publish import open_report
    from analysis.scope import Scope
    from analysis.sections import hours, territories

    logging.getLogger("acro").setLevel(logging.ERROR)
    os.chdir(tempfile.mkdtemp(prefix="dominance-"))
    rule = disclosure.dominance_rule()
    session = acro.ACRO(suppress=False)
    session.config.update(safe_threshold=rule.min_contributors, safe_nk_n=rule.n,
                          safe_nk_k=rule.k, safe_pratio_p=rule.p, zeros_are_disclosive=False,
                          check_missing_values=False)
    totals = {"reports": 0, "tables": 0, "magnitude_cells": 0, "dominated": 0,
              "dominated_not_hidden_by_people": 0, "magnitude_cells_hidden": 0,
              "cells_hidden_by_the_rule_incl_derived": 0, "acro_cells": 0, "acro_agree": 0}
    lines = []
    for code in config.TERRITORIES:
        region = code == config.REGION_CODE
        report = open_report("mesure", code, period, 0.30, None, None)
        scope = Scope(code, period)
        for part in ANNUAL if region else SHEET:
            getattr(hours, part)(scope, report)
        if region:
            territories.departements(scope, report)
        totals["reports"] += 1
        for name, inputs in report.magnitude_inputs.items():
            dominated, mask, people = inputs["dominated"], inputs["mask"], inputs["people_mask"]
            columns = list(dominated.columns)
            added = mask & ~people
            totals["tables"] += 1
            totals["magnitude_cells"] += dominated.size
            totals["dominated"] += int(dominated.to_numpy().sum())
            totals["dominated_not_hidden_by_people"] += int(
                (dominated & ~people[columns]).to_numpy().sum())
            totals["magnitude_cells_hidden"] += int(mask[columns].to_numpy().sum())
            totals["cells_hidden_by_the_rule_incl_derived"] += int(added.to_numpy().sum())
            for column, contrib in inputs["magnitudes"].items():
                if contrib.empty:
                    continue
                rows = contrib["row"].astype(str).rename("row").reset_index(drop=True)
                session.crosstab(rows, pd.Series("v", index=rows.index, name="col"),
                                 values=contrib["value"].reset_index(drop=True).astype(float),
                                 aggfunc="sum")
                outcome = list(session.results.results.values())[-1].outcome["v"]
                for row, text in outcome.items():
                    label = next(r for r in dominated.index if str(r) == row)
                    fails = any(check in str(text) for check in CELL_CHECKS)
                    totals["acro_cells"] += 1
                    totals["acro_agree"] += fails == bool(dominated.at[label, column])
            if added.to_numpy().any():
                lines.append(f"{code} {name}: {int(dominated.to_numpy().sum())} dominées, "
                             f"{int(added.to_numpy().sum())} cases masquées en plus")
    print("\n".join(lines))
    print(json.dumps(totals, ensure_ascii=False))
    return totals


if __name__ == "__main__":
    main(*sys.argv[1:2])
