"""`signing.revocation.check_signer`: one signer certificate's revocation status at a moment, as
a service taking an official's CMS needs it — the CMS's own data if it speaks for the moment,
else the certificate's OCSP responder, then its CRL, under a fetch policy's limits.

The dev PKI (session fixtures) serves OCSP and CRL on 127.0.0.1 and has a revoked employee."""
from __future__ import annotations

import datetime as dt
import socket
import threading
import time

import pytest
from asn1crypto import cms, ocsp

from signing.certload import load_certs
from signing.deferred import make_detached_cms
from signing.model import FetchOutcome
from signing.netfetch import Fetcher, FetchPolicy
from signing.revocation import GOOD, MAX_CARRIED, REVOKED, UNKNOWN, carried_revinfo, check_signer
from tests.signing.ltvhelpers import carrying

LOOPBACK = FetchPolicy(allow_private=True)          # check_signer enables it itself


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def chain(dev_pki):
    return load_certs([dev_pki.issuing_ca_cert]), load_certs([dev_pki.root_cert])


def _check(signer, chain, **kw):
    others, anchors = chain
    kw.setdefault("at", _now())
    kw.setdefault("policy", LOOPBACK)
    return check_signer(signer.signing_cert, others=others, anchors=anchors, **kw)


def test_ocsp_decides_good_and_revoked(pki_server, dev_signer, chain):
    good = _check(dev_signer("individual"), chain)
    assert (good.status, good.source, len(good.ocsps), good.crls) == (GOOD, "ocsp", 1, ())
    assert good.issuer == "Common Name: ҰКО DEV (RSA), Country: KZ"
    revoked = _check(dev_signer("revoked-employee"), chain)
    assert (revoked.status, revoked.source) == (REVOKED, "ocsp")
    assert revoked.revoked_at is not None and revoked.revoked_at < _now()
    details = revoked.details()
    assert details["status"] == "revoked" and details["ocsp"][0]["der"] and details["revoked_at"]


def test_the_crl_decides_when_the_ocsp_responder_is_unreachable(dev_pki, pki_server, dev_signer, chain):
    dead = FetchPolicy(allow_private=True, mirrors={dev_pki.ocsp_url: "http://127.0.0.1:9/ocsp"})
    good = _check(dev_signer("individual"), chain, policy=dead)
    assert (good.status, good.source, good.ocsps, len(good.crls)) == (GOOD, "crl", (), 1)
    assert [(n.kind, n.outcome) for n in good.notes] == [("ocsp", FetchOutcome.FAILED), ("crl", FetchOutcome.FETCHED)]
    revoked = _check(dev_signer("revoked-employee"), chain, policy=dead)
    assert (revoked.status, revoked.source) == (REVOKED, "crl")
    assert set(revoked.details()["crl"][0]) == {"sha256", "this_update", "next_update"}


def test_unknown_when_nothing_usable_names_why(pki_server, dev_signer, chain):
    # loopback not allowed: nothing is sent
    closed = _check(dev_signer("revoked-employee"), chain, policy=FetchPolicy())
    assert closed.status == UNKNOWN and closed.source is None and not closed.ocsps
    assert "address not allowed" in closed.reason
    assert {n.outcome for n in closed.notes} == {FetchOutcome.REFUSED}
    # two hours on, the OCSP answer (10 minutes) is stale and the CRL (a day) still speaks
    later = _check(dev_signer("individual"), chain, at=_now() + dt.timedelta(hours=2))
    assert (later.status, later.source) == (GOOD, "crl")
    # two days on, both are stale
    stale = _check(dev_signer("individual"), chain, at=_now() + dt.timedelta(days=2))
    assert stale.status == UNKNOWN and "not valid now" in stale.reason
    assert stale.details()["reason"] == stale.reason and len(stale.details()["fetches"]) == 2


def test_the_fetch_policy_bounds_the_time_of_a_silent_responder(dev_pki, dev_signer, chain):
    """A responder that accepts the connection and never answers costs the policy's budget."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held, stop = [], threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    silent = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    policy = FetchPolicy(allow_private=True, time_budget_s=1.5, per_request_timeout_s=1.0,
                         mirrors={dev_pki.ocsp_url: silent, dev_pki.crl_url: silent})
    try:
        started = time.monotonic()
        check = _check(dev_signer("individual"), chain, policy=policy)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()
    assert check.status == UNKNOWN and "timed out" in check.reason
    assert took < 3.0, took


def _carrying(der: bytes, *answers: ocsp.OCSPResponse, junk: int = 0) -> tuple[cms.SignedData, cms.SignerInfo]:
    """``carried_revinfo``'s arguments: the SignedData and SignerInfo of ``carrying``'s CMS."""
    sd = cms.ContentInfo.load(carrying(der, *answers, junk=junk))["content"]
    return sd, sd["signer_infos"][0]


def test_revocation_data_the_cms_carries(dev_pki, pki_server, dev_signer, chain):
    person, employee = dev_signer("individual"), dev_signer("revoked-employee")
    issuer = chain[0][0]
    fetcher = Fetcher(FetchPolicy(enabled=True, allow_private=True))
    about_person = fetcher.ocsp(person.signing_cert, issuer)
    about_employee = fetcher.ocsp(employee.signing_cert, issuer)
    der = make_detached_cms(b"\x01" * 32, person)

    crls, ocsps = carried_revinfo(*_carrying(der, about_person, junk=2))
    assert crls == [] and [o.dump() for o in ocsps] == [about_person.dump()]
    crls, ocsps = carried_revinfo(*_carrying(der, *[about_person] * (MAX_CARRIED + 3)))
    assert len(ocsps) == MAX_CARRIED

    # a fresh answer in the CMS decides, even with the CA unreachable (nothing fetched)
    offline = FetchPolicy()
    check = _check(person, chain, policy=offline, carried=((), (about_person,)))
    assert (check.status, check.source, check.notes) == (GOOD, "cms", ())
    # an answer about someone else, or a stale one, does not: the CA is asked
    check = _check(person, chain, carried=((), (about_employee,)))
    assert (check.status, check.source) == (GOOD, "ocsp")
    check = _check(person, chain, policy=offline, carried=((), (about_employee,)))
    assert check.status == UNKNOWN
    later = _now() + dt.timedelta(hours=2)                # the answer's nextUpdate: 10 minutes
    check = _check(person, chain, policy=offline, at=later, carried=((), (about_person,)))
    assert check.status == UNKNOWN
    # an unsuccessful answer in the CMS decides nothing
    refused = ocsp.OCSPResponse({"response_status": "unauthorized"})
    check = _check(person, chain, carried=((), (refused,)))
    assert (check.status, check.source) == (GOOD, "ocsp")
    # a revoked status in the CMS's own data is believed
    check = _check(employee, chain, policy=offline, carried=((), (about_employee,)))
    assert (check.status, check.source) == (REVOKED, "cms")


def test_details_of_an_unsuccessful_answer_do_not_fail(dev_signer, chain):
    from signing.revocation import RevocationCheck

    refused = ocsp.OCSPResponse({"response_status": "unauthorized"})
    details = RevocationCheck(GOOD, "X", "cms", (refused,)).details()
    assert details["ocsp"][0]["readable"] is False and details["ocsp"][0]["der"]


def test_a_crl_of_a_trust_anchor_that_is_not_self_signed(dev_pki, pki_server, dev_signer, chain):
    """The issuing CA as the only anchor (as with the NCA's test CA, whose root is not
    published): pyhanko-certvalidator cannot place its CRL, check_signer judges it itself."""
    issuing = chain[0]
    dead = FetchPolicy(allow_private=True, mirrors={dev_pki.ocsp_url: "http://127.0.0.1:9/ocsp"})
    for label, status in (("individual", GOOD), ("revoked-employee", REVOKED)):
        check = check_signer(dev_signer(label).signing_cert, others=[], anchors=issuing, at=_now(), policy=dead)
        assert (check.status, check.source) == (status, "crl"), label
    stale = check_signer(dev_signer("individual").signing_cert, others=[], anchors=issuing,
                         at=_now() + dt.timedelta(days=2), policy=dead)
    assert stale.status == UNKNOWN
    # another CA's CRL is not taken for it
    from signing.revocation import _by_anchor_crl

    crl = Fetcher(FetchPolicy(enabled=True, allow_private=True)).crl(dev_signer("individual").signing_cert)
    root = chain[1][0]
    assert _by_anchor_crl(dev_signer("revoked-employee").signing_cert, root, crl, _now()) == (UNKNOWN, None)
