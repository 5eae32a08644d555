"""A consent withdrawal at the participant that sent us records removes what those records
put into the bosai registry (domains.bosai.sharing.withdraw): a person known only from them
is gone, medical part and stays included; one also registered by us keeps our input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.control.gate import ConsentWithdrawn
from connector.data.record_events import RecordChange
from domains.bosai import sharing
from domains.bosai.registry import AddressContext, Registry

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
SENDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def person(family: str, given: str, kana: str, birth: str) -> dict:
    return {"familyName": family, "givenName": given, "familyNameKana": kana,
            "givenNameKana": "ハナコ", "birthDate": birth, "sex": "female",
            "address": "兵庫県神戸市東灘区本山北町3丁目6番1号", "consentToDisclose": True,
            "careNeeds": {"careCategory": ["elderly"], "medicalNeed": ["dialysis"]}}


@pytest.fixture
def registry(tmp_path):
    r = Registry.open(tmp_path / "registry.sqlite", place=AddressContext("兵庫県", "神戸市"),
                      clock=lambda: NOW)
    yield r
    r.close()


def received(registry: Registry, record_id: str, form: dict, channel: str = "shared") -> None:
    change = RecordChange("urn:tsunagu:test:share", {"id": record_id, "type": "Evacuee", **form},
                          "created", True, SENDER)
    with registry.store.transaction() as db:
        assert sharing.receive(registry, db, change, channel)


def test_a_withdrawal_removes_what_the_senders_records_brought(registry):
    only_shared = person("山田", "花子", "ヤマダ", "1948-04-01")
    also_ours = person("伊達", "花子", "ダテ", "1950-05-05")
    received(registry, "urn:share:1", only_shared)
    registry.register(also_ours, source="reception:form")
    received(registry, "urn:share:2", also_ours)
    received(registry, "urn:reception:3", person("佐藤", "花子", "サトウ", "1960-06-06"),
             channel="reception")
    assert registry.count() == 3
    ids = {p: registry.store.query("SELECT id FROM bosai_persons WHERE birth_date = ?",
                                   (p,))[0][0] for p in ("1948-04-01", "1950-05-05")}

    def rows(table: str, column: str) -> int:
        return registry.store.query(f"SELECT count(*) FROM {table} WHERE {column} = ?",
                                    (ids["1948-04-01"],))[0][0]
    tables = (("bosai_persons", "id"), ("bosai_person_medical", "person_id"),
              ("bosai_person_sources", "person_id"), ("bosai_stay_history", "person_id"))
    assert [rows(*t) for t in tables[:3]] == [1, 1, 1]  # what the withdrawal must remove

    withdrawn = ConsentWithdrawn("urn:agreement:1", SENDER, "urn:person",
                                 ("urn:share:1", "urn:share:2"), purge=True)
    with registry.store.transaction() as db:
        deleted, kept = sharing.withdraw(registry, db, withdrawn)
    assert deleted == [ids["1948-04-01"]] and kept == [ids["1950-05-05"]]
    assert registry.count() == 2  # the reception input of another record stays
    assert [rows(*t) for t in tables] == [0, 0, 0, 0]
    kept_person = registry.get_person(ids["1950-05-05"], with_sources=True)
    assert [s.source for s in kept_person.sources] == ["reception:form"]


def test_a_withdrawal_naming_other_records_changes_nothing(registry):
    received(registry, "urn:share:1", person("山田", "花子", "ヤマダ", "1948-04-01"))
    other_sender = ConsentWithdrawn("urn:agreement:9", "did:key:z6MkOther", "urn:person",
                                    ("urn:share:1",), purge=True)
    with registry.store.transaction() as db:
        assert sharing.withdraw(registry, db, other_sender) == ([], [])
    assert registry.count() == 1
