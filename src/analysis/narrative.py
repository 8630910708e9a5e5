"""French sentences for reports, computed from indicator tables (never typed by hand)."""

from __future__ import annotations

import pandas as pd

from . import config
from .plots import percent_fr
from .present import datetime_fr, number_fr


def points_fr(gap: float) -> str:
    """A gap between two shares in percentage points: ``-0.043`` → ``4,3 points``."""
    return f"{abs(gap) * 100:.1f} points".replace(".", ",")


def progression_summary(table: pd.DataFrame, territory_label: str, target: float) -> str:
    """Key figures of the clause progression, in Markdown.

    Parameters
    ----------
    table
        Output of :func:`analysis.indicators.progression.share_by_year`.
    territory_label
        Territory name.
    target
        The target compared with (a share).
    """
    rated = table.dropna(subset=["part"])
    if rated.empty:
        return (f"Aucun marché au statut social connu pour {territory_label} sur la période : "
                "aucune part ne peut être calculée.")
    last = rated.iloc[-1]
    first = rated.iloc[0]
    year = int(last["annee"])
    lines = [
        f"- **{percent_fr(last['part'])}** des marchés notifiés en {year} ({territory_label}) "
        f"comportent au moins une considération sociale "
        f"(IC 95 % : {percent_fr(last['ic_bas'])} – {percent_fr(last['ic_haut'])} ; "
        f"{number_fr(last['avec_consideration'])} marchés sur {number_fr(last['contrats'])}).",
    ]
    gap = last["part"] - target
    if last["ic_bas"] > target:
        position = f"au-dessus de l'objectif de {percent_fr(target, 0)} ({points_fr(gap)} de plus)"
    elif last["ic_haut"] < target:
        position = f"en dessous de l'objectif de {percent_fr(target, 0)} ({points_fr(gap)} de moins)"
    else:
        position = (f"compatible avec l'objectif de {percent_fr(target, 0)} : l'intervalle de "
                    "confiance le contient")
    lines.append(f"- En {year}, cette part est {position}.")
    if int(first["annee"]) != year:
        delta = last["part"] - first["part"]
        sense = "hausse" if delta > 0 else "baisse" if delta < 0 else "stabilité"
        lines.append(
            f"- Depuis {int(first['annee'])} ({percent_fr(first['part'])}) : {sense} de "
            f"{points_fr(delta)}.")
    published = [y for y in config.NATIONAL_SHARE if y <= year]
    if published:
        ref_year = max(published)
        value, source = config.NATIONAL_SHARE[ref_year]
        lead = (f"Pour comparaison, France entière en {year}" if ref_year == year
                else f"Dernier chiffre national publié ({ref_year})")
        lines.append(f"- {lead} : {percent_fr(value)} (recensement OECP, source : {source}).")
    unknown = int(table["statut_inconnu"].sum())
    if unknown:
        lines.append(
            "- 1 marché au statut social inconnu est exclu du calcul." if unknown == 1 else
            f"- {number_fr(unknown)} marchés au statut social inconnu sont exclus du calcul.")
    return "\n".join(lines)


def provenance_summary(manifest: dict, accounting: pd.DataFrame) -> str:
    """Where the figures come from: build date, input files, row accounting (Markdown)."""
    totals = accounting[["read", "kept", "rejected", "merged"]].sum()
    by_source = ", ".join(
        f"{source} : {number_fr(n)} fichier(s)"
        for source, n in accounting.groupby("source").size().items())
    return "\n".join([
        f"- Entrepôt construit le {datetime_fr(manifest.get('built_at', '?'))} ; "
        f"fichiers sources — {by_source}.",
        f"- Enregistrements lus : {number_fr(totals['read'])} = {number_fr(totals['kept'])} gardés "
        f"+ {number_fr(totals['rejected'])} rejetés (mis en quarantaine avec leur motif) "
        f"+ {number_fr(totals['merged'])} doublons fusionnés (republications).",
        f"- Anomalies signalées sur des enregistrements gardés : "
        f"{number_fr(manifest.get('warnings', 0))}.",
    ])
