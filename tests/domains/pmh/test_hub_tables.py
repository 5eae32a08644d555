"""The hub's tables on a real SQLite file: a voucher used twice (past the change rule, as
two racing checkups could) is refused with its code and rolls back; events are stored once
per key and read by cursor and subjects."""

from __future__ import annotations

import pytest

from connector.store.database import Store
from domains.pmh.errors import HubRefusal
from domains.pmh.hub import events, vouchers


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "hub.sqlite")
    for schema in (vouchers.SCHEMA, events.SCHEMA):
        store.db.executescript(schema)
    yield store
    store.close()


def test_a_second_use_of_a_voucher_is_refused_and_rolls_back(store):
    with store.transaction() as db:
        vouchers.use(db, "urn:v:1", "urn:e:1", "did:key:clinic", "2026-06-01", "t")
    with pytest.raises(HubRefusal) as refused, store.transaction() as db:
        events.raise_event(db, "k:2", events.FAMILY, "urn:p", "x", {}, "t")
        vouchers.use(db, "urn:v:1", "urn:e:2", "did:key:clinic", "2026-06-02", "t")
    assert refused.value.code == "pmh.voucher_used"
    assert vouchers.used_by(store, "urn:v:1") == "urn:e:1"
    assert events.read(store, events.FAMILY) == []  # the whole transaction rolled back


def test_events_are_stored_once_and_read_by_cursor_and_subject(store):
    with store.transaction() as db:
        assert events.raise_event(db, "a", events.FAMILY, "urn:child", "t1", {"n": 1}, "t")
        assert not events.raise_event(db, "a", events.FAMILY, "urn:child", "t1", {"n": 1}, "t")
        events.raise_event(db, "b", events.FAMILY, "urn:other", "t2", {"n": 2}, "t")
        events.raise_event(db, "c", events.STAFF, "urn:child", "t3", {"n": 3}, "t")
    mine = events.read(store, events.FAMILY, subjects={"urn:child"})
    assert [(e["type"], e["n"]) for e in mine] == [("t1", 1)]
    assert events.read(store, events.FAMILY, subjects=set()) == []
    everything = events.read(store, events.FAMILY)
    assert [e["n"] for e in everything] == [1, 2]
    assert events.read(store, events.FAMILY, after=everything[0]["seq"])[0]["n"] == 2
