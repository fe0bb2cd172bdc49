"""Sustained requests per second of the running app under a mixed clinic workload, by concurrency.

Prints, never asserts. Each target is a real uvicorn server in a child process, started with the
same options (one worker, no access log), and driven from this process by N closed-loop clients
(asyncio + httpx, one keep-alive connection each) for S seconds per step, N = 1, 2, 4, 8, ...
until the step's p99 passes the limit (default 200 ms) or N reaches --max-concurrency:
  baseline    bench/bare_app.py: bare Starlette, no database (the floor of the stack)
  sqlite      ketaclinic on a SQLite file (WAL) in a temporary folder
  postgresql  ketaclinic on a throwaway PostgreSQL cluster (Debian binaries, defaults: fsync on)
The clinic mix, drawn per request (the baseline maps reads to GET /ping and writes to POST /echo
with the same bodies):
  50% chart     GET  /api/patients/{id}/chart                  200, prescriber or nurse
  25% vitals    POST /api/patients/{id}/observations           201, nurse (blood pressure, pulse)
  15% screening POST /api/patients/{id}/screenings             201, prescriber
  10% ledger    POST /api/ledger/administer (25 mg of one lot) 201, nurse
against the 45 demo patients (ketaclinic.demo, records imported through the services), seeded
fresh for each database after migrating it; the records grow as the steps write. Every response
is checked for its expected status: errors are counted per step and listed per target. The
summary gives each target's highest requests/s at a step with p99 within the limit and no
errors, and its ratio to the baseline's in the same run.
CPU columns, in % of one core: the server process; PostgreSQL's processes ("db", at least: a
backend that ends within a step takes its CPU time with it); the load generator (near 100% per
process means it, not the server, is the bottleneck: --processes shares the clients among more
processes). All share the machine's cores. Measured on the two-core machine this was written
on: httpx costs the generator about 4x the bare server's CPU per request, so the baseline's
figure is bounded by the generator (a floor of the floor: the ratios flatter ketaclinic), while
a ketaclinic request costs its server about 4x the generator's, so ketaclinic's figures are the
server's. A second generating process did not raise the baseline there: both cores were busy.

    .venv/bin/python bench/load.py [--targets baseline,sqlite,postgresql] [--seconds 5]
        [--max-concurrency 256] [--p99-ms 200] [--processes 1] [--patients 45] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import glob
import math
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
TARGETS = ("baseline", "sqlite", "postgresql")
# The same serving options for every target. One worker: the machine this was written on has two
# cores, and the load generator needs the other.
UVICORN_OPTIONS = ("--host", "127.0.0.1", "--workers", "1", "--no-access-log",
                   "--log-level", "warning")  # fmt: skip
MIX: tuple[tuple[str, int], ...] = (("chart", 50), ("vitals", 25), ("screening", 15),
                                    ("ledger", 10))  # fmt: skip
KINDS = tuple(kind for kind, _ in MIX)
CUMULATIVE = tuple(sum(w for _, w in MIX[: n + 1]) for n in range(len(MIX)))
ROUTES = ("iv", "esketamine", "im", "oral")
DOSE_MG = 25
LOT_VIALS = 2000  # of 500 mg: 40,000 doses of 25 mg, far more than a run administers
REQUEST_TIMEOUT = 30.0
READY_SECONDS = 120
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---- what the clients send ----------------------------------------------------------------------


# kind: method, path pattern, expected status. The baseline maps reads to GET /ping and writes
# to POST /echo, with the same bodies.
CLINIC_ROUTES = {
    "chart": ("GET", "/api/patients/{id}/chart", 200),
    "vitals": ("POST", "/api/patients/{id}/observations", 201),
    "screening": ("POST", "/api/patients/{id}/screenings", 201),
    "ledger": ("POST", "/api/ledger/administer", 201),
}
BARE_ROUTES = {kind: ("GET", "/ping", 200) if kind == "chart" else ("POST", "/echo", 201)
               for kind in KINDS}  # fmt: skip


@dataclass(frozen=True)
class Call:
    kind: str
    method: str
    pattern: str  # the path's pattern, to group errors by
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    expect: int

    @property
    def route(self) -> str:
        return f"{self.method} {self.pattern}"


def _body(kind: str, rng: random.Random, patient_id: int, lot_id: int) -> dict[str, Any] | None:
    if kind == "vitals":
        # A minute ago: the server refuses times still to come; its clock is this machine's.
        now = datetime.now(UTC).replace(microsecond=0)
        effective = (now - timedelta(minutes=1)).isoformat()
        if rng.random() < 0.5:
            pressure = {"systolic": rng.randint(100, 150), "diastolic": rng.randint(60, 95)}
            return {"loinc": "85354-9", "effective": effective, **pressure}
        return {"loinc": "8867-4", "effective": effective, "value": rng.randint(55, 100)}
    if kind == "screening":
        return {"route": rng.choice(ROUTES)}
    if kind == "ledger":
        return {"lot_id": lot_id, "patient_id": patient_id, "dose_mg": DOSE_MG}
    return None


@dataclass(frozen=True)
class Clinic:
    """What the seeded clinic gives the clients: patients, a token per role, a lot to dose."""

    patient_ids: list[int]
    tokens: dict[str, str]
    lot_id: int
    durability: str

    def draw(self, rng: random.Random) -> Call:
        kind = rng.choices(KINDS, cum_weights=CUMULATIVE)[0]
        pid = rng.choice(self.patient_ids)
        # Screening is the prescriber's; nurses record vitals and doses; both read charts.
        if kind == "screening" or (kind == "chart" and rng.random() < 0.5):
            role = "prescriber"
        else:
            role = "nurse"
        method, pattern, expect = CLINIC_ROUTES[kind]
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        body = _body(kind, rng, pid, self.lot_id)
        return Call(kind, method, pattern, pattern.format(id=pid), body, headers, expect)


@dataclass(frozen=True)
class BareMix:
    durability: str = "no database"

    def draw(self, rng: random.Random) -> Call:
        kind = rng.choices(KINDS, cum_weights=CUMULATIVE)[0]
        method, path, expect = BARE_ROUTES[kind]
        return Call(kind, method, path, path, _body(kind, rng, rng.randint(1, 45), 1), {}, expect)


Mix = Clinic | BareMix


# ---- seeding the clinic (through the services) ---------------------------------------------------


def seed_clinic(url: str, patients: int) -> Clinic:
    """Migrate, then through the services: a prescriber and a nurse with a token each, the first
    ``patients`` demo patients with their records, and a lot of ketamine received. Not
    ``demo_clinic.seed``: it also signs consents for today's sessions, whose PDFs take most of a
    minute on this machine and are not part of the load."""
    import json
    import secrets

    from sqlalchemy import text

    from ketaclinic.demo.patients import demo_patients
    from ketaclinic.services import importing, ledger, users
    from ketaclinic.services import patients as registry
    from ketaclinic.services.clock import SystemClock
    from ketaclinic.store.db import make_engine, migrate, session_factory, transaction

    migrate(url)
    engine = make_engine(url)
    try:
        factory = session_factory(engine)
        clock = SystemClock()
        with transaction(factory) as s:
            staff = {
                role: users.create_user(
                    s, clock, role, f"Bench {role}", role, secrets.token_urlsafe(16)
                )
                for role in ("prescriber", "nurse")
            }
            tokens = {role: users.issue_token(s, clock, user) for role, user in staff.items()}
            prescriber = users.actor_for(staff["prescriber"], "127.0.0.1")
            keeper = users.actor_for(staff["nurse"], "127.0.0.1")
        patient_ids = []
        for demo in demo_patients(clock.now().date())[:patients]:
            with transaction(factory) as s:
                person = registry.PatientIn(
                    mrn=demo.mrn,
                    given_name=demo.given_name,
                    family_name=demo.family_name,
                    birth_date=demo.birth_date,
                    sex=demo.sex,
                )
                patient = registry.register_patient(s, prescriber, clock, person)
                data = json.dumps(demo.bundle).encode()
                importing.import_bundle(s, prescriber, clock, patient.id, data)
                patient_ids.append(patient.id)
        with transaction(factory) as s:
            product = ledger.define_product(
                s, keeper, clock, "ketamine", strength_mg_per_ml=Decimal(50), volume_ml=Decimal(10)
            )
            expiry = clock.now().date() + timedelta(days=730)
            receipt = ledger.ReceiptIn(
                product.code,
                "BENCH-1",
                expiry,
                LOT_VIALS,
                "Bench Supplier",
                "RA1234563",
                "INV-BENCH-1",
            )
            lot_id = ledger.receive(s, keeper, clock, receipt).lot_id
        with engine.connect() as c:
            if engine.dialect.name == "sqlite":
                journal = c.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                    int(c.exec_driver_sql("PRAGMA synchronous").scalar() or 0), "?"
                )
                durability = f"journal_mode={journal}, synchronous={sync}"
            else:
                version = c.execute(text("SHOW server_version")).scalar()
                fsync = c.execute(text("SHOW fsync")).scalar()
                commit = c.execute(text("SHOW synchronous_commit")).scalar()
                durability = f"PostgreSQL {version}, fsync={fsync}, synchronous_commit={commit}"
    finally:
        engine.dispose()
    return Clinic(patient_ids, tokens, lot_id, f"{len(patient_ids)} patients, {durability}")


# ---- serving ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each of these processes so far (Linux /proc)."""
    found = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # gone
        fields = stat.rsplit(")", 1)[1].split()
        found[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return found


def _cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings: a process born since counts whole; one that ended
    in between is missed (PostgreSQL closes the pool's overflow connections), so: at least."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class Server:
    url: str
    pid: int
    # The database server's processes, looked up at each step (PostgreSQL forks a backend per
    # connection); none for SQLite and the baseline.
    db_pids: Callable[[], list[int]] = field(default=lambda: [])


@contextmanager
def serve(app: list[str], env: dict[str, str], cwd: Path) -> Iterator[Server]:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", *app, *UVICORN_OPTIONS, "--port", str(port)]
    # Its own session: Ctrl-C reaches this script, which then stops the server in order.
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        # Importing the whole app takes a while on a busy machine; any answer means it is up.
        deadline = time.monotonic() + READY_SECONDS
        with httpx.Client(timeout=1, verify=_tls(), trust_env=False) as http:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"the server ({' '.join(app)}) exited: {process.returncode}")
                try:
                    http.get(url + "/")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        message = (
                            f"the server ({' '.join(app)}) did not answer in {READY_SECONDS} s"
                        )
                        raise SystemExit(message) from None
                    time.sleep(0.1)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _children_of(parent: int) -> list[int]:
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:  # ppid
            found.append(int(stat.split("/")[2]))
    return found


@contextmanager
def postgres_cluster(bin_dir: Path) -> Iterator[tuple[str, Callable[[], list[int]]]]:
    """A throwaway cluster on 127.0.0.1 and a free port, with PostgreSQL's defaults (fsync on);
    stopped and removed at the end, on error and on Ctrl-C too."""
    root = Path(tempfile.mkdtemp(prefix="ketaclinic-load-pg-"))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    pg_ctl = [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        port = _free_port()
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {root}"
        initdb = [*as_pg, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        for command in (initdb, [*pg_ctl, "-o", options, "-l", str(root / "log"), "-w", "start"]):
            started = command is not initdb
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                log = root / "log"
                why = done.stderr.strip() or (log.read_text()[-1000:] if log.exists() else "")
                raise SystemExit(f"PostgreSQL: {' '.join(command)} failed: {why}")

        def cluster_pids() -> list[int]:
            try:
                postmaster = int((data / "postmaster.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return []
            return [postmaster, *_children_of(postmaster)]

        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", cluster_pids
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# ---- driving ------------------------------------------------------------------------------------


@dataclass
class Step:
    clients: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float  # percent of one core
    db_cpu: float | None
    load_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Run:
    target: str
    steps: list[Step] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)


def _percentile(ordered: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


@dataclass
class Part:
    """What one load-generating process measured in a step."""

    latencies: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # each latency's kind of request
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    started: float = 0.0  # perf_counter: the system's monotonic clock, the same in every process
    ended: float = 0.0
    cpu: float = 0.0  # seconds of this process's CPU


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


async def _clients(url: str, mix: Mix, seeds: list[int], start_at: float, seconds: float,
                   part: Part) -> None:  # fmt: skip
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # Made before the clock starts. Plain HTTP on 127.0.0.1: one TLS context for all (each client
    # would otherwise load the CA certificates) and no proxy settings read from the environment;
    # a client then costs well under a millisecond instead of tens.
    https = [
        httpx.AsyncClient(
            base_url=url, timeout=REQUEST_TIMEOUT, limits=limits, verify=_tls(), trust_env=False
        )
        for _ in seeds
    ]
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    # Late only if making the clients took longer than planned; the step still lasts its seconds.
    part.started = time.perf_counter()
    cpu_before = time.process_time()
    deadline = part.started + seconds

    async def client(http: httpx.AsyncClient, rng: random.Random) -> None:
        async with http:
            while time.perf_counter() < deadline:
                call = mix.draw(rng)
                began = time.perf_counter()
                try:
                    response = await http.request(
                        call.method, call.path, json=call.body, headers=call.headers
                    )
                    outcome, detail = str(response.status_code), response.text
                except httpx.HTTPError as exc:
                    outcome, detail = type(exc).__name__, str(exc) or repr(exc)
                part.latencies.append(time.perf_counter() - began)
                part.kinds.append(call.kind)
                if outcome != str(call.expect):
                    key = f"{call.route} -> {outcome} (expected {call.expect})"
                    part.errors[key] += 1
                    part.samples.setdefault(key, detail[:300])

    await asyncio.gather(*(client(h, random.Random(n)) for h, n in zip(https, seeds, strict=True)))
    # The last answer, which may come after the deadline: requests in flight then count.
    part.ended = time.perf_counter()
    part.cpu = time.process_time() - cpu_before


def _drive(url: str, mix: Mix, seeds: list[int], start_at: float, seconds: float) -> Part:
    """One process's share of the clients, from start_at for the step's seconds."""
    part = Part()
    asyncio.run(_clients(url, mix, seeds, start_at, seconds, part))
    return part


def step(server: Server, mix: Mix, clients: int, seconds: float, run: Run, processes: int) -> Step:
    seeds = [clients * 10_000 + n for n in range(clients)]
    shares = [seeds[n::processes] for n in range(min(processes, clients))]
    server_before, db_before = _cpu_seconds([server.pid]), _cpu_seconds(server.db_pids())
    # Time to make the clients (and fork) before the clock starts.
    start_at = time.perf_counter() + 0.2 + 0.002 * clients
    if len(shares) == 1:
        parts = [_drive(server.url, mix, shares[0], start_at, seconds)]
    else:
        # Forked, not spawned: a spawned process would import this module and httpx again.
        with ProcessPoolExecutor(len(shares), mp_context=get_context("fork")) as pool:
            start_at += 0.3
            futures = [
                pool.submit(_drive, server.url, mix, share, start_at, seconds) for share in shares
            ]
            parts = [future.result() for future in futures]
    elapsed = max(p.ended for p in parts) - min(p.started for p in parts)
    # The servers' CPU is read around the whole step: they idle while the clients are made.
    server_cpu = _cpu_used(server_before, _cpu_seconds([server.pid])) / elapsed * 100
    db_after = _cpu_seconds(server.db_pids())
    db_cpu = _cpu_used(db_before, db_after) / elapsed * 100 if db_after else None
    load_cpu = sum(part.cpu for part in parts) / elapsed * 100
    errors = 0
    for part in parts:
        for kind, latency in zip(part.kinds, part.latencies, strict=True):
            run.by_kind[kind].append(latency)
        run.errors.update(part.errors)
        errors += part.errors.total()
        for key, text in part.samples.items():
            run.samples.setdefault(key, text)
    ordered = sorted(t for part in parts for t in part.latencies)
    p50 = _percentile(ordered, 50) * 1e3 if ordered else math.nan
    p99 = _percentile(ordered, 99) * 1e3 if ordered else math.nan
    return Step(clients, len(ordered), elapsed, p50, p99, errors, server_cpu, db_cpu, load_cpu)


HEADER = (
    f"  {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    f" {'server cpu':>10} {'db cpu':>7} {'load cpu':>8}"
)


def _row(s: Step) -> str:
    db = "-" if s.db_cpu is None else f"{s.db_cpu:.0f}%"
    return (
        f"  {s.clients:>7} {s.rate:>9.1f} {s.p50_ms:>8.1f} {s.p99_ms:>8.1f} {s.errors:>7}"
        f" {s.server_cpu:>9.0f}% {db:>7} {s.load_cpu:>7.0f}%"
    )


def preflight(server: Server, mix: Mix, run: Run) -> None:
    """One request of each kind before timing anything: a kind that cannot work at all stops the
    run here, with the server's answer, rather than filling every step with errors."""
    rng = random.Random(0)
    pending = set(KINDS)
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT, verify=_tls(),
                      trust_env=False) as http:  # fmt: skip
        while pending:
            call = mix.draw(rng)
            if call.kind not in pending:
                continue
            pending.discard(call.kind)
            response = http.request(call.method, call.path, json=call.body, headers=call.headers)
            if response.status_code != call.expect:
                raise SystemExit(
                    f"{run.target}: {call.route} answered {response.status_code} "
                    f"(expected {call.expect}): {response.text[:500]}"
                )


def ramp(server: Server, mix: Mix, run: Run, args: argparse.Namespace) -> None:
    preflight(server, mix, run)
    if args.warmup > 0:
        # Unrecorded: the first requests pay for imports, caches and connection pools.
        step(server, mix, 2, args.warmup, Run(run.target), args.processes)
    print(f"\n{run.target} ({mix.durability})")
    print(HEADER)
    clients = 2 if args.smoke else 1
    while clients <= args.max_concurrency:
        measured = step(server, mix, clients, args.seconds, run, args.processes)
        run.steps.append(measured)
        print(_row(measured), flush=True)
        if args.smoke:
            break
        if not measured.p99_ms <= args.p99_ms:  # NaN too: no answer at all
            print(f"  stopped: p99 {measured.p99_ms:.1f} ms > {args.p99_ms:g} ms")
            break
        clients *= 2
    else:
        print(f"  stopped: --max-concurrency {args.max_concurrency} reached")
    total = sum(len(found) for found in run.by_kind.values())
    print(f"  requests, all steps: {total}")
    for kind, found in run.by_kind.items():
        # Which kind of request the time goes to (all steps together, so only a guide).
        ordered = sorted(found)
        p50, p99 = (
            (_percentile(ordered, 50) * 1e3, _percentile(ordered, 99) * 1e3)
            if ordered
            else (math.nan, math.nan)
        )
        share = len(found) / total if total else 0
        print(f"    {kind:9} {len(found):7} ({share:4.0%})  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")
    if not run.errors:
        print("  errors: none")
    for key, count in run.errors.most_common():
        print(f"  errors: {count} x {key}: {run.samples[key]!r}")


def best(run: Run, p99_ms: float) -> Step | None:
    sustained = [s for s in run.steps if s.p99_ms <= p99_ms and s.errors == 0]
    return max(sustained, key=lambda s: s.rate, default=None)


def summary(runs: list[Run], p99_ms: float) -> None:
    print(f"\nHighest sustained requests/s with p99 <= {p99_ms:g} ms and no errors:")
    floor = next((best(r, p99_ms) for r in runs if r.target == "baseline"), None)
    for run in runs:
        top = best(run, p99_ms)
        if top is None:
            print(f"  {run.target:10} none: no step stayed within {p99_ms:g} ms without errors")
            continue
        ratio = "" if floor is None else f"   {top.rate / floor.rate:.2f}x the baseline"
        print(
            f"  {run.target:10} {top.rate:9.1f} req/s at {top.clients} clients "
            f"(p50 {top.p50_ms:.1f} ms, p99 {top.p99_ms:.1f} ms){ratio}"
        )


def _targets(text: str | None, pg: Path | None) -> list[str]:
    if text is None:
        # Not named: every target this machine can serve, saying which was left out.
        if pg is None:
            print("postgresql: skipped (no binaries in /usr/lib/postgresql/*/bin)")
            return ["baseline", "sqlite"]
        return list(TARGETS)
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in TARGETS]
    if unknown or not chosen:
        raise SystemExit(f"--targets: must name some of {', '.join(TARGETS)} (got {text!r})")
    if "postgresql" in chosen and pg is None:
        # Named, so it must run: a missing server is an error, never a quiet skip.
        raise SystemExit("--targets postgresql: no binaries in /usr/lib/postgresql/*/bin")
    # The baseline first, so that the others have their ratio to it.
    return [t for t in TARGETS if t in chosen]


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    # As Ctrl-C does: unwinds through the context managers, which stop the servers.
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--targets", help=f"comma-separated, of {','.join(TARGETS)} (default: all)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per step (default 5)")
    parser.add_argument("--max-concurrency", type=int, default=256, help="default 256")
    parser.add_argument("--p99-ms", type=float, default=200.0, help="stop past it (default 200)")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="load-generating processes sharing the clients (default 1)",
    )
    parser.add_argument("--patients", type=int, default=45, help="demo patients (default 45)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds (default 2)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one 1-second step at 2 clients per target (proves the script works)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.warmup, args.patients = 1.0, 0.0, min(args.patients, 5)
    if min(args.seconds, args.max_concurrency, args.p99_ms, args.patients, args.processes) <= 0:
        parser.error("--seconds, --max-concurrency, --p99-ms, --patients, --processes: not > 0")
    pg = _pg_bin()
    try:
        targets = _targets(args.targets, pg)
    except SystemExit as bad:
        parser.error(str(bad))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    print(
        f"bench/load.py  {date.today().isoformat()}  {os.cpu_count()} cores  python "
        f"{sys.version.split()[0]}  uvicorn {' '.join(UVICORN_OPTIONS)}"
    )
    mix = ", ".join(f"{w}% {k}" for k, w in MIX)
    ramp_words = (
        "smoke: one step at 2 clients"
        if args.smoke
        else f"clients 1, 2, 4, ... <= {args.max_concurrency} until p99 > {args.p99_ms:g} ms"
    )
    print(f"mix: {mix}; {args.seconds:g} s per step, {ramp_words}")
    print(f"load: {args.processes} process(es), asyncio + httpx {httpx.__version__}, closed loop")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="ketaclinic-load-") as tmp:
        work = Path(tmp)
        for target in targets:
            run = Run(target)
            if target == "baseline":
                app = ["--app-dir", str(HERE), "bare_app:app"]
                with serve(app, {}, work) as server:
                    ramp(server, BareMix(), run, args)
            elif target == "sqlite":
                url = f"sqlite:///{work / 'clinic.db'}"
                clinic = seed_clinic(url, args.patients)
                factory = ["--factory", "ketaclinic.web.app:create_app"]
                with serve(factory, {"KETACLINIC_DATABASE_URL": url}, work) as server:
                    ramp(server, clinic, run, args)
            else:
                assert pg is not None
                with postgres_cluster(pg) as (url, cluster_pids):
                    clinic = seed_clinic(url, args.patients)
                    factory = ["--factory", "ketaclinic.web.app:create_app"]
                    with serve(factory, {"KETACLINIC_DATABASE_URL": url}, work) as server:
                        server.db_pids = cluster_pids
                        ramp(server, clinic, run, args)
            runs.append(run)
    summary(runs, args.p99_ms)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # The context managers have stopped the servers and removed the cluster by now.
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
