"""Batches in the store: a regeneration (or LTV extension) job over many records.

`BatchSteps` is mixed into `store.Store`; its methods use the Store's sessions, clock and blob
store. Schema: migration 0002 (`batches`, `batch_items`, `versions.batch_id`).
"""
from __future__ import annotations

__all__ = ["BatchSteps"]


class BatchSteps:
    """The batch operations of `store.Store` (each one transaction)."""
