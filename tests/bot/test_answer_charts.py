"""Charts under an answer: the PNG's bars match the values, labels read short, and each chart
is uploaded into the answer's thread (a broken one is skipped, the rest still go)."""

import io

import numpy as np
import pytest
from PIL import Image
from slack_sdk import WebClient

from agents.charts import Chart
from bot.answer_charts import chart_png, post_charts, value_label
from bot.emulator import SlackEmulator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BAR = (0x1F, 0x6F, 0xEB)
STAGES = ("Lead", "Qualified", "Proposal", "Negotiation")


def _decode(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _bars(pixels):
    """(first column, height in pixels) of each run of bar-coloured columns, left to right."""
    mask = (pixels == BAR).all(axis=2)
    columns = np.nonzero(mask.any(axis=0))[0]
    runs = np.split(columns, np.nonzero(np.diff(columns) > 1)[0] + 1) if len(columns) else []
    return [(int(run[0]), int(mask[:, run].any(axis=1).sum())) for run in runs]


def test_a_bar_chart_is_a_900_by_420_png_with_one_bar_per_value_in_proportion():
    png = chart_png(
        Chart("bar", "Open pipeline by stage", STAGES, (10_000, 20_000, 40_000, 30_000))
    )
    assert png.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(png)).size == (900, 420)
    heights = [height for _, height in _bars(_decode(png))]
    assert len(heights) == 4
    unit = heights[0]
    assert heights[1:] == pytest.approx([2 * unit, 4 * unit, 3 * unit], abs=2)


def test_a_zero_value_draws_no_bar_but_keeps_its_place():
    pixels = _decode(chart_png(Chart("bar", "Pipeline", STAGES, (5_000, 0, 5_000, 5_000))))
    starts = [start for start, _ in _bars(pixels)]
    assert len(starts) == 3
    gaps = np.diff(starts)
    assert gaps[0] == pytest.approx(2 * gaps[1], abs=2)  # the empty stage's slot is kept


def test_a_line_chart_with_long_labels_renders():
    labels = tuple(f"A very long customer name number {n}" for n in range(12))
    pixels = _decode(chart_png(Chart("line", "Revenue by month", labels, tuple(range(12)), "EUR")))
    assert pixels.shape == (420, 900, 3)
    assert (pixels == BAR).all(axis=2).any()


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1_250_000, "USD", "$1.2M"),
        (48_000, "USD", "$48k"),
        (1_000.5, "USD", "$1k"),
        (950, "USD", "$950"),
        (66.7, "%", "67%"),
        (1_500, "EUR", "1.5k EUR"),
        (12, "deals", "12"),
    ],
)
def test_value_labels_read_short(value, unit, text):
    assert value_label(value, unit) == text


@pytest.mark.parametrize(
    ("labels", "values"), [((), ()), (("a", "b"), (1.0,))], ids=["empty", "mismatched"]
)
def test_a_chart_without_one_value_per_label_is_refused(labels, values):
    with pytest.raises(ValueError, match="one value per label"):
        chart_png(Chart("bar", "Broken", labels, values))


def test_each_chart_is_uploaded_into_the_thread_and_a_broken_one_is_skipped():
    with SlackEmulator() as slack:
        slack.add_channel("C_SALES", "sales")
        root = slack.post_user_message("C_SALES", "U_REP", "how's the pipeline?")
        charts = [
            Chart("bar", "Broken: no values", ("a",), ()),
            Chart("bar", "Open pipeline by stage", STAGES, (1.0, 2.0, 3.0, 4.0)),
        ]
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        post_charts(client, channel="C_SALES", thread_ts=root.ts, charts=charts)
        [uploaded] = slack.files
    assert (uploaded.title, uploaded.name) == (
        "Open pipeline by stage",
        "open-pipeline-by-stage.png",
    )
    assert (uploaded.channel, uploaded.thread_ts) == ("C_SALES", root.ts)
    assert uploaded.content.startswith(PNG_SIGNATURE)
