"""Loading certificates and CRLs given as paths, PEM/DER bytes or parsed objects.

Verification inputs arrive from the CLI (paths), the HTTP API (bytes) and tests
(asn1crypto objects); one tolerant loader keeps that out of the verifier.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Union

from asn1crypto import crl as asn1_crl
from asn1crypto import pem, x509

__all__ = ["CertSource", "CrlSource", "load_certs", "load_crls"]

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
