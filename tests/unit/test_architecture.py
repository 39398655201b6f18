"""The layering contracts hold, and they bite: a planted forbidden import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree / 'adapters'}"}
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for part in ("src", "adapters"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_the_contracts_are_kept(tree: Path) -> None:
    done = lint(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("src/kitflow/domain/values.py", "import litestar", "The core imports no web, database or server library"),
        ("src/kitflow/domain/order.py", "import kitflow.services.orders", "Inside the core, services sit above the domain"),
        ("src/kitflow/services/orders.py", "import kitflow_adapters.memory", "The core never imports the adapters"),
        ("adapters/kitflow_adapters/memory/store.py", "import kitflow_adapters.sqlite", "The adapters are independent of each other"),
    ],
)
def test_a_planted_import_breaks_its_contract(tree: Path, module: str, planted: str, contract: str) -> None:
    path = tree / module
    path.write_text(f"{planted}  # planted\n" + path.read_text())
    done = lint(tree)
    assert done.returncode != 0
    assert f"{contract} BROKEN" in done.stdout, done.stdout
