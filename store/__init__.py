"""The records store: records, their versions, the audit trail, API keys and idempotency keys in
SQL (SQLite by default, PostgreSQL to scale out; SQLAlchemy 2 + Alembic), files in a
content-addressed blob store. Imports nothing of ours but the `kazakhstan` leaf (and needs
nothing of it yet): the application layer turns rendered and signed documents into `NewVersion`s.
"""
from store.blobs import BlobStore, FileBlobStore
from store.errors import Conflict, IdempotencyMismatch, InFlight, NotFound, StoreError
from store.model import (Action, ApiKey, AuditEvent, NewVersion, Record, SignatureInfo, Status,
                         TemplateRef, Version, request_fingerprint, token_key)
from store.store import Store

__all__ = ["Store", "BlobStore", "FileBlobStore", "StoreError", "NotFound", "Conflict", "InFlight",
           "IdempotencyMismatch", "Action", "ApiKey", "AuditEvent", "NewVersion", "Record",
           "SignatureInfo", "Status", "TemplateRef", "Version", "request_fingerprint", "token_key"]
