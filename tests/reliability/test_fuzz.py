"""Schema fuzzing: schemathesis generates requests for every operation of the app's own OpenAPI document
(GET /schema/openapi.json), valid and invalid ones, and sends each in process (ASGI) to the app on the
SQLite store twice: with a customer's key and with the operator key. Every answer must:

- never be a 5xx, and conform to the document (status, content type, headers, body schema): all of
  schemathesis' checks;
- be an RFC 9457 problem document when it is an error (``problem_documents``);
- refuse a schema-valid request only for one of the resource's own rules (``refused_only_by_rules``).

That last check stands in for schemathesis' ``positive_data_acceptance``, which expects every
schema-valid request to succeed: under API.md a well-formed request still meets the resource's rules
(a referenced id that does not exist is ``400 patient_does_not_exist``, an order for two recipients is
``400 invalid_order``, a key reused with another body is ``422``), which no JSON Schema can state. The
check allows exactly those codes, and ``validation_error`` only for the few rules listed in
BEYOND_THE_SCHEMA, each saying why the document cannot express it.

A fixed seed and KITFLOW_FUZZ_EXAMPLES examples per operation (default 12) keep it quick and
repeatable; KITFLOW_FUZZ_EXAMPLES=500 is a long run, KITFLOW_FUZZ_SEED another one."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
from typing import Any, Final

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from litestar.testing import TestClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from kitflow.domain.identity import digest
from kitflow_adapters.http.app import build_app
from kitflow_adapters.http.wire import NOT_BLANK
from kitflow_adapters.sqlite import SqliteStore
from tests.e2e.api import OPERATOR_KEY, check_shape, world
from tests.reliability.figures import record

EXAMPLES = int(os.environ.get("KITFLOW_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("KITFLOW_FUZZ_SEED", "20261127"))

RULE_CODES: Final = frozenset({
    "invalid_order", "patient_does_not_exist", "site_does_not_exist", "item_does_not_exist",
    "kit_does_not_exist", "item_not_orderable", "kit_archived", "patient_archived", "site_inactive",
    "idempotency_key_reused",
})
"""The codes of the resource's own rules (API.md 2): a schema-valid request may meet them."""

BEYOND_THE_SCHEMA: Final = {
    r"cursor: ": "a cursor is opaque and tamper-evident: a schema says it is a string, not that it was "
                 "signed for these filters",
    r"kitItems\[\d+\]\.item\.id: item appears twice": "no item twice in a kit: uniqueItems compares whole "
                                                       "lines, not their item ids",
    r"dateOfBirth: must not be in the future": "the document cannot know today's date",
    r"manufacturer\.id: ": "a manufacturer id must name an existing one (API.md 10: validation_error)",
    r"manufacturer\.name: (give the manufacturer's id or name|must not be blank)": "an id, or else a name that "
        "is not blank (API.md 10: the id wins): an either/or of two optional fields the wire types cannot state",
    r"[\w.\[\]]+: Expected `int( \| null)?`, got `float`": "API.md 10: 1.0 is not an integer, where JSON "
                                                            "Schema counts it as one",
}
"""Refusals (``field: message``, regular expressions) a schema-valid request may still get as
``validation_error``, and why the document cannot rule them out."""


class Fuzzed:
    """The app on a SQLite store holding the e2e world (ids 1, 2, 3... of every kind exist), and its
    document. Made when the module is imported, as schemathesis reads the operations to parametrize
    the test at collection (its fixture-based loader does not run on this pytest)."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="kitflow-fuzz-")
        self.store = SqliteStore(os.path.join(self.folder, "fuzz.db"))
        self.app = build_app(self.store, operator_digest=digest(OPERATOR_KEY))
        with TestClient(self.app) as client:
            w = world(client)
            w.a.api.made("/api/v3/order", w.order(w.a))
        self.customer_key = w.a.key
        self.counts = {"requests": 0, "cases": 0}
        atexit.register(self.close)

    def close(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


FUZZED = Fuzzed()
schema = schemathesis.openapi.from_asgi(
    "/schema/openapi.json",
    FUZZED.app,
    # The test sends the key itself (each case twice: as a customer, as the operator), and API.md 10
    # ignores unknown query parameters, which no OpenAPI document can state: schemathesis would count
    # both as schema violations that must be refused.
    config=schemathesis.Config.from_dict(
        {"generation": {"with-security-parameters": False, "allow-extra-parameters": False}}
    ),
)


def _as_httpx(response: schemathesis.Response) -> httpx.Response:
    request = httpx.Request(response.request.method or "GET", response.request.url or "/")
    return httpx.Response(
        response.status_code,
        headers=[(name, value) for name, values in response.headers.items() for value in values],
        content=response.content,
        request=request,
    )


def problem_documents(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every error is an RFC 9457 problem+json document with the API's fields (tests/e2e/api.py)."""
    check_shape(_as_httpx(response))
    return None


def refusal(status: int, problem: dict[str, Any]) -> str | None:
    """Why answering a schema-valid request with ``status`` and ``problem`` breaks the contract, or None."""
    if status not in (400, 422) or problem["code"] in RULE_CODES:
        return None
    errors = [f"{error['field']}: {error['message']}" for error in problem.get("errors", [])]
    if problem["code"] == "validation_error" and errors and all(
            any(re.match(pattern, error) for pattern in BEYOND_THE_SCHEMA) for error in errors):
        return None
    return f"a schema-valid request was refused: {status} {problem}"


def refused_only_by_rules(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """A schema-valid request is answered 2xx, 401, 403, 404 or 409, or refused (400, 422) by a rule of
    the resource, or on one of the fields of BEYOND_THE_SCHEMA."""
    if case.meta is not None and case.meta.generation.mode.is_positive and response.status_code in (400, 422):
        reason = refusal(response.status_code, _as_httpx(response).json())
        assert reason is None, reason
    return None


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@seed(SEED)
def test_every_operation_answers_as_its_document_says(case: schemathesis.Case) -> None:
    FUZZED.counts["cases"] += 1
    for key in (FUZZED.customer_key, OPERATOR_KEY):
        FUZZED.counts["requests"] += 1
        case.call_and_validate(
            headers={"Impilo-API-Key": key},
            additional_checks=[problem_documents, refused_only_by_rules],
            excluded_checks=[positive_data_acceptance],
        )


def test_fuzz_figures(request: pytest.FixtureRequest) -> None:
    """Records the figures of the fuzzing run above (it ran first, in this module)."""
    operations = sum(1 for _ in schema.get_all_operations())
    assert FUZZED.counts["cases"] >= operations, "the fuzzing test did not run before this one"
    record(request, "schema-fuzzing", requests=FUZZED.counts["requests"], failures=0, cases=FUZZED.counts["cases"],
           operations=operations, examples_per_operation=EXAMPLES, seed=SEED, phases="examples, coverage, fuzzing",
           checked="all schemathesis checks (no 5xx; status, content type, headers and body as documented; "
                   "schema-invalid data refused) + problem+json errors + schema-valid requests refused only by rules")


def test_the_document_spells_blank_as_python_trims() -> None:
    """``NOT_BLANK`` (the pattern of required text) matches exactly the characters ``str.strip()`` keeps."""
    pattern = re.compile(NOT_BLANK)
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if (pattern.match(c) is None) != c.isspace()] == []


def test_the_refusal_check_allows_only_rules_and_the_listed_fields() -> None:
    def problem(code: str, *fields: str) -> dict[str, Any]:
        return {"code": code, **({"errors": [{"field": f, "message": "is wrong"} for f in fields]} if fields else {})}

    assert refusal(400, problem("validation_error", "name")) is not None
    assert refusal(400, problem("validation_error")) is not None
    assert refusal(400, problem("validation_error", "cursor", "name")) is not None
    assert refusal(422, problem("unprocessable_content")) is not None
    assert refusal(400, problem("validation_error", "cursor")) is None
    assert refusal(400, {"code": "validation_error", "errors": [{"field": "orderItems[0].count",
                                                                  "message": "Expected `int`, got `float`"}]}) is None
    assert refusal(400, {"code": "validation_error", "errors": [{"field": "orderItems[0].count",
                                                                  "message": "Expected `int`, got `str`"}]}) is not None
    assert refusal(400, problem("patient_does_not_exist", "patient.id")) is None
    assert refusal(422, problem("idempotency_key_reused")) is None
    assert refusal(404, problem("not_found")) is None
