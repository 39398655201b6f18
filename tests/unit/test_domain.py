"""The domain's values and entities: every creation invariant and its code."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.changes import patched
from kitflow.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, RuleBroken
from kitflow.domain.identity import OPERATOR, Role, customer, digest, new_key
from kitflow.domain.idempotency import idempotency_key
from kitflow.domain.kit import KitDraft, KitItem
from kitflow.domain.order import (
    SITE_ONLY,
    TRANSITIONS,
    MoveOrder,
    Order,
    OrderItem,
    OrderKit,
    OrderStatus,
    PlaceOrder,
    TrackingNumber,
)
from kitflow.domain.paging import PageSpec
from kitflow.domain.patient import PatientDraft, PatientFilter, PatientPatch, SiteDraft, check_patient_patch
from kitflow.domain.values import Address, Sex, utc

from tests.world import ADDRESS

NOW = dt.datetime(2026, 11, 27, 2, 31, 20, 123000, tzinfo=dt.timezone.utc)


def code_of(call: object) -> str:
    with pytest.raises(DomainError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_strings_are_trimmed_and_blank_required_strings_rejected() -> None:
    draft = SiteDraft(name="  Clinic  ", phone_number="   ")
    assert draft.name == "Clinic"
    assert draft.phone_number is None
    with pytest.raises(InvalidInput) as caught:
        SiteDraft(name="   ")
    assert caught.value.problems[0].field == "name"


def test_strings_longer_than_255_are_rejected_and_notes_may_hold_1000() -> None:
    assert code_of(lambda: SiteDraft(name="x" * 256)) == "validation_error"
    assert SiteDraft(name="x" * 255).name == "x" * 255
    assert Address(**{**_address(), "note": "n" * 1000}).note == "n" * 1000
    assert code_of(lambda: Address(**{**_address(), "note": "n" * 1001})) == "validation_error"


def _address() -> dict[str, str]:
    return {"line_one": "1 Main", "city": "X", "state": "Y", "zip_code": "1", "country": "US"}


@pytest.mark.parametrize("field", ["line_one", "city", "state", "zip_code", "country"])
def test_address_requires_its_five_fields(field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Address(**{**_address(), field: " "})
    assert caught.value.problems[0].field == field


def test_patient_date_of_birth_may_not_be_in_the_future() -> None:
    draft = PatientDraft(first_name="A", last_name="B", address=ADDRESS, date_of_birth=dt.date(2026, 11, 28))
    assert code_of(lambda: draft.check_birth_date(dt.date(2026, 11, 27))) == "validation_error"
    draft.check_birth_date(dt.date(2026, 11, 28))


def test_patient_email_must_look_like_an_address() -> None:
    assert code_of(lambda: PatientDraft(first_name="A", last_name="B", address=ADDRESS, email="nope")) == "validation_error"
    assert PatientDraft(first_name="A", last_name="B", address=ADDRESS, email=" a@b.c ").email == "a@b.c"


def test_patch_null_clears_optional_restores_default_and_rejects_required() -> None:
    base = PatientDraft(first_name="A", last_name="B", address=ADDRESS, email="a@b.c", sex=Sex.FEMALE, enrolled=False)
    changed = patched(base, PatientPatch(email=None, sex=None, enrolled=None, last_name="C"))
    assert (changed.email, changed.sex, changed.enrolled, changed.last_name, changed.first_name) == (
        None, Sex.UNKNOWN, True, "C", "A")
    assert code_of(lambda: patched(base, PatientPatch(first_name=None))) == "validation_error"
    assert code_of(lambda: check_patient_patch(PatientPatch(last_name=" "), today=NOW.date())) == "validation_error"


def test_kit_rules() -> None:
    assert code_of(lambda: KitDraft(name="k", kit_items=())) == "validation_error"
    assert code_of(lambda: KitDraft(name="k", kit_items=tuple(KitItem(item_id=i) for i in range(1, 102)))) == "validation_error"
    assert len(KitDraft(name="k", kit_items=tuple(KitItem(item_id=i) for i in range(1, 101))).kit_items) == 100
    with pytest.raises(InvalidInput) as caught:
        KitDraft(name="k", kit_items=(KitItem(item_id=1), KitItem(item_id=1)))
    assert caught.value.problems[0].field == "kit_items[1].item_id"
    for bad in (0, 10_001):
        assert code_of(lambda bad=bad: KitItem(item_id=1, count=bad)) == "validation_error"


def test_order_shape_is_checked_before_structure() -> None:
    # both patient and site (structure) and a bad external id (shape): shape wins
    assert code_of(lambda: PlaceOrder(patient_id=1, site_id=2, order_items=(OrderItem(item_id=1),),
                                      external_order_ids=(" ",))) == "validation_error"
    assert code_of(lambda: PlaceOrder(patient_id=1, site_id=2, order_items=(OrderItem(item_id=1),))) == "invalid_order"


@pytest.mark.parametrize(
    "fields",
    [
        {"patient_id": None, "site_id": None},
        {"site_id": 3},
        {"order_items": ()},
        {"order_items": (OrderItem(item_id=1), OrderItem(item_id=1))},
        {"order_kits": (OrderKit(kit_id=1), OrderKit(kit_id=1))},
        {"external_order_ids": ("a", "a")},
    ],
)
def test_order_structure_rules_are_invalid_order(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"patient_id": 1, "order_items": (OrderItem(item_id=1),)}
    with pytest.raises(RuleBroken) as caught:
        PlaceOrder(**{**base, **fields})
    assert caught.value.code == "invalid_order"


def test_order_shape_limits() -> None:
    base: dict[str, object] = {"patient_id": 1, "order_items": (OrderItem(item_id=1),)}
    assert len(PlaceOrder(**base, external_order_ids=tuple(str(i) for i in range(20))).external_order_ids) == 20
    assert code_of(lambda: PlaceOrder(**base, external_order_ids=tuple(str(i) for i in range(21)))) == "validation_error"
    assert code_of(lambda: PlaceOrder(**base, order_notes=("n" * 1001,))) == "validation_error"
    assert code_of(lambda: OrderItem(item_id=2**63)) == "validation_error"
    assert code_of(lambda: OrderItem(item_id=True)) == "validation_error"  # type: ignore[arg-type]


def _order(*, site: bool = False) -> Order:
    command = PlaceOrder(patient_id=None if site else 1, site_id=1 if site else None,
                         order_items=(OrderItem(item_id=1),))
    return Order.new(command, customer_id=1, now=NOW)


def test_a_new_order_is_received_with_one_event() -> None:
    order = _order()
    assert order.current_status is OrderStatus.RECEIVED
    assert [(e.name, e.event_timestamp) for e in order.order_events] == [(OrderStatus.RECEIVED, NOW)]


@pytest.mark.parametrize(("start", "target", "site"), list(itertools.product(OrderStatus, OrderStatus, [False, True])))
def test_every_move_follows_the_transition_table(start: OrderStatus, target: OrderStatus, site: bool) -> None:
    order = msgspec_replace(_order(site=site), current_status=start)
    allowed = target in TRANSITIONS[start] and (site or target not in SITE_ONLY)
    later = NOW + dt.timedelta(minutes=1)
    if allowed:
        moved = order.moved(target, now=later, tracking=TrackingNumber(carrier="UPS", value="1Z"))
        assert moved.current_status is target
        assert moved.order_events[-1].name is target and moved.updated_at == later
        assert moved.tracking_numbers[-1].value == "1Z"
    else:
        with pytest.raises(Conflict) as caught:
            order.moved(target, now=later)
        assert caught.value.code == "invalid_transition"


def msgspec_replace(order: Order, **changes: object) -> Order:
    import msgspec

    return msgspec.structs.replace(order, **changes)


def test_the_lifecycle_table_matches_the_contract() -> None:
    s = OrderStatus
    assert TRANSITIONS == {
        s.RECEIVED: {s.PROCESSING, s.CANCELLED},
        s.PROCESSING: {s.SHIPPED, s.AVAILABLE_FOR_PICKUP, s.CANCELLED},
        s.SHIPPED: {s.DELIVERED},
        s.AVAILABLE_FOR_PICKUP: {s.DELIVERED},
        s.DELIVERED: set(),
        s.CANCELLED: set(),
    }


def test_move_order_rejects_an_unknown_status() -> None:
    assert code_of(lambda: MoveOrder(status="lost")) == "validation_error"  # type: ignore[arg-type]


def test_keys_are_random_256_bit_and_stored_as_sha256() -> None:
    issued = new_key(role=Role.CUSTOMER, customer_id=1, now=NOW)
    other = new_key(role=Role.CUSTOMER, customer_id=1, now=NOW)
    assert issued.secret != other.secret and len(issued.secret) >= 43
    assert issued.secret not in issued.record.digest
    assert issued.record.prefix == issued.secret[:8]
    assert issued.record.digest == digest(issued.secret)
    assert issued.record.matches(issued.secret) and not issued.record.matches(other.secret)


def test_principals_enforce_roles() -> None:
    assert customer(3).customer() == 3
    with pytest.raises(Forbidden):
        OPERATOR.customer()
    with pytest.raises(Forbidden):
        customer(3).operator()
    assert OPERATOR.scope != customer(3).scope


def test_name_filter_uses_full_unicode_case_folding_over_both_names() -> None:
    patient = _patient(first_name="Ångström", last_name="Straße")
    for needle in ["ångström", "ÅNGSTRÖM STRASSE", "m s", "strasse"]:
        assert PatientFilter(name=needle).matches(patient), needle
    assert not PatientFilter(name="lovelace").matches(patient)


def _patient(**fields: object):  # type: ignore[no-untyped-def]
    from kitflow.domain.patient import Patient

    base = dict(first_name="A", last_name="B", address=ADDRESS, id=1, customer_id=1, created_at=NOW, updated_at=NOW)
    return Patient(**{**base, **fields})


def test_email_filter_is_exact_and_case_insensitive() -> None:
    patient = _patient(email="Ada@Example.com")
    assert PatientFilter(email="ada@example.COM").matches(patient)
    assert not PatientFilter(email="ada@example").matches(patient)


def test_page_spec_bounds_and_utc_milliseconds() -> None:
    assert code_of(lambda: PageSpec(size=0)) == "validation_error"
    assert code_of(lambda: PageSpec(size=251)) == "validation_error"
    naive = dt.datetime(2026, 1, 1, 12, 0, 0, 123456)
    assert utc(naive) == dt.datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=dt.timezone.utc)


def test_idempotency_keys_are_printable_ascii_up_to_255() -> None:
    assert idempotency_key("abc-123") == "abc-123"
    for bad in ["", "x" * 256, "é", "a\nb"]:
        assert code_of(lambda bad=bad: idempotency_key(bad)) == "validation_error"


_OFFSETS = st.timedeltas(min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59))


@given(st.datetimes(timezones=st.none() | st.just(dt.timezone.utc) | st.builds(dt.timezone, _OFFSETS)))
def test_utc_is_the_same_instant_in_utc_to_the_millisecond_below(moment: dt.datetime) -> None:
    aware = moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment
    try:
        expected = aware.astimezone(dt.timezone.utc)
    except OverflowError:  # an instant beyond year 1..9999 once in UTC
        return
    expected = expected.replace(microsecond=expected.microsecond // 1000 * 1000)
    made = utc(moment)
    assert made == expected and made.tzinfo is dt.timezone.utc and made.microsecond % 1000 == 0
