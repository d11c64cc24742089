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
_LABEL_COLOR = "#444c56"  # value labels: dark grey, never the bar colour
_TICK_FORMATS = {"USD": "${x:,.0f}", "%": "{x:.0f}%"}
_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))
_MAX_LABEL = 18  # characters of an x label before it is cut with an ellipsis


def chart_png(chart: Chart) -> bytes:
    """A 900×420 PNG of one chart: bars or a line over its labels, values on the axis and,
    for bars, written above each bar."""
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


def value_label(value: float, unit: str) -> str:
    """A bar's value in a few characters: $1.2M, $48k, $950, 67%, 1.5k EUR, 12."""
    if unit == "%":
        return f"{value:.0f}%"
    short = _compact(value)
    if unit == "USD":
        return f"${short}"
    return short if unit in ("", "deals") else f"{short} {unit}"


def _compact(value: float) -> str:
    for scale, suffix in _SCALES:
        if abs(value) >= scale:
            return f"{value / scale:.1f}".removesuffix(".0") + suffix
    return f"{value:,.0f}"


def _draw(ax: Axes, chart: Chart) -> None:
    from matplotlib.ticker import StrMethodFormatter

    positions = list(range(len(chart.labels)))
    if chart.kind == "bar":
        bars = ax.bar(positions, chart.values, width=0.7, color=_COLOR)
        labels = [value_label(v, chart.unit) if v else "" for v in chart.values]
        ax.bar_label(bars, labels=labels, padding=3, fontsize=9, color=_LABEL_COLOR)
    else:
        ax.plot(positions, chart.values, marker="o", color=_COLOR)
    names = [_short(label) for label in chart.labels]
    crowded = len(positions) > 6 or any(len(n) > 12 for n in names)
    ax.set_xticks(
        positions, names, rotation=30 if crowded else 0, ha="right" if crowded else "center"
    )
    ax.yaxis.set_major_formatter(StrMethodFormatter(_TICK_FORMATS.get(chart.unit, "{x:,.0f}")))
    if chart.unit not in _TICK_FORMATS:
        ax.set_ylabel(chart.unit)
    ax.set_ylim(0, (max(chart.values, default=0) or 1) * 1.18)  # room for the value labels
    ax.set_title(chart.title, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1].rstrip() + "…"


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
