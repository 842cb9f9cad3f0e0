"""A reading transaction of the store sees one snapshot: what another connection commits while
it runs is not half-seen (PostgreSQL: REPEATABLE READ; SQLite's BEGIN already is one). Without
it, `batch_get` could pair a batch row read before a commit with item counts read after it."""
from __future__ import annotations

from sqlalchemy import func, select

from store.orm import RecordRow
from tests.store.helpers import new_record


def test_a_read_sees_one_snapshot_while_another_connection_commits(store):
    new_record(store)
    count = select(func.count()).select_from(RecordRow)
    with store._read() as s:
        before = s.scalar(count)
        new_record(store)                              # another connection commits meanwhile
        again = s.scalar(count)
    assert again == before == 1
    with store._read() as s:                           # the next reading transaction sees it
        assert s.scalar(count) == 2
