"""Minutes until ready to leave had there been no 2-hour rule (REMS form), from the readings."""

from __future__ import annotations

from datetime import datetime, timedelta

from ketaclinic.clinical.monitoring import Vitals
from ketaclinic.clinical.rems_readiness import ready_to_leave_at

FIRST = datetime(2026, 11, 2, 9, 0)
END = FIRST + timedelta(minutes=125)
BASELINE = Vitals(120, 80, 70, 98, 14)


def at(minutes: int) -> datetime:
    return FIRST + timedelta(minutes=minutes)


def test_ready_at_the_first_reading_with_settled_pressure_and_moaas_5() -> None:
    readings = [
        (at(-5), BASELINE),
        (at(40), Vitals(150, 95, 80, 97, 14)),  # 150 is 25 % above 120: not near baseline
        (at(70), Vitals(140, 90, 76, 98, 14)),  # 140 within 20 % of 120 (144), 90 of 80 (96)
        (at(120), Vitals(122, 80, 72, 98, 14)),
    ]
    moaas = [(at(30), 4), (at(60), 5)]
    assert ready_to_leave_at(FIRST, END, BASELINE, readings, moaas) == at(70)


def test_not_ready_while_moaas_below_5() -> None:
    readings = [(at(-5), BASELINE), (at(40), Vitals(125, 82)), (at(120), Vitals(122, 80))]
    moaas = [(at(30), 3), (at(100), 5)]
    # MOAA/S 5 at 100 minutes with the 40-minute reading still the latest: ready at 100.
    assert ready_to_leave_at(FIRST, END, BASELINE, readings, moaas) == at(100)


def test_alerting_vitals_hold_the_patient() -> None:
    readings = [(at(-5), BASELINE), (at(40), Vitals(125, 82, 125)), (at(90), Vitals(124, 80, 88))]
    moaas = [(at(35), 5)]
    # Heart rate 125 is above 120 at 40 minutes; ready at the 90-minute reading.
    assert ready_to_leave_at(FIRST, END, BASELINE, readings, moaas) == at(90)


def test_never_ready_before_the_end_gives_the_end() -> None:
    readings = [(at(-5), BASELINE), (at(40), Vitals(170, 100))]
    assert ready_to_leave_at(FIRST, END, BASELINE, readings, [(at(40), 5)]) == END
    assert ready_to_leave_at(FIRST, END, BASELINE, readings, []) == END
