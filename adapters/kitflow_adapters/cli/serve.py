"""``kitflow serve``: the HTTP API on uvicorn, in one process or in N sharing one port (ADR 0004)."""

from __future__ import annotations

import argparse
import os
import signal
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from kitflow.domain.ports import UnitOfWork
from kitflow.services import access
from kitflow.services.clock import SystemClock
from kitflow_adapters.bootstrap import database_url
from kitflow_adapters.cli.database import is_memory, open_database, shown
from kitflow_adapters.cli.demo import seed_demo
from kitflow_adapters.cli.failure import Failure
from kitflow_adapters.cli.listener import listen, url_of
from kitflow_adapters.cli.logs import log_config
from kitflow_adapters.cli.main import installed_version

APP_FACTORY = "kitflow_adapters.bootstrap:create_app"
"""What each worker process imports: it reads KITFLOW_DATABASE_URL and KITFLOW_OPERATOR_KEY."""


def serve(args: argparse.Namespace) -> int:
    """Open (and migrate) the database, make the operator key if needed, load the demo if asked,
    then serve until SIGTERM or SIGINT, letting requests in flight finish. Returns 0 after a clean
    shutdown. Raises Failure for a bad database, a busy port, or memory:// with several workers."""
    url = database_url(args.database)
    if is_memory(url) and args.workers > 1:
        raise Failure(
            f"memory:// keeps its data inside one process: with --workers {args.workers} each worker would "
            "have its own, separate data. Use --workers 1, or a sqlite:/// or postgresql:// database."
        )
    sock = listen(args.host, args.port)
    try:
        url, store = open_database(url)
        base = url_of(sock, args.host)
        operator_key = os.environ.get("KITFLOW_OPERATOR_KEY") or None
        try:
            _prepare(store, args=args, base=base, operator_key=operator_key)
        except BaseException:
            store.close()
            raise
        workers = "1 worker" if args.workers == 1 else f"{args.workers} workers"
        _say(f"Kitflow {installed_version()} serving {base} with {workers} on {shown(url)}"
             " (Ctrl+C or SIGTERM stops it; requests in flight finish first)")
        if args.workers == 1:
            return _run_one(store, sock, args=args, operator_key=operator_key)
        store.close()
        os.environ["KITFLOW_DATABASE_URL"] = url  # each worker opens its own store from the environment
        return _run_many(sock, args=args)
    finally:
        sock.close()


def _say(text: str) -> None:
    print(text, flush=True)


def _prepare(store: UnitOfWork, *, args: argparse.Namespace, base: str, operator_key: str | None) -> None:
    """The operator key (made and shown once, unless configured) and the demo data (when asked)."""
    clock = SystemClock()
    if operator_key is None:
        made = access.ensure_operator_key(uow=store, clock=clock)
        if made is not None:
            _say("Operator key, made now and stored only as a hash (it is shown this once; keep it,\n"
                 f"or set KITFLOW_OPERATOR_KEY to use your own):\n    {made}")
    if not args.demo:
        return
    demo = seed_demo(uow=store, clock=clock)
    if demo is None:
        _say("Demo: the database already holds data, so --demo changed nothing.")
        return
    _say(f'Demo data loaded: customer "{demo.name}" (id {demo.id}) with {demo.items} catalog items, '
         f"{demo.sites} sites, {demo.patients} patients, {demo.kits} kits and {demo.orders} orders.")
    _say(f"Demo customer key (shown this once): {demo.api_key}")
    _say(f"Try it:\n    curl -s -H 'Impilo-API-Key: {demo.api_key}' '{base}/api/v3/order?size=3'")


def _config(app: object, args: argparse.Namespace, **extra: object) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=log_config(),
        access_log=False,  # the app writes one structured access line per request
        timeout_graceful_shutdown=args.shutdown_timeout,
        **extra,  # type: ignore[arg-type]
    )


def _run_one(store: UnitOfWork, sock: socket.socket, *, args: argparse.Namespace, operator_key: str | None) -> int:
    """Serve in this process on the store already open (so memory:// keeps the demo data)."""
    from kitflow_adapters.bootstrap import app_on

    app = app_on(store, operator_key=operator_key)
    server = uvicorn.Server(_config(app, args))
    # uvicorn re-raises the stopping signal once it has shut down; let it land on the server's own
    # handler (which only notes it) so that a clean shutdown exits with 0. Before the server runs,
    # the same handler makes it stop as soon as it has started.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, server.handle_exit)
    try:
        server.run(sockets=[sock])
    finally:
        store.close()
    if not server.started:
        raise Failure("the server did not start; see the log above")
    return 0


def _run_many(sock: socket.socket, *, args: argparse.Namespace) -> int:
    """Serve with ``args.workers`` processes sharing ``sock``; each builds the app from the factory."""
    supervisor = Multiprocess(_config(APP_FACTORY, args, factory=True), sockets=[sock])
    supervisor.run()
    if any(process.exitcode == uvicorn.config.STARTUP_FAILURE for process in supervisor.processes):
        raise Failure("a worker could not start; see the log above")
    return 0
