"""What the store raises. The HTTP layer maps them: NotFound → 404, Conflict and InFlight → 409,
IdempotencyMismatch → 422 (the IETF Idempotency-Key draft)."""
from __future__ import annotations

import uuid

__all__ = ["StoreError", "NotFound", "Conflict", "InFlight", "IdempotencyMismatch"]


class StoreError(Exception):
    """Anything the store refuses or cannot do."""


class NotFound(StoreError, LookupError):
    """No record, version or API key by that name."""


class Conflict(StoreError):
    """The change contradicts what is stored (an external_id or token already used, a record
    already annulled …). ``record_id`` names the record in the way, when there is one."""

    def __init__(self, message: str, *, record_id: uuid.UUID | None = None):
        super().__init__(message)
        self.record_id = record_id


class InFlight(Conflict):
    """The same idempotency key is being processed by another request right now."""


class IdempotencyMismatch(StoreError):
    """The idempotency key was used before with a different request body."""
