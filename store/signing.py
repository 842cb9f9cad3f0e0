"""Officials' two-step signing in the store: who must sign a record next, the prepared PDF
between the two HTTP calls, signing-page tickets.

`SigningSteps` is mixed into `store.Store`; its methods use the Store's sessions, clock and blob
store.
"""
from __future__ import annotations

__all__ = ["SigningSteps"]


class SigningSteps:
    """The signing-workflow operations of `store.Store` (each one transaction)."""
