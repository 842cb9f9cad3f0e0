"""Signature and document timestamps, each validated on its own.

Why not pyHanko's choice. The signature timestamp tokens are *unsigned* attributes of
the CMS, and a PDF signature's /Contents lies outside its byte range: anyone holding a
signed file can add tokens (a second attribute, or more values of the one attribute)
without touching a signed byte. pyHanko validates the tokens in order and keeps the
first trusted one; reading the time from some other token than the one validated let
a self-made TSA's token, put in front, move the validation moment to before a
revocation or an expiry. So here every token is validated, and only a token that
passes every check below may give the validation moment:

* structure: a CMS SignedData whose content is a TSTInfo (RFC 3161 §2.4.2) with a
  genTime that carries its time zone (a naive time is not a moment);
* certificates: at most ``limits.MAX_CMS_CERTS``, at most ``limits.MAX_CERTS_PER_SUBJECT``
  with one subject, checked before the TSA's chain is built (a maze of same-named CAs made
  the chain builder try every ordering of them);
* message imprint: the hash of *this* signature's value (a token for another
  signature proves nothing about this one);
* the TSA's signature over the TSTInfo (pyHanko: signed attributes, message digest,
  content type, ESS signing certificate);
* the TSA certificate chains to a trust anchor and is valid at the validation time
  (pyHanko's path validation, revocation as configured);
* the TSA certificate is for time-stamping (``keypurpose.tsa_problem``), also when it
  is itself a trust anchor (pyHanko skips that check for anchors);
* the genTime lies within the TSA certificate's validity period (the chain itself is
  validated at a later moment: the verification moment or a later stamp's time).

The earliest token that passes is the proof of existence (the conventional choice:
the signature existed at the earliest proven time), ``used`` in the report. Tokens
that fail are reported with their own indication and otherwise ignored; a signature
whose tokens all fail has no proof of existence (see ``verify._judge``).

Document timestamps (/DocTimeStamp) get the same checks, with the imprint taken over
their own byte range, and must cover their whole revision. Only one that passes may
raise the earlier signatures to B-LTA.

Proof of existence (ETSI EN 319 102-1 past validation, as far as this verifier goes).
The document timestamps form a chain, validated newest first (``document_timestamps``):

* the newest one is validated at the verification moment: its TSA certificate must be
  valid then, and not revoked by then per the revocation data at hand;
* once it passes, its genTime is proof of existence (PoE) of everything its revision
  covers: the earlier revisions, their signatures and signature timestamps, the earlier
  document timestamps and the DSS with its certificates, CRLs and OCSP responses;
* so each earlier document timestamp is validated at the PoE time the nearest later
  valid one gives, and each signature's timestamps at the PoE of the earliest valid
  document timestamp after that signature (``DocumentTimestamps.poe``): a TSA
  certificate that expired or was revoked *after* that moment no longer matters, one
  that was revoked *before* it still fails the token.

A document timestamp that fails gives no PoE and is skipped in the chain (it can deny a
level, never create one); the one before it is validated at the PoE of the nearest
later one that passed, or at the verification moment.

Why not pyHanko's ``ades_lta_validation`` (``pyhanko.sign.validation.ades``): its design
is the one followed here (the document timestamps as the evidence record, the newest
validated at the current time, each earlier one at the next one's time), but it keeps
the first signature timestamp that passes (the token-order problem above), does not
apply our key-purpose check to a TSA that is itself an anchor, goes on "without past
proof of existence" when the chain fails (a log line, not a result), and its result
does not give the per-token report the verifier lists.

Nothing here raises on content of the file: every failure becomes a report.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterator

from asn1crypto import cms, core, tsp, x509
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, async_validate_pdf_timestamp
from pyhanko.sign.validation.status import SignatureCoverageLevel, TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from ._aio import run_sync
from .keypurpose import tsa_problem
from .limits import cert_set_problem
from .model import Indication, SubIndication, TimestampKind, TimestampReport

__all__ = [
    "ContextAt",
    "DocumentTimestamps",
    "SignatureTimestamps",
    "signature_timestamps",
    "document_timestamps",
    "tokens_hidden",
    "issued_token_problem",
]

ContextAt = Callable[[datetime], ValidationContext]
"""A validation context for TSA chains at a given moment (``verify`` caches them)."""


class _Bad(Exception):
    """A timestamp that does not pass, with its indication and a fixed-vocabulary reason."""

    def __init__(self, indication: Indication, sub: SubIndication, reason: str, tsa: str = "",
                 time: datetime | None = None):
        super().__init__(reason)
        self.indication, self.sub, self.reason, self.tsa, self.time = indication, sub, reason, tsa, time


def _format(reason: str, **kw) -> _Bad:
    return _Bad(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, reason, **kw)


@dataclass(frozen=True)
class SignatureTimestamps:
    """The signature timestamps of one signature, in the order found in the CMS."""

    reports: tuple[TimestampReport, ...] = ()

    @property
    def present(self) -> bool:
        return bool(self.reports)

    @property
    def used(self) -> TimestampReport | None:
        """The earliest valid token: the proof of existence, or None."""
        return next((r for r in self.reports if r.used), None)

    @property
    def moment(self) -> datetime | None:
        used = self.used
        return used.time if used is not None else None


def _tsa_name(cert: x509.Certificate | None) -> str:
    if cert is None:
        return ""
    try:
        return cert.subject.human_friendly
    except Exception:  # noqa: BLE001 - a subject that does not decode
        return "(unreadable subject)"


def _embedded_tsa_cert(signed_data: cms.SignedData) -> x509.Certificate | None:
    """The certificate the token's SignerInfo names, if the token carries it."""
    try:
        sid = signed_data["signer_infos"][0]["sid"]
        for choice in signed_data["certificates"] or ():
            if choice.name != "certificate":
                continue
            cert = choice.chosen
            if sid.name == "issuer_and_serial_number":
                if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                    return cert
            elif cert.key_identifier == sid.chosen.native:
                return cert
    except Exception:  # noqa: BLE001 - hostile token: no name then
        return None
    return None


def _tst_info(signed_data: cms.SignedData, tsa: str) -> tuple[tsp.TSTInfo, datetime]:
    """The TSTInfo and its genTime, or _Bad (FORMAT_FAILURE, naming ``tsa``)."""
    try:
        eci = signed_data["encap_content_info"]
        if eci["content_type"].native != "tst_info":
            raise _format("the timestamp token does not hold a TSTInfo", tsa=tsa)
        content = eci["content"]
        tst_info = content.parsed if isinstance(content, core.ParsableOctetString) else None
        if not isinstance(tst_info, tsp.TSTInfo):
            raise _format("the timestamp token does not hold a TSTInfo", tsa=tsa)
        tst_info.native  # parse it all now: a broken field fails here, not later
        gen_time = tst_info["gen_time"].native
    except _Bad:
        raise
    except Exception:  # noqa: BLE001 - asn1crypto raises many types on hostile DER
        raise _format("the timestamp token cannot be parsed", tsa=tsa) from None
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise _format("the timestamp's genTime has no time zone (RFC 3161 requires UTC)", tsa=tsa)
    return tst_info, gen_time


def _signed_data(value) -> cms.SignedData:
    """The SignedData of an attribute value that should be a TimeStampToken."""
    try:
        if not isinstance(value, cms.ContentInfo) or value["content_type"].native != "signed_data":
            raise _format("the timestamp token is not a CMS SignedData")
        signed_data = value["content"]
        if not isinstance(signed_data, cms.SignedData):
            raise _format("the timestamp token is not a CMS SignedData")
        return signed_data
    except _Bad:
        raise
    except Exception:  # noqa: BLE001
        raise _format("the timestamp token cannot be parsed") from None


def _within_limits(signed_data: cms.SignedData, what: str) -> None:
    """_Bad (FORMAT_FAILURE) when the token carries more certificates than ``limits`` allow:
    checked before pyHanko builds the TSA's chain from them (``verify`` checks the whole
    file first; this keeps the rule where the chains are built)."""
    try:
        problem = cert_set_problem(signed_data, what)
    except Exception:  # noqa: BLE001 - asn1crypto raises many types on hostile DER
        problem = f"the certificates of {what} cannot be read"
    if problem is not None:
        raise _format(problem)


def _from_pyhanko(indic) -> tuple[Indication, SubIndication]:
    try:
        sub = SubIndication[indic.name]
    except KeyError:
        sub = SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    return (Indication.TOTAL_FAILED if isinstance(indic, AdESFailure) else Indication.INDETERMINATE), sub


def _from_error(exc: SignatureValidationError) -> tuple[Indication, SubIndication]:
    """pyHanko's sub-indication when it is one of ours, else a format failure."""
    indic = getattr(exc, "ades_subindication", None)
    if indic is not None and indic.name in SubIndication.__members__:
        return _from_pyhanko(indic)
    return Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE


def _judge_status(status: TimestampSignatureStatus, time: datetime) -> str:
    """Raise _Bad unless pyHanko's status and our key-purpose policy pass; the TSA name."""
    cert = status.signing_cert
    tsa = _tsa_name(cert)
    if not status.intact:
        raise _Bad(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE,
                   "the timestamp's imprint or signed content does not match", tsa, time)
    if not status.valid:
        raise _Bad(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE,
                   "the TSA's signature on the timestamp does not verify", tsa, time)
    problem = tsa_problem(cert)
    if problem is not None:
        raise _Bad(Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE, problem, tsa, time)
    if status.trust_problem_indic is not None:
        ind, sub = _from_pyhanko(status.trust_problem_indic)
        if sub is SubIndication.NO_CERTIFICATE_CHAIN_FOUND:
            reason = "the TSA certificate does not chain to a trust anchor"
        elif sub is SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE:
            reason = ("the TSA certificate chain does not validate at the moment it is checked at "
                      "(trust anchor, validity period or revocation data)")
        else:
            reason = f"TSA certificate validation: {sub.value}"
        raise _Bad(ind, sub, reason, tsa, time)
    if not status.trusted:
        raise _Bad(Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                   "the TSA certificate is not trusted", tsa, time)
    # The chain is validated at a later moment (now, or a later stamp's time): a genTime
    # outside the TSA certificate's own validity is one no honest TSA writes.
    validity = cert["tbs_certificate"]["validity"]
    if time < validity["not_before"].native:
        raise _Bad(Indication.INDETERMINATE, SubIndication.NOT_YET_VALID,
                   "the timestamp's time is before its TSA certificate was valid", tsa, time)
    if time > validity["not_after"].native:
        raise _Bad(Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE,
                   "the timestamp's time is after its TSA certificate expired", tsa, time)
    return tsa


async def _check_token(value, context: ValidationContext, digest: Callable[[str], bytes | None],
                       not_this: str) -> tuple[str, datetime]:
    """(TSA name, genTime) of a timestamp token that passes every check listed above, for
    the imprint ``digest`` gives for the imprint's hash algorithm (None: the token may not
    use that algorithm; ``not_this`` is the reason when the imprint does not match); _Bad
    otherwise."""
    signed_data = _signed_data(value)
    _within_limits(signed_data, "the timestamp token")
    tsa = _tsa_name(_embedded_tsa_cert(signed_data))
    tst_info, gen_time = _tst_info(signed_data, tsa)
    imprint = tst_info["message_imprint"]
    try:
        expected = digest(imprint["hash_algorithm"]["algorithm"].native)
    except (ValueError, TypeError):
        raise _format("the timestamp's imprint uses an unknown hash algorithm", tsa=tsa, time=gen_time) from None
    if expected is None or expected != imprint["hashed_message"].native:
        raise _Bad(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, not_this, tsa, gen_time)
    try:
        status = TimestampSignatureStatus(**await validate_tst_signed_data(signed_data, context, digest))
    except SignatureValidationError as exc:
        ind, sub = _from_error(exc)
        raise _Bad(ind, sub, "the timestamp token is malformed", tsa, gen_time) from None
    except Exception:  # noqa: BLE001 - pyHanko and asn1crypto raise many types on hostile tokens
        raise _format("the timestamp token cannot be processed", tsa=tsa, time=gen_time) from None
    return _judge_status(status, gen_time), gen_time


async def _check_signature_token(value, signer_info: cms.SignerInfo, context: ValidationContext) -> tuple[str, datetime]:
    """(TSA name, genTime) of a token that passes; _Bad otherwise."""
    signature = signer_info["signature"].native
    return await _check_token(value, context, lambda algorithm: hashlib.new(algorithm, signature).digest(),
                              "the timestamp's imprint is not this signature's value")


async def issued_token_problem(token, message_digest: bytes, md_algorithm: str,
                               trust_roots: list[x509.Certificate]) -> str | None:
    """Why a token a TSA has just answered must not be used, or None: the checks of a
    signature timestamp token (the list above; the imprint must be ``message_digest`` made
    with ``md_algorithm``), the chain validated now against ``trust_roots`` without fetching
    (revocation soft-fail). ``netfetch.TsaClient`` asks this before it embeds or learns from
    a token, so that the signer refuses what the verifier would refuse."""
    context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False, revocation_mode="soft-fail")
    try:
        await _check_token(token, context, lambda algorithm: message_digest if algorithm == md_algorithm else None,
                           "the timestamp's imprint is not the digest sent to the TSA")
    except _Bad as bad:
        return bad.reason
    return None


_EMPTY = object()  # a signature-time-stamp-token attribute with no value
_UNREADABLE = object()  # unsigned attributes that cannot be iterated


def _token_values(signer_info: cms.SignerInfo) -> list[object]:
    """Every value of every signature-time-stamp-token attribute, in order."""
    values: list[object] = []
    try:
        unsigned = signer_info["unsigned_attrs"]
        if isinstance(unsigned, core.Void):
            return values
        for attr in unsigned:
            if attr["type"].native != "signature_time_stamp_token":
                continue
            found = list(attr["values"])
            values.extend(found or [_EMPTY])
    except Exception:  # noqa: BLE001
        values.append(_UNREADABLE)
    return values


def signature_timestamps(sig: EmbeddedPdfSignature, context_at: ContextAt, moment: datetime) -> SignatureTimestamps:
    """Validate each signature timestamp token of ``sig``; mark the earliest valid one
    ``used``. The TSA certificates are validated at ``moment`` (the verification moment,
    or the PoE a later document timestamp gives), which each report records as
    ``validated_at``; the context is only made when there is a token. Never raises."""
    try:
        name = sig.field_name
        signer_info = sig.signer_info
    except Exception:  # noqa: BLE001
        return SignatureTimestamps()
    values = _token_values(signer_info)
    if not values:
        return SignatureTimestamps()
    context = context_at(moment)

    async def check_all() -> list[TimestampReport]:
        out = []
        for value in values:
            if value is _EMPTY:
                bad = _format("a signature-time-stamp-token attribute holds no value")
            elif value is _UNREADABLE:
                bad = _format("the unsigned attributes cannot be parsed")
            else:
                try:
                    tsa, time = await _check_signature_token(value, signer_info, context)
                except _Bad as exc:
                    bad = exc
                else:
                    out.append(TimestampReport(TimestampKind.SIGNATURE, name, time, tsa, Indication.TOTAL_PASSED,
                                               validated_at=moment))
                    continue
            out.append(TimestampReport(TimestampKind.SIGNATURE, name, bad.time, bad.tsa, bad.indication,
                                       bad.sub, bad.reason, validated_at=moment))
        return out

    reports = run_sync(check_all())
    valid = [i for i, r in enumerate(reports) if r.passed]
    if valid:
        earliest = min(valid, key=lambda i: reports[i].time)
        reports[earliest] = replace(reports[earliest], used=True)
    return SignatureTimestamps(tuple(reports))


async def _check_document_stamp(ts: EmbeddedPdfSignature, context: ValidationContext) -> tuple[str, datetime]:
    try:
        signed_data = ts.signed_data
    except Exception:  # noqa: BLE001
        raise _format("the document timestamp is not a CMS SignedData") from None
    if not isinstance(signed_data, cms.SignedData):
        raise _format("the document timestamp is not a CMS SignedData")
    _within_limits(signed_data, "the document timestamp")
    tsa_cert = _embedded_tsa_cert(signed_data)
    _, gen_time = _tst_info(signed_data, _tsa_name(tsa_cert))
    try:
        status = await async_validate_pdf_timestamp(ts, validation_context=context, skip_diff=True)
    except SignatureValidationError as exc:
        ind, sub = _from_error(exc)
        raise _Bad(ind, sub, "the document timestamp is malformed", _tsa_name(tsa_cert), gen_time) from None
    except Exception:  # noqa: BLE001
        raise _format("the document timestamp cannot be processed", tsa=_tsa_name(tsa_cert), time=gen_time) from None
    tsa = _judge_status(status, gen_time)
    if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        raise _format("the document timestamp does not cover its whole revision", tsa=tsa, time=gen_time)
    return tsa, gen_time


@dataclass(frozen=True)
class DocumentTimestamps:
    """The document timestamps of a file, validated as a chain: ``results`` holds
    (report, revision it signs) in the order found in the file."""

    results: tuple[tuple[TimestampReport, int], ...] = ()

    @property
    def reports(self) -> tuple[TimestampReport, ...]:
        return tuple(report for report, _ in self.results)

    @property
    def passed_revisions(self) -> list[int]:
        return [revision for report, revision in self.results if report.passed]

    def poe(self, revision: int) -> datetime | None:
        """Proof of existence of what revision ``revision`` holds: the earliest genTime
        of a document timestamp that passed and signs a later revision; None if none."""
        return min((r.time for r, rev in self.results if r.passed and rev > revision), default=None)


def document_timestamps(
    stamps: list[EmbeddedPdfSignature],
    context_at: ContextAt,
    at: datetime,
    signature_revisions: list[int] = (),
) -> DocumentTimestamps:
    """Validate the document timestamps as a PoE chain, newest first: the newest at
    ``at``, each earlier one at the PoE of the nearest later one that passed (its
    genTime, capped at ``at``). A valid one is ``used`` when it follows at least one of
    ``signature_revisions``. Never raises."""
    if not stamps:
        return DocumentTimestamps()

    def revision_of(ts: EmbeddedPdfSignature) -> int:
        try:
            return ts.signed_revision
        except Exception:  # noqa: BLE001
            return -1

    async def check_all() -> list[tuple[TimestampReport, int]]:
        out: list[tuple[TimestampReport, int] | None] = [None] * len(stamps)
        control = at  # the moment the next (earlier) timestamp is validated at
        for index in sorted(range(len(stamps)), key=lambda i: revision_of(stamps[i]), reverse=True):
            ts = stamps[index]
            revision = revision_of(ts)
            try:
                name = ts.field_name
            except Exception:  # noqa: BLE001
                name = ""
            try:
                tsa, time = await _check_document_stamp(ts, context_at(control))
            except _Bad as bad:
                out[index] = (TimestampReport(TimestampKind.DOCUMENT, name, bad.time, bad.tsa, bad.indication,
                                              bad.sub, bad.reason, validated_at=control), revision)
                continue
            except Exception:  # noqa: BLE001 - last guard
                out[index] = (TimestampReport(TimestampKind.DOCUMENT, name, None, "", Indication.TOTAL_FAILED,
                                              SubIndication.FORMAT_FAILURE,
                                              "the document timestamp cannot be processed",
                                              validated_at=control), revision)
                continue
            used = any(r < revision for r in signature_revisions)
            out[index] = (TimestampReport(TimestampKind.DOCUMENT, name, time, tsa, Indication.TOTAL_PASSED,
                                          used=used, validated_at=control), revision)
            control = min(control, time)
        return out

    return DocumentTimestamps(tuple(run_sync(check_all())))


@contextmanager
def tokens_hidden(sig: EmbeddedPdfSignature) -> Iterator[None]:
    """Let pyHanko validate ``sig`` without seeing its signature timestamp tokens.

    pyHanko reads them from ``EmbeddedPdfSignature.signer_info`` (collect_timing_info);
    they have been validated here already, one by one, and a hostile token (no TSTInfo,
    say) would end pyHanko's whole validation in an exception. The signer's signature
    does not cover unsigned attributes, so the copy without them verifies the same.
    If pyHanko ever read the tokens elsewhere, the worst case is that hostile tokens
    end in an error report again (the test suite has such files), never a pass.
    """
    original = sig.signer_info
    try:
        stripped = cms.SignerInfo.load(original.dump())
        stripped["unsigned_attrs"] = None
    except Exception:  # noqa: BLE001 - leave it to pyHanko, which fails cleanly or not at all
        yield
        return
    sig.signer_info = stripped
    try:
        yield
    finally:
        sig.signer_info = original
