"""A development PKI shaped like the NCA's, built and served by certomancer.

A development and test tool: certomancer comes with qujat's ``devpki`` extra, not with
the runtime dependencies, and is imported only when a PKI is built or served (without
it those raise :class:`PkiError` saying what to install).

Why certomancer: it is maintained by pyHanko's author, generates certificates, CRLs,
OCSP responses and RFC 3161 tokens from one YAML description, and its "animator" is a
WSGI app serving exactly those over HTTP. We only write the description (NCA-style
subjects, role OIDs, valid IIN/BIN check digits) and the keys; no ASN.1 is hand-built.

Layout of a dev PKI directory (``init_dev_pki``)::

    pki.json              manifest: port, service URLs, signer labels (read by `serve`)
    certomancer.yml       the PKI description
    keys/*.key.pem        private keys of CAs, responders and signers (mode 0600)
    root.pem              trust anchor (self-signed root)
    issuing-ca.pem        the issuing CA, NCA's "ҰКО" counterpart
    issuing-ca.crl        CRL of the issuing CA as of init time (DER)
    root.crl              CRL of the root as of init time (DER): with issuing-ca.crl, what an
                          offline verification of a dev signature needs (`--crl` both)
    signers/<label>.p12   signer key + certificate + chain, password in signers/password.txt
    signers/<label>.pem   signer certificate

Certificates are deterministic functions of the description and keys (RSA PKCS#1 v1.5
signatures are deterministic), so the server regenerates byte-identical certificates.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import PkiError
from .ncacert import with_check_digit

__all__ = [
    "DevPki",
    "SignerSpec",
    "DEV_SIGNERS",
    "init_dev_pki",
    "load_dev_pki",
    "PkiServer",
    "free_port",
]

ARCH = "qujat-dev"
MANIFEST = "pki.json"
_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SignerSpec:
    """One dev signer: subject fields NCA-style and role OIDs (EKU)."""

    label: str
    common_name: str
    surname: str
    given_name: str
    iin11: str  # first 11 digits; the check digit is computed
    organization: str | None = None
    bin11: str | None = None
    roles: tuple[str, ...] = ()
    revoked: bool = False

    @property
    def iin(self) -> str:
        return with_check_digit(self.iin11)

    @property
    def bin(self) -> str | None:
        return with_check_digit(self.bin11) if self.bin11 else None


_EMAIL_PROTECTION = "email_protection"  # NCA signing certificates carry it too

DEV_SIGNERS: tuple[SignerSpec, ...] = (
    SignerSpec(
        label="enterprise-head",
        common_name="ЖАНДОСОВ АЙДАР",
        surname="ЖАНДОСОВ",
        given_name="СЕРІКҰЛЫ",
        iin11="80010230012",
        organization='РМК "ЖЕР КАДАСТРЫ" (DEV)',
        bin11="99034000123",
        roles=("1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.1"),
    ),
    SignerSpec(
        label="authority-head",
        common_name="ОМАРОВА ДИНАРА",
        surname="ОМАРОВА",
        given_name="АСҚАРҚЫЗЫ",
        iin11="75051240056",
        organization="ЖЕР ҚАТЫНАСТАРЫ БӨЛІМІ (DEV)",
        bin11="05114000789",
        roles=("1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.1", "1.2.398.3.3.4.1.2.2"),
    ),
    SignerSpec(
        label="individual",
        common_name="СЕЙТКАЛИ ЕРЛАН",
        surname="СЕЙТКАЛИ",
        given_name="БОЛАТҰЛЫ",
        iin11="90030630077",
        roles=("1.2.398.3.3.4.1.1",),
    ),
    SignerSpec(
        label="revoked-employee",
        common_name="ҚАСЫМОВ НҰРЛАН",
        surname="ҚАСЫМОВ",
        given_name="ЕРЖАНҰЛЫ",
        iin11="85072130045",
        organization='РМК "ЖЕР КАДАСТРЫ" (DEV)',
        bin11="99034000123",
        roles=("1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.5"),
        revoked=True,
    ),
)


def free_port() -> int:
    """A TCP port free on loopback right now (small race; fine for tests and dev)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class DevPki:
    """Paths and URLs of an initialised dev PKI (read from ``pki.json``)."""

    root: Path
    port: int
    created: datetime
    revoked_at: datetime
    signers: tuple[str, ...]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/{ARCH}/tsa/tsa"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/{ARCH}/ocsp/issuing-ca"

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}/{ARCH}/crls/issuing-ca/latest.crl"

    @property
    def root_cert(self) -> Path:
        return self.root / "root.pem"

    @property
    def issuing_ca_cert(self) -> Path:
        return self.root / "issuing-ca.pem"

    @property
    def crl_file(self) -> Path:
        return self.root / "issuing-ca.crl"

    @property
    def root_crl_file(self) -> Path:
        return self.root / "root.crl"

    @property
    def password_file(self) -> Path:
        return self.root / "signers" / "password.txt"

    @property
    def config_file(self) -> Path:
        return self.root / "certomancer.yml"

    def p12(self, label: str) -> Path:
        return self.root / "signers" / f"{label}.p12"

    def cert(self, label: str) -> Path:
        return self.root / "signers" / f"{label}.pem"

    def key_pem(self, label: str) -> Path:
        return self.root / "keys" / f"{label}.key.pem"


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _key_usage(*params: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(params)},
    }


def _entity(spec: SignerSpec) -> dict[str, str]:
    # Attribute order follows NCA certificates: CN, SURNAME, SERIALNUMBER, C, O, OU, GIVENNAME.
    entity = {
        "common-name": spec.common_name,
        "surname": spec.surname,
        "serial-number": f"IIN{spec.iin}",
        "country-name": "KZ",
    }
    if spec.organization:
        entity["organization-name"] = spec.organization
    if spec.bin:
        entity["organizational-unit-name"] = f"BIN{spec.bin}"
    entity["given-name"] = spec.given_name
    return entity


def _config(port: int, now: datetime, revoked_at: datetime) -> dict[str, Any]:
    """The certomancer description of the dev PKI."""
    ca_from, ca_to = now - timedelta(days=400), now + timedelta(days=3650)
    leaf_from, leaf_to = now - timedelta(days=30), now + timedelta(days=365)
    revocation_urls = [
        {
            "id": "crl_distribution_points",
            "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["issuing-ca"]}},
        },
        {
            "id": "authority_information_access",
            "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": ["issuing-ca"]}},
        },
    ]
    keys = {label: {"path": f"{label}.key.pem"} for label in _key_labels()}
    entities: dict[str, Any] = {
        "root": {"common-name": "НЕГІЗГІ КО DEV (RSA)", "country-name": "KZ"},
        "issuing-ca": {"common-name": "ҰКО DEV (RSA)", "country-name": "KZ"},
        "ocsp": {"common-name": "OCSP RESPONDER ҰКО DEV (RSA)", "country-name": "KZ"},
        "tsa": {"common-name": "TSA ҰКО DEV (RSA)", "country-name": "KZ"},
    }
    certs: dict[str, Any] = {
        "root": {
            "subject": "root",
            "issuer": "root",
            "serial": 0x51A3_0001,
            "validity": {"valid-from": _iso(ca_from), "valid-to": _iso(ca_to + timedelta(days=365))},
            "extensions": [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                _key_usage("key_cert_sign", "crl_sign"),
            ],
        },
        "issuing-ca": {
            "subject": "issuing-ca",
            "issuer": "root",
            "serial": 0x51A3_0002,
            "validity": {"valid-from": _iso(ca_from), "valid-to": _iso(ca_to)},
            "extensions": [
                {
                    "id": "basic_constraints",
                    "critical": True,
                    "value": {"ca": True, "path-len-constraint": 0},
                },
                _key_usage("key_cert_sign", "crl_sign"),
                {
                    "id": "crl_distribution_points",
                    "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}},
                },
            ],
        },
        "ocsp": {
            "subject": "ocsp",
            "issuer": "issuing-ca",
            "serial": 0x51A3_0003,
            "validity": {"valid-from": _iso(ca_from), "valid-to": _iso(ca_to)},
            "extensions": [
                _key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                {"id": "ocsp_no_check"},
            ],
        },
        "tsa": {
            "subject": "tsa",
            "issuer": "root",
            "serial": 0x51A3_0004,
            "validity": {"valid-from": _iso(ca_from), "valid-to": _iso(ca_to)},
            "extensions": [
                _key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                {
                    "id": "crl_distribution_points",
                    "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}},
                },
            ],
        },
    }
    for number, spec in enumerate(DEV_SIGNERS, start=1):
        entities[spec.label] = _entity(spec)
        cert: dict[str, Any] = {
            "subject": spec.label,
            "issuer": "issuing-ca",
            "serial": 0x4E_CA00_0000 + number,
            "validity": {"valid-from": _iso(leaf_from), "valid-to": _iso(leaf_to)},
            "extensions": [
                _key_usage("digital_signature", "non_repudiation"),
                {"id": "extended_key_usage", "value": [_EMAIL_PROTECTION, *spec.roles]},
                *revocation_urls,
            ],
        }
        if spec.revoked:
            cert["revocation"] = {"revoked-since": _iso(revoked_at), "reason": "key_compromise"}
        certs[spec.label] = cert
    return {
        "external-url-prefix": f"http://127.0.0.1:{port}",
        "keysets": {ARCH: {"path-prefix": "keys", "keys": keys}},
        "pki-architectures": {
            ARCH: {
                "keyset": ARCH,
                "entities": entities,
                "certs": certs,
                "services": {
                    "ocsp": {
                        "issuing-ca": {
                            "for-issuer": "issuing-ca",
                            "responder-cert": "ocsp",
                            "signing-key": "ocsp",
                        },
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P30D",
                        },
                        "issuing-ca": {
                            "for-issuer": "issuing-ca",
                            "signing-key": "issuing-ca",
                            "simulated-update-schedule": "P1D",
                        },
                    },
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }


def _key_labels() -> list[str]:
    return ["root", "issuing-ca", "ocsp", "tsa", *(s.label for s in DEV_SIGNERS)]


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _devpki_missing(exc: ImportError) -> PkiError:
    return PkiError(
        f"the dev PKI needs certomancer ({exc.name} is not installed): install qujat with "
        "its 'devpki' extra, e.g. pip install -e '.[devpki]'"
    )


def _certomancer_config():
    try:
        from certomancer.registry import CertomancerConfig
    except ImportError as exc:
        raise _devpki_missing(exc) from exc
    return CertomancerConfig


def _load_arch(root: Path):
    cfg = _certomancer_config().from_file(str(root / "certomancer.yml"), key_search_dir=str(root))
    return cfg.pki_archs[ARCH]


def init_dev_pki(
    directory: str | os.PathLike[str],
    *,
    port: int | None = None,
    now: datetime | None = None,
    revoked_at: datetime | None = None,
) -> DevPki:
    """Create a dev PKI in ``directory`` (created if needed; existing files replaced).

    ``port`` is baked into the certificates' CRL/OCSP URLs, so `serve` must use it;
    by default a free port is picked. The revoked signer is revoked at ``revoked_at``
    (default: one day before ``now``), which lets tests timestamp a signature before
    the revocation through the TSA's time override.
    """
    _certomancer_config()  # fail before writing anything if certomancer is missing
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    revoked_at = (revoked_at or now - timedelta(days=1)).replace(microsecond=0)
    port = port or free_port()
    for label in _key_labels():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(root / "keys" / f"{label}.key.pem", pem)
    config = _config(port, now, revoked_at)
    (root / "certomancer.yml").write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    arch = _load_arch(root)
    (root / "root.pem").write_bytes(asn1_pem.armor("CERTIFICATE", arch.get_cert("root").dump()))
    (root / "issuing-ca.pem").write_bytes(
        asn1_pem.armor("CERTIFICATE", arch.get_cert("issuing-ca").dump())
    )
    crl = arch.service_registry.get_crl("issuing-ca", now)
    (root / "issuing-ca.crl").write_bytes(crl.dump())
    (root / "root.crl").write_bytes(arch.service_registry.get_crl("root", now).dump())
    password = secrets.token_urlsafe(18).encode("ascii")
    _write_private(root / "signers" / "password.txt", password + b"\n")
    for spec in DEV_SIGNERS:
        p12 = arch.package_pkcs12(
            spec.label, certs_to_embed=["issuing-ca", "root"], password=password
        )
        _write_private(root / "signers" / f"{spec.label}.p12", p12)
        (root / "signers" / f"{spec.label}.pem").write_bytes(
            asn1_pem.armor("CERTIFICATE", arch.get_cert(spec.label).dump())
        )
    manifest = {
        "version": _SCHEMA_VERSION,
        "port": port,
        "created": now.isoformat(),
        "revoked_at": revoked_at.isoformat(),
        "signers": [s.label for s in DEV_SIGNERS],
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return load_dev_pki(root)


def load_dev_pki(directory: str | os.PathLike[str]) -> DevPki:
    """Read the manifest of a PKI made by :func:`init_dev_pki`."""
    root = Path(directory).resolve()
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PkiError(f"{root} is not a dev PKI directory (run `qujat pki init {root}`)") from exc
    if manifest.get("version") != _SCHEMA_VERSION:
        raise PkiError(f"{root}/{MANIFEST} has an unknown version; re-run `qujat pki init`")
    return DevPki(
        root=root,
        port=int(manifest["port"]),
        created=datetime.fromisoformat(manifest["created"]),
        revoked_at=datetime.fromisoformat(manifest["revoked_at"]),
        signers=tuple(manifest["signers"]),
    )


def _keep_parsed_keys() -> None:
    """Make certomancer keep the private keys it has parsed (dev PKI only).

    certomancer parses the issuer's DER private key again for every CRL, OCSP answer and
    timestamp it signs; for an RSA key OpenSSL's consistency check makes that ~45 ms — most of
    a timestamp's time at the dev TSA, paid by every B-LT signature of ``make run`` and of the
    tests. The parsed key is kept by its DER bytes (the same bytes give the same key; the
    signature is made exactly as certomancer's own backend makes it). Installed once per
    process, by the first `PkiServer`: certomancer has one backend per process."""
    from certomancer import crypto_utils
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    if getattr(crypto_utils.CRYPTO_BACKEND, "keeps_parsed_keys", False):
        return

    class _KeptKeys(type(crypto_utils.CRYPTO_BACKEND)):
        keeps_parsed_keys = True

        def __init__(self) -> None:
            self._parsed: dict[bytes, Any] = {}
            self._lock = threading.Lock()

        def generic_sign(self, private_key, tbs_bytes, sd_algo):
            algo = sd_algo.signature_algo
            if algo not in ("rsassa_pkcs1v15", "ecdsa"):
                return super().generic_sign(private_key, tbs_bytes, sd_algo)
            der = private_key.dump()
            with self._lock:
                key = self._parsed.get(der)
            if key is None:
                key = serialization.load_der_private_key(der, password=None)
                with self._lock:
                    self._parsed[der] = key
            digest = getattr(hashes, sd_algo.hash_algo.upper())()
            if algo == "ecdsa":
                assert isinstance(key, ec.EllipticCurvePrivateKey)
                return key.sign(tbs_bytes, signature_algorithm=ec.ECDSA(digest))
            assert isinstance(key, rsa.RSAPrivateKey)
            return key.sign(tbs_bytes, padding.PKCS1v15(), digest)

    crypto_utils.CRYPTO_BACKEND = _KeptKeys()


class PkiServer:
    """Serves CRLs, OCSP and the TSA of a dev PKI on 127.0.0.1 in a background thread.

    Usable as a context manager; ``stop()`` really closes the socket so tests can prove
    that B-LT signatures verify without the services.
    """

    def __init__(self, pki: DevPki | str | os.PathLike[str], *, port: int | None = None, quiet: bool = True):
        try:
            from certomancer.integrations.animator import Animator, AnimatorArchStore
            from werkzeug.serving import WSGIRequestHandler, make_server
        except ImportError as exc:
            raise _devpki_missing(exc) from exc

        class _Handler(WSGIRequestHandler):
            def log_request(self, *args: object, **kwargs: object) -> None:
                if not quiet:
                    super().log_request(*args, **kwargs)

        _keep_parsed_keys()
        self.pki = pki if isinstance(pki, DevPki) else load_dev_pki(pki)
        arch = _load_arch(self.pki.root)
        app = Animator(AnimatorArchStore({arch.arch_label: arch}), with_web_ui=False)
        self.port = port or self.pki.port
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=_Handler
        )
        self._thread: threading.Thread | None = None

    def start(self) -> "PkiServer":
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="qujat-pki", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "PkiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
