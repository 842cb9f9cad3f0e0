"""PAdES signing of a PDF held in memory (levels B-B, B-T, B-LT).

Each signature is an incremental update, so earlier signatures and the PDF/A
identification (XMP ``pdfaid``, output intents) of the original stay as they were; the
metadata is not even rewritten (``_compat.keep_metadata``).

Why a reserved size: by default pyHanko signs twice, once with a dummy to measure the
CMS size. We size the placeholder from the certificates that go into the CMS plus a
fixed margin for the signature value and, at B-T and above, the timestamp token. The
signing steps are pyHanko's public staged API (the "interrupted signing" of its docs),
so the CMS is built before it is written: if it is larger than the placeholder, the
document is prepared again with the size it measured (nothing is parsed out of error
messages).
"""

from __future__ import annotations

import io
import logging
from typing import Iterable

from asn1crypto import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko.sign.signers.pdf_signer import (
    PdfSignatureMetadata,
    PdfSigner,
    PdfTBSDocument,
    PostSignInstructions,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from . import netfetch
from ._aio import run_sync as _run
from ._compat import keep_metadata
from .errors import NotAPdfError, SigningError
from .model import Level
from .ncacert import signer_fields

__all__ = ["sign_pdf", "timestamper_for", "blt_validation_context"]


class _WeFetchOurselves(logging.Filter):
    """pyHanko warns at every B-LT signature that "fetching is not allowed" in its validation
    context: by design — `blt_validation_context` downloads the CRLs and OCSP answers itself
    (under our limits) and hands them over. That one expected message is dropped; every other
    pyHanko warning is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_WeFetchOurselves())

# pyHanko's bytes_reserved counts hex digits, two per DER byte of the CMS. The CMS is
# the certificates plus ~600 bytes (RSA-2048 value, signed attributes, framing); we
# allow 1.5 KiB (RSA-4096, longer attributes). Padding is not free: verifiers parse
# the whole hex string, so a tight size also makes verification faster.
_BASE_MARGIN = 1536
# A timestamp token: TSTInfo, TSA signature and the TSA certificate chain.
_TIMESTAMP_MARGIN = 8192

# When the CMS did not fit (an unusual TSA token?), the second attempt reserves what the
# first one measured plus this many bytes: a new timestamp token may be a little longer.
_REFIT_SLACK = 512  # bytes


def timestamper_for(url: str, headers: dict[str, str] | None = None) -> TimeStamper:
    """An RFC 3161 client for ``url`` for one use: each request on a connection of its own.

    Signing many documents? Keep one :class:`signing.netfetch.TsaClient` instead (the runtime
    does, ``Runtime.timestamper``): it keeps its connection and needs no extra request to
    learn the TSA's certificates."""
    return netfetch.TsaClient(url, headers=headers, keep_alive=False)


def _signer_certs(signer: Signer) -> list[x509.Certificate]:
    certs = [signer.signing_cert] if signer.signing_cert is not None else []
    registry = signer.cert_registry
    if registry is not None:
        certs.extend(c for c in registry if c not in certs)
    return certs


def _anchored(certs: list[x509.Certificate], roots: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of ``certs`` on a chain (signatures checked) from one of them to a
    trust root, anchors excluded. The TSA's certificates come from its tokens: over plain
    HTTP anyone on the way can put certificates there, and the distribution points of one
    that chains to no root are an attacker's URLs (fetched with private addresses allowed)."""
    from .chain import anchored_path

    out: list[x509.Certificate] = []
    for cert in certs:
        for c, _issuer in anchored_path(cert, certs, roots) or ():
            if c not in out:
                out.append(c)
    return out


def blt_validation_context(
    signer: Signer,
    *,
    trust_roots: Iterable[x509.Certificate] | None = None,
    extra_certs: Iterable[x509.Certificate] = (),
    timeout: float = netfetch.DEFAULT_TIMEOUT,
    revocation: netfetch.RevocationCache | None = None,
) -> ValidationContext:
    """Context that pyHanko uses at B-LT to choose the revocation data it embeds.

    We download the CRLs and the signer's OCSP response ourselves (see ``netfetch``)
    and hand them over; pyHanko embeds what it used into the DSS. ``extra_certs`` (the
    TSA's certificates, ``sign_pdf``) get their CRLs fetched too, but only the signer
    chain's own data satisfy the check that there is revocation data for the signer. With ``revocation``
    (the runtime's :class:`~signing.netfetch.RevocationCache`) answers still fresh under
    its rule are reused instead of downloaded again. The trust roots default to the
    self-signed certificates in the signer's chain.
    """
    own = _signer_certs(signer)
    chain = own + [c for c in extra_certs if c not in own]
    roots = list(trust_roots) if trust_roots is not None else [
        c for c in own if c.self_signed in ("maybe", "yes")  # never a root a TSA's token brought
    ]
    if not roots:
        raise SigningError("B-LT needs trust roots: the signer's chain has no self-signed root")

    if revocation is None:  # one signature: a cache used once
        revocation = netfetch.RevocationCache(timeout=timeout)

    def urls(cert: x509.Certificate) -> set[str]:
        return set(netfetch.candidate_urls(netfetch.revocation_sources(cert).crl))

    own_crls = revocation.crls(own)  # the signer chain's: what the check below is about
    own_urls = set().union(*map(urls, own))
    more = [c for c in _anchored(chain[len(own):], roots) if c not in own and not urls(c) <= own_urls]
    crls = own_crls + [c for c in revocation.crls(more) if not any(c is k for k in own_crls)]
    ocsps = []
    leaf = signer.signing_cert
    issuer = next((c for c in chain if c.subject == leaf.issuer and c is not leaf), None)
    if issuer is not None:
        resp = revocation.ocsp(leaf, issuer)
        if resp is not None:
            ocsps.append(resp)
    if not own_crls and not ocsps:  # the TSA's CRLs say nothing about the signer
        raise SigningError("B-LT: no CRL or OCSP response could be fetched for the signer")
    return ValidationContext(
        trust_roots=roots,
        other_certs=chain,
        crls=crls,
        ocsps=ocsps,
        allow_fetching=False,
        retroactive_revinfo=True,
    )


def _field_name(writer: IncrementalPdfFileWriter) -> str:
    taken = {name for name, _, _ in enumerate_sig_fields(writer.prev)}
    n = len(taken) + 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def _reserve(signer: Signer, level: Level) -> int:
    """Placeholder size in hex digits (even, as pyHanko requires)."""
    size = _BASE_MARGIN + sum(len(c.dump()) for c in _signer_certs(signer))
    if level is not Level.B_B:
        size += _TIMESTAMP_MARGIN
    return 2 * size


def sign_pdf(
    pdf: bytes,
    signer: Signer,
    *,
    level: Level | str = Level.B_B,
    reason: str | None = None,
    location: str | None = None,
    name: str | None = None,
    tsa_url: str | None = None,
    tsa_headers: dict[str, str] | None = None,
    timestamper: TimeStamper | None = None,
    certify: bool = False,
    field_name: str | None = None,
    validation_context: ValidationContext | None = None,
    trust_roots: Iterable[x509.Certificate] | None = None,
    revocation: netfetch.RevocationCache | None = None,
) -> bytes:
    """Sign ``pdf`` and return the signed file (the input plus incremental updates).

    ``level``: B-B (no timestamp), B-T (RFC 3161 timestamp from ``tsa_url`` or
    ``timestamper``), B-LT (B-T plus CRL/OCSP in the document security store; revocation
    data is fetched now, with ``validation_context`` or ``trust_roots`` to override, or
    reused from ``revocation`` while fresh). A process signing many documents passes the
    ``timestamper`` and ``revocation`` its runtime keeps (``Runtime.timestamper``,
    ``Runtime.revocation``): then a B-LT signature costs one request to the TSA.
    ``certify`` makes this a certification signature with DocMDP level 2 (form filling
    and further signatures allowed, anything else invalidates it). ``name`` defaults to
    the signer's common name; ``field_name`` to the next free ``SignatureN``.
    """
    level = Level.from_config(level)
    if level is Level.B_LTA:
        raise SigningError("B-LTA is not produced here; sign at B-LT")
    if not pdf.startswith(b"%PDF-"):
        raise NotAPdfError("input does not start with %PDF-: not a PDF file")
    if level is not Level.B_B and timestamper is None:
        if not tsa_url:
            raise SigningError(f"{level.value} needs a TSA URL (--tsa)")
        timestamper = timestamper_for(tsa_url, tsa_headers)
    writer = _writer(pdf)
    if level is Level.B_LT and validation_context is None:
        validation_context = blt_validation_context(signer, trust_roots=trust_roots, revocation=revocation,
                                                    extra_certs=_tsa_certs(timestamper))
    meta = PdfSignatureMetadata(
        field_name=field_name or _field_name(writer),
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=name or signer_fields(signer.signing_cert).common_name or None,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        embed_validation_info=level is Level.B_LT,
        validation_context=validation_context if level is Level.B_LT else None,
    )
    pdf_signer = PdfSigner(meta, signer=signer, timestamper=timestamper if level is not Level.B_B else None)
    reserved = _reserve(signer, level)
    try:
        signed, needed = _run(_sign_fitted(pdf_signer, writer, reserved))
        if signed is None:
            # Our estimate was short: prepare the document again with the measured size.
            reserved = needed + 2 * _REFIT_SLACK
            signed, needed = _run(_sign_fitted(pdf_signer, _writer(pdf), reserved))
    except (PyHankoSigningError, PdfError) as exc:
        raise SigningError(f"signing failed: {exc}") from exc
    except TimestampRequestError as exc:  # the TSA is down or answered nonsense
        raise SigningError(f"signing failed: no timestamp: {exc}") from exc
    if signed is None:
        raise SigningError(f"signing failed: the CMS needs {needed} hex digits, {reserved} were reserved on retry")
    return signed


def _tsa_certs(timestamper: TimeStamper | None) -> list[x509.Certificate]:
    """The TSA's certificates (``netfetch.tsa_certificates``), whose CRLs a B-LT
    signature's DSS needs as well as the signer chain's (its signature timestamp is
    validated with them)."""
    if timestamper is None:
        return []
    try:
        return _run(netfetch.tsa_certificates(timestamper))
    except TimestampRequestError as exc:
        raise SigningError(f"signing failed: no timestamp: {exc}") from exc


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError) as exc:
        raise NotAPdfError(f"cannot parse the PDF: {exc}") from exc
    if writer.prev.encrypted:
        raise SigningError("encrypted PDFs are not signed here")
    return keep_metadata(writer)


async def _sign_fitted(
    pdf_signer: PdfSigner, writer: IncrementalPdfFileWriter, reserved: int
) -> tuple[bytes | None, int]:
    """Sign into a placeholder of ``reserved`` hex digits.

    Returns (signed file, hex digits the CMS took), or (None, hex digits it needs) when
    the CMS would not fit; then nothing was written and ``writer`` is spent. The steps
    are those of ``PdfSigner.async_sign_pdf``, with a size check before the CMS is
    written into the placeholder and the B-LT DSS revision written by :func:`_add_dss`.
    """
    session = pdf_signer.init_signing_session(writer)
    validation_info = await session.perform_presign_validation(writer)
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
    prepared, output = tbs.digest_tbs_document(output=io.BytesIO())
    cms = await tbs.signer.async_sign(
        prepared.document_digest,
        tbs.md_algorithm,
        use_pades=tbs.use_pades,
        timestamper=tbs.timestamper,
        signed_attr_settings=PdfCMSSignedAttributes(
            signing_time=session.system_time,
            adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    der = cms.dump()
    room = prepared.reserved_region_end - prepared.reserved_region_start - 2  # minus "<" and ">"
    if 2 * len(der) > room:
        return None, 2 * len(der)
    signed = PdfTBSDocument.resume_signing(output, prepared, der)
    if tbs.post_sign_instructions is not None:
        _add_dss(output, tbs.post_sign_instructions, tbs.validation_context, signed.sig_contents)
    return output.getvalue(), 2 * len(der)


def _add_dss(
    output: io.BytesIO, instr: PostSignInstructions, context: ValidationContext | None, sig_contents: bytes
) -> None:
    """B-LT: the revision adding the signature's validation data to the DSS.

    This is pyHanko's post-signature step for a DSS in its own revision (the case without
    a document timestamp), done here because pyHanko writes that revision with a writer
    of its own, which would rewrite the XMP packet; ours keeps the metadata.
    """
    if instr.timestamper is not None:
        raise SigningError("document timestamps (B-LTA) are not produced here")
    info = instr.validation_info
    writer = keep_metadata(IncrementalPdfFileWriter(output, strict=instr.strict, decode_limits=instr.decode_limits))
    dss = DocumentSecurityStore.supply_dss_in_writer(
        writer,
        sig_contents if instr.dss_settings.include_vri else None,
        paths=info.validation_paths,
        validation_context=context,
        ocsps=info.ocsps_to_embed,
        crls=info.crls_to_embed,
        embed_roots=instr.embed_roots,
    )
    if dss.modified or not instr.dss_settings.skip_if_unneeded:
        writer.write_in_place()
