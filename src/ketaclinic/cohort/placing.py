"""Pass 1 of the local engine: every line of an export placed in its patient's partition.

The export is read in slices (export_files.py ``slices``) that processes can share: each slice
writes partitions of its own, one file per slot, and the files of one slot are then read as one
partition, in slice order, so a patient's lines keep the order of the export. The Medications
a slice finds are written beside its partitions and gathered, in order, into the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ketaclinic.cohort.export_files import Catalogue, Ignored, Line, Skipped, Slice, read_slice
from ketaclinic.cohort.medication_catalogue import MedicationCatalogue
from ketaclinic.cohort.partitions import Partition, Partitioner, joined
from ketaclinic.cohort.summary import Summary


@dataclass
class Placed:
    """What one slice gave: its partitions by slot, its Medications, what it passed over."""

    partitions: dict[int, Partition]
    medications: Path | None
    summary: Summary = field(default_factory=Summary)
    patients: int = 0


def place_slice(part: Slice, folder: Path, count: int) -> Placed:
    """Every line of the slice to its partition under ``folder``."""
    into = Partitioner(folder, count)
    placed = Placed({}, None)
    medications = folder / "medications"
    with medications.open("wb") as catalogue:
        for read in read_slice(part):
            if isinstance(read, Line):
                into.add_line(read)
                placed.patients += read.kind == "Patient"
            elif isinstance(read, Skipped):
                placed.summary.skip(read)
            elif isinstance(read, Catalogue):
                # The reference as JSON text: it cannot hold a tab, whatever the id.
                catalogue.write(orjson.dumps(read.ref) + b"\t" + read.raw + b"\n")
                placed.medications = medications
            elif isinstance(read, Ignored):
                placed.summary.ignored[read.kind] += 1
    placed.partitions = into.close_slots()
    return placed


@dataclass
class Gathered:
    """Pass 1 as a whole: the partitions to screen, and the count of Patient lines."""

    partitions: list[Partition]
    patients: int


def gather(
    placed: Iterable[Placed], count: int, summary: Summary, catalogue: MedicationCatalogue
) -> Gathered:
    """The slices' results, in slice order, as one: what pass 2 screens, slot by slot."""
    slots: list[list[Partition]] = [[] for _ in range(count)]
    patients = 0
    for one in placed:
        summary.add_reading(one.summary)
        patients += one.patients
        for slot, partition in one.partitions.items():
            slots[slot].append(partition)
        if one.medications is not None:
            with one.medications.open("rb") as handle:
                for record in handle:
                    ref, raw = record.rstrip(b"\n").split(b"\t", 1)
                    catalogue.add(orjson.loads(ref), raw)
    return Gathered([joined(parts) for parts in slots if parts], patients)
