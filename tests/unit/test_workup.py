"""The Workup table of spec/screening.md: nine tests in order, required rules and freshness.

Windows (default policy): physical exam 90, blood pressure 30, liver 90, renal 90, thyroid 180,
urinalysis 180, pregnancy test 7, ECG 180, baseline scale 30 days. Screening date 2026-11-01.
"""

from __future__ import annotations

from datetime import date, timedelta

from ketaclinic.clinical.facts import (
    ICD10,
    SNOMED,
    Coding,
    Component,
    Condition,
    Moment,
    Observation,
    Patient,
    Procedure,
    Record,
)
from ketaclinic.clinical.findings import Finding, WorkupItem
from ketaclinic.clinical.workup import workup, workup_complete
from ketaclinic.policy import DEFAULT

AS_OF = date(2026, 11, 1)
ORDER = [
    "physical_exam",
    "blood_pressure",
    "liver_function",
    "renal_function",
    "thyroid",
    "urinalysis",
    "pregnancy_test",
    "ecg",
    "baseline_scale",
]


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


def obs(ref: str, code: str, day: date, value: float | None = 1.0) -> Observation:
    return Observation(ref, (code,), Moment.of_day(day), value=value)


def exam(day: date) -> Procedure:
    return Procedure("Procedure/exam", (Coding(SNOMED, "5880005"),), performed=day)


TEN_DAYS_AGO = AS_OF - timedelta(days=10)


def basics(day: date = TEN_DAYS_AGO) -> tuple[tuple[Procedure, ...], tuple[Observation, ...]]:
    """A physical exam, blood pressure, liver and renal function, all done ``day``."""
    panel = Observation(
        "Observation/bp",
        ("85354-9",),
        Moment.of_day(day),
        components=(Component("8480-6", 120), Component("8462-4", 80)),
    )
    return (exam(day),), (
        panel,
        obs("Observation/alt", "1742-6", day, 20),
        obs("Observation/cr", "2160-0", day, 0.9),
    )


def record(
    *,
    conditions: tuple[Condition, ...] = (),
    observations: tuple[Observation, ...] = (),
    procedures: tuple[Procedure, ...] = (),
    gender: str | None = "male",
    birth: date | None = date(1980, 5, 5),
) -> Record:
    return Record(
        Patient("Patient/p", birth, gender),
        conditions=conditions,
        observations=observations,
        procedures=procedures,
    )


def status(
    rec: Record, findings: tuple[Finding, ...] = (), anxiety: bool = False
) -> dict[str, str]:
    items = workup(rec, AS_OF, DEFAULT, findings=findings, anxiety=anxiety)
    return {i.test: i.status for i in items}


def item(rec: Record, test: str) -> WorkupItem:
    items = workup(rec, AS_OF, DEFAULT, findings=(), anxiety=False)
    return next(i for i in items if i.test == test)


def finding(finding_id: str) -> Finding:
    return Finding(finding_id, "relative", "m", (), "s")


def test_nothing_recorded() -> None:
    items = workup(record(), AS_OF, DEFAULT, findings=(), anxiety=False)
    assert [i.test for i in items] == ORDER
    assert {i.test: i.status for i in items} == {
        "physical_exam": "missing",
        "blood_pressure": "missing",
        "liver_function": "missing",
        "renal_function": "missing",
        "thyroid": "not_required",
        "urinalysis": "not_required",
        "pregnancy_test": "not_required",
        "ecg": "not_required",
        "baseline_scale": "not_required",
    }
    assert not workup_complete(items)


def test_the_four_always_required_done() -> None:
    procedures, observations = basics()
    items = workup(
        record(procedures=procedures, observations=observations),
        AS_OF,
        DEFAULT,
        findings=(),
        anxiety=False,
    )
    assert [i.status for i in items[:4]] == ["done"] * 4
    assert items[0].date == days_ago(10).isoformat()
    assert items[0].evidence == ("Procedure/exam",)
    assert workup_complete(items)


def test_physical_exam_exactly_90_days_ago_is_done_91_is_stale() -> None:
    assert item(record(procedures=(exam(days_ago(90)),)), "physical_exam").status == "done"
    stale = item(record(procedures=(exam(days_ago(91)),)), "physical_exam")
    assert (stale.status, stale.date) == ("stale", days_ago(91).isoformat())


def test_physical_exam_by_text() -> None:
    by_text = Procedure("Procedure/1", (), text="Physical exam", performed=days_ago(5))
    assert item(record(procedures=(by_text,)), "physical_exam").status == "done"
    other = Procedure("Procedure/2", (), text="Physical therapy", performed=days_ago(5))
    assert item(record(procedures=(other,)), "physical_exam").status == "missing"


def test_blood_pressure_within_30_days_and_a_systolic_alone_counts() -> None:
    assert (
        item(record(observations=(obs("O/1", "8480-6", days_ago(30)),)), "blood_pressure").status
        == "done"
    )
    assert (
        item(record(observations=(obs("O/1", "55284-4", days_ago(31)),)), "blood_pressure").status
        == "stale"
    )
    # A diastolic alone is not one of the codes of the table.
    assert (
        item(record(observations=(obs("O/1", "8462-4", days_ago(1)),)), "blood_pressure").status
        == "missing"
    )


def test_liver_and_renal_by_any_of_their_codes() -> None:
    rec = record(
        observations=(obs("O/1", "1920-8", days_ago(90)), obs("O/2", "48642-3", days_ago(5)))
    )
    assert status(rec)["liver_function"] == "done"
    assert status(rec)["renal_function"] == "done"
    old = record(observations=(obs("O/1", "1742-6", days_ago(91)),))
    assert status(old)["liver_function"] == "stale"


def test_the_latest_counts() -> None:
    rec = record(
        observations=(obs("O/old", "2160-0", days_ago(200)), obs("O/new", "2160-0", days_ago(3)))
    )
    renal = item(rec, "renal_function")
    assert (renal.status, renal.date, renal.evidence) == (
        "done",
        days_ago(3).isoformat(),
        ("O/new",),
    )


def test_thyroid_required_when_hyperthyroidism_is_recorded() -> None:
    past = Condition("Condition/1", (Coding(ICD10, "E05.90"),), clinical_status="resolved")
    assert status(record(conditions=(past,)))["thyroid"] == "missing"
    with_tsh = record(conditions=(past,), observations=(obs("O/t", "3016-3", days_ago(180)),))
    assert status(with_tsh)["thyroid"] == "done"
    assert (
        status(record(), findings=(finding("untreated_hyperthyroidism"),))["thyroid"] == "missing"
    )


def test_thyroid_not_required_is_reported_not_required_with_its_date() -> None:
    tsh = item(record(observations=(obs("O/t", "3016-3", days_ago(20)),)), "thyroid")
    assert (tsh.status, tsh.date) == ("not_required", days_ago(20).isoformat())


def test_urinalysis_is_reported_when_present_and_never_blocks() -> None:
    procedures, observations = basics()
    fresh = record(
        procedures=procedures, observations=(*observations, obs("O/u", "24356-8", days_ago(180)))
    )
    assert status(fresh)["urinalysis"] == "done"
    old = record(
        procedures=procedures, observations=(*observations, obs("O/u", "24356-8", days_ago(181)))
    )
    items = workup(old, AS_OF, DEFAULT, findings=(), anxiety=False)
    assert {i.test: i.status for i in items}["urinalysis"] == "stale"
    assert workup_complete(items)


def test_pregnancy_test_for_a_woman_aged_12_to_55() -> None:
    woman = record(gender="female", birth=date(1990, 1, 1))
    assert status(woman)["pregnancy_test"] == "missing"
    tested = record(
        gender="female", birth=date(1990, 1, 1), observations=(obs("O/h", "2106-3", days_ago(7)),)
    )
    assert status(tested)["pregnancy_test"] == "done"
    late = record(
        gender="female", birth=date(1990, 1, 1), observations=(obs("O/h", "2118-8", days_ago(8)),)
    )
    assert status(late)["pregnancy_test"] == "stale"


def test_pregnancy_test_age_limits() -> None:
    assert (
        status(record(gender="female", birth=date(2014, 11, 1)))["pregnancy_test"] == "missing"
    )  # 12
    assert (
        status(record(gender="female", birth=date(2014, 11, 2)))["pregnancy_test"] == "not_required"
    )  # 11
    assert (
        status(record(gender="female", birth=date(1971, 11, 1)))["pregnancy_test"] == "missing"
    )  # 55
    assert (
        status(record(gender="female", birth=date(1970, 11, 1)))["pregnancy_test"] == "not_required"
    )  # 56
    assert status(record(gender="male", birth=date(1990, 1, 1)))["pregnancy_test"] == "not_required"


def test_ecg_when_a_cardiac_finding_exists() -> None:
    for cardiac in (
        "recent_myocardial_infarction",
        "unstable_angina",
        "severe_coronary_artery_disease",
        "heart_disease_history",
    ):
        assert status(record(), findings=(finding(cardiac),))["ecg"] == "missing"
    assert (
        status(record(), findings=(finding("uncontrolled_hypertension"),))["ecg"] == "not_required"
    )
    with_ecg = record(observations=(obs("O/e", "11524-6", days_ago(180), None),))
    assert status(with_ecg, findings=(finding("heart_disease_history"),))["ecg"] == "done"


def test_baseline_scale_when_a_psychiatric_diagnosis_is_present() -> None:
    mdd = Condition("Condition/1", (Coding(ICD10, "F33.1"),))
    assert status(record(conditions=(mdd,)))["baseline_scale"] == "missing"
    scored = record(conditions=(mdd,), observations=(obs("O/p", "44261-6", days_ago(30), 18),))
    assert status(scored)["baseline_scale"] == "done"
    old = record(conditions=(mdd,), observations=(obs("O/p", "44261-6", days_ago(31), 18),))
    assert status(old)["baseline_scale"] == "stale"
    snomed = Condition("Condition/2", (Coding(SNOMED, "370143000"),))
    assert status(record(conditions=(snomed,)))["baseline_scale"] == "missing"


def test_baseline_scale_not_required_without_an_active_psychiatric_diagnosis() -> None:
    past = Condition("Condition/1", (Coding(ICD10, "F33.1"),), clinical_status="resolved")
    assert status(record(conditions=(past,)))["baseline_scale"] == "not_required"
    pain = Condition("Condition/2", (Coding(ICD10, "M79.7"),))
    assert status(record(conditions=(pain,)))["baseline_scale"] == "not_required"


def test_baseline_scale_for_anxiety_is_gad7() -> None:
    gad = Condition("Condition/1", (Coding(ICD10, "F41.1"),))
    phq_only = record(conditions=(gad,), observations=(obs("O/p", "44261-6", days_ago(3), 9),))
    assert status(phq_only, anxiety=True)["baseline_scale"] == "missing"
    gad7 = record(conditions=(gad,), observations=(obs("O/g", "70274-6", days_ago(3), 12),))
    assert status(gad7, anxiety=True)["baseline_scale"] == "done"


def test_a_stale_required_test_makes_the_workup_incomplete() -> None:
    procedures, observations = basics(days_ago(45))  # blood pressure older than 30 days
    items = workup(
        record(procedures=procedures, observations=observations),
        AS_OF,
        DEFAULT,
        findings=(),
        anxiety=False,
    )
    assert {i.test: i.status for i in items}["blood_pressure"] == "stale"
    assert not workup_complete(items)
