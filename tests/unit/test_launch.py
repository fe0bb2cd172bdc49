"""The ``ketaclinic`` command's entry point stays light (launch.py says why: spawned workers of
``cohort screen --workers N`` import it again before their first patient)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

# Modules the commands need and a worker does not: each costs a good part of a second.
HEAVY = ("ketaclinic.cli", "sqlalchemy", "fastapi", "alembic", "jinja2")


def test_the_installed_command_enters_through_launch() -> None:
    (script,) = entry_points(group="console_scripts", name="ketaclinic")
    assert script.value == "ketaclinic.launch:run"


def test_importing_the_entry_point_loads_none_of_the_commands() -> None:
    # A fresh interpreter: this test process has imported everything already.
    probe = f"import sys, ketaclinic.launch; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
