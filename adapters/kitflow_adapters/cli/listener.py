"""The listening socket, bound before anything else starts, so a busy port is a clear error."""

from __future__ import annotations

import errno
import socket

from kitflow_adapters.cli.failure import Failure


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening; the server does that). Raises
    Failure when the port is in use, the address is not this machine's, or the host is unknown."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restarts need not wait out TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise Failure(
                f"port {port} on {host} is already in use: stop what is listening there, or choose another --port"
            ) from None
        if error.errno == errno.EACCES:
            raise Failure(f"no permission to listen on port {port} (ports below 1024 need privileges)") from None
        raise Failure(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    """The base URL a client on this machine uses to reach ``sock`` (a wildcard host becomes loopback)."""
    port = sock.getsockname()[1]
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
