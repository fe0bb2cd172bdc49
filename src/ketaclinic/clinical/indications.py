"""Which indications qualify, and the one finding that says why none does.

Source: spec/screening.md, "Indications"; clinical-facts.md, "Candidacy" and
"Esketamine" (Seeds; Spravato label).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ketaclinic.clinical import codes, medications
from ketaclinic.clinical.facts import Record
from ketaclinic.clinical.findings import (
    DepressionResistance,
    Finding,
    Indication,
    PainResistance,
    Route,
)
from ketaclinic.clinical.view import is_ongoing

SPEC = "ketaclinic screening contract v1 (spec/screening.md), Indications"
SEEDS_CANDIDACY = "Seeds (qualification): candidacy for ketamine therapy"
LABEL_SI = (
    "Spravato label: MDD with acute suicidal ideation or behaviour only with an oral antidepressant"
)
DEPRESSION_DIAGNOSES = (
    "treatment_resistant_depression",
    "bipolar_depression",
    "ptsd",
    "anxiety_disorder",
)
PAIN_DIAGNOSES = ("crps", "neuropathic_pain", "fibromyalgia")
_ALL_DIAGNOSES = (*DEPRESSION_DIAGNOSES, *PAIN_DIAGNOSES)
ON_LABEL_ESKETAMINE = frozenset({"treatment_resistant_depression", "mdd_with_suicidal_ideation"})


@dataclass(frozen=True)
class Diagnoses:
    """Active diagnoses by indication id, each with the conditions that show it."""

    by_indication: dict[str, tuple[str, ...]]

    def has(self, indication: str) -> bool:
        return bool(self.by_indication.get(indication))

    def evidence(self, indication: str) -> tuple[str, ...]:
        return self.by_indication.get(indication, ())


_VALUE_SETS = {
    "treatment_resistant_depression": codes.MDD,
    "bipolar_depression": codes.BIPOLAR_DEPRESSION,
    "ptsd": codes.PTSD,
    "anxiety_disorder": codes.ANXIETY,
    "crps": codes.CRPS,
    "neuropathic_pain": codes.NEUROPATHIC_PAIN,
    "fibromyalgia": codes.FIBROMYALGIA,
}


codes.coded_names(*_VALUE_SETS.values())  # active_diagnoses relies on it


def active_diagnoses(record: Record, as_of: date) -> Diagnoses:
    # The conditions are grouped by value set once, not matched against each of the seven sets.
    grouped = codes.grouped(record.conditions)
    by_indication: dict[str, tuple[str, ...]] = {}
    for indication, value_set in _VALUE_SETS.items():
        if value_set.name not in grouped.held:  # all seven are read by code (checked above)
            continue
        found = grouped.matching(value_set, active_on=as_of)
        if found:
            by_indication[indication] = tuple([c.ref for c in found])
    return Diagnoses(by_indication)


def needs_depression_resistance(d: Diagnoses) -> bool:
    return any(d.has(i) for i in DEPRESSION_DIAGNOSES)


def needs_pain_resistance(d: Diagnoses) -> bool:
    return any(d.has(i) for i in PAIN_DIAGNOSES)


def takes_oral_antidepressant(record: Record, as_of: date) -> tuple[str, ...]:
    """Refs of ongoing oral antidepressants (every one in the table but transdermal selegiline)."""
    return tuple(
        m.ref
        for m in record.medications
        if is_ongoing(m, as_of)
        and medications.in_group(m.ingredient, "antidepressant")
        and m.ingredient != "selegiline"
    )


@dataclass(frozen=True)
class Qualification:
    indications: tuple[Indication, ...]
    findings: tuple[Finding, ...]


def qualify(
    record: Record,
    as_of: date,
    route: Route,
    diagnoses: Diagnoses,
    depression: DepressionResistance,
    bipolar: DepressionResistance,
    pain: PainResistance,
    suicidality: Finding | None,
    *,
    depression_outcomes_missing: bool,
    bipolar_outcomes_missing: bool,
    pain_outcomes_missing: bool,
) -> Qualification:
    """The qualifying indications, their notes, and the finding when none qualifies."""
    qualifying: list[Indication] = []
    findings: list[Finding] = []

    def add(indication_id: str, extra: tuple[str, ...] = ()) -> None:
        on_label = route == "esketamine" and indication_id in ON_LABEL_ESKETAMINE
        refs = diagnoses.evidence(indication_id) + extra
        qualifying.append(Indication(indication_id, on_label, refs))

    resistant_for: dict[str, DepressionResistance | PainResistance] = {
        "treatment_resistant_depression": depression,
        "bipolar_depression": bipolar,
        "ptsd": depression,
        "anxiety_disorder": depression,
        "crps": pain,
        "neuropathic_pain": pain,
        "fibromyalgia": pain,
    }
    for indication_id, resistance in resistant_for.items():
        if indication_id == "treatment_resistant_depression" and diagnoses.has(indication_id):
            if resistance.status == "resistant":
                add(
                    indication_id,
                    tuple(
                        ref
                        for t in depression.trials
                        for ref in t.evidence
                        if t.adequate and t.outcome in FAILED
                    ),
                )
            if suicidality is not None:
                add("mdd_with_suicidal_ideation", suicidality.evidence)
                if route == "esketamine" and not takes_oral_antidepressant(record, as_of):
                    findings.append(_no_concurrent_oral_antidepressant(diagnoses, suicidality))
            continue
        # The status first: it is one comparison, and most patients are not resistant.
        if resistance.status == "resistant" and diagnoses.has(indication_id):
            add(indication_id)

    for indication in qualifying:
        if not indication.on_label:
            findings.append(_off_label(indication, route))
    if not qualifying:
        findings.append(
            _why_none(
                diagnoses,
                depression,
                bipolar,
                pain,
                depression_outcomes_missing,
                bipolar_outcomes_missing,
                pain_outcomes_missing,
            )
        )
    return Qualification(tuple(qualifying), tuple(findings))


FAILED = frozenset({"no-response", "partial-response"})

_NAMES = {
    "treatment_resistant_depression": "treatment-resistant depression",
    "mdd_with_suicidal_ideation": "major depression with suicidal ideation",
    "bipolar_depression": "bipolar depression",
    "ptsd": "PTSD",
    "anxiety_disorder": "anxiety disorder",
    "crps": "complex regional pain syndrome",
    "neuropathic_pain": "neuropathic pain",
    "fibromyalgia": "fibromyalgia",
}


def _sentence_case(text: str) -> str:
    """Upper-case the first letter only ("PTSD" stays "PTSD", unlike str.capitalize)."""
    return text[:1].upper() + text[1:]


def _off_label(indication: Indication, route: Route) -> Finding:
    drug = "esketamine" if route == "esketamine" else "ketamine"
    why = (
        "ketamine itself is approved only for anaesthesia"
        if route != "esketamine"
        else "esketamine is approved for TRD and MDD with suicidal ideation"
    )
    return Finding(
        "off_label",
        "note",
        f"{_sentence_case(_NAMES[indication.id])}: {drug} would be off-label ({why}).",
        indication.evidence,
        "Spravato label; Seeds (qualification): off-label indications are case by case",
    )


def _no_concurrent_oral_antidepressant(d: Diagnoses, suicidality: Finding) -> Finding:
    return Finding(
        "no_concurrent_oral_antidepressant",
        "relative",
        "Esketamine for depression with suicidal ideation is approved only together with an "
        "oral antidepressant, and none is ongoing.",
        d.evidence("treatment_resistant_depression") + suicidality.evidence,
        LABEL_SI,
    )


def _why_none(
    d: Diagnoses,
    depression: DepressionResistance,
    bipolar: DepressionResistance,
    pain: PainResistance,
    depression_outcomes_missing: bool,
    bipolar_outcomes_missing: bool,
    pain_outcomes_missing: bool,
) -> Finding:
    """The first of the spec's four reasons that applies."""
    needing: list[tuple[str, bool, bool, tuple[str, ...]]] = []
    for indication_id in _ALL_DIAGNOSES:
        if not d.has(indication_id):
            continue
        if indication_id in PAIN_DIAGNOSES:
            none = not pain.treatments
            missing = pain_outcomes_missing
        elif indication_id == "bipolar_depression":
            none, missing = not bipolar.trials, bipolar_outcomes_missing
        else:
            none, missing = not depression.trials, depression_outcomes_missing
        needing.append((indication_id, none, missing, d.evidence(indication_id)))

    no_history = [n for n in needing if n[1]]
    if no_history:
        names = ", ".join(_NAMES[n[0]] for n in no_history)
        return Finding(
            "treatment_history",
            "missing",
            f"No previous treatment is recorded for {names}: resistance cannot be judged.",
            tuple(ref for n in no_history for ref in n[3]),
            SEEDS_CANDIDACY + ": failed standard treatments must be confirmed",
        )
    incomplete = [n for n in needing if n[2]]
    if incomplete:
        names = ", ".join(_NAMES[n[0]] for n in incomplete)
        trials = depression.trials + bipolar.trials
        refs = tuple(
            dict.fromkeys(
                ref for t in trials if t.adequate and t.outcome is None for ref in t.evidence
            )
        ) + tuple(ref for t in pain.treatments if t.outcome is None for ref in t.evidence)
        return Finding(
            "treatment_outcomes",
            "missing",
            f"Adequate trials for {names} have no recorded outcome; resistance would be shown if "
            "they failed. Record the outcome of each trial.",
            refs,
            SPEC + ": unevaluated adequate trials are incomplete records, not negative ones",
        )
    if needing:
        names = ", ".join(_NAMES[n[0]] for n in needing)
        return Finding(
            "not_treatment_resistant",
            "indication",
            f"Resistance to standard treatment is not shown for {names}.",
            tuple(ref for n in needing for ref in n[3]),
            SEEDS_CANDIDACY + ": at least two adequate failed trials of different classes",
        )
    return Finding(
        "no_qualifying_indication",
        "indication",
        "No active diagnosis for which ketamine therapy is indicated.",
        (),
        SEEDS_CANDIDACY,
    )
