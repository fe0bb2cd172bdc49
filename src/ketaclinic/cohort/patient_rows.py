"""One patient's lines -> one Bundle -> the same screening as ``ketaclinic screen`` -> one row.

The Bundle is put together from the lines as written (no decoding and encoding again), so
what the engine reads is exactly what ``ketaclinic screen`` would read from a bundle of that
patient's resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ketaclinic.fhir.bundle import BundleError
from ketaclinic.policy import DEFAULT, Policy
from ketaclinic.services.screening import screen_bundle

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


def row_of(result: Mapping[str, Any]) -> Row:
    """The row of one screening JSON object (spec/screening.md, Output)."""
    return Row(
        patient=result["patient"],
        decision=result["decision"],
        indications=_joined(i["id"] for i in result["indications"]),
        findings=_joined(f"{f['kind']}:{f['id']}" for f in result["findings"]),
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
        result = screen_bundle(
            data, route=settings.route, as_of=settings.as_of, policy=settings.policy
        )
    except BundleError as error:
        return Refused(key, str(error))
    return row_of(result)
