"""The store's side of officials' two-step signing (`store.signing.SigningSteps`), on SQLite and
PostgreSQL: an awaiting record has no version until the last signature is in; each accepted
signature is one transaction with its audit event; a stale step, a wrong ticket or a record that
no longer awaits changes nothing."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading

import pytest

from store import Conflict, NewVersion, NotFound, SignatureInfo, Status, TemplateRef
from store.signing import PreparedStep, TicketRejected

SIGNERS = [{"role": "Кәсіпорын басшысы", "iin": "800102300120", "bin": None},
           {"role": "Уәкілетті орган", "iin": None, "bin": "990340001230"}]
TEMPLATES = {"kk": TemplateRef("3", "a" * 64)}


def _step(seed: bytes) -> PreparedStep:
    pdf = b"%PDF-1.7 " + seed * 50 + b"<" + b"0" * 64 + b">" + b" trailer"
    start = pdf.index(b"<")
    return PreparedStep(pdf=pdf, field_name="Signature1", digest=hashlib.sha256(seed).digest(),
                        contents_start=start, contents_end=start + 66)


def _awaiting(store, **kw):
    args = dict(client_id="akimat-1", doc_type="cadastral_value_act", language="kk",
                data={"n": 1}, token=secrets.token_urlsafe(24), docx=b"PK\x03\x04 docx",
                templates=TEMPLATES, signers=SIGNERS, prepared=_step(b"one"), actor="api-key:k1")
    args.update(kw)
    return store.create_awaiting_record(**args)


def _signed(index: int) -> dict:
    return {"index": index, "common_name": f"SIGNER {index}", "iin": None, "bin": None,
            "time": "2021-06-01T10:00:00+00:00", "cms_sha256": str(index) * 64,
            "digest": "ab" * 32}


def at_once(*calls, expected: tuple[type[BaseException], ...], timeout: float = 120) -> list:
    """Run ``calls`` each in a thread of its own, released together: their results in order, an
    ``expected`` exception in place of a result."""
    start, out = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            out[i] = calls[i]()
        except expected as e:
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a call did not finish"
    return out


def _final(clock) -> NewVersion:
    return NewVersion(pdf=b"%PDF-1.7 final", docx=b"PK\x03\x04 docx", templates=TEMPLATES,
                      signatures=(SignatureInfo("SIGNER 0", clock()), SignatureInfo("SIGNER 1", clock())))


def test_an_awaiting_record_has_a_signing_state_and_no_version(store):
    record = _awaiting(store)
    assert record.status is Status.AWAITING_SIGNATURE and record.current_version == 1
    assert store.get(record.id).status is Status.AWAITING_SIGNATURE
    assert store.versions(record.id) == ()
    state = store.signing_state(record.id)
    assert (state.next_index, state.total, state.done, state.finished) == (0, 2, (), False)
    assert state.digest == hashlib.sha256(b"one").digest()
    assert store.blobs.get(state.pdf_sha256) == _step(b"one").pdf
    assert [e.action.value for e in store.audit(record.id)] == ["issue"]
    assert store.audit(record.id)[0].details["status"] == "awaiting_signature"


def test_signatures_advance_the_state_then_write_version_1(store, clock):
    record = _awaiting(store)
    updated, version = store.accept_signature(record.id, index=0, signed=_signed(0), actor="api-key:k1",
                                              details={"cms_sha256": "0" * 64}, next_step=_step(b"two"))
    assert updated.status is Status.AWAITING_SIGNATURE and version is None
    state = store.signing_state(record.id)
    assert state.next_index == 1 and state.done[0]["common_name"] == "SIGNER 0"
    assert store.blobs.get(state.pdf_sha256) == _step(b"two").pdf
    clock.advance(minutes=5)
    updated, version = store.accept_signature(record.id, index=1, signed=_signed(1), actor="api-key:k1",
                                              details={}, final=_final(clock))
    assert updated.status is Status.VALID and version.number == 1
    assert [v.number for v in store.versions(record.id)] == [1]
    assert store.blobs.get(version.pdf_sha256) == b"%PDF-1.7 final"
    events = store.audit(record.id)
    assert [e.action.value for e in events] == ["issue", "sign", "sign"]
    assert events[-1].details["status"] == "valid" and events[-1].details["signer_index"] == 1
    assert store.signing_state(record.id).finished


def test_a_stale_step_or_a_finished_record_changes_nothing(store, clock):
    record = _awaiting(store)
    with pytest.raises(Conflict, match="waits for signer 1"):
        store.accept_signature(record.id, index=1, signed=_signed(1), actor="a", details={},
                               next_step=_step(b"x"))
    assert store.signing_state(record.id).next_index == 0
    assert len(store.audit(record.id)) == 1
    store.annul(record.id, "шешім күшін жойды", "api-key:k1")
    with pytest.raises(Conflict, match="not awaiting"):
        store.accept_signature(record.id, index=0, signed=_signed(0), actor="a", details={},
                               final=_final(clock))
    assert store.versions(record.id) == ()


def test_tickets_are_single_use_bound_to_record_and_step_and_expire(store, clock):
    record, other = _awaiting(store), _awaiting(store)
    good, stale, foreign = (hashlib.sha256(secrets.token_bytes(32)).hexdigest() for _ in range(3))
    ticket = store.add_signing_ticket(record.id, good, expires_at=clock() + dt.timedelta(minutes=15),
                                      actor="api-key:k1")
    assert ticket.signer_index == 0 and ticket.used_at is None
    store.add_signing_ticket(record.id, stale, expires_at=clock() + dt.timedelta(minutes=1), actor="a")
    store.add_signing_ticket(other.id, foreign, expires_at=clock() + dt.timedelta(minutes=15), actor="a")
    events = [e for e in store.audit(record.id) if e.action.value == "signing_ticket"]
    assert [e.details["ticket"] for e in events] == [good[:12], stale[:12]]
    assert not any(good in str(e.details) for e in store.audit(record.id))
    store.check_signing_ticket(record.id, good)
    with pytest.raises(TicketRejected, match="another record") as refused:
        store.check_signing_ticket(record.id, foreign)
    assert refused.value.gone is False
    with pytest.raises(TicketRejected, match="unknown"):
        store.check_signing_ticket(record.id, "f" * 64)
    clock.advance(minutes=2)
    with pytest.raises(TicketRejected, match="expired"):
        store.accept_signature(record.id, index=0, signed=_signed(0), actor="a", details={},
                               next_step=_step(b"two"), ticket_hash=stale)
    assert store.signing_state(record.id).next_index == 0
    store.accept_signature(record.id, index=0, signed=_signed(0), actor="a", details={},
                           next_step=_step(b"two"), ticket_hash=good)
    assert store.signing_ticket(good).used_at == clock()
    with pytest.raises(TicketRejected, match="used already") as refused:
        store.check_signing_ticket(record.id, good)
    assert refused.value.gone is True
    with pytest.raises(TicketRejected, match="used already"):
        store.accept_signature(record.id, index=1, signed=_signed(1), actor="a", details={},
                               final=_final(clock), ticket_hash=good)
    assert store.versions(record.id) == ()


def test_a_ticket_is_only_for_a_record_awaiting_a_signature(store, clock):
    record = _awaiting(store)
    store.annul(record.id, "қате", "a")
    with pytest.raises(Conflict):
        store.add_signing_ticket(record.id, "0" * 64, expires_at=clock() + dt.timedelta(minutes=5), actor="a")
    with pytest.raises(NotFound):
        store.signing_ticket("0" * 64)


def test_a_record_awaiting_signatures_gets_no_version_from_add_version(store):
    """Only the last accepted signature writes an awaiting record's version 1."""
    record = _awaiting(store)
    with pytest.raises(Conflict, match="awaiting"):
        store.add_version(record.id, _final(lambda: dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc)),
                          actor="cli:test")
    assert store.versions(record.id) == () and store.get(record.id).current_version == 1
    assert [e.action.value for e in store.audit(record.id)] == ["issue"]


@pytest.mark.parametrize("same_ticket", [False, True])
def test_two_signatures_for_one_step_at_once_one_wins_the_other_changes_nothing(store, clock, same_ticket):
    """Two accepted-looking signatures for step 0 at once (each with its own next step; with
    one ticket, or none): exactly one is written, the other gets `Conflict` or `TicketRejected`,
    and the state, the audit trail and the ticket show the winner only."""
    record = _awaiting(store)
    ticket = hashlib.sha256(b"one ticket").hexdigest()
    if same_ticket:
        store.add_signing_ticket(record.id, ticket, expires_at=clock() + dt.timedelta(minutes=5), actor="k")
    outcomes = dict(enumerate(at_once(*(
        lambda i=i: store.accept_signature(
            record.id, index=0, signed={**_signed(0), "cms_sha256": str(i) * 64}, actor=f"a{i}",
            details={"who": i}, next_step=_step(f"next {i}".encode()),
            ticket_hash=ticket if same_ticket else None)
        for i in (0, 1)), expected=(Conflict, TicketRejected))))
    won = [i for i, o in outcomes.items() if not isinstance(o, Exception)]
    assert len(outcomes) == 2 and len(won) == 1, outcomes
    state = store.signing_state(record.id)
    assert state.next_index == 1 and [d["cms_sha256"] for d in state.done] == [str(won[0]) * 64]
    assert state.pdf_sha256 == hashlib.sha256(_step(f"next {won[0]}".encode()).pdf).hexdigest()
    events = [e for e in store.audit(record.id) if e.action.value == "sign"]
    assert [(e.actor, e.details["who"]) for e in events] == [(f"a{won[0]}", won[0])]
    if same_ticket:
        assert store.signing_ticket(ticket).used_at is not None
