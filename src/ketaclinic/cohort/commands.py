"""Command line: ``ketaclinic synth`` and ``ketaclinic cohort screen``.

Registered in ``ketaclinic.cli``; bad input is raised as ``ketaclinic.cli.BadInput`` (exit 2),
imported when raised because ``ketaclinic.cli`` imports this module.
"""

from __future__ import annotations

import errno
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ketaclinic.cohort import local_engine, row_files, spark_engine
from ketaclinic.cohort import synth as synth_module
from ketaclinic.cohort.export_files import ExportError, export_files_in, read_as_export
from ketaclinic.cohort.partitions import Limit
from ketaclinic.cohort.patient_rows import Settings
from ketaclinic.cohort.summary import Summary

cohort_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Screen a population (FHIR Bulk Data)."
)
ROUTES = ("iv", "esketamine", "im", "oral")
ENGINES = ("local", "spark")
TOP_FINDINGS = 10


def _bad(message: str) -> Exception:
    from ketaclinic.cli import BadInput

    return BadInput(message)


def _day(value: str | None, default: date) -> date:
    from ketaclinic.cli import _as_of

    return _as_of(value, default)


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "patients")
        return Text("" if speed is None else f"{speed:,.0f} {unit}/s")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
    )


@cohort_app.command("screen")
def screen_cohort(
    folder: Annotated[Path, typer.Argument(help="folder of a FHIR Bulk Data export (NDJSON)")],
    out: Annotated[Path, typer.Option(help="result file: .csv, .parquet or .ndjson")],
    route: Annotated[str, typer.Option(help="iv, esketamine, im or oral")] = "iv",
    as_of: Annotated[str | None, typer.Option("--as-of", help="screening date YYYY-MM-DD")] = None,
    policy: Annotated[Path | None, typer.Option(help="clinic policy TOML")] = None,
    workers: Annotated[int, typer.Option(help="processes screening at once (local)")] = 1,
    engine: Annotated[str, typer.Option(help="local or spark")] = "local",
    master: Annotated[str, typer.Option(help="Spark master URL")] = spark_engine.DEFAULT_MASTER,
    memory_mb: Annotated[
        int, typer.Option("--memory-mb", help="memory for grouping, per process (local)")
    ] = 512,
    scratch: Annotated[
        Path | None,
        typer.Option(
            help="folder for the temporary partitions, which need up to the export's size "
            "unzipped (local; default: the system's temporary folder)"
        ),
    ] = None,
) -> None:
    """Screen every patient of an export; one row per patient, and a summary."""
    from ketaclinic.cli import _policy

    if route not in ROUTES:
        raise _bad(f"--route: {route!r} is not one of {', '.join(ROUTES)}")
    if engine not in ENGINES:
        raise _bad(f"--engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if workers < 1:
        raise _bad(f"--workers: {workers} is not a number of processes (1 or more)")
    if memory_mb < 16:
        raise _bad(f"--memory-mb: {memory_mb} is too little (at least 16)")
    try:
        row_files.format_of(out)
    except ValueError as error:
        raise _bad(f"--out {error}") from None
    if read_as_export(out, folder):
        raise _bad(f"--out {out}: it is in the export's folder and would be read as part of it")
    settings = Settings(route, _day(as_of, date.today()), _policy(policy))
    # Python holds a line in about three times its size; the rest is for the engine.
    budget = memory_mb * 2**20 // 3
    if scratch is not None and not scratch.is_dir():
        raise _bad(f"--scratch: {scratch} is not a folder")
    limit = Limit(max_lines=budget // 64, max_bytes=budget)
    options = local_engine.Options(workers, limit, scratch)
    started = time.monotonic()
    console = Console(stderr=True)
    try:
        with row_files.row_file(out) as write, _progress(console) as progress:
            # Reading is counted in MB of the export (its size on disk), screening in patients.
            task = progress.add_task("reading", total=None, unit="MB")

            def on_read(done: int, total: int) -> None:
                progress.update(task, completed=done / 2**20, total=max(1, total) / 2**20)

            def on_total(n: int) -> None:
                progress.reset(task, total=n, description="screening", unit="patients")

            def on_done(n: int) -> None:
                progress.advance(task, n)

            if engine == "spark":
                summary = spark_engine.screen_with_spark(
                    folder, settings, write, master, on_total, on_done
                )
            else:
                summary = local_engine.screen_export(
                    folder, settings, write, options, on_total, on_done, on_read
                )
    except ExportError as error:
        raise _bad(str(error)) from None
    except spark_engine.SparkUnavailable as error:
        raise _bad(f"--engine spark: {error}") from None
    except OSError as error:
        hint = ""
        if error.errno == errno.ENOSPC:
            hint = " (the partitions need up to the export's size: another folder with --scratch?)"
        raise _bad(f"{error.filename or out}: {error.strerror or error}{hint}") from None
    print_summary(summary, out, time.monotonic() - started, Console(highlight=False))


def print_summary(summary: Summary, out: Path, seconds: float, console: Console) -> None:
    """Counts by decision, the most frequent findings, and what was passed over, and why."""
    rate = summary.rows / seconds if seconds > 0 else 0.0
    console.print(f"{summary.rows} patients screened in {seconds:.1f} s ({rate:,.0f}/s) -> {out}")
    decisions = Table("decision", "patients", title="Decisions", title_justify="left")
    for decision, count in summary.decisions.most_common():
        decisions.add_row(decision, str(count))
    console.print(decisions)
    findings = Table("finding", "patients", title="Most frequent findings", title_justify="left")
    for finding, count in summary.findings.most_common(TOP_FINDINGS):
        findings.add_row(finding, str(count))
    console.print(findings)
    console.print(f"Lines skipped: {summary.lines_skipped}")
    for reason, count in summary.skipped.most_common():
        console.print(f"  {count} x {reason}", markup=False)
    for skipped in summary.skipped_shown:
        console.print(f"  {skipped}", markup=False)
    _more(console, summary.lines_skipped - len(summary.skipped_shown))
    console.print(f"Patients skipped (bundle refused): {summary.patients_refused}")
    for reason, count in summary.refused.most_common():
        console.print(f"  {count} x {reason}", markup=False)
    for refused in summary.refused_shown:
        console.print(f"  {refused.patient}: {refused.reason}", markup=False)
    _more(console, summary.patients_refused - len(summary.refused_shown))
    if summary.ignored:
        ignored = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.ignored.items()))
        console.print(f"Resources of types the screening does not read: {ignored}")
    if summary.peak_lines:
        console.print(f"Most lines held at once while grouping: {summary.peak_lines}")


def _more(console: Console, hidden: int) -> None:
    if hidden > 0:
        console.print(f"  ... and {hidden} more")


def _room_for(out: Path, needed: int, replaced: list[Path]) -> None:
    """Refuse a population the disk cannot hold, before writing any of it."""
    where = out
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free + sum(p.stat().st_size for p in replaced)
    except OSError:
        return  # Cannot be measured: the writing itself will say what is wrong.
    if needed > free:
        raise _bad(
            f"--patients: about {needed / 1e9:,.1f} GB would be written into {out}, "
            f"and {free / 1e9:,.1f} GB is free there"
        )


def synth(
    out: Annotated[Path, typer.Option(help="folder to write the NDJSON files into")],
    patients: Annotated[int, typer.Option(help="how many patients")] = 1000,
    seed: Annotated[int, typer.Option(help="the same seed gives the same files")] = 0,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="the date the records run up to")
    ] = None,
    gzip: Annotated[bool, typer.Option("--gzip", help="write .ndjson.gz")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="remove the NDJSON files already in --out first")
    ] = False,
) -> None:
    """Write a synthetic population as FHIR Bulk Data NDJSON, one file per resource type."""
    if patients < 0:
        raise _bad(f"--patients: {patients} is not a number of patients")
    day = _day(as_of, synth_module.DEFAULT_AS_OF)
    # Written over an earlier export, the files it has and this one has not (its .gz files, say)
    # would be read with the new ones as one population.
    earlier = export_files_in(out) if out.is_dir() else []
    if earlier and not replace:
        raise _bad(
            f"--out {out} already holds an export ({len(earlier)} files, {earlier[0].name} "
            "first): write into an empty folder, or add --replace to remove those files first"
        )
    console = Console(stderr=True)
    _room_for(out, synth_module.bytes_needed(patients, gzip), earlier)
    try:
        for path in earlier:
            path.unlink()
        with _progress(console) as progress:
            task = progress.add_task("writing", total=patients)
            counts = synth_module.write_population(
                out, patients, seed, day, gzip, lambda n: progress.update(task, completed=n)
            )
    except OSError as error:
        raise _bad(f"{error.filename or out}: {error.strerror or error}") from None
    total = sum(counts.values())
    shown = ", ".join(f"{kind} {n}" for kind, n in counts.items())
    Console(highlight=False).print(f"{patients} patients, {total} resources -> {out}: {shown}")
