"""A stateful test over the use cases: two customers and the operator against a simple model.

It checks tenancy (a customer never reads, lists, changes or references the other's data: such an id
behaves as a missing one) and the order lifecycle (only the table's moves, each logged)."""

from __future__ import annotations

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule

from kitflow.domain.errors import DomainError, NotFound
from kitflow.domain.identity import OPERATOR
from kitflow.domain.order import TRANSITIONS, MoveOrder, OrderFilter, OrderStatus
from kitflow.domain.patient import PatientDraft, PatientFilter, PatientPatch
from kitflow.services import orders, patients
from kitflow.services.clock import SystemClock
from kitflow.services.listing import ListRequest
from kitflow_adapters.memory import MemoryStore

from tests.world import ADDRESS, build_world


class PatientRef(msgspec.Struct, frozen=True):
    owner: str
    id: int


class OrderRef(msgspec.Struct, frozen=True):
    owner: str
    id: int


class Tenancy(RuleBasedStateMachine):
    patients = Bundle("patients")
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.world = build_world(MemoryStore(), SystemClock())
        self.tenants = {"a": self.world.a, "b": self.world.b}
        self.archived: dict[int, bool] = {self.world.a.patient: False, self.world.b.patient: False}
        self.status: dict[int, OrderStatus] = {}
        self.owner_of: dict[int, str] = {}
        self.external: dict[str, set[str]] = {"a": set(), "b": set()}

    def kw(self, who: str) -> dict[str, object]:
        return {"caller": self.tenants[who].caller, "uow": self.world.uow}

    @rule(target=patients, owner=st.sampled_from("ab"), archived=st.booleans())
    def create_patient(self, owner: str, archived: bool) -> PatientRef:
        made = patients.create_patient(PatientDraft(first_name="P", last_name=owner, address=ADDRESS, archived=archived),
                                       clock=self.world.clock, **self.kw(owner))
        self.archived[made.id] = archived
        return PatientRef(owner, made.id)

    @rule(viewer=st.sampled_from("ab"), patient=patients, archived=st.booleans())
    def archive_patient(self, viewer: str, patient: PatientRef, archived: bool) -> None:
        try:
            patients.patch_patient(patient.id, PatientPatch(archived=archived), clock=self.world.clock, **self.kw(viewer))
        except NotFound:
            assert viewer != patient.owner
        else:
            assert viewer == patient.owner
            self.archived[patient.id] = archived

    @rule(target=orders, who=st.sampled_from("ab"), patient=patients, external=st.sampled_from(["", "x", "y"]))
    def place_order(self, who: str, patient: PatientRef, external: str) -> OrderRef:
        externals = (external,) if external else ()
        command = self.world.order(self.tenants[who], patient_id=patient.id, external_order_ids=externals)
        try:
            placed = orders.place_order(command, clock=self.world.clock, **self.kw(who))
        except DomainError as error:
            if patient.owner != who:
                assert error.code == "patient_does_not_exist"
            elif self.archived[patient.id]:
                assert error.code == "patient_archived"
            else:
                assert error.code == "duplicate_external_order_id" and external in self.external[who]
            return multiple()
        assert patient.owner == who and not self.archived[patient.id] and external not in self.external[who]
        if external:
            self.external[who].add(external)
        self.status[placed.id] = OrderStatus.RECEIVED
        self.owner_of[placed.id] = who
        return OrderRef(who, placed.id)

    @rule(viewer=st.sampled_from("ab"), order=orders)
    def fetch(self, viewer: str, order: OrderRef) -> None:
        try:
            found = orders.get_order(order.id, **self.kw(viewer))
        except NotFound:
            assert viewer != order.owner
        else:
            assert viewer == order.owner and found.current_status is self.status[order.id]

    @rule(viewer=st.sampled_from("ab"), order=orders)
    def cancel(self, viewer: str, order: OrderRef) -> None:
        try:
            orders.cancel_order(order.id, clock=self.world.clock, **self.kw(viewer))
        except NotFound:
            assert viewer != order.owner
        except DomainError as error:
            assert error.code == "invalid_transition"
            assert OrderStatus.CANCELLED not in TRANSITIONS[self.status[order.id]]
        else:
            assert viewer == order.owner and OrderStatus.CANCELLED in TRANSITIONS[self.status[order.id]]
            self.status[order.id] = OrderStatus.CANCELLED

    @rule(order=orders, status=st.sampled_from(OrderStatus))
    def operator_moves(self, order: OrderRef, status: OrderStatus) -> None:
        allowed = status in TRANSITIONS[self.status[order.id]] and status is not OrderStatus.AVAILABLE_FOR_PICKUP
        try:
            moved = orders.move_order(order.id, MoveOrder(status=status), caller=OPERATOR, uow=self.world.uow,
                                      clock=self.world.clock)
        except DomainError as error:
            assert not allowed and error.code == "invalid_transition"
        else:
            assert allowed and moved.order_events[-1].name is status
            self.status[order.id] = status

    @rule(order=consumes(orders))
    def forget(self, order: OrderRef) -> None:
        """Drop an order from the bundle (it stays in the store and the model)."""

    @invariant()
    def lists_hold_exactly_the_callers_own_data(self) -> None:
        for who in "ab":
            listed = orders.list_orders(OrderFilter(), ListRequest(size=250), **self.kw(who))
            mine = {i for i, owner in self.owner_of.items() if owner == who}
            assert {o.id for o in listed.content} == mine and listed.total == len(mine)
            assert all(o.current_status is self.status[o.id] for o in listed.content)
            people = patients.list_patients(PatientFilter(), ListRequest(size=250), **self.kw(who))
            own_names = {who, "Acme" if who == "a" else "Bravo"}  # the machine's and the world's patients
            assert {p.last_name for p in people.content} <= own_names


Tenancy.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestTenancy = Tenancy.TestCase
