"""The README's examples, run as written: the curl walk-through against a real ``kitflow serve``,
and the Python snippets, so that the README cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.cli.served import PATIENCE, environment, run_kitflow, served

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_BASE = "http://127.0.0.1:8000"


def _section(heading: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _blocks(heading: str, language: str) -> list[str]:
    found = re.findall(rf"```{language}\n(.*?)```", _section(heading), re.S)
    assert found, f"no {language} blocks under {heading!r}"
    return found


def test_the_curl_walk_through_runs_against_a_real_server(tmp_path: Path) -> None:
    script = "\n".join(_blocks("A walk-through with curl", "sh"))
    assert DOCUMENTED_BASE in script
    operator_key = "walk-through-operator-key-0123456789abcdef"
    env = environment(KITFLOW_OPERATOR_KEY=operator_key)
    with served("--demo", "--database", "sqlite:///walk.db", cwd=tmp_path, env=env) as server:
        key = server.wait_for(r"^Demo customer key \(shown this once\): (\S+)$").group(1)
        assert not any("Operator key" in line for line in server.out)  # configured: none is made
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script.replace(DOCUMENTED_BASE, server.base)],
            cwd=tmp_path, env={**env, "KEY": key, "OPERATOR_KEY": operator_key},
            capture_output=True, text=True, timeout=PATIENCE,
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr == ""
        patient = int(re.search(r"^patient (\d+)$", ran.stdout, re.M).group(1))
        order = int(re.search(r"^order (\d+)$", ran.stdout, re.M).group(1))
        with server.client(key) as api:
            assert api.get(f"/api/v3/patient/{patient}").json()["lastName"] == "Hopper"
            fetched = api.get(f"/api/v3/order/{order}").json()
        assert fetched["patient"]["id"] == patient
        assert [line["item"]["sku"] for line in fetched["orderItems"]] == ["MAS-MSRX"]
        assert [line["kit"]["name"] for line in fetched["orderKits"]] == ["Hypertension starter kit"]
        assert [event["name"] for event in fetched["orderEvents"]] == ["received", "processing", "shipped"]
        assert fetched["trackingNumbers"] == [{"carrier": "UPS", "value": "1Z999AA10123456784"}]
        for said in ('{"status":"ok"}', '"code":"invalid_order"', '{"status":409,"code":"invalid_transition"}',
                     f'"orders":[{{"id":{order},"currentStatus":"received"}}]', '"page":2'):
            assert said in ran.stdout


def _run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    (cwd / "example.py").write_text(code)
    return subprocess.run([sys.executable, "example.py"], cwd=cwd, capture_output=True, text=True, timeout=PATIENCE)


def test_the_embedding_example_runs_on_the_memory_and_the_sqlite_store(tmp_path: Path) -> None:
    (code,) = _blocks("Embedding the core in a Python program", "python")
    promised = re.search(r"print\(.*\)\s+# (.+)$", code, re.M).group(1)
    on_memory = _run_python(code, tmp_path)
    assert on_memory.returncode == 0, on_memory.stderr
    assert on_memory.stdout.strip() == promised
    # the swap the comments describe: the SQLite store instead of the memory store
    swapped = code.replace("from kitflow_adapters.memory import MemoryStore", "from kitflow_adapters.sqlite import SqliteStore")
    swapped = swapped.replace("MemoryStore()", 'SqliteStore("kitflow.db")')
    assert swapped.count("SqliteStore") == 4  # the import and the store, each with its comment
    on_sqlite = _run_python(swapped, tmp_path)
    assert on_sqlite.returncode == 0, on_sqlite.stderr
    assert on_sqlite.stdout.strip() == promised
    assert (tmp_path / "kitflow.db").stat().st_size > 0


def test_the_testing_example_is_a_passing_test_suite() -> None:
    (code,) = _blocks("Testing your own code with `kitflow.testing`", "python")
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert len(tests) == 2
    for test in tests:
        test()  # each is a Hypothesis test: it runs its examples, under this suite's profile


def test_the_readme_links_only_to_files_that_exist() -> None:
    for target in re.findall(r"\]\(((?!https?://)[^)#]+)\)", README.read_text()):
        assert (README.parent / target).exists(), target


def test_the_configuration_table_names_every_flag_of_serve(tmp_path: Path) -> None:
    table = _section("Configuration")
    flags = set(re.findall(r"--[a-z][a-z-]+", run_kitflow("serve", "--help", cwd=tmp_path).stdout)) - {"--help"}
    assert {"--host", "--port", "--database", "--workers", "--demo"} <= flags
    for flag in flags:
        assert f"`{flag}" in table, flag
    for variable in ("KITFLOW_DATABASE_URL", "KITFLOW_OPERATOR_KEY"):
        assert variable in table
