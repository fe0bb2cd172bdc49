"""Importing a FHIR R4 Bundle into a patient's record: checked whole first, then stored.

The bundle is read by the screening engine's own reader (``read_bundle``): a bundle it would
refuse to screen is refused here, before anything is written. Each clinical resource becomes a
row keeping its original JSON, its subject pointed at the clinic's patient, and a bundled
Medication it refers to copied in as a contained resource (so the row stands alone).

Resources of the types the clinic exports but keeps no records of (MedicationAdministration,
QuestionnaireResponse: ``received_resources.RECEIVED_TYPES``) are checked with their own R4B
models and must be about the bundle's Patient too; they are kept as received resources
(services/received_resources.py). So the clinic's own export, imported elsewhere and exported
again, gives the same resources (but the screening, which is run again): nothing is lost. A
session's Procedure is a Procedure like any other and becomes a procedure record, as before.

The score Observations of the export (``score-N``, a questionnaire's total with one component
per item) are Observations like any other and become observation records, as before, which
the engine reads. That is a choice: the engine reads in the imported record what it reads in
the bundle, so screening the record here gives what screening the bundle gives, a PHQ-9 total
measured at the other clinic counts as one measured here (the latest one for the severity, a
baseline for the workup), and the score stays in the chart's scales. Nothing is counted twice:
the QuestionnaireResponse beside it is a received resource, which the engine does not read, and
the score's items are components of the one Observation, which the engine never reads as
readings of their own (the PHQ-9 item 9 rule reads Observations coded 44260-8). Re-importing
creates no second copy (see below), not even of the clinic's own sessions, doses, answers and
scores: the sections its export builds from its own tables (export_outcomes.py) count as
resources the record already holds, so its own export coming back, directly or through another
clinic, adds nothing (and leaves what its screening reads as it was).

References between the bundle's resources are kept meaningful: a reference to the bundle's
Patient, or to another resource of the bundle that is stored (or already held), is pointed at
this record's name for it (``Procedure/12``, ``QuestionnaireResponse/received-3``), so a
dose's ``partOf`` and a score's ``derivedFrom`` still name their session and answers in the
next export. Resources are therefore stored after those they refer to (in the bundle's order
otherwise); in a cycle of references, which the clinic's export never makes, a reference to a
resource not yet stored is kept as it came. References to anything else (an Encounter, a
Practitioner) are kept as they came.

Idempotent twice over: the bundle's SHA-256 is kept (``ImportRun``), and a resource whose
content hash (after the references are pointed here) the patient already has is not stored
again, so an overlapping export only adds what is new. All-or-nothing: call inside one
transaction (``store.db.transaction``); every check runs before the first write, and an error
while writing rolls the transaction back whole.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketaclinic.fhir.bundle import BundleError, check_resource, read_bundle
from ketaclinic.fhir.errors import Place
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput
from ketaclinic.services.export_outcomes import questionnaire_resources, session_resources
from ketaclinic.services.patients import get_patient
from ketaclinic.services.received_resources import ID_PREFIX, RECEIVED_TYPES, new_received
from ketaclinic.services.record_rows import (
    KIND_OF_TYPE,
    MODELS,
    SUBJECT_KEY,
    canonical_sha256,
    new_row,
)
from ketaclinic.services.records import patient_ref
from ketaclinic.store.models import (
    ClinicalRow,
    ImportRun,
    MedicationRecord,
    Patient,
    ReceivedResource,
)

JSON = dict[str, Any]
# The resource type of each kind of clinical row but medications, whose rows say it.
TYPE_OF_KIND = {
    "condition": "Condition",
    "observation": "Observation",
    "allergy": "AllergyIntolerance",
    "procedure": "Procedure",
}


@dataclass(frozen=True)
class ImportResult:
    created: int
    unchanged: int
    already_imported: bool


@dataclass
class _Item:
    """A resource of the bundle to store: as it will be stored (references not yet pointed
    here), and the names other entries may give it."""

    resource: JSON
    names: tuple[str, ...]
    cited: bool = False


@dataclass
class _Read:
    patient: JSON | None = None
    patient_full_url: str | None = None
    patient_names: set[str] = field(default_factory=set)
    items: list[_Item] = field(default_factory=list)
    medications: dict[str, JSON] = field(default_factory=dict)


@dataclass
class _Held:
    """A resource the record holds, or is about to: its name here once its row has an id."""

    resource_type: str
    name: str | None = None
    row: ClinicalRow | ReceivedResource | None = None
    prefix: str = ""

    def local_name(self, session: Session) -> str:
        if self.name is None:
            assert self.row is not None
            if self.row.id is None:
                session.flush()
            self.name = f"{self.resource_type}/{self.prefix}{self.row.id}"
        return self.name


def _names(resource: JSON, full_url: Any) -> tuple[str, ...]:
    names = []
    if isinstance(resource.get("id"), str) and resource["id"]:
        names.append(f"{resource['resourceType']}/{resource['id']}")
    if isinstance(full_url, str) and full_url:
        names.append(full_url)
    return tuple(names)


def _target(ref: str) -> str:
    return ref.split("/_history/", 1)[0]


def _check_received_subject(index: int, resource: JSON, read: _Read) -> None:
    """A received resource about someone else is refused, as a clinical one is by the reader."""
    subject = resource.get("subject")
    ref = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(ref, str):
        return
    target = _target(ref)
    if target in read.patient_names:
        return
    patient_id = read.patient.get("id") if read.patient else None
    # An absolute reference can only be matched by its tail when the bundle gives no base.
    if (
        read.patient_full_url is None
        and isinstance(patient_id, str)
        and patient_id
        and "://" in target
        and target.endswith(f"/Patient/{patient_id}")
    ):
        return
    said = " or ".join(sorted(read.patient_names)) or "it has no id or fullUrl"
    place = Place(index, resource["resourceType"])
    raise place.fail("subject.reference", f"refers to {ref!r}, not the bundle's Patient ({said})")


def _read(data: bytes) -> _Read:
    """The bundle's Patient and the resources to store, in order, with its Medications by
    name; received types checked. Only called after ``read_bundle`` accepted the bundle, so
    the shape is known to be sound."""
    bundle = orjson.loads(data)
    read = _Read()
    received: list[tuple[int, JSON]] = []
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if kind == "Patient":
            read.patient = resource
            read.patient_names.update(_names(resource, entry.get("fullUrl")))
            if isinstance(entry.get("fullUrl"), str) and entry["fullUrl"]:
                read.patient_full_url = entry["fullUrl"]
        elif kind in KIND_OF_TYPE or kind in RECEIVED_TYPES:
            if kind in RECEIVED_TYPES:
                check_resource(index, resource)
                received.append((index, resource))
            read.items.append(_Item(resource, _names(resource, entry.get("fullUrl"))))
        elif kind == "Medication":
            for name in _names(resource, entry.get("fullUrl")):
                read.medications[name] = resource
    for index, resource in received:
        _check_received_subject(index, resource, read)
    return read


def _contain_medication(resource: JSON, medications: dict[str, JSON]) -> None:
    """A reference to a bundled Medication becomes a reference to a contained copy."""
    pointer = resource.get("medicationReference")
    if not isinstance(pointer, dict) or not isinstance(pointer.get("reference"), str):
        return
    target = _target(pointer["reference"])
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


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield _target(item)
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _pointed_here(value: Any, names: dict[str, str]) -> Any:
    """``value`` with each reference to a resource of the bundle given its name here."""
    if isinstance(value, dict):
        return {
            key: names.get(_target(item), item)
            if key == "reference" and isinstance(item, str)
            else _pointed_here(item, names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_pointed_here(item, names) for item in value]
    return value


def _in_reference_order(items: list[_Item]) -> list[_Item]:
    """Each item after the items it refers to, in bundle order otherwise (Kahn's algorithm,
    the smallest position first); marks the items another one refers to as ``cited``. In a
    cycle, the first item of the bundle not yet placed goes next."""
    position: dict[str, int] = {}
    for at, item in enumerate(items):
        for name in item.names:
            position.setdefault(name, at)
    waiting = [0] * len(items)
    dependents: list[list[int]] = [[] for _ in items]
    for at, item in enumerate(items):
        for cited in {position.get(ref) for ref in _references(item.resource)} - {None, at}:
            assert cited is not None
            items[cited].cited = True
            dependents[cited].append(at)
            waiting[at] += 1
    ready = [at for at in range(len(items)) if waiting[at] == 0]
    heapq.heapify(ready)
    placed = [False] * len(items)
    ordered: list[_Item] = []
    first_unplaced = 0
    while len(ordered) < len(items):
        if ready:
            at = heapq.heappop(ready)
        else:
            while placed[first_unplaced]:
                first_unplaced += 1
            at = first_unplaced
        if placed[at]:
            continue
        placed[at] = True
        ordered.append(items[at])
        for dependent in dependents[at]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0 and not placed[dependent]:
                heapq.heappush(ready, dependent)
    return ordered


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


def _held(session: Session, patient: Patient) -> dict[str, _Held]:
    """What the record holds, by content hash: every clinical row and received resource (in
    any state, so that one marked in error does not come back), and the clinic's own sessions,
    doses, answers and scores as its export gives them."""
    held: dict[str, _Held] = {}
    for kind, model in MODELS.items():
        query: Any = select(model.id, model.content_sha256).where(model.patient_id == patient.id)
        if kind == "medication":
            query = query.add_columns(MedicationRecord.resource_type)
        for row in session.execute(query):
            kind_type = row[2] if kind == "medication" else TYPE_OF_KIND[kind]
            held.setdefault(row[1], _Held(kind_type, name=f"{kind_type}/{row[0]}"))
    received = select(
        ReceivedResource.id, ReceivedResource.content_sha256, ReceivedResource.resource_type
    ).where(ReceivedResource.patient_id == patient.id)
    for row_id, digest, kind_type in session.execute(received):
        held.setdefault(digest, _Held(kind_type, name=f"{kind_type}/{ID_PREFIX}{row_id}"))
    for own in (*session_resources(session, patient), *questionnaire_resources(session, patient)):
        kind_type = own["resourceType"]
        held.setdefault(canonical_sha256(own), _Held(kind_type, name=f"{kind_type}/{own['id']}"))
    return held


# Levels of JSON a bundle may nest: an R4 resource needs about ten; a stored resource must be
# written out again (orjson stops at 255 levels) and copied (Python's recursion, about 1,000).
MAX_NESTING = 100


def _check_storable(data: bytes) -> None:
    """Refuse what the record cannot store although R4 allows it: a NUL character in a string
    (PostgreSQL holds none in text) and nesting deeper than MAX_NESTING."""
    # Walked with a list, not recursion: the bundle may be nested as deep as JSON allows.
    waiting: list[tuple[object, int]] = [(orjson.loads(data), 0)]
    while waiting:
        value, depth = waiting.pop()
        if isinstance(value, dict | list) and depth >= MAX_NESTING:
            raise BundleError(f"nested more than {MAX_NESTING} levels deep")
        if isinstance(value, dict):
            waiting.extend((item, depth + 1) for item in [*value.keys(), *value.values()])
        elif isinstance(value, list):
            waiting.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "\x00" in value:
            raise BundleError(f"a string holds a NUL character (\\u0000): {value[:60]!r}")


def import_bundle(
    session: Session, actor: Actor, clock: Clock, patient_id: int, data: bytes
) -> ImportResult:
    """Store the bundle's resources in the patient's record (see module docstring)."""
    who_may.require(actor, who_may.PRESCRIBER, "import records")
    patient = get_patient(session, patient_id)
    try:
        read_bundle(data)
        _check_storable(data)
        read = _read(data)
    except BundleError as error:
        raise InvalidInput("bundle", str(error)) from None
    _check_same_person(read.patient, patient)
    for item in read.items:
        item.resource = _as_stored(item.resource, patient_id, read.medications)
    bundle_sha256 = hashlib.sha256(data).hexdigest()
    already = session.scalar(
        select(ImportRun.id).where(
            ImportRun.patient_id == patient_id, ImportRun.bundle_sha256 == bundle_sha256
        )
    )
    if already is not None:
        return ImportResult(created=0, unchanged=len(read.items), already_imported=True)
    run = ImportRun(
        patient_id=patient_id,
        bundle_sha256=bundle_sha256,
        created=0,
        imported_at=clock.now(),
        imported_by_id=actor.user_id,
    )
    session.add(run)
    try:
        session.flush()
    except IntegrityError:
        # The same bundle imported at the same moment by someone else: theirs stands.
        raise Conflict("this bundle is being imported already") from None
    held = _held(session, patient)
    names = dict.fromkeys(read.patient_names, patient_ref(patient_id))
    created = 0
    for item in _in_reference_order(read.items):
        resource = _pointed_here(item.resource, names)
        digest = canonical_sha256(resource)
        found = held.get(digest)
        if found is None:
            kind_type = resource["resourceType"]
            if kind_type in RECEIVED_TYPES:
                row: ClinicalRow | ReceivedResource = new_received(
                    resource, patient_id=patient_id, import_id=run.id, actor=actor, clock=clock
                )
                found = _Held(kind_type, row=row, prefix=ID_PREFIX)
            else:
                row = new_row(
                    resource, patient_id=patient_id, source="import", actor=actor, clock=clock
                )
                found = _Held(kind_type, row=row)
            session.add(row)
            held[digest] = found
            created += 1
        if item.cited:
            names.update(dict.fromkeys(item.names, found.local_name(session)))
    run.created = created
    session.flush()
    return ImportResult(
        created=created, unchanged=len(read.items) - created, already_imported=False
    )
