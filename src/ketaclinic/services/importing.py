"""Importing a FHIR R4 Bundle into a patient's record: checked whole first, then stored.

The bundle is read by the screening engine's own reader (``read_bundle``): a bundle it would
refuse to screen is refused here, before anything is written. Each clinical resource becomes a
row keeping its original JSON, its subject pointed at the clinic's patient, and a bundled
Medication it refers to copied in as a contained resource (so the row stands alone).

Idempotent twice over: the bundle's SHA-256 is kept (``ImportRun``), and a resource whose
content hash the patient already has is not stored again, so an overlapping export only adds
what is new. All-or-nothing: call inside one transaction (``store.db.transaction``); every
check runs before the first write, and an error while writing rolls the transaction back whole.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketaclinic.fhir.bundle import BundleError, read_bundle
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput
from ketaclinic.services.patients import get_patient
from ketaclinic.services.record_rows import (
    KIND_OF_TYPE,
    MODELS,
    SUBJECT_KEY,
    canonical_sha256,
    new_row,
)
from ketaclinic.services.records import patient_ref
from ketaclinic.store.models import ImportRun, Patient

JSON = dict[str, Any]


@dataclass(frozen=True)
class ImportResult:
    created: int
    unchanged: int
    already_imported: bool


def _entries(data: bytes) -> tuple[JSON | None, list[JSON], dict[str, JSON]]:
    """The bundle's Patient, its clinical resources in order, and its Medications by name.

    Only called after ``read_bundle`` accepted the bundle, so the shape is known to be sound.
    """
    bundle = orjson.loads(data)
    patient: JSON | None = None
    clinical: list[JSON] = []
    medications: dict[str, JSON] = {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if kind == "Patient":
            patient = resource
        elif kind in KIND_OF_TYPE:
            clinical.append(resource)
        elif kind == "Medication":
            if isinstance(resource.get("id"), str):
                medications[f"Medication/{resource['id']}"] = resource
            if isinstance(entry.get("fullUrl"), str):
                medications[entry["fullUrl"]] = resource
    return patient, clinical, medications


def _contain_medication(resource: JSON, medications: dict[str, JSON]) -> None:
    """A reference to a bundled Medication becomes a reference to a contained copy."""
    pointer = resource.get("medicationReference")
    if not isinstance(pointer, dict) or not isinstance(pointer.get("reference"), str):
        return
    target = pointer["reference"].split("/_history/", 1)[0]
    medication = medications.get(target)
    if medication is None:
        return
    contained = resource.setdefault("contained", [])
    taken = {item.get("id") for item in contained if isinstance(item, dict)}
    local_id = str(medication.get("id") or "medication")
    while local_id in taken:
        local_id += "-1"
    copied = {k: v for k, v in copy.deepcopy(medication).items() if k != "meta"}
    copied["id"] = local_id
    contained.append(copied)
    pointer["reference"] = f"#{local_id}"


def _as_stored(resource: JSON, patient_id: int, medications: dict[str, JSON]) -> JSON:
    stored = copy.deepcopy(resource)
    key = SUBJECT_KEY.get(stored["resourceType"], "subject")
    stored[key] = {"reference": patient_ref(patient_id)}
    _contain_medication(stored, medications)
    return stored


def _check_same_person(bundle_patient: JSON | None, patient: Patient) -> None:
    """A bundle whose Patient was born on another day is someone else's record."""
    born = bundle_patient.get("birthDate") if bundle_patient else None
    # FHIR allows a partial date (1980, 1980-05): compare what it gives.
    if isinstance(born, str) and not patient.birth_date.isoformat().startswith(born):
        raise InvalidInput(
            "bundle",
            f"the bundle's Patient was born {born}, this patient "
            f"{patient.birth_date.isoformat()}: is it the right person?",
        )


def _known_hashes(session: Session, patient_id: int) -> set[str]:
    known: set[str] = set()
    for model in MODELS.values():
        query: Any = select(model.content_sha256).where(model.patient_id == patient_id)
        known.update(session.scalars(query).all())
    return known


def import_bundle(
    session: Session, actor: Actor, clock: Clock, patient_id: int, data: bytes
) -> ImportResult:
    """Store the bundle's clinical resources in the patient's record (see module docstring)."""
    who_may.require(actor, who_may.PRESCRIBER, "import records")
    patient = get_patient(session, patient_id)
    try:
        read_bundle(data)
    except BundleError as error:
        raise InvalidInput("bundle", str(error)) from None
    bundle_patient, resources, medications = _entries(data)
    _check_same_person(bundle_patient, patient)
    stored = [_as_stored(r, patient_id, medications) for r in resources]
    bundle_sha256 = hashlib.sha256(data).hexdigest()
    already = session.scalar(
        select(ImportRun.id).where(
            ImportRun.patient_id == patient_id, ImportRun.bundle_sha256 == bundle_sha256
        )
    )
    if already is not None:
        return ImportResult(created=0, unchanged=len(stored), already_imported=True)
    known = _known_hashes(session, patient_id)
    created = 0
    for resource in stored:
        digest = canonical_sha256(resource)
        if digest in known:
            continue
        known.add(digest)
        session.add(
            new_row(resource, patient_id=patient_id, source="import", actor=actor, clock=clock)
        )
        created += 1
    session.add(
        ImportRun(
            patient_id=patient_id,
            bundle_sha256=bundle_sha256,
            created=created,
            imported_at=clock.now(),
            imported_by_id=actor.user_id,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        # The same bundle imported at the same moment by someone else: theirs stands.
        raise Conflict("this bundle is being imported already") from None
    return ImportResult(created=created, unchanged=len(stored) - created, already_imported=False)
