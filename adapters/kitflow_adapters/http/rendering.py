"""Rendering: domain values as response JSON, in the shape of their wire structs.

The generic way (``convert``) converts a value to its wire struct and encodes that. Orders, the
entities and their lists render faster, with the same bytes: the entities (a patient with its site, a
site, an item with its manufacturer, a kit with its items), which recur within a page and across
requests, are rendered once into JSON fragments, remembered in bounded memos keyed by the
(frozen, hashable) domain value itself, as are times. A fragment is a pure function of its value,
so nothing is ever invalidated: a changed entity is another key. The rest of an order is mapped by hand around
its fragments into *shapes*, structs encoded with the field names of the wire structs (never
documented: handlers are annotated with the wire structs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
from msgspec import Raw

from kitflow.domain.order import OrderDetail
from kitflow_adapters.http.wire import (
    ItemOut,
    ItemPage,
    KitOut,
    KitPage,
    OrderEventOut,
    OrderItemOut,
    OrderKitOut,
    OrderNoteOut,
    OrderOut,
    OrderPage,
    PatientOut,
    PatientPage,
    SiteOut,
    SitePage,
    Stamp,
    TrackingNumberOut,
)


class _Memo(dict[Any, Any]):
    """``make``'s values by their argument, at most ``size`` of them (all forgotten at once when
    full): ``memo[value]`` finds one with a dict look-up, no Python call (an ``lru_cache`` costs a
    call and its key's tuple, ~1,300 instructions), and makes a missing one. Values must be pure
    functions of their argument; another thread may make one twice, never a wrong one."""

    def __init__(self, make: Callable[[Any], Any], size: int) -> None:
        super().__init__()
        self._make = make
        self._size = size

    def __missing__(self, key: Any) -> Any:
        made = self._make(key)
        if len(self) >= self._size:
            self.clear()
        self[key] = made
        return made


_stamps: Final = _Memo(Stamp.of, 2048)
"""Times as Stamps: the same instants recur (a page's patients, items and kits)."""


def _from_domain(type_: type, value: Any) -> Any:
    if type_ is Stamp:
        return _stamps[value]
    raise NotImplementedError(type_)

_encode: Final = msgspec.json.Encoder(enc_hook=str.__str__).encode
"""A Stamp is a str: ``str.__str__`` gives it as one, with no Python call (anything else that is not
JSON by itself raises TypeError)."""


def convert(value: Any, wire_type: type[Any]) -> bytes:
    """``value`` encoded as ``wire_type`` the generic way: converted from its attributes."""
    return _encode(msgspec.convert(value, wire_type, from_attributes=True, dec_hook=_from_domain))


def _fragments(wire_type: type[Any], size: int) -> _Memo:
    """Values' JSON as ``wire_type`` (``memo[value]``), remembered for at most ``size`` values."""
    return _Memo(lambda value: Raw(convert(value, wire_type)), size)


# each remembered value costs its key and its JSON: ~2.7 KiB a patient with its site, ~0.9 KiB an
# item, ~2.6 KiB a kit of 3 items (~65 KiB one of 100): about 4 MiB when all are full (8 MiB at most)
_patients: Final = _fragments(PatientOut, 1024)
_sites: Final = _fragments(SiteOut, 256)
_items: Final = _fragments(ItemOut, 512)
_kits: Final = _fragments(KitOut, 64)


def _shape(wire_type: type[msgspec.Struct]) -> Any:
    """A struct encoded with the fields of ``wire_type`` (names and order), holding any values."""
    fields = msgspec.structs.fields(wire_type)
    return msgspec.defstruct(
        f"Rendered{wire_type.__name__}",
        [(field.name, object) for field in fields],
        rename={field.name: field.encode_name for field in fields},
        kw_only=True,
        gc=False,
    )


_Order: Final = _shape(OrderOut)
_OrderItem: Final = _shape(OrderItemOut)
_OrderKit: Final = _shape(OrderKitOut)


def _order(order: OrderDetail) -> Any:
    # an empty tuple is rendered as itself (``[]``): a comprehension would cost a function call
    patient, site = order.patient, order.site
    return _Order(
        id=order.id,
        external_order_ids=order.external_order_ids,
        patient=None if patient is None else _patients[patient],
        site=None if site is None else _sites[site],
        current_status=order.current_status,
        order_items=[_OrderItem(item=_items[line.item], count=line.count) for line in order.order_items]
        if order.order_items else (),
        order_kits=[_OrderKit(kit=_kits[line.kit], count=line.count) for line in order.order_kits]
        if order.order_kits else (),
        order_events=[
            OrderEventOut(name=event.name, event_timestamp=_stamps[event.event_timestamp])
            for event in order.order_events
        ] if order.order_events else (),
        order_notes=[OrderNoteOut(note=note.note, created_at=_stamps[note.created_at]) for note in order.order_notes]
        if order.order_notes else (),
        tracking_numbers=[TrackingNumberOut(carrier=t.carrier, value=t.value) for t in order.tracking_numbers]
        if order.tracking_numbers else (),
        devices=order.devices,
        packed_kits=order.packed_kits,
        shipping_option=order.shipping_option,
        created_at=_stamps[order.created_at],
        updated_at=_stamps[order.updated_at],
    )


def _page(page_type: type[msgspec.Struct], render: Callable[[Any], Any]) -> Callable[[Any], bytes]:
    """The renderer of a listing as ``page_type``, each of its values rendered by ``render``."""
    shape = _shape(page_type)

    def rendered(listing: Any) -> bytes:
        return _encode(
            shape(
                page=listing.page,
                size=listing.size,
                total=listing.total,
                first=listing.first,
                last=listing.last,
                next_cursor=listing.next_cursor,
                content=[render(value) for value in listing.content],
            )
        )

    return rendered


_RENDERERS: Final[dict[type[Any], Callable[[Any], bytes]]] = {
    OrderOut: lambda order: _encode(_order(order)),
    OrderPage: _page(OrderPage, _order),
    PatientOut: lambda patient: _encode(_patients[patient]),
    PatientPage: _page(PatientPage, _patients.__getitem__),
    SiteOut: lambda site: _encode(_sites[site]),
    SitePage: _page(SitePage, _sites.__getitem__),
    ItemOut: lambda item: _encode(_items[item]),
    ItemPage: _page(ItemPage, _items.__getitem__),
    KitOut: lambda kit: _encode(_kits[kit]),
    KitPage: _page(KitPage, _kits.__getitem__),
}


def to_wire(value: Any, wire_type: type[Any]) -> bytes:
    """A domain value (entity, detail or listing) encoded as ``wire_type``: the same bytes as
    ``convert``, faster for the types with a renderer of their own."""
    render = _RENDERERS.get(wire_type)
    return convert(value, wire_type) if render is None else render(value)
