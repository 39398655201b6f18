"""The processes of a ``kitflow serve``: its workers, which of them holds a connection, and killing
them all at once (``kill -9``), read from /proc (Linux)."""

from __future__ import annotations

import http.client
import os
import signal
from pathlib import Path


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def kill_all(pid: int) -> set[int]:
    """``kill -9`` the process ``pid`` and every child it had: no worker is left to finish anything.
    The parent dies first, so that no new worker is started meanwhile. Returns the children killed."""
    workers = children(pid)
    os.kill(pid, signal.SIGKILL)
    for worker in workers:
        try:
            os.kill(worker, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return workers


def _server_socket(server_port: int, client_port: int) -> str | None:
    """The inode link (``socket:[N]``) of the server's side of the loopback connection from
    ``client_port`` to ``server_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return f"socket:[{fields[9]}]"
    return None


def owner(connection: http.client.HTTPConnection, workers: set[int]) -> int | None:
    """Which of ``workers`` holds the server's side of ``connection`` (connected, loopback, IPv4)."""
    assert connection.sock is not None, "connect first"
    link = _server_socket(connection.port, connection.sock.getsockname()[1])
    if link is None:
        return None
    for pid in workers:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                    return pid
            except OSError:
                continue
    return None
