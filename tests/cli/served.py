"""Real ``kitflow`` processes for the command's tests: one-shot commands, and a server to talk to."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

KITFLOW = str(Path(sys.executable).with_name("kitflow"))
PATIENCE = 60.0
"""How long a process may take to start or stop before the test gives up on it (a hang guard only)."""


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without Kitflow's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITFLOW_")}
    env.update(extra)
    return env


def run_kitflow(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``kitflow *args`` to its end."""
    return subprocess.run(
        [KITFLOW, *args], cwd=cwd, env=env or environment(), capture_output=True, text=True, timeout=PATIENCE
    )


class Served:
    """A running ``kitflow serve``: its output, line by line as it comes, and its address."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [KITFLOW, "serve", "--port", "0", *args], cwd=cwd, env=env or environment(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()
        try:
            self.base = self.wait_for(r"serving (http://\S+)").group(1)
            self._wait_until_healthy()
        except BaseException:
            self.kill()
            raise

    def _read(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, *, stream: str = "out", count: int = 1) -> re.Match[str]:
        """The ``count``-th line of stdout (or stderr) matching ``pattern``, once it has come.
        Fails the test when the process ends or stays silent for PATIENCE seconds first."""
        lines = self.out if stream == "out" else self.err
        deadline = time.monotonic() + PATIENCE
        with self._changed:
            while True:
                found = [m for m in map(re.compile(pattern).search, lines) if m]
                if len(found) >= count:
                    return found[count - 1]
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"no {pattern!r} in {stream}; out={self.out} err={self.err}")
                self._changed.wait(0.2)

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server never became healthy; out={self.out} err={self.err}")
            time.sleep(0.1)

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def client(self, key: str | None = None) -> httpx.Client:
        """An HTTP client for this server, sending ``key`` as the API key."""
        return httpx.Client(base_url=self.base, headers={"Impilo-API-Key": key} if key else {}, timeout=30)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the process to end; its exit status."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=PATIENCE)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=PATIENCE)


@contextmanager
def served(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``kitflow serve *args`` on a free loopback port, stopped (SIGTERM, then SIGKILL) afterwards."""
    server = Served(*args, cwd=cwd, env=env)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            try:
                server.stop()
            except subprocess.TimeoutExpired:
                server.kill()


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
