"""A hash-chained audit log of every use, delivery and deletion.

Each line is canonical JSON (RFC 8785) holding ``seq``, ``at``, ``event``, the event's fields,
``prev`` (the previous line's hash) and ``hash`` = SHA-256 of the line without ``hash``.
Editing, inserting or removing any line breaks the chain at that point, which
``verify_chain`` reports by sequence number. Lines carry identifiers only, never record
bodies or personal data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from connector.errors import ConnectorCode
from connector.store.database import Store
from trust.canonical import canonical_json
from trust.errors import TsunaguError

GENESIS = "0" * 64


class AuditError(TsunaguError):
    code = ConnectorCode.AUDIT_BROKEN_CHAIN


def _line_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(entry)).hexdigest()


def make_line(seq: int, prev: str, event: str, fields: dict[str, Any], at: datetime) -> str:
    return _line(seq, prev, event, fields, at)[0]


def _line(seq: int, prev: str, event: str, fields: dict[str, Any], at: datetime
          ) -> tuple[str, str]:
    """The line and its hash."""
    entry = {"seq": seq, "at": at.astimezone(UTC).isoformat(timespec="milliseconds"),
             "event": event, "prev": prev, **fields}
    entry["hash"] = digest = _line_hash(entry)
    return canonical_json(entry).decode(), digest


# The chain's last (seq, hash), kept in the store's transaction memo: a batch appends
# hundreds of lines in one transaction, and reading back the line just written for each
# showed in the provider's profile.
_TAIL = "audit.tail"


class AuditLog:
    """Appends to the ``audit`` table of a store; call ``append`` inside the step's transaction
    so the audit line and the change it records commit together."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, event: str, now: datetime | None = None, **fields: Any) -> int:
        memo = self.store.transaction_memo()
        tail = memo.get(_TAIL) if memo is not None else None
        if tail is None:
            row = self.store.db.execute("SELECT seq, line FROM audit ORDER BY seq DESC "
                                        "LIMIT 1").fetchone()
            tail = (row[0], orjson.loads(row[1])["hash"]) if row else (0, GENESIS)
        seq = tail[0] + 1
        line, digest = _line(seq, tail[1], event, fields, now or datetime.now(UTC))
        self.store.db.execute("INSERT INTO audit (seq, line) VALUES (?, ?)", (seq, line))
        if memo is not None:
            memo[_TAIL] = (seq, digest)
        return seq

    def lines(self) -> list[str]:
        return [r[0] for r in self.store.query("SELECT line FROM audit ORDER BY seq")]

    def entries(self, event: str | None = None) -> list[dict[str, Any]]:
        found = [orjson.loads(line) for line in self.lines()]
        return [e for e in found if event is None or e["event"] == event]

    def naming(self, subject: str, records: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The entries that name ``subject`` among their ``subjects`` (uses of records
        about a person, withdrawals, disclosures) or one of ``records`` as their
        ``record`` (publications of them), oldest first: a person's disclosure."""
        ids = set(records)
        found: dict[int, dict[str, Any]] = {}
        for needle in (subject, *sorted(ids)):
            quoted = orjson.dumps(needle).decode()  # as canonical JSON writes it (a prefilter)
            for (line,) in self.store.query("SELECT line FROM audit WHERE instr(line, ?) > 0",
                                            (quoted,)):
                entry = orjson.loads(line)
                if subject in (entry.get("subjects") or ()) or entry.get("record") in ids:
                    found[entry["seq"]] = entry
        return [found[seq] for seq in sorted(found)]


@dataclass(frozen=True)
class ChainReport:
    lines: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_chain(lines: Iterable[str]) -> ChainReport:
    """Check every line's hash and link; report the first line that does not hold."""
    prev, count = GENESIS, 0
    for count, text in enumerate(lines, start=1):
        try:
            entry = orjson.loads(text)
            claimed = entry.pop("hash")
        except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError):
            return ChainReport(count, False, count, "line is not an audit entry")
        seq = entry.get("seq")
        if seq != count:
            return ChainReport(count, False, count, f"expected seq {count}, found {seq}")
        if entry.get("prev") != prev:
            return ChainReport(count, False, count, "link to the previous line is broken")
        if _line_hash(entry) != claimed:
            return ChainReport(count, False, count, "line was edited after it was written")
        prev = claimed
    return ChainReport(count, True)
