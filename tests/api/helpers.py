"""What the API tests check a returned document with: our verifier, poppler's pdfsig, zbarimg on
pdftoppm's pages."""
from __future__ import annotations

import copy
import subprocess
import uuid
from pathlib import Path

from signing.model import Indication
from signing.verify import verify_pdf
from tests.conftest import example, run

DEV_HEADS = ("ЖАНДОСОВ АЙДАР", "ОМАРОВА ДИНАРА")     # the dev PKI's enterprise and authority heads


def fresh(doc_type: str, language: str | None = None) -> dict:
    """The type's example request with an external_id of its own (so that issuing it again in
    another language is a new document, not the earlier one)."""
    raw = copy.deepcopy(example(doc_type, language))
    raw["external_id"] = f"test-{doc_type}-{uuid.uuid4().hex[:12]}"
    return raw


def pdfsig_valid(pdf: bytes, tmp_path: Path) -> int:
    """How many signatures poppler's pdfsig finds valid (it fails the test on an invalid one)."""
    path = tmp_path / f"pdfsig-{uuid.uuid4().hex[:8]}.pdf"
    path.write_bytes(pdf)
    out = run("pdfsig", str(path))
    text = (out.stdout + out.stderr).decode("utf-8", "replace")
    assert "Signature is Invalid" not in text, text
    return text.count("Signature Validation: Signature is Valid.")


def qr_texts(pdf: bytes, tmp_path: Path) -> list[str]:
    """What the QR code of each page decodes to (zbarimg on pdftoppm's 150 dpi pages)."""
    where = tmp_path / f"qr-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    (where / "doc.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", str(where / "doc.pdf"), str(where / "p")],
                   check=True, timeout=120)
    found = []
    for page in sorted(where.glob("p*.png")):
        out = run("zbarimg", "--raw", "-q", str(page))
        found.extend(out.stdout.decode().split())
    return found


def check_signed_document(pdf: bytes, doc: dict, runtime, tmp_path: Path) -> None:
    """The PDF of an issued record: verifies TOTAL_PASSED (ours and pdfsig), signed by the dev
    enterprise head (and the authority head second for a cadastral value act), and every page's
    QR decodes to the record's verification URL."""
    expected = DEV_HEADS if doc["type"] == "cadastral_value_act" else DEV_HEADS[:1]
    report = verify_pdf(pdf, trust=runtime.trust_anchors)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert tuple(s.signer.common_name for s in report.signatures) == expected
    assert pdfsig_valid(pdf, tmp_path) == len(expected)
    assert [s["signer"] for s in doc["versions"][0]["signatures"]] == list(expected)
    codes = qr_texts(pdf, tmp_path)
    assert codes and set(codes) == {doc["verification_url"]}, codes
