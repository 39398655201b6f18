"""The SQLite store keeps the API keys a connection has read (``SqliteStore.find_key``) while no
change to ``api_keys`` can have been committed since: a key issued or revoked anywhere (this
thread, another thread, another connection to the file as another process has) is seen by the next
request, exactly as a read of its row would see it."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitflow.domain.errors import NotFound, Unauthorized
from kitflow.domain.identity import OPERATOR, ApiKey, Principal
from kitflow.services import access
from kitflow.services.clock import SystemClock
from kitflow_adapters import sqlite as sqlite_adapter
from kitflow_adapters.sqlite import SqliteStore
from tests.contract.rows import new_customer

CLOCK = SystemClock()


class _Files(msgspec.Struct):
    server: SqliteStore
    """The store requests are authenticated on."""
    elsewhere: SqliteStore
    """Another store on the same file: another connection, as another process (the CLI) has."""
    customer: int


@pytest.fixture
def files(tmp_path: Path) -> Iterator[_Files]:
    path = str(tmp_path / "kitflow.db")
    server, elsewhere = SqliteStore(path), SqliteStore(path)
    yield _Files(server=server, elsewhere=elsewhere, customer=new_customer(server))
    server.close()
    elsewhere.close()


def _issue(store: SqliteStore, customer: int) -> str:
    return access.issue_key(customer, caller=OPERATOR, uow=store, clock=CLOCK)


def _revoke(store: SqliteStore, secret: str) -> None:
    access.revoke_key(secret[:8], caller=OPERATOR, uow=store, clock=CLOCK)


def _on_thread(work: object) -> None:
    """``work()`` on a new thread (its own connection to the store), to its end."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            failed.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def _who(store: SqliteStore, secret: str) -> Principal:
    return access.authenticate(secret, uow=store)


def _row(files: _Files, prefix: str) -> ApiKey | None:
    """The key's row as a new connection reads it."""
    fresh = SqliteStore(files.elsewhere.path)
    try:
        with fresh.begin() as tx:
            return tx.keys.find(prefix)
    finally:
        fresh.close()


@pytest.mark.parametrize("where", ["this thread", "another thread", "another connection"])
def test_a_key_revoked_anywhere_is_refused_by_the_next_request(files: _Files, where: str) -> None:
    secret = _issue(files.server, files.customer)
    assert _who(files.server, secret).customer_id == files.customer  # read, and kept
    assert _who(files.server, secret).customer_id == files.customer  # from what was kept
    if where == "this thread":
        _revoke(files.server, secret)
    elif where == "another thread":
        _on_thread(lambda: _revoke(files.server, secret))
    else:
        _revoke(files.elsewhere, secret)
    with pytest.raises(Unauthorized):
        _who(files.server, secret)
    with files.server.begin(), pytest.raises(Unauthorized):  # inside a read transaction too
        _who(files.server, secret)


def test_a_key_issued_elsewhere_is_accepted_at_once(files: _Files) -> None:
    first = _issue(files.server, files.customer)
    _who(files.server, first)
    second = _issue(files.elsewhere, files.customer)
    assert _who(files.server, second).customer_id == files.customer
    assert _who(files.server, first).customer_id == files.customer


def test_a_kept_key_is_not_read_again_while_others_write_other_tables(files: _Files) -> None:
    secret = _issue(files.server, files.customer)
    _who(files.server, secret)
    statements: list[str] = []
    conn = files.server._thread_link().conn  # noqa: SLF001 - what the store runs on this thread
    conn.set_trace_callback(statements.append)
    try:
        new_customer(files.elsewhere, "Other")  # another connection commits: data_version moves
        _who(files.server, secret)
        _who(files.server, secret)
    finally:
        conn.set_trace_callback(None)
    assert not [s for s in statements if "api_keys" in s], statements
    assert sum("name = 'keys'" in s for s in statements) == 1, statements  # checked once, after the commit


_COUNTING = "".join(
    f"DROP TRIGGER versions_api_keys_{event.lower()}; CREATE TRIGGER versions_api_keys_{event.lower()}"
    f" AFTER {event} ON api_keys BEGIN UPDATE versions SET version = version + 1 WHERE name = 'keys'; END;"
    for event in ("INSERT", "UPDATE", "DELETE")
)
_UNFIT_TRIGGERS = {"dropped": "DROP TRIGGER versions_api_keys_update", "counting": _COUNTING}


@pytest.mark.parametrize("triggers", ["as migrated", "counting"])
def test_a_file_restored_while_serving_cannot_bring_back_a_kept_keys_version(
    files: _Files, tmp_path: Path, triggers: str
) -> None:
    """An online restore (SQLite's backup API, as the shell's ``.restore`` does) takes the file back
    to an older state; a key change after it must still be seen: the version is random, not counted,
    and a file whose triggers count keeps no key."""
    path = files.server.path
    if triggers == "counting":
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.executescript(_COUNTING)
        files.server.close()  # its next connection looks at the triggers anew
    first = _issue(files.server, files.customer)
    backup = str(tmp_path / "backup.db")
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(backup)) as target:
        source.backup(target)
    second = _issue(files.server, files.customer)  # one key change after the backup
    assert _who(files.server, first) and _who(files.server, second)  # both kept
    with closing(sqlite3.connect(backup)) as source, closing(sqlite3.connect(path)) as target:
        source.backup(target)  # back to before the second key
    _revoke(files.elsewhere, first)  # one key change after the restore
    with pytest.raises(Unauthorized):
        _who(files.server, first)
    with pytest.raises(Unauthorized):
        _who(files.server, second)  # not in the restored file


@pytest.mark.parametrize("opened", ["after", "before, then closed"])
@pytest.mark.parametrize("unfit", sorted(_UNFIT_TRIGGERS))
def test_a_file_without_fit_key_triggers_has_its_keys_read_each_time(tmp_path: Path, unfit: str, opened: str) -> None:
    """A file whose ``api_keys`` lacks migration 0006's triggers as it makes them (a table rebuilt by
    hand; a counter that a restore can bring back) keeps no key; a store closed and used again
    looks at the file anew."""
    path = str(tmp_path / "kitflow.db")
    server = SqliteStore(path)
    if opened == "after":
        server.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.executescript(_UNFIT_TRIGGERS[unfit])
    if opened == "after":
        server = SqliteStore(path)
    else:
        server.close()  # the next use opens a new connection
    elsewhere = SqliteStore(path)
    try:
        secret = _issue(server, new_customer(server))
        _who(server, secret)
        _revoke(elsewhere, secret)
        with pytest.raises(Unauthorized):
            _who(server, secret)
    finally:
        server.close()
        elsewhere.close()


def test_a_file_without_the_keys_version_still_answers(files: _Files) -> None:
    secret = _issue(files.server, files.customer)
    with closing(sqlite3.connect(files.server.path, isolation_level=None)) as conn:
        conn.execute("DELETE FROM versions WHERE name = 'keys'")
    assert _who(files.server, secret).customer_id == files.customer
    _revoke(files.elsewhere, secret)
    with pytest.raises(Unauthorized):
        _who(files.server, secret)


def test_only_the_key_repository_writes_api_keys() -> None:
    """Its writes are what make a connection forget the keys it kept (``forget_keys``): no other
    statement of the SQLite adapter may change ``api_keys``."""
    folder = Path(sqlite_adapter.__file__).parent
    writes = re.compile(r"(INSERT\s+(OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+api_keys\b", re.IGNORECASE)
    writers = {file.name for file in folder.glob("*.py") if writes.search(file.read_text())}
    assert writers == {"identity.py"}, writers


_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["issue", "revoke", "other write", "check"]),
        st.sampled_from(["server", "server, another thread", "elsewhere"]),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(actions=_ACTIONS)
def test_find_key_always_answers_what_a_read_of_the_row_answers(tmp_path_factory: pytest.TempPathFactory,
                                                                actions: list[tuple[str, str, int]]) -> None:
    path = str(tmp_path_factory.mktemp("keys") / "kitflow.db")
    server, elsewhere = SqliteStore(path), SqliteStore(path)
    files = _Files(server=server, elsewhere=elsewhere, customer=new_customer(server))
    try:
        secrets = [_issue(server, files.customer)]
        for action, where, pick in actions:
            store = elsewhere if where == "elsewhere" else server
            secret = secrets[pick % len(secrets)]

            def act(action: str = action, store: SqliteStore = store, secret: str = secret) -> None:
                if action == "issue":
                    secrets.append(_issue(store, files.customer))
                elif action == "revoke":
                    with suppress(NotFound):  # revoked before: nothing changes
                        _revoke(store, secret)
                elif action == "other write":
                    new_customer(store, "Other")

            if where == "server, another thread":
                _on_thread(act)
            else:
                act()
            for known in secrets:  # every key, as the server's connection finds it, against its row
                assert server.find_key(known[:8]) == _row(files, known[:8])
    finally:
        server.close()
        elsewhere.close()
