"""Fixtures for plug-in tests: registries restored after each test, a real connector."""

from __future__ import annotations

import pytest

from connector.api import tokens
from connector.plugins import registry as plugins
from tests.api.conftest import authority, connector  # noqa: F401  (fixtures, re-exported)
from usage_policies import operands


@pytest.fixture
def isolated_registries():
    """Whatever a test activates is forgotten afterwards, so tests do not depend on order.

    Reaches into module state on purpose: production code has no way to deactivate a
    plug-in (a process activates its plug-ins once, at start).
    """
    saved = (dict(plugins._active), dict(plugins._dataset_types),
             dict(operands._REGISTRY), dict(tokens._domain_scopes))
    yield
    for live, copy in zip((plugins._active, plugins._dataset_types,
                           operands._REGISTRY, tokens._domain_scopes), saved, strict=True):
        live.clear()
        live.update(copy)


def registry_state() -> tuple:
    """What activation can change, to compare before and after a refused activation
    (JSON-LD contexts are not among them: each connector has its own registry)."""
    return (dict(plugins._active), dict(plugins._dataset_types), set(operands._REGISTRY))
