"""Latency of the patient chart and of screening under load, beside a bare Starlette endpoint.

Prints, never asserts. For each database (SQLite, and PostgreSQL when its binaries are here) it
seeds the demo clinic, serves the app with uvicorn in a child process, and drives it from this
process with N concurrent clients for S seconds per workload:
  baseline  GET /ping of a bare Starlette app served the same way (the floor of the stack)
  chart     GET /api/patients/{id}/chart (bearer token, audited read)
  screen    POST /api/patients/{id}/screenings (reads the record, runs the engine, saves)
and prints p50 and p99 latency and requests per second.

    .venv/bin/python bench/api.py [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def ping(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/ping", ping)])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(target: str, env: dict[str, str], cwd: Path, *extra: str) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", target, *extra, "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(f"the server for {target} exited with {process.returncode}")
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


async def _load(
    url: str, method: str, paths: list[str], headers: dict[str, str], clients: int, seconds: float
) -> list[float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients)

    async def client(rng: random.Random) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:
            while time.perf_counter() < deadline:
                path = rng.choice(paths)
                start = time.perf_counter()
                body = {"route": "iv"} if method == "POST" else None
                response = await http.request(method, path, json=body, timeout=60)
                latencies.append(time.perf_counter() - start)
                if response.status_code >= 400:
                    errors += 1

    await asyncio.gather(*(client(random.Random(n)) for n in range(clients)))
    if errors:
        print(f"    ({errors} responses were errors)")
    return latencies


def report(name: str, latencies: list[float], seconds: float) -> None:
    if not latencies:
        print(f"  {name:9} no responses")
        return
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    print(f"  {name:9} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms   {len(ordered) / seconds:8.1f} req/s")


def _token(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ketaclinic", "user", "token", "prescriber"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def run_database(label: str, url: str, clients: int, seconds: float, work: Path) -> None:
    env = {"KETACLINIC_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "ketaclinic", "demo"], env={**os.environ, **env},
                   check=True, capture_output=True)  # fmt: skip
    token = _token(env)
    headers = {"Authorization": f"Bearer {token}"}
    print(f"\n{label}: {clients} clients, {seconds:.0f} s per workload")
    with served("bare:app", {}, work) as bare:
        report(
            "baseline", asyncio.run(_load(bare, "GET", ["/ping"], {}, clients, seconds)), seconds
        )
    with served("ketaclinic.web.app:create_app", env, work, "--factory") as app:
        ids = [
            p["id"]
            for p in httpx.get(app + "/api/patients?size=50", headers=headers).json()["items"]
        ]
        charts = [f"/api/patients/{i}/chart" for i in ids]
        screens = [f"/api/patients/{i}/screenings" for i in ids]
        report("chart", asyncio.run(_load(app, "GET", charts, headers, clients, seconds)), seconds)
        report(
            "screen", asyncio.run(_load(app, "POST", screens, headers, clients, seconds)), seconds
        )


@contextmanager
def postgres() -> Iterator[str | None]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        yield None
        return
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="ketaclinic-bench-pg-"))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    subprocess.run([*as_pg, str(bin_dir / "initdb"), "-D", str(root / "d"), "-A", "trust",
                    "-U", "postgres"], check=True, capture_output=True)  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {root} -c max_connections=200"
    pg_ctl = [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(root / "d")]
    subprocess.run([*pg_ctl, "-o", options, "-l", str(root / "log"), "-w", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bare.py").write_text(BARE_APP)
        run_database("SQLite", f"sqlite:///{work / 'bench.db'}", args.clients, args.seconds, work)
        with postgres() as url:
            if url is None:
                print("\nPostgreSQL: binaries not found, skipped")
            else:
                run_database("PostgreSQL", url, args.clients, args.seconds, work)


if __name__ == "__main__":
    main()
