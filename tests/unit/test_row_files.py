"""The cohort's result file takes its name only once every row is written (row_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketaclinic.cohort.patient_rows import Row
from ketaclinic.cohort.row_files import read_rows, row_file

ROW = Row("Patient/a", "eligible", "mdd", "note:off_label")


class Stopped(Exception):
    """Stands for whatever ends a run early (a crash, Ctrl-C)."""


@pytest.mark.parametrize("name", ["rows.csv", "rows.ndjson", "rows.parquet"])
def test_a_complete_run_writes_the_rows(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    with row_file(out) as write:
        write(ROW)
    assert read_rows(out) == [
        {"patient": "Patient/a", "decision": "eligible", "indications": "mdd",
         "findings": "note:off_label"}
    ]  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("name", ["rows.csv", "rows.ndjson", "rows.parquet"])
def test_a_run_stopped_midway_keeps_the_earlier_file_and_leaves_nothing(
    tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    out.write_bytes(b"an earlier result")
    with pytest.raises(Stopped), row_file(out) as write:
        write(ROW)
        raise Stopped
    assert out.read_bytes() == b"an earlier result"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_run_stopped_midway_with_no_earlier_file_leaves_none(tmp_path: Path) -> None:
    with pytest.raises(Stopped), row_file(tmp_path / "rows.csv") as write:
        write(ROW)
        raise Stopped
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_does_not_exist_is_named_as_asked(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "rows.csv"
    with pytest.raises(FileNotFoundError) as raised, row_file(out):
        pass
    assert raised.value.filename == str(out)
