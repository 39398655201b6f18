"""Hypothesis properties: accepted => the invariant holds; rejected => the right code, nothing stored."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given
from hypothesis import strategies as st

from kitflow.domain.errors import DomainError, Unauthorized
from kitflow.domain.identity import OPERATOR
from kitflow.domain.order import TRANSITIONS, MoveOrder, OrderFilter, OrderItem, OrderKit, OrderStatus, PlaceOrder
from kitflow.domain.patient import PatientDraft, PatientFilter
from kitflow.domain.values import MAX_TEXT, text
from kitflow.services import access, orders, patients
from kitflow.services.clock import SystemClock
from kitflow.services.listing import ListRequest
from kitflow.testing import broken_place_orders, move_orders, patient_drafts, place_orders, texts
from kitflow_adapters.memory import MemoryStore

from tests.world import World, build_world

CLOCK = SystemClock()


def fresh_world() -> World:
    return build_world(MemoryStore(), CLOCK)


def _total(world: World) -> int:
    return sum(orders.list_orders(OrderFilter(), ListRequest(), caller=t.caller, uow=world.uow).total
               for t in (world.a, world.b))


@given(st.text(max_size=300))
def test_text_is_trimmed_or_rejected_with_validation_error(value: str) -> None:
    trimmed = value.strip()
    try:
        assert text(value, field="f") == trimmed
        assert 1 <= len(trimmed) <= MAX_TEXT
    except DomainError as error:
        assert error.code == "validation_error"
        assert trimmed == "" or len(trimmed) > MAX_TEXT


@given(broken_place_orders())
def test_broken_orders_are_rejected_with_their_code(case: tuple[dict[str, object], str]) -> None:
    fields, code = case
    try:
        PlaceOrder(**fields)  # type: ignore[arg-type]
    except DomainError as error:
        assert error.code == code
    else:
        raise AssertionError(f"accepted {fields}")


@given(st.data())
def test_accepted_orders_are_stored_as_placed(data: st.DataObject) -> None:
    world = fresh_world()
    a = world.a
    command = data.draw(place_orders(patient_ids=[a.patient], site_ids=[a.site],
                                     item_ids=[world.item, world.item2], kit_ids=[a.kit]))
    placed = orders.place_order(command, caller=a.caller, uow=world.uow, clock=world.clock)
    stored = orders.get_order(placed.id, caller=a.caller, uow=world.uow)
    assert stored == placed
    assert [(l.item.id, l.count) for l in stored.order_items] == [(l.item_id, l.count) for l in command.order_items]
    assert [(l.kit.id, l.count) for l in stored.order_kits] == [(l.kit_id, l.count) for l in command.order_kits]
    assert stored.external_order_ids == command.external_order_ids
    assert [n.note for n in stored.order_notes] == list(command.order_notes)
    assert stored.current_status is OrderStatus.RECEIVED and len(stored.order_events) == 1
    assert (stored.patient.id if stored.patient else None, stored.site.id if stored.site else None) == (
        command.patient_id, command.site_id)
    assert _total(world) == 1


REFERENCE_FAULTS = {
    "patient_unknown": ("patient_does_not_exist", lambda w: {"patient_id": 9_999}),
    "patient_foreign": ("patient_does_not_exist", lambda w: {"patient_id": w.b.patient}),
    "patient_archived": ("patient_archived", lambda w: {"patient_id": w.a.archived_patient}),
    "site_foreign": ("site_does_not_exist", lambda w: {"patient_id": None, "site_id": w.b.site}),
    "site_inactive": ("site_inactive", lambda w: {"patient_id": None, "site_id": w.a.inactive_site}),
    "item_unknown": ("item_does_not_exist", lambda w: {"order_items": (OrderItem(item_id=9_999),)}),
    "item_unorderable": ("item_not_orderable", lambda w: {"order_items": (OrderItem(item_id=w.unorderable),)}),
    "kit_foreign": ("kit_does_not_exist", lambda w: {"order_kits": (OrderKit(kit_id=w.b.kit),)}),
    "kit_archived": ("kit_archived", lambda w: {"order_kits": (OrderKit(kit_id=w.a.archived_kit),)}),
    "kit_unorderable": ("item_not_orderable", lambda w: {"order_kits": (OrderKit(kit_id=w.a.kit_with_unorderable),)}),
}
PRIORITY = ["patient", "site", "item", "kit"]


@given(st.sets(st.sampled_from(sorted(REFERENCE_FAULTS)), min_size=1, max_size=4))
def test_reference_faults_answer_the_first_rule_in_contract_order_and_store_nothing(faults: set[str]) -> None:
    world = fresh_world()
    kinds = {name.split("_")[0] for name in faults}
    assume(len(kinds) == len(faults))  # one fault per reference kind
    assume(not ({"patient", "site"} <= kinds))  # an order names a patient or a site, not both
    fields: dict[str, object] = {}
    for name in faults:
        fields.update(REFERENCE_FAULTS[name][1](world))
    first = min(faults, key=lambda n: PRIORITY.index(n.split("_")[0]))
    try:
        orders.place_order(world.order(world.a, **fields), caller=world.a.caller, uow=world.uow, clock=world.clock)
    except DomainError as error:
        assert error.code == REFERENCE_FAULTS[first][0]
    else:
        raise AssertionError("accepted")
    assert _total(world) == 0


def _shouted(value: str) -> str:
    """``value`` in capitals where that keeps its case folding (``ı``.upper() folds to ``i``, not ``ı``)."""
    loud = value.upper()
    return loud if loud.casefold() == value.casefold() else value


@given(patient_drafts())
def test_patients_round_trip_and_are_found_by_their_filters(draft: PatientDraft) -> None:
    world = fresh_world()
    me = world.a
    made = patients.create_patient(draft, caller=me.caller, uow=world.uow, clock=world.clock)
    assert patients.get_patient(made.id, caller=me.caller, uow=world.uow) == made
    for field in PatientDraft.__struct_fields__:
        assert getattr(made, field) == getattr(draft, field)
    where = PatientFilter(name=_shouted(f"{draft.first_name} {draft.last_name}"), archived=draft.archived,
                          email=_shouted(draft.email) if draft.email else None)
    found = patients.list_patients(where, ListRequest(), caller=me.caller, uow=world.uow)
    assert made.id in [p.id for p in found.content]
    other = patients.list_patients(PatientFilter(), ListRequest(size=250), caller=world.b.caller, uow=world.uow)
    assert made.id not in [p.id for p in other.content]


@given(st.lists(move_orders(), max_size=8), st.booleans())
def test_the_lifecycle_only_takes_allowed_moves_and_logs_each(moves: list[MoveOrder], for_site: bool) -> None:
    world = fresh_world()
    a = world.a
    fields = {"patient_id": None, "site_id": a.site} if for_site else {}
    order = orders.place_order(world.order(a, **fields), caller=a.caller, uow=world.uow, clock=world.clock)
    path = [OrderStatus.RECEIVED]
    for move in moves:
        allowed = move.status in TRANSITIONS[path[-1]] and (for_site or move.status != OrderStatus.AVAILABLE_FOR_PICKUP)
        try:
            order = orders.move_order(order.id, move, caller=OPERATOR, uow=world.uow, clock=world.clock)
        except DomainError as error:
            assert not allowed and error.code == "invalid_transition"
        else:
            assert allowed
            path.append(move.status)
    stored = orders.get_order(order.id, caller=a.caller, uow=world.uow)
    assert [e.name for e in stored.order_events] == path and stored.current_status is path[-1]


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=12), st.booleans())
def test_cursor_walks_see_every_row_once_and_agree_with_page_numbers(count: int, size: int, descending: bool) -> None:
    world = fresh_world()
    a = world.a
    ids = [orders.place_order(world.order(a), caller=a.caller, uow=world.uow, clock=world.clock).id for _ in range(count)]
    expected = sorted(ids, reverse=descending)
    walked: list[int] = []
    cursor: str | None = None
    number = 1
    while True:
        page = orders.list_orders(OrderFilter(), ListRequest(size=size, descending=descending, cursor=cursor),
                                  caller=a.caller, uow=world.uow)
        by_number = orders.list_orders(OrderFilter(), ListRequest(size=size, descending=descending, page=number),
                                       caller=a.caller, uow=world.uow)
        assert [o.id for o in page.content] == [o.id for o in by_number.content]
        assert page.total == count and page.page == number
        walked += [o.id for o in page.content]
        if page.next_cursor is None:
            assert page.last
            break
        cursor, number = page.next_cursor, number + 1
    assert walked == expected


@given(st.text(min_size=0, max_size=60))
def test_only_issued_keys_authenticate(guess: str) -> None:
    world = fresh_world()
    assume(guess not in (world.a.key, world.b.key))
    assert access.authenticate(world.a.key, uow=world.uow) == world.a.caller
    try:
        access.authenticate(guess, uow=world.uow)
    except Unauthorized:
        pass
    else:
        raise AssertionError("a guessed key was accepted")


@given(texts(max_size=30))
def test_duplicate_external_order_ids_never_make_two_orders(external_id: str) -> None:
    world = fresh_world()
    a = world.a
    first = orders.place_order(world.order(a, external_order_ids=(external_id,)), caller=a.caller,
                               uow=world.uow, clock=world.clock)
    try:
        orders.place_order(world.order(a, external_order_ids=(external_id,)), caller=a.caller,
                           uow=world.uow, clock=world.clock)
    except DomainError as error:
        assert error.code == "duplicate_external_order_id" and str(first.id) in error.detail
    else:
        raise AssertionError("accepted a duplicate")
    found = orders.list_orders(OrderFilter(external_order_id=external_id), ListRequest(), caller=a.caller, uow=world.uow)
    assert [o.id for o in found.content] == [first.id]
    _ = dt
