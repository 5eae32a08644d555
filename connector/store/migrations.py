"""Every change to the shape of a connector's store, numbered, in one place.

A store records the number of the last migration applied (``meta.schema_version``). At
start the connector applies the ones after it, in order, all in ONE transaction: either the
store reaches the newest shape, or (a statement fails, the disk is full, the process dies) it
stays exactly as it was and the connector refuses to start, naming the version it could not
reach and why. A new store is built by the same path from version 0, so a store made today
and one upgraded from the first release have the same shape (tests/connector/
test_migrations.py checks both, and upgrades stores written before the redesign that gave
each table one owner: tests/fixtures/stores).

Which module owns which table (the only module that runs SQL on it; tests/test_ownership.py):

==========================  ===================================================
``meta``                    ``connector.store.database`` (the schema version)
``datasets``, ``json_schemas``  ``connector.data.datasets``
``records``, ``record_versions``  ``connector.data.records`` (``connector.data.erasure`` for
                            the erasure columns it keeps)
``record_refusals``         ``connector.data.refusals``
``negotiations``, ``transfers``  ``connector.protocol.processes``
``agreements``              ``connector.protocol.agreements``
``held_records``, ``deliveries``, ``dead_letters``  ``connector.control.held``
``audit``                   ``connector.control.audit``
``tokens``                  ``connector.api.tokens``
``facts``                   ``connector.control.facts``
``contributions``           ``connector.data.contributions``
``plugin_settings``         ``connector.plugins.registry`` (a plug-in's own small settings)
``staff_accounts``          ``connector.api.staff.accounts``
``staff_sessions``          ``connector.api.staff.sessions``
==========================  ===================================================

Domain plug-ins keep their own tables, with their name as prefix (``bosai_...``), created and
migrated by the plug-in itself; they read connector data only through the usage gate and the
interfaces the connector publishes to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...]
    then: Callable[[Any], None] | None = None  # a data step after the statements


def _split(script: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in script.split(";\n") if s.strip())


FIRST = _split("""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE datasets (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL,              -- DCAT Dataset with its offers (DSP shape)
    schema_id TEXT,                  -- JSON schema records of this dataset must satisfy
    stream TEXT NOT NULL,            -- JetStream stream name
    subject TEXT NOT NULL,           -- subject prefix of its events
    created TEXT NOT NULL
);
CREATE TABLE json_schemas (
    id TEXT PRIMARY KEY,             -- urn:tsunagu:schema:sha256:<hex of canonical JSON>
    body BLOB NOT NULL
);
CREATE TABLE records (
    id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL REFERENCES datasets(id),
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL,
    modified TEXT NOT NULL
);
CREATE TABLE record_versions (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,             -- created | updated | deleted
    body BLOB NOT NULL,
    published INTEGER NOT NULL DEFAULT 0,  -- 1 once JetStream acknowledged it
    PRIMARY KEY (id, version)
);
CREATE TABLE negotiations (
    pid TEXT PRIMARY KEY,            -- our own process id (consumerPid or providerPid)
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    body BLOB NOT NULL,              -- the serialised state-machine record
    updated TEXT NOT NULL
);
CREATE TABLE agreements (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,              -- provider | consumer
    provider TEXT NOT NULL,
    consumer TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    body BLOB NOT NULL,              -- signed ODRL Agreement
    status TEXT NOT NULL,            -- active | terminated | expired
    created TEXT NOT NULL,
    ended TEXT
);
CREATE TABLE transfers (
    pid TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    body BLOB NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE held_records (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    agreement_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    event TEXT NOT NULL,
    body BLOB NOT NULL,
    received TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX held_by_agreement ON held_records(agreement_id);
CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id TEXT NOT NULL,
    agreement_id TEXT,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (record_id, version)
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transfer_pid TEXT NOT NULL,
    stream_seq INTEGER,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    line TEXT NOT NULL               -- canonical JSON with prev and hash (connector.control.audit)
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,     -- SHA-256 of the token; the token itself is never stored
    scopes TEXT NOT NULL,
    expires TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
)
""")

ERASURE = (
    "ALTER TABLE record_versions ADD COLUMN stream_seq INTEGER",  # from JetStream's ack
    "ALTER TABLE record_versions ADD COLUMN erased TEXT",  # when a later tombstone erased it
    # 1: not in the stream (any more); 2: the stream refuses deletes (deny_delete)
    "ALTER TABLE record_versions ADD COLUMN msg_erased INTEGER NOT NULL DEFAULT 0",
)

OWNERS = _split("""
CREATE TABLE IF NOT EXISTS contributions (
    id TEXT PRIMARY KEY,             -- the change's id (urn:uuid), makes resends idempotent
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,        -- the version the change produced
    contributor TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    body BLOB NOT NULL,              -- the signed change
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS record_refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    agreement_id TEXT NOT NULL,
    consumer TEXT NOT NULL,
    code TEXT NOT NULL,
    field TEXT,                      -- the JSON path the consumer named; never a value
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS record_refusals_by_record ON record_refusals(record_id);
ALTER TABLE held_records ADD COLUMN record_type TEXT;
CREATE INDEX held_by_type ON held_records(record_type, id, version);
ALTER TABLE tokens ADD COLUMN role TEXT;
ALTER TABLE tokens ADD COLUMN subjects TEXT;
CREATE TABLE facts (
    operand TEXT PRIMARY KEY,        -- the left operand's IRI
    value TEXT NOT NULL              -- JSON, as it was set
);
INSERT INTO facts (operand, value)
    SELECT substr(key, 6), value FROM meta WHERE key LIKE 'fact:%';
DELETE FROM meta WHERE key LIKE 'fact:%';
CREATE TABLE plugin_settings (
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,             -- JSON
    PRIMARY KEY (plugin, key)
);
INSERT INTO plugin_settings (plugin, key, value)
    SELECT substr(key, 1, instr(key, '_') - 1), substr(key, instr(key, '_') + 1), value
    FROM meta WHERE key != 'schema_version' AND instr(key, '_') > 1;
DELETE FROM meta WHERE key != 'schema_version'
""")

# 4: sealed streams (connector.data.content_keys, trust.sealing).
CONTENT_KEYS = _split("""
CREATE TABLE content_keys (          -- provider: each epoch of a dataset stream's key
    dataset_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    key BLOB NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (dataset_id, epoch)
);
CREATE TABLE held_content_keys (     -- consumer: the keys its providers gave it
    agreement_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    key BLOB NOT NULL,
    received TEXT NOT NULL,
    PRIMARY KEY (agreement_id, epoch)
)
""")

# 5: residents' rights (docs/residents-rights.md): consent withdrawals and their notices
# (provider), the records a holder may no longer use (consumer), correction requests.
RESIDENTS = _split("""
CREATE TABLE consent_withdrawals (   -- provider: a person withdrew consent
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,           -- the person's id, as records name them
    requested_by TEXT NOT NULL,      -- 'self:<token id>', or 'assisted:<token id>' for staff
    reason TEXT,
    records TEXT NOT NULL,           -- JSON {dataset id: [record ids]} about the person
    at TEXT NOT NULL
);
CREATE INDEX consent_withdrawals_by_subject ON consent_withdrawals(subject);
CREATE TABLE withdrawal_notices (    -- provider: one per agreement told of a withdrawal
    withdrawal_id TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    consumer TEXT NOT NULL,
    records TEXT NOT NULL,           -- JSON list of the record ids concerned
    status TEXT NOT NULL,            -- pending | stopped | purged | refused
    code TEXT,                       -- the holder's code when refused
    purged INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    acknowledged TEXT,
    PRIMARY KEY (withdrawal_id, agreement_id)
);
CREATE TABLE withdrawn_records (     -- consumer: records whose person withdrew consent
    agreement_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    withdrawal_id TEXT NOT NULL,
    purged INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (agreement_id, record_id)
);
CREATE TABLE corrections (           -- holder: a person's request to correct a record
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,             -- JSON, as asked
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status TEXT NOT NULL,            -- pending | accepted | refused
    decision_reason TEXT,
    decided_by TEXT,
    version INTEGER,                 -- the version published when accepted
    created TEXT NOT NULL,
    decided TEXT
);
CREATE INDEX corrections_by_subject ON corrections(subject);
CREATE TABLE resident_apps (         -- provider: participants a person registered as their app
    participant TEXT NOT NULL,       -- did:key of the resident app participant
    subject TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (participant, subject)
)
""")

# 6: staff accounts and their sessions (connector.api.staff).
STAFF = _split("""
CREATE TABLE staff_accounts (        -- persons who log in to the dashboard and apps
    id TEXT PRIMARY KEY,             -- stf_...: names the person in audit lines
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    department TEXT,
    role TEXT,                       -- tsunagu:readerRole for the usage gate
    scopes TEXT NOT NULL,            -- space separated, as tokens.scopes
    password_hash TEXT,              -- argon2id; NULL: no local login (OIDC only)
    totp_secret TEXT,                -- base32; NULL: no local login
    totp_last_step INTEGER,          -- the last TOTP time step used: a replay is refused
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    oidc_issuer TEXT,
    oidc_subject TEXT,
    created TEXT NOT NULL,
    UNIQUE (oidc_issuer, oidc_subject)
);
CREATE TABLE staff_sessions (
    id TEXT PRIMARY KEY,             -- ses_...: names the session in listings and revocation
    digest TEXT NOT NULL UNIQUE,     -- SHA-256 of the session secret; the secret is the client's
    account_id TEXT NOT NULL,
    method TEXT NOT NULL,            -- password+totp | oidc
    created TEXT NOT NULL,
    last_seen TEXT NOT NULL,         -- for the idle expiry
    expires TEXT NOT NULL,           -- the absolute expiry
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX staff_sessions_by_account ON staff_sessions(account_id)
""")

# 7: DSP over HTTPS state that must outlive a restart (connector.dsp_http).
DSP_HTTPS = _split("""
CREATE TABLE dsp_http_peers (        -- HTTPS callback addresses learned from counterparties
    did TEXT PRIMARY KEY,            -- the authenticated participant that gave it
    base_url TEXT NOT NULL,          -- its DSP base URL (https:// only)
    learned TEXT NOT NULL
);
CREATE TABLE http_pull_positions (   -- consumer: the provider's last sequence stored, per pull
    transfer_pid TEXT PRIMARY KEY,   -- the consumer's own transfer process id
    after_seq INTEGER NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE id_token_replays (      -- DCP ID tokens seen, until they could no longer be used
    key TEXT PRIMARY KEY,            -- issuer, signing key and jti
    forget_after REAL NOT NULL       -- epoch seconds: exp plus the allowed clock skew
);
CREATE INDEX id_token_replays_by_time ON id_token_replays(forget_after)
""")

# The outbox retry loop and the stream erasure look for their few rows every few seconds;
# without these partial indexes each look read every version ever published (measured: the
# event loop stopped for longer the more records a provider held, issue 17).
OUTBOX_INDEXES = _split("""
CREATE INDEX record_versions_unpublished ON record_versions(published)
    WHERE published = 0 AND erased IS NULL;
CREATE INDEX record_versions_to_erase ON record_versions(msg_erased)
    WHERE erased IS NOT NULL AND published = 1 AND msg_erased = 0
""")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the first store: datasets, records, contracts, transfers, held records, "
                 "deliveries, dead letters, audit, tokens", FIRST),
    Migration(2, "erasure bookkeeping on record versions (connector.erasure)", ERASURE),
    Migration(3, "one owner per table: contributions and refusals tables, held records' "
                 "type, tokens' role and parties, world facts and plug-in settings out of "
                 "meta", OWNERS),
    Migration(4, "sealed streams: content keys a provider seals with and a consumer was "
                 "given", CONTENT_KEYS),
    Migration(5, "residents' rights: consent withdrawals and their notices, withdrawn "
                 "records, correction requests, resident apps", RESIDENTS),
    Migration(6, "staff accounts (password, TOTP, OpenID Connect link) and their sessions",
              STAFF),
    Migration(7, "DSP over HTTPS: learned callback addresses, HTTP pull positions, the ID "
                 "token replay cache", DSP_HTTPS),
    Migration(8, "partial indexes for the outbox and the stream erasure: their periodic looks "
                 "read only the rows they want", OUTBOX_INDEXES),
)
LATEST = MIGRATIONS[-1].version
