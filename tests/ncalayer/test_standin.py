"""The NCALayer stand-in over a real WebSocket: its greeting, the basics ``sign`` reply (a PEM CMS
that `signing.deferred.embed` accepts for a prepared PDF and that our verifier passes at a moment
inside the NCA test key's validity), the user-cancel and wrong-key modes, and its error replies."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from asn1crypto import cms
from websockets.sync.client import connect

from signing.deferred import embed, prepare
from signing.keys import load_pkcs12
from signing.model import Indication
from signing.ncacert import signer_fields
from signing.verify import verify_pdf
from tests.ncalayer.standin import BASICS, StandIn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signing"))
from pdfs import tiny_pdf  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NCA = ROOT / "tests" / "data" / "nca"
NCA_P12 = NCA / "individual_rsa_sign_valid_2021.p12"
NCA_PASSWORD = b"Qwerty12"            # published with the NCA test fixtures (tests/data/README.md)
NCA_CA = NCA / "nca_rsa_test_ca.pem"
NCA_MOMENT = datetime(2021, 6, 1, tzinfo=timezone.utc)   # inside the test key's validity
NCA_IIN = "123456789011"


def sign_request(digest_b64, **changes) -> dict:
    """The request a page sends for a detached CMS over a given hash (as sign.js builds it)."""
    args = {
        "allowedStorages": ["PKCS12", "AKKaztokenStore", "AKKZIDCardStore"],
        "format": "cms",
        "data": digest_b64,
        "signingParams": {"decode": True, "encapsulate": False, "digested": True, "tsaProfile": None},
        "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"], "chain": []},
        "locale": "kk",
    }
    args.update(changes)
    return {"module": BASICS, "method": "sign", "args": args}


def der_of(pem: str) -> bytes:
    match = re.fullmatch(r"-----BEGIN CMS-----\r\n([A-Za-z0-9+/=\r\n]+)\r\n-----END CMS-----\r\n", pem)
    assert match, pem[:80]
    return base64.b64decode(match.group(1).replace("\r\n", ""), validate=True)


@pytest.fixture(scope="module")
def nca_signer():
    return load_pkcs12(NCA_P12, NCA_PASSWORD)


@pytest.fixture(scope="module")
def layer(nca_signer):
    with StandIn(nca_signer, signing_time=NCA_MOMENT) as server:
        yield server


@pytest.fixture
def session(layer):
    """A connection whose greeting has been read and checked."""
    layer.mode = "sign"
    with connect(layer.url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10)) == {"result": {"version": "1.4"}}
        yield ws


def ask(ws, request) -> dict:
    ws.send(request if isinstance(request, str) else json.dumps(request))
    return json.loads(ws.recv(timeout=60))


def test_greets_with_its_version_on_connect(layer):
    with connect(layer.url, open_timeout=10) as ws:
        greeting = json.loads(ws.recv(timeout=10))
    assert greeting == {"result": {"version": "1.4"}}
    assert layer.url.startswith("ws://127.0.0.1:")


def test_signs_a_prepared_pdfs_digest_and_the_cms_embeds_and_verifies(session, nca_signer):
    pdf = tiny_pdf(pdfa=True)
    prepared = prepare(pdf, signer_cert=nca_signer.signing_cert)

    reply = ask(session, sign_request(prepared.digest_b64))

    assert reply["status"] is True and set(reply["body"]) == {"result"}
    (pem,) = reply["body"]["result"]
    der = der_of(pem)
    signed = embed(prepared, der, trust=[NCA_CA], at=NCA_MOMENT)
    report = verify_pdf(signed, trust=[NCA_CA], at=NCA_MOMENT)
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert report.signatures[0].signer.iin == NCA_IIN
    attrs = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signed_attrs"]
    message_digest = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
    assert message_digest == prepared.digest           # detached, over the hash it was given
    assert cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native is None
    assert signed.startswith(prepared.pdf[:prepared.contents_start])


def test_an_array_of_hashes_gets_one_cms_each(session):
    digests = [base64.b64encode(hashlib.sha256(bytes([i])).digest()).decode() for i in range(2)]
    reply = ask(session, sign_request(digests))
    assert reply["status"] is True and len(reply["body"]["result"]) == 2
    assert all(der_of(pem)[:1] == b"\x30" for pem in reply["body"]["result"])


def test_user_cancels_is_status_true_without_a_result(layer, session):
    layer.mode = "cancel"
    reply = ask(session, sign_request(base64.b64encode(bytes(32)).decode()))
    assert reply == {"status": True, "body": {}}


def test_wrong_key_signs_with_another_persons_certificate(layer, session, nca_signer):
    layer.mode = "wrong_key"
    prepared = prepare(tiny_pdf(pdfa=True), signer_cert=nca_signer.signing_cert)
    (pem,) = ask(session, sign_request(prepared.digest_b64))["body"]["result"]
    signed = embed(prepared, der_of(pem))           # a sound CMS over this digest …
    report = verify_pdf(signed, trust=[NCA_CA], at=NCA_MOMENT)
    assert report.signatures[0].signer.iin not in (None, NCA_IIN)   # … by someone else
    assert report.indication is not Indication.TOTAL_PASSED           # and not chained to the NCA CA


def test_a_failing_key_dialog_is_a_signing_failure(layer, session):
    layer.mode = "refuse"
    reply = ask(session, sign_request(base64.b64encode(bytes(32)).decode()))
    assert reply["status"] is False and reply["code"] == "SIGNING_FAILURE" and reply["message"]


@pytest.mark.parametrize("request_, code", [
    (sign_request(base64.b64encode(bytes(20)).decode()), "INVALID_SIGNING_PARAMS"),
    (sign_request("%%% not base64"), "INVALID_SIGNING_PARAMS"),
    (sign_request(base64.b64encode(bytes(32)).decode(), format="xml"), "INVALID_SIGNING_PARAMS"),
    (sign_request(base64.b64encode(bytes(32)).decode(),
                  signingParams={"decode": True, "encapsulate": True, "digested": False}), "INVALID_SIGNING_PARAMS"),
    (sign_request(base64.b64encode(bytes(32)).decode(), allowedStorages=["AKKaztokenStore"]), "SIGNING_FAILURE"),
    ({"module": BASICS, "method": "authenticate", "args": {}}, "INVOCATION_ERROR"),
    ("not json at all", "INVOCATION_ERROR"),
])
def test_bad_requests_get_the_basics_error_shape(session, request_, code):
    reply = ask(session, request_)
    assert reply["status"] is False and reply["code"] == code
    assert isinstance(reply["message"], str) and reply["message"]
    assert "body" not in reply


def test_unknown_module_is_module_not_found(session):
    reply = ask(session, {"module": "kz.gov.pki.knca.commonUtils", "method": "getActiveTokens"})
    assert reply == {"success": False, "errorCode": "MODULE_NOT_FOUND"}


def test_the_signer_it_was_given_is_the_nca_test_person(nca_signer):
    assert signer_fields(nca_signer.signing_cert).iin == NCA_IIN
