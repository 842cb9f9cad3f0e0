"""An install from the built wheel, in a fresh virtualenv and away from the working tree, renders
and signs every example: templates, manifest, labels, catalog and examples travel in the wheel."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LANGS, ROOT, TYPES

pytestmark = pytest.mark.slow


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(tmp / "dist"), str(ROOT)])
    (wheel,) = (tmp / "dist").glob("qujat-*.whl")
    venv = tmp / "venv"
    # Debian's python3 with its site-packages: LibreOffice's UNO bridge (python3-uno) lives there.
    _run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          f"{wheel}[devpki]"])
    return venv


def test_the_wheel_carries_templates_and_data(installed):
    code = ("import docgen, qujat_templates, pathlib, sys;"
            "from docgen.templates import packaged_templates_dir;"
            "print(packaged_templates_dir()); print(pathlib.Path(docgen.__file__).parent)")
    out = _run([str(installed / "bin" / "python"), "-c", code], cwd="/").stdout.split()
    assert all(str(ROOT) not in line for line in out), out  # nothing comes from the working tree
    templates = Path(out[0])
    assert (templates / "manifest.yaml").is_file()
    assert sorted(p.name for p in (templates / "kk").glob("*.docx")) == sorted(f"{t}.docx" for t in TYPES)


def test_the_wheel_renders_and_signs_every_example(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUJAT_")}
    env.update(QUJAT_DATA_DIR=str(tmp_path / "data"), QUJAT_POOL_SIZE="2", PYTHONPATH="")
    qujat = str(installed / "bin" / "qujat")
    _run([qujat, "demo", "--out", str(tmp_path / "out")], cwd=tmp_path, env=env)
    signed = sorted((tmp_path / "out").glob("*.signed.pdf"))
    assert len(signed) == len(TYPES) * len(LANGS)
    anchor = str(tmp_path / "data" / "pki" / "root.pem")  # the dev PKI made on first use
    proc = subprocess.run([qujat, "verify", str(signed[0]), "--trust", anchor, "--offline", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["indication"] == "TOTAL_PASSED"
