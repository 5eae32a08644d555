"""Fixtures for plug-in tests: registries restored after each test, a real connector."""

from __future__ import annotations

import pytest

from connector.api import tokens
from connector.plugins import registry as plugins
from tests.api.conftest import authority, connector  # noqa: F401  (fixtures, re-exported)
from usage_policies import operands
from usage_policies.vocabularies import PURPOSES, ROLES


@pytest.fixture
def isolated_registries():
    """Whatever a test activates is forgotten afterwards, so tests do not depend on order.

    Reaches into module state on purpose: production code has no way to deactivate a
    plug-in (a process activates its plug-ins once, at start).
    """
    live = (plugins._active, plugins._dataset_types, operands._REGISTRY,
            tokens._domain_scopes, PURPOSES.labels, PURPOSES.broader, ROLES.labels)
    saved = [dict(registry) for registry in live]
    yield
    for registry, copy in zip(live, saved, strict=True):
        registry.clear()
        registry.update(copy)


def registry_state() -> tuple:
    """What activation can change, to compare before and after a refused activation
    (JSON-LD contexts are not among them: each connector has its own registry)."""
    return (dict(plugins._active), dict(plugins._dataset_types), set(operands._REGISTRY),
            dict(PURPOSES.labels), dict(ROLES.labels))
