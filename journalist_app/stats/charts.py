"""Charts drawn on the server as SVG by matplotlib (Agg-free SVG backend, DejaVu Sans).

No JavaScript and no network: the page loads each chart as an image from this host.
Arabic labels are given as they are: matplotlib 3.11 lays text out with libraqm, which
joins the letters and orders right-to-left runs itself (shaping them beforehand, with
arabic-reshaper and python-bidi, would reverse them twice).
"""

import io
from collections.abc import Sequence

from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

FONT = "DejaVu Sans"
BAR_COLOUR = "#1d4e89"
MISSED_COLOUR = "#b03a2e"
MET_COLOUR = "#2e7d32"
RUNNING_COLOUR = "#8a8a8a"
MAX_LABELLED_BARS = 40


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    *,
    horizontal: bool = False,
    colours: Sequence[str] | None = None,
    rtl: bool = False,
) -> bytes:
    """One bar per label, the count written on each bar; returns an SVG document."""
    height = max(3.0, 0.32 * len(labels) + 1.2) if horizontal else 3.6
    figure = Figure(figsize=(8, height), dpi=96)
    FigureCanvasSVG(figure)
    axes = figure.subplots()
    shown = list(labels)
    positions = list(range(len(labels)))
    colour: Sequence[str] | str = colours or BAR_COLOUR
    if horizontal:
        bars = axes.barh(positions, values, color=colour)
        axes.set_yticks(positions, shown, fontfamily=FONT, fontsize=9)
        axes.invert_yaxis()
        if rtl:
            # The bars grow from the right, as the eye reads the labels.
            axes.invert_xaxis()
            axes.yaxis.tick_right()
    else:
        bars = axes.bar(positions, values, color=colour)
        step = max(1, len(labels) // 14)
        axes.set_xticks(positions[::step], shown[::step], fontfamily=FONT, fontsize=8)
        axes.tick_params(axis="x", labelrotation=45 if len(labels) > 7 else 0)
        if rtl:
            axes.invert_xaxis()
    # Counts on the bars while they stay readable; past that the table below has them.
    if values and max(values) > 0 and len(values) <= MAX_LABELLED_BARS:
        axes.bar_label(bars, fontsize=8, fontfamily=FONT)
    axes.set_title(title, fontfamily=FONT, fontsize=11)
    for side in ("top", "right") if not rtl else ("top", "left"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()
