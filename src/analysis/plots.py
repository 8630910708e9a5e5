"""House style and the observatory's charts: French labels, readable sizes, no chart junk."""

from __future__ import annotations

import textwrap

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


#: The longest group name :func:`share_chart` writes in full (longer ones are shortened).
LABEL_WIDTH = 48


def share_chart(table: pd.DataFrame, labels: pd.Series, title: str,
                xlabel: str = "Part des marchés au statut connu",
                target: float | None = config.DEFAULT_TARGET):
    """Shares by group as horizontal bars with their 95 % intervals, in the house style.

    Parameters
    ----------
    table
        One row per group, in the order shown (top to bottom), with ``part``, ``ic_bas`` and
        ``ic_haut`` (e.g. :func:`analysis.indicators.progression.share_by`); rows without a
        share are left out.
    labels
        The group names, aligned on ``table``.
    title
        The chart's title.
    xlabel
        The axis label.
    target
        A target drawn as a dashed vertical line (``None``: none).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

    apply_style()
    rated = table["part"].notna().to_numpy()
    rows = table.loc[rated]
    names = pd.Series(labels, index=table.index).loc[rated].astype(str)
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * max(len(rows), 1) + 2.0))
    if rows.empty:
        ax.text(0.5, 0.5, "Aucun marché au statut connu", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        return fig
    y = np.arange(len(rows))
    part = rows["part"].astype(float).to_numpy()
    low, high = rows["ic_bas"].astype(float).to_numpy(), rows["ic_haut"].astype(float).to_numpy()
    ax.barh(y, part, color=PALETTE["main"], height=0.6,
            label="Part des marchés avec considération sociale")
    ax.errorbar(part, y, xerr=[np.clip(part - low, 0, None), np.clip(high - part, 0, None)],
                linestyle="none", color="#333333", capsize=3, linewidth=1,
                label="Intervalle de confiance à 95 %")
    for position, value, upper in zip(y, part, high):
        ax.text((upper if np.isfinite(upper) else value) + 0.01, position, percent_fr(value),
                va="center", fontsize=9)
    if target is not None:
        ax.axvline(target, linestyle="--", color=PALETTE["target"], linewidth=1.2,
                   label=f"Objectif de {percent_fr(target, 0)}")
    ax.set_yticks(y, [textwrap.shorten(name, LABEL_WIDTH, placeholder=" …") for name in names])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    top = np.nanmax(np.r_[high, part, [target or 0]])
    ax.set_xlim(0, min(1.0, top * 1.1 + 0.08))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: percent_fr(v, 0)))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    # Below the plot, in a band of fixed height whatever the number of rows.
    height = fig.get_figheight()
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9)
    fig.tight_layout(rect=(0, 0.45 / height, 1, 1))
    return fig
