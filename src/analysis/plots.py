"""House style and the observatory's charts: French labels, readable sizes, no chart junk."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # rendering to files and notebooks; never needs a screen

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from . import config  # noqa: E402

PALETTE = {
    "main": "#1f4e79",
    "target": "#c0392b",
    "target_alt": "#7f8c8d",
    "band": "#9dc3e6",
}


def apply_style() -> None:
    """The house style for every chart."""
    plt.rcParams.update({
        "figure.figsize": (8, 4.5),
        "figure.dpi": 110,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.titlesize": 13,
        "axes.labelsize": 11,
        "font.size": 10,
        "legend.frameon": False,
    })


def percent_fr(value: float, decimals: int = 1) -> str:
    """A share as a French percentage: ``0.125`` → ``12,5 %``."""
    if pd.isna(value):
        return "–"
    return f"{value * 100:.{decimals}f}\u00a0%".replace(".", ",")


def progression_chart(table: pd.DataFrame, territory_label: str,
                      highlight: float = config.DEFAULT_TARGET,
                      comparable: pd.DataFrame | None = None):
    """Yearly share with its 95 % interval, against the national targets.

    Parameters
    ----------
    table
        Output of :func:`analysis.indicators.progression.share_by_year`.
    territory_label
        Territory name for the title.
    highlight
        The target drawn most prominently.
    comparable
        Optional output of :func:`analysis.indicators.progression.comparable_shares`: the
        territory's share on the basis of the national figures (contracts above the OECP floor),
        drawn as open markers with their intervals beside the national crosses.

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_style()
    fig, ax = plt.subplots()
    rated = table.dropna(subset=["part"])
    top_comparable = []
    ax.fill_between(rated["annee"], rated["ic_bas"], rated["ic_haut"], color=PALETTE["band"],
                    alpha=0.5, linewidth=0, label="Intervalle de confiance à 95 %")
    ax.plot(rated["annee"], rated["part"], marker="o", color=PALETTE["main"], linewidth=2,
            label="Part des marchés avec considération sociale")
    national = [(year, value) for year, (value, _) in config.NATIONAL_SHARE.items()
                if table["annee"].min() <= year <= table["annee"].max()]
    if national:
        ax.plot([y for y, _ in national], [v for _, v in national], linestyle="none", marker="x",
                markersize=7, color=PALETTE["target_alt"], label="France, recensement OECP")
    if comparable is not None and not comparable.empty:
        same = comparable.dropna(subset=["part"])
        ax.errorbar(same["annee"], same["part"],
                    yerr=[same["part"] - same["ic_bas"], same["ic_haut"] - same["part"]],
                    linestyle="none", marker="o", markerfacecolor="white", markersize=6,
                    color=PALETTE["main"], capsize=3, linewidth=1,
                    label=f"{territory_label}, même base que l'OECP")
        top_comparable = list(same["ic_haut"].fillna(0))
    for target in config.TARGETS:
        strong = abs(target.share - highlight) < 1e-9
        ax.axhline(target.share, linestyle="--", linewidth=1.5 if strong else 1,
                   color=PALETTE["target"] if strong else PALETTE["target_alt"],
                   label=f"Objectif {target.label}")
    top = max([t.share for t in config.TARGETS] + list(rated["ic_haut"].fillna(0))
              + top_comparable)
    ax.set_ylim(0, min(1.0, top * 1.15 + 0.02))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: percent_fr(v, 0)))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Année de notification")
    ax.set_ylabel("Part des marchés")
    ax.set_title(f"Marchés avec au moins une considération sociale — {territory_label}")
    # Below the plot: never over the curve, whatever the level.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=9)
    fig.tight_layout()
    return fig
