"""``within_each`` places a line's errors as ``with within(...)`` around each line does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.errors import DomainError, FieldProblem, InvalidInput, within, within_each


def _line(value: int) -> int:
    if value < 0:
        raise InvalidInput(detail="must not be negative", field="count")
    if value == 0:
        raise InvalidInput(detail="the line as a whole")
    return value * 2


def _one_by_one(values: list[int]) -> tuple[int, ...]:
    made = []
    for index, value in enumerate(values):
        with within(f"lines[{index}]"):
            made.append(_line(value))
    return tuple(made)


def _outcome(make: object, values: list[int]) -> object:
    try:
        return make(values)  # type: ignore[operator]
    except DomainError as error:
        return type(error), error.code, error.detail, error.problems


@given(st.lists(st.integers(-2, 5), max_size=6))
def test_within_each_is_within_around_each(values: list[int]) -> None:
    assert _outcome(lambda v: within_each("lines", v, _line), values) == _outcome(_one_by_one, values)


def test_within_each_names_the_line_at_fault() -> None:
    outcome = _outcome(lambda v: within_each("lines", v, _line), [1, 2, -1])
    assert outcome == (InvalidInput, "validation_error", "must not be negative",
                       (FieldProblem(field="lines[2].count", message="must not be negative"),))
