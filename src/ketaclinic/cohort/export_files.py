"""A Bulk Data export on disk: its files, their lines, and whose record each line is.

Reading never stops at a bad line: each one the screening cannot use becomes a ``Skipped``
(file, line number, reason) and the reading goes on. A truncated or corrupt gzip file ends
that file's reading with one ``Skipped`` naming the line where the data stopped.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

import orjson

# The types the screening reads (fhir/bundle.py); every other type is counted and passed over.
SCREENED_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "MedicationStatement",
        "MedicationRequest",
        "Observation",
        "AllergyIntolerance",
        "Procedure",
    }
)
# The element naming whose record a resource is (R4): ``patient`` on AllergyIntolerance.
SUBJECT_KEYS = ("subject", "patient")


class ExportError(ValueError):
    """The folder is not a readable export (no such folder, no NDJSON, no Patient file)."""


@dataclass(frozen=True)
class Skipped:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class Line(NamedTuple):
    """A usable line: whose it is, its type, and its bytes as written (a tuple: an export makes
    millions of them, and a frozen dataclass costs about twice as much to make)."""

    key: str
    kind: str
    raw: bytes
    # "Medication/id" when the line is a medication statement or request naming one.
    medication: str | None = None


@dataclass(frozen=True)
class Catalogue:
    """A Medication resource (shared, not any one patient's), kept by ``Medication/id``."""

    ref: str
    raw: bytes


@dataclass(frozen=True)
class Ignored:
    """A resource of a type the screening does not read."""

    kind: str


Read = Line | Skipped | Catalogue | Ignored


# The files of an export folder that are read: Bulk Data's NDJSON, plain or gzipped.
EXPORT_ENDINGS = (".ndjson", ".ndjson.gz")


def read_as_export(path: Path, folder: Path) -> bool:
    """Would ``path`` be read as one of the files of the export in ``folder``?"""
    return path.name.endswith(EXPORT_ENDINGS) and path.parent.resolve() == folder.resolve()


def export_files_in(folder: Path) -> list[Path]:
    """The files of ``folder`` an export is read from, in name order (none is an empty list)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(EXPORT_ENDINGS))


def export_files(folder: Path) -> list[Path]:
    """The NDJSON files of an export, in name order; ExportError when there is nothing to read."""
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such folder")
    files = export_files_in(folder)
    if not files:
        raise ExportError(f"{folder}: no .ndjson or .ndjson.gz files")
    # Bulk Data names a file by its type: Patient.ndjson, Patient.000.ndjson, 1.Patient.ndjson.
    if not any("Patient" in p.name.split(".") for p in files):
        raise ExportError(f"{folder}: no Patient file (Patient.ndjson or Patient.ndjson.gz)")
    return files


def patient_key(reference: str) -> str | None:
    """``Patient/id`` out of a relative or absolute reference, else None."""
    target = reference.split("/_history/", 1)[0]
    head, sep, tail = target.rpartition("Patient/")
    if not sep or not tail or "/" in tail or (head and not head.endswith("/")):
        return None
    return f"Patient/{tail}"


def _subject(resource: dict[str, Any]) -> str | bool | None:
    """The patient key; False when a subject is given but is not a Patient reference."""
    for name in SUBJECT_KEYS:
        pointer = resource.get(name)
        if pointer is None:
            continue
        reference = pointer.get("reference") if isinstance(pointer, dict) else None
        if not isinstance(reference, str):
            return False
        return patient_key(reference) or False
    return None


def _medication_ref(resource: dict[str, Any]) -> str | None:
    pointer = resource.get("medicationReference")
    reference = pointer.get("reference") if isinstance(pointer, dict) else None
    if isinstance(reference, str) and reference.startswith("Medication/"):
        return reference.split("/_history/", 1)[0]
    return None


def classify(raw: bytes, name: str, number: int) -> Read:
    """What one line is, for the screening."""
    try:
        resource = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return Skipped(name, number, f"not JSON ({error})")
    if not isinstance(resource, dict):
        return Skipped(name, number, "not a JSON object")
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return Skipped(name, number, "no resourceType")
    if kind == "Medication":
        ident = resource.get("id")
        if isinstance(ident, str) and ident:
            return Catalogue(f"Medication/{ident}", raw)
        return Skipped(name, number, "Medication with no id")
    if kind not in SCREENED_TYPES:
        return Ignored(kind)
    if kind == "Patient":
        ident = resource.get("id")
        if not isinstance(ident, str) or not ident:
            return Skipped(name, number, "Patient with no id")
        return Line(f"Patient/{ident}", kind, raw)
    key = _subject(resource)
    if key is None:
        return Skipped(name, number, f"{kind} with no patient reference")
    if key is False:
        return Skipped(name, number, f"{kind} whose subject is not a Patient reference")
    assert isinstance(key, str)
    return Line(key, kind, raw, _medication_ref(resource))


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


@dataclass(frozen=True)
class Slice:
    """The lines of one export file that start in bytes [start, end), the first of them line
    number ``first``: a share of the reading one process can do while another reads the rest."""

    path: Path
    start: int = 0
    end: int | None = None
    first: int = 1


# Bytes read at a time to count the lines before each cut.
_BLOCK = 2**20


def _line_numbers(path: Path, cuts: list[int]) -> list[int]:
    """The number of the line starting at each cut (lines end with a newline byte)."""
    numbers: list[int] = []
    seen = offset = 0
    with path.open("rb") as handle:
        for cut in cuts:
            while offset < cut:
                block = handle.read(min(_BLOCK, cut - offset))
                if not block:
                    break
                seen += block.count(b"\n")
                offset += len(block)
            numbers.append(seen + 1)
    return numbers


def slices(path: Path, size: int) -> list[Slice]:
    """The file cut at the first line start after every ``size`` bytes; a gzip file, or one
    that cannot be measured, is one slice (its reading reports what is wrong with it)."""
    if path.name.endswith(".gz"):
        return [Slice(path)]
    try:
        length = path.stat().st_size
        cuts: list[int] = []
        with path.open("rb") as handle:
            for target in range(size, length, size):
                handle.seek(target - 1)
                handle.readline()
                cut = handle.tell()
                if cut < length and (not cuts or cut > cuts[-1]):
                    cuts.append(cut)
        numbers = _line_numbers(path, cuts)
    except OSError:
        return [Slice(path)]
    starts = [(0, 1), *zip(cuts, numbers, strict=True)]
    ends: list[int | None] = [*cuts, None]
    return [
        Slice(path, start, end, first) for (start, first), end in zip(starts, ends, strict=True)
    ]


def read_file(path: Path) -> Iterator[Read]:
    """Every line of one file, classified; blank lines are passed over."""
    return read_slice(Slice(path))


def read_slice(part: Slice) -> Iterator[Read]:
    """Every line of one slice of a file, classified; blank lines are passed over."""
    name = part.path.name
    number = part.first - 1
    position = part.start
    try:
        with _open(part.path) as handle:
            if part.start:
                handle.seek(part.start)
            for line in handle:
                if part.end is not None and position >= part.end:
                    return
                position += len(line)
                number += 1
                raw = line.strip()
                if number == 1:
                    # A byte-order mark some exporters write at the start of a file.
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                if raw:
                    yield classify(raw, name, number)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        yield Skipped(name, number + 1, f"gzip data ends or is corrupt here ({error})")
    except OSError as error:
        yield Skipped(name, number + 1, f"cannot read the file ({error})")
