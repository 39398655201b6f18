"""Instructions per request, counted by valgrind's callgrind: Kitflow's app against the ceiling's,
each request driven in process through the ASGI interface (no server, no socket, no kernel).

Unlike rates and CPU times, an instruction count does not depend on what else the machine is doing:
the same code and data give the same count, so this ratio moves only when the code does. It leaves
out what both apps share outside the app (uvicorn's HTTP parsing, the kernel's TCP), which the wrk
figures include. ``make bench INSTRUCTIONS=1`` adds it to the report (valgrind from Debian's
packages; a few minutes).

The driver, run under callgrind as ``python -m bench.http.instructions APP SCENARIO N ...``, warms the
app up, turns instrumentation on (``callgrind_control -i on``), sends N requests, and turns it off.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.http.scenarios import LISTS, Scenario

REQUESTS = 60
"""Requests counted per app and scenario (list pages: a third of it)."""
WARMUP = 300
"""Requests sent before counting: what wrk's warm-up second does (thousands of requests), so that
what a server remembers of the seeded data (patients, items, kits) is counted as wrk finds it."""


def _app(name: str, *, database: Path | None, bodies: Path | None) -> Any:
    if name == "ceiling":
        from bench.ceiling import build_app as ceiling_app

        assert bodies is not None
        return ceiling_app({key: text.encode() for key, text in json.loads(bodies.read_text()).items()})
    import logging.config

    from kitflow_adapters.bootstrap import open_store
    from kitflow_adapters.cli.logs import log_config
    from kitflow_adapters.http.app import build_app

    logging.config.dictConfig(log_config())  # the access log as `kitflow serve` writes it (to stdout)
    return build_app(open_store(f"sqlite:///{database}"), operator_digest=None)


async def _drive(app: Any, scenario: Scenario, *, key: str, count: int, run: str, toggle: bool) -> None:
    path, _, query = scenario.path.partition("?")
    span = scenario.hi - scenario.lo + 1

    async def one(n: int) -> int:
        current = str(scenario.lo + (n * 7919) % span)
        body = (scenario.body or "").replace("@ID@", current).replace("@SEQ@", f"{run}-{n}").encode()
        headers = [(b"host", b"127.0.0.1"), (b"impilo-api-key", key.encode()), (b"user-agent", b"bench")]
        if scenario.body is not None:
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": scenario.method, "scheme": "http", "path": path.replace("@ID@", current),
            "raw_path": path.replace("@ID@", current).encode(),
            "query_string": query.replace("@ID@", current).encode(), "root_path": "",
            "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
        }
        delivered = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    for n in range(WARMUP):
        await one(10**6 + n)
    # a full collection of the heap (~19 M instructions, every few thousand requests) would fall in
    # the counted window or not by chance: start it just after one, so that a count is repeatable
    gc.collect()
    if toggle:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=False)
    statuses = [await one(n) for n in range(count)]
    if toggle:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True, check=False)
    wrong = [s for s in statuses if s != scenario.expected]
    if wrong:
        raise SystemExit(f"{scenario.name}: {len(wrong)} answers were not {scenario.expected} (first {wrong[0]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Drive one app in process (under callgrind).")
    parser.add_argument("app", choices=("kitflow", "ceiling"))
    parser.add_argument("scenario", type=Path, help="the scenario as JSON")
    parser.add_argument("count", type=int)
    parser.add_argument("--database", type=Path)
    parser.add_argument("--bodies", type=Path)
    parser.add_argument("--key", required=True)
    parser.add_argument("--run", default="i")
    parser.add_argument("--no-toggle", action="store_true")
    args = parser.parse_args(argv)
    import msgspec

    scenario = msgspec.json.decode(args.scenario.read_bytes(), type=Scenario)
    app = _app(args.app, database=args.database, bodies=args.bodies)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the access log lines
    asyncio.run(_drive(app, scenario, key=args.key, count=args.count, run=args.run, toggle=not args.no_toggle))
    return 0


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _remove(files: tuple[Path, ...]) -> None:
    for file in files:
        file.unlink(missing_ok=True)


def _count(app: str, scenario: Scenario, *, work: Path, database: Path, bodies: Path, key: str) -> float:
    """Instructions per request of ``app`` on ``scenario``. Raises RuntimeError when valgrind fails."""
    count = REQUESTS // 3 if scenario.name in LISTS else REQUESTS
    spec = work / f"instructions-{scenario.name}.json"
    import msgspec

    spec.write_bytes(msgspec.json.encode(scenario))
    copy = work / f"instructions-{app}-{scenario.name}.db"
    files = (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm"))
    _remove(files)  # a WAL left by an earlier run would be replayed into the fresh copy: corrupt
    if app == "kitflow":
        shutil.copyfile(database, copy)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
         sys.executable, "-m", "bench.http.instructions", app, str(spec), str(count), "--database", str(copy),
         "--bodies", str(bodies), "--key", key, "--run", f"i{os.getpid()}"],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[2],
    )
    _remove(files)  # the driver exits without closing the store: its WAL stays
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind of {app} on {scenario.name} failed: {done.stderr[-600:]}")
    return int(found.group(1)) / count


def measure(plan: list[Scenario], *, work: Path, database: Path, bodies: Path, key: str) -> str:
    """The markdown section: instructions per request, Kitflow and ceiling, and their ratio."""
    if shutil.which("valgrind") is None:
        return "### Instructions per request\n\nvalgrind is not installed (`apt-get install valgrind`).\n"
    jobs = [(app, scenario) for scenario in plan for app in ("ceiling", "kitflow")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(
            lambda job: _count(job[0], job[1], work=work, database=database, bodies=bodies, key=key), jobs
        ))
    by = {(app, scenario.name): value for (app, scenario), value in zip(jobs, counts, strict=True)}
    lines = [
        "### Instructions per request, in process (callgrind)",
        "",
        "The app alone, driven through ASGI (no uvicorn, no socket): a count that does not move with the "
        "machine's load. Ratio = ceiling ÷ Kitflow, comparable with the throughput ratios above.",
        "",
        "| scenario | Kitflow instructions | ceiling instructions | ratio |",
        "|---|---:|---:|---:|",
    ]
    for scenario in plan:
        kitflow, ceiling = by[("kitflow", scenario.name)], by[("ceiling", scenario.name)]
        lines.append(f"| {scenario.title} | {kitflow:,.0f} | {ceiling:,.0f} | **{ceiling / kitflow:.2f}** |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
