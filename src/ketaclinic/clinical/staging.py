"""Staging of treatment resistance: Thase–Rush, Maudsley and MGH.

Source: clinical-facts.md, "Staging of resistance"; spec/screening.md, Output
(`staging`) and "Staging uses the depression trials".

Every model reads the same trials. A trial counts as *failed* when it is
adequate and its outcome is no-response or partial-response (spec, "Outcome of
a trial"). What cannot be read is never invented: an unknown item is scored at
its minimum, or left uncounted, and the stage's ``assumptions`` say so and say
that the result is then a lower bound.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from ketaclinic.clinical.findings import Stage, Staging, Trial

THASE_RUSH_SOURCE = (
    "Thase & Rush 1997 (clinical-facts.md, Staging of resistance): 0 no failed trial; I one class "
    "failed; II two classes; III plus a TCA; IV plus an MAOI; V plus bilateral ECT"
)
MAUDSLEY_SOURCE = (
    "Maudsley Staging Method, Fekadu 2009 (clinical-facts.md, Staging of resistance): episode "
    "length <= 12 months 1, 13-24 months 2, > 24 months 3; severity subsyndromal 1, mild 2, "
    "moderate 3, severe without psychosis 4, severe with psychosis 5; failed antidepressants 1-2 "
    "-> 1, 3-4 -> 2, 5-6 -> 3, 7-10 -> 4, > 10 -> 5; augmentation +1; ECT +1; bands mild 3-6, "
    "moderate 7-10, severe 11-15. Severity from the PHQ-9 bands 5/10/15/20 (Kroenke 2001): "
    "< 5 subsyndromal, 5-9 mild, 10-14 moderate, 15-19 (moderately severe, no Maudsley level) "
    "moderate as a lower bound, >= 20 severe; else from the diagnosis code (spec/screening.md)"
)
MGH_SOURCE = (
    "MGH staging, Fava 2003 (clinical-facts.md, Staging of resistance): 1 point per failed "
    "adequate trial (>= 6 weeks), +0.5 per optimised dose (read as a daily dose above the "
    "minimum adequate dose of the ATRQ table), +0.5 per augmentation, +3 for ECT"
)

FAILED_OUTCOMES = frozenset({"no-response", "partial-response"})
ANTIDEPRESSANT_CLASSES = frozenset({"ssri", "snri", "tca", "maoi", "atypical"})
# Bipolar-depression agents count as treatment classes (spec, "Depression resistance").
BIPOLAR_DEPRESSION_CLASSES = frozenset({"antipsychotic", "mood stabiliser"})

LOWER_BOUND = "the score is a lower bound"


@dataclass(frozen=True)
class StagingInput:
    trials: tuple[Trial, ...]
    episode_onset: date | None
    as_of: date
    phq9_total: float | None
    # "mild", "moderate", "severe" or "severe_with_psychosis", read from the diagnosis code.
    severity_from_code: str | None
    # An augmenting agent given beside an antidepressant; None when it cannot be read.
    augmentation: bool | None
    ect: bool
    ect_bilateral: bool | None


@dataclass(frozen=True)
class _TrialReading:
    """The trials as the three models count them, with what could not be counted."""

    failed: tuple[Trial, ...]
    classes: frozenset[str]
    assumptions: tuple[str, ...]


def _class_key(trial: Trial) -> str:
    return trial.drug_class.strip().casefold()


def is_failed(trial: Trial) -> bool:
    """Adequate, and its outcome is no-response or partial-response."""
    return trial.adequate and trial.outcome in FAILED_OUTCOMES


def _names(trials: list[Trial]) -> str:
    return ", ".join(t.medication for t in trials)


def _read_trials(trials: tuple[Trial, ...]) -> _TrialReading:
    counted = [t for t in trials if _class_key(t) in ANTIDEPRESSANT_CLASSES]
    counted += [t for t in trials if _class_key(t) in BIPOLAR_DEPRESSION_CLASSES]
    other = [t for t in trials if t not in counted and is_failed(t)]
    failed = [t for t in counted if is_failed(t)]
    unevaluated = [t for t in counted if t.adequate and t.outcome is None]
    notes: list[str] = []
    bipolar = [t for t in failed if _class_key(t) in BIPOLAR_DEPRESSION_CLASSES]
    if bipolar:
        notes.append(f"bipolar-depression agents counted as treatment trials: {_names(bipolar)}")
    if unevaluated:
        notes.append(
            f"adequate trials with no recorded outcome not counted as failed: "
            f"{_names(unevaluated)}; the result is a lower bound"
        )
    if other:
        notes.append(
            "failed trials outside the antidepressant and bipolar-depression classes not counted: "
            + ", ".join(f"{t.medication} ({t.drug_class})" for t in other)
        )
    return _TrialReading(
        failed=tuple(failed),
        classes=frozenset(_class_key(t) for t in failed),
        assumptions=tuple(notes),
    )


def thase_rush(inp: StagingInput) -> Stage:
    """Thase–Rush stage 0–V.

    Each stage is the one before it *plus* a failure: III needs a failed TCA
    beside two other failed classes, IV a failed MAOI beside a TCA and two
    other classes, V a bilateral ECT course on top of IV. So a failed SSRI and
    a failed TCA are stage II, not III.
    """
    reading = _read_trials(inp.trials)
    notes = list(reading.assumptions)
    classes = reading.classes
    stage = min(len(classes), 2)
    if stage == 2 and "tca" in classes and len(classes - {"tca"}) >= 2:
        stage = 3
        if "maoi" in classes and len(classes - {"tca", "maoi"}) >= 2:
            stage = 4
            if inp.ect and inp.ect_bilateral:
                stage = 5
            elif inp.ect and inp.ect_bilateral is None:
                notes.append(
                    "ECT recorded with unknown laterality: not counted as bilateral; "
                    "the stage may be V"
                )
    return Stage(stage=stage, assumptions=tuple(notes))


def _plus_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has none."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def maudsley_duration_item(onset: date | None, as_of: date) -> tuple[int, tuple[str, ...]]:
    """Episode length: <= 12 months 1, 13–24 months 2, > 24 months 3.

    Counted in calendar months from the onset, so a day past 12 months is in the
    13–24 band and a day past 24 months is over 24.
    """
    if onset is None or onset > as_of:
        why = "episode length unknown" if onset is None else "episode onset after the as-of date"
        return 1, (f"{why}: scored as <= 12 months (minimum); {LOWER_BOUND}",)
    if as_of <= _plus_months(onset, 12):
        return 1, ()
    if as_of <= _plus_months(onset, 24):
        return 2, ()
    return 3, ()


SEVERITY_FROM_CODE = {"mild": 2, "moderate": 3, "severe": 4, "severe_with_psychosis": 5}
PHQ9_MAXIMUM = 27


def _phq9_severity(total: float) -> tuple[int, str]:
    if total < 5:
        return 1, "subsyndromal"
    if total < 10:
        return 2, "mild"
    if total < 15:
        return 3, "moderate"
    if total < 20:
        return 3, "moderately severe"
    return 4, "severe"


def maudsley_severity_item(
    phq9_total: float | None, severity_from_code: str | None
) -> tuple[int, tuple[str, ...]]:
    """Severity 1–5 from the latest PHQ-9 band, else from the diagnosis code.

    PHQ-9 15–19 ("moderately severe") has no Maudsley level; it is scored as
    moderate, the lower neighbour, so that the score stays a lower bound.
    The PHQ-9 cannot show psychosis: a severe PHQ-9 with a diagnosis code of
    severe with psychosis scores 5.
    """
    notes: list[str] = []
    if phq9_total is not None and not 0 <= phq9_total <= PHQ9_MAXIMUM:
        notes.append(f"latest PHQ-9 total {phq9_total:g} is outside 0-27: not read")
        phq9_total = None
    if phq9_total is not None:
        item, band = _phq9_severity(phq9_total)
        notes.append(f"severity from the latest PHQ-9 ({phq9_total:g}, {band})")
        if band == "moderately severe":
            notes.append(
                "PHQ-9 15-19 (moderately severe) scored as moderate (3), the lower neighbour; "
                f"the severity may be 4 and {LOWER_BOUND}"
            )
        elif item == 4 and severity_from_code == "severe_with_psychosis":
            item = 5
            notes.append("psychotic features from the diagnosis code")
        return item, tuple(notes)
    if severity_from_code in SEVERITY_FROM_CODE:
        notes.append(f"severity from the diagnosis code ({severity_from_code})")
        return SEVERITY_FROM_CODE[severity_from_code], tuple(notes)
    if severity_from_code is not None:
        notes.append(f"severity '{severity_from_code}' from the diagnosis code is not known")
    notes.append(
        "severity unknown (no PHQ-9, no severity in the diagnosis code): "
        f"scored as subsyndromal (1, minimum); {LOWER_BOUND}"
    )
    return 1, tuple(notes)


def maudsley_treatment_item(failed_medications: int) -> int:
    """Failed antidepressants: 1–2 -> 1, 3–4 -> 2, 5–6 -> 3, 7–10 -> 4, > 10 -> 5.

    None failed is scored 1, the item's floor (the scale runs 3–15).
    """
    if failed_medications <= 2:
        return 1
    if failed_medications <= 4:
        return 2
    if failed_medications <= 6:
        return 3
    if failed_medications <= 10:
        return 4
    return 5


def maudsley_band(score: int) -> str:
    """Mild 3–6, moderate 7–10, severe 11–15."""
    if score <= 6:
        return "mild"
    if score <= 10:
        return "moderate"
    return "severe"


def maudsley(inp: StagingInput) -> Stage:
    """Maudsley score 3–15 and its band."""
    reading = _read_trials(inp.trials)
    duration, duration_notes = maudsley_duration_item(inp.episode_onset, inp.as_of)
    severity, severity_notes = maudsley_severity_item(inp.phq9_total, inp.severity_from_code)
    # The item counts medications, so two courses of one drug are one failure.
    medications = {t.medication.strip().casefold() for t in reading.failed}
    notes = [*duration_notes, *severity_notes, *reading.assumptions]
    if not medications:
        notes.append("no failed adequate trial: treatment item scored at its floor (1)")
    score = duration + severity + maudsley_treatment_item(len(medications))
    if inp.augmentation:
        score += 1
    elif inp.augmentation is None:
        notes.append(f"augmentation unknown: not counted; {LOWER_BOUND}")
    if inp.ect:
        score += 1
    return Stage(score=score, band=maudsley_band(score), assumptions=tuple(notes))


def is_optimised(trial: Trial) -> bool | None:
    """A daily dose above the minimum adequate dose; None when either is unknown."""
    if trial.daily_dose_mg is None or trial.minimum_adequate_mg is None:
        return None
    return trial.daily_dose_mg > trial.minimum_adequate_mg


def mgh(inp: StagingInput) -> Stage:
    """MGH score: 1 per failed adequate trial, 0.5 per optimised dose or augmentation, 3 for ECT."""
    reading = _read_trials(inp.trials)
    notes = list(reading.assumptions)
    score = float(len(reading.failed))
    optimised = [is_optimised(t) for t in reading.failed]
    score += 0.5 * optimised.count(True)
    unknown = [t for t, o in zip(reading.failed, optimised, strict=True) if o is None]
    if unknown:
        notes.append(
            f"dose optimisation not readable (no daily or minimum dose) for {_names(unknown)}: "
            f"not counted; {LOWER_BOUND}"
        )
    if inp.augmentation:
        # MGH adds 0.5 for each augmented trial; which trials were augmented is not read.
        score += 0.5
        notes.append(f"augmentation counted once (0.5), not per trial; {LOWER_BOUND}")
    elif inp.augmentation is None:
        notes.append(f"augmentation unknown: not counted; {LOWER_BOUND}")
    if inp.ect:
        score += 3
    return Stage(score=score, assumptions=tuple(notes))


def stage(inp: StagingInput) -> Staging:
    """All three stagings of one patient's depression trials."""
    return Staging(thase_rush=thase_rush(inp), maudsley=maudsley(inp), mgh=mgh(inp))
