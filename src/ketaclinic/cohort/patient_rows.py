"""One patient's lines -> one Bundle -> the same screening as ``ketaclinic screen`` -> one row.

The Bundle is put together from the lines as written (no decoding and encoding again), so
what the engine reads is exactly what ``ketaclinic screen`` would read from a bundle of that
patient's resources. The row is taken from the engine's assessment (clinical/screening.py
``assess``: the rules that decide), not from the contract's JSON object: a population run
would otherwise build the workup, staging and every message only to keep four fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ketaclinic.clinical.screening import Assessment, assess
from ketaclinic.fhir.bundle import BundleError, read_bundle
from ketaclinic.policy import DEFAULT, Policy
from ketaclinic.services.screening import as_route

COLUMNS = ("patient", "decision", "indications", "findings")


@dataclass(frozen=True)
class Settings:
    """What every patient of a cohort is screened with."""

    route: str
    as_of: date
    policy: Policy = DEFAULT


@dataclass(frozen=True)
class Row:
    patient: str
    decision: str
    indications: str
    findings: str

    def as_dict(self) -> dict[str, str]:
        return {
            "patient": self.patient,
            "decision": self.decision,
            "indications": self.indications,
            "findings": self.findings,
        }


@dataclass(frozen=True)
class Refused:
    """A patient whose bundle the engine refused (bad input): counted, not a row."""

    patient: str
    reason: str


def bundle_of(lines: Iterable[bytes]) -> bytes:
    """A collection Bundle holding each line (one resource) as an entry."""
    entries = b",".join(b'{"resource":' + line + b"}" for line in lines)
    return b'{"resourceType":"Bundle","type":"collection","entry":[' + entries + b"]}"


def _joined(values: Iterable[str]) -> str:
    return ";".join(dict.fromkeys(values))


def row_of(patient: str, assessed: Assessment) -> Row:
    """The row of one screening (spec/screening.md, Output): its ``patient``, ``decision``,
    indication ids and ``kind:id`` of its findings. ``screen`` gives the JSON object these
    same decision, indications and findings, as they are (services/screening.py)."""
    return Row(
        patient=patient,
        decision=assessed.decision,
        indications=_joined(i.id for i in assessed.indications),
        findings=_joined(f"{f.kind}:{f.id}" for f in assessed.findings),
    )


def screen_patient(
    key: str,
    lines: Sequence[bytes],
    settings: Settings,
    medications: Mapping[str, bytes] | None = None,
    wanted: Iterable[str] = (),
) -> Row | Refused:
    """Screen the patient ``key`` from their lines, and the shared Medications they name."""
    shared = [medications[ref] for ref in sorted(set(wanted)) if medications and ref in medications]
    data = bundle_of([*lines, *shared])
    try:
        record = read_bundle(data)
    except BundleError as error:
        return Refused(key, str(error))
    assessed = assess(record, settings.as_of, as_route(settings.route), settings.policy)
    return row_of(record.patient.ref, assessed)
