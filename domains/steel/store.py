"""The steel hub's own table in the connector's store (``steel_records``, one owner: the hub;
nothing here touches a connector table). Every chain record this party holds, its own
(certificates it issued, derivations, custody events it sent) and those carried to it with a
piece, each kept whole as signed (the bytes the issuer's proof covers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from domains.steel.chain_records import kind_of, pieces_of, record_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS steel_records (
    hash TEXT PRIMARY KEY,           -- multibase SHA-256 of the record's JCS form
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,              -- certificate | derivation | custody
    source TEXT NOT NULL,            -- own | received
    body TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS steel_records_id ON steel_records (record_id);
CREATE TABLE IF NOT EXISTS steel_refused (
    hash TEXT PRIMARY KEY,           -- the refused custody event's hash
    record_id TEXT NOT NULL,
    sender TEXT NOT NULL,            -- DID
    code TEXT NOT NULL,
    reason_ja TEXT NOT NULL,
    reason_en TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steel_pieces (
    piece_id TEXT NOT NULL,
    hash TEXT NOT NULL REFERENCES steel_records (hash),
    PRIMARY KEY (piece_id, hash)
);
"""


def keep(db: Any, records: Iterable[Mapping[str, Any]], source: str, at: str) -> int:
    """Store each chain record once (by hash) with the pieces it names; how many were new."""
    new = 0
    for record in records:
        kind = kind_of(record)
        if kind is None:
            continue
        digest = record_hash(record)
        cur = db.execute("INSERT OR IGNORE INTO steel_records (hash, record_id, kind, source, "
                         "body, at) VALUES (?, ?, ?, ?, ?, ?)",
                         (digest, record["id"], kind, source,
                          orjson.dumps(dict(record)).decode(), at))
        if cur.rowcount == 1:
            new += 1
            db.executemany("INSERT OR IGNORE INTO steel_pieces (piece_id, hash) VALUES (?, ?)",
                           [(p, digest) for p in pieces_of(record)])
            if kind == "derivation":
                db.execute("INSERT OR IGNORE INTO steel_pieces (piece_id, hash) VALUES (?, ?)",
                           (record["parentPieceId"], digest))
    return new


def all_records(db: Any) -> list[dict[str, Any]]:
    """Every record kept (``db``: the store, or the connection of an open transaction)."""
    rows = db.execute("SELECT body FROM steel_records ORDER BY rowid").fetchall()
    return [orjson.loads(body) for (body,) in rows]


def refuse(db: Any, record: Mapping[str, Any], code: str, reason_ja: str, reason_en: str,
           at: str) -> None:
    db.execute("INSERT OR IGNORE INTO steel_refused (hash, record_id, sender, code, reason_ja, "
               "reason_en, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
               (record_hash(record), record["id"], str(record.get("senderDid")), code,
                reason_ja, reason_en, at))


def refused(db: Any) -> list[dict[str, str]]:
    rows = db.execute("SELECT record_id, sender, code, reason_ja, reason_en, at FROM "
                      "steel_refused ORDER BY rowid").fetchall()
    keys = ("record_id", "sender", "code", "reason_ja", "reason_en", "at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def pieces(store: Any) -> list[str]:
    return [p for (p,) in store.query("SELECT DISTINCT piece_id FROM steel_pieces "
                                      "ORDER BY piece_id", ())]
