"""Treatment resistance: trials from prescriptions, their outcome and adequacy; depression and pain.

Source: spec/screening.md, "Ingredient", "Outcome of a trial", "Trials from
prescriptions", "Depression resistance" and "Pain resistance"; clinical-facts.md,
"Medication table" (minimum adequate doses, adequate duration) and "Working
values" (pain-medication trial of 4 weeks, gaps of up to 30 days are one trial).

The record given to ``trials`` and ``pain_resistance`` is the as-of view
(``view.as_of_view``): nothing dated after the screening date, nothing
entered in error. What cannot be read is never guessed: a trial whose length or
dose is unknown is not adequate, and its ``assumptions`` say why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from ketaclinic.clinical import medications
from ketaclinic.clinical.facts import CPT, SNOMED, Medication, Observation, Procedure, Record
from ketaclinic.clinical.findings import (
    DepressionResistance,
    PainResistance,
    PainTreatment,
    ResistanceStatus,
    Trial,
)
from ketaclinic.clinical.view import is_ongoing
from ketaclinic.policy import Policy

OUTCOME_SOURCE = "spec/screening.md, 'Outcome of a trial'"
TRIALS_SOURCE = "spec/screening.md, 'Trials from prescriptions'; clinical-facts.md medication table"
DEPRESSION_SOURCE = (
    "spec/screening.md, 'Depression resistance': at least 2 failed adequate trials of 2 classes "
    "(Seeds; ATRQ and MGH staging for 6 weeks at the minimum adequate dose)"
)
PAIN_SOURCE = (
    "spec/screening.md, 'Pain resistance': at least 2 categories of standard treatment failed "
    "(Seeds: nerve blocks, physical therapy, pain medication; a 4-week medication trial, "
    "working value)"
)

OUTCOMES = frozenset({"no-response", "partial-response", "response", "remission", "intolerance"})
FAILED_OUTCOMES = frozenset({"no-response", "partial-response"})

# Keywords of free-text outcomes, in the order spec/screening.md lists them: the first outcome
# whose keyword appears wins, and a text matching several says so in the assumptions.
TEXT_OUTCOMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no-response", ("ineffective", "not effective", "no response")),
    ("partial-response", ("partial",)),
    ("intolerance", ("side effect", "intoleran", "adverse")),
)

# Pain-treatment categories, in the order the spec lists them.
NERVE_BLOCK = "nerve_block"
PHYSICAL_THERAPY = "physical_therapy"
PAIN_MEDICATION = "pain_medication"
PAIN_CATEGORIES: tuple[str, ...] = (NERVE_BLOCK, PHYSICAL_THERAPY, PAIN_MEDICATION)

# CPT 64400-64530: somatic and sympathetic nerve injections (anaesthetic agent), the range the
# spec names. CPT physical-medicine codes as listed in the spec: 97110 therapeutic exercise,
# 97112 neuromuscular re-education, 97113 aquatic therapy, 97116 gait training, 97140 manual
# therapy, 97530 therapeutic activities, 97535 self-care/home management training.
NERVE_BLOCK_CPT = (64400, 64530)
PHYSICAL_THERAPY_CPT = frozenset({"97110", "97112", "97113", "97116", "97140", "97530", "97535"})
# SNOMED CT physiotherapy: 91251008 |Physical therapy procedure (regime/therapy)|, 183311000
# |Passive exercise (regime/therapy)| (is-a physical therapy procedure; tx.fhir.org SNOMED pages).
PHYSICAL_THERAPY_SNOMED = frozenset({"91251008", "183311000"})
# SNOMED CT nerve blocks: 56333001 |Nerve block (procedure)| and 265778005 |Local anesthetic
# nerve block (procedure)| (SNOMED International Anesthesia CRG, meeting of 2023-07-25),
# 764909009 |Fluoroscopic guided thoracic sympathetic plexus block| and 789172006
# |Ultrasonography guided erector spinae plane block| (public SNOMED CT concept pages, with their
# defining attributes: injection of local anaesthetic). Other blocks coded in SNOMED CT are
# recognised by the words of their display ("... nerve block", "stellate ganglion block").
NERVE_BLOCK_SNOMED = frozenset({"56333001", "265778005", "764909009", "789172006"})
NERVE_BLOCK_WORDS = ("nerve block", "ganglion block")
PHYSICAL_THERAPY_WORDS = ("physical therapy", "physiotherapy")

# UCUM units of FHIR Timing.repeat.periodUnit, in days ("mo" is the UCUM mean Julian month).
_DAYS_PER_UNIT = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1.0,
    "wk": 7.0,
    "mo": 30.4375,
    "a": 365.25,
}


def daily_dose(m: Medication) -> tuple[float | None, tuple[str, ...]]:
    """The daily dose in mg of one prescription, and what had to be assumed to get it.

    Dose per administration (mg, or units x strength) x frequency / period. FHIR
    Timing: a frequency left out means once per period. A strength read from the
    name with no structured dose is one unit a day (spec, "Ingredient").
    """
    strength = (
        m.strength_mg if m.strength_mg is not None else medications.strength_from_text(m.name)
    )
    per_dose = m.dose_mg
    if per_dose is None and m.dose_units is not None:
        if strength is None:
            return None, (f"dose of {m.dose_units:g} units with no strength: daily dose unknown",)
        per_dose = m.dose_units * strength
    if per_dose is None:
        if strength is None:
            return None, ("no dose recorded: daily dose unknown",)
        return strength, (f"strength {strength:g} mg read from the name, taken as one unit a day",)
    if m.frequency is None and m.period is None and m.period_unit is None:
        return _mg(per_dose), ("no timing recorded: taken once a day",)
    notes: list[str] = []
    period, unit = m.period, m.period_unit
    if period is None or unit is None:
        notes.append("timing without a period: taken as per day")
        period, unit = 1.0, "d"
    days = period * _DAYS_PER_UNIT[unit] if unit in _DAYS_PER_UNIT else None
    if days is None or days <= 0:
        return None, (f"timing period {period:g} {unit} not understood: daily dose unknown",)
    frequency = 1 if m.frequency is None else m.frequency
    return _mg(per_dose * frequency / days), tuple(notes)


def _mg(value: float) -> float:
    # Timing arithmetic gives 0.30000000000000004; six decimals keep comparisons honest.
    if type(value) is float and value.is_integer():
        return value  # what round() gives back for a whole number of mg, without its cost
    return round(value, 6)


NEGATED_INTOLERANCE = re.compile(
    r"\b(?:no|without|denies|denied|not)\s+(?:any\s+|significant\s+|major\s+)*"
    r"(?:side[- ]effects?|adverse(?:\s+(?:effects?|events?|reactions?))?|intoleran\w*)"
)


# Kept by (code, text), bounded: a population writes the same few outcome texts over and over,
# and reading one runs two regular expressions (bench/cohort.py, issue 8).
@lru_cache(maxsize=4096)
def outcome_of(code: str | None, text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """The trial-outcome code, from the coding, or from keywords of the text (an assumption).

    Source: spec/screening.md, "Outcome of a trial".
    """
    if code is not None and code in OUTCOMES:
        return code, ()
    notes: tuple[str, ...] = ()
    if code is not None:
        notes = (f"outcome code {code!r} not recognised",)
    if not text:
        return None, notes
    # "no side effects" says the drug was tolerated: it must not read as intolerance.
    lowered = NEGATED_INTOLERANCE.sub(" ", text.lower())
    found = [
        (outcome, next(k for k in keywords if k in lowered))
        for outcome, keywords in TEXT_OUTCOMES
        if any(k in lowered for k in keywords)
    ]
    if not found:
        return None, (*notes, f"outcome text {text!r} not understood: unevaluated")
    outcome, keyword = found[0]
    read = f"outcome read from the text {text!r} ({keyword!r}) as {outcome}"
    if len(found) > 1:
        others = ", ".join(o for o, _ in found[1:])
        read += f"; it also suggests {others}"
    return outcome, (*notes, read)


class _Course(NamedTuple):
    """One prescription on the time line: [start, end), end capped at the screening date.

    A named tuple, not a frozen dataclass: one is built for every prescription of every patient
    screened, and a frozen dataclass takes three times as long to build (issue 8).
    """

    med: Medication
    ingredient: str
    start: date | None
    end: date | None  # None: length unknown
    ongoing: bool


def _course(m: Medication, ingredient: str, as_of: date) -> _Course:
    ongoing = is_ongoing(m, as_of)
    if m.start is None:
        end = None
    elif m.end is not None:
        end = min(m.end, as_of)
    elif ongoing:
        end = as_of
    else:
        end = None
    return _Course(m, ingredient, m.start, end, ongoing)


def _ingredient(m: Medication) -> str | None:
    return m.ingredient or medications.ingredient_from_text(m.name)


def _chains(courses: Iterable[_Course], merge_gap_days: int) -> list[list[_Course]]:
    """Same-ingredient courses with gaps of at most ``merge_gap_days`` form one chain.

    The gap is counted from one course's end to the next one's start, in days. A course
    of unknown length closes its chain: how long the gap after it was cannot be known.
    """
    by_ingredient: dict[str, list[_Course]] = {}
    for c in courses:
        by_ingredient.setdefault(c.ingredient, []).append(c)
    chains: list[list[_Course]] = []
    for group in by_ingredient.values():
        if len(group) == 1:  # one prescription of a drug, the usual case, is a chain of its own
            chains.append(group)
            continue
        dated = [c for c in group if c.start is not None]
        dated.sort(key=_course_order)
        chains.extend([c] for c in group if c.start is None)
        current: list[_Course] = []
        current_end: date | None = None
        for c in dated:
            assert c.start is not None
            joins = (
                current
                and current_end is not None
                and (c.start - current_end).days <= merge_gap_days
            )
            if joins:
                current.append(c)
            else:
                current = [c]
                chains.append(current)
                current_end = None
            if c.end is None:
                current_end = None
                current = []  # closed: a later course starts a new chain
            elif current_end is None or c.end > current_end:
                current_end = c.end
    return chains


def _course_order(c: _Course) -> tuple[date, str]:
    return (c.start or date.min, c.med.ref)


def _union_days(intervals: Sequence[tuple[date, date]]) -> int:
    if len(intervals) == 1:  # one course, the usual case: its own length
        start, end = intervals[0]
        return (end - start).days if end > start else 0
    total = 0
    reach: date | None = None
    for start, end in sorted(intervals):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += (end - start).days
            reach = end
    return total


def _lithium_level(
    observations: Sequence[Observation], start: date, end: date
) -> Observation | None:
    """The latest serum lithium level recorded during the trial, if any (LOINC 14334-7)."""
    levels = [
        (o.when.at, o.ref, o)
        for o in observations
        if medications.LITHIUM_LEVEL_LOINC in o.codes
        and o.value is not None
        and o.when is not None
        and start <= o.when.day <= end
    ]
    return max(levels)[2] if levels else None


def _noted(course: _Course, notes: Iterable[str], single: bool) -> list[str]:
    # A merged trial names the record each assumption is about.
    return [n if single else f"{course.med.ref}: {n}" for n in notes]


def _chain_outcome(chain: list[_Course]) -> tuple[str | None, list[str]]:
    """The outcome of a merged trial: the latest record that states one.

    When that is not the last record (a dose raised after an outcome was written, say),
    the outcome is carried forward and the assumption says from where.
    """
    single = len(chain) == 1
    outcome: str | None = None
    source: _Course | None = None
    notes: list[str] = []
    for c in chain:
        found, read = outcome_of(c.med.outcome_code, c.med.outcome_text)
        if read:  # most outcomes are coded and need no note
            notes += _noted(c, read, single)
        if found is not None:
            outcome, source = found, c
    if source is not None and source is not chain[-1]:
        notes.append(
            f"outcome {outcome} taken from {source.med.ref}, an earlier record of the trial"
        )
    return outcome, notes


def _trial(chain: list[_Course], record: Record, policy: Policy) -> Trial:
    ingredient = chain[0].ingredient
    entry = medications.drug(ingredient)
    minimum = entry.minimum_adequate_mg if entry else None
    single = len(chain) == 1
    assumptions: list[str] = []
    evidence = [c.med.ref for c in chain]
    doses: list[float] = []
    at_minimum: list[tuple[date, date]] = []
    known: list[tuple[date, date]] = []
    for c in chain:
        dose, notes = daily_dose(c.med)
        if notes:  # a structured dose needs none
            assumptions += _noted(c, notes, single)
        if dose is not None:
            doses.append(dose)
        if c.start is None or c.end is None:
            why = "no start date" if c.start is None else f"status {c.med.status} with no end date"
            assumptions += _noted(c, [f"{why}: length unknown, not counted"], single)
            continue
        known.append((c.start, c.end))
        if dose is not None and minimum is not None and dose >= minimum:
            at_minimum.append((c.start, c.end))
    if ingredient == "lithium" and known:
        level = _lithium_level(
            record.observations, min(s for s, _ in known), max(e for _, e in known)
        )
        if level is not None and level.value is not None and level.when is not None:
            enough = level.value >= medications.LITHIUM_MINIMUM_LEVEL_MMOL_L
            at_minimum = known if enough else []
            evidence.append(level.ref)
            assumptions.append(
                f"judged by serum lithium {level.value:g} mmol/L on {level.when.day.isoformat()} "
                f"({'at or above' if enough else 'below'} "
                f"{medications.LITHIUM_MINIMUM_LEVEL_MMOL_L:g}), not by dose"
            )
    if minimum is None:
        assumptions.append("no minimum adequate dose in the table: adequacy unknown")
    outcome, outcome_notes = _chain_outcome(chain)
    assumptions += outcome_notes
    days = _union_days(at_minimum)
    weeks = round(days / 7, 1) if known else None
    adequate = (
        minimum is not None
        and outcome != "intolerance"
        and days >= policy.resistance.minimum_weeks * 7
    )
    start = chain[0].start
    return Trial(
        medication=ingredient,
        drug_class=(entry.drug_class if entry else None) or "unclassified",
        daily_dose_mg=max(doses) if doses else None,
        minimum_adequate_mg=minimum,
        weeks=weeks,
        adequate=adequate,
        outcome=outcome,
        assumptions=tuple(dict.fromkeys(assumptions)) if assumptions else (),
        evidence=tuple(evidence),
        ongoing=any(c.ongoing for c in chain),
        start=start.isoformat() if start else None,
    )


_ANTIDEPRESSANTS = frozenset({"antidepressant"})
_WITH_BIPOLAR_AGENTS = frozenset({"antidepressant", "bipolar_agent"})


def trials(
    record: Record, as_of: date, policy: Policy, *, include_bipolar_agents: bool
) -> tuple[Trial, ...]:
    """Antidepressant trials (and bipolar-depression agents when asked), merged and judged.

    ``record`` is the as-of view. Source: spec/screening.md, "Trials from prescriptions".
    """
    groups = _WITH_BIPOLAR_AGENTS if include_bipolar_agents else _ANTIDEPRESSANTS
    courses = []
    for m in record.medications:
        ingredient = _ingredient(m)
        if ingredient is not None and not groups.isdisjoint(medications.groups_of(ingredient)):
            courses.append(_course(m, ingredient, as_of))
    chains = _chains(courses, policy.resistance.merge_gap_days)
    found = [_trial(chain, record, policy) for chain in chains]
    return tuple(sorted(found, key=_trial_order))


def bipolar_agent_taken(record: Record) -> bool:
    """Whether any medication is a bipolar-depression agent. When none is, ``trials`` gives the
    same trials with ``include_bipolar_agents`` as without it."""
    return any("bipolar_agent" in medications.groups_of(_ingredient(m)) for m in record.medications)


def _trial_order(t: Trial) -> tuple[bool, str, str, tuple[str, ...]]:
    return (t.start is None, t.start or "", t.medication, t.evidence)


def is_failed(t: Trial) -> bool:
    """A failed adequate trial: adequate, with outcome no-response or partial-response."""
    return t.adequate and t.outcome in FAILED_OUTCOMES


def _shown(trials: Sequence[Trial], policy: Policy, *, unevaluated_failed: bool) -> bool:
    # is_failed(t), or adequate with no outcome when those count: written out, as this runs for
    # every trial several times a screening (issue 8).
    counted = [
        t
        for t in trials
        if t.adequate
        and (t.outcome in FAILED_OUTCOMES or (unevaluated_failed and t.outcome is None))
    ]
    if policy.resistance.distinct_classes:
        distinct = {t.drug_class for t in counted}
    else:
        distinct = {t.medication for t in counted}
    return len(distinct) >= policy.resistance.minimum_failed_trials


def outcomes_missing(trials: Sequence[Trial], policy: Policy) -> bool:
    """Resistance not shown, but it would be had the unevaluated adequate trials failed.

    Source: spec/screening.md, "treatment_outcomes" (the records are incomplete, not negative).
    """
    if not trials:  # no trial shows resistance, counted either way
        return False
    shown = _shown(trials, policy, unevaluated_failed=False)
    return not shown and _shown(trials, policy, unevaluated_failed=True)


def depression_resistance(trials: Sequence[Trial], policy: Policy) -> DepressionResistance:
    """Resistant with enough failed adequate trials of distinct classes (or medications).

    Source: DEPRESSION_SOURCE; policy resistance.minimum_failed_trials, distinct_classes.
    """
    if not trials:  # a third of patients: nothing to count
        return DepressionResistance(
            status="unknown", failed_adequate_trials=0, classes=(), trials=()
        )
    failed = [t for t in trials if is_failed(t)]
    status: ResistanceStatus
    if _shown(trials, policy, unevaluated_failed=False):
        status = "resistant"
    elif _shown(trials, policy, unevaluated_failed=True):  # outcomes_missing, shown already false
        status = "unknown"
    else:
        status = "not_resistant"
    return DepressionResistance(
        status=status,
        failed_adequate_trials=len(failed),
        classes=tuple(sorted({t.drug_class for t in failed})),
        trials=tuple(trials),
    )


def _procedure_category(p: Procedure) -> str | None:
    # Kept by the procedure's words and codes: nearly every patient has the same few procedures
    # (a physical exam), and reading one joins and searches its words (issue 8).
    codings = tuple([(c.system, c.code, c.display) for c in p.codings])
    return _category_of(p.text, codings)


@lru_cache(maxsize=4096)
def _category_of(text: str | None, codings: tuple[tuple[str, str, str | None], ...]) -> str | None:
    for system, written, _display in codings:
        code = written.strip()
        if system == CPT and code.isdigit() and len(code) == 5:
            if NERVE_BLOCK_CPT[0] <= int(code) <= NERVE_BLOCK_CPT[1]:
                return NERVE_BLOCK
            if code in PHYSICAL_THERAPY_CPT:
                return PHYSICAL_THERAPY
        if system == SNOMED and code in NERVE_BLOCK_SNOMED:
            return NERVE_BLOCK
        if system == SNOMED and code in PHYSICAL_THERAPY_SNOMED:
            return PHYSICAL_THERAPY
    words = " ".join([text or "", *(display or "" for _, _, display in codings)]).lower()
    if any(w in words for w in NERVE_BLOCK_WORDS):
        return NERVE_BLOCK
    if any(w in words for w in PHYSICAL_THERAPY_WORDS):
        return PHYSICAL_THERAPY
    return None


def _procedure_name(p: Procedure) -> str:
    if p.text:
        return p.text
    for c in p.codings:
        if c.display:
            return c.display
    return p.codings[0].code if p.codings else p.ref


def _procedure_treatment(p: Procedure, category: str) -> PainTreatment:
    outcome, notes = outcome_of(p.outcome_code, p.outcome_text)
    return PainTreatment(
        category=category,
        name=_procedure_name(p),
        failed=outcome in FAILED_OUTCOMES,
        outcome=outcome,
        assumptions=notes,
        evidence=(p.ref,),
    )


def _medication_treatment(chain: list[_Course], policy: Policy) -> PainTreatment | None:
    """A pain-medication course taken long enough to count as tried; else None.

    Source: clinical-facts.md working value, a pain-medication trial of at least 4 weeks.
    """
    known = [(c.start, c.end) for c in chain if c.start is not None and c.end is not None]
    if _union_days(known) < policy.resistance.pain_minimum_weeks * 7:
        return None
    outcome, assumptions = _chain_outcome(chain)
    return PainTreatment(
        category=PAIN_MEDICATION,
        name=chain[0].ingredient,
        failed=outcome in FAILED_OUTCOMES,
        outcome=outcome,
        assumptions=tuple(dict.fromkeys(assumptions)),
        evidence=tuple(c.med.ref for c in chain),
    )


def pain_resistance(record: Record, as_of: date, policy: Policy) -> PainResistance:
    """Standard pain treatments tried and failed, by category.

    ``record`` is the as-of view. ``treatments`` lists every nerve block and physical
    therapy procedure, and each pain-medication course taken for at least
    ``resistance.pain_minimum_weeks`` (a shorter course is not a trial of the category).
    Source: PAIN_SOURCE.
    """
    dated: list[tuple[date | None, PainTreatment]] = []
    for p in record.procedures:
        category = _procedure_category(p)
        if category is not None:
            dated.append((p.performed, _procedure_treatment(p, category)))
    courses = []
    for m in record.medications:
        ingredient = _ingredient(m)
        if ingredient is not None and "pain_medication" in medications.groups_of(ingredient):
            courses.append(_course(m, ingredient, as_of))
    for chain in _chains(courses, policy.resistance.merge_gap_days):
        treatment = _medication_treatment(chain, policy)
        if treatment is not None:
            dated.append((chain[0].start, treatment))
    if not dated:  # the common case, answered without the sorting and counting below
        return PainResistance(status="unknown", failed_categories=(), treatments=())
    dated.sort(key=lambda d: (d[0] is None, d[0] or date.min, d[1].category, d[1].name))
    treatments = tuple([t for _, t in dated])
    failed = _categories([t for t in treatments if t.failed])
    status: ResistanceStatus
    if not treatments:
        status = "unknown"
    elif len(failed) >= policy.resistance.pain_minimum_categories:
        status = "resistant"
    elif _possibly_failed(treatments, policy):  # _pain_would_be_shown, failed counted above
        status = "unknown"
    else:
        status = "not_resistant"
    return PainResistance(status=status, failed_categories=failed, treatments=treatments)


def _categories(treatments: Iterable[PainTreatment]) -> tuple[str, ...]:
    present = {t.category for t in treatments}
    return tuple([c for c in PAIN_CATEGORIES if c in present])


def _pain_would_be_shown(treatments: Sequence[PainTreatment], policy: Policy) -> bool:
    if not treatments:
        return False
    failed = _categories([t for t in treatments if t.failed])
    if len(failed) >= policy.resistance.pain_minimum_categories:
        return False
    return _possibly_failed(treatments, policy)


def _possibly_failed(treatments: Sequence[PainTreatment], policy: Policy) -> bool:
    """Enough categories failed, counting the treatments with no outcome as failed."""
    possible = _categories([t for t in treatments if t.failed or t.outcome is None])
    return len(possible) >= policy.resistance.pain_minimum_categories


def pain_outcomes_missing(pain: PainResistance, policy: Policy) -> bool:
    """Pain resistance not shown, but it would be had the unevaluated treatments failed."""
    return _pain_would_be_shown(pain.treatments, policy)
