"""The cohort's result file: one row per patient, as CSV, Parquet or NDJSON by its extension.

Rows are written as they come (Parquet in row groups), so the file does not wait in memory.
They go to a hidden file beside the result, which takes the result's name only once every row
is written: a run that fails or is stopped leaves no half file, and the result of an earlier
run with the same name stays as it was. Like that hidden file, the result can be read by its
owner only: it names patients and what was found in their records.
"""

from __future__ import annotations

import csv
import importlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import orjson

from ketaclinic.cohort.patient_rows import COLUMNS, Row

FORMATS = {".csv": "csv", ".parquet": "parquet", ".ndjson": "ndjson", ".jsonl": "ndjson"}
PARQUET_ROW_GROUP = 50_000


class RowSink(Protocol):
    def __call__(self, row: Row) -> None: ...


def format_of(path: Path) -> str:
    """The format named by the file's extension; ValueError for any other."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise ValueError(
            f"{path}: the extension must be one of {', '.join(FORMATS)} (it names the format)"
        )
    return found


@contextmanager
def _csv(path: Path) -> Iterator[RowSink]:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)

        def write(row: Row) -> None:
            out.writerow((row.patient, row.decision, row.indications, row.findings))

        yield write


@contextmanager
def _ndjson(path: Path) -> Iterator[RowSink]:
    with path.open("wb") as handle:

        def write(row: Row) -> None:
            handle.write(orjson.dumps(row.as_dict()) + b"\n")

        yield write


@contextmanager
def _parquet(path: Path) -> Iterator[RowSink]:
    # pyarrow has no type information: it is used through Any.
    pa: Any = importlib.import_module("pyarrow")
    pq: Any = importlib.import_module("pyarrow.parquet")
    schema = pa.schema([(name, pa.string()) for name in COLUMNS])
    pending: dict[str, list[Any]] = {name: [] for name in COLUMNS}

    with pq.ParquetWriter(path, schema) as out:

        def flush() -> None:
            if pending["patient"]:
                out.write_table(pa.table(pending, schema=schema))
                for column in pending.values():
                    column.clear()

        def write(row: Row) -> None:
            for name, value in row.as_dict().items():
                pending[name].append(value)
            if len(pending["patient"]) >= PARQUET_ROW_GROUP:
                flush()

        yield write
        flush()


@contextmanager
def row_file(path: Path) -> Iterator[RowSink]:
    """A writer of rows into ``path``, in the format its extension names; ``path`` is written
    when the block ends without an error, and left as it was otherwise."""
    kind = format_of(path)
    opener = {"csv": _csv, "ndjson": _ndjson, "parquet": _parquet}[kind]
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as error:
        # Named by the result asked for, not by the hidden file's made-up name.
        raise OSError(error.errno, error.strerror, str(path)) from None
    os.close(handle)
    partial = Path(name)
    try:
        with opener(partial) as write:
            yield write
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a result file (for tests and small files: it reads the whole file)."""
    kind = format_of(path)
    if kind == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    if kind == "ndjson":
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    pq: Any = importlib.import_module("pyarrow.parquet")
    table = pq.read_table(path)
    return [{k: "" if v is None else str(v) for k, v in r.items()} for r in table.to_pylist()]
