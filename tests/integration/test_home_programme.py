"""The home programme (issue 5 item 5) on SQLite and PostgreSQL: a PDMP check before each home
prescription, check-ins before each home dose, the diary, missed check-ins, never above the plan.

The plan is an oral plan of 100 mg (rems_rows.plan_row); the clinic's clock starts on
2026-11-01 09:00 (services_support.NOW).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from ketaclinic.services import home_programme as home
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.home_programme import CheckinIn, HomeDoseIn
from tests.integration.rems_rows import plan_row
from tests.integration.services_support import NOW, Clinic, open_clinic


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def oral_plan(clinic: Clinic, route: str = "oral", dose: float | None = 100, **kw: str) -> int:
    patient = clinic.register(f"HOME-{route}-{dose}-{kw.get('status', 'active')}")
    return plan_row(clinic, patient.id, route, dose, **kw)


def refused(clinic: Clinic, field: str, write: object) -> str:
    """``write(session)`` refused on ``field`` with nothing written; the message."""
    before = clinic.counts()
    with pytest.raises(InvalidInput) as caught, clinic.work() as s:
        write(s)  # type: ignore[operator]
    assert caught.value.field == field, caught.value
    assert clinic.counts() == before
    return caught.value.message


def pdmp(clinic: Clinic, plan_id: int, result: str = "clear", note: str | None = None) -> int:
    with clinic.work() as s:
        return home.record_pdmp_check(s, clinic.prescriber, clinic.clock, plan_id, result, note).id


def prescribe(clinic: Clinic, plan_id: int, dose: float = 100, doses: int = 2) -> int:
    with clinic.work() as s:
        return home.write_home_prescription(
            s, clinic.prescriber, clinic.clock, plan_id, dose, doses
        ).id


def checkin(clinic: Clinic, plan_id: int, sitter: bool = True, no_driving: bool = True) -> int:
    with clinic.work() as s:
        return home.record_checkin(
            s, clinic.nurse, clinic.clock, plan_id, CheckinIn(sitter, no_driving, "mild nausea")
        ).id


# ---- PDMP checks and prescriptions ---------------------------------------------------------------


def test_prescription_needs_a_pdmp_check_before_it(clinic: Clinic) -> None:
    plan_id = oral_plan(clinic)
    message = refused(
        clinic,
        "pdmp",
        lambda s: home.write_home_prescription(s, clinic.prescriber, clinic.clock, plan_id, 100, 4),
    )
    assert message == "no prescription-monitoring (PDMP) check recorded before it"
    pdmp(clinic, plan_id)
    first = prescribe(clinic, plan_id, 100, 4)  # equal to the plan's 100 mg: allowed
    assert first > 0
    # The check cleared that prescription; a second one needs a new check.
    message = refused(
        clinic,
        "pdmp",
        lambda s: home.write_home_prescription(s, clinic.prescriber, clinic.clock, plan_id, 50, 4),
    )
    assert "already cleared another prescription" in message
    pdmp(clinic, plan_id)
    prescribe(clinic, plan_id, 50, 4)


def test_pdmp_check_older_than_24_hours_or_a_concern_does_not_clear(clinic: Clinic) -> None:
    plan_id = oral_plan(clinic)
    pdmp(clinic, plan_id)
    clinic.clock.advance(hours=24, minutes=1)
    write = lambda s: home.write_home_prescription(  # noqa: E731
        s, clinic.prescriber, clinic.clock, plan_id, 100, 4
    )
    assert "more than 24 hours old" in refused(clinic, "pdmp", write)
    pdmp(clinic, plan_id, "concern", "three prescribers of opioids in 60 days")
    assert "found a concern" in refused(clinic, "pdmp", write)
    clinic.clock.advance(minutes=5)
    pdmp(clinic, plan_id)
    clinic.clock.advance(hours=24)  # exactly 24 hours later: still good
    prescribe(clinic, plan_id)


def test_prescription_never_above_the_plan(clinic: Clinic) -> None:
    plan_id = oral_plan(clinic)
    pdmp(clinic, plan_id)
    message = refused(
        clinic,
        "dose_mg",
        lambda s: home.write_home_prescription(
            s, clinic.prescriber, clinic.clock, plan_id, 100.5, 4
        ),
    )
    assert message == "100.5 mg is above the plan's dose of 100 mg"
    refused(
        clinic,
        "doses",
        lambda s: home.write_home_prescription(s, clinic.prescriber, clinic.clock, plan_id, 100, 0),
    )


def test_pdmp_check_input_and_roles(clinic: Clinic) -> None:
    plan_id = oral_plan(clinic)
    refused(
        clinic,
        "result",
        lambda s: home.record_pdmp_check(s, clinic.prescriber, clinic.clock, plan_id, "fine"),
    )
    refused(
        clinic,
        "note",
        lambda s: home.record_pdmp_check(s, clinic.prescriber, clinic.clock, plan_id, "concern"),
    )
    refused(
        clinic,
        "checked_at",
        lambda s: home.record_pdmp_check(
            s,
            clinic.prescriber,
            clinic.clock,
            plan_id,
            "clear",
            checked_at=NOW + timedelta(minutes=1),
        ),
    )
    for role in ("nurse", "front_desk", "admin"):
        with pytest.raises(Forbidden), clinic.work() as s:
            home.record_pdmp_check(s, clinic.actors[role], clinic.clock, plan_id, "clear")
    pdmp(clinic, plan_id)
    with pytest.raises(Forbidden), clinic.work() as s:
        home.write_home_prescription(s, clinic.nurse, clinic.clock, plan_id, 100, 4)


def test_only_active_oral_or_sublingual_plans_go_home(clinic: Clinic) -> None:
    esketamine = oral_plan(clinic, "esketamine", 56)
    message = refused(
        clinic,
        "plan_id",
        lambda s: home.record_pdmp_check(s, clinic.prescriber, clinic.clock, esketamine, "clear"),
    )
    assert "only oral or sublingual" in message
    paused = oral_plan(clinic, "sublingual", 100, status="paused")
    assert "paused" in refused(
        clinic,
        "plan_id",
        lambda s: home.record_pdmp_check(s, clinic.prescriber, clinic.clock, paused, "clear"),
    )
    sublingual = oral_plan(clinic, "sublingual", 100)
    pdmp(clinic, sublingual)


# ---- check-ins and the diary ---------------------------------------------------------------------


def test_home_dose_needs_a_passing_checkin_that_day(clinic: Clinic) -> None:
    plan_id = oral_plan(clinic)
    pdmp(clinic, plan_id)
    prescription = prescribe(clinic, plan_id, 100, 3)
    clinic.clock.advance(hours=10)  # 19:00
    dose = lambda s: home.record_home_dose(  # noqa: E731
        s, clinic.nurse, clinic.clock, plan_id, HomeDoseIn(prescription, 100)
    )
    assert "no passing check-in" in refused(clinic, "checkin", dose)
    checkin(clinic, plan_id, sitter=False)  # no sitter: does not pass
    refused(clinic, "checkin", dose)
    used = checkin(clinic, plan_id)
    with clinic.work() as s:
        row = home.record_home_dose(
            s, clinic.nurse, clinic.clock, plan_id, HomeDoseIn(prescription, 100)
        )
        assert (row.checkin_id, row.reported_by, row.taken_at) == (
            used,
            "patient",
            NOW + timedelta(hours=10),
        )
    # One check-in before each dose: the same check-in does not clear a second dose.
    clinic.clock.advance(minutes=30)
    refused(clinic, "checkin", dose)
    # Yesterday's check-in does not clear today's dose.
    clinic.clock.advance(days=1)
    refused(clinic, "checkin", dose)


def test_home_dose_within_plan_prescription_and_count(clinic: Clinic) -> None:
    plan_id = oral_plan(clinic)
    pdmp(clinic, plan_id)
    prescription = prescribe(clinic, plan_id, 75, 1)
    checkin(clinic, plan_id)

    def dose(mg: float, **kw: object) -> object:
        return lambda s: home.record_home_dose(
            s,
            clinic.nurse,
            clinic.clock,
            plan_id,
            HomeDoseIn(prescription, mg, **kw),  # type: ignore[arg-type]
        )

    assert refused(clinic, "dose_mg", dose(101)) == "101 mg is above the plan's dose of 100 mg"
    assert refused(clinic, "dose_mg", dose(80)) == "80 mg is above the prescription's dose of 75 mg"
    refused(clinic, "taken_at", dose(75, taken_at=NOW + timedelta(minutes=1)))
    refused(clinic, "taken_at", dose(75, taken_at=NOW - timedelta(minutes=1)))  # before written
    refused(clinic, "reported_by", dose(75, reported_by="neighbour"))
    with clinic.work() as s:
        home.record_home_dose(
            s,
            clinic.prescriber,
            clinic.clock,
            plan_id,
            HomeDoseIn(prescription, 75, reported_by="staff"),
        )
    checkin(clinic, plan_id)
    message = refused(clinic, "prescription_id", dose(75))
    assert message == "all 1 doses of this prescription are already in the diary"


def test_checkins_scheduled_recorded_and_missed(clinic: Clinic) -> None:
    plan_id = oral_plan(clinic)
    due = NOW + timedelta(hours=9)  # 18:00
    with clinic.work() as s:
        first = home.schedule_checkin(s, clinic.nurse, clinic.clock, plan_id, due).id
        second = home.schedule_checkin(
            s, clinic.nurse, clinic.clock, plan_id, due + timedelta(days=1)
        ).id
    clinic.clock.at = due  # at the due time itself: not missed yet
    with clinic.work() as s:
        assert home.missed_checkins(s, clinic.clock, plan_id) == []
    clinic.clock.advance(minutes=1)
    with clinic.work() as s:
        assert [c.id for c in home.missed_checkins(s, clinic.clock, plan_id)] == [first]
        home.record_checkin(
            s,
            clinic.nurse,
            clinic.clock,
            plan_id,
            CheckinIn(True, True, None, "patient", checkin_id=first),
        )
    with clinic.work() as s:
        assert home.missed_checkins(s, clinic.clock, plan_id) == []
    with pytest.raises(Conflict), clinic.work() as s:
        home.record_checkin(
            s, clinic.nurse, clinic.clock, plan_id, CheckinIn(True, True, checkin_id=first)
        )
    clinic.clock.at = due + timedelta(days=1, minutes=1)
    with clinic.work() as s:
        assert [c.id for c in home.missed_checkins(s, clinic.clock, plan_id)] == [second]
        view = home.programme(s, clinic.clock, plan_id)
        assert [c.id for c in view.missed] == [second]
    with pytest.raises(Forbidden), clinic.work() as s:
        home.schedule_checkin(s, clinic.front_desk, clinic.clock, plan_id, due)
