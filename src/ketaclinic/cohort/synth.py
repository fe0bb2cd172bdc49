"""Write a synthetic population as FHIR Bulk Data NDJSON, one file per resource type.

Patients are drawn and written one at a time, so memory does not grow with the population.
The same seed, size and date give byte-identical files (gzip too: no time stamp, no name).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import IO, cast

import orjson

from ketaclinic.cohort.synth_patient import patient_resources

# The types written, in the order a Bulk Data manifest lists them; Encounter and Claim are
# there because real exports hold types the screening does not read.
RESOURCE_TYPES = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Observation",
    "AllergyIntolerance",
    "Procedure",
    "Encounter",
    "Claim",
)
DEFAULT_AS_OF = date(2026, 11, 1)
# Bytes one patient takes on disk, a little over what was measured (seed 8: 100,000 patients
# 1,024 MB plain, 10,000 patients 8.9 MB gzipped); only to refuse what the disk cannot hold.
_BYTES_PER_PATIENT = 10_500
_BYTES_PER_PATIENT_GZIPPED = 1_000


def bytes_needed(patients: int, compress: bool) -> int:
    """About how many bytes ``write_population`` writes for ``patients`` patients."""
    return patients * (_BYTES_PER_PATIENT_GZIPPED if compress else _BYTES_PER_PATIENT)


def _opener(compress: bool) -> Callable[[Path], IO[bytes]]:
    def open_plain(path: Path) -> IO[bytes]:
        return path.open("wb")

    def open_gzip(path: Path) -> IO[bytes]:
        raw = path.open("wb")
        # filename="" and mtime=0 keep the gzip header free of anything but the data.
        return cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))

    return open_gzip if compress else open_plain


def write_population(
    out: Path,
    patients: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    compress: bool = False,
    on_patient: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write ``patients`` patients into ``out``; the number of resources written per type."""
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".ndjson.gz" if compress else ".ndjson"
    opener = _opener(compress)
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    with ExitStack() as stack:
        files: dict[str, IO[bytes]] = {}
        for kind in RESOURCE_TYPES:
            handle = opener(out / f"{kind}{suffix}")
            if isinstance(handle, gzip.GzipFile) and handle.fileobj is not None:
                # GzipFile does not close a file object it was given.
                stack.callback(handle.fileobj.close)
            files[kind] = stack.enter_context(handle)
        for index in range(patients):
            for resource in patient_resources(seed, index, as_of):
                kind = resource["resourceType"]
                files[kind].write(orjson.dumps(resource) + b"\n")
                counts[kind] += 1
            if on_patient is not None:
                on_patient(index + 1)
    return counts
