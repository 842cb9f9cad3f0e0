"""Imports flow one way: kazakhstan ← docgen, signing, store (never each other) ← qujat. Inside
qujat, the application layer (qujat.service) knows no web framework and the HTTP API (qujat.api)
no SQL. bench never imports tests. Read from the source with `ast`, so a lazy import inside a
function counts too."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

OURS = {"kazakhstan", "docgen", "signing", "store", "qujat", "tests", "bench", "qujat_templates"}
ALLOWED = {
    "kazakhstan": set(),
    "docgen": {"kazakhstan"},
    "signing": {"kazakhstan"},
    "store": {"kazakhstan"},
    "qujat": {"kazakhstan", "docgen", "signing", "store"},
    "bench": {"kazakhstan", "docgen", "signing", "store", "qujat"},   # every layer, never tests
}


def _all_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _imports(path: Path) -> set[str]:
    return _all_imports(path) & OURS


# What a part of qujat must not import (third-party included): the application layer is the same
# for the HTTP API, the CLI and the job worker; the API reaches the database only through store.
FORBIDDEN_IN_QUJAT = {
    "qujat/service.py": {"fastapi", "starlette", "uvicorn", "sqlalchemy"},
    "qujat/api": {"sqlalchemy", "alembic", "psycopg", "uno"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    wrong = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) - ALLOWED[package] - {package}
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert not wrong, f"{package} must import only {sorted(ALLOWED[package])}: {wrong}"


@pytest.mark.parametrize("part", sorted(FORBIDDEN_IN_QUJAT))
def test_the_application_layer_and_the_api_keep_to_their_parts(part):
    where = ROOT / part
    files = [where] if where.suffix == ".py" else sorted(where.rglob("*.py"))
    assert files, f"{part} is missing"
    wrong = {str(f.relative_to(ROOT)): sorted(bad) for f in files
             if (bad := _all_imports(f) & FORBIDDEN_IN_QUJAT[part])}
    assert not wrong, wrong


def test_validating_a_request_does_not_load_drawing_or_office_code():
    code = ("import sys, docgen.request, docgen.model;"
            "print(sorted(m for m in ('PIL', 'uno', 'docxtpl', 'signing', 'pyhanko') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.strip()
    assert out == "[]", out


# spelt in pieces so that this file does not name what it looks for
OUTSIDE_MARKERS = ("/".join(("..", "shared")), "_".join(("QUJAT", "SHARED", "DIR")))


def test_nothing_in_the_repository_reads_outside_it():
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout.split()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".toml", ".cfg", ".yaml", ".yml", "") or not path.is_file():
            continue
        if name.startswith("tests/data/"):
            continue
        text = path.read_text("utf-8", errors="replace")
        if any(marker in text for marker in OUTSIDE_MARKERS):
            offenders.append(name)
    assert offenders == [], offenders
