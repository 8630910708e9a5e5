"""French sentences for reports, computed from indicator tables (never typed by hand)."""

from __future__ import annotations

import pandas as pd

from . import config
from .plots import percent_fr
from .present import datetime_fr, number_fr


def points_fr(gap: float) -> str:
    """A gap between two shares in percentage points: ``-0.043`` → ``4,3 points``."""
    return f"{abs(gap) * 100:.1f} points".replace(".", ",")


def progression_summary(table: pd.DataFrame, territory_label: str, target: float,
                        comparable: pd.DataFrame | None = None,
                        last_year_label: str | None = None) -> str:
    """Key figures of the clause progression, in Markdown.

    Parameters
    ----------
    table
        Output of :func:`analysis.indicators.progression.share_by_year`.
    territory_label
        Territory name.
    target
        The target compared with (a share).
    comparable
        Output of :func:`analysis.indicators.progression.comparable_shares`: the territory's share
        on the basis of the national census (amount floor, year). The national figure is only
        set beside that share, never beside the all-contracts one; without it the national
        figure is given alone, with its basis.
    last_year_label
        How the last year is named (:attr:`analysis.periods.Period.history_year_label_fr`), so
        that a history stopping at a quarter's end says which months its last year covers.
    """
    rated = table.dropna(subset=["part"])
    if rated.empty:
        return (f"Aucun marché au statut social connu pour {territory_label} sur la période : "
                "aucune part ne peut être calculée.")
    last = rated.iloc[-1]
    first = rated.iloc[0]
    year = int(last["annee"])
    named = last_year_label or str(year)
    lines = [
        f"- **{percent_fr(last['part'])}** des marchés notifiés en {named} ({territory_label}) "
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
    lines.append(f"- En {named}, cette part est {position}.")
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
        basis = f"marchés de {number_fr(config.oecp_floor(ref_year))} € HT et plus"
        line = (f"- Chiffre national publié pour {ref_year} : {percent_fr(value)} des {basis} "
                f"(recensement OECP, source : {source})")
        same = None
        if comparable is not None and len(comparable):
            rows = comparable.loc[comparable["annee"].astype(int) == ref_year]
            same = None if rows.empty else rows.iloc[0]
        if same is not None:
            line += (f" ; sur la même base ({basis} notifiés en {ref_year}), {territory_label} : "
                     f"{percent_fr(same['part'])} (IC 95 % : {percent_fr(same['ic_bas'])} – "
                     f"{percent_fr(same['ic_haut'])}).")
        else:
            line += (" ; il couvre les seuls marchés au-dessus de ce seuil et ne se compare pas "
                     "directement à la part de tous les marchés.")
        lines.append(line)
    lines.extend(_unknown_sentence(table, year))
    return "\n".join(lines)


def _unknown_sentence(table: pd.DataFrame, year: int) -> list[str]:
    """The contracts left out for an unknown social status: the last year's own count (the one
    its share is computed on), then the whole history's when it spans more than that year."""
    own = table.loc[table["annee"] == year, "statut_inconnu"]
    own = int(own.sum()) if len(own) else 0
    years = table["annee"].dropna().astype(int)
    total = int(table["statut_inconnu"].sum())
    if not total:
        return []
    first, last = int(years.min()), int(years.max())
    history = (f" ({number_fr(total)} sur {first}-{last})"
               if first != last and total != own else
               f" (aucun autre sur {first}-{last})" if first != last else "")
    if own == 0:
        return [f"- En {year}, aucun marché au statut social inconnu n'est exclu du calcul ; "
                f"sur {first}-{last}, {_contracts_fr(total)} au statut social inconnu "
                f"{'est exclu' if total == 1 else 'sont exclus'}."]
    verb = "est exclu" if own == 1 else "sont exclus"
    return [f"- En {year}, {_contracts_fr(own)} au statut social inconnu {verb} du calcul"
            f"{history}."]


def _contracts_fr(n: int) -> str:
    return "1 marché" if n == 1 else f"{number_fr(n)} marchés"


def p_value_fr(p: float) -> str:
    """A p-value as reports print it: ``p < 0,001`` or ``p = 0,034``."""
    if pd.isna(p):
        return "p non calculable"
    return "p < 0,001" if p < 0.001 else f"p = {p:.3f}".replace(".", ",")


def trend_fit_summary(check, table: pd.DataFrame, year: int, names: dict | None = None) -> str:
    """What the fit check of the trend model says, in French (Markdown).

    Parameters
    ----------
    check
        A :class:`analysis.indicators.trend.FitCheck`.
    table
        :func:`analysis.indicators.trend.target_years` (the last-year columns are read from it).
    year
        The last year of the fit.
    names
        ``{territory code: label}`` to name the territories.
    """
    names = names or {}
    ratio = f"{number_fr(check.pearson_dispersion, 1)}" if pd.notna(check.pearson_dispersion) \
        else "non calculable"
    lines = [f"**Ajustement de la droite.** Dispersion de Pearson : {ratio} (χ² de Pearson "
             f"{number_fr(check.pearson_chi2, 1)} pour {check.df_resid} degrés de liberté ; "
             "elle vaudrait environ 1 si les parts annuelles ne s'écartaient de la droite qu'au "
             "gré du hasard de l'échantillonnage). Déviance résiduelle : "
             f"{number_fr(check.deviance, 1)} pour {check.df_resid} degrés de liberté."]
    if check.lack_df:
        test = (f"test F de quasi-vraisemblance : F = {number_fr(check.lack_statistic, 1)}"
                if check.lack_test == "F" else
                f"test du χ² sur la déviance : χ² = {number_fr(check.lack_statistic, 1)}")
        lines.append(f"Un modèle avec un niveau par année réduit la déviance de "
                     f"{number_fr(check.lack_deviance, 1)} pour {check.lack_df} degrés de liberté "
                     f"({test}, {p_value_fr(check.lack_p)})"
                     + (" ; avec une seule série, ce test ne distingue pas une courbe d'une "
                        "simple dispersion autour de la droite." if check.lack_test == "khi2"
                        else "."))
    last = table.drop_duplicates("territoire")
    outside = last.loc[last["hors_intervalle"].astype(bool)]
    level = f"{check.level:.0%}".replace("%", "\u00a0%")
    if check.line_rejected or len(outside):
        reasons = []
        if check.line_rejected:
            reasons.append(f"les parts annuelles s'écartent de la droite plus que le hasard ne "
                           f"l'explique (écart à la droite significatif au seuil de "
                           f"{1 - check.level:.0%})".replace("%", "\u00a0%"))
        if len(outside):
            cases = " ; ".join(
                f"{names.get(r['territoire'], r['territoire'])} : "
                f"{percent_fr(r['part_ajustee_marches'])} ajustée contre "
                f"{percent_fr(r['part_observee'])} observée (IC {level} "
                f"{percent_fr(r['part_observee_ic_bas'])} – "
                f"{percent_fr(r['part_observee_ic_haut'])})"
                for _, r in outside.iterrows())
            reasons.append(f"en {year}, la part ajustée sort de l'intervalle de confiance de la "
                           f"part observée — {cases}")
        lines.append("**La droite ne décrit pas la série** : " + " ; ".join(reasons) + ". "
                     "Les années d'atteinte prolongent une tendance qui ne suit pas les données : "
                     "elles sont à lire avec prudence ; leurs intervalles tiennent compte de la "
                     "dispersion autour de la droite, pas de l'erreur de forme de la tendance.")
    else:
        lines.append(f"La droite n'est pas contredite par les données : l'écart à la droite "
                     f"n'est pas significatif et, en {year}, la part ajustée reste dans "
                     "l'intervalle de confiance de la part observée de chaque territoire.")
    if check.method == "quasi" and pd.notna(check.pearson_dispersion) \
            and check.pearson_dispersion < 1:
        lines.append("Inférieure à 1, la dispersion n'est pas appliquée : les intervalles gardent "
                     "la variance binomiale (jamais plus étroits).")
    if check.scale > 1:
        lines.append(f"Les intervalles tiennent compte de cette dispersion (modèle "
                     f"quasi-binomial) : ils sont élargis d'un facteur "
                     f"√{number_fr(check.scale, 1)} ≈ {number_fr(check.scale ** 0.5, 1)} par "
                     "rapport à un modèle binomial, qui les supposerait trop étroits.")
    return " ".join(lines[:1 + bool(check.lack_df)]) + "\n\n" + "\n\n".join(
        lines[1 + bool(check.lack_df):])


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
