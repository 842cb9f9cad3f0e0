"""How many certificates, CRLs and OCSP responses a stranger's file may bring.

A chain builder (pyhanko-certvalidator's, any other) looks issuers up by name: given many
CA certificates that share one subject, each issued by another one's key, it tries every
ordering of them before it answers "no chain" — 7 such certificates took 1.2 s of a core,
8 took 12 s, 10 more than two minutes. Honest files carry few: a signer's CMS its
certificate, its CAs and a spare; a timestamp token the TSA's certificate and its CAs; a
DSS the union of those chains plus revocation data. So every certificate set is checked
here *before* any chain is built, and a set over the limits is a format failure:

* a CMS (a signature, a signature timestamp token, a document timestamp): at most
  :data:`MAX_CMS_CERTS` certificates, at most :data:`MAX_CERTS_PER_SUBJECT` with one
  subject (a renewed or cross-certified CA) — :func:`cert_set_problem`, :func:`cms_problem`;
* a DSS: at most :data:`MAX_DSS_CERTS` certificates, :data:`MAX_DSS_CRLS` CRLs and
  :data:`MAX_DSS_OCSPS` OCSP responses — :func:`dss_counts_problem`;
* everything a file brings together (the CMSes, their tokens, the DSS and the certificates
  of its OCSP responses; one validation context may see them all): at most :data:`MAX_FILE_CERTS` distinct certificates and at
  most :data:`MAX_ISSUERS_PER_SUBJECT` distinct certificates with one subject among those
  that may issue another (whose subject is another certificate's issuer name) — a TSA
  renewed over the years of an archive's renewals repeats its subject harmlessly, a
  loop of CAs does not — and at most :data:`MAX_CHAIN_CHOICES` for the product of
  (certificates with one such subject)! over the subjects: names in a row with a few
  certificates each multiply the candidate chains (nine names with four each: 4**9, 8 s)
  — :func:`cert_pool_problem`.

Standard library and asn1crypto only: the two-step signing (``deferred``), the verifier
(``verify``, ``timestamps``) and the archiver (``ltv``) share these numbers.
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator

from asn1crypto import cms, core, x509

__all__ = [
    "MAX_CMS_CERTS",
    "MAX_CERTS_PER_SUBJECT",
    "MAX_DSS_CERTS",
    "MAX_DSS_CRLS",
    "MAX_DSS_OCSPS",
    "MAX_FILE_CERTS",
    "MAX_ISSUERS_PER_SUBJECT",
    "MAX_CHAIN_CHOICES",
    "cert_set_problem",
    "cms_problem",
    "cms_certs",
    "ocsp_certs",
    "token_signed_data",
    "dss_counts_problem",
    "cert_pool_problem",
]

#: Certificates a CMS (and each timestamp token) may carry: the signer's, its CAs and a
#: spare, at most two with one subject (a renewed or cross-certified CA).
MAX_CMS_CERTS = 10
MAX_CERTS_PER_SUBJECT = 2
#: A DSS: the chains of every signature, TSA and OCSP responder, over years of renewals.
MAX_DSS_CERTS = 200
MAX_DSS_CRLS = 100
MAX_DSS_OCSPS = 400
#: Everything one file brings (distinct certificates); issuers with one subject.
MAX_FILE_CERTS = 250
MAX_ISSUERS_PER_SUBJECT = 4
#: The product, over those subjects, of (certificates with the subject)!: a bound on the
#: orderings a chain builder may try (a few names with a renewed CA each: 2, 4, 8).
MAX_CHAIN_CHOICES = 128


def cms_certs(signed_data: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates a SignedData carries (other choices left out)."""
    choices = signed_data["certificates"]
    if not choices:
        return []
    return [c.chosen for c in choices if isinstance(c.chosen, x509.Certificate)]


def ocsp_certs(response) -> list[x509.Certificate]:
    """The certificates an OCSP response carries (its responder's chain); [] if none or unreadable."""
    try:
        certs = response["response_bytes"]["response"].parsed["certs"]
        return [c for c in certs or () if isinstance(c, x509.Certificate)]
    except Exception:  # noqa: BLE001 - asn1crypto raises many types on hostile DER
        return []


def cert_set_problem(signed_data: cms.SignedData, what: str) -> str | None:
    """Why ``signed_data``'s certificate set is refused (more than `MAX_CMS_CERTS`, or more
    than `MAX_CERTS_PER_SUBJECT` with one subject), ``what`` naming it in the message; None if
    it is not. Check it before building a chain from a stranger's certificates."""
    certs = [c.chosen for c in signed_data["certificates"]] if signed_data["certificates"] else []
    if len(certs) > MAX_CMS_CERTS:
        return f"{what} carries {len(certs)} certificates; at most {MAX_CMS_CERTS} are taken"
    subjects: dict[bytes, int] = {}
    for cert in certs:
        if isinstance(cert, x509.Certificate):
            key = cert.subject.dump()
            subjects[key] = subjects.get(key, 0) + 1
            if subjects[key] > MAX_CERTS_PER_SUBJECT:
                return (f"{what} carries {subjects[key]} certificates with the subject "
                        f"{cert.subject.human_friendly!r}; at most {MAX_CERTS_PER_SUBJECT} are taken")
    return None


def token_signed_data(signer_info: cms.SignerInfo) -> Iterator[cms.SignedData]:
    """The SignedData of every signature timestamp token among ``signer_info``'s unsigned
    attributes. Values that are not one, and whatever follows a part that cannot be parsed,
    are skipped: the timestamp checks report them as malformed and build no chain from them."""
    try:
        unsigned = signer_info["unsigned_attrs"]
        if unsigned is core.VOID or isinstance(unsigned, core.Void):
            return
        tokens = [token["content"] for attr in unsigned if attr["type"].native == "signature_time_stamp_token"
                  for token in attr["values"]
                  if isinstance(token, cms.ContentInfo) and token["content_type"].native == "signed_data"]
    except Exception:  # noqa: BLE001 - asn1crypto raises many types on hostile DER
        return
    yield from tokens


def cms_problem(signed_data: cms.SignedData, signer_info: cms.SignerInfo | None, what: str = "the CMS",
                token_what: str = "its timestamp token") -> str | None:
    """`cert_set_problem` of a CMS (``what``) and of every timestamp token (``token_what``)
    among ``signer_info``'s unsigned attributes; None when all are within the limits."""
    problem = cert_set_problem(signed_data, what)
    if problem is None and signer_info is not None:
        for token in token_signed_data(signer_info):
            problem = cert_set_problem(token, token_what)
            if problem is not None:
                break
    return problem


def dss_counts_problem(certs: int, crls: int, ocsps: int) -> str | None:
    """Why a DSS with these many entries is refused; None if it is not. Count before parsing."""
    for count, limit, what in ((certs, MAX_DSS_CERTS, "certificates"), (crls, MAX_DSS_CRLS, "CRLs"),
                               (ocsps, MAX_DSS_OCSPS, "OCSP responses")):
        if count > limit:
            return f"the document security store holds {count} {what}; at most {limit} are taken"
    return None


def cert_pool_problem(certs: Iterable[x509.Certificate], what: str = "the file") -> str | None:
    """Why the certificates one file brings together are refused: more than `MAX_FILE_CERTS`
    distinct ones, or more than `MAX_ISSUERS_PER_SUBJECT` distinct ones with one subject that
    is another certificate's issuer name. None if they are within the limits."""
    distinct: dict[bytes, x509.Certificate] = {}
    for cert in certs:
        distinct.setdefault(cert.sha256, cert)
    if len(distinct) > MAX_FILE_CERTS:
        return f"{what} carries {len(distinct)} distinct certificates; at most {MAX_FILE_CERTS} are taken"
    issuer_names = {cert.issuer.dump() for cert in distinct.values()}
    subjects: dict[bytes, int] = {}
    for cert in distinct.values():
        key = cert.subject.dump()
        if key in issuer_names:
            subjects[key] = subjects.get(key, 0) + 1
            if subjects[key] > MAX_ISSUERS_PER_SUBJECT:
                return (f"{what} carries {subjects[key]} issuing certificates with the subject "
                        f"{cert.subject.human_friendly!r}; at most {MAX_ISSUERS_PER_SUBJECT} are taken")
    choices = 1
    for count in subjects.values():
        choices *= math.factorial(count)
        if choices > MAX_CHAIN_CHOICES:
            return (f"{what} carries issuing certificates that share names in {choices:,} or more "
                    f"candidate chains; at most {MAX_CHAIN_CHOICES} are taken")
    return None
