"""The long run of the generated API tests (tests/integration/test_api_generated.py).

schemathesis draws, for every operation of /api/openapi.json, N requests (three quarters that
fit the schema, a quarter that do not; N/4 where the role may not use the route at all), from
fixed seeds, so two runs send the same requests. Each role sends them, with the authorization
matrix's own requests, to an app of its own on a copy of one seeded clinic; every answer is
checked as in make test: no 5xx, status code, content type and body as documented, and nothing
outside the role's rights succeeds. Prints per role the calls made, the answers by status, the
problems found (each with one request that shows it) and the time, then the slowest operations.

    .venv/bin/python bench/api_fuzz.py [--examples 200] [--roles prescriber,nurse]
                                       [--postgres]

--postgres runs on a throwaway PostgreSQL cluster (Debian's binaries) instead of SQLite.
Exits 1 when a problem was found.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.conftest import _as_postgres, _free_port, _pg_bin  # noqa: E402
from tests.integration import api_generated_support as generated  # noqa: E402
from tests.integration.authz_cases import ROLES  # noqa: E402

from ketaclinic.services.actor import Role  # noqa: E402
from ketaclinic.store.db import migrate  # noqa: E402


@contextmanager
def sqlite_clinic(work: Path) -> Iterator[tuple[str, Callable[[], str]]]:
    """A migrated SQLite file to seed, and a maker of copies of it."""
    template = work / "seeded.db"
    migrate(f"sqlite:///{template}")
    copies = iter(range(1_000))

    def copy() -> str:
        path = work / f"run{next(copies)}.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    yield f"sqlite:///{template}", copy


@contextmanager
def postgres_clinic(work: Path) -> Iterator[tuple[str, Callable[[], str]]]:
    """A throwaway cluster with a migrated database to seed, and a maker of copies of it."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)")
    # A folder of its own: the cluster runs as the postgres user, who cannot enter ``work``.
    root = Path(tempfile.mkdtemp(prefix="ketaclinic-fuzz-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    data = root / "data"
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    subprocess.run(_as_postgres(*initdb), check=True, capture_output=True)
    options = f"-c fsync=off -c listen_addresses=127.0.0.1 -c port={port} -k {root}"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start"]
    subprocess.run(_as_postgres(*start, "-l", str(root / "log")), check=True, capture_output=True)
    server = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    try:
        url = generated.postgres_copy(server, "template1")
        migrate(url)
        template = url.rsplit("/", 1)[1]
        yield url, lambda: generated.postgres_copy(server, template)
    finally:
        stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres(*stop), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="drawn per operation and role")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    roles: list[Role] = [role for role in ROLES if role in args.roles.split(",")]
    unfitting = args.examples // 4
    budget = generated.Budget(
        fitting=args.examples - unfitting, unfitting=unfitting, refused=max(1, unfitting)
    )
    # A 500 is a finding with its request; the traceback in the log would only repeat it.
    logging.getLogger("ketaclinic.web").setLevel(logging.CRITICAL)
    kind = "postgresql" if args.postgres else "sqlite"
    print(f"{kind}: {len(generated.operations())} operations, per operation and role "
          f"{budget.fitting} fitting + {budget.unfitting} unfitting drawn requests "
          f"({budget.refused} where refused), with the matrix's own", flush=True)  # fmt: skip
    found = 0
    every: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ketaclinic-fuzz-") as folder:
        opened = postgres_clinic if args.postgres else sqlite_clinic
        with opened(Path(folder)) as (seed_url, fresh_copy):
            began = time.perf_counter()
            seed = generated.seed_clinic(seed_url)
            print(f"seeded in {time.perf_counter() - began:.1f} s", flush=True)
            began = time.perf_counter()
            for operation in generated.operations():
                generated.drawn_for(operation.label, budget.fitting, budget.unfitting)
            print(f"drawn in {time.perf_counter() - began:.1f} s", flush=True)
            for role in roles:
                with generated.opened_clinic(fresh_copy(), seed) as clinic:
                    chosen = list(generated.operations())
                    tally = generated.send_as(role, clinic, chosen, budget)
                statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
                print(f"\n{role}: {tally.calls} calls in {tally.seconds:.1f} s "
                      f"({statuses}); {len(tally.findings)} problems", flush=True)  # fmt: skip
                if tally.findings:
                    print(tally.report(), flush=True)
                found += len(tally.findings)
                for label, seconds in tally.spent.items():
                    every[label] = every.get(label, 0.0) + seconds
    print("\nslowest operations (seconds, all roles):")
    for label, seconds in sorted(every.items(), key=lambda item: -item[1])[:10]:
        print(f"  {seconds:8.1f}  {label}")
    print(f"\n{found} problems found")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
