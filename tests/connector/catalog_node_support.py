"""Shared by the catalog node service and catalog page tests: offers, a wait, a connector
config running a catalog node (the registry's URL: the ``registry_url`` fixture of
tests/connector/conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from connector.protocol.dsp import messages as m
from connector.runtime.config import CatalogNodeSection, ConnectorConfig
from connector.runtime.connector import Connector
from tests.catalog.helpers import role
from tests.connector.conftest import OPERATOR_NUMBER, participant_config

OPEN = m.offer("urn:tsunagu:test:offer:open", permission=[m.rule("use")])
FOR_OPERATORS = m.offer("urn:tsunagu:test:offer:operators",
                        permission=[m.rule("use", [role("shelter_operator")])])
RIVER = "urn:tsunagu:test:dataset:river"


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


def with_node(config: ConnectorConfig, **options: Any) -> ConnectorConfig:
    return config.model_copy(update={"catalog_node": CatalogNodeSection(
        enabled=True, **options)})


def node_config(tmp_path, authority, nats_server, **options: Any) -> ConnectorConfig:
    config = participant_config(tmp_path, authority, nats_server.url, name="避難所運営",
                                legal_id=OPERATOR_NUMBER, role="shelter_operator")
    return with_node(config, **options)


def titles(connector: Connector, query: str) -> list[str]:
    node = connector.catalog_node.node
    assert node is not None
    return [h.dataset.title for h in node.catalog.search(query).hits]
