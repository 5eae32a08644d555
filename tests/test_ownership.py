"""One owner per table, and services declared rather than attached: read off the source.

Every SQL statement in the packages names its tables after FROM, INTO, UPDATE, JOIN, TABLE
or an index's ON;
each connector table may appear only in the module that owns it (the table in
connector/store/migrations.py, where the migrations themselves may name every table). Domain
code never names a connector table: it reads connector data through the usage gate and the
interfaces the connector publishes. And no module attaches a service to the connector or
looks one up by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("connector", "authority", "domains", "catalog", "usage_policies", "trust")

OWNERS = {
    "meta": {"connector/store/database.py"},
    "datasets": {"connector/data/datasets.py"},
    "json_schemas": {"connector/data/datasets.py"},
    "records": {"connector/data/record_rows.py"},
    "record_versions": {"connector/data/record_rows.py"},
    "record_refusals": {"connector/data/refusals.py"},
    "negotiations": {"connector/protocol/processes.py"},
    "transfers": {"connector/protocol/processes.py"},
    "agreements": {"connector/protocol/agreements.py"},
    "held_records": {"connector/control/held.py"},
    "deliveries": {"connector/control/held.py"},
    "dead_letters": {"connector/control/held.py"},
    "audit": {"connector/control/audit.py"},
    "tokens": {"connector/api/tokens.py"},
    "facts": {"connector/control/facts.py"},
    "contributions": {"connector/data/contributions.py"},
    "plugin_settings": {"connector/plugins/registry.py"},
    "content_keys": {"connector/data/content_keys.py"},
    "held_content_keys": {"connector/data/content_keys.py"},
    "staff_accounts": {"connector/api/staff/accounts.py"},
    "staff_sessions": {"connector/api/staff/sessions.py"},
    "consent_withdrawals": {"connector/data/consent.py"},
    "withdrawal_notices": {"connector/data/consent.py"},
    "withdrawn_records": {"connector/control/withdrawn.py"},
    "corrections": {"connector/data/corrections.py"},
    "resident_apps": {"connector/data/resident_apps.py"},
    "dsp_http_peers": {"connector/dsp_http/peers.py"},
    "http_pull_positions": {"connector/dsp_http/pull.py"},
    "id_token_replays": {"connector/dsp_http/replays.py"},
}
MIGRATIONS = "connector/store/migrations.py"
# bosai.sqlite (the hub's own file, domains/bosai/store.py) has a meta table of its own.
OWN_FILES = {("domains/bosai/store.py", "meta")}
_SQL = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+([a-z_][a-z0-9_]*)\b"
                  r"|\bON\s+([a-z_][a-z0-9_]*)\s*\(")
_TABLE = re.compile(r"\bTABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)\b")
# A table a shared helper keeps for its owner (connector.web.sessions.ViewSessions): the
# owner module names it in its ``TABLE`` constant.
_NAMED = re.compile(r'^TABLE\s*=\s*"([a-z_][a-z0-9_]*)"', re.M)


def sources() -> list[tuple[str, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.append((path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    return found


def tables_named(text: str) -> set[str]:
    named = ({a or b for a, b in _SQL.findall(text)} | set(_TABLE.findall(text))
             | set(_NAMED.findall(text)))
    return {t for t in named if not t.startswith("sqlite_")}  # SQLite's own catalogue


def test_the_scan_finds_sql():
    named = {f: tables_named(t) for f, t in sources()}
    assert "held_records" in named["connector/control/held.py"]
    assert "bosai_persons" in named["domains/bosai/registry/storage.py"]


def test_no_module_runs_sql_on_a_table_it_does_not_own():
    wrong = []
    for path, text in sources():
        if path == MIGRATIONS:
            continue
        for table in tables_named(text):
            owners = OWNERS.get(table)
            if owners is None:
                if path.startswith("connector/"):  # a domain's table, or an unknown one
                    wrong.append(f"{path}: {table} (not a connector table)")
                continue
            if path not in owners and (path, table) not in OWN_FILES:
                wrong.append(f"{path}: {table} (owned by {', '.join(sorted(owners))})")
    assert not wrong, "SQL on tables outside their owner:\n" + "\n".join(sorted(wrong))


def test_every_connector_table_has_an_owner_and_a_migration():
    created = set(_TABLE.findall((ROOT / MIGRATIONS).read_text(encoding="utf-8")))
    assert created == set(OWNERS)


def test_no_service_is_attached_or_looked_up_by_name():
    wrong = []
    patterns = {
        "a service attached at run time": re.compile(
            r"connector\.\w+\s*=\s*self\b.*type:\s*ignore\[attr-defined\]"),
        "a getattr lookup on the connector": re.compile(r"getattr\((?:self\.)?connector\b"),
        "a service found by its class name": re.compile(r"type\(s\)\.__name__\s*=="),
        "a service found by its class": re.compile(r"isinstance\(s, \w+Service\)"),
    }
    for path, text in sources():
        for what, pattern in patterns.items():
            if pattern.search(text):
                wrong.append(f"{path}: {what}")
    assert not wrong, "\n".join(wrong)


# The pmh hub's own tables (in the connector's store, prefixed ``pmh_``): one module each.
PMH_OWNERS = {
    "pmh_voucher_uses": "domains/pmh/hub/vouchers.py",
    "pmh_residence": "domains/pmh/hub/residence.py",
    "pmh_events": "domains/pmh/hub/events.py",
    "pmh_followups": "domains/pmh/hub/followups.py",
    "pmh_claims": "domains/pmh/hub/claims.py",
    "pmh_claim_rules": "domains/pmh/hub/claims.py",
    **{f"pmh_ix_{t}": "domains/pmh/hub/index.py"
       for t in ("children", "pregnancies", "visits", "observations", "doses", "vouchers",
                 "blood_tests")},
    **{t: "domains/pmh/hub/settlements.py"
       for t in ("pmh_settlements", "pmh_settlement_lines", "pmh_voucher_prices")},
    "pmh_view_sessions": "domains/pmh/views/auth.py",
    "pmh_growth": "domains/pmh/hub/growth.py",
}




# The steel hub's own tables (prefixed ``steel_``): one module each.
STEEL_OWNERS = {
    **{f"steel_{t}": "domains/steel/store.py" for t in ("records", "refused", "pieces")},
    "steel_view_sessions": "domains/steel/view/mounted.py",
}



@pytest.mark.parametrize(("prefix", "owners"), [("pmh_", PMH_OWNERS),
                                                ("steel_", STEEL_OWNERS)])
def test_every_domain_table_has_one_owner_module(prefix, owners):
    named: dict[str, set[str]] = {}
    for path, text in sources():
        for table in tables_named(text):
            if table.startswith(prefix):
                named.setdefault(table, set()).add(path)
    assert named == {table: {owner} for table, owner in owners.items()}
