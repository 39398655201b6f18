"""Where Kitflow's time goes under load: py-spy samples the server while wrk runs each scenario.

Every sample is a Python stack of a thread that was running (idle threads are left out). A
function's *self* share is the fraction of samples in which it was the innermost frame (time in
C code, such as SQLite or msgspec, counts for the Python function that called it); its *total*
share counts the samples in which it was anywhere on the stack. Samples are also summed by area:
Kitflow's core, its HTTP and SQLite adapters, Litestar, uvicorn, asyncio and the rest.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.http.load import Load, Server, run_wrk
from bench.http.scenarios import Scenario, write_body

TOP = 12
AREAS = (
    ("kitflow_adapters/http/", "Kitflow HTTP adapter"),
    ("kitflow_adapters/sqlite/", "Kitflow SQLite store"),
    ("kitflow_adapters/", "Kitflow other adapters"),
    ("kitflow/", "Kitflow core"),
    ("litestar/", "Litestar"),
    ("uvicorn/", "uvicorn"),
    ("msgspec/", "msgspec"),
    ("asyncio/", "asyncio"),
    ("anyio/", "anyio (thread hand-off)"),
    ("threading.py", "threads"),
    ("concurrent/", "threads"),
    ("logging/", "logging"),
)


def _area(frame: str) -> str:
    path = frame.rsplit("(", 1)[-1]
    for marker, name in AREAS:
        if marker in path:
            return name
    return "other (stdlib, ...)"


def _short(frame: str) -> str:
    """``function (file:line)`` with the file's path cut to its package and without the line."""
    name, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/adapters/", "/src/", "/lib/python3.11/", "/bench/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def summarise(raw: str) -> tuple[int, list[tuple[str, float, float]], list[tuple[str, float]]]:
    """From py-spy's raw output (``frame;frame;... count`` per line): the number of samples, the
    top functions as (name, self share, total share), and the share of each area by innermost frame."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        if not frames:
            continue
        samples += count
        own[_short(frames[-1])] += count
        areas[_area(frames[-1])] += count
        for name in {_short(frame) for frame in frames}:
            total[name] += count
    if not samples:
        return 0, [], []
    top = [(name, count / samples, total[name] / samples) for name, count in own.most_common(TOP)]
    return samples, top, [(name, count / samples) for name, count in areas.most_common()]


def _py_spy() -> str:
    found = Path(sys.executable).with_name("py-spy")
    if not found.exists():
        raise RuntimeError("py-spy is not installed: `make bench` installs the bench extra")
    return str(found)


def profile_one(server: Server, scenario: Scenario, *, load: Load, key: str, work: Path, run: str) -> str:
    """Profile the server while wrk runs ``scenario``; returns the markdown of what it found."""
    output = work / f"profile-{scenario.name}.txt"
    spy = subprocess.Popen(
        [_py_spy(), "record", "--pid", str(server.process.pid), "--duration", f"{max(1, int(load.seconds) - 1)}",
         "--rate", "200", "--format", "raw", "--output", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    body = write_body(work, scenario)
    result = run_wrk(
        server, load=load, expected=scenario.expected, method=scenario.method, path=scenario.path, key=key,
        body=body, lo=scenario.lo, hi=scenario.hi, run=run + scenario.name,
    )
    _, errors = spy.communicate()
    if spy.returncode != 0 or not output.exists():
        return f"#### {scenario.title}\n\npy-spy failed: {errors.decode(errors='replace').strip()[:300]}\n"
    samples, top, areas = summarise(output.read_text())
    lines = [
        f"#### {scenario.title} ({result.rate:,.0f} req/s while sampled; {samples:,} samples of running threads)",
        "",
        "By area (innermost frame): " + ", ".join(f"{name} {share:.0%}" for name, share in areas if share >= 0.01),
        "",
        "| function (innermost frame) | self | total |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{name}` | {own:.1%} | {whole:.1%} |" for name, own, whole in top]
    return "\n".join(lines) + "\n"


def profile_all(
    server: Server, plan: Sequence[Scenario], *, load: Load, key: str, work: Path, run: str, only: Sequence[str] | None
) -> str:
    """The profile section of the report: one table per scenario."""
    parts = ["### Profile of `kitflow serve` under each load (py-spy)", "", __doc__.split("\n\n", 1)[1].strip(), ""]
    for scenario in plan:
        if only and scenario.name not in only:
            continue
        print(f"  profiling {scenario.title}", file=sys.stderr, flush=True)
        parts.append(profile_one(server, scenario, load=load, key=key, work=work, run=run))
    return "\n".join(parts)
