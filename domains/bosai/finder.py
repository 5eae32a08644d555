"""A shelter operator finds a person among the Evacuee records it received (to check them in).

The operator holds the municipality's records under its agreement; at reception it needs the
record of the person in front of it: by name (kanji or kana, any width, 旧字体 folded) and
birth date (西暦 or 和暦), both required so that a name alone never lists strangers. Only
what reception needs is returned: never address, contact or consent. The records come
through the usage gate (the hub reads them for shelter operation).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.control.decisions import Reader, Use
from connector.control.gate import UsageGate
from domains.bosai import vocab
from domains.bosai.registry.normalize import kana_key, match_name, name_key, parse_birth_date
from domains.japanese.dates import JST

LIMIT = 20
SHOWN = ("familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate",
         "stayLocation")


def find_held(gate: UsageGate, reader: Reader, use: Use, name: str,
              birth_date: str) -> list[dict[str, Any]]:
    """Received Evacuee records (newest versions, as the usage gate releases them for
    ``use``) whose name or kana matches and who were born on ``birth_date``:
    ``{"record", "version", ...SHOWN}``, at most ``LIMIT``."""
    wanted = match_name(name)
    born = parse_birth_date(birth_date, today=datetime.now(JST).date()).isoformat()
    found = []
    page = gate.page(reader, use, record_type=vocab.EVACUEE, latest_only=True,
                     live_only=True, contains=f'"birthDate":"{born}"', limit=500)
    for item in page.items:
        record = item.record or {}
        if record.get("birthDate") != born:
            continue
        keys = {name_key(record.get("familyName", ""), record.get("givenName", "")),
                kana_key(record.get("familyNameKana"), record.get("givenNameKana"))}
        if wanted and wanted in keys:
            found.append({"record": item.id, "version": item.version,
                          **{k: record[k] for k in SHOWN if k in record}})
    return found[:LIMIT]
