"""The core and the memory store work in a plain Python program with no web or database library."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys

    FORBIDDEN = ("litestar", "sqlite3", "_sqlite3", "sqlite_utils", "psycopg", "psycopg_pool", "uvicorn",
                 "httpx", "hypothesis")

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())

    from kitflow.domain.catalog import ItemDraft
    from kitflow.domain.identity import OPERATOR, customer
    from kitflow.domain.order import OrderItem, PlaceOrder
    from kitflow.domain.patient import PatientDraft
    from kitflow.domain.values import Address
    from kitflow.services import access, catalog, orders, patients
    from kitflow.services.clock import SystemClock
    from kitflow_adapters.memory import MemoryStore

    uow, clock = MemoryStore(), SystemClock()
    acme = access.create_customer("Acme", caller=OPERATOR, uow=uow, clock=clock)
    me = access.authenticate(acme.api_key, uow=uow)
    item = catalog.create_item(ItemDraft(name="Cuff", sku="BP-1"), caller=OPERATOR, uow=uow)
    home = Address(line_one="1 Main", city="Springfield", state="IL", zip_code="62701", country="US")
    ada = patients.create_patient(PatientDraft(first_name="Ada", last_name="L", address=home), caller=me, uow=uow, clock=clock)
    order = orders.place_order(PlaceOrder(patient_id=ada.id, order_items=(OrderItem(item_id=item.id),)),
                               caller=me, uow=uow, clock=clock)
    print(order.current_status.value, order.patient.first_name)
    print(sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN))
    """
)


def test_the_core_runs_with_the_memory_store_and_no_io_library() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["received Ada", "[]"]
