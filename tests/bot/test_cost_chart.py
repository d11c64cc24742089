"""The cost sparkline and the daily cost PNG."""

import io
import subprocess
import sys
import threading
from datetime import date, timedelta

import numpy as np
import pytest
from PIL import Image

from bot.cost_chart import daily_cost_png, sparkline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BAR = (0x9A, 0xA5, 0xB1)
LAST_BAR = (0x1F, 0x6F, 0xEB)


def _days(values, start=date(2026, 3, 1)):
    return [(start + timedelta(days=n), v) for n, v in enumerate(values)]


def _decode(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _columns_of(pixels, rgb):
    return np.nonzero((pixels == rgb).all(axis=2).any(axis=0))[0]


# --- sparkline -----------------------------------------------------------------------------


def test_sparkline_of_nothing_is_empty():
    assert sparkline([]) == ""


def test_all_zero_is_a_flat_floor():
    assert sparkline([0, 0, 0, 0]) == "▁▁▁▁"


def test_sparkline_has_one_block_per_value_and_the_maximum_is_full():
    line = sparkline([3, 9, 0, 9, 1])
    assert len(line) == 5
    assert line[1] == line[3] == "█"
    assert line[2] == "▁"


def test_an_increasing_series_never_steps_down_and_spans_every_block():
    line = sparkline(list(range(0, 80_000_001, 1_000_000)))
    assert list(line) == sorted(line, key="▁▂▃▄▅▆▇█".index)
    assert set(line) == set("▁▂▃▄▅▆▇█")


def test_sparkline_scales_from_zero_not_from_the_minimum():
    assert sparkline([1_000_000, 1_000_000, 1_000_001]) == "███"
    assert sparkline([0, 4, 8]) == "▁▅█"


def test_negative_values_count_as_zero():
    assert sparkline([-5, 10]) == "▁█"


# --- PNG -----------------------------------------------------------------------------------


def test_the_chart_is_a_900_by_360_png():
    png = daily_cost_png(_days([1_250_000, 3_000_000, 500_000] * 10), title="Last 30 days")
    assert png.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(png)).size == (900, 360)


def test_only_the_latest_day_is_highlighted_and_it_is_the_rightmost_bar():
    shuffled = list(reversed(_days([2_000_000] * 6 + [1_000_000])))
    pixels = _decode(daily_cost_png(shuffled, title="Week"))
    bar_columns, last_columns = _columns_of(pixels, BAR), _columns_of(pixels, LAST_BAR)
    assert len(bar_columns) and len(last_columns)
    assert last_columns.min() > bar_columns.max()


@pytest.mark.parametrize(
    "values", [[0] * 14, [1_234_567], [7], [0, 0, 5_000_000]], ids=["zero", "one", "tiny", "gap"]
)
def test_edge_series_render(values):
    pixels = _decode(daily_cost_png(_days(values), title="Edge"))
    assert pixels.shape == (360, 900, 3)


def test_a_span_over_new_year_renders():
    png = daily_cost_png(_days([100_000] * 40, start=date(2025, 12, 10)), title="Holidays")
    assert Image.open(io.BytesIO(png)).size == (900, 360)


def test_no_days_is_refused():
    with pytest.raises(ValueError):
        daily_cost_png([], title="Nothing")


def test_threads_can_draw_at_once():
    results, errors = [], []

    def draw(n):
        try:
            results.append(daily_cost_png(_days([n * 100_000 + 1] * 30), title=f"t{n}"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=draw, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(Image.open(io.BytesIO(png)).size == (900, 360) for png in results)


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, bot.cost_chart; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
