"""The HTTP benchmark: wrk against a real ``kitflow serve`` and against the ceiling, in one run.

``python -m bench.http [--orders N] [--seconds S] [--connections C] [--threads T] [--profile]
[--database postgresql://...]`` (``make bench`` runs it). Steps: seed (or reuse) the database, copy it,
serve it with ``kitflow serve`` (SQLite, one worker; or, with ``--database``, PostgreSQL: that
database dropped, made again and seeded by the same seed code, one worker), probe every scenario once (checking Kitflow's answers and
keeping its bodies), serve those bodies from the ceiling app, then for each scenario warm up and
load the ceiling then Kitflow, in alternating rounds, with the same wrk settings. The table goes to
``bench/results/latest.md`` and to standard output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from bench.database import fresh_postgres, fresh_store
from bench.http import instructions, profile
from bench.http.load import Load, Server, WrkResult, combined, free_port, run_wrk
from bench.http.report import Measured, table
from bench.http.scenarios import Scenario, deep_cursor, probe, scenarios, write_body
from bench.http.seed import Seeded, seed, seeded_database
from kitflow_adapters.bootstrap import open_store

ROOT = Path(__file__).resolve().parents[2]
WARMUP = 1.0


def _kitflow(url: str, results: Path, *, operator_key: str) -> Server:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("kitflow")), "serve", "--database", url,
        "--port", str(port), "--workers", "1",
    ]
    env = {**os.environ, "KITFLOW_OPERATOR_KEY": operator_key}
    env.pop("KITFLOW_DATABASE_URL", None)
    return Server("kitflow serve", command, port=port, env=env, log=results / "kitflow.log")


def _ceiling(bodies: Path, results: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "bench.ceiling", "--port", str(port), "--bodies", str(bodies)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return Server("ceiling", command, port=port, env=env, log=results / "ceiling.log")


def _load(server: Server, scenario: Scenario, *, load: Load, key: str, body: Path | None, run: str,
          seconds: float | None = None):  # noqa: ANN202 - WrkResult
    return run_wrk(
        server, load=load, expected=scenario.expected, method=scenario.method, path=scenario.path, key=key,
        body=body, lo=scenario.lo, hi=scenario.hi, run=run, seconds=seconds,
    )


def _prepare(kitflow: Server, seeded: Seeded, work: Path) -> tuple[list[Scenario], dict[str, str]]:
    """The scenarios, and the bodies Kitflow answered to each (for the ceiling)."""
    cursor, first_deep_id = deep_cursor(kitflow.base, key=seeded.api_key)
    plan = scenarios(seeded, cursor=cursor)
    captured = {s.name: probe(kitflow.base, s, key=seeded.api_key, first_deep_id=first_deep_id) for s in plan}
    bodies = {
        "order": captured["fetch"], "page1": captured["page1"], "page800": captured["page800"],
        "cursor_page": captured["cursor"], "created": captured["create"], "invalid": captured["invalid"],
    }
    return plan, {name: body.decode() for name, body in bodies.items()}


def run(args: argparse.Namespace) -> str:
    results: Path = args.results
    work = results / "work"
    work.mkdir(parents=True, exist_ok=True)
    load = Load(threads=args.threads, connections=args.connections, seconds=args.seconds)
    database = work / "kitflow.db"
    url, seeded = _database(args, database)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    run_id = secrets.token_hex(4)

    kitflow = _kitflow(url, work, operator_key=secrets.token_urlsafe(32))
    servers = [kitflow]
    try:
        kitflow.wait_ready()
        plan, bodies = _prepare(kitflow, seeded, work)
        (work / "bodies.json").write_text(json.dumps(bodies))
        ceiling = _ceiling(work / "bodies.json", work)
        servers.append(ceiling)
        ceiling.wait_ready()
        rows = []
        for scenario in plan:
            if args.only and scenario.name not in args.only:
                continue
            body = write_body(work, scenario)
            rounds: dict[str, list[WrkResult]] = {ceiling.name: [], kitflow.name: []}
            for server in (ceiling, kitflow):
                _load(server, scenario, load=load, key=seeded.api_key, body=body, run=f"{run_id}w", seconds=WARMUP)
            for number in range(args.rounds):  # alternate, so that both see the same moments of a shared machine
                for server in (ceiling, kitflow):
                    rounds[server.name].append(_load(server, scenario, load=load, key=seeded.api_key, body=body,
                                                     run=f"{run_id}r{number}", seconds=load.seconds / args.rounds))
            measured = {name: combined(results) for name, results in rounds.items()}
            for server in (ceiling, kitflow):
                result = measured[server.name]
                print(
                    f"  {scenario.title:<28} {server.name:<14} {result.rate:9,.0f} req/s  p50 {result.p50_us / 1000:6.2f} ms"
                    f"  p99 {result.p99_us / 1000:6.2f} ms  errors {result.errors}"
                    f"{' (' + result.unexpected_statuses.strip() + ')' if result.unexpected else ''}"
                    f"  peak RSS {result.peak_rss / 2**20:5.1f} MiB  CPU {result.cpu_us:6.0f} us/request",
                    file=sys.stderr, flush=True,
                )
            rows.append(Measured(scenario=scenario, kitflow=measured[kitflow.name], ceiling=measured[ceiling.name]))
        report = table(rows, orders=args.orders, load=load, rounds=args.rounds, started=started, loadavg=loadavg,
                       store="PostgreSQL" if args.database else "SQLite")
        if args.profile:
            report += "\n" + profile.profile_all(
                kitflow, plan, load=load, key=seeded.api_key, work=work, run=f"{run_id}p", only=args.only,
            )
    finally:
        for server in reversed(servers):
            server.stop()
    if args.instructions:
        print("  instructions per request under callgrind (a few minutes)", file=sys.stderr, flush=True)
        chosen = [s for s in plan if not args.only or s.name in args.only]
        report += "\n" + instructions.measure(
            chosen, work=work, database=database, bodies=work / "bodies.json", key=seeded.api_key
        )
    if not args.no_inprocess:
        report += "\n" + _in_process(("sqlite", "memory") + (("postgresql",) if args.database else ()), args.database)
    return report


def _database(args: argparse.Namespace, database: Path) -> tuple[str, Seeded]:
    """The URL ``kitflow serve`` is to serve and what it holds: a copy of the cached seeded SQLite
    file at ``database``, or, with ``--database``, that PostgreSQL database made again and seeded."""
    if args.database:
        print(f"Seeding {args.database} with {args.orders:,} orders...", file=sys.stderr, flush=True)
        uow = open_store(fresh_postgres(args.database))
        try:
            return args.database, seed(uow, orders=args.orders, progress=True)
        finally:
            uow.close()
    seed_path, seeded = seeded_database(args.results / "db", orders=args.orders)
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(seed_path, database)
    return f"sqlite:///{database}", seeded


IN_PROCESS_ORDERS = 20_000
"""Orders the in-process figures create one use case call at a time (a million would take long)."""


def _in_process(kinds: tuple[str, ...], postgres: str | None) -> str:
    """The store benchmark's figures (``bench/store.py``: use cases on the stores ``kinds``, no HTTP),
    run here so that one ``make bench`` gives both."""
    print(f"  in process: bench/store.py on the stores {', '.join(kinds)}", file=sys.stderr, flush=True)
    try:
        from bench import store
    except ImportError:
        return "### In process\n\n`bench/store.py` (the store benchmark) is not in this tree yet.\n"

    rows = []
    for name in kinds:
        with tempfile.TemporaryDirectory() as folder:
            uow, path = fresh_store(name, Path(folder), **({"postgres": postgres} if postgres else {}))
            try:
                rows.append(store.measure(name, uow, orders=IN_PROCESS_ORDERS, walk_budget=10.0, path=path))
            finally:
                uow.close()
    return (
        f"### In process, {IN_PROCESS_ORDERS:,} orders (`bench/store.py`: use cases, no HTTP)\n\n"
        + store.table(rows) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load Kitflow and the ceiling app with wrk; report ratios.")
    parser.add_argument("--orders", type=int, default=20_000, help="orders in the seeded database (default 20,000)")
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="seconds of load per scenario and server, split into the rounds (whole seconds each)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds per scenario, each loading the ceiling then Kitflow for SECONDS/ROUNDS")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--profile", action="store_true", help="also profile Kitflow under each load with py-spy")
    parser.add_argument("--only", nargs="*", help="run only these scenarios (create fetch page1 page800 pages cursor invalid)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per request of both apps under callgrind (valgrind)")
    parser.add_argument("--database", metavar="URL",
                        help="serve PostgreSQL (postgresql://...; this database is dropped, made again and seeded)"
                        " instead of the cached SQLite file; the in-process figures then include PostgreSQL")
    parser.add_argument("--no-inprocess", action="store_true", help="skip the in-process figures")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.database and not args.database.lower().startswith(("postgresql://", "postgres://")):
        parser.error("--database takes a postgresql:// URL (the SQLite file is the default)")
    if args.database and args.instructions:
        parser.error("--instructions runs on the SQLite file only")
    report = run(args)
    latest = args.results / "latest.md"
    latest.write_text(report)
    print(report)
    print(f"(written to {latest})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
