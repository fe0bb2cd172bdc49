"""The ``ketaclinic`` command's entry point, apart from the commands themselves.

A worker process started with "spawn" (``cohort screen --workers N``) first runs the command's
script again to set up its ``__main__``, and that script imports its entry point. Importing the
commands takes seconds (the web app, the database, migrations), so each worker would pay that
before its first patient: with two workers the run was slower than with one. This module stays
light and loads the commands only when the command runs.
"""

from __future__ import annotations


def run() -> None:
    from ketaclinic.cli import run as run_command

    run_command()
