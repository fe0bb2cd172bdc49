"""Treatment resistance: every expected value below is worked out by hand from the spec."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from ketaclinic.clinical.facts import (
    CPT,
    SNOMED,
    Coding,
    Medication,
    Moment,
    Observation,
    Patient,
    Procedure,
    Record,
)
from ketaclinic.clinical.findings import Trial
from ketaclinic.clinical.resistance import (
    bipolar_agent_taken,
    daily_dose,
    depression_resistance,
    outcome_of,
    outcomes_missing,
    pain_outcomes_missing,
    pain_resistance,
    trials,
)
from ketaclinic.clinical.view import as_of_view
from ketaclinic.policy import DEFAULT, Policy

AS_OF = date(2026, 11, 1)
PATIENT = Patient("Patient/p", date(1980, 5, 5), "female")


def policy_with(**resistance: Any) -> Policy:
    return replace(DEFAULT, resistance=replace(DEFAULT.resistance, **resistance))


def med(
    ref: str,
    name: str,
    start: date | None,
    end: date | None = None,
    *,
    status: str | None = "completed",
    dose_mg: float | None = None,
    ingredient: str | None = None,
    outcome_code: str | None = None,
    outcome_text: str | None = None,
) -> Medication:
    return Medication(
        ref=ref,
        ingredient=ingredient,
        name=name,
        status=status,
        start=start,
        end=end,
        dose_mg=dose_mg,
        frequency=1 if dose_mg is not None else None,
        period=1 if dose_mg is not None else None,
        period_unit="d" if dose_mg is not None else None,
        outcome_code=outcome_code,
        outcome_text=outcome_text,
    )


def trials_of(*meds: Medication, bipolar: bool = False, policy: Policy = DEFAULT) -> list[Trial]:
    record = as_of_view(Record(PATIENT, medications=meds), AS_OF)
    return list(trials(record, AS_OF, policy, include_bipolar_agents=bipolar))


# --- daily dose -------------------------------------------------------------------------


def test_dose_times_frequency_over_period() -> None:
    m = Medication(
        "MS/1", "sertraline", "sertraline", dose_mg=50, frequency=2, period=1, period_unit="d"
    )
    assert daily_dose(m) == (100.0, ())


@pytest.mark.parametrize(
    ("dose", "frequency", "period", "unit", "expected"),
    [
        (150, 1, 24, "h", 150.0),  # once every 24 hours
        (28, 2, 1, "wk", 8.0),  # 56 mg a week
        (10, 3, 1, "d", 30.0),
        (20, None, 1, "d", 20.0),  # FHIR: no frequency means once per period
        (100, 1, 2, "d", 50.0),  # every other day
    ],
)
def test_daily_dose_from_timing(
    dose: float, frequency: int | None, period: float, unit: str, expected: float
) -> None:
    m = Medication(
        "MS/1", None, "x", dose_mg=dose, frequency=frequency, period=period, period_unit=unit
    )
    assert daily_dose(m) == (expected, ())


def test_monthly_period_is_the_ucum_month() -> None:
    m = Medication("MS/1", None, "x", dose_mg=304.375, frequency=1, period=1, period_unit="mo")
    assert daily_dose(m) == (10.0, ())


def test_units_times_strength() -> None:
    m = Medication(
        "MS/1",
        "sertraline",
        "Zoloft",
        dose_units=2,
        strength_mg=50,
        frequency=1,
        period=1,
        period_unit="d",
    )
    assert daily_dose(m) == (100.0, ())


def test_strength_from_the_name_is_one_unit_a_day_and_says_so() -> None:
    dose, notes = daily_dose(Medication("MS/1", None, "fluoxetine 20 MG Oral Capsule"))
    assert dose == 20.0
    assert notes == ("strength 20 mg read from the name, taken as one unit a day",)


def test_no_dose_at_all_is_unknown_and_says_so() -> None:
    dose, notes = daily_dose(Medication("MS/1", "sertraline", "Zoloft"))
    assert dose is None
    assert notes == ("no dose recorded: daily dose unknown",)


def test_units_without_strength_is_unknown() -> None:
    dose, notes = daily_dose(Medication("MS/1", "sertraline", "Zoloft", dose_units=1))
    assert dose is None
    assert len(notes) == 1


def test_dose_without_timing_is_once_a_day_and_says_so() -> None:
    assert daily_dose(Medication("MS/1", None, "x", dose_mg=75)) == (
        75.0,
        ("no timing recorded: taken once a day",),
    )


# --- outcome ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["no-response", "partial-response", "response", "remission", "intolerance"]
)
def test_outcome_codes_are_read_as_they_are(code: str) -> None:
    assert outcome_of(code, None) == (code, ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ineffective", "no-response"),
        ("Not effective after 8 weeks", "no-response"),
        ("No response", "no-response"),
        ("partial improvement only", "partial-response"),
        ("stopped because of side effects", "intolerance"),
        ("patient intolerant (nausea)", "intolerance"),
        ("adverse reaction", "intolerance"),
    ],
)
def test_outcome_text_keywords_with_an_assumption(text: str, expected: str) -> None:
    outcome, notes = outcome_of(None, text)
    assert outcome == expected
    assert len(notes) == 1
    assert "read from the text" in notes[0]


def test_ineffective_is_no_response_with_an_assumption() -> None:
    assert outcome_of(None, "ineffective") == (
        "no-response",
        ("outcome read from the text 'ineffective' ('ineffective') as no-response",),
    )


def test_text_without_a_keyword_is_unevaluated() -> None:
    outcome, notes = outcome_of(None, "felt a bit better")
    assert outcome is None
    assert notes  # says the text was not understood


def test_code_wins_over_text() -> None:
    assert outcome_of("response", "ineffective") == ("response", ())


def test_unknown_code_is_not_an_outcome() -> None:
    outcome, notes = outcome_of("worse", None)
    assert outcome is None
    assert notes == ("outcome code 'worse' not recognised",)


def test_nothing_is_unevaluated() -> None:
    assert outcome_of(None, None) == (None, ())


# --- trials -----------------------------------------------------------------------------


def test_trial_of_exactly_minimum_weeks_is_adequate() -> None:
    # 2025-01-01 to 2025-02-12 is 42 days: 6.0 weeks.
    [t] = trials_of(
        med(
            "MS/1",
            "sertraline",
            date(2025, 1, 1),
            date(2025, 2, 12),
            dose_mg=50,
            outcome_code="no-response",
        )
    )
    assert t == Trial(
        medication="sertraline",
        drug_class="SSRI",
        daily_dose_mg=50.0,
        minimum_adequate_mg=50.0,
        weeks=6.0,
        adequate=True,
        outcome="no-response",
        assumptions=(),
        evidence=("MS/1",),
        ongoing=False,
        start="2025-01-01",
    )


def test_trial_one_week_short_is_not_adequate() -> None:
    # 2025-01-01 to 2025-02-05 is 35 days: 5.0 weeks.
    [t] = trials_of(med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 2, 5), dose_mg=50))
    assert t.weeks == 5.0
    assert t.adequate is False


def test_trial_one_day_short_is_not_adequate() -> None:
    [t] = trials_of(med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 2, 11), dose_mg=50))
    assert t.weeks == 5.9  # 41 days
    assert t.adequate is False


def test_minimum_weeks_comes_from_the_policy() -> None:
    m = med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 2, 12), dose_mg=50)
    [t] = trials_of(m, policy=policy_with(minimum_weeks=8))
    assert t.adequate is False


def test_dose_at_the_minimum_is_adequate_and_below_is_not() -> None:
    at, below = trials_of(
        med("MS/1", "escitalopram", date(2025, 1, 1), date(2025, 3, 1), dose_mg=10),
        med("MS/2", "fluoxetine", date(2025, 4, 1), date(2025, 6, 1), dose_mg=19),
    )
    assert (at.medication, at.adequate, at.minimum_adequate_mg) == ("escitalopram", True, 10.0)
    assert (below.medication, below.daily_dose_mg, below.minimum_adequate_mg) == (
        "fluoxetine",
        19.0,
        20.0,
    )
    assert below.weeks == 0.0  # no week at or above the minimum
    assert below.adequate is False


def test_effexor_75_mg_for_8_weeks_is_not_adequate() -> None:
    # Venlafaxine's minimum is 150 mg (75 mg is confirmed too low). 2025-01-01 + 56 days.
    [t] = trials_of(
        med(
            "MS/1", "Effexor 75 mg", date(2025, 1, 1), date(2025, 2, 26), outcome_code="no-response"
        )
    )
    assert t.medication == "venlafaxine"
    assert t.drug_class == "SNRI"
    assert t.daily_dose_mg == 75.0
    assert t.minimum_adequate_mg == 150.0
    assert t.weeks == 0.0
    assert t.adequate is False
    assert t.assumptions == ("strength 75 mg read from the name, taken as one unit a day",)


def test_only_weeks_at_the_minimum_count_after_a_dose_increase() -> None:
    # Effexor 75 mg for 4 weeks, then 150 mg for 6 weeks (2025-01-29 to 2025-03-12, 42 days).
    [t] = trials_of(
        med("MS/1", "venlafaxine", date(2025, 1, 1), date(2025, 1, 29), dose_mg=75),
        med(
            "MS/2",
            "venlafaxine",
            date(2025, 1, 29),
            date(2025, 3, 12),
            dose_mg=150,
            outcome_code="partial-response",
        ),
    )
    assert t.evidence == ("MS/1", "MS/2")
    assert t.daily_dose_mg == 150.0
    assert t.weeks == 6.0
    assert t.adequate is True
    assert t.outcome == "partial-response"


def test_merge_across_a_30_day_gap() -> None:
    # Ends 2025-01-31, next starts 2025-03-02: 30 days later. 30 + 28 days at 100 mg.
    [t] = trials_of(
        med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 1, 31), dose_mg=100),
        med("MS/2", "sertraline", date(2025, 3, 2), date(2025, 3, 30), dose_mg=100),
    )
    assert t.evidence == ("MS/1", "MS/2")
    assert t.weeks == 8.3  # 58 days taken; the gap does not count
    assert t.adequate is True


def test_no_merge_across_a_31_day_gap() -> None:
    first, second = trials_of(
        med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 1, 31), dose_mg=100),
        med("MS/2", "sertraline", date(2025, 3, 3), date(2025, 3, 31), dose_mg=100),
    )
    assert (first.evidence, first.weeks, first.adequate) == (("MS/1",), 4.3, False)
    assert (second.evidence, second.weeks, second.adequate) == (("MS/2",), 4.0, False)


def test_merge_gap_comes_from_the_policy() -> None:
    meds = (
        med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 1, 31), dose_mg=100),
        med("MS/2", "sertraline", date(2025, 2, 10), date(2025, 3, 31), dose_mg=100),
    )
    assert len(trials_of(*meds)) == 1  # a 10-day gap
    assert len(trials_of(*meds, policy=policy_with(merge_gap_days=5))) == 2


def test_overlapping_records_count_each_day_once() -> None:
    # A request and a statement for the same course: 2025-01-01..2025-03-01 is 59 days.
    [t] = trials_of(
        med("MR/1", "sertraline", date(2025, 1, 1), date(2025, 3, 1), dose_mg=100),
        med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 3, 1), dose_mg=100),
    )
    assert t.weeks == 8.4
    assert t.daily_dose_mg == 100.0  # the higher dose, never the sum


def test_intolerance_makes_a_long_trial_not_adequate() -> None:
    [t] = trials_of(
        med(
            "MS/1",
            "paroxetine",
            date(2025, 1, 1),
            date(2025, 4, 1),
            dose_mg=20,
            outcome_text="stopped: side effects",
        )
    )
    assert t.weeks == 12.9  # 90 days
    assert t.outcome == "intolerance"
    assert t.adequate is False


def test_open_prescription_runs_to_the_screening_date() -> None:
    start = AS_OF - timedelta(days=42)
    [t] = trials_of(med("MR/1", "sertraline", start, status="active", dose_mg=100))
    assert (t.weeks, t.adequate, t.ongoing, t.outcome) == (6.0, True, True, None)


def test_end_after_the_screening_date_is_cut_at_it() -> None:
    start = AS_OF - timedelta(days=35)
    [t] = trials_of(
        med("MR/1", "sertraline", start, AS_OF + timedelta(days=60), status="active", dose_mg=100)
    )
    assert (t.weeks, t.adequate, t.ongoing) == (5.0, False, True)


def test_stopped_with_no_end_has_unknown_length() -> None:
    [t] = trials_of(
        med(
            "MS/1",
            "sertraline",
            date(2024, 1, 1),
            status="stopped",
            dose_mg=100,
            outcome_code="no-response",
        )
    )
    assert t.weeks is None
    assert t.adequate is False
    assert t.assumptions == ("status stopped with no end date: length unknown, not counted",)


def test_known_part_before_an_unknown_end_still_counts() -> None:
    # 8.4 weeks known (2025-01-01..2025-03-01), then a refill of unknown length.
    [t] = trials_of(
        med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 3, 1), dose_mg=100),
        med(
            "MS/2",
            "sertraline",
            date(2025, 3, 5),
            status="completed",
            dose_mg=100,
            outcome_code="no-response",
        ),
    )
    assert t.evidence == ("MS/1", "MS/2")
    assert t.weeks == 8.4
    assert t.adequate is True


def test_no_dose_means_not_adequate() -> None:
    [t] = trials_of(med("MS/1", "Zoloft", date(2025, 1, 1), date(2025, 6, 1)))
    assert t.medication == "sertraline"
    assert t.daily_dose_mg is None
    assert t.weeks == 0.0
    assert t.adequate is False
    assert t.assumptions == ("no dose recorded: daily dose unknown",)


def test_only_antidepressants_are_trials_unless_bipolar_agents_are_asked_for() -> None:
    meds = (
        med("MS/1", "quetiapine", date(2025, 1, 1), date(2025, 3, 1), dose_mg=300),
        med("MS/2", "alprazolam", date(2025, 1, 1), date(2025, 3, 1), dose_mg=1),
        med("MS/3", "aripiprazole", date(2025, 1, 1), date(2025, 3, 1), dose_mg=5),
    )
    assert trials_of(*meds) == []
    [t] = trials_of(*meds, bipolar=True)
    assert (t.medication, t.drug_class, t.minimum_adequate_mg, t.weeks, t.adequate) == (
        "quetiapine",
        "antipsychotic",
        300.0,
        8.4,
        True,
    )


def test_a_bipolar_agent_taken_is_told_apart() -> None:
    """Quetiapine and lithium are bipolar-depression agents; sertraline and alprazolam are not,
    and without one the trials are the same whether bipolar agents are asked for or not."""
    sertraline = med("MS/1", "sertraline", date(2025, 1, 1), date(2025, 3, 1), dose_mg=100)
    alprazolam = med("MS/2", "alprazolam", date(2025, 1, 1), date(2025, 3, 1), dose_mg=1)
    assert not bipolar_agent_taken(Record(PATIENT, medications=(sertraline, alprazolam)))
    assert trials_of(sertraline, alprazolam) == trials_of(sertraline, alprazolam, bipolar=True)
    for name in ("quetiapine", "lithium carbonate"):
        agent = med("MS/3", name, date(2025, 1, 1), date(2025, 3, 1), dose_mg=300)
        assert bipolar_agent_taken(Record(PATIENT, medications=(sertraline, agent)))
    assert not bipolar_agent_taken(Record(PATIENT))


def test_lithium_by_dose_where_no_level() -> None:
    [t] = trials_of(
        med("MS/1", "lithium carbonate", date(2025, 1, 1), date(2025, 3, 1), dose_mg=600),
        bipolar=True,
    )
    assert (t.drug_class, t.minimum_adequate_mg, t.adequate) == ("mood stabiliser", 600.0, True)


def _lithium_level(ref: str, day: date, value: float) -> Observation:
    return Observation(ref, ("14334-7",), Moment.of_day(day), value=value, unit="mmol/L")


@pytest.mark.parametrize(("level", "adequate"), [(0.6, True), (0.5, False)])
def test_lithium_by_serum_level_where_one_is_recorded(level: float, adequate: bool) -> None:
    # 450 mg a day is under 600 mg, but a level of 0.6 mmol/L is adequate; 0.5 is not.
    m = med("MS/1", "lithium", date(2025, 1, 1), date(2025, 3, 1), dose_mg=450)
    record = Record(
        PATIENT, medications=(m,), observations=(_lithium_level("Obs/1", date(2025, 2, 1), level),)
    )
    [t] = trials(record, AS_OF, DEFAULT, include_bipolar_agents=True)
    assert t.adequate is adequate
    assert t.evidence == ("MS/1", "Obs/1")
    assert t.weeks == (8.4 if adequate else 0.0)


def test_ingredient_by_name_when_not_given() -> None:
    [t] = trials_of(med("MS/1", "Lexapro 10 mg", date(2025, 1, 1), date(2025, 3, 1)))
    assert (t.medication, t.daily_dose_mg, t.adequate) == ("escitalopram", 10.0, True)


def test_trials_are_ordered_by_start_then_name() -> None:
    found = trials_of(
        med("MS/3", "sertraline", date(2025, 5, 1), date(2025, 6, 1), dose_mg=50),
        med("MS/2", "citalopram", date(2025, 1, 1), date(2025, 2, 1), dose_mg=20),
        med("MS/1", "bupropion", date(2025, 1, 1), date(2025, 2, 1), dose_mg=300),
    )
    assert [t.medication for t in found] == ["bupropion", "citalopram", "sertraline"]


def test_future_prescriptions_are_not_trials() -> None:
    assert trials_of(med("MS/1", "sertraline", AS_OF + timedelta(days=1), dose_mg=50)) == []


# --- depression resistance --------------------------------------------------------------


def trial(name: str, cls: str, *, adequate: bool = True, outcome: str | None = None) -> Trial:
    return Trial(name, cls, None, None, 8.0, adequate, outcome, (), (f"MS/{name}",))


def test_two_failed_adequate_trials_of_two_classes_are_resistant() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("venlafaxine", "SNRI", outcome="partial-response"),
    ]
    r = depression_resistance(ts, DEFAULT)
    assert (r.status, r.failed_adequate_trials, r.classes) == ("resistant", 2, ("SNRI", "SSRI"))
    assert r.trials == tuple(ts)
    assert outcomes_missing(ts, DEFAULT) is False


def test_two_ssris_are_not_resistant_by_class() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("citalopram", "SSRI", outcome="no-response"),
    ]
    r = depression_resistance(ts, DEFAULT)
    assert (r.status, r.failed_adequate_trials, r.classes) == ("not_resistant", 2, ("SSRI",))


def test_two_ssris_are_resistant_when_distinct_classes_is_false() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("citalopram", "SSRI", outcome="no-response"),
    ]
    r = depression_resistance(ts, policy_with(distinct_classes=False))
    assert r.status == "resistant"


def test_the_same_medication_twice_is_one_medication() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("sertraline", "SSRI", outcome="no-response"),
    ]
    r = depression_resistance(ts, policy_with(distinct_classes=False))
    assert r.status == "not_resistant"


def test_inadequate_failures_do_not_count() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("venlafaxine", "SNRI", adequate=False, outcome="no-response"),
    ]
    r = depression_resistance(ts, DEFAULT)
    assert (r.status, r.failed_adequate_trials, r.classes) == ("not_resistant", 1, ("SSRI",))


def test_response_is_not_a_failure() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("venlafaxine", "SNRI", outcome="response"),
    ]
    assert depression_resistance(ts, DEFAULT).status == "not_resistant"


def test_unevaluated_adequate_trial_that_would_decide_makes_it_unknown() -> None:
    ts = [trial("sertraline", "SSRI", outcome="no-response"), trial("venlafaxine", "SNRI")]
    assert outcomes_missing(ts, DEFAULT) is True
    r = depression_resistance(ts, DEFAULT)
    assert (r.status, r.failed_adequate_trials, r.classes) == ("unknown", 1, ("SSRI",))


def test_unevaluated_inadequate_trial_does_not_make_it_unknown() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("venlafaxine", "SNRI", adequate=False),
    ]
    assert outcomes_missing(ts, DEFAULT) is False
    assert depression_resistance(ts, DEFAULT).status == "not_resistant"


def test_unevaluated_trial_of_the_same_class_does_not_make_it_unknown() -> None:
    ts = [trial("sertraline", "SSRI", outcome="no-response"), trial("citalopram", "SSRI")]
    assert outcomes_missing(ts, DEFAULT) is False
    assert depression_resistance(ts, DEFAULT).status == "not_resistant"


def test_no_trials_is_unknown() -> None:
    r = depression_resistance([], DEFAULT)
    assert (r.status, r.failed_adequate_trials, r.classes, r.trials) == ("unknown", 0, (), ())


def test_minimum_failed_trials_comes_from_the_policy() -> None:
    ts = [
        trial("sertraline", "SSRI", outcome="no-response"),
        trial("venlafaxine", "SNRI", outcome="no-response"),
    ]
    assert depression_resistance(ts, policy_with(minimum_failed_trials=3)).status == (
        "not_resistant"
    )


def test_from_prescriptions_to_resistance() -> None:
    found = trials_of(
        med(
            "MS/1", "Zoloft 100 mg", date(2025, 1, 1), date(2025, 3, 1), outcome_code="no-response"
        ),
        med(
            "MS/2",
            "Effexor XR 150 mg",
            date(2025, 4, 1),
            date(2025, 6, 1),
            outcome_text="ineffective",
        ),
    )
    r = depression_resistance(found, DEFAULT)
    assert (r.status, r.failed_adequate_trials, r.classes) == ("resistant", 2, ("SNRI", "SSRI"))


# --- pain resistance --------------------------------------------------------------------


def proc(
    ref: str,
    coding: Coding | None,
    text: str | None = None,
    *,
    outcome_code: str | None = None,
    outcome_text: str | None = None,
) -> Procedure:
    codings = (coding,) if coding else ()
    return Procedure(
        ref,
        codings,
        text,
        status="completed",
        performed=date(2025, 6, 1),
        outcome_code=outcome_code,
        outcome_text=outcome_text,
    )


def test_nerve_block_and_physical_therapy_failed_are_resistant() -> None:
    r = pain_resistance(
        Record(
            PATIENT,
            procedures=(
                proc("Procedure/1", Coding(CPT, "64450"), outcome_code="no-response"),
                proc("Procedure/2", Coding(CPT, "97110"), outcome_code="partial-response"),
            ),
        ),
        AS_OF,
        DEFAULT,
    )
    assert r.status == "resistant"
    assert r.failed_categories == ("nerve_block", "physical_therapy")
    assert [(t.category, t.failed, t.evidence) for t in r.treatments] == [
        ("nerve_block", True, ("Procedure/1",)),
        ("physical_therapy", True, ("Procedure/2",)),
    ]
    assert pain_outcomes_missing(r, DEFAULT) is False


@pytest.mark.parametrize(
    ("coding", "text", "category"),
    [
        (Coding(CPT, "64400"), None, "nerve_block"),
        (Coding(CPT, "64530"), None, "nerve_block"),
        (Coding(CPT, "97535"), None, "physical_therapy"),
        (Coding(SNOMED, "91251008"), None, "physical_therapy"),
        (None, "Stellate ganglion block", "nerve_block"),
        (None, "Lumbar sympathetic NERVE BLOCK", "nerve_block"),
        (None, "Physiotherapy, 12 sessions", "physical_therapy"),
        (Coding(SNOMED, "1234", "Physical therapy"), None, "physical_therapy"),
    ],
)
def test_pain_procedure_categories(coding: Coding | None, text: str | None, category: str) -> None:
    r = pain_resistance(
        Record(PATIENT, procedures=(proc("Procedure/1", coding, text),)), AS_OF, DEFAULT
    )
    assert [t.category for t in r.treatments] == [category]


@pytest.mark.parametrize(
    ("coding", "text"),
    [
        (Coding(CPT, "64399"), None),
        (Coding(CPT, "64531"), None),
        (Coding(CPT, "97150"), None),
        (Coding(CPT, "90870"), "Electroconvulsive therapy"),
        (None, "Occupational therapy"),
    ],
)
def test_not_pain_procedures(coding: Coding | None, text: str | None) -> None:
    r = pain_resistance(
        Record(PATIENT, procedures=(proc("Procedure/1", coding, text),)), AS_OF, DEFAULT
    )
    assert r.treatments == ()
    assert r.status == "unknown"


def test_pain_medication_of_four_weeks_counts() -> None:
    # Gabapentin 2025-01-01..2025-01-29 is 28 days: 4 weeks.
    r = pain_resistance(
        Record(
            PATIENT,
            medications=(
                med(
                    "MS/1",
                    "gabapentin 300 mg",
                    date(2025, 1, 1),
                    date(2025, 1, 29),
                    outcome_code="no-response",
                ),
            ),
            procedures=(proc("Procedure/1", Coding(CPT, "64450"), outcome_text="ineffective"),),
        ),
        AS_OF,
        DEFAULT,
    )
    assert r.status == "resistant"
    assert r.failed_categories == ("nerve_block", "pain_medication")
    [medication] = [t for t in r.treatments if t.category == "pain_medication"]
    assert (medication.name, medication.failed, medication.evidence) == (
        "gabapentin",
        True,
        ("MS/1",),
    )


def test_pain_medication_one_day_short_of_four_weeks_does_not_count() -> None:
    r = pain_resistance(
        Record(
            PATIENT,
            medications=(
                med(
                    "MS/1",
                    "gabapentin",
                    date(2025, 1, 1),
                    date(2025, 1, 28),
                    outcome_code="no-response",
                ),
            ),
            procedures=(proc("Procedure/1", Coding(CPT, "64450"), outcome_code="no-response"),),
        ),
        AS_OF,
        DEFAULT,
    )
    assert [t.category for t in r.treatments] == ["nerve_block"]
    assert (r.status, r.failed_categories) == ("not_resistant", ("nerve_block",))


def test_opioid_counts_as_pain_medication() -> None:
    r = pain_resistance(
        Record(
            PATIENT,
            medications=(
                med(
                    "MS/1",
                    "Ultram 50 mg",
                    date(2025, 1, 1),
                    date(2025, 3, 1),
                    outcome_code="partial-response",
                ),
            ),
        ),
        AS_OF,
        DEFAULT,
    )
    assert [(t.category, t.name, t.failed) for t in r.treatments] == [
        ("pain_medication", "tramadol", True)
    ]
    assert r.status == "not_resistant"  # one category only


def test_two_failures_in_one_category_are_not_resistant() -> None:
    r = pain_resistance(
        Record(
            PATIENT,
            procedures=(
                proc("Procedure/1", Coding(CPT, "64450"), outcome_code="no-response"),
                proc("Procedure/2", Coding(CPT, "64520"), outcome_code="no-response"),
            ),
        ),
        AS_OF,
        DEFAULT,
    )
    assert (r.status, r.failed_categories) == ("not_resistant", ("nerve_block",))


def test_unevaluated_category_that_would_decide_makes_pain_unknown() -> None:
    r = pain_resistance(
        Record(
            PATIENT,
            procedures=(
                proc("Procedure/1", Coding(CPT, "64450"), outcome_code="no-response"),
                proc("Procedure/2", Coding(CPT, "97110")),
            ),
        ),
        AS_OF,
        DEFAULT,
    )
    assert r.status == "unknown"
    assert r.failed_categories == ("nerve_block",)
    assert pain_outcomes_missing(r, DEFAULT) is True


def test_intolerance_is_not_a_pain_failure() -> None:
    r = pain_resistance(
        Record(
            PATIENT,
            procedures=(
                proc("Procedure/1", Coding(CPT, "64450"), outcome_code="no-response"),
                proc("Procedure/2", Coding(CPT, "97110"), outcome_code="intolerance"),
            ),
        ),
        AS_OF,
        DEFAULT,
    )
    assert (r.status, r.failed_categories) == ("not_resistant", ("nerve_block",))
    assert pain_outcomes_missing(r, DEFAULT) is False


def test_pain_minimum_categories_comes_from_the_policy() -> None:
    record = Record(
        PATIENT, procedures=(proc("Procedure/1", Coding(CPT, "64450"), outcome_code="no-response"),)
    )
    assert pain_resistance(record, AS_OF, DEFAULT).status == "not_resistant"
    assert pain_resistance(record, AS_OF, policy_with(pain_minimum_categories=1)).status == (
        "resistant"
    )


def test_no_pain_treatment_is_unknown() -> None:
    r = pain_resistance(Record(PATIENT), AS_OF, DEFAULT)
    assert (r.status, r.failed_categories, r.treatments) == ("unknown", (), ())


def test_text_matching_several_outcomes_takes_the_first_in_the_spec_order_and_says_so() -> None:
    assert outcome_of(None, "partial response, then side effects") == (
        "partial-response",
        (
            "outcome read from the text 'partial response, then side effects' ('partial') as "
            "partial-response; it also suggests intolerance",
        ),
    )


def test_a_negated_side_effect_is_not_intolerance() -> None:
    # "no side effects" is a tolerated drug; only the response words decide.
    assert outcome_of(None, "No side effects, but no response after 8 weeks")[0] == "no-response"
    assert outcome_of(None, "no adverse effects")[0] is None
    assert outcome_of(None, "stopped: side effects (nausea)")[0] == "intolerance"
