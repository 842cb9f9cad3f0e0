"""Key-purpose policy: what a certificate's own extensions allow it to sign.

pyHanko checks key usage only for a certificate below a trust anchor; a signer (or
TSA) certificate that *is* an anchor is trusted unconditionally, and the extended key
usage of a signer is never checked. The NCA setup trusts the issuing CA directly, so a
signature made with that CA's own key would pass. These checks therefore run on the
certificate itself, whatever the path:

Document signer (``signer_problem``):

* not a CA: basicConstraints cA=TRUE, or keyCertSign / cRLSign in keyUsage, is a CA key;
* keyUsage present and asserting nonRepudiation (contentCommitment). NCA signing
  certificates carry digitalSignature + nonRepudiation; their authentication
  certificates carry digitalSignature + keyEncipherment and are refused here;
* extendedKeyUsage, when present, must name a document-signing purpose
  (``DOCUMENT_SIGNING_PURPOSES``: emailProtection, which NCA signing certificates carry,
  anyExtendedKeyUsage, id-kp-documentSigning, Adobe's and Microsoft's document
  signing). An EKU of serverAuth, clientAuth, timeStamping, OCSPSigning or only NCA
  role OIDs (1.2.398.3.3.4.*: who the holder is, not what the key is for) is refused.
  No EKU extension means no restriction (RFC 5280 §4.2.1.12).

Time-stamping authority (``tsa_problem``): not a CA; extendedKeyUsage present with
id-kp-timeStamping (RFC 3161 §2.3); keyUsage, when present, with digitalSignature or
nonRepudiation.

A violation is reported INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE (ETSI EN 319 102-1
§5.2.6: the X.509 validation constraints on the certificate are not met) — the same
sub-indication pyHanko gives for a key-usage failure below an anchor.
"""

from __future__ import annotations

from asn1crypto import x509

__all__ = [
    "DOCUMENT_SIGNING_PURPOSES",
    "TIME_STAMPING",
    "signer_problem",
    "tsa_problem",
]

DOCUMENT_SIGNING_PURPOSES: dict[str, str] = {
    "1.3.6.1.5.5.7.3.4": "emailProtection",  # NCA signing certificates
    "2.5.29.37.0": "anyExtendedKeyUsage",
    "1.3.6.1.5.5.7.3.36": "documentSigning",  # RFC 9336
    "1.2.840.113583.1.1.5": "Adobe Authentic Documents Trust",
    "1.3.6.1.4.1.311.10.3.12": "Microsoft document signing",
}
TIME_STAMPING = "1.3.6.1.5.5.7.3.8"

_CA_KEY_USAGES = {"key_cert_sign", "crl_sign"}


def _is_ca(cert: x509.Certificate) -> bool:
    bc = cert.basic_constraints_value
    return bool(bc is not None and bc["ca"].native)


def _key_usages(cert: x509.Certificate) -> set[str] | None:
    value = cert.key_usage_value
    return None if value is None else set(value.native)


def _ekus(cert: x509.Certificate) -> list[str] | None:
    value = cert.extended_key_usage_value
    return None if value is None else [purpose.dotted for purpose in value]


def _read(cert: x509.Certificate):
    """(is CA, key usages, EKU OIDs); extensions that do not parse raise ValueError."""
    try:
        return _is_ca(cert), _key_usages(cert), _ekus(cert)
    except Exception as exc:  # noqa: BLE001 - asn1crypto raises many types on a broken extension
        raise ValueError("the certificate's key usage extensions cannot be read") from exc


def signer_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert`` may not sign documents under this policy, or None when it may."""
    try:
        is_ca, usages, ekus = _read(cert)
    except ValueError as exc:
        return str(exc)
    if is_ca or (usages and usages & _CA_KEY_USAGES):
        return "the signer certificate is a CA certificate (keyCertSign/cRLSign or cA=TRUE): a CA key does not sign documents"
    if usages is None:
        return "the signer certificate has no keyUsage extension; nonRepudiation is required for document signing"
    if "non_repudiation" not in usages:
        return "the signer certificate's keyUsage lacks nonRepudiation: it is not a signing key (an authentication key?)"
    if ekus is not None and not any(oid in DOCUMENT_SIGNING_PURPOSES for oid in ekus):
        return (
            "the signer certificate's extendedKeyUsage (" + ", ".join(ekus) + ") allows no document signing purpose"
        )
    return None


def tsa_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert`` may not issue time-stamp tokens (RFC 3161 §2.3), or None."""
    try:
        is_ca, usages, ekus = _read(cert)
    except ValueError as exc:
        return str(exc)
    if is_ca:
        return "the TSA certificate is a CA certificate"
    if ekus is None or TIME_STAMPING not in ekus:
        return "the TSA certificate's extendedKeyUsage does not include timeStamping"
    if usages is not None and not usages & {"digital_signature", "non_repudiation"}:
        return "the TSA certificate's keyUsage allows no signatures"
    return None
