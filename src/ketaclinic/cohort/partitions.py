"""Group an export's lines by patient with bounded memory: hash partitions on disk.

One streaming pass appends each line to one of K temporary files chosen by a stable hash of
its patient, so that all of a patient's lines land in the same file. Each file is then grouped
in memory on its own. A file is read whole, so what one may hold is capped twice: by the
configured limit, and by a fixed size (``PARTITION_LINES``, ``PARTITION_BYTES``) that does not
depend on the export, so that a larger population makes more files, never larger ones, and the
memory of a process stays the same whatever the number of patients (issue 8). K is chosen so
that a file holds about ``FILL`` of that cap; a file that still comes out larger (skewed keys,
or an export so large that ``MAX_PARTITIONS`` files cannot hold it) is split again with another
hash before it is read, so the grouping never holds more than the cap, unless one patient alone
is larger than it.
"""

from __future__ import annotations

import math
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ketaclinic.cohort.export_files import Line

# At most this many files open at once while partitioning.
MAX_PARTITIONS = 512
# A partition is planned at this share of its cap, leaving room for uneven hashing.
FILL = 0.5
MAX_DEPTH = 4
# The most one partition is read with, whatever the limit and the size of the export. Planned
# at half of it, a partition holds some 700 patients of the synthetic export, and a worker peaks
# at about 60 MB at 10,000 as at 100,000 patients (bench/cohort.py): a bigger population only
# means more partitions.
PARTITION_LINES = 65_536
PARTITION_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Limit:
    """The most the grouping may hold at once: lines, and bytes of those lines."""

    max_lines: int = 400_000
    max_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        if self.max_lines < 1 or self.max_bytes < 1:
            raise ValueError("the grouping limit must be at least one line and one byte")

    @property
    def cap_lines(self) -> int:
        """The most lines one partition is read with: the limit, or less (``PARTITION_LINES``)."""
        return min(self.max_lines, PARTITION_LINES)

    @property
    def cap_bytes(self) -> int:
        return min(self.max_bytes, PARTITION_BYTES)


@dataclass
class Gauge:
    """The most the grouping held at once (instrumented, so tests can check the bound)."""

    peak_lines: int = 0
    peak_bytes: int = 0

    def saw(self, lines: int, size: int) -> None:
        self.peak_lines = max(self.peak_lines, lines)
        self.peak_bytes = max(self.peak_bytes, size)


@dataclass(frozen=True)
class Partition:
    path: Path
    lines: int
    size: int
    # The same slot written by other readers of the export (read after ``path``, in order).
    others: tuple[Path, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.path, *self.others)

    def remove(self) -> None:
        for path in self.paths:
            path.unlink()

    def over(self, limit: Limit) -> bool:
        return self.lines > limit.cap_lines or self.size > limit.cap_bytes


@dataclass(frozen=True)
class Group:
    key: str
    lines: list[bytes]
    medications: frozenset[str]


def _needed(lines: int, size: int, limit: Limit) -> int:
    """How many partitions, so each holds about ``FILL`` of its cap."""
    need = max(lines / limit.cap_lines, size / limit.cap_bytes) / FILL
    return math.ceil(need)


def planned_count(expected_lines: int, expected_bytes: int, limit: Limit) -> int:
    """How many partitions for an export: as many as it needs, up to ``MAX_PARTITIONS``."""
    return max(1, min(MAX_PARTITIONS, _needed(expected_lines, expected_bytes, limit)))


def _safe(key: str) -> bytes:
    return key.replace("\t", " ").replace("\n", " ").encode()


def _salted(salt: int) -> int:
    """The crc32 of the salt's prefix, which ``zlib.crc32`` then continues over each key: the
    slot of a key is crc32("salt:key") modulo the count, without building that text per line.
    crc32, not hash(): Python salts str hashes per process, and processes must agree."""
    return zlib.crc32(f"{salt}:".encode())


@dataclass
class Partitioner:
    """Appends lines to ``count`` files under ``folder``."""

    folder: Path
    count: int
    salt: int = 0
    _files: list[IO[bytes]] = field(default_factory=list, init=False)
    _lines: list[int] = field(default_factory=list, init=False)
    _sizes: list[int] = field(default_factory=list, init=False)
    _seed: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._seed = _salted(self.salt)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files = [(self.folder / f"part-{i:04d}").open("wb") for i in range(self.count)]
        self._lines = [0] * self.count
        self._sizes = [0] * self.count

    def add(self, key: str, raw: bytes, medication: str | None = None) -> None:
        slot = zlib.crc32(key.encode(), self._seed) % self.count
        record = b"%b\t%b\t%b\n" % (_safe(key), (medication or "").encode(), raw)
        self._files[slot].write(record)
        self._lines[slot] += 1
        self._sizes[slot] += len(raw)

    def add_line(self, line: Line) -> None:
        self.add(line.key, line.raw, line.medication)

    def close(self) -> list[Partition]:
        return list(self.close_slots().values())

    def close_slots(self) -> dict[int, Partition]:
        """The partitions written, by slot (the empty ones are left out)."""
        for handle in self._files:
            handle.close()
        return {
            i: Partition(self.folder / f"part-{i:04d}", self._lines[i], self._sizes[i])
            for i in range(self.count)
            if self._lines[i]
        }


def joined(parts: list[Partition]) -> Partition:
    """One partition of the same slot written by several readers, read in their order."""
    paths = [path for part in parts for path in part.paths]
    lines = sum(part.lines for part in parts)
    return Partition(paths[0], lines, sum(part.size for part in parts), tuple(paths[1:]))


def _records(partition: Partition) -> Iterator[tuple[str, str, bytes]]:
    for path in partition.paths:
        with path.open("rb") as handle:
            for record in handle:
                key, medication, raw = record.rstrip(b"\n").split(b"\t", 2)
                yield key.decode(), medication.decode(), raw


def _split(partition: Partition, limit: Limit, depth: int) -> tuple[list[Partition], bool]:
    """The partition split with the hash salted by ``depth``; and whether it is one patient's."""
    count = max(2, min(MAX_PARTITIONS, _needed(partition.lines, partition.size, limit)))
    parts = Partitioner(partition.path.with_name(partition.path.name + f".{depth}"), count, depth)
    first: str | None = None
    several = False
    for key, medication, raw in _records(partition):
        parts.add(key, raw, medication or None)
        first = key if first is None else first
        several = several or key != first
    partition.remove()
    return parts.close(), not several


def _read(partition: Partition, gauge: Gauge) -> Iterator[Group]:
    lines: dict[str, list[bytes]] = {}
    medications: dict[str, set[str]] = {}
    size = 0
    for held, (key, medication, raw) in enumerate(_records(partition), 1):
        lines.setdefault(key, []).append(raw)
        if medication:
            medications.setdefault(key, set()).add(medication)
        size += len(raw)
        gauge.saw(held, size)
    partition.remove()
    for key in sorted(lines):
        yield Group(key, lines.pop(key), frozenset(medications.get(key, ())))


def groups(partition: Partition, limit: Limit, gauge: Gauge, depth: int = 0) -> Iterator[Group]:
    """Each patient's lines in one partition, by patient key; the partition file is consumed."""
    if not partition.over(limit) or depth >= MAX_DEPTH:
        yield from _read(partition, gauge)
        return
    parts, one_patient = _split(partition, limit, depth + 1)
    for part in parts:
        if one_patient:
            # One patient larger than the cap cannot be split: they are held whole.
            yield from _read(part, gauge)
        else:
            # Several patients may still share a part (the salted hash sent them all to one):
            # each part is judged again, split with the next salt if it is still over the cap.
            yield from groups(part, limit, gauge, depth + 1)
    shutil.rmtree(parts[0].path.parent, ignore_errors=True)
