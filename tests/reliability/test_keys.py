"""API keys: stored only as hashes (no issued key, whole or past its 8-character prefix, is anywhere in
the SQLite file, its WAL, the PostgreSQL tables or the server's log, idempotency records included),
compared in constant time, and refused at once when revoked, by every worker process."""

from __future__ import annotations

import ast
import hmac
import inspect
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest

from kitflow.domain import identity
from kitflow.domain.errors import Unauthorized
from kitflow.domain.identity import KEY_PREFIX_LENGTH, Role, digest
from kitflow.services import access
from kitflow.services.clock import SystemClock
from kitflow_adapters.sqlite import SqliteStore
from tests.cli.served import Served
from tests.e2e.api import Api
from tests.processes import children, owner
from tests.reliability.figures import Tally, record
from tests.reliability.service import DATABASES, Raw, database_url, serve

WINDOW = 10
"""Any run of this many characters of a key that is not inside its public prefix gives the key away."""
WORKERS = 3


def _windows(secret: str) -> set[str]:
    return {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}


def _leaks(secrets: Iterable[str], data: bytes) -> list[str]:
    """The secrets of which ``data`` holds the whole or a run past the prefix."""
    return [s for s in secrets if any(window.encode() in data for window in _windows(s))]


def _sqlite_bytes(path: Path) -> bytes:
    """The database file with its WAL and shared-memory files, as they are on disk."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _postgres_bytes(url: str) -> bytes:
    """Every value of every table in the URL's schema, text as UTF-8 and bytea as it is."""
    chunks: list[bytes] = []
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()]
        assert {"api_keys", "idempotency_records"} <= set(tables)
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"').fetchall():  # noqa: S608 - names from pg_tables
                for value in row:
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(chunks)


def _stored(keyed: Keyed) -> bytes:
    """Everything the store holds, as bytes."""
    return _sqlite_bytes(keyed.folder / "kitflow.db") if keyed.database == "sqlite" else _postgres_bytes(keyed.url)


class Keyed(msgspec.Struct, kw_only=True):
    database: str
    url: str
    folder: Path
    server: Served
    operator_key: str
    secrets: list[str]
    """Every key issued on this server, the operator's first."""


@pytest.fixture(scope="module", params=DATABASES)
def keyed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    """A server with several workers per store, started without KITFLOW_OPERATOR_KEY: it makes the
    operator key, stores its hash and prints it once."""
    folder = tmp_path_factory.mktemp(f"keys-{request.param}")
    with database_url(request.param, folder) as url, serve(url, folder, workers=WORKERS, operator_key=None) as server:
        operator_key = server.wait_for(r"^\s{4}(\S{40,})$").group(1)
        keyed = Keyed(database=request.param, url=url, folder=folder, server=server, operator_key=operator_key,
                      secrets=[operator_key])
        yield keyed
        server.stop()
        assert _leaks(keyed.secrets, _stored(keyed)) == [], "a key reached the store at shutdown"


def test_a_revoked_key_is_refused_at_once_by_every_worker(keyed: Keyed, request: pytest.FixtureRequest) -> None:
    tally = Tally()
    server = keyed.server
    with server.client() as http:
        operator = Api(http, keyed.operator_key)
        made = operator.made("/api/v3/admin/customer", {"name": "Acme"})
        revoked, kept = made["apiKey"], operator.made(f"/api/v3/admin/customer/{made['id']}/key", {})["apiKey"]
        keyed.secrets.extend([revoked, kept])
        workers = children(server.process.pid)
        by_worker: dict[int, Raw] = {}
        opened: list[Raw] = []
        for _ in range(100):  # the kernel gives each new connection to whichever worker accepts first
            raw = Raw(server.base)
            opened.append(raw)
            status, _, _ = raw.call("GET", "/api/v3/order", key=revoked)
            tally.note(status)
            assert status == 200
            pid = owner(raw.connection, workers)
            if pid is not None:
                by_worker.setdefault(pid, raw)
            if len(by_worker) == WORKERS:
                break
        try:
            assert len(by_worker) == WORKERS, f"only {len(by_worker)} of {WORKERS} workers took a connection"
            revoker, *others = by_worker.values()
            status, _, _ = revoker.call("DELETE", f"/api/v3/admin/key/{revoked[:KEY_PREFIX_LENGTH]}",
                                        key=keyed.operator_key)
            tally.note(status)
            assert status == 204
            for raw in [revoker, *others]:
                for method, path in (("GET", "/api/v3/order"), ("POST", "/api/v3/site")):
                    status, headers, body = raw.call(method, path, key=revoked, body={"name": "x"} if method == "POST" else None)
                    tally.note(status)
                    assert status == 401 and b'"code":"unauthorized"' in body, (status, body)
                status, _, _ = raw.call("GET", "/api/v3/order", key=kept)
                tally.note(status)
                assert status == 200
            status, _, _ = revoker.call("DELETE", f"/api/v3/admin/key/{revoked[:KEY_PREFIX_LENGTH]}",
                                        key=keyed.operator_key)
            assert status == 404
        finally:
            for raw in opened:
                raw.close()
    record(request, f"keys-revoked[{keyed.database}]", requests=tally.sent, failures=0, by_status=tally.summary(),
           workers=WORKERS, workers_checked=len(by_worker),
           checked="after DELETE through one worker, the key answers 401 on the next request to every "
                   "worker (GET and POST); the customer's other key still works; revoking again is 404")


def test_keys_are_stored_only_as_hashes(keyed: Keyed, request: pytest.FixtureRequest) -> None:
    tally = Tally()
    with keyed.server.client() as http:
        operator = Api(http, keyed.operator_key)
        for n in range(4):
            made = tally.count(operator.post("/api/v3/admin/customer", {"name": f"Customer {n}"},
                                             headers={"Idempotency-Key": f"customer-{n}"}))
            assert made is not None and made.status_code == 201
            more = tally.count(operator.post(f"/api/v3/admin/customer/{made.json()['id']}/key",
                                             headers={"Idempotency-Key": f"key-{n}"}))
            assert more is not None and more.status_code == 201
            keyed.secrets.extend([made.json()["apiKey"], more.json()["apiKey"]])
            replay = tally.count(operator.post("/api/v3/admin/customer", {"name": f"Customer {n}"},
                                               headers={"Idempotency-Key": f"customer-{n}"}))
            assert replay is not None and replay.headers.get("Idempotent-Replayed") == "true"
            assert replay.json()["apiKey"] is None  # a secret is shown once, never replayed
        for secret in keyed.secrets[1:]:
            answer = tally.count(operator.as_(secret).get("/api/v3/order"))
            assert answer is not None and answer.status_code in (200, 401)  # 401: the key revoked earlier
        revoke = tally.count(operator.delete(f"/api/v3/admin/key/{keyed.secrets[-1][:KEY_PREFIX_LENGTH]}"))
        assert revoke is not None and revoke.status_code == 204
    stored = _stored(keyed)
    assert all(digest(s).encode() in stored for s in keyed.secrets), "the keys' hashes are not where the test looks"
    assert _leaks(keyed.secrets, stored) == []
    log = _log(keyed)
    assert _leaks(keyed.secrets, log) == []
    record(request, f"keys-hashed[{keyed.database}]", requests=tally.sent, failures=0, keys_issued=len(keyed.secrets),
           bytes_searched=len(stored) + len(log),
           checked=f"no key, nor any {WINDOW}-character run of one past its prefix, in the "
                   f"{'database file, WAL and shm' if keyed.database == 'sqlite' else 'tables'} or the server "
                   "log (and again after the server stops); each key's SHA-256 is there; replays hide the secret")


def _log(keyed: Keyed) -> bytes:
    """What the server printed, but the operator key it made, which it prints once by design."""
    return "\n".join(keyed.server.out + keyed.server.err).replace(keyed.operator_key, "<operator key>").encode()


def test_authentication_compares_secrets_only_in_constant_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              request: pytest.FixtureRequest) -> None:
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def compare_digest(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)
    store = SqliteStore(str(tmp_path / "keys.db"))
    clock = SystemClock()
    try:
        made = access.create_customer("Acme", caller=identity.OPERATOR, uow=store, clock=clock)
        configured = "the-configured-operator-key-0123456789abcdef"
        cases = [
            (made.api_key, True),
            (configured, True),
            (made.api_key[:KEY_PREFIX_LENGTH] + "x" * (len(made.api_key) - KEY_PREFIX_LENGTH), False),
        ]
        for secret, good in cases:
            compared.clear()
            try:
                access.authenticate(secret, uow=store, operator_digest=digest(configured))
                accepted = True
            except Unauthorized:
                accepted = False
            assert accepted is good
            assert any(digest(secret) in pair for pair in compared), f"{secret!r} not compared by compare_digest"
        with store.begin() as tx:
            record_ = tx.keys.find(made.api_key[:KEY_PREFIX_LENGTH])
        assert record_ is not None and record_.role is Role.CUSTOMER and record_.digest == digest(made.api_key)
    finally:
        store.close()
    for module in (identity, access):
        assert not _plain_comparisons_of_secrets(inspect.getsource(module)), module.__name__
    record(request, "keys-constant-time", requests=0, failures=0, modules_inspected=2,
           checked="authenticate compares the key's SHA-256 with hmac.compare_digest (customer key, "
                   "operator key, wrong key of a known prefix); no ==/!= on a digest or secret in "
                   "kitflow/domain/identity.py or kitflow/services/access.py")


def _plain_comparisons_of_secrets(source: str) -> list[str]:
    """The ``==``/``!=``/``in`` comparisons of the source that involve a digest or a secret."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and not all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            text = ast.unparse(node)
            if "digest" in text or "secret" in text:
                found.append(text)
    return found


def test_the_leak_check_finds_a_key_past_its_prefix_but_not_the_prefix() -> None:
    key = "AbCdEfGh" + "0123456789_-xyzXYZ0123456789abcdefg"
    assert _leaks([key], b"...AbCdEfGh...") == []
    assert _leaks([key], b"..." + key.encode()) == [key]
    assert _leaks([key], b"..." + key[9:19].encode() + b"...") == [key]
    assert _leaks([key], b"..." + key[:10].encode() + b"...") == [key]


def test_the_comparison_check_finds_a_plain_comparison() -> None:
    assert _plain_comparisons_of_secrets("ok = record.digest == digest(key)") == ["record.digest == digest(key)"]
    assert _plain_comparisons_of_secrets("ok = operator_digest is not None") == []
