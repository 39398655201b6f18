"""Hypothesis strategies: valid domain values by construction, and broken requests with their code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec
from hypothesis import strategies as st

from kitflow.domain.catalog import ItemDetail, ItemDraft, Manufacturer, ManufacturerRef
from kitflow.domain.kit import MAX_KIT_LINES, KitDetail, KitDraft, KitItem, KitItemDetail
from kitflow.domain.order import (
    MAX_EXTERNAL_IDS,
    MoveOrder,
    OrderDetail,
    OrderEvent,
    OrderItem,
    OrderItemDetail,
    OrderKit,
    OrderKitDetail,
    OrderNote,
    OrderStatus,
    PlaceOrder,
    ShippingOption,
    TrackingNumber,
)
from kitflow.domain.patient import PatientDetail, PatientDraft, Site, SiteDraft
from kitflow.domain.values import MAX_COUNT, MAX_ID, MAX_NOTE, MAX_TEXT, Address, Sex

_TEXT_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))


def texts(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Non-blank strings with no surrounding white space (any Unicode letter, digit, mark or symbol)."""
    return st.text(_TEXT_ALPHABET, min_size=1, max_size=min(max_size, MAX_TEXT))


def broken_texts(*, limit: int = MAX_TEXT) -> st.SearchStrategy[str]:
    """Strings a required text field must reject: blank, or longer than ``limit`` after trimming."""
    return st.one_of(
        st.sampled_from(["", " ", "\t\n", "   "]),
        st.builds(lambda n: "x" * n, st.integers(min_value=limit + 1, max_value=limit + 50)),
    )


def addresses() -> st.SearchStrategy[Address]:
    optional = st.none() | texts()
    return st.builds(
        Address,
        line_one=texts(), city=texts(), state=texts(), zip_code=texts(), country=texts(),
        line_two=optional, line_three=optional, note=st.none() | texts(max_size=200),
    )


def site_drafts() -> st.SearchStrategy[SiteDraft]:
    return st.builds(
        SiteDraft, name=texts(), active=st.booleans(), phone_number=st.none() | texts(max_size=20),
        address=st.none() | addresses(),
    )


def patient_drafts(
    *, site_ids: Sequence[int] = (), external_identifiers: st.SearchStrategy[str | None] | None = None
) -> st.SearchStrategy[PatientDraft]:
    """Patients the domain accepts; ``site_ids`` are the sites they may belong to."""
    sites: st.SearchStrategy[int | None] = st.none()
    if site_ids:
        sites = sites | st.sampled_from(list(site_ids))
    emails = st.none() | st.builds(lambda a, b: f"{a}@{b}.example", st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
                                   st.from_regex(r"[a-z]{1,10}", fullmatch=True))
    return st.builds(
        PatientDraft,
        first_name=texts(), last_name=texts(), address=addresses(),
        external_identifier=external_identifiers if external_identifiers is not None else st.none() | texts(max_size=20),
        date_of_birth=st.none() | st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)),
        email=emails, phone_number=st.none() | texts(max_size=20), sex=st.sampled_from(Sex),
        site_id=sites, enrolled=st.booleans(), archived=st.booleans(),
    )


def item_drafts() -> st.SearchStrategy[ItemDraft]:
    makers = st.none() | st.builds(ManufacturerRef, name=texts(max_size=20))
    return st.builds(
        ItemDraft, name=texts(), sku=texts(max_size=20), model=st.none() | texts(max_size=20),
        manufacturer=makers, orderable=st.booleans(),
    )


def _lines(ids: Sequence[int], *, max_size: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(
        st.tuples(st.sampled_from(list(ids)), st.integers(min_value=1, max_value=MAX_COUNT)),
        min_size=1, max_size=min(max_size, len(ids)), unique_by=lambda line: line[0],
    )


def kit_drafts(*, item_ids: Sequence[int]) -> st.SearchStrategy[KitDraft]:
    """Kits of the given items (no item twice)."""
    return st.builds(
        lambda name, lines, archived: KitDraft(
            name=name, kit_items=tuple(KitItem(item_id=i, count=n) for i, n in lines), archived=archived
        ),
        texts(), _lines(item_ids, max_size=MAX_KIT_LINES), st.booleans(),
    )


@st.composite
def place_orders(
    draw: st.DrawFn,
    *,
    patient_ids: Sequence[int] = (),
    site_ids: Sequence[int] = (),
    item_ids: Sequence[int] = (),
    kit_ids: Sequence[int] = (),
    external_ids: st.SearchStrategy[str] | None = None,
) -> PlaceOrder:
    """Orders that pass the shape and structure checks, referencing the given ids."""
    recipients = [("patient", p) for p in patient_ids] + [("site", s) for s in site_ids]
    if not recipients or not (item_ids or kit_ids):
        raise ValueError("place_orders needs a patient or site id, and an item or kit id")
    kind, recipient = draw(st.sampled_from(recipients))
    items = draw(_lines(item_ids, max_size=5)) if item_ids else []
    kits = draw(_lines(kit_ids, max_size=3)) if kit_ids else []
    if not items and not kits:
        items = [(draw(st.sampled_from(list(item_ids))), 1)] if item_ids else []
        kits = [] if items else [(draw(st.sampled_from(list(kit_ids))), 1)]
    return PlaceOrder(
        patient_id=recipient if kind == "patient" else None,
        site_id=recipient if kind == "site" else None,
        order_items=tuple(OrderItem(item_id=i, count=n) for i, n in items),
        order_kits=tuple(OrderKit(kit_id=k, count=n) for k, n in kits),
        external_order_ids=tuple(
            draw(st.lists(external_ids if external_ids is not None else texts(max_size=30),
                          max_size=3, unique=True))
        ),
        shipping_option=draw(st.sampled_from(ShippingOption)),
        order_notes=tuple(draw(st.lists(texts(max_size=MAX_NOTE), max_size=2))),
    )


_VALID: dict[str, Any] = {"patient_id": 1, "order_items": (OrderItem(item_id=1),)}


def _case(code: str, **fields: Any) -> tuple[dict[str, Any], str]:
    return ({**_VALID, **fields}, code)


def broken_place_orders() -> st.SearchStrategy[tuple[dict[str, Any], str]]:
    """``(fields, code)``: ``PlaceOrder(**fields)`` must raise a DomainError whose code is ``code``.
    Shape errors are ``validation_error``; structure errors ``invalid_order``."""
    bad_ids = st.one_of(st.integers(max_value=0), st.integers(min_value=2**63))
    return st.one_of(
        st.builds(lambda i: _case("validation_error", patient_id=i), bad_ids),
        st.builds(lambda i: _case("validation_error", patient_id=None, site_id=i), bad_ids),
        st.builds(lambda t: _case("validation_error", external_order_ids=(t,)), broken_texts()),
        st.builds(
            lambda n: _case("validation_error", external_order_ids=tuple(f"e{i}" for i in range(n))),
            st.integers(min_value=MAX_EXTERNAL_IDS + 1, max_value=MAX_EXTERNAL_IDS + 5),
        ),
        st.builds(lambda t: _case("validation_error", order_notes=(t,)), broken_texts(limit=MAX_NOTE)),
        st.builds(lambda s: _case("invalid_order", site_id=s), st.integers(min_value=1, max_value=99)),
        st.just(_case("invalid_order", patient_id=None)),
        st.just(_case("invalid_order", order_items=())),
        st.builds(
            lambda i: _case("invalid_order", order_items=(OrderItem(item_id=i), OrderItem(item_id=i, count=2))),
            st.integers(min_value=1, max_value=99),
        ),
        st.builds(
            lambda k: _case("invalid_order", order_kits=(OrderKit(kit_id=k), OrderKit(kit_id=k))),
            st.integers(min_value=1, max_value=99),
        ),
        st.builds(lambda e: _case("invalid_order", external_order_ids=(e, e)), texts()),
    )


def order_statuses() -> st.SearchStrategy[OrderStatus]:
    return st.sampled_from(OrderStatus)


def move_orders() -> st.SearchStrategy[MoveOrder]:
    """Operator moves to any status, sometimes with a tracking number."""
    tracking = st.none() | st.builds(TrackingNumber, carrier=texts(max_size=10), value=texts(max_size=30))
    return st.builds(MoveOrder, status=order_statuses(), tracking_number=tracking)


# ---------------------------------------------------------------- details (entities with what they reference)

_IDS = st.integers(min_value=1, max_value=3) | st.integers(min_value=1, max_value=MAX_ID)
"""Ids, often the same few: equal values then recur, as they do in the details of a page."""


def moments() -> st.SearchStrategy[dt.datetime]:
    """Times as stores give them (aware, mostly UTC), some naive (meaning UTC)."""
    zones = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]) | st.none()
    return st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=zones)


def _stored(kind: type[Any], draft: msgspec.Struct, **fields: Any) -> Any:
    return kind(**msgspec.structs.asdict(draft), **fields)


def sites() -> st.SearchStrategy[Site]:
    return st.builds(
        lambda draft, site_id, customer_id, created, updated: _stored(
            Site, draft, id=site_id, customer_id=customer_id, created_at=created, updated_at=updated
        ),
        site_drafts(), _IDS, _IDS, moments(), moments(),
    )


def patient_details(*, site_pool: st.SearchStrategy[Site] | None = None) -> st.SearchStrategy[PatientDetail]:
    """Patient details, at no site or at one of ``site_pool`` (any site by default)."""
    return st.builds(
        lambda draft, site, patient_id, customer_id, created, updated: _stored(
            PatientDetail, msgspec.structs.replace(draft, site_id=None if site is None else site.id),
            site=site, id=patient_id, customer_id=customer_id, created_at=created, updated_at=updated,
        ),
        patient_drafts(), st.none() | (site_pool if site_pool is not None else sites()),
        _IDS, _IDS, moments(), moments(),
    )


def item_details() -> st.SearchStrategy[ItemDetail]:
    def detail(draft: ItemDraft, item_id: int, maker_id: int) -> ItemDetail:
        maker = None if draft.manufacturer is None else Manufacturer(id=maker_id, name=draft.manufacturer.name or "-")
        return ItemDetail(
            id=item_id, name=draft.name, sku=draft.sku, model=draft.model, orderable=draft.orderable,
            manufacturer_id=None if maker is None else maker.id, manufacturer=maker,
        )

    return st.builds(detail, item_drafts(), _IDS, _IDS)


def kit_details(*, item_pool: st.SearchStrategy[ItemDetail] | None = None) -> st.SearchStrategy[KitDetail]:
    """Kit details of 1..5 lines of ``item_pool`` (any items by default)."""
    lines = st.lists(
        st.builds(KitItemDetail, item=item_pool if item_pool is not None else item_details(),
                  count=st.integers(min_value=1, max_value=MAX_COUNT)),
        min_size=1, max_size=5,
    )
    return st.builds(
        lambda kit_id, name, archived, kit_lines, created, updated: KitDetail(
            id=kit_id, name=name, archived=archived, kit_items=tuple(kit_lines), created_at=created, updated_at=updated
        ),
        _IDS, texts(), st.booleans(), lines, moments(), moments(),
    )


@st.composite
def order_details(draw: st.DrawFn, *, size: int = 1) -> list[OrderDetail]:
    """``size`` order details (0..size) whose patients, sites, items and kits come from small pools,
    so that they recur within the list (as in a page) and the same entity is referenced twice."""
    site_pool = st.sampled_from(draw(st.lists(sites(), min_size=1, max_size=3)))
    item_pool = st.sampled_from(draw(st.lists(item_details(), min_size=1, max_size=4)))
    patient_pool = st.sampled_from(draw(st.lists(patient_details(site_pool=site_pool), min_size=1, max_size=3)))
    kit_pool = st.sampled_from(draw(st.lists(kit_details(item_pool=item_pool), min_size=1, max_size=3)))
    counts = st.integers(min_value=1, max_value=MAX_COUNT)
    tracking = st.builds(TrackingNumber, carrier=texts(max_size=10), value=texts(max_size=30))
    made = []
    for _ in range(draw(st.integers(min_value=0 if size > 1 else 1, max_value=size))):
        patient = draw(st.none() | patient_pool)
        made.append(OrderDetail(
            id=draw(_IDS),
            external_order_ids=tuple(draw(st.lists(texts(max_size=30), max_size=MAX_EXTERNAL_IDS, unique=True))),
            patient=patient,
            site=draw(site_pool) if patient is None else None,
            current_status=draw(order_statuses()),
            order_items=tuple(draw(st.lists(st.builds(OrderItemDetail, item=item_pool, count=counts), max_size=4))),
            order_kits=tuple(draw(st.lists(st.builds(OrderKitDetail, kit=kit_pool, count=counts), max_size=3))),
            order_events=tuple(draw(st.lists(st.builds(OrderEvent, name=order_statuses(), event_timestamp=moments()),
                                             min_size=1, max_size=4))),
            order_notes=tuple(draw(st.lists(st.builds(OrderNote, note=texts(max_size=MAX_NOTE), created_at=moments()),
                                            max_size=2))),
            tracking_numbers=tuple(draw(st.lists(tracking, max_size=2))),
            shipping_option=draw(st.sampled_from(ShippingOption)),
            created_at=draw(moments()),
            updated_at=draw(moments()),
        ))
    return made
