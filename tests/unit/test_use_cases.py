"""Every use case and every rule's code, on the memory store."""

from __future__ import annotations

import threading

import pytest

from kitflow.domain.catalog import ItemDraft, ItemFilter, ItemPatch, ManufacturerRef
from kitflow.domain.errors import Conflict, DomainError, Forbidden, IdempotencyKeyReused, InvalidInput, NotFound, Unauthorized
from kitflow.domain.identity import OPERATOR, Role, customer, digest
from kitflow.domain.idempotency import StoredResponse
from kitflow.domain.kit import KitDraft, KitFilter, KitItem, KitPatch
from kitflow.domain.order import MoveOrder, OrderFilter, OrderItem, OrderKit, OrderStatus, TrackingNumber
from kitflow.domain.patient import PatientDraft, PatientFilter, PatientPatch, SiteDraft, SiteFilter, SitePatch
from kitflow.domain.ports import UnitOfWork
from kitflow.services import access, catalog, idempotency, orders, patients
from kitflow.services.clock import SystemClock
from kitflow.services.listing import ListRequest

from tests.world import ADDRESS, World, build_world


@pytest.fixture
def world(memory: UnitOfWork, clock: SystemClock) -> World:
    return build_world(memory, clock)


def order_count(world: World) -> int:
    total = 0
    for tenant in (world.a, world.b):
        total += orders.list_orders(OrderFilter(), ListRequest(), caller=tenant.caller, uow=world.uow).total
    return total


def place(world: World, command, tenant=None):  # type: ignore[no-untyped-def]
    tenant = tenant or world.a
    return orders.place_order(command, caller=tenant.caller, uow=world.uow, clock=world.clock)


def rejected(world: World, command, code: str, *, field: str | None = None) -> DomainError:  # type: ignore[no-untyped-def]
    before = order_count(world)
    with pytest.raises(DomainError) as caught:
        place(world, command)
    assert caught.value.code == code
    if field is not None:
        assert caught.value.problems[0].field == field
    assert order_count(world) == before, "a rejected order stored something"
    return caught.value


def test_place_order_answers_the_full_order(world: World) -> None:
    detail = place(world, world.order(world.a, order_kits=(OrderKit(kit_id=world.a.kit, count=3),),
                                      external_order_ids=("ehr-1",), order_notes=("front desk",)))
    assert detail.current_status is OrderStatus.RECEIVED
    assert detail.patient is not None and detail.patient.id == world.a.patient
    assert detail.patient.site is not None and detail.patient.site.id == world.a.site
    assert detail.order_items[0].item.manufacturer is not None
    assert detail.order_kits[0].kit.kit_items[0].count == 2 and detail.order_kits[0].count == 3
    assert detail.order_notes[0].note == "front desk" and detail.external_order_ids == ("ehr-1",)
    assert orders.get_order(detail.id, caller=world.a.caller, uow=world.uow) == detail


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"patient_id": 999}, "patient_does_not_exist", "patient_id"),
        ({"patient_id": None, "site_id": 999}, "site_does_not_exist", "site_id"),
        ({"order_items": (OrderItem(item_id=999),)}, "item_does_not_exist", "order_items[0].item_id"),
        ({"order_kits": (OrderKit(kit_id=999),)}, "kit_does_not_exist", "order_kits[0].kit_id"),
    ],
)
def test_unknown_references(world: World, fields: dict[str, object], code: str, field: str) -> None:
    rejected(world, world.order(world.a, **fields), code, field=field)


def test_state_of_references(world: World) -> None:
    a = world.a
    rejected(world, world.order(a, patient_id=a.archived_patient), "patient_archived")
    rejected(world, world.order(a, patient_id=None, site_id=a.inactive_site), "site_inactive")
    rejected(world, world.order(a, order_items=(OrderItem(item_id=world.item), OrderItem(item_id=world.unorderable))),
             "item_not_orderable", field="order_items[1].item_id")
    rejected(world, world.order(a, order_kits=(OrderKit(kit_id=a.archived_kit),)), "kit_archived")
    rejected(world, world.order(a, order_kits=(OrderKit(kit_id=a.kit_with_unorderable),)), "item_not_orderable",
             field="order_kits[0].kit_id")


def test_a_patient_whose_site_is_inactive_can_still_be_ordered_for(world: World) -> None:
    me = world.a
    patients.patch_site(me.site, SitePatch(active=False), caller=me.caller, uow=world.uow, clock=world.clock)
    assert place(world, world.order(me)).patient.site.active is False


def test_reference_checks_run_in_the_contract_order(world: World) -> None:
    a = world.a
    # patient first, then items in order, then kits in order; uniqueness last
    place(world, world.order(a, external_order_ids=("dup",)))
    rejected(world, world.order(a, patient_id=999, order_items=(OrderItem(item_id=999),), external_order_ids=("dup",)),
             "patient_does_not_exist")
    rejected(world, world.order(a, order_items=(OrderItem(item_id=world.unorderable), OrderItem(item_id=999)),
                                order_kits=(OrderKit(kit_id=999),)), "item_not_orderable")
    rejected(world, world.order(a, order_kits=(OrderKit(kit_id=a.archived_kit), OrderKit(kit_id=999)),
                                external_order_ids=("dup",)), "kit_archived")
    error = rejected(world, world.order(a, external_order_ids=("new", "dup")), "duplicate_external_order_id",
                     field="external_order_ids[1]")
    assert "order 1" in error.detail


def test_external_order_ids_are_unique_per_customer_only(world: World) -> None:
    place(world, world.order(world.a, external_order_ids=("same",)))
    assert place(world, world.order(world.b, external_order_ids=("same",)), world.b).external_order_ids == ("same",)


def test_tenancy_another_customers_ids_behave_as_missing(world: World) -> None:
    a, b = world.a, world.b
    rejected(world, world.order(a, patient_id=b.patient), "patient_does_not_exist")
    rejected(world, world.order(a, patient_id=None, site_id=b.site), "site_does_not_exist")
    rejected(world, world.order(a, order_kits=(OrderKit(kit_id=b.kit),)), "kit_does_not_exist")
    theirs = place(world, world.order(b), b)
    kw = {"caller": a.caller, "uow": world.uow}
    for call in (
        lambda: orders.get_order(theirs.id, **kw),
        lambda: orders.cancel_order(theirs.id, clock=world.clock, **kw),
        lambda: patients.get_patient(b.patient, **kw),
        lambda: patients.patch_patient(b.patient, PatientPatch(archived=True), clock=world.clock, **kw),
        lambda: patients.get_site(b.site, **kw),
        lambda: catalog.get_kit(b.kit, **kw),
        lambda: catalog.patch_kit(b.kit, KitPatch(archived=True), clock=world.clock, **kw),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(DomainError) as caught:
        patients.create_patient(PatientDraft(first_name="X", last_name="Y", address=ADDRESS, site_id=b.site),
                                clock=world.clock, **kw)
    assert caught.value.code == "site_does_not_exist"
    assert orders.list_orders(OrderFilter(patient_id=b.patient), ListRequest(), **kw).total == 0
    assert patients.list_patients(PatientFilter(site_id=b.site), ListRequest(), **kw).total == 0
    assert orders.get_order(theirs.id, caller=b.caller, uow=world.uow).current_status is OrderStatus.RECEIVED


def test_roles_are_enforced_by_the_use_cases(world: World) -> None:
    with pytest.raises(Forbidden):
        place(world, world.order(world.a), tenant=type(world.a)(**{**_fields(world.a), "caller": OPERATOR}))
    with pytest.raises(Forbidden):
        catalog.create_item(ItemDraft(name="x", sku="x"), caller=world.a.caller, uow=world.uow)
    with pytest.raises(Forbidden):
        orders.move_order(1, MoveOrder(status=OrderStatus.PROCESSING), caller=world.a.caller, uow=world.uow, clock=world.clock)
    with pytest.raises(Forbidden):
        access.create_customer("x", caller=world.a.caller, uow=world.uow, clock=world.clock)


def _fields(tenant):  # type: ignore[no-untyped-def]
    return {name: getattr(tenant, name) for name in tenant.__struct_fields__}


def test_cancel_and_operator_moves_follow_the_lifecycle(world: World) -> None:
    a, kw = world.a, {"uow": world.uow, "clock": world.clock}
    mine = place(world, world.order(a))
    moved = orders.move_order(mine.id, MoveOrder(status=OrderStatus.PROCESSING), caller=OPERATOR, **kw)
    shipped = orders.move_order(mine.id, MoveOrder(status=OrderStatus.SHIPPED,
                                tracking_number=TrackingNumber(carrier="UPS", value="1Z9")), caller=OPERATOR, **kw)
    assert [e.name for e in shipped.order_events] == ["received", "processing", "shipped"]
    assert shipped.tracking_numbers == (TrackingNumber(carrier="UPS", value="1Z9"),)
    assert moved.current_status is OrderStatus.PROCESSING
    with pytest.raises(Conflict) as caught:
        orders.cancel_order(mine.id, caller=a.caller, **kw)
    assert caught.value.code == "invalid_transition"
    assert orders.get_order(mine.id, caller=a.caller, uow=world.uow).current_status is OrderStatus.SHIPPED
    other = place(world, world.order(a))
    assert orders.cancel_order(other.id, caller=a.caller, **kw).current_status is OrderStatus.CANCELLED
    with pytest.raises(Conflict):
        orders.move_order(other.id, MoveOrder(status=OrderStatus.CANCELLED), caller=OPERATOR, **kw)
    with pytest.raises(NotFound):
        orders.move_order(10_000, MoveOrder(status=OrderStatus.PROCESSING), caller=OPERATOR, **kw)


def test_available_for_pickup_is_for_site_orders_only(world: World) -> None:
    kw = {"uow": world.uow, "clock": world.clock, "caller": OPERATOR}
    for_patient = place(world, world.order(world.a))
    for_site = place(world, world.order(world.a, patient_id=None, site_id=world.a.site))
    for order in (for_patient, for_site):
        orders.move_order(order.id, MoveOrder(status=OrderStatus.PROCESSING), **kw)
    with pytest.raises(Conflict):
        orders.move_order(for_patient.id, MoveOrder(status=OrderStatus.AVAILABLE_FOR_PICKUP), **kw)
    assert orders.move_order(for_site.id, MoveOrder(status=OrderStatus.AVAILABLE_FOR_PICKUP), **kw).current_status == "availableForPickup"


def test_keys_issue_authenticate_and_revoke(world: World) -> None:
    kw = {"uow": world.uow, "clock": world.clock}
    assert access.authenticate(world.a.key, uow=world.uow) == world.a.caller
    second = access.issue_key(world.a.caller.customer_id, caller=OPERATOR, **kw)
    assert access.authenticate(second, uow=world.uow) == world.a.caller
    access.revoke_key(second[:8], caller=OPERATOR, **kw)
    with pytest.raises(Unauthorized):
        access.authenticate(second, uow=world.uow)
    assert access.authenticate(world.a.key, uow=world.uow) == world.a.caller
    for prefix in (second[:8], "zzzzzzzz", "short"):
        with pytest.raises(NotFound):
            access.revoke_key(prefix, caller=OPERATOR, **kw)
    with pytest.raises(NotFound):
        access.issue_key(999, caller=OPERATOR, **kw)
    for bad in (None, "", "x" * 43, world.a.key[:-1] + ("A" if world.a.key[-1] != "A" else "B")):
        with pytest.raises(Unauthorized):
            access.authenticate(bad, uow=world.uow)


def test_operator_keys_stored_or_configured(world: World) -> None:
    kw = {"uow": world.uow, "clock": world.clock}
    made = access.ensure_operator_key(**kw)
    assert made is not None and access.ensure_operator_key(**kw) is None
    assert access.authenticate(made, uow=world.uow).role is Role.OPERATOR
    configured = "a-configured-operator-key-of-enough-length"
    assert access.authenticate(configured, uow=world.uow, operator_digest=digest(configured)).role is Role.OPERATOR
    with pytest.raises(Unauthorized):
        access.authenticate(made, uow=world.uow, operator_digest=digest(configured))
    with pytest.raises(NotFound):
        access.revoke_key(made[:8], caller=OPERATOR, **kw)


def test_patients_create_replace_patch_and_unique_external_identifier(world: World) -> None:
    me, kw = world.a, {"caller": world.a.caller, "uow": world.uow, "clock": world.clock}
    first = patients.create_patient(PatientDraft(first_name="Grace", last_name="Hopper", address=ADDRESS,
                                                 external_identifier="mrn-1"), **kw)
    with pytest.raises(Conflict) as caught:
        patients.create_patient(PatientDraft(first_name="G", last_name="H", address=ADDRESS,
                                             external_identifier="mrn-1"), **kw)
    assert caught.value.code == "duplicate_external_identifier" and str(first.id) in caught.value.detail
    replaced = patients.replace_patient(first.id, PatientDraft(first_name="Grace", last_name="Murray",
                                                               address=ADDRESS, external_identifier="mrn-1"), **kw)
    assert replaced.last_name == "Murray" and replaced.created_at == first.created_at
    patched = patients.patch_patient(first.id, PatientPatch(site_id=me.site, external_identifier=None), **kw)
    assert patched.site is not None and patched.site.id == me.site and patched.external_identifier is None
    assert patients.create_patient(PatientDraft(first_name="N", last_name="M", address=ADDRESS,
                                                external_identifier="mrn-1"), **kw).external_identifier == "mrn-1"
    with pytest.raises(InvalidInput):
        patients.patch_patient(999, PatientPatch(first_name=""), **kw)  # validation before lookup
    with pytest.raises(NotFound):
        patients.patch_patient(999, PatientPatch(first_name="Z"), **kw)
    with pytest.raises(DomainError) as caught:
        patients.patch_patient(first.id, PatientPatch(site_id=999), **kw)
    assert caught.value.code == "site_does_not_exist"


def test_sites_create_replace_patch(world: World) -> None:
    kw = {"caller": world.a.caller, "uow": world.uow, "clock": world.clock}
    site = patients.create_site(SiteDraft(name="North", phone_number="555"), **kw)
    replaced = patients.replace_site(site.id, SiteDraft(name="South"), **kw)
    assert (replaced.name, replaced.phone_number, replaced.active) == ("South", None, True)
    assert patients.patch_site(site.id, SitePatch(active=False), **kw).name == "South"
    assert patients.list_sites(SiteFilter(name="sOuTh"), ListRequest(), caller=world.a.caller, uow=world.uow).total == 1
    assert patients.list_sites(SiteFilter(active=False), ListRequest(), caller=world.a.caller, uow=world.uow).total == 2


def test_catalog_items_and_manufacturers(world: World) -> None:
    kw = {"caller": OPERATOR, "uow": world.uow}
    with pytest.raises(Conflict) as caught:
        catalog.create_item(ItemDraft(name="Other", sku="BP-1"), **kw)
    assert caught.value.code == "duplicate_sku" and str(world.item) in caught.value.detail
    made = catalog.create_item(ItemDraft(name="Oximeter", sku="OX-1", manufacturer=ManufacturerRef(name="Omron")), **kw)
    cuff = catalog.get_item(world.item, caller=world.a.caller, uow=world.uow)
    assert made.manufacturer == cuff.manufacturer
    by_id = catalog.create_item(ItemDraft(name="X", sku="X-1", manufacturer=ManufacturerRef(id=made.manufacturer.id, name="ignored")), **kw)
    assert by_id.manufacturer == made.manufacturer
    with pytest.raises(InvalidInput) as bad:
        catalog.create_item(ItemDraft(name="Y", sku="Y-1", manufacturer=ManufacturerRef(id=999)), **kw)
    assert bad.value.problems[0].field == "manufacturer.id"
    patched = catalog.patch_item(made.id, ItemPatch(orderable=False, manufacturer=None), **kw)
    assert patched.orderable is False and patched.manufacturer is None and patched.sku == "OX-1"
    with pytest.raises(Conflict):
        catalog.patch_item(made.id, ItemPatch(sku="BP-1"), **kw)
    assert catalog.patch_item(made.id, ItemPatch(sku="OX-1"), **kw).sku == "OX-1"
    listed = catalog.list_items(ItemFilter(orderable=False), ListRequest(), caller=world.b.caller, uow=world.uow)
    assert {i.id for i in listed.content} == {world.unorderable, made.id}


def test_kits(world: World) -> None:
    kw = {"caller": world.a.caller, "uow": world.uow, "clock": world.clock}
    with pytest.raises(DomainError) as caught:
        catalog.create_kit(KitDraft(name="k", kit_items=(KitItem(item_id=world.item), KitItem(item_id=999))), **kw)
    assert caught.value.code == "item_does_not_exist" and caught.value.problems[0].field == "kit_items[1].item_id"
    kit = catalog.create_kit(KitDraft(name="k", kit_items=(KitItem(item_id=world.item2, count=5),)), **kw)
    renamed = catalog.patch_kit(kit.id, KitPatch(name="Scale kit", archived=True), **kw)
    assert (renamed.name, renamed.archived, renamed.kit_items) == ("Scale kit", True, kit.kit_items)
    listed = catalog.list_kits(KitFilter(item_id=world.item2), ListRequest(), caller=world.a.caller, uow=world.uow)
    assert [k.id for k in listed.content] == [kit.id]


def test_lists_page_by_number_and_by_signed_cursor(world: World) -> None:
    a = world.a
    ids = [place(world, world.order(a)).id for _ in range(7)]
    kw = {"caller": a.caller, "uow": world.uow}
    first = orders.list_orders(OrderFilter(), ListRequest(size=3), **kw)
    assert [o.id for o in first.content] == ids[:3] and (first.total, first.first, first.last) == (7, True, False)
    second = orders.list_orders(OrderFilter(), ListRequest(cursor=first.next_cursor), **kw)
    assert [o.id for o in second.content] == ids[3:6] and (second.page, second.first) == (2, False)
    newer = place(world, world.order(a)).id
    third = orders.list_orders(OrderFilter(), ListRequest(cursor=second.next_cursor, size=3), **kw)
    assert [o.id for o in third.content] == [ids[6], newer] and third.last and third.next_cursor is None
    down = orders.list_orders(OrderFilter(), ListRequest(size=5, descending=True), **kw)
    assert [o.id for o in down.content] == [newer, *reversed(ids[3:])]
    past = orders.list_orders(OrderFilter(), ListRequest(page=9, size=5), **kw)
    assert (past.content, past.last, past.next_cursor) == ((), True, None)
    cursor = first.next_cursor
    assert cursor is not None
    for bad in (
        lambda: orders.list_orders(OrderFilter(), ListRequest(cursor=cursor[:-2] + "xx"), **kw),
        lambda: orders.list_orders(OrderFilter(status=OrderStatus.RECEIVED), ListRequest(cursor=cursor), **kw),
        lambda: orders.list_orders(OrderFilter(), ListRequest(cursor=cursor, size=4), **kw),
        lambda: orders.list_orders(OrderFilter(), ListRequest(cursor=cursor, descending=True), **kw),
        lambda: orders.list_orders(OrderFilter(), ListRequest(cursor=cursor), caller=world.b.caller, uow=world.uow),
        lambda: patients.list_patients(PatientFilter(), ListRequest(cursor=cursor), **kw),
        lambda: orders.list_orders(OrderFilter(), ListRequest(cursor="not-a-cursor"), **kw),
        lambda: orders.list_orders(OrderFilter(), ListRequest(size=251), **kw),
        lambda: orders.list_orders(OrderFilter(), ListRequest(page=0), **kw),
    ):
        with pytest.raises(InvalidInput):
            bad()


def _response(status: int, text: str) -> StoredResponse:
    return StoredResponse(status=status, content_type="application/json", body=text.encode())


def test_idempotent_requests_replay_reject_reuse_and_keep_rule_errors(world: World) -> None:
    a, kw = world.a, {"uow": world.uow, "clock": world.clock}
    calls: list[int] = []

    def perform() -> StoredResponse:
        detail = place(world, world.order(a))
        calls.append(detail.id)
        return _response(201, str(detail.id))

    first = idempotency.execute_once("k1", "fp", caller=a.caller, perform=perform, render=lambda e: None, **kw)
    again = idempotency.execute_once("k1", "fp", caller=a.caller, perform=perform, render=lambda e: None, **kw)
    assert (first.replayed, again.replayed, again.response) == (False, True, first.response) and len(calls) == 1
    with pytest.raises(IdempotencyKeyReused):
        idempotency.execute_once("k1", "other", caller=a.caller, perform=perform, render=lambda e: None, **kw)
    # the same key of another caller is another key
    assert not idempotency.execute_once("k1", "fp", caller=world.b.caller, perform=lambda: _response(200, "b"),
                                        render=lambda e: None, **kw).replayed

    def failing() -> StoredResponse:
        place(world, world.order(a, patient_id=999))
        raise AssertionError("unreachable")

    kept = idempotency.execute_once("k2", "fp", caller=a.caller, perform=failing,
                                    render=lambda e: _response(400, e.code), **kw)
    assert kept.response.body == b"patient_does_not_exist"
    replay = idempotency.execute_once("k2", "fp", caller=a.caller, perform=perform, render=lambda e: None, **kw)
    assert replay.replayed and replay.response == kept.response and len(calls) == 1
    # an error that is not kept releases the key for a retry
    with pytest.raises(DomainError):
        idempotency.execute_once("k3", "fp", caller=a.caller, perform=failing, render=lambda e: None, **kw)
    assert not idempotency.execute_once("k3", "fp", caller=a.caller, perform=perform, render=lambda e: None, **kw).replayed


def test_a_retry_during_the_first_request_never_runs_twice(world: World) -> None:
    a, kw = world.a, {"uow": world.uow, "clock": world.clock}
    seen: list[str] = []

    def perform() -> StoredResponse:
        # a retry that arrives while the first request is being processed (here: from another thread)
        def retry() -> None:
            try:
                late = idempotency.execute_once("k", "fp", caller=a.caller, perform=lambda: _response(201, "twice"),
                                                render=lambda e: None, **kw)
                seen.append(f"replayed={late.replayed} {late.response.body.decode()}")
            except Conflict as error:
                seen.append(error.code)

        thread = threading.Thread(target=retry)
        thread.start()
        thread.join(0.2)  # the memory store serialises writers: the retry waits for this transaction
        return _response(201, "once")

    first = idempotency.execute_once("k", "fp", caller=a.caller, perform=perform, render=lambda e: None, **kw)
    for _ in range(50):
        if seen:
            break
        threading.Event().wait(0.05)
    assert first.response.body == b"once"
    # a store that serialises writers makes the retry wait and replay; one that does not answers in-use
    assert seen in (["replayed=True once"], ["idempotency_key_in_use"])
    replay = idempotency.execute_once("k", "fp", caller=a.caller, perform=lambda: _response(201, "x"),
                                      render=lambda e: None, **kw)
    assert replay.replayed and replay.response.body == b"once"


def test_an_unfinished_claim_answers_in_use_until_its_lease_runs_out(world: World) -> None:
    import datetime as dt

    from kitflow.domain.idempotency import LEASE, IdempotencyRecord

    a = world.a
    now = world.clock.now()
    with world.uow.begin(write=True) as tx:
        tx.idempotency.put(IdempotencyRecord(scope=a.caller.scope, key="busy", fingerprint="fp", token="t", created_at=now))
        tx.idempotency.put(IdempotencyRecord(scope=a.caller.scope, key="stale", fingerprint="fp", token="t",
                                             created_at=now - LEASE - dt.timedelta(seconds=1)))
    with pytest.raises(Conflict) as caught:
        idempotency.execute_once("busy", "fp", caller=a.caller, perform=lambda: _response(201, "x"),
                                 render=lambda e: None, uow=world.uow, clock=world.clock)
    assert caught.value.code == "idempotency_key_in_use"
    taken = idempotency.execute_once("stale", "fp", caller=a.caller, perform=lambda: _response(201, "x"),
                                     render=lambda e: None, uow=world.uow, clock=world.clock)
    assert not taken.replayed and taken.response.body == b"x"


def test_expired_idempotency_records_are_purged(world: World) -> None:
    import datetime as dt

    from kitflow.domain.idempotency import RETENTION, IdempotencyRecord

    class Later:
        def now(self) -> dt.datetime:
            return world.clock.now() + RETENTION + dt.timedelta(seconds=1)

    idempotency.execute_once("old", "fp", caller=world.a.caller, perform=lambda: _response(201, "x"),
                             render=lambda e: None, uow=world.uow, clock=world.clock)
    assert idempotency.purge_idempotency_records(uow=world.uow, clock=Later()) == 1
    with world.uow.begin() as tx:
        assert tx.idempotency.get(world.a.caller.scope, "old") is None
    _ = IdempotencyRecord
