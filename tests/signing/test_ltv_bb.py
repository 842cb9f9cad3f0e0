"""A B-B version extended to a real B-LTA (issue 10, item 4: "extend existing versions").

A signature signed before a TSA was configured has no signature timestamp. ETSI EN
319 142-1 reaches the T level with a document timestamp covering the signature too, so
``extend_to_blta`` gives such a file two incremental updates: a document timestamp and
nothing else (the signature's T evidence), then the DSS with the validation data of the
signer's chain and of that stamp's TSA chain, and a second document timestamp over it
(the archive timestamp). The verifier then reports B-LTA and, with the first stamp as
proof of existence, validates the signer certificate at that stamp's time: the file
passes after the certificate expired, where the bare B-B file does not.

Timeline (test_ltv): signer certificate valid T0 - 1 h .. T0 + 10 min, signed at B-B at
T0, extended at T0 + s; LATER = T0 + 10 min + 1 day.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from asn1crypto.crl import CertificateList
from attacks_crypto import (
    add_document_timestamp,
    dummy_timestamper,
    imprint,
    key_usage,
    load_holder,
    replace_cms,
    token,
)
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pdfs import tiny_pdf
from revpki import RevCa
from test_ltv import DEV_FETCH, b_lta, b_t, original, run, short_lived, timeline  # noqa: F401 - fixtures
from tests.signing.conftest import assert_pdfsig_all_valid
from tests.signing.ltvhelpers import b_b, b_b_lta  # noqa: F401 - fixtures
from tests.signing.ltvhelpers import document_stamps as _docs

from signing.ltv import extend_to_blta
from signing.model import Indication, Level, SubIndication, TimestampKind
from signing.netfetch import FetchPolicy
from signing.sign import sign_pdf, timestamper_for
from signing.verify import verify_pdf


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(pdf), strict=False)


def _revisions(pdf: bytes) -> int:
    return _reader(pdf).xrefs.total_revisions


def _stamps(pdf: bytes) -> dict[str, int]:
    """Document timestamp field name -> the revision it signs."""
    return {ts.field_name: ts.signed_revision for ts in _reader(pdf).embedded_timestamp_signatures}


def _extend(pdf: bytes, dev_pki) -> bytes:
    return extend_to_blta(pdf, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert],
                          policy=DEV_FETCH)


@pytest.fixture(scope="module")
def trusted_tsa(b_b_lta, dev_pki):
    """The dev TSA's own key and certificate, as an attacker holding them would sign."""
    [first, _] = sorted(_reader(b_b_lta).embedded_timestamp_signatures, key=lambda ts: ts.signed_revision)
    return load_holder(dev_pki.key_pem("tsa").read_bytes(), first.signer_cert.dump())


# --- the extension ---------------------------------------------------------------------------


def test_b_b_gets_a_stamp_then_a_dss_with_its_tsa_chain_and_an_archive_stamp(b_b, b_b_lta):
    reader = _reader(b_b_lta)
    first_rev = _revisions(b_b)
    assert b_b_lta.startswith(b_b)
    assert reader.xrefs.total_revisions == first_rev + 2
    assert _stamps(b_b_lta) == {"DocTimeStamp1": first_rev, "DocTimeStamp2": first_rev + 1}
    # the first update is the stamp alone; the DSS comes with the second one
    assert "/DSS" not in reader.get_historical_resolver(first_rev).root
    dss = DocumentSecurityStore.read_dss(reader)
    certs = {c.sha256 for c in dss.load_certs()}
    first = next(ts for ts in reader.embedded_timestamp_signatures if ts.field_name == "DocTimeStamp1")
    signature = reader.embedded_regular_signatures[0]
    assert first.signer_cert.sha256 in certs and signature.signer_cert.sha256 in certs  # both chains
    assert len(dss.crls) >= 2  # the issuing CA's (signer) and the root's (TSA)


def test_extended_b_b_passes_b_lta_after_the_signer_certificate_expired(b_b_lta, dev_pki, timeline):
    for require in (False, True):
        report = verify_pdf(b_b_lta, trust=[dev_pki.root_cert], at=timeline.later, require_revocation=require)

        [sig] = report.signatures
        assert report.indication is Indication.TOTAL_PASSED, (require, sig.notes, report.timestamps)
        assert sig.level is Level.B_LTA
        assert sig.timestamp_time is None  # no signature timestamp: the report does not invent one
        first, archive = _docs(report)
        assert (first.field, archive.field) == ("DocTimeStamp1", "DocTimeStamp2")
        assert first.passed and first.used and archive.passed and archive.used
        assert first.time <= archive.time < timeline.expires < timeline.later
        assert (archive.validated_at, first.validated_at) == (timeline.later, archive.time)


def test_years_later_the_extended_b_b_still_passes(b_b_lta, dev_pki, timeline):
    report = verify_pdf(b_b_lta, trust=[dev_pki.root_cert], at=timeline.t0 + timedelta(days=5 * 365))
    assert report.indication is Indication.TOTAL_PASSED, report.timestamps
    assert report.signatures[0].level is Level.B_LTA


def test_the_unextended_b_b_does_not_pass_after_the_expiry(b_b, dev_pki, timeline):
    report = verify_pdf(b_b, trust=[dev_pki.root_cert], at=timeline.later)
    [sig] = report.signatures
    assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert sig.level is Level.B_B
    # ... and before the expiry it was a valid B-B signature all along
    assert verify_pdf(b_b, trust=[dev_pki.root_cert], at=timeline.t0).indication is Indication.TOTAL_PASSED


def test_pdfsig_still_reports_the_signature_valid_and_lists_both_stamps(b_b_lta, tmp_path):
    out = assert_pdfsig_all_valid(b_b_lta, tmp_path, expected=1)  # poppler checks the signature, not stamps
    for field in ("Signature1", "DocTimeStamp1", "DocTimeStamp2"):
        assert f"Signature Field Name: {field}" in out, out


def test_extending_again_adds_one_archive_stamp_and_stays_b_lta(b_b_lta, dev_pki, pki_server, timeline):
    renewed = _extend(b_b_lta, dev_pki)

    assert renewed.startswith(b_b_lta) and _revisions(renewed) == _revisions(b_b_lta) + 1
    assert sorted(_stamps(renewed)) == ["DocTimeStamp1", "DocTimeStamp2", "DocTimeStamp3"]
    report = verify_pdf(renewed, trust=[dev_pki.root_cert], at=timeline.later, require_revocation=True)
    assert report.indication is Indication.TOTAL_PASSED, report.timestamps
    assert report.signatures[0].level is Level.B_LTA
    assert [t.passed for t in _docs(report)] == [True, True, True]


def test_b_t_still_gets_one_update(b_t, b_lta):  # noqa: F811 - fixtures from test_ltv
    assert _revisions(b_lta) == _revisions(b_t) + 1
    assert list(_stamps(b_lta)) == ["DocTimeStamp1"]


def test_cli_extend_of_a_b_b_file_gives_b_lta(b_b, dev_pki, pki_server, timeline, tmp_path, capsys):
    """`qujat extend` (and `qujat regenerate --extend-ltv`, whose batch calls the same
    ``extend_to_blta``) on a B-B version."""
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(b_b)

    rc = run(["extend", str(src), "--out", str(out), "--tsa", dev_pki.tsa_url,
              "--trust", str(dev_pki.root_cert), "--allow-private-network"])

    assert rc == 0, capsys.readouterr().err
    report = verify_pdf(out.read_bytes(), trust=[dev_pki.root_cert], at=timeline.later)
    assert report.indication is Indication.TOTAL_PASSED and report.signatures[0].level is Level.B_LTA


# --- one DSS and one stamp in the same update (what the extension wrote before) ---------------


@pytest.fixture(scope="module")
def one_update(b_b, dev_pki, pki_server):
    """B-B + one update holding a DSS (the signer's CRL) and a document timestamp over it."""
    writer = IncrementalPdfFileWriter(io.BytesIO(b_b), strict=False)
    DocumentSecurityStore.supply_dss_in_writer(writer, None, crls=[CertificateList.load(dev_pki.crl_file.read_bytes())])
    out = io.BytesIO()
    PdfTimeStamper(timestamper_for(dev_pki.tsa_url)).timestamp_pdf(writer, "sha256", output=out)
    return out.getvalue()


def test_a_dss_under_the_only_stamp_is_b_t_not_b_lt(one_update, dev_pki, timeline):
    """The stamp is the signature's T evidence; the DSS it signs was written before that
    evidence existed and no later stamp covers it: B-T. The stamp still proves the
    signature existed before the expiry."""
    report = verify_pdf(one_update, trust=[dev_pki.root_cert], at=timeline.later)

    assert report.signatures[0].level is Level.B_T
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    [doc] = _docs(report)
    assert doc.passed and doc.used


def test_extending_that_layout_adds_one_update_and_gives_b_lta(one_update, dev_pki, pki_server, timeline):
    extended = _extend(one_update, dev_pki)

    assert _revisions(extended) == _revisions(one_update) + 1  # its stamp is T evidence already
    report = verify_pdf(extended, trust=[dev_pki.root_cert], at=timeline.later, require_revocation=True)
    assert report.indication is Indication.TOTAL_PASSED, report.timestamps
    assert report.signatures[0].level is Level.B_LTA


# --- a first stamp that does not validate ------------------------------------------------------


@pytest.fixture(scope="module")
def attacker_tsa():
    ca = RevCa("ATTACKER ROOT")
    return ca, ca.issue("ATTACKER TSA", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                        eku_critical=True)


@pytest.fixture(scope="module")
def bad_first_stamps(b_b, attacker_tsa, trusted_tsa):
    """B-B + one document timestamp that does not validate: by a TSA that chains to no
    anchor, or by the dev TSA's own key over other bytes than its byte range."""
    ca, tsa = attacker_tsa
    stamped = add_document_timestamp(b_b, dummy_timestamper(trusted_tsa))
    return {
        "untrusted-tsa": add_document_timestamp(b_b, dummy_timestamper(tsa, [ca.asn1])),
        "wrong-imprint": replace_cms(stamped, lambda ci: token(trusted_tsa, imprint(b"other bytes")), index=1),
    }


@pytest.mark.parametrize("how", ["untrusted-tsa", "wrong-imprint"])
def test_a_first_stamp_that_fails_gives_no_t_level(how, bad_first_stamps, dev_pki, timeline):
    report = verify_pdf(bad_first_stamps[how], trust=[dev_pki.root_cert], at=timeline.later)

    [sig] = report.signatures
    [doc] = _docs(report)
    assert not doc.passed and not doc.used
    assert sig.level is Level.B_B
    assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)


@pytest.mark.parametrize("how", ["untrusted-tsa", "wrong-imprint"])
def test_a_dss_and_a_genuine_stamp_after_a_failed_one_make_b_t(how, bad_first_stamps, dev_pki, pki_server,
                                                                 timeline):
    """The failed stamp is skipped: the genuine one after it is the T evidence, and the
    DSS in its own update is not after it, so no B-LT nor B-LTA is claimed."""
    writer = IncrementalPdfFileWriter(io.BytesIO(bad_first_stamps[how]), strict=False)
    DocumentSecurityStore.supply_dss_in_writer(writer, None, crls=[CertificateList.load(dev_pki.crl_file.read_bytes())])
    out = io.BytesIO()
    PdfTimeStamper(timestamper_for(dev_pki.tsa_url)).timestamp_pdf(writer, "sha256", output=out)

    report = verify_pdf(out.getvalue(), trust=[dev_pki.root_cert], at=timeline.later)

    bad, good = _docs(report)
    assert not bad.passed and good.passed
    assert report.signatures[0].level is Level.B_T


def test_extending_over_a_stamp_with_a_wrong_imprint_adds_real_t_evidence(bad_first_stamps, dev_pki, pki_server,
                                                                           timeline):
    """The extension does not take a stamp that fails for T evidence: it adds its own."""
    extended = _extend(bad_first_stamps["wrong-imprint"], dev_pki)

    assert _revisions(extended) == _revisions(bad_first_stamps["wrong-imprint"]) + 2
    report = verify_pdf(extended, trust=[dev_pki.root_cert], at=timeline.later)
    assert report.signatures[0].level is Level.B_LTA
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert [t.passed for t in _docs(report)] == [False, True, True]


# --- `qujat regenerate --extend-ltv`: the application function its batch runs ---------------


@pytest.mark.slow
def test_a_batch_extension_of_a_record_signed_at_b_b_gives_b_lta(tmp_path):
    """A record issued without a TSA (B-B, as the archive's older versions are), then
    extended by the batch kind `qujat regenerate --extend-ltv` starts (``batches.start`` /
    ``batches.run``, as the command calls them) once a TSA is configured."""
    import dataclasses

    from qujat import batches, service
    from qujat.batches import BatchKind, BatchSpec
    from qujat.runtime import open_runtime
    from qujat.settings import Settings
    from signing.pki import PkiServer, load_dev_pki
    from tests.conftest import example

    caller = service.Caller(client_id="cli", actor="cli:archivist")
    settings = Settings(data_dir=tmp_path / "data", pool_size=1)
    with open_runtime(settings, convert=True, sign=True, store=True) as rt:
        record = service.issue(rt, example("address_certificate", "ru"), caller=caller).record
        [first] = service.versions(rt, record.id)
        b_b = rt.store.blobs.get(first.pdf_sha256)
    pki = load_dev_pki(settings.data_dir / "pki")
    extending = dataclasses.replace(settings, tsa_url=pki.tsa_url, verify_online=True, fetch_allow_private=True)
    with PkiServer(pki), open_runtime(extending, convert=False, sign=True, store=True) as rt:
        assert verify_pdf(b_b, trust=rt.trust_anchors).signatures[0].level is Level.B_B
        batch, _ = batches.start(rt, BatchSpec(kind=BatchKind.EXTEND_LTV, ids=(record.id,)), caller=caller)
        final = batches.run(rt, batch.id, workers=0)
        assert (final.done, final.failed) == (1, 0), final.failures
        latest = service.versions(rt, record.id)[-1]
        extended = rt.store.blobs.get(latest.pdf_sha256)
        report = verify_pdf(extended, trust=rt.trust_anchors)

    assert latest.number == 2 and extended.startswith(b_b)
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert {s.level for s in report.signatures} == {Level.B_LTA}
    assert [(t.kind, t.passed) for t in report.timestamps] == [(TimestampKind.DOCUMENT, True)] * 2


# --- `qujat verify` of a dev-PKI file without the dev PKI's server, given the CA's CRL ---------


def _root_crl_file(dev_pki, tmp_path):
    """A CRL of the dev root (it issues the issuing CA's certificate); the dev PKI writes
    only the issuing CA's CRL to disk."""
    from datetime import datetime, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    root = x509.load_pem_x509_certificate(dev_pki.root_cert.read_bytes())
    key = serialization.load_pem_private_key(dev_pki.key_pem("root").read_bytes(), password=None)
    now = datetime.now(timezone.utc)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(root.subject).last_update(now)
           .next_update(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    path = tmp_path / "root.crl"
    path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return path


def test_online_without_the_pki_server_the_root_crl_is_missing_not_the_signers(dev_pki, dev_signer, tmp_path):
    """Why `qujat verify FILE --trust root.pem --crl issuing-ca.crl` says TRY_LATER when the
    dev PKI's server is down: the signer is covered by the CRL given, but the issuing CA's
    own certificate names the root's CRL, which nobody gave and nothing could fetch, and
    online every certificate that names a revocation source needs an answer. Right by the
    policy (signing/README.md); the note now names the CRL that is missing. Given the
    root's CRL too, offline, or with the issuing CA as the anchor, the file passes.
    (Fetching from loopback is refused here: the same outcome as a server that is down.)"""
    b_b = sign_pdf(tiny_pdf("offline"), dev_signer(), level="B-B")
    online = FetchPolicy(enabled=True)  # loopback refused: the dev PKI's URLs give nothing
    given = [dev_pki.crl_file]

    report = verify_pdf(b_b, trust=[dev_pki.root_cert], crls=given, policy=online)

    [sig] = report.signatures
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    [note] = sig.notes
    assert "ҰКО DEV (RSA) (no CRL of НЕГІЗГІ КО DEV (RSA)" in note  # the issuing CA, not the signer
    assert "ЖАНДОСОВ" not in note
    with_root_crl = verify_pdf(b_b, trust=[dev_pki.root_cert], crls=[*given, _root_crl_file(dev_pki, tmp_path)],
                               policy=online)
    offline = verify_pdf(b_b, trust=[dev_pki.root_cert], crls=given)
    ca_anchor = verify_pdf(b_b, trust=[dev_pki.issuing_ca_cert], crls=given, policy=online)
    assert [r.indication for r in (with_root_crl, offline, ca_anchor)] == [Indication.TOTAL_PASSED] * 3
