"""Two-step (deferred) PAdES signing: the key signs elsewhere (NCALayer, a token).

Step 1, :func:`prepare`: the signature field, the signature dictionary and a zero-filled
``/Contents`` placeholder are written as an incremental update; the SHA-256 digest of
the ``/ByteRange`` (everything but the placeholder) is what the signer signs. The
returned :class:`Prepared` is plain data (bytes and ints, :meth:`Prepared.to_json`), so
a server can store it between two HTTP calls; no Python object lives on between steps.

Step 2, elsewhere: a detached CAdES over that digest, as NCALayer's
``kz.gov.pki.knca.basics`` module returns it for a pre-computed hash (possibly with a
signature timestamp as an unsigned attribute). :func:`make_detached_cms` builds the
same thing with a local key (``qujat sign-digest``, tests).

Step 3, :func:`embed`: the CMS is checked and written into the placeholder. It is
refused (a :class:`DeferredSigningError` subclass, nothing written, the prepared bytes
untouched) unless it is one SignedData, detached, content type id-data, SHA-256, carrying at
most ``limits.MAX_CMS_CERTS`` certificates (two at most with one subject; timestamp tokens too), whose
signed message-digest is the prepared digest, whose signature over the signed attributes
verifies with the certificate inside it, whose certificate passes the key-purpose policy
(``keypurpose.signer_problem``: nonRepudiation, not a CA, a document-signing EKU) and,
when ``trust`` is given, chains to a trust anchor at ``at``, and which fits the
reservation.

Both steps use pyHanko's interrupted-signing API (``PdfTBSDocument.digest_tbs_document``
and ``PdfTBSDocument.resume_signing``); the XMP packet and the Info dictionary are left
byte-identical (``_compat.keep_metadata``), as in :mod:`signing.sign`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from asn1crypto import cms, core, x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import ExternalSigner, PdfCMSSignedAttributes, Signer
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner, PdfTBSDocument
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from ._aio import run_sync as _run
from .certload import load_certs
from .errors import SigningError
from .keypurpose import signer_problem
from .limits import cms_problem
from .ncacert import signer_fields
from .revocation import carried_revinfo
from .sign import _BASE_MARGIN, _TIMESTAMP_MARGIN, _field_name, _writer

__all__ = [
    "DEFAULT_RESERVE",
    "Prepared",
    "prepare",
    "embed",
    "embed_checked",
    "Embedded",
    "make_detached_cms",
    "DeferredSigningError",
    "BadState",
    "BadCms",
    "DigestMismatch",
    "SignatureInvalid",
    "KeyPurposeRefused",
    "UntrustedSigner",
    "TooLarge",
    "AlreadySigned",
]

# Bytes of DER the CMS may take when no certificate is known in advance: an NCA signing
# certificate (~2 KiB) and its CA (~1.5 KiB), the signature value and attributes, and a
# TSP token with the TSA's certificates (_TIMESTAMP_MARGIN).
DEFAULT_RESERVE = 16384


class DeferredSigningError(SigningError):
    """A deferred signature was refused; nothing was written."""


class BadState(DeferredSigningError):
    """The stored prepared state is not one :func:`prepare` made (altered or mixed up)."""


class BadCms(DeferredSigningError):
    """The CMS cannot be parsed or is not a detached SHA-256 CAdES over id-data."""


class DigestMismatch(DeferredSigningError):
    """The CMS signs another digest than the prepared document's. ``signed_digest``: the
    digest the CMS does sign (a caller may recognise an earlier step's)."""

    def __init__(self, message: str, signed_digest: bytes = b""):
        super().__init__(message)
        self.signed_digest = signed_digest


class SignatureInvalid(DeferredSigningError):
    """The signature over the signed attributes does not verify with the CMS's certificate."""


class KeyPurposeRefused(DeferredSigningError):
    """The signer certificate's key usage does not allow signing documents."""


class UntrustedSigner(DeferredSigningError):
    """The signer certificate does not chain to a trust anchor at the moment given."""


class TooLarge(DeferredSigningError):
    """The CMS does not fit the reserved ``/Contents``."""


class AlreadySigned(DeferredSigningError):
    """The placeholder already holds a signature, or the field is already signed."""


@dataclass(frozen=True)
class Prepared:
    """A PDF prepared for one signature: plain data, storable (:meth:`to_json`).

    ``pdf`` holds the new revision with a zero-filled ``/Contents`` from byte
    ``contents_start`` (its ``<``) to ``contents_end`` (after its ``>``); ``digest`` is
    the SHA-256 of ``pdf`` without that region (the ``/ByteRange``).
    """

    pdf: bytes
    field_name: str
    digest: bytes
    contents_start: int
    contents_end: int

    @property
    def digest_b64(self) -> str:
        return base64.b64encode(self.digest).decode("ascii")

    @property
    def byte_range(self) -> tuple[int, int, int, int]:
        return (0, self.contents_start, self.contents_end, len(self.pdf) - self.contents_end)

    @property
    def reserved(self) -> int:
        """Bytes of DER the CMS may take."""
        return (self.contents_end - self.contents_start - 2) // 2

    def to_json(self) -> str:
        return json.dumps({
            "pdf": base64.b64encode(self.pdf).decode("ascii"),
            "field_name": self.field_name,
            "digest": self.digest_b64,
            "contents": [self.contents_start, self.contents_end],
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> "Prepared":
        try:
            data = json.loads(text)
            start, end = data["contents"]
            prepared = cls(
                pdf=base64.b64decode(data["pdf"], validate=True),
                field_name=str(data["field_name"]),
                digest=base64.b64decode(data["digest"], validate=True),
                contents_start=int(start),
                contents_end=int(end),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise BadState(f"the prepared state cannot be read: {exc}") from exc
        return prepared


def _reserve_for(signer_cert: x509.Certificate | None, extra_certs: Iterable[x509.Certificate]) -> int:
    if signer_cert is None:
        return DEFAULT_RESERVE
    return _BASE_MARGIN + _TIMESTAMP_MARGIN + sum(len(c.dump()) for c in (signer_cert, *extra_certs))


def _asn1_cert(cert) -> x509.Certificate | None:
    if cert is None or isinstance(cert, x509.Certificate):
        return cert
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.Certificate.load(cert.public_bytes(Encoding.DER))  # a cryptography certificate


def prepare(
    pdf: bytes,
    *,
    field_name: str | None = None,
    signer_cert=None,
    extra_certs: Iterable[x509.Certificate] = (),
    reserve: int | None = None,
    certify: bool = False,
    reason: str | None = None,
    location: str | None = None,
    name: str | None = None,
) -> Prepared:
    """Add an empty PAdES signature (subfilter ETSI.CAdES.detached) to ``pdf``.

    ``reserve``: bytes of DER the CMS may take; default :data:`DEFAULT_RESERVE`, or, when
    the signer's certificate (asn1crypto or ``cryptography``) is known, its size and that
    of ``extra_certs`` plus margins for the signature and a timestamp token.
    ``signer_cert`` also gives the name shown by readers (``name`` overrides it).
    ``certify``: certification signature, DocMDP level 2 (forms and signatures allowed).
    The signature is B-B, or B-T when the CMS brings its own timestamp.
    """
    writer = _writer(pdf)
    cert = _asn1_cert(signer_cert)
    signed_fields = {n for n, value, _ in enumerate_sig_fields(writer.prev) if value is not None}
    if field_name in signed_fields:
        raise AlreadySigned(f"the field {field_name!r} is already signed")
    field_name = field_name or _field_name(writer)
    size = reserve if reserve is not None else _reserve_for(cert, extra_certs)
    if not 256 <= size <= 1 << 20:
        raise SigningError(f"reserve {size} bytes: give between 256 and 1048576")
    if name is None and cert is not None:
        name = signer_fields(cert).common_name or None
    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=name,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
    )
    # The signer is never asked to sign: it only lets pyHanko set up the session.
    pdf_signer = PdfSigner(meta, signer=ExternalSigner(signing_cert=cert, cert_registry=None, signature_value=b""))
    try:
        session = pdf_signer.init_signing_session(writer)
        tbs = session.prepare_tbs_document(validation_info=None, bytes_reserved=2 * size)
        digested, output = tbs.digest_tbs_document(output=io.BytesIO())
    except (PyHankoSigningError, PdfError) as exc:
        raise SigningError(f"preparing the signature failed: {exc}") from exc
    return Prepared(
        pdf=output.getvalue(),
        field_name=field_name,
        digest=digested.document_digest,
        contents_start=digested.reserved_region_start,
        contents_end=digested.reserved_region_end,
    )


def _check_state(prepared: Prepared) -> None:
    pdf, start, end = prepared.pdf, prepared.contents_start, prepared.contents_end
    if not (0 < start < end <= len(pdf)) or pdf[start:start + 1] != b"<" or pdf[end - 1:end] != b">":
        raise BadState("the prepared state does not describe a /Contents placeholder")
    if pdf[start + 1:end - 1].strip(b"0"):
        raise AlreadySigned(f"the field {prepared.field_name!r} already holds a signature")
    h = hashlib.sha256()
    h.update(memoryview(pdf)[:start])
    h.update(memoryview(pdf)[end:])
    if h.digest() != prepared.digest:
        raise BadState("the prepared PDF does not match its digest: the stored state was altered")


def _parse_cms(der: bytes) -> tuple[cms.SignedData, cms.SignerInfo, bytes]:
    """The SignedData, its one SignerInfo and the signed message digest, checked for
    shape; asn1crypto parses lazily, so anything broken found while looking is a
    :class:`BadCms` too."""
    try:
        return _parse_cms_unguarded(der)
    except DeferredSigningError:
        raise
    except Exception as exc:  # noqa: BLE001 - asn1crypto raises ValueError, TypeError and more
        raise BadCms(f"the CMS cannot be parsed ({type(exc).__name__}): truncated or not DER") from exc


def _parse_cms_unguarded(der: bytes) -> tuple[cms.SignedData, cms.SignerInfo, bytes]:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise BadCms(f"the CMS is {info['content_type'].native}, not signed data")
    sd = info["content"]
    encap = sd["encap_content_info"]
    if encap["content_type"].native != "data":
        raise BadCms(f"the CMS encapsulates {encap['content_type'].native}, not id-data")
    if encap["content"] is not core.VOID and encap["content"].native is not None:
        raise BadCms("the CMS is not detached: it encapsulates the content")
    if len(sd["signer_infos"]) != 1:
        raise BadCms(f"the CMS has {len(sd['signer_infos'])} signer infos; exactly one is expected")
    si = sd["signer_infos"][0]
    if si["digest_algorithm"]["algorithm"].native != "sha256":
        raise BadCms(f"the CMS digest algorithm is {si['digest_algorithm']['algorithm'].native}; SHA-256 is required")
    if si["signed_attrs"] is core.VOID or not len(si["signed_attrs"]):
        raise BadCms("the CMS has no signed attributes (content type and message digest are required)")
    for attr in ("content_type", "message_digest"):
        try:
            find_unique_cms_attribute(si["signed_attrs"], attr)
        except Exception as exc:  # noqa: BLE001 - missing or repeated
            raise BadCms(f"the CMS needs exactly one {attr.replace('_', '-')} signed attribute") from exc
    if find_unique_cms_attribute(si["signed_attrs"], "content_type").native != "data":
        raise BadCms("the CMS content-type signed attribute is not id-data")
    _check_cert_sets(sd, si)
    return sd, si, bytes(find_unique_cms_attribute(si["signed_attrs"], "message_digest").native)


def _check_cert_sets(sd: cms.SignedData, si: cms.SignerInfo) -> None:
    """`BadCms` when the CMS, or a timestamp token among its unsigned attributes, carries more
    certificates than ``limits.MAX_CMS_CERTS`` or more than ``limits.MAX_CERTS_PER_SUBJECT`` with one subject
    (``limits``: many certificates claiming one name make a chain builder try every ordering)."""
    problem = cms_problem(sd, si)
    if problem is not None:
        raise BadCms(problem)


def _check_trust(cert: x509.Certificate, others: list, trust: Iterable, at: datetime | None) -> None:
    anchors = load_certs(trust)
    context = ValidationContext(
        trust_roots=anchors,
        other_certs=others,
        moment=at or datetime.now(timezone.utc),
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    try:
        _run(CertificateValidator(cert, intermediate_certs=others, validation_context=context).async_validate_path())
    except Exception as exc:  # noqa: BLE001 - PathBuildingError, PathValidationError, expiry, ...
        raise UntrustedSigner(
            f"the signer certificate ({cert.subject.human_friendly}) does not chain to a trust anchor: {exc}"
        ) from exc


@dataclass(frozen=True)
class Embedded:
    """What :func:`embed_checked` made: the signed PDF and the certificate it checked as the
    signer's (asn1crypto); for a revocation check (:mod:`signing.revocation`) also the CMS's
    other certificates and the revocation data it carries (CRLs, OCSP answers: at most
    ``revocation.MAX_CARRIED`` of each)."""

    pdf: bytes
    signer_cert: x509.Certificate
    other_certs: tuple[x509.Certificate, ...] = ()
    carried_crls: tuple = ()
    carried_ocsps: tuple = ()


def embed(prepared: Prepared, cms_der: bytes, *, trust: Iterable | None = None, at: datetime | None = None) -> bytes:
    """Check ``cms_der`` (see the module docstring) and return the signed PDF.

    ``trust``: trust anchors (certificates or files, as for ``verify_pdf``); when given,
    the signer's chain (certificates inside the CMS) must reach one at ``at`` (default
    now), without revocation checks. ``prepared`` is never modified.
    """
    return embed_checked(prepared, cms_der, trust=trust, at=at).pdf


def embed_checked(prepared: Prepared, cms_der: bytes, *, trust: Iterable | None = None,
                  at: datetime | None = None) -> Embedded:
    """:func:`embed`, also answering the signer's certificate that the checks were made on
    (so that a caller checking who signed reads the same certificate, without parsing the CMS
    again)."""
    from pyhanko.sign.validation.generic_cms import extract_certs_for_validation, validate_sig_integrity

    _check_state(prepared)
    if isinstance(cms_der, str):
        raise BadCms("give the CMS as DER bytes (decode base64 first)")
    sd, si, signed_digest = _parse_cms(bytes(cms_der))
    if signed_digest != prepared.digest:
        raise DigestMismatch(
            f"the CMS signs digest {base64.b64encode(signed_digest).decode()}, "
            f"not this document's {prepared.digest_b64}", signed_digest
        )
    try:
        certs = extract_certs_for_validation(sd)
    except Exception as exc:  # noqa: BLE001 - signer certificate missing, or signing-certificate-v2 mismatch
        raise BadCms(f"the CMS does not carry its signer's certificate: {exc}") from exc
    cert = certs.signer_cert
    try:
        intact, valid = validate_sig_integrity(si, cert, expected_content_type="data", actual_digest=prepared.digest)
    except Exception as exc:  # noqa: BLE001 - unsupported algorithm, malformed attributes
        raise SignatureInvalid(f"the CMS signature cannot be checked: {exc}") from exc
    if not (intact and valid):
        raise SignatureInvalid("the signature over the signed attributes does not verify with the CMS's certificate")
    problem = signer_problem(cert)
    if problem is not None:
        raise KeyPurposeRefused(problem)
    if trust is not None:
        _check_trust(cert, list(certs.other_certs), trust, at)
    if 2 * len(cms_der) > prepared.contents_end - prepared.contents_start - 2:
        raise TooLarge(f"the CMS has {len(cms_der)} bytes; {prepared.reserved} were reserved")
    output = io.BytesIO(prepared.pdf)  # a copy: the prepared bytes stay as they are
    PdfTBSDocument.resume_signing(
        output,
        PreparedByteRangeDigest(prepared.digest, prepared.contents_start, prepared.contents_end),
        bytes(cms_der),
    )
    carried_crls, carried_ocsps = carried_revinfo(sd, si)
    return Embedded(pdf=output.getvalue(), signer_cert=cert, other_certs=tuple(certs.other_certs),
                    carried_crls=tuple(carried_crls), carried_ocsps=tuple(carried_ocsps))


def make_detached_cms(
    digest: bytes,
    signer: Signer | tuple,
    *,
    signing_time: datetime | None = None,
) -> bytes:
    """A detached CAdES (DER) over a pre-computed SHA-256 ``digest``, as NCALayer's basics
    module makes one: signed attributes content-type id-data, message-digest, signing-time
    (``signing_time``, default now) and signing-certificate-v2; the certificates embedded.

    ``signer``: a pyHanko signer (``signing.keys``), or a ``(private key, certificate)``
    pair of ``cryptography`` objects (the certificate may be asn1crypto's).
    """
    from .keys import KeptKeySigner

    if not isinstance(digest, bytes) or len(digest) != 32:
        raise SigningError("the digest must be 32 bytes (SHA-256)")
    if isinstance(signer, tuple):
        key, cert = signer
        signer = KeptKeySigner(_asn1_cert(cert), key)
    when = signing_time or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    signed = _run(signer.async_sign(
        digest,
        "sha256",
        use_pades=True,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=when),
    ))
    return signed.dump()
