"""The as-of view: what a screening on a given date may read (spec: 'a view of the record')."""

from datetime import date

from ketaclinic.clinical.facts import (
    ICD10,
    Coding,
    Condition,
    Medication,
    Moment,
    Observation,
    Patient,
    Record,
)
from ketaclinic.clinical.view import age_on, as_of_view, is_active, is_ongoing

AS_OF = date(2026, 11, 1)
MDD = (Coding(ICD10, "F33.2"),)


def record(**kw: object) -> Record:
    return Record(Patient("Patient/p", date(1980, 1, 1), "female"), **kw)  # type: ignore[arg-type]


def test_refuted_and_entered_in_error_conditions_are_not_read() -> None:
    kept = Condition("Condition/1", MDD)
    refuted = Condition("Condition/2", MDD, verification_status="refuted")
    error = Condition("Condition/3", MDD, verification_status="entered-in-error")
    seen = as_of_view(record(conditions=(kept, refuted, error)), AS_OF)
    assert [c.ref for c in seen.conditions] == ["Condition/1"]


def test_a_reading_dated_after_as_of_is_ignored_and_one_on_the_day_is_read() -> None:
    on_day = Observation("Observation/1", ("8480-6",), Moment.of_day(AS_OF), value=150)
    after = Observation("Observation/2", ("8480-6",), Moment.of_day(date(2026, 11, 2)), value=150)
    seen = as_of_view(record(observations=(on_day, after)), AS_OF)
    assert [o.ref for o in seen.observations] == ["Observation/1"]


def test_not_done_and_not_taken_are_ignored() -> None:
    obs = Observation("Observation/1", ("8480-6",), Moment.of_day(AS_OF), status="not-done")
    med = Medication("MedicationStatement/1", "sertraline", "sertraline", status="not-taken")
    seen = as_of_view(record(observations=(obs,), medications=(med,)), AS_OF)
    assert seen.observations == () and seen.medications == ()


def test_a_condition_diagnosed_after_as_of_is_ignored() -> None:
    later = Condition("Condition/1", MDD, onset=date(2026, 11, 2))
    assert as_of_view(record(conditions=(later,)), AS_OF).conditions == ()


def test_clinical_status_decides_active() -> None:
    for status in ("active", "recurrence", "relapse", None):
        assert is_active(Condition("c", MDD, clinical_status=status), AS_OF), status
    for status in ("inactive", "remission", "resolved"):
        assert not is_active(Condition("c", MDD, clinical_status=status), AS_OF), status


def test_abatement_on_the_screening_date_makes_a_condition_past_and_after_it_does_not() -> None:
    assert not is_active(Condition("c", MDD, abatement=AS_OF), AS_OF)
    assert is_active(Condition("c", MDD, abatement=date(2026, 11, 2)), AS_OF)


def test_ongoing_medication() -> None:
    active = Medication("m", "lorazepam", "lorazepam", status="active", start=date(2026, 1, 1))
    assert is_ongoing(active, AS_OF)
    stopped = Medication("m", "lorazepam", "lorazepam", status="stopped", start=date(2026, 1, 1))
    assert not is_ongoing(stopped, AS_OF)
    ended = Medication("m", "lorazepam", "x", status="active", end=date(2026, 10, 31))
    assert not is_ongoing(ended, AS_OF)


def test_age_turns_on_the_birthday() -> None:
    assert age_on(date(2008, 11, 1), AS_OF) == 18
    assert age_on(date(2008, 11, 2), AS_OF) == 17
