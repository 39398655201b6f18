"""Problem bodies of domain errors: the same bytes whether remembered or made afresh, and a large
error (a client's long value echoed in its message) is answered but not kept."""

from __future__ import annotations

import secrets

from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound, RuleBroken
from kitflow_adapters.http.errors import (
    _REMEMBERED_TEXT,
    _error_body,
    domain_error_body,
    problem_body,
    status_of,
)

_CODES = st.sampled_from(["invalid_order", "validation_error", "not_found", "duplicate_sku"])
_PROBLEMS = st.lists(
    st.builds(FieldProblem, field=st.sampled_from(["patient_id", "order_items[0].count", "name"]),
              message=st.text(max_size=80)),
    max_size=3,
).map(tuple)


@given(kind=st.sampled_from([RuleBroken, Conflict, NotFound, InvalidInput]), code=_CODES,
       detail=st.text(min_size=1, max_size=2 * _REMEMBERED_TEXT), problems=_PROBLEMS)
def test_the_body_is_the_one_made_afresh(
    kind: type, code: str, detail: str, problems: tuple[FieldProblem, ...]
) -> None:
    error = kind(code, detail, problems=problems)
    status = status_of(error)
    expected = (status, problem_body(status, error.code, error.detail, error.problems))
    assert domain_error_body(error) == expected
    assert domain_error_body(error) == expected  # again: remembered or not, the same


def test_a_large_error_is_not_kept() -> None:
    before = _error_body.cache_info().currsize
    for n in range(3):
        error = InvalidInput(detail=f"{n} " + "x" * _REMEMBERED_TEXT)
        assert domain_error_body(error)[0] == 400
    assert _error_body.cache_info().currsize == before
    small = InvalidInput(detail=f"a short detail {secrets.token_hex(8)}")
    hits = _error_body.cache_info().hits
    assert domain_error_body(small) == domain_error_body(small)
    assert _error_body.cache_info().hits == hits + 1  # a small one is kept
