"""``CatalogNode``: the catalog and what it takes from the network, checked.

* ``load_registry``: the authority's signed participant registry, verified; whoever is no
  longer listed (revoked, expired) loses every dataset at once.
* ``add_catalog``: one participant's DSP ``Catalog``; each dataset entry is checked against
  the DSP 2025-1 Dataset schema on its own (one bad entry is dropped, not the catalog) and
  then admitted by ``catalog.service.Catalog`` (known participant, parses, offers parse).
* ``crawl``: every registered participant's catalog, fetched concurrently with a deadline
  each (over all its pages), so one slow, offline or hostile participant (endless pages
  included) never holds up the others; failures are counted per participant.
* ``metrics``: Prometheus text of the counters (datasets, drops and crawl failures per
  participant and reason; no personal data: participant DIDs are organisations').
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.service import INVALID_SCHEMA, Catalog, Ingested
from connector.protocol.catalog_client import DEFAULT_BOUNDS, PageBounds, fetch_pages
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import DspValidationError, validate_message
from trust.errors import TsunaguError
from trust.participant_registry import Registry, verify_registry

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass
class CrawlReport:
    crawled: list[str] = field(default_factory=list)  # participant DIDs answered
    failed: dict[str, str] = field(default_factory=dict)  # DID -> why (code)
    admitted: int = 0
    dropped: int = 0
    seconds: float = 0.0


class CatalogNode:
    def __init__(self, path: str = ":memory:") -> None:
        self.catalog = Catalog(path)
        self.failures: Counter[tuple[str, str]] = Counter()  # (participant, code)
        self.registry: Registry | None = None

    def close(self) -> None:
        self.catalog.close()

    # ------------------------------------------------------------------ registry

    def load_registry(self, document: Any, *, authority: str) -> list[str]:
        """Verify the signed registry and make its participants the catalog's; returns
        the DIDs whose datasets were removed. Raises RegistryError for a bad document."""
        registry = verify_registry(document, expected_authority=authority)
        self.registry = registry
        return self.catalog.set_participants(
            [{"id": p.did, "name": p.name, "roles": list(p.roles)}
             for p in registry.participants])

    def participants(self) -> list[str]:
        return [p["id"] for p in self.catalog.index.participants()]

    # ------------------------------------------------------------------ ingestion

    def add_catalog(self, document: Any, provider: str | None = None, *,
                    entries_checked: bool = False) -> Ingested:
        """One participant's DSP Catalog (``provider``: who answered; default its
        participantId). Entries that are not valid DSP Datasets are dropped one by one
        (``entries_checked``: the whole catalog already passed the DSP Catalog schema, which
        checks every entry as a Dataset, so they are not checked again)."""
        if not isinstance(document, Mapping):
            out = Ingested()
            out.dropped.append(self.catalog.drop(provider or "?", INVALID_SCHEMA, None,
                                                 "not a JSON object"))
            return out
        provider = provider or str(document.get("participantId"))
        entries = document.get("dataset") or []
        entries = entries if isinstance(entries, list) else [entries]
        valid, dropped = [], []
        for entry in entries:
            reason = None if entries_checked else _dataset_schema_error(entry)
            if reason is None:
                valid.append(entry)
            else:
                ident = entry.get("@id") if isinstance(entry, Mapping) else None
                dropped.append(self.catalog.drop(provider, INVALID_SCHEMA, ident if
                                                 isinstance(ident, str) else None, reason))
        out = self.catalog.ingest_catalog(provider, {**document, "dataset": valid})
        out.dropped[:0] = dropped
        return out

    def add_dataset(self, provider: str, entry: Any) -> Ingested:
        """One added or changed dataset (a change event or a DatasetRequestMessage answer)."""
        reason = _dataset_schema_error(entry)
        if reason is not None:
            out = Ingested()
            ident = entry.get("@id") if isinstance(entry, Mapping) else None
            out.dropped.append(self.catalog.drop(provider, INVALID_SCHEMA, ident if
                                                 isinstance(ident, str) else None, reason))
            return out
        return self.catalog.ingest_dataset(provider, entry)

    def withdraw(self, provider: str, dataset_id: str) -> bool:
        return self.catalog.withdraw(provider, dataset_id)

    # ------------------------------------------------------------------ crawling

    async def crawl(self, fetch: Fetch, *, concurrency: int = 16,
                    timeout: float = 5.0, only: Collection[str] | None = None) -> CrawlReport:
        """Fetch every registered participant's catalog with ``fetch(did)`` (which must
        verify who answered: ``connector_fetch`` does), at most ``concurrency`` at a time,
        ``timeout`` seconds each. A participant that fails keeps what was indexed before.
        ``only``: just these participants (the node service's newcomers)."""
        report = CrawlReport()
        checked = getattr(fetch, "entries_checked", False)  # connector_fetch: the bus did
        gate = asyncio.Semaphore(concurrency)
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def one(did: str) -> None:
            async with gate:
                try:
                    document = await asyncio.wait_for(fetch(did), timeout)
                except TimeoutError:
                    self._failed(report, did, "timeout")
                    return
                except TsunaguError as exc:
                    self._failed(report, did, str(exc.code))
                    return
                except Exception as exc:  # a hostile answer must not stop the crawl
                    self._failed(report, did, type(exc).__name__)
                    return
            result = self.add_catalog(document, did, entries_checked=checked)
            report.crawled.append(did)
            report.admitted += len(result.admitted)
            report.dropped += len(result.dropped)

        await asyncio.gather(*(one(did) for did in self.participants()
                               if only is None or did in only))
        report.seconds = loop.time() - started
        return report

    def _failed(self, report: CrawlReport, did: str, code: str) -> None:
        report.failed[did] = code
        self.failures[(did, code)] += 1
        log.warning("catalog crawl failed for a participant",
                    extra={"participant": did, "code": code})

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> str:
        lines = ["# TYPE tsunagu_catalog_datasets gauge",
                 f"tsunagu_catalog_datasets {self.catalog.index.count()}",
                 "# TYPE tsunagu_catalog_dropped_total counter"]
        for (participant, reason), n in sorted(self.catalog.drops.items()):
            lines.append(f'tsunagu_catalog_dropped_total{{participant="{_label(participant)}"'
                         f',reason="{reason}"}} {n}')
        lines.append("# TYPE tsunagu_catalog_crawl_failures_total counter")
        for (participant, code), n in sorted(self.failures.items()):
            lines.append(f'tsunagu_catalog_crawl_failures_total{{participant='
                         f'"{_label(participant)}",code="{_label(code)}"}} {n}')
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")[:200]


def _dataset_schema_error(entry: Any) -> str | None:
    """Why ``entry`` is not a DSP 2025-1 Dataset (checked as a DatasetRequestMessage answer),
    or None."""
    if not isinstance(entry, Mapping):
        return "a dataset entry is a JSON object"
    try:
        if validate_message({"@context": [m.DSP_CONTEXT], **entry}) != "Dataset":
            return "not a Dataset"
    except DspValidationError as exc:
        return f"not a valid DSP Dataset: {exc.message}"[:300]
    except TsunaguError as exc:
        return f"not a valid DSP Dataset: {exc.code}"
    return None


def connector_fetch(connector: Any, bounds: PageBounds = DEFAULT_BOUNDS) -> Fetch:
    """Fetch a participant's whole catalog, page by page (``fetch_pages``: bounded pages, no
    token twice), over ``connector``'s DSP bus: each answer's envelope signature and the
    sender's participant credential are verified by the bus
    (``connector.bus.messaging``); a CatalogError is an error. The crawl's deadline per
    participant bounds the time of all its pages."""

    async def fetch(did: str) -> dict[str, Any]:
        catalog, _ = await fetch_pages(connector.bus.request, did, bounds, validate=False)
        return catalog

    # The bus checks every page it receives against the DSP Catalog schema, entries and
    # all (``check_received``): the node need not check each entry again.
    fetch.entries_checked = True  # type: ignore[attr-defined]
    return fetch
