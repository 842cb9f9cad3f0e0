"""The revocation status of one signer certificate at one moment, and the data that decided it.

A service accepting a signature made elsewhere (an official's CMS, :mod:`signing.deferred`)
must know, at the moment it takes the signature, that the signer's certificate is not revoked.
:func:`check_signer` establishes that status for the end-entity certificate of a path that
already ends at a trust anchor:

1. from revocation data the CMS carries (``SignedData.crls``: CRLs and OCSP answers as
   ``id-ri-ocsp-response``; the Adobe ``adbe-revocationInfoArchival`` signed attribute), if
   any of it speaks for the moment;
2. else from the certificate's own OCSP responder (AIA), then its CRL distribution points,
   downloaded through a :class:`~signing.netfetch.Fetcher` under the caller's
   :class:`~signing.netfetch.FetchPolicy` (time budget, size, private-address rule). The URLs
   come from a certificate that chains to a trust anchor: netfetch's rule for what may be
   fetched.

What decides is pyhanko-certvalidator on the path with exactly that data, at the moment:
the answer must be signed by the issuer (or a responder it delegated to) and fresh by the
freshness rule: ``thisUpdate`` at most :data:`CLOCK_SKEW` after the moment and the moment not
after ``nextUpdate`` (an OCSP answer without ``nextUpdate``: within 30 minutes of its
``thisUpdate``, certvalidator's default). The end-entity certificate needs such data (CRL or
OCSP); certificates above it are checked with what is at hand, if anything (soft). A CRL
issued by a trust anchor that is not self-signed (the NCA's issuing CA when its root is not
configured), which certvalidator cannot place, is checked here by the same rules.

The outcome (:class:`RevocationCheck`) is ``good``, ``revoked`` or ``unknown`` (nothing
usable: no URL, network down, stale or badly signed answers), with the data that decided it;
:meth:`RevocationCheck.details` is what an audit trail keeps of it (each OCSP answer whole,
each CRL by hash and dates).

Why that data is not written into the PDF's DSS: a signature without a signature timestamp
(B-B, what NCALayer's basics module makes without a TSA profile) is verified at the verifier's
now, so an OCSP answer or CRL from the acceptance moment is stale for it minutes or days later,
and pyhanko-certvalidator (0.38) then fails the signature instead of treating the data as
absent; an OCSP answer about another certificate of the same CA (another official's) also
fails a signature that has no answer of its own. The verifier would have to give each
signature only the data that is about it and fresh at its validation time first.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Iterable

from asn1crypto import cms, ocsp, x509
from asn1crypto import crl as asn1_crl
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from ._aio import run_sync as _run
from .model import FetchNote, FetchOutcome
from .netfetch import Fetcher, FetchPolicy, revocation_sources

__all__ = ["GOOD", "REVOKED", "UNKNOWN", "CLOCK_SKEW", "MAX_CARRIED", "RevocationCheck",
           "carried_revinfo", "check_signer"]

GOOD, REVOKED, UNKNOWN = "good", "revoked", "unknown"
#: Revocation data issued this much after the moment still speaks for it (clocks differ).
CLOCK_SKEW = timedelta(minutes=1)
#: CRLs and OCSP answers taken from one CMS at most (each kind); the rest is ignored.
MAX_CARRIED = 4

_POLICY = CertRevTrustPolicy(RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT))


@dataclass(frozen=True)
class RevocationCheck:
    """What :func:`check_signer` found. ``source``: ``cms``, ``ocsp`` or ``crl`` (what decided),
    None when unknown. ``ocsps``/``crls``: the data that decided (empty when unknown).
    ``reason``: why the status is unknown, in fixed words (no exception text, no address).
    ``issuer``: the signer certificate's issuer, as a message names it."""

    status: str
    issuer: str
    source: str | None = None
    ocsps: tuple[ocsp.OCSPResponse, ...] = ()
    crls: tuple[asn1_crl.CertificateList, ...] = ()
    revoked_at: datetime | None = None
    reason: str = ""
    notes: tuple[FetchNote, ...] = field(default_factory=tuple)

    def details(self) -> dict[str, Any]:
        """For an audit event: the status, what decided it (each OCSP answer's SHA-256,
        producedAt, thisUpdate, nextUpdate and DER in base64: a few KiB, the proof itself; each
        CRL's SHA-256, thisUpdate and nextUpdate: a CRL may take megabytes), or why it is
        unknown."""
        out: dict[str, Any] = {"status": self.status, "source": self.source}
        if self.ocsps:
            out["ocsp"] = [_ocsp_summary(r) for r in self.ocsps]
        if self.crls:
            out["crl"] = [_crl_summary(c) for c in self.crls]
        if self.revoked_at is not None:
            out["revoked_at"] = self.revoked_at.isoformat()
        if self.status == UNKNOWN:
            out["reason"] = self.reason
            out["fetches"] = [{"kind": n.kind, "url": n.url, "outcome": n.outcome.value, "reason": n.reason}
                              for n in self.notes]
        return out


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _ocsp_summary(response: ocsp.OCSPResponse) -> dict[str, Any]:
    der = response.dump()
    out: dict[str, Any] = {"sha256": hashlib.sha256(der).hexdigest()}
    try:
        tbs = response["response_bytes"]["response"].parsed["tbs_response_data"]
        single = tbs["responses"][0] if len(tbs["responses"]) else None
        out.update(produced_at=_iso(tbs["produced_at"].native),
                   this_update=_iso(single["this_update"].native) if single is not None else None,
                   next_update=_iso(single["next_update"].native) if single is not None else None)
    except Exception:  # noqa: BLE001 - a CMS may carry an answer that is not a successful one
        out["readable"] = False
    out["der"] = base64.b64encode(der).decode("ascii")
    return out


def _crl_summary(crl: asn1_crl.CertificateList) -> dict[str, Any]:
    out: dict[str, Any] = {"sha256": hashlib.sha256(crl.dump()).hexdigest()}
    try:
        tbs = crl["tbs_cert_list"]
        out.update(this_update=_iso(tbs["this_update"].native), next_update=_iso(tbs["next_update"].native))
    except Exception:  # noqa: BLE001
        out["readable"] = False
    return out


def carried_revinfo(signed_data: cms.SignedData, signer_info: cms.SignerInfo
                    ) -> tuple[list[asn1_crl.CertificateList], list[ocsp.OCSPResponse]]:
    """CRLs and OCSP answers a CMS carries: its ``crls`` field (a CRL, or an OCSP answer as
    ``id-ri-ocsp-response``) and the ``adbe-revocationInfoArchival`` signed attribute; at most
    :data:`MAX_CARRIED` of each kind, anything unparsable skipped. Never raises."""
    crls: list[asn1_crl.CertificateList] = []
    ocsps: list[ocsp.OCSPResponse] = []

    def add(kind: list, value) -> None:
        if len(kind) < MAX_CARRIED:
            value.native  # noqa: B018 - parse it all now: a broken one is skipped here
            kind.append(value)

    try:
        for choice in signed_data["crls"] or ():
            try:
                if choice.name == "crl":
                    add(crls, choice.chosen)
                elif choice.chosen["other_rev_info_format"].native in ("ocsp_response", "1.3.6.1.5.5.7.16.2"):
                    add(ocsps, ocsp.OCSPResponse.load(choice.chosen["other_rev_info"].dump()))
            except Exception:  # noqa: BLE001 - a stranger's data: unusable is skipped
                continue
    except Exception:  # noqa: BLE001
        pass
    try:
        for attr in signer_info["signed_attrs"] or ():
            if attr["type"].native != "adobe_revocation_info_archival":
                continue
            for archival in attr["values"]:
                for value in archival["crl"] or ():
                    try:
                        add(crls, value)
                    except Exception:  # noqa: BLE001
                        continue
                for value in archival["ocsp"] or ():
                    try:
                        add(ocsps, value)
                    except Exception:  # noqa: BLE001
                        continue
    except Exception:  # noqa: BLE001
        pass
    return crls, ocsps


def _judge(cert: x509.Certificate, others: list[x509.Certificate], anchors: list[x509.Certificate],
           at: datetime, crls: Iterable, ocsps: Iterable) -> tuple[str, datetime | None]:
    """certvalidator on the path with exactly this data at ``at``: (status, revocation date)."""
    context = ValidationContext(trust_roots=anchors, other_certs=others, moment=at, allow_fetching=False,
                                crls=list(crls), ocsps=list(ocsps), revinfo_policy=_POLICY,
                                time_tolerance=CLOCK_SKEW)
    validator = CertificateValidator(cert, intermediate_certs=others, validation_context=context)
    try:
        _run(validator.async_validate_path())
    except RevokedError as exc:
        when = getattr(exc, "revocation_dt", None)
        return REVOKED, when if isinstance(when, datetime) else None
    except Exception:  # noqa: BLE001 - not enough usable data, stale, badly signed, no path
        return UNKNOWN, None
    return GOOD, None


def _issuer_of(cert: x509.Certificate, pool: Iterable[x509.Certificate]) -> x509.Certificate | None:
    for candidate in pool:
        if candidate.subject == cert.issuer and candidate.sha256 != cert.sha256:
            key_id = cert.authority_key_identifier
            if key_id is None or candidate.key_identifier in (None, key_id):
                return candidate
    return None


def check_signer(cert: x509.Certificate, *, others: Iterable[x509.Certificate], anchors: Iterable[x509.Certificate],
                 at: datetime, policy: FetchPolicy, carried: tuple[Iterable, Iterable] = ((), ())
                 ) -> RevocationCheck:
    """The revocation status of ``cert`` at ``at`` (module docstring). ``others``: the other
    certificates of the CMS; ``anchors``: the trust anchors (parsed); ``policy``: what may be
    downloaded (it is used as enabled: the caller decides whether to check at all);
    ``carried``: (CRLs, OCSP answers) the CMS carries. Never raises for data or network."""
    others, anchors = list(others), list(anchors)
    issuer_cert = _issuer_of(cert, [*others, *anchors])
    issuer = (issuer_cert.subject if issuer_cert is not None else cert.issuer).human_friendly
    carried_crls, carried_ocsps = (list(x) for x in carried)
    if carried_crls or carried_ocsps:
        status, when = _judge(cert, others, anchors, at, carried_crls, carried_ocsps)
        if status != UNKNOWN:
            return RevocationCheck(status, issuer, "cms", tuple(carried_ocsps), tuple(carried_crls), when)
    fetcher = Fetcher(replace(policy, enabled=True))
    sources = revocation_sources(cert)
    if issuer_cert is not None and sources.ocsp:
        response = fetcher.ocsp(cert, issuer_cert, sources)
        if response is not None:
            status, when = _judge(cert, others, anchors, at, (), (response,))
            if status != UNKNOWN:
                return RevocationCheck(status, issuer, "ocsp", (response,), (), when, notes=tuple(fetcher.notes))
    if sources.crl:
        crl = fetcher.crl(cert, sources)
        if crl is not None:
            status, when = _judge(cert, others, anchors, at, (crl,), ())
            if status == UNKNOWN and issuer_cert is not None and _is_intermediate_anchor(issuer_cert, anchors):
                status, when = _by_anchor_crl(cert, issuer_cert, crl, at)
            if status != UNKNOWN:
                return RevocationCheck(status, issuer, "crl", (), (crl,), when, notes=tuple(fetcher.notes))
    return RevocationCheck(UNKNOWN, issuer, reason=_unknown_reason(sources, fetcher, carried_crls or carried_ocsps),
                           notes=tuple(fetcher.notes))


def _is_intermediate_anchor(cert: x509.Certificate, anchors: list[x509.Certificate]) -> bool:
    return cert.self_signed == "no" and any(a.sha256 == cert.sha256 for a in anchors)


def _by_anchor_crl(cert: x509.Certificate, issuer: x509.Certificate, crl: asn1_crl.CertificateList,
                   at: datetime) -> tuple[str, datetime | None]:
    """A CRL issued by a trust anchor that is not self-signed (the NCA's issuing CA when its
    root is not configured): pyhanko-certvalidator cannot build the CRL issuer's path then, so
    it is judged here: fresh at ``at`` by the module's rule, then read as the verifier reads
    such a CRL (``chain.crl_says``: its issuer's name and signature, a revocation listed,
    silence meaning "good" only in a complete CRL)."""
    from .chain import crl_says

    try:
        tbs = crl["tbs_cert_list"]
        this_update, next_update = tbs["this_update"].native, tbs["next_update"].native
        if next_update is None or not this_update - CLOCK_SKEW <= at <= next_update + CLOCK_SKEW:
            return UNKNOWN, None
    except Exception:  # noqa: BLE001 - unparsable: not usable
        return UNKNOWN, None
    says, revoked_on = crl_says(crl, cert, issuer)
    if says == "revoked":
        return (REVOKED, revoked_on) if revoked_on <= at + CLOCK_SKEW else (GOOD, None)
    return (GOOD, None) if says == "good" else (UNKNOWN, None)


def _unknown_reason(sources, fetcher: Fetcher, had_carried) -> str:
    if not (sources.ocsp or sources.crl):
        return "the certificate names no OCSP responder and no CRL distribution point"
    failed = [n for n in fetcher.notes if n.outcome is not FetchOutcome.FETCHED]
    if failed:
        return "; ".join(f"{n.kind.upper()} {n.url}: {n.reason}" for n in failed)
    if fetcher.notes or had_carried:
        return "the revocation data obtained is not valid now (stale, not yet valid or not signed by the issuer)"
    return "no revocation data could be obtained"
