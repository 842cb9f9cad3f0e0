"""Every use of pyHanko's private API in qujat, in one place, checked at import.

qujat is tested against one pyHanko minor version (``TESTED_PYHANKO``, pinned in
pyproject.toml). Three internals are used, each for a reason stated below; all are
checked when this module is imported, so that a pyHanko that moved them is noticed at
start-up rather than by documents that silently come out different:

1. ``BasePdfFileWriter._update_meta()``, called from ``_prep_dom_for_writing()`` before
   every write, refreshes the Info dictionary and re-serialises the XMP packet.
   :func:`keep_metadata` switches it off for one writer. This one is a property of the
   documents (the renderer's PDF/A metadata stays byte-identical), so if the hook is
   gone the import fails with :class:`PyHankoCompatError`.
2. ``Signer._signed_attr_providers(...)`` yields the signed-attribute providers of one
   signature. :class:`CachedSigningCertificateMixin` replaces the
   signing-certificate-v2 provider by one that reuses the attribute's DER. This one
   only saves time, so if the hook changed the mixin does nothing (pyHanko's own, slower
   path), a warning is issued and ``SIGNING_CERTIFICATE_CACHED`` is False (a test pins it
   to True for the tested version).
3. ``pyhanko.pdf_utils.generic.read_hex_string_from_stream(stream)``, which
   ``generic.read_object`` calls by its module-global name, reads a hex string one byte
   at a time: a signature's /Contents (~9,000 hex digits for a dev signature) took ~4 of
   the ~11 ms a verification takes. :func:`_read_hex_string` reads the same string in
   one pass when it holds nothing but hex digits and PDF whitespace up to its ``>``, and
   hands anything else (a comment, a stray byte, no ``>``) to pyHanko's function, so
   results and errors are pyHanko's own. Speed only: if the hook changed, pyHanko's
   reader is left as it is and ``HEX_STRINGS_FAST`` is False, with a warning.

Everything else qujat does with pyHanko goes through its public API.
"""

from __future__ import annotations

import binascii
import inspect
import warnings
from importlib.metadata import version

from asn1crypto import tsp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers.pdf_cms import Signer

__all__ = [
    "TESTED_PYHANKO",
    "PYHANKO_VERSION",
    "PyHankoCompatError",
    "SIGNING_CERTIFICATE_CACHED",
    "HEX_STRINGS_FAST",
    "CachedSigningCertificateMixin",
    "keep_metadata",
    "hook_problem",
]

TESTED_PYHANKO = "0.38"
PYHANKO_VERSION = version("pyHanko")


class PyHankoCompatError(ImportError):
    """The installed pyHanko no longer has an internal hook that qujat relies on."""


def hook_problem(owner: type, name: str, params: tuple[str, ...], called_from: str | None = None) -> str | None:
    """Why ``owner.name`` is not the hook we expect, or None if it is.

    Expected: a plain function with exactly the parameters ``params`` (by name, in order)
    and, if ``called_from`` is given, still called by name from ``owner.called_from``.
    """
    where = f"{owner.__module__}.{owner.__qualname__}.{name}"
    fn = inspect.getattr_static(owner, name, None)
    if not inspect.isfunction(fn):
        return f"{where} is missing or not a method"
    actual = tuple(inspect.signature(fn).parameters)
    if actual != params:
        return f"{where} takes {actual}, expected {params}"
    if called_from is not None:
        caller = inspect.getattr_static(owner, called_from, None)
        code = getattr(caller, "__code__", None)
        if code is None or name not in code.co_names:
            return f"{where} is no longer called from {owner.__qualname__}.{called_from}"
    return None


def _explain(problem: str) -> str:
    return (
        f"pyHanko {PYHANKO_VERSION}: {problem}. qujat was tested with pyHanko "
        f"{TESTED_PYHANKO}.x (see signing/_compat.py); install that version or adapt the hook."
    )


# --- 1. metadata left as it is ------------------------------------------------------

_problem = hook_problem(BasePdfFileWriter, "_update_meta", ("self",), called_from="_prep_dom_for_writing")
if _problem is not None:
    raise PyHankoCompatError(_explain(_problem))


def _no_metadata_update() -> None:
    return None


def keep_metadata(writer: BasePdfFileWriter) -> BasePdfFileWriter:
    """Make ``writer`` leave the Info dictionary and the XMP packet exactly as they are.

    pyHanko otherwise parses and re-serialises the XMP packet on every write (new
    ModifyDate, Producer "pyHanko", its own serialisation of the renderer's packet). The
    PDF/A-2b identification would survive, but a signature does not need new metadata:
    the renderer's packet then stays byte-identical (Info and XMP stay consistent, as
    PDF/A requires) and the XML round trip is saved. pyHanko has no public switch for
    this, hence the instance-level override of the hook checked above.
    """
    writer._update_meta = _no_metadata_update  # type: ignore[method-assign]
    return writer


# --- 2. signing-certificate-v2 attribute built once per signer ----------------------

_problem = hook_problem(
    Signer,
    "_signed_attr_providers",
    ("self", "data_digest", "digest_algorithm", "attr_settings", "timestamper", "use_cades", "is_pdf_sig"),
    called_from="signed_attrs",
)
SIGNING_CERTIFICATE_CACHED = _problem is None
if not SIGNING_CERTIFICATE_CACHED:
    warnings.warn(
        _explain(f"{_problem}; signing-certificate-v2 is rebuilt for every signature (slower)"),
        RuntimeWarning,
        stacklevel=2,
    )


class _KnownSigningCertificateV2(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes):
        self._der = der

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return tsp.SigningCertificateV2.load(self._der)


class CachedSigningCertificateMixin:
    """Build the signing-certificate-v2 attribute once per signer, not per signature.

    pyHanko rebuilds it from the certificate every time, and asn1crypto then
    re-serialises the issuer name deep inside it: ~10 of the ~12 ms a signature took.
    The attribute depends only on the certificate, so its DER is kept and re-loaded,
    which asn1crypto dumps without re-encoding. Put it before the pyHanko signer class
    in the bases. The DER is computed from the certificate pyHanko hands over, so a
    signer whose certificate changed gets a new one.
    """

    _scv2: tuple[bytes, bytes] | None = None  # (certificate DER, attribute DER)

    if SIGNING_CERTIFICATE_CACHED:

        def _signed_attr_providers(self, *args, **kwargs):
            for prov in super()._signed_attr_providers(*args, **kwargs):  # type: ignore[misc]
                cert = getattr(prov, "signing_cert", None)
                if not isinstance(prov, SigningCertificateV2Provider) or cert is None:
                    yield prov
                    continue
                cert_der = cert.dump()
                cached = self._scv2
                if cached is None or cached[0] != cert_der:
                    cached = self._scv2 = (cert_der, as_signing_certificate_v2(cert).dump())
                yield _KnownSigningCertificateV2(cached[1])


# --- 3. hex strings read in one pass ------------------------------------------------

_HEX_READER = "read_hex_string_from_stream"
_pyhanko_read_hex = getattr(generic, _HEX_READER, None)
_pyhanko_read_hex = getattr(_pyhanko_read_hex, "pyhanko_original", _pyhanko_read_hex)  # this module reloaded


def _module_hook_problem() -> str | None:
    where = f"pyhanko.pdf_utils.generic.{_HEX_READER}"
    if not inspect.isfunction(_pyhanko_read_hex):
        return f"{where} is missing or not a function"
    params = tuple(inspect.signature(_pyhanko_read_hex).parameters)
    if params != ("stream",):
        return f"{where} takes {params}, expected ('stream',)"
    code = getattr(getattr(generic, "read_object", None), "__code__", None)
    if code is None or _HEX_READER not in code.co_names:
        return f"{where} is no longer called from pyhanko.pdf_utils.generic.read_object"
    return None


_HEX_OR_SPACE = generic.HEX_DIGITS + PDF_WHITESPACE if hasattr(generic, "HEX_DIGITS") else None
_CHUNK = 1 << 16


def _read_hex_string(stream):
    """pyHanko's ``read_hex_string_from_stream`` in one pass for the plain case: the
    stream is at ``<``; the string is the bytes up to the first ``>``. If they are only
    hex digits and PDF whitespace, the result is the one pyHanko's byte-by-byte loop
    gives (whitespace dropped, an odd digit count padded with 0) and the stream is left
    after the ``>``, as there. Anything else goes to pyHanko's function from the start."""
    start = stream.tell()
    chunks: list[bytes] = []
    offset, end = 0, -1
    while end < 0:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        found = chunk.find(b">", 1 if not chunks else 0)  # byte 0 of the first chunk is the '<'
        if found >= 0:
            end = offset + found
        chunks.append(chunk)
        offset += len(chunk)
    if end >= 0:
        body = (chunks[0] if len(chunks) == 1 else b"".join(chunks))[1:end]
        if not body.translate(None, _HEX_OR_SPACE):
            digits = body.translate(None, PDF_WHITESPACE)
            if len(digits) % 2:
                digits += b"0"
            stream.seek(start + end + 1)
            return generic.pdf_string(binascii.unhexlify(digits))
    stream.seek(start)
    return _pyhanko_read_hex(stream)


_problem = _module_hook_problem() if _HEX_OR_SPACE is not None else "pyhanko.pdf_utils.generic.HEX_DIGITS is gone"
HEX_STRINGS_FAST = _problem is None
if HEX_STRINGS_FAST:
    _read_hex_string.pyhanko_original = _pyhanko_read_hex  # type: ignore[attr-defined]
    setattr(generic, _HEX_READER, _read_hex_string)
else:
    warnings.warn(_explain(f"{_problem}; hex strings are read byte by byte (slower)"), RuntimeWarning, stacklevel=2)
