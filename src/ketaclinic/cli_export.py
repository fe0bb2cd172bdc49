"""``ketaclinic export PATIENT_ID [--out FILE]``: a patient's record as a FHIR R4 Bundle.

The database is KETACLINIC_DATABASE_URL (default ./ketaclinic.db). The command line acts as the
clinic itself (``Actor.system("cli")``) and, like the web app, audits the export: the audit row
commits with the read, before anything is written out, so no export leaves unrecorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from ketaclinic.services import audit
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import SystemClock
from ketaclinic.services.errors import Forbidden, InvalidInput, NotFound
from ketaclinic.services.export import FHIR_BASE, export_patient
from ketaclinic.store import db

CLI = Actor.system("cli")
# Patient numbers are database rows: 1 to PostgreSQL's INTEGER, as the API's RowId. A larger
# number could not name a patient, and SQLite cannot even be asked for it (OverflowError).
LARGEST_PATIENT_NUMBER = 2**31 - 1


def _refuse(message: str) -> Exception:
    # Imported here: ketaclinic.cli imports this module to register the command.
    from ketaclinic.cli import BadInput

    return BadInput(message)


def _check_writable(out: Path) -> None:
    """Refuse a file that cannot be written before reading (and auditing) anything."""
    if out.is_dir():
        raise _refuse(f"--out {out}: is a directory, not a file")
    if not out.parent.is_dir():
        raise _refuse(f"--out {out}: no such directory {out.parent}")


def export(
    patient_id: Annotated[
        int, typer.Argument(help="the patient's number", min=1, max=LARGEST_PATIENT_NUMBER)
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="write the Bundle here (default: standard output)")
    ] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="the FHIR base the entries' fullUrls start with")
    ] = FHIR_BASE,
) -> None:
    """Export a patient's record (demographics, current records, latest screening) as a FHIR R4
    Bundle in JSON. The export is recorded in the audit log."""
    if out is not None:
        _check_writable(out)
    clock = SystemClock()
    url = db.database_url()
    db.migrate(url)
    engine = db.make_engine(url)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            bundle = export_patient(session, CLI, clock, patient_id, base_url=base_url)
            audit.record(session, CLI, clock, audit.READ, "FHIR export of the record", patient_id)
    except InvalidInput as bad:
        raise _refuse(f"{bad.field}: {bad.message}") from None
    except (NotFound, Forbidden) as refused:
        raise _refuse(str(refused)) from None
    finally:
        engine.dispose()
    data = orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n"
    if out is None:
        typer.get_binary_stream("stdout").write(data)
        return
    try:
        out.write_bytes(data)
    except OSError as error:
        raise _refuse(f"--out {out}: cannot write the file ({error.strerror})") from None
    typer.echo(f"exported patient {patient_id}: {len(bundle['entry'])} resources to {out}")
