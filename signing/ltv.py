"""Long-term validation: extend a signed PDF to PAdES B-LTA without re-rendering it.

An archive keeps a version verifiable after its signer's certificate has expired by
adding, in one incremental update of the signed file:

* a document security store (DSS) with the certificates, CRLs and OCSP responses of
  every signature's chain, of the TSA chains of their signature timestamps, of the
  earlier document timestamps (renewal) and of the TSA that stamps now;
* a document timestamp (/DocTimeStamp, ETSI.RFC3161) over the whole file, DSS included
  (the archive timestamp).

A signature without T-level evidence (signed at B-B: no signature timestamp, and no
document timestamp after it yet) first gets one more incremental update, before the
one above: a document timestamp and nothing else. ETSI EN 319 142-1 reaches the T
level with a signature-time-stamp attribute *or* a document timestamp covering the
signature; EU DSS classes a document timestamp that covers no DSS as a signature-level
timestamp and one that covers a DSS as an archive timestamp. The DSS of the second
update then holds the validation data of that first timestamp's TSA chain too (it is
the signature's T evidence, validated later at the archive timestamp's time), and its
VRI entry names that timestamp, as pyHanko's own archive flow does
(``PdfTimeStamper.update_archival_timestamp_chain``). A DSS and its timestamp in one
update cannot serve a B-B signature: the DSS would predate its own T evidence, and no
later timestamp would cover it (``verify._level``).

Nothing signed before is touched: the earlier signatures keep their byte ranges, and
the PDF/A metadata (XMP packet, Info dictionary) stays byte-identical
(``_compat.keep_metadata``, as in ``sign.py``). Calling :func:`extend_to_blta` again on
a B-LTA file adds the next archive timestamp (renewal) with the data of the previous
one's TSA chain.

The chains are validated with pyHanko (``collect_validation_info``, the public API its
``add_validation_info`` is built on) against the caller's trust anchors at ``at``
(default now), so data is only collected for chains that end at an anchor; a chain
that does not validate stops the extension with a :class:`SigningError` rather than
archive a file that would not verify. Revocation data is either in the caller's
``ValidationContext`` or downloaded here with ``netfetch`` under a
:class:`~signing.netfetch.FetchPolicy` (the URLs come from certificates that chain to
an anchor; private addresses only with ``allow_private``, e.g. the dev PKI).
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Iterable

from asn1crypto import cms, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import collect_validation_info
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError

from ._aio import run_sync
from ._compat import keep_metadata
from .certload import CertSource, CrlSource, load_certs, load_crls
from .chain import anchored_path
from .errors import NotAPdfError, SigningError
from .limits import cert_pool_problem, cert_set_problem, dss_counts_problem
from .netfetch import Fetcher, FetchPolicy, tsa_certificates
from .timestamps import document_timestamps

__all__ = ["extend_to_blta", "ltv_validation_context"]

_MD = "sha256"


def _reader(pdf: bytes) -> PdfFileReader:
    if not pdf.startswith(b"%PDF-"):
        raise NotAPdfError("input does not start with %PDF-: not a PDF file")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = list(reader.embedded_regular_signatures)
        list(reader.embedded_timestamp_signatures)
    except (PdfError, ValueError, KeyError) as exc:
        raise NotAPdfError(f"cannot parse the PDF: {exc}") from exc
    if reader.encrypted:
        raise SigningError("encrypted PDFs are not extended here")
    if not sigs:
        raise SigningError("the PDF has no signature to extend (sign it first)")
    return reader


def _signed_data_certs(signed_data: cms.SignedData) -> list[x509.Certificate]:
    """The signer's certificate first, then the others; `SigningError` when the set is over
    the limits (``limits``: no chain is built from a maze of same-named CAs)."""
    problem = cert_set_problem(signed_data, "a CMS in the file")
    if problem is not None:
        raise SigningError(f"not extended: {problem}")
    info = extract_certificate_info(signed_data)
    return [info.signer_cert, *info.other_certs]


def _certs_in_file(reader: PdfFileReader) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """(leaves, pool): the signer and TSA certificates whose chains need data, and
    every certificate found in the file (CMS containers, timestamp tokens, DSS)."""
    leaves: list[x509.Certificate] = []
    pool: list[x509.Certificate] = []
    for sig in reader.embedded_regular_signatures:
        certs = _signed_data_certs(sig.signed_data)
        leaves.append(certs[0])
        pool.extend(certs)
        for signed in (False, True):
            for tst in extract_tst_data_iter(sig.signer_info, signed=signed):
                certs = _signed_data_certs(tst)
                leaves.append(certs[0])
                pool.extend(certs)
    for ts in reader.embedded_timestamp_signatures:
        certs = _signed_data_certs(ts.signed_data)
        leaves.append(certs[0])
        pool.extend(certs)
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        pass
    else:
        problem = dss_counts_problem(len(dss.certs), len(dss.crls), len(dss.ocsps))
        if problem is not None:
            raise SigningError(f"not extended: {problem}")
        pool.extend(dss.load_certs())
    problem = cert_pool_problem(pool)
    if problem is not None:
        raise SigningError(f"not extended: {problem}")
    return leaves, pool


def _tsa_certs(timestamper: TimeStamper) -> list[x509.Certificate]:
    """The TSA's certificates (``netfetch.tsa_certificates``: one token, reused to size
    the placeholder)."""
    try:
        return run_sync(tsa_certificates(timestamper, _MD))
    except TimestampRequestError as exc:
        raise SigningError(f"no document timestamp: {exc}") from exc


def ltv_validation_context(
    leaves: Iterable[x509.Certificate],
    pool: Iterable[x509.Certificate],
    *,
    trust_roots: Iterable[CertSource],
    policy: FetchPolicy | None = None,
    crls: Iterable[CrlSource] = (),
    at: datetime | None = None,
) -> ValidationContext:
    """A context holding the revocation data of each leaf's chain up to ``trust_roots``:
    the given ``crls`` plus, when ``policy`` is enabled, the CRLs and OCSP responses
    downloaded (``netfetch``) for every non-anchor certificate of those chains."""
    anchors = load_certs(trust_roots)
    if not anchors:
        raise SigningError("extending to B-LTA needs trust anchors (--trust)")
    pool = list(pool)
    all_crls = list(load_crls(crls))
    ocsps = []
    if policy is not None and policy.enabled:
        fetcher = Fetcher(policy)
        done: set[bytes] = set()
        for leaf in leaves:
            # only chains whose signatures were checked up to an anchor: their URLs are a CA's
            more_crls, more_ocsps = fetcher.for_path(anchored_path(leaf, pool, anchors) or (), done)
            all_crls.extend(more_crls)
            ocsps.extend(more_ocsps)
    return ValidationContext(
        trust_roots=anchors,
        other_certs=pool,
        crls=all_crls,
        ocsps=ocsps,
        moment=at,
        allow_fetching=False,
        retroactive_revinfo=True,
        # A certificate that names revocation sources must have an answer in the DSS.
        revocation_mode="hard-fail",
    )


def _field_name(reader: PdfFileReader) -> str:
    taken = {name for name, _, _ in enumerate_sig_fields(reader)}
    n = 1
    while f"DocTimeStamp{n}" in taken:
        n += 1
    return f"DocTimeStamp{n}"


async def _paths(reader: PdfFileReader, context: ValidationContext, timestamper: TimeStamper) -> list:
    paths = []
    for sig in reader.embedded_regular_signatures:
        try:
            paths.extend(await collect_validation_info(sig, context))
        except (PathBuildingError, PathValidationError, ValidationError) as exc:
            raise SigningError(
                f"signature {sig.field_name}: its certificate chain (or its timestamp's) does not validate "
                f"against the trust anchors at the extension moment: {exc}"
            ) from exc
    for ts in reader.embedded_timestamp_signatures:
        try:
            paths.extend(await collect_validation_info(ts, context, skip_timestamp=True))
        except (PathBuildingError, PathValidationError, ValidationError) as exc:
            raise SigningError(
                f"document timestamp {ts.field_name}: the TSA chain does not validate "
                f"at the extension moment (renew before it expires): {exc}"
            ) from exc
    try:
        async for path in timestamper.validation_paths(context):
            paths.append(path)
    except (PathBuildingError, PathValidationError, ValidationError) as exc:
        raise SigningError(f"the TSA's certificate chain does not validate against the trust anchors: {exc}") from exc
    except TimestampRequestError as exc:
        raise SigningError(f"no document timestamp: {exc}") from exc
    return paths


def _t_evidence_missing(reader: PdfFileReader, context: ValidationContext, at: datetime) -> bool:
    """Whether a signature has no T-level evidence: no signature timestamp token, and no
    document timestamp that validates (``timestamps``) in a revision after it. A token
    that is present counts (its chain was checked by ``_paths``; the verifier judges it)."""
    try:
        sigs = list(reader.embedded_regular_signatures)
        bare = [sig.signed_revision for sig in sigs
                if next(extract_tst_data_iter(sig.signer_info, signed=False), None) is None]
        if not bare:
            return False
        stamps = list(reader.embedded_timestamp_signatures)
        valid = document_timestamps(stamps, lambda _moment: context, at).passed_revisions if stamps else []
    except Exception as exc:  # noqa: BLE001 - a CMS pyHanko cannot read
        raise SigningError(f"the signatures cannot be read: {exc}") from exc
    return any(not any(stamp > revision for stamp in valid) for revision in bare)


def _newest_stamp(reader: PdfFileReader):
    """The document timestamp of the latest revision, or None."""
    stamps = list(reader.embedded_timestamp_signatures)
    return max(stamps, key=lambda ts: ts.signed_revision) if stamps else None


def _stamped(writer: IncrementalPdfFileWriter, reader: PdfFileReader, timestamper: TimeStamper) -> bytes:
    """``writer``'s update closed by a document timestamp from ``timestamper``."""
    out = io.BytesIO()
    try:
        run_sync(
            PdfTimeStamper(timestamper, field_name=_field_name(reader)).async_timestamp_pdf(
                writer, _MD, output=out
            )
        )
    except TimestampRequestError as exc:
        raise SigningError(f"no document timestamp: {exc}") from exc
    except PdfError as exc:
        raise SigningError(f"the document timestamp could not be written: {exc}") from exc
    return out.getvalue()


def _update(pdf: bytes) -> IncrementalPdfFileWriter:
    return keep_metadata(IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False))


def extend_to_blta(
    pdf: bytes,
    *,
    timestamper: TimeStamper,
    validation_context: ValidationContext | None = None,
    trust_roots: Iterable[CertSource] | None = None,
    policy: FetchPolicy | None = None,
    crls: Iterable[CrlSource] = (),
    at: datetime | None = None,
) -> bytes:
    """Return ``pdf`` (signed at B-B, B-T, B-LT or B-LTA) extended to B-LTA.

    One incremental update adds the DSS (validation data of every signature's chain,
    of their timestamps' TSA chains, of earlier document timestamps and of
    ``timestamper``'s TSA) and a document timestamp from ``timestamper`` over it all.
    When a signature has no T-level evidence (B-B: no signature timestamp and no valid
    document timestamp after it), an update with only a document timestamp comes
    first: the signature's T evidence, whose TSA chain the DSS then covers too. So a
    B-B version gets two updates (two document timestamps), a B-T or later one one.

    Validation data come from ``validation_context`` (used as given: trust roots,
    revocation data, moment) or else are collected for the chains that end at
    ``trust_roots``: the ``crls`` given, plus downloads under ``policy`` (None or a
    disabled policy: nothing is downloaded). ``at`` is the moment the chains are
    validated at (default now). Raises :class:`NotAPdfError` for input that is not a
    PDF and :class:`SigningError` for a PDF without signatures, a chain that does not
    validate, missing revocation data, or a TSA that cannot be reached.
    """
    reader = _reader(pdf)
    try:
        found: tuple | Exception = _certs_in_file(reader)  # refuses sets over the limits first
    except SigningError:
        raise
    except Exception as exc:  # noqa: BLE001 - a CMS or DSS pyHanko cannot read
        found = exc
    tsa_certs = _tsa_certs(timestamper)
    at = at or datetime.now(timezone.utc)
    if validation_context is None:
        if not trust_roots:
            raise SigningError("extending to B-LTA needs trust anchors (--trust) or a validation context")
        if isinstance(found, Exception):
            raise SigningError(f"the signatures' certificates cannot be read: {found}") from found
        leaves, pool = found
        validation_context = ltv_validation_context(
            [*leaves, tsa_certs[0]], [*pool, *tsa_certs], trust_roots=trust_roots, policy=policy, crls=crls, at=at,
        )
    if _t_evidence_missing(reader, validation_context, at):
        pdf = _stamped(_update(pdf), reader, timestamper)  # the T evidence: a stamp, no DSS
        reader = _reader(pdf)
    paths = run_sync(_paths(reader, validation_context, timestamper))
    writer = _update(pdf)
    # As pyHanko's archive flow: a VRI entry for the newest document timestamp, so that
    # this update always writes the DSS, even when every CRL in it was there already
    # (the verifier credits a DSS to the revision that writes it: ``verify._level``).
    newest = _newest_stamp(reader)
    DocumentSecurityStore.supply_dss_in_writer(
        writer, newest.pkcs7_content if newest is not None else None,
        paths=paths, validation_context=validation_context, embed_roots=True,
    )
    return _stamped(writer, reader, timestamper)
