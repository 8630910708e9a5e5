"""Calibration report: each published figure the generator targets, its source, and what the
generated data give once read by the project's own readers (``docs/calibration.md``).

Written by ``observatoire calibrate``, never by hand: the figures come from a warehouse built from
the generated files, so the report also checks that the readers see what the generator meant.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from .. import config
from ..io import write_text


@dataclass(frozen=True)
class Target:
    indicator: str
    year: int | None
    value: float
    tolerance: float
    unit: str   # "share" | "count" | "months"
    source: str


#: Published figures the default data set is calibrated on (``shared/domain.md``).
TARGETS: tuple[Target, ...] = (
    Target("Part des marchés avec considération sociale", 2019, 0.125, 0.01, "share", "weka.fr (OECP)"),
    Target("Part des marchés avec considération sociale", 2020, 0.121, 0.01, "share", "EGF BTP (OECP)"),
    Target("Part des marchés avec considération sociale", 2021, 0.125, 0.01, "share", "EGF BTP (OECP)"),
    Target("Part des marchés avec considération sociale", 2022, 0.223, 0.01, "share", "Le Moniteur (OECP)"),
    Target("Part des marchés avec considération sociale", 2023, 0.187, 0.01, "share", "Le Moniteur (OECP)"),
    Target("Heures d'insertion, Île-de-France", 2020, 4_830_000, 0.05, "count", "Banque des territoires"),
    Target("Heures d'insertion, Île-de-France", 2021, 6_300_000, 0.05, "count", "DRIEETS via ess2024.org"),
    Target("Bénéficiaires, Île-de-France", 2021, 12_364, 0.05, "count", "DRIEETS via ess2024.org"),
    Target("Part de femmes parmi les bénéficiaires", 2021, 0.151, 0.02, "share", "DRIEETS via ess2024.org"),
    Target("Durée moyenne d'un contrat d'insertion (mois)", 2021, 2.5, 0.3, "months", "DRIEETS via ess2024.org"),
    Target("Part de résidents QPV", 2021, 0.153, 0.02, "share", "grands projets 2021, Le Moniteur"),
    Target("Part de jeunes de moins de 26 ans peu qualifiés", 2021, 0.303, 0.03, "share", "grands projets 2021, Le Moniteur"),
    Target("Part des heures sur les grands projets", 2021, 0.25, 0.03, "share", "Banque des territoires"),
    Target("Part des heures sur les grands projets", 2022, 0.30, 0.03, "share", "republik-achats.fr"),
)


def measure(processed: Path) -> dict[tuple[str, int | None], float]:
    """The generated data's value of each target indicator, from a built warehouse."""
    from ..indicators.hours import yearly_summary
    from ..indicators.progression import share_by_year
    from ..warehouse import load_table

    values: dict[tuple[str, int | None], float] = {}
    try:
        contracts = load_table("contracts", processed)
    except FileNotFoundError:
        contracts = None
    if contracts is not None:
        shares = share_by_year(contracts, int(contracts["annee"].min()),
                               int(contracts["annee"].max())).set_index("annee")
        for year, row in shares.iterrows():
            values[("Part des marchés avec considération sociale", int(year))] = float(row["part"])
    try:
        summary = yearly_summary(load_table("work_contracts", processed),
                                 load_table("participants", processed),
                                 load_table("operations", processed)).set_index("annee")
    except FileNotFoundError:
        summary = None
    if summary is not None:
        columns = {
            "Heures d'insertion, Île-de-France": "heures",
            "Bénéficiaires, Île-de-France": "beneficiaires",
            "Part de femmes parmi les bénéficiaires": "part_femmes",
            "Durée moyenne d'un contrat d'insertion (mois)": "duree_moyenne_mois",
            "Part de résidents QPV": "part_qpv",
            "Part de jeunes de moins de 26 ans peu qualifiés": "part_jeunes_peu_qualifies",
            "Part des heures sur les grands projets": "part_heures_grands_projets",
        }
        for year, row in summary.iterrows():
            for label, column in columns.items():
                values[(label, int(year))] = float(row[column])
    return values


def calibration_table(processed: Path, scale: float = 1.0) -> pd.DataFrame:
    """Targets side by side with the generated values, and whether each is within tolerance.

    Counts are targeted in proportion to ``scale`` (1 is Île-de-France; for another région, the
    effective scale of its manifest, ``region.effective_scale``); shares do not depend on it.
    """
    measured = measure(processed)
    rows = []
    for target in TARGETS:
        value = measured.get((target.indicator, target.year))
        goal = target.value * scale if target.unit == "count" else target.value
        if target.unit == "count":
            within = value is not None and abs(value - goal) <= target.tolerance * goal
        else:
            within = value is not None and abs(value - target.value) <= target.tolerance
        rows.append({"indicateur": target.indicator, "annee": target.year, "cible": goal,
                     "tolerance": target.tolerance, "unite": target.unit, "source": target.source,
                     "genere": value, "dans_la_tolerance": within})
    return pd.DataFrame(rows)


def _fmt(value: float | None, unit: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    if unit == "share":
        return f"{value * 100:.1f} %"
    if unit == "months":
        return f"{value:.2f}"
    return f"{value:,.0f}".replace(",", " ")


def _tolerance(target_row) -> str:
    if target_row["unite"] == "count":
        return f"± {target_row['tolerance'] * 100:.0f} %"
    if target_row["unite"] == "share":
        return f"± {target_row['tolerance'] * 100:.0f} pts"
    return f"± {target_row['tolerance']}"


def report(raw: Path | None = None, target: Path | None = None) -> tuple[Path, pd.DataFrame]:
    """Build a throw-away warehouse from ``raw``, measure, and write ``docs/calibration.md``."""
    from ..warehouse import build

    cfg = config.paths()
    raw = Path(raw or cfg.synthetic)
    target = Path(target or cfg.docs / "calibration.md")
    if not (raw / "manifest.json").is_file():
        raise FileNotFoundError(f"{raw}: pas de manifest.json — ce n'est pas un jeu généré "
                                "(make data, ou observatoire generate --out DOSSIER)")
    manifest = json.loads((raw / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="calibration-") as tmp:
        summary = build(raw=raw, processed=Path(tmp), today=date(manifest["years"][1] + 1, 12, 31))
        region = manifest.get("region") or {}
        table = calibration_table(Path(tmp), scale=float(region.get("effective_scale",
                                                                       manifest["scale"])))
        accounting = summary.accounting.groupby("source")[["read", "kept", "rejected", "merged"]].sum()
    lines = [
        "# Calibration of the synthetic data set",
        "",
        "Written by `observatoire calibrate` (`make calibration`) from the generated files, read back",
        "by the project's readers; do not edit by hand.",
        "",
        f"- seed {manifest['seed']}, scale {manifest['scale']}, years {manifest['years'][0]}-"
        f"{manifest['years'][1]}, generator {manifest.get('generator_version', '?')}",
        *([f"- région {region['name']} ({region['code']}): counts targeted at Île-de-France's "
           f"x {region['effective_scale']:.4g} (population ratio x scale); Île-de-France's "
           "published shares used as national-like defaults"]
          if region.get("code", "11") != "11" else []),
        f"- targets within tolerance: {int(table['dans_la_tolerance'].sum())} / {len(table)}",
        "",
        "| indicateur | année | cible | tolérance | généré | dans la tolérance | source |",
        "|---|---|---|---|---|---|---|",
    ]
    def label(indicator: str) -> str:
        """The indicator's name, with the région's name for another région's data set."""
        if region.get("code", "11") == "11":
            return indicator
        return indicator.replace("Île-de-France", f"{region['name']} (Île-de-France x ratio)")

    for _, row in table.iterrows():
        lines.append(
            f"| {label(row['indicateur'])} | {row['annee']} | {_fmt(row['cible'], row['unite'])} | "
            f"{_tolerance(row)} | {_fmt(row['genere'], row['unite'])} | "
            f"{'oui' if row['dans_la_tolerance'] else '**non**'} | {row['source']} |")
    lines += ["", "## Row accounting when the generated files are read", "",
              "| source | lus | gardés | rejetés | doublons fusionnés |", "|---|---|---|---|---|"]
    for source, row in accounting.iterrows():
        lines.append(f"| {source} | {row['read']} | {row['kept']} | {row['rejected']} | {row['merged']} |")
    lines += ["", "Planted effects and defect rates: `manifest.json` beside the generated data "
              "(`data/raw/synthetic/manifest.json`).", ""]
    write_text(target, "\n".join(lines))
    return target, table
