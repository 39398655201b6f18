"""docs/operations.md, run as written: the online backups of the SQLite file, taken while a real
``kitflow serve`` is writing to it."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

from kitflow.domain.identity import customer
from kitflow.domain.order import OrderFilter
from kitflow.domain.patient import PatientFilter
from kitflow.services.listing import ListRequest
from kitflow.services.orders import list_orders
from kitflow.services.patients import list_patients
from kitflow_adapters.bootstrap import open_store
from tests.cli.served import PATIENCE, served

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
ADDRESS = {"lineOne": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701", "country": "US"}


def _backup_commands() -> list[str]:
    text = OPERATIONS.read_text()
    section = text[text.index("\n## Backups of the SQLite file\n") :]
    section = section[: section.index("\n## ", 1)]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for line in block.splitlines() if line.strip()]


def _counts(path: Path) -> tuple[int, int]:
    """(orders, patients) of the demo customer in the database file at ``path``."""
    store = open_store(f"sqlite:///{path}")
    try:
        me = customer(1)
        orders = list_orders(OrderFilter(), ListRequest(size=1), caller=me, uow=store).total
        return orders, list_patients(PatientFilter(), ListRequest(size=1), caller=me, uow=store).total
    finally:
        store.close()


def test_the_documented_backups_are_whole_and_consistent_while_kitflow_writes(tmp_path: Path) -> None:
    commands = _backup_commands()
    assert len(commands) == 2 and all(c.startswith("sqlite3 kitflow.db ") for c in commands)
    with served("--demo", cwd=tmp_path) as server:  # the default database: kitflow.db in the working folder
        key = server.wait_for(r"^Demo customer key \(shown this once\): (\S+)$").group(1)
        with server.client(key) as api:
            demo_orders = api.get("/api/v3/order").json()["total"]
            demo_patients = api.get("/api/v3/patient").json()["total"]
        stop, written = threading.Event(), []

        def write() -> None:
            with server.client(key) as api:
                while not stop.is_set():
                    answer = api.post("/api/v3/patient", json={"firstName": "Backup", "lastName": f"Load {len(written)}",
                                                               "address": ADDRESS})
                    assert answer.status_code == 201
                    written.append(answer.json()["id"])

        writer = threading.Thread(target=write)
        writer.start()
        try:
            while len(written) < 20 and writer.is_alive():  # back up in the middle of a stream of writes
                stop.wait(0.05)
            assert writer.is_alive(), "the writer stopped: see its error above"
            for command in commands:
                subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=tmp_path, check=True, timeout=PATIENCE)
        finally:
            stop.set()
            writer.join(timeout=PATIENCE)
        assert len(written) > 20
        for backup in ("kitflow-backup.db", "kitflow-compact.db"):
            path = tmp_path / backup
            assert not Path(f"{path}-wal").exists()
            check = subprocess.run(["sqlite3", str(path), "PRAGMA integrity_check"], capture_output=True, text=True,
                                   timeout=PATIENCE, check=True)
            assert check.stdout.strip() == "ok"
            orders, patients = _counts(path)
            assert orders == demo_orders
            assert demo_patients + 20 <= patients <= demo_patients + len(written)
