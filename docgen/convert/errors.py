"""Errors of the converter.

:class:`ConversionError` and :class:`PoolBusyError` are public (re-exported by
``docgen.convert``); :class:`WorkerFailure` and :class:`DocumentRefused` are internal signals
between a worker and its pool and never leave the package.
"""
from __future__ import annotations

from docgen.errors import DocgenError

__all__ = ["ConversionError", "PoolBusyError", "WorkerFailure", "DocumentRefused"]


class ConversionError(DocgenError):
    """A DOCX could not be converted to PDF/A (after the one retry, where a retry applies)."""


class PoolBusyError(ConversionError):
    """No worker became free within the pool's ``queue_timeout`` (a server answers 503)."""


class WorkerFailure(Exception):
    """The worker (not the document) failed: died, hung, or could not start."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class DocumentRefused(Exception):
    """The worker is fine but LibreOffice refused the document."""
