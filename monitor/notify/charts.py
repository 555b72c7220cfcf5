"""PNG charts of a metric series: value, baseline, threshold and firing spans.

The only module of crisismon that imports matplotlib, and only inside :func:`render_png`:
matplotlib is the optional ``charts`` extra, so importing this module never needs it. When
it is missing, :func:`render_png` raises :class:`ChartsUnavailable`.

Rendering uses matplotlib's object API (``Figure`` + the Agg canvas), never ``pyplot``: no
global figure registry, no GUI backend, safe to call from worker threads. Chinese titles and
labels use the first CJK font found on the machine (Noto/Source Han, WenQuanYi, PingFang,
YaHei, SimHei…) with DejaVu Sans as the fallback; without any CJK font the chart is still
rendered, with the missing glyphs drawn as boxes. The Noto Sans CJK font shipped by the
``noto-cjk-sans-otc`` package (part of the ``charts`` extra) is registered with
``font_manager.addfont`` at first use, so Chinese renders on a fresh machine with no system
font and no font-cache rebuild (:mod:`monitor.notify.fonts`).

Times are shown in the ``zone`` given to :func:`render_png` (the config's ``timezone``;
default UTC). Naive datetimes are taken to be UTC.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

#: CJK fonts tried in order (only the ones installed are used), then DejaVu Sans.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "SimHei",
    "Arial Unicode MS",
)
FALLBACK_FONT = "DejaVu Sans"

VALUE_COLOR = "#1f4e9c"
BASELINE_COLOR = "#6b6b6b"
THRESHOLD_COLOR = "#c62828"
SPAN_COLOR = "#f4a261"


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed."""

    def __init__(self, detail: str = "") -> None:
        message = "charts need matplotlib: install crisismon[charts]"
        super().__init__(f"{message} ({detail})" if detail else message)


@dataclass(frozen=True)
class ChartSeries:
    """One metric over time, as a chart shows it.

    ``values[i]`` (and ``baseline[i]``) belong to the bucket starting at ``timestamps[i]``;
    NaN leaves a gap. ``spans`` are the (start, end) intervals during which the rule was
    firing; they are shaded. ``metric`` labels the y axis.
    """

    title: str
    timestamps: list[datetime]
    values: list[float]
    baseline: list[float] | None = None
    threshold: float | None = None
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    metric: str = "count"

    def __post_init__(self) -> None:
        if len(self.values) != len(self.timestamps):
            raise ValueError(f"{len(self.values)} values for {len(self.timestamps)} timestamps")
        if self.baseline is not None and len(self.baseline) != len(self.timestamps):
            raise ValueError(f"{len(self.baseline)} baseline values for {len(self.timestamps)} timestamps")
        for start, end in self.spans:
            if _utc(end) < _utc(start):
                raise ValueError(f"span ends ({end.isoformat()}) before it starts ({start.isoformat()})")


def render_png(
    series: ChartSeries, *, width: float = 8.0, height: float = 3.0, dpi: int = 100, zone: tzinfo = UTC
) -> bytes:
    """The chart of ``series`` as PNG bytes (``width`` x ``height`` inches at ``dpi``), times in ``zone``.

    Raises :class:`ChartsUnavailable` when matplotlib is not installed.
    """
    if width <= 0 or height <= 0 or dpi <= 0:
        raise ValueError(f"chart size must be positive, got {width}x{height} in at {dpi} dpi")
    mpl = _matplotlib()
    with mpl["rc_context"]({"font.family": _font_families(mpl["font_manager"]), "axes.unicode_minus": False}):
        figure = mpl["Figure"](figsize=(width, height), dpi=dpi, layout="constrained")
        mpl["FigureCanvasAgg"](figure)
        axes = figure.subplots()
        _draw(axes, series, mpl["dates"], zone)
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            warnings.filterwarnings("ignore", message=".*constrained_layout not applied.*")
            figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _matplotlib() -> dict[str, Any]:
    """matplotlib's pieces, imported on first use (Agg canvas: no display needed)."""
    try:
        from matplotlib import dates, font_manager
        from matplotlib import rc_context as rc_context
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ChartsUnavailable(str(exc)) from exc
    return {
        "dates": dates,
        "font_manager": font_manager,
        "rc_context": rc_context,
        "FigureCanvasAgg": FigureCanvasAgg,
        "Figure": Figure,
    }


_installed_fonts: list[str] | None = None


def _font_families(font_manager: Any) -> list[str]:
    """The installed CJK fonts of :data:`CJK_FONTS` followed by DejaVu Sans."""
    global _installed_fonts
    if _installed_fonts is None:
        from monitor.notify.fonts import cjk_font

        shipped = cjk_font()
        if shipped is not None:
            font_manager.fontManager.addfont(str(shipped))
        names = {font.name for font in font_manager.fontManager.ttflist}
        _installed_fonts = [name for name in CJK_FONTS if name in names]
    return [*_installed_fonts, FALLBACK_FONT]


def _draw(axes: Any, series: ChartSeries, dates: Any, zone: tzinfo) -> None:
    times = [_utc(t) for t in series.timestamps]
    for start, end in series.spans:
        axes.axvspan(_utc(start), _utc(end), color=SPAN_COLOR, alpha=0.25, linewidth=0, label=None)
    if times:
        edges = _edges(times)
        axes.step(
            edges, _last_twice(series.values), where="post", color=VALUE_COLOR, linewidth=1.6, label=series.metric
        )
        if series.baseline is not None:
            axes.step(
                edges,
                _last_twice(series.baseline),
                where="post",
                color=BASELINE_COLOR,
                linestyle="--",
                linewidth=1.2,
                label="baseline",
            )
    else:
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center", color=BASELINE_COLOR)
    if series.threshold is not None and math.isfinite(series.threshold):
        axes.axhline(series.threshold, color=THRESHOLD_COLOR, linestyle=":", linewidth=1.2, label="threshold")
    if series.spans:
        axes.plot([], [], color=SPAN_COLOR, alpha=0.5, linewidth=6, label="firing")
    _style(axes, series, dates, bool(times) or bool(series.spans), zone)


def _style(axes: Any, series: ChartSeries, dates: Any, has_time: bool, zone: tzinfo) -> None:
    axes.set_title(series.title, loc="left", fontsize=11)
    axes.set_ylabel(series.metric)
    axes.grid(True, axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if has_time:
        locator = dates.AutoDateLocator(tz=zone)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator, tz=zone))
        axes.set_xlabel(str(zone))
    else:
        axes.set_xticks([])
    handles, _ = axes.get_legend_handles_labels()
    if handles:
        axes.legend(loc="best", fontsize=8, frameon=False)


def _edges(times: list[datetime]) -> list[datetime]:
    """Bucket starts plus the end of the last bucket (one bucket width after its start)."""
    width = times[-1] - times[-2] if len(times) > 1 else None
    return [*times, times[-1] + width] if width else [*times, times[-1]]


def _last_twice(values: list[float]) -> list[float]:
    """The values with the last repeated, so that a post-step draws the last bucket too."""
    floats = [float(v) if v is not None else math.nan for v in values]
    return [*floats, floats[-1]]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
