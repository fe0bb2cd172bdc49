"""Medicines taken on the screening date that interact with ketamine or esketamine.

Source: spec/screening.md, "Interactions"; the drug lists are clinical-facts.md's, kept in
``clinical.medications``. Only medicines still being taken on the screening date count
(``view.is_ongoing``); a course that has ended is history, not an interaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ketaclinic.clinical import medications
from ketaclinic.clinical.facts import Medication, Record
from ketaclinic.clinical.findings import Finding, Kind
from ketaclinic.clinical.view import is_ongoing


@dataclass(frozen=True)
class _Interaction:
    group: str
    kind: Kind
    what: str
    why: str
    source: str


_INTERACTIONS: tuple[_Interaction, ...] = (
    _Interaction(
        "benzodiazepine",
        "interaction",
        "benzodiazepine",
        "may blunt the antidepressant effect of ketamine and adds sedation",
        "Seeds: benzodiazepines may blunt the effect and may need to be stopped; blunting "
        "reported above about 8 mg diazepam-equivalent a day (Andrashko 2020); Spravato label: "
        "sedation",
    ),
    _Interaction(
        "maoi",
        "interaction",
        "monoamine oxidase inhibitor",
        "may raise blood pressure",
        "Spravato label: MAOIs may increase blood pressure",
    ),
    _Interaction(
        "psychostimulant",
        "interaction",
        "psychostimulant",
        "may raise blood pressure",
        "Spravato label: psychostimulants may increase blood pressure",
    ),
    _Interaction(
        "opioid",
        "interaction",
        "opioid",
        "adds sedation and may depress breathing",
        "Spravato label: CNS depressants such as opioids increase sedation and respiratory "
        "depression",
    ),
    _Interaction(
        "naltrexone",
        "note",
        "naltrexone",
        "may blunt the antidepressant effect (a 2025 trial found none)",
        "Williams 2018: naltrexone may blunt the antidepressant effect of ketamine; a 2025 trial "
        "found none (clinical-facts.md: a note, not an interaction)",
    ),
)


def _named(m: Medication) -> str:
    return f"{m.ingredient or m.name} ({m.ref})"


def interactions(record: Record, as_of: date) -> list[Finding]:
    """One finding per interacting group with a medicine ongoing on ``as_of``.

    ``record`` must already be the as-of view (``view.as_of_view``).
    """
    # The medicines still taken are found once, not once per group (issue 8: this runs for every
    # patient of a population).
    ongoing = [
        (m, medications.groups_of(m.ingredient)) for m in record.medications if is_ongoing(m, as_of)
    ]
    if not ongoing:
        return []
    taken = frozenset().union(*(groups for _, groups in ongoing))
    found: list[Finding] = []
    for rule in _INTERACTIONS:
        if rule.group not in taken:  # most medicines interact with nothing
            continue
        taking = [m for m, groups in ongoing if rule.group in groups]
        if not taking:
            continue
        names = ", ".join(_named(m) for m in taking)
        found.append(
            Finding(
                rule.group,
                rule.kind,
                f"Ongoing {rule.what} on {as_of.isoformat()}: {names}; {rule.why}.",
                tuple(dict.fromkeys(m.ref for m in taking)),
                rule.source,
            )
        )
    return found
