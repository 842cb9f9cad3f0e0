"""The fetch policy: what may be downloaded while verifying a file, against a real
HTTP responder on 127.0.0.1 that records every request it receives."""

from __future__ import annotations

import time

import pytest
from revpki import Responder, closed_port

from signing.model import FetchOutcome
from signing.netfetch import Fetcher, FetchPolicy, UrlRefused, address_allowed, candidate_urls, check_url

DEV = FetchPolicy.online(allow_private=True, per_request_timeout_s=1.0, time_budget_s=3.0)


def raw(data: bytes) -> bytes:
    return data


@pytest.fixture()
def responder():
    with Responder() as r:
        yield r


def test_nca_2018_value_holds_two_urls():
    value = "http://crl.pki.gov.kz/nca_rsa.crl URL=http://crl1.pki.gov.kz/nca_rsa.crl"

    assert candidate_urls([value]) == ["http://crl.pki.gov.kz/nca_rsa.crl", "http://crl1.pki.gov.kz/nca_rsa.crl"]
    assert candidate_urls(["URL=http://a.test/x  url=http://a.test/x\r\n<http://b.test/y>"]) == [
        "http://a.test/x", "http://b.test/y",
    ]
    assert len(candidate_urls(["http://a.test/%d" % i for i in range(1000)])) == 8


@pytest.mark.parametrize(
    "url",
    [
        "http://crl.pki.gov.kz/nca_rsa.crl",
        "https://test.pki.gov.kz:8443/ocsp/",
        "http://[2001:db8::1]:8080/a.crl?x=1",
        "HTTP://CRL.PKI.GOV.KZ/A.CRL",
    ],
)
def test_well_formed_http_urls_pass_the_syntax_check(url):
    target = check_url(url)

    assert target.scheme in ("http", "https") and target.host == target.host.lower()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ldap://ldap.pki.gov.kz/cn=NCA?certificateRevocationList", "only http"),
        ("file:///etc/passwd", "only http"),
        ("gopher://127.0.0.1:25/_HELO", "only http"),
        ("http://user:secret@crl.pki.gov.kz/a.crl", "user information"),
        ("http://crl.pki.gov.kz/a b.crl", "well-formed"),
        ("http://crl.pki.gov.kz/a.crl\r\nX-Injected: 1", "well-formed"),
        ("http://crl.пки.kz/a.crl", "well-formed"),
        ("http://crl.pki.gov.kz:99999/a.crl", "well-formed"),
        ("http://crl.pki.gov.kz:-1/a.crl", "well-formed"),
        ("http://[::1/a.crl", "well-formed"),
        ("http://[fe80::1%25eth0]/a.crl", "well-formed"),
        ("http:///a.crl", "well-formed"),
        ("http://under_score.kz/a.crl", "well-formed"),
        ("http://" + "a" * 3000 + ".kz/", "too long"),
        ("", "well-formed"),
    ],
)
def test_malformed_or_foreign_urls_are_refused(url, reason):
    with pytest.raises(UrlRefused, match=reason):
        check_url(url)


@pytest.mark.parametrize(
    "address, public",
    [
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
        ("192.0.2.1", False), ("240.0.0.1", False), ("::1", False), ("fe80::1", False), ("fc00::1", False),
        ("::ffff:127.0.0.1", False), ("64:ff9b::7f00:1", False), ("2002:7f00:1::1", False), ("::", False),
        ("88.204.170.1", True), ("2a00:1450::1", True),
    ],
)
def test_only_public_addresses_without_allow_private(address, public):
    assert address_allowed(address, allow_private=False) is public


def test_allow_private_opens_loopback_but_never_unspecified_or_multicast():
    assert address_allowed("127.0.0.1", allow_private=True)
    assert address_allowed("10.0.0.1", allow_private=True)
    assert not address_allowed("0.0.0.0", allow_private=True)
    assert not address_allowed("ff02::1", allow_private=True)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "2130706433", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::1]"],
)
def test_loopback_in_any_spelling_is_refused_and_never_contacted(responder, host):
    responder.routes["/a.crl"] = (200, b"crl")
    fetcher = Fetcher(FetchPolicy.online())

    got = fetcher.fetch("crl", f"http://{host}:{responder.port}/a.crl", raw)

    assert got is None
    assert [n.outcome for n in fetcher.notes] == [FetchOutcome.REFUSED]
    assert "127.0.0.1" not in fetcher.notes[0].reason  # no resolved address in the report
    assert responder.seen == []


def test_disabled_policy_fetches_nothing(responder):
    fetcher = Fetcher(FetchPolicy())

    assert fetcher.fetch("crl", responder.url("/a.crl"), raw) is None
    assert fetcher.notes[0].reason == "online fetching is disabled"
    assert responder.seen == []


def test_allowed_fetch_pins_the_checked_address_and_keeps_the_host_name(responder):
    responder.routes["/a.crl"] = (200, b"crl bytes")
    fetcher = Fetcher(DEV)

    assert fetcher.fetch("crl", f"http://localhost:{responder.port}/a.crl", raw) == b"crl bytes"
    assert responder.seen[0].headers["Host"] == f"localhost:{responder.port}"
    assert fetcher.notes[0].outcome is FetchOutcome.FETCHED


def test_response_over_the_size_cap_is_dropped(responder):
    responder.routes["/declared.crl"] = (200, b"x" * 5000)
    responder.routes["/endless.crl"] = "huge"
    fetcher = Fetcher(FetchPolicy.online(allow_private=True, max_bytes=4096))

    assert fetcher.fetch("crl", responder.url("/declared.crl"), raw) is None
    assert fetcher.fetch("crl", responder.url("/endless.crl"), raw) is None
    assert [n.reason for n in fetcher.notes] == ["response larger than the size limit"] * 2


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_slow_server_is_cut_at_the_per_request_timeout(responder, mode):
    responder.routes["/slow.crl"] = mode
    fetcher = Fetcher(FetchPolicy.online(allow_private=True, per_request_timeout_s=0.5))

    started = time.monotonic()
    assert fetcher.fetch("crl", responder.url("/slow.crl"), raw) is None
    elapsed = time.monotonic() - started

    assert 0.4 < elapsed < 1.2
    assert fetcher.notes[0].reason == "timed out"


def test_time_budget_covers_all_fetches_together(responder):
    responder.routes["/slow.crl"] = "hang"
    fetcher = Fetcher(FetchPolicy.online(allow_private=True, per_request_timeout_s=0.4, time_budget_s=1.0))

    started = time.monotonic()
    for i in range(10):
        fetcher.fetch("crl", responder.url(f"/slow.crl?{i}"), raw)
    elapsed = time.monotonic() - started

    assert elapsed < 1.4
    outcomes = [n.outcome for n in fetcher.notes]
    assert outcomes[:2] == [FetchOutcome.FAILED] * 2 and outcomes[-1] is FetchOutcome.SKIPPED
    assert len(responder.seen) <= 3


def test_request_count_is_capped(responder):
    responder.routes["/a.crl"] = (404, b"")
    fetcher = Fetcher(FetchPolicy.online(allow_private=True, max_requests=3))

    for i in range(6):
        fetcher.fetch("crl", responder.url(f"/a.crl?{i}"), raw)

    assert len(responder.seen) == 3
    assert [n.outcome for n in fetcher.notes][3:] == [FetchOutcome.SKIPPED] * 3


def test_redirects_are_checked_and_limited(responder):
    responder.routes["/moved.crl"] = (302, b"", {"Location": "/a.crl"})
    responder.routes["/a.crl"] = (200, b"crl")
    responder.routes["/to-file.crl"] = (302, b"", {"Location": "file:///etc/passwd"})
    responder.routes["/loop.crl"] = (302, b"", {"Location": "/loop.crl"})
    fetcher = Fetcher(DEV)

    assert fetcher.fetch("crl", responder.url("/moved.crl"), raw) == b"crl"
    assert fetcher.fetch("crl", responder.url("/to-file.crl"), raw) is None
    assert fetcher.fetch("crl", responder.url("/loop.crl"), raw) is None

    reasons = [n.reason for n in fetcher.notes]
    assert reasons[1] == "redirect refused: only http and https URLs are fetched"
    assert reasons[2] == "too many redirects"
    assert [s.path for s in responder.seen].count("/loop.crl") == DEV.max_redirects + 1


def test_connection_refused_and_http_errors_are_notes(responder):
    responder.routes["/gone.crl"] = (503, b"")
    fetcher = Fetcher(DEV)

    fetcher.fetch("crl", f"http://127.0.0.1:{closed_port()}/a.crl", raw)
    fetcher.fetch("crl", responder.url("/gone.crl"), raw)
    fetcher.fetch("crl", responder.url("/garbage.crl"), lambda data: 1 / 0)

    assert [(n.outcome, n.reason) for n in fetcher.notes] == [
        (FetchOutcome.FAILED, "connection refused"),
        (FetchOutcome.FAILED, "HTTP status 503"),
        (FetchOutcome.FAILED, "HTTP status 404"),
    ]


def test_unparsable_answer_is_a_failure_not_an_exception(responder):
    responder.routes["/a.crl"] = (200, b"<html>not a CRL</html>")
    fetcher = Fetcher(DEV)

    assert fetcher.fetch("crl", responder.url("/a.crl"), lambda data: 1 / 0) is None
    assert fetcher.notes[0].reason == "response is not a usable CRL answer"


def test_mirror_rewrites_a_certificate_url_and_still_checks_it(responder):
    responder.routes["/mirror/crl/nca_rsa.crl"] = (200, b"mirrored")
    mirrors = {"http://crl.pki.gov.kz/": responder.url("/mirror/crl/")}

    allowed = Fetcher(FetchPolicy.online(allow_private=True, mirrors=mirrors))
    public_only = Fetcher(FetchPolicy.online(mirrors=mirrors))

    assert allowed.fetch("crl", "http://crl.pki.gov.kz/nca_rsa.crl", raw) == b"mirrored"
    assert public_only.fetch("crl", "http://crl.pki.gov.kz/nca_rsa.crl", raw) is None
    assert public_only.notes[0].outcome is FetchOutcome.REFUSED
    assert len(responder.seen) == 1


def test_notes_show_urls_without_user_information_or_control_characters():
    fetcher = Fetcher(FetchPolicy.online())

    fetcher.fetch("crl", "http://admin:hunter2@10.0.0.1/a.crl", raw)
    fetcher.fetch("crl", "http://10.0.0.1/\x1b[2Ja.crl", raw)
    fetcher.fetch("crl", "http://10.0.0.1/" + "a" * 500, raw)

    shown = [n.url for n in fetcher.notes]
    assert shown[0] == "http://10.0.0.1/a.crl"
    assert "\x1b" not in shown[1]
    assert len(shown[2]) <= 160


def test_policy_is_frozen_and_validated():
    policy = FetchPolicy.online(mirrors={"http://a.test/": "http://b.test/"})

    assert policy.mirrors == (("http://a.test/", "http://b.test/"),)
    with pytest.raises(AttributeError):
        policy.enabled = False  # type: ignore[misc]
    with pytest.raises(ValueError):
        FetchPolicy(time_budget_s=0)
    assert FetchPolicy().enabled is False
