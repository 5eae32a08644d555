"""The federated catalog without its network: participants, ingestion, policy-aware search.

A catalog node (``connector.catalog_node``) feeds this with the participant registry and
with what it crawls and hears; everything here is synchronous, pure Python and SQLite.
Entries are admitted only from listed participants, only if they parse as DCAT/DSP datasets
(``catalog.model``) and only if every offer parses for the evaluator (``catalog.policy``);
anything else is dropped, logged with a reason (participant DID, dataset IRI, no personal
data) and counted per participant and reason for /metrics.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog.index import CatalogIndex, Filters, Hit, Page, policy_key
from catalog.model import Dataset, Dropped, EntryError, parse_catalog, parse_dataset
from catalog.policy import Asker, PolicyJudge, UnusablePolicy, explain_offer, parse_offer

log = logging.getLogger(__name__)

# Why an entry was dropped: the label of the per-participant counter.
UNKNOWN_PARTICIPANT = "unknown_participant"
INVALID_ENTRY = "invalid_entry"
INVALID_POLICY = "invalid_policy"
INVALID_SIGNATURE = "invalid_signature"
INVALID_SCHEMA = "invalid_schema"


@dataclass
class Ingested:
    admitted: list[str] = field(default_factory=list)  # dataset ids
    dropped: list[Dropped] = field(default_factory=list)


class Catalog:
    def __init__(self, path: str = ":memory:") -> None:
        self.index = CatalogIndex(path, explainer=explain_offer)
        self.judge = PolicyJudge()
        self.drops: Counter[tuple[str, str]] = Counter()  # (participant, reason) -> count
        self._policies: tuple[int, list[tuple[str, dict[str, Any]]]] = (-1, [])
        self._checked: dict[str, str] = {}  # policy key -> "" (parses) or why not

    def close(self) -> None:
        self.index.close()

    # ------------------------------------------------------------------ participants

    def set_participants(self, participants: Iterable[Mapping[str, Any]]) -> list[str]:
        """The registry's live participants; a DID no longer listed loses its datasets."""
        removed = self.index.set_participants(participants)
        for did in removed:
            log.info("participant left the registry: its datasets are removed",
                     extra={"participant": did})
        return removed

    # ------------------------------------------------------------------ ingestion

    def drop(self, provider: str, reason: str, dataset: str | None, detail: str) -> Dropped:
        self.drops[(provider, reason)] += 1
        log.warning("catalog entry dropped", extra={"participant": provider, "reason": reason,
                                                    "dataset": dataset, "detail": detail[:300]})
        return Dropped(dataset, f"{reason}: {detail}")

    def _admit(self, dataset: Dataset) -> Dropped | None:
        """Every offer must parse for the evaluator; parsing (JSON-LD expansion) is the
        costly part of ingestion, so the verdict is kept per distinct policy."""
        for offer in dataset.offers:
            key, rules = policy_key(offer.body, dataset.id)
            verdict = self._checked.get(key)
            if verdict is None:
                try:
                    self.judge.remember(key, parse_offer(rules))
                    verdict = ""
                except UnusablePolicy as exc:
                    verdict = str(exc)
                self._checked[key] = verdict
                if len(self._checked) > 65536:
                    self._checked.pop(next(iter(self._checked)))
            if verdict:
                return self.drop(dataset.provider, INVALID_POLICY, dataset.id,
                                 f"offer {offer.id[:200]}: {verdict}")
        return None

    def ingest_catalog(self, provider: str, document: Any) -> Ingested:
        """A full crawl of ``provider``: its datasets become exactly the admitted entries."""
        out = Ingested()
        if not self.index.known(provider):
            out.dropped.append(self.drop(provider, UNKNOWN_PARTICIPANT, None,
                                         "not in the participant registry"))
            return out
        datasets, dropped = parse_catalog(document, provider)
        for d in dropped:
            out.dropped.append(self.drop(provider, INVALID_ENTRY, d.dataset, d.reason))
        admitted = []
        for dataset in datasets:
            refused = self._admit(dataset)
            if refused is None:
                admitted.append(dataset)
                out.admitted.append(dataset.id)
            else:
                out.dropped.append(refused)
        self.index.replace_provider(provider, admitted)
        return out

    def ingest_dataset(self, provider: str, entry: Any) -> Ingested:
        """One added or changed dataset (a change event); a bad entry leaves the old one."""
        out = Ingested()
        if not self.index.known(provider):
            out.dropped.append(self.drop(provider, UNKNOWN_PARTICIPANT, None,
                                         "not in the participant registry"))
            return out
        try:
            dataset = parse_dataset(entry, provider)
        except EntryError as exc:
            ident = entry.get("@id") if isinstance(entry, Mapping) else None
            out.dropped.append(self.drop(provider, INVALID_ENTRY, ident if isinstance(
                ident, str) else None, str(exc)))
            return out
        refused = self._admit(dataset)
        if refused is not None:
            out.dropped.append(refused)
            return out
        self.index.upsert(dataset)
        out.admitted.append(dataset.id)
        return out

    def withdraw(self, provider: str, dataset_id: str) -> bool:
        return self.index.withdraw(provider, dataset_id)

    # ------------------------------------------------------------------ search

    def _all_policies(self) -> list[tuple[str, dict[str, Any]]]:
        generation, policies = self._policies
        if generation != self.index.generation:
            policies = self.index.policies()
            self._policies = (self.index.generation, policies)
        return policies

    def search(self, query: str | None = None, filters: Filters | None = None, *,
               asker: Asker | None = None, limit: int = 20, cursor: str | None = None,
               facets: bool = False, include_conditional: bool = True,
               now: datetime | None = None) -> Page:
        """Text and facet search; with ``asker``, only datasets with an offer the asker could
        get (``permit``, and ``conditional`` unless ``include_conditional`` is False), each
        offer annotated with its decision and conditions."""
        allowed = None
        decisions: dict[str, Any] = {}
        if asker is not None:
            allowed = set()
            for key, rules in self._all_policies():
                decision = self.judge.decide(key, rules, asker, now)
                decisions[key] = decision
                if decision.outcome == "permit" or (
                        include_conditional and decision.outcome == "conditional"):
                    allowed.add(key)
        page = self.index.search(query, filters, limit=limit, cursor=cursor, facets=facets,
                                 allowed=allowed)
        if asker is not None:
            for hit in page.hits:
                _annotate(hit, decisions)
        return page


def _annotate(hit: Hit, decisions: Mapping[str, Any]) -> None:
    for offer in hit.offers:
        decision = decisions.get(offer["policy"])
        if decision is not None:
            offer["decision"] = decision.to_json()


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as a DCAT/DSP Dataset: the provider's entry as listed, with its publisher and
    each offer's explanation (and decision, for a policy-filtered search) beside it."""
    explained = {o["id"]: o for o in hit.offers}
    body = dict(hit.dataset.body)
    policies = body.get("hasPolicy") or []
    policies = [policies] if isinstance(policies, Mapping) else policies
    body["hasPolicy"] = [
        {**p, "tsunagu:explanation": explained.get(p.get("@id"), {}).get("explanation"),
         **({"tsunagu:decision": explained[p["@id"]]["decision"]}
            if "decision" in explained.get(p.get("@id"), {}) else {})}
        for p in policies if isinstance(p, Mapping)]
    body["dct:publisher"] = {"@id": hit.publisher["id"], "foaf:name": hit.publisher["name"],
                             "tsunagu:role": hit.publisher["roles"]}
    body["tsunagu:score"] = hit.score
    return body


def page_json(page: Page) -> dict[str, Any]:
    return {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@type": "Catalog", "dataset": [hit_json(h) for h in page.hits],
            "tsunagu:total": page.total, "tsunagu:nextCursor": page.next_cursor,
            **({"tsunagu:facets": page.facets} if page.facets else {})}
