"""Verification of the signatures in a PDF, reported in ETSI EN 319 102-1 terms.

pyHanko does the cryptography, path building, revocation and difference analysis;
this module decides *when* to validate and turns pyHanko's status into the report:

* Validation time. The signer certificate is validated at the signature timestamp
  (when there is a valid one) or else at ``at``/now. So a certificate revoked after a
  trustworthy timestamp still passes, and an expired NCA test key can be checked with
  ``at`` inside its validity window. Revocation data issued later than that moment is
  accepted (``retroactive_revinfo``): a later CRL still lists earlier revocations.
* Revocation data: the user's CRL files, the document's DSS (B-LT) and, when
  ``online``, the CRLs named in the certificates and the signer's OCSP responder. Soft-fail by default (NCA services
  are often unreachable); ``require_revocation=True`` demands data for every cert.
* Intermediate trust anchors. NCA's RSA test root is not published, so its issuing CA
  is the anchor; pyhanko-certvalidator cannot build the CRL issuer path in that case
  (``truncate_to_issuer`` raises LookupError). CRLs issued by a non-self-signed anchor
  are therefore checked here directly (signature by the anchor's key, serial lookup).
* Coverage. Bytes after the last ``%%EOF`` that belong to no revision are covered by
  no signature; pyHanko does not flag them, we do.
* GOST. Kazakh GOST keys cannot be verified by pyHanko; such a signature is reported
  INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE with the signer fields still parsed.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from asn1crypto import cms, tsp, x509
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from . import netfetch
from ._aio import run_sync
from .certload import CertSource, CrlSource, load_certs, load_crls
from .errors import NotAPdfError
from .model import Indication, Level, SignatureReport, SignerFields, SubIndication, VerificationReport
from .ncacert import KZ_SIGNATURE_ALGORITHM_PREFIXES, is_gost_certificate, signer_fields

__all__ = ["verify_pdf", "parse_moment"]

log = logging.getLogger(__name__)

_ALLOWED_LATER_LEVELS = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING)
_EOF_RE = re.compile(rb"%%EOF[ \t\r\n\x00]*\Z")


def parse_moment(text: str) -> datetime:
    """ISO-8601 with a zone (``2021-06-01T00:00:00Z``); a naive value is taken as UTC."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class _Revinfo:
    """Revocation data for pyHanko plus CRLs we check ourselves (intermediate anchors)."""

    crls: tuple[asn1_crl.CertificateList, ...]
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...]
    anchor_crls: tuple[tuple[x509.Certificate, asn1_crl.CertificateList], ...]
    dss_certs: tuple[x509.Certificate, ...]
    dss_has_revinfo: bool


def _is_self_signed(cert: x509.Certificate) -> bool:
    return cert.self_signed in ("maybe", "yes")


def _crl_signed_by(crl: asn1_crl.CertificateList, cert: x509.Certificate) -> bool:
    from cryptography import x509 as cx509

    if crl.issuer != cert.subject:
        return False
    try:
        pyca_crl = cx509.load_der_x509_crl(crl.dump())
        pyca_cert = cx509.load_der_x509_certificate(cert.dump())
        return pyca_crl.is_signature_valid(pyca_cert.public_key())
    except (ValueError, TypeError):
        return False


def _read_dss(reader: PdfFileReader) -> tuple[list[x509.Certificate], list, list]:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return [], [], []
    certs = list(dss.load_certs())
    ocsps = [
        asn1_ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
        for ref in dss.ocsps
    ]
    crls = [asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)) for ref in dss.crls]
    return certs, ocsps, crls


def _collect_revinfo(
    reader: PdfFileReader,
    sigs: list[EmbeddedPdfSignature],
    anchors: list[x509.Certificate],
    user_crls: list[asn1_crl.CertificateList],
    online: bool,
    fetch_timeout: float,
) -> _Revinfo:
    dss_certs, dss_ocsps, dss_crls = _read_dss(reader)
    crls = list(user_crls) + dss_crls
    ocsps = list(dss_ocsps)
    if online:
        certs: list[x509.Certificate] = list(dss_certs) + list(anchors)
        leaves: list[x509.Certificate] = []
        for sig in sigs:
            try:
                leaves.append(sig.signer_cert)
                certs.extend(sig.other_embedded_certs)
            except (ValueError, KeyError):
                continue
        crls.extend(netfetch.fetch_crls(leaves + certs, fetch_timeout))
        for leaf in leaves:
            issuer = next((c for c in certs if c.subject == leaf.issuer), None)
            response = netfetch.fetch_ocsp(leaf, issuer, fetch_timeout) if issuer is not None else None
            if response is not None:
                ocsps.append(response)
    intermediate_anchors = [a for a in anchors if not _is_self_signed(a)]
    for_pyhanko: list[asn1_crl.CertificateList] = []
    anchor_crls: list[tuple[x509.Certificate, asn1_crl.CertificateList]] = []
    for crl in crls:
        owner = next((a for a in intermediate_anchors if _crl_signed_by(crl, a)), None)
        if owner is not None:
            anchor_crls.append((owner, crl))
        else:
            for_pyhanko.append(crl)
    return _Revinfo(
        crls=tuple(for_pyhanko),
        ocsps=tuple(ocsps),
        anchor_crls=tuple(anchor_crls),
        dss_certs=tuple(dss_certs),
        dss_has_revinfo=bool(dss_ocsps or dss_crls),
    )


def _anchor_crl_revocation(
    status: PdfSignatureStatus, revinfo: _Revinfo, moment: datetime
) -> datetime | None:
    """Revocation date of a path certificate per a CRL of an intermediate anchor."""
    path = status.validation_path
    if path is None or not revinfo.anchor_crls:
        return None
    certs = list(path.iter_certs(include_root=False))
    for anchor, crl in revinfo.anchor_crls:
        for cert in certs:
            if cert.issuer != anchor.subject:
                continue
            for entry in crl["tbs_cert_list"]["revoked_certificates"] or ():
                if entry["user_certificate"].native == cert.serial_number:
                    revoked_on = entry["revocation_date"].native
                    if revoked_on <= moment:
                        return revoked_on
    return None


def _tst_time(sig: EmbeddedPdfSignature) -> datetime | None:
    """genTime of the signature timestamp token, if the CMS carries one."""
    unsigned = sig.signer_info["unsigned_attrs"]
    if not unsigned or unsigned.native is None:
        return None
    for attr in unsigned:
        if attr["type"].native == "signature_time_stamp_token":
            token: cms.ContentInfo = attr["values"][0]
            content = token["content"]["encap_content_info"]["content"]
            return tsp.TSTInfo.load(bytes(content))["gen_time"].native
    return None


def _context(
    anchors: list[x509.Certificate],
    revinfo: _Revinfo,
    moment: datetime,
    require_revocation: bool,
) -> ValidationContext:
    return ValidationContext(
        trust_roots=anchors,
        other_certs=list(revinfo.dss_certs),
        moment=moment,
        crls=list(revinfo.crls),
        ocsps=list(revinfo.ocsps),
        allow_fetching=False,
        retroactive_revinfo=True,
        revocation_mode="require" if require_revocation else "soft-fail",
    )


def _uses_gost(sig: EmbeddedPdfSignature) -> bool:
    """Decided from the algorithm OIDs in the SignerInfo: cheap, no certificate lookup."""
    algo = sig.signer_info["signature_algorithm"]["algorithm"].dotted
    digest = sig.signer_info["digest_algorithm"]["algorithm"].dotted
    return algo.startswith(KZ_SIGNATURE_ALGORITHM_PREFIXES) or digest.startswith(KZ_SIGNATURE_ALGORITHM_PREFIXES)


def _has_gost_certificate(sig: EmbeddedPdfSignature) -> bool:
    try:
        return is_gost_certificate(sig.signer_cert)
    except (ValueError, KeyError):
        return False


def _trailing_uncovered(pdf: bytes) -> bool:
    """True when bytes follow the last ``%%EOF`` (whitespace aside): no revision owns them."""
    return _EOF_RE.search(pdf[-4096:]) is None


def _modified_after(status: PdfSignatureStatus, sig_field_names: set[str]) -> bool:
    diff = status.diff_result
    if isinstance(diff, SuspiciousModification):
        return True
    if status.docmdp_ok is False:
        return True
    if diff is None:
        return status.coverage != SignatureCoverageLevel.ENTIRE_FILE
    if diff.modification_level not in _ALLOWED_LATER_LEVELS:
        return True
    # Form filling is how pyHanko classes a later signature; anything else filled in
    # after signing (a text field) is a change to the signed content.
    return not set(diff.changed_form_fields) <= sig_field_names


def _level(has_tst: bool, revinfo: _Revinfo, doc_ts_after: bool) -> Level:
    if not has_tst:
        return Level.B_B
    if not revinfo.dss_has_revinfo:
        return Level.B_T
    return Level.B_LTA if doc_ts_after else Level.B_LT


def _sub_from_pyhanko(indic) -> tuple[Indication, SubIndication]:
    try:
        sub = SubIndication[indic.name]
    except KeyError:
        sub = SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    failed = isinstance(indic, AdESFailure)
    return (Indication.TOTAL_FAILED if failed else Indication.INDETERMINATE), sub


def _judge(
    status: PdfSignatureStatus,
    *,
    covers: bool,
    modified: bool,
    revoked_by_anchor_crl: bool,
    tst_present: bool,
    tst_ok: bool,
) -> tuple[Indication, SubIndication | None, list[str]]:
    notes: list[str] = []
    if not status.intact:
        return Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, ["signed bytes were changed"]
    if not status.valid:
        return Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, ["signature value does not verify"]
    if not covers:
        return Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, ["part of the file is not covered by the signature"]
    if modified:
        return Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, ["the document was modified after signing"]
    if revoked_by_anchor_crl:
        return Indication.TOTAL_FAILED, SubIndication.REVOKED, ["certificate revoked (CRL of the trust anchor)"]
    if status.revoked:
        # pyHanko says REVOKED_NO_POE when no timestamp proves the signature predates
        # the revocation. We validated at the best proven time already (the timestamp
        # if any), so a revocation before it means the key was not usable: FAILED.
        when = status.revocation_details.revocation_date
        return Indication.TOTAL_FAILED, SubIndication.REVOKED, [f"certificate revoked on {when.isoformat()}"]
    if status.trust_problem_indic is not None:
        ind, sub = _sub_from_pyhanko(status.trust_problem_indic)
        return ind, sub, [f"certificate validation: {sub.value}"]
    if not status.trusted:
        return Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, ["certificate not trusted"]
    if tst_present and not tst_ok:
        notes.append("signature timestamp is not valid or not trusted")
        return Indication.INDETERMINATE, SubIndication.NO_POE, notes
    return Indication.TOTAL_PASSED, None, notes


def _unsupported_report(
    sig: EmbeddedPdfSignature, name: str, covers: bool, reason: str, sub: SubIndication, ind: Indication
) -> SignatureReport:
    try:
        fields = signer_fields(sig.signer_cert)
    except (ValueError, KeyError):
        fields = SignerFields()
    intact = _digest_matches(sig)
    try:
        sig.compute_integrity_info()
    except Exception:  # noqa: BLE001 - coverage is then reported as unknown
        log.info("coverage of %s could not be evaluated", name)
    return SignatureReport(
        field=name,
        indication=ind,
        sub_indication=sub,
        intact=intact,
        covers_whole_document=covers and (sig.coverage or SignatureCoverageLevel.UNCLEAR) >= SignatureCoverageLevel.ENTIRE_REVISION,
        modified_after_signing=False,
        trusted=False,
        revoked=False,
        signing_time=_safe_self_reported(sig),
        timestamp_time=None,
        level=Level.B_B,
        signer=fields,
        notes=(reason,),
    )


def _digest_matches(sig: EmbeddedPdfSignature) -> bool:
    """Hash integrity without the signature check (possible for GOST signatures whose
    digest is SHA-2; GOST 34.311 digests are unknown here and give False)."""
    from pyhanko.sign.general import find_unique_cms_attribute

    try:
        claimed = find_unique_cms_attribute(sig.signer_info["signed_attrs"], "message_digest").native
        return sig.compute_digest() == claimed
    except Exception:  # noqa: BLE001 - unknown digest algorithm or missing attribute
        return False


def _safe_self_reported(sig: EmbeddedPdfSignature) -> datetime | None:
    try:
        return sig.self_reported_timestamp
    except (ValueError, KeyError):
        return None


def _verify_one(
    sig: EmbeddedPdfSignature,
    *,
    anchors: list[x509.Certificate],
    revinfo: _Revinfo,
    at: datetime,
    require_revocation: bool,
    trailing_ok: bool,
    sig_field_names: set[str],
    doc_ts_revisions: list[int],
) -> SignatureReport:
    name = sig.field_name
    if _uses_gost(sig):
        return _unsupported_report(
            sig,
            name,
            trailing_ok,
            "GOST (Kazakh) signature algorithm: the signature cannot be checked by this "
            "service; verify it with an NCA (Kalkan) based tool",
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            Indication.INDETERMINATE,
        )
    tst_time = _tst_time(sig)
    moment = min(tst_time, at) if tst_time else at
    ts_context = _context(anchors, revinfo, at, require_revocation)
    try:
        status = run_sync(async_validate_pdf_signature(
            sig,
            signer_validation_context=_context(anchors, revinfo, moment, require_revocation),
            ts_validation_context=ts_context,
        ))
        tst = status.timestamp_validity
        tst_ok = tst is not None and tst.intact and tst.valid and tst.trusted
        if tst_time and not tst_ok and moment != at:
            # The timestamp proves nothing; judge the certificate at the validation time.
            moment = at
            status = run_sync(async_validate_pdf_signature(
                sig,
                signer_validation_context=_context(anchors, revinfo, at, require_revocation),
                ts_validation_context=ts_context,
            ))
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many types for broken CMS
        log.info("signature %s could not be validated: %s", name, exc)
        if _has_gost_certificate(sig):
            return _unsupported_report(
                sig, name, trailing_ok, f"GOST (Kazakh) key: the signature cannot be checked here ({exc})",
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE, Indication.INDETERMINATE,
            )
        return _unsupported_report(
            sig, name, trailing_ok, f"signature could not be processed: {exc}",
            SubIndication.FORMAT_FAILURE, Indication.TOTAL_FAILED,
        )
    covers = trailing_ok and status.coverage is not None and status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
    modified = _modified_after(status, sig_field_names)
    anchor_revoked_on = _anchor_crl_revocation(status, revinfo, moment)
    indication, sub, notes = _judge(
        status,
        covers=covers,
        modified=modified,
        revoked_by_anchor_crl=anchor_revoked_on is not None,
        tst_present=tst_time is not None,
        tst_ok=tst_ok,
    )
    revoked = status.revoked or anchor_revoked_on is not None
    return SignatureReport(
        field=name,
        indication=indication,
        sub_indication=sub,
        intact=bool(status.intact),
        covers_whole_document=covers,
        modified_after_signing=modified,
        trusted=bool(status.trusted) and not revoked,
        revoked=revoked,
        signing_time=status.signer_reported_dt,
        timestamp_time=tst.timestamp if tst_ok else None,
        level=_level(tst_ok, revinfo, any(r > sig.signed_revision for r in doc_ts_revisions)),
        signer=signer_fields(status.signing_cert),
        notes=tuple(notes),
    )


def verify_pdf(
    pdf: bytes,
    *,
    trust: Iterable[CertSource] = (),
    crls: Iterable[CrlSource] = (),
    at: datetime | None = None,
    online: bool = True,
    require_revocation: bool = False,
    fetch_timeout: float = 3.0,
) -> VerificationReport:
    """Verify every signature in ``pdf`` against the ``trust`` anchors.

    ``at``: validation moment (timezone-aware; default now). ``online``: download CRLs
    named in the certificates (short timeout, failures tolerated). ``crls``: extra CRL
    files. Raises :class:`NotAPdfError` for input that is not a readable PDF; a PDF
    without signatures gives a report with no signatures (indication INDETERMINATE).
    """
    head = pdf[:1024]
    if b"%PDF-" not in head:
        raise NotAPdfError("not a PDF file: no %PDF- header in the first 1024 bytes")
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = list(reader.embedded_regular_signatures)
        doc_ts_revisions = [ts.signed_revision for ts in reader.embedded_timestamp_signatures]
        sig_field_names = {n for n, _, _ in enumerate_sig_fields(reader)}
    except (PdfError, ValueError, KeyError) as exc:
        raise NotAPdfError(f"the PDF cannot be parsed: {exc}") from exc
    if not sigs:
        return VerificationReport(signatures=())
    anchors = load_certs(trust)
    revinfo = _collect_revinfo(reader, sigs, anchors, load_crls(crls), online, fetch_timeout)
    trailing_ok = not _trailing_uncovered(pdf)
    reports = tuple(
        _verify_one(
            sig,
            anchors=anchors,
            revinfo=revinfo,
            at=at,
            require_revocation=require_revocation,
            trailing_ok=trailing_ok,
            sig_field_names=sig_field_names,
            doc_ts_revisions=doc_ts_revisions,
        )
        for sig in sigs
    )
    return VerificationReport(signatures=reports)
