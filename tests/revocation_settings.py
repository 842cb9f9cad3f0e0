"""`Settings` with ``signature_revocation`` (QUJAT_SIGNATURE_REVOCATION: ``require``, ``try`` or
``off``; `qujat.signflow` step 4) for the tests that submit officials' signatures.

`signflow` reads the setting as ``getattr(settings, "signature_revocation", "require")``; this
subclass carries it explicitly, so a test states the mode it runs in. The tests whose CMS come
from the NCA test key (its OCSP responder and CRL on test.pki.gov.kz, unreachable here, and the
key expired in 2022) or from a dev PKI whose services are not served run with ``off``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from qujat.settings import Settings


@dataclass(frozen=True)
class RevocationSettings(Settings):
    signature_revocation: str = "require"


def settings(*, signature_revocation: str, **kw) -> Settings:
    """`Settings(**kw)` with the given revocation mode."""
    return RevocationSettings(signature_revocation=signature_revocation, **kw)


def with_mode(value: Settings, signature_revocation: str) -> Settings:
    """``value`` (any `Settings`) with the given revocation mode."""
    fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(Settings) if f.init}
    return RevocationSettings(**{**fields, "signature_revocation": signature_revocation})


def runtime_with(rt, signature_revocation: str):
    """A runtime sharing ``rt``'s parts (store, pool, keys, clock) whose settings have the given
    revocation mode; ``rt`` still owns and closes those parts."""
    return dataclasses.replace(rt, settings=with_mode(rt.settings, signature_revocation))
