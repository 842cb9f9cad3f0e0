"""Certificate chains and revocation data, checked with the certificates' own keys.

Small checks the verifier, the signer (B-LT), ``ltv`` and ``revocation`` all ask, outside
pyhanko-certvalidator: which chain of a file's certificates ends at a trust anchor (only
such chains' URLs are fetched), whether a CRL or an OCSP response was signed by a
certificate's issuer, and what a CRL of an issuer says of a certificate (the only reading
of a CRL of a trust anchor that is not self-signed, which pyhanko-certvalidator cannot
place). Nothing here raises on content: what cannot be read checks as False or "unknown".
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509

__all__ = ["anchored_path", "crl_says", "crl_signed_by", "issued_by", "ocsp_covers"]


def crl_signed_by(crl: asn1_crl.CertificateList, cert: x509.Certificate) -> bool:
    from cryptography import x509 as cx509

    if crl.issuer != cert.subject:
        return False
    try:
        pyca_crl = cx509.load_der_x509_crl(crl.dump())
        pyca_cert = cx509.load_der_x509_certificate(cert.dump())
        return pyca_crl.is_signature_valid(pyca_cert.public_key())
    except (ValueError, TypeError):
        return False


_PARTIAL_SCOPE = ("only_contains_user_certs", "only_contains_ca_certs", "only_contains_attribute_certs", "indirect_crl")


def crl_says(crl: asn1_crl.CertificateList, cert: x509.Certificate,
             issuer: x509.Certificate) -> tuple[str, datetime | None]:
    """What a CRL says of ``cert``, issued by ``issuer``: ("revoked", its date) when it lists
    the serial number, ("good", None) when it is a complete CRL (no delta CRL, no partial
    scope: only user, CA or attribute certificates, some reasons, an indirect CRL) that does
    not; ("unknown", None) when ``issuer`` did not sign it (name and key), when its entries
    may be about other certificates (an indirect or attribute-certificate CRL), or when a
    delta or partial CRL does not list it. Freshness is the caller's rule: the verifier takes
    later data as well (``verify._anchor_crl_revocation``), the signer needs data fresh at signing
    (``revocation``)."""
    try:
        scope = crl.issuing_distribution_point_value
        foreign = scope is not None and (scope["indirect_crl"].native or scope["only_contains_attribute_certs"].native)
        if foreign or not crl_signed_by(crl, issuer):
            return "unknown", None
        for entry in crl["tbs_cert_list"]["revoked_certificates"] or ():
            if entry["user_certificate"].native == cert.serial_number:
                return "revoked", entry["revocation_date"].native
        partial = scope is not None and (any(scope[k].native for k in _PARTIAL_SCOPE) or scope["only_some_reasons"].native)
        if crl.delta_crl_indicator_value is not None or partial:
            return "unknown", None
    except Exception:  # noqa: BLE001 - asn1crypto on a CRL it cannot read: it says nothing
        return "unknown", None
    return "good", None


def _to_pyca(cert: x509.Certificate, cache: dict[bytes, object]):
    from cryptography import x509 as cx509

    key = cert.sha256
    if key not in cache:
        try:
            cache[key] = cx509.load_der_x509_certificate(cert.dump())
        except ValueError:
            cache[key] = None
    return cache[key]


def issued_by(cert: x509.Certificate, issuer: x509.Certificate, cache: dict[bytes, object]) -> bool:
    """Names chain and ``issuer``'s key verifies ``cert``'s signature."""
    if cert.issuer != issuer.subject:
        return False
    child, parent = _to_pyca(cert, cache), _to_pyca(issuer, cache)
    if child is None or parent is None:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except Exception:  # noqa: BLE001 - InvalidSignature, ValueError, TypeError (GOST keys) ...
        return False
    return True


def anchored_path(
    leaf: x509.Certificate, pool: list[x509.Certificate], anchors: list[x509.Certificate], max_depth: int = 6
) -> list[tuple[x509.Certificate, x509.Certificate]] | None:
    """(certificate, issuer) pairs from ``leaf`` up to a trust anchor, every signature
    checked; None when the chain does not end at an anchor. Only such chains are
    fetched for: their URLs were written by a CA we trust, not by the uploader."""
    cache: dict[bytes, object] = {}
    pairs: list[tuple[x509.Certificate, x509.Certificate]] = []
    current = leaf
    for _ in range(max_depth):
        anchor = next((a for a in anchors if issued_by(current, a, cache)), None)
        if anchor is not None:
            pairs.append((current, anchor))
            return pairs
        parent = next(
            (c for c in pool if c.sha256 != current.sha256 and issued_by(current, c, cache)), None
        )
        if parent is None:
            return None
        pairs.append((current, parent))
        current = parent
    return None


def _signature_verifies(public_key, signature: bytes, data: bytes, hash_algorithm) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def ocsp_covers(response: asn1_ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """A successful OCSP response about ``cert``, signed by ``issuer`` or by a responder
    certificate that ``issuer`` issued for OCSP signing. (asn1crypto here: the strict
    parser of ``cryptography`` refuses some responders' time encodings.)"""
    from cryptography.hazmat.primitives import hashes

    cache: dict[bytes, object] = {}
    try:
        basic = response["response_bytes"]["response"].parsed
        tbs = basic["tbs_response_data"]
        key_bits = bytes(issuer.public_key["public_key"])
        about_cert = any(
            single["cert_id"]["serial_number"].native == cert.serial_number
            and single["cert_id"]["issuer_key_hash"].native
            == hashlib.new(single["cert_id"]["hash_algorithm"]["algorithm"].native, key_bits).digest()
            for single in tbs["responses"]
        )
        if not about_cert:
            return False
        candidates = [issuer] + [
            extra for extra in basic["certs"] or ()
            if "ocsp_signing" in (extra.extended_key_usage_value.native if extra.extended_key_usage_value else ())
            and issued_by(extra, issuer, cache)
        ]
        responder = tbs["responder_id"]
        algo = basic["signature_algorithm"]
        if algo.signature_algo not in ("rsassa_pkcs1v15", "ecdsa", "ed25519", "ed448"):
            return False
        digest = None if algo.signature_algo.startswith("ed") else getattr(hashes, algo.hash_algo.upper())()
        for candidate in candidates:
            if responder.name == "by_key":
                matches = responder.chosen.native == candidate.public_key.sha1
            else:
                matches = responder.chosen == candidate.subject
            pyca = _to_pyca(candidate, cache)
            if matches and pyca is not None and _signature_verifies(
                pyca.public_key(), basic["signature"].native, tbs.dump(), digest
            ):
                return True
    except Exception:  # noqa: BLE001 - anything unparsable does not cover
        return False
    return False
