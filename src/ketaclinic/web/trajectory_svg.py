"""A patient's trajectory on one scale, drawn on the server as SVG (issue 6, item 5): the score
over time as a line with a dot per score, a vertical line at each dosing session, the scale's
severity bands shaded behind (from clinical/scales.py), and the response line (half the
baseline) dashed. No script; a title and a description say what it shows, each dot and marker
has its own title, and the page and the report list the same scores in a table.

The drawing is a string of SVG (attributes carry the colours, so it looks the same on the page
and in the PDF, where the page's stylesheet does not apply); every text in it is escaped.

Geometry: time runs left to right from the earliest to the latest of the scores and sessions
(at least MIN_SPAN, added after the latest when they are closer); the score runs bottom to top
from 0 to the scale's maximum. A point at time t with total v is drawn at
x = PLOT_LEFT + (t - first) / span * PLOT_WIDTH and y = PLOT_TOP + (1 - v / top) * PLOT_HEIGHT,
rounded to 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

from ketaclinic.services.outcomes_view import DosingSession, ScaleOutcome

WIDTH = 720
HEIGHT = 280
PLOT_LEFT = 48
PLOT_TOP = 16
PLOT_WIDTH = 560
PLOT_HEIGHT = 220
# Room on the right for the band names, below for the dates.
MIN_SPAN = timedelta(days=7)
# Light to dark with severity; each band also carries its name, never the colour alone.
BAND_FILLS = ("#eef6ee", "#f6f4e6", "#faeedd", "#f8e2d8", "#f3d3d3")
LINE = "#0b5cad"
MARKER = "#6a3fa0"
RESPONSE_LINE = "#1f7a3a"
INK = "#1b1f24"
MUTED = "#545d68"

SOURCE = (
    "issue 6, item 5: trajectory per scale with session markers and severity bands; bands from "
    "clinical/scales.py"
)


@dataclass(frozen=True)
class BandArea:
    label: str
    low: int
    high: int
    y: float
    height: float
    fill: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    total: float
    taken: datetime
    band: str | None


@dataclass(frozen=True)
class Marker:
    x: float
    number: int
    at: datetime


@dataclass(frozen=True)
class Trajectory:
    scale_id: str
    name: str
    top: int
    first: datetime
    last: datetime
    bands: tuple[BandArea, ...]
    points: tuple[Point, ...]
    markers: tuple[Marker, ...]
    response_line_y: float | None
    description: str


def _x(at: datetime, first: datetime, span: timedelta) -> float:
    return round(PLOT_LEFT + (at - first) / span * PLOT_WIDTH, 1)


def _y(value: float | Fraction, top: int) -> float:
    return round(PLOT_TOP + (1 - float(value) / top) * PLOT_HEIGHT, 1)


def _bands(outcome: ScaleOutcome, top: int) -> tuple[BandArea, ...]:
    """Each band from its lowest total up to the next band's lowest (the scale's top for the
    last), so that the bands tile the axis without gaps between whole numbers."""
    bands = outcome.scale.bands
    areas = []
    for index, band in enumerate(bands):
        upper = bands[index + 1].low if index + 1 < len(bands) else top
        y_top = _y(upper, top)
        areas.append(
            BandArea(
                band.label,
                band.low,
                band.high,
                y_top,
                round(_y(band.low, top) - y_top, 1),
                BAND_FILLS[min(index, len(BAND_FILLS) - 1)],
            )
        )
    return tuple(areas)


def _description(outcome: ScaleOutcome, sessions: Sequence[DosingSession]) -> str:
    rows = outcome.rows
    words = [
        f"{len(rows)} score{'s' if len(rows) != 1 else ''} from "
        f"{rows[0].taken:%Y-%m-%d} to {rows[-1].taken:%Y-%m-%d}",
        f"latest {rows[-1].total:g}" + (f" ({rows[-1].band})" if rows[-1].band else ""),
    ]
    course = outcome.course
    if course is not None and course.baseline is not None:
        words.append(f"baseline {course.baseline.total:g}")
    if outcome.level is not None:
        words.append(f"now: {outcome.level}")
    count = len(sessions)
    words.append(
        f"{count} dosing session{'s' if count != 1 else ''} marked as vertical lines"
        if count
        else "no dosing session yet"
    )
    if outcome.scale.bands:
        words.append("severity bands shaded: " + ", ".join(b.label for b in outcome.scale.bands))
    return "; ".join(words) + "."


def trajectory(outcome: ScaleOutcome, sessions: Sequence[DosingSession]) -> Trajectory | None:
    """The drawing of one scale; None when it has no total to draw (C-SSRS) or no score."""
    total_range = outcome.scale.total_range
    if total_range is None or not outcome.rows:
        return None
    top = total_range[1]
    moments = [r.taken for r in outcome.rows] + [s.at for s in sessions]
    first, last = min(moments), max(moments)
    if last - first < MIN_SPAN:
        last = first + MIN_SPAN
    span = last - first
    points = tuple(
        Point(_x(r.taken, first, span), _y(r.total, top), r.total, r.taken, r.band)
        for r in outcome.rows
    )
    markers = tuple(Marker(_x(s.at, first, span), s.number, s.at) for s in sessions)
    line = outcome.response_line
    return Trajectory(
        scale_id=outcome.scale.id,
        name=outcome.scale.name,
        top=top,
        first=first,
        last=last,
        bands=_bands(outcome, top),
        points=points,
        markers=markers,
        response_line_y=_y(line, top) if line is not None else None,
        description=_description(outcome, sessions),
    )


def _text(x: float, y: float, words: str, fill: str = MUTED, **attributes: str) -> str:
    extra = "".join(
        f" {k.rstrip('_').replace('_', '-')}={quoteattr(v)}" for k, v in attributes.items()
    )
    return f'<text x="{x}" y="{y}" font-size="11" fill="{fill}"{extra}>{escape(words)}</text>'


def svg(drawing: Trajectory, id_prefix: str = "trajectory") -> Markup:
    """The drawing as an ``<svg>`` element, safe to put in a page as it is."""
    ident = f"{id_prefix}-{drawing.scale_id}"
    bottom = PLOT_TOP + PLOT_HEIGHT
    right = PLOT_LEFT + PLOT_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" style="max-width: 100%; height: auto" '
        'role="img" class="trajectory" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(drawing.name)} over time</title>',
        f'<desc id="{ident}-desc">{escape(drawing.description)}</desc>',
        '<g class="bands">',
    ]
    for band in drawing.bands:
        parts.append(
            f'<rect class="band" x="{PLOT_LEFT}" y="{band.y}" width="{PLOT_WIDTH}" '
            f'height="{band.height}" fill="{band.fill}" data-band={quoteattr(band.label)}>'
            f"<title>{escape(f'{band.label}: {band.low}-{band.high}')}</title></rect>"
        )
        parts.append(
            _text(right + 4, round(band.y + band.height / 2 + 4, 1), band.label, class_="band-name")
        )
    parts.append("</g>")
    parts.append(
        f'<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" '
        f'fill="none" stroke="{MUTED}" stroke-width="1"/>'
    )
    for value in sorted({0, drawing.top, *(b.low for b in drawing.bands)}):
        y = _y(value, drawing.top)
        parts.append(_text(PLOT_LEFT - 6, round(y + 4, 1), str(value), text_anchor="end"))
    parts.append(_text(PLOT_LEFT, bottom + 16, f"{drawing.first:%Y-%m-%d}"))
    parts.append(_text(right, bottom + 16, f"{drawing.last:%Y-%m-%d}", text_anchor="end"))
    if drawing.response_line_y is not None:
        parts.append(
            f'<line class="response-line" x1="{PLOT_LEFT}" x2="{right}" '
            f'y1="{drawing.response_line_y}" y2="{drawing.response_line_y}" '
            f'stroke="{RESPONSE_LINE}" stroke-width="1.5" stroke-dasharray="6 4">'
            "<title>Response line: half the baseline</title></line>"
        )
    parts.append('<g class="sessions">')
    for marker in drawing.markers:
        parts.append(
            f'<line class="session-marker" x1="{marker.x}" x2="{marker.x}" y1="{PLOT_TOP}" '
            f'y2="{bottom}" stroke="{MARKER}" stroke-width="1.5" stroke-dasharray="2 3">'
            f"<title>{escape(f'Dosing session {marker.number}, {marker.at:%Y-%m-%d %H:%M}')}"
            "</title></line>"
        )
    parts.append("</g>")
    if len(drawing.points) > 1:
        path = " ".join(f"{p.x},{p.y}" for p in drawing.points)
        parts.append(
            f'<polyline class="score-line" points="{path}" fill="none" stroke="{LINE}" '
            'stroke-width="2"/>'
        )
    parts.append('<g class="scores">')
    for point in drawing.points:
        said = f"{point.taken:%Y-%m-%d %H:%M}: {point.total:g}"
        if point.band:
            said += f" ({point.band})"
        parts.append(
            f'<circle class="score" cx="{point.x}" cy="{point.y}" r="4" fill="{LINE}" '
            f'stroke="#ffffff" stroke-width="1"><title>{escape(said)}</title></circle>'
        )
    parts.append("</g>")
    parts.append(_text(PLOT_LEFT, HEIGHT - 6, "Score over time", fill=INK))
    parts.append("</svg>")
    return Markup("".join(parts))


def chart_of(outcome: ScaleOutcome, sessions: Sequence[DosingSession], id_prefix: str) -> Markup:
    """The scale's SVG, or nothing when there is nothing to draw."""
    drawing = trajectory(outcome, sessions)
    return svg(drawing, id_prefix) if drawing is not None else Markup("")
