"""Test helpers shared by the long-term-signature and revocation tests (tests/signing,
tests/attacks, tests/api): one copy each instead of one per test module.

``DevPkiFront`` serves the dev PKI and counts what is asked of it. ``b_b`` and ``b_b_lta`` are
pytest fixtures: a module that imports them must also have test_ltv's ``original`` and
``short_lived`` fixtures in its namespace (imported from test_ltv), and for ``b_b_lta`` the
``dev_pki`` and ``pki_server`` ones (tests/signing's conftest)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import cms, core, ocsp

from signing.model import TimestampKind
from signing.pki import ARCH
from signing.ltv import extend_to_blta
from signing.sign import sign_pdf, timestamper_for

SERVICES = {"tsa": f"/{ARCH}/tsa/", "ocsp": f"/{ARCH}/ocsp/", "crl": f"/{ARCH}/crls/"}


class DevPkiFront:
    """The dev PKI's services on its port, over HTTP/1.1 with kept connections.

    ``requests`` counts requests per service ("tsa", "ocsp", "crl", and "crl:<repo>");
    ``ocsp_serials`` counts the certificates (by serial number) that OCSP requests ask about;
    ``connections`` counts accepted TCP connections. ``drop_kept`` makes the server close each
    connection after its answer without saying so (as a server closing idle connections does).
    """

    def __init__(self, pki, port: int | None = None) -> None:
        from certomancer.integrations.animator import Animator, AnimatorArchStore
        from certomancer.registry import CertomancerConfig
        from werkzeug.test import Client

        arch = CertomancerConfig.from_file(str(pki.config_file), key_search_dir=str(pki.root)).pki_archs[ARCH]
        app = Client(Animator(AnimatorArchStore({arch.arch_label: arch}), with_web_ui=False))
        self.requests: Counter[str] = Counter()
        self.ocsp_serials: Counter[int] = Counter()
        self.proxied: list[str] = []  # absolute URLs asked of this server as a proxy
        self.connections = 0
        self.drop_kept = False
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with lock:
                    outer.connections += 1

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path
                with lock:
                    if path.startswith("http://"):  # asked as an HTTP proxy
                        outer.proxied.append(path)
                        path = "/" + path.split("/", 3)[3]
                    for kind, prefix in SERVICES.items():
                        if path.startswith(prefix):
                            outer.requests[kind] += 1
                            if kind == "ocsp" and body:
                                for one in ocsp.OCSPRequest.load(body)["tbs_request"]["request_list"]:
                                    outer.ocsp_serials[one["req_cert"]["serial_number"].native] += 1
                            if kind == "crl":
                                outer.requests["crl:" + path[len(prefix):].split("/")[0]] += 1
                    answer = app.open(path, method=self.command, data=body,
                                      content_type=self.headers.get("Content-Type") or "")
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(answer.data)))
                self.end_headers()
                self.wfile.write(answer.data)
                if outer.drop_kept:
                    self.close_connection = True

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", port or pki.port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def snapshot(self) -> Counter[str]:
        return Counter(self.requests)

    def since(self, before: Counter[str]) -> dict[str, int]:
        return {k: v for k, v in (self.requests - before).items() if v}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class Clock:
    """The real UTC time moved by ``offset`` (a test moves it forward or back)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


def document_stamps(report):
    """The document timestamps of a verification report, in its order."""
    return [t for t in report.timestamps if t.kind is TimestampKind.DOCUMENT]


@pytest.fixture(scope="module")
def b_b(original, short_lived):
    """test_ltv's original PDF signed at B-B (no timestamp) by its short-lived signer."""
    return sign_pdf(original, short_lived, level="B-B")


@pytest.fixture(scope="module")
def b_b_lta(b_b, dev_pki, pki_server):
    """``b_b`` extended to B-LTA at the dev PKI: a document timestamp (its T evidence), then a
    DSS and an archive timestamp."""
    from test_ltv import DEV_FETCH

    return extend_to_blta(b_b, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert],
                          policy=DEV_FETCH)


def carrying(der: bytes, *answers: ocsp.OCSPResponse, junk: int = 0) -> bytes:
    """The CMS ``der`` with ``answers`` in its SignedData's revocation info (id-ri-ocsp-response)
    and ``junk`` entries of an unknown format after them: outside the signed attributes, so the
    signature still verifies."""
    sd = cms.ContentInfo.load(der)["content"]
    choices = [cms.RevocationInfoChoice(name="other", value={"other_rev_info_format": "ocsp_response",
                                                             "other_rev_info": a}) for a in answers]
    choices += [cms.RevocationInfoChoice(name="other", value={"other_rev_info_format": "1.2.3.4",
                                                              "other_rev_info": core.OctetString(b"x")})] * junk
    sd["crls"] = cms.RevocationInfoChoices(choices)
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump(force=True)
