"""The ``kitflow`` command: ``serve``, ``customer create``, ``migrate``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from kitflow_adapters.cli.failure import Failure

DATABASE_HELP = "database URL: sqlite:///relative.db, sqlite:////absolute.db, memory:// or postgresql://... " \
    "(default: $KITFLOW_DATABASE_URL, else sqlite:///kitflow.db)"


def installed_version() -> str:
    """The version of the installed kitflow distribution."""
    try:
        return version("kitflow")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535, not {value}")
    return value


_positive.__name__ = "number"  # argparse names the type in its messages
_port.__name__ = "port"


def parser() -> argparse.ArgumentParser:
    """The command line of ``kitflow``, every command with its ``--help``."""
    root = argparse.ArgumentParser(
        prog="kitflow",
        description="Kitflow: order management for remote-patient-monitoring devices, speaking the Impilo v3 API.",
    )
    root.add_argument("--version", action="version", version=f"kitflow {installed_version()}")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="serve the HTTP API",
        description="Serve the HTTP API. The schema is created or migrated first. Without "
        "KITFLOW_OPERATOR_KEY, an operator key is made (once, when none is stored) and printed.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default: 8000; 0 picks a free one)")
    serve.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    serve.add_argument("--workers", type=_positive, default=1, metavar="N",
                       help="server processes sharing the port (default: 1)")
    serve.add_argument("--demo", action="store_true",
                       help="fill an empty database with demo data and print the demo customer's key")
    serve.add_argument("--shutdown-timeout", type=_positive, default=30, metavar="SECONDS",
                       help="on SIGTERM or SIGINT, how long requests in flight may take to finish (default: 30)")

    customer = commands.add_parser("customer", help="manage customers", description="Manage customers.")
    customer_commands = customer.add_subparsers(dest="customer_command", metavar="COMMAND", required=True)
    create = customer_commands.add_parser(
        "create", help="create a customer and print its first key",
        description='Create a customer and print {"id", "name", "apiKey"} as one JSON line. '
        "The key is shown only this once.",
    )
    create.add_argument("name", metavar="NAME", help="the customer's name")
    create.add_argument("--database", metavar="URL", help=DATABASE_HELP)

    migrate = commands.add_parser(
        "migrate", help="create or migrate the database schema",
        description="Create the schema, or migrate it to this version of Kitflow, and say which version it is "
        "at. Safe to run on a database that is up to date. (serve does this too.)",
    )
    migrate.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names; returns the exit status (0, or 1 with a message on stderr)."""
    args = parser().parse_args(argv)
    try:
        if args.command == "serve":
            from kitflow_adapters.cli.serve import serve

            return serve(args)
        if args.command == "customer":
            from kitflow_adapters.cli.admin import create_customer

            return create_customer(args)
        from kitflow_adapters.cli.admin import migrate

        return migrate(args)
    except Failure as failure:
        print(f"kitflow: error: {failure.message}", file=sys.stderr)
        return failure.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
