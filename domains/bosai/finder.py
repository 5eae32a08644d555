"""A shelter operator finds a person among the Evacuee records it holds (to check them in).

The operator holds the municipality's records under its agreement; at reception it needs the
record of the person in front of it: by name (kanji or kana, any width, 旧字体 folded) and
birth date (西暦 or 和暦), both required so that a name alone never lists strangers. Only
what reception needs is returned: never address, contact or consent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from connector.store import Store
from domains.bosai.registry.normalize import kana_key, match_name, name_key, parse_birth_date
from domains.japanese.dates import JST

LIMIT = 20
HELD_EVACUEES = """
SELECT h.id, h.body FROM held_records h JOIN agreements a ON a.id = h.agreement_id
WHERE a.status = 'active' AND h.event != 'deleted'
  AND instr(CAST(h.body AS TEXT), '"Evacuee"') > 0 AND instr(CAST(h.body AS TEXT), ?) > 0
  AND h.version = (SELECT max(version) FROM held_records WHERE id = h.id)
"""
SHOWN = ("familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate",
         "stayLocation")


def find_held(store: Store, name: str, birth_date: str) -> list[dict[str, Any]]:
    """Held Evacuee records (newest versions) whose name or kana matches and who were born
    on ``birth_date``: ``{"record", "version", ...SHOWN}``, at most ``LIMIT``."""
    wanted = match_name(name)
    born = parse_birth_date(birth_date, today=datetime.now(JST).date()).isoformat()
    found = []
    for record_id, body in store.query(HELD_EVACUEES, (f'"birthDate":"{born}"',)):
        record = orjson.loads(body)
        keys = {name_key(record.get("familyName", ""), record.get("givenName", "")),
                kana_key(record.get("familyNameKana"), record.get("givenNameKana"))}
        if wanted and wanted in keys:
            found.append({"record": record_id, "version": record.get("version"),
                          **{k: record[k] for k in SHOWN if k in record}})
    return found[:LIMIT]
