"""Officials sign with their own EDS: the two-step signing workflow of a record (application
layer; no web framework).

`POST /documents` with ``signers`` renders the document and prepares it for the first signer
(`signing.deferred.prepare`: signature field, empty ``/Contents``, the SHA-256 of the byte
ranges); the record is ``awaiting_signature``. `next_step` tells who signs next and the digest;
`submit` takes the CMS made elsewhere (NCALayer's basics module, `qujat sign-digest`) and, when
every check passes, embeds it and prepares the next signer's step, or — after the last signer —
writes version 1 and makes the record `valid`. Each accepted signature is one store transaction
(`store.signing.SigningSteps.accept_signature`) with its ``sign`` audit event.

What a CMS must pass, in this order (the first failure answers; nothing is written, no blob
referenced, no audit event; the refusal is logged without personal data beyond the step):

1. the record awaits a signature and this CMS is not one already in it (409 ``already_signed``,
   also for another CMS over an earlier step's digest), and the record is still awaiting
   (409 ``not_awaiting``);
2. `signing.deferred.embed` with the runtime's trust anchors at the runtime clock's now: one
   detached SHA-256 CAdES over id-data (400 ``bad_cms``), message-digest = the prepared digest
   (422 ``digest_mismatch``), the signature over the signed attributes verifies (422
   ``signature_invalid``), key usage allows signing documents (422 ``key_usage``), the chain in
   the CMS reaches an anchor at now (422 ``untrusted_signer``), it fits the reservation (413
   ``cms_too_large``);
3. who signed (`signing.ncacert`): the certificate carries the expected IIN and/or BIN (422
   ``wrong_signer``, naming who is expected, masked; 409 ``out_of_order`` when it is a later
   signer's, 409 ``already_signed`` when an earlier one's). A BIN also needs an NCA organisation
   role that may sign for the organisation: ORGANIZATION (1.2.398.3.3.4.1.2) with CEO, the first
   head (…4.1.2.1), or CAN_SIGN (…4.1.2.2); an employee (…4.1.2.5), HR (…4.1.2.4) or
   financial-only (…4.1.2.3) certificate is refused (422 ``role_refused``);
4. the signer certificate's revocation status at now (``QUJAT_SIGNATURE_REVOCATION``, the
   runtime settings' ``signature_revocation``; `signing.revocation.check_signer`): from the
   revocation data the CMS carries if it speaks for now, else from the certificate's own OCSP
   responder, then its CRL, downloaded under the runtime's fetch policy's limits (time budget,
   size, QUJAT_FETCH_ALLOW_PRIVATE) even when QUJAT_VERIFY_ONLINE is off. ``require`` (the
   default): revoked → 422 ``revoked``; not establishable (no URL, network down, stale or
   badly signed answers) → 503 ``revocation_unavailable`` with ``Retry-After``
   (`RevocationUnavailable`: nothing changes, a signing-page ticket stays good), the message
   naming the certificate's issuer. ``try``: as ``require``, but an unknown status is
   accepted (logged; the audit event's ``revocation.status`` is ``unknown``). ``off``: not
   checked here. The ``sign`` audit event's ``revocation`` keeps what decided: the status,
   each OCSP answer whole (base64 DER, SHA-256, producedAt, thisUpdate, nextUpdate), each CRL
   by SHA-256 and dates, or why the status is unknown. (Not in the PDF's DSS: a signature
   without a timestamp is verified at the verifier's now, where that data is stale and
   pyhanko-certvalidator fails it; `signing.revocation`.)
5. our verifier on the signed result (`signing.verify.verify_pdf`, the runtime's anchors and
   fetch policy, at now): every signature TOTAL_PASSED — intact, trusted, not revoked (422
   ``revoked`` / ``verification_failed``); an earlier official's signature that fails now only
   because its certificate expired since passes if it passes at the time the service took it.
   Offline (the default fetch policy) it reads the revocation data the document carries; with
   ``QUJAT_VERIFY_ONLINE`` the CRL/OCSP of the whole chain are fetched, but for a certificate
   that step 4's OCSP answers or CRLs cover: they are given to the verifier, so the signer's
   responder is asked once per signature.

Tickets for the official's signing page (`issue_ticket`): 256 random bits, only their SHA-256
stored, good for one record's current step, until they expire, once (used in the signature's own
transaction: `submit_with_ticket`).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qujat.runtime import Runtime
from qujat.service import Caller, _record_id, _store, template_refs
from signing.ncacert import signer_fields
from store import Conflict, NewVersion, NotFound, Record, SignatureInfo, Status
from store.signing import PreparedStep, SigningState, TicketRejected

__all__ = ["SigningStep", "Ticket", "SignatureRefused", "RevocationUnavailable", "TicketInvalid", "next_step", "submit",
           "issue_ticket", "check_ticket", "submit_with_ticket", "pending_pdf", "signing_state",
           "create_awaiting", "progress", "Progress", "mask_iin", "DIGEST_ALGORITHM", "MAX_CMS_BYTES",
           "SIGNING_ROLES", "RETRY_AFTER_REVOCATION"]

log = logging.getLogger(__name__)

DIGEST_ALGORITHM = "sha256"
#: A CMS larger than this is refused before it is parsed (the reservation is 16 KiB of DER).
MAX_CMS_BYTES = 64 * 1024
#: NCA role names (`signing.ncacert.ROLE_OIDS`) that may sign for an organisation (a BIN is
#: expected): its first head, or a person given the right to sign. Both need ORGANIZATION too.
SIGNING_ROLES = frozenset({"ceo", "can_sign"})
_ORGANIZATION = "organization"
#: Seconds a client should wait before sending a CMS again whose revocation status could not
#: be established (a CA's responder down, typically for minutes).
RETRY_AFTER_REVOCATION = 30


@dataclass(frozen=True)
class SigningStep:
    """Who signs next and what: the digest of the prepared PDF's byte ranges."""

    record_id: uuid.UUID
    signer_index: int
    total: int
    expected: Mapping[str, str | None]        # {"role": …, "iin": … or None, "bin": … or None}
    digest_algorithm: str
    digest: bytes

    def to_json(self) -> dict[str, Any]:
        """The answer of ``GET /documents/{id}/signing`` (spec §6; ``total`` added)."""
        return {"signer_index": self.signer_index, "total": self.total,
                "expected": dict(self.expected), "digest_algorithm": self.digest_algorithm,
                "digest": base64.b64encode(self.digest).decode("ascii")}


@dataclass(frozen=True)
class Ticket:
    """A signing-page ticket, shown once: the store keeps only its SHA-256."""

    ticket: str
    expires_at: dt.datetime


class SignatureRefused(Exception):
    """A submitted CMS is refused; nothing changed. ``status`` is the HTTP status to answer
    (4xx), ``code`` machine-readable, ``message`` safe to show as is (personal data masked)."""

    status = 422
    code = "signature_refused"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 path: str = "cms", headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.headers: dict[str, str] = dict(headers or {})    # to answer with (Retry-After)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class MalformedSignature(SignatureRefused):
    """The CMS is not base64/DER, truncated, or not a detached CAdES over id-data (400)."""

    status = 400
    code = "bad_cms"


class SignatureMismatch(SignatureRefused):
    """The CMS signs another digest, or its signature does not verify (422)."""

    code = "digest_mismatch"


class CertificateRefused(SignatureRefused):
    """The certificate's key usage, chain, revocation status or role does not allow it (422)."""

    code = "certificate_refused"


class RevocationUnavailable(SignatureRefused):
    """The signer certificate's revocation status cannot be established now (503, with
    ``Retry-After`` in ``headers``); nothing changed, a ticket stays good."""

    status = 503
    code = "revocation_unavailable"


class WrongSigner(SignatureRefused):
    """The certificate is not the expected signer's (422)."""

    code = "wrong_signer"


class SigningConflict(SignatureRefused):
    """Signed already, out of order, or the record does not await a signature (409)."""

    status = 409
    code = "conflict"


class TicketInvalid(Exception):
    """The ticket is unknown, expired, used, or another record's (or another step's). ``gone``:
    True when it was good for this record once (expired, used, its step signed since), False
    when it never opened it (unknown, malformed, another record's)."""

    def __init__(self, message: str, *, gone: bool = False):
        super().__init__(message)
        self.gone = gone


@dataclass(frozen=True)
class Progress:
    """A record's signing progress as a page shows it: who signed (common name, time) and who
    is still expected (role and masked identifiers)."""

    total: int
    next_index: int
    signed: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    expected: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


# -- creating an awaiting record --------------------------------------------------------------


def create_awaiting(rt: Runtime, request, content: Mapping[str, Any], rendered, *, token: str,
                    caller: Caller, idempotency_key: str | None) -> Record:
    """Prepare the rendered PDF for the first signer (a certification signature: DocMDP, later
    signatures allowed) and store the record awaiting signatures (`service.issue` calls it)."""
    from signing.deferred import prepare

    signers = [_signer_json(s) for s in request.signers]
    prepared = prepare(rendered.pdf, certify=True, reason=signers[0]["role"])
    return _store(rt).create_awaiting_record(
        client_id=caller.client_id, doc_type=request.type, language=content["language"],
        data=content["data"], token=token, docx=rendered.docx, templates=template_refs(rendered),
        signers=signers, prepared=_step(prepared), actor=caller.actor,
        external_id=request.external_id, idempotency_key=idempotency_key)


def _signer_json(signer) -> dict[str, str | None]:
    return {"role": signer.role, "iin": signer.iin, "bin": signer.bin}


def _step(prepared) -> PreparedStep:
    return PreparedStep(pdf=prepared.pdf, field_name=prepared.field_name, digest=prepared.digest,
                        contents_start=prepared.contents_start, contents_end=prepared.contents_end)


# -- reads --------------------------------------------------------------------------------------


def signing_state(rt: Runtime, record_id: uuid.UUID | str) -> SigningState | None:
    """The record's signing state, or None for a record the server signed itself."""
    try:
        return _store(rt).signing_state(_record_id(record_id))
    except NotFound:
        return None


def _awaiting(rt: Runtime, record_id: uuid.UUID | str) -> tuple[Record, SigningState]:
    store = _store(rt)
    record = store.get(_record_id(record_id))                    # NotFound
    state = signing_state(rt, record.id)
    if state is None or record.status is not Status.AWAITING_SIGNATURE or state.finished:
        raise Conflict(f"record {record.id} is {record.status.value}: it does not await a signature",
                       record_id=record.id)
    return record, state


def next_step(rt: Runtime, record_id: uuid.UUID | str) -> SigningStep:
    """Who signs next and the digest to sign. `store.NotFound`; `store.Conflict` if the record
    does not await a signature."""
    record, state = _awaiting(rt, record_id)
    return SigningStep(record_id=record.id, signer_index=state.next_index, total=state.total,
                       expected=dict(state.signers[state.next_index]),
                       digest_algorithm=DIGEST_ALGORITHM, digest=state.digest)


def pending_pdf(rt: Runtime, record_id: uuid.UUID | str) -> bytes:
    """The PDF as the next signer signs it (the earlier signatures and the empty field): what
    the digest covers, for the signing page's preview. `NotFound`, `Conflict` as `next_step`."""
    _, state = _awaiting(rt, record_id)
    return _store(rt).blobs.get(state.pdf_sha256)


def progress(rt: Runtime, record_id: uuid.UUID | str) -> Progress | None:
    """Who signed and who is expected, identifiers masked (the public page); None for a record
    the server signed itself."""
    state = signing_state(rt, record_id)
    if state is None:
        return None
    signed = tuple({"role": state.signers[d["index"]]["role"], "common_name": d["common_name"],
                    "time": dt.datetime.fromisoformat(d["time"])} for d in state.done)
    expected = tuple({"role": s["role"], "iin": mask_iin(s.get("iin")), "bin": s.get("bin")}
                     for s in state.signers[state.next_index:])
    return Progress(total=state.total, next_index=state.next_index, signed=signed, expected=expected)


def mask_iin(iin: str | None) -> str | None:
    """An IIN as pages and messages show it: the birth date kept, the rest hidden."""
    if not iin:
        return None
    return iin[:6] + "*" * (len(iin) - 6)


# -- submitting a signature ---------------------------------------------------------------------


def submit(rt: Runtime, record_id: uuid.UUID | str, cms_der: bytes, *, caller: Caller) -> Record:
    """Check ``cms_der`` (module docstring) and, if it passes, embed it: the next signer's step
    is prepared, or version 1 is written and the record becomes `valid`. `SignatureRefused`
    (nothing changes); `store.NotFound`."""
    return _submit(rt, record_id, cms_der, actor=caller.actor, ticket_hash=None)


def submit_with_ticket(rt: Runtime, record_id: uuid.UUID | str, ticket: str, cms_der: bytes) -> Record:
    """`submit` for the signing page: the ticket must be good for the record's current step, and
    it is used in the signature's own transaction (`TicketInvalid` otherwise, also when it was
    used meanwhile). A refused CMS leaves the ticket unused."""
    check_ticket(rt, record_id, ticket)
    ticket_hash = _ticket_hash(ticket)
    return _submit(rt, record_id, cms_der, actor=f"ticket:{ticket_hash[:12]}", ticket_hash=ticket_hash)


def _submit(rt: Runtime, record_id: uuid.UUID | str, cms_der: bytes, *, actor: str,
            ticket_hash: str | None) -> Record:
    store = _store(rt)
    record = store.get(_record_id(record_id))                    # NotFound
    try:
        return _checked_submit(rt, record, cms_der, actor=actor, ticket_hash=ticket_hash)
    except SignatureRefused as refused:
        log.warning("signature refused for record %s (%s): %s %s", record.id, actor, refused.code,
                    refused.status)
        raise


def _checked_submit(rt: Runtime, record: Record, cms_der: bytes, *, actor: str,
                    ticket_hash: str | None) -> Record:
    from signing import deferred

    store = _store(rt)
    state = signing_state(rt, record.id)
    if state is None:
        raise SigningConflict("this document was signed by the server: it takes no officials' "
                              "signatures", code="not_awaiting")
    if not isinstance(cms_der, (bytes, bytearray)) or not cms_der:
        raise MalformedSignature("the CMS is empty")
    cms_der = bytes(cms_der)
    if len(cms_der) > MAX_CMS_BYTES:
        raise SignatureRefused(f"the CMS has {len(cms_der)} bytes; at most {MAX_CMS_BYTES} are taken",
                               code="cms_too_large", status=413)
    cms_sha256 = hashlib.sha256(cms_der).hexdigest()
    for done in state.done:
        if done["cms_sha256"] == cms_sha256:
            raise SigningConflict(f"this signature is in the document already (signer "
                                  f"{done['index'] + 1} of {state.total}): it is signed already",
                                  code="already_signed")
    if record.status is not Status.AWAITING_SIGNATURE or state.finished:
        raise SigningConflict(f"the document is {record.status.value}: it does not await a signature",
                              code="not_awaiting")
    index = state.next_index
    prepared = deferred.Prepared(pdf=store.blobs.get(state.pdf_sha256), field_name=state.field_name,
                                 digest=state.digest, contents_start=state.contents_start,
                                 contents_end=state.contents_end)
    at = rt.clock()
    try:
        embedded = deferred.embed_checked(prepared, cms_der, trust=rt.trust_anchors, at=at)
    except deferred.DigestMismatch as e:
        if e.signed_digest in {bytes.fromhex(d["digest"]) for d in state.done}:
            raise SigningConflict("this CMS signs an earlier signer's digest: that step is signed "
                                  "already", code="already_signed") from e
        raise SignatureMismatch(f"the CMS signs another digest than the one served for signer "
                                f"{index + 1} (GET /documents/{record.id}/signing)") from e
    except deferred.BadState:
        raise                                               # the stored state is broken: a 500
    except deferred.BadCms as e:
        raise MalformedSignature(f"the CMS is not a detached CAdES over id-data: {e}") from e
    except deferred.SignatureInvalid as e:
        raise SignatureMismatch(str(e), code="signature_invalid") from e
    except deferred.KeyPurposeRefused as e:
        raise CertificateRefused(f"the certificate's key usage does not allow signing documents: {e}",
                                 code="key_usage") from e
    except deferred.UntrustedSigner as e:
        raise CertificateRefused("the signer's certificate does not chain to a trusted CA at this "
                                 "moment (unknown CA, expired or not yet valid)",
                                 code="untrusted_signer") from e
    except deferred.TooLarge as e:
        raise SignatureRefused(str(e), code="cms_too_large", status=413) from e
    except deferred.AlreadySigned as e:
        raise SigningConflict(str(e), code="already_signed") from e
    signed_pdf, cert = embedded.pdf, embedded.signer_cert
    who = signer_fields(cert)
    _check_identity(state, index, who)
    revocation = _check_revocation(rt, embedded, at, record.id, index)
    _check_verified(rt, signed_pdf, prepared.field_name, at,
                    {d["field"]: dt.datetime.fromisoformat(d["time"]) for d in state.done if d.get("field")},
                    revocation)
    signed = {"index": index, "field": prepared.field_name, "common_name": who.common_name,
              "iin": who.iin or None,
              "bin": who.bin or None, "time": at.astimezone(dt.timezone.utc).isoformat(),
              "cms_sha256": cms_sha256, "digest": state.digest.hex()}
    details = {"signer": {"common_name": who.common_name, "iin": who.iin or None,
                          "bin": who.bin or None, "roles": list(who.roles),
                          "certificate": {"sha256": hashlib.sha256(cert.dump()).hexdigest(),
                                          "serial": format(cert.serial_number, "x"),
                                          "issuer": cert.issuer.human_friendly}},
               "role": state.signers[index]["role"], "cms_sha256": cms_sha256,
               "digest": state.digest.hex(), "prepared_pdf_sha256_before": state.pdf_sha256,
               "signed_pdf_sha256": hashlib.sha256(signed_pdf).hexdigest()}
    if revocation is not None:
        details["revocation"] = revocation.details()
    last = index + 1 == state.total
    next_prepared = final = None
    if last:
        signatures = [SignatureInfo(signer=d["common_name"] or state.signers[d["index"]]["role"],
                                    time=dt.datetime.fromisoformat(d["time"]))
                      for d in (*state.done, signed)]
        final = NewVersion(pdf=signed_pdf, docx=store.blobs.get(state.docx_sha256),
                           templates=state.templates, signatures=tuple(signatures))
    else:
        next_prepared = _step(deferred.prepare(signed_pdf, reason=state.signers[index + 1]["role"]))
    try:
        updated, _ = store.accept_signature(record.id, index=index, signed=signed, actor=actor,
                                            details=details, next_step=next_prepared, final=final,
                                            ticket_hash=ticket_hash)
    except TicketRejected as e:
        raise TicketInvalid(str(e), gone=e.gone) from e
    except Conflict as e:
        raise SigningConflict(f"the document changed meanwhile ({e}); ask for the signing step again",
                              code="out_of_order") from e
    log.info("record %s: signature %d of %d accepted (%s)", record.id, index + 1, state.total, actor)
    return updated


def _check_revocation(rt: Runtime, embedded, at: dt.datetime, record_id: uuid.UUID, index: int):
    """Step 4 of the module docstring: the `signing.revocation.RevocationCheck`, or None when
    the mode is ``off``. `CertificateRefused` (revoked), `RevocationUnavailable` (``require``
    and unknown)."""
    from signing.certload import load_certs
    from signing.revocation import GOOD, REVOKED, check_signer

    mode = rt.settings.signature_revocation
    if mode == "off":
        return None
    check = check_signer(embedded.signer_cert, others=embedded.other_certs, anchors=load_certs(rt.trust_anchors),
                         at=at, policy=rt.fetch_policy,
                         carried=(embedded.carried_crls, embedded.carried_ocsps))
    if check.status == GOOD:
        return check
    source = {"cms": "the revocation data in the CMS", "ocsp": "the OCSP answer",
              "crl": "the CRL"}.get(check.source or "", "the revocation data")
    if check.status == REVOKED:
        since = f" since {check.revoked_at.isoformat()}" if check.revoked_at is not None else ""
        raise CertificateRefused(f"the new signature: the certificate is revoked (REVOKED): {source} of "
                                 f"{check.issuer} says so{since}", code="revoked")
    if mode == "try":
        log.warning("record %s: signer %d's certificate (issuer %s) accepted with its revocation status "
                    "unknown: %s", record_id, index + 1, check.issuer, check.reason)
        return check
    raise RevocationUnavailable(
        f"the revocation status of the signer's certificate (issued by {check.issuer}) cannot be "
        f"established now ({check.reason}); nothing was changed: send the same signature again later",
        headers={"Retry-After": str(RETRY_AFTER_REVOCATION)})


def _matches(expected: Mapping[str, Any], who) -> bool:
    return ((expected.get("iin") is None or expected["iin"] == who.iin)
            and (expected.get("bin") is None or expected["bin"] == who.bin))


def _describe(index: int, expected: Mapping[str, Any]) -> str:
    ids = [f"IIN {mask_iin(expected['iin'])}" if expected.get("iin") else None,
           f"BIN {expected['bin']}" if expected.get("bin") else None]
    return f"signer {index + 1} ({expected['role']}: {', '.join(i for i in ids if i)})"


def _check_identity(state: SigningState, index: int, who) -> None:
    expected = state.signers[index]
    if not _matches(expected, who):
        for other in range(state.total):
            if other != index and _matches(state.signers[other], who):
                if other < index:
                    raise SigningConflict(f"{_describe(other, state.signers[other])} has signed already; "
                                          f"now {_describe(index, expected)} signs",
                                          code="already_signed")
                raise SigningConflict(f"{_describe(other, state.signers[other])} signs after "
                                      f"{_describe(index, expected)}: out of order",
                                      code="out_of_order")
        raise WrongSigner(f"the certificate is not the expected signer's: {_describe(index, expected)} "
                          f"must sign now")
    if expected.get("bin") is not None:
        roles = set(who.roles)
        if _ORGANIZATION not in roles or not roles & SIGNING_ROLES:
            raise CertificateRefused(
                f"{_describe(index, expected)} signs for the organisation: the certificate must be an "
                "organisation's (NCA role ORGANIZATION) of its first head (CEO) or of a person with "
                "the right to sign (CAN_SIGN)", code="role_refused")


def _check_verified(rt: Runtime, signed_pdf: bytes, field_name: str, at: dt.datetime,
                    accepted: Mapping[str, dt.datetime], check=None) -> None:
    """Our verifier on the signed result: every signature must pass at ``at``. An earlier
    signature that the service took itself (``accepted``: its field → when) and that fails now
    for another reason than revocation — its certificate expired since, typically — passes when
    it passes at the moment it was taken: its bytes are the service's own since, and integrity
    and the changes after it are judged the same at any moment. Without this, a document whose
    first official's certificate expires before the next one signs could never be completed.
    ``check``: step 4's `RevocationCheck` (or None): the OCSP answers and CRLs it decided with
    are given to the verifier, so that online it does not ask for the signer's status again."""
    from signing.model import Indication, SubIndication
    from signing.verify import verify_pdf

    def passed(sig) -> bool:
        return sig.indication is Indication.TOTAL_PASSED and sig.intact and sig.trusted and not sig.revoked

    def revoked(sig) -> bool:
        return sig.revoked or sig.sub_indication in (SubIndication.REVOKED, SubIndication.REVOKED_NO_POE,
                                                     SubIndication.REVOKED_CA_NO_POE)

    known = (check.crls, check.ocsps) if check is not None else ((), ())
    report = verify_pdf(signed_pdf, trust=rt.trust_anchors, at=at, policy=rt.fetch_policy, known_revinfo=known)
    mine = [s for s in report.signatures if s.field == field_name]
    if not mine:
        raise CertificateRefused("the signed document shows no signature in the prepared field",
                                 code="verification_failed")
    for sig in report.signatures:
        if passed(sig):
            continue
        if sig.field != field_name and sig.field in accepted and not revoked(sig):
            then = verify_pdf(signed_pdf, trust=rt.trust_anchors, at=accepted[sig.field], policy=rt.fetch_policy)
            if any(s.field == sig.field and passed(s) for s in then.signatures):
                continue
        whose = "the new signature" if sig.field == field_name else f"the earlier signature {sig.field}"
        why = sig.sub_indication.value if sig.sub_indication else sig.indication.value
        if revoked(sig):
            raise CertificateRefused(f"{whose}: the certificate is revoked ({why})", code="revoked")
        raise CertificateRefused(f"{whose} does not pass verification ({why})", code="verification_failed")


# -- tickets ------------------------------------------------------------------------------------


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def issue_ticket(rt: Runtime, record_id: uuid.UUID | str, *, caller: Caller,
                 ttl: dt.timedelta = dt.timedelta(minutes=15)) -> Ticket:
    """A single-use ticket for the signing page of the record's current step (256 random bits;
    only its SHA-256 is stored). `NotFound`; `Conflict` if the record does not await a
    signature."""
    if not dt.timedelta(seconds=30) <= ttl <= dt.timedelta(hours=24):
        raise ValueError("a ticket lives between 30 seconds and 24 hours")
    record, _ = _awaiting(rt, record_id)
    ticket = secrets.token_urlsafe(32)
    expires_at = rt.clock() + ttl
    _store(rt).add_signing_ticket(record.id, _ticket_hash(ticket), expires_at=expires_at,
                                  actor=caller.actor)
    return Ticket(ticket=ticket, expires_at=expires_at)


def check_ticket(rt: Runtime, record_id: uuid.UUID | str, ticket: str) -> None:
    """`TicketInvalid` unless ``ticket`` is good now for the record's current step (unknown,
    expired, used, another record's or another step's are all refused)."""
    if not isinstance(ticket, str) or not 16 <= len(ticket) <= 128:
        raise TicketInvalid("unknown ticket")
    try:
        rid = _record_id(record_id)
    except NotFound:
        raise TicketInvalid("unknown ticket") from None
    try:
        _store(rt).check_signing_ticket(rid, _ticket_hash(ticket))
    except TicketRejected as e:
        raise TicketInvalid(str(e), gone=e.gone) from None
