"""bench/load.py works: its smoke run serves each target with real uvicorn, sends every kind of
request of the clinic mix and reports no errors. Never a timing: the figures are the bench's to
print, not the test's to judge."""

from __future__ import annotations

import glob
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
HEADER = re.compile(r"^\s+clients\s+req/s\s+p50 ms\s+p99 ms\s+errors\b", re.M)
# A step's row: clients, requests/s, p50, p99, then the errors column.
ROW = re.compile(r"^\s+(\d+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(\d+)\s", re.M)

# Each run starts servers that import the whole app, migrates and seeds a database: on a busy
# two-core machine that takes longer than the suite's default limit.
pytestmark = pytest.mark.timeout(300)


def smoke(targets: str) -> str:
    result = subprocess.run(
        [sys.executable, "bench/load.py", "--smoke", "--targets", targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def check(out: str, targets: list[str]) -> None:
    # One table per target, each of one step at 2 clients with no errors.
    for target in targets:
        assert re.search(rf"^{target} \(", out, re.M), out
    assert len(HEADER.findall(out)) == len(targets), out
    rows = ROW.findall(out)
    assert rows == [("2", "0")] * len(targets), out
    assert out.count("  errors: none") == len(targets), out
    assert "Highest sustained requests/s with p99 <= 200 ms and no errors:" in out


def test_smoke_run_on_sqlite_beside_the_baseline() -> None:
    check(smoke("baseline,sqlite"), ["baseline", "sqlite"])


def test_smoke_run_on_postgresql_beside_the_baseline() -> None:
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        message = "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    check(smoke("baseline,postgresql"), ["baseline", "postgresql"])
