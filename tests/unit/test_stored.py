"""Values a store kept are made again as they were, without their creation checks: the same value
(equal, same hash) as building it normally, for any valid value; a missing field is an error rather
than a field silently copied from another value."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.errors import InvalidInput
from kitflow.domain.patient import Patient, PatientDraft
from kitflow.domain.stored import Restorer, shadow
from kitflow.domain.values import Address
from kitflow.testing import addresses, patient_drafts

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _patient(draft: PatientDraft, patient_id: int) -> Patient:
    return Patient(**msgspec.structs.asdict(draft), id=patient_id, customer_id=1, created_at=T0, updated_at=T0)


@given(st.lists(patient_drafts(), min_size=1, max_size=5))
def test_a_restored_value_equals_the_value_built_and_checked(drafts: list[PatientDraft]) -> None:
    restore = Restorer(Patient)
    for number, draft in enumerate(drafts, start=1):
        built = _patient(draft, number)
        restored = restore(**msgspec.structs.asdict(built))
        assert restored == built and hash(restored) == hash(built)
        assert type(restored) is Patient and type(restored.address) is Address


@given(st.lists(addresses(), min_size=1, max_size=5))
def test_stored_json_decoded_into_the_shadow_restores_the_value(values: list[Address]) -> None:
    decoder = msgspec.json.Decoder(shadow(Address))
    restore = Restorer(Address)
    for address in values:
        assert restore.of(decoder.decode(msgspec.json.encode(address))) == address


def test_the_first_value_is_checked_and_a_missing_field_is_refused() -> None:
    restore = Restorer(Address)
    with pytest.raises(InvalidInput):  # the first value is built normally, so checked
        restore(line_one=" ", city="c", state="s", zip_code="z", country="US", line_two=None, line_three=None, note=None)
    fine = {"line_one": "1 Main", "city": "c", "state": "s", "zip_code": "z", "country": "US"}
    restore(**fine, line_two=None, line_three=None, note=None)
    with pytest.raises(TypeError):
        restore(**fine)


@given(patient_drafts(), patient_drafts())
def test_a_value_restored_from_a_hashed_template_hashes_as_itself(first: PatientDraft, second: PatientDraft) -> None:
    # entities keep their hash once computed (``cache_hash``): a copy of the template must not
    # carry the template's, or a remembered fragment could be served for another value
    restore = Restorer(Patient)
    template = restore(**msgspec.structs.asdict(_patient(first, 1)))
    hash(template)
    built = _patient(second, 2)
    restored = restore(**msgspec.structs.asdict(built))
    assert hash(restored) == hash(built) and restored == built
