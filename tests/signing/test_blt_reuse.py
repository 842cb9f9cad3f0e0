"""B-LT signatures with the runtime's TSA client and revocation cache: requests are counted at
the server (never timed), every file still verifies, and the freshness rule holds.

The dev PKI's services (certomancer's WSGI application: CRLs, OCSP, TSA) are served here by a
small HTTP/1.1 server (``ltvhelpers.DevPkiFront``) that keeps connections alive and counts
requests and connections per service; the certomancer server of ``PkiServer`` closes every connection, so it could not show
a kept connection. The revocation tests use the throw-away CA of ``revpki`` (its CRL and OCSP
answers are ours to change while a runtime is warm).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from pdfs import tiny_pdf
from revpki import RevCa, Responder, signer_for
from tests.signing.conftest import assert_pdfsig_all_valid
from tests.signing.ltvhelpers import Clock, DevPkiFront

from qujat import service
from qujat.runtime import open_runtime
from qujat.settings import Settings
from signing._aio import run_sync
from signing.errors import SigningError
from signing.keys import load_pkcs12, read_secret
from signing.model import Indication, Level
from signing.netfetch import RevocationCache, TsaClient
from signing.pki import ARCH, init_dev_pki
from signing.sign import sign_pdf
from signing.verify import verify_pdf

@pytest.fixture(scope="module")
def pki_home(tmp_path_factory):
    """A data directory whose dev PKI (``data/pki``) the runtime loads, served by the front."""
    data = tmp_path_factory.mktemp("blt-data")
    pki = init_dev_pki(data / "pki")
    front = DevPkiFront(pki)
    yield data, pki, front
    front.stop()


def _settings(data) -> Settings:
    from signing.pki import load_dev_pki

    return Settings(data_dir=data, tsa_url=load_dev_pki(data / "pki").tsa_url, pool_size=1)


def test_many_b_lt_signatures_with_one_runtime_cost_one_tsa_request_each(pki_home, tmp_path):
    data, pki, front = pki_home
    pdf = tiny_pdf("Act", pdfa=True)
    signer = load_pkcs12(pki.p12("enterprise-head"), read_secret(file=pki.password_file))

    # The reference: a client and a fetch per signature (what sign_pdf does given only a URL).
    before = front.snapshot()
    for _ in range(2):
        sign_pdf(pdf, signer, level="B-LT", tsa_url=pki.tsa_url)
    per_signature_alone = {k: v / 2 for k, v in front.since(before).items()}
    assert per_signature_alone == {"tsa": 2, "crl": 2, "crl:issuing-ca": 1, "crl:root": 1, "ocsp": 1}

    with open_runtime(_settings(data), convert=False, sign=True) as rt:
        assert Level.from_config(rt.settings.sign_level) is Level.B_LT
        before = front.snapshot()
        # the cadastral value act: two signatures (enterprise head, authority head) per document
        signed = [service.sign_server_side(rt, "cadastral_value_act", pdf)[0] for _ in range(4)]
        made = front.since(before)

    # 8 signatures: one timestamp each, one token more to learn the TSA's certificates once; the
    # issuing CA's CRL and the root's once for both signers, one OCSP answer per signer.
    assert made == {"tsa": 8 + 1, "crl": 2, "crl:issuing-ca": 1, "crl:root": 1, "ocsp": 2}
    assert made["tsa"] + made["crl"] + made["ocsp"] == 13  # where one client per signature made 8 * 5
    for pdf_out in signed:
        report = verify_pdf(pdf_out, trust=[pki.root_cert], require_revocation=True)  # offline
        assert report.indication is Indication.TOTAL_PASSED, [s.notes for s in report.signatures]
        assert [s.level for s in report.signatures] == [Level.B_LT, Level.B_LT]
        assert_pdfsig_all_valid(pdf_out, tmp_path, expected=2)


def test_pyhankos_own_timestamper_gives_the_tsa_certificates_with_no_extra_request(pki_home):
    """B-LT learns the TSA's certificates from the token any timestamper keeps for sizing
    (``netfetch.tsa_certificates``), so pyHanko's own HTTP client costs what a fresh TsaClient
    does: that token and the real one, and the TSA's chain gets its CRLs as our client's does."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    data, pki, front = pki_home
    signer = load_pkcs12(pki.p12("enterprise-head"), read_secret(file=pki.password_file))
    before = front.snapshot()
    signed = sign_pdf(tiny_pdf("Own", pdfa=True), signer, level="B-LT", timestamper=HTTPTimeStamper(pki.tsa_url),
                      revocation=RevocationCache())
    assert front.since(before) == {"tsa": 2, "crl": 2, "crl:issuing-ca": 1, "crl:root": 1, "ocsp": 1}
    report = verify_pdf(signed, trust=[pki.root_cert], require_revocation=True)  # offline
    assert report.indication is Indication.TOTAL_PASSED and report.signatures[0].level is Level.B_LT


def test_the_tsa_connection_is_kept_and_a_dropped_one_is_replaced(pki_home):
    _, pki, front = pki_home
    with TsaClient(pki.tsa_url) as tsa:
        before_connections, before = front.connections, front.snapshot()
        tokens = [run_sync(tsa.async_timestamp(bytes(32), "sha256")) for _ in range(5)]
        assert front.since(before) == {"tsa": 5}
        assert front.connections - before_connections == 1  # five requests, one connection

        front.drop_kept = True  # the server closes the kept connection after each answer
        try:
            tokens += [run_sync(tsa.async_timestamp(bytes(32), "sha256")) for _ in range(3)]
        finally:
            front.drop_kept = False
    # the 6th request went on the kept connection, which the server then closed; the 7th and
    # the 8th each found theirs closed and were sent again on a new connection
    assert front.since(before) == {"tsa": 8}
    assert tsa.requests == 10
    assert front.connections - before_connections == 3
    assert all(t["content_type"].native == "signed_data" for t in tokens)


def test_the_tsa_is_reached_through_the_proxy_of_the_environment(pki_home, monkeypatch):
    _, pki, front = pki_home
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{pki.port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    url = f"http://tsa.example.kz/{ARCH}/tsa/tsa"  # never resolved: the proxy is asked for it
    with TsaClient(url) as tsa:
        token = run_sync(tsa.async_timestamp(bytes(32), "sha256"))
    assert front.proxied[-1] == url
    assert token["content_type"].native == "signed_data"


def test_a_forked_child_does_not_use_the_parents_connection(pki_home):
    _, pki, front = pki_home
    with TsaClient(pki.tsa_url) as tsa:
        run_sync(tsa.async_timestamp(bytes(32), "sha256"))  # the parent's kept connection
        before = front.connections
        pid = os.fork()
        if pid == 0:  # the child: a token of its own, on a connection of its own
            try:
                asyncio.run(tsa.async_timestamp(bytes(32), "sha256"))
            except BaseException:  # noqa: BLE001 - any failure is the exit status
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        run_sync(tsa.async_timestamp(bytes(32), "sha256"))  # the parent's connection still works
    assert front.connections - before == 1  # the child's; the parent kept its own


def test_threads_signing_at_once_fetch_each_answer_once(pki_home):
    data, pki, front = pki_home
    pdf = tiny_pdf("Threads", pdfa=True)
    with open_runtime(_settings(data), convert=False, sign=True) as rt:
        before = front.snapshot()
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: service.sign_server_side(rt, "land_right_act", pdf)[0], range(8)))
        made = front.since(before)
    assert made["crl:issuing-ca"] == 1 and made["crl:root"] == 1 and made["ocsp"] == 1, made
    assert 8 + 1 <= made["tsa"] <= 8 + 4  # a token to learn the TSA's certificate: at most one per thread
    for pdf_out in results:
        assert verify_pdf(pdf_out, trust=[pki.root_cert], require_revocation=True).indication is Indication.TOTAL_PASSED


def test_each_runtime_has_its_own_cache_and_client(pki_home):
    data, pki, front = pki_home
    pdf = tiny_pdf("Two", pdfa=True)
    settings = _settings(data)
    with open_runtime(settings, convert=False, sign=True) as one, \
            open_runtime(settings, convert=False, sign=True) as two:
        assert one.revocation is not two.revocation and one.timestamper is not two.timestamper
        service.sign_server_side(one, "land_right_act", pdf)
        before = front.snapshot()
        service.sign_server_side(one, "land_right_act", pdf)
        assert front.since(before) == {"tsa": 1}  # warm

        before = front.snapshot()
        service.sign_server_side(two, "land_right_act", pdf)
        # the second runtime fetched everything for itself: nothing came from the first one's
        assert front.since(before) == {"tsa": 2, "crl": 2, "crl:issuing-ca": 1, "crl:root": 1, "ocsp": 1}
    with open_runtime(Settings(data_dir=data, pool_size=1), convert=False, sign=True) as plain:
        assert plain.timestamper is None and plain.revocation is None  # no QUJAT_TSA_URL: B-B


@pytest.mark.slow
def test_a_tsa_that_changed_its_certificate_is_asked_again(tmp_path_factory, tmp_path):
    """The client validates the TSA certificate of its latest token before each signature; when
    that no longer validates (here: the TSA behind the URL now answers from another PKI), it
    asks the TSA for a token to learn the new certificate instead of failing forever."""
    old = init_dev_pki(tmp_path_factory.mktemp("pki-old"))
    new = init_dev_pki(tmp_path_factory.mktemp("pki-new"))
    old_services, new_services = DevPkiFront(old), DevPkiFront(new)
    pdf = tiny_pdf("Renewed", pdfa=True)
    signer = load_pkcs12(new.p12("enterprise-head"), read_secret(file=new.password_file))
    renewed = None
    try:
        with TsaClient(old.tsa_url) as tsa:
            run_sync(tsa.async_timestamp(bytes(32), "sha256"))  # learns the old TSA's certificate
            old_services.stop()
            tsa.close()  # the old server's kept connection
            renewed = DevPkiFront(new, port=old.port)  # the same URL, another TSA certificate
            signed = sign_pdf(pdf, signer, level="B-LT", timestamper=tsa, revocation=RevocationCache())
            assert renewed.requests["tsa"] == 2  # a token to learn the new certificate, then the real one
            sign_pdf(pdf, signer, level="B-LT", timestamper=tsa, revocation=RevocationCache())
            assert renewed.requests["tsa"] == 3  # known from then on
    finally:
        for server in (renewed, new_services):
            if server is not None:
                server.stop()
    report = verify_pdf(signed, trust=[new.root_cert], require_revocation=True)
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert_pdfsig_all_valid(signed, tmp_path, expected=1)


def test_a_crl_past_its_next_update_is_fetched_again_and_not_kept(pki_home):
    data, pki, front = pki_home
    pdf = tiny_pdf("Stale", pdfa=True)
    signer = load_pkcs12(pki.p12("enterprise-head"), read_secret(file=pki.password_file))
    clock = Clock()
    cache = RevocationCache(max_age_s=90 * 86400, clock=clock)  # only nextUpdate limits reuse here
    with TsaClient(pki.tsa_url) as tsa:
        first = sign_pdf(pdf, signer, level="B-LT", timestamper=tsa, revocation=cache)
        before = front.snapshot()
        sign_pdf(pdf, signer, level="B-LT", timestamper=tsa, revocation=cache)
        assert front.since(before) == {"tsa": 1}

        # The issuing CA's CRL (nextUpdate a day after its thisUpdate) and the OCSP answer
        # (ten minutes) are past their nextUpdate; the root's CRL (thirty days) is not.
        crl_next = next(c["tbs_cert_list"]["next_update"].native for c in cache.crls([signer.signing_cert]))
        clock.offset = crl_next - datetime.now(timezone.utc) + timedelta(seconds=1)
        before = front.snapshot()
        sign_pdf(pdf, signer, level="B-LT", timestamper=tsa, revocation=cache)
        assert front.since(before) == {"tsa": 1, "crl": 1, "crl:issuing-ca": 1, "ocsp": 1}

        # what was fetched is itself past nextUpdate at that clock: used once, never kept
        before = front.snapshot()
        sign_pdf(pdf, signer, level="B-LT", timestamper=tsa, revocation=cache)
        assert front.since(before) == {"tsa": 1, "crl": 1, "crl:issuing-ca": 1, "ocsp": 1}
    assert verify_pdf(first, trust=[pki.root_cert], require_revocation=True).indication is Indication.TOTAL_PASSED


def _revoking_crl(ca: RevCa, revoked: list[cx509.Certificate]) -> bytes:
    now = datetime.now(timezone.utc)
    builder = (cx509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(now - timedelta(minutes=1)).next_update(now + timedelta(days=7)))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            cx509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(now - timedelta(seconds=30)).build())
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_a_signer_revoked_while_the_cache_is_warm_is_refused_once_the_window_ends(pki_home):
    _, pki, _ = pki_home
    from asn1crypto import pem, x509 as asn1_x509

    dev_root = asn1_x509.Certificate.load(pem.unarmor(pki.root_cert.read_bytes())[2])
    ca = RevCa()
    pdf = tiny_pdf("Revoked", pdfa=True)
    clock = Clock()
    cache = RevocationCache(max_age_s=300, clock=clock)
    with Responder() as responder, TsaClient(pki.tsa_url) as tsa:
        leaf = ca.issue("ҚАЙТАРЫЛҒАН КІЛТ", crl=[responder.url("/ca.crl")], ocsp_urls=[responder.url("/ocsp")])
        responder.routes["/ca.crl"] = (200, _revoking_crl(ca, []))
        responder.routes["/ocsp"] = (200, ca.ocsp_response(leaf.cert))
        signer = signer_for(leaf, [ca.asn1])

        def sign() -> bytes:
            return sign_pdf(pdf, signer, level="B-LT", timestamper=tsa, revocation=cache,
                            trust_roots=[ca.asn1, dev_root])

        sign()
        assert [s.path for s in responder.seen] == ["/ca.crl", "/ocsp"]

        # The CA revokes the key: its CRL and its OCSP responder say so from now on.
        responder.routes["/ca.crl"] = (200, _revoking_crl(ca, [leaf.cert]))
        responder.routes["/ocsp"] = (200, ca.ocsp_response(leaf.cert, revoked=True))
        clock.offset = timedelta(seconds=299)
        sign()  # the promise: within the 300 s window the kept answers are used as they are
        assert len(responder.seen) == 2

        clock.offset = timedelta(seconds=301)  # the window has passed: fetched again, refused
        with pytest.raises(SigningError, match="could not be validated"):
            sign()
        assert [s.path for s in responder.seen[2:]] == ["/ca.crl", "/ocsp"]
        with pytest.raises(SigningError):  # and the answers that say "revoked" are what is kept
            sign()

    # A cache that was never warm refuses the revoked key at once.
    with Responder() as responder, TsaClient(pki.tsa_url) as tsa:
        leaf = ca.issue("ҚАЙТАРЫЛҒАН КІЛТ 2", crl=[responder.url("/ca.crl")], ocsp_urls=[responder.url("/ocsp")])
        responder.routes["/ca.crl"] = (200, _revoking_crl(ca, [leaf.cert]))
        responder.routes["/ocsp"] = (200, ca.ocsp_response(leaf.cert, revoked=True))
        with pytest.raises(SigningError):
            sign_pdf(pdf, signer_for(leaf, [ca.asn1]), level="B-LT", timestamper=tsa,
                     revocation=RevocationCache(), trust_roots=[ca.asn1, dev_root])


def _ocsp_without_next_update(ca: RevCa, cert: cx509.Certificate) -> bytes:
    from cryptography.x509 import ocsp as cx509_ocsp

    return (cx509_ocsp.OCSPResponseBuilder()
            .add_response(cert=cert, issuer=ca.cert, algorithm=hashes.SHA1(),
                          cert_status=cx509_ocsp.OCSPCertStatus.GOOD,
                          this_update=datetime.now(timezone.utc) - timedelta(minutes=1), next_update=None,
                          revocation_time=None, revocation_reason=None)
            .responder_id(cx509_ocsp.OCSPResponderEncoding.HASH, ca.cert)
            .sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


def test_an_answer_without_next_update_is_kept_for_the_window_only_and_a_failure_never():
    ca, clock = RevCa(), Clock()
    cache = RevocationCache(max_age_s=300, clock=clock)
    with Responder() as responder:
        leaf = ca.issue(ocsp_urls=[responder.url("/ocsp")])
        responder.routes["/ocsp"] = (503, b"busy")
        assert cache.ocsp(leaf.asn1, ca.asn1) is None
        responder.routes["/ocsp"] = (200, _ocsp_without_next_update(ca, leaf.cert))
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None  # the failure was not kept
        clock.offset = timedelta(seconds=299)
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None
        assert len(responder.seen) == 2
        clock.offset = timedelta(seconds=301)
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None
        assert len(responder.seen) == 3
    assert cache.requests == 3


def test_b_lt_signing_logs_no_warning_about_the_fetching_we_do_ourselves(pki_home, caplog):
    """pyHanko's "fetching is not allowed" warning at every B-LT signature is dropped (we fetch the
    revocation data ourselves); its other warnings still reach the log."""
    import logging

    data, pki, _front = pki_home
    signer = load_pkcs12(pki.p12("enterprise-head"), read_secret(file=pki.password_file))
    with caplog.at_level(logging.WARNING):
        sign_pdf(tiny_pdf("Act", pdfa=True), signer, level="B-LT", tsa_url=pki.tsa_url)
        logging.getLogger("pyhanko.sign.signers.pdf_signer").warning("another pyHanko warning")
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert messages == ["another pyHanko warning"], messages
