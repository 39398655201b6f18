"""Server processes under load: starting and stopping them, sampling their memory, running wrk.

A server's memory is its resident set (``VmRSS`` in ``/proc/PID/status``, summed over the process
and its children), sampled every few milliseconds while wrk runs; its peak is what is reported.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import msgspec

LUA = Path(__file__).with_name("request.lua")


class WrkResult(msgspec.Struct, kw_only=True):
    """What one wrk run measured (latencies in microseconds) and the server's peak memory."""

    requests: int
    duration_us: int
    bytes: int
    connect: int
    read: int
    write: int
    status: int
    timeout: int
    unexpected: int
    unexpected_statuses: str
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int
    peak_rss: int = 0
    cpu_seconds: float = 0.0
    """CPU time (user and system) the server spent during the run."""

    @property
    def rate(self) -> float:
        return self.requests / (self.duration_us / 1e6)

    @property
    def cpu_us(self) -> float:
        """The server's CPU time per request, in microseconds: less noisy than the rate on a shared machine."""
        return self.cpu_seconds * 1e6 / max(self.requests, 1)

    @property
    def errors(self) -> int:
        """Socket errors, timeouts, and responses with a status other than the expected one."""
        return self.connect + self.read + self.write + self.timeout + self.unexpected


def combined(results: Sequence[WrkResult]) -> WrkResult:
    """Several runs of one scenario on one server as one: counts and times added, latency
    percentiles the median of the runs' (wrk gives no histogram to merge), the peak the largest."""
    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    return WrkResult(
        requests=sum(r.requests for r in results),
        duration_us=sum(r.duration_us for r in results),
        bytes=sum(r.bytes for r in results),
        connect=sum(r.connect for r in results),
        read=sum(r.read for r in results),
        write=sum(r.write for r in results),
        status=sum(r.status for r in results),
        timeout=sum(r.timeout for r in results),
        unexpected=sum(r.unexpected for r in results),
        unexpected_statuses=" ".join(sorted({s for r in results for s in r.unexpected_statuses.split()})),
        p50_us=int(median([r.p50_us for r in results])),
        p90_us=int(median([r.p90_us for r in results])),
        p99_us=int(median([r.p99_us for r in results])),
        mean_us=sum(r.mean_us * r.requests for r in results) / max(1, sum(r.requests for r in results)),
        max_us=max(r.max_us for r in results),
        peak_rss=max(r.peak_rss for r in results),
        cpu_seconds=sum(r.cpu_seconds for r in results),
    )


def free_port() -> int:
    """A TCP port on the loopback interface that nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", "rb") as children:
                    pending.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


def _cpu(pid: int) -> float:
    """CPU seconds (user and system, all threads) used so far by ``pid`` and its descendants."""
    total = 0
    for current in _descendants(pid):
        try:
            with open(f"/proc/{current}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / _TICK


def _rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (0 for a process that is gone)."""
    total = 0
    for current in _descendants(pid):
        try:
            with open(f"/proc/{current}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


class Server:
    """A server process on a loopback port, started by ``command`` and stopped with SIGTERM."""

    def __init__(self, name: str, command: Sequence[str], *, port: int, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            list(command), env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until ``GET /health`` answers 200. Raises RuntimeError when the process exits or
        does not answer within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self._log.name}")
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer on {self.base} within {timeout:g} s")

    def rss(self) -> int:
        return _rss(self.process.pid)

    def cpu(self) -> float:
        return _cpu(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


class _Sampler(threading.Thread):
    """Samples a server's RSS until stopped; ``peak`` is the largest sample."""

    def __init__(self, server: Server, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self._server = server
        self._interval = interval
        self._halt = threading.Event()
        self.peak = server.rss()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, self._server.rss())
            self._halt.wait(self._interval)

    def finish(self) -> int:
        self._halt.set()
        self.join()
        self.peak = max(self.peak, self._server.rss())
        return self.peak


def wrk_binary() -> str:
    """The wrk executable. Raises RuntimeError when it is not installed (``make bench`` installs it)."""
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return found


class Load(msgspec.Struct, frozen=True, kw_only=True):
    """How hard wrk pushes: threads, open connections, seconds."""

    threads: int = 2
    connections: int = 16
    seconds: float = 6.0


def run_wrk(
    server: Server,
    *,
    load: Load,
    expected: int,
    method: str,
    path: str,
    key: str,
    body: Path | None,
    lo: int,
    hi: int,
    run: str,
    seconds: float | None = None,
) -> WrkResult:
    """One wrk run of one scenario against ``server``, sampling its memory meanwhile. Raises
    RuntimeError when wrk fails or prints no result."""
    command = [
        wrk_binary(), f"-t{load.threads}", f"-c{load.connections}", f"-d{max(1, round(seconds or load.seconds))}s",  # wrk takes whole seconds
        "--timeout", "10s", "-s", str(LUA), server.base, "--",
        str(expected), method, path, key, str(body) if body else "-", str(lo), str(hi), run,
    ]
    sampler = _Sampler(server)
    sampler.start()
    cpu_before = server.cpu()
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        cpu = server.cpu() - cpu_before
        peak = sampler.finish()
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            result = msgspec.convert(json.loads(line[len("BENCH "):]), WrkResult)
            result.peak_rss = peak
            result.cpu_seconds = cpu
            return result
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
