"""The registry's tables, in the connector's SQLite store (connector.store.Store).

Personal data lives in three tables only: ``bosai_persons`` (the basic part), the more
restricted ``bosai_person_medical`` (one row per person with medical needs, deleted with the
person) and ``bosai_person_sources`` (each input's 4 items as written, for provenance and
review). Match keys are stored beside the body so that blocking is an indexed lookup.
No table has a column for a My Number, and inputs holding one are refused before any write.
"""

from __future__ import annotations

from connector.errors import ConnectorCode
from connector.plugins.registry import PluginSettings
from connector.store.database import Error as DbError
from connector.store.database import Store, StoreError

SCHEMA_VERSION = "1"
VERSION_KEY = "registry_schema_version"  # in the bosai plug-in's settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS bosai_persons (
    id TEXT PRIMARY KEY,                 -- urn:uuid:...
    version INTEGER NOT NULL,
    body BLOB NOT NULL,                  -- basic part as orjson (model.PersonInput.body)
    name_key TEXT NOT NULL,              -- normalize.name_key
    kana_key TEXT,                       -- normalize.kana_key, NULL without kana
    birth_date TEXT NOT NULL,            -- ISO 8601
    sex TEXT NOT NULL,
    address_key TEXT NOT NULL,           -- normalize.address_key
    stay_type TEXT,
    shelter_id TEXT,
    household_id TEXT,
    consent INTEGER NOT NULL,
    stay_updated_by TEXT,
    stay_updated_at TEXT,
    created TEXT NOT NULL,
    modified TEXT NOT NULL
);
-- Blocking keys of matching.py (and the lookup of safety inquiries): everyone born the same
-- day (a handful of people even in a large city), and the same name at the same address.
CREATE INDEX IF NOT EXISTS bosai_persons_birth ON bosai_persons(birth_date);
CREATE INDEX IF NOT EXISTS bosai_persons_name_address ON bosai_persons(name_key, address_key);
CREATE INDEX IF NOT EXISTS bosai_persons_shelter ON bosai_persons(shelter_id);
CREATE INDEX IF NOT EXISTS bosai_persons_household ON bosai_persons(household_id);

-- The restricted part: medical needs and notes (model.Medical), read only through audited
-- calls.
CREATE TABLE IF NOT EXISTS bosai_person_medical (
    person_id TEXT PRIMARY KEY REFERENCES bosai_persons(id) ON DELETE CASCADE,
    body BLOB NOT NULL,
    modified TEXT NOT NULL
);

-- Every input that went into a person (provenance survives merges).
CREATE TABLE IF NOT EXISTS bosai_person_sources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id TEXT NOT NULL,
    source TEXT NOT NULL,                -- e.g. reception:shelter-12, csv:list.csv#line=7
    kind TEXT NOT NULL,                  -- form | csv | card | api
    outcome TEXT NOT NULL,               -- new | merged | review (as registered)
    by_whom TEXT,
    verified_by TEXT,                    -- card issuer DID when a card was read
    basic_items BLOB NOT NULL,           -- the 4 items (and kana) as this input wrote them
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bosai_person_sources_person ON bosai_person_sources(person_id);

-- A person merged into another after review keeps answering under its old id.
CREATE TABLE IF NOT EXISTS bosai_person_aliases (
    old_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    at TEXT NOT NULL
);

-- Near matches waiting for (or decided by) a person.
CREATE TABLE IF NOT EXISTS bosai_reviews (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,             -- the newer registration
    candidate_id TEXT NOT NULL,          -- the registered person it may be
    reasons TEXT NOT NULL,               -- JSON list of matching.REASONS
    status TEXT NOT NULL,                -- open | merged | kept_apart | obsolete
    created TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    UNIQUE (person_id, candidate_id)
);
CREATE INDEX IF NOT EXISTS bosai_reviews_status ON bosai_reviews(status, created);
CREATE INDEX IF NOT EXISTS bosai_reviews_candidate ON bosai_reviews(candidate_id);

-- Where each person stayed, when, and who said so (check-ins write here later).
CREATE TABLE IF NOT EXISTS bosai_stay_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id TEXT NOT NULL,
    stay_type TEXT,
    shelter_id TEXT,
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bosai_stay_history_person ON bosai_stay_history(person_id, seq);
"""

KEY_COLUMNS = "id, name_key, kana_key, birth_date, sex, address_key"
CANDIDATES = f"""
SELECT {KEY_COLUMNS} FROM bosai_persons WHERE birth_date = :birth
UNION ALL
SELECT {KEY_COLUMNS} FROM bosai_persons WHERE name_key = :name AND address_key = :address
"""
INSERT_PERSON = """
INSERT INTO bosai_persons (id, version, body, name_key, kana_key, birth_date, sex, address_key,
    stay_type, shelter_id, household_id, consent, stay_updated_by, stay_updated_at, created,
    modified)
VALUES (:id, :version, :body, :name_key, :kana_key, :birth_date, :sex, :address_key,
    :stay_type, :shelter_id, :household_id, :consent, :stay_updated_by, :stay_updated_at,
    :created, :modified)
"""
UPDATE_PERSON = """
UPDATE bosai_persons SET version = :version, body = :body, kana_key = :kana_key,
    stay_type = :stay_type, shelter_id = :shelter_id, household_id = :household_id,
    consent = :consent, modified = :modified
WHERE id = :id
"""
INSERT_SOURCE = """
INSERT INTO bosai_person_sources (person_id, source, kind, outcome, by_whom, verified_by,
    basic_items, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_STAY = """
INSERT INTO bosai_stay_history (person_id, stay_type, shelter_id, by_whom, at)
VALUES (?, ?, ?, ?, ?)
"""
INSERT_REVIEW = """
INSERT INTO bosai_reviews (id, person_id, candidate_id, reasons, status, created)
VALUES (?, ?, ?, ?, 'open', ?)
"""
UPSERT_MEDICAL = """
INSERT INTO bosai_person_medical (person_id, body, modified) VALUES (?, ?, ?)
ON CONFLICT (person_id) DO UPDATE SET body = excluded.body, modified = excluded.modified
"""


def install(store: Store) -> None:
    """Create the tables (idempotent: every statement is IF NOT EXISTS) and check the
    schema version."""
    try:
        store.db.executescript(SCHEMA)  # executescript commits: run outside a transaction
    except DbError as exc:
        raise StoreError(f"store {store.path} cannot hold the evacuee registry: {exc}") from exc
    settings = PluginSettings(store, "bosai")
    found = settings.get(VERSION_KEY)
    if found is None:
        with store.transaction() as db:
            settings.set(db, VERSION_KEY, int(SCHEMA_VERSION))
    elif str(found) != SCHEMA_VERSION:
        raise StoreError(f"the evacuee registry tables have schema version {found}, this "
                         f"connector needs {SCHEMA_VERSION}", code=ConnectorCode.STORE_VERSION)


CACHE_KIB = 32 * 1024


def tune(store: Store) -> None:
    """Registration looks up two indexes at random places per person; SQLite's default 2 MB
    page cache makes 50,000 registrations about 20 % slower than a 32 MB one. Raised on the
    store's connection, never lowered (negative cache_size is KiB)."""
    try:
        current = store.db.execute("PRAGMA cache_size").fetchone()[0]
        if current >= 0 or -current < CACHE_KIB:
            store.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    except DbError as exc:
        raise StoreError(f"store {store.path} cannot be tuned: {exc}") from exc
