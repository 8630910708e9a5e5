"""HTML pieces for report notebooks: figures with alt text and caption, tables in French."""

from __future__ import annotations

import base64
import html
import io
import math

import pandas as pd
from IPython.display import HTML

from .plots import percent_fr


#: Smallest size, in CSS pixels, a figure's text may be shown at: a figure is never shrunk below
#: the width at which its smallest text reaches it (on a narrow screen it scrolls instead).
TEXT_FLOOR_PX = 9.0
#: Shown above a figure wider than the screen (by the report page's script); never printed.
FIGURE_SCROLL_HINT = "Figure plus large que l'écran : faites-la défiler vers la droite →"


def smallest_text_points(fig) -> float | None:
    """Size in points of the smallest visible, non-empty text of ``fig`` (None when none)."""
    from matplotlib.text import Text

    sizes = [text.get_fontsize() for text in fig.findobj(Text)
             if text.get_visible() and text.get_text().strip()]
    return min(sizes) if sizes else None


def empty_axes(fig) -> list[str]:
    """The axes of ``fig`` that draw no data (their titles, or « axes n »): a chart whose every
    line, bar, area, point and image is missing, empty or not finite.

    An axes with nothing drawn but a legend (a legend panel) or a text (saying why, e.g. « parts
    non publiées ») is not an empty chart."""
    import numpy as np
    from matplotlib.collections import Collection, PathCollection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def drawn(artist) -> bool:
        if not artist.get_visible():
            return False
        if isinstance(artist, Line2D):
            x, y = (np.asarray(v, dtype=float) for v in artist.get_data())
            return bool(np.isfinite(x).any() and np.isfinite(y).any()) if x.size else False
        if isinstance(artist, PathCollection):  # points: the offsets are the data
            offsets = np.asarray(artist.get_offsets(), dtype=float)
            return bool(offsets.size and np.isfinite(offsets).any())
        if isinstance(artist, Collection):  # polygons, areas, segments: the paths are
            return any(len(path.vertices) for path in artist.get_paths())
        if isinstance(artist, AxesImage):
            return artist.get_array() is not None and np.size(artist.get_array()) > 0
        if isinstance(artist, Patch):
            extents = artist.get_extents()
            return bool(np.isfinite([extents.width, extents.height]).all()
                        and (extents.width > 0 and extents.height > 0))
        return False

    empty = []
    for number, ax in enumerate(fig.axes, start=1):
        if not ax.get_visible():
            continue
        artists = [*ax.lines, *ax.collections, *ax.images,
                   *[p for p in ax.patches if p is not ax.patch]]
        if any(drawn(a) for a in artists):
            continue
        if ax.get_legend() is not None or any(t.get_text().strip() for t in ax.texts):
            continue  # a legend panel, or a panel saying why it has nothing to show
        empty.append(ax.get_title() or f"axes {number}")
    return empty


def png_width(data: bytes) -> int:
    """Width in pixels of a PNG image (from its header)."""
    return int.from_bytes(data[16:20], "big")


def readable_min_width(width_px: int, smallest_pt: float | None, dpi: float,
                       floor_px: float = TEXT_FLOOR_PX) -> int:
    """The narrowest width (CSS px) an image ``width_px`` wide can be shown at with its smallest
    text (``smallest_pt`` points, drawn at ``dpi``) at least ``floor_px`` high; never more than the
    image's own width (it is never enlarged)."""
    if not smallest_pt:
        return 0
    drawn_px = smallest_pt * dpi / 72
    return min(width_px, math.ceil(width_px * floor_px / drawn_px))


def figure_html(fig, alt: str, caption: str) -> HTML:
    """A figure as an accessible ``<figure>``: PNG embedded, alt text, caption.

    The image shrinks with the page down to the width at which its smallest text is
    :data:`TEXT_FLOOR_PX` high, and no further: on a narrower screen it scrolls sideways in its
    frame. The figure is closed once rendered, so it is not drawn a second time by the notebook.
    """
    import matplotlib.pyplot as plt

    dpi = fig.dpi
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=dpi)
    smallest = smallest_text_points(fig)
    plt.close(fig)
    png = buffer.getvalue()
    width = png_width(png)
    floor = readable_min_width(width, smallest, dpi)
    data = base64.b64encode(png).decode("ascii")
    return HTML(
        f'<figure class="obs-figure"><p class="obs-scroll-hint" aria-hidden="true" hidden>'
        f'{html.escape(FIGURE_SCROLL_HINT)}</p><div class="obs-figure-scroll">'
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
        f'style="width:{width}px;max-width:100%;min-width:{floor}px"/></div>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def datetime_fr(iso: str) -> str:
    """An ISO timestamp as French readers write it: ``23/11/2026 à 18:35 (UTC)``."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
        return moment.strftime("%d/%m/%Y à %H:%M (UTC)")
    return moment.strftime("%d/%m/%Y à %H:%M")


def number_fr(value, decimals: int = 0) -> str:
    """A number with French separators: ``12345.6`` → ``12 345,6`` (narrow no-break spaces)."""
    if pd.isna(value):
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def table_html(frame: pd.DataFrame, caption: str, percent: tuple[str, ...] = (),
               integers: tuple[str, ...] = (), columns: dict[str, str] | None = None) -> HTML:
    """A table formatted for reviewers: French numbers, French headers, a caption, no index."""
    shown = frame.copy()
    for col in percent:
        shown[col] = shown[col].map(percent_fr)
    for col in integers:
        shown[col] = shown[col].map(number_fr)
    if columns:
        shown = shown.rename(columns=columns)
    body = shown.to_html(index=False, escape=True, border=0, classes="obs-table", na_rep="–")
    return HTML(
        f'<div class="obs-table-wrap"><p class="obs-caption"><strong>{html.escape(caption)}</strong>'
        f"</p>{body}</div>"
    )


#: The key figures' look, inline: the cards keep it wherever the HTML is shown — in JupyterLab,
#: which has none of the report template's style sheet, as in the exported report.
KEY_FIGURES_STYLE = {
    "obs-keys": "display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); "
                "gap: .8rem; margin: .6rem 0 1rem;",
    "obs-key": "border: 1px solid #d5dde6; border-radius: 6px; padding: .6rem .8rem; "
               "background: #fff; color: #1b1b1b;",
    "obs-key-value": "font-size: 1.6rem; font-weight: 700; color: #1f4e79; line-height: 1.2;",
    "obs-key-label": "font-size: .92rem;",
    "obs-key-detail": "font-size: .8rem; color: #555; margin-top: .2rem;",
}


def key_figures_html(figures: list[dict]) -> HTML:
    """Key figures (``value``, ``label``, ``detail``) as cards, styled inline."""
    def div(css_class: str, content: str) -> str:
        return f'<div class="{css_class}" style="{KEY_FIGURES_STYLE[css_class]}">{content}</div>'

    cards = "".join(
        div("obs-key", div("obs-key-value", html.escape(f["value"]))
            + div("obs-key-label", html.escape(f["label"]))
            + (div("obs-key-detail", html.escape(f["detail"])) if f.get("detail") else ""))
        for f in figures)
    return HTML(div("obs-keys", cards))
