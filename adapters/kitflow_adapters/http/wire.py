"""The wire: request and response bodies as camelCase msgspec Structs, and their hand mapping to the
domain's commands, drafts and patches.

Input structs check only what the OpenAPI document can state (JSON types, id and count ranges, text
lengths, required text not blank, list sizes); every other rule is the domain's and runs when a
mapping method builds the domain value. ``null`` for
an optional or defaulted field means absent (the domain default applies); in a ``*Patch`` struct
``UNSET`` (field not sent) is distinct from ``None`` (clear, or restore the default).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from typing import Annotated, Any, Final

import msgspec
from msgspec import UNSET, Meta, UnsetType

from kitflow.domain.catalog import ItemDraft, ItemPatch, ManufacturerRef
from kitflow.domain.errors import InvalidInput, within, within_each
from kitflow.domain.kit import KitDraft, KitPatch, kit_line
from kitflow.domain.order import (
    MoveOrder,
    OrderItem,
    OrderKit,
    OrderStatus,
    PlaceOrder,
    ShippingOption,
    TrackingNumber,
    check_recipient,
)
from kitflow.domain.patient import PatientDraft, PatientPatch, SiteDraft, SitePatch
from kitflow.domain.kit import MAX_KIT_LINES
from kitflow.domain.order import MAX_EXTERNAL_IDS
from kitflow.domain.values import MAX_COUNT, MAX_ID, MAX_NOTE, MAX_TEXT, Address, Sex

Id = Annotated[int, Meta(ge=1, le=MAX_ID, description="a positive 64-bit integer id")]
Count = Annotated[int, Meta(ge=1, le=MAX_COUNT, description=f"1..{MAX_COUNT}, default 1")]
SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""The characters ``str.strip()`` removes, spelled out for a regex class: the document's patterns are
read by JSON Schema tools as ECMA-262 regexes, whose ``\\s`` is another set than Python's."""
NOT_BLANK = f"[^{SPACE}]"
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, pattern=NOT_BLANK, description="not blank; trimmed")]
"""A required string: not blank, at most 255 characters."""
Note = Annotated[str, Meta(min_length=1, max_length=MAX_NOTE, pattern=NOT_BLANK, description="not blank; trimmed")]
OptionalText = Annotated[str, Meta(max_length=MAX_TEXT, description="trimmed; blank means absent")]
OptionalNote = Annotated[str, Meta(max_length=MAX_NOTE, description="trimmed; blank means absent")]
Email = Annotated[
    str,
    Meta(max_length=MAX_TEXT, pattern=f"^[{SPACE}]*(?:[^@{SPACE}]+@[^@{SPACE}]+)?[{SPACE}]*$",
         description="one @ with text on both sides"),
]


class Stamp(str):
    """A timestamp as the API writes it: ISO 8601, UTC, milliseconds, ``Z``."""

    __slots__ = ()

    @classmethod
    def of(cls, moment: dt.datetime) -> Stamp:
        """``moment`` (aware, or naive meaning UTC) written the API's way."""
        return _stamp(moment)


_encode_time = msgspec.json.Encoder().encode
"""A time as msgspec writes it: ``b'"YYYY-MM-DDTHH:MM:SS[.ffffff][Z]"'`` (six digits when not 0):
in C, five times cheaper than ``isoformat(timespec=...)``."""


@functools.lru_cache(maxsize=2048)
def _stamp(moment: dt.datetime) -> Stamp:
    # the same instants recur in a page (a patient's, a site's, an item's): format each once
    if moment.tzinfo is not None and moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    text = _encode_time(moment)
    return Stamp(f"{text[1:24].decode()}Z" if moment.microsecond else f"{text[1:20].decode()}.000Z")


class _In(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A request body: camelCase, unknown fields ignored. Encoded (only by the strict-JSON check,
    ``parsing.decode``) without the fields left at their defaults: the keys the body was read with."""


class _Out(msgspec.Struct, rename="camel", kw_only=True):
    """A response body: camelCase, every field always present."""


def _or(value: Any, default: Any) -> Any:
    """``value``, or ``default`` when the client sent null or left the field out."""
    return default if value is None else value


def _unset_or(value: Any, convert: Any) -> Any:
    """A patch value: UNSET and None pass through, anything else through ``convert``."""
    return value if value is None or value is UNSET else convert(value)


# ---------------------------------------------------------------- requests


class Ref(_In):
    """A reference to an existing resource by id; its other fields are ignored."""

    id: Id


class AddressInput(_In):
    line_one: Text
    city: Text
    state: Text
    zip_code: Text
    country: Text
    line_two: OptionalText | None = None
    line_three: OptionalText | None = None
    note: OptionalNote | None = None

    def to_domain(self) -> Address:
        """The domain address. Raises InvalidInput with fields under ``address``."""
        with within("address"):
            return Address(
                line_one=self.line_one,
                city=self.city,
                state=self.state,
                zip_code=self.zip_code,
                country=self.country,
                line_two=self.line_two,
                line_three=self.line_three,
                note=self.note,
            )


def _address(value: AddressInput | None) -> Address | None:
    return None if value is None else value.to_domain()


class PatientInput(_In):
    """The body of ``POST`` and ``PUT /api/v3/patient``."""

    first_name: Text
    last_name: Text
    address: AddressInput
    external_identifier: OptionalText | None = None
    date_of_birth: dt.date | None = None
    email: Email | None = None
    phone_number: OptionalText | None = None
    sex: Sex | None = None
    site: Ref | None = None
    enrolled: bool | None = None
    archived: bool | None = None

    def to_domain(self) -> PatientDraft:
        """Raises InvalidInput."""
        return PatientDraft(
            first_name=self.first_name,
            last_name=self.last_name,
            address=self.address.to_domain(),
            external_identifier=self.external_identifier,
            date_of_birth=self.date_of_birth,
            email=self.email,
            phone_number=self.phone_number,
            sex=_or(self.sex, Sex.UNKNOWN),
            site_id=None if self.site is None else self.site.id,
            enrolled=_or(self.enrolled, True),
            archived=_or(self.archived, False),
        )


class PatientPatchInput(_In):
    """The body of ``PATCH /api/v3/patient/{patientId}``."""

    first_name: Text | UnsetType = UNSET
    last_name: Text | UnsetType = UNSET
    address: AddressInput | UnsetType = UNSET
    external_identifier: OptionalText | None | UnsetType = UNSET
    date_of_birth: dt.date | None | UnsetType = UNSET
    email: Email | None | UnsetType = UNSET
    phone_number: OptionalText | None | UnsetType = UNSET
    sex: Sex | None | UnsetType = UNSET
    site: Ref | None | UnsetType = UNSET
    enrolled: bool | None | UnsetType = UNSET
    archived: bool | None | UnsetType = UNSET

    def to_domain(self) -> PatientPatch:
        """Raises InvalidInput."""
        return PatientPatch(
            first_name=self.first_name,
            last_name=self.last_name,
            address=_unset_or(self.address, AddressInput.to_domain),
            external_identifier=self.external_identifier,
            date_of_birth=self.date_of_birth,
            email=self.email,
            phone_number=self.phone_number,
            sex=self.sex,
            site_id=_unset_or(self.site, lambda ref: ref.id),
            enrolled=self.enrolled,
            archived=self.archived,
        )


class SiteInput(_In):
    """The body of ``POST`` and ``PUT /api/v3/site``."""

    name: Text
    active: bool | None = None
    phone_number: OptionalText | None = None
    address: AddressInput | None = None

    def to_domain(self) -> SiteDraft:
        """Raises InvalidInput."""
        return SiteDraft(
            name=self.name,
            active=_or(self.active, True),
            phone_number=self.phone_number,
            address=_address(self.address),
        )


class SitePatchInput(_In):
    """The body of ``PATCH /api/v3/site/{siteId}``."""

    name: Text | UnsetType = UNSET
    active: bool | None | UnsetType = UNSET
    phone_number: OptionalText | None | UnsetType = UNSET
    address: AddressInput | None | UnsetType = UNSET

    def to_domain(self) -> SitePatch:
        """Raises InvalidInput."""
        return SitePatch(
            name=self.name,
            active=self.active,
            phone_number=self.phone_number,
            address=_unset_or(self.address, AddressInput.to_domain),
        )


class ManufacturerInput(_In):
    """A manufacturer: ``{"id": N}`` of an existing one, or ``{"name": s}`` (made if new); id wins."""

    id: Id | None = None
    name: OptionalText | None = None

    def to_domain(self) -> ManufacturerRef:
        """Raises InvalidInput with fields under ``manufacturer``."""
        with within("manufacturer"):
            return ManufacturerRef(id=self.id, name=self.name)


class ItemInput(_In):
    """The body of ``POST /api/v3/item``."""

    name: Text
    sku: Text
    model: OptionalText | None = None
    manufacturer: ManufacturerInput | None = None
    orderable: bool | None = None

    def to_domain(self) -> ItemDraft:
        """Raises InvalidInput."""
        return ItemDraft(
            name=self.name,
            sku=self.sku,
            model=self.model,
            manufacturer=None if self.manufacturer is None else self.manufacturer.to_domain(),
            orderable=_or(self.orderable, True),
        )


class ItemPatchInput(_In):
    """The body of ``PATCH /api/v3/item/{itemId}``."""

    name: Text | UnsetType = UNSET
    sku: Text | UnsetType = UNSET
    model: OptionalText | None | UnsetType = UNSET
    manufacturer: ManufacturerInput | None | UnsetType = UNSET
    orderable: bool | None | UnsetType = UNSET

    def to_domain(self) -> ItemPatch:
        """Raises InvalidInput."""
        return ItemPatch(
            name=self.name,
            sku=self.sku,
            model=self.model,
            manufacturer=_unset_or(self.manufacturer, ManufacturerInput.to_domain),
            orderable=self.orderable,
        )


class KitItemInput(_In):
    item: Ref
    count: Count | None = None


class KitInput(_In):
    """The body of ``POST /api/v3/kit``."""

    name: Text
    kit_items: Annotated[list[KitItemInput], Meta(min_length=1, max_length=MAX_KIT_LINES)]
    archived: bool | None = None

    def to_domain(self) -> KitDraft:
        """Raises InvalidInput."""
        return KitDraft(
            name=self.name,
            kit_items=tuple(
                kit_line(index, item_id=line.item.id, count=_or(line.count, 1))
                for index, line in enumerate(self.kit_items)
            ),
            archived=_or(self.archived, False),
        )


class KitPatchInput(_In):
    """The body of ``PATCH /api/v3/kit/{kitId}``: the name and the archive flag only."""

    name: Text | UnsetType = UNSET
    archived: bool | None | UnsetType = UNSET
    kit_items: Annotated[
        Any | UnsetType,
        Meta(description="a kit's lines never change: sending this is a validation_error", extra_json_schema={"not": {}}),
    ] = UNSET

    def to_domain(self) -> KitPatch:
        """Raises InvalidInput when ``kitItems`` is sent."""
        if self.kit_items is not UNSET:
            raise InvalidInput(detail="a kit's items cannot be changed", field="kit_items")
        return KitPatch(name=self.name, archived=self.archived)


class OrderItemInput(_In):
    item: Ref
    count: Count | None = None


class OrderKitInput(_In):
    kit: Ref
    count: Count | None = None


class OrderNoteInput(_In):
    note: Note


def _item_line(line: OrderItemInput) -> OrderItem:
    return OrderItem(item_id=line.item.id, count=1 if line.count is None else line.count)


def _kit_line(line: OrderKitInput) -> OrderKit:
    return OrderKit(kit_id=line.kit.id, count=1 if line.count is None else line.count)


_NOTE_TEXT: Final = operator.attrgetter("note")


class OrderInput(_In):
    """The body of ``POST /api/v3/order``."""

    patient: Ref | None = None
    site: Ref | None = None
    order_items: list[OrderItemInput] | None = None
    order_kits: list[OrderKitInput] | None = None
    external_order_ids: Annotated[list[Text], Meta(max_length=MAX_EXTERNAL_IDS)] | None = None
    shipping_option: ShippingOption | None = None
    order_notes: list[OrderNoteInput] | None = None

    def to_domain(self) -> PlaceOrder:
        """Checks the order's shape, then its structure. Raises InvalidInput, RuleBroken(invalid_order).
        The recipient rule is checked before the lines are made: a body of this type passes every
        shape check of the order (its field types state them), so no error can come before it."""
        patient_id = None if self.patient is None else self.patient.id
        site_id = None if self.site is None else self.site.id
        check_recipient(patient_id, site_id)
        items = within_each("order_items", self.order_items or (), _item_line)
        kits = within_each("order_kits", self.order_kits or (), _kit_line)
        return PlaceOrder(
            patient_id=patient_id,
            site_id=site_id,
            order_items=items,
            order_kits=kits,
            external_order_ids=tuple(self.external_order_ids or ()),
            shipping_option=_or(self.shipping_option, ShippingOption.STANDARD),
            order_notes=tuple(map(_NOTE_TEXT, self.order_notes or ())),
        )


class TrackingNumberInput(_In):
    carrier: Text
    value: Text


class StatusInput(_In):
    """The body of ``POST /api/v3/admin/order/{orderId}/status``."""

    status: OrderStatus
    tracking_number: TrackingNumberInput | None = None

    def to_domain(self) -> MoveOrder:
        """Raises InvalidInput."""
        tracking = None
        if self.tracking_number is not None:
            with within("tracking_number"):
                tracking = TrackingNumber(
                    carrier=self.tracking_number.carrier, value=self.tracking_number.value
                )
        return MoveOrder(status=self.status, tracking_number=tracking)


class CustomerInput(_In):
    """The body of ``POST /api/v3/admin/customer``."""

    name: Text


# ---------------------------------------------------------------- responses


class AddressOut(_Out):
    line_one: str
    line_two: str | None
    line_three: str | None
    city: str
    state: str
    zip_code: str
    country: str
    note: str | None


class SiteOut(_Out):
    id: int
    name: str
    active: bool
    phone_number: str | None
    address: AddressOut | None
    created_at: Stamp
    updated_at: Stamp


class PatientOut(_Out):
    id: int
    external_identifier: str | None
    first_name: str
    last_name: str
    date_of_birth: dt.date | None
    email: str | None
    phone_number: str | None
    sex: Sex
    address: AddressOut
    site: SiteOut | None
    enrolled: bool
    archived: bool
    created_at: Stamp
    updated_at: Stamp


class ManufacturerOut(_Out):
    id: int
    name: str


class ItemOut(_Out):
    id: int
    name: str
    model: str | None
    sku: str
    manufacturer: ManufacturerOut | None
    orderable: bool


class KitItemOut(_Out):
    item: ItemOut
    count: int


class KitOut(_Out):
    id: int
    name: str
    archived: bool
    kit_items: list[KitItemOut]
    created_at: Stamp
    updated_at: Stamp


class OrderItemOut(_Out):
    item: ItemOut
    count: int


class OrderKitOut(_Out):
    kit: KitOut
    count: int


class OrderEventOut(_Out):
    name: OrderStatus
    event_timestamp: Stamp


class OrderNoteOut(_Out):
    note: str
    created_at: Stamp


class TrackingNumberOut(_Out):
    carrier: str
    value: str


class OrderOut(_Out):
    id: int
    external_order_ids: list[str]
    patient: PatientOut | None
    site: SiteOut | None
    current_status: OrderStatus
    order_items: list[OrderItemOut]
    order_kits: list[OrderKitOut]
    order_events: list[OrderEventOut]
    order_notes: list[OrderNoteOut]
    tracking_numbers: list[TrackingNumberOut]
    devices: Annotated[list[dict[str, Any]], Meta(max_length=0, description="always empty")]
    packed_kits: Annotated[list[dict[str, Any]], Meta(max_length=0, description="always empty")]
    shipping_option: ShippingOption
    created_at: Stamp
    updated_at: Stamp


class _PageOut(_Out):
    page: int
    size: int
    total: int
    first: bool
    last: bool
    next_cursor: str | None


class PatientPage(_PageOut):
    content: list[PatientOut]


class SitePage(_PageOut):
    content: list[SiteOut]


class ItemPage(_PageOut):
    content: list[ItemOut]


class KitPage(_PageOut):
    content: list[KitOut]


class OrderPage(_PageOut):
    content: list[OrderOut]


class CustomerOut(_Out):
    id: int
    name: str
    api_key: Annotated[
        str | None,
        Meta(description="the customer's first key, shown only in the first answer (null in a replay)"),
    ]


class ApiKeyOut(_Out):
    api_key: Annotated[
        str | None, Meta(description="the new key, shown only in the first answer (null in a replay)")
    ]


class HealthOut(_Out):
    status: str
