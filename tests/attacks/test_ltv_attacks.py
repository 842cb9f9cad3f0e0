"""Attacks on this session's long-term-signature changes: a B-B signature extended to B-LTA
(a document timestamp as its T evidence and proof of existence, ``verify._level``), and the
B-LT TSA client and revocation cache kept by the runtime (``netfetch.TsaClient``,
``netfetch.RevocationCache``).

Each test is either a regression test of an attack that fails (the verifier or the cache
already refuses it) or a finding, fixed in the same commit and kept as its regression test.

Timeline of the verifier tests (``test_ltv``'s): signer certificate valid T0 - 1 h .. T0 +
10 min, signed at T0, LATER = T0 + 10 min + 1 day (after the signer certificate expired).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.server
import io
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from tests.signing.conftest import dev_password, dev_pki, dev_signer, pki_server  # noqa: F401 - fixtures (tests/signing's conftest)

import attacks_structure as S  # noqa: E402 - tests/signing is on sys.path now
from attacks_crypto import add_document_timestamp, add_dss, dummy_timestamper, key_usage, make_tsa  # noqa: E402
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pdfs import change_page_text, tiny_pdf
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from revpki import RevCa, Responder
from test_ltv import DEV_FETCH, original, short_lived, timeline  # noqa: F401 - fixtures
from tests.signing.ltvhelpers import Clock, b_b, b_b_lta  # noqa: F401 - b_b, b_b_lta are fixtures
from tests.signing.ltvhelpers import document_stamps as _docs

from signing.certload import load_certs
from signing.ltv import extend_to_blta
from signing.errors import SigningError
from signing.model import Indication, Level, SubIndication
from signing.netfetch import RevocationCache, TsaClient
from signing.sign import sign_pdf, timestamper_for
from signing.verify import verify_pdf



def _stamp(pdf: bytes, dev_pki) -> bytes:  # noqa: F811 - the fixture's name
    """A genuine document timestamp of the dev TSA (a trust anchor's TSA) over ``pdf``."""
    return add_document_timestamp(pdf, timestamper_for(dev_pki.tsa_url))


@pytest.fixture(scope="module")
def b_t(original, short_lived, dev_pki, pki_server):  # noqa: F811
    return sign_pdf(original, short_lived, level="B-T", tsa_url=dev_pki.tsa_url)


@pytest.fixture(scope="module")
def stranger_crl() -> bytes:
    """A CRL of a CA that has nothing to do with the signer's or the TSA's chain."""
    return RevCa("UNRELATED CA").crl()


# --- laundering a changed file with a genuine stamp --------------------------------------------


def test_a_genuine_stamp_after_a_change_does_not_launder_a_b_b_signature(b_b, dev_pki, pki_server, timeline):  # noqa: F811
    """Anyone can ask a trusted TSA for a document timestamp. Content changed between the
    B-B signature and the stamp stays a change: the stamp gives the signature no pass,
    neither before nor after the signer certificate expired, nor once extended to B-LTA."""
    changed = change_page_text(b_b)
    stamped = _stamp(changed, dev_pki)
    extended = extend_to_blta(changed, timestamper=timestamper_for(dev_pki.tsa_url),
                              trust_roots=[dev_pki.root_cert], policy=DEV_FETCH)
    for pdf in (stamped, extended):
        for at in (timeline.t0 + timedelta(minutes=1), timeline.later):
            report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=at)
            [sig] = report.signatures
            assert report.indication is Indication.TOTAL_FAILED, (at, sig)
            assert sig.modified_after_signing and sig.sub_indication is SubIndication.FORMAT_FAILURE
            assert all(d.passed for d in _docs(report))  # the stamps themselves are genuine


def test_a_stamp_before_the_signature_is_no_proof_of_its_existence(original, short_lived, dev_pki, pki_server,  # noqa: F811
                                                                   timeline):
    """A document timestamp in a revision before the signature's proves nothing about it:
    no T level, and after the expiry no pass."""
    pdf = sign_pdf(_stamp(original, dev_pki), short_lived, level="B-B")
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.later)
    [sig] = report.signatures
    [doc] = _docs(report)
    assert doc.passed and not doc.used
    assert sig.level is Level.B_B
    assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)


def test_the_extended_b_b_signature_shows_its_own_time_not_the_stamps(b_b, dev_pki, pki_server, timeline):  # noqa: F811
    """The report (and so the public page's "signed at", which takes timestamp_time first)
    never presents a document timestamp's time as the signature's timestamp time."""
    extended = extend_to_blta(b_b, timestamper=timestamper_for(dev_pki.tsa_url),
                              trust_roots=[dev_pki.root_cert], policy=DEV_FETCH)
    report = verify_pdf(extended, trust=[dev_pki.root_cert], at=timeline.later)
    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED and sig.level is Level.B_LTA
    assert sig.timestamp_time is None
    assert sig.signing_time is not None and sig.signing_time <= min(d.time for d in _docs(report))
    assert report.as_dict()["signatures"][0]["timestamp_time"] is None


# --- levels claimed from a DSS that proves nothing ---------------------------------------------


def _chain_crls(signer, dev_pki) -> list[bytes]:  # noqa: F811
    """The CRLs of the signer's chain (issuing CA's and root's), from the dev PKI's server."""
    chain = [signer.signing_cert, *load_certs([dev_pki.issuing_ca_cert])]
    return [crl.dump() for crl in RevocationCache().crls(chain)]


def test_a_dss_written_after_the_last_stamp_is_not_archived(b_t, short_lived, dev_pki, pki_server,  # noqa: F811
                                                            timeline):
    """B-T signature, a document timestamp, then a DSS in a later update that no stamp
    covers: the validation data are not protected by an archive timestamp, so B-LT, not
    B-LTA (ETSI EN 319 142-1: the document timestamp of B-LTA covers the DSS)."""
    crls = _chain_crls(short_lived, dev_pki)
    assert len(crls) == 2
    assert verify_pdf(add_dss(b_t, crls=crls), trust=[dev_pki.root_cert]).signatures[0].level is Level.B_LT
    pdf = add_dss(_stamp(b_t, dev_pki), crls=crls)
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.t0 + timedelta(minutes=1))
    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.level is Level.B_LT


def test_a_dss_with_a_strangers_crl_makes_no_b_lt(b_t, stranger_crl, dev_pki, pki_server, timeline):  # noqa: F811
    """A DSS holding only a CRL of an unrelated CA says nothing about the signer's chain:
    B-T, not B-LT (EU DSS: no revocation data for the signing certificate, no LT level)."""
    pdf = add_dss(b_t, crls=[stranger_crl])
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.t0 + timedelta(minutes=1))
    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.level is Level.B_T


def test_a_b_b_stamped_over_a_strangers_crl_is_not_b_lta(b_b, stranger_crl, dev_pki, pki_server, timeline):  # noqa: F811
    """B-B, a genuine stamp (T evidence), a DSS with only an unrelated CA's CRL, a genuine
    stamp over it: the layout of B-LTA without its validation data. B-T."""
    pdf = _stamp(add_dss(_stamp(b_b, dev_pki), crls=[stranger_crl]), dev_pki)
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.later)
    [sig] = report.signatures
    assert [d.passed for d in _docs(report)] == [True, True]
    assert report.indication is Indication.TOTAL_PASSED, sig.notes  # the stamp proves existence
    assert sig.level is Level.B_T


# --- cost: a hostile catalog over many revisions ----------------------------------------------


def _dict_text(num: int, obj) -> bytes:
    body = io.BytesIO()
    obj.write_to_stream(body, None)
    return b"%d 0 obj\n" % num + body.getvalue() + b"\nendobj\n"


def _dss_churn(pdf: bytes, changing: int, empty: int) -> bytes:
    """``pdf`` (which has a DSS) with ``changing`` updates that each rewrite the catalog or
    the DSS dictionary (nothing new in them: the verifier must look at each), then
    ``empty`` updates that write nothing."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root_ref = reader.trailer.raw_get("/Root")
    root = reader.root
    dss_ref = root.raw_get("/DSS")
    dss = dss_ref.get_object()
    for i in range(changing):
        if i % 2:
            pdf = S.append_update(pdf, [(dss_ref.idnum, _dict_text(dss_ref.idnum, dss))])
        else:
            pdf = S.append_update(pdf, [(root_ref.idnum, _dict_text(root_ref.idnum, root))])
    return S.empty_revisions(pdf, empty)


@pytest.mark.slow
def test_two_thousand_revisions_rewriting_the_dss_verify_in_linear_time(b_b_lta, dev_pki, timeline):  # noqa: F811
    """The DSS revisions are looked for in every revision (``_dss_revinfo_revisions``): 190
    updates rewriting the catalog or the DSS (``pdfcheck``'s limit is 200 changing ones)
    and empty ones up to 2,000 revisions. Measured here: 0.3 s for 200 revisions, 8 s for
    2,000, nearly all of it pyHanko's difference analysis of the 190 changing revisions
    (each object's history looked up over every revision); the DSS scan took 0.7 s of it
    with historical resolvers and 0.2 s reading each object as of its revision. The
    signature stays B-LTA (nothing was added)."""
    base_revisions = PdfFileReader(io.BytesIO(b_b_lta), strict=False).xrefs.total_revisions
    small = _dss_churn(b_b_lta, 19, 200 - 19 - base_revisions)
    big = _dss_churn(b_b_lta, 190, 2000 - 190 - base_revisions)
    assert PdfFileReader(io.BytesIO(big), strict=False).xrefs.total_revisions == 2000

    def timed(pdf: bytes):  # CPU time: five other test runs share this machine's two cores
        started = time.process_time()
        report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.later)
        return time.process_time() - started, report

    verify_pdf(b_b_lta, trust=[dev_pki.root_cert], at=timeline.later)  # warm imports and caches
    t_small, small_report = timed(small)
    t_big, big_report = timed(big)
    print(f"200 revisions: {t_small:.2f} s, 2000 revisions: {t_big:.2f} s of CPU")
    for report in (small_report, big_report):
        [sig] = report.signatures
        assert report.indication is Indication.TOTAL_PASSED, sig.notes
        assert sig.level is Level.B_LTA
    assert t_big < 30  # pdfcheck's time budget is 60 s (wall time), the HTTP API's 4 s


# --- the B-LT revocation cache -----------------------------------------------------------------


def _at_once(fn, args) -> list:
    """``fn(a)`` for each of ``args``, each in a thread of its own, all started together;
    the results in ``args``' order (an exception in any thread fails the test)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(args)) as pool:
        return list(pool.map(fn, args, timeout=120))


def test_a_clock_set_back_does_not_stretch_the_reuse_window():
    """An NTP step or a restored VM sets the clock back an hour just after a fetch: the
    kept answer is not reused for that hour plus the window (a key revoked meanwhile would
    keep signing here), it is fetched again and the new answer's window counts."""
    ca, clock = RevCa(), Clock()
    cache = RevocationCache(max_age_s=300, clock=clock)
    with Responder() as responder:
        leaf = ca.issue(ocsp_urls=[responder.url("/ocsp")])
        responder.routes["/ocsp"] = (200, ca.ocsp_response(leaf.cert))
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None
        clock.offset = -timedelta(hours=1)
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None
        assert len(responder.seen) == 2
        clock.offset = -timedelta(hours=1) + timedelta(seconds=290)  # the new answer's window
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None
        assert len(responder.seen) == 2
        clock.offset = -timedelta(hours=1) + timedelta(seconds=310)
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None
        assert len(responder.seen) == 3


def test_many_urls_do_not_grow_the_cache_without_bound():
    """300 distinct CRL URLs (a long-running process whose signers changed, or a chain
    naming many): at most ``max_entries`` answers are kept, and an answer past its window
    is dropped when the next one is kept, not kept forever."""
    ca, clock = RevCa(), Clock()
    cache = RevocationCache(max_age_s=300, clock=clock, max_entries=100)
    with Responder() as responder:
        responder.routes["/ca.crl"] = (200, ca.crl())
        leaves = [ca.issue(f"LEAF {i}", crl=[responder.url(f"/ca.crl?n={i}")]) for i in range(300)]
        for leaf in leaves:
            assert cache.crl(leaf.asn1) is not None
        assert len(cache) == 100 and len(responder.seen) == 300
        assert cache.crl(leaves[-1].asn1) is not None and len(responder.seen) == 300  # the newest are kept
        clock.offset = timedelta(seconds=301)
        assert cache.crl(leaves[0].asn1) is not None
        assert len(cache) == 1 and len(responder.seen) == 301
    assert RevocationCache()  # empty, and still a cache: `rt.revocation or ...` keeps it


def test_eight_threads_fetch_each_answer_once_while_old_ones_are_dropped():
    """Eight threads ask for the same 40 CRLs in different orders while the cache keeps at
    most 16: every call answers, nothing raises, and within one window every URL is fetched
    at most once per eviction (here: no more than 40 + what eviction forced again)."""
    ca = RevCa()
    cache = RevocationCache(max_age_s=300, max_entries=16)
    with Responder() as responder:
        responder.routes["/ca.crl"] = (200, ca.crl())
        leaves = [ca.issue(f"LEAF {i}", crl=[responder.url(f"/ca.crl?n={i}")]) for i in range(40)]
        per_thread = _at_once(lambda k: [cache.crl(leaf.asn1) for leaf in leaves[5 * k:] + leaves[:5 * k]], range(8))
        answers = [a for chunk in per_thread for a in chunk]
        assert len(answers) == 8 * 40 and all(a is not None for a in answers)
        assert len(cache) <= 16
        assert 40 <= len(responder.seen) <= 8 * 40


def test_two_cas_of_one_name_never_share_an_ocsp_answer():
    """Two CAs with the same name (a re-keyed CA, or an impostor) issue leaves with the same
    serial: the answer kept for one leaf is never served for the other (the key is both
    certificates' hashes, not the serial or the issuer's name)."""
    first, second = RevCa("SAME NAME CA"), RevCa("SAME NAME CA")
    cache = RevocationCache(max_age_s=300)
    with Responder() as responder:
        good = first.issue("A", ocsp_urls=[responder.url("/first")])
        revoked = second.issue("A", ocsp_urls=[responder.url("/second")])
        assert good.cert.serial_number == revoked.cert.serial_number
        responder.routes["/first"] = (200, first.ocsp_response(good.cert))
        responder.routes["/second"] = (200, second.ocsp_response(revoked.cert, revoked=True))
        assert cache.ocsp(good.asn1, first.asn1).dump() == responder.routes["/first"][1]
        answer = cache.ocsp(revoked.asn1, second.asn1)
        assert answer.dump() == responder.routes["/second"][1]
        single = answer["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
        assert single["cert_status"].name == "revoked"


# --- the kept TSA client ----------------------------------------------------------------------


class Loopback:
    """A TSA or OCSP responder on loopback whose every answer is ``answer(request body)``:
    HTTP 200 with ``content_type``. ``requests`` counts them."""

    def __init__(self, answer, content_type: str = "application/timestamp-reply") -> None:
        outer = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = answer(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.handler = Handler
        self.url = ""

    @contextlib.contextmanager
    def serving(self):
        """Serve on a free loopback port (``url``) while the block runs."""
        with http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler) as server:
            self.url = f"http://127.0.0.1:{server.server_address[1]}/"
            worker = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
            worker.start()
            try:
                yield self
            finally:
                server.shutdown()
                worker.join(5)


def ForgingTsa(crl_url: str | None = None) -> Loopback:  # noqa: N802 - reads as the class it makes
    """As a man in the middle on the TSA's plain-HTTP URL would answer: every request gets a
    well-formed token with the right nonce and imprint, signed by a key of the attacker's own
    CA (a proper time-stamping certificate, naming ``crl_url`` as its CRL when given)."""
    import asyncio

    from asn1crypto import tsp

    ca = RevCa("MITM ROOT")
    tsa = make_tsa(ca, "MITM TSA") if crl_url is None else ca.issue(
        "MITM TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True,
        crl=[crl_url], not_before=datetime.now(timezone.utc) - timedelta(days=2))
    stamper = dummy_timestamper(tsa, [ca.asn1])
    return Loopback(lambda body: asyncio.run(stamper.async_request_tsa_response(tsp.TimeStampReq.load(body))).dump())


def test_a_forged_token_is_what_an_unchecking_client_embeds(original, short_lived, dev_pki):  # noqa: F811
    """What a TSA client without anchors does (the runtime's today): the forged token goes
    into the signature, the document is issued, and only a verifier finds out."""
    with ForgingTsa().serving() as mitm, TsaClient(mitm.url) as tsa:
        pdf = sign_pdf(original, short_lived, level="B-T", timestamper=tsa)
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=datetime.now(timezone.utc))
    [token] = report.timestamps
    assert not token.passed and report.indication is not Indication.TOTAL_PASSED


@pytest.mark.parametrize("level", ["B-T", "B-LT"])
def test_a_client_given_the_anchors_refuses_a_forged_token(level, original, short_lived, dev_pki, pki_server):  # noqa: F811
    """A TSA client that knows the trust anchors checks each token before it is embedded or
    its certificates are learnt: the signature is refused, nothing is issued."""
    with ForgingTsa().serving() as mitm, TsaClient(mitm.url, trust_roots=[dev_pki.root_cert]) as tsa:
        with pytest.raises(SigningError, match="does not chain to a trust anchor"):
            sign_pdf(original, short_lived, level=level, timestamper=tsa, trust_roots=load_certs([dev_pki.root_cert]),
                     revocation=RevocationCache())
        assert mitm.requests >= 1


@pytest.mark.parametrize("days_back", [10, 0])
def test_a_checking_client_refuses_a_token_dated_before_its_tsa_certificate(days_back):
    """A TSA whose certificate chains to an anchor and is valid now, but whose token says it
    was made before that certificate was valid: the client refuses it as the verifier would
    (a genTime no honest TSA writes). The same TSA's token dated now is taken."""
    import asyncio

    from asn1crypto import tsp
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    ca = RevCa("GENTIME ROOT")
    tsa_cert = ca.issue(
        "GENTIME TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True,
        not_before=datetime.now(timezone.utc) - timedelta(days=2))
    at = datetime.now(timezone.utc) - timedelta(days=days_back) if days_back else None
    stamper = dummy_timestamper(tsa_cert, [ca.asn1], at=at)
    answer = Loopback(lambda body: asyncio.run(stamper.async_request_tsa_response(tsp.TimeStampReq.load(body))).dump())
    digest = bytes(range(32))
    with answer.serving() as tsa_server, TsaClient(tsa_server.url, trust_roots=[ca.asn1]) as client:
        if days_back:
            with pytest.raises(TimestampRequestError, match="before its TSA certificate was valid"):
                asyncio.run(client.async_timestamp(digest, "sha256"))
            assert list(client.cert_registry) == []  # nothing learnt from the refused token
        else:
            token = asyncio.run(client.async_timestamp(digest, "sha256"))
            assert token["content"]["encap_content_info"]["content"].parsed["message_imprint"]["hashed_message"].native == digest
        assert tsa_server.requests == 1


def test_a_checking_client_still_costs_one_request_per_signature(original, short_lived, dev_pki, pki_server):  # noqa: F811
    with TsaClient(dev_pki.tsa_url, trust_roots=[dev_pki.root_cert]) as tsa:
        first = sign_pdf(original, short_lived, level="B-T", timestamper=tsa)
        sign_pdf(original, short_lived, level="B-T", timestamper=tsa)
        assert tsa.requests == 2
    report = verify_pdf(first, trust=[dev_pki.root_cert])
    assert report.indication is Indication.TOTAL_PASSED and report.signatures[0].level is Level.B_T


def test_the_runtimes_tsa_client_refuses_a_forged_token(tmp_path):
    from qujat import service
    from qujat.runtime import open_runtime
    from qujat.settings import Settings

    with ForgingTsa().serving() as mitm:
        settings = Settings(data_dir=tmp_path / "data", tsa_url=mitm.url, pool_size=1, sign_level="B-T")
        with open_runtime(settings, convert=False, sign=True, store=False) as rt:
            with pytest.raises(SigningError):
                service.sign_server_side(rt, "address_certificate", tiny_pdf("Act", pdfa=True))


# --- hostile DSS dictionaries and untrusted stamps ---------------------------------------------


def _with_dss(pdf: bytes, dss_body: bytes | None, *, direct: bool = False, extra: list[tuple[int, bytes]] = ()) -> bytes:
    """``pdf`` with its catalog rewritten to hold ``dss_body`` as /DSS (an object of its own,
    or direct in the catalog); ``None``: /DSS pointing at the catalog itself."""
    t = S.tail(pdf)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root_num = reader.trailer_view.raw_get("/Root").idnum
    root = reader.root
    copy = generic.DictionaryObject({k: root.raw_get(k) for k in root.keys() if k != "/DSS"})
    dss_num = t.size + len(extra)
    if dss_body is None:
        ref = b"%d 0 R" % root_num
    elif direct:
        ref = dss_body
    else:
        ref = b"%d 0 R" % dss_num
    text = _dict_text(root_num, copy)
    text = text[: text.rindex(b">>")] + b" /DSS " + ref + b" >>\nendobj\n"
    objects = [*extra, (root_num, text)]
    if dss_body is not None and not direct:
        objects.append((dss_num, b"%d 0 obj\n" % dss_num + dss_body + b"\nendobj\n"))
    return S.append_update(pdf, objects)


@pytest.mark.parametrize("dss_body, direct", [
    (b"<< /CRLs 5 /OCSPs (x) >>", False),
    (b"<< /CRLs [null 1 true] /OCSPs [<< >>] >>", False),
    (b"<< /CRLs [999 0 R] /OCSPs [] >>", True),  # direct, naming an object that does not exist
    (None, False),  # /DSS is the catalog itself
    (b"[ /CRLs ]", False),
])
def test_a_hostile_dss_gives_a_report_and_no_b_lt(dss_body, direct, b_t, dev_pki, timeline):  # noqa: F811
    """A DSS that is not a dictionary of arrays of streams (numbers, a string, nulls, a loop
    back to the catalog, an array) after a B-T signature: a report (never an exception), and
    no level above B-T claimed from it."""
    pdf = _with_dss(b_t, dss_body, direct=direct)
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.t0 + timedelta(minutes=1))
    [sig] = report.signatures
    assert sig.level in (Level.B_T, Level.B_B), sig
    stamped = _stamp(pdf, dev_pki)
    report = verify_pdf(stamped, trust=[dev_pki.root_cert], at=timeline.t0 + timedelta(minutes=1))
    assert report.signatures[0].level in (Level.B_T, Level.B_B)


def test_stamps_of_an_untrusted_tsa_in_the_b_lta_layout_give_nothing(b_b, stranger_crl, dev_pki, timeline):  # noqa: F811
    """B-B, a stamp of a TSA that chains to no anchor, a DSS (the signer's CRL), another such
    stamp: no T evidence, so B-B, and after the signer certificate expired no pass."""
    ca = RevCa("STRANGE TSA ROOT")
    stranger = dummy_timestamper(make_tsa(ca, "STRANGE TSA"), [ca.asn1])
    pdf = add_document_timestamp(add_dss(add_document_timestamp(b_b, stranger),
                                         crls=[dev_pki.crl_file.read_bytes()]), stranger)
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.later)
    [sig] = report.signatures
    assert [d.passed for d in _docs(report)] == [False, False]
    assert sig.level is Level.B_B
    assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)


def test_eight_threads_sign_through_one_checking_client(original, short_lived, dev_pki, pki_server):  # noqa: F811
    """Eight request threads sign at B-T at once through one kept, checking client: every
    signature gets its own token (one request each) and verifies."""
    with TsaClient(dev_pki.tsa_url, trust_roots=[dev_pki.root_cert]) as tsa:
        results = _at_once(lambda _: sign_pdf(original, short_lived, level="B-T", timestamper=tsa), range(8))
        assert tsa.requests == 8
    for pdf in results:
        assert verify_pdf(pdf, trust=[dev_pki.root_cert]).indication is Indication.TOTAL_PASSED


def _zone_less_next_update(about: cx509.Certificate, issuer: cx509.Certificate, responder: RevCa | None = None) -> bytes:
    """An OCSP answer "good" about ``about`` whose nextUpdate is a GeneralizedTime without a
    zone (local time, as some responders write it; RFC 6960 wants UTC). Signed by
    ``responder`` (default: a CA of nobody's): anyone can write one about any certificate."""
    from asn1crypto import core, ocsp
    from cryptography.x509 import ocsp as cx509_ocsp

    responder = responder or RevCa("NOBODY")

    now = datetime.now(timezone.utc)
    der = (cx509_ocsp.OCSPResponseBuilder()
           .add_response(cert=about, issuer=issuer, algorithm=hashes.SHA1(), cert_status=cx509_ocsp.OCSPCertStatus.GOOD,
                         this_update=now - timedelta(minutes=1), next_update=now + timedelta(hours=1),
                         revocation_time=None, revocation_reason=None)
           .responder_id(cx509_ocsp.OCSPResponderEncoding.HASH, responder.cert)
           .sign(responder.key, hashes.SHA256())
           .public_bytes(serialization.Encoding.DER))
    text = (now + timedelta(hours=1)).strftime("%Y%m%d%H%M%S").encode()
    response = ocsp.OCSPResponse.load(der)
    basic = response["response_bytes"]["response"].parsed
    basic["tbs_response_data"]["responses"][0]["next_update"] = core.GeneralizedTime.load(
        bytes([0x18, len(text)]) + text)
    response["response_bytes"]["response"] = core.ParsableOctetString(basic.dump())
    return response.dump()


def test_a_zone_less_next_update_is_refused_and_never_breaks_signing(original, dev_pki, pki_server):  # noqa: F811
    """An OCSP responder writes nextUpdate without a zone. The cache compared it with an
    aware now, and pyHanko did the same in its pre-signing check: TypeError out of sign_pdf
    (a 500 for the issuing request). The answer is refused as unusable (a note, not kept):
    with the CA's CRL at hand the B-LT signature is made; without, a SigningError."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from revpki import signer_for

    ca = RevCa()
    dev_root = asn1_x509.Certificate.load(pem.unarmor(dev_pki.root_cert.read_bytes())[2])
    with Responder() as responder:
        only_ocsp = ca.issue(ocsp_urls=[responder.url("/ocsp")])
        both = ca.issue(ocsp_urls=[responder.url("/ocsp")], crl=[responder.url("/ca.crl")])
        responder.routes["/ocsp"] = (200, _zone_less_next_update(only_ocsp.cert, ca.cert, ca))
        responder.routes["/ca.crl"] = (200, ca.crl())
        cache = RevocationCache(max_age_s=300)
        assert cache.ocsp(only_ocsp.asn1, ca.asn1) is None and len(cache) == 0

        def sign(leaf) -> bytes:
            return sign_pdf(original, signer_for(leaf, [ca.asn1]), level="B-LT", revocation=cache,
                            timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[ca.asn1, dev_root])

        with pytest.raises(SigningError):
            sign(only_ocsp)
        responder.routes["/ocsp"] = (200, _zone_less_next_update(both.cert, ca.cert, ca))
        pdf = sign(both)
    report = verify_pdf(pdf, trust=[ca.pem, dev_pki.root_cert])
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert report.signatures[0].level is Level.B_LT


def test_a_zone_less_ocsp_answer_appended_to_a_signed_file_changes_nothing(b_t, short_lived, dev_pki, pki_server,  # noqa: F811
                                                                          timeline):
    """Anyone can append a DSS to a signed file (an allowed change) holding an OCSP answer
    about its signer, signed by nobody, with a zone-less nextUpdate: pyHanko compared it
    with an aware time and the signature's report became "could not be processed"
    (TOTAL_FAILED). The answer is unusable and is left out; the signature still passes."""
    issuer = next(c for c in load_certs([dev_pki.issuing_ca_cert]))
    pdf = add_dss(b_t, ocsps=[_zone_less_next_update(cx509.load_der_x509_certificate(short_lived.signing_cert.dump()),
                                                      cx509.load_der_x509_certificate(issuer.dump()))])
    report = verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.t0 + timedelta(minutes=1))
    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.level is Level.B_T


def test_the_cas_own_zone_less_ocsp_answer_in_the_dss_is_no_processing_error(b_t, short_lived, dev_pki, timeline):  # noqa: F811
    """The same zone-less answer, signed by the signer's issuing CA itself (a responder that
    writes local time): the DSS answer cannot be used, the signature is still judged (not
    "could not be processed")."""
    from types import SimpleNamespace

    issuer = cx509.load_der_x509_certificate(load_certs([dev_pki.issuing_ca_cert])[0].dump())
    key = serialization.load_pem_private_key(dev_pki.key_pem("issuing-ca").read_bytes(), password=None)
    answer = _zone_less_next_update(cx509.load_der_x509_certificate(short_lived.signing_cert.dump()), issuer,
                                    SimpleNamespace(cert=issuer, key=key))
    report = verify_pdf(add_dss(b_t, ocsps=[answer]), trust=[dev_pki.root_cert], at=timeline.t0 + timedelta(minutes=1))
    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED, sig.notes


@pytest.mark.parametrize("body", [
    b"\x30\x03\x02\x01\x05",                                  # SEQUENCE { INTEGER }: no status
    b"\x30\x05\x30\x03\x02\x01\x00",                          # granted, and no token
    b"\x30\x80\x00\x00",                                      # indefinite length, empty
    b"\x30\x0a\x30\x03\x02\x01\x00\x30\x03\x02\x01\x00",     # a token that is no ContentInfo
    b"\x30\x07\x30\x03\x02\x01\x00\x04\x00",                  # a token of the wrong type
], ids=["no-status", "no-token", "indefinite", "token-not-contentinfo", "token-wrong-type"])
def test_a_malformed_tsa_answer_is_a_signing_error(body, original, short_lived):  # noqa: F811
    """HTTP 200 with the right content type but a TimeStampResp pyHanko cannot read: ValueError
    or TypeError came out of sign_pdf (a 500 for the issuing request, not "signing failed")."""
    with Loopback(lambda _request: body).serving() as broken, TsaClient(broken.url) as tsa:
        with pytest.raises(SigningError, match="no timestamp"):
            sign_pdf(original, short_lived, level="B-T", timestamper=tsa)
        assert broken.requests == 1



def _good_answer(ca: RevCa, cert: cx509.Certificate, nonce: bytes | None) -> bytes:
    """``ca``'s "good" OCSP answer about ``cert``, echoing ``nonce`` when given."""
    from cryptography.x509 import ocsp as cx509_ocsp

    now = datetime.now(timezone.utc)
    builder = (cx509_ocsp.OCSPResponseBuilder()
               .add_response(cert=cert, issuer=ca.cert, algorithm=hashes.SHA1(),
                             cert_status=cx509_ocsp.OCSPCertStatus.GOOD, this_update=now - timedelta(minutes=1),
                             next_update=now + timedelta(days=1), revocation_time=None, revocation_reason=None)
               .responder_id(cx509_ocsp.OCSPResponderEncoding.HASH, ca.cert))
    if nonce is not None:
        builder = builder.add_extension(cx509.OCSPNonce(nonce), critical=False)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_an_ocsp_answer_with_another_requests_nonce_is_not_taken():
    """A man in the middle on the responder's plain-HTTP URL replays a "good" answer it saw
    before the key was revoked (still within its nextUpdate). The request carries a nonce and
    the responder echoes nonces: an answer echoing another request's nonce is refused (and
    so never kept); the answer to this request is taken."""
    from asn1crypto import ocsp as asn1_ocsp

    ca = RevCa()
    leaf = ca.issue()
    old = _good_answer(ca, leaf.cert, b"\x04\x10" + bytes(16))  # an earlier request's nonce
    with Loopback(lambda _request: old, "application/ocsp-response").serving() as replaying:
        leaf = ca.issue(ocsp_urls=[replaying.url])
        cache = RevocationCache(max_age_s=300)
        assert cache.ocsp(leaf.asn1, ca.asn1) is None and len(cache) == 0
        assert replaying.requests == 1

    def echo(request: bytes) -> bytes:
        return _good_answer(ca, leaf.cert, asn1_ocsp.OCSPRequest.load(request).nonce_value.native)

    with Loopback(echo, "application/ocsp-response").serving() as honest:
        leaf = ca.issue(ocsp_urls=[honest.url])
        assert cache.ocsp(leaf.asn1, ca.asn1) is not None and len(cache) == 1


def test_a_dead_first_crl_url_is_not_waited_for_while_the_second_ones_crl_is_kept():
    """NCA certificates name two CRL URLs in one distribution point. With the first one down
    (it accepts and never answers), every B-LT signature waited for its timeout before the
    kept CRL of the second was used: a kept answer for any of the URLs is taken first."""
    ca = RevCa()
    cache = RevocationCache(max_age_s=300, timeout=1.0)
    with Responder() as responder:
        responder.routes["/dead.crl"] = "hang"
        responder.routes["/ca.crl"] = (200, ca.crl())
        leaf = ca.issue(crl=[responder.url("/dead.crl"), responder.url("/ca.crl")])
        assert cache.crl(leaf.asn1) is not None
        assert [s.path for s in responder.seen] == ["/dead.crl", "/ca.crl"]
        started = time.monotonic()
        assert cache.crl(leaf.asn1) is not None
        assert time.monotonic() - started < 0.5
        assert len(responder.seen) == 2


# --- B-LT covers the T evidence's TSA chain too ------------------------------------------------


@pytest.fixture(scope="module")
def other_tsa():
    """A TSA under a CA of its own (a trust anchor too), whose certificate names a CRL."""
    ca = RevCa("OTHER TSA ROOT")
    tsa = ca.issue("OTHER TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                   key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                   eku_critical=True, crl=["http://127.0.0.1:9/other-tsa-root.crl"],
                   not_before=datetime.now(timezone.utc) - timedelta(days=2))
    return ca, tsa


def test_b_lt_needs_the_revocation_data_of_the_tsa_chain_too(b_b, short_lived, other_tsa, dev_pki, pki_server,  # noqa: F811
                                                             timeline):
    """A B-T signature whose TSA is under another CA, and a DSS with the signer chain's CRLs
    only: the signature timestamp's TSA certificate has no revocation data in the file, so
    B-T (ETSI EN 319 142-1 B-LT: validation data of the signature and of its time-stamp).
    With that CA's CRL in the DSS too: B-LT."""
    ca, tsa = other_tsa
    signed = sign_pdf(tiny_pdf("Other TSA", pdfa=True), short_lived, level="B-T",
                      timestamper=dummy_timestamper(tsa, [ca.asn1]))
    trust = [dev_pki.root_cert, ca.pem]
    chain_crls = _chain_crls(short_lived, dev_pki)
    at = timeline.t0 + timedelta(minutes=1)
    without = verify_pdf(add_dss(signed, crls=chain_crls), trust=trust, at=at)
    assert without.indication is Indication.TOTAL_PASSED, without.signatures[0].notes
    assert without.signatures[0].level is Level.B_T
    both = verify_pdf(add_dss(signed, crls=[*chain_crls, ca.crl()]), trust=trust, at=at)
    assert both.signatures[0].level is Level.B_LT


def test_a_b_lt_signature_carries_the_crl_of_a_tsa_under_another_ca(original, dev_pki, pki_server):  # noqa: F811
    """Signing at B-LT fetched CRLs for the signer's chain only: with the TSA under another
    CA (here: a signer under its own CA, the dev TSA under the dev root) the DSS had nothing
    for the TSA's certificate. The TSA client's certificates get their CRLs fetched too."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from revpki import signer_for

    ca = RevCa("OWN SIGNER CA")
    dev_root = asn1_x509.Certificate.load(pem.unarmor(dev_pki.root_cert.read_bytes())[2])
    with Responder() as responder:
        responder.routes["/ca.crl"] = (200, ca.crl())
        leaf = ca.issue(crl=[responder.url("/ca.crl")])
        with TsaClient(dev_pki.tsa_url, trust_roots=[dev_pki.root_cert]) as tsa:
            pdf = sign_pdf(original, signer_for(leaf, [ca.asn1]), level="B-LT", timestamper=tsa,
                           revocation=RevocationCache(), trust_roots=[ca.asn1, dev_root])
    from asn1crypto.crl import CertificateList

    stored = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf), strict=False)).crls
    issuers = {CertificateList.load(ref.get_object().data).issuer.human_friendly for ref in stored}
    assert dev_root.subject.human_friendly in issuers and ca.asn1.subject.human_friendly in issuers
    report = verify_pdf(pdf, trust=[ca.pem, dev_pki.root_cert], require_revocation=True)
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert report.signatures[0].level is Level.B_LT



def test_a_forged_tokens_crl_url_is_never_fetched(original, short_lived, dev_signer, dev_pki, pki_server):  # noqa: F811
    """B-LT fetches the CRLs of the TSA's certificates too; those come from its tokens, which
    a man in the middle writes when the client has no anchors (the runtime's today). A
    certificate that chains to no trust root gets nothing fetched: its CRL URL (an internal
    address, say: the signing fetcher allows private ones) is never asked."""
    with Responder() as internal:
        internal.routes["/secret"] = (200, b"internal data")
        with ForgingTsa(crl_url=internal.url("/secret")).serving() as mitm, TsaClient(mitm.url) as tsa:
            # given roots, and none (the roots are then the self-signed ones of the signer's
            # chain, the dev PKI's p12 holds its root; never the one the forged token carries)
            for signer, roots in ((short_lived, load_certs([dev_pki.root_cert])), (dev_signer(), None)):
                with pytest.raises(SigningError):  # the forged TSA certificate does not validate
                    sign_pdf(original, signer, level="B-LT", timestamper=tsa, revocation=RevocationCache(),
                             trust_roots=roots)
            assert mitm.requests >= 1
        assert internal.seen == []
