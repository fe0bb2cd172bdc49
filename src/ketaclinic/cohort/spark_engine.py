"""The same cohort screening on Apache Spark (PySpark): for exports past one machine.

Each export file is one Spark task that reads it with the same reader as the local engine
(so bad lines are found and named the same way, gzip included); lines are grouped by patient
with ``groupByKey`` and each group is screened by the same function as the local engine. The
shared Medication resources are broadcast. Executors need Python with ketaclinic installed
(``pip install 'ketaclinic[spark]'``); with ``local[*]`` they use this interpreter.

PySpark is optional: it is imported when this engine runs, never before.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketaclinic.cohort.export_files import (
    Catalogue,
    Ignored,
    Line,
    Skipped,
    export_files,
    read_file,
)
from ketaclinic.cohort.patient_rows import Refused, Row, Settings, screen_patient
from ketaclinic.cohort.summary import KEEP, Summary, reason_kind

DEFAULT_MASTER = "local[*]"


class SparkUnavailable(RuntimeError):
    """PySpark or Java is missing, or Spark could not start."""


def _as_tuple(read: Line | Skipped | Catalogue | Ignored) -> tuple[Any, ...]:
    if isinstance(read, Line):
        return ("line", read.key, read.kind, read.raw, read.medication)
    if isinstance(read, Skipped):
        return ("skip", read.file, read.line, read.reason)
    if isinstance(read, Catalogue):
        return ("medication", read.ref, read.raw)
    return ("ignored", read.kind)


def read_path(path: str) -> Iterator[tuple[Any, ...]]:
    """One export file as plain tuples (cheap to move between Spark's processes)."""
    for read in read_file(Path(path)):
        yield _as_tuple(read)


@dataclass
class Tally:
    """One slice's count of skipped lines, ignored types, shared Medications and patients."""

    skipped: Counter[str] = field(default_factory=Counter)
    shown: list[Skipped] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    catalogue: dict[str, bytes] = field(default_factory=dict)
    patients: int = 0


def tally_reads(reads: Iterable[tuple[Any, ...]]) -> Iterator[Tally]:
    tally = Tally()
    for r in reads:
        if r[0] == "line":
            tally.patients += r[2] == "Patient"
        elif r[0] == "skip":
            tally.skipped[reason_kind(r[3])] += 1
            if len(tally.shown) < KEEP:
                tally.shown.append(Skipped(r[1], r[2], r[3]))
        elif r[0] == "medication":
            tally.catalogue[r[1]] = r[2]
        else:
            tally.ignored[r[1]] += 1
    yield tally


def screen_group(
    key: str, values: Iterable[tuple[bytes, str | None]], settings: Settings, catalogue: Any
) -> tuple[str, Row | Refused]:
    lines: list[bytes] = []
    wanted: set[str] = set()
    for raw, medication in values:
        lines.append(raw)
        if medication:
            wanted.add(medication)
    return key, screen_patient(key, lines, settings, catalogue.value, wanted)


def _session(master: str) -> Any:
    try:
        sql = importlib.import_module("pyspark.sql")
    except ImportError:
        raise SparkUnavailable(
            "the spark engine needs PySpark: pip install 'ketaclinic[spark]'"
        ) from None
    # Executors of a local master must run this interpreter, which has ketaclinic.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        session = (
            sql.SparkSession.builder.master(master)
            .appName("ketaclinic cohort screen")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
    except Exception as error:  # Py4J and PySpark raise several kinds; all mean "no Spark".
        raise SparkUnavailable(f"Spark could not start on {master!r}: {error}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def screen_with_spark(
    folder: Path,
    settings: Settings,
    write: Callable[[Row], None],
    master: str = DEFAULT_MASTER,
    on_total: Callable[[int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> Summary:
    """Screen every patient of the export on Spark; rows in patient key order."""
    files = export_files(folder)
    summary = Summary()
    session = _session(master)
    try:
        context = session.sparkContext
        reads = context.parallelize([str(p) for p in files], len(files)).flatMap(read_path)
        reads = reads.cache()
        # One job tallies what is not a patient's line; one slice per file, in file order.
        catalogue: dict[str, bytes] = {}
        patients = 0
        for tally in reads.mapPartitions(tally_reads).collect():
            summary.skipped.update(tally.skipped)
            summary.ignored.update(tally.ignored)
            summary.skipped_shown.extend(tally.shown[: KEEP - len(summary.skipped_shown)])
            catalogue.update(tally.catalogue)
            patients += tally.patients
        if on_total is not None:
            on_total(patients)
        shared = context.broadcast(catalogue)
        lines = reads.filter(lambda r: r[0] == "line")
        screened = (
            lines.map(lambda r: (r[1], (r[3], r[4])))
            .groupByKey()
            .map(lambda kv: screen_group(kv[0], kv[1], settings, shared))
            .sortByKey()
        )
        for _key, result in screened.toLocalIterator():
            summary.add(result)
            if isinstance(result, Row):
                write(result)
            if on_done is not None:
                on_done(1)
    finally:
        session.stop()
    return summary
