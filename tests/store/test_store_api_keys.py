"""API keys: shown once, kept as a hash only, verified in constant time, revocable, audited."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from store import Action, NotFound


def _key_events(store) -> list[tuple]:
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT action, actor, details FROM audit_events WHERE record_id IS NULL ORDER BY id"))
        return [(a, actor, json.loads(d) if isinstance(d, str) else d) for a, actor, d in rows]


def test_a_new_key_verifies_and_only_its_hash_is_stored(store, clock):
    key, secret = store.create_api_key("upstream ЦОН", ["documents:issue", "documents:annul"], actor="cli")
    assert secret.startswith(f"qujat_{key.id}_") and len(secret) == 6 + 16 + 1 + 43
    assert key.scopes == ("documents:issue", "documents:annul") and key.active
    assert key.created_at == clock.now and key.revoked_at is None
    assert store.verify_api_key(secret) == key
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
        dump = " ".join(str(v) for v in row.values())
        audit = " ".join(str(r) for r in conn.execute(text("SELECT * FROM audit_events")))
    hidden = secret.split("_", 2)[2]
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert len(hidden) == 43 and hidden not in dump and hidden not in audit


@pytest.mark.parametrize("mangle", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),        # wrong secret
    lambda s: s.replace("qujat_", "qujax_"),                  # wrong prefix
    lambda s: s[:6] + "0" * 16 + s[22:],                      # unknown key id
    lambda s: s + "x",                                        # too long
    lambda s: "",
    lambda s: "Bearer " + s,
])
def test_anything_but_the_exact_key_is_refused(store, mangle):
    _, secret = store.create_api_key("upstream", ["documents:issue"], actor="cli")
    assert store.verify_api_key(mangle(secret)) is None


def test_a_revoked_key_is_refused_and_revoking_is_audited_once(store, clock):
    key, secret = store.create_api_key("upstream", ["documents:issue"], actor="cli")
    clock.advance(days=1)
    revoked = store.revoke_api_key(key.id, actor="cli-admin")
    assert revoked.revoked_at == clock.now and not revoked.active
    assert store.verify_api_key(secret) is None
    clock.advance(days=1)
    assert store.revoke_api_key(key.id, actor="cli-admin") == revoked      # no change
    assert [(a, actor) for a, actor, _ in _key_events(store)] == [
        (Action.KEY_CREATE.value, "cli"), (Action.KEY_REVOKE.value, "cli-admin")]
    assert _key_events(store)[1][2]["key_id"] == key.id
    with pytest.raises(NotFound):
        store.revoke_api_key("0" * 16, actor="cli-admin")


def test_keys_are_listed_without_secrets(store, clock):
    a, _ = store.create_api_key("first", ["documents:issue"], actor="cli")
    clock.advance(seconds=1)
    b, _ = store.create_api_key("second", ["batches:run", "batches:run"], actor="cli")
    assert store.api_keys() == (a, b)
    assert b.scopes == ("batches:run",)
    with pytest.raises(ValueError):
        store.create_api_key("bad", [""], actor="cli")
