"""Screen a Bulk Data export on this machine, in one process or N, with bounded memory.

Pass 1 reads every line once, classifies it and appends it to a hash partition on disk
(placing.py); the files are cut into slices, which ``workers`` > 1 read at the same time. Pass
2 groups each partition by patient and screens every patient; with ``workers`` > 1 the
partitions are shared out among the same processes, each holding one partition at a time. Rows
come out partition by partition, patients in key order within one; the number of partitions
does not depend on the number of workers, so the same export and settings give the same file,
in the same order, whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ketaclinic.cohort.export_files import Slice, export_files, slices
from ketaclinic.cohort.medication_catalogue import MedicationCatalogue
from ketaclinic.cohort.partitions import (
    MAX_PARTITIONS,
    Gauge,
    Group,
    Limit,
    Partition,
    groups,
    planned_count,
)
from ketaclinic.cohort.patient_rows import Refused, Row, Settings, screen_resources
from ketaclinic.cohort.placing import Placed, gather, place_slice
from ketaclinic.cohort.summary import Summary

# Guesses used only to choose the number of partitions (a wrong guess costs a re-split).
BYTES_PER_LINE = 600
GZIP_RATIO = 8
# Partitions are at least this many whatever the workers, so that several workers share the
# work evenly and the rows come out in one order.
MIN_PARTITIONS = 16
# Files are cut into about this many slices per worker (none smaller than SMALLEST_SLICE), so
# that several workers share the reading evenly too; and none larger than LARGEST_SLICE, so that
# the progress of the reading, reported slice by slice, moves in steps a person can follow.
SLICES_PER_WORKER = 4
SMALLEST_SLICE = 4 * 2**20
LARGEST_SLICE = 64 * 2**20

Progress = Callable[[int], None]
# Bytes of the export read so far, and in all.
ReadProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Options:
    workers: int = 1
    limit: Limit = field(default_factory=Limit)
    scratch: Path | None = None
    # The order of the rows depends on this and on the export only, never on ``workers``.
    min_partitions: int = MIN_PARTITIONS
    # Bytes of a file one worker reads at a time in pass 1 (None: chosen from the export's size).
    slice_bytes: int | None = None


def _expected(files: list[Path]) -> tuple[int, int]:
    size = sum(p.stat().st_size * (GZIP_RATIO if p.name.endswith(".gz") else 1) for p in files)
    return size // BYTES_PER_LINE, size


def _slices(files: list[Path], size: int, options: Options) -> list[Slice]:
    share = options.slice_bytes or min(
        LARGEST_SLICE, max(SMALLEST_SLICE, size // (SLICES_PER_WORKER * options.workers))
    )
    return [part for path in files for part in slices(path, share)]


def _bytes_of(part: Slice) -> int:
    """The bytes of the file a slice covers (of a gzip file: compressed, as on disk)."""
    try:
        end = part.path.stat().st_size if part.end is None else part.end
    except OSError:
        return 0  # Its reading says what is wrong with it.
    return max(0, end - part.start)


def _reporting(
    placed: Iterator[Placed], parts: list[Slice], on_read: ReadProgress | None
) -> Iterator[Placed]:
    """The slices' results as they come, telling ``on_read`` how much of the export is read."""
    sizes = [_bytes_of(part) for part in parts]
    total = sum(sizes)
    done = 0
    for one, size in zip(placed, sizes, strict=True):
        done += size
        if on_read is not None:
            on_read(done, total)
        yield one


def screen_group(group: Group, settings: Settings, catalogue: MedicationCatalogue) -> Row | Refused:
    """Screen one patient: their lines, then the shared Medications they name."""
    lines = [*group.lines, *catalogue.lines(group.medications)]
    # Each line was decoded once already in pass 1: it is JSON.
    return screen_resources(group.key, [orjson.loads(raw) for raw in lines], settings)


def screen_partition(
    partition: Partition,
    settings: Settings,
    limit: Limit,
    catalogue: MedicationCatalogue,
    gauge: Gauge,
) -> Iterator[Row | Refused]:
    for group in groups(partition, limit, gauge):
        yield screen_group(group, settings, catalogue)


@dataclass
class _Work:
    """One run's settings, in the main process or sent once to each worker."""

    settings: Settings
    limit: Limit
    catalogue_path: Path
    _catalogue: MedicationCatalogue | None = None

    @property
    def catalogue(self) -> MedicationCatalogue:
        # Opened at the first screening: it is complete only once pass 1 has ended.
        if self._catalogue is None:
            self._catalogue = MedicationCatalogue(self.catalogue_path)
        return self._catalogue

    def place(self, task: tuple[Slice, Path, int]) -> Placed:
        return place_slice(*task)

    def screen(self, partition: Partition) -> tuple[list[Row | Refused], Gauge]:
        gauge = Gauge()
        results = screen_partition(partition, self.settings, self.limit, self.catalogue, gauge)
        return list(results), gauge

    def close(self) -> None:
        if self._catalogue is not None:
            self._catalogue.close()


# Set in each worker process by ``_start_worker``.
_WORKER: list[_Work] = []


def _start_worker(work: _Work) -> None:
    _WORKER.append(work)


def _place_task(task: tuple[Slice, Path, int]) -> Placed:
    return _WORKER[0].place(task)


def _screen_task(partition: Partition) -> tuple[list[Row | Refused], Gauge]:
    return _WORKER[0].screen(partition)


class _Here:
    """The pool's two maps, in this process."""

    def __init__(self, work: _Work) -> None:
        self.work = work

    def place(self, tasks: list[tuple[Slice, Path, int]]) -> Iterator[Placed]:
        return map(self.work.place, tasks)

    def screen(self, parts: list[Partition]) -> Iterator[tuple[list[Row | Refused], Gauge]]:
        # One patient at a time, so that progress moves patient by patient.
        for part in parts:
            gauge = Gauge()
            for result in screen_partition(
                part, self.work.settings, self.work.limit, self.work.catalogue, gauge
            ):
                yield [result], gauge


class _Workers:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def place(self, tasks: list[tuple[Slice, Path, int]]) -> Iterator[Placed]:
        return iter(self.pool.imap(_place_task, tasks))

    def screen(self, parts: list[Partition]) -> Iterator[tuple[list[Row | Refused], Gauge]]:
        return iter(self.pool.imap(_screen_task, parts))


def screen_export(
    folder: Path,
    settings: Settings,
    write: Callable[[Row], None],
    options: Options = Options(),
    on_total: Progress | None = None,
    on_done: Progress | None = None,
    on_read: ReadProgress | None = None,
) -> Summary:
    """Screen every patient of the export in ``folder``; rows go to ``write``.

    ExportError when the folder is not an export; every bad line or refused patient is counted
    in the summary and passed over.
    """
    files = export_files(folder)
    summary = Summary()
    gauge = Gauge()
    with tempfile.TemporaryDirectory(prefix="ketaclinic-cohort-", dir=options.scratch) as tmp:
        lines, size = _expected(files)
        planned = planned_count(lines, size, options.limit)
        count = min(MAX_PARTITIONS, max(options.min_partitions, planned))
        catalogue = MedicationCatalogue.create(Path(tmp) / "medications.sqlite")
        work = _Work(settings, options.limit, catalogue.path)
        parts = _slices(files, size, options)
        tasks = [(part, Path(tmp) / f"slice-{i:05d}", count) for i, part in enumerate(parts)]
        # spawn, not fork: the parent runs a progress thread, and a forked lock can hang a child.
        context = multiprocessing.get_context("spawn")
        pool = None
        try:
            if options.workers > 1:
                pool = context.Pool(options.workers, initializer=_start_worker, initargs=(work,))
            run: _Here | _Workers = _Here(work) if pool is None else _Workers(pool)
            gathered = gather(
                _reporting(run.place(tasks), parts, on_read), count, summary, catalogue
            )
            catalogue.seal()
            if on_total is not None:
                on_total(gathered.patients)
            for results, seen in run.screen(gathered.partitions):
                gauge.saw(seen.peak_lines, seen.peak_bytes)
                for result in results:
                    summary.add(result)
                    if isinstance(result, Row):
                        write(result)
                if on_done is not None:
                    on_done(len(results))
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            work.close()
            catalogue.close()
    summary.peak_lines, summary.peak_bytes = gauge.peak_lines, gauge.peak_bytes
    return summary
