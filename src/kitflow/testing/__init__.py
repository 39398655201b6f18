"""Public Hypothesis strategies for Kitflow's domain, for your own tests.

Valid strategies build values that the domain accepts by construction; ``broken_*`` strategies build
requests that the domain must reject, paired with the error code it must give::

    from hypothesis import given
    from kitflow.testing import place_orders, broken_place_orders

    @given(place_orders(patient_ids=[1], item_ids=[1, 2]))
    def test_accepts(command): ...

    @given(broken_place_orders())
    def test_rejects(case):
        fields, code = case   # PlaceOrder(**fields) raises a DomainError whose .code == code

Needs the ``testing`` extra (hypothesis).
"""

from kitflow.testing.strategies import (
    addresses,
    broken_place_orders,
    broken_texts,
    item_details,
    item_drafts,
    kit_details,
    kit_drafts,
    moments,
    move_orders,
    order_details,
    order_statuses,
    patient_details,
    patient_drafts,
    place_orders,
    site_drafts,
    sites,
    texts,
)

__all__ = [
    "addresses",
    "broken_place_orders",
    "broken_texts",
    "item_details",
    "item_drafts",
    "kit_details",
    "kit_drafts",
    "moments",
    "move_orders",
    "order_details",
    "order_statuses",
    "patient_details",
    "patient_drafts",
    "place_orders",
    "site_drafts",
    "sites",
    "texts",
]
