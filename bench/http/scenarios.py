"""The scenarios of the HTTP benchmark, and the probe that prepares them on a live Kitflow server.

The probe sends each scenario's request once, checks Kitflow's answer (status, and the error code
or page number), and keeps the response body: the ceiling answers with exactly those bytes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgspec

from bench.http.seed import Seeded

PAGE_SIZE = 25
DEEP_PAGE = 800
COLD_PAGES = 700
"""Pages 1..700 asked in turn, each about once in 700 requests: more than the remembered pages
hold (docs/architecture.md), so each is built from the store, as a page not asked lately is."""


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    """One request shape under load. ``path`` and ``body`` may hold @ID@ (cycling through
    ``lo..hi``) and @SEQ@ (unique per request); ``target`` is the least throughput ratio to the
    ceiling that the issue asks for (None: no target of its own)."""

    name: str
    title: str
    method: str
    path: str
    expected: int
    lo: int
    hi: int
    body: str | None = None
    target: float | None = None


def _order_body(seeded: Seeded, *, patient: str, site: str | None = None) -> str:
    body: dict[str, Any] = {
        "patient": {"id": "@PATIENT@"},
        "orderItems": [{"item": {"id": seeded.items[0]}, "count": 2}, {"item": {"id": seeded.items[1]}}],
        "orderKits": [{"kit": {"id": seeded.kits[0]}, "count": 1}],
        "externalOrderIds": ["bench-@SEQ@"],
        "shippingOption": "expedited",
        "orderNotes": [{"note": "leave at the front desk"}],
    }
    if site is not None:
        body["site"] = {"id": "@SITE@"}
    return json.dumps(body).replace('"@PATIENT@"', patient).replace('"@SITE@"', site or "")


EXTRA = "pages"
"""The scenario the issue does not name (pages not asked lately): run last, so that the peak memory of
the issue's scenarios is read before it."""
LISTS = frozenset({"page1", "page800", EXTRA, "cursor"})
"""The scenarios that list orders (a page of ``PAGE_SIZE`` each)."""


def scenarios(seeded: Seeded, *, cursor: str) -> list[Scenario]:
    """The six scenarios on the seeded database; ``cursor`` is page 799's ``nextCursor``."""
    low, high = min(seeded.patients), max(seeded.patients)
    if sorted(seeded.patients) != list(range(low, high + 1)):
        raise RuntimeError("the seeded patients' ids are not one range")
    order = "/api/v3/order"
    return [
        Scenario(
            name="create", title="create order", method="POST", path=order, expected=201, lo=low, hi=high,
            body=_order_body(seeded, patient="@ID@"), target=0.40,
        ),
        Scenario(
            name="fetch", title="fetch order by id", method="GET", path=f"{order}/@ID@", expected=200,
            lo=seeded.first_order, hi=seeded.last_order, target=0.50,
        ),
        Scenario(
            name="page1", title=f"list page 1 (size {PAGE_SIZE})", method="GET", path=f"{order}?size={PAGE_SIZE}",
            expected=200, lo=0, hi=0, target=0.25,
        ),
        Scenario(
            name="page800", title=f"list page {DEEP_PAGE} by number", method="GET",
            path=f"{order}?page={DEEP_PAGE}&size={PAGE_SIZE}", expected=200, lo=0, hi=0,
        ),
        Scenario(
            name="cursor", title=f"list page {DEEP_PAGE} by cursor", method="GET",
            path=f"{order}?size={PAGE_SIZE}&cursor={cursor}", expected=200, lo=0, hi=0,
        ),
        Scenario(
            name="invalid", title="invalid order (400)", method="POST", path=order, expected=400, lo=low, hi=high,
            body=_order_body(seeded, patient="@ID@", site=str(seeded.sites[0])), target=0.70,
        ),
        Scenario(
            name=EXTRA, title=f"list pages 1..{COLD_PAGES} in turn (each seldom asked)", method="GET",
            path=f"{order}?page=@ID@&size={PAGE_SIZE}", expected=200, lo=1, hi=COLD_PAGES,
        ),
    ]


def call(base: str, method: str, path: str, *, key: str, body: str | None = None) -> tuple[int, bytes]:
    """One request; returns the status and the body (also of an error answer)."""
    request = urllib.request.Request(f"{base}{path}", method=method, data=body.encode() if body else None)
    request.add_header("Impilo-API-Key", key)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _instance(scenario: Scenario, *, probe: str) -> tuple[str, str | None]:
    """The scenario's path and body with its placeholders filled for one probe request."""
    fill = str(scenario.lo + (scenario.hi - scenario.lo) // 2)
    body = scenario.body.replace("@ID@", fill).replace("@SEQ@", probe) if scenario.body else None
    return scenario.path.replace("@ID@", fill), body


def deep_cursor(base: str, *, key: str) -> tuple[str, int]:
    """Page 799's ``nextCursor`` and the id of the first order of page 800 (read by number).
    Raises RuntimeError when the database is too small or the cursor is missing."""
    status, raw = call(base, "GET", f"/api/v3/order?page={DEEP_PAGE - 1}&size={PAGE_SIZE}", key=key)
    page = json.loads(raw)
    if status != 200 or not page.get("nextCursor"):
        raise RuntimeError(f"page {DEEP_PAGE - 1} has no nextCursor ({status}): {raw[:300]!r}")
    status, raw = call(base, "GET", f"/api/v3/order?page={DEEP_PAGE}&size={PAGE_SIZE}", key=key)
    return page["nextCursor"], json.loads(raw)["content"][0]["id"]


def probe(base: str, scenario: Scenario, *, key: str, first_deep_id: int) -> bytes:
    """Send the scenario's request once to Kitflow and check the answer; returns its body.
    Raises RuntimeError when the answer is not what the scenario expects."""
    path, body = _instance(scenario, probe=f"probe-{scenario.name}")
    status, raw = call(base, scenario.method, path, key=key, body=body)
    problem = None
    if status != scenario.expected:
        problem = f"status {status}"
    else:
        answer = json.loads(raw)
        if scenario.name == "invalid" and answer.get("code") != "invalid_order":
            problem = f"code {answer.get('code')!r}"
        if scenario.name in LISTS and len(answer["content"]) != PAGE_SIZE:
            problem = f"{len(answer['content'])} orders on the page"
        if scenario.name == "cursor" and (answer["page"], answer["content"][0]["id"]) != (DEEP_PAGE, first_deep_id):
            problem = f"the cursor page is page {answer['page']} starting at {answer['content'][0]['id']}"
    if problem:
        raise RuntimeError(f"{scenario.title}: Kitflow answered {problem}, not as expected: {raw[:400]!r}")
    return raw


def write_body(folder: Path, scenario: Scenario) -> Path | None:
    """The file wrk reads the scenario's body from (None for a request without a body)."""
    if scenario.body is None:
        return None
    path = folder / f"{scenario.name}.json"
    path.write_text(scenario.body)
    return path
