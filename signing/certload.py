"""Loading certificates and CRLs given as paths, PEM/DER bytes or parsed objects.

Verification inputs arrive from the CLI (paths), the HTTP API (bytes) and tests
(asn1crypto objects); one tolerant loader keeps that out of the verifier.

Revocation data from the network or a document's DSS is untrusted input: asn1crypto
parses lazily, so a broken extension deep inside (the NCA's own OCSP responder
certificate has an empty OCSP-no-check extension) would raise in the middle of
pyHanko's validation. ``parse_crl_der``, ``parse_ocsp_der`` and ``cert_parses`` check
such data up front so the verifier can drop it with a note instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Union

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp, pem, x509

__all__ = [
    "CertSource",
    "CrlSource",
    "load_certs",
    "load_crls",
    "cert_parses",
    "parse_crl_der",
    "parse_ocsp_der",
]

CertSource = Union[x509.Certificate, bytes, str, os.PathLike]
CrlSource = Union[asn1_crl.CertificateList, bytes, str, os.PathLike]


def _blobs(data: bytes, pem_type: str) -> list[bytes]:
    if pem.detect(data):
        return [der for kind, _, der in pem.unarmor(data, multiple=True) if kind == pem_type]
    return [data]


def _read(source: bytes | str | os.PathLike) -> bytes:
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def load_certs(sources: Iterable[CertSource]) -> list[x509.Certificate]:
    """Every certificate in the sources (a PEM file may hold several)."""
    out: list[x509.Certificate] = []
    for src in sources:
        if isinstance(src, x509.Certificate):
            out.append(src)
            continue
        for der in _blobs(_read(src), "CERTIFICATE"):
            cert = x509.Certificate.load(der)
            cert.native  # noqa: B018 - parse now so a broken file fails here, not mid-validation
            out.append(cert)
    return out


def load_crls(sources: Iterable[CrlSource]) -> list[asn1_crl.CertificateList]:
    out: list[asn1_crl.CertificateList] = []
    for src in sources:
        if isinstance(src, asn1_crl.CertificateList):
            out.append(src)
            continue
        for der in _blobs(_read(src), "X509 CRL"):
            out.append(asn1_crl.CertificateList.load(der))
    return out


def cert_parses(cert: x509.Certificate) -> bool:
    """True when every part of ``cert`` (extensions included) can be parsed."""
    try:
        cert.native  # noqa: B018 - forces the lazy parse of every field
    except Exception:  # noqa: BLE001 - asn1crypto raises ValueError, TypeError, KeyError ...
        return False
    return True


def parse_crl_der(data: bytes) -> asn1_crl.CertificateList:
    """A DER CRL checked structurally (``cryptography``'s strict parser, then asn1crypto
    for the parts pyHanko reads first); raises ValueError otherwise.

    Entries are not all decoded here: NCA CRLs have many thousands of them.
    """
    from cryptography import x509 as cx509

    try:
        cx509.load_der_x509_crl(data)
        crl = asn1_crl.CertificateList.load(data, strict=True)
        tbs = crl["tbs_cert_list"]
        tbs["issuer"].native  # noqa: B018
        tbs["this_update"].native  # noqa: B018
        tbs["crl_extensions"].native  # noqa: B018
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"not a CRL: {type(exc).__name__}") from None
    return crl


def parse_ocsp_der(data: bytes) -> ocsp.OCSPResponse:
    """A successful DER OCSP response whose every part parses; raises ValueError otherwise."""
    try:
        response = ocsp.OCSPResponse.load(data, strict=True)
        response.native  # noqa: B018 - includes the responder certificates
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"not a usable OCSP response: {type(exc).__name__}") from None
    if response["response_status"].native != "successful":
        raise ValueError(f"OCSP responder answered {response['response_status'].native}")
    return response
