"""Screen a Bulk Data export on this machine, in one process or N, with bounded memory.

Pass 1 (one process) reads every file once, classifies each line and appends it to a hash
partition on disk. Pass 2 groups each partition by patient and screens every patient; with
``workers`` > 1 the partitions are shared out among that many processes, each holding one
partition at a time. Rows come out partition by partition, patients in key order within one,
so the same export and settings give the same file whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ketaclinic.cohort.export_files import (
    Catalogue,
    Ignored,
    Line,
    Skipped,
    export_files,
    read_file,
)
from ketaclinic.cohort.partitions import (
    MAX_PARTITIONS,
    Gauge,
    Limit,
    Partition,
    Partitioner,
    groups,
    planned_count,
)
from ketaclinic.cohort.patient_rows import Refused, Row, Settings, screen_patient
from ketaclinic.cohort.summary import Summary

# Guesses used only to choose the number of partitions (a wrong guess costs a re-split).
BYTES_PER_LINE = 600
GZIP_RATIO = 8

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Options:
    workers: int = 1
    limit: Limit = field(default_factory=Limit)
    scratch: Path | None = None


def _expected(files: list[Path]) -> tuple[int, int]:
    size = sum(p.stat().st_size * (GZIP_RATIO if p.name.endswith(".gz") else 1) for p in files)
    return size // BYTES_PER_LINE, size


def _partition(
    files: list[Path], into: Partitioner, summary: Summary, catalogue: dict[str, bytes]
) -> int:
    """Pass 1: every line to its partition; the number of Patient lines."""
    patients = 0
    for path in files:
        for read in read_file(path):
            if isinstance(read, Line):
                into.add_line(read)
                patients += read.kind == "Patient"
            elif isinstance(read, Skipped):
                summary.skip(read)
            elif isinstance(read, Catalogue):
                catalogue[read.ref] = read.raw
            elif isinstance(read, Ignored):
                summary.ignored[read.kind] += 1
    return patients


def screen_partition(
    partition: Partition,
    settings: Settings,
    limit: Limit,
    catalogue: Mapping[str, bytes],
    gauge: Gauge,
) -> Iterator[Row | Refused]:
    for group in groups(partition, limit, gauge):
        yield screen_patient(group.key, group.lines, settings, catalogue, group.medications)


# Set in each worker process by ``_start_worker``: sent once, not with every partition.
_WORKER: dict[str, object] = {}


def _start_worker(settings: Settings, limit: Limit, catalogue: Mapping[str, bytes]) -> None:
    _WORKER.update(settings=settings, limit=limit, catalogue=catalogue)


def _worker_task(partition: Partition) -> tuple[list[Row | Refused], Gauge]:
    settings = _WORKER["settings"]
    limit = _WORKER["limit"]
    catalogue = _WORKER["catalogue"]
    assert isinstance(settings, Settings) and isinstance(limit, Limit)
    assert isinstance(catalogue, dict)
    gauge = Gauge()
    return list(screen_partition(partition, settings, limit, catalogue, gauge)), gauge


def _screen_here(
    parts: list[Partition],
    settings: Settings,
    options: Options,
    catalogue: Mapping[str, bytes],
    gauge: Gauge,
) -> Iterator[list[Row | Refused]]:
    for part in parts:
        for result in screen_partition(part, settings, options.limit, catalogue, gauge):
            yield [result]


def _screen_in_workers(
    parts: list[Partition],
    settings: Settings,
    options: Options,
    catalogue: Mapping[str, bytes],
    gauge: Gauge,
) -> Iterator[list[Row | Refused]]:
    # spawn, not fork: the parent runs a progress thread, and a forked lock can hang a child.
    context = multiprocessing.get_context("spawn")
    with context.Pool(
        options.workers,
        initializer=_start_worker,
        initargs=(settings, options.limit, dict(catalogue)),
    ) as pool:
        for results, seen in pool.imap(_worker_task, parts):
            gauge.saw(seen.peak_lines, seen.peak_bytes)
            yield results


def screen_export(
    folder: Path,
    settings: Settings,
    write: Callable[[Row], None],
    options: Options = Options(),
    on_total: Progress | None = None,
    on_done: Progress | None = None,
) -> Summary:
    """Screen every patient of the export in ``folder``; rows go to ``write``.

    ExportError when the folder is not an export; every bad line or refused patient is counted
    in the summary and passed over.
    """
    files = export_files(folder)
    summary = Summary()
    catalogue: dict[str, bytes] = {}
    gauge = Gauge()
    with tempfile.TemporaryDirectory(prefix="ketaclinic-cohort-", dir=options.scratch) as tmp:
        lines, size = _expected(files)
        count = planned_count(lines, size, options.limit)
        if options.workers > 1:
            # Several partitions per worker, so that the work is shared out evenly.
            count = min(MAX_PARTITIONS, max(count, 4 * options.workers))
        into = Partitioner(Path(tmp) / "p", count)
        patients = _partition(files, into, summary, catalogue)
        parts = into.close()
        if on_total is not None:
            on_total(patients)
        screen = _screen_in_workers if options.workers > 1 else _screen_here
        for results in screen(parts, settings, options, catalogue, gauge):
            for result in results:
                summary.add(result)
                if isinstance(result, Row):
                    write(result)
            if on_done is not None:
                on_done(len(results))
    summary.peak_lines, summary.peak_bytes = gauge.peak_lines, gauge.peak_bytes
    return summary
