"""Screen one person: the whole contract of spec/screening.md over plain facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ketaclinic.clinical import (
    contraindications,
    indications,
    interactions,
    medications,
    resistance,
    staging,
    workup,
)
from ketaclinic.clinical.facts import CPT, ICD10, SNOMED, Medication, Record
from ketaclinic.clinical.findings import (
    Decision,
    DepressionResistance,
    Finding,
    Indication,
    PainResistance,
    Route,
    Screening,
    Staging,
    Trial,
)
from ketaclinic.clinical.unrecognised import unrecognised_codes
from ketaclinic.clinical.view import as_of_view, is_active
from ketaclinic.policy import DEFAULT, Policy

PHQ9_TOTAL = "44261-6"
# CPT 90870 and SNOMED CT 23835007 as the spec names them; SNOMED CT 1010697006 |Right unilateral
# electroconvulsive therapy (procedure)| is-a electroconvulsive therapy (tx.fhir.org SNOMED pages).
ECT_CODES = frozenset({(CPT, "90870"), (SNOMED, "23835007"), (SNOMED, "1010697006")})
KIND_ORDER = {
    "absolute": 0,
    "indication": 1,
    "missing": 2,
    "relative": 3,
    "interaction": 4,
    "note": 5,
}


def decide(findings: Sequence[Finding], qualifying: int) -> Decision:
    """The spec's decision order: the first rule that applies wins."""
    kinds = {f.kind for f in findings}
    if "absolute" in kinds:
        return "not_eligible"
    if qualifying == 0 and "indication" in kinds:
        return "not_eligible"
    if "missing" in kinds:
        return "needs_information"
    if kinds & {"relative", "interaction"}:
        return "eligible_with_precautions"
    return "eligible"


def _not_applicable(r: DepressionResistance) -> DepressionResistance:
    return DepressionResistance("not_applicable", r.failed_adequate_trials, r.classes, r.trials)


def _ect(record: Record) -> tuple[bool, bool | None]:
    found = [
        p for p in record.procedures if any((c.system, c.code) in ECT_CODES for c in p.codings)
    ]
    if not found:
        return False, None
    bilateral = any("bilateral" in (p.text or "").lower() for p in found)
    return True, True if bilateral else None


def _span(m: Medication, as_of: date) -> tuple[date, date]:
    return (m.start or date.min, m.end or as_of)


def _augmented(record: Record, as_of: date) -> bool:
    """An augmenting agent taken while an antidepressant was (Maudsley, MGH staging)."""
    meds = record.medications
    antidepressants = [
        _span(m, as_of) for m in meds if medications.in_group(m.ingredient, "antidepressant")
    ]
    for m in meds:
        if medications.in_group(m.ingredient, "augmenting") and not medications.in_group(
            m.ingredient, "antidepressant"
        ):
            start, end = _span(m, as_of)
            if any(start <= ad_end and ad_start <= end for ad_start, ad_end in antidepressants):
                return True
    return False


def _severity_from_code(record: Record, as_of: date) -> str | None:
    severities = {"0": "mild", "1": "moderate", "2": "severe", "3": "severe_with_psychosis"}
    found: str | None = None
    for c in record.conditions:
        if not is_active(c, as_of):
            continue
        for coding in c.codings:
            code = coding.code.upper().replace(".", "")
            if coding.system == ICD10 and code[:3] in {"F32", "F33"} and len(code) > 3:
                found = severities.get(code[3], found)
    return found


def _latest_phq9(record: Record) -> float | None:
    readings = [o for o in record.observations if PHQ9_TOTAL in o.codes and o.value is not None]
    readings.sort(key=lambda o: o.when.at if o.when else datetime.min)
    return readings[-1].value if readings else None


def _staging(record: Record, as_of: date, trials: tuple[Trial, ...], mdd: Sequence[str]) -> Staging:
    onsets = [
        c.onset or c.recorded
        for c in record.conditions
        if c.ref in mdd and (c.onset or c.recorded) is not None
    ]
    ect, bilateral = _ect(record)
    return staging.stage(
        staging.StagingInput(
            trials=trials,
            episode_onset=min(d for d in onsets if d is not None) if onsets else None,
            as_of=as_of,
            phq9_total=_latest_phq9(record),
            severity_from_code=_severity_from_code(record, as_of),
            augmentation=_augmented(record, as_of),
            ect=ect,
            ect_bilateral=bilateral,
        )
    )


@dataclass(frozen=True)
class Assessment:
    """The decision and what it rests on. A population screening keeps only this (its rows are
    the decision, the indications and the findings); ``screen`` adds the workup and staging."""

    seen: Record
    diagnoses: indications.Diagnoses
    depression: DepressionResistance
    bipolar: DepressionResistance
    pain: PainResistance
    indications: tuple[Indication, ...]
    findings: tuple[Finding, ...]
    decision: Decision


def assess(
    record: Record, as_of: date, route: Route = "iv", policy: Policy = DEFAULT
) -> Assessment:
    """The findings, qualifying indications and decision of screening ``record`` for ``route``
    as of ``as_of``: every rule that can change the decision, and nothing else."""
    seen = as_of_view(record, as_of)
    diagnoses = indications.active_diagnoses(seen, as_of)

    ad_trials = resistance.trials(seen, as_of, policy, include_bipolar_agents=False)
    depression = resistance.depression_resistance(ad_trials, policy)
    depression_outcomes_missing = resistance.outcomes_missing(ad_trials, policy)
    # Without a bipolar-depression agent both are the same trials, so what is read from them is
    # the same too: it is worked out once.
    if resistance.bipolar_agent_taken(seen):
        bp_trials = resistance.trials(seen, as_of, policy, include_bipolar_agents=True)
        bipolar = resistance.depression_resistance(bp_trials, policy)
        bipolar_outcomes_missing = resistance.outcomes_missing(bp_trials, policy)
    else:
        bipolar, bipolar_outcomes_missing = depression, depression_outcomes_missing
    pain = resistance.pain_resistance(seen, as_of, policy)

    found: list[Finding] = list(contraindications.contraindications(seen, as_of, route, policy))
    found += interactions.interactions(seen, as_of)
    suicidality = next((f for f in found if f.id == "active_suicidality"), None)
    qualification = indications.qualify(
        seen,
        as_of,
        route,
        diagnoses,
        depression,
        bipolar,
        pain,
        suicidality,
        depression_outcomes_missing=depression_outcomes_missing,
        bipolar_outcomes_missing=bipolar_outcomes_missing,
        pain_outcomes_missing=resistance.pain_outcomes_missing(pain, policy),
    )
    found += qualification.findings
    found += unrecognised_codes(seen)
    found.sort(key=lambda f: (KIND_ORDER[f.kind], f.id, f.evidence))
    return Assessment(
        seen=seen,
        diagnoses=diagnoses,
        depression=depression,
        bipolar=bipolar,
        pain=pain,
        indications=qualification.indications,
        findings=tuple(found),
        decision=decide(found, len(qualification.indications)),
    )


def screen(record: Record, as_of: date, route: Route = "iv", policy: Policy = DEFAULT) -> Screening:
    """Screen ``record`` for ``route`` as of ``as_of``."""
    assessed = assess(record, as_of, route, policy)
    seen, diagnoses, pain = assessed.seen, assessed.diagnoses, assessed.pain
    is_bipolar = diagnoses.has("bipolar_depression")
    shown = assessed.bipolar if is_bipolar else assessed.depression
    if not indications.needs_depression_resistance(diagnoses):
        shown = _not_applicable(shown)
    if not indications.needs_pain_resistance(diagnoses):
        pain = PainResistance("not_applicable", pain.failed_categories, pain.treatments)

    anxiety_only = diagnoses.has("anxiety_disorder") and not any(
        diagnoses.has(i) for i in ("treatment_resistant_depression", "bipolar_depression", "ptsd")
    )
    items = workup.workup(seen, as_of, policy, findings=assessed.findings, anxiety=anxiety_only)
    depressive = diagnoses.evidence("treatment_resistant_depression") + diagnoses.evidence(
        "bipolar_depression"
    )
    return Screening(
        patient=record.patient.ref,
        route=route,
        as_of=as_of.isoformat(),
        decision=assessed.decision,
        indications=assessed.indications,
        treatment_resistance=shown,
        pain_resistance=pain,
        findings=assessed.findings,
        workup=items,
        staging=_staging(seen, as_of, shown.trials, depressive) if depressive else None,
        workup_complete=workup.workup_complete(items),
        policy_name=policy.name,
        policy_sha256=policy.sha256,
    )
