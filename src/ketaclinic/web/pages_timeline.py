"""The medication-trial timeline of the chart: one lane per ingredient, one bar per
prescription (so a dose change shows as the next bar in the lane), the daily dose in the bar's
label, the bar coloured by the trial outcome. Drawn on the server as inline SVG: no script, and
the table beside it says the same in words for screen readers and for printing.

Only geometry is computed here; templates/_timeline.svg.html draws it (auto-escaped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from ketaclinic.services.charting import TrialLine
from ketaclinic.store.models import MedicationRecord

WIDTH = 960
LABEL_WIDTH = 190
RIGHT_MARGIN = 64
TOP = 30
LANE_HEIGHT = 54
BAR_HEIGHT = 22
MIN_BAR_WIDTH = 6
# A prescription stopped or completed with no end date has an unknown length: drawn as a short
# open-ended stub rather than guessed.
UNKNOWN_LENGTH = timedelta(days=14)
MIN_SPAN = timedelta(days=60)

# Outcome colours, each with its words in the legend, the bar's title and the table (never the
# colour alone). Chosen for contrast on white and to stay apart for red-green colour blindness.
OUTCOME_FILL = {
    "no-response": "#b3261e",
    "partial-response": "#c76b00",
    "response": "#1f7a3a",
    "remission": "#0d5c2a",
    "intolerance": "#6a3fa0",
}
DESCRIBED_FILL = "#3d6a99"
UNKNOWN_FILL = "#8a939d"
LEGEND = (
    ("No response", OUTCOME_FILL["no-response"]),
    ("Partial response", OUTCOME_FILL["partial-response"]),
    ("Response", OUTCOME_FILL["response"]),
    ("Remission", OUTCOME_FILL["remission"]),
    ("Intolerance", OUTCOME_FILL["intolerance"]),
    ("Described in words", DESCRIBED_FILL),
    ("Outcome not recorded", UNKNOWN_FILL),
)
_UNIT_DAYS = {"h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0}


def daily_dose_mg(row: MedicationRecord) -> float | None:
    """Dose x frequency per period, per day; None without a dose or a known period unit."""
    if row.dose_mg is None:
        return None
    frequency = row.frequency or 1
    period = row.period or 1
    unit_days = _UNIT_DAYS.get(row.period_unit or "d")
    if unit_days is None:
        return None
    return row.dose_mg * frequency / (period * unit_days)


def dose_words(row: MedicationRecord) -> str:
    """ "100 mg daily", "50 mg twice daily", "75 mg 3 times every 1 wk (32 mg a day)"."""
    if row.dose_mg is None:
        return "dose not recorded"
    frequency = row.frequency or 1
    period = row.period or 1
    unit = row.period_unit or "d"
    if unit == "d" and period == 1:
        how = {1: "daily", 2: "twice daily"}.get(frequency, f"{frequency} times daily")
        return f"{row.dose_mg:g} mg {how}"
    daily = daily_dose_mg(row)
    per_day = f" ({daily:.3g} mg a day)" if daily is not None else ""
    return f"{row.dose_mg:g} mg {frequency} times every {period:g} {unit}{per_day}"


def ongoing(row: MedicationRecord) -> bool:
    return row.end is None and row.status in ("active", "on-hold", "intended")


def last_day(row: MedicationRecord, today: date) -> date | None:
    """The day the prescription ended, today when still taken, None when its length is
    unknown."""
    if row.end is not None:
        return row.end
    if ongoing(row):
        return today
    return None


def weeks_taken(row: MedicationRecord, today: date) -> float | None:
    end = last_day(row, today)
    if row.start is None or end is None:
        return None
    return round((end - row.start).days / 7, 1)


def outcome_fill(row: MedicationRecord) -> str:
    if row.outcome in OUTCOME_FILL:
        return OUTCOME_FILL[row.outcome]
    return DESCRIBED_FILL if row.outcome_text else UNKNOWN_FILL


def outcome_words(row: MedicationRecord) -> str:
    words = {
        "no-response": "No response",
        "partial-response": "Partial response",
        "response": "Response",
        "remission": "Remission",
        "intolerance": "Intolerance",
    }.get(row.outcome or "")
    if words and row.outcome_text:
        return f"{words} ({row.outcome_text})"
    return words or row.outcome_text or "Outcome not recorded"


@dataclass(frozen=True)
class Bar:
    record_id: int
    x: float
    y: float
    width: float
    height: float
    fill: str
    label: str
    title: str
    open_end: bool


@dataclass(frozen=True)
class Lane:
    y: float
    label: str
    outcome: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    x: float
    label: str
    # Labels near the right edge end at their line instead of running off the drawing.
    anchor: str = "start"


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_right: int
    lanes: tuple[Lane, ...]
    ticks: tuple[Tick, ...]
    today_x: float
    # Prescriptions with no start date cannot be placed in time; the table lists them.
    undrawn: int


def _month_starts(first: date, last: date, every: int) -> list[date]:
    months: list[date] = []
    day = date(first.year, first.month, 1)
    if day < first:
        day = _add_months(day, 1)
    while day <= last:
        if (day.year * 12 + day.month - 1) % every == 0:
            months.append(day)
        day = _add_months(day, 1)
    return months


def _add_months(day: date, count: int) -> date:
    index = day.year * 12 + day.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _ticks(first: date, last: date, x_of: Callable[[date], float]) -> list[Tick]:
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    # At most about eight labels, on calendar boundaries a reader expects.
    every = next(n for n in (1, 2, 3, 6, 12, 24, 60, 120) if months / n <= 8)
    ticks = []
    for day in _month_starts(first, last, every):
        label = str(day.year) if every >= 12 else day.strftime("%b %Y")
        x = x_of(day)
        ticks.append(Tick(x, label, "end" if x > WIDTH - RIGHT_MARGIN - 40 else "start"))
    return ticks


def trial_timeline(lines: list[TrialLine], today: date) -> Timeline | None:
    """The drawing of the chart's trial lines up to today; None when there is nothing to draw."""
    starts = [p.start for line in lines for p in line.prescriptions if p.start is not None]
    if not starts:
        return None
    ends = [
        last_day(p, today) or (p.start + UNKNOWN_LENGTH)
        for line in lines
        for p in line.prescriptions
        if p.start is not None
    ]
    first = min(starts)
    last = max([today, *ends])
    if last - first < MIN_SPAN:
        first = last - MIN_SPAN
    plot_left = LABEL_WIDTH
    plot_right = WIDTH - RIGHT_MARGIN
    span_days = (last - first).days

    def x_of(day: date) -> float:
        return round(plot_left + (day - first).days / span_days * (plot_right - plot_left), 1)

    lanes: list[Lane] = []
    undrawn = 0
    for index, line in enumerate(lines):
        lane_y = TOP + index * LANE_HEIGHT
        bars: list[Bar] = []
        for row in line.prescriptions:
            if row.start is None:
                undrawn += 1
                continue
            end = last_day(row, today)
            x = x_of(row.start)
            width = max(MIN_BAR_WIDTH, x_of(end or row.start + UNKNOWN_LENGTH) - x)
            period = f"{row.start.isoformat()} to {end.isoformat() if end else 'end unknown'}"
            if end == today and row.end is None:
                period = f"since {row.start.isoformat()}, still taken"
            bars.append(
                Bar(
                    record_id=row.id,
                    x=x,
                    y=lane_y + LANE_HEIGHT - BAR_HEIGHT - 8,
                    width=round(width, 1),
                    height=BAR_HEIGHT,
                    fill=outcome_fill(row),
                    label=dose_words(row),
                    title=f"{row.name}: {dose_words(row)}, {period}; {outcome_words(row)}",
                    open_end=end is None,
                )
            )
        newest = line.prescriptions[-1]
        lanes.append(Lane(lane_y, line.ingredient, outcome_words(newest), tuple(bars)))
    height = TOP + len(lines) * LANE_HEIGHT + 10
    return Timeline(
        width=WIDTH,
        height=height,
        plot_left=plot_left,
        plot_right=plot_right,
        lanes=tuple(lanes),
        ticks=tuple(_ticks(first, last, x_of)),
        today_x=x_of(today),
        undrawn=undrawn,
    )
