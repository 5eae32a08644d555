"""The hash-chained audit log detects any edited, removed or inserted line."""

import orjson
import pytest
from sqlcipher3 import dbapi2 as sqlcipher  # the driver every store uses

from connector.cli.main import main
from connector.control.audit import AuditLog, verify_chain
from connector.store.database import Store, StoreError


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "connector.sqlite")
    log = AuditLog(s)
    with s.transaction():
        log.append("delivery", record="urn:r:1", version=1, agreement="urn:a:1")
        log.append("use", record="urn:r:1", purpose="disaster_response")
        log.append("deletion", record="urn:r:1", reason="agreement terminated")
    yield s
    s.close()


def test_intact_chain_verifies(store):
    report = verify_chain(AuditLog(store).lines())
    assert report.ok and report.lines == 3
    assert [e["event"] for e in AuditLog(store).entries()] == ["delivery", "use", "deletion"]


def edit(store, seq, **changes):
    line = store.query("SELECT line FROM audit WHERE seq=?", (seq,))[0][0]
    entry = orjson.loads(line) | changes
    with store.transaction() as db:
        db.execute("UPDATE audit SET line=? WHERE seq=?", (orjson.dumps(entry).decode(), seq))


def test_edited_line_is_detected(store):
    edit(store, 2, purpose="marketing")
    report = verify_chain(AuditLog(store).lines())
    assert not report.ok and report.first_bad_seq == 2
    assert "edited" in report.reason


def test_recomputed_hash_still_breaks_the_next_link(store):
    import hashlib

    from trust.canonical import canonical_json

    line = orjson.loads(store.query("SELECT line FROM audit WHERE seq=2")[0][0])
    line.pop("hash")
    line["purpose"] = "marketing"
    line["hash"] = hashlib.sha256(canonical_json(line)).hexdigest()
    with store.transaction() as db:
        db.execute("UPDATE audit SET line=? WHERE seq=2", (orjson.dumps(line).decode(),))
    report = verify_chain(AuditLog(store).lines())
    assert report.first_bad_seq == 3 and "link" in report.reason


def test_removed_line_is_detected(store):
    with store.transaction() as db:
        db.execute("DELETE FROM audit WHERE seq=2")
    report = verify_chain(AuditLog(store).lines())
    assert not report.ok and report.first_bad_seq == 2


def test_failed_transaction_writes_no_audit_line(store):
    with pytest.raises(RuntimeError), store.transaction():
        AuditLog(store).append("use", record="urn:r:2")
        raise RuntimeError("step failed")
    assert len(AuditLog(store).lines()) == 3


def test_cli_verify_store_and_exported_file(store, tmp_path, capsys):
    assert main(["audit", "verify", "--store", str(store.path)]) == 0
    assert "intact: 3 lines" in capsys.readouterr().out
    exported = tmp_path / "audit.jsonl"
    exported.write_text("\n".join(AuditLog(store).lines()) + "\n")
    assert main(["audit", "verify", "--file", str(exported)]) == 0
    lines = exported.read_text().splitlines()
    lines[0] = lines[0].replace("urn:a:1", "urn:a:2")
    exported.write_text("\n".join(lines))
    assert main(["audit", "verify", "--file", str(exported)]) == 1
    assert "broken at line 1" in capsys.readouterr().out


def test_cli_missing_store_is_a_clear_error(tmp_path, capsys):
    assert main(["audit", "verify", "--store", str(tmp_path / "nope.sqlite")]) == 2
    assert "no store file" in capsys.readouterr().err


def test_read_only_store_refuses_writes_without_corruption(tmp_path):
    path = tmp_path / "ro.sqlite"
    s = Store(path)
    with s.transaction():
        AuditLog(s).append("use", record="urn:r:1")
    s.close()
    ro = Store.__new__(Store)
    ro.path = path
    ro.db = sqlcipher.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    with pytest.raises(StoreError) as info, ro.transaction():
        AuditLog(ro).append("use", record="urn:r:2")
    assert info.value.code == "store.unavailable"
    assert verify_chain(AuditLog(ro).lines()).lines == 1


def test_the_chain_holds_across_instances_rollbacks_and_appends_outside_a_transaction(store):
    """Appends in one transaction follow the tail they wrote (kept in the transaction's
    memo), whichever AuditLog of the store writes; a rolled-back batch leaves no tail."""
    first, second = AuditLog(store), AuditLog(store)
    with store.transaction():
        for n in range(50):
            (first if n % 2 else second).append("use", record=f"urn:r:{n}")
    with pytest.raises(RuntimeError), store.transaction():
        first.append("use", record="urn:r:rolled-back")
        raise RuntimeError("the step fails after its audit line")
    assert store.transaction_memo() is None
    second.append("deletion", record="urn:r:0")  # autocommit: reads the tail from the table
    with store.transaction():
        first.append("use", record="urn:r:last")
    report = verify_chain(first.lines())
    assert report.ok and report.lines == 3 + 50 + 2
    assert "urn:r:rolled-back" not in "".join(first.lines())
