"""Two real connectors on one real nats-server, with every service of the data exchange:
a provider (仙台市, municipality) offering a dataset, a consumer (避難所運営, shelter operator).
The server runs in operator mode as the authority runs it (``space_nats``): each connector
logs in as its own participant's user and reads the other's data only through the stream
grants its agreements open. Every DSP message either side sends or answers is recorded, so
tests can validate them all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authority.space import AuthorityNats
from authority.state import Authority
from connector.bus import subjects
from connector.bus.server import EmbeddedNatsServer
from connector.control.decisions import Reader, Use
from connector.data.datasets import DatasetService
from connector.data.records import RecordService
from connector.protocol.dsp import messages as m
from connector.runtime.config import ConnectorConfig
from connector.runtime.connector import Connector, Tuning
from tests.connector.conftest import participant_config, status_lists
from tests.e2e.processes import space  # noqa: F401 (the process-level tests' fixture)
from tests.nats_fixtures import operator_config
from trust import jsonld
from trust.sealing import SEAL_HEADER, bound_to, seal, seal_header

CITY_CODE = "041009"
OPERATOR_NUMBER = "7000012050002"
DATASET = "urn:tsunagu:test:dataset:shelters"
RECORD_CONTEXT = [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1]
PURPOSE = "disaster_response"


def offer(offer_id: str, *constraints: dict[str, Any], duties: list[dict[str, Any]] | None = None
          ) -> dict[str, Any]:
    permission = m.rule("use", list(constraints))
    if duties:
        permission["duty"] = duties
    return m.offer(offer_id, permission=[permission])


ROLE_OK = m.constraint("tsunagu:role", "isAnyOf", ["shelter_operator", "municipality"])
ROLE_CITY_ONLY = m.constraint("tsunagu:role", "eq", "municipality")
FOR_PURPOSE = m.constraint("odrl:purpose", "eq", PURPOSE)
OPEN_OFFER = offer("urn:tsunagu:test:offer:open", ROLE_OK, FOR_PURPOSE)
CITY_OFFER = offer("urn:tsunagu:test:offer:city", ROLE_CITY_ONLY)


async def publish_sealed(provider: Node, event: str, body: bytes, message_id: str) -> None:
    """Put ``body`` on the dataset's stream sealed as the provider seals (with its current
    content key): what someone holding that key, but not the provider's signing key, could
    inject."""
    c = provider.connector
    subject = subjects.data_subject(c.did, DATASET, event)
    key = c.content_keys.current(DATASET)
    await c.js.publish(subject, seal(key, body, context=bound_to(subject, message_id)),
                       stream=subjects.dataset_stream(c.did, DATASET),
                       headers={"Nats-Msg-Id": message_id, SEAL_HEADER: seal_header(key.epoch)})


def record(n: int, **fields: Any) -> dict[str, Any]:
    return {"@context": list(RECORD_CONTEXT), "id": f"urn:tsunagu:test:shelter:{n}",
            "type": "Record", "name": f"避難所 {n}", **fields}


@dataclass
class Node:
    """A running connector, its services, and what it said on the DSP bus."""

    connector: Connector
    datasets: DatasetService
    records: RecordService
    config: ConnectorConfig
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def did(self) -> str:
        return self.connector.did

    def count(self, sql: str, *params: Any) -> int:
        return self.connector.store.query(sql, params)[0][0]


def tuning(duty_interval: float = 0.2, content_key_lifetime_s: float = 86400.0,
           notice_retry_s: float = 0.2) -> Tuning:
    """Short waits: tests see retries and duties within their timeouts."""
    return Tuning(publish_timeout=2.0, publish_retry_s=60, negotiation_retry_s=0.2,
                  transfer_retry_s=0.2, duty_interval=duty_interval,
                  content_key_lifetime_s=content_key_lifetime_s,
                  notice_retry_s=notice_retry_s)


def record_messages(node: Node) -> None:
    """Keep every request this connector sends and every answer it gives."""
    bus = node.connector.bus
    request, handler = bus.request, bus._handler

    async def recording_request(recipient: str, message_type: str, payload: dict[str, Any],
                                **kw: Any) -> Any:
        node.sent.append((message_type, payload))
        env, cred = await request(recipient, message_type, payload, **kw)
        node.sent.append((env.message_type, env.payload))
        return env, cred

    async def recording_handler(env: Any, credential: Any) -> tuple[str, dict[str, Any]]:
        reply = await handler(env, credential)
        node.sent.append(reply)
        return reply

    bus.request = recording_request  # type: ignore[method-assign]
    bus._handler = recording_handler


StartNode = Callable[..., Any]


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority.init(tmp_path / "authority", name="test authority")


@pytest.fixture
async def start_node(authority, e2e_nats) -> AsyncIterator[StartNode]:
    running: list[Node] = []

    async def start(config: ConnectorConfig, **options: Any) -> Node:
        connector = Connector(config, tuning=tuning(**options),
                              status_lists=status_lists(authority))
        await connector.start()
        node = Node(connector, connector.datasets, connector.records, config)
        record_messages(node)
        running.append(node)
        return node

    yield start
    for node in running:
        if not node.connector.nc.is_closed:
            await node.connector.stop()


async def operator_participant(tmp_path: Path, authority: Authority,
                               nats: AuthorityNats | EmbeddedNatsServer, *, name: str,
                               legal_id: str, role: str) -> ConnectorConfig:
    """A participant onboarded as the authority does: credential and NATS user (on a plain
    server: the credential only, ``insecure_no_auth``)."""
    url = nats.url
    assert url is not None
    config = participant_config(tmp_path, authority, url, name=name, legal_id=legal_id,
                                role=role)
    if isinstance(nats, EmbeddedNatsServer):
        return config
    return await operator_config(config, nats)


@pytest.fixture
async def provider(tmp_path, authority, e2e_nats, start_node) -> Node:
    config = await operator_participant(tmp_path, authority, e2e_nats, name="仙台市",
                                        legal_id=CITY_CODE, role="municipality")
    node = await start_node(config)
    await node.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, CITY_OFFER])
    return node


@pytest.fixture
async def consumer_config(tmp_path, authority, e2e_nats) -> ConnectorConfig:
    return await operator_participant(tmp_path, authority, e2e_nats, name="避難所運営",
                                      legal_id=OPERATOR_NUMBER, role="shelter_operator")


@pytest.fixture
async def consumer(start_node, consumer_config) -> Node:
    return await start_node(consumer_config)


async def negotiate(consumer: Node, provider: Node, offer_id: str = OPEN_OFFER["@id"],
                    purpose: str | None = PURPOSE) -> dict[str, Any]:
    started = await consumer.connector.negotiations.start(provider.did, DATASET, offer_id,
                                                          purpose=purpose)
    return await consumer.connector.negotiations.wait(started["pid"])


async def publish(provider: Node, numbers: range) -> None:
    for n in numbers:
        await provider.records.publish(DATASET, record(n))


def use(node: Node, record_id: str, purpose: str) -> dict[str, Any]:
    """The held record as the usage gate releases it to this connector for ``purpose``
    (UsageDenied otherwise)."""
    released = node.connector.gate.read(Reader.connector("test"), Use(purpose), record_id)
    assert released.record is not None
    return released.record


def delivered_in_audit(node: Node) -> int:
    """Record versions the audit log says were delivered (one line per pulled batch, each
    with its count and the digest of its ids)."""
    return sum(e["records"] for e in node.connector.audit.entries("delivery"))
