"""Charts under an answer: drawn as PNGs on the Agg canvas and uploaded into the thread.

Same approach as the digest chart (bot/cost_chart.py): matplotlib's object API, imported on
first use, no pyplot state, so worker threads can draw at once."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agents.charts import Chart

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from slack_sdk import WebClient

log = logging.getLogger(__name__)

_WIDTH_PX, _HEIGHT_PX, _DPI = 900, 420, 100
_COLOR = "#1f6feb"
_TICK_FORMATS = {"USD": "${x:,.0f}", "%": "{x:.0f}%"}


def chart_png(chart: Chart) -> bytes:
    """A 900×420 PNG of one chart: bars or a line over its labels, values on the axis."""
    if not chart.labels or len(chart.labels) != len(chart.values):
        raise ValueError(f"chart {chart.title!r} needs one value per label")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH_PX / _DPI, _HEIGHT_PX / _DPI), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    _draw(fig.add_subplot(), chart)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _draw(ax: Axes, chart: Chart) -> None:
    from matplotlib.ticker import StrMethodFormatter

    positions = list(range(len(chart.labels)))
    if chart.kind == "bar":
        ax.bar(positions, chart.values, width=0.7, color=_COLOR)
    else:
        ax.plot(positions, chart.values, marker="o", color=_COLOR)
    ax.set_xticks(positions, list(chart.labels), rotation=30 if len(positions) > 6 else 0)
    ax.yaxis.set_major_formatter(StrMethodFormatter(_TICK_FORMATS.get(chart.unit, "{x:,.0f}")))
    ax.set_ylim(0, (max(chart.values, default=0) or 1) * 1.15)
    ax.set_title(chart.title, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def post_charts(
    client: WebClient, *, channel: str, thread_ts: str, charts: Sequence[Chart]
) -> None:
    """Upload each chart into the answer's thread. A failed chart is logged and skipped:
    the answer already holds the numbers in words."""
    for chart in charts:
        try:
            client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=chart_png(chart),
                filename=f"{_slug(chart.title)}.png",
                title=chart.title,
            )
        except Exception:  # a picture is a nicety; never fail the answer over it
            log.exception("chart %r could not be posted", chart.title)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "chart"
