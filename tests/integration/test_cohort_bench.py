"""bench/cohort.py works: a small run prints one row per population size and the fhirpathpy
comparison. Never a timing: the figures are the bench's to print, not the test's to judge."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, "bench/cohort.py"]
# patients, lines, then the figures: one row per size.
ROW = re.compile(r"^\s+(\d+)\s+(\d+)\s+[\d,]+\s+[\d,]+\s", re.M)

# Each size runs in its own process that imports the engine and writes an export.
pytestmark = pytest.mark.timeout(300)


def test_a_small_run_prints_every_size_and_the_baseline() -> None:
    result = subprocess.run(
        [*BENCH, "--patients", "30", "60", "--workers", "2", "--sample", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sizes = [int(m.group(1)) for m in ROW.finditer(result.stdout)]
    assert sizes == [30, 60]
    assert "sample of 20 patients" in result.stdout
    assert "fhirpathpy baseline" in result.stdout
    assert "screening alone" in result.stdout
