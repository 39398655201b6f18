"""The OpenAPI 3.1 document. Litestar generates it from the route handlers (paths, operations,
response bodies, problem responses, security); because handlers decode their bodies and query
parameters themselves, ``complete`` then adds what Litestar cannot see: request bodies (schemas by
msgspec from the same wire structs the handlers decode), query and header parameters, and the exact
schema of path ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec
from litestar import Litestar, Request, Response, Router
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, Schema, SecurityScheme
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute

from kitflow.domain.idempotency import MAX_KEY_LENGTH
from kitflow.domain.values import MAX_ID
from kitflow_adapters.http.errors import PROBLEM_JSON, Problem, problem_response
from kitflow_adapters.http.parsing import PAGING, Param
from kitflow_adapters.http.wire import Stamp

SECURITY_SCHEME: Final = "ImpiloApiKey"
_DESCRIPTIONS: Final = {
    400: "validation_error, or a rule of the resource (invalid_order, *_does_not_exist, ...)",
    401: "unauthorized: no key, an unknown key or a revoked key",
    403: "forbidden: the caller's role may not use this endpoint",
    404: "not_found: unknown path or path id, or another customer's resource",
    409: "a uniqueness rule, the lifecycle (invalid_transition), or idempotency_key_in_use",
    413: "payload_too_large: body over 1 MiB",
    415: "unsupported_media_type: a body that is not application/json",
    422: "idempotency_key_reused: the Idempotency-Key was used with another request",
}


def _problem(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        description=_DESCRIPTIONS[status],
        media_type=PROBLEM_JSON,
        generate_examples=False,
    )


def documented(
    *,
    body: type[msgspec.Struct] | None = None,
    query: Sequence[Param] | None = None,
    errors: Sequence[int] = (),
    public: bool = False,
) -> dict[str, Any]:
    """Route decorator arguments documenting what a handler reads itself: its JSON ``body`` type,
    its ``query`` filters (a list endpoint: paging parameters are added), its problem responses
    (``errors`` plus those every such handler can give), and whether it needs no key (``public``)."""
    statuses = set(errors)
    if not public:
        statuses |= {401, 403}
    if body is not None:
        statuses |= {400, 413, 415}
    if query is not None:
        statuses.add(400)
    return {
        "responses": {status: _problem(status) for status in sorted(statuses)},
        "opt": {"body": body, "query": query, "public": public},
        "security": [] if public else None,
    }


class StampSchemaPlugin(OpenAPISchemaPlugin):
    """The schema of the API's timestamps."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Stamp

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:
        return Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.DATE_TIME,
            description="ISO 8601, UTC, milliseconds, Z (2026-11-27T02:31:20.123Z)",
        )


def openapi_config() -> OpenAPIConfig:
    """Litestar's OpenAPI set-up: the document at ``/schema/openapi.json``, the API-key scheme."""
    return OpenAPIConfig(
        title="Kitflow — Impilo v3 order API",
        version="3",
        path="/schema",
        render_plugins=[_CompletedJsonPlugin()],
        openapi_router=Router(
            "/schema", route_handlers=[], after_request=_problem_for_html, include_in_schema=False
        ),
        security=[{SECURITY_SCHEME: []}],
        components=Components(
            security_schemes={
                SECURITY_SCHEME: SecurityScheme(
                    type="apiKey",
                    name="Impilo-API-Key",
                    security_scheme_in="header",
                    description="a customer's key, or the operator key",
                )
            }
        ),
        use_handler_docstrings=True,
        create_examples=False,
    )


class _CompletedJsonPlugin(JsonRenderPlugin):
    """Serves the document as JSON, completed (see ``complete``) and encoded once, on first request."""

    def __init__(self) -> None:
        super().__init__()
        self._body: bytes | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._body is None:
            complete(request.app)
            self._body = super().render(request, openapi_schema)
        return self._body


def _problem_for_html(response: Response[Any]) -> Response[Any]:
    """Litestar answers unknown paths under /schema with an HTML page: answer them as every 404."""
    if response.status_code == 404:
        return problem_response(404, "not_found", "no resource is at this path")
    return response


_ID_SCHEMA: Final = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_IDEMPOTENCY_KEY: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "replays the first answer to the same request for 24 hours",
    # printable ASCII; no space at either end (HTTP drops it there)
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~](?:[ -~]*[!-~])?$"},
}


def _parameter(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = param.kind.schema
    if param.repeated:
        schema = {"type": "array", "items": schema}
    return {
        "name": param.name,
        "in": "query",
        "required": False,
        "description": param.description,
        "schema": schema,
        **({"style": "form", "explode": True} if param.repeated else {}),
    }


def _problem_ref(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def complete(app: Litestar) -> dict[str, Any]:
    """Add to the document Litestar generated (in place, so that Litestar serves it) what the
    handlers read themselves; raises RuntimeError when two different schemas share a name.
    Returns the document."""
    plugin: Any = app.plugins.get("OpenAPIPlugin")
    document: dict[str, Any] = plugin.provide_openapi_schema()
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    bodies: dict[type, str] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.opt.get("body") is not None:
                bodies[handler.opt["body"]] = handler.opt["body"].__name__
    (_, components) = msgspec.json.schema_components(list(bodies), ref_template="#/components/schemas/{name}")
    for name, schema in components.items():
        known = schemas.get(name)
        if known is None:
            schemas[name] = schema
        elif known != schema and not ("enum" in schema and sorted(known.get("enum", ())) == schema["enum"]):
            raise RuntimeError(f"two different OpenAPI schemas are named {name}")

    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                operation = document["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    _complete_operation(operation, method, handler.opt, bodies)
    _name_resources(document)
    return document


def _name_resources(document: dict[str, Any]) -> None:
    """Response schemas under the resource's own name (``PatientOut`` -> ``Patient``), as a client
    generated from the document would call them; references follow."""
    schemas = document["components"]["schemas"]
    renamed = {old: old.removesuffix("Out") for old in schemas if old.endswith("Out")}
    if set(renamed.values()) & set(schemas):
        raise RuntimeError("a response schema would take the name of another schema")
    for old, new in renamed.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = new
    references = {
        f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renamed.items()
    }

    def follow(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                node["$ref"] = references.get(node["$ref"], node["$ref"])
            for value in node.values():
                follow(value)
        elif isinstance(node, list):
            for value in node:
                follow(value)

    follow(document)


def _complete_operation(
    operation: dict[str, Any], method: str, opt: dict[str, Any], bodies: dict[type, str]
) -> None:
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        if parameter.get("in") == "path" and parameter["name"].endswith("Id"):
            parameter["schema"] = dict(_ID_SCHEMA)
            operation["responses"].setdefault("404", _problem_ref(404))
    if opt.get("body") is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{bodies[opt['body']]}"}}
            },
        }
    if opt.get("query") is not None:
        parameters.extend(_parameter(param) for param in (*PAGING, *opt["query"]))
    if method == "POST":
        parameters.append(dict(_IDEMPOTENCY_KEY))
        for status in (400, 409, 422):
            operation["responses"].setdefault(str(status), _problem_ref(status))
    if opt.get("public"):
        operation["security"] = []
    if not parameters:
        del operation["parameters"]
    for status, response in operation["responses"].items():
        if int(status) >= 400 and PROBLEM_JSON not in response.get("content", {}):
            operation["responses"][status] = _problem_ref(int(status))  # Litestar's 400 for path parameters
