"""Small synchronous HTTP clients: RFC 3161 TSA, and CRL/OCSP downloads under a policy.

Why not pyHanko's own clients: its TSA client and fetchers are aiohttp-based and bind
a session to one event loop, while pyHanko's synchronous API runs a new loop per
signature; the ``requests`` variants need a package we do not otherwise use.

Verification reads revocation URLs out of certificates that arrive inside an uploaded
file, so fetching them is a server-side request forgery risk. Every download made while
verifying goes through a :class:`Fetcher` bound to a :class:`FetchPolicy`:

* nothing at all unless ``enabled`` (the library default is offline);
* only ``http``/``https`` URLs that parse cleanly (no user information, no control
  characters or spaces, no non-ASCII, bounded length);
* the host is resolved once, every address is checked (loopback, private, link-local,
  reserved, multicast, unspecified and IPv4 embedded in IPv6 are refused unless
  ``allow_private``), and the connection goes to the very address that was checked, so
  a second DNS answer cannot redirect it (DNS rebinding);
* redirects are followed only to targets that pass the same checks, at most
  ``max_redirects`` of them;
* responses are capped at ``max_bytes``; each request at ``per_request_timeout_s`` of
  wall time (a watchdog closes a slowly dripping connection); all requests of one
  verification together at ``time_budget_s`` and ``max_requests``;
* every refusal or failure becomes a :class:`~signing.model.FetchNote` with a reason
  from a fixed vocabulary: no exception text, no resolved address.

Which certificates may be fetched for (only those of a chain ending at a trust anchor)
is the verifier's decision; this module only fetches safely.

Signing at B-LT fetches only for the signer's own chain and the operator's TSA. A process
signing many documents keeps a :class:`TsaClient` (a kept connection; the TSA's certificates
learnt from its tokens, so no extra token per signature) and a :class:`RevocationCache` (CRL and
OCSP answers reused under a stated freshness rule): its runtime builds and closes both.

NCA certificates issued around 2018 hold several URLs in one distribution-point value
(``http://crl.pki.gov.kz/nca_rsa.crl URL=http://crl1.pki.gov.kz/nca_rsa.crl``);
:func:`candidate_urls` splits such values and each URL is tried in turn.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import logging
import os
import re
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp, tsp, x509
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, dummy_digest, extract_ts_certs
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import PathError, ValidationError

from .certload import CertSource, load_certs, parse_crl_der, parse_ocsp_der
from .model import FetchNote, FetchOutcome

__all__ = [
    "DEFAULT_TIMEOUT",
    "FetchPolicy",
    "OFFLINE",
    "Fetcher",
    "RevocationSources",
    "revocation_sources",
    "candidate_urls",
    "check_url",
    "address_allowed",
    "UrlRefused",
    "TsaClient",
    "RevocationCache",
    "DEFAULT_REVOCATION_MAX_AGE",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
MAX_URL_LENGTH = 2048
#: URLs tried per certificate and kind (CRL or OCSP): a value with thousands of tokens
#: costs no more than this.
MAX_URLS_PER_CERT = 8
_NOTE_URL_LENGTH = 160
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HOST_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")
_URL_PREFIX_RE = re.compile(r"^(?:url=)+", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

T = TypeVar("T")


@dataclass(frozen=True)
class FetchPolicy:
    """What verification may download. The default is offline (``enabled=False``).

    ``allow_private``: also fetch from loopback/private/link-local/reserved addresses
    (the dev PKI serves CRL, OCSP and TSA on 127.0.0.1; never on a public endpoint).
    ``max_bytes``: cap on one response body. ``time_budget_s``: wall time for all the
    fetches of one verification; ``per_request_timeout_s``: for one request (connect to
    last byte). ``max_requests``: HTTP requests per verification (redirects count).
    ``mirrors``: URL prefix rewrites applied to URLs taken from certificates, e.g.
    ``{"http://crl.pki.gov.kz/": "http://crl-mirror.example/"}`` for a local copy of the
    NCA's CRLs; the rewritten URL passes the same checks.
    """

    enabled: bool = False
    allow_private: bool = False
    max_bytes: int = 1 << 20
    time_budget_s: float = 10.0
    per_request_timeout_s: float = 3.0
    max_requests: int = 16
    max_redirects: int = 2
    mirrors: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.time_budget_s <= 0 or self.per_request_timeout_s <= 0:
            raise ValueError("max_bytes, time_budget_s and per_request_timeout_s must be positive")
        if self.max_requests < 0 or self.max_redirects < 0:
            raise ValueError("max_requests and max_redirects must not be negative")
        mirrors = self.mirrors.items() if isinstance(self.mirrors, Mapping) else self.mirrors
        object.__setattr__(self, "mirrors", tuple((str(a), str(b)) for a, b in mirrors))

    @classmethod
    def online(cls, **changes) -> "FetchPolicy":
        """An enabled policy (public addresses only unless ``allow_private=True``)."""
        return cls(enabled=True, **changes)


OFFLINE = FetchPolicy()


class UrlRefused(ValueError):
    """The URL is not one we fetch; ``reason`` says why in fixed words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Failed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Skipped(_Failed):
    pass


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    path: str  # path and query, never empty

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def shown_url(text: str) -> str:
    """A URL as it may appear in a report: printable ASCII only, user information
    removed, at most 160 characters."""
    text = "".join(ch if 0x20 < ord(ch) < 0x7F else "?" for ch in text[: _NOTE_URL_LENGTH * 2])
    text = re.sub(r"(?<=//)[^/@?#]*@", "", text, count=1)
    return text if len(text) <= _NOTE_URL_LENGTH else text[: _NOTE_URL_LENGTH - 1] + "…"


def candidate_urls(values: Iterable[str], limit: int = MAX_URLS_PER_CERT) -> list[str]:
    """URL candidates in certificate values, in order, without duplicates.

    A value may hold several URLs separated by white space, each optionally prefixed by
    ``URL=`` (NCA RSA certificates of about 2018). Candidates are not checked here.
    """
    out: list[str] = []
    for value in values:
        for token in value.split():
            token = _URL_PREFIX_RE.sub("", token.strip("\"'<>"))
            if token and token not in out:
                out.append(token)
                if len(out) >= limit:
                    return out
    return out


def check_url(text: str) -> _Target:
    """Parse a URL we may fetch, or raise :class:`UrlRefused`."""
    if len(text) > MAX_URL_LENGTH:
        raise UrlRefused("URL too long")
    if not text or any(not 0x20 < ord(ch) < 0x7F for ch in text):
        raise UrlRefused("not a well-formed URL (spaces, control or non-ASCII characters)")
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UrlRefused("only http and https URLs are fetched")
        if "@" in parts.netloc:
            raise UrlRefused("URL with user information")
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:  # bad port, unbalanced IPv6 brackets
        if isinstance(exc, UrlRefused):
            raise
        raise UrlRefused("not a well-formed URL") from None
    if not host or len(host) > 253:
        raise UrlRefused("not a well-formed URL (host)")
    if parts.netloc.startswith("["):
        if "%" in host:
            raise UrlRefused("not a well-formed URL (IPv6 zone)")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused("not a well-formed URL (IPv6 address)") from None
    elif not _HOST_RE.fullmatch(host):
        raise UrlRefused("not a well-formed URL (host)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(scheme, host, port, path)


def address_allowed(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> bool:
    """May we connect to this address? Unspecified and multicast never; the rest of the
    non-public space (loopback, RFC 1918, CGNAT, link-local, ULA, reserved,
    documentation, IPv4-mapped/NAT64/6to4 forms of those) only with ``allow_private``."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not address_allowed(embedded, allow_private):
            return False
    if ip.is_unspecified or ip.is_multicast:
        return False
    if allow_private:
        return True
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved)


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """Addresses of ``host``; a literal is returned as is. Bounded by ``timeout``:
    ``getaddrinfo`` has none of its own, so it runs on a helper thread."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    box: dict[str, object] = {}

    def _lookup() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            box["error"] = exc

    worker = threading.Thread(target=_lookup, name="qujat-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise _Failed("name resolution timed out")
    infos = box.get("infos") or []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))  # type: ignore[union-attr]


_TLS_CONTEXT: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _TLS_CONTEXT
    if _TLS_CONTEXT is None:
        _TLS_CONTEXT = ssl.create_default_context()
    return _TLS_CONTEXT


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a fixed, already checked address; Host header and TLS name stay the URL's."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self.aborted = False

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        _no_delay(self.sock)

    def abort(self) -> None:
        """Watchdog: end a request that outlives its time (a slow drip of bytes resets
        the socket timeout on every read, so that alone would not bound it)."""
        self.aborted = True
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _PinnedHTTPS(_PinnedHTTP):
    def connect(self) -> None:
        super().connect()
        self.sock = _tls_context().wrap_socket(self.sock, server_hostname=self.host)


def _no_delay(sock: socket.socket) -> None:
    """Send small writes at once. ``http.client`` writes a POST's headers and its body in
    two ``send`` calls; with Nagle's algorithm the body then waits for the server's ACK of
    the headers, which a server delays (40 ms on Linux): every OCSP and TSA request paid
    that wait."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not a TCP socket (a test double): nothing to tune
        pass


def _failure_reason(exc: BaseException) -> str:
    """Fixed words for a network error (exception text may hold addresses)."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "connection closed by the server"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate not valid for the host"
    if isinstance(exc, ssl.SSLError):
        return "TLS error"
    if isinstance(exc, http.client.HTTPException):
        return "invalid HTTP response"
    if isinstance(exc, OSError):
        return "network error"
    return "unexpected error"


def _exchange(
    target: _Target, address: str, body: bytes | None, content_type: str, timeout: float, max_bytes: int
) -> tuple[int, str | None, bytes]:
    """One HTTP request; (status, Location, body). The body is read only for 200."""
    conn_cls = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = conn_cls(target.host, target.port, address, timeout)
    watchdog = threading.Timer(timeout, conn.abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        headers = {"User-Agent": "qujat-verify", "Accept": "*/*", "Connection": "close"}
        if body is not None:
            headers["Content-Type"] = content_type
        conn.request("POST" if body is not None else "GET", target.path, body=body, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            return resp.status, resp.getheader("Location"), b""
        length = (resp.getheader("Content-Length") or "").strip()
        if length.isdigit() and int(length) > max_bytes:
            raise _Failed("response larger than the size limit")
        chunks: list[bytes] = []
        total = 0
        while chunk := resp.read(65536):
            total += len(chunk)
            if total > max_bytes:
                raise _Failed("response larger than the size limit")
            chunks.append(chunk)
        if conn.aborted:
            raise _Failed("timed out")
        return 200, None, b"".join(chunks)
    except (OSError, http.client.HTTPException) as exc:
        raise _Failed("timed out" if conn.aborted else _failure_reason(exc)) from None
    finally:
        watchdog.cancel()
        conn.close()


@dataclass(frozen=True)
class RevocationSources:
    """Revocation locations written in a certificate: raw values as found (a value may
    hold several URLs); ``unreadable`` when such an extension is present but broken."""

    crl: tuple[str, ...] = ()
    ocsp: tuple[str, ...] = ()
    unreadable: bool = False

    @property
    def declared(self) -> bool:
        return bool(self.crl or self.ocsp or self.unreadable)


def _uri_text(general_name) -> str | None:
    """The raw text of a URI GeneralName (asn1crypto's ``native`` would IRI-decode and
    can raise on odd values)."""
    if general_name.name != "uniform_resource_identifier":
        return None
    return bytes(general_name.chosen.contents).decode("latin-1")


def revocation_sources(cert: x509.Certificate) -> RevocationSources:
    """CRL distribution point and OCSP URI values of ``cert``; never raises."""
    crl: list[str] = []
    ocsp_values: list[str] = []
    unreadable = False
    try:
        for dp in cert.crl_distribution_points_value or ():
            point = dp["distribution_point"]
            if point.name == "full_name":
                crl.extend(t for t in map(_uri_text, point.chosen) if t is not None)
    except Exception:  # noqa: BLE001 - any malformed extension content counts as unreadable
        unreadable = True
    try:
        for desc in cert.authority_information_access_value or ():
            if desc["access_method"].native == "ocsp":
                text = _uri_text(desc["access_location"])
                if text is not None:
                    ocsp_values.append(text)
    except Exception:  # noqa: BLE001
        unreadable = True
    return RevocationSources(tuple(crl), tuple(ocsp_values), unreadable)


class Fetcher:
    """Downloads for one verification under one policy; collects the notes.

    Never raises for a URL or a network problem: each outcome becomes a note.
    """

    def __init__(self, policy: FetchPolicy, *, clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self._clock = clock
        self._deadline = clock() + policy.time_budget_s
        self._requests = 0
        self._cache: dict[tuple[str, str], object] = {}
        self.notes: list[FetchNote] = []

    def remaining(self) -> float:
        return max(0.0, self._deadline - self._clock())

    def note(self, kind: str, url: str, outcome: FetchOutcome, reason: str = "") -> None:
        self.notes.append(FetchNote(kind=kind, url=shown_url(url), outcome=outcome, reason=reason))

    def _rewrite(self, url: str) -> str:
        for prefix, replacement in self.policy.mirrors:
            if url.startswith(prefix):
                return replacement + url[len(prefix):]
        return url

    def _address(self, target: _Target, timeout: float) -> str:
        addresses = _resolve(target.host, target.port, timeout)
        allowed = [a for a in addresses if address_allowed(a, self.policy.allow_private)]
        if allowed:
            return allowed[0]
        try:
            ipaddress.ip_address(target.host)
        except ValueError:
            # One answer for "does not resolve" and "resolves to a private address":
            # the difference would tell the uploader about the internal DNS.
            raise UrlRefused("host does not resolve to an allowed (public) address") from None
        raise UrlRefused("address not allowed (loopback, private, link-local, reserved or multicast)")

    def _download(self, target: _Target, body: bytes | None, content_type: str) -> bytes:
        policy = self.policy
        for _hop in range(policy.max_redirects + 1):
            if self._requests >= policy.max_requests:
                raise _Skipped("request limit of this verification reached")
            remaining = self.remaining()
            if remaining < 0.05:
                raise _Skipped("time budget of this verification exhausted")
            address = self._address(target, min(policy.per_request_timeout_s, remaining))
            timeout = min(policy.per_request_timeout_s, self.remaining())
            if timeout < 0.05:
                raise _Skipped("time budget of this verification exhausted")
            self._requests += 1
            status, location, data = _exchange(target, address, body, content_type, timeout, policy.max_bytes)
            if status == 200:
                return data
            if status not in _REDIRECTS:
                raise _Failed(f"HTTP status {status}")
            if not location:
                raise _Failed("redirect without a location")
            if body is not None and status not in (307, 308):
                raise _Failed("redirect of a POST request")
            try:
                target = check_url(urljoin(target.url, location.strip()))
            except UrlRefused as exc:
                raise UrlRefused(f"redirect refused: {exc.reason}") from None
        raise _Failed("too many redirects")

    def fetch(
        self,
        kind: str,
        url: str,
        parse: Callable[[bytes], T],
        *,
        body: bytes | None = None,
        content_type: str = "",
    ) -> T | None:
        """Download ``url`` and ``parse`` the body; None (and a note) on any problem."""
        if not self.policy.enabled:
            self.note(kind, url, FetchOutcome.REFUSED, "online fetching is disabled")
            return None
        cache_key = (kind, url)
        if body is None and cache_key in self._cache:
            return self._cache[cache_key]  # type: ignore[return-value]
        result: T | None = None
        try:
            target = check_url(self._rewrite(url))
            data = self._download(target, body, content_type)
            try:
                result = parse(data)
            except Exception:  # noqa: BLE001 - any parser error means "not usable"
                raise _Failed(f"response is not a usable {kind.upper()} answer") from None
        except UrlRefused as exc:
            self.note(kind, url, FetchOutcome.REFUSED, exc.reason)
        except _Skipped as exc:
            self.note(kind, url, FetchOutcome.SKIPPED, exc.reason)
        except _Failed as exc:
            self.note(kind, url, FetchOutcome.FAILED, exc.reason)
        except Exception as exc:  # noqa: BLE001 - a report, never a traceback, for input from a file
            log.debug("fetching %s failed unexpectedly", shown_url(url), exc_info=True)
            self.note(kind, url, FetchOutcome.FAILED, _failure_reason(exc))
        else:
            self.note(kind, url, FetchOutcome.FETCHED)
        if body is None:
            self._cache[cache_key] = result
        return result

    def crl(self, cert: x509.Certificate, sources: RevocationSources | None = None) -> asn1_crl.CertificateList | None:
        """The first CRL that downloads and parses among ``cert``'s distribution points."""
        sources = sources or revocation_sources(cert)
        for url in candidate_urls(sources.crl):
            crl = self.fetch("crl", url, _fetched_crl)
            if crl is not None:
                return crl
        return None

    def ocsp(
        self, cert: x509.Certificate, issuer: x509.Certificate, sources: RevocationSources | None = None
    ) -> ocsp.OCSPResponse | None:
        """A successful OCSP response about ``cert`` from its responders, tried in turn."""
        sources = sources or revocation_sources(cert)
        urls = candidate_urls(sources.ocsp)
        if not urls:
            return None
        from pyhanko_certvalidator.authority import AuthorityWithCert
        from pyhanko_certvalidator.fetchers.common_utils import format_ocsp_request

        try:
            asked = format_ocsp_request(cert, AuthorityWithCert(issuer), certid_hash_algo="sha1", request_nonces=True)
            request, nonce = asked.dump(), asked.nonce_value.native
        except Exception:  # noqa: BLE001 - a certificate we cannot describe to a responder
            self.note("ocsp", urls[0], FetchOutcome.FAILED, "no OCSP request can be made for this certificate")
            return None
        for url in urls:
            response = self.fetch("ocsp", url, lambda data: _fetched_ocsp(data, nonce), body=request,
                                  content_type="application/ocsp-request")
            if response is not None:
                return response
        return None

    def for_path(
        self, path: Iterable[tuple[x509.Certificate, x509.Certificate]], seen: set[bytes]
    ) -> tuple[list[asn1_crl.CertificateList], list[ocsp.OCSPResponse]]:
        """OCSP responses and CRLs for each (certificate, issuer) of a chain that was checked up
        to a trust anchor, skipping certificates already in ``seen`` (which it extends)."""
        crls, ocsps = [], []
        for cert, issuer in path:
            if cert.sha256 in seen:
                continue
            seen.add(cert.sha256)
            sources = revocation_sources(cert)
            response = self.ocsp(cert, issuer, sources)
            if response is not None:
                ocsps.append(response)
            crl = self.crl(cert, sources)
            if crl is not None:
                crls.append(crl)
        return crls, ocsps


def _zone_less(times: Iterable[object]) -> bool:
    return any(isinstance(t, datetime) and t.tzinfo is None for t in times)


def _fetched_crl(data: bytes) -> asn1_crl.CertificateList:
    """A downloaded CRL (``parse_crl_der``) whose thisUpdate and nextUpdate carry a zone:
    pyHanko compares them with aware times and raises TypeError on a zone-less one, which
    ended a B-LT signature in an error instead of an unusable answer."""
    crl = parse_crl_der(data)
    tbs = crl["tbs_cert_list"]
    if _zone_less((tbs["this_update"].native, tbs["next_update"].native)):
        raise ValueError("a CRL time without a zone")
    return crl


def _fetched_ocsp(data: bytes, nonce: bytes | None = None) -> ocsp.OCSPResponse:
    """A downloaded OCSP answer (``parse_ocsp_der``) whose producedAt, thisUpdate and
    nextUpdate carry a zone (as ``_fetched_crl``) and which, when it echoes a nonce, echoes
    ``nonce``, the request's: an answer with another nonce was made for another request (an
    old "good" answer replayed on the plain-HTTP path after the key was revoked). A
    responder that echoes no nonce cannot be told from a replay; its answers are taken."""
    response = parse_ocsp_der(data)
    echoed = response.nonce_value
    if nonce is not None and echoed is not None and echoed.native != nonce:
        raise ValueError("the OCSP answer's nonce is not the request's")
    tbs = response["response_bytes"]["response"].parsed["tbs_response_data"]
    times = [tbs["produced_at"].native]
    for single in tbs["responses"]:
        times += [single["this_update"].native, single["next_update"].native]
    if _zone_less(times):
        raise ValueError("an OCSP time without a zone")
    return response


def _signing_fetcher(timeout: float) -> Fetcher:
    """For the signer's own chain when signing at B-LT: configured by the operator, so
    private addresses (the dev PKI on loopback) are fine; CRLs may be large."""
    return Fetcher(FetchPolicy(
        enabled=True, allow_private=True, max_bytes=64 << 20,
        per_request_timeout_s=timeout, time_budget_s=timeout * 8, max_requests=64,
    ))


# ---------------------------------------------------------------------------------------------
# Kept between signatures (B-LT): the runtime owns one TsaClient and one RevocationCache.


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


#: How long a CRL or OCSP answer about the signer's chain is reused at most (seconds).
DEFAULT_REVOCATION_MAX_AGE = 300.0
#: An answer stops being reused this long before its nextUpdate: the signature made with it
#: is checked against the answer's validity at the signing time and at the timestamp's.
_VALIDITY_MARGIN = timedelta(seconds=60)
_TSA_MAX_BYTES = 1 << 20
_TSA_MAX_IDLE = 4  # kept connections to the TSA: a few, for request threads signing at once


@dataclass(frozen=True)
class _Cached:
    value: object
    fetched: datetime
    expires: datetime

    def fresh(self, now: datetime) -> bool:
        """Reusable at ``now``: not before it was fetched (a clock set back, by an NTP step
        or a restored VM, must not stretch the reuse window) and before it expires."""
        return self.fetched <= now < self.expires


def _crl_next_update(crl: asn1_crl.CertificateList) -> datetime | None:
    return crl["tbs_cert_list"]["next_update"].native


def _ocsp_next_update(response: ocsp.OCSPResponse) -> datetime | None:
    """The earliest nextUpdate of the single responses; None when one has none (the answer
    then says nothing about how long it holds)."""
    singles = response["response_bytes"]["response"].parsed["tbs_response_data"]["responses"]
    times = [single["next_update"].native for single in singles]
    return None if not times or None in times else min(times)


class RevocationCache:
    """CRLs and OCSP answers about the signer's own chain, reused across B-LT signatures.

    The freshness rule: an answer is reused until the earlier of

    * its nextUpdate minus a minute (the signature made with it is checked against the
      answer's validity at the signing time, and by a verifier at the timestamp's time), and
    * ``max_age_s`` after it was fetched (default :data:`DEFAULT_REVOCATION_MAX_AGE`, 300 s).

    An answer without nextUpdate (OCSP responders may leave it out) is reused for
    ``max_age_s`` only; one that is already within a minute of its nextUpdate is used for the
    signature at hand and not kept; a failed download is not kept either. Nothing is ever
    served past its validity.

    Why a window shorter than nextUpdate: a CA publishes a revocation (a compromised key) in
    its next OCSP answer at once and often in a CRL issued before the old one's nextUpdate,
    which may be a day (the NCA's CRLs) or a week away. Reusing data up to nextUpdate would let
    a key revoked meanwhile keep signing here for that long; the window bounds that lag to a
    few minutes while a busy server still fetches about once per window instead of per
    signature.

    A clock set back below an answer's fetch time ends its reuse too (the window is never
    stretched by a clock step). At most ``max_entries`` answers are kept: every new one
    drops the answers no longer fresh, then, if still too many, those that expire first
    (a long-running process whose signers change, or many URLs, does not grow).

    CRLs are kept by URL (the leaves of one CA share its CRL), OCSP answers by certificate and
    issuer. One download per key at a time: threads that need the same expired answer wait
    for the one fetching it. ``clock`` (aware UTC) is the real time unless a test injects
    another: validity is judged at the time pyHanko validates, which is the real one.
    ``requests`` counts the HTTP requests this cache made.
    """

    def __init__(
        self,
        *,
        max_age_s: float = DEFAULT_REVOCATION_MAX_AGE,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = _utc_now,
        max_entries: int = 256,
    ):
        if max_age_s < 0:
            raise ValueError("max_age_s must not be negative")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_age = timedelta(seconds=max_age_s)
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple, _Cached] = {}
        self._key_locks: dict[tuple, threading.Lock] = {}
        self.requests = 0

    def __len__(self) -> int:
        """How many answers are kept now."""
        with self._lock:
            return len(self._entries)

    def __bool__(self) -> bool:  # an empty cache is still a cache (``rt.revocation or ...``)
        return True

    def _fresh(self, key: tuple, now: datetime) -> tuple[bool, object]:
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit.fresh(now):
            return True, hit.value
        return False, None

    def _keep(self, key: tuple, cached: _Cached, now: datetime) -> None:
        """Keep ``cached`` (under ``_lock``), dropping what is no longer fresh and, beyond
        ``max_entries``, what expires first; and the per-key locks nobody holds."""
        self._entries[key] = cached
        entries = {k: v for k, v in self._entries.items() if v.fresh(now)}
        if len(entries) > self.max_entries:
            keep = sorted(entries, key=lambda k: entries[k].expires, reverse=True)[: self.max_entries]
            entries = {k: entries[k] for k in keep}
        self._entries = entries
        self._key_locks = {k: lock for k, lock in self._key_locks.items() if k in entries or lock.locked()}

    def _get(self, key: tuple, kind: str, load: Callable[[Fetcher], T | None],
             next_update: Callable[[T], datetime | None]) -> T | None:
        found, value = self._fresh(key, self._clock())
        if found:
            return value  # type: ignore[return-value]
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            now = self._clock()
            found, value = self._fresh(key, now)  # another thread may have fetched it meanwhile
            if found:
                return value  # type: ignore[return-value]
            fetcher = _signing_fetcher(self.timeout)
            result = load(fetcher)
            for note in fetcher.notes:
                if note.outcome is not FetchOutcome.FETCHED:
                    log.info("%s %s not fetched: %s", kind.upper(), note.url, note.reason)
            with self._lock:
                self.requests += fetcher._requests
                if result is None:
                    self._entries.pop(key, None)
                    return None
                expires = now + self.max_age
                try:
                    until = next_update(result)
                except Exception:  # noqa: BLE001 - a nextUpdate that cannot be read: not kept
                    until = now
                if until is not None:
                    # A zone-less time (RFC 5280 and 6960 require UTC, some responders write
                    # local time) cannot be compared with now: used once, not kept.
                    expires = now if until.tzinfo is None else min(expires, until - _VALIDITY_MARGIN)
                if expires > now:
                    self._keep(key, _Cached(result, now, expires), now)
                else:
                    self._entries.pop(key, None)
            return result

    def crl(self, cert: x509.Certificate) -> asn1_crl.CertificateList | None:
        """A kept CRL of any of ``cert``'s distribution points, else the first that downloads
        (a dead first URL is not waited for at every signature while the second's CRL is kept)."""
        urls = candidate_urls(revocation_sources(cert).crl)
        now = self._clock()
        for url in urls:
            found, crl = self._fresh(("crl", url), now)
            if found:
                return crl  # type: ignore[return-value]
        for url in urls:
            crl = self._get(("crl", url), "crl", lambda f, u=url: f.fetch("crl", u, _fetched_crl), _crl_next_update)
            if crl is not None:
                return crl
        return None

    def crls(self, certs: Iterable[x509.Certificate]) -> list[asn1_crl.CertificateList]:
        """The CRLs of ``certs`` (each CRL once, however many of the certificates name it)."""
        out: list[asn1_crl.CertificateList] = []
        for cert in certs:
            crl = self.crl(cert)
            if crl is not None and not any(c is crl for c in out):
                out.append(crl)
        return out

    def ocsp(self, cert: x509.Certificate, issuer: x509.Certificate) -> ocsp.OCSPResponse | None:
        """An OCSP answer about ``cert`` from its responders (or a kept one)."""
        return self._get(("ocsp", cert.sha256, issuer.sha256), "ocsp", lambda f: f.ocsp(cert, issuer),
                         _ocsp_next_update)


class _KeptHTTP(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _no_delay(self.sock)


class _KeptHTTPS(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _no_delay(self.sock)


class TsaClient(TimeStamper):
    """RFC 3161 client for one TSA URL, meant to live as long as the process's runtime.

    * HTTP/1.1 connections are kept alive between requests (a few idle ones, for request
      threads signing at once) and a request on a kept connection that the server closed
      meanwhile is sent again once on a new one; ``keep_alive=False`` closes each connection
      after its answer. Small writes go out at once (``TCP_NODELAY``).
    * The TSA's certificates are taken from the latest token it sent, so pyHanko's
      pre-signing step (the validation data of the TSA's chain for the DSS) costs no
      request: pyHanko's own client asks the TSA for a "dummy" token first, once per client
      object, i.e. once per signature when a client is made per signature. A token is asked
      for only when none has been seen yet, or when the certificate of the latest one no
      longer validates (the TSA renewed it); so a renewed TSA certificate is picked up.
    * A proxy from the environment (``https_proxy``, ``http_proxy``, ``no_proxy``) is used as
      ``urllib`` would.

    ``headers`` go with every request (an authorisation header of a commercial TSA, or
    certomancer's fake-time header in tests). ``trust_roots`` (the runtime's trust anchors):
    every token is checked before use as the verifier checks it (imprint, TSA signature, chain to
    an anchor now, time-stamping purpose, genTime within the TSA certificate's validity); a
    token that fails raises ``TimestampRequestError`` and is not learnt from. The TSA URL is
    the operator's configuration, not file content, so no fetch policy applies. ``requests`` counts the HTTP requests sent.
    Thread-safe; ``close()`` closes the idle connections (a later request opens a new one).
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None,
                 keep_alive: bool = True, trust_roots: Iterable[CertSource] | None = None):
        super().__init__()
        self.url = url
        # With trust roots, every token is checked before it is used or learnt from
        # (``_check``); without, tokens are taken as the TSA sent them (pyHanko's behaviour).
        self._anchors = tuple(load_certs(trust_roots)) if trust_roots is not None else None
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.keep_alive = keep_alive
        self.requests = 0
        self._lock = threading.Lock()
        # idle connections: (connection, request target, extra headers)
        self._idle: list[tuple[http.client.HTTPConnection, str, dict[str, str]]] = []
        self._pid = os.getpid()  # a forked child must not write into its parent's connections
        self._leaves: tuple[x509.Certificate, ...] = ()
        self._tokens: dict[str, object] = {}  # md algorithm → latest token (size estimates)
        self._problem: str | None = None
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            host = port = None
        if scheme not in ("http", "https") or not host:
            self._problem = f"TSA URL {url!r} is not an http(s) URL"
            return
        self._https = scheme == "https"
        self._host, self._port = host, port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proxy = None if urllib.request.proxy_bypass(host) else urllib.request.getproxies().get(scheme)
        self._proxy = urlsplit(proxy) if proxy else None

    def __enter__(self) -> "TsaClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _target, _extra in idle:
            conn.close()

    # -- HTTP -----------------------------------------------------------------------------

    def _new_connection(self) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
        proxy = self._proxy
        if proxy is None:
            cls = _KeptHTTPS if self._https else _KeptHTTP
            kwargs = {"context": _tls_context()} if self._https else {}
            return cls(self._host, self._port, timeout=self.timeout, **kwargs), self._path, {}
        auth = {}
        if proxy.username is not None:
            creds = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
            auth = {"Proxy-Authorization": "Basic " + base64.b64encode(creds).decode("ascii")}
        proxy_port = proxy.port or (443 if proxy.scheme == "https" else 80)
        if self._https:  # CONNECT through the proxy, TLS to the TSA
            conn = _KeptHTTPS(proxy.hostname, proxy_port, timeout=self.timeout, context=_tls_context())
            conn.set_tunnel(self._host, self._port, headers=auth or None)
            return conn, self._path, {}
        conn = _KeptHTTP(proxy.hostname, proxy_port, timeout=self.timeout)
        return conn, self.url, auth

    def _take(self) -> tuple[http.client.HTTPConnection, str, dict[str, str], bool]:
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = [], os.getpid()  # the parent's: left alone, not closed
            if self._idle:
                conn, target, extra = self._idle.pop()
                return conn, target, extra, True
        return (*self._new_connection(), False)

    def _post(self, body: bytes) -> tuple[int, str, bytes]:
        if self._problem is not None:
            raise TimestampRequestError(self._problem)
        for _attempt in range(2):
            conn, target, extra, reused = self._take()
            headers = {"Content-Type": "application/timestamp-query", "User-Agent": "qujat",
                       **extra, **self.headers}
            if not self.keep_alive:
                headers["Connection"] = "close"
            with self._lock:
                self.requests += 1
            try:
                conn.request("POST", target, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read(_TSA_MAX_BYTES + 1)
            except (ConnectionError, http.client.BadStatusLine) as exc:
                conn.close()
                if reused:  # the server closed the kept connection: once more, on a new one
                    continue
                raise TimestampRequestError(f"TSA {self.url} unreachable: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise TimestampRequestError(f"TSA {self.url} unreachable: {exc}") from exc
            if len(data) > _TSA_MAX_BYTES:
                conn.close()
                raise TimestampRequestError(f"TSA {self.url} answered with more than {_TSA_MAX_BYTES} bytes")
            ctype = resp.getheader("Content-Type", "") or ""
            if resp.will_close or not self.keep_alive:
                conn.close()
            else:
                with self._lock:
                    if len(self._idle) < _TSA_MAX_IDLE:
                        self._idle.append((conn, target, extra))
                        conn = None
                if conn is not None:
                    conn.close()
            return resp.status, ctype, data
        raise TimestampRequestError(f"TSA {self.url} closed the connection twice")

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        status, ctype, body = self._post(req.dump())
        if status != 200:
            raise TimestampRequestError(f"TSA {self.url} answered HTTP {status}")
        if "timestamp-reply" not in ctype:
            raise TimestampRequestError(f"TSA {self.url} answered with {ctype or 'no content type'}")
        try:
            return tsp.TimeStampResp.load(body)
        except ValueError as exc:
            raise TimestampRequestError(f"TSA {self.url} answered with something else than a timestamp") from exc

    # -- the TSA's certificates -------------------------------------------------------------

    async def _check(self, token, message_digest: bytes, md_algorithm: str) -> None:
        """TimestampRequestError unless ``token`` passes the verifier's checks of a signature
        timestamp token (``timestamps.issued_token_problem``: imprint, TSA signature, chain
        to the trust roots now, time-stamping purpose, genTime within the TSA certificate's
        validity). pyHanko's client checks only the status and the nonce: a token forged on
        the way (the NCA's TSA is reached over plain HTTP) or a misconfigured TSA would go
        into every signature, and its certificates would be learnt for the DSS."""
        from .timestamps import issued_token_problem  # lazily: pyHanko's validation stack

        problem = await issued_token_problem(token, message_digest, md_algorithm, list(self._anchors))
        if problem is not None:
            raise TimestampRequestError(f"TSA {self.url}: {problem}")

    async def async_timestamp(self, message_digest, md_algorithm):
        try:
            token = await super().async_timestamp(message_digest, md_algorithm)
        except TimestampRequestError:
            raise
        except Exception as exc:  # noqa: BLE001 - asn1crypto on a malformed TimeStampResp
            # asn1crypto parses lazily: a body that loads may still fail where pyHanko reads
            # its status or token (ValueError, TypeError, KeyError...). A TSA answering
            # nonsense is "no timestamp", as an unreachable one, never an internal error.
            raise TimestampRequestError(f"TSA {self.url} answered with a malformed timestamp response "
                                        f"({type(exc).__name__})") from exc
        if self._anchors is not None:
            await self._check(token, message_digest, md_algorithm)
        try:
            leaves = tuple(extract_ts_certs(token, self.cert_registry))
        except Exception as exc:  # noqa: BLE001 - a certificate set asn1crypto cannot read
            raise TimestampRequestError(f"TSA {self.url} answered with a token whose certificates cannot be "
                                        f"read ({type(exc).__name__})") from exc
        with self._lock:
            if leaves:
                self._leaves = leaves
            self._tokens[md_algorithm] = token
        return token

    async def async_dummy_response(self, md_algorithm):
        """The latest token made with ``md_algorithm`` (any token of this TSA has its
        certificates and, within a few bytes, its size); asked for only when there is none."""
        token = self._tokens.get(md_algorithm)
        if token is not None:
            return token
        return await self.async_timestamp(dummy_digest(md_algorithm), md_algorithm)

    async def _validated(self, cert: x509.Certificate, validation_context):
        validator = CertificateValidator(cert, intermediate_certs=self.cert_registry,
                                         validation_context=validation_context)
        return await validator.async_validate_usage(set(), {"time_stamping"})

    async def validation_paths(self, validation_context):
        """Validation paths of the TSA's certificates (pyHanko embeds their revocation data
        at B-LT), from the latest token; a token is asked for only as described above."""
        leaves = self._leaves
        if leaves:
            try:
                paths = [await self._validated(cert, validation_context) for cert in leaves]
            except (ValidationError, PathError):
                paths = None  # a renewed TSA certificate? ask the TSA which one it uses now
            if paths is not None:
                for path in paths:
                    yield path
                return
        from pyhanko.sign import DEFAULT_MD

        await self.async_timestamp(dummy_digest(DEFAULT_MD), DEFAULT_MD)
        for cert in self._leaves:
            try:
                path = await self._validated(cert, validation_context)
            except (ValidationError, PathError) as exc:  # PathBuildingError escaped sign_pdf
                raise TimestampRequestError(f"TSA {self.url}: its certificate does not validate "
                                            f"({type(exc).__name__})") from exc
            yield path


async def tsa_certificates(timestamper: TimeStamper, md_algorithm: str = "sha256") -> list[x509.Certificate]:
    """The certificates of the TSA behind ``timestamper`` (any pyHanko TimeStamper), the
    token's signer first, then the others it carries; B-LT and B-LTA fetch their revocation
    data with the signers' chains', so that the DSS speaks for the timestamps' TSA too (ETSI
    EN 319 142-1). Taken from ``async_dummy_response``: pyHanko's timestampers ask the TSA
    for that token once per object and reuse it to size the placeholder; a :class:`TsaClient`
    answers with its latest token and asks only when it has none, so a warm signature costs
    no request for it. ``TimestampRequestError`` when no token comes, or its certificates
    cannot be read or are more than ``limits`` allow."""
    from pyhanko.sign.general import extract_certificate_info

    from .limits import cert_set_problem

    try:
        token = await timestamper.async_dummy_response(md_algorithm)
        signed_data = token["content"]
        problem = cert_set_problem(signed_data, "the TSA's token")
        if problem is None:
            info = extract_certificate_info(signed_data)
            return [info.signer_cert, *info.other_certs]
    except TimestampRequestError:
        raise
    except Exception as exc:  # noqa: BLE001 - a TSA answering nonsense (asn1crypto parses lazily)
        raise TimestampRequestError(f"the TSA's answer cannot be used ({type(exc).__name__})") from exc
    raise TimestampRequestError(problem)
