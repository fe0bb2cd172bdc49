"""The workup before a first session: which tests are required, done, stale or missing.

Source: spec/screening.md, "Workup" (the table, in its order); the windows are the policy's
``workup`` section. The Seeds list the workup as a physical exam with attention to heart and blood
pressure, liver function and creatinine, TSH "may" be checked, and a baseline urinalysis
"sometimes"; the rest (pregnancy test, ECG, baseline rating scale) is the spec's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ketaclinic.clinical import codes
from ketaclinic.clinical.facts import Observation, Record
from ketaclinic.clinical.findings import Finding, WorkupItem, WorkupStatus
from ketaclinic.clinical.view import age_on
from ketaclinic.policy import Policy

# Findings that ask for an ECG (spec: "when a finding of ... exists").
CARDIAC_FINDINGS = frozenset(
    {
        "recent_myocardial_infarction",
        "unstable_angina",
        "severe_coronary_artery_disease",
        "heart_disease_history",
    }
)
# Never required, reported when present (Seeds: a baseline urinalysis "sometimes").
NEVER_REQUIRED = frozenset({"urinalysis"})


@dataclass(frozen=True)
class _Done:
    """The latest record of a test: its day and the record's name."""

    day: date
    ref: str


@dataclass(frozen=True)
class _Test:
    name: str
    window: Callable[[Policy], int]
    source: str


TESTS: tuple[_Test, ...] = (
    _Test(
        "physical_exam",
        lambda p: p.workup.physical_exam_days,
        "Seeds: physical exam with attention to heart and blood pressure; always",
    ),
    _Test(
        "blood_pressure",
        lambda p: p.workup.blood_pressure_days,
        "Seeds: attention to blood pressure; always",
    ),
    _Test(
        "liver_function",
        lambda p: p.workup.liver_function_days,
        "Seeds: liver function; always",
    ),
    _Test(
        "renal_function",
        lambda p: p.workup.renal_function_days,
        "Seeds: creatinine; always",
    ),
    _Test(
        "thyroid",
        lambda p: p.workup.thyroid_days,
        "Seeds: TSH may be checked; required when hyperthyroidism is recorded (spec)",
    ),
    _Test(
        "urinalysis",
        lambda p: p.workup.urinalysis_days,
        "Seeds: baseline urinalysis sometimes (bladder irritation); never required",
    ),
    _Test(
        "pregnancy_test",
        lambda p: p.workup.pregnancy_test_days,
        "spec: female aged 12-55 (policy pregnancy.test_age_min / test_age_max)",
    ),
    _Test(
        "ecg",
        lambda p: p.workup.ecg_days,
        "spec: when a cardiac contraindication finding exists",
    ),
    _Test(
        "baseline_scale",
        lambda p: p.workup.baseline_scale_days,
        "spec: PHQ-9 (GAD-7 for anxiety) when a psychiatric diagnosis is present",
    ),
)


def _latest_observation(record: Record, wanted: frozenset[str]) -> _Done | None:
    """The latest observation with one of the ``wanted`` codes (the first of equals, as ``max``
    gives), found in one pass with set tests: nine tests read every observation (issue 8)."""
    latest: Observation | None = None
    latest_at = datetime.min
    for o in record.observations:
        when = o.when
        if when is None or wanted.isdisjoint(o.codes):
            continue
        if latest is None or when.at > latest_at:
            latest, latest_at = o, when.at
    if latest is None or latest.when is None:
        return None
    return _Done(latest.when.day, latest.ref)


def _latest_exam(record: Record) -> _Done | None:
    found = [
        (p.performed, p.ref)
        for p in record.procedures
        if p.performed is not None and codes.matches(codes.PHYSICAL_EXAM, p.codings, p.text)
    ]
    if not found:
        return None
    day, ref = max(found)
    return _Done(day, ref)


# The codes of each test read from observations (written once, not once per test and patient).
_TEST_CODES: dict[str, frozenset[str]] = {
    "blood_pressure": frozenset({*codes.BP_PANELS, codes.SYSTOLIC}),
    "liver_function": frozenset({codes.ALT, codes.AST}),
    "renal_function": frozenset({codes.CREATININE, *codes.EGFR}),
    "thyroid": frozenset({codes.TSH}),
    "urinalysis": frozenset({codes.URINALYSIS}),
    "pregnancy_test": frozenset(codes.HCG),
    "ecg": frozenset({codes.ECG}),
}
# The anxiety indication is followed on GAD-7, the others on PHQ-9.
_GAD7 = frozenset({codes.GAD7_TOTAL})
_PHQ9 = frozenset({codes.PHQ9_TOTAL})


def _latest(record: Record, test: str, anxiety: bool) -> _Done | None:
    if test == "physical_exam":
        return _latest_exam(record)
    if test == "baseline_scale":
        return _latest_observation(record, _GAD7 if anxiety else _PHQ9)
    return _latest_observation(record, _TEST_CODES[test])


def hyperthyroidism_recorded(record: Record, findings: Sequence[Finding]) -> bool:
    """Any record of hyperthyroidism (E05), or an ``untreated_hyperthyroidism`` finding."""
    # The conditions as the screening grouped them (codes.grouped: the same tuple, grouped once).
    return any(f.id == "untreated_hyperthyroidism" for f in findings) or bool(
        codes.grouped(record.conditions).matching(codes.HYPERTHYROIDISM)
    )


def pregnancy_test_required(record: Record, as_of: date, policy: Policy) -> bool:
    """Female aged ``pregnancy.test_age_min``-``test_age_max`` on ``as_of``.

    With no birth date the age cannot rule the test out, so it is asked for.
    """
    patient = record.patient
    if (patient.gender or "").lower() != "female":
        return False
    if patient.birth_date is None:
        return True
    age = age_on(patient.birth_date, as_of)
    return policy.pregnancy.test_age_min <= age <= policy.pregnancy.test_age_max


def psychiatric_diagnosis(record: Record, as_of: date) -> bool:
    """An active diagnosis in the F chapter of ICD-10-CM, or a psychiatric SNOMED CT concept."""
    return bool(codes.grouped(record.conditions).matching(codes.PSYCHIATRIC, active_on=as_of))


def _required(
    test: str, record: Record, as_of: date, policy: Policy, findings: Sequence[Finding]
) -> bool:
    if test == "thyroid":
        return hyperthyroidism_recorded(record, findings)
    if test == "urinalysis":
        return False
    if test == "pregnancy_test":
        return pregnancy_test_required(record, as_of, policy)
    if test == "ecg":
        return any(f.id in CARDIAC_FINDINGS for f in findings)
    if test == "baseline_scale":
        return psychiatric_diagnosis(record, as_of)
    return True


def _status(required: bool, reported: bool, latest: _Done | None, fresh: bool) -> WorkupStatus:
    if latest is None:
        return "missing" if required else "not_required"
    if not required and not reported:
        return "not_required"
    return "done" if fresh else "stale"


def workup(
    record: Record,
    as_of: date,
    policy: Policy,
    *,
    findings: Sequence[Finding],
    anxiety: bool,
) -> tuple[WorkupItem, ...]:
    """All nine tests of the spec's Workup table, in its order.

    ``done``: the latest is within its window (exactly the window's days counts); ``stale``:
    older; ``missing``: required and none recorded; ``not_required``: not required (its date, if
    any, is still given). Urinalysis is never required but reported done or stale when present.
    ``findings`` are the screening's contraindication findings (ECG and thyroid rules read them).
    """
    items: list[WorkupItem] = []
    for test in TESTS:
        latest = _latest(record, test.name, anxiety)
        required = _required(test.name, record, as_of, policy, findings)
        fresh = latest is not None and 0 <= (as_of - latest.day).days <= test.window(policy)
        items.append(
            WorkupItem(
                test.name,
                _status(required, test.name in NEVER_REQUIRED, latest, fresh),
                latest.day.isoformat() if latest else None,
                (latest.ref,) if latest else (),
            )
        )
    return tuple(items)


def workup_complete(items: Sequence[WorkupItem]) -> bool:
    """Every required test is done (spec: booking a first session needs a complete workup)."""
    return all(
        item.status in ("done", "not_required") for item in items if item.test not in NEVER_REQUIRED
    )
