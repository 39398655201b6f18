"""The benchmark's markdown report: Kitflow's figures as ratios to the ceiling's, against the targets."""

from __future__ import annotations

import os
import platform
import sqlite3
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import msgspec

from bench.http.load import Load, WrkResult
from bench.http.scenarios import EXTRA, Scenario

MEMORY_TARGET = 1.5
"""Kitflow's peak memory under load, at most this many times the ceiling's."""
DEEP_TARGET = 1.5
"""The deep cursor page's latency, at most this many times page 1's."""


class Measured(msgspec.Struct, kw_only=True):
    scenario: Scenario
    kitflow: WrkResult
    ceiling: WrkResult


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f}"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def machine() -> str:
    """One line describing this machine and the software measured."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}; Python {platform.python_version()}, "
        f"Litestar {ver('litestar')}, uvicorn {ver('uvicorn')}, msgspec {ver('msgspec')}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def table(rows: Sequence[Measured], *, orders: int, load: Load, rounds: int, started: str, loadavg: str,
          store: str = "SQLite") -> str:
    """The markdown section of one run, ``kitflow serve`` on ``store``."""
    lines = [
        f"### HTTP, {store}, {orders:,} orders ({started})",
        "",
        f"wrk {load.threads} threads, {load.connections} connections, {load.seconds:g} s per scenario and server "
        f"(in {rounds} alternating rounds: ceiling, Kitflow, ceiling, ...); "
        f"`kitflow serve` on the {store} store, one worker; load average before the run {loadavg}.",
        "",
        "| scenario | Kitflow req/s | ceiling req/s | **throughput ratio** | target | p50 ms Kitflow / ceiling "
        "| p99 ms Kitflow / ceiling | latency ratio p50 / p99 | errors Kitflow / ceiling "
        "| peak RSS MiB Kitflow / ceiling | memory ratio | server CPU µs/request Kitflow / ceiling |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        k, c, s = row.kitflow, row.ceiling, row.scenario
        ratio = k.rate / c.rate
        target = f"≥ {s.target:.2f} {_verdict(ratio >= s.target)}" if s.target is not None else "—"
        lines.append(
            f"| {s.title} | {k.rate:,.0f} | {c.rate:,.0f} | **{ratio:.2f}** | {target} "
            f"| {_ms(k.p50_us)} / {_ms(c.p50_us)} | {_ms(k.p99_us)} / {_ms(c.p99_us)} "
            f"| {k.p50_us / c.p50_us:.2f} / {k.p99_us / c.p99_us:.2f} | {k.errors} / {c.errors} "
            f"| {_mib(k.peak_rss)} / {_mib(c.peak_rss)} | {k.peak_rss / c.peak_rss:.2f} "
            f"| {k.cpu_us:,.0f} / {c.cpu_us:,.0f} |"
        )
    by_name = {row.scenario.name: row for row in rows}
    if "page1" in by_name and "cursor" in by_name:
        first, deep = by_name["page1"].kitflow, by_name["cursor"].kitflow
        p50, p99 = deep.p50_us / first.p50_us, deep.p99_us / first.p99_us
        lines += [
            "",
            f"- Deep cursor page (page 800 by cursor) against page 1, Kitflow latency: p50 {p50:.2f}×, "
            f"p99 {p99:.2f}× (target ≤ {DEEP_TARGET}×: {_verdict(p50 <= DEEP_TARGET)}).",
        ]
    issued = [row for row in rows if row.scenario.name != EXTRA] or list(rows)
    kitflow_peak = max(row.kitflow.peak_rss for row in issued)
    ceiling_peak = max(row.ceiling.peak_rss for row in issued)
    memory = kitflow_peak / ceiling_peak
    lines.append(
        f"- Peak memory under the issue's loads: Kitflow {_mib(kitflow_peak)} MiB, ceiling "
        f"{_mib(ceiling_peak)} MiB, ratio {memory:.2f} (target ≤ {MEMORY_TARGET}: {_verdict(memory <= MEMORY_TARGET)})."
    )
    if len(issued) < len(rows):
        everything = max(row.kitflow.peak_rss for row in rows) / max(row.ceiling.peak_rss for row in rows)
        lines.append(f"- Peak memory after every scenario (with {EXTRA}, run last): ratio {everything:.2f}.")
    lines.append(f"- Machine: {machine()}.")
    return "\n".join(lines) + "\n"
