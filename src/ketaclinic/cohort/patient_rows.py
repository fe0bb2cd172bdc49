"""One patient's resources -> one Bundle -> the same screening as ``ketaclinic screen`` -> one row.

The Bundle is put together from the decoded lines, as ``ketaclinic screen`` decodes a bundle
of that patient's resources (fhir/bundle.py ``read_bundle_object``: the same checks after
decoding), so the engine reads exactly the same values. The row is taken from the engine's
assessment (clinical/screening.py ``assess``: the rules that decide), not from the contract's
JSON object: a population run would otherwise build the workup, staging and every message only
to keep four fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from ketaclinic.clinical.screening import Assessment, assess
from ketaclinic.fhir.bundle import BundleError, read_bundle_object
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


def screen_resources(key: str, resources: Sequence[Any], settings: Settings) -> Row | Refused:
    """Screen the patient ``key`` from their decoded resources (theirs, then shared ones)."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": resource} for resource in resources],
    }
    try:
        record = read_bundle_object(bundle)
    except BundleError as error:
        return Refused(key, str(error))
    assessed = assess(record, settings.as_of, as_route(settings.route), settings.policy)
    return row_of(record.patient.ref, assessed)


def screen_patient(
    key: str,
    lines: Sequence[bytes],
    settings: Settings,
    medications: Mapping[str, bytes] | None = None,
    wanted: Iterable[str] = (),
) -> Row | Refused:
    """Screen the patient ``key`` from their lines (each known to be JSON), and the shared
    Medications they name."""
    shared = [medications[ref] for ref in sorted(set(wanted)) if medications and ref in medications]
    return screen_resources(key, [orjson.loads(line) for line in [*lines, *shared]], settings)
