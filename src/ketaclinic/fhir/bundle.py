"""A FHIR R4 Bundle (JSON bytes) -> the clinical ``Record`` of its one Patient.

Source: spec/screening.md, "Input: a FHIR R4 Bundle". Only the resource types
the engine reads are validated, each on its own with its ``fhir.resources.R4B``
model; the Bundle as a whole is never modelled, and entries of other types
(Claim, Encounter, ExplanationOfBenefit...) are passed over after one look at
their ``resourceType``, so that large exports stay fast and their oddities in
parts the engine never reads cannot refuse a screening.

Every refusal is a ``BundleError`` with one line saying what is wrong and
where (entry index from 0, resource type, field).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure

from ketaclinic.clinical import facts
from ketaclinic.fhir.errors import BundleError, Place, from_validation
from ketaclinic.fhir.fast_check import surely_valid
from ketaclinic.fhir.read_resources import (
    JSON,
    read_allergy,
    read_condition,
    read_medication,
    read_observation,
    read_patient,
    read_procedure,
)
from ketaclinic.fhir.values import reference

__all__ = [
    "BundleError",
    "check_resource",
    "read_bundle",
    "read_bundle_file",
    "read_bundle_object",
]

BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset")

_Fact = TypeVar(
    "_Fact", facts.Condition, facts.Medication, facts.Observation, facts.Allergy, facts.Procedure
)

_MODELS: dict[str, Any] = {
    "Patient": Patient,
    "Condition": Condition,
    "MedicationStatement": MedicationStatement,
    "MedicationRequest": MedicationRequest,
    "Observation": Observation,
    "AllergyIntolerance": AllergyIntolerance,
    "Procedure": Procedure,
    "Medication": Medication,
}
# The element naming whose record a clinical resource is (R4).
_SUBJECT = {
    "Condition": "subject",
    "MedicationStatement": "subject",
    "MedicationRequest": "subject",
    "Observation": "subject",
    "AllergyIntolerance": "patient",
    "Procedure": "subject",
}


# Not frozen: one is made for each entry read, and a plain slotted dataclass is made in a third of
# the time of a frozen one (issue 8). Nothing changes an entry once made.
@dataclass(slots=True)
class _Entry:
    place: Place
    resource: JSON
    full_url: str | None

    @property
    def ref(self) -> str:
        """Evidence name: ``Type/id``, else the fullUrl (spec: "Other readings")."""
        resource_id = self.resource.get("id")
        if isinstance(resource_id, str) and resource_id:
            return f"{self.place.resource_type}/{resource_id}"
        return self.full_url or f"Bundle.entry[{self.place.index}]"


@dataclass
class _Collected:
    patients: list[_Entry] = field(default_factory=list)
    clinical: list[_Entry] = field(default_factory=list)
    # Bundled Medications by "Medication/id" and by fullUrl.
    medications: dict[str, _Entry] = field(default_factory=dict)


def _decode(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BundleError(f"not JSON: {error}") from None


def _check_bundle(bundle: Any) -> dict[str, Any]:
    """The decoded JSON as a Bundle of a type the engine reads, else a BundleError."""
    if not isinstance(bundle, dict):
        raise BundleError(f"not a FHIR Bundle: the JSON is {type(bundle).__name__}, not an object")
    kind = bundle.get("resourceType")
    if kind != "Bundle":
        said = "has no resourceType" if kind is None else f"resourceType is {_shown(kind)}"
        raise BundleError(f"not a FHIR Bundle: {said}")
    bundle_type = bundle.get("type")
    if bundle_type not in BUNDLE_TYPES:
        said = "missing" if bundle_type is None else f"{_shown(bundle_type)} is"
        raise BundleError(f"Bundle.type: {said} not one of {', '.join(BUNDLE_TYPES)}")
    return bundle


def _shown(value: object) -> str:
    return orjson.dumps(value).decode()[:60]


def _full_url(entry: dict[str, Any], place: Place) -> str | None:
    full_url = entry.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise BundleError(
            f"entry {place.index} ({place.resource_type}): fullUrl: expected a string"
        )
    return full_url


# Places are values (entry index, resource type) that every bundle of a population repeats: each is
# made once and shared, as making a frozen dataclass costs more than finding it (issue 8). A few
# hundred at most in practice; all forgotten past _PLACES_KEPT, so that memory stays bounded.
_PLACES_KEPT = 4096
_places: dict[tuple[int, str], Place] = {}


def _new_place(index: int, kind: str) -> Place:
    if len(_places) >= _PLACES_KEPT:
        _places.clear()
    place = _places[index, kind] = Place(index, kind)
    return place


def _collect(bundle: dict[str, Any]) -> _Collected:
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise BundleError("Bundle.entry: expected a list")
    found = _Collected()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise BundleError(f"entry {index}: expected an object")
        resource = entry.get("resource")
        if resource is None:
            # A transaction entry may carry only a request (a delete): nothing to read.
            continue
        if not isinstance(resource, dict):
            raise BundleError(f"entry {index}: resource: expected an object")
        kind = resource.get("resourceType")
        if not isinstance(kind, str):
            raise BundleError(f"entry {index}: resource has no resourceType")
        if kind not in _MODELS:
            continue
        place = _places.get((index, kind)) or _new_place(index, kind)
        read = _Entry(place, resource, _full_url(entry, place))
        if kind in _SUBJECT:
            found.clinical.append(read)
        elif kind == "Patient":
            found.patients.append(read)
        elif kind == "Medication":
            if isinstance(resource.get("id"), str):
                found.medications[read.ref] = read
            if read.full_url:
                found.medications[read.full_url] = read
    return found


def _check_contained(entry: _Entry, resource: JSON, path: str) -> None:
    # fhir.resources fails with a KeyError, not a validation error, on an unknown contained type.
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return
    for i, item in enumerate(contained):
        if not isinstance(item, dict) or "resourceType" not in item:
            continue
        kind = item["resourceType"]
        try:
            known = isinstance(kind, str) and get_fhir_model_class(kind) is not None
        except ValueError:
            known = False
        if not known:
            raise entry.place.fail(
                f"{path}contained[{i}].resourceType", f"unknown resource type {_shown(kind)}"
            )
        _check_contained(entry, item, f"{path}contained[{i}].")


def _check_primitive_extensions(entry: _Entry, value: object, path: str) -> None:
    # A primitive's extension element ("_code") must be an object (or a list of objects and
    # nulls); nested inside an element, fhir.resources crashes with an AttributeError on
    # anything else instead of reporting it, so it is refused here with the field named.
    # Walked with a list, not recursion: a hostile bundle may nest 1,000 levels deep, as deep as
    # JSON is read, and Python's recursion stops sooner (RecursionError, a 500). Same order.
    waiting: list[tuple[object, str, bool]] = [(value, path, False)]
    while waiting:
        value, path, extension = waiting.pop()
        if extension:
            items = value if isinstance(value, list) else [value]
            if not all(x is None or isinstance(x, dict) for x in items):
                raise entry.place.fail(path, "a primitive's extension must be an object")
        if isinstance(value, list):
            inner = [(item, f"{path}[{i}]", False) for i, item in enumerate(value)]
        elif isinstance(value, dict):
            inner = [
                (item, f"{path}.{key}" if path else key, key.startswith("_"))
                for key, item in value.items()
            ]
        else:
            continue
        waiting.extend(reversed(inner))


def _validate(entry: _Entry, model: Any = None) -> None:
    """The R4 structure of a resource the engine reads (spec: "Valid means")."""
    if "contained" in entry.resource:
        _check_contained(entry, entry.resource, "")
    if surely_valid(entry.resource):
        # Proven valid by the stricter fast check; R4B would accept it too (issue 8).
        return
    # Only on the slow path: the fast check refuses every primitive extension.
    _check_primitive_extensions(entry, entry.resource, "")
    try:
        (model or _MODELS[entry.place.resource_type]).model_validate(entry.resource)
    except pydantic.ValidationError as error:
        raise from_validation(entry.place, error.errors(include_url=False)) from None
    except RecursionError:
        # R4B recurses once per level and gives up some 300 levels down, where JSON (read up
        # to 1,024 levels) still goes on: a resource that deep cannot be checked, so it is
        # refused as input, not answered with a crash.
        raise entry.place.fail("", "nested too deeply to be checked as R4") from None


def check_resource(index: int, resource: JSON) -> None:
    """Entry ``index``'s resource, of any type, checked with its own R4B model and refused as
    the engine refuses the types it reads (a ``BundleError`` naming entry and field).

    For a caller keeping resources ``read_bundle`` passes over: the import keeps the types the
    clinic exports but has no records of (services/received_resources.py).
    """
    kind = resource["resourceType"]
    _validate(_Entry(Place(index, kind), resource, None), get_fhir_model_class(kind))


def _only_patient(patients: list[_Entry]) -> _Entry:
    if not patients:
        raise BundleError("no Patient in the bundle")
    if len(patients) > 1:
        where = ", ".join(str(p.place.index) for p in patients)
        raise BundleError(f"more than one Patient in the bundle (entries {where})")
    return patients[0]


def _subject_check(patient: _Entry) -> Callable[[_Entry], None]:
    """Refuse a clinical resource that is about someone else (spec: exit 2)."""
    patient_id = patient.resource.get("id")
    local = f"Patient/{patient_id}" if isinstance(patient_id, str) and patient_id else None
    names = {name for name in (local, patient.full_url) if name}

    def is_patient(target: str) -> bool:
        target = target.split("/_history/", 1)[0]
        if target in names:
            return True
        # An absolute reference can only be matched by its tail when the bundle gives no base.
        return (
            patient.full_url is None
            and local is not None
            and "://" in target
            and target.endswith(f"/{local}")
        )

    def check(entry: _Entry) -> None:
        key = _SUBJECT[entry.place.resource_type]
        # Nearly always "Patient/<id>" exactly: accepted by one look-up (issue 8).
        pointer = entry.resource.get(key)
        if type(pointer) is dict:
            target = pointer.get("reference")
            if type(target) is str and target in names and "/_history/" not in target:
                return
        target = reference(entry.resource, key, entry.place)
        # A logical reference (identifier only) cannot point elsewhere in the bundle.
        if target is not None and not is_patient(target):
            said = " or ".join(sorted(names)) or "it has no id or fullUrl"
            raise entry.place.fail(
                f"{key}.reference",
                f"refers to {target!r}, not the bundle's Patient ({said})",
            )

    return check


def _medication_lookup(collected: _Collected) -> Callable[[str], JSON | None]:
    validated: set[int] = set()

    def lookup(target: str) -> JSON | None:
        entry = collected.medications.get(target.split("/_history/", 1)[0])
        if entry is None:
            return None
        if entry.place.index not in validated:
            _validate(entry)
            validated.add(entry.place.index)
        return entry.resource

    return lookup


def read_bundle(data: bytes) -> facts.Record:
    """The Record of the bundle's one Patient; BundleError on bad input."""
    return read_bundle_object(_decode(data))


def read_bundle_object(bundle: dict[str, Any]) -> facts.Record:
    """``read_bundle`` on a Bundle already decoded from JSON (same checks, same refusals).

    For a caller that decodes many bundles at once (population screening, issue 8): the
    resources must be as ``orjson.loads`` gives them (dict, list, str, int, float, bool, None).
    """
    collected = _collect(_check_bundle(bundle))
    patient_entry = _only_patient(collected.patients)
    _validate(patient_entry)
    patient = read_patient(patient_entry.resource, patient_entry.ref, patient_entry.place)
    about_patient = _subject_check(patient_entry)
    lookup = _medication_lookup(collected)
    conditions: list[facts.Condition] = []
    medications: list[facts.Medication] = []
    observations: list[facts.Observation] = []
    allergies: list[facts.Allergy] = []
    procedures: list[facts.Procedure] = []
    for entry in collected.clinical:
        _validate(entry)
        about_patient(entry)
        resource, ref, place = entry.resource, entry.ref, entry.place
        kind = place.resource_type
        # Observations first: most of the resources of a record (issue 8).
        if kind == "Observation":
            observations.append(read_observation(resource, ref, place))
        elif kind == "Condition":
            conditions.append(read_condition(resource, ref, place))
        elif kind in ("MedicationStatement", "MedicationRequest"):
            medications.append(read_medication(resource, ref, place, lookup))
        elif kind == "AllergyIntolerance":
            allergies.append(read_allergy(resource, ref, place))
        else:
            procedures.append(read_procedure(resource, ref, place))
    return facts.Record(
        patient=patient,
        conditions=_in_order(conditions),
        medications=_in_order(medications),
        observations=_in_order(observations),
        allergies=_in_order(allergies),
        procedures=_in_order(procedures),
    )


_by_ref = attrgetter("ref")


def _in_order(found: list[_Fact]) -> tuple[_Fact, ...]:
    """By evidence name, whatever the order of the entries: the same bundle shuffled gives the
    same Record, hence the same screening (spec: "a screening is reproducible")."""
    if len(found) < 2:
        return tuple(found)
    if len({fact.ref for fact in found}) == len(found):
        return tuple(sorted(found, key=_by_ref))
    # Two facts share a name (e.g. a merged medication): their whole content breaks the tie.
    return tuple(sorted(found, key=lambda fact: (fact.ref, repr(fact))))


def read_bundle_file(path: Path) -> facts.Record:
    """``read_bundle`` on a file; a missing or unreadable file is a BundleError too."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BundleError(f"{path}: cannot read the file ({error.strerror or error})") from None
    return read_bundle(data)
