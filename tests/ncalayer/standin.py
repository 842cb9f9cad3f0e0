"""A stand-in for NCALayer (the NCA's desktop signing app) in tests: a WebSocket server on
127.0.0.1 that speaks the public JSON protocol of NCALayer's ``kz.gov.pki.knca.basics`` module
and signs with a key the test gives (an NCA test key from tests/data/nca, or a dev-PKI key).

What it answers (shapes as public clients of NCALayer read them; README.md names the sources):

* on connect: the greeting ``{"result": {"version": "1.4"}}``;
* ``{"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {allowedStorages, format,
  data, signingParams: {decode, encapsulate, digested, tsaProfile}, signerParams:
  {extKeyUsageOids, chain, iin, bin}, locale}}`` with ``format: "cms"``, ``decode: true``,
  ``encapsulate: false``, ``digested: true`` and ``data`` the base64 of a SHA-256 digest →
  ``{"status": true, "body": {"result": ["-----BEGIN CMS-----…"]}}``: one detached CAdES over
  that digest (`signing.deferred.make_detached_cms`, signing time fixed by the test, since the
  NCA test keys have expired), PEM-armoured as the basics module returns it;
* the user cancels (mode ``"cancel"``): ``{"status": true, "body": {}}`` — no ``result``;
* anything it does not do: ``{"status": false, "code": "…", "message": "…", "details": ""}``
  with the basics module's codes (``INVALID_SIGNING_PARAMS``, ``INVOCATION_ERROR``,
  ``SIGNING_FAILURE``); an unknown module: ``{"success": false, "errorCode":
  "MODULE_NOT_FOUND"}``.

Modes: ``"sign"`` (the key given), ``"cancel"`` (the official closes the key dialog),
``"wrong_key"`` (the official picks another person's key: ``wrong_signer``, by default a
throw-away key and certificate of another IIN made here), ``"refuse"`` (the key dialog fails:
``SIGNING_FAILURE``). ``requests`` keeps every request received, for tests to inspect.

Usage::

    with StandIn(signer, signing_time=datetime(2021, 6, 1, tzinfo=timezone.utc)) as layer:
        layer.url       # ws://127.0.0.1:<port>
        layer.mode = "cancel"
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from signing.deferred import make_detached_cms

__all__ = ["StandIn", "BASICS", "VERSION", "pem_cms", "throwaway_signer"]

BASICS = "kz.gov.pki.knca.basics"
VERSION = "1.4"
MODES = ("sign", "cancel", "wrong_key", "refuse")


def pem_cms(der: bytes) -> str:
    """A CMS armoured as NCALayer's basics module returns it (``-----BEGIN CMS-----``)."""
    body = "\r\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
    return f"-----BEGIN CMS-----\r\n{body}\r\n-----END CMS-----\r\n"


def throwaway_signer(iin: str = "870412300417", name: str = "БӨТЕН АДАМ"):
    """A key pair and a self-issued certificate of another person (NCA-style subject
    ``SERIALNUMBER=IIN…``, nonRepudiation, the e-mail-protection EKU NCA signing keys carry):
    what an official picking the wrong key from the dialog would sign with."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
                         x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "STAND-IN WRONG-KEY CA")])
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=365 * 30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _error(code: str, message: str) -> dict[str, Any]:
    return {"status": False, "code": code, "message": message, "details": ""}


class StandIn:
    """The stand-in server (see the module docstring). Start it with ``with`` or `start`."""

    def __init__(self, signer, *, signing_time: datetime, mode: str = "sign", wrong_signer=None,
                 host: str = "127.0.0.1", port: int = 0, version: str = VERSION):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: one of {MODES}")
        self.signer = signer
        self.signing_time = signing_time
        self.mode = mode
        self.wrong_signer = wrong_signer
        self.host, self.port, self.version = host, port, version
        self.requests: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    # -- life ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> "StandIn":
        """Listen (again, on the same port after `stop`)."""
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="ncalayer-stand-in", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the NCALayer stand-in did not start")
        if self._failure is not None:
            raise RuntimeError("the NCALayer stand-in did not start") from self._failure
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
        self._thread = self._loop = None

    def __enter__(self) -> "StandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._connection, self.host, self.port, max_size=4 * 1024 * 1024) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    # -- the protocol --------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"result": {"version": self.version}}))
        async for message in ws:
            if message == "--heartbeat--":          # clients' keep-alive: NCALayer echoes it
                await ws.send("--heartbeat--")
                continue
            reply = await asyncio.to_thread(self.answer, message)
            await ws.send(json.dumps(reply))

    def answer(self, message: str | bytes) -> dict[str, Any]:
        """The reply to one request (also callable without a socket)."""
        try:
            request = json.loads(message)
        except (ValueError, TypeError):
            return _error("INVOCATION_ERROR", "the request is not JSON")
        self.requests.append(request)
        if not isinstance(request, dict):
            return _error("INVOCATION_ERROR", "the request is not a JSON object")
        if request.get("module") != BASICS:
            return {"success": False, "errorCode": "MODULE_NOT_FOUND"}
        if request.get("method") != "sign":
            return _error("INVOCATION_ERROR", f"no method {request.get('method')!r} in the stand-in")
        return self._sign(request.get("args"))

    def _sign(self, args: Any) -> dict[str, Any]:
        if not isinstance(args, dict):
            return _error("INVALID_SIGNING_PARAMS", "args must be an object")
        params = args.get("signingParams") or {}
        if args.get("format") != "cms":
            return _error("INVALID_SIGNING_PARAMS", "the stand-in makes CMS only (format: cms)")
        if not (params.get("digested") is True and params.get("decode") is True
                and params.get("encapsulate") is False):
            return _error("INVALID_SIGNING_PARAMS",
                          "the stand-in signs a given hash only (decode: true, encapsulate: false, digested: true)")
        storages = args.get("allowedStorages")
        if storages is not None and "PKCS12" not in storages:
            return _error("SIGNING_FAILURE", "no storage of the allowed types (the stand-in has PKCS12 only)")
        items = args.get("data")
        single = isinstance(items, str)
        digests = []
        for item in [items] if single else (items if isinstance(items, list) else []):
            try:
                digest = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError, TypeError):
                return _error("INVALID_SIGNING_PARAMS", "data is not base64")
            if len(digest) != 32:
                return _error("INVALID_SIGNING_PARAMS", f"data has {len(digest)} bytes; a SHA-256 hash has 32")
            digests.append(digest)
        if not digests:
            return _error("INVALID_SIGNING_PARAMS", "no data to sign")
        if self.mode == "cancel":
            return {"status": True, "body": {}}
        if self.mode == "refuse":
            return _error("SIGNING_FAILURE", "Signing has failed.")
        signer = self.signer
        if self.mode == "wrong_key":
            if self.wrong_signer is None:
                self.wrong_signer = throwaway_signer()
            signer = self.wrong_signer
        signatures = [pem_cms(make_detached_cms(d, signer, signing_time=self.signing_time)) for d in digests]
        return {"status": True, "body": {"result": signatures}}
