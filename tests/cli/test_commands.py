"""The one-shot commands and the errors of every command, each run as a real ``kitflow`` process."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.served import environment, no_traceback, run_kitflow


def test_version_names_the_installed_distribution(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run_kitflow("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"kitflow {version('kitflow')}"


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ((), ["serve", "customer", "migrate", "--version"]),
        (("serve",), ["--host", "--port", "--database", "--workers", "--demo", "--shutdown-timeout"]),
        (("customer",), ["create"]),
        (("customer", "create"), ["NAME", "--database", "apiKey"]),
        (("migrate",), ["--database", "schema"]),
    ],
)
def test_every_command_has_help(tmp_path: Path, command: tuple[str, ...], says: list[str]) -> None:
    result = run_kitflow(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: kitflow {' '.join(command)}".rstrip())
    for word in says:
        assert word in result.stdout


def test_customer_create_prints_one_json_line(tmp_path: Path) -> None:
    """(test_serve shows the key working against a server on the same database.)"""
    result = run_kitflow("customer", "create", "  Acme Remote Care ", "--database", "sqlite:///acme.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    made = json.loads(lines[0])
    assert set(made) == {"id", "name", "apiKey"}
    assert made["name"] == "Acme Remote Care" and made["id"] == 1
    assert len(made["apiKey"]) >= 22  # at least 128 bits in URL-safe base64


def test_customer_create_takes_the_database_from_the_environment(tmp_path: Path) -> None:
    env = environment(KITFLOW_DATABASE_URL="sqlite:///from-env.db")
    first = run_kitflow("customer", "create", "First", cwd=tmp_path, env=env)
    second = run_kitflow("customer", "create", "Second", cwd=tmp_path, env=env)
    assert first.returncode == second.returncode == 0
    assert (tmp_path / "from-env.db").exists() and not (tmp_path / "kitflow.db").exists()
    assert [json.loads(r.stdout)["id"] for r in (first, second)] == [1, 2]


def test_customer_create_refuses_a_blank_name(tmp_path: Path) -> None:
    result = run_kitflow("customer", "create", "   ", "--database", "sqlite:///x.db", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "name" in result.stderr
    no_traceback(result)


def test_migrate_creates_the_schema_says_its_version_and_is_safe_to_repeat(tmp_path: Path) -> None:
    from kitflow_adapters.sqlite.schema import KNOWN

    first = run_kitflow("migrate", "--database", "sqlite:///m.db", cwd=tmp_path)
    again = run_kitflow("migrate", "--database", "sqlite:///m.db", cwd=tmp_path)
    assert first.returncode == again.returncode == 0
    assert (tmp_path / "m.db").exists()
    for result in (first, again):
        assert f"version {KNOWN[-1]}" in result.stdout
    made = run_kitflow("customer", "create", "After migrate", "--database", "sqlite:///m.db", cwd=tmp_path)
    assert json.loads(made.stdout)["id"] == 1


COMMANDS = [("serve", "--port", "0"), ("customer", "create", "Acme"), ("migrate",)]
"""Each error test runs every command on one case, and ``migrate`` (the quickest) on every case."""


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_bad_database_url_is_a_clear_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    urls = ["nosuch://x", "sqlite://two-slashes.db", "sqlite:///", "kitflow.db"]
    for url in urls if command[0] == "migrate" else urls[:1]:
        result = run_kitflow(*command, "--database", url, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith("kitflow: error: bad database URL")
        assert result.stdout == ""
        no_traceback(result)


def test_a_bad_url_in_the_environment_is_the_same_clear_error(tmp_path: Path) -> None:
    result = run_kitflow("serve", "--port", "0", cwd=tmp_path, env=environment(KITFLOW_DATABASE_URL="mysql://x"))
    assert result.returncode == 1
    assert "bad database URL" in result.stderr and "mysql://x" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_database_that_cannot_be_opened_is_a_clear_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "not-a-database").write_bytes(b"this is not SQLite\n" * 400)
    paths = ["missing/kitflow.db", "a-folder", "not-a-database"]
    for path in paths if command[0] == "migrate" else paths[:1]:
        result = run_kitflow(*command, "--database", f"sqlite:///{path}", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith(f"kitflow: error: cannot open the database sqlite:///{path}")
        no_traceback(result)
    assert (tmp_path / "not-a-database").read_bytes() == b"this is not SQLite\n" * 400


def test_an_unreachable_postgresql_server_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there once it is closed
    result = run_kitflow("migrate", "--database", f"postgresql://kitflow:s3cret@127.0.0.1:{port}/kitflow", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"kitflow: error: cannot open the database postgresql://kitflow:***@127.0.0.1:{port}")
    assert "s3cret" not in result.stderr
    no_traceback(result)


def test_a_port_in_use_is_a_clear_error_before_the_database_is_touched(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_kitflow("serve", "--port", str(port), "--demo", cwd=tmp_path)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    no_traceback(result)
    assert not (tmp_path / "kitflow.db").exists()


def test_an_address_that_is_not_this_machines_is_a_clear_error(tmp_path: Path) -> None:
    result = run_kitflow("serve", "--host", "192.0.2.1", "--port", "0", cwd=tmp_path)  # TEST-NET-1
    assert result.returncode == 1
    assert "cannot listen on 192.0.2.1:0" in result.stderr
    no_traceback(result)


def test_memory_with_several_workers_is_refused(tmp_path: Path) -> None:
    result = run_kitflow("serve", "--database", "memory://", "--workers", "2", "--port", "0", cwd=tmp_path)
    assert result.returncode == 1
    assert "memory://" in result.stderr and "--workers 1" in result.stderr
    no_traceback(result)


def test_bad_flags_are_usage_errors(tmp_path: Path) -> None:
    for flags in [("--workers", "0"), ("--port", "70000"), ("--port", "http"), ("--shutdown-timeout", "-1")]:
        result = run_kitflow("serve", *flags, cwd=tmp_path)
        assert result.returncode == 2
        assert "usage: kitflow serve" in result.stderr and flags[0] in result.stderr
        no_traceback(result)
    assert not (tmp_path / "kitflow.db").exists()
