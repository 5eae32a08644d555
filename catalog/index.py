"""The catalog index: SQLite (FTS5) in memory or in a file owned by one catalog node.

Text search (docs/catalog.md, "How text is found")
--------------------------------------------------
Every dataset's title, description and keywords are indexed three ways (``catalog.text``):

``tri``   FTS5 ``trigram`` over the normalised surface and the folded reading. A query term
          of three characters or more is a phrase on it: a substring match, any script.
``bi``    FTS5 ``unicode61`` over the *bigrams* of the same texts (plus each word run's last
          character). The trigram tokenizer finds nothing for one or two characters (a
          two-character term has no trigram), so a two-character term (避難) is one bigram
          token here, and a one-character term a prefix query (``"所"*``). A LIKE scan would
          also find them, but reads every row (~50 ms at 100,000 datasets); the bigram
          table is an index.
reading   a term written only in kana is also looked up in the reading column (folded the
          same way), so ひなんじょ finds 避難所; a term with kanji is matched by its surface
          only, which keeps 非難 from finding 避難.

Terms (whitespace-separated) must all match; each term matches its surface or its reading.
User text never reaches FTS5 syntax: every term is a quoted phrase, quotes doubled, so
``NEAR(``, ``*``, ``"`` or unbalanced parentheses are searched as text and never raise.

Ranking: FTS5 bm25 (title weighs 4, keywords 2, description 1, reading 0.5) in steps of 0.1,
then the most recently modified first, then the dataset key: a total order, so the cursor
(the last hit's sort key, opaque to clients) pages without gaps or repeats.

Policies: distinct offers (their rules, with the dataset-specific target taken out) are
stored once; a policy-filtered search evaluates each distinct policy once for the asker
(``catalog.policy``) and filters by the permitted ones in SQL, so pagination stays exact.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from catalog.areas import normalize_area
from catalog.model import Dataset, parse_dataset
from catalog.search import normalize_text
from catalog.text import bigrams, fold_reading, is_kana, reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS ds (
  rid INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, provider TEXT NOT NULL,
  id TEXT NOT NULL, modified TEXT NOT NULL, t_start TEXT, t_end TEXT, body BLOB NOT NULL,
  facets TEXT NOT NULL);  -- name=value, \x1e-separated: facet counts read it in one pass
CREATE INDEX IF NOT EXISTS ds_recent ON ds (modified DESC, key);
CREATE INDEX IF NOT EXISTS ds_provider ON ds (provider);
CREATE TABLE IF NOT EXISTS facet (
  name TEXT NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (name, value, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facet_rid ON facet (rid);
CREATE TABLE IF NOT EXISTS offer (
  rid INTEGER NOT NULL, offer_id TEXT NOT NULL, pkey TEXT NOT NULL,
  PRIMARY KEY (rid, offer_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS offer_pkey ON offer (pkey);
CREATE TABLE IF NOT EXISTS policy (
  pkey TEXT PRIMARY KEY, body BLOB NOT NULL, explain_ja TEXT NOT NULL, explain_en TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS participant (
  did TEXT PRIMARY KEY, name TEXT NOT NULL, roles TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS participant_role (
  role TEXT NOT NULL, did TEXT NOT NULL, PRIMARY KEY (role, did)) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS tri USING fts5(
  title, description, keywords, reading, tokenize='trigram');
CREATE VIRTUAL TABLE IF NOT EXISTS bi USING fts5(
  title, description, keywords, reading, tokenize='unicode61 remove_diacritics 0',
  prefix='1');
CREATE TEMP TABLE IF NOT EXISTS allowed (pkey TEXT PRIMARY KEY) WITHOUT ROWID;

"""

WEIGHTS = "4.0, 1.0, 2.0, 0.5"
SURFACE = "{title description keywords}"
MAX_QUERY_CHARS = 256
MAX_TERMS = 12
MAX_PAGE = 200
FACETS = ("publisher", "role", "domain", "theme", "keyword", "type", "spatial")


class CursorError(ValueError):
    """A cursor that this index did not hand out for this query (or from another version)."""


@dataclass(frozen=True)
class Filters:
    """Facet filters: within one facet any value matches, across facets all must."""

    publisher: tuple[str, ...] = ()
    role: tuple[str, ...] = ()
    domain: tuple[str, ...] = ()
    theme: tuple[str, ...] = ()
    keyword: tuple[str, ...] = ()
    dataset_type: tuple[str, ...] = ()
    area: str | None = None  # prefecture or municipality code (see catalog.areas.covers)
    temporal_from: str | None = None  # ISO dates: coverage overlapping [from, to]
    temporal_to: str | None = None


@dataclass
class Hit:
    dataset: Dataset
    score: float
    publisher: dict[str, Any]
    offers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Page:
    hits: list[Hit]
    next_cursor: str | None
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _word_runs(term: str) -> list[str]:
    import re
    return [r for r in re.findall(r"[^\W_]+", term) if r]


@dataclass
class _Query:
    tri: list[str] = field(default_factory=list)
    bi: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.tri and not self.bi


def _one(table: dict[str, list[str]], text: str, column: str) -> None:
    """The FTS5 expression finding ``text`` in ``column`` of the table fit for its length."""
    if len(text) >= 3:
        table["tri"].append(f"{column} : {_phrase(text)}")
    elif len(text) == 2:
        table["bi"].append(f"{column} : {_phrase(text)}")
    elif len(text) == 1:
        table["bi"].append(f"{column} : {_phrase(text)} *")


def compile_query(query: str | None) -> _Query:
    """FTS5 expressions for ``query``; any input is safe (see the module docstring)."""
    # NUL ends a string in FTS5's query parser ("unterminated string"): a separator here
    text = normalize_text((query or "")[:MAX_QUERY_CHARS].replace("\x00", " "))
    out = _Query()
    for term in text.split()[:MAX_TERMS]:
        parts = [term] if len(term) >= 3 else _word_runs(term)
        for part in parts:
            alternatives: dict[str, list[str]] = {"tri": [], "bi": []}
            _one(alternatives, part, SURFACE)
            if is_kana(part):
                _one(alternatives, fold_reading(part), "{reading}")
            # surface and reading of one term have the same length: they share a table
            for name, exprs in alternatives.items():
                if exprs:
                    getattr(out, name).append("(" + " OR ".join(exprs) + ")")
    return out


def policy_key(offer: Mapping[str, Any], dataset_id: str) -> tuple[str, dict[str, Any]]:
    """(key, rules) of an offer: its rules without the offer's own id, assigner and the
    target naming its dataset, so that one template offered for many datasets is one policy."""
    rules = {k: v for k, v in offer.items() if k not in ("@id", "assigner", "target")}
    own = (offer.get("target"), dataset_id)

    def strip(node: Any) -> Any:
        if isinstance(node, list):
            return [strip(n) for n in node]
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()
                    if not (k == "target" and (v in own or (isinstance(v, dict)
                                                           and v.get("@id") in own)))}
        return node

    rules = strip(rules)
    digest = hashlib.sha256(orjson.dumps(rules, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return digest[:32], rules


# How an offer's explanation is made (catalog.policy.explain_offer); injected so that this
# module needs no policy machinery of its own.
Explainer = Callable[[dict[str, Any]], tuple[list[str], list[str]]]


def _no_explanation(_: dict[str, Any]) -> tuple[list[str], list[str]]:
    return [], []


class CatalogIndex:
    """Datasets of many participants, searchable; not thread-safe beyond its own lock."""

    def __init__(self, path: str = ":memory:", *, explainer: Explainer = _no_explanation
                 ) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL" if path != ":memory:" else
                        "PRAGMA journal_mode = MEMORY")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -8000")  # 8 MB page cache: a file index stays
        self.db.execute("PRAGMA temp_store = MEMORY")  # in the OS page cache, not in RSS
        self.db.executescript(SCHEMA)
        self.lock = threading.RLock()
        self.explainer = explainer
        self.generation = 0  # bumped by every change: policy decisions cached per generation

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ writing

    def set_participants(self, participants: Iterable[Mapping[str, Any]]) -> list[str]:
        """Replace the participants (``id``, ``name``, ``roles``); every dataset of a DID no
        longer listed (revoked, expired, unknown) is removed. Returns the removed DIDs."""
        rows = [(p["id"], str(p.get("name") or ""), list(p.get("roles") or []))
                for p in participants]
        with self.lock:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM participant")
            self.db.execute("DELETE FROM participant_role")
            for did, name, roles in rows:
                self.db.execute("INSERT OR REPLACE INTO participant VALUES (?, ?, ?)",
                                (did, name, orjson.dumps(roles).decode()))
                self.db.executemany("INSERT OR IGNORE INTO participant_role VALUES (?, ?)",
                                    [(str(r), did) for r in roles])
            self.db.execute("COMMIT")
        gone = [d for (d,) in self.db.execute(
            "SELECT DISTINCT provider FROM ds WHERE provider NOT IN "
            "(SELECT did FROM participant)")]
        for did in gone:
            self.remove_provider(did)
        self.generation += 1
        return gone

    def participants(self) -> list[dict[str, Any]]:
        return [{"id": d, "name": n, "roles": orjson.loads(r)} for d, n, r in
                self.db.execute("SELECT did, name, roles FROM participant ORDER BY did")]

    def known(self, did: str) -> bool:
        return self.db.execute("SELECT 1 FROM participant WHERE did = ?",
                               (did,)).fetchone() is not None

    def upsert(self, dataset: Dataset) -> None:
        """Add or replace one dataset (same provider and id)."""
        self.upsert_many([dataset])

    def upsert_many(self, datasets: Sequence[Dataset], *, replace_provider: str | None = None
                    ) -> None:
        """Add or replace datasets in one transaction (one FTS5 segment, not one each);
        with ``replace_provider``, that provider's other datasets are removed too."""
        prepared = [self._prepare(d) for d in datasets]
        with self.lock:
            self.db.execute("BEGIN")
            try:
                if replace_provider is not None:
                    keep = {d.key for d in datasets}
                    for (key,) in self.db.execute("SELECT key FROM ds WHERE provider = ?",
                                                  (replace_provider,)).fetchall():
                        if key not in keep:
                            self._delete(key)
                for dataset, p in zip(datasets, prepared, strict=True):
                    self._write(dataset, *p)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        self.generation += 1

    def _prepare(self, dataset: Dataset) -> tuple[Any, ...]:
        """Everything that needs no database: normalised texts, readings, policy keys."""
        texts = (normalize_text(dataset.title), normalize_text(dataset.description),
                 normalize_text(" ".join(dataset.keywords)))
        read = " ".join(r for r in (reading(dataset.title), reading(dataset.description),
                                    reading(" ".join(dataset.keywords))) if r)
        policies = []
        for offer in dataset.offers:
            key, rules = policy_key(offer.body, dataset.id)
            policies.append((offer.id, key, rules))
        body = orjson.dumps(dataset.body)
        facet_rows = list(dict.fromkeys(_facets(dataset)))
        return texts, read, policies, body, facet_rows

    def _write(self, dataset: Dataset, texts: tuple[str, ...], read: str,
               policies: list[tuple[str, str, dict[str, Any]]], body: bytes,
               facet_rows: list[tuple[str, str]]) -> None:
        self._delete(dataset.key)
        cur = self.db.execute(
            "INSERT INTO ds (key, provider, id, modified, t_start, t_end, body, facets) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (dataset.key, dataset.provider, dataset.id, dataset.modified or
             dataset.issued or "", dataset.temporal_start, dataset.temporal_end, body,
             "\x1e".join(f"{n}\x1f{v}" for n, v in facet_rows)))
        rid = cur.lastrowid
        self.db.execute("INSERT INTO tri (rowid, title, description, keywords, reading)"
                        " VALUES (?, ?, ?, ?, ?)", (rid, *texts, read))
        self.db.execute("INSERT INTO bi (rowid, title, description, keywords, reading) "
                        "VALUES (?, ?, ?, ?, ?)", (rid, *(bigrams(t) for t in texts),
                                                   bigrams(read)))
        self.db.executemany("INSERT OR IGNORE INTO facet VALUES (?, ?, ?)",
                            [(n, v, rid) for n, v in facet_rows])
        for offer_id, key, rules in policies:
            self.db.execute("INSERT OR IGNORE INTO offer VALUES (?, ?, ?)",
                            (rid, offer_id, key))
            if self.db.execute("SELECT 1 FROM policy WHERE pkey = ?",
                               (key,)).fetchone() is None:
                ja, en = self.explainer(rules)
                self.db.execute("INSERT INTO policy VALUES (?, ?, ?, ?)",
                                (key, orjson.dumps(rules), "\n".join(ja), "\n".join(en)))

    def _delete(self, key: str) -> bool:
        row = self.db.execute("SELECT rid FROM ds WHERE key = ?", (key,)).fetchone()
        if row is None:
            return False
        rid = row[0]
        for table in ("tri", "bi"):
            self.db.execute(f"DELETE FROM {table} WHERE rowid = ?", (rid,))
        self.db.execute("DELETE FROM facet WHERE rid = ?", (rid,))
        self.db.execute("DELETE FROM offer WHERE rid = ?", (rid,))
        self.db.execute("DELETE FROM ds WHERE rid = ?", (rid,))
        return True

    def withdraw(self, provider: str, dataset_id: str) -> bool:
        with self.lock:
            self.db.execute("BEGIN")
            found = self._delete(f"{provider} {dataset_id}")
            self.db.execute("COMMIT")
        self.generation += 1
        return found

    def remove_provider(self, provider: str) -> int:
        keys = [k for (k,) in self.db.execute("SELECT key FROM ds WHERE provider = ?",
                                              (provider,))]
        with self.lock:
            self.db.execute("BEGIN")
            for key in keys:
                self._delete(key)
            self.db.execute("COMMIT")
        self.generation += 1
        return len(keys)

    def replace_provider(self, provider: str, datasets: Sequence[Dataset]) -> None:
        """A full crawl's answer: the provider's datasets become exactly ``datasets``."""
        self.upsert_many(datasets, replace_provider=provider)

    def count(self, provider: str | None = None) -> int:
        if provider is None:
            return self.db.execute("SELECT count(*) FROM ds").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM ds WHERE provider = ?",
                               (provider,)).fetchone()[0]

    def policies(self) -> list[tuple[str, dict[str, Any]]]:
        return [(k, orjson.loads(b)) for k, b in
                self.db.execute("SELECT pkey, body FROM policy WHERE pkey IN "
                                "(SELECT DISTINCT pkey FROM offer)")]

    # ------------------------------------------------------------------ reading

    def search(self, query: str | None = None, filters: Filters | None = None, *,
               limit: int = 20, cursor: str | None = None, facets: bool = False,
               allowed: Collection[str] | None = None) -> Page:
        """One page of hits. ``allowed``: policy keys the asker may use (catalog.policy);
        None means no policy filter. Raises CursorError only for a foreign cursor."""
        filters = filters or Filters()
        limit = max(1, min(int(limit), MAX_PAGE))
        q = compile_query(query)
        where, params = _filter_sql(filters)
        with self.lock:
            if allowed is not None:
                self.db.execute("DELETE FROM temp.allowed")
                self.db.executemany("INSERT OR IGNORE INTO temp.allowed VALUES (?)",
                                    [(k,) for k in allowed])
                where.append("EXISTS (SELECT 1 FROM offer o JOIN temp.allowed a "
                             "ON a.pkey = o.pkey WHERE o.rid = ds.rid)")
            base, base_params = _base_sql(q)
            fingerprint = hashlib.sha256(orjson.dumps(
                [query or "", repr(filters), allowed is not None])).hexdigest()[:16]
            cond = " AND ".join(where) or "1"
            if q.empty:  # no text: every match ranks 0, the recency index orders them
                matched = (f"SELECT ds.rid AS rid, 0.0 AS rank, ds.modified AS modified, "
                           f"ds.key AS key FROM ds WHERE {cond}")
                order = "ORDER BY modified DESC, key"
            else:
                matched = (f"SELECT ds.rid AS rid, ROUND(m.score, 1) AS rank, ds.modified AS "
                           f"modified, ds.key AS key FROM ({base}) m JOIN ds ON ds.rid = m.rid "
                           f"WHERE {cond}")
                order = "ORDER BY rank, modified DESC, key"
            mparams = [*base_params, *params]
            total = self.db.execute(f"SELECT count(*) FROM ({matched})", mparams).fetchone()[0]
            page_sql, page_params = f"SELECT rid, rank, modified, key FROM ({matched})", []
            if cursor:
                rank, modified, key = _decode_cursor(cursor, fingerprint)
                page_sql += (" WHERE (rank > ? OR (rank = ? AND (modified < ? OR "
                             "(modified = ? AND key > ?))))")
                page_params = [rank, rank, modified, modified, key]
            rows = self.db.execute(f"{page_sql} {order} LIMIT ?",
                                   [*mparams, *page_params, limit + 1]).fetchall()
            more = len(rows) > limit
            rows = rows[:limit]
            hits = [self._hit(r[0], r[1]) for r in rows]
            next_cursor = _encode_cursor(fingerprint, rows[-1][1], rows[-1][2], rows[-1][3]) \
                if more and rows else None
            counts: dict[str, dict[str, int]] = {}
            if facets:
                counts = self._facet_counts(matched, mparams)
        return Page(hits, next_cursor, total, counts)

    def _facet_counts(self, matched: str, params: list[Any]) -> dict[str, dict[str, int]]:
        """Counts per facet value over every match (not just the page), in one pass."""
        values: Counter[str] = Counter()
        providers: Counter[str] = Counter()
        for provider, packed in self.db.execute(
                f"SELECT ds.provider, ds.facets FROM ({matched}) h JOIN ds ON ds.rid = h.rid",
                params):
            providers[provider] += 1
            if packed:
                values.update(packed.split("\x1e"))
        counts: dict[str, dict[str, int]] = {}
        for packed, n in values.items():
            name, _, value = packed.partition("\x1f")
            counts.setdefault(name, {})[value] = n
        roles: Counter[str] = Counter()
        for did, n in providers.items():
            for (role,) in self.db.execute("SELECT role FROM participant_role WHERE did = ?",
                                           (did,)):
                roles[role] += n
        if roles:
            counts["role"] = dict(roles)
        return counts

    def _hit(self, rid: int, rank: float) -> Hit:
        body, provider = self.db.execute("SELECT body, provider FROM ds WHERE rid = ?",
                                         (rid,)).fetchone()
        dataset = parse_dataset(orjson.loads(body), provider)  # admitted: it parses
        p = self.db.execute("SELECT name, roles FROM participant WHERE did = ?",
                            (provider,)).fetchone()
        publisher = {"id": provider, "name": p[0] if p else "",
                     "roles": orjson.loads(p[1]) if p else []}
        offers = []
        for offer_id, key, ja, en in self.db.execute(
                "SELECT o.offer_id, o.pkey, p.explain_ja, p.explain_en FROM offer o "
                "JOIN policy p ON p.pkey = o.pkey WHERE o.rid = ? ORDER BY o.offer_id", (rid,)):
            offers.append({"id": offer_id, "policy": key,
                           "explanation": {"ja": ja.split("\n") if ja else [],
                                           "en": en.split("\n") if en else []}})
        return Hit(dataset, float(rank), publisher, offers)



def _base_sql(q: _Query) -> tuple[str, list[Any]]:
    if q.empty:
        return "SELECT rid, 0.0 AS score FROM ds", []
    parts, params = [], []
    if q.tri:
        parts.append(f"SELECT rowid AS rid, bm25(tri, {WEIGHTS}) AS s FROM tri "
                     "WHERE tri MATCH ?")
        params.append(" AND ".join(q.tri))
    if q.bi:
        parts.append(f"SELECT rowid AS rid, bm25(bi, {WEIGHTS}) AS s FROM bi WHERE bi MATCH ?")
        params.append(" AND ".join(q.bi))
    if len(parts) == 1:
        return parts[0].replace(" AS s ", " AS score "), params
    return (f"SELECT a.rid, a.s + b.s AS score FROM ({parts[0]}) a JOIN ({parts[1]}) b "
            "ON a.rid = b.rid"), params


def _filter_sql(f: Filters) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []

    def facet(name: str, values: Sequence[str]) -> None:
        if values:
            marks = ", ".join("?" * len(values))
            where.append(f"ds.rid IN (SELECT rid FROM facet WHERE name = ? AND value IN "
                         f"({marks}))")
            params.extend([name, *values])

    facet("publisher", f.publisher)
    facet("domain", f.domain)
    facet("theme", f.theme)
    facet("keyword", [normalize_text(k) for k in f.keyword])
    facet("type", f.dataset_type)
    if f.role:
        marks = ", ".join("?" * len(f.role))
        where.append(f"ds.provider IN (SELECT did FROM participant_role WHERE role IN "
                     f"({marks}))")
        params.extend(f.role)
    if f.area is not None:
        area = normalize_area(f.area)
        if area is None:
            where.append("0")  # an area that is no code covers nothing
        elif len(area) == 2:
            facet("prefecture", [area])
        else:
            facet("spatial", [area, area[:2]])
    if f.temporal_from or f.temporal_to:
        where.append("(ds.t_start IS NOT NULL OR ds.t_end IS NOT NULL)")
        if f.temporal_from:
            where.append("(ds.t_end IS NULL OR ds.t_end >= ?)")
            params.append(f.temporal_from[:10])
        if f.temporal_to:
            where.append("(ds.t_start IS NULL OR ds.t_start <= ?)")
            params.append(f.temporal_to[:10])
    return where, params


def _facets(d: Dataset) -> list[tuple[str, str]]:
    out = [("publisher", d.provider)]
    out += [("domain", d.domain)] if d.domain else []
    out += [("type", d.dataset_type)] if d.dataset_type else []
    out += [("theme", t) for t in d.themes]
    out += [("keyword", normalize_text(k)) for k in d.keywords]
    for area in d.spatial:
        out.append(("spatial", area))
        out.append(("prefecture", area[:2]))
    return out


def _encode_cursor(fingerprint: str, rank: float, modified: str, key: str) -> str:
    raw = orjson.dumps([1, fingerprint, rank, modified, key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str) -> tuple[float, str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, fp, rank, modified, key = orjson.loads(raw)
        if version != 1 or fp != fingerprint:
            raise CursorError("this cursor belongs to another query")
        return float(rank), str(modified), str(key)
    except CursorError:
        raise
    except Exception as exc:
        raise CursorError("not a cursor of this catalog") from exc
