"""Orders: what a customer asks to be shipped to a patient or a site, and its lifecycle."""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from kitflow.domain.catalog import ItemDetail
from kitflow.domain.errors import Conflict, InvalidInput, RuleBroken, check, within_each
from kitflow.domain.kit import ITEM_ID, KitDetail
from kitflow.domain.patient import PatientDetail, Site
from kitflow.domain.values import (
    MAX_COUNT,
    MAX_ID,
    MAX_NOTE,
    CustomerId,
    ItemId,
    KitId,
    OrderId,
    PatientId,
    SiteId,
    count,
    identifier,
    normalise,
    text,
    utc,
)

MAX_EXTERNAL_IDS: Final = 20
KIT_ID: Final = operator.attrgetter("kit_id")
"""An order line's kit id (as ``kit.ITEM_ID``)."""


class OrderStatus(enum.StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    AVAILABLE_FOR_PICKUP = "availableForPickup"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


S = OrderStatus
TRANSITIONS: Final[dict[OrderStatus, frozenset[OrderStatus]]] = {
    S.RECEIVED: frozenset({S.PROCESSING, S.CANCELLED}),
    S.PROCESSING: frozenset({S.SHIPPED, S.AVAILABLE_FOR_PICKUP, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.AVAILABLE_FOR_PICKUP: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}
"""The order lifecycle: from each status, the statuses it may move to."""
SITE_ONLY: Final = frozenset({S.AVAILABLE_FOR_PICKUP})
"""Statuses only an order for a site may reach."""


class ShippingOption(enum.StrEnum):
    STANDARD = "standard"
    EXPEDITED = "expedited"
    OVERNIGHT = "overnight"


def _plain_line(line_id: object, amount: object) -> bool:
    """Whether an order line's id and count are plain ints in range, which ``identifier`` and
    ``count`` accept: checked here in one call, they are called (for their message) only otherwise."""
    return type(line_id) is int and 0 < line_id <= MAX_ID and type(amount) is int and 0 < amount <= MAX_COUNT


class OrderItem(msgspec.Struct, frozen=True, kw_only=True):
    item_id: ItemId
    count: int = 1

    def __post_init__(self) -> None:
        if not _plain_line(self.item_id, self.count):
            identifier(self.item_id, field="item_id")
            count(self.count, field="count")


class OrderKit(msgspec.Struct, frozen=True, kw_only=True):
    kit_id: KitId
    count: int = 1

    def __post_init__(self) -> None:
        if not _plain_line(self.kit_id, self.count):
            identifier(self.kit_id, field="kit_id")
            count(self.count, field="count")


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    name: OrderStatus
    event_timestamp: dt.datetime


class OrderNote(msgspec.Struct, frozen=True, kw_only=True):
    note: str
    created_at: dt.datetime


class TrackingNumber(msgspec.Struct, frozen=True, kw_only=True):
    carrier: str
    value: str

    def __post_init__(self) -> None:
        normalise(self, carrier=text(self.carrier, field="carrier"), value=text(self.value, field="value"))


class PlaceOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A request to place an order. Constructing it checks shape, then structure (API.md 5, 1-2)."""

    patient_id: PatientId | None = None
    site_id: SiteId | None = None
    order_items: tuple[OrderItem, ...] = ()
    order_kits: tuple[OrderKit, ...] = ()
    external_order_ids: tuple[str, ...] = ()
    shipping_option: ShippingOption = ShippingOption.STANDARD
    order_notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # 1. shape
        if self.patient_id is not None:
            identifier(self.patient_id, field="patient_id")
        if self.site_id is not None:
            identifier(self.site_id, field="site_id")
        if len(self.external_order_ids) > MAX_EXTERNAL_IDS:
            check(False, f"at most {MAX_EXTERNAL_IDS} external order ids", field="external_order_ids")
        normalise(
            self,
            external_order_ids=within_each("external_order_ids", self.external_order_ids, _external_id),
            order_notes=within_each("order_notes", self.order_notes, _note),
            shipping_option=_shipping(self.shipping_option),
        )
        # 2. structure
        check_recipient(self.patient_id, self.site_id)
        if not self.order_items and not self.order_kits:
            raise RuleBroken(
                "invalid_order", "an order needs at least one item or kit", field="order_items"
            )
        _no_repeats(list(map(ITEM_ID, self.order_items)), "order_items", "item_id", "item")
        _no_repeats(list(map(KIT_ID, self.order_kits)), "order_kits", "kit_id", "kit")
        _no_repeats(self.external_order_ids, "external_order_ids", None, "external order id")


def check_recipient(patient_id: PatientId | None, site_id: SiteId | None) -> None:
    """Raises RuleBroken(``invalid_order``) unless exactly one of ``patient_id`` and ``site_id`` is
    given: the rule of an order's structure that needs none of its lines."""
    if (patient_id is None) == (site_id is None):
        raise RuleBroken(
            "invalid_order",
            "exactly one of patient or site must be given",
            field="site" if patient_id is not None else "patient",
        )


def _shipping(option: str) -> ShippingOption:
    """``option`` as a ShippingOption (calling the enum costs more than checking)."""
    return option if type(option) is ShippingOption else ShippingOption(option)


def _external_id(value: str) -> str:
    return text(value, field="")


def _note(value: str) -> str:
    return text(value, field="note", limit=MAX_NOTE)


def _no_repeats(values: Sequence[object], field: str, attribute: str | None, what: str) -> None:
    if len(values) < 2 or len(set(values)) == len(values):
        return
    seen: set[object] = set()
    for index, value in enumerate(values):
        if value in seen:
            path = f"{field}[{index}]" + (f".{attribute}" if attribute else "")
            raise RuleBroken("invalid_order", f"the same {what} appears twice", field=path)
        seen.add(value)


class Order(msgspec.Struct, frozen=True, kw_only=True):
    id: OrderId
    customer_id: CustomerId
    patient_id: PatientId | None
    site_id: SiteId | None
    current_status: OrderStatus
    order_items: tuple[OrderItem, ...]
    order_kits: tuple[OrderKit, ...]
    external_order_ids: tuple[str, ...]
    shipping_option: ShippingOption
    order_events: tuple[OrderEvent, ...]
    order_notes: tuple[OrderNote, ...]
    tracking_numbers: tuple[TrackingNumber, ...]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def new(cls, command: PlaceOrder, *, customer_id: CustomerId, now: dt.datetime) -> Order:
        """A received, unsaved (id 0) order for ``command``, whose references the caller checked."""
        return cls(
            id=0,
            customer_id=customer_id,
            patient_id=command.patient_id,
            site_id=command.site_id,
            current_status=OrderStatus.RECEIVED,
            order_items=command.order_items,
            order_kits=command.order_kits,
            external_order_ids=command.external_order_ids,
            shipping_option=command.shipping_option,
            order_events=(OrderEvent(name=OrderStatus.RECEIVED, event_timestamp=now),),
            order_notes=tuple([OrderNote(note=note, created_at=now) for note in command.order_notes])
            if command.order_notes else (),
            tracking_numbers=(),
            created_at=now,
            updated_at=now,
        )

    def can_move(self, status: OrderStatus) -> bool:
        """Whether the lifecycle allows this order to move to ``status`` now."""
        if status in SITE_ONLY and self.site_id is None:
            return False
        return status in TRANSITIONS[self.current_status]

    def moved(
        self, status: OrderStatus, *, now: dt.datetime, tracking: TrackingNumber | None = None
    ) -> Order:
        """This order moved to ``status`` with an event appended. Raises Conflict(invalid_transition)."""
        if not self.can_move(status):
            raise Conflict(
                "invalid_transition",
                f"an order that is {self.current_status.value} cannot become {OrderStatus(status).value}"
                + (" (only a site order can be available for pickup)" if status in SITE_ONLY else ""),
                field="status",
            )
        return msgspec.structs.replace(
            self,
            current_status=status,
            order_events=(*self.order_events, OrderEvent(name=status, event_timestamp=now)),
            tracking_numbers=self.tracking_numbers + ((tracking,) if tracking else ()),
            updated_at=now,
        )


def check_external_ids_free(external_ids: Sequence[str], taken: Mapping[str, OrderId]) -> None:
    """Raises Conflict(``duplicate_external_order_id``), naming the order that holds it, for the
    first of ``external_ids`` that ``taken`` (external id to order id) holds."""
    for index, external_id in enumerate(external_ids):
        if external_id in taken:
            raise Conflict(
                "duplicate_external_order_id",
                f"order {taken[external_id]} already has external order id {external_id!r}",
                field=f"external_order_ids[{index}]",
            )


class MoveOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The operator's request to move an order to another status."""

    status: OrderStatus
    tracking_number: TrackingNumber | None = None

    def __post_init__(self) -> None:
        try:
            normalise(self, status=OrderStatus(self.status))
        except ValueError:
            raise InvalidInput(detail="unknown status", field="status") from None


class OrderItemDetail(msgspec.Struct, frozen=True, kw_only=True):
    item: ItemDetail
    count: int


class OrderKitDetail(msgspec.Struct, frozen=True, kw_only=True):
    kit: KitDetail
    count: int


class OrderDetail(msgspec.Struct, frozen=True, kw_only=True):
    """An order with everything it references as it is now."""

    id: OrderId
    external_order_ids: tuple[str, ...]
    patient: PatientDetail | None
    site: Site | None
    current_status: OrderStatus
    order_items: tuple[OrderItemDetail, ...]
    order_kits: tuple[OrderKitDetail, ...]
    order_events: tuple[OrderEvent, ...]
    order_notes: tuple[OrderNote, ...]
    tracking_numbers: tuple[TrackingNumber, ...]
    shipping_option: ShippingOption
    created_at: dt.datetime
    updated_at: dt.datetime
    devices: tuple[()] = ()
    packed_kits: tuple[()] = ()


class OrderFilter(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The filters of the order list; None (or no ids) means not filtered."""

    status: OrderStatus | None = None
    patient_id: PatientId | None = None
    site_id: SiteId | None = None
    external_order_id: str | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    ids: tuple[OrderId, ...] = ()

    def __post_init__(self) -> None:
        normalise(
            self,
            created_from=utc(self.created_from) if self.created_from is not None else None,
            created_to=utc(self.created_to) if self.created_to is not None else None,
            ids=tuple(identifier(i, field="id") for i in self.ids),
        )
        if self.patient_id is not None:
            identifier(self.patient_id, field="patient_id")
        if self.site_id is not None:
            identifier(self.site_id, field="site_id")

    def matches(self, order: Order) -> bool:
        return (
            (self.status is None or order.current_status == self.status)
            and (self.patient_id is None or order.patient_id == self.patient_id)
            and (self.site_id is None or order.site_id == self.site_id)
            and (self.external_order_id is None or self.external_order_id in order.external_order_ids)
            and (self.created_from is None or order.created_at >= self.created_from)
            and (self.created_to is None or order.created_at < self.created_to)
            and (not self.ids or order.id in self.ids)
        )
