"""A throw-away CA whose certificates carry any revocation URL we like, a PDF signer
for them, and a recording HTTP responder on 127.0.0.1.

The dev PKI (certomancer) writes well-formed loopback URLs only; the verification of
untrusted input must be tested with malformed, unreachable, loopback and private ones,
so this CA is built with ``cryptography``'s X.509 builder (EC P-256: fast to make).
"""

from __future__ import annotations

import io
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _uri(value: str) -> x509.UniformResourceIdentifier:
    """Any text as a URI GeneralName, unchecked (the point is to write broken ones)."""
    return x509.UniformResourceIdentifier._init_without_validation(value)


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


# keyUsage of a signing certificate: digitalSignature + nonRepudiation (contentCommitment)
SIGNING_KEY_USAGE = x509.KeyUsage(True, True, False, False, False, False, False, False, False)


@dataclass
class Leaf:
    key: ec.EllipticCurvePrivateKey  # or any private key of ``cryptography``
    cert: x509.Certificate

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return to_asn1(self.cert)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class RevCa:
    """A self-signed CA (the trust anchor of the tests that use it)."""

    name: str = "REVOCATION TEST CA"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    cert: x509.Certificate = field(init=False)
    _serial: int = 1000

    def __post_init__(self) -> None:
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(self.name))
            .issuer_name(_name(self.name))
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - timedelta(days=30))
            .not_valid_after(NOW + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return to_asn1(self.cert)

    def issue(
        self,
        cn: str = "ТЕСТОВ ТЕСТ",
        *,
        crl: list[str] | None = None,
        ocsp_urls: list[str] | None = None,
        eku: list[x509.ObjectIdentifier] | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
        raw_extensions: dict[str, bytes] | None = None,
        key_usage: x509.KeyUsage | None = SIGNING_KEY_USAGE,
        eku_critical: bool = False,
        not_before: datetime | None = None,
    ) -> Leaf:
        """A leaf whose CRL distribution point holds the ``crl`` values (one
        distribution point, one URI name per value) and whose AIA names ``ocsp_urls``;
        ``raw_extensions`` maps an OID to extension bytes written as they are.
        ``key_usage`` None leaves the extension out; the leaf is valid from
        ``not_before`` (default: yesterday) for a year from now."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        self._serial += 1
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(self._serial)
            .not_valid_before(not_before or NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=365))
        )
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        if crl:
            point = x509.DistributionPoint([_uri(v) for v in crl], None, None, None)
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        if ocsp_urls:
            descriptions = [x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, _uri(v)) for v in ocsp_urls]
            builder = builder.add_extension(x509.AuthorityInformationAccess(descriptions), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
        for oid, value in (raw_extensions or {}).items():
            builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False)
        return Leaf(key, builder.sign(self.key, hashes.SHA256()))

    def crl(self, revoked: list[x509.Certificate] = ()) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(NOW - timedelta(hours=1))
            .next_update(NOW + timedelta(days=7))
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(NOW - timedelta(minutes=30))
                .build()
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp_response(self, cert: x509.Certificate, *, revoked: bool = False, responder: Leaf | None = None) -> bytes:
        """A response about ``cert`` signed by the CA itself or by a delegated ``responder``."""
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert,
            issuer=self.cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - timedelta(minutes=5),
            next_update=NOW + timedelta(days=1),
            revocation_time=NOW - timedelta(minutes=30) if revoked else None,
            revocation_reason=None,
        )
        if responder is None:
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.cert)
            signed = builder.sign(self.key, hashes.SHA256())
        else:
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert).certificates([responder.cert])
            signed = builder.sign(responder.key, hashes.SHA256())
        return signed.public_bytes(serialization.Encoding.DER)

    def ocsp_responder(self) -> Leaf:
        return self.issue("OCSP RESPONDER", eku=[ExtendedKeyUsageOID.OCSP_SIGNING])


def signer_for(leaf: Leaf, chain: list[asn1_x509.Certificate] = ()) -> signers.SimpleSigner:
    """pyHanko's signer for ``leaf``'s key, embedding ``chain``."""
    from pyhanko.keys import load_private_key_from_pemder_data

    key = load_private_key_from_pemder_data(
        leaf.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        passphrase=None,
    )
    return signers.SimpleSigner(
        signing_cert=leaf.asn1, signing_key=key, cert_registry=SimpleCertificateStore.from_certs(list(chain))
    )


def sign(pdf: bytes, leaf: Leaf, ca: RevCa, field_name: str = "Signature1") -> bytes:
    """A PAdES B-B signature by ``leaf`` (chain embedded), with pyHanko directly."""
    out = io.BytesIO()
    signers.PdfSigner(signers.PdfSignatureMetadata(field_name=field_name), signer=signer_for(leaf, [ca.asn1])).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out
    )
    return out.getvalue()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class Responder:
    """HTTP on 127.0.0.1 that serves fixed answers and records every request.

    ``routes`` maps a path to (status, body) or to a callable mode: ``"hang"`` (accept,
    never answer), ``"drip"`` (answer one byte a tenth of a second, forever),
    ``"huge"`` (an endless body without Content-Length).
    """

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
                route = outer.routes.get(self.path.split("?")[0], (404, b"not here"))
                if route == "hang":
                    outer._stop.wait(30)
                    return
                if route == "drip":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    while not outer._stop.is_set():
                        try:
                            self.wfile.write(b"0")
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(0.1)
                    return
                if route == "huge":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"\0" * 65536
                    try:
                        for _ in range(1000):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                    return
                status, body = route[:2]  # type: ignore[index]
                headers = route[2] if len(route) > 2 else {}  # type: ignore[arg-type]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "Responder":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
