"""Verification of the signatures in a PDF, reported in ETSI EN 319 102-1 terms.

pyHanko does the cryptography, path building, revocation and difference analysis;
this module decides *when* to validate and turns pyHanko's status into the report:

* Validation time. The signer certificate is validated at the earliest signature
  timestamp that validates on its own (``timestamps``: TSTInfo, imprint of this
  signature, TSA signature, TSA chain to an anchor, timeStamping EKU); a signature
  without signature timestamps (B-B, archived by ``ltv``) at the time of the earliest
  valid document timestamp after it (its proof of existence); else at ``at``/now. So
  a certificate revoked after a trustworthy timestamp still passes, and an expired
  NCA test key can be checked with ``at`` inside its validity window; a token from
  any other TSA proves nothing. Revocation data issued later than that
  moment is accepted (``retroactive_revinfo``): a later CRL still lists earlier
  revocations. Every signature and document timestamp is listed in the report with
  its own result; only a valid document timestamp that covers the DSS makes the level
  B-LTA, only DSS revocation data for the signer's chain make B-LT, and for a
  signature without a signature timestamp a valid document timestamp after it is its
  T evidence (``_level``).
* Proof of existence. The document timestamps are validated as a chain, newest first
  (the newest at ``at``, each earlier one at the time of the nearest later valid one),
  and a signature's timestamps at the time of the earliest valid document timestamp
  after the signature (``timestamps.document_timestamps``): a B-LTA file still passes
  after its signer's and its TSA's certificates expired or the TSA was revoked, as
  long as the newest document timestamp validates at ``at``.
* Key purpose. The signer certificate must be a document-signing certificate
  (``keypurpose``: not a CA, nonRepudiation, an EKU that allows document signing),
  also when it is itself a trust anchor, where pyHanko checks nothing.
* Revocation data: the user's CRL files, the document's DSS (B-LT) and, when the
  fetch policy is enabled, OCSP answers and CRLs named in the certificates of a chain
  that ends at a trust anchor (see ``netfetch`` for what may be fetched). Offline (the
  default: URLs inside an uploaded file are not followed) missing data is tolerated
  (soft-fail). Online, a certificate that names revocation sources but for which no
  usable data was obtained makes the signature INDETERMINATE / TRY_LATER, with the
  fetch notes saying why. ``require_revocation=True`` demands data for every cert.
* Untrusted content. DSS entries and downloaded data that do not fully parse are
  dropped with a note; no certificate content or network failure ends in an exception.
* Intermediate trust anchors. NCA's RSA test root is not published, so its issuing CA
  is the anchor; pyhanko-certvalidator cannot build the CRL issuer path in that case
  (``truncate_to_issuer`` raises LookupError). CRLs issued by a non-self-signed anchor
  are therefore checked here directly (signature by the anchor's key, serial lookup).
* Coverage. Bytes after the last ``%%EOF`` that belong to no revision are covered by
  no signature; pyHanko does not flag them, we do.
* Structure (``pdfcheck``). The cross-reference chain is read a second time, without
  pyHanko, and the signatures fail when the two readings could differ or a viewer
  would show what pyHanko does not analyse: a last ``%%EOF`` line pyHanko does not
  recognise, bytes no revision accounts for, an object listed twice in one section,
  an object the signed revision refers to that only a later update defines, an
  annotation added after signing that draws over a page. The cost of one verification
  is capped (size, revisions, decoded bytes, time: ``pdfcheck.Limits``).
* Certificate sets (``limits``). Before any chain is built, every CMS (signature,
  signature timestamp token, document timestamp), the DSS and all of them together are
  checked against the limits; a file over them has every signature TOTAL_FAILED /
  FORMAT_FAILURE: many CA certificates sharing one subject made the chain builder try
  every ordering of them (8 took 9 s of a core, 10 minutes).
* GOST. Kazakh GOST keys cannot be verified by pyHanko; such a signature is reported
  INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE with the signer fields still parsed.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from asn1crypto import x509
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils import generic
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
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, FreshnessReqType, RevocationCheckingPolicy

from . import _compat, limits, pdfcheck  # noqa: F401 - _compat: pyHanko reads hex strings in one pass
from ._aio import run_sync
from .certload import CertSource, CrlSource, cert_parses, load_certs, load_crls, parse_crl_der, parse_ocsp_der
from .chain import anchored_path, crl_says, crl_signed_by, ocsp_covers
from .errors import NotAPdfError
from .keypurpose import signer_problem
from .model import (
    FetchNote,
    FetchOutcome,
    Indication,
    Level,
    SignatureReport,
    SignerFields,
    SubIndication,
    VerificationReport,
)
from .netfetch import OFFLINE, Fetcher, FetchPolicy, revocation_sources
from .ncacert import KZ_SIGNATURE_ALGORITHM_PREFIXES, is_gost_certificate, signer_fields
from .timestamps import (
    DocumentTimestamps,
    SignatureTimestamps,
    _embedded_tsa_cert,
    _token_values,
    document_timestamps,
    signature_timestamps,
    tokens_hidden,
)

__all__ = ["verify_pdf", "parse_moment", "FetchPolicy"]

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
    online: bool = False
    notes: tuple[FetchNote, ...] = ()
    dss_crls: tuple[asn1_crl.CertificateList, ...] = ()  # what the DSS holds (``_dss_covers``)
    dss_ocsps: tuple[asn1_ocsp.OCSPResponse, ...] = ()


def _is_self_signed(cert: x509.Certificate) -> bool:
    return cert.self_signed in ("maybe", "yes")


@dataclass(frozen=True)
class _Dss:
    """What the document security store holds, parsed; ``problem``: why it is refused as a
    whole (``limits``: too many entries), its entries then left out."""

    certs: tuple[x509.Certificate, ...] = ()
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...] = ()
    crls: tuple[asn1_crl.CertificateList, ...] = ()
    problem: str | None = None


def _read_dss(reader: PdfFileReader, notes: list[FetchNote]) -> _Dss:
    """Certificates, OCSP responses and CRLs of the DSS; entries that do not fully parse
    are dropped (noted), a DSS that cannot be read at all counts as none, one with more
    entries than ``limits`` allow is counted before anything in it is parsed."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return _Dss()
    except Exception:  # noqa: BLE001 - e.g. a DSS whose streams exceed the decode limits
        notes.append(FetchNote("dss", "", FetchOutcome.FAILED, "the document security store cannot be read"))
        return _Dss()
    try:
        problem = limits.dss_counts_problem(len(dss.certs), len(dss.crls), len(dss.ocsps))
        if problem is not None:
            return _Dss(problem=problem)
        certs = list(dss.load_certs())
        ocsp_data = [ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE) for ref in dss.ocsps]
        crl_data = [ref.get_object().read_data(DecodePurpose.CRL) for ref in dss.crls]
    except Exception:  # noqa: BLE001 - a broken DSS in an uploaded file
        notes.append(FetchNote("dss", "", FetchOutcome.FAILED, "the document security store cannot be read"))
        return _Dss()
    usable = [c for c in certs if cert_parses(c)]
    ocsps, crls = [], []
    for data in ocsp_data:
        try:
            ocsps.append(parse_ocsp_der(data))
        except ValueError:
            notes.append(FetchNote("dss", "", FetchOutcome.FAILED, "an OCSP response in the document cannot be used"))
    for data in crl_data:
        try:
            crls.append(parse_crl_der(data))
        except ValueError:
            notes.append(FetchNote("dss", "", FetchOutcome.FAILED, "a CRL in the document cannot be used"))
    if len(usable) < len(certs):
        notes.append(FetchNote("dss", "", FetchOutcome.FAILED, "a certificate in the document cannot be parsed"))
    return _Dss(tuple(usable), tuple(ocsps), tuple(crls))


def _certificate_problem(
    sigs: list[EmbeddedPdfSignature], doc_stamps: list[EmbeddedPdfSignature], dss_certs: Iterable[x509.Certificate]
) -> str | None:
    """Why the certificates the file brings are refused before any chain is built
    (``limits``): a signature's CMS or one of its timestamp tokens, a document timestamp,
    or all of them with the DSS together; None when they are within the limits."""
    pool: list[x509.Certificate] = list(dss_certs)
    for kind, items in (("signature", sigs), ("document timestamp", doc_stamps)):
        for sig in items:
            try:
                name = sig.field_name
                signed_data, signer_info = sig.signed_data, sig.signer_info
            except Exception:  # noqa: BLE001 - no CMS to build a chain from: its own report says so
                continue
            what = f"the {kind} {name!r}"
            try:
                problem = limits.cms_problem(signed_data, signer_info, what, f"a timestamp token of {what}")
                pool.extend(limits.cms_certs(signed_data))
                for token in limits.token_signed_data(signer_info):
                    pool.extend(limits.cms_certs(token))
            except Exception:  # noqa: BLE001 - certificates pyHanko might still read in part
                problem = f"the certificates of {what} cannot be read"
            if problem is not None:
                return problem
    return limits.cert_pool_problem(pool)


def _refused_for_limits(sigs: list[EmbeddedPdfSignature], trailing_ok: bool, problem: str) -> tuple[SignatureReport, ...]:
    """Every signature a format failure, no chain built: the file carries more certificates
    (CRLs, OCSP responses) than an honest one and than the verifier takes."""
    note = f"the file is refused before any certificate chain is built: {problem}"
    return tuple(
        _unsupported_report(sig, sig.field_name, trailing_ok, note, SubIndication.FORMAT_FAILURE, Indication.TOTAL_FAILED)
        for sig in sigs
    )


def _newest(doc_stamps: list[EmbeddedPdfSignature]) -> EmbeddedPdfSignature | None:
    """The document timestamp of the latest revision (the one validated at ``at``)."""
    best, best_revision = None, -1
    for ts in doc_stamps:
        try:
            revision = ts.signed_revision
        except Exception:  # noqa: BLE001 - a stamp whose revision cannot be told
            continue
        if revision > best_revision:
            best, best_revision = ts, revision
    return best


def _fetch_revinfo(
    fetcher: Fetcher,
    sigs: list[EmbeddedPdfSignature],
    anchors: list[x509.Certificate],
    dss_certs: list[x509.Certificate],
    newest_doc_stamp: EmbeddedPdfSignature | None = None,
    known: tuple[list[asn1_crl.CertificateList], list[asn1_ocsp.OCSPResponse]] = ([], []),
) -> tuple[list[asn1_crl.CertificateList], list[asn1_ocsp.OCSPResponse]]:
    """OCSP and CRL for each non-anchor certificate of each signer's anchored chain
    (both: pyHanko judges a revocation after a timestamp best with both at hand), and
    of the newest document timestamp's TSA chain: it is the one validated now, so its
    TSA's revocation is asked now (the older stamps and the signature timestamps are
    validated at the time a stamp proves, with the data the file carries). A certificate
    that ``known`` (CRLs, OCSP answers the caller just obtained) covers is not asked again."""
    crls: list[asn1_crl.CertificateList] = []
    ocsps: list[asn1_ocsp.OCSPResponse] = []
    done: set[bytes] = set()
    for sig in (*sigs, *((newest_doc_stamp,) if newest_doc_stamp is not None else ())):
        try:
            leaf = sig.signer_cert
            pool = [*sig.other_embedded_certs, *dss_certs, *anchors]
        except Exception:  # noqa: BLE001 - no usable signer certificate: nothing to fetch for
            continue
        path = anchored_path(leaf, pool, anchors)
        if path is None:
            log.info("signature %s: chain does not end at a trust anchor; nothing fetched", sig.field_name)
            continue
        if known[0] or known[1]:
            path = list(_uncovered(path, *known))
        more_crls, more_ocsps = fetcher.for_path(path, done)
        crls.extend(more_crls)
        ocsps.extend(more_ocsps)
    return crls, ocsps


def _collect_revinfo(
    sigs: list[EmbeddedPdfSignature],
    anchors: list[x509.Certificate],
    user_crls: list[asn1_crl.CertificateList],
    fetcher: Fetcher | None,
    doc_stamps: list[EmbeddedPdfSignature],
    dss: _Dss,
    notes: list[FetchNote],
    known: tuple[list[asn1_crl.CertificateList], list[asn1_ocsp.OCSPResponse]],
) -> _Revinfo:
    """``dss``/``notes``: the DSS as ``_read_dss`` gave it and its notes (the fetches' notes
    are added to them); ``known``: revocation data the caller just obtained (used, and not
    fetched again)."""
    dss_certs, dss_ocsps, dss_crls = list(dss.certs), list(dss.ocsps), list(dss.crls)
    crls = list(user_crls) + list(known[0]) + dss_crls
    ocsps = list(known[1]) + list(dss_ocsps)
    if fetcher is not None:
        fetched_crls, fetched_ocsps = _fetch_revinfo(fetcher, sigs, anchors, dss_certs, _newest(doc_stamps), known)
        crls.extend(fetched_crls)
        ocsps.extend(fetched_ocsps)
        notes.extend(fetcher.notes)
    intermediate_anchors = [a for a in anchors if not _is_self_signed(a)]
    for_pyhanko: list[asn1_crl.CertificateList] = []
    anchor_crls: list[tuple[x509.Certificate, asn1_crl.CertificateList]] = []
    for crl in crls:
        owner = next((a for a in intermediate_anchors if crl_signed_by(crl, a)), None)
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
        online=fetcher is not None,
        notes=tuple(notes),
        dss_crls=tuple(dss_crls),
        dss_ocsps=tuple(dss_ocsps),
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
            says, revoked_on = crl_says(crl, cert, anchor)
            if says == "revoked" and revoked_on <= moment:
                return revoked_on
    return None


def _revocation_gaps(status: PdfSignatureStatus, revinfo: _Revinfo) -> tuple[str, ...]:
    """Names of path certificates (anchor excluded) that name revocation sources but
    for which no usable CRL or OCSP answer is at hand, each with the issuer whose CRL
    would do (so that a user who gave the issuing CA's CRL sees that the CA certificate
    above it needs its root's CRL too). Asked only when online."""
    path = status.validation_path
    if path is None:
        return ()
    all_crls = [*revinfo.crls, *(crl for _, crl in revinfo.anchor_crls)]
    gaps: list[str] = []
    for cert, issuer in _uncovered(_path_pairs(path), all_crls, revinfo.ocsps):
        name = signer_fields(cert).common_name or cert.subject.human_friendly
        issuer_name = signer_fields(issuer).common_name or issuer.subject.human_friendly
        gaps.append(f"{name} (no CRL of {issuer_name} and no OCSP answer at hand)")
    return tuple(gaps)


def _path_pairs(path) -> list[tuple[x509.Certificate, x509.Certificate]]:
    """The (certificate, issuer) pairs of a pyHanko validation path, from the anchor down."""
    chain = list(path.iter_certs(include_root=True))
    return [(cert, issuer) for issuer, cert in zip(chain, chain[1:])]


def _uncovered(pairs: Iterable[tuple[x509.Certificate, x509.Certificate]], crls: Iterable[asn1_crl.CertificateList],
               ocsps: Iterable[asn1_ocsp.OCSPResponse]) -> Iterable[tuple[x509.Certificate, x509.Certificate]]:
    """The (certificate, issuer) pairs whose certificate names a revocation source but has
    neither a CRL its issuer signed nor an OCSP answer about it among ``crls``/``ocsps``."""
    crls, ocsps = list(crls), list(ocsps)
    for cert, issuer in pairs:
        if not revocation_sources(cert).declared:
            continue
        if any(crl_says(crl, cert, issuer)[0] != "unknown" for crl in crls):
            continue
        if any(ocsp_covers(resp, cert, issuer) for resp in ocsps):
            continue
        yield cert, issuer


# Soft-fail for TSA chains: any revocation data at hand is used however old it is (it
# still lists every revocation up to its thisUpdate), and none is no failure. pyHanko's
# soft-fail would make a CRL past its nextUpdate an error, so that a B-LTA file checked
# years later failed where the same file without its DSS passed. pyHanko reads every
# CRL (one that lists the certificate wins) but stops at the first OCSP "good" and then
# skips the CRLs: so OCSP answers that are no longer fresh are kept only when they say
# "revoked" (``_ocsps_for_tsa``).
_TSA_SOFT_FAIL = CertRevTrustPolicy(
    RevocationCheckingPolicy.from_legacy("soft-fail"),
    freshness=timedelta(days=200 * 365),
    freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
)
_OCSP_WITHOUT_NEXT_UPDATE = timedelta(minutes=30)  # pyHanko's fallback validity


def _ocsp_speaks_for(response: asn1_ocsp.OCSPResponse, moment: datetime) -> bool:
    """Whether an OCSP answer may be used at ``moment`` under ``_TSA_SOFT_FAIL``: every
    single response in it is fresh then (or issued later), or one says "revoked"."""
    try:
        singles = list(response["response_bytes"]["response"].parsed["tbs_response_data"]["responses"])
        if any(single["cert_status"].name == "revoked" for single in singles):
            return True
        for single in singles:
            this_update = single["this_update"].native
            next_update = single["next_update"].native or this_update + _OCSP_WITHOUT_NEXT_UPDATE
            if next_update < moment:
                return False
    except Exception:  # noqa: BLE001 - unreadable: leave it to pyHanko, which rejects it
        return True
    return True


def _ocsps_for_tsa(ocsps: Iterable[asn1_ocsp.OCSPResponse], moment: datetime) -> list[asn1_ocsp.OCSPResponse]:
    return [response for response in ocsps if _ocsp_speaks_for(response, moment)]


def _context(
    anchors: list[x509.Certificate],
    revinfo: _Revinfo,
    moment: datetime,
    require_revocation: bool,
    *,
    tsa: bool = False,
) -> ValidationContext:
    """``tsa``: for TSA chains; with ``require_revocation`` unset, revocation data of
    any age counts (``_TSA_SOFT_FAIL``), but a stale OCSP "good" does not. Required
    revocation data must be fresh at ``moment`` (or issued after it) in both cases."""
    soft_tsa = tsa and not require_revocation
    return ValidationContext(
        trust_roots=anchors,
        other_certs=list(revinfo.dss_certs),
        moment=moment,
        crls=list(revinfo.crls),
        ocsps=_ocsps_for_tsa(revinfo.ocsps, moment) if soft_tsa else list(revinfo.ocsps),
        allow_fetching=False,
        retroactive_revinfo=True,
        revocation_mode="require" if require_revocation else "soft-fail",
        revinfo_policy=_TSA_SOFT_FAIL if soft_tsa else None,
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


def _as_of(reader: PdfFileReader, value, revision: int):
    """``value`` as it stood in ``revision``: an indirect object looked up from that
    revision's cross-reference section back (one dictionary lookup when the revision writes
    it; a historical resolver would scan every revision for every object it reads)."""
    if isinstance(value, generic.IndirectObject):
        return reader.get_object(value.reference, revision=revision)
    return value


def _dss_revinfo_revisions(reader: PdfFileReader) -> tuple[int, ...]:
    """The revisions that write the DSS (its dictionary, or the catalog holding it
    directly) and leave it holding CRLs or OCSP responses. Only revisions that write the
    catalog or the DSS are read, each object as of that revision; () for a DSS that cannot
    be followed."""
    out: list[int] = []
    try:
        dss_key: tuple[int, int] | None = None
        for revision in range(reader.xrefs.total_revisions):
            written = {(ref.idnum, ref.generation) for ref in reader.xrefs.explicit_refs_in_revision(revision)}
            if not written:  # an empty update (at most ``pdfcheck.Limits`` revisions write objects)
                continue
            root = reader.trailer.raw_get("/Root", revision=revision)
            root_key = (root.idnum, root.generation)
            raw = None
            if root_key in written:  # the catalog rewritten: the DSS may be new, or direct
                root_dict = _as_of(reader, root, revision)
                raw = root_dict.raw_get("/DSS") if "/DSS" in root_dict else None
                dss_key = (raw.idnum, raw.generation) if isinstance(raw, generic.IndirectObject) else None
                touched = raw is not None and (dss_key is None or dss_key in written)
            else:
                touched = dss_key is not None and dss_key in written
                if touched:
                    raw = generic.IndirectObject(dss_key[0], dss_key[1], reader)
            if not touched:
                continue
            dss = _as_of(reader, raw, revision)
            if any(len(_as_of(reader, dss.raw_get(k), revision)) for k in ("/CRLs", "/OCSPs") if k in dss):
                out.append(revision)
    except Exception:  # noqa: BLE001 - a hostile catalog or DSS: no revision is credited with data
        log.info("the DSS revisions cannot be read", exc_info=True)
        return ()
    return tuple(out)


def _dss_covers(status: PdfSignatureStatus, revinfo: _Revinfo) -> bool:
    """Whether the DSS's revocation data speak for the signer's chain: for every certificate
    of the validation path below the anchor that names a revocation source, a DSS CRL its
    issuer signed or a DSS OCSP answer about it. A DSS holding only a stranger's CRL makes
    no B-LT (EU DSS: no revocation data for the signing certificate, no LT level). A path
    that did not build (an untrusted signature, whose level is moot): any DSS data."""
    if not revinfo.dss_has_revinfo:
        return False
    path = status.validation_path
    if path is None:
        return True
    try:
        return _pairs_covered(_path_pairs(path), revinfo)
    except Exception:  # noqa: BLE001 - a path that cannot be read: no level from the DSS
        return False


def _pairs_covered(pairs: list[tuple[x509.Certificate, x509.Certificate]], revinfo: _Revinfo) -> bool:
    """Every (certificate, issuer) pair whose certificate names a revocation source has a
    DSS CRL its issuer signed or a DSS OCSP answer about it."""
    return next(iter(_uncovered(pairs, revinfo.dss_crls, revinfo.dss_ocsps)), None) is None


TsaOfT = tuple[x509.Certificate, list[x509.Certificate]]


def _t_evidence_tsa(
    sig: EmbeddedPdfSignature, stamps: SignatureTimestamps, doc_chain: DocumentTimestamps,
    doc_stamps: list[EmbeddedPdfSignature],
) -> TsaOfT | None:
    """The TSA certificate of ``sig``'s T evidence and the certificates its token carries:
    the signature timestamp that was used, else the earliest valid document timestamp after
    the signature. None without T evidence or when it cannot be read."""
    try:
        used = stamps.used
        if used is not None:
            signed_data = _token_values(sig.signer_info)[stamps.reports.index(used)]["content"]
            certs = limits.cms_certs(signed_data)
            tsa = _embedded_tsa_cert(signed_data)
            return (tsa, certs) if tsa is not None else None
        after = [rev for report, rev in doc_chain.results if report.passed and rev > sig.signed_revision]
        if not after:
            return None
        first = next(ts for ts in doc_stamps if ts.signed_revision == min(after))
        return first.signer_cert, list(first.other_embedded_certs)
    except Exception:  # noqa: BLE001 - a token or stamp that cannot be read again: no T evidence to cover
        return None


def _dss_covers_tsa(t_tsa: TsaOfT | None, anchors: list[x509.Certificate], revinfo: _Revinfo) -> bool:
    """Whether the DSS's revocation data speak for the TSA chain of the T evidence too
    (ETSI EN 319 142-1 B-LT: the validation data of the signature *and* of its time-stamp):
    each certificate of the chain up to an anchor that names a revocation source has a DSS
    CRL of its issuer or a DSS OCSP answer about it."""
    if t_tsa is None:
        return False
    tsa, certs = t_tsa
    try:
        path = anchored_path(tsa, [*certs, *revinfo.dss_certs, *anchors], anchors)
        return path is not None and _pairs_covered(path, revinfo)
    except Exception:  # noqa: BLE001 - a chain that cannot be read: no level from the DSS
        return False


def _level(
    revision: int, has_tst: bool, dss_covers: bool, doc_ts_revisions: Iterable[int], dss_revisions: Iterable[int]
) -> Level:
    """The PAdES baseline level of the signature signed in ``revision``.

    ``dss_covers``: the DSS holds revocation data for the signer's chain (``_dss_covers``);
    ``doc_ts_revisions``: the revisions of the document timestamps that validated;
    ``dss_revisions``: the revisions that write a DSS holding revocation data.

    T evidence is a valid signature timestamp, or else (ETSI EN 319 142-1: a document
    timestamp covering the signature reaches the T level too) the earliest valid
    document timestamp in a later revision. B-LT needs a DSS with revocation data for
    the signer's chain, written in a revision after the T evidence when that is a
    document timestamp; B-LTA a valid document timestamp after the signature that signs
    that DSS revision or a later one (it covers the DSS: ETSI EN 319 142-1 B-LTA). A DSS
    written after the last valid stamp is B-LT only: nothing archives it.

    A DSS written in the same update as the T timestamp (one DSS + one stamp over a B-B
    signature) does not make B-LT: that timestamp signs the DSS, so the DSS was written
    before the T evidence existed and its data cannot speak for the T timestamp's TSA at
    its time (revocation data for a TSA must be issued at or after the stamp, ETSI EN
    319 102-1), and no later timestamp protects it as archive data. Such a file is B-T;
    EU DSS would class its one stamp as an archive timestamp over a signature with no
    signature-level timestamp, i.e. no B-LTA either.
    """
    after = sorted(r for r in doc_ts_revisions if r > revision)
    if not has_tst and not after:
        return Level.B_B
    if not dss_covers:
        return Level.B_T
    floor = -1 if has_tst else after[0]
    lt = min((d for d in dss_revisions if d > floor), default=None)
    if lt is None:
        return Level.B_T
    return Level.B_LTA if any(r >= lt for r in after) else Level.B_LT


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
    revocation_unknown: tuple[str, ...] = (),
    key_purpose: str | None = None,
) -> tuple[Indication, SubIndication | None, list[str]]:
    """The decision table. ``revocation_unknown``: certificates of the path whose
    revocation status an online verification could not establish. ``key_purpose``:
    why the signer certificate may not sign documents (``keypurpose``), checked before
    trust because pyHanko does not check it for a certificate that is an anchor."""
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
    if key_purpose is not None:
        return Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE, [key_purpose]
    if status.trust_problem_indic is not None:
        ind, sub = _sub_from_pyhanko(status.trust_problem_indic)
        return ind, sub, [f"certificate validation: {sub.value}"]
    if not status.trusted:
        return Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, ["certificate not trusted"]
    if revocation_unknown:
        return Indication.INDETERMINATE, SubIndication.TRY_LATER, [
            "revocation status could not be obtained for: " + "; ".join(revocation_unknown)
            + " (see the fetch notes; a CRL file may be given instead)"
        ]
    if tst_present and not tst_ok:
        notes.append("no signature timestamp is valid and trusted (see the timestamps list)")
        return Indication.INDETERMINATE, SubIndication.NO_POE, notes
    return Indication.TOTAL_PASSED, None, notes


def _unsupported_report(
    sig: EmbeddedPdfSignature, name: str, covers: bool, reason: str, sub: SubIndication, ind: Indication
) -> SignatureReport:
    try:
        fields = signer_fields(sig.signer_cert)
    except Exception:  # noqa: BLE001 - no usable signer certificate in a broken CMS
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
    except Exception:  # noqa: BLE001 - e.g. PdfReadError for a malformed /M date
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
    stamps: SignatureTimestamps,
    dss_revisions: tuple[int, ...] = (),
    poe: datetime | None = None,
    t_tsa: TsaOfT | None = None,
) -> SignatureReport:
    """``doc_ts_revisions``: revisions of the document timestamps that validated;
    ``stamps``: this signature's timestamps, validated (``timestamps``); ``dss_revisions``:
    revisions that write a DSS with revocation data (``_level``); ``poe``: the proof of
    existence of the signature's revision (the earliest valid document timestamp after
    it), used as the validation moment of a signature without signature timestamps;
    ``t_tsa``: the TSA of the T evidence (``_t_evidence_tsa``), whose chain B-LT needs the
    DSS to cover as well."""
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
    tst_time = stamps.moment  # the earliest valid token; None when no token validates
    tst_ok = tst_time is not None
    if tst_ok:
        moment = min(tst_time, at)
    elif poe is not None and not stamps.present:
        # B-B extended: the first document timestamp after the signature proves it existed
        # then (past validation). Tokens that are present and fail give no such moment.
        moment = min(poe, at)
    else:
        moment = at
    try:
        with tokens_hidden(sig):  # validated above, one by one; pyHanko must not pick one
            status = run_sync(async_validate_pdf_signature(
                sig, signer_validation_context=_context(anchors, revinfo, moment, require_revocation),
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
        tst_present=stamps.present,
        tst_ok=tst_ok,
        revocation_unknown=_revocation_gaps(status, revinfo) if revinfo.online and status.trusted else (),
        key_purpose=signer_problem(status.signing_cert),
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
        timestamp_time=tst_time,
        level=_level(sig.signed_revision, tst_ok,
                     _dss_covers(status, revinfo) and _dss_covers_tsa(t_tsa, anchors, revinfo),
                     doc_ts_revisions, dss_revisions),
        signer=signer_fields(status.signing_cert),
        notes=tuple(notes),
    )


def _safe_verify_one(sig: EmbeddedPdfSignature, trailing_ok: bool, **kwargs) -> SignatureReport:
    """``_verify_one`` with a last guard: content of an uploaded file ends in a report."""
    try:
        return _verify_one(sig, trailing_ok=trailing_ok, **kwargs)
    except Exception as exc:  # noqa: BLE001
        log.info("signature %s could not be verified", getattr(sig, "field_name", "?"), exc_info=True)
        return _unsupported_report(
            sig, sig.field_name, trailing_ok, f"signature could not be processed ({type(exc).__name__})",
            SubIndication.FORMAT_FAILURE, Indication.TOTAL_FAILED,
        )


def _poe(sig: EmbeddedPdfSignature, doc_chain: DocumentTimestamps) -> datetime | None:
    """The proof of existence of ``sig``'s revision: the earliest valid document timestamp
    after it; None without one or when the revision cannot be told."""
    try:
        return doc_chain.poe(sig.signed_revision)
    except Exception:  # noqa: BLE001 - a signature whose revision cannot be told
        return None


def _signature_stamps(
    sig: EmbeddedPdfSignature, doc_chain: DocumentTimestamps, context_at, at: datetime
) -> SignatureTimestamps:
    """The signature timestamps of ``sig``, their TSA chains validated at the proof of
    existence the document timestamps give them (the earliest valid one after the
    signature's revision), else at ``at``. Unreadable revision: at ``at``."""
    poe = _poe(sig, doc_chain)
    moment = at if poe is None else min(poe, at)
    return signature_timestamps(sig, context_at, moment)


@pdfcheck.guarded
def verify_pdf(
    pdf: bytes,
    *,
    trust: Iterable[CertSource] = (),
    crls: Iterable[CrlSource] = (),
    at: datetime | None = None,
    policy: FetchPolicy | None = None,
    require_revocation: bool = False,
    online: bool = False,
    time_budget_s: float | None = None,
    known_revinfo: tuple[Iterable[asn1_crl.CertificateList], Iterable[asn1_ocsp.OCSPResponse]] = ((), ()),
) -> VerificationReport:
    """Verify every signature in ``pdf`` against the ``trust`` anchors.

    ``at``: validation moment (timezone-aware; default now). ``crls``: extra CRL files.
    ``policy``: what may be downloaded (:class:`~signing.netfetch.FetchPolicy`); None
    means offline, the safe default for untrusted input. ``online=True`` is a shorthand
    for ``FetchPolicy(enabled=True)`` (public addresses only) when no policy is given.
    Raises :class:`NotAPdfError` for input that is not a readable PDF; a PDF without
    signatures gives a report with no signatures (indication INDETERMINATE). Nothing
    inside the file (certificates, revocation URLs, DSS) makes it raise otherwise, but
    :class:`~signing.pdfcheck.InputLimitError` when verifying it would cost more than
    ``pdfcheck.Limits`` allow (size, revisions, decoded bytes, time). ``time_budget_s``:
    a shorter wall-time budget than ``pdfcheck.Limits.time_budget_s`` (a caller that stops
    waiting earlier, e.g. the HTTP API, so that its abandoned thread stops soon too).
    ``known_revinfo``: (CRLs, OCSP answers) the caller has just obtained for this moment under
    the same policy (``qujat.signflow``: what `signing.revocation.check_signer` decided with);
    they are used, and a certificate they cover is not asked about again when online.
    """
    if policy is None:
        policy = FetchPolicy(enabled=True) if online else OFFLINE
    head = pdf[:1024]
    if b"%PDF-" not in head:
        raise NotAPdfError("not a PDF file: no %PDF- header in the first 1024 bytes")
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    budget = pdfcheck.Budget(min(time_budget_s or pdfcheck.DEFAULT_LIMITS.time_budget_s,
                                 pdfcheck.DEFAULT_LIMITS.time_budget_s))
    structure = pdfcheck.read_structure(pdf, budget=budget)
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=pdfcheck.DEFAULT_LIMITS.decode)
        pdfcheck.check_signature_fields(reader)
        sigs = list(reader.embedded_regular_signatures)
        doc_stamps = list(reader.embedded_timestamp_signatures)
        sig_field_names = {n for n, _, _ in enumerate_sig_fields(reader)}
    except Exception as exc:  # noqa: BLE001 - PdfError, ValueError, KeyError and worse from a broken file
        reasons = [str(exc) or type(exc).__name__, *structure.problems]
        raise NotAPdfError("the PDF cannot be parsed: " + "; ".join(reasons)) from exc
    if not sigs and not doc_stamps:
        return VerificationReport(signatures=())
    anchors = load_certs(trust)
    dss_notes: list[FetchNote] = []
    dss = _read_dss(reader, dss_notes)
    trailing_ok = not _trailing_uncovered(pdf)
    review = pdfcheck.ReviewPolicy(structure, budget)  # pyHanko's diff, empty revisions skipped
    for sig in sigs:
        pdfcheck.review_with(sig, review)
    dss_pool = [*dss.certs, *(cert for response in dss.ocsps for cert in limits.ocsp_certs(response))]
    problem = dss.problem or _certificate_problem(sigs, doc_stamps, dss_pool)
    if problem is not None:  # nothing fetched, no chain built, no timestamp validated
        refused = _refused_for_limits(sigs, trailing_ok, problem)
        refused = pdfcheck.amend_all(refused, sigs, pdfcheck.Inspection(structure, reader, budget))
        return VerificationReport(signatures=refused, fetches=tuple(dss_notes))
    fetcher = Fetcher(policy) if policy.enabled else None
    known = (list(known_revinfo[0]), list(known_revinfo[1]))
    revinfo = _collect_revinfo(sigs, anchors, load_crls(crls), fetcher, doc_stamps, dss, dss_notes, known)
    contexts: dict[datetime, ValidationContext] = {}

    def tsa_context_at(moment: datetime) -> ValidationContext:
        if moment not in contexts:
            contexts[moment] = _context(anchors, revinfo, moment, require_revocation, tsa=True)
        return contexts[moment]

    doc_chain = document_timestamps(doc_stamps, tsa_context_at, at, [sig.signed_revision for sig in sigs])
    sig_stamps = [_signature_stamps(sig, doc_chain, tsa_context_at, at) for sig in sigs]
    doc_ts_revisions = doc_chain.passed_revisions
    dss_revisions = _dss_revinfo_revisions(reader) if revinfo.dss_has_revinfo else ()
    reports = tuple(
        _safe_verify_one(
            sig,
            trailing_ok,
            anchors=anchors,
            revinfo=revinfo,
            at=at,
            require_revocation=require_revocation,
            sig_field_names=sig_field_names,
            doc_ts_revisions=doc_ts_revisions,
            stamps=stamps,
            dss_revisions=dss_revisions,
            poe=_poe(sig, doc_chain),
            t_tsa=_t_evidence_tsa(sig, stamps, doc_chain, doc_stamps) if revinfo.dss_has_revinfo else None,
        )
        for sig, stamps in zip(sigs, sig_stamps)
    )
    reports = pdfcheck.amend_all(reports, sigs, pdfcheck.Inspection(structure, reader, budget))
    listed = (*(t for stamps in sig_stamps for t in stamps.reports), *doc_chain.reports)
    return VerificationReport(signatures=reports, fetches=revinfo.notes, timestamps=listed)
