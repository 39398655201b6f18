"""The HTTP adapter's renderers give, byte for byte, what converting each value to its wire struct
gives (the reference below: nothing remembered), whatever the values and however often they recur."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from kitflow.services.listing import Listing
from kitflow.testing import item_details, kit_details, order_details, patient_details, sites
from kitflow_adapters.http.rendering import to_wire
from kitflow_adapters.http.wire import (
    ItemOut,
    ItemPage,
    KitOut,
    KitPage,
    OrderOut,
    OrderPage,
    PatientOut,
    PatientPage,
    SiteOut,
    SitePage,
    Stamp,
)


def _from_domain(type_: type, value: Any) -> Any:
    if type_ is Stamp:
        return Stamp.of(value)
    raise NotImplementedError(type_)


def reference(value: Any, wire_type: type[Any]) -> bytes:
    """The generic way, with no cache: the value converted from its attributes, then encoded."""
    converted = msgspec.convert(value, wire_type, from_attributes=True, dec_hook=_from_domain)
    return msgspec.json.encode(converted, enc_hook=str)


def listings(content: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Listing[Any]]:
    return st.builds(
        lambda values, page, size, total, first, last, cursor: Listing(
            content=tuple(values), page=page, size=size, total=total, first=first, last=last, next_cursor=cursor
        ),
        content, st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=250),
        st.integers(min_value=0, max_value=2**40), st.booleans(), st.booleans(), st.none() | st.text(max_size=40),
    )


def rendered_as_reference(value: Any, wire_type: type[Any]) -> None:
    expected = reference(value, wire_type)
    assert to_wire(value, wire_type) == expected
    # again, remembered, then for an equal value made of other objects (as the next request reads it)
    assert to_wire(value, wire_type) == expected
    assert to_wire(copy.deepcopy(value), wire_type) == expected


@given(order_details())
def test_an_order_renders_as_its_conversion(orders: list[Any]) -> None:
    rendered_as_reference(orders[0], OrderOut)


@given(listings(order_details(size=6)))
def test_a_page_of_orders_renders_as_its_conversion(page: Listing[Any]) -> None:
    rendered_as_reference(page, OrderPage)


@given(st.data())
def test_entities_and_their_pages_render_as_their_conversion(data: st.DataObject) -> None:
    for values, wire_type, page_type in [
        (patient_details(), PatientOut, PatientPage),
        (sites(), SiteOut, SitePage),
        (item_details(), ItemOut, ItemPage),
        (kit_details(), KitOut, KitPage),
    ]:
        pool = data.draw(st.lists(values, min_size=1, max_size=3))
        rendered_as_reference(pool[0], wire_type)
        rendered_as_reference(data.draw(listings(st.lists(st.sampled_from(pool), max_size=5))), page_type)


def _offsets() -> st.SearchStrategy[dt.tzinfo | None]:
    day = dt.timedelta(hours=23, minutes=59)
    return st.none() | st.just(dt.UTC) | st.builds(dt.timezone, st.timedeltas(min_value=-day, max_value=day))


@given(st.datetimes(min_value=dt.datetime(1000, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=_offsets()))
def test_a_time_is_written_in_utc_to_the_millisecond(moment: dt.datetime) -> None:
    in_utc = moment if moment.tzinfo is None else moment.astimezone(dt.UTC)
    assert Stamp.of(moment) == f"{in_utc.replace(tzinfo=None).isoformat(timespec='milliseconds')}Z"
