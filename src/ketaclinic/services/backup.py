"""Encrypted backups of the clinic's database, taken online, and their restore into an empty one.

A backup is a logical copy of every table (in foreign-key order, rows in key order) from one
consistent snapshot of the running database:

- SQLite: the sqlite3 backup API copies the live database, in one step, into memory (WAL readers
  never block writers); the tables are read from that copy. No unencrypted copy touches disk.
- PostgreSQL: one REPEATABLE READ, READ ONLY transaction (the snapshot pg_dump itself uses). We
  read the tables rather than run pg_dump: pg_dump must match the server's major version and is
  not installed beside the app, its archive restores only into PostgreSQL, and restoring it into
  the migrated schema takes --data-only with the triggers in the way. A table-by-table copy needs
  nothing but the app's own connection and restores into either kind of database.

The file (format version 1)::

    MAGIC  u32 header length  header (JSON)  { u32 length  sealed chunk }...

The header (kind, time, schema revision, rows per table, a salt and a key check) is readable
without the key and authenticated with it: it is the associated data of every chunk. The payload
(JSON lines: a table's name and columns, then its rows) is zlib-compressed, cut into chunks of at
most 1 MiB and sealed with AES-256-GCM under a key derived per file (HKDF-SHA256, random salt)
from KETACLINIC_BACKUP_KEY (or the file KETACLINIC_BACKUP_KEY_FILE names). Each chunk's nonce
is its number and a last-chunk flag (the STREAM construction, Hoang et al., CRYPTO 2015), so a
reordered, dropped or cut-off chunk fails.

Restore reads and authenticates the whole file before it touches the target, then writes every
row in one transaction into a database with no rows of its own (the rows its migrations create
excepted); rows are only inserted, which the append-only triggers allow.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from alembic import command
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    create_engine,
    func,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from ketaclinic.secret_settings import FILE_SUFFIX, SecretUnreadable, secret_setting
from ketaclinic.services import audit
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.store import db

KEY_VARIABLE = "KETACLINIC_BACKUP_KEY"
MAGIC = b"KETACLINIC-BACKUP\x00"
FORMAT_VERSION = 1
KINDS = ("sqlite", "postgresql")
CHUNK = 1 << 20
BATCH = 1000
_TAG = 16
_LENGTH = struct.Struct(">I")
_MAX_HEADER = 1 << 20
_VERSIONS = "alembic_version"
BACKUP_ACTOR = Actor.system("backup")


class BackupRefused(Exception):
    """A backup that cannot be made, read or restored; the message says why (exit status 2)."""


# ---- the key ---------------------------------------------------------------------------------


def key_from_environment(environ: Mapping[str, str] | None = None) -> bytes:
    """The 32-byte key (standard base64) in KETACLINIC_BACKUP_KEY, or in the file named by
    KETACLINIC_BACKUP_KEY_FILE (secret_settings), or a refusal saying why."""
    hint = "a random 32-byte key in base64, made with e.g. `openssl rand -base64 32`"
    try:
        found = secret_setting(KEY_VARIABLE, environ)
    except SecretUnreadable as exc:
        raise BackupRefused(str(exc)) from None
    value = found.value.strip() if found is not None else ""
    if found is None or not value:
        raise BackupRefused(
            f"{KEY_VARIABLE} is not set (nor {KEY_VARIABLE}{FILE_SUFFIX}): it must hold {hint}"
        )
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BackupRefused(f"{found.origin} is not valid base64: it must hold {hint}") from None
    if len(key) != 32:
        raise BackupRefused(
            f"{found.origin} decodes to {len(key)} bytes, not 32: it must hold {hint}"
        )
    return key


def _derived(key: bytes, salt: bytes | None, purpose: bytes, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, b"ketaclinic backup v1: " + purpose).derive(key)


def key_check(key: bytes) -> str:
    """Names the key without revealing it, so a wrong key is told apart from a damaged file."""
    return _derived(key, None, b"key check", 16).hex()


# ---- the header --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    version: int
    database: str  # the kind backed up: sqlite or postgresql
    created_at: datetime
    schema_revision: str  # the Alembic revision of the tables backed up
    tables: dict[str, int]  # rows per table, in the order they are restored
    salt: bytes
    key_check: str

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def encoded(self) -> bytes:
        return json.dumps(
            {
                "format": "ketaclinic-backup",
                "version": self.version,
                "database": self.database,
                "created_at": self.created_at.isoformat(),
                "schema_revision": self.schema_revision,
                "tables": self.tables,
                "salt": self.salt.hex(),
                "key_check": self.key_check,
            }
        ).encode()

    @staticmethod
    def decoded(data: bytes) -> Header:
        try:
            fields = json.loads(data)
            header = Header(
                int(fields["version"]),
                str(fields["database"]),
                datetime.fromisoformat(fields["created_at"]),
                str(fields["schema_revision"]),
                {str(name): int(rows) for name, rows in fields["tables"].items()},
                bytes.fromhex(fields["salt"]),
                str(fields["key_check"]),
            )
            valid = fields["format"] == "ketaclinic-backup" and header.database in KINDS
        except (ValueError, KeyError, TypeError, AttributeError):
            valid = False
        if not valid:
            raise BackupRefused("the backup's header is damaged")
        if header.version != FORMAT_VERSION:
            raise BackupRefused(
                f"the backup is in format {header.version}; this ketaclinic reads format "
                f"{FORMAT_VERSION}"
            )
        return header


def _aad(header_bytes: bytes) -> bytes:
    return MAGIC + _LENGTH.pack(len(header_bytes)) + header_bytes


def _read_header(stream: BinaryIO) -> tuple[Header, bytes]:
    if stream.read(len(MAGIC)) != MAGIC:
        raise BackupRefused("not a ketaclinic backup (or its first bytes are damaged)")
    prefix = stream.read(_LENGTH.size)
    if len(prefix) != _LENGTH.size:
        raise BackupRefused("the backup is truncated")
    (length,) = _LENGTH.unpack(prefix)
    if length > _MAX_HEADER:
        raise BackupRefused("the backup's header is damaged")
    raw = stream.read(length)
    if len(raw) != length:
        raise BackupRefused("the backup is truncated")
    return Header.decoded(raw), _aad(raw)


def read_header(path: Path) -> Header:
    """The header as written, unauthenticated: for display only; ``check`` authenticates it."""
    with _opened(path) as stream:
        return _read_header(stream)[0]


# ---- sealed chunks -----------------------------------------------------------------------------


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class _SealedWriter:
    """Compresses what it is given and writes it out in sealed chunks."""

    def __init__(self, out: BinaryIO, key: bytes, aad: bytes) -> None:
        self._out = out
        self._aead = AESGCM(key)
        self._aad = aad
        self._zip = zlib.compressobj(6)
        self._pending = bytearray()
        self._counter = 0

    def write(self, data: bytes) -> None:
        self._pending += self._zip.compress(data)
        self._drain()

    def close(self) -> None:
        self._pending += self._zip.flush()
        self._drain()
        self._seal(bytes(self._pending), last=True)

    def _drain(self) -> None:
        # Strictly more than a chunk held back, so the final chunk always follows.
        while len(self._pending) > CHUNK:
            self._seal(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]

    def _seal(self, plain: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._counter, last), plain, self._aad)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._counter += 1


def _next_sealed(stream: BinaryIO) -> bytes | None:
    prefix = stream.read(_LENGTH.size)
    if not prefix:
        return None
    if len(prefix) != _LENGTH.size:
        raise BackupRefused("the backup is truncated")
    (length,) = _LENGTH.unpack(prefix)
    if not _TAG <= length <= CHUNK + _TAG:
        raise BackupRefused("the backup is damaged (a chunk has an impossible length)")
    sealed = stream.read(length)
    if len(sealed) != length:
        raise BackupRefused("the backup is truncated")
    return sealed


DAMAGED = "the backup is damaged or was altered (it fails authentication)"


def _opened_chunks(stream: BinaryIO, key: bytes, aad: bytes) -> Iterator[bytes]:
    aead = AESGCM(key)
    current = _next_sealed(stream)
    if current is None:
        raise BackupRefused("the backup is truncated (no data after the header)")
    counter = 0
    while True:
        following = _next_sealed(stream)
        last = following is None
        try:
            yield aead.decrypt(_nonce(counter, last), current, aad)
        except InvalidTag:
            raise BackupRefused(DAMAGED) from None
        if following is None:
            return
        current, counter = following, counter + 1


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    unzip = zlib.decompressobj()
    rest = b""
    for chunk in chunks:
        try:
            rest += unzip.decompress(chunk)
        except zlib.error:
            raise BackupRefused(DAMAGED) from None
        *complete, rest = rest.split(b"\n")
        yield from complete
    if not unzip.eof or unzip.unused_data or rest:
        raise BackupRefused(DAMAGED)


# ---- values ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A column value as JSON; the target column's type turns it back (``_decoder``)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _identity(value: Any) -> Any:
    return value


def _decoder(column_type: Any) -> Callable[[Any], Any]:
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, Date):
        return date.fromisoformat
    if isinstance(column_type, LargeBinary):
        return base64.b64decode
    if isinstance(column_type, Boolean):
        return bool
    if isinstance(column_type, Numeric) and not isinstance(column_type, Float):
        return Decimal
    return _identity


def _row_line(values: Any) -> bytes:
    return json.dumps([_plain(v) for v in values], ensure_ascii=False).encode() + b"\n"


# ---- reading a database ------------------------------------------------------------------------


def _one_line(error: object) -> str:
    return " ".join(str(error).split())


def _kind(url: str) -> str:
    try:
        kind = make_url(url).get_backend_name()
    except Exception:
        raise BackupRefused(f"{url!r} is not a database URL") from None
    if kind not in KINDS:
        raise BackupRefused(f"{kind} databases are not supported (only SQLite and PostgreSQL)")
    return kind


def _sqlite_path(url: str) -> Path:
    name = make_url(url).database
    if not name or name == ":memory:":
        raise BackupRefused("an in-memory SQLite database cannot be backed up or restored into")
    return Path(name)


def _tables(connection: Connection) -> list[Table]:
    meta = MetaData()
    meta.reflect(bind=connection)
    return [t for t in meta.sorted_tables if t.name != _VERSIONS]


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(_VERSIONS):
        return None
    found = connection.scalar(text(f"SELECT version_num FROM {_VERSIONS}"))
    return None if found is None else str(found)


def _count(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def _ordered(table: Table) -> Any:
    keys = list(table.primary_key.columns) or list(table.columns)
    return select(table).order_by(*keys)


@contextmanager
def _snapshot(url: str, kind: str) -> Iterator[Connection]:
    """A connection that sees one consistent state of the live database while it is read."""
    if kind == "sqlite":
        path = _sqlite_path(url)
        if not path.is_file():
            raise BackupRefused(f"no SQLite database at {path}")
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        live = sqlite3.connect(path)
        try:
            live.execute("PRAGMA busy_timeout=10000")
            live.backup(copy)
        except sqlite3.DatabaseError as error:
            copy.close()
            raise BackupRefused(f"cannot read the SQLite database {path}: {error}") from None
        finally:
            live.close()
        engine = create_engine("sqlite://", creator=lambda: copy, poolclass=StaticPool)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()
            copy.close()
        return
    engine = create_engine(url)
    try:
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as connection, connection.begin():
            yield connection
    finally:
        engine.dispose()


def _record_backup(url: str, clock: Clock, actor: Actor, path: Path) -> None:
    """The backup reads every patient's data: say so in the audit log, inside the snapshot."""
    engine = db.make_engine(url)
    try:
        if not inspect(engine).has_table("audit_events"):
            raise BackupRefused("the database has no clinic tables: nothing to back up")
        with db.transaction(db.session_factory(engine)) as session:
            audit.record(session, actor, clock, audit.READ, f"backup of the database to {path}")
    except DBAPIError as error:
        raise BackupRefused(f"cannot open the database: {_one_line(error.orig)}") from None
    finally:
        engine.dispose()


def _writable(path: Path, url: str, kind: str) -> None:
    if kind == "sqlite" and path.resolve() == _sqlite_path(url).resolve():
        raise BackupRefused(f"{path}: is the database itself; write the backup elsewhere")
    if path.is_dir():
        raise BackupRefused(f"{path}: is a directory, not a file")
    if not path.parent.is_dir():
        raise BackupRefused(f"{path}: no such directory {path.parent}")


def backup(url: str, path: Path, key: bytes, clock: Clock, actor: Actor = BACKUP_ACTOR) -> Header:
    """Back up the database at ``url`` to ``path`` (replaced whole, only once complete)."""
    kind = _kind(url)
    _writable(path, url, kind)
    if kind == "sqlite" and not _sqlite_path(url).is_file():
        raise BackupRefused(f"no SQLite database at {_sqlite_path(url)}")
    _record_backup(url, clock, actor, path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with _snapshot(url, kind) as connection:
            revision = _revision(connection)
            if revision is None:
                raise BackupRefused("the database has no schema revision (alembic_version)")
            tables = _tables(connection)
            counts = {t.name: _count(connection, t) for t in tables}
            salt = os.urandom(16)
            header = Header(
                FORMAT_VERSION, kind, clock.now(), revision, counts, salt, key_check(key)
            )
            raw = header.encoded()
            handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(handle, "wb") as out:
                out.write(_aad(raw))
                writer = _SealedWriter(out, _derived(key, salt, b"data", 32), _aad(raw))
                for table in tables:
                    start = {"table": table.name, "columns": [c.name for c in table.columns]}
                    writer.write(json.dumps(start).encode() + b"\n")
                    rows = connection.execution_options(yield_per=BATCH).execute(_ordered(table))
                    for row in rows:
                        writer.write(_row_line(row))
                writer.close()
                out.flush()
                os.fsync(out.fileno())
        os.replace(partial, path)
        _sync_directory(path.parent)
    finally:
        with suppress(FileNotFoundError):
            partial.unlink()
    return header


def _sync_directory(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


# ---- reading a backup --------------------------------------------------------------------------


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    try:
        with path.open("rb") as stream:
            yield stream
    except FileNotFoundError:
        raise BackupRefused("no such file") from None
    except IsADirectoryError:
        raise BackupRefused("is a directory, not a backup file") from None


@dataclass(frozen=True)
class _Batch:
    table: str
    columns: list[str]
    rows: list[list[Any]]


def _batches(path: Path, key: bytes) -> Iterator[tuple[Header, _Batch]]:
    """The backup's rows, table by table in batches, each checked against the header; a table
    with no rows gives one empty batch. Raises BackupRefused at the first problem."""
    with _opened(path) as stream:
        header, aad = _read_header(stream)
        if header.key_check != key_check(key):
            raise BackupRefused(
                f"the backup was made with another key than {KEY_VARIABLE} (or its header is "
                "damaged)"
            )
        lines = _lines(_opened_chunks(stream, _derived(key, header.salt, b"data", 32), aad))
        for name, expected in header.tables.items():
            try:
                start = json.loads(next(lines))
                columns = [str(c) for c in start["columns"]]
                valid = start["table"] == name and len(columns) > 0
            except (StopIteration, ValueError, KeyError, TypeError):
                valid = False
            if not valid:
                raise BackupRefused(DAMAGED)
            rows: list[list[Any]] = []
            for _ in range(expected):
                try:
                    row = json.loads(next(lines, b"null"))
                except ValueError:
                    row = None
                if not isinstance(row, list) or len(row) != len(columns):
                    raise BackupRefused(DAMAGED)
                rows.append(row)
                if len(rows) == BATCH:
                    yield header, _Batch(name, columns, rows)
                    rows = []
            if rows or expected == 0:
                yield header, _Batch(name, columns, rows)
        if next(lines, None) is not None:
            raise BackupRefused(DAMAGED)


def check(path: Path, key: bytes) -> Header:
    """Read and authenticate the whole backup without writing anything; its header."""
    with _opened(path) as stream:
        header = _read_header(stream)[0]
    for _header, _batch in _batches(path, key):
        pass
    return header


# ---- restoring ---------------------------------------------------------------------------------


def _known_revision(revision: str) -> None:
    scripts = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    try:
        found = scripts.get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise BackupRefused(
            f"the backup's schema ({revision}) is unknown to this ketaclinic: restore it with "
            "the version that made it, or a newer one"
        )


def _encoded_rows(connection: Connection, table: Table) -> list[str]:
    return sorted(
        json.dumps({k: _plain(v) for k, v in row._mapping.items()}, sort_keys=True)
        for row in connection.execute(select(table))
    )


def _rows_migrations_make(revision: str) -> dict[str, list[str]]:
    """What a freshly migrated database holds at this revision (e.g. the ledger's chain row)."""
    with tempfile.TemporaryDirectory(prefix="ketaclinic-restore-") as folder:
        url = f"sqlite:///{Path(folder) / 'fresh.db'}"
        command.upgrade(db.alembic_config(url), revision)
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                return {t.name: _encoded_rows(connection, t) for t in _tables(connection)}
        finally:
            engine.dispose()


def _target_is_bare(engine: Engine, kind: str, url: str) -> bool:
    """True when the target has no tables at all; refuses a target at another schema."""
    if kind == "sqlite":
        path = _sqlite_path(url)
        if not path.parent.is_dir():
            raise BackupRefused(f"no such directory {path.parent} for the target database")
        if not path.exists() or path.stat().st_size == 0:
            return True
    try:
        names = set(inspect(engine).get_table_names())
    except DBAPIError as error:
        raise BackupRefused(f"cannot open the target database: {_one_line(error.orig)}") from None
    return not names


def _prepare_target(url: str, kind: str, header: Header) -> bool:
    """Bring an empty target to the backup's schema; True when it was bare (no tables)."""
    engine = create_engine(url)
    try:
        if _target_is_bare(engine, kind, url):
            command.upgrade(db.alembic_config(url), header.schema_revision)
            return True
        with engine.connect() as connection:
            revision = _revision(connection)
    finally:
        engine.dispose()
    if revision is None:
        raise BackupRefused("the target database has tables but is not a ketaclinic database")
    if revision != header.schema_revision:
        raise BackupRefused(
            f"the target database is at schema {revision} and the backup at "
            f"{header.schema_revision}: restore into a database with no tables (a new file or "
            "a new PostgreSQL database)"
        )
    return False


def _clear_migration_rows(
    connection: Connection, tables: list[Table], revision: str, was_bare: bool
) -> None:
    """Refuse a target holding anything but what its migrations made; remove that, since the
    backup holds those rows as they were (possibly changed since)."""
    counts = {t.name: _count(connection, t) for t in tables}
    occupied = [t for t in tables if counts[t.name]]
    if not occupied:
        return
    expected = {} if was_bare else _rows_migrations_make(revision)
    for table in occupied:
        made = expected.get(table.name, []) if not was_bare else None
        if made is not None and (
            counts[table.name] != len(made) or _encoded_rows(connection, table) != made
        ):
            raise BackupRefused(
                f"the target database is not empty ({counts[table.name]} rows in "
                f"{table.name}): restore only into an empty database"
            )
    for table in reversed(occupied):
        connection.execute(table.delete())


def _lock(connection: Connection, kind: str, tables: list[Table]) -> None:
    if kind == "postgresql" and tables:
        quote = connection.dialect.identifier_preparer.quote
        names = ", ".join(quote(t.name) for t in tables)
        connection.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))


def _advance_sequences(connection: Connection, kind: str, tables: list[Table]) -> None:
    """Rows came with their ids: move PostgreSQL's sequences past them (SQLite needs nothing)."""
    if kind != "postgresql":
        return
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": quote(table.name), "column": column.name},
            )
            if sequence is None:
                continue
            top = connection.scalar(select(func.max(column)))
            connection.execute(
                text("SELECT setval(:sequence, :value, :called)"),
                {"sequence": sequence, "value": top or 1, "called": top is not None},
            )


def _insert(connection: Connection, table: Table, batch: _Batch) -> None:
    if set(batch.columns) != {c.name for c in table.columns}:
        raise BackupRefused(
            f"the backup's table {table.name} does not match the schema: columns "
            f"{sorted(batch.columns)} against {sorted(c.name for c in table.columns)}"
        )
    if not batch.rows:
        return
    decoders = [_decoder(table.columns[name].type) for name in batch.columns]
    values = [
        {
            name: None if value is None else decode(value)
            for name, decode, value in zip(batch.columns, decoders, row, strict=True)
        }
        for row in batch.rows
    ]
    connection.execute(table.insert(), values)


def restore(url: str, path: Path, key: bytes) -> Header:
    """Restore the backup at ``path`` into the empty database at ``url``, then bring its schema
    up to date. The file is read and authenticated whole first: a damaged file, a wrong key or a
    target that is not empty is refused (BackupRefused) with nothing written."""
    kind = _kind(url)
    header = check(path, key)
    _known_revision(header.schema_revision)
    was_bare = _prepare_target(url, kind, header)
    engine = db.make_engine(url)
    try:
        with engine.execution_options(**{db.IMMEDIATE: True}).begin() as connection:
            tables = _tables(connection)
            by_name = {t.name: t for t in tables}
            missing = sorted(set(header.tables) - set(by_name))
            if missing:
                raise BackupRefused(f"the target database has no table {', '.join(missing)}")
            _lock(connection, kind, tables)
            _clear_migration_rows(connection, tables, header.schema_revision, was_bare)
            for _header, batch in _batches(path, key):
                _insert(connection, by_name[batch.table], batch)
            _advance_sequences(connection, kind, tables)
    except OperationalError as error:
        raise BackupRefused(f"cannot write the target database: {_one_line(error.orig)}") from None
    finally:
        engine.dispose()
    db.migrate(url)
    return header
