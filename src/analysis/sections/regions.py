"""France's régions compared (``notebooks/12_regions_comparees.ipynb``): every part of the report,
from the national consolidated DECP (:mod:`analysis.indicators.regions`).

Counts are contracts (DECP open data about public buyers), not people; a share on fewer than *k*
known-status contracts is not published (« s »), as :mod:`analysis.indicators.regions` states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from IPython.display import Markdown

from .. import config
from ..indicators import regions as indicators
from ..periods import Period
from ..plots import PALETTE, apply_style, percent_fr
from ..present import number_fr
from .progression import INTERVAL_NOTE

#: The basis the maps, ranks and projections show first.
MAIN_BASIS = "tous"
BASIS_SHORT = {"tous": "tous les marchés", "oecp": "base comparable OECP"}


@dataclass
class Comparison:
    """The national contracts of the report's period and what the sections compute from them
    (each computed once)."""

    national: indicators.National
    period: Period
    target: float = config.DEFAULT_TARGET
    k: int = field(default_factory=config.suppression_k)

    @property
    def first_year(self) -> int:
        return self.period.first_year

    @property
    def year(self) -> int:
        return self.period.year

    @cached_property
    def shares(self) -> pd.DataFrame:
        return indicators.region_shares(self.national.contracts, self.first_year, self.year,
                                        target=self.target, k=self.k)

    def ranks(self, basis: str) -> pd.DataFrame:
        return indicators.rank_intervals(self.national.contracts, self.year, basis, k=self.k)

    def projection(self, basis: str):
        return indicators.projections(self.national.contracts, self.first_year, self.year,
                                      basis, self.target)

    @cached_property
    def readiness_window(self) -> tuple[str, str]:
        """The notification window readiness is measured on: the period's year, or from the
        obligation's start when the year holds it."""
        start = max(pd.Timestamp(f"{self.year}-01-01"),
                    pd.Timestamp(config.CLIMATE_OBLIGATION_START)) \
            if self.year >= pd.Timestamp(config.CLIMATE_OBLIGATION_START).year \
            else pd.Timestamp(f"{self.year}-01-01")
        return start.date().isoformat(), f"{self.year}-12-31"


def open_comparison(period, target: float = config.DEFAULT_TARGET,
                    k: int | None = None) -> Comparison:
    """Read the national DECP (:func:`analysis.indicators.regions.national_path`) for a report
    of a whole year (a quarter is refused: the comparison is annual)."""
    period = Period.parse(period)
    if period.is_quarter:
        raise ValueError(f"comparaison des régions : une année entière, pas un trimestre "
                         f"({period.label})")
    national = indicators.load_national()
    return Comparison(national, period, float(target),
                      config.suppression_k() if k is None else int(k))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]



def introduction(comparison: Comparison) -> list:
    """Population, sources and the accounting of the national file."""
    import html

    acc = comparison.national.accounting
    path = comparison.national.path
    name = html.escape(path.name if path else "?").replace("`", "'")
    lines = [
        f"**Population** : marchés publics de la DECP nationale consolidée "
        f"(`{name}`), notifiés de {comparison.first_year} à "
        f"{comparison.year}, comptés dans **la région de l'acheteur** (code région de "
        "l'acheteur publié dans la table ; à défaut, la région de son département).",
        f"**Lecture du fichier** : {number_fr(acc['lignes_lues'])} lignes lues = "
        f"{number_fr(acc['marches'])} marchés + {number_fr(acc['rejetes'])} rejetés + "
        f"{number_fr(acc['fusionnees'])} lignes fusionnées (modifications et co-titulaires d'un "
        "même marché).",
        f"**Exclus des parts** : {number_fr(acc['statut_inconnu'])} marchés au statut social "
        f"inconnu (aucune valeur exploitable : ni « Sans objet » ni considération) et "
        f"{number_fr(acc['region_inconnue'])} marchés dont la région de l'acheteur est inconnue ; "
        f"{number_fr(acc['region_deduite'])} marchés ont leur région déduite du département de "
        "l'acheteur.",
        f"**Deux bases** : tous les marchés ; la base comparable au recensement OECP (montant "
        f"initial d'au moins {number_fr(config.oecp_floor(2023))} € HT jusqu'en 2023, "
        f"{number_fr(config.oecp_floor(2024))} € HT à partir de 2024).",
    ]
    return [Markdown("\n\n".join(lines))]


def key_figures(comparison: Comparison, report) -> None:
    """France's share of the year, and how many régions stand above, below or compatible."""
    shares = comparison.shares
    year = comparison.year
    for basis, label in (("tous", "tous les marchés"), ("oecp", "base OECP")):
        rows = shares.loc[(shares["base"] == basis) & (shares["annee"] == year)
                          & ~shares["secret"]]
        if rows.empty:
            continue
        counts = rows["position"].value_counts()
        report.key_figure(
            f"régions au-dessus de l'objectif de {percent_fr(comparison.target, 0)} en {year} "
            f"({label})", f"{int(counts.get('au-dessus', 0))} sur {len(rows)}",
            f"{int(counts.get('en dessous', 0))} en dessous, "
            f"{int(counts.get('compatible', 0))} compatibles (l'intervalle contient "
            "l'objectif) : la position est décidée par l'intervalle, non par la part seule",
            headline=basis == MAIN_BASIS)
    contracts = comparison.national.contracts
    known = contracts.loc[contracts["annee"].eq(year).fillna(False).astype(bool)
                          & contracts["has_social_consideration"].notna()]
    if len(known):
        from ..stats import clustered_share

        whole = clustered_share(known.assign(_with=known["has_social_consideration"]
                                             .astype(float)), "_with").iloc[0]
        report.key_figure(
            f"des marchés notifiés en {year} en France ont une considération sociale",
            percent_fr(whole["part"]),
            f"IC 95 % {percent_fr(whole['ic_bas'])} – {percent_fr(whole['ic_haut'])} "
            f"(acheteurs en grappes) ; {number_fr(whole['effectif'])} sur "
            f"{number_fr(whole['total'])} marchés", headline=True)


def _secret_mask(table: pd.DataFrame, columns) -> pd.DataFrame:
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    if "secret" in table:
        for column in columns:
            if column in mask:
                mask[column] = table["secret"].astype(bool).to_numpy()
    return mask


def _few_buyers(table: pd.DataFrame) -> list[str]:
    from ..indicators.progression import few_buyers_note

    return few_buyers_note(table.loc[~table["secret"]] if "secret" in table else table,
                           "ligne")


def _interval_chart(rows: pd.DataFrame, title: str, target: float, value: str = "part",
                    low: str = "ic_bas", high: str = "ic_haut", xlabel: str = "Part des marchés"):
    """Régions as rows, a point and its interval each, against the target."""
    import matplotlib.pyplot as plt

    apply_style()
    rows = rows.sort_values(value)
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.4))
    y = np.arange(len(rows))
    ax.hlines(y, rows[low], rows[high], color=PALETTE["band"], linewidth=4)
    ax.plot(rows[value], y, "o", color=PALETTE["main"], markersize=5)
    ax.axvline(target, color=PALETTE["target"], linestyle="--", linewidth=1.2)
    ax.text(target, -0.9, f" objectif {percent_fr(target, 0)}", color=PALETTE["target"],
            fontsize=9, va="top")
    ax.set_yticks(y, rows["nom"])
    ax.xaxis.set_major_formatter(lambda v, _: percent_fr(v, 0))
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def shares_last_year(comparison: Comparison, report) -> list:
    """Each région's share in the period's year, on both bases: a chart per basis."""
    out = []
    shares = comparison.shares
    for basis in indicators.BASES:
        rows = shares.loc[(shares["base"] == basis) & (shares["annee"] == comparison.year)
                          & ~shares["secret"]]
        if rows.empty:
            out.append(Markdown(f"Aucune région avec au moins {comparison.k} marchés au statut "
                                f"connu en {comparison.year} ({BASIS_SHORT[basis]})."))
            continue
        fig = _interval_chart(rows, f"Part avec une considération sociale, {comparison.year}, "
                                    f"{BASIS_SHORT[basis]}",
                              comparison.target)
        top = rows.sort_values("part").iloc[-1]
        bottom = rows.sort_values("part").iloc[0]
        out.append(report.figure(
            fig, alt=(f"Part des marchés avec une considération sociale par région en "
                      f"{comparison.year}, {BASIS_SHORT[basis]}, avec intervalles à 95 % : de "
                      f"{percent_fr(bottom['part'])} ({bottom['nom']}) à "
                      f"{percent_fr(top['part'])} ({top['nom']}) ; objectif "
                      f"{percent_fr(comparison.target, 0)}."),
            caption=(f"{_capital(BASIS_SHORT[basis])} : point = part observée, trait = "
                     f"{INTERVAL_NOTE}.")))
    return out


def yearly_tables(comparison: Comparison, report) -> list:
    """Every région and year, one table per basis."""
    out = []
    shares = comparison.shares
    columns = ["region", "nom", "annee", "contrats", "avec_consideration", "part", "ic_bas",
               "ic_haut", "acheteurs", "statut_inconnu"]
    for basis, label in indicators.BASES.items():
        table = shares.loc[shares["base"] == basis].reset_index(drop=True)
        shown = table[columns]
        out.append(report.publish_protected(
            shown, _secret_mask(table, ["part", "ic_bas", "ic_haut"])[columns],
            f"parts_regions_{basis}",
            f"Marchés avec au moins une considération sociale par région et par année — {label}",
            percent=("part", "ic_bas", "ic_haut"),
            integers=("contrats", "avec_consideration", "acheteurs", "statut_inconnu"),
            columns=indicators.COLUMNS_FR,
            notes=[f"Source : DECP nationale consolidée ; IC : {INTERVAL_NOTE}.",
                   "Région de l'acheteur ; statut social inconnu hors du dénominateur.",
                   f"Part non publiée (s) sous {comparison.k} marchés au statut connu.",
                   *_few_buyers(table)]))
    return out


def evolution_chart(comparison: Comparison, report) -> list:
    """Small multiples: each région's yearly share with its interval, both bases."""
    import matplotlib.pyplot as plt

    apply_style()
    shares = comparison.shares
    codes = sorted(shares["region"].unique())
    if not codes:
        return [Markdown("Aucune région à représenter.")]
    ncols = 6
    nrows = int(np.ceil(len(codes) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(13, 2.1 * nrows + 0.8), sharex=True,
                             sharey=True)
    colours = {"tous": PALETTE["main"], "oecp": "#e67e22"}
    for ax, code in zip(axes.ravel(), codes):
        for basis in indicators.BASES:
            rows = shares.loc[(shares["region"] == code) & (shares["base"] == basis)
                              & ~shares["secret"]].sort_values("annee")
            if rows.empty:
                continue
            ax.fill_between(rows["annee"], rows["ic_bas"], rows["ic_haut"],
                            color=colours[basis], alpha=0.15, linewidth=0)
            ax.plot(rows["annee"], rows["part"], "-o", color=colours[basis], markersize=2.5,
                    linewidth=1.2, label=BASIS_SHORT[basis])
        ax.axhline(comparison.target, color=PALETTE["target"], linestyle="--", linewidth=0.9)
        name = shares.loc[shares["region"] == code, "nom"].iloc[0]
        ax.set_title(name if len(name) <= 24 else name[:22] + "…", fontsize=9, loc="left")
        ax.yaxis.set_major_formatter(lambda v, _: percent_fr(v, 0))
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(codes):]:
        ax.set_axis_off()
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncols=2, fontsize=9)
    fig.suptitle("Part des marchés avec une considération sociale par année, par région",
                 x=0.01, ha="left", fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return [report.figure(
        fig, alt=(f"Petits multiples : pour chacune des {len(codes)} régions, la part annuelle "
                  f"de {comparison.first_year} à {comparison.year} sur les deux bases, avec "
                  f"intervalles à 95 % et l'objectif de {percent_fr(comparison.target, 0)}."),
        caption=(f"Bleu : tous les marchés ; orange : base comparable OECP (le plancher passe "
                 f"de 90 000 à 40 000 € HT en 2024) ; bandes : {INTERVAL_NOTE} ; tirets : "
                 "objectif."))]


def gap_and_projection(comparison: Comparison, report) -> list:
    """The gap to the target in the period's year and the projected year, per région, with the
    trend model's fit check (as the territorial reports publish it)."""
    from .. import narrative
    from ..indicators import trend

    out = [Markdown(f"Un modèle logistique de la part des marchés avec considération sociale, "
                    f"une pente par région sur {comparison.first_year}-{comparison.year}, "
                    f"prolonge chaque tendance jusqu'à l'objectif de "
                    f"{percent_fr(comparison.target, 0)}. C'est une extrapolation : elle suppose "
                    "que la tendance passée se poursuit en ligne droite (sur l'échelle des "
                    "log-odds), ce que rien ne garantit.")]
    shares = comparison.shares
    names = indicators.region_names()
    for basis, label in indicators.BASES.items():
        last = shares.loc[(shares["base"] == basis) & (shares["annee"] == comparison.year)]
        projection, check = comparison.projection(basis)
        warnings = trend.unit_warnings(projection["avertissement"], projection["nom"])
        projection = projection.assign(
            annee_atteinte=trend.reached_year_text(projection["annee_atteinte"]))
        table = last[["region", "nom", "part", "ecart", "ecart_bas", "ecart_haut", "position",
                      "secret"]].merge(
            projection[["region", "pente", "pente_ic_bas", "pente_ic_haut", "annee_atteinte",
                        "intervalle"]], on="region", how="outer").sort_values(
            "region", ignore_index=True)
        table["nom"] = table["nom"].fillna(table["region"].map(names))
        table["secret"] = table["secret"].fillna(True).astype(bool)
        table["position"] = table["position"].astype("string").fillna("–")
        shown = table.drop(columns=["secret"])
        mask = _secret_mask(table, ["part", "ecart", "ecart_bas", "ecart_haut", "position"])
        out.append(Markdown(f"**{_capital(BASIS_SHORT[basis])}.** "
                            + narrative.trend_fit_summary(
                                check, projection.rename(columns={"region": "territoire"}),
                                comparison.year, names=names.to_dict())))
        out.append(report.publish_protected(
            shown, mask[shown.columns], f"objectif_regions_{basis}",
            f"Écart à l'objectif de {percent_fr(comparison.target, 0)} en {comparison.year} et "
            f"année projetée d'atteinte — {label}",
            percent=("part", "ecart", "ecart_bas", "ecart_haut"),
            decimals={"pente": 3, "pente_ic_bas": 3, "pente_ic_haut": 3},
            columns={**indicators.COLUMNS_FR, "pente": "Pente annuelle (log-odds)",
                     "pente_ic_bas": "Pente : IC 95 % bas", "pente_ic_haut": "Pente : IC 95 % haut"},
            notes=[f"Écart : part {comparison.year} moins l'objectif, avec son intervalle "
                   "(celui de la part, acheteurs en grappes) ; la position (« au-dessus », "
                   "« en dessous », « compatible ») est décidée par l'intervalle.",
                   "Année projetée : première année civile où la part ajustée atteindrait "
                   "l'objectif si la tendance se poursuivait (modèle logistique quasi-binomial, "
                   f"une pente par région, {comparison.first_year}–{comparison.year}) ; "
                   "intervalle par inversion de la bande de confiance, en années civiles ; "
                   "« non déterminable » quand la tendance ne permet pas de le borner.",
                   *warnings]))
    return out


def maps(comparison: Comparison, report) -> list:
    """Maps of France by région and by département of the buyer, the period's year."""
    from .. import maps as map_module

    out = []
    shares = comparison.shares
    rows = shares.loc[(shares["base"] == MAIN_BASIS) & (shares["annee"] == comparison.year)]
    data = pd.DataFrame({"code": rows["region"], "part": rows["part"] * 100,
                         "secret": rows["secret"]})
    fig = map_module.france_choropleth(
        data, "part", level="region", secret="secret", k=comparison.k,
        title=f"Part des marchés avec une considération sociale par région, {comparison.year}",
        legend_title="Part (tous les marchés)", unit="%",
        source="Source : DECP nationale consolidée ; région de l'acheteur.")
    out.append(report.figure(
        fig, alt=(f"Carte de France par région (outre-mer en encarts) de la part des marchés "
                  f"avec une considération sociale en {comparison.year}, en classes de "
                  "quantiles."),
        caption="Classes de quantiles des parts publiées ; intervalles dans les tableaux."))
    deps = indicators.departement_shares(comparison.national.contracts, comparison.year,
                                         MAIN_BASIS, k=comparison.k)
    data = pd.DataFrame({"code": deps["departement"], "part": deps["part"] * 100,
                         "secret": deps["secret"]})
    fig = map_module.france_choropleth(
        data, "part", level="departement", secret="secret", k=comparison.k,
        title=f"Part des marchés avec une considération sociale par département, "
              f"{comparison.year}",
        legend_title="Part (tous les marchés)", unit="%",
        source="Source : DECP nationale consolidée ; département de l'acheteur.")
    shown = int((~deps["secret"] & deps["part"].notna()).sum())
    out.append(report.figure(
        fig, alt=(f"Carte de France des {len(deps)} départements (outre-mer en encarts) : part "
                  f"des marchés avec une considération sociale en {comparison.year} ; "
                  f"{shown} départements publiés."),
        caption=(f"Département de l'acheteur ; hachuré : moins de {comparison.k} marchés au "
                 "statut connu (secret) ; gris : aucun marché.")))
    return out


def ranks(comparison: Comparison, report) -> list:
    """Each région's rank as an interval, on both bases (never a rank from the point alone)."""
    import matplotlib.pyplot as plt

    out = []
    for basis, label in indicators.BASES.items():
        table = comparison.ranks(basis)
        ranked = table.loc[~table["secret"]].sort_values("rang", ascending=False)
        if not ranked.empty:
            apply_style()
            fig, ax = plt.subplots(figsize=(8, 0.32 * len(ranked) + 1.4))
            y = np.arange(len(ranked))
            ax.hlines(y, ranked["rang_bas"] - 0.3, ranked["rang_haut"] + 0.3,
                      color=PALETTE["main"], linewidth=6, alpha=0.7)
            ax.set_yticks(y, ranked["nom"])
            ax.set_xlim(0.3, len(ranked) + 0.7)
            ax.set_xticks(range(1, len(ranked) + 1))
            ax.tick_params(axis="x", labelsize=8)
            ax.invert_xaxis()
            ax.set_xlabel("Rang (1 = part la plus élevée)")
            ax.set_title(f"Rang des régions en {comparison.year} (IC 95 %), "
                         f"{BASIS_SHORT[basis]}", loc="left", fontsize=12)
            ax.grid(axis="y", visible=False)
            fig.tight_layout()
            out.append(report.figure(
                fig, alt=(f"Intervalle à 95 % du rang de chacune des {len(ranked)} régions en "
                          f"{comparison.year} ({BASIS_SHORT[basis]}) ; les régions sont "
                          "ordonnées par part observée, sans rang ponctuel affiché."),
                caption=("Rang par bootstrap des acheteurs de chaque région (999 tirages) : "
                         "chaque barre couvre les rangs plausibles ; deux régions dont les "
                         "barres se chevauchent ne sont pas départagées.")))
        shown = table[["region", "nom", "contrats", "acheteurs", "part", "rang_intervalle"]]
        out.append(report.publish_protected(
            shown, _secret_mask(table, ["part", "rang_intervalle"])[shown.columns],
            f"rangs_regions_{basis}",
            f"Rang des régions en {comparison.year} (intervalle à 95 %) — {label}",
            percent=("part",), integers=("contrats", "acheteurs"),
            columns=indicators.COLUMNS_FR,
            notes=["Rang 1 : la part la plus élevée. Le rang n'est publié que comme intervalle "
                   "(bootstrap des acheteurs dans chaque région, 999 tirages, percentiles "
                   "2,5 % et 97,5 %) : le classement par la part seule n'a pas de sens quand "
                   "les intervalles se chevauchent.",
                   f"Régions de moins de {comparison.k} marchés au statut connu : non classées "
                   "(s)."]))
    return out


def readiness(comparison: Comparison, report) -> list:
    """Loi Climat et résilience: contracts above the EU thresholds, per région."""
    start, end = comparison.readiness_window
    table = indicators.readiness(comparison.national.contracts, start, end, k=comparison.k)
    if table.empty or table["marches"].sum() == 0:
        return [Markdown(f"Aucun marché au-dessus des seuils européens notifié du {start} au "
                         f"{end}.")]
    shown = table.drop(columns=["secret"])
    return [report.publish_protected(
        shown, _secret_mask(table, ["part", "ic_bas", "ic_haut"])[shown.columns],
        "climat_resilience_regions",
        f"Marchés au-dessus des seuils européens avec une considération sociale, notifiés du "
        f"{start} au {end}, par région",
        percent=("part", "ic_bas", "ic_haut"),
        integers=("marches", "avec_consideration", "acheteurs", "statut_inconnu"),
        columns=indicators.COLUMNS_FR,
        notes=["La loi Climat et résilience (art. 35 ; décret n° 2022-767) impose une "
               "considération sociale dans les conditions d'exécution des marchés au-dessus des "
               f"seuils européens dont la consultation est lancée à partir du "
               f"{pd.Timestamp(config.CLIMATE_OBLIGATION_START).strftime('%d/%m/%Y')} ; la DECP "
               "ne donne pas la date de consultation : la date de notification en tient lieu. "
               "Avant cette date, la part mesure le point de départ.",
               f"Seuils par période de notification ; IC : {INTERVAL_NOTE}.",
               *_few_buyers(table)])]


METHOD = """
- **Source** : la DECP nationale consolidée (table de decp-processing, une ligne par marché ×
  modification × titulaire), lue par la chaîne DECP de l'observatoire : un marché par `uid`,
  l'année de la notification initiale, le montant initial pour la base OECP.
- **Région** : celle de l'acheteur (`acheteur_region_code`), comme les indicateurs territoriaux
  nationaux ; les marchés d'un acheteur national (un ministère) comptent dans la région de son
  établissement.
- **Part** : marchés avec au moins une considération sociale (clause, critère, marché réservé)
  parmi les marchés au statut connu ; les marchés au statut inconnu sont comptés à part.
- **Intervalles** : à 95 %, les acheteurs comme grappes (les marchés d'un même acheteur ne sont
  pas des tirages indépendants) ; toutes les régions et années en un seul calcul groupé.
- **Rangs** : seulement comme intervalles (bootstrap des acheteurs de chaque région).
- **Projection** : modèle logistique quasi-binomial avec une pente annuelle par région ; une
  projection suppose que la tendance se poursuit, ce que rien ne garantit.
- **Secret** : aucune part publiée sur moins de *k* marchés au statut connu.
"""


def method(comparison: Comparison | None = None, report=None) -> list:
    return [Markdown(METHOD)]


def sources(comparison: Comparison, report=None) -> list:
    """Which file was read, its digest, and whether it is a synthetic one."""
    import hashlib
    import html
    import json

    path = comparison.national.path
    if path is None:
        return [Markdown("Fichier national : inconnu.")]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    name = html.escape(path.name).replace("`", "'")
    lines = [f"- **Fichier** : `{name}` ({number_fr(path.stat().st_size / 1e6, 1)}"
             f" Mo), SHA-256 `{digest.hexdigest()[:16]}…` ; trouvé par "
             f"`{config.NATIONAL_DECP_ENV}` ou dans `data/raw/national/`."]
    manifest = path.with_name("manifest_national.json")
    if manifest.is_file():
        try:
            generator = json.loads(manifest.read_text(encoding="utf-8")).get("generator", "")
        except (OSError, ValueError):
            generator = ""
        if generator:
            lines.append(f"- **Données synthétiques** (générateur `{html.escape(generator)}`, "
                         "manifeste à côté du fichier) : ces chiffres ne décrivent aucune région "
                         "réelle ; ils servent à vérifier que la méthode retrouve les effets "
                         "régionaux plantés.")
    lines.append("- **Traitement** : la chaîne DECP de l'observatoire (règles écrites une fois, "
                 "quarantaine et comptes ci-dessus), puis un calcul groupé par région et année.")
    return [Markdown("\n".join(lines))]


__all__ = ["Comparison", "open_comparison", "introduction", "key_figures", "shares_last_year",
           "yearly_tables", "evolution_chart", "gap_and_projection", "maps", "ranks",
           "readiness", "method", "sources"]
