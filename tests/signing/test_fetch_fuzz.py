"""Fuzz: hundreds of generated revocation URL values, written into real certificates
(CRL distribution point and AIA OCSP), go through the parse and fetch path.

No exception may escape, nothing may be fetched from a forbidden target, and every
verification's fetching stays within its time budget. Hosts are only loopback,
private, malformed or ``.invalid`` names: no value can reach a public host.
"""

from __future__ import annotations

import random
import time

import pytest
from pdfs import tiny_pdf
from revpki import RevCa, Responder, closed_port, sign

from signing.model import FetchOutcome, Indication, SubIndication
from signing.netfetch import Fetcher, FetchPolicy, UrlRefused, check_url, revocation_sources
from signing.verify import verify_pdf

SCHEMES = ["http", "https", "HTTP", "hTTp", "ldap", "file", "ftp", "gopher", "javascript", "", "http:", "hxxp"]
FORBIDDEN_HOSTS = [
    "127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "[::ffff:127.0.0.1]", "[0:0:0:0:0:ffff:7f00:1]", "10.0.0.1",
    "169.254.169.254", "192.168.0.1", "172.31.255.255", "100.64.0.1", "0.0.0.0", "2130706433", "0x7f000001",
    "0177.0.0.1", "127.1", "[fe80::1%25lo]", "[fc00::1]", "224.0.0.1", "crl.invalid", "xn--80ak6aa92e.invalid",
    "пки.invalid", "a" * 300 + ".invalid", "", "[", "[::1", "user:pw@127.0.0.1", "127.0.0.1@crl.invalid",
    "crl.invalid#@127.0.0.1", "crl.invalid\\@127.0.0.1", "%31%32%37.0.0.1", "127.0.0.1\x00.invalid",
]
PATHS = [
    "/a.crl", "", "/a b.crl", "/%00", "/\r\nX-Injected: 1", "/ü.crl", "/" + "x" * 5000, "?q=1",
    "/../../etc/passwd", "/a.crl\tURL=", "/a.crl\x00", "/%0d%0aX-Injected:%201",
]
DECORATIONS = [
    "{}", "URL={}", "url=URL={}", "  {}  ", "{} URL={}", "{}\tURL={}", "\u2028{}", "\"{}\"", "<{}>", "{}\r\n{}",
    "{},{}", "{};{}", "URL= {}", "{}" * 3,
]


def _ports(responder_port: int) -> list[str]:
    return ["", ":80", ":0", ":65536", ":-1", ":abc", f":{responder_port}", ":99999999999", ":443", ":8080"]


def _values(rng: random.Random, hosts: list[str], ports: list[str], count: int) -> list[str]:
    out = []
    for _ in range(count):
        def one() -> str:
            return f"{rng.choice(SCHEMES)}://{rng.choice(hosts)}{rng.choice(ports)}{rng.choice(PATHS)}"

        pattern = rng.choice(DECORATIONS)
        out.append(pattern.format(*(one() for _ in range(pattern.count("{}")))))
    out += ["", " ", "URL=", "URL=URL=", "\r\n", "http://", "http://:80/", "x" * 20000]
    return out


@pytest.fixture(scope="module")
def ca():
    return RevCa("FUZZ CA")


def test_fuzzed_values_to_forbidden_targets_fetch_nothing(ca):
    """Public-only policy: every target here is forbidden; the recording responder on
    loopback must never see a request, whatever the spelling."""
    rng = random.Random(20240605)
    with Responder() as responder:
        responder.routes["/a.crl"] = (200, ca.crl())
        values = _values(rng, FORBIDDEN_HOSTS, _ports(responder.port), 400)
        policy = FetchPolicy.online(time_budget_s=1.0, per_request_timeout_s=0.5)
        slowest = 0.0
        outcomes: set[FetchOutcome] = set()
        for value in values:
            leaf = ca.issue(crl=[value], ocsp_urls=[value])
            fetcher = Fetcher(policy)
            started = time.monotonic()
            sources = revocation_sources(leaf.asn1)
            assert fetcher.crl(leaf.asn1, sources) is None
            assert fetcher.ocsp(leaf.asn1, ca.asn1, sources) is None
            slowest = max(slowest, time.monotonic() - started)
            outcomes |= {n.outcome for n in fetcher.notes}
        assert responder.seen == []
    assert len(values) >= 400
    assert outcomes <= {FetchOutcome.REFUSED, FetchOutcome.SKIPPED, FetchOutcome.FAILED}
    assert FetchOutcome.FETCHED not in outcomes
    assert slowest < 1.5


def test_fuzzed_values_with_private_network_allowed_reach_only_clean_requests(ca):
    """Loopback allowed (the dev setting): values built around a live responder may
    fetch, but only well-formed http requests arrive, no header is injected, a
    non-http scheme is never followed and each fetcher ends within its budget."""
    rng = random.Random(8)
    with Responder() as responder:
        responder.routes["/a.crl"] = (200, ca.crl())
        responder.routes["/hang.crl"] = "hang"
        hosts = ["127.0.0.1", "localhost", f"127.0.0.1:{closed_port()}", "[::1]"]
        ports = [f":{responder.port}", f":{responder.port}", ""]
        paths = PATHS + ["/hang.crl"] + ["/a.crl"] * 8
        schemes = SCHEMES + ["http"] * 8
        values = []
        for _ in range(300):
            pattern = rng.choice(DECORATIONS)
            parts = [f"{rng.choice(schemes)}://{rng.choice(hosts)}{rng.choice(ports)}{rng.choice(paths)}"
                     for _ in range(pattern.count("{}"))]
            values.append(pattern.format(*parts))
        policy = FetchPolicy.online(allow_private=True, time_budget_s=0.6, per_request_timeout_s=0.2)
        slowest = 0.0
        fetched = 0
        for value in values:
            leaf = ca.issue(crl=[value])
            fetcher = Fetcher(policy)
            started = time.monotonic()
            crl = fetcher.crl(leaf.asn1)
            slowest = max(slowest, time.monotonic() - started)
            fetched += crl is not None
            for note in fetcher.notes:
                if note.outcome in (FetchOutcome.FETCHED, FetchOutcome.FAILED) and len(note.url) < 160:
                    check_url(note.url)  # only well-formed http(s) URLs were ever attempted
                else:
                    assert note.outcome in (FetchOutcome.REFUSED, FetchOutcome.SKIPPED, FetchOutcome.FAILED)
        seen = list(responder.seen)
    assert fetched >= 10  # the lenient parser does find the good URLs inside the noise
    assert seen and all(s.method in ("GET", "POST") for s in seen)
    for request in seen:
        assert all(0x20 < ord(ch) < 0x7F for ch in request.path), request.path
        assert "X-Injected" not in request.headers
    assert slowest < 1.0


def test_non_http_schemes_are_refused_before_any_network_use():
    for value in ["file:///etc/passwd", "ldap://127.0.0.1/x", "gopher://127.0.0.1:6379/_FLUSHALL", "dict://127.0.0.1:11211/"]:
        with pytest.raises(UrlRefused, match="only http"):
            check_url(value)


def test_fuzzed_signer_certificates_verify_to_a_report(ca):
    """Whole verifications (sign, then verify online with loopback allowed): every
    one ends in a report, INDETERMINATE/TRY_LATER unless the good CRL was found."""
    rng = random.Random(77)
    with Responder() as responder:
        responder.routes["/a.crl"] = (200, ca.crl())
        good = responder.url("/a.crl")
        bad_values = _values(rng, FORBIDDEN_HOSTS[:6], [f":{closed_port()}", ""], 24)
        policy = FetchPolicy.online(allow_private=True, time_budget_s=1.0, per_request_timeout_s=0.3)
        results = []
        for i, value in enumerate(bad_values):
            value = f"{value} URL={good}" if i % 3 == 0 else value
            leaf = ca.issue(crl=[value], ocsp_urls=[value])
            started = time.monotonic()
            report = verify_pdf(sign(tiny_pdf(), leaf, ca), trust=[ca.pem], policy=policy)
            assert time.monotonic() - started < 2.5
            sig = report.signatures[0]
            results.append((sig.indication, sig.sub_indication))
            assert sig.indication is not Indication.TOTAL_FAILED, sig.notes
    assert (Indication.INDETERMINATE, SubIndication.TRY_LATER) in results
    assert (Indication.TOTAL_PASSED, None) in results
