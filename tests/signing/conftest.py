"""Fixtures: a dev PKI served on loopback, NCA test material (tests/data/nca), SoftHSM2, pdfsig.

Everything is real: certomancer's animator answers CRL/OCSP/TSA requests over HTTP on
a free port, pdfsig is poppler's binary, SoftHSM2 is Debian's. Private keys and
passwords exist only in pytest's tmp directories.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from signing.keys import load_pkcs12, read_secret  # noqa: E402
from signing.pki import DevPki, PkiServer, init_dev_pki  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NCA_DIR = REPO / "tests" / "data" / "nca"


@pytest.fixture(scope="session")
def nca_dir() -> Path:
    """NCA RK public test keys and certificates shipped with the repository."""
    assert NCA_DIR.is_dir(), f"NCA test material missing: {NCA_DIR}"
    return NCA_DIR


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory) -> DevPki:
    return init_dev_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def pki_server(dev_pki):
    server = PkiServer(dev_pki).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dev_password(dev_pki) -> bytes:
    return read_secret(file=dev_pki.password_file)


@pytest.fixture(scope="session")
def dev_signer(dev_pki, dev_password):
    def _get(label: str = "enterprise-head"):
        return load_pkcs12(dev_pki.p12(label), dev_password)

    return _get


def pdfsig(pdf: bytes, tmp_path: Path) -> str:
    """Run poppler's pdfsig and return its report (raises if pdfsig fails to run)."""
    path = tmp_path / f"pdfsig-{len(list(tmp_path.iterdir()))}.pdf"
    path.write_bytes(pdf)
    proc = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


def assert_pdfsig_all_valid(pdf: bytes, tmp_path: Path, expected: int) -> str:
    out = pdfsig(pdf, tmp_path)
    assert out.count("Signature Validation: Signature is Valid.") == expected, out
    assert "Signature is Invalid" not in out, out
    return out
