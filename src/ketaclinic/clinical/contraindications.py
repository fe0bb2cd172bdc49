"""Contraindications, and the blood-pressure information a screening cannot do without.

Source: spec/screening.md, "Contraindications" and "Missing information"; the thresholds and
windows are the policy's (ketaclinic.policy), each with its own source. The record given is
already the as-of view (``view.as_of_view``): future-dated, entered-in-error and refuted records
are gone. "Active" is ``view.is_active``; "any record" means active or past.
"""

from __future__ import annotations

import calendar
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from ketaclinic.clinical import codes, medications
from ketaclinic.clinical.codes import ValueSet
from ketaclinic.clinical.facts import SNOMED, Condition, Moment, Observation, Record
from ketaclinic.clinical.findings import Finding, Kind, Route
from ketaclinic.clinical.view import age_on, is_active, is_ongoing
from ketaclinic.policy import Policy

SEEDS = "Seeds (qualification)"
LABEL = "Spravato label"
WORKING = "working value of ketaclinic (clinical-facts.md), clinic may change"


def number(value: float) -> str:
    """A reading as a clinician writes it: 172, not 172.0."""
    return f"{value:g}"


# --- The record, looked up once ----


class _Chart:
    """The as-of record with its conditions grouped by value set and its observations by code.

    Built once per screening: each of the twenty rules used to scan every condition and every
    observation, and those scans were most of the screening's time (bench/cohort.py, issue 8).
    Every look-up gives the facts in the record's order, so what the rules find is unchanged.
    """

    def __init__(self, record: Record, as_of: date) -> None:
        self.conditions = codes.grouped(record.conditions)
        self.record = record
        self.as_of = as_of
        self._observations = record.observations
        self._by_code: defaultdict[str, list[Observation]] = defaultdict(list)
        self._with_components: list[Observation] = []
        for o in record.observations:
            # An observation is listed once under each of its codes, even one written twice.
            for code in o.codes if len(o.codes) == 1 else dict.fromkeys(o.codes):
                self._by_code[code].append(o)
            if o.components:
                self._with_components.append(o)

    def observations(
        self, wanted: frozenset[str], *, components: bool = False
    ) -> Sequence[Observation]:
        """Observations carrying any of the ``wanted`` codes (or, with ``components``, any
        component), each once and in the record's order."""
        present = wanted.intersection(self._by_code)
        if components and self._with_components:
            if not present:
                return self._with_components
            # Both: an observation may have components and a wanted code, so read in order.
            return [o for o in self._observations if o.components or not wanted.isdisjoint(o.codes)]
        if not present:
            return ()
        if len(present) == 1:
            return self._by_code[next(iter(present))]
        # Several codes: one observation may carry two of them, so the record is read in order.
        return [o for o in self._observations if not wanted.isdisjoint(o.codes)]

    def mentions(self, value_set: ValueSet, tests: frozenset[str] = frozenset()) -> bool:
        """Whether a condition is in ``value_set`` (one of ``_RULE_SETS``) or an observation
        carries one of the ``tests`` codes: a rule reading nothing else has nothing to say when
        neither is in the record, as for most records, and stops there."""
        return value_set.name in self.conditions.held or not tests.isdisjoint(self._by_code)


# --- Blood pressure ----


class BloodPressureReading(NamedTuple):
    """One reading. A half recorded alone counts for its own rules (systolic or diastolic).

    A named tuple (immutable like a frozen dataclass, and three times quicker to build): every
    patient screened has a few (bench/cohort.py, issue 8).
    """

    when: Moment
    systolic: float | None
    diastolic: float | None
    evidence: tuple[str, ...]

    def label(self) -> str:
        def shown(value: float | None) -> str:
            return number(value) if value is not None else "?"

        return f"{shown(self.systolic)}/{shown(self.diastolic)} on {self.when.day.isoformat()}"

    def above(self, systolic: float, diastolic: float) -> bool:
        """Systolic above ``systolic`` or diastolic above ``diastolic`` (strictly)."""
        return (self.systolic is not None and self.systolic > systolic) or (
            self.diastolic is not None and self.diastolic > diastolic
        )


def blood_pressure_readings(observations: Sequence[Observation]) -> list[BloodPressureReading]:
    """Blood-pressure readings, oldest first.

    Source: spec/screening.md, Observation: panels 85354-9 / 55284-4 with components 8480-6 and
    8462-4, or separate 8480-6 and 8462-4 observations paired by the same effective time. The spec
    counts a lone systolic for the systolic rules; a lone diastolic is read the same way for the
    diastolic rules rather than dropped, since a diastolic of 110 alone must not pass silently.
    """
    readings: list[BloodPressureReading] = []
    systolic_alone: dict[datetime, tuple[Moment, float, str]] = {}
    diastolic_alone: dict[datetime, tuple[Moment, float, str]] = {}
    for o in observations:
        if o.when is None:
            continue
        # The panel's halves, the last written of each as a dict of the components would keep.
        systolic_part: float | None = None
        diastolic_part: float | None = None
        for c in o.components:
            if c.value is not None and c.code == codes.SYSTOLIC:
                systolic_part = c.value
            elif c.value is not None and c.code == codes.DIASTOLIC:
                diastolic_part = c.value
        if systolic_part is not None or diastolic_part is not None:
            readings.append(BloodPressureReading(o.when, systolic_part, diastolic_part, (o.ref,)))
        elif o.value is not None and codes.SYSTOLIC in o.codes:
            systolic_alone.setdefault(o.when.at, (o.when, o.value, o.ref))
        elif o.value is not None and codes.DIASTOLIC in o.codes:
            diastolic_alone.setdefault(o.when.at, (o.when, o.value, o.ref))
    for at, (when, systolic, ref) in systolic_alone.items():
        pair = diastolic_alone.pop(at, None)
        if pair is None:
            readings.append(BloodPressureReading(when, systolic, None, (ref,)))
        else:
            readings.append(BloodPressureReading(when, systolic, pair[1], (ref, pair[2])))
    for when, diastolic, ref in diastolic_alone.values():
        readings.append(BloodPressureReading(when, None, diastolic, (ref,)))
    readings.sort(key=lambda r: r.when.at)
    return readings


def _within(day: date, as_of: date, days: int) -> bool:
    """On or before ``as_of`` and at most ``days`` days before it (exactly ``days`` counts)."""
    return 0 <= (as_of - day).days <= days


_SEPARATE_HALVES = frozenset({codes.SYSTOLIC, codes.DIASTOLIC})


def _limits(systolic: float, diastolic: float) -> Callable[[], str]:
    return lambda: f"{number(systolic)}/{number(diastolic)}"


def _blood_pressure(chart: _Chart, policy: Policy) -> list[Finding]:
    bp, as_of = policy.blood_pressure, chart.as_of
    # Only observations that can hold a reading are read: the others add nothing to it.
    candidates = chart.observations(_SEPARATE_HALVES, components=True)
    recent = [
        r for r in blood_pressure_readings(candidates) if _within(r.when.day, as_of, bp.window_days)
    ]
    crisis = chart.conditions.matching(codes.HYPERTENSIVE_CRISIS, active_on=chart.as_of)
    # The limits as written in messages are formatted only when a message is written.
    uncontrolled = _limits(bp.uncontrolled_systolic, bp.uncontrolled_diastolic)
    elevated = _limits(bp.elevated_systolic, bp.elevated_diastolic)
    last_two = recent[-2:]
    confirmed = len(last_two) == 2 and all(
        r.above(bp.uncontrolled_systolic, bp.uncontrolled_diastolic) for r in last_two
    )
    found: list[Finding] = []
    if confirmed or crisis:
        said = []
        if confirmed:
            first, second = last_two
            said.append(
                f"Blood pressure {first.label()} and {second.label()}, both above {uncontrolled()}"
            )
        if crisis:
            said.append(_active_sentence("hypertensive crisis", crisis))
        found.append(
            Finding(
                "uncontrolled_hypertension",
                "absolute",
                _sentences(said),
                _refs(*(r.evidence for r in last_two if confirmed), tuple(c.ref for c in crisis)),
                f"{SEEDS}: systolic consistently > {number(bp.uncontrolled_systolic)} or "
                f"diastolic > {number(bp.uncontrolled_diastolic)} mmHg (latest two readings "
                f"within {bp.window_days} days); active I16.x hypertensive crisis (spec)",
            )
        )
    if not recent:
        found.append(
            Finding(
                "blood_pressure",
                "missing",
                f"No blood pressure reading in the {bp.window_days} days before "
                f"{as_of.isoformat()}.",
                (),
                f"spec/screening.md, Missing information; readings count for "
                f"{bp.window_days} days ({WORKING})",
            )
        )
        return found
    latest = recent[-1]
    if not confirmed and not crisis and latest.above(bp.elevated_systolic, bp.elevated_diastolic):
        found.append(
            Finding(
                "elevated_blood_pressure",
                "relative",
                f"Latest blood pressure {latest.label()} is above {elevated()}.",
                latest.evidence,
                f"{LABEL}: above about {elevated()}, weigh the risk and consider delaying; "
                f"latest reading within {bp.window_days} days (spec)",
            )
        )
    if not confirmed and latest.above(bp.uncontrolled_systolic, bp.uncontrolled_diastolic):
        found.append(
            Finding(
                "blood_pressure_confirmation",
                "missing",
                f"Blood pressure {latest.label()} is above {uncontrolled()} with no second "
                "reading to confirm it: repeat the measurement.",
                latest.evidence,
                f"{SEEDS}: uncontrolled means consistently above {uncontrolled()}; "
                "spec/screening.md: a single reading needs a second to confirm it",
            )
        )
    return found


# --- Conditions ----


def _refs(*groups: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for ref in group:
            seen.setdefault(ref, None)
    return tuple(seen)


def _describe(c: Condition) -> str:
    when = c.onset or c.recorded
    dated = f", since {when.isoformat()}" if when else ""
    return f"{codes.first_label(c.codings, c.text)}{dated} ({c.ref})"


def _sentences(parts: Sequence[str], tail: str = ".") -> str:
    """Parts of one message joined, first letter capitalised."""
    text = "; ".join(parts) + tail
    return text[:1].upper() + text[1:]


def _active_sentence(what: str, found: Sequence[Condition]) -> str:
    return f"Active {what}: " + "; ".join(_describe(c) for c in found)


def _record_sentence(what: str, found: Sequence[Condition]) -> str:
    return f"Recorded {what}: " + "; ".join(_describe(c) for c in found)


@dataclass(frozen=True)
class _ConditionRule:
    id: str
    kind: Kind
    value_set: ValueSet
    active: bool
    what: str
    source: str


@functools.cache
def _condition_rules(route: Route) -> tuple[_ConditionRule, ...]:
    """Rows of the table that are a diagnosis alone. The label makes some absolute on esketamine.

    The same for every patient screened for one route: written once per route (``cache``)."""
    label_kind: Kind = "absolute" if route == "esketamine" else "relative"
    on_route = f"absolute on esketamine ({LABEL}), relative on other routes (spec)"
    rules = (
        _ConditionRule(
            "psychotic_disorder",
            "absolute",
            codes.PSYCHOTIC_DISORDER,
            False,
            "psychotic disorder",
            f"{SEEDS}: history of active psychosis, schizophrenia, schizoaffective disorder",
        ),
        _ConditionRule(
            "breastfeeding",
            "absolute",
            codes.BREASTFEEDING,
            True,
            "breastfeeding",
            f"{SEEDS}: nursing mothers are not eligible",
        ),
        _ConditionRule(
            "aneurysmal_vascular_disease",
            label_kind,
            codes.ANEURYSMAL_VASCULAR_DISEASE,
            True,
            "aneurysmal vascular disease",
            f"{LABEL}: contraindicated in aneurysmal vascular disease; {on_route}",
        ),
        _ConditionRule(
            "arteriovenous_malformation",
            label_kind,
            codes.ARTERIOVENOUS_MALFORMATION,
            False,
            "arteriovenous malformation",
            f"{LABEL}: contraindicated in arteriovenous malformation; {on_route}",
        ),
        _ConditionRule(
            "intracerebral_hemorrhage_history",
            label_kind,
            codes.INTRACEREBRAL_HEMORRHAGE,
            False,
            "intracranial haemorrhage",
            f"{LABEL}: contraindicated with a history of intracerebral haemorrhage; {on_route}",
        ),
        _ConditionRule(
            "raised_intracranial_or_intraocular_pressure",
            "relative",
            codes.RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE,
            True,
            "raised intracranial or intraocular pressure",
            f"{SEEDS}: raised intracranial or intraocular pressure (glaucoma)",
        ),
        _ConditionRule(
            "current_mania",
            "relative",
            codes.CURRENT_MANIA,
            True,
            "mania",
            f"{SEEDS}: current mania (treat once stabilised)",
        ),
        _ConditionRule(
            "dissociative_disorder",
            "relative",
            codes.DISSOCIATIVE_DISORDER,
            False,
            "dissociative disorder",
            f"{SEEDS}: severe dissociation history requires further evaluation",
        ),
        _ConditionRule(
            "severe_personality_disorder",
            "relative",
            codes.SEVERE_PERSONALITY_DISORDER,
            True,
            "personality disorder",
            f"{SEEDS}: severe personality disorder requires further evaluation",
        ),
    )
    # contraindications() works a row out only when the record holds its set, which it can tell
    # for sets read by code alone: every row's set must be one (checked here).
    codes.coded_names(*(rule.value_set for rule in rules))
    return rules


def _by_condition(chart: _Chart, rule: _ConditionRule) -> list[Finding]:
    found = chart.conditions.matching(
        rule.value_set, active_on=chart.as_of if rule.active else None
    )
    if not found:
        return []
    sentence = (_active_sentence if rule.active else _record_sentence)(rule.what, found)
    return [Finding(rule.id, rule.kind, sentence + ".", _refs(c.ref for c in found), rule.source)]


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


_HEART_SETS = codes.coded_names(
    codes.MYOCARDIAL_INFARCTION,
    codes.UNSTABLE_ANGINA,
    codes.CORONARY_ARTERY_DISEASE,
    codes.HEART_DISEASE,
)


def _cardiac(chart: _Chart, policy: Policy) -> list[Finding]:
    if chart.conditions.held.isdisjoint(_HEART_SETS):
        return []
    as_of = chart.as_of
    months = policy.cardiac.recent_infarction_months
    infarctions = chart.conditions.matching(codes.MYOCARDIAL_INFARCTION)
    if infarctions:  # the window's first day is worked out only when there is one to date
        since = _months_before(as_of, months)

        def recent(c: Condition) -> bool:
            when = c.onset or c.recorded
            # An undated infarction still coded as active is acute by definition (I21 covers the
            # first 4 weeks; later it is I25.2), so it is taken as recent rather than ignored.
            return is_active(c, as_of) if when is None else when >= since

        infarctions = [c for c in infarctions if recent(c)]
    angina = chart.conditions.matching(codes.UNSTABLE_ANGINA, active_on=chart.as_of)
    severe_cad = [
        c
        for c in chart.conditions.matching(codes.CORONARY_ARTERY_DISEASE, active_on=chart.as_of)
        if c.severe
    ]
    found: list[Finding] = []
    if infarctions:
        found.append(
            Finding(
                "recent_myocardial_infarction",
                "absolute",
                f"Myocardial infarction within {months} months (since {since.isoformat()}): "
                + "; ".join(_describe(c) for c in infarctions)
                + ".",
                _refs(c.ref for c in infarctions),
                f"{SEEDS}: recent heart attack; 'recent' taken as {months} months ({WORKING})",
            )
        )
    if angina:
        found.append(
            Finding(
                "unstable_angina",
                "absolute",
                _active_sentence("unstable angina", angina) + ".",
                _refs(c.ref for c in angina),
                f"{SEEDS}: unstable angina",
            )
        )
    if severe_cad:
        found.append(
            Finding(
                "severe_coronary_artery_disease",
                "absolute",
                _active_sentence("coronary artery disease recorded as severe", severe_cad) + ".",
                _refs(c.ref for c in severe_cad),
                f"{SEEDS}: severe coronary artery disease (severity SNOMED CT 24484000)",
            )
        )
    # "The rest of I20-I25": every heart-disease record that did not itself make one of the
    # absolute findings above, so an infarction older than the window is still history.
    used = {c.ref for c in (*infarctions, *angina, *severe_cad)}
    history = [c for c in chart.conditions.matching(codes.HEART_DISEASE) if c.ref not in used]
    if history:
        found.append(
            Finding(
                "heart_disease_history",
                "relative",
                _record_sentence("heart disease", history) + ".",
                _refs(c.ref for c in history),
                f"{SEEDS}: history of heart disease requires further evaluation",
            )
        )
    return found


# --- Laboratory values ----


def _latest(observations: Iterable[Observation], as_of: date, days: int) -> Observation | None:
    """The latest valued reading within ``days`` (the first of equals, as ``max`` gives);
    ``observations`` are those of the test."""
    latest: Observation | None = None
    latest_at = datetime.min
    for o in observations:
        when = o.when
        if when is None or o.value is None or not _within(when.day, as_of, days):
            continue
        if latest is None or when.at > latest_at:
            latest, latest_at = o, when.at
    return latest


def _reading(o: Observation, name: str) -> str:
    day = o.when.day.isoformat() if o.when else "an unknown date"
    unit = f" {o.unit}" if o.unit else ""
    value = number(o.value) if o.value is not None else "?"
    return f"{name} {value}{unit} on {day} ({o.ref})"


# The sets ``_Chart.mentions`` is asked about: it relies on their being read by code alone.
_RULE_SETS = codes.coded_names(
    codes.HEPATIC_IMPAIRMENT,
    codes.RENAL_IMPAIRMENT,
    codes.HYPERTHYROIDISM,
    codes.HYPERTENSION,
    codes.SUBSTANCE_USE_DISORDER,
    codes.SUICIDAL_IDEATION,
    codes.PREGNANCY,
)
_ALT = frozenset({codes.ALT})
_AST = frozenset({codes.AST})
_TRANSAMINASES = _ALT | _AST
_EGFR = frozenset(codes.EGFR)
_TSH = frozenset({codes.TSH})
_PHQ9_ITEM9 = frozenset({codes.PHQ9_ITEM9})


def _hepatic(chart: _Chart, policy: Policy) -> list[Finding]:
    if not chart.mentions(codes.HEPATIC_IMPAIRMENT, _TRANSAMINASES):
        return []
    limit, days = policy.liver.transaminase_limit, policy.liver.window_days
    found = chart.conditions.matching(codes.HEPATIC_IMPAIRMENT, active_on=chart.as_of)
    # ALT and AST are judged each on its own latest value: a normal AST does not hide a high ALT.
    high = [
        (o, name)
        for code, name in ((_ALT, "ALT"), (_AST, "AST"))
        if (o := _latest(chart.observations(code), chart.as_of, days)) is not None
        and o.value is not None
        and o.value > limit
    ]
    if not found and not high:
        return []
    said = [_active_sentence("liver disease", found)] if found else []
    said += [f"latest {_reading(o, name)} above {number(limit)} U/L" for o, name in high]
    return [
        Finding(
            "hepatic_impairment",
            "relative",
            _sentences(said),
            _refs((c.ref for c in found), (o.ref for o, _ in high)),
            f"{SEEDS}: significant liver impairment; ALT or AST > {number(limit)} U/L "
            f"(3 x the upper limit of normal) within {days} days ({WORKING})",
        )
    ]


def _renal(chart: _Chart, policy: Policy) -> list[Finding]:
    if not chart.mentions(codes.RENAL_IMPAIRMENT, _EGFR):
        return []
    limit, days = policy.kidney.egfr_limit, policy.kidney.window_days
    found = chart.conditions.matching(codes.RENAL_IMPAIRMENT, active_on=chart.as_of)
    egfr = _latest(chart.observations(_EGFR), chart.as_of, days)
    low = egfr is not None and egfr.value is not None and egfr.value < limit
    if not found and not low:
        return []
    said = [_active_sentence("kidney disease", found)] if found else []
    if low and egfr is not None:
        said.append(f"latest {_reading(egfr, 'eGFR')} below {number(limit)}")
    return [
        Finding(
            "renal_impairment",
            "relative",
            _sentences(said),
            _refs((c.ref for c in found), (egfr.ref,) if low and egfr else ()),
            f"{SEEDS}: significant kidney impairment; eGFR < {number(limit)} mL/min/1.73 m2 "
            f"(CKD stage 3, KDIGO) within {days} days ({WORKING})",
        )
    ]


def _ongoing(record: Record, as_of: date, group: str) -> list[str]:
    return [
        m.ref
        for m in record.medications
        if medications.in_group(m.ingredient, group) and is_ongoing(m, as_of)
    ]


def _hyperthyroidism(chart: _Chart, policy: Policy) -> list[Finding]:
    if not chart.mentions(codes.HYPERTHYROIDISM, _TSH):
        return []
    record, as_of = chart.record, chart.as_of
    limit, days = policy.thyroid.tsh_suppressed, policy.thyroid.window_days
    found = chart.conditions.matching(codes.HYPERTHYROIDISM, active_on=chart.as_of)
    tsh = _latest(chart.observations(_TSH), as_of, days)
    suppressed = tsh is not None and tsh.value is not None and tsh.value < limit
    # Nothing to say, whatever is taken: the medicines are looked at only when there is.
    if (not found and not suppressed) or _ongoing(record, as_of, "antithyroid"):
        return []
    # Thyroid hormone taken by mouth suppresses TSH without hyperthyroidism.
    low = suppressed and not _ongoing(record, as_of, "thyroid_replacement")
    if not found and not low:
        return []
    said = [_active_sentence("hyperthyroidism", found)] if found else []
    if low and tsh is not None:
        said.append(f"latest {_reading(tsh, 'TSH')} below {number(limit)} mIU/L")
    return [
        Finding(
            "untreated_hyperthyroidism",
            "relative",
            _sentences(said, ", with no ongoing antithyroid medication."),
            _refs((c.ref for c in found), (tsh.ref,) if low and tsh else ()),
            f"{SEEDS}: untreated hyperthyroidism; TSH < {number(limit)} mIU/L within {days} days "
            f"counts as suppressed ({WORKING})",
        )
    ]


def _untreated_hypertension(chart: _Chart) -> list[Finding]:
    if not chart.mentions(codes.HYPERTENSION):
        return []
    found = chart.conditions.matching(codes.HYPERTENSION, active_on=chart.as_of)
    if not found or _ongoing(chart.record, chart.as_of, "antihypertensive"):
        return []
    return [
        Finding(
            "untreated_hypertension",
            "relative",
            _active_sentence("hypertension", found) + ", with no ongoing antihypertensive.",
            _refs(c.ref for c in found),
            f"{SEEDS}: untreated hypertension requires further evaluation",
        )
    ]


def _substance_use(chart: _Chart) -> list[Finding]:
    if not chart.mentions(codes.SUBSTANCE_USE_DISORDER):
        return []
    as_of = chart.as_of
    disorder: list[Condition] = []
    remission: list[Condition] = []
    for c in chart.conditions.matching(codes.SUBSTANCE_USE_DISORDER):
        in_remission_code = codes.matches(codes.SUBSTANCE_USE_IN_REMISSION, c.codings)
        if c.clinical_status == "remission" or (in_remission_code and is_active(c, as_of)):
            remission.append(c)
        elif is_active(c, as_of):
            disorder.append(c)
    found: list[Finding] = []
    if disorder:
        found.append(
            Finding(
                "substance_use_disorder",
                "relative",
                _active_sentence("substance use disorder", disorder) + ".",
                _refs(c.ref for c in disorder),
                f"{SEEDS}: active substance use disorder (needs a period of sobriety)",
            )
        )
    if remission:
        found.append(
            Finding(
                "substance_use_in_remission",
                "note",
                "Substance use disorder in remission: "
                + "; ".join(_describe(c) for c in remission)
                + ".",
                _refs(c.ref for c in remission),
                f"{SEEDS}: active substance use disorder is relative; in-remission codes "
                "(F1x.11, F1x.21, F1x.91) and clinical status remission are noted (spec)",
            )
        )
    return found


def _suicidality(chart: _Chart, policy: Policy) -> list[Finding]:
    if not chart.mentions(codes.SUICIDAL_IDEATION, _PHQ9_ITEM9):
        return []
    as_of, days = chart.as_of, policy.suicidality.item9_window_days
    found = chart.conditions.matching(codes.SUICIDAL_IDEATION, active_on=chart.as_of)
    items = sorted(
        (
            o
            for o in chart.observations(_PHQ9_ITEM9)
            if o.when is not None
            and o.value is not None
            and o.value >= 1
            and _within(o.when.day, as_of, days)
        ),
        key=lambda o: o.when.at if o.when else datetime.min,
    )
    if not found and not items:
        return []
    said = [_active_sentence("suicidal ideation", found)] if found else []
    said += [_reading(o, "PHQ-9 item 9 scored") for o in items]
    return [
        Finding(
            "active_suicidality",
            "relative",
            _sentences(said),
            _refs((c.ref for c in found), (o.ref for o in items)),
            f"{SEEDS}: active suicidality requires further evaluation; PHQ-9 item 9 >= 1 within "
            f"{days} days calls for a same-day safety assessment ({WORKING})",
        )
    ]


# --- Pregnancy ----


def pregnancy_result(o: Observation, policy: Policy) -> bool | None:
    """A pregnancy test or status read as positive (True), negative (False) or unreadable.

    Source: spec/screening.md: hCG 2106-3 / 2118-8 with SNOMED 10828004 positive / 260385009
    negative, or numeric above ``pregnancy.hcg_positive`` mIU/mL; status 82810-3 with 77386006.
    """
    for c in o.value_codings:
        if c.system != SNOMED:
            continue
        if c.code in (codes.SCT_POSITIVE, codes.SCT_PREGNANT):
            return True
        if c.code in (codes.SCT_NEGATIVE, codes.SCT_NOT_PREGNANT):
            return False
    if o.value is not None and any(code in codes.HCG for code in o.codes):
        return o.value > policy.pregnancy.hcg_positive
    text = (o.value_text or "").strip().lower()
    if text in ("positive", "pos", "pregnant"):
        return True
    if text in ("negative", "neg", "not pregnant"):
        return False
    return None


_PREGNANCY_TESTS = frozenset({*codes.HCG, codes.PREGNANCY_STATUS})


def _pregnancy(chart: _Chart, policy: Policy) -> list[Finding]:
    if not chart.mentions(codes.PREGNANCY, _PREGNANCY_TESTS):
        return []
    as_of, days = chart.as_of, policy.pregnancy.positive_test_days
    found = chart.conditions.matching(codes.PREGNANCY, active_on=chart.as_of)
    tests = sorted(
        (
            (o, result)
            for o in chart.observations(_PREGNANCY_TESTS)
            if o.when is not None
            and _within(o.when.day, as_of, days)
            and (result := pregnancy_result(o, policy)) is not None
        ),
        key=lambda pair: pair[0].when.at if pair[0].when else datetime.min,
    )
    # The latest readable test decides: a positive stands unless a later test is negative.
    positive = tests[-1][0] if tests and tests[-1][1] else None
    if not found and positive is None:
        return []
    said = [_active_sentence("pregnancy", found)] if found else []
    if positive is not None:
        day = positive.when.day.isoformat() if positive.when else "an unknown date"
        shown = ""
        if positive.value is not None:
            unit = f" {positive.unit}" if positive.unit else ""
            shown = f" ({number(positive.value)}{unit})"
        said.append(
            f"positive pregnancy test{shown} on {day} ({positive.ref}), with no later negative test"
        )
    return [
        Finding(
            "pregnancy",
            "absolute",
            _sentences(said),
            _refs((c.ref for c in found), (positive.ref,) if positive else ()),
            f"{SEEDS}: pregnancy; a positive test stands {days} days unless a later test is "
            f"negative, hCG > {number(policy.pregnancy.hcg_positive)} mIU/mL positive ({WORKING})",
        )
    ]


# --- The whole table ----


def _allergy(record: Record) -> list[Finding]:
    found = [a for a in record.allergies if codes.matches(codes.KETAMINE, a.codings, a.text)]
    if not found:
        return []
    names = "; ".join(f"{codes.first_label(a.codings, a.text)} ({a.ref})" for a in found)
    return [
        Finding(
            "ketamine_allergy",
            "absolute",
            f"Recorded allergy or intolerance to ketamine or esketamine: {names}.",
            _refs(a.ref for a in found),
            f"{SEEDS}: ketamine allergy; {LABEL}: hypersensitivity to esketamine or ketamine",
        )
    ]


def _under_age(record: Record, as_of: date, route: Route, policy: Policy) -> list[Finding]:
    born = record.patient.birth_date
    if born is None:
        # Age decides an absolute rule on esketamine, a relative one elsewhere: never assume adult.
        return [
            Finding(
                "birth_date",
                "missing",
                "No birth date is recorded: whether the patient is an adult cannot be checked.",
                (record.patient.ref,),
                f"{LABEL}: adults only; ketaclinic: an unreadable age is flagged, not assumed",
            )
        ]
    age = age_on(born, as_of)
    if age >= policy.age.adult:
        return []
    kind: Kind = "absolute" if route == "esketamine" else "relative"
    return [
        Finding(
            "under_18",
            kind,
            f"Aged {age} on {as_of.isoformat()} (born {born.isoformat()}), "
            f"below {policy.age.adult}.",
            (record.patient.ref,),
            f"{LABEL}: adults only; absolute on esketamine, relative on other routes (spec)",
        )
    ]


def contraindications(record: Record, as_of: date, route: Route, policy: Policy) -> list[Finding]:
    """Every row of the spec's Contraindications table that holds, in the table's order,
    with the blood-pressure ``missing`` findings and the ``substance_use_in_remission`` note.

    ``record`` must already be the as-of view (``view.as_of_view``).
    """
    chart = _Chart(record, as_of)
    # The rows that are a diagnosis alone, worked out only for the sets the record holds (most
    # records hold none of them); a row not worked out found nothing.
    held = chart.conditions.held
    by_row = {
        rule.id: _by_condition(chart, rule)
        for rule in _condition_rules(route)
        if rule.value_set.name in held
    }
    found = _blood_pressure(chart, policy)
    found += _untreated_hypertension(chart)
    found += _cardiac(chart, policy)
    found += by_row.get("psychotic_disorder", ())
    found += _allergy(record)
    found += _pregnancy(chart, policy)
    found += by_row.get("breastfeeding", ())
    found += _under_age(record, as_of, route, policy)
    found += by_row.get("aneurysmal_vascular_disease", ())
    found += by_row.get("arteriovenous_malformation", ())
    found += by_row.get("intracerebral_hemorrhage_history", ())
    found += by_row.get("raised_intracranial_or_intraocular_pressure", ())
    found += _hepatic(chart, policy)
    found += _renal(chart, policy)
    found += _hyperthyroidism(chart, policy)
    found += _substance_use(chart)
    found += by_row.get("current_mania", ())
    found += _suicidality(chart, policy)
    found += by_row.get("dissociative_disorder", ())
    found += by_row.get("severe_personality_disorder", ())
    return found
