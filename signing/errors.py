"""Errors raised by the signing package.

Each error names what the caller has to fix; callers (CLI, HTTP API) map them to a
message and an exit status without inspecting text.
"""

from __future__ import annotations

__all__ = [
    "SigningPackageError",
    "KeyLoadError",
    "SecretSourceError",
    "SigningError",
    "NotAPdfError",
    "PkiError",
]


class SigningPackageError(Exception):
    """Base class of every error raised on purpose by ``signing``."""


class KeyLoadError(SigningPackageError):
    """The key container could not be opened: wrong password or PIN, unreadable file,
    missing token/key label, or a key algorithm we cannot sign with (e.g. GOST)."""


class SecretSourceError(SigningPackageError):
    """A password or PIN was not supplied through a file or environment variable
    (we refuse command-line secrets because they leak into ``ps`` and shell history)."""


class SigningError(SigningPackageError):
    """Signing failed after the key was loaded (bad input PDF, TSA unreachable,
    revocation data for B-LT could not be collected, ...)."""


class NotAPdfError(SigningPackageError):
    """The input is not a PDF file that can be parsed; nothing can be verified."""


class PkiError(SigningPackageError):
    """The dev PKI directory is missing, incomplete or was made by another version."""
