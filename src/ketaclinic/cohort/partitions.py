"""Group an export's lines by patient with bounded memory: hash partitions on disk.

One streaming pass appends each line to one of K temporary files chosen by a stable hash of
its patient, so that all of a patient's lines land in the same file. Each file is then grouped
in memory on its own. K is chosen so that a file holds about a fraction of the memory limit;
a file that still comes out larger than the limit (skewed keys) is split again with another
hash before it is read, so the grouping never holds more than the limit, unless one patient
alone is larger than it.
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
# A partition is planned at this share of the limit, leaving room for uneven hashing.
FILL = 0.5
MAX_DEPTH = 4


@dataclass(frozen=True)
class Limit:
    """The most the grouping may hold at once: lines, and bytes of those lines."""

    max_lines: int = 400_000
    max_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        if self.max_lines < 1 or self.max_bytes < 1:
            raise ValueError("the grouping limit must be at least one line and one byte")


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

    def over(self, limit: Limit) -> bool:
        return self.lines > limit.max_lines or self.size > limit.max_bytes


@dataclass(frozen=True)
class Group:
    key: str
    lines: list[bytes]
    medications: frozenset[str]


def planned_count(expected_lines: int, expected_bytes: int, limit: Limit) -> int:
    """How many partitions, so each holds about ``FILL`` of the limit."""
    need = max(expected_lines / limit.max_lines, expected_bytes / limit.max_bytes) / FILL
    return max(1, min(MAX_PARTITIONS, math.ceil(need)))


def _slot(key: str, count: int, salt: int) -> int:
    # crc32, not hash(): Python salts str hashes per process, and workers must agree.
    return zlib.crc32(f"{salt}:{key}".encode()) % count


def _safe(key: str) -> bytes:
    return key.replace("\t", " ").replace("\n", " ").encode()


@dataclass
class Partitioner:
    """Appends lines to ``count`` files under ``folder``."""

    folder: Path
    count: int
    salt: int = 0
    _files: list[IO[bytes]] = field(default_factory=list, init=False)
    _lines: list[int] = field(default_factory=list, init=False)
    _sizes: list[int] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files = [(self.folder / f"part-{i:04d}").open("wb") for i in range(self.count)]
        self._lines = [0] * self.count
        self._sizes = [0] * self.count

    def add(self, key: str, raw: bytes, medication: str | None = None) -> None:
        slot = _slot(key, self.count, self.salt)
        record = _safe(key) + b"\t" + (medication or "").encode() + b"\t" + raw + b"\n"
        self._files[slot].write(record)
        self._lines[slot] += 1
        self._sizes[slot] += len(raw)

    def add_line(self, line: Line) -> None:
        self.add(line.key, line.raw, line.medication)

    def close(self) -> list[Partition]:
        for handle in self._files:
            handle.close()
        return [
            Partition(self.folder / f"part-{i:04d}", self._lines[i], self._sizes[i])
            for i in range(self.count)
            if self._lines[i]
        ]


def _records(path: Path) -> Iterator[tuple[str, str, bytes]]:
    with path.open("rb") as handle:
        for record in handle:
            key, medication, raw = record.rstrip(b"\n").split(b"\t", 2)
            yield key.decode(), medication.decode(), raw


def _split(partition: Partition, limit: Limit, depth: int) -> list[Partition]:
    need = max(partition.lines / limit.max_lines, partition.size / limit.max_bytes) / FILL
    count = max(2, min(MAX_PARTITIONS, math.ceil(need)))
    parts = Partitioner(partition.path.with_name(partition.path.name + f".{depth}"), count, depth)
    for key, medication, raw in _records(partition.path):
        parts.add(key, raw, medication or None)
    partition.path.unlink()
    return parts.close()


def _read(partition: Partition, gauge: Gauge) -> Iterator[Group]:
    lines: dict[str, list[bytes]] = {}
    medications: dict[str, set[str]] = {}
    size = 0
    for held, (key, medication, raw) in enumerate(_records(partition.path), 1):
        lines.setdefault(key, []).append(raw)
        if medication:
            medications.setdefault(key, set()).add(medication)
        size += len(raw)
        gauge.saw(held, size)
    partition.path.unlink()
    for key in sorted(lines):
        yield Group(key, lines.pop(key), frozenset(medications.get(key, ())))


def groups(partition: Partition, limit: Limit, gauge: Gauge, depth: int = 0) -> Iterator[Group]:
    """Each patient's lines in one partition, by patient key; the partition file is consumed."""
    if not partition.over(limit) or depth >= MAX_DEPTH:
        yield from _read(partition, gauge)
        return
    parts = _split(partition, limit, depth + 1)
    if len(parts) == 1 and parts[0].lines == partition.lines:
        # One patient (or keys no hash separates): it cannot be split, so it is held whole.
        yield from _read(parts[0], gauge)
        return
    for part in parts:
        yield from groups(part, limit, gauge, depth + 1)
    shutil.rmtree(parts[0].path.parent, ignore_errors=True)
