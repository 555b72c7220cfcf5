"""PNG charts of a series (matplotlib, the optional ``charts`` extra)."""

from __future__ import annotations

import math
import struct
import sys
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.notify.charts import ChartSeries, ChartsUnavailable, render_png

pytest.importorskip("matplotlib", reason="charts need the charts extra")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def times(n: int, minutes: int = 5) -> list[datetime]:
    return [T0 + timedelta(minutes=minutes * i) for i in range(n)]


def size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def surge() -> ChartSeries:
    ts = times(48)
    values = [10.0 + i % 7 + (80 if 30 < i < 40 else 0) for i in range(48)]
    return ChartSeries(
        title="X1 充电宝质量投诉激增 · negative_count",
        timestamps=ts,
        values=values,
        baseline=[12.0] * 48,
        threshold=40.0,
        spans=[(ts[31], ts[40])],
        metric="negative_count",
    )


def test_a_full_chart_is_a_png_of_the_requested_size() -> None:
    png = render_png(surge(), width=8.0, height=3.0, dpi=100)
    assert png.startswith(PNG_SIGNATURE)
    assert size(png) == (800, 300)
    assert len(png) > 5_000
    assert zlib.crc32(png[12:29]) == struct.unpack(">I", png[29:33])[0]  # a well-formed IHDR chunk
    assert png.endswith(b"IEND\xaeB`\x82")


def test_rendering_is_deterministic() -> None:
    assert render_png(surge()) == render_png(surge())


@pytest.mark.parametrize(
    "series",
    [
        ChartSeries(title="空序列", timestamps=[], values=[]),
        ChartSeries(title="empty with threshold and span", timestamps=[], values=[], threshold=3.0, spans=[(T0, T0)]),
        ChartSeries(title="one point", timestamps=[T0], values=[4.0], baseline=[2.0], threshold=3.0),
        ChartSeries(title="gaps", timestamps=times(4), values=[1.0, math.nan, 3.0, math.nan], threshold=math.nan),
        ChartSeries(title="flat zero", timestamps=times(3), values=[0.0, 0.0, 0.0]),
    ],
    ids=["empty", "empty-with-extras", "one-point", "nan", "flat"],
)
def test_edge_cases_render(series: ChartSeries) -> None:
    png = render_png(series)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1_000


def test_chinese_text_renders_without_warnings(recwarn: pytest.WarningsRecorder) -> None:
    render_png(ChartSeries(title="负面声量 · 微博 · 产品=X1 充电宝", timestamps=times(3), values=[1.0, 2.0, 3.0]))
    assert [str(w.message) for w in recwarn.list if "Glyph" in str(w.message)] == []


def test_naive_and_other_time_zones_are_taken_as_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    aware = ChartSeries(title="t", timestamps=[t.astimezone(beijing) for t in times(3)], values=[1.0, 2.0, 3.0])
    naive = ChartSeries(title="t", timestamps=[t.replace(tzinfo=None) for t in times(3)], values=[1.0, 2.0, 3.0])
    assert render_png(aware) == render_png(naive)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 timestamps"):
        ChartSeries(title="t", timestamps=times(3), values=[1.0, 2.0])
    with pytest.raises(ValueError, match="1 baseline values for 3 timestamps"):
        ChartSeries(title="t", timestamps=times(3), values=[1.0, 2.0, 3.0], baseline=[1.0])
    with pytest.raises(ValueError, match="before it starts"):
        ChartSeries(title="t", timestamps=[], values=[], spans=[(T0, T0 - timedelta(minutes=1))])


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        render_png(surge(), width=0)


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ChartsUnavailable, match=r"install crisismon\[charts\]"):
        render_png(surge())


def test_chinese_is_drawn_with_the_shipped_cjk_font_without_system_fonts() -> None:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from monitor.notify.charts import _font_families
    from monitor.notify.fonts import cjk_font

    shipped = cjk_font()
    if shipped is None:
        pytest.skip("noto-cjk-sans-otc is not installed (the charts extra)")
    families = _font_families(font_manager)
    assert families[0] == "Noto Sans CJK SC"
    found = font_manager.fontManager.findfont(
        font_manager.FontProperties(family=families[0]), fallback_to_default=False
    )
    assert found == str(shipped)
    font = FT2Font(found)
    assert all(font.get_char_index(ord(c)) for c in "充电宝质量投诉激增暖居")


def test_times_are_drawn_in_the_configured_zone() -> None:
    from zoneinfo import ZoneInfo

    utc = render_png(surge())
    shanghai = render_png(surge(), zone=ZoneInfo("Asia/Shanghai"))
    assert utc != shanghai  # other tick labels and axis name
