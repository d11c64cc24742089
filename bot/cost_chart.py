"""Daily model cost at a glance: a text sparkline for messages and a PNG bar chart.

Costs arrive as integer micro-USD (the ledger's unit); they become float dollars only here,
for drawing. matplotlib is imported inside `daily_cost_png` because it takes about a second
to import and only the digest draws charts; it is used through its object API on the Agg
canvas (never pyplot), which keeps no global figure state, so threads can draw at once and
no display is needed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_BLOCKS = "▁▂▃▄▅▆▇█"
_WIDTH_PX, _HEIGHT_PX, _DPI = 900, 360, 100
_MAX_DATE_LABELS = 8
_MIN_DAY_SLOTS = 7
_BAR_COLOR = "#9aa5b1"
_LAST_BAR_COLOR = "#1f6feb"


def sparkline(values: Sequence[int]) -> str:
    """One block character per value, scaled from zero to the largest value.

    Scaling from zero rather than from the minimum keeps a flat, costly week from looking
    like a spike. The range is cut into eight equal buckets in integer arithmetic, so the
    largest value is always █, zero is ▁, and a larger value never gets a lower block.
    Negative values (never expected for cost) count as zero.
    """
    top = max(values, default=0)
    if top <= 0:
        return _BLOCKS[0] * len(values)
    last = len(_BLOCKS) - 1
    return "".join(_BLOCKS[min(last, max(v, 0) * len(_BLOCKS) // top)] for v in values)


def _dollar_format(top_dollars: float) -> str:
    """Tick label format: cents for real money, four decimals for the small change of a
    quiet workspace (where every tick would otherwise read $0.00)."""
    return "${x:,.2f}" if top_dollars >= 0.1 else "${x:,.4f}"


def _date_ticks(last: int) -> list[int]:
    """At most eight evenly spaced day offsets, counted back from the latest day so that the
    highlighted bar always has its date under it."""
    step = max(1, math.ceil((last + 1) / _MAX_DATE_LABELS))
    return list(range(last, -1, -step))[::-1]


def _date_labels(days: list[date]) -> list[str]:
    """Like Mar 4; when the chart spans new year, the year goes on a second line under the
    first label and under the first label of each new year, so labels stay short."""
    spans_years = days[0].year != days[-1].year
    labels = []
    for i, day in enumerate(days):
        new_year = spans_years and (i == 0 or day.year != days[i - 1].year)
        labels.append(f"{day:%b} {day.day}" + (f"\n{day.year}" if new_year else ""))
    return labels


def _draw(ax: Axes, ordered: list[tuple[date, int]], *, title: str) -> None:
    """Bars at day offsets (so a missing day shows as a gap), our own date labels, dollar
    ticks, and the latest day in colour with its amount on top."""
    from matplotlib.ticker import StrMethodFormatter

    first = ordered[0][0]
    offsets = [(day - first).days for day, _ in ordered]
    dollars = [micro / 1_000_000 for _, micro in ordered]
    top = max(dollars) or 1.0  # an all-zero series still gets a sensible $0–$1 axis

    colors = [_BAR_COLOR] * (len(offsets) - 1) + [_LAST_BAR_COLOR]
    ax.bar(offsets, dollars, width=0.8, color=colors)
    ax.annotate(
        StrMethodFormatter(_dollar_format(top))(dollars[-1]),
        xy=(offsets[-1], dollars[-1]),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        va="bottom",
        color=_LAST_BAR_COLOR,
        fontsize=9,
    )

    ticks = _date_ticks(offsets[-1])
    ax.set_xticks(ticks, _date_labels([first + timedelta(days=t) for t in ticks]))
    pad = max(0.6, (_MIN_DAY_SLOTS - offsets[-1]) / 2)  # a lone bar should not fill the chart
    ax.set_xlim(-pad, offsets[-1] + pad)
    ax.yaxis.set_major_formatter(StrMethodFormatter(_dollar_format(top)))
    ax.set_ylim(0, top * 1.15)
    ax.set_title(title, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def daily_cost_png(days: Sequence[tuple[date, int]], *, title: str) -> bytes:
    """A 900×360 PNG bar chart of cost per day (micro-USD in, dollars on the axis).

    Days are drawn in date order and the latest one is highlighted and labelled with its
    amount, since "how did today compare" is the question a digest answers. Raises
    ValueError for no days: an empty chart says nothing the caller could not say in words.
    """
    if not days:
        raise ValueError("daily_cost_png needs at least one day")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH_PX / _DPI, _HEIGHT_PX / _DPI), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    _draw(fig.add_subplot(), sorted(days), title=title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()
