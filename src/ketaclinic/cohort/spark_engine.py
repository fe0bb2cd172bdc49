"""The same cohort screening on Apache Spark (PySpark): for exports past one machine.

Each export file is one Spark task that reads it with the same reader as the local engine
(so bad lines are found and named the same way, gzip included); each patient's lines are
grouped and screened by the same function as the local engine, in the order of the export. A
shared Medication resource reaches only the patients naming it: the Medication lines and the
references patients make are sorted together by reference, so that each Medication meets its
patients one at a time and no process holds the export's Medications, nor every patient naming
one. Executors need Python with ketaclinic installed (``pip install 'ketaclinic[spark]'``); with
``local[*]`` they use this interpreter.

PySpark is optional: it is imported when this engine runs, never before.
"""

from __future__ import annotations

import importlib
import os
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
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

# Where a read is in the export: (file index in name order, read number in the file).
Place = tuple[int, int]
# A patient's line as shuffled: its place, its bytes, the Medication it names if any.
PatientLine = tuple[Place, bytes, str | None]
# Sort key of the Medication join: (reference, _MEDICATION or _NAMING, place or patient key).
JoinKey = tuple[str, int, Any]
# Within one reference, its Medication lines sort before the patients naming it.
_MEDICATION, _NAMING = 0, 1


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


def read_placed(entry: tuple[int, str]) -> Iterator[tuple[Any, ...]]:
    """One export file (its index, its path) as tuples, each ending with its ``Place``: Spark
    moves lines in no set order, and a patient's lines and a Medication's duplicates are taken
    in the export's."""
    index, path = entry
    for number, read in enumerate(read_path(path)):
        yield (*read, (index, number))


@dataclass
class Tally:
    """One slice's count of skipped lines, ignored types and patients."""

    skipped: Counter[str] = field(default_factory=Counter)
    shown: list[Skipped] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
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
        elif r[0] == "ignored":
            tally.ignored[r[1]] += 1
    yield tally


def _is_line(r: tuple[Any, ...]) -> bool:
    return bool(r[0] == "line")


def _patient_line(r: tuple[Any, ...]) -> tuple[str, PatientLine]:
    return r[1], (r[5], r[3], r[4])


def join_entries(r: tuple[Any, ...]) -> Iterator[tuple[JoinKey, bytes]]:
    """What a read brings to the Medication join: a Medication line, or a patient naming one."""
    if r[0] == "medication":
        yield (r[1], _MEDICATION, r[3]), r[2]
    elif r[0] == "line" and r[4]:
        yield (r[4], _NAMING, r[1]), b""


def reference_slot(key: JoinKey) -> int:
    # crc32, not hash(): every process must send a reference to the same slot, and Python
    # salts the hash of a string differently in each process.
    return zlib.crc32(key[0].encode())


def pair_medications(
    entries: Iterable[tuple[JoinKey, bytes]],
) -> Iterator[tuple[str, tuple[str, bytes]]]:
    """``(patient key, (reference, Medication line))`` once for each patient naming a Medication
    the export holds. ``entries`` are sorted by ``JoinKey``: a reference's Medication lines in
    export order, then the patients naming it, so only one Medication is held at a time."""
    ref: str | None = None
    raw: bytes | None = None
    last: str | None = None
    for (name, kind, who), line in entries:
        if name != ref:
            ref, raw, last = name, None, None
        if kind == _MEDICATION:
            # The last line of an id wins, as in the local engine's catalogue and in a bundle.
            raw = line
        elif raw is not None and who != last:
            last = who
            yield who, (name, raw)


def screen_group(
    key: str,
    lines: Iterable[PatientLine],
    settings: Settings,
    medications: Iterable[tuple[str, bytes]] = (),
) -> tuple[str, Row | Refused]:
    """Screen one patient: their lines in export order, then the shared Medications they name."""
    ordered = sorted(lines, key=itemgetter(0))
    wanted = {medication for _, _, medication in ordered if medication}
    raws = [raw for _, raw, _ in ordered]
    return key, screen_patient(key, raws, settings, dict(medications), wanted)


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


def _tally(reads: Any, summary: Summary) -> int:
    """Counts what is not a patient's line into ``summary``; the number of patients."""
    patients = 0
    # One slice per file, collected in file order: the skipped lines shown are the first ones.
    for tally in reads.mapPartitions(tally_reads).collect():
        summary.skipped.update(tally.skipped)
        summary.ignored.update(tally.ignored)
        summary.skipped_shown.extend(tally.shown[: KEEP - len(summary.skipped_shown)])
        patients += tally.patients
    return patients


def _medications_by_patient(reads: Any) -> Any:
    """``(patient key, (reference, Medication line))`` for every Medication a patient names."""
    # A join would hold, per reference, every patient naming it: one common drug, all of N.
    return (
        reads.flatMap(join_entries)
        .repartitionAndSortWithinPartitions(partitionFunc=reference_slot)
        .mapPartitions(pair_medications)
    )


def _screened(reads: Any, settings: Settings) -> Any:
    """Each patient's ``(key, Row | Refused)``, in key order."""
    lines = reads.filter(_is_line).map(_patient_line)
    return (
        lines.cogroup(_medications_by_patient(reads))
        .map(lambda kv: screen_group(kv[0], kv[1][0], settings, kv[1][1]))
        .sortByKey()
    )


def screen_with_spark(
    folder: Path,
    settings: Settings,
    write: Callable[[Row], None],
    master: str = DEFAULT_MASTER,
    on_total: Callable[[int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> Summary:
    """Screen every patient of the export on Spark; rows in patient key order."""
    files = list(enumerate(str(p) for p in export_files(folder)))
    summary = Summary()
    session = _session(master)
    try:
        context = session.sparkContext
        # Read once for the tally, the patients' lines and the Medications.
        reads = context.parallelize(files, len(files)).flatMap(read_placed).cache()
        patients = _tally(reads, summary)
        if on_total is not None:
            on_total(patients)
        for _key, result in _screened(reads, settings).toLocalIterator():
            summary.add(result)
            if isinstance(result, Row):
                write(result)
            if on_done is not None:
                on_done(1)
    finally:
        session.stop()
    return summary
