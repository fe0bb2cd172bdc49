"""Command line: ``ketaclinic screen``, ``ketaclinic demo``, ``ketaclinic policy``.

Exit status: 0 whatever the decision; 2 for the bad inputs the contract names,
with one line on stderr; 1 for anything unexpected (a defect, logged with its
traceback to a file named in the message); 130 when stopped by Ctrl-C.
"""

from __future__ import annotations

import re
import sys
import tempfile
import tomllib
import traceback
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from ketaclinic import policy as policy_module
from ketaclinic import screening_text
from ketaclinic.cli_backup import backup, restore
from ketaclinic.cli_clinic import demo, serve
from ketaclinic.cli_export import export
from ketaclinic.cli_home import home_app
from ketaclinic.cli_ledger import ledger_app
from ketaclinic.cli_plans import plan_app
from ketaclinic.cli_rems import rems_app
from ketaclinic.cli_sessions import session_app
from ketaclinic.cli_users import audit_log, user_app
from ketaclinic.cohort.commands import cohort_app, synth
from ketaclinic.fhir.bundle import BundleError
from ketaclinic.secret_settings import SecretUnreadable
from ketaclinic.services.screening import screen_bundle

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
app.add_typer(cohort_app, name="cohort")
app.command()(synth)
app.add_typer(user_app, name="user")
app.add_typer(ledger_app, name="ledger")
app.add_typer(session_app, name="session")
app.add_typer(rems_app, name="rems")
app.add_typer(home_app, name="home")
app.add_typer(plan_app, name="plan")
app.command(name="audit")(audit_log)
app.command()(demo)
app.command()(serve)
app.command()(export)
app.command()(backup)
app.command()(restore)
EXAMPLES_AS_OF = date(2026, 11, 1)
DATE_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")


# The exit status of a command stopped by Ctrl-C, as shells report it (128 + SIGINT).
INTERRUPTED = 130


class BadInput(Exception):
    """A bad input or argument the contract names: exit 2 with one line."""


def _as_of(value: str | None, today: date) -> date:
    if value is None:
        return today
    try:
        if not DATE_FORM.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"--as-of: {value!r} is not a date in the form YYYY-MM-DD") from None


def _policy(path: Path | None) -> policy_module.Policy:
    if path is None:
        return policy_module.DEFAULT
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"--policy {path}: cannot read the file ({exc.__class__.__name__})"
        ) from None
    try:
        return policy_module.parse(text, name=path.stem)
    except policy_module.PolicyError as exc:
        raise BadInput(f"--policy {path}: {exc}") from None


def _bundle_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a bundle file") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the file ({exc.strerror})") from None


def _print(result: dict[str, object], fmt: str) -> None:
    if fmt == "json":
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        screening_text.render(result, Console(highlight=False, soft_wrap=True))


@app.command()
def screen(
    bundle: Annotated[Path, typer.Argument(help="FHIR R4 Bundle (JSON) of one patient")],
    route: Annotated[str, typer.Option(help="iv, esketamine, im or oral")] = "iv",
    as_of: Annotated[str | None, typer.Option("--as-of", help="screening date YYYY-MM-DD")] = None,
    policy: Annotated[Path | None, typer.Option(help="clinic policy TOML")] = None,
    format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Screen one patient for ketamine or esketamine therapy."""
    if route not in ("iv", "esketamine", "im", "oral"):
        raise BadInput(f"--route: {route!r} is not one of iv, esketamine, im, oral")
    if format not in ("text", "json"):
        raise BadInput(f"--format: {format!r} is not one of text, json")
    day = _as_of(as_of, date.today())
    chosen = _policy(policy)
    data = _bundle_bytes(bundle)
    try:
        result = screen_bundle(data, route=route, as_of=day, policy=chosen)
    except BundleError as exc:
        raise BadInput(f"{bundle}: {exc}") from None
    _print(result, format)


def _demo_plan(folder: Path) -> tuple[date, list[tuple[Path, str]]]:
    """The examples to screen: demo.toml's list when present, else every bundle on IV."""
    manifest = folder / "demo.toml"
    if not manifest.exists():
        return EXAMPLES_AS_OF, [(path, "iv") for path in sorted(folder.glob("*.json"))]
    try:
        plan = tomllib.loads(manifest.read_text(encoding="utf-8"))
        day = date.fromisoformat(plan["as_of"])
        return day, [(folder / row["file"], row["route"]) for row in plan["screen"]]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{manifest}: not a valid demo plan ({exc})") from None


@app.command()
def examples(
    examples: Annotated[Path, typer.Argument(help="folder of example bundles")] = Path("examples"),
) -> None:
    """Screen the example bundles, each on its route as of a pinned date; print each decision."""
    day, plan = _demo_plan(examples)
    if not plan:
        raise BadInput(f"{examples}: no example bundles (*.json) found")
    console = Console(highlight=False, soft_wrap=True)
    for path, route in plan:
        console.rule(f"{path.name}  (--route {route} --as-of {day})")
        try:
            result = screen_bundle(_bundle_bytes(path), route=route, as_of=day)
        except (BundleError, ValueError) as exc:
            raise BadInput(f"{path}: {exc}") from None
        screening_text.render(result, console)
        console.print()


@app.command(name="schema")
def show_schema() -> None:
    """Print the JSON Schema of the screening output (--format json)."""
    schema = resources.files("ketaclinic.schema").joinpath("screening.schema.json")
    sys.stdout.write(schema.read_text(encoding="utf-8"))


@app.command(name="policy")
def show_policy() -> None:
    """List every threshold and window with its default, allowed range and source."""
    console = Console(highlight=False, soft_wrap=True)
    for key, default, low, high, source in policy_module.describe():
        console.print(f"{key} = {default}  (allowed {low}-{high}; {source})", markup=False)


def _log_defect() -> Path:
    handle, name = tempfile.mkstemp(prefix="ketaclinic-error-", suffix=".log")
    with open(handle, "w", encoding="utf-8") as log:
        log.write(traceback.format_exc())
    return Path(name)


def _is_usage_error(exc: Exception) -> bool:
    """Typer's usage errors (unknown option, missing argument) carry exit code 2."""
    return getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message")


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps bad input to exit 2 and defects to exit 1, one line each on stderr."""
    try:
        # Typer answers Ctrl-C with exit code 130 (128 + SIGINT), returned, not raised, here.
        ended = app(args=argv, standalone_mode=False)
    except (BadInput, SecretUnreadable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if _is_usage_error(exc):
            message = exc.format_message().strip().splitlines()  # type: ignore[attr-defined]
            print(f"error: {' '.join(message) or 'bad arguments'}", file=sys.stderr)
            return 2
        # A defect: say so, and keep the traceback for the developers.
        log = _log_defect()
        print(
            f"internal error (a defect in ketaclinic, not your input): "
            f"{exc.__class__.__name__}: {exc}; traceback in {log}",
            file=sys.stderr,
        )
        return 1
    if ended == INTERRUPTED:
        # Said on its own line: a progress bar may have been drawn on the last one.
        print("\ninterrupted (Ctrl-C): the command did not finish", file=sys.stderr)
        return INTERRUPTED
    return 0


def run() -> None:
    sys.exit(main())
