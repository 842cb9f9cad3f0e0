"""Past validation of B-LTA files: the document timestamps as proof of existence (PoE).

The verifier validates the newest document timestamp at the verification moment and,
once it passes, everything its revision covers at its time (ETSI EN 319 102-1 past
validation; see signing/timestamps.py). These tests check that an honest archive file
passes years later, that the PoE is what makes it pass (a signature timestamp whose
TSA was revoked after the document timestamp still counts, before it does not), and
that what an attacker can add to a file — a forged document timestamp, changed
content after the last stamp, a stamp by a key not meant for time-stamping — never
turns into a pass or into the B-LTA level.

Timeline (from test_ltv): signer certificate valid T0 - 1 h .. T0 + 10 min, signed
at B-T at T0, extended at T0 + s; the dev PKI's CAs and TSA are valid ten years.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from asn1crypto.ocsp import OCSPResponse
from attacks_crypto import (
    add_document_timestamp,
    dummy_timestamper,
    imprint,
    key_usage,
    load_holder,
    read_cms,
    replace_cms,
    sign_with,
    signature_value,
    token,
    tst_attribute,
    with_unsigned_attrs,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from revpki import Leaf, Responder, RevCa, to_asn1
from test_ltv import DEV_FETCH, b_lta, b_t, original, short_lived, timeline  # noqa: F401 - fixtures
from tests.signing.conftest import assert_pdfsig_all_valid

from signing.ltv import extend_to_blta
from signing.model import Indication, Level, SubIndication, TimestampKind
from signing.sign import sign_pdf, timestamper_for
from signing.verify import verify_pdf

DEV_TSA_SERIAL = 0x51A3_0004  # signing/pki.py: the dev TSA's certificate, issued by the dev root


def _years(timeline, n: float) -> datetime:
    return timeline.t0 + timedelta(days=round(365 * n))


def _crl(issuer_cert: x509.Certificate, issuer_key, *, this_update: datetime, revoked: dict[int, datetime] = None,
         days: int = 30) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=days))
    )
    for serial, when in (revoked or {}).items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _dev_root(dev_pki) -> tuple[x509.Certificate, object]:
    cert = x509.load_pem_x509_certificate(dev_pki.root_cert.read_bytes())
    key = serialization.load_pem_private_key(dev_pki.key_pem("root").read_bytes(), password=None)
    return cert, key


def _root_crl(dev_pki, tmp_path, *, this_update: datetime, tsa_revoked_on: datetime | None = None):
    """A CRL of the dev root (it issues the dev TSA's certificate), written to a file."""
    cert, key = _dev_root(dev_pki)
    revoked = {DEV_TSA_SERIAL: tsa_revoked_on} if tsa_revoked_on else {}
    path = tmp_path / f"root-{this_update:%Y%m%d}-{len(list(tmp_path.iterdir()))}.crl"
    path.write_bytes(_crl(cert, key, this_update=this_update, revoked=revoked))
    return path


def _docs(report):
    return [t for t in report.timestamps if t.kind is TimestampKind.DOCUMENT]


# --- honest files years later ----------------------------------------------------------------


def test_five_years_later_with_fresh_revocation_data_and_revocation_required(b_lta, dev_pki, timeline, tmp_path):
    """Revocation required: the newest document timestamp needs data fresh at the
    verification moment (a CRL the root issued then); everything older is validated at
    that timestamp's time with the DSS's data, long past its nextUpdate by now."""
    at = _years(timeline, 5)
    fresh = _root_crl(dev_pki, tmp_path, this_update=at - timedelta(days=1))

    report = verify_pdf(b_lta, trust=[dev_pki.root_cert], crls=[fresh], at=at, require_revocation=True)
    stale_only = verify_pdf(b_lta, trust=[dev_pki.root_cert], at=at, require_revocation=True)

    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED, (sig.notes, report.timestamps)
    assert sig.level is Level.B_LTA
    sig_ts, doc_ts = report.timestamps
    assert (doc_ts.validated_at, sig_ts.validated_at) == (at, doc_ts.time)
    # without data fresh now, the newest stamp cannot be checked now: nothing is proven
    assert stale_only.indication is Indication.INDETERMINATE
    assert not _docs(stale_only)[0].passed


def test_renewed_chain_each_stamp_validated_at_the_next_ones_time(b_lta, dev_pki, pki_server, timeline):
    renewed = extend_to_blta(
        b_lta, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert], policy=DEV_FETCH
    )
    at = _years(timeline, 7)

    report = verify_pdf(renewed, trust=[dev_pki.root_cert], at=at)

    assert report.indication is Indication.TOTAL_PASSED, report.timestamps
    assert report.signatures[0].level is Level.B_LTA
    sig_ts = report.timestamps[0]
    first, second = _docs(report)
    assert (first.field, second.field) == ("DocTimeStamp1", "DocTimeStamp2")
    assert second.validated_at == at
    assert first.validated_at == second.time
    assert sig_ts.validated_at == first.time


# --- revocation of a TSA ---------------------------------------------------------------------


def test_document_timestamp_tsa_revoked_before_the_verification_moment_fails(b_lta, dev_pki, timeline, tmp_path):
    """The dev TSA (it made the signature timestamp and the document timestamp) revoked a
    year after signing: five years on, the newest stamp is made by a revoked key and
    proves nothing; half a year on, before the revocation, the same data passes."""
    revoked_on = _years(timeline, 1)
    crl = _root_crl(dev_pki, tmp_path, this_update=revoked_on + timedelta(days=1), tsa_revoked_on=revoked_on)

    later = verify_pdf(b_lta, trust=[dev_pki.root_cert], crls=[crl], at=_years(timeline, 5))
    before = verify_pdf(b_lta, trust=[dev_pki.root_cert], crls=[crl], at=_years(timeline, 0.5))

    assert later.indication is not Indication.TOTAL_PASSED
    assert later.signatures[0].level is not Level.B_LTA
    [doc] = _docs(later)
    assert "TSA ҰКО DEV" in doc.tsa  # the certificate whose serial the CRL lists
    assert not doc.passed and not doc.used
    assert doc.sub_indication in (SubIndication.REVOKED_NO_POE, SubIndication.REVOKED)
    assert before.indication is Indication.TOTAL_PASSED, before.timestamps
    assert before.signatures[0].level is Level.B_LTA


@pytest.fixture(scope="module")
def sig_tsa_ca():
    return RevCa("SIGNATURE TSA CA")


@pytest.fixture(scope="module")
def sig_tsa(sig_tsa_ca) -> Leaf:
    """A TSA of its own CA; its certificate names a CRL and an OCSP responder (never
    asked: the tests verify offline)."""
    return sig_tsa_ca.issue(
        "SIGNATURE TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True,
        crl=["http://127.0.0.1:9/sig-tsa.crl"], ocsp_urls=["http://127.0.0.1:9/sig-tsa-ocsp"],
    )


@pytest.fixture(scope="module")
def b_t_other_tsa(original, short_lived, sig_tsa):  # noqa: F811 - fixtures from test_ltv
    return sign_pdf(original, short_lived, level="B-T", timestamper=dummy_timestamper(sig_tsa))


@pytest.fixture(scope="module")
def b_lta_other_tsa(b_t_other_tsa, sig_tsa_ca, dev_pki, pki_server, tmp_path_factory):
    empty = tmp_path_factory.mktemp("crl") / "sig-tsa-ca.crl"
    empty.write_bytes(sig_tsa_ca.crl())
    return extend_to_blta(
        b_t_other_tsa, timestamper=timestamper_for(dev_pki.tsa_url),
        trust_roots=[dev_pki.root_cert, sig_tsa_ca.asn1], policy=DEV_FETCH, crls=[empty],
    )


@pytest.fixture(scope="module")
def sig_tsa_revoked(sig_tsa_ca, sig_tsa, timeline, tmp_path_factory):
    """A CRL of the signature TSA's CA: that TSA revoked half a year after signing."""
    revoked_on = _years(timeline, 0.5)
    path = tmp_path_factory.mktemp("crl") / "sig-tsa-ca-revoked.crl"
    path.write_bytes(_crl(sig_tsa_ca.cert, sig_tsa_ca.key, this_update=revoked_on + timedelta(days=1),
                          revoked={sig_tsa.cert.serial_number: revoked_on}))
    return revoked_on, path


def _other_tsa_trust(dev_pki, sig_tsa_ca):
    return [dev_pki.root_cert, sig_tsa_ca.pem]


def test_signature_timestamp_tsa_revoked_after_the_document_timestamp_still_counts(
    b_lta_other_tsa, b_t_other_tsa, sig_tsa_ca, sig_tsa_revoked, dev_pki, timeline
):
    """The PoE itself: the signature's TSA is revoked half a year on (and expires a year
    on). The document timestamp (another TSA, valid now) proves the signature timestamp
    existed before that, so the file passes after the revocation and five years on; the
    same signature without the document timestamp has only the verification moment,
    when its TSA is revoked, and does not pass."""
    revoked_on, crl = sig_tsa_revoked
    trust = _other_tsa_trust(dev_pki, sig_tsa_ca)

    for at in (_years(timeline, 0.75), _years(timeline, 5)):
        archived = verify_pdf(b_lta_other_tsa, trust=trust, crls=[crl], at=at)
        assert archived.indication is Indication.TOTAL_PASSED, (archived.signatures[0].notes, archived.timestamps)
        assert archived.signatures[0].level is Level.B_LTA
        sig_ts, doc_ts = archived.timestamps
        assert "SIGNATURE TSA" in sig_ts.tsa and sig_ts.used and sig_ts.validated_at == doc_ts.time < revoked_on
    bare = verify_pdf(b_t_other_tsa, trust=trust, crls=[crl], at=_years(timeline, 0.75))
    assert bare.indication is not Indication.TOTAL_PASSED
    [sig_ts] = bare.timestamps
    assert not sig_ts.passed and sig_ts.sub_indication in (SubIndication.REVOKED_NO_POE, SubIndication.REVOKED)


def test_an_old_good_ocsp_answer_does_not_hide_a_later_revocation(
    b_t_other_tsa, sig_tsa_ca, sig_tsa, sig_tsa_revoked, dev_pki, timeline
):
    """Revocation data of any age counts for TSA chains in soft-fail mode, but an OCSP
    'good' from before the revocation says nothing about a later moment: put in a DSS
    (where anyone can put it), it must not stand in for the CRL that lists the TSA."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    _, crl = sig_tsa_revoked
    old_good = OCSPResponse.load(sig_tsa_ca.ocsp_response(sig_tsa.cert))
    writer = IncrementalPdfFileWriter(io.BytesIO(b_t_other_tsa), strict=False)
    DocumentSecurityStore.supply_dss_in_writer(writer, None, ocsps=[old_good])
    out = io.BytesIO()
    writer.write(out)
    at = _years(timeline, 0.75)

    report = verify_pdf(out.getvalue(), trust=_other_tsa_trust(dev_pki, sig_tsa_ca), crls=[crl], at=at)
    fresh_then = verify_pdf(out.getvalue(), trust=_other_tsa_trust(dev_pki, sig_tsa_ca), at=timeline.later)

    assert report.indication is not Indication.TOTAL_PASSED
    [sig_ts] = report.timestamps
    assert not sig_ts.passed and sig_ts.sub_indication in (SubIndication.REVOKED_NO_POE, SubIndication.REVOKED)
    assert fresh_then.timestamps[0].passed  # the answer itself is fine while it is fresh


def test_online_the_newest_stamps_tsa_is_asked_now(b_t, dev_pki, pki_server):
    """Online, the TSA chain of the newest document timestamp (the one validated now) has
    its revocation fetched too: the archive TSA's CA revokes it after the extension, and
    the file that passes B-LTA offline with the DSS's data is no longer B-LTA online."""
    with Responder() as responder:
        ca = RevCa("ARCHIVE TSA CA")
        tsa = ca.issue("ARCHIVE TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                       key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                       eku_critical=True, crl=[responder.url("/archive-tsa.crl")])
        responder.routes["/archive-tsa.crl"] = (200, ca.crl())
        archived = extend_to_blta(b_t, timestamper=dummy_timestamper(tsa), trust_roots=[dev_pki.root_cert, ca.asn1],
                                  policy=DEV_FETCH)
        responder.routes["/archive-tsa.crl"] = (200, ca.crl([tsa.cert]))
        trust = [dev_pki.root_cert, ca.pem]

        offline = verify_pdf(archived, trust=trust)
        online = verify_pdf(archived, trust=trust, policy=DEV_FETCH)

    assert offline.signatures[0].level is Level.B_LTA and _docs(offline)[0].passed
    [doc] = _docs(online)
    assert not doc.passed and doc.sub_indication in (SubIndication.REVOKED_NO_POE, SubIndication.REVOKED)
    assert online.signatures[0].level is not Level.B_LTA
    assert any(f.url.endswith("/archive-tsa.crl") for f in online.fetches)


# --- what an attacker can add ----------------------------------------------------------------


def _with_changed_page(pdf: bytes) -> bytes:
    """An incremental update that replaces the first page's content stream."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (FORGED) Tj ET")
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_content_changed_after_the_document_timestamp_fails(b_lta, dev_pki, timeline):
    changed = _with_changed_page(b_lta)

    for at in (timeline.later, _years(timeline, 5)):
        report = verify_pdf(changed, trust=[dev_pki.root_cert], at=at)
        [sig] = report.signatures
        assert report.indication is not Indication.TOTAL_PASSED
        assert sig.modified_after_signing


def test_a_change_stamped_over_by_a_trusted_tsa_still_fails(b_lta, dev_pki, pki_server, timeline):
    """Anyone can ask a public TSA to stamp a file: a content change followed by a genuine
    document timestamp is still a change after the signature, and the new stamp's proof
    of existence covers the change, not the signature's integrity."""
    laundered = extend_to_blta(
        _with_changed_page(b_lta), timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert],
        policy=DEV_FETCH,
    )

    report = verify_pdf(laundered, trust=[dev_pki.root_cert], at=_years(timeline, 5))

    [sig] = report.signatures
    assert all(t.passed for t in _docs(report))  # both stamps are genuine
    assert report.indication is Indication.TOTAL_FAILED and sig.modified_after_signing


def test_dss_added_after_the_document_timestamp_is_allowed(b_lta, dev_pki, pki_server, timeline):
    """The control for the test above: a later DSS update (what an archive adds before the
    next stamp) is not a content change."""
    from asn1crypto.crl import CertificateList
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    writer = IncrementalPdfFileWriter(io.BytesIO(b_lta), strict=False)
    crl = CertificateList.load(dev_pki.crl_file.read_bytes())
    DocumentSecurityStore.supply_dss_in_writer(writer, None, crls=[crl])
    out = io.BytesIO()
    writer.write(out)

    report = verify_pdf(out.getvalue(), trust=[dev_pki.root_cert], at=_years(timeline, 5))
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes


@pytest.fixture(scope="module")
def attacker_tsa() -> tuple[RevCa, Leaf]:
    ca = RevCa("ATTACKER ROOT")
    return ca, ca.issue("ATTACKER TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                        eku_critical=True, not_before=datetime(2000, 1, 1).astimezone())


def test_document_timestamp_by_an_untrusted_tsa_proves_nothing(
    b_t_other_tsa, attacker_tsa, sig_tsa_ca, sig_tsa_revoked, dev_pki, timeline
):
    """The signature's TSA is revoked; a stamp by a TSA that chains to no anchor (dated
    before the revocation) is added to 'archive' the file: not passed, no B-LTA, and the
    signature timestamp is still validated at the verification moment (no PoE)."""
    ca, tsa = attacker_tsa
    _, crl = sig_tsa_revoked
    forged = add_document_timestamp(b_t_other_tsa, dummy_timestamper(tsa, [ca.asn1], at=timeline.t0))
    at = _years(timeline, 0.75)

    report = verify_pdf(forged, trust=_other_tsa_trust(dev_pki, sig_tsa_ca), crls=[crl], at=at)

    [sig] = report.signatures
    assert report.indication is not Indication.TOTAL_PASSED
    assert sig.level is not Level.B_LTA
    sig_ts, doc = report.timestamps
    assert not doc.passed and not doc.used and "ATTACKER TSA" in doc.tsa
    assert doc.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert sig_ts.validated_at == at and not sig_ts.passed


def test_forged_stamp_after_an_honest_one_changes_nothing(b_lta, attacker_tsa, dev_pki, timeline):
    """A forged newest stamp is skipped in the chain: the honest one before it is then
    the newest valid one, validated at the verification moment."""
    ca, tsa = attacker_tsa
    forged = add_document_timestamp(b_lta, dummy_timestamper(tsa, [ca.asn1]))
    at = _years(timeline, 5)

    report = verify_pdf(forged, trust=[dev_pki.root_cert], at=at)

    assert report.indication is Indication.TOTAL_PASSED, report.timestamps
    assert report.signatures[0].level is Level.B_LTA
    honest, fake = _docs(report)
    assert honest.passed and honest.validated_at == at
    assert not fake.passed and not fake.used


def _dev_signer_holder(dev_pki, dev_password) -> tuple[Leaf, list]:
    """A dev signer's key and certificate (and its CA chain) as a holder for attacks_crypto."""
    key, cert, chain = pkcs12.load_key_and_certificates(dev_pki.p12("enterprise-head").read_bytes(), dev_password)
    holder = load_holder(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        cert.public_bytes(serialization.Encoding.DER),
    )
    return holder, [to_asn1(c) for c in chain or ()]


@pytest.mark.parametrize("how", ["in-place", "new-revision"])
def test_a_token_injected_after_the_stamp_gets_no_proof_of_existence(
    how, original, dev_pki, dev_password, pki_server, sig_tsa_ca, sig_tsa, sig_tsa_revoked, timeline
):
    """A B-B signature archived to B-LTA; later the signature TSA's key leaks (it is revoked
    half a year on) and a token dated before the stamp is put into the signature's unsigned
    attributes — over the old bytes (the stamp's hash breaks) or by rewriting the signature
    dictionary in a new revision (its /Contents then lies outside the signature's gap). The
    token must not borrow the stamp's time: the signature does not pass."""
    holder, chain = _dev_signer_holder(dev_pki, dev_password)
    b_b = sign_with(original, holder, chain, reserve=32768)  # room for a token in the placeholder
    archived = extend_to_blta(b_b, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert],
                              policy=DEV_FETCH)

    def with_token(ci):
        return with_unsigned_attrs(ci, [tst_attribute(token(sig_tsa, imprint(signature_value(ci)),
                                                            gen_time=timeline.t0))])

    if how == "in-place":
        forged = replace_cms(archived, with_token)
    else:
        writer = IncrementalPdfFileWriter(io.BytesIO(archived), strict=False)
        value = writer.prev.embedded_signatures[0].sig_field.raw_get("/V")
        value.get_object()["/Contents"] = generic.ByteStringObject(with_token(read_cms(archived)).dump())
        writer.mark_update(value)
        out = io.BytesIO()
        writer.write(out)
        forged = out.getvalue()
    _, crl = sig_tsa_revoked
    at = _years(timeline, 0.75)

    report = verify_pdf(forged, trust=_other_tsa_trust(dev_pki, sig_tsa_ca), crls=[crl], at=at)

    assert report.indication is not Indication.TOTAL_PASSED
    injected = report.timestamps[0]
    assert injected.kind is TimestampKind.SIGNATURE and "SIGNATURE TSA" in injected.tsa
    assert injected.validated_at == at and not injected.passed


def test_document_signer_key_used_as_a_tsa_gives_no_poe(
    b_t_other_tsa, sig_tsa_ca, sig_tsa_revoked, dev_pki, dev_password, timeline
):
    """A key whose chain the anchors trust, but that is not a time-stamping key (a dev
    signer's), stamps the file: the stamp fails the key-purpose check and proves nothing."""
    _, crl = sig_tsa_revoked
    holder, chain = _dev_signer_holder(dev_pki, dev_password)
    forged = add_document_timestamp(b_t_other_tsa, dummy_timestamper(holder, chain, at=timeline.t0))
    at = _years(timeline, 0.75)

    report = verify_pdf(forged, trust=_other_tsa_trust(dev_pki, sig_tsa_ca), crls=[crl], at=at)

    assert report.indication is not Indication.TOTAL_PASSED
    assert report.signatures[0].level is not Level.B_LTA
    sig_ts, doc = report.timestamps
    assert not doc.passed and doc.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert sig_ts.validated_at == at and not sig_ts.passed


def test_archive_file_still_valid_for_pdfsig(b_lta_other_tsa, tmp_path):
    assert_pdfsig_all_valid(b_lta_other_tsa, tmp_path, expected=1)


def test_a_stamp_dated_before_its_tsa_certificate_is_refused(original, dev_signer, dev_pki, timeline):
    """A TSA certificate issued yesterday signs a token dated ten days ago (what a stolen
    or misused TSA key could do to make a signature look older): the chain is valid at
    the verification moment, but the genTime lies outside the certificate's validity, so
    the token proves nothing."""
    ca = RevCa("BACKDATING TSA CA")
    tsa = ca.issue("BACKDATING TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                   key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                   eku_critical=True)
    backdated = timeline.t0 - timedelta(days=10)
    assert backdated < tsa.cert.not_valid_before_utc
    signed = sign_pdf(original, dev_signer(), level="B-T", timestamper=dummy_timestamper(tsa, at=backdated))

    report = verify_pdf(signed, trust=[dev_pki.root_cert, ca.pem])

    [sig] = report.signatures
    [token] = report.timestamps
    assert not token.passed and token.sub_indication is SubIndication.NOT_YET_VALID
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.NO_POE)


# --- the verifier's speed: hex strings read in one pass (signing/_compat.py, hook 3) ------------


def _read_both(data: bytes):
    """(outcome, stream position) of our one-pass reader and of pyHanko's, on ``data``."""
    import signing._compat as compat

    out = []
    for reader in (compat._read_hex_string, compat._pyhanko_read_hex):
        stream = io.BytesIO(data)
        try:
            value = reader(stream)
            outcome = (type(value).__name__, bytes(value.original_bytes) if hasattr(value, "original_bytes")
                       else bytes(value))
        except Exception as exc:  # noqa: BLE001 - the errors must be the same too
            outcome = (type(exc).__name__, str(exc))
        out.append((outcome, stream.tell()))
    return out


@pytest.mark.parametrize("data", [
    b"<>", b"<4>", b"<41 42\n43\r\t\f\x0044>", b"<abcDEF0123> trailing", b"<feff00410042>",
    b"<41%comment > here\n42>", b"<41 G2>", b"<41", b"<4142", b"<41>>", b"<" + b"0a" * 70000 + b">x",
    b"<" + b"1" * 131071 + b">", b"<41 \x80>", b"<<41>",
])
def test_one_pass_hex_reader_is_pyhankos_reader(data):
    import signing._compat as compat

    assert compat.HEX_STRINGS_FAST
    ours, theirs = _read_both(data)
    assert ours == theirs


def test_one_pass_hex_reader_on_random_input():
    import random

    rng = random.Random(20261129)
    alphabet = b"0123456789abcdefABCDEF \n\r\t\x00%>G<"
    for _ in range(3000):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        data = b"<" + body + (b">" if rng.random() < 0.8 else b"") + b"tail\n"
        ours, theirs = _read_both(data)
        assert ours == theirs, data
