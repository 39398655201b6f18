"""The operator's one-shot commands: ``customer create`` and ``migrate``."""

from __future__ import annotations

import argparse
import sys

import msgspec

from kitflow.domain.errors import DomainError
from kitflow.domain.identity import OPERATOR
from kitflow.services import access
from kitflow.services.clock import SystemClock
from kitflow_adapters.cli.database import is_memory, open_database, schema_version, shown
from kitflow_adapters.cli.failure import Failure


def create_customer(args: argparse.Namespace) -> int:
    """``kitflow customer create NAME``: prints ``{"id", "name", "apiKey"}`` as one JSON line.
    Raises Failure for a bad name or database."""
    url, store = open_database(args.database)
    try:
        made = access.create_customer(args.name, caller=OPERATOR, uow=store, clock=SystemClock())
    except DomainError as error:
        said = "; ".join(f"{p.field} {p.message}" for p in error.problems) or error.detail
        raise Failure(f"cannot create the customer: {said}", status=2) from None
    finally:
        store.close()
    line = msgspec.json.encode({"id": made.id, "name": made.name, "apiKey": made.api_key}).decode()
    print(line, flush=True)
    if is_memory(url):
        print("kitflow: note: memory:// keeps nothing once this command ends", file=sys.stderr)
    return 0


def migrate(args: argparse.Namespace) -> int:
    """``kitflow migrate``: creates or migrates the schema and says which version it is at.
    Raises Failure for a bad database."""
    url, store = open_database(args.database)
    store.close()
    version = schema_version(url)
    if version is None:
        print(f"{shown(url)} has no schema to migrate: it starts empty in every process")
    else:
        print(f"{shown(url)}: the schema is at version {version}, the newest this Kitflow knows")
    return 0
