"""The trajectory SVG (issue 6, item 5), with positions worked out by hand from the geometry in
web/trajectory_svg.py: plot 560 x 220 from (48, 16); x = 48 + (t - first) / span * 560,
y = 16 + (1 - score / top) * 220, rounded to 0.1. Rows are built in memory: no database."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime

from ketaclinic.clinical.scales import SCALES, score
from ketaclinic.services.outcomes_view import DosingSession, ScaleOutcome, scale_outcome
from ketaclinic.store.models import QuestionnaireResponse
from ketaclinic.web.trajectory_svg import chart_of, svg, trajectory
from tests.integration.outcomes_support import answers_for

SVG = "{http://www.w3.org/2000/svg}"


def row(n: int, scale_id: str, taken: datetime, total: int) -> QuestionnaireResponse:
    result = score(scale_id, answers_for(scale_id, total))
    return QuestionnaireResponse(
        id=n,
        patient_id=1,
        scale=scale_id,
        answers=json.dumps(list(result.answers)),
        total=float(total),
        band=result.band,
        completed_at=taken,
        session_id=None,
    )


# PHQ-9 (top 27) over one week: 27 on 1 Oct 00:00 (the baseline), 9 on 4 Oct 12:00, 0 on 8 Oct
# 00:00; dosing sessions on 3 Oct and 5 Oct at 00:00. first = 1 Oct, last = 8 Oct, span 7 days.
SESSIONS = (
    DosingSession(session_id=11, plan_id=1, number=1, at=datetime(2026, 10, 3)),
    DosingSession(session_id=12, plan_id=1, number=2, at=datetime(2026, 10, 5)),
)


def phq9() -> ScaleOutcome:
    rows = [
        row(1, "phq9", datetime(2026, 10, 1), 27),
        row(2, "phq9", datetime(2026, 10, 4, 12), 9),
        row(3, "phq9", datetime(2026, 10, 8), 0),
    ]
    return scale_outcome(SCALES["phq9"], rows, [s.at for s in SESSIONS])


def parsed(outcome: ScaleOutcome) -> ET.Element:
    return ET.fromstring(str(chart_of(outcome, SESSIONS, "test")))


def test_points_sit_where_worked_out_by_hand() -> None:
    root = parsed(phq9())
    circles = root.findall(f".//{SVG}circle[@class='score']")
    placed = [(float(c.get("cx", "")), float(c.get("cy", ""))) for c in circles]
    # 27 at the start: (48, 16). 9 after 3.5 of 7 days: x = 48 + 280 = 328,
    # y = 16 + (1 - 9/27) * 220 = 16 + 146.67 = 162.7. 0 at the end: (608, 236).
    assert placed == [(48.0, 16.0), (328.0, 162.7), (608.0, 236.0)]
    line = root.find(f".//{SVG}polyline[@class='score-line']")
    assert line is not None and line.get("points") == "48.0,16.0 328.0,162.7 608.0,236.0"
    titles = [c.findtext(f"{SVG}title") for c in circles]
    assert titles[1] == "2026-10-04 12:00: 9 (mild)"


def test_one_marker_per_dosing_session() -> None:
    root = parsed(phq9())
    markers = root.findall(f".//{SVG}line[@class='session-marker']")
    # 3 Oct: 2/7 of 560 = 160 -> 208; 5 Oct: 4/7 of 560 = 320 -> 368.
    assert [float(m.get("x1", "")) for m in markers] == [208.0, 368.0]
    assert all(m.get("x1") == m.get("x2") for m in markers)
    assert [(m.get("y1"), m.get("y2")) for m in markers] == [("16", "236")] * 2
    assert [m.findtext(f"{SVG}title") for m in markers] == [
        "Dosing session 1, 2026-10-03 00:00",
        "Dosing session 2, 2026-10-05 00:00",
    ]


def test_severity_bands_are_shaded_from_the_scale() -> None:
    root = parsed(phq9())
    bands = root.findall(f".//{SVG}rect[@class='band']")
    assert [b.get("data-band") for b in bands] == [
        "minimal",
        "mild",
        "moderate",
        "moderately severe",
        "severe",
    ]
    # minimal 0-4 shaded from 0 up to 5: y(5) = 16 + 22/27 * 220 = 195.3, down to y(0) = 236.
    assert (bands[0].get("y"), bands[0].get("height")) == ("195.3", "40.7")
    # severe 20-27: y(27) = 16 down to y(20) = 16 + 7/27 * 220 = 73.0.
    assert (bands[-1].get("y"), bands[-1].get("height")) == ("16.0", "57.0")
    assert len({b.get("fill") for b in bands}) == 5


def test_response_line_is_half_the_baseline() -> None:
    root = parsed(phq9())
    line = root.find(f".//{SVG}line[@class='response-line']")
    # Baseline 27 (the score before the first session); half is 13.5: y = 16 + 0.5 * 220.
    assert line is not None and line.get("y1") == line.get("y2") == "126.0"


def test_the_drawing_is_labelled_for_screen_readers() -> None:
    root = parsed(phq9())
    assert root.get("role") == "img"
    title_id, desc_id = (root.get("aria-labelledby") or "").split()
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == title_id == "test-phq9-title"
    assert desc is not None and desc.get("id") == desc_id
    assert title.text == "PHQ-9 over time"
    assert desc.text is not None
    assert "3 scores from 2026-10-01 to 2026-10-08" in desc.text
    assert "baseline 27" in desc.text and "2 dosing sessions" in desc.text
    assert root.find(f".//{SVG}script") is None


def test_a_single_score_spans_the_minimum_week() -> None:
    outcome = scale_outcome(SCALES["gad7"], [row(1, "gad7", datetime(2026, 10, 1), 21)], [])
    drawing = trajectory(outcome, [])
    assert drawing is not None
    assert drawing.last == datetime(2026, 10, 8)
    [point] = drawing.points
    assert (point.x, point.y) == (48.0, 16.0)  # GAD-7 top is 21
    assert drawing.markers == () and drawing.response_line_y is None
    ET.fromstring(str(svg(drawing)))


def test_nothing_is_drawn_for_the_cssrs_risk_level() -> None:
    cssrs = scale_outcome(
        SCALES["cssrs_screener"],
        [row(1, "cssrs_screener", datetime(2026, 10, 1), 0)],
        [],
    )
    assert trajectory(cssrs, []) is None
    assert str(chart_of(cssrs, [], "x")) == ""
