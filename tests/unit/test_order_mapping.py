"""``OrderInput.to_domain`` checks the recipient rule before it makes the order's lines. That is
safe because a body that decodes as ``OrderInput`` passes every shape check of ``PlaceOrder`` (its
field types state them): for any body, the mapping gives exactly what making every line and then
the command gives, and never an InvalidInput."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kitflow.domain.errors import DomainError, InvalidInput, within_each
from kitflow.domain.order import OrderItem, OrderKit, PlaceOrder, ShippingOption
from kitflow_adapters.http.parsing import decode
from kitflow_adapters.http.wire import OrderInput

# mostly values the wire takes, each field now and then one it refuses or one at a bound
_ids = st.one_of(st.integers(1, 40), st.integers(1, 40), st.sampled_from([-1, 0, 2**63 - 1, 2**63, None]))
_counts = st.one_of(st.integers(1, 3), st.none(), st.sampled_from([0, 10_000, 10_001]))
_texts = st.one_of(
    st.text(alphabet=" \t\nab:-", max_size=8),
    st.sampled_from(["", "   ", "x" * 255, "x" * 256, " " + "x" * 255]),
)
_notes = st.one_of(_texts, st.sampled_from(["n" * 1000, "n" * 1001]))


def _ref() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.fixed_dictionaries({"id": _ids}))


def _line(name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: st.fixed_dictionaries({"id": _ids})}, optional={"count": _counts})


_bodies = st.fixed_dictionaries(
    {},
    optional={
        "patient": _ref(),
        "site": _ref(),
        "orderItems": st.one_of(st.none(), st.lists(_line("item"), max_size=3)),
        "orderKits": st.one_of(st.none(), st.lists(_line("kit"), max_size=3)),
        "externalOrderIds": st.one_of(st.none(), st.lists(_texts, max_size=3), st.lists(st.just("e"), min_size=21, max_size=21)),
        "shippingOption": st.one_of(st.none(), st.sampled_from([*ShippingOption, "bogus"])),
        "orderNotes": st.one_of(st.none(), st.lists(st.fixed_dictionaries({"note": _notes}), max_size=2)),
    },
)


def _every_line_then_the_command(payload: OrderInput) -> PlaceOrder:
    """The mapping without its early check: each line made, then the command (which checks the
    order's shape, then its structure)."""
    items = within_each(
        "order_items", payload.order_items or (), lambda line: OrderItem(item_id=line.item.id, count=line.count or 1)
    )
    kits = within_each(
        "order_kits", payload.order_kits or (), lambda line: OrderKit(kit_id=line.kit.id, count=line.count or 1)
    )
    return PlaceOrder(
        patient_id=None if payload.patient is None else payload.patient.id,
        site_id=None if payload.site is None else payload.site.id,
        order_items=items,
        order_kits=kits,
        external_order_ids=tuple(payload.external_order_ids or ()),
        shipping_option=payload.shipping_option or ShippingOption.STANDARD,
        order_notes=tuple(note.note for note in payload.order_notes or ()),
    )


def _outcome(make: Any) -> Any:
    try:
        return make()
    except DomainError as error:
        return (type(error), error.code, error.detail, error.problems)


@settings(max_examples=400)
@given(_bodies)
@example({"patient": {"id": 1}, "site": {"id": 2}, "orderItems": [{"item": {"id": 0}}]})
@example({"patient": {"id": 1}, "site": {"id": 2}, "externalOrderIds": ["  "]})
@example({"orderItems": [{"item": {"id": 1}}, {"item": {"id": 1}}], "patient": {"id": 3}})
def test_the_mapping_gives_what_making_every_line_then_the_command_gives(body: dict[str, Any]) -> None:
    try:
        payload = decode(json.dumps(body).encode(), OrderInput)
    except InvalidInput:
        return  # refused by its shape before any mapping
    mapped = _outcome(payload.to_domain)
    assert mapped == _outcome(lambda: _every_line_then_the_command(payload))
    assert not (isinstance(mapped, tuple) and mapped[0] is InvalidInput), mapped
