"""Acceptance: `qujat verify` of a file whose signer certificate has malformed,
unreachable, loopback or private-range revocation URLs prints a report and exits 1
within its time budget, never a traceback. Each case is a real signed PDF and a real
`python -m signing verify` process; the loopback responder records what reached it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from tests.signing.conftest import REPO
from pdfs import tiny_pdf
from revpki import RevCa, Responder, closed_port, sign

from signing.model import FetchOutcome, Indication, SubIndication
from signing.netfetch import FetchPolicy
from signing.verify import verify_pdf

STARTUP_ALLOWANCE = 20.0  # interpreter and pyHanko import on a busy 2-core machine


@pytest.fixture(scope="module")
def ca():
    return RevCa("UNTRUSTED URL TEST CA")


@pytest.fixture()
def responder(ca):
    with Responder() as r:
        r.routes["/ca.crl"] = (200, ca.crl())
        r.routes["/hang.crl"] = "hang"
        yield r


def qujat_verify(tmp_path, ca, pdf: bytes, *flags: str) -> tuple[subprocess.CompletedProcess, float]:
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    (tmp_path / "doc.pdf").write_bytes(pdf)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "signing", "verify", str(tmp_path / "doc.pdf"), "--trust", str(tmp_path / "ca.pem"), *flags],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    return proc, time.monotonic() - started


def assert_report_not_traceback(proc: subprocess.CompletedProcess, exit_code: int = 1) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == exit_code, (proc.stdout, proc.stderr)
    assert proc.stdout.startswith("indication: "), proc.stdout


def test_malformed_urls(tmp_path, ca):
    leaf = ca.issue(
        crl=["not a url", "ldap://ldap.pki.gov.kz/cn=CA", "http://[::1/a.crl", "http://a\r\nX-Injected: 1"],
        ocsp_urls=["file:///etc/passwd", "http://user:pw@crl.invalid/"],
    )

    proc, elapsed = qujat_verify(tmp_path, ca, sign(tiny_pdf(), leaf, ca), "--fetch-budget", "3")

    assert_report_not_traceback(proc)
    assert "INDETERMINATE / TRY_LATER" in proc.stdout
    assert "only http and https URLs are fetched" in proc.stdout
    assert "not a well-formed URL" in proc.stdout
    assert "\r" not in proc.stdout and "X-Injected" not in proc.stdout.replace("X-Injected:", "")
    assert elapsed < 3 + STARTUP_ALLOWANCE


def test_unreachable_and_hanging_urls_end_within_the_budget(tmp_path, ca, responder):
    leaf = ca.issue(
        ocsp_urls=[f"http://127.0.0.1:{closed_port()}/ocsp"],
        crl=[responder.url("/hang.crl"), f"http://127.0.0.1:{closed_port()}/a.crl"],
    )
    pdf = sign(tiny_pdf(), leaf, ca)

    proc, elapsed = qujat_verify(tmp_path, ca, pdf, "--allow-private-network", "--fetch-budget", "2")
    in_process_started = time.monotonic()
    report = verify_pdf(pdf, trust=[ca.pem], policy=FetchPolicy.online(allow_private=True, time_budget_s=2))
    in_process = time.monotonic() - in_process_started

    assert_report_not_traceback(proc)
    assert "TRY_LATER" in proc.stdout
    assert "ocsp http://127.0.0.1:" in proc.stdout and "failed: connection refused" in proc.stdout
    assert "/hang.crl: failed: timed out" in proc.stdout
    assert "a.crl: skipped: time budget of this verification exhausted" in proc.stdout
    assert elapsed < 2 + STARTUP_ALLOWANCE
    assert in_process < 2.5
    assert report.signatures[0].sub_indication is SubIndication.TRY_LATER


def test_loopback_urls_are_refused_without_allow_private(tmp_path, ca, responder):
    leaf = ca.issue(
        crl=[responder.url("/ca.crl"), f"http://localhost:{responder.port}/ca.crl"],
        ocsp_urls=[f"http://[::ffff:127.0.0.1]:{responder.port}/ocsp"],
    )

    proc, _ = qujat_verify(tmp_path, ca, sign(tiny_pdf(), leaf, ca), "--json")

    assert "Traceback" not in proc.stderr and proc.returncode == 1
    body = json.loads(proc.stdout)
    assert body["indication"] == "INDETERMINATE"
    assert body["signatures"][0]["sub_indication"] == "TRY_LATER"
    assert {f["outcome"] for f in body["fetches"]} == {"REFUSED"}
    assert all("127.0.0.1" not in f["reason"] for f in body["fetches"])
    assert responder.seen == []  # nothing reached the loopback service


def test_private_range_urls_are_refused(tmp_path, ca):
    leaf = ca.issue(
        crl=["http://10.20.30.40/a.crl", "http://192.168.1.1:8080/a.crl", "http://[fd00::1]/a.crl"],
        ocsp_urls=["http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/ocsp"],
    )

    proc, elapsed = qujat_verify(tmp_path, ca, sign(tiny_pdf(), leaf, ca))

    assert_report_not_traceback(proc)
    assert proc.stdout.count("refused: address not allowed") == 5
    assert elapsed < 10 + STARTUP_ALLOWANCE


def test_nca_2018_style_value_tries_each_url_in_turn(tmp_path, ca, responder):
    """Two URLs in one distribution-point value, the first dead: the second is used
    and the signature passes (the 2018 NCA certificate crashed here before)."""
    value = f"http://127.0.0.1:{closed_port()}/nca_rsa.crl URL={responder.url('/ca.crl')}"
    leaf = ca.issue(crl=[value])

    proc, _ = qujat_verify(tmp_path, ca, sign(tiny_pdf(), leaf, ca), "--allow-private-network")

    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stdout
    assert "indication: TOTAL_PASSED" in proc.stdout
    assert [s.path for s in responder.seen] == ["/ca.crl"]


def test_offline_cli_fetches_nothing(tmp_path, ca, responder):
    leaf = ca.issue(crl=[responder.url("/ca.crl")])

    proc, _ = qujat_verify(tmp_path, ca, sign(tiny_pdf(), leaf, ca), "--offline", "--allow-private-network")

    assert proc.returncode == 0, proc.stdout
    assert responder.seen == []


@pytest.mark.parametrize(
    "oid, value",
    [
        ("2.5.29.31", b"\x30\x03\x02\x01"),  # CRL distribution points: truncated DER
        ("1.3.6.1.5.5.7.1.1", b"garbage"),  # authority information access: not DER
        ("2.5.29.31", b"\x30\x06\xa0\x04\xa0\x02\x86\x00"),  # an empty URI
    ],
)
def test_unreadable_revocation_extensions_give_a_report(tmp_path, ca, oid, value):
    leaf = ca.issue(raw_extensions={oid: value})
    pdf = sign(tiny_pdf(), leaf, ca)

    offline = verify_pdf(pdf, trust=[ca.pem])
    online = verify_pdf(pdf, trust=[ca.pem], policy=FetchPolicy.online(allow_private=True))
    proc, _ = qujat_verify(tmp_path, ca, pdf, "--allow-private-network")

    assert offline.signatures[0].intact is True  # offline: soft-fail, whatever the verdict
    assert online.indication is Indication.INDETERMINATE  # online: never a pass on unreadable sources
    assert online.signatures[0].intact is True
    assert "Traceback" not in proc.stderr and proc.returncode in (1, 2), proc.stderr
    assert proc.stdout.startswith("indication: ")


def test_chain_not_ending_at_a_trust_anchor_is_not_fetched_for(ca, responder):
    """The URLs of a certificate no trusted CA vouches for are the uploader's words:
    nothing is fetched for them, even with private addresses allowed."""
    stranger = RevCa("SELF-MADE CA")
    leaf = stranger.issue(crl=[responder.url("/ca.crl")], ocsp_urls=[responder.url("/ocsp")])

    report = verify_pdf(
        sign(tiny_pdf(), leaf, stranger), trust=[ca.pem], policy=FetchPolicy.online(allow_private=True)
    )

    assert report.signatures[0].sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert report.fetches == ()
    assert responder.seen == []


def test_ocsp_answer_not_signed_by_the_issuer_does_not_count(ca, responder):
    """A well-formed OCSP 'good' from a key the CA never authorised leaves the
    revocation status unknown (online: TRY_LATER), however pyHanko soft-fails it."""
    forger = RevCa("FORGER")
    leaf = ca.issue(ocsp_urls=[responder.url("/ocsp")])
    fake = forger.ocsp_response(ca.issue().cert)  # right shape, wrong signer and serial
    responder.routes["/ocsp"] = (200, fake)
    good_leaf = ca.issue(ocsp_urls=[responder.url("/ocsp-good")])
    responder.routes["/ocsp-good"] = (200, ca.ocsp_response(good_leaf.cert, responder=ca.ocsp_responder()))
    policy = FetchPolicy.online(allow_private=True)

    forged = verify_pdf(sign(tiny_pdf(), leaf, ca), trust=[ca.pem], policy=policy)
    genuine = verify_pdf(sign(tiny_pdf(), good_leaf, ca), trust=[ca.pem], policy=policy)

    assert (forged.indication, forged.signatures[0].sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert genuine.indication is Indication.TOTAL_PASSED, genuine.signatures[0].notes
    assert [f.outcome for f in genuine.fetches] == [FetchOutcome.FETCHED]
