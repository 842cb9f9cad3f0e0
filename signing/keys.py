"""Signing keys: PKCS#12 files (NCA style, legacy-encrypted too) and PKCS#11 tokens.

Why a custom signer: pyHanko's ``SimpleSigner`` keeps the key as ASN.1 and re-parses it
with ``cryptography`` for every signature; ``cryptography`` validates an RSA key on
load (~50 ms). We parse once and keep the ``cryptography`` key object, so an RSA-2048
signature costs the RSA operation itself (<1 ms).

Two ways to get a signer, and no key or session is ever kept at module level:

* the functions :func:`load_pkcs12`, :func:`load_pkcs12_bytes` and :func:`load_pkcs11`
  return a new signer on every call (one-off use: a CLI command, a test). A PKCS#11
  signer holds an open, logged-in session; close it (``with load_pkcs11(...) as s:``).
* a :class:`KeyRing`, owned by the process's composition root, loads each key once and
  gives every caller the same signer; its ``close()`` logs out of and closes the
  PKCS#11 sessions it opened.

Secrets are read from a file or an environment variable only, never taken from argv,
and never logged or put in exception messages.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import Iterable

from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ._compat import CachedSigningCertificateMixin
from .errors import KeyLoadError, SecretSourceError, SigningError

__all__ = [
    "KeptKeySigner",
    "TokenSigner",
    "KeyRing",
    "load_pkcs12",
    "load_pkcs12_bytes",
    "load_pkcs11",
    "read_secret",
]

_HASHES = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class KeptKeySigner(CachedSigningCertificateMixin, Signer):
    """A pyHanko signer holding an already parsed ``cryptography`` private key.

    Supports RSA (PKCS#1 v1.5) and ECDSA, which is what PKCS#12 files we can use contain;
    NCA GOST keys cannot be loaded by ``cryptography`` and fail earlier in ``load_pkcs12``.
    Holds no resource: nothing to close. Thread-safe (the key object is immutable).
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


class TokenSigner(CachedSigningCertificateMixin, PKCS11Signer):
    """A pyHanko PKCS#11 signer with a ``close()``.

    The certificate and key handle are looked up when the signer is made (see
    :func:`load_pkcs11`), so a missing label fails there and concurrent signatures never
    race on pyHanko's lazy lookup; python-pkcs11 serialises operations on a session.
    A signer from :func:`load_pkcs11` owns its session and closes it (logout included);
    signers from a :class:`KeyRing` share one session per token, closed by the ring.
    """

    def __init__(self, session, *, owns_session: bool, **kwargs):
        super().__init__(session, **kwargs)
        self._owns_session = owns_session
        self._close_lock = threading.Lock()
        self.closed = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<TokenSigner key_label={self.key_label!r} {state}>"

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if self.closed:
            raise SigningError(f"the PKCS#11 signer {self.key_label!r} is closed")
        return await super().async_sign_raw(data, digest_algorithm, dry_run=dry_run)

    def close(self) -> None:
        """Make the signer unusable and, if it owns its session, log out and close it
        (idempotent)."""
        with self._close_lock:
            if self.closed:
                return
            self.closed = True
            if self._owns_session:
                self.pkcs11_session.close()

    def __enter__(self) -> "TokenSigner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_asn1(cert) -> x509.Certificate:
    return x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _as_bytes(secret: bytes | str | None) -> bytes | None:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def load_pkcs12_bytes(data: bytes, password: bytes | str | None) -> KeptKeySigner:
    """Build a signer from PKCS#12 bytes.

    ``cryptography`` reads the NCA legacy containers (3DES key bag, RC2-40 cert bag)
    itself, so no OpenSSL legacy provider is needed.
    """
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, _as_bytes(password))
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


def _read_key_file(path: Path) -> tuple[bytes, tuple[int, int, int]]:
    """The file's bytes and a stamp (inode, mtime, size) telling a replaced file apart."""
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            return fh.read(), (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {path}: {exc.strerror}") from exc


def load_pkcs12(path: str | os.PathLike[str], password: bytes | str | None) -> KeptKeySigner:
    """Load the PKCS#12 file at ``path`` into a new signer (every call parses the file;
    a :class:`KeyRing` keeps signers for reuse)."""
    data, _ = _read_key_file(Path(path))
    return load_pkcs12_bytes(data, password)


def _open_session(module: str | os.PathLike[str], token_label: str, pin: bytes | str):
    """A new session on the token labelled ``token_label``, logged in with ``pin``.

    PKCS#11 login is per process and token: while one session is logged in, opening a
    second logged-in session on the same token fails (a :class:`KeyRing` shares one).
    """
    pin_text = pin.decode("utf-8") if isinstance(pin, bytes) else pin
    try:
        return open_pkcs11_session(str(module), token_criteria=TokenCriteria(label=token_label), user_pin=pin_text)
    except Exception as exc:  # python-pkcs11 raises many unrelated types
        raise KeyLoadError(
            f"cannot open PKCS#11 token {token_label!r} with module {module}: {type(exc).__name__}"
        ) from exc


def _token_signer(
    session,
    *,
    owns_session: bool,
    token_label: str,
    key_label: str,
    cert_label: str | None,
    signing_cert: x509.Certificate | None,
    other_certs: Iterable[x509.Certificate],
) -> TokenSigner:
    signer = TokenSigner(
        session,
        owns_session=owns_session,
        cert_label=cert_label or key_label,
        key_label=key_label,
        signing_cert=signing_cert,
        ca_chain=list(other_certs),
    )
    try:
        # The public property looks the certificate and the key handle up on the token.
        found = signer.signing_cert is not None
    except Exception as exc:  # PKCS11Error, or python-pkcs11's own types
        signer.close()
        raise KeyLoadError(
            f"PKCS#11 token {token_label!r}: key or certificate {key_label!r} not usable: "
            f"{type(exc).__name__}"
        ) from exc
    if not found:
        signer.close()
        raise KeyLoadError(f"PKCS#11 token {token_label!r}: no certificate for {key_label!r}")
    return signer


def load_pkcs11(
    module: str | os.PathLike[str],
    *,
    token_label: str,
    key_label: str,
    pin: bytes | str,
    cert_label: str | None = None,
    signing_cert: x509.Certificate | None = None,
    other_certs: Iterable[x509.Certificate] = (),
) -> TokenSigner:
    """Open and log in to a new session on a PKCS#11 token; return a signer owning it.

    The caller closes it: ``with load_pkcs11(...) as signer: ...``. The private key (and
    the certificate, unless ``signing_cert`` is given) are looked up now, by label
    (``cert_label`` defaults to ``key_label``).
    """
    return _token_signer(
        _open_session(module, token_label, pin),
        owns_session=True,
        token_label=token_label,
        key_label=key_label,
        cert_label=cert_label,
        signing_cert=signing_cert,
        other_certs=other_certs,
    )


class KeyRing:
    """The process's signing keys, each loaded once and shared; owned by the composition
    root, closed with it (``close()`` or ``with KeyRing() as keys:``).

    Thread-safe: loads are serialised, returned signers may be used from any thread.
    PKCS#12 signers are keyed by resolved path and password (an HMAC with a random
    per-ring key, never the password itself); a file replaced on disk (other inode,
    mtime or size) is read again. PKCS#11 signers are keyed by module, token, PIN, key
    and certificate labels; their sessions stay open until :meth:`close`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mac_key = secrets.token_bytes(32)
        self._pkcs12: dict[tuple[str, bytes], tuple[tuple[int, int, int], KeptKeySigner]] = {}
        self._sessions: dict[tuple[str, str, bytes], object] = {}
        self._tokens: dict[tuple[str, str, bytes, str, str], TokenSigner] = {}
        self._closed = False

    def _secret_id(self, secret: bytes | str | None) -> bytes:
        return hmac.new(self._mac_key, _as_bytes(secret) or b"", hashlib.sha256).digest()

    def _check_open(self) -> None:
        if self._closed:
            raise KeyLoadError("the key ring is closed")

    def load_pkcs12(self, path: str | os.PathLike[str], password: bytes | str | None) -> KeptKeySigner:
        """The signer of the PKCS#12 file at ``path``: parsed on first use (or when the
        file was replaced), the same object afterwards."""
        p = Path(path).resolve()
        key = (str(p), self._secret_id(password))
        with self._lock:
            self._check_open()
            try:
                st = p.stat()
                stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            except OSError as exc:
                raise KeyLoadError(f"cannot read key file {p}: {exc.strerror}") from exc
            known = self._pkcs12.get(key)
            if known is not None and known[0] == stamp:
                return known[1]
            data, stamp = _read_key_file(p)
            signer = load_pkcs12_bytes(data, password)
            self._pkcs12[key] = (stamp, signer)
            return signer

    def load_pkcs11(
        self,
        module: str | os.PathLike[str],
        *,
        token_label: str,
        key_label: str,
        pin: bytes | str,
        cert_label: str | None = None,
        signing_cert: x509.Certificate | None = None,
        other_certs: Iterable[x509.Certificate] = (),
    ) -> TokenSigner:
        """The signer of key ``key_label`` on a PKCS#11 token, made on first use.

        One session per (module, token, PIN), opened and logged in on first use and
        shared by the token's signers; :meth:`close` closes it. ``signing_cert`` and
        ``other_certs`` only count when the signer is made.
        """
        session_key = (str(Path(module).resolve()), token_label, self._secret_id(pin))
        signer_key = (*session_key, key_label, cert_label or key_label)
        with self._lock:
            self._check_open()
            signer = self._tokens.get(signer_key)
            if signer is not None:
                return signer
            session = self._sessions.get(session_key)
            if session is None:
                session = self._sessions[session_key] = _open_session(module, token_label, pin)
            signer = self._tokens[signer_key] = _token_signer(
                session,
                owns_session=False,
                token_label=token_label,
                key_label=key_label,
                cert_label=cert_label,
                signing_cert=signing_cert,
                other_certs=other_certs,
            )
            return signer

    def close(self) -> None:
        """Log out of and close every PKCS#11 session, forget every key (idempotent).

        Loading from a closed ring raises :class:`KeyLoadError`; PKCS#12 signers already
        handed out keep working, PKCS#11 ones raise :class:`SigningError`.
        """
        with self._lock:
            self._closed = True
            signers = list(self._tokens.values())
            sessions = list(self._sessions.values())
            self._tokens.clear()
            self._sessions.clear()
            self._pkcs12.clear()
        for signer in signers:
            signer.close()
        errors = []
        for session in sessions:
            try:
                session.close()
            except Exception as exc:  # close the others anyway
                errors.append(exc)
        if errors:
            raise KeyLoadError(f"{len(errors)} PKCS#11 session(s) did not close cleanly") from errors[0]

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "KeyRing":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
