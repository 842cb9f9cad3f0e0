"""PAdES signing of a PDF held in memory (levels B-B, B-T, B-LT).

Each signature is an incremental update, so earlier signatures and the PDF/A
identification (XMP ``pdfaid``, output intents) of the original stay as they were.

Why ``bytes_reserved``: without it pyHanko signs twice, once with a dummy to measure
the CMS size. We size the placeholder from the certificates that go into the CMS plus
a fixed margin for the signature value and, at B-T and above, the timestamp token.
"""

from __future__ import annotations

import io
import threading
from typing import Iterable

from asn1crypto import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator import ValidationContext

from . import netfetch
from ._aio import run_sync as _run
from .errors import NotAPdfError, SigningError
from .model import Level
from .ncacert import signer_fields

__all__ = ["sign_pdf", "timestamper_for", "blt_validation_context"]

# pyHanko's bytes_reserved counts hex digits, two per DER byte of the CMS. The CMS is
# the certificates plus ~600 bytes (RSA-2048 value, signed attributes, framing); we
# allow 1.5 KiB (RSA-4096, longer attributes). Padding is not free: verifiers parse
# the whole hex string, so a tight size also makes verification faster.
_BASE_MARGIN = 1536
# A timestamp token: TSTInfo, TSA signature and the TSA certificate chain.
_TIMESTAMP_MARGIN = 8192

_TIMESTAMPERS: dict[tuple[str, tuple[tuple[str, str], ...]], netfetch.UrllibTimeStamper] = {}
_TS_LOCK = threading.Lock()


def timestamper_for(url: str, headers: dict[str, str] | None = None) -> TimeStamper:
    """One reusable TSA client per (URL, headers): pyHanko caches a dummy token in it."""
    key = (url, tuple(sorted((headers or {}).items())))
    with _TS_LOCK:
        ts = _TIMESTAMPERS.get(key)
        if ts is None:
            ts = _TIMESTAMPERS[key] = netfetch.UrllibTimeStamper(url, headers=headers)
        return ts


def _signer_certs(signer: Signer) -> list[x509.Certificate]:
    certs = [signer.signing_cert] if signer.signing_cert is not None else []
    registry = signer.cert_registry
    if registry is not None:
        certs.extend(c for c in registry if c not in certs)
    return certs


def blt_validation_context(
    signer: Signer,
    *,
    trust_roots: Iterable[x509.Certificate] | None = None,
    extra_certs: Iterable[x509.Certificate] = (),
    timeout: float = netfetch.DEFAULT_TIMEOUT,
) -> ValidationContext:
    """Context that pyHanko uses at B-LT to choose the revocation data it embeds.

    We download the CRLs and the signer's OCSP response ourselves (see ``netfetch``)
    and hand them over; pyHanko embeds what it used into the DSS. The trust roots
    default to the self-signed certificates in the signer's chain.
    """
    chain = _signer_certs(signer) + list(extra_certs)
    roots = list(trust_roots) if trust_roots is not None else [
        c for c in chain if c.self_signed in ("maybe", "yes")
    ]
    if not roots:
        raise SigningError("B-LT needs trust roots: the signer's chain has no self-signed root")
    crls = netfetch.fetch_crls(chain, timeout)
    ocsps = []
    leaf = signer.signing_cert
    issuer = next((c for c in chain if c.subject == leaf.issuer and c is not leaf), None)
    if issuer is not None:
        resp = netfetch.fetch_ocsp(leaf, issuer, timeout)
        if resp is not None:
            ocsps.append(resp)
    if not crls and not ocsps:
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


def _keep_metadata(writer: IncrementalPdfFileWriter) -> None:
    """Leave the Info dictionary and XMP packet exactly as they are.

    pyHanko otherwise parses and re-serialises the XMP packet on every signature
    (new ModifyDate, Producer "pyHanko", its own serialisation of the renderer's
    packet). The PDF/A-2b identification survives that, but a signature does not need
    new metadata, the packet written by the renderer then stays byte-identical (Info
    and XMP stay consistent, as PDF/A requires) and the XML round trip is saved.
    pyHanko 0.38 has no public switch for this, hence the instance-level override.
    """
    writer._update_meta = lambda: None  # type: ignore[method-assign]


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
) -> bytes:
    """Sign ``pdf`` and return the signed file (the input plus incremental updates).

    ``level``: B-B (no timestamp), B-T (RFC 3161 timestamp from ``tsa_url`` or
    ``timestamper``), B-LT (B-T plus CRL/OCSP in the document security store; revocation
    data is fetched now, with ``validation_context`` or ``trust_roots`` to override).
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
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError) as exc:
        raise NotAPdfError(f"cannot parse the PDF: {exc}") from exc
    _keep_metadata(writer)
    if level is Level.B_LT and validation_context is None:
        validation_context = blt_validation_context(signer, trust_roots=trust_roots)
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
    try:
        return _sign_once(pdf_signer, writer, _reserve(signer, level))
    except PyHankoSigningError as exc:
        if "larger than expected" not in str(exc):
            raise SigningError(f"signing failed: {exc}") from exc
    # Our size estimate was short (an unusual TSA token?): let pyHanko measure it.
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    _keep_metadata(writer)
    try:
        return _sign_once(pdf_signer, writer, None)
    except (PyHankoSigningError, PdfError) as exc:
        raise SigningError(f"signing failed: {exc}") from exc


def _sign_once(pdf_signer: PdfSigner, writer: IncrementalPdfFileWriter, reserved: int | None) -> bytes:
    out = io.BytesIO()
    try:
        _run(pdf_signer.async_sign_pdf(writer, bytes_reserved=reserved, output=out))
    except PdfError as exc:
        raise SigningError(f"signing failed: {exc}") from exc
    return out.getvalue()

