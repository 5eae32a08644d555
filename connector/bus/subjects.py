"""The one NATS subject and stream naming scheme (see docs/architecture.md).

Participant ids (the multibase part of a did:key) sit at a fixed position in every subject so
that server permissions can be written per participant. Dataset ids are IRIs (they contain
dots), so subjects carry a short hash of them instead.
"""

from __future__ import annotations

import hashlib

from connector.runtime.identity import participant_id

EVENTS = ("created", "updated", "deleted")


def dataset_token(dataset_id: str) -> str:
    return hashlib.sha256(dataset_id.encode()).hexdigest()[:20]


def dsp_inbox(recipient_did: str) -> str:
    """Where a connector listens for DSP requests (any sender)."""
    return f"tsunagu.dsp.{participant_id(recipient_did)}.*"


def data_subject(provider_did: str, dataset_id: str, event: str | None = None) -> str:
    """Record events of one dataset: ``tsunagu.data.<provider>.<dataset>.<event>``."""
    base = f"tsunagu.data.{participant_id(provider_did)}.{dataset_token(dataset_id)}"
    return f"{base}.{event}" if event else f"{base}.*"


def dataset_stream(provider_did: str, dataset_id: str) -> str:
    """JetStream stream name of a dataset (letters, digits and '_' only)."""
    digest = hashlib.sha256(f"{provider_did} {dataset_id}".encode()).hexdigest()[:24]
    return f"DS_{digest}"


def catalog_subject(provider_did: str) -> str:
    """Catalog change events of a provider (dataset offered, changed, withdrawn)."""
    return f"tsunagu.catalog.{participant_id(provider_did)}.changes"


def catalog_stream(provider_did: str) -> str:
    """JetStream stream of a provider's catalog change events (a catalog node that was down
    catches up from its durable consumer's position)."""
    return f"CATALOG_{participant_id(provider_did)}"


# A catalog node in another NATS account (operator mode) reads every participant's change
# events through stream imports renamed into this space, captured by one stream of its own
# (docs/catalog.md, "Operator mode"); the participant id stays the third token.
CATALOG_FEED_STREAM = "CATALOG_FEED"
CATALOG_FEED_SUBJECTS = "tsunagu.catalogfeed.*.changes"


def catalog_feed_subject(provider_did: str) -> str:
    """Where a provider's catalog change events arrive in a catalog node's account."""
    return f"tsunagu.catalogfeed.{participant_id(provider_did)}.changes"


def control_subject(participant_did: str, topic: str) -> str:
    """Notifications to a participant (agreement terminated, duty reminders...)."""
    return f"tsunagu.ctl.{participant_id(participant_did)}.{topic}"


def message_id(record_id: str, version: int) -> str:
    """``Nats-Msg-Id`` of a record version: JetStream drops a second publish of it."""
    return f"{record_id}@{version}"


def api_prefix(provider_did: str) -> str:
    """Where a consumer reaches a provider's imported JetStream API (operator mode)."""
    return f"$JS.{participant_id(provider_did)}.API"
