"""Rating scales: which answers are valid, the score, the severity band and the safety alerts.

Source: clinical-facts.md, "Rating scales" (items, ranges, bands, rules and LOINC codes), and
issue 6 (every item answer is kept, not only the total). A LOINC code appears only where the facts
file lists one; the others stay ``None``.

Answers are whole numbers in the item's range. Two scales code their answers in a way the facts
file does not spell out, and say so in their source string: the C-SSRS screener (0 = no, 1 = yes,
with item 6 also telling when the behaviour happened) and MOAA/S (one answer, the level 0-5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FACTS = "clinical-facts.md, Rating scales"

PHQ9_SOURCE = (
    f"PHQ-9, Kroenke 2001 ({FACTS}): 9 items 0-3, total 0-27; bands from 5 / 10 / 15 / 20: "
    "0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe; LOINC panel "
    "44249-1, total 44261-6, items 1-9 in the order the facts file lists them"
)
GAD7_SOURCE = (
    f"GAD-7, Spitzer 2006 ({FACTS}): 7 items 0-3, total 0-21; bands from 5 / 10 / 15: "
    "0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe; LOINC panel 69737-5, total 70274-6"
)
MADRS_SOURCE = (
    f"MADRS ({FACTS}): 10 items 0-6, total 0-60; < 7 normal, 7-19 mild, 20-34 moderate, "
    "> 34 severe; no LOINC code confirmed"
)
QIDS_SOURCE = (
    f"QIDS-SR16, Rush 2003 ({FACTS}): '16 items in 9 domains, 0-27', bands 5 / 10 / 15 / 20, "
    "remission <= 5. The facts file gives neither the item-to-domain grouping nor the scoring "
    "rule; used here, from Rush 2003 (Biol Psychiatry 54:573) and not confirmed against the facts "
    "file: items 0-3; sleep = highest of items 1-4, sad mood 5, appetite/weight = highest of "
    "6-9, concentration 10, view of self 11, thoughts of death or suicide 12, interest 13, "
    "energy 14, psychomotor = highest of 15-16; total = sum of the 9 domains. The cut-points are "
    "read as the top of each band (0-5 none, 6-10 mild, 11-15 moderate, 16-20 severe, 21-27 very "
    "severe), which agrees with remission <= 5 in the same row; no LOINC code listed"
)
PCL5_SOURCE = (
    f"PCL-5 ({FACTS}): 20 items 0-4, total 0-80; probable PTSD at a cut-point of 31-33, so "
    "33 and above is probable PTSD at every cut-point in that range and 31-32 only at the lower "
    "ones; no LOINC code listed"
)
CADSS_SOURCE = (
    f"CADSS, Spravato label ({FACTS}; clinical-facts.md, Esketamine): 23 items 0-4, total 0-92; "
    "> 4 counted as notable dissociation; measured about 40 min after dosing; no LOINC code listed"
)
MOAAS_SOURCE = (
    f"MOAA/S, Spravato label ({FACTS}; clinical-facts.md, Esketamine): one level 0-5; 5 responds "
    "to name, 0 no response to pain (loss of consciousness). The facts file does not describe "
    "levels 1-4; they are grouped here as reduced responsiveness; no LOINC code listed"
)
CSSRS_SOURCE = (
    f"C-SSRS screener ({FACTS}): 6 yes/no questions; questions 1-2 low risk, 3 moderate, 4-5 "
    "high, 6 (behaviour) high within 3 months and moderate before. Coded here as 0 = no, 1 = yes "
    "for questions 1-5; question 6 as 0 = no, 1 = yes more than 3 months ago, 2 = yes within the "
    "past 3 months (the screener's own follow-up question); no LOINC code listed"
)
PAIN_NRS_SOURCE = (
    f"Pain numeric rating scale ({FACTS}): one answer 0-10; LOINC 72514-3; the facts file gives "
    "no severity bands, so none is assigned"
)
PHQ9_ITEM9_SOURCE = (
    f"{FACTS}: PHQ-9 item 9 >= 1 -> same-day safety assessment; issue 6: an urgent alert a "
    "prescriber must acknowledge"
)
CSSRS_ALERT_SOURCE = (
    f"{FACTS}: C-SSRS screener risk levels; issue 6: moderate or high raises an urgent alert"
)
CADSS_ALERT_SOURCE = f"{FACTS}; Spravato label (clinical-facts.md, Esketamine): CADSS > 4 notable"
MOAAS_ALERT_SOURCE = (
    f"{FACTS}; Spravato label (clinical-facts.md, Esketamine): MOAA/S 0 = loss of consciousness"
)


class UnknownScale(ValueError):
    """A scale id this module does not know."""


class InvalidAnswers(ValueError):
    """Answers that cannot be scored; ``item`` names the first item at fault (1-based), or is
    None when the fault is not one item's."""

    def __init__(self, scale: Scale, item: int | None, reason: str) -> None:
        self.scale_id = scale.id
        self.item = item
        self.reason = reason
        where = f"{scale.name} item {item}" if item is not None else scale.name
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Item:
    number: int
    label: str
    low: int
    high: int
    loinc: str | None = None
    # QIDS-SR16 only: the symptom domain the item counts towards.
    domain: str | None = None


@dataclass(frozen=True)
class Band:
    """Totals from ``low`` to ``high``, both included."""

    low: int
    high: int
    label: str


@dataclass(frozen=True)
class Scale:
    id: str
    name: str
    items: tuple[Item, ...]
    # The usual answer range; an item may differ (C-SSRS question 6) and says so itself.
    item_range: tuple[int, int]
    # None for the C-SSRS screener, whose result is a risk level, not a sum.
    total_range: tuple[int, int] | None
    loinc_panel: str | None
    loinc_total: str | None
    bands: tuple[Band, ...]
    source: str
    # MOAA/S runs the other way: a lower level is deeper sedation.
    higher_is_worse: bool = True


@dataclass(frozen=True)
class Alert:
    id: str
    urgent: bool
    message: str
    # The item that raised it, when one did.
    item: int | None
    source: str


@dataclass(frozen=True)
class DomainScore:
    domain: str
    items: tuple[int, ...]
    score: int


@dataclass(frozen=True)
class ScaleResult:
    scale_id: str
    # Every answer as given, in item order (issue 6: stored, not only the total).
    answers: tuple[int, ...]
    total: int | None
    band: str | None
    alerts: tuple[Alert, ...]
    # QIDS-SR16 only: the nine domain scores that make the total.
    domains: tuple[DomainScore, ...]
    source: str


def _items(
    labels: Sequence[str], low: int, high: int, loincs: Sequence[str] | None = None
) -> tuple[Item, ...]:
    codes: Sequence[str | None] = loincs if loincs is not None else [None] * len(labels)
    return tuple(
        Item(number=n, label=label, low=low, high=high, loinc=code)
        for n, (label, code) in enumerate(zip(labels, codes, strict=True), start=1)
    )


def _numbered(count: int, low: int, high: int) -> tuple[Item, ...]:
    return _items([f"item {n}" for n in range(1, count + 1)], low, high)


PHQ9 = Scale(
    id="phq9",
    name="PHQ-9",
    items=_items(
        [
            "little interest or pleasure",
            "feeling down, depressed or hopeless",
            "sleep",
            "tired, little energy",
            "appetite",
            "feeling bad about yourself",
            "concentration",
            "moving or speaking slowly, or restless",
            "thoughts of being better off dead or of self-harm",
        ],
        0,
        3,
        [
            "44250-9",
            "44255-8",
            "44259-0",
            "44254-1",
            "44251-7",
            "44258-2",
            "44252-5",
            "44253-3",
            "44260-8",
        ],
    ),
    item_range=(0, 3),
    total_range=(0, 27),
    loinc_panel="44249-1",
    loinc_total="44261-6",
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 19, "moderately severe"),
        Band(20, 27, "severe"),
    ),
    source=PHQ9_SOURCE,
)

GAD7 = Scale(
    id="gad7",
    name="GAD-7",
    items=_items(
        [
            "nervous, anxious or on edge",
            "not able to stop or control worrying",
            "worrying too much",
            "trouble relaxing",
            "so restless it is hard to sit still",
            "easily annoyed or irritable",
            "afraid something awful might happen",
        ],
        0,
        3,
    ),
    item_range=(0, 3),
    total_range=(0, 21),
    loinc_panel="69737-5",
    loinc_total="70274-6",
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 21, "severe"),
    ),
    source=GAD7_SOURCE,
)

MADRS = Scale(
    id="madrs",
    name="MADRS",
    items=_items(
        [
            "apparent sadness",
            "reported sadness",
            "inner tension",
            "reduced sleep",
            "reduced appetite",
            "concentration difficulties",
            "lassitude",
            "inability to feel",
            "pessimistic thoughts",
            "suicidal thoughts",
        ],
        0,
        6,
    ),
    item_range=(0, 6),
    total_range=(0, 60),
    loinc_panel=None,
    loinc_total=None,
    bands=(
        Band(0, 6, "normal"),
        Band(7, 19, "mild"),
        Band(20, 34, "moderate"),
        Band(35, 60, "severe"),
    ),
    source=MADRS_SOURCE,
)

# (label, domain) for the 16 QIDS-SR16 items, in form order; see QIDS_SOURCE.
_QIDS_ITEMS = (
    ("falling asleep", "sleep"),
    ("sleep during the night", "sleep"),
    ("waking up too early", "sleep"),
    ("sleeping too much", "sleep"),
    ("feeling sad", "sad mood"),
    ("decreased appetite", "appetite or weight"),
    ("increased appetite", "appetite or weight"),
    ("decreased weight", "appetite or weight"),
    ("increased weight", "appetite or weight"),
    ("concentration or decision making", "concentration"),
    ("view of myself", "view of self"),
    ("thoughts of death or suicide", "thoughts of death or suicide"),
    ("general interest", "interest"),
    ("energy level", "energy"),
    ("feeling slowed down", "psychomotor"),
    ("feeling restless", "psychomotor"),
)

QIDS_SR16 = Scale(
    id="qids_sr16",
    name="QIDS-SR16",
    items=tuple(
        Item(number=n, label=label, low=0, high=3, domain=domain)
        for n, (label, domain) in enumerate(_QIDS_ITEMS, start=1)
    ),
    item_range=(0, 3),
    total_range=(0, 27),
    loinc_panel=None,
    loinc_total=None,
    bands=(
        Band(0, 5, "none"),
        Band(6, 10, "mild"),
        Band(11, 15, "moderate"),
        Band(16, 20, "severe"),
        Band(21, 27, "very severe"),
    ),
    source=QIDS_SOURCE,
)

PCL5 = Scale(
    id="pcl5",
    name="PCL-5",
    items=_numbered(20, 0, 4),
    item_range=(0, 4),
    total_range=(0, 80),
    loinc_panel=None,
    loinc_total=None,
    bands=(
        Band(0, 30, "below the probable-PTSD cut-point"),
        Band(31, 32, "probable PTSD at the lower cut-points (31-33)"),
        Band(33, 80, "probable PTSD"),
    ),
    source=PCL5_SOURCE,
)

CADSS = Scale(
    id="cadss",
    name="CADSS",
    items=_numbered(23, 0, 4),
    item_range=(0, 4),
    total_range=(0, 92),
    loinc_panel=None,
    loinc_total=None,
    bands=(Band(0, 4, "not notable"), Band(5, 92, "notable dissociation")),
    source=CADSS_SOURCE,
)

MOAAS = Scale(
    id="moaas",
    name="MOAA/S",
    items=(Item(number=1, label="responsiveness level", low=0, high=5),),
    item_range=(0, 5),
    total_range=(0, 5),
    loinc_panel=None,
    loinc_total=None,
    bands=(
        Band(0, 0, "no response to pain (loss of consciousness)"),
        Band(1, 4, "reduced responsiveness"),
        Band(5, 5, "responds to name"),
    ),
    source=MOAAS_SOURCE,
    higher_is_worse=False,
)

CSSRS_SCREENER = Scale(
    id="cssrs_screener",
    name="C-SSRS screener",
    items=(
        Item(1, "wished to be dead", 0, 1),
        Item(2, "suicidal thoughts", 0, 1),
        Item(3, "thoughts of a method", 0, 1),
        Item(4, "intention of acting", 0, 1),
        Item(5, "plan worked out", 0, 1),
        Item(6, "suicidal behaviour (0 no, 1 over 3 months ago, 2 within 3 months)", 0, 2),
    ),
    item_range=(0, 1),
    total_range=None,
    loinc_panel=None,
    loinc_total=None,
    bands=(),
    source=CSSRS_SOURCE,
)

PAIN_NRS = Scale(
    id="pain_nrs",
    name="Pain NRS",
    items=(Item(number=1, label="pain intensity", low=0, high=10, loinc="72514-3"),),
    item_range=(0, 10),
    total_range=(0, 10),
    loinc_panel=None,
    loinc_total="72514-3",
    bands=(),
    source=PAIN_NRS_SOURCE,
)

SCALES: Mapping[str, Scale] = {
    s.id: s for s in (PHQ9, GAD7, PCL5, QIDS_SR16, MADRS, CSSRS_SCREENER, PAIN_NRS, CADSS, MOAAS)
}

CSSRS_RISKS = ("no risk identified", "low risk", "moderate risk", "high risk")
CSSRS_BEHAVIOUR_EARLIER = 1
CSSRS_BEHAVIOUR_RECENT = 2


def scale(scale_id: str) -> Scale:
    try:
        return SCALES[scale_id]
    except KeyError:
        known = ", ".join(SCALES)
        raise UnknownScale(f"unknown scale {scale_id!r}; known: {known}") from None


def checked_answers(rating: Scale, answers: Sequence[object]) -> tuple[int, ...]:
    """The answers as whole numbers in range, one per item, or InvalidAnswers naming the item.

    A bool is refused though Python counts it as an int: ``True`` for a 0-3 item is a form bug.
    """
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise InvalidAnswers(rating, None, "answers must be a list with one number per item")
    expected = len(rating.items)
    if len(answers) > expected:
        raise InvalidAnswers(
            rating, expected + 1, f"{rating.name} has {expected} items, got {len(answers)} answers"
        )
    kept: list[int] = []
    for item in rating.items:
        if item.number > len(answers) or answers[item.number - 1] is None:
            raise InvalidAnswers(rating, item.number, "no answer")
        answer = answers[item.number - 1]
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise InvalidAnswers(rating, item.number, f"answer {answer!r} is not a whole number")
        if not item.low <= answer <= item.high:
            raise InvalidAnswers(
                rating, item.number, f"answer {answer} is outside {item.low}-{item.high}"
            )
        kept.append(answer)
    return tuple(kept)


def band_of(rating: Scale, total: int) -> str | None:
    """The severity band that holds ``total``; None when the scale has no bands."""
    for band in rating.bands:
        if band.low <= total <= band.high:
            return band.label
    return None


def qids_domains(answers: Sequence[int]) -> tuple[DomainScore, ...]:
    """The nine QIDS-SR16 domains, each scored as its highest item (QIDS_SOURCE)."""
    grouped: dict[str, list[int]] = {}
    for item in QIDS_SR16.items:
        assert item.domain is not None
        grouped.setdefault(item.domain, []).append(item.number)
    return tuple(
        DomainScore(domain, tuple(numbers), max(answers[n - 1] for n in numbers))
        for domain, numbers in grouped.items()
    )


def phq9_suicidality_alerts(answers: Sequence[int]) -> tuple[Alert, ...]:
    """Item 9 (thoughts of being better off dead or of self-harm) at 1 or more."""
    item9 = answers[8]
    if item9 < 1:
        return ()
    return (
        Alert(
            id="phq9_item9",
            urgent=True,
            message=(f"PHQ-9 item 9 answered {item9}: same-day safety assessment by a prescriber"),
            item=9,
            source=PHQ9_ITEM9_SOURCE,
        ),
    )


def cssrs_risk(answers: Sequence[int]) -> str:
    """The screener's risk level: the highest level any positive answer reaches."""
    q1, q2, q3, q4, q5, q6 = answers
    if q4 or q5 or q6 == CSSRS_BEHAVIOUR_RECENT:
        return "high risk"
    if q3 or q6 == CSSRS_BEHAVIOUR_EARLIER:
        return "moderate risk"
    if q1 or q2:
        return "low risk"
    return "no risk identified"


def cssrs_alerts(answers: Sequence[int]) -> tuple[Alert, ...]:
    """Moderate and high risk are urgent (issue 6); low risk is shown but not urgent."""
    risk = cssrs_risk(answers)
    if risk == "no risk identified":
        return ()
    urgent = risk in ("moderate risk", "high risk")
    positive = [str(n) for n, a in enumerate(answers, start=1) if a]
    action = "urgent safety assessment by a prescriber" if urgent else "for the clinician's review"
    return (
        Alert(
            id=f"cssrs_{risk.split()[0]}",
            urgent=urgent,
            message=f"C-SSRS screener: {risk} (yes to question {', '.join(positive)}); {action}",
            item=None,
            source=CSSRS_ALERT_SOURCE,
        ),
    )


def cadss_alerts(total: int) -> tuple[Alert, ...]:
    """Above 4 is notable dissociation: common after esketamine (61-84 %), so not urgent."""
    if total <= 4:
        return ()
    return (
        Alert(
            id="cadss_notable",
            urgent=False,
            message=f"CADSS {total}: notable dissociation (> 4)",
            item=None,
            source=CADSS_ALERT_SOURCE,
        ),
    )


def moaas_alerts(level: int) -> tuple[Alert, ...]:
    if level != 0:
        return ()
    return (
        Alert(
            id="moaas_unconscious",
            urgent=True,
            message="MOAA/S 0: no response to pain, loss of consciousness",
            item=1,
            source=MOAAS_ALERT_SOURCE,
        ),
    )


def score(scale_id: str, answers: Sequence[object]) -> ScaleResult:
    """Validate, total, band and raise the scale's safety alerts.

    Raises UnknownScale for an id not in SCALES and InvalidAnswers (both ValueError) for a
    missing, extra, non-whole or out-of-range answer; nothing is scored then.
    """
    rating = scale(scale_id)
    kept = checked_answers(rating, answers)
    domains: tuple[DomainScore, ...] = ()
    alerts: tuple[Alert, ...] = ()
    if rating is CSSRS_SCREENER:
        return ScaleResult(
            scale_id=rating.id,
            answers=kept,
            total=None,
            band=cssrs_risk(kept),
            alerts=cssrs_alerts(kept),
            domains=(),
            source=rating.source,
        )
    if rating is QIDS_SR16:
        domains = qids_domains(kept)
        total = sum(d.score for d in domains)
    else:
        total = sum(kept)
    if rating is PHQ9:
        alerts = phq9_suicidality_alerts(kept)
    elif rating is CADSS:
        alerts = cadss_alerts(total)
    elif rating is MOAAS:
        alerts = moaas_alerts(total)
    return ScaleResult(
        scale_id=rating.id,
        answers=kept,
        total=total,
        band=band_of(rating, total),
        alerts=alerts,
        domains=domains,
        source=rating.source,
    )
