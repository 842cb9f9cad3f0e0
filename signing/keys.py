"""Signing keys: PKCS#12 files (NCA style, legacy-encrypted too) and PKCS#11 tokens.

Why a custom signer: pyHanko's ``SimpleSigner`` keeps the key as ASN.1 and re-parses it
with ``cryptography`` for every signature; ``cryptography`` validates an RSA key on
load (~50 ms). We parse once and keep the ``cryptography`` key object, so an RSA-2048
signature costs the RSA operation itself (<1 ms).

Secrets are read from a file or an environment variable only, never taken from argv,
and never logged or put in exception messages. Loaded keys are cached per
(file identity, password digest) so the service loads each key once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from asn1crypto import tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers.pdf_cms import Signer

from .errors import KeyLoadError, SecretSourceError

__all__ = [
    "KeptKeySigner",
    "load_pkcs12",
    "load_pkcs12_bytes",
    "load_pkcs11",
    "read_secret",
    "clear_key_cache",
]

_HASHES = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _CachedSigningCertificateV2(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes):
        self._der = der

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return tsp.SigningCertificateV2.load(self._der)


class FastAttributesMixin:
    """Build the signing-certificate-v2 attribute once per signer, not per signature.

    pyHanko rebuilds it from the certificate every time, and asn1crypto then
    re-serialises the issuer name deep inside it: ~10 of the ~12 ms a signature
    took. The attribute depends only on the certificate, so its DER is cached and
    re-loaded, which asn1crypto dumps without re-encoding.
    """

    _scv2_der: bytes | None = None

    def _signed_attr_providers(self, *args, **kwargs):  # pyHanko hook (internal API)
        for prov in super()._signed_attr_providers(*args, **kwargs):  # type: ignore[misc]
            if isinstance(prov, SigningCertificateV2Provider):
                if self._scv2_der is None:
                    self._scv2_der = as_signing_certificate_v2(prov.signing_cert).dump()
                yield _CachedSigningCertificateV2(self._scv2_der)
            else:
                yield prov


class KeptKeySigner(FastAttributesMixin, Signer):
    """A pyHanko signer holding an already parsed ``cryptography`` private key.

    Supports RSA (PKCS#1 v1.5) and ECDSA, which is what PKCS#12 files we can use contain;
    NCA GOST keys cannot be loaded by ``cryptography`` and fail earlier in ``load_pkcs12``.
    """

    def __init__(
        self,
        signing_cert: x509.Certificate,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        other_certs: Iterable[x509.Certificate] = (),
    ):
        registry = SimpleCertificateStore()
        registry.register_multiple(list(other_certs))
        super().__init__(signing_cert=signing_cert, cert_registry=registry, embed_roots=True)
        self._private_key = private_key

    def __repr__(self) -> str:  # never show key material
        return f"<KeptKeySigner subject={self.signing_cert.subject.human_friendly!r}>"

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        algo = _HASHES.get(digest_algorithm.lower())
        if algo is None:
            raise KeyLoadError(f"digest {digest_algorithm} is not supported by this signer")
        key = self._private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), algo())
        return key.sign(data, ec.ECDSA(algo()))


def _to_asn1(cert) -> x509.Certificate:
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.Certificate.load(cert.public_bytes(Encoding.DER))


def load_pkcs12_bytes(data: bytes, password: bytes | None) -> KeptKeySigner:
    """Build a signer from PKCS#12 bytes (not cached; see :func:`load_pkcs12`).

    ``cryptography`` reads the NCA legacy containers (3DES key bag, RC2-40 cert bag)
    itself, so no OpenSSL legacy provider is needed.
    """
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError as exc:
        # The message of cryptography may be generic; never include the password.
        raise KeyLoadError(
            "cannot open the PKCS#12 container: wrong password or unsupported "
            "key algorithm (GOST keys cannot be used for signing here)"
        ) from exc
    if key is None or cert is None:
        raise KeyLoadError("the PKCS#12 container holds no private key with a certificate")
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise KeyLoadError(f"unsupported key type {type(key).__name__}; use RSA or EC keys")
    return KeptKeySigner(_to_asn1(cert), key, [_to_asn1(c) for c in extra])


@dataclass(frozen=True)
class _CacheKey:
    path: str
    mtime_ns: int
    size: int
    password_digest: str


_CACHE: dict[_CacheKey, KeptKeySigner] = {}
_CACHE_LOCK = threading.Lock()


def load_pkcs12(path: str | os.PathLike[str], password: bytes | str | None) -> KeptKeySigner:
    """Load (once) the PKCS#12 file at ``path``; later calls return the same signer.

    The cache key holds a SHA-256 of the password, not the password, and the file's
    mtime/size, so a replaced key file is re-read.
    """
    p = Path(path).resolve()
    if isinstance(password, str):
        password = password.encode("utf-8")
    try:
        st = p.stat()
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {p}: {exc.strerror}") from exc
    digest = hashlib.sha256(b"qujat-p12-cache:" + (password or b"")).hexdigest()
    key = _CacheKey(str(p), st.st_mtime_ns, st.st_size, digest)
    with _CACHE_LOCK:
        signer = _CACHE.get(key)
        if signer is None:
            signer = load_pkcs12_bytes(p.read_bytes(), password)
            _CACHE[key] = signer
        return signer


def clear_key_cache() -> None:
    """Forget every cached key (tests; key rotation)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def read_secret(*, file: str | os.PathLike[str] | None = None, env: str | None = None) -> bytes:
    """Read a password/PIN from a file (first line, newline stripped) or an env variable.

    Exactly one source must yield a value; the file wins when both are given.
    """
    if file is not None:
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            raise SecretSourceError(f"cannot read secret file {file}: {exc.strerror}") from exc
        return raw.splitlines()[0] if raw.strip() else b""
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise SecretSourceError(f"environment variable {env} is not set")
        return value.encode("utf-8")
    raise SecretSourceError("give the secret with a file or an environment variable")


_P11_LOCK = threading.Lock()
_P11_CACHE: dict[tuple[str, str, str, str], Signer] = {}


def load_pkcs11(
    module: str | os.PathLike[str],
    *,
    token_label: str,
    key_label: str,
    pin: bytes | str,
    cert_label: str | None = None,
    signing_cert: x509.Certificate | None = None,
    other_certs: Iterable[x509.Certificate] = (),
) -> Signer:
    """Open a session on a PKCS#11 token and return a pyHanko signer bound to it.

    The session stays open for the life of the process (opening one costs a login);
    repeated calls with the same module/token/key return the same signer.
    """
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    class _FastPKCS11Signer(FastAttributesMixin, PKCS11Signer):
        pass

    if isinstance(pin, bytes):
        pin = pin.decode("utf-8")
    cache_key = (
        str(Path(module).resolve()),
        token_label,
        key_label,
        hashlib.sha256(b"qujat-p11-cache:" + pin.encode()).hexdigest(),
    )
    with _P11_LOCK:
        signer = _P11_CACHE.get(cache_key)
        if signer is not None:
            return signer
        try:
            session = open_pkcs11_session(
                str(module), token_criteria=TokenCriteria(label=token_label), user_pin=pin
            )
        except Exception as exc:  # python-pkcs11 raises many unrelated types
            raise KeyLoadError(
                f"cannot open PKCS#11 token {token_label!r} with module {module}: "
                f"{type(exc).__name__}"
            ) from exc
        signer = _FastPKCS11Signer(
            session,
            cert_label=cert_label or key_label,
            key_label=key_label,
            signing_cert=signing_cert,
            ca_chain=list(other_certs),
        )
        _P11_CACHE[cache_key] = signer
        return signer
