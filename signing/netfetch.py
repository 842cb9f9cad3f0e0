"""Small synchronous HTTP clients: RFC 3161 TSA, CRL download, OCSP query.

Why not pyHanko's own clients: its TSA client and fetchers are aiohttp-based and bind
a session to one event loop, while pyHanko's synchronous API runs a new loop per
signature; the ``requests`` variants need a package we do not otherwise use. Plain
``urllib`` with a short timeout is enough for loopback and for the NCA services.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from typing import Iterable

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp, tsp, x509
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

__all__ = ["UrllibTimeStamper", "fetch_crls", "fetch_ocsp", "http_get"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0


def _request(url: str, data: bytes | None, headers: dict[str, str], timeout: float) -> tuple[bytes, str]:
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"only http(s) URLs are fetched, not {url!r}")
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
        return resp.read(), resp.headers.get("Content-Type", "")


def http_get(url: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    return _request(url, None, {}, timeout)[0]


class UrllibTimeStamper(TimeStamper):
    """RFC 3161 client over ``urllib``; one instance per TSA URL is reused so pyHanko's
    dummy-token cache (used to size signature placeholders) survives across signatures.

    ``headers`` are sent with every request (e.g. certomancer's fake-time header in
    tests, or an authorisation header for a commercial TSA).
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None):
        super().__init__()
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        headers = {"Content-Type": "application/timestamp-query", **self.headers}
        try:
            body, ctype = _request(self.url, req.dump(), headers, self.timeout)
        except (OSError, urllib.error.URLError) as exc:
            raise TimestampRequestError(f"TSA {self.url} unreachable: {exc}") from exc
        if "timestamp-reply" not in ctype:
            raise TimestampRequestError(f"TSA {self.url} answered with {ctype or 'no content type'}")
        return tsp.TimeStampResp.load(body)


def _crl_urls(cert: x509.Certificate) -> list[str]:
    urls: list[str] = []
    for dp in cert.crl_distribution_points or ():
        for name in dp["distribution_point"].chosen if dp["distribution_point"].name == "full_name" else ():
            if name.name == "uniform_resource_identifier":
                urls.append(name.native)
    return [u for u in urls if u.lower().startswith("http")]


def fetch_crls(certs: Iterable[x509.Certificate], timeout: float = DEFAULT_TIMEOUT) -> list[asn1_crl.CertificateList]:
    """Download the CRLs named in the certificates' distribution points.

    Failures are logged and skipped: whether missing revocation data is fatal is the
    verifier's decision (revocation mode), not the downloader's.
    """
    seen: set[str] = set()
    out: list[asn1_crl.CertificateList] = []
    for cert in certs:
        for url in _crl_urls(cert):
            if url in seen:
                continue
            seen.add(url)
            try:
                out.append(asn1_crl.CertificateList.load(http_get(url, timeout)))
            except (OSError, ValueError, urllib.error.URLError) as exc:
                log.info("CRL %s not fetched: %s", url, exc)
    return out


def fetch_ocsp(cert: x509.Certificate, issuer: x509.Certificate, timeout: float = DEFAULT_TIMEOUT) -> ocsp.OCSPResponse | None:
    """Ask the OCSP responder named in ``cert``'s AIA about ``cert``; None if none answers."""
    from pyhanko_certvalidator.authority import AuthorityWithCert
    from pyhanko_certvalidator.fetchers.common_utils import format_ocsp_request

    urls = [u for u in cert.ocsp_urls if u.lower().startswith("http")]
    if not urls:
        return None
    request = format_ocsp_request(
        cert, AuthorityWithCert(issuer), certid_hash_algo="sha1", request_nonces=True
    )
    for url in urls:
        try:
            body, _ = _request(url, request.dump(), {"Content-Type": "application/ocsp-request"}, timeout)
            response = ocsp.OCSPResponse.load(body)
            if response["response_status"].native == "successful":
                return response
        except (OSError, ValueError, urllib.error.URLError) as exc:
            log.info("OCSP %s not reachable: %s", url, exc)
    return None
