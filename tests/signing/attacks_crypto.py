"""Builders for the cryptographic forgeries of issue 7: throw-away TSAs, RFC 3161
tokens with any content, and the surgery that puts them into a signed PDF.

Unsigned CMS attributes (the signature timestamp tokens among them) are covered by no
signature, and a PDF signature's /Contents is outside its byte range: anyone holding a
signed file can rewrite them, keeping every signed byte. ``replace_cms`` does exactly
that, so each forgery here starts from an honest file.

CAs and leaves are ``revpki.RevCa``'s (EC P-256); TSA keys are RSA-2048, because
pyHanko's ``DummyTimeStamper`` and ``token`` below sign with RSA.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta
from typing import Callable

from asn1crypto import algos, cms, core, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from revpki import NOW, Leaf, RevCa, signer_for, to_asn1

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
ADOBE_AUTHENTIC_DOCUMENTS_TRUST = x509.ObjectIdentifier("1.2.840.113583.1.1.5")
MS_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
NCA_INDIVIDUAL_ROLE = x509.ObjectIdentifier("1.2.398.3.3.4.1.1")


def key_usage(*names: str) -> x509.KeyUsage:
    """``x509.KeyUsage`` from flag names (digital_signature, content_commitment, ...)."""
    flags = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
        False,
    )
    for n in names:
        flags[n] = True
    return x509.KeyUsage(**flags)


def make_tsa(ca: RevCa, cn: str) -> Leaf:
    """A TSA certificate from ``ca``: RSA, digitalSignature, critical EKU timeStamping,
    valid for ten years back (so it covers any backdated token)."""
    return ca.issue(
        cn, key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_usage=key_usage("digital_signature"), eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True,
        not_before=NOW - timedelta(days=3650),
    )


def load_holder(key_pem: bytes, cert_der: bytes) -> Leaf:
    """A key and certificate from files (the dev PKI's CAs and TSA)."""
    return Leaf(serialization.load_pem_private_key(key_pem, password=None), x509.load_der_x509_certificate(cert_der))


def sign_with(pdf: bytes, holder: Leaf, chain: list[asn1_x509.Certificate] = (), *, reserve: int = 16384,
              timestamper=None, field_name: str = "Signature1") -> bytes:
    """A PAdES signature by ``holder`` made with pyHanko directly (nothing of ours)."""
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name=field_name, subfilter=SigSeedSubFilter.PADES),
        signer=signer_for(holder, chain),
        timestamper=timestamper,
    ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out, bytes_reserved=reserve)
    return out.getvalue()


def dummy_timestamper(tsa: Leaf, chain: list[asn1_x509.Certificate] = (), at: datetime | None = None) -> DummyTimeStamper:
    """pyHanko's in-process TSA signing with ``tsa``'s key, at ``at`` (default: now)."""
    return DummyTimeStamper(
        tsa_cert=tsa.asn1, certs_to_embed=list(chain), fixed_dt=at,
        tsa_key=keys.PrivateKeyInfo.load(tsa.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
    )


def add_document_timestamp(pdf: bytes, timestamper) -> bytes:
    """A /DocTimeStamp revision (what turns B-LT into B-LTA), written by pyHanko."""
    out = io.BytesIO()
    signers.PdfTimeStamper(timestamper=timestamper).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), md_algorithm="sha256", output=out, bytes_reserved=16384
    )
    return out.getvalue()


# --- timestamp tokens with any content -------------------------------------------------


def token(
    tsa: Leaf,
    imprint: bytes,
    *,
    gen_time: datetime | str = NOW,
    hash_algorithm: str = "sha256",
    certs: list[asn1_x509.Certificate] | None = None,
    econtent_type: str = "tst_info",
    econtent: bytes | None = None,
) -> cms.ContentInfo:
    """An RFC 3161 TimeStampToken signed by ``tsa`` over a TSTInfo with ``imprint``.

    ``gen_time`` as a string is written verbatim into the GeneralizedTime (e.g.
    ``"20210601000000"``: no time zone). ``econtent_type``/``econtent`` replace the
    encapsulated content (a properly signed token that holds no TSTInfo)."""
    if isinstance(gen_time, str):
        gen = core.GeneralizedTime.load(bytes([0x18, len(gen_time)]) + gen_time.encode("ascii"))
    else:
        gen = core.GeneralizedTime(gen_time)
    tst_info = tsp.TSTInfo({
        "version": "v1",
        "policy": "1.2.398.3.3.2.6.1",
        "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": imprint},
        "serial_number": int.from_bytes(hashlib.sha256(imprint + str(gen_time).encode()).digest()[:8], "big"),
        "gen_time": gen,
    })
    content = econtent if econtent is not None else tst_info.dump()
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": [econtent_type]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [as_signing_certificate_v2(tsa.asn1)]}),
    ])
    signature = tsa.key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": {"issuer_and_serial_number": {"issuer": tsa.asn1.issuer, "serial_number": tsa.asn1.serial_number}},
        "digest_algorithm": {"algorithm": "sha256"},
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signed_attrs": signed_attrs,
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": econtent_type, "content": cms.ParsableOctetString(content)},
        "certificates": [tsa.asn1, *(certs or [])],
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


# --- surgery on a signed PDF's CMS -------------------------------------------------------


def _contents_span(pdf: bytes, index: int) -> tuple[int, int]:
    """Start and end of the hex digits of signature ``index``'s /Contents (inside <>)."""
    sig = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[index]
    a, b, c, _ = sig.byte_range
    start, end = a + b, c
    assert pdf[start:start + 1] == b"<" and pdf[end - 1:end] == b">"
    return start + 1, end - 1


def read_cms(pdf: bytes, index: int = 0) -> cms.ContentInfo:
    start, end = _contents_span(pdf, index)
    return cms.ContentInfo.load(bytes.fromhex(pdf[start:end].decode("ascii")), strict=False)


def replace_cms(pdf: bytes, mutate: Callable[[cms.ContentInfo], cms.ContentInfo | bytes], index: int = 0) -> bytes:
    """``pdf`` with signature ``index``'s CMS replaced by ``mutate(cms)``, written into
    the same placeholder: not one signed byte changes."""
    start, end = _contents_span(pdf, index)
    new = mutate(read_cms(pdf, index))
    der = new if isinstance(new, bytes) else _raw(new)
    digits = der.hex().encode("ascii")
    room = end - start
    if len(digits) > room:
        raise ValueError(f"the new CMS needs {len(digits)} hex digits, the placeholder has {room}")
    return pdf[:start] + digits + b"0" * (room - len(digits)) + pdf[end:]


def with_unsigned_attrs(ci: cms.ContentInfo, attrs: list[cms.CMSAttribute]) -> cms.ContentInfo:
    """A copy of ``ci`` whose (only) SignerInfo has exactly ``attrs`` as unsigned attributes,
    in this order. Every other part keeps its original encoding (the signed attributes
    above all).

    Assembled from the parts' DER: asn1crypto, when it builds a structure from parsed parts,
    may re-encode a part from its parsed value, and a hostile part (a genTime without a time
    zone) cannot be re-encoded — the builder must never depend on that."""
    sd = ci["content"]
    si = sd["signer_infos"][0]
    # In this order, as an attacker may write them (DER would sort the SET); [1] IMPLICIT SET.
    unsigned = _tlv(0xA1, b"".join(_raw(a) for a in attrs)) if attrs else b""
    si_der = _tlv(0x30, b"".join(_raw(si[k]) for k in (
        "version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature"))
        + unsigned)
    sd_parts = [_raw(sd[k]) for k in ("version", "digest_algorithms", "encap_content_info")]
    for k in ("certificates", "crls"):  # [0] / [1] IMPLICIT, when present
        if sd[k].native is not None:
            sd_parts.append(_raw(sd[k]))
    sd_der = _tlv(0x30, b"".join(sd_parts) + _tlv(0x31, si_der))
    return cms.ContentInfo.load(_tlv(0x30, _raw(ci["content_type"]) + _tlv(0xA0, sd_der)))


def _raw(value) -> bytes:
    """A part's DER. ``dump()`` re-encodes a parsed, unchanged value whose header ends in 0x80
    (asn1crypto takes it for an indefinite length, although a long-form length such as 81 80 =
    128 bytes ends so too), and a hostile part cannot be re-encoded: which random lengths did so
    made the builder fail now and then. Such a value is taken as it was parsed."""
    header = getattr(value, "_header", None)
    if header and header[-1:] == b"\x80" and not getattr(value, "_mutated", False) \
            and not getattr(value, "_trailer", b"") and value.contents is not None:
        return header + value.contents
    return value.dump()


def unsigned_attrs(ci: cms.ContentInfo) -> list[cms.CMSAttribute]:
    ua = ci["content"]["signer_infos"][0]["unsigned_attrs"]
    return list(ua) if ua.native is not None else []


def signature_value(ci: cms.ContentInfo) -> bytes:
    return ci["content"]["signer_infos"][0]["signature"].native


def tst_attribute(*values) -> cms.CMSAttribute:
    """A signature-time-stamp-token attribute with these values, in this order.

    DER sorts the values of a SET OF, and asn1crypto would sort them when encoding;
    an attacker writes the bytes in any order, so the SET is encoded here by hand."""
    body = b"".join(_raw(v) for v in values)
    return cms.CMSAttribute.load(
        _tlv(0x30, _tlv(0x06, bytes.fromhex("2a864886f70d010910020e")) + _tlv(0x31, body))
    )


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def prepend_token(pdf: bytes, make: Callable[[bytes], cms.ContentInfo], *, same_attribute: bool) -> bytes:
    """Put ``make(signature value)`` in front of the signature's timestamp tokens: as a
    value of the existing attribute, or as an attribute of its own before it."""

    def mutate(ci: cms.ContentInfo) -> cms.ContentInfo:
        fake = make(signature_value(ci))
        attrs = unsigned_attrs(ci)
        tst = [a for a in attrs if a["type"].native == "signature_time_stamp_token"]
        others = [a for a in attrs if a["type"].native != "signature_time_stamp_token"]
        if same_attribute:
            assert len(tst) == 1
            genuine = list(tst[0]["values"])
            return with_unsigned_attrs(ci, [*others, tst_attribute(fake, *genuine)])
        return with_unsigned_attrs(ci, [*others, tst_attribute(fake), *tst])

    return replace_cms(pdf, mutate)


def set_tst_attributes(pdf: bytes, attrs: Callable[[bytes], list[cms.CMSAttribute]]) -> bytes:
    """Replace the unsigned attributes by ``attrs(signature value)``."""
    return replace_cms(pdf, lambda ci: with_unsigned_attrs(ci, attrs(signature_value(ci))))


def imprint(signature: bytes, algorithm: str = "sha256") -> bytes:
    return hashlib.new(algorithm, signature).digest()


# --- certificate sets that make a chain builder try every ordering ------------------------


def loop_of_cas(n: int, name: str = "LOOP CA") -> tuple[RevCa, list[asn1_x509.Certificate]]:
    """``n`` CA certificates all named ``name``, each issued by the next one's key (the last
    by the first's): every ordering of them is a candidate chain, so a path builder that
    tries them all needs n! steps. Returned as a ``RevCa`` holding the first one's key (its
    ``issue`` and ``make_tsa`` give leaves below the loop) and the ``n`` certificates."""
    ca_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(n)]
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cas = [
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(ca_keys[i].public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_keys[(i + 1) % n], hashes.SHA256())
        for i in range(n)
    ]
    holder = RevCa(name)
    holder.key, holder.cert = ca_keys[0], cas[0]
    return holder, [to_asn1(c) for c in cas]


def add_dss(pdf: bytes, certs: list[asn1_x509.Certificate] = (), crls: list[bytes] = (),
            ocsps: list[bytes] = ()) -> bytes:
    """``pdf`` with a document security store holding these certificates, CRLs (DER) and
    OCSP responses (DER), written by pyHanko in an incremental update."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    out = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(
        out, None, certs=list(certs), crls=[asn1_crl.CertificateList.load(c) for c in crls],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps], force_write=True,
    )
    return out.getvalue()


def layers_of_cas(layers: int, width: int, name: str = "LAYER CA") -> tuple[RevCa, list[asn1_x509.Certificate]]:
    """``layers`` names of CAs with ``width`` certificates each: the j-th certificate named
    ``name i`` is issued by the j-th key of ``name i+1`` (the last layer's issuer is nobody's
    name). Few certificates per name, but width**layers candidate chains. Returned as a
    ``RevCa`` holding the first certificate of layer 0 (leaves below it) and all the
    certificates."""
    def subject(i: int) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"{name} {i}")])

    ca_keys = [[ec.generate_private_key(ec.SECP256R1()) for _ in range(width)] for _ in range(layers + 1)]
    cas = [
        x509.CertificateBuilder().subject_name(subject(i)).issuer_name(subject(i + 1))
        .public_key(ca_keys[i][j].public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_keys[i + 1][j], hashes.SHA256())
        for i in range(layers) for j in range(width)
    ]
    holder = RevCa(f"{name} 0")
    holder.key, holder.cert = ca_keys[0][0], cas[0]
    return holder, [to_asn1(c) for c in cas]


def ocsp_carrying(ca: RevCa, cert: x509.Certificate, extra: list[asn1_x509.Certificate]) -> bytes:
    """A "good" OCSP response about ``cert`` signed by ``ca`` that carries ``extra`` certificates
    (where a responder's chain would go)."""
    from cryptography.x509 import ocsp

    builder = (ocsp.OCSPResponseBuilder()
               .add_response(cert=cert, issuer=ca.cert, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
                             this_update=NOW - timedelta(minutes=5), next_update=NOW + timedelta(days=1),
                             revocation_time=None, revocation_reason=None)
               .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert)
               .certificates([x509.load_der_x509_certificate(c.dump()) for c in extra]))
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
