"""Codes the engine reads a system of but does not know: listed as notes, never dropped silently.

Source: issue "Screening real records" (SNOMED CT): a code the engine does not know is listed as
a ``note`` ``unrecognised_code`` when it is in a system the engine reads.

What "does not know" means per system:
- ICD-10-CM is read by ranges that cover the classification, so every ICD-10-CM code has a known
  meaning to the rules (most are simply not relevant); none is flagged.
- SNOMED CT, LOINC and RxNorm are read by enumerated concepts, so a concept outside the lists may
  be a relevant one in words the engine cannot read (a SNOMED descendant of a contraindication, a
  local blood-pressure code, an MAOI by an unknown RxNorm code). Those are flagged, unless another
  coding of the same record was read.
- A medication whose ingredient is not recognised is flagged whatever its codes, since it may
  belong to an interaction group; so is a coded allergy with no name whose code is not known.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ketaclinic.clinical import codes
from ketaclinic.clinical.facts import ICD10, LOINC, RXNORM, SNOMED, Coding, Record
from ketaclinic.clinical.findings import Finding

SOURCE = "ketaclinic screening: codes in a system the engine reads but does not know are listed"
SYSTEM_NAMES = {SNOMED: "SNOMED CT", LOINC: "LOINC", RXNORM: "RxNorm"}
READ_VALUE_CODES = frozenset({*codes.HCG, codes.PREGNANCY_STATUS})


def _known_condition(codings: Sequence[Coding]) -> bool:
    """Any ICD-10-CM coding, or any SNOMED CT coding of a known concept."""
    for c in codings:
        if c.system == ICD10 or (c.system == SNOMED and c.code in codes.KNOWN_SNOMED):
            return True
    return False


def _unknown_snomed(codings: Sequence[Coding]) -> list[Coding]:
    return [c for c in codings if c.system == SNOMED and c.code not in codes.KNOWN_SNOMED]


def _flags(record: Record) -> Iterator[tuple[str, str, str]]:
    """(label, what kind of record, ref) for each code that was not read."""
    for c in record.conditions:
        if not _known_condition(c.codings):
            for coding in _unknown_snomed(c.codings):
                yield _label(coding), "diagnosis", c.ref
    # Set tests (isdisjoint) rather than any() over generators: every observation of every
    # patient passes here (bench/cohort.py, issue 8).
    for o in record.observations:
        if codes.KNOWN_LOINC.isdisjoint(o.codes):
            for code in o.codes:
                yield f"LOINC {code}", "observation", o.ref
        elif o.value is None and not READ_VALUE_CODES.isdisjoint(o.codes):
            known = [v for v in o.value_codings if v.code in codes.KNOWN_SNOMED]
            if not known:
                for coding in _unknown_snomed(o.value_codings):
                    yield _label(coding), "test result", o.ref
    for m in record.medications:
        if m.ingredient is None:
            yield f"medication {m.name!r}", "medication", m.ref
    for a in record.allergies:
        # Ketamine allergy is read by code or by name; a coded allergy with no name at all and
        # an unknown code cannot be told apart from a ketamine allergy.
        named = a.text or any(c.display for c in a.codings)
        if not named and not codes.matches(codes.KETAMINE, a.codings):
            for coding in a.codings:
                if coding.system in SYSTEM_NAMES:
                    yield _label(coding), "allergy", a.ref


def _label(coding: Coding) -> str:
    name = SYSTEM_NAMES.get(coding.system, coding.system)
    shown = f" ({coding.display})" if coding.display else ""
    return f"{name} {coding.code}{shown}"


def unrecognised_codes(record: Record) -> list[Finding]:
    """One ``note`` per distinct unknown code, naming every record that carries it."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for label, kind, ref in _flags(record):
        refs = grouped.setdefault((label, kind), [])
        if ref not in refs:
            refs.append(ref)
    return [
        Finding(
            "unrecognised_code",
            "note",
            f"{kind.capitalize()} code {label} is not known to the screening engine and was not "
            "read by its rules: check it by hand.",
            tuple(sorted(refs)),
            SOURCE,
        )
        for (label, kind), refs in sorted(grouped.items())
    ]
